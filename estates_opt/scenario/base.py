"""The strict pydantic base of every scenario table, and the literal vocabularies they use.

Every table refuses unknown keys, NaN, infinity and loose types, so a typo or a
``true`` given for a number is an error rather than a silent default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

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

#: Upper bounds on the objective's prices and factors: generous (a thousand times the
#: defaults and more) but finite, so a typo such as 1e300 is a scenario error, not a solver
#: failure or a plan that fails verification (models/README.md lists them).
MAX_GBP = 10_000_000
MAX_FACTOR = 1_000
#: Hours per week of one PCN's service or one pin (as demand.csv's rows), and of a whole plan.
MAX_ROW_HOURS = 100_000
MAX_PLAN_HOURS = 10_000_000


class Strict(BaseModel):
    """A frozen scenario table that refuses unknown keys, NaN, infinity and loose types."""

    # NaN and infinity pass `ge`/`le` checks unevenly (inf >= 0) and poison the LP: refuse both.
    # Strict types: `true` is not the number 1, "2" is not 2 (a whole number still is a float).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)
