"""PTAL-aware travel: evening and Saturday journeys from low-PTAL LSOAs count for more.

Hand-made instance (tests/fixtures/handmade.py): PA's LSOA LA1 is made PTAL 1a (factor
1.5 by default) and PB's LB1 PTAL 6a (factor 1). PA's travel to S1 (1.5 km, circuity 1)
then counts 2.25 km in the evening and on Saturday, 1.5 km on weekdays.
"""

from __future__ import annotations

import pytest
from fixtures import handmade

from estates_opt import dataset_from_tables
from estates_opt.errors import InputDataError, ScenarioError
from estates_opt.inputs.travel import measure_travel
from estates_opt.model.build import build_model
from estates_opt.model.solve import solve_model
from estates_opt.pipeline import solve
from estates_opt.results.explain import allocation_table
from estates_opt.results.travel_check import recomputed_travel_km

PTAL = {"travel": {"ptal": {"enabled": True}}}


def _dataset(ptal=("1a", "6a")):
    tables = handmade.tables()
    if ptal is not None:
        tables["lsoas"]["ptal"] = list(ptal)
    return dataset_from_tables(tables, source="handmade with PTAL")


def _km(table, pcn, site, band):
    row = table[(table["pcn_code"] == pcn) & (table["site_id"] == site) & (table["band"] == band)]
    assert len(row) == 1
    return float(row["travel_km"].iloc[0])


def test_travel_by_band_counts_low_ptal_distance_more():
    table = measure_travel(_dataset(), handmade.scenario(**PTAL))
    assert set(table["band"]) == {"weekday", "evening", "saturday", "sunday"}
    assert _km(table, "PA", "S1", "weekday") == pytest.approx(1.5)
    assert _km(table, "PA", "S1", "evening") == pytest.approx(2.25)
    assert _km(table, "PA", "S1", "saturday") == pytest.approx(2.25)
    assert _km(table, "PA", "S1", "sunday") == pytest.approx(1.5)
    assert _km(table, "PB", "S3", "evening") == pytest.approx(1.0)  # PTAL 6a: unchanged
    # Off by default: one row per pair, no band.
    assert "band" not in measure_travel(_dataset(), handmade.scenario()).columns


def test_factors_and_bands_are_scenario_settings():
    scenario = handmade.scenario(
        travel={"ptal": {"enabled": True, "bands": ["saturday"], "factors": {"1a": 2.0}}}
    )
    table = measure_travel(_dataset(), scenario)
    assert _km(table, "PA", "S1", "evening") == pytest.approx(1.5)
    assert _km(table, "PA", "S1", "saturday") == pytest.approx(3.0)


def test_the_solver_charges_banded_travel_and_the_verifier_recomputes_it():
    dataset = _dataset()
    scenario = handmade.scenario(**PTAL)
    lp = build_model(dataset, scenario, measure_travel(dataset, scenario))
    result = solve_model(lp, scenario.solver)
    plan = allocation_table(dataset, scenario, lp, result)
    used = plan[plan["hours_per_week"] > 0]
    ea_pa = used[(used["service_id"] == "ea") & (used["pcn_code"] == "PA")]
    assert len(ea_pa)
    assert (ea_pa["travel_km"] > 1.5 - 1e-9).all()  # evening/Saturday: PA's factor 1.5 applies
    recomputed = recomputed_travel_km(dataset, scenario, used)
    assert recomputed.to_numpy() == pytest.approx(used["travel_km"].to_numpy(float))
    # Without the band the recomputation gives weekday travel: a band mix-up is caught.
    assert recomputed_travel_km(dataset, scenario, ea_pa.drop(columns="band")).to_numpy() != (
        pytest.approx(ea_pa["travel_km"].to_numpy(float))
    )


def test_ptal_without_the_column_is_an_input_error():
    with pytest.raises(InputDataError, match="ptal"):
        measure_travel(_dataset(ptal=None), handmade.scenario(**PTAL))


def test_bad_ptal_values_are_named():
    with pytest.raises(InputDataError) as caught:
        _dataset(ptal=("1a", "7"))
    assert any(
        p.file == "lsoas.geojson" and p.column == "ptal" and "'7' is not one of" in p.message
        for p in caught.value.problems
    )


@pytest.mark.parametrize("factors", [{"9z": 1.2}, {"1a": 0.5}, {"1a": 9.0}])
def test_bad_factors_are_scenario_errors(factors):
    with pytest.raises(ScenarioError):
        handmade.scenario(travel={"ptal": {"enabled": True, "factors": factors}})


def test_nel_lsoas_carry_ptal(nel_dataset):
    ptal = nel_dataset.lsoas["ptal"]
    assert ptal.notna().all()
    havering = nel_dataset.lsoas[nel_dataset.lsoas["borough"] == "Havering"]
    assert int(havering["ptal"].isin(["1a", "1b"]).sum()) == 82  # of its 150 LSOAs


def test_travel_kpis_by_ptal_band_sit_beside_the_imd_ones():
    """PA's LSOA is PTAL 1a, PB's 6a: each band's travel is its LSOA's, the same per-LSOA
    figures as the IMD deciles (PA: decile 1, PB: decile 6), crow-fly, not PTAL-weighted."""
    plan = solve(_dataset(), handmade.scenario())
    ptal = plan.kpis["travel_km_by_ptal_band"]
    imd = plan.kpis["travel_km_by_imd_decile"]
    for when in ("before", "after"):
        assert ptal[when]["1a"] == pytest.approx(imd[when]["1"])
        assert ptal[when]["6a"] == pytest.approx(imd[when]["6"])
        assert ptal[when]["low_ptal_0_1b"] == pytest.approx(imd[when]["1"])
        assert ptal[when]["high_ptal_4_6b"] == pytest.approx(imd[when]["6"])
        assert "mid_ptal_2_3" not in ptal[when] and "2" not in ptal[when]
        assert ptal[when]["all"] == pytest.approx(imd[when]["all"])
    assert ptal["before"]["1a"] == pytest.approx(1.5)
    assert ptal["after"]["1a"] == pytest.approx(93.1 / 36)
    assert ptal["population"] == {
        "1a": 1000.0,
        "6a": 1000.0,
        "low_ptal_0_1b": 1000.0,
        "high_ptal_4_6b": 1000.0,
    }
    # A dataset without PTAL reports none rather than empty bands.
    assert solve(handmade.dataset(), handmade.scenario()).kpis["travel_km_by_ptal_band"] is None
