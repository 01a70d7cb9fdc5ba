"""A scenario's ``[movable]`` shares: how much of today's work may move, per service.

The shipped shares are services.csv ``movable_share``; a scenario's shares move hours
between today's baseline (and the PCN's demand) and each room slot's fixed work.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.inputs.scenario_references import raise_scenario_problems
from estates_opt.scenario import Scenario


def shipped_shares(dataset: Dataset) -> pd.Series:
    """services.csv ``movable_share`` by service_id (1 where absent or empty)."""
    services = dataset.services.set_index("service_id")
    if "movable_share" not in services.columns:
        return pd.Series(1.0, index=services.index)
    return pd.to_numeric(services["movable_share"], errors="coerce").fillna(1.0).astype(float)


def movable_problems(dataset: Dataset, scenario: Scenario) -> list[str]:
    """``[movable]`` on a dataset that cannot say where the unmoved share is kept."""
    base = dataset.baseline
    if not scenario.movable.changed or not len(base):
        return []
    if "fixed_pcn_clinic_hours" in dataset.capacity.columns:
        return []
    shipped = shipped_shares(dataset)
    s0 = base["service_id"].map(shipped).fillna(1.0).to_numpy(float)
    partial = sorted(set(base.loc[s0 < 1, "service_id"]))
    if not partial:
        return []
    return [
        "movable: services.csv gives "
        + ", ".join(partial)
        + " a movable share below 1, but capacity.csv has no "
        "fixed_pcn_clinic_hours saying where the rest is kept as fixed work; "
        "add the column or remove [movable]"
    ]


def apply_movable_shares(dataset: Dataset, scenario: Scenario) -> Dataset:
    """The dataset with ``[movable]`` shares in place of services.csv ``movable_share``.

    Each of today's baseline rows (a PCN's service at a site and band) is the shipped share
    s0 of that service's hours there, so its whole is ``hours / s0``; the scenario's share s1
    (per service, or per service and kind of building) makes ``hours / s0 x s1`` of it
    movable. The difference moves between baseline.csv (and the PCN's demand) and the
    slot's fixed work (``fixed_hours`` and ``fixed_pcn_clinic_hours``): a lower share adds
    fixed work that never moves; a higher one releases fixed work, but only the own-list
    work the slot holds (``fixed_pcn_clinic_hours``), never other fixed work. Demand not
    in the baseline (growth, new demand) is left as it is.
    """
    movable = scenario.movable
    base = dataset.baseline
    if not movable.changed or not len(base):
        return dataset
    shipped = shipped_shares(dataset)
    rooms = dataset.services.set_index("service_id")["room_type"]
    kinds = dataset.premises.set_index("site_id")["kind"]
    s0 = base["service_id"].map(shipped).fillna(1.0).to_numpy(float)
    s1 = np.array(
        [
            movable.share_for(str(k), str(kind), share)
            for k, kind, share in zip(
                base["service_id"], base["site_id"].map(kinds), s0, strict=True
            )
        ],
        dtype=float,
    )
    hours = base["hours_per_week"].astype(float).to_numpy()
    whole = np.divide(hours, s0, out=np.zeros_like(hours), where=s0 > 0)
    delta = np.where(s0 > 0, whole * s1 - hours, 0.0)
    slot = pd.MultiIndex.from_arrays(
        [base["site_id"], base["service_id"].map(rooms), base["band"]],
        names=["site_id", "room_type", "band"],
    )
    capacity = dataset.capacity.copy()
    if "fixed_pcn_clinic_hours" not in capacity.columns:
        raise_scenario_problems(
            scenario.source_file or f"scenario {scenario.name!r}",
            movable_problems(dataset, scenario),
        )
        capacity["fixed_pcn_clinic_hours"] = 0.0
    capacity["fixed_pcn_clinic_hours"] = capacity["fixed_pcn_clinic_hours"].fillna(0.0)
    keys = pd.MultiIndex.from_frame(capacity[["site_id", "room_type", "band"]])
    own = pd.Series(capacity["fixed_pcn_clinic_hours"].to_numpy(float), index=keys)
    # Within a slot, the hours released may not exceed its own-list work plus what other
    # services' lower shares add to it: scale the increases down where they would.
    up = pd.Series(np.clip(delta, 0, None), index=slot).groupby(level=[0, 1, 2]).sum()
    down = pd.Series(np.clip(-delta, 0, None), index=slot).groupby(level=[0, 1, 2]).sum()
    room = own.reindex(up.index).fillna(0.0) + down
    scale = (room / up.where(up > 0)).clip(upper=1.0).fillna(1.0)
    delta = np.where(delta > 0, delta * scale.reindex(slot).to_numpy(float), delta)
    net = pd.Series(delta, index=slot).groupby(level=[0, 1, 2]).sum().reindex(keys).fillna(0.0)
    capacity["fixed_hours"] = (capacity["fixed_hours"] - net.to_numpy()).round(6)
    capacity["fixed_pcn_clinic_hours"] = (
        (capacity["fixed_pcn_clinic_hours"] - net.to_numpy()).clip(lower=0.0).round(6)
    )
    baseline = base.assign(hours_per_week=np.clip(hours + delta, 0.0, None).round(6))
    change = pd.Series(delta, index=pd.MultiIndex.from_frame(base[["pcn_code", "service_id"]]))
    per_clinic = change.groupby(level=[0, 1]).sum()
    demand = dataset.demand.copy()
    clinic = pd.MultiIndex.from_frame(demand[["pcn_code", "service_id"]])
    demand["hours_per_week"] = (
        (demand["hours_per_week"].astype(float) + per_clinic.reindex(clinic).fillna(0.0).to_numpy())
        .clip(lower=0.0)
        .round(6)
    )
    services = dataset.services.copy()
    services["movable_share"] = [
        movable.share.get(str(k), float(shipped[k])) for k in services["service_id"]
    ]
    return replace(
        dataset,
        capacity=capacity,
        baseline=baseline[baseline["hours_per_week"] > 0].reset_index(drop=True),
        demand=demand,
        services=services,
    )
