"""Exact decomposition: independent towns solved apart give the monolithic optimum."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fixtures.programs import small_mip

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


def _tiny(matrix: list[list[float]], upper: list[float]):
    """min -x - 2y - 3z ... over integers in [0, 5] with rows ``matrix @ v <= upper``."""
    return small_mip(matrix, upper, list(-np.arange(1.0, len(matrix[0]) + 1)), top=5)


def test_rows_that_cannot_bind_are_those_the_column_bounds_keep_inside():
    from estates_opt.model.decompose import rows_that_cannot_bind

    lp = _tiny([[1, 1, 0], [1, 1, 0], [1, -1, 0], [-1, 0, 0]], [10, 9, 5, 0])
    lp.col_upper[2] = np.inf
    lp.row_lower[2] = -5.0
    lp2 = _tiny([[0, 0, 1]], [100])
    lp2.col_upper[2] = np.inf
    # x + y <= 10 holds; <= 9 can bind; -5 <= x - y <= 5 holds; -x <= 0 holds
    assert rows_that_cannot_bind(lp).tolist() == [True, False, True, True]
    assert rows_that_cannot_bind(lp2).tolist() == [False]  # z is unbounded above


@pytest.mark.parametrize("solver", [{"backend": "direct"}, {"name": "cbc"}])
def test_components_apart_give_the_whole_optimum_and_a_coupled_model_is_left_whole(solver):
    from estates_opt.model.decompose import solve_by_components
    from estates_opt.model.step_worker import StepWorker

    options = Solver(mip_gap=0.0, **solver)
    # 2x + y <= 7 and 2z <= 7 apart; x + y + z <= 15 spans both but cannot bind; w is in
    # no row (a component with no row: at its cheaper bound, no solver needed)
    apart = _tiny([[2, 1, 0, 0], [0, 0, 2, 0], [1, 1, 1, 0]], [7, 7, 15])
    with StepWorker() as worker:
        assert worker.start()
        split = solve_by_components(apart, options, worker)
    assert split is not None and split.status is SolveStatus.OPTIMAL
    assert split.objective == pytest.approx(solve_model(apart, options).objective)
    assert split.values.tolist() == pytest.approx([1.0, 5.0, 3.0, 5.0])
    assert split.gap == pytest.approx(0.0, abs=1e-9)
    alone = solve_by_components(apart, options)  # without a second process too
    assert alone is not None and alone.values.tolist() == pytest.approx(split.values.tolist())
    # x + y + z <= 12 can bind, so it joins them
    coupled = _tiny([[2, 1, 0], [0, 0, 2], [1, 1, 1]], [7, 7, 12])
    assert solve_by_components(coupled, options) is None


WHOLE = {"whole_sessions": True}


def test_stage_one_solves_each_town_alone_and_finds_the_same_least_movement(towns):
    """The whole-session model's movement tolerance row spans every town but cannot bind in
    stage 1, so the towns are solved one by one (two at once with the second process), to
    the least movement the whole model has."""
    from dataclasses import replace

    from estates_opt.model import staged
    from estates_opt.model.decompose import rows_that_cannot_bind
    from estates_opt.model.step_worker import StepWorker

    sc, lp = model(towns, options=WHOLE)
    tolerance_row = (lp.rows["family"] == "move_tolerance").to_numpy()
    assert rows_that_cannot_bind(lp)[tolerance_row].all()
    assert components(lp)[0] == 1  # joined by that row
    with StepWorker() as worker:
        assert worker.start()
        least, first = staged.least_movement(lp, sc, worker)
    in_turn, _ = staged.least_movement(lp, sc)
    assert first.status is SolveStatus.OPTIMAL
    assert in_turn == least
    activity = lp.matrix @ first.values
    assert (activity <= lp.row_upper + 1e-6).all() and (activity >= lp.row_lower - 1e-6).all()
    # the same least as stage 1's model solved whole, to optimality
    family = lp.columns["family"].to_numpy()
    whole_sessions = ~np.isin(family, ["specialty_site", "site_use", "relocate"])
    stage_one = replace(
        lp,
        objective=lp.moved_hours() + lp.terms["unmet"],
        integer=lp.integer & whole_sessions,
        start=None,
    )
    exact = sc.solver.model_copy(update={"mip_gap": 0.0})
    whole = solve_model(stage_one, exact)
    assert float(stage_one.objective @ first.values) == pytest.approx(whole.objective, rel=0.01)
