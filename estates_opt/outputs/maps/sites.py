"""Building, flow and move records: what each building hosts and what runs between places.

Buildings carry their room-hours per band (before and after the plan) and which PCNs'
services they host; flows are [pcn, site, category, band, mode, hours] rows indexing
the PCN and building records; moves are each PCN's relocations for its hub page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from estates_opt.outputs.maps.geometry import lonlat
from estates_opt.outputs.maps.style import ROOM_LABELS, marker_radius, sessions
from estates_opt.outputs.maps.values import EPS, to_num, to_text
from estates_opt.schema import BANDS, ROOM_TYPES, SITE_KINDS

if TYPE_CHECKING:
    from estates_opt.results.plan import Plan


def site_records(
    plan: Plan,
    alloc: pd.DataFrame,
    services: pd.DataFrame,
    pcns: list[dict[str, Any]],
    pcn_index: dict[str, int],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """One record per building (in the dataset's order) and site id -> record index."""
    premises = plan.dataset.premises.reset_index(drop=True)
    lon, lat = lonlat(premises)
    rows_by_site, use_by_site = _room_use(plan)
    hosts = _hosts(alloc, services, pcns, pcn_index)
    records: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for i, row in premises.iterrows():
        site = str(row["site_id"])
        site_use = {b: [round(v, 1) for v in vals] for b, vals in use_by_site.get(site, {}).items()}
        capacity = sum(v[0] for v in site_use.values())
        pcn = to_text(row.get("pcn_code"))
        index[site] = len(records)
        records.append(
            {
                "id": site,
                "name": to_text(row.get("name")) or site,
                "kind": to_text(row.get("kind")) if row.get("kind") in SITE_KINDS else "community",
                "lat": float(lat[i]),
                "lon": float(lon[i]),
                "r": marker_radius(capacity),
                "pcn": pcn_label(pcn, pcns, pcn_index) if pcn else "",
                "pcnCode": pcn,
                "borough": to_text(row.get("borough")),
                "use": site_use,
                "rows": rows_by_site.get(site, []),
                "hosts": hosts.get(site, []),
            }
        )
    return records, index


def _room_use(
    plan: Plan,
) -> tuple[dict[str, list[list[Any]]], dict[str, dict[str, list[float]]]]:
    """Per building: its utilisation rows (band, room, capacity, fixed, before, after, opened)
    in band and room order, and per band its [capacity, before, after] room-hours."""
    util = plan.utilisation
    opened = {(str(s), str(b)) for s, b in plan.opened}
    room_order = {r: i for i, r in enumerate(ROOM_TYPES)}
    band_order = {b: i for i, b in enumerate(BANDS)}
    rows_by_site: dict[str, list[list[Any]]] = {}
    use_by_site: dict[str, dict[str, list[float]]] = {}
    ordered = util.assign(
        _b=util["band"].map(band_order).fillna(99), _r=util["room_type"].map(room_order).fillna(99)
    ).sort_values(["site_id", "_b", "_r"])
    for r in ordered.itertuples(index=False):
        site, band = str(r.site_id), str(r.band)
        rows_by_site.setdefault(site, []).append(
            [
                band,
                ROOM_LABELS.get(str(r.room_type), str(r.room_type)),
                to_num(r.capacity_hours),
                to_num(r.fixed_hours),
                to_num(r.before_hours),
                to_num(r.after_hours),
                1 if (site, band) in opened else 0,
            ]
        )
        use = use_by_site.setdefault(site, {}).setdefault(band, [0.0, 0.0, 0.0])
        use[0] += float(r.capacity_hours)
        use[1] += float(r.before_hours)
        use[2] += float(r.after_hours)
    return rows_by_site, use_by_site


def _hosts(
    alloc: pd.DataFrame,
    services: pd.DataFrame,
    pcns: list[dict[str, Any]],
    pcn_index: dict[str, int],
) -> dict[str, list[list[Any]]]:
    """Per building: [service name, [[PCN label, hours], ...]] for each service it hosts."""
    names = services["name"]
    hosted = (
        alloc[alloc["hours_per_week"] > EPS]
        .groupby(["site_id", "service_id", "pcn_code"], as_index=False)["hours_per_week"]
        .sum()
        .sort_values(["site_id", "service_id", "hours_per_week"], ascending=[True, True, False])
    )
    hosts: dict[str, list[list[Any]]] = {}
    current: tuple[str, str] | None = None
    for site, service, pcn, hours in zip(
        hosted["site_id"],
        hosted["service_id"],
        hosted["pcn_code"],
        hosted["hours_per_week"],
        strict=True,
    ):
        if (site, service) != current:
            current = (site, service)
            hosts.setdefault(str(site), []).append([to_text(names.get(service, service)), []])
        hosts[str(site)][-1][1].append([pcn_label(str(pcn), pcns, pcn_index), to_num(hours)])
    return hosts


def pcn_label(code: str, pcns: list[dict[str, Any]], index: dict[str, int]) -> str:
    """A PCN as "name (code)", or just the code if the plan does not know it."""
    i = index.get(code)
    return f"{pcns[i]['name']} ({code})" if i is not None else code


def flows(
    frame: pd.DataFrame,
    column: str,
    mode: str,
    pcn_index: dict[str, int],
    site_index: dict[str, int],
) -> list[list[Any]]:
    """[pcn, site, category, band, mode, hours] per (PCN, building, band, category)."""
    if frame.empty:
        return []
    grouped = frame.groupby(["pcn_code", "site_id", "band", "category"], as_index=False)[
        column
    ].sum()
    grouped = grouped[grouped[column] > EPS].sort_values(column, ascending=False)
    return [
        [pcn_index[str(p)], site_index[str(s)], str(c), str(b), mode, round(float(h), 2)]
        for p, s, b, c, h in zip(
            grouped["pcn_code"],
            grouped["site_id"],
            grouped["band"],
            grouped["category"],
            grouped[column],
            strict=True,
        )
    ]


def moves_by_pcn(moves: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each PCN's moves summed per (service, from, to, bands), largest first per service."""
    if moves.empty:
        return {}
    keys = ["pcn_code", "service", "from_site_id", "from_site", "to_site_id", "to_site"]
    moves = moves.assign(pcn_code=moves["pcn_code"].astype(str))
    for column, empty in (("n_from_sites", 1), ("from_sites", ""), ("phase", 0), ("why", "")):
        if column not in moves:
            moves[column] = empty
    grouped = moves.groupby([*keys, "from_band", "to_band"], as_index=False, dropna=False).agg(
        hours_per_week=("hours_per_week", "sum"),
        n_from_sites=("n_from_sites", "max"),
        from_sites=("from_sites", "first"),
        phase=("phase", "min"),
        why=("why", "first"),
    )
    grouped["sessions_per_week"] = [
        sessions(float(h), str(b))
        for h, b in zip(grouped["hours_per_week"], grouped["to_band"], strict=True)
    ]
    # Largest first: a team acts on the moves that shift the most sessions first.
    grouped = grouped.sort_values(
        ["pcn_code", "sessions_per_week", "service", "from_site", "to_site"],
        ascending=[True, False, True, True, True],
        kind="stable",
    )
    return {str(code): frame for code, frame in grouped.groupby("pcn_code", sort=False)}
