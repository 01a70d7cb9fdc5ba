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
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

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
            return None, [Problem(name, f"cannot be read as Parquet ({exc}).")]
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
        return None, [Problem(name, f"is not valid CSV ({exc}).")]
    numbered = [(n, r) for n, r in numbered if any(cell.strip() for cell in r)]
    rows = [r for _, r in numbered]
    if not rows:
        return None, [Problem(name, "is empty.", fix="write a header row and data rows.")]
    header = [h.strip() for h in rows[0]]
    problems: list[Problem] = []
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


def read_geo_table(path: Path) -> tuple[gpd.GeoDataFrame | None, list[Problem]]:
    """Read a GeoJSON or GeoPackage layer; a file that is not geodata is a problem."""
    name = path.name
    if path.stat().st_size == 0:
        return None, [Problem(name, "is empty.", fix="export the layer again as GeoJSON.")]
    if path.suffix == ".geojson":
        try:
            doc = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return None, [Problem(name, f"is not valid JSON ({exc}).", fix="export it again.")]
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            return None, [
                Problem(name, "is not a GeoJSON FeatureCollection.", fix="export it again.")
            ]
        if not doc.get("features"):
            return None, [Problem(name, "has no features.")]
    try:
        with warnings.catch_warnings():
            # A property column mixing types (true and "perhaps") stays text; the validator
            # then names each bad cell. Without this, `-W error` turned it into "unreadable".
            warnings.filterwarnings("ignore", "Could not parse column", UserWarning)
            frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # GDAL raises several types for broken files
        return None, [Problem(name, f"cannot be read as geodata ({exc}).")]
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
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def csv_text(frame: pd.DataFrame, float_digits: int = 4) -> str:
    """A deterministic CSV rendering: fixed float format, LF line ends."""
    return frame.to_csv(index=False, float_format=f"%.{float_digits}f", lineterminator="\n")


def write_csv(frame: pd.DataFrame, path: Path, float_digits: int = 4) -> None:
    atomic_write_text(path, csv_text(frame, float_digits))


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


@contextlib.contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Yield a staging folder; on success move each file into ``target`` atomically.

    A failure anywhere inside the block leaves ``target`` exactly as it was.
    """
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target))
    try:
        yield staging
        for source in sorted(staging.rglob("*")):
            if source.is_dir():
                continue
            destination = target / source.relative_to(staging)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
