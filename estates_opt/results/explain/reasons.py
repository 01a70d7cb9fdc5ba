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
    reasons = []
    today = (over_today or {}).get((src[0], room, src[1]))
    if today is not None:
        reasons.append(
            f"{room} rooms at the old site are over their cap today "
            f"({today[0]:.0%} used, cap {today[1]:.0%})"
        )
    elif (src[0], room, src[1]) in full:
        reasons.append(f"{room} rooms at the old site are at their cap")
    c_from, c_to = cost.get((src[0], src[1])), cost.get((dst[0], dst[1]))
    if c_from is None or np.isnan(src[3] if src[3] is not None else np.nan):
        reasons.append("the old slot is no longer available (closed or out of reach)")
    if c_from is not None and c_to is not None and c_to < c_from - 0.5:
        reasons.append(f"cheaper room (£{c_to:.0f} vs £{c_from:.0f} per hour)")
    return "; ".join(reasons)


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
    slot_reasons: list[str], from_km: np.ndarray, to_km: np.ndarray
) -> list[str]:
    """Each relocation's ``why``: its largest leg's slot reasons, then its own travel
    (longer travel is a cost, not a reason: a line with nothing else gets :data:`NO_REASON`
    before it)."""
    lines = []
    for slots, before, after in zip(slot_reasons, from_km, to_km, strict=True):
        travel = travel_reason(float(before), float(after))
        if not slots and travel.startswith("longer"):
            slots = NO_REASON
        lines.append("; ".join(p for p in (slots, travel) if p) or NO_REASON)
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
    rooms = utilisation.loc[over, ["site_id", "room_type", "band"]].to_numpy()
    shares = zip(before[over] / capacity[over], cap[over], strict=True)
    return {tuple(room): share for room, share in zip(rooms, shares, strict=True)}


def room_costs(dataset: Dataset) -> dict[tuple[str, str], float]:
    """The mean room cost (GBP per hour) per (site, band)."""
    return dataset.capacity.groupby(["site_id", "band"])["cost_per_hour_gbp"].mean().to_dict()


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

    def why(self, src: list[Any], dst: list[Any], room: str) -> str:
        """A closed source slot's reason, else :func:`why_moved`."""
        return self.closed.get((src[0], src[1])) or why_moved(
            src, dst, room, self.full, self.cost, self.over_today
        )
