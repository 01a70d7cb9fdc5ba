"""What every map page shares: the offline page, the base map, layer groups, the drawing call.

Folium builds the map, layer groups, layer control, scale bar and full-screen button;
the page around it (:class:`OfflineFigure`) inlines the vendored Leaflet and our own
script and style, so pages work offline. The plan page and the hub pages add their
own layers and payload on top of :func:`base_map`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import folium
from branca.element import Element, Figure
from folium import plugins

from estates_opt.outputs.maps.assets import (
    FULLSCREEN_CSS,
    FULLSCREEN_JS,
    LEAFLET_CSS,
    LEAFLET_JS,
    MAPS_CSS,
    MAPS_JS,
    finish_page,
    number_elements,
    script_safe,
    to_js_literal,
)
from estates_opt.outputs.maps.style import CATEGORY_STYLE

if TYPE_CHECKING:
    from estates_opt.outputs.maps.data import MapData

#: Width (px) kept free on the right of the initial view for the layer control and legend.
LEGEND_PX = 350
_BAND_NAMES = {
    "weekday": "Band: weekday core",
    "evening": "Band: weekday evening",
    "saturday": "Band: Saturday",
    "sunday": "Band: Sunday",
}


class OfflineFigure(Figure):
    """The page around a map: renders with ids numbered and vendored assets inlined.

    Being the map's root, it also makes ``Map.save`` and notebook display
    (``_repr_html_``) produce the offline page, not CDN links.
    """

    _numbered = False

    def render(self, **kwargs: Any) -> str:
        """The whole page, ids numbered (once) and vendored assets inlined."""
        if not self._numbered:  # once: rendering adds elements, and their names are keys
            number_elements(self)
            self._numbered = True
        return finish_page(super().render(**kwargs))


class Draw(Element):
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
        """Add the drawing call to the page's scripts; the element itself renders as nothing."""
        # Resolved at render time: element ids are renumbered just before rendering.
        assert self._parent is not None, "add the drawing to a map before rendering"
        call = (
            f"EstatesOptMaps.draw({self._parent.get_name()}, {self.payload}, "
            f"{_js_groups(self.groups)});"
        )
        page_of(self).script.add_child(Raw(call), name=self.get_name())
        return ""


class Raw(Element):
    """Literal HTML. Branca's ``Element(text)`` compiles its text as a Jinja template, so a
    name containing ``{{ ... }}`` would be evaluated; this element is never parsed."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Raw"
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """The text, as given."""
        return self.text


def page_of(element: Element) -> Figure:
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


def base_map(bounds: list[list[float]], title: str, tiles: str | None) -> folium.Map:
    """An offline page holding a map centred on ``bounds``: title, script, style, full screen."""
    (south, west), (north, east) = bounds
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=11,
        tiles=None,
        control_scale=True,
        zoom_snap=0.25,
    )
    OfflineFigure().add_child(m)
    # Per-map copies: only Leaflet, inlined later; no jQuery/Bootstrap/icon fonts from CDNs.
    m.default_js = list(LEAFLET_JS)
    m.default_css = list(LEAFLET_CSS)
    if tiles:
        folium.TileLayer(tiles, control=False).add_to(m)
    full = plugins.Fullscreen(position="topleft", title="Full screen", title_cancel="Exit")
    full.default_js = list(FULLSCREEN_JS)
    full.default_css = list(FULLSCREEN_CSS)
    full.add_to(m)
    root = page_of(m)
    root.header.add_child(Raw(f"<title>{html.escape(title)}</title>"), name="title")
    root.header.add_child(Raw(f"<script>{script_safe(MAPS_JS)}</script>"), name="eo_js")
    # In the body so it comes after leaflet.css (which Folium puts in the head at render).
    root.html.add_child(Raw(f"<style>{MAPS_CSS}</style>"), name="eo_css")
    # The view is fitted by the drawing script, from the map's real size: padding for the
    # legend is only kept on a wide screen (a fixed 350 px on a phone left no map at all).
    return m


def group(m: folium.Map, name: str, *, base: bool = False, show: bool = True) -> Any:
    """A layer group on ``m``: an overlay, or a base layer (only one shown) if ``base``."""
    return folium.FeatureGroup(name=name, overlay=not base, show=show).add_to(m)


def band_and_flow_groups(m: folium.Map, data: MapData) -> tuple[dict[str, Any], dict[str, Any]]:
    """Layer groups per flow category and per band, shared by both kinds of page."""
    flows = {
        cat: group(m, f"Flows: {label.lower() if cat != 'pcn_clinic' else label}")
        for cat, (label, _, _) in CATEGORY_STYLE.items()
    }
    bands = {b: group(m, _BAND_NAMES.get(b, f"Band: {b}")) for b in data.bands}
    return flows, bands


def basemap_groups(m: folium.Map, basemap: dict[str, Any] | None) -> dict[str, Any]:
    """Layer groups for the offline basemap (water, roads, rail; stations; place names)."""
    if not basemap:
        return {}
    groups = {"background": group(m, "Background: water, roads, rail")}
    if "stations" in basemap:
        groups["stations"] = group(m, "Stations")
    if "places" in basemap:
        groups["places"] = group(m, "Place names")
    return groups
