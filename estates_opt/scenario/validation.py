"""Validating raw data into a :class:`Scenario`, with every problem worded as a scenario key:
hostile values (deep nesting, control characters) first, then pydantic's errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from estates_opt.errors import ScenarioError
from estates_opt.scenario.top_level import Scenario
from estates_opt.text import control_characters, escape_control

#: Deepest nesting of tables and arrays a scenario may have (real ones use 3).
MAX_DEPTH = 20


def hostile_values(data: Any) -> list[str]:
    """Keys and text that no scenario needs: nesting deeper than :data:`MAX_DEPTH`, control
    characters (ESC, BEL, NUL, bidi overrides) in a key or a string. Walks without recursion.
    """
    problems: list[str] = []
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(
                f"'{where}' is nested more than {MAX_DEPTH} levels deep: remove the nesting "
                "(see models/README.md)"
            )
            return problems
        if isinstance(value, dict):
            items = [(f"{where}.{k}" if where else str(k), v, str(k)) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"{where}[{i}]", v, "") for i, v in enumerate(value)]
        else:
            if isinstance(value, str) and control_characters(value):
                problems.append(
                    f"key '{escape_control(where)}' contains control characters "
                    f"({', '.join(control_characters(value))}): remove them"
                )
            continue
        for path, item, key in reversed(items):
            if control_characters(key):
                problems.append(
                    f"key '{escape_control(path)}' has control characters in its name "
                    f"({', '.join(control_characters(key))}): remove them"
                )
                continue
            stack.append((path, item, depth + 1))
    return problems


NUMBER_ERRORS = frozenset({"float_type", "int_type", "float_parsing", "int_parsing"})


def _key(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a scenario key: ``pinned[0].band``, ``caps.community``."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def validated(data: dict[str, Any], named: Sequence[str] = ()) -> tuple[Scenario | None, list[str]]:
    """``data`` as a Scenario, or None and every bad value, type, missing or unknown key.

    An unknown key already reported in one of the ``named`` problems is not repeated.
    """
    try:
        return Scenario.model_validate(data), []
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = _key(error["loc"])
            if error["type"] == "extra_forbidden":
                if not any(f"'{key}'" in problem for problem in named):
                    lines.append(f"unknown key '{key}' (check the spelling; see models/README.md)")
            elif error["type"] == "missing":
                lines.append(f"key '{key}' is required: add it (see models/README.md)")
            elif isinstance(error.get("input"), bool) and error["type"] in NUMBER_ERRORS:
                lines.append(
                    f"key '{key}': {error['input']!r} is a true/false value, not a number: "
                    "give a number"
                )
            else:
                given = error.get("input")
                shown = f" (given {given!r})" if isinstance(given, str | int | float) else ""
                message = error["msg"].removeprefix("Value error, ")
                if not error["loc"] and message.startswith("key '"):
                    lines.append(message)  # a rule across keys names its own key
                    continue
                lines.append(f"key '{key}': {message}{shown[:80]}")
        return None, lines


def scenario_from_dict(data: dict[str, Any], origin: str = "<scenario>") -> Scenario:
    """Validate a dict into a Scenario, with errors naming each bad key and the origin."""
    hostile = hostile_values(data)  # also for dicts not read from TOML (a plan's scenario.json)
    if hostile:
        raise ScenarioError(f"{origin}: " + "; ".join(hostile), [f"{origin}: {p}" for p in hostile])
    scenario, lines = validated(data)
    if scenario is None:
        raise ScenarioError(
            f"{origin}: " + "; ".join(lines), [f"{origin}: {line}" for line in lines]
        )
    return scenario
