"""The ``[growth]``, ``[weights]`` and ``[caps]`` tables: demand multipliers, objective
weights and utilisation caps, each a plain set of numbers with bounds."""

from __future__ import annotations

from pydantic import Field, field_validator

from estates_opt.scenario.base import MAX_FACTOR, MAX_GBP, Strict


def _check_factors(value: dict[str, float]) -> dict[str, float]:
    for key, factor in value.items():
        if not 0 <= factor <= 10:
            raise ValueError(f"factor for '{key}' must be between 0 and 10, not {factor}")
    return value


class Growth(Strict):
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


class Weights(Strict):
    """Objective weights; every term is in pounds-equivalent per week."""

    travel_gbp_per_hour_km: float = Field(
        6.0,
        ge=0,
        le=MAX_GBP,
        description="value of one clinic-hour travelling one km further (GBP)",
    )
    cost: float = Field(
        1.0, ge=0, le=MAX_FACTOR, description="multiplier on room cost (GBP per room-hour)"
    )
    move_gbp_per_hour: float = Field(
        4.0,
        ge=0,
        le=MAX_GBP,
        description="penalty per hour placed in a slot the PCN does not use today",
    )
    unmet_gbp_per_hour: float = Field(
        10_000.0, gt=0, le=MAX_GBP, description="penalty per hour of demand left unmet"
    )
    imd_weight: float = Field(
        0.0,
        ge=0,
        le=10,
        description="extra weight on the travel of PCNs by their share of IMD deciles 1-2",
    )
    opening: float = Field(
        1.0, ge=0, le=MAX_FACTOR, description="multiplier on weekly opening costs"
    )


class Caps(Strict):
    """Maximum utilisation of a room, by site kind (fraction of capacity)."""

    gp_practice: float = Field(0.85, gt=0, le=1, description="cap in GP practice buildings")
    pcn_hub: float = Field(0.90, gt=0, le=1, description="cap in PCN hubs")
    community: float = Field(0.90, gt=0, le=1, description="cap in community sites")
    acute: float = Field(0.85, gt=0, le=1, description="cap in acute hospitals")

    def for_kind(self, kind: str) -> float:
        """The cap of one site kind."""
        return float(getattr(self, kind))


class Strategy(Strict):
    """An aim for the community estate's use (the NEL strategy's target is full use)."""

    community_weekday_utilisation: float | None = Field(
        None,
        gt=0,
        le=1,
        description="aim: community rooms open today used at least this share of their "
        "weekday capacity (fixed work included); the plan moves work in to reach it, "
        "penalised where it cannot; none: no aim",
    )
    shortfall_gbp_per_hour: float = Field(
        200.0,
        ge=0,
        le=MAX_GBP,
        description="penalty per room-hour/week the community falls short of the aim",
    )
