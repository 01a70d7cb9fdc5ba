"""Why a move happens, in words for the ``why`` column of moves.csv.

The reasons are read from the plan after the fact (a room over its cap today, one at its
cap after the plan, a cheaper room, shorter travel, a closed slot), and a move's cost
(longer travel) beside them; the solver gives no reasons of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset


def why_moved(
    src: list[Any],
    dst: list[Any],
    room: str,
    full: set[tuple[str, str, str]],
    cost: dict[tuple[str, str], float],
    over_today: dict[tuple[str, str, str], tuple[float, float]] | None = None,
) -> str:
    """Why hours leave ``src`` for ``dst``, in words for moves.csv ("" where the slots say
    nothing: the relocation's travel, or :data:`NO_REASON`, then speaks for it).

    ``src`` and ``dst`` are [site, band, hours, travel km] legs; ``full`` the (site, room type,
    band) rooms at their cap after the plan; ``cost`` the mean room cost per (site, band);
    ``over_today`` the rooms over their cap today, with their use and cap (shares): the
    reason most moves are made, so it comes first.
    Travel is not a leg's reason: a relocation gathers legs from several slots, and its
    line gives their hours-weighted travel (:func:`travel_reason`).
    """
    legs = pd.DataFrame(
        {
            "from_site_id": [src[0]],
            "from_band": [src[1]],
            "from_travel_km": [np.nan if src[3] is None else src[3]],
            "to_site_id": [dst[0]],
            "to_band": [dst[1]],
            "room_type": [room],
        }
    )
    return legs_moved(legs, full, cost, over_today or {})[0]


def legs_moved(
    legs: pd.DataFrame,
    full: set[tuple[str, str, str]],
    cost: dict[tuple[str, str], float],
    over_today: dict[tuple[str, str, str], tuple[float, float]],
) -> list[str]:
    """:func:`why_moved` for every leg of ``legs`` at once (``from_site_id``, ``from_band``,
    ``from_travel_km``, ``to_site_id``, ``to_band``, ``room_type``): each kind of reason a
    column, the words made once per room over its cap rather than once per leg."""
    src_site = legs["from_site_id"].tolist()
    src_band = legs["from_band"].tolist()
    rooms = legs["room_type"].tolist()
    words: dict[object, str] = {}  # each distinct reason worded once

    def capacity_words(key: tuple[str, str, str]) -> str:
        if key not in words:
            today = over_today.get(key)
            words[key] = (
                over_cap_words(key[1], "the old site", today)
                if today is not None
                else (f"{key[1]} rooms at the old site are at their cap" if key in full else "")
            )
        return words[key]

    def cheaper_words(to: float, was: float) -> str:
        key = ("cheaper", to, was)
        if key not in words:
            words[key] = f"cheaper room (£{to:.0f} vs £{was:.0f} per hour)"
        return words[key]

    capacity = [capacity_words(key) for key in zip(src_site, rooms, src_band, strict=True)]
    c_from = [cost.get(k, np.nan) for k in zip(src_site, src_band, strict=True)]
    c_to = [
        cost.get(k, np.nan)
        for k in zip(legs["to_site_id"].tolist(), legs["to_band"].tolist(), strict=True)
    ]
    gone = (np.isnan(c_from) | np.isnan(legs["from_travel_km"].to_numpy(float))).tolist()
    return [
        "; ".join(
            p
            for p in (
                room,
                SLOT_GONE if lost else "",
                cheaper_words(to, was) if to < was - 0.5 else "",  # False where one is NaN
            )
            if p
        )
        for room, lost, to, was in zip(capacity, gone, c_to, c_from, strict=True)
    ]


def over_cap_words(room: str, where: str, today: tuple[float, float]) -> str:
    """ "consulting rooms at <where> are over their cap today (103% used, cap 85%)"."""
    return f"{room} rooms at {where} are over their cap today ({today[0]:.0%} used, cap {today[1]:.0%})"


#: A leg's reason where its old slot is closed or beyond the model's reach.
SLOT_GONE = "the old slot is no longer available (closed or out of reach)"


#: The reason of a relocation neither its slots nor its travel explain.
NO_REASON = "frees capacity elsewhere in the plan"


def travel_reason(from_km: float, to_km: float) -> str:
    """ "shorter travel (a vs b km)" where the relocation shortens journeys by 50 m or more,
    in the two decimals moves.csv gives its travel in; "longer travel (a vs b km)", its
    cost, where it lengthens them as much (a team agreeing the move must know); "" else."""
    if not (np.isfinite(from_km) and np.isfinite(to_km)):
        return ""
    if to_km < from_km - 0.05:
        return f"shorter travel ({to_km:.2f} vs {from_km:.2f} km)"
    if to_km > from_km + 0.05:
        return f"longer travel ({to_km:.2f} vs {from_km:.2f} km)"
    return ""


def relocation_reasons(
    slot_reasons: list[str],
    from_km: np.ndarray,
    to_km: np.ndarray,
    beyond: np.ndarray,
    booked: np.ndarray,
) -> list[str]:
    """Each relocation's ``why``: its largest leg's slot reasons, then its own travel
    (longer travel is a cost, not a reason: a line with nothing else gets :data:`NO_REASON`
    before it), then the hours it books ``beyond`` what moves in, where there are any."""
    lines = []
    for slots, before, after, more, hours in zip(
        slot_reasons, from_km, to_km, beyond, booked, strict=True
    ):
        travel = travel_reason(float(before), float(after))
        if not slots and travel.startswith("longer"):
            slots = NO_REASON
        extra = (
            f"books {hours:.1f} h there, {more:.1f} h more than moves in (new demand, or "
            "whole sessions in another band)"
            if more > 0.05
            else ""
        )
        lines.append("; ".join(p for p in (slots, travel, extra) if p) or NO_REASON)
    return lines


def full_rooms(utilisation: pd.DataFrame) -> set[tuple[str, str, str]]:
    """The (site, room type, band) rooms at their cap after the plan."""
    at_cap = utilisation["after_hours"] >= utilisation["cap"] * utilisation["capacity_hours"] - 1e-6
    return set(map(tuple, utilisation.loc[at_cap, ["site_id", "room_type", "band"]].to_numpy()))


def over_cap_today(utilisation: pd.DataFrame) -> dict[tuple[str, str, str], tuple[float, float]]:
    """The (site, room type, band) rooms over their cap today: (share used, cap)."""
    capacity = utilisation["capacity_hours"].to_numpy(float)
    cap = utilisation["cap"].to_numpy(float)
    before = utilisation["before_hours"].to_numpy(float)
    over = (capacity > 0) & (before > cap * capacity + 1e-6)
    rooms = utilisation.loc[over, ["site_id", "room_type", "band"]]
    keys = zip(*(rooms[c].tolist() for c in rooms.columns), strict=True)
    shares = zip((before[over] / capacity[over]).tolist(), cap[over].tolist(), strict=True)
    return dict(zip(keys, shares, strict=True))


def room_costs(dataset: Dataset) -> dict[tuple[str, str], float]:
    """The mean room cost (GBP per hour) per (site, band)."""
    mean = dataset.capacity.groupby(["site_id", "band"])["cost_per_hour_gbp"].mean()
    keys = zip(*(mean.index.get_level_values(i).tolist() for i in range(2)), strict=True)
    return dict(zip(keys, mean.tolist(), strict=True))  # Series.to_dict built tuples slowly


def closure_reasons(dataset: Dataset) -> dict[tuple[str, str], str]:
    """Why each closed or shut (site, band) is closed, as the scenario says."""
    shut = dataset.closed_slots
    return dict(zip(zip(shut["site_id"], shut["band"], strict=True), shut["reason"], strict=True))


@dataclass(frozen=True)
class MoveReasons:
    """What the words of a move are read from: rooms at their cap, room costs, closures."""

    full: set[tuple[str, str, str]]
    cost: dict[tuple[str, str], float]
    closed: dict[tuple[str, str], str]
    over_today: dict[tuple[str, str, str], tuple[float, float]]

    @classmethod
    def of_plan(cls, dataset: Dataset, utilisation: pd.DataFrame) -> MoveReasons:
        """The reasons' inputs for a plan with this utilisation table."""
        return cls(
            full_rooms(utilisation),
            room_costs(dataset),
            closure_reasons(dataset),
            over_cap_today(utilisation),
        )

    def why_legs(self, legs: pd.DataFrame) -> list[str]:
        """Why each leg of ``legs`` moves (columns as :func:`legs_moved` takes): a closed
        source slot's reason, else :func:`legs_moved`'s."""
        moved = legs_moved(legs, self.full, self.cost, self.over_today)
        closed = zip(legs["from_site_id"].tolist(), legs["from_band"].tolist(), strict=True)
        return [self.closed.get(slot) or words for slot, words in zip(closed, moved, strict=True)]
