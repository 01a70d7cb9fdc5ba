"""Every read from and write to disk goes through here.

Readers return raw text tables (every cell a string) so the validator can say
which row and column is wrong; writers are atomic (temporary file, then
``os.replace``) so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj

from .errors import Problem
from .schema import FileSpec

log = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".parquet")
GEO_SUFFIXES = (".geojson", ".gpkg")


def resolve_input(directory: Path, spec: FileSpec) -> Path | None:
    """Find ``spec``'s file in ``directory``, accepting the alternative formats."""
    stem = Path(spec.name).stem
    suffixes = GEO_SUFFIXES if spec.format == "geojson" else TABLE_SUFFIXES
    for suffix in suffixes:
        candidate = directory / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read_text_table(path: Path) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read a CSV or Parquet table with every cell as text (empty cell -> "")."""
    name = path.name
    if path.suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a broken file
            return None, [
                Problem(name, f"cannot be read as Parquet ({exc}).", fix="write it again.")
            ]
        frame.columns = [str(c) for c in frame.columns]
        repeated = _repeated_columns(name, list(frame.columns))
        if repeated:
            return None, repeated
        return frame.astype(object).where(frame.notna(), "").astype(str), []
    raw = path.read_bytes()
    if not raw.strip():
        return None, [Problem(name, "is empty.", fix="write a header row and data rows.")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            Problem(
                name,
                f"is not UTF-8 text (bad byte at line {line}).",
                fix="save the file as UTF-8 CSV.",
            )
        ]
    # Keep each record's first line number in the file, so blank lines and quoted
    # line breaks do not shift the line numbers that problems report.
    numbered: list[tuple[int, list[str]]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        start = 1
        for record in reader:
            numbered.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:
        return None, [
            Problem(
                name,
                f"is not valid CSV ({exc}).",
                row=f"line {start}",
                fix="save the file again as comma-separated CSV.",
            )
        ]
    if numbered and '"' in text and _ends_inside_quotes(text):
        return None, [
            Problem(
                name,
                'has a double quote (") that is never closed, so the rest of the file '
                "was read as one value.",
                row=f"line {numbered[-1][0]}",
                fix="close the quote, or remove it.",
            )
        ]
    numbered = [(n, r) for n, r in numbered if any(cell.strip() for cell in r)]
    rows = [r for _, r in numbered]
    if not rows:
        return None, [Problem(name, "is empty.", fix="write a header row and data rows.")]
    # A second BOM (a file saved twice with one) would hide the first column's name.
    header = [h.strip().lstrip("\ufeff").strip() for h in rows[0]]
    problems: list[Problem] = _repeated_columns(name, header)
    if problems:
        return None, problems
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        return None, [
            Problem(
                name,
                f"has one column '{header[0][:60]}': the delimiter is not a comma.",
                fix="save the file as comma-separated CSV.",
            )
        ]
    body: list[list[str]] = []
    line_numbers: list[int] = []
    for i, row in numbered[1:]:
        if len(row) != len(header):
            problems.append(
                Problem(
                    name,
                    f"has {len(row)} fields but the header has {len(header)}.",
                    row=f"line {i}",
                    fix="check for a stray comma or a missing value.",
                )
            )
            row = (row + [""] * len(header))[: len(header)]
        body.append([c.strip() for c in row])
        line_numbers.append(i)
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.index = pd.Index(line_numbers, name="line")
    return frame, problems


def _repeated_columns(name: str, header: list[str]) -> list[Problem]:
    """A column name used twice makes every lookup of it ambiguous: one problem per name."""
    positions: dict[str, list[int]] = {}
    for number, column in enumerate(header, start=1):
        positions.setdefault(column, []).append(number)
    return [
        Problem(
            name,
            f"has the column '{column[:60]}' more than once (columns "
            f"{', '.join(str(n) for n in numbers)}).",
            row="line 1",
            column=column[:60],
            fix="rename or remove the extra column.",
        )
        for column, numbers in positions.items()
        if len(numbers) > 1
    ]


def _ends_inside_quotes(text: str) -> bool:
    """Whether the CSV text ends inside a quoted field (a quote that is never closed)."""
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


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


def _ring_problem(geometry: dict) -> str | None:
    """Polygon rings GEOS refuses to build (it then rejects the whole file, naming no feature)."""
    coordinates = geometry.get("coordinates")
    if geometry.get("type") == "Polygon":
        polygons = [coordinates]
    elif geometry.get("type") == "MultiPolygon":
        polygons = coordinates
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


def _geojson_problems(path: Path, key: tuple[str, ...]) -> list[Problem]:
    """Check what GDAL would silently drop or misread: encoding, JSON, structure, NaN."""
    name = path.name
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return [
            Problem(
                name,
                f"is not UTF-8 text (bad byte at line {line}).",
                fix="save it as UTF-8; GeoJSON is always UTF-8.",
            )
        ]
    try:
        doc = json.loads(text)  # NaN, Infinity and 1e999 load as floats; reported below
    except json.JSONDecodeError as exc:
        return [
            Problem(
                name,
                f"is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}).",
                fix=GEOJSON_FIX,
            )
        ]
    except (ValueError, RecursionError) as exc:  # huge integers, absurd nesting
        return [Problem(name, f"is not valid JSON ({str(exc)[:80]}).", fix=GEOJSON_FIX)]
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        return [Problem(name, "is not a GeoJSON FeatureCollection.", fix=GEOJSON_FIX)]
    features = doc.get("features")
    if not isinstance(features, list):
        return [Problem(name, "has no 'features' list.", column="features", fix=GEOJSON_FIX)]
    if not features:
        return [
            Problem(name, "has no features.", fix="add the features, or export the layer again.")
        ]
    problems: list[Problem] = []
    crs = _crs_member_problem(name, doc.get("crs"))
    if crs is not None:
        problems.append(crs)
    for number, feature in enumerate(features, start=1):
        row = f"feature {number}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            problems.append(
                Problem(name, "is not a GeoJSON Feature object.", row=row, fix=GEOJSON_FIX)
            )
            continue
        props = feature.get("properties")
        geometry = feature.get("geometry")
        if isinstance(props, dict):
            ids = [f"{k}={props[k]}" for k in key if isinstance(props.get(k), str | int)]
            row += f" ({', '.join(ids)})" if ids else ""
        elif props is not None:
            problems.append(
                Problem(name, "'properties' is not an object.", row=row, fix=GEOJSON_FIX)
            )
            props = {}
        if geometry is not None and not (
            isinstance(geometry, dict) and isinstance(geometry.get("type"), str)
        ):
            problems.append(
                Problem(
                    name,
                    f"geometry {str(geometry)[:40]!r} is not a GeoJSON geometry object.",
                    row=row,
                    fix=GEOJSON_FIX,
                )
            )
            geometry = None
        ring = _ring_problem(geometry) if geometry is not None else None
        if ring is not None:
            problems.append(
                Problem(name, f"geometry {ring}.", row=row, fix="repair or redraw the shape.")
            )
        for column, value in (props or {}).items():
            bad = _first_non_finite(value)
            if bad is not None:
                problems.append(
                    Problem(
                        name,
                        f"{_non_finite_word(bad)} is not a finite number.",
                        row=row,
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
                    row=row,
                    fix="give finite longitude/latitude coordinates.",
                )
            )
    if not problems and _first_non_finite(doc) is not None:
        problems.append(
            Problem(name, "contains NaN or Infinity, which JSON does not allow.", fix=GEOJSON_FIX)
        )
    return problems


def read_geo_table(
    path: Path, key: tuple[str, ...] = ()
) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """Read a GeoJSON or GeoPackage layer; a file that is not geodata is a problem.

    GeoJSON is checked first for what GDAL would silently drop or misread (features
    that are not Features, geometries that are not geometry objects, NaN, an unknown
    ``crs``); ``key`` names the id properties that label a feature in messages.
    """
    name = path.name
    if path.stat().st_size == 0:
        return None, [Problem(name, "is empty.", fix="export the layer again as GeoJSON.")]
    if path.suffix == ".geojson":
        problems = _geojson_problems(path, key)
        if problems:
            return None, problems
    try:
        with warnings.catch_warnings():
            # A property column mixing types (true and "perhaps") stays text; the validator
            # then names each bad cell. Without this, `-W error` turned it into "unreadable".
            warnings.filterwarnings("ignore", "Could not parse column", UserWarning)
            # GDAL's notes on shapes it cannot build (an empty Point): the shape becomes
            # null and the validator reports it with the feature's id.
            warnings.filterwarnings("ignore", category=RuntimeWarning, module="pyogrio")
            frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # GDAL raises several types for broken files
        return None, [
            Problem(
                name,
                f"cannot be read as geodata ({str(exc)[:200]}).",
                fix="export the layer again as GeoJSON or GeoPackage.",
            )
        ]
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="feature")
    return frame, []


def read_attribution(directory: Path) -> str:
    """The data licence text shipped with a dataset, or an empty string."""
    for candidate in ("ATTRIBUTION.txt", "ATTRIBUTION.md"):
        path = directory / candidate
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    return ""


# --- writing -----------------------------------------------------------------


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def csv_text(frame: pd.DataFrame, float_digits: int = 4) -> str:
    """A deterministic CSV rendering: fixed float format, LF line ends."""
    return frame.to_csv(index=False, float_format=f"%.{float_digits}f", lineterminator="\n")


def write_csv(frame: pd.DataFrame, path: Path, float_digits: int = 4) -> None:
    atomic_write_text(path, csv_text(frame, float_digits))


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinity (say, a mean over nothing) as None: JSON has no NaN.

    :func:`write_json` refuses NaN so a stray one is caught; call this first where
    "not defined" is a legitimate value, as in a plan's KPIs.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def write_json(data: Any, path: Path) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")


def write_geopackage(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Write several layers to one GeoPackage atomically (built in a temp file first)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".gpkg", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        for layer, frame in layers.items():
            frame.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


STAGING_PREFIX = ".staging-"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or we cannot tell: leave its folder alone
    return True


def remove_stale_staging(target: Path) -> list[Path]:
    """Remove staging folders left in ``target`` by runs that were killed (their pid is gone)."""
    removed = []
    for folder in target.glob(f"{STAGING_PREFIX}*"):
        pid_text = folder.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if folder.is_dir() and pid_text.isdigit() and not _process_alive(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.info("removed %d staging folder(s) left by interrupted runs", len(removed))
    return removed


def _move_all(staging: Path, target: Path) -> None:
    """Move every staged file into ``target``; if one move fails, put the old files back.

    Each move is an atomic ``os.replace``; the files they replace are kept (hard
    links, else copies) until the last move succeeds, so a failure part-way never
    leaves a mix of the old plan and the new one.
    """
    backup = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-old-", dir=target))
    done: list[tuple[Path, Path | None]] = []
    try:
        for source in sorted(staging.rglob("*")):
            if source.is_dir():
                continue
            relative = source.relative_to(staging)
            destination = target / relative
            saved = None
            if destination.is_file():
                saved = backup / relative
                saved.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(destination, saved)
                except OSError:  # no hard links on this file system
                    shutil.copy2(destination, saved)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, destination)
            done.append((destination, saved))
    except BaseException:
        for destination, saved in reversed(done):
            with contextlib.suppress(OSError):
                if saved is not None:
                    os.replace(saved, destination)
                else:
                    destination.unlink()
        raise
    finally:
        shutil.rmtree(backup, ignore_errors=True)


@contextlib.contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Yield a staging folder; on success move each file into ``target`` atomically.

    A failure anywhere inside the block leaves ``target`` exactly as it was (a
    folder created for this run is removed again). A run killed outright can
    leave a hidden ``.staging-<pid>-*`` folder; the next successful run removes it.
    """
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=target))
    try:
        yield staging
        _move_all(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            with contextlib.suppress(OSError):
                target.rmdir()  # only if still empty
        raise
    shutil.rmtree(staging, ignore_errors=True)
    remove_stale_staging(target)
