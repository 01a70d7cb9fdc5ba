"""kpis.json as a typed record: each headline number declared once, with its unit and meaning.

:class:`Kpis` is the shape of ``plan.kpis`` (and of ``kpis.json``, which is that record
written out): a ``TypedDict``, so ``plan.kpis["objective"]`` and
``plan.kpis["model"]["mip"]`` read as they always have, and mypy knows each value's type.
:data:`KPI_FIELDS` says, for every top-level key, the unit of its values and what it
means; the README's kpis.json table is :func:`kpi_table_markdown` and the tests check that
every key of a real ``kpis.json`` is declared here.
"""

# No ``from __future__ import annotations``: TypedDict reads ``NotRequired`` from evaluated
# annotations, so the record knows its optional keys at run time (``Kpis.__optional_keys__``).
from typing import NamedTuple, NotRequired, TypedDict


class UtilisationByBand(TypedDict):
    """Hours used over capacity hours by site kind: the weekday band and all bands together."""

    weekday: dict[str, float]
    all_bands: dict[str, float]


class EnhancedAccessShortfall(TypedDict):
    """One PCN's shortfall against the enhanced-access contract in one band (or the total)."""

    pcn_code: str
    band: str
    required_hours: float
    placed_hours: float
    shortfall_hours: float


class EnhancedAccessContract(TypedDict):
    """The contract's enhanced-access rules: PCNs meeting each band, hours per band, shortfalls."""

    enforced: bool
    pcns: int
    pcns_meeting_all: int
    pcns_meeting: dict[str, int]
    hours_by_band_before: dict[str, float]
    #: today's hours in the whole sessions the plan is compared with (moves, hours moved)
    hours_by_band_today_sessions: dict[str, float]
    hours_by_band_after: dict[str, float]
    shortfall: list[EnhancedAccessShortfall]


class CommunityGap(TypedDict):
    """Community utilisation after the plan against the strategy's target."""

    target: float
    after: float
    gap: float
    #: the most any plan of this model could reach: every room it can use filled to its cap
    reachable: NotRequired[float]


class CommunityAim(TypedDict):
    """The scenario's aim for the community estate's weekday use, and how far short the plan is."""

    utilisation: float
    shortfall_hours: float


class OwnHub(TypedDict):
    """Each PCN's sessions at its own hub against ``relocation.own_hub_min_sessions``."""

    min_sessions: float
    pcns_with_a_hub: int
    pcns_meeting: int
    #: PCNs with a hub that run fewer sessions there than the minimum (the model prices it)
    short: list[str]
    #: whether the model holds the minimum (whole-session plans do; the LP relaxation does not)
    modelled: bool


class StrategyGap(TypedDict):
    """How far the plan is from the strategy's targets."""

    community_utilisation: dict[str, CommunityGap]
    free_room_hours_after: dict[str, dict[str, float]]
    #: The same up to each room's cap: what a plan could still place there.
    free_room_hours_below_cap_after: dict[str, dict[str, float]]
    #: headroom below the cap in community rooms no movable service may use, by band and
    #: building type
    community_unusable_room_hours: NotRequired[dict[str, dict[str, float]]]
    #: present when the scenario sets ``strategy.community_weekday_utilisation``
    community_aim: NotRequired[CommunityAim]


class RelocationKpis(TypedDict):
    """Relocations (lines of moves.csv) and movement against the least any plan needs."""

    relocations: int
    relocations_under_one_session: int
    least_relocations: int | None
    relocation_ratio_to_least: float | None
    least_movement_hours: float | None
    movement_ratio_to_least: float | None


class ModelSize(TypedDict):
    """The size of the solved program, as :meth:`LinearProgram.family_counts` counts it."""

    variables: int
    constraints: int
    nonzeros: int
    mip: bool
    families: dict[str, dict[str, int]]


class FirstQuarter(TypedDict, total=False):
    """What the best quarter of the relocations relieves; empty when the plan moves nothing."""

    relocations: int
    over_cap_hours_relieved: float
    over_cap_share_relieved: float
    plan_relief_share: float
    #: All hours above the caps today (today's clinics read in whole sessions).
    over_cap_hours: float
    #: Of them, the hours fixed work alone holds above a cap: no relocation relieves them.
    fixed_over_cap_hours: float
    #: The phase MIP's relative gap: the best quarter relieves at most this much more.
    gap: float


class StoppedAt(TypedDict, total=False):
    """``stopped_at`` alone: the limit the solver stopped at, present only if it stopped early."""

    stopped_at: str


class Kpis(TypedDict):
    """``plan.kpis``, written as kpis.json: the headline numbers of one plan.

    ``stopped_at`` is there only when the solver stopped at a limit; ``first_quarter`` and
    ``verified`` are added once the phased plan and the independent check have run.
    """

    scenario: str
    status: str
    stopped_at: NotRequired[str]
    solver: str
    backend: str
    objective: float | None
    best_bound: float | None
    gap: float | None
    bound_basis: str | None
    objective_terms: dict[str, float]
    utilisation_before: UtilisationByBand
    utilisation_after: UtilisationByBand
    hours_moved: float
    relocations: int
    relocations_under_one_session: int
    least_relocations: int | None
    relocation_ratio_to_least: float | None
    least_movement_hours: float | None
    movement_ratio_to_least: float | None
    travel_weighting: str
    hours_in_new_slots: float
    hours_leaving_today_slots: float
    hours_stopped: float
    hours_stopped_by_category: dict[str, float]
    clinics_stopping_sessions: int
    buildings_used_before: int
    buildings_used_after: int
    buildings_newly_used: int
    sites_opened: list[str]
    travel_km_before: float | None
    travel_km_after: float | None
    travel_km_by_imd_decile: dict[str, dict[str, float]]
    travel_km_by_ptal_band: dict[str, dict[str, float]] | None
    demand_hours_total: float
    unmet_hours_total: float
    unmet_hours_by_category: dict[str, float]
    enhanced_access_met_share_by_pcn: dict[str, float]
    enhanced_access_all_met: bool
    own_hub: OwnHub
    enhanced_access_contract: EnhancedAccessContract
    strategy_gap: StrategyGap
    model: ModelSize
    seconds: dict[str, float]
    diagnostics: list[str]
    first_quarter: NotRequired[FirstQuarter]
    verified: NotRequired[bool]


class KpiField(NamedTuple):
    """The unit of a KPI's values and what the KPI means, for people."""

    unit: str
    meaning: str


#: Every top-level key of kpis.json, in the order it is written. Units are those of the
#: comparison table (``GBP-eq/week``, ``hours/week``, ``km``, ``fraction``, ``count``, ...);
#: ``record`` means a nested record whose units the meaning gives.
KPI_FIELDS: dict[str, KpiField] = {
    "scenario": KpiField("text", "the scenario's name"),
    "status": KpiField(
        "text", "how the solve ended, as the solver said (optimal, improved, feasible_time_limit)"
    ),
    "stopped_at": KpiField("text", "the limit the solver stopped at; only when it stopped early"),
    "solver": KpiField("text", "the solver that ran: highs or cbc"),
    "backend": KpiField("text", "the route to it: pulp or direct"),
    "objective": KpiField("GBP-eq/week", "the plan's objective value (null if not finite)"),
    "best_bound": KpiField("GBP-eq/week", "the solver's bound on the best objective possible"),
    "gap": KpiField("fraction", "relative gap between the objective and the bound"),
    "bound_basis": KpiField(
        "text",
        "where a whole-session plan's bound comes from: 'presolved LP relaxation' (HiGHS: "
        "the relaxation of its presolved model), 'LP relaxation' (CBC), both loose with "
        "fixed relocation costs, or 'branch and bound' (`solver.prove_s`); null: the "
        "solver's own",
    ),
    "objective_terms": KpiField(
        "GBP-eq/week",
        "the objective split into its terms (travel, cost, move, relocation, ...); with whole "
        "sessions the unmet term charges each clinic's unmet demand in whole sessions (so "
        "it can exceed unmet_hours_total x the penalty: NEL growth 2031, 128 h charged for "
        "75 h unmet)",
    ),
    "utilisation_before": KpiField(
        "fraction",
        "today's hours used (fixed + movable) over capacity hours, by site kind, "
        "for the weekday band and all bands, in the rooms the scenario keeps open (a "
        "closed building's are in neither, so a closure's figure differs from the "
        "baseline's: closing Langthorne, community 40.1% -> 40.2%)",
    ),
    "utilisation_after": KpiField(
        "fraction", "the same with the plan: fixed + planned hours over capacity hours"
    ),
    "hours_moved": KpiField("hours/week", "the sum of moves.csv hours_per_week"),
    "relocations": KpiField("count", "relocations: lines of moves.csv"),
    "relocations_under_one_session": KpiField(
        "count", "relocations smaller than one session a week"
    ),
    "least_relocations": KpiField(
        "count",
        "a lower bound on the relocations any plan that meets all demand needs: the fewest "
        "clinics that must move "
        "(`benchmarks/fewest_relocations.py` proves a tighter one)",
    ),
    "relocation_ratio_to_least": KpiField("ratio", "relocations / least_relocations"),
    "least_movement_hours": KpiField(
        "hours/week", "the least hours any plan must add beyond today's sessions (proved)"
    ),
    "movement_ratio_to_least": KpiField(
        "ratio",
        "hours added beyond today's sessions / least_movement_hours "
        "(equals hours_moved / least where no clinic grows)",
    ),
    "travel_weighting": KpiField(
        "text", "where a PCN's journeys start: population (its catchment) or patients"
    ),
    "hours_in_new_slots": KpiField(
        "hours/week",
        "hours placed in a (site, band) slot the PCN does not use today (what the LP "
        "relaxation's move penalty charges; a whole-session plan's charges each session added "
        "beyond today's, which is hours_moved where no clinic grows)",
    ),
    "hours_leaving_today_slots": KpiField(
        "hours/week", "hours that leave the slots they use today (today's hours less the plan's)"
    ),
    "hours_stopped": KpiField(
        "hours/week",
        "hours leaving today's slots that arrive nowhere: clinics booking fewer sessions than "
        "today, their demand or the contract's minimum met with less (not in moves.csv)",
    ),
    "hours_stopped_by_category": KpiField("hours/week", "`hours_stopped` by service category"),
    "clinics_stopping_sessions": KpiField(
        "count", "(service, PCN) clinics that book fewer sessions than today"
    ),
    "buildings_used_before": KpiField(
        "count",
        "buildings with movable work today (a closed building's fixed work is movable: it "
        "must be rehoused)",
    ),
    "buildings_used_after": KpiField("count", "buildings with movable work in the plan"),
    "buildings_newly_used": KpiField("count", "buildings used in the plan and not today"),
    "sites_opened": KpiField("site:band list", "the opening options the plan takes"),
    "travel_km_before": KpiField(
        "km",
        "mean travel today, per person from where the PCN's journeys start (travel_weighting: "
        "its registered patients' home LSOAs, or its catchment's population) to its clinics, "
        "hours-weighted",
    ),
    "travel_km_after": KpiField("km", "the same with the plan"),
    "travel_km_by_imd_decile": KpiField(
        "km",
        "travel before and after by the IMD decile of where the journeys start (1 most deprived)",
    ),
    "travel_km_by_ptal_band": KpiField(
        "km",
        "travel before and after by PTAL band and group, with the people (travel_weighting) of each; "
        "null when the dataset has no PTAL",
    ),
    "demand_hours_total": KpiField("hours/week", "all demand"),
    "unmet_hours_total": KpiField("hours/week", "demand the plan leaves unmet"),
    "unmet_hours_by_category": KpiField("hours/week", "unmet demand by service category"),
    "enhanced_access_met_share_by_pcn": KpiField(
        "fraction", "each PCN's enhanced-access hours met over demanded (may exceed 1)"
    ),
    "enhanced_access_all_met": KpiField("yes/no", "every PCN's enhanced-access demand is met"),
    "own_hub": KpiField(
        "record",
        "each PCN's own hub in use: the sessions/week it must run there "
        "(`relocation.own_hub_min_sessions`), PCNs with a hub and those meeting it (count), "
        "the PCNs short of it (codes), and whether the model holds it (yes/no: whole-session "
        "plans do, the LP relaxation does not)",
    ),
    "enhanced_access_contract": KpiField(
        "record",
        "the contract's rules: whether enforced, PCNs meeting each band (count), "
        "hours by band before (as booked), today in whole sessions (what the plan is compared "
        "with) and after (hours/week), shortfalls (hours/week)",
    ),
    "strategy_gap": KpiField(
        "record",
        "community utilisation after against the target of 1.0, the gap and the most any "
        "plan could reach, every room the model can use filled to its cap (fraction); "
        "free room-hours after, up to full capacity and up to the caps (what a plan could "
        "still place), by kind and band; "
        "headroom below the cap in community rooms no movable service may use, by band and "
        "building type (hours/week); with `[strategy]`, the aim (fraction) and the weekday "
        "room-hours the community falls short of it (hours/week)",
    ),
    "model": KpiField(
        "record",
        "the program's size: variables, constraints, nonzeros (count), mip (yes/no), "
        "variables and constraints per family (count)",
    ),
    "seconds": KpiField("seconds", "wall time of each stage of the run"),
    "diagnostics": KpiField("text list", "what the pre-solve checks found"),
    "first_quarter": KpiField(
        "record",
        "what the best quarter of the relocations relieves: relocations (count), over-cap "
        "hours relieved (hours/week), shares of all over-cap hours (today's clinics read in "
        "whole sessions, as the plan books them) and of the plan's (fraction), all over-cap "
        "hours and those fixed work alone holds above a cap, which no relocation relieves "
        "(hours/week), "
        "and the gap its MIP stopped at (fraction, at most 0.01: the best quarter relieves at "
        "most that much more)",
    ),
    "verified": KpiField("yes/no", "the independent verifier found nothing wrong"),
}


def kpi_table_markdown() -> str:
    """The README's kpis.json table, one row per :data:`KPI_FIELDS` entry."""
    lines = ["| key | unit | meaning |", "|---|---|---|"]
    lines += [f"| `{key}` | {f.unit} | {f.meaning} |" for key, f in KPI_FIELDS.items()]
    return "\n".join(lines) + "\n"
