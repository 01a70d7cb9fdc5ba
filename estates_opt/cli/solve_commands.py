"""``estates-opt solve`` (with ``--phases``) and ``estates-opt robust``: solve and write plans."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from estates_opt.cli.app import DEFAULT_SCENARIO, Quiet, Tiles, Verbose, output_path
from estates_opt.cli.exits import EXIT_NOT_OPTIMAL, _tool_errors, stopped_after_writing
from estates_opt.cli.summaries import print_plan_summary
from estates_opt.cli.terminal import _setup_logging, _step, console, err

if TYPE_CHECKING:
    from estates_opt.results.plan import Plan


def solve(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")] = DEFAULT_SCENARIO,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            parser=output_path,
            help="Plan folder (default outputs/NAME, NAME = scenario name).",
        ),
    ] = None,
    maps: Annotated[
        Path | None,
        typer.Option(
            "--maps",
            parser=output_path,
            help="Maps folder: the maps go to MAPS/NAME/ (NAME = scenario name). Default: "
            "maps/NAME/, or OUT/maps/ with --out, so that a plan written elsewhere never "
            "replaces another plan's maps.",
        ),
    ] = None,
    no_maps: Annotated[bool, typer.Option("--no-maps", help="Skip drawing maps.")] = False,
    phases: Annotated[
        str | None,
        typer.Option(
            "--phases",
            help="Relocation counts of the phased plan, e.g. 10,25,50 (overrides "
            "relocation.phases).",
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Whole-session plans: one pass of borough steps instead of passes over the "
            "boroughs, the services and the boroughs again (solver.effort = 'quick'; NEL: "
            "about 3 s faster, objective 4.7% higher).",
        ),
    ] = False,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Whole-session plans: after two borough passes, alternate passes over each "
            "service everywhere and over the boroughs while they gain (solver.effort = "
            "'deep'; NEL: about 6 s more, objective 0.9% lower).",
        ),
    ] = False,
    prove: Annotated[
        float | None,
        typer.Option(
            "--prove",
            min=0,
            max=86400,
            metavar="SECONDS",
            help="Whole-session plans: spend up to SECONDS more in branch and bound from the "
            "plan, proving how far it is from the optimum (solver.prove_s; NEL: 6.7% to the "
            "LP bound, 4.4% after 60 s).",
        ),
    ] = None,
    tiles: Tiles = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Solve a scenario, verify the plan, and write tables, KPIs, GeoPackage, workbook and maps.

    Example: `estates-opt solve models/nel_baseline.toml --out outputs/nel_baseline`

    Exit codes: 0 plan written (optimal, or improved by the borough and service steps: status
    'improved', its gap to the LP bound, or with --prove to a proved one, shown); 1 stopped at a limit (plan written) or no
    feasible plan; 2 bad input; 3 outputs could not be written (disk full); 130 stopped
    by Ctrl-C. A failed or stopped run writes nothing: earlier outputs stay as they were.
    """
    from estates_opt.inputs.changes import load_scenario_checked
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.outputs.files import check_output_folder
    from estates_opt.outputs.plan_folder import check_output_folders, write_plan
    from estates_opt.pipeline import solve as solve_plan

    if quick and deep:
        raise typer.BadParameter("give --quick or --deep, not both", param_hint="'--deep'")
    _setup_logging(verbose, quiet)
    started = time.perf_counter()
    with _tool_errors():
        with _step("reading scenario and dataset...", quiet):
            sc = load_scenario_checked(scenario)
            if phases is not None:
                sc = with_phases(sc, phases)
            if quick or deep:
                solver = sc.solver.model_copy(update={"effort": "quick" if quick else "deep"})
                sc = sc.model_copy(update={"solver": solver})
            if prove is not None:
                solver = sc.solver.model_copy(update={"prove_s": prove})
                sc = sc.model_copy(update={"solver": solver})
            out_dir = out or Path("outputs") / sc.name
            maps_dir = solve_maps_dir(maps, out, sc.name)
            check_output_folders(sc.dataset_path(), out_dir, None if no_maps else maps_dir)
            for folder in (out_dir, *(() if no_maps else (maps_dir,))):
                check_output_folder(folder)  # a file in the way: say so now, not after solving
            dataset = read_dataset(sc.dataset_path())
        with _step(f"solving {sc.name}...", quiet):
            plan = solve_plan(dataset, sc)
        with _step("writing plan..." if no_maps else "writing plan and maps...", quiet):
            write_plan(plan, out_dir, maps_dir=None if no_maps else maps_dir, tiles=tiles)
    seconds = time.perf_counter() - started
    with stopped_after_writing():
        _report_solved(plan, out_dir, None if no_maps else maps_dir, quiet, seconds)


def solve_maps_dir(maps: Path | None, out: Path | None, name: str) -> Path:
    """Where ``solve`` draws a plan's maps: MAPS/NAME/ when given; else inside the plan
    folder when one is given (OUT/maps/), else maps/NAME/ beside outputs/NAME/.

    Maps filed by scenario name alone put a plan solved to another folder (``--out
    /tmp/deep``) over the default plan's maps, which then showed another plan's numbers.
    """
    from estates_opt.outputs.maps.pages import scenario_maps_dir

    if maps is not None:
        return scenario_maps_dir(maps, name)
    if out is not None:
        return out / "maps"
    return scenario_maps_dir(Path("maps"), name)


def _bound_words(plan: Plan) -> str:
    """The bound the gap is measured to, in words."""
    if plan.kpis.get("bound_basis") == "branch and bound":
        return "the bound branch and bound proved (--prove)"
    return "the LP bound (a loose one: --prove SECONDS proves a tighter one)"


def _report_solved(
    plan: Plan, out_dir: Path, maps_dir: Path | None, quiet: bool, seconds: float
) -> None:
    """The plan's summary and where it was written; exit 1 if it may not be optimal."""
    if quiet:
        where = f"; written to {out_dir}" + ("" if maps_dir is None else f", maps {maps_dir}")
        console.print(plan.summary() + where, markup=False, highlight=False, soft_wrap=True)
    else:
        print_plan_summary(plan, seconds)
        console.print(
            f"plan written to [bold]{escape(str(out_dir))}[/]"
            + ("" if maps_dir is None else f", maps to [bold]{escape(str(maps_dir))}[/]"),
            highlight=False,
        )
    if plan.status == "improved":  # a success (exit 0), with or without --quiet
        gap = plan.kpis.get("gap")
        if not quiet:
            console.print(
                "note: whole-session plan improved "
                + (
                    "borough by borough"
                    if plan.scenario.solver.effort == "quick"
                    else "by borough and by service"
                )
                + " (each step to a fixed amount of branch-and-bound work)"
                + (f"; {gap:.1%} from {_bound_words(plan)}" if gap is not None else ""),
                highlight=False,
            )
    elif plan.status != "optimal":
        limit = plan.kpis.get("stopped_at")
        err.print(
            f"[yellow]warning[/]: the solver stopped with status '{plan.status}'"
            + (f" at its {escape(limit)}" if limit else "")
            + " (the plan is feasible but may not be optimal).",
            highlight=False,
        )
        raise typer.Exit(EXIT_NOT_OPTIMAL)


def with_phases(sc: Any, text: str) -> Any:
    """The scenario with the ``--phases`` ladder, checked like the scenario key."""
    from pydantic import ValidationError

    from estates_opt.errors import ScenarioError
    from estates_opt.scenario import Relocation

    try:
        ladder = [int(part) for part in text.split(",") if part.strip()]
        relocation = Relocation.model_validate({**sc.relocation.model_dump(), "phases": ladder})
    except (ValueError, ValidationError):
        problem = (
            f"--phases '{text}': give increasing whole numbers of relocations separated by "
            "commas, e.g. --phases 10,25,50"
        )
        raise ScenarioError(problem, [problem]) from None
    return sc.model_copy(update={"relocation": relocation})


# --- robust --------------------------------------------------------------------------------


def robust(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")] = DEFAULT_SCENARIO,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", parser=output_path, help="Folder (default outputs/NAME_robust)."
        ),
    ] = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Solve a scenario and its low/high demand and room-cost variants; list the moves that hold.

    Writes OUT/robust_core.csv (every move of the central plan, the variants that make it too,
    and whether it is in the robust core: made by all five) and OUT/robust_summary.json.

    Example: `estates-opt robust models/nel_baseline.toml --out outputs/nel_robust`

    Exit codes: 0 every variant solved to its end (optimal, or improved by the borough and service steps);
    1 a variant stopped at a limit or not solved; 2 bad input; 3 outputs could not be
    written; 130 stopped by Ctrl-C. A failed or stopped run writes nothing.
    """
    from estates_opt.inputs.changes import load_scenario_checked
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.outputs.files import (
        check_output_folder,
        staged_directory,
        write_csv,
        write_json,
    )
    from estates_opt.outputs.plan_folder import check_outside_dataset, refuse_foreign
    from estates_opt.robust import robust_core

    _setup_logging(verbose, quiet)
    started = time.perf_counter()
    with _tool_errors():
        with _step("reading scenario and dataset...", quiet):
            sc = load_scenario_checked(scenario)
            out_dir = out or Path("outputs") / f"{sc.name}_robust"
            check_outside_dataset(sc.dataset_path(), out_dir)
            refuse_foreign(out_dir, "robust")
            check_output_folder(out_dir)  # a file in the way: say so before five solves
            dataset = read_dataset(sc.dataset_path())
        with _step(f"solving {sc.name} and 4 variants...", quiet):
            core = robust_core(dataset, sc)
        with _step("writing the robust core...", quiet), staged_directory(out_dir) as staging:
            write_csv(core.moves, staging / "robust_core.csv")
            write_json(core.summary, staging / "robust_summary.json")
    with stopped_after_writing():
        summary = core.summary
        line = (
            f"{summary['moves_robust']:,} of {summary['moves_central']:,} moves hold in all "
            f"{len(summary['variants'])} variants ({summary['hours_moved_robust']:,.1f} of "
            f"{summary['hours_moved_central']:,.1f} h/week); written to {out_dir} in "
            f"{time.perf_counter() - started:.1f} s"
        )
        console.print(line, markup=False, highlight=False, soft_wrap=True)
        if any(status not in ("optimal", "improved") for status in summary["status"].values()):
            raise typer.Exit(EXIT_NOT_OPTIMAL)
