"""Maps: assertions on the rendered HTML (markers, layers, offline, escaping, size)."""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from estates_opt import read_dataset
from estates_opt.outputs.maps.assets import (
    finish_page,
    remote_references,
    to_js_literal,
    vendor_text,
)
from estates_opt.outputs.maps.data import CATEGORY_STYLE
from estates_opt.outputs.maps.pages import (
    hub_filename,
    hub_map,
    plan_map,
    render_page,
    write_maps,
)
from estates_opt.outputs.plan_folder import write_plan
from estates_opt.pipeline import redraw_maps, solve
from estates_opt.results.plan import Plan
from estates_opt.scenario import Scenario
from estates_opt.synthetic import generate, write_dataset

HOSTILE_SITE = '<script>alert("site")</script>'
HOSTILE_PCN = '"><img src=x onerror=alert(2)>{{ 7*7 }}'
HOSTILE_SERVICE = "</script><script>alert(3)</script>"
HOSTILE_ATTRIBUTION = "Test data <b>bold</b> & Open Government Licence v3.0 </script>"
HOSTILE_PLACE = '<img src=x onerror=alert("place")>'
HOSTILE_BASEMAP_NOTE = "Basemap © <i>nobody</i> </script>"
MB = 1024 * 1024


def payload(page: str) -> dict:
    """The JSON the page's drawing call receives (buildings, flows, areas...)."""
    start = page.index("EstatesOptMaps.draw(")
    start = page.index("{", start)
    data, _ = json.JSONDecoder().raw_decode(page[start:])
    return data


def layer_names(page: str) -> tuple[list[str], list[str]]:
    """Base-layer and overlay names from Folium's layer control."""
    block = re.search(r"base_layers : \{(.*?)\},\s*overlays :\s*\{(.*?)\},", page, re.S)
    assert block, "no layer control in the page"
    names = [re.findall(r'"([^"]+)" :', part) for part in block.groups()]
    return names[0], names[1]


def assert_offline(page: str) -> None:
    assert not remote_references(page)
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=", page, re.I)
    for cdn in ("cdn.jsdelivr", "cdnjs", "code.jquery", "bootstrapcdn", "unpkg.com"):
        assert cdn not in page
    assert 'version="1.9.4"' in page, "Leaflet is not inlined"


def hostile_plan(folder: Path) -> Plan:
    """A solved synthetic plan whose names and attribution try to inject HTML."""
    tables = generate("small", seed=3)
    premises = tables["premises"]
    community = premises.index[premises["kind"] == "community"][0]
    premises.loc[community, "name"] = HOSTILE_SITE
    tables["pcns"].loc[0, "pcn_name"] = HOSTILE_PCN
    tables["services"].loc[0, "name"] = HOSTILE_SERVICE
    folder = write_dataset(tables, folder)
    (folder / "ATTRIBUTION.txt").write_text(HOSTILE_ATTRIBUTION, encoding="utf-8")
    write_basemap(folder, premises)
    return solve(read_dataset(folder), Scenario(name="small_maps", dataset=str(folder)))


def write_basemap(folder: Path, premises: Any) -> None:
    """A tiny offline basemap around the synthetic buildings, with hostile names."""
    points = premises.to_crs("EPSG:4326").geometry
    lon, lat = float(points.x.mean()), float(points.y.mean())
    base = folder / "basemap"
    base.mkdir()

    def collection(*features: dict) -> str:
        return json.dumps({"type": "FeatureCollection", "features": list(features)})

    def feature(props: dict, kind: str, coords: Any) -> dict:
        return {
            "type": "Feature",
            "properties": props,
            "geometry": {"type": kind, "coordinates": coords},
        }

    square = [
        [
            [lon - 0.02, lat - 0.01],
            [lon + 0.02, lat - 0.01],
            [lon + 0.02, lat - 0.005],
            [lon - 0.02, lat - 0.005],
            [lon - 0.02, lat - 0.01],
        ]
    ]
    line = [[lon - 0.05, lat], [lon + 0.05, lat + 0.01]]
    files = {
        "water": collection(
            feature(
                {"name": HOSTILE_PLACE, "kind": "reservoir", "shape": "area"}, "Polygon", square
            )
        ),
        "roads": collection(feature({"ref": HOSTILE_PLACE, "major": True}, "LineString", line)),
        "rail": collection(feature({"rail_type": "rail"}, "LineString", line[::-1])),
        "stations": collection(
            feature({"name": HOSTILE_PLACE, "modes": ""}, "Point", [lon, lat + 0.004])
        ),
        "places": collection(feature({"name": HOSTILE_PLACE, "rank": 0}, "Point", [lon, lat])),
    }
    for name, text in files.items():
        (base / f"{name}.geojson").write_text(text, encoding="utf-8")
    (base / "ATTRIBUTION.txt").write_text(HOSTILE_BASEMAP_NOTE, encoding="utf-8")


@pytest.fixture(scope="module")
def small_plan(tmp_path_factory) -> Plan:
    return hostile_plan(tmp_path_factory.mktemp("small_maps") / "data")


@pytest.fixture(scope="module")
def small_pages(small_plan, tmp_path_factory) -> tuple[Path, dict[Path, int]]:
    out = tmp_path_factory.mktemp("small_out") / "maps"
    return out, write_maps(small_plan, out)


@pytest.fixture(scope="module")
def nel_pages(nel_plan, tmp_path_factory) -> tuple[Path, dict[Path, int]]:
    out = tmp_path_factory.mktemp("nel_out") / "maps"
    return out, write_maps(nel_plan, out)


def test_write_maps_writes_every_page(small_plan, small_pages):
    out, written = small_pages
    codes = list(small_plan.dataset.pcns["pcn_code"])
    expected = {out / "plan_map.html", out / "hubs" / "index.html"}
    expected |= {out / "hubs" / f"{hub_filename(c)}.html" for c in codes}
    assert set(written) == expected
    assert next(iter(written)) == out / "plan_map.html"
    for path, size in written.items():
        assert path.stat().st_size == size > 0
    assert not list(out.rglob("*.tmp")), "a temporary file was left behind"


def test_plan_map_has_one_marker_per_building(small_plan, small_pages):
    out, _ = small_pages
    data = payload((out / "plan_map.html").read_text(encoding="utf-8"))
    assert len(data["sites"]) == len(small_plan.dataset.premises)
    assert {s["id"] for s in data["sites"]} == set(small_plan.dataset.premises["site_id"])
    assert {s["kind"] for s in data["sites"]} <= {"gp_practice", "pcn_hub", "community", "acute"}
    assert len(data["pcns"]) == len(small_plan.dataset.pcns)
    assert len(data["areas"]["features"]) == len(small_plan.dataset.pcns)


def test_plan_map_layers_are_named(small_pages):
    out, _ = small_pages
    base, overlays = layer_names((out / "plan_map.html").read_text(encoding="utf-8"))
    assert base == ["Catchment population", "Unmet hours", "Change in travel", "Outlines only"]
    for name in (
        "Buildings",
        "Flows: PCN clinics",
        "Flows: outpatient outreach",
        "Flows: enhanced access",
        "Band: weekday core",
        "Band: weekday evening",
        "Band: Saturday",
    ):
        assert name in overlays


def test_plan_flows_are_moved_hours(small_plan, small_pages):
    out, _ = small_pages
    data = payload((out / "plan_map.html").read_text(encoding="utf-8"))
    flows = data["flows"]
    assert flows, "a plan that moves hours draws flows"
    assert {f[2] for f in flows} <= set(CATEGORY_STYLE)
    assert all(f[5] > 0 and f[4] in ("before", "after") for f in flows)
    alloc = small_plan.allocations
    gained = (alloc["hours_per_week"] - alloc["baseline_hours_per_week"]).clip(lower=0).sum()
    drawn = sum(f[5] for f in flows if f[4] == "after")
    assert drawn == pytest.approx(gained, abs=0.05 * len(flows))


def test_pages_are_offline(small_pages):
    _, written = small_pages
    for path in written:
        page = path.read_text(encoding="utf-8")
        if path.name == "index.html":
            assert not remote_references(page)
            assert "<script" not in page
        else:
            assert_offline(page)


def test_attribution_is_on_every_page(small_pages):
    _, written = small_pages
    for path in written:
        page = path.read_text(encoding="utf-8")
        if path.name == "index.html":
            assert html.escape(HOSTILE_ATTRIBUTION) in page
        else:
            assert payload(page)["attribution"] == f"{HOSTILE_ATTRIBUTION}\n{HOSTILE_BASEMAP_NOTE}"


def test_hostile_names_are_escaped(small_plan, small_pages):
    _, written = small_pages
    for path in written:
        page = path.read_text(encoding="utf-8")
        for hostile in (
            HOSTILE_SITE,
            HOSTILE_PCN,
            HOSTILE_SERVICE,
            HOSTILE_ATTRIBUTION,
            HOSTILE_PLACE,
            HOSTILE_BASEMAP_NOTE,
        ):
            assert hostile not in page, f"{path.name} contains raw {hostile!r}"
        assert "<img src=x" not in page
        assert page.count("<script") == page.count("</script>")
    index = (small_pages[0] / "hubs" / "index.html").read_text(encoding="utf-8")
    assert html.escape(HOSTILE_PCN) in index
    code = str(small_plan.dataset.pcns["pcn_code"].iloc[0])
    hub = (small_pages[0] / "hubs" / f"{hub_filename(code)}.html").read_text(encoding="utf-8")
    assert f"<h1>{html.escape(HOSTILE_PCN)}</h1>" in hub, "panel text must not be a template"
    data = payload((small_pages[0] / "plan_map.html").read_text(encoding="utf-8"))
    assert HOSTILE_SITE in {s["name"] for s in data["sites"]}, "the name itself is kept as data"
    assert HOSTILE_PCN in {p["name"] for p in data["pcns"]}, "data is never run as a template"


def test_hub_page_lists_what_moved(small_plan, small_pages):
    out, _ = small_pages
    moves = small_plan.moves
    code = str(moves["pcn_code"].iloc[0])
    page = (out / "hubs" / f"{hub_filename(code)}.html").read_text(encoding="utf-8")
    assert "What moved" in page
    assert "data-eo-site=" in page
    data = payload(page)
    assert data["page"] == "hub"
    assert [p["code"] for p in data["pcns"]] == [code]
    lsoas = small_plan.dataset.lsoas
    assert len(data["lsoas"]["features"]) == int((lsoas["pcn_code"] == code).sum())
    members = small_plan.dataset.premises
    members = members[(members["pcn_code"] == code) & (members["kind"] == "gp_practice")]
    assert set(members["site_id"]) <= {s["id"] for s in data["sites"]}
    assert any(s.get("label", "").startswith("Hub: ") for s in data["sites"])
    _, overlays = layer_names(page)
    assert {"Deprivation (IMD) by LSOA", "Catchment outline", "Buildings"} <= set(overlays)


def test_rendering_is_deterministic(small_plan):
    assert render_page(plan_map(small_plan)) == render_page(plan_map(small_plan))


def test_notebook_display_and_save_are_offline(small_plan, tmp_path):
    m = hub_map(small_plan, str(small_plan.dataset.pcns["pcn_code"].iloc[1]))
    shown = html.unescape(m._repr_html_())
    assert "estates-opt-vendor:" not in shown and 'version="1.9.4"' in shown
    m.save(str(tmp_path / "hub.html"))
    assert_offline((tmp_path / "hub.html").read_text(encoding="utf-8"))


def test_hub_map_rejects_unknown_pcn(small_plan):
    with pytest.raises(KeyError, match="NOPE"):
        hub_map(small_plan, "NOPE")


def test_hub_filename_is_safe():
    assert hub_filename("U00367") == "U00367"
    assert hub_filename("../../etc/passwd") == "______etc_passwd"
    assert "/" not in hub_filename("a/b") and "." not in hub_filename("a.b")


def test_redraw_maps_from_a_written_plan(small_plan, tmp_path):
    plan_dir = write_plan(small_plan, tmp_path / "plan", workbook=False)
    written = redraw_maps(plan_dir, tmp_path / "maps")
    page = (tmp_path / "maps" / "plan_map.html").read_text(encoding="utf-8")
    assert len(payload(page)["sites"]) == len(small_plan.dataset.premises)
    assert len(written) == len(small_plan.dataset.pcns) + 2


def test_online_variant_adds_tiles_only_when_asked(small_plan):
    online = render_page(plan_map(small_plan, tiles="OpenStreetMap"))
    assert "L.tileLayer" in online
    assert "L.tileLayer" not in render_page(plan_map(small_plan))


def test_js_literal_cannot_close_the_script():
    name = "</script><!-- \u2028 {{ 7*7 }} {% if %}"
    text = to_js_literal({"name": name, "x": float("nan"), "nested": {"a": {}}})
    for bad in ("</", "<!--", "\u2028", "{{", "{%"):
        assert bad not in text
    assert json.loads(text) == {"name": name, "x": None, "nested": {"a": {}}}


def test_remote_references_are_refused():
    with pytest.raises(RuntimeError, match="remote"):
        finish_page('<html><script src="https://example.org/x.js"></script></html>')


def test_vendored_assets_ship_with_licences():
    assert "Volodymyr Agafonkin" in vendor_text("leaflet/LICENSE")
    assert "Permission is hereby granted" in vendor_text("leaflet.fullscreen/LICENSE")
    assert "1.9.4" in vendor_text("leaflet/leaflet.js")


def test_maps_never_import_pulp():
    code = "import sys, estates_opt.outputs.maps.pages; sys.exit('pulp' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- the real NEL plan ---------------------------------------------------------------


def test_nel_plan_map(nel_plan, nel_pages):
    out, written = nel_pages
    page = (out / "plan_map.html").read_text(encoding="utf-8")
    assert written[out / "plan_map.html"] < 5 * MB
    assert_offline(page)
    data = payload(page)
    assert len(data["sites"]) == len(nel_plan.dataset.premises)
    assert len(data["areas"]["features"]) == len(nel_plan.dataset.pcns)
    assert data["boroughs"] and len(data["boroughs"]["features"]) == 8
    assert "Open Government Licence" in data["attribution"]
    _, overlays = layer_names(page)
    assert "Borough outlines" in overlays


def test_nel_hub_pages(nel_plan, nel_pages):
    out, written = nel_pages
    hubs = [p for p in written if p.parent.name == "hubs" and p.name != "index.html"]
    assert len(hubs) == len(nel_plan.dataset.pcns)
    assert max(written[p] for p in hubs) < 1 * MB
    index = (out / "hubs" / "index.html").read_text(encoding="utf-8")
    for p in hubs:
        assert f'href="{p.name}"' in index
    page = hubs[0].read_text(encoding="utf-8")
    assert_offline(page)
    assert "IMD" in page


@pytest.mark.parametrize(
    "bounds",
    [
        [[51.52, -0.08], [51.55, -0.04]],  # a Hackney PCN's size
        [[51.45, 0.10], [51.60, 0.30]],  # Havering and beyond
        [[52.50, 1.00], [52.51, 1.01]],  # far outside NEL: nothing
    ],
)
def test_a_hub_basemap_clips_only_near_features_to_the_same_result(nel_plan, bounds):
    """The bounding-box shortcut must leave out only features that clip to nothing."""
    import shapely

    from estates_opt.outputs.maps.data import build_map_data
    from estates_opt.outputs.maps.geometry import COORD_DECIMALS, feature_collection
    from estates_opt.outputs.maps.layers import _clip_box, basemap_layer

    data = build_map_data(nel_plan)
    fast = basemap_layer(data, bounds)
    west, south, east, north = _clip_box(bounds, 0.35)
    assert fast is not None and data.basemap is not None
    for name, frame in data.basemap.items():  # every feature clipped, as before
        clipped = shapely.set_precision(
            shapely.clip_by_rect(frame.geometry.to_numpy(), west, south, east, north),
            10.0**-COORD_DECIMALS,
        )
        records = frame.drop(columns=frame.geometry.name).to_dict("records")
        assert fast[name] == feature_collection(clipped, records), name
    if bounds[0][0] > 52:
        assert all(not layer["features"] for layer in fast.values())
    else:
        assert any(layer["features"] for layer in fast.values())


def test_basemap_is_drawn_beneath_the_data(nel_plan, nel_pages):
    """Water, roads, rail, stations and place names ship with NEL, with their licences."""
    out, written = nel_pages
    plan_page = (out / "plan_map.html").read_text(encoding="utf-8")
    data = payload(plan_page)
    counts = {name: len(layer["features"]) for name, layer in data["basemap"].items()}
    assert set(counts) == {"water", "roads", "rail", "stations", "places"}
    assert min(counts.values()) > 0, counts
    assert "River Thames" in {f["properties"]["name"] for f in data["basemap"]["water"]["features"]}
    assert "OpenStreetMap" in data["attribution"] and "ODbL" in data["attribution"]
    assert "TfL Open Data" in data["attribution"]
    _, overlays = layer_names(plan_page)
    assert {"Background: water, roads, rail", "Stations", "Place names"} <= set(overlays)
    # Hub pages carry only their part of it, and name the boroughs they show.
    code = str(nel_plan.pcn_summary.sort_values("hours_moved")["pcn_code"].iloc[-1])
    hub = payload((out / "hubs" / f"{hub_filename(code)}.html").read_text(encoding="utf-8"))
    size = len(json.dumps(hub["basemap"]))
    # (the view holds every building the PCN works in, so a far relocation widens it)
    assert 0 < size < len(json.dumps(data["basemap"])) / 2
    assert hub["basemap"]["places"]["features"]
    borough = str(nel_plan.pcn_summary.set_index("pcn_code").loc[code, "borough"])
    assert borough in {label[0] for label in hub["boroughLabels"]}
    assert all(written[p] < 1 * MB for p in written if p.parent.name == "hubs")


def panel_rows(page: str) -> dict[str, str]:
    """A hub page's headline rows, heading to value, as plain text."""
    panel = page[page.index('<aside class="eo-panel">') :]
    rows = re.findall(r"<tr><th>(.*?)</th><td[^>]*>(.*?)</td></tr>", panel)
    return {html.unescape(re.sub("<[^>]+>", "", k)): html.unescape(v) for k, v in rows}


def test_hub_travel_says_where_journeys_start(small_plan, small_pages, nel_plan, nel_pages):
    # Review: NEL weights travel by where each PCN's registered patients live
    # (pcn_summary.csv travel_weighting = patients), but every hub page said
    # "population-weighted", and the plan map's PCN popup "pop.-weighted".
    for plan, (out, _) in ((nel_plan, nel_pages), (small_plan, small_pages)):
        weighting = str(plan.pcn_summary["travel_weighting"].iloc[0])
        code = str(plan.pcn_summary["pcn_code"].iloc[0])
        page = (out / "hubs" / f"{hub_filename(code)}.html").read_text(encoding="utf-8")
        travel = [k for k in panel_rows(page) if k.startswith("Travel")]
        assert len(travel) == 1, travel
        expected = "registered patients" if weighting == "patients" else "residents"
        assert expected in travel[0] and "population-weighted" not in travel[0], travel
        assert payload(page)["pcns"][0]["travelWeighting"] == weighting
    for out, _ in (nel_pages, small_pages):
        assert "pop.-weighted" not in (out / "plan_map.html").read_text(encoding="utf-8")


def test_hub_page_says_tap_as_well_as_click(small_plan, small_pages):
    # Review: clinical directors open hub pages on phones, where nothing is clicked.
    out, _ = small_pages
    code = str(small_plan.dataset.pcns["pcn_code"].iloc[0])
    page = (out / "hubs" / f"{hub_filename(code)}.html").read_text(encoding="utf-8")
    assert "Tap or click a row" in page and "> Click a row" not in page


def test_a_hub_page_says_why_each_clinic_moves_and_what_a_phase_is(nel_plan):
    """A clinical director read "phase 7" with nothing saying what a phase is, and no reason
    for any move; a hub practice was left out of the member practices (2 for Springfield
    Park PCN, whose three include its hub, Stamford Hill Group Practice)."""
    code = "U89154"
    page = render_page(hub_map(nel_plan, code))
    text = html.unescape(re.sub(r"<[^>]+>", " ", page))
    text = " ".join(text.split())
    assert "Member practices 3" in text
    moves = nel_plan.moves[nel_plan.moves["pcn_code"] == code]
    assert len(moves) >= 1
    for why in moves["why"]:
        assert f"Why: {why}." in text
    phases = nel_plan.phases
    first = int(phases["new_relocations"].iloc[0])
    assert f"phase 1 is the ICS's first {first} relocations" in text
    assert f"(of {len(nel_plan.moves)})" in text
    # whole sessions shown as whole numbers
    table = page[page.index('<table class="eo-moves"') :]
    shown = re.findall(r'<td class="n">([^<]*)</td>', table[: table.index("</table>")])
    assert shown and not [s for s in shown if s.endswith(".0")], shown


def test_control_characters_from_the_data_are_text_on_a_page():
    """An ESC in ATTRIBUTION.txt reached hubs/index.html raw: `cat` of the page cleared the
    terminal. Text written into a page shows control characters as \\x1b."""
    from estates_opt.outputs.maps.markup import esc

    assert esc("\x1b[2J\x1b]0;pwned\x07<b>\nnext") == "\\x1b[2J\\x1b]0;pwned\\x07&lt;b&gt;\nnext"
