"""Seeded synthetic datasets in the public input format, at any scale.

Used for unit tests (``tiny``), property tests (random small instances) and
the benchmark (``ics``, ``region``, ``england``). Geography is plausible:
towns are Gaussian clusters in British National Grid space, LSOAs are small
squares around them, practices sit among their population, PCNs group
neighbouring practices and each has a hub. Calibration follows the NEL
default: practices and acute rooms full, community rooms about 40% used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point, box

from .io import atomic_write_text, csv_text
from .schema import GEOGRAPHIC_CRS, PROJECTED_CRS, ROOM_HOURS_PER_WEEK


@dataclass(frozen=True)
class Scale:
    pcns: int
    practices_per_pcn: int
    community_sites: int
    lsoas_per_pcn: int
    acute_sites: int
    towns: int


SCALES: dict[str, Scale] = {
    "tiny": Scale(
        pcns=2, practices_per_pcn=2, community_sites=2, lsoas_per_pcn=3, acute_sites=1, towns=1
    ),
    "small": Scale(
        pcns=6, practices_per_pcn=4, community_sites=8, lsoas_per_pcn=10, acute_sites=1, towns=2
    ),
    "ics": Scale(
        pcns=50, practices_per_pcn=6, community_sites=150, lsoas_per_pcn=26, acute_sites=6, towns=5
    ),
    "region": Scale(
        pcns=250,
        practices_per_pcn=5,
        community_sites=750,
        lsoas_per_pcn=26,
        acute_sites=25,
        towns=20,
    ),
    "england": Scale(
        pcns=1250,
        practices_per_pcn=5,
        community_sites=3000,
        lsoas_per_pcn=26,
        acute_sites=140,
        towns=90,
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
COST = {"gp_practice": (35, 45), "pcn_hub": (20, 25), "community": (12, 18), "acute": (60, 80)}


def generate(scale: str | Scale, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Build every input table of a synthetic dataset (geometries in EPSG:27700)."""
    s = SCALES[scale] if isinstance(scale, str) else scale
    rng = np.random.default_rng(seed)
    # Towns spread over an England-sized box; PCNs are drawn around towns.
    spread = 20_000 + 250 * s.pcns
    towns = np.column_stack(
        [
            rng.uniform(400_000 - spread, 400_000 + spread, s.towns),
            rng.uniform(300_000 - spread, 300_000 + spread, s.towns),
        ]
    )
    town_of_pcn = rng.integers(0, s.towns, s.pcns)
    pcn_centre = towns[town_of_pcn] + rng.normal(0, 2_500 + 120 * np.sqrt(s.pcns), (s.pcns, 2))
    pcn_codes = [f"P{i:05d}" for i in range(s.pcns)]

    lsoa_rows, pcn_rows = [], []
    cell = 450.0
    for p, code in enumerate(pcn_codes):
        offsets = rng.normal(0, 900, (s.lsoas_per_pcn, 2))
        squares = []
        for j, (dx, dy) in enumerate(offsets):
            x, y = pcn_centre[p] + (dx, dy)
            geom = box(x - cell / 2, y - cell / 2, x + cell / 2, y + cell / 2)
            squares.append(geom)
            lsoa_rows.append(
                {
                    "lsoa_code": f"L{p:05d}{j:03d}",
                    "population": float(rng.integers(1200, 2400)),
                    "imd_decile": int(rng.integers(1, 11)),
                    "pcn_code": code,
                    "geometry": geom,
                }
            )
        pcn_rows.append(
            {
                "pcn_code": code,
                "pcn_name": f"Synthetic PCN {p}",
                "borough": f"Area {town_of_pcn[p]}",
                "geometry": gpd.GeoSeries(squares).union_all().convex_hull,
            }
        )
    lsoas = gpd.GeoDataFrame(lsoa_rows, crs=PROJECTED_CRS)
    pops = lsoas.groupby("pcn_code")["population"].sum()

    sites = []
    for p, code in enumerate(pcn_codes):
        for j in range(s.practices_per_pcn):
            x, y = pcn_centre[p] + rng.normal(0, 700, 2)
            sites.append((f"G{p:05d}{j:02d}", f"Practice {p}-{j}", "gp_practice", code, x, y))
        x, y = pcn_centre[p] + rng.normal(0, 400, 2)
        sites.append((f"H{p:05d}", f"Hub {p}", "pcn_hub", code, x, y))
    for c in range(s.community_sites):
        p = int(rng.integers(0, s.pcns))
        x, y = pcn_centre[p] + rng.normal(0, 1_500, 2)
        sites.append((f"C{c:05d}", f"Community site {c}", "community", "", x, y))
    for a in range(s.acute_sites):
        x, y = towns[a % s.towns] + rng.normal(0, 1_000, 2)
        sites.append((f"A{a:04d}", f"Hospital {a}", "acute", "", x, y))
    premises = gpd.GeoDataFrame(
        [
            {
                "site_id": i,
                "name": n,
                "kind": k,
                "pcn_code": pc,
                "borough": "",
                "geometry": Point(x, y),
            }
            for i, n, k, pc, x, y in sites
        ],
        crs=PROJECTED_CRS,
    )

    services = pd.DataFrame(
        SERVICES,
        columns=[
            "service_id",
            "name",
            "category",
            "room_type",
            "bands",
            "site_kinds",
            "max_travel_km",
            "rate",
        ],
    )
    registered = pops * 1.05
    pcns = gpd.GeoDataFrame(pcn_rows, crs=PROJECTED_CRS)
    pcns["registered_patients"] = pcns["pcn_code"].map(registered).round(0)
    demand = pd.DataFrame(
        [
            (p, sid, round(rate * registered[p] / 1000, 2))
            for p in pcn_codes
            for sid, rate in zip(services["service_id"], services["rate"], strict=True)
        ],
        columns=["pcn_code", "service_id", "hours_per_week"],
    )

    # Today: PCN clinics and EA in member practices, outreach in the nearest hospital.
    practices = premises[premises["kind"] == "gp_practice"]
    acute = premises[premises["kind"] == "acute"]
    base = []
    for p, code in enumerate(pcn_codes):
        members = practices[practices["pcn_code"] == code]["site_id"].tolist()
        nearest = acute.iloc[int(np.argmin(acute.distance(Point(*pcn_centre[p]))))]["site_id"]
        for row in demand[demand["pcn_code"] == code].itertuples(index=False):
            cat = services.set_index("service_id").at[row.service_id, "category"]
            if cat == "outpatient_outreach":
                base.append((code, row.service_id, nearest, "weekday", row.hours_per_week))
            elif cat == "enhanced_access":
                half = round(row.hours_per_week / 2, 2)
                base.append((code, row.service_id, members[0], "evening", half))
                base.append(
                    (
                        code,
                        row.service_id,
                        members[0],
                        "saturday",
                        round(row.hours_per_week - half, 2),
                    )
                )
            else:
                share = round(row.hours_per_week / len(members), 2)
                for k, m in enumerate(members):
                    last = k == len(members) - 1
                    base.append(
                        (
                            code,
                            row.service_id,
                            m,
                            "weekday",
                            round(row.hours_per_week - share * (len(members) - 1), 2)
                            if last
                            else share,
                        )
                    )
    baseline = pd.DataFrame(
        base, columns=["pcn_code", "service_id", "site_id", "band", "hours_per_week"]
    )
    baseline = baseline.groupby(["pcn_code", "service_id", "site_id", "band"], as_index=False)[
        "hours_per_week"
    ].sum()

    # Capacity calibrated: practices/acute ~100% with baseline, community ~40%.
    svc_room = services.set_index("service_id")["room_type"]
    used = (
        baseline.assign(room_type=baseline["service_id"].map(svc_room))
        .groupby(["site_id", "room_type", "band"])["hours_per_week"]
        .sum()
    )
    cap_rows, open_rows = [], []
    ea_sites = set(baseline.loc[baseline["band"] != "weekday", "site_id"])
    for site_id, kind in zip(premises["site_id"], premises["kind"], strict=True):
        lo, hi = COST[kind]
        cost = round(float(rng.uniform(lo, hi)), 2)
        rooms = {r: int(rng.integers(a, b + 1)) for r, (a, b) in ROOMS[kind].items()}
        for r in ("consulting", "treatment", "group", "diagnostics"):
            need = used.get((site_id, r, "weekday"), 0.0)
            if need > 0:
                rooms[r] = max(rooms[r], int(np.ceil(need / ROOM_HOURS_PER_WEEK["weekday"] / 0.3)))
        open_bands = ["weekday"]
        if (
            kind == "acute"
            or site_id in ea_sites
            or kind == "pcn_hub"
            or (kind == "community" and rng.random() < 0.3)
        ):
            open_bands += ["evening", "saturday"]
        for band in ("weekday", "evening", "saturday", "sunday"):
            hours = {r: n * ROOM_HOURS_PER_WEEK[band] for r, n in rooms.items() if n > 0}
            if band in open_bands:
                for r, capacity in hours.items():
                    need = used.get((site_id, r, band), 0.0)
                    if kind in ("gp_practice", "acute") and band == "weekday":
                        fixed = float(
                            np.clip(
                                capacity * rng.uniform(0.98, 1.04) - need, 0.3 * capacity, capacity
                            )
                        )
                    else:
                        fixed = capacity * rng.uniform(0.35, 0.45)
                    cap_rows.append(
                        (
                            site_id,
                            r,
                            band,
                            n_rooms := rooms[r],
                            round(capacity, 2),
                            round(fixed, 2),
                            cost,
                        )
                    )
                    del n_rooms
            elif kind != "acute" and band != "sunday":
                open_rows.append(
                    {
                        "site_id": site_id,
                        "band": band,
                        "open_cost_gbp_per_week": round(float(rng.uniform(300, 600)), 2),
                        "cost_per_hour_gbp": cost,
                        **{
                            f"{r}_hours_if_opened": float(hours.get(r, 0.0))
                            for r in ("consulting", "treatment", "group", "diagnostics")
                        },
                    }
                )
    capacity = pd.DataFrame(
        cap_rows,
        columns=[
            "site_id",
            "room_type",
            "band",
            "rooms",
            "capacity_hours",
            "fixed_hours",
            "cost_per_hour_gbp",
        ],
    )
    opening = pd.DataFrame(
        open_rows,
        columns=[
            "site_id",
            "band",
            "open_cost_gbp_per_week",
            "cost_per_hour_gbp",
            "consulting_hours_if_opened",
            "treatment_hours_if_opened",
            "group_hours_if_opened",
            "diagnostics_hours_if_opened",
        ],
    )
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


def write_dataset(tables: dict[str, pd.DataFrame], directory: str | Path) -> Path:
    """Write tables in the public input format (GeoJSON in EPSG:4326, CSV)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if isinstance(frame, gpd.GeoDataFrame):
            geo = frame.to_crs(GEOGRAPHIC_CRS)
            doc = json.loads(geo.to_json(drop_id=True, to_wgs84=False))
            doc.pop("crs", None)
            atomic_write_text(directory / f"{name}.geojson", json.dumps(doc, separators=(",", ":")))
        else:
            atomic_write_text(directory / f"{name}.csv", csv_text(frame, float_digits=2))
    atomic_write_text(
        directory / "ATTRIBUTION.txt",
        "Synthetic data generated by estates_opt.synthetic; no real sites.\n",
    )
    return directory
