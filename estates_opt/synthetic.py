"""Seeded synthetic datasets in the public input format, at any scale.

Used for unit tests (``tiny``, ``small``), property tests (random small
instances) and the benchmark (``ics``, ``region``, ``england``). Everything is
generated with numpy arrays (no per-row Python loops), so even the England
scale (1,250 PCNs, 33,000 LSOA-like zones) takes a few seconds.

Geography is plausible rather than real:

* **Towns** have Zipf-distributed sizes (one big city, many small towns) and
  sit apart in British National Grid space, at least ``town_gap_km`` apart edge
  to edge, so that, with the default travel limits, different towns share no
  site: they are independent blocks of the LP (see :mod:`estates_opt.model.decompose`).
* **LSOAs** are ~600 m grid cells filling each town outward from its centre
  (with a lobed edge), so they do not overlap; their populations are 1,200-2,400.
* **PCN catchments** split a town's cells into contiguous blocks of the PCN's
  LSOA count by recursive coordinate bisection; the PCN's outline is the union
  of its cells and its **hub** sits in the cell nearest its population centre.
* **Practices** sit in random cells of their PCN, **community sites** in cells
  drawn in proportion to population, **hospitals** near town centres, more of
  them in bigger towns.

Calibration follows the NEL default: practice and hospital rooms about 100%
used on weekdays (fixed work plus today's movable sessions), community and
hub rooms about 40%, so the optimiser has the same kind of problem to solve.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from estates_opt.outputs.files import atomic_write_text, csv_text
from estates_opt.schema import GEOGRAPHIC_CRS, PROJECTED_CRS, ROOM_HOURS_PER_WEEK, ROOM_TYPES

#: Bump when the generator changes, so cached datasets are rebuilt.
GENERATOR_VERSION = "2"

#: Where :func:`cached_dataset` keeps generated datasets (gitignored).
DEFAULT_CACHE = Path(".cache") / "synthetic"


@dataclass(frozen=True)
class Scale:
    """How big a synthetic dataset is.

    Per-PCN counts may be fractional: the totals (``round(pcns * per_pcn)``)
    are spread over PCNs so that each gets the floor or the ceiling, which lets
    a scale hit published national totals such as 6,300 practices exactly.
    """

    pcns: int
    practices_per_pcn: float
    community_sites: int
    lsoas_per_pcn: float
    acute_sites: int
    towns: int
    cell_m: float = 600.0
    town_gap_km: float = 15.0

    @property
    def practices(self) -> int:
        return round(self.pcns * self.practices_per_pcn)

    @property
    def lsoas(self) -> int:
        return round(self.pcns * self.lsoas_per_pcn)


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        pcns=2, practices_per_pcn=2, community_sites=2, lsoas_per_pcn=3, acute_sites=1, towns=1
    ),
    "small": Scale(
        pcns=6, practices_per_pcn=4, community_sites=8, lsoas_per_pcn=10, acute_sites=1, towns=2
    ),
    # One integrated care system, about the size of North East London.
    "ics": Scale(
        pcns=50, practices_per_pcn=6, community_sites=150, lsoas_per_pcn=26, acute_sites=6, towns=5
    ),
    # Five ICSs: 250 PCNs, 1,500 practices.
    "region": Scale(
        pcns=250,
        practices_per_pcn=6,
        community_sites=750,
        lsoas_per_pcn=26,
        acute_sites=25,
        towns=20,
    ),
    # England: ~1,250 PCNs, 6,300 practices, 3,000 community sites, 33,000 LSOAs.
    "england": Scale(
        pcns=1250,
        practices_per_pcn=5.04,
        community_sites=3000,
        lsoas_per_pcn=26.4,
        acute_sites=140,
        towns=120,
    ),
}

#: The service catalogue shared by every synthetic dataset (rates per 1,000 patients/week).
SERVICES = [
    (
        "pcn_diabetes",
        "Diabetes clinic",
        "pcn_clinic",
        "consulting",
        "weekday",
        "gp_practice;pcn_hub;community",
        5.0,
        2.0,
    ),
    (
        "pcn_respiratory",
        "Respiratory clinic",
        "pcn_clinic",
        "consulting",
        "weekday",
        "gp_practice;pcn_hub;community",
        5.0,
        1.0,
    ),
    (
        "pcn_phlebotomy",
        "Phlebotomy",
        "pcn_clinic",
        "treatment",
        "weekday",
        "gp_practice;pcn_hub;community",
        5.0,
        1.5,
    ),
    (
        "pcn_group",
        "Group consultations",
        "pcn_clinic",
        "group",
        "weekday",
        "gp_practice;pcn_hub;community",
        5.0,
        0.5,
    ),
    (
        "op_dermatology",
        "Dermatology outreach",
        "outpatient_outreach",
        "consulting",
        "weekday",
        "pcn_hub;community;acute",
        10.0,
        0.8,
    ),
    (
        "op_cardiology",
        "Cardiology outreach",
        "outpatient_outreach",
        "diagnostics",
        "weekday",
        "pcn_hub;community;acute",
        10.0,
        0.5,
    ),
    (
        "ea_access",
        "Enhanced access",
        "enhanced_access",
        "consulting",
        "evening;saturday",
        "gp_practice;pcn_hub;community",
        5.0,
        1.0,
    ),
]
SERVICE_COLUMNS = [
    "service_id",
    "name",
    "category",
    "room_type",
    "bands",
    "site_kinds",
    "max_travel_km",
    "rate",
]

#: Rooms of each type a site of each kind has: (low, high) inclusive.
ROOMS = {
    "gp_practice": {
        "consulting": (4, 9),
        "treatment": (1, 3),
        "group": (0, 2),
        "diagnostics": (0, 1),
    },
    "pcn_hub": {"consulting": (6, 14), "treatment": (2, 5), "group": (1, 3), "diagnostics": (1, 3)},
    "community": {
        "consulting": (3, 12),
        "treatment": (1, 4),
        "group": (1, 3),
        "diagnostics": (0, 3),
    },
    "acute": {
        "consulting": (20, 40),
        "treatment": (6, 14),
        "group": (2, 5),
        "diagnostics": (8, 16),
    },
}
#: Room cost by kind, GBP per room-hour: (low, high).
COST = {"gp_practice": (35, 45), "pcn_hub": (20, 25), "community": (12, 18), "acute": (60, 80)}
KIND_ORDER = ("gp_practice", "pcn_hub", "community", "acute")
#: Share of community sites that also open in the evening and on Saturday.
COMMUNITY_OUT_OF_HOURS = 0.3
#: Centre of the synthetic country (BNG metres, roughly the English Midlands).
CENTRE = np.array([420_000.0, 300_000.0])


def _spread(total: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    """``parts`` integers summing to ``total``, each the floor or ceiling of the mean."""
    counts = np.full(parts, total // parts, dtype=np.int64)
    counts[rng.choice(parts, total - counts.sum(), replace=False)] += 1
    return counts


def _town_sizes(s: Scale, rng: np.random.Generator) -> np.ndarray:
    """PCNs per town: Zipf-like (a big city, many small towns), at least one each."""
    towns = max(1, min(s.towns, s.pcns))
    weights = 1.0 / np.arange(1, towns + 1) ** 0.9
    extra = rng.multinomial(s.pcns - towns, weights / weights.sum())
    return 1 + extra


def _town_cells(n_cells: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Centres (relative to the town centre) of ``n_cells`` grid cells filling a lobed disc."""
    half = int(np.ceil(np.sqrt(n_cells / np.pi) * 1.6)) + 2
    axis = np.arange(-half, half + 1, dtype=float)
    gx, gy = np.meshgrid(axis, axis)
    gx, gy = gx.ravel(), gy.ravel()
    angle = np.arctan2(gy, gx)
    lobes = 1.0 + 0.25 * np.cos(rng.integers(2, 5) * angle + rng.uniform(0, 2 * np.pi))
    reach = np.hypot(gx, gy) / lobes + rng.uniform(0, 0.3, gx.size)
    take = np.argsort(reach, kind="stable")[:n_cells]
    return np.column_stack([gx[take], gy[take]]) * cell


def _place_towns(radius: np.ndarray, gap: float, rng: np.random.Generator) -> np.ndarray:
    """Town centres (BNG metres) at least ``gap`` apart edge to edge, biggest first.

    Dart throwing in a box around :data:`CENTRE` that grows until every town fits.
    """
    area = ((2 * radius + gap) ** 2).sum()
    side = max(np.sqrt(area) * 1.5, 4 * gap)
    order = np.argsort(-radius, kind="stable")
    while True:
        centres = np.zeros((radius.size, 2))
        placed: list[int] = []
        ok = True
        for t in order:
            candidates = CENTRE + rng.uniform(-side / 2, side / 2, (64, 2))
            if placed:
                dist = np.linalg.norm(candidates[:, None, :] - centres[placed][None], axis=2)
                fits = (dist >= radius[t] + radius[placed] + gap).all(axis=1)
            else:
                fits = np.ones(len(candidates), bool)
            if not fits.any():
                ok = False
                break
            centres[t] = candidates[int(np.argmax(fits))]
            placed.append(int(t))
        if ok:
            return centres
        side *= 1.25


def _bisect(points: np.ndarray, sizes: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> None:
    """Label ``points`` with ``ids`` so each id gets ``sizes[id]`` contiguous points.

    Recursive coordinate bisection: split the ids in two halves, sort the points
    along the longer side and cut at the first half's total.
    """
    stack = [(np.arange(len(points)), ids)]
    while stack:
        idx, group = stack.pop()
        if len(group) == 1:
            labels[idx] = group[0]
            continue
        left, right = group[: len(group) // 2], group[len(group) // 2 :]
        pts = points[idx]
        axis = int(np.ptp(pts[:, 1]) > np.ptp(pts[:, 0]))
        ranked = idx[np.argsort(pts[:, axis], kind="stable")]
        cut = int(sizes[left].sum())
        stack.append((ranked[:cut], left))
        stack.append((ranked[cut:], right))


def _geography(s: Scale, rng: np.random.Generator):
    """Towns, LSOA cells with their PCN, and PCN-per-town assignment."""
    per_town = _town_sizes(s, rng)
    n_towns = per_town.size
    town_of_pcn = np.repeat(np.arange(n_towns), per_town)
    lsoas_per_pcn = _spread(s.lsoas, s.pcns, rng)
    cells_per_town = np.bincount(town_of_pcn, weights=lsoas_per_pcn, minlength=n_towns)
    cells_per_town = cells_per_town.astype(np.int64)
    radius = s.cell_m * np.sqrt(cells_per_town / np.pi) * 1.3
    centres = _place_towns(radius, s.town_gap_km * 1000.0, rng)
    # On the cell grid, so neighbouring cells share bit-identical edges and union cleanly.
    centres = np.round(centres / s.cell_m) * s.cell_m
    xy_parts, pcn_parts = [], []
    first_pcn = np.r_[0, np.cumsum(per_town)]
    for t in range(n_towns):
        cells = _town_cells(int(cells_per_town[t]), s.cell_m, rng)
        ids = np.arange(first_pcn[t], first_pcn[t + 1])
        labels = np.empty(len(cells), dtype=np.int64)
        _bisect(cells, lsoas_per_pcn, labels, ids)
        xy_parts.append(cells + centres[t])
        pcn_parts.append(labels)
    xy = np.concatenate(xy_parts)
    pcn_of_lsoa = np.concatenate(pcn_parts)
    order = np.argsort(pcn_of_lsoa, kind="stable")
    return centres, town_of_pcn, xy[order], pcn_of_lsoa[order]


def _pick_in_group(
    group_start: np.ndarray, group_size: np.ndarray, which: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A random member index of group ``which[i]`` for each ``i`` (groups are contiguous)."""
    return group_start[which] + (rng.random(which.size) * group_size[which]).astype(np.int64)


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
    capacity, opening = _capacity(premises, baseline, services, rng)
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


def _capacity(
    premises: gpd.GeoDataFrame,
    baseline: pd.DataFrame,
    services: pd.DataFrame,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rooms, capacity and fixed use per (site, room type, band), and opening options.

    Practices and hospitals are calibrated to ~100% weekday use with today's
    movable sessions (fixed work fills the rest); everything else is ~40% used.
    """
    n = len(premises)
    site_ids = premises["site_id"].to_numpy()
    kinds = premises["kind"].to_numpy()
    kind_code = pd.Categorical(kinds, categories=list(KIND_ORDER)).codes
    lo_cost = np.array([COST[k][0] for k in KIND_ORDER], float)[kind_code]
    hi_cost = np.array([COST[k][1] for k in KIND_ORDER], float)[kind_code]
    cost = np.round(rng.uniform(lo_cost, hi_cost), 2)
    room_lo = np.array([[ROOMS[k][r][0] for r in ROOM_TYPES] for k in KIND_ORDER])[kind_code]
    room_hi = np.array([[ROOMS[k][r][1] for r in ROOM_TYPES] for k in KIND_ORDER])[kind_code]
    rooms = rng.integers(room_lo, room_hi + 1)

    svc_room = services.set_index("service_id")["room_type"]
    site_index = pd.Index(site_ids)
    room_index = pd.Index(ROOM_TYPES)
    bands = ("weekday", "evening", "saturday", "sunday")
    band_index = pd.Index(bands)
    used = np.zeros((n, len(ROOM_TYPES), len(bands)))
    np.add.at(
        used,
        (
            site_index.get_indexer(baseline["site_id"]),
            room_index.get_indexer(baseline["service_id"].map(svc_room)),
            band_index.get_indexer(baseline["band"]),
        ),
        baseline["hours_per_week"].to_numpy(float),
    )
    # Enough rooms that today's weekday sessions are at most 30% of them.
    need_rooms = np.ceil(used[:, :, 0] / ROOM_HOURS_PER_WEEK["weekday"] / 0.3).astype(np.int64)
    rooms = np.maximum(rooms, need_rooms)
    ea_site = used[:, :, 1:].sum(axis=(1, 2)) > 0
    out_of_hours = (
        (kinds == "acute")
        | (kinds == "pcn_hub")
        | ea_site
        | ((kinds == "community") & (rng.random(n) < COMMUNITY_OUT_OF_HOURS))
    )
    is_open = np.zeros((n, len(bands)), bool)
    is_open[:, 0] = True
    is_open[:, 1] = is_open[:, 2] = out_of_hours
    full_kind = np.isin(kinds, ["gp_practice", "acute"])

    per_band = np.array([ROOM_HOURS_PER_WEEK[b] for b in bands])
    hours = rooms[:, :, None] * per_band[None, None, :]  # (site, room, band)
    draw_full = rng.uniform(0.98, 1.04, hours.shape)
    draw_quiet = rng.uniform(0.35, 0.45, hours.shape)
    full = full_kind[:, None, None] & (np.arange(len(bands)) == 0)[None, None, :]
    fixed = np.where(
        full,
        np.clip(hours * draw_full - used, 0.3 * hours, hours),
        hours * draw_quiet,
    )
    site_i, room_i, band_i = np.nonzero(is_open[:, None, :] & (rooms[:, :, None] > 0))
    capacity = pd.DataFrame(
        {
            "site_id": site_ids[site_i],
            "room_type": np.asarray(ROOM_TYPES, dtype=object)[room_i],
            "band": np.asarray(bands, dtype=object)[band_i],
            "rooms": rooms[site_i, room_i],
            "capacity_hours": np.round(hours[site_i, room_i, band_i], 2),
            "fixed_hours": np.round(fixed[site_i, room_i, band_i], 2),
            "cost_per_hour_gbp": cost[site_i],
        }
    )
    # A site that is shut in an evening or Saturday band could open (not hospitals, not Sundays).
    shut = ~is_open & (kinds != "acute")[:, None] & (np.arange(len(bands)) != 3)[None, :]
    o_site, o_band = np.nonzero(shut)
    open_cost = np.round(rng.uniform(300, 600, o_site.size), 2)
    opening = pd.DataFrame(
        {
            "site_id": site_ids[o_site],
            "band": np.asarray(bands, dtype=object)[o_band],
            "open_cost_gbp_per_week": open_cost,
            "cost_per_hour_gbp": cost[o_site],
            **{
                f"{r}_hours_if_opened": hours[o_site, k, o_band].astype(float)
                for k, r in enumerate(ROOM_TYPES)
            },
        }
    )
    return capacity, opening


def write_dataset(tables: dict[str, pd.DataFrame], directory: str | Path) -> Path:
    """Write tables in the public input format (GeoJSON in EPSG:4326, CSV)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if isinstance(frame, gpd.GeoDataFrame):
            atomic_write_text(directory / f"{name}.geojson", _geojson_text(frame))
        else:
            atomic_write_text(directory / f"{name}.csv", csv_text(frame, float_digits=2))
    atomic_write_text(
        directory / "ATTRIBUTION.txt",
        "Synthetic data generated by estates_opt.synthetic; no real sites.\n",
    )
    return directory


def _geojson_text(frame: gpd.GeoDataFrame) -> str:
    """A GeoJSON FeatureCollection in longitude/latitude, built from arrays.

    ``GeoDataFrame.to_json`` walks rows in Python; this writes the geometries
    with :func:`shapely.to_geojson` in one call, which matters at 33,000 zones.
    """
    geo = frame.to_crs(GEOGRAPHIC_CRS)
    geometries = shapely.to_geojson(geo.geometry.array)
    props = pd.DataFrame(geo.drop(columns=geo.geometry.name))
    records = props.to_dict(orient="records")
    features = ",".join(
        f'{{"type":"Feature","properties":{json.dumps(p, separators=(",", ":"))},"geometry":{g}}}'
        for p, g in zip(_plain(records), geometries, strict=True)
    )
    return f'{{"type":"FeatureCollection","features":[{features}]}}'


def _plain(records: list[dict]) -> list[dict]:
    """numpy scalars -> Python numbers, so ``json.dumps`` accepts them."""
    return [
        {k: v.item() if isinstance(v, np.generic) else v for k, v in r.items()} for r in records
    ]


def cached_dataset(scale: str, seed: int = 0, cache: str | Path | None = None) -> Path:
    """The folder of the ``scale``/``seed`` dataset, generated on first use.

    Datasets are written to ``<cache>/<scale>-<seed>/`` (default
    ``.cache/synthetic``, gitignored) through a temporary folder renamed into
    place, so an interrupted run never leaves a half-written dataset behind; a
    ``GENERATOR`` marker rebuilds them when this module's output changes.
    """
    root = Path(cache) if cache is not None else DEFAULT_CACHE
    target = root / f"{scale}-{seed}"
    marker = target / "GENERATOR"
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == GENERATOR_VERSION:
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{scale}-{seed}-", dir=root))
    try:
        write_dataset(generate(scale, seed), staging)
        (staging / "GENERATOR").write_text(GENERATOR_VERSION + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
