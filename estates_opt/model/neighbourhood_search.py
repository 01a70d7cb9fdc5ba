"""Stage 2's large-neighbourhood search: re-optimise one borough at a time, the rest fixed.

Boroughs are nearly independent (few clinics cross a boundary), so each step is a
small MIP that HiGHS improves at its root node in seconds. Tried and left out: two
steps at once in threads (highspy 1.16 serialises solves on class-level locks, and
concurrent HiGHS instances have a history of crashes) or processes (a process pool
re-imports a user's unguarded script).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult
from estates_opt.model.solve import solve_direct, solve_pulp
from estates_opt.scenario import Scenario, Solver

log = logging.getLogger(__name__)

#: 1, the root node: on NEL every step's gain comes from HiGHS's root heuristics (its
#: sub-MIPs); 50 nodes gave the same plan (objective 3,377,472, 481 relocations) in 76 s
#: of borough steps against 29 s, the nodes' time going to strong branching. 200 nodes
#: once gave a plan 0.9% cheaper for about twice the time; a second sweep of root-only
#: steps gives 2.5% cheaper (3,294,076) for 64 s in all.
BOROUGH_MIP_NODES = 1
#: Passes over the boroughs (a second pass gains from the first pass's other boroughs).
SWEEPS = 1

#: A neighbourhood: its name and the mask of the columns it frees.
Group = tuple[str, np.ndarray]


def raw_solver(scenario: Scenario) -> Callable[[LinearProgram, Solver], SolveResult]:
    """The configured back-end without the duals step of :func:`solve_model`."""
    if scenario.solver.backend == "direct":
        return solve_direct
    return solve_pulp


def with_nodes(scenario: Scenario, nodes: int) -> Solver:
    """The solver options with a node limit added (unless the scenario sets its own)."""
    extra = {"mip_max_nodes": nodes, **scenario.solver.highs_options}
    return scenario.solver.model_copy(update={"highs_options": extra})


def neighbourhoods(lp: LinearProgram, dataset: Dataset) -> list[tuple[str, np.ndarray]]:
    """Column groups the improvement step re-optimises one at a time: one per borough.

    A PCN's columns (its allocations, relocations, shortfalls) belong to its borough;
    a specialty-site decision to the site's borough. Few clinics cross a borough
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
        borough = np.where(family == "specialty_site", at_site, borough)
    names = sorted({b for b in borough if isinstance(b, str)})
    always = family == "move_excess"
    return [(name, (borough == name) | always) for name in names]


def only_used_relocations(
    lp: LinearProgram, relaxed: np.ndarray, start: np.ndarray
) -> LinearProgram:
    """The model with the added slots neither the LP relaxation nor the start uses shut.

    A relaxation-guided neighbourhood (``solver.effort = "quick"``): the borough steps
    then choose among a sixth of the relocations, so each is several times faster;
    the plan stays feasible for the full model, only the search is narrower.
    """
    cols = lp.columns
    family = cols["family"].to_numpy()
    added = (family == "x") & (cols["part"] == "add").to_numpy()
    unused = added & (relaxed < 1e-6) & (start < 0.5)
    upper = lp.col_upper.copy()
    upper[unused] = 0.0
    relocate = np.flatnonzero(family == "relocate")
    links = cols["x_index"].to_numpy()[relocate].astype(int)
    upper[relocate[unused[links]]] = 0.0
    return replace(lp, col_upper=upper)


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


def improve(
    lp: LinearProgram,
    scenario: Scenario,
    values: np.ndarray,
    groups: Sequence[Group],
) -> tuple[np.ndarray, bool]:
    """Re-optimise one borough at a time with the rest fixed.

    Each step starts from the incumbent, so the objective never rises. Steps are
    limited by work (:data:`BOROUGH_MIP_NODES`), so the plan does not depend on the
    machine; ``solver.time_limit_s`` caps each step as a safety net. Returns the
    improved values and whether every step finished within it.
    """
    solve = raw_solver(scenario)
    current = values.copy()
    finished = True
    options = with_nodes(scenario, BOROUGH_MIP_NODES)
    for name, free in [g for _ in range(SWEEPS) for g in groups]:
        step = solve(step_model(lp, free, current), options)
        finished &= step.limit != "time limit"
        if step.status.has_plan and lp.objective @ step.values <= lp.objective @ current + 1e-6:
            current = np.where(lp.integer, np.round(step.values), step.values)
        log.info("improved %s: objective %.0f", name, lp.objective @ current)
    return current, finished
