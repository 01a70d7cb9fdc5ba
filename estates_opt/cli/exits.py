"""Exit codes, and tool errors turned into a clear message and an exit code (no traceback)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import typer

from estates_opt.cli.terminal import err
from estates_opt.errors import (
    EstatesOptError,
    InfeasibleError,
    InputDataError,
    OutputWriteError,
    ScenarioError,
    SolveError,
    StoppedAfterWriting,
    VerificationError,
)

EXIT_OK, EXIT_NOT_OPTIMAL, EXIT_BAD_INPUT, EXIT_WRITE_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: An error of estates-opt itself (a bug), not of its input: sysexits' EX_SOFTWARE.
EXIT_INTERNAL = 70
#: Set (to anything but 0) to see an internal error's traceback.
TRACEBACK_ENV = "ESTATES_OPT_TRACEBACK"


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
#: Ctrl-C once every output was in place (while tidying up or printing the summary).
STOPPED_AFTER_WRITING = "stopped (Ctrl-C) after every output was written: the outputs are complete."


@contextlib.contextmanager
def stopped_after_writing() -> Iterator[None]:
    """Around what a command does once its outputs are written (its summary): Ctrl-C
    there exits 130 saying the outputs are complete, as they are."""
    try:
        yield
    except KeyboardInterrupt:
        err.print(STOPPED_AFTER_WRITING, markup=False, highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None


@contextlib.contextmanager
def _tool_errors(stopped: str = STOPPED) -> Iterator[None]:
    """Turn tool and file errors into a message and an exit code; Ctrl-C into one line."""
    try:
        yield
    except (EstatesOptError, OSError) as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt as exc:
        said = STOPPED_AFTER_WRITING if isinstance(exc, StoppedAfterWriting) else stopped
        err.print(said, markup=False, highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # a bug: said plainly, its traceback only on request
        if os.environ.get(TRACEBACK_ENV, "0") not in ("", "0"):
            raise
        err.print("[bold red]Internal error[/] (a bug in estates-opt, not in your input):")
        err.print(
            f"  - {type(exc).__name__}: {str(exc)[:300]}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        err.print(
            "  Nothing of this run was written; earlier outputs are unchanged. Please report "
            f"it with the command you ran; {TRACEBACK_ENV}=1 shows where it happened.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INTERNAL) from None
