"""Drawing geometry: catchments and buildings simplified, projected and rounded for the browser.

Geometries are projected to WGS84, lightly simplified and rounded to 5 decimal places
(about 1 m), which keeps the whole-ICS page small without visible change at map scales.
Only drawing uses these shapes; the model never sees them.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from estates_opt.schema import GEOGRAPHIC_CRS

#: Display simplification in metres (EPSG:27700) before projecting to WGS84.
SIMPLIFY_M = {"pcns": 15.0, "lsoas": 5.0, "boroughs": 25.0, "context": 50.0}
#: Holes smaller than this (m²) are slivers left by dissolving LSOAs, not enclaves: the
#: smallest NEL LSOA is about 27,000 m². Drawn, they show as stray lines inside a catchment.
SLIVER_M2 = 10_000.0
COORD_DECIMALS = 5


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


def bounds_of(geom: Any) -> list[list[float]]:
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


def lonlat(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (WGS84, 6 dp) of a frame of points."""
    pts = frame.geometry.to_crs(GEOGRAPHIC_CRS)
    return np.round(pts.x.to_numpy(), 6), np.round(pts.y.to_numpy(), 6)


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


def context_outlines(pcns: gpd.GeoDataFrame) -> list[dict[str, Any] | None]:
    """Coarser catchment outlines (GeoJSON geometries) for neighbours drawn as context."""
    import json

    shapes = display_geometry(pcns.reset_index(drop=True), SIMPLIFY_M["context"], drop_slivers=True)
    return [
        None if g is None or shapely.is_empty(g) else json.loads(shapely.to_geojson(g))
        for g in shapes
    ]
