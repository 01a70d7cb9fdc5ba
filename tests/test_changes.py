"""Building changes and dataset references: close, open, resize, re-time, grow; bad names."""

from __future__ import annotations

import pandas as pd
import pytest

from estates_opt.errors import ScenarioError
from estates_opt.inputs.changes import apply_scenario, check_references
from estates_opt.pipeline import solve
from estates_opt.scenario import scenario_from_dict
from estates_opt.schema import ROOM_HOURS_PER_WEEK


def make(**data) -> object:
    return scenario_from_dict({"name": "t", **data}, "test.toml")


def first_site(dataset, kind: str) -> str:
    return str(dataset.premises.loc[dataset.premises["kind"] == kind, "site_id"].iloc[0])


def test_no_changes_is_identity(tiny_dataset):
    out = apply_scenario(tiny_dataset, make())
    pd.testing.assert_frame_equal(out.capacity, tiny_dataset.capacity)
    assert len(out.premises) == len(tiny_dataset.premises)


def test_close_removes_the_site_everywhere_and_leaves_the_input_alone(tiny_dataset):
    site = first_site(tiny_dataset, "gp_practice")
    before = len(tiny_dataset.capacity)
    out = apply_scenario(tiny_dataset, make(buildings={"close": [site]}))
    assert site not in set(out.premises["site_id"])
    assert site not in set(out.capacity["site_id"])
    assert site not in set(out.opening["site_id"])
    assert len(tiny_dataset.capacity) == before
    assert site in set(tiny_dataset.premises["site_id"])


def test_closing_a_site_moves_its_sessions(tiny_dataset):
    base = tiny_dataset.baseline.groupby("site_id")["hours_per_week"].sum()
    site = str(base[base.index.str.startswith("G")].idxmax())
    plan = solve(tiny_dataset, make(buildings={"close": [site]}))
    assert plan.allocations.loc[plan.allocations["site_id"] == site, "hours_per_week"].sum() == 0
    moves = plan.moves[plan.moves["from_site_id"] == site]
    assert len(moves) and moves["why"].str.startswith("building closes").all()
    # named as the building it was, not its code, and with no made-up 0 km journey to it
    name = tiny_dataset.premises.set_index("site_id").at[site, "name"]
    assert set(moves["from_site"]) == {name}
    only_there = moves["n_from_sites"] == 1
    assert only_there.any() and moves.loc[only_there, "from_travel_km"].isna().all()
    # Everything the site held, fixed work as well as sessions, is rehoused or listed unmet.
    cap = tiny_dataset.capacity
    fixed = cap.loc[cap["site_id"] == site, "fixed_hours"].sum()
    assert fixed > 0
    unmet = plan.unmet
    rehouse_unmet = unmet.loc[unmet["service_id"].str.startswith(f"rehouse_{site}_"), "unmet_hours"]
    # in whole sessions, each clinic leaving rounds up by less than one session (4 h)
    rehoused = moves["hours_per_week"].sum() + rehouse_unmet.sum()
    clinics = moves[["service_id", "pcn_code"]].drop_duplicates().shape[0]
    assert base[site] + fixed - 0.05 <= rehoused <= base[site] + fixed + 4.0 * clinics
    assert plan.kpis["verified"]
    # pcn_summary says how much of a PCN's demand and moves is the closed building's work
    summary = plan.pcn_summary.set_index("pcn_code")
    rehoused_demand = unmet[unmet["service_id"].str.startswith(f"rehouse_{site}_")]
    assert summary["rehoused_demand_hours"].sum() == pytest.approx(
        rehoused_demand["demand_hours"].sum()
    )
    closing_moves = plan.moves[plan.moves["service_id"].str.startswith("rehouse_")]
    assert summary["rehoused_hours_moved"].sum() == pytest.approx(
        closing_moves["hours_per_week"].sum()
    )
    assert (summary["rehoused_hours_moved"] <= summary["hours_moved"] + 1e-9).all()
    assert (summary["rehoused_demand_hours"] <= summary["demand_hours"] + 1e-9).all()


def test_new_site_gets_rooms_per_band_and_the_pcn_borough(tiny_dataset):
    pcn = str(tiny_dataset.pcns["pcn_code"].iloc[0])
    borough = str(tiny_dataset.pcns["borough"].iloc[0])
    new = {
        "site_id": "NEW1",
        "name": "New hub",
        "kind": "pcn_hub",
        "pcn_code": pcn,
        "lon": -2.0,
        "lat": 52.5,
        "rooms": {"consulting": 3, "treatment": 1, "group": 0},
        "bands": ["weekday", "evening"],
        "cost_per_hour_gbp": 11.0,
        "fixed_fraction": 0.25,
    }
    out = apply_scenario(tiny_dataset, make(buildings={"new": [new]}))
    row = out.premises.set_index("site_id").loc["NEW1"]
    assert row["kind"] == "pcn_hub"
    assert row["borough"] == borough
    assert out.premises.crs.to_epsg() == 27700
    assert row["lon"] == pytest.approx(-2.0) and row["lat"] == pytest.approx(52.5)
    cap = out.capacity[out.capacity["site_id"] == "NEW1"].set_index(["room_type", "band"])
    assert len(cap) == 4  # 2 room types with rooms x 2 bands
    assert (
        cap.loc[("consulting", "weekday"), "capacity_hours"] == 3 * ROOM_HOURS_PER_WEEK["weekday"]
    )
    assert cap.loc[("treatment", "evening"), "capacity_hours"] == ROOM_HOURS_PER_WEEK["evening"]
    assert cap.loc[("consulting", "weekday"), "fixed_hours"] == pytest.approx(0.25 * 120)
    assert set(cap["cost_per_hour_gbp"]) == {11.0}


def test_new_hub_is_used_by_the_plan(tiny_dataset):
    pcn = str(tiny_dataset.pcns["pcn_code"].iloc[0])
    lonlat = tiny_dataset.premises.to_crs(4326).set_index("site_id").geometry
    site = tiny_dataset.premises.loc[tiny_dataset.premises["pcn_code"] == pcn, "site_id"].iloc[0]
    new = {
        "site_id": "NEW1",
        "name": "New hub",
        "kind": "pcn_hub",
        "pcn_code": pcn,
        "lon": float(lonlat[site].x),
        "lat": float(lonlat[site].y),
        "cost_per_hour_gbp": 1.0,
        "rooms": {"consulting": 4, "treatment": 2},
    }
    plan = solve(tiny_dataset, make(buildings={"new": [new]}))
    assert plan.allocations.loc[plan.allocations["site_id"] == "NEW1", "hours_per_week"].sum() > 0
    assert plan.kpis["verified"]


def test_capacity_change_scales_only_matching_rows(tiny_dataset):
    site = first_site(tiny_dataset, "community")
    change = {"site_id": site, "room_type": "consulting", "band": "weekday", "factor": 0.1}
    out = apply_scenario(tiny_dataset, make(buildings={"capacity": [change]}))
    key = ["site_id", "room_type", "band"]
    old = tiny_dataset.capacity.set_index(key)
    new = out.capacity.set_index(key)
    slot = (site, "consulting", "weekday")
    assert new.at[slot, "capacity_hours"] == pytest.approx(0.1 * old.at[slot, "capacity_hours"])
    assert new.at[slot, "fixed_hours"] <= new.at[slot, "capacity_hours"] + 1e-9
    others = [k for k in old.index if k != slot]
    pd.testing.assert_series_equal(
        new.loc[others, "capacity_hours"], old.loc[others, "capacity_hours"]
    )


def test_opening_change_opens_from_opening_csv_and_shuts(tiny_dataset):
    option = tiny_dataset.opening.iloc[0]
    site, band = str(option["site_id"]), str(option["band"])
    out = apply_scenario(
        tiny_dataset, make(buildings={"opening": [{"site_id": site, "band": band}]})
    )
    added = out.capacity[(out.capacity["site_id"] == site) & (out.capacity["band"] == band)]
    expected = {
        room: option[f"{room}_hours_if_opened"]
        for room in ("consulting", "treatment", "group", "diagnostics")
        if option[f"{room}_hours_if_opened"] > 0
    }
    assert dict(zip(added["room_type"], added["capacity_hours"], strict=True)) == expected
    assert not ((out.opening["site_id"] == site) & (out.opening["band"] == band)).any()

    open_row = tiny_dataset.capacity[tiny_dataset.capacity["band"] == "evening"].iloc[0]
    shut = {"site_id": str(open_row["site_id"]), "band": "evening", "open": False}
    out = apply_scenario(tiny_dataset, make(buildings={"opening": [shut]}))
    gone = (out.capacity["site_id"] == shut["site_id"]) & (out.capacity["band"] == "evening")
    assert not gone.any()


def test_opening_change_without_an_option_is_an_error(tiny_dataset):
    acute = first_site(tiny_dataset, "acute")
    change = {"site_id": acute, "band": "sunday", "open": True}
    if (
        (tiny_dataset.capacity["site_id"] == acute) & (tiny_dataset.capacity["band"] == "sunday")
    ).any():
        pytest.skip("acute site already open on Sundays in this fixture")
    with pytest.raises(ScenarioError, match=r"buildings\.opening\[0\].*no opening option"):
        apply_scenario(tiny_dataset, make(buildings={"opening": [change]}))


def test_population_growth_scales_lsoas(tiny_dataset):
    out = apply_scenario(tiny_dataset, make(growth={"population": 1.18}))
    assert out.lsoas["population"].sum() == pytest.approx(
        1.18 * tiny_dataset.lsoas["population"].sum()
    )


def test_opening_option_filters(tiny_dataset):
    out = apply_scenario(tiny_dataset, make(options={"opening_bands": ["evening"]}))
    assert set(out.opening["band"]) <= {"evening"}
    out = apply_scenario(tiny_dataset, make(options={"opening_kinds": ["community"]}))
    kinds = tiny_dataset.premises.set_index("site_id")["kind"]
    assert set(out.opening["site_id"].map(kinds)) <= {"community"}


def test_every_unknown_reference_is_reported_with_its_key(tiny_dataset):
    pcn = str(tiny_dataset.pcns["pcn_code"].iloc[0])
    scenario = make(
        growth={"by_service": {"pcn_diabetis": 1.1}, "by_borough": {"Atlantis": 1.2}},
        travel={"max_km_by_service": {"nope": 3.0}},
        buildings={
            "close": ["NOWHERE"],
            "capacity": [{"site_id": "GHOST", "factor": 2.0}],
            "opening": [{"site_id": "GHOST", "band": "evening"}],
        },
        pinned=[
            {
                "pcn_code": "P99",
                "service_id": "pcn_diabetes",
                "site_id": "GHOST",
                "band": "weekday",
                "hours_per_week": 1,
            },
            {
                "pcn_code": pcn,
                "service_id": "zzz",
                "site_id": "NOWHERE",
                "band": "weekday",
                "hours_per_week": 1,
            },
        ],
    )
    problems = check_references(tiny_dataset, scenario)
    text = "\n".join(problems)
    for key in (
        "growth.by_service",
        "growth.by_borough",
        "travel.max_km_by_service",
        "buildings.close",
        "buildings.capacity[0].site_id",
        "buildings.opening[0].site_id",
        "pinned[0].pcn_code",
        "pinned[0].site_id",
        "pinned[1].service_id",
    ):
        assert key in text, key
    assert "did you mean 'pcn_diabetes'" in text
    with pytest.raises(ScenarioError, match="scenario 't'"):
        apply_scenario(tiny_dataset, scenario)
    with pytest.raises(ScenarioError, match=r"where\.toml"):
        apply_scenario(tiny_dataset, scenario.model_copy(update={"source_file": "where.toml"}))


def test_changes_to_a_closed_site_are_errors(tiny_dataset):
    site = first_site(tiny_dataset, "community")
    scenario = make(buildings={"close": [site], "capacity": [{"site_id": site, "factor": 2}]})
    with pytest.raises(ScenarioError, match="is closed"):
        apply_scenario(tiny_dataset, scenario)


def test_new_site_with_existing_id_or_unknown_pcn(tiny_dataset):
    site = first_site(tiny_dataset, "community")
    new = {
        "site_id": site,
        "name": "x",
        "kind": "community",
        "lon": 0,
        "lat": 51,
        "rooms": {"group": 1},
    }
    with pytest.raises(ScenarioError, match="already exists"):
        apply_scenario(tiny_dataset, make(buildings={"new": [new]}))
    new = {**new, "site_id": "N2", "kind": "pcn_hub", "pcn_code": "P-NONE"}
    with pytest.raises(ScenarioError, match=r"buildings\.new\[0\]\.pcn_code"):
        apply_scenario(tiny_dataset, make(buildings={"new": [new]}))


def test_missing_travel_matrix_is_a_scenario_error(tiny_dataset):
    scenario = make(travel={"matrix": "/no/such/matrix.csv"})
    with pytest.raises(ScenarioError, match=r"travel\.matrix"):
        apply_scenario(tiny_dataset, scenario)


def test_type_and_reference_problems_come_in_one_error(tiny_dir, tmp_path):
    """Bad values and unknown names together; an entry with a bad value is not also checked
    against the dataset (its other fields are not trusted), every other entry is, and
    rows the dataset lacks for a known site come in the same error."""
    from estates_opt.inputs.changes import load_scenario_checked

    path = tmp_path / "mixed.toml"
    path.write_text(
        f'dataset = "{tiny_dir}"\n'
        '[growth]\nby_service = {pcn_diabetis = 1.1, pcn_group = "lots"}\n'
        '[buildings]\nclose = ["NOWHERE", 7]\n'
        '[[buildings.capacity]]\nsite_id = "G0000000"\nroom_type = "diagnostics"\n'
        'band = "sunday"\nfactor = 2.0\n'
        '[[pinned]]\npcn_code = "P99"\nservice_id = "pcn_diabetes"\nsite_id = "GHOST"\n'
        'band = "night"\nhours_per_week = 1\n'
        '[[pinned]]\npcn_code = "P00000"\nservice_id = "zzz"\nsite_id = "H00000"\n'
        'band = "weekday"\nhours_per_week = 1\n',
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario_checked(path)
    problems = caught.value.problems
    expected = {
        "growth.by_service.pcn_group": "number",
        "buildings.close[1]": "string",
        "pinned[0].band": "weekday",
        "growth.by_service: service 'pcn_diabetis'": "did you mean 'pcn_diabetes'",
        "buildings.close: site 'NOWHERE'": "not in the dataset",
        "buildings.capacity[0]": "no capacity rows",
        "pinned[1].service_id": "not in the dataset",
    }
    assert len(problems) == len(expected), problems
    for key, what in expected.items():
        (line,) = [p for p in problems if key in p]
        assert line.startswith(f"{path}: ") and what in line, line
    assert not any("GHOST" in p or "P99" in p for p in problems)  # pinned[0] not trusted
    assert "Traceback" not in str(caught.value)


def test_a_bad_dataset_key_skips_the_reference_checks(tmp_path):
    from estates_opt.inputs.changes import load_scenario_checked

    path = tmp_path / "where.toml"
    path.write_text('dataset = 3\n[buildings]\nclose = ["NOWHERE"]\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario_checked(path)
    assert len(caught.value.problems) == 1 and "dataset" in caught.value.problems[0]


def test_reference_and_room_problems_of_a_valid_scenario_in_one_error(tiny_dataset):
    scenario = make(
        buildings={
            "close": ["NOWHERE"],
            "capacity": [{"site_id": "G0000000", "room_type": "diagnostics", "band": "sunday"}],
            "opening": [{"site_id": "GHOST", "band": "evening"}],
        }
    )
    with pytest.raises(ScenarioError) as caught:
        apply_scenario(tiny_dataset, scenario)
    text = " | ".join(caught.value.problems)
    assert len(caught.value.problems) == 3, text
    assert "NOWHERE" in text and "buildings.capacity[0]" in text and "GHOST" in text


def test_a_closed_buildings_moves_relieve_their_hours_in_the_phased_plan(tiny_dataset):
    # A closed room holds every hour over its cap (it has none). Its moves relieved nothing
    # and all came last; now each is ranked by what it relieves like any other.
    base = tiny_dataset.baseline.groupby("site_id")["hours_per_week"].sum()
    site = str(base[base.index.str.startswith("G")].idxmax())
    plan = solve(tiny_dataset, make(buildings={"close": [site]}, relocation={"phases": [1]}))
    last = plan.phases.iloc[-1]
    moved_out = plan.moves.loc[plan.moves["from_site_id"] == site, "hours_per_week"].sum()
    assert moved_out > 0
    assert last["over_cap_hours_relieved"] >= moved_out - 1e-6
    first = plan.phases.iloc[0]
    assert first["relocations"] == 1 and first["over_cap_hours_relieved"] > 0


def test_a_closed_buildings_fixed_work_goes_only_to_buildings_fit_for_clinics(nel_dataset):
    """Practice work is clinical: rehoused, it may go where every PCN clinic of its room
    type may (on NEL not a team base or a mental-health base, as it could before)."""
    changed = apply_scenario(nel_dataset, scenario_from_dict({"buildings": {"close": ["RATDY"]}}))
    services = changed.services.set_index("service_id")
    rehoused = services[services["category"] == "rehoused_fixed_work"]
    assert len(rehoused)
    clinics = services[services["category"] == "pcn_clinic"]
    for room, types in zip(rehoused["room_type"], rehoused["building_types"], strict=True):
        same = [
            set(t)
            for t, r in zip(clinics["building_types"], clinics["room_type"], strict=True)
            if r == room
        ]
        fit = same or [set(t) for t in clinics["building_types"]]  # no clinic of that room
        assert set(types) == set.intersection(*fit)
        assert not {"team_base", "mental_health_base"} & set(types)
