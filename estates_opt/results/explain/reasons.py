"""Why a move happens, in words for the ``why`` column of moves.csv.

The reasons are read from the plan after the fact (a room at its cap, a cheaper room,
shorter travel, a closed slot); the solver gives no reasons of its own.
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
) -> str:
    """Why hours leave ``src`` for ``dst``, in words for moves.csv.

    ``src`` and ``dst`` are [site, band, hours, travel km] legs; ``full`` the (site, room type,
    band) rooms at their cap after the plan; ``cost`` the mean room cost per (site, band).
    """
    reasons = []
    if (src[0], room, src[1]) in full:
        reasons.append(f"{room} rooms at the old site are at their cap")
    c_from, c_to = cost.get((src[0], src[1])), cost.get((dst[0], dst[1]))
    if c_from is None or np.isnan(src[3] if src[3] is not None else np.nan):
        reasons.append("the old slot is no longer available (closed or out of reach)")
    if c_from is not None and c_to is not None and c_to < c_from - 0.5:
        reasons.append(f"cheaper room (£{c_to:.0f} vs £{c_from:.0f} per hour)")
    if src[3] is not None and dst[3] is not None and dst[3] < src[3] - 0.05:
        reasons.append(f"shorter travel ({dst[3]:.1f} vs {src[3]:.1f} km)")
    return "; ".join(reasons) or "frees capacity elsewhere in the plan"


def full_rooms(utilisation: pd.DataFrame) -> set[tuple[str, str, str]]:
    """The (site, room type, band) rooms at their cap after the plan."""
    at_cap = utilisation["after_hours"] >= utilisation["cap"] * utilisation["capacity_hours"] - 1e-6
    return set(map(tuple, utilisation.loc[at_cap, ["site_id", "room_type", "band"]].to_numpy()))


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

    @classmethod
    def of_plan(cls, dataset: Dataset, utilisation: pd.DataFrame) -> MoveReasons:
        """The reasons' inputs for a plan with this utilisation table."""
        return cls(full_rooms(utilisation), room_costs(dataset), closure_reasons(dataset))

    def why(self, src: list[Any], dst: list[Any], room: str) -> str:
        """A closed source slot's reason, else :func:`why_moved`."""
        return self.closed.get((src[0], src[1])) or why_moved(src, dst, room, self.full, self.cost)
