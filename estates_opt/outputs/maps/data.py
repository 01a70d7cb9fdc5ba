"""Plan tables -> the small JSON-ready records the map pages draw.

Everything a page shows is computed here, once per plan, from the plan tables
(allocations, utilisation, pcn_summary, moves) and the dataset's geometries;
:mod:`estates_opt.outputs.maps.pages` only assembles pages. The records themselves are
built in :mod:`~estates_opt.outputs.maps.catchments` (PCNs, boroughs),
:mod:`~estates_opt.outputs.maps.sites` (buildings, flows, moves) and
:mod:`~estates_opt.outputs.maps.geometry`; what one page cuts from them is in
:mod:`~estates_opt.outputs.maps.layers`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from estates_opt.errors import InputDataError, Problem
from estates_opt.outputs.maps.catchments import borough_layer, pcn_records
from estates_opt.outputs.maps.geometry import (
    SIMPLIFY_M,
    context_outlines,
    display_geometry,
    with_points,
)
from estates_opt.outputs.maps.sites import flows, moves_by_pcn, site_records
from estates_opt.outputs.maps.style import (
    BAND_LABELS,
    CATEGORY_STYLE,
    GAUGE_COLOURS,
    KIND_STYLE,
    marker_radius,
)
from estates_opt.outputs.maps.values import EPS
from estates_opt.schema import BANDS, BASEMAP_FOLDER, BASEMAP_LAYERS, CATEGORIES, SESSION_HOURS

if TYPE_CHECKING:
    from estates_opt.results.kpis import Kpis
    from estates_opt.results.plan import Plan


@dataclass(frozen=True)
class MapData:
    """Everything the plan map and the hub maps draw, computed once per plan."""

    bands: list[str]
    sites: list[dict[str, Any]]
    site_index: dict[str, int]
    pcns: list[dict[str, Any]]
    pcn_index: dict[str, int]
    areas: dict[str, Any]
    context: list[dict[str, Any] | None]
    shading: list[dict[str, Any]]
    boroughs: dict[str, Any] | None
    borough_labels: list[list[Any]]
    plan_flows: list[list[Any]]
    pcn_flows: dict[str, list[list[Any]]]
    lsoas: pd.DataFrame
    moves_by_pcn: dict[str, pd.DataFrame]
    attribution: str
    kpis: Kpis
    bounds: list[list[float]]
    #: Offline basemap layers (water, roads, rail, stations, places) if the dataset has them.
    basemap: dict[str, gpd.GeoDataFrame] | None = None
    #: The phased plan (phases.csv rows), for the curve on the index page.
    phases: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def basemap_parts(self) -> dict[str, tuple[np.ndarray, list[dict[str, Any]], np.ndarray]]:
        """Per basemap layer: its geometries, property records and (minx, miny, maxx,
        maxy) rows, worked out once for all the plan's pages."""
        parts = {}
        for name, frame in (self.basemap or {}).items():
            geoms = np.asarray(frame.geometry.to_numpy())
            records = frame.drop(columns=frame.geometry.name).to_dict("records")
            parts[name] = (geoms, records, shapely.bounds(geoms))
        return parts

    def style(self) -> dict[str, Any]:
        """The colour keys shared by both kinds of page."""
        return {
            "kinds": {k: list(v) for k, v in KIND_STYLE.items()},
            "categories": {k: list(v) for k, v in CATEGORY_STYLE.items()},
            "bandLabels": {b: BAND_LABELS.get(b, b) for b in self.bands},
            "sessionHours": {b: SESSION_HOURS.get(b, 4.0) for b in self.bands},
            "gauge": GAUGE_COLOURS,
            "sizes": [[h, marker_radius(h)] for h in (200, 1000, 5000)],
        }


def build_map_data(plan: Plan) -> MapData:
    """Derive every page's records from one plan (called once by :func:`write_maps`)."""
    ds = plan.dataset
    services = ds.services.set_index("service_id")
    category = services["category"]
    alloc = plan.allocations.copy()
    alloc["category"] = alloc["service_id"].map(category)
    alloc = alloc[alloc["category"].isin(CATEGORIES)]
    used_bands = set(plan.utilisation["band"]) | set(alloc["band"])
    bands = [b for b in BANDS if b in used_bands] or ["weekday"]

    pcn_frame, areas, shading, bounds = pcn_records(plan)
    pcn_index = {p["code"]: i for i, p in enumerate(pcn_frame)}
    sites, site_index = site_records(plan, alloc, services, pcn_frame, pcn_index)
    boroughs, labels = borough_layer(ds.boroughs)

    valid = alloc[alloc["site_id"].isin(site_index) & alloc["pcn_code"].isin(pcn_index)]
    delta = valid.assign(change=valid["hours_per_week"] - valid["baseline_hours_per_week"])
    plan_flows = flows(delta[delta["change"] > EPS], "change", "after", pcn_index, site_index)
    plan_flows += flows(
        delta[delta["change"] < -EPS].assign(change=lambda f: -f["change"]),
        "change",
        "before",
        pcn_index,
        site_index,
    )
    # Hub maps: where each PCN's services run, today and with the plan.
    pcn_flows: dict[str, list[list[Any]]] = {}
    for mode, column in (("after", "hours_per_week"), ("before", "baseline_hours_per_week")):
        for flow in flows(valid[valid[column] > EPS], column, mode, pcn_index, site_index):
            pcn_flows.setdefault(pcn_frame[flow[0]]["code"], []).append(flow)

    lsoas = ds.lsoas[["lsoa_code", "population", "imd_decile", "pcn_code"]].copy()
    if "lsoa_name" in ds.lsoas.columns:
        lsoas["lsoa_name"] = ds.lsoas["lsoa_name"].fillna("").astype(str)
    else:
        lsoas["lsoa_name"] = ""
    lsoas["display"] = list(display_geometry(ds.lsoas, SIMPLIFY_M["lsoas"]))
    basemap, basemap_attribution = read_basemap(ds.source)
    return MapData(
        bands=bands,
        sites=sites,
        site_index=site_index,
        pcns=pcn_frame,
        pcn_index=pcn_index,
        areas=areas,
        context=context_outlines(ds.pcns),
        shading=shading,
        boroughs=boroughs,
        borough_labels=labels,
        plan_flows=plan_flows,
        pcn_flows=pcn_flows,
        lsoas=lsoas,
        moves_by_pcn=moves_by_pcn(plan.moves),
        attribution="\n".join(t for t in (ds.attribution, basemap_attribution) if t),
        kpis=plan.kpis,
        phases=plan.phases.to_dict(orient="records") if len(plan.phases) else [],
        bounds=with_points(bounds, sites),
        basemap=basemap,
    )


def read_basemap(source: str) -> tuple[dict[str, gpd.GeoDataFrame] | None, str]:
    """The dataset's offline basemap layers and their attribution, if it ships them.

    A dataset folder may hold ``basemap/<layer>.geojson`` (WGS84) and
    ``basemap/ATTRIBUTION.txt``; without them the maps simply have no basemap.
    """
    folder = Path(source) / BASEMAP_FOLDER if source else None
    if folder is None or not folder.is_dir():
        return None, ""
    layers = {}
    for name in BASEMAP_LAYERS:
        path = folder / f"{name}.geojson"
        if path.is_file():
            try:
                layers[name] = gpd.read_file(path)
            except Exception as exc:  # GDAL raises several types; the input stage names them
                raise _basemap_error(path, f"cannot be read as geodata ({str(exc)[:200]})") from exc
    note = folder / "ATTRIBUTION.txt"
    try:
        text = note.read_text(encoding="utf-8").strip() if note.is_file() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise _basemap_error(note, "is not readable UTF-8 text") from exc
    return (layers or None), text


def _basemap_error(path: Path, what: str) -> InputDataError:
    """A basemap file broken after the dataset was validated: the project's own error."""
    return InputDataError(
        [
            Problem(
                f"{BASEMAP_FOLDER}/{path.name}",
                f"{what}.",
                fix="export it again (GeoJSON or UTF-8 text), or remove it; "
                "then run estates-opt validate.",
            )
        ]
    )
