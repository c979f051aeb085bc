"""The app in headless Chromium, offline: the ward map paints its 92 groups.

Needs Debian's chromium (``apt-get install chromium``) and Playwright from PyPI; never
``playwright install``. Skips with a reason without Chromium, except in CI
(``URBAN_ORDER_REQUIRE_BROWSER=1``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.apprunner import ROOT, AppServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
SCREENSHOTS = ROOT / "screenshots"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("URBAN_ORDER_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def app_url(demo_store, tmp_path_factory):
    server = AppServer(demo_store, log=tmp_path_factory.mktemp("app") / "app.log")
    try:
        server.wait()
        yield server.url
    finally:
        server.stop()


def test_map_page_paints_every_group_offline(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    foreign: list[str] = []

    def only_loopback(route):
        host = urlparse(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.goto(app_url, wait_until="domcontentloaded")
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    frame.locator(".leaflet-container").wait_for(timeout=60_000)
    frame.locator("path.leaflet-interactive").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)  # let the clusters and legend settle for the screenshot
    polygons = frame.locator("path.leaflet-interactive").count()
    clusters = frame.locator(".marker-cluster").count()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "map.png"), full_page=True)
    assert polygons >= 92, f"only {polygons} polygons drawn"
    assert clusters > 0, "no record clusters drawn"
    assert "Bản đồ" in page.content()
    assert not foreign, f"the page tried to reach the internet: {foreign[:5]}"
    page.close()


def test_language_switch_to_english(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_url, wait_until="domcontentloaded")
    page.get_by_text("English").click()
    page.get_by_text("Urban-order map").wait_for(timeout=30_000)
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    frame.locator("path.leaflet-interactive").first.wait_for(timeout=30_000)
    page.close()
