"""Maps in a real browser: headless Chromium, network off, file:// pages.

Uses the Debian chromium binary (never downloads one). Every page must load
with no JavaScript errors and no network request, draw one marker per
building, react to the layer control, and never run a script hidden in a name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import chromium_path
from test_maps import HOSTILE_PCN, HOSTILE_SITE, hostile_plan, payload

from estates_opt.outputs.maps.pages import hub_filename, write_maps

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]


@dataclass
class Opened:
    """A loaded page and everything it tried to do that it should not."""

    page: Any
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.errors, f"JavaScript errors: {self.errors}"
        assert not self.requests, f"network requests: {self.requests}"
        assert not self.dialogs, f"dialogs fired: {self.dialogs}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (/usr/bin/chromium): browser tests need it")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser) -> Iterator[Any]:
    contexts = []

    def opener(
        path: Path, *, wait_for_sites: bool = True, viewport: tuple[int, int] = (1400, 900)
    ) -> Opened:
        width, height = viewport
        context = browser.new_context(viewport={"width": width, "height": height}, offline=True)
        contexts.append(context)
        opened = Opened(context.new_page())

        def route(r: Any) -> None:
            if r.request.url.startswith(("file:", "data:")):
                r.continue_()
            else:
                opened.requests.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = opened.page
        page.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: opened.errors.append(str(e)))
        page.on("dialog", lambda d: (opened.dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri(), wait_until="load")
        if wait_for_sites:
            page.wait_for_selector("path.eo-site", state="attached", timeout=10_000)
        return opened

    yield opener
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def small_maps(tmp_path_factory) -> tuple[Any, Path]:
    base = tmp_path_factory.mktemp("browser_small")
    plan = hostile_plan(base / "data")
    write_maps(plan, base / "maps")
    return plan, base / "maps"


@pytest.fixture(scope="module")
def nel_maps(nel_plan, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser_nel") / "maps"
    write_maps(nel_plan, out)
    return out


def count(page: Any, selector: str) -> int:
    return int(page.evaluate(f"document.querySelectorAll({selector!r}).length"))


def layer_box(page: Any, name: str) -> Any:
    """A layer's check box, the (collapsed) layer control opened first, as a reader would."""
    page.hover(".leaflet-control-layers")
    return page.locator(".leaflet-control-layers label", has_text=name).locator("input")


def test_nel_plan_map_renders(nel_plan, nel_maps, open_page, tmp_path):
    opened = open_page(nel_maps / "plan_map.html")
    page = opened.page
    assert count(page, "path.eo-site") == len(nel_plan.dataset.premises)
    assert count(page, "path.eo-flow") > 0
    assert count(page, ".leaflet-eoAreas-pane path") >= len(nel_plan.dataset.pcns)
    assert "Open Government Licence" in page.inner_text(".leaflet-control-attribution")
    # A sense of place: water, roads and rail beneath the data, town names on top of it.
    assert count(page, ".leaflet-eoBase-pane path") >= 3
    assert page.locator(".eo-place-label", has_text="Romford").first.is_visible()
    page.locator(".leaflet-control-attribution summary").click()
    assert "OpenStreetMap" in page.inner_text(".leaflet-control-attribution")
    shot = tmp_path / "plan_map.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    opened.assert_clean()


def test_layer_control_changes_the_map(nel_maps, open_page):
    opened = open_page(nel_maps / "plan_map.html")
    page = opened.page
    flows = count(page, "path.eo-flow")
    layer_box(page, "Flows: PCN clinics").click()
    fewer = count(page, "path.eo-flow")
    assert 0 < fewer < flows
    layer_box(page, "Band: weekday core").click()
    assert count(page, "path.eo-flow") < fewer
    layer_box(page, "Band: weekday core").click()
    layer_box(page, "Flows: PCN clinics").click()
    assert count(page, "path.eo-flow") == flows

    sites = count(page, "path.eo-site")
    layer_box(page, "Buildings").click()
    assert count(page, "path.eo-site") == 0
    layer_box(page, "Buildings").click()
    assert count(page, "path.eo-site") == sites

    assert "Catchment population" in page.inner_text(".eo-legend")
    layer_box(page, "Unmet hours").click()
    assert "Unmet demand" in page.inner_text(".eo-legend")

    gauges = page.evaluate(
        "Array.from(document.querySelectorAll('path.eo-gauge'))"
        ".map(p => p.getAttribute('stroke-dasharray')).join('|')"
    )
    page.check(".eo-mode input[value=before]")
    assert "today" in page.inner_text(".eo-legend")
    after = page.evaluate(
        "Array.from(document.querySelectorAll('path.eo-gauge'))"
        ".map(p => p.getAttribute('stroke-dasharray')).join('|')"
    )
    assert after != gauges, "the before/after switch did not change the utilisation rings"
    opened.assert_clean()


def test_nel_hub_page_renders(nel_plan, nel_maps, open_page, tmp_path):
    code = str(nel_plan.pcn_summary.sort_values("hours_moved").iloc[-1]["pcn_code"])
    path = nel_maps / "hubs" / f"{hub_filename(code)}.html"
    opened = open_page(path)
    page = opened.page
    data = payload(path.read_text(encoding="utf-8"))
    assert count(page, "path.eo-site") == len(data["sites"])
    assert count(page, ".leaflet-eoAreas-pane path") >= len(data["lsoas"]["features"])
    assert page.locator(".eo-panel h1").inner_text() == data["pcns"][0]["name"]
    boroughs = page.locator(".eo-borough-label").all_inner_texts()
    assert data["pcns"][0]["borough"].upper() in {b.upper() for b in boroughs}
    assert count(page, ".leaflet-eoBase-pane path") > 0
    assert count(page, ".eo-place-label") > 0
    rows = page.locator("[data-eo-site]")
    assert rows.count() > 0
    rows.first.click()
    page.wait_for_selector(".leaflet-popup .eo-pop h3", timeout=5_000)
    page.screenshot(path=str(tmp_path / "hub.png"))
    assert (tmp_path / "hub.png").stat().st_size > 20_000
    layer_box(page, "Deprivation (IMD) by LSOA").click()
    assert count(page, ".leaflet-eoAreas-pane path") < len(data["lsoas"]["features"])
    opened.assert_clean()


def test_index_links_every_hub_page(nel_plan, nel_maps, open_page):
    opened = open_page(nel_maps / "hubs" / "index.html", wait_for_sites=False)
    links = opened.page.locator("table a")
    assert links.count() == len(nel_plan.dataset.pcns)
    links.first.click()
    opened.page.wait_for_selector("path.eo-site", state="attached", timeout=10_000)
    opened.assert_clean()


def test_hostile_names_never_run(small_maps, open_page, tmp_path):
    plan, out = small_maps
    opened = open_page(out / "plan_map.html")
    page = opened.page
    assert count(page, "path.eo-site") == len(plan.dataset.premises)
    search = page.locator(".eo-search input")
    for name in (HOSTILE_SITE, HOSTILE_PCN):
        search.fill(name)
        search.press("Enter")
        # The name is shown as text in the popup's heading, not parsed as HTML.
        title = page.locator(".leaflet-popup .eo-pop h3", has_text=name)
        title.first.wait_for(timeout=5_000)
        assert title.first.inner_text() == name
    page.hover(".leaflet-eoSites-pane path.eo-site >> nth=0", force=True)
    assert count(page, "img[src=x]") == 0
    page.screenshot(path=str(tmp_path / "hostile.png"))
    opened.assert_clean()

    code = str(plan.dataset.pcns["pcn_code"].iloc[0])
    hub = open_page(out / "hubs" / f"{hub_filename(code)}.html")
    assert hub.page.locator(".eo-panel h1").inner_text() == HOSTILE_PCN
    assert count(hub.page, "img[src=x]") == 0
    hub.assert_clean()


# --- phones, small screens and paper -------------------------------------------------

SCREENS = {"desktop": (1400, 900), "phone": (390, 844)}
#: Kept for a person to look at after a run (also copied under each test's tmp dir).
SHOTS = Path(__file__).resolve().parent.parent / ".cache" / "screenshots"


def rect(page: Any, selector: str) -> dict[str, float] | None:
    """The first matching element's box on the page (None if absent or not displayed)."""
    return page.evaluate(
        """s => { const e = document.querySelector(s); if (!e) return null;
        const r = e.getBoundingClientRect(); if (!r.width || !r.height) return null;
        return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; }""",
        selector,
    )


def overlap(a: dict[str, float], b: dict[str, float]) -> float:
    """Area (px²) shared by two boxes."""
    w = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
    h = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
    return max(w, 0) * max(h, 0)


def keep_shot(page: Any, tmp_path: Path, name: str, *, full_page: bool = False) -> Path:
    shot = tmp_path / f"{name}.png"
    page.screenshot(path=str(shot), full_page=full_page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / shot.name).write_bytes(shot.read_bytes())
    return shot


def inside(a: dict[str, float], b: dict[str, float], slack: float = 2) -> bool:
    """Whether box ``a`` lies within box ``b`` (to ``slack`` px)."""
    return (
        a["x"] >= b["x"] - slack
        and a["y"] >= b["y"] - slack
        and a["x"] + a["w"] <= b["x"] + b["w"] + slack
        and a["y"] + a["h"] <= b["y"] + b["h"] + slack
    )


def catchment_box(page: Any) -> dict[str, float] | None:
    """The box around a hub page's catchment outline (all its parts)."""
    return page.evaluate(
        """() => { const ps = document.querySelectorAll('path.eo-catchment'); if (!ps.length)
          return null; let x0 = 1e9, y0 = 1e9, x1 = -1e9, y1 = -1e9;
          ps.forEach(p => { const r = p.getBoundingClientRect(); x0 = Math.min(x0, r.left);
            y0 = Math.min(y0, r.top); x1 = Math.max(x1, r.right); y1 = Math.max(y1, r.bottom); });
          return {x: x0 + scrollX, y: y0 + scrollY, w: x1 - x0, h: y1 - y0}; }"""
    )


def drawn_sites(page: Any) -> tuple[int, int]:
    """Building markers drawn with a real position and size, and those Leaflet left out
    because they are outside the view (``M0 0``); a NaN position counts as neither."""
    drawn, clipped = page.evaluate(
        """() => { let drawn = 0, clipped = 0;
          document.querySelectorAll('path.eo-site').forEach(p => {
            const r = p.getBoundingClientRect(), d = p.getAttribute('d') || '';
            if (d.indexOf('NaN') >= 0) return;
            if (r.width > 0 && r.height > 0) drawn++; else if (d === 'M0 0') clipped++; });
          return [drawn, clipped]; }"""
    )
    return int(drawn), int(clipped)


def two_hubs(nel_plan: Any, nel_maps: Path) -> list[Path]:
    """The hub pages of the PCNs with the most and the fewest hours moved."""
    order = nel_plan.pcn_summary.sort_values("hours_moved")["pcn_code"].astype(str)
    return [nel_maps / "hubs" / f"{hub_filename(c)}.html" for c in (order.iloc[-1], order.iloc[0])]


@pytest.mark.parametrize("screen", list(SCREENS))
def test_pages_work_on_desktop_and_phone(nel_plan, nel_maps, open_page, tmp_path, screen):
    size = SCREENS[screen]
    for path in [nel_maps / "plan_map.html", *two_hubs(nel_plan, nel_maps)]:
        opened = open_page(path, viewport=size)
        page = opened.page
        page.wait_for_timeout(150)  # the resize observer's refit
        expected = count(page, "path.eo-site")
        assert expected > 0
        drawn, clipped = drawn_sites(page)
        assert drawn + clipped == expected, f"{path.name}: markers without a position at {size}"
        assert drawn >= 0.8 * expected, f"{path.name}: markers not drawn at {size}"
        view = rect(page, ".folium-map")
        # The map keeps most of the screen: full width on a phone, all but the panel on a desktop.
        least = size[0] * (0.7 if screen == "desktop" else 0.95)
        assert view is not None and view["w"] >= least and view["h"] >= 400, f"{path.name}: {view}"
        panel = rect(page, ".eo-panel")
        if panel is not None:  # hub pages: the panel is beside or below the map, never over it
            assert overlap(panel, view) == 0, f"{path.name}: panel covers the map at {size}"
            if screen == "phone":
                assert panel["y"] >= view["y"] + view["h"] - 1
            # The catchment is fitted clear of the controls over the map's top and foot
            # (on a phone they cover a third of it), and of the open legend on a desktop.
            area = catchment_box(page)
            assert area and inside(area, view), f"{path.name}: catchment cut at {size}"
            for control in (".eo-search", ".eo-mode", ".leaflet-control-attribution"):
                box = rect(page, control)
                assert box and overlap(area, box) == 0, f"{path.name}: {control} over the PCN"
        # Folded legend and layer list on a phone; the layer list folded everywhere.
        assert count(page, ".leaflet-control-layers-expanded") == 0
        legend_open = count(page, ".eo-legend details[open]")
        assert legend_open == (1 if screen == "desktop" else 0)
        # The attribution and the scale bar never share pixels.
        attribution, scale = (
            rect(page, ".leaflet-control-attribution"),
            rect(page, ".leaflet-control-scale"),
        )
        assert attribution and scale and overlap(attribution, scale) == 0
        keep_shot(page, tmp_path, f"{screen}_{path.stem}")
        opened.assert_clean()

    opened = open_page(nel_maps / "hubs" / "index.html", wait_for_sites=False, viewport=size)
    page = opened.page
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0] + 1, "index too wide"
    assert page.locator("table a").count() == len(nel_plan.dataset.pcns)
    keep_shot(page, tmp_path, f"{screen}_index")
    opened.assert_clean()


def test_pages_print_cleanly(nel_plan, nel_maps, open_page, tmp_path):
    for path in [nel_maps / "plan_map.html", *two_hubs(nel_plan, nel_maps)]:
        opened = open_page(path)
        page = opened.page
        page.emulate_media(media="print")
        # As a browser does before printing (page.pdf does too): the map takes its paper
        # size and the view is fitted to it; a view fitted to the screen printed shifted.
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        # ... and then Chromium reports the print media query as not matching, then matching
        # again, before it lays out the paper: the screen layout must not come back then.
        page.emulate_media(media="screen")
        page.emulate_media(media="print")
        page.wait_for_timeout(200)
        for control in (
            ".eo-search",
            ".leaflet-control-zoom",
            ".leaflet-control-layers",
            ".eo-mode",
            ".leaflet-control-fullscreen",
        ):
            assert rect(page, control) is None, f"{path.name}: {control} printed"
        expected = count(page, "path.eo-site")
        drawn, clipped = drawn_sites(page)
        assert drawn + clipped == expected and drawn >= 0.8 * expected > 0
        data = payload(path.read_text(encoding="utf-8"))
        view, legend = rect(page, ".folium-map"), rect(page, ".eo-legend")
        assert view and legend and inside(legend, view)
        assert page.locator(".eo-legend details[open]").count() == 1, "legend folded on paper"
        # every line of the attribution on paper (on screen it is folded in the map's corner)
        printed = page.inner_text(".eo-print-attr")
        lines = [line.strip() for line in data["attribution"].splitlines() if line.strip()]
        assert len(lines) >= 2 and all(line in printed for line in lines)
        if data["page"] == "plan":
            # Every building on the paper, none under the legend: A4 landscape, 257 x 178 mm.
            assert drawn == expected, f"{expected - drawn} buildings off the printed map"
            assert view["w"] >= 257 * 96 / 25.4 - 2
        if data["page"] == "hub":
            panel = rect(page, ".eo-panel")
            assert panel and overlap(view, panel) == 0
            # A4 portrait less its margins: 186 mm wide.
            assert view["w"] >= 186 * 96 / 25.4 - 2, "the printed map does not span the page"
            area = catchment_box(page)
            assert area and inside(area, view), "the printed map cuts the catchment"
            assert overlap(area, legend) == 0, "the printed legend covers the catchment"
            label = rect(page, ".eo-hub-label")
            assert label and inside(label, view), "the hub's name runs off the printed map"
            assert overlap(label, legend) == 0, "the printed legend covers the hub's name"
            # Every move is printed: the panel is not a scrolling box cut at one page.
            rows = page.locator(".eo-moves tbody tr")
            grouped = page.evaluate(
                "() => { const p = document.querySelector('.eo-panel');"
                " return [p.scrollHeight, p.clientHeight]; }"
            )
            assert grouped[0] <= grouped[1] + 1
            assert rows.count() == len(
                nel_plan.moves[
                    nel_plan.moves["pcn_code"].astype(str) == data["pcns"][0]["code"]
                ].groupby(["service", "from_site_id", "to_site_id", "from_band", "to_band"])
            )
        pdf = tmp_path / f"{path.stem}.pdf"
        page.pdf(path=str(pdf), format="A4")
        pages = pdf_pages(pdf)
        assert pages >= 1
        if data["page"] == "hub" and rows.count() > 60:
            assert pages >= 2, f"{path.name}: {rows.count()} moves printed on one page"
        (SHOTS / pdf.name).write_bytes(pdf.read_bytes())
        keep_shot(page, tmp_path, f"print_{path.stem}", full_page=True)
        opened.assert_clean()

    # The index on paper: every PCN, no link to follow, one table.
    opened = open_page(nel_maps / "hubs" / "index.html", wait_for_sites=False)
    page = opened.page
    page.emulate_media(media="print")
    pcn_table = page.locator("table").first  # the phased plan's table follows it
    assert pcn_table.locator("tbody tr").count() == len(nel_plan.dataset.pcns)
    assert rect(page, ".sub a") is None
    pdf = tmp_path / "index.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf_pages(pdf) <= 4
    (SHOTS / pdf.name).write_bytes(pdf.read_bytes())
    keep_shot(page, tmp_path, "print_index", full_page=True)
    opened.assert_clean()


def pdf_pages(pdf: Path) -> int:
    """Pages in a PDF that Chromium wrote."""
    data = pdf.read_bytes()
    return data.count(b"/Type /Page") - data.count(b"/Type /Pages")


def test_controls_never_hide_content(nel_plan, nel_maps, open_page, tmp_path):
    # The search box never covers a building popup's first line.
    opened = open_page(nel_maps / "plan_map.html")
    page = opened.page
    search = page.locator(".eo-search input")
    names = sorted(nel_plan.dataset.premises["name"].astype(str))
    for name in (names[0], names[len(names) // 2], names[-1]):
        search.fill(name)
        search.press("Enter")
        page.locator(".leaflet-popup .eo-pop h3").first.wait_for(timeout=5_000)
        page.wait_for_timeout(400)  # the pan that brings the popup into view
        title, box = rect(page, ".leaflet-popup .eo-pop h3"), rect(page, ".eo-search")
        assert title and box and overlap(title, box) == 0, f"search box covers {name!r}"
        for corner in (".leaflet-top.leaflet-right",):
            other = rect(page, corner + " .leaflet-control")
            assert other is None or overlap(title, other) == 0
    opened.assert_clean()

    # On a small desktop (1024x768) the open legend sits beside the ICS, not over Havering.
    opened = open_page(nel_maps / "plan_map.html", viewport=(1024, 768))
    page = opened.page
    page.wait_for_timeout(150)
    assert count(page, ".eo-legend details[open]") == 1
    under = page.evaluate(
        """() => { const l = document.querySelector('.eo-legend').getBoundingClientRect();
          let east = -1e9; document.querySelectorAll('.leaflet-eoAreas-pane path').forEach(p => {
            const r = p.getBoundingClientRect(); if (r.width > 0) east = Math.max(east, r.right);
          }); return east - l.left; }"""
    )
    assert under <= 0, f"the east of the ICS is {under:.0f} px under the legend at 1024x768"
    keep_shot(page, tmp_path, "plan_map_1024x768")
    opened.assert_clean()

    # The hub popup shows its whole rooms table, "Booked" included, and the hub's label is
    # not under the legend on a 1024x768 screen.
    hub = two_hubs(nel_plan, nel_maps)[0]
    for size in ((1400, 900), (1024, 768), (390, 844)):
        opened = open_page(hub, viewport=size)
        page = opened.page
        page.wait_for_timeout(150)
        label, legend = rect(page, ".eo-hub-label"), rect(page, ".eo-legend")
        assert label and legend and overlap(label, legend) == 0, f"legend hides the hub at {size}"
        page.locator(".eo-moves [data-eo-site]").first.click()
        page.wait_for_selector(".leaflet-popup .eo-tt", timeout=5_000)
        widths = page.evaluate(
            "() => { const c = document.querySelector('.leaflet-popup-content');"
            " const t = c.querySelector('.eo-tt'); return [t.scrollWidth, c.clientWidth]; }"
        )
        assert widths[0] <= widths[1], f"rooms table clipped at {size}: {widths}"
        assert "Booked" in page.inner_text(".leaflet-popup .eo-tt thead")
        # The popup is on the screen (on a phone the list is below the map: it scrolls back),
        # once the scroll and the pan that bring it into view have run.
        page.wait_for_timeout(400)
        seen = page.evaluate(
            "() => { const r = document.querySelector('.leaflet-popup-content-wrapper')"
            ".getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
        )
        assert seen, f"the popup opened off the screen at {size}"
        page.wait_for_timeout(400)  # the pan that brings the popup into view
        popup, view = rect(page, ".leaflet-popup-content-wrapper"), rect(page, ".folium-map")
        assert popup and view and overlap(popup, view) == popup["w"] * popup["h"], "popup cut"
        for control in (".eo-search", ".eo-mode", ".leaflet-control-layers"):
            box = rect(page, control)
            assert box and overlap(popup, box) == 0, f"{control} covers the popup at {size}"
        if size[0] < 500:  # a phone: the folded legend and the attribution are below it too
            for control in (".eo-legend", ".leaflet-control-attribution"):
                box = rect(page, control)
                assert box and overlap(popup, box) == 0, f"{control} covers the popup at {size}"
        keep_shot(page, tmp_path, f"popup_{size[0]}x{size[1]}_{hub.stem}")
        opened.assert_clean()


# --- a reviewer's pass over the NEL pages: labels, buildings, paper, fingers ------------

#: Hub pages looked at in review: a small PCN (Newham), the biggest (Havering), another
#: in Havering and one in Tower Hamlets.
REVIEWED = ("U34188", "U00367", "U29424", "U54453")

CLEAR_JS = """() => {
  const box = s => { const e = document.querySelector(s); if (!e) return null;
    const r = e.getBoundingClientRect(); return r.width && r.height ? r : null; };
  const meet = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  const map = box('.folium-map'), out = [];
  const controls = ['.eo-legend', '.leaflet-control-attribution', '.leaflet-control-scale',
    '.eo-search', '.eo-mode', '.leaflet-control-zoom', '.leaflet-control-layers'];
  document.querySelectorAll('path.eo-gauge-track').forEach(p => {
    const r = p.getBoundingClientRect(); if (!r.width) return;
    if (r.left < map.left - 1 || r.top < map.top - 1 || r.right > map.right + 1 ||
        r.bottom > map.bottom + 1) out.push('cut by the map edge');
    controls.forEach(c => { const b = box(c); if (b && meet(r, b)) out.push('under ' + c); });
  });
  return out; }"""

LABELS_JS = """() => {
  const map = document.querySelector('.folium-map').getBoundingClientRect(), shown = [];
  document.querySelectorAll('.eo-borough-label, .eo-hub-label').forEach(e => {
    if (!e.checkVisibility({visibilityProperty: true, opacityProperty: true})) return;
    const range = document.createRange(); range.selectNodeContents(e);
    const r = range.getBoundingClientRect(); if (!r.width) return;
    shown.push({text: e.textContent, r: r}); });
  const meet = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
  const out = [];
  shown.forEach((a, i) => {
    if (a.r.left < map.left - 1 || a.r.right > map.right + 1) out.push(a.text + ' off the map');
    shown.slice(i + 1).forEach(b => { if (meet(a.r, b.r)) out.push(a.text + ' on ' + b.text); });
  });
  return {problems: out, shown: shown.map(x => x.text.toUpperCase())}; }"""


def all_pages(nel_maps: Path) -> list[Path]:
    return [nel_maps / "plan_map.html", *sorted((nel_maps / "hubs").glob("U*.html"))]


def pages_for(nel_maps: Path, screen: str) -> list[Path]:
    """Every page on a phone (where most collided: 44 of 47 hub pages); elsewhere the plan
    map, the reviewed hubs and every fourth other, so the suite stays within its minutes."""
    pages = all_pages(nel_maps)
    if screen == "phone":
        return pages
    return [p for i, p in enumerate(pages) if i % 4 == 0 or p.stem in REVIEWED]


def to_paper(page: Any) -> None:
    """Lay a page out for printing as Chromium does before page.pdf."""
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    page.wait_for_timeout(150)


@pytest.mark.parametrize("screen", ["desktop", "phone", "paper"])
def test_buildings_and_labels_are_whole_and_clear(nel_plan, nel_maps, open_page, screen):
    # Review, buildings: on paper one at the map's foot printed under the attribution or
    # the scale bar, one at its edge half cut (U34188: the hospitals its outreach runs in).
    # Labels: borough names were drawn from their point rightwards, not centred on it
    # (Leaflet's own transform replaced the style sheet's), so they ran into each other
    # ("BARKING AND DAGENHAMHAVERING"), off a phone's screen ("BARKING AND DAGENH") and
    # under the hub's name (Tower Hamlets on the Tower Hamlets Network 2 page).
    size = (390, 844) if screen == "phone" else (1366, 768)
    boroughs = dict(
        zip(
            nel_plan.dataset.pcns["pcn_code"].astype(str),
            nel_plan.dataset.pcns["borough"].astype(str),
            strict=True,
        )
    )
    buildings, labels = {}, {}
    for path in pages_for(nel_maps, screen):
        opened = open_page(path, viewport=size)
        page = opened.page
        page.wait_for_timeout(100)
        if screen == "paper":
            to_paper(page)
        found = page.evaluate(CLEAR_JS)
        if found:
            buildings[path.stem] = sorted(set(found))
        named = page.evaluate(LABELS_JS)
        if named["problems"]:
            labels[path.stem] = named["problems"]
        if path.stem in REVIEWED:  # the PCN's own borough stays named
            assert boroughs[path.stem].upper() in named["shown"], f"{path.stem}: {named}"
        opened.assert_clean()
        opened.page.context.close()
    assert not buildings, f"buildings cut or hidden ({screen}): {buildings}"
    assert not labels, f"labels collide ({screen}): {labels}"


def test_printed_hub_page_keeps_the_scale_and_names_the_pcn_before_the_small_print(
    nel_maps, open_page
):
    # Review: on paper the scale bar's "3000 ft" ran under the attribution (its width was
    # the screen's), and 30 lines of licences came between the map and the PCN's name.
    for code in REVIEWED:
        opened = open_page(nel_maps / "hubs" / f"{code}.html", viewport=(1366, 768))
        page = opened.page
        to_paper(page)
        attribution, scale = (
            rect(page, ".leaflet-control-attribution"),
            rect(page, ".leaflet-control-scale"),
        )
        assert attribution and scale and overlap(attribution, scale) == 0, code
        name, small_print = rect(page, ".eo-panel h1"), rect(page, ".eo-print-attr")
        moves = rect(page, ".eo-moves")
        assert name and small_print and moves
        assert name["y"] < small_print["y"] and moves["y"] < small_print["y"], code
        opened.assert_clean()
    opened = open_page(nel_maps / "plan_map.html", viewport=(1366, 768))
    to_paper(opened.page)
    attribution, scale = (
        rect(opened.page, ".leaflet-control-attribution"),
        rect(opened.page, ".leaflet-control-scale"),
    )
    assert attribution and scale and overlap(attribution, scale) == 0


def test_printed_moves_name_every_building_a_clinic_leaves(nel_plan, nel_maps, open_page):
    # Review: "CRANHAM VILLAGE SURGERY and 15 other slots": the 15 were only in a hover
    # title, which paper (and a phone) never shows.
    for code in REVIEWED:
        opened = open_page(nel_maps / "hubs" / f"{code}.html", viewport=(1366, 768))
        page = opened.page
        to_paper(page)
        printed = page.inner_text(".eo-moves")
        moves = nel_plan.moves[nel_plan.moves["pcn_code"].astype(str) == code]
        for text in moves["from_sites"].astype(str):
            for part in text.split("; "):
                name = part.rsplit(" (", 1)[0]
                assert name in printed, f"{code}: {name!r} not on paper"
        opened.assert_clean()


PHONE_TARGETS = (
    ".leaflet-control-zoom a",
    ".leaflet-control-fullscreen a",
    ".leaflet-control-layers-toggle",
    ".eo-mode label",
    ".eo-legend summary",
    ".eo-search input",
    ".eo-panel nav a",
)


def test_phone_controls_are_big_enough_to_tap(browser, nel_maps):
    # Review at 390x844, touch: "Before/After" were 20 px rows, the legend's button 16 px,
    # "All PCNs" 15 px; the search box's 13 px text made iOS zoom the page on a tap, and
    # its hint was cut ("Find a practice, building or P").
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        offline=True,
    )
    try:
        for path in (nel_maps / "plan_map.html", nel_maps / "hubs" / f"{REVIEWED[0]}.html"):
            page = context.new_page()
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(200)
            small = page.evaluate(
                """sels => sels.flatMap(s => Array.from(document.querySelectorAll(s)).map(e => {
                  const r = e.getBoundingClientRect(); return [s, r.width, r.height]; })
                  .filter(x => x[1] > 0 && (x[1] < 32 || x[2] < 32)))""",
                list(PHONE_TARGETS),
            )
            assert not small, f"{path.name}: too small to tap: {small}"
            # The hint typed in as text, beside the box's clear button: does it overflow?
            search = page.evaluate(
                """() => { const i = document.querySelector('.eo-search input');
                  i.value = i.placeholder; const out = [parseFloat(getComputedStyle(i).fontSize),
                  i.scrollWidth, i.clientWidth]; i.value = ''; return out; }"""
            )
            assert search[0] >= 16, f"{path.name}: search text {search[0]} px zooms iOS"
            assert search[1] <= search[2], f"{path.name}: search hint cut: {search}"
            page.close()
        page = context.new_page()
        page.goto((nel_maps / "hubs" / "index.html").as_uri(), wait_until="load")
        heights = page.evaluate(
            "Array.from(document.querySelectorAll('a')).map(a => a.getBoundingClientRect().height)"
        )
        assert heights and min(heights) >= 32, f"index links too small to tap: {min(heights)}"
    finally:
        context.close()


def test_phased_plan_chart_labels_do_not_overlap(nel_maps, open_page):
    # Review: the curve's axis title ran through its "100%".
    opened = open_page(nel_maps / "hubs" / "index.html", wait_for_sites=False)
    boxes = opened.page.evaluate(
        """() => Array.from(document.querySelectorAll('svg.eo-phases text')).map(t => {
          const r = t.getBoundingClientRect();
          return {t: t.textContent, x: r.left, y: r.top, w: r.width, h: r.height}; })"""
    )
    assert len(boxes) >= 4
    clashes = [
        (a["t"], b["t"]) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if overlap(a, b) > 0
    ]
    assert not clashes, f"chart labels overlap: {clashes}"
    opened.assert_clean()


def test_open_legend_never_covers_a_building_popup(nel_maps, open_page):
    # Review at 1366x768: a move's row opened its building's popup under the open legend,
    # which hid the Saturday rows of the rooms table and the services list.
    opened = open_page(nel_maps / "hubs" / f"{REVIEWED[1]}.html", viewport=(1366, 768))
    page = opened.page
    page.wait_for_timeout(150)
    assert count(page, ".eo-legend details[open]") == 1
    page.locator(".eo-moves [data-eo-site]").first.click()
    page.wait_for_selector(".leaflet-popup .eo-tt", timeout=5_000)
    page.wait_for_timeout(800)  # the pan that brings the popup into view
    popup, legend = rect(page, ".leaflet-popup-content-wrapper"), rect(page, ".eo-legend")
    assert popup and legend and overlap(popup, legend) == 0, "the legend covers the popup"
    page.locator(".leaflet-popup-close-button").click()
    page.wait_for_timeout(100)
    assert count(page, ".eo-legend details[open]") == 1, "the legend stayed folded"
    opened.assert_clean()
