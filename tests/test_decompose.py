"""Exact decomposition: independent towns solved apart give the monolithic optimum."""

from __future__ import annotations

import math

import numpy as np
import pytest

from estates_opt.inputs.dataset import dataset_from_tables
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model
from estates_opt.model.decompose import components, find_blocks, solve_decomposed, stitch
from estates_opt.model.result import SolveResult, SolveStatus
from estates_opt.model.solve import solve_model
from estates_opt.pipeline import solve
from estates_opt.scenario import Solver, scenario_from_dict
from estates_opt.synthetic import Scale, generate

#: Three towns far enough apart that no PCN reaches another town's sites.
TOWNS = Scale(
    pcns=9, practices_per_pcn=3, community_sites=9, lsoas_per_pcn=6, acute_sites=3, towns=3
)
#: One town: every PCN reaches a shared hospital, so the model is one block.
ONE_TOWN = Scale(
    pcns=4, practices_per_pcn=2, community_sites=4, lsoas_per_pcn=4, acute_sites=1, towns=1
)


@pytest.fixture(scope="module")
def towns():
    return dataset_from_tables(generate(TOWNS, seed=11), source="three towns")


#: Decomposition splits models whose blocks share no row: the LP, or a MIP of opening
#: decisions. A whole-session plan's movement tolerance joins every block, so it has none.
LP = {"whole_sessions": False}


def model(dataset, **scenario):
    scenario["options"] = {**LP, **scenario.get("options", {})}
    sc = scenario_from_dict({"name": "decompose", **scenario})
    return sc, build_model(dataset, sc, measure_travel(dataset, sc))


def only_services(tables: dict, services: set[str]) -> dict:
    """The tables with only ``services`` (and their demand and baseline)."""
    keep = dict(tables)
    for name in ("services", "demand", "baseline"):
        keep[name] = tables[name][tables[name]["service_id"].isin(services)]
    return keep


def test_disconnected_towns_are_separate_components(towns):
    _, lp = model(towns)
    count, col_label, row_label = components(lp)
    # No nonzero joins two components: each row's columns share the row's label.
    coo = lp.matrix.tocoo()
    assert np.array_equal(col_label[coo.col], row_label[coo.row])
    # Each component lies in one town (rooms of different types or bands split towns further).
    town = dict(zip(towns.pcns["pcn_code"], towns.pcns["borough"], strict=True))
    x = lp.columns["family"].to_numpy() == "x"
    per_label = (
        lp.columns.loc[x, ["pcn_code"]]
        .assign(town=lambda f: f["pcn_code"].map(town), label=col_label[x])
        .groupby("label")["town"]
        .nunique()
    )
    assert (per_label == 1).all()
    assert count >= TOWNS.towns


def test_a_connected_instance_is_one_block():
    """One town and one room type and band: every PCN shares a room with a neighbour."""
    tables = only_services(generate(ONE_TOWN, seed=2), {"pcn_diabetes", "op_dermatology"})
    _, lp = model(dataset_from_tables(tables, source="one town"))
    assert components(lp)[0] == 1
    blocks = find_blocks(lp, max_blocks=4)
    assert blocks.count == 1
    assert (blocks.column_block == 0).all() and (blocks.row_block == 0).all()


def test_blocks_are_balanced_and_cover_everything(towns):
    _, lp = model(towns)
    blocks = find_blocks(lp, max_blocks=2)
    assert blocks.count == 2
    assert set(np.unique(blocks.column_block)) == {0, 1}
    assert (blocks.row_block >= 0).all()
    sizes = np.bincount(blocks.column_block)
    assert sizes.min() > 0.2 * sizes.sum()


@pytest.mark.parametrize("backend", ["direct", "pulp"])
def test_decomposed_lp_equals_the_monolithic_one(towns, backend):
    sc, lp = model(towns, solver={"backend": backend})
    whole = solve_model(lp, sc.solver)
    parts = solve_decomposed(lp, sc.solver, processes=2)
    assert parts.status is SolveStatus.OPTIMAL
    assert parts.objective == pytest.approx(whole.objective, rel=1e-7)
    assert float(lp.objective @ parts.values) == pytest.approx(whole.objective, rel=1e-7)
    activity = lp.matrix @ parts.values
    assert (activity >= lp.row_lower - 1e-6).all() and (activity <= lp.row_upper + 1e-6).all()
    # Duals are the LP's own: strong duality holds for the stitched values and duals.
    assert parts.duals is not None and parts.duals.shape == (lp.matrix.shape[0],)
    reduced = lp.objective - lp.matrix.T @ parts.duals
    assert (reduced >= -1e-6).all()  # every column is >= 0 with no finite upper bound


def test_decomposed_plan_verifies_and_matches(towns):
    base = {"name": "towns", "options": LP, "solver": {"backend": "direct"}}
    whole = solve(towns, scenario_from_dict(base))
    parts = solve(
        towns, scenario_from_dict({**base, "solver": {**base["solver"], "decompose": True}})
    )
    assert parts.kpis["verified"] and whole.kpis["verified"]
    assert parts.kpis["objective"] == pytest.approx(whole.kpis["objective"], rel=1e-7)
    assert parts.kpis["unmet_hours_total"] == pytest.approx(whole.kpis["unmet_hours_total"])


def test_decomposed_mip_equals_the_monolithic_one_at_zero_gap(towns):
    sc, lp = model(
        towns,
        options={"opening_decisions": True},
        solver={"backend": "direct", "mip_gap": 0.0},
    )
    assert lp.is_mip
    whole = solve_model(lp, sc.solver)
    parts = solve_decomposed(lp, sc.solver, processes=2)
    assert parts.status is SolveStatus.OPTIMAL
    assert parts.objective == pytest.approx(whole.objective, rel=1e-7)
    assert parts.best_bound is not None and parts.gap is not None and parts.gap <= 1e-6
    assert np.allclose(parts.values[lp.integer], np.round(parts.values[lp.integer]))


def test_a_move_budget_couples_everything_so_the_model_is_solved_whole(towns):
    sc, lp = model(towns, options={"move_budget_hours": 100.0}, solver={"backend": "direct"})
    assert components(lp)[0] < 3  # the budget row joins the towns
    parts = solve_decomposed(lp, sc.solver, processes=2)
    whole = solve_model(lp, sc.solver)
    assert parts.objective == pytest.approx(whole.objective, rel=1e-9)


def fake(status: SolveStatus, objective: float, n: int, bound: float | None = None) -> SolveResult:
    values = np.ones(n) if status.has_plan else np.full(n, np.nan)
    return SolveResult(status, objective, bound, None, values, np.zeros(1), "highs", "direct", 0.1)


def test_stitch_reports_the_worst_status_and_sums_objectives(towns):
    _, lp = model(towns)
    n = lp.matrix.shape[1]
    half = n // 2
    rows = np.arange(lp.matrix.shape[0])
    positions = [(np.arange(half), rows[:1]), (np.arange(half, n), rows[1:2])]
    options = Solver(backend="direct")
    both = stitch(
        lp,
        positions,
        [fake(SolveStatus.OPTIMAL, 10.0, half), fake(SolveStatus.OPTIMAL, 5.0, n - half)],
        options,
        1.0,
    )
    assert both.status is SolveStatus.OPTIMAL and both.objective == 15.0
    assert (both.values == 1.0).all()
    limit = stitch(
        lp,
        positions,
        [
            fake(SolveStatus.FEASIBLE_TIME_LIMIT, 10.0, half),
            fake(SolveStatus.OPTIMAL, 5.0, n - half),
        ],
        options,
        1.0,
    )
    assert limit.status is SolveStatus.FEASIBLE_TIME_LIMIT and limit.objective == 15.0
    failed = stitch(
        lp,
        positions,
        [fake(SolveStatus.INFEASIBLE, math.nan, half), fake(SolveStatus.OPTIMAL, 5.0, n - half)],
        options,
        1.0,
    )
    assert failed.status is SolveStatus.INFEASIBLE and math.isnan(failed.objective)
    assert not failed.status.has_plan and failed.duals is None


def test_the_pipeline_uses_decomposition_from_the_scenario(towns, monkeypatch):
    import estates_opt.model.decompose as decompose

    calls = []
    real = decompose.solve_decomposed

    def spy(lp, options, **kwargs):
        calls.append(options.decompose)
        return real(lp, options, processes=1, **kwargs)

    monkeypatch.setattr(decompose, "solve_decomposed", spy)
    scenario = scenario_from_dict(
        {"options": LP, "solver": {"backend": "direct", "decompose": True}}
    )
    plan = solve(towns, scenario)
    assert calls == [True] and plan.kpis["verified"]
