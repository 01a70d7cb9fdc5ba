"""Checking the ids a scenario names against its dataset, before anything is changed.

A scenario that names a service, borough, PCN or site the dataset does not have
is a :class:`~estates_opt.errors.ScenarioError` naming the key and the file,
never silently ignored: :func:`check_references` lists every such problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from estates_opt.errors import ScenarioError
from estates_opt.inputs.dataset import Dataset
from estates_opt.paths import kind_of
from estates_opt.scenario import PartialScenario, Scenario
from estates_opt.schema import ENHANCED_ACCESS_BANDS as EA_BANDS
from estates_opt.schema import label_of


def _unknown(kind: str, key: str, value: str, known: set[str]) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{key}: {kind} '{value}' is not in the dataset{hint}"


def entry_place(partial: PartialScenario | None) -> Callable[[str, int], int]:
    """Where the ``i``-th entry of a list key was in the file (entries left out of a
    partial scenario shift the others)."""
    return partial.index if partial is not None else (lambda key, i: i)


@dataclass(frozen=True)
class _Known:
    """The ids a scenario may name: the dataset's, and the new sites it adds."""

    services: set[str]
    boroughs: set[str]
    pcns: set[str]
    sites: set[str]
    new_sites: set[str]
    closed: set[str]


def check_references(
    dataset: Dataset, scenario: Scenario, partial: PartialScenario | None = None
) -> list[str]:
    """Every scenario key that names a service, borough, PCN or site the dataset lacks.

    With ``partial`` (a scenario whose entries at fault were left out) entries are named
    by their place in the file, and the ids of new sites left out count as known.
    """
    at = entry_place(partial)
    new_sites = {n.site_id for n in scenario.buildings.new}
    known = _Known(
        services=set(dataset.services["service_id"]),
        boroughs={str(b) for b in dataset.pcns["borough"].dropna() if str(b)},
        pcns=set(dataset.pcns["pcn_code"]),
        sites=set(dataset.premises["site_id"]),
        new_sites=new_sites | (partial.new_site_ids if partial is not None else set()),
        closed=set(scenario.buildings.close),
    )
    problems = _named_key_problems(scenario, known)
    problems += _new_site_problems(scenario, known, at)
    problems += _changed_site_problems(scenario, known, at)
    problems += _pin_problems(dataset, scenario, known, at)
    if known.sites and known.sites <= known.closed and not known.new_sites:
        problems.append(
            "buildings.close: closes every site of the dataset, so no service has anywhere to "
            "go; keep at least one open, or add one with [[buildings.new]]"
        )
    matrix = scenario.matrix_path()
    what = kind_of(matrix) if matrix is not None else None
    if what == "missing":
        problems.append(f"travel.matrix: file '{matrix}' not found")
    elif what is not None:
        problems.append(f"travel.matrix: '{matrix}' is {what}: give the matrix file's path")
    return problems


def _named_key_problems(scenario: Scenario, known: _Known) -> list[str]:
    """Services, boroughs and closed sites named by the keyed tables of the scenario."""
    named: list[tuple[str, str, Iterable[str], set[str]]] = [
        ("service", "growth.by_service", scenario.growth.by_service, known.services),
        ("borough", "growth.by_borough", scenario.growth.by_borough, known.boroughs),
        ("service", "travel.max_km_by_service", scenario.travel.max_km_by_service, known.services),
        ("service", "movable.share", scenario.movable.share, known.services),
        ("service", "movable.share_by_kind", scenario.movable.share_by_kind, known.services),
        ("service", "suitability.relax", scenario.suitability.relax, known.services),
        ("site", "buildings.close", scenario.buildings.close, known.sites),
    ]
    return [
        _unknown(kind, key, value, ids)
        for kind, key, values, ids in named
        for value in values
        if value not in ids
    ]


def _new_site_problems(
    scenario: Scenario, known: _Known, at: Callable[[str, int], int]
) -> list[str]:
    """``[[buildings.new]]``: ids of their own, and a PCN and borough the dataset has."""
    problems = []
    for i, new in enumerate(scenario.buildings.new):
        key = f"buildings.new[{at('buildings.new', i)}]"
        if new.site_id in known.sites:
            problems.append(
                f"{key}: site_id '{new.site_id}' already exists in the dataset; give the new "
                "site an id of its own"
            )
        if new.pcn_code and new.pcn_code not in known.pcns:
            problems.append(_unknown("PCN", f"{key}.pcn_code", new.pcn_code, known.pcns))
        if new.borough and new.borough not in known.boroughs:
            problems.append(_unknown("borough", f"{key}.borough", new.borough, known.boroughs))
    if len({n.site_id for n in scenario.buildings.new}) != len(scenario.buildings.new):
        problems.append("buildings.new: two new sites share a site_id; give each its own")
    return problems


def _changed_site_problems(
    scenario: Scenario, known: _Known, at: Callable[[str, int], int]
) -> list[str]:
    """``[[buildings.capacity]]`` and ``[[buildings.opening]]`` name open, known sites."""
    problems = []
    every_site = known.sites | known.new_sites
    for family in ("capacity", "opening"):
        for i, change in enumerate(getattr(scenario.buildings, family)):
            key = f"buildings.{family}[{at(f'buildings.{family}', i)}].site_id"
            if change.site_id in known.closed:
                problems.append(
                    f"{key}: site '{change.site_id}' is closed by buildings.close; remove the "
                    "change or keep the site open"
                )
            elif change.site_id not in every_site:
                problems.append(_unknown("site", key, change.site_id, every_site))
    return problems


def pin_rule_problem(dataset: Dataset, service: str, kind: object, band: str) -> str | None:
    """Why services.csv forbids ``service`` in a ``kind`` site in ``band``, or None: the
    first two rules an allocation (and so a pin) must keep."""
    rules = dataset.services[dataset.services["service_id"] == service]
    if not len(rules):
        return None
    rule = rules.iloc[0]
    bands = [b for b in rule["bands"] if rule["category"] != "enhanced_access" or b in EA_BANDS]
    if band not in bands:
        return f"{service} runs only in {', '.join(bands) or 'no band'} (services.csv bands)"
    kinds = sorted(rule["site_kinds"])
    if kind not in kinds:
        return (
            f"{label_of(kind)} is not a site kind {service} may use: only "
            f"{', '.join(map(label_of, kinds))} (services.csv site_kinds)"
        )
    return None


def _pin_problems(
    dataset: Dataset, scenario: Scenario, known: _Known, at: Callable[[str, int], int]
) -> list[str]:
    """``[[pinned]]`` names a known PCN and service and an open, known site, in a band
    and site kind the service may use."""
    problems = []
    every_site = known.sites | known.new_sites
    kinds = {
        **dict(zip(dataset.premises["site_id"], dataset.premises["kind"], strict=True)),
        **{n.site_id: n.kind for n in scenario.buildings.new},
    }
    for i, pin in enumerate(scenario.pinned):
        key = f"pinned[{at('pinned', i)}]"
        if pin.pcn_code not in known.pcns:
            problems.append(_unknown("PCN", f"{key}.pcn_code", pin.pcn_code, known.pcns))
        if pin.service_id not in known.services:
            problems.append(
                _unknown("service", f"{key}.service_id", pin.service_id, known.services)
            )
        if pin.site_id in known.closed:
            problems.append(
                f"{key}.site_id: site '{pin.site_id}' is closed by buildings.close; remove the "
                "pin or keep the site open"
            )
        elif pin.site_id not in every_site:
            problems.append(_unknown("site", f"{key}.site_id", pin.site_id, every_site))
        elif pin.service_id in known.services:
            rule = pin_rule_problem(dataset, pin.service_id, kinds.get(pin.site_id), pin.band)
            if rule is not None:
                problems.append(f"{key} ({', '.join(pin.slot)}): {rule}; correct or remove the pin")
    return problems


def raise_scenario_problems(origin: str, problems: list[str]) -> None:
    """One :class:`ScenarioError` listing every problem, each prefixed with ``origin``."""
    if problems:
        raise ScenarioError(
            f"{origin}: " + "; ".join(problems), [f"{origin}: {p}" for p in problems]
        )
