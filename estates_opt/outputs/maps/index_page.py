"""``hubs/index.html``: every PCN with its headline numbers, and the phased plan's curve.

A plain HTML page (no map, no script): a table linking to each hub page, then the
phased plan as an inline SVG curve and table, so it works offline and prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from estates_opt.outputs.maps.markup import esc, num

if TYPE_CHECKING:
    from estates_opt.outputs.maps.data import MapData

_INDEX_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  margin: 24px; color: #222; }
h1 { font-size: 22px; margin: 0 0 4px; }
table { border-collapse: collapse; margin-top: 12px; }
th, td { padding: 4px 9px; border-bottom: 1px solid #e3e3e3; text-align: left; }
td.n, th.n { text-align: right; white-space: nowrap; }
th.n { white-space: normal; max-width: 8em; vertical-align: bottom; }
thead th { border-bottom: 2px solid #999; position: sticky; top: 0; background: #fff; }
tbody tr:hover { background: #fff7d6; }
.sub { color: #555; }
.attr { color: #666; font-size: 12px; margin-top: 20px; white-space: pre-line; }
h2 { font-size: 18px; margin: 28px 0 4px; }
.eo-phases { display: block; width: 100%; max-width: 520px; margin-top: 8px; }
.eo-phases line { stroke: #999; }
.eo-phases polyline { stroke: #b03a2e; stroke-width: 2; }
.eo-phases circle { fill: #b03a2e; }
.eo-phases text { font-size: 11px; fill: #444; }
@media (max-width: 760px) {
  body { margin: 12px; }
  table, tbody, tr, td { display: block; width: 100%; box-sizing: border-box; }
  thead { display: none; }
  tr { border: 1px solid #ddd; border-radius: 6px; margin: 0 0 10px; padding: 4px 8px; }
  td, td.n { display: flex; justify-content: space-between; gap: 12px; border: 0;
    padding: 2px 0; text-align: right; white-space: normal; }
  td::before { content: attr(data-label); color: #555; text-align: left; }
  td:first-child { font-size: 15px; font-weight: 600; }
  td:first-child::before { content: none; }
  /* big enough to tap */
  td:first-child a, .sub a { display: block; padding: 6px 0; }
}
@media print {
  @page { size: A4 landscape; margin: 12mm; }
  body { margin: 0; font-size: 11px; }
  thead th { position: static; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  .sub a { display: none; }
}
"""


def index_page(data: MapData, files: dict[str, str]) -> str:
    """``hubs/index.html``: every PCN with its headline numbers and a link to its map."""
    k = data.kpis
    head = (
        f"{num(k.get('hours_moved'), 0)} hours a week moved; unmet "
        f"{num(k.get('unmet_hours_total'), 1)} h/week; mean travel "
        f"{num(k.get('travel_km_before'), 2)} &rarr; {num(k.get('travel_km_after'), 2)} km"
    )
    heads = [
        ("PCN", ""),
        ("Code", ""),
        ("Borough", ""),
        ("Population", "n"),
        ("Demand h/wk", "n"),
        ("Moved h/wk", "n"),
        ("Unmet h/wk", "n"),
        ("Enhanced access met / due h/wk", "n"),
        ("EA evening / Saturday h/wk", "n"),
        ("Travel before &rarr; after km", "n"),
    ]
    rows = []
    for p in sorted(data.pcns, key=lambda q: (q["borough"], q["name"])):
        cells = [
            f'<a href="{esc(files[p["code"]])}">{esc(p["name"])}</a>',
            esc(p["code"]),
            esc(p["borough"]),
            num(p["population"]),
            num(p["demand"], 1),
            num(p["moved"], 1),
            num(p["unmet"], 1),
            f"{num(p['eaMet'], 1)} / {num(p['eaDemand'], 1)}",
            f"{num(p.get('eaEvening'), 1)} / {num(p.get('eaSaturday'), 1)}",
            f"{num(p['travelBefore'], 2)} &rarr; {num(p['travelAfter'], 2)}",
        ]
        # data-label: on a phone each row is a card and each cell names its column.
        rows.append(
            "<tr>"
            + "".join(
                f'<td{" class=" + chr(34) + cls + chr(34) if cls else ""} data-label="{head}">'
                f"{cell}</td>"
                for (head, cls), cell in zip(heads, cells, strict=True)
            )
            + "</tr>"
        )
    header = "".join(
        f"<th{' class=' + chr(34) + cls + chr(34) if cls else ''}>{head}</th>"
        for head, cls in heads
    )
    scenario = esc(k.get("scenario", ""))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Hub maps: {scenario}</title><style>{_INDEX_CSS}</style></head><body>"
        f'<h1>PCN hub maps</h1><div class="sub">Scenario {scenario}: {head}. '
        '<a href="../plan_map.html">Whole-ICS plan map</a></div>'
        f"<table><thead><tr>{header}</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + phases_chart(data.phases)
        + f'<div class="attr">{esc(data.attribution)}</div></body></html>\n'
    )


def phases_chart(phases: list[dict[str, Any]]) -> str:
    """The phased plan as a curve (share of over-cap hours relieved against relocations made)
    and a table: what to do first. Inline SVG, so it works offline and prints."""
    if not phases:
        return ""
    return (
        '<h2>Phased plan: what to do first</h2><div class="sub">Each phase keeps the '
        "relocations before it and adds the ones that relieve the most over-capacity; "
        "none pushes a receiving room over its cap. The last phase is the whole plan. Travel "
        "here is per clinic hour (each clinic's distance weighted by its hours), not the "
        "headline's travel, weighted by where patients live.</div>"
        + _phases_curve(phases)
        + _phases_table(phases)
    )


def _phases_curve(phases: list[dict[str, Any]]) -> str:
    """The inline SVG curve: over-cap hours relieved against relocations made, one dot a phase."""
    # The left margin holds the "100%" ticks and, left of them, the rotated axis title
    # (with the same margin as the others the title ran through "100%").
    width, height, pad, left = 520, 220, 44, 64
    most = max(float(p["relocations"]) for p in phases) or 1.0

    def xy(p: dict[str, Any]) -> tuple[float, float]:
        x = left + (width - left - pad) * float(p["relocations"]) / most
        y = height - pad + (2 * pad - height) * float(p["over_cap_share_relieved"])
        return x, y

    points = [(left, height - pad)] + [xy(p) for p in phases]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4"><title>phase {p["phase"]}: '
        f"{p['relocations']} relocations, {float(p['over_cap_share_relieved']):.0%} of "
        "over-cap hours relieved</title></circle>"
        for p, (x, y) in zip(phases, points[1:], strict=True)
    )
    axes = (
        f'<line x1="{left}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}"/>'
        f'<line x1="{left}" y1="{pad}" x2="{left}" y2="{height - pad}"/>'
        f'<text x="{(left + width - pad) / 2}" y="{height - 8}" text-anchor="middle">'
        "relocations made</text>"
        f'<text x="14" y="{height / 2}" transform="rotate(-90 14 {height / 2})" '
        'text-anchor="middle">over-cap hours relieved</text>'
        f'<text x="{left - 4}" y="{pad + 4}" text-anchor="end">100%</text>'
        f'<text x="{left - 4}" y="{height - pad}" text-anchor="end">0%</text>'
        f'<text x="{width - pad}" y="{height - pad + 16}" text-anchor="end">{most:,.0f}</text>'
    )
    return (
        f'<svg class="eo-phases" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="over-cap hours relieved against relocations made">{axes}'
        f'<polyline points="{path}" fill="none"/>{dots}</svg>'
    )


def _phases_table(phases: list[dict[str, Any]]) -> str:
    """The phases as a table, one row a phase (a card a row on a phone)."""
    heads = [
        "Phase",
        "Relocations",
        "Hours moved/wk",
        "Over-cap relieved",
        "Community weekday",
        "Practices weekday",
        "Travel per clinic hour, km",
    ]

    def cells(p: dict[str, Any]) -> list[str]:
        return [
            esc(p["phase"]),
            num(p["relocations"]),
            num(p["hours_moved"], 0),
            f"{float(p['over_cap_share_relieved']):.0%}",
            f"{float(p['community_weekday_utilisation']):.0%}",
            f"{float(p['gp_practice_weekday_utilisation']):.0%}",
            num(p["mean_clinic_travel_km"], 2),
        ]

    number = ' class="n"'
    # data-label: on a phone each row is a card and each cell names its column.
    rows = "".join(
        "<tr>"
        + "".join(
            f'<td{number if i else ""} data-label="{head}">{cell}</td>'
            for i, (head, cell) in enumerate(zip(heads, cells(p), strict=True))
        )
        + "</tr>"
        for p in phases
    )
    header = "".join(f"<th{number if i else ''}>{head}</th>" for i, head in enumerate(heads))
    return f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
