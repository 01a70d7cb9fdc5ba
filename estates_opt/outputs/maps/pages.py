"""Plan tables -> Folium maps: the planner's ICS map and each PCN director's hub map.

Pages are drawn from the plan tables only (allocations, utilisation,
pcn_summary, moves, KPIs) and the dataset's geometries, never from the LP,
so a written plan can be redrawn later (:func:`estates_opt.pipeline.redraw_maps`). Folium builds
the map, layer groups, layer control, scale bar and full-screen button; one
small script of ours (:mod:`estates_opt.maps_js`) draws buildings, flows and
catchments from a JSON payload. Pages work offline: Leaflet and the plugin
are inlined from ``estates_opt/vendor`` and no tiles are loaded unless asked.
This module never imports the solver.
"""

from __future__ import annotations

import html
import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
from branca.element import Element, Figure
from folium import plugins

from estates_opt.outputs.files import atomic_write_text
from estates_opt.outputs.maps.assets import (
    FULLSCREEN_CSS,
    FULLSCREEN_JS,
    HUB_CSS,
    LEAFLET_CSS,
    LEAFLET_JS,
    MAPS_CSS,
    MAPS_JS,
    finish_page,
    number_elements,
    script_safe,
    to_js_literal,
)
from estates_opt.outputs.maps.data import MapData, build_map_data
from estates_opt.outputs.maps.geometry import with_points
from estates_opt.outputs.maps.layers import basemap_layer, imd_legend, imd_profile, lsoa_layer
from estates_opt.outputs.maps.style import CATEGORY_STYLE

if TYPE_CHECKING:
    from estates_opt.results.plan import Plan

log = logging.getLogger(__name__)


__all__ = [
    "check_tiles",
    "hub_filename",
    "hub_map",
    "plan_map",
    "scenario_maps_dir",
    "write_maps",
]

#: Width (px) kept free on the right of the initial view for the layer control and legend.
LEGEND_PX = 350
_BAND_NAMES = {
    "weekday": "Band: weekday core",
    "evening": "Band: weekday evening",
    "saturday": "Band: Saturday",
    "sunday": "Band: Sunday",
}


# --- public API ----------------------------------------------------------------


def plan_map(plan: Plan, *, tiles: str | None = None) -> folium.Map:
    """The planner's map of the whole ICS; offline (no tiles) unless ``tiles`` names a layer."""
    data = build_map_data(plan)
    return _plan_map(data, hub_files(data), tiles=tiles)


def hub_map(plan: Plan, pcn_code: str, *, tiles: str | None = None) -> folium.Map:
    """A PCN clinical director's map: catchment, IMD, hub, buildings used, what moved."""
    data = build_map_data(plan)
    _check_pcn(data, pcn_code)
    return _hub_map(data, pcn_code, tiles=tiles, links=False)


def write_maps(plan: Plan, maps_dir: Path, *, tiles: str | None = None) -> dict[Path, int]:
    """Write ``plan_map.html``, ``hubs/<pcn>.html`` per PCN and ``hubs/index.html``.

    Each file is written atomically. Returns every written path with its size
    in bytes, the planner's map first.
    """
    started = time.perf_counter()
    maps_dir = Path(maps_dir)
    data = build_map_data(plan)
    files = hub_files(data)
    written: dict[Path, int] = {}

    def save(path: Path, page: str) -> None:
        atomic_write_text(path, page)
        written[path] = len(page.encode("utf-8"))

    save(maps_dir / "plan_map.html", render_page(_plan_map(data, files, tiles=tiles)))
    for pcn in data.pcns:
        page = render_page(_hub_map(data, pcn["code"], tiles=tiles, links=True))
        save(maps_dir / "hubs" / files[pcn["code"]], page)
    save(maps_dir / "hubs" / "index.html", index_page(data, files))
    log.info(
        "wrote %d map pages (%.1f MB) to %s in %.1f s",
        len(written),
        sum(written.values()) / 1e6,
        maps_dir,
        time.perf_counter() - started,
    )
    return written


def scenario_maps_dir(root: str | Path, scenario_name: str) -> Path:
    """Where one scenario's maps go under a maps folder: ``<root>/<scenario name>/``.

    Each plan's maps get their own folder, so solving scenario A and then B
    overwrites nothing of A's. The name is cleaned like a hub file name (names are data).
    """
    return Path(root) / hub_filename(str(scenario_name))


def check_tiles(name: str) -> str:
    """``name`` if Folium can draw it as online tiles (a tile provider's name, any case);
    otherwise a ValueError naming close matches. URL templates are refused: they carry no
    attribution, which every map must show."""
    import difflib

    import xyzservices

    providers = xyzservices.providers
    wanted = "OpenStreetMap Mapnik" if name.strip().lower() == "openstreetmap" else name
    try:
        providers.query_name(wanted)
    except ValueError:
        known = ["OpenStreetMap", *sorted(str(k) for k in providers.flatten())]
        plain = {k.lower().replace(".", " "): k for k in known}
        close = difflib.get_close_matches(name.lower().replace(".", " "), list(plain), n=3)
        hint = f" Did you mean {', '.join(repr(plain[c]) for c in close)}?" if close else ""
        raise ValueError(
            f"no tile layer called {name!r}: give a tile provider's name, such as "
            f"'OpenStreetMap' or 'CartoDB positron'.{hint}"
        ) from None
    return name


def render_page(m: folium.Map) -> str:
    """The map's standalone HTML with every script and style sheet inlined."""
    return m.get_root().render()


def hub_filename(pcn_code: str) -> str:
    """A safe file name for a PCN's hub page (codes are data: no slashes or dots)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", pcn_code) or "pcn"


def hub_files(data: MapData) -> dict[str, str]:
    """PCN code -> hub page file name, unique even if two codes clean to the same name."""
    files: dict[str, str] = {}
    taken: set[str] = {"index"}
    for pcn in data.pcns:
        stem = base = hub_filename(pcn["code"])
        n = 1
        while stem.lower() in taken:
            n += 1
            stem = f"{base}_{n}"
        taken.add(stem.lower())
        files[pcn["code"]] = f"{stem}.html"
    return files


# --- page assembly ----------------------------------------------------------------


class _OfflineFigure(Figure):
    """The page around a map: renders with ids numbered and vendored assets inlined.

    Being the map's root, it also makes ``Map.save`` and notebook display
    (``_repr_html_``) produce the offline page, not CDN links.
    """

    _numbered = False

    def render(self, **kwargs: Any) -> str:
        if not self._numbered:  # once: rendering adds elements, and their names are keys
            number_elements(self)
            self._numbered = True
        return finish_page(super().render(**kwargs))


class _Draw(Element):
    """Calls our drawing script with the page's data and its Folium layer groups.

    Not a ``MacroElement``: Branca compiles a macro's output as a new Jinja template,
    so data containing ``{{ ... }}`` would be evaluated (in Python, at render time).
    The call goes into the page's script section as literal text instead.
    """

    def __init__(self, payload: dict[str, Any], groups: dict[str, Any]) -> None:
        super().__init__()
        self._name = "EstatesOptDraw"
        self.payload = to_js_literal(payload)
        self.groups = groups

    def render(self, **kwargs: Any) -> str:
        # Resolved at render time: element ids are renumbered just before rendering.
        assert self._parent is not None, "add the drawing to a map before rendering"
        call = (
            f"EstatesOptMaps.draw({self._parent.get_name()}, {self.payload}, "
            f"{_js_groups(self.groups)});"
        )
        _page(self).script.add_child(_Raw(call), name=self.get_name())
        return ""


class _Raw(Element):
    """Literal HTML. Branca's ``Element(text)`` compiles its text as a Jinja template, so a
    name containing ``{{ ... }}`` would be evaluated; this element is never parsed."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Raw"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        return self.text


def _page(element: Element) -> Figure:
    """The page (Figure) an element or map belongs to."""
    root = element.get_root()
    assert isinstance(root, Figure), "map elements must belong to a page"
    return root


def _js_groups(groups: dict[str, Any]) -> str:
    """A JS object literal naming Folium's layer variables (our ids, never data)."""
    parts = []
    for key, value in groups.items():
        inner = _js_groups(value) if isinstance(value, dict) else value.get_name()
        parts.append(f"{to_js_literal(key)}:{inner}")
    return "{" + ",".join(parts) + "}"


def _base_map(bounds: list[list[float]], title: str, tiles: str | None) -> folium.Map:
    (south, west), (north, east) = bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=11,
        tiles=None,
        control_scale=True,
        zoom_snap=0.25,
    )
    _OfflineFigure().add_child(m)
    # Per-map copies: only Leaflet, inlined later; no jQuery/Bootstrap/icon fonts from CDNs.
    m.default_js = list(LEAFLET_JS)
    m.default_css = list(LEAFLET_CSS)
    if tiles:
        folium.TileLayer(tiles, control=False).add_to(m)
    full = plugins.Fullscreen(position="topleft", title="Full screen", title_cancel="Exit")
    full.default_js = list(FULLSCREEN_JS)
    full.default_css = list(FULLSCREEN_CSS)
    full.add_to(m)
    root = _page(m)
    root.header.add_child(_Raw(f"<title>{html.escape(title)}</title>"), name="title")
    root.header.add_child(_Raw(f"<script>{script_safe(MAPS_JS)}</script>"), name="eo_js")
    # In the body so it comes after leaflet.css (which Folium puts in the head at render).
    root.html.add_child(_Raw(f"<style>{MAPS_CSS}</style>"), name="eo_css")
    # The view is fitted by the drawing script, from the map's real size: padding for the
    # legend is only kept on a wide screen (a fixed 350 px on a phone left no map at all).
    return m


def _group(m: folium.Map, name: str, *, base: bool = False, show: bool = True) -> Any:
    return folium.FeatureGroup(name=name, overlay=not base, show=show).add_to(m)


def _band_and_flow_groups(m: folium.Map, data: MapData) -> tuple[dict[str, Any], dict[str, Any]]:
    flows = {
        cat: _group(m, f"Flows: {label.lower() if cat != 'pcn_clinic' else label}")
        for cat, (label, _, _) in CATEGORY_STYLE.items()
    }
    bands = {b: _group(m, _BAND_NAMES.get(b, f"Band: {b}")) for b in data.bands}
    return flows, bands


def _plan_map(data: MapData, files: dict[str, str], *, tiles: str | None) -> folium.Map:
    m = _base_map(data.bounds, "Estates plan: whole ICS", tiles)
    shading = {
        s["key"]: _group(m, s["label"], base=True, show=i == 0) for i, s in enumerate(data.shading)
    }
    outlines = _group(m, "Outlines only", base=True, show=False)
    groups: dict[str, Any] = {"shading": shading, "outlines": outlines}
    basemap = basemap_layer(data)
    groups |= _basemap_groups(m, basemap)
    if data.boroughs is not None:
        groups["boroughs"] = _group(m, "Borough outlines")
    groups["sites"] = _group(m, "Buildings")
    groups["flows"], groups["bands"] = _band_and_flow_groups(m, data)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)
    _page(m).html.add_child(_Raw(_print_title(data)), name="eo_print_title")
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
    m.add_child(_Draw(payload, groups))
    return m


def _print_title(data: MapData) -> str:
    """The planner's map's heading on paper (the screen shows the map alone)."""
    k = data.kpis
    return (
        f'<h1 class="eo-print-title">Estates plan, whole ICS: scenario {_e(k.get("scenario", ""))}'
        f"<span>{_n(k.get('hours_moved'), 0)} hours a week moved; unmet "
        f"{_n(k.get('unmet_hours_total'), 1)} h/week; mean travel "
        f"{_n(k.get('travel_km_before'), 2)} &rarr; {_n(k.get('travel_km_after'), 2)} km</span></h1>"
    )


def _basemap_groups(m: folium.Map, basemap: dict[str, Any] | None) -> dict[str, Any]:
    """Layer groups for the offline basemap (water, roads, rail; stations; place names)."""
    if not basemap:
        return {}
    groups = {"background": _group(m, "Background: water, roads, rail")}
    if "stations" in basemap:
        groups["stations"] = _group(m, "Stations")
    if "places" in basemap:
        groups["places"] = _group(m, "Place names")
    return groups


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


def _check_pcn(data: MapData, pcn_code: str) -> None:
    if pcn_code not in data.pcn_index:
        known = ", ".join(sorted(data.pcn_index)[:8])
        raise KeyError(f"PCN '{pcn_code}' is not in the plan (PCN codes: {known}...)")


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


def _hub_map(data: MapData, pcn_code: str, *, tiles: str | None, links: bool) -> folium.Map:
    _check_pcn(data, pcn_code)
    p_index = data.pcn_index[pcn_code]
    pcn = data.pcns[p_index]
    shown, hubs = _hub_sites(data, pcn_code)
    # The view holds the catchment and every building the PCN works in, before or after
    # (a clinic may run in a building beyond the catchment's edge).
    view = with_points(pcn["bounds"], [data.sites[g] for g in shown])
    m = _base_map(view, f"Hub map: {pcn['name']} ({pcn_code})", tiles)
    _page(m).html.add_child(_Raw(f"<style>{HUB_CSS}</style>"), name="eo_hub_css")
    basemap = basemap_layer(data, view)
    groups: dict[str, Any] = {
        "lsoas": _group(m, "Deprivation (IMD) by LSOA"),
        "catchment": _group(m, "Catchment outline"),
        **_basemap_groups(m, basemap),
    }
    if data.boroughs is not None:
        groups["boroughs"] = _group(m, "Boroughs")
    groups["sites"] = _group(m, "Buildings")
    groups["flows"], groups["bands"] = _band_and_flow_groups(m, data)
    folium.LayerControl(collapsed=True, position="topright").add_to(m)

    local = {g: i for i, g in enumerate(shown)}
    sites = []
    for g in shown:
        site = dict(data.sites[g])
        if g in hubs:
            site["label"] = f"Hub: {site['name']}"
        sites.append(site)
    flows = [[0, local[f[1]], *f[2:]] for f in data.pcn_flows.get(pcn_code, [])]
    features = data.areas["features"]
    (s0, w0), (n0, e0) = pcn["bounds"]
    pad_lat, pad_lon = (n0 - s0) * 0.6, (e0 - w0) * 0.6
    near = [
        i
        for i, q in enumerate(data.pcns)
        if i != p_index
        and q["bounds"][0][0] < n0 + pad_lat
        and q["bounds"][1][0] > s0 - pad_lat
        and q["bounds"][0][1] < e0 + pad_lon
        and q["bounds"][1][1] > w0 - pad_lon
    ]
    by_index = {f["properties"]["i"]: f for f in features}
    payload = {
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
                for i in near
                if data.context[i] is not None
            ],
            data.pcns,
        ),
        "boroughs": data.boroughs,
        "boroughLabels": _borough_labels_in_view(data, pcn["bounds"]),
        "basemap": basemap,
        "attribution": data.attribution,
    }
    _page(m).html.add_child(_Raw(_hub_panel(data, pcn, sites, local, hubs, links)), name="eo_panel")
    m.add_child(_Draw(payload, groups))
    return m


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


# --- HTML panels and the index (escaped here, in Python) -------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "&ndash;"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return "&ndash;"


def _hub_panel(
    data: MapData,
    pcn: dict[str, Any],
    sites: list[dict[str, Any]],
    local: dict[int, int],
    hubs: set[int],
    links: bool,
) -> str:
    code = pcn["code"]
    members = [s for s in sites if s["pcnCode"] == code and s["kind"] == "gp_practice"]
    hub_names = [data.sites[g]["name"] for g in sorted(hubs)]
    imd = imd_profile(data, code)
    flows = data.pcn_flows.get(code, [])
    used_before = len({f[1] for f in flows if f[4] == "before"})
    used_after = len({f[1] for f in flows if f[4] == "after"})
    share = imd["share_deciles_1_2"]
    rows = [
        ("Population (LSOA residents)", _n(pcn["population"])),
        ("Registered patients", _n(pcn["registered"])),
        ("Member practices", _n(len(members))),
        ("Hub", _e(", ".join(hub_names)) or "none"),
        (
            "Living in the 20% most deprived areas",
            "&ndash;" if share is None else f"{share:.0%}",
        ),
        ("Demand", f"{_n(pcn['demand'], 1)} h/week"),
        ("Unmet after the plan", f"{_n(pcn['unmet'], 1)} h/week"),
        ("Enhanced access met", f"{_n(pcn['eaMet'], 1)} of {_n(pcn['eaDemand'], 1)} h/week"),
        (
            "Enhanced access, weekday evenings",
            f"{_n(pcn.get('eaEveningBefore'), 1)} &rarr; <b>{_n(pcn.get('eaEvening'), 1)}</b> h/week",
        ),
        (
            "Enhanced access, Saturday",
            f"{_n(pcn.get('eaSaturdayBefore'), 1)} &rarr; <b>{_n(pcn.get('eaSaturday'), 1)}</b> h/week",
        ),
        (
            "Enhanced-access contract (every band and the total)",
            "&ndash;"
            if pcn.get("eaContractMet") is None
            else ("met" if pcn["eaContractMet"] else "<b>short</b>"),
        ),
        ("Hours moved", f"{_n(pcn['moved'], 1)} h/week"),
        ("Buildings used", f"{used_before} &rarr; {used_after}"),
        (
            "Travel, population-weighted",
            f"{_n(pcn['travelBefore'], 2)} &rarr; <b>{_n(pcn['travelAfter'], 2)}</b> km",
        ),
    ]
    out = ['<aside class="eo-panel">']
    if links:
        out.append(
            '<nav><a href="index.html">&larr; All PCNs</a>'
            '<a href="../plan_map.html">Whole-ICS plan map</a></nav>'
        )
    out.append(f"<h1>{_e(pcn['name'])}</h1>")
    out.append(f'<div class="eo-sub">PCN {_e(code)} &middot; {_e(pcn["borough"])}</div>')
    out.append('<table class="eo-kpi"><tbody>')
    out += [f'<tr><th>{k}</th><td class="n">{v}</td></tr>' for k, v in rows]
    out.append("</tbody></table>")
    out.append(_moves_table(data, code, local))
    out.append(
        '<p class="eo-sub">Hours and sessions are per week; a session is 4 h in core hours '
        'and on Saturdays, 1.5 h in the evening.<span class="eo-click"> Click a row to see the '
        "building.</span></p></aside>"
    )
    return "".join(out)


def _site_name(name: Any, site_id: Any) -> str:
    """A building by name, with its code in small print (the code is what a planner searches)."""
    code = f' <span class="eo-code">{_e(site_id)}</span>' if site_id not in (None, "") else ""
    return f"{_e(name)}{code}"


def _moves_table(data: MapData, code: str, local: dict[int, int]) -> str:
    grouped = data.moves_by_pcn.get(code)
    if grouped is None or grouped.empty:
        return "<h2>What moved</h2><p>Nothing moved for this PCN.</p>"
    out = [
        f"<h2>What moved ({len(grouped)} relocations, largest first)</h2>",
        '<table class="eo-moves"><thead><tr><th>Service: from &rarr; to</th>'
        '<th>Band</th><th class="n">Sessions a week</th></tr></thead><tbody>',
    ]
    for r in grouped.itertuples(index=False):
        band = (
            _e(r.to_band)
            if r.from_band == r.to_band
            else f"{_e(r.from_band)} &rarr; {_e(r.to_band)}"
        )
        target = local.get(data.site_index.get(str(r.to_site_id), -1))
        attr = f' data-eo-site="{target}"' if target is not None else ""
        sources = _site_name(r.from_site, r.from_site_id)
        others = int(r.n_from_sites) - 1 if r.n_from_sites == r.n_from_sites else 0
        if others > 0:  # one relocation gathers the clinic from several of today's slots
            sources = (
                f'<span title="{_e(r.from_sites)}">{sources} and {others} other '
                f"slot{'s' if others > 1 else ''}</span>"
            )
        phase = f" &middot; phase {int(r.phase)}" if r.phase == r.phase and r.phase > 0 else ""
        out.append(
            f"<tr{attr}><td><b>{_e(r.service)}</b>{phase}<br>{sources}"
            f" &rarr; {_site_name(r.to_site, r.to_site_id)}</td><td>{band}</td>"
            f'<td class="n">{_n(r.sessions_per_week, 1)}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


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
        f"{_n(k.get('hours_moved'), 0)} hours a week moved; unmet "
        f"{_n(k.get('unmet_hours_total'), 1)} h/week; mean travel "
        f"{_n(k.get('travel_km_before'), 2)} &rarr; {_n(k.get('travel_km_after'), 2)} km"
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
            f'<a href="{_e(files[p["code"]])}">{_e(p["name"])}</a>',
            _e(p["code"]),
            _e(p["borough"]),
            _n(p["population"]),
            _n(p["demand"], 1),
            _n(p["moved"], 1),
            _n(p["unmet"], 1),
            f"{_n(p['eaMet'], 1)} / {_n(p['eaDemand'], 1)}",
            f"{_n(p.get('eaEvening'), 1)} / {_n(p.get('eaSaturday'), 1)}",
            f"{_n(p['travelBefore'], 2)} &rarr; {_n(p['travelAfter'], 2)}",
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
    scenario = _e(k.get("scenario", ""))
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
        + f'<div class="attr">{_e(data.attribution)}</div></body></html>\n'
    )


def phases_chart(phases: list[dict[str, Any]]) -> str:
    """The phased plan as a curve (share of over-cap hours relieved against relocations made)
    and a table: what to do first. Inline SVG, so it works offline and prints."""
    if not phases:
        return ""
    width, height, pad = 520, 220, 44
    most = max(float(p["relocations"]) for p in phases) or 1.0

    def xy(p: dict[str, Any]) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * float(p["relocations"]) / most
        y = height - pad + (2 * pad - height) * float(p["over_cap_share_relieved"])
        return x, y

    points = [(pad, height - pad)] + [xy(p) for p in phases]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4"><title>phase {p["phase"]}: '
        f"{p['relocations']} relocations, {float(p['over_cap_share_relieved']):.0%} of "
        "over-cap hours relieved</title></circle>"
        for p, (x, y) in zip(phases, points[1:], strict=True)
    )
    axes = (
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}"/>'
        f'<text x="{width / 2}" y="{height - 8}" text-anchor="middle">relocations made</text>'
        f'<text x="12" y="{height / 2}" transform="rotate(-90 12 {height / 2})" '
        'text-anchor="middle">over-cap hours relieved</text>'
        f'<text x="{pad - 4}" y="{pad + 4}" text-anchor="end">100%</text>'
        f'<text x="{pad - 4}" y="{height - pad}" text-anchor="end">0%</text>'
        f'<text x="{width - pad}" y="{height - pad + 16}" text-anchor="end">{most:,.0f}</text>'
    )
    heads = [
        "Phase",
        "Relocations",
        "Hours moved/wk",
        "Over-cap relieved",
        "Community weekday",
        "Practices weekday",
        "Mean clinic travel km",
    ]

    def cells(p: dict[str, Any]) -> list[str]:
        return [
            _e(p["phase"]),
            _n(p["relocations"]),
            _n(p["hours_moved"], 0),
            f"{float(p['over_cap_share_relieved']):.0%}",
            f"{float(p['community_weekday_utilisation']):.0%}",
            f"{float(p['gp_practice_weekday_utilisation']):.0%}",
            _n(p["mean_clinic_travel_km"], 2),
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
    return (
        '<h2>Phased plan: what to do first</h2><div class="sub">Each phase keeps the '
        "relocations before it and adds the ones that relieve the most over-capacity; "
        "none pushes a receiving room over its cap.</div>"
        f'<svg class="eo-phases" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="over-cap hours relieved against relocations made">{axes}'
        f'<polyline points="{path}" fill="none"/>{dots}</svg>'
        f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
    )
