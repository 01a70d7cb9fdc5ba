"""Least disruption first: a two-stage (lexicographic) solve of the whole-session model.

Stage 1 solves the model in whole sessions with movement as the objective (unmet
demand keeps its penalty; the relocation decisions are relaxed): the least hours/week
any plan must add beyond today's sessions to meet demand, the caps and the contract.
The figure reported is proved (stage 1's optimum, or its bound where it stops within
the gap: :func:`proven_least_movement`), so the plan's ratio to it (hours added, the
same measure) is an honest measure of extra disruption; the verifier checks that a
plan meeting all demand adds no less.
Stage 2 solves the full MIP (travel, cost, relocations) with hours moved held within
``relocation.tolerance`` of the least (row ``move_tolerance``; going beyond it is
possible only at ``excess_gbp_per_hour``, so the model is never made infeasible).
With a community aim (``[strategy]``), stage 1 reaches it as far as it can, counted
with unmet demand, and stage 2 keeps that (:func:`holding_the_aim`).
Both stages run on HiGHS or CBC alike: stage 2 is an ordinary MIP with one more row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from estates_opt.model.bounds import least_relocations, relaxation_bound
from estates_opt.model.decompose import solve_by_components
from estates_opt.model.neighbourhood_search import (
    row_excess,
    search_neighbourhoods,
    with_highs_defaults,
)
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult, SolveStatus
from estates_opt.model.solve import fix_integers
from estates_opt.model.step_worker import StepWorker, solve_step
from estates_opt.scenario import Scenario

log = logging.getLogger(__name__)


def least_movement(
    lp: LinearProgram, scenario: Scenario, worker: StepWorker | None = None
) -> tuple[float, SolveResult]:
    """Stage 1: the least hours/week a whole-session plan moves.

    Sessions (placed and unmet) stay whole; the relocation and specialty-site decisions
    are relaxed (they carry no cost in this stage; with building limits the decisions
    those limits count stay binary; with specialty-site limits the stage is solved again
    within them, :func:`_within_specialty_limits`): a model HiGHS solves to
    optimality in about a second at NEL scale. Nothing in it links areas that cannot
    reach each other, so independent areas (England's 121) are solved one by one,
    two at once with ``worker`` if it is free (:func:`~estates_opt.model.decompose.solve_by_components`;
    while it works out the bounds of stage 2, all here).
    """
    moved = lp.moved_hours()
    family = lp.columns["family"].to_numpy()
    # Sessions stay whole, and so do the decisions the building limits count (they cost
    # nothing here), so that stage 1's plan is a feasible start for stage 2.
    # Unmet demand stays in whole sessions too: a fractional unmet column in the start
    # made every borough step infeasible once the rest was fixed (England, with unmet).
    limited = bool((family == "site_use").any())
    relaxed = ["specialty_site"] if limited else ["specialty_site", "site_use", "relocate"]
    first = replace(
        lp,
        objective=moved + lp.terms["unmet"],
        integer=lp.integer & ~np.isin(family, relaxed),
        start=None,
    )
    result = solve_by_components(first, scenario.solver, worker) or solve_step(
        first, scenario.solver
    )
    if (lp.rows["family"] == "specialty_sites").any() and result.status.has_plan:
        result = _within_specialty_limits(lp, first, result, scenario, worker)
    hours = float(moved @ result.values) if result.status.has_plan else float("nan")
    log.info("least movement: %.1f h/week (stage 1, %.2f s)", hours, result.seconds)
    return hours, result


def _within_specialty_limits(
    lp: LinearProgram,
    first: LinearProgram,
    relaxed: SolveResult,
    scenario: Scenario,
    worker: StepWorker | None,
) -> SolveResult:
    """Stage 1 again, the decisions binary, each outpatient specialty choosing its sites
    of each borough, within the limit, among the twice as many the relaxed stage 1 used
    most (pinned sites first; today's hours, then the site id, break ties).

    Relaxed, the specialty-site decisions let stage 1 spread a specialty over more sites
    than the limit, and that start survived the borough steps (NEL with two sites a
    borough: msk in 5-6 of each); binary over every site, stage 1 reached the 600 s time
    limit with 354 h/week unmet; held to the limit's busiest sites alone, 533 h/week went
    unmet; choosing among twice as many, 307. The relaxed stage's bound stays the proved
    least (no plan within the limits moves less), so the plan's ratio to it stays honest.
    """
    cols, limit = lp.columns, scenario.relocation.max_sites_per_specialty_per_borough
    assert limit is not None  # the caller checked the model has the limit's rows
    family = cols["family"].to_numpy()
    sites = np.flatnonzero(family == "specialty_site")
    x = (family == "x") & (cols["category"] == "outpatient_outreach").to_numpy()
    used = cols.loc[x, ["service_id", "site_id"]].assign(
        hours=relaxed.values[x] * cols.loc[x, "hours_per_unit"].to_numpy(float),
        pinned=lp.col_lower[x] > 0,
    )
    used = used.groupby(["service_id", "site_id"], as_index=False)[["hours", "pinned"]].sum()
    spec = cols.iloc[sites][["service_id", "site_id", "borough", "today_hours"]].merge(
        used, on=["service_id", "site_id"], how="left"
    )
    spec = spec.assign(position=sites).fillna({"hours": 0.0, "pinned": 0})
    ranked = spec.sort_values(
        ["service_id", "borough", "pinned", "hours", "today_hours", "site_id"],
        ascending=[True, True, False, False, False, True],
        kind="stable",
    )
    kept = ranked.groupby(["service_id", "borough"], sort=False).head(2 * limit)
    upper = first.col_upper.copy()
    upper[np.setdiff1d(sites, kept["position"].to_numpy(int))] = 0.0
    held = replace(first, col_upper=upper, integer=first.integer | (family == "specialty_site"))
    result = solve_by_components(held, scenario.solver, worker) or solve_step(held, scenario.solver)
    if not result.status.has_plan:
        return relaxed
    bound = relaxed.best_bound if relaxed.best_bound is not None else relaxed.objective
    objective = float(held.objective @ result.values)
    gap = (objective - bound) / max(abs(objective), 1e-9) if bound is not None else None
    log.info(
        "least movement within the specialty-site limits: %.1f (relaxed bound %.1f)",
        objective,
        bound,
    )
    return replace(
        result,
        best_bound=min(bound, result.best_bound if result.best_bound is not None else bound),
        gap=max(gap or 0.0, result.gap or 0.0),
        seconds=relaxed.seconds + result.seconds,
    )


def proven_least_movement(lp: LinearProgram, first: SolveResult, hours: float) -> float:
    """The least movement stage 1 proves, for the plan's ratio to it.

    Stage 1 stops within the scenario's MIP gap, so its plan's ``hours`` may sit above
    the true least (NEL with two sites per specialty per borough: 14,484 found, 14,476
    the least, and stage 2 found a plan adding 14,476). Short of optimality the stage's
    best bound is the honest figure, when its plan leaves nothing unmet: no plan that
    meets all demand adds less. The tolerance row stays anchored on ``hours``, so
    stage 1's plan remains a feasible start for stage 2.
    """
    bound = first.best_bound
    if first.gap is None or first.gap <= 1e-9 or bound is None or not np.isfinite(bound):
        return hours
    if float(lp.terms["unmet"] @ first.values) > 1e-6:
        return hours
    return min(hours, max(0.0, float(bound)))


def decisions_of(lp: LinearProgram, values: np.ndarray) -> np.ndarray:
    """A whole-session solution with its relocation and specialty-site decisions set.

    Stage 1's plan with each used added slot's relocation on, each used
    (specialty, site) and each clinic's used building of today on: a feasible start
    for stage 2.
    """
    start = values.copy()
    family = lp.columns["family"].to_numpy()
    relocate = np.flatnonzero(family == "relocate")
    if relocate.size:
        added = lp.columns["x_index"].to_numpy()[relocate].astype(int)
        start[relocate] = (values[added] > 0.5).astype(float)
    use = np.flatnonzero(family == "site_use")
    if use.size:
        clinic_site = ["service_id", "pcn_code", "site_id"]
        x = (family == "x") & (values > 0.5)
        used = pd.MultiIndex.from_frame(lp.columns.loc[x, clinic_site])
        key = pd.MultiIndex.from_frame(lp.columns.iloc[use][clinic_site])
        start[use] = np.asarray(key.isin(used), dtype=float)
    sites = np.flatnonzero(family == "specialty_site")
    if sites.size:
        x = family == "x"
        op = x & (lp.columns["category"] == "outpatient_outreach").to_numpy() & (values > 0.5)
        used = pd.MultiIndex.from_frame(lp.columns.loc[op, ["service_id", "site_id"]])
        key = pd.MultiIndex.from_frame(lp.columns.iloc[sites][["service_id", "site_id"]])
        start[sites] = np.asarray(key.isin(used), dtype=float)
    return start


def without_unused_openings(lp: LinearProgram, values: np.ndarray) -> np.ndarray:
    """``values`` with every opened (site, band) that hosts no work closed again.

    An opening decision appears only in its rooms' capacity rows (with a negative
    coefficient) and in the objective at its cost, so closing one whose rooms take no
    hours keeps the plan feasible and makes it cheaper. Stage 1 prices movement alone
    and may open freely; a step that cannot reach a building (its PCNs all in other
    boroughs) would otherwise leave it open.
    """
    opening = np.flatnonzero((lp.columns["family"] == "open").to_numpy() & (values > 0.5))
    if opening.size == 0:
        return values
    by_column = lp.matrix.tocsc()
    rows = by_column[:, opening]
    other = np.ones(lp.matrix.shape[1], bool)
    other[opening] = False
    load = by_column[:, other] @ values[other]
    busy = np.asarray(abs(rows).T @ (np.abs(load) > 1e-9)).ravel() > 0
    closed = values.copy()
    closed[opening[~busy]] = 0.0
    return closed


def within_tolerance(lp: LinearProgram, least: float, tolerance: float) -> LinearProgram:
    """Stage 2's model: the ``move_tolerance`` row capped at (1 + tolerance) x least."""
    rows = np.flatnonzero((lp.rows["family"] == "move_tolerance").to_numpy())
    upper = lp.row_upper.copy()
    upper[rows] = (1.0 + tolerance) * least + 1e-6
    return replace(lp, row_upper=upper, least_movement_hours=least)


def holding_the_aim(lp: LinearProgram, first: SolveResult) -> LinearProgram:
    """Stage 2's model with the community aim's shortfall held to stage 1's.

    Stage 1 reaches the aim (``strategy.community_weekday_utilisation``) as far as any
    plan of least movement can; priced per room-hour in stage 2, the aim would give way
    to a relocation's fixed cost (a 4 h session into a community room saves 4 x 200, a
    relocation costs 4,000), so stage 2 keeps what stage 1 reached instead, as it keeps
    its movement. Stage 1's plan stays a feasible start.
    """
    short = np.flatnonzero((lp.columns["family"] == "community_shortfall").to_numpy())
    if short.size == 0:
        return lp
    upper = lp.col_upper.copy()
    upper[short] = np.maximum(first.values[short], 0.0) + 1e-6
    return replace(lp, col_upper=upper)


def _stopped_early(result: SolveResult) -> bool:
    """Stopped at a limit the user set (not the time limit, not this module's node limits)."""
    limit = result.limit
    return limit is not None and limit != "time limit" and not limit.startswith("node, leaf")


#: Work limits (branch-and-bound nodes) of the whole stage-2 MIP and of each borough's
#: re-optimisation. Work, not time, so a plan never depends on the machine's speed or
#: load: small models are proved optimal within the first; the time limit is a safety net.
WHOLE_MIP_NODES = 500
#: Models with more binary decisions than this skip the whole MIP: at NEL scale (about
#: 9,000) its root node alone takes longer than the borough steps without improving stage 1's plan,
#: while the borough steps improve it.
WHOLE_MIP_MAX_BINARIES = 2000


def solve_staged(
    lp: LinearProgram, scenario: Scenario, groups: Sequence[tuple[str, np.ndarray]] = ()
) -> tuple[LinearProgram, SolveResult]:
    """Stage 1, then stage 2: the full MIP from stage 1's plan, then the neighbourhood search.

    Stage 2 first solves the whole MIP, warm-started from stage 1's plan, within
    :data:`WHOLE_MIP_NODES` (models with more than :data:`WHOLE_MIP_MAX_BINARIES`
    binaries skip it); if that proves its gap, that is the plan. Otherwise ``groups``
    (the boroughs; :func:`search_neighbourhoods` adds the services) are re-optimised from
    its best plan in pairs, one step of each pair in a second process started before
    stage 1 (so its imports, and working out the bounds, overlap stage 1's solve). The returned model carries the least
    movement it was held to; the result's time is both stages'; its bound is the whole
    MIP's or :func:`relaxation_bound`'s, whichever is higher (the gap is honest if loose);
    its duals are those of the plan's LP with the decisions fixed.
    """
    started = time.perf_counter()
    with StepWorker() as worker:
        # the step process imports, then (HiGHS) bounds stage 2, while stage 1 runs here
        search = len(groups) > 1 and _search_only(lp, groups)
        if search and worker.start() and scenario.solver.name == "highs":
            worker.submit(lp, scenario.solver, "bounds")
        return _solve_staged(lp, scenario, groups, worker, started)


def _search_only(lp: LinearProgram, groups: Sequence[tuple[str, np.ndarray]]) -> bool:
    """Stage 2 skips the whole MIP and goes straight to the borough steps."""
    binaries = int((lp.integer & (lp.col_upper <= 1)).sum())
    return bool(groups) and binaries > WHOLE_MIP_MAX_BINARIES


def _solve_staged(
    lp: LinearProgram,
    scenario: Scenario,
    groups: Sequence[tuple[str, np.ndarray]],
    worker: StepWorker,
    started: float,
) -> tuple[LinearProgram, SolveResult]:
    least, first = least_movement(lp, scenario, worker)
    known = worker.bounds()  # from the step process; None if not asked for (or it failed)
    if not first.status.has_plan:
        return lp, first
    staged = holding_the_aim(within_tolerance(lp, least, scenario.relocation.tolerance), first)
    staged = replace(
        staged,
        least_movement_hours=proven_least_movement(lp, first, least),
        least_relocations=(
            known.relocations if known is not None else least_relocations(lp, scenario.solver)
        ),
    )
    solve = solve_step
    start = decisions_of(lp, first.values)
    if _search_only(staged, groups):
        whole = replace(first, status=SolveStatus.FEASIBLE_TIME_LIMIT, values=start, limit=None)
        whole = replace(whole, best_bound=None, gap=None)
    else:
        options = (
            with_highs_defaults(scenario, {"mip_max_nodes": WHOLE_MIP_NODES})
            if groups
            else scenario.solver
        )
        whole = solve(replace(staged, start=start), options)
    if not whole.status.has_plan:
        return staged, whole
    limits = [r.limit for r in (first, whole) if _stopped_early(r)]
    values, bound, gap = whole.values, whole.best_bound, whole.gap
    basis: str | None = None
    status = whole.status
    if status != SolveStatus.OPTIMAL and groups and not limits:
        relaxed, relaxed_basis = (
            (known.objective, known.basis)
            if known is not None
            else relaxation_bound(lp, scenario.solver)
        )
        values, finished = search_neighbourhoods(staged, scenario, values, groups, worker)
        values = _no_dearer_than_without_openings(lp, staged, scenario, values, groups, worker)
        objective = float(staged.objective @ values)
        if relaxed is not None:
            from_lp = bound is None or relaxed >= bound
            basis = relaxed_basis if from_lp else "branch and bound"
            bound = max(relaxed, bound if bound is not None else -np.inf)
        gap = (objective - bound) / max(abs(objective), 1e-9) if bound is not None else None
        within = gap is not None and gap <= scenario.solver.mip_gap
        status = (
            SolveStatus.OPTIMAL
            if within
            else SolveStatus.IMPROVED
            if finished
            else SolveStatus.FEASIBLE_TIME_LIMIT
        )
    if scenario.solver.prove_s > 0 and status != SolveStatus.OPTIMAL and not limits:
        values, bound, gap, status, basis = _prove(staged, scenario, values, bound, status, basis)
    if any(r.limit == "time limit" for r in (first, whole)):
        # stage 1 (or the whole MIP) stopped at the time limit: its least movement, so
        # the tolerance row, is unproved, and the plan may not be optimal either way
        status = SolveStatus.FEASIBLE_TIME_LIMIT
    values = without_unused_openings(staged, values)
    duals = solve(fix_integers(staged, values), scenario.solver).duals
    limit = limits[0] if limits else None
    if status == SolveStatus.FEASIBLE_TIME_LIMIT and limit is None:
        limit = "time limit"
    result = SolveResult(
        SolveStatus.FEASIBLE_TIME_LIMIT if limits else status,
        float(staged.objective @ values),
        bound,
        gap,
        values,
        duals,
        first.solver,
        first.backend,
        time.perf_counter() - started,
        limit=limit,
        bound_basis=basis,
    )
    return staged, result


def _no_dearer_than_without_openings(
    lp: LinearProgram,
    staged: LinearProgram,
    scenario: Scenario,
    values: np.ndarray,
    groups: Sequence[tuple[str, np.ndarray]],
    worker: StepWorker,
) -> np.ndarray:
    """With opening decisions, the plan searched with every opening shut, if it is cheaper.

    The borough search is a heuristic that starts from stage 1's plan, and openings change
    that start: measured on NEL, the evening-hubs scenario (options only) ended 1.8% dearer
    than the baseline plan, which its own options leave open to it. So the search runs again
    without the openings (stage 1, then the search's passes), and the cheaper plan is kept.
    Without them means without their columns: the openable rooms are candidates on top of
    the open ones (:func:`~estates_opt.model.relocations.plausible_candidates`), so what is
    left is the model of the scenario without the options, column for column, and its
    search finds that scenario's plan: a scenario that only adds options is never dearer.
    """
    family = lp.columns["family"].to_numpy()
    if not ((family == "open") & (lp.col_upper > 0)).any():
        return values
    keep = _without_openable(lp)
    shut = _restricted(lp, keep)
    least, first = least_movement(shut, scenario, worker)
    if not first.status.has_plan:
        return values
    shut_staged = holding_the_aim(
        within_tolerance(shut, least, scenario.relocation.tolerance), first
    )
    start = decisions_of(shut, first.values)
    kept_groups = [(name, free[keep]) for name, free in groups]
    found, _ = search_neighbourhoods(shut_staged, scenario, start, kept_groups, worker)
    other = np.zeros(len(lp.columns))
    other[keep] = found
    fitted = _within(staged, other)
    if fitted is None or staged.objective @ fitted >= staged.objective @ values - 1e-6:
        return values
    log.info(
        "the plan with every opening shut is cheaper: %.0f against %.0f",
        staged.objective @ fitted,
        staged.objective @ values,
    )
    return fitted


def _without_openable(lp: LinearProgram) -> np.ndarray:
    """The columns a plan with every opening shut can use: not the opening decisions, nor
    the sessions in rooms that would need opening, nor their relocations."""
    cols = lp.columns
    family = cols["family"].to_numpy()
    state = cols["state"].to_numpy(object) if "state" in cols else np.full(len(cols), None)
    dead = (family == "open") | (state == "openable")
    relocate = np.flatnonzero(family == "relocate")
    if relocate.size:
        dead[relocate[dead[cols["x_index"].to_numpy()[relocate].astype(int)]]] = True
    return ~dead


def _restricted(lp: LinearProgram, keep: np.ndarray) -> LinearProgram:
    """``lp`` with only the columns ``keep`` marks and the rows that still hold one of them
    (every frame and term kept, the relocations' ``x_index`` renumbered)."""
    columns = np.flatnonzero(keep)
    matrix = lp.matrix.tocsr()[:, columns]
    rows = np.flatnonzero(np.diff(matrix.indptr) > 0)
    frame = lp.columns.iloc[columns].reset_index(drop=True)
    if "x_index" in frame:
        renumber = np.cumsum(keep) - 1
        at = frame["x_index"].notna().to_numpy()
        frame.loc[at, "x_index"] = renumber[frame.loc[at, "x_index"].to_numpy().astype(int)]
    return replace(
        lp,
        columns=frame,
        rows=lp.rows.iloc[rows].reset_index(drop=True),
        matrix=matrix[rows].tocsr(),
        objective=lp.objective[columns],
        terms={name: term[columns] for name, term in lp.terms.items()},
        col_lower=lp.col_lower[columns],
        col_upper=lp.col_upper[columns],
        row_lower=lp.row_lower[rows],
        row_upper=lp.row_upper[rows],
        integer=lp.integer[columns],
        start=None,
    )


def _within(lp: LinearProgram, values: np.ndarray) -> np.ndarray | None:
    """``values`` as a plan of ``lp``: its movement excess re-measured against ``lp``'s
    tolerance row; None if it breaks a bound or row of ``lp``."""
    values = values.copy()
    family = lp.columns["family"].to_numpy()
    excess = np.flatnonzero(family == "move_excess")
    tolerance = np.flatnonzero((lp.rows["family"] == "move_tolerance").to_numpy())
    if excess.size and tolerance.size:
        values[excess] = 0.0
        moved = float((lp.matrix[tolerance[0]] @ values)[0])
        values[excess[0]] = max(0.0, moved - float(lp.row_upper[tolerance[0]]))
    slack = 1e-6 * np.maximum(1.0, np.abs(values))
    if np.any(values < lp.col_lower - slack) or np.any(values > lp.col_upper + slack):
        return None
    room = 1e-6 * np.maximum(1.0, np.abs(lp.matrix @ values))
    return None if np.any(row_excess(lp, values) > room) else values


def _prove(
    staged: LinearProgram,
    scenario: Scenario,
    values: np.ndarray,
    bound: float | None,
    status: SolveStatus,
    basis: str | None,
) -> tuple[np.ndarray, float | None, float | None, SolveStatus, str | None]:
    """The whole MIP for ``solver.prove_s`` seconds from the finished plan: its bound, if
    tighter (``basis`` then says so), and its plan, if better (HiGHS is handed the plan as
    a start).

    The LP relaxation, even with the relocation covers and after presolve, is a loose
    bound for fixed relocation costs (NEL: 8.5% from the plan); branch and bound tightens it
    fast at first (NEL: 5.0% after 60 s, finding a plan 1.8% cheaper on the way).
    """
    options = scenario.solver.model_copy(update={"time_limit_s": scenario.solver.prove_s})
    if options.name == "highs":
        options = options.model_copy(update={"backend": "direct"})  # the start needs it
    proof = solve_step(replace(staged, start=values), options)
    objective = float(staged.objective @ values)
    if proof.status.has_plan and float(staged.objective @ proof.values) < objective - 1e-6:
        values = proof.values
        objective = float(staged.objective @ values)
    proved = proof.best_bound
    if proved is not None and np.isfinite(proved) and (bound is None or proved > bound):
        bound, basis = float(proved), "branch and bound"
    gap = (objective - bound) / max(abs(objective), 1e-9) if bound is not None else None
    if gap is not None and gap <= scenario.solver.mip_gap:
        status = SolveStatus.OPTIMAL
    log.info("proof (%.0f s): gap %s, bound from the %s", options.time_limit_s, gap, basis)
    return values, bound, gap, status, basis
