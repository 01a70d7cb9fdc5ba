"""The planner's workbook: a plan as ``plan.xlsx`` for checking and taking into a spreadsheet.

Sheets: Summary, Moves, Utilisation, PCNs, Bottlenecks, Assumptions (and
any later sheet, such as Phases). Each table sheet has readable headers, set
column widths, number formats (percent for utilisation, ``0.0`` for hours,
pounds for prices), a frozen header row and is an Excel Table (filters,
banded rows); utilisation is coloured (over capacity red, above 85% amber,
under 40% blue). Every sheet prints on A4 landscape, fitted to the page
width, with the header row repeated on each page and a footer naming the
sheet and page. Text that comes from input data can never become a formula:
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estates_opt.outputs.files import atomic_write_bytes
from estates_opt.outputs.xlsx import Book, CellStyle, Sheet, column_letter, frame_values
from estates_opt.text import FORMULA_PREFIXES, escape_control, is_formula

__all__ = ["FORMULA_PREFIXES", "safe_text", "write_workbook"]

log = logging.getLogger(__name__)


PERCENT, HOURS, KM, POUNDS, COUNT = "0.0%", "0.0", "0.00", '"£"#,##0.00', "#,##0"
#: Header text and fill colours (RRGGBB): white on NHS blue.
HEADER_FONT_COLOUR, HEADER_FILL_COLOUR = "FFFFFF", "005EB8"
#: The date written into every workbook (document properties and zip entries).
FIXED_DATE = datetime.datetime(2000, 1, 1)
#: Widest a table column gets (characters); longer names wrap. The "Why" text wraps at 60.
MAX_WIDTH, WHY_WIDTH = 30, 60
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
    "capacity_hours": "Capacity (room-hours/week)",
    "fixed_hours": "Fixed use (room-hours/week)",
    "before_hours": "Used before (room-hours/week)",
    "after_hours": "Used after (room-hours/week)",
    "before_utilisation": "Utilisation before",
    "after_utilisation": "Utilisation after",
    "cap": "Utilisation cap",
    "registered_patients": "Registered patients",
    "demand_hours": "Demand (hours/week)",
    "met_hours": "Met (hours/week)",
    "unmet_hours": "Unmet (hours/week)",
    "travel_before_km": "Travel before (km)",
    "travel_after_km": "Travel after (km)",
    "enhanced_access_demand_hours": "Enhanced access demand (hours/week)",
    "enhanced_access_met_hours": "Enhanced access met (hours/week)",
    "hours_moved": "Hours moved per week",
    "enhanced_access_evening_hours_before": "EA evening before (hours/week)",
    "enhanced_access_evening_hours": "EA evening after (hours/week)",
    "enhanced_access_saturday_hours_before": "EA Saturday before (hours/week)",
    "enhanced_access_saturday_hours": "EA Saturday after (hours/week)",
    "enhanced_access_required_hours": "EA contract total (hours/week)",
    "enhanced_access_evening_shortfall_hours": "EA evening shortfall (hours/week)",
    "enhanced_access_saturday_shortfall_hours": "EA Saturday shortfall (hours/week)",
    "enhanced_access_total_shortfall_hours": "EA total shortfall (hours/week)",
    "enhanced_access_contract_met": "EA contract met",
    "shadow_price_gbp_per_room_hour": "Saving from one more room-hour (£/week)",
    "dual_gbp_per_movable_hour": "Dual of the capacity row (£ per movable hour/week)",
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
        ("Verified by the independent checker", "yes" if k.get("verified") else "no", None),
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
        ("Enhanced access met in every PCN", "yes" if k["enhanced_access_all_met"] else "no", None)
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


def _lines(text: str, width: float) -> int:
    """Lines a text takes wrapped at ``width`` characters (words kept whole)."""
    count, used = 1, 0
    for word in text.split():
        need = len(word) + (1 if used else 0)
        if used and used + need > width - 1:
            count, used = count + 1, len(word)
        else:
            used += need
    return count


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


def _plain(value: Any) -> Any:
    """A value a cell can hold: Python scalars, no NaN, JSON for containers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
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


def _width(texts: list[str]) -> float:
    """A column's width from its header and first values (texts cut at 30 characters)."""
    longest = max((min(len(t), 30) for t in texts), default=8)
    return min(max(10, longest + 2), 60)


def _header(book: Book, sheet: Sheet, labels: list[str]) -> None:
    style = CellStyle(header=True, wrap=True, top=True)
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
    columns = [str(c) for c in frame.columns]
    labels = [_label(c) for c in columns]
    _header(book, sheet, labels)
    n = len(frame)
    samples = frame.head(200)
    wrapped: dict[int, float] = {}
    for j, (column, label) in enumerate(zip(frame.columns, labels, strict=True), start=1):
        texts = [label] + [
            str(p)[:60] if (p := _plain(v)) is not None else "" for v in samples[column]
        ]
        width = _width(texts)
        wide = label == "Why"
        limit = WHY_WIDTH if wide else MAX_WIDTH
        if wide or column == "why":
            width = WHY_WIDTH
        if len(columns) != 2 and (width > limit or wide):
            width = limit
            wrapped[j] = limit
        sheet.widths[j] = width
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
        (40, 100),
        used_names,
    )
    footer = f"estates-opt plan: {plan.scenario.name}".replace("&", "&&")[:80]
    for sheet in book.sheets:
        sheet.footer = footer
    # The same plan gives the same bytes: fixed document dates and zip entry times.
    atomic_write_bytes(path, book.to_bytes())
    log.info("wrote workbook %s", path)
    return path
