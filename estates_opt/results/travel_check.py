"""The verifier's own recomputation of PCN-to-site travel, for every travel rule.

Independent of :mod:`estates_opt.inputs.travel` (it reads the dataset and the
scenario, never the model's travel table): origins are the PCN's catchment LSOAs
weighted by population, or, with ``[travel] weighting = "patients"``, the LSOAs its
registered patients live in (patients.csv) weighted by their number; with
``[travel] ptal`` on, an evening or Saturday journey from an LSOA counts its
distance times the factor of the LSOA's PTAL band.

``results/verify.py`` calls :func:`recomputed_travel_km` in place of its
population-only recomputation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.memo import IdentityMemo
from estates_opt.scenario import Scenario


def _origins(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """One row per (PCN, LSOA position) with the origin's weight (summing to 1 per PCN)."""
    lsoas = dataset.lsoas
    patients = dataset.patients
    if scenario.travel.weighting == "patients" and patients is not None and len(patients):
        pos = pd.Index(lsoas["lsoa_code"]).get_indexer(patients["lsoa_code"])
        rows = pd.DataFrame(
            {
                "pcn_code": patients["pcn_code"].to_numpy(),
                "pos": pos,
                "w": patients["patients"].astype(float).to_numpy(),
            }
        )
        rows = rows[(rows["pos"] >= 0) & (rows["w"] > 0)]
    else:
        rows = pd.DataFrame(
            {
                "pcn_code": lsoas["pcn_code"].to_numpy(),
                "pos": np.arange(len(lsoas)),
                "w": lsoas["population"].astype(float).to_numpy(),
            }
        )
    total = rows.groupby("pcn_code")["w"].transform("sum")
    size = rows.groupby("pcn_code")["w"].transform("size")
    rows = rows.assign(w=np.where(total > 0, rows["w"] / total.where(total > 0), 1.0 / size))
    return rows


def _band_factor(dataset: Dataset, scenario: Scenario, band: str) -> np.ndarray:
    """Per LSOA, the factor its distance counts in ``band`` (1 unless PTAL weighting applies)."""
    factors = np.ones(len(dataset.lsoas))
    ptal = scenario.travel.ptal
    if not ptal.enabled or band not in ptal.bands or "ptal" not in dataset.lsoas.columns:
        return factors
    mapped = dataset.lsoas["ptal"].map(
        lambda v: ptal.factors.get(v) if isinstance(v, str) else None
    )
    return mapped.astype(float).fillna(1.0).to_numpy(float)


def _members_by_pcn(origins: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """PCN code -> (LSOA positions, weights) of its origins, in the rows' order.

    One stable sort and a split, not a pandas group per PCN (most of the check's time).
    """
    known = origins[origins["pcn_code"].notna()]  # a groupby leaves missing codes out
    codes = known["pcn_code"].map(str).to_numpy(object)
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    positions = known["pos"].to_numpy(int)[order]
    weights = known["w"].to_numpy(float)[order]
    starts: list[int] = (
        np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]).tolist() if len(codes) else []
    )
    stops = [*starts[1:], len(codes)]
    return {
        str(codes[a]): (positions[a:b], weights[a:b]) for a, b in zip(starts, stops, strict=True)
    }


#: The verifier's own LSOA points per geometry array (not the travel stage's: it recomputes).
_LSOA_XY: IdentityMemo[tuple[np.ndarray, np.ndarray]] = IdentityMemo()


def _lsoa_xy(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """x and y (metres) of each LSOA's representative point, read-only, once per geometry."""

    def points() -> tuple[np.ndarray, np.ndarray]:
        pts = dataset.lsoas.geometry.representative_point()
        x, y = pts.x.to_numpy(), pts.y.to_numpy()
        x.setflags(write=False)
        y.setflags(write=False)
        return x, y

    return _LSOA_XY.value_for(dataset.lsoas.geometry.values, points)


@dataclass(frozen=True)
class TravelOrigins:
    """Where each PCN's journeys start, as the scenario weighs them: no plan changes it."""

    x: np.ndarray  #: per LSOA, metres
    y: np.ndarray
    by_pcn: dict[str, tuple[np.ndarray, np.ndarray]]  #: PCN -> (LSOA positions, weights)


def travel_origins(dataset: Dataset, scenario: Scenario) -> TravelOrigins:
    """The origins :func:`recomputed_travel_km` measures from (0.1 s at England scale: the
    pipeline works them out while the solver runs)."""
    x, y = _lsoa_xy(dataset)
    return TravelOrigins(x, y, _members_by_pcn(_origins(dataset, scenario)))


#: (pair, origin) terms the travel recomputation holds at once.
TERMS_PER_BLOCK = 1_000_000


def recomputed_travel_km(
    dataset: Dataset,
    scenario: Scenario,
    pairs: pd.DataFrame,
    origins: TravelOrigins | None = None,
) -> pd.Series:
    """Travel (km) per row of ``pairs`` (``pcn_code``, ``site_id``, optional ``band``),
    recomputed from the dataset as the scenario defines it; NaN for an unknown site or a
    PCN with no origins. Index as ``pairs``; ``origins`` :func:`travel_origins` of the
    same dataset and scenario, when worked out before.

    Every (pair, origin) term in one array and summed per pair (a loop per pair was a
    third of the check's time at England scale).
    """
    origins = origins or travel_origins(dataset, scenario)
    lx, ly, by_pcn = origins.x, origins.y, origins.by_pcn
    premises = dataset.premises
    site_at = pd.Index(premises["site_id"]).get_indexer(pairs["site_id"])
    sx = premises.geometry.x.to_numpy()
    sy = premises.geometry.y.to_numpy()
    bands = pairs["band"] if "band" in pairs.columns else pd.Series("", index=pairs.index)
    band_names, band_of = np.unique(bands.map(str).to_numpy(object), return_inverse=True)
    factors = np.array([_band_factor(dataset, scenario, str(b)) for b in band_names])
    found = [
        (i, members)
        for i, (pcn, at) in enumerate(zip(pairs["pcn_code"], site_at, strict=True))
        if at >= 0 and (members := by_pcn.get(str(pcn))) is not None
    ]
    known = np.zeros(len(pairs), bool)
    known[[i for i, _ in found]] = True
    km = np.zeros(len(pairs))
    sizes = np.cumsum([len(o[0]) for _, o in found])
    # in blocks of about a million (pair, origin) terms, so memory stays bounded
    block_of = sizes // TERMS_PER_BLOCK if found else np.zeros(0, dtype=int)
    for block in np.unique(block_of):
        part = [found[i] for i in np.flatnonzero(block_of == block)]
        pair_of = np.repeat([i for i, _ in part], [len(o[0]) for _, o in part]).astype(int)
        lsoa = np.concatenate([o[0] for _, o in part])
        weight = np.concatenate([o[1] for _, o in part])
        site = site_at[pair_of]
        dist = np.hypot(lx[lsoa] - sx[site], ly[lsoa] - sy[site]) / 1000.0
        dist *= factors[band_of[pair_of], lsoa]
        km += np.bincount(pair_of, weights=weight * dist, minlength=len(pairs))
    km *= scenario.travel.circuity
    return pd.Series(np.where(known, km, np.nan), index=pairs.index, dtype=float)
