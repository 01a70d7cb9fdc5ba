"""What can move: the practice's own-list share of PCN-clinic work stays as fixed work.

NEL's build (geodata/build_nel.py, README 3.13) splits each PCN clinic's hours into a
movable share (demand.csv, today in baseline.csv) and the rest, which it writes into the
member practices' capacity.csv ``fixed_hours`` and reports as ``fixed_pcn_clinic_hours``.
"""

from __future__ import annotations

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
