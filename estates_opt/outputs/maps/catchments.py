"""Catchment and borough records: each PCN's headline numbers, outline and choropleth colours.

The plan map shades catchments three ways (population, unmet hours, change in travel);
the breaks, colours and legends are worked out here once per plan, so the page script
only looks colours up.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from estates_opt.outputs.maps.geometry import (
    SIMPLIFY_M,
    bounds_of,
    catchment_points,
    display_geometry,
    feature_collection,
)
from estates_opt.outputs.maps.style import (
    NO_DATA,
    POPULATION_COLOURS,
    TRAVEL_BREAKS,
    TRAVEL_COLOURS,
    TRAVEL_LABELS,
    UNMET_COLOURS,
    Legend,
)
from estates_opt.outputs.maps.values import to_num, to_text
from estates_opt.schema import GEOGRAPHIC_CRS

if TYPE_CHECKING:
    from estates_opt.results.plan import Plan


def pcn_records(
    plan: Plan,
) -> tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]], list[list[float]]]:
    """Per-PCN records, the catchments as GeoJSON, the shading keys and the plan's bounds."""
    ds = plan.dataset
    pcns = ds.pcns.reset_index(drop=True)
    summary = plan.pcn_summary.set_index("pcn_code")
    points = gpd.GeoSeries(catchment_points(pcns, ds.lsoas), crs=pcns.crs).to_crs(GEOGRAPHIC_CRS)
    shapes = display_geometry(pcns, SIMPLIFY_M["pcns"], drop_slivers=True)
    # member practices: GP practices, with a hub that is itself one (kind pcn_hub)
    premises = ds.premises
    practice = premises["kind"] == "gp_practice"
    if "building_type" in premises:
        practice |= premises["building_type"] == "practice"
    members = premises[practice].groupby(premises["pcn_code"].astype(str)).size()
    records: list[dict[str, Any]] = []
    for i, row in pcns.iterrows():
        code = str(row["pcn_code"])
        s = summary.loc[code] if code in summary.index else pd.Series(dtype=object)
        before, after = to_num(s.get("travel_before_km"), 2), to_num(s.get("travel_after_km"), 2)
        records.append(
            {
                "code": code,
                "name": to_text(row.get("pcn_name")),
                "borough": to_text(row.get("borough")),
                "lat": round(float(points.iloc[i].y), 5),
                "lon": round(float(points.iloc[i].x), 5),
                "bounds": bounds_of(shapes[i]),
                "population": to_num(s.get("population"), 0),
                "registered": to_num(s.get("registered_patients"), 0),
                "practices": int(members.get(code, 0)),
                "demand": to_num(s.get("demand_hours")),
                "rehoused": to_num(s.get("rehoused_demand_hours")),
                "rehousedMoved": to_num(s.get("rehoused_hours_moved")),
                "met": to_num(s.get("met_hours")),
                "unmet": to_num(s.get("unmet_hours")),
                "travelBefore": before,
                "travelAfter": after,
                "travelWeighting": to_text(s.get("travel_weighting")) or None,
                "travelChange": None
                if before is None or after is None
                else round(after - before, 2),
                "moved": to_num(s.get("hours_moved")),
                "eaDemand": to_num(s.get("enhanced_access_demand_hours")),
                "eaMet": to_num(s.get("enhanced_access_met_hours")),
                "eaEvening": to_num(s.get("enhanced_access_evening_hours")),
                "eaEveningBefore": to_num(s.get("enhanced_access_evening_hours_before")),
                "eaSaturday": to_num(s.get("enhanced_access_saturday_hours")),
                "eaSaturdayBefore": to_num(s.get("enhanced_access_saturday_hours_before")),
                "eaContractMet": None
                if s.get("enhanced_access_contract_met") is None
                else bool(s.get("enhanced_access_contract_met")),
            }
        )
    shading = _shading(records)
    props = [
        {"i": i, "fill": {s["key"]: s["colours"][i] for s in shading}} for i in range(len(records))
    ]
    for s in shading:
        del s["colours"]
    areas = feature_collection(shapes, props)
    return records, areas, shading, bounds_of(shapes)


def _classify(
    values: list[float | None], breaks: list[float], colours: tuple[str, ...]
) -> list[str]:
    out = []
    for v in values:
        if v is None:
            out.append(NO_DATA)
        else:
            out.append(colours[int(np.searchsorted(breaks, v, side="right"))])
    return out


def _nice(x: float) -> float:
    if x <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(x))
    return round(x, digits)


def _quantile_breaks(values: list[float], n: int) -> list[float]:
    data = np.asarray([v for v in values if v is not None], float)
    if not len(data):
        return []
    qs = np.quantile(data, [k / n for k in range(1, n)])
    return sorted({_nice(float(q)) for q in qs if q > 0})


def _range_labels(breaks: list[float], unit: str, fmt: str = "{:,.0f}") -> list[str]:
    if not breaks:
        return [f"all ({unit})"]
    labels = [f"under {fmt.format(breaks[0])} {unit}"]
    labels += [
        f"{fmt.format(a)}-{fmt.format(b)} {unit}" for a, b in zip(breaks, breaks[1:], strict=False)
    ]
    labels.append(f"{fmt.format(breaks[-1])} {unit} or more")
    return labels


def _shading(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Three choropleth keys for the PCN catchments, each with its legend."""
    pop = [r["population"] for r in records]
    pop_breaks = _quantile_breaks([p for p in pop if p is not None], 5)
    pop_colours = POPULATION_COLOURS[-(len(pop_breaks) + 1) :]
    unmet = [r["unmet"] for r in records]
    positive = [u for u in unmet if u is not None and u > 0.05]
    unmet_breaks = [0.05, *(b for b in _quantile_breaks(positive, 4) if b > 0.05)]
    unmet_colours = UNMET_COLOURS[: len(unmet_breaks) + 1]
    unmet_labels = ["none", *_range_labels(unmet_breaks, "h/week", "{:,.1f}")[1:]]
    travel = [r["travelChange"] for r in records]
    return [
        {
            "key": "population",
            "label": "Catchment population",
            "legend": Legend(
                "Catchment population (residents of its LSOAs)",
                list(zip(pop_colours, _range_labels(pop_breaks, "people"), strict=True)),
            ).record(),
            "colours": _classify(pop, pop_breaks, pop_colours),
        },
        {
            "key": "unmet",
            "label": "Unmet hours",
            "legend": Legend(
                "Unmet demand after the plan", list(zip(unmet_colours, unmet_labels, strict=True))
            ).record(),
            "colours": _classify(unmet, unmet_breaks, unmet_colours),
        },
        {
            "key": "travel",
            "label": "Change in travel",
            "legend": Legend(
                f"Change in travel {_travel_from(records)} (after - before)",
                list(zip(TRAVEL_COLOURS, TRAVEL_LABELS, strict=True)),
            ).record(),
            "colours": _classify(travel, list(TRAVEL_BREAKS), TRAVEL_COLOURS),
        },
    ]


def _travel_from(records: list[dict[str, Any]]) -> str:
    """Where the plan's journeys start, for the travel legend (patients' homes, not the
    catchment's population, when pcn_summary.csv says ``patients``)."""
    weightings = {r.get("travelWeighting") for r in records}
    if weightings == {"patients"}:
        return "from patients' homes"
    if weightings == {"population"}:
        return "from residents' homes"
    return "(km)"


def borough_layer(
    boroughs: gpd.GeoDataFrame | None,
) -> tuple[dict[str, Any] | None, list[list[Any]]]:
    """Borough outlines as GeoJSON and [name, lat, lon, km²] label records (none if absent)."""
    if boroughs is None or boroughs.empty:
        return None, []
    frame = boroughs.reset_index(drop=True)
    shapes = display_geometry(frame, SIMPLIFY_M["boroughs"], drop_slivers=True)
    names = [to_text(b) for b in frame["borough"]]
    points = frame.geometry.representative_point().to_crs(GEOGRAPHIC_CRS)
    areas = frame.geometry.area / 1e6
    labels = [
        [n, round(float(p.y), 5), round(float(p.x), 5), round(float(a), 1)]
        for n, p, a in zip(names, points, areas, strict=True)
    ]
    return feature_collection(shapes, [{"name": n} for n in names]), labels
