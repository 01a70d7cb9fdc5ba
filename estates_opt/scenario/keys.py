"""Walking a scenario's keys: the models inside annotations, unknown keys with a
suggestion, and looking up a dotted key in raw data."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from estates_opt.scenario.top_level import Scenario


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside an annotation, and whether it is a list of them."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found[0] is not None:
                return found
        return None, False
    if origin is list:
        inner, _ = _model_of(typing.get_args(annotation)[0])
        return inner, True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def unknown_keys(
    data: dict[str, Any], model: type[BaseModel] = Scenario, prefix: str = ""
) -> list[str]:
    """Every key in ``data`` the model does not know, as dotted paths with a suggestion."""
    found: list[str] = []
    fields = model.model_fields
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in fields or key == "source_file":
            close = difflib.get_close_matches(key, [f for f in fields if f != "source_file"], n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            found.append(f"unknown key '{path}'{hint}")
            continue
        sub, is_list = _model_of(fields[key].annotation)
        if sub is None:
            continue
        if is_list and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    found += unknown_keys(item, sub, f"{path}[{i}].")
        elif isinstance(value, dict):
            found += unknown_keys(value, sub, f"{path}.")
    return found


def value_at(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The value at the nested ``keys`` of ``data``, None where a key is missing."""
    holder: Any = data
    for key in keys:
        holder = holder.get(key) if isinstance(holder, dict) else None
    return holder
