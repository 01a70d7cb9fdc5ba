"""``estates-opt map`` and ``estates-opt explain``: commands that read a written plan folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from estates_opt.cli.app import MAPS_HELP, Quiet, Tiles, Verbose, output_path
from estates_opt.cli.exits import (
    EXIT_BAD_INPUT,
    EXIT_NOT_OPTIMAL,
    _tool_errors,
    stopped_after_writing,
)
from estates_opt.cli.explain_text import _explain_pcn, _explain_plan, _explain_site
from estates_opt.cli.terminal import _setup_logging, _step, console, err


def map_(
    plan_dir: Annotated[Path, typer.Argument(help="A plan folder written by solve or compare.")],
    maps: Annotated[Path, typer.Option("--maps", parser=output_path, help=MAPS_HELP)] = Path(
        "maps"
    ),
    tiles: Tiles = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Redraw the maps of a written plan (the planner's map and one map per PCN hub).

    Example: `estates-opt map outputs/nel_baseline --maps maps`

    Exit codes: 0 maps written; 1 maps unavailable in this installation; 2 bad input.
    """
    _setup_logging(verbose, quiet)
    try:
        from estates_opt.pipeline import redraw_maps
    except ImportError as exc:
        err.print(f"[bold red]Maps unavailable[/]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_NOT_OPTIMAL) from None
    with _tool_errors(), _step(f"drawing maps of {plan_dir}...", quiet):
        written = redraw_maps(plan_dir, maps, per_scenario=True, tiles=tiles)
    where = next(iter(written)).parent if written else maps
    with stopped_after_writing():
        console.print(f"maps written to [bold]{escape(str(where))}[/]", highlight=False)


def explain(
    plan_dir: Annotated[Path, typer.Argument(help="A plan folder written by solve or compare.")],
    pcn: Annotated[
        str | None,
        typer.Option("--pcn", help="Explain one PCN: its code or name (U00367, 'Havering South')."),
    ] = None,
    site: Annotated[
        str | None,
        typer.Option("--site", help="Explain one building: its site id or name (RATDY)."),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many moves/rooms to list.")] = 10,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Say in words what the plan changed, for a PCN, a building or the whole plan.

    Lists the moves with their reasons, travel and utilisation before and after, and the rooms
    that are the bottlenecks with their shadow prices (what one more room-hour a week would
    save, in £-equivalent per week).

    Example: `estates-opt explain outputs/nel_baseline --pcn U00367`

    Exit codes: 0 explained; 2 bad input (not a plan folder, unknown PCN or site).
    """
    from estates_opt.outputs.plan_folder import read_plan

    _setup_logging(verbose, quiet)
    if pcn and site:
        err.print("[bold red]Error[/]: give --pcn or --site, not both.", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    with _tool_errors(), _step(f"reading {plan_dir}...", quiet):
        plan = read_plan(plan_dir)
    if pcn:
        lines = _explain_pcn(plan, pcn, top)
    elif site:
        lines = _explain_site(plan, site, top)
    else:
        lines = _explain_plan(plan, top)
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
