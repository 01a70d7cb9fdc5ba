"""Where each PCN's registered patients live: the optional ``patients.csv``.

Without the file, a PCN's population is the mid-year population of the LSOAs of its
catchment (``lsoas.geojson`` ``pcn_code``), and travel is weighted by it. With the
file (NHS Digital "Patients Registered at a GP Practice" by LSOA, summed to PCNs),
a PCN's demand sits where its patients live: every LSOA of the dataset in which it
has patients, weighted by how many, whatever catchment the LSOA is drawn in.
Patients living in LSOAs outside the dataset (or with no LSOA recorded, ``NO2011``)
cannot be located; they are counted and reported, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

#: Values of ``travel_weighting`` in KPIs and summaries.
WEIGHTED_BY_PATIENTS = "registered_patients_by_lsoa"
WEIGHTED_BY_POPULATION = "catchment_population"


def travel_weighting(patients: pd.DataFrame | None) -> str:
    """Which weighting travel uses: registered patients by LSOA, or catchment population."""
    return (
        WEIGHTED_BY_PATIENTS if patients is not None and len(patients) else WEIGHTED_BY_POPULATION
    )


def origin_weights(
    lsoas: pd.DataFrame, patients: pd.DataFrame | None = None
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (PCN code, positions in ``lsoas``, weights summing to 1) per PCN, in code order.

    With ``patients``, the positions are the LSOAs where the PCN's patients live and the
    weights their patient counts; without it, the PCN's catchment LSOAs weighted by
    population (equal weights if it has nobody).
    """
    for code, members, people in origin_people(lsoas, patients):
        total = people.sum()
        yield (
            code,
            members,
            (people / total if total > 0 else np.full(len(members), 1 / len(members))),
        )


def origin_people(
    lsoas: pd.DataFrame, patients: pd.DataFrame | None = None
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (PCN code, positions in ``lsoas``, people) per PCN, in code order: where its
    journeys start and how many make them (its registered patients living in each LSOA,
    with ``patients``; else its catchment LSOAs' population)."""
    if patients is not None and len(patients):
        rows = _located(lsoas, patients).sort_values(["pcn_code", "pos"], kind="stable")
        for code, group in rows.groupby("pcn_code", sort=True):
            yield str(code), group["pos"].to_numpy(int), group["patients"].to_numpy(float)
        return
    population = lsoas["population"].to_numpy(dtype=float)
    codes = lsoas["pcn_code"].to_numpy()
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1], True])
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        members = order[start:stop]
        yield codes[members[0]], members, population[members]


def _located(lsoas: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """patients.csv rows whose LSOA is in ``lsoas``, with its position there."""
    position = pd.Index(lsoas["lsoa_code"]).get_indexer(patients["lsoa_code"])
    rows = patients.assign(pos=position, patients=patients["patients"].astype(float))
    return rows[(rows["pos"] >= 0) & (rows["patients"] > 0)]


def patients_by_pcn(lsoas: pd.DataFrame, patients: pd.DataFrame | None) -> pd.DataFrame:
    """Per PCN: patients in the file, located in the dataset's LSOAs, outside it, and the
    catchment population (the old weighting), so a planner sees what the weighting changed.

    Empty (no rows) when the dataset has no patients.csv.
    """
    columns = [
        "pcn_code",
        "patients",
        "patients_located",
        "patients_outside_area",
        "located_share",
        "lsoas_with_patients",
        "catchment_population",
    ]
    if patients is None or not len(patients):
        return pd.DataFrame(columns=columns)
    counts = patients["patients"].astype(float)
    total = counts.groupby(patients["pcn_code"]).sum()
    located = _located(lsoas, patients)
    inside = located.groupby("pcn_code")["patients"].sum()
    spread = located.groupby("pcn_code")["pos"].nunique()
    catchment = lsoas["population"].astype(float).groupby(lsoas["pcn_code"]).sum()
    codes = sorted(set(total.index) | set(catchment.index))
    table = pd.DataFrame({"pcn_code": codes})
    table["patients"] = table["pcn_code"].map(total).fillna(0.0)
    table["patients_located"] = table["pcn_code"].map(inside).fillna(0.0)
    table["patients_outside_area"] = table["patients"] - table["patients_located"]
    table["located_share"] = (
        table["patients_located"] / table["patients"].where(table["patients"] > 0)
    ).fillna(0.0)
    table["lsoas_with_patients"] = table["pcn_code"].map(spread).fillna(0).astype(int)
    table["catchment_population"] = table["pcn_code"].map(catchment).fillna(0.0)
    return table[columns]


def located_summary(lsoas: pd.DataFrame, patients: pd.DataFrame | None) -> dict[str, float]:
    """Totals for the validate summary and KPIs; empty when there is no patients.csv."""
    table = patients_by_pcn(lsoas, patients)
    if not len(table):
        return {}
    total = float(table["patients"].sum())
    located = float(table["patients_located"].sum())
    return {
        "pcns_weighted_by_patients": int((table["patients_located"] > 0).sum()),
        "patients": total,
        "patients_located": located,
        "patients_outside_area": total - located,
        "located_share": located / total if total > 0 else 0.0,
    }


def plurality_pcn(lsoas: pd.DataFrame, patients: pd.DataFrame) -> pd.Series:
    """Per LSOA code, the PCN with the most registered patients living there (ties: the
    smaller code); LSOAs where no PCN has a patient are left out. The rule the NEL
    catchments are drawn with, so maps and travel come from the same data."""
    rows = patients[patients["lsoa_code"].isin(set(lsoas["lsoa_code"]))]
    rows = rows.assign(patients=rows["patients"].astype(float))
    rows = rows[rows["patients"] > 0].sort_values(
        ["lsoa_code", "patients", "pcn_code"], ascending=[True, False, True], kind="stable"
    )
    first = rows.drop_duplicates("lsoa_code")
    return pd.Series(first["pcn_code"].to_numpy(), index=first["lsoa_code"].to_numpy())
