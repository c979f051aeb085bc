"""Streamlit entry point: logging, the embedded demo store, the sidebar, and page routing.

Run with ``urban-order app`` (or ``streamlit run app.py`` with static serving on).
Holds no domain logic: pages live in ``views/``, the domain in ``geo/``.

Page modules are imported when their page first runs, not here: the sign-in page would
otherwise wait for what the other pages use (scipy, osmnx, matplotlib…: seconds on a server's
first visit). After the server's first run a thread imports them while the server is idle
(:func:`_warm_up`). ``urban-order app`` starts the server through ``views/serve.py``, which
imports the sign-in and map pages before the server listens.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from geo.auth import Capability
from geo.config import DEFAULT_STORE_PATH
from geo.errors import StoreError
from geo.i18n import t
from geo.store import is_postgis_url, open_store
from views import common, signin_page

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("urban_order.app")

st.set_page_config(page_title="Urban order", page_icon="🗺️", layout="wide")


def _ensure_store() -> bool:
    """Open the configured store; build the demo store on first run. False if unavailable."""
    location = common.store_location()
    lg = common.lang()
    demo = Path(location) == DEFAULT_STORE_PATH if not is_postgis_url(location) else False
    if is_postgis_url(location) or Path(location).exists():
        try:
            open_store(location)
            return True
        except StoreError as exc:
            if not demo:
                st.error(str(exc))
                return False
            # The embedded demo is ours to rebuild, e.g. after a schema change.
            log.warning("rebuilding the demo store: %s", exc)
            DEFAULT_STORE_PATH.unlink()
    if not demo:
        st.error(t("app.store_missing", lg, location=location))
        return False
    from geo.demo import build_demo

    st.title(t("app.title", lg))
    st.write(t("app.building_demo", lg))
    bar = st.progress(0.0)
    with _build_lock():  # two first visitors must not build the store twice
        if not DEFAULT_STORE_PATH.exists():
            tmp = DEFAULT_STORE_PATH.with_suffix(".building.gpkg")
            build_demo(
                tmp,
                overwrite=True,
                progress=lambda f, step: bar.progress(
                    min(f, 1.0), text=t(f"app.build_step.{step}", lg)
                ),
            )
            tmp.replace(DEFAULT_STORE_PATH)
    st.rerun()
    return True


@st.cache_resource
def _build_lock() -> threading.Lock:
    return threading.Lock()


def main() -> None:
    if not _ensure_store():
        return
    store = common.get_store(common.store_location())
    # a reload or a new tab: the browser's session cookie signs it in (no password hashing)
    who = common.session_principal(store)
    lg = common.lang()
    if who is None:
        # Every address shows the sign-in form; after signing in the same page opens.
        pages = [st.Page(lambda: signin_page.render(store), title=t("auth.title", lg),
                         url_path=path, default=i == 0)
                 for i, path in enumerate([*(p for p, _ in _PAGES), "admin"])]  # fmt: skip
        st.navigation(pages, position="hidden").run()
        common.write_session_cookie()  # clears a stale cookie
        return
    filters = common.sidebar(store)
    with st.sidebar:  # after a sign-in: before the page runs, below the sidebar's controls
        common.write_session_cookie()
    pages = [
        st.Page(
            (lambda module=module: _page(module)(filters) if filters else None),
            title=t(f"nav.{name}", lg),
            url_path=path,
            default=path == "map",
        )
        for path, (name, module, capability) in _PAGES
        if who.can(capability)
    ]
    if who.can("users"):
        pages.append(
            st.Page(lambda: _page("admin_page")(lg), title=t("nav.admin", lg), url_path="admin")
        )
    st.navigation(pages).run()


#: url path → (label key, module in views/, capability needed to see it in the menu); each
#: page checks the capability again itself when it runs.
_PAGES: list[tuple[str, tuple[str, str, Capability]]] = [
    ("map", ("map", "map_page", "view")),
    ("hotspots", ("hotspots", "hotspot_page", "view")),
    ("patrol", ("patrol", "patrol_page", "view")),
    ("campaigns", ("campaign", "campaign_page", "view")),
    ("reports", ("report", "report_page", "view")),
    ("upload", ("upload", "upload_page", "upload")),
    ("records", ("records", "records_page", "view")),
]


def _page(module: str) -> Callable[..., None]:
    """The ``render`` function of ``views.<module>``, imported on first use."""
    return importlib.import_module(f"views.{module}").render


# -- warming up -------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Thread:
    """Import the pages' modules in a thread, once per server, each once the server has been
    idle for a while (the map page, where a sign-in lands, first). An import holds the GIL:
    beside a page being served it slowed the browser down (a server's first visit painted the
    map ~1 s later when the map page was imported meanwhile rather than by its own run).

    Also keeps the imported objects out of the garbage collector's sight: Streamlit collects
    after every run, and going through the ~260,000 objects of the imports took ~0.2 s."""
    gc.freeze()  # what this first run imported
    thread = threading.Thread(
        target=_import_pages, args=([m for _, (_, m, _) in _PAGES] + ["admin_page"],),
        name="warm-up", daemon=True,
    )  # fmt: skip
    # Streamlit registers a component (the folium map's) only for an import in a script's
    # context, and pages use it.
    add_script_run_ctx(thread, get_script_run_ctx())
    thread.start()
    return thread


def _import_pages(modules: list[str]) -> None:
    for module in modules:
        _wait_until_idle()
        if not runtime.exists():  # an AppTest between two runs: no server to warm up
            return
        try:
            importlib.import_module(f"views.{module}")
        except Exception as exc:  # the page shows the error itself when it is opened
            log.warning("warm-up: importing views.%s failed: %s", module, exc)
        gc.freeze()  # imported while no run holds objects of its own
    log.info("warm-up: every page imported")


def _wait_until_idle(*, window_s: float = 3.0, busy: float = 0.05) -> None:
    """Return once this process has used less than ``busy`` of a core for ``window_s``: no
    page served, no script run (a page opened meanwhile imports its module itself)."""
    used = time.process_time()
    while True:
        time.sleep(window_s)
        used, before = time.process_time(), used
        if used - before < busy * window_s:
            return


main()
_warm_up()
