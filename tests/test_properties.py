"""Property tests on random small synthetic instances (Hypothesis).

Each example draws a seed and a small scale for ``synthetic.generate`` plus
random scenario knobs, and checks a property that must hold for every plan:
the independent verifier passes it, hours are conserved, more capacity never
makes the objective worse, and the order of input rows does not matter.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estates_opt import dataset_from_tables
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model
from estates_opt.model.result import SolveStatus
from estates_opt.model.solve import solve_model
from estates_opt.pipeline import solve
from estates_opt.scenario import scenario_from_dict
from estates_opt.synthetic import Scale, generate

SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


def small_scales(pcns=(2, 3), community=(1, 3), lsoas=(2, 3)) -> st.SearchStrategy[Scale]:
    """Random one-town instances with 1-2 practices per PCN and one hospital."""
    return st.builds(
        Scale,
        pcns=st.integers(*pcns),
        practices_per_pcn=st.integers(1, 2),
        community_sites=st.integers(*community),
        lsoas_per_pcn=st.integers(*lsoas),
        acute_sites=st.just(1),
        towns=st.just(1),
    )


scales = small_scales()
seeds = st.integers(0, 2**16)


@st.composite
def scenarios(draw, *, mip: bool = True) -> dict:
    """Random knobs; ``growth`` up to 3x so some instances leave demand unmet."""
    whole = draw(st.booleans()) if mip else False
    opening = draw(st.booleans()) if mip else False
    return {
        "name": "random",
        "growth": {"overall": draw(st.sampled_from([0.5, 1.0, 1.5, 3.0]))},
        "caps": {
            "community": draw(st.sampled_from([0.5, 0.75, 0.9])),
            "gp_practice": draw(st.sampled_from([0.85, 1.0])),
        },
        "weights": {
            "travel_gbp_per_hour_km": draw(st.sampled_from([0.0, 2.0, 6.0])),
            "move_gbp_per_hour": draw(st.sampled_from([0.0, 4.0, 20.0])),
            "imd_weight": draw(st.sampled_from([0.0, 1.0])),
        },
        "options": {"whole_sessions": whole, "opening_decisions": opening},
        "solver": {"backend": "direct", "mip_gap": 0.0},
    }


def dataset_for(scale: Scale, seed: int):
    return dataset_from_tables(generate(scale, seed), source=f"synthetic seed {seed}")


def check_hours_conserved(plan, demand: pd.Series) -> None:
    """Placed + unmet = demand for every (service, PCN); enhanced access may exceed its demand
    only up to what the contract asks (7.5 h evening + 8 h Saturday, 60 min per 1,000)."""
    placed = plan.allocations.groupby(["service_id", "pcn_code"])["hours_per_week"].sum()
    unmet = plan.unmet.set_index(["service_id", "pcn_code"])["unmet_hours"]
    total = placed.reindex(demand.index, fill_value=0.0) + unmet.reindex(
        demand.index, fill_value=0.0
    )
    services = plan.dataset.services.set_index("service_id")["category"]
    ea = np.asarray(demand.index.get_level_values(0).map(services) == "enhanced_access")
    np.testing.assert_allclose(total[~ea].to_numpy(), demand[~ea].to_numpy(), rtol=1e-6, atol=1e-5)
    assert (total[ea] >= demand[ea] - 1e-5).all()
    pcns = plan.dataset.pcns.set_index("pcn_code")["registered_patients"]
    ea_placed = placed[
        np.asarray(placed.index.get_level_values(0).map(services) == "enhanced_access")
    ]
    ea_demand = demand[ea].groupby(level=1).sum()
    for pcn, hours in ea_placed.groupby(level=1).sum().items():
        most = max(float(ea_demand.get(pcn, 0.0)), 7.5 + 8.0, round(pcns[pcn] / 1000, 2))
        assert hours <= most + 1e-5, pcn


def lp_objective(dataset, scenario) -> float:
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    result = solve_model(lp, scenario.solver)
    assert result.status is SolveStatus.OPTIMAL
    return result.objective


@settings(max_examples=8, **SETTINGS)
@given(scale=scales, seed=seeds, knobs=scenarios())
def test_every_plan_passes_the_independent_verifier(scale, seed, knobs):
    dataset = dataset_for(scale, seed)
    plan = solve(dataset, scenario_from_dict(knobs))  # raises VerificationError on a violation
    assert plan.status.complete  # optimal, or improved by the search's steps (whole sessions)
    # Checked here without the verifier: no room slot over its cap (or its fixed work), and
    # every hour of demand placed or reported unmet.
    u = plan.utilisation
    allowed = np.maximum(u["cap"] * u["capacity_hours"], u["fixed_hours"])
    assert (u["after_hours"] <= allowed + 1e-6).all()
    met = plan.allocations.groupby(["service_id", "pcn_code"])["hours_per_week"].sum()
    unmet = plan.unmet.set_index(["service_id", "pcn_code"])
    placed = met.reindex(unmet.index, fill_value=0.0)
    np.testing.assert_allclose(placed, unmet["met_hours"], atol=1e-4)
    # whole sessions round demand up to sessions, so met + unmet may exceed demand
    assert (placed + unmet["unmet_hours"] >= unmet["demand_hours"] - 1e-4).all()


@settings(max_examples=10, **SETTINGS)
@given(scale=scales, seed=seeds, knobs=scenarios(mip=False))
def test_hours_are_conserved_in_lp_mode(scale, seed, knobs):
    """For every PCN and service: hours placed + hours unmet = demand x growth, exactly
    (enhanced access: at least, and no more than the contract asks)."""
    dataset = dataset_for(scale, seed)
    plan = solve(dataset, scenario_from_dict(knobs))
    growth = knobs["growth"]["overall"]
    demand = dataset.demand.set_index(["service_id", "pcn_code"])["hours_per_week"] * growth
    check_hours_conserved(plan, demand)
    placed = plan.allocations.groupby(["service_id", "pcn_code"])["hours_per_week"].sum()
    assert (plan.allocations["hours_per_week"] >= 0).all()
    assert (plan.unmet["unmet_hours"] >= -1e-9).all()
    # Nothing is placed for a (service, PCN) without demand.
    assert set(placed[placed > 0].index) <= set(demand[demand > 0].index)


@settings(max_examples=10, **SETTINGS)
@given(
    scale=scales,
    seed=seeds,
    knobs=scenarios(mip=False),
    factor=st.floats(1.0, 2.0),
    share=st.floats(0.1, 1.0),
)
def test_more_capacity_never_worsens_the_objective(scale, seed, knobs, factor, share):
    dataset = dataset_for(scale, seed)
    scenario = scenario_from_dict(knobs)
    before = lp_objective(dataset, scenario)
    rng = np.random.default_rng(seed)
    grow = rng.random(len(dataset.capacity)) < share
    capacity = dataset.capacity.copy()
    capacity.loc[grow, "capacity_hours"] *= factor
    after = lp_objective(replace(dataset, capacity=capacity), scenario)
    assert after <= before + 1e-6 * max(1.0, abs(before))


@settings(max_examples=8, **SETTINGS)
@given(scale=scales, seed=seeds, knobs=scenarios(mip=False), order_seed=seeds)
def test_row_order_of_the_inputs_does_not_change_the_plan(scale, seed, knobs, order_seed):
    tables = generate(scale, seed)
    rng = np.random.default_rng(order_seed)
    shuffled = {name: frame.iloc[rng.permutation(len(frame))] for name, frame in tables.items()}
    scenario = scenario_from_dict(knobs)
    plan = solve(dataset_from_tables(tables), scenario)
    again = solve(dataset_from_tables(shuffled), scenario)
    assert again.kpis["objective"] == pytest.approx(plan.kpis["objective"], rel=1e-9, abs=1e-6)
    pd.testing.assert_frame_equal(
        again.allocations, plan.allocations, check_exact=False, rtol=1e-6, atol=1e-6
    )
    pd.testing.assert_frame_equal(
        again.utilisation, plan.utilisation, check_exact=False, rtol=1e-6, atol=1e-6
    )


# --- volume: issue 7 asks for at least 200 random instances per run ---------------------------

tiny_scales = small_scales(pcns=(1, 3), community=(0, 2), lsoas=(1, 2))


@settings(max_examples=200, **SETTINGS)
@given(scale=tiny_scales, seed=seeds, knobs=scenarios(mip=False))
def test_two_hundred_random_plans_pass_the_verifier(scale, seed, knobs):
    """Many cheap LP instances: every plan verifies and every hour is placed or unmet."""
    dataset = dataset_for(scale, seed)
    plan = solve(dataset, scenario_from_dict(knobs))
    assert plan.verify() == []
    check_hours_conserved(plan, plan.unmet.set_index(["service_id", "pcn_code"])["demand_hours"])


@settings(max_examples=25, **SETTINGS)
@given(scale=tiny_scales, seed=seeds, knobs=scenarios(mip=True))
def test_cbc_and_highs_agree_on_the_objective(scale, seed, knobs):
    dataset = dataset_for(scale, seed)
    objectives = {}
    for name in ("highs", "cbc"):
        knobs = {**knobs, "solver": {"name": name, "backend": "pulp", "mip_gap": 0.0}}
        objectives[name] = lp_objective(dataset, scenario_from_dict(knobs))
    assert objectives["cbc"] == pytest.approx(objectives["highs"], rel=1e-6, abs=1e-6)
