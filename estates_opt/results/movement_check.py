"""The verifier's recount of movement: hours moved, relocations, buildings per clinic and
sites per outpatient specialty.

Recomputed from the allocation table and baseline.csv, without the explain code's move
legs: per (service, PCN), the hours leaving today's slots that arrive elsewhere. Whole
sessions add their own rules (no slot changes by a fraction of a session, relocations
reach the model's lower bound, no clinic spread over more buildings than allowed).
``results/verify.py`` calls :func:`check_hours_moved`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.relocations import today_in_sessions
from estates_opt.results.kpis import Kpis
from estates_opt.scenario import Scenario
from estates_opt.schema import SESSION_HOURS


def check_hours_moved(
    dataset: Dataset, scenario: Scenario, allocations: pd.DataFrame, kpis: Kpis
) -> list[str]:
    """Hours moved: per (service, PCN), the hours leaving today's slots that arrive elsewhere.

    Today's slots are read in whole sessions where the plan books them (recomputed
    here from baseline.csv); every relocation is then at least one session.
    """
    v: list[str] = []
    today = allocations["baseline_hours_per_week"].to_numpy(float)
    if scenario.options.whole_sessions:
        sessions = today_in_sessions(dataset.baseline)
        key = pd.MultiIndex.from_frame(allocations[["service_id", "pcn_code", "site_id", "band"]])
        today = sessions.reindex(key).fillna(0.0).to_numpy(float) * allocations["band"].map(
            SESSION_HOURS
        ).to_numpy(float)
        if not np.allclose(today, allocations["today_session_hours"].to_numpy(float), atol=1e-6):
            v.append("allocations: today_session_hours is not today's allocation in whole sessions")
    if "hours_moved" not in kpis:
        return v
    change = allocations["hours_per_week"].to_numpy(float) - today
    frame = allocations[["service_id", "pcn_code"]].assign(
        loss=np.maximum(-change, 0.0), gain=np.maximum(change, 0.0)
    )
    sums = frame.groupby(["service_id", "pcn_code"])[["loss", "gain"]].sum()
    mine = float(np.minimum(sums["loss"], sums["gain"]).sum())
    theirs = float(kpis["hours_moved"])
    if abs(mine - theirs) > 1e-3 * max(1.0, mine):
        v.append(f"KPI hours_moved {theirs:.3f} but allocations move {mine:.3f} h/week")
    v += _check_least_movement(float(sums["gain"].sum()), kpis)
    if "hours_stopped" in kpis:
        stopped = float(np.maximum(sums["loss"] - sums["gain"], 0.0).sum())
        if abs(stopped - kpis["hours_stopped"]) > 1e-3 * max(1.0, stopped):
            v.append(
                f"KPI hours_stopped {kpis['hours_stopped']:.3f} but allocations stop "
                f"{stopped:.3f} h/week"
            )
    if scenario.options.whole_sessions:
        units = change / allocations["band"].map(SESSION_HOURS).to_numpy(float)
        fragments = int((np.abs(units - np.round(units)) > 1e-6).sum())
        if fragments:
            v.append(f"{fragments} slots change by a fraction of a session")
        v += _check_relocations(allocations, change, kpis)
        v += _check_clinic_buildings(allocations, scenario)
    return v


def check_specialty_sites(
    dataset: Dataset, scenario: Scenario, allocations: pd.DataFrame
) -> list[str]:
    """No outpatient specialty in more sites of a borough than
    ``max_sites_per_specialty_per_borough`` (boroughs from premises.geojson)."""
    limit = scenario.relocation.max_sites_per_specialty_per_borough
    if limit is None:
        return []
    services = dataset.services.set_index("service_id")["category"]
    borough = dataset.premises.set_index("site_id")["borough"]
    used = allocations[
        (allocations["hours_per_week"] > 1e-6)
        & (allocations["service_id"].map(services) == "outpatient_outreach").to_numpy(bool)
    ]
    used = used.assign(borough=used["site_id"].map(borough).fillna("(no borough)"))
    counts = used.groupby(["service_id", "borough"])["site_id"].nunique()
    return [
        f"{service} uses {n} sites in {place}, more than max_sites_per_specialty_per_borough "
        f"{limit}"
        for (service, place), n in counts[counts > limit].items()
    ]


def _check_clinic_buildings(allocations: pd.DataFrame, scenario: Scenario) -> list[str]:
    """No clinic in more buildings than today's count, or ``max_buildings_per_clinic`` if more."""
    at_least = scenario.relocation.max_buildings_per_clinic
    if at_least is None:
        return []
    keys = ["service_id", "pcn_code"]
    today = allocations[allocations["today_session_hours"] > 1e-6].groupby(keys)["site_id"]
    after = allocations[allocations["hours_per_week"] > 1e-6].groupby(keys)["site_id"]
    counts = pd.concat([today.nunique().rename("today"), after.nunique().rename("after")], axis=1)
    counts = counts.fillna(0)
    over = counts[counts["after"] > np.maximum(counts["today"], at_least)]
    return [
        f"{service} of {pcn} uses {int(c.after)} buildings, more than "
        f"max({int(c.today)} today, max_buildings_per_clinic {at_least})"
        for (service, pcn), c in over.iterrows()
    ]


def _check_relocations(allocations: pd.DataFrame, change: np.ndarray, kpis: Kpis) -> list[str]:
    """Relocations recounted from the allocations: the slots a clinic's moved hours arrive in.

    Per (service, PCN), its losses fill its gains in table order, so a gain slot is a
    relocation while the gains before it hold less than the losses (growth beyond
    what leaves is not a move); the count must also reach the model's lower bound.
    """
    if "relocations" not in kpis:
        return []
    keys = ["service_id", "pcn_code"]
    frame = allocations[keys].assign(
        gain=np.where(change > 1e-6, change, 0.0), loss=np.where(change < -1e-6, -change, 0.0)
    )
    frame = frame.sort_values(keys, kind="stable")
    group = frame.groupby(keys, sort=False)
    before = group["gain"].cumsum() - frame["gain"]
    arrives = (frame["gain"] > 0) & (before < group["loss"].transform("sum") - 1e-6)
    mine = int(arrives.sum())
    v = []
    if mine != int(kpis["relocations"]):
        v.append(f"KPI relocations {kpis['relocations']} but moved hours arrive in {mine} slots")
    fewest = kpis.get("least_relocations")
    # the bound is for plans that place all demand: one may stop sessions, unmet, instead
    met_all = not float(kpis.get("unmet_hours_total") or 0.0) > 1e-6
    if fewest is not None and met_all and mine < fewest:
        v.append(f"{mine} relocations, fewer than the lower bound least_relocations {fewest}")
    return v


def _check_least_movement(added: float, kpis: Kpis) -> list[str]:
    """The movement ratio is the hours added beyond today's sessions over the least,
    and a plan meeting all demand adds no less than that proved least."""
    least, ratio = kpis.get("least_movement_hours"), kpis.get("movement_ratio_to_least")
    if not least:
        return []
    v = []
    if ratio is not None and abs(ratio * least - added) > 1e-3 * max(1.0, added):
        v.append(
            f"KPI movement_ratio_to_least {ratio:.4f} but the allocations add "
            f"{added:.3f} h/week beyond today's sessions against a least of {least:.3f}"
        )
    met_all = not float(kpis.get("unmet_hours_total") or 0.0) > 1e-6
    if met_all and added < least - 1e-6 * max(1.0, least):
        v.append(
            f"allocations add {added:.3f} h/week beyond today's sessions, less than the "
            f"lower bound least_movement_hours {least:.3f}"
        )
    return v
