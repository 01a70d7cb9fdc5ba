"""A comparison of scenarios as a table, a byte-stable CSV and an offline HTML page."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import kind_utilisation
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
    for when in ("before", "after"):
        used = [f"{when}_hours"]
        by_band = kind_utilisation(plan.utilisation, used).set_index(["kind", "band"])
        overall = kind_utilisation(plan.utilisation, used, by_band=False).set_index("kind")
        for kind in SITE_KINDS:
            for band in (*BANDS, "all_bands"):
                share = (
                    overall["utilisation"].get(kind)
                    if band == "all_bands"
                    else by_band["utilisation"].get((kind, band))
                )
                rows[f"utilisation_{when}.{kind}.{band}"] = (
                    "fraction",
                    None if share is None or np.isnan(share) else float(share),
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
#
# The page is a Jinja2 template (Jinja2 comes with Folium), autoescaped: every name,
# path and description from a scenario file is text, never markup. Charts are SVG drawn
# by the template from numbers laid out here; nothing is fetched, no script runs.

PALETTE = ("#005eb8", "#ed8b00", "#009639", "#7c2855", "#41b6e6", "#ffb81c", "#330072", "#768692")
GOOD, BAD, NEUTRAL = "good", "bad", "neutral"

#: Headline KPIs: what a planner compares first, with a readable label.
HEADLINES = {
    "status": "Solver status",
    "objective": "Objective (all terms)",
    "objective.cost": "Room cost",
    "objective.travel": "Travel (valued)",
    "travel_km_after": "Mean travel after",
    "travel_km_after.deprived_imd_1_2": "Travel, most deprived fifth (IMD 1-2)",
    "travel_km_after.imd_gap_1_2_minus_9_10": "Travel gap, IMD 1-2 minus 9-10",
    "unmet_hours": "Unmet demand",
    "enhanced_access_all_met": "Enhanced access met everywhere",
    "hours_moved": "Hours moved",
    "buildings_used_after": "Buildings used after",
    "site_bands_opened": "Buildings opened in a new band",
}
#: Rows charted as "change against the reference" (numbers only).
CHANGE_ROWS = [k for k in HEADLINES if k not in ("status", "enhanced_access_all_met")]


def direction(key: str) -> int:
    """-1 if a lower value is better (cost, travel, unmet, gap), +1 if higher, 0 if neither."""
    if key.startswith(("objective", "unmet_hours", "travel_km")) or key == "gap":
        return -1
    if key == "enhanced_access_all_met":
        return 1
    return 0


def judge(key: str, difference: Value) -> str:
    """Whether a change against the reference is good, bad or neither, for colouring."""
    if isinstance(difference, str) or difference is None:
        return NEUTRAL
    number = _number(difference)
    sign = direction(key)
    if number is None or sign == 0 or abs(number) < 5e-5:
        return NEUTRAL
    return GOOD if number * sign > 0 else BAD


def show(value: Value, unit: str, *, change: bool = False) -> str:
    """A value for people: thousands separators, units, signs on changes (−, not -)."""
    number = _number(value)
    if number is None:
        return "" if value is None else str(value)
    sign = "+" if change and number > 0 else ("−" if number < 0 else "")
    size = abs(number)
    if unit == "GBP-eq/week":
        text = f"£{size:,.0f}/wk"
    elif unit == "hours/week":
        text = f"{size:,.1f} h/wk"
    elif unit == "km":
        text = f"{size:,.2f} km"
    elif unit == "fraction":
        text = f"{size * 100:.1f} pt" if change else f"{size:.1%}"
    elif unit == "count":
        text = f"{size:,.0f}"
    else:
        text = f"{size:,.4g}"
    return sign + text


def _label(key: str) -> str:
    return HEADLINES.get(key, key)


def _nice(value: float) -> float:
    return _nice_ceiling(value) if value > 0 else 1.0


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x a power of ten at or above ``value`` (axis maximum)."""
    if not value > 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= value - 1e-12)


def _text_px(text: str, size: float = 11) -> float:
    """Rough width (px) of a chart label in the page's sans-serif at ``size`` px."""
    return len(text) * size * 0.56


def _change_chart(table: pd.DataFrame, names: Sequence[str]) -> dict[str, Any] | None:
    """Each headline KPI's change against the reference: one scale per KPI, centred on 0."""
    others = names[1:]
    if not others:
        return None
    half, row_h, label_w = 230.0, 20, 300
    panels, y = [], 28
    for key in CHANGE_ROWS:
        if key not in table.index:
            continue
        unit = str(table.at[key, "unit"])
        diffs = [_number(table.at[key, f"{n} - {names[0]}"]) for n in others]
        if all(d is None for d in diffs):
            continue
        scale = _nice(max(abs(d) for d in diffs if d is not None))
        bars = []
        for i, (name, d) in enumerate(zip(others, diffs, strict=True)):
            if d is None:
                continue
            w = half * abs(d) / scale
            text = show(d, unit, change=True)
            # A fall's label goes left of its bar unless it would run into the measure's
            # name; then right of the zero line, where rises' labels go.
            left_of_bar = d < 0 and _text_px(f"{name} {text}") <= half - w - 8
            bars.append(
                {
                    "x": label_w + half - (w if d < 0 else 0),
                    "y": y + i * row_h,
                    "w": max(w, 1.0),
                    "text": text,
                    "tx": label_w + half + (-w - 4 if left_of_bar else (w if d >= 0 else 0) + 4),
                    "anchor": "end" if left_of_bar else "start",
                    "css": judge(key, d),
                    "name": name,
                }
            )
        height = row_h * len(others)
        panels.append(
            {
                "label": _label(key),
                "y": y,
                "h": height,
                "bars": bars,
                "scale": show(scale, unit, change=True),
                "mscale": show(-scale, unit, change=True),
            }
        )
        y += height + 22
    return {
        "width": label_w + 2 * half + 230,
        "height": y + 10,
        "panels": panels,
        "mid": label_w + half,
        "left": label_w,
        "right": label_w + 2 * half,
        "legend": [(n, PALETTE[(i + 1) % len(PALETTE)]) for i, n in enumerate(others)],
    }


def _dot_chart(
    table: pd.DataFrame, names: Sequence[str], rows: Sequence[tuple[str, str]]
) -> dict[str, Any] | None:
    """Values per scenario on an axis fitted to the data (not 0-100%), so differences show."""
    values = [
        (label, [_number(table.at[key, n]) if key in table.index else None for n in names])
        for key, label in rows
    ]
    numbers = [v for _, vs in values for v in vs if v is not None]
    if not numbers:
        return None
    low, high = min(numbers), max(numbers)
    pad = max((high - low) * 0.15, 0.01)
    low = math.floor((low - pad) * 20) / 20
    high = math.ceil((high + pad) * 20) / 20
    left, width, row_h = 170, 640, 26
    ticks = [low + (high - low) * i / 5 for i in range(6)]

    def x(v: float) -> float:
        return left + width * (v - low) / (high - low)

    lines = []
    for i, (label, vs) in enumerate(values):
        y = 30 + i * row_h
        dots = [
            {
                "x": x(v),
                "colour": PALETTE[j % len(PALETTE)],
                "name": names[j],
                "text": f"{v:.1%}",
                "ref": j == 0,
            }
            for j, v in enumerate(vs)
            if v is not None
        ]
        lines.append({"label": label, "y": y, "dots": dots})
    return {
        "width": left + width + 40,
        "height": 30 + row_h * len(values) + 30,
        "left": left,
        "right": left + width,
        "bottom": 30 + row_h * len(values) - 8,
        "ticks": [{"x": x(t), "text": f"{t:.0%}"} for t in ticks],
        "lines": lines,
    }


def _line_chart(table: pd.DataFrame, names: Sequence[str]) -> dict[str, Any] | None:
    """Mean travel after by IMD decile, one line per scenario, the axis fitted to the data."""
    deciles = list(range(1, 11))
    series = [
        [
            _number(table.at[f"travel_km_after.imd_{d}", n])
            if f"travel_km_after.imd_{d}" in table.index
            else None
            for d in deciles
        ]
        for n in names
    ]
    numbers = [v for vs in series for v in vs if v is not None]
    if not numbers:
        return None
    step = _nice(max((max(numbers) - min(numbers)) / 4, 0.05))
    low = math.floor(min(numbers) / step) * step
    high = math.ceil(max(numbers) / step) * step
    high = high if high > low else low + step
    left, top, width, height = 60, 20, 700, 220

    def px(i: int) -> float:
        return left + width * i / 9

    def py(v: float) -> float:
        return top + height - height * (v - low) / (high - low)

    ticks = []
    t = low
    while t <= high + 1e-9:
        ticks.append({"y": py(t), "text": f"{t:.2f} km"})
        t += step
    lines = []
    for j, vs in enumerate(series):
        points = [(px(i), py(v)) for i, v in enumerate(vs) if v is not None]
        lines.append(
            {
                "name": names[j],
                "colour": PALETTE[j % len(PALETTE)],
                "points": " ".join(f"{a:.1f},{b:.1f}" for a, b in points),
                "dots": [{"x": a, "y": b} for a, b in points],
            }
        )
    return {
        "width": left + width + 40,
        "height": top + height + 60,
        "left": left,
        "right": left + width,
        "top": top,
        "bottom": top + height,
        "ticks": ticks,
        "deciles": [{"x": px(i), "text": str(d)} for i, d in enumerate(deciles)],
        "lines": lines,
    }


CHARTS = """{% if change %}<h2>Change against {{ names[0] }}</h2>
<p class="note">Each measure on its own scale, centred on no change.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="{{ change.width }}" height="{{ change.height }}"
 viewBox="0 0 {{ change.width }} {{ change.height }}" role="img" aria-label="Change of each headline measure against {{ names[0] }}">
{% for p in change.panels %}
<text x="{{ change.left - 10 }}" y="{{ p.y + 13 }}" text-anchor="end" class="lbl">{{ p.label }}</text>
<line x1="{{ change.left }}" x2="{{ change.right }}" y1="{{ p.y + p.h + 2 }}" y2="{{ p.y + p.h + 2 }}" class="axis"/>
<text x="{{ change.left }}" y="{{ p.y + p.h + 14 }}" class="tick" text-anchor="middle">{{ p.mscale }}</text>
<text x="{{ change.right }}" y="{{ p.y + p.h + 14 }}" class="tick" text-anchor="middle">{{ p.scale }}</text>
{% for b in p.bars %}<rect x="{{ '%.1f' % b.x }}" y="{{ b.y + 2 }}" width="{{ '%.1f' % b.w }}" height="14" class="bar {{ b.css }}"><title>{{ b.name }}: {{ b.text }}</title></rect>
<text x="{{ '%.1f' % b.tx }}" y="{{ b.y + 13 }}" text-anchor="{{ b.anchor }}" class="val">{{ b.name }} {{ b.text }}</text>
{% endfor %}{% endfor %}
<line x1="{{ change.mid }}" x2="{{ change.mid }}" y1="20" y2="{{ change.height - 10 }}" class="zero"/>
</svg>{% endif %}
{% for title, chart in dots %}{% if chart %}<h2>{{ title }}</h2>
<svg xmlns="http://www.w3.org/2000/svg" width="{{ chart.width }}" height="{{ chart.height }}" viewBox="0 0 {{ chart.width }} {{ chart.height }}" role="img" aria-label="{{ title }}">
{% for t in chart.ticks %}<line x1="{{ '%.1f' % t.x }}" x2="{{ '%.1f' % t.x }}" y1="18" y2="{{ chart.bottom }}" class="grid"/>
<text x="{{ '%.1f' % t.x }}" y="{{ chart.bottom + 14 }}" text-anchor="middle" class="tick">{{ t.text }}</text>{% endfor %}
{% for line in chart.lines %}<text x="{{ chart.left - 10 }}" y="{{ line.y + 4 }}" text-anchor="end" class="lbl">{{ line.label }}</text>
<line x1="{{ chart.left }}" x2="{{ chart.right }}" y1="{{ line.y }}" y2="{{ line.y }}" class="row"/>
{% for d in line.dots %}<circle cx="{{ '%.1f' % d.x }}" cy="{{ line.y }}" r="{{ 7 if d.ref else 5 }}" fill="{{ 'none' if d.ref else d.colour }}" stroke="{{ d.colour }}" stroke-width="2"><title>{{ d.name }}: {{ d.text }}</title></circle>{% endfor %}
{% endfor %}</svg>
<p class="legend">{% for n in names %}<span><i style="background:{{ palette[loop.index0 % palette|length] }}"></i>{{ n }}{% if loop.first %} (reference, ring){% endif %}</span>{% endfor %}</p>
{% endif %}{% endfor %}
{% if travel %}<h2>Mean travel after by IMD decile (1 = most deprived)</h2>
<svg xmlns="http://www.w3.org/2000/svg" width="{{ travel.width }}" height="{{ travel.height }}" viewBox="0 0 {{ travel.width }} {{ travel.height }}" role="img" aria-label="Mean travel after by IMD decile">
{% for t in travel.ticks %}<line x1="{{ travel.left }}" x2="{{ travel.right }}" y1="{{ '%.1f' % t.y }}" y2="{{ '%.1f' % t.y }}" class="grid"/>
<text x="{{ travel.left - 6 }}" y="{{ '%.1f' % (t.y + 4) }}" text-anchor="end" class="tick">{{ t.text }}</text>{% endfor %}
{% for d in travel.deciles %}<text x="{{ '%.1f' % d.x }}" y="{{ travel.bottom + 16 }}" text-anchor="middle" class="tick">{{ d.text }}</text>{% endfor %}
<text x="{{ (travel.left + travel.right) / 2 }}" y="{{ travel.bottom + 34 }}" text-anchor="middle" class="lbl">IMD decile of where patients live</text>
{% for line in travel.lines %}<polyline points="{{ line.points }}" fill="none" stroke="{{ line.colour }}" stroke-width="2"><title>{{ line.name }}</title></polyline>
{% for d in line.dots %}<circle cx="{{ '%.1f' % d.x }}" cy="{{ '%.1f' % d.y }}" r="3" fill="{{ line.colour }}"/>{% endfor %}{% endfor %}
</svg>
<p class="legend">{% for line in travel.lines %}<span><i style="background:{{ line.colour }}"></i>{{ line.name }}</span>{% endfor %}</p>
{% endif %}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>estates-opt scenario comparison</title><style>{{ css }}</style></head><body>
<h1>Scenario comparison</h1>
<p class="note">The first scenario, <b>{{ names[0] }}</b>, is the reference: each change is a
scenario minus it. <span class="good">Green</span> = better (lower cost, travel, unmet demand),
<span class="bad">red</span> = worse, grey = neither better nor worse by itself. Utilisation
changes are in percentage points (pt). The same numbers, unrounded, are in comparison.csv.</p>
<h2>Scenarios</h2><ul>
{% for r in results %}<li><b>{{ r.name }}</b> ({{ r.path }}): {{ r.description }}
{% if r.error %}<b class="bad">error:</b> {{ r.error }}{% endif %}</li>
{% endfor %}</ul>
<h2>Headlines</h2>
<div class="wide"><table class="kpis"><thead><tr><th class="k">measure</th>
{% for n in names %}<th>{{ n }}</th>{% endfor %}
{% for n in names[1:] %}<th>{{ n }} vs {{ names[0] }}</th>{% endfor %}</tr></thead><tbody>
{% for row in headlines %}<tr><td class="k">{{ row.label }}</td>
{% for v in row.cells %}<td>{{ v }}</td>{% endfor %}
{% for c in row.deltas %}<td class="{{ c.css }}">{{ c.text }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>
{% include "charts" %}
<h2>All measures</h2>
<div class="wide"><table><thead><tr><th class="k">kpi</th><th>unit</th>
{% for n in names %}<th>{{ n }}</th>{% endfor %}
{% for n in names[1:] %}<th>{{ n }} vs {{ names[0] }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr{% if row.first %} class="g"{% endif %}><td class="k">{{ row.key }}</td><td class="u">{{ row.unit }}</td>
{% for v in row.cells %}<td>{{ v }}</td>{% endfor %}
{% for c in row.deltas %}<td class="{{ c.css }}">{{ c.text }}</td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>
<h2>Run times (seconds)</h2><p class="note">Times vary between runs, so they are kept out of
comparison.csv (see comparison_times.csv).</p>
<table><thead><tr><th class="k">scenario</th><th>solve</th><th>total</th></tr></thead><tbody>
{% for r in results %}<tr><td class="k">{{ r.name }}</td><td>{{ r.solve }}</td><td>{{ r.total }}</td></tr>{% endfor %}
</tbody></table>
<p class="note">Wall clock for all scenarios: {{ '%.1f' % wall }} s.</p>
</body></html>
"""

CSS = """
body{font-family:Arial,Helvetica,sans-serif;margin:24px;color:#212b32;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #d8dde0;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f0f4f5;position:sticky;top:0}
td.k,th.k{text-align:left}td.u{text-align:left;color:#4c6272}
table:not(.kpis) td.k{font-family:monospace}
.good{color:#00703c;background:#e3f2e8}.bad{color:#a4262c;background:#fbe5e6}
td.neutral{color:#4c6272}tr.g td{border-top:2px solid #768692}
span.good,span.bad{padding:0 3px;border-radius:3px}
.note{color:#4c6272;font-size:13px;max-width:900px}svg{display:block;margin:8px 0;max-width:100%;height:auto}
svg text{font-size:12px;fill:#212b32}svg .tick{font-size:11px;fill:#4c6272}
svg .val{font-size:11px}svg .axis,svg .row{stroke:#d8dde0}svg .grid{stroke:#eef0f1}
svg .zero{stroke:#212b32;stroke-width:1}
svg .bar.good{fill:#00a499}svg .bar.bad{fill:#d5281b}svg .bar.neutral{fill:#aeb7bd}
.legend span{margin-right:14px;font-size:12px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:50%}
@media (max-width:1100px){.wide{overflow-x:auto;max-width:100%}th{position:static}}
@media (max-width:760px){body{margin:12px}}
@media print{th{position:static}body{margin:0}.wide{overflow:visible}}
"""


def _seconds(value: Any) -> str:
    number = _number(value)
    return "" if number is None else f"{number:,.1f}"


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.DictLoader({"page": TEMPLATE, "charts": CHARTS}),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _charts(table: pd.DataFrame, names: Sequence[str]) -> dict[str, Any]:
    kinds = [k for k in SITE_KINDS if f"utilisation_after.{k}.weekday" in table.index]
    label = {
        "gp_practice": "GP practices",
        "pcn_hub": "PCN hubs",
        "community": "Community",
        "acute": "Acute hospitals",
    }
    dots = [
        (
            f"{title}, by kind of building",
            _dot_chart(
                table, names, [(f"utilisation_after.{k}.{band}", label.get(k, k)) for k in kinds]
            ),
        )
        for title, band in (
            ("Weekday utilisation after", "weekday"),
            ("Utilisation after, all bands", "all_bands"),
        )
    ]
    return {
        "names": list(names),
        "change": _change_chart(table, names),
        "dots": dots,
        "travel": _line_chart(table, names),
        "palette": PALETTE,
    }


def comparison_charts(table: pd.DataFrame, names: Sequence[str] | None = None) -> str:
    """The comparison page's charts alone (inline SVG in HTML), e.g. for a notebook.

    ``names``: the scenario columns, the reference first (default: every column of the
    table that is neither ``unit`` nor a difference).
    """
    if names is None:
        names = [c for c in table.columns if c != "unit" and " - " not in str(c)]
    return str(_environment().get_template("charts").render(**_charts(table, names)))


def _cells(table: pd.DataFrame, key: str, names: Sequence[str]) -> dict[str, Any]:
    unit = str(table.at[key, "unit"])
    values = [show(table.at[key, n], unit) for n in names]
    changes = []
    for name in names[1:]:
        diff = table.at[key, f"{name} - {names[0]}"]
        text = show(diff, unit, change=True) if _number(diff) is not None else str(diff or "")
        if _number(diff) is not None and abs(float(diff)) < 5e-5:
            text = "no change"
        css = judge(key, diff)
        if key == "enhanced_access_all_met" and diff == "changed":
            css = GOOD if table.at[key, name] == "yes" else BAD
        changes.append({"text": text, "css": css})
    return {"cells": values, "deltas": changes}


def comparison_html(
    table: pd.DataFrame, results: Sequence[dict[str, Any]], wall_seconds: float
) -> str:
    """The comparison as one offline HTML page: headlines, charts, every KPI, run times."""
    names = [r["name"] for r in results]
    headlines = [
        {"label": label, **_cells(table, key, names)}
        for key, label in HEADLINES.items()
        if key in table.index
    ]
    rows, previous = [], None
    for key in table.index:
        group = key.split(".")[0]
        rows.append(
            {
                "key": key,
                "unit": str(table.at[key, "unit"]),
                "first": previous is not None and group != previous,
                **_cells(table, key, names),
            }
        )
        previous = group
    people = [
        {
            "name": r["name"],
            "path": r.get("path", ""),
            "description": r.get("description", "") or "",
            "error": r.get("error", ""),
            "solve": _seconds(r.get("seconds", {}).get("solve")),
            "total": _seconds(r.get("seconds", {}).get("total")),
        }
        for r in results
    ]
    page = _environment().get_template("page")
    return str(
        page.render(
            css=CSS,
            results=people,
            headlines=headlines,
            rows=rows,
            wall=wall_seconds,
            **_charts(table, names),
        )
    )
