"""What is left of a scenario with bad values: the entries at fault are taken out, so the
rest can still be checked against the dataset in the same run."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from estates_opt.errors import ScenarioError
from estates_opt.scenario.keys import value_at
from estates_opt.scenario.top_level import Scenario


class ScenarioValuesError(ScenarioError):
    """Bad keys or values in a scenario file that could be read.

    ``partial`` is the scenario without the entries at fault (None when what is left
    cannot be trusted, e.g. the ``dataset`` key is wrong), so the rest can still be
    checked against the dataset in the same run
    (:func:`estates_opt.inputs.changes.load_scenario_checked`); ``file`` is the path as given.
    """

    file: str = ""
    partial: PartialScenario | None = None


@dataclass(frozen=True)
class PartialScenario:
    """A scenario without its entries at fault, and where the rest were in the file.

    ``positions`` maps a list key (``pinned``, ``buildings.capacity``) to the index each
    kept entry had in the file, so a problem found later names the entry as written;
    ``new_site_ids`` are the ids of ``[[buildings.new]]`` entries left out (other keys
    may name them without being wrong).
    """

    scenario: Scenario
    positions: dict[str, tuple[int, ...]] = field(default_factory=dict)
    new_site_ids: frozenset[str] = frozenset()

    def index(self, key: str, i: int) -> int:
        """The index in the file of the ``i``-th kept entry of the list ``key``."""
        kept = self.positions.get(key)
        return kept[i] if kept is not None and i < len(kept) else i


#: Keys without which nothing else can be checked against a dataset.
_TRUSTED_KEYS = frozenset({"dataset"})


def _entry(data: Any, loc: tuple[int | str, ...]) -> tuple[Any, int | str] | None:
    """The entry a validation error is about, as (container, key): the list item on its
    path (a whole ``[[pinned]]`` row), else the deepest key present."""
    holder, found = data, None
    for part in loc:
        if isinstance(holder, list) and isinstance(part, int) and 0 <= part < len(holder):
            return holder, part
        if isinstance(holder, dict) and part in holder:
            found = (holder, part)
            holder = holder[part]
            continue
        break
    return found


def partial_scenario(data: dict[str, Any]) -> PartialScenario | None:
    """``data`` validated without the entries that have bad values, unknown keys or types.

    None when the dataset itself is in doubt, or what is left still does not validate.
    """
    data = copy.deepcopy(data)
    lists: dict[int, tuple[str, list[Any], list[int]]] = {}  # id(list) -> key, list, kept
    new = value_at(data, ("buildings", "new"))
    new_ids = {
        site["site_id"]
        for site in (new if isinstance(new, list) else [])
        if isinstance(site, dict) and isinstance(site.get("site_id"), str)
    }
    for _ in range(5):  # removing entries can reveal checks that did not run before
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as exc:
            entries = [_entry(data, tuple(e["loc"])) for e in exc.errors()]
            if any(e is None or (e[0] is data and e[1] in _TRUSTED_KEYS) for e in entries):
                return None
            gone: dict[int, set[int]] = {}
            for container, key in (e for e in entries if e is not None):
                if isinstance(container, list) and isinstance(key, int):
                    gone.setdefault(id(container), set()).add(key)
                    lists.setdefault(id(container), (_list_key(data, container), container, []))
                elif isinstance(container, dict):
                    container.pop(key, None)
            for ident, indices in gone.items():
                _, items, kept = lists[ident]
                if not kept:
                    kept.extend(range(len(items)))
                for i in sorted(indices, reverse=True):
                    del items[i]
                    del kept[i]
            continue
        positions = {name: tuple(kept) for name, _, kept in lists.values() if name}
        left_out = new_ids - {site.site_id for site in scenario.buildings.new}
        return PartialScenario(scenario, positions, frozenset(left_out))
    return None


def _list_key(data: dict[str, Any], target: list[Any]) -> str:
    """The dotted key of a list of tables in ``data`` (``buildings.new``), '' if none."""
    for key, value in data.items():
        if value is target:
            return str(key)
        if isinstance(value, dict):
            for sub, inner in value.items():
                if inner is target:
                    return f"{key}.{sub}"
    return ""
