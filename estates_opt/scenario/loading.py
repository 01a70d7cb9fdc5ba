"""Reading scenario TOML files: following ``extends`` (merging tables, rebasing paths),
collecting every problem at once, and raising one error that names them all."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from estates_opt.errors import ScenarioError
from estates_opt.paths import kind_of
from estates_opt.scenario.keys import unknown_keys, value_at
from estates_opt.scenario.partial import ScenarioValuesError, partial_scenario
from estates_opt.scenario.top_level import Scenario
from estates_opt.scenario.validation import MAX_DEPTH, hostile_values, validated

#: Keys holding paths that are relative to the file that sets them.
_PATH_KEYS: tuple[tuple[str, ...], ...] = (("dataset",), ("travel", "matrix"))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _rebase_paths(data: dict[str, Any], source: Path, target: Path) -> None:
    """Rewrite relative path keys set in ``source``'s folder so they work from ``target``'s."""
    if source.parent.resolve() == target.parent.resolve():
        return
    for keys in _PATH_KEYS:
        value = value_at(data, keys)
        if isinstance(value, str) and not Path(value).is_absolute():
            holder = data
            for key in keys[:-1]:
                holder = holder[key]
            holder[keys[-1]] = os.path.relpath(
                (source.parent / value).resolve(), target.parent.resolve()
            )


def _read_toml(
    path: Path, chain: tuple[Path, ...] = (), problems: list[str] | None = None
) -> dict[str, Any]:
    """The merged data of ``path`` and the files it extends.

    Unknown keys (and a malformed ``extends``) are added to ``problems`` as
    '<file>: <what is wrong>', naming the file that sets them, and reading goes
    on, so the values can be checked in the same run and every mistake is
    reported at once. A file that cannot be read at all raises at once.
    """
    if problems is None:
        problems = []
    resolved = path.resolve()
    if resolved in chain:
        loop = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError(
            f"{chain[-1]}: 'extends' makes a loop ({loop}); remove one of the 'extends' keys."
        )
    what = kind_of(path)
    if what is not None:
        where = f"{chain[-1]}: 'extends' names " if chain else ""
        if what == "missing":
            raise ScenarioError(f"{where}{path}: scenario file not found.")
        raise ScenarioError(f"{where}{path}: is {what}; give a scenario .toml file.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            f"{path}: not valid TOML: not UTF-8 text (bad byte at line {line}); save it as UTF-8."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc}).") from exc
    except RecursionError:
        raise ScenarioError(
            f"{path}: not valid TOML for a scenario: arrays or tables nested too deeply to "
            f"read; a scenario needs at most {MAX_DEPTH} levels: remove the nesting."
        ) from None
    hostile = hostile_values(data)
    if hostile:
        raise ScenarioError(f"{path}: " + "; ".join(hostile), [f"{path}: {p}" for p in hostile])
    parent = data.pop("extends", None)
    problems += [f"{path}: {p} (see models/README.md)" for p in unknown_keys(data)]
    if parent is None:
        return data
    if not isinstance(parent, str):
        problems.append(f"{path}: 'extends' must be a file name in quotes.")
        return data
    base_path = path.parent / parent
    base = _read_toml(base_path, (*chain, resolved), problems)
    _rebase_paths(base, base_path, path)
    base.pop("name", None)
    base.pop("description", None)
    return _merge(base, data)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file (following ``extends``) into a :class:`Scenario`.

    Every problem is reported in one :class:`ScenarioError`: unknown keys (in the
    file or a file it extends) together with every bad value and type.
    """
    path = Path(path)
    problems: list[str] = []
    data = _read_toml(path, problems=problems)
    data.setdefault("name", path.stem)
    data["source_file"] = str(path.resolve())
    # Unknown keys are named already (with a suggestion, in the file that sets them).
    scenario, lines = validated(data, named=problems)
    problems += [f"{path}: {line}" for line in lines]
    if problems or scenario is None:
        error = ScenarioValuesError("; ".join(problems), problems)
        error.file = str(path)
        error.partial = partial_scenario(data)
        raise error
    return scenario
