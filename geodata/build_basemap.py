"""Build the offline basemap of the NEL dataset: water, main roads, rail, stations, place names.

Reads ``geodata/raw/nel/basemap/nel_basemap_*.geojson`` (copied unchanged from the open-data
pack; provenance in ``raw/nel/basemap/SOURCES.md``) and writes ``geodata/nel/basemap/``:
simplified again in EPSG:27700 for drawing under the data at ICS and PCN scales, small
features dropped, only the columns the maps use kept, coordinates rounded to 5 decimal
places (about 1 m). Same inputs -> same bytes. The maps draw these layers, muted, beneath
the plan and add ``basemap/ATTRIBUTION.txt`` to the page's attribution.

Run from the repository root:  .venv/bin/python geodata/build_basemap.py
(``geodata/build_nel.py`` runs it too, after the dataset.)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import shapely

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw" / "nel" / "basemap"
OUT = HERE / "nel" / "basemap"
BNG, WGS84 = "EPSG:27700", "EPSG:4326"

log = logging.getLogger("build_basemap")

#: Simplification tolerance (m) per layer, and the smallest water area kept (m²).
TOLERANCE_M = {"water": 20.0, "roads": 25.0, "rail": 30.0}
MIN_WATER_M2 = 50_000.0
MIN_RAIL_M = 600.0
#: Place types kept as labels, most important first (localities are too many to read).
PLACE_TYPES = ("town", "suburb", "village")

ATTRIBUTION = """Basemap (geodata/nel/basemap): water, rail and place names contain OpenStreetMap data
© OpenStreetMap contributors, available under the Open Database Licence (ODbL) 1.0 (Geofabrik
extract of 21 August 2019). Roads contain OS data © Crown copyright and database right 2017–2018
(OS OpenMap Local) and DfT Major Road Network 2018 data, licensed under the Open Government Licence
v3.0. Stations: Powered by TfL Open Data. Contains OS data © Crown copyright and database rights
2016 and Geomni UK Map data © and database rights 2019.
"""


def _read(name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(RAW / f"nel_basemap_{name}.geojson").to_crs(BNG)


def _simplify(frame: gpd.GeoDataFrame, tolerance: float) -> gpd.GeoDataFrame:
    frame = frame.copy()
    frame["geometry"] = frame.geometry.simplify(tolerance, preserve_topology=True)
    return frame[~frame.geometry.is_empty & frame.geometry.notna()]


def water() -> gpd.GeoDataFrame:
    frame = _read("water")
    areas = frame[(frame["shape"] == "area") & (frame.geometry.area >= MIN_WATER_M2)]
    lines = frame[frame["shape"] == "line"]
    kept = gpd.GeoDataFrame(
        [*areas.itertuples(index=False), *lines.itertuples(index=False)], columns=frame.columns,
        crs=BNG,
    )
    kept["name"] = kept["name"].fillna("")
    return _simplify(kept[["name", "kind", "shape", "geometry"]], TOLERANCE_M["water"])


def roads() -> gpd.GeoDataFrame:
    frame = _read("roads")
    frame["ref"] = frame["road_number"].fillna("")
    frame["major"] = frame["road_class"] != "A Road"
    return _simplify(frame[["ref", "major", "geometry"]], TOLERANCE_M["roads"])


def rail() -> gpd.GeoDataFrame:
    """Rail lines merged per type; sidings and other pieces under 600 m dropped."""
    frame = _read("rail")
    rows = []
    for kind, geom in zip(frame["rail_type"], frame.geometry, strict=True):
        merged = shapely.line_merge(shapely.union_all(shapely.get_parts(geom)))
        parts = [p for p in shapely.get_parts(merged) if p.length >= MIN_RAIL_M]
        rows.append({"rail_type": kind, "geometry": shapely.MultiLineString(parts)})
    return _simplify(gpd.GeoDataFrame(rows, crs=BNG), TOLERANCE_M["rail"])


def stations() -> gpd.GeoDataFrame:
    frame = _read("stations")
    frame["modes"] = frame["modes"].fillna("")
    return frame[["name", "modes", "geometry"]]


def places() -> gpd.GeoDataFrame:
    frame = _read("places")
    frame = frame[frame["place_type"].isin(PLACE_TYPES)].copy()
    frame["rank"] = frame["place_type"].map({t: i for i, t in enumerate(PLACE_TYPES)})
    return frame[["name", "rank", "geometry"]]


def _write(frame: gpd.GeoDataFrame, name: str) -> int:
    out = frame.to_crs(WGS84)
    out = out.sort_values([c for c in out.columns if c != "geometry"][:1], kind="stable")
    features = []
    for row in out.itertuples(index=False):
        geom = shapely.set_precision(row.geometry, 1e-5)
        if geom.is_empty:
            continue
        props = {c: getattr(row, c) for c in out.columns if c != "geometry"}
        props = {k: v.item() if hasattr(v, "item") else v for k, v in props.items()}  # numpy
        features.append({"type": "Feature", "properties": props,
                         "geometry": json.loads(shapely.to_geojson(geom))})
    text = json.dumps({"type": "FeatureCollection", "features": features},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    (OUT / f"{name}.geojson").write_text(text + "\n", encoding="utf-8")
    log.info("basemap %s: %d features, %.0f KB", name, len(features), len(text) / 1e3)
    return len(text)


def build() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    total = 0
    for name, make in (("water", water), ("roads", roads), ("rail", rail),
                       ("stations", stations), ("places", places)):
        total += _write(make(), name)
    (OUT / "ATTRIBUTION.txt").write_text(ATTRIBUTION, encoding="utf-8")
    log.info("basemap: %.0f KB in all, in %s", total / 1e3, OUT)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    build()
