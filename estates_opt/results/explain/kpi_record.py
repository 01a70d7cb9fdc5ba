"""kpis.json: the headline numbers assembled into one record, in the order the record declares.

Each group of keys is made by a named step here or by the module of its table; the
order of the keys is :class:`~estates_opt.results.kpis.Kpis`' and must not change.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.candidates import own_hub_mask
from estates_opt.model.program import OBJECTIVE_TERMS, LinearProgram
from estates_opt.model.result import SolveResult
from estates_opt.results.explain.allocations import EPS
from estates_opt.results.explain.enhanced_access import enhanced_access_kpis
from estates_opt.results.explain.moves import moves_table
from estates_opt.results.explain.prepared import model_size
from estates_opt.results.explain.travel import travel_by_ptal
from estates_opt.results.explain.utilisation import (
    hostable_rooms,
    open_today,
    strategy_gap,
    utilisation_by_kind,
)
from estates_opt.results.kpis import Kpis, ModelSize, OwnHub, RelocationKpis, StoppedAt
from estates_opt.scenario import Scenario


def objective_terms(lp: LinearProgram, result: SolveResult) -> dict[str, float]:
    """Each objective term's value in the solution: what the objective is made of."""
    values = np.nan_to_num(result.values)
    return {term: float(lp.terms[term] @ values) for term in OBJECTIVE_TERMS}


def hours_added(allocations: pd.DataFrame) -> float:
    """Hours/week placed beyond today's sessions in each slot: what stage 1 minimises.

    Equal to ``hours_moved`` where no clinic grows; growth counts here but is no move.
    """
    today = allocations.get("today_session_hours", allocations["baseline_hours_per_week"])
    return float(np.maximum(allocations["hours_per_week"] - today, 0.0).sum())


def relocation_kpis(
    lp: LinearProgram, moves: pd.DataFrame, allocations: pd.DataFrame
) -> RelocationKpis:
    """Relocations (lines of moves.csv) and movement against the least any plan needs.

    The movement ratio compares like with like: the plan's :func:`hours_added` against
    stage 1's least of the same measure (``hours_moved`` leaves growth out, so on a
    growing estate it can fall below that least).
    """
    hours = hours_added(allocations)
    least = lp.least_movement_hours
    sessions = moves["sessions_per_week"].to_numpy(float)
    fewest = lp.least_relocations
    return {
        "relocations": len(moves),
        "relocations_under_one_session": int((sessions < 1 - 1e-6).sum()),
        "least_relocations": fewest,
        "relocation_ratio_to_least": len(moves) / fewest if fewest else None,
        "least_movement_hours": least,
        "movement_ratio_to_least": hours / least if least else None,
    }


class _SlotHours(TypedDict):
    """Hours the plan puts in slots unused today, and hours leaving today's slots."""

    hours_in_new_slots: float
    hours_leaving_today_slots: float
    hours_stopped: float
    hours_stopped_by_category: dict[str, float]
    clinics_stopping_sessions: int


class _Buildings(TypedDict):
    """Buildings with any clinic hours, before and after the plan."""

    buildings_used_before: int
    buildings_used_after: int
    buildings_newly_used: int


class _Travel(TypedDict):
    """Travel (km) per person, weighted as the model's travel is: the headline, by IMD decile
    and by PTAL band."""

    travel_km_before: float | None
    travel_km_after: float | None
    travel_km_by_imd_decile: dict[str, dict[str, float]]
    # the same per-LSOA travel by PTAL band and group (None: the dataset has no PTAL)
    travel_km_by_ptal_band: dict[str, dict[str, float]] | None


class _Demand(TypedDict):
    """Demand and the hours left unmet, in total and per service category."""

    demand_hours_total: float
    unmet_hours_total: float
    unmet_hours_by_category: dict[str, float]


class _EnhancedAccessMet(TypedDict):
    """The share of each PCN's enhanced-access demand the plan meets."""

    enhanced_access_met_share_by_pcn: dict[str, float]
    enhanced_access_all_met: bool


def kpi_dict(
    dataset: Dataset,
    scenario: Scenario,
    lp: LinearProgram,
    result: SolveResult,
    allocations: pd.DataFrame,
    unmet: pd.DataFrame,
    utilisation: pd.DataFrame,
    imd: dict[str, dict[str, float]],
    opened: set[tuple[str, str]],
    timings: dict[str, float],
    moves: pd.DataFrame | None = None,
    ptal: dict[str, dict[str, float]] | None = None,
    *,
    hostable: pd.Series | None = None,
    size: ModelSize | None = None,
) -> Kpis:
    """The headline numbers, in one JSON-ready record (:class:`~estates_opt.results.kpis.Kpis`).

    ``hours_moved`` is the sum of ``moves.csv`` (``moves``; computed here when
    not given): the one definition used by every output. ``ptal`` (travel by PTAL band,
    :func:`travel_by_ptal`) is computed here when not given, as are ``lp``'s
    :func:`hostable_rooms` and ``size`` (:func:`model_size`).
    """
    if moves is None:
        moves = moves_table(dataset, allocations, utilisation)
    if ptal is None:
        ptal = travel_by_ptal(dataset, scenario, allocations)
    categories = dataset.services.set_index("service_id")["category"]
    # only when it stopped early
    stopped: StoppedAt = {"stopped_at": result.limit} if result.limit else {}
    return {
        "scenario": scenario.name,
        "status": str(result.status),
        **stopped,
        "solver": result.solver,
        "backend": result.backend,
        "objective": _finite(result.objective),
        "best_bound": _finite(result.best_bound),
        "gap": _finite(result.gap),
        "bound_basis": result.bound_basis,
        "objective_terms": objective_terms(lp, result),
        "utilisation_before": utilisation_by_kind(open_today(utilisation, opened), "before_hours"),
        "utilisation_after": utilisation_by_kind(utilisation, "after_hours"),
        "hours_moved": float(moves["hours_per_week"].sum()),
        **relocation_kpis(lp, moves, allocations),
        # where a PCN's journeys start: its catchment by population, or its patients' LSOAs
        "travel_weighting": scenario.travel.weighting,
        **_slot_hours(allocations, categories),
        **_buildings(allocations),
        "sites_opened": sorted(f"{s}:{b}" for s, b in opened),
        **_travel(imd, ptal),
        **_demand(unmet, categories),
        **_enhanced_access_met(unmet, categories),
        "own_hub": own_hub_use(dataset, scenario, allocations),
        "enhanced_access_contract": enhanced_access_kpis(dataset, allocations, lp),
        "strategy_gap": strategy_gap(
            utilisation,
            hostable_rooms(lp) if hostable is None else hostable,
            _building_types(dataset),
            scenario.strategy.community_weekday_utilisation,
        ),
        "model": model_size(lp) if size is None else size,
        "seconds": timings,
        "diagnostics": list(lp.diagnostics),
    }


def _building_types(dataset: Dataset) -> pd.Series:
    """Site id -> building type ("unknown" where the premises do not say)."""
    premises = dataset.premises.set_index("site_id")
    if "building_type" not in premises:
        return pd.Series("unknown", index=premises.index)
    return premises["building_type"].fillna("unknown")


def _finite(x: float | None) -> float | None:
    """``x``, or None where it is missing or not finite (JSON has no NaN)."""
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else x


def _slot_hours(allocations: pd.DataFrame, categories: pd.Series) -> _SlotHours:
    """Hours placed in slots with no hours today; hours leaving today's slots (in the
    whole sessions the plan counts them in); and of those, the hours that arrive nowhere.

    A clinic whose losses exceed its gains books fewer sessions than today (its demand, or
    the contract's minimum, met with less): the difference is stopped, not moved, so
    moves.csv, which pairs losses with gains, does not list it.
    """
    change = allocations["hours_per_week"] - allocations["today_session_hours"]
    moved = float(np.maximum(-change, 0).sum())
    new_slot = allocations[
        (allocations["baseline_hours_per_week"] <= EPS) & (allocations["hours_per_week"] > EPS)
    ]
    net = change.groupby([allocations["service_id"], allocations["pcn_code"]]).sum()
    stopping = net[net < -EPS]
    by_category = (-stopping).groupby(stopping.index.get_level_values(0).map(categories)).sum()
    return {
        "hours_in_new_slots": float(new_slot["hours_per_week"].sum()),
        "hours_leaving_today_slots": moved,
        "hours_stopped": max(0.0, float(-stopping.sum())),  # never -0.0
        "hours_stopped_by_category": {str(c): float(h) for c, h in by_category.items()},
        "clinics_stopping_sessions": len(stopping),
    }


def _buildings(allocations: pd.DataFrame) -> _Buildings:
    """How many buildings host clinic hours today, after the plan, and only after it."""
    before_sites = set(allocations.loc[allocations["baseline_hours_per_week"] > EPS, "site_id"])
    after_sites = set(allocations.loc[allocations["hours_per_week"] > EPS, "site_id"])
    return {
        "buildings_used_before": len(before_sites),
        "buildings_used_after": len(after_sites),
        "buildings_newly_used": len(after_sites - before_sites),
    }


def _travel(imd: dict[str, dict[str, float]], ptal: dict[str, dict[str, float]] | None) -> _Travel:
    """The travel KPIs: the all-LSOA means of the IMD breakdown, the breakdowns themselves."""
    return {
        "travel_km_before": imd["before"].get("all"),
        "travel_km_after": imd["after"].get("all"),
        "travel_km_by_imd_decile": imd,
        "travel_km_by_ptal_band": ptal,
    }


def _demand(unmet: pd.DataFrame, categories: pd.Series) -> _Demand:
    """Demand and unmet hours, the latter per service category (every category listed)."""
    unmet_cat = (
        unmet.assign(category=unmet["service_id"].map(categories))
        .groupby("category")["unmet_hours"]
        .sum()
    )
    return {
        "demand_hours_total": float(unmet["demand_hours"].sum()),
        "unmet_hours_total": float(unmet["unmet_hours"].sum()),
        "unmet_hours_by_category": {
            c: float(unmet_cat.get(c, 0.0)) for c in sorted(set(categories))
        },
    }


def own_hub_use(dataset: Dataset, scenario: Scenario, allocations: pd.DataFrame) -> OwnHub:
    """Sessions/week each PCN runs at its own hub (any service, any band) against the
    minimum: the PCNs with a hub (premises.geojson), those meeting it and those short."""
    prem = dataset.premises
    hubs = prem.loc[prem["kind"] == "pcn_hub", "pcn_code"].dropna()
    pcns = sorted(set(hubs) & set(dataset.pcns["pcn_code"]))
    at_hub = own_hub_mask(dataset, allocations)  # the model's own test of "its own hub"
    sessions = allocations.loc[at_hub].groupby("pcn_code")["sessions_per_week"].sum()
    need = scenario.relocation.own_hub_min_sessions
    short = [p for p in pcns if float(sessions.get(p, 0.0)) < need - 1e-6]
    return {
        "min_sessions": float(need),
        "pcns_with_a_hub": len(pcns),
        "pcns_meeting": len(pcns) - len(short),
        "short": short,
        "modelled": bool(scenario.options.whole_sessions and need > 0),
    }


def _enhanced_access_met(unmet: pd.DataFrame, categories: pd.Series) -> _EnhancedAccessMet:
    """Per PCN, the share of its enhanced-access demand met (1 where it has none)."""
    ea = unmet[unmet["service_id"].map(categories) == "enhanced_access"]
    sums = ea.groupby("pcn_code")[["demand_hours", "met_hours"]].sum()
    demand, met = sums["demand_hours"].to_numpy(float), sums["met_hours"].to_numpy(float)
    ea_by_pcn = {
        p: float(m / d) if d else 1.0
        for p, d, m in zip(sums.index.tolist(), demand, met, strict=True)
    }
    return {
        "enhanced_access_met_share_by_pcn": ea_by_pcn,
        "enhanced_access_all_met": bool(all(v >= 1 - 1e-6 for v in ea_by_pcn.values())),
    }
