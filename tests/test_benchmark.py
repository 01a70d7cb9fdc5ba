"""The benchmark script runs end to end on a tiny instance and reports what it promises."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "run.py"
PHASES = ("load", "travel", "build", "solve", "explain", "verify", "write", "workbook")


def test_benchmark_smoke_run_reports_sizes_times_and_the_lower_bound(tmp_path):
    out = tmp_path / "tiny.json"
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--scale",
            "tiny",
            "--seed",
            "1",
            "--cache",
            str(tmp_path / "cache"),
            "--json",
            str(out),
            "--solver-options",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads(out.read_text(encoding="utf-8"))
    for key in (
        "variables",
        "constraints",
        "nonzeros",
        "seconds",
        "lower_bound_seconds",
        "ratio",
        "peak_rss_mb",
        "objective",
        "lower_bound_objective",
    ):
        assert key in record, key
    assert record["variables"] > 0 and record["constraints"] > 0 and record["nonzeros"] > 0
    seconds = record["seconds"]
    assert set(PHASES) <= set(seconds)
    # Phase times are real measurements: each positive, and together within the run's wall time.
    assert all(seconds[p] >= 0 for p in PHASES)
    assert 0 < seconds["verified_plan"] <= seconds["total"] < wall
    assert record["peak_rss_mb"] > 0 and record["lower_bound_seconds"] > 0
    assert record["objective"] == pytest.approx(record["lower_bound_objective"], rel=1e-6)
    assert record["verified"] is True and record["backend"] == "pulp"
    options = {row["option"]: row for row in record["solver_options"]}
    assert "dual simplex (serial)" in options and "interior point + crossover" in options
    for row in options.values():
        if "error" not in row and row["status"] == "optimal":
            assert row["objective"] == pytest.approx(record["objective"], rel=1e-4)
    assert "lower bound (direct)" in done.stdout
    assert record["load_from_cache"] is False  # the tests run with the dataset cache off
    assert record["mip"] is False and record["mip_seconds"] is None and record["gap"] is None
    assert record["verified_plan_over_highs"] > 0
    assert (tmp_path / "cache" / "tiny-1" / "premises.geojson").is_file()


def test_targets_carry_a_met_flag_for_what_was_measured():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = bench  # its dataclasses look their module up
    try:
        spec.loader.exec_module(bench)
    finally:
        del sys.modules["bench_run"]
    seconds = {p: 1.0 for p in PHASES} | {"verified_plan": 6.0, "total": 8.0, "load": 0.5}
    record = {
        "seconds": seconds,
        "ratio": 1.1,
        "verified_plan_over_highs": 4.0,
        "peak_rss_mb": 1000.0,
        "mip": True,
        "gap": 0.02,
    }
    england = bench._targets("england LP", record | {"mip": False, "gap": None})
    assert england["ratio"] == {"target": 1.2, "measured": 1.1, "met": True}
    assert england["verified_plan_over_highs"]["met"] is False
    assert england["load"]["met"] is True and england["workbook"]["met"] is True
    mip = bench._targets("nel20 MIP", record)
    assert mip["gap"]["met"] is False and mip["total"]["met"] is True
    assert set(bench.TARGETS) >= {
        ("nel", False),
        ("nel", True),
        ("region", False),
        ("england", False),
        ("england", True),
        ("nel20", False),
    }
