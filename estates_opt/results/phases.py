r"""The phased plan: which relocations to make first.

For each rung of a ladder of relocation counts (``relocation.phases``, e.g. 10, 25,
50, 100, then all), the best partial plan with at most that many of the plan's
relocations, each rung keeping the relocations of the one before. A relocation is
taken whole (all its legs). Over-capacity relieved is the objective:

.. math::
   \max \sum_{\rho} r_\rho \quad\text{s.t.}\quad r_\rho \le O_\rho,\;
   r_\rho \le \sum_{l \,\text{leaves}\, \rho} h_l q_{j(l)},\;
   \sum_j q_j \le N,\; q_j \ge q^{prev}_j,

with :math:`q_j \in \{0,1\}` per relocation, :math:`O_\rho` the hours room
:math:`\rho` (site, room type, band) holds above its cap today, and one row per
receiving room: its load after the phase's legs may not exceed its cap (or today's
load, where that is already higher). So a partial plan may leave a sending building
over its cap, but never pushes a receiving one over. Ties go to more hours moved.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from estates_opt.inputs.dataset import Dataset, kind_utilisation
from estates_opt.model.decompose import rows_that_cannot_bind
from estates_opt.model.program import INF, LinearProgram
from estates_opt.model.solve import solve_direct
from estates_opt.results.explain.moves import RELOCATION_KEY
from estates_opt.results.kpis import FirstQuarter
from estates_opt.scenario import Scenario, Solver

ROOM = ["site_id", "room_type", "band"]
PHASE_COLUMNS = [
    "phase",
    "relocations",
    "new_relocations",
    "hours_moved",
    "over_cap_hours_relieved",
    "over_cap_share_relieved",
    "plan_relief_share",
    "community_weekday_utilisation",
    "gp_practice_weekday_utilisation",
    "mean_clinic_travel_km",
    "room_cost_change_gbp_per_week",
]


def _legs_with_rooms(legs: pd.DataFrame, dataset: Dataset) -> pd.DataFrame:
    """Each leg with its room type, relocation number and room cost at both ends."""
    rooms = dataset.services.set_index("service_id")["room_type"]
    cost = dataset.capacity.groupby(["site_id", "band"])["cost_per_hour_gbp"].mean()
    legs = legs.assign(room_type=legs["service_id"].map(rooms))
    key = RELOCATION_KEY
    legs["relocation"] = legs.groupby(key, sort=True).ngroup()
    for side in ("from", "to"):
        idx = pd.MultiIndex.from_arrays([legs[f"{side}_site_id"], legs[f"{side}_band"]])
        legs[f"{side}_cost"] = cost.reindex(idx).fillna(0.0).to_numpy()
    return legs


def _rooms(utilisation: pd.DataFrame, allocations: pd.DataFrame) -> pd.DataFrame:
    """Each room's hours today read in whole sessions (``today_hours``), as the legs move
    them, its limit and its excess over the cap (``over``).

    The plan reads today's clinics in whole sessions (a clinic of 30 h in 8 sessions, 32 h;
    one of 2.7 h at each of eight practices in 6 sessions at six of them: ``allocations.csv``
    ``today_session_hours``) and books whole sessions: the phases start from those hours,
    so that with every leg made the rooms hold what the plan books (``after_hours``).
    Started from today's hours as they are, the legs took out up to a session a slot more
    than is there: NEL's 400 relocations of the sixth rung relieved 18 h/week more than
    the whole plan (a share of 1.0014) and the first quarter 3% more than it does.
    """
    kept = [*ROOM, "kind", "capacity_hours", "cap", "before_hours", "after_hours"]
    rooms = utilisation[kept].copy().reset_index(drop=True)
    key = pd.MultiIndex.from_frame(rooms[ROOM])
    rounding = np.zeros(len(rooms))
    if "today_session_hours" in allocations and len(allocations):
        up = allocations["today_session_hours"] - allocations["baseline_hours_per_week"]
        per_room = up.groupby([allocations[c] for c in ROOM]).sum()
        rounding = per_room.reindex(key).fillna(0.0).to_numpy(float)
    cap = rooms["cap"] * rooms["capacity_hours"]
    rooms["today_hours"] = rooms["before_hours"] + rounding
    rooms["limit"] = np.maximum(cap, rooms["today_hours"])
    rooms["over"] = np.maximum(rooms["today_hours"] - cap, 0)
    fixed = np.minimum(utilisation["fixed_hours"].to_numpy(float), rooms["today_hours"])
    rooms["fixed_over"] = np.maximum(fixed - cap, 0)  # no relocation relieves these hours
    return rooms


@dataclass(frozen=True)
class Relocations:
    """The plan's legs as arrays over relocations and rooms, worked out once.

    The ladder, the first quarter and the phase table all ask the same questions of
    the same legs (which room each leaves and enters, how many hours); matching the
    legs' text keys to the rooms took longer than the phase MIPs' solves at England
    scale when each of them did it again.
    """

    legs: pd.DataFrame  #: with ``room_type`` and ``relocation`` (0..n-1)
    rooms: pd.DataFrame  #: with ``today_hours``, ``limit`` and ``over``
    relocation: np.ndarray  #: per leg
    hours: np.ndarray  #: per leg
    source: np.ndarray  #: per leg: the room row it leaves, -1 if none
    target: np.ndarray  #: per leg: the room row it enters, -1 if none
    count: int  #: relocations
    _frames: dict[tuple[int, int], tuple[pd.DataFrame, pd.DataFrame]] = field(
        default_factory=dict, repr=False, compare=False
    )

    @classmethod
    def of(
        cls, legs: pd.DataFrame, rooms: pd.DataFrame, room_key: pd.MultiIndex | None = None
    ) -> Relocations:
        """Each leg's two ends matched to rooms in one lookup (both ends at once);
        ``room_key`` the rooms' (site, room type, band), if made before."""
        if room_key is None:
            room_key = pd.MultiIndex.from_frame(rooms[ROOM])
        ends = pd.MultiIndex.from_arrays(
            [
                pd.concat([legs["from_site_id"], legs["to_site_id"]], ignore_index=True),
                pd.concat([legs["room_type"], legs["room_type"]], ignore_index=True),
                pd.concat([legs["from_band"], legs["to_band"]], ignore_index=True),
            ]
        )
        at = room_key.get_indexer(ends)
        relocation = legs["relocation"].to_numpy(int)
        return cls(
            legs=legs,
            rooms=rooms,
            relocation=relocation,
            hours=legs["hours_per_week"].to_numpy(float),
            source=at[: len(legs)],
            target=at[len(legs) :],
            count=int(relocation.max()) + 1 if relocation.size else 0,
        )

    def program_frames(self, n_relief: int, n_rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The phase MIPs' column and row labels: the same for every rung, so made once
        (naming 89,313 rows took 10 ms a rung at England scale)."""
        key = (n_relief, n_rows)
        if key not in self._frames:
            self._frames[key] = (
                pd.DataFrame({"family": ["q"] * self.count + ["relief"] * n_relief}),
                pd.DataFrame(
                    {"family": ["phase"] * n_rows, "row_name": [f"p{i}" for i in range(n_rows)]}
                ),
            )
        return self._frames[key]

    def relieved(self, live_relocations: np.ndarray) -> float:
        """Over-cap hours relieved by the legs of the live relocations: today's over-cap hours
        less those the rooms still hold with those legs made."""
        return self._relief(self.loads(live_relocations))

    def plan_relieved(self) -> float:
        """Over-cap hours the whole plan relieves, from the rooms' hours after it
        (``after_hours``): the plan's own figure, growth and today's hours read in whole
        sessions included, so the last phase is the plan."""
        return self._relief(self.rooms["after_hours"].to_numpy(float))

    def _relief(self, load: np.ndarray) -> float:
        rooms = self.rooms
        over = rooms["over"].to_numpy(float)
        # the cap in hours: today's hours less the excess where over it, else the limit
        cap = np.where(over > 0, rooms["today_hours"].to_numpy(float) - over, rooms["limit"])
        return float(over.sum() - np.maximum(load - cap, 0.0).sum())

    def loads(self, live_relocations: np.ndarray) -> np.ndarray:
        """Each room's hours after the legs of the live relocations."""
        load = self.rooms["today_hours"].to_numpy(float).copy()
        live = live_relocations[self.relocation]
        for end, sign in ((self.target, 1.0), (self.source, -1.0)):
            ok = live & (end >= 0)
            load += sign * np.bincount(end[ok], weights=self.hours[ok], minlength=load.size)
        return load


def relocations_of(
    dataset: Dataset, legs: pd.DataFrame, utilisation: pd.DataFrame, allocations: pd.DataFrame
) -> Relocations:
    """The plan's legs and rooms in the form :func:`phase_plan` and :func:`first_quarter` take."""
    if legs.empty:
        legs = legs.assign(room_type=pd.Series(dtype=object), relocation=pd.Series(dtype=int))
    else:
        legs = _legs_with_rooms(legs, dataset)
    rooms = _rooms(utilisation, allocations)
    known = pd.MultiIndex.from_frame(rooms[ROOM])  # once for both (40 ms at England)
    gone = _gone_rooms(allocations, rooms, known)
    if len(gone):
        rooms = pd.concat([rooms, gone], ignore_index=True)
        known = known.append(pd.MultiIndex.from_frame(gone[ROOM]))
    return Relocations.of(legs, rooms, known)


def _gone_rooms(
    allocations: pd.DataFrame, rooms: pd.DataFrame, known: pd.MultiIndex
) -> pd.DataFrame:
    """The rooms today's clinics use that the plan has no more (a closed building, a shut
    band), with today's hours there in whole sessions.

    Every hour there must go, so every hour is over the room's cap (none); without these
    rows a closure's forced moves relieved nothing and all came in the last phase. Their
    limit is today's hours, as for any room over its cap (a phase need not empty it); no
    kind, so they count in no utilisation.
    """
    today = allocations.get("today_session_hours", allocations["baseline_hours_per_week"])
    used = allocations.assign(_today=today)[today > 0]
    gone = used[known.get_indexer(pd.MultiIndex.from_frame(used[ROOM])) < 0]
    frame = (
        gone.groupby(ROOM, as_index=False)["_today"]
        .sum()
        .rename(columns={"_today": "before_hours"})
    )
    return frame.assign(
        kind=np.nan,
        capacity_hours=0.0,
        cap=0.0,
        after_hours=0.0,
        today_hours=frame["before_hours"],
        limit=frame["before_hours"],
        over=frame["before_hours"],
        fixed_over=0.0,
    )[rooms.columns]


def _phase_program(plan: Relocations, most: int, before: np.ndarray) -> LinearProgram:
    """Columns: q (one per relocation, binary), r (relief per over-cap room)."""
    rooms, n_rel = plan.rooms, plan.count
    src, dst, hours, rel = plan.source, plan.target, plan.hours, plan.relocation
    over = np.flatnonzero(rooms["over"].to_numpy() > 1e-9)
    n_r = over.size
    n = n_rel + n_r
    triplets: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    row_lo: list[np.ndarray] = []
    row_up: list[np.ndarray] = []
    count = 0
    # relief of over-cap room k: r_k - sum_{legs leaving k} h q <= 0
    where = pd.Index(over).get_indexer(src)
    ok = where >= 0
    triplets.append((count + where[ok], rel[ok], -hours[ok]))
    triplets.append((count + np.arange(n_r), n_rel + np.arange(n_r), np.ones(n_r)))
    row_lo.append(np.full(n_r, -INF))
    row_up.append(np.zeros(n_r))
    count += n_r
    # receiving rooms: today + arrivals - departures <= limit
    load = rooms["today_hours"].to_numpy(float)
    limit = rooms["limit"].to_numpy(float)
    n_room = len(rooms)
    ok_d, ok_s = dst >= 0, src >= 0
    triplets.append((count + dst[ok_d], rel[ok_d], hours[ok_d]))
    triplets.append((count + src[ok_s], rel[ok_s], -hours[ok_s]))
    row_lo.append(np.full(n_room, -INF))
    row_up.append(limit - load + 1e-6)
    count += n_room
    # at most `most` relocations
    triplets.append((np.full(n_rel, count), np.arange(n_rel), np.ones(n_rel)))
    row_lo.append(np.array([-INF]))
    row_up.append(np.array([float(most)]))
    count += 1
    r, c, v = (np.concatenate(parts) for parts in zip(*triplets, strict=True))
    matrix = sp.csr_matrix((v, (r, c)), shape=(count, n))
    moved = np.bincount(rel, weights=hours, minlength=n_rel)
    objective = np.concatenate([-1e-3 * moved, -np.ones(n_r)])
    upper = np.concatenate([np.ones(n_rel), rooms["over"].to_numpy(float)[over]])
    lower = np.zeros(n)
    lower[:n_rel] = before
    columns, rows = plan.program_frames(n_r, count)
    return LinearProgram(
        columns=columns,
        rows=rows,
        matrix=matrix,
        objective=objective,
        terms={},
        col_lower=lower,
        col_upper=upper,
        row_lower=np.concatenate(row_lo),
        row_upper=np.concatenate(row_up),
        integer=np.concatenate([np.ones(n_rel, bool), np.zeros(n_r, bool)]),
    )


def _reduced(program: LinearProgram, n_rel: int, most: int) -> tuple[LinearProgram, np.ndarray]:
    """The phase MIP with exact reductions done here, and the kept columns.

    HiGHS's presolve finds the same reductions but spent about 1 s of every 1.4 s
    phase MIP at England scale (89,313 rows) doing it. With binary ``q``:

    - an over-cap room left by one relocation relieves ``min(O, h) q``, and one whose
      leavers together hold at most ``O`` relieves ``sum h q``: either way the relief
      is linear in ``q``, so it goes into the objective and the room's row and
      relief column go;
    - a receiving room's row goes when even all the arrivals fit (its largest
      activity is within its bound): the plan itself respects the caps, so only rooms
      that both send and receive can bind;
    - relocations left in no row but the count are interchangeable but for their
      value, so only the ``most`` best of them (and those an earlier phase fixed)
      can be chosen.
    """
    matrix = program.matrix.tocsr()
    lower, upper = program.col_lower, program.col_upper
    objective = program.objective.copy()
    n_over = matrix.shape[1] - n_rel
    count_row = matrix.shape[0] - 1
    leaving = matrix[:n_over, :n_rel].tocsr()
    leavers = np.diff(leaving.indptr)
    held = -np.asarray(leaving.sum(axis=1)).ravel()
    over = upper[n_rel:]
    one = np.flatnonzero(leavers == 1)
    first = leaving.indptr[one]
    np.add.at(objective, leaving.indices[first], -np.minimum(-leaving.data[first], over[one]))
    linear = (leavers > 1) & (held <= over + 1e-9)
    folded = leaving[np.flatnonzero(linear)].tocoo()
    np.add.at(objective, folded.col, folded.data)
    keep = np.ones(matrix.shape[0], bool)
    keep[:n_over] = (leavers > 1) & ~linear
    keep[n_over:] = ~rows_that_cannot_bind(program)[n_over:]
    keep[count_row] = False
    rows = np.flatnonzero(keep)
    in_rows = np.diff(matrix[rows].tocsc().indptr) > 0
    loose = np.flatnonzero(~in_rows[:n_rel] & (lower[:n_rel] < 0.5))
    best_loose = loose[np.argsort(objective[loose], kind="stable")[:most]]
    wanted = in_rows.copy()
    wanted[:n_rel] |= lower[:n_rel] > 0.5
    wanted[best_loose] = True
    cols = np.flatnonzero(wanted)
    rows = np.append(rows, count_row)
    reduced = LinearProgram(
        columns=program.columns.iloc[cols].reset_index(drop=True),
        rows=program.rows.iloc[rows].reset_index(drop=True),
        matrix=matrix[rows][:, cols],
        objective=objective[cols],
        terms={},
        col_lower=lower[cols],
        col_upper=upper[cols],
        row_lower=program.row_lower[rows],
        row_upper=program.row_upper[rows],
        integer=program.integer[cols],
    )
    return reduced, cols


def _choose(
    plan: Relocations, most: int, before: np.ndarray, solver: Solver
) -> tuple[np.ndarray, float] | None:
    """The best at most ``most`` relocations keeping ``before`` (0/1 per relocation),
    and the gap proved; None if the solver found no plan.

    A greedy choice is taken where its bound proves it within the solver's gap
    (:func:`_greedy_choice`), else one rounded from the phase MIP's LP relaxation where
    that bound proves it (:func:`_rounded_choice`), else the phase MIP is solved.
    """
    gap = float(solver.mip_gap)
    greedy = _greedy_choice(plan, most, before, gap)
    if greedy is not None:
        return greedy
    n_rel = plan.count
    program, cols = _reduced(_phase_program(plan, most, before), n_rel, most)
    rounded = _rounded_choice(plan, program, cols, most, before, solver)
    if rounded is not None:
        return rounded
    result = solve_direct(program, solver)
    if not result.status.has_plan:
        return None
    chosen = np.zeros(n_rel)
    relocation = cols < n_rel
    chosen[cols[relocation]] = np.round(result.values[relocation])
    return np.maximum(chosen, before), float(result.gap) if result.gap is not None else 0.0


#: Most relocations a greedy choice adds (one Python step each). England's first quarter
#: (3,383) took 0.32 s to come within 1.5% of its bound, short of the 1% asked: the MIP
#: is solved for such rungs without trying.
GREEDY_MOST = 1_000


def _greedy_choice(
    plan: Relocations, most: int, before: np.ndarray, gap: float
) -> tuple[np.ndarray, float] | None:
    """At most ``most`` relocations keeping ``before``, chosen greedily, if provably within
    ``gap`` of the best; else None (the caller solves the phase MIP).

    The phase MIP's value is the relief (per over-cap room, the hours leaving it up to
    what it holds over its cap) plus 0.001 per hour moved. A room's relief can only be
    shared, never added to, so what a relocation adds to any set is at most what it adds
    to ``before`` alone: the ``most`` largest of those bound every plan. Relocations are
    taken largest gain first (:func:`_greedy_fill`), and the choice is kept if its value is
    within ``gap`` of that bound. On England's LP plan (13,532 relocations) the rungs of
    10 to 400 are proved optimal in 13-29 ms each (HiGHS took about 0.1 s a rung); NEL's
    10, 25 and 50 too, its larger rungs come within 0.5-2% and go to the MIP.
    """
    n_rel = plan.count
    fixed = before > 0.5
    free_slots = most - int(fixed.sum())
    if free_slots <= 0 or free_slots >= n_rel - int(fixed.sum()) or free_slots > GREEDY_MOST:
        return None
    relief = _Relief.of(plan, fixed)
    bound = relief.start + float(np.sort(relief.gains[~fixed])[::-1][:free_slots].sum())
    filled = _greedy_fill(plan, free_slots, fixed, relief)
    if filled is None:
        return None
    chosen, value = filled
    proved = (bound - float(value)) / max(abs(float(value)), 1e-9)
    if proved > gap + 1e-12:
        return None
    return chosen.astype(float), max(proved, 0.0)


def _rounded_choice(
    plan: Relocations,
    program: LinearProgram,
    cols: np.ndarray,
    most: int,
    before: np.ndarray,
    solver: Solver,
) -> tuple[np.ndarray, float] | None:
    """At most ``most`` relocations keeping ``before``, rounded from the LP relaxation of
    the (reduced) phase MIP, if provably within the solver's gap of the best; else None.

    The relocations the LP takes whole are kept (if together they fit where they land)
    and the rest of the rung filled greedily (:func:`_greedy_fill`); the LP's value bounds
    every plan. England's LP plan's first quarter (3,383 of 13,532): LP 0.2 s, rounded
    within 0.38% of its bound, where the MIP took 0.5 s to come within 0.72%.
    """
    n_rel = plan.count
    relaxed = solve_direct(
        replace(program, integer=np.zeros_like(program.integer)),
        solver.model_copy(update={"highs_options": {}}),
    )
    if not relaxed.status.has_plan or relaxed.objective is None:
        return None
    q = np.zeros(n_rel)
    relocation = cols < n_rel
    q[cols[relocation]] = relaxed.values[relocation]
    whole = (q > 1 - 1e-6) | (before > 0.5)
    limit = plan.rooms["limit"].to_numpy(float)
    if int(whole.sum()) > most or (plan.loads(whole) > limit + 1e-6).any():
        return None
    free_slots = most - int(whole.sum())
    if free_slots > GREEDY_MOST:
        return None
    relief = _Relief.of(plan, whole)
    filled = _greedy_fill(plan, free_slots, whole, relief)
    chosen, value = filled if filled is not None else (whole, relief.start)
    bound = -float(relaxed.objective)
    proved = (bound - float(value)) / max(abs(float(value)), 1e-9)
    if proved > float(solver.mip_gap) + 1e-12:
        return None
    return chosen.astype(float), max(proved, 0.0)


class _Relief(NamedTuple):
    """What a set of ``fixed`` relocations relieves, and what each other one would add."""

    start: float  #: the phase MIP's value of the fixed set: relief + 0.001 per hour moved
    gains: np.ndarray  #: per relocation, what it adds to the fixed set alone (fixed: -inf)
    leaves_over: np.ndarray  #: per leg, whether it leaves an over-cap room
    moved: np.ndarray  #: per relocation, its hours moved
    left: np.ndarray  #: per room, over-cap hours the fixed set leaves (negative: more relieved)

    @classmethod
    def of(cls, plan: Relocations, fixed: np.ndarray) -> _Relief:
        over = plan.rooms["over"].to_numpy(float)
        src, hours, rel = plan.source, plan.hours, plan.relocation
        leaves_over = (src >= 0) & (over[np.maximum(src, 0)] > 1e-9)
        moved = np.bincount(rel, weights=hours, minlength=plan.count)
        live = fixed[rel] & leaves_over
        left = over - np.bincount(src[live], hours[live], over.size)
        start = float((over - np.maximum(left, 0.0)).sum() + 1e-3 * moved[fixed].sum())
        gains = _gains(rel, src, hours, leaves_over, np.maximum(left, 0.0), plan.count)
        gains += 1e-3 * moved
        gains[fixed] = -np.inf
        return cls(start, gains, leaves_over, moved, left)


def _greedy_fill(
    plan: Relocations, free_slots: int, fixed: np.ndarray, relief: _Relief
) -> tuple[np.ndarray, float] | None:
    """``fixed`` and at most ``free_slots`` more relocations, largest gain first (gains
    recounted as rooms are relieved; one that would push a receiving room over its limit
    is passed over), with the set's value; None if nothing is left to choose from.
    ``relief`` is :meth:`_Relief.of` the fixed set."""
    n_rel = plan.count
    if free_slots <= 0 or free_slots >= n_rel - int(fixed.sum()):
        return None
    limit = plan.rooms["limit"].to_numpy(float)
    src, dst, hours, rel = plan.source, plan.target, plan.hours, plan.relocation
    start, gains, leaves_over, moved, left = relief
    left = left.copy()  # relieved further as relocations are taken
    load = plan.loads(fixed)
    order = np.argsort(-gains, kind="stable")
    # relocation j's legs are by_relocation[starts[j]:starts[j + 1]] (np.split made 13,532
    # arrays at England for the few hundred looked at)
    by_relocation = np.argsort(rel, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(rel, minlength=n_rel))]
    chosen = fixed.copy()
    value, taken = start, 0
    queue = [(-gains[j], int(j)) for j in order[: max(4 * free_slots, 64)]]
    rest = iter(order[len(queue) :].tolist())
    heapq.heapify(queue)
    while queue and taken < free_slots:
        _, j = heapq.heappop(queue)
        if fixed[j]:  # kept from before (gain -inf): only reached once the rest is used up
            break
        legs = by_relocation[starts[j] : starts[j + 1]]
        out = leaves_over[legs]
        room_left = np.maximum(left, 0.0)
        gain = _gains(np.zeros(legs.size, int), src[legs], hours[legs], out, room_left, 1)[0]
        gain += 1e-3 * moved[j]
        if queue and gain < -queue[0][0] - 1e-12:
            heapq.heappush(queue, (-gain, j))  # worth less now that others relieve its rooms
            continue
        arrivals = dst[legs]
        touched = np.concatenate([arrivals[arrivals >= 0], src[legs][src[legs] >= 0]])
        change = np.concatenate([hours[legs][arrivals >= 0], -hours[legs][src[legs] >= 0]])
        after = load.copy()
        np.add.at(after, touched, change)
        if not (after[touched] > limit[touched] + 1e-6).any():  # it fits where it lands
            load = after
            np.subtract.at(left, src[legs][out], hours[legs][out])
            chosen[j] = True
            value += gain
            taken += 1
        nxt = next(rest, None)  # taken or passed over: the next candidate joins the queue
        if nxt is not None:
            heapq.heappush(queue, (-gains[nxt], nxt))
    return chosen, value


def _gains(
    rel: np.ndarray,
    src: np.ndarray,
    hours: np.ndarray,
    leaves_over: np.ndarray,
    room_left: np.ndarray,
    n_rel: int,
) -> np.ndarray:
    """Per relocation, the relief its legs add to rooms holding ``room_left`` hours over
    their caps: per (relocation, room), its hours leaving the room up to what is left."""
    at = np.flatnonzero(leaves_over)
    if not at.size:
        return np.zeros(n_rel)
    pair = rel[at].astype(np.int64) * room_left.size + src[at]
    keys, inverse = np.unique(pair, return_inverse=True)
    held = np.bincount(inverse, weights=hours[at], minlength=keys.size)
    added = np.minimum(held, room_left[keys % room_left.size])
    return np.bincount(keys // room_left.size, weights=added, minlength=n_rel)


#: Relative gap and time limit of the phase MIPs (choose at most n of the plan's
#: relocations). Up to :data:`SMALL_PLAN` relocations they are solved to 0.01%: NEL's
#: first quarter (118 of 470) then takes 0.12 s and relieves 7,181 h/week, against
#: 7,160 at a 1% gap. Larger plans are solved to 1%: the England LP plan's first
#: quarter (3,383 of 13,532) takes 0.8 s at 1% and 37 s at 0.01% (the root node's
#: bound closes slowly), for 0.4% more relief (218,352 against 217,527 h/week). Rounded
#: from the LP relaxation (:func:`_rounded_choice`) it relieves 218,296 h/week, proved
#: within 0.38% in 0.3 s.
PHASE_MIP_GAP = 0.01
SMALL_PLAN_MIP_GAP = 1e-4
SMALL_PLAN = 2_000
PHASE_TIME_LIMIT_S = 20.0
#: HiGHS settings for the phase MIPs. :func:`_reduced` has made the reductions presolve
#: would find, and the feasibility-jump heuristic only delays the root LP, which already
#: gives a near-integral choice. Measured on the England LP plan (13,532 relocations):
#: a rung of 10 or 400 relocations 0.16-0.18 s -> 0.09-0.10 s. Only for rungs of at most
#: :data:`GREEDY_MOST` relocations: 20x NEL's first quarter (4,871 of 19,481) took 10.0 s
#: without presolve.
PHASE_HIGHS_OPTIONS: dict[str, float | int | str | bool] = {
    "presolve": "off",
    "mip_heuristic_run_feasibility_jump": False,
}


def _phase_solver(scenario: Scenario, n_rel: int, most: int) -> Solver:
    gap = SMALL_PLAN_MIP_GAP if n_rel <= SMALL_PLAN else PHASE_MIP_GAP
    options = dict(scenario.solver.highs_options)
    if most <= GREEDY_MOST:
        options.update(PHASE_HIGHS_OPTIONS)
    return scenario.solver.model_copy(
        update={"mip_gap": gap, "time_limit_s": PHASE_TIME_LIMIT_S, "highs_options": options}
    )


def phase_plan(
    scenario: Scenario, plan: Relocations, allocations: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(phase of each relocation, keyed by :data:`RELOCATION_KEY`; phases.csv)."""
    if plan.count == 0:
        empty = pd.DataFrame(columns=[*RELOCATION_KEY, "phase"])
        return empty, pd.DataFrame(columns=PHASE_COLUMNS)
    n_rel = plan.count
    ladder = [n for n in scenario.relocation.phases if n < n_rel] + [n_rel]
    chosen = np.zeros(n_rel)
    phase_of = np.zeros(n_rel, dtype=int)
    for number, most in enumerate(ladder, start=1):
        if most >= n_rel:
            now = np.ones(n_rel)
        else:
            best = _choose(plan, most, chosen, _phase_solver(scenario, n_rel, most))
            now = best[0] if best is not None else chosen
        phase_of[(now > 0.5) & (chosen < 0.5)] = number
        chosen = np.maximum(chosen, now)
    legs = plan.legs
    keys = legs.drop_duplicates("relocation").sort_values("relocation")[RELOCATION_KEY]
    phases = keys.assign(phase=phase_of).reset_index(drop=True)
    table = phase_table(plan, phase_of, ladder, allocations)
    return phases, table


def first_quarter(scenario: Scenario, plan: Relocations) -> FirstQuarter:
    """What the best quarter of the relocations relieves (the headline of the ladder).

    Solved on its own (not nested in the ladder): the most over-cap hours any
    ceil(n/4) of the plan's n relocations relieve, as a share of all over-cap hours
    and of what the whole plan relieves (rooms whose fixed work alone is over the
    cap stay over it whatever moves, so the whole plan relieves less than all).
    """
    n_rel = plan.count
    if n_rel == 0:
        return {}
    quarter = -(-n_rel // 4)
    best = _choose(plan, quarter, np.zeros(n_rel), _phase_solver(scenario, n_rel, quarter))
    if best is None:
        return {}
    chosen, gap = best
    relieved = plan.relieved(chosen > 0.5)
    whole = plan.plan_relieved()
    total = float(plan.rooms["over"].sum())
    return {
        "relocations": quarter,
        "over_cap_hours_relieved": relieved,
        "over_cap_share_relieved": relieved / total if total else 1.0,
        "plan_relief_share": relieved / whole if whole else 1.0,
        "over_cap_hours": total,
        "fixed_over_cap_hours": float(plan.rooms["fixed_over"].sum()),
        "gap": gap,
    }


@dataclass(frozen=True)
class PhasedPlan:
    """The phased plan: each relocation's phase, phases.csv and the first quarter."""

    phase_of: pd.DataFrame  #: keyed by :data:`RELOCATION_KEY`
    table: pd.DataFrame  #: phases.csv
    first_quarter: FirstQuarter


def phased_plan(scenario: Scenario, plan: Relocations, allocations: pd.DataFrame) -> PhasedPlan:
    """The ladder (:func:`phase_plan`) and the first quarter (:func:`first_quarter`): the
    explain stage's only solves, so they can run beside its other work."""
    quarter = first_quarter(scenario, plan)  # first: its MIP overlaps most of the caller's work
    phase_of, table = phase_plan(scenario, plan, allocations)
    return PhasedPlan(phase_of, table, quarter)


def with_phases(moves: pd.DataFrame, phase_of: pd.DataFrame) -> pd.DataFrame:
    """moves.csv with the phase in which each relocation is made."""
    if moves.empty:
        return moves
    key = pd.MultiIndex.from_frame(moves[RELOCATION_KEY])
    phase = phase_of.set_index(RELOCATION_KEY)["phase"].reindex(key).fillna(0)
    return moves.assign(phase=phase.to_numpy(int))


def phase_table(
    plan: Relocations, phase_of: np.ndarray, ladder: list[int], allocations: pd.DataFrame
) -> pd.DataFrame:
    """KPIs after each phase, from the rooms' loads with that phase's legs applied."""
    legs, rooms = plan.legs, plan.rooms
    total_over = float(rooms["over"].sum())
    whole = plan.plan_relieved()
    weekday = (rooms["band"] == "weekday").to_numpy()
    weekday_rooms = rooms.loc[weekday, ["kind", "capacity_hours"]]  # each phase adds its loads
    today = allocations["today_session_hours"].to_numpy(float)
    km = allocations["travel_km"].fillna(0.0).to_numpy(float)
    base_km = float((today * km).sum())
    base_hours = float(today.sum())
    planned = allocations["hours_per_week"].to_numpy(float)
    plan_km = float((planned * km).sum()) / float(planned.sum()) if planned.sum() else 0.0
    km_change = plan.hours * (
        legs["to_travel_km"].fillna(0).to_numpy(float)
        - legs["from_travel_km"].fillna(0).to_numpy(float)
    )
    cost_change = plan.hours * (legs["to_cost"] - legs["from_cost"]).to_numpy(float)
    rows = []
    for number in range(1, len(ladder) + 1):
        done = phase_of <= number
        live = done[plan.relocation]
        last = number == len(ladder)  # the whole plan: its own figures, as kpis.json has them
        relieved = whole if last else plan.relieved(done)
        load = rooms["after_hours"].to_numpy(float) if last else plan.loads(done)
        km_after = base_km + float(km_change[live].sum())
        weekday_use = kind_utilisation(
            weekday_rooms.assign(load_hours=load[weekday]), ["load_hours"], by_band=False
        )
        util = dict(zip(weekday_use["kind"], weekday_use["utilisation"].fillna(0.0), strict=True))
        rows.append(
            {
                "phase": number,
                "relocations": int(done.sum()),
                "new_relocations": int((phase_of == number).sum()),
                "hours_moved": float(plan.hours[live].sum()),
                "over_cap_hours_relieved": relieved,
                "over_cap_share_relieved": relieved / total_over if total_over else 1.0,
                "plan_relief_share": relieved / whole if whole else 1.0,
                "community_weekday_utilisation": float(util.get("community", 0.0)),
                "gp_practice_weekday_utilisation": float(util.get("gp_practice", 0.0)),
                "mean_clinic_travel_km": plan_km
                if last
                else (km_after / base_hours if base_hours else 0.0),
                "room_cost_change_gbp_per_week": float(cost_change[live].sum()),
            }
        )
    return pd.DataFrame(rows, columns=PHASE_COLUMNS)
