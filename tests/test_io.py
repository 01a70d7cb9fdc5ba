"""Readers return text tables with line numbers; writers are atomic and deterministic."""

from __future__ import annotations

import json
import os

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from estates_opt.inputs.files import read_text_table, resolve_input
from estates_opt.inputs.geojson import read_geo_table
from estates_opt.outputs.files import (
    atomic_write_bytes,
    atomic_write_text,
    csv_text,
    staged_directory,
    write_geopackage,
    write_json,
)
from estates_opt.schema import CAPACITY, PREMISES


def test_read_text_table_keeps_text_line_numbers_and_strips(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a, b ,c\n 1 ,x,\n\n3,y,z\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert problems == []
    assert list(frame.columns) == ["a", "b", "c"]
    assert list(frame.index) == [2, 4]  # the blank line 3 is skipped, numbering is the file's
    assert frame.index.name == "line"
    assert frame.loc[2].tolist() == ["1", "x", ""]
    assert frame.loc[4].tolist() == ["3", "y", "z"]


def test_read_text_table_handles_quoted_commas_and_crlf(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'id,name\r\n1,"Smith, J"\r\n')
    frame, problems = read_text_table(path)
    assert problems == []
    assert frame.loc[2, "name"] == "Smith, J"


def test_line_numbers_survive_quoted_line_breaks_and_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    text = 'id,name\n1,"two\nlines"\n\n2,x\n3,y\n'
    path.write_text(text, encoding="utf-8")
    frame, problems = read_text_table(path)
    assert problems == []
    assert list(frame.index) == [2, 5, 6]
    assert frame.loc[2, "name"] == "two\nlines"
    path.write_text(text.replace("3,y", "3,y,extra"), encoding="utf-8")
    assert [p.row for p in read_text_table(path)[1]] == ["line 6"]


def test_read_text_table_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfsite_id,band\nA,weekday\n")
    frame, problems = read_text_table(path)
    assert problems == []
    assert list(frame.columns) == ["site_id", "band"]


def test_read_text_table_ragged_rows_are_each_reported_and_stop_the_table(tmp_path):
    # a ragged record's cells sit under the wrong columns, so checking them (or other
    # files against them) would only add follow-on errors
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2\n4,5,6,7\n8,9,10\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert frame is None
    assert [p.row for p in problems] == ["line 2", "line 3"]
    assert all("stray comma" in p.fix for p in problems)


def test_a_lone_carriage_return_inside_a_line_is_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b,c\n1,\r2,3\n4,5,6\n")
    frame, problems = read_text_table(path)
    assert frame is None
    assert [p.row for p in problems] == ["line 2", "line 3"]
    assert all("carriage return (CR)" in p.fix for p in problems)
    # CR line ends throughout (old Mac files) and CRLF are line ends, not stray CRs
    for ending in (b"\r", b"\r\n"):
        path.write_bytes(ending.join([b"a,b,c", b"1,2,3", b"4,5,6", b""]))
        frame, problems = read_text_table(path)
        assert problems == [] and len(frame) == 2


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_read_text_table_wrong_delimiter(tmp_path, sep):
    path = tmp_path / "t.csv"
    path.write_text(sep.join(["a", "b"]) + "\n" + sep.join(["1", "2"]) + "\n", encoding="utf-8")
    frame, problems = read_text_table(path)
    assert frame is None
    assert len(problems) == 1 and "delimiter" in problems[0].message


@pytest.mark.parametrize("content", [b"", b"  \n\n", b",,\n,,\n"])
def test_read_text_table_empty(tmp_path, content):
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    frame, problems = read_text_table(path)
    assert frame is None
    assert "empty" in problems[0].message


def test_read_text_table_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\n1,2\n3,caf\xe9\n".encode("latin-1"))
    frame, problems = read_text_table(path)
    assert frame is None
    assert "line 3" in problems[0].message


def test_read_parquet_as_text(tmp_path):
    path = tmp_path / "capacity.parquet"
    pd.DataFrame({"a": [1.5, None], "b": ["x", "y"]}).to_parquet(path)
    frame, problems = read_text_table(path)
    assert problems == []
    assert frame["a"].tolist() == ["1.5", ""]
    assert frame["b"].tolist() == ["x", "y"]


def test_resolve_input_accepts_alternative_formats(tmp_path):
    assert resolve_input(tmp_path, CAPACITY) is None
    (tmp_path / "capacity.parquet").write_bytes(b"")
    assert resolve_input(tmp_path, CAPACITY).name == "capacity.parquet"
    (tmp_path / "capacity.csv").write_text("x\n")
    assert resolve_input(tmp_path, CAPACITY).name == "capacity.csv"  # CSV preferred
    (tmp_path / "premises.gpkg").write_bytes(b"")
    assert resolve_input(tmp_path, PREMISES).name == "premises.gpkg"


def _write_geojson(path, doc):
    path.write_text(json.dumps(doc), encoding="utf-8")


def test_read_geo_table_numbers_features_from_one(tmp_path):
    path = tmp_path / "p.geojson"
    _write_geojson(
        path,
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"site_id": s},
                    "geometry": {"type": "Point", "coordinates": [-0.1 + i / 100, 51.5]},
                }
                for i, s in enumerate(["A", "B", "C"])
            ],
        },
    )
    frame, problems = read_geo_table(path)
    assert problems == []
    assert list(frame.index) == [1, 2, 3] and frame.index.name == "feature"
    assert frame.loc[2, "site_id"] == "B"
    assert frame.crs.to_epsg() == 4326


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is empty"),
        ("{not json", "not valid JSON"),
        ('{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        ('{"type": "FeatureCollection", "features": []}', "has no features"),
    ],
)
def test_read_geo_table_broken_files(tmp_path, text, says):
    path = tmp_path / "p.geojson"
    path.write_text(text, encoding="utf-8")
    frame, problems = read_geo_table(path)
    assert frame is None
    assert says in problems[0].message
    assert problems[0].file == "p.geojson"


def test_atomic_write_replaces_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text(encoding="utf-8") == "second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    atomic_write_bytes(path, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_csv_text_is_deterministic_with_fixed_floats():
    frame = pd.DataFrame({"id": ["a", "b"], "x": [1 / 3, 2.0]})
    text = csv_text(frame)
    assert text == "id,x\na,0.3333\nb,2.0000\n"
    assert csv_text(frame, float_digits=2) == "id,x\na,0.33\nb,2.00\n"


def test_write_csv_and_json_round_trip(tmp_path):
    frame = pd.DataFrame({"id": ["a"], "x": [1.25]})
    atomic_write_text(tmp_path / "f.csv", csv_text(frame))
    assert pd.read_csv(tmp_path / "f.csv").equals(frame)
    write_json({"a": [1, 2], "b": None}, tmp_path / "k.json")
    assert json.loads((tmp_path / "k.json").read_text()) == {"a": [1, 2], "b": None}
    with pytest.raises(ValueError):
        write_json({"bad": float("nan")}, tmp_path / "nan.json")
    assert not (tmp_path / "nan.json").exists()


def test_write_geopackage_layers(tmp_path):
    pts = gpd.GeoDataFrame({"id": [1, 2]}, geometry=[Point(0, 51), Point(0.1, 51)], crs=4326)
    write_geopackage({"one": pts, "two": pts.iloc[:1]}, tmp_path / "x.gpkg")
    layers = dict(pyogrio.list_layers(tmp_path / "x.gpkg"))
    assert set(layers) == {"one", "two"}
    assert len(gpd.read_file(tmp_path / "x.gpkg", layer="two")) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["x.gpkg"]


def test_staged_directory_moves_files_on_success(tmp_path):
    target = tmp_path / "out"
    with staged_directory(target) as stage:
        (stage / "a.csv").write_text("1")
        (stage / "nested").mkdir()
        (stage / "nested" / "b.csv").write_text("2")
    assert (target / "a.csv").read_text() == "1"
    assert (target / "nested" / "b.csv").read_text() == "2"
    assert sorted(p.name for p in target.iterdir()) == ["a.csv", "nested"]


def test_staged_directory_failure_leaves_target_unchanged(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "a.csv").write_text("old")
    with pytest.raises(RuntimeError), staged_directory(target) as stage:
        (stage / "a.csv").write_text("new")
        (stage / "b.csv").write_text("new")
        raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["a.csv"]
    assert (target / "a.csv").read_text() == "old"
