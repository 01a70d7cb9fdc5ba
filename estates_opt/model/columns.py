"""The model's columns: x (allocation), unmet, open, shortfall and relocation families.

One frame of every column with its ids, its objective terms, bounds and
integrality, in the order of :mod:`estates_opt.model.build`'s formulation, and the
pinned allocations (5), which are bounds on those columns, not rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.inputs.travel import deprived_share
from estates_opt.model.program import INF
from estates_opt.model.relocations import clinic_buildings
from estates_opt.scenario import Scenario
from estates_opt.scenario.relocation import PIN_SLOT
from estates_opt.schema import SESSION_HOURS

#: Penalty per session/week a PCN falls short of ``relocation.own_hub_min_sessions`` at its
#: own hub: two and a half relocations' worth at the default, so a hub with room is always used.
HUB_SHORTFALL_GBP_PER_SESSION = 10000.0


@dataclass(frozen=True)
class Columns:
    """Every column with its ids, objective terms, bounds and integrality."""

    frame: pd.DataFrame
    terms: dict[str, np.ndarray]
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    hours_per_unit: np.ndarray  # of the x columns
    moved: np.ndarray  # x columns in a slot the PCN does not use today


def x_columns(
    dataset: Dataset, scenario: Scenario, cand: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The x columns and their objective coefficients (travel, cost, move)."""
    weights = scenario.weights
    n_x = len(cand)
    whole = scenario.options.whole_sessions
    hours_per_unit = cand["band"].map(SESSION_HOURS).to_numpy(float) if whole else np.ones(n_x)
    dep = cand["pcn_code"].map(deprived_share(dataset.lsoas)).fillna(0.0).to_numpy(float)
    travel = weights.travel_gbp_per_hour_km * cand["travel_km"].to_numpy(float)
    travel = travel * (1.0 + weights.imd_weight * dep) * hours_per_unit
    cost = weights.cost * cand["cost_per_hour_gbp"].to_numpy(float) * hours_per_unit
    if "part" in cand:  # whole sessions: kept and added parts of each slot
        moved = (cand["part"] == "add").to_numpy()
    else:
        moved = cand["baseline_hours"].to_numpy(float) <= 0
    move = weights.move_gbp_per_hour * moved * hours_per_unit
    preference = np.zeros(n_x)
    if "part" in cand:
        # (12) Tie-breaks, so equally good plans cannot reshuffle the moves: today's slot
        # first, then the PCN's own hub, then (through the travel term) the nearest site.
        rel = scenario.relocation
        own_hub = cand["own_hub"].to_numpy(bool)
        preference -= rel.keep_preference_gbp_per_hour * (~moved) * hours_per_unit
        preference -= rel.own_hub_preference_gbp_per_hour * (moved & own_hub) * hours_per_unit
    frame = cand.assign(family="x", hours_per_unit=hours_per_unit)
    terms = {"travel": travel, "cost": cost, "move": move, "preference": preference}
    return frame, terms, hours_per_unit, moved


def unmet_unit(dataset: Dataset, scenario: Scenario, demand: pd.DataFrame) -> np.ndarray:
    """Hours per unit of an unmet column: a whole session of the service with whole sessions.

    Unmet demand then counts whole sessions too, so leaving the last part-session of a
    clinic unmet costs a whole session's penalty, never less than placing it would.
    (The unmet hours reported are demand less what is placed.)
    """
    if not scenario.options.whole_sessions:
        return np.ones(len(demand))
    bands = dataset.services.set_index("service_id")["bands"]
    shortest = {k: min(SESSION_HOURS[b] for b in v) for k, v in bands.items()}
    return demand["service_id"].map(shortest).fillna(1.0).to_numpy(float)


def open_columns(slots: pd.DataFrame, cand: pd.DataFrame, scenario: Scenario) -> pd.DataFrame:
    """y columns: one per openable (site, band) some x column could use (opening mode)."""
    open_pairs = (
        slots.loc[slots["state"] == "openable", ["site_id", "band", "open_cost_gbp_per_week"]]
        .drop_duplicates(["site_id", "band"])
        .reset_index(drop=True)
    )
    if not scenario.options.opening_decisions:
        return open_pairs.iloc[0:0].assign(family="open", hours_per_unit=0.0)
    openable = cand[cand["state"] == "openable"]
    used = pd.MultiIndex.from_frame(openable[["site_id", "band"]].drop_duplicates())
    # A boolean array, not a list: an empty list would select no *columns*.
    keep = pd.MultiIndex.from_frame(open_pairs[["site_id", "band"]]).isin(used)
    return (
        open_pairs.loc[np.asarray(keep, dtype=bool)]
        .reset_index(drop=True)
        .assign(family="open", hours_per_unit=0.0)
    )


def relocation_frames(dataset: Dataset, scenario: Scenario, cand: pd.DataFrame) -> dict:
    """(8)-(11) The whole-session model's extra columns: relocations, specialty sites, hubs."""
    if "part" not in cand:
        empty = pd.DataFrame()
        return {
            "relocate": empty,
            "specialty_site": empty,
            "move_excess": empty,
            "hub": empty,
            "clinics": empty,
            "site_use": empty,
        }
    added = cand.index[cand["part"] == "add"]
    relocate = cand.loc[added, ["service_id", "pcn_code", "site_id", "band"]].assign(x_index=added)
    outpatient = cand["category"] == "outpatient_outreach"
    ops = cand.loc[outpatient, ["service_id", "site_id", "baseline_hours"]]
    specialty = (
        ops.groupby(["service_id", "site_id"], as_index=False, sort=True)["baseline_hours"]
        .sum()
        .rename(columns={"baseline_hours": "today_hours"})
    )
    borough = dataset.premises.set_index("site_id")["borough"]
    specialty["borough"] = specialty["site_id"].map(borough).fillna("(no borough)")
    hub_pcns = cand.loc[cand["own_hub"].to_numpy(bool), ["pcn_code"]].drop_duplicates()
    if scenario.relocation.own_hub_min_sessions <= 0:
        hub_pcns = hub_pcns.iloc[0:0]
    clinics, today_sites = clinic_buildings(cand, scenario.relocation.max_buildings_per_clinic)
    return {
        "clinics": clinics,
        "site_use": today_sites,
        "relocate": relocate.reset_index(drop=True),
        "specialty_site": specialty,
        "move_excess": pd.DataFrame({"pcn_code": [None]}),
        "hub": hub_pcns.reset_index(drop=True),
    }


def assemble_columns(
    dataset: Dataset,
    scenario: Scenario,
    cand: pd.DataFrame,
    demand: pd.DataFrame,
    slots: pd.DataFrame,
    targets: pd.DataFrame,
    extra: dict,
) -> Columns:
    """x, unmet, open, enhanced-access shortfall, then the whole-session families."""
    weights = scenario.weights
    rel = scenario.relocation
    x_cols, x_terms, hours_per_unit, moved = x_columns(dataset, scenario, cand)
    unmet_cols = demand[["service_id", "pcn_code"]].assign(
        family="unmet", hours_per_unit=unmet_unit(dataset, scenario, demand)
    )
    open_cols = open_columns(slots, cand, scenario)
    short_cols = targets[["pcn_code", "band"]].assign(family="ea_shortfall", hours_per_unit=1.0)
    frames = {
        "x": x_cols,
        "unmet": unmet_cols,
        "open": open_cols,
        "ea_shortfall": short_cols,
        "relocate": extra["relocate"].assign(family="relocate", hours_per_unit=0.0),
        "specialty_site": extra["specialty_site"].assign(
            family="specialty_site", hours_per_unit=0.0
        ),
        "move_excess": extra["move_excess"].assign(family="move_excess", hours_per_unit=1.0),
        "hub_shortfall": extra["hub"].assign(family="hub_shortfall", hours_per_unit=0.0),
        "site_use": extra["site_use"].assign(family="site_use", hours_per_unit=0.0),
        "community_shortfall": pd.DataFrame(
            {"family": ["community_shortfall"], "hours_per_unit": [1.0]}
            if scenario.strategy.community_weekday_utilisation is not None
            else {"family": [], "hours_per_unit": []}
        ),
    }
    sizes = {f: len(frame) for f, frame in frames.items()}
    n = sum(sizes.values())

    def stack(values: dict[str, np.ndarray | float]) -> np.ndarray:
        return np.concatenate(
            [np.broadcast_to(np.asarray(values.get(f, 0.0), float), (k,)) for f, k in sizes.items()]
        )

    open_cost = weights.opening * open_cols["open_cost_gbp_per_week"].to_numpy(float)
    spec = extra["specialty_site"]
    site_cost = (
        rel.gbp_per_specialty_site * (spec["today_hours"].to_numpy(float) <= 0)
        if len(spec)
        else 0.0
    )
    terms = {
        "travel": stack({"x": x_terms["travel"]}),
        "cost": stack({"x": x_terms["cost"]}),
        "move": stack({"x": x_terms["move"], "move_excess": rel.excess_gbp_per_hour}),
        "relocation": stack({"relocate": rel.gbp_per_relocation, "specialty_site": site_cost}),
        "unmet": stack(
            {
                "unmet": weights.unmet_gbp_per_hour * unmet_cols["hours_per_unit"].to_numpy(float),
                "ea_shortfall": scenario.contract.shortfall_gbp_per_hour,
                "hub_shortfall": HUB_SHORTFALL_GBP_PER_SESSION,
                "community_shortfall": scenario.strategy.shortfall_gbp_per_hour,
            }
        ),
        "opening": stack({"open": open_cost}),
        "preference": stack({"x": x_terms["preference"]}),
    }
    binary = stack({"open": 1.0, "relocate": 1.0, "specialty_site": 1.0, "site_use": 1.0}) > 0
    sessions_short = stack({"unmet": 1.0}) > 0
    upper = np.where(binary, 1.0, INF)
    if "unit_upper" in cand:
        upper[: len(cand)] = cand["unit_upper"].to_numpy(float)
    whole = scenario.options.whole_sessions
    integer = binary | ((stack({"x": 1.0}) > 0) | sessions_short) & whole
    frame = pd.concat(list(frames.values()), ignore_index=True)
    return Columns(
        frame=frame,
        terms=terms,
        lower=np.zeros(n),
        upper=upper,
        integer=integer,
        hours_per_unit=hours_per_unit,
        moved=moved,
    )


def pin_allocations(cols: Columns, cand: pd.DataFrame, scenario: Scenario) -> list[int]:
    """(5) Pinned allocations: lower bounds on existing x columns.

    With whole sessions a slot has a kept part (today's sessions) and an added
    part: the pin fills the kept part first, then the added part. Returns the
    places in ``scenario.pinned`` of pins with no column (no allowed allocation),
    which the pin checks name with their reason.
    """
    if not scenario.pinned:
        return []
    key = cand[list(PIN_SLOT)].apply(tuple, axis=1)
    part = cand["part"].to_numpy() if "part" in cand else np.full(len(cand), "slot")
    unplaced = []
    for i, pin in enumerate(scenario.pinned):
        where = np.flatnonzero(key == pin.slot)
        if where.size == 0:
            unplaced.append(i)
            continue
        units = pin.hours_per_week / cols.hours_per_unit[where[0]]
        if not scenario.options.whole_sessions:
            cols.lower[where[0]] = units
            continue
        left = float(np.ceil(units - 1e-9))
        for j in sorted(where, key=lambda j: part[j] != "keep"):
            take = left if part[j] == "add" else min(left, cols.upper[j])
            cols.lower[j] = take
            cols.upper[j] = max(cols.upper[j], take)
            left -= take
    return unplaced
