"""Buildings fit for the service: services.csv building_types, premises building_type.

On the hand-made instance (tests/fixtures/handmade.py) S3 is made a children's centre
and the PCN clinic ``clin`` may only use practices, health centres and clinics, so the
clinic PB runs at S3 today must move; enhanced access (no list) may still use S3.
"""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures import handmade

from estates_opt import dataset_from_tables
from estates_opt.errors import InputDataError, ScenarioError
from estates_opt.inputs.changes import apply_scenario
from estates_opt.inputs.suitability import hours_in_unsuitable_buildings, suitable
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model, candidate_allocations, room_slots
from estates_opt.model.solve import solve_model
from estates_opt.results.explain import allocation_table
from estates_opt.results.suitability_check import check_suitability

TYPES = {"S1": "practice", "S2": "health_centre", "S3": "childrens_centre"}


def _tables(types=TYPES, clin_types="practice;health_centre;clinic"):
    tables = handmade.tables()
    if types is not None:
        tables["premises"]["building_type"] = tables["premises"]["site_id"].map(types)
    tables["services"]["building_types"] = [clin_types, ""]
    return tables


def _dataset(**kwargs):
    return dataset_from_tables(_tables(**kwargs), source="handmade with building types")


def _solve(dataset, scenario):
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    result = solve_model(lp, scenario.solver)
    return allocation_table(dataset, scenario, lp, result)


def test_unsuitable_pairs_are_not_candidates():
    dataset, scenario = _dataset(), handmade.scenario()
    travel = measure_travel(dataset, scenario)
    cand = candidate_allocations(dataset, scenario, travel, room_slots(dataset, scenario))
    pairs = set(zip(cand["service_id"], cand["site_id"], strict=True))
    assert ("clin", "S3") not in pairs
    assert ("clin", "S1") in pairs
    assert suitable(dataset, scenario, pd.DataFrame({"service_id": ["ea"], "site_id": ["S3"]}))[0]


def test_the_plan_moves_work_out_of_unfit_buildings_and_the_verifier_agrees():
    dataset, scenario = _dataset(), handmade.scenario()
    # Today PB's clinic runs in the children's centre S3.
    today = hours_in_unsuitable_buildings(
        dataset, scenario, dataset.baseline.rename(columns={"hours_per_week": "hours_per_week"})
    )
    assert today[["service_id", "site_id"]].values.tolist() == [["clin", "S3"]]
    assert today["hours_per_week"].sum() == pytest.approx(20.0)
    plan = _solve(dataset, scenario)
    at_s3 = plan[(plan["service_id"] == "clin") & (plan["site_id"] == "S3")]
    assert at_s3["hours_per_week"].sum() == pytest.approx(0.0, abs=1e-9)
    assert check_suitability(dataset, scenario, plan) == []
    # A plan that breaks the rule is caught, with the site and its type named.
    broken = plan.copy()
    broken.loc[len(broken)] = {
        **{c: None for c in broken.columns},
        "service_id": "clin",
        "pcn_code": "PB",
        "site_id": "S3",
        "band": "weekday",
        "hours_per_week": 5.0,
    }
    messages = check_suitability(dataset, scenario, broken)
    assert len(messages) == 1
    assert "clin for PB at S3" in messages[0] and "childrens_centre" in messages[0]


def test_relaxing_the_rule_per_service():
    dataset = _dataset()
    scenario = handmade.scenario(suitability={"relax": ["clin"]})
    plan = _solve(dataset, scenario)
    assert check_suitability(dataset, scenario, plan) == []
    travel = measure_travel(dataset, scenario)
    cand = candidate_allocations(dataset, scenario, travel, room_slots(dataset, scenario))
    assert ("clin", "S3") in set(zip(cand["service_id"], cand["site_id"], strict=True))


def test_relaxing_an_unknown_service_is_a_scenario_error():
    scenario = handmade.scenario(suitability={"relax": ["nope"]})
    with pytest.raises(ScenarioError, match=r"suitability\.relax"):
        apply_scenario(_dataset(), scenario)


def test_a_site_without_a_type_is_fit_only_for_unrestricted_services():
    dataset = _dataset(types={"S1": "practice", "S2": "health_centre", "S3": ""})
    scenario = handmade.scenario()
    pairs = pd.DataFrame({"service_id": ["clin", "ea"], "site_id": ["S3", "S3"]})
    assert suitable(dataset, scenario, pairs).tolist() == [False, True]


def test_no_building_types_column_means_no_rule():
    dataset = handmade.dataset()
    scenario = handmade.scenario()
    pairs = pd.DataFrame({"service_id": ["clin"], "site_id": ["S3"]})
    assert suitable(dataset, scenario, pairs).tolist() == [True]


@pytest.mark.parametrize(
    ("types", "clin_types", "file", "column", "words"),
    [
        (TYPES, "practice;hospital", "services.csv", "building_types", "'hospital' is not one of"),
        (
            {**TYPES, "S3": "kids centre"},
            "practice",
            "premises.geojson",
            "building_type",
            "'kids centre' is not one of",
        ),
        (None, "practice", "premises.geojson", "building_type", "no building_type column"),
    ],
)
def test_bad_building_types_are_named(types, clin_types, file, column, words):
    with pytest.raises(InputDataError) as caught:
        _dataset(types=types, clin_types=clin_types)
    assert any(
        p.file == file and p.column == column and words in p.message for p in caught.value.problems
    ), caught.value


def test_a_new_site_is_a_health_centre_unless_told():
    dataset = _dataset()
    new = {
        "site_id": "N1",
        "name": "New hub",
        "kind": "community",
        "lon": -0.1,
        "lat": 51.5,
        "rooms": {"consulting": 2},
    }
    scenario = handmade.scenario(buildings={"new": [new]})
    changed = apply_scenario(dataset, scenario)
    types = changed.premises.set_index("site_id")["building_type"]
    assert types["N1"] == "health_centre"
    scenario = handmade.scenario(buildings={"new": [{**new, "building_type": "team_base"}]})
    assert apply_scenario(dataset, scenario).premises.set_index("site_id").at[
        "N1", "building_type"
    ] == ("team_base")


def test_nel_types_every_building_and_the_plan_keeps_to_the_rule(nel_dataset, nel_plan):
    """The shipped NEL data: every building typed from the documented vocabulary, outreach
    and patient-facing work only in buildings fit for it, and none today in an unfit one."""
    from estates_opt.schema import BUILDING_TYPES

    types = nel_dataset.premises["building_type"]
    assert types.isin(BUILDING_TYPES).all()
    assert (types[nel_dataset.premises["kind"] == "gp_practice"] == "practice").all()
    assert {"childrens_centre", "mental_health_base", "team_base"} <= set(types)
    services = nel_dataset.services.set_index("service_id")["building_types"]
    assert all("team_base" not in t for t in services)  # nothing patient-facing in offices
    outreach = nel_dataset.services[nel_dataset.services["category"] == "outpatient_outreach"]
    for allowed in outreach["building_types"]:
        assert not {"childrens_centre", "mental_health_base"} & set(allowed)
    scenario = nel_plan.scenario
    assert check_suitability(nel_dataset, scenario, nel_plan.allocations) == []
    baseline = hours_in_unsuitable_buildings(nel_dataset, scenario, nel_dataset.baseline)
    assert baseline["hours_per_week"].sum() == 0
