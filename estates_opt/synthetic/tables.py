"""The tables of a synthetic dataset: LSOAs, PCNs, premises, demand and today's use.

Rooms, capacity and opening options come from :mod:`estates_opt.synthetic.capacity`.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from estates_opt.schema import PROJECTED_CRS
from estates_opt.synthetic.capacity import capacity_tables
from estates_opt.synthetic.catalogue import SERVICE_COLUMNS, SERVICES
from estates_opt.synthetic.geography import _geography, _pick_in_group, _spread
from estates_opt.synthetic.scales import SCALES, Scale


@dataclass(frozen=True)
class _Geography:
    """Where the towns, LSOA cells and PCNs of a synthetic instance lie (metres)."""

    town_centres: np.ndarray
    town_of_pcn: np.ndarray
    lsoa_xy: np.ndarray
    pcn_of_lsoa: np.ndarray
    lsoa_start: np.ndarray
    lsoa_count: np.ndarray
    pcn_codes: np.ndarray


def generate(scale: str | Scale, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Build every input table of a synthetic dataset (geometries in EPSG:27700).

    The random draws happen in a fixed order (geography, LSOAs, sites, capacity),
    so a (scale, seed) pair always gives the same dataset.
    """
    s = SCALES[scale] if isinstance(scale, str) else scale
    if s.pcns < 1 or s.practices < s.pcns or s.lsoas < s.pcns or s.acute_sites < 1:
        raise ValueError(
            "a synthetic scale needs at least one PCN, one practice and one LSOA per PCN, "
            "and one hospital."
        )
    rng = np.random.default_rng(seed)
    town_centres, town_of_pcn, lsoa_xy, pcn_of_lsoa = _geography(s, rng)
    geo = _Geography(
        town_centres,
        town_of_pcn,
        lsoa_xy,
        pcn_of_lsoa,
        lsoa_start=np.searchsorted(pcn_of_lsoa, np.arange(s.pcns)),
        lsoa_count=np.bincount(pcn_of_lsoa, minlength=s.pcns),
        pcn_codes=np.array([f"P{i:05d}" for i in range(s.pcns)], dtype=object),
    )
    lsoas, cells = _lsoa_table(s, geo, rng)
    population = lsoas["population"].to_numpy(float)
    pops = np.bincount(pcn_of_lsoa, weights=population, minlength=s.pcns)
    centroid = (
        np.column_stack(
            [
                np.bincount(pcn_of_lsoa, weights=population * lsoa_xy[:, 0], minlength=s.pcns),
                np.bincount(pcn_of_lsoa, weights=population * lsoa_xy[:, 1], minlength=s.pcns),
            ]
        )
        / pops[:, None]
    )
    pcns = _pcn_table(s, geo, cells, pops)
    premises, site_xy = _premises_table(s, geo, population, pops, centroid, rng)
    services = pd.DataFrame(SERVICES, columns=SERVICE_COLUMNS)
    demand = _demand_table(services, geo.pcn_codes, pcns["registered_patients"].to_numpy(float))
    baseline = _baseline(s, demand, services, premises, centroid, site_xy)
    capacity, opening = capacity_tables(premises, baseline, services, rng)
    return {
        "premises": premises,
        "capacity": capacity,
        "opening": opening,
        "pcns": pcns,
        "lsoas": lsoas,
        "services": services.drop(columns="rate"),
        "demand": demand,
        "baseline": baseline,
    }


def _lsoa_table(
    s: Scale, geo: _Geography, rng: np.random.Generator
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """LSOA cells with population and deprivation (deprivation clusters by PCN, as in cities)."""
    cell, lsoa_xy, pcn_of_lsoa = s.cell_m, geo.lsoa_xy, geo.pcn_of_lsoa
    n_lsoa = len(lsoa_xy)
    within = np.arange(n_lsoa) - geo.lsoa_start[pcn_of_lsoa]
    population = rng.integers(1200, 2400, n_lsoa).astype(float)
    pcn_imd = rng.uniform(1, 10, s.pcns)
    imd = np.clip(np.rint(pcn_imd[pcn_of_lsoa] + rng.normal(0, 1.5, n_lsoa)), 1, 10).astype(int)
    cells = shapely.box(
        lsoa_xy[:, 0] - cell / 2,
        lsoa_xy[:, 1] - cell / 2,
        lsoa_xy[:, 0] + cell / 2,
        lsoa_xy[:, 1] + cell / 2,
    )
    lsoa_codes = [f"L{p:05d}{j:03d}" for p, j in zip(pcn_of_lsoa, within, strict=True)]
    lsoas = gpd.GeoDataFrame(
        {
            "lsoa_code": lsoa_codes,
            "population": population,
            "imd_decile": imd,
            "pcn_code": geo.pcn_codes[pcn_of_lsoa],
        },
        geometry=cells,
        crs=PROJECTED_CRS,
    )
    return lsoas, cells


def _pcn_table(s: Scale, geo: _Geography, cells: np.ndarray, pops: np.ndarray) -> gpd.GeoDataFrame:
    """PCN catchments: each the exact union of its cells (they tile without overlaps)."""
    outlines = [
        shapely.coverage_union_all(cells[geo.lsoa_start[p] : geo.lsoa_start[p] + geo.lsoa_count[p]])
        for p in range(s.pcns)
    ]
    return gpd.GeoDataFrame(
        {
            "pcn_code": geo.pcn_codes,
            "pcn_name": [f"Synthetic PCN {p}" for p in range(s.pcns)],
            "borough": [f"Area {t}" for t in geo.town_of_pcn],
            "registered_patients": np.round(pops * 1.05, 0),
        },
        geometry=outlines,
        crs=PROJECTED_CRS,
    )


def _premises_table(
    s: Scale,
    geo: _Geography,
    population: np.ndarray,
    pops: np.ndarray,
    centroid: np.ndarray,
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Sites: practices in their PCN's cells, hubs at the PCN's population centre,
    community sites where people live, hospitals near town centres."""
    cell, lsoa_xy, pcn_of_lsoa = s.cell_m, geo.lsoa_xy, geo.pcn_of_lsoa
    practice_count = _spread(s.practices, s.pcns, rng)
    practice_pcn = np.repeat(np.arange(s.pcns), practice_count)
    practice_rank = np.arange(s.practices) - np.repeat(
        np.r_[0, np.cumsum(practice_count)[:-1]], practice_count
    )
    practice_cell = _pick_in_group(geo.lsoa_start, geo.lsoa_count, practice_pcn, rng)
    # The hub sits in the cell nearest the PCN's population centre.
    to_centre = ((lsoa_xy - centroid[pcn_of_lsoa]) ** 2).sum(axis=1)
    hub_cell = np.lexsort((to_centre, pcn_of_lsoa))[geo.lsoa_start]
    community_cell = rng.choice(len(lsoa_xy), s.community_sites, p=population / population.sum())
    acute_town, town_radius = _acute_towns(s, geo, pops, rng)
    jitter = rng.uniform(-0.45 * cell, 0.45 * cell, (s.practices + s.pcns + s.community_sites, 2))
    practice_xy = lsoa_xy[practice_cell] + jitter[: s.practices]
    hub_xy = lsoa_xy[hub_cell] + jitter[s.practices : s.practices + s.pcns] * 0.5
    community_xy = lsoa_xy[community_cell] + jitter[s.practices + s.pcns :]
    acute_xy = geo.town_centres[acute_town] + rng.normal(0, 1, (s.acute_sites, 2)) * (
        0.3 * town_radius[acute_town, None] + 300
    )
    # Sites are listed PCN by PCN (its practices then its hub), then community, then acute.
    pcn_sites = np.concatenate([practice_pcn, np.arange(s.pcns)])
    pcn_rank = np.concatenate([practice_rank, np.full(s.pcns, 10**6)])
    local = np.lexsort((pcn_rank, pcn_sites))
    labels = zip(practice_pcn, practice_rank, strict=True)
    pcn_ids = np.concatenate(
        [[f"G{p:05d}{j:02d}" for p, j in labels], [f"H{p:05d}" for p in range(s.pcns)]]
    )[local]
    pcn_names = np.concatenate(
        [
            [f"Practice {p}-{j}" for p, j in zip(practice_pcn, practice_rank, strict=True)],
            [f"Hub {p}" for p in range(s.pcns)],
        ]
    )[local]
    pcn_kinds = np.array(["gp_practice"] * s.practices + ["pcn_hub"] * s.pcns)[local]
    site_xy = np.concatenate([np.concatenate([practice_xy, hub_xy])[local], community_xy, acute_xy])
    premises = gpd.GeoDataFrame(
        {
            "site_id": np.concatenate(
                [
                    pcn_ids,
                    [f"C{c:05d}" for c in range(s.community_sites)],
                    [f"A{a:04d}" for a in range(s.acute_sites)],
                ]
            ),
            "name": np.concatenate(
                [
                    pcn_names,
                    [f"Community site {c}" for c in range(s.community_sites)],
                    [f"Hospital {a}" for a in range(s.acute_sites)],
                ]
            ),
            "kind": np.concatenate(
                [pcn_kinds, ["community"] * s.community_sites, ["acute"] * s.acute_sites]
            ),
            "pcn_code": np.concatenate(
                [geo.pcn_codes[pcn_sites[local]], [""] * (s.community_sites + s.acute_sites)]
            ),
            "borough": "",
        },
        geometry=shapely.points(site_xy),
        crs=PROJECTED_CRS,
    )
    return premises, site_xy


def _acute_towns(
    s: Scale, geo: _Geography, pops: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Which town each hospital is in (largest towns first) and each town's radius (m)."""
    town_pop = np.bincount(geo.town_of_pcn, weights=pops)
    acute_town = np.argsort(-town_pop, kind="stable")[np.arange(s.acute_sites) % town_pop.size]
    if s.acute_sites > town_pop.size:  # more hospitals than towns: extra ones by population
        extra = rng.choice(
            town_pop.size, s.acute_sites - town_pop.size, p=town_pop / town_pop.sum()
        )
        acute_town[town_pop.size :] = extra
    lsoa_town = geo.town_of_pcn[geo.pcn_of_lsoa]
    town_radius = np.zeros(town_pop.size)
    offsets = np.linalg.norm(geo.lsoa_xy - geo.town_centres[lsoa_town], axis=1)
    np.maximum.at(town_radius, lsoa_town, offsets)
    return acute_town, town_radius


def _demand_table(
    services: pd.DataFrame, pcn_codes: np.ndarray, registered: np.ndarray
) -> pd.DataFrame:
    """Weekly hours of each service per PCN: the service's rate per 1,000 registered patients."""
    rates = services["rate"].to_numpy(float)
    n_svc = len(services)
    return pd.DataFrame(
        {
            "pcn_code": np.repeat(pcn_codes, n_svc),
            "service_id": np.tile(services["service_id"].to_numpy(), len(pcn_codes)),
            "hours_per_week": np.round(np.outer(registered, rates).ravel() / 1000, 2),
        }
    )


def _baseline(
    s: Scale,
    demand: pd.DataFrame,
    services: pd.DataFrame,
    premises: gpd.GeoDataFrame,
    centroid: np.ndarray,
    site_xy: np.ndarray,
) -> pd.DataFrame:
    """Today: PCN clinics split over member practices, EA in the first practice, outreach in
    the nearest hospital."""
    kinds = premises["kind"].to_numpy()
    practices = np.flatnonzero(kinds == "gp_practice")
    acute = np.flatnonzero(kinds == "acute")
    site_ids = premises["site_id"].to_numpy()
    pcn_index = {c: i for i, c in enumerate(demand["pcn_code"].unique())}
    practice_pcn = np.array([pcn_index[c] for c in premises["pcn_code"].to_numpy()[practices]])
    member_start = np.searchsorted(practice_pcn, np.arange(s.pcns))
    members = np.bincount(practice_pcn, minlength=s.pcns)
    # Nearest hospital to each PCN's population centre, in chunks to bound memory.
    nearest = np.empty(s.pcns, dtype=np.int64)
    for lo in range(0, s.pcns, 2048):
        d = ((centroid[lo : lo + 2048, None, :] - site_xy[acute][None]) ** 2).sum(axis=2)
        nearest[lo : lo + 2048] = acute[np.argmin(d, axis=1)]

    category = demand["service_id"].map(services.set_index("service_id")["category"]).to_numpy()
    pcn = demand["pcn_code"].map(pcn_index).to_numpy()
    hours = demand["hours_per_week"].to_numpy(float)
    parts = []
    out = category == "outpatient_outreach"
    parts.append((demand.index[out], site_ids[nearest[pcn[out]]], "weekday", hours[out]))
    ea = np.flatnonzero(category == "enhanced_access")
    half = np.round(hours[ea] / 2, 2)
    first = site_ids[practices[member_start[pcn[ea]]]]
    parts.append((demand.index[ea], first, "evening", half))
    parts.append((demand.index[ea], first, "saturday", np.round(hours[ea] - half, 2)))
    clinic = np.flatnonzero(category == "pcn_clinic")
    n_members = members[pcn[clinic]]
    share = np.round(hours[clinic] / n_members, 2)
    rows = np.repeat(clinic, n_members)
    rank = np.arange(rows.size) - np.repeat(np.cumsum(n_members) - n_members, n_members)
    row_share = np.repeat(share, n_members)
    last = rank == np.repeat(n_members, n_members) - 1
    row_hours = np.where(
        last,
        np.round(hours[rows] - row_share * (np.repeat(n_members, n_members) - 1), 2),
        row_share,
    )
    row_site = site_ids[practices[member_start[pcn[rows]] + rank]]
    parts.append((demand.index[rows], row_site, "weekday", row_hours))
    frames = [
        pd.DataFrame(
            {
                "pcn_code": demand["pcn_code"].to_numpy()[idx],
                "service_id": demand["service_id"].to_numpy()[idx],
                "site_id": site,
                "band": band,
                "hours_per_week": h,
            }
        )
        for idx, site, band, h in parts
    ]
    baseline = pd.concat(frames, ignore_index=True)
    return baseline.groupby(["pcn_code", "service_id", "site_id", "band"], as_index=False)[
        "hours_per_week"
    ].sum()
