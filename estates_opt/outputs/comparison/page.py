"""The comparison as one offline HTML page: headlines, charts, every KPI, run times.

The page is a Jinja2 template (Jinja2 comes with Folium), autoescaped: every name,
path and description from a scenario file is text, never markup. Charts are SVG drawn
by the template from numbers laid out in :mod:`.charts`; nothing is fetched, no script runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from estates_opt.outputs.comparison.charts import (
    BAD,
    GOOD,
    HEADLINES,
    chart_data,
    judge,
    show,
)
from estates_opt.outputs.comparison.table import finite_number

#: The charts (also shown alone, e.g. in a notebook): SVG from :func:`.charts.chart_data`.
CHARTS = """{% if change %}<h2>Change against {{ names[0] }}</h2>
<p class="note">Each measure on its own scale, centred on no change.</p>
<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" width="{{ change.width }}" height="{{ change.height }}"
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
</svg></div>{% endif %}
{% for title, chart in dots %}{% if chart %}<h2>{{ title }}</h2>
<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" width="{{ chart.width }}" height="{{ chart.height }}" viewBox="0 0 {{ chart.width }} {{ chart.height }}" role="img" aria-label="{{ title }}">
{% for t in chart.ticks %}<line x1="{{ '%.1f' % t.x }}" x2="{{ '%.1f' % t.x }}" y1="18" y2="{{ chart.bottom }}" class="grid"/>
<text x="{{ '%.1f' % t.x }}" y="{{ chart.bottom + 14 }}" text-anchor="middle" class="tick">{{ t.text }}</text>{% endfor %}
{% for line in chart.lines %}<text x="{{ chart.left - 10 }}" y="{{ line.y + 4 }}" text-anchor="end" class="lbl">{{ line.label }}</text>
<line x1="{{ chart.left }}" x2="{{ chart.right }}" y1="{{ line.y }}" y2="{{ line.y }}" class="row"/>
{% for d in line.dots %}<circle cx="{{ '%.1f' % d.x }}" cy="{{ line.y }}" r="{{ 7 if d.ref else 5 }}" fill="{{ 'none' if d.ref else d.colour }}" stroke="{{ d.colour }}" stroke-width="2"><title>{{ d.name }}: {{ d.text }}</title></circle>{% endfor %}
{% endfor %}</svg></div>
<p class="legend">{% for n in names %}<span><i style="background:{{ palette[loop.index0 % palette|length] }}"></i>{{ n }}{% if loop.first %} (reference, ring){% endif %}</span>{% endfor %}</p>
{% endif %}{% endfor %}
{% if travel %}<h2>Mean travel after by IMD decile (1 = most deprived)</h2>
<div class="chart"><svg xmlns="http://www.w3.org/2000/svg" width="{{ travel.width }}" height="{{ travel.height }}" viewBox="0 0 {{ travel.width }} {{ travel.height }}" role="img" aria-label="Mean travel after by IMD decile">
{% for t in travel.ticks %}<line x1="{{ travel.left }}" x2="{{ travel.right }}" y1="{{ '%.1f' % t.y }}" y2="{{ '%.1f' % t.y }}" class="grid"/>
<text x="{{ travel.left - 6 }}" y="{{ '%.1f' % (t.y + 4) }}" text-anchor="end" class="tick">{{ t.text }}</text>{% endfor %}
{% for d in travel.deciles %}<text x="{{ '%.1f' % d.x }}" y="{{ travel.bottom + 16 }}" text-anchor="middle" class="tick">{{ d.text }}</text>{% endfor %}
<text x="{{ (travel.left + travel.right) / 2 }}" y="{{ travel.bottom + 34 }}" text-anchor="middle" class="lbl">IMD decile of where patients live</text>
{% for line in travel.lines %}<polyline points="{{ line.points }}" fill="none" stroke="{{ line.colour }}" stroke-width="2"><title>{{ line.name }}</title></polyline>
{% for d in line.dots %}<circle cx="{{ '%.1f' % d.x }}" cy="{{ '%.1f' % d.y }}" r="3" fill="{{ line.colour }}"/>{% endfor %}{% endfor %}
</svg></div>
<p class="legend">{% for line in travel.lines %}<span><i style="background:{{ line.colour }}"></i>{{ line.name }}</span>{% endfor %}</p>
{% endif %}
"""

#: The whole page: scenarios, headlines, the charts, every KPI and the run times.
TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>estates-opt scenario comparison</title><style>{{ css }}</style></head><body>
<h1>Scenario comparison</h1>
<p class="note">The first scenario, <b>{{ names[0] }}</b>, is the reference: each change is a
scenario minus it. <span class="good">Green</span> = better (lower cost, travel, unmet demand),
<span class="bad">red</span> = worse, grey = neither better nor worse by itself. Utilisation
changes are in percentage points (pt). The same numbers, unrounded, are in comparison.csv
(one column per scenario) and comparison_long.csv (one row per scenario and measure).</p>
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
table{border-collapse:separate;border-spacing:0;font-size:13px}
th,td{border:1px solid #d8dde0;border-width:0 1px 1px 0;padding:3px 8px;text-align:right;
white-space:nowrap;background:#fff}
tr>:first-child{border-left-width:1px}thead th{border-top-width:1px}
th{background:#f0f4f5;position:sticky;top:0;z-index:2}
td.k,th.k{text-align:left;position:sticky;left:0;z-index:1}th.k{z-index:3}
td.u{text-align:left;color:#4c6272}
table:not(.kpis) td.k{font-family:monospace}
td.good,.good{color:#00703c;background:#e3f2e8}td.bad,.bad{color:#a4262c;background:#fbe5e6}
td.neutral{color:#4c6272}tr.g td{border-top:2px solid #768692}
span.good,span.bad{padding:0 3px;border-radius:3px}
.note{color:#4c6272;font-size:13px;max-width:900px}
.wide{overflow:auto;max-width:100%;max-height:85vh}
.chart{overflow-x:auto;max-width:100%}
svg{display:block;margin:8px 0;max-width:100%;height:auto}
svg text{font-size:12px;fill:#212b32}svg .tick{font-size:11px;fill:#4c6272}
svg .val{font-size:11px}svg .axis,svg .row{stroke:#d8dde0}svg .grid{stroke:#eef0f1}
svg .zero{stroke:#212b32;stroke-width:1}
svg .bar.good{fill:#00a499}svg .bar.bad{fill:#d5281b}svg .bar.neutral{fill:#aeb7bd}
.legend span{margin-right:14px;font-size:12px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:50%}
@media (max-width:760px){body{margin:12px}.chart svg{max-width:none}
td.k,th.k{white-space:normal;overflow-wrap:anywhere;min-width:7em;max-width:9em}}
@media print{th,td.k,th.k{position:static}body{margin:0}.wide,.chart{overflow:visible;max-height:none}
.chart svg{max-width:100%}}
"""


def _seconds(value: Any) -> str:
    number = finite_number(value)
    return "" if number is None else f"{number:,.1f}"


def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.DictLoader({"page": TEMPLATE, "charts": CHARTS}),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def comparison_charts(table: pd.DataFrame, names: Sequence[str] | None = None) -> str:
    """The comparison page's charts alone (inline SVG in HTML), e.g. for a notebook.

    ``names``: the scenario columns, the reference first (default: every column of the
    table that is neither ``unit`` nor a difference).
    """
    if names is None:
        names = [c for c in table.columns if c != "unit" and " - " not in str(c)]
    return str(_environment().get_template("charts").render(**chart_data(table, names)))


def _cells(table: pd.DataFrame, key: str, names: Sequence[str]) -> dict[str, Any]:
    unit = str(table.at[key, "unit"])
    values = [show(table.at[key, n], unit) for n in names]
    changes = []
    for name in names[1:]:
        diff = table.at[key, f"{name} - {names[0]}"]
        text = show(diff, unit, change=True) if finite_number(diff) is not None else str(diff or "")
        if finite_number(diff) is not None and abs(float(diff)) < 5e-5:
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
            **chart_data(table, names),
        )
    )
