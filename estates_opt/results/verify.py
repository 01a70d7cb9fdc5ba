"""Check a solved plan against the inputs, sharing no code with the model builder.

The verifier re-derives every rule from the dataset and scenario on its own:
scaled demand, which bands/kinds/rooms a service may use, each site's capped
capacity, travel from LSOA points, and the utilisation and KPI arithmetic the
plan reports. It returns a list of violations; an empty list means the plan
is sound. ``run`` fails the run on any violation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from estates_opt.inputs.dataset import Dataset
from estates_opt.scenario import Scenario

TOL = 1e-4
EA_BANDS = {"evening", "saturday"}
SESSION = {"weekday": 4.0, "evening": 1.5, "saturday": 4.0, "sunday": 4.0}


def _expected_demand(dataset: Dataset, scenario: Scenario) -> pd.Series:
    g = scenario.growth
    d = dataset.demand.set_index(["service_id", "pcn_code"])["hours_per_week"].astype(float)
    services = d.index.get_level_values(0)
    pcns = d.index.get_level_values(1)
    borough = dict(zip(dataset.pcns["pcn_code"], dataset.pcns["borough"], strict=True))
    factor = np.full(len(d), g.overall * g.population)
    factor *= np.array([g.by_service.get(s, 1.0) for s in services])
    factor *= np.array([g.by_borough.get(borough.get(p), 1.0) for p in pcns])
    return d * factor


def _travel_km(dataset: Dataset, pairs: pd.DataFrame, circuity: float) -> pd.Series:
    """Population-weighted crow-fly distance x circuity, recomputed pair by pair."""
    lsoas = dataset.lsoas
    points = lsoas.geometry.representative_point()
    lx, ly = points.x.to_numpy(), points.y.to_numpy()
    pop = lsoas["population"].to_numpy(float)
    by_pcn = lsoas.groupby("pcn_code").indices  # positions, ascending, in one pass
    empty = np.array([], dtype=np.intp)
    members = {p: by_pcn.get(p, empty) for p in pairs["pcn_code"].unique()}
    site = dict(zip(dataset.premises["site_id"], dataset.premises.geometry, strict=True))
    out = []
    for pcn, site_id in pairs[["pcn_code", "site_id"]].itertuples(index=False):
        idx = members[pcn]
        if site_id not in site:
            out.append(np.nan)
            continue
        pt = site[site_id]
        dist = np.hypot(lx[idx] - pt.x, ly[idx] - pt.y) / 1000.0
        w = pop[idx] / pop[idx].sum()
        out.append(circuity * float(w @ dist))
    return pd.Series(out, index=pairs.index)


def verify_plan(
    dataset: Dataset,
    scenario: Scenario,
    allocations: pd.DataFrame,
    unmet: pd.DataFrame,
    utilisation: pd.DataFrame,
    kpis: dict,
    opened: set[tuple[str, str]] = frozenset(),
) -> list[str]:
    """Return every rule the plan breaks (empty when it is sound)."""
    v: list[str] = []
    alloc = allocations[allocations["hours_per_week"] > TOL].copy()
    services = dataset.services.set_index("service_id")

    # Demand met or reported unmet.
    expected = _expected_demand(dataset, scenario)
    met = alloc.groupby(["service_id", "pcn_code"])["hours_per_week"].sum()
    reported = (
        unmet.set_index(["service_id", "pcn_code"])["unmet_hours"]
        if len(unmet)
        else pd.Series(dtype=float)
    )
    for key, demand in expected.items():
        if demand <= TOL:
            continue
        got = float(met.get(key, 0.0)) + float(reported.get(key, 0.0))
        if got < demand - 1e-3 * max(1.0, demand):
            v.append(f"demand {key}: {demand:.3f} h but only {got:.3f} h met or reported unmet")
        if not scenario.options.whole_sessions and got > demand + 1e-3 * max(1.0, demand):
            v.append(f"demand {key}: {got:.3f} h placed or unmet exceeds demand {demand:.3f} h")
    for key in set(met.index) - set(expected.index):
        v.append(f"allocation for {key} but there is no such demand")

    # Allowed band, site kind, room type, travel.
    kinds = dataset.premises.set_index("site_id")["kind"]
    open_slots = set(
        zip(
            dataset.capacity["site_id"],
            dataset.capacity["room_type"],
            dataset.capacity["band"],
            strict=True,
        )
    )
    opening = dataset.opening
    openable = set()
    for room in ("consulting", "treatment", "group", "diagnostics"):
        col = f"{room}_hours_if_opened"
        if len(opening) and col in opening:
            rows = opening[opening[col] > 0]
            openable |= {
                (s, room, b)
                for s, b in zip(rows["site_id"], rows["band"], strict=True)
                if (s, b) in opened
            }
    limits = dict(services["max_travel_km"])
    limits.update(scenario.travel.max_km_by_service)
    # Plain dicts: a pandas row lookup per allocation dominated large plans.
    service_rules = services.to_dict(orient="index")
    kind_of = kinds.to_dict()
    for row in alloc.itertuples(index=False):
        svc = service_rules[row.service_id]
        where = f"{row.service_id} for {row.pcn_code} at {row.site_id} ({row.band})"
        if row.band not in svc["bands"]:
            v.append(f"{where}: band not allowed for the service")
        if svc["category"] == "enhanced_access" and row.band not in EA_BANDS:
            v.append(f"{where}: enhanced access outside its bands")
        if kind_of.get(row.site_id) not in svc["site_kinds"]:
            v.append(f"{where}: site kind {kind_of.get(row.site_id)} not allowed")
        slot = (row.site_id, svc["room_type"], row.band)
        if slot not in open_slots and slot not in openable:
            v.append(f"{where}: site has no open {svc['room_type']} room in that band")
        if scenario.options.whole_sessions:
            sessions = row.hours_per_week / SESSION[row.band]
            if abs(sessions - round(sessions)) > 1e-4:
                v.append(f"{where}: {row.hours_per_week:.3f} h is not whole sessions")
    if scenario.travel.matrix is None and len(alloc):
        pairs = alloc[["pcn_code", "site_id"]].drop_duplicates()
        km = _travel_km(dataset, pairs, scenario.travel.circuity)
        pairs = pairs.assign(km=km.to_numpy())
        check = alloc.merge(pairs, on=["pcn_code", "site_id"])
        for row in check.itertuples(index=False):
            limit = limits[row.service_id]
            if row.km > limit + 1e-6:
                v.append(
                    f"{row.service_id} for {row.pcn_code} at {row.site_id}: travel {row.km:.2f} km over limit {limit:g}"
                )
            if "travel_km" in check and abs(row.km - row.travel_km) > 1e-3:
                v.append(
                    f"{row.service_id} for {row.pcn_code} at {row.site_id}: reported travel {row.travel_km:.3f} km, recomputed {row.km:.3f}"
                )

    # Capacity under caps, and the utilisation table's arithmetic.
    alloc["room_type"] = alloc["service_id"].map(services["room_type"])
    placed = alloc.groupby(["site_id", "room_type", "band"])["hours_per_week"].sum()
    cap = dict(
        zip(
            zip(
                dataset.capacity["site_id"],
                dataset.capacity["room_type"],
                dataset.capacity["band"],
                strict=True,
            ),
            zip(dataset.capacity["capacity_hours"], dataset.capacity["fixed_hours"], strict=True),
            strict=True,
        )
    )
    for slot, hours in placed.items():
        kind = kind_of.get(slot[0])
        limit_frac = scenario.cap(kind) if kind else 0.0
        if slot in cap:
            capacity, fixed = float(cap[slot][0]), float(cap[slot][1])
        elif slot in openable:
            row = opening[(opening["site_id"] == slot[0]) & (opening["band"] == slot[2])].iloc[0]
            capacity, fixed = float(row[f"{slot[1]}_hours_if_opened"]), 0.0
        else:
            continue  # already reported above
        allowed = max(limit_frac * capacity, fixed)
        if fixed + hours > allowed + 1e-3:
            v.append(
                f"capacity {slot}: fixed {fixed:.2f} + placed {hours:.2f} h exceeds {allowed:.2f} h ({limit_frac:.0%} of {capacity:.2f})"
            )
    if len(utilisation):
        u = utilisation.set_index(["site_id", "room_type", "band"])
        after = u["fixed_hours"] + placed.reindex(u.index).fillna(0.0)
        bad = (after - u["after_hours"]).abs() > 1e-3
        for slot in u.index[bad.to_numpy()][:20]:
            v.append(
                f"utilisation {slot}: reported after_hours {u.at[slot, 'after_hours']:.3f}, recomputed {after[slot]:.3f}"
            )
        ratio = u["after_hours"] / u["capacity_hours"].where(u["capacity_hours"] > 0)
        bad = (ratio.fillna(0) - u["after_utilisation"].fillna(0)).abs() > 1e-6
        for slot in u.index[bad.to_numpy()][:20]:
            v.append(
                f"utilisation {slot}: after_utilisation does not equal after_hours / capacity_hours"
            )
        missing = set(placed.index) - set(u.index)
        for slot in list(missing)[:20]:
            v.append(f"utilisation table lacks slot {slot} that hosts {placed[slot]:.2f} h")
        # KPI: utilisation by kind, weekday band, after.
        reported_kpi = kpis.get("utilisation_after", {}).get("weekday", {})
        u2 = u.reset_index()
        u2["kind"] = u2["site_id"].map(kinds)
        wk = u2[u2["band"] == "weekday"].groupby("kind")[["after_hours", "capacity_hours"]].sum()
        for kind, row in wk.iterrows():
            mine = row["after_hours"] / row["capacity_hours"] if row["capacity_hours"] else 0.0
            theirs = reported_kpi.get(kind)
            if theirs is None or abs(mine - theirs) > 1e-4:
                v.append(
                    f"KPI weekday utilisation after for {kind}: reported {theirs}, recomputed {mine:.5f}"
                )
    total_unmet = float(unmet["unmet_hours"].sum()) if len(unmet) else 0.0
    if abs(total_unmet - float(kpis.get("unmet_hours_total", 0.0))) > 1e-3:
        v.append(
            f"KPI unmet_hours_total {kpis.get('unmet_hours_total')} but unmet table sums to {total_unmet:.3f}"
        )
    for pin in scenario.pinned:
        got = alloc[
            (alloc["pcn_code"] == pin.pcn_code)
            & (alloc["service_id"] == pin.service_id)
            & (alloc["site_id"] == pin.site_id)
            & (alloc["band"] == pin.band)
        ]["hours_per_week"].sum()
        if got < pin.hours_per_week - 1e-4:
            v.append(
                f"pinned {pin.service_id} for {pin.pcn_code} at {pin.site_id} ({pin.band}): {got:.2f} h < {pin.hours_per_week:.2f} h"
            )
    return v
