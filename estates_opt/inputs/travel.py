"""The one place that measures travel: PCN population to sites, in EPSG:27700.

Travel from a PCN to a site is the population-weighted mean straight-line
distance from the PCN's LSOAs (their representative points) to the site,
times a circuity factor that turns crow-fly into road distance. A travel
matrix file (for example from r5py) replaces the geometry when a scenario
gives one. The LP never sees geometries: only the long table returned here.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from estates_opt.errors import (
    InputDataError,
    Problem,
)
from estates_opt.inputs.dataset import Dataset
from estates_opt.inputs.files import read_text_table
from estates_opt.scenario import Scenario
from estates_opt.schema import BANDS, PROJECTED_CRS

log = logging.getLogger(__name__)


#: IMD deciles counted as "deprived" for the equity weighting and KPIs.
DEPRIVED_DECILES = (1, 2)


def lsoa_points(lsoas: gpd.GeoDataFrame) -> np.ndarray:
    """(n, 2) array of LSOA representative points in metres."""
    pts = lsoas.to_crs(PROJECTED_CRS).geometry.representative_point()
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def site_points(premises: gpd.GeoDataFrame) -> np.ndarray:
    """(n, 2) array of site points in metres."""
    pts = premises.to_crs(PROJECTED_CRS).geometry
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def _pcn_weights(lsoas: gpd.GeoDataFrame):
    """Yield (PCN code, its LSOA positions, population weights summing to 1) per PCN."""
    population = lsoas["population"].to_numpy(dtype=float)
    codes = lsoas["pcn_code"].to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1], True])
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        members = order[start:stop]
        weights = population[members]
        weights = (
            weights / weights.sum()
            if weights.sum() > 0
            else np.full(len(members), 1 / len(members))
        )
        yield codes[members[0]], members, weights


def _weighted_km(pts: np.ndarray, weights: np.ndarray, targets: np.ndarray, circuity: float):
    """Population-weighted mean crow-fly distance (km) x circuity from ``pts`` to each target."""
    diff = pts[:, None, :] - targets[None, :, :]
    dist_km = np.sqrt((diff**2).sum(axis=2)) / 1000.0
    return circuity * (weights @ dist_km)


def pcn_site_travel(
    lsoas: gpd.GeoDataFrame,
    premises: gpd.GeoDataFrame,
    circuity: float = 1.3,
    max_km: float | None = None,
) -> pd.DataFrame:
    """Population-weighted travel (km) from each PCN to each site within ``max_km``.

    Returns columns ``pcn_code, site_id, travel_km`` sorted by PCN then site.
    Pairs further than ``max_km`` are dropped so large instances stay sparse.
    """
    started = time.perf_counter()
    origins = lsoa_points(lsoas)
    targets = site_points(premises)
    site_ids = premises["site_id"].to_numpy()
    # Arrays per PCN, one frame at the end (a frame per PCN cost more than the distances).
    pcn_parts, site_parts, km_parts = [], [], []
    for code, members, weights in _pcn_weights(lsoas):
        pts = origins[members]
        centre = weights @ pts
        # Crow-fly pre-filter: a site further from every LSOA than max_km cannot qualify.
        if max_km is not None:
            spread = np.sqrt(((pts - centre) ** 2).sum(axis=1)).max()
            near = (
                np.sqrt(((targets - centre) ** 2).sum(axis=1))
                <= (max_km / circuity) * 1000 + spread
            )
            idx = np.flatnonzero(near)
        else:
            idx = np.arange(len(targets))
        if idx.size == 0:
            continue
        travel = _weighted_km(pts, weights, targets[idx], circuity)
        keep = travel <= max_km if max_km is not None else np.ones(idx.size, bool)
        pcn_parts.append(np.full(int(keep.sum()), code, dtype=object))
        site_parts.append(site_ids[idx[keep]])
        km_parts.append(travel[keep])
    columns = ["pcn_code", "site_id", "travel_km"]
    table = (
        pd.DataFrame(
            {
                "pcn_code": np.concatenate(pcn_parts),
                "site_id": np.concatenate(site_parts),
                "travel_km": np.concatenate(km_parts),
            }
        )
        if pcn_parts
        else pd.DataFrame(columns=columns)
    )
    table = table.sort_values(["pcn_code", "site_id"], kind="stable").reset_index(drop=True)
    log.info(
        "measured travel: %d PCN-site pairs within %s km in %.2f s",
        len(table),
        "any" if max_km is None else f"{max_km:g}",
        time.perf_counter() - started,
    )
    return table


def pair_travel(
    lsoas: gpd.GeoDataFrame,
    premises: gpd.GeoDataFrame,
    pairs: pd.DataFrame,
    circuity: float = 1.3,
) -> pd.DataFrame:
    """Travel (km) for the given ``pcn_code, site_id`` pairs only, measured as
    :func:`pcn_site_travel` measures it.

    For the few pairs outside the model (today's slots the plan leaves): the
    all-pairs table would cost PCNs x sites distance matrices at national scale.
    Pairs whose PCN has no LSOAs or whose site is unknown are left out.
    """
    origins = lsoa_points(lsoas)
    targets = site_points(premises)
    site_pos = pd.Index(premises["site_id"])
    wanted = pairs[["pcn_code", "site_id"]].drop_duplicates()
    wanted = wanted.assign(pos=site_pos.get_indexer(wanted["site_id"]))
    wanted = wanted[wanted["pos"] >= 0]
    by_pcn = wanted.groupby("pcn_code")["pos"].agg(list).to_dict()
    pcn_parts, site_parts, km_parts = [], [], []
    for code, members, weights in _pcn_weights(lsoas):
        positions = by_pcn.get(code)
        if not positions:
            continue
        idx = np.sort(np.asarray(positions))
        pcn_parts.append(np.full(idx.size, code, dtype=object))
        site_parts.append(premises["site_id"].to_numpy()[idx])
        km_parts.append(_weighted_km(origins[members], weights, targets[idx], circuity))
    if not pcn_parts:
        return pd.DataFrame(columns=["pcn_code", "site_id", "travel_km"])
    return pd.DataFrame(
        {
            "pcn_code": np.concatenate(pcn_parts),
            "site_id": np.concatenate(site_parts),
            "travel_km": np.concatenate(km_parts),
        }
    )


def deprived_share(lsoas: pd.DataFrame) -> pd.Series:
    """Share of each PCN's population living in IMD deciles 1-2 (0..1)."""
    deprived = lsoas["imd_decile"].astype(float).isin(DEPRIVED_DECILES)
    pop = lsoas["population"].astype(float)
    frame = pd.DataFrame({"pcn_code": lsoas["pcn_code"], "pop": pop, "dep": pop * deprived})
    sums = frame.groupby("pcn_code")[["pop", "dep"]].sum()
    return (sums["dep"] / sums["pop"].where(sums["pop"] > 0)).fillna(0.0)


def points_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense straight-line distance matrix (km) between (n, 2) and (m, 2) metre arrays.

    Callers project once (:func:`lsoa_points`, :func:`site_points`) and index
    many small subsets.
    """
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=2)) / 1000.0


def read_travel_matrix(
    path: Path,
    lsoas: pd.DataFrame,
    site_ids: set[str],
    unit: str = "km",
    km_per_minute: float = 0.3,
) -> pd.DataFrame:
    """Read a travel matrix (CSV or Parquet) into ``pcn_code, site_id, band, travel_km``.

    Origins may be LSOA codes (aggregated to PCNs, population-weighted) or PCN
    codes. A PCN-site pair that is absent is unreachable; a PCN whose LSOAs are
    only partly present for a site cannot be aggregated and is an error. Without
    any band in the file the table has no ``band`` column, like
    :func:`pcn_site_travel`'s (travel is the same in every band).
    """
    name = path.name
    if not path.is_file():
        raise InputDataError(
            [
                Problem(
                    name,
                    f"travel matrix not found at {path}.",
                    fix="correct travel.matrix in the scenario.",
                )
            ]
        )
    frame, problems = read_text_table(path)
    if frame is None:
        raise InputDataError(problems)
    columns = {c.lower(): c for c in frame.columns}
    origin_col = next(
        (columns[c] for c in ("origin", "lsoa_code", "pcn_code") if c in columns), None
    )
    value_col = next(
        (columns[c] for c in ("travel_km", "km", "travel_minutes", "minutes") if c in columns), None
    )
    if origin_col is None:
        problems.append(
            Problem(
                name,
                "has no origin column.",
                column="origin",
                fix="name it origin, lsoa_code or pcn_code.",
            )
        )
    if "site_id" not in columns:
        problems.append(
            Problem(name, "has no site_id column.", column="site_id", fix="add a site_id column.")
        )
    if value_col is None:
        problems.append(
            Problem(
                name,
                "has no travel column.",
                column="travel_km",
                fix="name it travel_km or travel_minutes.",
            )
        )
    if problems:
        raise InputDataError(problems)
    values = pd.to_numeric(frame[value_col], errors="coerce")
    for line in frame.index[~np.isfinite(values.to_numpy(dtype=float)) | (values < 0).to_numpy()]:
        problems.append(
            Problem(
                name,
                f"'{frame.at[line, value_col]}' is not a non-negative number.",
                row=f"line {line}",
                column=value_col,
                fix="enter the travel as a number >= 0, or leave the pair out if unreachable.",
            )
        )
    band = frame[columns["band"]] if "band" in columns else pd.Series("", index=frame.index)
    for line in frame.index[~band.isin(["", *BANDS])]:
        problems.append(
            Problem(
                name,
                f"unknown band '{band[line]}'.",
                row=f"line {line}",
                column="band",
                fix=f"use one of {', '.join(BANDS)} or leave empty.",
            )
        )
    sites = frame[columns["site_id"]]
    for line in frame.index[~sites.isin(list(site_ids))]:
        problems.append(
            Problem(
                name,
                f"unknown site '{sites[line]}'.",
                row=f"line {line}",
                column="site_id",
                fix="use a site_id from premises.",
            )
        )
    pairs = pd.DataFrame({"o": frame[origin_col], "s": sites, "b": band})
    repeated = pairs.duplicated(keep="first")
    first_line: dict[tuple, object] = {}
    for line, key in zip(frame.index, map(tuple, pairs.to_numpy()), strict=True):
        first_line.setdefault(key, line)
    for line in frame.index[repeated.to_numpy()]:
        origin, site, slot = pairs.loc[line]
        problems.append(
            Problem(
                name,
                f"gives travel from {origin} to site {site}"
                + (f" in the {slot} band" if slot else "")
                + f" more than once (first on line {first_line[(origin, site, slot)]}).",
                row=f"line {line}",
                column=origin_col,
                fix="keep one row per origin, site and band.",
            )
        )
    if problems:
        raise InputDataError(problems)
    is_minutes = unit == "minutes" or "minute" in value_col.lower()
    km = values.to_numpy(dtype=float) * (km_per_minute if is_minutes else 1.0)
    long = pd.DataFrame(
        {
            "origin": frame[origin_col].to_numpy(),
            "site_id": sites.to_numpy(),
            "band": band.to_numpy(),
            "travel_km": km,
        }
    )
    pcn_of_lsoa = dict(zip(lsoas["lsoa_code"], lsoas["pcn_code"], strict=True))
    pcn_codes = set(lsoas["pcn_code"])
    if long["origin"].isin(pcn_codes).all():
        table = long.rename(columns={"origin": "pcn_code"})
    else:
        unknown = sorted(set(long["origin"]) - set(pcn_of_lsoa) - pcn_codes)
        if unknown:
            raise InputDataError(
                [
                    Problem(
                        name,
                        f"origin '{u}' is neither an LSOA nor a PCN code.",
                        column=origin_col,
                        fix="use lsoa_code values from lsoas or pcn_code values from pcns.",
                    )
                    for u in unknown[:20]
                ]
            )
        pop = lsoas.set_index("lsoa_code")["population"].astype(float)
        long["pcn_code"] = long["origin"].map(pcn_of_lsoa)
        long["pop"] = long["origin"].map(pop)
        size = lsoas.groupby("pcn_code")["lsoa_code"].size()
        counts = long.groupby(["pcn_code", "site_id", "band"])["origin"].nunique()
        partial = counts[
            counts.to_numpy() != size.reindex(counts.index.get_level_values(0)).to_numpy()
        ]
        if len(partial):
            raise InputDataError(
                [
                    Problem(
                        name,
                        f"PCN {p} has travel to site {s} for only {n} of its "
                        f"{size[p]} LSOAs, so it cannot be averaged.",
                        column=origin_col,
                        fix="give every LSOA of the PCN a row for that site, or none.",
                    )
                    for (p, s, _b), n in list(partial.items())[:20]
                ]
            )
        long["w"] = long["pop"] * long["travel_km"]
        sums = long.groupby(["pcn_code", "site_id", "band"], as_index=False)[["w", "pop"]].sum()
        sums["travel_km"] = sums["w"] / sums["pop"].where(sums["pop"] > 0)
        table = sums[["pcn_code", "site_id", "band", "travel_km"]]
    missing = sorted(pcn_codes - set(table["pcn_code"]))
    if missing:
        raise InputDataError(
            [
                Problem(
                    name,
                    f"has no rows for PCN {p}, so it could reach no site.",
                    column=origin_col,
                    fix="add its rows.",
                )
                for p in missing[:20]
            ]
        )
    table = table.sort_values(["pcn_code", "site_id", "band"]).reset_index(drop=True)
    if not table["band"].astype(str).ne("").any():
        table = table.drop(columns="band")
    return table


def measure_travel(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """PCN-site travel table from geometry, or from the scenario's matrix file."""
    matrix = scenario.matrix_path()
    if matrix is not None:
        return read_travel_matrix(
            matrix,
            dataset.lsoas,
            set(dataset.premises["site_id"]),
            scenario.travel.matrix_unit,
            scenario.travel.speed_km_per_minute,
        )
    limits = dict(
        zip(dataset.services["service_id"], dataset.services["max_travel_km"], strict=True)
    )
    limits.update(scenario.travel.max_km_by_service)
    return pcn_site_travel(
        dataset.lsoas, dataset.premises, scenario.travel.circuity, max(limits.values())
    )
