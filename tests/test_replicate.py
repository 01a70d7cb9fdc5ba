"""Copies of a dataset side by side (the benchmark's 20x NEL): valid, independent, additive."""

from __future__ import annotations

import pytest

from estates_opt import read_dataset
from estates_opt.pipeline import solve
from estates_opt.scenario import Options, Scenario
from estates_opt.synthetic.replicate import replicated_dataset


def test_three_copies_read_back_valid_with_distinct_ids_and_three_times_the_objective(
    tiny_dir, tiny_dataset, tmp_path
):
    folder = replicated_dataset(tiny_dir, 3, tmp_path / "cache")
    assert folder.parent == tmp_path / "cache"  # never beside the source dataset
    copies = read_dataset(folder)
    assert len(copies.premises) == 3 * len(tiny_dataset.premises)
    assert copies.premises["site_id"].is_unique and copies.pcns["pcn_code"].is_unique
    assert len(copies.services) == len(tiny_dataset.services)  # a catalogue, shared
    # the LP: its optimum is exactly three times one copy's (a MIP's, within its gap)
    lp = Options(whole_sessions=False)
    one = solve(tiny_dataset, Scenario(name="one", options=lp))
    three = solve(copies, Scenario(name="three", options=lp))
    assert three.kpis["objective"] == pytest.approx(3 * one.kpis["objective"], rel=1e-6)
    assert replicated_dataset(tiny_dir, 3, tmp_path / "cache") == folder  # cached
