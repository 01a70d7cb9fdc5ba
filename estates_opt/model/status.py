"""The solver's own status, read into a :class:`SolveStatus` (HiGHS, PuLP 3.x and 4.x).

A time-limit stop with a plan is ``feasible_time_limit`` with its gap, never
"optimal"; the limit HiGHS stopped at is named for the report.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import TYPE_CHECKING, Any

from estates_opt.model.result import SolveStatus

if TYPE_CHECKING:
    import pulp
    from highspy import Highs


def highs_status(
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


def highs_limit(highs: Highs, highspy: ModuleType) -> str | None:
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


def pulp_status(
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

        return highs_status(prob.solverModel, highspy)
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
