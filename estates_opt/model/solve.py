"""The only module that calls a solver. Returns a typed result the caller must read.

Backends: ``pulp`` (PuLP runs the solver: HiGHS through PuLP's highspy
interface, loading the array model as arrays, or CBC on the PuLP expression
model of :mod:`estates_opt.model.pulp_model`) and ``direct`` (the same arrays
handed straight to highspy with no PuLP at all; the practical lower bound of
any modelling layer). Both HiGHS routes load the model with :func:`pass_model`. Both report the solver's *own* status: a time-limit stop
with a plan is ``feasible_time_limit`` with its gap, never "optimal".
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from estates_opt.errors import ScenarioError, SolveInterrupted, SolverUnavailableError
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult, SolveStatus
from estates_opt.scenario import Solver

if TYPE_CHECKING:
    import pulp
    from highspy import Highs, HighsLp

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_native_stdout() -> Iterator[None]:
    """Silence output written by native code (HiGHS prints a banner even with output off)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (some notebook kernels): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def _import_highspy() -> ModuleType:
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - exercised only without highspy
        raise SolverUnavailableError(
            'HiGHS is not installed: run `pip install highspy`, or set solver.name = "cbc".'
        ) from exc
    return highspy


def _highs_status(
    highs: Highs, highspy: ModuleType
) -> tuple[SolveStatus, float | None, float | None]:
    """Map HiGHS's own model status, with the MIP bound and gap when there is one."""
    status = highs.getModelStatus()
    info = highs.getInfo()
    M = highspy.HighsModelStatus
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    bound = gap = None
    if info.mip_node_count >= 0 and math.isfinite(info.mip_dual_bound):
        bound = float(info.mip_dual_bound)
        gap = float(info.mip_gap) if math.isfinite(info.mip_gap) else None
    if status == M.kOptimal:
        return (
            SolveStatus.OPTIMAL,
            bound,
            gap if gap is not None else (0.0 if bound is not None else None),
        )
    if status == M.kInfeasible:
        return SolveStatus.INFEASIBLE, bound, gap
    if status in (M.kUnbounded, M.kUnboundedOrInfeasible):
        return SolveStatus.UNBOUNDED, bound, gap
    limit_states = {M.kTimeLimit, M.kIterationLimit, M.kSolutionLimit, M.kInterrupt}
    if hasattr(M, "kMemoryLimit"):
        limit_states.add(M.kMemoryLimit)
    if status in limit_states:
        if has_solution:
            return SolveStatus.FEASIBLE_TIME_LIMIT, bound, gap
        return SolveStatus.NO_SOLUTION_TIME_LIMIT, bound, gap
    return SolveStatus.ERROR, bound, gap


def _highs_limit(highs: Highs, highspy: ModuleType) -> str | None:
    """The limit HiGHS stopped at, from its model status (None if it did not stop at one)."""
    M = highspy.HighsModelStatus
    status = highs.getModelStatus()
    if status == M.kIterationLimit:
        info = highs.getInfo()
        if getattr(info, "ipm_iteration_count", 0) > 0 and info.simplex_iteration_count <= 0:
            return "interior-point iteration limit (solver.highs_options.ipm_iteration_limit)"
        return "simplex iteration limit (solver.highs_options.simplex_iteration_limit)"
    names = {
        M.kTimeLimit: "time limit",
        M.kSolutionLimit: "node, leaf or solution limit (solver.highs_options.mip_max_nodes, "
        "mip_max_leaves, mip_max_stall_nodes)",
        M.kInterrupt: "interrupt (Ctrl-C)",
    }
    if hasattr(M, "kMemoryLimit"):
        names[M.kMemoryLimit] = "memory limit"
    return names.get(status)


def run_interruptibly(highs: Highs) -> None:
    """``highs.run()``, but Ctrl-C stops HiGHS promptly and raises :class:`SolveInterrupted`.

    HiGHS runs in highspy's solver thread while this thread waits; a
    KeyboardInterrupt here asks HiGHS to stop at its next interrupt check (the
    simplex, interior-point and MIP interrupt callbacks), waits for it to return,
    then raises. Without this, SIGINT is only seen once the native solve has ended.
    """
    highs.HandleUserInterrupt = True
    interrupted = False
    highs.startSolve()
    while True:
        try:
            done, _ = highs.wait(0.1)
        except KeyboardInterrupt:
            interrupted = True
            highs.cancelSolve()
            continue
        if done:
            break
    if interrupted:
        raise SolveInterrupted("the solver was stopped by Ctrl-C before it finished")


def _highs_options(options: Solver, mip: bool) -> dict[str, object]:
    opts: dict[str, object] = {"output_flag": False, "time_limit": float(options.time_limit_s)}
    if mip:
        opts["mip_rel_gap"] = float(options.mip_gap)
    if options.threads:
        opts["threads"] = int(options.threads)
    opts.update(options.highs_options)
    return opts


HIGHS_OPTIONS_URL = "https://ergo-code.github.io/HiGHS/stable/options/definitions/"


def check_highs_options(options: Solver) -> None:
    """Refuse ``solver.highs_options`` HiGHS does not know or will not take.

    HiGHS (and PuLP on top of it) only log a rejected option and solve without
    it, so a misspelt option would silently change nothing.
    """
    if options.name != "highs" or not options.highs_options:
        return
    highspy = _import_highspy()
    problems = []
    with quiet_native_stdout():
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        for key, value in options.highs_options.items():
            if highs.getOptionType(key)[0] != highspy.HighsStatus.kOk:
                problems.append(
                    f"solver.highs_options: HiGHS has no option '{key}'; check the spelling "
                    f"(see {HIGHS_OPTIONS_URL})"
                )
            elif highs.setOptionValue(key, value) != highspy.HighsStatus.kOk:
                problems.append(
                    f"solver.highs_options.{key}: HiGHS does not accept {value!r}; use a value "
                    f"of the option's type and range (see {HIGHS_OPTIONS_URL})"
                )
    if problems:
        raise ScenarioError("; ".join(problems), problems)


def _highs_model(lp: LinearProgram, highspy: ModuleType) -> HighsLp:
    """The LP as a ``HighsLp``: the arrays themselves, the matrix column-wise."""
    csc = lp.matrix.tocsc()
    model = highspy.HighsLp()
    model.num_col_ = csc.shape[1]
    model.num_row_ = csc.shape[0]
    model.col_cost_ = lp.objective
    model.col_lower_ = lp.col_lower
    model.col_upper_ = np.where(np.isinf(lp.col_upper), highspy.kHighsInf, lp.col_upper)
    model.row_lower_ = np.where(np.isinf(lp.row_lower), -highspy.kHighsInf, lp.row_lower)
    model.row_upper_ = np.where(np.isinf(lp.row_upper), highspy.kHighsInf, lp.row_upper)
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = csc.indptr
    model.a_matrix_.index_ = csc.indices
    model.a_matrix_.value_ = csc.data
    model.a_matrix_.num_col_ = csc.shape[1]
    model.a_matrix_.num_row_ = csc.shape[0]
    if lp.is_mip:
        model.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in lp.integer
        ]
    return model


def pass_model(highs: Highs, highspy: ModuleType, lp: LinearProgram) -> None:
    """Give ``highs`` the model (and its MIP start, if any): the one place both HiGHS
    routes load it."""
    highs.passModel(_highs_model(lp, highspy))
    _set_start(highs, highspy, lp)


def _highs_result(
    highs: Highs,
    highspy: ModuleType,
    lp: LinearProgram,
    backend: str,
    seconds: float,
    model_seconds: float = 0.0,
) -> SolveResult:
    """What HiGHS said, read the same way on both routes."""
    status, bound, gap = _highs_status(highs, highspy)
    n = lp.shape[0]
    values = np.full(n, np.nan)
    duals = None
    objective = math.nan
    if status.has_plan:
        solution = highs.getSolution()
        values = np.asarray(solution.col_value, dtype=float)
        if not lp.is_mip and solution.dual_valid:
            duals = np.asarray(solution.row_dual, dtype=float)
        objective = float(highs.getInfo().objective_function_value)
    return SolveResult(
        status,
        objective,
        bound,
        gap,
        values,
        duals,
        "highs",
        backend,
        seconds,
        model_seconds,
        limit=_highs_limit(highs, highspy),
    )


def _set_start(highs: Highs, highspy: ModuleType, lp: LinearProgram) -> None:
    """Give HiGHS the model's known feasible MIP solution, if any, to start from."""
    if lp.start is None or not lp.is_mip or highs.getNumCol() != len(lp.start):
        return
    solution = highspy.HighsSolution()
    solution.col_value = np.asarray(lp.start, dtype=float).tolist()
    solution.value_valid = True
    highs.setSolution(solution)


def solve_direct(lp: LinearProgram, options: Solver) -> SolveResult:
    """Hand the arrays to highspy (column-wise matrix) and solve."""
    highspy = _import_highspy()
    started = time.perf_counter()
    with quiet_native_stdout():
        highs = highspy.Highs()
    for key, value in _highs_options(options, lp.is_mip).items():
        highs.setOptionValue(key, value)
    pass_model(highs, highspy, lp)
    run_interruptibly(highs)
    return _highs_result(highs, highspy, lp, "direct", time.perf_counter() - started)


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
            run_interruptibly(lp.solverModel)  # Ctrl-C stops HiGHS promptly

        def actualSolve(self, lp: pulp.LpProblem) -> int:  # noqa: N802 - PuLP's name
            self.createAndConfigureSolver(lp)
            self.buildSolverModel(lp)
            self.callSolver(lp)
            status, _, _ = _highs_status(lp.solverModel, highspy)
            code, solution = codes.get(
                status, (pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
            )
            lp.assignStatus(code, solution)
            return code

    return ArrayHiGHS


def _solve_pulp_highs(lp: LinearProgram, options: Solver) -> SolveResult | None:
    """HiGHS run by PuLP on the array model (None where PuLP's HiGHS class differs)."""
    import pulp

    highspy = _import_highspy()
    solver_class = _array_highs_class()
    if solver_class is None:
        return None
    started = time.perf_counter()
    params = {
        k: v
        for k, v in _highs_options(options, lp.is_mip).items()
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
    return _highs_result(highs, highspy, lp, "pulp", seconds, seconds - highs.getRunTime())


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
        _import_highspy()
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
    status, bound, gap = _pulp_status(prob, returned, options.name)
    limit = None
    if options.name == "highs" and getattr(prob, "solverModel", None) is not None:
        import highspy

        limit = _highs_limit(prob.solverModel, highspy)
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


def _pulp_status(
    prob: pulp.LpProblem, returned: int | Any, solver_name: str
) -> tuple[SolveStatus, float | None, float | None]:
    """Read the status on PuLP 3.x (int + problem attributes) or 4.x (LpSolveStats)."""
    if not isinstance(returned, int):  # PuLP 4: an LpSolveStats object
        code = int(returned.status)
        has_solution = bool(returned.has_solution)
        bound = getattr(returned, "best_bound", None)
        gap = getattr(returned, "gap_rel", None)
        if code == 1 and has_solution:
            return SolveStatus.OPTIMAL, bound, gap
        if code == -1:
            return SolveStatus.INFEASIBLE, bound, gap
        if code == -2:
            return SolveStatus.UNBOUNDED, bound, gap
        if has_solution:
            return SolveStatus.FEASIBLE_TIME_LIMIT, bound, gap
        if code in (-4, -8, -10, -11):
            return SolveStatus.NO_SOLUTION_TIME_LIMIT, bound, gap
        return SolveStatus.ERROR, bound, gap
    if solver_name == "highs" and getattr(prob, "solverModel", None) is not None:
        import highspy

        return _highs_status(prob.solverModel, highspy)
    # PuLP 3.x with CBC: status 1 can follow a time-limit stop; sol_status tells them apart.
    sol_status = getattr(prob, "sol_status", None)
    if prob.status == 1 and sol_status == 1:
        return SolveStatus.OPTIMAL, None, None
    if sol_status == 2:
        return SolveStatus.FEASIBLE_TIME_LIMIT, None, None
    if prob.status == -1:
        return SolveStatus.INFEASIBLE, None, None
    if prob.status == -2:
        return SolveStatus.UNBOUNDED, None, None
    if prob.status == 0:
        return SolveStatus.NO_SOLUTION_TIME_LIMIT, None, None
    return SolveStatus.ERROR, None, None


def solve_model(lp: LinearProgram, options: Solver) -> SolveResult:
    """Solve ``lp`` with the configured solver; for a MIP, also get duals of the fixed LP."""
    if options.backend == "direct" and options.name != "highs":
        raise SolverUnavailableError(
            "the 'direct' backend is HiGHS only; use backend = \"pulp\" for CBC."
        )
    check_highs_options(options)
    solve = solve_direct if options.backend == "direct" else solve_pulp
    result = solve(lp, options)
    log.info(
        "solved with %s/%s: %s, objective %.2f in %.2f s",
        result.solver,
        result.backend,
        result.status,
        result.objective,
        result.seconds,
    )
    if result.status.has_plan and lp.is_mip:
        fixed = fix_integers(lp, result.values)
        relaxed = solve(fixed, options)
        if relaxed.status.has_plan:
            result = replace(result, duals=relaxed.duals)
    return result


def fix_integers(lp: LinearProgram, values: np.ndarray) -> LinearProgram:
    """The LP used to price a MIP's rooms: opening decisions fixed, sessions relaxed.

    Fixing the whole-session counts too would pin every allocation and make every
    capacity dual zero; keeping the building decisions (which rooms exist) and
    relaxing session integrality gives the marginal value of a room-hour in the
    plan's chosen estate.
    """
    lower = lp.col_lower.copy()
    upper = lp.col_upper.copy()
    decisions = lp.integer & (lp.columns["family"].to_numpy() == "open")
    rounded = np.round(values[decisions])
    lower[decisions] = rounded
    upper[decisions] = rounded
    return replace(lp, col_lower=lower, col_upper=upper, integer=np.zeros_like(lp.integer))
