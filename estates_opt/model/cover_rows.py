r"""Row family (15) of the formulation: relocation covers, valid rows that tighten the bound.

The whole-session model charges a relocation through :math:`n^{add}_i \le U_i z_i`, and its
LP relaxation pays only :math:`n^{add}_i / U_i` of it: moving one session of a clinic whose
slot could take ten costs a tenth of a relocation, so the relaxation's bound sat 23% below
the NEL plan. These rows change no whole-session plan (each holds for every integer point
of the model, unmet demand included), but cut off fractional relocations, so the bound and
each borough step's relaxation come closer to the plans. On NEL: 3,460 rows, built in
milliseconds; the bound rises from 2,570,116 to 2,884,448.

Notation for clinic :math:`k` (service, PCN): :math:`\ell` hours per session; kept columns
:math:`n_j \le b_j` (today's sessions) with :math:`H_k = \sum_j \ell_j b_j`; its relocations
:math:`z_i` with :math:`A_i = \ell_i U_i` (the most hours one can add); demand :math:`D_k`;
unmet :math:`m_k` (whole sessions of :math:`h_k` hours, an integer). Since the demand row
says :math:`\sum_j \ell_j n_j + \sum_i \ell_i n^{add}_i + h_k m_k \ge D_k`, the hours a
clinic drops from today's sessions are at most
:math:`s_k + h_k m_k + \sum_i A_i z_i` with :math:`s_k = \max(0, H_k - D_k)`. Each row
below follows, and then keeps each coefficient of a 0-1 or integer column at most its
right-hand side (a column at 1 meets the row alone):

(15a) ``cover_clinic_excess`` where today's sessions cannot hold the demand
      (:math:`E_k = D_k - H_k > 0`): :math:`\sum_i \min(A_i, E_k) z_i + \min(h_k, E_k) m_k \ge E_k`.
(15b) ``cover_keep`` per kept slot :math:`j`, :math:`a_j = \ell_j b_j - \min(\ell_j b_j, s_k)`:
      :math:`\ell_j n_j + \sum_i \min(a_j, A_i) z_i + h_k m_k \ge a_j` (a slot is emptied
      beyond the clinic's surplus only by a relocation or unmet demand).
(15c) ``cover_clinic``, :math:`a_k = \min(H_k, D_k)`:
      :math:`\sum_j \ell_j n_j + \sum_i \min(a_k, A_i) z_i + h_k m_k \ge a_k`.
(15d) ``cover_room`` per open room :math:`R` whose kept sessions exceed its capacity row's
      limit :math:`C_R` beyond what the clinics' surpluses free:
      :math:`X_R = \sum_{j \in R} a_j - C_R > 0` (with :math:`a_j` of (15b));
      :math:`\sum_{j \in R} \big[\sum_{i \in k(j)} \min(a_j, A_i, X_R) z_i + \min(h_{k(j)}, X_R)
      m_{k(j)}\big] \ge X_R` (the room must shed :math:`X_R`, and slot :math:`j` sheds beyond
      its clinic's surplus at most :math:`\min(a_j, h_k m_k + \sum_i A_i z_i)`).

They are only for bounds and searches: the LP that prices rooms
(:func:`estates_opt.model.solve.fix_integers`) relaxes them, since they hold for whole
sessions only and would take the capacity rows' prices.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from estates_opt.model.columns import Columns
from estates_opt.model.constraints import Rows
from estates_opt.model.program import INF, LinearProgram

#: The row families of this module (relaxed where fractional plans are priced).
COVER_FAMILIES = ("cover_clinic_excess", "cover_keep", "cover_clinic", "cover_room")
_CLINIC = ["service_id", "pcn_code"]
_SLOT = ["service_id", "pcn_code", "site_id", "band"]


def without_covers(lp: LinearProgram, *, drop: bool = False) -> LinearProgram:
    """``lp`` with the cover rows relaxed: their lower bounds at minus infinity, so row
    positions and duals keep their meaning, or with ``drop`` taken out (a model solved only
    for its values, such as a borough step: smaller to pass and to pickle)."""
    if "family" not in lp.rows:
        return lp
    covers = lp.rows["family"].isin(COVER_FAMILIES).to_numpy()
    if not covers.any():
        return lp
    if drop:
        keep = np.flatnonzero(~covers)
        return replace(
            lp,
            rows=lp.rows.iloc[keep].reset_index(drop=True),
            matrix=lp.matrix[keep],
            row_lower=lp.row_lower[keep],
            row_upper=lp.row_upper[keep],
        )
    row_lower = lp.row_lower.copy()
    row_lower[covers] = -INF
    return replace(lp, row_lower=row_lower)


def relocation_cover_rows(
    rows: Rows, cols: Columns, cand: pd.DataFrame, demand: pd.DataFrame
) -> None:
    """(15a)-(15d) of the module docstring; whole-session models only."""
    if "part" not in cand or not len(demand):
        return
    n_x, n_k = len(cand), len(demand)
    family = cols.frame["family"].to_numpy()
    per_unit = cols.hours_per_unit
    clinic = pd.MultiIndex.from_frame(demand[_CLINIC]).get_indexer(
        pd.MultiIndex.from_frame(cand[_CLINIC])
    )
    unmet = n_x + np.arange(n_k)  # the unmet columns follow the x columns, in demand order
    unmet_hours = cols.frame["hours_per_unit"].to_numpy(float)[unmet]
    z = np.flatnonzero(family == "relocate")
    x_of_z = cols.frame["x_index"].to_numpy()[z].astype(int)
    relocations = _ClinicRelocations(clinic[x_of_z], z, per_unit[x_of_z] * cols.upper[x_of_z])
    keep = np.flatnonzero((cand["part"] == "keep").to_numpy())
    k_keep = clinic[keep]
    kept = per_unit[keep] * cols.upper[keep]
    held = np.bincount(k_keep, weights=kept, minlength=n_k)
    need = demand["demand_hours"].to_numpy(float)
    surplus = np.maximum(held - need, 0.0)

    # (15a) today's sessions cannot hold the demand: relocations or unmet make up the rest
    excess = need - held
    short = np.flatnonzero(excess > 1e-6)
    r, c, v = relocations.terms(short, excess[short])
    rows.add(
        demand.iloc[short][_CLINIC].assign(family="cover_clinic_excess"),
        excess[short],
        np.full(short.size, INF),
        [
            (r, c, v),
            (np.arange(short.size), unmet[short], np.minimum(unmet_hours[short], excess[short])),
        ],
    )
    # (15b) each kept slot keeps its sessions beyond the clinic's surplus, unless it relocates
    beyond = kept - np.minimum(kept, surplus[k_keep])
    on = np.flatnonzero(beyond > 1e-6)
    r, c, v = relocations.terms(k_keep[on], beyond[on])
    at = np.arange(on.size)
    rows.add(
        cand.iloc[keep[on]][_SLOT].assign(family="cover_keep"),
        beyond[on],
        np.full(on.size, INF),
        [
            (at, keep[on], per_unit[keep[on]]),
            (r, c, v),
            (at, unmet[k_keep[on]], unmet_hours[k_keep[on]]),
        ],
    )
    # (15c) the clinic's kept sessions together, the same way
    whole = np.minimum(held, need)
    some = np.flatnonzero(whole > 1e-6)
    row_of_keep = pd.Index(some).get_indexer(k_keep)
    mine = row_of_keep >= 0
    r, c, v = relocations.terms(some, whole[some])
    rows.add(
        demand.iloc[some][_CLINIC].assign(family="cover_clinic"),
        whole[some],
        np.full(some.size, INF),
        [
            (row_of_keep[mine], keep[mine], per_unit[keep[mine]]),
            (r, c, v),
            (np.arange(some.size), unmet[some], unmet_hours[some]),
        ],
    )
    _room_rows(rows, cand, keep, k_keep, beyond, relocations, unmet, unmet_hours)


def _room_rows(
    rows: Rows,
    cand: pd.DataFrame,
    keep: np.ndarray,
    k_keep: np.ndarray,
    beyond: np.ndarray,
    relocations: _ClinicRelocations,
    unmet: np.ndarray,
    unmet_hours: np.ndarray,
) -> None:
    """(15d) an over-full room sheds its excess by relocations (or unmet demand)."""
    room, rooms = pd.factorize(
        pd.MultiIndex.from_frame(cand.iloc[keep][["site_id", "room_type", "band"]])
    )
    limit = np.zeros(len(rooms))
    limit[room] = cand["limit_hours"].to_numpy(float)[keep]  # the capacity row's bound
    is_open = np.zeros(len(rooms), dtype=bool)
    is_open[room] = cand["state"].to_numpy()[keep] == "open"
    shed = np.bincount(room, weights=beyond, minlength=len(rooms)) - limit
    over = np.flatnonzero((shed > 1e-6) & is_open)
    row_of = pd.Index(over).get_indexer(room)
    on = np.flatnonzero(row_of >= 0)
    need = shed[over][row_of[on]]
    r, c, v = relocations.terms(k_keep[on], np.minimum(beyond[on], need))
    frame = pd.DataFrame(
        {
            "site_id": np.asarray([rooms[i][0] for i in over], dtype=object),
            "room_type": np.asarray([rooms[i][1] for i in over], dtype=object),
            "band": np.asarray([rooms[i][2] for i in over], dtype=object),
        }
    ).assign(family="cover_room")
    rows.add(
        frame,
        shed[over],
        np.full(over.size, INF),
        [
            (row_of[on][r], c, v),
            (row_of[on], unmet[k_keep[on]], np.minimum(unmet_hours[k_keep[on]], need)),
        ],
    )


class _ClinicRelocations:
    """Each clinic's relocation columns and the hours each can add, for rows per clinic."""

    def __init__(self, clinic_of_z: np.ndarray, z: np.ndarray, adds: np.ndarray) -> None:
        order = np.argsort(clinic_of_z, kind="stable")
        self.clinic, self.z, self.adds = clinic_of_z[order], z[order], adds[order]

    def terms(
        self, clinics: np.ndarray, most: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, column, coefficient) for every relocation of row ``r``'s clinic
        ``clinics[r]``, the coefficient the hours it can add, at most ``most[r]``."""
        start = np.searchsorted(self.clinic, clinics, side="left")
        count = np.searchsorted(self.clinic, clinics, side="right") - start
        row = np.repeat(np.arange(clinics.size), count)
        offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        at = np.repeat(start, count) + offset
        return row, self.z[at], np.minimum(most[row], self.adds[at])
