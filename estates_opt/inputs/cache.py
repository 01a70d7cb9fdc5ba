"""The validated form of a dataset, kept in the user's cache keyed on the files' hashes.

Reading and checking the England dataset (21 MB of GeoJSON and CSV, every
row, shape and reference checked) takes several seconds; loading the checked
result takes a fraction of one. :func:`estates_opt.inputs.dataset.read_dataset`
therefore keeps each dataset it has validated in a cache and reuses it while
the files are byte for byte the same:

* **Where**: ``$ESTATES_OPT_CACHE`` if set, else ``$XDG_CACHE_HOME/estates-opt/datasets``,
  else ``~/.cache/estates-opt/datasets``. Never inside the dataset folder: the
  inputs are only read. ``ESTATES_OPT_CACHE=off`` turns the cache off.
* **Key**: a BLAKE2 hash of every regular file at the top of the dataset folder
  and in its ``basemap/`` folder (names and bytes; what anything else is, by name), of the checking code
  (``estates_opt/inputs``, ``schema.py``...) and of the library versions, so an
  edited file, a new check or an upgrade means a fresh read. Only a dataset that
  passed every check is stored, so every problem is still reported, with the same
  message, from the files themselves.
* **Trust**: an entry is a pickle, which can run code when loaded, so it is
  read only from a folder and file owned by this user that no one else can
  write (as ssh treats its keys); entries are written atomically with mode 0600.
  Where that cannot be checked (no POSIX user ids) the cache is off.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import stat
import sys
import tempfile
from pathlib import Path

from estates_opt.paths import kind_of
from estates_opt.schema import BASEMAP_FOLDER

log = logging.getLogger(__name__)

#: Environment variable naming the cache folder (``off`` disables the cache).
CACHE_ENV = "ESTATES_OPT_CACHE"
#: Entries kept (the most recently used); older ones are removed when one is added.
MAX_ENTRIES = 8
#: Bump when the entry layout changes.
FORMAT = b"estates-opt dataset cache 1"
#: Package files whose code decides what a validated dataset is.
_CODE = ("inputs", "schema.py", "errors.py", "text.py", "paths.py")

_code_hash: bytes | None = None


def cache_folder() -> Path | None:
    """The folder entries live in, or None when the cache is off (the default).

    Opt-in: estates-opt writes nothing outside the folders a user names, so the cache
    is on only where ``$ESTATES_OPT_CACHE`` names its folder (``benchmarks/run.py``
    sets it to its own cache folder).
    """
    if not hasattr(os, "getuid"):
        return None
    setting = os.environ.get(CACHE_ENV, "")
    if not setting or setting.strip().lower() in ("off", "0", "no", "false"):
        return None
    return Path(setting)


def _code_fingerprint() -> bytes:
    """The checking code and library versions (computed once per process)."""
    global _code_hash
    if _code_hash is None:
        import geopandas
        import numpy
        import pandas
        import pyproj
        import shapely

        digest = hashlib.blake2b(FORMAT, digest_size=32)
        package = Path(__file__).resolve().parent.parent
        for name in _CODE:
            path = package / name
            files = sorted(path.glob("*.py")) if path.is_dir() else [path]
            for file in files:
                digest.update(file.relative_to(package).as_posix().encode())
                digest.update(file.read_bytes())
        versions = [sys.version, pandas.__version__, geopandas.__version__, numpy.__version__]
        versions += [shapely.__version__, pyproj.__version__]
        digest.update(repr(versions).encode())
        _code_hash = digest.digest()
    return _code_hash


def dataset_key(directory: Path) -> str | None:
    """The hash of the folder's files and the checking code; None if a file is unreadable."""
    digest = hashlib.blake2b(_code_fingerprint(), digest_size=32)
    return digest.hexdigest() if _hash_folder(digest, directory, top=True) else None


def _hash_folder(digest: hashlib.blake2b, directory: Path, *, top: bool) -> bool:
    """Add the folder's regular files (names and bytes) to ``digest``; False if unreadable.

    At the top, the ``basemap`` folder's files are hashed too: the input stage checks them.
    """
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return False
    for name in names:
        path = directory / name
        what = kind_of(path)
        digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        if top and name == BASEMAP_FOLDER and what == "a folder, not a file":
            digest.update(b"folder\0")
            if not _hash_folder(digest, path, top=False):
                return False
            digest.update(b"end of folder\0")
            continue
        if what is not None:  # a folder, link, pipe...: never opened, only named
            digest.update(what.encode() + b"\0")
            continue
        try:
            with open(path, "rb") as handle:
                digest.update(str(os.fstat(handle.fileno()).st_size).encode() + b"\0")
                while block := handle.read(1 << 20):
                    digest.update(block)
        except OSError:
            return False
    return True


def _private(path: Path, *, folder: bool) -> bool:
    """Whether ``path`` is this user's own folder/file that no one else can write."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    kind_ok = stat.S_ISDIR(info.st_mode) if folder else stat.S_ISREG(info.st_mode)
    return kind_ok and info.st_uid == os.getuid() and not info.st_mode & 0o022


def load(key: str | None) -> object | None:
    """The object cached under ``key`` (the caller checks it is a dataset), or None."""
    folder = cache_folder()
    if folder is None or key is None:
        return None
    entry = folder / f"{key}.pickle"
    if not (_private(folder, folder=True) and _private(entry, folder=False)):
        return None
    try:
        with open(entry, "rb") as handle:
            if handle.read(len(FORMAT)) != FORMAT:
                return None
            found = pickle.load(handle)  # our own private file, see above
        os.utime(entry)  # most recently used
    except Exception as exc:  # a truncated or stale entry is only a cache miss
        log.debug("dataset cache entry %s unusable: %s", entry, exc)
        return None
    log.info("dataset read from the cache (%s)", entry)
    return found


def store(key: str | None, dataset: object) -> None:
    """Keep ``dataset`` (validated) under ``key``; a cache that cannot be written is skipped."""
    folder = cache_folder()
    if folder is None or key is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _private(folder, folder=True):
            log.debug("dataset cache %s is not private to this user: not used", folder)
            return
        fd, temporary = tempfile.mkstemp(prefix=".entry-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(FORMAT)
                pickle.dump(dataset, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, folder / f"{key}.pickle")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        _prune(folder)
    except OSError as exc:
        log.debug("dataset cache %s not written: %s", folder, exc)


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        with contextlib.suppress(OSError):
            old.unlink()
