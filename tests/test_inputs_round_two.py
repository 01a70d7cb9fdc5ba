"""Input robustness, round two: files and values that passed `validate` and then broke a run.

Each case is a private copy of a valid dataset with one thing broken; every one must be
refused in the input stage (so `estates-opt validate` catches it before any solve) with a
problem naming the file, the row or feature and the column, and never a traceback.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from fixtures import handmade
from typer.testing import CliRunner

from estates_opt import read_dataset
from estates_opt.cli import app
from estates_opt.errors import InputDataError, Problem, ScenarioError
from estates_opt.inputs.dataset import SPECS, dataset_from_tables
from estates_opt.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
NEL = ROOT / "geodata" / "nel"


pytestmark = pytest.mark.usefixtures("restore_logging")


def problems_of(folder: Path) -> list[Problem]:
    """The problems read_dataset reports for ``folder`` (it must refuse it)."""
    with pytest.raises(InputDataError) as caught:
        read_dataset(folder)
    return list(caught.value.problems)


def validate_cli(folder: Path) -> str:
    """`estates-opt validate folder`: it must refuse the data (exit 2) without a traceback."""
    result = CliRunner().invoke(app, ["validate", str(folder)], catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output


def edit_csv(path: Path, column: str, value: str, line: int = 2) -> None:
    """Set one cell (``line`` counts the header as line 1), adding the column if needed."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if column not in rows[0]:
        rows[0].append(column)
        for row in rows[1:]:
            row.append("")
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def edit_property(path: Path, column: str, value: object, feature: int = 1) -> None:
    """Set one property of one feature (counted from 1), written as JSON escapes."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["features"][feature - 1]["properties"][column] = value
    path.write_text(json.dumps(doc), encoding="utf-8")


# --- 1. ATTRIBUTION.txt that is not UTF-8 -----------------------------------------------------


def test_attribution_that_is_not_utf8_is_a_problem(tiny_copy):
    (tiny_copy / "ATTRIBUTION.txt").write_bytes(
        b"Contains public sector information.\nContains OS data \xa9 Crown copyright\n"
    )
    [problem] = problems_of(tiny_copy)
    assert problem.file == "ATTRIBUTION.txt"
    assert problem.message == "is not UTF-8 text (bad byte at line 2)."
    assert problem.fix is not None and "UTF-8" in problem.fix
    assert "ATTRIBUTION.txt: is not UTF-8 text (bad byte at line 2)" in validate_cli(tiny_copy)


# --- 2. the basemap folder ----------------------------------------------------------------------


def with_basemap(folder: Path) -> Path:
    """``folder`` with NEL's basemap copied in (its layers are drawn on every map page)."""
    shutil.copytree(NEL / "basemap", folder / "basemap")
    return folder / "basemap"


@pytest.mark.parametrize(
    ("layer", "content", "expected"),
    [
        ("water", b'{"type": "FeatureCollection", "feat', "is not valid JSON"),
        ("roads", b"", "is empty"),
        ("rail", b'{"type": "Feature", "properties": {}, "geometry": null}', "FeatureCollection"),
        ("places", b'{"type": "FeatureCollection", "features": [{"type": "Featu', "valid JSON"),
        ("stations", b"\xff\xfe{}", "is not UTF-8 text"),
    ],
)
def test_a_broken_basemap_layer_is_refused_before_any_solve(tiny_copy, layer, content, expected):
    (with_basemap(tiny_copy) / f"{layer}.geojson").write_bytes(content)
    [problem] = problems_of(tiny_copy)
    assert problem.file == f"basemap/{layer}.geojson"
    assert expected in problem.message
    assert problem.fix
    assert f"basemap/{layer}.geojson" in validate_cli(tiny_copy)


def test_a_basemap_attribution_that_is_not_utf8_is_refused(tiny_copy):
    (with_basemap(tiny_copy) / "ATTRIBUTION.txt").write_bytes(b"\xa9 OpenStreetMap\n")
    [problem] = problems_of(tiny_copy)
    assert problem.file == "basemap/ATTRIBUTION.txt"
    assert problem.message == "is not UTF-8 text (bad byte at line 1)."


def test_a_basemap_layer_that_is_a_folder_is_named_as_such(tiny_copy):
    basemap = with_basemap(tiny_copy)
    (basemap / "rail.geojson").unlink()
    (basemap / "rail.geojson").mkdir()
    [problem] = problems_of(tiny_copy)
    assert problem.file == "basemap/rail.geojson" and "a folder" in problem.message


def test_the_maps_read_the_basemap_layers_the_input_stage_checks(tiny_copy):
    """Belt and braces: a basemap broken after validation is the project's own error."""
    from estates_opt.outputs.maps import data

    (with_basemap(tiny_copy) / "water.geojson").write_bytes(b'{"type": "Feature')
    with pytest.raises(InputDataError) as caught:
        data.read_basemap(str(tiny_copy))
    assert "basemap/water.geojson" in str(caught.value)


# --- 3. services.csv movable_share -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "'abc' is not a number"),
        ("1.5", "1.5 is above the maximum 1"),
        ("-0.4", "-0.4 is below the minimum 0"),
        ("0", "0 must be more than 0"),
        ("inf", "'inf' is not a finite number"),
    ],
)
def test_movable_share_must_be_a_fraction_above_zero(tiny_copy, value, expected):
    edit_csv(tiny_copy / "services.csv", "movable_share", value)
    [problem] = problems_of(tiny_copy)
    assert (problem.file, problem.column) == ("services.csv", "movable_share")
    assert problem.row is not None and problem.row.startswith("line 2 (service_id=")
    assert problem.message == expected + "."


def test_movable_share_may_be_empty_or_one(tiny_copy):
    """Empty means the whole service moves (share 1); only bad cells are refused."""
    edit_csv(tiny_copy / "services.csv", "movable_share", "")
    edit_csv(tiny_copy / "services.csv", "movable_share", "1", line=3)
    edit_csv(tiny_copy / "services.csv", "movable_share", "2", line=4)
    [problem] = problems_of(tiny_copy)
    assert problem.row is not None and problem.row.startswith("line 4")


# --- 4. control characters in GeoJSON text ------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "column", "value", "shown"),
    [
        ("premises.geojson", "name", "a\u0000b", "\\x00"),
        ("premises.geojson", "site_id", "AHQ06\u0000garbage", "\\x00"),
        ("pcns.geojson", "pcn_name", "North\u0000East", "\\x00"),
        ("lsoas.geojson", "lsoa_code", "E01000001\u0000", "\\x00"),
        # a column the schema does not list: GDAL cuts it too (other control characters
        # there are left alone, as in a CSV file's unlisted columns)
        ("premises.geojson", "postcode", "E1 \u00001AA", "\\x00"),
        ("pcns.geojson", "source", "ODS\u0000\u001b[2J", "\\x00, \\x1b"),
    ],
)
def test_control_characters_in_geojson_text_are_refused(tiny_copy, file, column, value, shown):
    """GDAL cuts a string at a NUL (`a\\u0000b` read as `a`): refuse it, as CSV cells are."""
    edit_property(tiny_copy / file, column, value, feature=2)
    [problem] = problems_of(tiny_copy)
    assert (problem.file, problem.column) == (file, column)
    assert problem.row is not None and problem.row.startswith("feature 2")
    assert problem.message == f"contains control characters ({shown})."
    assert problem.fix is not None and problem.fix.startswith("remove them")
    assert "\x00" not in str(problem)


def test_the_geojson_control_check_matches_the_csv_one(tiny_copy):
    """Whitespace at either end is stripped, as in a CSV cell; a NUL is never whitespace."""
    edit_property(tiny_copy / "premises.geojson", "name", "\tSurgery\n")
    edit_property(tiny_copy / "premises.geojson", "name", "Surgery\u0000", feature=2)
    [problem] = problems_of(tiny_copy)
    assert problem.row is not None and problem.row.startswith("feature 2")
    assert problem.message == "contains control characters (\\x00)."


# --- 5. upper bounds on numbers ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "column", "value", "maximum"),
    [
        ("demand.csv", "hours_per_week", "1e300", "100,000"),
        ("baseline.csv", "hours_per_week", "200000", "100,000"),
        ("capacity.csv", "capacity_hours", "1e12", "100,000"),
        ("capacity.csv", "cost_per_hour_gbp", "1e9", "100,000"),
        ("opening.csv", "open_cost_gbp_per_week", "1e15", "10,000,000"),
    ],
)
def test_absurd_table_numbers_are_refused(tiny_copy, file, column, value, maximum):
    edit_csv(tiny_copy / file, column, value)
    problems = problems_of(tiny_copy)
    [problem] = [p for p in problems if p.column == column]
    assert problem.file == file and problem.row is not None and problem.row.startswith("line 2")
    assert problem.message == f"{value} is above the maximum {maximum}."


@pytest.mark.parametrize(
    ("file", "column", "value"),
    [
        ("lsoas.geojson", "population", 1e308),
        ("pcns.geojson", "registered_patients", 1.5e20),
        ("pcns.geojson", "adjusted_patients", 2e7),
    ],
)
def test_absurd_populations_are_refused(tiny_copy, file, column, value):
    edit_property(tiny_copy / file, column, value)
    problems = problems_of(tiny_copy)
    [problem] = [p for p in problems if p.column == column]
    assert problem.file == file and problem.row is not None
    assert problem.row.startswith("feature 1")
    assert "is above the maximum 10,000,000" in problem.message


def test_the_maxima_keep_every_real_value():
    """The limits are generous: the real NEL data sits far below each of them."""
    nel = read_dataset(NEL)
    tables = {
        "demand.csv": nel.demand,
        "baseline.csv": nel.baseline,
        "capacity.csv": nel.capacity,
        "opening.csv": nel.opening,
        "lsoas.geojson": nel.lsoas,
        "pcns.geojson": nel.pcns,
        "patients.csv": nel.patients,
    }
    bounded = 0
    for file, frame in tables.items():
        for column in SPECS[Path(file).stem].columns:
            # (limits of 10 or less are the column's own range, such as imd_decile 1-10)
            if column.maximum is not None and column.maximum > 10 and column.name in frame:
                assert frame[column.name].max() <= column.maximum / 10, (file, column.name)
                bounded += 1
    assert bounded >= 12
    # and a value above the maximum is refused (the check above is not empty)
    tables_in_memory = handmade.tables()
    tables_in_memory["demand"].loc[0, "hours_per_week"] = 1e6
    with pytest.raises(InputDataError, match="above the maximum 100,000"):
        dataset_from_tables(tables_in_memory)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("weights", "travel_gbp_per_hour_km"),
        ("weights", "unmet_gbp_per_hour"),
        ("weights", "move_gbp_per_hour"),
        ("weights", "cost"),
        ("weights", "opening"),
        ("relocation", "gbp_per_relocation"),
        ("relocation", "excess_gbp_per_hour"),
        ("relocation", "gbp_per_specialty_site"),
        ("relocation", "keep_preference_gbp_per_hour"),
        ("relocation", "own_hub_preference_gbp_per_hour"),
        ("relocation", "own_hub_min_sessions"),
        ("options", "move_budget_hours"),
        ("contract", "shortfall_gbp_per_hour"),
    ],
)
def test_absurd_scenario_weights_are_a_scenario_error(tiny_dir, tmp_path, table, key):
    path = tmp_path / "absurd.toml"
    path.write_text(f'dataset = "{tiny_dir}"\n[{table}]\n{key} = 1e300\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert key in text and "less than or equal to" in text
    assert "0" * 30 not in text


# --- 6. own-list work short of what the movable shares imply ------------------------------------


def shares_tables(own_s1: float, own_s3: float) -> dict:
    """The hand-made instance with the clinic half movable: today's 30 h at S1 and 20 h at
    S3 are half of the clinic there, so S1 must keep 30 h and S3 20 h of own-list work."""
    tables = handmade.tables()
    tables["services"]["movable_share"] = [0.5, 1.0]
    own = {("S1", "consulting", "weekday"): own_s1, ("S3", "consulting", "weekday"): own_s3}
    tables["capacity"]["fixed_pcn_clinic_hours"] = [
        own.get(row[:3], 0.0) for row in handmade.CAPACITY_ROWS
    ]
    return tables


def test_own_work_short_of_the_movable_share_is_an_input_problem():
    with pytest.raises(InputDataError) as caught:
        dataset_from_tables(shares_tables(own_s1=30.0, own_s3=0.0))
    [problem] = caught.value.problems
    assert (problem.file, problem.column) == ("capacity.csv", "fixed_pcn_clinic_hours")
    assert problem.row == "line 6 (site_id=S3, room_type=consulting, band=weekday)"
    assert "0.00" in problem.message and "20.00 h" in problem.message
    assert "clin" in problem.message and "movable_share 0.5" in problem.message
    # the check allows the verifier's rounding (0.05 h a slot) and nothing more
    dataset_from_tables(shares_tables(own_s1=29.96, own_s3=19.96))
    with pytest.raises(InputDataError):
        dataset_from_tables(shares_tables(own_s1=29.9, own_s3=20.0))


def test_nel_with_no_own_work_is_refused_by_validate(tmp_path):
    """The tester's case: every fixed_pcn_clinic_hours 0.00 passed validate and failed only
    in the verifier after the whole solve; now a few rows are named, then a count."""
    data = tmp_path / "nel"
    shutil.copytree(NEL, data)
    path = data / "capacity.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("fixed_pcn_clinic_hours")
    for row in rows[1:]:
        if row[column]:
            row[column] = "0.00"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    problems = problems_of(data)
    assert all(p.file == "capacity.csv" for p in problems)
    named = [p for p in problems if p.row is not None]
    assert 1 <= len(named) <= 5
    assert all(p.column == "fixed_pcn_clinic_hours" for p in problems)
    [more] = [p for p in problems if p.row is None]
    assert "more rows" in more.message
    output = validate_cli(data)
    assert "capacity.csv, line " in output and "fixed_pcn_clinic_hours" in output


def test_problems_name_the_file_as_the_folder_holds_it(tiny_copy):
    """A GeoPackage or Parquet input is named as itself, not as the standard .geojson/.csv,
    and a Parquet table's rows are counted from 1 (it has no header line)."""
    import geopandas as gpd
    import pandas as pd

    lsoas = gpd.read_file(tiny_copy / "lsoas.geojson")
    lsoas["population"] = True  # a GeoPackage Boolean field where a count belongs
    (tiny_copy / "lsoas.geojson").unlink()
    lsoas.to_file(tiny_copy / "lsoas.gpkg", driver="GPKG")
    capacity = pd.read_csv(tiny_copy / "capacity.csv")
    capacity.loc[0, "fixed_hours"] = capacity.loc[0, "capacity_hours"] + 1
    (tiny_copy / "capacity.csv").unlink()
    capacity.to_parquet(tiny_copy / "capacity.parquet")

    found = problems_of(tiny_copy)
    population = [p for p in found if p.column == "population"]
    assert len(population) == len(lsoas), "one message per LSOA, none for its PCN as well"
    assert all(p.file == "lsoas.gpkg" and "not a number" in p.message for p in population)
    (fixed,) = [p for p in found if p.column == "fixed_hours"]
    assert fixed.file == "capacity.parquet" and fixed.row and fixed.row.startswith("row 1 (")
    assert not any(p.file.endswith((".geojson", ".csv")) for p in found)
    output = validate_cli(tiny_copy)
    assert "lsoas.gpkg, feature 1" in output and "capacity.parquet, row 1 (" in output
