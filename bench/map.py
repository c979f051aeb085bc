"""Map benchmark: the map page's city view of N records in headless Chromium, against the naive
one-marker-per-record folium map.

    python bench/run.py map [--records N] [--groups M] [--store PATH] [--json]

The city is :func:`bench.city.make_city` (126 wards, ``--groups`` groups, N records over
2025), assigned with :func:`geo.assign.assign_to_groups` and written to a GeoPackage store
with an all-wards administrator (:mod:`bench.city_store`); the store is kept under
``var/bench/`` (or at ``--store``) and reused by later runs with the same arguments. The app
(``urban-order app``) serves it; Debian's Chromium (through Playwright, never
``playwright install``) opens ``/?view=city``.

Each visit is timed by the browser from its navigation start to the first map shape (a ward or
group polygon ``path.leaflet-interactive``, or the heat map's canvas) painted inside the map's
iframe (the city view's page in an ``st.iframe``; the ward view's ``st_folium``), as the page
itself records it at each animation frame (``*_noticed_*_s``: when Playwright, polling at each
frame too, saw it). Two kinds of visits:

- a returning user's (``paint_*_s``, the headline): the browser context signed in before and
  keeps the session cookie (:mod:`geo.sessions`), so the page goes straight to the map, no form
  and no password check (a visit that shows the form is an error);
- a sign-in (``paint_with_signin_*_s``): a new browser context, signed out: the page loads, the
  form is filled in and sent as soon as it can be typed into (recorded the same way), the
  server checks the password (Argon2) and runs the map page. ``signin_*_s`` is the part up to
  sending the form, ``map_*_s`` the rest (sent → painted).

Sessions live in the store, and a cookie does not depend on the port, so the context that
signed in on one server returns to the next servers of the same store. The cases:

- ``*_first``: the first session after the server started: nothing cached, and the first run
  of the app's script (``urban-order app`` imports the sign-in and map pages before the server
  listens, ``views/serve.py``; the app imports its other pages later, once the server has been
  idle for a few seconds);
- ``*_cold``: the first visit of a new server whose sign-in page was opened once before
  (the sign-in page's modules imported, no data read or cached; ``server_first_page_s``:
  that sign-in page): the map's cold path, with the map page's own imports, as the visit
  follows at once; the store file is in the OS page cache either way;
- ``*_warm``: a later visit to the first server: aggregates and boundaries cached (a sign-in
  writes its session without changing the data version, so it leaves the caches alone).

Five servers: the first (a sign-in, the same context returning, a second context signing in),
two for the cold cases (the returning context; a new context signing in), one for the
returning first case, and the session switch below.

- ``switch_cold_s`` / ``switch_warm_s``: in a signed-in session of a third server (modules
  imported, nothing cached), the ward view shown, choosing "all my wards": seconds from the
  click to the city map painted, the first time and again after going back to the ward. No
  page load, no sign-in: the city view's own time to first paint; the visits above add
  Streamlit's page load (and the sign-in).

In each returning visit, ``rerun_*_s`` and ``rerun_bytes_*``: a rerun that changes a filter
(one category fewer; the first such change on each server, so its aggregate is computed then),
from the click to the new KPIs shown and the run finished, and the
websocket bytes the browser received for it; ``first_bytes_*``: bytes received from the
navigation to the end of the map page's first run (``signin_bytes_*``: from sending the form
to the end of that run, in a sign-in).

Baseline (``naive_*``): a folium map of one ``CircleMarker`` per record, as a first attempt
would draw it, at 10,000 and 100,000 records of the same city: Python build time (``folium.Map``
+ markers + ``get_root().render()``), HTML size, and the time Chromium takes to load and paint
that page from disk (its scripts served from the app's vendored copies, tiles refused).
``naive_extrapolated_s`` scales build + paint at the largest size linearly to N, labelled as
extrapolated: 1M markers are never drawn (~13 min of Python and ~500 MB of HTML).

The machine is shared: ``load_1min`` (start) and ``load_1min_end`` say how busy it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import folium  # noqa: E402
import geopandas as gpd  # noqa: E402

from bench.city_store import ACCOUNT, PASSWORD, build_store, city_store  # noqa: E402, F401

T = TypeVar("T")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
#: What counts as the map painted: a ward polygon, or the heat layer's canvas.
PAINTED = "path.leaflet-interactive, canvas.leaflet-heatmap-layer"
#: The maps' iframes: the city view's page (``st.iframe``), the ward view's ``st_folium``.
_FRAME = 'iframe[data-testid="stIFrame"], iframe[title="streamlit_folium.st_folium"]'


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


# --- the app in Chromium ------------------------------------------------------------------------


class _Socket:
    """Bytes the browser receives over Streamlit's websocket, since the last ``mark``."""

    def __init__(self) -> None:
        self.received = 0
        self.last = time.monotonic()

    def attach(self, page: Any) -> None:
        def on_socket(ws: Any) -> None:
            ws.on("framereceived", self._count)

        page.on("websocket", on_socket)

    def _count(self, payload: str | bytes) -> None:
        self.received += len(payload.encode() if isinstance(payload, str) else payload)
        self.last = time.monotonic()

    def quiet(self, page: Any, *, seconds: float = 1.0, timeout_s: float = 60.0) -> None:
        """Wait until nothing has arrived for ``seconds`` (the run has sent everything)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() - self.last < seconds and time.monotonic() < deadline:
            page.wait_for_timeout(100)

    def mark(self) -> int:
        got, self.received = self.received, 0
        return got


def _now_ms(page: Any) -> float:
    """Milliseconds since the page's navigation started (the browser's own clock)."""
    return float(page.evaluate("performance.now()"))


#: Installed in each visit's page: records, on the page's own clock, when the sign-in form can
#: be typed into and when a map shape first exists in a map iframe (looked for at every
#: animation frame). Playwright's locator waits (a ``fill``, a frame locator) notice either
#: later, as their retries back off: by a median 0.28 s at the form and 0.22 s at the map
#: (6 visits measured), which is not the app's time.
_WATCH = """
(() => {
  if (window !== window.top) return;
  const seen = (window.__bench = {});
  const tick = () => {
    const account = document.querySelector('input[aria-label="Tài khoản"]');
    if (account && !account.disabled && !seen.form) seen.form = performance.now();
    for (const frame of document.querySelectorAll(FRAMES)) {
      try {
        if (!seen.painted && frame.contentDocument?.querySelector(PAINTED)) {
          seen.painted = performance.now();
        }
      } catch (e) {}  // a frame being replaced
    }
    if (!seen.painted) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
""".replace("FRAMES", json.dumps(_FRAME)).replace("PAINTED", json.dumps(PAINTED))


def _seen(page: Any, what: str, *, timeout_s: float) -> float:
    """Milliseconds from navigation start to ``what`` (``form``, ``painted``) as the page
    recorded it (:data:`_WATCH`); waits for it."""
    page.wait_for_function(f"() => window.__bench?.{what}", timeout=timeout_s * 1000)
    return float(page.evaluate(f"window.__bench.{what}"))


def _painted(page: Any, *, timeout_s: float) -> None:
    """Wait until the last map iframe shows a ward polygon or the heat canvas."""
    frame = page.locator(_FRAME).last.content_frame
    frame.locator(PAINTED).first.wait_for(state="attached", timeout=timeout_s * 1000)


def new_context(browser: Any) -> Any:
    """A browser context of its own (cookies, cache): signed out until it signs in."""
    return browser.new_context(viewport={"width": 1400, "height": 1000})


@contextmanager
def _city_page(context: Any, url: str) -> Iterator[tuple[Any, _Socket]]:
    """A new page of ``context`` on ``/?view=city``, its frames and websocket watched from
    the navigation on; closed afterwards."""
    page = context.new_page()
    socket = _Socket()
    socket.attach(page)
    try:
        page.add_init_script(_WATCH)
        page.goto(f"{url}/?view=city", wait_until="commit")
        yield page, socket
    finally:
        page.close()


def sign_in(context: Any, url: str, *, timeout_s: float = 120.0) -> dict[str, float]:
    """Open the city view signed out, sign in with the form, wait for the map and the end of
    the run; the context keeps the session cookie. Times from the navigation start."""
    with _city_page(context, url) as (page, socket):
        _seen(page, "form", timeout_s=timeout_s)
        page.get_by_label("Tài khoản").fill(ACCOUNT)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        sent = _now_ms(page)
        socket.mark()
        page.get_by_role("button", name="Đăng nhập").click()
        painted = _seen(page, "painted", timeout_s=timeout_s)
        noticed = _now_ms(page)
        _wait_run(page, timeout_s=timeout_s)
        socket.quiet(page)
        page.wait_for_function("document.cookie.includes('uo_session=')", timeout=timeout_s * 1000)
        return {
            "paint_with_signin_s": painted / 1000,
            "paint_with_signin_noticed_s": noticed / 1000,
            "signin_s": sent / 1000,
            "map_s": (painted - sent) / 1000,
            "signin_bytes": socket.mark(),
        }


def visit(context: Any, url: str, *, timeout_s: float = 120.0) -> dict[str, float]:
    """A returning user: open the city view in a context that signed in before (a new page:
    a new Streamlit session, resumed from the cookie), wait for the map; then change a filter.

    Times are the browser's, from the navigation start of the visit.
    """
    with _city_page(context, url) as (page, socket):
        painted = _seen(page, "painted", timeout_s=timeout_s)
        noticed = _now_ms(page)
        if page.evaluate("window.__bench.form"):
            raise RuntimeError("the returning visit showed the sign-in form (no session cookie?)")
        records = _wait_run(page, timeout_s=timeout_s)
        socket.quiet(page)
        first_bytes = socket.mark()
        if not page.get_by_role("radio", name=re.compile("Toàn bộ")).is_checked():
            raise RuntimeError("?view=city did not open the city view")
        # a rerun that changes a filter: one category fewer in the sidebar
        t0 = _now_ms(page)
        page.locator('[data-testid="stSidebar"] button[aria-label^="Remove "]').first.click()
        fewer = _wait_run(page, timeout_s=timeout_s, changed_from=records)
        rerun_s = (_now_ms(page) - t0) / 1000
        socket.quiet(page)
        return {
            "paint_s": painted / 1000,
            "paint_noticed_s": noticed / 1000,
            "first_bytes": first_bytes,
            "rerun_s": rerun_s,
            "rerun_bytes": socket.mark(),
            "records_shown": records,
            "records_after_filter": fewer,
        }


def switch(browser: Any, url: str, *, timeout_s: float = 120.0) -> dict[str, float]:
    """Sign in on the ward view, then choose the city view: seconds from the click to the city
    map painted in its new iframe, the first time (``switch_s``) and again after going back to
    the ward (``switch_again_s``). No page load and no sign-in: the city view's own cost."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(url, wait_until="commit")
        page.get_by_label("Tài khoản").fill(ACCOUNT, timeout=timeout_s * 1000)
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        _painted(page, timeout_s=timeout_s)
        ward = _wait_run(page, timeout_s=timeout_s)
        out = {}
        for name in ("switch_s", "switch_again_s"):
            before = set(page.frames)
            t0 = _now_ms(page)
            page.get_by_text(re.compile("^Toàn bộ")).click()
            _city_painted(page, before, timeout_s=timeout_s)
            out[name] = (_now_ms(page) - t0) / 1000
            city = _wait_run(page, timeout_s=timeout_s, changed_from=ward)
            page.get_by_text(re.compile("^Phường chọn")).click()
            _wait_run(page, timeout_s=timeout_s, changed_from=city)
            page.wait_for_function(
                "() => ![...document.querySelectorAll('iframe')].some(f => f.contentDocument"
                " && f.contentDocument.querySelector('canvas.leaflet-heatmap-layer'))",
                timeout=timeout_s * 1000,
            )
            _painted(page, timeout_s=timeout_s)
        return out
    finally:
        page.close()


def _city_painted(page: Any, before: set[Any], *, timeout_s: float) -> None:
    """Wait for the city map: its heat canvas in any frame (streamlit-folium may draw the new
    map in the ward map's iframe), or shapes in a new iframe (a city of few groups)."""
    from playwright.sync_api import Error as PlaywrightError

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            try:
                if frame.query_selector("canvas.leaflet-heatmap-layer") is not None or (
                    frame not in before and frame.query_selector(PAINTED) is not None
                ):
                    return
            except PlaywrightError:  # the ward map's iframe, removed meanwhile
                continue
        page.wait_for_timeout(20)
    raise TimeoutError(f"the city map was not painted in {timeout_s} s")


def prime(browser: Any, url: str, *, timeout_s: float = 120.0) -> float:
    """Open the sign-in page once (the server imports the app's modules for its first
    session) without signing in; seconds from navigation start to the form."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(_WATCH)
    try:
        page.goto(url, wait_until="commit")
        return _seen(page, "form", timeout_s=timeout_s) / 1000
    finally:
        page.close()


def _records_kpi(page: Any) -> int | None:
    metric = page.get_by_test_id("stMetric").filter(has_text="Vi phạm").first
    if not metric.count():
        return None
    text = metric.get_by_test_id("stMetricValue").inner_text()
    return int(text.replace(".", "")) if text.replace(".", "").isdigit() else None


def _wait_run(page: Any, *, timeout_s: float, changed_from: int | None = None) -> int:
    """Wait until the page shows its records KPI (another value than ``changed_from``) and
    Streamlit runs nothing more; return the KPI."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = _records_kpi(page)
        running = page.get_by_test_id("stStatusWidget").count() > 0
        if value is not None and value != changed_from and not running:
            return value
        page.wait_for_timeout(50)
    raise TimeoutError(f"the page did not finish its run in {timeout_s} s")


# --- the baseline ---------------------------------------------------------------------------------


def naive_map(points: gpd.GeoDataFrame) -> str:
    """The first attempt: one ``CircleMarker`` with a popup per record (folium defaults)."""
    centre = points.geometry.union_all().centroid
    fmap = folium.Map(location=[centre.y, centre.x], zoom_start=11)
    for geom, category in zip(points.geometry, points["category"], strict=True):
        folium.CircleMarker([geom.y, geom.x], radius=4, popup=str(category)).add_to(fmap)
    return fmap.get_root().render()


def naive_paint(browser: Any, html: Path, *, timeout_s: float = 600.0) -> float:
    """Seconds from navigation start to the markers painted, for a map page on disk.

    The page's CDN scripts are served from ``static/vendor`` (the app's own copies), so the
    baseline is measured offline like the app.
    """
    from geo.errors import InputError
    from layers.assets import DEFAULT_BASE, local_url

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    vendor = ROOT / "static" / "vendor"
    base = DEFAULT_BASE.rstrip("/")

    def serve(route: Any) -> None:
        url = route.request.url
        if url.startswith("file:"):
            route.continue_()
            return
        try:
            target = local_url(url)
        except InputError:  # the tiles: offline, as in the app
            route.abort()
            return
        route.fulfill(path=str(vendor / target.removeprefix(base + "/vendor/")))

    page.route("**/*", serve)
    try:
        page.goto(html.as_uri(), wait_until="commit", timeout=timeout_s * 1000)
        page.locator("path.leaflet-interactive").first.wait_for(
            state="attached", timeout=timeout_s * 1000
        )
        # paint of every marker: Leaflet adds them all before the next frame
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
        return _now_ms(page) / 1000
    finally:
        page.close()


def baseline(browser: Any, points: gpd.GeoDataFrame, sizes: tuple[int, ...]) -> dict[str, float]:
    """Build and paint time of the naive map at each of ``sizes`` records."""
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            sample = points.iloc[:n]
            build_s, html = _timed(partial(naive_map, sample))
            path = Path(tmp) / f"naive-{n}.html"
            path.write_text(html, encoding="utf-8")
            out[f"naive_{n // 1000}k_build_s"] = build_s
            out[f"naive_{n // 1000}k_mb"] = len(html.encode()) / 2**20
            out[f"naive_{n // 1000}k_paint_s"] = naive_paint(browser, path)
            _say(f"naive map of {n:,} markers: built in {build_s:.1f} s")
    return out


# --- the whole run ------------------------------------------------------------------------------


def run(
    records: int,
    *,
    groups: int = 10_000,
    store: Path | None = None,
    baseline_sizes: tuple[int, ...] = (10_000, 100_000),
) -> dict[str, float]:
    """Every figure of the module docstring, as one flat dict."""
    from playwright.sync_api import sync_playwright

    from tests.apprunner import AppServer

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    path = city_store(records, groups, path=store)
    figures: dict[str, float] = {
        "records": records,
        "groups": groups,
        "cpus": os.cpu_count() or 0,
        "load_1min": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)

        def serve(name: str, visits: Callable[[str], None]) -> None:
            server = AppServer(path, log=Path(tmp) / f"{name}.log")
            try:
                server.wait()
                visits(server.url)
            finally:
                server.stop()

        def keep(label: str, got: dict[str, float]) -> None:
            kind = "returning" if "paint_s" in got else "sign-in"
            painted = got.get("paint_s", got.get("paint_with_signin_s", float("nan")))
            _say(f"{label} ({kind}): map painted {painted:.2f} s after navigation start")
            for key in ("records_shown", "records_after_filter"):
                if key in got:
                    figures[key] = got.pop(key)
            for key, value in got.items():
                name = f"{key[:-2]}_{label}_s" if key.endswith("_s") else f"{key}_{label}"
                figures[name] = value

        returning = new_context(browser)  # signs in once, then comes back to every server

        def first_then_warm(url: str) -> None:
            keep("first", sign_in(returning, url))  # the server's first session: imports too
            keep("warm", visit(returning, url))  # back with the cookie: data cached
            keep("warm", sign_in(new_context(browser), url))  # another sign-in, data cached

        def cold(url: str) -> None:
            figures["server_first_page_s"] = prime(browser, url)
            keep("cold", visit(returning, url))  # modules imported, nothing cached

        def cold_signin(url: str) -> None:
            prime(browser, url)
            keep("cold", sign_in(new_context(browser), url))

        def returning_first(url: str) -> None:
            keep("first", visit(returning, url))  # the server's first session

        def in_session(url: str) -> None:
            prime(browser, url)
            got = switch(browser, url)
            _say(f"city view chosen in a session: painted {got['switch_s']:.2f} s after")
            figures["switch_cold_s"], figures["switch_warm_s"] = got.values()

        serve("first", first_then_warm)
        serve("cold", cold)
        serve("cold-signin", cold_signin)
        serve("returning-first", returning_first)
        serve("switch", in_session)
        from bench.city import make_city

        # the same city's records, generated again (reading 1M back costs ~10 s)
        sample = make_city(groups=groups, records=max(baseline_sizes)).records
        figures |= baseline(browser, sample, baseline_sizes)
        browser.close()
    big = max(baseline_sizes)
    tag = f"naive_{big // 1000}k"
    figures["naive_extrapolated_s"] = (
        (figures[f"{tag}_build_s"] + figures[f"{tag}_paint_s"]) * records / big
    )
    figures["naive_extrapolated_mb"] = figures[f"{tag}_mb"] * records / big
    figures["speedup_cold"] = figures["naive_extrapolated_s"] / figures["paint_cold_s"]
    figures["load_1min_end"] = os.getloadavg()[0]
    return figures
