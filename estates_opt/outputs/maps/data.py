"""Plan tables -> the small JSON-ready records the map pages draw.

Everything a page shows is computed here, once per plan, from the plan tables
(allocations, utilisation, pcn_summary, moves) and the dataset's geometries;
:mod:`estates_opt.outputs.maps.pages` only assembles pages. Geometries are projected to
WGS84, lightly simplified and rounded to 5 decimal places (about 1 m), which
keeps the whole-ICS page small without visible change at map scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from estates_opt.schema import (
    BANDS,
    CATEGORIES,
    GEOGRAPHIC_CRS,
    ROOM_TYPES,
    SESSION_HOURS,
    SITE_KINDS,
)

if TYPE_CHECKING:
    from estates_opt.results.kpis import Kpis
    from estates_opt.results.plan import Plan


EPS = 1e-6
#: Display simplification in metres (EPSG:27700) before projecting to WGS84.
SIMPLIFY_M = {"pcns": 15.0, "lsoas": 5.0, "boroughs": 25.0, "context": 50.0}
#: Holes smaller than this (m²) are slivers left by dissolving LSOAs, not enclaves: the
#: smallest NEL LSOA is about 27,000 m². Drawn, they show as stray lines inside a catchment.
SLIVER_M2 = 10_000.0
COORD_DECIMALS = 5

#: Marker fill per site kind: label and colour.
KIND_STYLE: dict[str, tuple[str, str]] = {
    "gp_practice": ("GP practice", "#2b8cbe"),
    "pcn_hub": ("PCN hub", "#88419d"),
    "community": ("Community site", "#41ab5d"),
    "acute": ("Acute hospital", "#d95f0e"),
}
#: Flow line per service category: label, colour and SVG dash pattern.
CATEGORY_STYLE: dict[str, tuple[str, str, str]] = {
    "pcn_clinic": ("PCN clinics", "#e7298a", ""),
    "outpatient_outreach": ("Outpatient outreach", "#1b9e77", "9 5"),
    "enhanced_access": ("Enhanced access", "#b8860b", "3 5"),
}
BAND_LABELS = {
    "weekday": "Weekday core (08:00-18:30)",
    "evening": "Weekday evening (18:30-20:00)",
    "saturday": "Saturday (09:00-17:00)",
    "sunday": "Sunday",
}
ROOM_LABELS = {
    "consulting": "consulting",
    "treatment": "treatment",
    "group": "group",
    "diagnostics": "diagnostics",
}
#: Utilisation gauge colours: within capacity, and over it (more booked than the rooms hold).
GAUGE_COLOURS = {"ok": "#252525", "over": "#d7191c", "track": "#ffffff"}
NO_DATA = "#e0e0e0"

POPULATION_COLOURS = ("#fbfbfb", "#e6e6e6", "#cfcfcf", "#b5b5b5", "#969696")
UNMET_COLOURS = ("#ffffff", "#fcbba1", "#fc9272", "#ef3b2c", "#a50f15")
TRAVEL_BREAKS = (-1.0, -0.3, 0.0, 0.3, 1.0)
TRAVEL_COLOURS = ("#01665e", "#5ab4ac", "#c7eae5", "#f6e8c3", "#d8b365", "#8c510a")
TRAVEL_LABELS = (
    "over 1 km shorter",
    "0.3-1 km shorter",
    "up to 0.3 km shorter",
    "up to 0.3 km longer",
    "0.3-1 km longer",
    "over 1 km longer",
)
#: IMD decile 1 (most deprived 10%) ... 10 (least deprived).
IMD_COLOURS = (
    "#a50026",
    "#d73027",
    "#f46d43",
    "#fdae61",
    "#fee090",
    "#e0f3f8",
    "#abd9e9",
    "#74add1",
    "#4575b4",
    "#313695",
)


def marker_radius(capacity_hours: float) -> float:
    """Circle radius (px) growing with the square root of weekly room-hours (area ~ capacity)."""
    return round(3.0 + 1.1 * math.sqrt(max(capacity_hours, 0.0) / 40.0), 1)


@dataclass(frozen=True)
class Legend:
    """One colour key: (colour, label) pairs, in display order."""

    title: str
    items: list[tuple[str, str]]

    def record(self) -> dict[str, Any]:
        """The legend as a JSON-ready record for the page script."""
        return {"title": self.title, "items": [list(i) for i in self.items]}


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

    pcn_frame, areas, shading, bounds = _pcn_records(plan)
    pcn_index = {p["code"]: i for i, p in enumerate(pcn_frame)}
    sites, site_index = _site_records(plan, alloc, services, pcn_frame, pcn_index)
    boroughs, labels = _borough_layer(ds.boroughs)

    valid = alloc[alloc["site_id"].isin(site_index) & alloc["pcn_code"].isin(pcn_index)]
    delta = valid.assign(change=valid["hours_per_week"] - valid["baseline_hours_per_week"])
    plan_flows = _flows(delta[delta["change"] > EPS], "change", "after", pcn_index, site_index)
    plan_flows += _flows(
        delta[delta["change"] < -EPS].assign(change=lambda f: -f["change"]),
        "change",
        "before",
        pcn_index,
        site_index,
    )
    # Hub maps: where each PCN's services run, today and with the plan.
    pcn_flows: dict[str, list[list[Any]]] = {}
    for mode, column in (("after", "hours_per_week"), ("before", "baseline_hours_per_week")):
        for flow in _flows(valid[valid[column] > EPS], column, mode, pcn_index, site_index):
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
        context=_context_outlines(ds.pcns),
        shading=shading,
        boroughs=boroughs,
        borough_labels=labels,
        plan_flows=plan_flows,
        pcn_flows=pcn_flows,
        lsoas=lsoas,
        moves_by_pcn=_moves_by_pcn(plan.moves),
        attribution="\n".join(t for t in (ds.attribution, basemap_attribution) if t),
        kpis=plan.kpis,
        phases=plan.phases.to_dict(orient="records") if len(plan.phases) else [],
        bounds=with_points(bounds, sites),
        basemap=basemap,
    )


# --- basemap -----------------------------------------------------------------------

#: The layers of ``<dataset>/basemap/`` (built by ``geodata/build_basemap.py``), in drawing order.
BASEMAP_LAYERS = ("water", "roads", "rail", "stations", "places")


def read_basemap(source: str) -> tuple[dict[str, gpd.GeoDataFrame] | None, str]:
    """The dataset's offline basemap layers and their attribution, if it ships them.

    A dataset folder may hold ``basemap/<layer>.geojson`` (WGS84) and
    ``basemap/ATTRIBUTION.txt``; without them the maps simply have no basemap.
    """
    folder = Path(source) / "basemap" if source else None
    if folder is None or not folder.is_dir():
        return None, ""
    layers = {
        name: gpd.read_file(folder / f"{name}.geojson")
        for name in BASEMAP_LAYERS
        if (folder / f"{name}.geojson").is_file()
    }
    note = folder / "ATTRIBUTION.txt"
    text = note.read_text(encoding="utf-8").strip() if note.is_file() else ""
    return (layers or None), text


def basemap_layer(
    data: MapData, bounds: list[list[float]] | None = None, pad: float = 0.35
) -> dict[str, Any] | None:
    """The basemap as GeoJSON per layer; clipped to ``bounds`` (padded) for a hub page.

    The clip box reaches at least the PCN's longer side beyond its centre in every
    direction, so a tall PCN on a wide screen (or a wide one on a phone) is not framed by
    roads and rivers that stop short of the map's edges.
    """
    if not data.basemap:
        return None
    out: dict[str, Any] = {}
    for name, frame in data.basemap.items():
        if bounds is not None:
            (south, west), (north, east) = bounds
            mid_lat, mid_lon = (south + north) / 2, (west + east) / 2
            stretch = max(math.cos(math.radians(mid_lat)), 0.1)  # degrees of lon per km ratio
            span = max(north - south, (east - west) * stretch)  # the longer side, lat degrees
            half_lat = max((north - south) * (0.5 + pad), span)
            half_lon = max((east - west) * (0.5 + pad), span / stretch)
            clipped = frame.clip_by_rect(
                mid_lon - half_lon, mid_lat - half_lat, mid_lon + half_lon, mid_lat + half_lat
            )
            frame = frame.set_geometry(
                shapely.set_precision(clipped.to_numpy(), 10.0**-COORD_DECIMALS)
            )
            frame = frame[~(frame.geometry.is_empty | frame.geometry.isna())]
        properties = frame.drop(columns=frame.geometry.name).to_dict("records")
        out[name] = feature_collection(frame.geometry.to_numpy(), properties)
    return out


def _moves_by_pcn(moves: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each PCN's moves summed per (service, from, to, bands), largest first per service."""
    if moves.empty:
        return {}
    keys = ["pcn_code", "service", "from_site_id", "from_site", "to_site_id", "to_site"]
    moves = moves.assign(pcn_code=moves["pcn_code"].astype(str))
    for column, empty in (("n_from_sites", 1), ("from_sites", ""), ("phase", 0)):
        if column not in moves:
            moves[column] = empty
    grouped = moves.groupby([*keys, "from_band", "to_band"], as_index=False, dropna=False).agg(
        hours_per_week=("hours_per_week", "sum"),
        n_from_sites=("n_from_sites", "max"),
        from_sites=("from_sites", "first"),
        phase=("phase", "min"),
    )
    grouped["sessions_per_week"] = [
        sessions(float(h), str(b))
        for h, b in zip(grouped["hours_per_week"], grouped["to_band"], strict=True)
    ]
    # Largest first: a team acts on the moves that shift the most sessions first.
    grouped = grouped.sort_values(
        ["pcn_code", "sessions_per_week", "service", "from_site", "to_site"],
        ascending=[True, False, True, True, True],
        kind="stable",
    )
    return {str(code): frame for code, frame in grouped.groupby("pcn_code", sort=False)}


# --- geometry ----------------------------------------------------------------


def display_geometry(
    frame: gpd.GeoDataFrame, tolerance_m: float, *, drop_slivers: bool = False
) -> np.ndarray:
    """Simplified (in metres), projected to WGS84 and rounded to 5 dp, for drawing only."""
    geoms = frame.geometry
    if drop_slivers:
        geoms = gpd.GeoSeries(
            [_without_slivers(g) for g in geoms.values], crs=frame.crs, index=frame.index
        )
    if tolerance_m > 0:
        geoms = gpd.GeoSeries(
            shapely.simplify(geoms.values, tolerance_m, preserve_topology=True),
            crs=frame.crs,
            index=frame.index,
        )
    wgs = geoms.to_crs(GEOGRAPHIC_CRS).values
    return shapely.transform(np.asarray(wgs), lambda xy: np.round(xy, COORD_DECIMALS))


def _without_slivers(geom: Any) -> Any:
    """The polygon(s) with tiny interior rings removed (dissolve artefacts)."""
    if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
        return geom
    parts = geom.geoms if geom.geom_type == "MultiPolygon" else [geom]
    kept = [
        shapely.Polygon(
            p.exterior, [r for r in p.interiors if shapely.Polygon(r).area >= SLIVER_M2]
        )
        for p in parts
    ]
    return kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)


def feature_collection(geometries: np.ndarray, properties: list[dict[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection dict (geometry via shapely, rounded coordinates)."""
    import json

    features = []
    for geom, props in zip(geometries, properties, strict=True):
        if geom is None or shapely.is_empty(geom):
            continue
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": json.loads(shapely.to_geojson(geom)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _bounds(geom: Any) -> list[list[float]]:
    """[[south, west], [north, east]] of one geometry or an array of them."""
    w, s, e, n = shapely.total_bounds(geom)
    return [[round(float(s), 5), round(float(w), 5)], [round(float(n), 5), round(float(e), 5)]]


def with_points(bounds: list[list[float]], sites: list[dict[str, Any]]) -> list[list[float]]:
    """Bounds grown to hold every building too (a hospital may lie outside all catchments)."""
    if not sites:
        return bounds
    lats = [s["lat"] for s in sites]
    lons = [s["lon"] for s in sites]
    return [
        [min(bounds[0][0], *lats), min(bounds[0][1], *lons)],
        [max(bounds[1][0], *lats), max(bounds[1][1], *lons)],
    ]


def _lonlat(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    pts = frame.geometry.to_crs(GEOGRAPHIC_CRS)
    return np.round(pts.x.to_numpy(), 6), np.round(pts.y.to_numpy(), 6)


# --- records -----------------------------------------------------------------


def _num(value: Any, digits: int = 1) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return round(x, digits) if math.isfinite(x) else None


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _pcn_records(
    plan: Plan,
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]], list[list[float]]]:
    ds = plan.dataset
    pcns = ds.pcns.reset_index(drop=True)
    summary = plan.pcn_summary.set_index("pcn_code")
    points = gpd.GeoSeries(catchment_points(pcns, ds.lsoas), crs=pcns.crs).to_crs(GEOGRAPHIC_CRS)
    shapes = display_geometry(pcns, SIMPLIFY_M["pcns"], drop_slivers=True)
    records: list[dict[str, Any]] = []
    for i, row in pcns.iterrows():
        code = str(row["pcn_code"])
        s = summary.loc[code] if code in summary.index else pd.Series(dtype=object)
        before, after = _num(s.get("travel_before_km"), 2), _num(s.get("travel_after_km"), 2)
        records.append(
            {
                "code": code,
                "name": _text(row.get("pcn_name")),
                "borough": _text(row.get("borough")),
                "lat": round(float(points.iloc[i].y), 5),
                "lon": round(float(points.iloc[i].x), 5),
                "bounds": _bounds(shapes[i]),
                "population": _num(s.get("population"), 0),
                "registered": _num(s.get("registered_patients"), 0),
                "demand": _num(s.get("demand_hours")),
                "met": _num(s.get("met_hours")),
                "unmet": _num(s.get("unmet_hours")),
                "travelBefore": before,
                "travelAfter": after,
                "travelChange": None
                if before is None or after is None
                else round(after - before, 2),
                "moved": _num(s.get("hours_moved")),
                "eaDemand": _num(s.get("enhanced_access_demand_hours")),
                "eaMet": _num(s.get("enhanced_access_met_hours")),
                "eaEvening": _num(s.get("enhanced_access_evening_hours")),
                "eaEveningBefore": _num(s.get("enhanced_access_evening_hours_before")),
                "eaSaturday": _num(s.get("enhanced_access_saturday_hours")),
                "eaSaturdayBefore": _num(s.get("enhanced_access_saturday_hours_before")),
                "eaContractMet": None
                if s.get("enhanced_access_contract_met") is None
                else bool(s.get("enhanced_access_contract_met")),
            }
        )
    shading = _shading(records)
    props = [
        {"i": i, "fill": {s["key"]: s["colours"][i] for s in shading}} for i in range(len(records))
    ]
    for s in shading:
        del s["colours"]
    areas = feature_collection(shapes, props)
    return records, areas, shading, _bounds(shapes)


def catchment_points(pcns: gpd.GeoDataFrame, lsoas: gpd.GeoDataFrame) -> list[Any]:
    """Where a catchment's flow lines start: the population-weighted centre of its LSOAs.

    Travel is measured from where people live, so lines start there; if that
    centre falls outside a crescent-shaped catchment, the polygon's
    representative point (always inside) is used instead.
    """
    fallback = pcns.geometry.representative_point()
    cents = lsoas.geometry.centroid
    frame = pd.DataFrame(
        {
            "pcn_code": lsoas["pcn_code"].to_numpy(),
            "w": lsoas["population"].astype(float).clip(lower=0).to_numpy(),
            "x": cents.x.to_numpy(),
            "y": cents.y.to_numpy(),
        }
    )
    frame = frame[frame["w"] > 0]
    sums = (
        frame.assign(wx=frame["w"] * frame["x"], wy=frame["w"] * frame["y"])
        .groupby("pcn_code")[["w", "wx", "wy"]]
        .sum()
    )
    out = []
    for code, geom, backup in zip(pcns["pcn_code"], pcns.geometry, fallback, strict=True):
        if code in sums.index:
            w, wx, wy = sums.loc[code]
            point = shapely.Point(wx / w, wy / w)
            if geom is not None and geom.buffer(1.0).contains(point):
                out.append(point)
                continue
        out.append(backup)
    return out


def _context_outlines(pcns: gpd.GeoDataFrame) -> list[dict[str, Any] | None]:
    """Coarser catchment outlines (GeoJSON geometries) for neighbours drawn as context."""
    import json

    shapes = display_geometry(pcns.reset_index(drop=True), SIMPLIFY_M["context"], drop_slivers=True)
    return [
        None if g is None or shapely.is_empty(g) else json.loads(shapely.to_geojson(g))
        for g in shapes
    ]


def _classify(
    values: list[float | None], breaks: list[float], colours: tuple[str, ...]
) -> list[str]:
    out = []
    for v in values:
        if v is None:
            out.append(NO_DATA)
        else:
            out.append(colours[int(np.searchsorted(breaks, v, side="right"))])
    return out


def _nice(x: float) -> float:
    if x <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(x))
    return round(x, digits)


def _quantile_breaks(values: list[float], n: int) -> list[float]:
    data = np.asarray([v for v in values if v is not None], float)
    if not len(data):
        return []
    qs = np.quantile(data, [k / n for k in range(1, n)])
    return sorted({_nice(float(q)) for q in qs if q > 0})


def _range_labels(breaks: list[float], unit: str, fmt: str = "{:,.0f}") -> list[str]:
    if not breaks:
        return [f"all ({unit})"]
    labels = [f"under {fmt.format(breaks[0])} {unit}"]
    labels += [
        f"{fmt.format(a)}-{fmt.format(b)} {unit}" for a, b in zip(breaks, breaks[1:], strict=False)
    ]
    labels.append(f"{fmt.format(breaks[-1])} {unit} or more")
    return labels


def _shading(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three choropleth keys for the PCN catchments, each with its legend."""
    pop = [r["population"] for r in records]
    pop_breaks = _quantile_breaks([p for p in pop if p is not None], 5)
    pop_colours = POPULATION_COLOURS[-(len(pop_breaks) + 1) :]
    unmet = [r["unmet"] for r in records]
    positive = [u for u in unmet if u is not None and u > 0.05]
    unmet_breaks = [0.05, *(b for b in _quantile_breaks(positive, 4) if b > 0.05)]
    unmet_colours = UNMET_COLOURS[: len(unmet_breaks) + 1]
    unmet_labels = ["none", *_range_labels(unmet_breaks, "h/week", "{:,.1f}")[1:]]
    travel = [r["travelChange"] for r in records]
    return [
        {
            "key": "population",
            "label": "Catchment population",
            "legend": Legend(
                "Population (LSOA residents)",
                list(zip(pop_colours, _range_labels(pop_breaks, "people"), strict=True)),
            ).record(),
            "colours": _classify(pop, pop_breaks, pop_colours),
        },
        {
            "key": "unmet",
            "label": "Unmet hours",
            "legend": Legend(
                "Unmet demand after the plan", list(zip(unmet_colours, unmet_labels, strict=True))
            ).record(),
            "colours": _classify(unmet, unmet_breaks, unmet_colours),
        },
        {
            "key": "travel",
            "label": "Change in travel",
            "legend": Legend(
                "Change in population-weighted travel (after - before)",
                list(zip(TRAVEL_COLOURS, TRAVEL_LABELS, strict=True)),
            ).record(),
            "colours": _classify(travel, list(TRAVEL_BREAKS), TRAVEL_COLOURS),
        },
    ]


def _site_records(
    plan: Plan,
    alloc: pd.DataFrame,
    services: pd.DataFrame,
    pcns: list[dict[str, Any]],
    pcn_index: dict[str, int],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    ds = plan.dataset
    premises = ds.premises.reset_index(drop=True)
    lon, lat = _lonlat(premises)
    util = plan.utilisation
    opened = {(str(s), str(b)) for s, b in plan.opened}
    room_order = {r: i for i, r in enumerate(ROOM_TYPES)}
    band_order = {b: i for i, b in enumerate(BANDS)}
    rows_by_site: dict[str, list[list[Any]]] = {}
    use_by_site: dict[str, dict[str, list[float]]] = {}
    ordered = util.assign(
        _b=util["band"].map(band_order).fillna(99), _r=util["room_type"].map(room_order).fillna(99)
    ).sort_values(["site_id", "_b", "_r"])
    for r in ordered.itertuples(index=False):
        site, band = str(r.site_id), str(r.band)
        rows_by_site.setdefault(site, []).append(
            [
                band,
                ROOM_LABELS.get(str(r.room_type), str(r.room_type)),
                _num(r.capacity_hours),
                _num(r.fixed_hours),
                _num(r.before_hours),
                _num(r.after_hours),
                1 if (site, band) in opened else 0,
            ]
        )
        use = use_by_site.setdefault(site, {}).setdefault(band, [0.0, 0.0, 0.0])
        use[0] += float(r.capacity_hours)
        use[1] += float(r.before_hours)
        use[2] += float(r.after_hours)
    names = services["name"]
    hosted = (
        alloc[alloc["hours_per_week"] > EPS]
        .groupby(["site_id", "service_id", "pcn_code"], as_index=False)["hours_per_week"]
        .sum()
        .sort_values(["site_id", "service_id", "hours_per_week"], ascending=[True, True, False])
    )
    hosts: dict[str, list[list[Any]]] = {}
    current: tuple[str, str] | None = None
    for site, service, pcn, hours in zip(
        hosted["site_id"],
        hosted["service_id"],
        hosted["pcn_code"],
        hosted["hours_per_week"],
        strict=True,
    ):
        if (site, service) != current:
            current = (site, service)
            hosts.setdefault(str(site), []).append([_text(names.get(service, service)), []])
        hosts[str(site)][-1][1].append([_pcn_label(str(pcn), pcns, pcn_index), _num(hours)])
    records: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for i, row in premises.iterrows():
        site = str(row["site_id"])
        site_use = {b: [round(v, 1) for v in vals] for b, vals in use_by_site.get(site, {}).items()}
        capacity = sum(v[0] for v in site_use.values())
        pcn = _text(row.get("pcn_code"))
        index[site] = len(records)
        records.append(
            {
                "id": site,
                "name": _text(row.get("name")) or site,
                "kind": _text(row.get("kind")) if row.get("kind") in SITE_KINDS else "community",
                "lat": float(lat[i]),
                "lon": float(lon[i]),
                "r": marker_radius(capacity),
                "pcn": _pcn_label(pcn, pcns, pcn_index) if pcn else "",
                "pcnCode": pcn,
                "borough": _text(row.get("borough")),
                "use": site_use,
                "rows": rows_by_site.get(site, []),
                "hosts": hosts.get(site, []),
            }
        )
    return records, index


def _pcn_label(code: str, pcns: list[dict[str, Any]], index: dict[str, int]) -> str:
    i = index.get(code)
    return f"{pcns[i]['name']} ({code})" if i is not None else code


def _flows(
    frame: pd.DataFrame,
    column: str,
    mode: str,
    pcn_index: dict[str, int],
    site_index: dict[str, int],
) -> list[list[Any]]:
    """[pcn, site, category, band, mode, hours] per (PCN, building, band, category)."""
    if frame.empty:
        return []
    grouped = frame.groupby(["pcn_code", "site_id", "band", "category"], as_index=False)[
        column
    ].sum()
    grouped = grouped[grouped[column] > EPS].sort_values(column, ascending=False)
    return [
        [pcn_index[str(p)], site_index[str(s)], str(c), str(b), mode, round(float(h), 2)]
        for p, s, b, c, h in zip(
            grouped["pcn_code"],
            grouped["site_id"],
            grouped["band"],
            grouped["category"],
            grouped[column],
            strict=True,
        )
    ]


def _borough_layer(
    boroughs: gpd.GeoDataFrame | None,
) -> tuple[dict[str, Any] | None, list[list[Any]]]:
    if boroughs is None or boroughs.empty:
        return None, []
    frame = boroughs.reset_index(drop=True)
    shapes = display_geometry(frame, SIMPLIFY_M["boroughs"], drop_slivers=True)
    names = [_text(b) for b in frame["borough"]]
    points = frame.geometry.representative_point().to_crs(GEOGRAPHIC_CRS)
    areas = frame.geometry.area / 1e6
    labels = [
        [n, round(float(p.y), 5), round(float(p.x), 5), round(float(a), 1)]
        for n, p, a in zip(names, points, areas, strict=True)
    ]
    return feature_collection(shapes, [{"name": n} for n in names]), labels


def lsoa_layer(data: MapData, pcn_code: str) -> dict[str, Any]:
    """One PCN's LSOAs as GeoJSON, shaded by IMD decile (1 = most deprived 10%)."""
    frame = data.lsoas[data.lsoas["pcn_code"] == pcn_code]
    props = []
    for r in frame.itertuples(index=False):
        decile = int(r.imd_decile) if pd.notna(r.imd_decile) else None
        props.append(
            {
                "code": str(r.lsoa_code),
                "name": _text(r.lsoa_name),
                "population": _num(r.population, 0),
                "imd": decile,
                "fill": IMD_COLOURS[min(max(decile, 1), 10) - 1] if decile else NO_DATA,
            }
        )
    return feature_collection(frame["display"].to_numpy(), props)


def imd_legend() -> dict[str, Any]:
    """The IMD decile key for hub maps."""
    items = [
        (c, f"decile {i}" + (" (most deprived 10%)" if i == 1 else ""))
        for i, c in enumerate(IMD_COLOURS, start=1)
    ]
    items[-1] = (IMD_COLOURS[-1], "decile 10 (least deprived)")
    record = Legend("LSOA deprivation (IMD 2019 decile)", items).record()
    record["ramp"] = ["1 most deprived", "10 least"]
    return record


def imd_profile(data: MapData, pcn_code: str) -> dict[str, float | None]:
    """Population share in the two most deprived deciles, and the population-weighted mean."""
    frame = data.lsoas[data.lsoas["pcn_code"] == pcn_code]
    pop = frame["population"].astype(float)
    decile = frame["imd_decile"].astype(float)
    total = float(pop.sum())
    if total <= 0:
        return {"share_deciles_1_2": None, "mean_decile": None}
    return {
        "share_deciles_1_2": float(pop[decile <= 2].sum() / total),
        "mean_decile": float((pop * decile).sum() / total),
    }


def sessions(hours: float, band: str) -> float:
    """Hours per week in ``band`` as sessions (4 h core, 1.5 h evening)."""
    return hours / SESSION_HOURS.get(band, 4.0)
