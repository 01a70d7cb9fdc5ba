"""The moves table: hours leaving a slot paired with hours arriving, gathered into relocations.

:func:`move_legs` pairs each (service, PCN)'s losses with its gains; :func:`relocation_lines`
gathers the legs into moves.csv, one line per clinic arriving in a (site, band). The words
of the ``why`` column come from :mod:`estates_opt.results.explain.reasons`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.results.explain.allocations import EPS
from estates_opt.results.explain.reasons import MoveReasons, over_cap_words, relocation_reasons
from estates_opt.schema import SESSION_HOURS

if TYPE_CHECKING:
    from pandas.core.groupby import DataFrameGroupBy


#: What makes one relocation: a (service, PCN) clinic arriving in one (site, band).
RELOCATION_KEY = ["service_id", "pcn_code", "to_site_id", "to_band"]
#: moves.csv: one line per relocation (a clinic arriving in a slot), from one or more slots.
MOVE_COLUMNS = [
    "service_id",
    "service",
    "pcn_code",
    "from_site_id",
    "from_site",
    "from_band",
    "from_sites",
    "from_site_ids",
    "n_from_sites",
    "to_site_id",
    "to_site",
    "to_band",
    "hours_per_week",
    "sessions_per_week",
    "from_travel_km",
    "to_travel_km",
    "why",
    "phase",
]
#: A leg: one source slot to one arriving slot (what :func:`relocation_lines` gathers).
LEG_COLUMNS = [
    c for c in MOVE_COLUMNS if c not in ("from_sites", "from_site_ids", "n_from_sites", "phase")
]


@dataclass(frozen=True)
class _Names:
    """The names a leg is written with: sites, services and each service's room type."""

    sites: dict[str, str]
    services: dict[str, str]
    rooms: dict[str, str]

    @classmethod
    def of(cls, dataset: Dataset) -> _Names:
        premises, services = dataset.premises, dataset.services
        closed = dataset.closed_slots
        sites = dict(zip(closed["site_id"], closed.get("name", closed["site_id"]), strict=True))
        sites = {s: n for s, n in sites.items() if isinstance(n, str)}  # closed ones, by name
        sites.update(zip(premises["site_id"], premises["name"], strict=True))
        return cls(
            sites=sites,
            services=dict(zip(services["service_id"], services["name"], strict=True)),
            rooms=dict(zip(services["service_id"], services["room_type"], strict=True)),
        )


def moves_table(
    dataset: Dataset, allocations: pd.DataFrame, utilisation: pd.DataFrame
) -> pd.DataFrame:
    """moves.csv: one line per relocation (see :func:`relocation_lines`)."""
    return relocation_lines(move_legs(dataset, allocations, utilisation))


def move_legs(
    dataset: Dataset, allocations: pd.DataFrame, utilisation: pd.DataFrame
) -> pd.DataFrame:
    """One leg per change: hours leaving a slot paired with hours arriving, and why
    (:func:`paired_legs`, then :func:`with_reasons`)."""
    return with_reasons(dataset, utilisation, paired_legs(dataset, allocations))


def paired_legs(dataset: Dataset, allocations: pd.DataFrame) -> pd.DataFrame:
    """The legs without their reasons (all the phased plan needs of them).

    Each (service, PCN)'s losses fill its gains in order (slots in table order, clinics in
    sorted key order): laid end to end, losses and gains are two runs of intervals, and a
    leg is where a loss's interval overlaps a gain's (:func:`_pairs`), worked out for every
    clinic at once. A Python loop per clinic took most of the explain time on large plans.
    """
    names = _Names.of(dataset)
    changed = _changed_slots(allocations)
    change = changed["change"].to_numpy(float)
    clinic = _clinic_numbers(
        changed["service_id"].to_numpy(object), changed["pcn_code"].to_numpy(object)
    )
    loss_rows = np.flatnonzero(change < -EPS)
    gain_rows = np.flatnonzero(change > EPS)
    src, dst, hours = _pairs(
        clinic[loss_rows], -change[loss_rows], clinic[gain_rows], change[gain_rows]
    )
    src, dst = loss_rows[src], gain_rows[dst]
    # A leg's share of the sessions its slot adds: a slot can add more than moves in (new
    # demand; hours from another band rounded to whole sessions), and its line must say how
    # many sessions the clinic books there, not the moved hours over a session's length.
    length = np.array([SESSION_HOURS[b] for b in changed["band"].to_numpy(object)[dst]])
    paired = np.bincount(dst, weights=hours, minlength=change.size)[dst]
    sessions = hours / paired * np.maximum(change[dst], paired) / length
    site = changed["site_id"].to_numpy(object)
    band = changed["band"].to_numpy(object)
    km = changed["travel_km"].to_numpy(float)
    service = changed["service_id"].to_numpy(object)[src]
    return pd.DataFrame(
        {
            "service_id": service,
            "service": [names.services[s] for s in service],
            "pcn_code": changed["pcn_code"].to_numpy(object)[src],
            "from_site_id": site[src],
            "from_site": [names.sites.get(s, s) for s in site[src]],
            "from_band": band[src],
            "to_site_id": site[dst],
            "to_site": [names.sites.get(s, s) for s in site[dst]],
            "to_band": band[dst],
            "hours_per_week": hours,
            "sessions_per_week": sessions,
            "from_travel_km": km[src],
            "to_travel_km": km[dst],
        },
        columns=LEG_COLUMNS[:-1],
    )


def with_reasons(dataset: Dataset, utilisation: pd.DataFrame, legs: pd.DataFrame) -> pd.DataFrame:
    """:func:`paired_legs` with each leg's ``why`` (a new table: ``legs`` is left as it is,
    so the phased plan may read it meanwhile)."""
    names = _Names.of(dataset)
    reasons = MoveReasons.of_plan(dataset, utilisation)
    rooms = [names.rooms[svc] for svc in legs["service_id"].tolist()]
    why = reasons.why_legs(legs.assign(room_type=rooms))
    out = _making_room(legs.assign(why=why)[LEG_COLUMNS], names)
    # each leg's source, named, where it is over its cap today: a relocation from several
    # slots speaks for its largest, and must not hide that a smaller one is over its cap
    closed = zip(legs["from_site_id"].tolist(), legs["from_band"].tolist(), strict=True)
    out["_closed"] = [slot in reasons.closed for slot in closed]
    over = reasons.over_today
    out["_over_cap"] = [
        over_cap_words(room, site, over[key]) if (key := (site_id, room, band)) in over else None
        for site_id, site, room, band in zip(
            legs["from_site_id"].tolist(),
            out["from_site"].tolist(),
            rooms,
            legs["from_band"].tolist(),
            strict=True,
        )
    ]
    return out


def _pairs(
    loss_clinic: np.ndarray, loss: np.ndarray, gain_clinic: np.ndarray, gain: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loss, gain, hours) of each leg: each clinic's losses (hours, in order) filling its
    gains in order, as far as the smaller side goes; clinics numbered 0.. in order.

    Per clinic, the losses' and the gains' running totals are the ends of two runs of
    intervals from 0; sorted together, each stretch between consecutive ends lies in one
    loss (the number of loss ends before it) and one gain: a leg, if longer than EPS.
    """
    if not loss.size or not gain.size:
        empty = np.zeros(0, dtype=int)
        return empty, empty, np.zeros(0)
    loss_end = _running_totals(loss_clinic, loss)
    gain_end = _running_totals(gain_clinic, gain)
    clinic = np.concatenate([loss_clinic, gain_clinic])
    end = np.concatenate([loss_end, gain_end])
    is_loss = np.concatenate([np.ones(loss.size, bool), np.zeros(gain.size, bool)])
    order = np.lexsort((end, clinic))
    clinic, end, is_loss = clinic[order], end[order], is_loss[order]
    first = np.ones(clinic.size, bool)
    first[1:] = clinic[1:] != clinic[:-1]
    start = np.where(first, 0.0, np.roll(end, 1))
    # losses and gains used up before each stretch, counted within its clinic
    losses_before = _count_before_within(is_loss, first)
    gains_before = _count_before_within(~is_loss, first)
    loss_first = np.searchsorted(loss_clinic, clinic)  # position of each clinic's first loss
    gain_first = np.searchsorted(gain_clinic, clinic)
    loss_at = loss_first + losses_before
    gain_at = gain_first + gains_before
    inside = (
        (loss_at < loss.size)
        & (gain_at < gain.size)
        & (loss_clinic[np.minimum(loss_at, loss.size - 1)] == clinic)
        & (gain_clinic[np.minimum(gain_at, gain.size - 1)] == clinic)
    )
    li, gi = loss_at[inside], gain_at[inside]
    start = start[inside]
    hours = np.minimum(
        _left_from(start, loss_end[li], loss[li]), _left_from(start, gain_end[gi], gain[gi])
    )
    keep = hours > EPS
    return li[keep], gi[keep], hours[keep]


def _left_from(start: np.ndarray, end: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """What is left of intervals of ``amount`` ending at ``end`` from ``start`` on: the
    amount itself where the interval starts there (so equal hours stay equal, and ties
    sort as they should), else what its end leaves."""
    whole = np.abs(end - amount - start) <= 1e-9
    return np.where(whole, amount, end - start)


def _running_totals(clinic: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Running totals of ``hours`` restarting at each clinic (rows grouped by clinic)."""
    total = np.cumsum(hours)
    first = np.ones(clinic.size, bool)
    first[1:] = clinic[1:] != clinic[:-1]
    before = np.where(first, total - hours, 0.0)
    return total - np.maximum.accumulate(np.where(first, before, -np.inf))


def _count_before_within(flag: np.ndarray, first: np.ndarray) -> np.ndarray:
    """How many flagged rows precede each row within its run (runs start where ``first``)."""
    counted = np.cumsum(flag) - flag
    return counted - np.maximum.accumulate(np.where(first, counted, 0))


def _making_room(legs: pd.DataFrame, names: _Names) -> pd.DataFrame:
    """Legs with no reason of their own that leave a room other clinics move into: the
    plan swaps them (a PCN's clinic out of its hub so that others fit there, say)."""
    if legs.empty:
        return legs
    # lists, not Series: iterating Arrow-backed text cell by cell was most of this step
    room = legs["service_id"].map(names.rooms).tolist()
    arriving = set(zip(legs["to_site_id"].tolist(), room, legs["to_band"].tolist(), strict=True))
    leaving = zip(legs["from_site_id"].tolist(), room, legs["from_band"].tolist(), strict=True)
    swapped = np.fromiter((slot in arriving for slot in leaving), bool, len(legs))
    blank = (legs["why"] == "").to_numpy() & swapped
    legs.loc[blank, "why"] = (
        "makes room at " + legs.loc[blank, "from_site"].astype(str) + (" for other clinics")
    )
    return legs


def _changed_slots(allocations: pd.DataFrame) -> pd.DataFrame:
    """The allocation rows whose hours change against today's, with the ``change``, sorted
    by (service, PCN) and otherwise in table order."""
    change = allocations["hours_per_week"] - allocations["today_session_hours"]
    keys = ["service_id", "pcn_code"]
    moved = (change.abs() > EPS) & allocations[keys].notna().all(axis=1)
    # change[moved], not change: assigning a longer Series to an empty frame adopts its index.
    return allocations.loc[moved].assign(change=change[moved]).sort_values(keys, kind="stable")


def _clinic_numbers(service_col: np.ndarray, pcn_col: np.ndarray) -> np.ndarray:
    """0, 1, ... for the runs of rows of one (service, PCN) in the sorted changes."""
    new_group = np.ones(len(service_col), dtype=bool)
    new_group[1:] = (service_col[1:] != service_col[:-1]) | (pcn_col[1:] != pcn_col[:-1])
    return np.cumsum(new_group) - 1


def relocation_lines(legs: pd.DataFrame) -> pd.DataFrame:
    """Legs (one source slot to one arriving slot) gathered into one line per relocation.

    A relocation is what an estates team decides: "move this PCN's clinic, so many
    sessions, into this building": all legs of a (service, PCN) arriving in one
    (site, band). ``from_site_id`` is its largest source; ``from_sites`` lists them
    all with their hours, ``from_site_ids`` their ids in the same order; ``from_travel_km``
    is the hours-weighted mean.
    """
    if legs.empty:
        return pd.DataFrame(columns=MOVE_COLUMNS)
    # largest source first; hours to 1e-6 h, so float noise in a split leg cannot reorder ties
    legs = (
        legs.assign(_hours=legs["hours_per_week"].round(6))
        .sort_values(
            ["service_id", "pcn_code", "to_site_id", "to_band", "_hours", "from_site_id"],
            ascending=[True, True, True, True, False, True],
            kind="stable",
        )
        .drop(columns="_hours")
    )
    legs = legs.assign(
        _label=legs["from_site"].astype(str)
        + " ("
        + legs["from_band"].astype(str)
        + ", "
        + _tenths(legs["hours_per_week"])
        + " h)",
        _km=legs["from_travel_km"].astype(float) * legs["hours_per_week"],
        # hours whose travel is known (not that from a closed building, which is gone)
        _known=legs["hours_per_week"].where(legs["from_travel_km"].notna(), 0.0),
    )
    grouped = legs.groupby(RELOCATION_KEY, sort=False)
    lines = grouped.first()[
        ["service", "from_site_id", "from_site", "from_band", "to_site", "to_travel_km", "why"]
    ]
    if "_over_cap" in legs:  # a smaller source over its cap where the largest is not
        largest = legs.drop_duplicates(RELOCATION_KEY)
        other = grouped["_over_cap"].first().to_numpy(object)  # the first that is
        use = largest["_over_cap"].isna().to_numpy() & pd.notna(other)
        # after a closure's reason (what forces the move), before any other
        after = largest["_closed"].to_numpy(bool)[use]
        why = lines["why"].to_numpy(object)
        why[use] = [
            (f"{w}; {o}" if last else f"{o}; {w}") if w else o
            for o, w, last in zip(other[use], why[use], after, strict=True)
        ]
        lines["why"] = why
    lines["from_sites"] = _joined_labels(legs["_label"], grouped)
    # the same sources by id, in the same order: names repeat (two GROVE SURGERYs in NEL)
    lines["from_site_ids"] = _joined_labels(legs["from_site_id"].astype(str), grouped)
    lines["n_from_sites"] = grouped["from_site_id"].nunique()
    lines["hours_per_week"] = grouped["hours_per_week"].sum()
    lines["sessions_per_week"] = grouped["sessions_per_week"].sum()
    known = grouped["_known"].sum()
    lines["from_travel_km"] = (grouped["_km"].sum() / known).where(known > 0)
    booked = lines["sessions_per_week"].to_numpy(float) * np.array(
        [SESSION_HOURS[b] for b in lines.index.get_level_values("to_band")]
    )
    lines["why"] = relocation_reasons(
        lines["why"].tolist(),
        lines["from_travel_km"].to_numpy(float),
        lines["to_travel_km"].to_numpy(float),
        booked - lines["hours_per_week"].to_numpy(float),
        booked,
    )
    lines["phase"] = 0  # set by the phased plan
    return lines.reset_index()[MOVE_COLUMNS]


def _tenths(hours: pd.Series) -> pd.Series:
    """Hours as text to 0.1 h, halves rounded up (5.25 h is "5.3"), so that float noise
    of 1e-9 h in a split leg cannot turn 11.55 into "11.5" one run and "11.6" the next."""
    tenths = np.floor(hours.to_numpy(float) * 10 + 0.5 + 1e-6) / 10
    return pd.Series([f"{h:.1f}" for h in tenths], index=hours.index, dtype=object)


def _joined_labels(labels: pd.Series, grouped: DataFrameGroupBy) -> list[str] | pd.Series:
    """Each relocation's source labels joined with '; ', in the groups' order.

    The legs are sorted by the relocation key, so each group is one run of rows: joined
    run by run, without a Python call per group through pandas (most of the explain time).
    """
    codes = grouped.ngroup().to_numpy()
    if len(codes) and (codes[0] != 0 or (np.diff(codes) < 0).any() or (codes < 0).any()):
        # not runs in order: let pandas gather them, in the groups' order
        return pd.Series(labels.to_numpy()).groupby(codes).agg("; ".join).tolist()
    text = labels.tolist()
    starts = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist()]
    stops = [*starts[1:], len(text)]
    return ["; ".join(text[a:b]) for a, b in zip(starts, stops, strict=True)]
