"""opening.csv's options as capacity rows: the long shape the model and reports use.

The one place that turns the wide ``<room>_hours_if_opened`` columns of
opening.csv into one row per (site, band, room type), for the model builder,
scenario changes and the report.
"""

from __future__ import annotations

import pandas as pd

from estates_opt.schema import ROOM_TYPES


def opening_rooms(opening: pd.DataFrame, capacity: pd.DataFrame) -> pd.DataFrame:
    """opening.csv rows as capacity rows: one per (site, band, room type) with hours.

    The one place that turns the wide ``<room>_hours_if_opened`` columns into the
    long shape of capacity.csv, for the builder, scenario changes and the report.
    A row with no ``cost_per_hour_gbp`` costs what the site's open rooms cost on
    average (0 if it has none); opened rooms carry no fixed work.
    """
    columns = [
        "site_id",
        "room_type",
        "band",
        "capacity_hours",
        "fixed_hours",
        "cost_per_hour_gbp",
        "open_cost_gbp_per_week",
    ]
    if not len(opening):
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c in columns[:3] else float) for c in columns}
        )
    cost = (
        opening["cost_per_hour_gbp"].astype(float)
        if "cost_per_hour_gbp" in opening
        else pd.Series(float("nan"), index=opening.index)
    )
    site_cost = capacity.groupby("site_id")["cost_per_hour_gbp"].mean()
    cost = cost.fillna(opening["site_id"].map(site_cost)).fillna(0.0)
    parts = [
        pd.DataFrame(
            {
                "site_id": opening["site_id"],
                "room_type": room,
                "band": opening["band"],
                "capacity_hours": opening[f"{room}_hours_if_opened"].astype(float),
                "fixed_hours": 0.0,
                "cost_per_hour_gbp": cost,
                "open_cost_gbp_per_week": opening["open_cost_gbp_per_week"].astype(float),
            }
        )
        for room in ROOM_TYPES
    ]
    rooms = pd.concat(parts, ignore_index=True)
    rooms = rooms[rooms["capacity_hours"] > 0]
    return rooms.sort_values(["site_id", "band", "room_type"]).reset_index(drop=True)[columns]
