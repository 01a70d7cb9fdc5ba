"""The ``[travel]`` table (and ``[travel.ptal]``): how travel is measured and how far each
service may send patients."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from estates_opt.scenario.base import Band, Strict

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


class PtalTravel(Strict):
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


class Travel(Strict):
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
