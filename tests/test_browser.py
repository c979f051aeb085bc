"""The app in headless Chromium, offline: the ward map paints its 92 groups.

Needs Debian's chromium (``apt-get install chromium``) and Playwright from PyPI; never
``playwright install``. Skips with a reason without Chromium, except in CI
(``URBAN_ORDER_REQUIRE_BROWSER=1``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from geo.demo import DEMO_PASSWORD
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


def _loopback_only_page(browser, *, height: int):
    """A page whose requests beyond this machine are refused and listed (the app is offline)."""
    page = browser.new_page(viewport={"width": 1400, "height": height})
    foreign: list[str] = []

    def only_loopback(route):
        host = urlparse(route.request.url).hostname or ""
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    return page, foreign


def _open(page, url: str, *, account: str = "quantri", screenshot: str | None = None) -> None:
    """Open ``url`` in a new session and sign in there with a demo account (each page of
    ``browser.new_page`` has a browser context of its own; a page signed in before forgets
    its session cookie first, as another person's browser would not have it)."""
    page.context.clear_cookies()
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_label("Tài khoản").fill(account, timeout=60_000)
    page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    if screenshot:
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / screenshot))
    page.get_by_role("button", name="Đăng nhập").click()
    page.get_by_text("Đang đăng nhập:").first.wait_for(timeout=60_000)


def test_map_page_paints_every_group_offline(browser, app_url):
    page, foreign = _loopback_only_page(browser, height=1000)
    _open(page, app_url, account="doitrat", screenshot="signin.png")
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
    # a viewer's menu has no upload page
    nav = page.get_by_test_id("stSidebarNav")
    assert nav.get_by_text("Hồ sơ").count() == 1 and nav.get_by_text("Tải lên").count() == 0
    assert not foreign, f"the page tried to reach the internet: {foreign[:5]}"
    page.close()


def test_the_city_view_opens_from_its_address_and_paints_every_group(browser, demo_copy, tmp_path):
    """A second ward in the demo store; ``?view=city`` survives the sign-in and shows both."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry import Point, box

    from geo.store import open_store

    shape = box(105.86, 21.0, 105.87, 21.01)
    open_store(demo_copy).write(
        {
            "wards": gpd.GeoDataFrame({"ward_id": ["B"], "name": ["Phường B"]},
                                      geometry=[shape], crs=4326),
            "groups": gpd.GeoDataFrame({"group_id": ["B-1"], "ward_id": ["B"], "name": ["Tổ B1"]},
                                       geometry=[shape], crs=4326),
            "violations": gpd.GeoDataFrame(
                {"record_id": [f"B-{i}" for i in range(7)], "ward_id": "B", "group_id": "B-1",
                 "category": "littering", "status": "recorded",
                 "observed_at": pd.Timestamp("2025-07-10 10:00", tz="Asia/Ho_Chi_Minh")},
                geometry=[Point(105.865, 21.005)] * 7, crs=4326,
            ),
        },
        user="setup",
        action="second ward",
    )  # fmt: skip
    server = AppServer(demo_copy, log=tmp_path / "app.log")
    page, foreign = _loopback_only_page(browser, height=1100)
    try:
        server.wait()
        _open(page, f"{server.url}/?view=city")
        assert page.get_by_role("radio", name="Toàn bộ 2 phường, xã của tôi").is_checked()
        frame = page.frame_locator('iframe[data-testid="stIFrame"]')  # the city map's own page
        frame.locator("path.leaflet-interactive").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "map-city.png"), full_page=True)
        # 93 groups (92 demo groups and B's) are few enough to be drawn one by one
        assert frame.locator("path.leaflet-interactive").count() >= 93
        assert "view=city" in page.url
        assert not foreign, f"the page tried to reach the internet: {foreign[:5]}"
    finally:
        page.close()
        server.stop()


def test_hotspot_page_draws_hot_streets_and_gi_cells_offline(browser, app_url):
    page, foreign = _loopback_only_page(browser, height=1100)
    _open(page, f"{app_url}/hotspots")
    page.get_by_text("Kiểm chứng").first.wait_for(timeout=90_000)
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    frame.locator(".leaflet-container").wait_for(timeout=60_000)
    frame.locator("path.leaflet-interactive").first.wait_for(timeout=30_000)
    frame.get_by_text("Vi phạm / 100 m đường").first.wait_for(timeout=30_000)  # the legend
    page.wait_for_timeout(1000)
    lines = frame.locator("path.leaflet-interactive").count()
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "hotspots-streets.png"), full_page=True)
    assert lines > 50, f"only {lines} hot street segments / places drawn"
    page.get_by_text("Điểm nóng thống kê (Gi*)").click()
    # while Streamlit reruns, the old map's iframe may linger beside the new one
    gi_frame = page.locator('iframe[title="streamlit_folium.st_folium"]').last.content_frame
    gi_frame.get_by_text("Điểm nóng (có ý nghĩa thống kê)").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SCREENSHOTS / "hotspots-gi.png"), full_page=True)
    assert not foreign, f"the page tried to reach the internet: {foreign[:5]}"
    page.close()


def test_patrol_page_draws_street_coverage_and_a_route_offline(browser, app_url):
    page, foreign = _loopback_only_page(browser, height=1200)
    _open(page, f"{app_url}/patrol")
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    frame.locator(".leaflet-container").wait_for(timeout=90_000)
    frame.get_by_text("Lần tuần tra gần nhất").first.wait_for(timeout=60_000)  # the legend
    frame.locator("path.leaflet-interactive").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    # Covered streets are drawn green to orange, the rest red: both kinds are on the map.
    strokes = frame.locator("path.leaflet-interactive").evaluate_all(
        "els => els.map(e => e.getAttribute('stroke'))"
    )
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "patrol-coverage.png"), full_page=True)
    assert strokes.count("#d73027") > 100, "streets not patrolled are not drawn"
    covered = sum(strokes.count(c) for c in ("#1a9850", "#91cf60", "#fee08b", "#fc8d59"))
    assert covered > 50, f"only {covered} patrolled streets drawn"
    page.get_by_role("tab", name="Lập lộ trình").click()
    page.get_by_role("button", name="Lập lộ trình").click()
    page.get_by_text("Tải GPX cho điện thoại").first.wait_for(timeout=60_000)
    route_frame = page.locator('iframe[title="streamlit_folium.st_folium"]').last.content_frame
    route_frame.get_by_text("1", exact=True).first.wait_for(timeout=30_000)  # stop badges
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SCREENSHOTS / "patrol-route.png"), full_page=True)
    assert not foreign, f"the page tried to reach the internet: {foreign[:5]}"
    page.close()


def test_campaign_page_shows_the_july_wave_before_after_and_wdq(browser, app_url):
    page, foreign = _loopback_only_page(browser, height=1600)
    _open(page, f"{app_url}/campaigns")
    page.get_by_text("Trước và sau chiến dịch").first.wait_for(timeout=90_000)
    wdq = page.get_by_test_id("stMetric").filter(has_text="WDQ").first
    wdq.wait_for(timeout=30_000)
    assert re.search(r"WDQ\s*−?-?\d+,\d\d", wdq.inner_text()), wdq.inner_text()
    target = page.get_by_test_id("stMetric").filter(has_text="Mục tiêu").first.inner_text()
    assert re.search(r"\d+ → \d+", target), target
    frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
    frame.locator(".leaflet-container").wait_for(timeout=60_000)
    frame.get_by_text("Vùng đệm (lân cận)").first.wait_for(timeout=30_000)  # the legend
    # target groups red, buffer orange, control grey: all three are drawn
    strokes = frame.locator("path.leaflet-interactive").evaluate_all(
        "els => els.map(e => e.getAttribute('stroke'))"
    )
    assert {"#c62828", "#ef6c00", "#78909c"} <= set(strokes), set(strokes)
    page.wait_for_timeout(1000)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "campaign.png"), full_page=True)
    assert not foreign, f"the page tried to reach the internet: {foreign[:5]}"
    page.close()


def test_report_page_shows_the_month_paragraph_and_its_map(browser, app_url):
    page, foreign = _loopback_only_page(browser, height=1400)
    _open(page, f"{app_url}/reports")
    page.get_by_text("Trong tháng").first.wait_for(timeout=90_000)
    page.get_by_role("img").filter(has=page.locator("[src*='media']")).or_(
        page.locator("img[src*='media']")
    ).first.wait_for(timeout=60_000)  # the month's map, drawn on the server
    page.wait_for_timeout(1000)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "report.png"), full_page=True)
    page.get_by_role("tab", name="Phản ánh của người dân").click()
    page.get_by_text("Phản ánh quá hạn").first.wait_for(timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "report-citizen.png"), full_page=True)
    assert not foreign, f"the page tried to reach the internet: {foreign[:5]}"
    page.close()


def test_a_remembered_sign_in_survives_a_reload_until_signing_out(browser, app_url):
    """The session cookie (set by a script in the page) brings a reload straight to the map;
    signing out clears it, and the reload shows the form again."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()

    def session_cookie() -> dict | None:
        return next((c for c in context.cookies() if c["name"] == "uo_session"), None)

    try:
        page.goto(app_url, wait_until="domcontentloaded")
        page.get_by_label("Tài khoản").fill("doitrat", timeout=60_000)
        page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
        page.get_by_text("Ghi nhớ đăng nhập trên máy này (14 ngày)").click()
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "signin-remember.png"))
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_text("Đang đăng nhập:").first.wait_for(timeout=60_000)
        page.wait_for_function("document.cookie.includes('uo_session=')", timeout=30_000)
        cookie = session_cookie()
        assert cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert 13.9 * 86400 < cookie["expires"] - time.time() < 14.1 * 86400
        # the script's element takes no room in the sidebar
        script = page.get_by_test_id("stSidebar").get_by_test_id("stHtml")
        assert script.bounding_box()["height"] == 0
        page.reload(wait_until="domcontentloaded")
        page.get_by_text("Đang đăng nhập:").first.wait_for(timeout=60_000)
        assert page.get_by_label("Tài khoản").count() == 0
        page.locator('iframe[title="streamlit_folium.st_folium"]').first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Đăng xuất").click()
        page.get_by_label("Tài khoản").wait_for(timeout=30_000)
        page.wait_for_function("!document.cookie.includes('uo_session=')", timeout=30_000)
        page.reload(wait_until="domcontentloaded")
        page.get_by_label("Tài khoản").wait_for(timeout=60_000)
        assert session_cookie() is None
    finally:
        context.close()


def test_language_switch_to_english(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    _open(page, app_url)
    page.get_by_role("radiogroup", name="Ngôn ngữ").get_by_text("English").click()
    page.get_by_text("Urban-order map").wait_for(timeout=30_000)
    # while Streamlit reruns, the old map's iframe may linger beside the new one
    frame = page.locator('iframe[title="streamlit_folium.st_folium"]').last.content_frame
    frame.locator("path.leaflet-interactive").first.wait_for(timeout=30_000)
    page.close()


def _kpi(page, label: str) -> int:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    return int(metric.get_by_test_id("stMetricValue").inner_text().replace(".", ""))


def test_an_uploaded_csv_shows_on_the_map(browser, demo_copy, tmp_path):
    db = demo_copy  # this test writes: its own server, its own store
    rows = [
        f"{21.0050 + 0.0006 * i:.4f},{105.8320 + 0.0007 * i:.4f},15/10/2025 03:{10 + i:02d},"
        f"{cat},{fine},số {i + 1} Phố Thử Nghiệm"
        for i, (cat, fine) in enumerate(
            [("Bán hàng rong", "300.000"), ("Xả rác", ""), ("Lấn chiếm vỉa hè", "2.000.000"),
             ("Bán hàng rong", ""), ("Xả rác", "500.000")]
        )
    ]  # fmt: skip
    csv_file = tmp_path / "to-5.csv"
    csv_file.write_text(
        "Vĩ độ,Kinh độ,Thời gian,Loại vi phạm,Số tiền phạt,Địa chỉ\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    server = AppServer(db, log=tmp_path / "app.log")
    page = browser.new_page(viewport={"width": 1400, "height": 2000}, accept_downloads=True)
    try:
        server.wait()
        _open(page, server.url)
        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
        frame.locator(".marker-cluster").first.wait_for(timeout=60_000)
        before = _kpi(page, "Vi phạm")

        _open(page, f"{server.url}/upload", account="canbo")
        page.get_by_text("Tải lên hồ sơ").first.wait_for(timeout=60_000)
        page.locator('input[type="file"]').set_input_files(str(csv_file))
        page.get_by_role("button", name="Xác nhận").wait_for(timeout=60_000)
        assert _kpi(page, "Nhận") == 5 and _kpi(page, "Chờ xử lý") == 0
        preview = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
        preview.locator(".leaflet-container").wait_for(timeout=30_000)
        preview.locator("path.leaflet-interactive").first.wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "upload.png"))
        page.get_by_role("button", name="Xác nhận").click()
        page.get_by_text("Đã lưu: 5 hồ sơ mới").wait_for(timeout=60_000)

        _open(page, server.url)
        frame = page.frame_locator('iframe[title="streamlit_folium.st_folium"]')
        frame.locator(".marker-cluster").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        after = _kpi(page, "Vi phạm")
        page.screenshot(path=str(SCREENSHOTS / "map-after-upload.png"))
        assert after == before + 5
        # the clusters count every point drawn: five more than before the upload
        numbers = frame.locator(".marker-cluster span").all_inner_texts()
        singles = frame.locator("path.leaflet-interactive[fill-opacity='0.9']").count()
        assert sum(int(n) for n in numbers) + singles == after

        _open(page, f"{server.url}/records")
        page.get_by_text("Hồ sơ vi phạm").first.wait_for(timeout=60_000)
        page.get_by_test_id("stDataFrame").first.wait_for(timeout=30_000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(SCREENSHOTS / "records.png"))
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Tải CSV").click()
        exported = download.value.path().read_bytes().decode("utf-8-sig")
        assert exported.count("Phố Thử Nghiệm") == 5
        assert len(exported.strip().splitlines()) == after + 1  # the header, then every record
    finally:
        page.close()
        server.stop()


@pytest.mark.postgis
def test_the_app_serves_a_postgis_store(browser, demo_store, tmp_path):
    """The demo restored into PostGIS (URL with a password), served and signed in to."""
    from geo.backup import restore
    from tests.stores import drop, new_store_url

    base = new_store_url("postgis", tmp_path)
    scheme, rest = base.split("://", 1)
    url = f"{scheme}://{rest.replace('@', ':not-shown@', 1)}" if "@" in rest else base
    restore(demo_store, url)
    server = AppServer(url, log=tmp_path / "app.log")  # type: ignore[arg-type]
    page, foreign = _loopback_only_page(browser, height=1000)
    try:
        server.wait()
        _open(page, f"{server.url}/records", account="canbo")
        page.get_by_text("Hồ sơ vi phạm").first.wait_for(timeout=60_000)
        page.get_by_test_id("stDataFrame").first.wait_for(timeout=30_000)
        page.screenshot(path=str(SCREENSHOTS / "records-postgis.png"))
        content = page.content()
        assert "not-shown" not in content  # the password is never shown
        assert "Kho dữ liệu: postgresql://" in content
        assert not foreign
    finally:
        page.close()
        server.stop()
        drop(base)
