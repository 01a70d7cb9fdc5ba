"""The planner's workbook: a plan as ``plan.xlsx`` for checking and taking into a spreadsheet.

Sheets: Summary, Moves, Utilisation, PCNs, Bottlenecks, Assumptions (and
any later sheet, such as Phases). Each table sheet has readable headers, set
column widths, number formats (percent for utilisation, ``0.0`` for hours,
pounds for prices), a frozen header row and is an Excel Table (filters,
banded rows); utilisation is coloured (over capacity red, above 85% amber,
under 40% blue). Every sheet prints landscape at a readable scale (at
least :data:`MIN_PRINT_SCALE` of 11 pt): on A4 fitted to the page width where
that allows it, else on A3; wide sheets put the columns a person reads first
and print only those (:data:`READING_ORDER`), headers wrap onto several lines
over narrow number columns, the header row repeats on each page and a footer
names the sheet and page. Text that comes from input data can never become a formula:
a string starting with ``= + - @`` (or a tab or carriage return) is stored as
text with Excel's quote prefix. The file is written atomically.

The file is written by :mod:`estates_opt.outputs.xlsx`, which turns whole
columns into SpreadsheetML at once (no object per cell), so every row of every
table is in the workbook even at England scale (about a million cells in 2 s).
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.outputs.files import atomic_write_bytes
from estates_opt.outputs.xlsx import (
    PAPER_A3,
    PAPER_A4,
    Book,
    CellStyle,
    Sheet,
    column_letter,
    frame_values,
)
from estates_opt.text import FORMULA_PREFIXES, escape_control, is_formula

__all__ = ["FORMULA_PREFIXES", "safe_text", "write_workbook"]

log = logging.getLogger(__name__)


PERCENT, HOURS, KM, POUNDS, COUNT = "0.0%", "0.0", "0.00", '"£"#,##0.00', "#,##0"
#: Header text and fill colours (RRGGBB): white on NHS blue.
HEADER_FONT_COLOUR, HEADER_FILL_COLOUR = "FFFFFF", "005EB8"
#: The date written into every workbook (document properties and zip entries).
FIXED_DATE = datetime.datetime(2000, 1, 1)
#: Widest a table column gets (characters); longer names wrap. The "Why" text wraps at 32.
MAX_WIDTH, WHY_WIDTH = 30, 32
#: Narrowest a table column gets (characters); headers wrap between words and after / or -.
MIN_WIDTH = 8
#: Printing: the smallest scale a sheet is printed at (x 11 pt: at least 7.7 pt text), the
#: points one unit of column width takes when printed at 100% (LibreOffice and Excel, with a
#: little to spare) and the printable width of A4 and A3 landscape within the margins.
MIN_PRINT_SCALE = 0.7
POINTS_PER_WIDTH = 7.1
PRINTABLE_POINTS = {PAPER_A4: 841.89 - 0.8 * 72, PAPER_A3: 1190.55 - 0.8 * 72}
#: The columns a person reads, in the order they read them: these come first in a sheet.
#: In the sheets of :data:`PRINT_READING_ONLY` only these are printed (the print area);
#: the others (codes, ids, slot lists, a constant note) follow them, for filtering.
READING_ORDER = {
    "Moves": [
        "service",
        "pcn_name",
        "from_site",
        "from_band",
        "n_from_sites",
        "to_site",
        "to_band",
        "sessions_per_week",
        "hours_per_week",
        "from_travel_km",
        "to_travel_km",
        "phase",
        "why",
    ],
    "PCNs": [
        "pcn_name",
        "borough",
        "registered_patients",
        "demand_hours",
        "met_hours",
        "unmet_hours",
        "travel_before_km",
        "travel_after_km",
        "hours_moved",
        "enhanced_access_contract_met",
        "enhanced_access_evening_hours",
        "enhanced_access_saturday_hours",
        "enhanced_access_total_shortfall_hours",
    ],
    "Utilisation": ["name", "kind", "room_type", "band"],
    "Bottlenecks": [
        "name",
        "kind",
        "room_type",
        "band",
        "capacity_hours",
        "cap",
        "after_hours",
        "after_utilisation",
        "shadow_price_gbp_per_room_hour",
        "fixed_hours",
        "room_hours_before_saving",
    ],
}
PRINT_READING_ONLY = frozenset({"Moves", "PCNs", "Bottlenecks"})
#: Rows a worksheet holds (Excel's limit, header included).
EXCEL_MAX_ROWS = 1_048_576
#: Height of one line of wrapped text (points).
LINE_HEIGHT = 14.5

#: Readable headers for the plan's column names (others are derived from the name).
LABELS = {
    "service_id": "Service ID",
    "pcn_code": "PCN code",
    "pcn_name": "PCN",
    "site_id": "Site ID",
    "from_site_id": "From site ID",
    "from_site": "From site",
    "from_band": "From band",
    "to_site_id": "To site ID",
    "to_site": "To site",
    "to_band": "To band",
    "hours_per_week": "Hours per week",
    "sessions_per_week": "Sessions per week",
    "from_travel_km": "Travel from (km)",
    "to_travel_km": "Travel to (km)",
    "why": "Why",
    "capacity_hours": "Capacity (room-hours per week)",
    "fixed_hours": "Fixed use (room-hours per week)",
    "before_hours": "Used before (room-hours per week)",
    "after_hours": "Used after (room-hours per week)",
    "before_utilisation": "Utilisation before",
    "after_utilisation": "Utilisation after",
    "cap": "Utilisation cap",
    "registered_patients": "Registered patients",
    "demand_hours": "Demand (hours per week)",
    "met_hours": "Met (hours per week)",
    "unmet_hours": "Unmet (hours per week)",
    "travel_before_km": "Travel before (km)",
    "travel_after_km": "Travel after (km)",
    "enhanced_access_demand_hours": "Enhanced access demand (hours per week)",
    "enhanced_access_met_hours": "Enhanced access met (hours per week)",
    "hours_moved": "Hours moved per week",
    "enhanced_access_evening_hours_before": "EA evening before (hours per week)",
    "enhanced_access_evening_hours": "EA evening after (hours per week)",
    "enhanced_access_saturday_hours_before": "EA Saturday before (hours per week)",
    "enhanced_access_saturday_hours": "EA Saturday after (hours per week)",
    "enhanced_access_required_hours": "EA contract total (hours per week)",
    "enhanced_access_evening_shortfall_hours": "EA evening shortfall (hours per week)",
    "enhanced_access_saturday_shortfall_hours": "EA Saturday shortfall (hours per week)",
    "enhanced_access_total_shortfall_hours": "EA total shortfall (hours per week)",
    "enhanced_access_contract_met": "EA contract met",
    "shadow_price_gbp_per_room_hour": "Saving from one more room-hour (£ per week)",
    "dual_gbp_per_movable_hour": "Dual of the capacity row (£ per movable hour per week)",
    "room_hours_before_saving": "Room-hours to add before a saving starts",
    "price_basis": "Prices are",
    "room_type": "Room type",
}


def number_format(column: str) -> str | None:
    """The Excel number format for a plan column, from its name and unit."""
    if column.endswith("utilisation") or column in (
        "cap",
        "over_cap_share_relieved",
        "plan_relief_share",
    ):
        return PERCENT
    if ("gbp" in column or "price" in column) and column != "price_basis":
        return POUNDS
    if column.endswith("_km"):
        return KM
    if "hours" in column or "sessions" in column:
        return HOURS
    if column in ("registered_patients", "population"):
        return COUNT
    return None


def summary_rows(plan: Any) -> list[tuple[str, Any, str | None]]:
    """(measure, value, number format) rows of the Summary sheet."""
    k = plan.kpis
    scenario = plan.scenario
    rows: list[tuple[str, Any, str | None]] = [
        ("Scenario", scenario.name, None),
        ("Description", scenario.description, None),
        ("Solver status", k["status"], None),
        ("Verified by the independent checker", YES_NO[bool(k.get("verified"))], None),
        ("Objective (£-equivalent per week)", k.get("objective"), POUNDS),
    ]
    for term, value in k.get("objective_terms", {}).items():
        rows.append((f"  of which {term} (£-equivalent per week)", value, POUNDS))
    rows.append(("MIP gap", k.get("gap"), "0.00%"))
    before, after = k["utilisation_before"]["weekday"], k["utilisation_after"]["weekday"]
    for kind in sorted(after):
        rows.append((f"Weekday utilisation before: {kind}", before.get(kind), PERCENT))
        rows.append((f"Weekday utilisation after: {kind}", after.get(kind), PERCENT))
        rows.append((f"Utilisation cap: {kind}", scenario.cap(kind), PERCENT))
    rows += [
        ("Hours moved per week", k["hours_moved"], HOURS),
        ("Relocations (lines of Moves)", k.get("relocations"), COUNT),
        (
            "Fewest relocations any plan needs (clinics that must move)",
            k.get("least_relocations"),
            COUNT,
        ),
        ("Least movement any plan needs (hours per week)", k.get("least_movement_hours"), HOURS),
        ("Hours moved / least movement", k.get("movement_ratio_to_least"), "0.00"),
        ("Travel weighted by (population or registered patients)", k.get("travel_weighting"), None),
        ("Buildings used before", k["buildings_used_before"], COUNT),
        ("Buildings used after", k["buildings_used_after"], COUNT),
        ("Demand (hours per week)", k["demand_hours_total"], HOURS),
        ("Unmet demand (hours per week)", k["unmet_hours_total"], HOURS),
    ]
    for category, hours in k["unmet_hours_by_category"].items():
        rows.append((f"  unmet {category} (hours per week)", hours, HOURS))
    rows.append(
        ("Enhanced access met in every PCN", YES_NO[bool(k["enhanced_access_all_met"])], None)
    )
    contract = k.get("enhanced_access_contract", {})
    if contract.get("enforced"):
        for band, label in (("evening", "evening"), ("saturday", "Saturday"), ("total", "total")):
            rows.append(
                (f"PCNs meeting the EA contract: {label}", contract["pcns_meeting"][band], COUNT)
            )
        for band, label in (("evening", "evening"), ("saturday", "Saturday")):
            rows.append(
                (f"EA before: {label} (hours/week)", contract["hours_by_band_before"][band], HOURS)
            )
            rows.append(
                (f"EA after: {label} (hours/week)", contract["hours_by_band_after"][band], HOURS)
            )
    gap = k.get("strategy_gap", {})
    for label, key in (("weekday", "weekday"), ("all bands", "all_bands")):
        frame = gap.get("community_utilisation", {}).get(key)
        if frame:
            rows.append(
                (
                    f"Community utilisation after, {label} (strategy target 100%)",
                    frame["after"],
                    PERCENT,
                )
            )
    for kind, bands in sorted(gap.get("free_room_hours_after", {}).items()):
        for band, hours in sorted(bands.items()):
            rows.append((f"Free room-hours left: {kind}, {band}", hours, HOURS))
    rows += [
        ("Mean travel before (km)", k.get("travel_km_before"), KM),
        ("Mean travel after (km)", k.get("travel_km_after"), KM),
        ("Sites opened in a band", ", ".join(k.get("sites_opened", [])) or "none", None),
        (
            "Model",
            f"{k['model']['variables']:,} variables, {k['model']['constraints']:,} rows",
            None,
        ),
    ]
    for note in k.get("diagnostics", []):
        rows.append(("Note", note, None))
    return rows


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        out: list[tuple[str, Any]] = []
        for key, value in data.items():
            out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        out = []
        for i, value in enumerate(data):
            out += _flatten(value, f"{prefix}[{i}]")
        return out
    return [(prefix, data)]


#: Utilisation colours: over capacity, above the usual 85% practice ceiling, under 40% (the
#: community estate's average use): fills a planner can scan, also when printed.
UTILISATION_RULES = (
    ("greaterThan", ["1.0005"], "F4A6A6"),
    ("between", ["0.85", "1.0005"], "FFE08A"),
    ("lessThan", ["0.4"], "CFE3F6"),
)


def _text_width(text: str, *, bold: bool = False) -> float:
    """About how many column-width units (digit widths) ``text`` takes when printed.

    Capitals are wider than digits and lower case narrower (Calibri and its metric
    twin Carlito), bold a little wider; erring wide, so a row is never too short
    for its wrapped text.
    """
    upper, lower = (1.3, 1.05) if bold else (1.2, 0.9)
    return sum(upper if ch.isupper() else lower if ch.islower() else 1.0 for ch in text)


def _lines(text: str, width: float) -> int:
    """Lines a text takes wrapped at ``width`` characters (words kept whole)."""
    count, used = 1.0, 0.0
    for word in text.split():
        need = _text_width(word) + (0.5 if used else 0)
        if used and used + need > width - 1:
            count, used = count + 1, _text_width(word)
        else:
            used += need
    return int(count)


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


def safe_text(cell: Any) -> None:
    """Make a spreadsheet cell object that looks like a formula plain text (quote prefix).

    For callers that edit a written workbook with openpyxl; the writer here does
    the same for every text cell it writes.
    """
    if is_formula(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True


#: How a true/false value reads in the workbook: words a person reads (a boolean cell
#: shows TRUE/FALSE), kept as text so a filter lists them as they are shown.
#: The CSV files keep true/false for programs.
YES_NO = {True: "Yes", False: "No"}


def _plain(value: Any) -> Any:
    """A value a cell can hold: Python scalars, no NaN, JSON for containers, Yes/No for
    true/false."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return YES_NO[value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple | dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        # XML cannot hold most control characters: write them out as \xNN.
        return escape_control(value, keep="\t\n\r")
    return value


def _label(column: str) -> str:
    return LABELS.get(column, column.replace("_", " ").capitalize())


def _shown(value: Any, fmt: str | None) -> str:
    """About the text a cell shows for ``value`` in number format ``fmt`` (for widths)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)[:60]
    if fmt == PERCENT:
        return f"{value:.1%}"
    if fmt == POUNDS:
        return f"£{value:,.2f}"
    if fmt == COUNT:
        return f"{value:,.0f}"
    if fmt in (HOURS, KM):
        return f"{value:.{len(fmt) - 2}f}"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _header_pieces(label: str) -> list[str]:
    """The pieces a header may wrap between: words, also after a hyphen."""
    return [p for p in re.split(r"\s+|(?<=-)", label) if p]


def _width(label: str, texts: list[str]) -> float:
    """A column's width: its longest value (cut at 30) or header piece, with a margin.

    Headers wrap, so a long header over short numbers makes a narrow column of
    several header lines rather than a wide one.
    """
    longest = max((min(len(t), 30) for t in texts), default=0)
    piece = max((len(p) for p in _header_pieces(label)), default=0) + 1  # bold is wider
    return float(min(max(MIN_WIDTH, longest + 2, piece + 2), 60))


def _header_lines(label: str, width: float) -> int:
    """Lines a wrapped bold header takes in a column ``width`` characters wide.

    Words wrap at spaces and after a hyphen (no space is needed there); a word
    longer than the line is split where it does not fit, as a spreadsheet does.
    """
    count, used, room = 1, 0.0, max(width - 1, 1.0)
    for word in label.split():
        for k, piece in enumerate(re.split(r"(?<=-)", word)):
            need = _text_width(piece, bold=True) + (0.5 if used and k == 0 else 0)
            if used and used + need > room:
                count, used = count + 1, 0.0
                need = _text_width(piece, bold=True)
            while need > room:
                count, need = count + 1, need - room
            used += need
    return count


def _reading_order(title: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the columns a person reads (:data:`READING_ORDER`) first."""
    first = [c for c in READING_ORDER.get(title, []) if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def print_setup(sheet: Sheet, columns: int, printed: int = 0) -> None:
    """Paper, scale and print area, so that every printed column reads at
    :data:`MIN_PRINT_SCALE` or more.

    The first ``printed`` of the sheet's ``columns`` are printed (0: all of them),
    on A4 landscape fitted to the width where that allows the scale, else on A3. A
    sheet too wide even for A3 prints at the minimum scale, its columns split across
    pages with the header row on each.
    """
    printed = printed if 0 < printed < columns else columns
    if printed < columns:
        sheet.print_columns = printed
    need = sum(sheet.widths.get(j, 8.43) for j in range(1, printed + 1)) * POINTS_PER_WIDTH
    for paper in (PAPER_A4, PAPER_A3):
        if PRINTABLE_POINTS[paper] >= need * MIN_PRINT_SCALE:
            sheet.paper = paper
            return
    sheet.paper = PAPER_A3
    sheet.fit_width = False
    sheet.scale = round(MIN_PRINT_SCALE * 100)


def _header(book: Book, sheet: Sheet, labels: list[str], widths: Sequence[float] = ()) -> None:
    style = CellStyle(header=True, wrap=True, top=True)
    lines = max((_header_lines(t, w) for t, w in zip(labels, widths, strict=False)), default=1)
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
    if len(frame) >= EXCEL_MAX_ROWS:  # the CSV beside the workbook keeps every row
        log.warning(
            "%s: %d rows, more than a spreadsheet holds; the sheet has the first %d "
            "(the CSV file has them all)",
            title,
            len(frame),
            EXCEL_MAX_ROWS - 1,
        )
        frame = frame.iloc[: EXCEL_MAX_ROWS - 1]
    frame = _reading_order(title, frame)
    columns = [str(c) for c in frame.columns]
    labels = [_label(c) for c in columns]
    n = len(frame)
    samples = frame.head(200)
    wrapped: dict[int, float] = {}
    for j, (column, label) in enumerate(zip(frame.columns, labels, strict=True), start=1):
        fmt = number_format(columns[j - 1])
        texts = [_shown(_plain(v), fmt) for v in samples[column]]
        width = _width(label, texts)
        wide = label == "Why"
        limit = WHY_WIDTH if wide else MAX_WIDTH
        if wide or column == "why":
            width = WHY_WIDTH
        if len(columns) != 2 and (width > limit or wide):
            width = limit
            wrapped[j] = limit
        sheet.widths[j] = width
    reading = [c for c in READING_ORDER.get(title, []) if c in columns]
    print_setup(sheet, len(columns), len(reading) if title in PRINT_READING_ONLY else 0)
    if sheet.print_columns:  # a column that is not printed does not wrap (or make rows tall)
        wrapped = {j: w for j, w in wrapped.items() if j <= sheet.print_columns}
    _header(book, sheet, labels, [sheet.widths[j] for j in range(1, len(labels) + 1)])
    two_columns = len(columns) == 2
    body_cells: list[list[str]] = []
    lines = np.ones(n, dtype=np.int64)
    for j, column in enumerate(frame.columns, start=1):
        style = CellStyle(
            number_format(columns[j - 1]),
            wrap=j in wrapped or two_columns,
            top=bool(wrapped) or two_columns,
            left=two_columns,
        )
        letter = column_letter(j)
        series = frame[column]
        numbers = frame_values(series)
        if numbers is not None:
            body_cells.append(book.number_cells(letter, 2, numbers, style))
            continue
        codes, distinct = _factorize(series)
        values = [_plain(v) for v in distinct]
        if j in wrapped and n:
            width = wrapped[j]
            counts = np.array([_lines(v, width) if isinstance(v, str) else 1 for v in values] + [1])
            lines = np.maximum(lines, counts[codes])  # code -1 (missing) takes the last, 1
        body_cells.append(
            book.coded_cells(letter, 2, codes.tolist(), book.cell_bodies(values, style))
        )
    for i in np.flatnonzero(lines > 1).tolist():
        sheet.heights[i + 2] = LINE_HEIGHT * int(lines[i])
    if n:
        book.set_rows(sheet, body_cells, 2)
    if columns:
        sheet.filter_ref = f"A1:{column_letter(len(columns))}{max(n + 1, 1)}"
        if n and len(set(labels)) == len(labels) and all(labels):
            sheet.table_name = _table_name(title, used_names)
            sheet.table_columns = labels
    for j, label in enumerate(labels, start=1):
        if n and label.startswith("Utilisation") and label != "Utilisation cap":
            letter = column_letter(j)
            rules = [
                (operator, formula, book.fill(colour))
                for operator, formula, colour in UTILISATION_RULES
            ]
            sheet.conditional.append((f"{letter}2:{letter}{n + 1}", rules))
    return sheet


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


def _two_column_sheet(
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
    keys = book.text_cells("A", 2, [_plain(r[0]) for r in rows], style)
    values = []
    for i, (_, value, fmt) in enumerate(rows, start=2):
        cell_style = CellStyle(fmt, wrap=True, top=True, left=True)
        values.append(book.text_cells("B", i, [_plain(value)], cell_style)[0])
    if rows:
        book.set_rows(sheet, [keys, values], 2)
    sheet.widths = {1: widths[0], 2: widths[1]}
    print_setup(sheet, 2)
    if used_names is not None and rows:
        sheet.filter_ref = f"A1:B{len(rows) + 1}"
        sheet.table_name = _table_name(title, used_names)
        sheet.table_columns = list(labels)
    return sheet


def write_workbook(plan: Any, path: str | Path) -> Path:
    """Write the plan's workbook to ``path`` (atomically) and return the path."""
    path = Path(path)
    book = Book(created=FIXED_DATE, header_fill=HEADER_FILL_COLOUR, header_font=HEADER_FONT_COLOUR)
    used_names: set[str] = set()
    _two_column_sheet(book, "Summary", ("Measure", "Value"), summary_rows(plan), (48, 60), None)
    table_sheet(book, "Moves", _with_pcn_names(plan.moves, plan.pcn_summary), used_names)
    if len(plan.phases):
        table_sheet(book, "Phases", plan.phases, used_names)
    table_sheet(book, "Utilisation", plan.utilisation, used_names)
    table_sheet(book, "PCNs", plan.pcn_summary, used_names)
    table_sheet(book, "Bottlenecks", plan.bottlenecks, used_names)
    settings = _flatten(plan.scenario.model_dump(mode="json"))
    settings += [
        ("data.source", plan.dataset.source),
        ("data.attribution", plan.dataset.attribution or "(none given with the dataset)"),
    ]
    _two_column_sheet(
        book,
        "Assumptions",
        ("Setting", "Value"),
        [(key, value, None) for key, value in settings],
        (40, 80),
        used_names,
    )
    footer = f"estates-opt plan: {plan.scenario.name}".replace("&", "&&")[:80]
    for sheet in book.sheets:
        sheet.footer = footer
    # The same plan gives the same bytes: fixed document dates and zip entry times.
    atomic_write_bytes(path, book.to_bytes())
    log.info("wrote workbook %s", path)
    return path
