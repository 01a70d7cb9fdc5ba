"""The planner's workbook: sheets, headers, formats, frozen panes, filters, no formula injection."""

from __future__ import annotations

import dataclasses

import pytest
from openpyxl import load_workbook

from estates_opt.outputs.plan_folder import write_plan
from estates_opt.outputs.workbook import FORMULA_PREFIXES, number_format, write_workbook
from estates_opt.pipeline import solve
from estates_opt.scenario import Scenario

SHEETS = ["Summary", "Moves", "Utilisation", "PCNs", "Bottlenecks", "Assumptions"]


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


def test_table_sheets_have_filters_and_readable_headers(book, tiny_plan):
    for title in ("Moves", "Utilisation", "PCNs", "Bottlenecks", "Assumptions"):
        assert book[title].auto_filter.ref, title
    headers = [c.value for c in book["Utilisation"][1]]
    assert "Utilisation after" in headers
    assert "Capacity (room-hours/week)" in headers
    assert book["Moves"].max_row == len(tiny_plan.moves) + 1
    assert book["Utilisation"].column_dimensions["B"].width >= 10


def test_number_formats(book):
    ws = book["Utilisation"]
    headers = {c.value: c.column for c in ws[1]}
    assert ws.cell(row=2, column=headers["Utilisation after"]).number_format == "0.0%"
    assert ws.cell(row=2, column=headers["Capacity (room-hours/week)"]).number_format == "0.0"
    assert number_format("shadow_price_gbp_per_room_hour").startswith('"£"')
    assert number_format("cost_per_hour_gbp").startswith('"£"')
    assert number_format("after_utilisation") == "0.0%"
    assert number_format("hours_per_week") == "0.0"
    assert number_format("travel_after_km") == "0.00"


def test_summary_and_assumptions_carry_scenario_and_provenance(book, tiny_plan):
    summary = {r[0].value: r[1].value for r in book["Summary"].iter_rows(min_row=2)}
    assert summary["Scenario"] == "tiny"
    assert summary["Solver status"] == "optimal"
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
