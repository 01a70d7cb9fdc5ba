"""The PuLP model is the array model: same columns, rows, bounds, and objective value."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pulp
import pytest
import scipy.sparse as sp
from fixtures import handmade

from estates_opt import read_dataset
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model
from estates_opt.model.pulp_model import affine, to_pulp
from estates_opt.scenario import scenario_from_dict


def handmade_lp(**overrides):
    dataset = handmade.dataset()
    scenario = handmade.scenario(**overrides)
    return build_model(dataset, scenario, measure_travel(dataset, scenario))


@pytest.fixture(scope="module")
def small_lp(small_dir):
    dataset = read_dataset(small_dir)
    scenario = scenario_from_dict({"options": {"opening_decisions": True, "move_budget_hours": 50}})
    return build_model(dataset, scenario, measure_travel(dataset, scenario))


def assert_same_model(lp, seed: int = 0) -> None:
    model = to_pulp(lp)
    prob = model.problem
    n, m, _ = lp.shape
    assert len(model.variables) == len(prob.variables()) == n
    assert len(prob.constraints()) == m == len(model.row_names)
    prob.checkDuplicateVars()

    for j, var in enumerate(model.variables):
        assert var.lowBound == lp.col_lower[j]
        upper = lp.col_upper[j]
        assert var.upBound == (None if np.isinf(upper) else upper)
        assert (var.cat == pulp.LpInteger) == bool(lp.integer[j])

    rng = np.random.default_rng(seed)
    point = rng.uniform(0, 10, n)
    for var, v in zip(model.variables, point, strict=True):
        var.varValue = float(v)
    assert pulp.value(prob.objective) == pytest.approx(float(lp.objective @ point), rel=1e-12)

    activity = lp.matrix @ point
    constraints = {c.name: c for c in prob.constraints()}
    for r, name in enumerate(model.row_names):
        con = constraints[name]
        # PuLP keeps "expr <= b" as expr - b <= 0; its value is activity - b.
        lower, upper = lp.row_lower[r], lp.row_upper[r]
        if lower == upper:
            assert con.sense == pulp.LpConstraintEQ
            bound = upper
        elif np.isinf(lower):
            assert con.sense == pulp.LpConstraintLE
            bound = upper
        else:
            assert con.sense == pulp.LpConstraintGE
            bound = lower
        assert con.value() == pytest.approx(activity[r] - bound, rel=1e-9, abs=1e-9)


def test_handmade_lp_matches():
    assert_same_model(handmade_lp())


def test_handmade_mip_with_every_family_matches():
    lp = handmade_lp(
        options={"whole_sessions": True, "opening_decisions": True, "move_budget_hours": 10}
    )
    assert set(lp.columns["family"]) == {
        "x",
        "unmet",
        "open",
        "relocate",
        "move_excess",
        "hub_shortfall",
    }
    assert set(lp.rows["family"]) == {
        "demand",
        "capacity",
        "move_budget",
        "relocate",
        "move_tolerance",
        "own_hub",
        "cover_clinic",
        "cover_keep",
        "cover_room",
    }
    assert_same_model(lp, seed=1)


def test_small_synthetic_lp_matches(small_lp):
    assert small_lp.shape[0] > 100
    assert_same_model(small_lp, seed=2)


def test_pulp_and_array_objectives_agree_at_the_optimum():
    lp = handmade_lp()
    model = to_pulp(lp)
    status = model.problem.solve(pulp.HiGHS(msg=False))
    assert status == pulp.LpStatusOptimal
    values = np.array([v.varValue for v in model.variables])
    assert pulp.value(model.problem.objective) == pytest.approx(lp.objective @ values, abs=1e-9)
    assert pulp.value(model.problem.objective) == pytest.approx(1970.4, abs=1e-6)


def test_ranged_row_becomes_two_constraints():
    lp = handmade_lp()
    lower = lp.row_lower.copy()
    r = int(np.flatnonzero(lp.rows["family"].to_numpy() == "capacity")[0])
    lower[r] = 1.0
    ranged = replace(lp, row_lower=lower)
    model = to_pulp(ranged)
    name = model.row_names[r]
    constraints = {c.name: c for c in model.problem.constraints()}
    assert len(constraints) == len(lp.rows) + 1
    assert constraints[name].sense == pulp.LpConstraintLE
    assert constraints[name + "_lo"].sense == pulp.LpConstraintGE
    assert -constraints[name + "_lo"].constant == 1.0


def _with_empty_row(lp, lower: float, upper: float):
    n = lp.shape[0]
    matrix = sp.vstack([lp.matrix, sp.csr_matrix((1, n))]).tocsr()
    rows = lp.rows.copy()
    rows.loc[len(rows)] = {"family": "capacity", "row_name": "capacity_empty"}
    return replace(
        lp,
        matrix=matrix,
        rows=rows,
        row_lower=np.append(lp.row_lower, lower),
        row_upper=np.append(lp.row_upper, upper),
    )


def test_constant_only_row_that_cannot_hold_is_refused():
    """PuLP would accept `0 >= 5` silently and make the model infeasible: refuse it."""
    lp = _with_empty_row(handmade_lp(), 5.0, np.inf)
    with pytest.raises(ValueError, match="capacity_empty has no variables"):
        to_pulp(lp)


def test_constant_only_row_that_always_holds_is_dropped():
    lp = _with_empty_row(handmade_lp(), -np.inf, 3.0)
    model = to_pulp(lp)
    assert model.problem.get_constraint_by_name("capacity_empty") is None
    assert len(model.problem.constraints()) == len(lp.rows) - 1


def test_affine_builds_an_expression_from_pairs():
    prob = pulp.LpProblem("affine", pulp.LpMinimize)
    a, b = prob.add_variable("a"), prob.add_variable("b")
    expr = affine([(a, 2.0), (b, -1.5)])
    a.varValue, b.varValue = 3.0, 2.0
    assert expr.value() == pytest.approx(3.0)
    assert dict(expr) == {a: 2.0, b: -1.5}


def test_variable_names_are_positional_so_ids_cannot_collide():
    """Ids that PuLP would rewrite to the same name ('A-1' and 'A_1') stay distinct."""
    lp = handmade_lp()
    columns = lp.columns.copy()
    columns.loc[0, "site_id"] = "A-1"
    columns.loc[1, "site_id"] = "A_1"
    model = to_pulp(replace(lp, columns=columns))
    names = [v.name for v in model.variables]
    assert len(set(names)) == len(names)
    model.problem.checkDuplicateVars()
