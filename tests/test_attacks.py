"""Attacks, round two (issue 15): one test per class of problem, most through the real CLI.

* Formula cells: text a spreadsheet would run (``=HYPERLINK(...)``, ``+``, ``-``,
  ``@``, tab, CR) is neutralised in every CSV output; numbers are untouched.
* Control characters: refused at input, escaped in every text output, the
  terminal included; the workbook never raises ``IllegalCharacterError``.
* All or nothing: tables, KPIs, GeoPackage, workbook and maps are committed
  together, so a failure at the maps leaves the earlier plan and maps intact.
* Ctrl-C during a solve stops HiGHS promptly: one line, exit 130, nothing written.
* Write failures (disk full, file size limit) name the file, give no traceback and
  leave the earlier plan intact (exit 3).
* Corrupt plan folders are refused by ``explain`` and ``map`` with exit 2.
* Scenario files: deep nesting, booleans as numbers (Hypothesis over TOML).
* Wrong diagnoses: an iteration limit is reported as one; outputs inside the
  dataset folder (or through a symbolic link to it) are refused.
* Determinism: every input file's rows shuffled give byte-identical outputs.

The console-script cases run ``estates-opt`` in a subprocess: the real entry
point, its exit code and everything it prints.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import hashlib
import io
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from typer.testing import CliRunner

import estates_opt.outputs.files as files_module
import estates_opt.outputs.maps.pages as pages_module
from estates_opt import read_dataset
from estates_opt.cli import app
from estates_opt.errors import InputDataError, OutputWriteError, ScenarioError
from estates_opt.outputs.files import csv_text
from estates_opt.outputs.plan_folder import read_plan, write_plan
from estates_opt.outputs.workbook import write_workbook
from estates_opt.pipeline import solve
from estates_opt.scenario import Scenario, load_scenario
from estates_opt.text import CONTROL_RE, FORMULA_PREFIXES, escape_control, is_formula

SCRIPT = str(Path(sys.executable).parent / "estates-opt")
FORMULAS = [
    '=HYPERLINK("http://evil.example","click")',
    "=cmd|' /C calc'!A0",
    "+SUM(1,2)",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",
]
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- helpers -----------------------------------------------------------------------------


def cli(args: list[str], cwd: Path, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [SCRIPT, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw
    )
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    assert "Exception ignored" not in output, output
    return done


def tree(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` (hidden ones included: nothing may be left)."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def scenario_file(path: Path, data: Path, body: str = "") -> Path:
    path.write_text(f'dataset = "{data.as_posix()}"\n{body}', encoding="utf-8")
    return path


def edit_features(path: Path, change) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    for i, feature in enumerate(doc["features"]):
        change(i, feature["properties"])
    path.write_text(json.dumps(doc), encoding="utf-8")


def edit_csv(path: Path, column: str, values, lineterminator: str = "\n") -> None:
    """Set ``column`` of every data row to ``values(n)``; the writer quotes a value holding
    a character of ``lineterminator`` (with "\\n" alone, a bare CR is left unquoted, and a
    CSV reader rightly ends the record there)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    i = rows[0].index(column)
    for n, row in enumerate(rows[1:]):
        row[i] = values(n)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator=lineterminator).writerows(rows)


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string (control characters, quotes and backslashes escaped)."""
    escaped = "".join(
        f"\\u{ord(c):04x}" if c in '"\\' or ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text
    )
    return f'"{escaped}"'


def csv_cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(scope="module")
def tiny_plan(tiny_dir, tmp_path_factory):
    path = scenario_file(tmp_path_factory.mktemp("scenario") / "tiny.toml", tiny_dir)
    return solve(read_dataset(tiny_dir), load_scenario(path))


@pytest.fixture
def earlier(tmp_path, tiny_dir, tiny_plan):
    """A folder holding an earlier plan (``out``) and its maps (``maps``)."""
    out, maps = tmp_path / "out", tmp_path / "maps"
    write_plan(tiny_plan, out, maps_dir=maps)
    return out, maps


# --- 2. formula cells ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def poisoned_dir(tiny_dir, tmp_path_factory) -> Path:
    """The tiny dataset with every name a formula."""
    data = tmp_path_factory.mktemp("poisoned") / "data"
    shutil.copytree(tiny_dir, data)

    def name(i: int) -> str:
        return FORMULAS[i % len(FORMULAS)] + f" {i}"

    edit_features(data / "premises.geojson", lambda i, p: p.update(name=name(i)))
    edit_features(data / "pcns.geojson", lambda i, p: p.update(pcn_name=name(i + 3)))
    plain = [f for f in FORMULAS if not f.startswith(("\t", "\r"))]  # a CSV cell stays one line
    edit_csv(data / "services.csv", "name", lambda i: plain[i % len(plain)] + f" {i}")
    return data


def test_no_csv_output_cell_runs_as_a_formula(poisoned_dir, tmp_path):
    scenario = scenario_file(tmp_path / "s.toml", poisoned_dir)
    out = tmp_path / "out"
    done = cli(["solve", str(scenario), "--out", str(out), "--maps", str(tmp_path / "m")], tmp_path)
    assert done.returncode == 0, done.stderr
    neutralised = 0
    for path in sorted(out.glob("*.csv")):
        for cell in csv_cells(path):
            assert not is_formula(cell), (path.name, cell)
            neutralised += cell.startswith("'") and is_formula(cell[1:])
    assert neutralised >= 20, "the poisoned names did not reach the CSV outputs"
    moves = pd.read_csv(out / "moves.csv")
    assert pd.api.types.is_float_dtype(moves["hours_per_week"])  # numbers are untouched
    book = load_workbook(out / "plan.xlsx")
    for ws in book:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate)


@FUZZ
@given(
    text=st.text(max_size=30)
    | st.tuples(st.sampled_from(FORMULA_PREFIXES), st.text(max_size=20)).map("".join),
    number=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
)
def test_csv_text_neutralises_formulas_and_leaves_numbers(text, number):
    frame = pd.DataFrame({"name": [text], "hours": [number], "code": [f"{number:.4f}"]})
    rows = list(csv.reader(io.StringIO(csv_text(frame), newline="")))
    name, hours, code = rows[1]
    assert not is_formula(name)
    assert not CONTROL_RE.search(name)
    shown = escape_control(text)
    assert name == ("'" + shown if is_formula(shown) else shown)
    assert hours == f"{number:.4f}" and code == f"{number:.4f}"  # numbers, numeric text: as is


# --- 3. control characters -------------------------------------------------------------------


def test_terminal_output_never_carries_control_characters(earlier, tiny_dir, tmp_path):
    out, _ = earlier
    for table, column in (("moves", "why"), ("utilisation", "name"), ("pcn_summary", "pcn_name")):
        frame = pd.read_csv(out / f"{table}.csv", dtype=str, keep_default_na=False)
        frame[column] = ESCAPES + "x"
        frame.to_csv(out / f"{table}.csv", index=False)
    hostile = tmp_path / "hostile"
    shutil.copytree(tiny_dir, hostile)
    edit_csv(hostile / "services.csv", "name", lambda i: "Clinic" + ESCAPES)
    runs = [
        cli(["explain", str(out)], tmp_path),
        cli(["explain", str(out), "--site", pd.read_csv(out / "utilisation.csv")["site_id"][0]],
            tmp_path),
        cli(["validate", str(hostile)], tmp_path),
    ]  # fmt: skip
    for done in runs:
        assert "\x1b" not in done.stdout + done.stderr
        assert "\x07" not in done.stdout + done.stderr
    assert "\\x1b" in runs[0].stdout and runs[2].returncode == 2
    assert "control characters" in runs[2].stderr


def test_workbook_takes_every_control_character(tiny_plan, tmp_path):
    every = "".join(chr(c) for c in (*range(32), *range(127, 160))) + "\u202e\u2066"
    moves = tiny_plan.moves.copy()
    moves["why"] = every
    scenario = tiny_plan.scenario.model_copy(update={"description": every})
    plan = dataclasses.replace(tiny_plan, moves=moves, scenario=scenario)
    book = load_workbook(write_workbook(plan, tmp_path / "plan.xlsx"))
    summary = {r[0].value: r[1].value for r in book["Summary"].iter_rows(min_row=2)}
    assert "\\x1b" in summary["Description"] and "\x1b" not in summary["Description"]


@FUZZ
@given(
    text=st.text(min_size=1, max_size=20),
    control=st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\u202e", "\u2028", "\n"]),
    where=st.integers(0, 20),
)
@example(text="\r", control="\u2028", where=0)  # a CR in the cell (CI, 2026-12-03)
def test_control_characters_in_any_text_cell_are_refused_and_never_echoed(
    tiny_dir, tmp_path_factory, text, control, where
):
    data = tmp_path_factory.mktemp("ctl") / "data"
    shutil.copytree(tiny_dir, data)
    value = text[:where] + control + text[where:]
    # CRLF line ends, so a CR in the value is quoted and stays inside the cell
    edit_csv(data / "services.csv", "name", lambda i: value if i == 0 else "Clinic", "\r\n")
    try:
        dataset = read_dataset(data)
    except InputDataError as caught:
        for problem in caught.problems:
            assert not CONTROL_RE.search(str(problem)), repr(str(problem))
        if value.strip():
            assert any("control characters" in str(p) for p in caught.problems)
            assert CONTROL_RE.search(value.strip())
        else:  # only whitespace-like characters: stripped, the name is empty
            assert any("is empty" in str(p) for p in caught.problems)
    else:  # only whitespace-like ones at either end, and those are stripped (neutralised)
        assert not CONTROL_RE.search(value.strip())
        assert not any(CONTROL_RE.search(name) for name in dataset.services["name"])


@FUZZ
@given(text=st.text(max_size=40))
def test_scenario_strings_with_control_characters_are_refused(tiny_dir, tmp_path_factory, text):
    path = tmp_path_factory.mktemp("sc") / "s.toml"
    scenario_file(path, tiny_dir, f"description = {toml_string(text)}\n")
    if not CONTROL_RE.search(text):
        assert load_scenario(path).description == text
        return
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "control characters" in str(caught.value)
    assert not CONTROL_RE.search(str(caught.value).replace("\n", ""))


# --- 4. all outputs or none --------------------------------------------------------------------


def test_a_file_where_the_maps_folder_should_be_changes_nothing(earlier, tiny_dir, tmp_path):
    out, _ = earlier
    blocker = tmp_path / "maps_file"
    blocker.write_text("not a folder\n")
    before, blocker_bytes = tree(out), blocker.read_bytes()
    scenario = scenario_file(tmp_path / "s.toml", tiny_dir, "[weights]\ncost = 2\n")
    done = cli(["solve", str(scenario), "--out", str(out), "--maps", str(blocker)], tmp_path)
    assert done.returncode == 2, done.stderr
    assert str(blocker) in done.stderr and "is a file, not a folder" in done.stderr
    assert tree(out) == before
    assert blocker.read_bytes() == blocker_bytes


def test_maps_failing_part_way_leave_plan_and_maps_intact(earlier, tiny_plan, monkeypatch):
    out, maps = earlier
    before = (tree(out), tree(maps))
    real, calls = pages_module.render_page, {"n": 0}

    def fail_on_second_page(m):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OutputWriteError(maps / "hubs" / "x.html", OSError(errno.EIO, "I/O error"))
        return real(m)

    monkeypatch.setattr(pages_module, "render_page", fail_on_second_page)
    changed = dataclasses.replace(tiny_plan, kpis={**tiny_plan.kpis, "hours_moved": 123.0})
    with pytest.raises(OutputWriteError):
        write_plan(changed, out, maps_dir=maps)
    assert (tree(out), tree(maps)) == before
    monkeypatch.undo()
    write_plan(changed, out, maps_dir=maps)
    assert tree(out) != before[0] and not [p for p in out.iterdir() if p.name.startswith(".")]


# --- 5. Ctrl-C -----------------------------------------------------------------------------------

LONG_MIP = (
    "[options]\nwhole_sessions = true\nopening_decisions = true\n"
    "[solver]\ntime_limit_s = 300\nmip_gap = 0.0\n"
    '[solver.highs_options]\npresolve = "off"\nmip_heuristic_effort = 0.0\n'
    "mip_detect_symmetry = false\n"
)


def _default_signals() -> None:
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_during_a_solve_stops_promptly_and_writes_nothing(earlier, tmp_path, stop):
    """Ctrl-C, and SIGTERM (kill, timeout, docker), which left partial files in hidden
    staging folders until the next run."""
    out, _ = earlier
    before = tree(out)
    # The NEL MIP proved to gap 0 without presolve or heuristics: minutes, on any machine.
    scenario = scenario_file(
        tmp_path / "long.toml", Path(__file__).resolve().parent.parent / "geodata" / "nel", LONG_MIP
    )
    process = subprocess.Popen(
        [SCRIPT, "solve", str(scenario), "--out", str(out), "--no-maps", "--verbose"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: in the full suite the worker process had come to ignore SIGINT,
        # which a child inherits (so the run never saw the Ctrl-C and solved on to the end)
        preexec_fn=_default_signals,
    )
    seen: list[str] = []
    built = threading.Event()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            if "built MIP" in line:
                built.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        assert built.wait(120), "".join(seen)
        time.sleep(2.0)  # inside HiGHS now (this MIP takes 20 s or more to prove optimal)
        assert process.poll() is None, "the solve finished before it could be interrupted"
        sent = time.monotonic()
        process.send_signal(stop)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("did not stop within 30 s; its log:\n" + "".join(seen[-40:]))
        stopped_after = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        reader.join(timeout=10)
        text = "".join(seen) + (process.stdout.read() if process.stdout else "")
        for pipe in (process.stdout, process.stderr):  # closed even when the test fails
            if pipe is not None:
                pipe.close()
    assert process.returncode == 130, text
    assert stopped_after < 10, f"took {stopped_after:.1f} s to stop"
    assert "Traceback" not in text and "Aborted" not in text
    stopped = [line for line in text.splitlines() if "stopped (Ctrl-C)" in line]
    assert stopped == ["stopped (Ctrl-C): nothing was written; earlier outputs are unchanged."]
    assert tree(out) == before
    assert not list(out.glob(".staging-*")), "a staging folder was left behind"


# --- 6. write failures ---------------------------------------------------------------------------


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    ("marker", "named"),
    [
        (".moves.csv.", "out/moves.csv"),
        (".kpis.json.", "out/kpis.json"),
        (".plan.xlsx.", "out/plan.xlsx"),
        (".plan_map.html.", "maps/s/plan_map.html"),  # each scenario's maps in maps/NAME/
        (".index.html.", "maps/s/hubs/index.html"),
    ],
    ids=["csv", "json", "workbook", "map", "hub-index"],
)
def test_disk_full_names_the_file_and_changes_nothing(
    earlier, tiny_dir, tmp_path, monkeypatch, marker, named
):
    out, maps = earlier
    before = (tree(out), tree(maps))
    real = files_module.write_all

    def full_disk(fd: int, data: bytes) -> None:
        if marker in Path(_fd_path(fd)).name:
            os.write(fd, data[: len(data) // 2])  # a partial write, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(files_module, "write_all", full_disk)
    scenario = scenario_file(tmp_path / "s.toml", tiny_dir, "[weights]\ncost = 2\n")
    result = CliRunner().invoke(
        app, ["solve", str(scenario), "--out", str(out), "--maps", str(maps)]
    )
    assert result.exit_code == 3, result.output
    assert f"could not write {tmp_path / named}: No space left on device" in result.output
    assert ".staging" not in result.output and "Traceback" not in result.output
    assert (tree(out), tree(maps)) == before


def test_geopackage_write_failure_names_the_file(earlier, tiny_plan, monkeypatch):
    out, _ = earlier
    before = tree(out)
    import pyogrio.errors

    def full(*args, **kwargs):
        raise pyogrio.errors.DataSourceError("sqlite3_exec() failed: database or disk is full")

    monkeypatch.setattr(pd.DataFrame, "to_file", full, raising=False)
    monkeypatch.setattr("geopandas.GeoDataFrame.to_file", full)
    with pytest.raises(OutputWriteError, match=r"could not write .*out/plan\.gpkg: .*disk is full"):
        write_plan(tiny_plan, out)
    assert tree(out) == before


def _limit_file_size(size: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


@pytest.mark.parametrize(("limit", "named"), [(400, ".csv"), (40_000, "plan.gpkg")])
def test_a_real_file_size_limit_names_the_file_and_keeps_the_earlier_plan(
    earlier, tiny_dir, tmp_path, limit, named
):
    """The kernel refuses the writes (RLIMIT_FSIZE): CSV first, then the GeoPackage (SQLite)."""
    out, _ = earlier
    before = tree(out)
    scenario = scenario_file(tmp_path / "s.toml", tiny_dir, "[weights]\ncost = 2\n")
    done = cli(
        ["solve", str(scenario), "--out", str(out), "--no-maps"],
        tmp_path,
        preexec_fn=_limit_file_size(limit),
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"could not write {out}/" in done.stderr and named in done.stderr, done.stderr
    if named == "plan.gpkg":  # SQLite's follow-on fault, said as the write failure it is
        assert "disk is full or a file-size limit" in done.stderr, done.stderr
        assert "INSERT INTO" not in done.stderr
    assert tree(out) == before


# --- 7. corrupt plan folders ----------------------------------------------------------------------

CORRUPTIONS = {
    "kpis-truncated": lambda d: (d / "kpis.json").write_text((d / "kpis.json").read_text()[:150]),
    "kpis-a-list": lambda d: (d / "kpis.json").write_text("[1, 2, 3]\n"),
    "kpis-key-missing": lambda d: (d / "kpis.json").write_text(
        json.dumps(
            {
                k: v
                for k, v in json.loads((d / "kpis.json").read_text()).items()
                if k != "utilisation_after"
            }
        )
    ),
    "kpis-status-unknown": lambda d: (d / "kpis.json").write_text(
        json.dumps({**json.loads((d / "kpis.json").read_text()), "status": "splendid"})
    ),
    "kpis-a-folder": lambda d: ((d / "kpis.json").unlink(), (d / "kpis.json").mkdir()),
    "moves-garbled": lambda d: (d / "moves.csv").write_bytes(b'\x00\xff,"open\n1,2,3,4\n'),
    "moves-not-utf8": lambda d: (d / "moves.csv").write_bytes(b"service_id\n\xff\xfe\n"),
    "utilisation-number-edited": lambda d: edit_csv(
        d / "utilisation.csv", "capacity_hours", lambda i: "lots"
    ),
    "unmet-missing": lambda d: (d / "unmet.csv").unlink(),
    "unmet-column-gone": lambda d: (d / "unmet.csv").write_text("service_id,pcn_code\n"),
    "scenario-truncated": lambda d: (d / "scenario.json").write_text("{"),
    # a copy cut short part-way through a line (pandas fills the missing fields in)
    "allocations-cut-short": lambda d: (d / "allocations.csv").write_bytes(
        (d / "allocations.csv").read_bytes()[:300]
    ),
    # a stray quote swallowing the rest (a field longer than the csv module allows)
    "moves-stray-quote": lambda d: (d / "moves.csv").write_text(
        (d / "moves.csv").read_text().replace("\n", '\n"', 1) + "x" * 140_000 + "\n"
    ),
    "moves-line-short": lambda d: (d / "moves.csv").write_text(
        (d / "moves.csv").read_text().rstrip("\n") + "\nx,y\n"
    ),
}
WHERE = {
    "kpis-truncated": "kpis.json",
    "kpis-a-list": "kpis.json",
    "kpis-key-missing": "kpis.json",
    "kpis-status-unknown": "kpis.json",
    "kpis-a-folder": "kpis.json",
    "moves-garbled": "moves.csv",
    "moves-not-utf8": "moves.csv",
    "utilisation-number-edited": "utilisation.csv",
    "unmet-missing": "unmet.csv",
    "unmet-column-gone": "unmet.csv",
    "scenario-truncated": "scenario.json",
    "allocations-cut-short": "allocations.csv",
    "moves-line-short": "moves.csv",
    "moves-stray-quote": "moves.csv",
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_corrupt_plan_folder_is_refused_with_exit_2(case, earlier, tmp_path):
    out, _ = earlier
    CORRUPTIONS[case](out)
    for command in (["explain", str(out)], ["map", str(out), "--maps", str(tmp_path / "m2")]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert isinstance(result.exception, SystemExit), result.exception
        assert WHERE[case] in result.output and "Traceback" not in result.output
    assert not (tmp_path / "m2").exists()
    with pytest.raises(InputDataError):
        read_plan(out)


def test_a_corrupt_plan_folder_through_the_console_script(earlier, tmp_path):
    out, _ = earlier
    CORRUPTIONS["kpis-truncated"](out)
    for command in (["explain", str(out)], ["map", str(out), "--maps", str(tmp_path / "m2")]):
        done = cli(command, tmp_path)
        assert done.returncode == 2 and "kpis.json" in done.stderr, done.stderr
        assert "is not valid JSON" in done.stderr


# --- 8. scenario files ----------------------------------------------------------------------------

NUMBER_KEYS = [
    ("caps", "gp_practice"),
    ("caps", "acute"),
    ("weights", "cost"),
    ("weights", "travel_gbp_per_hour_km"),
    ("growth", "overall"),
    ("travel", "circuity"),
    ("solver", "time_limit_s"),
    ("solver", "mip_gap"),
    ("solver", "threads"),
    ("options", "move_budget_hours"),
]


@FUZZ
@given(key=st.sampled_from(NUMBER_KEYS), value=st.booleans())
def test_a_boolean_is_never_a_number(tmp_path_factory, tiny_dir, key, value):
    path = tmp_path_factory.mktemp("b") / "s.toml"
    scenario_file(path, tiny_dir, f"[{key[0]}]\n{key[1]} = {str(value).lower()}\n")
    with pytest.raises(ScenarioError, match=rf"'{key[0]}\.{key[1]}'.*not a number"):
        load_scenario(path)


toml_values = st.recursive(
    st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["caps", "growth", "a", "weights", "x"]), inner, max_size=3
        )
    ),
    max_leaves=30,
)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else "nan"
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


@FUZZ
@given(
    table=st.sampled_from(["caps", "weights", "growth", "solver", "travel", "options"]),
    key=st.sampled_from(["gp_practice", "cost", "overall", "time_limit_s", "circuity", "x"]),
    value=toml_values,
    depth=st.integers(0, 3000),
)
def test_random_toml_gives_only_scenario_errors(
    tmp_path_factory, tiny_dir, table, key, value, depth
):
    path = tmp_path_factory.mktemp("t") / "s.toml"
    nested = "[" * depth + _toml(value) + "]" * depth
    scenario_file(path, tiny_dir, f"[{table}]\n{key} = {nested}\n")
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        assert "Traceback" not in str(exc)
        return
    assert not isinstance(getattr(getattr(scenario, table), key, None), bool) or table == "options"


def test_toml_nested_50000_deep_through_the_console_script(tiny_dir, tmp_path):
    path = scenario_file(tmp_path / "deep.toml", tiny_dir, "x = " + "[" * 50_000 + "]" * 50_000)
    for command in (["validate", str(path)], ["solve", str(path), "--no-maps"]):
        done = cli(command, tmp_path)
        assert done.returncode == 2, done.stderr
        assert "nested too deeply" in done.stderr and "RecursionError" not in done.stderr
    assert not (tmp_path / "outputs").exists()


# --- 9. wrong diagnoses and silent acceptances ------------------------------------------------------


def test_an_iteration_limit_is_reported_as_one(tiny_dir, tmp_path):
    # the LP: a MIP's heuristics may find a plan without a single simplex iteration
    body = '[options]\nwhole_sessions = false\n[solver.highs_options]\nsimplex_iteration_limit = 0\npresolve = "off"\n'
    scenario = scenario_file(tmp_path / "s.toml", tiny_dir, body)
    done = cli(["solve", str(scenario), "--out", str(tmp_path / "out"), "--no-maps"], tmp_path)
    assert done.returncode == 1, done.stderr
    assert "simplex iteration limit" in done.stderr
    assert "time limit" not in done.stderr.replace("iteration limit", "")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("how", ["inside", "symlink", "maps-inside"])
def test_outputs_inside_the_dataset_folder_are_refused(tiny_dir, tmp_path, how):
    data = tmp_path / "data"
    shutil.copytree(tiny_dir, data)
    before = tree(data)
    scenario = scenario_file(tmp_path / "s.toml", data)
    out, maps = tmp_path / "out", tmp_path / "maps"
    if how == "inside":
        out = data / "plan"
    elif how == "symlink":
        (tmp_path / "link").symlink_to(data)
        out = tmp_path / "link" / "plan"
    else:
        maps = data
    done = cli(["solve", str(scenario), "--out", str(out), "--maps", str(maps)], tmp_path)
    assert done.returncode == 2, done.stderr
    assert "is inside the dataset folder" in done.stderr
    assert tree(data) == before and not (tmp_path / "out").exists()


def test_a_fifo_data_file_is_named_and_never_opened(tiny_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_dir, data)
    (data / "baseline.csv").unlink()
    os.mkfifo(data / "baseline.csv")  # opening it for reading would block forever
    done = cli(["validate", str(data)], tmp_path, timeout=60)
    assert done.returncode == 2
    assert "baseline.csv" in done.stderr and "named pipe (FIFO)" in done.stderr
    assert "is missing" not in done.stderr


def test_a_geojson_travel_matrix_is_detected(tiny_dir, tmp_path):
    shutil.copy(tiny_dir / "lsoas.geojson", tmp_path / "travel.csv")  # GeoJSON, misnamed
    scenario = scenario_file(tmp_path / "s.toml", tiny_dir, '[travel]\nmatrix = "travel.csv"\n')
    done = cli(["solve", str(scenario), "--out", str(tmp_path / "out"), "--no-maps"], tmp_path)
    assert done.returncode == 2
    assert "travel.csv: is GeoJSON/JSON, not a table" in done.stderr


# --- 10. determinism ----------------------------------------------------------------------------------


def _shuffle_rows(folder: Path, seed: int) -> None:
    rng = random.Random(seed)
    for path in sorted(folder.glob("*.csv")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        body = lines[1:]
        rng.shuffle(body)
        path.write_text(lines[0] + "".join(body), encoding="utf-8")
    for path in sorted(folder.glob("*.geojson")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        rng.shuffle(doc["features"])
        for feature in doc["features"]:  # property order too
            items = list(feature["properties"].items())
            rng.shuffle(items)
            feature["properties"] = dict(items)
        path.write_text(json.dumps(doc), encoding="utf-8")


def _outputs(data: Path, scenario: Path, out: Path, maps: Path) -> dict[str, bytes]:
    done = cli(["solve", str(scenario), "--out", str(out), "--maps", str(maps)], data.parent)
    assert done.returncode == 0, done.stderr
    found = {}
    for root in (out, maps):
        for path in sorted(root.rglob("*")):
            if path.is_file():
                raw = path.read_bytes()
                if path.name == "kpis.json":  # stage timings are the one non-deterministic part
                    kpis = json.loads(raw)
                    kpis.pop("seconds")
                    raw = json.dumps(kpis).encode()
                found[f"{root.name}/{path.relative_to(root)}"] = raw
    return found


def test_shuffled_input_rows_give_byte_identical_outputs(small_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(small_dir, data)
    scenario = scenario_file(tmp_path / "s.toml", data)
    first = _outputs(data, scenario, tmp_path / "out1", tmp_path / "maps1")
    _shuffle_rows(data, seed=15)
    time.sleep(1.1)  # a clock-stamped file would now differ
    second = _outputs(data, scenario, tmp_path / "out2", tmp_path / "maps2")
    assert {k.replace("1/", "/", 1) for k in first} == {k.replace("2/", "/", 1) for k in second}
    differ = [name for name, raw in first.items() if second[name.replace("1/", "2/", 1)] != raw]
    assert not differ, differ
    assert any(name.endswith("plan.gpkg") for name in first)
    assert any(name.endswith("plan.xlsx") for name in first)


def test_a_plan_written_before_from_site_ids_still_reads(earlier):
    # moves.csv gained from_site_ids; a plan folder from before it is not corrupt
    out, _ = earlier
    moves = pd.read_csv(out / "moves.csv", dtype=str, keep_default_na=False)
    assert len(moves) and "from_site_ids" in moves.columns
    moves.drop(columns="from_site_ids").to_csv(out / "moves.csv", index=False)
    plan = read_plan(out)
    assert list(plan.moves["from_site_ids"]) == list(plan.moves["from_site_id"])
    # and ids that look like numbers stay text
    assert plan.moves["from_site_ids"].map(type).eq(str).all()


def test_formula_like_ids_and_names_read_back_as_they_were(tiny_dir, tiny_dataset, tmp_path):
    """The CSV guard quotes '=NEW1' as "'=NEW1"; read back, explain looked for "'=NEW1"
    and said nothing arrives at =NEW1 (144 h did). A plan read back has the ids and names
    it was written with."""
    import dataclasses

    from estates_opt.pipeline import solve

    plan = solve(tiny_dataset, Scenario.model_validate({"name": "f", "dataset": str(tiny_dir)}))
    assert len(plan.moves)
    moves = plan.moves.assign(to_site='=HYPERLINK("http://x")', to_site_id="=NEW1")
    moves.loc[moves.index[0], "why"] = "'plain text with a quote"
    written = dataclasses.replace(plan, moves=moves)
    out = write_plan(written, tmp_path / "plan", workbook=False)
    raw = pd.read_csv(out / "moves.csv", dtype=str, keep_default_na=False)
    assert raw["to_site_id"].eq("'=NEW1").all()  # inert in a spreadsheet
    back = read_plan(out)
    assert back.moves["to_site_id"].eq("=NEW1").all()
    assert back.moves["to_site"].eq('=HYPERLINK("http://x")').all()
    assert back.moves["why"].iloc[0] == "'plain text with a quote"
