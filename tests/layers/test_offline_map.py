"""A map with every layer type works with no internet: no CDN link, and it draws in a browser."""

from __future__ import annotations

import functools
import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from folium.plugins import HeatMap
from shapely.geometry import LineString, box

from geo.config import STATIC_DIR
from geo.model import categories, conform
from layers.assets import localize, remote_links
from layers.basemap import base_map, street_layer
from layers.boundaries import group_choropleth, ward_outline, zones_layer
from layers.records import category_legend, records_cluster

CHROMIUM = "/usr/bin/chromium"


def _full_map(*, base: str = "/app/static") -> folium.Map:
    """Every layer type the app draws, on the offline base map."""
    rng = np.random.default_rng(11)
    n = 92
    groups = gpd.GeoDataFrame(
        {
            "group_id": [f"KL-{i:02d}" for i in range(n)],
            "zone_id": [f"KV{1 + i * 3 // n}" for i in range(n)],
            "name": [f"Tổ dân phố số {i + 1}" for i in range(n)],
            "population": pd.array(rng.integers(600, 1800, n), dtype="Int64"),
            "rate": [np.nan, *rng.gamma(2.0, 3.0, n - 1)],
        },
        geometry=[
            box(
                105.83 + (i % 10) * 1e-3,
                21.0 + (i // 10) * 1e-3,
                105.831 + (i % 10) * 1e-3,
                21.001 + (i // 10) * 1e-3,
            )
            for i in range(n)
        ],
        crs=4326,
    )
    zones = groups.dissolve("zone_id").reset_index().assign(name=lambda d: "Khu vực " + d.zone_id)
    ward = groups.dissolve()
    streets = gpd.GeoDataFrame(
        {"name": ["Phố Đặng Văn Ngữ", None], "highway": ["secondary", "footway"]},
        geometry=[
            LineString([(105.83, 21.0), (105.84, 21.01)]),
            LineString([(105.83, 21.01), (105.84, 21.0)]),
        ],
        crs=4326,
    )
    m = 2000
    violations = conform(
        "violations",
        gpd.GeoDataFrame(
            {
                "category": rng.choice(list(categories()), m),
                "observed_at": pd.Timestamp("2025-07-01", tz="Asia/Ho_Chi_Minh")
                + pd.to_timedelta(rng.integers(0, 86400 * 30, m), unit="s"),
                "fine_vnd": rng.choice([300_000, 1_500_000], m),
                "group_id": rng.choice(groups["group_id"], m),
            },
            geometry=gpd.points_from_xy(
                rng.uniform(105.83, 105.84, m), rng.uniform(21.0, 21.009, m)
            ),
            crs=4326,
        ),
    )
    fmap = base_map(ward.total_bounds)
    street_layer(streets, name="Đường phố").add_to(fmap)
    group_choropleth(groups, value_column="rate", legend_title="Vi phạm / 1.000 dân").add_to(fmap)
    zones_layer(zones).add_to(fmap)
    ward_outline(ward).add_to(fmap)
    records = records_cluster(violations)
    category_legend().add_to(records)
    records.add_to(fmap)
    HeatMap(np.column_stack([violations.geometry.y, violations.geometry.x]).tolist()).add_to(fmap)
    folium.LayerControl().add_to(fmap)
    return localize(fmap, base=base)


def test_a_map_with_every_layer_links_only_vendored_files():
    html = _full_map().get_root().render()
    assert remote_links(html) == []
    local = re.findall(r"<(?:script|link)\b[^>]*?(?:src|href)=\"(/app/static/[^\"]+)", html)
    assert len(local) == 14  # Map 10, marker cluster 3, heat 1
    for url in local:
        assert (STATIC_DIR / url.removeprefix("/app/static/")).is_file(), url
    assert '"maxZoom": 19' in html


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """A loopback web server with static/ at /app/static and the map at /map.html."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "static").symlink_to(STATIC_DIR)
    (tmp_path / "map.html").write_text(_full_map().get_root().render(), encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
def test_the_map_draws_offline_in_chromium(site):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    blocked: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})

            def offline(route):  # everything off this machine fails, as it would offline
                if route.request.url.startswith(site):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            page.route("**/*", offline)
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("response", lambda r: r.status >= 400 and failed.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto(f"{site}/map.html")
            page.wait_for_selector(".marker-cluster", timeout=15_000)
            paths = page.locator("path.leaflet-interactive").count()
            legends = page.locator(".uo-legend").count()
            # the popup text the callback builds for the first record (clicking through the
            # clusters is the app's browser test; here only the callback's output matters)
            popup = page.evaluate(
                """() => {
                    const map = Object.values(window).find(v => v instanceof L.Map);
                    let cluster;
                    map.eachLayer(l => { if (l instanceof L.MarkerClusterGroup) cluster = l; });
                    const marker = cluster.getLayers()[0];
                    const div = document.createElement("div");
                    div.innerHTML = marker.getPopup()._content(marker);
                    document.body.appendChild(div);
                    return [cluster.getLayers().length, div.innerText];
                }"""
            )
        finally:
            browser.close()
    assert blocked == [] and failed == [] and errors == []
    assert paths >= 92  # one path per group (+ zones and streets)
    assert legends == 2
    count, text = popup
    assert count == 2000
    assert re.search(r"Thời gian: \d\d/\d\d/2025 \d\d:\d\d", text), text
    assert re.search(r"Mức phạt: (300\.000|1\.500\.000) đ", text), text
    assert "Tổ dân phố: KL-" in text
