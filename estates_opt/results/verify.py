"""Check a solved plan against the inputs, sharing no code with the model builder.

The verifier re-derives every rule from the dataset and scenario on its own:
scaled demand, which bands/kinds/rooms a service may use, each site's capped
capacity, travel from LSOA points, and the utilisation and KPI arithmetic the
plan reports. It returns a list of violations; an empty list means the plan
is sound. ``run`` fails the run on any violation.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.results.kpis import Kpis
from estates_opt.results.movable_check import check_movable_share
from estates_opt.results.movement_check import check_hours_moved, check_specialty_sites
from estates_opt.results.suitability_check import check_suitability
from estates_opt.results.travel_check import TravelOrigins, recomputed_travel_km, travel_origins
from estates_opt.scenario import Scenario

TOL = 1e-4
#: Enhanced-access shortfalls below this (hours/week) are rounding, not a breach.
CONTRACT_TOL = 0.01
EA_BANDS = {"evening", "saturday"}
SESSION = {"weekday": 4.0, "evening": 1.5, "saturday": 4.0, "sunday": 4.0}


def _expected_demand(dataset: Dataset, scenario: Scenario) -> pd.Series:
    g = scenario.growth
    d = dataset.demand.set_index(["service_id", "pcn_code"])["hours_per_week"].astype(float)
    services = d.index.get_level_values(0)
    pcns = d.index.get_level_values(1)
    borough = dict(zip(dataset.pcns["pcn_code"], dataset.pcns["borough"], strict=True))
    factor = np.full(len(d), g.overall * g.population)
    factor *= np.array([g.by_service.get(s, 1.0) for s in services])
    factor *= np.array([g.by_borough.get(str(borough.get(p, "")), 1.0) for p in pcns])
    return d * factor


@dataclass(frozen=True)
class CheckInputs:
    """What the check reads from the dataset and scenario alone, as plain lookups: no plan
    changes it, so the pipeline works it out while the solver runs."""

    dataset: Dataset  #: the dataset it was read from
    scenario: Scenario
    #: (site, room type, band) -> (capacity, fixed hours) of every open room
    rooms: dict[tuple[str, str, str], tuple[float, float]]
    kind_of: dict[str, str]  #: site -> kind
    service_rules: dict[str, dict[str, Any]]  #: service -> its services.csv row
    origins: TravelOrigins | None  #: None with a travel matrix (travel is not recomputed)


def prepare_verification(dataset: Dataset, scenario: Scenario) -> CheckInputs:
    """The check's plan-independent inputs (0.2 s at England scale)."""
    c = dataset.capacity
    keys = zip(c["site_id"], c["room_type"], c["band"], strict=True)
    values = zip(c["capacity_hours"].astype(float), c["fixed_hours"].astype(float), strict=True)
    return CheckInputs(
        dataset,
        scenario,
        dict(zip(keys, values, strict=True)),
        dict(zip(dataset.premises["site_id"], dataset.premises["kind"], strict=True)),
        dataset.services.set_index("service_id").to_dict(orient="index"),
        travel_origins(dataset, scenario) if scenario.travel.matrix is None else None,
    )


def verify_plan(
    dataset: Dataset,
    scenario: Scenario,
    allocations: pd.DataFrame,
    unmet: pd.DataFrame,
    utilisation: pd.DataFrame,
    kpis: Kpis,
    opened: AbstractSet[tuple[str, str]] = frozenset(),
    prepared: CheckInputs | None = None,
) -> list[str]:
    """Return every rule the plan breaks (empty when it is sound). ``prepared`` is
    :func:`prepare_verification` of the same dataset and scenario, if worked out before."""
    if prepared is None or prepared.dataset is not dataset or prepared.scenario is not scenario:
        prepared = prepare_verification(dataset, scenario)
    alloc = allocations[allocations["hours_per_week"] > TOL].copy()
    services = dataset.services.set_index("service_id")
    openable = _openable_slots(dataset, opened)
    alloc["room_type"] = alloc["service_id"].map(services["room_type"])
    v: list[str] = []
    v += _check_demand(dataset, scenario, alloc, unmet)
    v += _check_allowed(prepared, alloc, openable)
    v += _check_travel(prepared, allocations)
    v += _check_capacity(prepared, alloc, openable)
    v += _check_utilisation(prepared, alloc, utilisation, kpis)
    v += _check_unmet_kpi(unmet, kpis)
    v += _check_community_aim(dataset, scenario, utilisation, kpis)
    v += _check_own_hub(dataset, scenario, alloc, kpis)
    v += _check_pins(scenario, alloc)
    v += _check_contract(dataset, scenario, alloc, kpis)
    v += check_hours_moved(dataset, scenario, allocations, kpis)
    v += check_specialty_sites(dataset, scenario, allocations)
    v += _check_closures(dataset, alloc)
    v += check_suitability(dataset, scenario, alloc)
    v += check_movable_share(dataset, scenario, utilisation)
    return v


def _check_closures(dataset: Dataset, alloc: pd.DataFrame) -> list[str]:
    """Nothing is placed in a room band the scenario closed or shut."""
    shut = dataset.closed_slots
    if not len(shut) or not len(alloc):
        return []
    closed = set(zip(shut["site_id"], shut["band"], strict=True))
    inside = [(s, b) in closed for s, b in zip(alloc["site_id"], alloc["band"], strict=True)]
    return [
        f"{r.service_id} for {r.pcn_code} placed at {r.site_id} ({r.band}), which is closed"
        for r in alloc[inside].itertuples(index=False)
    ]


def _ea_contract_on(dataset: Dataset, scenario: Scenario) -> bool:
    has_ea = bool((dataset.services["category"] == "enhanced_access").any())
    return scenario.contract.enhanced_access and has_ea


def _check_demand(
    dataset: Dataset, scenario: Scenario, alloc: pd.DataFrame, unmet: pd.DataFrame
) -> list[str]:
    """Demand met or reported unmet (enhanced access may exceed it under the contract)."""
    v: list[str] = []
    expected = _expected_demand(dataset, scenario)
    met = alloc.groupby(["service_id", "pcn_code"])["hours_per_week"].sum()
    reported = (
        unmet.set_index(["service_id", "pcn_code"])["unmet_hours"]
        if len(unmet)
        else pd.Series(dtype=float)
    )
    category = dict(zip(dataset.services["service_id"], dataset.services["category"], strict=True))
    may_exceed = scenario.options.whole_sessions
    ea_on = _ea_contract_on(dataset, scenario)
    # Plain dicts for the lookups (a MultiIndex lookup per key dominated large plans).
    met_of = met.to_dict()
    reported_of = reported.to_dict() if reported.index.is_unique else None
    for key, demand in expected.items():
        if demand <= TOL:
            continue
        unmet_hours = (
            reported_of.get(key, 0.0) if reported_of is not None else reported.get(key, 0.0)
        )
        got = float(met_of.get(key, 0.0)) + float(unmet_hours)
        if got < demand - 1e-3 * max(1.0, demand):
            v.append(f"demand {key}: {demand:.3f} h but only {got:.3f} h met or reported unmet")
        exceed_ok = may_exceed or (ea_on and category.get(key[0]) == "enhanced_access")
        if not exceed_ok and got > demand + 1e-3 * max(1.0, demand):
            v.append(f"demand {key}: {got:.3f} h placed or unmet exceeds demand {demand:.3f} h")
    for key in set(met.index) - set(expected.index):
        v.append(f"allocation for {key} but there is no such demand")
    return v


def _openable_slots(
    dataset: Dataset, opened: AbstractSet[tuple[str, str]]
) -> set[tuple[str, str, str]]:
    """(site, room type, band) rooms that exist because the plan opened the site in the band."""
    opening = dataset.opening
    openable: set[tuple[str, str, str]] = set()
    if not opened:
        return openable
    for room in ("consulting", "treatment", "group", "diagnostics"):
        col = f"{room}_hours_if_opened"
        if len(opening) and col in opening:
            rows = opening[opening[col] > 0]
            openable |= {
                (s, room, b)
                for s, b in zip(rows["site_id"], rows["band"], strict=True)
                if (s, b) in opened
            }
    return openable


def _check_allowed(
    prepared: CheckInputs, alloc: pd.DataFrame, openable: set[tuple[str, str, str]]
) -> list[str]:
    """Allowed band, site kind and room type; whole sessions where asked."""
    v: list[str] = []
    # Plain dicts: a pandas row lookup per allocation dominated large plans.
    open_rooms, service_rules, kind_of = prepared.rooms, prepared.service_rules, prepared.kind_of
    whole = prepared.scenario.options.whole_sessions
    columns = ["service_id", "pcn_code", "site_id", "band", "hours_per_week"]
    for service, pcn, site, band, hours in zip(*(alloc[c].tolist() for c in columns), strict=True):
        svc = service_rules[service]
        problems = []
        if band not in svc["bands"]:
            problems.append("band not allowed for the service")
        if svc["category"] == "enhanced_access" and band not in EA_BANDS:
            problems.append("enhanced access outside its bands")
        if kind_of.get(site) not in svc["site_kinds"]:
            problems.append(f"site kind {kind_of.get(site)} not allowed")
        slot = (site, svc["room_type"], band)
        if slot not in open_rooms and slot not in openable:
            problems.append(f"site has no open {svc['room_type']} room in that band")
        if whole and abs(hours / SESSION[band] - round(hours / SESSION[band])) > 1e-4:
            problems.append(f"{hours:.3f} h is not whole sessions")
        v += [f"{service} for {pcn} at {site} ({band}): {p}" for p in problems]
    return v


def _check_travel(prepared: CheckInputs, allocations: pd.DataFrame) -> list[str]:
    """Travel within each service's limit where the plan places hours, and the reported
    travel recomputed there and at today's slots the plan leaves (moves.csv and the
    travel KPIs read it)."""
    dataset, scenario = prepared.dataset, prepared.scenario
    placed = allocations["hours_per_week"] > TOL
    alloc = allocations[placed | (allocations["baseline_hours_per_week"] > TOL)]
    alloc = alloc.assign(placed=placed[alloc.index])
    if scenario.travel.matrix is not None or not len(alloc):
        return []
    v: list[str] = []
    limits = dict(
        zip(dataset.services["service_id"], dataset.services["max_travel_km"], strict=True)
    )
    limits.update(scenario.travel.max_km_by_service)
    pairs = alloc[["pcn_code", "site_id", "band"]].drop_duplicates()
    km = recomputed_travel_km(dataset, scenario, pairs, prepared.origins)
    pairs = pairs.assign(km=km.to_numpy())
    check = alloc.merge(pairs, on=["pcn_code", "site_id", "band"])
    # compared as arrays, the rows read only where one breaks a rule (NaN breaks none)
    limit_of = check["service_id"].map(limits).to_numpy(float)
    recomputed = check["km"].to_numpy(float)
    beyond = check["placed"].to_numpy(bool) & (recomputed > limit_of + 1e-6)
    misreported = np.zeros(len(check), bool)
    if "travel_km" in check:
        misreported = np.abs(recomputed - check["travel_km"].to_numpy(float)) > 1e-3
    for i in np.flatnonzero(beyond | misreported):
        row = check.iloc[i]
        where = f"{row.service_id} for {row.pcn_code} at {row.site_id}"
        if beyond[i]:
            v.append(f"{where}: travel {row.km:.2f} km over limit {limit_of[i]:g}")
        if misreported[i]:
            v.append(f"{where}: reported travel {row.travel_km:.3f} km, recomputed {row.km:.3f}")
    return v


def _check_capacity(
    prepared: CheckInputs, alloc: pd.DataFrame, openable: set[tuple[str, str, str]]
) -> list[str]:
    """Fixed plus placed hours within each room's cap (or within fixed work already over it)."""
    v: list[str] = []
    scenario, kind_of, cap = prepared.scenario, prepared.kind_of, prepared.rooms
    placed = alloc.groupby(["site_id", "room_type", "band"])["hours_per_week"].sum()
    opening = prepared.dataset.opening
    for slot, hours in placed.items():
        kind = kind_of.get(slot[0])
        limit_frac = scenario.cap(kind) if kind else 0.0
        if slot in cap:
            capacity, fixed = float(cap[slot][0]), float(cap[slot][1])
        elif slot in openable:
            row = opening[(opening["site_id"] == slot[0]) & (opening["band"] == slot[2])].iloc[0]
            capacity, fixed = float(row[f"{slot[1]}_hours_if_opened"]), 0.0
        else:
            continue  # reported by _check_allowed
        allowed = max(limit_frac * capacity, fixed)
        if fixed + hours > allowed + 1e-3:
            v.append(
                f"capacity {slot}: fixed {fixed:.2f} + placed {hours:.2f} h exceeds "
                f"{allowed:.2f} h ({limit_frac:.0%} of {capacity:.2f})"
            )
    return v


def _check_utilisation(
    prepared: CheckInputs, alloc: pd.DataFrame, utilisation: pd.DataFrame, kpis: Kpis
) -> list[str]:
    """The utilisation table's arithmetic and the utilisation and unmet KPIs."""
    v: list[str] = []
    placed = alloc.groupby(["site_id", "room_type", "band"])["hours_per_week"].sum()
    if len(utilisation):
        u = utilisation
        slots = pd.MultiIndex.from_frame(u[["site_id", "room_type", "band"]])
        reported = u["after_hours"].to_numpy(float)
        after = u["fixed_hours"].to_numpy(float) + placed.reindex(slots).fillna(0.0).to_numpy()
        for i in np.flatnonzero(np.abs(after - reported) > 1e-3)[:20]:
            v.append(
                f"utilisation {slots[i]}: reported after_hours {reported[i]:.3f}, "
                f"recomputed {after[i]:.3f}"
            )
        ratio = u["after_hours"] / u["capacity_hours"].where(u["capacity_hours"] > 0)
        bad = (ratio.fillna(0) - u["after_utilisation"].fillna(0)).abs() > 1e-6
        for slot in slots[bad.to_numpy()][:20]:
            v.append(
                f"utilisation {slot}: after_utilisation does not equal after_hours / capacity_hours"
            )
        missing = placed.index[slots.get_indexer(placed.index) < 0]
        for slot in list(missing)[:20]:
            v.append(f"utilisation table lacks slot {slot} that hosts {placed[slot]:.2f} h")
        # Recomputed here, not with inputs.dataset.kind_utilisation (what the KPI uses): the
        # verifier checks the explain code's figures, so it keeps its own arithmetic.
        reported_kpi = kpis.get("utilisation_after", {}).get("weekday", {})
        u2 = u.assign(kind=u["site_id"].map(prepared.kind_of))
        wk = u2[u2["band"] == "weekday"].groupby("kind")[["after_hours", "capacity_hours"]].sum()
        for kind, row in wk.iterrows():
            mine = row["after_hours"] / row["capacity_hours"] if row["capacity_hours"] else 0.0
            theirs = reported_kpi.get(kind)
            if theirs is None or abs(mine - theirs) > 1e-4:
                v.append(
                    f"KPI weekday utilisation after for {kind}: reported {theirs}, "
                    f"recomputed {mine:.5f}"
                )
        v += _check_reachable(u2, kpis)
    return v


def _check_own_hub(
    dataset: Dataset, scenario: Scenario, alloc: pd.DataFrame, kpis: Kpis
) -> list[str]:
    """Each PCN's sessions at its own hub, recounted: every PCN short of the minimum is
    reported as short, and no other."""
    reported = kpis.get("own_hub")
    if reported is None:  # plan folders written before it was reported
        return []
    hub_of = dataset.premises[dataset.premises["kind"] == "pcn_hub"]
    hub_sites = set(zip(hub_of["pcn_code"], hub_of["site_id"], strict=True))
    own = [(p, s) in hub_sites for p, s in zip(alloc["pcn_code"], alloc["site_id"], strict=True)]
    sessions = alloc.loc[own].groupby("pcn_code")["sessions_per_week"].sum()
    pcns = set(dataset.pcns["pcn_code"]) & {p for p, _ in hub_sites if isinstance(p, str)}
    need = scenario.relocation.own_hub_min_sessions
    short = sorted(p for p in pcns if sessions.get(p, 0.0) < need - 1e-6)
    v = []
    if short != sorted(reported["short"]) or len(pcns) != reported["pcns_with_a_hub"]:
        v.append(
            f"KPI own_hub: reported short {sorted(reported['short'])[:10]} of "
            f"{reported['pcns_with_a_hub']} PCNs with a hub, recounted {short[:10]} of {len(pcns)}"
        )
    if reported["pcns_meeting"] != len(pcns) - len(short):
        v.append(
            f"KPI own_hub: {reported['pcns_meeting']} PCNs meeting it, recounted "
            f"{len(pcns) - len(short)}"
        )
    return v


def _check_community_aim(
    dataset: Dataset, scenario: Scenario, utilisation: pd.DataFrame, kpis: Kpis
) -> list[str]:
    """The room-hours reported short of the scenario's community aim, recomputed."""
    aim = scenario.strategy.community_weekday_utilisation
    if aim is None:
        return []
    reported = kpis.get("strategy_gap", {}).get("community_aim")
    if reported is None:
        return [f"KPI community aim missing: the scenario aims at {aim:g} weekday use"]
    kinds = utilisation["site_id"].map(dataset.premises.set_index("site_id")["kind"])
    rooms = utilisation[(kinds == "community").to_numpy() & (utilisation["band"] == "weekday")]
    short = max(0.0, aim * rooms["capacity_hours"].sum() - rooms["after_hours"].sum())
    if abs(short - reported["shortfall_hours"]) > 1e-3:
        return [
            f"KPI community aim shortfall: reported {reported['shortfall_hours']:.3f} "
            f"room-hours, recomputed {short:.3f}"
        ]
    return []


def _check_reachable(utilisation: pd.DataFrame, kpis: Kpis) -> list[str]:
    """The community utilisation called reachable lies between the plan's own and every
    community room filled to its cap (or holding its fixed work, where that is more)."""
    v: list[str] = []
    reported = kpis.get("strategy_gap", {}).get("community_utilisation", {})
    community = utilisation[utilisation["kind"] == "community"]
    for label, figures in reported.items():
        if "reachable" not in figures:
            continue
        rooms = community if label == "all_bands" else community[community["band"] == label]
        capacity = rooms["capacity_hours"].sum()
        if capacity <= 0:
            continue
        full = np.maximum(rooms["fixed_hours"], rooms["cap"] * rooms["capacity_hours"]).sum()
        after = rooms["after_hours"].sum() / capacity
        if not after - 1e-6 <= figures["reachable"] <= full / capacity + 1e-6:
            v.append(
                f"KPI community utilisation reachable ({label}): {figures['reachable']:.5f} "
                f"is not between the plan's {after:.5f} and every room at its cap "
                f"{full / capacity:.5f}"
            )
    return v


def _check_unmet_kpi(unmet: pd.DataFrame, kpis: Kpis) -> list[str]:
    total_unmet = float(unmet["unmet_hours"].sum()) if len(unmet) else 0.0
    if abs(total_unmet - float(kpis.get("unmet_hours_total", 0.0))) > 1e-3:
        return [
            f"KPI unmet_hours_total {kpis.get('unmet_hours_total')} but unmet table sums to "
            f"{total_unmet:.3f}"
        ]
    return []


def _check_pins(scenario: Scenario, alloc: pd.DataFrame) -> list[str]:
    v: list[str] = []
    for pin in scenario.pinned:
        got = alloc[
            (alloc["pcn_code"] == pin.pcn_code)
            & (alloc["service_id"] == pin.service_id)
            & (alloc["site_id"] == pin.site_id)
            & (alloc["band"] == pin.band)
        ]["hours_per_week"].sum()
        if got < pin.hours_per_week - 1e-4:
            v.append(
                f"pinned {pin.service_id} for {pin.pcn_code} at {pin.site_id} ({pin.band}): "
                f"{got:.2f} h < {pin.hours_per_week:.2f} h"
            )
    return v


def _check_contract(
    dataset: Dataset, scenario: Scenario, alloc: pd.DataFrame, kpis: Kpis
) -> list[str]:
    """Every PCN in every enhanced-access band meets the contract or its shortfall is reported."""
    if not _ea_contract_on(dataset, scenario):
        return []
    contract = scenario.contract
    pcns = dataset.pcns
    patients = pcns["registered_patients"].astype(float).to_numpy()
    if "adjusted_patients" in pcns:
        adjusted = pcns["adjusted_patients"].astype(float).to_numpy()
        patients = np.where(np.isnan(adjusted), patients, adjusted)
    patients = patients * scenario.growth.population
    ea_services = set(
        dataset.services.loc[dataset.services["category"] == "enhanced_access", "service_id"]
    )
    ea = alloc[alloc["service_id"].isin(ea_services)]
    placed = ea.groupby(["pcn_code", "band"])["hours_per_week"].sum().to_dict()
    reported = {
        (r["pcn_code"], r["band"]): float(r["shortfall_hours"])
        for r in kpis.get("enhanced_access_contract", {}).get("shortfall", [])
    }
    v: list[str] = []
    for pcn, people in zip(pcns["pcn_code"], patients, strict=True):
        need = {
            "evening": contract.evening_min_hours,
            "saturday": contract.saturday_min_hours,
            "total": round(contract.minutes_per_1000_patients / 60.0 * people / 1000.0, 2),
        }
        got = {b: float(placed.get((pcn, b), 0.0)) for b in ("evening", "saturday")}
        got["total"] = got["evening"] + got["saturday"]
        for band, required in need.items():
            short = required - got[band]
            said = reported.get((pcn, band), 0.0)
            if short > CONTRACT_TOL and said < short - CONTRACT_TOL:
                v.append(
                    f"enhanced access {pcn} {band}: {got[band]:.2f} h/week placed, contract asks "
                    f"{required:.2f} h, shortfall {short:.2f} h not reported"
                )
            elif said > max(short, 0.0) + CONTRACT_TOL:
                v.append(
                    f"enhanced access {pcn} {band}: shortfall reported {said:.2f} h, "
                    f"recomputed {max(short, 0.0):.2f} h"
                )
    return v
