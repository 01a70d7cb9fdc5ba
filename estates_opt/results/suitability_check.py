"""The verifier's check of building suitability (services.csv ``building_types``).

Recomputed from the dataset and scenario alone, never from the model: every hour a plan
places must be in a building whose ``building_type`` the service lists, unless the
service lists none or the scenario relaxes it (``[suitability] relax``). A building with
no type is fit only for unrestricted services. ``results/verify.py`` calls
:func:`check_suitability` with the plan's allocations and adds its messages to the
violations.
"""

from __future__ import annotations

import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.scenario import Scenario

#: Hours below this are rounding noise, as in results/verify.py.
TOLERANCE_HOURS = 1e-6


def check_suitability(dataset: Dataset, scenario: Scenario, allocations: pd.DataFrame) -> list[str]:
    """One message per (service, PCN, site, band) of ``allocations`` (columns ``service_id,
    pcn_code, site_id, band, hours_per_week``) placed in a building unfit for the service."""
    services = dataset.services
    if "building_types" not in services.columns or not len(allocations):
        return []
    relaxed = set(scenario.suitability.relax)
    rule = {
        str(s): set(types)
        for s, types in zip(services["service_id"], services["building_types"], strict=True)
        if isinstance(types, tuple) and types and s not in relaxed
    }
    premises = dataset.premises
    building = (
        dict(zip(premises["site_id"], premises["building_type"], strict=True))
        if "building_type" in premises.columns
        else {}
    )
    used = allocations[allocations["hours_per_week"].astype(float) > TOLERANCE_HOURS]
    messages = []
    for row in used[["service_id", "pcn_code", "site_id", "band", "hours_per_week"]].itertuples(
        index=False
    ):
        allowed = rule.get(str(row.service_id))
        if allowed is None:
            continue
        kind = building.get(row.site_id)
        if not isinstance(kind, str) or kind not in allowed:
            what = kind if isinstance(kind, str) and kind else "a building of unknown type"
            messages.append(
                f"{row.service_id} for {row.pcn_code} at {row.site_id} ({row.band}): "
                f"{float(row.hours_per_week):.2f} h/week in {what}, which may not host it "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
    return messages
