"""The moves table: hours leaving a slot paired with hours arriving, gathered into relocations.

:func:`move_legs` pairs each (service, PCN)'s losses with its gains; :func:`relocation_lines`
gathers the legs into moves.csv, one line per clinic arriving in a (site, band). The words
of the ``why`` column come from :mod:`estates_opt.results.explain.reasons`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.results.explain.allocations import EPS
from estates_opt.results.explain.reasons import MoveReasons, relocation_reasons
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
    """One leg per change: hours leaving a slot paired with hours arriving.

    Lines are paired per (service, PCN) in sorted key order, slots in table order.
    Lookups are plain dicts and rows are read from arrays: a pandas groupby with
    ``itertuples`` per group took most of the explain time on large plans.
    """
    names = _Names.of(dataset)
    reasons = MoveReasons.of_plan(dataset, utilisation)
    changed = _changed_slots(allocations)
    service_col = changed["service_id"].to_numpy(object)
    pcn_col = changed["pcn_code"].to_numpy(object)
    slots = list(
        zip(
            changed["site_id"].tolist(),
            changed["band"].tolist(),
            changed["change"].to_numpy(float).tolist(),
            changed["travel_km"].to_numpy(float).tolist(),
            strict=True,
        )
    )
    lines: list[dict[str, Any]] = []
    for start, stop in _clinic_runs(service_col, pcn_col):
        losses, gains = _losses_and_gains(slots[start:stop])
        lines += _paired_legs(service_col[start], pcn_col[start], losses, gains, names, reasons)
    return _making_room(pd.DataFrame(lines, columns=LEG_COLUMNS), names)


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


def _clinic_runs(service_col: np.ndarray, pcn_col: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of each run of rows of one (service, PCN) in the sorted changes."""
    new_group = np.ones(len(service_col), dtype=bool)
    new_group[1:] = (service_col[1:] != service_col[:-1]) | (pcn_col[1:] != pcn_col[:-1])
    starts = np.flatnonzero(new_group).tolist()
    stops = [*starts[1:], len(service_col)][: len(starts)]  # none when nothing changed
    return list(zip(starts, stops, strict=True))


def _losses_and_gains(
    slots: list[tuple[str, str, float, float]],
) -> tuple[list[list[Any]], list[list[Any]]]:
    """One clinic's changed slots as [site, band, hours, travel km] legs: hours leaving
    (losses) and hours arriving (gains), each in table order."""
    losses = [[site, band, -change, km] for site, band, change, km in slots if change < -EPS]
    gains = [[site, band, change, km] for site, band, change, km in slots if change > EPS]
    return losses, gains


def _paired_legs(
    service: str,
    pcn: str,
    losses: list[list[Any]],
    gains: list[list[Any]],
    names: _Names,
    reasons: MoveReasons,
) -> list[dict[str, Any]]:
    """One clinic's losses filling its gains in order: a leg per (loss, gain) pair it uses.

    The legs' hours are taken off ``losses`` and ``gains`` as they are paired.
    """
    room = names.rooms[service]
    lines = []
    while losses and gains:
        src, dst = losses[0], gains[0]
        hours = min(src[2], dst[2])
        lines.append(
            {
                "service_id": service,
                "service": names.services[service],
                "pcn_code": pcn,
                "from_site_id": src[0],
                "from_site": names.sites.get(src[0], src[0]),
                "from_band": src[1],
                "to_site_id": dst[0],
                "to_site": names.sites.get(dst[0], dst[0]),
                "to_band": dst[1],
                "hours_per_week": hours,
                "sessions_per_week": hours / SESSION_HOURS[dst[1]],
                "from_travel_km": src[3],
                "to_travel_km": dst[3],
                "why": reasons.why(src, dst, room),
            }
        )
        src[2] -= hours
        dst[2] -= hours
        if src[2] <= EPS:
            losses.pop(0)
        if dst[2] <= EPS:
            gains.pop(0)
    return lines


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
    legs = legs.sort_values(
        ["service_id", "pcn_code", "to_site_id", "to_band", "hours_per_week", "from_site_id"],
        ascending=[True, True, True, True, False, True],
        kind="stable",
    )
    legs = legs.assign(
        _label=legs["from_site"].astype(str)
        + " ("
        + legs["from_band"].astype(str)
        + ", "
        + legs["hours_per_week"].map(lambda h: f"{h:.1f}")
        + " h)",
        _km=legs["from_travel_km"].astype(float) * legs["hours_per_week"],
        # hours whose travel is known (not that from a closed building, which is gone)
        _known=legs["hours_per_week"].where(legs["from_travel_km"].notna(), 0.0),
    )
    grouped = legs.groupby(RELOCATION_KEY, sort=False)
    lines = grouped.first()[
        ["service", "from_site_id", "from_site", "from_band", "to_site", "to_travel_km", "why"]
    ]
    lines["from_sites"] = _joined_labels(legs["_label"], grouped)
    # the same sources by id, in the same order: names repeat (two GROVE SURGERYs in NEL)
    lines["from_site_ids"] = _joined_labels(legs["from_site_id"].astype(str), grouped)
    lines["n_from_sites"] = grouped["from_site_id"].nunique()
    lines["hours_per_week"] = grouped["hours_per_week"].sum()
    lines["sessions_per_week"] = grouped["sessions_per_week"].sum()
    known = grouped["_known"].sum()
    lines["from_travel_km"] = (grouped["_km"].sum() / known).where(known > 0)
    lines["why"] = relocation_reasons(
        lines["why"].tolist(),
        lines["from_travel_km"].to_numpy(float),
        lines["to_travel_km"].to_numpy(float),
    )
    lines["phase"] = 0  # set by the phased plan
    return lines.reset_index()[MOVE_COLUMNS]


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
