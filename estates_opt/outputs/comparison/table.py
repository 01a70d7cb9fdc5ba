"""The comparison's numbers: each plan's KPIs as rows, the scenarios side by side, the CSV files.

The HTML page (:mod:`.page`) and its charts (:mod:`.charts`) are drawn from the table
made here; this module decides what is compared and how each value is written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import kind_utilisation
from estates_opt.model.program import OBJECTIVE_TERMS
from estates_opt.outputs.files import safe_text_cells
from estates_opt.results.kpis import KPI_FIELDS
from estates_opt.schema import BANDS, CATEGORIES, REHOUSED_CATEGORY, SITE_KINDS

#: Deciles counted as most and least deprived in the equity rows.
DEPRIVED, LEAST_DEPRIVED = (1, 2), (9, 10)
COMPARISON_CSV, COMPARISON_HTML, TIMES_CSV, LONG_CSV = (
    "comparison.csv",
    "comparison.html",
    "comparison_times.csv",
    "comparison_long.csv",
)
#: The files a comparison writes in its output folder (no scenario may be named like one).
COMPARISON_FILES = (COMPARISON_CSV, COMPARISON_HTML, TIMES_CSV, LONG_CSV)

Value = float | int | str | None


def _unit(key: str) -> str:
    """The unit :data:`~estates_opt.results.kpis.KPI_FIELDS` declares for a kpis.json key."""
    return KPI_FIELDS[key].unit


def kpi_rows(plan: Any) -> dict[str, tuple[str, Value]]:
    """A plan's KPIs as ``{row name: (unit, value)}`` in the comparison's fixed order.

    Every plan yields the same row names in the same order (``None`` where a
    value does not apply, e.g. utilisation of a band with no rooms). A row's unit is
    the one its kpis.json key declares; rows read from inside a nested record (the
    contract, the strategy gap, the model's size) or counting a list name their own.
    """
    k = plan.kpis
    rows: dict[str, tuple[str, Value]] = {
        "status": (_unit("status"), str(k["status"])),
        "objective": (_unit("objective"), k.get("objective")),
    }
    for term in OBJECTIVE_TERMS:
        rows[f"objective.{term}"] = (
            _unit("objective_terms"),
            k.get("objective_terms", {}).get(term),
        )
    rows["gap"] = (_unit("gap"), k.get("gap"))
    rows["best_bound"] = (_unit("best_bound"), k.get("best_bound"))
    rows["demand_hours"] = (_unit("demand_hours_total"), k["demand_hours_total"])
    rows["unmet_hours"] = (_unit("unmet_hours_total"), k["unmet_hours_total"])
    for category in (*CATEGORIES, REHOUSED_CATEGORY):  # a closure's fixed work too
        rows[f"unmet_hours.{category}"] = (
            _unit("unmet_hours_by_category"),
            k["unmet_hours_by_category"].get(category, 0.0),
        )
    rows["enhanced_access_all_met"] = (
        _unit("enhanced_access_all_met"),
        "yes" if k["enhanced_access_all_met"] else "no",
    )
    rows.update(_contract_rows(k))
    for key in ("hours_moved", "hours_in_new_slots"):
        rows[key] = (_unit(key), k[key])
    if "hours_stopped" in k:  # older plan folders lack it
        rows["hours_stopped"] = (_unit("hours_stopped"), k["hours_stopped"])
    rows.update(_movement_rows(k))
    for key in ("buildings_used_before", "buildings_used_after", "buildings_newly_used"):
        rows[key] = (_unit(key), int(k[key]))
    rows["site_bands_opened"] = ("count", len(k.get("sites_opened", [])))
    rows.update(_utilisation_rows(plan))
    rows.update(_travel_rows(plan))
    model = k.get("model", {})
    rows["model.variables"] = ("count", model.get("variables"))
    rows["model.constraints"] = ("count", model.get("constraints"))
    rows["model.mip"] = ("yes/no", "yes" if model.get("mip") else "no")
    rows["verified"] = (_unit("verified"), _yes_no(k.get("verified")))
    return rows


#: kpis.json keys on how much a plan disrupts, against the least any plan needs.
MOVEMENT_KEYS = (
    "hours_leaving_today_slots",
    "least_movement_hours",
    "movement_ratio_to_least",
    "relocations",
    "relocations_under_one_session",
    "least_relocations",
    "relocation_ratio_to_least",
)


def _movement_rows(k: Any) -> dict[str, tuple[str, Value]]:
    """Relocations and movement against their least: what a planner weighs a plan by.

    ``None`` where a plan has no such figure (an LP has no least relocations).
    """
    return {key: (_unit(key), k.get(key)) for key in MOVEMENT_KEYS}


def _yes_no(value: Any) -> str | None:
    return None if value is None else ("yes" if value else "no")


def _contract_rows(k: Any) -> dict[str, tuple[str, Value]]:
    """The enhanced-access contract's rows (when enforced) and the community utilisation gap."""
    rows: dict[str, tuple[str, Value]] = {}
    contract = k.get("enhanced_access_contract", {})
    if contract.get("enforced"):
        for band in ("evening", "saturday", "total"):
            rows[f"enhanced_access_pcns_meeting.{band}"] = ("count", contract["pcns_meeting"][band])
        for band in ("evening", "saturday"):
            rows[f"enhanced_access_hours.{band}"] = (
                "hours/week",
                contract["hours_by_band_after"][band],
            )
    hub = k.get("own_hub")
    if hub:  # older plan folders lack it
        rows["pcns_meeting_own_hub_minimum"] = ("count", hub["pcns_meeting"])
    community = k.get("strategy_gap", {}).get("community_utilisation", {}).get("weekday")
    if community:
        rows["community_utilisation_gap_to_100pct.weekday"] = ("fraction", community["gap"])
        if "reachable" in community:
            rows["community_utilisation_reachable.weekday"] = ("fraction", community["reachable"])
    aim = k.get("strategy_gap", {}).get("community_aim")
    if aim:
        rows["community_aim_shortfall.weekday"] = ("hours/week", aim["shortfall_hours"])
    return rows


def _utilisation_rows(plan: Any) -> dict[str, tuple[str, Value]]:
    """Utilisation before and after by kind of site, per band and over all bands.

    The weekday and all-band shares are kpis.json's own (summing the table again in
    another order can change a float's last digit); the other bands, which kpis.json
    does not list, come from the utilisation table.
    """
    rows: dict[str, tuple[str, Value]] = {}
    for when in ("before", "after"):
        used = [f"{when}_hours"]
        by_band = kind_utilisation(plan.utilisation, used).set_index(["kind", "band"])
        overall = kind_utilisation(plan.utilisation, used, by_band=False).set_index("kind")
        listed = plan.kpis.get(f"utilisation_{when}", {})
        for kind in SITE_KINDS:
            for band in (*BANDS, "all_bands"):
                share = (
                    overall["utilisation"].get(kind)
                    if band == "all_bands"
                    else by_band["utilisation"].get((kind, band))
                )
                share = listed.get(band, {}).get(kind, share)
                rows[f"utilisation_{when}.{kind}.{band}"] = (
                    _unit(f"utilisation_{when}"),
                    None if share is None or np.isnan(share) else float(share),
                )
    return rows


def _travel_rows(plan: Any) -> dict[str, tuple[str, Value]]:
    """Mean travel before and after, by IMD decile, and the most against the least deprived."""
    k = plan.kpis
    rows: dict[str, tuple[str, Value]] = {
        "travel_km_before": (_unit("travel_km_before"), k.get("travel_km_before")),
        "travel_km_after": (_unit("travel_km_after"), k.get("travel_km_after")),
    }
    by_decile = k["travel_km_by_imd_decile"]
    km = _unit("travel_km_by_imd_decile")
    for decile in range(1, 11):
        rows[f"travel_km_after.imd_{decile}"] = (km, by_decile["after"].get(str(decile)))
    population = plan.dataset.lsoas.groupby(plan.dataset.lsoas["imd_decile"].astype(int))[
        "population"
    ].sum()
    for when in ("before", "after"):
        deprived = _weighted(by_decile[when], population, DEPRIVED)
        least = _weighted(by_decile[when], population, LEAST_DEPRIVED)
        rows[f"travel_km_{when}.deprived_imd_1_2"] = (km, deprived)
        rows[f"travel_km_{when}.least_deprived_imd_9_10"] = (km, least)
        gap = None if deprived is None or least is None else deprived - least
        rows[f"travel_km_{when}.imd_gap_1_2_minus_9_10"] = (km, gap)
    return rows


def _weighted(
    by_decile: dict[str, float], population: pd.Series, deciles: tuple[int, ...]
) -> float | None:
    pairs = [
        (by_decile[str(d)], float(population.get(d, 0.0)))
        for d in deciles
        if str(d) in by_decile and by_decile[str(d)] is not None
    ]
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None
    return sum(v * w for v, w in pairs) / total


def comparison_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per KPI (fixed order), one column per scenario, then differences."""
    names = [r["name"] for r in results]
    order: dict[str, str] = {}
    for result in results:
        for key, (unit, _value) in result.get("kpis", {"status": ("text", "")}).items():
            order.setdefault(key, unit)
    if any("error" in r for r in results):
        order["error"] = "text"
    data: dict[str, list[Value]] = {"unit": list(order.values())}
    for result in results:
        kpis = result.get("kpis", {})
        column: list[Value] = []
        for key in order:
            if key == "status" and "error" in result:
                column.append("error")
            elif key == "error":
                column.append(result.get("error", "").splitlines()[0] if "error" in result else "")
            else:
                column.append(kpis.get(key, ("", None))[1])
        data[result["name"]] = column
    for name in names[1:]:
        data[f"{name} - {names[0]}"] = [
            _difference(a, b) for a, b in zip(data[names[0]], data[name], strict=True)
        ]
    table = pd.DataFrame(data, index=pd.Index(list(order), name="kpi"), dtype=object)
    # A utilisation row no scenario has (a kind never open in a band) says nothing: drop it.
    empty = table[names].map(lambda v: v is None).all(axis=1)
    empty &= table.index.str.startswith("utilisation_")
    return table[~empty.to_numpy()]


def finite_number(value: Value) -> float | None:
    """A value as a finite float, or None for text, yes/no, missing and NaN or infinity."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _difference(first: Value, other: Value) -> Value:
    a, b = finite_number(first), finite_number(other)
    if a is not None and b is not None:
        diff = b - a
        return int(diff) if isinstance(first, int) and isinstance(other, int) else diff
    if isinstance(first, str) and isinstance(other, str):
        return "" if first == other else "changed"
    return None


def format_value(value: Value) -> str:
    """The fixed text form of one table cell (empty for missing).

    A float is written in full (the shortest text that reads back as the same float, as
    kpis.json writes it), so a figure read from the CSV equals the plan's own, exactly.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return ""
        return "0.0" if value == 0 else repr(float(value))
    return str(value)


def comparison_csv(table: pd.DataFrame) -> str:
    """The table as deterministic CSV text (fixed formats, LF line ends)."""
    text = table.reset_index().map(format_value)
    return safe_text_cells(text).to_csv(index=False, lineterminator="\n")


def comparison_long(table: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """The table in long form: one row per scenario and KPI, in the table's order.

    A scenario column of the wide table holds text (status) and numbers together, so a
    reader such as pandas or R loads every number in it as text; here ``value`` holds
    the numbers only and ``text`` the text (status, yes/no, an error), one of them empty.
    """
    rows = []
    for name in names:
        for kpi in table.index:
            cell = table.at[kpi, name]
            number = cell if finite_number(cell) is not None else None
            text = cell if isinstance(cell, str) else None
            rows.append([name, kpi, table.at[kpi, "unit"], number, text])
    return pd.DataFrame(rows, columns=["scenario", "kpi", "unit", "value", "text"], dtype=object)


def comparison_long_csv(table: pd.DataFrame, names: Sequence[str]) -> str:
    """:func:`comparison_long` as deterministic CSV text, numbers as in comparison.csv."""
    text = comparison_long(table, names).map(format_value)
    return safe_text_cells(text).to_csv(index=False, lineterminator="\n")


def times_csv(results: Sequence[dict[str, Any]], wall_seconds: float) -> str:
    """Each run's stage times in seconds (not deterministic, hence a separate file)."""
    stages = ["read", "travel", "build", "pulp_build", "solve", "explain", "verify", "total"]
    rows = [
        {"scenario": r["name"], **{s: r.get("seconds", {}).get(s) for s in stages}} for r in results
    ]
    rows.append({"scenario": "(all, wall clock)", "total": round(wall_seconds, 3)})
    return safe_text_cells(pd.DataFrame(rows, columns=["scenario", *stages])).to_csv(
        index=False, float_format="%.3f", lineterminator="\n"
    )
