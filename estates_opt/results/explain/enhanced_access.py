"""The enhanced-access contract per PCN: hours per band before and after, minimums, shortfalls.

pcn_summary.csv and the ``enhanced_access_contract`` KPI both read :func:`enhanced_access_by_band`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.program import LinearProgram
from estates_opt.results.kpis import EnhancedAccessContract, EnhancedAccessShortfall
from estates_opt.schema import ENHANCED_ACCESS_BANDS

#: Shortfalls below this (hours/week, 0.6 minutes) are rounding, not a breach.
CONTRACT_TOL = 0.01


def enhanced_access_by_band(
    dataset: Dataset, allocations: pd.DataFrame, targets: pd.DataFrame
) -> pd.DataFrame:
    """Per PCN: enhanced-access hours before and after in each band, the contract's
    minimums and the shortfall against each (hours/week).

    ``targets`` is :attr:`LinearProgram.targets` (band ``total`` for the weekly
    total); without targets (contract off) the minimums and shortfalls are 0.
    """
    services = dataset.services
    ea_ids = services.loc[services["category"] == "enhanced_access", "service_id"]
    ea = allocations[allocations["service_id"].isin(ea_ids).to_numpy()]
    out = pd.DataFrame({"pcn_code": dataset.pcns["pcn_code"].to_numpy()})
    need = (
        targets.set_index(["pcn_code", "band"])["min_hours"]
        if len(targets)
        else pd.Series(dtype=float)
    )
    columns = {
        "before": "baseline_hours_per_week",
        "today_sessions": "today_session_hours",
        "after": "hours_per_week",
    }
    # one sum per (PCN, band) of all three columns, bands side by side, read per PCN
    sums = ea.groupby(["pcn_code", "band"])[list(columns.values())].sum().unstack("band")
    pcns = pd.Index(out["pcn_code"])
    for when, column in columns.items():
        for band in ENHANCED_ACCESS_BANDS:
            found = (column, band) in sums.columns
            hours = sums[(column, band)].reindex(pcns) if found else pd.Series(0.0, index=pcns)
            out[f"{band}_{when}"] = hours.fillna(0.0).to_numpy(float)
    for when in columns:
        out[f"total_{when}"] = out[[f"{b}_{when}" for b in ENHANCED_ACCESS_BANDS]].sum(axis=1)
    need_by_band = need.unstack("band") if len(need) else pd.DataFrame(index=pcns)
    for band in (*ENHANCED_ACCESS_BANDS, "total"):
        required = (
            need_by_band[band].reindex(pcns) if band in need_by_band else pd.Series(0.0, index=pcns)
        )
        out[f"{band}_required"] = required.fillna(0.0).to_numpy(float)
        short = np.maximum(required - out[f"{band}_after"].to_numpy(float), 0.0)
        out[f"{band}_shortfall"] = np.where(short > CONTRACT_TOL, short, 0.0)
    shortfalls = [f"{b}_shortfall" for b in (*ENHANCED_ACCESS_BANDS, "total")]
    out["contract_met"] = (out[shortfalls] <= 0).all(axis=1)
    return out


def enhanced_access_kpis(
    dataset: Dataset, allocations: pd.DataFrame, lp: LinearProgram
) -> EnhancedAccessContract:
    """The contract's enhanced-access rules: PCNs meeting each, hours per band, shortfalls."""
    table = enhanced_access_by_band(dataset, allocations, lp.targets)
    bands = (*ENHANCED_ACCESS_BANDS, "total")
    # PCN by PCN, its bands in order (columns read as arrays: iterrows took 80 ms at England)
    codes = table["pcn_code"].map(str).tolist()
    short = {
        band: (
            table[f"{band}_required"].to_numpy(float),
            table[f"{band}_after"].to_numpy(float),
            table[f"{band}_shortfall"].to_numpy(float),
        )
        for band in bands
    }
    shortfall: list[EnhancedAccessShortfall] = [
        {
            "pcn_code": codes[i],
            "band": band,
            "required_hours": float(short[band][0][i]),
            "placed_hours": float(short[band][1][i]),
            "shortfall_hours": float(short[band][2][i]),
        }
        for i in np.flatnonzero(np.any([short[b][2] > 0 for b in bands], axis=0))
        for band in bands
        if short[band][2][i] > 0
    ]
    return {
        "enforced": bool(len(lp.targets)),
        "pcns": len(table),
        "pcns_meeting_all": int(table["contract_met"].sum()),
        "pcns_meeting": {b: int((table[f"{b}_shortfall"] <= 0).sum()) for b in bands},
        "hours_by_band_before": {b: float(table[f"{b}_before"].sum()) for b in bands},
        "hours_by_band_today_sessions": {
            b: float(table[f"{b}_today_sessions"].sum()) for b in bands
        },
        "hours_by_band_after": {b: float(table[f"{b}_after"].sum()) for b in bands},
        "shortfall": shortfall,
    }
