"""Every read from and write to disk goes through here.

Readers return raw text tables (every cell a string) so the validator can say
which row and column is wrong; writers are atomic (temporary file, then
``os.replace``) so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

log = logging.getLogger(__name__)


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
