"""A PCN clinical director's hub page: its catchment, LSOAs by deprivation, buildings and moves.

The hub page shows one PCN only: the buildings it works in (before or after the plan),
its flows, its LSOAs shaded by IMD decile, neighbouring catchments as context, and the
panel of headline numbers and relocations (:mod:`~estates_opt.outputs.maps.hub_panel`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import folium

from estates_opt.outputs.maps.assets import HUB_CSS
from estates_opt.outputs.maps.geometry import with_points
from estates_opt.outputs.maps.hub_panel import hub_panel
from estates_opt.outputs.maps.layers import basemap_layer, imd_legend, lsoa_layer
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


def check_pcn(data: MapData, pcn_code: str) -> None:
    """Refuse a PCN code the plan does not have (KeyError naming some that it has)."""
    if pcn_code not in data.pcn_index:
        known = ", ".join(sorted(data.pcn_index)[:8])
        raise KeyError(f"PCN '{pcn_code}' is not in the plan (PCN codes: {known}...)")


def hub_page(data: MapData, pcn_code: str, *, tiles: str | None, links: bool) -> folium.Map:
    """The hub map of one PCN; ``links`` adds the panel's links to the index and plan map."""
    check_pcn(data, pcn_code)
    pcn = data.pcns[data.pcn_index[pcn_code]]
    shown, hubs = _hub_sites(data, pcn_code)
    # The view holds the catchment and every building the PCN works in, before or after
    # (a clinic may run in a building beyond the catchment's edge).
    view = with_points(pcn["bounds"], [data.sites[g] for g in shown])
    m = base_map(view, f"Hub map: {pcn['name']} ({pcn_code})", tiles)
    page_of(m).html.add_child(Raw(f"<style>{HUB_CSS}</style>"), name="eo_hub_css")
    basemap = basemap_layer(data, view)
    groups = _hub_groups(m, data, basemap)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)

    local = {g: i for i, g in enumerate(shown)}
    sites = []
    for g in shown:
        site = dict(data.sites[g])
        if g in hubs:
            site["label"] = f"Hub: {site['name']}"
        sites.append(site)
    payload = _hub_payload(data, pcn_code, view, sites, local, basemap)
    page_of(m).html.add_child(Raw(hub_panel(data, pcn, sites, local, hubs, links)), name="eo_panel")
    m.add_child(Draw(payload, groups))
    return m


def _hub_sites(data: MapData, pcn_code: str) -> tuple[list[int], set[int]]:
    """Indexes of the buildings a hub page shows, and which of them are the PCN's hub."""
    members = {
        i
        for i, s in enumerate(data.sites)
        if s["pcnCode"] == pcn_code and s["kind"] in ("gp_practice", "pcn_hub")
    }
    hubs = {i for i in members if data.sites[i]["kind"] == "pcn_hub"}
    used = {f[1] for f in data.pcn_flows.get(pcn_code, [])}
    return sorted(members | used), hubs


def _hub_groups(m: folium.Map, data: MapData, basemap: dict[str, Any] | None) -> dict[str, Any]:
    """The hub page's layer groups, in the layer control's order."""
    groups: dict[str, Any] = {
        "lsoas": group(m, "Deprivation (IMD) by LSOA"),
        "catchment": group(m, "Catchment outline"),
        **basemap_groups(m, basemap),
    }
    if data.boroughs is not None:
        groups["boroughs"] = group(m, "Boroughs")
    groups["sites"] = group(m, "Buildings")
    groups["flows"], groups["bands"] = band_and_flow_groups(m, data)
    return groups


def _hub_payload(
    data: MapData,
    pcn_code: str,
    view: list[list[float]],
    sites: list[dict[str, Any]],
    local: dict[int, int],
    basemap: dict[str, Any] | None,
) -> dict[str, Any]:
    """What the drawing script draws on a hub page (sites and flows renumbered locally)."""
    p_index = data.pcn_index[pcn_code]
    pcn = data.pcns[p_index]
    flows = [[0, local[f[1]], *f[2:]] for f in data.pcn_flows.get(pcn_code, [])]
    by_index = {f["properties"]["i"]: f for f in data.areas["features"]}
    return {
        "page": "hub",
        "view": view,
        "legendPx": LEGEND_PX,
        "style": data.style(),
        "bands": data.bands,
        "sites": sites,
        "pcns": [pcn],
        "flows": flows,
        "lsoas": lsoa_layer(data, pcn_code),
        "imdLegend": imd_legend(),
        "catchment": _collection([by_index[p_index]] if p_index in by_index else [], data.pcns),
        "neighbours": _collection(
            [
                {"properties": {"i": i}, "geometry": data.context[i]}
                for i in _neighbours(data, p_index)
                if data.context[i] is not None
            ],
            data.pcns,
        ),
        "boroughs": data.boroughs,
        "boroughLabels": _borough_labels_in_view(data, pcn["bounds"]),
        "basemap": basemap,
        "attribution": data.attribution,
    }


def _neighbours(data: MapData, p_index: int) -> list[int]:
    """Indexes of the other PCNs whose bounds meet this one's, padded by 60% each way."""
    (s0, w0), (n0, e0) = data.pcns[p_index]["bounds"]
    pad_lat, pad_lon = (n0 - s0) * 0.6, (e0 - w0) * 0.6
    return [
        i
        for i, q in enumerate(data.pcns)
        if i != p_index
        and q["bounds"][0][0] < n0 + pad_lat
        and q["bounds"][1][0] > s0 - pad_lat
        and q["bounds"][0][1] < e0 + pad_lon
        and q["bounds"][1][1] > w0 - pad_lon
    ]


def _collection(features: list[dict[str, Any]], pcns: list[dict[str, Any]]) -> dict[str, Any]:
    """Catchment outlines for a hub page, named, without the ICS-wide shading colours."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": pcns[f["properties"]["i"]]["name"]},
                "geometry": f["geometry"],
            }
            for f in features
        ],
    }


def _borough_labels_in_view(data: MapData, bounds: list[list[float]]) -> list[list[Any]]:
    """Borough names placed inside a hub page's view (where the borough meets it), so a
    PCN director sees which borough each side of a boundary is."""
    import shapely
    from shapely.geometry import box, shape

    if data.boroughs is None:
        return []
    (south, west), (north, east) = bounds
    dy, dx = (north - south) * 0.25, (east - west) * 0.25
    view = box(west - dx, south - dy, east + dx, north + dy)
    labels = []
    for feature in data.boroughs["features"]:
        part = shape(feature["geometry"]).intersection(view)
        if part.is_empty or part.area < view.area * 0.04:
            continue
        point = shapely.Point(part.representative_point())
        labels.append([feature["properties"]["name"], round(point.y, 5), round(point.x, 5), 99.0])
    return labels
