"""The words of ``estates-opt explain``: what a plan changed, for a PCN, a building or all.

Also finds the PCN or site a user means from a code or a name (with did-you-mean hints).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from estates_opt.cli.exits import EXIT_BAD_INPUT
from estates_opt.cli.summaries import _km, first_quarter_words
from estates_opt.cli.terminal import err
from estates_opt.schema import label_of

if TYPE_CHECKING:
    from estates_opt.results.plan import Plan


def _plain(text: str) -> str:
    """A name as typed: lower case, single spaces, '&' as 'and', without apostrophes, full
    stops or a trailing 'PCN' ("queens hospital" finds "Queen's Hospital")."""
    text = re.sub(r"['\u2019.]", "", str(text).replace("&", " and "))
    words = " ".join(re.sub(r"[,;:()/-]", " ", text).lower().split())
    return words[:-4] if words.endswith(" pcn") else words


def _lookup(kind: str, value: str, names: dict[str, str]) -> str:
    """The code a user means by ``value``: a code (any case) or a name (or a unique part of one).

    ``names`` maps each code to its display name. Raises the bad-input exit with
    did-you-mean suggestions (names with their codes) when nothing or several match.
    """
    import difflib

    if value in names:
        return value
    by_code = {c.lower(): c for c in names}
    if value.lower() in by_code:
        return by_code[value.lower()]
    wanted = _plain(value)
    exact = sorted(c for c, n in names.items() if _plain(n) == wanted)
    partial = sorted(c for c, n in names.items() if wanted and wanted in _plain(n))
    found = exact or partial
    if len(found) == 1:
        return found[0]
    label = {c: f"{n} ({c})" if n else c for c, n in names.items()}
    if found:
        listed = ", ".join(label[c] for c in found[:6]) + (", ..." if len(found) > 6 else "")
        err.print(
            f"[bold red]Input error[/]: '{escape(value)}' matches {len(found)} {kind}s: "
            f"{escape(listed)}. Give the code.",
            highlight=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    plain = {_plain(n): c for c, n in names.items() if n}
    close = difflib.get_close_matches(wanted, list(plain), n=3, cutoff=0.6)
    codes = difflib.get_close_matches(value, list(names), n=3)
    hints = [label[plain[p]] for p in close] + [label[c] for c in codes]
    raise _unknown(kind, value, [], hints=list(dict.fromkeys(hints))[:3])


def _unknown(kind: str, value: str, known: list[str], hints: list[str] | None = None) -> typer.Exit:
    import difflib

    close = hints if hints is not None else difflib.get_close_matches(value, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    err.print(
        f"[bold red]Input error[/]: no {kind} '{escape(value)}' in this plan (give its code or "
        f"name).{escape(hint)}",
        highlight=False,
    )
    return typer.Exit(EXIT_BAD_INPUT)


def _pcn_names(plan: Plan) -> dict[str, str]:
    """PCN code -> name, for naming PCNs in words as well as by code."""
    summary = plan.pcn_summary
    return {str(c): str(n) for c, n in zip(summary["pcn_code"], summary["pcn_name"], strict=True)}


def _move_line(row: Any, pcns: dict[str, str] | None = None) -> str:
    band = row.from_band if row.from_band == row.to_band else f"{row.from_band} -> {row.to_band}"
    phase = getattr(row, "phase", 0)
    if phase and phase == phase:  # plan folders written before the phased plan lack it
        band += f", phase {int(phase)}"
    name = (pcns or {}).get(str(row.pcn_code))
    pcn = f"{name} ({row.pcn_code})" if name else str(row.pcn_code)
    return (
        f"  - {row.hours_per_week:.1f} h/week ({row.sessions_per_week:.1f} sessions) of "
        f"{row.service} for {pcn}, {band}: {row.from_site} ({row.from_site_id}) -> "
        f"{row.to_site} ({row.to_site_id}); travel {_km(row.from_travel_km)} -> "
        f"{_km(row.to_travel_km)}. Why: {row.why}."
    )


def _bottleneck_lines(bottlenecks: Any, top: int) -> list[str]:
    if not len(bottlenecks):
        return ["  none: no room constraint binds (one more room-hour would save nothing)."]
    lines = []
    for row in bottlenecks.head(top).itertuples(index=False):
        head = (
            f"  - {row.name} ({row.site_id}), {row.room_type} rooms, {row.band}: "
            f"{row.after_utilisation:.0%} used (cap {row.cap:.0%}); "
        )
        before = float(getattr(row, "room_hours_before_saving", 0.0) or 0.0)
        if before > 0:
            lines.append(
                head + "fixed work alone is over the cap, so one more room-hour a week saves "
                f"£0.00; {before:,.1f} room-hours must be added before a saving starts."
            )
        else:
            lines.append(
                head + "one more room-hour a week would save "
                f"£{row.shadow_price_gbp_per_room_hour:,.2f} a week."
            )
    return lines + _and_more(len(bottlenecks), top, "bottlenecks.csv")


def _explain_plan(plan: Plan, top: int) -> list[str]:
    k = plan.kpis
    lines = [plan.summary(), "", "Weekday utilisation by site kind (before -> after, cap):"]
    before, after = k["utilisation_before"]["weekday"], k["utilisation_after"]["weekday"]
    for kind in sorted(after):
        lines.append(
            f"  - {label_of(kind)}: {before.get(kind, 0):.0%} -> {after.get(kind, 0):.0%} "
            f"(cap {plan.scenario.cap(kind):.0%})"
        )
    lines += _fixed_over_cap_lines(plan)
    if k.get("sites_opened"):
        lines += ["", "Opened in a band they are normally shut (site:band):"]
        lines.append("  " + ", ".join(k["sites_opened"]))
    moves = plan.moves.sort_values("hours_per_week", ascending=False, kind="stable")
    lines += ["", f"{len(plan.moves):,} relocations; the largest:"]
    lines += [_move_line(r, _pcn_names(plan)) for r in moves.head(top).itertuples(index=False)]
    lines += _phase_lines(plan)
    lines += [
        "",
        "Bottleneck rooms (at their cap, or less than one session free below it; by what one "
        "more room-hour would save):",
    ]
    lines += _bottleneck_lines(plan.bottlenecks, top)
    lines += ["", "Use --pcn CODE or --site ID for one PCN or building."]
    return lines


def _fixed_over_cap_lines(plan: Plan) -> list[str]:
    """Why a kind stays over its cap after the plan: rooms whose fixed work alone is over."""
    u = plan.utilisation
    if u.empty or "fixed_hours" not in u:
        return []
    weekday = u[u["band"] == "weekday"]
    above = weekday["fixed_hours"] - weekday["cap"] * weekday["capacity_hours"]
    over = weekday.assign(above=above)[above > 1e-6]
    lines = []
    for kind, rooms in over.groupby("kind", sort=True):
        lines.append(
            f"  {label_of(kind)}: {len(rooms):,} rooms' fixed work alone is over the cap "
            f"({rooms['above'].sum():,.0f} h/week above it, which no relocation can move); "
            "they take no movable work."
        )
    return lines


def _phase_lines(plan: Plan) -> list[str]:
    """The phased plan: what each rung of relocations relieves, and the best first quarter."""
    if plan.phases.empty:
        return []
    lines = [
        "",
        "What to do first (each phase keeps the relocations of the one before; moves.csv "
        "column phase, phases.csv):",
    ]
    for row in plan.phases.itertuples(index=False):
        made = (
            f"{int(row.relocations):,} relocations"
            if int(row.relocations) == int(row.new_relocations)
            else f"{int(row.new_relocations):,} more, {int(row.relocations):,} in all,"
        )
        lines.append(
            f"  - phase {int(row.phase)}: {made} relieve {row.over_cap_hours_relieved:,.0f} "
            f"h/week over the caps ({row.plan_relief_share:.0%} of the whole plan's relief); "
            f"community weekday {row.community_weekday_utilisation:.0%}, GP practices "
            f"{row.gp_practice_weekday_utilisation:.0%}."
        )
    quarter = first_quarter_words(plan.kpis)
    if quarter:
        lines.append(f"  Of all {len(plan.moves):,} relocations, {quarter}.")
    return lines


def _explain_pcn(plan: Plan, code: str, top: int) -> list[str]:
    summary = plan.pcn_summary
    code = _lookup(
        "PCN",
        code,
        {str(c): str(n) for c, n in zip(summary["pcn_code"], summary["pcn_name"], strict=True)},
    )
    row = summary[summary["pcn_code"] == code].iloc[0]
    lines = [
        f"PCN {code} {row['pcn_name']} ({row['borough']}): population {row['population']:,.0f}, "
        f"{row['registered_patients']:,.0f} registered patients.",
        f"Demand {row['demand_hours']:,.1f} h/week: {row['met_hours']:,.1f} booked"
        + (" (whole sessions round up)" if row["met_hours"] > row["demand_hours"] + 0.05 else "")
        + f", {row['unmet_hours']:,.1f} unmet. Hours moved: {row['hours_moved']:,.1f} h/week.",
        f"Mean travel (hours-weighted): {_km(row['travel_before_km'])} before -> "
        f"{_km(row['travel_after_km'])} after.",
        f"Enhanced access: {row['enhanced_access_met_hours']:,.1f} h/week booked against "
        f"{row['enhanced_access_demand_hours']:,.1f} due.",
    ]
    unmet = plan.unmet[(plan.unmet["pcn_code"] == code) & (plan.unmet["unmet_hours"] > 1e-6)]
    for r in unmet.itertuples(index=False):
        lines.append(f"  Unmet: {r.service_id} {r.unmet_hours:.1f} of {r.demand_hours:.1f} h/week.")
    moves = plan.moves[plan.moves["pcn_code"] == code].sort_values(
        "hours_per_week", ascending=False, kind="stable"
    )
    lines += ["", f"{len(moves):,} relocations for this PCN; the largest:"]
    lines += [_move_line(r) for r in moves.head(top).itertuples(index=False)]
    lines += _and_more(len(moves), top, "moves.csv")
    alloc = plan.allocations[plan.allocations["pcn_code"] == code]
    used = alloc.groupby(["site_id", "room_type", "band"], as_index=False)[
        ["baseline_hours_per_week", "hours_per_week"]
    ].sum()
    util = used.merge(plan.utilisation, on=["site_id", "room_type", "band"], how="left")
    util = util.sort_values("hours_per_week", ascending=False, kind="stable")
    lines += [
        "",
        "Rooms this PCN uses (its hours before -> after; room utilisation before -> after):",
    ]
    for r in util.head(top).itertuples(index=False):
        name = r.name if isinstance(r.name, str) else "(closed)"
        ub = "-" if r.before_utilisation != r.before_utilisation else f"{r.before_utilisation:.0%}"
        ua = "-" if r.after_utilisation != r.after_utilisation else f"{r.after_utilisation:.0%}"
        lines.append(
            f"  - {name} ({r.site_id}) {r.room_type}, {r.band}: {r.baseline_hours_per_week:.1f} -> "
            f"{r.hours_per_week:.1f} h/week; room {ub} -> {ua}"
        )
    slots = set(zip(util["site_id"], util["room_type"], util["band"], strict=True))
    b = plan.bottlenecks
    mine = b[[s in slots for s in zip(b["site_id"], b["room_type"], b["band"], strict=True)]]
    lines += ["", "Bottlenecks among the rooms this PCN uses (today or in the plan):"]
    lines += _bottleneck_lines(mine, top)
    return lines


def _explain_site(plan: Plan, site_id: str, top: int) -> list[str]:
    premises = plan.dataset.premises.set_index("site_id")
    moves = plan.moves
    names = {str(s): str(n) for s, n in zip(moves["from_site_id"], moves["from_site"], strict=True)}
    names |= {str(s): "" for s in plan.utilisation["site_id"].unique()}
    names |= {str(s): str(n) for s, n in premises["name"].items()}
    names |= {str(s): "" for s in plan.scenario.buildings.close if str(s) not in names}
    site_id = _lookup("site", site_id, names)
    util = plan.utilisation[plan.utilisation["site_id"] == site_id]
    lines = []
    if site_id in premises.index:
        p = premises.loc[site_id]
        new = site_id in {n.site_id for n in plan.scenario.buildings.new}
        lines.append(
            f"Site {site_id} {p['name']} ({p['kind']}, {p.get('borough') or 'no borough'})"
            + (" - a new building in this scenario." if new else ".")
        )
    else:
        today = plan.dataset.baseline
        hours = float(today.loc[today["site_id"] == site_id, "hours_per_week"].sum())
        lines.append(
            f"Site {site_id} is closed in this scenario: its rooms are not available to the "
            f"plan, and the {hours:,.1f} h/week of movable sessions it hosts today must move."
        )
    if len(util):
        lines += ["", "Rooms (capacity, fixed use; hours and utilisation before -> after; cap):"]
        for r in util.itertuples(index=False):
            lines.append(
                f"  - {r.room_type}, {r.band}: {r.capacity_hours:.0f} room-h/week, fixed "
                f"{r.fixed_hours:.1f}; {r.before_hours:.1f} -> {r.after_hours:.1f} h "
                f"({r.before_utilisation:.0%} -> {r.after_utilisation:.0%}, cap {r.cap:.0%})"
            )
    leaving = moves[moves["from_site_id"] == site_id].sort_values(
        "hours_per_week", ascending=False, kind="stable"
    )
    arriving = moves[moves["to_site_id"] == site_id].sort_values(
        "hours_per_week", ascending=False, kind="stable"
    )
    lines += [
        "",
        f"Sessions leaving: {leaving['hours_per_week'].sum():,.1f} h/week in {len(leaving)} relocations"
        + ("; the largest:" if len(leaving) else "."),
    ]
    lines += [_move_line(r, _pcn_names(plan)) for r in leaving.head(top).itertuples(index=False)]
    lines += [
        "",
        f"Sessions arriving: {arriving['hours_per_week'].sum():,.1f} h/week in "
        f"{len(arriving)} relocations" + ("; the largest:" if len(arriving) else "."),
    ]
    lines += [_move_line(r, _pcn_names(plan)) for r in arriving.head(top).itertuples(index=False)]
    served = (
        plan.allocations[plan.allocations["site_id"] == site_id]
        .groupby("pcn_code")[["baseline_hours_per_week", "hours_per_week"]]
        .sum()
        .sort_values("hours_per_week", ascending=False, kind="stable")
    )
    if len(served):
        lines += ["", "PCNs served (hours/week before -> after):"]
        pcns = _pcn_names(plan)
        for code, r in served.head(top).iterrows():
            name = f"{pcns[str(code)]} ({code})" if str(code) in pcns else str(code)
            lines.append(
                f"  - {name}: {r['baseline_hours_per_week']:.1f} -> {r['hours_per_week']:.1f}"
            )
        lines += _and_more(len(served), top, "allocations.csv")
    lines += ["", "Bottleneck rooms at this site:"]
    lines += _bottleneck_lines(plan.bottlenecks[plan.bottlenecks["site_id"] == site_id], top)
    return lines


def _and_more(total: int, top: int, table: str) -> list[str]:
    """The line saying a list was cut at ``top`` of ``total`` entries, and where the rest are."""
    return [f"  ... and {total - top:,} more (see {table})."] if total > top else []
