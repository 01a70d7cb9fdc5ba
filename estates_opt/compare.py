"""Several scenarios -> one comparison table (CSV) and an offline HTML report.

:func:`compare_scenarios` checks every scenario file first (a bad file stops
the run before anything is solved), solves them in parallel processes (or on
Dask) with :func:`estates_opt.parallel.map_parallel`, writes each plan under
``out_dir/<scenario name>/`` and then:

* ``comparison.csv``: one row per KPI, one column per scenario, then one
  difference column per scenario against the first. Rows are in a fixed
  order and numbers have a fixed format, so the same inputs give a
  byte-identical file. Run times are *not* in it;
* ``comparison_times.csv``: the stage times of each run (these vary);
* ``comparison.html``: the same table plus bar charts drawn as inline SVG, so
  the page works offline; every text that comes from inputs is escaped.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from estates_opt.errors import EstatesOptError, OutputWriteError, ScenarioError
from estates_opt.outputs.comparison import (
    COMPARISON_CSV,
    COMPARISON_HTML,
    TIMES_CSV,
    comparison_csv,
    comparison_html,
    comparison_table,
    kpi_rows,
    times_csv,
)
from estates_opt.outputs.files import atomic_write_text
from estates_opt.parallel import map_parallel

log = logging.getLogger(__name__)


def solve_scenario_file(path: str, out_dir: str, maps: bool = False) -> dict[str, Any]:
    """Solve one scenario file and write its plan under ``out_dir/<name>/`` (a worker).

    Returns a small picklable dict: name, KPI rows, plan folder, stage times,
    and ``error``/``error_kind`` instead of KPIs when the solve failed.
    """
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.outputs.plan_folder import write_plan
    from estates_opt.pipeline import solve
    from estates_opt.scenario import load_scenario

    started = time.perf_counter()
    scenario = load_scenario(path)
    result: dict[str, Any] = {
        "name": scenario.name,
        "path": path,
        "description": scenario.description,
    }
    try:
        dataset = read_dataset(scenario.dataset_path())
        read_seconds = time.perf_counter() - started
        plan = solve(dataset, scenario)
        plan_dir = Path(out_dir) / scenario.name
        write_plan(plan, plan_dir, maps_dir=plan_dir / "maps" if maps else None)
    except EstatesOptError as exc:
        result.update(
            error=str(exc),
            error_kind=_error_kind(exc),
            seconds={"total": round(time.perf_counter() - started, 3)},
        )
        return result
    seconds = {"read": round(read_seconds, 3), **plan.kpis.get("seconds", {})}
    seconds["total"] = round(time.perf_counter() - started, 3)
    result.update(kpis=kpi_rows(plan), plan_dir=str(plan_dir), seconds=seconds)
    return result


def _error_kind(exc: EstatesOptError) -> str:
    """'bad_input' (exit 2), 'write' (outputs not written, exit 3) or 'solve' (exit 1)."""
    if isinstance(exc, OutputWriteError):
        return "bad_input" if exc.user_path else "write"
    return "bad_input" if isinstance(exc, ValueError) else "solve"


def check_scenario_files(paths: Sequence[str | Path]) -> list[Any]:
    """Load every scenario and check it against its dataset; raise on the first bad one.

    Two scenarios with the same name would write to the same folder: an error.
    """
    from estates_opt.inputs.changes import apply_scenario
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.scenario import load_scenario

    if not paths:
        raise ScenarioError("compare: give at least one scenario file.")
    scenarios = [load_scenario(p) for p in paths]
    seen: dict[str, str] = {}
    for path, scenario in zip(paths, scenarios, strict=True):
        if scenario.name in seen:
            raise ScenarioError(
                f"{path}: scenario name '{scenario.name}' is also used by {seen[scenario.name]}; "
                "each plan is written to a folder named after its scenario, so give each a "
                "distinct name."
            )
        seen[scenario.name] = str(path)
    datasets: dict[Path, Any] = {}
    for scenario in scenarios:
        where = scenario.dataset_path().resolve()
        if where not in datasets:
            datasets[where] = read_dataset(where)
        apply_scenario(datasets[where], scenario)
    return scenarios


def compare_scenarios(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    *,
    dask: bool = False,
    scheduler: str | None = None,
    maps: bool = False,
) -> pd.DataFrame:
    """Solve scenarios in parallel, write their plans and the comparison; return the table.

    The table is indexed by KPI, with a ``unit`` column, one column per
    scenario and one ``<name> - <first>`` difference column per later scenario.
    """

    out = Path(out_dir)
    check_scenario_files(paths)
    started = time.perf_counter()
    worker = functools.partial(solve_scenario_file, out_dir=str(out), maps=maps)
    results = map_parallel(worker, [str(p) for p in paths], dask=dask, scheduler=scheduler)
    wall = time.perf_counter() - started
    table = comparison_table(results)
    atomic_write_text(out / COMPARISON_CSV, comparison_csv(table))
    atomic_write_text(out / TIMES_CSV, times_csv(results, wall))
    atomic_write_text(out / COMPARISON_HTML, comparison_html(table, results, wall))
    log.info("compared %d scenarios in %.1f s: %s", len(results), wall, out)
    table.attrs["results"] = results
    table.attrs["wall_seconds"] = wall
    return table
