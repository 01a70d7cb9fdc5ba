"""The ``[buildings]`` table: changes to the estate (close, open new sites, resize,
change opening hours)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from estates_opt.scenario.base import Band, BuildingType, RoomType, SiteKind, Strict
from estates_opt.schema import MAX_GBP_PER_ROOM_HOUR, MAX_ROOMS, ROOM_TYPES


class NewSite(Strict):
    """A building that does not exist today."""

    site_id: str = Field(description="new unique site id")
    name: str = Field(description="display name")
    kind: SiteKind = Field(description="site kind")
    lon: float = Field(ge=-8.7, le=1.9, description="longitude, WGS84 degrees")
    lat: float = Field(ge=49.8, le=60.9, description="latitude, WGS84 degrees")
    pcn_code: str | None = Field(None, description="PCN it belongs to (required for hubs)")
    borough: str | None = Field(None, description="borough (default: the PCN's borough)")
    cost_per_hour_gbp: float = Field(
        15.0, ge=0, le=MAX_GBP_PER_ROOM_HOUR, description="room cost, GBP per room-hour"
    )
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
            if count > MAX_ROOMS:
                raise ValueError(
                    f"room count for '{room}' is {count:,}, more than {MAX_ROOMS:,} rooms of one "
                    "type in one building; give the number of rooms it has"
                )
        if self.kind in ("gp_practice", "pcn_hub") and not self.pcn_code:
            raise ValueError(f"new {self.kind} '{self.site_id}' needs a pcn_code")
        return self


class CapacityChange(Strict):
    """Scale a site's capacity (all rooms, or one room type and/or band)."""

    site_id: str = Field(description="site id")
    room_type: RoomType | None = Field(None, description="only this room type (default: all)")
    band: Band | None = Field(None, description="only this band (default: all)")
    factor: float = Field(1.0, ge=0, le=10, description="multiplier on capacity_hours")


class OpeningChange(Strict):
    """Open a site in a band it is shut (from opening.csv), or shut it in a band."""

    site_id: str = Field(description="site id")
    band: Band = Field(description="time band")
    open: bool = Field(True, description="true opens the band, false shuts it")


class Buildings(Strict):
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
