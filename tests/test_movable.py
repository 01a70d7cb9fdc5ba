"""What can move: the practice's own-list share of PCN-clinic work stays as fixed work.

NEL's build (geodata/build_nel.py, README 3.13) splits each PCN clinic's hours into a
movable share (demand.csv, today in baseline.csv) and the rest, which it writes into the
member practices' capacity.csv ``fixed_hours`` and reports as ``fixed_pcn_clinic_hours``.
"""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures import handmade

from estates_opt import dataset_from_tables
from estates_opt.errors import InputDataError


def test_nel_demand_is_the_movable_share(nel_dataset):
    services = nel_dataset.services.set_index("service_id")
    assert "movable_share" in services.columns
    shares = services["movable_share"].astype(float)
    clinics = services[services["category"] == "pcn_clinic"].index
    assert (shares[clinics] < 1).sum() >= 3  # long-term-condition clinics keep a practice share
    assert (shares.drop(clinics) == 1).all()  # outreach and enhanced access move whole
    lists = nel_dataset.pcns.set_index("pcn_code")["registered_patients"]
    demand = nel_dataset.demand
    for row in demand.itertuples(index=False):
        rate = float(services.at[row.service_id, "rate_hours_per_1000_per_week"])
        total = round(rate * lists[row.pcn_code] / 1000, 2)
        expected = round(total * shares[row.service_id], 2)
        assert row.hours_per_week == pytest.approx(expected, abs=0.011)


def test_nel_practices_keep_their_own_list_work_as_fixed(nel_dataset):
    capacity = nel_dataset.capacity
    own = capacity["fixed_pcn_clinic_hours"].astype(float)
    assert (own <= capacity["fixed_hours"] + 1e-9).all()
    kinds = nel_dataset.premises.set_index("site_id")["kind"]
    practices = capacity[capacity["site_id"].map(kinds).isin(["gp_practice", "pcn_hub"])]
    # The non-movable share of every PCN clinic sits in the PCN's member practices.
    services = nel_dataset.services.set_index("service_id")
    lists = nel_dataset.pcns.set_index("pcn_code")["registered_patients"]
    kept = 0.0
    for service, share in services["movable_share"].astype(float).items():
        if services.at[service, "category"] == "pcn_clinic" and share < 1:
            rate = float(services.at[service, "rate_hours_per_1000_per_week"])
            for total in (rate * lists / 1000).round(2):
                kept += total - round(total * share, 2)
    assert practices["fixed_pcn_clinic_hours"].astype(float).sum() == pytest.approx(kept, abs=1.0)
    per_practice = practices.groupby("site_id")["fixed_pcn_clinic_hours"].sum()
    practice_ids = kinds[kinds == "gp_practice"].index
    assert (per_practice.reindex(practice_ids).fillna(0) > 0).all()  # every practice keeps some


def test_own_work_above_fixed_is_refused():
    tables = handmade.tables()
    tables["capacity"]["fixed_pcn_clinic_hours"] = [80.0, 0, 0, 0, 0, 0, 0, 0]
    with pytest.raises(InputDataError) as caught:
        dataset_from_tables(tables, source="handmade")
    found = [p for p in caught.value.problems if p.column == "fixed_pcn_clinic_hours"]
    assert found and found[0].row.startswith("line 2") and "exceed fixed_hours" in found[0].message


def test_a_bad_fixed_hours_gives_one_message_not_a_second_about_own_work():
    """fixed_hours -5 was reported twice: below the minimum, and as less than the own work."""
    tables = handmade.tables()
    tables["capacity"]["fixed_hours"] = [-5.0, *tables["capacity"]["fixed_hours"][1:]]
    tables["capacity"]["fixed_pcn_clinic_hours"] = [0.0] * len(tables["capacity"])
    with pytest.raises(InputDataError) as caught:
        dataset_from_tables(tables, source="handmade")
    on_line = [p for p in caught.value.problems if p.row and p.row.startswith("line 2")]
    assert [p.column for p in on_line] == ["fixed_hours"], [p.message for p in on_line]


# ---------------------------------------------------------------- [movable] in a scenario
# The hand-made instance with services.csv movable_share: the clinic is half movable, so where
# it runs today its other half is own-list work inside the fixed work: 30 h of S1's 75 h
# (PA's practice) and 20 h of S3's 45 h (PB's clinic); enhanced access moves whole.


def _shares_dataset():
    tables = handmade.tables()
    tables["services"]["movable_share"] = [0.5, 1.0]
    own_work = {("S1", "consulting", "weekday"): 30.0, ("S3", "consulting", "weekday"): 20.0}
    own = [own_work.get(row[:3], 0.0) for row in handmade.CAPACITY_ROWS]
    tables["capacity"]["fixed_pcn_clinic_hours"] = own
    return dataset_from_tables(tables, source="handmade with movable shares")


def _slot(dataset, site="S1", band="weekday"):
    c = dataset.capacity
    row = c[(c["site_id"] == site) & (c["room_type"] == "consulting") & (c["band"] == band)]
    return float(row["fixed_hours"].iloc[0]), float(row["fixed_pcn_clinic_hours"].iloc[0])


def _demand(dataset, pcn, service="clin"):
    d = dataset.demand
    return float(
        d.loc[(d["pcn_code"] == pcn) & (d["service_id"] == service), "hours_per_week"].iloc[0]
    )


def test_a_lower_share_keeps_more_in_the_practice_as_fixed_work():
    from estates_opt.inputs.changes import apply_scenario

    dataset = _shares_dataset()
    # clin 0.25, but in community buildings the shipped 0.5
    scenario = handmade.scenario(
        movable={"share": {"clin": 0.25}, "share_by_kind": {"clin": {"community": 0.5}}}
    )
    changed = apply_scenario(dataset, scenario)
    # S1: today's 30 h are half of 60 h; a quarter (15 h) may move, 15 h join the fixed work
    assert _demand(changed, "PA") == pytest.approx(15.0)
    assert _slot(changed) == pytest.approx((90.0, 45.0))
    assert _demand(changed, "PB") == pytest.approx(20.0)  # at S3, community: unchanged
    assert _slot(changed, "S3") == pytest.approx((45.0, 20.0))
    b = changed.baseline
    assert b.loc[(b["pcn_code"] == "PA") & (b["service_id"] == "clin"), "hours_per_week"].sum() == (
        pytest.approx(15.0)
    )
    assert _demand(changed, "PA", "ea") == 6.0  # enhanced access not named: as shipped
    assert dataset.capacity["fixed_hours"].iloc[0] == 75.0  # the input is never modified


def test_a_higher_share_releases_only_the_practices_own_work():
    from estates_opt.inputs.changes import apply_scenario

    dataset = _shares_dataset()
    changed = apply_scenario(dataset, handmade.scenario(movable={"share": {"clin": 1.0}}))
    # S1's 60 h of clinic are all movable now: the 30 h of own work leave the fixed work
    assert _demand(changed, "PA") == pytest.approx(60.0)
    assert _slot(changed) == pytest.approx((45.0, 0.0))
    assert _demand(changed, "PB") == pytest.approx(40.0)
    assert _slot(changed, "S3") == pytest.approx((25.0, 0.0))


def test_a_higher_share_than_the_own_work_allows_is_capped():
    """Own work short of the shipped share is an input problem (tests/test_inputs_round_two.py);
    a dataset changed in code past that check still never releases other fixed work."""
    from dataclasses import replace

    from estates_opt.inputs.changes import apply_scenario

    tables = handmade.tables()
    tables["services"]["movable_share"] = [0.5, 1.0]
    tables["capacity"]["fixed_pcn_clinic_hours"] = [
        12.0 if row[:3] == ("S1", "consulting", "weekday") else 0.0
        for row in handmade.CAPACITY_ROWS
    ]
    with pytest.raises(InputDataError, match=r"less than the 30\.00 h"):
        dataset_from_tables(tables, source="handmade, little own work")
    shipped = _shares_dataset()
    capacity = shipped.capacity
    s1 = (capacity["site_id"] == "S1") & (capacity["room_type"] == "consulting")
    s1 &= capacity["band"] == "weekday"
    dataset = replace(shipped, capacity=capacity.assign(fixed_pcn_clinic_hours=s1 * 12.0))
    changed = apply_scenario(dataset, handmade.scenario(movable={"share": {"clin": 1.0}}))
    # only the 12 h of own-list work may be released, never the rest of S1's fixed work
    assert _demand(changed, "PA") == pytest.approx(42.0)
    assert _slot(changed) == pytest.approx((63.0, 0.0))
    assert _demand(changed, "PB") == pytest.approx(20.0)  # S3 holds no own work


def test_the_plan_keeps_the_fixed_share_and_the_verifier_checks_it():
    """A real HiGHS solve with a lower share is verified; the verifier then catches a dataset
    whose own-list work is too small for the scenario's share."""
    from dataclasses import replace

    from estates_opt.inputs.changes import apply_scenario
    from estates_opt.pipeline import solve
    from estates_opt.results.movable_check import check_movable_share

    dataset = _shares_dataset()
    scenario = handmade.scenario(movable={"share": {"clin": 0.25}})
    plan = solve(dataset, scenario)
    assert plan.verify() == []
    u = plan.utilisation
    s1 = u[(u["site_id"] == "S1") & (u["room_type"] == "consulting") & (u["band"] == "weekday")]
    assert float(s1["fixed_hours"].iloc[0]) == pytest.approx(90.0)
    placed = plan.allocations.groupby("pcn_code")["hours_per_week"].sum()
    assert placed["PA"] == pytest.approx(15.0 + 6.0)  # a quarter of the clinic, plus its EA
    # The verifier recomputes the rule: the shipped fixed work is short of what share 0.25
    # leaves in S1 (45 h own work needed, 30 h held) ...
    changed = apply_scenario(dataset, scenario)
    stale = replace(changed, capacity=dataset.capacity)
    found = check_movable_share(stale, scenario, pd.DataFrame())
    assert found and "needs 45.00 h" in found[0] and "holds 30.00 h" in found[0]
    # ... and a plan table that dropped fixed work is caught too.
    dropped = u.assign(fixed_hours=u["fixed_hours"] - 1.0)
    assert any(
        "changed the slot's fixed work" in p
        for p in check_movable_share(changed, scenario, dropped)
    )
    assert check_movable_share(changed, scenario, u) == []


def test_a_share_change_without_own_work_in_the_data_is_a_scenario_error():
    from estates_opt.errors import ScenarioError
    from estates_opt.inputs.changes import apply_scenario

    tables = handmade.tables()
    tables["services"]["movable_share"] = [0.5, 1.0]
    dataset = dataset_from_tables(tables, source="handmade, shares without own work")
    with pytest.raises(ScenarioError, match="fixed_pcn_clinic_hours"):
        apply_scenario(dataset, handmade.scenario(movable={"share": {"clin": 0.25}}))
    # with every shipped share 1 (no column), a lower share is well defined
    changed = apply_scenario(
        handmade.dataset(), handmade.scenario(movable={"share": {"clin": 0.5}})
    )
    assert _slot(changed) == pytest.approx((90.0, 15.0))
    assert _demand(changed, "PA") == pytest.approx(15.0)


def test_nel_lower_share_is_solved_and_verified(nel_dataset):
    """The NEL LP relaxation with diabetes clinics only 20% movable (shipped 40%): demand
    halves, the practices keep the other half as fixed work, and the plan verifies."""
    from estates_opt.pipeline import solve
    from estates_opt.scenario import load_scenario

    base = load_scenario("models/nel_baseline.toml")
    scenario = base.model_copy(
        update={
            "movable": base.movable.model_copy(update={"share": {"pcn_diabetes": 0.2}}),
            "options": base.options.model_copy(update={"whole_sessions": False}),
        }
    )
    plan = solve(nel_dataset, scenario)
    assert plan.verify() == []
    shipped = nel_dataset.demand
    diabetes = shipped.loc[shipped["service_id"] == "pcn_diabetes", "hours_per_week"].sum()
    met = plan.unmet
    solved = met.loc[met["service_id"] == "pcn_diabetes", "demand_hours"].sum()
    assert solved == pytest.approx(diabetes / 2, rel=1e-6)
    kinds = nel_dataset.premises.set_index("site_id")["kind"]
    u = plan.utilisation
    # today's diabetes clinics run in member practices (or the hub where none has the room)
    practice = u[u["site_id"].map(kinds).isin(["gp_practice", "pcn_hub"])]
    before = nel_dataset.capacity
    before = before[before["site_id"].map(kinds).isin(["gp_practice", "pcn_hub"])]
    assert practice["fixed_hours"].sum() == pytest.approx(
        before["fixed_hours"].sum() + diabetes / 2, abs=1.0
    )
