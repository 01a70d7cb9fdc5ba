"""Stage 2's large-neighbourhood search: re-optimise one borough (or one service) at a
time, the rest fixed.

Boroughs are nearly independent (few clinics cross a boundary), so each step is a
small MIP that HiGHS improves at its root node in about a second, on one core, once the
step's own LP relaxation has shut what neither it nor the plan uses
(:func:`relaxation_guided`). A service's step frees its clinics in every borough, which
no borough step can; the default search goes over the boroughs, the services, then the
boroughs again (:data:`PASSES`). Steps go in pairs, the two steps of a pair at once: one
here, one in a
:class:`~estates_opt.model.step_worker.StepWorker` process (threads cannot help:
highspy 1.16 serialises solves on class-level locks). Both steps of a pair start from
the same plan, and each may use half the slack of the rows both can change (a site
cap near a borough line, the movement tolerance), so the two changes together keep
every row within its bounds. Which steps pair up depends on the model alone, so the
plan is the same whether the pair's steps run at once or one after the other.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.cover_rows import without_covers
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult, SolveStatus
from estates_opt.model.step_worker import StepWorker, solve_pair, solve_step
from estates_opt.scenario import Scenario, Solver

log = logging.getLogger(__name__)

#: 1, the root node: on NEL every step's gain comes from HiGHS's root heuristics (its
#: sub-MIPs). Measured with the steps one borough at a time: 50 nodes gave the same plan
#: (objective 3,377,472, 481 relocations) in 76 s of borough steps against 29 s, the
#: nodes' time going to strong branching.
BOROUGH_MIP_NODES = 1
#: HiGHS options of every borough step, measured on NEL's relaxation-guided steps. No
#: restart: HiGHS otherwise presolves a step again after its first root pass, a third of
#: the steps' time for 0.15% of their cost. No root reduced-cost heuristic: the search
#: 1 s faster (5.6-6.1 s -> 4.6-5.2 s) for a plan 0.1% dearer; England 69 s -> 59 s.
STEP_HIGHS_OPTIONS: dict[str, float | int | str | bool] = {
    "mip_max_nodes": BOROUGH_MIP_NODES,
    "mip_allow_restart": False,
    "mip_heuristic_run_root_reduced_cost": False,
}
#: The passes of each ``solver.effort``, in order: over the boroughs or over the services.
#: A borough step cannot move a service's clinics between boroughs together, nor weigh one
#: service's sites against another's elsewhere; a service step can, and the borough pass
#: after it gains from what the services moved. Measured on NEL from stage 1's plan (each
#: pass's objective, relocations, seconds of the search): boroughs 3,393,718 (3.3-3.8 s);
#: then boroughs again 3,306,584, 472 relocations (+1.2-1.5 s, the default until December
#: 2026); then services instead 3,295,674, 468 (+1.6-1.8 s); services then boroughs
#: 3,241,594, 459 (+2.6 s). Services first: 3,481,838, then boroughs 3,340,866.
#: ``deep`` makes two borough passes, then alternates (below): 3,211,682, 454; from the
#: thorough plan the alternation ends at 3,222,355 (the search is a heuristic: its path
#: matters).
PASSES: dict[str, tuple[str, ...]] = {
    "quick": ("boroughs",),
    "thorough": ("boroughs", "services", "boroughs"),
    "deep": ("boroughs", "boroughs"),
}
#: ``effort = "deep"``: after its passes, passes over the services and the boroughs
#: alternate until one gains less than this share of the objective (or after
#: :data:`DEEP_MAX_PASSES` more).
DEEP_MIN_GAIN = 1e-3
DEEP_MAX_PASSES = 8

#: A neighbourhood: its name and the mask of the columns it frees.
Group = tuple[str, np.ndarray]


def with_highs_defaults(
    scenario: Scenario, defaults: Mapping[str, float | int | str | bool]
) -> Solver:
    """The solver options with HiGHS options added (the scenario's own win)."""
    extra = {**defaults, **scenario.solver.highs_options}
    return scenario.solver.model_copy(update={"highs_options": extra})


def neighbourhoods(lp: LinearProgram, dataset: Dataset) -> list[tuple[str, np.ndarray]]:
    """Column groups the improvement step re-optimises (in pairs): one per borough.

    A PCN's columns (its allocations, relocations, shortfalls) belong to its borough;
    a decision about a site alone (a specialty's site, opening a building in a band)
    to the site's borough, so some step can undo it. Few clinics cross a borough
    boundary, so each group is nearly a problem of its own, small enough for HiGHS
    to solve close to optimality in seconds.
    """
    dataset_boroughs = dataset.pcns.set_index("pcn_code")["borough"]
    site_boroughs = dataset.premises.set_index("site_id")["borough"]
    cols = lp.columns
    family = cols["family"].to_numpy()
    borough = (
        cols["pcn_code"].map(dataset_boroughs).to_numpy(object) if "pcn_code" in cols else None
    )
    if borough is None:
        return []
    if "site_id" in cols:
        at_site = cols["site_id"].map(site_boroughs).to_numpy(object)
        no_pcn = cols["pcn_code"].isna().to_numpy()
        borough = np.where((family == "specialty_site") | no_pcn, at_site, borough)
    names = sorted({b for b in borough if isinstance(b, str)})
    always = family == "move_excess"
    return [(name, (borough == name) | always) for name in names]


def service_neighbourhoods(lp: LinearProgram) -> list[Group]:
    """The services pass's column groups: one per service, its clinics in every borough
    (allocations, relocations, its specialty sites, its unmet demand)."""
    if "service_id" not in lp.columns:
        return []
    service = lp.columns["service_id"].to_numpy(object)
    always = (lp.columns["family"] == "move_excess").to_numpy()
    names = sorted({s for s in service if isinstance(s, str)})
    return [(name, (service == name) | always) for name in names]


def search_neighbourhoods(
    lp: LinearProgram,
    scenario: Scenario,
    values: np.ndarray,
    boroughs: Sequence[Group],
    worker: StepWorker | None = None,
) -> tuple[np.ndarray, bool]:
    """The passes of ``solver.effort`` (:data:`PASSES`) from ``values``; with ``deep``,
    services and boroughs then alternate until a pass gains less than
    :data:`DEEP_MIN_GAIN` of the objective.

    Work-limited like every step, so the plan does not depend on the machine. Returns the
    improved values and whether every step finished within its time limit.
    """
    groups = {"boroughs": list(boroughs), "services": service_neighbourhoods(lp)}
    effort = scenario.solver.effort
    current, finished = values, True
    for kind in PASSES[effort]:
        current, done = improve(lp, scenario, current, groups[kind], worker, kind)
        finished &= done
    if effort != "deep":
        return current, finished
    for number in range(DEEP_MAX_PASSES):
        kind = ("services", "boroughs")[number % 2]
        before = float(lp.objective @ current)
        current, done = improve(lp, scenario, current, groups[kind], worker, kind)
        finished &= done
        after = float(lp.objective @ current)
        log.info("deep pass %d (%s): objective %.0f -> %.0f", number + 1, kind, before, after)
        if before - after < DEEP_MIN_GAIN * abs(before):
            break
    return current, finished


def relaxation_guided(step: LinearProgram, options: Solver) -> LinearProgram:
    """The step with every allocation its own LP relaxation and its start leave at 0 fixed.

    The relaxation is the step's (the rest of the plan fixed), so it knows which of the
    borough's slots are worth a look given its neighbours; solving it takes
    hundredths of a second. The MIP then chooses among about a fifth of the
    allocations: on NEL each step is about 3x faster, its plan within about 2% of the
    full step's (either way), and the start stays feasible, so a step never makes the
    plan worse.
    """
    if step.start is None or "family" not in step.columns:
        return step
    relaxed = solve_step(replace(step, integer=np.zeros_like(step.integer), start=None), options)
    if relaxed.status is not SolveStatus.OPTIMAL:  # a relaxation stopped early guides nothing
        return step
    x = (step.columns["family"] == "x").to_numpy() & step.integer
    unused = x & (relaxed.values < 1e-6) & (step.start < 0.5)
    lower, upper = step.col_lower.copy(), step.col_upper.copy()
    lower[unused] = upper[unused] = 0.0  # sessions are at least 0: the start holds them at 0
    return replace(without_covers(step, drop=True), col_lower=lower, col_upper=upper)


def step_model(lp: LinearProgram, free: np.ndarray, current: np.ndarray) -> LinearProgram:
    """One neighbourhood's MIP: the columns outside ``free`` fixed at ``current``.

    The fixed columns' costs are a constant, so they are left out of the step's
    objective: the solver's relative gap then applies to what the step can change.
    With them in, a step stops as soon as it is within the gap of the whole plan's
    cost, which at England scale (121 areas, each under 1% of the total) means no
    step ever searches at all.
    """
    fixed = ~free
    lower, upper = lp.col_lower.copy(), lp.col_upper.copy()
    lower[fixed] = current[fixed]
    upper[fixed] = current[fixed]
    objective = np.where(fixed, 0.0, lp.objective)
    return replace(lp, col_lower=lower, col_upper=upper, objective=objective, start=current)


def _rows_touched(lp: LinearProgram, frees: np.ndarray | sp.spmatrix) -> np.ndarray | sp.spmatrix:
    """Rows x groups: whether a row has a nonzero in a group's free columns (``frees``
    is columns x groups, 1 where the group frees the column)."""
    return (abs(lp.matrix.tocsr()) @ frees) != 0


def step_pairs(lp: LinearProgram, groups: Sequence[Group]) -> list[list[Group]]:
    """The neighbourhoods in pairs solved at once, each with the partner it shares least.

    Two steps of a pair split the slack of every row both touch (:func:`pair_models`),
    which narrows both searches, so a group pairs with the group it shares the fewest
    rows with (boroughs far apart: NEL's pairs share 3 rows besides the movement
    tolerance, against 304 for Barking and Dagenham with Redbridge); among equals, the
    largest (integer columns freed), so a pair's steps take about as long as each other.
    Groups are taken largest first. Depends on the model alone, never on timings.
    """
    if len(groups) < 2:
        return [list(groups)]
    members = [np.flatnonzero(free) for _, free in groups]
    frees = sp.csc_matrix(
        (
            np.ones(sum(m.size for m in members)),
            (np.concatenate(members), np.repeat(np.arange(len(groups)), [m.size for m in members])),
        ),
        shape=(len(lp.columns), len(groups)),
    )
    touched = sp.csr_matrix(_rows_touched(lp, frees), dtype=float)
    shared = (touched.T @ touched).toarray()
    size = [int((free & lp.integer).sum()) for _, free in groups]
    waiting = sorted(range(len(groups)), key=lambda g: (-size[g], groups[g][0]))
    pairs = []
    while waiting:
        first = waiting.pop(0)
        if not waiting:
            pairs.append([groups[first]])
            break
        partner = min(waiting, key=lambda g: (shared[first, g], -size[g], groups[g][0]))
        waiting.remove(partner)
        pairs.append([groups[first], groups[partner]])
    return pairs


def _halve_slack(
    value: np.ndarray, lower: np.ndarray, upper: np.ndarray, where: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds narrowed to half the room ``value`` has below and above, at ``where``."""
    lower, upper = lower.copy(), upper.copy()
    down = np.maximum(value - lower, 0.0) / 2.0
    up = np.maximum(upper - value, 0.0) / 2.0
    lower[where] = np.where(np.isfinite(lower[where]), (value - down)[where], lower[where])
    upper[where] = np.where(np.isfinite(upper[where]), (value + up)[where], upper[where])
    return lower, upper


def pair_models(
    lp: LinearProgram, frees: Sequence[np.ndarray], current: np.ndarray
) -> list[LinearProgram]:
    """The step models of one pair, each with half the slack of what both can change.

    A row both steps' free columns touch, and a column both free, gets half its room
    on each side of today's value in each step; so the two steps' changes, added
    together, keep every row and column within its bounds.
    """
    models = [step_model(lp, free, current) for free in frees]
    if len(frees) < 2:
        return models
    touched = _rows_touched(lp, np.stack(frees, axis=1).astype(float))
    shared_rows = np.asarray(touched[:, 0] & touched[:, 1]).ravel()
    shared_cols = frees[0] & frees[1]
    activity = lp.matrix @ current
    row_lower, row_upper = _halve_slack(activity, lp.row_lower, lp.row_upper, shared_rows)
    narrowed = []
    for model in models:
        col_lower, col_upper = _halve_slack(current, model.col_lower, model.col_upper, shared_cols)
        narrowed.append(
            replace(
                model,
                row_lower=row_lower,
                row_upper=row_upper,
                col_lower=col_lower,
                col_upper=col_upper,
            )
        )
    return narrowed


def compact(step: LinearProgram, free: np.ndarray) -> LinearProgram:
    """A step with its fixed columns taken out: the free columns and the rows they touch.

    The fixed columns' activity moves into the row bounds. HiGHS's presolve would drop
    them too, but only after the whole model is passed (and, for the second process,
    pickled): at England scale a step frees about 1% of 334,000 columns.
    """
    cols = np.flatnonzero(free)
    fixed = step.matrix @ np.where(free, 0.0, step.col_lower)
    own = step.matrix.tocsc()[:, cols].tocsr()
    rows = np.flatnonzero(np.diff(own.indptr) > 0)
    start = step.start[cols] if step.start is not None else None
    return replace(
        step,
        columns=step.columns.iloc[cols].reset_index(drop=True),
        rows=step.rows.iloc[rows].reset_index(drop=True),
        matrix=own[rows],
        objective=step.objective[cols],
        terms={name: term[cols] for name, term in step.terms.items()},
        col_lower=step.col_lower[cols],
        col_upper=step.col_upper[cols],
        row_lower=step.row_lower[rows] - fixed[rows],
        row_upper=step.row_upper[rows] - fixed[rows],
        integer=step.integer[cols],
        start=start,
        demand=pd.DataFrame(),  # what the solver does not read stays behind
        slots=pd.DataFrame(),
        targets=pd.DataFrame(),
    )


def expand(result: SolveResult, free: np.ndarray, current: np.ndarray) -> SolveResult:
    """A compact step's result in the whole model's columns (the fixed ones at ``current``)."""
    if not result.status.has_plan:
        return result
    values = current.copy()
    values[free] = result.values
    return replace(result, values=values, duals=None)


def row_excess(lp: LinearProgram, values: np.ndarray) -> np.ndarray:
    """How far each row's activity lies outside its bounds (0 inside)."""
    activity = lp.matrix @ values
    return np.maximum(np.maximum(lp.row_lower - activity, activity - lp.row_upper), 0.0)


def _no_worse(lp: LinearProgram, values: np.ndarray, before: np.ndarray) -> bool:
    """No row further outside its bounds than ``before`` (the incumbent's float error) allows."""
    slack = 1e-6 * np.maximum(1.0, np.abs(lp.matrix @ values))
    return bool(np.all(row_excess(lp, values) <= before + slack))


def _combined(lp: LinearProgram, current: np.ndarray, changes: list[np.ndarray]) -> np.ndarray:
    """The incumbent with both steps' changes, or else the better one alone that fits.

    The halved slack keeps the sum within every row's bounds; only float error could
    break one, and then each step alone still fits (its bounds lie within the model's).
    """
    before = row_excess(lp, current)
    together = current + sum(changes, np.zeros_like(current))
    if _no_worse(lp, together, before):
        return together
    log.warning("a pair of steps did not combine; keeping the better step alone")
    for change in sorted(changes, key=lambda c: float(lp.objective @ c)):
        if _no_worse(lp, current + change, before):
            return current + change
    return current


def improve(
    lp: LinearProgram,
    scenario: Scenario,
    values: np.ndarray,
    groups: Sequence[Group],
    worker: StepWorker | None = None,
    kind: str = "boroughs",
) -> tuple[np.ndarray, bool]:
    """One pass: re-optimise the ``groups`` (``kind``: boroughs or services) pair by pair
    (:func:`step_pairs`), the rest fixed.

    Each step starts from the incumbent and a step's change is kept only if it does
    not raise the objective, so the objective never rises. Steps are limited by work
    (:data:`BOROUGH_MIP_NODES`), so the plan does not depend on the machine;
    ``solver.time_limit_s`` caps each step as a safety net. ``worker`` (started here
    if not given) solves each pair's second step. Returns the improved values and
    whether every step finished within its time limit.
    """
    current = values.copy()
    finished = True
    options = with_highs_defaults(scenario, STEP_HIGHS_OPTIONS)
    with StepWorker() as own:
        worker = worker or own
        together = len(groups) > 1 and worker.start()  # a no-op if it runs already
        paired = step_pairs(lp, groups)
        log.info(
            "a pass over the %s: %d groups in %d pairs, %s",
            kind,
            len(groups),
            len(paired),
            "two at once" if together else "one after the other (no second process)",
        )
        for pair in paired:
            frees = [free for _, free in pair]
            whole = pair_models(lp, frees, current)
            models = [
                relaxation_guided(compact(m, f), scenario.solver)
                for m, f in zip(whole, frees, strict=True)
            ]
            solved = solve_pair(models, options, worker)
            results = [expand(r, f, current) for r, f in zip(solved, frees, strict=True)]
            changes = []
            for (name, free), step in zip(pair, results, strict=True):
                finished &= step.limit != "time limit"
                if not step.status.has_plan:
                    continue
                found = np.where(lp.integer, np.round(step.values), step.values)
                change = np.where(free, found - current, 0.0)  # the step's own columns only
                if lp.objective @ change <= 1e-6:
                    changes.append(change)
                log.info(
                    "%s: objective %.0f -> %.0f with this step alone",
                    name,
                    lp.objective @ current,
                    lp.objective @ (current + change),
                )
            current = _combined(lp, current, changes)
            log.info(
                "after %s: objective %.0f", " + ".join(n for n, _ in pair), lp.objective @ current
            )
    return current, finished
