"""How a plan's values read in the workbook: headers, number formats, cell values.

Each plan column gets a readable header (:data:`LABELS`) and a number format from its
name and unit; each value becomes one a cell can hold (Yes/No for true/false, JSON for
lists, no NaN), and :func:`shown_text` says about what the cell shows, for widths.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.text import escape_control, is_formula

PERCENT, HOURS, KM, POUNDS, COUNT = "0.0%", "#,##0.0", "0.00", '"£"#,##0.00', "#,##0"


#: Readable headers for the plan's column names (others are derived from the name).
LABELS = {
    "service_id": "Service ID",
    "pcn_code": "PCN code",
    "pcn_name": "PCN",
    "site_id": "Site ID",
    "from_site_id": "From site ID",
    "from_site": "From site",
    "from_band": "From band",
    "to_site_id": "To site ID",
    "to_site": "To site",
    "to_band": "To band",
    "hours_per_week": "Hours per week",
    "sessions_per_week": "Sessions per week",
    "from_travel_km": "Travel from (km)",
    "to_travel_km": "Travel to (km)",
    "why": "Why",
    "capacity_hours": "Capacity (room-hours per week)",
    "fixed_hours": "Fixed use (room-hours per week)",
    "before_hours": "Used before (room-hours per week)",
    "after_hours": "Used after (room-hours per week)",
    "before_utilisation": "Utilisation before",
    "after_utilisation": "Utilisation after",
    "cap": "Utilisation cap",
    "registered_patients": "Registered patients",
    "demand_hours": "Demand (hours per week)",
    "met_hours": "Met (hours per week)",
    "unmet_hours": "Unmet (hours per week)",
    "travel_before_km": "Travel before (km)",
    "travel_after_km": "Travel after (km)",
    "rehoused_demand_hours": "Of demand, closed buildings' fixed work (hours per week)",
    "enhanced_access_demand_hours": "Enhanced access demand (hours per week)",
    "enhanced_access_met_hours": "Enhanced access met (hours per week)",
    "hours_moved": "Hours moved per week",
    "rehoused_hours_moved": "Of hours moved, closed buildings' fixed work (hours per week)",
    "enhanced_access_evening_hours_before": "EA evening before (hours per week)",
    "enhanced_access_evening_hours": "EA evening after (hours per week)",
    "enhanced_access_saturday_hours_before": "EA Saturday before (hours per week)",
    "enhanced_access_saturday_hours": "EA Saturday after (hours per week)",
    "enhanced_access_required_hours": "EA contract total (hours per week)",
    "enhanced_access_evening_shortfall_hours": "EA evening shortfall (hours per week)",
    "enhanced_access_saturday_shortfall_hours": "EA Saturday shortfall (hours per week)",
    "enhanced_access_total_shortfall_hours": "EA total shortfall (hours per week)",
    "enhanced_access_contract_met": "EA contract met",
    "shadow_price_gbp_per_room_hour": "Saving from one more room-hour (£ per week)",
    "dual_gbp_per_movable_hour": "Dual of the capacity row (£ per movable hour per week)",
    "room_hours_before_saving": "Room-hours to add before a saving starts",
    "price_basis": "Prices are",
    "room_type": "Room type",
    "phase": "Phase",
    "relocations": "Relocations",
    "new_relocations": "New relocations",
    "over_cap_hours_relieved": "Over-cap hours relieved (per week)",
    "over_cap_share_relieved": "Share of today's over-cap hours relieved (today in whole sessions)",
    "plan_relief_share": "Share of the plan's relief",
    "community_weekday_utilisation": "Community weekday utilisation",
    "gp_practice_weekday_utilisation": "GP practice weekday utilisation",
    "mean_clinic_travel_km": "Travel per clinic hour (km; hours-weighted, not the Summary's per person)",
    "room_cost_change_gbp_per_week": "Room cost change (£ per week)",
}


def number_format(column: str) -> str | None:
    """The Excel number format for a plan column, from its name and unit."""
    if column.endswith("utilisation") or column in (
        "cap",
        "over_cap_share_relieved",
        "plan_relief_share",
    ):
        return PERCENT
    if ("gbp" in column or "price" in column) and column != "price_basis":
        return POUNDS
    if column.endswith("_km"):
        return KM
    if "hours" in column or "sessions" in column:
        return HOURS
    if column in ("registered_patients", "population"):
        return COUNT
    return None


#: How a true/false value reads in the workbook: words a person reads (a boolean cell
#: shows TRUE/FALSE), kept as text so a filter lists them as they are shown.
#: The CSV files keep true/false for programs.
YES_NO = {True: "Yes", False: "No"}


def plain_value(value: Any) -> Any:
    """A value a cell can hold: Python scalars, no NaN, JSON for containers, Yes/No for
    true/false."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return YES_NO[value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple | dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        # XML cannot hold most control characters: write them out as \xNN.
        return escape_control(value, keep="\t\n\r")
    return value


def column_label(column: str) -> str:
    """A plan column's readable header: from :data:`LABELS`, else made from its name."""
    return LABELS.get(column, column.replace("_", " ").capitalize())


def shown_text(value: Any, fmt: str | None) -> str:
    """About the text a cell shows for ``value`` in number format ``fmt`` (for widths)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)[:60]
    if fmt == PERCENT:
        return f"{value:.1%}"
    if fmt == POUNDS:
        return f"£{value:,.2f}"
    if fmt == COUNT:
        return f"{value:,.0f}"
    if fmt == HOURS:
        return f"{value:,.1f}"
    if fmt == KM:
        return f"{value:.2f}"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def safe_text(cell: Any) -> None:
    """Make a spreadsheet cell object that looks like a formula plain text (quote prefix).

    For callers that edit a written workbook with openpyxl; the writer here does
    the same for every text cell it writes.
    """
    if is_formula(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
