"""Checking a geometry table: its CRS, and each shape's presence, type, validity and place.

Kept apart from the cell checks because it needs shapely and a reprojection
to longitude/latitude, and its problems are filed as CRS or geometry problems.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from estates_opt.errors import Problem
from estates_opt.inputs.geojson import REPORTED_SHAPES
from estates_opt.inputs.problems import ProblemCollector, row_label
from estates_opt.schema import GEOGRAPHIC_CRS, FileSpec

#: Longitude/latitude box around Great Britain: a point outside it is out of area.
GB_BOUNDS = (-8.7, 49.8, 1.9, 60.9)


def check_geometry(
    frame: gpd.GeoDataFrame,
    spec: FileSpec,
    problems: ProblemCollector,
    label: str | None = None,
    *,
    geojson_file: bool | None = None,
) -> None:
    """Missing or non-geographic CRS; null, empty, invalid, wrong-type or out-of-area shapes.

    ``geojson_file`` says the frame was read from a GeoJSON file, which must be
    longitude/latitude; by default it is guessed from the label's suffix.
    """
    file = label or spec.name
    if geojson_file is None:
        geojson_file = file.endswith(".geojson")
    crs = _crs_problem(frame, file, geojson_file)
    if crs is not None:
        problems.crs.append(crs)
        return
    problems.geometry.extend(_shape_problems(frame, spec, file))
    problems.geometry.extend(_outside_great_britain(frame, spec, file))


def _crs_problem(frame: gpd.GeoDataFrame, file: str, geojson_file: bool) -> Problem | None:
    """No CRS at all, or a projected one in a GeoJSON file (which must be lon/lat)."""
    if frame.crs is None:
        return Problem(
            file,
            "has no coordinate reference system.",
            fix=f"save it with CRS {GEOGRAPHIC_CRS} (longitude/latitude).",
        )
    if geojson_file and not frame.crs.is_geographic:
        return Problem(
            file,
            f"declares the projected CRS {frame.crs.to_string()}; GeoJSON input must be "
            "longitude/latitude.",
            fix=f"reproject it to {GEOGRAPHIC_CRS} before saving.",
        )
    return None


def _shape_problems(frame: gpd.GeoDataFrame, spec: FileSpec, file: str) -> list[Problem]:
    """Null, empty, wrong-type and invalid shapes, one problem per feature."""
    geoms = frame.geometry
    # Vectorised screening; only the features that fail are looked at one by one.
    shapes = np.asarray(geoms.array, dtype=object)
    missing = shapely.is_missing(shapes)
    empty = ~missing & shapely.is_empty(shapes)
    wrong = ~missing & ~empty & ~np.isin(geoms.geom_type.to_numpy(), spec.geometry_types)
    invalid = ~missing & ~empty & ~wrong & ~shapely.is_valid(shapes)
    found = []
    reported = frame.attrs.get(REPORTED_SHAPES, frozenset())  # its broken shapes, named
    for i in np.flatnonzero(missing | empty | wrong | invalid).tolist():
        pos, geom = frame.index[i], shapes[i]
        if pos in reported:
            continue
        row = row_label(frame, pos, spec.key)
        if geom is None:
            found.append(Problem(file, "has no geometry.", row=row, fix="add the location."))
        elif geom.is_empty:
            found.append(Problem(file, "has an empty geometry.", row=row, fix="add the location."))
        elif geom.geom_type not in spec.geometry_types:
            found.append(
                Problem(
                    file,
                    f"geometry is a {geom.geom_type}; expected {' or '.join(spec.geometry_types)}.",
                    row=row,
                    fix="export the right geometry type.",
                )
            )
        elif not geom.is_valid:
            found.append(
                Problem(
                    file,
                    "geometry is invalid (e.g. self-intersecting).",
                    row=row,
                    fix="repair it (QGIS 'Fix geometries' or shapely.make_valid).",
                )
            )
    return found


def _outside_great_britain(frame: gpd.GeoDataFrame, spec: FileSpec, file: str) -> list[Problem]:
    """Shapes whose longitude/latitude bounds leave the box around Great Britain."""
    geoms = frame.geometry
    usable = ~(geoms.isna() | geoms.is_empty)  # notna() warns when a shape is empty
    if not usable.any():
        return []
    bounds = frame.loc[usable].geometry.to_crs(GEOGRAPHIC_CRS).bounds
    outside = (
        (bounds["minx"] < GB_BOUNDS[0])
        | (bounds["miny"] < GB_BOUNDS[1])
        | (bounds["maxx"] > GB_BOUNDS[2])
        | (bounds["maxy"] > GB_BOUNDS[3])
        | ~np.isfinite(bounds).all(axis=1)
    )
    return [
        Problem(
            file,
            "lies outside Great Britain (coordinates swapped, or in the wrong CRS?).",
            row=row_label(frame, pos, spec.key),
            fix="check the coordinates are longitude, latitude in EPSG:4326.",
        )
        for pos in bounds.index[outside.to_numpy()]
    ]
