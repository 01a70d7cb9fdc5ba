"""The PuLP route: HiGHS run by PuLP on the array model, or CBC on the PuLP expression model.

PuLP configures and runs the solver; for HiGHS it loads the arrays with the
direct route's :func:`~estates_opt.model.highs_direct.pass_model`, for CBC it
solves the expression model of :mod:`estates_opt.model.pulp_model`.
"""

from __future__ import annotations

import math
import os
import time
from typing import TYPE_CHECKING

import numpy as np

from estates_opt.errors import SolverUnavailableError
from estates_opt.model.highs_direct import (
    highs_options,
    highs_result,
    import_highspy,
    pass_model,
    quiet_native_stdout,
    run_interruptibly,
)
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult, SolveStatus
from estates_opt.model.status import highs_limit, highs_status, pulp_status
from estates_opt.scenario import Solver

if TYPE_CHECKING:
    import pulp


def _cbc_solver(options: Solver, mip: bool) -> pulp.COIN_CMD:
    import shutil

    import pulp

    # COIN_CMD, not the deprecated PULP_CBC_CMD (a DeprecationWarning on PuLP 3.3, gone in
    # PuLP 4): it runs `cbc` from PATH, else the binary PuLP 3 bundles.
    path = None
    if shutil.which("cbc") is None:
        bundled = getattr(getattr(pulp.apis, "coin_api", None), "pulp_cbc_path", None)
        if bundled and os.path.isfile(bundled):
            path = bundled
    solver = pulp.COIN_CMD(
        msg=False,
        timeLimit=options.time_limit_s,
        gapRel=options.mip_gap if mip else None,
        threads=options.threads,
        path=path,
    )
    if not solver.available():
        raise SolverUnavailableError(
            "CBC is not available: run `pip install 'pulp[cbc]'` or `apt-get install coinor-cbc`, "
            'or set solver.name = "highs".'
        )
    return solver


def _array_highs_class() -> type[pulp.HiGHS] | None:
    """PuLP's HiGHS solver, loading the model from the arrays it already is.

    PuLP configures and runs HiGHS (options, time limit, gap, threads, callbacks,
    its status codes on the problem); what it would otherwise do first, make a
    Python object per variable, term and row and turn them back into arrays for
    highspy (3x HiGHS's own time on a national model), is replaced by
    :func:`pass_model`, the same call the direct route makes. So the two routes
    solve one model, and the PuLP route costs what PuLP's set-up costs.
    """
    import highspy
    import pulp

    if not all(hasattr(pulp.HiGHS, hook) for hook in ("createAndConfigureSolver", "actualSolve")):
        return None

    codes = {
        SolveStatus.OPTIMAL: (pulp.LpStatusOptimal, pulp.LpSolutionOptimal),
        SolveStatus.FEASIBLE_TIME_LIMIT: (pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible),
        SolveStatus.INFEASIBLE: (pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible),
        SolveStatus.UNBOUNDED: (pulp.LpStatusUnbounded, pulp.LpSolutionUnbounded),
    }

    class ArrayHiGHS(pulp.HiGHS):
        program: LinearProgram

        def buildSolverModel(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP's name
            pass_model(lp.solverModel, highspy, self.program)

        def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP's name
            run_interruptibly(lp.solverModel)  # Ctrl-C stops a MIP at its next check

        def actualSolve(self, lp: pulp.LpProblem) -> int:  # noqa: N802 - PuLP's name
            self.createAndConfigureSolver(lp)
            self.buildSolverModel(lp)
            self.callSolver(lp)
            status, _, _ = highs_status(lp.solverModel, highspy)
            code, solution = codes.get(
                status, (pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
            )
            lp.assignStatus(code, solution)
            return code

    return ArrayHiGHS


def _solve_pulp_highs(lp: LinearProgram, options: Solver) -> SolveResult | None:
    """HiGHS run by PuLP on the array model (None where PuLP's HiGHS class differs)."""
    import pulp

    highspy = import_highspy()
    solver_class = _array_highs_class()
    if solver_class is None:
        return None
    started = time.perf_counter()
    params = {
        k: v
        for k, v in highs_options(options, lp.is_mip).items()
        if k not in ("output_flag", "time_limit", "mip_rel_gap", "threads")
    }
    solver = solver_class(
        msg=False,
        timeLimit=options.time_limit_s,
        gapRel=options.mip_gap if lp.is_mip else None,
        threads=options.threads,
        **params,
    )
    solver.program = lp
    prob = pulp.LpProblem("estates_opt", pulp.LpMinimize)
    with quiet_native_stdout():
        prob.solve(solver)
    seconds = time.perf_counter() - started
    highs = prob.solverModel
    return highs_result(highs, highspy, lp, "pulp", seconds, seconds - highs.getRunTime())


def solve_pulp(lp: LinearProgram, options: Solver) -> SolveResult:
    """Solve through PuLP: HiGHS loading the arrays, or CBC on the PuLP expression model."""
    if options.name == "highs":
        result = _solve_pulp_highs(lp, options)
        if result is not None:
            return result
    from estates_opt.model.pulp_model import to_pulp

    model = to_pulp(lp)
    prob = model.problem
    started = time.perf_counter()
    if options.name == "highs":  # a PuLP whose HiGHS class lacks the hooks used above
        import_highspy()
        import pulp

        solver = pulp.HiGHS(
            msg=False,
            timeLimit=options.time_limit_s,
            gapRel=options.mip_gap if lp.is_mip else None,
            threads=options.threads,
            **options.highs_options,
        )
    else:
        solver = _cbc_solver(options, lp.is_mip)
    with quiet_native_stdout():
        returned = prob.solve(solver)
    seconds = time.perf_counter() - started
    status, bound, gap = pulp_status(prob, returned, options.name)
    limit = None
    if options.name == "highs" and getattr(prob, "solverModel", None) is not None:
        import highspy

        limit = highs_limit(prob.solverModel, highspy)
    elif status in (SolveStatus.FEASIBLE_TIME_LIMIT, SolveStatus.NO_SOLUTION_TIME_LIMIT):
        limit = "time limit"  # the only limit estates-opt gives CBC
    values = np.array([np.nan if v.varValue is None else v.varValue for v in model.variables])
    duals = None
    if status.has_plan and not lp.is_mip:
        by_name = {c.name: c.pi for c in prob.constraints()}
        duals = np.array(
            [by_name.get(n) if by_name.get(n) is not None else 0.0 for n in model.row_names],
            dtype=float,
        )
    objective = float(lp.objective @ np.nan_to_num(values)) if status.has_plan else math.nan
    if status.has_plan and lp.is_mip and bound is not None and gap is None:
        gap = abs(objective - bound) / max(abs(objective), 1e-9)
    return SolveResult(
        status,
        objective,
        bound,
        gap,
        values,
        duals,
        options.name,
        "pulp",
        seconds,
        model.build_seconds,
        limit=limit,
    )
