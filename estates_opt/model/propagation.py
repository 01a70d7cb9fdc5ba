"""Bound propagation on the built program: which rows the pins alone break.

Pins are column lower bounds. Through the link rows (``x <= U z``) they force binary
decisions up, and through the limit rows (buildings per clinic, sites per specialty,
room capacity, the move budget) those decisions can exceed what a row allows. The
solver then only says "infeasible". Propagating bounds, as a MIP presolve does, finds
the row and, by following why each bound rose, the pins behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from estates_opt.model.program import LinearProgram

_TOL = 1e-6
_ROUNDS = 20


@dataclass(frozen=True)
class Conflict:
    """A row the pinned bounds cannot satisfy, and the pinned columns behind it."""

    row: int  #: index into ``lp.rows``
    least: float  #: the least activity the bounds allow (above ``allowed``)
    allowed: float  #: the row's upper bound (or minus its lower bound: ``sense = -1``)
    sense: int  #: 1 for ``a x <= upper``, -1 for ``a x >= lower`` (read as ``-a x <= -lower``)
    pinned_columns: tuple[int, ...]  #: columns whose own lower bound set this off


def pin_conflict(lp: LinearProgram) -> Conflict | None:
    """The first row that the column bounds, propagated, cannot satisfy; None if none is found.

    Only the rows' one-sided ``<=`` reading is used (``>=`` rows are negated), so it is
    sound (a conflict found is real) but not complete: a conflict that needs branching
    is left to the solver.
    """
    upper_rows = np.flatnonzero(np.isfinite(lp.row_upper))
    lower_rows = np.flatnonzero(np.isfinite(lp.row_lower))
    matrix = sp.vstack([lp.matrix[upper_rows], -lp.matrix[lower_rows]]).tocsr()
    bound = np.concatenate([lp.row_upper[upper_rows], -lp.row_lower[lower_rows]])
    origin = np.concatenate([upper_rows, lower_rows])
    sense = np.concatenate([np.ones(upper_rows.size, int), -np.ones(lower_rows.size, int)])
    lower, upper = lp.col_lower.astype(float).copy(), lp.col_upper.astype(float).copy()
    integer = lp.integer.astype(bool)
    # why each bound last moved: the (stacked) row that moved it, -1 for its own bound
    raised_by = np.full(lower.size, -1)
    lowered_by = np.full(upper.size, -1)
    row_of = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    cols, coef = matrix.indices, matrix.data
    for _ in range(_ROUNDS):
        # each entry's least contribution: a * lower for a > 0, a * upper for a < 0
        least_each = np.where(coef > 0, coef * lower[cols], coef * upper[cols])
        infinite = ~np.isfinite(least_each)
        finite_sum = np.bincount(row_of, np.where(infinite, 0.0, least_each), matrix.shape[0])
        n_infinite = np.bincount(row_of, infinite.astype(float), matrix.shape[0])
        broken = np.flatnonzero((n_infinite == 0) & (finite_sum > bound + _TOL))
        if broken.size:
            r = int(broken[0])
            return Conflict(
                row=int(origin[r]),
                least=float(finite_sum[r] * sense[r]),
                allowed=float(bound[r] * sense[r]),
                sense=int(sense[r]),
                pinned_columns=_pins_behind(r, matrix, lower, upper, lp, raised_by, lowered_by),
            )
        # the rest of the row without this entry, finite only where nothing else is infinite
        rest = np.where(
            infinite,
            np.where(n_infinite[row_of] == 1, finite_sum[row_of], np.nan),
            np.where(n_infinite[row_of] == 0, finite_sum[row_of] - least_each, np.nan),
        )
        limit = (bound[row_of] - rest) / coef  # a x <= bound - rest
        changed = False
        for positive, target, store in ((False, lower, raised_by), (True, upper, lowered_by)):
            pick = np.flatnonzero(((coef > 0) == positive) & np.isfinite(limit))
            value, at = limit[pick], cols[pick]
            if positive:  # x <= limit: a smaller upper bound
                value = np.where(integer[at], np.floor(value + _TOL), value)
                best = np.full(upper.size, np.inf)
                np.minimum.at(best, at, value)
                gain = best < target - _slack(target)
            else:  # x >= limit: a larger lower bound
                value = np.where(integer[at], np.ceil(value - _TOL), value)
                best = np.full(lower.size, -np.inf)
                np.maximum.at(best, at, value)
                gain = best > target + _slack(target)
            if gain.any():
                # the row that gave each new bound (the last of equal ones)
                won = gain[at] & (value == best[at])
                store[at[won]] = row_of[pick[won]]
                target[gain] = best[gain]
                changed = True
        crossed = np.flatnonzero(lower > upper + _TOL)
        if crossed.size:
            j = int(crossed[0])
            r = int(raised_by[j] if raised_by[j] >= 0 else lowered_by[j])
            return Conflict(
                row=int(origin[r]) if r >= 0 else -1,
                least=float(lower[j]),
                allowed=float(upper[j]),
                sense=int(sense[r]) if r >= 0 else 1,
                pinned_columns=_pins_behind(r, matrix, lower, upper, lp, raised_by, lowered_by)
                if r >= 0
                else (j,),
            )
        if not changed:
            return None
    return None


def _slack(bounds: np.ndarray) -> np.ndarray:
    """How far a bound must move to count: relative for large ones, never NaN at infinity."""
    return _TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(bounds), bounds, 0.0)))


def _pins_behind(
    start: int,
    matrix: sp.csr_matrix,
    lower: np.ndarray,
    upper: np.ndarray,
    lp: LinearProgram,
    raised_by: np.ndarray,
    lowered_by: np.ndarray,
) -> tuple[int, ...]:
    """The columns with a lower bound of their own that led, through the rows that moved
    bounds, to stacked row ``start``'s least activity."""
    pinned: set[int] = set()
    seen_rows: set[int] = set()
    todo = [start]
    while todo:
        r = todo.pop()
        if r in seen_rows:
            continue
        seen_rows.add(r)
        span = slice(matrix.indptr[r], matrix.indptr[r + 1])
        for j, a in zip(matrix.indices[span], matrix.data[span], strict=True):
            if a > 0 and lower[j] > _TOL:
                if raised_by[j] >= 0:
                    todo.append(int(raised_by[j]))
                elif lp.col_lower[j] > _TOL:
                    pinned.add(int(j))
            elif a < 0 and upper[j] < lp.col_upper[j] - _TOL and lowered_by[j] >= 0:
                todo.append(int(lowered_by[j]))
    return tuple(sorted(pinned))
