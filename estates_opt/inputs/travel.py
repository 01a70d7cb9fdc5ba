"""The one place that measures travel: PCN population to sites, in EPSG:27700.

Travel from a PCN to a site is the population-weighted mean straight-line
distance from the PCN's LSOAs (their representative points) to the site,
times a circuity factor that turns crow-fly into road distance. When the
dataset has ``patients.csv``, the LSOAs are those the PCN's registered
patients live in, weighted by their number (:mod:`estates_opt.inputs.patients`). A travel
matrix file (for example from r5py) replaces the geometry when a scenario
gives one. The LP never sees geometries: only the long table returned here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
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
from estates_opt.inputs.patients import origin_weights
from estates_opt.paths import kind_of
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


def _pcn_weights(
    lsoas: gpd.GeoDataFrame, patients: pd.DataFrame | None = None
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (PCN code, its origin LSOA positions, weights summing to 1) per PCN.

    Registered patients by home LSOA when ``patients`` is given, else catchment
    population (:func:`estates_opt.inputs.patients.origin_weights`).
    """
    yield from origin_weights(lsoas, patients)


def _weighted_km(
    pts: np.ndarray,
    weights: np.ndarray,
    targets: np.ndarray,
    circuity: float,
    factors: np.ndarray | None = None,
) -> np.ndarray:
    """Population-weighted mean crow-fly distance (km) x circuity from ``pts`` to each target;
    each origin's distance times its ``factors`` entry when given (PTAL weighting)."""
    diff = pts[:, None, :] - targets[None, :, :]
    dist_km = np.sqrt((diff**2).sum(axis=2)) / 1000.0
    if factors is not None:
        dist_km = dist_km * factors[:, None]
    return circuity * (weights @ dist_km)


def pcn_site_travel(
    lsoas: gpd.GeoDataFrame,
    premises: gpd.GeoDataFrame,
    circuity: float = 1.3,
    max_km: float | None = None,
    patients: pd.DataFrame | None = None,
    lsoa_factors: np.ndarray | None = None,
) -> pd.DataFrame:
    """Population-weighted travel (km) from each PCN to each site within ``max_km``.

    Returns columns ``pcn_code, site_id, travel_km`` sorted by PCN then site.
    Pairs further than ``max_km`` are dropped so large instances stay sparse.
    With ``patients`` (patients.csv), each PCN's origins are the LSOAs its
    registered patients live in, weighted by their number. ``lsoa_factors`` (>= 1,
    one per LSOA) multiplies each origin's distance (:func:`ptal_factors`).
    """
    started = time.perf_counter()
    origins = lsoa_points(lsoas)
    targets = site_points(premises)
    site_ids = premises["site_id"].to_numpy()
    # Arrays per PCN, one frame at the end (a frame per PCN cost more than the distances).
    pcn_parts, site_parts, km_parts = [], [], []
    for code, members, weights in _pcn_weights(lsoas, patients):
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
        factors = lsoa_factors[members] if lsoa_factors is not None else None
        travel = _weighted_km(pts, weights, targets[idx], circuity, factors)
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
    patients: pd.DataFrame | None = None,
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
    for code, members, weights in _pcn_weights(lsoas, patients):
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
    :func:`pcn_site_travel`'s (travel is the same in every band). Three steps:
    read the file, check its rows, aggregate LSOAs to PCNs.
    """
    frame, columns = _read_matrix_file(path)
    long = _check_matrix_rows(path.name, frame, columns, site_ids, unit, km_per_minute)
    table = _matrix_by_pcn(path.name, long, lsoas, columns.origin)
    if not table["band"].astype(str).ne("").any():
        table = table.drop(columns="band")
    return table


@dataclass(frozen=True)
class _MatrixColumns:
    origin: str
    site: str
    value: str
    band: str | None


#: File signatures of formats that are not a table, with what to tell the user.
_NOT_A_TABLE = (
    (b"SQLite format 3\x00", "a GeoPackage/SQLite database"),
    (b"PK\x03\x04", "a zip archive (an Excel workbook?)"),
)


def _sniff_format(path: Path) -> str | None:
    """What the file is, if it is plainly not CSV or Parquet (read from its first bytes)."""
    with path.open("rb") as handle:
        head = handle.read(64)
    if path.suffix.lower() == ".parquet" and head.startswith(b"PAR1"):
        return None
    for magic, what in _NOT_A_TABLE:
        if head.startswith(magic):
            return what
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if path.suffix.lower() in (".geojson", ".json") or text.startswith((b"{", b"[")):
        return "GeoJSON/JSON"
    return None


def _read_matrix_file(path: Path) -> tuple[pd.DataFrame, _MatrixColumns]:
    """The matrix as text cells, and which column holds what; refuse what is not a table."""
    name = path.name
    what = kind_of(path)
    if what is not None:
        problem = (
            f"travel matrix not found at {path}."
            if what == "missing"
            else f"travel matrix at {path} is {what}."
        )
        raise InputDataError([Problem(name, problem, fix="correct travel.matrix in the scenario.")])
    fmt = _sniff_format(path)
    if fmt is not None:
        raise InputDataError(
            [
                Problem(
                    name,
                    f"is {fmt}, not a table: a travel matrix is CSV (or Parquet) with one row per "
                    "origin and site.",
                    fix="export it as CSV with columns origin, site_id, travel_km (see "
                    "models/README.md, [travel]).",
                )
            ]
        )
    frame, problems = read_text_table(path)
    if frame is None:
        raise InputDataError(problems)
    lower = {c.lower(): c for c in frame.columns}
    origin = next((lower[c] for c in ("origin", "lsoa_code", "pcn_code") if c in lower), None)
    value = next(
        (lower[c] for c in ("travel_km", "km", "travel_minutes", "minutes") if c in lower), None
    )
    if origin is None:
        problems.append(
            Problem(
                name,
                "has no origin column.",
                column="origin",
                fix="name it origin, lsoa_code or pcn_code.",
            )
        )
    if "site_id" not in lower:
        problems.append(
            Problem(name, "has no site_id column.", column="site_id", fix="add a site_id column.")
        )
    if value is None:
        problems.append(
            Problem(
                name,
                "has no travel column.",
                column="travel_km",
                fix="name it travel_km or travel_minutes.",
            )
        )
    if problems or origin is None or value is None:
        raise InputDataError(problems)
    return frame, _MatrixColumns(origin, lower["site_id"], value, lower.get("band"))


def _check_matrix_rows(
    name: str,
    frame: pd.DataFrame,
    columns: _MatrixColumns,
    site_ids: set[str],
    unit: str,
    km_per_minute: float,
) -> pd.DataFrame:
    """Every row's value, band and site checked; the long ``origin, site_id, band, travel_km``."""
    problems: list[Problem] = []
    values = pd.to_numeric(frame[columns.value], errors="coerce")
    for line in frame.index[~np.isfinite(values.to_numpy(dtype=float)) | (values < 0).to_numpy()]:
        problems.append(
            Problem(
                name,
                f"'{frame.at[line, columns.value]}' is not a non-negative number.",
                row=f"line {line}",
                column=columns.value,
                fix="enter the travel as a number >= 0, or leave the pair out if unreachable.",
            )
        )
    band = frame[columns.band] if columns.band else pd.Series("", index=frame.index)
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
    sites = frame[columns.site]
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
    problems += _repeated_pairs(name, frame, columns.origin, sites, band)
    if problems:
        raise InputDataError(problems)
    is_minutes = unit == "minutes" or "minute" in columns.value.lower()
    km = values.to_numpy(dtype=float) * (km_per_minute if is_minutes else 1.0)
    return pd.DataFrame(
        {
            "origin": frame[columns.origin].to_numpy(),
            "site_id": sites.to_numpy(),
            "band": band.to_numpy(),
            "travel_km": km,
        }
    )


def _repeated_pairs(
    name: str, frame: pd.DataFrame, origin_col: str, sites: pd.Series, band: pd.Series
) -> list[Problem]:
    pairs = pd.DataFrame({"o": frame[origin_col], "s": sites, "b": band})
    repeated = pairs.duplicated(keep="first")
    first_line: dict[tuple, object] = {}
    for line, key in zip(frame.index, map(tuple, pairs.to_numpy()), strict=True):
        first_line.setdefault(key, line)
    problems = []
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
    return problems


def _matrix_by_pcn(
    name: str, long: pd.DataFrame, lsoas: pd.DataFrame, origin_col: str
) -> pd.DataFrame:
    """PCN origins as they are; LSOA origins averaged to their PCN, weighted by population."""
    pcn_of_lsoa = dict(zip(lsoas["lsoa_code"], lsoas["pcn_code"], strict=True))
    pcn_codes = set(lsoas["pcn_code"])
    if long["origin"].isin(pcn_codes).all():
        table = long.rename(columns={"origin": "pcn_code"})
    else:
        table = _lsoas_to_pcns(name, long, lsoas, origin_col, pcn_of_lsoa, pcn_codes)
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
    return table.sort_values(["pcn_code", "site_id", "band"]).reset_index(drop=True)


def _lsoas_to_pcns(
    name: str,
    long: pd.DataFrame,
    lsoas: pd.DataFrame,
    origin_col: str,
    pcn_of_lsoa: dict[str, str],
    pcn_codes: set[str],
) -> pd.DataFrame:
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
    long = long.assign(pcn_code=long["origin"].map(pcn_of_lsoa), pop=long["origin"].map(pop))
    size = lsoas.groupby("pcn_code")["lsoa_code"].size()
    counts = long.groupby(["pcn_code", "site_id", "band"])["origin"].nunique()
    partial = counts[counts.to_numpy() != size.reindex(counts.index.get_level_values(0)).to_numpy()]
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
    # Sum in a fixed order (by PCN, site, band, then origin) so row order never moves a digit.
    long = long.sort_values(["pcn_code", "site_id", "band", "origin"], kind="stable")
    long["w"] = long["pop"] * long["travel_km"]
    sums = long.groupby(["pcn_code", "site_id", "band"], as_index=False)[["w", "pop"]].sum()
    sums["travel_km"] = sums["w"] / sums["pop"].where(sums["pop"] > 0)
    return sums[["pcn_code", "site_id", "band", "travel_km"]]


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
    patients = travel_patients(dataset, scenario)
    limit = max(limits.values())
    ptal = scenario.travel.ptal
    if not ptal.enabled:
        return pcn_site_travel(
            dataset.lsoas, dataset.premises, scenario.travel.circuity, limit, patients=patients
        )
    parts = []
    for band in BANDS:
        factors = ptal_factors(dataset, scenario) if band in ptal.bands else None
        table = pcn_site_travel(
            dataset.lsoas,
            dataset.premises,
            scenario.travel.circuity,
            limit,
            patients=patients,
            lsoa_factors=factors,
        )
        parts.append(table.assign(band=band))
    return (
        pd.concat(parts, ignore_index=True)
        .sort_values(["pcn_code", "site_id", "band"], kind="stable")
        .reset_index(drop=True)
    )


def ptal_factors(dataset: Dataset, scenario: Scenario) -> np.ndarray:
    """Per LSOA, the factor its distance counts in a PTAL-weighted band (1 where the LSOA
    has no PTAL or its band has no factor).

    ``[travel.ptal] enabled`` on a dataset whose lsoas.geojson has no ``ptal`` column is an
    input error naming the file and column.
    """
    if "ptal" not in dataset.lsoas.columns:
        raise InputDataError(
            [
                Problem(
                    "lsoas.geojson",
                    "has no ptal column, but the scenario sets [travel.ptal] enabled = true.",
                    column="ptal",
                    fix="add each LSOA's PTAL band (0, 1a, 1b, 2-5, 6a, 6b; see "
                    "geodata/README.md) or turn [travel.ptal] off.",
                )
            ]
        )
    bands = dataset.lsoas["ptal"].astype(object).where(dataset.lsoas["ptal"].notna(), "")
    return bands.map(scenario.travel.ptal.factors).fillna(1.0).to_numpy(float)


def travel_patients(dataset: Dataset, scenario: Scenario) -> pd.DataFrame | None:
    """patients.csv when the scenario weights travel by registered patients, else None.

    ``[travel] weighting = "patients"`` on a dataset without patients.csv is an input
    error naming the file, not a silent fall-back to catchment population.
    """
    if scenario.travel.weighting != "patients":
        return None
    if dataset.patients is None or not len(dataset.patients):
        raise InputDataError(
            [
                Problem(
                    "patients.csv",
                    f"is missing from {dataset.source}, but the scenario sets "
                    '[travel] weighting = "patients".',
                    fix="add patients.csv (pcn_code, lsoa_code, patients; see geodata/README.md) "
                    'or set weighting = "population".',
                )
            ]
        )
    return dataset.patients
