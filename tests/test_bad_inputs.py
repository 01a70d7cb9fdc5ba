"""The bad-input corpus: many small broken copies of a valid dataset, run through the CLI.

Every case breaks one thing in a private copy of the tiny synthetic dataset (or
writes a broken scenario next to an intact copy) and runs ``estates-opt
validate DIR`` or ``estates-opt solve SCENARIO --out OUT --no-maps``. Every case
must end with exit code 2 and:

* one message per problem, each naming the file, the row or id and the column
  where there is one, and saying what to do (``Fix: ...`` for data problems;
  a suggestion, a range or a pointer for scenario keys);
* no traceback anywhere in the output;
* no output written (``OUT`` absent) and every input file byte-identical.

Most cases run in-process through ``typer.testing.CliRunner``; the ones marked
``subprocess=True`` run the installed console script, so the real entry point,
its stderr and its exit code are exercised too. Ids and line numbers are read
from the files, never assumed: each breaking function returns the facts (the
row as it was) that the expected strings are formatted with.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyproj import Transformer
from typer.testing import CliRunner

from estates_opt.cli import app

ROOT = Path(__file__).resolve().parent.parent
Facts = dict[str, str]

# --- editing helpers: each returns the facts the expectations are formatted with ----------


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def set_cell(name: str, column: str, value: str, line: int = 2) -> Callable[[Path], Facts]:
    """Set one cell (``line`` counts the header as line 1); facts: the row as it was."""

    def mutate(d: Path) -> Facts:
        rows = csv_rows(d / name)
        header = rows[0]
        before = dict(zip(header, rows[line - 1], strict=True))
        rows[line - 1][header.index(column)] = value
        write_rows(d / name, rows)
        return before

    return mutate


def rename_column(name: str, old: str, new: str) -> Callable[[Path], Facts]:
    def mutate(d: Path) -> Facts:
        rows = csv_rows(d / name)
        rows[0][rows[0].index(old)] = new
        write_rows(d / name, rows)
        return {}

    return mutate


def drop_column(name: str, column: str) -> Callable[[Path], Facts]:
    def mutate(d: Path) -> Facts:
        rows = csv_rows(d / name)
        i = rows[0].index(column)
        write_rows(d / name, [r[:i] + r[i + 1 :] for r in rows])
        return {}

    return mutate


def repeat_row(name: str, line: int = 2) -> Callable[[Path], Facts]:
    """Append a copy of ``line``; facts: the row and the new line's number."""

    def mutate(d: Path) -> Facts:
        rows = csv_rows(d / name)
        rows.append(list(rows[line - 1]))
        write_rows(d / name, rows)
        return {**dict(zip(rows[0], rows[line - 1], strict=True)), "copy": str(len(rows))}

    return mutate


def keep_header_only(name: str) -> Callable[[Path], Facts]:
    def mutate(d: Path) -> Facts:
        write_rows(d / name, csv_rows(d / name)[:1])
        return {}

    return mutate


def put(name: str, data: bytes | str) -> Callable[[Path], Facts]:
    def mutate(d: Path) -> Facts:
        (d / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return {}

    return mutate


def remove(name: str) -> Callable[[Path], Facts]:
    def mutate(d: Path) -> Facts:
        (d / name).unlink()
        return {}

    return mutate


def transcode(name: str, old: str, new: str, encoding: str) -> Callable[[Path], Facts]:
    """Replace text and save the file in another encoding (Excel's 'CSV' on Windows)."""

    def mutate(d: Path) -> Facts:
        text = (d / name).read_text(encoding="utf-8")
        assert old in text
        (d / name).write_bytes(text.replace(old, new, 1).encode(encoding))
        return {}

    return mutate


def resave(name: str, change: Callable[[str], str], prefix: bytes = b"") -> Callable[[Path], Facts]:
    def mutate(d: Path) -> Facts:
        (d / name).write_bytes(prefix + change((d / name).read_text(encoding="utf-8")).encode())
        return {}

    return mutate


def _lone_cr_in_line_2(text: str) -> str:
    """The CSV text with a carriage return after line 2's first comma."""
    header, line, rest = text.split("\n", 2)
    return "\n".join([header, line.replace(",", ",\r", 1), rest])


def edit_geo(name: str, change: Callable[[dict], Facts | None]) -> Callable[[Path], Facts]:
    """Edit a GeoJSON document; facts: the first feature's properties plus ``change``'s."""

    def mutate(d: Path) -> Facts:
        doc = json.loads((d / name).read_text(encoding="utf-8"))
        facts = {k: str(v) for k, v in doc["features"][0]["properties"].items()}
        facts.update(change(doc) or {})
        (d / name).write_text(json.dumps(doc), encoding="utf-8")
        return facts

    return mutate


def set_prop(name: str, prop: str, value: object, index: int = 0) -> Callable[[Path], Facts]:
    def change(doc: dict) -> None:
        doc["features"][index]["properties"][prop] = value

    return edit_geo(name, change)


def rename_prop(name: str, old: str, new: str | None) -> Callable[[Path], Facts]:
    def change(doc: dict) -> None:
        for feature in doc["features"]:
            value = feature["properties"].pop(old)
            if new is not None:
                feature["properties"][new] = value

    return edit_geo(name, change)


def set_geometry(name: str, geometry: object, index: int = 0) -> Callable[[Path], Facts]:
    def change(doc: dict) -> None:
        doc["features"][index]["geometry"] = geometry

    return edit_geo(name, change)


def bowtie(doc: dict) -> None:
    """Make feature 1's ring self-intersecting by swapping two of its corners."""
    ring = doc["features"][0]["geometry"]["coordinates"][0]
    ring[1], ring[2] = ring[2], ring[1]


def open_first_ring(doc: dict) -> None:
    """Drop the closing point of feature 1's outer ring."""
    doc["features"][0]["geometry"]["coordinates"][0].pop()


def open_ring_and_drop_a_shape(doc: dict) -> None:
    """Feature 1's ring left open and feature 2 without a shape: both in one run (the open
    ring once hid every other problem of its file)."""
    open_first_ring(doc)
    doc["features"][1]["geometry"] = None


def step_free_perhaps(doc: dict) -> None:
    """A step_free column of true/false, with 'perhaps' in feature 1."""
    for feature in doc["features"]:
        feature["properties"]["step_free"] = True
    doc["features"][0]["properties"]["step_free"] = "perhaps"


def to_british_national_grid(declare: bool) -> Callable[[dict], None]:
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)

    def change(doc: dict) -> None:
        for feature in doc["features"]:
            x, y = feature["geometry"]["coordinates"]
            feature["geometry"]["coordinates"] = list(to_bng.transform(x, y))
        if declare:
            doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}}

    return change


def orphan_pcn(doc: dict) -> Facts:
    """Give every LSOA of the second PCN to the first, so the second PCN has none."""
    codes = [f["properties"]["pcn_code"] for f in doc["features"]]
    first, second = codes[0], next(c for c in codes if c != codes[0])
    for feature in doc["features"]:
        feature["properties"]["pcn_code"] = first
    return {"orphan": second}


def zero_population_of_second_pcn(doc: dict) -> Facts:
    codes = [f["properties"]["pcn_code"] for f in doc["features"]]
    second = next(c for c in codes if c != codes[0])
    for feature in doc["features"]:
        if feature["properties"]["pcn_code"] == second:
            feature["properties"]["population"] = 0
    return {"second": second}


def without_room_type(room: str) -> Callable[[Path], Facts]:
    """No site has ``room`` rooms, open or openable."""

    def mutate(d: Path) -> Facts:
        rows = csv_rows(d / "capacity.csv")
        write_rows(d / "capacity.csv", [r for r in rows if r[rows[0].index("room_type")] != room])
        rows = csv_rows(d / "opening.csv")
        i = rows[0].index(f"{room}_hours_if_opened")
        for row in rows[1:]:
            row[i] = "0.00"
        write_rows(d / "opening.csv", rows)
        service = next(r for r in csv_rows(d / "services.csv")[1:] if r[3] == room)
        return {"service_id": service[0]}

    return mutate


def practice_without_pcn(doc: dict) -> Facts:
    feature = next(f for f in doc["features"] if f["properties"]["kind"] == "gp_practice")
    feature["properties"]["pcn_code"] = ""
    return {"practice": feature["properties"]["site_id"]}


def opening_for_an_open_band(d: Path) -> Facts:
    """Offer, as an opening option, a band the site is already open in."""
    rows = csv_rows(d / "opening.csv")
    site = rows[1][0]
    rows[1][1] = "weekday"
    write_rows(d / "opening.csv", rows)
    return {"site_id": site}


def baseline_in_a_shut_band(d: Path) -> Facts:
    """Today's hours at a site in a band it has no rooms open in."""
    rows = csv_rows(d / "baseline.csv")
    header = rows[0]
    before = dict(zip(header, rows[1], strict=True))
    rows[1][header.index("band")] = "sunday"
    write_rows(d / "baseline.csv", rows)
    return before


def add_row(name: str, cells: dict[str, str]) -> Callable[[Path], Facts]:
    def mutate(d: Path) -> Facts:
        rows = csv_rows(d / name)
        template = dict(zip(rows[0], rows[1], strict=True))
        template.update(cells)
        rows.append([template[c] for c in rows[0]])
        write_rows(d / name, rows)
        return {**template, "added": str(len(rows))}

    return mutate


def not_a_file(name: str, kind: str) -> Callable[[Path], Facts]:
    """Replace a data file with a folder, a named pipe or a broken symbolic link."""

    def mutate(d: Path) -> Facts:
        (d / name).unlink()
        if kind == "folder":
            (d / name).mkdir()
        elif kind == "fifo":
            os.mkfifo(d / name)
        else:
            (d / name).symlink_to(d / "no_such_target.csv")
        return {}

    return mutate


# --- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One broken input. ``expect`` strings are formatted with the breaking facts."""

    id: str
    mutate: Callable[[Path], Facts | None] | None = None
    expect: tuple[str, ...] = ()
    problems: int | None = None  # exactly this many problems listed, when set
    scenario: str | None = None  # TOML body for a solve case (dataset line added)
    subprocess: bool = False


D = Case  # dataset case: `estates-opt validate DIR`

DATASET_CASES = [
    # missing files
    *(
        D(f"missing-{n.replace('.', '-')}", remove(n), (n, "is missing"), 1)
        for n in (
            "premises.geojson",
            "capacity.csv",
            "pcns.geojson",
            "lsoas.geojson",
            "services.csv",
            "demand.csv",
            "baseline.csv",
        )
    ),
    # empty files
    D("empty-capacity-csv", put("capacity.csv", b""), ("capacity.csv", "is empty"), 1),
    D("blank-lines-demand-csv", put("demand.csv", "\n  \n\n"), ("demand.csv", "is empty"), 1),
    D("empty-premises-geojson", put("premises.geojson", b""), ("premises.geojson", "is empty"), 1),
    D(
        "header-only-demand-csv",
        keep_header_only("demand.csv"),
        ("demand.csv", "no data rows"),
        1,
    ),
    D(
        "header-only-services-csv",
        keep_header_only("services.csv"),
        ("services.csv", "no data rows"),
        1,
    ),
    D(
        "header-only-capacity-csv",
        keep_header_only("capacity.csv"),
        ("capacity.csv", "no data rows"),
        1,
    ),
    D(
        "no-features-lsoas-geojson",
        put("lsoas.geojson", '{"type": "FeatureCollection", "features": []}'),
        ("lsoas.geojson", "has no features"),
        1,
    ),
    # encodings
    D(
        "latin1-services-csv",
        transcode("services.csv", "Diabetes clinic", "Clinique médicale", "latin-1"),
        ("services.csv", "not UTF-8", "line 2"),
        1,
        subprocess=True,
    ),
    D(
        "cp1252-services-csv",
        transcode("services.csv", "Diabetes clinic", "Women’s health", "cp1252"),
        ("services.csv", "not UTF-8", "line 2"),
        1,
    ),
    D(
        "utf16-demand-csv",
        transcode("demand.csv", "pcn_code", "pcn_code", "utf-16"),
        ("demand.csv", "not UTF-8"),
        1,
    ),
    D(
        "latin1-premises-geojson",
        transcode("premises.geojson", "Community site 0", "Centre médical", "latin-1"),
        ("premises.geojson", "not UTF-8"),
        1,
    ),
    D(
        "cp1252-pcns-geojson",
        transcode("pcns.geojson", "Synthetic PCN 0", "St Mary’s PCN", "cp1252"),
        ("pcns.geojson", "not UTF-8"),
        1,
    ),
    # delimiters
    D(
        "semicolon-capacity-csv",
        resave("capacity.csv", lambda t: t.replace(",", ";")),
        ("capacity.csv", "delimiter is not a comma"),
        1,
        subprocess=True,
    ),
    D(
        "tab-demand-csv",
        resave("demand.csv", lambda t: t.replace(",", "\t")),
        ("demand.csv", "delimiter is not a comma"),
        1,
    ),
    D(
        "semicolon-decimal-comma-baseline-csv",
        resave("baseline.csv", lambda t: t.replace(",", ";").replace(".", ",")),
        ("baseline.csv", "delimiter is not a comma"),
        1,
    ),
    # missing, renamed and repeated columns
    D(
        "renamed-column-capacity-hours",
        rename_column("capacity.csv", "capacity_hours", "capacity_hrs"),
        ("capacity.csv", "column 'capacity_hours'", "found 'capacity_hrs'"),
        1,
    ),
    D(
        "missing-column-max-travel-km",
        drop_column("services.csv", "max_travel_km"),
        ("services.csv", "column 'max_travel_km'", "required column is missing"),
        1,
    ),
    D(
        "missing-column-baseline-band",
        drop_column("baseline.csv", "band"),
        ("baseline.csv", "column 'band'"),
        1,
    ),
    D(
        "missing-column-open-cost",
        drop_column("opening.csv", "open_cost_gbp_per_week"),
        ("opening.csv", "column 'open_cost_gbp_per_week'"),
        1,
    ),
    D(
        "uppercase-column-demand",
        rename_column("demand.csv", "pcn_code", "PCN_CODE"),
        ("demand.csv", "column 'pcn_code'", "found 'PCN_CODE'"),
        1,
    ),
    D(
        "repeated-column-capacity",
        rename_column("capacity.csv", "cost_per_hour_gbp", "site_id"),
        ("capacity.csv", "column 'site_id'", "more than once"),
        subprocess=True,
    ),
    D(
        "missing-property-premises-kind",
        rename_prop("premises.geojson", "kind", None),
        ("premises.geojson", "column 'kind'"),
        1,
    ),
    D(
        "renamed-property-lsoas-population",
        rename_prop("lsoas.geojson", "population", "pop"),
        ("lsoas.geojson", "column 'population'"),
        1,
    ),
    D(
        "missing-property-pcn-name",
        rename_prop("pcns.geojson", "pcn_name", None),
        ("pcns.geojson", "column 'pcn_name'"),
        1,
    ),
    # wrong types
    D(
        "text-in-number-capacity-hours",
        set_cell("capacity.csv", "capacity_hours", "forty"),
        ("capacity.csv", "line 2", "site_id={site_id}", "column 'capacity_hours'", "'forty'"),
        1,
    ),
    D(
        "fraction-in-whole-number-rooms",
        set_cell("capacity.csv", "rooms", "2.5"),
        ("capacity.csv", "line 2", "column 'rooms'", "not a whole number"),
        1,
    ),
    D(
        "absurd-room-count",
        set_cell("capacity.csv", "rooms", "5001"),
        ("capacity.csv", "line 2", "column 'rooms'", "above the maximum"),
        1,
    ),
    D(
        "capacity-beyond-its-rooms",
        set_cell("capacity.csv", "capacity_hours", "99999"),
        ("capacity.csv", "line 2", "site_id={site_id}", "column 'capacity_hours'", "room(s) offer"),
        1,
    ),
    D(
        "thousands-separator-demand",
        set_cell("demand.csv", "hours_per_week", "1,234.5"),
        ("demand.csv", "line 2", "service_id={service_id}", "column 'hours_per_week'"),
        1,
    ),
    D(
        "empty-required-cell-services",
        set_cell("services.csv", "max_travel_km", ""),
        ("services.csv", "line 2", "service_id={service_id}", "column 'max_travel_km'", "empty"),
        1,
    ),
    D(
        "fraction-imd-decile-lsoas",
        set_prop("lsoas.geojson", "imd_decile", 3.5),
        ("lsoas.geojson", "feature 1", "lsoa_code={lsoa_code}", "column 'imd_decile'"),
        1,
    ),
    D(
        "unknown-hub-site-pcns",
        set_prop("pcns.geojson", "hub_site_id", "NOSUCH"),
        ("pcns.geojson", "feature 1", "pcn_code={pcn_code}", "column 'hub_site_id'", "NOSUCH"),
        1,
    ),
    D(
        "text-registered-patients-pcns",
        set_prop("pcns.geojson", "registered_patients", "lots"),
        ("pcns.geojson", "feature 1", "pcn_code={pcn_code}", "column 'registered_patients'"),
        1,
    ),
    D(
        "null-population-lsoas",
        set_prop("lsoas.geojson", "population", None),
        ("lsoas.geojson", "feature 1", "column 'population'", "empty"),
        1,
    ),
    D(
        "bad-true-false-step-free",
        edit_geo("premises.geojson", step_free_perhaps),
        ("premises.geojson", "feature 1", "site_id={site_id}", "column 'step_free'", "perhaps"),
        1,
    ),
    D(
        "json-true-for-a-count",  # GDAL read it as 1 patient
        set_prop("pcns.geojson", "registered_patients", True),
        (
            "pcns.geojson",
            "feature 1",
            "pcn_code={pcn_code}",
            "column 'registered_patients'",
            "is true/false (true), not a number",
        ),
        1,
    ),
    D(
        "json-list-for-a-name",  # GDAL read it as the list's text
        set_prop("pcns.geojson", "pcn_name", ["North", "South"]),
        ("pcns.geojson", "feature 1", "column 'pcn_name'", 'is a list (["North", "South"])'),
        1,
    ),
    D(
        "object-in-text-property-kind",
        set_prop("premises.geojson", "kind", {"nested": 1}),
        ("premises.geojson", "feature 1", "column 'kind'"),
        1,
    ),
    # NaN and infinite numbers
    D(
        "nan-capacity-hours",
        set_cell("capacity.csv", "capacity_hours", "nan"),
        ("capacity.csv", "line 2", "column 'capacity_hours'", "not a finite number"),
        1,
    ),
    D(
        "inf-fixed-hours",
        set_cell("capacity.csv", "fixed_hours", "inf"),
        ("capacity.csv", "line 2", "column 'fixed_hours'", "not a finite number"),
        1,
    ),
    D(
        "minus-inf-demand-hours",
        set_cell("demand.csv", "hours_per_week", "-inf"),
        ("demand.csv", "line 2", "column 'hours_per_week'", "not a finite number"),
        1,
    ),
    D(
        "overflow-max-travel-km",
        set_cell("services.csv", "max_travel_km", "1e999"),
        ("services.csv", "line 2", "column 'max_travel_km'", "not a finite number"),
        1,
    ),
    D(
        "nan-literal-population-geojson",
        set_prop("lsoas.geojson", "population", float("nan")),
        ("lsoas.geojson", "feature 1", "lsoa_code={lsoa_code}", "population", "NaN"),
        1,
    ),
    D(
        "infinity-literal-registered-patients",
        set_prop("pcns.geojson", "registered_patients", float("inf")),
        ("pcns.geojson", "feature 1", "registered_patients", "Infinity"),
        1,
    ),
    # negative and inconsistent numbers
    D(
        "negative-capacity-hours",
        set_cell("capacity.csv", "capacity_hours", "-10"),
        ("capacity.csv", "line 2", "column 'capacity_hours'", "below the minimum 0"),
        1,
    ),
    D(
        "negative-cost-per-hour",
        set_cell("capacity.csv", "cost_per_hour_gbp", "-1"),
        ("capacity.csv", "line 2", "column 'cost_per_hour_gbp'", "below the minimum"),
        1,
    ),
    D(
        "negative-open-cost",
        set_cell("opening.csv", "open_cost_gbp_per_week", "-5"),
        ("opening.csv", "line 2", "site_id={site_id}", "column 'open_cost_gbp_per_week'"),
        1,
    ),
    D(
        "negative-population",
        set_prop("lsoas.geojson", "population", -100),
        ("lsoas.geojson", "feature 1", "column 'population'", "below the minimum"),
        1,
    ),
    D(
        "negative-demand-hours",
        set_cell("demand.csv", "hours_per_week", "-3"),
        ("demand.csv", "line 2", "column 'hours_per_week'", "below the minimum"),
        1,
    ),
    D(
        "fixed-hours-above-capacity",
        set_cell("capacity.csv", "fixed_hours", "999"),
        ("capacity.csv", "line 2", "site_id={site_id}", "column 'fixed_hours'", "exceed"),
        1,
    ),
    # duplicate ids
    D(
        "duplicate-site-id",
        edit_geo("premises.geojson", lambda doc: doc["features"].append(doc["features"][0])),
        ("premises.geojson", "duplicate id site_id={site_id}", "column 'site_id'"),
        1,
    ),
    D(
        "duplicate-capacity-row",
        repeat_row("capacity.csv"),
        ("capacity.csv", "duplicate id site_id={site_id}", "lines 2, {copy}"),
        1,
    ),
    D(
        "duplicate-service-id",
        repeat_row("services.csv"),
        ("services.csv", "duplicate id service_id={service_id}", "column 'service_id'"),
        1,
    ),
    D(
        "duplicate-demand-row",
        repeat_row("demand.csv"),
        ("demand.csv", "duplicate id pcn_code={pcn_code}, service_id={service_id}"),
        1,
    ),
    D(
        "duplicate-baseline-row",
        repeat_row("baseline.csv"),
        ("baseline.csv", "duplicate id", "site_id={site_id}"),
        1,
    ),
    D(
        "duplicate-opening-row",
        repeat_row("opening.csv"),
        ("opening.csv", "duplicate id site_id={site_id}, band={band}"),
        1,
    ),
    D(
        "duplicate-lsoa-code",
        edit_geo("lsoas.geojson", lambda doc: doc["features"].append(doc["features"][0])),
        ("lsoas.geojson", "duplicate id lsoa_code={lsoa_code}"),
        1,
    ),
    D(
        "duplicate-pcn-code",
        edit_geo("pcns.geojson", lambda doc: doc["features"].append(doc["features"][0])),
        ("pcns.geojson", "duplicate id pcn_code={pcn_code}"),
        1,
    ),
    # dangling references
    D(
        "capacity-for-unknown-site",
        add_row("capacity.csv", {"site_id": "NOSUCHSITE", "band": "sunday", "rooms": ""}),
        ("capacity.csv", "line {added}", "column 'site_id'", "'NOSUCHSITE'"),
        1,
    ),
    D(
        "baseline-at-unknown-site",
        set_cell("baseline.csv", "site_id", "GHOST01"),
        ("baseline.csv", "line 2", "column 'site_id'", "'GHOST01'"),
        1,
    ),
    D(
        "baseline-in-a-band-the-site-is-shut",
        baseline_in_a_shut_band,
        ("baseline.csv", "line 2", "site_id={site_id}", "column 'band'", "capacity.csv"),
        1,
    ),
    D(
        "demand-for-nothing-that-exists",
        add_row("demand.csv", {"pcn_code": "PCN_NOWHERE", "service_id": "svc_nothing"}),
        ("demand.csv", "line {added}", "'PCN_NOWHERE'", "'svc_nothing'"),
        2,
    ),
    D(
        "demand-for-unknown-service",
        set_cell("demand.csv", "service_id", "pcn_diabets", line=3),
        ("demand.csv", "line 3", "column 'service_id'", "'pcn_diabets'"),
        1,
    ),
    D(
        "lsoa-in-unknown-pcn",
        set_prop("lsoas.geojson", "pcn_code", "P_GONE"),
        ("lsoas.geojson", "feature 1", "column 'pcn_code'", "'P_GONE'"),
        1,
    ),
    D(
        "premises-in-unknown-pcn",
        set_prop("premises.geojson", "pcn_code", "P_GONE"),
        ("premises.geojson", "feature 1", "site_id={site_id}", "'P_GONE'"),
        1,
    ),
    D(
        "opening-for-unknown-site",
        set_cell("opening.csv", "site_id", "NOSUCHSITE"),
        ("opening.csv", "line 2", "column 'site_id'", "'NOSUCHSITE'"),
        1,
    ),
    D(
        "service-room-type-exists-nowhere",
        without_room_type("diagnostics"),
        ("services.csv", "service_id={service_id}", "column 'room_type'", "no site has one"),
        3,  # and baseline.csv's two rows in the rooms that are gone
    ),
    D(
        "pcn-with-no-lsoas",
        edit_geo("lsoas.geojson", orphan_pcn),
        ("pcns.geojson", "pcn_code={orphan}", "no LSOAs"),
        1,
    ),
    D(
        "pcn-with-zero-population",
        edit_geo("lsoas.geojson", zero_population_of_second_pcn),
        ("pcns.geojson", "pcn_code={second}", "zero population"),
        1,
    ),
    D(
        "practice-without-pcn",
        edit_geo("premises.geojson", practice_without_pcn),
        ("premises.geojson", "site_id={practice}", "column 'pcn_code'", "must name its PCN"),
        1,
    ),
    D(
        "opening-option-for-an-open-band",
        opening_for_an_open_band,
        ("opening.csv", "site_id={site_id}", "column 'band'", "already has weekday capacity"),
        1,
    ),
    D(
        "enhanced-access-on-weekdays",
        lambda d: add_row(
            "services.csv",
            {
                "service_id": "ea_weekday",
                "category": "enhanced_access",
                "bands": "weekday;evening",
            },
        )(d),
        ("services.csv", "service_id=ea_weekday", "column 'bands'", "Network Standard Hours"),
        1,
    ),
    # unknown room types, bands, kinds, categories
    D(
        "unknown-room-type",
        set_cell("capacity.csv", "room_type", "consultation"),
        ("capacity.csv", "line 2", "column 'room_type'", "did you mean 'consulting'"),
        1,
    ),
    D(
        "unknown-band-capacity",
        set_cell("capacity.csv", "band", "weekend"),
        ("capacity.csv", "line 2", "column 'band'", "'weekend'"),
        1,
    ),
    D(
        "wrong-case-band-baseline",
        set_cell("baseline.csv", "band", "Weekday"),
        ("baseline.csv", "line 2", "column 'band'", "'Weekday'"),
        1,
    ),
    D(
        "unknown-band-opening",
        set_cell("opening.csv", "band", "holiday"),
        ("opening.csv", "line 2", "column 'band'", "'holiday'"),
        1,
    ),
    D(
        "unknown-site-kind",
        set_prop("premises.geojson", "kind", "hospital"),
        ("premises.geojson", "feature 1", "column 'kind'", "'hospital'"),
        1,
    ),
    D(
        "unknown-band-in-service-list",
        set_cell("services.csv", "bands", "weekday;night"),
        ("services.csv", "line 2", "column 'bands'", "'night'"),
        1,
    ),
    D(
        "unknown-kind-in-service-list",
        set_cell("services.csv", "site_kinds", "gp_practice;clinic"),
        ("services.csv", "line 2", "column 'site_kinds'", "'clinic'"),
        1,
    ),
    D(
        "unknown-category",
        set_cell("services.csv", "category", "outreach"),
        ("services.csv", "line 2", "column 'category'", "'outreach'"),
        1,
    ),
    # geometries
    D(
        "self-intersecting-lsoa",
        edit_geo("lsoas.geojson", bowtie),
        ("lsoas.geojson", "feature 1", "lsoa_code={lsoa_code}", "invalid"),
        1,
    ),
    D(
        "null-geometry-pcn",
        set_geometry("pcns.geojson", None),
        ("pcns.geojson", "feature 1", "pcn_code={pcn_code}", "no geometry"),
        1,
    ),
    D(
        "empty-point-premises",
        set_geometry("premises.geojson", {"type": "Point", "coordinates": []}),
        ("premises.geojson", "feature 1", "site_id={site_id}", "geometry"),
        1,
    ),
    D(
        "empty-collection-premises",
        set_geometry("premises.geojson", {"type": "GeometryCollection", "geometries": []}),
        ("premises.geojson", "feature 1", "empty geometry"),
        1,
    ),
    D(
        "polygon-instead-of-point",
        set_geometry(
            "premises.geojson",
            {
                "type": "Polygon",
                "coordinates": [[[-1.7, 52.8], [-1.6, 52.8], [-1.6, 52.9], [-1.7, 52.8]]],
            },
        ),
        ("premises.geojson", "feature 1", "expected Point"),
        1,
    ),
    D(
        "open-ring-and-no-shape",
        edit_geo("lsoas.geojson", open_ring_and_drop_a_shape),
        ("feature 1", "not closed", "feature 2", "has no geometry"),
        2,
    ),
    D(
        "text-point-coordinates",
        set_geometry("premises.geojson", {"type": "Point", "coordinates": ["a", "b"]}),
        ("premises.geojson", "feature 1", "site_id={site_id}", "not a number ('a')"),
        1,
    ),
    D(
        "unclosed-polygon-ring",
        edit_geo("lsoas.geojson", open_first_ring),
        ("lsoas.geojson", "feature 1", "lsoa_code={lsoa_code}", "not closed"),
        1,
    ),
    D(
        "point-instead-of-polygon",
        set_geometry("lsoas.geojson", {"type": "Point", "coordinates": [-1.69, 52.84]}),
        ("lsoas.geojson", "feature 1", "is a Point; expected Polygon or MultiPolygon"),
        1,
    ),
    D(
        "geometry-is-a-string",
        set_geometry("premises.geojson", "POINT (-1.69 52.84)"),
        ("premises.geojson", "feature 1", "geometry"),
        1,
    ),
    D(
        "swapped-lon-lat",
        set_geometry("premises.geojson", {"type": "Point", "coordinates": [52.84, -1.69]}),
        ("premises.geojson", "feature 1", "site_id={site_id}", "outside Great Britain"),
        1,
    ),
    D(
        "huge-coordinates",
        set_geometry("premises.geojson", {"type": "Point", "coordinates": [1e308, 1e308]}),
        ("premises.geojson", "feature 1", "outside Great Britain"),
        1,
    ),
    D(
        "nan-coordinates",
        set_geometry("premises.geojson", {"type": "Point", "coordinates": [float("nan"), 52.8]}),
        ("premises.geojson", "feature 1", "site_id={site_id}", "NaN"),
        1,
    ),
    # coordinate reference systems
    D(
        "projected-crs-declared",
        edit_geo("premises.geojson", to_british_national_grid(declare=True)),
        ("premises.geojson", "EPSG:27700", "longitude/latitude"),
        1,
        subprocess=True,
    ),
    D(
        "projected-coordinates-without-crs",
        edit_geo("premises.geojson", to_british_national_grid(declare=False)),
        ("premises.geojson", "feature 1", "outside Great Britain", "wrong CRS"),
    ),
    D(
        "unknown-crs-declared",
        edit_geo(
            "premises.geojson",
            lambda doc: doc.__setitem__(
                "crs", {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::99999"}}
            ),
        ),
        ("premises.geojson", "CRS", "EPSG::99999"),
        1,
    ),
    D(
        "crs-member-not-an-object",
        edit_geo("pcns.geojson", lambda doc: doc.__setitem__("crs", "EPSG:27700")),
        ("pcns.geojson", "CRS"),
        1,
    ),
    # not GeoJSON at all
    D(
        "geojson-that-is-csv-text",
        put("premises.geojson", "site_id,name\nA1,Somewhere\n"),
        ("premises.geojson", "not valid JSON", "line 1"),
        1,
        subprocess=True,
    ),
    D(
        "truncated-geojson",
        resave("lsoas.geojson", lambda t: t[: len(t) // 2]),
        ("lsoas.geojson", "not valid JSON"),
        1,
    ),
    D(
        "json-list-not-feature-collection",
        put("pcns.geojson", "[]"),
        ("pcns.geojson", "not a GeoJSON FeatureCollection"),
        1,
    ),
    D(
        "features-not-a-list",
        edit_geo("premises.geojson", lambda doc: doc.__setitem__("features", {"a": 1})),
        ("premises.geojson", "features"),
        1,
    ),
    D(
        "feature-not-an-object",
        edit_geo("premises.geojson", lambda doc: doc["features"].append(5)),
        ("premises.geojson", "feature 10", "not a GeoJSON Feature"),
        1,
    ),
    D(
        "properties-not-an-object",
        edit_geo("premises.geojson", lambda doc: doc["features"][0].__setitem__("properties", [1])),
        ("premises.geojson", "feature 1", "properties"),
        1,
    ),
    # CSV structure
    D(
        "ragged-row",
        resave("capacity.csv", lambda t: t.replace("\n", ",extra\n", 2).replace(",extra", "", 1)),
        ("capacity.csv", "line 2", "fields but the header has"),
        1,
    ),
    D(
        # a lone CR (an editor's stray line end) splits line 2 into two records
        "lone-carriage-return",
        resave("capacity.csv", _lone_cr_in_line_2),
        ("capacity.csv", "line 2", "fields but the header has", "carriage return (CR)"),
        2,
    ),
    D(
        "unclosed-quote",
        resave("demand.csv", lambda t: t.replace(",", ',"', 4).replace(',"', ",", 3)),
        ("demand.csv", "line 2", "quote"),
        1,
    ),
    D("not-a-folder", None, ("no_such_folder: does not exist",), 1),
    # round two: control characters (terminal escapes, bidi overrides) in any text cell
    D(
        "escape-sequence-in-csv-name",
        set_cell("services.csv", "name", "Clinic\x1b[2J\x1b]0;pwned\x07"),
        ("services.csv", "line 2", "column 'name'", "control characters (\\x1b, \\x07)"),
        1,
    ),
    D(
        "escape-sequence-in-geojson-name",
        set_prop("premises.geojson", "name", "Surgery\x1b[31m"),
        ("premises.geojson", "feature 1", "column 'name'", "control characters (\\x1b)"),
        1,
    ),
    D(
        "bidi-override-in-id",
        set_cell("demand.csv", "service_id", "\u202e" + "x"),
        ("demand.csv", "line 2", "column 'service_id'", "\\u202e"),
    ),
    D(
        "nul-in-number",
        set_cell("capacity.csv", "capacity_hours", "4\x000"),
        ("capacity.csv", "column 'capacity_hours'", "\\x00"),
        1,
    ),
    # round two: values above a maximum; data files that are not files
    D(
        "imd-decile-eleven",
        set_prop("lsoas.geojson", "imd_decile", 11),
        ("lsoas.geojson", "feature 1", "column 'imd_decile'", "above the maximum 10"),
        1,
    ),
    D(
        "travel-limit-absurd",
        set_cell("services.csv", "max_travel_km", "5000"),
        ("services.csv", "column 'max_travel_km'", "above the maximum 500"),
        1,
    ),
    D(
        "data-file-is-a-folder",
        not_a_file("capacity.csv", "folder"),
        ("capacity.csv", "is a folder, not a file"),
        1,
    ),
    D(
        "data-file-is-a-fifo",
        not_a_file("demand.csv", "fifo"),
        ("demand.csv", "is a named pipe (FIFO)"),
        1,
    ),
    D(
        "data-file-is-a-broken-link",
        not_a_file("baseline.csv", "link"),
        ("baseline.csv", "broken symbolic link"),
        1,
    ),
]


def _new_site(extra: str = "", rooms: str = "rooms = {{consulting = 2}}\n") -> str:
    return (
        '[[buildings.new]]\nsite_id = "NEW1"\nname = "New clinic"\nkind = "community"\n'
        "lon = -1.69\nlat = 52.84\n" + rooms + extra
    )


def _pin(hours: str = "2", site: str = "{community}", extra: str = "") -> str:
    return (
        '[[pinned]]\npcn_code = "{pcn0}"\nservice_id = "{clinic}"\n'
        f'site_id = "{site}"\nband = "weekday"\nhours_per_week = {hours}\n{extra}'
    )


def S(case_id: str, body: str, expect: tuple[str, ...], **kw) -> Case:  # noqa: N802
    """A scenario case: `estates-opt solve SCENARIO --out OUT --no-maps`."""
    return Case(case_id, scenario=body, expect=expect, **kw)


MATRIX = '[travel]\nmatrix = "matrix.csv"\n'

SCENARIO_CASES = [
    S("not-toml", "this is = = not toml\n", ("not valid TOML", "line 2"), subprocess=True),
    S("scenario-latin1", "description = 'caf\xe9'\n", ("not valid TOML",)),
    S(
        "unknown-top-level-key",
        "grwoth = 1.2\n",
        ("'grwoth'", "did you mean 'growth'"),
        subprocess=True,
    ),
    S("misspelt-section", "[weight]\ncost = 2\n", ("'weight'", "did you mean 'weights'")),
    S("unknown-nested-key", "[weights]\ntravle = 2\n", ("'weights.travle'",)),
    S("unknown-key-in-new-site", _new_site('colour = "red"\n'), ("buildings.new[0].colour",)),
    S(
        "two-out-of-range-values",
        "[weights]\ncost = -1\n[caps]\ncommunity = 1.5\n",
        ("'weights.cost'", "'caps.community'", "less than or equal to 1"),
        problems=2,
    ),
    S("cap-zero", "[caps]\nacute = 0\n", ("'caps.acute'", "greater than 0")),
    S("weight-as-text", '[weights]\ncost = "high"\n', ("'weights.cost'", "number")),
    S("weight-infinite", "[weights]\ncost = inf\n", ("'weights.cost'", "finite")),
    S(
        "unmet-weight-infinite",
        "[weights]\nunmet_gbp_per_hour = inf\n",
        ("unmet_gbp_per_hour", "finite"),
    ),
    S("growth-nan", "[growth]\noverall = nan\n", ("'growth.overall'", "finite")),
    S(
        "growth-too-big",
        "[growth]\noverall = 20\n",
        ("'growth.overall'", "less than or equal to 10"),
    ),
    S(
        "movable-share-above-one",
        "[movable.share]\n{clinic} = 1.5\n",
        ("movable.share", "between 0 and 1"),
    ),
    S(
        "movable-share-unknown-service",
        "[movable.share]\nno_such_clinic = 0.5\n",
        ("movable.share", "no_such_clinic"),
    ),
    S(
        "movable-share-unknown-kind",
        "[movable.share_by_kind.{clinic}]\nhospital = 0.5\n",
        ("movable.share_by_kind", "hospital"),
    ),
    S(
        "growth-negative-factor",
        "[growth.by_service]\n{clinic} = -1\n",
        ("growth.by_service", "between 0 and 10"),
    ),
    S(
        "growth-unknown-service",
        "[growth.by_service]\npcn_diabets = 2\n",
        ("growth.by_service", "'pcn_diabets'", "did you mean"),
    ),
    S(
        "growth-unknown-borough",
        '[growth.by_borough]\n"Nowhere" = 2\n',
        ("growth.by_borough", "'Nowhere'"),
    ),
    S(
        "circuity-below-one",
        "[travel]\ncircuity = 0.5\n",
        ("'travel.circuity'", "greater than or equal to 1"),
    ),
    S(
        "travel-limit-unknown-service",
        "[travel.max_km_by_service]\nnope = 2\n",
        ("travel.max_km_by_service", "'nope'"),
    ),
    S(
        "travel-limit-out-of-range",
        "[travel.max_km_by_service]\n{clinic} = 900\n",
        ("max_km_by_service", "between 0 and 500"),
    ),
    S(
        "matrix-file-missing",
        '[travel]\nmatrix = "nowhere.csv"\n',
        ("travel.matrix", "nowhere.csv", "not found"),
    ),
    S(
        "matrix-missing-lsoa-rows",
        MATRIX,
        ("matrix.csv", "PCN {pcn0}", "site {first_site}", "only 2 of its 3 LSOAs"),
        problems=1,
        subprocess=True,
    ),
    S("matrix-pcn-without-rows", MATRIX, ("matrix.csv", "no rows for PCN {pcn1}"), problems=1),
    S(
        "matrix-unknown-site",
        MATRIX,
        ("matrix.csv", "line 2", "column 'site_id'", "'NOSUCHSITE'"),
        problems=1,
    ),
    S(
        "matrix-negative-and-nan",
        MATRIX,
        ("matrix.csv", "line 2", "line 3", "column 'travel_km'", "'-1'", "'nan'"),
        problems=2,
    ),
    S(
        "matrix-no-travel-column",
        MATRIX,
        ("matrix.csv", "column 'travel_km'", "no travel column"),
        problems=1,
    ),
    S(
        "matrix-repeated-pair",
        MATRIX,
        ("matrix.csv", "line 3", "{first_site}", "more than once"),
        problems=1,
    ),
    S(
        "matrix-repeated-column",
        MATRIX,
        ("matrix.csv", "column 'site_id'", "more than once"),
        problems=1,
    ),
    S("matrix-semicolons", MATRIX, ("matrix.csv", "delimiter is not a comma"), problems=1),
    S(
        "matrix-unknown-origin",
        MATRIX,
        ("matrix.csv", "'NOWHERE'", "neither an LSOA nor a PCN"),
        problems=1,
    ),
    S(
        "close-unknown-site",
        '[buildings]\nclose = ["NOSUCHSITE"]\n',
        ("buildings.close", "'NOSUCHSITE'"),
    ),
    S("close-every-site", "[buildings]\nclose = {all_sites}\n", ("buildings.close", "every site")),
    S(
        "new-site-without-rooms",
        _new_site(rooms="rooms = {{}}\n"),
        ("buildings.new", "'NEW1' has no rooms"),
    ),
    S("new-site-rooms-missing", _new_site(rooms=""), ("buildings.new[0].rooms", "required")),
    S(
        "new-site-zero-rooms",
        _new_site(rooms="rooms = {{consulting = 0}}\n"),
        ("'NEW1' has no rooms",),
    ),
    S(
        "new-site-absurd-room-count",  # 9,999,999,999,999 rooms passed
        _new_site(rooms="rooms = {{consulting = 9999999999999}}\n"),
        ("buildings.new", "9,999,999,999,999", "more than 1,000 rooms"),
    ),
    S(
        "new-site-unknown-room-type",
        _new_site(rooms="rooms = {{consult = 2}}\n"),
        ("'consult'", "consulting"),
    ),
    S(
        "new-site-id-taken",
        _new_site().replace("NEW1", "{community}"),
        ("buildings.new[0]", "'{community}' already exists"),
    ),
    S(
        "new-site-out-of-area",
        _new_site().replace("52.84", "82.84"),
        ("buildings.new[0].lat", "60.9"),
    ),
    S(
        "new-hub-without-pcn",
        _new_site().replace('"community"', '"pcn_hub"'),
        ("buildings.new", "'NEW1' needs a pcn_code"),
    ),
    S(
        "new-site-unknown-pcn",
        _new_site('pcn_code = "P_GONE"\n'),
        ("buildings.new[0].pcn_code", "'P_GONE'"),
    ),
    S(
        "capacity-change-on-closed-site",
        '[buildings]\nclose = ["{community}"]\n[[buildings.capacity]]\nsite_id = "{community}"\nfactor = 2\n',
        ("buildings.capacity[0].site_id", "closed by buildings.close"),
    ),
    S(
        "capacity-change-unknown-site",
        '[[buildings.capacity]]\nsite_id = "NOSUCHSITE"\nfactor = 2\n',
        ("buildings.capacity[0].site_id", "'NOSUCHSITE'"),
    ),
    S(
        "opening-change-without-option",
        '[[buildings.opening]]\nsite_id = "{community}"\nband = "sunday"\n',
        ("buildings.opening[0]", "no opening option for sunday"),
    ),
    S(
        "pin-unknown-ids",
        '[[pinned]]\npcn_code = "P9"\nservice_id = "x"\nsite_id = "Y"\nband = "weekday"\n'
        "hours_per_week = 2\n",
        ("pinned[0].pcn_code", "pinned[0].service_id", "pinned[0].site_id"),
        problems=3,
    ),
    S("pin-negative-hours", _pin("-2"), ("'pinned[0].hours_per_week'", "greater than 0")),
    S(
        "pin-not-allowed",
        _pin(site="{acute}"),
        ("pinned[0] (", "{acute}", "is not a site kind {clinic} may use"),
        problems=1,
    ),
    S(
        "pin-in-a-band-the-service-never-runs",
        _pin().replace('band = "weekday"', 'band = "sunday"')
        + "[growth]\nby_service = {{ nope = 2 }}\n",
        ("pinned[0] (", "{clinic} runs only in", "growth.by_service"),
        problems=2,
    ),
    S(
        "pin-larger-than-the-room",
        _pin("5000"),
        ("pinned[0]", "{community}", "free there under the 90% cap", "more than its demand"),
        problems=2,
    ),
    S("pin-above-demand", _pin("20"), ("pinned[0]", "more than its demand"), problems=1),
    S(
        "pins-beyond-move-budget",
        _pin("2") + "[options]\nmove_budget_hours = 1\n",
        ("move_budget_hours = 1",),
        problems=1,
    ),
    S("extends-self", 'extends = "scenario.toml"\n', ("'extends' makes a loop",)),
    S(
        "extends-loop",
        'extends = "a.toml"\n',
        ("'extends' makes a loop", "a.toml -> b.toml -> a.toml"),
        subprocess=True,
    ),
    S("extends-missing", 'extends = "nowhere.toml"\n', ("nowhere.toml", "not found")),
    S("extends-not-text", "extends = 5\n", ("'extends' must be a file name",)),
    S(
        "dataset-folder-missing",
        'dataset = "/nonexistent/estates/data"\n',
        ("key 'dataset': '/nonexistent/estates/data'", "does not exist"),
    ),
    S("dataset-not-text", "dataset = 5\n", ("'dataset'", "string")),
    S("dataset-broken", "", ("capacity.csv", "line 2", "column 'capacity_hours'", "Fix:")),
    S("name-not-a-folder-name", 'name = "../evil"\n', ("'name'", "cannot be a folder name")),
    S("solver-unknown", '[solver]\nname = "gurobi"\n', ("'solver.name'", "'highs' or 'cbc'")),
    S(
        "time-limit-zero",
        "[solver]\ntime_limit_s = 0\n",
        ("'solver.time_limit_s'", "greater than 0"),
    ),
    S("mip-gap-above-one", "[solver]\nmip_gap = 2\n", ("'solver.mip_gap'",)),
    S("threads-zero", "[solver]\nthreads = 0\n", ("'solver.threads'",)),
    S(
        "highs-option-writes-an-input-file",
        '[solver.highs_options]\nwrite_solution_to_file = true\nsolution_file = "demand.csv"\n',
        ("'write_solution_to_file'", "'solution_file'", "refused"),
        subprocess=True,
    ),
    S(
        "highs-option-unknown",
        "[solver.highs_options]\nno_such_option = 1\n",
        ("no_such_option", "HiGHS"),
    ),
    S(
        "opening-band-unknown",
        '[options]\nopening_bands = ["night"]\n',
        ("'options.opening_bands[0]'", "'weekday'"),
    ),
    S(
        "move-budget-negative",
        "[options]\nmove_budget_hours = -1\n",
        ("'options.move_budget_hours'",),
    ),
    S("new-sites-not-a-list", '[buildings]\nnew = "NEW1"\n', ("'buildings.new'", "list")),
    S("pinned-not-a-list", '[pinned]\npcn_code = "x"\n', ("'pinned'", "list")),
    S("scenario-file-missing", "", ("scenario file not found",)),
    # round two: hostile TOML, booleans as numbers, repeated ids, matrices that are not tables
    S(
        "toml-nested-50000-deep",
        "x = " + "[" * 50_000 + "]" * 50_000 + "\n",
        ("nested too deeply",),
    ),
    S("toml-dotted-table-deep", "[" + ".".join(["growth"] * 30) + "]\n", ("nested more than 20",)),
    S("bool-as-cap", "[caps]\ngp_practice = true\n", ("'caps.gp_practice'", "not a number")),
    S("bool-as-weight", "[weights]\ncost = false\n", ("'weights.cost'", "not a number")),
    S("bool-as-thread-count", "[solver]\nthreads = true\n", ("'solver.threads'", "not a number")),
    S(
        "bool-as-growth-factor",
        "[growth.by_service]\n{clinic} = true\n",
        ("growth.by_service", "not a number"),
    ),
    S(
        "bool-as-room-count",
        _new_site(rooms="rooms = {{consulting = true}}\n"),
        ("rooms.consulting", "not a number"),
    ),
    S("text-as-time-limit", '[solver]\ntime_limit_s = "60"\n', ("'solver.time_limit_s'",)),
    S(
        "new-site-ids-repeated",
        _new_site() + _new_site(),
        ("site_id 'NEW1'", "buildings.new[0] and buildings.new[1]"),
        problems=1,
    ),
    S(
        "escape-sequence-in-description",
        'description = "ok\\u001b]0;pwned\\u0007"\n',
        ("'description'", "control characters (\\x1b, \\x07)"),
    ),
    S(
        "escape-sequence-in-key",
        '[growth.by_service]\n"a\\u001b" = 2\n',
        ("has control characters in its name",),
    ),
    S(
        "matrix-is-geojson",
        '[travel]\nmatrix = "matrix.geojson"\n',
        ("matrix.geojson", "is GeoJSON/JSON, not a table"),
    ),
    S(
        "matrix-is-a-folder",
        '[travel]\nmatrix = "matrix_folder"\n',
        ("travel.matrix", "is a folder, not a file"),
    ),
]

#: Inputs that look odd but are valid: exit 0 and the files untouched.
VALID_CASES = [
    D("bom-on-every-csv", None),
    D("bom-on-geojson", resave("premises.geojson", str, prefix=b"\xef\xbb\xbf"), subprocess=True),
    D("crlf-line-ends", None),
    D("no-opening-file", remove("opening.csv")),
    D("extra-unknown-column", None),
    D("quoted-cells-and-blank-lines", None),
]


def _bom_everywhere(d: Path) -> None:
    for path in d.glob("*.csv"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def _crlf(d: Path) -> None:
    for path in d.glob("*.csv"):
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def _extra_column(d: Path) -> None:
    rows = csv_rows(d / "capacity.csv")
    write_rows(d / "capacity.csv", [[*r, "notes" if i == 0 else "x"] for i, r in enumerate(rows)])


def _quoted(d: Path) -> None:
    rows = csv_rows(d / "services.csv")
    with (d / "services.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
        handle.write("\n\n")


VALID_MUTATIONS = {
    "bom-on-every-csv": _bom_everywhere,
    "crlf-line-ends": _crlf,
    "extra-unknown-column": _extra_column,
    "quoted-cells-and-blank-lines": _quoted,
}


# --- scenario side files -----------------------------------------------------------------


def _matrix_rows(data: Path) -> tuple[list[tuple[str, str, str]], dict[str, list[str]], list[str]]:
    lsoas = json.loads((data / "lsoas.geojson").read_text(encoding="utf-8"))["features"]
    sites = json.loads((data / "premises.geojson").read_text(encoding="utf-8"))["features"]
    site_ids = [f["properties"]["site_id"] for f in sites]
    by_pcn: dict[str, list[str]] = {}
    for f in lsoas:
        by_pcn.setdefault(f["properties"]["pcn_code"], []).append(f["properties"]["lsoa_code"])
    rows = [(code, s, "1.50") for codes in by_pcn.values() for code in codes for s in site_ids]
    return rows, by_pcn, site_ids


def _write_matrix(path: Path, rows, header: str = "origin,site_id,travel_km") -> None:
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")


def side_files(case_id: str, data: Path, folder: Path) -> None:
    """Write what a scenario case needs next to it (travel matrix, parent scenarios)."""
    rows, by_pcn, sites = _matrix_rows(data)
    first_pcn, second_pcn = sorted(by_pcn)[:2]
    matrix = folder / "matrix.csv"
    if case_id == "matrix-missing-lsoa-rows":
        _write_matrix(matrix, [r for r in rows if (r[0], r[1]) != (by_pcn[first_pcn][0], sites[0])])
    elif case_id == "matrix-pcn-without-rows":
        _write_matrix(matrix, [r for r in rows if r[0] not in by_pcn[second_pcn]])
    elif case_id == "matrix-unknown-site":
        _write_matrix(matrix, [(rows[0][0], "NOSUCHSITE", "1.0"), *rows[1:]])
    elif case_id == "matrix-negative-and-nan":
        _write_matrix(matrix, [(*rows[0][:2], "-1"), (*rows[1][:2], "nan"), *rows[2:]])
    elif case_id == "matrix-no-travel-column":
        _write_matrix(matrix, [r[:2] for r in rows], header="origin,site_id")
    elif case_id == "matrix-repeated-pair":
        _write_matrix(matrix, [rows[0], rows[0], *rows[1:]])
    elif case_id == "matrix-repeated-column":
        _write_matrix(matrix, [(*r, r[1]) for r in rows], header="origin,site_id,km,site_id")
    elif case_id == "matrix-semicolons":
        matrix.write_text("origin;site_id;km\n" + "".join(";".join(r) + "\n" for r in rows))
    elif case_id == "matrix-unknown-origin":
        _write_matrix(matrix, [("NOWHERE", *rows[0][1:]), *rows[1:]])
    elif case_id == "matrix-is-geojson":
        shutil.copy(data / "premises.geojson", folder / "matrix.geojson")
    elif case_id == "matrix-is-a-folder":
        (folder / "matrix_folder").mkdir()
    elif case_id == "extends-loop":
        (folder / "a.toml").write_text(f'extends = "b.toml"\ndataset = "{data}"\n')
        (folder / "b.toml").write_text('extends = "a.toml"\n')


# --- running -----------------------------------------------------------------------------


def cli_command() -> list[str]:
    script = Path(sys.executable).parent / "estates-opt"
    if script.is_file():
        return [str(script)]
    found = shutil.which("estates-opt")
    assert found, "the estates-opt console script is not installed"
    return [found]


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    output: str


def run_cli(args: list[str], cwd: Path, in_subprocess: bool) -> Outcome:
    if in_subprocess:
        done = subprocess.run(
            [*cli_command(), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Outcome(done.returncode, done.stdout + done.stderr)
    result = CliRunner().invoke(app, args, catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"the CLI raised {type(result.exception).__name__}: {result.exception}\n{result.output}"
    )
    return Outcome(result.exit_code, result.output)


pytestmark = pytest.mark.usefixtures("restore_logging")


def sha256_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


PROBLEM_LINE = re.compile(r"^  - (.+)$", re.MULTILINE)


def problem_lines(output: str) -> list[str]:
    """One line per problem: the CLI lists them as '  - ...'."""
    return PROBLEM_LINE.findall(output)


#: Words that tell a user what to do about a scenario key.
ACTIONABLE = (
    "Fix:",
    "did you mean",
    "should be",
    "must be",
    "must ",
    "use ",
    "give ",
    "see models/README.md",
    "check the spelling",
    "required: add it",
    "remove",
    "keep ",
    "lower ",
    "raise ",
    "needs",
    "not found",
    "is not in the dataset",
    "not valid TOML",
)


def check_common(outcome: Outcome, expected_code: int = 2) -> None:
    assert "Traceback" not in outcome.output, outcome.output
    assert outcome.exit_code == expected_code, (
        f"exit code {outcome.exit_code}, expected {expected_code}:\n{outcome.output}"
    )


@pytest.fixture(scope="module")
def facts(tiny_dir) -> Facts:
    """Ids of the intact tiny dataset that scenario cases refer to."""
    sites = json.loads((tiny_dir / "premises.geojson").read_text(encoding="utf-8"))["features"]
    by_kind: dict[str, str] = {}
    for feature in sites:
        by_kind.setdefault(feature["properties"]["kind"], feature["properties"]["site_id"])
    services = csv_rows(tiny_dir / "services.csv")
    clinic = next(r[0] for r in services[1:] if r[2] == "pcn_clinic" and r[3] == "consulting")
    _, by_pcn, site_ids = _matrix_rows(tiny_dir)
    pcns = sorted(by_pcn)
    return {
        "community": by_kind["community"],
        "acute": by_kind["acute"],
        "practice": by_kind["gp_practice"],
        "clinic": clinic,
        "pcn0": pcns[0],
        "pcn1": pcns[1],
        "first_site": site_ids[0],
        "all_sites": json.dumps(site_ids),
    }


@pytest.mark.parametrize("case", DATASET_CASES, ids=lambda c: c.id)
def test_bad_dataset_exits_2_with_one_actionable_message_per_problem(case, tiny_copy, tmp_path):
    target = tiny_copy if case.id != "not-a-folder" else tiny_copy / "no_such_folder"
    found = (case.mutate(tiny_copy) if case.mutate else None) or {}
    before = sha256_tree(tmp_path)
    outcome = run_cli(["validate", str(target)], tmp_path, case.subprocess)
    check_common(outcome)
    assert sha256_tree(tmp_path) == before, "validate changed or created files"

    lines = problem_lines(outcome.output)
    assert f"Input error: {len(lines)} problem(s)" in outcome.output, outcome.output
    if case.problems is not None:
        assert len(lines) == case.problems, "\n".join(lines)
    for line in lines:
        assert re.match(r"\S+\.(csv|geojson)\b|\S*no_such_folder:", line), (
            f"the message does not start with the file: {line}"
        )
        assert " Fix: " in line, f"no fix in: {line}"
    for text in case.expect:
        wanted = text.format(**found)
        assert any(wanted in line for line in lines), f"{wanted!r} not in:\n" + "\n".join(lines)


@pytest.mark.parametrize("case", SCENARIO_CASES, ids=lambda c: c.id)
def test_bad_scenario_exits_2_and_writes_nothing(case, tiny_copy, tmp_path, facts):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    data = tiny_copy
    if case.id == "dataset-broken":
        set_cell("capacity.csv", "capacity_hours", "forty")(data)
    side_files(case.id, data, folder)
    body = case.scenario.format(**facts)
    if not body.lstrip().startswith(("dataset", "extends")):
        body = f'dataset = "{data.as_posix()}"\n' + body
    elif body.startswith("extends") and "a.toml" not in body:
        body += f'dataset = "{data.as_posix()}"\n'
    scenario = folder / "scenario.toml"
    scenario.write_bytes(body.encode("latin-1" if case.id == "scenario-latin1" else "utf-8"))
    if case.id == "scenario-file-missing":
        scenario.unlink()
    out = tmp_path / "out"
    before = sha256_tree(tmp_path)
    outcome = run_cli(
        ["solve", str(scenario), "--out", str(out), "--no-maps"], tmp_path, case.subprocess
    )
    check_common(outcome)
    assert not out.exists(), "a failed solve created the output folder"
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "maps").exists()
    assert sha256_tree(tmp_path) == before, "inputs were modified"

    lines = problem_lines(outcome.output)
    assert lines, f"no problem listed:\n{outcome.output}"
    if case.problems is not None:
        assert len(lines) == case.problems, "\n".join(lines)
    for line in lines:
        assert any(word in line for word in ACTIONABLE), f"nothing actionable in: {line}"
    # The file is named: the scenario (or its parent) for scenario keys, the data file otherwise.
    assert re.search(r"(scenario|a|b)\.toml|\.csv|\.geojson|is not a folder|pinned", outcome.output)
    for text in case.expect:
        wanted = text.format(**facts)
        assert any(wanted in line for line in lines), f"{wanted!r} not in:\n" + "\n".join(lines)


@pytest.mark.parametrize("case", VALID_CASES, ids=lambda c: c.id)
def test_odd_but_valid_input_exits_0_and_is_untouched(case, tiny_copy, tmp_path):
    mutate = case.mutate or VALID_MUTATIONS[case.id]
    mutate(tiny_copy)
    before = sha256_tree(tmp_path)
    outcome = run_cli(["validate", str(tiny_copy), "--quiet"], tmp_path, case.subprocess)
    check_common(outcome, expected_code=0)
    assert "valid" in outcome.output
    assert sha256_tree(tmp_path) == before


def test_the_corpus_is_big_enough_and_ids_are_unique():
    ids = [c.id for c in (*DATASET_CASES, *SCENARIO_CASES, *VALID_CASES)]
    assert len(ids) == len(set(ids))
    assert len(DATASET_CASES) + len(SCENARIO_CASES) >= 60
    assert 8 <= sum(c.subprocess for c in (*DATASET_CASES, *SCENARIO_CASES, *VALID_CASES)) <= 12
