"""patients.csv: demand located, and travel weighted, by where each PCN's patients live.

On the hand-made instance (tests/fixtures/handmade.py) PCN PA's catchment is LSOA LA1
(x = 0 m) and PB's is LB1 (x = 4,000 m). With patients.csv saying a quarter of PA's
patients live in LB1, PA's travel to S1 (x = -1,500 m) becomes 0.75 x 1.5 + 0.25 x 5.5
= 2.5 km (circuity 1), not 1.5 km.
"""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures import handmade

from estates_opt import dataset_from_tables
from estates_opt.errors import InputDataError
from estates_opt.inputs.dataset import summarise
from estates_opt.inputs.patients import (
    patients_by_pcn,
    plurality_pcn,
)
from estates_opt.inputs.travel import measure_travel, pair_travel, pcn_site_travel
from estates_opt.model.build import build_model
from estates_opt.model.solve import solve_model
from estates_opt.pipeline import solve
from estates_opt.results.explain import allocation_table
from estates_opt.results.travel_check import recomputed_travel_km

PATIENT_ROWS = [
    ("PA", "LA1", 750.0),
    ("PA", "LB1", 250.0),
    ("PB", "LB1", 1000.0),
    ("PB", "E01999999", 40.0),  # lives outside the dataset's LSOAs
    ("PB", "NO2011", 10.0),  # no LSOA recorded
]


def _tables(rows=PATIENT_ROWS):
    tables = handmade.tables()
    tables["patients"] = pd.DataFrame(rows, columns=["pcn_code", "lsoa_code", "patients"])
    return tables


def _dataset(rows=PATIENT_ROWS):
    return dataset_from_tables(_tables(rows), source="handmade with patients")


def _km(table: pd.DataFrame, pcn: str, site: str) -> float:
    row = table[(table["pcn_code"] == pcn) & (table["site_id"] == site)]
    assert len(row) == 1
    return float(row["travel_km"].iloc[0])


def test_travel_is_weighted_by_where_patients_live():
    dataset = _dataset()
    table = measure_travel(dataset, handmade.scenario(travel={"weighting": "patients"}))
    assert _km(table, "PA", "S1") == pytest.approx(0.75 * 1.5 + 0.25 * 5.5)
    assert _km(table, "PA", "S3") == pytest.approx(0.75 * 3.0 + 0.25 * 1.0)
    # PB's located patients all live in LB1: its travel is as before.
    assert _km(table, "PB", "S3") == pytest.approx(1.0)
    # Without the file, the catchment population weights travel as before.
    plain = measure_travel(handmade.dataset(), handmade.scenario())
    assert _km(plain, "PA", "S1") == pytest.approx(1.5)


def test_pair_travel_measures_as_the_table_does():
    dataset = _dataset()
    pairs = pd.DataFrame({"pcn_code": ["PA"], "site_id": ["S1"]})
    full = pcn_site_travel(dataset.lsoas, dataset.premises, 1.0, patients=dataset.patients)
    one = pair_travel(dataset.lsoas, dataset.premises, pairs, 1.0, patients=dataset.patients)
    assert float(one["travel_km"].iloc[0]) == pytest.approx(_km(full, "PA", "S1"))


def test_summary_names_the_weighting_and_counts_patients_outside_the_area():
    summary = summarise(_dataset())
    assert summary["patient_weighting_available"] is True
    located = summary["patients_located"]
    assert located["pcns_weighted_by_patients"] == 2
    assert located["patients"] == pytest.approx(2050.0)
    assert located["patients_outside_area"] == pytest.approx(50.0)
    assert summarise(handmade.dataset())["patient_weighting_available"] is False
    table = patients_by_pcn(_dataset().lsoas, _dataset().patients).set_index("pcn_code")
    assert table.at["PB", "patients_outside_area"] == pytest.approx(50.0)
    assert table.at["PA", "lsoas_with_patients"] == 2


def test_plurality_catchment():
    dataset = _dataset()
    assert plurality_pcn(dataset.lsoas, dataset.patients).to_dict() == {"LA1": "PA", "LB1": "PB"}


@pytest.mark.parametrize(
    ("rows", "column", "words"),
    [
        ([*PATIENT_ROWS, ("PZ", "LA1", 5.0)], "pcn_code", "PCN 'PZ'"),
        ([*PATIENT_ROWS[:-1], ("PB", "NO2011", -3.0)], "patients", "below the minimum"),
        ([*PATIENT_ROWS[:-1], ("PB", "NO2011", "many")], "patients", "not a number"),
        ([("PA", "LA1", 10.0)], "pcn_code", "no patients of PCN PB"),
    ],
)
def test_bad_patients_rows_are_named(rows, column, words):
    with pytest.raises(InputDataError) as caught:
        _dataset(rows)
    found = [p for p in caught.value.problems if p.file == "patients.csv"]
    assert found, caught.value
    assert any(p.column == column and words in p.message for p in found), found
    if words != "no patients of PCN PB":
        assert any(p.row and p.row.startswith("line ") for p in found)


def test_duplicate_pcn_lsoa_rows_are_refused():
    with pytest.raises(InputDataError) as caught:
        _dataset([*PATIENT_ROWS, ("PA", "LA1", 1.0)])
    assert any(
        "duplicate id pcn_code=PA, lsoa_code=LA1" in p.message for p in caught.value.problems
    )


def test_the_solver_sees_patient_weighted_travel():
    """A real HiGHS solve: PA's clinic hours are charged the patient-weighted travel, and the
    verifier's independent recomputation agrees with what the plan reports."""
    dataset = _dataset()
    scenario = handmade.scenario(travel={"weighting": "patients"})
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    result = solve_model(lp, scenario.solver)
    allocations = allocation_table(dataset, scenario, lp, result)
    used = allocations[allocations["hours_per_week"] > 0]
    pa_s1 = used[(used["pcn_code"] == "PA") & (used["site_id"] == "S1")]
    assert len(pa_s1)
    assert pa_s1["travel_km"].to_numpy() == pytest.approx(2.5)
    recomputed = recomputed_travel_km(dataset, scenario, used)
    assert recomputed.to_numpy() == pytest.approx(used["travel_km"].to_numpy(float))
    # The population rule gives another answer: the check would catch a wrong weighting.
    plain = recomputed_travel_km(dataset, handmade.scenario(), pa_s1)
    assert plain.to_numpy() == pytest.approx(1.5)


def test_pcn_summary_and_kpis_say_which_weighting_each_pcn_used():
    patients = solve(_dataset(), handmade.scenario(travel={"weighting": "patients"}))
    summary = patients.pcn_summary.set_index("pcn_code")
    assert summary["travel_weighting"].to_dict() == {"PA": "patients", "PB": "patients"}
    assert patients.kpis["travel_weighting"] == "patients"
    # PA's clinic hours are charged the patient-weighted 2.5 km at S1, not 1.5 km
    assert summary.at["PA", "travel_before_km"] == pytest.approx(2.5)
    population = solve(_dataset(), handmade.scenario())
    assert set(population.pcn_summary["travel_weighting"]) == {"population"}
    assert population.kpis["travel_weighting"] == "population"


def test_patients_weighting_without_the_file_is_an_input_error():
    scenario = handmade.scenario(travel={"weighting": "patients"})
    with pytest.raises(InputDataError, match=r"patients\.csv"):
        measure_travel(handmade.dataset(), scenario)


def test_population_weighting_is_the_default_even_with_the_file():
    table = measure_travel(_dataset(), handmade.scenario())
    assert _km(table, "PA", "S1") == pytest.approx(1.5)


def test_nel_weights_every_pcn_by_its_registered_patients(nel_dataset):
    """The shipped NEL data: 47/47 PCNs located by their patients, catchments drawn from the
    same data, and a real solve whose reported travel the verifier's recomputation matches."""
    summary = summarise(nel_dataset)
    located = summary["patients_located"]
    assert located["pcns_weighted_by_patients"] == len(nel_dataset.pcns) == 47
    assert 0.97 < located["located_share"] < 0.99  # 98.2% live in NEL LSOAs
    # Catchments are plurality LSOAs: every LSOA's PCN has the most patients living there.
    assert (
        plurality_pcn(nel_dataset.lsoas, nel_dataset.patients)
        .reindex(nel_dataset.lsoas["lsoa_code"])
        .to_numpy()
        == nel_dataset.lsoas["pcn_code"].to_numpy()
    ).all()
    table = patients_by_pcn(nel_dataset.lsoas, nel_dataset.patients).set_index("pcn_code")
    # Newham North East 1: 32,796 registered; the old gravity catchment held 7,701 residents.
    assert table.at["U34188", "patients_located"] > 30_000
    assert table.at["U34188", "catchment_population"] > 15_000
    scenario = handmade.scenario(travel={"weighting": "patients", "circuity": 1.3})
    scenario = scenario.model_copy(update={"contract": type(scenario.contract)()})
    travel = measure_travel(nel_dataset, scenario)
    assert travel["pcn_code"].nunique() == 47
    lp = build_model(nel_dataset, scenario, travel)
    result = solve_model(lp, scenario.solver)
    allocations = allocation_table(nel_dataset, scenario, lp, result)
    used = allocations[allocations["hours_per_week"] > 0]
    recomputed = recomputed_travel_km(nel_dataset, scenario, used)
    assert recomputed.to_numpy() == pytest.approx(used["travel_km"].to_numpy(float), abs=1e-6)
