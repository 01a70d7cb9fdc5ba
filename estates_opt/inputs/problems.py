"""Gathering input problems, labelling their rows, and raising them all at once.

Every rule adds a :class:`~estates_opt.errors.Problem` to a collector instead
of raising, so one run reports every fault in every file (OSMnx's
``_report_validation`` idea). :func:`raise_if_problems` raises once, with the
most specific error class that covers them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from estates_opt.errors import CRSError, GeometryError, InputDataError, Problem, SchemaError


@dataclass
class ProblemCollector:
    """Gathers problems by category so the raised error can be specific."""

    schema: list[Problem] = field(default_factory=list)
    crs: list[Problem] = field(default_factory=list)
    geometry: list[Problem] = field(default_factory=list)

    def all(self) -> list[Problem]:
        """Every problem gathered, schema first, then CRS, then geometry."""
        return [*self.schema, *self.crs, *self.geometry]

    def __bool__(self) -> bool:
        return bool(self.schema or self.crs or self.geometry)


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
