"""Cheap arithmetic before and after the solver: why a model has no plan."""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.program import LinearProgram
from estates_opt.model.propagation import pin_conflict
from estates_opt.scenario import Scenario
from estates_opt.scenario.relocation import PIN_SLOT
from estates_opt.schema import label_of


def diagnose(
    dataset: Dataset,
    scenario: Scenario,
    demand: pd.DataFrame,
    cand: pd.DataFrame,
    slots: pd.DataFrame,
) -> list[str]:
    """Arithmetic, before solving: demand that cannot be met and why."""
    notes: list[str] = []
    # Plain dicts: a pandas lookup per (service, PCN) took a second at national scale.
    rules = dataset.services.set_index("service_id").to_dict(orient="index")
    # each candidate carries its room's free hours (limit_hours, from the slots)
    per = cand.drop_duplicates(["service_id", "pcn_code", "site_id", "room_type", "band"])
    room = per.groupby(["service_id", "pcn_code"])["limit_hours"].sum().to_dict()
    for service, pcn, hours in demand[["service_id", "pcn_code", "demand_hours"]].itertuples(
        index=False
    ):
        svc = rules[service]
        limit_km = scenario.travel.max_km_by_service.get(service, svc["max_travel_km"])
        if (service, pcn) not in room:
            notes.append(
                f"{pcn} {service}: no {svc['room_type']} room of an allowed site kind "
                f"({', '.join(svc['site_kinds'])}) is open within {limit_km:g} km in "
                f"an allowed band ({', '.join(svc['bands'])}); all {hours:.1f} h/week will be unmet."
            )
        elif room[(service, pcn)] + 1e-6 < hours:
            notes.append(
                f"{pcn} {service}: reachable {svc['room_type']} rooms have only "
                f"{room[(service, pcn)]:.1f} h/week free under the caps for {hours:.1f} h/week "
                "of demand, even before other PCNs compete for them."
            )
    over = slots[
        (slots["state"] == "open")
        & (slots["fixed_hours"] > slots["cap"] * slots["capacity_hours"] + 1e-9)
    ]
    if len(over):
        kinds = over.groupby("kind").size().to_dict()
        notes.append(
            f"{len(over)} room slots already exceed their utilisation cap with fixed work alone "
            f"({', '.join(f'{label_of(k)}: {v}' for k, v in sorted(kinds.items()))});"
            " they take no movable work."
        )
    return notes


def pin_problems(lp: LinearProgram, scenario: Scenario) -> list[str]:
    """Pinned allocations that cannot all hold, by arithmetic before solving.

    Pins are lower bounds, so pins above a room's free hours, above the PCN's
    demand (LP mode, where demand is met exactly) or above the move budget make
    the model infeasible; the solver would only say "infeasible", this says why.
    """
    if not scenario.pinned:
        return []
    whole = scenario.options.whole_sessions
    keys = list(PIN_SLOT)
    x = lp.columns[lp.columns["family"] == "x"]
    # whole sessions: a slot's kept and added parts are one allocation
    x = x.assign(baseline_hours=x.groupby(keys)["baseline_hours"].transform("max"))
    x = x.drop_duplicates(keys).set_index(keys)
    rows = []
    for i, pin in enumerate(scenario.pinned):
        key = pin.slot
        if key not in x.index:
            continue  # no allowed allocation: lp.unplaced_pins says why
        column = x.loc[key]
        unit = float(column["hours_per_unit"])
        hours = np.ceil(pin.hours_per_week / unit - 1e-9) * unit if whole else pin.hours_per_week
        rows.append(
            (f"pinned[{i}]", *key, column["room_type"], hours, column["baseline_hours"] > 0, unit)
        )
    pins = pd.DataFrame(rows, columns=["pin", *keys, "room_type", "hours", "today", "unit"])
    slots = lp.slots.drop_duplicates(["site_id", "room_type", "band"])
    slots = slots.set_index(["site_id", "room_type", "band"])
    problems = []
    for (site, room, band), group in pins.groupby(["site_id", "room_type", "band"], sort=True):
        slot = slots.loc[(site, room, band)]
        free = (
            slot["limit_hours"] if slot["state"] == "open" else slot["cap"] * slot["capacity_hours"]
        )
        if group["hours"].sum() > free + 1e-6:
            problems.append(
                f"{', '.join(group['pin'])}: {group['hours'].sum():g} h/week pinned in {room} "
                f"rooms at {site} ({band}), but only {free:.1f} h/week are free there under the "
                f"{slot['cap']:.0%} cap; lower hours_per_week or raise caps.{slot['kind']}"
            )
    demand = lp.demand.set_index(["pcn_code", "service_id"])["demand_hours"]
    for (pcn, service), group in pins.groupby(["pcn_code", "service_id"], sort=True):
        need = float(demand.get((pcn, service), 0.0))
        # with whole sessions a clinic may round up by less than one session
        slack = float(group["unit"].max()) - 1e-6 if whole else 0.0
        if group["hours"].sum() > need + slack + 1e-6:
            problems.append(
                f"{', '.join(group['pin'])}: {group['hours'].sum():g} h/week of {service} "
                f"pinned for {pcn}, more than its demand of {need:.1f} h/week; lower "
                "hours_per_week"
            )
    budget = scenario.options.move_budget_hours
    moved = pins.loc[~pins["today"].astype(bool), "hours"].sum()
    if budget is not None and moved > budget + 1e-6:
        problems.append(
            f"pinned: {moved:g} h/week pinned in slots the PCNs do not use today, more than "
            f"options.move_budget_hours = {budget:g}; raise the budget or remove pins"
        )
    problems = [*lp.unplaced_pins, *problems]
    return problems or _propagated(lp, scenario)


def _propagated(lp: LinearProgram, scenario: Scenario) -> list[str]:
    """Pins that break a row only together with the links between rows (bound propagation):
    e.g. two pins in two buildings for one clinic limited to one."""
    conflict = pin_conflict(lp)
    if conflict is None:
        return []
    blamed = lp.columns.iloc[list(conflict.pinned_columns)][list(PIN_SLOT)]
    ids = set(map(tuple, blamed.to_numpy()))
    names = [f"pinned[{i}]" for i, pin in enumerate(scenario.pinned) if pin.slot in ids]
    who = ", ".join(names) or "the pins"
    if conflict.row < 0:
        return [f"{who} cannot all hold together; remove one of them"]
    row = lp.rows.iloc[conflict.row]
    family = row["family"]
    need, allowed = conflict.least, conflict.allowed
    if family == "clinic_buildings":
        limit = scenario.relocation.max_buildings_per_clinic
        return [
            f"{who}: pin {row['service_id']} for {row['pcn_code']} in {need:g} buildings "
            f"(a new building counts once per band), but the clinic may use at most "
            f"{allowed:g} (relocation.max_buildings_per_clinic = {limit}, or today's count "
            "if more); raise the limit or remove a pin"
        ]
    if family == "specialty_sites":
        limit = scenario.relocation.max_sites_per_specialty_per_borough
        borough = row.get("borough")
        return [
            f"{who}: pin {row['service_id']} at {need:g} sites"
            f"{f' in {borough}' if isinstance(borough, str) and borough else ''}, more than "
            f"relocation.max_sites_per_specialty_per_borough = {limit}; raise the limit "
            "or remove a pin"
        ]
    ids_text = ", ".join(
        f"{k} {row[k]}"
        for k in ("service_id", "pcn_code", "site_id", "room_type", "band")
        if k in row and isinstance(row[k], str)
    )
    where = f" ({ids_text})" if ids_text else ""
    if conflict.sense > 0:
        need_text = f"together they need {need:g} in the {family} constraint{where}, which "
        need_text += f"allows at most {allowed:g}"
    else:
        need_text = f"together they leave at most {need:g} for the {family} constraint{where}, "
        need_text += f"which needs at least {allowed:g}"
    return [f"{who} cannot all hold: {need_text}; lower hours_per_week or remove a pin"]
