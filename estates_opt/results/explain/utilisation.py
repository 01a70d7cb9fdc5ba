"""Room use before and after the plan: the utilisation table and its shares per site kind.

utilisation.csv, the utilisation KPIs and the strategy gap (how far community
estate is from the NEL target of full use) all come from the table made here.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset, baseline_room_use, kind_utilisation, opening_rooms
from estates_opt.model.program import LinearProgram
from estates_opt.results.kpis import CommunityGap, StrategyGap, UtilisationByBand
from estates_opt.scenario import Scenario
from estates_opt.schema import SESSION_HOURS, SITE_KINDS

ROOM = ("site_id", "room_type", "band")


def today_room_use(dataset: Dataset) -> pd.Series:
    """Today's movable hours per room, indexed by (site, room type, band)."""
    return baseline_room_use(dataset).set_index(list(ROOM))["baseline_hours"]


@dataclass(frozen=True)
class Rooms:
    """The utilisation table but for the plan's hours: every room with its capacity, fixed
    and today's use, name, kind and cap, sorted by room, and the rooms' keys."""

    table: pd.DataFrame
    key: pd.MultiIndex
    opened: frozenset[tuple[str, str]]  #: the (site, band) openings whose rooms it has


def rooms_today(
    dataset: Dataset, scenario: Scenario, opened: AbstractSet[tuple[str, str]] = frozenset()
) -> Rooms:
    """:class:`Rooms` of the dataset and of the (site, band)s ``opened``."""
    cap = dataset.capacity[["site_id", "room_type", "band", "capacity_hours", "fixed_hours"]].copy()
    if opened:
        options = dataset.opening[
            [
                (s, b) in opened
                for s, b in zip(dataset.opening["site_id"], dataset.opening["band"], strict=True)
            ]
        ]
        extra = opening_rooms(options, dataset.capacity)[list(cap.columns)]
        cap = pd.concat([cap, extra], ignore_index=True)
    before = today_room_use(dataset)
    key = pd.MultiIndex.from_frame(cap[list(ROOM)])
    cap["before_hours"] = cap["fixed_hours"] + before.reindex(key).fillna(0.0).to_numpy()
    denom = cap["capacity_hours"].where(cap["capacity_hours"] > 0)
    cap["before_utilisation"] = (cap["before_hours"] / denom).fillna(0.0)
    sites = dataset.premises.set_index("site_id")
    cap.insert(1, "name", cap["site_id"].map(sites["name"]))
    cap.insert(2, "kind", cap["site_id"].map(sites["kind"]))
    cap["cap"] = cap["kind"].map({k: scenario.cap(k) for k in SITE_KINDS})
    table = cap.sort_values(list(ROOM)).reset_index(drop=True)
    return Rooms(table, pd.MultiIndex.from_frame(table[list(ROOM)]), frozenset(opened))


def utilisation_table(
    dataset: Dataset,
    allocations: pd.DataFrame,
    scenario: Scenario,
    opened: AbstractSet[tuple[str, str]],
    rooms: Rooms | None = None,
) -> pd.DataFrame:
    """Capacity, fixed use and hours before/after per (site, room type, band) (``rooms``:
    :func:`rooms_today` of the same dataset, scenario and openings, if made before)."""
    if rooms is None or rooms.opened != frozenset(opened):
        rooms = rooms_today(dataset, scenario, opened)
    table = rooms.table.copy()
    placed = allocations.groupby(list(ROOM))["hours_per_week"].sum()
    after = table["fixed_hours"].to_numpy(float) + placed.reindex(rooms.key).fillna(0.0).to_numpy()
    denom = table["capacity_hours"].where(table["capacity_hours"] > 0)
    table.insert(table.columns.get_loc("before_hours") + 1, "after_hours", after)
    share = (table["after_hours"] / denom).fillna(0.0)
    table.insert(table.columns.get_loc("before_utilisation") + 1, "after_utilisation", share)
    return table


def _kind_shares(utilisation: pd.DataFrame, column: str) -> dict[str, pd.Series]:
    """``column`` over capacity hours per site kind (NaN where a kind has no capacity), in the
    weekday band and over all bands: the figures kpis.json and the strategy gap both report."""
    weekday = utilisation[utilisation["band"] == "weekday"]
    return {
        label: kind_utilisation(rooms, [column], by_band=False).set_index("kind")["utilisation"]
        for label, rooms in (("weekday", weekday), ("all_bands", utilisation))
    }


def open_today(utilisation: pd.DataFrame, opened: set[tuple[str, str]]) -> pd.DataFrame:
    """The utilisation rows of rooms open today: without those of the (site, band)s the plan
    opens, which had no capacity before it (so today's utilisation is the same in every
    scenario on the same estate)."""
    if not opened:
        return utilisation
    pairs = zip(utilisation["site_id"], utilisation["band"], strict=True)
    new = [(s, b) in opened for s, b in pairs]
    return utilisation[~np.asarray(new, dtype=bool)]


def utilisation_by_kind(utilisation: pd.DataFrame, column: str) -> UtilisationByBand:
    """``column`` (before or after hours) over capacity hours per site kind, in the weekday
    band and over all bands (0 where a kind has no capacity): kpis.json's utilisation."""
    shares = {
        label: {str(kind): float(u) for kind, u in share.fillna(0.0).items()}
        for label, share in _kind_shares(utilisation, column).items()
    }
    return {"weekday": shares["weekday"], "all_bands": shares["all_bands"]}


def hostable_rooms(lp: LinearProgram) -> pd.Series:
    """The most movable hours the model can place in each room it can use, indexed by
    (site, room type, band): rooms with at least one allocation column (a service fit for
    the building, its room type and band, within some PCN's travel limit), each up to its
    cap, in whole sessions when the model books whole sessions."""
    # the builder gives every room with an allocation column one capacity row
    capacity = lp.rows[(lp.rows["family"] == "capacity").to_numpy()]
    rooms = pd.MultiIndex.from_frame(capacity[list(ROOM)])
    slots = lp.slots.set_index(list(ROOM))
    limit = slots["limit_hours"].reindex(rooms).fillna(0.0)
    if "part" in lp.columns:  # whole sessions: a room holds whole sessions of movable work
        length = pd.Series(rooms.get_level_values("band"), index=rooms).map(SESSION_HOURS)
        limit = np.floor(limit / length + 1e-9) * length
    return limit.rename("most_movable_hours")


def strategy_gap(
    utilisation: pd.DataFrame,
    hostable: pd.Series | None = None,
    building_types: pd.Series | None = None,
    aim: float | None = None,
) -> StrategyGap:
    """How far the plan is from the strategy's targets (DOMAIN.md).

    The NEL strategy aims at 100% community asset utilisation; the gap is
    measured in the weekday band and over all bands, with the free room-hours
    left (capacity minus hours used) by site kind and band. Given the ``hostable``
    rooms (:func:`hostable_rooms`), each figure also says how far any plan could go:
    ``reachable`` fills every community room the model can place work in to its cap (in
    whole sessions, where the model books them),
    and the headroom below the cap in the rest is reported by building type
    (``building_types``, site id -> type): space no movable service may use.
    """
    community = utilisation[utilisation["kind"] == "community"]
    reach = _community_reach(community, hostable)
    gap: dict[str, CommunityGap] = {}
    for label, share in _kind_shares(utilisation, "after_hours").items():
        after = share.get("community", np.nan)
        # no community capacity: nothing to fill, so no gap
        gap[label] = (
            {"target": 1.0, "after": 0.0, "gap": 0.0}
            if np.isnan(after)
            else {"target": 1.0, "after": float(after), "gap": 1.0 - float(after)}
        )
        if reach is not None and not np.isnan(after):
            rooms = reach if label == "all_bands" else reach[reach["band"] == label]
            gap[label]["reachable"] = float(
                rooms["most_hours"].sum() / rooms["capacity_hours"].sum()
            )
    below_cap = utilisation["cap"] * utilisation["capacity_hours"]
    result: StrategyGap = {
        "community_utilisation": gap,
        "free_room_hours_after": _free_by_kind(utilisation, utilisation["capacity_hours"]),
        "free_room_hours_below_cap_after": _free_by_kind(utilisation, below_cap),
    }
    if reach is not None and building_types is not None:
        stranded = reach[~reach["hostable"] & (reach["headroom"] > 0)]
        by_type = stranded.assign(
            building_type=stranded["site_id"].map(building_types).fillna("unknown")
        )
        unusable: dict[str, dict[str, float]] = {}
        for (band, kind), hours in (
            by_type.groupby(["band", "building_type"])["headroom"].sum().items()
        ):
            unusable.setdefault(str(band), {})[str(kind)] = float(hours)
        result["community_unusable_room_hours"] = unusable
    if aim is not None:
        weekday = community[community["band"] == "weekday"]
        short = aim * weekday["capacity_hours"].sum() - weekday["after_hours"].sum()
        result["community_aim"] = {"utilisation": aim, "shortfall_hours": max(0.0, float(short))}
    return result


def _free_by_kind(utilisation: pd.DataFrame, limit: pd.Series) -> dict[str, dict[str, float]]:
    """Room-hours left after the plan up to ``limit`` per room (never below 0), by kind and
    band."""
    free = (
        utilisation.assign(free=(limit - utilisation["after_hours"]).clip(lower=0))
        .groupby(["kind", "band"])["free"]
        .sum()
    )
    by_kind: dict[str, dict[str, float]] = {}
    for (kind, band), hours in free.items():
        by_kind.setdefault(str(kind), {})[str(band)] = float(hours)
    return by_kind


def _community_reach(community: pd.DataFrame, hostable: pd.Series | None) -> pd.DataFrame | None:
    """Per community room: whether the model can place work in it, its headroom below the
    cap, and the most hours it could hold (fixed work plus the most movable work there)."""
    if hostable is None or community.empty:
        return None
    key = pd.MultiIndex.from_frame(community[list(ROOM)])
    headroom = (community["cap"] * community["capacity_hours"] - community["fixed_hours"]).clip(
        lower=0.0
    )
    most = hostable.reindex(key)
    return community.assign(
        hostable=most.notna().to_numpy(),
        headroom=headroom,
        most_hours=community["fixed_hours"] + most.fillna(0.0).to_numpy(),
    )
