"""What no plan of a whole-session model can beat, worked out from the model alone.

The objective bound the staged solve measures its gap to (:func:`relaxation_bound`) and the
fewest relocations of a plan meeting all demand (:func:`least_relocations`). Neither needs
stage 1's result, so the step process works both out while stage 1 runs in the parent
(:func:`stage_two_bounds`, task ``bounds`` of :mod:`estates_opt.model.step_worker`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from estates_opt.model.highs_direct import presolved_relaxation_bound
from estates_opt.model.program import LinearProgram
from estates_opt.model.solve import solve_direct, solve_on_backend
from estates_opt.scenario import Solver


class StageTwoBounds(NamedTuple):
    """What no plan of the model can beat, worked out from the model alone."""

    objective: float | None  #: :func:`relaxation_bound`
    basis: str  #: where ``objective`` comes from
    relocations: int | None  #: :func:`least_relocations`


def stage_two_bounds(lp: LinearProgram, options: Solver) -> StageTwoBounds:
    """The objective bound and the fewest relocations, together: the step process's task
    while stage 1 runs in the parent (NEL: about 1.4 s of the parent's time saved)."""
    objective, basis = relaxation_bound(lp, options)
    return StageTwoBounds(objective, basis, least_relocations(lp, options))


def relaxation_bound(lp: LinearProgram, options: Solver) -> tuple[float | None, str]:
    """The MIP's bound without branching, and where it comes from: on HiGHS the LP
    relaxation of its presolved model (:func:`presolved_relaxation_bound`; NEL 8.5% from
    the plan, against 12.8% for the model as built), else the model's own LP relaxation.

    The staged solve bounds the model as built, before stage 1 adds the movement tolerance:
    a relaxation of the staged model, so a bound on its plans too (on NEL the same one: the
    tolerance does not bind in the relaxation), worked out in the step process while stage 1
    runs here."""
    if options.name == "highs":
        bound = presolved_relaxation_bound(lp, options)
        if bound is not None:
            return bound, "presolved LP relaxation"
    relaxed = solve_on_backend(replace(lp, integer=np.zeros_like(lp.integer), start=None), options)
    return (relaxed.objective if relaxed.status.has_plan else None), "LP relaxation"


def least_relocations(lp: LinearProgram, options: Solver) -> int | None:
    """A lower bound on the relocations of any whole-session plan meeting all demand.

    Every over-cap room must shed its excess; a (service, PCN) clinic sheds without a
    relocation only by dropping sessions it holds above its demand. So the fewest
    clinics whose movable sessions cover every room's excess (a small set-cover MIP,
    under a second at NEL scale) bounds the relocation lines of any plan from below:
    a clinic that moves starts at least one new slot (growth where a clinic works today
    is no move, so growth alone forces nothing). Returns None without the whole-session
    columns.
    """
    cols = lp.columns
    if "part" not in cols:
        return None
    family = cols["family"].to_numpy()
    keep = np.flatnonzero((family == "x") & (cols["part"] == "keep").to_numpy())
    capacity = np.flatnonzero((lp.rows["family"] == "capacity").to_numpy())
    if keep.size == 0 or capacity.size == 0:
        return 0
    sessions = cols["today_sessions"].to_numpy(float)[keep]
    hours = sessions * cols["hours_per_unit"].to_numpy(float)[keep]
    in_room = lp.matrix.tocsr()[capacity][:, keep].tocoo()
    excess = (
        np.bincount(
            in_room.row, weights=in_room.data * sessions[in_room.col], minlength=capacity.size
        )
        - lp.row_upper[capacity]
    )
    over = np.flatnonzero(excess > 1e-6)
    clinic, clinics = pd.factorize(
        pd.MultiIndex.from_frame(cols.iloc[keep][["service_id", "pcn_code"]])
    )
    n_c, n_k = len(clinics), keep.size
    kept = np.bincount(clinic, weights=hours, minlength=n_c)
    demand = (
        lp.demand.set_index(["service_id", "pcn_code"])["demand_hours"]
        .reindex(clinics)
        .fillna(0.0)
        .to_numpy(float)
    )
    # columns: m (binary, the clinic moves), d (hours a staying clinic drops in a room)
    room_of = pd.Index(over).get_indexer(in_room.row)
    ok = room_of >= 0
    leg = in_room.col[ok]
    rows = np.concatenate([room_of[ok], room_of[ok], over.size + clinic])
    columns = np.concatenate([clinic[leg], n_c + leg, n_c + np.arange(n_k)])
    values = np.concatenate([hours[leg], np.ones(leg.size), np.ones(n_k)])
    matrix = sp.csr_matrix((values, (rows, columns)), shape=(over.size + n_c, n_c + n_k))
    cover = LinearProgram(
        columns=pd.DataFrame({"family": ["m"] * n_c + ["d"] * n_k}),
        rows=pd.DataFrame({"family": ["cover"] * (over.size + n_c)}),
        matrix=matrix,
        objective=np.concatenate([np.ones(n_c), np.zeros(n_k)]),
        terms={},
        col_lower=np.zeros(n_c + n_k),
        col_upper=np.concatenate([np.ones(n_c), hours]),
        row_lower=np.concatenate([excess[over] - 1e-6, np.full(n_c, -np.inf)]),
        row_upper=np.concatenate([np.full(over.size, np.inf), np.maximum(kept - demand, 0.0)]),
        integer=np.concatenate([np.ones(n_c, bool), np.zeros(n_k, bool)]),
    )
    exact = options.model_copy(update={"mip_gap": 0.0, "backend": "direct"})
    result = solve_direct(cover, exact)
    if not result.status.has_plan:
        return None
    bound = result.best_bound if result.best_bound is not None else result.objective
    return int(np.ceil(bound - 1e-6))
