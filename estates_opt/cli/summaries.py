"""Tables printed on the terminal: a dataset, a checked scenario, a solved plan, a comparison."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from estates_opt.cli.terminal import console
from estates_opt.outputs.maps.values import to_num
from estates_opt.schema import label_of

if TYPE_CHECKING:
    from estates_opt.model.program import LinearProgram
    from estates_opt.results.kpis import Kpis
    from estates_opt.results.plan import Plan
    from estates_opt.scenario import Scenario


def _km(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if number != number else f"{number:.2f} km"


def _print_dataset_summary(summary: dict[str, Any]) -> None:
    counts = Table(title="Dataset", show_header=False)
    for kind, n in summary["sites_by_kind"].items():
        counts.add_row(f"sites: {escape(label_of(kind))}", f"{n:,}")
    counts.add_row("PCNs", f"{summary['pcns']:,}")
    counts.add_row("LSOAs", f"{summary['lsoas']:,}")
    counts.add_row("population (LSOAs)", f"{summary['population']:,.0f}")
    counts.add_row("registered patients (pcns.geojson)", f"{summary['registered_patients']:,.0f}")
    counts.add_row("services", f"{summary['services']}")
    counts.add_row("opening options (site x band)", f"{summary['opening_options']:,}")
    located = summary.get("patients_located") or {}
    if located:
        counts.add_row(
            "registered patients located (patients.csv, its own count)",
            f"{located['patients_located']:,.0f} of {located['patients']:,.0f} "
            f"({located['located_share']:.1%}); {located['patients_outside_area']:,.0f} outside",
        )
    for category, hours in sorted(summary["demand_by_category"].items()):
        label = label_of(category)
        counts.add_row(f"demand: {escape(label)}", f"{hours:,.1f} h/week")
    console.print(counts)
    util = Table(title="Capacity and today's utilisation (fixed + baseline) by kind and band")
    # headings that wrap rather than cut (utilisation read "utilisati…" at 80 columns)
    for col in ("kind", "band", "capacity h/wk", "fixed h/wk", "baseline h/wk", "used"):
        util.add_column(
            col, justify="left" if col in ("kind", "band") else "right", overflow="fold"
        )
    for row in summary["utilisation"].itertuples(index=False):
        util.add_row(
            escape(label_of(row.kind)),
            escape(str(row.band)),
            f"{row.capacity_hours:,.0f}",
            f"{row.fixed_hours:,.0f}",
            f"{row.baseline_hours:,.0f}",
            f"{row.utilisation:.1%}",
        )
    console.print(util)


def _print_scenario_summary(path: Path, scenario: Scenario, lp: LinearProgram) -> None:
    """A checked scenario: what it changes, the model it builds and the solver it asks for."""
    variables, constraints, _ = lp.shape
    console.print(
        f"[bold green]{escape(str(path))} is valid[/]: scenario "
        f"[bold]{escape(scenario.name)}[/] on {escape(str(scenario.dataset_path()))}",
        highlight=False,
    )
    b = scenario.buildings
    facts = Table(show_header=False)
    facts.add_row("description", escape(scenario.description or "-"))
    facts.add_row(
        "buildings",
        f"{len(b.close)} closed, {len(b.new)} new, {len(b.capacity)} capacity and "
        f"{len(b.opening)} opening-hour changes",
    )
    g = scenario.growth
    facts.add_row(
        "growth",
        f"overall x{g.overall:g}, population x{g.population:g}, "
        f"{len(g.by_service)} service and {len(g.by_borough)} borough factors",
    )
    o = scenario.options
    facts.add_row(
        "options",
        f"whole sessions {'yes' if o.whole_sessions else 'no'}, opening decisions "
        f"{'yes' if o.opening_decisions else 'no'}, move budget "
        f"{'-' if o.move_budget_hours is None else f'{o.move_budget_hours:g} h/week'}, "
        f"{len(scenario.pinned)} pinned",
    )
    facts.add_row(
        "model",
        f"{'MIP' if lp.is_mip else 'LP'}: {variables:,} variables, {constraints:,} constraints",
    )
    facts.add_row(
        "solver",
        f"{scenario.solver.name} ({scenario.solver.backend}), time limit "
        f"{scenario.solver.time_limit_s:g} s, MIP gap {scenario.solver.mip_gap:g}",
    )
    console.print(facts)
    for note in lp.diagnostics[:10]:
        console.print(f"[yellow]note[/]: {escape(note)}", highlight=False)


def print_plan_summary(plan: Plan, seconds: float) -> None:
    """One screen: utilisation by kind before/after against the cap, then the headline facts."""
    k = plan.kpis
    console.print(_utilisation_table(plan))
    facts = Table(show_header=False)
    _movement_rows(facts, k)
    _access_rows(facts, k)
    _travel_rows(facts, k)
    _solver_rows(facts, k, seconds)
    console.print(facts)
    for note in k.get("diagnostics", [])[:10]:
        console.print(f"[yellow]note[/]: {escape(note)}", highlight=False)


def _utilisation_table(plan: Plan) -> Table:
    """Utilisation by site kind, weekday before and after against the cap, all bands after."""
    k = plan.kpis
    table = Table(title=f"{escape(plan.scenario.name)}: {k['status']}")
    table.add_column("site kind")
    for column in ("weekday before", "weekday after", "cap", "all bands after"):
        table.add_column(column, justify="right")
    before, after = k["utilisation_before"]["weekday"], k["utilisation_after"]["weekday"]
    all_bands = k["utilisation_after"].get("all_bands", {})
    for kind in sorted(after):
        table.add_row(
            escape(label_of(kind)),
            f"{before.get(kind, 0):.1%}",
            f"{after.get(kind, 0):.1%}",
            f"{plan.scenario.cap(kind):.0%}",
            f"{all_bands.get(kind, 0):.1%}",
        )
    return table


def _movement_rows(facts: Table, k: Kpis) -> None:
    """Hours moved, relocations, buildings used, site-bands opened and unmet hours."""
    moved = f"{k['hours_moved']:,.1f}"
    least, ratio = k.get("least_movement_hours"), k.get("movement_ratio_to_least")
    if least and ratio is not None:
        added = ratio * least
        measure = "" if abs(added - k["hours_moved"]) < 0.5 else f"added {added:,.0f}: "
        moved += f" ({measure}{ratio:.2f}x the least, {least:,.0f})"
    facts.add_row("hours moved / week", moved)
    if k.get("hours_stopped", 0.0) > 0.005:  # older plan folders lack it
        kinds = ", ".join(
            f"{label_of(c)} {h:,.1f}" for c, h in sorted(k["hours_stopped_by_category"].items())
        )
        facts.add_row(
            "hours stopped, not moved / week (not in moves.csv)",
            f"{k['hours_stopped']:,.1f} ({k['clinics_stopping_sessions']} clinics book fewer "
            f"sessions than today: {kinds})",
        )
    if k.get("least_relocations") is not None:
        facts.add_row(
            "relocations (moves.csv lines)",
            f"{k['relocations']:,} (any plan placing all demand needs at least "
            f"{k['least_relocations']:,})",
        )
    elif "relocations" in k:  # the LP relaxation: fractions of sessions, no bound
        facts.add_row("relocations (moves.csv lines)", f"{k['relocations']:,}")
    _first_quarter_row(facts, k)
    facts.add_row(
        "buildings used before -> after",
        f"{k['buildings_used_before']} -> {k['buildings_used_after']}",
    )
    if k.get("sites_opened"):
        facts.add_row("site-bands opened", f"{len(k['sites_opened'])}")
    facts.add_row("unmet hours / week", f"{k['unmet_hours_total']:,.1f}")


def first_quarter_words(k: Kpis) -> str | None:
    """What the best quarter of the relocations relieves, in words (None without one)."""
    quarter = k.get("first_quarter") or {}
    if not quarter:
        return None
    words = (
        f"the best {quarter['relocations']:,} (a quarter) relieve "
        f"{quarter['over_cap_hours_relieved']:,.0f} h/week over the caps: "
        f"{quarter['plan_relief_share']:.0%} of what the whole plan relieves"
    )
    if "over_cap_hours" in quarter:  # plan folders written before these figures lack it
        words += (
            f"; {quarter['over_cap_share_relieved']:.0%} of the "
            f"{quarter['over_cap_hours']:,.0f} over the caps today"
        )
        if quarter["fixed_over_cap_hours"] >= 0.5:
            words += (
                f", {quarter['fixed_over_cap_hours']:,.0f} of which are fixed work no "
                "relocation can move"
            )
    return words


def _first_quarter_row(facts: Table, k: Kpis) -> None:
    words = first_quarter_words(k)
    if words:
        facts.add_row("what to do first (phases.csv)", words)


def _access_rows(facts: Table, k: Kpis) -> None:
    """Enhanced access (and its contract), and the gap to the strategy's utilisation target."""
    facts.add_row(
        "enhanced access met for every PCN", "yes" if k["enhanced_access_all_met"] else "no"
    )
    hub = k.get("own_hub")
    if hub and hub["pcns_with_a_hub"]:
        facts.add_row(
            "PCNs running sessions at their own hub",
            f"{hub['pcns_meeting']}/{hub['pcns_with_a_hub']} (at least "
            f"{hub['min_sessions']:g} a week)"
            + (f"; short: {', '.join(hub['short'][:5])}" if hub["short"] else "")
            + ("" if hub.get("modelled", True) else "; not a rule of the LP relaxation"),
        )
    contract = k.get("enhanced_access_contract", {})
    if contract.get("enforced"):
        met, every = contract["pcns_meeting"], contract["pcns"]
        before, after = contract["hours_by_band_before"], contract["hours_by_band_after"]
        facts.add_row(
            "EA contract: PCNs meeting it",
            f"evening {met['evening']}/{every}, Saturday {met['saturday']}/{every}, "
            f"total {met['total']}/{every}",
        )
        # against today in whole sessions, as every change of the plan is (a band whose
        # bookings round up looked like a gain: NEL's Saturdays, +77 h, none changed)
        today = contract.get("hours_by_band_today_sessions", before)
        rounded = any(abs(today[b] - before[b]) > 0.05 for b in ("evening", "saturday"))
        facts.add_row(
            "EA h/week evening, Saturday: today "
            + ("in whole sessions " if rounded else "")
            + "-> after",
            f"{today['evening']:,.1f}, {today['saturday']:,.1f} -> "
            f"{after['evening']:,.1f}, {after['saturday']:,.1f}"
            + (
                f" (booked today: {before['evening']:,.1f}, {before['saturday']:,.1f})"
                if rounded
                else ""
            ),
        )
    gap = k.get("strategy_gap", {}).get("community_utilisation", {}).get("weekday")
    if gap:
        reach = f"; any plan at most {gap['reachable']:.1%}" if "reachable" in gap else ""
        facts.add_row(
            "community utilisation vs strategy's 100% (weekday)",
            f"{gap['after']:.1%} ({gap['gap']:.1%} short{reach})",
        )
    aim = k.get("strategy_gap", {}).get("community_aim")
    if aim:
        short = aim["shortfall_hours"]
        facts.add_row(
            "scenario's community aim (weekday)",
            f"{aim['utilisation']:.0%}: "
            + ("reached" if short < 0.05 else f"{short:,.0f} room-hours/week short"),
        )
    unusable = k.get("strategy_gap", {}).get("community_unusable_room_hours", {}).get("weekday")
    if unusable:
        facts.add_row(
            "community room-hours/week below the cap no movable service may use (weekday)",
            f"{sum(unusable.values()):,.0f} ("
            + ", ".join(
                f"{label_of(kind)} {hours:,.0f}"
                for kind, hours in sorted(unusable.items(), key=lambda item: -item[1])
            )
            + ")",
        )
    free = k.get("strategy_gap", {}).get("free_room_hours_after", {})
    below = k.get("strategy_gap", {}).get("free_room_hours_below_cap_after", {})
    if free and below:  # older plan folders have only the hours to full capacity
        facts.add_row(
            "free room-hours/week left below the caps (to full capacity; weekday)",
            ", ".join(
                f"{label_of(kind)} {below[kind].get('weekday', 0):,.0f} "
                f"({bands.get('weekday', 0):,.0f})"
                for kind, bands in sorted(free.items())
            ),
        )


def _travel_rows(facts: Table, k: Kpis) -> None:
    """Mean travel before and after, overall and by PTAL band."""
    facts.add_row(
        "mean travel before -> after (km)",
        f"{k['travel_km_before']:.2f} -> {k['travel_km_after']:.2f}",
    )
    ptal = k.get("travel_km_by_ptal_band")
    if ptal:
        groups = (
            ("low_ptal_0_1b", "PTAL 0-1b"),
            ("mid_ptal_2_3", "PTAL 2-3"),
            ("high_ptal_4_6b", "PTAL 4-6b"),
        )
        facts.add_row(
            "travel by PTAL before -> after",
            ", ".join(
                f"{label} {_km(ptal['before'].get(key))} -> {_km(ptal['after'].get(key))}"
                for key, label in groups
                if key in ptal["after"]
            ),
        )


def _solver_rows(facts: Table, k: Kpis, seconds: float) -> None:
    """Objective, solver and gap, model size, verification and run time."""
    facts.add_row("objective (£-equivalent/week)", f"{k['objective']:,.0f}")
    solver_gap = k.get("gap")
    facts.add_row(
        "solver / gap",
        f"{k['solver']} ({k['backend']}) / {'-' if solver_gap is None else f'{solver_gap:.1%}'}"
        + (f" (to the {k['bound_basis']} bound)" if k.get("bound_basis") else ""),
    )
    facts.add_row(
        "model",
        f"{'MIP' if k['model'].get('mip') else 'LP'}: {k['model']['variables']:,} variables, "
        f"{k['model']['constraints']:,} constraints",
    )
    facts.add_row("verified", "yes" if k.get("verified") else "NO")
    facts.add_row("time", f"{seconds:.1f} s")


#: Rows of the comparison printed on screen, with short labels (every KPI is in the files).
KEY_ROWS = {
    "status": "status",
    "objective": "objective (£-eq/week)",
    "objective.cost": "room cost (GBP/wk)",
    "gap": "gap to LP bound",
    "unmet_hours": "unmet (h/wk)",
    "hours_moved": "moved (h/wk)",
    "relocations": "relocations",
    "buildings_used_after": "buildings used",
    "site_bands_opened": "site-bands opened",
    "utilisation_after.gp_practice.weekday": "GP practices, weekday",
    "utilisation_after.pcn_hub.weekday": "PCN hubs, weekday",
    "utilisation_after.community.weekday": "community, weekday",
    "utilisation_after.acute.weekday": "acute, weekday",
    "travel_km_after": "travel (km)",
    "travel_km_after.deprived_imd_1_2": "travel IMD 1-2 (km)",
    "travel_km_after.least_deprived_imd_9_10": "travel IMD 9-10 (km)",
}


def _short(value: Any, unit: str) -> str:
    from estates_opt.outputs.comparison.table import format_value

    if isinstance(value, float) and unit == "fraction":
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"
    return format_value(value)


def _print_comparison(table: Any, names: list[str], results: list[dict[str, Any]]) -> None:
    """Key rows, one column per scenario; split into several tables on a narrow terminal."""
    prefix = _common_prefix(names)
    per_table = max(1, (console.width - 26) // 12)
    times = {r["name"]: r.get("seconds", {}).get("total") for r in results}
    for start in range(0, len(names), per_table):
        chunk = names[start : start + per_table]
        view = Table(
            title="Scenario comparison (key rows; every KPI is in comparison.csv)"
            if start == 0
            else None,
            caption=f"scenario names without the common prefix '{prefix}'" if prefix else None,
        )
        view.add_column("after the plan", no_wrap=True)
        for name in chunk:
            view.add_column(escape(name[len(prefix) :]), justify="right", overflow="fold")
        for key, label in KEY_ROWS.items():
            if key in table.index:
                unit = table.at[key, "unit"]
                view.add_row(label, *(escape(_short(table.at[key, n], unit)) for n in chunk))
        view.add_row("time (s)", *(_short(times.get(n), "s") for n in chunk))
        console.print(view)
    gaps = [to_num(table.at["gap", n], 6) for n in names] if "gap" in table.index else []
    widest = max((g for g in gaps if g is not None), default=0.0)
    if widest > 0.001:
        console.print(
            f"note: the plans are within {widest:.0%} of the optimum (their gaps), so a "
            "difference in objective smaller than that is not proved: a scenario that only "
            "adds options can come out a little dearer than the reference.",
            highlight=False,
        )


def _common_prefix(names: list[str]) -> str:
    if len(names) < 2:
        return ""
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    cut = max(prefix.rfind("_"), prefix.rfind("-"))
    return prefix[: cut + 1] if cut >= 0 else ""
