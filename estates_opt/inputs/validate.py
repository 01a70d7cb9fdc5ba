"""Check raw input tables against the schema and against each other.

Every rule adds a :class:`~estates_opt.errors.Problem` to a collector instead
of raising, so one run reports every fault in every file (OSMnx's
``_report_validation`` idea). :func:`raise_if_problems` raises once, with the
most specific error class that covers them all.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from estates_opt.errors import CRSError, GeometryError, InputDataError, Problem, SchemaError
from estates_opt.inputs.files import STRIPPED_TEXT
from estates_opt.schema import (
    BANDS,
    ENHANCED_ACCESS_BANDS,
    GEOGRAPHIC_CRS,
    ROOM_TYPES,
    Column,
    FileSpec,
)
from estates_opt.text import CONTROL_RE, control_characters

TRUE_WORDS = {"true", "t", "yes", "y", "1"}
FALSE_WORDS = {"false", "f", "no", "n", "0"}

#: Largest whole number a float holds exactly; larger "counts" are typos.
MAX_WHOLE = 2.0**53

#: Longitude/latitude box around Great Britain: a point outside it is out of area.
GB_BOUNDS = (-8.7, 49.8, 1.9, 60.9)


@dataclass
class ProblemCollector:
    """Gathers problems by category so the raised error can be specific."""

    schema: list[Problem] = field(default_factory=list)
    crs: list[Problem] = field(default_factory=list)
    geometry: list[Problem] = field(default_factory=list)

    def all(self) -> list[Problem]:
        """Every problem gathered, schema first, then CRS, then geometry."""
        return [*self.schema, *self.crs, *self.geometry]

    def __bool__(self) -> bool:
        return bool(self.schema or self.crs or self.geometry)


def raise_if_problems(problems: ProblemCollector, source: str) -> None:
    """Raise one error listing every problem, typed by what kind they are."""
    if not problems:
        return
    found = problems.all()
    summary = f"{len(found)} problem{'s' if len(found) != 1 else ''} in the input data at {source}"
    kinds = [bool(problems.schema), bool(problems.crs), bool(problems.geometry)]
    if sum(kinds) > 1:
        raise InputDataError(found, summary=summary)
    if problems.crs:
        raise CRSError(found, summary=summary)
    if problems.geometry:
        raise GeometryError(found, summary=summary)
    raise SchemaError(found, summary=summary)


def _row_label(frame: pd.DataFrame, position: object, key: tuple[str, ...]) -> str:
    """'line 7 (site_id=F84012)' for CSV rows, 'feature 3 (...)' for GeoJSON features."""
    unit = "line" if frame.index.name == "line" else "feature"
    label = f"{unit} {position}"
    ids = []
    for name in key:
        if name in frame.columns:
            value = frame.at[position, name]
            if isinstance(value, str) and value:
                ids.append(f"{name}={value[:80]!s}")
    if ids:
        label += " (" + ", ".join(ids) + ")"
    return label


def _one_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _as_text(values: pd.Series) -> pd.Series:
    """Cells as stripped strings; missing values become ''."""
    if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
        # text (CSV cells, GeoJSON strings): strip each string without a call per cell
        cells = values.to_numpy(dtype=object)
        text = [v.strip() if type(v) is str else _one_text(v) for v in cells]
    elif values.dtype.kind in "fiu":  # numbers, as the Python floats and ints map would pass
        text = [_one_text(v) for v in values.to_numpy().tolist()]
    else:
        return values.map(_one_text).astype(object)
    return pd.Series(text, index=values.index, name=values.name, dtype=object)


def coerce_columns(
    frame: pd.DataFrame, spec: FileSpec, problems: ProblemCollector, label: str | None = None
) -> pd.DataFrame:
    """Return ``frame`` with the spec's columns in canonical dtypes; report bad cells."""
    file = label or spec.name
    out = frame.copy()
    stripped = out.attrs.pop(STRIPPED_TEXT, None) is True  # typed cells are text no more
    present = set(out.columns)
    for column in spec.columns:
        if column.name not in present:
            if column.required:
                names = {str(c).lower(): str(c) for c in present}
                close = difflib.get_close_matches(column.name, list(names), n=1)
                hint = f" (found '{names[close[0]]}': rename it)" if close else ""
                problems.schema.append(
                    Problem(
                        file,
                        f"required column is missing{hint}.",
                        column=column.name,
                        fix=f"add a '{column.name}' column ({column.kind}"
                        + (f", {column.unit}" if column.unit else "")
                        + ").",
                    )
                )
            continue
        out[column.name] = _coerce(out, column, spec, problems, file, stripped=stripped)
    _check_unique(out, spec, problems, file)
    return out


def _numbers(text: pd.Series, column: Column, bad: list[tuple[object, str, str]]) -> pd.Series:
    """A numeric column's values (float64, or Int64 for whole numbers); bad cells to ``bad``."""
    empty = (text == "").to_numpy(dtype=bool, copy=True)
    numbers = pd.to_numeric(text.where(~empty, None), errors="coerce").astype("float64")
    values = numbers.to_numpy()
    # Cells that may be bad (a superset, vectorised); the rules below then name each one.
    with np.errstate(invalid="ignore"):
        suspect = ~np.isfinite(values)
        if column.minimum is not None:
            suspect |= values < column.minimum
        if column.maximum is not None:
            suspect |= values > column.maximum
        if column.kind == "int":
            suspect |= (np.floor(values) != values) | (np.abs(values) > MAX_WHOLE)
    if column.nullable:
        suspect &= ~empty
    else:
        suspect |= empty
    positions = np.flatnonzero(suspect)
    for pos, raw, num in zip(
        text.index[positions], text.iloc[positions], values[positions], strict=True
    ):
        if raw == "":
            if not column.nullable:
                bad.append((pos, "is empty", "enter a number"))
        elif math.isnan(num) and raw.lower() not in ("nan",):
            bad.append((pos, f"'{raw[:40]}' is not a number", "enter a number"))
        elif math.isnan(num) or math.isinf(num):
            bad.append((pos, f"'{raw[:40]}' is not a finite number", "enter a finite number"))
        elif column.minimum is not None and num < column.minimum:
            bad.append((pos, f"{raw} is below the minimum {column.minimum:g}", "correct the value"))
        elif column.maximum is not None and num > column.maximum:
            bad.append((pos, f"{raw} is above the maximum {column.maximum:g}", "correct the value"))
        elif column.kind == "int" and not float(num).is_integer():
            bad.append((pos, f"{raw[:40]} is not a whole number", "enter a whole number"))
        elif column.kind == "int" and abs(num) > MAX_WHOLE:
            bad.append((pos, f"{raw[:40]} is too large", "enter a realistic whole number"))
    result: pd.Series = numbers
    if column.kind == "int":
        # Only values that passed can be cast; the rest (reported above) become missing.
        castable = np.isfinite(numbers) & (numbers.abs() <= MAX_WHOLE)
        result = numbers.where(castable).round().astype("Int64")
    return result


def _coerce(
    frame: pd.DataFrame,
    column: Column,
    spec: FileSpec,
    problems: ProblemCollector,
    file: str,
    *,
    stripped: bool = False,
) -> pd.Series:
    """The column in its dtype; ``stripped``: its cells are stripped strings already."""
    values = frame[column.name]
    text = values if stripped and values.dtype == object else _as_text(values)
    bad: list[tuple[object, str, str]] = []
    # Control characters (ESC, BEL, NUL, bidi overrides...) could rewrite a terminal or break a
    # workbook: refuse them; the cell then counts as missing (one problem, not a cascade).
    # One search over all the cells at once; cell by cell only if it finds any.
    if CONTROL_RE.search("".join(text.to_numpy().tolist())):
        hostile = text.str.contains(CONTROL_RE, regex=True)
    else:
        hostile = pd.Series(False, index=text.index)
    refused: list[tuple[object, str, str]] = [
        (
            pos,
            f"contains control characters ({', '.join(control_characters(raw))})",
            "remove them (they can hide or rewrite text on a screen or in a spreadsheet)",
        )
        for pos, raw in zip(text.index[hostile], text[hostile], strict=True)
    ]
    if refused:
        text = text.where(~hostile, "")
    if column.kind in ("float", "int"):
        result = _numbers(text, column, bad)
    elif column.kind == "bool":
        lowered = text.str.lower()
        words = lowered.isin(TRUE_WORDS | FALSE_WORDS).to_numpy(dtype=bool)
        suspect = np.flatnonzero(~words)  # empty or not a word; the rules below say which
        for pos, raw in zip(lowered.index[suspect], lowered.iloc[suspect], strict=True):
            if raw == "":
                if not column.nullable:
                    bad.append((pos, "is empty", "enter true or false"))
            elif raw not in TRUE_WORDS | FALSE_WORDS:
                bad.append((pos, f"'{raw[:40]}' is not true/false", "enter true or false"))
        result = lowered.map(lambda v: True if v in TRUE_WORDS else (False if v else pd.NA))
        result = result.astype("boolean")
    elif column.kind == "list":
        parts = text.map(lambda v: tuple(p.strip() for p in v.split(";") if p.strip()))
        for pos, items in zip(text.index, parts, strict=True):
            if not items and not column.nullable:
                bad.append((pos, "is empty", f"list one or more of {column.allowed} with ';'"))
            for item in items:
                if column.allowed and item not in column.allowed:
                    bad.append(
                        (
                            pos,
                            f"'{item[:40]}' is not one of {', '.join(column.allowed)}",
                            "use one of the allowed values, separated by ';'",
                        )
                    )
        result = parts
    else:
        suspect = (text == "").to_numpy(dtype=bool, copy=True)
        if column.allowed:
            suspect |= ~text.isin(column.allowed).to_numpy(dtype=bool)
        positions = np.flatnonzero(suspect)
        for pos, raw in zip(text.index[positions], text.iloc[positions], strict=True):
            if raw == "":
                if not column.nullable:
                    bad.append((pos, "is empty", "enter a value"))
            elif column.allowed and raw not in column.allowed:
                close = difflib.get_close_matches(raw, column.allowed, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                bad.append(
                    (
                        pos,
                        f"'{raw[:40]}' is not one of {', '.join(column.allowed)}",
                        f"{hint}use one of the allowed values",
                    )
                )
        result = text
    if refused:
        hostile_positions = set(text.index[hostile])
        bad = refused + [b for b in bad if b[0] not in hostile_positions]
        result = _missing_where(result, hostile, column.kind)
    for pos, message, fix in bad:
        problems.schema.append(
            Problem(
                file,
                message + ".",
                row=_row_label(frame, pos, spec.key),
                column=column.name,
                fix=fix + ".",
            )
        )
    return result


def _missing_where(values: pd.Series, mask: pd.Series, kind: str) -> pd.Series:
    """``values`` with the cells under ``mask`` missing (NaN, NA, "" or an empty list)."""
    if kind == "list":
        return pd.Series(
            [() if m else v for v, m in zip(values, mask, strict=True)], index=values.index
        )
    if kind == "str":
        return values.where(~mask, "")
    return values.mask(mask)


def _check_unique(
    frame: pd.DataFrame, spec: FileSpec, problems: ProblemCollector, file: str
) -> None:
    if not spec.key or not set(spec.key) <= set(frame.columns):
        return
    keys = frame[list(spec.key)]
    if not all(pd.api.types.infer_dtype(keys[c], skipna=False) == "string" for c in spec.key):
        keys = keys.astype(str)  # all text already: the same keys without converting
    duplicated = keys.duplicated(keep=False)
    if not duplicated.any():
        return
    for _, group in keys[duplicated].groupby(list(spec.key), sort=True):
        unit = "lines" if frame.index.name == "line" else "features"
        where = ", ".join(str(i) for i in group.index[:10])
        ident = ", ".join(f"{k}={v}" for k, v in zip(spec.key, group.iloc[0], strict=True))
        problems.schema.append(
            Problem(
                file,
                f"duplicate id {ident} appears {len(group)} times ({unit} {where}).",
                column="/".join(spec.key),
                fix="keep one row per id, or merge the rows.",
            )
        )


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
    if frame.crs is None:
        problems.crs.append(
            Problem(
                file,
                "has no coordinate reference system.",
                fix=f"save it with CRS {GEOGRAPHIC_CRS} (longitude/latitude).",
            )
        )
        return
    if geojson_file and not frame.crs.is_geographic:
        problems.crs.append(
            Problem(
                file,
                f"declares the projected CRS {frame.crs.to_string()}; GeoJSON input must be "
                "longitude/latitude.",
                fix=f"reproject it to {GEOGRAPHIC_CRS} before saving.",
            )
        )
        return
    geoms = frame.geometry
    # Vectorised screening; only the features that fail are looked at one by one.
    shapes = np.asarray(geoms.array, dtype=object)
    missing = shapely.is_missing(shapes)
    empty = ~missing & shapely.is_empty(shapes)
    wrong = ~missing & ~empty & ~np.isin(geoms.geom_type.to_numpy(), spec.geometry_types)
    invalid = ~missing & ~empty & ~wrong & ~shapely.is_valid(shapes)
    for i in np.flatnonzero(missing | empty | wrong | invalid).tolist():
        pos, geom = frame.index[i], shapes[i]
        row = _row_label(frame, pos, spec.key)
        if geom is None:
            problems.geometry.append(
                Problem(file, "has no geometry.", row=row, fix="add the location.")
            )
        elif geom.is_empty:
            problems.geometry.append(
                Problem(file, "has an empty geometry.", row=row, fix="add the location.")
            )
        elif geom.geom_type not in spec.geometry_types:
            problems.geometry.append(
                Problem(
                    file,
                    f"geometry is a {geom.geom_type}; expected {' or '.join(spec.geometry_types)}.",
                    row=row,
                    fix="export the right geometry type.",
                )
            )
        elif not geom.is_valid:
            problems.geometry.append(
                Problem(
                    file,
                    "geometry is invalid (e.g. self-intersecting).",
                    row=row,
                    fix="repair it (QGIS 'Fix geometries' or shapely.make_valid).",
                )
            )
    usable = ~(geoms.isna() | geoms.is_empty)  # notna() warns when a shape is empty
    if usable.any():
        lonlat = frame.loc[usable].geometry.to_crs(GEOGRAPHIC_CRS)
        bounds = lonlat.bounds
        outside = (
            (bounds["minx"] < GB_BOUNDS[0])
            | (bounds["miny"] < GB_BOUNDS[1])
            | (bounds["maxx"] > GB_BOUNDS[2])
            | (bounds["maxy"] > GB_BOUNDS[3])
            | ~np.isfinite(bounds).all(axis=1)
        )
        for pos in bounds.index[outside.to_numpy()]:
            problems.geometry.append(
                Problem(
                    file,
                    "lies outside Great Britain (coordinates swapped, or in the wrong CRS?).",
                    row=_row_label(frame, pos, spec.key),
                    fix="check the coordinates are longitude, latitude in EPSG:4326.",
                )
            )


def check_references(
    child: pd.DataFrame,
    column: str,
    known: Iterable[str],
    problems: ProblemCollector,
    file: str,
    key: tuple[str, ...],
    what: str,
    where: str,
) -> None:
    """Every value of ``child[column]`` must be one of ``known``."""
    if column not in child.columns:
        return
    known_set = set(known)
    values = child[column]
    suspect = np.flatnonzero(~values.isin(known_set).to_numpy(dtype=bool))  # then each one
    for pos, value in zip(child.index[suspect], values.iloc[suspect], strict=True):
        if isinstance(value, str) and value and value not in known_set:
            problems.schema.append(
                Problem(
                    file,
                    f"refers to {what} '{value[:60]}', which is not in {where}.",
                    row=_row_label(child, pos, key),
                    column=column,
                    fix=f"add it to {where} or correct the id.",
                )
            )


def _ids(frame: pd.DataFrame | None, column: str) -> set[str] | None:
    return set(frame[column]) if frame is not None and column in frame else None


def check_cross_file(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Rules that span files: references, capacity arithmetic, coverage (one function each)."""
    for rule in CROSS_FILE_RULES:
        rule(tables, problems)


def check_cross_references(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Every site, PCN and service id a file names exists where it is defined."""
    premises, pcns, services = tables.get("premises"), tables.get("pcns"), tables.get("services")
    site_ids = _ids(premises, "site_id")
    pcn_codes = _ids(pcns, "pcn_code")
    service_ids = _ids(services, "service_id")
    capacity, opening, lsoas = tables.get("capacity"), tables.get("opening"), tables.get("lsoas")
    demand, baseline = tables.get("demand"), tables.get("baseline")

    def refs(
        name: str,
        frame: pd.DataFrame | None,
        column: str,
        known: set[str] | None,
        what: str,
        where: str,
        key: tuple[str, ...],
    ) -> None:
        if frame is not None and known is not None:
            check_references(frame, column, known, problems, name, key, what, where)

    refs("capacity.csv", capacity, "site_id", site_ids, "site", "premises", ("site_id",))
    refs("opening.csv", opening, "site_id", site_ids, "site", "premises", ("site_id",))
    refs("premises.geojson", premises, "pcn_code", pcn_codes, "PCN", "pcns", ("site_id",))
    refs("lsoas.geojson", lsoas, "pcn_code", pcn_codes, "PCN", "pcns", ("lsoa_code",))
    key_d = ("pcn_code", "service_id")
    refs("demand.csv", demand, "pcn_code", pcn_codes, "PCN", "pcns", key_d)
    refs("demand.csv", demand, "service_id", service_ids, "service", "services.csv", key_d)
    key_b = ("pcn_code", "service_id", "site_id")
    refs("baseline.csv", baseline, "pcn_code", pcn_codes, "PCN", "pcns", key_b)
    refs("baseline.csv", baseline, "service_id", service_ids, "service", "services.csv", key_b)
    refs("baseline.csv", baseline, "site_id", site_ids, "site", "premises", key_b)


def check_fixed_within_capacity(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """Fixed use never exceeds a room's capacity."""
    capacity = tables.get("capacity")
    if capacity is not None and {"fixed_hours", "capacity_hours"} <= set(capacity.columns):
        fixed, hours = capacity["fixed_hours"], capacity["capacity_hours"]
        # Compare only values that passed their own checks: no second message for one fault.
        valid = np.isfinite(fixed) & np.isfinite(hours) & (fixed >= 0) & (hours >= 0)
        over = valid & (fixed > hours + 1e-9)
        for pos in capacity.index[over.to_numpy()]:
            problems.schema.append(
                Problem(
                    "capacity.csv",
                    f"fixed_hours {capacity.at[pos, 'fixed_hours']:g} exceed capacity_hours "
                    f"{capacity.at[pos, 'capacity_hours']:g}.",
                    row=_row_label(capacity, pos, ("site_id", "room_type", "band")),
                    column="fixed_hours",
                    fix="lower fixed_hours or raise capacity_hours.",
                )
            )


def check_own_work_within_fixed(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """The non-movable PCN-clinic work is part of the fixed work, never more."""
    capacity = tables.get("capacity")
    if capacity is None or not {"fixed_pcn_clinic_hours", "fixed_hours"} <= set(capacity.columns):
        return
    own, fixed = capacity["fixed_pcn_clinic_hours"], capacity["fixed_hours"]
    over = (own > fixed + 1e-9).fillna(False) & np.isfinite(fixed)
    for pos in capacity.index[over.to_numpy(dtype=bool)]:
        problems.schema.append(
            Problem(
                "capacity.csv",
                f"fixed_pcn_clinic_hours {own[pos]:g} exceed fixed_hours {fixed[pos]:g}: the "
                "practice's own PCN-clinic work is part of its fixed work.",
                row=_row_label(capacity, pos, ("site_id", "room_type", "band")),
                column="fixed_pcn_clinic_hours",
                fix="lower fixed_pcn_clinic_hours or raise fixed_hours.",
            )
        )


def check_opening_not_already_open(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """An opening option is for a band the site is shut in."""
    capacity = tables.get("capacity")
    opening = tables.get("opening")
    if (
        capacity is not None
        and opening is not None
        and {"site_id", "band"} <= set(capacity.columns) & set(opening.columns)
    ):
        open_pairs = set(zip(capacity["site_id"], capacity["band"], strict=True))
        for pos, site, band in zip(opening.index, opening["site_id"], opening["band"], strict=True):
            if (site, band) in open_pairs:
                problems.schema.append(
                    Problem(
                        "opening.csv",
                        f"site {site} already has {band} capacity in capacity.csv, so it cannot "
                        "also be an opening option for that band.",
                        row=_row_label(opening, pos, ("site_id", "band")),
                        column="band",
                        fix="remove the row from one of the two files.",
                    )
                )


def check_practices_name_their_pcn(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """GP practices and PCN hubs name their PCN."""
    premises = tables.get("premises")
    if premises is not None and {"kind", "pcn_code"} <= set(premises.columns):
        needs_pcn = premises["kind"].isin(["gp_practice", "pcn_hub"]) & (premises["pcn_code"] == "")
        for pos in premises.index[needs_pcn.to_numpy()]:
            problems.schema.append(
                Problem(
                    "premises.geojson",
                    f"a {premises.at[pos, 'kind']} must name its PCN.",
                    row=_row_label(premises, pos, ("site_id",)),
                    column="pcn_code",
                    fix="fill in pcn_code.",
                )
            )


def check_pcns_have_population(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Every PCN has LSOAs, with people in them."""
    pcns = tables.get("pcns")
    lsoas = tables.get("lsoas")
    if pcns is not None and lsoas is not None and {"pcn_code", "population"} <= set(lsoas.columns):
        population = lsoas.groupby("pcn_code")["population"].sum()
        for pos, code in zip(pcns.index, pcns.get("pcn_code", []), strict=False):
            if not isinstance(code, str) or not code:
                continue
            if code not in population.index:
                problems.schema.append(
                    Problem(
                        "pcns.geojson",
                        "has no LSOAs assigned to it, so its population cannot be placed.",
                        row=_row_label(pcns, pos, ("pcn_code",)),
                        column="pcn_code",
                        fix="assign at least one LSOA to it in lsoas (column pcn_code).",
                    )
                )
            elif not population[code] > 0:
                problems.schema.append(
                    Problem(
                        "pcns.geojson",
                        "has zero population over its LSOAs.",
                        row=_row_label(pcns, pos, ("pcn_code",)),
                        column="population",
                        fix="check the population of its LSOAs.",
                    )
                )


def check_enhanced_access_bands(
    tables: dict[str, pd.DataFrame], problems: ProblemCollector
) -> None:
    """Enhanced access uses only the Network Standard Hours bands."""
    services = tables.get("services")
    if services is not None and {"category", "bands"} <= set(services.columns):
        for pos, category, bands in zip(
            services.index, services["category"], services["bands"], strict=True
        ):
            if category == "enhanced_access" and isinstance(bands, tuple):
                outside = [b for b in bands if b not in ENHANCED_ACCESS_BANDS]
                if outside:
                    problems.schema.append(
                        Problem(
                            "services.csv",
                            f"enhanced access may only use the Network Standard Hours bands "
                            f"({', '.join(ENHANCED_ACCESS_BANDS)}), not {', '.join(outside)}.",
                            row=_row_label(services, pos, ("service_id",)),
                            column="bands",
                            fix="remove the other bands.",
                        )
                    )


def check_room_types_exist(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Every service's room type exists somewhere (open or openable)."""
    services = tables.get("services")
    capacity = tables.get("capacity")
    opening = tables.get("opening")
    if services is not None and capacity is not None and "room_type" in services.columns:
        available = set(capacity.get("room_type", []))
        if opening is not None:
            for room in ROOM_TYPES:
                column = f"{room}_hours_if_opened"
                if column in opening.columns and (opening[column] > 0).any():
                    available.add(room)
        for pos, room in zip(services.index, services["room_type"], strict=True):
            if isinstance(room, str) and room in ROOM_TYPES and room not in available:
                problems.schema.append(
                    Problem(
                        "services.csv",
                        f"needs a {room} room, but no site has one.",
                        row=_row_label(services, pos, ("service_id",)),
                        column="room_type",
                        fix=f"add {room} capacity in capacity.csv or change the room type.",
                    )
                )


def check_baseline_rooms_open(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """Today's hours are in a room that is open then."""
    baseline = tables.get("baseline")
    services = tables.get("services")
    capacity = tables.get("capacity")
    premises = tables.get("premises")
    site_ids = _ids(premises, "site_id")
    slot_columns = {"site_id", "room_type", "band"}
    if (
        baseline is not None
        and services is not None
        and capacity is not None
        and site_ids is not None
        and {"service_id", "site_id", "band"} <= set(baseline.columns)
        and {"service_id", "room_type"} <= set(services.columns)
        and slot_columns <= set(capacity.columns)
    ):
        rooms = dict(zip(services["service_id"], services["room_type"], strict=True))
        # A site whose own capacity rows are wrong is reported there, not again here.
        odd = ~(
            capacity["room_type"].isin(ROOM_TYPES)
            & capacity["band"].isin(BANDS)
            & capacity["site_id"].isin(site_ids)
        )
        unsure = set(capacity.loc[odd.to_numpy(dtype=bool), "site_id"])
        # Rows whose slot is open are fine; the rest (few) are looked at one by one.
        used = pd.MultiIndex.from_arrays(
            [baseline["site_id"], baseline["service_id"].map(rooms), baseline["band"]]
        )
        open_slots = pd.MultiIndex.from_arrays(
            [capacity["site_id"], capacity["room_type"], capacity["band"]]
        )
        suspect = np.flatnonzero(~used.isin(open_slots))
        slots: set[tuple[object, ...]] = set(open_slots) if suspect.size else set()
        for pos, service, site, band in zip(
            baseline.index[suspect],
            baseline["service_id"].iloc[suspect],
            baseline["site_id"].iloc[suspect],
            baseline["band"].iloc[suspect],
            strict=True,
        ):
            room = rooms.get(service)
            if (
                room not in ROOM_TYPES
                or band not in BANDS
                or site not in site_ids
                or site in unsure
            ):
                continue
            if (site, room, band) not in slots:
                problems.schema.append(
                    Problem(
                        "baseline.csv",
                        f"puts today's {service} hours in a {room} room at site {site} in the "
                        f"{band} band, but capacity.csv has no such room open there and then.",
                        row=_row_label(baseline, pos, ("pcn_code", "service_id", "site_id")),
                        column="band",
                        fix="correct the site or band, or add the room to capacity.csv.",
                    )
                )


def check_patients(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """patients.csv names known PCNs, and every PCN has patients living in the dataset's
    LSOAs (else its travel could not be weighted). LSOA codes outside lsoas are allowed:
    those patients are counted as living outside the area."""
    patients, pcns, lsoas = tables.get("patients"), tables.get("pcns"), tables.get("lsoas")
    if patients is None or pcns is None or not {"pcn_code", "lsoa_code"} <= set(patients):
        return
    key = ("pcn_code", "lsoa_code")
    pcn_codes = _ids(pcns, "pcn_code") or set()
    check_references(patients, "pcn_code", pcn_codes, problems, "patients.csv", key, "PCN", "pcns")
    if lsoas is None or "lsoa_code" not in lsoas or "patients" not in patients:
        return
    counts = pd.to_numeric(patients["patients"], errors="coerce").fillna(0.0)
    inside = patients["lsoa_code"].isin(set(lsoas["lsoa_code"])) & (counts > 0)
    located = set(patients.loc[inside, "pcn_code"])
    for code in sorted(c for c in pcns.get("pcn_code", []) if isinstance(c, str) and c):
        if code not in located:
            problems.schema.append(
                Problem(
                    "patients.csv",
                    f"has no patients of PCN {code[:60]} living in an LSOA of lsoas.geojson, so "
                    "its travel cannot be weighted by where its patients live.",
                    column="pcn_code",
                    fix="add its rows (pcn_code, lsoa_code, patients), or remove patients.csv to "
                    "weight every PCN by its catchment population.",
                )
            )


def check_building_types_given(tables: dict[str, pd.DataFrame], problems: ProblemCollector) -> None:
    """A services.csv that restricts building types needs premises typed to match."""
    services, premises = tables.get("services"), tables.get("premises")
    if services is None or premises is None or "building_types" not in services.columns:
        return
    restricted = [t for t in services["building_types"] if isinstance(t, tuple) and t]
    if restricted and "building_type" not in premises.columns:
        problems.schema.append(
            Problem(
                "premises.geojson",
                "has no building_type column, but services.csv says which building types may "
                "host its services, so no building could host them.",
                column="building_type",
                fix="add building_type to premises (see geodata/README.md), or drop the "
                "building_types column of services.csv.",
            )
        )


#: The cross-file rules, in the order their problems are listed.
CROSS_FILE_RULES = (
    check_cross_references,
    check_fixed_within_capacity,
    check_own_work_within_fixed,
    check_opening_not_already_open,
    check_practices_name_their_pcn,
    check_pcns_have_population,
    check_enhanced_access_bands,
    check_room_types_exist,
    check_baseline_rooms_open,
    check_patients,
    check_building_types_given,
)
