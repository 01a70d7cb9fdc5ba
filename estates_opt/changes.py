"""Apply a scenario's building changes to a dataset: close, open, resize, re-time.

Returns a new :class:`Dataset`; the input frames are never modified. Changes
that name things that do not exist are :class:`ScenarioError`, not ignored.
"""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from .dataset import Dataset
from .errors import ScenarioError
from .scenario import Scenario
from .schema import GEOGRAPHIC_CRS, PROJECTED_CRS, ROOM_HOURS_PER_WEEK, ROOM_TYPES


def apply_scenario(dataset: Dataset, scenario: Scenario) -> Dataset:
    """The dataset as the scenario describes it (buildings and population changed)."""
    b = scenario.buildings
    origin = scenario.source_file or scenario.name
    premises = dataset.premises.copy()
    capacity = dataset.capacity.copy()
    opening = dataset.opening.copy()
    lsoas = dataset.lsoas
    known = set(premises["site_id"])
    problems: list[str] = []

    for site in b.close:
        if site not in known:
            problems.append(f"buildings.close: site '{site}' does not exist in the dataset")
    if b.close:
        closing = set(b.close)
        premises = premises[~premises["site_id"].isin(closing)]
        capacity = capacity[~capacity["site_id"].isin(closing)]
        opening = opening[~opening["site_id"].isin(closing)]

    if b.new:
        rows, caps = [], []
        pcns = set(dataset.pcns["pcn_code"])
        for new in b.new:
            if new.site_id in known:
                problems.append(f"buildings.new: site_id '{new.site_id}' already exists")
                continue
            if new.pcn_code and new.pcn_code not in pcns:
                problems.append(f"buildings.new '{new.site_id}': unknown pcn_code '{new.pcn_code}'")
                continue
            rows.append(
                {
                    "site_id": new.site_id,
                    "name": new.name,
                    "kind": new.kind,
                    "pcn_code": new.pcn_code or "",
                    "borough": new.borough or "",
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
        if rows:
            added = gpd.GeoDataFrame(rows, geometry="geometry", crs=GEOGRAPHIC_CRS).to_crs(
                PROJECTED_CRS
            )
            lonlat = gpd.GeoSeries([r["geometry"] for r in rows], crs=GEOGRAPHIC_CRS)
            added["lon"] = lonlat.x.to_numpy()
            added["lat"] = lonlat.y.to_numpy()
            premises = pd.concat([premises, added], ignore_index=True)
            capacity = pd.concat([capacity, pd.DataFrame(caps)], ignore_index=True)
        known |= {r["site_id"] for r in rows}

    for change in b.capacity:
        if change.site_id not in known:
            problems.append(f"buildings.capacity: site '{change.site_id}' does not exist")
            continue
        if change.room_type is not None and change.room_type not in ROOM_TYPES:
            problems.append(f"buildings.capacity: unknown room type '{change.room_type}'")
            continue
        mask = capacity["site_id"] == change.site_id
        if change.room_type:
            mask &= capacity["room_type"] == change.room_type
        if change.band:
            mask &= capacity["band"] == change.band
        if not mask.any():
            problems.append(
                f"buildings.capacity: site '{change.site_id}' has no matching capacity rows"
            )
            continue
        capacity.loc[mask, "capacity_hours"] *= change.factor
        capacity.loc[mask, "fixed_hours"] = capacity.loc[
            mask, ["fixed_hours", "capacity_hours"]
        ].min(axis=1)

    for change in b.opening:
        if change.site_id not in known:
            problems.append(f"buildings.opening: site '{change.site_id}' does not exist")
            continue
        has = (capacity["site_id"] == change.site_id) & (capacity["band"] == change.band)
        if change.open and not has.any():
            row = opening[(opening["site_id"] == change.site_id) & (opening["band"] == change.band)]
            if row.empty:
                problems.append(
                    f"buildings.opening: site '{change.site_id}' has no opening option for "
                    f"{change.band} in opening.csv"
                )
                continue
            r = row.iloc[0]
            weekday_cost = capacity.loc[
                capacity["site_id"] == change.site_id, "cost_per_hour_gbp"
            ].mean()
            cost = r.get("cost_per_hour_gbp")
            for room in ROOM_TYPES:
                hours = float(r[f"{room}_hours_if_opened"])
                if hours > 0:
                    capacity = pd.concat(
                        [
                            capacity,
                            pd.DataFrame(
                                [
                                    {
                                        "site_id": change.site_id,
                                        "room_type": room,
                                        "band": change.band,
                                        "capacity_hours": hours,
                                        "fixed_hours": 0.0,
                                        "cost_per_hour_gbp": float(cost)
                                        if pd.notna(cost)
                                        else float(weekday_cost),
                                    }
                                ]
                            ),
                        ],
                        ignore_index=True,
                    )
            opening = opening[
                ~((opening["site_id"] == change.site_id) & (opening["band"] == change.band))
            ]
        elif not change.open:
            capacity = capacity[~has]
    if problems:
        raise ScenarioError(f"{origin}: " + "; ".join(problems))

    if scenario.growth.population != 1.0:
        lsoas = lsoas.copy()
        lsoas["population"] = lsoas["population"] * scenario.growth.population
    return replace(
        dataset,
        premises=premises.reset_index(drop=True),
        capacity=capacity.reset_index(drop=True),
        opening=opening.reset_index(drop=True),
        lsoas=lsoas,
    )
