"""Utilisation by site kind has one definition (inputs.dataset.kind_utilisation) and every
output that reports it agrees: kpis.json, the strategy gap and the comparison table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures import handmade

from estates_opt.inputs.dataset import kind_utilisation
from estates_opt.outputs.comparison import kpi_rows
from estates_opt.pipeline import solve

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
