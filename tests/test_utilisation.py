"""Utilisation by site kind has one definition (inputs.dataset.kind_utilisation) and every
output that reports it agrees: kpis.json, the strategy gap and the comparison table."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from fixtures import handmade

from estates_opt.inputs.dataset import kind_utilisation
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model
from estates_opt.model.solve import solve_direct
from estates_opt.outputs.comparison import kpi_rows
from estates_opt.pipeline import solve
from estates_opt.results.explain.utilisation import hostable_rooms, strategy_gap

ROOMS = pd.DataFrame(
    {
        "kind": ["community", "community", "community", "acute", "gp_practice"],
        "band": ["weekday", "weekday", "evening", "weekday", "weekday"],
        "capacity_hours": [40.0, 60.0, 10.0, 0.0, 20.0],
        "fixed_hours": [10.0, 5.0, 0.0, 3.0, 20.0],
        "baseline_hours": [10.0, 25.0, 5.0, 0.0, 4.0],
    }
)


def test_kind_utilisation_adds_the_used_columns_over_capacity_per_kind_and_band():
    table = kind_utilisation(ROOMS, ["fixed_hours", "baseline_hours"]).set_index(["kind", "band"])
    assert table.loc[("community", "weekday"), "utilisation"] == pytest.approx(50 / 100)
    assert table.loc[("community", "evening"), "utilisation"] == pytest.approx(5 / 10)
    assert table.loc[("gp_practice", "weekday"), "utilisation"] == pytest.approx(24 / 20)
    assert np.isnan(table.loc[("acute", "weekday"), "utilisation"])  # no capacity: no figure
    assert table.loc[("community", "weekday"), "capacity_hours"] == 100.0


def test_kind_utilisation_over_all_bands_sums_every_band():
    table = kind_utilisation(ROOMS, ["baseline_hours"], by_band=False).set_index("kind")
    assert list(table.index) == ["acute", "community", "gp_practice"]
    assert table.loc["community", "utilisation"] == pytest.approx(40 / 110)


@pytest.fixture(scope="module")
def plan():
    return solve(handmade.dataset(), handmade.scenario())


def test_kpis_strategy_gap_and_comparison_report_the_same_utilisation(plan):
    k = plan.kpis
    rows = kpi_rows(plan)
    for band in ("weekday", "all_bands"):
        after = k["utilisation_after"][band]["community"]
        assert 0 < after < 1
        assert k["strategy_gap"]["community_utilisation"][band]["after"] == after
        assert k["strategy_gap"]["community_utilisation"][band]["gap"] == 1.0 - after
        for when in ("before", "after"):
            for kind, share in k[f"utilisation_{when}"][band].items():
                assert rows[f"utilisation_{when}.{kind}.{band}"][1] == pytest.approx(
                    share, rel=1e-12
                )


def _community_rooms() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site_id": ["A", "B", "B"],
            "room_type": ["consulting", "consulting", "group"],
            "band": ["weekday", "weekday", "weekday"],
            "kind": ["community"] * 3,
            "capacity_hours": [100.0, 50.0, 50.0],
            "fixed_hours": [20.0, 10.0, 48.0],
            "after_hours": [60.0, 10.0, 48.0],
            "cap": [0.9] * 3,
        }
    )


def test_the_strategy_gap_says_how_far_any_plan_could_fill_the_community():
    rooms = _community_rooms()
    # the model can place 68 h in A (whole sessions below its 70 h of headroom) and
    # nothing in B's group room, already above its cap (48 h > 45 h) with fixed work
    hostable = pd.Series(
        [68.0, 0.0],
        index=pd.MultiIndex.from_tuples(
            [("A", "consulting", "weekday"), ("B", "group", "weekday")],
            names=["site_id", "room_type", "band"],
        ),
    )
    types = pd.Series({"A": "health_centre", "B": "team_base"})
    gap = strategy_gap(rooms, hostable, types, aim=0.8)
    weekday = gap["community_utilisation"]["weekday"]
    # B's consulting room, which no service may use, keeps its fixed 10 h
    assert weekday["reachable"] == pytest.approx((20 + 68 + 10 + 48) / 200)
    assert weekday["after"] == pytest.approx(118 / 200)
    # headroom below the cap where nothing may go: B's consulting room, 45 - 10 h
    assert gap["community_unusable_room_hours"] == {"weekday": {"team_base": pytest.approx(35.0)}}
    # the aim: 80% of 200 h is 160 h; the rooms hold 118 h after the plan
    assert gap["community_aim"] == {"utilisation": 0.8, "shortfall_hours": pytest.approx(42.0)}
    # free room-hours: to full capacity 40 + 40 + 2, below the 90% caps 30 + 35 + 0 (B's
    # group room is over its cap: nothing free, not -3)
    assert gap["free_room_hours_after"] == {"community": {"weekday": pytest.approx(82.0)}}
    assert gap["free_room_hours_below_cap_after"] == {"community": {"weekday": pytest.approx(65.0)}}


def test_without_the_model_the_gap_has_no_reachable_figure():
    gap = strategy_gap(_community_rooms())
    assert "reachable" not in gap["community_utilisation"]["weekday"]
    assert "community_unusable_room_hours" not in gap


def test_no_plan_fills_the_community_beyond_what_the_gap_calls_reachable(plan):
    """The model that puts as many hours as it can into community rooms (whole sessions,
    demand, caps and travel limits held) stays within the reachable figure the plan reports."""
    data, scenario = handmade.dataset(), handmade.scenario()
    lp = build_model(data, scenario, measure_travel(data, scenario))
    kinds = data.premises.set_index("site_id")["kind"]
    cols = lp.columns
    community = (
        (cols["family"] == "x").to_numpy()
        & (cols["site_id"].map(kinds) == "community").to_numpy()
        & (cols["band"] == "weekday").to_numpy()
    )
    hours = cols["hours_per_unit"].to_numpy(float)
    most = replace(lp, objective=-np.where(community, hours, 0.0), start=None)
    result = solve_direct(most, scenario.solver)
    assert result.status.has_plan
    rooms = plan.utilisation[
        (plan.utilisation["kind"] == "community") & (plan.utilisation["band"] == "weekday")
    ]
    filled = (rooms["fixed_hours"].sum() + hours[community] @ result.values[community]) / rooms[
        "capacity_hours"
    ].sum()
    weekday = plan.kpis["strategy_gap"]["community_utilisation"]["weekday"]
    assert weekday["after"] <= weekday["reachable"] + 1e-12
    assert 0 < filled <= weekday["reachable"] + 1e-9
    assert strategy_gap(plan.utilisation, hostable_rooms(lp))["community_utilisation"]["weekday"][
        "reachable"
    ] == pytest.approx(weekday["reachable"])
