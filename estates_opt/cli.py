"""The ``estates-opt`` command line: a thin adapter over the public API.

Exit codes: 0 success; 1 solved but not optimal, or no feasible plan;
2 bad input (dataset, scenario, arguments, or an output path that cannot be
used); 3 outputs could not be written (disk full, I/O error; nothing was
written); 130 stopped by Ctrl-C (nothing was written). The only module that sets up
logging and prints. No traceback for bad input: every tool error becomes a
clear message and an exit code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from estates_opt.errors import (
    EstatesOptError,
    InfeasibleError,
    InputDataError,
    OutputWriteError,
    ScenarioError,
    SolveError,
    VerificationError,
)
from estates_opt.text import escape_control

if TYPE_CHECKING:
    from estates_opt.results.plan import Plan


EXIT_OK, EXIT_NOT_OPTIMAL, EXIT_BAD_INPUT, EXIT_WRITE_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEFAULT_DATASET = Path("geodata/nel")
DEFAULT_SCENARIO = Path("models/nel_baseline.toml")
#: One meaning of --maps in every command: the folder under which each scenario's maps go.
MAPS_HELP = "Maps folder: each scenario's maps go to MAPS/NAME/ (NAME = scenario name)."


def _tiles(value: str | None) -> str | None:
    """Refuse an unknown --tiles name before anything is solved or drawn."""
    if value is None:
        return None
    from estates_opt.outputs.maps.pages import check_tiles

    try:
        return check_tiles(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


Tiles = Annotated[
    str | None,
    typer.Option(
        "--tiles",
        callback=_tiles,
        help="Online background tiles under the offline basemap, for readers with a network "
        "(a Folium tile name, e.g. OpenStreetMap or CartoDB positron). Default: none, the "
        "pages load nothing from the internet.",
    ),
]
EXIT_CODES = (
    "Exit codes: 0 success; 1 solved but not optimal (time limit) or no feasible plan; "
    "2 bad input (dataset, scenario or arguments); 3 outputs could not be written (disk full); "
    "130 stopped by Ctrl-C. A run that fails or is stopped writes nothing."
)

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_show_locals=False,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    help="Reallocate NHS primary-care sessions into underused community estate, "
    "explain and map the plan.\n\n"
    "Example: `estates-opt solve models/nel_baseline.toml --out outputs/nel_baseline`\n\n"
    + EXIT_CODES,
)


class SafeConsole(Console):
    """A console that shows control characters in text as ``\\x1b``, never sends them.

    Every string printed (messages, table cells) passes through :meth:`render_str`, so a
    name in the data or a plan folder cannot move the cursor, retitle or clear the
    terminal, or reorder what is shown (bidi overrides).
    """

    def render_str(self, text: str, **kwargs: Any) -> Any:
        """Escape control characters in ``text`` before Rich renders it."""
        return super().render_str(escape_control(text, keep="\n"), **kwargs)


class SafeFormatter(logging.Formatter):
    """Log lines with control characters escaped, like the console."""

    def format(self, record: logging.LogRecord) -> str:
        """The formatted log line, control characters shown escaped, never sent."""
        return escape_control(super().format(record), keep="\n")


console = SafeConsole()
err = SafeConsole(stderr=True)


#: Typer's type labels that read as Python rather than as what to type.
_TYPE_LABELS = {"<list[Path]>": "<path>...", "<int range>": "<int>", "<float range>": "<number>"}


def _flags_without_type() -> None:
    """Typer's rich help prints ``<bool>`` after every on/off flag (``--quiet <bool>``), which
    reads as if the flag took a value: show no type for flags, as click does. Python type
    names (``<list[Path]>``, ``<int range>``) are shown as what to type (``<path>...``)."""
    from typer.core import TyperArgument, TyperOption

    for kind in (TyperOption, TyperArgument):
        shown = kind.display_type_rich
        if getattr(shown, "_estates_opt", False):
            continue

        def display_type_rich(self: Any, ctx: Any, shown: Any = shown) -> str | None:
            if getattr(self, "is_flag", False):
                return None
            label = shown(self, ctx)
            return _TYPE_LABELS.get(label, label) if isinstance(label, str) else label

        display_type_rich._estates_opt = True  # type: ignore[attr-defined]
        kind.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_without_type()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("estates-opt")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "0.0.0"
        console.print(f"estates-opt {number}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Reallocate NHS primary-care sessions into underused community estate, explain and map
    the plan."""


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else (logging.WARNING if quiet else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if not verbose:
        # Stage timings go to kpis.json; the terminal shows the summary table instead.
        logging.getLogger("estates_opt").setLevel(logging.WARNING)
        logging.getLogger("pyogrio").setLevel(logging.WARNING)
        logging.getLogger("distributed").setLevel(logging.WARNING)
        # Dask sets its own levels when imported (also in worker processes): ask it via config.
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")


def _fail(exc: BaseException) -> typer.Exit:
    """Print a tool error without a traceback and return the exit to raise."""
    if isinstance(exc, InputDataError):
        err.print(f"[bold red]Input error[/]: {len(exc.problems)} problem(s)", highlight=False)
        for problem in exc.problems:  # one unwrapped line per problem, so logs can be grepped
            err.print(f"  - {problem}", markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(EXIT_BAD_INPUT)
    if isinstance(exc, ScenarioError):
        err.print(f"[bold red]Scenario error[/]: {len(exc.problems)} problem(s)", highlight=False)
        for line in exc.problems:
            err.print(f"  - {line}", markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(EXIT_BAD_INPUT)
    if isinstance(exc, InfeasibleError):
        err.print("[bold red]No feasible plan[/]:", highlight=False)
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(EXIT_NOT_OPTIMAL)
    if isinstance(exc, SolveError | VerificationError):
        err.print("[bold red]Solver error[/]:", highlight=False)
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(EXIT_NOT_OPTIMAL)
    if isinstance(exc, OutputWriteError):
        err.print("[bold red]Write error[/]:", highlight=False)
        err.print(f"  - {exc}", markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(EXIT_BAD_INPUT if exc.user_path else EXIT_WRITE_FAILED)
    if isinstance(exc, OSError):
        err.print("[bold red]File error[/]:", highlight=False)
        err.print(f"  - {exc}", markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(EXIT_BAD_INPUT)
    err.print("[bold red]Error[/]:", highlight=False)
    err.print(f"  - {exc}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT if isinstance(exc, ValueError) else EXIT_NOT_OPTIMAL)


STOPPED = "stopped (Ctrl-C): nothing was written; earlier outputs are unchanged."


@contextlib.contextmanager
def _tool_errors(stopped: str = STOPPED) -> Iterator[None]:
    """Turn tool and file errors into a message and an exit code; Ctrl-C into one line."""
    try:
        yield
    except (EstatesOptError, OSError) as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        err.print(stopped, markup=False, highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _step(message: str, quiet: bool) -> contextlib.AbstractContextManager[Any]:
    """A spinner for a step that may take more than a moment (nothing when quiet).

    Without a terminal (a log file, CI, a pipe) there is no spinner: a line when the step
    starts and one with its elapsed time when it ends, on stderr, so a long run is never
    silent and the output stays clean.
    """
    if quiet:
        return contextlib.nullcontext()
    if not console.is_terminal:
        return _logged_step(message)
    return console.status(message, spinner="dots")


#: Seconds between "still ..." lines while a step runs without a terminal.
HEARTBEAT_S = 30.0


@contextlib.contextmanager
def _logged_step(message: str) -> Iterator[None]:
    import threading

    started = time.perf_counter()
    err.print(f"[{_clock()}] {message}", markup=False, highlight=False, soft_wrap=True)
    done = threading.Event()

    def beat() -> None:
        # A step that takes minutes (compare's parallel solves) says it is still going.
        while not done.wait(HEARTBEAT_S):
            err.print(
                f"[{_clock()}] still {message.rstrip('.')} "
                f"({time.perf_counter() - started:.0f} s so far)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    beater = threading.Thread(target=beat, name="estates-opt-progress", daemon=True)
    beater.start()
    try:
        yield
    finally:
        done.set()
        beater.join()
    took = time.perf_counter() - started
    err.print(
        f"[{_clock()}] done: {message.rstrip('.')} ({took:.1f} s)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _clock() -> str:
    """Elapsed time since the command started (the module was loaded), mm:ss."""
    total = int(time.perf_counter() - _STARTED)
    return f"{total // 60:02d}:{total % 60:02d}"


_STARTED = time.perf_counter()


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show every stage's log lines.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final line.")]


# --- validate ------------------------------------------------------------------------------


@app.command()
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
    names exists, applies its building changes and builds the model (no solve).

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


def _print_dataset_summary(summary: dict[str, Any]) -> None:
    counts = Table(title="Dataset", show_header=False)
    for kind, n in summary["sites_by_kind"].items():
        counts.add_row(f"sites: {escape(str(kind))}", f"{n:,}")
    counts.add_row("PCNs", f"{summary['pcns']:,}")
    counts.add_row("LSOAs", f"{summary['lsoas']:,}")
    counts.add_row("population (LSOAs)", f"{summary['population']:,.0f}")
    counts.add_row("registered patients (PCNs)", f"{summary['registered_patients']:,.0f}")
    counts.add_row("services", f"{summary['services']}")
    counts.add_row("opening options (site x band)", f"{summary['opening_options']:,}")
    located = summary.get("patients_located") or {}
    if located:
        counts.add_row(
            "registered patients located (patients.csv)",
            f"{located['patients_located']:,.0f} of {located['patients']:,.0f} "
            f"({located['located_share']:.1%}); {located['patients_outside_area']:,.0f} outside",
        )
    for category, hours in sorted(summary["demand_by_category"].items()):
        counts.add_row(f"demand: {escape(str(category))}", f"{hours:,.1f} h/week")
    console.print(counts)
    util = Table(title="Capacity and today's utilisation (fixed + baseline) by kind and band")
    for col in ("kind", "band", "capacity h/wk", "fixed h/wk", "baseline h/wk", "utilisation"):
        util.add_column(col, justify="left" if col in ("kind", "band") else "right")
    for row in summary["utilisation"].itertuples(index=False):
        util.add_row(
            escape(str(row.kind)),
            escape(str(row.band)),
            f"{row.capacity_hours:,.0f}",
            f"{row.fixed_hours:,.0f}",
            f"{row.baseline_hours:,.0f}",
            f"{row.utilisation:.1%}",
        )
    console.print(util)


def _validate_scenario(path: Path, quiet: bool) -> None:
    from estates_opt.inputs.changes import apply_scenario, load_scenario_checked
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.inputs.travel import measure_travel
    from estates_opt.model.build import build_model

    with _step(f"checking {path}...", quiet):
        scenario = load_scenario_checked(path)
        dataset = read_dataset(scenario.dataset_path())
        data = apply_scenario(dataset, scenario)
        lp = build_model(data, scenario, measure_travel(data, scenario))
    variables, constraints, _ = lp.shape
    if quiet:
        console.print(f"{path}: valid", markup=False, highlight=False)
        return
    console.print(
        f"[bold green]{escape(str(path))} is valid[/]: scenario "
        f"[bold]{escape(scenario.name)}[/] on {escape(str(scenario.dataset_path()))}",
        highlight=False,
    )
    b = scenario.buildings
    facts = Table(show_header=False)
    facts.add_row("description", escape(scenario.description or "-"))
    facts.add_row(
        "buildings",
        f"{len(b.close)} closed, {len(b.new)} new, {len(b.capacity)} capacity and "
        f"{len(b.opening)} opening-hour changes",
    )
    g = scenario.growth
    facts.add_row(
        "growth",
        f"overall x{g.overall:g}, population x{g.population:g}, "
        f"{len(g.by_service)} service and {len(g.by_borough)} borough factors",
    )
    o = scenario.options
    facts.add_row(
        "options",
        f"whole sessions {'yes' if o.whole_sessions else 'no'}, opening decisions "
        f"{'yes' if o.opening_decisions else 'no'}, move budget "
        f"{'-' if o.move_budget_hours is None else f'{o.move_budget_hours:g} h/week'}, "
        f"{len(scenario.pinned)} pinned",
    )
    facts.add_row(
        "model",
        f"{'MIP' if lp.is_mip else 'LP'}: {variables:,} variables, {constraints:,} constraints",
    )
    facts.add_row(
        "solver",
        f"{scenario.solver.name} ({scenario.solver.backend}), time limit "
        f"{scenario.solver.time_limit_s:g} s, MIP gap {scenario.solver.mip_gap:g}",
    )
    console.print(facts)
    for note in lp.diagnostics[:10]:
        console.print(f"[yellow]note[/]: {escape(note)}", highlight=False)


# --- solve ---------------------------------------------------------------------------------


def print_plan_summary(plan: Plan, seconds: float) -> None:
    """One screen: utilisation by kind before/after against the cap, then the headline facts."""
    k = plan.kpis
    table = Table(title=f"{escape(plan.scenario.name)}: {k['status']}")
    table.add_column("site kind")
    for column in ("weekday before", "weekday after", "cap", "all bands after"):
        table.add_column(column, justify="right")
    before, after = k["utilisation_before"]["weekday"], k["utilisation_after"]["weekday"]
    all_bands = k["utilisation_after"].get("all_bands", {})
    for kind in sorted(after):
        table.add_row(
            escape(str(kind)),
            f"{before.get(kind, 0):.1%}",
            f"{after.get(kind, 0):.1%}",
            f"{plan.scenario.cap(kind):.0%}",
            f"{all_bands.get(kind, 0):.1%}",
        )
    console.print(table)
    facts = Table(show_header=False)
    moved = f"{k['hours_moved']:,.1f}"
    if k.get("least_movement_hours"):
        moved += (
            f" ({k['movement_ratio_to_least']:.2f}x the least, {k['least_movement_hours']:,.0f})"
        )
    facts.add_row("hours moved / week", moved)
    if k.get("least_relocations") is not None:
        facts.add_row(
            "relocations (moves.csv lines)",
            f"{k['relocations']} (fewest possible {k['least_relocations']})",
        )
    facts.add_row(
        "buildings used before -> after",
        f"{k['buildings_used_before']} -> {k['buildings_used_after']}",
    )
    if k.get("sites_opened"):
        facts.add_row("site-bands opened", f"{len(k['sites_opened'])}")
    facts.add_row("unmet hours / week", f"{k['unmet_hours_total']:,.1f}")
    facts.add_row(
        "enhanced access met for every PCN", "yes" if k["enhanced_access_all_met"] else "no"
    )
    contract = k.get("enhanced_access_contract", {})
    if contract.get("enforced"):
        met, every = contract["pcns_meeting"], contract["pcns"]
        before, after = contract["hours_by_band_before"], contract["hours_by_band_after"]
        facts.add_row(
            "EA contract: PCNs meeting evening / Saturday / total",
            f"{met['evening']}/{every} / {met['saturday']}/{every} / {met['total']}/{every}",
        )
        facts.add_row(
            "EA h/week evening, Saturday: before -> after",
            f"{before['evening']:,.1f}, {before['saturday']:,.1f} -> "
            f"{after['evening']:,.1f}, {after['saturday']:,.1f}",
        )
    gap = k.get("strategy_gap", {}).get("community_utilisation", {}).get("weekday")
    if gap:
        facts.add_row(
            "community utilisation vs strategy's 100% (weekday)",
            f"{gap['after']:.1%} ({gap['gap']:.1%} short)",
        )
    free = k.get("strategy_gap", {}).get("free_room_hours_after", {})
    if free:
        facts.add_row(
            "free room-hours/week left (weekday, by kind)",
            ", ".join(
                f"{kind} {bands.get('weekday', 0):,.0f}" for kind, bands in sorted(free.items())
            ),
        )
    facts.add_row(
        "mean travel before -> after (km)",
        f"{k['travel_km_before']:.2f} -> {k['travel_km_after']:.2f}",
    )
    ptal = k.get("travel_km_by_ptal_band")
    if ptal:
        groups = (("low_ptal_0_1b", "PTAL 0-1b"), ("high_ptal_4_6b", "PTAL 4-6b"))
        facts.add_row(
            "travel by PTAL before -> after",
            ", ".join(
                f"{label} {_km(ptal['before'].get(key))} -> {_km(ptal['after'].get(key))}"
                for key, label in groups
                if key in ptal["after"]
            ),
        )
    facts.add_row("objective (GBP-eq/week)", f"{k['objective']:,.0f}")
    solver_gap = k.get("gap")
    facts.add_row(
        "solver / gap",
        f"{k['solver']} ({k['backend']}) / {'-' if solver_gap is None else f'{solver_gap:.2%}'}",
    )
    facts.add_row(
        "model",
        f"{'MIP' if k['model'].get('mip') else 'LP'}: {k['model']['variables']:,} variables, "
        f"{k['model']['constraints']:,} constraints",
    )
    facts.add_row("verified", "yes" if k.get("verified") else "NO")
    facts.add_row("time", f"{seconds:.1f} s")
    console.print(facts)
    for note in k.get("diagnostics", [])[:10]:
        console.print(f"[yellow]note[/]: {escape(note)}", highlight=False)


@app.command()
def solve(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")] = DEFAULT_SCENARIO,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Plan folder (default outputs/NAME, NAME = scenario name)."
        ),
    ] = None,
    maps: Annotated[Path, typer.Option("--maps", help=MAPS_HELP)] = Path("maps"),
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
            help="Whole-session plans: a narrower, about 4x faster search (solver.effort = "
            "'quick'; the plan may cost a few % more).",
        ),
    ] = False,
    tiles: Tiles = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Solve a scenario, verify the plan, and write tables, KPIs, GeoPackage, workbook and maps.

    Example: `estates-opt solve models/nel_baseline.toml --out outputs/nel_baseline`

    Exit codes: 0 plan written (optimal, or improved borough by borough: status
    'improved', its gap to the LP bound shown); 1 stopped at a limit (plan written) or no
    feasible plan; 2 bad input; 3 outputs could not be written (disk full); 130 stopped
    by Ctrl-C. A failed or stopped run writes nothing: earlier outputs stay as they were.
    """
    from estates_opt.inputs.changes import load_scenario_checked
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.outputs.maps.pages import scenario_maps_dir
    from estates_opt.outputs.plan_folder import check_output_folders, write_plan
    from estates_opt.pipeline import solve as solve_plan

    _setup_logging(verbose, quiet)
    started = time.perf_counter()
    with _tool_errors():
        with _step("reading scenario and dataset...", quiet):
            sc = load_scenario_checked(scenario)
            if phases is not None:
                sc = with_phases(sc, phases)
            if quick:
                solver = sc.solver.model_copy(update={"effort": "quick"})
                sc = sc.model_copy(update={"solver": solver})
            out_dir = out or Path("outputs") / sc.name
            maps_dir = scenario_maps_dir(maps, sc.name)
            check_output_folders(sc.dataset_path(), out_dir, None if no_maps else maps_dir)
            dataset = read_dataset(sc.dataset_path())
        with _step(f"solving {sc.name}...", quiet):
            plan = solve_plan(dataset, sc)
        with _step("writing plan and maps...", quiet):
            write_plan(plan, out_dir, maps_dir=None if no_maps else maps_dir, tiles=tiles)
    seconds = time.perf_counter() - started
    if quiet:
        console.print(plan.summary(), markup=False, highlight=False, soft_wrap=True)
    else:
        print_plan_summary(plan, seconds)
        console.print(
            f"plan written to [bold]{escape(str(out_dir))}[/]"
            + ("" if no_maps else f", maps to [bold]{escape(str(maps_dir))}[/]"),
            highlight=False,
        )
    if plan.status == "improved" and not quiet:
        gap = plan.kpis.get("gap")
        console.print(
            "note: whole-session plan improved borough by borough within the time budget"
            + (f"; {gap:.1%} from the LP bound (a loose bound)" if gap is not None else ""),
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


@app.command()
def robust(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")] = DEFAULT_SCENARIO,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder (default outputs/NAME_robust)."),
    ] = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Solve a scenario and its low/high demand and room-cost variants; list the moves that hold.

    Writes OUT/robust_core.csv (every move of the central plan, the variants that make it too,
    and whether it is in the robust core: made by all five) and OUT/robust_summary.json.

    Example: `estates-opt robust models/nel_baseline.toml --out outputs/nel_robust`

    Exit codes: 0 every variant optimal; 1 a variant not optimal; 2 bad input; 3 outputs could
    not be written; 130 stopped by Ctrl-C. A failed or stopped run writes nothing.
    """
    from estates_opt.inputs.changes import load_scenario_checked
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.outputs.files import staged_directory, write_csv, write_json
    from estates_opt.outputs.plan_folder import check_output_folders
    from estates_opt.robust import robust_core

    _setup_logging(verbose, quiet)
    started = time.perf_counter()
    with _tool_errors():
        with _step("reading scenario and dataset...", quiet):
            sc = load_scenario_checked(scenario)
            out_dir = out or Path("outputs") / f"{sc.name}_robust"
            check_output_folders(sc.dataset_path(), out_dir, None)
            dataset = read_dataset(sc.dataset_path())
        with _step(f"solving {sc.name} and 4 variants...", quiet):
            core = robust_core(dataset, sc)
        with _step("writing the robust core...", quiet), staged_directory(out_dir) as staging:
            write_csv(core.moves, staging / "robust_core.csv")
            write_json(core.summary, staging / "robust_summary.json")
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


# --- compare -------------------------------------------------------------------------------

#: Rows of the comparison printed on screen, with short labels (every KPI is in the files).
KEY_ROWS = {
    "status": "status",
    "objective": "objective (GBP-eq/wk)",
    "objective.cost": "room cost (GBP/wk)",
    "gap": "MIP gap",
    "unmet_hours": "unmet (h/wk)",
    "hours_moved": "moved (h/wk)",
    "buildings_used_after": "buildings used",
    "site_bands_opened": "site-bands opened",
    "utilisation_after.gp_practice.weekday": "GP practices, weekday",
    "utilisation_after.pcn_hub.weekday": "PCN hubs, weekday",
    "utilisation_after.community.weekday": "community, weekday",
    "utilisation_after.acute.weekday": "acute, weekday",
    "travel_km_after": "travel (km)",
    "travel_km_after.deprived_imd_1_2": "travel IMD 1-2 (km)",
    "travel_km_after.least_deprived_imd_9_10": "travel IMD 9-10 (km)",
}


@app.command()
def compare(
    scenarios: Annotated[
        list[Path], typer.Argument(help="Scenario TOML files (first = reference).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for plans and comparison.")],
    dask: Annotated[bool, typer.Option("--dask", help="Run on a local Dask cluster.")] = False,
    dask_scheduler: Annotated[
        str | None,
        typer.Option("--dask-scheduler", help="Use an existing Dask cluster (tcp://host:port)."),
    ] = None,
    maps: Annotated[
        Path | None, typer.Option("--maps", help=MAPS_HELP + " Default: no maps.")
    ] = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Solve several scenarios in parallel and compare them side by side.

    Writes each plan to OUT/NAME/ (NAME = the scenario name), then OUT/comparison.csv (one row per KPI, one
    column per scenario, differences against the first; byte-identical for the same inputs),
    OUT/comparison.html (the table and offline charts) and OUT/comparison_times.csv (run times,
    kept apart because they vary).

    Example: `estates-opt compare models/nel_*.toml --out outputs/cmp`

    Exit codes: 0 every scenario optimal; 1 any scenario not optimal or not solved; 2 bad input.
    """
    from estates_opt.compare import compare_scenarios

    _setup_logging(verbose, quiet)
    started = time.perf_counter()
    stopped = (
        "stopped (Ctrl-C): each plan folder is either complete or unchanged; the comparison "
        "was not written."
    )
    with _tool_errors(stopped):
        where = dask_scheduler or ("a local Dask cluster" if dask else "parallel processes")
        with _step(f"checking, then solving {len(scenarios)} scenarios in {where}...", quiet):
            table = compare_scenarios(
                scenarios, out, dask=dask, scheduler=dask_scheduler, maps=maps or False
            )
    results = table.attrs.get("results", [])
    seconds = time.perf_counter() - started
    names = [r["name"] for r in results]
    if quiet:
        statuses = ", ".join(f"{n} {table.at['status', n]}" for n in names)
        console.print(f"compared {len(names)}: {statuses}", markup=False, highlight=False)
    else:
        _print_comparison(table, names, results)
        console.print(
            f"wrote [bold]{escape(str(out / 'comparison.csv'))}[/], "
            f"[bold]{escape(str(out / 'comparison.html'))}[/] and one plan folder per scenario"
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
    if any(r.get("error_kind") == "write" for r in results):
        raise typer.Exit(EXIT_WRITE_FAILED)
    if any(table.at["status", n] not in ("optimal", "improved") for n in names):
        raise typer.Exit(EXIT_NOT_OPTIMAL)


def _short(value: Any, unit: str) -> str:
    from estates_opt.outputs.comparison.table import format_value

    if isinstance(value, float) and unit == "fraction":
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"
    return format_value(value)


def _print_comparison(table: Any, names: list[str], results: list[dict[str, Any]]) -> None:
    """Key rows, one column per scenario; split into several tables on a narrow terminal."""
    prefix = _common_prefix(names)
    per_table = max(1, (console.width - 26) // 12)
    times = {r["name"]: r.get("seconds", {}).get("total") for r in results}
    for start in range(0, len(names), per_table):
        chunk = names[start : start + per_table]
        view = Table(
            title="Scenario comparison (key rows; every KPI is in comparison.csv)"
            if start == 0
            else None,
            caption=f"scenario names without the common prefix '{prefix}'" if prefix else None,
        )
        view.add_column("after the plan", no_wrap=True)
        for name in chunk:
            view.add_column(escape(name[len(prefix) :]), justify="right", overflow="fold")
        for key, label in KEY_ROWS.items():
            if key in table.index:
                unit = table.at[key, "unit"]
                view.add_row(label, *(escape(_short(table.at[key, n], unit)) for n in chunk))
        view.add_row("time (s)", *(_short(times.get(n), "s") for n in chunk))
        console.print(view)


def _common_prefix(names: list[str]) -> str:
    if len(names) < 2:
        return ""
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    cut = max(prefix.rfind("_"), prefix.rfind("-"))
    return prefix[: cut + 1] if cut >= 0 else ""


# --- map -----------------------------------------------------------------------------------


@app.command("map")
def map_(
    plan_dir: Annotated[Path, typer.Argument(help="A plan folder written by solve or compare.")],
    maps: Annotated[Path, typer.Option("--maps", help=MAPS_HELP)] = Path("maps"),
    tiles: Tiles = None,
    verbose: Verbose = False,
    quiet: Quiet = False,
) -> None:
    """Redraw the maps of a written plan (the planner's map and one map per PCN hub).

    Example: `estates-opt map outputs/nel_baseline --maps maps`

    Exit codes: 0 maps written; 1 maps unavailable in this installation; 2 bad input.
    """
    _setup_logging(verbose, quiet)
    if not (plan_dir / "kpis.json").exists():
        err.print(
            f"[bold red]Input error[/]: {escape(str(plan_dir))} is not a plan folder (no "
            "kpis.json). Fix: give the --out folder of `estates-opt solve`.",
            highlight=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        from estates_opt.pipeline import redraw_maps
    except ImportError as exc:
        err.print(f"[bold red]Maps unavailable[/]: {escape(str(exc))}", highlight=False)
        raise typer.Exit(EXIT_NOT_OPTIMAL) from None
    with _tool_errors(), _step(f"drawing maps of {plan_dir}...", quiet):
        written = redraw_maps(plan_dir, maps, per_scenario=True, tiles=tiles)
    where = next(iter(written)).parent if written else maps
    console.print(f"maps written to [bold]{escape(str(where))}[/]", highlight=False)


# --- explain -------------------------------------------------------------------------------


@app.command()
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
    save, in GBP-equivalent per week).

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


def _plain(text: str) -> str:
    """A name as typed: lower case, single spaces, '&' as 'and', without apostrophes, full
    stops or a trailing 'PCN' ("queens hospital" finds "Queen's Hospital")."""
    text = re.sub(r"['\u2019.]", "", str(text).replace("&", " and "))
    words = " ".join(re.sub(r"[,;:()/-]", " ", text).lower().split())
    return words[:-4] if words.endswith(" pcn") else words


def _lookup(kind: str, value: str, names: dict[str, str]) -> str:
    """The code a user means by ``value``: a code (any case) or a name (or a unique part of one).

    ``names`` maps each code to its display name. Raises the bad-input exit with
    did-you-mean suggestions (names with their codes) when nothing or several match.
    """
    import difflib

    if value in names:
        return value
    by_code = {c.lower(): c for c in names}
    if value.lower() in by_code:
        return by_code[value.lower()]
    wanted = _plain(value)
    exact = sorted(c for c, n in names.items() if _plain(n) == wanted)
    partial = sorted(c for c, n in names.items() if wanted and wanted in _plain(n))
    found = exact or partial
    if len(found) == 1:
        return found[0]
    label = {c: f"{n} ({c})" if n else c for c, n in names.items()}
    if found:
        listed = ", ".join(label[c] for c in found[:6]) + (", ..." if len(found) > 6 else "")
        err.print(
            f"[bold red]Input error[/]: '{escape(value)}' matches {len(found)} {kind}s: "
            f"{escape(listed)}. Give the code.",
            highlight=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    plain = {_plain(n): c for c, n in names.items() if n}
    close = difflib.get_close_matches(wanted, list(plain), n=3, cutoff=0.6)
    codes = difflib.get_close_matches(value, list(names), n=3)
    hints = [label[plain[p]] for p in close] + [label[c] for c in codes]
    raise _unknown(kind, value, [], hints=list(dict.fromkeys(hints))[:3])


def _unknown(kind: str, value: str, known: list[str], hints: list[str] | None = None) -> typer.Exit:
    import difflib

    close = hints if hints is not None else difflib.get_close_matches(value, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    err.print(
        f"[bold red]Input error[/]: no {kind} '{escape(value)}' in this plan (give its code or "
        f"name).{escape(hint)}",
        highlight=False,
    )
    return typer.Exit(EXIT_BAD_INPUT)


def _km(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if number != number else f"{number:.2f} km"


def _pcn_names(plan: Plan) -> dict[str, str]:
    """PCN code -> name, for naming PCNs in words as well as by code."""
    summary = plan.pcn_summary
    return {str(c): str(n) for c, n in zip(summary["pcn_code"], summary["pcn_name"], strict=True)}


def _move_line(row: Any, pcns: dict[str, str] | None = None) -> str:
    band = row.from_band if row.from_band == row.to_band else f"{row.from_band} -> {row.to_band}"
    name = (pcns or {}).get(str(row.pcn_code))
    pcn = f"{name} ({row.pcn_code})" if name else str(row.pcn_code)
    return (
        f"  - {row.hours_per_week:.1f} h/week ({row.sessions_per_week:.1f} sessions) of "
        f"{row.service} for {pcn}, {band}: {row.from_site} ({row.from_site_id}) -> "
        f"{row.to_site} ({row.to_site_id}); travel {_km(row.from_travel_km)} -> "
        f"{_km(row.to_travel_km)}. Why: {row.why}."
    )


def _bottleneck_lines(bottlenecks: Any, top: int) -> list[str]:
    if not len(bottlenecks):
        return ["  none: no room constraint binds (one more room-hour would save nothing)."]
    lines = []
    for row in bottlenecks.head(top).itertuples(index=False):
        head = (
            f"  - {row.name} ({row.site_id}), {row.room_type} rooms, {row.band}: "
            f"{row.after_utilisation:.0%} used (cap {row.cap:.0%}); "
        )
        before = float(getattr(row, "room_hours_before_saving", 0.0) or 0.0)
        if before > 0:
            lines.append(
                head + "fixed work alone is over the cap, so one more room-hour a week saves "
                f"£0.00; {before:,.1f} room-hours must be added before a saving starts."
            )
        else:
            lines.append(
                head + "one more room-hour a week would save "
                f"£{row.shadow_price_gbp_per_room_hour:,.2f} a week."
            )
    if len(bottlenecks) > top:
        lines.append(f"  ... and {len(bottlenecks) - top} more (see bottlenecks.csv).")
    return lines


def _explain_plan(plan: Plan, top: int) -> list[str]:
    k = plan.kpis
    lines = [plan.summary(), "", "Weekday utilisation by site kind (before -> after, cap):"]
    before, after = k["utilisation_before"]["weekday"], k["utilisation_after"]["weekday"]
    for kind in sorted(after):
        lines.append(
            f"  - {kind}: {before.get(kind, 0):.0%} -> {after.get(kind, 0):.0%} "
            f"(cap {plan.scenario.cap(kind):.0%})"
        )
    if k.get("sites_opened"):
        lines += ["", "Opened in a band they are normally shut (site:band):"]
        lines.append("  " + ", ".join(k["sites_opened"]))
    moves = plan.moves.sort_values("hours_per_week", ascending=False, kind="stable")
    lines += ["", f"{len(plan.moves)} moves; the largest:"]
    lines += [_move_line(r, _pcn_names(plan)) for r in moves.head(top).itertuples(index=False)]
    lines += ["", "Bottleneck rooms (binding capacity, by shadow price):"]
    lines += _bottleneck_lines(plan.bottlenecks, top)
    lines += ["", "Use --pcn CODE or --site ID for one PCN or building."]
    return lines


def _explain_pcn(plan: Plan, code: str, top: int) -> list[str]:
    summary = plan.pcn_summary
    code = _lookup(
        "PCN",
        code,
        {str(c): str(n) for c, n in zip(summary["pcn_code"], summary["pcn_name"], strict=True)},
    )
    row = summary[summary["pcn_code"] == code].iloc[0]
    lines = [
        f"PCN {code} {row['pcn_name']} ({row['borough']}): population {row['population']:,.0f}, "
        f"{row['registered_patients']:,.0f} registered patients.",
        f"Demand {row['demand_hours']:,.1f} h/week: {row['met_hours']:,.1f} met, "
        f"{row['unmet_hours']:,.1f} unmet. Hours moved: {row['hours_moved']:,.1f} h/week.",
        f"Mean travel (hours-weighted): {_km(row['travel_before_km'])} before -> "
        f"{_km(row['travel_after_km'])} after.",
        f"Enhanced access: {row['enhanced_access_met_hours']:,.1f} of "
        f"{row['enhanced_access_demand_hours']:,.1f} h/week met.",
    ]
    unmet = plan.unmet[(plan.unmet["pcn_code"] == code) & (plan.unmet["unmet_hours"] > 1e-6)]
    for r in unmet.itertuples(index=False):
        lines.append(f"  Unmet: {r.service_id} {r.unmet_hours:.1f} of {r.demand_hours:.1f} h/week.")
    moves = plan.moves[plan.moves["pcn_code"] == code].sort_values(
        "hours_per_week", ascending=False, kind="stable"
    )
    lines += ["", f"{len(moves)} moves for this PCN; the largest:"]
    lines += [_move_line(r) for r in moves.head(top).itertuples(index=False)]
    if len(moves) > top:
        lines.append(f"  ... and {len(moves) - top} more (see moves.csv).")
    alloc = plan.allocations[plan.allocations["pcn_code"] == code]
    used = alloc.groupby(["site_id", "room_type", "band"], as_index=False)[
        ["baseline_hours_per_week", "hours_per_week"]
    ].sum()
    util = used.merge(plan.utilisation, on=["site_id", "room_type", "band"], how="left")
    util = util.sort_values("hours_per_week", ascending=False, kind="stable")
    lines += [
        "",
        "Rooms this PCN uses (its hours before -> after; room utilisation before -> after):",
    ]
    for r in util.head(top).itertuples(index=False):
        name = r.name if isinstance(r.name, str) else "(closed)"
        ub = "-" if r.before_utilisation != r.before_utilisation else f"{r.before_utilisation:.0%}"
        ua = "-" if r.after_utilisation != r.after_utilisation else f"{r.after_utilisation:.0%}"
        lines.append(
            f"  - {name} ({r.site_id}) {r.room_type}, {r.band}: {r.baseline_hours_per_week:.1f} -> "
            f"{r.hours_per_week:.1f} h/week; room {ub} -> {ua}"
        )
    slots = set(zip(util["site_id"], util["room_type"], util["band"], strict=True))
    b = plan.bottlenecks
    mine = b[[s in slots for s in zip(b["site_id"], b["room_type"], b["band"], strict=True)]]
    lines += ["", "Bottlenecks among the rooms this PCN uses (today or in the plan):"]
    lines += _bottleneck_lines(mine, top)
    return lines


def _explain_site(plan: Plan, site_id: str, top: int) -> list[str]:
    premises = plan.dataset.premises.set_index("site_id")
    moves = plan.moves
    names = {str(s): str(n) for s, n in zip(moves["from_site_id"], moves["from_site"], strict=True)}
    names |= {str(s): "" for s in plan.utilisation["site_id"].unique()}
    names |= {str(s): str(n) for s, n in premises["name"].items()}
    names |= {str(s): "" for s in plan.scenario.buildings.close if str(s) not in names}
    site_id = _lookup("site", site_id, names)
    util = plan.utilisation[plan.utilisation["site_id"] == site_id]
    lines = []
    if site_id in premises.index:
        p = premises.loc[site_id]
        new = site_id in {n.site_id for n in plan.scenario.buildings.new}
        lines.append(
            f"Site {site_id} {p['name']} ({p['kind']}, {p.get('borough') or 'no borough'})"
            + (" - a new building in this scenario." if new else ".")
        )
    else:
        today = plan.dataset.baseline
        hours = float(today.loc[today["site_id"] == site_id, "hours_per_week"].sum())
        lines.append(
            f"Site {site_id} is closed in this scenario: its rooms are not available to the "
            f"plan, and the {hours:,.1f} h/week of movable sessions it hosts today must move."
        )
    if len(util):
        lines += ["", "Rooms (capacity, fixed use; hours and utilisation before -> after; cap):"]
        for r in util.itertuples(index=False):
            lines.append(
                f"  - {r.room_type}, {r.band}: {r.capacity_hours:.0f} room-h/week, fixed "
                f"{r.fixed_hours:.1f}; {r.before_hours:.1f} -> {r.after_hours:.1f} h "
                f"({r.before_utilisation:.0%} -> {r.after_utilisation:.0%}, cap {r.cap:.0%})"
            )
    leaving = moves[moves["from_site_id"] == site_id].sort_values(
        "hours_per_week", ascending=False, kind="stable"
    )
    arriving = moves[moves["to_site_id"] == site_id].sort_values(
        "hours_per_week", ascending=False, kind="stable"
    )
    lines += [
        "",
        f"Sessions leaving: {leaving['hours_per_week'].sum():,.1f} h/week in {len(leaving)} moves"
        + ("; the largest:" if len(leaving) else "."),
    ]
    lines += [_move_line(r, _pcn_names(plan)) for r in leaving.head(top).itertuples(index=False)]
    lines += [
        "",
        f"Sessions arriving: {arriving['hours_per_week'].sum():,.1f} h/week in "
        f"{len(arriving)} moves" + ("; the largest:" if len(arriving) else "."),
    ]
    lines += [_move_line(r, _pcn_names(plan)) for r in arriving.head(top).itertuples(index=False)]
    served = (
        plan.allocations[plan.allocations["site_id"] == site_id]
        .groupby("pcn_code")[["baseline_hours_per_week", "hours_per_week"]]
        .sum()
        .sort_values("hours_per_week", ascending=False, kind="stable")
    )
    if len(served):
        lines += ["", "PCNs served (hours/week before -> after):"]
        pcns = _pcn_names(plan)
        for code, r in served.head(top).iterrows():
            name = f"{pcns[str(code)]} ({code})" if str(code) in pcns else str(code)
            lines.append(
                f"  - {name}: {r['baseline_hours_per_week']:.1f} -> {r['hours_per_week']:.1f}"
            )
    lines += ["", "Bottleneck rooms at this site:"]
    lines += _bottleneck_lines(plan.bottlenecks[plan.bottlenecks["site_id"] == site_id], top)
    return lines


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
