"""Outputs and arguments, second round: a failed run removes every folder it made, empty or
device paths are refused, validate runs solve's scenario checks, and no workbook cell is longer
than Excel holds."""

from __future__ import annotations

import dataclasses
import errno
import os
import re
import stat
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from fixtures.pins import PIN, pin_ids
from typer.testing import CliRunner

import estates_opt.outputs.files as files_module
from estates_opt.cli import app
from estates_opt.errors import OutputWriteError
from estates_opt.outputs.files import staged_directories
from estates_opt.outputs.plan_folder import write_plan
from estates_opt.outputs.workbook import write_workbook
from estates_opt.outputs.xlsx import Book, CellStyle
from estates_opt.outputs.xlsx.book import EXCEL_MAX_TEXT, fit_text
from estates_opt.pipeline import solve
from estates_opt.scenario import scenario_from_dict

# --- helpers -----------------------------------------------------------------------------------


def write_scenario(path: Path, data: Path, body: str = "") -> Path:
    path.write_text(f'dataset = "{data.as_posix()}"\n{body}', encoding="utf-8")
    return path


def run_cli(args: list[str]):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


def flat(text: str) -> str:
    """Output with rich's line wrapping and box drawing undone, for substring checks."""
    return re.sub(r"[\s│┃╭╮╰╯─]+", " ", text)


def tree(folder: Path) -> list[str]:
    """Every entry under ``folder`` (folders too), relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(scope="module")
def tiny_plan(tiny_dataset, tiny_dir):
    return solve(tiny_dataset, scenario_from_dict({"name": "tiny", "dataset": str(tiny_dir)}))


@pytest.fixture
def tiny_toml(tiny_dir, tmp_path) -> Path:
    return write_scenario(tmp_path / "tiny.toml", tiny_dir)


# --- 1. a failed run removes every folder it created, and only those --------------------------


def test_a_failed_run_removes_every_missing_parent_it_made(tiny_toml, tmp_path):
    """--out O/n1/n2/out with --maps a file: nothing of O/n1/n2 is left behind."""
    root = tmp_path / "O"
    root.mkdir()
    (root / "afile").write_text("kept\n")
    result = run_cli(
        ["solve", tiny_toml, "--out", root / "n1" / "n2" / "out", "--maps", root / "afile"]
    )
    assert result.exit_code == 2, result.output
    assert "Nothing of this run was written" in flat(result.output)
    assert tree(root) == ["afile"]
    assert (root / "afile").read_text() == "kept\n"


def test_a_failure_while_preparing_a_later_folder_removes_the_earlier_ones(tmp_path):
    """Every folder made for any target goes when a later one cannot be made; one that
    existed (even empty) stays."""
    (tmp_path / "blocker").write_text("x\n")
    (tmp_path / "empty").mkdir()
    targets = [
        tmp_path / "a" / "b" / "plan",
        tmp_path / "empty",
        tmp_path / "empty" / "n" / "maps",
        tmp_path / "blocker" / "maps",
    ]
    failing = pytest.raises(OutputWriteError, match="it is a file, not a folder")
    with failing, staged_directories(targets):
        pass  # pragma: no cover - the last target fails before the body runs
    assert tree(tmp_path) == ["blocker", "empty"]


def test_maps_failing_leave_no_maps_root_and_no_plan_folder(tiny_plan, tmp_path, monkeypatch):
    """The maps root (MAPS of MAPS/<scenario>) and the plan folder's parents go too."""
    import estates_opt.outputs.maps.pages as pages

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device (simulated)")

    monkeypatch.setattr(pages, "write_maps", fail)
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(OSError, match="simulated"):
        write_plan(
            tiny_plan,
            kept / "new" / "plan",
            maps_dir=pages.scenario_maps_dir(kept / "maps_root", tiny_plan.scenario.name),
        )
    assert tree(tmp_path) == ["kept"]


def test_a_failed_commit_removes_the_subfolders_it_made_in_an_existing_folder(
    tmp_path, monkeypatch
):
    """A move failing part-way: the old file is back, the new sub-folder is gone."""
    target = tmp_path / "existing"
    target.mkdir()
    (target / "a.txt").write_text("old\n")
    real_replace = os.replace

    def replace(source: object, destination: object) -> None:
        if Path(str(destination)).name == "z.txt":
            raise OSError(errno.EIO, "Input/output error (simulated)")
        real_replace(source, destination)  # type: ignore[arg-type]

    monkeypatch.setattr(files_module.os, "replace", replace)
    with pytest.raises(OSError, match="simulated"), staged_directories([target]) as (stage,):
        (stage / "a.txt").write_text("new\n")
        (stage / "sub" / "deeper").mkdir(parents=True)
        (stage / "sub" / "deeper" / "z.txt").write_text("new\n")
    monkeypatch.undo()
    assert tree(tmp_path) == ["existing", "existing/a.txt"]
    assert (target / "a.txt").read_text() == "old\n"


def test_ctrl_c_while_tidying_after_the_commit_says_the_outputs_stand(tmp_path, monkeypatch):
    """Every file is in place; only removing the staging folders was left. The stop is
    reported as written (not as the bare Ctrl-C of a run that wrote nothing), and the
    staging folders still go."""
    from estates_opt.errors import StoppedAfterWriting

    def interrupted(target: Path) -> list[Path]:
        raise KeyboardInterrupt

    monkeypatch.setattr(files_module, "remove_stale_staging", interrupted)
    target = tmp_path / "out"
    with pytest.raises(StoppedAfterWriting), staged_directories([target]) as (stage,):
        (stage / "plan.csv").write_text("new\n")
    assert tree(tmp_path) == ["out", "out/plan.csv"]


def test_ctrl_c_before_the_commit_is_a_plain_stop_that_writes_nothing(tmp_path):
    from estates_opt.errors import StoppedAfterWriting

    target = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt) as caught, staged_directories([target]) as (stage,):
        (stage / "plan.csv").write_text("new\n")
        raise KeyboardInterrupt
    assert not isinstance(caught.value, StoppedAfterWriting)
    assert tree(tmp_path) == []


def test_ctrl_c_during_the_summary_exits_130_saying_the_plan_is_complete(
    tiny_dir, tmp_path, monkeypatch
):
    import estates_opt.cli.solve_commands as solve_commands

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(solve_commands, "_report_solved", interrupted)
    scenario = write_scenario(tmp_path / "s.toml", tiny_dir)
    out = tmp_path / "out"
    result = run_cli(["solve", scenario, "--out", out, "--no-maps"])
    assert result.exit_code == 130, result.output
    assert "after every output was written" in result.output
    assert "nothing was written" not in result.output
    assert (out / "kpis.json").is_file()


# --- 2. an empty --out or --maps is a bad argument ----------------------------------------------


@pytest.fixture
def written_plan(tiny_plan, tmp_path) -> Path:
    return write_plan(tiny_plan, tmp_path / "written")


@pytest.mark.parametrize("value", ["", "  "], ids=["empty", "blank"])
@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("solve", "--out"),
        ("solve", "--maps"),
        ("robust", "--out"),
        ("compare", "--out"),
        ("compare", "--maps"),
        ("map", "--maps"),
    ],
)
def test_an_empty_output_path_is_refused(
    command, option, value, tiny_toml, written_plan, tmp_path, monkeypatch
):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    if command == "map":
        args = ["map", written_plan, option, value]
    elif command == "compare" and option == "--out":
        args = ["compare", tiny_toml, "--out", value]
    elif command == "compare":
        args = ["compare", tiny_toml, "--out", tmp_path / "cmp", option, value]
    else:
        args = [command, tiny_toml, "--no-maps"] if command == "solve" else [command, tiny_toml]
        if option == "--maps":
            args = [command, tiny_toml, "--out", tmp_path / "plan"]
        args += [option, value]
    result = run_cli(args)
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert option in text and "empty" in text, text
    assert list(cwd.iterdir()) == []


# --- 3. --out /dev/null is not a folder ------------------------------------------------------


@pytest.mark.skipif(
    not os.path.exists("/dev/null") or not stat.S_ISCHR(os.stat("/dev/null").st_mode),
    reason="needs /dev/null",
)
@pytest.mark.parametrize("option", ["--out", "--maps"])
def test_a_device_as_the_output_folder_is_not_a_folder(option, tiny_toml, tmp_path):
    args = ["solve", tiny_toml, "--out", tmp_path / "plan", option, "/dev/null"]
    result = run_cli(args)
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert "/dev/null" in text and "it is a device, not a folder" in text, text
    assert "File exists" not in text
    assert list(tmp_path.iterdir()) == [tiny_toml]


def test_a_file_as_the_output_folder_is_refused_before_solving(tiny_toml, tmp_path, monkeypatch):
    """Known before a long solve: a file where the plan folder should be."""
    import estates_opt.pipeline as pipeline

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("solved although the output folder cannot be used")

    monkeypatch.setattr(pipeline, "solve", never)
    blocker = tmp_path / "afile"
    blocker.write_text("x\n")
    result = run_cli(["solve", tiny_toml, "--out", blocker / "plan", "--no-maps"])
    assert result.exit_code == 2, result.output
    assert "it is a file, not a folder" in flat(result.output)


# --- 4. validate runs the scenario checks solve runs -------------------------------------------

BAD_HIGHS = [
    'presolve = "maybe"',
    'random_seed = "x"',
    "mip_max_nodes = -5",
    "random_seed = 99999999999999999999",
]


@pytest.mark.parametrize("option", BAD_HIGHS)
def test_validate_refuses_the_highs_options_solve_refuses(option, tiny_dir, tmp_path):
    scenario = write_scenario(
        tmp_path / "s.toml", tiny_dir, f"[solver]\nhighs_options = {{ {option} }}\n"
    )
    validated = run_cli(["validate", scenario])
    solved = run_cli(["solve", scenario, "--out", tmp_path / "out", "--no-maps"])
    assert solved.exit_code == 2, solved.output
    assert validated.exit_code == 2, validated.output
    key = option.split(" ")[0]
    assert f"solver.highs_options.{key}" in flat(validated.output)
    assert "is valid" not in validated.output
    good = write_scenario(
        tmp_path / "good.toml", tiny_dir, "[solver]\nhighs_options = { random_seed = 7 }\n"
    )
    assert run_cli(["validate", good]).exit_code == 0


def test_validate_refuses_a_pin_solve_refuses(tiny_dir, tiny_dataset, tmp_path):
    body = PIN.format(hours=5000, **pin_ids(tiny_dataset))
    scenario = write_scenario(tmp_path / "s.toml", tiny_dir, body)
    result = run_cli(["validate", scenario])
    assert result.exit_code == 2, result.output
    assert "pinned[0]" in flat(result.output)


# --- 5. no workbook cell is longer than Excel holds ---------------------------------------------


def _cell_texts(path: Path) -> dict[str, list[str]]:
    """The text of every inline-string cell of every sheet, unescaped."""
    from xml.sax.saxutils import unescape

    out = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.startswith("xl/worksheets/sheet"):
                xml = zf.read(name).decode("utf-8")
                out[name] = [unescape(t) for t in re.findall(r"<t(?: [^>]*)?>([^<]*)</t>", xml)]
    return out


def _excel_length(text: str) -> int:
    """Excel counts UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def test_long_text_cells_are_cut_to_excels_limit_with_a_marker(tiny_plan, tmp_path):
    moves = tiny_plan.moves.copy()
    if moves.empty:
        pytest.skip("no moves")
    moves["from_sites"] = "site " * 128_080  # 640,400 characters
    moves["why"] = "=" + "why " * 10_000  # formula-like, long and wrapped: still quoted
    plan = dataclasses.replace(tiny_plan, moves=moves)
    path = write_workbook(plan, tmp_path / "long.xlsx")
    texts = _cell_texts(path)
    longest = max(_excel_length(t) for cells in texts.values() for t in cells)
    assert longest <= EXCEL_MAX_TEXT
    moves_sheet = texts["xl/worksheets/sheet2.xml"]
    cut = [t for t in moves_sheet if t.startswith("site site")]
    assert cut
    for text in cut:
        found = re.search(r"… \(cut: ([\d,]+) characters\)$", text)
        assert found, text[-60:]
        assert found.start() + int(found.group(1).replace(",", "")) == 640_400
    from openpyxl import load_workbook

    ws = load_workbook(path)["Moves"]
    headers = {c.value: c.column for c in ws[1]}
    why = ws.cell(row=2, column=headers["Why"])
    assert why.quotePrefix and why.value.startswith("=why why") and "(cut: " in why.value
    assert all((d.height or 0) <= 409 for d in ws.row_dimensions.values())


@pytest.mark.parametrize(
    "text",
    [
        "a" * (EXCEL_MAX_TEXT + 1),
        "😀" * 20_000,  # two UTF-16 units each: 40,000 units
        "b" * 100 + "😀" * 16_400,
        " padded " * 5_000,
    ],
    ids=["one-over", "astral", "mixed", "padded"],
)
def test_fit_text_keeps_within_the_limit_and_says_what_was_cut(text):
    fitted = fit_text(text)
    assert _excel_length(fitted) <= EXCEL_MAX_TEXT
    assert fitted.startswith(text[:50])
    kept = fitted[: fitted.rindex("… (cut: ")]
    assert text.startswith(kept)
    assert fitted.endswith(f"… (cut: {len(text) - len(kept):,} characters)")
    assert fit_text("short") == "short"
    assert fit_text("😀" * 16_383) == "😀" * 16_383  # 32,766 units: fits


def test_cutting_is_only_for_long_text():
    book = Book(
        created=pd.Timestamp("2000-01-01").to_pydatetime(),
        header_fill="000000",
        header_font="FFFFFF",
    )
    bodies = book.cell_bodies(
        ["=1+1", "x" * EXCEL_MAX_TEXT, "y" * (EXCEL_MAX_TEXT + 5)], CellStyle()
    )
    assert "(cut: " not in bodies[0] and "(cut: " not in bodies[1]
    assert bodies[2].count("y") < EXCEL_MAX_TEXT and "(cut: " in bodies[2]


def test_the_python_api_refuses_an_empty_output_folder(tiny_plan, tmp_path, monkeypatch):
    # Path("") is the current folder: write_plan(plan, "") wrote the plan there
    from estates_opt.outputs.plan_folder import write_plan

    monkeypatch.chdir(tmp_path)
    for out, maps in (("", None), ("  ", None), (tmp_path / "p", "")):
        with pytest.raises(ValueError, match="is empty"):
            write_plan(tiny_plan, out, maps_dir=maps, workbook=False)
    assert list(tmp_path.iterdir()) == []
