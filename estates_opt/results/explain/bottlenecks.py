"""bottlenecks.csv: the binding capacity rows and what one more room-hour there is worth.

Read from the capacity rows' duals of the solve; a MIP's duals come from the LP
with its integer decisions fixed (see :data:`PRICE_BASIS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult
from estates_opt.schema import SESSION_HOURS

#: What the price columns of bottlenecks.csv are the duals of.
PRICE_BASIS = {
    False: "LP duals",
    True: "duals of the LP with the opening decisions fixed at the plan's and whole sessions "
    "relaxed (MIP)",
}


def bottleneck_table(
    dataset: Dataset, lp: LinearProgram, result: SolveResult, utilisation: pd.DataFrame
) -> pd.DataFrame:
    """Binding capacity rows and what one more room-hour there is worth (GBP/week).

    In a whole-session plan, only rooms the plan leaves less than a session free.

    A capacity row bounds movable hours by ``cap * capacity - fixed``, so one more
    room-hour of capacity adds ``cap`` movable hours: the saving is ``cap`` times
    the row's dual (``dual_gbp_per_movable_hour``, also the saving from freeing one
    hour of fixed work). Where fixed work alone exceeds the cap the row's bound is
    0 whatever one room-hour adds, so the saving is 0 until
    ``room_hours_before_saving = fixed / cap - capacity`` room-hours are added.
    """
    columns = [
        "site_id",
        "name",
        "kind",
        "room_type",
        "band",
        "capacity_hours",
        "cap",
        "after_hours",
        "after_utilisation",
        "shadow_price_gbp_per_room_hour",
        "dual_gbp_per_movable_hour",
        "fixed_hours",
        "room_hours_before_saving",
        "price_basis",
    ]
    if result.duals is None:
        return pd.DataFrame(columns=columns)
    rows = lp.rows.assign(dual=result.duals)
    cap_rows = rows[(rows["family"] == "capacity") & (rows["dual"] < -1e-7)].copy()
    table = cap_rows.merge(utilisation, on=["site_id", "room_type", "band"], how="left")
    table = table.dropna(subset=["capacity_hours"])  # an openable room the plan left shut
    if "part" in lp.columns:
        # A whole-session plan's prices are its relaxation's, which fills rooms the plan
        # leaves a session or more short of the cap: only a room with no whole session
        # free binds the plan itself (NEL: 97 of 729 priced rooms had one free).
        free = table["cap"] * table["capacity_hours"] - table["after_hours"]
        table = table[(free < table["band"].map(SESSION_HOURS) - 1e-6).to_numpy()]
    dual = -table["dual"].to_numpy(float)
    cap = table["cap"].to_numpy(float)
    over = np.maximum(table["fixed_hours"].to_numpy(float) / cap - table["capacity_hours"], 0.0)
    table["dual_gbp_per_movable_hour"] = dual
    table["room_hours_before_saving"] = np.where(over > 1e-9, over, 0.0)
    table["shadow_price_gbp_per_room_hour"] = np.where(over > 1e-9, 0.0, cap * dual)
    table["price_basis"] = PRICE_BASIS[bool(lp.is_mip)]
    table = table.sort_values(
        ["shadow_price_gbp_per_room_hour", "dual_gbp_per_movable_hour", "site_id"],
        ascending=[False, False, True],
    )
    return table[columns].reset_index(drop=True)
