"""Turn the array model into a PuLP problem, using only the API PuLP 4 keeps.

This expression model is what CBC solves (PuLP writes it out for the binary)
and what a user gets to inspect or export; HiGHS through PuLP is handed the
arrays themselves (:func:`estates_opt.model.highs_direct.pass_model`), so the default
route never builds it.

Variables come from ``prob.add_variable`` and expressions from lists of
(variable, coefficient) pairs built once per row, never ``lpSum`` over
generators. Variables and constraints are tracked by position in the array
model, never looked up by a PuLP name (PuLP rewrites names).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pulp

from estates_opt.model.program import LinearProgram

log = logging.getLogger(__name__)


def affine(pairs: list[tuple[object, float]]) -> pulp.LpAffineExpression:
    """An expression from (variable, coefficient) pairs on PuLP 3.3 and 4.x alike."""
    from_list = getattr(pulp.LpAffineExpression, "from_list", None)
    if from_list is not None:
        return from_list(pairs)
    return pulp.LpAffineExpression(pairs)


@dataclass(frozen=True)
class PulpModel:
    """A PuLP problem with its variables and constraint names in array order."""

    problem: pulp.LpProblem
    variables: list
    row_names: list[str]
    build_seconds: float


def to_pulp(lp: LinearProgram, name: str = "estates_opt") -> PulpModel:
    """Create the PuLP problem equivalent to ``lp`` (same columns, rows, objective).

    Arrays become Python lists once (not a numpy scalar per coefficient) and the
    cyclic garbage collector is paused while PuLP creates its objects, which it
    otherwise re-scans many times over for a national model.
    """
    started = time.perf_counter()
    with _gc_paused():
        prob = pulp.LpProblem(name, pulp.LpMinimize)
        families = lp.columns["family"].tolist()
        col_lower = lp.col_lower.astype(float).tolist()
        col_upper = lp.col_upper.astype(float).tolist()
        integer = lp.integer.tolist()
        add = prob.add_variable
        # Zero-padded names in array order: PuLP sorts variables by name, and "x_10" before "x_2"
        # scrambles the column order HiGHS sees (the NEL MIP took 3x longer).
        width = len(str(len(families)))
        variables = [
            add(
                f"v{i:0{width}d}_{families[i]}",
                lowBound=col_lower[i],
                upBound=None if math.isinf(col_upper[i]) else col_upper[i],
                cat=pulp.LpInteger if integer[i] else pulp.LpContinuous,
            )
            for i in range(len(families))
        ]
        csr = lp.matrix
        indptr = csr.indptr.tolist()
        indices = csr.indices.tolist()
        data = csr.data.astype(float).tolist()
        row_lower = lp.row_lower.astype(float).tolist()
        row_upper = lp.row_upper.astype(float).tolist()
        names = lp.rows["row_name"].tolist()
        for r, row_name in enumerate(names):
            start, stop = indptr[r], indptr[r + 1]
            expr = affine(
                [
                    (variables[j], v)
                    for j, v in zip(indices[start:stop], data[start:stop], strict=True)
                ]
            )
            lower, upper = row_lower[r], row_upper[r]
            if stop == start:
                # A row with no variables is a constant test that PuLP would accept silently.
                if lower > 1e-9 or upper < -1e-9:
                    raise ValueError(
                        f"constraint {row_name} has no variables but needs {lower}..{upper}"
                    )
                continue
            if math.isinf(lower) and math.isinf(upper):
                continue  # a free row (a relaxed cover) binds nothing; its dual is 0
            if lower == upper:
                prob.addConstraint(expr == upper, row_name)
            elif math.isinf(lower):
                prob.addConstraint(expr <= upper, row_name)
            elif math.isinf(upper):
                prob.addConstraint(expr >= lower, row_name)
            else:
                prob.addConstraint(expr >= lower, row_name + "_lo")
                prob.addConstraint(expr <= upper, row_name)
        objective = lp.objective.astype(float).tolist()
        nz = np.flatnonzero(lp.objective).tolist()
        prob.setObjective(affine([(variables[j], objective[j]) for j in nz]))
    seconds = time.perf_counter() - started
    log.info(
        "PuLP model: %d variables, %d constraints in %.2f s", len(variables), len(names), seconds
    )
    return PulpModel(prob, variables, names, seconds)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (PuLP builds millions of acyclic objects)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
