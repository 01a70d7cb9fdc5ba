"""Exit codes, and tool errors turned into a clear message and an exit code (no traceback)."""

from __future__ import annotations

import contextlib
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
    VerificationError,
)

EXIT_OK, EXIT_NOT_OPTIMAL, EXIT_BAD_INPUT, EXIT_WRITE_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


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
