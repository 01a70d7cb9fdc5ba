"""Solved model -> the tables a planner reads: allocations, moves, utilisation, KPIs.

Everything here is arithmetic on the solution values and the inputs; the
verifier recomputes the same figures independently.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset, baseline_room_use, kind_utilisation, opening_rooms
from estates_opt.inputs.travel import lsoa_points, pair_travel, points_km, site_points
from estates_opt.model.program import OBJECTIVE_TERMS, LinearProgram
from estates_opt.model.relocations import today_in_sessions
from estates_opt.model.result import SolveResult
from estates_opt.results.kpis import (
    CommunityGap,
    EnhancedAccessContract,
    EnhancedAccessShortfall,
    Kpis,
    RelocationKpis,
    StoppedAt,
    StrategyGap,
    UtilisationByBand,
)
from estates_opt.scenario import Scenario
from estates_opt.schema import ENHANCED_ACCESS_BANDS, PTAL_BANDS, SESSION_HOURS, SITE_KINDS

if TYPE_CHECKING:
    from pandas.core.groupby import DataFrameGroupBy

EPS = 1e-6
#: Shortfalls below this (hours/week, 0.6 minutes) are rounding, not a breach.
CONTRACT_TOL = 0.01
_UTIL_KEYS = ["site_id", "room_type", "band", "after_hours", "cap", "capacity_hours"]


def allocation_table(
    dataset: Dataset, scenario: Scenario, lp: LinearProgram, result: SolveResult
) -> pd.DataFrame:
    """Plan and today's allocation side by side, one row per (service, PCN, site, band)."""
    cols = lp.columns
    x = cols["family"].to_numpy() == "x"
    plan = cols.loc[
        x, ["service_id", "pcn_code", "site_id", "band", "room_type", "travel_km"]
    ].copy()
    plan["hours_per_week"] = np.round(
        result.values[x] * cols.loc[x, "hours_per_unit"].to_numpy(float), 6
    )
    plan = plan[plan["hours_per_week"] > EPS]
    if "part" in cols:  # whole sessions: a slot's kept and added parts are one allocation
        plan = plan.groupby(
            ["service_id", "pcn_code", "site_id", "band"], as_index=False, sort=False
        ).agg({"room_type": "first", "travel_km": "first", "hours_per_week": "sum"})
    base = (
        dataset.baseline.groupby(["service_id", "pcn_code", "site_id", "band"], as_index=False)[
            "hours_per_week"
        ]
        .sum()
        .rename(columns={"hours_per_week": "baseline_hours_per_week"})
    )
    table = plan.merge(base, on=["service_id", "pcn_code", "site_id", "band"], how="outer")
    table["hours_per_week"] = table["hours_per_week"].fillna(0.0)
    table["baseline_hours_per_week"] = table["baseline_hours_per_week"].fillna(0.0)
    rooms = dataset.services.set_index("service_id")["room_type"]
    table["room_type"] = table["service_id"].map(rooms)
    missing = table["travel_km"].isna()
    if missing.any():
        pairs = table.loc[missing, ["pcn_code", "site_id"]].drop_duplicates()
        known = dataset.premises[dataset.premises["site_id"].isin(pairs["site_id"])]
        lsoas = dataset.lsoas[dataset.lsoas["pcn_code"].isin(pairs["pcn_code"])]
        if len(known) and len(lsoas):
            extra = pair_travel(lsoas, known, pairs, scenario.travel.circuity)
            fill = table.loc[missing, ["pcn_code", "site_id"]].merge(
                extra, on=["pcn_code", "site_id"], how="left"
            )
            table.loc[missing, "travel_km"] = fill["travel_km"].to_numpy()
    table["sessions_per_week"] = table["hours_per_week"] / table["band"].map(SESSION_HOURS)
    table["today_session_hours"] = today_reference(dataset, scenario, table)
    order = [
        "service_id",
        "pcn_code",
        "site_id",
        "band",
        "room_type",
        "hours_per_week",
        "sessions_per_week",
        "travel_km",
        "baseline_hours_per_week",
        "today_session_hours",
    ]
    return (
        table[order]
        .sort_values(["service_id", "pcn_code", "site_id", "band"])
        .reset_index(drop=True)
    )


def today_reference(dataset: Dataset, scenario: Scenario, table: pd.DataFrame) -> np.ndarray:
    """Today's hours per slot as the plan counts changes: in whole sessions where it books them.

    A whole-session plan that leaves a clinic where it is (10.8 h today, 3 sessions
    in the plan) moves nothing; today's hours are read in whole sessions by
    :func:`estates_opt.model.relocations.today_in_sessions`.
    """
    if not scenario.options.whole_sessions:
        return table["baseline_hours_per_week"].to_numpy(float)
    today = today_in_sessions(dataset.baseline)
    key = pd.MultiIndex.from_frame(table[["service_id", "pcn_code", "site_id", "band"]])
    sessions = today.reindex(key).fillna(0.0).to_numpy(float)
    return sessions * table["band"].map(SESSION_HOURS).to_numpy(float)


def unmet_table(lp: LinearProgram, result: SolveResult, allocations: pd.DataFrame) -> pd.DataFrame:
    """Per (service, PCN): hours demanded, placed by the plan and left unmet (unmet.csv)."""
    cols = lp.columns
    u = cols["family"].to_numpy() == "unmet"
    table = lp.demand[["service_id", "pcn_code", "demand_hours"]].copy()
    met = allocations.groupby(["service_id", "pcn_code"])["hours_per_week"].sum()
    key = pd.MultiIndex.from_frame(table[["service_id", "pcn_code"]])
    table["met_hours"] = met.reindex(key).fillna(0.0).to_numpy()
    # what the plan leaves unplaced (an unmet column may count whole sessions)
    short = np.minimum(
        result.values[u] * cols.loc[u, "hours_per_unit"].to_numpy(float),
        np.maximum(table["demand_hours"] - table["met_hours"], 0.0),
    )
    table["unmet_hours"] = np.round(np.maximum(short, 0.0), 6)
    return table[["service_id", "pcn_code", "demand_hours", "met_hours", "unmet_hours"]]


def opened_slots(lp: LinearProgram, result: SolveResult) -> set[tuple[str, str]]:
    """The (site, band) openings the solve chose, so their rooms count as capacity."""
    cols = lp.columns
    o = cols["family"].to_numpy() == "open"
    chosen = cols.loc[o].assign(v=result.values[o])
    chosen = chosen[chosen["v"] > 0.5]
    return set(zip(chosen["site_id"], chosen["band"], strict=True))


def utilisation_table(
    dataset: Dataset, allocations: pd.DataFrame, scenario: Scenario, opened: set[tuple[str, str]]
) -> pd.DataFrame:
    """Capacity, fixed use and hours before/after per (site, room type, band)."""
    cap = dataset.capacity[["site_id", "room_type", "band", "capacity_hours", "fixed_hours"]].copy()
    if opened:
        options = dataset.opening[
            [
                (s, b) in opened
                for s, b in zip(dataset.opening["site_id"], dataset.opening["band"], strict=True)
            ]
        ]
        extra = opening_rooms(options, dataset.capacity)[list(cap.columns)]
        cap = pd.concat([cap, extra], ignore_index=True)
    before = baseline_room_use(dataset).set_index(["site_id", "room_type", "band"])[
        "baseline_hours"
    ]
    after = allocations.groupby(["site_id", "room_type", "band"])["hours_per_week"].sum()
    key = pd.MultiIndex.from_frame(cap[["site_id", "room_type", "band"]])
    cap["before_hours"] = cap["fixed_hours"] + before.reindex(key).fillna(0.0).to_numpy()
    cap["after_hours"] = cap["fixed_hours"] + after.reindex(key).fillna(0.0).to_numpy()
    denom = cap["capacity_hours"].where(cap["capacity_hours"] > 0)
    cap["before_utilisation"] = (cap["before_hours"] / denom).fillna(0.0)
    cap["after_utilisation"] = (cap["after_hours"] / denom).fillna(0.0)
    sites = dataset.premises.set_index("site_id")
    cap.insert(1, "name", cap["site_id"].map(sites["name"]))
    cap.insert(2, "kind", cap["site_id"].map(sites["kind"]))
    cap["cap"] = cap["kind"].map({k: scenario.cap(k) for k in SITE_KINDS})
    return cap.sort_values(["site_id", "room_type", "band"]).reset_index(drop=True)


def _kind_shares(utilisation: pd.DataFrame, column: str) -> dict[str, pd.Series]:
    """``column`` over capacity hours per site kind (NaN where a kind has no capacity), in the
    weekday band and over all bands: the figures kpis.json and the strategy gap both report."""
    weekday = utilisation[utilisation["band"] == "weekday"]
    return {
        label: kind_utilisation(rooms, [column], by_band=False).set_index("kind")["utilisation"]
        for label, rooms in (("weekday", weekday), ("all_bands", utilisation))
    }


def utilisation_by_kind(utilisation: pd.DataFrame, column: str) -> UtilisationByBand:
    """``column`` (before or after hours) over capacity hours per site kind, in the weekday
    band and over all bands (0 where a kind has no capacity): kpis.json's utilisation."""
    shares = {
        label: {str(kind): float(u) for kind, u in share.fillna(0.0).items()}
        for label, share in _kind_shares(utilisation, column).items()
    }
    return {"weekday": shares["weekday"], "all_bands": shares["all_bands"]}


def moves_table(
    dataset: Dataset, allocations: pd.DataFrame, utilisation: pd.DataFrame
) -> pd.DataFrame:
    """moves.csv: one line per relocation (see :func:`relocation_lines`)."""
    return relocation_lines(move_legs(dataset, allocations, utilisation))


def move_legs(
    dataset: Dataset, allocations: pd.DataFrame, utilisation: pd.DataFrame
) -> pd.DataFrame:
    """One leg per change: hours leaving a slot paired with hours arriving.

    Lines are paired per (service, PCN) in sorted key order, slots in table order.
    Lookups are plain dicts and rows are read from arrays: a pandas groupby with
    ``itertuples`` per group took most of the explain time on large plans.
    """
    names = dict(zip(dataset.premises["site_id"], dataset.premises["name"], strict=True))
    room_of = dict(zip(dataset.services["service_id"], dataset.services["room_type"], strict=True))
    name_of = dict(zip(dataset.services["service_id"], dataset.services["name"], strict=True))
    full = set(
        map(
            tuple,
            utilisation.loc[
                utilisation["after_hours"]
                >= utilisation["cap"] * utilisation["capacity_hours"] - 1e-6,
                ["site_id", "room_type", "band"],
            ].to_numpy(),
        )
    )
    cost = dataset.capacity.groupby(["site_id", "band"])["cost_per_hour_gbp"].mean().to_dict()
    shut = dataset.closed_slots
    closed = dict(zip(zip(shut["site_id"], shut["band"], strict=True), shut["reason"], strict=True))
    lines = []
    change = allocations["hours_per_week"] - allocations["today_session_hours"]
    keys = ["service_id", "pcn_code"]
    moved = (change.abs() > EPS) & allocations[keys].notna().all(axis=1)
    # change[moved], not change: assigning a longer Series to an empty frame adopts its index.
    changed = allocations.loc[moved].assign(change=change[moved]).sort_values(keys, kind="stable")
    service_col = changed["service_id"].to_numpy(object)
    pcn_col = changed["pcn_code"].to_numpy(object)
    site_col = changed["site_id"].tolist()
    band_col = changed["band"].tolist()
    change_col = changed["change"].to_numpy(float).tolist()
    travel_col = changed["travel_km"].to_numpy(float).tolist()
    new_group = np.ones(len(changed), dtype=bool)
    new_group[1:] = (service_col[1:] != service_col[:-1]) | (pcn_col[1:] != pcn_col[:-1])
    starts = np.flatnonzero(new_group).tolist()
    stops = [*starts[1:], len(changed)][: len(starts)]  # none when nothing changed
    for start, stop in zip(starts, stops, strict=True):
        service, pcn = service_col[start], pcn_col[start]
        rows = range(start, stop)
        losses = [
            [site_col[i], band_col[i], -change_col[i], travel_col[i]]
            for i in rows
            if change_col[i] < -EPS
        ]
        gains = [
            [site_col[i], band_col[i], change_col[i], travel_col[i]]
            for i in rows
            if change_col[i] > EPS
        ]
        room = room_of[service]
        while losses and gains:
            src, dst = losses[0], gains[0]
            hours = min(src[2], dst[2])
            why = closed.get((src[0], src[1])) or _why(src, dst, room, full, cost)
            lines.append(
                {
                    "service_id": service,
                    "service": name_of[service],
                    "pcn_code": pcn,
                    "from_site_id": src[0],
                    "from_site": names.get(src[0], src[0]),
                    "from_band": src[1],
                    "to_site_id": dst[0],
                    "to_site": names.get(dst[0], dst[0]),
                    "to_band": dst[1],
                    "hours_per_week": hours,
                    "sessions_per_week": hours / SESSION_HOURS[dst[1]],
                    "from_travel_km": src[3],
                    "to_travel_km": dst[3],
                    "why": why,
                }
            )
            src[2] -= hours
            dst[2] -= hours
            if src[2] <= EPS:
                losses.pop(0)
            if dst[2] <= EPS:
                gains.pop(0)
    return pd.DataFrame(lines, columns=LEG_COLUMNS)


#: What makes one relocation: a (service, PCN) clinic arriving in one (site, band).
RELOCATION_KEY = ["service_id", "pcn_code", "to_site_id", "to_band"]
#: moves.csv: one line per relocation (a clinic arriving in a slot), from one or more slots.
MOVE_COLUMNS = [
    "service_id",
    "service",
    "pcn_code",
    "from_site_id",
    "from_site",
    "from_band",
    "from_sites",
    "n_from_sites",
    "to_site_id",
    "to_site",
    "to_band",
    "hours_per_week",
    "sessions_per_week",
    "from_travel_km",
    "to_travel_km",
    "why",
    "phase",
]
#: A leg: one source slot to one arriving slot (what :func:`relocation_lines` gathers).
LEG_COLUMNS = [c for c in MOVE_COLUMNS if c not in ("from_sites", "n_from_sites", "phase")]


def relocation_lines(legs: pd.DataFrame) -> pd.DataFrame:
    """Legs (one source slot to one arriving slot) gathered into one line per relocation.

    A relocation is what an estates team decides: "move this PCN's clinic, so many
    sessions, into this building": all legs of a (service, PCN) arriving in one
    (site, band). ``from_site_id`` is its largest source; ``from_sites`` lists them
    all with their hours; ``from_travel_km`` is the hours-weighted mean.
    """
    if legs.empty:
        return pd.DataFrame(columns=MOVE_COLUMNS)
    legs = legs.sort_values(
        ["service_id", "pcn_code", "to_site_id", "to_band", "hours_per_week", "from_site_id"],
        ascending=[True, True, True, True, False, True],
        kind="stable",
    )
    legs = legs.assign(
        _label=legs["from_site"].astype(str)
        + " ("
        + legs["from_band"].astype(str)
        + ", "
        + legs["hours_per_week"].map(lambda h: f"{h:.1f}")
        + " h)",
        _km=legs["from_travel_km"].astype(float) * legs["hours_per_week"],
    )
    grouped = legs.groupby(RELOCATION_KEY, sort=False)
    lines = grouped.first()[
        ["service", "from_site_id", "from_site", "from_band", "to_site", "to_travel_km", "why"]
    ]
    lines["from_sites"] = _joined_labels(legs["_label"], grouped)
    lines["n_from_sites"] = grouped["from_site_id"].nunique()
    lines["hours_per_week"] = grouped["hours_per_week"].sum()
    lines["sessions_per_week"] = grouped["sessions_per_week"].sum()
    lines["from_travel_km"] = grouped["_km"].sum() / lines["hours_per_week"]
    lines["phase"] = 0  # set by the phased plan
    return lines.reset_index()[MOVE_COLUMNS]


def _joined_labels(labels: pd.Series, grouped: DataFrameGroupBy) -> list[str] | pd.Series:
    """Each relocation's source labels joined with '; ', in the groups' order.

    The legs are sorted by the relocation key, so each group is one run of rows: joined
    run by run, without a Python call per group through pandas (most of the explain time).
    """
    codes = grouped.ngroup().to_numpy()
    if len(codes) and (codes[0] != 0 or (np.diff(codes) < 0).any() or (codes < 0).any()):
        return grouped["_label"].agg("; ".join)  # not runs in order: let pandas gather them
    text = labels.tolist()
    starts = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist()]
    stops = [*starts[1:], len(text)]
    return ["; ".join(text[a:b]) for a, b in zip(starts, stops, strict=True)]


def _why(
    src: list[Any],
    dst: list[Any],
    room: str,
    full: set[tuple[str, str, str]],
    cost: dict[tuple[str, str], float],
) -> str:
    """Why hours leave ``src`` for ``dst``, in words for moves.csv.

    ``src`` and ``dst`` are [site, band, hours, travel km] legs; ``full`` the (site, room type,
    band) rooms at their cap after the plan; ``cost`` the mean room cost per (site, band).
    """
    reasons = []
    if (src[0], room, src[1]) in full:
        reasons.append(f"{room} rooms at the old site are at their cap")
    c_from, c_to = cost.get((src[0], src[1])), cost.get((dst[0], dst[1]))
    if c_from is None or np.isnan(src[3] if src[3] is not None else np.nan):
        reasons.append("the old slot is no longer available (closed or out of reach)")
    if c_from is not None and c_to is not None and c_to < c_from - 0.5:
        reasons.append(f"cheaper room (£{c_to:.0f} vs £{c_from:.0f} per hour)")
    if src[3] is not None and dst[3] is not None and dst[3] < src[3] - 0.05:
        reasons.append(f"shorter travel ({dst[3]:.1f} vs {src[3]:.1f} km)")
    return "; ".join(reasons) or "frees capacity elsewhere in the plan"


#: What the price columns of bottlenecks.csv are the duals of.
PRICE_BASIS = {
    False: "LP duals",
    True: "duals of the LP with the opening decisions fixed at the plan's and whole sessions "
    "relaxed (MIP)",
}


def bottleneck_table(
    dataset: Dataset, lp: LinearProgram, result: SolveResult, utilisation: pd.DataFrame
) -> pd.DataFrame:
    """Binding capacity rows and what one more room-hour there is worth (GBP/week).

    A capacity row bounds movable hours by ``cap * capacity - fixed``, so one more
    room-hour of capacity adds ``cap`` movable hours: the saving is ``cap`` times
    the row's dual (``dual_gbp_per_movable_hour``, also the saving from freeing one
    hour of fixed work). Where fixed work alone exceeds the cap the row's bound is
    0 whatever one room-hour adds, so the saving is 0 until
    ``room_hours_before_saving = fixed / cap - capacity`` room-hours are added.
    """
    columns = [
        "site_id",
        "name",
        "kind",
        "room_type",
        "band",
        "capacity_hours",
        "cap",
        "after_hours",
        "after_utilisation",
        "shadow_price_gbp_per_room_hour",
        "dual_gbp_per_movable_hour",
        "fixed_hours",
        "room_hours_before_saving",
        "price_basis",
    ]
    if result.duals is None:
        return pd.DataFrame(columns=columns)
    rows = lp.rows.assign(dual=result.duals)
    cap_rows = rows[(rows["family"] == "capacity") & (rows["dual"] < -1e-7)].copy()
    table = cap_rows.merge(utilisation, on=["site_id", "room_type", "band"], how="left")
    table = table.dropna(subset=["capacity_hours"])  # an openable room the plan left shut
    dual = -table["dual"].to_numpy(float)
    cap = table["cap"].to_numpy(float)
    over = np.maximum(table["fixed_hours"].to_numpy(float) / cap - table["capacity_hours"], 0.0)
    table["dual_gbp_per_movable_hour"] = dual
    table["room_hours_before_saving"] = np.where(over > 1e-9, over, 0.0)
    table["shadow_price_gbp_per_room_hour"] = np.where(over > 1e-9, 0.0, cap * dual)
    table["price_basis"] = PRICE_BASIS[bool(lp.is_mip)]
    table = table.sort_values(
        ["shadow_price_gbp_per_room_hour", "dual_gbp_per_movable_hour", "site_id"],
        ascending=[False, False, True],
    )
    return table[columns].reset_index(drop=True)


def enhanced_access_by_band(
    dataset: Dataset, allocations: pd.DataFrame, targets: pd.DataFrame
) -> pd.DataFrame:
    """Per PCN: enhanced-access hours before and after in each band, the contract's
    minimums and the shortfall against each (hours/week).

    ``targets`` is :attr:`LinearProgram.targets` (band ``total`` for the weekly
    total); without targets (contract off) the minimums and shortfalls are 0.
    """
    categories = dataset.services.set_index("service_id")["category"]
    ea = allocations[allocations["service_id"].map(categories) == "enhanced_access"]
    out = pd.DataFrame({"pcn_code": dataset.pcns["pcn_code"].to_numpy()})
    need = (
        targets.set_index(["pcn_code", "band"])["min_hours"]
        if len(targets)
        else pd.Series(dtype=float)
    )
    n = len(out)
    for when, column in (("before", "baseline_hours_per_week"), ("after", "hours_per_week")):
        sums = ea.groupby(["pcn_code", "band"])[column].sum() if len(ea) else None
        for band in ENHANCED_ACCESS_BANDS:
            key = pd.MultiIndex.from_arrays([out["pcn_code"], np.full(n, band, object)])
            hours = sums.reindex(key).fillna(0.0).to_numpy(float) if sums is not None else 0.0
            out[f"{band}_{when}"] = hours
    out["total_before"] = out[[f"{b}_before" for b in ENHANCED_ACCESS_BANDS]].sum(axis=1)
    out["total_after"] = out[[f"{b}_after" for b in ENHANCED_ACCESS_BANDS]].sum(axis=1)
    for band in (*ENHANCED_ACCESS_BANDS, "total"):
        key = pd.MultiIndex.from_arrays([out["pcn_code"], np.full(len(out), band, object)])
        required = need.reindex(key).fillna(0.0).to_numpy(float)
        out[f"{band}_required"] = required
        short = np.maximum(required - out[f"{band}_after"].to_numpy(float), 0.0)
        out[f"{band}_shortfall"] = np.where(short > CONTRACT_TOL, short, 0.0)
    shortfalls = [f"{b}_shortfall" for b in (*ENHANCED_ACCESS_BANDS, "total")]
    out["contract_met"] = (out[shortfalls] <= 0).all(axis=1)
    return out


def pcn_travel_weighting(scenario: Scenario, codes: pd.Series) -> pd.Series:
    """Per PCN, where its journeys start: ``patients`` (the LSOAs its registered patients
    live in, patients.csv, which validation makes locate at least one patient of every PCN)
    or ``population`` (its catchment LSOAs by population), as ``[travel] weighting`` says."""
    return pd.Series(scenario.travel.weighting, index=codes.index, dtype=object)


def pcn_summary_table(
    dataset: Dataset,
    scenario: Scenario,
    allocations: pd.DataFrame,
    unmet: pd.DataFrame,
    targets: pd.DataFrame | None = None,
    moves: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per PCN: population, demand met and unmet, travel before and after, enhanced
    access and hours moved (pcn_summary.csv)."""
    pcns = dataset.pcns[["pcn_code", "pcn_name", "borough", "registered_patients"]].copy()
    pop = dataset.lsoas.groupby("pcn_code")["population"].sum()
    pcns["population"] = pcns["pcn_code"].map(pop).fillna(0.0)
    d = unmet.groupby("pcn_code")[["demand_hours", "met_hours", "unmet_hours"]].sum()
    pcns = pcns.join(d, on="pcn_code").fillna(
        {"demand_hours": 0.0, "met_hours": 0.0, "unmet_hours": 0.0}
    )

    def weighted(col: str) -> pd.Series:
        frame = allocations[allocations[col] > EPS].dropna(subset=["travel_km"])
        num = (frame[col] * frame["travel_km"]).groupby(frame["pcn_code"]).sum()
        den = frame[col].groupby(frame["pcn_code"]).sum()
        return num / den

    pcns["travel_before_km"] = pcns["pcn_code"].map(weighted("baseline_hours_per_week"))
    pcns["travel_after_km"] = pcns["pcn_code"].map(weighted("hours_per_week"))
    pcns["travel_weighting"] = pcn_travel_weighting(scenario, pcns["pcn_code"])
    categories = dataset.services.set_index("service_id")["category"]
    ea = (
        unmet[unmet["service_id"].map(categories) == "enhanced_access"]
        .groupby("pcn_code")[["demand_hours", "met_hours"]]
        .sum()
    )
    pcns["enhanced_access_demand_hours"] = pcns["pcn_code"].map(ea["demand_hours"]).fillna(0.0)
    pcns["enhanced_access_met_hours"] = pcns["pcn_code"].map(ea["met_hours"]).fillna(0.0)
    by_band = enhanced_access_by_band(
        dataset, allocations, pd.DataFrame() if targets is None else targets
    ).set_index("pcn_code")
    for band in ENHANCED_ACCESS_BANDS:
        pcns[f"enhanced_access_{band}_hours_before"] = pcns["pcn_code"].map(
            by_band[f"{band}_before"]
        )
        pcns[f"enhanced_access_{band}_hours"] = pcns["pcn_code"].map(by_band[f"{band}_after"])
    pcns["enhanced_access_required_hours"] = pcns["pcn_code"].map(by_band["total_required"])
    for band in (*ENHANCED_ACCESS_BANDS, "total"):
        pcns[f"enhanced_access_{band}_shortfall_hours"] = pcns["pcn_code"].map(
            by_band[f"{band}_shortfall"]
        )
    pcns["enhanced_access_contract_met"] = pcns["pcn_code"].map(by_band["contract_met"])
    # "Hours moved" is the sum of moves.csv, per PCN here (models/README.md "Hours moved").
    if moves is None:
        moves = moves_table(dataset, allocations, pd.DataFrame(columns=_UTIL_KEYS))
    per_pcn = moves.groupby("pcn_code")["hours_per_week"].sum()
    pcns["hours_moved"] = pcns["pcn_code"].map(per_pcn).fillna(0.0)
    return pcns.sort_values("pcn_code").reset_index(drop=True)


def lsoa_travel(
    dataset: Dataset, scenario: Scenario, allocations: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Travel (km) from each LSOA of its catchment to its PCN's clinics, before and after.

    Per LSOA, the distance to each site its PCN uses, weighted by the hours there (NaN
    where the PCN uses none). Points are projected once and hours summed per (PCN, site)
    in one groupby; the per-PCN arithmetic is unchanged (projecting per PCN was the slow
    part). The IMD and PTAL breakdowns (:func:`travel_by_imd`, :func:`travel_by_ptal`)
    both read these values, so they always agree with the headline.
    """
    lsoas = dataset.lsoas
    per_lsoa = {"before": np.full(len(lsoas), np.nan), "after": np.full(len(lsoas), np.nan)}
    members = lsoas.groupby("pcn_code").indices
    lsoa_xy = lsoa_points(lsoas)
    site_xy = site_points(dataset.premises)
    site_pos = {s: i for i, s in enumerate(dataset.premises["site_id"])}
    columns = {"before": "baseline_hours_per_week", "after": "hours_per_week"}
    known = allocations[allocations["site_id"].isin(site_pos.keys())]
    # Per PCN, sites in order of first appearance (as ``unique`` gives them).
    hours = (
        known.groupby(["pcn_code", "site_id"], sort=False)[list(columns.values())]
        .sum()
        .reset_index()
        .sort_values("pcn_code", kind="stable")
    )
    pcn_col = hours["pcn_code"].to_numpy(object)
    site_col = hours["site_id"].to_numpy(object)
    starts: list[int] = (
        np.flatnonzero(np.r_[True, pcn_col[1:] != pcn_col[:-1]]).tolist() if len(hours) else []
    )
    stops = [*starts[1:], len(hours)][: len(starts)]  # none when nothing is allocated
    for start, stop in zip(starts, stops, strict=True):
        idx = members.get(pcn_col[start])
        if idx is None or not len(idx):
            continue
        sites = [site_pos[s] for s in site_col[start:stop]]
        dist = points_km(lsoa_xy[idx], site_xy[sites]) * scenario.travel.circuity
        for when, column in columns.items():
            h = hours[column].to_numpy(float)[start:stop]
            keep = h > EPS
            if not keep.any():
                continue
            w = np.where(keep, h, 0.0)
            per_lsoa[when][idx] = dist @ (w / w.sum())
    return per_lsoa


def _travel_by_group(
    lsoas: pd.DataFrame,
    per_lsoa: dict[str, np.ndarray],
    groups: np.ndarray,
    labels: Iterable[object],
) -> dict[str, dict[str, float]]:
    """Population-weighted mean of ``per_lsoa`` per group label, and over all LSOAs."""
    pop = lsoas["population"].to_numpy(float)
    out: dict[str, dict[str, float]] = {"before": {}, "after": {}}
    for when, values in per_lsoa.items():
        for label in labels:
            m = (groups == label) & ~np.isnan(values)
            if m.any():
                out[when][str(label)] = float(
                    np.average(values[m], weights=pop[m]) if pop[m].sum() > 0 else values[m].mean()
                )
        m = ~np.isnan(values)
        out[when]["all"] = (
            float(np.average(values[m], weights=pop[m]))
            if m.any() and pop[m].sum() > 0
            else float("nan")
        )
    return out


def travel_by_imd(
    dataset: Dataset,
    scenario: Scenario,
    allocations: pd.DataFrame,
    per_lsoa: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Population-weighted travel (km) by IMD decile, measured from each LSOA."""
    if per_lsoa is None:
        per_lsoa = lsoa_travel(dataset, scenario, allocations)
    deciles = dataset.lsoas["imd_decile"].astype(int).to_numpy()
    return _travel_by_group(dataset.lsoas, per_lsoa, deciles, range(1, 11))


#: PTAL bands grouped as planners read them: poor (0-1b), moderate (2-3), good (4-6b).
PTAL_GROUPS = {
    "low_ptal_0_1b": ("0", "1a", "1b"),
    "mid_ptal_2_3": ("2", "3"),
    "high_ptal_4_6b": ("4", "5", "6a", "6b"),
}


def travel_by_ptal(
    dataset: Dataset,
    scenario: Scenario,
    allocations: pd.DataFrame,
    per_lsoa: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]] | None:
    """Population-weighted travel (km) by the LSOAs' PTAL band (lsoas.geojson ``ptal``),
    the same per-LSOA figures as :func:`travel_by_imd`, plus the three groups of
    :data:`PTAL_GROUPS`; None when the dataset has no PTAL. Distances are crow-fly x
    circuity, never PTAL-weighted: the KPI shows who travels further, not the penalty."""
    lsoas = dataset.lsoas
    if "ptal" not in lsoas.columns or not lsoas["ptal"].notna().any():
        return None
    if per_lsoa is None:
        per_lsoa = lsoa_travel(dataset, scenario, allocations)
    bands = lsoas["ptal"].astype(object).where(lsoas["ptal"].notna(), "").astype(str).to_numpy()
    out = _travel_by_group(lsoas, per_lsoa, bands, PTAL_BANDS)
    group_of = {band: group for group, members in PTAL_GROUPS.items() for band in members}
    grouped = np.array([group_of.get(b, "") for b in bands], dtype=object)
    by_group = _travel_by_group(lsoas, per_lsoa, grouped, PTAL_GROUPS)
    for when in out:
        out[when].update({k: v for k, v in by_group[when].items() if k != "all"})
    pop = lsoas["population"].to_numpy(float)
    out["population"] = {
        label: float(pop[members].sum())
        for label, members in (
            *((b, bands == b) for b in PTAL_BANDS),
            *((g, grouped == g) for g in PTAL_GROUPS),
        )
        if members.any()
    }
    return out


def objective_terms(lp: LinearProgram, result: SolveResult) -> dict[str, float]:
    """Each objective term's value in the solution: what the objective is made of."""
    values = np.nan_to_num(result.values)
    return {term: float(lp.terms[term] @ values) for term in OBJECTIVE_TERMS}


def enhanced_access_kpis(
    dataset: Dataset, allocations: pd.DataFrame, lp: LinearProgram
) -> EnhancedAccessContract:
    """The contract's enhanced-access rules: PCNs meeting each, hours per band, shortfalls."""
    table = enhanced_access_by_band(dataset, allocations, lp.targets)
    bands = (*ENHANCED_ACCESS_BANDS, "total")
    shortfall: list[EnhancedAccessShortfall] = [
        {
            "pcn_code": str(r["pcn_code"]),
            "band": band,
            "required_hours": float(r[f"{band}_required"]),
            "placed_hours": float(r[f"{band}_after"]),
            "shortfall_hours": float(r[f"{band}_shortfall"]),
        }
        for _, r in table.iterrows()
        for band in bands
        if r[f"{band}_shortfall"] > 0
    ]
    return {
        "enforced": bool(len(lp.targets)),
        "pcns": len(table),
        "pcns_meeting_all": int(table["contract_met"].sum()),
        "pcns_meeting": {b: int((table[f"{b}_shortfall"] <= 0).sum()) for b in bands},
        "hours_by_band_before": {b: float(table[f"{b}_before"].sum()) for b in bands},
        "hours_by_band_after": {b: float(table[f"{b}_after"].sum()) for b in bands},
        "shortfall": shortfall,
    }


def strategy_gap(utilisation: pd.DataFrame) -> StrategyGap:
    """How far the plan is from the strategy's targets (DOMAIN.md).

    The NEL strategy aims at 100% community asset utilisation; the gap is
    measured in the weekday band and over all bands, with the free room-hours
    left (capacity minus hours used) by site kind and band.
    """
    gap: dict[str, CommunityGap] = {}
    for label, share in _kind_shares(utilisation, "after_hours").items():
        after = share.get("community", np.nan)
        # no community capacity: nothing to fill, so no gap
        gap[label] = (
            {"target": 1.0, "after": 0.0, "gap": 0.0}
            if np.isnan(after)
            else {"target": 1.0, "after": float(after), "gap": 1.0 - float(after)}
        )
    free = (
        utilisation.assign(
            free=(utilisation["capacity_hours"] - utilisation["after_hours"]).clip(lower=0)
        )
        .groupby(["kind", "band"])["free"]
        .sum()
    )
    by_kind: dict[str, dict[str, float]] = {}
    for (kind, band), hours in free.items():
        by_kind.setdefault(str(kind), {})[str(band)] = float(hours)
    return {"community_utilisation": gap, "free_room_hours_after": by_kind}


def relocation_kpis(lp: LinearProgram, moves: pd.DataFrame) -> RelocationKpis:
    """Relocations (lines of moves.csv) and movement against the least any plan needs."""
    hours = float(moves["hours_per_week"].sum())
    least = lp.least_movement_hours
    sessions = moves["sessions_per_week"].to_numpy(float)
    fewest = lp.least_relocations
    return {
        "relocations": len(moves),
        "relocations_under_one_session": int((sessions < 1 - 1e-6).sum()),
        "least_relocations": fewest,
        "relocation_ratio_to_least": len(moves) / fewest if fewest else None,
        "least_movement_hours": least,
        "movement_ratio_to_least": hours / least if least else None,
    }


def kpi_dict(
    dataset: Dataset,
    scenario: Scenario,
    lp: LinearProgram,
    result: SolveResult,
    allocations: pd.DataFrame,
    unmet: pd.DataFrame,
    utilisation: pd.DataFrame,
    imd: dict[str, dict[str, float]],
    opened: set[tuple[str, str]],
    timings: dict[str, float],
    moves: pd.DataFrame | None = None,
    ptal: dict[str, dict[str, float]] | None = None,
) -> Kpis:
    """The headline numbers, in one JSON-ready record (:class:`~estates_opt.results.kpis.Kpis`).

    ``hours_moved`` is the sum of ``moves.csv`` (``moves``; computed here when
    not given): the one definition used by every output. ``ptal`` (travel by PTAL band,
    :func:`travel_by_ptal`) is computed here when not given.
    """
    if moves is None:
        moves = moves_table(dataset, allocations, utilisation)
    if ptal is None:
        ptal = travel_by_ptal(dataset, scenario, allocations)
    categories = dataset.services.set_index("service_id")["category"]
    unmet_cat = (
        unmet.assign(category=unmet["service_id"].map(categories))
        .groupby("category")["unmet_hours"]
        .sum()
    )
    moved = np.maximum(allocations["today_session_hours"] - allocations["hours_per_week"], 0).sum()
    new_slot = allocations[
        (allocations["baseline_hours_per_week"] <= EPS) & (allocations["hours_per_week"] > EPS)
    ]
    before_sites = set(allocations.loc[allocations["baseline_hours_per_week"] > EPS, "site_id"])
    after_sites = set(allocations.loc[allocations["hours_per_week"] > EPS, "site_id"])
    ea = unmet[unmet["service_id"].map(categories) == "enhanced_access"]
    ea_by_pcn = {
        p: float(r.met_hours / r.demand_hours) if r.demand_hours else 1.0
        for p, r in ea.groupby("pcn_code")[["demand_hours", "met_hours"]].sum().iterrows()
    }
    nv, nc, nz = lp.shape

    def clean(x: float | None) -> float | None:
        return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else x

    # only when it stopped early
    stopped: StoppedAt = {"stopped_at": result.limit} if result.limit else {}
    return {
        "scenario": scenario.name,
        "status": str(result.status),
        **stopped,
        "solver": result.solver,
        "backend": result.backend,
        "objective": clean(result.objective),
        "best_bound": clean(result.best_bound),
        "gap": clean(result.gap),
        "objective_terms": objective_terms(lp, result),
        "utilisation_before": utilisation_by_kind(utilisation, "before_hours"),
        "utilisation_after": utilisation_by_kind(utilisation, "after_hours"),
        "hours_moved": float(moves["hours_per_week"].sum()),
        **relocation_kpis(lp, moves),
        # where a PCN's journeys start: its catchment by population, or its patients' LSOAs
        "travel_weighting": scenario.travel.weighting,
        "hours_in_new_slots": float(new_slot["hours_per_week"].sum()),
        "hours_leaving_today_slots": float(moved),
        "buildings_used_before": len(before_sites),
        "buildings_used_after": len(after_sites),
        "buildings_newly_used": len(after_sites - before_sites),
        "sites_opened": sorted(f"{s}:{b}" for s, b in opened),
        "travel_km_before": imd["before"].get("all"),
        "travel_km_after": imd["after"].get("all"),
        "travel_km_by_imd_decile": imd,
        # the same per-LSOA travel by PTAL band and group (None: the dataset has no PTAL)
        "travel_km_by_ptal_band": ptal,
        "demand_hours_total": float(unmet["demand_hours"].sum()),
        "unmet_hours_total": float(unmet["unmet_hours"].sum()),
        "unmet_hours_by_category": {
            c: float(unmet_cat.get(c, 0.0)) for c in sorted(set(categories))
        },
        "enhanced_access_met_share_by_pcn": ea_by_pcn,
        "enhanced_access_all_met": bool(all(v >= 1 - 1e-6 for v in ea_by_pcn.values())),
        "enhanced_access_contract": enhanced_access_kpis(dataset, allocations, lp),
        "strategy_gap": strategy_gap(utilisation),
        "model": {
            "variables": nv,
            "constraints": nc,
            "nonzeros": nz,
            "mip": lp.is_mip,
            "families": lp.family_counts(),
        },
        "seconds": timings,
        "diagnostics": list(lp.diagnostics),
    }
