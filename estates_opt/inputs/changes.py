"""Apply a scenario to a dataset: check its references, then close, open, resize, re-time.

:func:`apply_scenario` returns a new :class:`Dataset`; the input frames are
never modified. A scenario that names a service, borough, PCN or site the
dataset does not have is a :class:`ScenarioError` naming the key and the file,
never silently ignored (:func:`check_references` lists every such problem).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import Point

from estates_opt.errors import EstatesOptError, ScenarioError
from estates_opt.inputs.dataset import Dataset, opening_rooms, read_dataset
from estates_opt.paths import kind_of
from estates_opt.scenario import Scenario, load_scenario
from estates_opt.scenario.partial import PartialScenario, ScenarioValuesError
from estates_opt.schema import (
    CLOSURE_REASONS,
    GEOGRAPHIC_CRS,
    PROJECTED_CRS,
    REHOUSED_CATEGORY,
    ROOM_HOURS_PER_WEEK,
)


def _unknown(kind: str, key: str, value: str, known: set[str]) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{key}: {kind} '{value}' is not in the dataset{hint}"


def _place(partial: PartialScenario | None) -> Callable[[str, int], int]:
    """Where the ``i``-th entry of a list key was in the file (entries left out of a
    partial scenario shift the others)."""
    return partial.index if partial is not None else (lambda key, i: i)


def check_references(
    dataset: Dataset, scenario: Scenario, partial: PartialScenario | None = None
) -> list[str]:
    """Every scenario key that names a service, borough, PCN or site the dataset lacks.

    With ``partial`` (a scenario whose entries at fault were left out) entries are named
    by their place in the file, and the ids of new sites left out count as known.
    """
    at = _place(partial)
    services = set(dataset.services["service_id"])
    boroughs = {str(b) for b in dataset.pcns["borough"].dropna() if str(b)}
    pcns = set(dataset.pcns["pcn_code"])
    sites = set(dataset.premises["site_id"])
    new_sites = {n.site_id for n in scenario.buildings.new}
    new_sites |= partial.new_site_ids if partial is not None else set()
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
    for service in scenario.movable.share:
        if service not in services:
            problems.append(_unknown("service", "movable.share", service, services))
    for service in scenario.movable.share_by_kind:
        if service not in services:
            problems.append(_unknown("service", "movable.share_by_kind", service, services))
    for service in scenario.suitability.relax:
        if service not in services:
            problems.append(_unknown("service", "suitability.relax", service, services))
    for site in scenario.buildings.close:
        if site not in sites:
            problems.append(_unknown("site", "buildings.close", site, sites))
    for i, new in enumerate(scenario.buildings.new):
        key = f"buildings.new[{at('buildings.new', i)}]"
        if new.site_id in sites:
            problems.append(
                f"{key}: site_id '{new.site_id}' already exists in the dataset; give the new "
                "site an id of its own"
            )
        if new.pcn_code and new.pcn_code not in pcns:
            problems.append(_unknown("PCN", f"{key}.pcn_code", new.pcn_code, pcns))
        if new.borough and new.borough not in boroughs:
            problems.append(_unknown("borough", f"{key}.borough", new.borough, boroughs))
    if len({n.site_id for n in scenario.buildings.new}) != len(scenario.buildings.new):
        problems.append("buildings.new: two new sites share a site_id; give each its own")
    closed = set(scenario.buildings.close)
    for family in ("capacity", "opening"):
        for i, change in enumerate(getattr(scenario.buildings, family)):
            key = f"buildings.{family}[{at(f'buildings.{family}', i)}].site_id"
            if change.site_id in closed:
                problems.append(
                    f"{key}: site '{change.site_id}' is closed by buildings.close; remove the "
                    "change or keep the site open"
                )
            elif change.site_id not in sites | new_sites:
                problems.append(_unknown("site", key, change.site_id, sites | new_sites))
    for i, pin in enumerate(scenario.pinned):
        key = f"pinned[{at('pinned', i)}]"
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


def _raise(origin: str, problems: list[str]) -> None:
    if problems:
        raise ScenarioError(
            f"{origin}: " + "; ".join(problems), [f"{origin}: {p}" for p in problems]
        )


@dataclass
class _Estate:
    """The frames a scenario changes, while it changes them."""

    premises: gpd.GeoDataFrame
    capacity: pd.DataFrame
    opening: pd.DataFrame
    removed: list[pd.DataFrame] = field(default_factory=list)  # capacity rows closed or shut

    def remove(self, mask: pd.Series, reason: str) -> None:
        """Drop capacity rows, remembering them (and why) so their fixed work is rehoused."""
        self.removed.append(self.capacity[mask].assign(reason=reason))
        self.capacity = self.capacity[~mask]


def apply_scenario(dataset: Dataset, scenario: Scenario) -> Dataset:
    """The dataset as the scenario describes it (buildings and population changed).

    Closed buildings and bands a building is shut in keep nothing: their fixed
    work becomes demand of its own (:func:`rehouse_fixed_work`) and today's
    sessions there move like any other. Every problem of the scenario with the
    dataset (names it lacks, rooms or opening options a site does not have) comes
    in one :class:`ScenarioError`.
    """
    origin = scenario.source_file or f"scenario {scenario.name!r}"
    changed, problems = _changed(dataset, scenario)
    _raise(origin, problems)
    if changed is None:  # never without problems; a guard for the type checker
        raise ScenarioError(f"{origin}: the scenario could not be applied")
    return changed


def scenario_problems(
    dataset: Dataset, scenario: Scenario, partial: PartialScenario | None = None
) -> list[str]:
    """Every problem :func:`apply_scenario` would report, as '<key>: <what is wrong>'."""
    return _changed(dataset, scenario, partial)[1]


def _changed(
    dataset: Dataset, scenario: Scenario, partial: PartialScenario | None = None
) -> tuple[Dataset | None, list[str]]:
    """The changed dataset, or None and every problem: references first, then the rooms
    and opening options of the sites the scenario changes (a site it names wrongly is
    reported once, by :func:`check_references`)."""
    at = _place(partial)
    problems = check_references(dataset, scenario, partial)
    movable = movable_problems(dataset, scenario)
    problems += movable
    if not movable:
        dataset = apply_movable_shares(dataset, scenario)
    estate = _Estate(dataset.premises.copy(), dataset.capacity.copy(), dataset.opening.copy())
    _close_buildings(estate, scenario)
    _add_new_sites(estate, dataset, scenario)
    problems += _resize_rooms(estate, scenario, at)
    problems += _retime_sites(estate, scenario, at)
    if problems:
        return None, problems
    _restrict_opening_options(estate, scenario)
    lsoas = dataset.lsoas
    if scenario.growth.population != 1.0:
        lsoas = lsoas.copy()
        lsoas["population"] = lsoas["population"] * scenario.growth.population
    changed = replace(
        dataset,
        premises=estate.premises.reset_index(drop=True),
        capacity=estate.capacity.reset_index(drop=True),
        opening=estate.opening.reset_index(drop=True),
        lsoas=lsoas,
    )
    return rehouse_fixed_work(changed, dataset, estate.removed, scenario), []


def load_scenario_checked(
    path: str | Path, read: Callable[[Path], Dataset] = read_dataset
) -> Scenario:
    """:func:`~estates_opt.scenario.load_scenario`, and if the file has bad values, the
    rest of it checked against its dataset too, so every problem comes in one run.

    The entries at fault are not checked against the dataset (what they name cannot be
    trusted); neither is anything when the ``dataset`` key is wrong or the dataset cannot
    be read (its own problems are reported once the scenario reads). A valid scenario is
    returned as it is: :func:`apply_scenario` checks it when it is applied.
    """
    try:
        return load_scenario(path)
    except ScenarioValuesError as exc:
        more = _reference_problems(exc, read)
        if not more:
            raise
        problems = [*exc.problems, *more]
        raise ScenarioError("; ".join(problems), problems) from None


def _reference_problems(exc: ScenarioValuesError, read: Callable[[Path], Dataset]) -> list[str]:
    partial = exc.partial
    if partial is None:
        return []
    try:
        dataset = read(partial.scenario.dataset_path())
    except (EstatesOptError, OSError):
        return []
    return [f"{exc.file}: {p}" for p in scenario_problems(dataset, partial.scenario, partial)]


def shipped_shares(dataset: Dataset) -> pd.Series:
    """services.csv ``movable_share`` by service_id (1 where absent or empty)."""
    services = dataset.services.set_index("service_id")
    if "movable_share" not in services.columns:
        return pd.Series(1.0, index=services.index)
    return pd.to_numeric(services["movable_share"], errors="coerce").fillna(1.0).astype(float)


def movable_problems(dataset: Dataset, scenario: Scenario) -> list[str]:
    """``[movable]`` on a dataset that cannot say where the unmoved share is kept."""
    base = dataset.baseline
    if not scenario.movable.changed or not len(base):
        return []
    if "fixed_pcn_clinic_hours" in dataset.capacity.columns:
        return []
    shipped = shipped_shares(dataset)
    s0 = base["service_id"].map(shipped).fillna(1.0).to_numpy(float)
    partial = sorted(set(base.loc[s0 < 1, "service_id"]))
    if not partial:
        return []
    return [
        "movable: services.csv gives "
        + ", ".join(partial)
        + " a movable share below 1, but capacity.csv has no "
        "fixed_pcn_clinic_hours saying where the rest is kept as fixed work; "
        "add the column or remove [movable]"
    ]


def apply_movable_shares(dataset: Dataset, scenario: Scenario) -> Dataset:
    """The dataset with ``[movable]`` shares in place of services.csv ``movable_share``.

    Each of today's baseline rows (a PCN's service at a site and band) is the shipped share
    s0 of that service's hours there, so its whole is ``hours / s0``; the scenario's share s1
    (per service, or per service and kind of building) makes ``hours / s0 x s1`` of it
    movable. The difference moves between baseline.csv (and the PCN's demand) and the
    slot's fixed work (``fixed_hours`` and ``fixed_pcn_clinic_hours``): a lower share adds
    fixed work that never moves; a higher one releases fixed work, but only the own-list
    work the slot holds (``fixed_pcn_clinic_hours``), never other fixed work. Demand not
    in the baseline (growth, new demand) is left as it is.
    """
    movable = scenario.movable
    base = dataset.baseline
    if not movable.changed or not len(base):
        return dataset
    shipped = shipped_shares(dataset)
    rooms = dataset.services.set_index("service_id")["room_type"]
    kinds = dataset.premises.set_index("site_id")["kind"]
    s0 = base["service_id"].map(shipped).fillna(1.0).to_numpy(float)
    s1 = np.array(
        [
            movable.share_for(str(k), str(kind), share)
            for k, kind, share in zip(
                base["service_id"], base["site_id"].map(kinds), s0, strict=True
            )
        ],
        dtype=float,
    )
    hours = base["hours_per_week"].astype(float).to_numpy()
    whole = np.divide(hours, s0, out=np.zeros_like(hours), where=s0 > 0)
    delta = np.where(s0 > 0, whole * s1 - hours, 0.0)
    slot = pd.MultiIndex.from_arrays(
        [base["site_id"], base["service_id"].map(rooms), base["band"]],
        names=["site_id", "room_type", "band"],
    )
    capacity = dataset.capacity.copy()
    if "fixed_pcn_clinic_hours" not in capacity.columns:
        _raise(
            scenario.source_file or f"scenario {scenario.name!r}",
            movable_problems(dataset, scenario),
        )
        capacity["fixed_pcn_clinic_hours"] = 0.0
    capacity["fixed_pcn_clinic_hours"] = capacity["fixed_pcn_clinic_hours"].fillna(0.0)
    keys = pd.MultiIndex.from_frame(capacity[["site_id", "room_type", "band"]])
    own = pd.Series(capacity["fixed_pcn_clinic_hours"].to_numpy(float), index=keys)
    # Within a slot, the hours released may not exceed its own-list work plus what other
    # services' lower shares add to it: scale the increases down where they would.
    up = pd.Series(np.clip(delta, 0, None), index=slot).groupby(level=[0, 1, 2]).sum()
    down = pd.Series(np.clip(-delta, 0, None), index=slot).groupby(level=[0, 1, 2]).sum()
    room = own.reindex(up.index).fillna(0.0) + down
    scale = (room / up.where(up > 0)).clip(upper=1.0).fillna(1.0)
    delta = np.where(delta > 0, delta * scale.reindex(slot).to_numpy(float), delta)
    net = pd.Series(delta, index=slot).groupby(level=[0, 1, 2]).sum().reindex(keys).fillna(0.0)
    capacity["fixed_hours"] = (capacity["fixed_hours"] - net.to_numpy()).round(6)
    capacity["fixed_pcn_clinic_hours"] = (
        (capacity["fixed_pcn_clinic_hours"] - net.to_numpy()).clip(lower=0.0).round(6)
    )
    baseline = base.assign(hours_per_week=np.clip(hours + delta, 0.0, None).round(6))
    change = pd.Series(delta, index=pd.MultiIndex.from_frame(base[["pcn_code", "service_id"]]))
    per_clinic = change.groupby(level=[0, 1]).sum()
    demand = dataset.demand.copy()
    clinic = pd.MultiIndex.from_frame(demand[["pcn_code", "service_id"]])
    demand["hours_per_week"] = (
        (demand["hours_per_week"].astype(float) + per_clinic.reindex(clinic).fillna(0.0).to_numpy())
        .clip(lower=0.0)
        .round(6)
    )
    services = dataset.services.copy()
    services["movable_share"] = [
        movable.share.get(str(k), float(shipped[k])) for k in services["service_id"]
    ]
    return replace(
        dataset,
        capacity=capacity,
        baseline=baseline[baseline["hours_per_week"] > 0].reset_index(drop=True),
        demand=demand,
        services=services,
    )


def _close_buildings(estate: _Estate, scenario: Scenario) -> None:
    if not scenario.buildings.close:
        return
    closing = set(scenario.buildings.close)
    estate.remove(estate.capacity["site_id"].isin(closing), CLOSURE_REASONS["close"])
    estate.premises = estate.premises[~estate.premises["site_id"].isin(closing)]
    estate.opening = estate.opening[~estate.opening["site_id"].isin(closing)]


#: Building type of a new site that names none, by kind.
_NEW_SITE_TYPE = {"gp_practice": "practice", "acute": "acute"}


def _add_new_sites(estate: _Estate, dataset: Dataset, scenario: Scenario) -> None:
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


def _resize_rooms(estate: _Estate, scenario: Scenario, at: Callable[[str, int], int]) -> list[str]:
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


def _retime_sites(estate: _Estate, scenario: Scenario, at: Callable[[str, int], int]) -> list[str]:
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


def _restrict_opening_options(estate: _Estate, scenario: Scenario) -> None:
    options = scenario.options
    if options.opening_bands is not None:
        estate.opening = estate.opening[estate.opening["band"].isin(options.opening_bands)]
    if options.opening_kinds is not None:
        kinds = estate.premises.set_index("site_id")["kind"]
        kept = estate.opening["site_id"].map(kinds).isin(options.opening_kinds)
        estate.opening = estate.opening[kept]


def _served_pcn(dataset: Dataset, sites: pd.Series) -> pd.Series:
    """The PCN each (original) site serves: its own pcn_code, else the catchment it lies in,
    else the nearest catchment."""
    premises = dataset.premises.set_index("site_id")
    own = sites.map(premises["pcn_code"]).fillna("").astype(str)
    points = gpd.GeoSeries(sites.map(premises.geometry).to_numpy(), crs=premises.crs)
    pcns = dataset.pcns.reset_index(drop=True)
    nearest = [
        str(pcns["pcn_code"].iloc[int(pcns.geometry.distance(pt).to_numpy().argmin())])
        if pt is not None and len(pcns)
        else ""
        for pt in points
    ]
    known = set(pcns["pcn_code"])
    return pd.Series(
        [o if o in known else n for o, n in zip(own, nearest, strict=True)], index=sites.index
    )


def rehouse_fixed_work(
    changed: Dataset, original: Dataset, removed: list[pd.DataFrame], scenario: Scenario
) -> Dataset:
    """Turn the fixed work of closed or shut room bands into demand that must be placed.

    One service per (site, room type, band), category ``rehoused_fixed_work``: same
    room type and band, within ``[buildings] rehouse_max_km`` of the PCN the site
    served; today it runs at the closed site (a baseline row), so placing it
    anywhere is a move. ``closed_slots`` records every closed (site, band) and why.
    """
    gone = pd.concat(removed, ignore_index=True) if removed else pd.DataFrame()
    if not len(gone):
        return changed
    closed = gone[["site_id", "band", "reason"]].drop_duplicates(["site_id", "band"])
    blocks = gone[gone["fixed_hours"] > 0].copy()
    if not len(blocks):
        return replace(changed, closed_slots=closed.reset_index(drop=True))
    kind = blocks["site_id"].map(original.premises.set_index("site_id")["kind"])
    name = blocks["site_id"].map(original.premises.set_index("site_id")["name"])
    blocks["pcn_code"] = _served_pcn(original, blocks["site_id"])
    blocks["service_id"] = (
        "rehouse_" + blocks["site_id"] + "_" + blocks["room_type"] + "_" + blocks["band"]
    )
    limit = scenario.buildings.rehouse_max_km or _default_rehouse_km(original)
    primary = ("gp_practice", "pcn_hub", "community")
    services = pd.DataFrame(
        {
            "service_id": blocks["service_id"],
            "name": "fixed "
            + blocks["room_type"]
            + " work of "
            + name.fillna(blocks["site_id"])
            + " ("
            + blocks["band"]
            + ")",
            "category": REHOUSED_CATEGORY,
            "room_type": blocks["room_type"],
            "bands": [(b,) for b in blocks["band"]],
            "site_kinds": [(*primary, "acute") if k == "acute" else primary for k in kind],
            "max_travel_km": float(limit),
        }
    )
    hours = blocks["fixed_hours"].astype(float)
    demand = pd.DataFrame(
        {
            "pcn_code": blocks["pcn_code"],
            "service_id": blocks["service_id"],
            "hours_per_week": hours,
        }
    )
    baseline = demand.assign(site_id=blocks["site_id"], band=blocks["band"])
    return replace(
        changed,
        services=pd.concat([changed.services, services], ignore_index=True),
        demand=pd.concat([changed.demand, demand], ignore_index=True),
        baseline=pd.concat(
            [changed.baseline, baseline[changed.baseline.columns]], ignore_index=True
        ),
        closed_slots=closed.reset_index(drop=True),
    )


def _default_rehouse_km(dataset: Dataset) -> float:
    services = dataset.services
    clinics = services.loc[services["category"] == "pcn_clinic", "max_travel_km"]
    return float(clinics.max() if len(clinics) else services["max_travel_km"].max())
