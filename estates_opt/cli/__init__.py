"""The ``estates-opt`` command line: a thin adapter over the public API.

Exit codes: 0 success; 1 solved but not optimal, or no feasible plan;
2 bad input (dataset, scenario, arguments, or an output path that cannot be
used); 3 outputs could not be written (disk full, I/O error; nothing was
written); 70 an internal error, a bug (one line, nothing written); 130 stopped by
Ctrl-C (nothing was written). The only package that sets up
logging and prints. No traceback for bad input: every tool error becomes a
clear message and an exit code.

The modules: ``app`` (the Typer app and shared options), ``terminal`` (consoles, logging,
progress), ``exits`` (exit codes, errors as messages), ``summaries`` (tables printed),
``explain_text`` (the words of ``explain``) and one module per command group; this
package registers the commands on the app, in the order ``--help`` lists them.
"""

from __future__ import annotations

from estates_opt.cli.app import app
from estates_opt.cli.compare_command import compare
from estates_opt.cli.exits import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_NOT_OPTIMAL,
    EXIT_OK,
    EXIT_WRITE_FAILED,
)
from estates_opt.cli.plan_commands import explain, map_
from estates_opt.cli.solve_commands import robust, solve, with_phases
from estates_opt.cli.summaries import print_plan_summary
from estates_opt.cli.terminal import console, err
from estates_opt.cli.validate_command import validate

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_OPTIMAL",
    "EXIT_OK",
    "EXIT_WRITE_FAILED",
    "app",
    "console",
    "err",
    "main",
    "print_plan_summary",
    "with_phases",
]

# The commands, in the order `estates-opt --help` lists them.
app.command()(validate)
app.command()(solve)
app.command()(robust)
app.command()(compare)
app.command("map")(map_)
app.command()(explain)


def _stop(signum: int, frame: object) -> None:
    """SIGTERM (``kill``, ``timeout``, a container stopping) as Ctrl-C: the run stops,
    its staging folders are removed, nothing is written, and it exits 130."""
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry point."""
    import signal

    signal.signal(signal.SIGTERM, _stop)
    app()
