"""The workbook's sheets: a table sheet for each plan table and the label | value sheets.

A table sheet has readable headers, set widths, number formats, wrapped long text with
rows tall enough for it, a frozen header row, an Excel Table and utilisation colours.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.outputs.workbook.formats import (
    column_label,
    number_format,
    plain_value,
    shown_text,
)
from estates_opt.outputs.workbook.layout import (
    CENTRED,
    LINE_HEIGHT,
    MAX_WIDTH,
    PRINT_READING_ONLY,
    READING_ORDER,
    SET_WIDTHS,
    WHY_WIDTH,
    column_width,
    header_lines,
    print_setup,
    reading_order,
    wrapped_lines,
)
from estates_opt.outputs.xlsx import Book, CellStyle, Sheet, column_letter, frame_values

log = logging.getLogger(__name__)


#: Rows a worksheet holds (Excel's limit, header included).
EXCEL_MAX_ROWS = 1_048_576


#: Utilisation colours: over capacity, above the usual 85% practice ceiling, under 40% (the
#: community estate's average use): fills a planner can scan, also when printed.
UTILISATION_RULES = (
    ("greaterThan", ["1.0005"], "F4A6A6"),
    ("between", ["0.85", "1.0005"], "FFE08A"),
    ("lessThan", ["0.4"], "CFE3F6"),
)


def _header(book: Book, sheet: Sheet, labels: list[str], widths: Sequence[float] = ()) -> None:
    style = CellStyle(header=True, wrap=True, top=True)
    lines = max((header_lines(t, w) for t, w in zip(labels, widths, strict=False)), default=1)
    if lines > 1:  # LibreOffice does not grow a row to fit wrapped text: set its height
        sheet.heights[1] = LINE_HEIGHT * lines
    cells = [
        book.text_cells(column_letter(j), 1, [label], style)
        for j, label in enumerate(labels, start=1)
    ]
    book.set_rows(sheet, cells, 1)


def _table_name(title: str, used: set[str]) -> str:
    base = "".join(ch for ch in title if ch.isalnum()) or "Table"
    name = base if base[0].isalpha() else f"T{base}"
    n = 1
    while name.lower() in used:
        n += 1
        name = f"{base}{n}"
    used.add(name.lower())
    return name


def table_sheet(book: Book, title: str, frame: pd.DataFrame, used_names: set[str]) -> Sheet:
    """Add a sheet holding ``frame``: headers, formats, widths, frozen header, an Excel Table.

    Columns wider than :data:`MAX_WIDTH` (and the "Why" text, at :data:`WHY_WIDTH`)
    wrap, and rows are made tall enough for their wrapped text (LibreOffice does
    not grow rows of a file it opens, so wrapped lines would print over the next
    row); every cell of a row then starts at the top.
    """
    sheet = book.add_sheet(title)
    frame = reading_order(title, _rows_a_sheet_holds(title, frame))
    columns = [str(c) for c in frame.columns]
    labels = [column_label(c) for c in columns]
    wrapped = _set_widths(sheet, frame, labels, SET_WIDTHS.get(title, {}))
    reading = [c for c in READING_ORDER.get(title, []) if c in columns]
    print_setup(sheet, len(columns), len(reading) if title in PRINT_READING_ONLY else 0)
    if sheet.print_columns:  # a column that is not printed does not wrap (or make rows tall)
        wrapped = {j: w for j, w in wrapped.items() if j <= sheet.print_columns}
    _header(book, sheet, labels, [sheet.widths[j] for j in range(1, len(labels) + 1)])
    body_cells = _body_cells(book, sheet, frame, wrapped)
    if len(frame):
        book.set_rows(sheet, body_cells, 2)
    _make_table(book, sheet, labels, len(frame), used_names)
    return sheet


def _rows_a_sheet_holds(title: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` cut to the rows a worksheet holds, with a warning when it is cut."""
    if len(frame) >= EXCEL_MAX_ROWS:  # the CSV beside the workbook keeps every row
        log.warning(
            "%s: %d rows, more than a spreadsheet holds; the sheet has the first %d "
            "(the CSV file has them all)",
            title,
            len(frame),
            EXCEL_MAX_ROWS - 1,
        )
        frame = frame.iloc[: EXCEL_MAX_ROWS - 1]
    return frame


def _set_widths(
    sheet: Sheet, frame: pd.DataFrame, labels: list[str], set_widths: dict[str, float]
) -> dict[int, float]:
    """Set each column's width from its header and first values; return the wrapped ones.

    A column of ``set_widths`` takes its width from there, and its text wraps at it.
    The result maps a wrapped column's number to the width its text wraps at.
    """
    columns = [str(c) for c in frame.columns]
    samples = frame.head(200)
    wrapped: dict[int, float] = {}
    for j, (column, label) in enumerate(zip(frame.columns, labels, strict=True), start=1):
        fmt = number_format(columns[j - 1])
        if columns[j - 1] in set_widths:
            width = sheet.widths[j] = set_widths[columns[j - 1]]
            if frame_values(frame[column]) is None:  # text: wraps at the set width
                wrapped[j] = width
            continue
        texts = [shown_text(plain_value(v), fmt) for v in samples[column]]
        width = column_width(label, texts)
        wide = label == "Why"
        limit = WHY_WIDTH if wide else MAX_WIDTH
        if wide or column == "why":
            width = WHY_WIDTH
        if len(columns) != 2 and (width > limit or wide):
            width = limit
            wrapped[j] = limit
        sheet.widths[j] = width
    return wrapped


def _body_cells(
    book: Book, sheet: Sheet, frame: pd.DataFrame, wrapped: dict[int, float]
) -> list[list[str]]:
    """Each column's cells from row 2; rows whose wrapped text takes lines are made taller."""
    columns = [str(c) for c in frame.columns]
    n = len(frame)
    two_columns = len(columns) == 2
    body_cells: list[list[str]] = []
    lines = np.ones(n, dtype=np.int64)
    for j, column in enumerate(frame.columns, start=1):
        series = frame[column]
        style = CellStyle(
            number_format(columns[j - 1]),
            wrap=j in wrapped or two_columns,
            top=bool(wrapped) or two_columns,
            left=two_columns,
            # Yes/No centred: left-aligned, it would touch the number to its left ("916.0Yes").
            center=not two_columns
            and (pd.api.types.is_bool_dtype(series.dtype) or columns[j - 1] in CENTRED),
        )
        letter = column_letter(j)
        numbers = frame_values(series)
        if numbers is not None:
            body_cells.append(book.number_cells(letter, 2, numbers, style))
            continue
        codes, distinct = _factorize(series)
        values = [plain_value(v) for v in distinct]
        if j in wrapped and n:
            width = wrapped[j]
            counts = np.array(
                [wrapped_lines(v, width) if isinstance(v, str) else 1 for v in values] + [1]
            )
            lines = np.maximum(lines, counts[codes])  # code -1 (missing) takes the last, 1
        body_cells.append(
            book.coded_cells(letter, 2, codes.tolist(), book.cell_bodies(values, style))
        )
    for i in np.flatnonzero(lines > 1).tolist():
        sheet.heights[i + 2] = LINE_HEIGHT * int(lines[i])
    return body_cells


def _make_table(book: Book, sheet: Sheet, labels: list[str], n: int, used_names: set[str]) -> None:
    """The sheet's filter or Excel Table, and utilisation colours on its utilisation columns."""
    if labels:
        sheet.filter_ref = f"A1:{column_letter(len(labels))}{max(n + 1, 1)}"
        if n and len(set(labels)) == len(labels) and all(labels):
            sheet.table_name = _table_name(sheet.title, used_names)
            sheet.table_columns = labels
    for j, label in enumerate(labels, start=1):
        if n and label.startswith("Utilisation") and label != "Utilisation cap":
            letter = column_letter(j)
            rules = [
                (operator, formula, book.fill(colour))
                for operator, formula, colour in UTILISATION_RULES
            ]
            sheet.conditional.append((f"{letter}2:{letter}{n + 1}", rules))


def _factorize(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """(code per row, distinct values): each distinct value is formatted once.

    Missing values get code -1; a column of unhashable values (lists) keeps one
    code per row.
    """
    try:
        codes, distinct = pd.factorize(series, use_na_sentinel=True)
    except TypeError:
        return np.arange(len(series)), series.tolist()
    return np.asarray(codes), list(distinct)


def two_column_sheet(
    book: Book,
    title: str,
    labels: tuple[str, str],
    rows: list[tuple[str, Any, str | None]],
    widths: tuple[float, float],
    used_names: set[str] | None,
) -> Sheet:
    """A label | value sheet: values left-aligned beside their label, long ones wrapped."""
    sheet = book.add_sheet(title)
    _header(book, sheet, list(labels))
    style = CellStyle(wrap=True, top=True, left=True)
    keys = book.text_cells("A", 2, [plain_value(r[0]) for r in rows], style)
    values = []
    for i, (_, value, fmt) in enumerate(rows, start=2):
        cell_style = CellStyle(fmt, wrap=True, top=True, left=True)
        values.append(book.text_cells("B", i, [plain_value(value)], cell_style)[0])
    for i, (label, value, _) in enumerate(rows, start=2):
        # LibreOffice does not grow a row for wrapped text: a two-line label would print
        # over the next row. Numbers do not wrap; text and labels do.
        lines = max(_lines(label, widths[0]), _lines(value, widths[1]))
        if lines > 1:
            sheet.heights[i] = LINE_HEIGHT * lines
    if rows:
        book.set_rows(sheet, [keys, values], 2)
    sheet.widths = {1: widths[0], 2: widths[1]}
    print_setup(sheet, 2)
    if used_names is not None and rows:
        sheet.filter_ref = f"A1:B{len(rows) + 1}"
        sheet.table_name = _table_name(title, used_names)
        sheet.table_columns = list(labels)
    return sheet


def _lines(value: Any, width: float) -> int:
    """Lines a label | value cell's text takes wrapped at ``width`` (a number: one)."""
    value = plain_value(value)
    return wrapped_lines(value, width) if isinstance(value, str) else 1
