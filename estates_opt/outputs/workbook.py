"""The planner's workbook: a plan as ``plan.xlsx`` for checking and taking into a spreadsheet.

Sheets: Summary, Moves, Utilisation, PCNs, Bottlenecks, Assumptions (and
any later sheet, such as Phases). Each table sheet has readable headers, set
column widths, number formats (percent for utilisation, ``0.0`` for hours,
pounds for prices), a frozen header row and is an Excel Table (filters,
banded rows); utilisation is coloured (over capacity red, above 85% amber,
under 40% blue). Every sheet prints on A4 landscape, fitted to the page
width, with the header row repeated on each page and a footer naming the
sheet and page (see :func:`prepare_for_print`). Text that comes from input data can never
become a formula: a string starting with ``= + - @`` (or a tab or carriage
return) is stored as text with Excel's quote prefix. The file is written
atomically.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

from estates_opt.outputs.files import atomic_write_bytes
from estates_opt.text import FORMULA_PREFIXES, escape_control, is_formula

__all__ = ["FORMULA_PREFIXES", "safe_text", "write_workbook"]

log = logging.getLogger(__name__)


PERCENT, HOURS, KM, POUNDS, COUNT = "0.0%", "0.0", "0.00", '"£"#,##0.00', "#,##0"
HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="005EB8")

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
    if column.endswith("utilisation") or column == "cap":
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


def safe_text(cell: Any) -> None:
    """Make a string cell that looks like a formula plain text (data type ``s``, quote prefix)."""
    if is_formula(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True


def _plain(value: Any) -> Any:
    """A value openpyxl can store: Python scalars, no NaN, JSON for containers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list | tuple | dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        # openpyxl refuses control characters (IllegalCharacterError): write them out as \xNN.
        return escape_control(value, keep="\t\n\r")
    return value


def _put(ws: Worksheet, row: int, column: int, value: Any, fmt: str | None = None) -> None:
    cell = ws.cell(row=row, column=column, value=_plain(value))
    safe_text(cell)
    if fmt and isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
        cell.number_format = fmt


def _header(ws: Worksheet, labels: list[str]) -> None:
    for j, label in enumerate(labels, start=1):
        cell = ws.cell(row=1, column=j, value=label)
        safe_text(cell)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"


def _widths(ws: Worksheet, texts: list[list[str]]) -> None:
    for j, column in enumerate(texts, start=1):
        longest = max((len(t) for t in column), default=8)
        ws.column_dimensions[get_column_letter(j)].width = min(max(10, longest + 2), 60)


def _label(column: str) -> str:
    return LABELS.get(column, column.replace("_", " ").capitalize())


def table_sheet(wb: Workbook, title: str, frame: pd.DataFrame) -> Worksheet:
    """Add a sheet holding ``frame`` with headers, formats, widths, frozen header, filter."""
    ws = wb.create_sheet(title)
    columns = [str(c) for c in frame.columns]
    _header(ws, [_label(c) for c in columns])
    formats = [number_format(c) for c in columns]
    for i, values in enumerate(frame.itertuples(index=False, name=None), start=2):
        for j, value in enumerate(values, start=1):
            _put(ws, i, j, value, formats[j - 1])
    samples = frame.head(200)
    texts = [
        [_label(c)] + [str(_plain(v))[:60] if _plain(v) is not None else "" for v in samples[c]]
        for c in frame.columns
    ]
    _widths(ws, [[t if len(t) < 30 else t[:30] for t in col] for col in texts])
    if "why" in columns:
        ws.column_dimensions[get_column_letter(columns.index("why") + 1)].width = 60
    if columns:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(len(frame) + 1, 1)}"
    return ws


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


def prepare_for_print(wb: Workbook, *, title: str = "") -> None:
    """Make every sheet print and filter well (call once the sheets are filled).

    - A4 landscape, fitted to one page wide (as many pages tall as needed), narrow
      margins, the header row repeated on every page, a footer with sheet and page.
    - Table sheets (those with a filter row) become Excel Tables: filter buttons,
      banded rows, a name (``Moves``...) formulas and Power Query can refer to.
    - Utilisation columns get conditional formatting.
    - Two-column sheets (Summary, Assumptions) wrap their value column, so a label
      and its value always print side by side on one page.
    """
    used_names: set[str] = set()
    for ws in wb.worksheets:
        ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.page_margins.left = ws.page_margins.right = 0.4
        ws.page_margins.top, ws.page_margins.bottom = 0.5, 0.7
        ws.page_margins.header, ws.page_margins.footer = 0.25, 0.3
        ws.print_title_rows = "1:1"
        ws.print_options.horizontalCentered = False
        ws.oddFooter.left.text = title.replace("&", "&&")[:80]
        ws.oddFooter.center.text = "&A"
        ws.oddFooter.right.text = "page &P of &N"
        if ws.max_column == 2:
            _two_columns(ws)
        else:
            _print_widths(ws)
        _colour_utilisation(ws)
        _as_table(ws, used_names)


def _two_columns(ws: Worksheet) -> None:
    """Label | value sheets: values left-aligned beside their label, long ones wrapped."""
    for row in ws.iter_rows(min_row=2, min_col=1, max_col=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top", horizontal="left")


#: Widest a table column gets (characters); longer names wrap. The "Why" text wraps at 48.
MAX_WIDTH, WHY_WIDTH = 30, 60


def _print_widths(ws: Worksheet) -> None:
    """Columns narrow enough that a table prints legibly one page wide; long text wraps.

    Row heights are set from the wrapped text (LibreOffice does not grow rows of a
    file it opens, so wrapped lines would print over the next row).
    """
    wrapped: list[tuple[int, float]] = []
    for cell in ws[1]:
        dim = ws.column_dimensions[get_column_letter(cell.column)]
        wide = str(cell.value or "") == "Why"
        limit = WHY_WIDTH if wide else MAX_WIDTH
        if (dim.width or 0) > limit or wide:
            dim.width = limit
            wrapped.append((cell.column, limit))
    if not wrapped:
        return
    wrap = {column for column, _ in wrapped}
    top, top_wrapped = Alignment(vertical="top"), Alignment(wrap_text=True, vertical="top")
    for r in range(2, ws.max_row + 1):
        lines = 1
        for cell in ws[r]:  # one row reads across: every cell starts at the top
            cell.alignment = top_wrapped if cell.column in wrap else top
        for column, width in wrapped:
            value = ws.cell(row=r, column=column).value
            if isinstance(value, str):
                lines = max(lines, _lines(value, width))
        if lines > 1:
            ws.row_dimensions[r].height = 14.5 * lines


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


def _colour_utilisation(ws: Worksheet) -> None:
    if ws.max_row < 2:
        return
    for cell in ws[1]:
        label = str(cell.value or "")
        if not label.startswith("Utilisation") or label == "Utilisation cap":
            continue
        letter = get_column_letter(cell.column)
        ref = f"{letter}2:{letter}{ws.max_row}"
        for operator, formula, colour in UTILISATION_RULES:
            fill = PatternFill("solid", start_color=colour, end_color=colour)
            ws.conditional_formatting.add(
                ref, CellIsRule(operator=operator, formula=formula, fill=fill, stopIfTrue=True)
            )


def _as_table(ws: Worksheet, used_names: set[str]) -> None:
    """Turn a sheet's filter range into an Excel Table (a Table carries its own filter)."""
    ref = ws.auto_filter.ref
    headers = [str(c.value) for c in ws[1] if c.value is not None]
    # A Table needs at least one data row and distinct, non-empty header texts.
    if not ref or ws.max_row < 2 or len(set(headers)) != len(headers) or not headers:
        return
    base = "".join(ch for ch in ws.title if ch.isalnum()) or "Table"
    name = base if base[0].isalpha() else f"T{base}"
    n = 1
    while name.lower() in used_names:
        n += 1
        name = f"{base}{n}"
    used_names.add(name.lower())
    ws.auto_filter.ref = None
    table = Table(displayName=name, ref=ref)
    table.tableStyleInfo = TableStyleInfo(
        name="TableStyleLight9", showRowStripes=True, showColumnStripes=False
    )
    ws.add_table(table)


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


#: The date written into every workbook (document properties and zip entries).
FIXED_DATE = datetime.datetime(2000, 1, 1)


def _fixed_zip_times(data: bytes) -> bytes:
    """The zip archive ``data`` rewritten with every entry dated :data:`FIXED_DATE`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE.timetuple()[:6])
            fixed.compress_type = info.compress_type
            fixed.external_attr = info.external_attr
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps 'modified' when saving
                content = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                    rb"\g<1>" + FIXED_DATE.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>",
                    content,
                )
            target.writestr(fixed, content)
    return out.getvalue()


def write_workbook(plan: Any, path: str | Path) -> Path:
    """Write the plan's workbook to ``path`` (atomically) and return the path."""
    path = Path(path)
    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    _header(ws, ["Measure", "Value"])
    summary = summary_rows(plan)
    for i, (measure, value, fmt) in enumerate(summary, start=2):
        _put(ws, i, 1, measure)
        _put(ws, i, 2, value, fmt)
    ws.column_dimensions["A"].width = 48
    ws.column_dimensions["B"].width = 60
    table_sheet(wb, "Moves", _with_pcn_names(plan.moves, plan.pcn_summary))
    table_sheet(wb, "Utilisation", plan.utilisation)
    table_sheet(wb, "PCNs", plan.pcn_summary)
    table_sheet(wb, "Bottlenecks", plan.bottlenecks)
    assumptions = wb.create_sheet("Assumptions")
    _header(assumptions, ["Setting", "Value"])
    rows = _flatten(plan.scenario.model_dump(mode="json"))
    rows += [
        ("data.source", plan.dataset.source),
        ("data.attribution", plan.dataset.attribution or "(none given with the dataset)"),
    ]
    for i, (key, value) in enumerate(rows, start=2):
        _put(assumptions, i, 1, key)
        _put(assumptions, i, 2, value)
        if key == "data.attribution":
            assumptions.cell(row=i, column=2).alignment = Alignment(wrap_text=True)
    assumptions.column_dimensions["A"].width = 40
    assumptions.column_dimensions["B"].width = 100
    assumptions.auto_filter.ref = f"A1:B{len(rows) + 1}"
    prepare_for_print(wb, title=f"estates-opt plan: {plan.scenario.name}")

    # The same plan gives the same bytes: fixed document dates and zip entry times.
    wb.properties.created = FIXED_DATE
    buffer = io.BytesIO()
    wb.save(buffer)
    atomic_write_bytes(path, _fixed_zip_times(buffer.getvalue()))
    log.info("wrote workbook %s", path)
    return path
