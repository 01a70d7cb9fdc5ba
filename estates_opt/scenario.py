"""Scenario files (``models/*.toml``) parsed into a frozen, strict pydantic model.

Unknown keys are errors, not silent defaults: a typo such as ``grwoth`` names
the key and the file it is in. ``extends = "other.toml"`` inherits another
scenario and overrides it key by key (tables merge recursively, lists
replace). Paths (``dataset``, ``travel.matrix``) are relative to the file that
sets them. References to the dataset (services, boroughs, sites, PCNs) are
checked by :func:`estates_opt.inputs.changes.check_references` once the dataset is read.
``models/README.md`` documents every key, unit and default.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from estates_opt.errors import ScenarioError
from estates_opt.paths import kind_of
from estates_opt.schema import BANDS, ROOM_TYPES, SITE_KINDS
from estates_opt.text import control_characters, escape_control

SiteKind = Literal["gp_practice", "pcn_hub", "community", "acute"]
Band = Literal["weekday", "evening", "saturday", "sunday"]
BuildingType = Literal[
    "practice",
    "community_hospital",
    "health_centre",
    "clinic",
    "childrens_centre",
    "mental_health_base",
    "team_base",
    "acute",
]
RoomType = Literal["consulting", "treatment", "group", "diagnostics"]

#: A scenario name becomes a folder name (``outputs/<name>``), so it is kept path-safe.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+()-]{0,99}$")


class _Strict(BaseModel):
    # NaN and infinity pass `ge`/`le` checks unevenly (inf >= 0) and poison the LP: refuse both.
    # Strict types: `true` is not the number 1, "2" is not 2 (a whole number still is a float).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


def _check_factors(value: dict[str, float]) -> dict[str, float]:
    for key, factor in value.items():
        if not 0 <= factor <= 10:
            raise ValueError(f"factor for '{key}' must be between 0 and 10, not {factor}")
    return value


class Growth(_Strict):
    """Demand multipliers: overall x population x per service x per borough (of the PCN)."""

    overall: float = Field(1.0, ge=0, le=10, description="multiplier on every PCN's demand")
    population: float = Field(
        1.0,
        ge=0,
        le=10,
        description="population growth: multiplies demand and each LSOA's population",
    )
    by_service: dict[str, float] = Field(
        default_factory=dict, description="multiplier per service_id (services.csv)"
    )
    by_borough: dict[str, float] = Field(
        default_factory=dict, description="multiplier per borough of the PCN (pcns.geojson)"
    )

    @field_validator("by_service", "by_borough")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_factors(value)


class Weights(_Strict):
    """Objective weights; every term is in pounds-equivalent per week."""

    travel_gbp_per_hour_km: float = Field(
        6.0, ge=0, description="value of one clinic-hour travelling one km further (GBP)"
    )
    cost: float = Field(1.0, ge=0, description="multiplier on room cost (GBP per room-hour)")
    move_gbp_per_hour: float = Field(
        4.0, ge=0, description="penalty per hour placed in a slot the PCN does not use today"
    )
    unmet_gbp_per_hour: float = Field(
        10_000.0, gt=0, description="penalty per hour of demand left unmet"
    )
    imd_weight: float = Field(
        0.0,
        ge=0,
        le=10,
        description="extra weight on the travel of PCNs by their share of IMD deciles 1-2",
    )
    opening: float = Field(1.0, ge=0, description="multiplier on weekly opening costs")


class Caps(_Strict):
    """Maximum utilisation of a room, by site kind (fraction of capacity)."""

    gp_practice: float = Field(0.85, gt=0, le=1, description="cap in GP practice buildings")
    pcn_hub: float = Field(0.90, gt=0, le=1, description="cap in PCN hubs")
    community: float = Field(0.90, gt=0, le=1, description="cap in community sites")
    acute: float = Field(0.85, gt=0, le=1, description="cap in acute hospitals")

    def for_kind(self, kind: str) -> float:
        """The cap of one site kind."""
        return float(getattr(self, kind))


#: Default [travel.ptal] factors: how much more an LSOA's distance counts in the evening and
#: on Saturday by its PTAL band (0/1a/1b: poor public transport, 4 and above: good).
PTAL_FACTORS: dict[str, float] = {
    "0": 1.5,
    "1a": 1.5,
    "1b": 1.4,
    "2": 1.25,
    "3": 1.1,
    "4": 1.0,
    "5": 1.0,
    "6a": 1.0,
    "6b": 1.0,
}


class PtalTravel(_Strict):
    """Public-transport accessibility: journeys from low-PTAL LSOAs count for more in the
    bands where buses and trains run least (evenings, Saturdays)."""

    enabled: bool = Field(
        False, description="weight travel by the LSOAs' PTAL band (lsoas.geojson ptal)"
    )
    bands: list[Band] = Field(
        default_factory=lambda: list[Band](["evening", "saturday"]),
        description="bands whose travel is weighted",
    )
    factors: dict[str, float] = Field(
        default_factory=lambda: dict(PTAL_FACTORS),
        description="factor per PTAL band (0, 1a, 1b, 2-5, 6a, 6b) on an LSOA's distance; "
        "bands not listed count 1",
    )

    @field_validator("factors")
    @classmethod
    def _factors(cls, value: dict[str, float]) -> dict[str, float]:
        for band, factor in value.items():
            if band not in PTAL_FACTORS:
                raise ValueError(f"unknown PTAL band '{band}' (use {', '.join(PTAL_FACTORS)})")
            if not 1 <= factor <= 5:
                raise ValueError(f"PTAL factor for '{band}' must be between 1 and 5")
        return value


class Travel(_Strict):
    """How travel is measured and how far each service may send patients."""

    circuity: float = Field(
        1.3, ge=1, le=3, description="road distance / straight-line distance factor"
    )
    max_km_by_service: dict[str, float] = Field(
        default_factory=dict,
        description="travel limit (km) per service_id, overriding services.csv max_travel_km",
    )
    matrix: str | None = Field(
        None,
        description="CSV/Parquet travel matrix (origin LSOA or PCN, site_id, [band], km or "
        "minutes), relative to the file that sets it; replaces straight-line travel",
    )
    matrix_unit: Literal["km", "minutes"] = Field(
        "km", description="unit of the matrix's travel column"
    )
    speed_km_per_minute: float = Field(
        0.3, gt=0, description="converts minutes to km-equivalent when the matrix is in minutes"
    )
    weighting: Literal["population", "patients"] = Field(
        "population",
        description="origins of a PCN's travel: its catchment LSOAs by population, or (patients) "
        "the LSOAs its registered patients live in, by number (needs patients.csv)",
    )
    ptal: PtalTravel = PtalTravel()

    @field_validator("max_km_by_service")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for key, km in value.items():
            if not 0 <= km <= 500:
                raise ValueError(f"travel limit for '{key}' must be between 0 and 500 km")
        return value


class Options(_Strict):
    """Modelling modes: whole sessions, opening decisions, move budget."""

    whole_sessions: bool = Field(
        True,
        description="book whole sessions (4 h, evening 1.5 h) and move whole clinics: a MIP; "
        "false gives the LP relaxation (fractions of sessions), for quick what-ifs and as a bound",
    )
    opening_decisions: bool = Field(
        False, description="may open sites in bands listed in opening.csv, at a cost: makes a MIP"
    )
    opening_bands: list[Band] | None = Field(
        None, description="bands the opening decisions may open (default: every band)"
    )
    opening_kinds: list[SiteKind] | None = Field(
        None, description="site kinds the opening decisions may open (default: every kind)"
    )
    move_budget_hours: float | None = Field(
        None, ge=0, description="most hours/week placed in slots the PCN does not use today"
    )


class Contract(_Strict):
    """The PCN contract's enhanced-access rules (Network Contract DES, October 2022)."""

    enhanced_access: bool = Field(
        True,
        description="enforce the enhanced-access minimums per PCN and band (with penalised "
        "shortfall where a PCN cannot meet them)",
    )
    minutes_per_1000_patients: float = Field(
        60.0, ge=0, le=600, description="weekly enhanced access, minutes per 1,000 patients"
    )
    evening_min_hours: float = Field(
        7.5, ge=0, le=168, description="weekday evening band minimum, hours/week per PCN"
    )
    saturday_min_hours: float = Field(
        8.0, ge=0, le=168, description="Saturday band minimum, hours/week per PCN"
    )
    shortfall_gbp_per_hour: float = Field(
        10000.0, ge=0, description="penalty per hour/week a PCN falls short of a minimum"
    )

    def band_minimums(self) -> dict[str, float]:
        """Minimum enhanced-access hours/week per PCN in each band."""
        return {"evening": self.evening_min_hours, "saturday": self.saturday_min_hours}


class Relocation(_Strict):
    """How a whole-session plan relocates clinics: least disruption first, few moves."""

    least_disruption: bool = Field(
        True,
        description="first find the least movement that meets demand, the caps and the "
        "contract, then optimise travel and cost within `tolerance` of it",
    )
    tolerance: float = Field(
        0.10, ge=0, le=10, description="share above the least movement the plan may move"
    )
    excess_gbp_per_hour: float = Field(
        500.0, ge=0, description="penalty per hour/week moved beyond the tolerance"
    )
    gbp_per_relocation: float = Field(
        4000.0,
        ge=0,
        description="fixed disruption cost of each (service, PCN, site, band) slot a plan "
        "starts to use or enlarges, GBP-eq/week",
    )
    candidate_sites: int = Field(
        12,
        ge=1,
        le=1000,
        description="nearest sites with a free session considered per (service, PCN, band), "
        "besides today's sites and the PCN's own hub",
    )
    gbp_per_specialty_site: float = Field(
        1500.0,
        ge=0,
        description="fixed cost of each site an outpatient specialty starts to use, "
        "GBP-eq/week: gathers a specialty's outreach in few sites",
    )
    max_buildings_per_clinic: int | None = Field(
        None,
        ge=1,
        description="most buildings a (service, PCN) clinic uses after the plan: today's "
        "count, or this many if more; none for no limit",
    )
    max_sites_per_specialty_per_borough: int | None = Field(
        None,
        ge=1,
        description="most sites an outpatient specialty may use in one borough (today's "
        "hospital included); none for no limit",
    )
    own_hub_min_sessions: float = Field(
        1.0,
        ge=0,
        description="sessions/week each PCN runs at its own hub (penalised where it cannot)",
    )
    keep_preference_gbp_per_hour: float = Field(
        0.05, ge=0, description="tie-break: value of an hour left in today's slot"
    )
    own_hub_preference_gbp_per_hour: float = Field(
        0.5, ge=0, description="tie-break: value of an hour moved to the PCN's own hub"
    )
    phases: list[int] = Field(
        default_factory=lambda: [10, 25, 50, 100],
        description="relocation counts of the phased plan (the whole plan is the last phase)",
    )

    @field_validator("phases")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if any(n < 1 for n in value) or any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError(
                "phases must be increasing whole numbers of relocations, e.g. [10, 25, 50]"
            )
        return value


class Pin(_Strict):
    """An allocation the plan must keep: at least ``hours_per_week`` in this slot."""

    pcn_code: str = Field(description="PCN code (pcns.geojson)")
    service_id: str = Field(description="service id (services.csv)")
    site_id: str = Field(description="site id (premises or a new site)")
    band: Band = Field(description="time band")
    hours_per_week: float = Field(gt=0, description="minimum hours per week")


#: HiGHS options a scenario may pass through: numerical and algorithmic settings
#: only. Anything that names a file (``solution_file``, ``log_file``,
#: ``write_model_file``, ...) or switches on writing one is refused, so a
#: scenario can never make the solver overwrite inputs or outputs.
ALLOWED_HIGHS_OPTIONS = frozenset(
    {
        "presolve",
        "solver",
        "parallel",
        "run_crossover",
        "random_seed",
        "simplex_strategy",
        "simplex_scale_strategy",
        "simplex_dual_edge_weight_strategy",
        "simplex_primal_edge_weight_strategy",
        "simplex_iteration_limit",
        "ipm_iteration_limit",
        "primal_feasibility_tolerance",
        "dual_feasibility_tolerance",
        "ipm_optimality_tolerance",
        "objective_bound",
        "objective_target",
        "mip_feasibility_tolerance",
        "mip_heuristic_effort",
        "mip_heuristic_run_feasibility_jump",
        "mip_heuristic_run_rens",
        "mip_heuristic_run_rins",
        "mip_heuristic_run_root_reduced_cost",
        "mip_heuristic_run_shifting",
        "mip_heuristic_run_zi_round",
        "mip_detect_symmetry",
        "mip_max_nodes",
        "mip_max_stall_nodes",
        "mip_max_leaves",
        "mip_abs_gap",
        "mip_pool_soft_limit",
        "mip_pscost_minreliable",
        "small_matrix_value",
        "large_matrix_value",
        "infinite_cost",
        "infinite_bound",
    }
)
#: HiGHS options that have a key of their own in ``[solver]``.
HIGHS_OPTIONS_SET_ELSEWHERE = {
    "time_limit": "time_limit_s",
    "mip_rel_gap": "mip_gap",
    "threads": "threads",
}


class Solver(_Strict):
    """Solver choice and limits."""

    name: Literal["highs", "cbc"] = Field("highs", description="solver")
    backend: Literal["pulp", "direct"] = Field(
        "pulp", description="'pulp' builds a PuLP model; 'direct' hands arrays to highspy"
    )
    time_limit_s: float = Field(120.0, gt=0, description="time limit, seconds")
    mip_gap: float = Field(0.01, ge=0, le=1, description="relative MIP gap to stop at")
    threads: int | None = Field(None, ge=1, description="solver threads (default: solver's)")
    decompose: bool = Field(False, description="solve independent PCN-site blocks separately")
    effort: Literal["thorough", "quick"] = Field(
        "thorough",
        description="whole-session plans: 'quick' re-optimises each borough only over the "
        "relocations its LP relaxation or stage 1 uses (about 4x faster, a few % dearer)",
    )
    highs_options: dict[str, float | int | str | bool] = Field(
        default_factory=dict,
        description="extra HiGHS options from an allow-list of options that cannot touch files",
    )

    @field_validator("highs_options")
    @classmethod
    def _allowed_highs_options(
        cls, value: dict[str, float | int | str | bool]
    ) -> dict[str, float | int | str | bool]:
        refused = []
        for key in value:
            if key in HIGHS_OPTIONS_SET_ELSEWHERE:
                refused.append(f"'{key}' (set it with solver.{HIGHS_OPTIONS_SET_ELSEWHERE[key]})")
            elif key not in ALLOWED_HIGHS_OPTIONS:
                close = difflib.get_close_matches(key, sorted(ALLOWED_HIGHS_OPTIONS), n=1)
                refused.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        if refused:
            raise ValueError(
                "HiGHS options not allowed here: " + ", ".join(refused) + ". Only numerical and "
                "algorithmic options may be passed through (options that read or write files or "
                "logs are refused): remove them, or see models/README.md, [solver], for the list"
            )
        return value


class NewSite(_Strict):
    """A building that does not exist today."""

    site_id: str = Field(description="new unique site id")
    name: str = Field(description="display name")
    kind: SiteKind = Field(description="site kind")
    lon: float = Field(ge=-8.7, le=1.9, description="longitude, WGS84 degrees")
    lat: float = Field(ge=49.8, le=60.9, description="latitude, WGS84 degrees")
    pcn_code: str | None = Field(None, description="PCN it belongs to (required for hubs)")
    borough: str | None = Field(None, description="borough (default: the PCN's borough)")
    cost_per_hour_gbp: float = Field(15.0, ge=0, description="room cost, GBP per room-hour")
    rooms: dict[str, int] = Field(description="rooms by room type, e.g. {consulting = 6}")
    bands: list[Band] = Field(
        default_factory=lambda: list[Band](["weekday"]), description="bands the site is open in"
    )
    fixed_fraction: float = Field(
        0.0, ge=0, le=1, description="share of capacity already taken by fixed work"
    )
    building_type: BuildingType | None = Field(
        None,
        description="what the building is, for services' building_types (default: practice for "
        "a gp_practice, acute for acute, health_centre otherwise)",
    )

    @model_validator(mode="after")
    def _check(self) -> NewSite:
        if not self.rooms or not any(n > 0 for n in self.rooms.values()):
            raise ValueError(f"new site '{self.site_id}' has no rooms: give rooms = {{...}}")
        for room, count in self.rooms.items():
            if room not in ROOM_TYPES:
                raise ValueError(f"unknown room type '{room}' (use {', '.join(ROOM_TYPES)})")
            if count < 0:
                raise ValueError(f"room count for '{room}' must be >= 0")
        if self.kind in ("gp_practice", "pcn_hub") and not self.pcn_code:
            raise ValueError(f"new {self.kind} '{self.site_id}' needs a pcn_code")
        return self


class CapacityChange(_Strict):
    """Scale a site's capacity (all rooms, or one room type and/or band)."""

    site_id: str = Field(description="site id")
    room_type: RoomType | None = Field(None, description="only this room type (default: all)")
    band: Band | None = Field(None, description="only this band (default: all)")
    factor: float = Field(1.0, ge=0, le=10, description="multiplier on capacity_hours")


class OpeningChange(_Strict):
    """Open a site in a band it is shut (from opening.csv), or shut it in a band."""

    site_id: str = Field(description="site id")
    band: Band = Field(description="time band")
    open: bool = Field(True, description="true opens the band, false shuts it")


class Buildings(_Strict):
    """Changes to the estate: close, open new, resize, change opening hours."""

    close: list[str] = Field(default_factory=list, description="site ids to close")
    rehouse_max_km: float | None = Field(
        None,
        gt=0,
        le=500,
        description="travel limit for rehoused fixed work (default: the largest pcn_clinic "
        "max_travel_km)",
    )
    new: list[NewSite] = Field(default_factory=list, description="new sites ([[buildings.new]])")
    capacity: list[CapacityChange] = Field(
        default_factory=list, description="capacity changes ([[buildings.capacity]])"
    )
    opening: list[OpeningChange] = Field(
        default_factory=list, description="opening-hour changes ([[buildings.opening]])"
    )

    @field_validator("new")
    @classmethod
    def _distinct_new_ids(cls, value: list[NewSite]) -> list[NewSite]:
        # A field check (not the whole table's), so a repeated id leaves out only
        # buildings.new when the rest is checked against the dataset.
        first: dict[str, int] = {}
        repeated = []
        for i, site in enumerate(value):
            if site.site_id in first:
                repeated.append(
                    f"site_id '{site.site_id}' is used by buildings.new[{first[site.site_id]}] "
                    f"and buildings.new[{i}]"
                )
            first.setdefault(site.site_id, i)
        if repeated:
            raise ValueError(
                "; ".join(repeated) + ": give each new site its own site_id (rename one)"
            )
        return value


class Suitability(_Strict):
    """Which buildings may host which services (services.csv ``building_types``)."""

    relax: list[str] = Field(
        default_factory=list,
        description="service_ids whose building-type rule is off (any building type may host them)",
    )


def _check_shares(value: dict[str, float]) -> dict[str, float]:
    for key, share in value.items():
        if not 0 <= share <= 1:
            raise ValueError(f"movable share for '{key}' must be between 0 and 1")
    return value


class Movable(_Strict):
    """What can move: the share of each service's hours today that may leave its building
    (services.csv ``movable_share`` as shipped); the rest stays there as fixed work."""

    share: dict[str, float] = Field(
        default_factory=dict,
        description="movable share (0-1) per service_id, replacing services.csv movable_share",
    )
    share_by_kind: dict[str, dict[SiteKind, float]] = Field(
        default_factory=dict,
        description="movable share per service_id and kind of building it runs in today "
        "(gp_practice, pcn_hub, community, acute); overrides share there",
    )

    @field_validator("share")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_shares(value)

    @field_validator("share_by_kind")
    @classmethod
    def _kind_shares(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for service, by_kind in value.items():
            _check_shares({f"{service}.{kind}": v for kind, v in by_kind.items()})
        return value

    def share_for(self, service_id: str, kind: str, shipped: float) -> float:
        """The scenario's movable share of ``service_id`` in a building of ``kind``."""
        for given, share in self.share_by_kind.get(service_id, {}).items():
            if given == kind:
                return float(share)
        return float(self.share.get(service_id, shipped))

    @property
    def changed(self) -> bool:
        return bool(self.share or self.share_by_kind)


class Scenario(_Strict):
    """One what-if: dataset, growth, buildings, caps, weights, travel, options, solver."""

    name: str = Field("scenario", description="scenario name (default: the file name)")
    description: str = Field("", description="one line saying what the scenario tests")
    dataset: str = Field("../geodata/nel", description="dataset folder, relative to this file")
    growth: Growth = Growth()
    buildings: Buildings = Buildings()
    caps: Caps = Caps()
    weights: Weights = Weights()
    travel: Travel = Travel()
    options: Options = Options()
    contract: Contract = Contract()
    relocation: Relocation = Relocation()

    suitability: Suitability = Suitability()
    movable: Movable = Movable()
    pinned: list[Pin] = Field(default_factory=list, description="pinned allocations ([[pinned]])")
    solver: Solver = Solver()
    source_file: str | None = Field(None, description="set by load_scenario; not for files")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value) or value in (".", ".."):
            raise ValueError(
                f"'{value}' cannot be a folder name: use letters, digits, '_', '-', '.' "
                "(not starting with '.' or '-', at most 100 characters)"
            )
        return value

    def dataset_path(self) -> Path:
        """The dataset folder, resolved against the scenario file's folder."""
        return self._resolve(self.dataset)

    def matrix_path(self) -> Path | None:
        """The travel matrix file, if any, resolved against the scenario file's folder."""
        if self.travel.matrix is None:
            return None
        return self._resolve(self.travel.matrix)

    def cap(self, kind: str) -> float:
        """The utilisation cap of one site kind."""
        return self.caps.for_kind(kind)

    def _resolve(self, value: str) -> Path:
        path = Path(value)
        if not path.is_absolute() and self.source_file:
            path = Path(os.path.normpath(Path(self.source_file).parent / path))
        return path


#: Keys holding paths that are relative to the file that sets them.
_PATH_KEYS: tuple[tuple[str, ...], ...] = (("dataset",), ("travel", "matrix"))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside an annotation, and whether it is a list of them."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found[0] is not None:
                return found
        return None, False
    if origin is list:
        inner, _ = _model_of(typing.get_args(annotation)[0])
        return inner, True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    return None, False


def unknown_keys(
    data: dict[str, Any], model: type[BaseModel] = Scenario, prefix: str = ""
) -> list[str]:
    """Every key in ``data`` the model does not know, as dotted paths with a suggestion."""
    found: list[str] = []
    fields = model.model_fields
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in fields or key == "source_file":
            close = difflib.get_close_matches(key, [f for f in fields if f != "source_file"], n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            found.append(f"unknown key '{path}'{hint}")
            continue
        sub, is_list = _model_of(fields[key].annotation)
        if sub is None:
            continue
        if is_list and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    found += unknown_keys(item, sub, f"{path}[{i}].")
        elif isinstance(value, dict):
            found += unknown_keys(value, sub, f"{path}.")
    return found


def _get(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    holder: Any = data
    for key in keys:
        holder = holder.get(key) if isinstance(holder, dict) else None
    return holder


def _rebase_paths(data: dict[str, Any], source: Path, target: Path) -> None:
    """Rewrite relative path keys set in ``source``'s folder so they work from ``target``'s."""
    if source.parent.resolve() == target.parent.resolve():
        return
    for keys in _PATH_KEYS:
        value = _get(data, keys)
        if isinstance(value, str) and not Path(value).is_absolute():
            holder = data
            for key in keys[:-1]:
                holder = holder[key]
            holder[keys[-1]] = os.path.relpath(
                (source.parent / value).resolve(), target.parent.resolve()
            )


#: Deepest nesting of tables and arrays a scenario may have (real ones use 3).
MAX_DEPTH = 20


def hostile_values(data: Any) -> list[str]:
    """Keys and text that no scenario needs: nesting deeper than :data:`MAX_DEPTH`, control
    characters (ESC, BEL, NUL, bidi overrides) in a key or a string. Walks without recursion.
    """
    problems: list[str] = []
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            problems.append(
                f"'{where}' is nested more than {MAX_DEPTH} levels deep: remove the nesting "
                "(see models/README.md)"
            )
            return problems
        if isinstance(value, dict):
            items = [(f"{where}.{k}" if where else str(k), v, str(k)) for k, v in value.items()]
        elif isinstance(value, list):
            items = [(f"{where}[{i}]", v, "") for i, v in enumerate(value)]
        else:
            if isinstance(value, str) and control_characters(value):
                problems.append(
                    f"key '{escape_control(where)}' contains control characters "
                    f"({', '.join(control_characters(value))}): remove them"
                )
            continue
        for path, item, key in reversed(items):
            if control_characters(key):
                problems.append(
                    f"key '{escape_control(path)}' has control characters in its name "
                    f"({', '.join(control_characters(key))}): remove them"
                )
                continue
            stack.append((path, item, depth + 1))
    return problems


def _read_toml(
    path: Path, chain: tuple[Path, ...] = (), problems: list[str] | None = None
) -> dict[str, Any]:
    """The merged data of ``path`` and the files it extends.

    Unknown keys (and a malformed ``extends``) are added to ``problems`` as
    '<file>: <what is wrong>', naming the file that sets them, and reading goes
    on, so the values can be checked in the same run and every mistake is
    reported at once. A file that cannot be read at all raises at once.
    """
    if problems is None:
        problems = []
    resolved = path.resolve()
    if resolved in chain:
        loop = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError(
            f"{chain[-1]}: 'extends' makes a loop ({loop}); remove one of the 'extends' keys."
        )
    what = kind_of(path)
    if what is not None:
        where = f"{chain[-1]}: 'extends' names " if chain else ""
        if what == "missing":
            raise ScenarioError(f"{where}{path}: scenario file not found.")
        raise ScenarioError(f"{where}{path}: is {what}; give a scenario .toml file.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            f"{path}: not valid TOML: not UTF-8 text (bad byte at line {line}); save it as UTF-8."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc}).") from exc
    except RecursionError:
        raise ScenarioError(
            f"{path}: not valid TOML for a scenario: arrays or tables nested too deeply to "
            f"read; a scenario needs at most {MAX_DEPTH} levels: remove the nesting."
        ) from None
    hostile = hostile_values(data)
    if hostile:
        raise ScenarioError(f"{path}: " + "; ".join(hostile), [f"{path}: {p}" for p in hostile])
    parent = data.pop("extends", None)
    problems += [f"{path}: {p} (see models/README.md)" for p in unknown_keys(data)]
    if parent is None:
        return data
    if not isinstance(parent, str):
        problems.append(f"{path}: 'extends' must be a file name in quotes.")
        return data
    base_path = path.parent / parent
    base = _read_toml(base_path, (*chain, resolved), problems)
    _rebase_paths(base, base_path, path)
    base.pop("name", None)
    base.pop("description", None)
    return _merge(base, data)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file (following ``extends``) into a :class:`Scenario`.

    Every problem is reported in one :class:`ScenarioError`: unknown keys (in the
    file or a file it extends) together with every bad value and type.
    """
    path = Path(path)
    problems: list[str] = []
    data = _read_toml(path, problems=problems)
    data.setdefault("name", path.stem)
    data["source_file"] = str(path.resolve())
    # Unknown keys are named already (with a suggestion, in the file that sets them).
    scenario, lines = _validated(data, named=problems)
    problems += [f"{path}: {line}" for line in lines]
    if problems or scenario is None:
        error = ScenarioValuesError("; ".join(problems), problems)
        error.file = str(path)
        error.partial = partial_scenario(data)
        raise error
    return scenario


class ScenarioValuesError(ScenarioError):
    """Bad keys or values in a scenario file that could be read.

    ``partial`` is the scenario without the entries at fault (None when what is left
    cannot be trusted, e.g. the ``dataset`` key is wrong), so the rest can still be
    checked against the dataset in the same run
    (:func:`estates_opt.inputs.changes.load_scenario_checked`); ``file`` is the path as given.
    """

    file: str = ""
    partial: PartialScenario | None = None


@dataclass(frozen=True)
class PartialScenario:
    """A scenario without its entries at fault, and where the rest were in the file.

    ``positions`` maps a list key (``pinned``, ``buildings.capacity``) to the index each
    kept entry had in the file, so a problem found later names the entry as written;
    ``new_site_ids`` are the ids of ``[[buildings.new]]`` entries left out (other keys
    may name them without being wrong).
    """

    scenario: Scenario
    positions: dict[str, tuple[int, ...]] = field(default_factory=dict)
    new_site_ids: frozenset[str] = frozenset()

    def index(self, key: str, i: int) -> int:
        """The index in the file of the ``i``-th kept entry of the list ``key``."""
        kept = self.positions.get(key)
        return kept[i] if kept is not None and i < len(kept) else i


#: Keys without which nothing else can be checked against a dataset.
_TRUSTED_KEYS = frozenset({"dataset"})


def _entry(data: Any, loc: tuple[int | str, ...]) -> tuple[Any, int | str] | None:
    """The entry a validation error is about, as (container, key): the list item on its
    path (a whole ``[[pinned]]`` row), else the deepest key present."""
    holder, found = data, None
    for part in loc:
        if isinstance(holder, list) and isinstance(part, int) and 0 <= part < len(holder):
            return holder, part
        if isinstance(holder, dict) and part in holder:
            found = (holder, part)
            holder = holder[part]
            continue
        break
    return found


def partial_scenario(data: dict[str, Any]) -> PartialScenario | None:
    """``data`` validated without the entries that have bad values, unknown keys or types.

    None when the dataset itself is in doubt, or what is left still does not validate.
    """
    data = copy.deepcopy(data)
    lists: dict[int, tuple[str, list[Any], list[int]]] = {}  # id(list) -> key, list, kept
    new = _get(data, ("buildings", "new"))
    new_ids = {
        site["site_id"]
        for site in (new if isinstance(new, list) else [])
        if isinstance(site, dict) and isinstance(site.get("site_id"), str)
    }
    for _ in range(5):  # removing entries can reveal checks that did not run before
        try:
            scenario = Scenario.model_validate(data)
        except ValidationError as exc:
            entries = [_entry(data, tuple(e["loc"])) for e in exc.errors()]
            if any(e is None or (e[0] is data and e[1] in _TRUSTED_KEYS) for e in entries):
                return None
            gone: dict[int, set[int]] = {}
            for container, key in (e for e in entries if e is not None):
                if isinstance(container, list) and isinstance(key, int):
                    gone.setdefault(id(container), set()).add(key)
                    lists.setdefault(id(container), (_list_key(data, container), container, []))
                elif isinstance(container, dict):
                    container.pop(key, None)
            for ident, indices in gone.items():
                _, items, kept = lists[ident]
                if not kept:
                    kept.extend(range(len(items)))
                for i in sorted(indices, reverse=True):
                    del items[i]
                    del kept[i]
            continue
        positions = {name: tuple(kept) for name, _, kept in lists.values() if name}
        left_out = new_ids - {site.site_id for site in scenario.buildings.new}
        return PartialScenario(scenario, positions, frozenset(left_out))
    return None


def _list_key(data: dict[str, Any], target: list[Any]) -> str:
    """The dotted key of a list of tables in ``data`` (``buildings.new``), '' if none."""
    for key, value in data.items():
        if value is target:
            return str(key)
        if isinstance(value, dict):
            for sub, inner in value.items():
                if inner is target:
                    return f"{key}.{sub}"
    return ""


NUMBER_ERRORS = frozenset({"float_type", "int_type", "float_parsing", "int_parsing"})


def _key(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a scenario key: ``pinned[0].band``, ``caps.community``."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def _validated(
    data: dict[str, Any], named: Sequence[str] = ()
) -> tuple[Scenario | None, list[str]]:
    """``data`` as a Scenario, or None and every bad value, type, missing or unknown key.

    An unknown key already reported in one of the ``named`` problems is not repeated.
    """
    try:
        return Scenario.model_validate(data), []
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = _key(error["loc"])
            if error["type"] == "extra_forbidden":
                if not any(f"'{key}'" in problem for problem in named):
                    lines.append(f"unknown key '{key}' (check the spelling; see models/README.md)")
            elif error["type"] == "missing":
                lines.append(f"key '{key}' is required: add it (see models/README.md)")
            elif isinstance(error.get("input"), bool) and error["type"] in NUMBER_ERRORS:
                lines.append(
                    f"key '{key}': {error['input']!r} is a true/false value, not a number: "
                    "give a number"
                )
            else:
                given = error.get("input")
                shown = f" (given {given!r})" if isinstance(given, str | int | float) else ""
                message = error["msg"].removeprefix("Value error, ")
                lines.append(f"key '{key}': {message}{shown[:80]}")
        return None, lines


def scenario_from_dict(data: dict[str, Any], origin: str = "<scenario>") -> Scenario:
    """Validate a dict into a Scenario, with errors naming each bad key and the origin."""
    hostile = hostile_values(data)  # also for dicts not read from TOML (a plan's scenario.json)
    if hostile:
        raise ScenarioError(f"{origin}: " + "; ".join(hostile), [f"{origin}: {p}" for p in hostile])
    scenario, lines = _validated(data)
    if scenario is None:
        raise ScenarioError(
            f"{origin}: " + "; ".join(lines), [f"{origin}: {line}" for line in lines]
        )
    return scenario


__all__ = [
    "BANDS",
    "SITE_KINDS",
    "Buildings",
    "Caps",
    "Growth",
    "Options",
    "Scenario",
    "Solver",
    "Travel",
    "Weights",
    "load_scenario",
    "scenario_from_dict",
    "unknown_keys",
]
