"""Solving: a hand-computed optimum, agreement between solvers, statuses, and shadow prices.

The hand-made instance is described in tests/fixtures/handmade.py. With the
default weights (travel 6 GBP/h/km, room cost x1, move 4 GBP/h, unmet 10,000
GBP/h) the cost per hour of each allowed column is travel*6 + room cost + move:

    clin PA S1 weekday  1.5*6 + 40 + 0 = 49    headroom S1 weekday   10
    clin PA S3 weekday  3.0*6 + 15 + 4 = 37    headroom S3 weekday   45
    clin PB S3 weekday  1.0*6 + 15 + 0 = 21
    ea   PA S1 evening  1.5*6 + 40 + 0 = 49    headroom S1 evening   8.5
    ea   PA S2 saturday 2.0*6 + 20 + 4 = 36    headroom S2 saturday  7.2
    ea   PB S2 saturday 2.0*6 + 20 + 0 = 32

clin: PB's 20 h can only go to S3 (21/h); PA takes the other 25 h of S3 (37/h)
and its last 5 h go to S1 (49/h): 20*21 + 25*37 + 5*49 = 420 + 925 + 245 = 1590.
ea: PB's 4 h can only go to S2 (32/h); PA takes S2's other 3.2 h (36/h) and
2.8 h at S1 evening (49/h): 128 + 115.2 + 137.2 = 380.4.
Optimum: 1590 + 380.4 = 1970.4 GBP/week.

Shadow prices: one more hour at S3 weekday moves an hour of PA clin from S1 to
S3 (49 - 37 = 12); one more hour at S2 Saturday moves an hour of PA ea from S1
evening to S2 (49 - 36 = 13).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import highspy
import numpy as np
import pytest
from fixtures import handmade

from estates_opt.errors import InfeasibleError, SolverUnavailableError
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model
from estates_opt.model.result import SolveStatus
from estates_opt.model.solve import fix_integers, solve_model
from estates_opt.model.status import highs_status as _highs_status
from estates_opt.model.status import pulp_status as _pulp_status
from estates_opt.pipeline import solve
from estates_opt.scenario import Solver

OPTIMUM = 1970.4
BACKENDS = [("highs", "pulp"), ("cbc", "pulp"), ("highs", "direct")]


def build(dataset=None, **overrides):
    dataset = dataset or handmade.dataset()
    scenario = handmade.scenario(**overrides)
    return build_model(dataset, scenario, measure_travel(dataset, scenario)), scenario


def value(lp, result, family, **ids) -> float:
    mask = lp.columns["family"] == family
    for key, v in ids.items():
        mask &= lp.columns[key] == v
    (j,) = np.flatnonzero(mask.to_numpy())
    return float(result.values[j])


@pytest.mark.parametrize(("name", "backend"), BACKENDS)
def test_hand_computed_optimum(name, backend):
    lp, scenario = build(solver={"name": name, "backend": backend})
    result = solve_model(lp, scenario.solver)
    assert result.status is SolveStatus.OPTIMAL
    assert (result.solver, result.backend) == (name, backend)
    assert result.objective == pytest.approx(OPTIMUM, abs=1e-6)
    assert float(lp.objective @ result.values) == pytest.approx(OPTIMUM, abs=1e-6)
    assert value(lp, result, "x", service_id="clin", pcn_code="PA", site_id="S3") == pytest.approx(
        25.0, abs=1e-6
    )
    assert value(lp, result, "x", service_id="ea", pcn_code="PA", site_id="S1") == pytest.approx(
        2.8, abs=1e-6
    )
    unmet = lp.columns["family"].to_numpy() == "unmet"
    assert np.allclose(result.values[unmet], 0.0, atol=1e-9)


def test_solvers_agree_on_the_synthetic_small_instance(small_dir):
    from estates_opt import read_dataset

    dataset = read_dataset(small_dir)
    objectives = {}
    for name, backend in BACKENDS:
        from estates_opt.scenario import scenario_from_dict

        scenario = scenario_from_dict({"solver": {"name": name, "backend": backend}})
        lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
        result = solve_model(lp, scenario.solver)
        assert result.status is SolveStatus.OPTIMAL
        objectives[(name, backend)] = result.objective
    values = list(objectives.values())
    assert max(values) - min(values) <= 1e-6 * max(1.0, abs(values[0])), objectives


@pytest.mark.parametrize(("name", "backend"), BACKENDS)
def test_whole_sessions_give_multiples_of_the_session_length(name, backend):
    """Sessions: weekday 4 h, evening 1.5 h, Saturday 4 h; demand may round up.

    By hand: S1 weekday fits 2 sessions (8 h of 10), S3 weekday 11 (44 of 45),
    S1 evening 5 (7.5 of 8.5), S2 Saturday 1 (4 of 7.2). PB clin 5 sessions at
    S3 (20 h, 420); PA clin the other 6 at S3 (24 h, 888) + 2 at S1 (8 h, 392);
    PB ea 1 session at S2 (4 h, 128); PA ea 4 evening sessions at S1 (6 h, 294).
    Total 2122, plus one relocation (PA clin to S3) at ``gbp_per_relocation``, less the
    tie-break on the 38 h kept in today's slots (0.05/h).
    """
    lp, scenario = build(
        options={"whole_sessions": True}, solver={"name": name, "backend": backend}
    )
    result = solve_model(lp, scenario.solver)
    assert result.status is SolveStatus.OPTIMAL
    relocation = scenario.relocation.gbp_per_relocation
    assert result.objective == pytest.approx(2122.0 + relocation - 0.05 * 38, abs=1e-6)
    xs = lp.columns["family"].to_numpy() == "x"
    sessions = result.values[xs]
    assert np.allclose(sessions, np.round(sessions), atol=1e-6)
    hours = sessions * lp.columns.loc[xs, "band"].map({"weekday": 4, "evening": 1.5, "saturday": 4})
    per_band = lp.columns.loc[xs].assign(hours=hours.to_numpy())
    evening = per_band.loc[per_band["band"] == "evening", "hours"]
    assert np.allclose(evening / 1.5, np.round(evening / 1.5))
    assert per_band["hours"].sum() == pytest.approx(8 + 44 + 4 + 6)


def test_mip_duals_come_from_the_fixed_lp():
    lp, scenario = build(options={"whole_sessions": True})
    result = solve_model(lp, scenario.solver)
    fixed = fix_integers(lp, result.values)
    assert not fixed.is_mip
    opens = lp.columns["family"].to_numpy() == "open"
    assert np.array_equal(fixed.col_lower[opens], np.round(result.values[opens]))
    assert np.array_equal(fixed.col_upper[opens], np.round(result.values[opens]))
    sessions = lp.integer & ~opens
    assert sessions.any()
    # Session counts keep their bounds (relaxed), so capacity rows can have non-zero prices.
    assert np.array_equal(fixed.col_lower[sessions], lp.col_lower[sessions])
    assert result.duals is not None and len(result.duals) == len(lp.rows)


# --- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "backend"), BACKENDS)
def test_time_limit_never_reports_optimal_without_proof(small_dir, name, backend):
    """A MIP stopped at once has no plan, or a plan with its status saying so."""
    from estates_opt import read_dataset
    from estates_opt.scenario import scenario_from_dict

    dataset = read_dataset(small_dir)
    scenario = scenario_from_dict(
        {
            "options": {"whole_sessions": True},
            "solver": {"name": name, "backend": backend, "time_limit_s": 1e-9, "mip_gap": 0.0},
        }
    )
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    result = solve_model(lp, scenario.solver)
    assert result.status in (SolveStatus.NO_SOLUTION_TIME_LIMIT, SolveStatus.FEASIBLE_TIME_LIMIT)
    if result.status is SolveStatus.NO_SOLUTION_TIME_LIMIT:
        assert not result.status.has_plan
        assert np.isnan(result.objective)
    elif name == "highs":
        assert result.gap is not None and result.gap > 0


def test_plan_without_a_solution_raises_with_the_status(small_dir):
    from estates_opt import read_dataset
    from estates_opt.scenario import scenario_from_dict

    scenario = scenario_from_dict(
        {
            "name": "rushed",
            "options": {"whole_sessions": True},
            "solver": {"backend": "direct", "time_limit_s": 1e-9, "mip_gap": 0.0},
        }
    )
    with pytest.raises(InfeasibleError, match=r"rushed.*time_limit_no_solution") as info:
        solve(read_dataset(small_dir), scenario)
    assert info.value.diagnosis  # never a bare failure: says why or what to try


def fake_highs(status, *, primal=2, nodes=-1, bound=np.inf, gap=np.inf):
    info = SimpleNamespace(
        primal_solution_status=primal, mip_node_count=nodes, mip_dual_bound=bound, mip_gap=gap
    )
    return SimpleNamespace(getModelStatus=lambda: status, getInfo=lambda: info)


M = highspy.HighsModelStatus


@pytest.mark.parametrize(
    ("status", "primal", "expected"),
    [
        (M.kOptimal, 2, SolveStatus.OPTIMAL),
        (M.kTimeLimit, 2, SolveStatus.FEASIBLE_TIME_LIMIT),
        (M.kTimeLimit, 0, SolveStatus.NO_SOLUTION_TIME_LIMIT),
        (M.kIterationLimit, 2, SolveStatus.FEASIBLE_TIME_LIMIT),
        (M.kSolutionLimit, 0, SolveStatus.NO_SOLUTION_TIME_LIMIT),
        (M.kInterrupt, 2, SolveStatus.FEASIBLE_TIME_LIMIT),
        (M.kInfeasible, 0, SolveStatus.INFEASIBLE),
        (M.kUnbounded, 0, SolveStatus.UNBOUNDED),
        (M.kUnboundedOrInfeasible, 0, SolveStatus.UNBOUNDED),
        (M.kSolveError, 0, SolveStatus.ERROR),
        (M.kModelError, 0, SolveStatus.ERROR),
    ],
)
def test_highs_status_mapping(status, primal, expected):
    got, _, _ = _highs_status(fake_highs(status, primal=primal), highspy)
    assert got is expected
    assert got.has_plan == (expected in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE_TIME_LIMIT))


def test_highs_time_limit_with_a_plan_reports_bound_and_gap():
    status, bound, gap = _highs_status(
        fake_highs(M.kTimeLimit, nodes=12, bound=90.0, gap=0.1), highspy
    )
    assert status is SolveStatus.FEASIBLE_TIME_LIMIT
    assert (bound, gap) == (90.0, 0.1)
    status, bound, gap = _highs_status(fake_highs(M.kOptimal, nodes=3, bound=100.0), highspy)
    assert status is SolveStatus.OPTIMAL and bound == 100.0 and gap == 0.0
    status, bound, gap = _highs_status(fake_highs(M.kOptimal), highspy)  # an LP: no MIP bound
    assert (bound, gap) == (None, None)


@pytest.mark.parametrize(
    ("status", "sol_status", "expected"),
    [
        (1, 1, SolveStatus.OPTIMAL),
        (1, 2, SolveStatus.FEASIBLE_TIME_LIMIT),  # CBC stopped on time with a plan
        (0, 2, SolveStatus.FEASIBLE_TIME_LIMIT),
        (0, 0, SolveStatus.NO_SOLUTION_TIME_LIMIT),
        (-1, -1, SolveStatus.INFEASIBLE),
        (-2, -2, SolveStatus.UNBOUNDED),
        (-3, 0, SolveStatus.ERROR),
    ],
)
def test_pulp3_cbc_status_mapping(status, sol_status, expected):
    prob = SimpleNamespace(status=status, sol_status=sol_status)
    got, bound, gap = _pulp_status(prob, status, "cbc")
    assert got is expected
    assert (bound, gap) == (None, None)


@pytest.mark.parametrize(
    ("code", "has_solution", "expected"),
    [
        (1, True, SolveStatus.OPTIMAL),
        (-1, False, SolveStatus.INFEASIBLE),
        (-2, False, SolveStatus.UNBOUNDED),
        (0, True, SolveStatus.FEASIBLE_TIME_LIMIT),
        (-4, False, SolveStatus.NO_SOLUTION_TIME_LIMIT),
        (-3, False, SolveStatus.ERROR),
    ],
)
def test_pulp4_stats_status_mapping(code, has_solution, expected):
    stats = SimpleNamespace(status=code, has_solution=has_solution, best_bound=5.0, gap_rel=0.2)
    got, bound, gap = _pulp_status(SimpleNamespace(), stats, "highs")
    assert got is expected
    assert (bound, gap) == (5.0, 0.2)


def test_infeasible_pin_is_reported_infeasible():
    """A pin above a slot's headroom makes the hard constraints contradict each other."""
    pin = {"pcn_code": "PA", "service_id": "clin", "site_id": "S1", "band": "weekday"}
    for name, backend in BACKENDS:
        lp, scenario = build(
            pinned=[{**pin, "hours_per_week": 20.0}], solver={"name": name, "backend": backend}
        )
        result = solve_model(lp, scenario.solver)
        assert result.status in (SolveStatus.INFEASIBLE, SolveStatus.UNBOUNDED), (name, backend)
        assert not result.status.has_plan


def test_direct_backend_is_highs_only():
    lp, _ = build()
    with pytest.raises(SolverUnavailableError, match="HiGHS only"):
        solve_model(lp, Solver(name="cbc", backend="direct"))


# --- shadow prices -------------------------------------------------------------------------


def capacity_row(lp, site, band) -> int:
    rows = lp.rows
    mask = (rows["family"] == "capacity") & (rows["site_id"] == site) & (rows["band"] == band)
    (r,) = np.flatnonzero(mask.to_numpy())
    return int(r)


@pytest.mark.parametrize(("name", "backend"), BACKENDS)
@pytest.mark.parametrize(
    ("site", "band", "price"), [("S3", "weekday", 12.0), ("S2", "saturday", 13.0)]
)
def test_shadow_price_equals_the_gain_from_one_more_room_hour(name, backend, site, band, price):
    lp, scenario = build(solver={"name": name, "backend": backend})
    result = solve_model(lp, scenario.solver)
    r = capacity_row(lp, site, band)
    assert -result.duals[r] == pytest.approx(price, abs=1e-6)
    # Re-solve with one more hour of headroom in that row.
    upper = lp.row_upper.copy()
    upper[r] += 1.0
    again = solve_model(replace(lp, row_upper=upper), scenario.solver)
    assert result.objective - again.objective == pytest.approx(-result.duals[r], abs=1e-6)


def test_shadow_price_from_the_data_one_room_hour_freed():
    """The same gain through the whole pipeline: free one room-hour of fixed use at S3."""
    plan = solve(handmade.dataset(), handmade.scenario())
    table = plan.bottlenecks.set_index(["site_id", "band"])
    prices = table["dual_gbp_per_movable_hour"]  # one hour of fixed work freed
    assert dict(prices) == pytest.approx({("S2", "saturday"): 13.0, ("S3", "weekday"): 12.0})
    capacity = [
        (*row[:4], row[4] - 1.0, row[5]) if row[:3] == ("S3", "consulting", "weekday") else row
        for row in handmade.CAPACITY_ROWS
    ]
    better = solve(handmade.dataset(capacity=capacity), handmade.scenario())
    gain = plan.kpis["objective"] - better.kpis["objective"]
    assert gain == pytest.approx(prices[("S3", "weekday")], abs=1e-6)
    # One more room-hour of capacity instead: cap (0.9) more movable hours.
    capacity = [
        (*row[:3], row[3] + 1.0, *row[4:]) if row[:3] == ("S3", "consulting", "weekday") else row
        for row in handmade.CAPACITY_ROWS
    ]
    roomier = solve(handmade.dataset(capacity=capacity), handmade.scenario())
    saving = plan.kpis["objective"] - roomier.kpis["objective"]
    assert saving == pytest.approx(table.at[("S3", "weekday"), "shadow_price_gbp_per_room_hour"])
    assert saving == pytest.approx(0.9 * 12.0, abs=1e-6)
    # Slack rows have no price: S1 weekday has 5 h to spare at the optimum.
    assert "S1" not in set(plan.bottlenecks["site_id"])


def _resolve_with_one_more_room_hour(dataset, scenario, site, room, band) -> float:
    from estates_opt.inputs.changes import apply_scenario

    cap = dataset.capacity.copy()
    row = (cap["site_id"] == site) & (cap["room_type"] == room) & (cap["band"] == band)
    assert row.sum() == 1
    cap.loc[row, "capacity_hours"] += 1.0
    data = apply_scenario(replace(dataset, capacity=cap), scenario)
    lp = build_model(data, scenario, measure_travel(data, scenario))
    return solve_model(lp, scenario.solver).objective


def test_nel_prices_are_what_one_more_room_hour_saves(nel_dataset):
    """Issue 11: +1 room-hour on a hub, a community site and a practice whose fixed work is
    over its cap; the re-solved objective moves by the reported price (within 2%).

    On the LP (nel_lp.toml): prices are duals, exact for the LP; a whole-session plan's
    prices are those of its LP with the decisions fixed, and a re-solved MIP may jump.
    """
    from estates_opt.scenario import load_scenario

    models = Path(__file__).resolve().parent.parent / "models"
    nel_plan = solve(nel_dataset, load_scenario(models / "nel_lp.toml"))
    b = nel_plan.bottlenecks
    hub = b[(b["kind"] == "pcn_hub") & (b["room_hours_before_saving"] == 0)].iloc[0]
    community = b[(b["kind"] == "community") & (b["room_hours_before_saving"] == 0)].iloc[0]
    over = b[(b["kind"] == "gp_practice") & (b["room_hours_before_saving"] > 2)].iloc[0]
    assert over["fixed_hours"] > over["cap"] * over["capacity_hours"]
    assert over["shadow_price_gbp_per_room_hour"] == 0.0
    assert over["dual_gbp_per_movable_hour"] > 1.0  # the dual alone would overstate it
    base = nel_plan.kpis["objective"]
    for row in (hub, community, over):
        again = _resolve_with_one_more_room_hour(
            nel_dataset, nel_plan.scenario, row["site_id"], row["room_type"], row["band"]
        )
        saving = base - again
        price = float(row["shadow_price_gbp_per_room_hour"])
        assert saving == pytest.approx(price, rel=0.02, abs=0.01), row["site_id"]


def test_pulp_and_direct_highs_routes_solve_one_model(small_dir):
    """PuLP runs HiGHS on the arrays the direct route hands it: the same plan, bit for bit."""
    from estates_opt import read_dataset
    from estates_opt.model.solve import solve_direct, solve_pulp
    from estates_opt.scenario import scenario_from_dict

    dataset = read_dataset(small_dir)
    scenario = scenario_from_dict({"options": {"opening_decisions": True}})
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    via_pulp = solve_pulp(lp, scenario.solver)
    direct = solve_direct(lp, scenario.solver)
    assert via_pulp.backend == "pulp" and direct.backend == "direct"
    assert via_pulp.status == direct.status
    assert np.array_equal(via_pulp.values, direct.values)
    assert via_pulp.objective == direct.objective
    assert via_pulp.gap == direct.gap and via_pulp.best_bound == direct.best_bound
    assert 0 <= via_pulp.pulp_build_seconds <= via_pulp.seconds
