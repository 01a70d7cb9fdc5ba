"""The verifier's check of what can move: the non-movable share of each service stays put.

Recomputed from the dataset as solved and the scenario, sharing no code with
:func:`estates_opt.inputs.changes.apply_movable_shares`: in every room slot where a
service runs today with movable share s < 1 (``[movable]`` per service and kind of
building, else services.csv ``movable_share``), today's movable hours h there are s of the
service's hours, so ``h x (1 - s) / s`` of the slot's fixed work must be the practice's own
work that never moves (``fixed_pcn_clinic_hours``). A service with share 0 may have no
movable hours today. The plan must keep every slot's fixed work as the dataset gives it.
A dataset without ``fixed_pcn_clinic_hours`` does not say where such work is: not checked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.scenario import Scenario

#: Cents of rounding per service in a slot (the NEL build rounds each part to 2 dp).
OWN_WORK_TOL = 0.05

_SLOT = ["site_id", "room_type", "band"]


def _share(scenario: Scenario, service: str, kind: str, shipped: float) -> float:
    by_kind = {str(k): v for k, v in scenario.movable.share_by_kind.get(service, {}).items()}
    if kind in by_kind:
        return float(by_kind[kind])
    return float(scenario.movable.share.get(service, shipped))


def check_movable_share(
    dataset: Dataset, scenario: Scenario, utilisation: pd.DataFrame
) -> list[str]:
    """Every slot keeps at least the non-movable share of today's work as fixed work."""
    services = dataset.services.set_index("service_id")
    shipped = (
        pd.to_numeric(services["movable_share"], errors="coerce").fillna(1.0)
        if "movable_share" in services.columns
        else pd.Series(1.0, index=services.index)
    )
    base = dataset.baseline
    if not len(base) or "fixed_pcn_clinic_hours" not in dataset.capacity.columns:
        return []  # the dataset does not say where non-movable work is kept
    kinds = dataset.premises.set_index("site_id")["kind"]
    share = np.array(
        [
            _share(scenario, str(k), str(kinds.get(site, "")), float(shipped.get(k, 1.0)))
            for k, site in zip(base["service_id"], base["site_id"], strict=True)
        ]
    )
    hours = base["hours_per_week"].astype(float).to_numpy()
    v: list[str] = []
    for row in base[(share <= 0) & (hours > 1e-6)].head(20).itertuples(index=False):
        v.append(
            f"movable share: {row.service_id} of {row.pcn_code} has share 0 but "
            f"{row.hours_per_week:.2f} h movable today at {row.site_id} {row.band}"
        )
    kept = np.divide(hours * (1 - share), share, out=np.zeros_like(hours), where=share > 0)
    needed = (
        pd.DataFrame(
            {
                "site_id": base["site_id"],
                "room_type": base["service_id"].map(services["room_type"]),
                "band": base["band"],
                "needed": kept,
            }
        )
        .groupby(_SLOT)["needed"]
        .sum()
    )
    capacity = dataset.capacity.set_index(_SLOT)
    own = capacity["fixed_pcn_clinic_hours"].astype(float).fillna(0.0)
    present = needed.index.intersection(capacity.index)  # closed rooms' work is rehoused
    short = needed[present] - own.reindex(present)
    for slot in short.index[(short > OWN_WORK_TOL).to_numpy()][:20]:
        v.append(
            f"movable share {slot}: today's work there needs {needed[slot]:.2f} h of the "
            f"practice's own work kept as fixed, the dataset holds {own[slot]:.2f} h"
        )
    over = own > capacity["fixed_hours"].astype(float) + 1e-6
    for slot in own.index[over.to_numpy()][:20]:
        v.append(f"movable share {slot}: own work {own[slot]:.2f} h exceeds the fixed work")
    if len(utilisation):
        fixed = utilisation.set_index(_SLOT)["fixed_hours"].astype(float)
        both = fixed.index.intersection(capacity.index)
        drift = (fixed[both] - capacity.loc[both, "fixed_hours"].astype(float)).abs() > 1e-3
        for slot in both[drift.to_numpy()][:20]:
            v.append(f"movable share {slot}: the plan changed the slot's fixed work")
    return v
