"""Streamlit entry point: logging, the embedded demo store, the sidebar, and page routing.

Run with ``urban-order app`` (or ``streamlit run app.py`` with static serving on).
Holds no domain logic: pages live in ``views/``, the domain in ``geo/``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from geo.auth import Capability
from geo.config import DEFAULT_STORE_PATH
from geo.errors import StoreError
from geo.i18n import t
from geo.store import is_postgis_url, open_store
from views import (
    admin_page,
    campaign_page,
    common,
    hotspot_page,
    map_page,
    patrol_page,
    records_page,
    report_page,
    signin_page,
    upload_page,
)

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
    who = common.principal()
    lg = common.lang()
    if who is None:
        # Every address shows the sign-in form; after signing in the same page opens.
        pages = [st.Page(lambda: signin_page.render(store), title=t("auth.title", lg),
                         url_path=path, default=i == 0)
                 for i, path in enumerate([*(p for p, _ in _PAGES), "admin"])]  # fmt: skip
        st.navigation(pages, position="hidden").run()
        return
    filters = common.sidebar(store)
    pages = [
        st.Page(
            (lambda render=render: render(filters) if filters else None),
            title=t(f"nav.{name}", lg),
            url_path=path,
            default=path == "map",
        )
        for path, (name, render, capability) in _PAGES
        if who.can(capability)
    ]
    if who.can("users"):
        pages.append(
            st.Page(lambda: admin_page.render(lg), title=t("nav.admin", lg), url_path="admin")
        )
    st.navigation(pages).run()


#: url path → (label key, page, capability needed to see it in the menu); each page checks the
#: capability again itself when it runs.
_PAGES: list[tuple[str, tuple[str, Callable[[common.Filters], None], Capability]]] = [
    ("map", ("map", map_page.render, "view")),
    ("hotspots", ("hotspots", hotspot_page.render, "view")),
    ("patrol", ("patrol", patrol_page.render, "view")),
    ("campaigns", ("campaign", campaign_page.render, "view")),
    ("reports", ("report", report_page.render, "view")),
    ("upload", ("upload", upload_page.render, "upload")),
    ("records", ("records", records_page.render, "view")),
]


main()
