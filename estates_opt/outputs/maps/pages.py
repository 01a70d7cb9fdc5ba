"""Plan tables -> Folium maps: the planner's ICS map and each PCN director's hub map.

Pages are drawn from the plan tables only (allocations, utilisation,
pcn_summary, moves, KPIs) and the dataset's geometries, never from the LP,
so a written plan can be redrawn later (:func:`estates_opt.pipeline.redraw_maps`). Folium builds
the map, layer groups, layer control, scale bar and full-screen button; one
small script of ours (``static/maps.js``) draws buildings, flows and
catchments from a JSON payload. Pages work offline: Leaflet and the plugin
are inlined from ``outputs/maps/vendor/`` and no tiles are loaded unless asked.
This module never imports the solver. It holds the public entry points and file
naming; the pages are assembled in :mod:`~estates_opt.outputs.maps.plan_page`,
:mod:`~estates_opt.outputs.maps.hub_page` and :mod:`~estates_opt.outputs.maps.index_page`
on the shared :mod:`~estates_opt.outputs.maps.scaffold`.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import folium

from estates_opt.outputs.files import atomic_write_text
from estates_opt.outputs.maps.data import MapData, build_map_data
from estates_opt.outputs.maps.hub_page import check_pcn, hub_page
from estates_opt.outputs.maps.index_page import index_page
from estates_opt.outputs.maps.plan_page import plan_page

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

# --- public API ----------------------------------------------------------------


def plan_map(plan: Plan, *, tiles: str | None = None) -> folium.Map:
    """The planner's map of the whole ICS; offline (no tiles) unless ``tiles`` names a layer."""
    data = build_map_data(plan)
    return plan_page(data, hub_files(data), tiles=tiles)


def hub_map(plan: Plan, pcn_code: str, *, tiles: str | None = None) -> folium.Map:
    """A PCN clinical director's map: catchment, IMD, hub, buildings used, what moved."""
    data = build_map_data(plan)
    check_pcn(data, pcn_code)
    return hub_page(data, pcn_code, tiles=tiles, links=False)


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

    save(maps_dir / "plan_map.html", render_page(plan_page(data, files, tiles=tiles)))
    for pcn in data.pcns:
        page = render_page(hub_page(data, pcn["code"], tiles=tiles, links=True))
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
