"""The independent verifier catches every kind of broken plan.

Each test takes the solved hand-made plan (tests/fixtures/handmade.py), which
the verifier passes, breaks one thing in one table, and checks the violation
text. The optimum being tampered with (hours/week, see test_solve.py):

    clin PA S1 weekday 5     clin PA S3 weekday 25    clin PB S3 weekday 20
    ea   PA S1 evening 2.8   ea   PA S2 saturday 3.2  ea   PB S2 saturday 4
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest
from fixtures import handmade

from estates_opt.pipeline import solve
from estates_opt.results.verify import verify_plan


@pytest.fixture(scope="module")
def plan():
    return solve(handmade.dataset(), handmade.scenario())


@pytest.fixture
def parts(plan):
    """Private copies of what verify_plan reads."""
    return {
        "allocations": plan.allocations.copy(),
        "unmet": plan.unmet.copy(),
        "utilisation": plan.utilisation.copy(),
        "kpis": copy.deepcopy(plan.kpis),
        "opened": set(plan.opened),
    }


def check(plan, parts, scenario=None) -> list[str]:
    return verify_plan(
        plan.dataset,
        scenario or plan.scenario,
        parts["allocations"],
        parts["unmet"],
        parts["utilisation"],
        parts["kpis"],
        parts["opened"],
    )


def row(allocations: pd.DataFrame, service, pcn, site, band) -> int:
    mask = (
        (allocations["service_id"] == service)
        & (allocations["pcn_code"] == pcn)
        & (allocations["site_id"] == site)
        & (allocations["band"] == band)
    )
    (index,) = allocations.index[mask]
    return index


def only(violations: list[str], text: str) -> str:
    found = [v for v in violations if text in v]
    assert found, f"{text!r} not among {violations}"
    return found[0]


def test_the_solved_plan_passes(plan, parts):
    assert check(plan, parts) == []
    a = parts["allocations"]
    assert a.loc[row(a, "clin", "PA", "S3", "weekday"), "hours_per_week"] == pytest.approx(25.0)


def test_over_capacity(plan, parts):
    """Move 7 h of PA clin from S3 to S1: demand still met, S1 over its 85% cap."""
    a = parts["allocations"]
    a.loc[row(a, "clin", "PA", "S1", "weekday"), "hours_per_week"] += 7.0
    a.loc[row(a, "clin", "PA", "S3", "weekday"), "hours_per_week"] -= 7.0
    violations = check(plan, parts)
    text = only(violations, "capacity ('S1', 'consulting', 'weekday')")
    assert "fixed 75.00 + placed 12.00 h exceeds 85.00 h" in text
    assert not [v for v in violations if v.startswith("demand")]


def test_wrong_band(plan, parts):
    a = parts["allocations"]
    a.loc[row(a, "ea", "PA", "S1", "evening"), "band"] = "weekday"
    violations = check(plan, parts)
    only(violations, "ea for PA at S1 (weekday): band not allowed for the service")
    only(violations, "ea for PA at S1 (weekday): enhanced access outside its bands")


def test_wrong_site_kind(plan, parts):
    """clin may not use a hub: move PA's S3 hours to hub S2 (2 km away, weekday room open)."""
    a = parts["allocations"]
    i = row(a, "clin", "PA", "S3", "weekday")
    a.loc[i, ["site_id", "travel_km"]] = ["S2", 2.0]
    violations = check(plan, parts)
    only(violations, "clin for PA at S2 (weekday): site kind pcn_hub not allowed")
    assert not [v for v in violations if "travel" in v]


def test_beyond_travel_limit(plan, parts):
    a = parts["allocations"]
    i = row(a, "clin", "PB", "S3", "weekday")
    a.loc[i, ["site_id", "travel_km"]] = ["S1", 5.5]
    violations = check(plan, parts)
    only(violations, "clin for PB at S1: travel 5.50 km over limit 5")


def test_reported_travel_tampered(plan, parts):
    a = parts["allocations"]
    a.loc[row(a, "clin", "PB", "S3", "weekday"), "travel_km"] = 0.2
    only(check(plan, parts), "clin for PB at S3: reported travel 0.200 km, recomputed 1.000")


def test_no_open_room_of_that_type(plan, parts):
    """S3 opens on Saturday with a group room only; ea needs consulting."""
    a = parts["allocations"]
    i = row(a, "ea", "PA", "S2", "saturday")
    a.loc[i, ["site_id", "travel_km"]] = ["S3", 3.0]
    only(check(plan, parts), "ea for PA at S3 (saturday): site has no open consulting room")


def test_unopened_slot_is_not_usable(plan, parts):
    """S3 evening is only an opening option: using it needs it in ``opened``."""
    a = parts["allocations"]
    i = row(a, "ea", "PA", "S1", "evening")
    a.loc[i, ["site_id", "travel_km"]] = ["S3", 3.0]
    only(check(plan, parts), "ea for PA at S3 (evening): site has no open consulting room")
    parts["opened"] = {("S3", "evening")}
    assert not [v for v in check(plan, parts) if "no open" in v]


def test_demand_not_met(plan, parts):
    a = parts["allocations"]
    a.loc[row(a, "clin", "PA", "S3", "weekday"), "hours_per_week"] -= 5.0
    only(
        check(plan, parts),
        "demand ('clin', 'PA'): 30.000 h but only 25.000 h met or reported unmet",
    )


def test_demand_over_placed(plan, parts):
    a = parts["allocations"]
    a.loc[row(a, "ea", "PB", "S2", "saturday"), "hours_per_week"] += 1.0
    only(check(plan, parts), "demand ('ea', 'PB'): 5.000 h placed or unmet exceeds demand 4.000 h")


def test_unmet_reported_counts_toward_demand(plan, parts):
    """Hours removed from the plan but reported unmet are accounted for; KPI must follow."""
    a = parts["allocations"]
    a.loc[row(a, "clin", "PA", "S3", "weekday"), "hours_per_week"] -= 5.0
    u = parts["unmet"]
    u.loc[(u["service_id"] == "clin") & (u["pcn_code"] == "PA"), "unmet_hours"] = 5.0
    violations = check(plan, parts)
    assert not [v for v in violations if v.startswith("demand")]
    only(violations, "KPI unmet_hours_total 0.0 but unmet table sums to 5.000")


def test_utilisation_hours_tampered(plan, parts):
    u = parts["utilisation"]
    i = u.index[
        (u["site_id"] == "S3") & (u["room_type"] == "consulting") & (u["band"] == "weekday")
    ]
    u.loc[i, "after_hours"] += 1.0
    violations = check(plan, parts)
    only(
        violations,
        "utilisation ('S3', 'consulting', 'weekday'): reported after_hours 91.000, recomputed 90.000",
    )


def test_utilisation_ratio_tampered(plan, parts):
    u = parts["utilisation"]
    i = u.index[(u["site_id"] == "S2") & (u["band"] == "saturday")]
    u.loc[i, "after_utilisation"] = 0.5
    only(
        check(plan, parts),
        "utilisation ('S2', 'consulting', 'saturday'): after_utilisation does not equal",
    )


def test_utilisation_row_missing(plan, parts):
    u = parts["utilisation"]
    parts["utilisation"] = u[~((u["site_id"] == "S1") & (u["band"] == "evening"))]
    only(
        check(plan, parts),
        "utilisation table lacks slot ('S1', 'consulting', 'evening') that hosts 2.80 h",
    )


def test_kpi_utilisation_tampered(plan, parts):
    weekday = parts["kpis"]["utilisation_after"]["weekday"]
    true_value = weekday["community"]
    weekday["community"] = true_value + 0.05
    text = only(check(plan, parts), "KPI weekday utilisation after for community")
    assert f"recomputed {true_value:.5f}" in text


def test_kpi_utilisation_missing(plan, parts):
    del parts["kpis"]["utilisation_after"]["weekday"]["gp_practice"]
    only(check(plan, parts), "KPI weekday utilisation after for gp_practice: reported None")


@pytest.mark.parametrize("reachable", [0.0, 1.5])
def test_kpi_community_reachable_outside_plan_and_full_rooms(plan, parts, reachable):
    weekday = parts["kpis"]["strategy_gap"]["community_utilisation"]["weekday"]
    assert weekday["after"] <= weekday["reachable"] <= 1.0
    weekday["reachable"] = reachable
    only(check(plan, parts), "KPI community utilisation reachable (weekday)")


def test_kpi_own_hub_recounted(plan, parts):
    hub = parts["kpis"]["own_hub"]
    assert hub["pcns_with_a_hub"] > 0
    assert hub["pcns_meeting"] + len(hub["short"]) == hub["pcns_with_a_hub"]
    hub["short"] = ["PA", *hub["short"]]
    only(check(plan, parts), "KPI own_hub: reported short ['PA'")


def test_kpi_unmet_tampered(plan, parts):
    parts["kpis"]["unmet_hours_total"] = 3.0
    only(check(plan, parts), "KPI unmet_hours_total 3.0 but unmet table sums to 0.000")


def test_pin_not_honoured(plan, parts):
    scenario = handmade.scenario(
        pinned=[
            {
                "pcn_code": "PA",
                "service_id": "clin",
                "site_id": "S1",
                "band": "weekday",
                "hours_per_week": 8.0,
            }
        ]
    )
    only(check(plan, parts, scenario), "pinned clin for PA at S1 (weekday): 5.00 h < 8.00 h")


def test_whole_sessions_rule(plan, parts):
    """The LP plan has 2.8 h of evening (not a multiple of 1.5 h): not a whole-sessions plan."""
    scenario = handmade.scenario(options={"whole_sessions": True})
    violations = check(plan, parts, scenario)
    only(violations, "ea for PA at S1 (evening): 2.800 h is not whole sessions")
    only(violations, "ea for PA at S2 (saturday): 3.200 h is not whole sessions")


def test_growth_changes_what_demand_means(plan, parts):
    """The verifier applies the scenario's growth itself: 10% more demand is unmet here."""
    scenario = handmade.scenario(growth={"overall": 1.1})
    only(check(plan, parts, scenario), "demand ('clin', 'PA'): 33.000 h but only 30.000 h")


def test_tiny_synthetic_plan_passes(tiny_dataset):
    plan = solve(tiny_dataset)
    assert plan.kpis["verified"] is True
    assert plan.verify() == []


def test_sites_per_specialty_over_the_borough_limit(small_dir):
    """The limit is recounted from the allocations and premises' boroughs, not the model."""
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.results.movement_check import check_specialty_sites
    from estates_opt.scenario import Scenario

    data = read_dataset(small_dir)
    plan = solve(data)
    assert plan.kpis["verified"] is True
    limited = Scenario.model_validate({"relocation": {"max_sites_per_specialty_per_borough": 1}})
    violations = check_specialty_sites(data, limited, plan.allocations)
    assert violations
    assert all("more than max_sites_per_specialty_per_borough 1" in v for v in violations)
    assert check_specialty_sites(data, plan.scenario, plan.allocations) == []
    both = verify_plan(
        data, limited, plan.allocations, plan.unmet, plan.utilisation, plan.kpis, plan.opened
    )
    assert set(violations) <= set(both)


def test_lookups_worked_out_for_another_dataset_are_not_used(plan, parts):
    """The pipeline works the check's lookups out while solving; given ones made from
    another dataset (here one without room S1, where the plan places hours), the check
    makes its own."""
    import dataclasses

    from estates_opt.results.verify import prepare_verification

    a = parts["allocations"]
    assert (a.loc[a["site_id"] == "S1", "hours_per_week"] > 0).any()
    other = dataclasses.replace(
        plan.dataset, capacity=plan.dataset.capacity[plan.dataset.capacity["site_id"] != "S1"]
    )
    stale = prepare_verification(other, plan.scenario)
    assert verify_plan(plan.dataset, plan.scenario, *parts.values(), stale) == []
    # the same lookups, claimed to be of this dataset, are used: so the check can tell
    claimed = dataclasses.replace(stale, dataset=plan.dataset)
    violations = verify_plan(plan.dataset, plan.scenario, *parts.values(), claimed)
    assert only(violations, "at S1 (weekday): site has no open consulting room")
    fresh = prepare_verification(plan.dataset, plan.scenario)
    assert verify_plan(plan.dataset, plan.scenario, *parts.values(), fresh) == []
