"""Validation: one broken copy of the tiny dataset per rule, and the error it must raise.

Every test breaks a private copy (``tiny_copy``), reads it, and checks that the
one error raised is an :class:`InputDataError` (exit code 2 in the CLI) of the
most specific class, and that it names the file, the row or id and the column.
Ids and line numbers are read from the files, never assumed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import mapping

from estates_opt import (
    CRSError,
    GeometryError,
    InputDataError,
    SchemaError,
    dataset_from_tables,
    read_dataset,
)
from estates_opt.errors import Problem

ROOT = Path(__file__).resolve().parent.parent
NEL = ROOT / "geodata" / "nel"


# --- helpers -------------------------------------------------------------------


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def set_cell(path: Path, line: int, column: str, value: str) -> dict[str, str]:
    """Set one cell (``line`` counts the header as line 1); return the row as it was."""
    rows = csv_rows(path)
    header = rows[0]
    before = dict(zip(header, rows[line - 1], strict=True))
    rows[line - 1][header.index(column)] = value
    write_rows(path, rows)
    return before


def find_line(path: Path, **match: str) -> tuple[int, dict[str, str]]:
    """The first data line whose cells equal ``match`` (line numbers as in the file)."""
    rows = csv_rows(path)
    header = rows[0]
    for number, row in enumerate(rows[1:], start=2):
        record = dict(zip(header, row, strict=True))
        if all(record[k] == v for k, v in match.items()):
            return number, record
    raise AssertionError(f"no line in {path.name} matches {match}")


def edit_geojson(path: Path, change) -> dict:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return doc


def features(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["features"]


def read_error(directory: Path, kind: type[InputDataError] = InputDataError) -> InputDataError:
    with pytest.raises(InputDataError) as info:
        read_dataset(directory)
    exc = info.value
    assert isinstance(exc, kind), f"expected {kind.__name__}, got {type(exc).__name__}: {exc}"
    assert isinstance(exc, ValueError)  # callers catching ValueError keep working
    return exc


def the_problem(
    exc: InputDataError,
    file: str,
    column: str | None = None,
    row_has: tuple[str, ...] = (),
    says: str = "",
) -> Problem:
    """The problem about ``file``/``column``; it must name the row and appear in the message."""
    found = [
        p
        for p in exc.problems
        if p.file == file and (column is None or p.column == column) and says in p.message
    ]
    assert found, f"no problem about {file}, column {column!r}, saying {says!r} in:\n{exc}"
    problem = found[0]
    for text in row_has:
        assert text in (problem.row or ""), f"{text!r} not in row label {problem.row!r}"
    assert str(problem) in str(exc)
    return problem


def sha256_tree(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


# --- the valid baseline ----------------------------------------------------------


def test_tiny_copy_is_valid_and_counts_match_the_files(tiny_copy):
    dataset = read_dataset(tiny_copy)
    assert len(dataset.capacity) == len(csv_rows(tiny_copy / "capacity.csv")) - 1
    assert len(dataset.demand) == len(csv_rows(tiny_copy / "demand.csv")) - 1
    assert len(dataset.premises) == len(features(tiny_copy / "premises.geojson"))
    assert len(dataset.lsoas) == len(features(tiny_copy / "lsoas.geojson"))
    assert dataset.premises.crs.to_epsg() == 27700


# --- files and columns -------------------------------------------------------------


def test_missing_file(tiny_copy):
    (tiny_copy / "demand.csv").unlink()
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(exc, "demand.csv", says="missing")
    assert problem.fix and "demand.csv" in problem.fix


def test_missing_optional_opening_file_is_not_an_error(tiny_copy):
    (tiny_copy / "opening.csv").unlink()
    dataset = read_dataset(tiny_copy)
    assert len(dataset.opening) == 0
    assert "open_cost_gbp_per_week" in dataset.opening.columns


def test_missing_column_with_rename_hint(tiny_copy):
    path = tiny_copy / "capacity.csv"
    rows = csv_rows(path)
    rows[0][rows[0].index("capacity_hours")] = "capacity_hrs"
    write_rows(path, rows)
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(exc, "capacity.csv", "capacity_hours", says="missing")
    assert "capacity_hrs" in problem.message and "rename" in problem.message


def test_missing_column_without_a_close_name_has_no_hint(tiny_copy):
    path = tiny_copy / "demand.csv"
    rows = csv_rows(path)
    drop = rows[0].index("hours_per_week")
    write_rows(path, [[c for i, c in enumerate(r) if i != drop] for r in rows])
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(exc, "demand.csv", "hours_per_week", says="missing")
    assert "rename" not in problem.message


def test_mistyped_column_reports_every_row(tiny_copy):
    """A whole number column typed as text ('5 km'): one problem per row, each naming its id."""
    path = tiny_copy / "services.csv"
    rows = csv_rows(path)
    col = rows[0].index("max_travel_km")
    ids = [r[0] for r in rows[1:]]
    for r in rows[1:]:
        r[col] = f"{r[col]} km"
    write_rows(path, rows)
    exc = read_error(tiny_copy, SchemaError)
    bad = [p for p in exc.problems if p.file == "services.csv" and p.column == "max_travel_km"]
    assert len(bad) == len(ids)
    for problem, service_id in zip(bad, ids, strict=True):
        assert f"service_id={service_id}" in problem.row
        assert "is not a number" in problem.message


def test_non_numeric_cell(tiny_copy):
    path = tiny_copy / "capacity.csv"
    record = set_cell(path, 2, "capacity_hours", "lots")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "capacity.csv",
        "capacity_hours",
        row_has=(
            "line 2",
            f"site_id={record['site_id']}",
            f"room_type={record['room_type']}",
            f"band={record['band']}",
        ),
        says="'lots' is not a number",
    )


def test_fraction_in_a_whole_number_column(tiny_copy):
    path = tiny_copy / "lsoas.geojson"
    first = features(path)[0]["properties"]["lsoa_code"]
    edit_geojson(path, lambda d: d["features"][0]["properties"].update(imd_decile=3.5))
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "lsoas.geojson",
        "imd_decile",
        row_has=("feature 1", f"lsoa_code={first}"),
        says="not a whole number",
    )


def test_bad_true_false_value(tiny_copy):
    path = tiny_copy / "premises.geojson"

    def change(doc):
        for feature in doc["features"]:
            feature["properties"]["step_free"] = True
        doc["features"][2]["properties"]["step_free"] = "perhaps"

    doc = edit_geojson(path, change)
    site = doc["features"][2]["properties"]["site_id"]
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "premises.geojson",
        "step_free",
        row_has=("feature 3", f"site_id={site}"),
        says="not true/false",
    )


def test_negative_number(tiny_copy):
    path = tiny_copy / "demand.csv"
    record = set_cell(path, 3, "hours_per_week", "-5")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "demand.csv",
        "hours_per_week",
        row_has=("line 3", f"pcn_code={record['pcn_code']}", f"service_id={record['service_id']}"),
        says="below the minimum 0",
    )


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_nan_and_infinity_are_rejected(tiny_copy, text):
    path = tiny_copy / "capacity.csv"
    record = set_cell(path, 4, "cost_per_hour_gbp", text)
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "capacity.csv",
        "cost_per_hour_gbp",
        row_has=("line 4", f"site_id={record['site_id']}"),
        says="not a finite number",
    )


def test_empty_required_cell(tiny_copy):
    path = tiny_copy / "baseline.csv"
    record = set_cell(path, 2, "band", "")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "baseline.csv",
        "band",
        row_has=("line 2", f"site_id={record['site_id']}"),
        says="empty",
    )


def test_unknown_allowed_value_suggests_the_close_one(tiny_copy):
    path = tiny_copy / "capacity.csv"
    set_cell(path, 2, "band", "weekdays")
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(exc, "capacity.csv", "band", row_has=("line 2",), says="'weekdays'")
    assert "did you mean 'weekday'" in problem.fix


def test_ragged_row(tiny_copy):
    path = tiny_copy / "demand.csv"
    text = path.read_text(encoding="utf-8").splitlines()
    text[2] += ",extra"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(exc, "demand.csv", row_has=("line 3",), says="fields but the header has")


def test_blank_lines_do_not_shift_reported_line_numbers(tiny_copy):
    """A blank line after the header: the bad value is still reported on its own line."""
    path = tiny_copy / "demand.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(1, "")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    record = set_cell(path, 4, "hours_per_week", "lots")  # line 4 of the file as saved
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "demand.csv",
        "hours_per_week",
        row_has=("line 4", f"service_id={record['service_id']}"),
        says="'lots'",
    )


def test_empty_file(tiny_copy):
    (tiny_copy / "baseline.csv").write_text("", encoding="utf-8")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(exc, "baseline.csv", says="is empty")


# --- ids and references ---------------------------------------------------------------


def test_duplicate_id(tiny_copy):
    path = tiny_copy / "services.csv"
    rows = csv_rows(path)
    rows.insert(3, list(rows[1]))  # the service on line 2 appears again on line 4
    write_rows(path, rows)
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(exc, "services.csv", "service_id", says="duplicate id")
    assert f"service_id={rows[1][0]}" in problem.message
    assert "lines 2, 4" in problem.message
    assert len(exc.problems) == 1


def test_duplicate_composite_key(tiny_copy):
    path = tiny_copy / "capacity.csv"
    rows = csv_rows(path)
    rows.append(list(rows[5]))
    write_rows(path, rows)
    exc = read_error(tiny_copy, SchemaError)
    header = rows[0]
    record = dict(zip(header, rows[5], strict=True))
    problem = the_problem(exc, "capacity.csv", "site_id/room_type/band", says="duplicate id")
    for key in ("site_id", "room_type", "band"):
        assert f"{key}={record[key]}" in problem.message
    assert f"lines 6, {len(rows)}" in problem.message


def test_duplicate_feature_id(tiny_copy):
    path = tiny_copy / "premises.geojson"
    doc = edit_geojson(path, lambda d: d["features"].append(dict(d["features"][0])))
    site = doc["features"][0]["properties"]["site_id"]
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(exc, "premises.geojson", "site_id", says="duplicate id")
    assert f"site_id={site}" in problem.message
    assert f"features 1, {len(doc['features'])}" in problem.message


def test_capacity_for_unknown_site(tiny_copy):
    path = tiny_copy / "capacity.csv"
    set_cell(path, 3, "site_id", "NOSUCHSITE")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "capacity.csv",
        "site_id",
        row_has=("line 3", "site_id=NOSUCHSITE"),
        says="refers to site 'NOSUCHSITE'",
    )


def test_baseline_at_unknown_site(tiny_copy):
    path = tiny_copy / "baseline.csv"
    record = set_cell(path, 2, "site_id", "GHOST01")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "baseline.csv",
        "site_id",
        row_has=("line 2", f"pcn_code={record['pcn_code']}", "site_id=GHOST01"),
        says="refers to site 'GHOST01'",
    )


def test_demand_for_unknown_pcn(tiny_copy):
    path = tiny_copy / "demand.csv"
    record = set_cell(path, 2, "pcn_code", "UNKNOWNPCN")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "demand.csv",
        "pcn_code",
        row_has=("line 2", "pcn_code=UNKNOWNPCN", f"service_id={record['service_id']}"),
        says="refers to PCN 'UNKNOWNPCN'",
    )


def test_demand_for_unknown_service(tiny_copy):
    path = tiny_copy / "demand.csv"
    record = set_cell(path, 4, "service_id", "no_such_service")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "demand.csv",
        "service_id",
        row_has=("line 4", f"pcn_code={record['pcn_code']}", "service_id=no_such_service"),
        says="refers to service 'no_such_service'",
    )


def test_service_with_unknown_room_type(tiny_copy):
    path = tiny_copy / "services.csv"
    record = set_cell(path, 2, "room_type", "office")
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(
        exc,
        "services.csv",
        "room_type",
        row_has=("line 2", f"service_id={record['service_id']}"),
        says="'office' is not one of",
    )
    assert "consulting" in problem.message


def test_service_with_unknown_band(tiny_copy):
    path = tiny_copy / "services.csv"
    record = set_cell(path, 2, "bands", "weekday;holiday")
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "services.csv",
        "bands",
        row_has=("line 2", f"service_id={record['service_id']}"),
        says="'holiday' is not one of",
    )


def test_service_needing_a_room_type_no_site_has(tiny_copy):
    """Cheap arithmetic before the solver: nobody has the room, so say so now."""
    cap = csv_rows(tiny_copy / "capacity.csv")
    opening = tiny_copy / "opening.csv"
    room_col = cap[0].index("room_type")
    rooms_present = {r[room_col] for r in cap[1:]}
    gone = "diagnostics" if "diagnostics" in rooms_present else sorted(rooms_present)[0]
    write_rows(tiny_copy / "capacity.csv", [cap[0]] + [r for r in cap[1:] if r[room_col] != gone])
    rows = csv_rows(opening)
    col = rows[0].index(f"{gone}_hours_if_opened")
    for r in rows[1:]:
        r[col] = "0"
    write_rows(opening, rows)
    services = csv_rows(tiny_copy / "services.csv")
    needing = [r[0] for r in services[1:] if r[services[0].index("room_type")] == gone]
    assert needing, "the tiny dataset should have a service using that room"
    exc = read_error(tiny_copy, SchemaError)
    for service_id in needing:
        the_problem(
            exc,
            "services.csv",
            "room_type",
            row_has=(f"service_id={service_id}",),
            says=f"needs a {gone} room",
        )


def test_practice_without_pcn(tiny_copy):
    path = tiny_copy / "premises.geojson"
    feats = features(path)
    index = next(i for i, f in enumerate(feats) if f["properties"]["kind"] == "gp_practice")
    edit_geojson(path, lambda d: d["features"][index]["properties"].update(pcn_code=""))
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "premises.geojson",
        "pcn_code",
        row_has=(f"feature {index + 1}", f"site_id={feats[index]['properties']['site_id']}"),
        says="must name its PCN",
    )


def test_opening_option_for_a_band_already_open(tiny_copy):
    cap = tiny_copy / "capacity.csv"
    _, record = find_line(cap, band="weekday")
    path = tiny_copy / "opening.csv"
    rows = csv_rows(path)
    header = rows[0]
    new = dict(zip(header, rows[1], strict=True)) | {
        "site_id": record["site_id"],
        "band": "weekday",
    }
    rows.append([new[h] for h in header])
    write_rows(path, rows)
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "opening.csv",
        "band",
        row_has=(f"line {len(rows)}", f"site_id={record['site_id']}"),
        says="already has weekday capacity",
    )


def test_fixed_hours_over_capacity(tiny_copy):
    path = tiny_copy / "capacity.csv"
    rows = csv_rows(path)
    header = rows[0]
    record = dict(zip(header, rows[1], strict=True))
    over = float(record["capacity_hours"]) + 10
    set_cell(path, 2, "fixed_hours", f"{over:.2f}")
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(
        exc,
        "capacity.csv",
        "fixed_hours",
        row_has=("line 2", f"site_id={record['site_id']}", f"band={record['band']}"),
        says="exceed capacity_hours",
    )
    assert f"{over:g}" in problem.message


def test_pcn_with_no_lsoas(tiny_copy):
    lsoas = tiny_copy / "lsoas.geojson"
    pcns = features(tiny_copy / "pcns.geojson")
    keep, orphan = pcns[0]["properties"]["pcn_code"], pcns[1]["properties"]["pcn_code"]

    def move_all(doc):
        for feature in doc["features"]:
            feature["properties"]["pcn_code"] = keep

    edit_geojson(lsoas, move_all)
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "pcns.geojson",
        "pcn_code",
        row_has=("feature 2", f"pcn_code={orphan}"),
        says="no LSOAs",
    )
    assert not [p for p in exc.problems if f"pcn_code={keep}" in (p.row or "")]


def test_pcn_whose_lsoas_have_no_population(tiny_copy):
    lsoas = tiny_copy / "lsoas.geojson"
    target = features(tiny_copy / "pcns.geojson")[0]["properties"]["pcn_code"]

    def empty(doc):
        for feature in doc["features"]:
            if feature["properties"]["pcn_code"] == target:
                feature["properties"]["population"] = 0

    edit_geojson(lsoas, empty)
    exc = read_error(tiny_copy, SchemaError)
    the_problem(
        exc,
        "pcns.geojson",
        "population",
        row_has=(f"pcn_code={target}",),
        says="zero population",
    )


def test_enhanced_access_in_weekday_band(tiny_copy):
    path = tiny_copy / "services.csv"
    line, record = find_line(path, category="enhanced_access")
    set_cell(path, line, "bands", "weekday;" + record["bands"])
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(
        exc,
        "services.csv",
        "bands",
        row_has=(f"line {line}", f"service_id={record['service_id']}"),
        says="enhanced access",
    )
    assert "not weekday" in problem.message


# --- geometry and CRS ------------------------------------------------------------------


def test_geojson_declaring_a_projected_crs(tiny_copy):
    """GeoJSON must be lon/lat: a file declaring British National Grid is refused."""
    path = tiny_copy / "premises.geojson"
    frame = gpd.read_file(path).to_crs("EPSG:27700")

    def project(doc):
        doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}
        for feature, geom in zip(doc["features"], frame.geometry, strict=True):
            feature["geometry"] = mapping(geom)

    edit_geojson(path, project)
    exc = read_error(tiny_copy, CRSError)
    problem = the_problem(exc, "premises.geojson", says="projected CRS")
    assert "27700" in problem.message and "4326" in problem.fix


def test_geopackage_in_british_national_grid_is_accepted(tiny_copy):
    """The lon/lat rule is for GeoJSON: a GeoPackage may carry any CRS that projects."""
    path = tiny_copy / "premises.geojson"
    frame = gpd.read_file(path)
    frame.to_crs("EPSG:27700").to_file(tiny_copy / "premises.gpkg", driver="GPKG")
    path.unlink()
    dataset = read_dataset(tiny_copy)
    assert list(dataset.premises["site_id"]) == sorted(frame["site_id"])  # canonical order
    lonlat = dataset.premises.set_index("site_id")[["lon", "lat"]]
    expected = frame.set_index("site_id").geometry
    assert (lonlat["lon"] - expected.x).abs().max() < 1e-5
    assert (lonlat["lat"] - expected.y).abs().max() < 1e-5


def test_geopackage_without_crs(tiny_copy):
    path = tiny_copy / "pcns.geojson"
    frame = gpd.read_file(path).set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        frame.to_file(tiny_copy / "pcns.gpkg", driver="GPKG")
    path.unlink()
    exc = read_error(tiny_copy, CRSError)
    the_problem(exc, "pcns.gpkg", says="no coordinate reference system")


def test_tables_built_in_code_may_be_in_british_national_grid(tiny_dir):
    """dataset_from_tables takes EPSG:27700 frames (synthetic.generate's own output)."""
    tables = {p.stem: (gpd.read_file(p).to_crs("EPSG:27700")) for p in tiny_dir.glob("*.geojson")}
    for p in tiny_dir.glob("*.csv"):
        rows = csv_rows(p)
        import pandas as pd

        tables[p.stem] = pd.DataFrame(rows[1:], columns=rows[0])
    dataset = dataset_from_tables(tables)
    from_files = read_dataset(tiny_dir)
    assert list(dataset.premises["site_id"]) == list(from_files.premises["site_id"])
    assert dataset.premises.geometry.distance(from_files.premises.geometry).max() < 0.01


def test_null_geometry(tiny_copy):
    path = tiny_copy / "premises.geojson"
    site = features(path)[1]["properties"]["site_id"]
    edit_geojson(path, lambda d: d["features"][1].update(geometry=None))
    exc = read_error(tiny_copy, GeometryError)
    the_problem(
        exc, "premises.geojson", row_has=("feature 2", f"site_id={site}"), says="no geometry"
    )


def test_empty_geometry(tiny_copy):
    path = tiny_copy / "lsoas.geojson"
    code = features(path)[2]["properties"]["lsoa_code"]
    edit_geojson(
        path, lambda d: d["features"][2].update(geometry={"type": "Polygon", "coordinates": []})
    )
    exc = read_error(tiny_copy, GeometryError)
    the_problem(
        exc, "lsoas.geojson", row_has=("feature 3", f"lsoa_code={code}"), says="empty geometry"
    )


def test_invalid_geometry(tiny_copy):
    path = tiny_copy / "lsoas.geojson"
    code = features(path)[1]["properties"]["lsoa_code"]
    x, y = features(tiny_copy / "premises.geojson")[0]["geometry"]["coordinates"]
    bowtie = [[[x, y], [x + 0.01, y + 0.01], [x + 0.01, y], [x, y + 0.01], [x, y]]]
    edit_geojson(
        path, lambda d: d["features"][1].update(geometry={"type": "Polygon", "coordinates": bowtie})
    )
    exc = read_error(tiny_copy, GeometryError)
    problem = the_problem(
        exc, "lsoas.geojson", row_has=("feature 2", f"lsoa_code={code}"), says="invalid"
    )
    assert "make_valid" in problem.fix


def test_wrong_geometry_type(tiny_copy):
    path = tiny_copy / "premises.geojson"
    site = features(path)[0]["properties"]["site_id"]
    x, y = features(path)[0]["geometry"]["coordinates"]
    line = {"type": "LineString", "coordinates": [[x, y], [x + 0.01, y]]}
    edit_geojson(path, lambda d: d["features"][0].update(geometry=line))
    exc = read_error(tiny_copy, GeometryError)
    problem = the_problem(
        exc, "premises.geojson", row_has=("feature 1", f"site_id={site}"), says="LineString"
    )
    assert "expected Point" in problem.message


def test_point_outside_great_britain(tiny_copy):
    """Latitude and longitude swapped puts a London site in the Indian Ocean."""
    path = tiny_copy / "premises.geojson"
    site = features(path)[3]["properties"]["site_id"]

    def swap(doc):
        x, y = doc["features"][3]["geometry"]["coordinates"]
        doc["features"][3]["geometry"]["coordinates"] = [y, x]

    edit_geojson(path, swap)
    exc = read_error(tiny_copy, GeometryError)
    the_problem(
        exc,
        "premises.geojson",
        row_has=("feature 4", f"site_id={site}"),
        says="outside Great Britain",
    )


def test_not_a_feature_collection(tiny_copy):
    path = tiny_copy / "pcns.geojson"
    path.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": None}))
    exc = read_error(tiny_copy, SchemaError)
    the_problem(exc, "pcns.geojson", says="not a GeoJSON FeatureCollection")


# --- encodings and delimiters ---------------------------------------------------------


def test_bom_prefixed_csv_reads_the_same(tiny_copy):
    plain = read_dataset(tiny_copy)
    for name in ("demand.csv", "capacity.csv"):
        path = tiny_copy / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    with_bom = read_dataset(tiny_copy)
    assert with_bom.demand.equals(plain.demand)
    assert with_bom.capacity.equals(plain.capacity)


def test_semicolon_delimited_csv_gives_a_clear_error(tiny_copy):
    path = tiny_copy / "demand.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(exc, "demand.csv", says="delimiter is not a comma")
    assert "comma-separated" in problem.fix
    assert len([p for p in exc.problems if p.file == "demand.csv"]) == 1


def test_non_utf8_file(tiny_copy):
    path = tiny_copy / "services.csv"
    rows = csv_rows(path)
    rows[3][rows[0].index("name")] = "Clinique médicale"
    text = "\n".join(",".join(r) for r in rows) + "\n"
    path.write_bytes(text.encode("latin-1"))
    exc = read_error(tiny_copy, SchemaError)
    problem = the_problem(exc, "services.csv", says="not UTF-8")
    assert "line 4" in problem.message
    assert "UTF-8" in problem.fix


# --- collecting problems, and reading never writes ------------------------------------------


def test_several_problems_in_different_files_are_all_listed(tiny_copy):
    cap = set_cell(tiny_copy / "capacity.csv", 2, "capacity_hours", "lots")
    dem = set_cell(tiny_copy / "demand.csv", 5, "pcn_code", "NOPE")
    edit_geojson(tiny_copy / "premises.geojson", lambda d: d["features"][0].update(geometry=None))
    exc = read_error(tiny_copy)
    assert type(exc) is InputDataError  # schema and geometry problems: the common base class
    files = {p.file for p in exc.problems}
    assert {"capacity.csv", "demand.csv", "premises.geojson"} <= files
    the_problem(exc, "capacity.csv", "capacity_hours", row_has=(f"site_id={cap['site_id']}",))
    the_problem(exc, "demand.csv", "pcn_code", row_has=("line 5", "pcn_code=NOPE"))
    assert str(exc).startswith(f"{len(exc.problems)} problems in the input data")
    assert dem["pcn_code"] != "NOPE"


def test_reading_never_modifies_input_files(tiny_copy):
    before = sha256_tree(tiny_copy)
    read_dataset(tiny_copy)
    assert sha256_tree(tiny_copy) == before
    set_cell(tiny_copy / "capacity.csv", 2, "capacity_hours", "lots")
    broken = sha256_tree(tiny_copy)
    with pytest.raises(InputDataError):
        read_dataset(tiny_copy)
    assert sha256_tree(tiny_copy) == broken
    assert sorted(p.name for p in tiny_copy.iterdir()) == sorted(broken)


def test_not_a_folder(tmp_path):
    exc = read_error(tmp_path / "nowhere", SchemaError)
    assert exc.problems[0].file.endswith("nowhere")
    assert exc.problems[0].message == "does not exist."
    (tmp_path / "a_file").write_text("", encoding="utf-8")
    assert read_error(tmp_path / "a_file", SchemaError).problems[0].message == "is not a folder."


# --- the command line ---------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("estates-opt")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "estates_opt.cli"]
    env = {**os.environ, "COLUMNS": "250", "NO_COLOR": "1"}
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
    )


def test_cli_validate_nel_exits_0_with_counts(nel_dataset):
    done = run_cli("validate", str(NEL))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "is valid" in out
    assert f"{len(nel_dataset.lsoas):,}" in out
    assert f"{len(nel_dataset.pcns):,}" in out
    from estates_opt.schema import SITE_KIND_LABELS

    for kind, n in nel_dataset.premises["kind"].value_counts().items():
        line = next(x for x in out.splitlines() if f"sites: {SITE_KIND_LABELS[kind]}" in x)
        assert f"{n:,}" in line
    assert "Traceback" not in done.stdout + done.stderr


def test_cli_validate_broken_copy_exits_2_listing_each_problem(tiny_copy):
    cap = set_cell(tiny_copy / "capacity.csv", 2, "capacity_hours", "lots")
    set_cell(tiny_copy / "demand.csv", 3, "service_id", "no_such_service")
    shutil.copy(tiny_copy / "baseline.csv", tiny_copy / "baseline.bak")
    (tiny_copy / "baseline.csv").unlink()
    with pytest.raises(InputDataError) as info:
        read_dataset(tiny_copy)
    done = run_cli("validate", str(tiny_copy))
    assert done.returncode == 2
    text = done.stdout + done.stderr
    assert "Traceback" not in text
    assert f"{len(info.value.problems)} problem" in text
    for problem in info.value.problems:
        assert str(problem) in text
    assert f"site_id={cap['site_id']}" in text
    assert "baseline.csv" in text


def test_a_numeric_hub_site_id_beside_an_empty_one_matches_its_site():
    """GeoJSON numbers read as floats beside a null (5000 -> 5000.0): still the same id."""
    import pandas as pd

    from estates_opt.inputs.cross_file import check_hub_site_ids
    from estates_opt.inputs.problems import ProblemCollector

    pcns = pd.DataFrame({"pcn_code": ["P1", "P2", "P3"], "hub_site_id": [5000.0, None, 77.0]})
    premises = pd.DataFrame(
        {"site_id": ["5000", "77"], "kind": ["pcn_hub", "gp_practice"], "pcn_code": ["P1", "P3"]}
    )
    problems = ProblemCollector()
    check_hub_site_ids({"pcns": pcns, "premises": premises}, problems)
    assert [p.message for p in problems.schema] == [
        "hub_site_id '77' is a gp_practice in premises.geojson, not a pcn_hub."
    ]


def test_problems_come_file_by_file_in_line_order():
    from estates_opt.errors import Problem
    from estates_opt.inputs.problems import ProblemCollector

    problems = ProblemCollector()
    problems.schema += [
        Problem("b.csv", "x", row="line 9"),
        Problem("a.geojson", "x", row="feature 12"),
        Problem("b.csv", "x", row="line 3 (site_id=S1)"),
        Problem("b.csv", "whole file"),
    ]
    problems.geometry.append(Problem("a.geojson", "x", row="feature 2"))
    order = [(p.file, p.row) for p in problems.all()]
    assert order == [
        ("b.csv", None),
        ("b.csv", "line 3 (site_id=S1)"),
        ("b.csv", "line 9"),
        ("a.geojson", "feature 2"),
        ("a.geojson", "feature 12"),
    ]
