"""What a path is, said plainly, and where outputs may not go.

A data file that is a folder, a named pipe or a device is not "missing": say what
it is (and never open a pipe or a device: reading one can block forever or never
end). Imported by every stage; imports nothing of the package.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def _noun(mode: int) -> str | None:
    """What a ``stat`` mode is, in words ("a file", "a folder"...); None if none of these."""
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None


def kind_of(path: Path) -> str | None:
    """``None`` for a regular file (or a link to one), else what ``path`` is, in words."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing" if not os.path.islink(path) else "a broken symbolic link"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    noun = _noun(mode)
    if noun == "a file":
        return None
    return f"{noun}, not a file" if noun else "not a regular file"


def not_a_folder(path: Path) -> str:
    """What is at ``path`` where a folder should be, in words ("it is a file, not a folder")."""
    try:
        noun = _noun(os.stat(path).st_mode)
    except OSError:
        if os.path.islink(path):
            return "it is a broken symbolic link, not a folder"
        return "it is not a folder"
    return f"it is {noun}, not a folder" if noun and noun != "a folder" else "it is not a folder"


def exists_as_something(path: Path) -> bool:
    """Whether anything (file, folder, pipe, link) is at ``path``."""
    return os.path.lexists(path)


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it, after following symbolic links."""
    try:
        target = Path(os.path.realpath(path))
        base = Path(os.path.realpath(folder))
    except OSError:
        return False
    return target == base or base in target.parents
