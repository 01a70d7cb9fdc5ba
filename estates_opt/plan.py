"""The public pipeline: dataset + scenario -> verified, explained :class:`Plan`.

:func:`solve` chains the stages (apply scenario, measure travel, build,
solve, explain, verify) and holds no modelling logic of its own.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString

from . import explain
from .build import LinearProgram, build_model, pin_problems
from .changes import apply_scenario
from .dataset import Dataset, read_dataset
from .errors import (
    InfeasibleError,
    ModelSpecificationError,
    ScenarioError,
    VerificationError,
)
from .geo import pcn_site_travel, read_travel_matrix
from .io import csv_text, json_safe, staged_directory, write_geopackage, write_json
from .scenario import Scenario, load_scenario
from .schema import GEOGRAPHIC_CRS
from .solve import SolveResult, SolveStatus, check_highs_options, solve_model
from .verify import verify_plan

if TYPE_CHECKING:
    import folium

log = logging.getLogger(__name__)

#: Output files every written plan contains (besides maps and the workbook).
PLAN_TABLES = ("allocations", "moves", "utilisation", "pcn_summary", "bottlenecks", "unmet")


@dataclass(frozen=True)
class Plan:
    """A solved, verified allocation with the tables that explain it."""

    scenario: Scenario
    dataset: Dataset
    status: SolveStatus
    allocations: pd.DataFrame
    moves: pd.DataFrame
    utilisation: pd.DataFrame
    pcn_summary: pd.DataFrame
    bottlenecks: pd.DataFrame
    unmet: pd.DataFrame
    kpis: dict[str, Any]
    opened: frozenset[tuple[str, str]] = frozenset()
    violations: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def verify(self) -> list[str]:
        """Re-run the independent verifier on this plan's tables; [] means sound."""
        return verify_plan(
            self.dataset,
            self.scenario,
            self.allocations,
            self.unmet,
            self.utilisation,
            self.kpis,
            self.opened,
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in PLAN_TABLES}

    def summary(self) -> str:
        k = self.kpis
        before = k["utilisation_before"]["weekday"]
        after = k["utilisation_after"]["weekday"]
        util = ", ".join(
            f"{kind} {before.get(kind, 0):.0%}->{after.get(kind, 0):.0%}" for kind in sorted(after)
        )
        return (
            f"{self.scenario.name}: {self.status}; weekday utilisation {util}; "
            f"{k['hours_moved']:.0f} h/week moved; unmet {k['unmet_hours_total']:.1f} h/week; "
            f"travel {k['travel_km_before']:.2f} -> {k['travel_km_after']:.2f} km"
        )

    def to_map(self) -> folium.Map:
        """The planner's map of the whole plan (a ``folium.Map``, for notebooks)."""
        from .maps import plan_map

        return plan_map(self)

    def hub_map(self, pcn_code: str) -> folium.Map:
        """A PCN clinical director's map of one PCN."""
        from .maps import hub_map

        return hub_map(self, pcn_code)

    def write(
        self, out_dir: str | Path, *, maps_dir: str | Path | None = None, workbook: bool = True
    ) -> Path:
        """Write every output atomically into ``out_dir`` (and maps, if asked)."""
        return write_plan(
            self, Path(out_dir), maps_dir=Path(maps_dir) if maps_dir else None, workbook=workbook
        )


def measure_travel(dataset: Dataset, scenario: Scenario) -> pd.DataFrame:
    """PCN-site travel table from geometry, or from the scenario's matrix file."""
    matrix = scenario.matrix_path()
    if matrix is not None:
        return read_travel_matrix(
            matrix,
            dataset.lsoas,
            set(dataset.premises["site_id"]),
            scenario.travel.matrix_unit,
            scenario.travel.speed_km_per_minute,
        )
    limits = dict(
        zip(dataset.services["service_id"], dataset.services["max_travel_km"], strict=True)
    )
    limits.update(scenario.travel.max_km_by_service)
    return pcn_site_travel(
        dataset.lsoas, dataset.premises, scenario.travel.circuity, max(limits.values())
    )


def solve(dataset: Dataset, scenario: Scenario | None = None) -> Plan:
    """Solve the allocation for ``scenario`` (defaults) on ``dataset`` and verify it."""
    scenario = scenario or Scenario()
    origin = scenario.source_file or f"scenario '{scenario.name}'"
    try:
        check_highs_options(scenario.solver)  # before the slow stages, naming the file
    except ScenarioError as exc:
        raise ScenarioError(f"{origin}: {exc}", [f"{origin}: {p}" for p in exc.problems]) from None
    timings: dict[str, float] = {}
    t = time.perf_counter()
    data = apply_scenario(dataset, scenario)
    travel = measure_travel(data, scenario)
    timings["travel"] = time.perf_counter() - t
    try:
        lp = build_model(data, scenario, travel)
    except ModelSpecificationError as exc:
        raise ModelSpecificationError(f"{origin}: {exc}") from None
    timings["build"] = lp.build_seconds
    impossible = pin_problems(lp, scenario)
    if impossible:
        raise ScenarioError(
            f"{origin}: " + "; ".join(impossible), [f"{origin}: {p}" for p in impossible]
        )
    if scenario.solver.decompose:
        from .decompose import solve_decomposed

        result = solve_decomposed(lp, scenario.solver)
    else:
        result = solve_model(lp, scenario.solver)
    timings["pulp_build"] = result.pulp_build_seconds
    timings["solve"] = result.seconds
    if not result.status.has_plan:
        diagnosis = lp.diagnostics or ("no arithmetic cause found",)
        if result.status == SolveStatus.NO_SOLUTION_TIME_LIMIT:
            diagnosis = (
                f"the time limit ({scenario.solver.time_limit_s:g} s) ran out before the solver "
                "found any plan: raise solver.time_limit_s, or try the LP first (options."
                "whole_sessions and options.opening_decisions off)",
                *lp.diagnostics,
            )
        raise InfeasibleError(
            f"scenario '{scenario.name}': the solver ended '{result.status}' without a plan.",
            diagnosis=diagnosis,
        )
    return explain_and_verify(data, scenario, lp, result, timings)


def explain_and_verify(
    dataset: Dataset,
    scenario: Scenario,
    lp: LinearProgram,
    result: SolveResult,
    timings: dict[str, float],
) -> Plan:
    t = time.perf_counter()
    allocations = explain.allocation_table(dataset, scenario, lp, result)
    unmet = explain.unmet_table(lp, result, allocations)
    opened = explain.opened_slots(lp, result)
    utilisation = explain.utilisation_table(dataset, allocations, scenario, opened)
    moves = explain.moves_table(dataset, allocations, utilisation)
    bottlenecks = explain.bottleneck_table(dataset, lp, result, utilisation)
    pcn_summary = explain.pcn_summary_table(dataset, scenario, allocations, unmet)
    imd = explain.travel_by_imd(dataset, scenario, allocations)
    timings["explain"] = time.perf_counter() - t
    kpis = explain.kpi_dict(
        dataset, scenario, lp, result, allocations, unmet, utilisation, imd, opened, timings
    )
    t = time.perf_counter()
    violations = verify_plan(dataset, scenario, allocations, unmet, utilisation, kpis, opened)
    timings["verify"] = time.perf_counter() - t
    kpis["seconds"] = {k: round(v, 3) for k, v in timings.items()}
    kpis["verified"] = not violations
    if violations:
        raise VerificationError(violations)
    plan = Plan(
        scenario,
        dataset,
        result.status,
        allocations,
        moves,
        utilisation,
        pcn_summary,
        bottlenecks,
        unmet,
        kpis,
        frozenset(opened),
    )
    log.info("%s", plan.summary())
    return plan


def run(scenario_path: str | Path) -> Plan:
    """Load a scenario file, read its dataset and solve: the whole job, no side effects."""
    scenario = load_scenario(scenario_path)
    return solve(read_dataset(scenario.dataset_path()), scenario)


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
    plan: Plan, out_dir: Path, *, maps_dir: Path | None = None, workbook: bool = True
) -> Path:
    """Write the plan's tables, KPIs, GeoPackage (and workbook, maps) atomically."""
    with staged_directory(out_dir) as stage:
        for name, frame in plan.tables().items():
            (stage / f"{name}.csv").write_text(csv_text(frame), encoding="utf-8")
        write_json(json_safe(plan.kpis), stage / "kpis.json")  # undefined means -> null
        write_json(plan.scenario.model_dump(mode="json"), stage / "scenario.json")
        write_geopackage(_gpkg_layers(plan), stage / "plan.gpkg")
        if workbook:
            try:
                from .workbook import write_workbook
            except ImportError:  # the workbook module arrives with the scenario tooling
                pass
            else:
                write_workbook(plan, stage / "plan.xlsx")
    if maps_dir is not None:
        from .maps import write_maps

        write_maps(plan, maps_dir)
    log.info("wrote plan to %s", out_dir)
    return out_dir


def read_plan(plan_dir: str | Path) -> Plan:
    """Re-open a written plan (tables, KPIs, scenario) with its dataset, for maps and explain."""
    import json

    from .scenario import scenario_from_dict

    plan_dir = Path(plan_dir)
    if not (plan_dir / "kpis.json").is_file():
        from .errors import InputDataError, Problem

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
