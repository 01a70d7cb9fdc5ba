"""Fuzz the loaders: whatever the bytes, only the tool's own typed errors come out.

Random bytes, random malformed CSV (random cells, missing cells, random column
names; and real tables with random cells swapped in) and random malformed
GeoJSON (random JSON, wrong geometry types, NaN/huge/infinite coordinates; and
real layers with random parts swapped in) go through the readers and the
validator. A reader returns ``(frame or None, problems)``; the dataset
validator and the travel-matrix reader raise :class:`InputDataError` (or a
subclass); the scenario loader raises :class:`ScenarioError`. Anything else (a
``KeyError``, ``TypeError``, ``IndexError``, a warning turned into an error by
``filterwarnings = error``) is a bug.

To stay fast, the intact tiny dataset is read once; most examples swap one
fuzzed table into it and run :func:`dataset_from_tables`, which applies exactly
the checks :func:`read_dataset` applies to files.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estates_opt import read_dataset
from estates_opt.errors import InputDataError, Problem, ScenarioError
from estates_opt.inputs.dataset import dataset_from_tables
from estates_opt.inputs.files import read_text_table
from estates_opt.inputs.geojson import read_geo_table
from estates_opt.inputs.travel import read_travel_matrix
from estates_opt.scenario import load_scenario, scenario_from_dict
from estates_opt.schema import INPUT_FILES

#: ``FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py`` for a longer hunt; 50 keeps the suite fast.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CSV_TABLES = ("capacity", "opening", "services", "demand", "baseline")
GEO_TABLES = ("premises", "pcns", "lsoas")
KEYS = {spec.name.split(".")[0]: spec.key for spec in INPUT_FILES}
KNOWN_COLUMNS = sorted({c.name for spec in INPUT_FILES for c in spec.columns})


@pytest.fixture(scope="module")
def tiny(tiny_dir):
    """The intact tiny dataset: its folder, its raw tables and its text files."""
    tables, files = {}, {}
    for spec in INPUT_FILES:
        stem = spec.name.split(".")[0]
        path = tiny_dir / spec.name
        if not path.is_file():
            continue
        reader = read_geo_table if spec.format == "geojson" else read_text_table
        frame, problems = reader(path)
        assert frame is not None and not problems
        tables[stem] = frame
        files[stem] = spec.name
    dataset_from_tables(tables, files=files)  # the intact tables are valid
    return {"dir": tiny_dir, "tables": tables, "files": files}


@pytest.fixture(scope="module")
def scratch():
    """One folder for the module: every example overwrites the files it uses."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        yield Path(folder)


def check_problems(problems: list[Problem]) -> None:
    for problem in problems:
        assert isinstance(problem, Problem)
        assert problem.file and problem.message


def validate_with(tiny, name: str, frame) -> None:
    """Swap ``frame`` in for table ``name`` and validate: only InputDataError may come out."""
    tables = {**tiny["tables"], name: frame}
    try:
        dataset_from_tables(tables, files=tiny["files"])
    except InputDataError as exc:
        assert exc.problems
        check_problems(list(exc.problems))


# --- strategies ----------------------------------------------------------------------------

ODD_CELLS = [
    "",
    " ",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "Infinity",
    "1e999",
    "-1",
    "0",
    "3.5",
    "1,5",
    "weekday",
    "Weekday",
    "consulting",
    "gp_practice",
    "community",
    "P00000",
    "G0000000",
    "C00000",
    "pcn_diabetes",
    "true",
    "perhaps",
    "weekday;evening",
    ";",
    "a;b",
    '"',
    "'",
    ",",
    "\n",
    "\t",
    "\ufeff",
    "\x00",
    "é",
    "’",
]
cells = st.one_of(
    st.sampled_from(ODD_CELLS),
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
)
column_names = st.one_of(st.sampled_from(KNOWN_COLUMNS), st.text(max_size=10))


def csv_bytes(header: list[str], rows: list[list[str]], quoted: bool) -> bytes:
    if quoted:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([header, *rows])
        return out.getvalue().encode("utf-8")
    return "\n".join(",".join(r) for r in [header, *rows]).encode("utf-8", "surrogatepass")


random_csv = st.builds(
    csv_bytes,
    st.lists(column_names, max_size=9),
    st.lists(st.lists(cells, max_size=10), max_size=6),
    st.booleans(),
)


@st.composite
def mutated_csv(draw, tiny_tables):
    """A real table with random cells replaced, cells dropped or a column renamed."""
    name = draw(st.sampled_from(CSV_TABLES))
    frame = tiny_tables[name]
    header = list(frame.columns)
    rows = [list(r) for r in frame.to_numpy().tolist()]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["cell", "drop", "rename", "duplicate", "truncate"]))
        if kind == "cell" and rows:
            r = draw(st.integers(0, len(rows) - 1))
            if rows[r]:
                rows[r][draw(st.integers(0, len(rows[r]) - 1))] = draw(cells)
        elif kind == "drop" and rows:
            r = draw(st.integers(0, len(rows) - 1))
            rows[r] = rows[r][: draw(st.integers(0, len(rows[r])))]
        elif kind == "rename":
            header[draw(st.integers(0, len(header) - 1))] = draw(column_names)
        elif kind == "duplicate" and rows:
            rows.append(list(draw(st.sampled_from(rows))))
        elif kind == "truncate":
            rows = rows[: draw(st.integers(0, len(rows)))]
    return name, csv_bytes(header, rows, draw(st.booleans()))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-(10**25), 10**25)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=16,
)
coordinate = st.one_of(
    st.floats(-2.0, 2.0).map(lambda x: x - 1.7),
    st.floats(52.0, 53.5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1e308, -1e308, 180.0, 91.0, 400000.0]),
)
position = st.lists(coordinate, min_size=0, max_size=3)
ring = st.lists(position, max_size=6)
closed_ring = st.lists(
    st.tuples(st.floats(-1.8, -1.6), st.floats(52.8, 52.9)), min_size=3, max_size=5
).map(lambda pts: [list(p) for p in [*pts, pts[0]]])
geometries = st.one_of(
    st.none(),
    json_values,
    st.builds(lambda c: {"type": "Point", "coordinates": c}, position),
    st.builds(lambda c: {"type": "LineString", "coordinates": c}, st.lists(position, max_size=4)),
    st.builds(lambda c: {"type": "Polygon", "coordinates": c}, st.lists(ring, max_size=2)),
    st.builds(lambda c: {"type": "Polygon", "coordinates": [c]}, closed_ring),
    st.builds(
        lambda c: {"type": "MultiPolygon", "coordinates": c},
        st.lists(st.lists(ring, max_size=2), max_size=2),
    ),
    st.builds(
        lambda g: {"type": "GeometryCollection", "geometries": g},
        st.lists(st.builds(lambda c: {"type": "Point", "coordinates": c}, position), max_size=2),
    ),
    st.builds(lambda t, c: {"type": t, "coordinates": c}, st.text(max_size=8), json_values),
)
properties = st.one_of(
    st.dictionaries(st.sampled_from(KNOWN_COLUMNS) | st.text(max_size=6), json_values, max_size=6),
    json_values,
)
features = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("Feature"), "properties": properties, "geometry": geometries}
    ),
    json_values,
)
random_geojson = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": st.just("FeatureCollection"), "features": st.lists(features, max_size=5)},
        optional={
            "crs": json_values | st.just({"type": "name", "properties": {"name": "EPSG:27700"}})
        },
    ),
)


@st.composite
def mutated_geojson(draw, tiny_dir):
    """A real layer with some features' geometry or properties replaced."""
    name = draw(st.sampled_from(GEO_TABLES))
    doc = json.loads((tiny_dir / f"{name}.geojson").read_text(encoding="utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        feature = draw(st.sampled_from(doc["features"]))
        part = draw(st.sampled_from(["geometry", "property", "properties", "drop"]))
        if part == "geometry":
            feature["geometry"] = draw(geometries)
        elif part == "property":
            if not isinstance(feature["properties"], dict):
                feature["properties"] = {}
            key = draw(st.sampled_from(sorted(feature["properties"]) or ["x"]))
            feature["properties"][key] = draw(json_values)
        elif part == "properties":
            feature["properties"] = draw(properties)
        elif len(doc["features"]) > 1:
            doc["features"].remove(feature)
    return name, json.dumps(doc, allow_nan=True).encode("utf-8")


# --- the loaders on random input -------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".csv", ".geojson"]))
def test_random_bytes_give_problems_not_exceptions(data, suffix, scratch):
    path = scratch / f"file{suffix}"
    path.write_bytes(data)
    reader = read_text_table if suffix == ".csv" else read_geo_table
    frame, problems = reader(path)
    check_problems(problems)
    assert frame is not None or problems


@FUZZ
@given(name=st.sampled_from(CSV_TABLES), data=random_csv)
def test_random_csv_is_refused_with_typed_errors(tiny, scratch, name, data):
    path = scratch / f"{name}.csv"
    path.write_bytes(data)
    frame, problems = read_text_table(path)
    check_problems(problems)
    if frame is not None:
        validate_with(tiny, name, frame)


@FUZZ
@given(data=st.data())
def test_real_tables_with_random_cells_give_typed_errors(tiny, scratch, data):
    name, content = data.draw(mutated_csv(tiny["tables"]))
    path = scratch / f"{name}.csv"
    path.write_bytes(content)
    frame, problems = read_text_table(path)
    check_problems(problems)
    if frame is not None:
        validate_with(tiny, name, frame)


@FUZZ
@given(name=st.sampled_from(GEO_TABLES), doc=random_geojson)
def test_random_geojson_is_refused_with_typed_errors(tiny, scratch, name, doc):
    path = scratch / f"{name}.geojson"
    path.write_text(json.dumps(doc, allow_nan=True), encoding="utf-8")
    frame, problems = read_geo_table(path, KEYS[name])
    check_problems(problems)
    if frame is not None:
        validate_with(tiny, name, frame)


@FUZZ
@given(data=st.data())
def test_real_layers_with_random_geometry_give_typed_errors(tiny, scratch, data):
    name, content = data.draw(mutated_geojson(tiny["dir"]))
    path = scratch / f"{name}.geojson"
    path.write_bytes(content)
    frame, problems = read_geo_table(path, KEYS[name])
    check_problems(problems)
    if frame is not None:
        validate_with(tiny, name, frame)


@settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
@given(
    target=st.sampled_from([s.name for s in INPUT_FILES if s.name != "boroughs.geojson"]),
    data=st.one_of(st.binary(max_size=300), random_csv),
)
def test_read_dataset_with_a_random_file_raises_only_input_errors(tiny, scratch, target, data):
    folder = scratch / "data"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(tiny["dir"], folder)
    (folder / target).write_bytes(data)
    before = data
    try:
        read_dataset(folder)
    except InputDataError as exc:
        check_problems(list(exc.problems))
    assert (folder / target).read_bytes() == before  # reading never writes


@FUZZ
@given(data=random_csv)
def test_random_travel_matrix_raises_only_input_errors(tiny_dataset, scratch, data):
    path = scratch / "matrix.csv"
    path.write_bytes(data)
    try:
        read_travel_matrix(path, tiny_dataset.lsoas, set(tiny_dataset.premises["site_id"]))
    except InputDataError as exc:
        check_problems(list(exc.problems))


@FUZZ
@given(
    data=st.dictionaries(
        st.sampled_from(["growth", "weights", "caps", "solver", "name", "x"]),
        json_values,
        max_size=4,
    )
)
def test_random_scenarios_raise_only_scenario_errors(data):
    try:
        scenario_from_dict(data)
    except ScenarioError as exc:
        assert str(exc) and exc.problems


@FUZZ
@given(
    text=st.text(max_size=200) | st.sampled_from(["[weights\ncost=1", "extends = 3", 'x = "\\u"'])
)
def test_random_scenario_text_raises_only_scenario_errors(scratch, text):
    path = scratch / "s.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert str(exc)
