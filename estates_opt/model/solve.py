"""Solve a built model with the configured solver. Returns a typed result the caller must read.

Backends: ``pulp`` (PuLP runs the solver: HiGHS through PuLP's highspy
interface, loading the array model as arrays, or CBC on the PuLP expression
model of :mod:`estates_opt.model.pulp_model`; see :mod:`estates_opt.model.pulp_solve`)
and ``direct`` (the same arrays handed straight to highspy with no PuLP at all; the
practical lower bound of any modelling layer; see :mod:`estates_opt.model.highs_direct`).
Both HiGHS routes load the model with :func:`pass_model`. Both report the solver's *own*
status (:mod:`estates_opt.model.status`): a time-limit stop with a plan is
``feasible_time_limit`` with its gap, never "optimal". This module dispatches to a
backend and, for a MIP, prices the rooms on the fixed LP.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from estates_opt.errors import SolverUnavailableError
from estates_opt.model.cover_rows import without_covers
from estates_opt.model.highs_direct import (
    HIGHS_OPTIONS_URL,
    check_highs_options,
    pass_model,
    quiet_native_stdout,
    run_interruptibly,
    solve_direct,
)
from estates_opt.model.program import LinearProgram
from estates_opt.model.pulp_solve import solve_pulp
from estates_opt.model.result import SolveResult
from estates_opt.scenario import Solver

__all__ = [
    "HIGHS_OPTIONS_URL",
    "check_highs_options",
    "fix_integers",
    "pass_model",
    "quiet_native_stdout",
    "run_interruptibly",
    "solve_direct",
    "solve_model",
    "solve_on_backend",
    "solve_pulp",
]

log = logging.getLogger(__name__)


def solve_on_backend(lp: LinearProgram, options: Solver) -> SolveResult:
    """``lp`` solved on the configured back-end (direct highspy or PuLP), nothing more."""
    solve = solve_direct if options.backend == "direct" else solve_pulp
    return solve(lp, options)


def solve_model(lp: LinearProgram, options: Solver) -> SolveResult:
    """Solve ``lp`` with the configured solver; for a MIP, also get duals of the fixed LP."""
    if options.backend == "direct" and options.name != "highs":
        raise SolverUnavailableError(
            "the 'direct' backend is HiGHS only; use backend = \"pulp\" for CBC."
        )
    check_highs_options(options)
    result = solve_on_backend(lp, options)
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
        relaxed = solve_on_backend(fixed, options)
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
    # the relocation covers hold for whole sessions only: relaxed, they take no room's price
    return replace(
        without_covers(lp), col_lower=lower, col_upper=upper, integer=np.zeros_like(lp.integer)
    )
