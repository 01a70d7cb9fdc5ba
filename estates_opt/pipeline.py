"""The public pipeline: dataset + scenario -> verified, explained :class:`Plan`.

:func:`solve` chains the stages (apply scenario, measure travel, build,
solve, explain, verify) and holds no modelling logic of its own.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from estates_opt.errors import (
    InfeasibleError,
    ModelSpecificationError,
    ScenarioError,
    VerificationError,
)
from estates_opt.inputs.changes import apply_scenario, load_scenario_checked
from estates_opt.inputs.dataset import Dataset, read_dataset
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model
from estates_opt.model.checks import pin_problems
from estates_opt.model.highs_direct import STOP_SOLVES, Meanwhile, while_solving
from estates_opt.model.neighbourhood_search import neighbourhoods
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult, SolveStatus
from estates_opt.model.solve import check_highs_options, solve_model
from estates_opt.model.staged import solve_staged
from estates_opt.outputs.files import staged_directory
from estates_opt.outputs.maps.pages import scenario_maps_dir, write_maps
from estates_opt.outputs.plan_folder import check_output_folders, read_plan
from estates_opt.results import explain
from estates_opt.results.explain.prepared import ExplainInputs, prepare_explanation
from estates_opt.results.phase_check import check_phases
from estates_opt.results.phases import phased_plan, relocations_of, with_phases
from estates_opt.results.plan import Plan
from estates_opt.results.verify import CheckInputs, prepare_verification, verify_plan
from estates_opt.scenario import Scenario

log = logging.getLogger(__name__)

R = TypeVar("R")


def solve(dataset: Dataset, scenario: Scenario | None = None) -> Plan:
    """Solve the allocation for ``scenario`` (defaults) on ``dataset`` and verify it."""
    scenario = scenario or Scenario()
    _check_solver(scenario)  # before the slow stages, naming the file
    started = time.perf_counter()
    return _solve_changed(apply_scenario(dataset, scenario), scenario, started)


def solve_changed(data: Dataset, scenario: Scenario) -> Plan:
    """:func:`solve` on a dataset the scenario was already applied to (``apply_scenario``).

    For a caller that read the dataset once and made each scenario's changed copy itself
    (``compare``). Given a dataset the scenario was not applied to, it would solve the
    unchanged estate: the public entry point stays :func:`solve`.
    """
    _check_solver(scenario)
    return _solve_changed(data, scenario, time.perf_counter())


def _check_solver(scenario: Scenario) -> None:
    origin = scenario.source_file or f"scenario '{scenario.name}'"
    try:
        check_highs_options(scenario.solver)
    except ScenarioError as exc:
        raise ScenarioError(f"{origin}: {exc}", [f"{origin}: {p}" for p in exc.problems]) from None


def _solve_changed(data: Dataset, scenario: Scenario, started: float) -> Plan:
    """Travel, build, solve, explain and verify; ``started`` opens the travel stage's clock."""
    timings: dict[str, float] = {}
    travel = measure_travel(data, scenario)
    timings["travel"] = time.perf_counter() - started
    lp = checked_model(data, scenario, travel)
    timings["build"] = lp.build_seconds
    lp, result, prepared = solve_program(data, scenario, lp)
    timings["pulp_build"] = result.pulp_build_seconds
    timings["solve"] = result.seconds
    if not result.status.has_plan:
        diagnosis = lp.diagnostics or (_no_cause_found(scenario),)
        if result.status == SolveStatus.NO_SOLUTION_TIME_LIMIT:
            diagnosis = (_limit_diagnosis(result.limit, scenario), *lp.diagnostics)
        raise InfeasibleError(
            f"scenario '{scenario.name}': the solver ended '{result.status}' without a plan.",
            diagnosis=diagnosis,
        )
    return explain_and_verify(data, scenario, lp, result, timings, prepared)


def built_model(
    data: Dataset, scenario: Scenario, travel: pd.DataFrame
) -> tuple[LinearProgram, list[str]]:
    """The model of a changed dataset, and what its pins break (each problem prefixed with
    the scenario file): the checks before any solve, shared by solve, validate and compare."""
    origin = scenario.source_file or f"scenario '{scenario.name}'"
    try:
        lp = build_model(data, scenario, travel)
    except ModelSpecificationError as exc:
        raise ModelSpecificationError(f"{origin}: {exc}") from None
    return lp, [f"{origin}: {p}" for p in pin_problems(lp, scenario)]


def checked_model(data: Dataset, scenario: Scenario, travel: pd.DataFrame) -> LinearProgram:
    """:func:`built_model`, refusing a scenario whose pins cannot hold (exit 2)."""
    lp, impossible = built_model(data, scenario, travel)
    if impossible:
        raise ScenarioError("; ".join(impossible), impossible)
    return lp


@dataclass(frozen=True)
class Prepared:
    """What explaining and checking a plan read from the inputs and the built program
    alone, worked out while HiGHS runs (:func:`solve_program`)."""

    explain: ExplainInputs | None  #: None if working it out failed: explain makes its own
    checks: CheckInputs | None


def solve_program(
    data: Dataset, scenario: Scenario, lp: LinearProgram
) -> tuple[LinearProgram, SolveResult, Prepared]:
    """Solve the built program as the scenario asks: the staged whole-session solve, the
    decomposed solve or one solve. Returns the program solved last, its result and what
    the explain stage and the plan check need that no solution changes, worked out while
    HiGHS runs (:func:`estates_opt.model.highs_direct.while_solving`: the waiting thread
    is idle, and the solver releases the GIL).
    """
    with (
        while_solving(prepare_explanation, data, scenario, lp) as explaining,
        while_solving(prepare_verification, data, scenario) as checking,
    ):
        if scenario.options.whole_sessions and scenario.relocation.least_disruption:
            groups = neighbourhoods(lp, data)
            lp, result = solve_staged(lp, scenario, groups)
        elif scenario.solver.decompose:
            from estates_opt.model.decompose import solve_decomposed

            result = solve_decomposed(lp, scenario.solver)
        else:
            result = solve_model(lp, scenario.solver)
    return lp, result, Prepared(_made(explaining), _made(checking))


def _made(job: Meanwhile) -> Any:
    """A job's value, or None if it failed: the stage that needs it then works it out
    itself and reports the error where it belongs, with the stage's own context."""
    try:
        return job.result()
    except Exception:
        log.debug("working out ahead failed; the stage makes its own", exc_info=True)
        return None


def _no_cause_found(scenario: Scenario) -> str:
    """What to say of an infeasible model that no check before solving explained."""
    if not scenario.pinned:
        return "no arithmetic cause found"
    # every target has a shortfall column, so only pins (lower bounds) can contradict the rows
    pins = ", ".join(f"pinned[{i}]" for i in range(len(scenario.pinned)))
    return (
        f"every target may fall short, so only the pins can make the model infeasible: {pins} "
        "cannot all hold together under the caps and limits, though no single room, clinic "
        "or budget rules them out; remove pins one at a time to find the clash"
    )


def _limit_diagnosis(limit: str | None, scenario: Scenario) -> str:
    """Why no plan: the limit the solver itself reported, and what to change."""
    if limit is None or limit == "time limit":
        return (
            f"the time limit ({scenario.solver.time_limit_s:g} s) ran out before the solver "
            "found any plan: raise solver.time_limit_s, or try the LP first (options."
            "whole_sessions and options.opening_decisions off)"
        )
    return (
        f"the solver stopped at its {limit} before it found any plan: raise that limit or "
        "remove it from the scenario"
    )


def explain_and_verify(
    dataset: Dataset,
    scenario: Scenario,
    lp: LinearProgram,
    result: SolveResult,
    timings: dict[str, float],
    prepared: Prepared | None = None,
) -> Plan:
    """Turn a solved program into a :class:`Plan`: tables, phases and KPIs, then the independent
    check, which raises :class:`VerificationError` if the plan breaks a rule (``prepared``:
    its inputs, if worked out while solving)."""
    t = time.perf_counter()
    ahead = prepared.explain if prepared is not None else None  # None: each is made here
    today = ahead if ahead is not None and ahead.of_inputs(dataset, scenario) else None
    program = ahead if ahead is not None and ahead.of_program(lp) else None
    allocations = explain.allocation_table(
        dataset, scenario, lp, result, today.today_slots if today else None
    )
    unmet = explain.unmet_table(lp, result, allocations)
    opened = explain.opened_slots(lp, result)
    utilisation = explain.utilisation_table(
        dataset, allocations, scenario, opened, today.rooms if today else None
    )
    unmet = explain.with_unmet_reasons(lp, unmet, utilisation)
    paired = explain.paired_legs(dataset, allocations)
    relocations = relocations_of(dataset, paired, utilisation, allocations)
    # The phase MIPs run in a thread (HiGHS releases the GIL) while the legs' reasons, the
    # tables, KPIs and the check, which do not need the phases, are made here.
    with _alongside(phased_plan, scenario, relocations, allocations) as pending:
        legs = explain.with_reasons(dataset, utilisation, paired)
        lines = explain.relocation_lines(legs)
        bottlenecks = explain.bottleneck_table(dataset, lp, result, utilisation)
        pcn_summary = explain.pcn_summary_table(
            dataset, scenario, allocations, unmet, lp.targets, lines
        )
        origins = explain.origin_travel(dataset, scenario, allocations)  # once, for both
        imd = explain.travel_by_imd(dataset, scenario, allocations, origins)
        ptal = explain.travel_by_ptal(dataset, scenario, allocations, origins)
        kpis = explain.kpi_dict(
            dataset,
            scenario,
            lp,
            result,
            allocations,
            unmet,
            utilisation,
            imd,
            opened,
            timings,
            lines,
            ptal,
            hostable=program.hostable if program else None,
            size=program.model_size if program else None,
        )
        checked = time.perf_counter()
        violations = verify_plan(
            dataset,
            scenario,
            allocations,
            unmet,
            utilisation,
            kpis,
            opened,
            prepared.checks if prepared is not None else None,
        )
        verify_seconds = time.perf_counter() - checked
        phased = pending.result()
    moves = with_phases(lines, phased.phase_of)
    kpis["first_quarter"] = phased.first_quarter
    checked = time.perf_counter()
    violations += check_phases(allocations, utilisation, moves, phased.table, kpis)
    verify_seconds += time.perf_counter() - checked
    # the KPIs and the wait for the phases too: no step of the plan goes untimed
    timings["explain"] = time.perf_counter() - t - verify_seconds
    timings["verify"] = verify_seconds
    kpis["seconds"] = {k: round(v, 3) for k, v in timings.items()}
    kpis["verified"] = not violations
    if violations:
        raise VerificationError(violations)
    plan = Plan(
        scenario,
        dataset,
        result.status,
        allocations,
        moves,
        utilisation,
        pcn_summary,
        bottlenecks,
        unmet,
        kpis,
        frozenset(opened),
        phased.table,
    )
    log.info("%s", plan.summary())
    return plan


@contextlib.contextmanager
def _alongside(func: Callable[..., R], *args: Any) -> Iterator[Future[R]]:
    """Run ``func(*args)`` in a thread while the body runs; if the body fails (Ctrl-C
    included), its HiGHS solves are stopped and the thread is waited for, so nothing
    outlives the run."""
    with ThreadPoolExecutor(1, thread_name_prefix="estates-opt-alongside") as pool:
        pending = pool.submit(func, *args)
        try:
            yield pending
        except BaseException:
            STOP_SOLVES.set()
            try:
                wait([pending])
            finally:
                STOP_SOLVES.clear()
            raise


def run(scenario_path: str | Path) -> Plan:
    """Load a scenario file, read its dataset and solve: the whole job, no side effects."""
    scenario = load_scenario_checked(scenario_path)
    return solve(read_dataset(scenario.dataset_path()), scenario)


def redraw_maps(
    plan_dir: str | Path,
    maps_dir: str | Path,
    *,
    per_scenario: bool = False,
    tiles: str | None = None,
) -> dict[Path, int]:
    """Redraw the maps of a written plan folder without solving again: every page, or none.

    With ``per_scenario`` the maps go to ``<maps_dir>/<scenario name>/`` (as the CLI does).
    Returns every written path with its size, the planner's map first.
    """
    plan = read_plan(plan_dir)
    target = scenario_maps_dir(maps_dir, plan.scenario.name) if per_scenario else Path(maps_dir)
    check_output_folders(plan.dataset.source, None, target)
    with staged_directory(target) as stage:
        written = write_maps(plan, stage, tiles=tiles)
    return {target / path.relative_to(stage): size for path, size in written.items()}
