"""Travel measurement: population-weighted distances in metres, and travel matrix files."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from fixtures import handmade
from shapely.geometry import Point, box

from estates_opt.errors import InputDataError
from estates_opt.inputs.travel import (
    deprived_share,
    lsoa_points,
    pcn_site_travel,
    points_km,
    read_travel_matrix,
    site_points,
)

X0, Y0 = 530_000.0, 180_000.0


def square(x: float, y: float, half: float = 100.0):
    return box(X0 + x - half, Y0 + y - half, X0 + x + half, Y0 + y + half)


@pytest.fixture
def two_lsoa_pcn():
    """PCN P with LSOAs at (0,0) pop 1000 and (0,3000) pop 3000; site S at (4000,0)."""
    lsoas = gpd.GeoDataFrame(
        {
            "lsoa_code": ["L1", "L2", "L3"],
            "population": [1000.0, 3000.0, 500.0],
            "imd_decile": [1, 7, 2],
            "pcn_code": ["P", "P", "Q"],
        },
        geometry=[square(0, 0), square(0, 3000), square(9000, 0)],
        crs="EPSG:27700",
    )
    premises = gpd.GeoDataFrame(
        {"site_id": ["S", "T"]},
        geometry=[Point(X0 + 4000, Y0), Point(X0 + 9000, Y0 + 2000)],
        crs="EPSG:27700",
    )
    return lsoas, premises


def test_travel_is_population_weighted_and_scaled_by_circuity(two_lsoa_pcn):
    lsoas, premises = two_lsoa_pcn
    table = pcn_site_travel(lsoas, premises, circuity=1.3).set_index(["pcn_code", "site_id"])
    # P to S: distances 4 km (pop 1000) and 5 km (pop 3000): (4*1000 + 5*3000) / 4000 = 4.75.
    assert table.at[("P", "S"), "travel_km"] == pytest.approx(1.3 * 4.75, abs=1e-9)
    # Q to T: one LSOA 2 km away.
    assert table.at[("Q", "T"), "travel_km"] == pytest.approx(1.3 * 2.0, abs=1e-9)
    # P to T: sqrt(9^2 + 2^2) and sqrt(9^2 + 1^2).
    expected = (1000 * np.hypot(9, 2) + 3000 * np.hypot(9, 1)) / 4000
    assert table.at[("P", "T"), "travel_km"] == pytest.approx(1.3 * expected, abs=1e-9)
    assert list(table.index) == sorted(table.index)


def test_max_km_drops_exactly_the_pairs_beyond_it(small_dir):
    from estates_opt import read_dataset

    dataset = read_dataset(small_dir)
    full = pcn_site_travel(dataset.lsoas, dataset.premises, 1.3)
    assert len(full) == len(dataset.pcns) * len(dataset.premises)
    for limit in (2.0, 5.0, 10.0):
        near = pcn_site_travel(dataset.lsoas, dataset.premises, 1.3, max_km=limit)
        expected = full[full["travel_km"] <= limit].reset_index(drop=True)
        pd.testing.assert_frame_equal(near, expected)


def test_handmade_layout_distances():
    dataset = handmade.dataset()
    table = pcn_site_travel(dataset.lsoas, dataset.premises, circuity=1.0)
    got = {(p, s): km for p, s, km in table.itertuples(index=False)}
    assert got == pytest.approx(handmade.TRAVEL_KM, abs=1e-9)


def test_deprived_share(two_lsoa_pcn):
    lsoas, _ = two_lsoa_pcn
    share = deprived_share(lsoas)
    assert share["P"] == pytest.approx(1000 / 4000)  # L1 is decile 1, L2 decile 7
    assert share["Q"] == pytest.approx(1.0)


def test_deprived_share_of_an_unpopulated_pcn_is_zero(two_lsoa_pcn):
    lsoas, _ = two_lsoa_pcn
    lsoas = lsoas.assign(population=[1000.0, 3000.0, 0.0])
    assert deprived_share(lsoas)["Q"] == 0.0


def test_points_km(two_lsoa_pcn):
    lsoas, premises = two_lsoa_pcn
    km = points_km(lsoa_points(lsoas), site_points(premises))
    assert km.shape == (3, 2)
    assert km[0, 0] == pytest.approx(4.0)
    assert km[1, 0] == pytest.approx(5.0)
    assert km[2, 1] == pytest.approx(2.0)


# --- travel matrix files ------------------------------------------------------------------


@pytest.fixture
def lsoa_table():
    return pd.DataFrame(
        {
            "lsoa_code": ["L1", "L2", "L3"],
            "pcn_code": ["P", "P", "Q"],
            "population": [1000.0, 3000.0, 500.0],
        }
    )


def write(tmp_path, text: str):
    path = tmp_path / "matrix.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_matrix_by_lsoa_is_averaged_over_population(tmp_path, lsoa_table):
    path = write(
        tmp_path,
        "origin,site_id,travel_km\nL1,S,2\nL2,S,6\nL3,S,1\nL1,T,4\nL2,T,4\n",
    )
    table = read_travel_matrix(path, lsoa_table, {"S", "T"})
    got = table.set_index(["pcn_code", "site_id"])["travel_km"]
    assert got[("P", "S")] == pytest.approx((1000 * 2 + 3000 * 6) / 4000)
    assert got[("P", "T")] == pytest.approx(4.0)
    assert got[("Q", "S")] == pytest.approx(1.0)
    assert ("Q", "T") not in got.index  # absent pair: unreachable


def test_matrix_by_pcn_in_minutes_with_bands(tmp_path, lsoa_table):
    path = write(
        tmp_path,
        "pcn_code,site_id,band,travel_minutes\nP,S,weekday,10\nP,S,evening,20\nQ,T,,30\n",
    )
    table = read_travel_matrix(path, lsoa_table, {"S", "T"}, km_per_minute=0.5)
    rows = {(p, s, b): km for p, s, b, km in table.itertuples(index=False)}
    assert rows == {("P", "S", "weekday"): 5.0, ("P", "S", "evening"): 10.0, ("Q", "T", ""): 15.0}


def test_matrix_partial_pcn_is_an_error(tmp_path, lsoa_table):
    path = write(tmp_path, "origin,site_id,travel_km\nL1,S,2\nL3,S,1\n")
    with pytest.raises(InputDataError) as info:
        read_travel_matrix(path, lsoa_table, {"S"})
    assert "only 1 of its 2 LSOAs" in str(info.value)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("origin,site_id,travel_km\nP,S,-1\nQ,S,1\n", "not a non-negative number"),
        ("origin,site_id,travel_km\nP,S,abc\nQ,S,1\n", "not a non-negative number"),
        ("origin,site_id,travel_km\nP,NOPE,1\nQ,S,1\n", "unknown site 'NOPE'"),
        ("origin,site_id,band,travel_km\nP,S,night,1\nQ,S,,1\n", "unknown band 'night'"),
        ("origin,site_id,travel_km\nP,S,1\n", "no rows for PCN Q"),
        ("origin,site_id,travel_km\nZZ,S,1\n", "neither an LSOA nor a PCN code"),
        ("from,site_id,travel_km\nP,S,1\n", "no origin column"),
        ("origin,site_id,distance\nP,S,1\n", "no travel column"),
    ],
)
def test_matrix_errors(tmp_path, lsoa_table, text, says):
    path = write(tmp_path, text)
    with pytest.raises(InputDataError) as info:
        read_travel_matrix(path, lsoa_table, {"S"})
    assert says in str(info.value)
    assert all(p.file == "matrix.csv" for p in info.value.problems)


def test_matrix_missing_file(tmp_path, lsoa_table):
    with pytest.raises(InputDataError, match="not found"):
        read_travel_matrix(tmp_path / "nope.csv", lsoa_table, {"S"})


def test_lsoa_points_are_worked_out_once_per_geometry_and_cannot_be_changed():
    lsoas = gpd.GeoDataFrame(
        {"lsoa_code": ["A", "B"]}, geometry=[square(0, 0), square(500, 0)], crs="EPSG:27700"
    )
    first = lsoa_points(lsoas)
    assert lsoa_points(lsoas) is first  # the same geometries: kept, not recomputed
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[0, 0] = 0.0
    moved = lsoas.set_geometry([square(1000, 0), square(1500, 0)])
    again = lsoa_points(moved)  # new geometries: new points
    assert again is not first
    assert again[:, 0] == pytest.approx([X0 + 1000, X0 + 1500])
    assert first[:, 0] == pytest.approx([X0, X0 + 500])
