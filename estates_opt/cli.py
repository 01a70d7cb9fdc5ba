"""The ``estates-opt`` command line: a thin adapter over the public API.

Exit codes: 0 success; 1 solved but not optimal, or no feasible plan;
2 bad input (dataset, scenario or arguments). The only module that sets up
logging and prints.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from .errors import EstatesOptError, InfeasibleError, InputDataError, ScenarioError, SolveError

EXIT_OK, EXIT_NOT_OPTIMAL, EXIT_BAD_INPUT = 0, 1, 2
DEFAULT_DATASET = Path("geodata/nel")
DEFAULT_SCENARIO = Path("models/nel_baseline.toml")

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Reallocate NHS primary-care sessions into underused community estate, explain and map the plan.\n\n"
    "Exit codes: 0 success, 1 solved but not optimal (or no feasible plan), 2 bad input.",
)
console = Console()
err = Console(stderr=True)


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else (logging.WARNING if quiet else logging.INFO)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True
    )
    if not verbose:
        # Stage timings go to kpis.json; the terminal shows the summary table instead.
        logging.getLogger("estates_opt").setLevel(logging.WARNING)
        logging.getLogger("pyogrio").setLevel(logging.WARNING)


def _fail(exc: Exception) -> typer.Exit:
    """Print a tool error without a traceback and return the exit to raise."""
    if isinstance(exc, InputDataError):
        err.print(f"[bold red]Input error[/]: {len(exc.problems)} problem(s)", highlight=False)
        for problem in exc.problems:
            err.print(f"  - {problem}", markup=False, highlight=False)
        return typer.Exit(EXIT_BAD_INPUT)
    if isinstance(exc, ScenarioError):
        err.print("[bold red]Scenario error[/]:", highlight=False)
        err.print(f"  {exc}", markup=False, highlight=False)
        return typer.Exit(EXIT_BAD_INPUT)
    if isinstance(exc, InfeasibleError):
        err.print("[bold red]No feasible plan[/]:", highlight=False)
        err.print(str(exc), markup=False, highlight=False)
        return typer.Exit(EXIT_NOT_OPTIMAL)
    if isinstance(exc, SolveError):
        err.print(f"[bold red]Solver error[/]: {exc}", highlight=False)
        return typer.Exit(EXIT_NOT_OPTIMAL)
    err.print(f"[bold red]Error[/]: {exc}", highlight=False)
    return typer.Exit(EXIT_BAD_INPUT if isinstance(exc, ValueError) else EXIT_NOT_OPTIMAL)


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show every stage's log lines.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final line.")]


@app.command()
def validate(
    path: Annotated[
        Path, typer.Argument(help="Dataset folder in the public input format.")
    ] = DEFAULT_DATASET,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Check a dataset and summarise it; list every problem if it is wrong.

    Example: `estates-opt validate geodata/nel`
    """
    from .dataset import read_dataset, summarise

    _setup_logging(verbose, quiet)
    try:
        dataset = read_dataset(path)
    except EstatesOptError as exc:
        raise _fail(exc) from None
    summary = summarise(dataset)
    if quiet:
        console.print(f"{path}: valid")
        return
    console.print(f"[bold green]{path} is valid[/]", highlight=False)
    counts = Table(title="Dataset", show_header=False)
    for kind, n in summary["sites_by_kind"].items():
        counts.add_row(f"sites: {kind}", f"{n:,}")
    counts.add_row("PCNs", f"{summary['pcns']:,}")
    counts.add_row("LSOAs", f"{summary['lsoas']:,}")
    counts.add_row("population (LSOAs)", f"{summary['population']:,.0f}")
    counts.add_row("registered patients (PCNs)", f"{summary['registered_patients']:,.0f}")
    counts.add_row("services", f"{summary['services']}")
    counts.add_row("opening options (site x band)", f"{summary['opening_options']:,}")
    for category, hours in sorted(summary["demand_by_category"].items()):
        counts.add_row(f"demand: {category}", f"{hours:,.1f} h/week")
    console.print(counts)
    util = Table(title="Capacity and today's utilisation (fixed + baseline) by kind and band")
    for col in ("kind", "band", "capacity h/wk", "fixed h/wk", "baseline h/wk", "utilisation"):
        util.add_column(col, justify="left" if col in ("kind", "band") else "right")
    for row in summary["utilisation"].itertuples(index=False):
        util.add_row(
            row.kind,
            row.band,
            f"{row.capacity_hours:,.0f}",
            f"{row.fixed_hours:,.0f}",
            f"{row.baseline_hours:,.0f}",
            f"{row.utilisation:.1%}",
        )
    console.print(util)


def print_plan_summary(plan, seconds: float) -> None:
    k = plan.kpis
    table = Table(title=f"{plan.scenario.name}: {k['status']}")
    table.add_column("site kind")
    table.add_column("weekday before", justify="right")
    table.add_column("weekday after", justify="right")
    table.add_column("cap", justify="right")
    before, after = k["utilisation_before"]["weekday"], k["utilisation_after"]["weekday"]
    for kind in sorted(after):
        table.add_row(
            kind,
            f"{before.get(kind, 0):.1%}",
            f"{after.get(kind, 0):.1%}",
            f"{plan.scenario.cap(kind):.0%}",
        )
    console.print(table)
    facts = Table(show_header=False)
    facts.add_row("hours moved / week", f"{k['hours_moved']:,.1f}")
    facts.add_row(
        "buildings used before -> after",
        f"{k['buildings_used_before']} -> {k['buildings_used_after']}",
    )
    facts.add_row("unmet hours / week", f"{k['unmet_hours_total']:,.1f}")
    facts.add_row(
        "enhanced access met for every PCN", "yes" if k["enhanced_access_all_met"] else "no"
    )
    facts.add_row(
        "mean travel before -> after (km)",
        f"{k['travel_km_before']:.2f} -> {k['travel_km_after']:.2f}",
    )
    facts.add_row("objective (GBP-eq/week)", f"{k['objective']:,.0f}")
    gap = k.get("gap")
    facts.add_row(
        "solver / gap", f"{k['solver']} ({k['backend']}) / {'-' if gap is None else f'{gap:.2%}'}"
    )
    facts.add_row(
        "model", f"{k['model']['variables']:,} variables, {k['model']['constraints']:,} constraints"
    )
    facts.add_row("verified", "yes" if k.get("verified") else "NO")
    facts.add_row("time", f"{seconds:.1f} s")
    console.print(facts)
    for note in k.get("diagnostics", [])[:10]:
        console.print(f"[yellow]note[/]: {note}", highlight=False)


@app.command()
def solve(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")] = DEFAULT_SCENARIO,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Plan folder (default outputs/<scenario>).")
    ] = None,
    maps: Annotated[Path, typer.Option("--maps", help="Folder for the HTML maps.")] = Path("maps"),
    no_maps: Annotated[bool, typer.Option("--no-maps", help="Skip drawing maps.")] = False,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Solve a scenario, verify the plan, and write tables, KPIs, GeoPackage, workbook and maps.

    Example: `estates-opt solve models/nel_baseline.toml --out outputs/nel_baseline`
    """
    import time

    from .dataset import read_dataset
    from .plan import solve as solve_plan
    from .scenario import load_scenario

    _setup_logging(verbose, quiet)
    started = time.perf_counter()
    try:
        with (
            console.status("reading scenario and dataset...", spinner="dots")
            if not quiet
            else _null()
        ):
            sc = load_scenario(scenario)
            dataset = read_dataset(sc.dataset_path())
        with console.status(f"solving {sc.name}...", spinner="dots") if not quiet else _null():
            plan = solve_plan(dataset, sc)
        out_dir = out or Path("outputs") / sc.name
        with console.status("writing plan and maps...", spinner="dots") if not quiet else _null():
            plan.write(out_dir, maps_dir=None if no_maps else maps)
    except EstatesOptError as exc:
        raise _fail(exc) from None
    seconds = time.perf_counter() - started
    if quiet:
        console.print(plan.summary(), highlight=False)
    else:
        print_plan_summary(plan, seconds)
        console.print(
            f"plan written to [bold]{out_dir}[/]"
            + ("" if no_maps else f", maps to [bold]{maps}[/]")
        )
    if plan.status != "optimal":
        raise typer.Exit(EXIT_NOT_OPTIMAL)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
