"""What holds if the assumptions are wrong: low / central / high variants and the robust core.

Demand and room costs are the two least certain inputs (the NEL room costs are
illustrative). :func:`robust_core` solves the scenario as given (central) and four
variants, one assumption at a time:

* ``demand_low`` / ``demand_high``: every demand x ``DEMAND_FACTORS`` (0.9 / 1.1), through
  ``[growth] overall`` on top of the scenario's own growth;
* ``cost_low`` / ``cost_high``: the *differences* between room costs shrunk to half or
  stretched to 1.5 times (each room-hour's cost moves towards or away from the mean cost of
  all open room-hours, never below 0), so "cheaper room" matters less or more.

A move (service, PCN, from site and band, to site and band) of the central plan is in the
**robust core** if every variant's plan makes it too; the rest depend on the assumptions.
``destination_in_all`` is the looser test a planner may care about: every variant sends
the PCN's service to the same building (from wherever, in whichever band).
Each plan is solved and verified by :func:`estates_opt.pipeline.solve`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.pipeline import solve
from estates_opt.results.plan import Plan
from estates_opt.scenario import Scenario

log = logging.getLogger(__name__)

#: Demand factors of the low and high variants.
DEMAND_FACTORS = {"demand_low": 0.9, "demand_high": 1.1}
#: How far room costs sit from their mean in the low and high variants (1 = as given).
COST_SPREADS = {"cost_low": 0.5, "cost_high": 1.5}
#: The columns that name one move.
MOVE_KEY = ["service_id", "pcn_code", "from_site_id", "from_band", "to_site_id", "to_band"]
#: A looser match: the PCN's service goes to the same building, from wherever and in
#: whichever band (a planner's "move X's diabetes clinic to health centre B").
DESTINATION_KEY = ["service_id", "pcn_code", "to_site_id"]


@dataclass(frozen=True)
class RobustCore:
    """The central plan's moves with the variants that make each, and a summary."""

    moves: pd.DataFrame
    summary: dict[str, Any]
    plans: dict[str, Plan]


def spread_costs(dataset: Dataset, spread: float) -> Dataset:
    """``dataset`` with every room cost moved to ``mean + spread x (cost - mean)`` (>= 0),
    the mean weighted by capacity hours, in capacity.csv and opening.csv alike."""
    capacity = dataset.capacity
    weights = capacity["capacity_hours"].astype(float)
    costs = capacity["cost_per_hour_gbp"].astype(float)
    mean = float((costs * weights).sum() / weights.sum()) if weights.sum() > 0 else 0.0

    def moved(values: pd.Series) -> pd.Series:
        return (mean + spread * (values.astype(float) - mean)).clip(lower=0.0).round(4)

    capacity = capacity.assign(cost_per_hour_gbp=moved(capacity["cost_per_hour_gbp"]))
    opening = dataset.opening
    if "cost_per_hour_gbp" in opening.columns and len(opening):
        given = opening["cost_per_hour_gbp"].notna()
        opening = opening.assign(
            cost_per_hour_gbp=opening["cost_per_hour_gbp"].where(
                ~given, moved(opening["cost_per_hour_gbp"].fillna(mean))
            )
        )
    return replace(dataset, capacity=capacity, opening=opening)


def variants(dataset: Dataset, scenario: Scenario) -> dict[str, tuple[Dataset, Scenario]]:
    """The central case and the four one-at-a-time variants, by name."""
    out = {"central": (dataset, scenario)}
    for name, factor in DEMAND_FACTORS.items():
        growth = scenario.growth.model_copy(update={"overall": scenario.growth.overall * factor})
        out[name] = (dataset, scenario.model_copy(update={"growth": growth}))
    for name, spread in COST_SPREADS.items():
        out[name] = (spread_costs(dataset, spread), scenario)
    return out


def robust_core(dataset: Dataset, scenario: Scenario) -> RobustCore:
    """Solve the central case and its variants; which central moves hold in all of them."""
    plans = {}
    for name, (data, variant) in variants(dataset, scenario).items():
        log.info("robust core: solving %s", name)
        plans[name] = solve(data, variant)
    central = plans["central"].moves
    moves = (
        central.groupby(MOVE_KEY, as_index=False)["hours_per_week"].sum()
        if len(central)
        else pd.DataFrame(columns=[*MOVE_KEY, "hours_per_week"])
    )
    held = pd.Series(0, index=moves.index)
    for name, plan in plans.items():
        keys = (
            set(map(tuple, plan.moves[MOVE_KEY].astype(str).to_numpy()))
            if len(plan.moves)
            else set()
        )
        present = [tuple(map(str, k)) in keys for k in moves[MOVE_KEY].to_numpy()]
        moves[f"in_{name}"] = present
        held += pd.Series(present, index=moves.index).astype(int)
    moves["variants_holding"] = held
    moves["robust"] = held == len(plans)
    destinations = [
        set(map(tuple, plan.moves[DESTINATION_KEY].astype(str).to_numpy()))
        if len(plan.moves)
        else set()
        for plan in plans.values()
    ]
    moves["destination_in_all"] = [
        all(tuple(map(str, k)) in found for found in destinations)
        for k in moves[DESTINATION_KEY].to_numpy()
    ]
    hours = float(moves["hours_per_week"].sum())
    robust_hours = float(moves.loc[moves["robust"], "hours_per_week"].sum())
    summary: dict[str, Any] = {
        "variants": list(plans),
        "status": {name: plan.status.value for name, plan in plans.items()},
        "objective_gbp_per_week": {
            name: plan.kpis.get("objective") for name, plan in plans.items()
        },
        "moves_central": len(moves),
        "moves_robust": int(moves["robust"].sum()),
        "hours_moved_central": hours,
        "hours_moved_robust": robust_hours,
        "robust_share_of_hours": robust_hours / hours if hours > 0 else 0.0,
        "moves_per_variant": {name: len(plan.moves) for name, plan in plans.items()},
        "moves_destination_in_all": int(moves["destination_in_all"].sum()),
        "hours_destination_in_all": float(
            moves.loc[moves["destination_in_all"], "hours_per_week"].sum()
        ),
        "solve_seconds": {
            name: plan.kpis.get("seconds", {}).get("solve") for name, plan in plans.items()
        },
    }
    order = moves.sort_values(["robust", "hours_per_week"], ascending=[False, False])
    return RobustCore(moves=order.reset_index(drop=True), summary=summary, plans=plans)
