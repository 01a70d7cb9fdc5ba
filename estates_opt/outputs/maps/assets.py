"""Offline pages: vendored Leaflet assets inlined, safe JSON, deterministic element ids.

Folium links Leaflet and its plugins from CDNs. The maps must open on a
laptop with no internet (and must not phone home), so every ``<script src>``
and ``<link href>`` Folium renders is pointed at a placeholder
(``estates-opt-vendor:<path>``) and :func:`finish_page` swaps each one for
the vendored file's text (see ``vendor/README.md`` for versions and licences).
Images referenced by the CSS are inlined as ``data:`` URIs.
"""

from __future__ import annotations

import base64
import json
import math
import re
from functools import cache
from importlib import resources
from typing import Any

from branca.element import Element

#: Prefix of the placeholder URLs that :func:`finish_page` replaces with inline copies.
VENDOR_SCHEME = "estates-opt-vendor:"

#: Leaflet itself, for ``folium.Map`` (replaces its CDN list: no jQuery, Bootstrap or fonts).
LEAFLET_JS = [("leaflet", f"{VENDOR_SCHEME}leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", f"{VENDOR_SCHEME}leaflet/leaflet.css")]
#: The full-screen button, for ``folium.plugins.Fullscreen``.
FULLSCREEN_JS = [
    ("Control.Fullscreen.js", f"{VENDOR_SCHEME}leaflet.fullscreen/Control.FullScreen.js")
]
FULLSCREEN_CSS = [
    ("Control.FullScreen.css", f"{VENDOR_SCHEME}leaflet.fullscreen/Control.FullScreen.css")
]

_JINJA_OPENER = re.compile(r"\{(?=[{%#])")
_MIME = {".png": "image/png", ".svg": "image/svg+xml"}
_SCRIPT_TAG = re.compile(r'<script src="' + re.escape(VENDOR_SCHEME) + r'([^"]+)"></script>')
_LINK_TAG = re.compile(
    r'<link rel="stylesheet" href="' + re.escape(VENDOR_SCHEME) + r'([^"]+)"\s*/?>'
)
_CSS_URL = re.compile(r"url\((?!data:|#)['\"]?([^'\")]+)['\"]?\)")
_REMOTE_REF = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I
)


def vendor_text(relative: str) -> str:
    """The text of a vendored file (``leaflet/leaflet.js``...), shipped as package data."""
    return _vendor_file(relative).read_text(encoding="utf-8")


def _vendor_file(relative: str) -> Any:
    node = resources.files(__package__).joinpath("vendor")
    for part in relative.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"bad vendored path {relative!r}")
        node = node.joinpath(part)
    return node


@cache
def _inline_js(relative: str) -> str:
    text = vendor_text(relative)
    # Drop the source-map comment: the browser would try to fetch the .map file.
    text = re.sub(r"\n?//# sourceMappingURL=\S+\s*$", "\n", text)
    return "<script>\n" + script_safe(text) + "\n</script>"


@cache
def _inline_css(relative: str) -> str:
    folder = relative.rsplit("/", 1)[0] if "/" in relative else ""

    def data_uri(match: re.Match[str]) -> str:
        target = f"{folder}/{match.group(1)}" if folder else match.group(1)
        suffix = target[target.rfind(".") :]
        payload = base64.b64encode(_vendor_file(target).read_bytes()).decode("ascii")
        return f'url("data:{_MIME[suffix]};base64,{payload}")'

    text = _CSS_URL.sub(data_uri, vendor_text(relative))
    return "<style>\n" + text.replace("</", "<\\/") + "\n</style>"


def script_safe(text: str) -> str:
    """Make text safe inside a ``<script>`` element (no early ``</script>`` or ``<!--``)."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def to_js_literal(data: Any) -> str:
    """JSON for embedding in a ``<script>``: ``<``, ``>``, ``&`` and line separators escaped.

    Names come from input files; a building called ``</script><script>...`` must
    stay a string. Non-finite floats become ``null`` (JSON has no NaN).
    """
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # a NaN or infinity somewhere: walk the data once to null them
        text = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"))
    # Jinja openers ({{ {% {#) can only occur inside strings: escape their brace so
    # no template engine that sees the page source can ever evaluate data.
    text = _JINJA_OPENER.sub(r"\\u007b", text)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def finish_page(html: str) -> str:
    """Inline the vendored assets and refuse a page that still references remote files."""
    html = _SCRIPT_TAG.sub(lambda m: _inline_js(m.group(1)), html)
    html = _LINK_TAG.sub(lambda m: _inline_css(m.group(1)), html)
    remote = remote_references(html)
    if remote:
        raise RuntimeError(f"map page still references remote files: {remote[:3]}")
    return html


def number_elements(root: Element) -> None:
    """Give every element a counter id instead of a random one, so pages are reproducible.

    Folium names JavaScript variables ``<kind>_<32 random hex>``; with counters
    the same plan always renders the same file (diffable, cacheable).
    """
    stack = [root]
    count = 0
    while stack:
        element = stack.pop(0)
        count += 1
        element._id = str(count)
        stack.extend(element._children.values())


def remote_references(html: str) -> list[str]:
    """Tags that would load a script, style sheet, image or frame from the network."""
    return _REMOTE_REF.findall(html)


def static_text(name: str) -> str:
    """One of our own map scripts or style sheets (``static/``), to inline in a page."""
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


#: ``window.EstatesOptMaps.draw(map, data, groups)`` draws a plan map or a hub map.
MAPS_JS = static_text("maps.js")
MAPS_CSS = static_text("maps.css")
HUB_CSS = static_text("hub.css")
