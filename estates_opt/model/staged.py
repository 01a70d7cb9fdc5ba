"""Least disruption first: a two-stage (lexicographic) solve of the whole-session model.

Stage 1 solves the LP relaxation with movement as the objective (after unmet demand
and contract shortfalls, which keep their penalties): the least hours/week any plan
must move to meet demand, the caps and the contract. That figure is a true lower
bound, so the plan's ratio to it is an honest measure of extra disruption.
Stage 2 solves the full MIP (travel, cost, relocations) with hours moved held within
``relocation.tolerance`` of the least (row ``move_tolerance``; going beyond it is
possible only at ``excess_gbp_per_hour``, so the model is never made infeasible).
Both stages run on HiGHS or CBC alike: stage 2 is an ordinary MIP with one more row.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd

from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult
from estates_opt.model.solve import solve_model
from estates_opt.scenario import Scenario

log = logging.getLogger(__name__)


def least_movement(lp: LinearProgram, scenario: Scenario) -> tuple[float, SolveResult]:
    """Stage 1: the least hours/week a whole-session plan moves.

    Sessions stay whole; the relocation and specialty-site decisions are relaxed
    (they carry no cost in this stage), which leaves a model HiGHS solves to
    optimality in about a second at NEL scale.
    """
    moved = lp.moved_hours()
    family = lp.columns["family"].to_numpy()
    first = replace(
        lp,
        objective=moved + lp.terms["unmet"],
        integer=lp.integer & (family == "x"),
        start=None,
    )
    result = solve_model(first, scenario.solver)
    hours = float(moved @ result.values) if result.status.has_plan else float("nan")
    log.info("least movement: %.1f h/week (stage 1, %.2f s)", hours, result.seconds)
    return hours, result


def decisions_of(lp: LinearProgram, values: np.ndarray) -> np.ndarray:
    """A whole-session solution with its relocation and specialty-site decisions set.

    Stage 1's plan with each used added slot's relocation on and each used
    (specialty, site) on: a feasible start for stage 2.
    """
    start = values.copy()
    family = lp.columns["family"].to_numpy()
    relocate = np.flatnonzero(family == "relocate")
    if relocate.size:
        added = lp.columns["x_index"].to_numpy()[relocate].astype(int)
        start[relocate] = (values[added] > 0.5).astype(float)
    sites = np.flatnonzero(family == "specialty_site")
    if sites.size:
        x = family == "x"
        op = x & (lp.columns["category"] == "outpatient_outreach").to_numpy() & (values > 0.5)
        used = pd.MultiIndex.from_frame(lp.columns.loc[op, ["service_id", "site_id"]])
        key = pd.MultiIndex.from_frame(lp.columns.iloc[sites][["service_id", "site_id"]])
        start[sites] = np.asarray(key.isin(used), dtype=float)
    return start


def within_tolerance(lp: LinearProgram, least: float, tolerance: float) -> LinearProgram:
    """Stage 2's model: the ``move_tolerance`` row capped at (1 + tolerance) x least."""
    rows = np.flatnonzero((lp.rows["family"] == "move_tolerance").to_numpy())
    upper = lp.row_upper.copy()
    upper[rows] = (1.0 + tolerance) * least + 1e-6
    return replace(lp, row_upper=upper, least_movement_hours=least)


def solve_staged(lp: LinearProgram, scenario: Scenario) -> tuple[LinearProgram, SolveResult]:
    """Stage 1 then stage 2 (warm-started from stage 1's plan).

    The returned model carries the least movement it was held to; the result's
    time is both stages'.
    """
    least, first = least_movement(lp, scenario)
    if not first.status.has_plan:
        return lp, first
    staged = within_tolerance(lp, least, scenario.relocation.tolerance)
    staged = replace(staged, start=decisions_of(lp, first.values))
    second = solve_model(staged, scenario.solver)
    if not second.status.has_plan:
        return staged, second
    return staged, replace(second, seconds=first.seconds + second.seconds)
