"""Exact decomposition: solve independent blocks of the LP separately, in parallel.

PCNs and sites that cannot reach each other share no column, so the model
falls apart into blocks: the connected components of the bipartite graph whose
nodes are rows and columns and whose edges are the matrix's nonzeros. Nothing
couples two components (the objective is a sum over columns and every row lies
inside one component), so solving each alone and putting the values side by
side gives an optimal solution of the whole, with the same objective; row
duals stay valid too, since each row belongs to exactly one block.

Components are packed into a few balanced blocks (by nonzeros), each solved by
:func:`estates_opt.model.solve.solve_model` in its own process via
:func:`estates_opt.parallel.map_parallel`, locally or on a Dask cluster. A
``move_budget`` row couples every column, so such a model (or any model that is
one component) is solved whole.
"""

from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult, SolveStatus
from estates_opt.model.solve import solve_model
from estates_opt.model.step_worker import StepWorker, solve_pair
from estates_opt.parallel import map_parallel
from estates_opt.scenario import Solver

log = logging.getLogger(__name__)


#: Status severity when blocks disagree: the combined result reports the worst.
_SEVERITY = {
    SolveStatus.OPTIMAL: 0,
    SolveStatus.IMPROVED: 1,
    SolveStatus.FEASIBLE_TIME_LIMIT: 1,
    SolveStatus.NO_SOLUTION_TIME_LIMIT: 2,
    SolveStatus.UNBOUNDED: 3,
    SolveStatus.INFEASIBLE: 4,
    SolveStatus.ERROR: 5,
}
#: Blocks per worker: more than one, so a big block does not leave a core idle.
BLOCKS_PER_WORKER = 2


@dataclass(frozen=True)
class Blocks:
    """Which block each column and row belongs to, how many blocks, from how many components."""

    count: int
    column_block: np.ndarray
    row_block: np.ndarray
    components: int


def components(lp: LinearProgram) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected components of the row-column graph: (count, column labels, row labels)."""
    m, n = lp.matrix.shape
    pattern = lp.matrix.tocoo()
    graph = sp.coo_matrix(
        (np.ones(pattern.nnz, dtype=np.int8), (pattern.col, n + pattern.row)), shape=(n + m, n + m)
    )
    count, labels = connected_components(graph, directed=False)
    return int(count), labels[:n], labels[n:]


def find_blocks(lp: LinearProgram, max_blocks: int) -> Blocks:
    """Pack the LP's components into at most ``max_blocks`` blocks of similar size.

    Largest components first, each into the lightest block so far (sizes are
    nonzeros plus one per column and row, a proxy for solve effort).
    """
    count, col_label, row_label = components(lp)
    weight = np.bincount(col_label, minlength=count) + np.bincount(row_label, minlength=count)
    weight = weight + np.bincount(col_label[lp.matrix.tocoo().col], minlength=count)
    blocks = max(1, min(max_blocks, count))
    load = np.zeros(blocks)
    block_of = np.empty(count, dtype=np.int64)
    for component in np.argsort(-weight, kind="stable"):
        target = int(np.argmin(load))
        block_of[component] = target
        load[target] += weight[component]
    return Blocks(blocks, block_of[col_label], block_of[row_label], count)


def sub_program(lp: LinearProgram, columns: np.ndarray, rows: np.ndarray) -> LinearProgram:
    """The LP restricted to ``columns`` and ``rows`` (positions), with what a solve needs.

    Frames keep only the names a solver backend reads (``family``, ``row_name``),
    so blocks are cheap to send to other processes.
    """
    return LinearProgram(
        columns=lp.columns[["family"]].iloc[columns].reset_index(drop=True),
        rows=lp.rows[["family", "row_name"]].iloc[rows].reset_index(drop=True),
        matrix=lp.matrix[rows][:, columns].tocsr(),
        objective=lp.objective[columns],
        terms={},
        col_lower=lp.col_lower[columns],
        col_upper=lp.col_upper[columns],
        row_lower=lp.row_lower[rows],
        row_upper=lp.row_upper[rows],
        integer=lp.integer[columns],
        demand=pd.DataFrame(),
        slots=pd.DataFrame(),
    )


def _solve_block(job: tuple[LinearProgram, Solver]) -> SolveResult:
    """One block (module-level so worker processes can import it by name)."""
    block, options = job
    return solve_model(block, options)


def solve_decomposed(
    lp: LinearProgram,
    options: Solver,
    *,
    processes: int | None = None,
    dask: bool = False,
    scheduler: str | None = None,
    max_blocks: int | None = None,
) -> SolveResult:
    """Solve ``lp`` block by block in parallel and stitch the results into one.

    Values and row duals are put back in the full model's positions; the status
    is the worst block's, the objective (and a MIP's best bound) the sum over
    blocks. ``processes``, ``dask`` and ``scheduler`` choose where blocks run
    (see :func:`estates_opt.parallel.map_parallel`); ``max_blocks`` defaults to
    two per worker.
    """
    started = time.perf_counter()
    if (lp.rows["family"] == "move_budget").any():
        log.info("decompose: the move budget couples every column; solving the model whole")
        return solve_model(lp, options)
    workers = processes or os.cpu_count() or 1
    plan = find_blocks(lp, max_blocks or BLOCKS_PER_WORKER * workers)
    if plan.count <= 1:
        log.info("decompose: the model is one block; solving it whole")
        return solve_model(lp, options)
    jobs = []
    positions = []
    for block in range(plan.count):
        columns = np.flatnonzero(plan.column_block == block)
        rows = np.flatnonzero(plan.row_block == block)
        positions.append((columns, rows))
        jobs.append((sub_program(lp, columns, rows), options))
    results = map_parallel(_solve_block, jobs, processes=processes, dask=dask, scheduler=scheduler)
    combined = stitch(lp, positions, results, options, time.perf_counter() - started)
    log.info(
        "decompose: %d components in %d blocks, %s, objective %.2f in %.2f s",
        plan.components,
        plan.count,
        combined.status,
        combined.objective,
        combined.seconds,
    )
    return combined


def stitch(
    lp: LinearProgram,
    positions: list[tuple[np.ndarray, np.ndarray]],
    results: list[SolveResult],
    options: Solver,
    seconds: float,
) -> SolveResult:
    """One result for ``lp`` from each block's result and its (columns, rows) positions."""
    m, n = lp.matrix.shape
    status = max((r.status for r in results), key=_SEVERITY.__getitem__)
    values = np.full(n, np.nan)
    duals: np.ndarray | None = np.zeros(m)
    for (columns, rows), result in zip(positions, results, strict=True):
        values[columns] = result.values
        if duals is not None and result.duals is not None:
            duals[rows] = result.duals
        elif len(rows):
            duals = None
    has_plan = status.has_plan
    objective = math.fsum(r.objective for r in results) if has_plan else math.nan
    bound = gap = None
    if lp.is_mip and has_plan:
        # A block with no integer columns solved to optimality is its own bound.
        bounds = [
            r.best_bound
            if r.best_bound is not None
            else (r.objective if r.status is SolveStatus.OPTIMAL else None)
            for r in results
        ]
        if all(b is not None for b in bounds):
            bound = math.fsum(b for b in bounds if b is not None)
            gap = abs(objective - bound) / max(abs(objective), 1e-9)
    first = results[0]
    return SolveResult(
        status=status,
        objective=objective,
        best_bound=bound,
        gap=gap,
        values=values,
        duals=duals if has_plan else None,
        solver=first.solver,
        backend=options.backend,
        seconds=seconds,
        pulp_build_seconds=math.fsum(r.pulp_build_seconds for r in results),
        limit=next((r.limit for r in results if r.limit), None),
    )


def rows_that_cannot_bind(lp: LinearProgram, tolerance: float = 1e-9) -> np.ndarray:
    """Rows no point within the column bounds can violate (activity bounds inside row bounds).

    Such a row couples nothing: the whole-session model's ``move_tolerance`` row, before
    stage 2 sets it, is bounded by every added session at once and spans every clinic.
    """
    matrix = lp.matrix.tocsr()
    positive, negative = matrix.maximum(0), matrix.minimum(0)

    def extreme(for_positive: np.ndarray, for_negative: np.ndarray) -> np.ndarray:
        """positive @ for_positive + negative @ for_negative, +inf where a bound is infinite."""
        total = positive @ np.where(np.isfinite(for_positive), for_positive, 0.0) + negative @ (
            np.where(np.isfinite(for_negative), for_negative, 0.0)
        )
        pos_inf = (positive != 0) @ (~np.isfinite(for_positive)).astype(float)
        neg_inf = (negative != 0) @ (~np.isfinite(for_negative)).astype(float)
        return np.where((pos_inf + neg_inf) > 0, np.inf, total)

    largest = extreme(lp.col_upper, lp.col_lower)
    smallest = -extreme(-lp.col_lower, -lp.col_upper)
    return (largest <= lp.row_upper + tolerance) & (smallest >= lp.row_lower - tolerance)


def solve_by_components(
    lp: LinearProgram, options: Solver, worker: StepWorker | None = None
) -> SolveResult | None:
    """Solve each independent component on its own, two at once with ``worker``.

    HiGHS's MIP does not split a model into its components: England's least-movement
    stage (121 independent areas once its non-binding ``move_tolerance`` row is set
    aside) took 47.5 s whole and 10.7 s component by component, each proved optimal.
    Components go largest first, in pairs: one here, one in the worker (if it runs).
    Rows that cannot bind belong to no component, hold whatever the values, and get
    a zero dual. Returns None when the model is one component (solve it whole).
    """
    started = time.perf_counter()
    n = lp.matrix.shape[1]
    rows = np.flatnonzero(~rows_that_cannot_bind(lp))
    count, col_label, row_label = components(sub_program(lp, np.arange(n), rows))
    if count <= 1:
        return None
    col_order = np.argsort(col_label, kind="stable")
    col_groups = np.split(col_order, np.cumsum(np.bincount(col_label, minlength=count))[:-1])
    row_order = np.argsort(row_label, kind="stable")
    row_groups = np.split(row_order, np.cumsum(np.bincount(row_label, minlength=count))[:-1])
    rowless = np.array([g.size == 0 for g in row_groups])
    loose = np.concatenate([col_groups[k] for k in np.flatnonzero(rowless)] or [np.zeros(0, int)])
    loose_values = np.where(lp.objective[loose] >= 0, lp.col_lower[loose], lp.col_upper[loose])
    if not np.isfinite(loose_values).all():
        return None  # unbounded alone: let the whole solve report it
    largest_first = [
        k for k in np.argsort([-g.size for g in col_groups], kind="stable") if not rowless[k]
    ]
    positions = [(col_groups[k], rows[row_groups[k]]) for k in largest_first]
    jobs = [sub_program(lp, columns, block_rows) for columns, block_rows in positions]
    results = [
        r for i in range(0, len(jobs), 2) for r in solve_pair(jobs[i : i + 2], options, worker)
    ]
    combined = stitch(lp, positions, results, options, time.perf_counter() - started)
    if loose.size:  # columns in no row sit at their cheaper bound
        values = combined.values.copy()
        values[loose] = loose_values
        offset = float(lp.objective[loose] @ loose_values)
        objective = combined.objective + offset
        bound = combined.best_bound + offset if combined.best_bound is not None else None
        gap = abs(objective - bound) / max(abs(objective), 1e-9) if bound is not None else None
        combined = replace(combined, values=values, objective=objective, best_bound=bound, gap=gap)
    log.info(
        "%d independent components solved, %s in %.2f s",
        count,
        combined.status,
        combined.seconds,
    )
    return combined
