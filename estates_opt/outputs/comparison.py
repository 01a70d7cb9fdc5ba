"""A comparison of scenarios as a table, a byte-stable CSV and an offline HTML page."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.model.program import OBJECTIVE_TERMS
from estates_opt.outputs.files import safe_text_cells
from estates_opt.schema import BANDS, CATEGORIES, SITE_KINDS

#: Deciles counted as most and least deprived in the equity rows.
DEPRIVED, LEAST_DEPRIVED = (1, 2), (9, 10)
FLOAT_FORMAT = "{:.4f}"
COMPARISON_CSV, COMPARISON_HTML, TIMES_CSV = (
    "comparison.csv",
    "comparison.html",
    "comparison_times.csv",
)

Value = float | int | str | None


def kpi_rows(plan: Any) -> dict[str, tuple[str, Value]]:
    """A plan's KPIs as ``{row name: (unit, value)}`` in the comparison's fixed order.

    Every plan yields the same row names in the same order (``None`` where a
    value does not apply, e.g. utilisation of a band with no rooms).
    """
    k = plan.kpis
    rows: dict[str, tuple[str, Value]] = {
        "status": ("text", str(k["status"])),
        "objective": ("GBP-eq/week", k.get("objective")),
    }
    for term in OBJECTIVE_TERMS:
        rows[f"objective.{term}"] = ("GBP-eq/week", k.get("objective_terms", {}).get(term))
    rows["gap"] = ("fraction", k.get("gap"))
    rows["demand_hours"] = ("hours/week", k["demand_hours_total"])
    rows["unmet_hours"] = ("hours/week", k["unmet_hours_total"])
    for category in CATEGORIES:
        rows[f"unmet_hours.{category}"] = (
            "hours/week",
            k["unmet_hours_by_category"].get(category, 0.0),
        )
    rows["enhanced_access_all_met"] = ("yes/no", "yes" if k["enhanced_access_all_met"] else "no")
    contract = k.get("enhanced_access_contract", {})
    if contract.get("enforced"):
        for band in ("evening", "saturday", "total"):
            rows[f"enhanced_access_pcns_meeting.{band}"] = ("count", contract["pcns_meeting"][band])
        for band in ("evening", "saturday"):
            rows[f"enhanced_access_hours.{band}"] = (
                "hours/week",
                contract["hours_by_band_after"][band],
            )
    community = k.get("strategy_gap", {}).get("community_utilisation", {}).get("weekday")
    if community:
        rows["community_utilisation_gap_to_100pct.weekday"] = ("fraction", community["gap"])
    rows["hours_moved"] = ("hours/week", k["hours_moved"])
    rows["hours_in_new_slots"] = ("hours/week", k["hours_in_new_slots"])
    rows["buildings_used_before"] = ("count", int(k["buildings_used_before"]))
    rows["buildings_used_after"] = ("count", int(k["buildings_used_after"]))
    rows["buildings_newly_used"] = ("count", int(k["buildings_newly_used"]))
    rows["site_bands_opened"] = ("count", len(k.get("sites_opened", [])))
    util = plan.utilisation
    for when in ("before", "after"):
        for kind in SITE_KINDS:
            for band in (*BANDS, "all_bands"):
                frame = util[util["kind"] == kind]
                if band != "all_bands":
                    frame = frame[frame["band"] == band]
                capacity = float(frame["capacity_hours"].sum())
                used = float(frame[f"{when}_hours"].sum())
                rows[f"utilisation_{when}.{kind}.{band}"] = (
                    "fraction",
                    used / capacity if capacity > 0 else None,
                )
    rows["travel_km_before"] = ("km", k.get("travel_km_before"))
    rows["travel_km_after"] = ("km", k.get("travel_km_after"))
    by_decile = k["travel_km_by_imd_decile"]
    for decile in range(1, 11):
        rows[f"travel_km_after.imd_{decile}"] = ("km", by_decile["after"].get(str(decile)))
    population = plan.dataset.lsoas.groupby(plan.dataset.lsoas["imd_decile"].astype(int))[
        "population"
    ].sum()
    for when in ("before", "after"):
        deprived = _weighted(by_decile[when], population, DEPRIVED)
        least = _weighted(by_decile[when], population, LEAST_DEPRIVED)
        rows[f"travel_km_{when}.deprived_imd_1_2"] = ("km", deprived)
        rows[f"travel_km_{when}.least_deprived_imd_9_10"] = ("km", least)
        gap = None if deprived is None or least is None else deprived - least
        rows[f"travel_km_{when}.imd_gap_1_2_minus_9_10"] = ("km", gap)
    model = k.get("model", {})
    rows["model.variables"] = ("count", model.get("variables"))
    rows["model.constraints"] = ("count", model.get("constraints"))
    rows["model.mip"] = ("yes/no", "yes" if model.get("mip") else "no")
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


def _number(value: Value) -> float | None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _difference(first: Value, other: Value) -> Value:
    a, b = _number(first), _number(other)
    if a is not None and b is not None:
        diff = b - a
        return int(diff) if isinstance(first, int) and isinstance(other, int) else diff
    if isinstance(first, str) and isinstance(other, str):
        return "" if first == other else "changed"
    return None


def format_value(value: Value) -> str:
    """The fixed text form of one table cell (empty for missing)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return ""
        text = FLOAT_FORMAT.format(value)
        return "0.0000" if text == "-0.0000" else text
    return str(value)


def comparison_csv(table: pd.DataFrame) -> str:
    """The table as deterministic CSV text (fixed formats, LF line ends)."""
    text = table.reset_index().map(format_value)
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


# --- HTML ---------------------------------------------------------------------

PALETTE = ("#005eb8", "#ed8b00", "#009639", "#7c2855", "#41b6e6", "#ffb81c", "#330072", "#768692")

CSS = """
body{font-family:Arial,Helvetica,sans-serif;margin:24px;color:#212b32;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d8dde0;padding:3px 8px;text-align:right}
th{background:#f0f4f5;position:sticky;top:0}
td.k,th.k{text-align:left;font-family:monospace}td.u{text-align:left;color:#4c6272;white-space:nowrap}
td.pos{color:#006747}td.neg{color:#8a1538}tr.g td{border-top:2px solid #768692}
.note{color:#4c6272;font-size:13px}svg{display:block;margin:8px 0}
"""


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def bar_chart_svg(
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    percent: bool = False,
    width: int = 900,
    height: int = 320,
) -> str:
    """A grouped bar chart as a self-contained inline SVG (no scripts, no fonts to fetch)."""
    left, right, top, bottom = 56, 16, 36, 70
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vals in series for v in vals if v is not None and math.isfinite(v)]
    vmax = _nice_ceiling(max(values, default=1.0) * 1.05)
    n_cat, n_ser = max(len(categories), 1), max(len(series), 1)
    group = plot_w / n_cat
    bar = group * 0.8 / n_ser
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{_esc(title)}">',
        f"<title>{_esc(title)}</title>",
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">{_esc(title)}</text>',
    ]
    for i in range(6):
        value = vmax * i / 5
        y = top + plot_h - plot_h * i / 5
        label = f"{value:.0%}" if percent else f"{value:.2f}"
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d8dde0"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{label}</text>'
        )
    for c, category in enumerate(categories):
        x0 = left + c * group + group * 0.1
        for s, (name, vals) in enumerate(series):
            given = vals[c] if c < len(vals) else None
            if given is None or not math.isfinite(given):
                continue
            value = float(given)
            h = plot_h * max(value, 0.0) / vmax
            x, y = x0 + s * bar, top + plot_h - h
            shown = f"{value:.1%}" if percent else f"{value:.2f}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{_esc(name)}, {_esc(category)}: '
                f"{shown}</title></rect>"
            )
        parts.append(
            f'<text x="{x0 + group * 0.4:.1f}" y="{top + plot_h + 16}" font-size="11" '
            f'text-anchor="middle">{_esc(category)}</text>'
        )
    for s, (name, _) in enumerate(series):
        x = left + (s % 4) * (plot_w / 4)
        y = top + plot_h + 36 + (s // 4) * 16
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 9}" width="10" height="10" '
            f'fill="{PALETTE[s % len(PALETTE)]}"/>'
            f'<text x="{x + 14:.1f}" y="{y}" font-size="11">{_esc(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x a power of ten at or above ``value`` (axis maximum)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= value - 1e-12)


def _series(table: pd.DataFrame, names: Sequence[str], keys: Sequence[str]) -> list:
    return [
        (name, [_number(table.at[k, name]) if k in table.index else None for k in keys])
        for name in names
    ]


def comparison_html(
    table: pd.DataFrame, results: Sequence[dict[str, Any]], wall_seconds: float
) -> str:
    """The comparison as one offline HTML page: scenarios, charts, the full table, times."""
    names = [r["name"] for r in results]
    kinds = [
        k for k in SITE_KINDS if any(f"utilisation_after.{k}.weekday" == i for i in table.index)
    ]
    util_chart = bar_chart_svg(
        "Weekday utilisation after, by site kind",
        kinds,
        _series(table, names, [f"utilisation_after.{k}.weekday" for k in kinds]),
        percent=True,
    )
    util_all_chart = bar_chart_svg(
        "Utilisation after (all bands), by site kind",
        kinds,
        _series(table, names, [f"utilisation_after.{k}.all_bands" for k in kinds]),
        percent=True,
    )
    deciles = [str(d) for d in range(1, 11)]
    travel_chart = bar_chart_svg(
        "Mean travel after (km) by IMD decile (1 = most deprived)",
        deciles,
        _series(table, names, [f"travel_km_after.imd_{d}" for d in deciles]),
    )
    rows_html = []
    previous_group = None
    for key in table.index:
        group = key.split(".")[0]
        cls = ' class="g"' if previous_group is not None and group != previous_group else ""
        previous_group = group
        cells = [
            f'<td class="k">{_esc(key)}</td>',
            f'<td class="u">{_esc(table.at[key, "unit"])}</td>',
        ]
        for column in table.columns[1:]:
            value = table.at[key, column]
            css = ""
            if column not in names:
                number = _number(value)
                if number is not None and abs(number) > 5e-5:
                    css = ' class="pos"' if number > 0 else ' class="neg"'
            text = format_value(value)
            if table.at[key, "unit"] == "fraction" and _number(value) is not None:
                text = f"{float(value):.1%}" if column in names else f"{float(value) * 100:+.1f} pt"
            cells.append(f"<td{css}>{_esc(text)}</td>")
        rows_html.append(f"<tr{cls}>{''.join(cells)}</tr>")
    header = "".join(f"<th>{_esc(c)}</th>" for c in table.columns[1:])
    scen = "".join(
        f"<li><b>{_esc(r['name'])}</b> ({_esc(r['path'])}): {_esc(r.get('description', ''))}"
        + (f" <b>error:</b> {_esc(r['error'])}" if "error" in r else "")
        + "</li>"
        for r in results
    )
    times = "".join(
        f"<tr><td class='k'>{_esc(r['name'])}</td>"
        f"<td>{_esc(format_value(r.get('seconds', {}).get('solve')))}</td>"
        f"<td>{_esc(format_value(r.get('seconds', {}).get('total')))}</td></tr>"
        for r in results
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<title>estates-opt scenario comparison</title>"
        f"<style>{CSS}</style></head><body>"
        "<h1>Scenario comparison</h1>"
        f"<p class='note'>First scenario ({_esc(names[0])}) is the reference: the "
        "difference columns are each scenario minus it. Utilisation differences are in "
        "percentage points. The same table is in comparison.csv.</p>"
        f"<h2>Scenarios</h2><ul>{scen}</ul>"
        f"<h2>Charts</h2>{util_chart}{util_all_chart}{travel_chart}"
        f"<h2>All KPIs</h2><table><thead><tr><th class='k'>kpi</th><th>unit</th>{header}"
        f"</tr></thead><tbody>{''.join(rows_html)}</tbody></table>"
        "<h2>Run times (seconds)</h2><p class='note'>Times vary between runs, so they are "
        "kept out of comparison.csv (see comparison_times.csv).</p>"
        f"<table><thead><tr><th class='k'>scenario</th><th>solve</th><th>total</th></tr>"
        f"</thead><tbody>{times}</tbody></table>"
        f"<p class='note'>Wall clock for all scenarios: {wall_seconds:.1f} s.</p>"
        "</body></html>\n"
    )
