"""Several scenarios -> one comparison table (CSV) and an offline HTML report.

:func:`compare_scenarios` checks every scenario file first (a bad file stops
the run before anything is solved), solves them in parallel processes (or on
Dask) with :func:`estates_opt.parallel.map_parallel`, writes each plan under
``out_dir/<scenario name>/`` and then:

* ``comparison.csv``: one row per KPI, one column per scenario, then one
  difference column per scenario against the first. Rows are in a fixed
  order and numbers have a fixed format, so the same inputs give a
  byte-identical file. Run times are *not* in it;
* ``comparison_long.csv``: the same figures in long form, one row per scenario and KPI,
  numbers and text in separate columns (for pandas or R);
* ``comparison_times.csv``: the stage times of each run (these vary);
* ``comparison.html``: the same table plus bar charts drawn as inline SVG, so
  the page works offline; every text that comes from inputs is escaped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from estates_opt.errors import EstatesOptError, OutputWriteError, ScenarioError
from estates_opt.inputs import dataset as dataset_files
from estates_opt.inputs.changes import apply_scenario, load_scenario_checked
from estates_opt.inputs.dataset import Dataset
from estates_opt.inputs.travel import measure_travel
from estates_opt.outputs.comparison import (
    COMPARISON_CSV,
    COMPARISON_FILES,
    COMPARISON_HTML,
    LONG_CSV,
    TIMES_CSV,
    comparison_csv,
    comparison_html,
    comparison_long_csv,
    comparison_table,
    kpi_rows,
    times_csv,
)
from estates_opt.outputs.files import (
    atomic_write_text,
    check_output_folder,
    staged_directories,
    unstaged_path,
)
from estates_opt.outputs.maps.pages import scenario_maps_dir
from estates_opt.outputs.plan_folder import check_outside_dataset, refuse_foreign, write_plan
from estates_opt.parallel import map_parallel
from estates_opt.pipeline import built_model, solve_changed
from estates_opt.scenario import Scenario

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScenarioJob:
    """One scenario to solve in a worker process, with the dataset it is solved on.

    ``dataset`` is the scenario's own copy (``apply_scenario`` of the one dataset read for
    the whole comparison), so the worker neither reads nor re-applies anything.
    """

    path: str
    scenario: Scenario
    dataset: Dataset
    #: Where the plan is written: ``<stage_dir>/<name>/``, inside the comparison's staging.
    stage_dir: str
    #: Where this scenario's maps are written (``None``: no maps), staged too.
    maps_dir: str | None = None
    #: (staging, output folder) pairs: a write error names the output folder's file.
    staged: tuple[tuple[str, str], ...] = ()


def solve_scenario(job: ScenarioJob) -> dict[str, Any]:
    """Solve one scenario and write its plan under ``stage_dir/<name>/`` (a worker).

    Returns a small picklable dict: name, KPI rows, stage times, and
    ``error``/``error_kind`` instead of KPIs when the solve failed. A plan that
    cannot be written raises :class:`OutputWriteError` (naming the file's final
    place): the whole comparison is then not written.
    """
    started = time.perf_counter()
    scenario = job.scenario
    result: dict[str, Any] = {
        "name": scenario.name,
        "path": job.path,
        "description": scenario.description,
    }
    try:
        plan = solve_changed(job.dataset, scenario)
        write_plan(plan, Path(job.stage_dir) / scenario.name, maps_dir=job.maps_dir)
    except OutputWriteError as exc:
        stagings, targets = zip(*job.staged, strict=True) if job.staged else ((), ())
        where = unstaged_path(
            Path(exc.path), [Path(p) for p in stagings], [Path(p) for p in targets]
        )
        raise exc.at(where) from None
    except EstatesOptError as exc:
        result.update(
            error=str(exc),
            error_kind=_error_kind(exc),
            seconds={"total": round(time.perf_counter() - started, 3)},
        )
        return result
    seconds = dict(plan.kpis.get("seconds", {}))
    seconds["total"] = round(time.perf_counter() - started, 3)
    result.update(kpis=kpi_rows(plan), seconds=seconds)
    return result


def _error_kind(exc: EstatesOptError) -> str:
    """'bad_input' (exit 2) or 'solve' (exit 1)."""
    return "bad_input" if isinstance(exc, ValueError) else "solve"


def check_scenario_files(
    paths: Sequence[str | Path],
    *,
    maps_folder: bool = False,
    mixed_datasets: bool = False,
) -> list[tuple[Scenario, Dataset]]:
    """Load every scenario and check it against its dataset; report every problem at once.

    Each dataset is read and validated once, however many scenarios use it; each
    scenario gets its own changed copy of it (``apply_scenario``: growth, closures,
    new buildings), made from that one read, and returned with it.
    Two scenarios whose plan (or, with ``maps_folder``, map) folders would be the same
    are an error (:func:`_folder_problems`), and so, unless ``mixed_datasets``, are
    scenarios on different datasets: their differences would compare two estates.
    Problems in several files (a typo in one, an unknown site in another) come in
    one :class:`ScenarioError`, like a dataset's, not one per run.
    """
    if not paths:
        raise ScenarioError("compare: give at least one scenario file.")
    problems: list[str] = []
    loaded: list[tuple[str | Path, Scenario]] = []
    datasets: dict[Path, Dataset] = {}

    def read(folder: Path) -> Dataset:
        where = folder.resolve()
        if where not in datasets:
            datasets[where] = dataset_files.read_dataset(where)
        return datasets[where]

    for path in paths:
        try:  # a file with bad values is also checked against its dataset
            loaded.append((path, load_scenario_checked(path, read)))
        except ScenarioError as exc:
            problems += exc.problems or [str(exc)]
    problems += _folder_problems(loaded, maps_folder)
    if not mixed_datasets:
        problems += _dataset_problems(loaded)
    checked = []
    for _, scenario in loaded:
        try:
            data = apply_scenario(read(scenario.dataset_path()), scenario)
        except ScenarioError as exc:
            problems += exc.problems or [str(exc)]
            continue
        checked.append((scenario, data))
        if scenario.pinned:  # pins that cannot hold stop the comparison before any solve
            problems += built_model(data, scenario, measure_travel(data, scenario))[1]
    if problems:
        raise ScenarioError("; ".join(problems), problems)
    return checked


def _folder_problems(loaded: Sequence[tuple[str | Path, Scenario]], maps_folder: bool) -> list[str]:
    """Names that would write into one folder, or over a comparison file.

    A plan goes to ``OUT/<name>/``, so names differing only in case share a folder on
    Windows and macOS disks; maps go to ``MAPS/<name cleaned>/``, so ``a+b`` and ``a_b``
    share one there; and a scenario called ``comparison.csv`` would take that file's place
    after every solve had run.
    """
    problems = []
    reserved = {name.casefold() for name in COMPARISON_FILES}
    seen: dict[str, tuple[str, str]] = {}  # folder -> (file, name) of the first to use it
    for path, scenario in loaded:
        name = scenario.name
        if name.casefold() in reserved:
            problems.append(
                f"{path}: key 'name': '{name}' is a file the comparison writes in its output "
                "folder; give the scenario another name."
            )
        folders = {name.casefold()}
        if maps_folder:
            folders.add(scenario_maps_dir("", name).name.casefold())
        other = next((seen[f] for f in sorted(folders) if f in seen), None)
        if other is not None and Path(other[0]).resolve() == Path(path).resolve():
            problems.append(
                f"{path}: given twice; each scenario file once (its plan has one folder)."
            )
        elif other is not None:
            same = (
                "is also used by" if other[1] == name else f"shares a folder with '{other[1]}' in"
            )
            problems.append(
                f"{path}: key 'name': scenario name '{name}' {same} {other[0]}; each plan "
                "is written to a folder named after its scenario (ignoring case, and for maps "
                "with '+', '.', '(' and ')' read as '_'), so give each a distinct name."
            )
        for folder in folders:
            seen.setdefault(folder, (str(path), name))
    return problems


def _dataset_problems(loaded: Sequence[tuple[str | Path, Scenario]]) -> list[str]:
    """Scenarios whose dataset is not the first scenario's (the reference's)."""
    if not loaded:
        return []
    first_path, first = loaded[0]
    reference = first.dataset_path().resolve()
    return [
        f"{path}: key 'dataset': {scenario.dataset_path().resolve()} is not the dataset of "
        f"the reference {first_path} ({reference}); every difference would compare two "
        "estates. Use the same dataset, or compare them anyway with --mixed-datasets."
        for path, scenario in loaded[1:]
        if scenario.dataset_path().resolve() != reference
    ]


def compare_scenarios(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    dask: bool = False,
    scheduler: str | None = None,
    maps: bool | str | Path = False,
    mixed_datasets: bool = False,
) -> pd.DataFrame:
    """Solve scenarios in parallel, write their plans and the comparison; return the table.

    ``maps``: a folder draws each scenario's maps in ``<maps>/<scenario name>/``; ``True``
    draws them in each plan folder (``<out_dir>/<name>/maps/``); ``False`` draws none.
    ``mixed_datasets``: allow scenarios on different datasets (an error otherwise).

    The table is indexed by KPI, with a ``unit`` column, one column per
    scenario and one ``<name> - <first>`` difference column per later scenario.
    """

    out = Path(out_dir)
    maps_root = None if isinstance(maps, bool) else Path(maps)
    started = time.perf_counter()
    checked = check_scenario_files(
        paths, maps_folder=maps_root is not None, mixed_datasets=mixed_datasets
    )
    _check_folders(checked, out, maps_root, maps is True)
    read_seconds = time.perf_counter() - started
    targets = [out] if maps_root is None else [out, maps_root]
    # Every plan, map and comparison file is staged and committed together: a failure or
    # Ctrl-C anywhere leaves the output folders as they were, never new plans beside an old
    # comparison.
    with staged_directories(targets) as stages:
        staged = tuple((str(a), str(b)) for a, b in zip(stages, targets, strict=True))
        jobs = [
            ScenarioJob(
                str(path),
                scenario,
                dataset,
                str(stages[0]),
                _maps_dir(maps, stages[0], stages[-1], scenario.name),
                staged,
            )
            for path, (scenario, dataset) in zip(paths, checked, strict=True)
        ]
        results = map_parallel(solve_scenario, jobs, dask=dask, scheduler=scheduler)
        for result in results:  # the shared read and check, once for the whole comparison
            result["seconds"] = {"read": round(read_seconds, 3), **result["seconds"]}
            if "error" not in result:
                result["plan_dir"] = str(out / result["name"])
        wall = time.perf_counter() - started
        table = comparison_table(results)
        names = [r["name"] for r in results]
        atomic_write_text(stages[0] / COMPARISON_CSV, comparison_csv(table))
        atomic_write_text(stages[0] / LONG_CSV, comparison_long_csv(table, names))
        atomic_write_text(stages[0] / TIMES_CSV, times_csv(results, wall))
        atomic_write_text(stages[0] / COMPARISON_HTML, comparison_html(table, results, wall))
    log.info("compared %d scenarios in %.1f s: %s", len(results), wall, out)
    table.attrs["results"] = results
    table.attrs["wall_seconds"] = wall
    return table


def _check_folders(
    checked: Sequence[tuple[Scenario, Dataset]], out: Path, maps: Path | None, maps_in_plans: bool
) -> None:
    """Refuse, before any solve, output folders inside a dataset, blocked by a file, or
    holding other files (:func:`refuse_foreign`)."""
    folders = [out, maps]
    refuse_foreign(out, "comparison")
    for scenario, _ in checked:
        folders.append(out / scenario.name)
        refuse_foreign(out / scenario.name, "plan")
        if maps is not None:
            folders.append(scenario_maps_dir(maps, scenario.name))
            refuse_foreign(scenario_maps_dir(maps, scenario.name), "maps")
        elif maps_in_plans:
            folders.append(out / scenario.name / "maps")
            refuse_foreign(out / scenario.name / "maps", "maps")
    for source in dict.fromkeys(dataset.source for _, dataset in checked):
        check_outside_dataset(source, out, maps)
    for folder in folders:
        if folder is not None:
            check_output_folder(folder)


def _maps_dir(maps: bool | str | Path, plans: Path, folder: Path, name: str) -> str | None:
    """A scenario's maps: none, in its plan folder under ``plans``, or in ``folder``."""
    if maps is False:
        return None
    if maps is True:
        return str(plans / name / "maps")
    return str(scenario_maps_dir(folder, name))
