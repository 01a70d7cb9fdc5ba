"""Per-page layers cut from the plan's map data: the basemap, a PCN's LSOAs and its IMD key.

:mod:`~estates_opt.outputs.maps.data` computes everything once per plan; a hub page
needs only its own corner of it (the basemap clipped to its view, its LSOAs shaded by
deprivation), so those cuts are made here, page by page.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely

from estates_opt.outputs.maps.geometry import COORD_DECIMALS, feature_collection
from estates_opt.outputs.maps.style import IMD_COLOURS, NO_DATA, Legend
from estates_opt.outputs.maps.values import to_num, to_text

if TYPE_CHECKING:
    from estates_opt.outputs.maps.data import MapData


def basemap_layer(
    data: MapData, bounds: list[list[float]] | None = None, pad: float = 0.35
) -> dict[str, Any] | None:
    """The basemap as GeoJSON per layer; clipped to ``bounds`` (padded) for a hub page.

    The clip box reaches at least the PCN's longer side beyond its centre in every
    direction, so a tall PCN on a wide screen (or a wide one on a phone) is not framed by
    roads and rivers that stop short of the map's edges. Only features whose bounding
    boxes meet the clip box are clipped (the rest would clip to nothing): a hub page
    touches a few of NEL's 633 features, and 48 pages took 1.9 s clipping all of them.
    """
    if not data.basemap:
        return None
    box = _clip_box(bounds, pad) if bounds is not None else None
    out: dict[str, Any] = {}
    for name, (geoms, records, extents) in data.basemap_parts.items():
        if box is not None:
            west, south, east, north = box
            near = np.flatnonzero(
                (extents[:, 0] <= east)
                & (extents[:, 2] >= west)
                & (extents[:, 1] <= north)
                & (extents[:, 3] >= south)
            )
            clipped = shapely.set_precision(
                shapely.clip_by_rect(geoms[near], west, south, east, north),
                10.0**-COORD_DECIMALS,
            )
            kept = ~(shapely.is_empty(clipped) | shapely.is_missing(clipped))
            geoms, records = clipped[kept], [records[i] for i in near[kept]]
        out[name] = feature_collection(geoms, records)
    return out


def _clip_box(bounds: list[list[float]], pad: float) -> tuple[float, float, float, float]:
    """(west, south, east, north) of a hub page's basemap: ``bounds`` padded, and at
    least the longer side beyond the centre each way."""
    (south, west), (north, east) = bounds
    mid_lat, mid_lon = (south + north) / 2, (west + east) / 2
    stretch = max(math.cos(math.radians(mid_lat)), 0.1)  # degrees of lon per km ratio
    span = max(north - south, (east - west) * stretch)  # the longer side, lat degrees
    half_lat = max((north - south) * (0.5 + pad), span)
    half_lon = max((east - west) * (0.5 + pad), span / stretch)
    return mid_lon - half_lon, mid_lat - half_lat, mid_lon + half_lon, mid_lat + half_lat


def lsoa_layer(data: MapData, pcn_code: str) -> dict[str, Any]:
    """One PCN's LSOAs as GeoJSON, shaded by IMD decile (1 = most deprived 10%)."""
    frame = data.lsoas[data.lsoas["pcn_code"] == pcn_code]
    props = []
    for r in frame.itertuples(index=False):
        decile = int(r.imd_decile) if pd.notna(r.imd_decile) else None
        props.append(
            {
                "code": str(r.lsoa_code),
                "name": to_text(r.lsoa_name),
                "population": to_num(r.population, 0),
                "imd": decile,
                "fill": IMD_COLOURS[min(max(decile, 1), 10) - 1] if decile else NO_DATA,
            }
        )
    return feature_collection(frame["display"].to_numpy(), props)


def imd_legend() -> dict[str, Any]:
    """The IMD decile key for hub maps."""
    items = [
        (c, f"decile {i}" + (" (most deprived 10%)" if i == 1 else ""))
        for i, c in enumerate(IMD_COLOURS, start=1)
    ]
    items[-1] = (IMD_COLOURS[-1], "decile 10 (least deprived)")
    record = Legend("LSOA deprivation (IMD 2019 decile)", items).record()
    record["ramp"] = ["1 most deprived", "10 least"]
    return record


def imd_profile(data: MapData, pcn_code: str) -> dict[str, float | None]:
    """Population share in the two most deprived deciles, and the population-weighted mean."""
    frame = data.lsoas[data.lsoas["pcn_code"] == pcn_code]
    pop = frame["population"].astype(float)
    decile = frame["imd_decile"].astype(float)
    total = float(pop.sum())
    if total <= 0:
        return {"share_deciles_1_2": None, "mean_decile": None}
    return {
        "share_deciles_1_2": float(pop[decile <= 2].sum() / total),
        "mean_decile": float((pop * decile).sum() / total),
    }
