"""Gathering input problems, labelling their rows, and raising them all at once.

Every rule adds a :class:`~estates_opt.errors.Problem` to a collector instead
of raising, so one run reports every fault in every file (OSMnx's
``_report_validation`` idea). :func:`raise_if_problems` raises once, with the
most specific error class that covers them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd

from estates_opt.errors import CRSError, GeometryError, InputDataError, Problem, SchemaError


@dataclass
class ProblemCollector:
    """Gathers problems by category so the raised error can be specific."""

    schema: list[Problem] = field(default_factory=list)
    crs: list[Problem] = field(default_factory=list)
    geometry: list[Problem] = field(default_factory=list)

    def all(self) -> list[Problem]:
        """Every problem gathered, file by file (in the order first met), and within a file
        what concerns the whole file first, then by line or feature: the order a planner
        works through them in an editor."""
        found = [*self.schema, *self.crs, *self.geometry]
        first: dict[str, int] = {}
        for problem in found:
            first.setdefault(problem.file, len(first))
        return sorted(found, key=lambda p: (first[p.file], _row_number(p.row)))

    def rows_with_problems(self, file: str, columns: tuple[str, ...]) -> set[int]:
        """Line or feature numbers of ``file`` already reported in one of ``columns``: a
        rule across columns skips them, so one fault gets one message."""
        return {
            _row_number(p.row)
            for p in self.schema
            if p.file == file and p.column in columns and p.row
        }

    def naming_files(self, names: dict[str, str]) -> ProblemCollector:
        """The same problems, each naming the file as it is in the folder (the rules name
        the standard ``capacity.csv``; the folder may hold ``capacity.parquet`` or
        ``premises.gpkg``). A Parquet table has rows, not lines: ``line 2`` (CSV's first
        data line) becomes ``row 1``."""

        def renamed(found: list[Problem]) -> list[Problem]:
            out = []
            for p in found:
                name = names.get(p.file, p.file)
                row = p.row
                if name.endswith(".parquet") and row and row.startswith("line "):
                    number, _, rest = row[5:].partition(" ")
                    if number.isdigit():
                        row = " ".join(filter(None, (f"row {int(number) - 1}", rest)))
                out.append(replace(p, file=name, row=row) if (name, row) != (p.file, p.row) else p)
            return out

        return ProblemCollector(renamed(self.schema), renamed(self.crs), renamed(self.geometry))

    def __bool__(self) -> bool:
        return bool(self.schema or self.crs or self.geometry)


def _row_number(row: str | None) -> int:
    """7 for 'line 7 (site_id=...)' or 'feature 7', -1 for a problem of the whole file."""
    if not row:
        return -1
    parts = row.split(" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1


def raise_if_problems(problems: ProblemCollector, source: str) -> None:
    """Raise one error listing every problem, typed by what kind they are."""
    if not problems:
        return
    found = problems.all()
    summary = f"{len(found)} problem{'s' if len(found) != 1 else ''} in the input data at {source}"
    kinds = [bool(problems.schema), bool(problems.crs), bool(problems.geometry)]
    if sum(kinds) > 1:
        raise InputDataError(found, summary=summary)
    if problems.crs:
        raise CRSError(found, summary=summary)
    if problems.geometry:
        raise GeometryError(found, summary=summary)
    raise SchemaError(found, summary=summary)


def row_label(frame: pd.DataFrame, position: object, key: tuple[str, ...]) -> str:
    """'line 7 (site_id=F84012)' for CSV rows, 'feature 3 (...)' for GeoJSON features."""
    unit = "line" if frame.index.name == "line" else "feature"
    label = f"{unit} {position}"
    ids = []
    for name in key:
        if name in frame.columns:
            value = frame.at[position, name]
            if isinstance(value, str) and value:
                ids.append(f"{name}={value[:80]!s}")
    if ids:
        label += " (" + ", ".join(ids) + ")"
    return label
