"""Apply a scenario to a dataset: check its references, then close, open, resize, re-time.

:func:`apply_scenario` returns a new :class:`Dataset`; the input frames are
never modified. A scenario that names a service, borough, PCN or site the
dataset does not have is a :class:`ScenarioError` naming the key and the file,
never silently ignored (:func:`check_references` lists every such problem).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from estates_opt.errors import EstatesOptError, ScenarioError
from estates_opt.inputs.dataset import Dataset, read_dataset
from estates_opt.inputs.estate_changes import (
    Estate,
    add_new_sites,
    close_buildings,
    resize_rooms,
    restrict_opening_options,
    retime_sites,
)
from estates_opt.inputs.movable_shares import (
    apply_movable_shares,
    movable_problems,
    shipped_shares,
)
from estates_opt.inputs.rehouse import rehouse_fixed_work
from estates_opt.inputs.scenario_references import (
    check_references,
    entry_place,
    raise_scenario_problems,
)
from estates_opt.scenario import PartialScenario, Scenario, ScenarioValuesError, load_scenario

__all__ = [
    "apply_movable_shares",
    "apply_scenario",
    "check_references",
    "load_scenario_checked",
    "movable_problems",
    "rehouse_fixed_work",
    "scenario_problems",
    "shipped_shares",
]


def apply_scenario(dataset: Dataset, scenario: Scenario) -> Dataset:
    """The dataset as the scenario describes it (buildings and population changed).

    Closed buildings and bands a building is shut in keep nothing: their fixed
    work becomes demand of its own (:func:`rehouse_fixed_work`) and today's
    sessions there move like any other. Every problem of the scenario with the
    dataset (names it lacks, rooms or opening options a site does not have) comes
    in one :class:`ScenarioError`.
    """
    origin = scenario.source_file or f"scenario {scenario.name!r}"
    changed, problems = _changed(dataset, scenario)
    raise_scenario_problems(origin, problems)
    if changed is None:  # never without problems; a guard for the type checker
        raise ScenarioError(f"{origin}: the scenario could not be applied")
    return changed


def scenario_problems(
    dataset: Dataset, scenario: Scenario, partial: PartialScenario | None = None
) -> list[str]:
    """Every problem :func:`apply_scenario` would report, as '<key>: <what is wrong>'."""
    return _changed(dataset, scenario, partial)[1]


def _changed(
    dataset: Dataset, scenario: Scenario, partial: PartialScenario | None = None
) -> tuple[Dataset | None, list[str]]:
    """The changed dataset, or None and every problem: references first, then the rooms
    and opening options of the sites the scenario changes (a site it names wrongly is
    reported once, by :func:`check_references`)."""
    at = entry_place(partial)
    problems = check_references(dataset, scenario, partial)
    movable = movable_problems(dataset, scenario)
    problems += movable
    if not movable:
        dataset = apply_movable_shares(dataset, scenario)
    estate = Estate(dataset.premises.copy(), dataset.capacity.copy(), dataset.opening.copy())
    close_buildings(estate, scenario)
    add_new_sites(estate, dataset, scenario)
    problems += resize_rooms(estate, scenario, at)
    problems += retime_sites(estate, scenario, at)
    if problems:
        return None, problems
    restrict_opening_options(estate, scenario)
    lsoas = dataset.lsoas
    if scenario.growth.population != 1.0:
        lsoas = lsoas.copy()
        lsoas["population"] = lsoas["population"] * scenario.growth.population
    changed = replace(
        dataset,
        premises=estate.premises.reset_index(drop=True),
        capacity=estate.capacity.reset_index(drop=True),
        opening=estate.opening.reset_index(drop=True),
        lsoas=lsoas,
    )
    return rehouse_fixed_work(changed, dataset, estate.removed, scenario), []


def load_scenario_checked(
    path: str | Path, read: Callable[[Path], Dataset] = read_dataset
) -> Scenario:
    """:func:`~estates_opt.scenario.load_scenario`, and if the file has bad values, the
    rest of it checked against its dataset too, so every problem comes in one run.

    The entries at fault are not checked against the dataset (what they name cannot be
    trusted); neither is anything when the ``dataset`` key is wrong or the dataset cannot
    be read (its own problems are reported once the scenario reads). A valid scenario is
    returned as it is: :func:`apply_scenario` checks it when it is applied.
    """
    try:
        scenario = load_scenario(path)
    except ScenarioValuesError as exc:
        more = _reference_problems(exc, read)
        if not more:
            raise
        problems = [*exc.problems, *more]
        raise ScenarioError("; ".join(problems), problems) from None
    folder = scenario.dataset_path()
    if not folder.is_dir():  # name the file and key that say where, not only the folder
        what = "is not a folder" if folder.exists() else "does not exist"
        problem = (
            f"{path}: key 'dataset': '{scenario.dataset}' ({folder}) {what}. Fix: give the "
            "dataset folder's path, relative to the scenario file."
        )
        raise ScenarioError(problem, [problem])
    return scenario


def _reference_problems(exc: ScenarioValuesError, read: Callable[[Path], Dataset]) -> list[str]:
    partial = exc.partial
    if partial is None:
        return []
    try:
        dataset = read(partial.scenario.dataset_path())
    except (EstatesOptError, OSError):
        return []
    return [f"{exc.file}: {p}" for p in scenario_problems(dataset, partial.scenario, partial)]
