"""Travel from each LSOA to its PCN's clinics, before and after, by IMD decile and PTAL band.

The travel KPIs (``travel_km_*``) are population-weighted means of the per-LSOA
figures of :func:`lsoa_travel`, so the headline and its breakdowns always agree.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.inputs.travel import lsoa_points, points_km, site_points
from estates_opt.results.explain.allocations import EPS
from estates_opt.scenario import Scenario
from estates_opt.schema import PTAL_BANDS


def lsoa_travel(
    dataset: Dataset, scenario: Scenario, allocations: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Travel (km) from each LSOA of its catchment to its PCN's clinics, before and after.

    Per LSOA, the distance to each site its PCN uses, weighted by the hours there (NaN
    where the PCN uses none). Points are projected once and hours summed per (PCN, site)
    in one groupby; the per-PCN arithmetic is unchanged (projecting per PCN was the slow
    part). The IMD and PTAL breakdowns (:func:`travel_by_imd`, :func:`travel_by_ptal`)
    both read these values, so they always agree with the headline.
    """
    lsoas = dataset.lsoas
    per_lsoa = {"before": np.full(len(lsoas), np.nan), "after": np.full(len(lsoas), np.nan)}
    members = lsoas.groupby("pcn_code").indices
    lsoa_xy = lsoa_points(lsoas)
    site_xy = site_points(dataset.premises)
    site_pos = {s: i for i, s in enumerate(dataset.premises["site_id"])}
    columns = {"before": "baseline_hours_per_week", "after": "hours_per_week"}
    known = allocations[allocations["site_id"].isin(site_pos.keys())]
    # Per PCN, sites in order of first appearance (as ``unique`` gives them).
    hours = (
        known.groupby(["pcn_code", "site_id"], sort=False)[list(columns.values())]
        .sum()
        .reset_index()
        .sort_values("pcn_code", kind="stable")
    )
    pcn_col = hours["pcn_code"].to_numpy(object)
    site_col = hours["site_id"].to_numpy(object)
    starts: list[int] = (
        np.flatnonzero(np.r_[True, pcn_col[1:] != pcn_col[:-1]]).tolist() if len(hours) else []
    )
    stops = [*starts[1:], len(hours)][: len(starts)]  # none when nothing is allocated
    for start, stop in zip(starts, stops, strict=True):
        idx = members.get(pcn_col[start])
        if idx is None or not len(idx):
            continue
        sites = [site_pos[s] for s in site_col[start:stop]]
        dist = points_km(lsoa_xy[idx], site_xy[sites]) * scenario.travel.circuity
        for when, column in columns.items():
            h = hours[column].to_numpy(float)[start:stop]
            keep = h > EPS
            if not keep.any():
                continue
            w = np.where(keep, h, 0.0)
            per_lsoa[when][idx] = dist @ (w / w.sum())
    return per_lsoa


def _travel_by_group(
    lsoas: pd.DataFrame,
    per_lsoa: dict[str, np.ndarray],
    groups: np.ndarray,
    labels: Iterable[object],
) -> dict[str, dict[str, float]]:
    """Population-weighted mean of ``per_lsoa`` per group label, and over all LSOAs."""
    pop = lsoas["population"].to_numpy(float)
    out: dict[str, dict[str, float]] = {"before": {}, "after": {}}
    for when, values in per_lsoa.items():
        for label in labels:
            m = (groups == label) & ~np.isnan(values)
            if m.any():
                out[when][str(label)] = float(
                    np.average(values[m], weights=pop[m]) if pop[m].sum() > 0 else values[m].mean()
                )
        m = ~np.isnan(values)
        out[when]["all"] = (
            float(np.average(values[m], weights=pop[m]))
            if m.any() and pop[m].sum() > 0
            else float("nan")
        )
    return out


def travel_by_imd(
    dataset: Dataset,
    scenario: Scenario,
    allocations: pd.DataFrame,
    per_lsoa: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Population-weighted travel (km) by IMD decile, measured from each LSOA."""
    if per_lsoa is None:
        per_lsoa = lsoa_travel(dataset, scenario, allocations)
    deciles = dataset.lsoas["imd_decile"].astype(int).to_numpy()
    return _travel_by_group(dataset.lsoas, per_lsoa, deciles, range(1, 11))


#: PTAL bands grouped as planners read them: poor (0-1b), moderate (2-3), good (4-6b).
PTAL_GROUPS = {
    "low_ptal_0_1b": ("0", "1a", "1b"),
    "mid_ptal_2_3": ("2", "3"),
    "high_ptal_4_6b": ("4", "5", "6a", "6b"),
}


def travel_by_ptal(
    dataset: Dataset,
    scenario: Scenario,
    allocations: pd.DataFrame,
    per_lsoa: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]] | None:
    """Population-weighted travel (km) by the LSOAs' PTAL band (lsoas.geojson ``ptal``),
    the same per-LSOA figures as :func:`travel_by_imd`, plus the three groups of
    :data:`PTAL_GROUPS`; None when the dataset has no PTAL. Distances are crow-fly x
    circuity, never PTAL-weighted: the KPI shows who travels further, not the penalty."""
    lsoas = dataset.lsoas
    if "ptal" not in lsoas.columns or not lsoas["ptal"].notna().any():
        return None
    if per_lsoa is None:
        per_lsoa = lsoa_travel(dataset, scenario, allocations)
    bands = lsoas["ptal"].astype(object).where(lsoas["ptal"].notna(), "").astype(str).to_numpy()
    out = _travel_by_group(lsoas, per_lsoa, bands, PTAL_BANDS)
    group_of = {band: group for group, members in PTAL_GROUPS.items() for band in members}
    grouped = np.array([group_of.get(b, "") for b in bands], dtype=object)
    by_group = _travel_by_group(lsoas, per_lsoa, grouped, PTAL_GROUPS)
    for when in out:
        out[when].update({k: v for k, v in by_group[when].items() if k != "all"})
    pop = lsoas["population"].to_numpy(float)
    out["population"] = {
        label: float(pop[members].sum())
        for label, members in (
            *((b, bands == b) for b in PTAL_BANDS),
            *((g, grouped == g) for g in PTAL_GROUPS),
        )
        if members.any()
    }
    return out
