"""The command line: help with examples, exit codes 0/1/2, no traceback for bad input."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from estates_opt.cli import EXIT_BAD_INPUT, EXIT_NOT_OPTIMAL, EXIT_OK, app

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ["validate", "solve", "compare", "map", "explain", "robust"]

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def flat(text: str) -> str:
    """Output with rich's line wrapping and box drawing undone, for substring checks."""
    return re.sub(r"[\s│┃]+", " ", text)


@pytest.fixture(scope="module")
def tiny_scenario(tiny_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "tiny.toml"
    path.write_text(f'description = "tiny"\ndataset = "{tiny_dir}"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tiny_plan_dir(tiny_scenario, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "tiny"
    result = run("solve", tiny_scenario, "--out", out, "--no-maps")
    assert result.exit_code == EXIT_OK, result.output
    return out


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_has_an_example_and_exit_codes(command):
    result = run(*([command] if command else []), "--help")
    assert result.exit_code == 0
    text = flat(result.output)
    assert "Example" in text
    assert "estates-opt" in text
    assert "Exit codes" in text


def test_top_level_help_lists_every_command():
    text = run("--help").output
    for command in COMMANDS:
        assert command in text


def test_validate_dataset_ok_and_broken(tiny_dir, tiny_copy):
    result = run("validate", tiny_dir)
    assert result.exit_code == EXIT_OK, result.output
    assert "is valid" in flat(result.output)
    (tiny_copy / "demand.csv").unlink()
    result = run("validate", tiny_copy)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "demand.csv" in flat(result.output)
    assert "Traceback" not in result.output


def test_validate_scenario(tiny_scenario, tmp_path):
    result = run("validate", tiny_scenario)
    assert result.exit_code == EXIT_OK, result.output
    assert "variables" in flat(result.output)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        f'dataset = "{tiny_scenario.parent}"\n[caps]\ncomunity = 0.5\n', encoding="utf-8"
    )
    result = run("validate", bad)
    assert result.exit_code == EXIT_BAD_INPUT
    text = flat(result.output)
    assert "caps.comunity" in text and "bad.toml" in text
    assert "Traceback" not in result.output


def test_solve_writes_the_plan_and_a_summary(tiny_plan_dir):
    for name in ("allocations.csv", "moves.csv", "kpis.json", "plan.xlsx", "plan.gpkg"):
        assert (tiny_plan_dir / name).is_file(), name
    assert json.loads((tiny_plan_dir / "kpis.json").read_text())["status"] == "optimal"


def test_solve_summary_table(tiny_scenario, tmp_path):
    result = run("solve", tiny_scenario, "--out", tmp_path / "p", "--no-maps")
    assert result.exit_code == EXIT_OK, result.output
    text = flat(result.output)
    for words in (
        "weekday before",
        "hours moved",
        "unmet hours",
        "what to do first",
        "verified",
        "plan written to",
    ):
        assert words in text, words
    # no maps were asked for, so the progress says none are written
    assert "writing plan..." in text and "maps" not in text


def test_solve_quiet_prints_one_line(tiny_scenario, tmp_path):
    result = run("solve", tiny_scenario, "--out", tmp_path / "p", "--no-maps", "--quiet")
    assert result.exit_code == EXIT_OK
    assert result.output.strip().count("\n") == 0
    assert "optimal" in result.output


@pytest.mark.parametrize("quiet", [True, False])
def test_an_improved_plan_is_a_success_with_or_without_quiet(tiny_dir, tmp_path, quiet):
    """'improved' (the staged whole-session plan) exits 0; --quiet once made it exit 1."""
    from dataclasses import replace

    import typer

    from estates_opt.cli.solve_commands import _report_solved
    from estates_opt.inputs.dataset import read_dataset
    from estates_opt.model.result import SolveStatus
    from estates_opt.pipeline import solve
    from estates_opt.scenario import Scenario

    plan = solve(read_dataset(tiny_dir), Scenario(name="tiny"))
    _report_solved(replace(plan, status=SolveStatus.IMPROVED), tmp_path, None, quiet, 1.0)
    with pytest.raises(typer.Exit) as stopped:
        _report_solved(
            replace(plan, status=SolveStatus.FEASIBLE_TIME_LIMIT), tmp_path, None, quiet, 1.0
        )
    assert stopped.value.exit_code == EXIT_NOT_OPTIMAL


def test_solve_bad_scenario_exits_2(tmp_path):
    path = tmp_path / "typo.toml"
    path.write_text("[weights]\ntravel = 3\n", encoding="utf-8")
    result = run("solve", path, "--no-maps", "--out", tmp_path / "o")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "weights.travel" in flat(result.output)
    assert "Traceback" not in result.output
    result = run("solve", tmp_path / "missing.toml", "--no-maps")
    assert result.exit_code == EXIT_BAD_INPUT


def test_solve_stopped_by_the_time_limit_exits_1(tiny_dir, tmp_path):
    path = tmp_path / "rushed.toml"
    path.write_text(
        f'dataset = "{tiny_dir}"\n[options]\nwhole_sessions = true\nopening_decisions = true\n'
        "[solver]\ntime_limit_s = 0.000001\nmip_gap = 0\n",
        encoding="utf-8",
    )
    result = run("solve", path, "--no-maps", "--out", tmp_path / "o")
    assert result.exit_code == EXIT_NOT_OPTIMAL, result.output
    assert "time" in flat(result.output)  # 'time limit' (no plan) or 'feasible_time_limit'
    assert "Traceback" not in result.output


def test_compare_cli(tiny_scenario, tmp_path):
    other = tmp_path / "grow.toml"
    other.write_text(
        f'extends = "{tiny_scenario}"\nname = "tiny_grow"\n[growth]\noverall = 1.2\n',
        encoding="utf-8",
    )
    out = tmp_path / "cmp"
    result = run("compare", tiny_scenario, other, "--out", out)
    assert result.exit_code == EXIT_OK, result.output
    text = flat(result.output)
    assert "Scenario comparison" in text and "tiny_grow" in text
    # the relocations a team would make, and a gap that says what it is measured against
    assert "relocations" in text and "gap to LP bound" in text
    for name in ("comparison.csv", "comparison.html", "comparison_times.csv"):
        assert (out / name).is_file()
    table = pd.read_csv(out / "comparison.csv")
    assert list(table.columns[:4]) == ["kpi", "unit", "tiny", "tiny_grow"]


def test_compare_bad_input_exits_2(tiny_scenario, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{tiny_scenario}"\n[buildings]\nclose = ["NOPE"]\n')
    result = run("compare", tiny_scenario, bad, "--out", tmp_path / "cmp")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "buildings.close" in flat(result.output)
    assert not (tmp_path / "cmp").exists()


def test_explain_whole_plan_pcn_and_site(tiny_plan_dir, tiny_dataset):
    result = run("explain", tiny_plan_dir)
    assert result.exit_code == EXIT_OK, result.output
    assert "Bottleneck rooms" in result.output
    moved = pd.read_csv(tiny_plan_dir / "moves.csv", dtype=str)
    assert len(moved) == 14
    text = flat(result.output)
    # each move names its PCN in words as well as by code, and the phase it is made in
    assert re.search(r"for Synthetic PCN \d \(P\d{5}\), \w+, phase [12]:", text)
    # what to do first: each rung of the phased plan and the best quarter, as phases.csv
    phases = pd.read_csv(tiny_plan_dir / "phases.csv")
    first = phases.iloc[0].to_dict()
    assert (
        f"phase 1: {int(first['relocations'])} relocations relieve "
        f"{first['over_cap_hours_relieved']:,.0f} h/week over the caps "
        f"({first['plan_relief_share']:.0%} of the whole plan's relief)"
    ) in text
    assert "phase 2: 4 more, 14 in all," in text
    assert "the best 4 (a quarter) relieve" in text and "over the caps today" in text
    pcn = str(tiny_dataset.pcns["pcn_code"].iloc[0])
    result = run("explain", tiny_plan_dir, "--pcn", pcn)
    assert result.exit_code == EXIT_OK, result.output
    text = flat(result.output)
    assert f"PCN {pcn}" in text and "Mean travel" in text and "relocations for this PCN" in text
    assert "Bottlenecks" in text
    moves = pd.read_csv(tiny_plan_dir / "moves.csv", dtype=str)
    site = moves["to_site_id"].iloc[0] if len(moves) else tiny_dataset.premises["site_id"][0]
    result = run("explain", tiny_plan_dir, "--site", site)
    assert result.exit_code == EXIT_OK, result.output
    text = flat(result.output)
    assert f"Site {site}" in text and "Rooms" in text and "Sessions arriving" in text
    # a list cut at --top says how many it left out, where the rest are
    alloc = pd.read_csv(tiny_plan_dir / "allocations.csv", dtype=str)
    served = alloc.groupby("site_id")["pcn_code"].nunique()
    busiest = served.idxmax()
    assert served[busiest] > 1
    text = flat(run("explain", tiny_plan_dir, "--site", busiest, "--top", "1").output)
    assert f"... and {served[busiest] - 1} more (see allocations.csv)" in text, text


def test_explain_bad_input_exits_2(tiny_plan_dir, tmp_path):
    result = run("explain", tiny_plan_dir, "--pcn", "NOPE")
    assert result.exit_code == EXIT_BAD_INPUT
    result = run("explain", tiny_plan_dir, "--site", "NOPE")
    assert result.exit_code == EXIT_BAD_INPUT
    result = run("explain", tiny_plan_dir, "--pcn", "a", "--site", "b")
    assert result.exit_code == EXIT_BAD_INPUT
    result = run("explain", tmp_path)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "not a plan folder" in flat(result.output)


def test_map_redraws_or_rejects(tiny_plan_dir, tmp_path):
    result = run("map", tmp_path)
    assert result.exit_code == EXIT_BAD_INPUT
    result = run("map", tiny_plan_dir, "--maps", tmp_path / "maps")
    assert result.exit_code == EXIT_OK, result.output
    # In the scenario's own folder (the tiny scenario is named after its file).
    assert (tmp_path / "maps" / "tiny" / "plan_map.html").is_file()
    assert (tmp_path / "maps" / "tiny" / "hubs" / "index.html").is_file()
    assert "maps/tiny" in flat(result.output).replace(" ", "")
    page = (tmp_path / "maps" / "tiny" / "plan_map.html").read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" not in page  # offline unless asked
    result = run("map", tiny_plan_dir, "--maps", tmp_path / "online", "--tiles", "OpenStreetMap")
    assert result.exit_code == EXIT_OK, result.output
    page = (tmp_path / "online" / "tiny" / "plan_map.html").read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" in page


def test_each_scenarios_maps_have_their_own_folder(tiny_dir, tmp_path):
    """solve A then solve B: A's maps are still there, and unchanged."""
    for name, circuity in (("a", 1.2), ("b", 1.5)):
        (tmp_path / f"{name}.toml").write_text(
            f'dataset = "{tiny_dir}"\n[travel]\ncircuity = {circuity}\n', encoding="utf-8"
        )
    maps = tmp_path / "maps"
    result = run("solve", tmp_path / "a.toml", "--out", tmp_path / "out_a", "--maps", maps)
    assert result.exit_code == EXIT_OK, result.output
    first = (maps / "a" / "plan_map.html").read_bytes()
    result = run("solve", tmp_path / "b.toml", "--out", tmp_path / "out_b", "--maps", maps)
    assert result.exit_code == EXIT_OK, result.output
    assert (maps / "a" / "plan_map.html").read_bytes() == first
    assert (maps / "b" / "plan_map.html").is_file()
    assert not (maps / "plan_map.html").exists()
    assert "maps/b" in flat(result.output).replace(" ", "")


def test_a_plan_solved_elsewhere_keeps_its_maps_with_it(tiny_scenario, tmp_path, monkeypatch):
    """``solve --out DIR`` without --maps drew into maps/NAME/, over the maps of the plan in
    outputs/NAME/ (a --deep plan's numbers on the default plan's pages); now into DIR/maps/.
    Without --out, the plan and maps go to outputs/NAME/ and maps/NAME/ as before."""
    monkeypatch.chdir(tmp_path)
    result = run("solve", tiny_scenario, "--out", "elsewhere")
    assert result.exit_code == EXIT_OK, result.output
    assert (tmp_path / "elsewhere" / "maps" / "plan_map.html").is_file()
    assert (tmp_path / "elsewhere" / "maps" / "hubs" / "index.html").is_file()
    assert not (tmp_path / "maps").exists()
    assert "elsewhere/maps" in flat(result.output).replace(" ", "")
    result = run("solve", tiny_scenario)  # the defaults
    assert result.exit_code == EXIT_OK, result.output
    assert (tmp_path / "outputs" / "tiny" / "kpis.json").is_file()
    assert (tmp_path / "maps" / "tiny" / "plan_map.html").is_file()
    # solving into the same folder again replaces the plan and its maps (no foreign files)
    result = run("solve", tiny_scenario, "--out", "elsewhere")
    assert result.exit_code == EXIT_OK, result.output


def test_console_script_bad_input_has_no_traceback(tmp_path):
    exe = Path(sys.executable).with_name("estates-opt")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "estates_opt.cli"]
    proc = subprocess.run(
        [*command, "validate", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == EXIT_BAD_INPUT
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "nowhere: does not exist" in proc.stderr


def test_version():
    from estates_opt import __version__

    result = run("--version")
    assert result.exit_code == EXIT_OK
    assert result.output.strip() == f"estates-opt {__version__}"


def test_explain_finds_pcns_and_sites_by_name(tiny_plan_dir):
    # By name, in any case, without the trailing "PCN", or by the code in lower case.
    for value in ("Synthetic PCN 1", "synthetic pcn 1", "p00001"):
        result = run("explain", tiny_plan_dir, "--pcn", value)
        assert result.exit_code == EXIT_OK, result.output
        assert "PCN P00001 Synthetic PCN 1" in flat(result.output)
    result = run("explain", tiny_plan_dir, "--site", "hub 0")
    assert result.exit_code == EXIT_OK, result.output
    assert "Site H00000" in flat(result.output)
    # A typo: did you mean, naming the PCN and its code.
    result = run("explain", tiny_plan_dir, "--pcn", "Synthetic PNC 1")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "Did you mean Synthetic PCN 1 (P00001)" in flat(result.output)
    # Ambiguous: both PCNs listed, asking for the code.
    result = run("explain", tiny_plan_dir, "--pcn", "synthetic")
    assert result.exit_code == EXIT_BAD_INPUT
    text = flat(result.output)
    assert "matches 2 PCNs" in text and "(P00000)" in text and "(P00001)" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_no_type_after_flags(command):
    text = run(command, "--help").output
    assert "<bool>" not in text
    assert "--quiet" in text
    # Types as what to type, not Python's names for them.
    assert "<list[" not in text and " range>" not in text


def test_names_match_without_punctuation():
    from estates_opt.cli.explain_text import _plain

    assert (
        _plain("queens hospital") == _plain("Queen's Hospital") == _plain("QUEEN\u2019S HOSPITAL")
    )
    assert _plain("Barking and Dagenham West") == _plain("BARKING & DAGENHAM WEST PCN")
    assert _plain("St. Stephens") == _plain("st stephens")


def test_without_a_terminal_each_step_says_when_it_ends(tiny_plan_dir):
    result = run("explain", tiny_plan_dir)
    assert result.exit_code == EXIT_OK
    lines = result.output.splitlines()
    assert re.fullmatch(r"\[\d\d:\d\d\] reading .*\.\.\.", lines[0]), lines[0]
    assert re.fullmatch(r"\[\d\d:\d\d\] done: reading .* \(\d+\.\d s\)", lines[1]), lines[1]
    assert not any(
        "[" in line and "done" in line
        for line in run("explain", tiny_plan_dir, "--quiet").output.splitlines()
    )


def test_a_long_step_without_a_terminal_says_it_is_still_going(monkeypatch, capsys):
    import time

    from estates_opt.cli import terminal as cli

    monkeypatch.setattr(cli, "HEARTBEAT_S", 0.05)
    with cli._logged_step("solving 3 scenarios..."):
        time.sleep(0.18)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].endswith("solving 3 scenarios...")
    still = [line for line in lines if "still solving 3 scenarios (" in line]
    assert 2 <= len(still) <= 4, lines
    assert re.fullmatch(r"\[\d\d:\d\d\] done: solving 3 scenarios \(0\.\d s\)", lines[-1])


def test_unknown_tiles_are_bad_input_before_anything_runs(tiny_plan_dir, tmp_path):
    # Was a traceback with exit 1, after the whole solve in `solve`.
    result = run("map", tiny_plan_dir, "--maps", tmp_path / "maps", "--tiles", "CartoDB Positrn")
    assert result.exit_code == EXIT_BAD_INPUT
    text = flat(result.output)
    assert "Traceback" not in text and "no tile layer called 'CartoDB Positrn'" in text
    assert "CartoDB.Positron" in text
    assert not (tmp_path / "maps").exists()
    result = run("solve", "--tiles", "nosuch", "--out", tmp_path / "out")
    assert result.exit_code == EXIT_BAD_INPUT and not (tmp_path / "out").exists()


def test_robust_writes_the_core_and_its_summary(tiny_scenario, tmp_path):
    out = tmp_path / "robust"
    result = run("robust", tiny_scenario, "--out", out)
    assert result.exit_code == EXIT_OK, result.output
    assert "moves hold in all 5 variants" in flat(result.output)
    core = pd.read_csv(out / "robust_core.csv")
    summary = json.loads((out / "robust_summary.json").read_text(encoding="utf-8"))
    assert summary["moves_central"] == len(core)
    assert int(core["robust"].sum()) == summary["moves_robust"]
    assert set(summary["status"]) == {
        "central",
        "demand_low",
        "demand_high",
        "cost_low",
        "cost_high",
    }


def test_solve_reports_type_and_reference_problems_of_a_scenario_in_one_run(tiny_dir, tmp_path):
    """A bad value and two names the dataset lacks: one run, one error listing all three."""
    path = tmp_path / "mixed.toml"
    path.write_text(
        f'dataset = "{tiny_dir}"\n'
        '[caps]\ncommunity = "high"\n'
        '[buildings]\nclose = ["G000000X"]\n'
        '[[pinned]]\npcn_code = "P00000"\nservice_id = "pcn_diabetes"\nsite_id = "H0000X"\n'
        'band = "weekday"\nhours_per_week = 2\n',
        encoding="utf-8",
    )
    result = run("solve", path, "--no-maps", "--out", tmp_path / "o")
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    text = flat(result.output)
    assert "Scenario error: 3 problem(s)" in text, text
    lines = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert len(lines) == 3, lines
    for key, what in (
        ("caps.community", "number"),
        ("buildings.close", "did you mean"),
        ("pinned[0].site_id", "did you mean 'H0000"),
    ):
        (line,) = [line for line in lines if key in line]
        assert str(path) in line and what in line, line
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()
    result = run("validate", path)
    assert result.exit_code == EXIT_BAD_INPUT
    assert "Scenario error: 3 problem(s)" in flat(result.output)


def test_a_bug_is_one_line_with_exit_70_and_writes_nothing(tiny_scenario, tmp_path, monkeypatch):
    # "No traceback, ever": an error of estates-opt itself (here one planted in the explain
    # stage) is said plainly, with its own exit code, and the run writes nothing.
    from estates_opt.cli import EXIT_INTERNAL
    from estates_opt.results import explain

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ValueError("Array conditional must be same shape as self")

    monkeypatch.setattr(explain, "allocation_table", broken)
    monkeypatch.delenv("ESTATES_OPT_TRACEBACK", raising=False)
    out = tmp_path / "out"
    result = run("solve", tiny_scenario, "--out", out, "--no-maps")
    assert result.exit_code == EXIT_INTERNAL, result.output
    assert isinstance(result.exception, SystemExit)
    text = flat(result.output)
    assert "Internal error" in text and "ValueError: Array conditional" in text
    assert "Traceback" not in result.output and "Nothing of this run was written" in text
    assert not out.exists()
    # on request, the traceback
    monkeypatch.setenv("ESTATES_OPT_TRACEBACK", "1")
    again = run("solve", tiny_scenario, "--out", out, "--no-maps")
    assert isinstance(again.exception, ValueError)


def test_a_folder_of_other_files_is_never_written_into(tiny_scenario, tmp_path):
    """A planner's own moves.csv in the --out folder (or --out outputs, a folder of plan
    folders) is refused before solving and left as it was; an earlier plan is replaced."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "moves.csv").write_text("my notes\n", encoding="utf-8")
    result = run("solve", tiny_scenario, "--out", mine, "--no-maps")
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    text = flat(result.output)
    assert "holds 1 other file(s)" in text and "moves.csv" in text and "Traceback" not in text
    assert (mine / "moves.csv").read_text(encoding="utf-8") == "my notes\n"
    assert sorted(p.name for p in mine.iterdir()) == ["moves.csv"]
    plan = tmp_path / "plan"
    assert run("solve", tiny_scenario, "--out", plan, "--no-maps").exit_code == EXIT_OK
    assert run("solve", tiny_scenario, "--out", plan, "--no-maps").exit_code == EXIT_OK
    result = run("compare", tiny_scenario, "--out", tmp_path)  # holds the plans and more
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert "no earlier comparison output" in flat(result.output)


def test_a_file_where_the_hub_pages_go_is_named(tiny_scenario, tmp_path):
    maps = tmp_path / "maps"
    (maps / "tiny").mkdir(parents=True)
    (maps / "tiny" / "hubs").write_text("", encoding="utf-8")
    out = tmp_path / "out"
    result = run("solve", tiny_scenario, "--out", out, "--maps", maps)
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    text = flat(result.output)
    assert f"could not write {maps / 'tiny' / 'hubs'}: it is a file, not a folder" in text
    assert "File exists" not in text and not out.exists()


def test_a_dataset_that_is_not_there_names_the_scenario_key(tmp_path):
    scenario = tmp_path / "d.toml"
    scenario.write_text('name = "x"\ndataset = "../nowhere"\n', encoding="utf-8")
    result = run("validate", scenario)
    assert result.exit_code == EXIT_BAD_INPUT, result.output
    assert f"{scenario}: key 'dataset': '../nowhere'" in flat(result.output)
    assert "does not exist" in flat(result.output)


def test_robust_runs_again_into_its_own_folder(tiny_scenario, tmp_path):
    out = tmp_path / "rob"
    assert run("robust", tiny_scenario, "--out", out, "-q").exit_code == EXIT_OK
    again = run("robust", tiny_scenario, "--out", out, "-q")
    assert again.exit_code == EXIT_OK, again.output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine\n", encoding="utf-8")
    refused = run("robust", tiny_scenario, "--out", tmp_path / "mine", "-q")
    assert refused.exit_code == EXIT_BAD_INPUT and "notes.txt" in flat(refused.output)
