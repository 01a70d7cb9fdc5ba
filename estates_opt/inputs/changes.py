"""Apply a scenario to a dataset: check its references, then close, open, resize, re-time.

:func:`apply_scenario` returns a new :class:`Dataset`; the input frames are
never modified. A scenario that names a service, borough, PCN or site the
dataset does not have is a :class:`ScenarioError` naming the key and the file,
never silently ignored (:func:`check_references` lists every such problem).
"""

from __future__ import annotations

import difflib
from dataclasses import replace

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from estates_opt.errors import ScenarioError
from estates_opt.inputs.dataset import Dataset, opening_rooms
from estates_opt.paths import kind_of
from estates_opt.scenario import Scenario
from estates_opt.schema import GEOGRAPHIC_CRS, PROJECTED_CRS, ROOM_HOURS_PER_WEEK


def _unknown(kind: str, key: str, value: str, known: set[str]) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{key}: {kind} '{value}' is not in the dataset{hint}"


def check_references(dataset: Dataset, scenario: Scenario) -> list[str]:
    """Every scenario key that names a service, borough, PCN or site the dataset lacks."""
    services = set(dataset.services["service_id"])
    boroughs = {str(b) for b in dataset.pcns["borough"].dropna() if str(b)}
    pcns = set(dataset.pcns["pcn_code"])
    sites = set(dataset.premises["site_id"])
    new_sites = {n.site_id for n in scenario.buildings.new}
    problems: list[str] = []
    for service in scenario.growth.by_service:
        if service not in services:
            problems.append(_unknown("service", "growth.by_service", service, services))
    for borough in scenario.growth.by_borough:
        if borough not in boroughs:
            problems.append(_unknown("borough", "growth.by_borough", borough, boroughs))
    for service in scenario.travel.max_km_by_service:
        if service not in services:
            problems.append(_unknown("service", "travel.max_km_by_service", service, services))
    for site in scenario.buildings.close:
        if site not in sites:
            problems.append(_unknown("site", "buildings.close", site, sites))
    for i, new in enumerate(scenario.buildings.new):
        key = f"buildings.new[{i}]"
        if new.site_id in sites:
            problems.append(
                f"{key}: site_id '{new.site_id}' already exists in the dataset; give the new "
                "site an id of its own"
            )
        if new.pcn_code and new.pcn_code not in pcns:
            problems.append(_unknown("PCN", f"{key}.pcn_code", new.pcn_code, pcns))
        if new.borough and new.borough not in boroughs:
            problems.append(_unknown("borough", f"{key}.borough", new.borough, boroughs))
    if len(new_sites) != len(scenario.buildings.new):
        problems.append("buildings.new: two new sites share a site_id; give each its own")
    closed = set(scenario.buildings.close)
    for family in ("capacity", "opening"):
        for i, change in enumerate(getattr(scenario.buildings, family)):
            key = f"buildings.{family}[{i}].site_id"
            if change.site_id in closed:
                problems.append(
                    f"{key}: site '{change.site_id}' is closed by buildings.close; remove the "
                    "change or keep the site open"
                )
            elif change.site_id not in sites | new_sites:
                problems.append(_unknown("site", key, change.site_id, sites | new_sites))
    for i, pin in enumerate(scenario.pinned):
        key = f"pinned[{i}]"
        if pin.pcn_code not in pcns:
            problems.append(_unknown("PCN", f"{key}.pcn_code", pin.pcn_code, pcns))
        if pin.service_id not in services:
            problems.append(_unknown("service", f"{key}.service_id", pin.service_id, services))
        if pin.site_id in closed:
            problems.append(
                f"{key}.site_id: site '{pin.site_id}' is closed by buildings.close; remove the "
                "pin or keep the site open"
            )
        elif pin.site_id not in sites | new_sites:
            problems.append(_unknown("site", f"{key}.site_id", pin.site_id, sites | new_sites))
    if sites and sites <= closed and not new_sites:
        problems.append(
            "buildings.close: closes every site of the dataset, so no service has anywhere to "
            "go; keep at least one open, or add one with [[buildings.new]]"
        )
    matrix = scenario.matrix_path()
    what = kind_of(matrix) if matrix is not None else None
    if what == "missing":
        problems.append(f"travel.matrix: file '{matrix}' not found")
    elif what is not None:
        problems.append(f"travel.matrix: '{matrix}' is {what}: give the matrix file's path")
    return problems


def apply_scenario(dataset: Dataset, scenario: Scenario) -> Dataset:
    """The dataset as the scenario describes it (buildings and population changed)."""
    b = scenario.buildings
    origin = scenario.source_file or f"scenario {scenario.name!r}"
    problems = check_references(dataset, scenario)
    if problems:
        raise ScenarioError(
            f"{origin}: " + "; ".join(problems), [f"{origin}: {p}" for p in problems]
        )
    premises = dataset.premises.copy()
    capacity = dataset.capacity.copy()
    opening = dataset.opening.copy()
    lsoas = dataset.lsoas
    if b.close:
        closing = set(b.close)
        premises = premises[~premises["site_id"].isin(closing)]
        capacity = capacity[~capacity["site_id"].isin(closing)]
        opening = opening[~opening["site_id"].isin(closing)]

    if b.new:
        rows, caps = [], []
        pcn_borough = dict(zip(dataset.pcns["pcn_code"], dataset.pcns["borough"], strict=True))
        for new in b.new:
            borough = new.borough or (pcn_borough.get(new.pcn_code) if new.pcn_code else None)
            rows.append(
                {
                    "site_id": new.site_id,
                    "name": new.name,
                    "kind": new.kind,
                    "pcn_code": new.pcn_code or "",
                    "borough": borough if isinstance(borough, str) else "",
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

    problems = []
    for i, change in enumerate(b.capacity):
        mask = capacity["site_id"] == change.site_id
        if change.room_type:
            mask &= capacity["room_type"] == change.room_type
        if change.band:
            mask &= capacity["band"] == change.band
        if not mask.any():
            problems.append(
                f"buildings.capacity[{i}]: site '{change.site_id}' has no capacity rows for "
                f"room type {change.room_type or 'any'} in band {change.band or 'any'}; "
                "use a room type and band the site has in capacity.csv"
            )
            continue
        capacity.loc[mask, "capacity_hours"] *= change.factor
        capacity.loc[mask, "fixed_hours"] = capacity.loc[
            mask, ["fixed_hours", "capacity_hours"]
        ].min(axis=1)

    for i, timing in enumerate(b.opening):
        has = (capacity["site_id"] == timing.site_id) & (capacity["band"] == timing.band)
        option = (opening["site_id"] == timing.site_id) & (opening["band"] == timing.band)
        if not timing.open:
            if not has.any():
                problems.append(
                    f"buildings.opening[{i}]: site '{timing.site_id}' is not open in "
                    f"{timing.band} today, so it cannot be shut; remove the change"
                )
            capacity = capacity[~has]
            opening = opening[~option]
            continue
        if has.any():
            continue  # already open in that band
        if not option.any():
            problems.append(
                f"buildings.opening[{i}]: site '{timing.site_id}' has no opening option for "
                f"{timing.band} in opening.csv (rooms and hours come from there); add the "
                "option to opening.csv or use a band the site can open in"
            )
            continue
        opened = opening_rooms(opening[option], capacity).drop(columns="open_cost_gbp_per_week")
        capacity = pd.concat([capacity, opened])
        capacity = capacity.reset_index(drop=True)
        opening = opening[~option]
    if problems:
        raise ScenarioError(
            f"{origin}: " + "; ".join(problems), [f"{origin}: {p}" for p in problems]
        )

    options = scenario.options
    if options.opening_bands is not None:
        opening = opening[opening["band"].isin(options.opening_bands)]
    if options.opening_kinds is not None:
        kinds = premises.set_index("site_id")["kind"]
        opening = opening[opening["site_id"].map(kinds).isin(options.opening_kinds)]

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
