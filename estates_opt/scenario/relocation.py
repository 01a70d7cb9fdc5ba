"""The ``[options]``, ``[contract]``, ``[relocation]`` tables and ``[[pinned]]`` entries: the
rules a plan moves clinics by (modelling modes, enhanced-access minimums, disruption costs)."""

from __future__ import annotations

from pydantic import Field, field_validator

from estates_opt.scenario.base import (
    MAX_GBP,
    MAX_PLAN_HOURS,
    MAX_ROW_HOURS,
    Band,
    SiteKind,
    Strict,
)


class Options(Strict):
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
        None,
        ge=0,
        le=MAX_PLAN_HOURS,
        description="most hours/week placed in slots the PCN does not use today",
    )


class Contract(Strict):
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
        10000.0,
        ge=0,
        le=MAX_GBP,
        description="penalty per hour/week a PCN falls short of a minimum",
    )

    def band_minimums(self) -> dict[str, float]:
        """Minimum enhanced-access hours/week per PCN in each band."""
        return {"evening": self.evening_min_hours, "saturday": self.saturday_min_hours}


class Relocation(Strict):
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
        500.0, ge=0, le=MAX_GBP, description="penalty per hour/week moved beyond the tolerance"
    )
    gbp_per_relocation: float = Field(
        4000.0,
        ge=0,
        le=MAX_GBP,
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
        le=MAX_GBP,
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
        le=1000,
        description="sessions/week each PCN runs at its own hub (penalised where it cannot)",
    )
    keep_preference_gbp_per_hour: float = Field(
        0.05, ge=0, le=MAX_GBP, description="tie-break: value of an hour left in today's slot"
    )
    own_hub_preference_gbp_per_hour: float = Field(
        0.5,
        ge=0,
        le=MAX_GBP,
        description="tie-break: value of an hour moved to the PCN's own hub",
    )
    phases: list[int] = Field(
        default_factory=lambda: [10, 25, 50, 100, 200, 400],
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


#: The columns that name a pin's slot, in :attr:`Pin.slot`'s order.
PIN_SLOT = ("pcn_code", "service_id", "site_id", "band")


class Pin(Strict):
    """An allocation the plan must keep: at least ``hours_per_week`` in this slot."""

    pcn_code: str = Field(description="PCN code (pcns.geojson)")
    service_id: str = Field(description="service id (services.csv)")
    site_id: str = Field(description="site id (premises or a new site)")
    band: Band = Field(description="time band")
    hours_per_week: float = Field(gt=0, le=MAX_ROW_HOURS, description="minimum hours per week")

    @property
    def slot(self) -> tuple[str, str, str, str]:
        """(PCN, service, site, band): the allocation the pin holds, as :data:`PIN_SLOT`."""
        return (self.pcn_code, self.service_id, self.site_id, self.band)
