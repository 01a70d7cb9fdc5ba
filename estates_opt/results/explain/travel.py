"""Travel from where each PCN's patients live to its clinics, before and after, by IMD
decile and PTAL band.

The travel KPIs (``travel_km_*``) are people-weighted means of the per-origin figures of
:func:`origin_travel`, so the headline and its breakdowns always agree. The origins are
those the model's travel uses (``[travel] weighting``): a PCN's registered patients by
home LSOA, or its catchment LSOAs by population. So the headline measures the journeys
the plan was priced on, and agrees with pcn_summary.csv's per-PCN travel.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.inputs.patients import origin_people
from estates_opt.inputs.travel import lsoa_points, points_km, site_points, travel_patients
from estates_opt.results.explain.allocations import EPS
from estates_opt.scenario import Scenario
from estates_opt.schema import PTAL_BANDS


@dataclass(frozen=True)
class OriginTravel:
    """One row per (PCN, origin LSOA): how many people start there and how far they go."""

    lsoa: np.ndarray  #: position in ``dataset.lsoas``
    people: np.ndarray  #: patients of the PCN living there, or the catchment's population
    km: dict[str, np.ndarray]  #: ``before`` and ``after``: NaN where the PCN uses no site


def origin_travel(dataset: Dataset, scenario: Scenario, allocations: pd.DataFrame) -> OriginTravel:
    """Travel (km) from each PCN's origins to its clinics, before and after.

    Per origin, the distance to each site its PCN uses, weighted by the hours there (NaN
    where the PCN uses none). Points are projected once and hours summed per (PCN, site)
    in one groupby. The IMD and PTAL breakdowns (:func:`travel_by_imd`,
    :func:`travel_by_ptal`) both read these values, so they always agree with the headline.
    """
    lsoa_xy = lsoa_points(dataset.lsoas)
    site_xy = site_points(dataset.premises)
    site_pos = {s: i for i, s in enumerate(dataset.premises["site_id"])}
    columns = {"before": "baseline_hours_per_week", "after": "hours_per_week"}
    known = allocations[allocations["site_id"].isin(site_pos.keys())]
    # hours per (PCN, site) as arrays, one run of rows per PCN (pandas per PCN was slow)
    hours = (
        known.groupby(["pcn_code", "site_id"], sort=True)[list(columns.values())]
        .sum()
        .reset_index()
    )
    pcn_col = hours["pcn_code"].astype(str).to_numpy(object)
    site_col = np.array([site_pos[s] for s in hours["site_id"]], dtype=int)
    values = {when: hours[column].to_numpy(float) for when, column in columns.items()}
    starts: list[int] = (
        np.flatnonzero(np.r_[True, pcn_col[1:] != pcn_col[:-1]]).tolist() if len(hours) else []
    )
    stops = [*starts[1:], len(hours)][: len(starts)]
    runs = {pcn_col[a]: (a, b) for a, b in zip(starts, stops, strict=True)}
    parts: dict[str, list[np.ndarray]] = {"lsoa": [], "people": [], "before": [], "after": []}
    for code, members, people in origin_people(dataset.lsoas, travel_patients(dataset, scenario)):
        if not len(members):
            continue
        parts["lsoa"].append(members)
        parts["people"].append(people)
        a, b = runs.get(str(code), (0, 0))
        dist = None
        for when in columns:
            km = np.full(len(members), np.nan)
            h = values[when][a:b]
            keep = h > EPS
            if keep.any():
                if dist is None:
                    dist = points_km(lsoa_xy[members], site_xy[site_col[a:b]])
                    dist *= scenario.travel.circuity
                km = dist[:, keep] @ (h[keep] / h[keep].sum())
            parts[when].append(km)
    joined = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    return OriginTravel(
        lsoa=joined["lsoa"].astype(int),
        people=joined["people"].astype(float),
        km={"before": joined["before"], "after": joined["after"]},
    )


def _travel_by_group(
    origins: OriginTravel, groups: np.ndarray, labels: Iterable[object]
) -> dict[str, dict[str, float]]:
    """People-weighted mean travel per group label (``groups``: one per origin) and over
    all origins."""
    people = origins.people
    out: dict[str, dict[str, float]] = {"before": {}, "after": {}}
    for when, values in origins.km.items():
        for label in labels:
            m = (groups == label) & ~np.isnan(values)
            if m.any():
                out[when][str(label)] = float(
                    np.average(values[m], weights=people[m])
                    if people[m].sum() > 0
                    else values[m].mean()
                )
        m = ~np.isnan(values)
        out[when]["all"] = (
            float(np.average(values[m], weights=people[m]))
            if m.any() and people[m].sum() > 0
            else float("nan")
        )
    return out


def travel_by_imd(
    dataset: Dataset,
    scenario: Scenario,
    allocations: pd.DataFrame,
    origins: OriginTravel | None = None,
) -> dict[str, dict[str, float]]:
    """People-weighted travel (km) by the IMD decile of where the journeys start."""
    if origins is None:
        origins = origin_travel(dataset, scenario, allocations)
    deciles = dataset.lsoas["imd_decile"].astype(int).to_numpy()[origins.lsoa]
    return _travel_by_group(origins, deciles, range(1, 11))


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
    origins: OriginTravel | None = None,
) -> dict[str, dict[str, float]] | None:
    """People-weighted travel (km) by the PTAL band where the journeys start (lsoas.geojson
    ``ptal``), the same per-origin figures as :func:`travel_by_imd`, plus the three groups
    of :data:`PTAL_GROUPS`; None when the dataset has no PTAL. Distances are crow-fly x
    circuity, never PTAL-weighted: the KPI shows who travels further, not the penalty."""
    lsoas = dataset.lsoas
    if "ptal" not in lsoas.columns or not lsoas["ptal"].notna().any():
        return None
    if origins is None:
        origins = origin_travel(dataset, scenario, allocations)
    ptal = lsoas["ptal"].astype(object).where(lsoas["ptal"].notna(), "").astype(str).to_numpy()
    bands = ptal[origins.lsoa]
    out = _travel_by_group(origins, bands, PTAL_BANDS)
    group_of = {band: group for group, members in PTAL_GROUPS.items() for band in members}
    grouped = np.array([group_of.get(b, "") for b in bands], dtype=object)
    by_group = _travel_by_group(origins, grouped, PTAL_GROUPS)
    for when in out:
        out[when].update({k: v for k, v in by_group[when].items() if k != "all"})
    people = origins.people
    out["population"] = {
        label: float(people[members].sum())
        for label, members in (
            *((b, bands == b) for b in PTAL_BANDS),
            *((g, grouped == g) for g in PTAL_GROUPS),
        )
        if members.any()
    }
    return out
