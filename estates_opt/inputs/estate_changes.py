"""A scenario's building changes: close, add, resize, re-time, restrict opening options.

Each change works on an :class:`Estate` (the premises, capacity and opening frames
while they change); resizing and re-timing return the problems of a change the dataset
cannot take (a room type or opening option a site lacks) as '<key>: <what is wrong>'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from estates_opt.inputs.dataset import Dataset
from estates_opt.inputs.opening import opening_rooms
from estates_opt.scenario import Scenario
from estates_opt.schema import CLOSURE_REASONS, GEOGRAPHIC_CRS, PROJECTED_CRS, ROOM_HOURS_PER_WEEK


@dataclass
class Estate:
    """The frames a scenario changes, while it changes them."""

    premises: gpd.GeoDataFrame
    capacity: pd.DataFrame
    opening: pd.DataFrame
    removed: list[pd.DataFrame] = field(default_factory=list)  # capacity rows closed or shut

    def remove(self, mask: pd.Series, reason: str) -> None:
        """Drop capacity rows, remembering them (and why) so their fixed work is rehoused."""
        self.removed.append(self.capacity[mask].assign(reason=reason))
        self.capacity = self.capacity[~mask]


def close_buildings(estate: Estate, scenario: Scenario) -> None:
    """``[buildings] close``: the sites, their rooms and their opening options go."""
    if not scenario.buildings.close:
        return
    closing = set(scenario.buildings.close)
    estate.remove(estate.capacity["site_id"].isin(closing), CLOSURE_REASONS["close"])
    estate.premises = estate.premises[~estate.premises["site_id"].isin(closing)]
    estate.opening = estate.opening[~estate.opening["site_id"].isin(closing)]


#: Building type of a new site that names none, by kind.
_NEW_SITE_TYPE = {"gp_practice": "practice", "acute": "acute"}


def add_new_sites(estate: Estate, dataset: Dataset, scenario: Scenario) -> None:
    """``[[buildings.new]]``: premises rows (projected) and their rooms."""
    if not scenario.buildings.new:
        return
    rows, caps = [], []
    pcn_borough = dict(zip(dataset.pcns["pcn_code"], dataset.pcns["borough"], strict=True))
    for new in scenario.buildings.new:
        borough = new.borough or (pcn_borough.get(new.pcn_code) if new.pcn_code else None)
        rows.append(
            {
                "site_id": new.site_id,
                "name": new.name,
                "kind": new.kind,
                "pcn_code": new.pcn_code or "",
                "borough": borough if isinstance(borough, str) else "",
                "building_type": new.building_type or _NEW_SITE_TYPE.get(new.kind, "health_centre"),
                "geometry": Point(new.lon, new.lat),
            }
        )
        for band in new.bands:
            for room, count in new.rooms.items():
                if count <= 0:
                    continue
                hours = count * ROOM_HOURS_PER_WEEK[band]
                caps.append(
                    {
                        "site_id": new.site_id,
                        "room_type": room,
                        "band": band,
                        "capacity_hours": hours,
                        "fixed_hours": hours * new.fixed_fraction,
                        "cost_per_hour_gbp": new.cost_per_hour_gbp,
                        "rooms": count,
                    }
                )
    added = gpd.GeoDataFrame(rows, geometry="geometry", crs=GEOGRAPHIC_CRS).to_crs(PROJECTED_CRS)
    lonlat = gpd.GeoSeries([r["geometry"] for r in rows], crs=GEOGRAPHIC_CRS)
    added["lon"] = lonlat.x.to_numpy()
    added["lat"] = lonlat.y.to_numpy()
    estate.premises = pd.concat([estate.premises, added], ignore_index=True)
    estate.capacity = pd.concat([estate.capacity, pd.DataFrame(caps)], ignore_index=True)


def resize_rooms(estate: Estate, scenario: Scenario, at: Callable[[str, int], int]) -> list[str]:
    """``[[buildings.capacity]]``: scale capacity; fixed use is capped at the new capacity.

    A site not in the estate (unknown or closed) is skipped: :func:`check_references`
    names it.
    """
    problems = []
    capacity = estate.capacity
    present = set(estate.premises["site_id"])
    for i, change in enumerate(scenario.buildings.capacity):
        if change.site_id not in present:
            continue
        key = f"buildings.capacity[{at('buildings.capacity', i)}]"
        mask = capacity["site_id"] == change.site_id
        if change.room_type:
            mask &= capacity["room_type"] == change.room_type
        if change.band:
            mask &= capacity["band"] == change.band
        if not mask.any():
            problems.append(
                f"{key}: site '{change.site_id}' has no capacity rows for "
                f"room type {change.room_type or 'any'} in band {change.band or 'any'}; "
                "use a room type and band the site has in capacity.csv"
            )
            continue
        capacity.loc[mask, "capacity_hours"] *= change.factor
        capacity.loc[mask, "fixed_hours"] = capacity.loc[
            mask, ["fixed_hours", "capacity_hours"]
        ].min(axis=1)
    estate.capacity = capacity
    return problems


def retime_sites(estate: Estate, scenario: Scenario, at: Callable[[str, int], int]) -> list[str]:
    """``[[buildings.opening]]``: shut a site in a band, or open it from opening.csv.

    A site not in the estate (unknown or closed) is skipped: :func:`check_references`
    names it.
    """
    problems = []
    present = set(estate.premises["site_id"])
    for i, timing in enumerate(scenario.buildings.opening):
        if timing.site_id not in present:
            continue
        key = f"buildings.opening[{at('buildings.opening', i)}]"
        capacity, opening = estate.capacity, estate.opening
        has = (capacity["site_id"] == timing.site_id) & (capacity["band"] == timing.band)
        option = (opening["site_id"] == timing.site_id) & (opening["band"] == timing.band)
        if not timing.open:
            if not has.any():
                problems.append(
                    f"{key}: site '{timing.site_id}' is not open in "
                    f"{timing.band} today, so it cannot be shut; remove the change"
                )
            estate.remove(has, CLOSURE_REASONS["shut"])
            estate.opening = opening[~option]
            continue
        if has.any():
            continue  # already open in that band
        if not option.any():
            problems.append(
                f"{key}: site '{timing.site_id}' has no opening option for "
                f"{timing.band} in opening.csv (rooms and hours come from there); add the "
                "option to opening.csv or use a band the site can open in"
            )
            continue
        opened = opening_rooms(opening[option], capacity).drop(columns="open_cost_gbp_per_week")
        estate.capacity = pd.concat([capacity, opened]).reset_index(drop=True)
        estate.opening = opening[~option]
    return problems


def restrict_opening_options(estate: Estate, scenario: Scenario) -> None:
    """``[options]`` opening bands and kinds: only those opening options stay."""
    options = scenario.options
    if options.opening_bands is not None:
        estate.opening = estate.opening[estate.opening["band"].isin(options.opening_bands)]
    if options.opening_kinds is not None:
        kinds = estate.premises.set_index("site_id")["kind"]
        kept = estate.opening["site_id"].map(kinds).isin(options.opening_kinds)
        estate.opening = estate.opening[kept]
