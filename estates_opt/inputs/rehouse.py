"""The fixed work of closed or shut room bands, turned into demand that must be placed.

Closing a building (or shutting it in a band) must not make its fixed work vanish:
it becomes a service of its own, placed within reach of the PCN the site served.
"""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.scenario import Scenario
from estates_opt.schema import REHOUSED_CATEGORY


def _served_pcn(dataset: Dataset, sites: pd.Series) -> pd.Series:
    """The PCN each (original) site serves: its own pcn_code, else the catchment it lies in,
    else the nearest catchment."""
    premises = dataset.premises.set_index("site_id")
    own = sites.map(premises["pcn_code"]).fillna("").astype(str)
    points = gpd.GeoSeries(sites.map(premises.geometry).to_numpy(), crs=premises.crs)
    pcns = dataset.pcns.reset_index(drop=True)
    nearest = [
        str(pcns["pcn_code"].iloc[int(pcns.geometry.distance(pt).to_numpy().argmin())])
        if pt is not None and len(pcns)
        else ""
        for pt in points
    ]
    known = set(pcns["pcn_code"])
    return pd.Series(
        [o if o in known else n for o, n in zip(own, nearest, strict=True)], index=sites.index
    )


def rehouse_fixed_work(
    changed: Dataset, original: Dataset, removed: list[pd.DataFrame], scenario: Scenario
) -> Dataset:
    """Turn the fixed work of closed or shut room bands into demand that must be placed.

    One service per (site, room type, band), category ``rehoused_fixed_work``: same
    room type and band, within ``[buildings] rehouse_max_km`` of the PCN the site
    served; today it runs at the closed site (a baseline row), so placing it
    anywhere is a move. ``closed_slots`` records every closed (site, band) and why.
    """
    gone = pd.concat(removed, ignore_index=True) if removed else pd.DataFrame()
    if not len(gone):
        return changed
    closed = gone[["site_id", "band", "reason"]].drop_duplicates(["site_id", "band"])
    # the name too: a closed building is gone from premises, but moves.csv still names it
    closed = closed.assign(
        name=closed["site_id"].map(original.premises.set_index("site_id")["name"])
    )
    blocks = gone[gone["fixed_hours"] > 0].copy()
    if not len(blocks):
        return replace(changed, closed_slots=closed.reset_index(drop=True))
    kind = blocks["site_id"].map(original.premises.set_index("site_id")["kind"])
    name = blocks["site_id"].map(original.premises.set_index("site_id")["name"])
    blocks["pcn_code"] = _served_pcn(original, blocks["site_id"])
    blocks["service_id"] = (
        "rehouse_" + blocks["site_id"] + "_" + blocks["room_type"] + "_" + blocks["band"]
    )
    limit = scenario.buildings.rehouse_max_km or _default_rehouse_km(original)
    primary = ("gp_practice", "pcn_hub", "community")
    services = pd.DataFrame(
        {
            "service_id": blocks["service_id"],
            "name": "fixed "
            + blocks["room_type"]
            + " work of "
            + name.fillna(blocks["site_id"])
            + " ("
            + blocks["band"]
            + ")",
            "category": REHOUSED_CATEGORY,
            "room_type": blocks["room_type"],
            "bands": [(b,) for b in blocks["band"]],
            "site_kinds": [(*primary, "acute") if k == "acute" else primary for k in kind],
            "max_travel_km": float(limit),
        }
    )
    if "building_types" in changed.services.columns:
        services["building_types"] = [
            _fit_for_clinics(changed.services, room, k == "acute", scenario.suitability.relax)
            for room, k in zip(blocks["room_type"], kind, strict=True)
        ]
    hours = blocks["fixed_hours"].astype(float)
    demand = pd.DataFrame(
        {
            "pcn_code": blocks["pcn_code"],
            "service_id": blocks["service_id"],
            "hours_per_week": hours,
        }
    )
    baseline = demand.assign(site_id=blocks["site_id"], band=blocks["band"])
    return replace(
        changed,
        services=pd.concat([changed.services, services], ignore_index=True),
        demand=pd.concat([changed.demand, demand], ignore_index=True),
        baseline=pd.concat(
            [changed.baseline, baseline[changed.baseline.columns]], ignore_index=True
        ),
        closed_slots=closed.reset_index(drop=True),
    )


def _fit_for_clinics(
    services: pd.DataFrame, room_type: str, acute: bool, relaxed: list[str]
) -> tuple[str, ...] | None:
    """The building types a closed building's fixed work may go to: those every PCN clinic
    of its room type may use (practice work is clinical: not a team base or an office),
    and a hospital for a hospital's work; None (any) where the clinics name none (a
    clinic ``[suitability] relax`` frees names none)."""
    clinics = services[
        (services["category"] == "pcn_clinic") & (services["room_type"] == room_type)
    ]
    if not len(clinics):
        clinics = services[services["category"] == "pcn_clinic"]
    clinics = clinics[~clinics["service_id"].isin(relaxed)]
    lists = [set(t) for t in clinics["building_types"] if isinstance(t, tuple) and t]
    if not lists:
        return None
    fit = set.intersection(*lists) or set.union(*lists)
    if acute:
        fit.add("acute")
    return tuple(sorted(fit))


def _default_rehouse_km(dataset: Dataset) -> float:
    services = dataset.services
    clinics = services.loc[services["category"] == "pcn_clinic", "max_travel_km"]
    return float(clinics.max() if len(clinics) else services["max_travel_km"].max())
