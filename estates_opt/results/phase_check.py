"""The verifier's recount of the phased plan, from the plan's tables, not the phase code.

``phases.csv`` and ``kpis.json`` ``first_quarter`` are checked against ``moves.csv``
(which relocation is made in which phase), ``allocations.csv`` and ``utilisation.csv``:
each rung's relocations and hours moved, relief that only grows and never passes what
the whole plan relieves, shares between 0 and 1 of the over-cap hours today (each
clinic read in whole sessions, as the plan books it), and a last rung that is the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

TOL = 1e-4
ROOM = ["site_id", "room_type", "band"]


def plan_relief(allocations: pd.DataFrame, utilisation: pd.DataFrame) -> tuple[float, float]:
    """(over-cap hours today, hours of it the plan relieves), today's clinics in whole
    sessions: the hours each room holds above its cap, less those it holds after."""
    cap = (utilisation["cap"] * utilisation["capacity_hours"]).to_numpy(float)
    today = utilisation["before_hours"].to_numpy(float).copy()
    if "today_session_hours" in allocations and len(allocations):
        up = allocations["today_session_hours"] - allocations["baseline_hours_per_week"]
        per_room = up.groupby([allocations[c] for c in ROOM]).sum()
        key = pd.MultiIndex.from_frame(utilisation[ROOM])
        today += per_room.reindex(key).fillna(0.0).to_numpy(float)
    over = np.maximum(today - cap, 0.0)
    after = np.maximum(utilisation["after_hours"].to_numpy(float) - cap, 0.0)
    # rooms a scenario closes are not in the table: no capacity, so every hour of today's
    # there is over the cap, and all of them leave
    hours = allocations.get("today_session_hours", allocations["baseline_hours_per_week"])
    rooms = pd.MultiIndex.from_frame(allocations[ROOM])
    listed = rooms.isin(pd.MultiIndex.from_frame(utilisation[ROOM]))
    gone = float(hours[~listed].sum())
    return float(over.sum()) + gone, float((over - after).sum()) + gone


def _check_over_cap_totals(
    quarter: Mapping[str, Any], utilisation: pd.DataFrame, total: float, whole: float
) -> list[str]:
    """The first quarter's over-cap totals: all of today's, and the part fixed work alone
    holds above a cap, which the plan cannot relieve."""
    if "over_cap_hours" not in quarter:  # plan folders written before these figures
        return []
    v = []
    if abs(float(quarter["over_cap_hours"]) - total) > TOL * max(1.0, total):
        v.append(
            f"first_quarter: over_cap_hours {quarter['over_cap_hours']:.2f}, today {total:.2f}"
        )
    cap = (utilisation["cap"] * utilisation["capacity_hours"]).to_numpy(float)
    fixed = float(np.maximum(utilisation["fixed_hours"].to_numpy(float) - cap, 0.0).sum())
    if abs(float(quarter["fixed_over_cap_hours"]) - fixed) > TOL * max(1.0, fixed):
        v.append(
            f"first_quarter: fixed_over_cap_hours {quarter['fixed_over_cap_hours']:.2f}, "
            f"fixed work above the caps {fixed:.2f}"
        )
    if whole > total - fixed + TOL * max(1.0, total):
        v.append("the plan relieves over-cap hours that fixed work alone holds")
    return v


def check_phases(
    allocations: pd.DataFrame,
    utilisation: pd.DataFrame,
    moves: pd.DataFrame,
    phases: pd.DataFrame,
    kpis: Mapping[str, Any],
) -> list[str]:
    """Every way ``phases`` (and ``first_quarter``) disagree with the plan's own tables."""
    if phases.empty:
        return [] if moves.empty else ["phases.csv is empty but the plan has relocations"]
    v: list[str] = []
    phase = moves["phase"].to_numpy(int) if len(moves) else np.zeros(0, int)
    hours = moves["hours_per_week"].to_numpy(float) if len(moves) else np.zeros(0)
    for row in phases.itertuples(index=False):
        done = phase <= row.phase
        if int(row.relocations) != int(done.sum()):
            v.append(
                f"phase {row.phase}: {row.relocations} relocations but moves.csv makes "
                f"{int(done.sum())} by then"
            )
        if int(row.new_relocations) != int((phase == row.phase).sum()):
            v.append(f"phase {row.phase}: new_relocations disagrees with moves.csv phase")
        if abs(float(row.hours_moved) - float(hours[done].sum())) > TOL * max(1.0, hours.sum()):
            v.append(f"phase {row.phase}: hours_moved disagrees with moves.csv")
        for share in ("over_cap_share_relieved", "plan_relief_share"):
            value = float(getattr(row, share))
            if not -TOL <= value <= 1 + TOL:
                v.append(f"phase {row.phase}: {share} {value:.4f} is not a share")
    relief = phases["over_cap_hours_relieved"].to_numpy(float)
    if (np.diff(relief) < -TOL * max(1.0, relief.max())).any():
        v.append("phases.csv: a phase relieves less over-cap time than the one before")
    if len(moves) and (phase < 1).any():
        v.append("moves.csv: a relocation has no phase")
    total, whole = plan_relief(allocations, utilisation)
    last = phases.iloc[-1]
    if len(utilisation) and abs(float(last["over_cap_hours_relieved"]) - whole) > TOL * max(
        1.0, whole
    ):
        v.append(
            f"phases.csv: the last phase relieves {last['over_cap_hours_relieved']:.2f} "
            f"h/week, the plan {whole:.2f}"
        )
    if (relief > max(whole, relief[-1]) + TOL * max(1.0, whole)).any():
        v.append("phases.csv: a phase relieves more over-cap time than the whole plan")
    after = kpis.get("utilisation_after", {}).get("weekday", {})
    for kind in ("community", "gp_practice"):
        column = f"{kind}_weekday_utilisation"
        if kind in after and abs(float(last[column]) - float(after[kind])) > TOL:
            v.append(f"phases.csv: the last phase's {column} is not the plan's")
    quarter = kpis.get("first_quarter") or {}
    if quarter:
        hours_q = float(quarter["over_cap_hours_relieved"])
        if hours_q > whole + TOL * max(1.0, whole):
            v.append("first_quarter relieves more over-cap time than the whole plan")
        if total and abs(float(quarter["over_cap_share_relieved"]) - hours_q / total) > TOL:
            v.append("first_quarter: over_cap_share_relieved is not its hours over today's")
        if whole and abs(float(quarter["plan_relief_share"]) - hours_q / whole) > TOL:
            v.append("first_quarter: plan_relief_share is not its hours over the plan's")
        v += _check_over_cap_totals(quarter, utilisation, total, whole)
    return v
