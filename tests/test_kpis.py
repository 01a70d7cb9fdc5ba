"""kpis.json: every key declared once with its unit, the typed record and the README agree.

The declaration (:data:`estates_opt.results.kpis.KPI_FIELDS`) is checked against a real
kpis.json written by the pipeline (the hand-made instance here; the NEL plan in
``tests/test_plan.py``), against the ``Kpis`` record that types ``plan.kpis``, and against
the README's table of KPIs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import get_type_hints

import pytest
from fixtures import handmade

from estates_opt.outputs.plan_folder import write_plan
from estates_opt.pipeline import solve
from estates_opt.results import kpis as kpi_record
from estates_opt.results.kpis import KPI_FIELDS, Kpis, kpi_table_markdown

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def written_kpis(tmp_path_factory) -> dict:
    plan = solve(handmade.dataset(), handmade.scenario())
    folder = write_plan(plan, tmp_path_factory.mktemp("plan") / "handmade", workbook=False)
    return json.loads((folder / "kpis.json").read_text(encoding="utf-8"))


def test_every_key_of_a_written_kpis_json_is_declared_with_a_unit(written_kpis):
    undeclared = [key for key in written_kpis if key not in KPI_FIELDS]
    assert not undeclared, f"kpis.json keys with no unit or meaning in KPI_FIELDS: {undeclared}"
    assert all(f.unit and f.meaning for f in KPI_FIELDS.values())


def test_a_written_kpis_json_has_every_key_the_record_requires(written_kpis):
    missing = sorted(Kpis.__required_keys__ - set(written_kpis))
    assert not missing
    # written in the record's order (the optional keys where the pipeline adds them)
    order = [key for key in KPI_FIELDS if key in written_kpis]
    assert list(written_kpis) == order


def test_nested_records_match_their_typed_dicts(written_kpis):
    hints = get_type_hints(Kpis, include_extras=False, localns=vars(kpi_record))
    for key in ("model", "enhanced_access_contract", "strategy_gap", "first_quarter"):
        record = hints[key]
        value = written_kpis[key]
        assert record.__required_keys__ <= set(value) <= set(get_type_hints(record)), key
    for key in ("utilisation_before", "utilisation_after"):
        assert list(written_kpis[key]) == ["weekday", "all_bands"]


def test_the_declaration_and_the_typed_record_name_the_same_keys_in_the_same_order():
    assert list(KPI_FIELDS) == list(Kpis.__annotations__)


def test_readme_lists_every_kpi_with_its_unit_and_meaning():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert kpi_table_markdown() in readme, (
        "README.md's kpis.json table differs from estates_opt/results/kpis.py: "
        "paste kpi_table_markdown() into it"
    )


def test_plan_kpis_read_as_before(written_kpis):
    """``plan.kpis["objective"]`` and ``plan.kpis["model"]["mip"]`` are plain look-ups."""
    plan = solve(handmade.dataset(), handmade.scenario())
    assert plan.kpis["objective"] == pytest.approx(written_kpis["objective"])
    assert plan.kpis["model"]["mip"] is written_kpis["model"]["mip"]
    assert isinstance(plan.kpis, dict)
