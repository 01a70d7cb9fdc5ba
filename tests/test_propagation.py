"""Pins that break the model only through the links between rows are named before solving."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from fixtures import handmade

from estates_opt.errors import ScenarioError
from estates_opt.model.program import LinearProgram
from estates_opt.model.propagation import pin_conflict
from estates_opt.model.result import SolveStatus
from estates_opt.model.solve import solve_model
from estates_opt.pipeline import solve
from estates_opt.scenario import Solver

WHOLE = {"whole_sessions": True}


def two_building_pins(limit: int):
    pins = [
        {"pcn_code": "PA", "service_id": "clin", "site_id": s, "band": "weekday"}
        | {"hours_per_week": 4.0}
        for s in ("S1", "S3")
    ]
    return handmade.scenario(
        options=WHOLE, relocation={"max_buildings_per_clinic": limit}, pinned=pins
    )


def test_two_pins_in_two_buildings_under_a_one_building_limit_are_named():
    """Each pin fits its room; only the clinic's building limit, reached through the
    relocation and site-use links, rules them out together. The solver said only
    'infeasible' and 'no arithmetic cause found'."""
    with pytest.raises(ScenarioError) as caught:
        solve(handmade.dataset(), two_building_pins(1))
    text = str(caught.value)
    assert "pinned[0], pinned[1]" in text
    assert "clin for PA in 2 buildings" in text and "at most 1" in text
    assert "relocation.max_buildings_per_clinic = 1" in text
    assert "infeasible" not in text


def test_the_same_pins_under_a_two_building_limit_solve_and_hold():
    plan = solve(handmade.dataset(), two_building_pins(2))
    alloc = plan.allocations
    pa = alloc[(alloc["pcn_code"] == "PA") & (alloc["service_id"] == "clin")]
    held = pa.groupby("site_id")["hours_per_week"].sum()
    assert held["S1"] >= 4.0 and held["S3"] >= 4.0
    assert plan.kpis["verified"] is True


def linked_program(rng: np.random.Generator) -> LinearProgram:
    """x_j in [0, 3] integer, some pinned up; x_j <= 3 z_j with binary z_j; at most
    ``limit`` of the z; and a capacity row over the x: the shape of the whole-session model."""
    n = int(rng.integers(2, 6))
    limit = int(rng.integers(1, n + 1))
    capacity = float(rng.integers(2, 3 * n + 1))
    eye = np.eye(n)
    matrix = np.vstack(
        [
            np.hstack([eye, -3 * eye]),  # relocate links
            np.hstack([np.zeros(n), np.ones(n)]),  # buildings limit
            np.hstack([rng.integers(1, 3, n).astype(float), np.zeros(n)]),  # capacity
        ]
    )
    lower = np.concatenate([rng.integers(0, 3, n) * (rng.random(n) < 0.5), np.zeros(n)])
    families = ["relocate"] * n + ["clinic_buildings", "capacity"]
    return LinearProgram(
        columns=pd.DataFrame({"family": ["x"] * n + ["relocate"] * n}),
        rows=pd.DataFrame({"family": families, "row_name": [f"r{i}" for i in range(n + 2)]}),
        matrix=sp.csr_matrix(matrix),
        objective=np.concatenate([-np.ones(n), np.ones(n)]),
        terms={},
        col_lower=lower.astype(float),
        col_upper=np.concatenate([np.full(n, 3.0), np.ones(n)]),
        row_lower=np.full(n + 2, -np.inf),
        row_upper=np.concatenate([np.zeros(n), [limit, capacity]]),
        integer=np.ones(2 * n, bool),
    )


def test_a_conflict_found_is_always_real_and_names_only_pinned_columns():
    """Sound: whenever propagation reports a conflict, HiGHS finds the program infeasible,
    and the columns it blames carry a lower bound of their own. Not vacuous: it finds most
    of the infeasible programs of this shape."""
    rng = np.random.default_rng(7)
    found = infeasible = 0
    for _ in range(120):
        lp = linked_program(rng)
        conflict = pin_conflict(lp)
        status = solve_model(lp, Solver(time_limit_s=10)).status
        infeasible += status == SolveStatus.INFEASIBLE
        if conflict is None:
            continue
        found += 1
        assert status == SolveStatus.INFEASIBLE, (lp.col_lower, lp.row_upper)
        assert conflict.pinned_columns
        assert all(lp.col_lower[j] > 0 for j in conflict.pinned_columns)
        assert lp.rows["family"].iloc[conflict.row] in ("clinic_buildings", "capacity")
    assert infeasible >= 10
    assert found == infeasible  # this shape needs no branching: every conflict is found


def test_a_program_without_pins_has_no_conflict():
    lp = linked_program(np.random.default_rng(1))
    assert pin_conflict(replace(lp, col_lower=np.zeros_like(lp.col_lower))) is None


def test_solve_names_pins_that_spread_a_specialty_past_its_site_limit(
    tiny_dir, tiny_dataset, tmp_path
):
    """From the command line: exit 2, the pins and the scenario key named, nothing written."""
    from typer.testing import CliRunner

    from estates_opt.cli import EXIT_BAD_INPUT, app

    premises, services = tiny_dataset.premises, tiny_dataset.services
    sites = premises.loc[premises["kind"] == "community", "site_id"].iloc[:2].tolist()
    specialty = services.loc[services["category"] == "outpatient_outreach", "service_id"].iloc[0]
    pins = "".join(
        f'[[pinned]]\npcn_code = "{pcn}"\nservice_id = "{specialty}"\nsite_id = "{site}"\n'
        'band = "weekday"\nhours_per_week = 4\n'
        for pcn, site in zip(tiny_dataset.pcns["pcn_code"], sites, strict=False)
    )
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        f'dataset = "{tiny_dir.as_posix()}"\n[relocation]\n'
        f"max_sites_per_specialty_per_borough = 1\n{pins}",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    for args in (["validate", str(scenario)], ["solve", str(scenario), "--out", str(out)]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == EXIT_BAD_INPUT, result.output
        assert "Traceback" not in result.output
        assert "pinned[0], pinned[1]" in result.output
        assert f"pin {specialty} at 2 sites" in result.output
        assert "max_sites_per_specialty_per_borough = 1" in result.output
    assert not out.exists()


def test_a_clash_no_check_finds_is_still_put_on_the_pins(monkeypatch):
    """Should a clash need branching, which propagation does not do, the solver's
    'infeasible' still says what can cause it: only the pins, since every target may
    fall short."""
    import estates_opt.pipeline as pipeline
    from estates_opt.errors import InfeasibleError

    monkeypatch.setattr(pipeline, "pin_problems", lambda lp, scenario: [])
    with pytest.raises(InfeasibleError) as caught:
        solve(handmade.dataset(), two_building_pins(1))
    assert "only the pins can make the model infeasible: pinned[0], pinned[1]" in str(caught.value)
