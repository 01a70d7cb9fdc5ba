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

    def opener(path: Path, *, wait_for_sites: bool = True) -> Opened:
        context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=True)
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
    return page.locator(".leaflet-control-layers label", has_text=name).locator("input")


def test_nel_plan_map_renders(nel_plan, nel_maps, open_page, tmp_path):
    opened = open_page(nel_maps / "plan_map.html")
    page = opened.page
    assert count(page, "path.eo-site") == len(nel_plan.dataset.premises)
    assert count(page, "path.eo-flow") > 0
    assert count(page, ".leaflet-eoAreas-pane path") >= len(nel_plan.dataset.pcns)
    assert "Open Government Licence" in page.inner_text(".leaflet-control-attribution")
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

    assert "Population" in page.inner_text(".eo-legend")
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
