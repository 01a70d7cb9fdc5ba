"""The model's index sets, from validated inputs: demand, room slots, allowed allocations.

Which (service, PCN, site, band) combinations may become x columns, each with its
travel, cost, headroom and today's hours; the scenario-scaled demand; and the
contract's enhanced-access targets. Pure pandas, no columns or rows yet: the
formulation is in :mod:`estates_opt.model.build`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset, opening_rooms
from estates_opt.inputs.scenario_references import pin_rule_problem
from estates_opt.inputs.suitability import allowed_building_types, drop_unsuitable
from estates_opt.scenario import Scenario
from estates_opt.schema import ENHANCED_ACCESS_BANDS, label_of


def scaled_demand(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Demand per (PCN, service) after the scenario's growth factors."""
    growth = scenario.growth
    demand = dataset.demand[["pcn_code", "service_id", "hours_per_week"]].copy()
    factor = pd.Series(growth.overall * growth.population, index=demand.index)
    if growth.by_service:
        factor *= demand["service_id"].map(growth.by_service).fillna(1.0)
    if growth.by_borough:
        borough = demand["pcn_code"].map(dataset.pcns.set_index("pcn_code")["borough"])
        factor *= borough.map(growth.by_borough).fillna(1.0)
    demand["demand_hours"] = demand["hours_per_week"] * factor
    return demand.drop(columns="hours_per_week")


def room_slots(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Every (site, room type, band) that could host movable work, with its headroom.

    ``state`` is ``open`` (in capacity.csv) or ``openable`` (in opening.csv; used
    only in opening-decision mode). ``limit_hours`` is the movable hours allowed
    under the kind's cap: ``max(0, cap * capacity - fixed)``.
    """
    kinds = dataset.premises.set_index("site_id")["kind"]
    open_ = dataset.capacity[
        ["site_id", "room_type", "band", "capacity_hours", "fixed_hours", "cost_per_hour_gbp"]
    ].copy()
    open_["state"] = "open"
    frames = [open_]
    if scenario.options.opening_decisions:
        frames.append(opening_rooms(dataset.opening, dataset.capacity).assign(state="openable"))
    slots = pd.concat(frames, ignore_index=True)
    if "open_cost_gbp_per_week" not in slots:
        slots["open_cost_gbp_per_week"] = np.nan
    slots["kind"] = slots["site_id"].map(kinds)
    slots = slots[slots["kind"].notna() & (slots["capacity_hours"] > 0)]
    caps = slots["kind"].map({k: scenario.cap(k) for k in slots["kind"].unique()})
    slots["cap"] = caps.astype(float)
    slots["limit_hours"] = np.maximum(
        0.0, slots["cap"] * slots["capacity_hours"] - slots["fixed_hours"]
    )
    return slots.sort_values(["site_id", "room_type", "band"]).reset_index(drop=True)


def _service_options(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """One row per (service, allowed band, allowed site kind) with its travel limit."""
    svc = dataset.services[
        ["service_id", "category", "room_type", "bands", "site_kinds", "max_travel_km"]
    ].copy()
    overrides = scenario.travel.max_km_by_service
    if overrides:
        svc["max_travel_km"] = svc["service_id"].map(overrides).fillna(svc["max_travel_km"])
    svc = svc.explode("bands").explode("site_kinds")
    svc = svc.rename(columns={"bands": "band", "site_kinds": "kind"})
    ea = svc["category"] == "enhanced_access"
    svc = svc[~ea | svc["band"].isin(ENHANCED_ACCESS_BANDS)]
    return svc.reset_index(drop=True)


def candidate_allocations(
    dataset: Dataset, scenario: Scenario, travel: pd.DataFrame, slots: pd.DataFrame
) -> pd.DataFrame:
    """Every allowed (service, PCN, site, band): the x columns of the LP."""
    demand = scaled_demand(dataset, scenario)
    demand = demand[demand["demand_hours"] > 0]
    options = _service_options(dataset, scenario)
    by_band = "band" in travel.columns and travel["band"].astype(str).ne("").any()
    kinds = dataset.premises.set_index("site_id")["kind"]
    travel = travel.assign(kind=travel["site_id"].map(kinds))
    baseline = dataset.baseline.groupby(
        ["service_id", "pcn_code", "site_id", "band"], as_index=False
    )["hours_per_week"].sum()
    slots = slots[["site_id", "room_type", "band", "state", "cost_per_hour_gbp", "limit_hours"]]
    demand, travel, options, slots, baseline = _coded(demand, travel, options, slots, baseline)
    pairs = demand.merge(travel, on="pcn_code")
    # No option of the service reaches further than its longest limit: drop those pairs
    # before the options multiply them (at England scale 783,650 pairs, 60% too far).
    furthest = options.groupby("service_id")["max_travel_km"].max()
    reach = pairs["service_id"].map(furthest).to_numpy(float)
    pairs = pairs[pairs["travel_km"].to_numpy(float) <= reach + 1e-9]
    cand = pairs.merge(options, on=["service_id", "kind"])
    if by_band:
        cand = cand[(cand["band_x"] == cand["band_y"]) | (cand["band_x"] == "")]
        cand = cand.drop(columns="band_x").rename(columns={"band_y": "band"})
    cand = cand[cand["travel_km"] <= cand["max_travel_km"] + 1e-9]
    cand = drop_unsuitable(dataset, scenario, cand)
    cand = cand.merge(slots, on=["site_id", "room_type", "band"])
    cand = cand.merge(
        baseline.rename(columns={"hours_per_week": "baseline_hours"}),
        on=["service_id", "pcn_code", "site_id", "band"],
        how="left",
    )
    cand["baseline_hours"] = cand["baseline_hours"].fillna(0.0)
    keep = [
        "service_id",
        "pcn_code",
        "site_id",
        "band",
        "category",
        "room_type",
        "kind",
        "state",
        "travel_km",
        "cost_per_hour_gbp",
        "limit_hours",
        "baseline_hours",
    ]
    cand = cand[keep].sort_values(["service_id", "pcn_code", "site_id", "band"], kind="stable")
    cand = cand.drop_duplicates(["service_id", "pcn_code", "site_id", "band"])
    return _decoded(cand.reset_index(drop=True))


#: The text columns candidate_allocations joins on.
_JOIN_KEYS = ("service_id", "pcn_code", "site_id", "band", "kind", "room_type")


def _coded(*frames: pd.DataFrame) -> list[pd.DataFrame]:
    """The frames with each join key as one categorical (sorted categories, shared by all):
    pandas then joins, sorts and deduplicates on integer codes. On England's 257,555
    candidates the joins on Arrow-backed text took about 0.6 s of the 0.9 s."""
    coded = list(frames)
    for key in _JOIN_KEYS:
        present = [i for i, f in enumerate(coded) if key in f.columns]
        values = [coded[i][key].to_numpy(object) for i in present]
        # one factorisation of every frame's values: codes in sorted order of the text
        codes, uniques = pd.factorize(np.concatenate(values), sort=True)
        dtype = pd.CategoricalDtype(uniques)
        bounds = np.cumsum([0, *(len(v) for v in values)])
        for i, a, b in zip(present, bounds[:-1], bounds[1:], strict=True):
            column = pd.Categorical.from_codes(codes[a:b], dtype=dtype)
            coded[i] = coded[i].assign(**{key: pd.Series(column, index=coded[i].index)})
    return coded


def _decoded(frame: pd.DataFrame) -> pd.DataFrame:
    """The categorical join keys back to text (``object``, as the joins on text gave)."""
    return frame.assign(
        **{
            key: frame[key].astype(object)
            for key in _JOIN_KEYS
            if isinstance(frame[key].dtype, pd.CategoricalDtype)
        }
    )


def own_hub_mask(dataset: Dataset, frame: pd.DataFrame) -> np.ndarray:
    """Rows of ``frame`` (pcn_code, site_id) at a PCN hub of that same PCN (premises.geojson)."""
    prem = dataset.premises
    hubs = prem.loc[prem["kind"] == "pcn_hub", ["site_id", "pcn_code"]].dropna()
    pairs = pd.MultiIndex.from_frame(hubs[["pcn_code", "site_id"]])
    return np.asarray(
        pd.MultiIndex.from_frame(frame[["pcn_code", "site_id"]]).isin(pairs), dtype=bool
    )


def why_not_candidate(
    dataset: Dataset,
    scenario: Scenario,
    travel: pd.DataFrame,
    slots: pd.DataFrame,
    slot: tuple[str, str, str, str],
) -> str:
    """Why (PCN, service, site, band) is no candidate allocation: the first of
    :func:`candidate_allocations`'s rules it fails, in words a planner can act on."""
    pcn, service, site, band = slot
    demand = scaled_demand(dataset, scenario)
    demand = demand[(demand["pcn_code"] == pcn) & (demand["service_id"] == service)]
    if not (demand["demand_hours"] > 0).any():
        return f"{pcn} has no demand for {service} (demand.csv, after the scenario's growth)"
    kind = dataset.premises.set_index("site_id")["kind"].get(site)
    rule = pin_rule_problem(dataset, service, kind, band)
    if rule is not None:
        return f"{site} ({label_of(kind)}): {rule}"
    options = _service_options(dataset, scenario)
    options = options[options["service_id"] == service]
    room = str(options["room_type"].iloc[0])
    at = slots[(slots["site_id"] == site) & (slots["room_type"] == room) & (slots["band"] == band)]
    if not len(at):
        return f"{site} has no {room} room open in the {band} band (capacity.csv)"
    near = travel[(travel["pcn_code"] == pcn) & (travel["site_id"] == site)]
    if "band" in near.columns:
        near = near[near["band"].astype(str).isin(["", band])]
    limit = float(options["max_travel_km"].max())
    if not len(near):
        if scenario.matrix_path() is not None:
            return f"the travel matrix has no distance from {pcn} to {site}"
        return f"{site} is beyond {service}'s {limit:g} km travel limit from {pcn}"
    km = float(near["travel_km"].min())
    if km > limit + 1e-9:
        return f"{site} is {km:.1f} km from {pcn}, beyond {service}'s {limit:g} km travel limit"
    pair = pd.DataFrame({"service_id": [service], "site_id": [site]})
    if not len(drop_unsuitable(dataset, scenario, pair)):
        allowed = sorted(allowed_building_types(dataset, scenario).get(service, ()))
        premises = dataset.premises.set_index("site_id")
        what = premises["building_type"].get(site) if "building_type" in premises else None
        return (
            f"{site} is a {what or 'building of unknown type'}; {service} may use "
            f"{', '.join(allowed)} (services.csv building_types, [suitability] relax)"
        )
    return "it is not among the model's candidate allocations"


def pinned_mask(cand: pd.DataFrame, scenario: Scenario) -> np.ndarray:
    """Candidate rows that are pinned slots (kept through candidate pruning)."""
    if not scenario.pinned:
        return np.zeros(len(cand), dtype=bool)
    pins = pd.MultiIndex.from_tuples(
        [(p.pcn_code, p.service_id, p.site_id, p.band) for p in scenario.pinned]
    )
    key = pd.MultiIndex.from_frame(cand[["pcn_code", "service_id", "site_id", "band"]])
    return np.asarray(key.isin(pins), dtype=bool)


def contract_targets(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Per PCN: the enhanced-access minimum of each band and the weekly total (hours/week).

    Empty when ``[contract] enhanced_access`` is off or the dataset has no
    enhanced-access service. ``patients`` is ``adjusted_patients`` where given,
    else ``registered_patients``, times the population growth factor; the total
    is rounded to 0.01 h, the precision of demand.csv.
    """
    contract = scenario.contract
    has_ea = (dataset.services["category"] == "enhanced_access").any()
    if not contract.enhanced_access or not has_ea:
        return pd.DataFrame(columns=["pcn_code", "band", "min_hours"])
    pcns = dataset.pcns
    patients = pcns["registered_patients"].astype(float)
    if "adjusted_patients" in pcns:
        patients = pcns["adjusted_patients"].astype(float).fillna(patients)
    patients = patients * scenario.growth.population
    # To 0.01 h (36 seconds), the precision of demand.csv's hours.
    total = np.round(contract.minutes_per_1000_patients / 60.0 * patients / 1000.0, 2)
    frames = [
        pd.DataFrame({"pcn_code": pcns["pcn_code"], "band": band, "min_hours": hours})
        for band, hours in contract.band_minimums().items()
    ]
    frames.append(pd.DataFrame({"pcn_code": pcns["pcn_code"], "band": "total", "min_hours": total}))
    return pd.concat(frames, ignore_index=True)
