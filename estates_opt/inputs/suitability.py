"""Which buildings may host which services: services.csv ``building_types``.

A building's ``building_type`` (premises.geojson) says what it is: a practice, a
community hospital, a health centre, a clinic, a children's centre, a mental-health or
talking-therapies base, a team base or office, an acute hospital. A service that lists
``building_types`` may only be placed in buildings of those types; consultant outreach
then never lands in a children's centre or an IAPT office, and nothing patient-facing
lands in a team base. A service with no list (or a dataset without the column) may use
any building; a building with no type is fit only for such services.
``[suitability] relax`` turns the rule off per service.
"""

from __future__ import annotations

import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.scenario import Scenario


def allowed_building_types(dataset: Dataset, scenario: Scenario) -> dict[str, frozenset[str]]:
    """Per restricted service, the building types that may host it (relaxed ones left out)."""
    services = dataset.services
    if "building_types" not in services.columns:
        return {}
    relaxed = set(scenario.suitability.relax)
    allowed: dict[str, frozenset[str]] = {}
    for service, types in zip(services["service_id"], services["building_types"], strict=True):
        if isinstance(types, tuple) and types and service not in relaxed:
            allowed[str(service)] = frozenset(types)
    return allowed


def suitable(dataset: Dataset, scenario: Scenario, pairs: pd.DataFrame) -> pd.Series:
    """True for each ``service_id, site_id`` row whose building may host the service."""
    allowed = allowed_building_types(dataset, scenario)
    if not allowed or not len(pairs):
        return pd.Series(True, index=pairs.index)
    premises = dataset.premises
    types = (
        premises.set_index("site_id")["building_type"]
        if "building_type" in premises.columns
        else pd.Series(dtype=object)
    )
    site_type = pairs["site_id"].map(types)
    ok = [
        service not in allowed or (isinstance(kind, str) and kind in allowed[service])
        for service, kind in zip(pairs["service_id"], site_type, strict=True)
    ]
    return pd.Series(ok, index=pairs.index, dtype=bool)


def drop_unsuitable(dataset: Dataset, scenario: Scenario, candidates: pd.DataFrame) -> pd.DataFrame:
    """``candidates`` without the (service, site) pairs whose building may not host the
    service: the one call the model builder makes."""
    return candidates[suitable(dataset, scenario, candidates).to_numpy()]


def hours_in_unsuitable_buildings(
    dataset: Dataset, scenario: Scenario, allocations: pd.DataFrame, column: str = "hours_per_week"
) -> pd.DataFrame:
    """Hours per (service, site) of ``allocations`` placed in buildings unfit for them,
    with the building type: for summaries (today's baseline) and the before/after report."""
    columns = ["service_id", "site_id", "building_type", column]
    if not len(allocations):
        return pd.DataFrame(columns=columns)
    bad = allocations[~suitable(dataset, scenario, allocations).to_numpy()]
    bad = bad[bad[column] > 0]
    premises = dataset.premises
    types = (
        premises.set_index("site_id")["building_type"]
        if "building_type" in premises.columns
        else pd.Series(dtype=object)
    )
    table = bad.groupby(["service_id", "site_id"], as_index=False)[column].sum()
    table["building_type"] = table["site_id"].map(types).fillna("")
    return table[columns].sort_values(["service_id", "site_id"]).reset_index(drop=True)
