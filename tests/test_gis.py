"""plan.gpkg for GIS: a moves layer and a QGIS style per layer (layer_styles)."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET

import geopandas as gpd
import pyogrio
import pytest

from estates_opt.outputs.gis import MOVES_COLUMNS
from estates_opt.outputs.plan_folder import write_plan
from estates_opt.pipeline import solve
from estates_opt.scenario import Scenario


@pytest.fixture(scope="module")
def gpkg(tiny_dataset, tmp_path_factory):
    plan = solve(tiny_dataset, Scenario(name="tiny_gis"))
    out = write_plan(plan, tmp_path_factory.mktemp("gis") / "plan", workbook=False)
    return plan, out / "plan.gpkg"


def test_moves_layer_says_what_moved_for_whom_from_where_to_where(gpkg):
    plan, path = gpkg
    assert plan.moves.shape[0] > 0
    moves = gpd.read_file(path, layer="moves")
    assert list(moves.columns[:-1]) == MOVES_COLUMNS
    assert len(moves) == len(plan.moves)
    assert (moves.geometry.geom_type == "LineString").all()
    names = dict(zip(plan.pcn_summary["pcn_code"], plan.pcn_summary["pcn_name"], strict=True))
    assert (moves["pcn_name"] == moves["pcn_code"].map(names)).all()
    assert moves["sessions_per_week"].gt(0).all()
    assert set(moves["category"]) <= {"pcn_clinic", "outpatient_outreach", "enhanced_access"}
    # Largest first within each PCN, as a team would act on them.
    for _, group in moves.groupby("pcn_code", sort=False):
        assert group["sessions_per_week"].is_monotonic_decreasing


def test_every_layer_has_a_default_qgis_style(gpkg):
    _, path = gpkg
    spatial = [name for name, kind in pyogrio.list_layers(path) if kind is not None]
    assert set(spatial) == {"sites", "pcns", "flows", "moves"}
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT f_table_name, f_geometry_column, useAsDefault, styleQML FROM layer_styles"
        ).fetchall()
        geometry = dict(db.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
    assert sorted(r[0] for r in rows) == sorted(spatial)
    for table, column, default, qml in rows:
        assert column == geometry[table] and default
        root = ET.fromstring(qml.split(">", 1)[1])  # after the DOCTYPE
        renderer = root.find("renderer-v2")
        assert renderer is not None, table
        if renderer.get("type") == "categorizedSymbol":
            layer = gpd.read_file(path, layer=table)
            attribute = renderer.get("attr")
            assert attribute in layer.columns
            values = {c.get("value") for c in renderer.iter("category")}
            assert set(layer[attribute].dropna()) <= values, table
            assert len(list(renderer.iter("symbol"))) == len(values)
