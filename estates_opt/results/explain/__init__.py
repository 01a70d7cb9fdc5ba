"""Solved model -> the tables a planner reads: allocations, moves, utilisation, KPIs.

Everything here is arithmetic on the solution values and the inputs; the
verifier recomputes the same figures independently. One module per job:

- :mod:`.allocations`: allocation and unmet tables, the openings chosen;
- :mod:`.utilisation`: room use before and after, per site kind, the strategy gap;
- :mod:`.moves` and :mod:`.reasons`: the move legs, moves.csv and its ``why`` words;
- :mod:`.bottlenecks`: binding capacity rows and their prices;
- :mod:`.enhanced_access`: the enhanced-access contract per PCN;
- :mod:`.pcn_summary`: pcn_summary.csv;
- :mod:`.travel`: travel per LSOA, by IMD decile and PTAL band;
- :mod:`.kpi_record`: the kpis.json record.

The names are re-exported here, so ``explain.kpi_dict`` and the like keep working.
"""

from __future__ import annotations

from estates_opt.results.explain.allocations import (
    EPS,
    allocation_table,
    opened_slots,
    today_reference,
    unmet_table,
    with_unmet_reasons,
)
from estates_opt.results.explain.bottlenecks import PRICE_BASIS, bottleneck_table
from estates_opt.results.explain.enhanced_access import (
    CONTRACT_TOL,
    enhanced_access_by_band,
    enhanced_access_kpis,
)
from estates_opt.results.explain.kpi_record import kpi_dict, objective_terms, relocation_kpis
from estates_opt.results.explain.moves import (
    LEG_COLUMNS,
    MOVE_COLUMNS,
    RELOCATION_KEY,
    move_legs,
    moves_table,
    paired_legs,
    relocation_lines,
    with_reasons,
)
from estates_opt.results.explain.pcn_summary import pcn_summary_table, pcn_travel_weighting
from estates_opt.results.explain.reasons import MoveReasons, why_moved
from estates_opt.results.explain.travel import (
    PTAL_GROUPS,
    origin_travel,
    travel_by_imd,
    travel_by_ptal,
)
from estates_opt.results.explain.utilisation import (
    strategy_gap,
    utilisation_by_kind,
    utilisation_table,
)

__all__ = [
    "CONTRACT_TOL",
    "EPS",
    "LEG_COLUMNS",
    "MOVE_COLUMNS",
    "PRICE_BASIS",
    "PTAL_GROUPS",
    "RELOCATION_KEY",
    "MoveReasons",
    "allocation_table",
    "bottleneck_table",
    "enhanced_access_by_band",
    "enhanced_access_kpis",
    "kpi_dict",
    "move_legs",
    "moves_table",
    "objective_terms",
    "opened_slots",
    "origin_travel",
    "paired_legs",
    "pcn_summary_table",
    "pcn_travel_weighting",
    "relocation_kpis",
    "relocation_lines",
    "strategy_gap",
    "today_reference",
    "travel_by_imd",
    "travel_by_ptal",
    "unmet_table",
    "utilisation_by_kind",
    "utilisation_table",
    "why_moved",
    "with_reasons",
    "with_unmet_reasons",
]
