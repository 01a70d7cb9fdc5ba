"""``estates-opt validate``: check a dataset, or a scenario and its dataset, and summarise it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from estates_opt.cli.app import DEFAULT_DATASET, Quiet, Verbose
from estates_opt.cli.exits import _tool_errors
from estates_opt.cli.summaries import _print_dataset_summary, _print_scenario_summary
from estates_opt.cli.terminal import _setup_logging, _step, console
from estates_opt.errors import ScenarioError

if TYPE_CHECKING:
    from estates_opt.scenario import Scenario


def validate(
    path: Annotated[
        Path,
        typer.Argument(help="Dataset folder in the public input format, or a scenario TOML file."),
    ] = DEFAULT_DATASET,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Check a dataset (or a scenario and its dataset) and summarise it; list every problem.

    Given a scenario file, also checks that every service, borough, PCN and site it
    names exists, applies its building changes, builds the model and runs every check
    solve makes before solving (solver options, pinned hours), without solving.

    Example: `estates-opt validate geodata/nel` or `estates-opt validate models/nel_new_hub.toml`

    Exit codes: 0 valid; 2 problems found (each listed with file, row, column and fix).
    """
    from estates_opt.inputs.dataset import read_dataset, summarise

    _setup_logging(verbose, quiet)
    with _tool_errors():
        if path.suffix.lower() == ".toml":
            _validate_scenario(path, quiet)
            return
        with _step(f"reading {path}...", quiet):
            dataset = read_dataset(path)
    summary = summarise(dataset)
    if quiet:
        console.print(f"{path}: valid", markup=False, highlight=False)
        return
    console.print(f"[bold green]{escape(str(path))} is valid[/]", highlight=False)
    _print_dataset_summary(summary)


def _validate_scenario(path: Path, quiet: bool) -> None:
    """Check the scenario as far as solve does before solving, so the two never disagree."""
    from estates_opt.inputs.changes import apply_scenario, load_scenario_checked
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.inputs.travel import measure_travel
    from estates_opt.pipeline import built_model

    with _step(f"checking {path}...", quiet):
        scenario = load_scenario_checked(path)
        dataset = read_dataset(scenario.dataset_path())
        origin = scenario.source_file or f"scenario '{scenario.name}'"
        problems = _solver_problems(scenario, origin)  # solve's first check, before the rest
        try:
            data = apply_scenario(dataset, scenario)
        except ScenarioError as exc:  # every problem in one run: the solver's too
            raise ScenarioError(str(exc), [*problems, *exc.problems]) from None
        lp, impossible = built_model(data, scenario, measure_travel(data, scenario))
        problems += impossible
        if problems:
            raise ScenarioError("; ".join(problems), problems)
    if quiet:
        console.print(f"{path}: valid", markup=False, highlight=False)
        return
    _print_scenario_summary(path, scenario, lp)


def _solver_problems(scenario: Scenario, origin: str) -> list[str]:
    """``solver.highs_options`` HiGHS refuses, as solve words them (it refuses the same)."""
    from estates_opt.model.solve import check_highs_options

    try:
        check_highs_options(scenario.solver)
    except ScenarioError as exc:
        return [f"{origin}: {p}" for p in exc.problems]
    return []
