"""What a solve returns: a typed status the caller cannot ignore, values and duals."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class SolveStatus(StrEnum):
    """How a solve ended, as the solver reported it: a time-limit stop is never "optimal"."""

    OPTIMAL = "optimal"
    #: A plan from the staged whole-session solve: every borough re-optimised with the
    #: rest fixed, within the time budget; not proven optimal (its gap is to the LP bound).
    IMPROVED = "improved"
    FEASIBLE_TIME_LIMIT = "feasible_time_limit"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NO_SOLUTION_TIME_LIMIT = "time_limit_no_solution"
    ERROR = "error"

    @property
    def has_plan(self) -> bool:
        """The solver returned values a plan can be built from (optimal or not)."""
        return self in (SolveStatus.OPTIMAL, SolveStatus.IMPROVED, SolveStatus.FEASIBLE_TIME_LIMIT)

    @property
    def complete(self) -> bool:
        """The solve ran to its end (optimal, or improved through every neighbourhood)."""
        return self in (SolveStatus.OPTIMAL, SolveStatus.IMPROVED)


@dataclass(frozen=True)
class SolveResult:
    """What the solver said: status, objective, bound, gap, values and row duals."""

    status: SolveStatus
    objective: float
    best_bound: float | None
    gap: float | None
    values: np.ndarray
    duals: np.ndarray | None
    solver: str
    backend: str
    seconds: float
    pulp_build_seconds: float = 0.0
    #: The limit the solver stopped at, in words ("time limit", "simplex iteration limit"...),
    #: from the solver's own model status; None when it ran to the end.
    limit: str | None = None
    #: Where ``best_bound`` comes from, in words ("LP relaxation", "branch and bound"), where
    #: a staged solve set it; None: the solver's own bound of this solve.
    bound_basis: str | None = None
