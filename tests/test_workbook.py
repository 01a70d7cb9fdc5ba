"""The planner's workbook: sheets, headers, formats, frozen panes, filters, no formula injection."""

from __future__ import annotations

import dataclasses
import datetime
import re
import shutil
import statistics
import subprocess

import pandas as pd
import pytest
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string, get_column_letter

from estates_opt.outputs.plan_folder import write_plan
from estates_opt.outputs.workbook import (
    FORMULA_PREFIXES,
    MIN_PRINT_SCALE,
    POINTS_PER_WIDTH,
    PRINTABLE_POINTS,
    number_format,
    write_workbook,
)
from estates_opt.outputs.workbook.formats import column_label as _label
from estates_opt.outputs.workbook.layout import LINE_HEIGHT, wrapped_lines
from estates_opt.outputs.xlsx import PAPER_A3, PAPER_A4, Book, CellStyle, Sheet
from estates_opt.pipeline import solve
from estates_opt.scenario import Scenario

SHEETS = ["Summary", "Moves", "Phases", "Utilisation", "PCNs", "Bottlenecks", "Assumptions"]


@pytest.fixture(scope="module")
def tiny_plan(tiny_dataset):
    return solve(tiny_dataset, Scenario(name="tiny", description="tiny test plan"))


@pytest.fixture(scope="module")
def book(tiny_plan, tmp_path_factory):
    path = write_workbook(tiny_plan, tmp_path_factory.mktemp("wb") / "plan.xlsx")
    return load_workbook(path)


def test_sheets_in_order(book):
    assert book.sheetnames == SHEETS


def test_every_sheet_has_a_frozen_header(book):
    for ws in book:
        assert ws.freeze_panes == "A2", ws.title
        assert ws.cell(row=1, column=1).font.bold, ws.title


def test_table_sheets_are_excel_tables_with_readable_headers(book, tiny_plan):
    names = set()
    for title in ("Moves", "Utilisation", "PCNs", "Bottlenecks", "Assumptions"):
        ws = book[title]
        if ws.max_row < 2:
            continue
        (table,) = ws.tables.values()
        assert table.ref == f"A1:{get_column_letter(ws.max_column)}{ws.max_row}", title
        assert table.autoFilter is not None  # the Table's own filter buttons
        assert not ws.auto_filter.ref  # not a second, clashing sheet filter
        names.add(table.displayName)
    assert "Moves" in names and len(names) >= 4
    headers = [c.value for c in book["Utilisation"][1]]
    assert "Utilisation after" in headers
    assert "Capacity (room-hours per week)" in headers
    assert book["Moves"].max_row == len(tiny_plan.moves) + 1
    assert book["Utilisation"].column_dimensions["B"].width >= 10


def test_number_formats(book):
    ws = book["Utilisation"]
    headers = {c.value: c.column for c in ws[1]}
    assert ws.cell(row=2, column=headers["Utilisation after"]).number_format == "0.0%"
    assert (
        ws.cell(row=2, column=headers["Capacity (room-hours per week)"]).number_format == "#,##0.0"
    )
    assert number_format("shadow_price_gbp_per_room_hour").startswith('"£"')
    assert number_format("cost_per_hour_gbp").startswith('"£"')
    assert number_format("after_utilisation") == "0.0%"
    assert number_format("hours_per_week") == "#,##0.0"
    assert number_format("travel_after_km") == "0.00"


def test_summary_and_assumptions_carry_scenario_and_provenance(book, tiny_plan):
    summary = {r[0].value: r[1].value for r in book["Summary"].iter_rows(min_row=2)}
    assert summary["Scenario"] == "tiny"
    assert summary["Solver status"] == "optimal"
    # what to do first, as kpis.json has it
    quarter = tiny_plan.kpis["first_quarter"]
    assert summary["First quarter: relocations (the best quarter; Phases)"] == 4
    assert summary["First quarter: share of the plan's relief"] == pytest.approx(
        quarter["plan_relief_share"]
    )
    assert summary["Over-cap hours today (per week)"] == pytest.approx(quarter["over_cap_hours"])
    assumptions = {r[0].value: r[1].value for r in book["Assumptions"].iter_rows(min_row=2)}
    assert assumptions["caps.community"] == pytest.approx(0.9)
    assert assumptions["weights.imd_weight"] == 0
    assert assumptions["data.source"] == tiny_plan.dataset.source
    assert "Synthetic" in assumptions["data.attribution"]


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_text_from_inputs_never_becomes_a_formula(tiny_plan, tmp_path, prefix):
    evil = f'{prefix}HYPERLINK("http://x","click")'
    moves = tiny_plan.moves.copy()
    if moves.empty:
        pytest.skip("no moves to poison")
    moves["why"] = evil
    moves["to_site"] = "-1+2"
    scenario = tiny_plan.scenario.model_copy(update={"description": "=cmd|' /C calc'!A0"})
    plan = dataclasses.replace(tiny_plan, moves=moves, scenario=scenario)
    wb = load_workbook(write_workbook(plan, tmp_path / "evil.xlsx"))
    ws = wb["Moves"]
    headers = {c.value: c.column for c in ws[1]}
    cell = ws.cell(row=2, column=headers["Why"])
    assert cell.value[1:] == evil[1:]  # XML reads a leading CR back as LF
    assert cell.data_type == "s"
    assert cell.quotePrefix
    assert ws.cell(row=2, column=headers["To site"]).data_type == "s"
    summary = {r[0].value: r[1] for r in wb["Summary"].iter_rows(min_row=2)}
    assert summary["Description"].data_type == "s"
    assert summary["Description"].value.startswith("=cmd")


def test_no_formula_cells_anywhere(book):
    for ws in book:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate)


def test_write_is_atomic_and_replaces(tiny_plan, tmp_path):
    path = tmp_path / "plan.xlsx"
    path.write_bytes(b"old")
    write_workbook(tiny_plan, path)
    assert load_workbook(path).sheetnames == SHEETS
    assert [p.name for p in tmp_path.iterdir()] == ["plan.xlsx"]


def test_plan_write_includes_the_workbook(tiny_plan, tmp_path):
    out = write_plan(tiny_plan, tmp_path / "plan")
    assert load_workbook(out / "plan.xlsx").sheetnames == SHEETS


def test_every_sheet_prints_landscape_one_page_wide_with_repeated_headers(book):
    for ws in book:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert str(ws.page_setup.paperSize) in (ws.PAPERSIZE_A4, ws.PAPERSIZE_A3), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title
        assert "&A" in ws.oddFooter.center.text and "&P" in ws.oddFooter.right.text
        # Printed at MIN_PRINT_SCALE or more: the printed columns fit the paper's width.
        last = _printed_columns(ws)
        width = sum(ws.column_dimensions[get_column_letter(j)].width for j in range(1, last + 1))
        paper = PAPER_A4 if str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4 else PAPER_A3
        assert width * POINTS_PER_WIDTH * MIN_PRINT_SCALE <= PRINTABLE_POINTS[paper], ws.title


def _printed_columns(ws) -> int:
    """How many columns of a sheet print (its print area, else all of them)."""
    if not ws.print_area:
        return ws.max_column
    area = str(ws.print_area).split("!")[-1].replace("$", "")
    return column_index_from_string(re.match(r"[A-Z]+\d*:([A-Z]+)", area).group(1))


def test_wide_sheets_print_the_columns_a_person_reads_and_keep_the_rest(book, tiny_plan):
    moves = [c.value for c in book["Moves"][1]]
    printed = moves[: _printed_columns(book["Moves"])]
    for label in ("Service", "PCN", "From sites", "To site", "To band", "Sessions per week", "Why"):
        assert label in printed, label
    # Codes and ids follow, unprinted, still in the Table for filtering.
    assert {"Service ID", "PCN code", "To site ID"} <= set(moves) - set(printed)
    assert len(moves) == len(tiny_plan.moves.columns) + 1  # + the PCN's name
    pcns = [c.value for c in book["PCNs"][1]]
    assert pcns[: _printed_columns(book["PCNs"])][:2] == ["PCN", "Borough"]
    assert (
        "Prices are"
        not in [c.value for c in book["Bottlenecks"][1]][: _printed_columns(book["Bottlenecks"])]
    )


def test_utilisation_is_coloured(book):
    ws = book["Utilisation"]
    headers = {c.value: get_column_letter(c.column) for c in ws[1]}
    ranges = {str(r.sqref): r.rules for r in ws.conditional_formatting}
    for label in ("Utilisation before", "Utilisation after"):
        column = headers[label]
        rules = ranges[f"{column}2:{column}{ws.max_row}"]
        assert {r.operator for r in rules} == {"greaterThan", "between", "lessThan"}
    assert not any(headers["Utilisation cap"] in ref for ref in ranges)


def test_moves_name_the_pcn_and_keep_its_code(book, tiny_plan):
    if tiny_plan.moves.empty:
        pytest.skip("no moves")
    headers = [c.value for c in book["Moves"][1]]
    assert headers.index("PCN") < headers.index("PCN code")  # the name is read, the code filters
    summary = tiny_plan.pcn_summary
    names = dict(zip(summary["pcn_code"], summary["pcn_name"], strict=True))
    row = [c.value for c in book["Moves"][2]]
    assert row[headers.index("PCN")] == names[row[headers.index("PCN code")]]


def _libreoffice() -> str | None:
    return shutil.which("libreoffice") or shutil.which("soffice")


#: Text below this size (points, as printed) is not readable on paper.
MIN_PRINTED_FONT_PT = 7.0


def _calibration_book(path):
    """A sheet of 11 pt text printed at 100%: how tall LibreOffice's words are unscaled."""
    book = Book(created=datetime.datetime(2000, 1, 1), header_fill="005EB8", header_font="FFFFFF")
    sheet: Sheet = book.add_sheet("Calibration")
    sheet.fit_width, sheet.scale = False, 100
    cells = book.text_cells(
        "A", 1, [f"Calibration row {i} of text" for i in range(20)], CellStyle()
    )
    book.set_rows(sheet, [cells], 1)
    path.write_bytes(book.to_bytes())
    return path


def _pdf_words(pdf):
    """Per page: (width, height, [(y_min, y_max, x_min, word)]) from pdftotext's boxes."""
    html = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    pages = []
    for page in html.split("<page ")[1:]:
        width, height = (float(v) for v in re.findall(r'(?:width|height)="([\d.]+)"', page)[:2])
        words = [
            (float(y0), float(y1), float(x0), text)
            for x0, y0, y1, text in re.findall(
                r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)<', page
            )
        ]
        pages.append((width, height, words))
    return pages


@pytest.mark.skipif(
    _libreoffice() is None or shutil.which("pdftotext") is None,
    reason="LibreOffice (libreoffice-calc) and pdftotext (poppler-utils) are needed to print",
)
def test_printed_workbook_is_readable_keeps_labels_with_values_and_headers_on_every_page(
    tiny_plan, tmp_path
):
    path = write_workbook(tiny_plan, tmp_path / "plan.xlsx")
    calibration = _calibration_book(tmp_path / "calibration.xlsx")
    subprocess.run(
        [
            _libreoffice(),
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(path),
            str(calibration),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "plan.pdf"
    # How tall an 11 pt word prints at 100%, in whatever font LibreOffice has for Calibri.
    (_, _, words), *_ = _pdf_words(tmp_path / "calibration.pdf")
    unscaled = statistics.median(y1 - y0 for y0, y1, _, _ in words)
    pages = _pdf_words(pdf)
    book = load_workbook(path)
    headers = {
        ws.title: [str(c.value) for c in ws[1] if c.value is not None][: _printed_columns(ws)]
        for ws in book
    }
    summary = {r[0].value: r[1].value for r in book["Summary"].iter_rows(min_row=2)}
    seen: dict[str, int] = {}
    fonts: dict[str, float] = {}
    for number, (width, height, words) in enumerate(pages, start=1):
        assert width > height, number  # landscape
        text = subprocess.run(
            ["pdftotext", "-layout", "-f", str(number), "-l", str(number), str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        # The footer names the sheet: "estates-opt plan: tiny    Moves    page 2 of 9".
        footer = re.search(r"plan: tiny\s+(\S+)\s+page \d+ of \d+", text)
        assert footer, (number, text[-300:])
        sheet = footer.group(1)
        seen[sheet] = seen.get(sheet, 0) + 1
        # Readable: the cells' text prints at MIN_PRINTED_FONT_PT or more (11 pt x scale).
        bottom = max(y0 for y0, _, _, _ in words)
        body = [y1 - y0 for y0, y1, _, _ in words if y0 < bottom - 2]  # not the footer
        font = 11 * statistics.median(body) / unscaled
        fonts[sheet] = min(font, fonts.get(sheet, font))
        assert font >= MIN_PRINTED_FONT_PT, (number, sheet, round(font, 1))
        # One page wide, header repeated: every page shows the first and the last printed
        # column's header (a sheet split sideways would lose the last columns, or their labels).
        first, last = headers[sheet][0], headers[sheet][-1]
        assert first in text and re.split(r"[\s-]", last)[0] in text, (number, sheet, first, last)
        # Summary: each label prints on the same line as its value.
        for label in ("Scenario", "Description", "Solver status"):
            for line in text.splitlines():
                if line.strip().startswith(label + " "):
                    assert str(summary[label]) in line, line
    assert set(seen) == set(headers), seen
    assert seen["PCNs"] == 1 and seen["Bottlenecks"] == 1, seen
    assert fonts["Summary"] == pytest.approx(11, abs=0.5), fonts  # the measure itself


def test_every_value_reads_back_as_written(tiny_plan, tmp_path):
    """The column writer: repeated, missing, boolean, padded, formula-like and wrapped values."""
    long_text = " ".join(["word"] * 40)
    moves = pd.DataFrame(
        {
            "service_id": ["a", "b", "a", None, "=1+1", "=1+1"],
            "hours_per_week": [1.5, float("nan"), 3.0, 4.0, 1e-7, 2.0],
            "sessions_per_week": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "enhanced_access_contract_met": [True, False, True, True, False, True],
            "to_site": ["  padded ", "x & <y>", "x & <y>", "plain", "-3.5", "@home"],
            "why": [long_text, "short", long_text, "", None, "short"],
        }
    )
    plan = dataclasses.replace(tiny_plan, moves=moves)
    ws = load_workbook(write_workbook(plan, tmp_path / "values.xlsx"))["Moves"]
    headers = [c.value for c in ws[1]]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2, max_col=len(headers))]
    assert [r[headers.index("Service ID")] for r in rows] == ["a", "b", "a", None, "=1+1", "=1+1"]
    assert [r[headers.index("Hours per week")] for r in rows] == [1.5, None, 3.0, 4.0, 1e-7, 2.0]
    assert [r[headers.index("Sessions per week")] for r in rows] == [1, None, 3, 4, 5, 6]
    met = [r[headers.index("EA contract met")] for r in rows]
    assert met == ["Yes", "No", "Yes", "Yes", "No", "Yes"]  # words a person reads
    to_site = [r[headers.index("To site")] for r in rows]
    assert to_site == ["  padded ", "x & <y>", "x & <y>", "plain", "-3.5", "@home"]
    service = headers.index("Service ID") + 1
    assert ws.cell(row=6, column=service).quotePrefix and ws.cell(row=7, column=service).quotePrefix
    assert not ws.cell(row=2, column=service).quotePrefix
    to_column = headers.index("To site") + 1
    assert not ws.cell(row=6, column=to_column).quotePrefix  # a number, not a formula
    assert ws.cell(row=7, column=to_column).quotePrefix
    assert ws.cell(row=2, column=headers.index("Hours per week") + 1).number_format == "#,##0.0"
    assert ws.row_dimensions[3].height is None  # one line: default height
    assert ws.row_dimensions[2].height == ws.row_dimensions[4].height > 14.5


def test_a_table_longer_than_a_sheet_keeps_the_rows_a_sheet_holds(tiny_plan, tmp_path, monkeypatch):
    from estates_opt.outputs.workbook import sheets

    monkeypatch.setattr(sheets, "EXCEL_MAX_ROWS", 3)
    plan = dataclasses.replace(tiny_plan, utilisation=tiny_plan.utilisation.head(5))
    book = load_workbook(write_workbook(plan, tmp_path / "cut.xlsx"))
    assert book["Utilisation"].max_row == 3  # the header and the first two rows


def test_the_phases_sheet_holds_the_phased_plan(book, tiny_plan):
    sheet = book["Phases"]
    assert sheet.max_row == len(tiny_plan.phases) + 1
    labels = [cell.value for cell in sheet[1]]
    assert len(labels) == len(tiny_plan.phases.columns)


def test_true_false_read_yes_no_in_the_workbook_and_true_false_in_the_csv(tiny_plan, tmp_path):
    """People read Yes/No (not TRUE/FALSE or 1/0), as text, so a filter lists what is shown;
    the sheets keep their filters; CSV files stay true/false for programs."""
    import zipfile

    folder = write_plan(tiny_plan, tmp_path / "plan")
    flags = {
        name: [c for c in frame.columns if frame[c].dtype == bool]
        for name, frame in tiny_plan.tables().items()
    }
    assert any(flags.values()), flags  # the plan has true/false columns to show
    with zipfile.ZipFile(folder / "plan.xlsx") as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        for name in sheets:
            assert ' t="b"' not in archive.read(name).decode(), name
    book = load_workbook(folder / "plan.xlsx")
    titles = {"pcn_summary": "PCNs", "utilisation": "Utilisation", "moves": "Moves"}
    checked = 0
    for table, columns in flags.items():
        if not columns or table not in titles:
            continue
        sheet = book[titles[table]]
        assert sheet.auto_filter.ref or sheet.tables, table
        headers = [c.value for c in sheet[1]]
        frame = tiny_plan.tables()[table]
        csv = pd.read_csv(folder / f"{table}.csv")
        for column in columns:
            shown = {
                c.value for c in sheet[get_column_letter(headers.index(_label(column)) + 1)][1:]
            }
            assert shown <= {"Yes", "No"} and shown, (table, column, shown)
            assert csv[column].dtype == bool and set(csv[column]) == set(frame[column])
            checked += 1
    assert checked
    summary = {row[0].value: row[1].value for row in book["Summary"].iter_rows(min_row=2)}
    assert summary["Verified by the independent checker"] == "Yes"


def test_printed_moves_say_who_what_from_where_to_where_sessions_phase_and_why(tiny_plan, tmp_path):
    """A printed move names every practice a clinic leaves, with its hours, one a line."""
    moves = tiny_plan.moves.head(2).copy()
    if moves.empty:
        pytest.skip("no moves")
    sources = "CRANHAM VILLAGE SURGERY (weekday, 8.0 h); MAYLANDS HEALTHCARE (evening, 4.0 h)"
    moves["from_sites"] = [sources, "St Leonard (weekday, 4.0 h)"]
    moves["n_from_sites"] = [2, 1]
    plan = dataclasses.replace(tiny_plan, moves=moves)
    path = write_workbook(plan, tmp_path / "moves.xlsx")
    ws = load_workbook(path)["Moves"]
    headers = [c.value for c in ws[1]]
    printed = headers[: _printed_columns(ws)]
    assert printed == [
        "PCN",
        "Service",
        "From sites",
        "To site",
        "To band",
        "Sessions per week",
        "Phase",
        "Why",
    ]
    cell = ws.cell(row=2, column=printed.index("From sites") + 1)
    assert cell.value == sources.replace("; ", "\n")  # one source a line
    assert cell.alignment.wrap_text and cell.alignment.vertical == "top"
    assert ws.row_dimensions[2].height >= 2 * LINE_HEIGHT
    assert ws.cell(row=2, column=printed.index("Phase") + 1).alignment.horizontal == "center"
    # Fits A4 landscape at the readable scale; the counts and ids stay, unprinted, to filter.
    assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4
    width = sum(
        ws.column_dimensions[get_column_letter(j)].width for j in range(1, len(printed) + 1)
    )
    assert width * POINTS_PER_WIDTH * MIN_PRINT_SCALE <= PRINTABLE_POINTS[PAPER_A4]
    assert {"N from sites", "From site ID", "From site"} <= set(headers) - set(printed)
    assert (
        pd.read_csv(write_plan(plan, tmp_path / "plan") / "moves.csv")["from_sites"][0] == sources
    )


def test_summary_rows_are_as_tall_as_their_wrapped_labels(book):
    """LibreOffice keeps a row's height: a two-line label would print over the next row."""
    ws = book["Summary"]
    rows = {r[0].value: r[0].row for r in ws.iter_rows(min_row=2)}
    label = "Relocations any plan needs, at least (clinics that must move)"
    width = ws.column_dimensions["A"].width
    assert wrapped_lines(label, width) == 2
    assert ws.row_dimensions[rows[label]].height == 2 * LINE_HEIGHT
    assert ws.row_dimensions[rows["Scenario"]].height is None  # one line: as it is


def test_pcn_names_read_on_one_line_and_yes_no_stands_apart_from_numbers(tiny_plan, tmp_path):
    """No blank double rows for names that fit, and "Yes" does not touch "916.0" before it."""
    pcns = tiny_plan.pcn_summary.copy()
    names = ["TOWER HAMLETS NETWORK 8 PCN", "WALTHAM FOREST LEYTON COLLABORATIVE PCN"]
    pcns["pcn_name"] = [names[i % 2] for i in range(len(pcns))]
    plan = dataclasses.replace(tiny_plan, pcn_summary=pcns)
    ws = load_workbook(write_workbook(plan, tmp_path / "pcns.xlsx"))["PCNs"]
    headers = [c.value for c in ws[1]]
    for row in range(2, ws.max_row + 1):
        assert ws.row_dimensions[row].height is None, row
    met = ws.cell(row=2, column=headers.index("EA contract met") + 1)
    assert met.value in ("Yes", "No") and met.alignment.horizontal == "center"
    assert wrapped_lines("TOWER HAMLETS NETWORK 8 PCN", 30) == 1
    assert wrapped_lines("WWW MMMMMM WWWWWW MMMMM PCN", 30) == 2  # wide capitals still wrap
    assert wrapped_lines("M" * 25, 30) == 2  # a word longer than the line is split
    assert wrapped_lines("one\ntwo", 30) == 2  # a line break is a line


def test_every_table_sheet_filters_from_its_header_to_its_last_row(tiny_plan, tmp_path):
    """Each table sheet has one filter (its Excel Table's), over the header and every row;
    a second sheet filter over a Table would make Excel repair the file."""
    import zipfile

    path = write_workbook(tiny_plan, tmp_path / "plan.xlsx")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        for i, title in enumerate(SHEETS, start=1):
            xml = archive.read(f"xl/worksheets/sheet{i}.xml").decode()
            last = re.search(r'<dimension ref="A1:([A-Z]+\d+)"/>', xml).group(1)
            sheet_filter = re.findall(r'<autoFilter ref="([^"]+)"', xml)
            rels = f"xl/worksheets/_rels/sheet{i}.xml.rels"
            if title == "Summary":  # measure | value, not a table
                assert not sheet_filter and rels not in names
                continue
            tables = re.findall(
                r'Target="\.\./tables/(table\d+\.xml)"', archive.read(rels).decode()
            )
            (table,) = tables
            table_xml = archive.read(f"xl/tables/{table}").decode()
            assert re.findall(r'<autoFilter ref="([^"]+)"', table_xml) == [f"A1:{last}"], title
            assert not sheet_filter, title


def test_kinds_and_bands_read_in_words(book, tiny_plan):
    """The workbook is for people: "GP practice" and "Saturday", not gp_practice and
    saturday (the CSV files keep the ids for filtering and joins)."""
    ws = book["Utilisation"]
    headers = {c.value: c.column for c in ws[1]}
    kinds = {ws.cell(row=r, column=headers["Kind"]).value for r in range(2, ws.max_row + 1)}
    bands = {ws.cell(row=r, column=headers["Band"]).value for r in range(2, ws.max_row + 1)}
    assert "GP practice" in kinds and "gp_practice" not in kinds
    assert "Saturday" in bands and "saturday" not in bands
    assert set(tiny_plan.utilisation["kind"]) >= {"gp_practice"}
