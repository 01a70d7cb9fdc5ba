"""Reading geometry files, checking GeoJSON's structure, CRS and coordinates first."""

from __future__ import annotations

import io
import json
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj

from estates_opt.errors import Problem
from estates_opt.inputs.cells import control_character_problem
from estates_opt.inputs.geojson_frame import plain_frame

#: Every ASCII digit read as "0" and "E" as "e", to look for the shapes of huge numbers below.
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789E", b"0000000000e")
#: A number JSON may write that a float cannot hold (1e999, or 300+ digits) loads as inf. Its
#: shapes once digits read "0": a digit then a positive exponent of 3+ digits, or 300 digits.
_HUGE_SHAPES = (b"0e000", b"0e+000", b"0" * 300)
GEOJSON_FIX = "export the layer again as GeoJSON (RFC 7946: UTF-8, longitude/latitude)."


def _non_finite_word(value: float) -> str:
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _first_non_finite(value: Any) -> float | None:
    """The first NaN or infinite number anywhere inside a JSON value, else None."""
    if isinstance(value, float) and not math.isfinite(value):
        return value
    if isinstance(value, list):
        for item in value:
            found = _first_non_finite(item)
            if found is not None:
                return found
    if isinstance(value, dict):
        return _first_non_finite(list(value.values()))
    return None


def _may_overflow(raw: bytes) -> bool:
    """Whether the JSON text may hold a number too large for a float (so it loads as inf).

    A quick superset test over the bytes (UTF-8 never uses ASCII bytes inside other
    characters): a JSON exponent always follows a digit, and a float overflows only with a
    positive exponent of 3 or more digits or 309 or more digits before the point.
    """
    shaped = raw.translate(_DIGITS_AS_ZERO)
    return any(shape in shaped for shape in _HUGE_SHAPES)


def _ring_problem(geometry: dict) -> str | None:
    """Polygon rings GEOS refuses to build (it then rejects the whole file, naming no
    feature), and a Point whose coordinates are not numbers (read as no geometry)."""
    coordinates = geometry.get("coordinates")
    if geometry.get("type") == "Point":
        if isinstance(coordinates, list) and not all(type(c) in (int, float) for c in coordinates):
            bad = next(c for c in coordinates if type(c) not in (int, float))
            return f"has a coordinate that is not a number ({str(bad)[:20]!r})"
        return None
    if geometry.get("type") == "Polygon":
        polygons: list[Any] = [coordinates]
    elif geometry.get("type") == "MultiPolygon":
        polygons = list(coordinates) if isinstance(coordinates, list) else []
    else:
        return None
    if not isinstance(polygons, list) or not all(isinstance(p, list) for p in polygons):
        return "has polygon coordinates that are not lists of rings"
    for polygon in polygons:
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4 or ring[0] != ring[-1]:
                return "has a polygon ring that is not closed (4 or more points, last = first)"
    return None


def _crs_member_problem(name: str, crs: Any) -> Problem | None:
    """A ``crs`` member GDAL would silently ignore (so coordinates are taken as lon/lat)."""
    fix = (
        "remove the 'crs' member and save longitude/latitude (EPSG:4326), "
        "as RFC 7946 GeoJSON requires."
    )
    if crs is None:
        return None
    declared = None
    if isinstance(crs, dict) and isinstance(crs.get("properties"), dict):
        props = crs["properties"]
        if crs.get("type") == "name" and isinstance(props.get("name"), str):
            declared = props["name"]
        elif crs.get("type") == "EPSG" and isinstance(props.get("code"), int | str):
            declared = f"EPSG:{props['code']}"
        elif crs.get("type") == "link":
            return None  # GDAL resolves links itself
    if declared is None:
        return Problem(name, f"has a 'crs' member that is not a CRS ({str(crs)[:60]}).", fix=fix)
    try:
        pyproj.CRS.from_user_input(declared)
    except pyproj.exceptions.CRSError:
        return Problem(
            name, f"declares the CRS '{declared[:60]}', which is not a known CRS.", fix=fix
        )
    return None


@dataclass(frozen=True)
class _Parsed:
    """A GeoJSON file's bytes and parsed document, and whether any number may be non-finite."""

    raw: bytes
    doc: Any
    maybe_infinite: bool


def _parse(path: Path) -> _Parsed | Problem:
    """The file parsed as JSON (NaN and Infinity load as floats), or the problem that stops it."""
    name = path.name
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return Problem(
            name,
            f"is not UTF-8 text (bad byte at line {line}).",
            fix="save it as UTF-8; GeoJSON is always UTF-8.",
        )
    constants: list[str] = []  # NaN, Infinity, -Infinity as written

    def constant(word: str) -> float:
        constants.append(word)
        return float(word)

    try:
        doc = json.loads(text, parse_constant=constant)  # NaN... load as floats; reported later
    except json.JSONDecodeError as exc:
        return Problem(
            name,
            f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).",
            fix=GEOJSON_FIX,
        )
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        return Problem(name, f"is not valid JSON ({str(exc)[:80]}).", fix=GEOJSON_FIX)
    # Without a NaN/Infinity literal or a number that overflows to infinity, every number is
    # finite: skip looking at each one.
    return _Parsed(raw, doc, bool(constants) or _may_overflow(raw))


def _collection_problem(name: str, doc: Any, *, allow_empty: bool = False) -> Problem | None:
    """The problem if ``doc`` is not a FeatureCollection with a features list, non-empty
    unless ``allow_empty``."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return Problem(name, "is not a GeoJSON FeatureCollection.", fix=GEOJSON_FIX)
    features = doc.get("features")
    if not isinstance(features, list):
        return Problem(name, "has no 'features' list.", column="features", fix=GEOJSON_FIX)
    if not features and not allow_empty:
        return Problem(name, "has no features.", fix="add the features, or export the layer again.")
    return None


def _feature_label(number: int, props: Any, key: tuple[str, ...]) -> str:
    """'feature 3 (site_id=F84012)': made only for a feature with a problem."""
    row = f"feature {number}"
    if isinstance(props, dict):
        ids = [f"{k}={props[k]}" for k in key if isinstance(props.get(k), str | int)]
        row += f" ({', '.join(ids)})" if ids else ""
    return row


def _plainly_sound(feature: Any) -> bool:
    """A quick yes for a Feature whose properties and geometry :func:`_feature_problems`
    would pass (numbers aside); False means only "look closer"."""
    if type(feature) is not dict or feature.get("type") != "Feature":
        return False
    if type(feature.get("properties")) is not dict:
        return False
    geometry = feature.get("geometry")
    if geometry is None:
        return True
    return (
        type(geometry) is dict
        and type(geometry.get("type")) is str
        and _ring_problem(geometry) is None
    )


def _feature_problems(
    name: str, number: int, feature: Any, key: tuple[str, ...], maybe_infinite: bool
) -> list[Problem]:
    """What is wrong with one feature: its type, properties, geometry and numbers."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return [
            Problem(
                name, "is not a GeoJSON Feature object.", row=f"feature {number}", fix=GEOJSON_FIX
            )
        ]
    problems: list[Problem] = []
    props = feature.get("properties")
    geometry = feature.get("geometry")
    labelled = props  # the label names the ids of the properties as written

    def label() -> str:  # made only for a feature with a problem (most have none)
        return _feature_label(number, labelled, key)

    if props is not None and not isinstance(props, dict):
        problems.append(
            Problem(name, "'properties' is not an object.", row=label(), fix=GEOJSON_FIX)
        )
        props = {}
    if geometry is not None and not (
        isinstance(geometry, dict) and isinstance(geometry.get("type"), str)
    ):
        problems.append(
            Problem(
                name,
                f"geometry {str(geometry)[:40]!r} is not a GeoJSON geometry object.",
                row=label(),
                fix=GEOJSON_FIX,
            )
        )
        geometry = None
    ring = _ring_problem(geometry) if geometry is not None else None
    if ring is not None:
        problems.append(
            Problem(name, f"geometry {ring}.", row=label(), fix="repair or redraw the shape.")
        )
    if maybe_infinite:
        problems += _non_finite_problems(name, label, props, geometry)
    return problems


def _non_finite_problems(
    name: str, label: Callable[[], str], props: Any, geometry: Any
) -> list[Problem]:
    """A problem for each property, and the geometry, holding NaN or an infinite number."""
    problems = []
    for column, value in (props or {}).items():
        bad = _first_non_finite(value)
        if bad is not None:
            problems.append(
                Problem(
                    name,
                    f"{_non_finite_word(bad)} is not a finite number.",
                    row=label(),
                    column=str(column)[:60],
                    fix="write a finite number, or null for a missing value.",
                )
            )
    bad = _first_non_finite(geometry)
    if bad is not None:
        problems.append(
            Problem(
                name,
                f"geometry has a coordinate that is {_non_finite_word(bad)}.",
                row=label(),
                fix="give finite longitude/latitude coordinates.",
            )
        )
    return problems


#: JSON types each kind of column takes (true/false only where the column is true or
#: false: GDAL reads a JSON true as 1). Numbers as text ("100") pass here, as in a CSV;
#: the cell checks read them.
_TAKES: dict[str, tuple[type, ...]] = {
    "float": (int, float, str),
    "int": (int, float, str),
    "bool": (bool, int, str),
    "str": (str, int, float),
    "list": (str,),
}
_WANTED = {
    "float": "a number",
    "int": "a whole number",
    "bool": "true or false",
    "str": "text",
    "list": "text, its items separated by ';'",
}
_JSON_TYPE = {bool: "true/false", list: "a list", dict: "an object", str: "text"}


def _property_type_problems(
    name: str, features: list[Any], kinds: Mapping[str, str], key: tuple[str, ...]
) -> list[Problem]:
    """Properties whose JSON type does not fit their column: GDAL would read ``true`` as 1
    and a list as its text, so a slip would pass as data."""
    problems: list[Problem] = []
    for column, kind in kinds.items():
        takes = _TAKES[kind]
        for number, feature in enumerate(features, start=1):
            props = feature.get("properties") if isinstance(feature, dict) else None
            value = props.get(column) if isinstance(props, dict) else None
            if value is None or type(value) in takes:
                continue
            shown = json.dumps(value, ensure_ascii=False, default=str)[:40]
            problems.append(
                Problem(
                    name,
                    f"is {_JSON_TYPE.get(type(value), type(value).__name__)} ({shown}), "
                    f"not {_WANTED[kind]}.",
                    row=_feature_label(number, props, key),
                    column=column,
                    fix=f"write {_WANTED[kind]} for '{column}'.",
                )
            )
            if len(problems) >= 50:  # a whole column of the wrong type: enough to see it
                return problems
    return problems


def _nul_problems(name: str, doc: dict[str, Any], key: tuple[str, ...]) -> list[Problem]:
    """A problem for each property string holding a NUL, which GDAL would cut short there.

    ``"a\\u0000b"`` is read as ``a`` and ``"AHQ06\\u0000garbage"`` as the valid id
    ``AHQ06``, so the cell must be refused before GDAL reads it. The other control
    characters reach the frame intact and are refused per column with the CSV cells'
    rule (:func:`estates_opt.inputs.cells.coerce_columns`); the message names them all.
    """
    problems = []
    for number, feature in enumerate(doc["features"], start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            continue
        for column, value in props.items():
            if isinstance(value, str) and "\x00" in value:
                message, fix = control_character_problem(value.strip())
                problems.append(
                    Problem(
                        name,
                        message + ".",
                        row=_feature_label(number, props, key),
                        column=str(column)[:60],
                        fix=fix + ".",
                    )
                )
    return problems


def _checked(
    path: Path,
    key: tuple[str, ...],
    *,
    allow_empty: bool = False,
    kinds: Mapping[str, str] | None = None,
) -> tuple[_Parsed | None, list[Problem]]:
    """Check what GDAL would silently drop or misread: encoding, JSON, structure, NaN, NUL.

    The parsed file comes back too (None if it has problems), so it is parsed only once.
    """
    name = path.name
    parsed = _parse(path)
    if isinstance(parsed, Problem):
        return None, [parsed]
    doc = parsed.doc
    collection = _collection_problem(name, doc, allow_empty=allow_empty)
    if collection is not None:
        return None, [collection]
    problems: list[Problem] = []
    crs = _crs_member_problem(name, doc.get("crs"))
    if crs is not None:
        problems.append(crs)
    for number, feature in enumerate(doc["features"], start=1):
        if not parsed.maybe_infinite and _plainly_sound(feature):
            continue  # the usual feature: nothing below would find a problem
        problems += _feature_problems(name, number, feature, key, parsed.maybe_infinite)
    if kinds:
        problems += _property_type_problems(name, doc["features"], kinds, key)
    if b"\\u0000" in parsed.raw:  # JSON writes a NUL only as this escape
        problems += _nul_problems(name, doc, key)
    if not problems and parsed.maybe_infinite and _first_non_finite(doc) is not None:
        problems.append(
            Problem(name, "contains NaN or Infinity, which JSON does not allow.", fix=GEOJSON_FIX)
        )
    return parsed, problems


#: Set on a frame read with its broken shapes left out: the features already reported.
REPORTED_SHAPES = "geometry_reported"


def _without_broken_shapes(
    parsed: _Parsed | None, problems: list[Problem]
) -> gpd.GeoDataFrame | None:
    """The file's frame with the shapes GEOS cannot build left empty, where those are all
    that is wrong with it, so that the rest of the file is checked in the same run (every
    problem at once); the features already reported are in ``attrs[REPORTED_SHAPES]``.
    None where anything else is wrong."""
    if parsed is None:
        return None
    numbers: set[int] = set()
    for problem in problems:
        row = problem.row or ""
        number = row.split(" ")[1] if row.startswith("feature ") else ""
        if problem.column is not None or not problem.message.startswith("geometry "):
            return None
        if not number.isdigit():
            return None
        numbers.add(int(number))
    features = [
        {**f, "geometry": None} if i in numbers else f
        for i, f in enumerate(parsed.doc["features"], start=1)
    ]
    doc = {**parsed.doc, "features": features}
    frame = plain_frame(doc, parsed.raw)
    if frame is None:  # not plain (mixed property types...): as GDAL reads it
        try:
            frame = _gdal_frame(io.BytesIO(json.dumps(doc).encode("utf-8")))
        except Exception:  # GDAL raises several types; the shapes' problems stand alone
            return None
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="feature")
    frame.attrs[REPORTED_SHAPES] = frozenset(numbers)
    return frame


def read_geo_table(
    path: Path,
    key: tuple[str, ...] = (),
    *,
    allow_empty: bool = False,
    kinds: Mapping[str, str] | None = None,
) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """Read a GeoJSON or GeoPackage layer; a file that is not geodata is a problem.

    GeoJSON is checked first for what GDAL would silently drop or misread (features
    that are not Features, geometries that are not geometry objects, NaN, an unknown
    ``crs``, a NUL that would cut a string short); ``key`` names the id properties that
    label a feature in messages. ``allow_empty``: a collection with no features is no fault.
    ``kinds`` (column: schema kind) refuses properties of the wrong JSON type (``true`` for a
    count, a list for a name), which GDAL would read as 1 or as the list's text.
    """
    name = path.name
    if path.stat().st_size == 0:
        return None, [Problem(name, "is empty.", fix="export the layer again as GeoJSON.")]
    if path.suffix == ".geojson":
        parsed, problems = _checked(path, key, allow_empty=allow_empty, kinds=kinds)
        if problems:
            return _without_broken_shapes(parsed, problems), problems
        plain = plain_frame(parsed.doc, parsed.raw) if parsed is not None else None
        if plain is not None:  # built from the parse above, as GDAL would read it
            plain.index = pd.RangeIndex(1, len(plain) + 1, name="feature")
            return plain, []
    try:
        frame = _gdal_frame(path)
    except Exception as exc:  # GDAL raises several types for broken files
        return None, [
            Problem(
                name,
                f"cannot be read as geodata ({str(exc)[:200]}).",
                fix="export the layer again as GeoJSON or GeoPackage.",
            )
        ]
    return frame, []


def _gdal_frame(source: Path | io.BytesIO) -> gpd.GeoDataFrame:
    """The layer as GDAL reads it, features numbered from 1."""
    with warnings.catch_warnings():
        # A property column mixing types (true and "perhaps") stays text; the validator
        # then names each bad cell. Without this, `-W error` turned it into "unreadable".
        warnings.filterwarnings("ignore", "Could not parse column", UserWarning)
        # GDAL's notes on shapes it cannot build (an empty Point): the shape becomes
        # null and the validator reports it with the feature's id.
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyogrio")
        frame = gpd.read_file(source, engine="pyogrio")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="feature")
    return frame
