"""HiGHS through highspy: options, loading the arrays, running with Ctrl-C, reading the result.

The direct route (:func:`solve_direct`) hands the model's arrays straight to
highspy, with no PuLP at all; the PuLP route (:mod:`estates_opt.model.pulp_solve`)
loads and runs HiGHS with the same calls (:func:`pass_model`, :func:`run_interruptibly`),
so both routes solve one model.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from estates_opt.errors import ScenarioError, SolveInterrupted, SolverUnavailableError
from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult
from estates_opt.model.status import highs_limit, highs_status
from estates_opt.scenario import Solver

if TYPE_CHECKING:
    from highspy import Highs, HighsLp


@contextlib.contextmanager
def quiet_native_stdout() -> Iterator[None]:
    """Silence output written by native code (HiGHS prints a banner even with output off)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (some notebook kernels): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            try:
                yield
            finally:
                sys.stdout.flush()
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def import_highspy() -> ModuleType:
    """The highspy module, or a :class:`SolverUnavailableError` saying how to get it."""
    try:
        import highspy
    except ImportError as exc:  # pragma: no cover - exercised only without highspy
        raise SolverUnavailableError(
            'HiGHS is not installed: run `pip install highspy`, or set solver.name = "cbc".'
        ) from exc
    return highspy


#: Set while the main thread stops (Ctrl-C, an error): every HiGHS solve of this process
#: cancels at its next interrupt check, those of background threads (the phased plan's),
#: which no KeyboardInterrupt reaches, included.
STOP_SOLVES = threading.Event()


class Meanwhile:
    """A job for the waiting thread: run by its next HiGHS solve while HiGHS works
    (:func:`while_solving`), or by :meth:`result` if no solve ran it."""

    def __init__(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._func, self._args = func, args
        self._ran = False
        self._value: Any = None
        self._error: Exception | None = None

    def run(self) -> None:
        """Run the job once; an error is kept for :meth:`result` (the solve goes on)."""
        if self._ran:
            return
        self._ran = True
        try:
            self._value = self._func(*self._args)
        except Exception as exc:  # raised by result(), in the caller's frame
            self._error = exc

    def result(self) -> Any:
        """The job's value (run now if no solve ran it); its error, if it raised one."""
        self.run()
        if self._error is not None:
            raise self._error
        return self._value


_WAITING = threading.local()


@contextlib.contextmanager
def while_solving(func: Callable[..., Any], *args: Any) -> Iterator[Meanwhile]:
    """Give ``func(*args)`` to this thread's next HiGHS solve, to run while HiGHS works.

    The thread only waits while HiGHS runs in highspy's solver thread, which releases the
    GIL: work that needs no solution (the plan check's lookups) costs no time there. Run in
    a second Python thread instead, it held the GIL while the model was being passed to
    HiGHS and slowed the England LP's solve phase by 0.1-0.2 s.
    """
    job = Meanwhile(func, args)
    jobs: list[Meanwhile] = getattr(_WAITING, "jobs", [])
    _WAITING.jobs = [*jobs, job]
    try:
        yield job
    finally:
        _WAITING.jobs = [j for j in getattr(_WAITING, "jobs", []) if j is not job]


def _run_waiting_jobs() -> None:
    jobs: list[Meanwhile] = getattr(_WAITING, "jobs", [])
    _WAITING.jobs = []
    for job in jobs:
        job.run()


def run_interruptibly(highs: Highs) -> None:
    """``highs.run()``, but Ctrl-C (or :data:`STOP_SOLVES`) stops a MIP promptly and raises
    :class:`SolveInterrupted`; this thread's :func:`while_solving` jobs run meanwhile.

    HiGHS runs in highspy's solver thread while this thread waits; a stop asks HiGHS to
    end at its next MIP interrupt check, waits for it to return, then raises. Only the MIP
    check calls back into Python: highspy's own handling also hooks the simplex check, which
    HiGHS makes every iteration, and each call takes the GIL, so while another thread ran
    Python the England LP took 61 s instead of 1 s. An LP (about a second at England scale)
    therefore runs to its end before a stop takes effect.
    """
    stop = threading.Event()

    def check(event: Any) -> None:
        if stop.is_set():
            event.interrupt()

    highs.cbMipInterrupt.subscribe(check)
    highs.startSolve()
    try:
        try:
            _run_waiting_jobs()
        except KeyboardInterrupt:
            stop.set()
        while True:
            try:
                done, _ = highs.wait(0.1)
            except KeyboardInterrupt:
                stop.set()
                continue
            if done:
                break
            if STOP_SOLVES.is_set():
                stop.set()
    finally:
        highs.cbMipInterrupt.unsubscribe(check)
    if stop.is_set():
        raise SolveInterrupted("the solver was stopped by Ctrl-C before it finished")


def highs_options(options: Solver, mip: bool) -> dict[str, object]:
    """The HiGHS options of ``solver``: quiet, time limit, MIP gap, threads, ``highs_options``."""
    opts: dict[str, object] = {"output_flag": False, "time_limit": float(options.time_limit_s)}
    if mip:
        opts["mip_rel_gap"] = float(options.mip_gap)
    if options.threads:
        opts["threads"] = int(options.threads)
    opts.update(options.highs_options)
    return opts


HIGHS_OPTIONS_URL = "https://ergo-code.github.io/HiGHS/stable/options/definitions/"


def check_highs_options(options: Solver) -> None:
    """Refuse ``solver.highs_options`` HiGHS does not know or will not take.

    HiGHS (and PuLP on top of it) only log a rejected option and solve without
    it, so a misspelt option would silently change nothing.
    """
    if options.name != "highs" or not options.highs_options:
        return
    highspy = import_highspy()
    problems = []
    with quiet_native_stdout():
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        for key, value in options.highs_options.items():
            if highs.getOptionType(key)[0] != highspy.HighsStatus.kOk:
                problems.append(
                    f"solver.highs_options: HiGHS has no option '{key}'; check the spelling "
                    f"(see {HIGHS_OPTIONS_URL})"
                )
            elif highs.setOptionValue(key, value) != highspy.HighsStatus.kOk:
                problems.append(
                    f"solver.highs_options.{key}: HiGHS does not accept {value!r}; use a value "
                    f"of the option's type and range (see {HIGHS_OPTIONS_URL})"
                )
    if problems:
        raise ScenarioError("; ".join(problems), problems)


def _highs_model(lp: LinearProgram, highspy: ModuleType) -> HighsLp:
    """The LP as a ``HighsLp``: the arrays themselves, the matrix column-wise."""
    csc = lp.matrix.tocsc()
    model = highspy.HighsLp()
    model.num_col_ = csc.shape[1]
    model.num_row_ = csc.shape[0]
    model.col_cost_ = lp.objective
    model.col_lower_ = lp.col_lower
    model.col_upper_ = np.where(np.isinf(lp.col_upper), highspy.kHighsInf, lp.col_upper)
    model.row_lower_ = np.where(np.isinf(lp.row_lower), -highspy.kHighsInf, lp.row_lower)
    model.row_upper_ = np.where(np.isinf(lp.row_upper), highspy.kHighsInf, lp.row_upper)
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    model.a_matrix_.start_ = csc.indptr
    model.a_matrix_.index_ = csc.indices
    model.a_matrix_.value_ = csc.data
    model.a_matrix_.num_col_ = csc.shape[1]
    model.a_matrix_.num_row_ = csc.shape[0]
    if lp.is_mip:
        model.integrality_ = [
            highspy.HighsVarType.kInteger if flag else highspy.HighsVarType.kContinuous
            for flag in lp.integer
        ]
    return model


def pass_model(highs: Highs, highspy: ModuleType, lp: LinearProgram) -> None:
    """Give ``highs`` the model (and its MIP start, if any): the one place both HiGHS
    routes load it."""
    highs.passModel(_highs_model(lp, highspy))
    _set_start(highs, highspy, lp)


def highs_result(
    highs: Highs,
    highspy: ModuleType,
    lp: LinearProgram,
    backend: str,
    seconds: float,
    model_seconds: float = 0.0,
) -> SolveResult:
    """What HiGHS said, read the same way on both routes."""
    status, bound, gap = highs_status(highs, highspy)
    n = lp.shape[0]
    values = np.full(n, np.nan)
    duals = None
    objective = math.nan
    if status.has_plan:
        solution = highs.getSolution()
        values = np.asarray(solution.col_value, dtype=float)
        if not lp.is_mip and solution.dual_valid:
            duals = np.asarray(solution.row_dual, dtype=float)
        objective = float(highs.getInfo().objective_function_value)
    return SolveResult(
        status,
        objective,
        bound,
        gap,
        values,
        duals,
        "highs",
        backend,
        seconds,
        model_seconds,
        limit=highs_limit(highs, highspy),
    )


def _set_start(highs: Highs, highspy: ModuleType, lp: LinearProgram) -> None:
    """Give HiGHS the model's known feasible MIP solution, if any, to start from."""
    if lp.start is None or not lp.is_mip or highs.getNumCol() != len(lp.start):
        return
    solution = highspy.HighsSolution()
    solution.col_value = np.asarray(lp.start, dtype=float).tolist()
    solution.value_valid = True
    highs.setSolution(solution)


def solve_direct(lp: LinearProgram, options: Solver) -> SolveResult:
    """Hand the arrays to highspy (column-wise matrix) and solve."""
    highspy = import_highspy()
    started = time.perf_counter()
    with quiet_native_stdout():
        highs = highspy.Highs()
    for key, value in highs_options(options, lp.is_mip).items():
        highs.setOptionValue(key, value)
    pass_model(highs, highspy, lp)
    run_interruptibly(highs)
    return highs_result(highs, highspy, lp, "direct", time.perf_counter() - started)


def presolved_relaxation_bound(lp: LinearProgram, options: Solver) -> float | None:
    """A lower bound on the MIP ``lp``: the LP relaxation of the model HiGHS's MIP presolve
    makes of it, or None if presolve did not end with a model to relax.

    MIP presolve keeps an optimal solution while it tightens bounds and coefficients with
    the integrality it knows about (probing the relocation decisions, for one), so the
    relaxation of its model still bounds every plan from below and sits closer to them than
    the relaxation of the model as built: on the NEL default 3,025,880 against 2,884,448,
    for half a second more.
    """
    highspy = import_highspy()
    with quiet_native_stdout():
        highs = highspy.Highs()
    for key, value in highs_options(options, mip=True).items():
        highs.setOptionValue(key, value)
    highs.passModel(_highs_model(lp, highspy))
    outcome = highs.presolve()
    reduced = highs.getModelPresolveStatus()
    status = highspy.HighsPresolveStatus
    if outcome == highspy.HighsStatus.kError or reduced not in (
        status.kReduced,
        status.kReducedToEmpty,
        status.kNotReduced,
    ):
        return None
    model = highs.getPresolvedLp() if reduced != status.kNotReduced else _highs_model(lp, highspy)
    if model.num_col_ == 0:
        return float(model.offset_)
    model.integrality_ = []
    relaxation = highspy.Highs()
    for key, value in highs_options(options, mip=False).items():
        relaxation.setOptionValue(key, value)
    relaxation.passModel(model)
    relaxation.run()
    if relaxation.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    return float(relaxation.getInfo().objective_function_value)  # the offset included
