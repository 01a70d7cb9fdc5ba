"""The terminal: consoles that never send control characters, logging, and step progress.

Every command prints through :data:`console` (stdout) and :data:`err` (stderr) from here, so
a name in the data cannot drive the terminal; long steps show a spinner, or timed lines
when there is no terminal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console

from estates_opt.text import escape_control


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
