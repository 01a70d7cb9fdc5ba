"""A second process that solves borough steps, so two steps run at once on two cores.

HiGHS solves a borough step on one core (highspy serialises solves within a process),
so the other core can only help from another process. This one is started as
``python -m estates_opt.model.step_worker``, never from a multiprocessing pool: a pool
re-imports the user's main script, which an unguarded script or notebook cannot bear.

The parent sends pickled ``(model, solver options, task)`` triples on the child's stdin
and reads the pickled answers back from its stdout: a
:class:`~estates_opt.model.result.SolveResult` for a step (task ``solve``), the bounds
of stage 2 for task ``bounds`` (:func:`~estates_opt.model.bounds.stage_two_bounds`).
Anything native code prints goes to the null device, never into that channel. Where
the child cannot start or fails, :class:`StepWorker` says so and the parent solves the
step itself: the plan is the same either way, only slower.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

from estates_opt.model.program import LinearProgram
from estates_opt.model.result import SolveResult
from estates_opt.scenario import Solver

if TYPE_CHECKING:
    from estates_opt.model.bounds import StageTwoBounds

log = logging.getLogger(__name__)

Answer = TypeVar("Answer")

#: Set to ``off`` to solve every borough step in this process (the plan is the same).
DISABLE = "ESTATES_OPT_STEP_WORKER"


def solve_step(lp: LinearProgram, options: Solver) -> SolveResult:
    """One step on the configured back-end (the same call the parent makes for its own)."""
    from estates_opt.model.solve import solve_on_backend

    return solve_on_backend(lp, options)


def _bounds_step(lp: LinearProgram, options: Solver) -> StageTwoBounds:
    from estates_opt.model.bounds import stage_two_bounds  # it imports HiGHS and PuLP

    return stage_two_bounds(lp, options)


#: What the child can be asked to do, by name.
TASKS: dict[str, Callable[[LinearProgram, Solver], object]] = {
    "solve": solve_step,
    "bounds": _bounds_step,
}


def solve_pair(
    models: Sequence[LinearProgram], options: Solver, worker: StepWorker | None
) -> list[SolveResult]:
    """One or two models: the second in ``worker`` while this process solves the first
    (here too if the worker is missing or fails)."""
    sent = len(models) > 1 and worker is not None and worker.submit(models[1], options)
    results = [solve_step(models[0], options)]
    for model in models[1:]:
        elsewhere = worker.result() if sent and worker is not None else None
        results.append(elsewhere if elsewhere is not None else solve_step(model, options))
    return results


class StepWorker:
    """The parent's handle on one child process; every failure means "solve it yourself"."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: str | None = None  #: the task the child is working on
        self._writer: threading.Thread | None = None

    def start(self) -> bool:
        """Start the child (it imports while the parent works on); False if it cannot."""
        if self._process is not None:
            return self._process.poll() is None
        if not sys.executable or getattr(sys, "frozen", False):
            return False  # no interpreter to start (an embedded or frozen application)
        if os.environ.get(DISABLE, "").strip().lower() in ("0", "off", "no", "false"):
            return False
        try:
            self._process = subprocess.Popen(
                # -P: the child must not import an estates_opt from its working directory
                [sys.executable, "-P", "-m", "estates_opt.model.step_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=_child_environment(),
            )
        except OSError as exc:
            log.info("no second process for the borough steps (%s): solving them in turn", exc)
            return False
        return True

    def submit(self, lp: LinearProgram, options: Solver, task: str = "solve") -> bool:
        """Send a step (or another of :data:`TASKS`) to the child; False (nothing sent) if
        the child is not there or still busy with the last one."""
        process = self._process
        busy = self._pending is not None
        if busy or process is None or process.poll() is not None or process.stdin is None:
            return False
        try:
            message = pickle.dumps((lp, options, task), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # unpicklable: solve it here
            log.info("the step process cannot take this model (%s): solving it here", exc)
            return False
        # A model is larger than the pipe's buffer, so the write returns only once the
        # child reads it, after its imports (about 0.6 s) the first time: a thread writes,
        # and this one goes on. A broken pipe shows as a failed answer (the child is gone).
        self._writer = threading.Thread(
            target=_write, args=(process.stdin, message), name="step-worker-write", daemon=True
        )
        self._writer.start()
        self._pending = task
        return True

    def result(self) -> SolveResult | None:
        """The submitted step's result; None if no step is pending (another task may be) or
        the child failed (then it is closed)."""
        return self._answer("solve", SolveResult, "could not solve a step (%s): solving it here")

    def bounds(self) -> StageTwoBounds | None:
        """The submitted ``bounds`` task's answer, or None if none is pending or it failed."""
        from estates_opt.model.bounds import StageTwoBounds

        return self._answer("bounds", StageTwoBounds, "could not bound the model (%s)")

    def _answer(self, task: str, kind: type[Answer], failed: str) -> Answer | None:
        """The child's answer to the pending ``task`` if it is a ``kind``; None if no such
        task is pending, the child reported an error (logged as ``failed``) or the child
        failed (then it is closed)."""
        process = self._process
        if self._pending != task or process is None or process.stdout is None:
            return None
        try:
            answer = pickle.load(process.stdout)  # the child answers once it has read it all
        except Exception as exc:  # the child died or the channel broke
            log.info("the step process stopped (%s): solving the steps in turn", exc)
            self.close()
            return None
        self._pending = None  # only now: a Ctrl-C while waiting kills the busy child
        if isinstance(answer, kind):
            return answer
        log.info("the step process " + failed, answer)
        return None

    def close(self) -> None:
        """Stop the child (end of the search, an error, or Ctrl-C in the parent)."""
        process, self._process = self._process, None
        busy, self._pending = self._pending is not None, None
        if process is None:
            return
        if busy:  # its answer is no longer wanted: do not wait for the solve to end
            process.kill()
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.join(timeout=2)  # a write to a killed child fails at once
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()  # the child sees the end of its input and exits
            except OSError:
                pass
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> StepWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write(stream: BinaryIO, message: bytes) -> None:
    """Send one request; a failure is left for the reader to find (the child is gone)."""
    with contextlib.suppress(Exception):
        stream.write(message)
        stream.flush()


def _child_environment() -> dict[str, str]:
    """The environment, with this package's folder on PYTHONPATH if the child needs it.

    An installed package is found anyway (and its site-packages folder must not go ahead
    of the standard library); a source tree put on ``sys.path`` by hand is not.
    """
    import site

    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    installed = {
        str(Path(p).resolve()) for p in [*site.getsitepackages(), site.getusersitepackages()]
    }
    if package_root not in installed:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return env


def _serve(requests: BinaryIO, replies: BinaryIO) -> None:
    while True:
        try:
            lp, options, task = pickle.load(requests)
        except EOFError:
            return
        try:
            answer: object = TASKS[task](lp, options)
        except Exception as exc:  # reported to the parent, which solves the step itself
            answer = f"{type(exc).__name__}: {exc}"
        pickle.dump(answer, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


def main() -> None:
    """Serve steps until the parent closes stdin; Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # native code's prints must not reach the reply channel
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        _serve(sys.stdin.buffer, replies)
    # The parent waits for this exit: skip the interpreter's teardown (about 0.25 s with
    # HiGHS, numpy and pandas loaded); there is nothing left to flush or clean up.
    with contextlib.suppress(OSError):
        replies.close()
    os._exit(0)


if __name__ == "__main__":
    main()
