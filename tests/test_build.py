"""The LP's structure on the hand-made 2x3 instance, without solving.

The instance (tests/fixtures/handmade.py) has 2 PCNs (PA, PB), 3 sites (S1
practice, S2 hub, S3 community) and 2 services (``clin``: weekday, practices
and community sites only; ``ea``: enhanced access, evening/Saturday). Of the
12 (service, PCN, site) triples only these 6 columns are allowed:

    clin PA S1 weekday     clin PA S3 weekday     clin PB S3 weekday
    ea   PA S1 evening     ea   PA S2 saturday    ea   PB S2 saturday

and each exclusion has one reason: clin at S2 (a hub: wrong kind), clin/ea for
PB at S1 (5.5 km, beyond 5 km), ea at S2 weekday (not an ea band), ea at S3
(S3 opens on Saturday with a group room only: wrong room; on Sunday: wrong band).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures import handmade

from estates_opt import dataset_from_tables
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model, candidate_allocations, room_slots
from estates_opt.model.checks import pin_problems
from estates_opt.model.program import OBJECTIVE_TERMS
from estates_opt.scenario import Relocation

ALLOWED = {
    ("clin", "PA", "S1", "weekday"),
    ("clin", "PA", "S3", "weekday"),
    ("clin", "PB", "S3", "weekday"),
    ("ea", "PA", "S1", "evening"),
    ("ea", "PA", "S2", "saturday"),
    ("ea", "PB", "S2", "saturday"),
}


def build(**scenario_overrides):
    dataset = handmade.dataset()
    scenario = handmade.scenario(**scenario_overrides)
    return build_model(dataset, scenario, measure_travel(dataset, scenario))


def column_index(lp, family: str, **ids) -> int:
    cols = lp.columns
    mask = cols["family"] == family
    for key, value in ids.items():
        mask &= cols[key] == value
    found = np.flatnonzero(mask.to_numpy())
    assert len(found) == 1, f"{family} {ids}: {len(found)} columns"
    return int(found[0])


def row_index(lp, family: str, **ids) -> int:
    rows = lp.rows
    mask = rows["family"] == family
    for key, value in ids.items():
        mask &= rows[key] == value
    found = np.flatnonzero(mask.to_numpy())
    assert len(found) == 1, f"{family} {ids}: {len(found)} rows"
    return int(found[0])


def row_entries(lp, r: int) -> dict[int, float]:
    row = lp.matrix.getrow(r)
    return dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))


def x(lp, service, pcn, site, band, part=None) -> int:
    ids = {"service_id": service, "pcn_code": pcn, "site_id": site, "band": band}
    if part is not None:
        ids["part"] = part
    return column_index(lp, "x", **ids)


def test_only_allowed_combinations_become_variables():
    lp = build()
    xs = lp.columns[lp.columns["family"] == "x"]
    got = set(xs[["service_id", "pcn_code", "site_id", "band"]].itertuples(index=False, name=None))
    assert got == ALLOWED


def test_variable_and_constraint_counts_per_family():
    lp = build()
    counts = lp.family_counts()
    assert counts["variables"] == {"unmet": 4, "x": 6}
    assert counts["constraints"] == {"capacity": 4, "demand": 4}
    assert lp.shape == (10, 8, 6 + 4 + 6)  # x in demand + unmet in demand + x in capacity
    assert not lp.is_mip


def test_capacity_rows_only_for_slots_that_host_a_variable():
    lp = build()
    cap = lp.rows[lp.rows["family"] == "capacity"]
    slots = set(cap[["site_id", "room_type", "band"]].itertuples(index=False, name=None))
    assert slots == {
        ("S1", "consulting", "weekday"),
        ("S1", "consulting", "evening"),
        ("S2", "consulting", "saturday"),
        ("S3", "consulting", "weekday"),
    }


def test_demand_row_coefficients_and_bounds():
    lp = build()
    r = row_index(lp, "demand", service_id="clin", pcn_code="PA")
    entries = row_entries(lp, r)
    assert entries == {
        x(lp, "clin", "PA", "S1", "weekday"): 1.0,
        x(lp, "clin", "PA", "S3", "weekday"): 1.0,
        column_index(lp, "unmet", service_id="clin", pcn_code="PA"): 1.0,
    }
    assert lp.row_lower[r] == lp.row_upper[r] == 30.0


def test_capacity_row_coefficients_and_headroom():
    lp = build()
    r = row_index(lp, "capacity", site_id="S3", room_type="consulting", band="weekday")
    assert row_entries(lp, r) == {
        x(lp, "clin", "PA", "S3", "weekday"): 1.0,
        x(lp, "clin", "PB", "S3", "weekday"): 1.0,
    }
    assert lp.row_lower[r] == -np.inf
    assert lp.row_upper[r] == pytest.approx(0.90 * 100 - 45)  # community cap x capacity - fixed
    r = row_index(lp, "capacity", site_id="S1", room_type="consulting", band="weekday")
    assert lp.row_upper[r] == pytest.approx(0.85 * 100 - 75)


def test_fixed_work_over_the_cap_leaves_zero_headroom_not_a_negative_one():
    capacity = [
        (*row[:4], 95.0, row[5]) if row[:3] == ("S1", "consulting", "weekday") else row
        for row in handmade.CAPACITY_ROWS
    ]
    dataset = handmade.dataset(capacity=capacity)
    scenario = handmade.scenario()
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    r = row_index(lp, "capacity", site_id="S1", room_type="consulting", band="weekday")
    assert lp.row_upper[r] == 0.0
    assert any("already exceed their utilisation cap" in d for d in lp.diagnostics)


def test_objective_terms_per_column():
    """travel 6 GBP/h/km x km; room cost x 1; move 4 GBP/h where the PCN has no hours today."""
    lp = build()
    expected = {
        # (travel, cost, move)
        ("clin", "PA", "S1", "weekday"): (6 * 1.5, 40.0, 0.0),
        ("clin", "PA", "S3", "weekday"): (6 * 3.0, 15.0, 4.0),
        ("clin", "PB", "S3", "weekday"): (6 * 1.0, 15.0, 0.0),
        ("ea", "PA", "S1", "evening"): (6 * 1.5, 40.0, 0.0),
        ("ea", "PA", "S2", "saturday"): (6 * 2.0, 20.0, 4.0),
        ("ea", "PB", "S2", "saturday"): (6 * 2.0, 20.0, 0.0),
    }
    for key, (travel, cost, move) in expected.items():
        j = x(lp, *key)
        assert lp.terms["travel"][j] == pytest.approx(travel)
        assert lp.terms["cost"][j] == pytest.approx(cost)
        assert lp.terms["move"][j] == pytest.approx(move)
        assert lp.terms["unmet"][j] == 0.0
        assert lp.objective[j] == pytest.approx(travel + cost + move)
    unmet = np.flatnonzero(lp.columns["family"].to_numpy() == "unmet")
    assert np.all(lp.objective[unmet] == 10_000.0)
    assert set(lp.terms) == set(OBJECTIVE_TERMS)
    np.testing.assert_allclose(sum(lp.terms.values()), lp.objective)


def test_weights_scale_their_terms():
    lp = build(
        weights={
            "travel_gbp_per_hour_km": 2.0,
            "cost": 0.5,
            "move_gbp_per_hour": 7.0,
            "imd_weight": 1.0,
        }
    )
    # PA's only LSOA is in IMD decile 1 (deprived share 1), PB's in decile 6 (share 0).
    j = x(lp, "clin", "PA", "S3", "weekday")
    assert lp.terms["travel"][j] == pytest.approx(2.0 * 3.0 * (1 + 1.0 * 1.0))
    assert lp.terms["cost"][j] == pytest.approx(0.5 * 15.0)
    assert lp.terms["move"][j] == pytest.approx(7.0)
    j = x(lp, "clin", "PB", "S3", "weekday")
    assert lp.terms["travel"][j] == pytest.approx(2.0 * 1.0)


def test_growth_scales_demand_rows():
    lp = build(growth={"overall": 1.5, "by_service": {"ea": 2.0}, "by_borough": {"South": 0.5}})
    expected = {("clin", "PA"): 45.0, ("clin", "PB"): 15.0, ("ea", "PA"): 18.0, ("ea", "PB"): 6.0}
    for (service, pcn), hours in expected.items():
        r = row_index(lp, "demand", service_id=service, pcn_code=pcn)
        assert lp.row_upper[r] == pytest.approx(hours)


def test_travel_override_excludes_far_sites():
    lp = build(travel={"circuity": 1.0, "max_km_by_service": {"clin": 2.0}})
    xs = lp.columns[lp.columns["family"] == "x"]
    got = set(xs[["service_id", "pcn_code", "site_id", "band"]].itertuples(index=False, name=None))
    assert got == ALLOWED - {("clin", "PA", "S3", "weekday")}


def test_whole_sessions_count_sessions():
    lp = build(options={"whole_sessions": True})
    assert lp.is_mip
    family = lp.columns["family"].to_numpy()
    # sessions, relocation and specialty-site decisions, and unmet demand in whole sessions
    decisions = np.isin(family, ["x", "relocate", "specialty_site", "unmet"])
    assert lp.integer[decisions].all() and not lp.integer[~decisions].any()
    r = row_index(lp, "demand", service_id="ea", pcn_code="PA")
    entries = row_entries(lp, r)
    # today's 6 h at S1 in the evening are 4 sessions of 1.5 h (kept), and more may be added
    keep = x(lp, "ea", "PA", "S1", "evening", "keep")
    assert entries[keep] == 1.5 and lp.col_upper[keep] == 4
    assert entries[x(lp, "ea", "PA", "S1", "evening", "add")] == 1.5
    assert entries[x(lp, "ea", "PA", "S2", "saturday", "add")] == 4.0
    assert lp.row_lower[r] == 6.0 and lp.row_upper[r] == np.inf  # may round up to a session
    j = x(lp, "ea", "PA", "S2", "saturday", "add")
    assert lp.objective[j] == pytest.approx(4.0 * (6 * 2.0 + 20.0 + 4.0))
    # an added slot is used only with its relocation decision, at the fixed cost
    z = column_index(lp, "relocate", service_id="ea", pcn_code="PA", site_id="S2", band="saturday")
    link = row_index(lp, "relocate", service_id="ea", pcn_code="PA", site_id="S2", band="saturday")
    assert row_entries(lp, link) == {j: 1.0, z: -lp.col_upper[j]}
    assert lp.terms["relocation"][z] == Relocation().gbp_per_relocation


def test_opening_mode_adds_binary_columns_and_linked_capacity_rows():
    lp = build(options={"opening_decisions": True})
    o = column_index(lp, "open", site_id="S3", band="evening")
    assert lp.integer[o] and lp.col_upper[o] == 1.0
    assert lp.terms["opening"][o] == pytest.approx(50.0)
    r = row_index(lp, "capacity", site_id="S3", room_type="consulting", band="evening")
    entries = row_entries(lp, r)
    assert entries[o] == pytest.approx(-0.90 * 30.0)
    assert entries[x(lp, "ea", "PA", "S3", "evening")] == 1.0
    assert entries[x(lp, "ea", "PB", "S3", "evening")] == 1.0
    assert lp.row_upper[r] == 0.0
    assert lp.family_counts()["variables"] == {"open": 1, "unmet": 4, "x": 8}


def test_opening_mode_without_any_opening_option():
    """A dataset with no opening.csv rows still builds in opening mode: no open columns."""
    tables = handmade.tables()
    tables["opening"] = tables["opening"].iloc[0:0]
    dataset = dataset_from_tables(tables)
    scenario = handmade.scenario(options={"opening_decisions": True})
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    assert lp.family_counts()["variables"] == {"unmet": 4, "x": 6}
    assert not lp.is_mip


def test_opening_options_ignored_without_opening_mode():
    lp = build()
    assert "open" not in set(lp.columns["family"])
    assert "S3" not in set(
        lp.columns.loc[lp.columns["band"].eq("evening") & lp.columns["family"].eq("x"), "site_id"]
    )


def test_move_budget_row_covers_only_new_slots():
    lp = build(options={"move_budget_hours": 12.5})
    r = row_index(lp, "move_budget")
    assert row_entries(lp, r) == {
        x(lp, "clin", "PA", "S3", "weekday"): 1.0,
        x(lp, "ea", "PA", "S2", "saturday"): 1.0,
    }
    assert lp.row_upper[r] == 12.5


def test_pins_become_lower_bounds():
    pin = {"pcn_code": "PA", "service_id": "clin", "site_id": "S1", "band": "weekday"}
    lp = build(pinned=[{**pin, "hours_per_week": 8.0}])
    assert lp.col_lower[x(lp, "clin", "PA", "S1", "weekday")] == 8.0
    assert (np.delete(lp.col_lower, x(lp, "clin", "PA", "S1", "weekday")) == 0).all()
    whole = build(pinned=[{**pin, "hours_per_week": 5.0}], options={"whole_sessions": True})
    # ceil(5 / 4) = 2 sessions, held in today's (kept) sessions first
    assert whole.col_lower[x(whole, "clin", "PA", "S1", "weekday", "keep")] == 2.0
    assert whole.col_lower[x(whole, "clin", "PA", "S1", "weekday", "add")] == 0.0


def test_pin_on_a_forbidden_combination_is_named_with_its_reason():
    pin = {"pcn_code": "PB", "service_id": "clin", "site_id": "S1", "band": "weekday"}
    scenario = handmade.scenario(pinned=[{**pin, "hours_per_week": 1.0}])
    dataset = handmade.dataset()
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    (problem,) = lp.unplaced_pins
    assert problem == (
        "pinned[0] (PB, clin, S1, weekday): no allowed allocation: S1 is beyond clin's 5 km "
        "travel limit from PB; correct or remove the pin"
    )
    assert pin_problems(lp, scenario) == [problem]


@pytest.mark.parametrize(
    ("site", "band", "reason"),
    [
        ("S1", "evening", "clin runs only in weekday (services.csv bands)"),
        (
            "S2",
            "weekday",
            "PCN hub is not a site kind clin may use: only Community site, GP practice",
        ),
    ],
)
def test_a_pin_outside_its_service_rules_names_the_rule(site, band, reason):
    pin = {"pcn_code": "PA", "service_id": "clin", "site_id": site, "band": band}
    scenario = handmade.scenario(pinned=[{**pin, "hours_per_week": 1.0}])
    dataset = handmade.dataset()
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    (problem,) = lp.unplaced_pins
    assert reason in problem, problem


def test_unreachable_demand_is_diagnosed_before_solving():
    lp = build(travel={"circuity": 1.0, "max_km_by_service": {"clin": 0.5}})
    notes = [d for d in lp.diagnostics if " clin:" in d]
    assert len(notes) == 2
    assert any(n.startswith("PA clin") and "30.0 h/week will be unmet" in n for n in notes)
    assert all("within 0.5 km" in n for n in notes)


def test_short_capacity_is_diagnosed_before_solving():
    demand = [(p, s, h * 10 if s == "ea" else h) for p, s, h in handmade.DEMAND_ROWS]
    dataset = handmade.dataset(demand=demand)
    scenario = handmade.scenario()
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    note = next(d for d in lp.diagnostics if d.startswith("PB ea"))
    assert "only 7.2 h/week free" in note and "40.0 h/week" in note


def test_room_slots_and_candidates_are_sorted_and_unique():
    dataset = handmade.dataset()
    scenario = handmade.scenario()
    slots = room_slots(dataset, scenario)
    keys = list(slots[["site_id", "room_type", "band"]].itertuples(index=False, name=None))
    assert keys == sorted(set(keys))
    cand = candidate_allocations(dataset, scenario, measure_travel(dataset, scenario), slots)
    ids = list(
        cand[["service_id", "pcn_code", "site_id", "band"]].itertuples(index=False, name=None)
    )
    assert ids == sorted(ids) and len(ids) == len(set(ids))


def test_build_is_deterministic():
    a, b = build(), build()
    pd.testing.assert_frame_equal(a.columns, b.columns)
    assert (a.matrix != b.matrix).nnz == 0
    np.testing.assert_array_equal(a.objective, b.objective)
