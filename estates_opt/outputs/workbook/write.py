"""The workbook put together: every sheet of a plan in order, written atomically.

The same plan gives the same bytes: fixed document dates and zip entry times.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from estates_opt.outputs.files import atomic_write_bytes
from estates_opt.outputs.workbook.sheets import table_sheet, two_column_sheet
from estates_opt.outputs.workbook.summary import settings_rows, summary_rows
from estates_opt.outputs.xlsx import Book
from estates_opt.schema import label_of

log = logging.getLogger(__name__)


#: Header text and fill colours (RRGGBB): white on NHS blue.
HEADER_FONT_COLOUR, HEADER_FILL_COLOUR = "FFFFFF", "005EB8"
#: The date written into every workbook (document properties and zip entries).
FIXED_DATE = datetime.datetime(2000, 1, 1)


def _with_pcn_names(moves: pd.DataFrame, pcns: pd.DataFrame) -> pd.DataFrame:
    """Moves with the PCN's name beside its code (people read names; filters use codes)."""
    if "pcn_name" in moves.columns or "pcn_code" not in moves.columns:
        return moves
    if "pcn_name" not in pcns.columns or "pcn_code" not in pcns.columns:
        return moves
    names = dict(zip(pcns["pcn_code"].astype(str), pcns["pcn_name"], strict=False))
    at = list(moves.columns).index("pcn_code") + 1
    out = moves.copy()
    out.insert(at, "pcn_name", out["pcn_code"].astype(str).map(names))
    return out


def _one_source_a_line(moves: pd.DataFrame) -> pd.DataFrame:
    """Moves with each source of a clinic on a line of its own in "From sites".

    The CSV joins them with "; "; printed, a list of 16 practices and their hours
    reads as a column, one practice (band, hours) a line.
    """
    if "from_sites" not in moves.columns or moves["from_sites"].dtype.kind in "fiub":
        return moves
    out = moves.copy()
    sources = out["from_sites"]
    out["from_sites"] = sources.where(
        sources.isna(), sources.astype(str).str.replace(r"\); ", ")\n", regex=True)
    )
    return out


#: Columns of ids people read in words in the workbook (the CSV files keep the ids).
WORDED_COLUMNS = ("kind", "band", "from_band", "to_band", "category")


def _in_words(frame: pd.DataFrame) -> pd.DataFrame:
    """Site kinds, bands and categories in words ("GP practice", "Saturday")."""
    worded = [c for c in WORDED_COLUMNS if c in frame]
    if not worded:
        return frame
    return frame.assign(**{c: frame[c].map(label_of, na_action="ignore") for c in worded})


def write_workbook(plan: Any, path: str | Path) -> Path:
    """Write the plan's workbook to ``path`` (atomically) and return the path."""
    path = Path(path)
    book = Book(created=FIXED_DATE, header_fill=HEADER_FILL_COLOUR, header_font=HEADER_FONT_COLOUR)
    used_names: set[str] = set()
    two_column_sheet(book, "Summary", ("Measure", "Value"), summary_rows(plan), (48, 60), None)
    moves = _one_source_a_line(_with_pcn_names(plan.moves, plan.pcn_summary))
    table_sheet(book, "Moves", _in_words(moves), used_names)
    if len(plan.phases):
        table_sheet(book, "Phases", plan.phases, used_names)
    table_sheet(book, "Utilisation", _in_words(plan.utilisation), used_names)
    table_sheet(book, "PCNs", plan.pcn_summary, used_names)
    table_sheet(book, "Bottlenecks", _in_words(plan.bottlenecks), used_names)
    two_column_sheet(
        book, "Assumptions", ("Setting", "Value"), settings_rows(plan), (40, 80), used_names
    )
    footer = f"estates-opt plan: {plan.scenario.name}".replace("&", "&&")[:80]
    for sheet in book.sheets:
        sheet.footer = footer
    # The same plan gives the same bytes: fixed document dates and zip entry times.
    atomic_write_bytes(path, book.to_bytes())
    log.info("wrote workbook %s", path)
    return path
