"""The one place that measures travel: PCN population to sites, in EPSG:27700.

Travel from a PCN to a site is the population-weighted mean straight-line
distance from the PCN's LSOAs (their representative points) to the site,
times a circuity factor that turns crow-fly into road distance. When the
dataset has ``patients.csv``, the LSOAs are those the PCN's registered
patients live in, weighted by their number (:mod:`estates_opt.inputs.patients`). A travel
matrix file (for example from r5py, read by :mod:`estates_opt.inputs.travel_matrix`)
replaces the geometry when a scenario gives one. The LP never sees geometries: only the long table returned here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from estates_opt.errors import (
    InputDataError,
    Problem,
)
from estates_opt.inputs.dataset import Dataset
from estates_opt.inputs.patients import origin_weights
from estates_opt.inputs.travel_matrix import read_travel_matrix
from estates_opt.memo import IdentityMemo
from estates_opt.scenario import Scenario
from estates_opt.schema import BANDS, PROJECTED_CRS

__all__ = [
    "DEPRIVED_DECILES",
    "deprived_share",
    "lsoa_points",
    "measure_travel",
    "pair_travel",
    "pcn_site_travel",
    "points_km",
    "ptal_factors",
    "read_travel_matrix",
    "site_points",
    "travel_patients",
]

log = logging.getLogger(__name__)


#: IMD deciles counted as "deprived" for the equity weighting and KPIs.
DEPRIVED_DECILES = (1, 2)


#: LSOA points already worked out, per geometry array (kept while the array lives).
_LSOA_POINTS: IdentityMemo[np.ndarray] = IdentityMemo()


def lsoa_points(lsoas: gpd.GeoDataFrame) -> np.ndarray:
    """(n, 2) read-only array of LSOA representative points in metres.

    Kept for the geometries' lifetime: travel and the explain stage each ask for the
    same points, and England's 32,844 polygons took 55 ms each time.
    """

    def points() -> np.ndarray:
        pts = lsoas.to_crs(PROJECTED_CRS).geometry.representative_point()
        xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])
        xy.setflags(write=False)
        return xy

    return _LSOA_POINTS.value_for(lsoas.geometry.values, points)


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
    dist_km = points_km(pts, targets)
    if factors is not None:
        dist_km = dist_km * factors[:, None]
    return circuity * (weights @ dist_km)


def _sites_within_reach(
    origins: np.ndarray,
    targets: np.ndarray,
    by_pcn: list[tuple[str, np.ndarray, np.ndarray]],
    circuity: float,
    max_km: float | None,
) -> list[np.ndarray]:
    """Per PCN, the sorted positions of the sites that may lie within ``max_km`` (all without
    one): a crow-fly pre-filter, as a site further from every one of the PCN's LSOAs than
    ``max_km / circuity`` cannot qualify. One k-d tree query for all PCNs (a scan of every
    site per PCN was half of England's travel time)."""
    if max_km is None:
        return [np.arange(len(targets))] * len(by_pcn)
    if not by_pcn or not len(targets):
        return [np.zeros(0, dtype=int)] * len(by_pcn)
    centres = np.array([weights @ origins[members] for _, members, weights in by_pcn])
    spreads = np.array(
        [
            np.sqrt(((origins[members] - centre) ** 2).sum(axis=1)).max()
            for (_, members, _), centre in zip(by_pcn, centres, strict=True)
        ]
    )
    tree = cKDTree(targets)
    found = tree.query_ball_point(centres, (max_km / circuity) * 1000 + spreads)
    return [np.sort(np.asarray(near, dtype=int)) for near in found]


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
    by_pcn = list(_pcn_weights(lsoas, patients))
    nearby = _sites_within_reach(origins, targets, by_pcn, circuity, max_km)
    for (code, members, weights), idx in zip(by_pcn, nearby, strict=True):
        pts = origins[members]
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
    lsoa_factors: np.ndarray | None = None,
    points: np.ndarray | None = None,
) -> pd.DataFrame:
    """Travel (km) for the given ``pcn_code, site_id`` pairs only, measured as
    :func:`pcn_site_travel` measures it (``lsoa_factors`` as there, one per row of ``lsoas``;
    ``points`` the LSOAs' :func:`lsoa_points`, when the caller has them for a subset).

    For the few pairs outside the model (today's slots the plan leaves): the
    all-pairs table would cost PCNs x sites distance matrices at national scale.
    Pairs whose PCN has no LSOAs or whose site is unknown are left out.
    """
    origins = lsoa_points(lsoas) if points is None else points
    targets = site_points(premises)
    site_pos = pd.Index(premises["site_id"])
    wanted = pairs[["pcn_code", "site_id"]].drop_duplicates()
    wanted = wanted.assign(pos=site_pos.get_indexer(wanted["site_id"]))
    wanted = wanted[wanted["pos"] >= 0]
    by_pcn = wanted.groupby("pcn_code")["pos"].agg(list).to_dict()
    site_ids = premises["site_id"].to_numpy()
    pcn_parts, site_parts, km_parts = [], [], []
    for code, members, weights in _pcn_weights(lsoas, patients):
        positions = by_pcn.get(code)
        if not positions:
            continue
        idx = np.sort(np.asarray(positions))
        pcn_parts.append(np.full(idx.size, code, dtype=object))
        site_parts.append(site_ids[idx])
        factors = lsoa_factors[members] if lsoa_factors is not None else None
        km_parts.append(_weighted_km(origins[members], weights, targets[idx], circuity, factors))
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
    dx = a[:, 0, None] - b[None, :, 0]
    dy = a[:, 1, None] - b[None, :, 1]
    return np.sqrt(dx * dx + dy * dy) / 1000.0  # as summing the squares, without a reduce


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
