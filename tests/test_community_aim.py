"""The strategy's aim for the community estate (``[strategy]``): the plan moves work into
community rooms to reach it, reports the room-hours short where it cannot, and refuses an
aim no plan may reach because it lies above the community cap."""

from __future__ import annotations

import copy

import pytest
from fixtures import handmade

from estates_opt.errors import ScenarioError
from estates_opt.inputs.dataset import read_dataset
from estates_opt.pipeline import solve
from estates_opt.results.verify import verify_plan
from estates_opt.scenario import Scenario, load_scenario


def _aiming(scenario: Scenario, aim: float) -> Scenario:
    strategy = scenario.strategy.model_copy(update={"community_weekday_utilisation": aim})
    return scenario.model_copy(update={"strategy": strategy})


def _community_weekday(plan) -> tuple[float, float]:
    u = plan.utilisation
    rooms = u[(u["kind"] == "community") & (u["band"] == "weekday")]
    return float(rooms["after_hours"].sum()), float(rooms["capacity_hours"].sum())


def test_an_aim_above_the_community_cap_is_refused(tmp_path):
    path = tmp_path / "aim.toml"
    path.write_text("[caps]\ncommunity = 0.8\n[strategy]\ncommunity_weekday_utilisation = 0.85\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert "aim.toml" in text
    assert (
        "aim.toml: key 'strategy.community_weekday_utilisation': 0.85 is above caps.community (0.8)"
        in text
    )


def test_the_plan_moves_work_into_the_community_to_reach_the_aim(small_dir):
    data = read_dataset(small_dir)
    without = solve(data, Scenario())
    gap = without.kpis["strategy_gap"]["community_utilisation"]["weekday"]
    assert "community_aim" not in without.kpis["strategy_gap"]
    aim = round(gap["after"] + 0.02, 2)
    assert gap["after"] < aim < gap["reachable"]
    plan = solve(data, _aiming(Scenario(), aim))
    after, capacity = _community_weekday(plan)
    assert after >= aim * capacity - 1e-6
    assert plan.kpis["strategy_gap"]["community_aim"] == {
        "utilisation": aim,
        "shortfall_hours": 0.0,
    }
    # the same least movement sent elsewhere: more of it into community rooms
    assert after > _community_weekday(without)[0]
    assert plan.verify() == []


def test_an_aim_out_of_reach_reports_the_room_hours_short():
    plan = solve(handmade.dataset(), _aiming(handmade.scenario(), 0.9))
    after, capacity = _community_weekday(plan)
    reached = plan.kpis["strategy_gap"]["community_utilisation"]["weekday"]
    assert reached["after"] == pytest.approx(reached["reachable"])  # as full as it can be
    short = plan.kpis["strategy_gap"]["community_aim"]["shortfall_hours"]
    assert short == pytest.approx(0.9 * capacity - after)
    assert short > 1
    assert plan.verify() == []


@pytest.mark.parametrize("tamper", ["shortfall", "missing"])
def test_the_verifier_recomputes_the_aim_shortfall(tamper):
    scenario = _aiming(handmade.scenario(), 0.9)
    plan = solve(handmade.dataset(), scenario)
    kpis = copy.deepcopy(plan.kpis)
    if tamper == "shortfall":
        kpis["strategy_gap"]["community_aim"]["shortfall_hours"] = 0.0
        expected = "KPI community aim shortfall: reported 0.000 room-hours"
    else:
        del kpis["strategy_gap"]["community_aim"]
        expected = "KPI community aim missing: the scenario aims at 0.9 weekday use"
    found = verify_plan(
        plan.dataset, scenario, plan.allocations, plan.unmet, plan.utilisation, kpis, plan.opened
    )
    assert [v for v in found if v.startswith(expected)] == found
    assert found
