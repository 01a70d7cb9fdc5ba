"""Solution values -> the allocation and unmet tables, and the openings the solve chose.

The first step of explaining a plan: every other table here (moves, utilisation,
KPIs) is read from the allocation table this module makes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.inputs.travel import lsoa_points, pair_travel, ptal_factors, travel_patients
from estates_opt.model.program import LinearProgram
from estates_opt.model.relocations import today_in_sessions
from estates_opt.model.result import SolveResult
from estates_opt.scenario import Scenario
from estates_opt.schema import SESSION_HOURS

#: Hours (per week) below this are rounding, not an allocation or a change.
EPS = 1e-6


def _slot_travel(dataset: Dataset, scenario: Scenario, slots: pd.DataFrame) -> pd.Series:
    """Travel (km) of each (``pcn_code``, ``site_id``, ``band``) row of ``slots``, measured
    as the model's travel is: from the PCN's registered patients' LSOAs (anywhere in the
    dataset) or its catchment's, as ``[travel] weighting`` says, and with the band's PTAL
    factors where ``[travel.ptal]`` weighs that band; NaN where it cannot be measured.
    For today's slots, which the plan may leave (then no column gives their travel):
    measured otherwise, today's travel in moves.csv and the KPIs was on another basis than
    the plan's."""
    travel = pd.Series(np.nan, index=slots.index, dtype=float)
    patients = travel_patients(dataset, scenario)
    ptal = scenario.travel.ptal
    points = lsoa_points(dataset.lsoas)  # the travel stage's, worked out once per geometry
    # one measurement for every band PTAL does not weigh, one per band it does
    by_ptal = slots["band"].isin(ptal.bands) & ptal.enabled
    weighed = slots["band"].where(by_ptal, "")
    for band, rows in slots.groupby(weighed, sort=True):
        pairs = rows[["pcn_code", "site_id"]].drop_duplicates()
        known = dataset.premises[dataset.premises["site_id"].isin(pairs["site_id"])]
        inside = (
            np.ones(len(dataset.lsoas), bool)
            if patients is not None
            else dataset.lsoas["pcn_code"].isin(pairs["pcn_code"]).to_numpy()
        )
        factors = ptal_factors(dataset, scenario)[inside] if band else None
        if not len(known) or not inside.any():
            continue
        extra = pair_travel(
            dataset.lsoas[inside],
            known,
            pairs,
            scenario.travel.circuity,
            patients,
            factors,
            points=points[inside],
        )
        fill = rows[["pcn_code", "site_id"]].merge(extra, on=["pcn_code", "site_id"], how="left")
        travel.loc[rows.index] = fill["travel_km"].to_numpy()
    return travel


def allocation_table(
    dataset: Dataset,
    scenario: Scenario,
    lp: LinearProgram,
    result: SolveResult,
    today: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Plan and today's allocation side by side, one row per (service, PCN, site, band)
    (``today``: :func:`today_slots`, if worked out before)."""
    cols = lp.columns
    x = cols["family"].to_numpy() == "x"
    plan = cols.loc[
        x, ["service_id", "pcn_code", "site_id", "band", "room_type", "travel_km"]
    ].copy()
    plan["hours_per_week"] = np.round(
        result.values[x] * cols.loc[x, "hours_per_unit"].to_numpy(float), 6
    )
    plan = plan[plan["hours_per_week"] > EPS]
    if "part" in cols:  # whole sessions: a slot's kept and added parts are one allocation
        plan = plan.groupby(
            ["service_id", "pcn_code", "site_id", "band"], as_index=False, sort=False
        ).agg({"room_type": "first", "travel_km": "first", "hours_per_week": "sum"})
    base = today_slots(dataset, scenario) if today is None else today
    table = plan.merge(base, on=["service_id", "pcn_code", "site_id", "band"], how="outer")
    table["hours_per_week"] = table["hours_per_week"].fillna(0.0)
    table["baseline_hours_per_week"] = table["baseline_hours_per_week"].fillna(0.0)
    rooms = dataset.services.set_index("service_id")["room_type"]
    table["room_type"] = table["service_id"].map(rooms)
    # today's slots the plan leaves have no column's travel: their own, measured as it is
    table["travel_km"] = table["travel_km"].fillna(table["today_travel_km"])
    table["sessions_per_week"] = table["hours_per_week"] / table["band"].map(SESSION_HOURS)
    table["today_session_hours"] = today_reference(dataset, scenario, table)
    order = [
        "service_id",
        "pcn_code",
        "site_id",
        "band",
        "room_type",
        "hours_per_week",
        "sessions_per_week",
        "travel_km",
        "baseline_hours_per_week",
        "today_session_hours",
    ]
    return (
        table[order]
        .sort_values(["service_id", "pcn_code", "site_id", "band"])
        .reset_index(drop=True)
    )


def today_slots(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Today's hours per (service, PCN, site, band) slot (``baseline_hours_per_week``) and
    the slot's travel (``today_travel_km``), measured as the model measures travel."""
    slots = (
        dataset.baseline.groupby(["service_id", "pcn_code", "site_id", "band"], as_index=False)[
            "hours_per_week"
        ]
        .sum()
        .rename(columns={"hours_per_week": "baseline_hours_per_week"})
    )
    return slots.assign(today_travel_km=_slot_travel(dataset, scenario, slots).to_numpy(float))


def today_reference(dataset: Dataset, scenario: Scenario, table: pd.DataFrame) -> np.ndarray:
    """Today's hours per slot as the plan counts changes: in whole sessions where it books them.

    A whole-session plan that leaves a clinic where it is (10.8 h today, 3 sessions
    in the plan) moves nothing; today's hours are read in whole sessions by
    :func:`estates_opt.model.relocations.today_in_sessions`.
    """
    if not scenario.options.whole_sessions:
        return table["baseline_hours_per_week"].to_numpy(float)
    today = today_in_sessions(dataset.baseline)
    key = pd.MultiIndex.from_frame(table[["service_id", "pcn_code", "site_id", "band"]])
    sessions = today.reindex(key).fillna(0.0).to_numpy(float)
    return sessions * table["band"].map(SESSION_HOURS).to_numpy(float)


def unmet_table(lp: LinearProgram, result: SolveResult, allocations: pd.DataFrame) -> pd.DataFrame:
    """Per (service, PCN): hours demanded, placed by the plan and left unmet (unmet.csv)."""
    cols = lp.columns
    u = cols["family"].to_numpy() == "unmet"
    table = lp.demand[["service_id", "pcn_code", "demand_hours"]].copy()
    met = allocations.groupby(["service_id", "pcn_code"])["hours_per_week"].sum()
    key = pd.MultiIndex.from_frame(table[["service_id", "pcn_code"]])
    table["met_hours"] = met.reindex(key).fillna(0.0).to_numpy()
    # what the plan leaves unplaced (an unmet column may count whole sessions)
    short = np.minimum(
        result.values[u] * cols.loc[u, "hours_per_unit"].to_numpy(float),
        np.maximum(table["demand_hours"] - table["met_hours"], 0.0),
    )
    table["unmet_hours"] = np.round(np.maximum(short, 0.0), 6)
    return table[["service_id", "pcn_code", "demand_hours", "met_hours", "unmet_hours"]]


def with_unmet_reasons(
    lp: LinearProgram, unmet: pd.DataFrame, utilisation: pd.DataFrame
) -> pd.DataFrame:
    """unmet.csv with ``why`` for each clinic left short: the rooms it may use (the model's
    allocations for it: room type, bands, site kinds and travel limit) and what is left free
    in them under their caps after the plan, in whole sessions."""
    out = unmet.assign(why="")
    short = unmet.index[unmet["unmet_hours"] > 1e-6]
    if not len(short):
        return out
    x = lp.columns[lp.columns["family"] == "x"]
    reach = x.drop_duplicates(["service_id", "pcn_code", "site_id", "room_type", "band"])
    rooms = utilisation.set_index(["site_id", "room_type", "band"])
    free = (rooms["cap"] * rooms["capacity_hours"] - rooms["after_hours"]).clip(lower=0.0)
    by_clinic = dict(tuple(reach.groupby(["service_id", "pcn_code"], sort=False)))
    reasons = []
    for i in short:
        service, pcn = unmet.at[i, "service_id"], unmet.at[i, "pcn_code"]
        mine = by_clinic.get((service, pcn))
        if mine is None:
            reasons.append(
                "no room it may use is within reach: no open room of its type, in a band and "
                "site kind it may use, within its travel limit"
            )
            continue
        key = pd.MultiIndex.from_frame(mine[["site_id", "room_type", "band"]])
        left = free.reindex(key).fillna(0.0).to_numpy(float)
        session = mine["band"].map(SESSION_HOURS).to_numpy(float)
        whole = np.floor(left / session + 1e-9) * session
        room = str(mine["room_type"].iloc[0])
        bands = ", ".join(sorted(set(mine["band"])))
        where = (
            f"the {len(mine)} {room} room slots considered for it ({bands}: today's, its "
            "hub's and the nearest with a free session)"
        )
        if whole.sum() < 1e-6:
            reasons.append(
                f"{where} have no whole session free under their caps after the plan "
                f"({left.sum():.1f} h/week free in all, in pieces under a session)"
            )
        else:
            reasons.append(
                f"{where} still have {whole.sum():.0f} h/week free in whole sessions, but "
                "placing it breaks another rule (building or specialty-site limits, the "
                "move tolerance) or costs more than leaving it unmet"
            )
    out.loc[short, "why"] = reasons
    return out


def opened_slots(lp: LinearProgram, result: SolveResult) -> set[tuple[str, str]]:
    """The (site, band) openings the solve chose, so their rooms count as capacity."""
    cols = lp.columns
    o = cols["family"].to_numpy() == "open"
    chosen = cols.loc[o].assign(v=result.values[o])
    chosen = chosen[chosen["v"] > 0.5]
    return set(zip(chosen["site_id"], chosen["band"], strict=True))
