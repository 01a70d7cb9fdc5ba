"""``solver.prove_s``: branch and bound from the finished whole-session plan tightens the
bound the gap is measured to (the LP relaxation's is loose with fixed relocation costs)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from estates_opt.inputs.dataset import read_dataset
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.bounds import relaxation_bound
from estates_opt.model.build import build_model
from estates_opt.model.highs_direct import presolved_relaxation_bound
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveStatus
from estates_opt.model.solve import solve_direct
from estates_opt.model.staged import _prove, decisions_of, least_movement, within_tolerance
from estates_opt.scenario import Scenario


@pytest.fixture(scope="module")
def start(small_dir):
    scenario = Scenario.model_validate({"solver": {"prove_s": 60, "backend": "direct"}})
    data = read_dataset(small_dir)
    lp = build_model(data, scenario, measure_travel(data, scenario))
    least, first = least_movement(lp, scenario)
    staged = within_tolerance(lp, least, scenario.relocation.tolerance)
    relaxed = solve_direct(
        replace(staged, integer=np.zeros_like(staged.integer), start=None), scenario.solver
    )
    return scenario, staged, decisions_of(lp, first.values), relaxed.objective, lp


def test_a_proof_tightens_the_lp_bound_and_takes_a_better_plan(start):
    scenario, staged, plan, lp_bound, _ = start
    before = float(staged.objective @ plan)
    values, bound, gap, status, basis = _prove(
        staged, scenario, plan, lp_bound, SolveStatus.IMPROVED, "LP relaxation"
    )
    after = float(staged.objective @ values)
    # stage 1's plan prices only movement: the whole MIP improves on it and, on a model
    # this small, proves its optimum within the gap
    assert after < before
    assert basis == "branch and bound"
    assert lp_bound < bound <= after + 1e-6
    assert gap == pytest.approx((after - bound) / after)
    assert status == SolveStatus.OPTIMAL
    assert gap <= scenario.solver.mip_gap


def test_a_proof_never_loosens_a_bound_it_cannot_beat(start):
    scenario, staged, plan, _, _ = start
    objective = float(staged.objective @ plan)
    values, bound, _gap, status, basis = _prove(
        staged, scenario, plan, objective, SolveStatus.IMPROVED, "LP relaxation"
    )
    assert bound == objective  # nothing is below the plan itself: the bound stays
    assert basis == "LP relaxation"  # what the bound was said to come from, unchanged
    assert float(staged.objective @ values) <= objective + 1e-6
    assert status == SolveStatus.OPTIMAL


def test_cli_prove_sets_the_seconds_and_refuses_a_negative_one(tiny_scenario, tmp_path):
    import json

    from typer.testing import CliRunner

    from estates_opt.cli import EXIT_BAD_INPUT, app

    scenario = tiny_scenario
    runner = CliRunner()
    bad = runner.invoke(app, ["solve", str(scenario), "--prove", "-1", "--no-maps"])
    assert bad.exit_code == EXIT_BAD_INPUT
    assert "--prove" in bad.output and "Traceback" not in bad.output
    out = tmp_path / "plan"
    good = runner.invoke(
        app, ["solve", str(scenario), "--prove", "5", "--no-maps", "--out", str(out)]
    )
    assert good.exit_code == 0, good.output
    assert json.loads((out / "scenario.json").read_text())["solver"]["prove_s"] == 5
    kpis = json.loads((out / "kpis.json").read_text())
    assert "bound_basis" in kpis


def _one_integer(lower: float, upper: float) -> LinearProgram:
    """min x over integer x in [lower, upper], as a one-row model (x >= lower)."""
    return LinearProgram(
        columns=pd.DataFrame({"family": ["x"]}),
        rows=pd.DataFrame({"family": ["demand"]}),
        matrix=sp.csr_matrix(np.ones((1, 1))),
        objective=np.ones(1),
        terms={},
        col_lower=np.zeros(1),
        col_upper=np.array([upper]),
        row_lower=np.array([lower]),
        row_upper=np.array([np.inf]),
        integer=np.ones(1, bool),
    )


def test_the_presolved_relaxation_bounds_the_mip_from_below(start):
    scenario, staged, _plan, lp_bound, lp = start
    exact = solve_direct(staged, scenario.solver.model_copy(update={"mip_gap": 0.0}))
    assert exact.status == SolveStatus.OPTIMAL
    slack = 1e-9 * abs(exact.objective) + 1e-6
    # the staged solve bounds the model as built (before stage 1's tolerance row): a
    # relaxation of the staged model, so below its optimum too
    for model in (staged, lp):
        bound, basis = relaxation_bound(model, scenario.solver)
        assert basis == "presolved LP relaxation"
        assert bound <= exact.objective + slack
    # on this model presolve tightens the relaxation of the staged model as built
    bound, _ = relaxation_bound(staged, scenario.solver)
    assert bound >= lp_bound - slack


def test_presolve_that_solves_the_model_gives_its_optimum_and_infeasible_gives_none():
    options = Scenario().solver
    # presolve rounds x >= 1.5 up to x = 2 and removes the column: the bound is the optimum,
    # where the relaxation of the model as built says 1.5
    assert presolved_relaxation_bound(_one_integer(1.5, 10), options) == pytest.approx(2.0)
    assert relaxation_bound(_one_integer(1.5, 10), options) == (
        pytest.approx(2.0),
        "presolved LP relaxation",
    )
    assert presolved_relaxation_bound(_one_integer(0.2, 0.8), options) is None


def test_cbc_bounds_by_the_relaxation_of_the_model_as_built(start):
    _scenario, staged, _plan, lp_bound, _ = start
    options = Scenario.model_validate({"solver": {"name": "cbc"}}).solver
    bound, basis = relaxation_bound(staged, options)
    assert basis == "LP relaxation"
    assert bound == pytest.approx(lp_bound, rel=1e-6)
