"""Scenario files (``models/*.toml``) parsed into a frozen, strict pydantic model.

Unknown keys are errors, not silent defaults: a typo such as ``grwoth`` names
the key and the file. ``extends = "other.toml"`` inherits another scenario and
overrides it key by key (tables merge recursively, lists replace).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ScenarioError
from .schema import BANDS, ROOM_TYPES, SITE_KINDS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Growth(_Strict):
    """Demand multipliers: overall x per service x per borough (of the PCN)."""

    overall: float = Field(1.0, ge=0, le=10, description="multiplier on every PCN's demand")
    population: float = Field(
        1.0, ge=0, le=10, description="population growth: scales demand and LSOA population"
    )
    by_service: dict[str, float] = Field(default_factory=dict)
    by_borough: dict[str, float] = Field(default_factory=dict)

    @field_validator("by_service", "by_borough")
    @classmethod
    def _non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        for key, factor in value.items():
            if not 0 <= factor <= 10:
                raise ValueError(f"growth factor for '{key}' must be between 0 and 10")
        return value


class Weights(_Strict):
    """Objective weights; every term is in pounds-equivalent per week."""

    travel_gbp_per_hour_km: float = Field(
        6.0, ge=0, description="value of one clinic-hour travelling one km further"
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
        description="extra weight on travel of deprived populations (IMD deciles 1-2 share)",
    )
    opening: float = Field(1.0, ge=0, description="multiplier on weekly opening costs")


class Caps(_Strict):
    """Maximum utilisation of a room, by site kind (fraction of capacity)."""

    gp_practice: float = Field(0.85, gt=0, le=1)
    pcn_hub: float = Field(0.90, gt=0, le=1)
    community: float = Field(0.90, gt=0, le=1)
    acute: float = Field(0.85, gt=0, le=1)

    def for_kind(self, kind: str) -> float:
        return float(getattr(self, kind))


class Travel(_Strict):
    circuity: float = Field(
        1.3, ge=1, le=3, description="road distance / straight-line distance factor"
    )
    max_km_by_service: dict[str, float] = Field(default_factory=dict)
    matrix: str | None = Field(
        None, description="CSV/Parquet travel matrix (origin LSOA or PCN, site, [band], km or min)"
    )
    matrix_unit: Literal["km", "minutes"] = "km"
    speed_km_per_minute: float = Field(
        0.3, gt=0, description="converts minutes to km-equivalent when the matrix is in minutes"
    )


class Options(_Strict):
    whole_sessions: bool = False
    opening_decisions: bool = False
    move_budget_hours: float | None = Field(None, ge=0)


class Pin(_Strict):
    pcn_code: str
    service_id: str
    site_id: str
    band: str
    hours_per_week: float = Field(gt=0)

    @field_validator("band")
    @classmethod
    def _band(cls, value: str) -> str:
        if value not in BANDS:
            raise ValueError(f"band must be one of {', '.join(BANDS)}")
        return value


class Solver(_Strict):
    name: Literal["highs", "cbc"] = "highs"
    backend: Literal["pulp", "direct"] = Field(
        "pulp", description="'pulp' builds a PuLP model; 'direct' hands arrays to highspy"
    )
    time_limit_s: float = Field(120.0, gt=0)
    mip_gap: float = Field(0.01, ge=0, le=1)
    threads: int | None = Field(None, ge=1)
    decompose: bool = Field(False, description="solve independent PCN-site blocks separately")
    highs_options: dict[str, float | int | str | bool] = Field(default_factory=dict)


class NewSite(_Strict):
    site_id: str
    name: str
    kind: Literal["gp_practice", "pcn_hub", "community", "acute"]
    lon: float = Field(ge=-8.7, le=1.9)
    lat: float = Field(ge=49.8, le=60.9)
    pcn_code: str | None = None
    borough: str | None = None
    cost_per_hour_gbp: float = Field(15.0, ge=0)
    rooms: dict[str, int] = Field(description="rooms by room type")
    bands: list[str] = Field(default_factory=lambda: ["weekday"])
    fixed_fraction: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _check(self) -> NewSite:
        if not self.rooms or not any(n > 0 for n in self.rooms.values()):
            raise ValueError(f"new site '{self.site_id}' has no rooms: give rooms = {{...}}")
        for room, count in self.rooms.items():
            if room not in ROOM_TYPES:
                raise ValueError(f"unknown room type '{room}' (use {', '.join(ROOM_TYPES)})")
            if count < 0:
                raise ValueError(f"room count for '{room}' must be >= 0")
        for band in self.bands:
            if band not in BANDS:
                raise ValueError(f"unknown band '{band}' (use {', '.join(BANDS)})")
        if self.kind in ("gp_practice", "pcn_hub") and not self.pcn_code:
            raise ValueError(f"new {self.kind} '{self.site_id}' needs a pcn_code")
        return self


class CapacityChange(_Strict):
    site_id: str
    room_type: str | None = None
    band: str | None = None
    factor: float = Field(1.0, ge=0, le=10, description="multiplier on capacity_hours")


class OpeningChange(_Strict):
    site_id: str
    band: str
    open: bool = True

    @field_validator("band")
    @classmethod
    def _band(cls, value: str) -> str:
        if value not in BANDS:
            raise ValueError(f"band must be one of {', '.join(BANDS)}")
        return value


class Buildings(_Strict):
    close: list[str] = Field(default_factory=list)
    new: list[NewSite] = Field(default_factory=list)
    capacity: list[CapacityChange] = Field(default_factory=list)
    opening: list[OpeningChange] = Field(default_factory=list)


class Scenario(_Strict):
    """One what-if: dataset, growth, buildings, caps, weights, travel, options, solver."""

    name: str = "scenario"
    description: str = ""
    dataset: str = Field("../geodata/nel", description="dataset folder, relative to this file")
    growth: Growth = Growth()
    buildings: Buildings = Buildings()
    caps: Caps = Caps()
    weights: Weights = Weights()
    travel: Travel = Travel()
    options: Options = Options()
    pinned: list[Pin] = Field(default_factory=list)
    solver: Solver = Solver()
    source_file: str | None = Field(None, description="set by load_scenario; not for files")

    def dataset_path(self) -> Path:
        """The dataset folder, resolved against the scenario file's folder."""
        path = Path(self.dataset)
        if not path.is_absolute() and self.source_file:
            path = Path(self.source_file).parent / path
        return path

    def matrix_path(self) -> Path | None:
        if self.travel.matrix is None:
            return None
        path = Path(self.travel.matrix)
        if not path.is_absolute() and self.source_file:
            path = Path(self.source_file).parent / path
        return path

    def cap(self, kind: str) -> float:
        return self.caps.for_kind(kind)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_toml(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in chain:
        loop = " -> ".join(p.name for p in (*chain, resolved))
        raise ScenarioError(f"{path}: 'extends' makes a loop ({loop}).")
    if not path.is_file():
        raise ScenarioError(f"{path}: scenario file not found.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc}).") from exc
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: 'extends' must be a file name in quotes.")
    base = _read_toml(path.parent / parent, (*chain, resolved))
    base.pop("name", None)
    base.pop("description", None)
    return _merge(base, data)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario TOML file (following ``extends``) into a :class:`Scenario`."""
    path = Path(path)
    data = _read_toml(path)
    data.setdefault("name", path.stem)
    data["source_file"] = str(path)
    return scenario_from_dict(data, str(path))


def scenario_from_dict(data: dict[str, Any], origin: str = "<scenario>") -> Scenario:
    """Validate a dict into a Scenario, with errors naming each bad key."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            key = ".".join(str(p) for p in error["loc"]) or "(top level)"
            if error["type"] == "extra_forbidden":
                lines.append(f"unknown key '{key}' (check the spelling; see models/README.md)")
            else:
                lines.append(f"key '{key}': {error['msg']}")
        raise ScenarioError(f"{origin}: " + "; ".join(lines)) from None


__all__ = ["SITE_KINDS", "Scenario", "load_scenario", "scenario_from_dict"]
