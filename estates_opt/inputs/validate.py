"""Check raw input tables against the schema and against each other (one import for all).

The checks live by job: :mod:`~estates_opt.inputs.problems` (collecting and raising),
:mod:`~estates_opt.inputs.cells` (each file's cells and ids),
:mod:`~estates_opt.inputs.geometry_checks` (CRS and shapes) and
:mod:`~estates_opt.inputs.cross_file` (rules that span files). This module names them
together for the reader and for callers that check a table by hand.
"""

from __future__ import annotations

from estates_opt.inputs.cells import FALSE_WORDS, MAX_WHOLE, TRUE_WORDS, coerce_columns
from estates_opt.inputs.cross_file import CROSS_FILE_RULES, check_cross_file, check_references
from estates_opt.inputs.geometry_checks import GB_BOUNDS, check_geometry
from estates_opt.inputs.problems import ProblemCollector, raise_if_problems, row_label

__all__ = [
    "CROSS_FILE_RULES",
    "FALSE_WORDS",
    "GB_BOUNDS",
    "MAX_WHOLE",
    "TRUE_WORDS",
    "ProblemCollector",
    "check_cross_file",
    "check_geometry",
    "check_references",
    "coerce_columns",
    "raise_if_problems",
    "row_label",
]
