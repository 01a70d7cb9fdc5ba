"""plan.gpkg for GIS: a moves layer and a QGIS style per layer (layer_styles)."""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from estates_opt.outputs.gis import FLOW_COLUMNS, MOVES_COLUMNS, layer_qml
from estates_opt.outputs.plan_folder import write_plan
from estates_opt.pipeline import solve
from estates_opt.results.explain import MOVE_COLUMNS
from estates_opt.scenario import Scenario
from estates_opt.schema import SESSION_HOURS


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


#: What a feature of the moves layer must carry (the issue's list, as columns).
CARRIED = [
    "service",
    "pcn_code",
    "pcn_name",
    "from_site",
    "to_site",
    "to_band",
    "sessions_per_week",
]
KEY = ["service_id", "pcn_code", "to_site_id", "to_band"]  # one relocation


def _same_lines(path, folder):
    """The moves layer read back with pyogrio against moves.csv: one feature per line."""
    layer = gpd.read_file(path, layer="moves", engine="pyogrio")
    table = pd.read_csv(folder / "moves.csv")
    assert set(CARRIED) <= set(layer.columns)
    assert set(MOVE_COLUMNS) <= set(layer.columns)  # every column of moves.csv
    assert len(layer) == len(table) > 0
    assert not layer.duplicated(KEY).any()
    joined = table.merge(layer, on=KEY, suffixes=("", "_gis"), validate="one_to_one")
    assert len(joined) == len(table)
    for column in MOVE_COLUMNS:
        if column in KEY:
            continue
        csv, gis = joined[column], joined[f"{column}_gis"]
        if pd.api.types.is_numeric_dtype(csv):
            pd.testing.assert_series_equal(
                gis.astype(float), csv.astype(float), check_names=False, atol=1e-4
            )  # the CSV has 4 decimals
        else:  # CSV text cells may carry a formula-neutralising quote; the layer holds the text
            assert (gis.astype(str) == csv.astype(str).str.removeprefix("'")).all(), column
    assert layer["pcn_name"].notna().all() and layer["service"].notna().all()
    assert (layer.geometry.geom_type == "LineString").all() and layer.crs.to_epsg() == 4326
    return layer, table


def test_moves_layer_is_moves_csv_line_by_line(gpkg):
    _, path = gpkg
    layer, _ = _same_lines(path, path.parent)
    assert (layer["n_from_sites"] >= 1).all()
    assert set(layer["to_band"]) <= {"weekday", "evening", "saturday", "sunday"}


def _same_flows(path, folder, plan):
    """The flows layer: one feature per allocation with hours, carrying service, PCN, band,
    hours and sessions, and the moves.csv line (move_id, phase) of the relocation that
    brings it, if one does."""
    flows = gpd.read_file(path, layer="flows", engine="pyogrio")
    table = pd.read_csv(folder / "moves.csv")
    assert list(flows.columns[:-1]) == FLOW_COLUMNS
    placed = plan.allocations[plan.allocations["hours_per_week"] > 0]
    assert len(flows) == len(placed) > 0
    assert not flows.duplicated(["service_id", "pcn_code", "site_id", "band"]).any()
    assert flows["hours_per_week"].sum() == pytest.approx(placed["hours_per_week"].sum())
    for column in ("pcn_name", "service", "category", "site"):
        assert flows[column].notna().all(), column
    hours = flows["band"].map(SESSION_HOURS) * flows["sessions_per_week"]
    assert hours.to_numpy() == pytest.approx(flows["hours_per_week"].to_numpy())
    moved = flows[flows["move_id"].notna()]
    assert len(moved) == len(table) > 0  # every relocation arrives in one flow
    line = table.iloc[moved["move_id"].astype(int).to_numpy() - 1].reset_index(drop=True)
    moved = moved.reset_index(drop=True)
    for flow, move in (
        ("service_id", "service_id"),
        ("pcn_code", "pcn_code"),
        ("site_id", "to_site_id"),
        ("band", "to_band"),
    ):
        assert (moved[flow].astype(str) == line[move].astype(str)).all(), flow
    assert (moved["phase"].astype(float) == line["phase"].astype(float)).all()
    assert moved["moved_hours_per_week"].to_numpy() == pytest.approx(
        line["hours_per_week"].to_numpy(), abs=1e-4
    )
    still = flows[flows["move_id"].isna()]
    assert still["phase"].isna().all() and still["moved_hours_per_week"].isna().all()
    moves = gpd.read_file(path, layer="moves", engine="pyogrio")
    (first,) = moves.loc[moves["move_id"] == 1, "to_site_id"]
    assert first == table["to_site_id"].iloc[0]
    assert (flows.geometry.geom_type == "LineString").all() and flows.crs.to_epsg() == 4326
    return flows


def test_flows_layer_carries_service_pcn_band_sessions_and_the_move(gpkg):
    plan, path = gpkg
    _same_flows(path, path.parent, plan)


def test_a_closed_buildings_moves_are_features_too(tiny_dataset, tmp_path):
    base = tiny_dataset.baseline.groupby("site_id")["hours_per_week"].sum()
    site = str(base[base.index.str.startswith("G")].idxmax())
    plan = solve(tiny_dataset, Scenario(name="tiny_close", buildings={"close": [site]}))
    folder = write_plan(plan, tmp_path / "plan", workbook=False)
    layer, _ = _same_lines(folder / "plan.gpkg", folder)
    flows = _same_flows(folder / "plan.gpkg", folder, plan)
    # Rehoused fixed work is a kind of service of its own, and QGIS styles draw it too.
    assert "rehoused_fixed_work" in set(flows["category"])
    styled = ET.fromstring(layer_qml()["flows"][1].split(">", 1)[1])
    assert set(flows["category"]) <= {c.get("value") for c in styled.iter("category")}
    closing = layer[layer["from_site_id"] == site]
    assert len(closing) > 0 and closing["why"].str.startswith("building closes").all()
    # The building is gone: the line starts at the PCN's catchment instead.
    catchments = tiny_dataset.pcns.set_index("pcn_code").to_crs(4326).geometry
    for _, row in closing.iterrows():
        start = gpd.points_from_xy([row.geometry.coords[0][0]], [row.geometry.coords[0][1]])[0]
        assert catchments[row["pcn_code"]].buffer(1e-9).contains(start)


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


def test_readme_names_every_column_of_the_flows_and_moves_layers():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in readme.splitlines() if line.startswith("| `plan.gpkg`")]
    for column in (*FLOW_COLUMNS, "move_id"):
        assert f"`{column}`" in row, column


def test_sites_layer_has_the_weekday_utilisation_of_the_headline_figures(gpkg):
    """The sites layer's utilisation is over all bands and room types; the weekday figures
    beside it are those of the summary (weekday hours over weekday capacity)."""
    plan, path = gpkg
    sites = gpd.read_file(path, layer="sites").set_index("site_id")
    u = plan.utilisation
    day = u[u["band"] == "weekday"].groupby("site_id")[["capacity_hours", "after_hours"]].sum()
    every = u.groupby("site_id")[["capacity_hours", "after_hours"]].sum()
    for site in day.index:
        want = day.at[site, "after_hours"] / day.at[site, "capacity_hours"]
        assert sites.at[site, "weekday_after_utilisation"] == pytest.approx(want)
        whole = every.at[site, "after_hours"] / every.at[site, "capacity_hours"]
        assert sites.at[site, "after_utilisation"] == pytest.approx(whole)
    differ = (sites["weekday_after_utilisation"] - sites["after_utilisation"]).abs() > 0.01
    assert differ.any()
