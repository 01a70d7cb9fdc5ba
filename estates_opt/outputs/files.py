"""Every read from and write to disk goes through here.

Readers return raw text tables (every cell a string) so the validator can say
which row and column is wrong; writers are atomic (temporary file, then
``os.replace``) so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from estates_opt.errors import OutputWriteError, StoppedAfterWriting
from estates_opt.paths import not_a_folder
from estates_opt.text import escape_control, neutralise_cell

log = logging.getLogger(__name__)


# --- writing -----------------------------------------------------------------


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.

    Unbuffered writes (no "Exception ignored" on a full disk); any failure is an
    :class:`~estates_opt.errors.OutputWriteError` naming ``path``.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputWriteError(path, exc) from None
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        # mkstemp creates 0600 files; give the result the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputWriteError(path, exc) from None
        raise


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to the file descriptor (the one low-level write)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically: readers see the old file or the new one."""
    atomic_write_bytes(path, text.encode("utf-8"))


def safe_text_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text cells safe to open in a spreadsheet, numbers untouched.

    A text cell a spreadsheet would run as a formula gets a leading ``'``
    (:func:`~estates_opt.text.neutralise_cell`); control characters are written
    out as ``\\xNN``. Only text (object/string) columns are touched.
    """
    text_columns = [
        c
        for c in frame.columns
        if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])
    ]
    if not text_columns:
        return frame
    out = frame.copy()
    for column in text_columns:
        out[column] = _per_distinct(out[column], _safe_cell)
    out.columns = [_safe_cell(str(c)) for c in out.columns]
    return out


def _per_distinct(values: pd.Series, function: Any) -> pd.Series:
    """``values.map(function)`` as objects, computed once per distinct value.

    Only for columns of text (where equal means identical); missing cells stay as they
    are. Anything else is mapped cell by cell.
    """
    if pd.api.types.infer_dtype(values, skipna=True) != "string":
        return values.map(function).astype(object)
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    mapped = np.array([function(v) for v in distinct] + [None], dtype=object)
    out = mapped[codes]  # code -1 (missing) takes the last entry, replaced below
    missing = codes < 0
    if missing.any():
        out[missing] = values.to_numpy(dtype=object)[missing]
    return pd.Series(out, index=values.index, name=values.name, dtype=object)


def _formatted_floats(frame: pd.DataFrame, float_format: str) -> pd.DataFrame:
    """Float columns as the text ``to_csv(float_format=...)`` writes, once per distinct value."""
    columns = [c for c in frame.columns if frame[c].dtype.kind == "f" and frame[c].dtype == float]
    if not columns:
        return frame
    out = frame.copy()
    for column in columns:
        codes, distinct = pd.factorize(out[column], use_na_sentinel=True)
        text = np.array([float_format % v for v in distinct.tolist()] + [""], dtype=object)
        out[column] = pd.Series(text[codes], index=out.index, dtype=object)
    return out


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str):
        return neutralise_cell(escape_control(value))
    return value


def csv_text(frame: pd.DataFrame, float_digits: int = 4) -> str:
    """A deterministic CSV rendering: fixed float format, LF line ends, safe text cells."""
    float_format = f"%.{float_digits}f"
    return _formatted_floats(safe_text_cells(frame), float_format).to_csv(
        index=False, float_format=float_format, lineterminator="\n"
    )


def write_csv(frame: pd.DataFrame, path: Path, float_digits: int = 4) -> None:
    """Write :func:`csv_text` of ``frame`` to ``path`` atomically."""
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
    """Write ``data`` as indented JSON atomically; NaN or infinity raise, never invalid JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n")


#: The last_change date written into every GeoPackage (GeoPackage's ISO 8601 form).
GPKG_FIXED_DATE = "2000-01-01T00:00:00.000Z"


@contextlib.contextmanager
def _gdal_config(**options: str) -> Iterator[None]:
    import pyogrio

    saved = {k: pyogrio.get_gdal_config_option(k) for k in options}
    pyogrio.set_gdal_config_options(options)
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options(saved)


def write_geopackage(layers: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Write several layers to one GeoPackage atomically (built in a temp file first)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".gpkg", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise OutputWriteError(path, exc) from None
    try:
        # GDAL stamps gpkg_contents.last_change with the clock unless told the date: fix it,
        # so the same plan gives the same bytes.
        with _gdal_config(OGR_CURRENT_DATE=GPKG_FIXED_DATE):
            for layer, frame in layers.items():
                frame.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputWriteError(path, exc) from None
        if isinstance(exc, Exception):  # GDAL reports a full disk as its own error types
            raise OutputWriteError(path, _gdal_write_cause(exc)) from None
        raise


def _gdal_write_cause(exc: Exception) -> OSError:
    """GDAL's own error, said as the write failure it is. SQLite past a full disk or a
    file-size limit often reports a follow-on fault ("no such table"), not the cause."""
    text = str(exc).strip()
    if "full" in text.lower():
        return OSError(errno.ENOSPC, text[:200])
    # the SQL it ran adds nothing for the reader
    text = text.split("sqlite3_exec(")[0].rstrip(": ")[:200] or type(exc).__name__
    return OSError(
        errno.EIO,
        f"the GeoPackage driver stopped ({text}), as it does when the disk is full or a "
        "file-size limit is reached",
    )


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


class _Commit:
    """Move every staged file into ``target``; :meth:`undo` puts the old files back.

    Each move is an atomic ``os.replace``; the files they replace are kept (hard
    links, else copies) until :meth:`discard`, so a failure part-way (in this
    folder, or in another folder of the same run) never leaves a mix of old and new.
    """

    def __init__(self, staging: Path, target: Path) -> None:
        self.staging, self.target = staging, target
        self.backup = Path(
            tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-old-", dir=target)
        )
        self.done: list[tuple[Path, Path | None]] = []
        #: Sub-folders of ``target`` made while moving files in (``maps/hubs``), outermost first.
        self.made: list[Path] = []

    def apply(self) -> None:
        for source in sorted(self.staging.rglob("*")):
            if source.is_dir():
                continue
            relative = source.relative_to(self.staging)
            destination = self.target / relative
            saved = None
            try:
                if destination.is_file():
                    saved = self.backup / relative
                    saved.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        os.link(destination, saved)
                    except OSError:  # no hard links on this file system
                        shutil.copy2(destination, saved)
                make_folders(destination.parent, self.made)
                os.replace(source, destination)
            except OSError as exc:
                # a file where one of the plan's folders goes (maps/NAME/hubs): name it
                blocker = next(
                    (
                        p
                        for p in reversed(destination.relative_to(self.target).parents)
                        if os.path.lexists(self.target / p) and not (self.target / p).is_dir()
                    ),
                    None,
                )
                if blocker is not None:
                    path = self.target / blocker
                    raise OutputWriteError(
                        path, OSError(errno.ENOTDIR, not_a_folder(path))
                    ) from None
                raise OutputWriteError(destination, exc) from None
            self.done.append((destination, saved))

    def undo(self) -> None:
        for destination, saved in reversed(self.done):
            with contextlib.suppress(OSError):
                if saved is not None:
                    os.replace(saved, destination)
                else:
                    destination.unlink()
        self.done.clear()
        remove_empty_folders(self.made)

    def discard(self) -> None:
        shutil.rmtree(self.backup, ignore_errors=True)


def make_folders(folder: Path, created: list[Path]) -> None:
    """Make ``folder`` and every missing parent, noting each one made in ``created``.

    ``mkdir(parents=True)`` would not say which parents it made, and a failed run must
    remove all of them (and only them: a folder that was there before, or that another
    run made meanwhile, stays).
    """
    for _ in range(3):  # a parent removed meanwhile by another run's clean-up: look again
        missing = []
        for path in (folder, *folder.parents):
            if path.is_dir():
                break
            missing.append(path)
        try:
            for path in reversed(missing):
                try:
                    path.mkdir()
                except FileExistsError:
                    if not path.is_dir():
                        raise
                    continue  # made meanwhile by another run: not this run's to remove
                created.append(path)
            return
        except FileNotFoundError:
            continue
    folder.mkdir(parents=True, exist_ok=True)  # raises the error a third race would give


def remove_empty_folders(created: list[Path]) -> None:
    """Remove the folders a run made (innermost first), each only if it is empty."""
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            folder.rmdir()
    created.clear()


def check_output_folder(target: Path) -> None:
    """Refuse ``target`` if it, or a folder above it, is something else (a file, a device).

    Called before a run solves, so it fails in a second, not after the solve; raises the
    :class:`~estates_opt.errors.OutputWriteError` naming what is in the way.
    """
    for path in (target, *target.parents):
        if os.path.lexists(path) and not path.is_dir():
            raise OutputWriteError(path, OSError(errno.ENOTDIR, not_a_folder(path)))
        if path.is_dir():
            return


def _prepare(target: Path, created: list[Path]) -> Path:
    """Make ``target`` if needed (noting each folder made in ``created``) and a staging
    folder inside it."""
    try:
        check_output_folder(target)
        make_folders(target, created)
        return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=target))
    except OutputWriteError:
        raise
    except OSError as exc:
        # Something other than a folder where the folder (or one of its parents, e.g. MAPS of
        # MAPS/<scenario>) should be, put there meanwhile: name it.
        blocker = next(
            (p for p in (target, *target.parents) if os.path.lexists(p) and not p.is_dir()),
            None,
        )
        if blocker is not None:
            cause = OSError(errno.ENOTDIR, not_a_folder(blocker))
            raise OutputWriteError(blocker, cause) from None
        raise OutputWriteError(target, exc) from None


@contextlib.contextmanager
def staged_directories(targets: Sequence[Path]) -> Iterator[list[Path]]:
    """Yield one staging folder per target; on success commit them all, else none.

    A failure anywhere (writing, or moving any file of any target into place)
    leaves every target exactly as it was, and every folder created for this run
    (missing parents too, and sub-folders made while committing) is removed again.
    A write failure names the file where it would have gone, never the staging path.
    A run killed outright can leave a hidden ``.staging-<pid>-*`` folder; the next
    successful run removes it.
    """
    created: list[Path] = []
    stagings: list[Path] = []
    committed = False
    for target in targets:  # what is in the way of any target, before any folder is made
        check_output_folder(target)
    try:
        for target in targets:
            stagings.append(_prepare(target, created))
        try:
            yield stagings
        except OutputWriteError as exc:
            raise exc.at(unstaged_path(Path(exc.path), stagings, targets)) from None
        commits: list[_Commit] = []
        try:
            for staging, target in zip(stagings, targets, strict=True):
                commits.append(_Commit(staging, target))
                commits[-1].apply()
            committed = True
        except BaseException:
            for commit in reversed(commits):
                commit.undo()
            raise
        finally:
            for commit in commits:
                commit.discard()
        for staging in stagings:
            shutil.rmtree(staging, ignore_errors=True)
        for target in dict.fromkeys(targets):
            remove_stale_staging(target)
    except BaseException as exc:
        for staging in stagings:
            shutil.rmtree(staging, ignore_errors=True)
        remove_empty_folders(created)  # every folder this run made, parents too, if empty
        if committed and isinstance(exc, KeyboardInterrupt):
            raise StoppedAfterWriting() from None  # only tidying was left: the outputs stand
        raise


def unstaged_path(path: Path, stagings: Sequence[Path], targets: Sequence[Path]) -> Path:
    """Where a staged file would have gone (``path`` itself if it is not staged)."""
    for staging, target in zip(stagings, targets, strict=True):
        if path == staging or staging in path.parents:
            return target / path.relative_to(staging)
    return path


@contextlib.contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """One staging folder for ``target``: see :func:`staged_directories`."""
    with staged_directories([target]) as (staging,):
        yield staging
