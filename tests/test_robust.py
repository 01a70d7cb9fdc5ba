"""Low / central / high variants and the robust core, on the hand-made instance.

With the default weights the hand-made optimum (tests/fixtures/handmade.py) moves PA's
clinic out of the full practice S1 into S3: every variant keeps that move (S1 has only 10
movable hours under its cap, whatever rooms cost), so it is in the robust core.
"""

from __future__ import annotations

import pytest
from fixtures import handmade

from estates_opt.robust import COST_SPREADS, robust_core, spread_costs, variants


def test_cost_spread_keeps_the_mean_and_scales_the_differences():
    dataset = handmade.dataset()
    narrow = spread_costs(dataset, 0.5)
    hours = dataset.capacity["capacity_hours"]
    before = dataset.capacity["cost_per_hour_gbp"]
    after = narrow.capacity["cost_per_hour_gbp"]
    mean = (before * hours).sum() / hours.sum()
    assert (after * hours).sum() / hours.sum() == pytest.approx(mean)
    assert (after - mean).to_numpy() == pytest.approx(0.5 * (before - mean).to_numpy(), abs=1e-4)
    wide = spread_costs(dataset, 3.0)
    assert (wide.capacity["cost_per_hour_gbp"] >= 0).all()  # never below zero


def test_variants_change_one_assumption_each():
    dataset, scenario = handmade.dataset(), handmade.scenario()
    found = variants(dataset, scenario)
    assert list(found) == ["central", "demand_low", "demand_high", *COST_SPREADS]
    assert found["demand_high"][1].growth.overall == pytest.approx(1.1)
    assert found["demand_low"][0] is dataset
    assert found["cost_low"][1] is scenario


def test_robust_core_of_the_handmade_plan():
    core = robust_core(handmade.dataset(), handmade.scenario())
    assert set(core.plans) == {"central", "demand_low", "demand_high", "cost_low", "cost_high"}
    assert all(plan.kpis["verified"] for plan in core.plans.values())
    moves = core.moves
    assert len(moves) == core.summary["moves_central"] > 0
    assert moves["robust"].sum() == core.summary["moves_robust"]
    pa = moves[(moves["pcn_code"] == "PA") & (moves["service_id"] == "clin")]
    assert pa["robust"].any()
    assert (moves["variants_holding"] <= 5).all()
    assert 0 <= core.summary["robust_share_of_hours"] <= 1


def test_the_looser_destination_test_and_the_timings_are_reported():
    core = robust_core(handmade.dataset(), handmade.scenario())
    moves, summary = core.moves, core.summary
    # a move in the robust core goes to the same building in every variant
    assert (moves.loc[moves["robust"], "destination_in_all"]).all()
    assert summary["moves_destination_in_all"] == int(moves["destination_in_all"].sum())
    assert summary["moves_destination_in_all"] >= summary["moves_robust"]
    assert summary["hours_destination_in_all"] >= summary["hours_moved_robust"]
    assert set(summary["solve_seconds"]) == set(core.plans)
    assert all(seconds >= 0 for seconds in summary["solve_seconds"].values())
