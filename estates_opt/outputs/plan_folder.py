"""A plan folder on disk: write every table atomically, and read one back."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString

from estates_opt.inputs.changes import apply_scenario
from estates_opt.inputs.dataset import read_dataset
from estates_opt.model.result import SolveStatus
from estates_opt.outputs.files import (
    csv_text,
    json_safe,
    staged_directory,
    write_geopackage,
    write_json,
)
from estates_opt.outputs.gis import moves_layer, write_layer_styles
from estates_opt.results.plan import PLAN_TABLES, Plan
from estates_opt.schema import GEOGRAPHIC_CRS

log = logging.getLogger(__name__)


def _gpkg_layers(plan: Plan) -> dict[str, gpd.GeoDataFrame]:
    ds = plan.dataset
    util = plan.utilisation.groupby("site_id")[
        ["capacity_hours", "before_hours", "after_hours"]
    ].sum()
    sites = (
        ds.premises[["site_id", "name", "kind", "pcn_code", "borough", "geometry"]]
        .merge(util, left_on="site_id", right_index=True, how="left")
        .fillna({"capacity_hours": 0.0, "before_hours": 0.0, "after_hours": 0.0})
    )
    denom = sites["capacity_hours"].where(sites["capacity_hours"] > 0)
    sites["before_utilisation"] = (sites["before_hours"] / denom).fillna(0.0)
    sites["after_utilisation"] = (sites["after_hours"] / denom).fillna(0.0)
    pcns = ds.pcns[["pcn_code", "geometry"]].merge(plan.pcn_summary, on="pcn_code")
    centroid = ds.pcns.set_index("pcn_code").geometry.representative_point()
    site_pt = ds.premises.set_index("site_id").geometry
    flows = (
        plan.allocations[plan.allocations["hours_per_week"] > 0]
        .groupby(["pcn_code", "site_id", "band"], as_index=False)[
            ["hours_per_week", "baseline_hours_per_week"]
        ]
        .sum()
    )
    flows = flows[flows["site_id"].isin(site_pt.index)]
    lines = [
        LineString([centroid[p], site_pt[s]])
        for p, s in zip(flows["pcn_code"], flows["site_id"], strict=True)
    ]
    flows = gpd.GeoDataFrame(flows, geometry=lines, crs=ds.pcns.crs)
    return {
        name: frame.sort_values(list(frame.columns[:2])).to_crs(GEOGRAPHIC_CRS)
        for name, frame in (
            ("sites", gpd.GeoDataFrame(sites, geometry="geometry", crs=ds.premises.crs)),
            ("pcns", gpd.GeoDataFrame(pcns, geometry="geometry", crs=ds.pcns.crs)),
            ("flows", flows),
        )
    }


def write_plan(
    plan: Plan,
    out_dir: str | Path,
    *,
    maps_dir: str | Path | None = None,
    workbook: bool = True,
    tiles: str | None = None,
) -> Path:
    """Write the plan's tables, KPIs, GeoPackage (and workbook, maps) atomically."""
    out_dir = Path(out_dir)
    maps_dir = Path(maps_dir) if maps_dir is not None else None
    with staged_directory(out_dir) as stage:
        for name, frame in plan.tables().items():
            (stage / f"{name}.csv").write_text(csv_text(frame), encoding="utf-8")
        write_json(json_safe(plan.kpis), stage / "kpis.json")  # undefined means -> null
        write_json(plan.scenario.model_dump(mode="json"), stage / "scenario.json")
        layers = _gpkg_layers(plan)
        layers["moves"] = moves_layer(plan)
        write_geopackage(layers, stage / "plan.gpkg")
        write_layer_styles(stage / "plan.gpkg", layers)  # QGIS opens each layer styled
        if workbook:
            from estates_opt.outputs.workbook import write_workbook  # openpyxl only when asked

            write_workbook(plan, stage / "plan.xlsx")
    if maps_dir is not None:
        from estates_opt.outputs.maps.pages import write_maps

        write_maps(plan, maps_dir, tiles=tiles)
    log.info("wrote plan to %s", out_dir)
    return out_dir


def read_plan(plan_dir: str | Path) -> Plan:
    """Re-open a written plan (tables, KPIs, scenario) with its dataset, for maps and explain."""
    import json

    from estates_opt.scenario import scenario_from_dict

    plan_dir = Path(plan_dir)
    if not (plan_dir / "kpis.json").is_file():
        from estates_opt.errors import InputDataError, Problem

        raise InputDataError(
            [
                Problem(
                    str(plan_dir),
                    "is not a plan folder (no kpis.json).",
                    fix="give the --out folder of `estates-opt solve`.",
                )
            ]
        )
    kpis = json.loads((plan_dir / "kpis.json").read_text(encoding="utf-8"))
    scenario = scenario_from_dict(
        json.loads((plan_dir / "scenario.json").read_text(encoding="utf-8")),
        str(plan_dir / "scenario.json"),
    )
    dataset = apply_scenario(read_dataset(scenario.dataset_path()), scenario)
    text_cols = {
        "service_id": str,
        "pcn_code": str,
        "site_id": str,
        "from_site_id": str,
        "to_site_id": str,
    }
    tables = {
        name: pd.read_csv(
            plan_dir / f"{name}.csv", dtype=text_cols, keep_default_na=False, na_values=[""]
        )
        for name in PLAN_TABLES
    }
    opened = frozenset(tuple(x.split(":", 1)) for x in kpis.get("sites_opened", []))
    return Plan(
        scenario,
        dataset,
        SolveStatus(kpis["status"]),
        tables["allocations"],
        tables["moves"],
        tables["utilisation"],
        tables["pcn_summary"],
        tables["bottlenecks"],
        tables["unmet"],
        kpis,
        opened,
    )
