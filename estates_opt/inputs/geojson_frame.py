"""Build a GeoDataFrame straight from already-parsed GeoJSON, so the file is parsed once.

The checks in :mod:`estates_opt.inputs.geojson` parse every GeoJSON file with :mod:`json`;
handing the same file to GDAL parsed it a second time (the larger part of reading the
England dataset). For a *plain* file (a FeatureCollection of Points, Polygons and
MultiPolygons in longitude/latitude, whose properties are text, numbers or booleans of
one type per property) the frame GDAL would build is rebuilt here from the parsed
document, with the same columns, dtypes, values and shapes. Anything less plain (a
``crs`` member, feature ids, nested values, text GDAL might read as a date, a property
with no value anywhere...) returns None and the file is read by GDAL as before.
"""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from estates_opt.schema import GEOGRAPHIC_CRS

#: Members a plain FeatureCollection and its Features may have.
_COLLECTION_KEYS = frozenset({"type", "features"})
_FEATURE_KEYS = frozenset({"type", "properties", "geometry"})
#: A property name GDAL keeps as it is (no renaming, no clash with its own fields).
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_RESERVED = frozenset({"id", "fid", "ogc_fid", "geometry"})
#: Text GDAL's GeoJSON driver may take for a date, a time or a date-time.
_DATE_LIKE = re.compile(r"^[^\S\n]*\d{1,4}[-/:.]\d", re.MULTILINE)
#: Largest magnitude of a GDAL 32-bit integer field; larger whole numbers are 64-bit.
_INT32 = 2**31 - 1
_INT64 = 2**63 - 1


def plain_frame(doc: dict[str, Any], raw: bytes) -> gpd.GeoDataFrame | None:
    """The frame GDAL would read from ``doc`` (checked GeoJSON parsed from ``raw``), or
    None if it is not plain."""
    if set(doc) - _COLLECTION_KEYS:
        return None
    features = doc["features"]
    rows: list[dict[str, Any]] = []
    geometries: list[Any] = []
    for feature in features:
        if set(feature) - _FEATURE_KEYS or not isinstance(feature.get("properties"), dict):
            return None
        rows.append(feature["properties"])
        geometries.append(feature.get("geometry"))
    # JSON true/false would pass as coordinates 1/0: look for them only if the text has any.
    shapes = _shapes(geometries, booleans=b"true" in raw or b"false" in raw)
    if shapes is None:
        return None
    columns = _columns(rows)
    if columns is None:
        return None
    frame = pd.DataFrame(columns)
    frame["geometry"] = gpd.GeoSeries(shapes, crs=GEOGRAPHIC_CRS)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=GEOGRAPHIC_CRS)


def _columns(rows: list[dict[str, Any]]) -> dict[str, pd.Series] | None:
    """Each property as GDAL types it, in order of first appearance; None if not plain."""
    names: dict[str, None] = {}
    for props in rows:
        names.update(dict.fromkeys(props))
    if len({name.lower() for name in names}) != len(names):
        return None  # GDAL matches field names regardless of case
    columns: dict[str, pd.Series] = {}
    for name in names:
        if not _PLAIN_NAME.match(name) or name.lower() in _RESERVED:
            return None
        series = _column([props.get(name) for props in rows])
        if series is None:
            return None
        columns[name] = series
    return columns


def _column(values: list[Any]) -> pd.Series | None:
    """One property's values as GDAL types them (text, whole or real numbers, booleans)."""
    kinds = {type(v) for v in values}
    present = kinds - {type(None)}
    if present == {str}:
        # One search over all the values, each starting a line (a value's own line breaks
        # only add places to look, so nothing date-like is missed).
        joined = "\n".join(v for v in values if v is not None)
        if "\x00" in joined or _DATE_LIKE.search(joined):
            return None
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape
            return None
        return pd.Series(values)
    if type(None) in kinds:
        return None  # GDAL's handling of missing numbers and booleans: leave it to GDAL
    if present == {bool}:
        return pd.Series(values, dtype=bool)
    if present == {int}:
        largest = max(abs(v) for v in values)
        if largest > _INT64:
            return None
        return pd.Series(values, dtype="int32" if largest <= _INT32 else "int64")
    if present <= {int, float} and present:
        try:
            return pd.Series(np.array(values, dtype=float))
        except OverflowError:
            return None
    return None


def _shapes(geometries: list[Any], *, booleans: bool) -> np.ndarray | None:
    """Shapely geometries of Points, Polygons and MultiPolygons (None kept); else None."""
    shapes = np.full(len(geometries), None, dtype=object)
    kinds: dict[str, list[int]] = {"Point": [], "Polygon": [], "MultiPolygon": []}
    for i, geometry in enumerate(geometries):
        if geometry is None:
            continue
        if set(geometry) != {"type", "coordinates"} or geometry["type"] not in kinds:
            return None
        kinds[geometry["type"]].append(i)
    try:
        for kind, positions in kinds.items():
            if positions:
                built = _build(kind, [geometries[i]["coordinates"] for i in positions], booleans)
                if built is None:
                    return None
                shapes[positions] = built
    except (TypeError, ValueError, OverflowError):
        return None
    return shapes


def _positions(positions: list[Any], booleans: bool) -> np.ndarray | None:
    """An (n, 2) float array of JSON positions, or None unless each is two plain numbers."""
    array = np.array(positions)
    if array.ndim != 2 or array.shape[1] != 2 or array.dtype.kind not in "if":
        return None  # text, null, nesting, a third coordinate or huge integers
    if booleans and any(type(x) is bool for position in positions for x in position):
        return None
    return array.astype(float, copy=False)


def _build(kind: str, coordinates: list[Any], booleans: bool) -> np.ndarray | None:
    """Geometries of one kind from their coordinate lists, or None if one is not plain."""
    if kind == "Point":
        points = _positions(coordinates, booleans)
        return None if points is None else shapely.points(points)
    polygons = [[c] for c in coordinates] if kind == "Polygon" else coordinates
    parts: list[int] = []  # polygons per geometry
    rings: list[int] = []  # rings per polygon
    positions: list[int] = []  # positions per ring
    flat: list[Any] = []
    for geometry in polygons:
        if not isinstance(geometry, list) or not geometry:
            return None
        parts.append(len(geometry))
        for polygon in geometry:
            if not isinstance(polygon, list) or not polygon:
                return None
            rings.append(len(polygon))
            for ring in polygon:
                positions.append(len(ring))
                flat.extend(ring)
    coords = _positions(flat, booleans)
    if coords is None:
        return None
    ring_offsets = np.concatenate([[0], np.cumsum(positions)])
    polygon_offsets = np.concatenate([[0], np.cumsum(rings)])
    if kind == "Polygon":
        return shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, coords, (ring_offsets, polygon_offsets)
        )
    return shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON,
        coords,
        (ring_offsets, polygon_offsets, np.concatenate([[0], np.cumsum(parts)])),
    )
