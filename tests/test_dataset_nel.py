"""The shipped North East London dataset: counts, ids and the calibration the plan relies on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from estates_opt.inputs.dataset import summarise, utilisation_by_kind

NEL = Path(__file__).resolve().parent.parent / "geodata" / "nel"


def feature_count(name: str) -> int:
    return len(json.loads((NEL / name).read_text(encoding="utf-8"))["features"])


def test_counts_match_the_files(nel_dataset):
    assert len(nel_dataset.lsoas) == feature_count("lsoas.geojson") == 1023
    assert len(nel_dataset.pcns) == feature_count("pcns.geojson")
    assert len(nel_dataset.premises) == feature_count("premises.geojson")


def test_pcns_cover_every_lsoa_and_population(nel_dataset):
    pcns = set(nel_dataset.pcns["pcn_code"])
    assert 30 <= len(pcns) <= 60  # NEL has about 47 PCNs
    assert set(nel_dataset.lsoas["pcn_code"]) == pcns  # every PCN has LSOAs, every LSOA a PCN
    population = nel_dataset.lsoas["population"].sum()
    assert 1.5e6 < population < 2.5e6  # NEL is about two million people
    registered = nel_dataset.pcns["registered_patients"].sum()
    assert 0.7 < registered / population < 1.5


def test_sites_by_kind_are_plausible(nel_dataset):
    kinds = nel_dataset.premises["kind"].value_counts()
    pcns = len(nel_dataset.pcns)
    assert 150 <= kinds["gp_practice"] <= 350
    # Hubs are drawn from practices: at most one per PCN, and every hub names a real PCN.
    hubs = nel_dataset.premises[nel_dataset.premises["kind"] == "pcn_hub"]
    assert 0 < len(hubs) <= pcns
    assert hubs["pcn_code"].is_unique
    assert set(hubs["pcn_code"]) <= set(nel_dataset.pcns["pcn_code"])
    practices = nel_dataset.premises[nel_dataset.premises["kind"] == "gp_practice"]
    assert practices["pcn_code"].isin(nel_dataset.pcns["pcn_code"]).all()
    # Every PCN keeps at least one practice of its own.
    assert set(practices["pcn_code"]) == set(nel_dataset.pcns["pcn_code"])
    assert kinds["community"] > 100
    assert kinds.get("acute", 0) >= 1


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("premises", ["site_id"]),
        ("pcns", ["pcn_code"]),
        ("lsoas", ["lsoa_code"]),
        ("services", ["service_id"]),
        ("capacity", ["site_id", "room_type", "band"]),
        ("demand", ["pcn_code", "service_id"]),
        ("baseline", ["pcn_code", "service_id", "site_id", "band"]),
        ("opening", ["site_id", "band"]),
    ],
)
def test_ids_are_unique(nel_dataset, table, key):
    frame = getattr(nel_dataset, table)
    assert len(frame) > 0
    assert not frame.duplicated(key).any()


def test_references_resolve(nel_dataset):
    sites = set(nel_dataset.premises["site_id"])
    assert set(nel_dataset.capacity["site_id"]) <= sites
    assert set(nel_dataset.baseline["site_id"]) <= sites
    assert set(nel_dataset.demand["service_id"]) <= set(nel_dataset.services["service_id"])
    assert set(nel_dataset.demand["pcn_code"]) <= set(nel_dataset.pcns["pcn_code"])


def test_geometry_is_in_london_in_british_national_grid(nel_dataset):
    assert nel_dataset.premises.crs.to_epsg() == 27700
    x, y = nel_dataset.premises.geometry.x, nel_dataset.premises.geometry.y
    # NEL lies roughly between Easting 520-565 km and Northing 170-200 km.
    assert x.between(515_000, 570_000).all()
    assert y.between(165_000, 205_000).all()
    assert nel_dataset.lsoas.geometry.is_valid.all()
    assert np.isfinite(nel_dataset.premises[["lon", "lat"]].to_numpy()).all()


def _weekday(table, kind: str) -> float:
    row = table[(table["kind"] == kind) & (table["band"] == "weekday")]
    assert len(row) == 1
    return float(row["utilisation"].iloc[0])


def test_calibration_practices_full_and_community_underused(nel_dataset):
    table = utilisation_by_kind(nel_dataset)
    # Recompute one figure by hand, so the helper is checked and not just trusted.
    cap = nel_dataset.capacity.merge(nel_dataset.premises[["site_id", "kind"]], on="site_id")
    practices = cap[(cap["kind"] == "gp_practice") & (cap["band"] == "weekday")]
    rooms = nel_dataset.services.set_index("service_id")["room_type"]
    base = nel_dataset.baseline.assign(room_type=nel_dataset.baseline["service_id"].map(rooms))
    kinds = nel_dataset.premises.set_index("site_id")["kind"]
    base = base[(base["site_id"].map(kinds) == "gp_practice") & (base["band"] == "weekday")]
    by_hand = (practices["fixed_hours"].sum() + base["hours_per_week"].sum()) / practices[
        "capacity_hours"
    ].sum()
    assert _weekday(table, "gp_practice") == pytest.approx(by_hand, rel=1e-9)

    assert _weekday(table, "gp_practice") >= 0.95
    assert 0.35 <= _weekday(table, "community") <= 0.45


def test_demand_exists_for_every_pcn_and_service_category(nel_dataset):
    summary = summarise(nel_dataset)
    assert set(summary["demand_by_category"]) == {
        "pcn_clinic",
        "outpatient_outreach",
        "enhanced_access",
    }
    assert all(hours > 0 for hours in summary["demand_by_category"].values())
    per_pcn = nel_dataset.demand.groupby("pcn_code")["hours_per_week"].sum()
    assert set(per_pcn.index) == set(nel_dataset.pcns["pcn_code"])
    assert (per_pcn > 0).all()


def test_attribution_is_shipped(nel_dataset):
    assert "Open Government Licence" in nel_dataset.attribution


COST_BASIS_BY_KIND = {
    "community": "sunk_space_running_cost",
    "pcn_hub": "shared_hub_running_cost",
    "gp_practice": "practice_displaced_own_work",
    "acute": "acute_opportunity_cost",
}


def test_every_room_cost_says_what_it_stands_for(nel_dataset):
    """capacity.csv and opening.csv name the cost model behind each room-hour's cost
    (geodata/README.md 3.9): community space is sunk, acute rooms an opportunity cost."""
    kinds = nel_dataset.premises.set_index("site_id")["kind"]
    for table in (nel_dataset.capacity, nel_dataset.opening):
        expected = table["site_id"].map(kinds).map(COST_BASIS_BY_KIND)
        assert (table["cost_basis"] == expected).all()
    cost = nel_dataset.capacity[nel_dataset.capacity["band"] == "weekday"]
    by_basis = cost.groupby("cost_basis")["cost_per_hour_gbp"]
    # the order the cost model argues for: sunk < hub < practice < acute
    order = [COST_BASIS_BY_KIND[k] for k in ("community", "pcn_hub", "gp_practice", "acute")]
    highs, lows = by_basis.max()[order].tolist(), by_basis.min()[order].tolist()
    assert all(high < low for high, low in zip(highs[:-1], lows[1:], strict=True))


def test_acute_rooms_are_checked_against_eric_floor_areas(nel_dataset):
    """The curation log of the ERIC check (geodata/curation/nel_acute_eric_check.csv):
    every acute site's bookable rooms fit in its reported clinical space, its room count
    matches capacity.csv, and energy is a tiny part of what a room-hour is charged."""
    import pandas as pd

    log = pd.read_csv(NEL.parent / "curation" / "nel_acute_eric_check.csv")
    kinds = nel_dataset.premises.set_index("site_id")["kind"]
    assert set(log["site_id"]) == set(kinds[kinds == "acute"].index)
    week = nel_dataset.capacity[nel_dataset.capacity["band"] == "weekday"]
    rooms = week.groupby("site_id")["rooms"].sum()
    assert (log.set_index("site_id")["rooms"] == rooms.reindex(log["site_id"])).all()
    assert log["eric_clinical_space_m2"].notna().all()
    share = log["rooms_m2"] / log["eric_clinical_space_m2"]
    assert share.to_numpy() == pytest.approx(log["rooms_share_of_clinical"].to_numpy(), abs=1e-3)
    assert log["rooms_fit"].all() and (share < 0.1).all()
    assert (log["energy_share_of_room_cost"] < 0.01).all()
