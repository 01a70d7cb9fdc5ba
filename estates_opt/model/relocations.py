r"""Whole-clinic relocations: the parts of the whole-session model that make a plan actionable.

With ``options.whole_sessions`` (the default) every allocation is a whole number of
sessions and a change is a *relocation*: a (service, PCN) clinic starting, or
growing, in a (site, band) slot. This module holds the pieces the builder adds for
that (formulation items (8)-(11) of :mod:`estates_opt.model.build`):

* :func:`today_in_sessions`: today's allocation read in whole sessions, so that a
  clinic left where it is counts as no move at all;
* :func:`plausible_candidates`: the slots a clinic may move to (today's, the PCN's
  own hub, and the nearest few sites with a free session), which keeps the number
  of binary relocation decisions to a few per clinic;
* the split of each slot into *kept* sessions (at most today's) and *added*
  sessions, with one binary per added slot carrying the fixed disruption cost.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.schema import SESSION_HOURS

SLOT = ["service_id", "pcn_code", "site_id", "band"]


def today_in_sessions(baseline: pd.DataFrame) -> pd.Series:
    """Today's sessions per (service, PCN, site, band) slot, by largest remainder.

    Each slot gets the whole sessions its hours fill; the remaining sessions of a
    (service, PCN) go to the slots with the largest fractions until the clinic's
    sessions hold at least today's hours. So the clinic as a whole is rounded up
    (never loses hours) and each slot moves by less than one session. Indexed by
    :data:`SLOT`.
    """
    base = baseline.groupby(SLOT, as_index=False)["hours_per_week"].sum()
    if base.empty:
        return pd.Series(dtype=float, index=pd.MultiIndex.from_tuples([], names=SLOT))
    length = base["band"].map(SESSION_HOURS).to_numpy(float)
    hours = base["hours_per_week"].to_numpy(float)
    floor = np.floor(hours / length + 1e-9)
    base["whole"] = floor
    base["length"] = length
    base["fraction"] = hours / length - floor
    base["whole_hours"] = floor * length
    group = base.groupby(["service_id", "pcn_code"], sort=False)
    short = group["hours_per_week"].transform("sum") - group["whole_hours"].transform("sum")
    base["short"] = short.where(short > 1e-6, 0.0)
    # Largest fraction first; ties by slot order so the result never depends on row order.
    base = base.sort_values(
        ["service_id", "pcn_code", "fraction", "site_id", "band"],
        ascending=[True, True, False, True, True],
        kind="stable",
    )
    before = (
        base.groupby(["service_id", "pcn_code"], sort=False)["length"].cumsum() - base["length"]
    )
    extra = (base["fraction"] > 1e-9) & (before < base["short"] - 1e-6)
    sessions = base["whole"] + extra.astype(float)
    return pd.Series(
        sessions.to_numpy(), index=pd.MultiIndex.from_frame(base[SLOT]), name="today_sessions"
    ).sort_index()


#: Candidate sites are added, nearest first, until their free hours reach this many times
#: the clinic's demand: PCNs and services compete for the same rooms.
ROOM_MARGIN = 3.0


def plausible_candidates(
    cand: pd.DataFrame, also: np.ndarray, nearest: int, demand: pd.DataFrame
) -> pd.DataFrame:
    """The candidate slots a whole-session plan considers for each (service, PCN, band).

    Kept: every slot the PCN uses today, the rows ``also`` marks (its own hub,
    pinned slots), the ``nearest`` sites by travel that have at least one session
    free under their cap (``limit_hours``), and further sites, nearest first,
    until the free hours of those kept reach :data:`ROOM_MARGIN` times the demand.
    Farther sites could only lengthen journeys for a room a nearer site also has;
    leaving them out keeps the MIP small. Rooms that could be opened (``state``
    ``openable``) are ranked apart from the open ones and come on top of them, so a
    scenario that only adds opening options keeps every candidate slot of the plan
    without them (ranked together, 728 of NEL's were displaced by openable sites).
    """
    today = cand["baseline_hours"].to_numpy(float) > 0
    length = cand["band"].map(SESSION_HOURS).to_numpy(float)
    free = cand["limit_hours"].to_numpy(float) >= length - 1e-9
    need = cand.merge(demand[["service_id", "pcn_code", "demand_hours"]], how="left", on=SLOT[:2])
    order = cand.assign(
        _free=free,
        _room=np.where(free, cand["limit_hours"].to_numpy(float), 0.0),
        _need=need["demand_hours"].fillna(0.0).to_numpy(float),
    ).sort_values(
        ["service_id", "pcn_code", "band", "_free", "travel_km", "site_id"],
        ascending=[True, True, True, False, True, True],
        kind="stable",
    )
    ranked_apart = ["state"] if "state" in cand else []
    groups = order.groupby(["service_id", "pcn_code", "band", *ranked_apart], sort=False)
    rank = groups.cumcount().to_numpy()
    room_before = (groups["_room"].cumsum() - order["_room"]).to_numpy()
    near = (rank < nearest) | (room_before < ROOM_MARGIN * order["_need"].to_numpy())
    near = pd.Series(near, index=order.index).reindex(cand.index).to_numpy(bool) & free
    return cand[today | also | near].reset_index(drop=True)


def split_kept_added(cand: pd.DataFrame, today: pd.Series, demand: pd.DataFrame) -> pd.DataFrame:
    """One column per kept part (slots in use today) and per added part (every slot).

    ``part`` is ``keep`` (upper bound: today's sessions) or ``add`` (upper bound:
    the sessions the clinic's demand could need there, and what the room has
    free). Returned rows are the x columns of the whole-session model.
    """
    length = cand["band"].map(SESSION_HOURS).to_numpy(float)
    key = pd.MultiIndex.from_frame(cand[SLOT])
    today_sessions = today.reindex(key).fillna(0.0).to_numpy(float)
    need = cand.merge(demand[["service_id", "pcn_code", "demand_hours"]], how="left", on=SLOT[:2])
    need_sessions = np.ceil(need["demand_hours"].to_numpy(float) / length - 1e-9)
    room_sessions = np.floor(cand["limit_hours"].to_numpy(float) / length + 1e-9)
    kept = cand.assign(part="keep", today_sessions=today_sessions, unit_upper=today_sessions)
    kept = kept[today_sessions > 0]
    added = cand.assign(
        part="add",
        today_sessions=today_sessions,
        unit_upper=np.minimum(need_sessions, np.maximum(room_sessions, 0.0)),
    )
    added = added[added["unit_upper"] >= 1]
    both = pd.concat([kept, added], ignore_index=True)
    both["_order"] = both["part"].map({"keep": 0, "add": 1})
    return (
        both.sort_values([*SLOT, "_order"], kind="stable")
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def clinic_buildings(cand: pd.DataFrame, at_least: int | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The clinics whose buildings are limited, and the today's sites they may keep or leave.

    A (service, PCN) clinic may use at most ``max(today's buildings, at_least)``
    buildings after the plan (``relocation.max_buildings_per_clinic``). Only clinics
    with more candidate buildings than that get the limit (for the rest it cannot
    bind). Returns ``(clinics, today_sites)``: clinics with their ``limit``, and one
    row per (clinic, site it uses today): the binary "still uses it" decisions.
    """
    empty = pd.DataFrame(columns=["service_id", "pcn_code", "site_id"])
    if at_least is None or "part" not in cand or cand.empty:
        return pd.DataFrame(columns=["service_id", "pcn_code", "limit"]), empty
    clinic = ["service_id", "pcn_code"]
    today = cand.loc[cand["part"] == "keep", [*clinic, "site_id"]].drop_duplicates()
    count = today.groupby(clinic).size().rename("today")
    sites = cand[[*clinic, "site_id"]].drop_duplicates().groupby(clinic).size().rename("sites")
    clinics = pd.concat([count, sites], axis=1).fillna(0.0)
    clinics["limit"] = np.maximum(clinics["today"], float(at_least))
    clinics = clinics[clinics["sites"] > clinics["limit"]].reset_index()[[*clinic, "limit"]]
    today = today.merge(clinics[clinic], on=clinic)
    return clinics.reset_index(drop=True), today.sort_values([*clinic, "site_id"]).reset_index(
        drop=True
    )
