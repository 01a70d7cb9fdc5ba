"""The one exception hierarchy of estates-opt.

Every class is also a builtin exception (``ValueError``, ``RuntimeError``...) so
callers that already catch those keep working. Input errors carry a list of
:class:`Problem` so a user sees every fault in one go, not one per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from estates_opt.text import escape_control


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the inputs: where it is and what to do about it."""

    file: str
    message: str
    row: str | None = None
    column: str | None = None
    fix: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        text = f"{where}: {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return escape_control(text)  # a cell's control characters are shown, never sent


class EstatesOptError(Exception):
    """Base class of every error the tool raises on purpose."""


class InputDataError(EstatesOptError, ValueError):
    """The input dataset is wrong; ``problems`` lists every fault found."""

    def __init__(self, problems: Sequence[Problem] | str, *, summary: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem(file="input", message=problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        n = len(self.problems)
        head = summary or f"{n} problem{'s' if n != 1 else ''} in the input data"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class SchemaError(InputDataError):
    """A file or column is missing, or a value has the wrong type or range."""


class CRSError(InputDataError):
    """A geometry file has no CRS or one that cannot be projected."""


class GeometryError(InputDataError):
    """A geometry is missing, invalid or of the wrong type."""


class ScenarioError(EstatesOptError, ValueError):
    """A scenario file is malformed or refers to things that do not exist.

    ``problems`` lists each fault on its own ('<file>: <what is wrong>'), so a
    user sees one line per problem; it is the message itself when there is one.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        message = escape_control(message, keep="\n")
        self.problems: tuple[str, ...] = tuple(escape_control(p) for p in problems) or (message,)
        super().__init__(message)


class OutputWriteError(EstatesOptError, OSError):
    """An output file could not be written (disk full, no permission, a file in the way).

    ``path`` is the file or folder that failed, as the user knows it (never a hidden
    staging path); nothing of the run was committed, so an earlier plan is unchanged.
    ``user_path`` says whether the path given is the cause (a file where a folder
    should be, no permission) rather than the machine (disk full, I/O error).
    """

    #: errno values that mean the path the user gave is wrong, not the machine.
    PATH_ERRNOS = frozenset({1, 2, 13, 17, 20, 21, 30, 36, 40})  # EPERM ENOENT EACCES EEXIST ...

    def __init__(self, path: object, cause: BaseException) -> None:
        self.path = str(path)
        self.cause = cause
        code = getattr(cause, "errno", None)
        reason = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        self.user_path = code in self.PATH_ERRNOS
        fix = (
            "choose another output folder, or remove what is in the way."
            if self.user_path
            else "free some disk space (or fix the disk), then run again."
        )
        super().__init__(
            code,
            escape_control(
                f"could not write {self.path}: {reason}. Nothing of this run was written; "
                f"earlier outputs are unchanged. Fix: {fix}"
            ),
        )

    def __str__(self) -> str:
        return str(self.args[1])

    def at(self, path: object) -> OutputWriteError:
        """The same failure, naming ``path`` (the final place of a staged file)."""
        return OutputWriteError(path, self.cause)

    def __reduce__(self) -> tuple[type[OutputWriteError], tuple[str, BaseException]]:
        # Sent back from a worker process (compare): rebuilt from its path and cause.
        return (OutputWriteError, (self.path, self.cause))


class ModelSpecificationError(EstatesOptError, ValueError):
    """The inputs are valid but cannot form a sensible model."""


class SolveError(EstatesOptError, RuntimeError):
    """The solver could not produce a plan."""


class InfeasibleError(SolveError):
    """No plan satisfies the hard constraints; ``diagnosis`` says why."""

    def __init__(self, message: str, diagnosis: Sequence[str] = ()) -> None:
        self.diagnosis = tuple(diagnosis)
        text = message
        if self.diagnosis:
            text += "\n" + "\n".join(f"  - {d}" for d in self.diagnosis)
        super().__init__(text)


class SolveInterrupted(KeyboardInterrupt):
    """The user pressed Ctrl-C while the solver ran; it was stopped and no plan exists.

    A ``KeyboardInterrupt`` (not an :class:`EstatesOptError`), so ``except Exception``
    never swallows it and every caller unwinds as for Ctrl-C anywhere else.
    """


class StoppedAfterWriting(KeyboardInterrupt):
    """Ctrl-C arrived after every output of the run was in place: the outputs are complete.

    Raised instead of the bare ``KeyboardInterrupt`` so that the stop is reported
    truthfully ("written"), not as a run that wrote nothing.
    """


class SolverUnavailableError(SolveError):
    """The requested solver is not installed."""


class VerificationError(EstatesOptError, RuntimeError):
    """A solved plan broke a rule the independent verifier checks."""

    def __init__(self, violations: Sequence[str]) -> None:
        self.violations = tuple(violations)
        n = len(self.violations)
        super().__init__(
            f"the plan failed independent verification ({n} violation{'s' if n != 1 else ''}):\n"
            + "\n".join(f"  - {v}" for v in self.violations[:50])
        )
