"""Row family (15), the relocation covers: valid for every whole-session plan, tighter bounds.

A cover row that cut off a whole-session plan would make plans worse and the reported gap
a lie, and nothing downstream (the verifier checks the plan against the rules, not against
these rows) would notice. So the rows are checked against many integer plans: HiGHS's
optima of the model without them under random objectives, some leaving demand unmet.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from fixtures import handmade

from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model
from estates_opt.model.cover_rows import COVER_FAMILIES, without_covers
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveStatus
from estates_opt.model.solve import fix_integers, solve_direct
from estates_opt.scenario import Solver, scenario_from_dict

EXACT = Solver(name="highs", backend="direct", mip_gap=0.0, time_limit_s=60)
WHOLE = {"whole_sessions": True}


def whole_model(dataset, **overrides) -> LinearProgram:
    scenario = handmade.scenario(options=WHOLE, **overrides)
    return build_model(dataset, scenario, measure_travel(dataset, scenario))


def covers(lp: LinearProgram) -> np.ndarray:
    return lp.rows["family"].isin(COVER_FAMILIES).to_numpy()


def violations(lp: LinearProgram, values: np.ndarray) -> list[str]:
    """Cover rows the point breaks, by family and shortfall."""
    activity = lp.matrix @ values
    short = lp.row_lower - activity
    bad = np.flatnonzero(covers(lp) & (short > 1e-6))
    return [f"{lp.rows['family'].iloc[r]} short by {short[r]:.3f}" for r in bad]


def test_the_handmade_room_over_its_cap_must_shed_by_relocations():
    """PA's clinic holds 8 sessions (32 h) at S1 for 30 h of demand; S1 has 10 h free under
    its cap, so beyond the clinic's 2 h of surplus the room must shed 20 h, by relocations."""
    lp = whole_model(handmade.dataset())
    rows = lp.rows.assign(lower=lp.row_lower)
    room = rows[(rows["family"] == "cover_room") & (rows["site_id"] == "S1")]
    assert room["lower"].tolist() == [20.0]
    (clinic,) = rows.index[
        (rows["family"] == "cover_clinic_excess") | (rows["family"] == "cover_keep")
    ][:1]
    assert lp.row_lower[clinic] > 0
    # the LP with the covers knows a relocation is whole: its bound rises, and no further
    # than the whole-session optimum
    relaxed = solve_direct(replace(lp, integer=np.zeros_like(lp.integer)), EXACT)
    loose = solve_direct(replace(without_covers(lp), integer=np.zeros_like(lp.integer)), EXACT)
    best = solve_direct(without_covers(lp), EXACT)
    assert loose.objective < relaxed.objective - 1.0
    assert relaxed.objective <= best.objective + 1e-6


def squeezed_dataset():
    """The handmade instance with S3 nearly full: PB's clinic cannot all stay, PA's cannot
    all go, so some plans leave demand unmet."""
    rows = [r if r[:3] != ("S3", "consulting", "weekday") else (*r[:3], 100.0, 80.0, 15.0)
            for r in handmade.CAPACITY_ROWS]  # fmt: skip
    return handmade.dataset(capacity=rows)


@pytest.mark.parametrize("dataset", [handmade.dataset, squeezed_dataset], ids=["roomy", "squeezed"])
def test_no_whole_session_plan_breaks_a_cover(dataset):
    lp = whole_model(dataset())
    assert covers(lp).any()
    bare = without_covers(lp)
    rng = np.random.default_rng(7)
    families = lp.columns["family"].to_numpy()
    unmet_seen = 0
    for trial in range(12):
        bounded = np.isfinite(lp.col_upper)
        cost = np.where(bounded, rng.uniform(-1.0, 1.0, lp.col_upper.size), rng.uniform(0, 1))
        if trial == 0:
            cost = lp.objective  # the model's own optimum among them
        result = solve_direct(replace(bare, objective=cost), EXACT)
        assert result.status == SolveStatus.OPTIMAL
        assert violations(lp, result.values) == [], f"trial {trial}"
        unmet_seen += int(result.values[families == "unmet"].sum() > 0.5)
    assert unmet_seen >= 3, "the random plans should leave demand unmet at times"


def test_rooms_are_priced_without_the_covers():
    """The pricing LP (decisions fixed, sessions relaxed) must not see the covers: they hold
    for whole sessions only and would take the capacity rows' prices."""
    lp = whole_model(handmade.dataset())
    plan = solve_direct(lp, EXACT)
    with_rows = solve_direct(fix_integers(lp, plan.values), EXACT)
    without = solve_direct(fix_integers(without_covers(lp), plan.values), EXACT)
    assert with_rows.objective == pytest.approx(without.objective)
    capacity = (lp.rows["family"] == "capacity").to_numpy()
    np.testing.assert_allclose(with_rows.duals[capacity], without.duals[capacity], atol=1e-9)
    assert np.all(np.isneginf(fix_integers(lp, plan.values).row_lower[covers(lp)]))


def test_an_lp_model_has_no_covers():
    dataset = handmade.dataset()
    scenario = scenario_from_dict({"name": "lp", "options": {"whole_sessions": False}})
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    assert not covers(lp).any()


def test_no_plan_of_the_tiny_synthetic_estate_breaks_a_cover(tiny_dataset):
    """More structure than the handmade instance: several services, rooms shared by
    clinics of two PCNs, outpatient specialties, the contract's minimums."""
    scenario = scenario_from_dict({"name": "tiny"})
    lp = build_model(tiny_dataset, scenario, measure_travel(tiny_dataset, scenario))
    assert set(lp.rows["family"]) >= {"cover_keep", "cover_clinic", "cover_room"}
    bare = without_covers(lp)
    rng = np.random.default_rng(11)
    for trial in range(4):
        bounded = np.isfinite(lp.col_upper)
        cost = np.where(bounded, rng.uniform(-1.0, 1.0, lp.col_upper.size), rng.uniform(0, 1))
        result = solve_direct(replace(bare, objective=cost), EXACT)
        assert result.status == SolveStatus.OPTIMAL
        assert violations(lp, result.values) == [], f"trial {trial}"
