"""What the workbook's two label | value sheets list: the Summary and the Assumptions.

The Summary reads a plan's headline numbers (``plan.kpis``) for people; the Assumptions
are every setting of the scenario, flattened to dotted names, and where the data came from.
"""

from __future__ import annotations

from typing import Any

from estates_opt.outputs.workbook.formats import COUNT, HOURS, KM, PERCENT, POUNDS, YES_NO
from estates_opt.schema import label_of


def summary_rows(plan: Any) -> list[tuple[str, Any, str | None]]:
    """(measure, value, number format) rows of the Summary sheet."""
    k = plan.kpis
    scenario = plan.scenario
    rows: list[tuple[str, Any, str | None]] = [
        ("Scenario", scenario.name, None),
        ("Description", scenario.description, None),
        ("Solver status", k["status"], None),
        ("Verified by the independent checker", YES_NO[bool(k.get("verified"))], None),
        ("Objective (£-equivalent per week)", k.get("objective"), POUNDS),
    ]
    for term, value in k.get("objective_terms", {}).items():
        rows.append((f"  of which {term} (£-equivalent per week)", value, POUNDS))
    rows.append(("MIP gap", k.get("gap"), "0.00%"))
    before, after = k["utilisation_before"]["weekday"], k["utilisation_after"]["weekday"]
    for kind in sorted(after):
        label = label_of(kind)
        rows.append((f"Weekday utilisation before: {label}", before.get(kind), PERCENT))
        rows.append((f"Weekday utilisation after: {label}", after.get(kind), PERCENT))
        rows.append((f"Utilisation cap: {label}", scenario.cap(kind), PERCENT))
    rows += [
        ("Hours moved per week", k["hours_moved"], HOURS),
        (
            "Hours stopped, not moved, per week (clinics booking fewer sessions; not in Moves)",
            k.get("hours_stopped"),
            HOURS,
        ),
        ("Relocations (lines of Moves)", k.get("relocations"), COUNT),
        (
            "Relocations any plan needs, at least (clinics that must move)",
            k.get("least_relocations"),
            COUNT,
        ),
        ("Least movement any plan needs (hours per week)", k.get("least_movement_hours"), HOURS),
        (
            "Hours added / least (equals moved / least without growth)",
            k.get("movement_ratio_to_least"),
            "0.00",
        ),
        ("Travel weighted by (population or registered patients)", k.get("travel_weighting"), None),
        ("Buildings used before", k["buildings_used_before"], COUNT),
        ("Buildings used after", k["buildings_used_after"], COUNT),
        ("Demand (hours per week)", k["demand_hours_total"], HOURS),
        ("Unmet demand (hours per week)", k["unmet_hours_total"], HOURS),
    ]
    for category, hours in k["unmet_hours_by_category"].items():
        rows.append((f"  unmet {label_of(category)} (hours per week)", hours, HOURS))
    rows += _first_quarter_rows(k)
    rows.append(
        ("Enhanced access met in every PCN", YES_NO[bool(k["enhanced_access_all_met"])], None)
    )
    rows += _contract_and_strategy_rows(k)
    rows += [
        ("Mean travel before (km)", k.get("travel_km_before"), KM),
        ("Mean travel after (km)", k.get("travel_km_after"), KM),
        ("Sites opened in a band", ", ".join(k.get("sites_opened", [])) or "none", None),
        (
            "Model",
            f"{k['model']['variables']:,} variables, {k['model']['constraints']:,} rows",
            None,
        ),
    ]
    for note in k.get("diagnostics", []):
        rows.append(("Note", note, None))
    return rows


def _contract_and_strategy_rows(k: Any) -> list[tuple[str, Any, str | None]]:
    """The Summary rows of the enhanced-access contract (when enforced) and the strategy gap."""
    rows: list[tuple[str, Any, str | None]] = []
    contract = k.get("enhanced_access_contract", {})
    if contract.get("enforced"):
        for band, label in (("evening", "evening"), ("saturday", "Saturday"), ("total", "total")):
            rows.append(
                (f"PCNs meeting the EA contract: {label}", contract["pcns_meeting"][band], COUNT)
            )
        for band, label in (("evening", "evening"), ("saturday", "Saturday")):
            rows.append(
                (f"EA before: {label} (hours/week)", contract["hours_by_band_before"][band], HOURS)
            )
            today = contract.get("hours_by_band_today_sessions")
            booked = contract["hours_by_band_before"][band]
            if today is not None and abs(today[band] - booked) > 0.05:  # what it is compared with
                rows.append(
                    (f"EA today in whole sessions: {label} (hours/week)", today[band], HOURS)
                )
            rows.append(
                (f"EA after: {label} (hours/week)", contract["hours_by_band_after"][band], HOURS)
            )
    hub = k.get("own_hub")
    if hub:
        rows.append(("PCNs with their own hub", hub["pcns_with_a_hub"], COUNT))
        rows.append(
            (
                f"PCNs running at least {hub['min_sessions']:g} "
                f"session{'' if hub['min_sessions'] == 1 else 's'}/week at their own hub",
                hub["pcns_meeting"],
                COUNT,
            )
        )
    gap = k.get("strategy_gap", {})
    for label, key in (("weekday", "weekday"), ("all bands", "all_bands")):
        frame = gap.get("community_utilisation", {}).get(key)
        if frame:
            rows.append(
                (
                    f"Community utilisation after, {label} (strategy target 100%)",
                    frame["after"],
                    PERCENT,
                )
            )
        if frame and "reachable" in frame:
            rows.append(
                (
                    f"Community utilisation any plan could reach, {label}",
                    frame["reachable"],
                    PERCENT,
                )
            )
    aim = gap.get("community_aim")
    if aim:
        rows.append(("Community aim, weekday (scenario)", aim["utilisation"], PERCENT))
        rows.append(("Community aim: room-hours short, weekday", aim["shortfall_hours"], HOURS))
    for band, kinds in sorted(gap.get("community_unusable_room_hours", {}).items()):
        for kind, hours in sorted(kinds.items()):
            rows.append(
                (
                    f"Community headroom no movable service may use: "
                    f"{label_of(kind)}, {label_of(band)}",
                    hours,
                    HOURS,
                )
            )
    for key, words in (
        ("free_room_hours_below_cap_after", "below the cap"),
        ("free_room_hours_after", "to full capacity"),
    ):
        for kind, bands in sorted(gap.get(key, {}).items()):
            for band, hours in sorted(bands.items()):
                label = f"{label_of(kind)}, {label_of(band)}"
                rows.append((f"Free room-hours left {words}: {label}", hours, HOURS))
    return rows


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        out: list[tuple[str, Any]] = []
        for key, value in data.items():
            out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        out = []
        for i, value in enumerate(data):
            out += _flatten(value, f"{prefix}[{i}]")
        return out
    return [(prefix, data)]


def settings_rows(plan: Any) -> list[tuple[str, Any, str | None]]:
    """(setting, value, no format) rows of the Assumptions sheet: the scenario, then the data."""
    settings = _flatten(plan.scenario.model_dump(mode="json"))
    settings += [
        ("data.source", plan.dataset.source),
        ("data.attribution", plan.dataset.attribution or "(none given with the dataset)"),
    ]
    return [(key, value, None) for key, value in settings]


def _first_quarter_rows(k: Any) -> list[tuple[str, Any, str | None]]:
    """What to do first: the best quarter of the relocations (the Phases sheet has every rung)."""
    quarter = k.get("first_quarter") or {}
    if not quarter:
        return []
    rows: list[tuple[str, Any, str | None]] = [
        ("First quarter: relocations (the best quarter; Phases)", quarter["relocations"], COUNT),
        (
            "First quarter: over-cap hours relieved (per week)",
            quarter["over_cap_hours_relieved"],
            HOURS,
        ),
        ("First quarter: share of the plan's relief", quarter["plan_relief_share"], PERCENT),
        (
            "First quarter: share of today's over-cap hours",
            quarter["over_cap_share_relieved"],
            PERCENT,
        ),
    ]
    if "over_cap_hours" in quarter:
        rows += [
            ("Over-cap hours today (per week)", quarter["over_cap_hours"], HOURS),
            (
                "  of which fixed work, which no relocation can move",
                quarter["fixed_over_cap_hours"],
                HOURS,
            ),
        ]
    return rows
