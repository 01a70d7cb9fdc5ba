"""Synthetic datasets: the published counts, NEL's calibration, valid files, speed, caching."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
import shapely

from estates_opt import read_dataset
from estates_opt.inputs.dataset import dataset_from_tables, utilisation_by_kind
from estates_opt.synthetic import (
    GENERATOR_VERSION,
    SCALES,
    Scale,
    cached_dataset,
    generate,
    write_dataset,
)


@pytest.fixture(scope="module")
def ics_tables():
    return generate("ics", seed=0)


@pytest.fixture(scope="module")
def england_tables():
    return generate("england", seed=0)


def counts(tables) -> dict[str, int]:
    kinds = tables["premises"]["kind"].value_counts().to_dict()
    return {"pcns": len(tables["pcns"]), "lsoas": len(tables["lsoas"]), **kinds}


def test_ics_scale_has_the_counts_of_one_integrated_care_system(ics_tables):
    got = counts(ics_tables)
    assert got["pcns"] == 50
    assert got["gp_practice"] == 300
    assert got["community"] == 150
    assert got["pcn_hub"] == 50


def test_region_scale_has_250_pcns_and_1500_practices():
    scale = SCALES["region"]
    assert (scale.pcns, scale.practices) == (250, 1500)


def test_england_scale_has_the_national_counts_and_generates_in_seconds():
    started = time.perf_counter()
    tables = generate("england", seed=1)
    seconds = time.perf_counter() - started
    got = counts(tables)
    assert got["pcns"] == 1250
    assert got["gp_practice"] == 6300
    assert got["community"] == 3000
    assert got["lsoas"] == 33000
    assert seconds < 10, f"england generation took {seconds:.1f} s"


def test_every_pcn_has_practices_a_hub_and_its_own_lsoas(england_tables):
    premises = england_tables["premises"]
    per_pcn = premises[premises["kind"] == "gp_practice"].groupby("pcn_code").size()
    hubs = premises[premises["kind"] == "pcn_hub"].groupby("pcn_code").size()
    assert per_pcn.min() >= 5 and per_pcn.max() <= 6
    assert (hubs == 1).all() and len(hubs) == 1250
    zones = england_tables["lsoas"].groupby("pcn_code").size()
    assert zones.min() >= 26 and zones.max() <= 27


def test_lsoas_tile_without_overlap_and_catchments_are_their_union(ics_tables):
    lsoas = ics_tables["lsoas"]
    union = shapely.union_all(lsoas.geometry.array)
    assert union.area == pytest.approx(lsoas.geometry.area.sum(), rel=1e-9)
    pcns = ics_tables["pcns"].set_index("pcn_code").geometry
    area = lsoas.geometry.area.groupby(lsoas["pcn_code"]).sum()
    assert pcns.area.reindex(area.index).to_numpy() == pytest.approx(area.to_numpy(), rel=1e-9)
    assert pcns.is_valid.all()


def test_sites_sit_inside_their_towns(ics_tables):
    """Practices and hubs lie in their own PCN's catchment; community sites where people live."""
    premises = ics_tables["premises"]
    pcns = ics_tables["pcns"].set_index("pcn_code").geometry
    own = premises[premises["kind"].isin(["gp_practice", "pcn_hub"])]
    outline = pcns.reindex(own["pcn_code"]).buffer(1.0).to_numpy()
    assert shapely.contains(outline, own.geometry.to_numpy()).all()
    land = shapely.union_all(ics_tables["lsoas"].geometry.array).buffer(1.0)
    community = premises[premises["kind"] == "community"]
    assert community.geometry.within(land).all()


def test_towns_are_apart_and_vary_in_size(ics_tables):
    """Towns are separate clusters: PCNs of different towns are at least the gap apart."""
    pcns = ics_tables["pcns"]
    towns = pcns.dissolve("borough").geometry
    assert len(towns) == SCALES["ics"].towns
    gaps = [a.distance(b) for i, a in enumerate(towns) for b in list(towns)[i + 1 :]]
    assert min(gaps) >= SCALES["ics"].town_gap_km * 1000 - 1
    sizes = pcns.groupby("borough").size()
    assert sizes.max() > sizes.min()


def test_calibration_matches_nel(ics_tables):
    """Practices and hospitals ~100% used on weekdays, community and hubs ~40%."""
    dataset = dataset_from_tables(ics_tables)
    util = utilisation_by_kind(dataset).set_index(["kind", "band"])["utilisation"]
    assert util[("gp_practice", "weekday")] == pytest.approx(1.0, abs=0.05)
    assert util[("acute", "weekday")] == pytest.approx(1.0, abs=0.05)
    assert util[("community", "weekday")] == pytest.approx(0.40, abs=0.05)
    assert util[("pcn_hub", "weekday")] == pytest.approx(0.40, abs=0.05)


def test_demand_follows_registered_population(ics_tables):
    demand = ics_tables["demand"]
    patients = ics_tables["pcns"].set_index("pcn_code")["registered_patients"]
    diabetes = demand[demand["service_id"] == "pcn_diabetes"].set_index("pcn_code")
    rate = diabetes["hours_per_week"] / patients.reindex(diabetes.index) * 1000
    assert rate.to_numpy() == pytest.approx(2.0, abs=0.01)
    baseline = ics_tables["baseline"].groupby(["pcn_code", "service_id"])["hours_per_week"].sum()
    placed = demand.set_index(["pcn_code", "service_id"])["hours_per_week"]
    assert baseline.reindex(placed.index).to_numpy() == pytest.approx(placed.to_numpy(), abs=0.02)


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = generate("small", seed=5), generate("small", seed=5), generate("small", seed=6)
    for name in a:
        pd.testing.assert_frame_equal(pd.DataFrame(a[name]), pd.DataFrame(b[name]))
    assert not a["capacity"]["fixed_hours"].equals(c["capacity"]["fixed_hours"])


@pytest.mark.parametrize("scale", ["tiny", "small", "ics"])
def test_written_datasets_pass_read_dataset(scale, tmp_path):
    tables = generate(scale, seed=3)
    dataset = read_dataset(write_dataset(tables, tmp_path / scale))
    assert len(dataset.premises) == len(tables["premises"])
    assert len(dataset.lsoas) == len(tables["lsoas"])
    written = dataset.premises.set_index("site_id").geometry
    made = tables["premises"].set_index("site_id").geometry
    moved = written.distance(made.reindex(written.index))
    assert float(moved.max()) < 0.01  # metres, after the WGS84 round trip


def test_a_scale_needs_a_practice_per_pcn():
    with pytest.raises(ValueError, match="at least one PCN"):
        generate(
            Scale(
                pcns=3,
                practices_per_pcn=0.5,
                community_sites=1,
                lsoas_per_pcn=2,
                acute_sites=1,
                towns=1,
            )
        )


def test_cached_dataset_is_generated_once_and_rebuilt_when_stale(tmp_path):
    folder = cached_dataset("tiny", seed=4, cache=tmp_path)
    assert folder == tmp_path / "tiny-4"
    assert (folder / "GENERATOR").read_text(encoding="utf-8").strip() == GENERATOR_VERSION
    stamp = (folder / "premises.geojson").stat().st_mtime_ns
    assert cached_dataset("tiny", seed=4, cache=tmp_path) == folder
    assert (folder / "premises.geojson").stat().st_mtime_ns == stamp
    (folder / "GENERATOR").write_text("0\n", encoding="utf-8")
    (folder / "premises.geojson").write_text("not json", encoding="utf-8")
    cached_dataset("tiny", seed=4, cache=tmp_path)
    assert read_dataset(folder).premises.shape[0] == len(generate("tiny", 4)["premises"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_generated_pcn_outlines_are_single_or_multi_polygons(england_tables):
    kinds = set(np.unique(shapely.get_type_id(england_tables["pcns"].geometry.array)))
    assert kinds <= {3, 6}  # Polygon, MultiPolygon
