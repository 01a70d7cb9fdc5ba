"""``estates-opt compare``: solve several scenarios in parallel and compare them side by side."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from estates_opt.cli.app import MAPS_HELP, Quiet, Verbose, output_path
from estates_opt.cli.exits import (
    EXIT_BAD_INPUT,
    EXIT_NOT_OPTIMAL,
    _tool_errors,
    stopped_after_writing,
)
from estates_opt.cli.summaries import _print_comparison
from estates_opt.cli.terminal import _setup_logging, _step, console, err


def compare(
    scenarios: Annotated[
        list[Path], typer.Argument(help="Scenario TOML files (first = reference).")
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", parser=output_path, help="Folder for plans and comparison."),
    ],
    dask: Annotated[bool, typer.Option("--dask", help="Run on a local Dask cluster.")] = False,
    dask_scheduler: Annotated[
        str | None,
        typer.Option("--dask-scheduler", help="Use an existing Dask cluster (tcp://host:port)."),
    ] = None,
    maps: Annotated[
        Path | None,
        typer.Option("--maps", parser=output_path, help=MAPS_HELP + " Default: no maps."),
    ] = None,
    mixed_datasets: Annotated[
        bool,
        typer.Option(
            "--mixed-datasets",
            help="Allow scenarios on different datasets (their differences compare two estates).",
        ),
    ] = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Solve several scenarios in parallel and compare them side by side.

    Writes each plan to OUT/NAME/ (NAME = the scenario name), OUT/comparison.csv (one row
    per KPI, one column per scenario, differences against the first; byte-identical for the
    same inputs),
    OUT/comparison_long.csv (the same figures, one row per scenario and KPI, numbers and text
    in their own columns), OUT/comparison.html (the table and offline charts) and
    OUT/comparison_times.csv (run times, kept apart because they vary), all together once
    every scenario is solved: a failure or Ctrl-C writes none of it. Every scenario must
    use the reference's dataset unless --mixed-datasets is given.

    Example: `estates-opt compare models/nel_*.toml --out outputs/cmp`

    Exit codes: 0 every scenario solved to its end (optimal, or improved borough by
    borough); 1 any scenario stopped at a limit or not solved; 2 bad input; 3 the outputs
    could not be written (none were).
    """
    from estates_opt.compare import compare_scenarios
    from estates_opt.outputs.comparison.table import COMPARISON_FILES
    from estates_opt.outputs.files import check_output_folder

    _setup_logging(verbose, quiet)
    started = time.perf_counter()
    stopped = (
        "stopped (Ctrl-C): nothing was written; the plans, maps and comparison are written "
        "together once every scenario is solved."
    )
    with _tool_errors(stopped):
        for folder in (out, *(() if maps is None else (maps,))):
            check_output_folder(folder)  # a file in the way: say so before any solve
        where = dask_scheduler or ("a local Dask cluster" if dask else "parallel processes")
        count = f"{len(scenarios)} scenario{'' if len(scenarios) == 1 else 's'}"
        with _step(f"checking, then solving {count} in {where}...", quiet):
            table = compare_scenarios(
                scenarios,
                out,
                dask=dask,
                scheduler=dask_scheduler,
                maps=maps or False,
                mixed_datasets=mixed_datasets,
            )
    with stopped_after_writing():  # the plans and comparison are all written now
        results = table.attrs.get("results", [])
        seconds = time.perf_counter() - started
        names = [r["name"] for r in results]
        if quiet:
            statuses = ", ".join(f"{n} {table.at['status', n]}" for n in names)
            console.print(f"compared {len(names)}: {statuses}", markup=False, highlight=False)
        else:
            _print_comparison(table, names, results)
            wrote = ", ".join(f"[bold]{escape(str(out / name))}[/]" for name in COMPARISON_FILES)
            console.print(
                f"wrote {wrote} and one plan folder per scenario"
                + ("" if maps is None else f" (maps in [bold]{escape(str(maps))}/NAME/[/])")
                + f" in {seconds:.1f} s",
                highlight=False,
            )
        for result in results:
            if "error" in result:
                err.print(
                    f"[bold red]{escape(result['name'])}[/]: {escape(result['error'])}",
                    highlight=False,
                )
        if any(r.get("error_kind") == "bad_input" for r in results):
            raise typer.Exit(EXIT_BAD_INPUT)
        if any(table.at["status", n] not in ("optimal", "improved") for n in names):
            raise typer.Exit(EXIT_NOT_OPTIMAL)
