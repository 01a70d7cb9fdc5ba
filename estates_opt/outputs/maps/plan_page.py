"""The planner's page: the whole ICS, catchments shaded three ways, every building and flow.

Each catchment links to its hub page (``hubs/<file>``); on paper the page carries a
heading with the plan's headline numbers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import folium

from estates_opt.outputs.maps.layers import basemap_layer
from estates_opt.outputs.maps.markup import esc, num
from estates_opt.outputs.maps.scaffold import (
    LEGEND_PX,
    Draw,
    Raw,
    band_and_flow_groups,
    base_map,
    basemap_groups,
    group,
    page_of,
)

if TYPE_CHECKING:
    from estates_opt.outputs.maps.data import MapData


def plan_page(data: MapData, files: dict[str, str], *, tiles: str | None) -> folium.Map:
    """The plan map; ``files`` names each PCN's hub page (linked from its catchment)."""
    m = base_map(data.bounds, "Estates plan: whole ICS", tiles)
    shading = {
        s["key"]: group(m, s["label"], base=True, show=i == 0) for i, s in enumerate(data.shading)
    }
    outlines = group(m, "Outlines only", base=True, show=False)
    groups: dict[str, Any] = {"shading": shading, "outlines": outlines}
    basemap = basemap_layer(data)
    groups |= basemap_groups(m, basemap)
    if data.boroughs is not None:
        groups["boroughs"] = group(m, "Borough outlines")
    groups["sites"] = group(m, "Buildings")
    groups["flows"], groups["bands"] = band_and_flow_groups(m, data)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    page_of(m).html.add_child(Raw(_print_title(data)), name="eo_print_title")
    page_of(m).html.add_child(Raw(_headline(data)), name="eo_headline")
    pcns = [dict(p, href=f"hubs/{files[p['code']]}") for p in data.pcns]
    payload = {
        "page": "plan",
        "view": data.bounds,
        "legendPx": LEGEND_PX,
        "style": data.style(),
        "bands": data.bands,
        "sites": data.sites,
        "pcns": pcns,
        "flows": data.plan_flows,
        "areas": data.areas,
        "shading": data.shading,
        "boroughs": data.boroughs,
        "boroughLabels": data.borough_labels,
        "basemap": basemap,
        "attribution": data.attribution,
    }
    m.add_child(Draw(payload, groups))
    return m


def _print_title(data: MapData) -> str:
    """The planner's map's heading on paper (the screen shows the map alone)."""
    k = data.kpis
    return (
        f'<h1 class="eo-print-title">Estates plan, whole ICS: scenario {esc(k.get("scenario", ""))}'
        f"<span>{num(k.get('hours_moved'), 0)} hours a week moved; unmet "
        f"{num(k.get('unmet_hours_total'), 1)} h/week; mean travel "
        f"{num(k.get('travel_km_before'), 2)} &rarr; {num(k.get('travel_km_after'), 2)} km</span></h1>"
    )


def _headline(data: MapData) -> str:
    """The plan's headline on screen, with the way to the PCNs' hub maps (the printed page
    has :func:`_print_title` instead)."""
    k = data.kpis
    relocations = k.get("relocations")
    moved = f"{num(relocations, 0)} relocations, " if relocations is not None else ""
    return (
        '<div class="eo-headline"><b>Estates plan, whole ICS: '
        f"{esc(k.get('scenario', ''))}</b><br>{moved}{num(k.get('hours_moved'), 0)} h a week "
        f"moved; unmet {num(k.get('unmet_hours_total'), 1)} h/week; mean travel "
        f"{num(k.get('travel_km_before'), 2)} &rarr; {num(k.get('travel_km_after'), 2)} km"
        '<br><a href="hubs/index.html">Hub map of each PCN &rarr;</a></div>'
    )
