"""pcn_summary.csv: one row per PCN with demand, travel, enhanced access and hours moved."""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.results.explain.allocations import EPS
from estates_opt.results.explain.enhanced_access import enhanced_access_by_band
from estates_opt.results.explain.moves import moves_table
from estates_opt.scenario import Scenario
from estates_opt.schema import ENHANCED_ACCESS_BANDS, REHOUSED_CATEGORY

#: The utilisation columns :func:`moves_table` reads (none: no room counts as full).
_UTIL_KEYS = ["site_id", "room_type", "band", "after_hours", "cap", "capacity_hours"]


def pcn_travel_weighting(scenario: Scenario, codes: pd.Series) -> pd.Series:
    """Per PCN, where its journeys start: ``patients`` (the LSOAs its registered patients
    live in, patients.csv, which validation makes locate at least one patient of every PCN)
    or ``population`` (its catchment LSOAs by population), as ``[travel] weighting`` says."""
    return pd.Series(scenario.travel.weighting, index=codes.index, dtype=object)


def pcn_summary_table(
    dataset: Dataset,
    scenario: Scenario,
    allocations: pd.DataFrame,
    unmet: pd.DataFrame,
    targets: pd.DataFrame | None = None,
    moves: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per PCN: population, demand met and unmet, travel before and after, enhanced
    access and hours moved (pcn_summary.csv)."""
    pcns = dataset.pcns[["pcn_code", "pcn_name", "borough", "registered_patients"]].copy()
    pop = dataset.lsoas.groupby("pcn_code")["population"].sum()
    pcns["population"] = pcns["pcn_code"].map(pop).fillna(0.0)
    d = unmet.groupby("pcn_code")[["demand_hours", "met_hours", "unmet_hours"]].sum()
    pcns = pcns.join(d, on="pcn_code").fillna(
        {"demand_hours": 0.0, "met_hours": 0.0, "unmet_hours": 0.0}
    )

    def weighted(col: str) -> pd.Series:
        frame = allocations[allocations[col] > EPS].dropna(subset=["travel_km"])
        num = (frame[col] * frame["travel_km"]).groupby(frame["pcn_code"]).sum()
        den = frame[col].groupby(frame["pcn_code"]).sum()
        return num / den

    pcns["travel_before_km"] = pcns["pcn_code"].map(weighted("baseline_hours_per_week"))
    pcns["travel_after_km"] = pcns["pcn_code"].map(weighted("hours_per_week"))
    pcns["travel_weighting"] = pcn_travel_weighting(scenario, pcns["pcn_code"])
    categories = dataset.services.set_index("service_id")["category"]
    ea = (
        unmet[unmet["service_id"].map(categories) == "enhanced_access"]
        .groupby("pcn_code")[["demand_hours", "met_hours"]]
        .sum()
    )
    # a closed building's fixed work is placed for the PCN the site served: not its own demand
    rehoused = unmet[unmet["service_id"].map(categories) == REHOUSED_CATEGORY]
    rehoused_hours = rehoused.groupby("pcn_code")["demand_hours"].sum()
    pcns["rehoused_demand_hours"] = pcns["pcn_code"].map(rehoused_hours).fillna(0.0)
    pcns["enhanced_access_demand_hours"] = pcns["pcn_code"].map(ea["demand_hours"]).fillna(0.0)
    pcns["enhanced_access_met_hours"] = pcns["pcn_code"].map(ea["met_hours"]).fillna(0.0)
    by_band = enhanced_access_by_band(
        dataset, allocations, pd.DataFrame() if targets is None else targets
    ).set_index("pcn_code")
    for band in ENHANCED_ACCESS_BANDS:
        pcns[f"enhanced_access_{band}_hours_before"] = pcns["pcn_code"].map(
            by_band[f"{band}_before"]
        )
        pcns[f"enhanced_access_{band}_hours"] = pcns["pcn_code"].map(by_band[f"{band}_after"])
    pcns["enhanced_access_required_hours"] = pcns["pcn_code"].map(by_band["total_required"])
    for band in (*ENHANCED_ACCESS_BANDS, "total"):
        pcns[f"enhanced_access_{band}_shortfall_hours"] = pcns["pcn_code"].map(
            by_band[f"{band}_shortfall"]
        )
    pcns["enhanced_access_contract_met"] = pcns["pcn_code"].map(by_band["contract_met"])
    # "Hours moved" is the sum of moves.csv, per PCN here (models/README.md "Hours moved").
    if moves is None:
        moves = moves_table(dataset, allocations, pd.DataFrame(columns=_UTIL_KEYS))
    per_pcn = moves.groupby("pcn_code")["hours_per_week"].sum()
    pcns["hours_moved"] = pcns["pcn_code"].map(per_pcn).fillna(0.0)
    closing = moves[moves["service_id"].map(categories) == REHOUSED_CATEGORY]
    closing_hours = closing.groupby("pcn_code")["hours_per_week"].sum()
    pcns["rehoused_hours_moved"] = pcns["pcn_code"].map(closing_hours).fillna(0.0)
    for count in ("registered_patients", "population"):  # people, not 108692.0000
        whole = pcns[count].round()
        if np.allclose(pcns[count], whole):
            pcns[count] = whole.astype("int64")
    return pcns.sort_values("pcn_code").reset_index(drop=True)
