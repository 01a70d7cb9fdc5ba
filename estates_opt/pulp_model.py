"""Turn the array model into a PuLP problem, using only the API PuLP 4 keeps.

Variables come from ``prob.add_variable`` and expressions from lists of
(variable, coefficient) pairs built once per row, never ``lpSum`` over
generators. Variables and constraints are tracked by position in the array
model, never looked up by a PuLP name (PuLP rewrites names).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import pulp

from .build import LinearProgram

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
    """Create the PuLP problem equivalent to ``lp`` (same columns, rows, objective)."""
    started = time.perf_counter()
    prob = pulp.LpProblem(name, pulp.LpMinimize)
    families = lp.columns["family"].to_numpy()
    variables = []
    for i in range(len(families)):
        lower = float(lp.col_lower[i])
        upper = float(lp.col_upper[i])
        cat = pulp.LpInteger if lp.integer[i] else pulp.LpContinuous
        variables.append(
            prob.add_variable(
                f"{families[i]}_{i}",
                lowBound=lower,
                upBound=None if np.isinf(upper) else upper,
                cat=cat,
            )
        )
    csr = lp.matrix
    indptr, indices, data = csr.indptr, csr.indices, csr.data
    names = lp.rows["row_name"].tolist()
    for r, row_name in enumerate(names):
        start, stop = indptr[r], indptr[r + 1]
        expr = affine(
            [
                (variables[j], float(v))
                for j, v in zip(indices[start:stop], data[start:stop], strict=True)
            ]
        )
        lower, upper = lp.row_lower[r], lp.row_upper[r]
        if stop == start:
            # A row with no variables is a constant test that PuLP would accept silently.
            if lower > 1e-9 or upper < -1e-9:
                raise ValueError(
                    f"constraint {row_name} has no variables but needs {lower}..{upper}"
                )
            continue
        if lower == upper:
            prob.addConstraint(expr == float(upper), row_name)
        elif np.isinf(lower):
            prob.addConstraint(expr <= float(upper), row_name)
        elif np.isinf(upper):
            prob.addConstraint(expr >= float(lower), row_name)
        else:
            prob.addConstraint(expr >= float(lower), row_name + "_lo")
            prob.addConstraint(expr <= float(upper), row_name)
    nz = np.flatnonzero(lp.objective)
    prob.setObjective(affine([(variables[j], float(lp.objective[j])) for j in nz]))
    seconds = time.perf_counter() - started
    log.info(
        "PuLP model: %d variables, %d constraints in %.2f s", len(variables), len(names), seconds
    )
    return PulpModel(prob, variables, names, seconds)
