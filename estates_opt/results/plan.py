"""The Plan record: a solved, verified allocation and the tables that explain it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.model.result import SolveStatus
from estates_opt.results.kpis import Kpis
from estates_opt.results.verify import verify_plan
from estates_opt.scenario import Scenario
from estates_opt.schema import label_of

#: Output files every written plan contains (besides maps and the workbook).
PLAN_TABLES = (
    "allocations",
    "moves",
    "phases",
    "utilisation",
    "pcn_summary",
    "bottlenecks",
    "unmet",
)


@dataclass(frozen=True)
class Plan:
    """A solved, verified allocation with the tables that explain it."""

    scenario: Scenario
    dataset: Dataset
    status: SolveStatus
    allocations: pd.DataFrame
    moves: pd.DataFrame
    utilisation: pd.DataFrame
    pcn_summary: pd.DataFrame
    bottlenecks: pd.DataFrame
    unmet: pd.DataFrame
    kpis: Kpis
    opened: frozenset[tuple[str, str]] = frozenset()
    #: The phased plan (phases.csv): KPIs after each rung of the relocation ladder.
    phases: pd.DataFrame = field(default_factory=pd.DataFrame)

    def verify(self) -> list[str]:
        """Re-run the independent verifier on this plan's tables; [] means sound."""
        return verify_plan(
            self.dataset,
            self.scenario,
            self.allocations,
            self.unmet,
            self.utilisation,
            self.kpis,
            self.opened,
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """The plan's output tables by name (``PLAN_TABLES``), as the plan folder writes them."""
        return {name: getattr(self, name) for name in PLAN_TABLES}

    def summary(self) -> str:
        """One line for the log: weekday utilisation by kind, hours moved, unmet hours, travel."""
        k = self.kpis
        before = k["utilisation_before"]["weekday"]
        after = k["utilisation_after"]["weekday"]
        util = ", ".join(
            f"{label_of(kind)} {before.get(kind, 0):.0%}->{after.get(kind, 0):.0%}"
            for kind in sorted(after)
        )
        return (
            f"{self.scenario.name}: {self.status}; weekday utilisation {util}; "
            f"{len(self.moves):,} relocations, {k['hours_moved']:,.0f} h/week moved; "
            f"unmet {k['unmet_hours_total']:,.1f} h/week; "
            f"travel {k['travel_km_before']:.2f} -> {k['travel_km_after']:.2f} km"
        )

    def __repr__(self) -> str:
        return (
            f"<Plan '{self.scenario.name}' {self.status}: {len(self.allocations):,} allocations, "
            f"{len(self.moves):,} moves, {self.kpis.get('hours_moved', 0):,.0f} h/week moved>"
        )

    def _repr_html_(self) -> str:
        """A short summary card for notebooks: headline numbers and weekday utilisation by
        kind of building, before and after (the tables stay one attribute away)."""
        from html import escape

        k = self.kpis
        before, after = k["utilisation_before"]["weekday"], k["utilisation_after"]["weekday"]
        kinds = {
            "gp_practice": "GP practices",
            "pcn_hub": "PCN hubs",
            "community": "Community",
            "acute": "Acute hospitals",
        }

        def pct(value: Any) -> str:
            return "&ndash;" if value is None else f"{float(value):.0%}"

        cell = "style='padding:1px 8px;text-align:right'"
        util = "".join(
            f"<tr><td>{escape(kinds.get(kind, kind))}</td><td {cell}>{pct(before.get(kind))}</td>"
            f"<td {cell}>{pct(after.get(kind))}</td>"
            f"<td {cell}>{pct(self.scenario.cap(kind))}</td></tr>"
            for kind in sorted(after)
        )
        facts = [
            (
                "Status",
                escape(str(self.status)) + ("" if k.get("verified", True) else " (not verified)"),
            ),
            ("Hours moved", f"{k['hours_moved']:,.1f} h/week in {len(self.moves):,} moves"),
            ("Unmet demand", f"{k['unmet_hours_total']:,.1f} h/week"),
            ("Mean travel", f"{k['travel_km_before']:.2f} &rarr; {k['travel_km_after']:.2f} km"),
            (
                "Buildings used",
                f"{k['buildings_used_before']:,} &rarr; {k['buildings_used_after']:,}",
            ),
        ]
        rows = "".join(
            f"<tr><th style='text-align:left'>{a}</th><td>{b}</td></tr>" for a, b in facts
        )
        cell = "style='padding:1px 8px;text-align:right'"
        return (
            f"<div><b>Plan {escape(self.scenario.name)}</b>"
            + (
                f" <span>{escape(self.scenario.description)}</span>"
                if self.scenario.description
                else ""
            )
            + f"<table>{rows}</table>"
            f"<table><thead><tr><th>Weekday utilisation</th><th {cell}>before</th>"
            f"<th {cell}>after</th><th {cell}>cap</th></tr></thead><tbody>{util}</tbody></table>"
            "<small>Tables: plan.moves, plan.utilisation, plan.pcn_summary, plan.bottlenecks; "
            "maps: eo.plan_map(plan), eo.hub_map(plan, pcn_code).</small></div>"
        )
