"""The panel beside a hub map: the PCN's headline numbers and the table of what moved.

Written as HTML in Python, with every name from the data escaped
(:mod:`~estates_opt.outputs.maps.markup`); a row of the moves table names the building
it points at, which the page script highlights on a click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from estates_opt.outputs.maps.layers import imd_profile
from estates_opt.outputs.maps.markup import esc, num
from estates_opt.outputs.maps.values import to_text

if TYPE_CHECKING:
    from estates_opt.outputs.maps.data import MapData


def hub_panel(
    data: MapData,
    pcn: dict[str, Any],
    sites: list[dict[str, Any]],
    local: dict[int, int],
    hubs: set[int],
    links: bool,
) -> str:
    """The panel's HTML; ``links`` adds links to the index and the plan map."""
    code = pcn["code"]
    rows = _kpi_rows(data, pcn, sites, hubs)
    out = ['<aside class="eo-panel">']
    if links:
        out.append(
            '<nav><a href="index.html">&larr; All PCNs</a>'
            '<a href="../plan_map.html">Whole-ICS plan map</a></nav>'
        )
    out.append(f"<h1>{esc(pcn['name'])}</h1>")
    out.append(f'<div class="eo-sub">PCN {esc(code)} &middot; {esc(pcn["borough"])}</div>')
    out.append('<table class="eo-kpi"><tbody>')
    out += [f'<tr><th>{k}</th><td class="n">{v}</td></tr>' for k, v in rows]
    out.append("</tbody></table>")
    out.append(_moves_table(data, code, local))
    out.append(
        '<p class="eo-sub">Hours and sessions are per week; a session is 4 h in core hours '
        'and on Saturdays, 1.5 h in the evening.<span class="eo-click"> Tap or click a row to '
        "see the building on the map.</span></p></aside>"
    )
    return "".join(out)


def _kpi_rows(
    data: MapData, pcn: dict[str, Any], sites: list[dict[str, Any]], hubs: set[int]
) -> list[tuple[str, str]]:
    """The panel's (heading, HTML value) rows for one PCN."""
    code = pcn["code"]
    members = pcn.get("practices")
    if members is None:  # records made before the count (the hub practice included)
        members = sum(s["pcnCode"] == code and s["kind"] == "gp_practice" for s in sites)
    hub_names = [data.sites[g]["name"] for g in sorted(hubs)]
    imd = imd_profile(data, code)
    flows = data.pcn_flows.get(code, [])
    used_before = len({f[1] for f in flows if f[4] == "before"})
    used_after = len({f[1] for f in flows if f[4] == "after"})
    share = imd["share_deciles_1_2"]
    return [
        ("Catchment population (residents of its LSOAs)", num(pcn["population"])),
        ("Registered patients", num(pcn["registered"])),
        ("Member practices", num(members)),
        ("Hub", esc(", ".join(hub_names)) or "none"),
        (
            "Living in the 20% most deprived areas",
            "&ndash;" if share is None else f"{share:.0%}",
        ),
        ("Demand", f"{num(pcn['demand'], 1)} h/week" + _closing(pcn.get("rehoused"))),
        ("Unmet after the plan", f"{num(pcn['unmet'], 1)} h/week"),
        ("Enhanced access met", f"{num(pcn['eaMet'], 1)} of {num(pcn['eaDemand'], 1)} h/week"),
        (
            "Enhanced access, weekday evenings",
            f"{num(pcn.get('eaEveningBefore'), 1)} &rarr; <b>{num(pcn.get('eaEvening'), 1)}</b> h/week",
        ),
        (
            "Enhanced access, Saturday",
            f"{num(pcn.get('eaSaturdayBefore'), 1)} &rarr; <b>{num(pcn.get('eaSaturday'), 1)}</b> h/week",
        ),
        (
            "Enhanced-access contract (every band and the total)",
            "&ndash;"
            if pcn.get("eaContractMet") is None
            else ("met" if pcn["eaContractMet"] else "<b>short</b>"),
        ),
        ("Hours moved", f"{num(pcn['moved'], 1)} h/week" + _closing(pcn.get("rehousedMoved"))),
        ("Buildings used", f"{used_before} &rarr; {used_after}"),
        (
            travel_heading(pcn.get("travelWeighting")),
            f"{num(pcn['travelBefore'], 2)} &rarr; <b>{num(pcn['travelAfter'], 2)}</b> km",
        ),
    ]


def _closing(hours: float | None) -> str:
    """What of a figure is a closed building's fixed work, placed for this PCN's area (it
    is not the PCN's own demand): nothing where there is none."""
    if not hours:
        return ""
    return f"<br><small>of which {num(hours, 1)} a closed building&rsquo;s fixed work</small>"


def travel_heading(weighting: str | None) -> str:
    """Name where the PCN's journeys start, as pcn_summary.csv ``travel_weighting`` says:
    a plan weighted by registered patients' homes is not population-weighted."""
    if weighting == "patients":
        return "Travel, from where its registered patients live"
    if weighting == "population":
        return "Travel, from where its catchment's residents live"
    return "Travel"


def _site_name(name: Any, site_id: Any) -> str:
    """A building by name, with its code in small print (the code is what a planner searches)."""
    code = f' <span class="eo-code">{esc(site_id)}</span>' if site_id not in (None, "") else ""
    return f"{esc(name)}{code}"


def _moves_table(data: MapData, code: str, local: dict[int, int]) -> str:
    grouped = data.moves_by_pcn.get(code)
    if grouped is None or grouped.empty:
        return "<h2>What moved</h2><p>Nothing moved for this PCN.</p>"
    out = [
        '<div class="eo-moves-head">',
        f"<h2>What moved ({len(grouped)} relocations, largest first)</h2>",
        _phase_note(data.phases),
        "</div>",
        '<table class="eo-moves"><thead><tr><th>Service: from &rarr; to</th>'
        '<th>Band</th><th class="n">Sessions a week</th></tr></thead><tbody>',
    ]
    for r in grouped.itertuples(index=False):
        band = (
            esc(r.to_band)
            if r.from_band == r.to_band
            else f"{esc(r.from_band)} &rarr; {esc(r.to_band)}"
        )
        target = local.get(data.site_index.get(str(r.to_site_id), -1))
        attr = f' data-eo-site="{target}"' if target is not None else ""
        sources = _site_name(r.from_site, r.from_site_id)
        others = int(r.n_from_sites) - 1 if r.n_from_sites == r.n_from_sites else 0
        if others > 0:  # one relocation gathers the clinic from several of today's slots
            # Every slot also in print and on a touch screen, which never show a title.
            sources = (
                f'<span title="{esc(r.from_sites)}">{sources} and {others} other '
                f"slot{'s' if others > 1 else ''}</span>"
                f'<span class="eo-from-all">From: {esc(r.from_sites)}</span>'
            )
        phase = f" &middot; phase {int(r.phase)}" if r.phase == r.phase and r.phase > 0 else ""
        why = f'<span class="eo-why">Why: {esc(r.why)}.</span>' if to_text(r.why).strip() else ""
        sessions = r.sessions_per_week
        shown = num(sessions, 0 if float(sessions).is_integer() else 1)
        out.append(
            f"<tr{attr}><td><b>{esc(r.service)}</b>{phase}<br>{sources}"
            f" &rarr; {_site_name(r.to_site, r.to_site_id)}{why}</td><td>{band}</td>"
            f'<td class="n">{shown}</td></tr>'
        )
    out.append("</tbody></table>")
    return "".join(out)


def _phase_note(phases: list[dict[str, Any]]) -> str:
    """What "phase N" means: when the ICS makes a relocation, in its phased plan's order."""
    if not phases:
        return ""
    parts = []
    for row in phases:
        number, new = int(row["phase"]), int(row["new_relocations"])
        if number == 1:
            parts.append(f"phase 1 is the ICS's first {num(new)} relocations")
        elif number == len(phases):
            parts.append(f"phase {number} the last {num(new)}")
        else:
            parts.append(f"{number} the next {num(new)}")
    return (
        '<p class="eo-sub eo-phase-note">Phase: when the relocation is made in the whole '
        "ICS's plan, in the order that relieves the most over-full rooms first: "
        + ", ".join(parts)
        + f" (of {num(int(phases[-1]['relocations']))}).</p>"
    )
