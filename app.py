"""Streamlit entry point: logging, the embedded demo store, the sidebar, and page routing.

Run with ``urban-order app`` (or ``streamlit run app.py`` with static serving on).
Holds no domain logic: pages live in ``views/``, the domain in ``geo/``.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from geo.config import DEFAULT_STORE_PATH
from geo.errors import StoreError
from geo.i18n import t
from geo.store import open_store
from views import (
    campaign_page,
    common,
    hotspot_page,
    map_page,
    patrol_page,
    records_page,
    report_page,
    upload_page,
)

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("urban_order.app")

st.set_page_config(page_title="Urban order", page_icon="🗺️", layout="wide")


def _ensure_store() -> bool:
    """Open the configured store; build the demo store on first run. False if unavailable."""
    location = common.store_location()
    lg = common.lang()
    if location.exists():
        try:
            open_store(location)
            return True
        except StoreError as exc:
            if location != DEFAULT_STORE_PATH:
                st.error(str(exc))
                return False
            # The embedded demo is ours to rebuild, e.g. after a schema change.
            log.warning("rebuilding the demo store: %s", exc)
            location.unlink()
    if location != DEFAULT_STORE_PATH:
        st.error(t("app.store_missing", lg, location=str(location)))
        return False
    from geo.demo import build_demo

    st.title(t("app.title", lg))
    st.write(t("app.building_demo", lg))
    bar = st.progress(0.0)
    with _build_lock():  # two first visitors must not build the store twice
        if not location.exists():
            tmp = location.with_suffix(".building.gpkg")
            build_demo(
                tmp,
                overwrite=True,
                progress=lambda f, step: bar.progress(
                    min(f, 1.0), text=t(f"app.build_step.{step}", lg)
                ),
            )
            tmp.replace(location)
    st.rerun()
    return True


@st.cache_resource
def _build_lock() -> threading.Lock:
    return threading.Lock()


def main() -> None:
    if not _ensure_store():
        return
    store = common.get_store(str(common.store_location()))
    filters = common.sidebar(store)
    lg = common.lang()
    pages = [
        st.Page(
            lambda: map_page.render(filters) if filters else None,
            title=t("nav.map", lg),
            url_path="map",
            default=True,
        ),
        st.Page(
            lambda: hotspot_page.render(filters) if filters else None,
            title=t("nav.hotspots", lg),
            url_path="hotspots",
        ),
        st.Page(
            lambda: patrol_page.render(filters) if filters else None,
            title=t("nav.patrol", lg),
            url_path="patrol",
        ),
        st.Page(
            lambda: campaign_page.render(filters) if filters else None,
            title=t("nav.campaign", lg),
            url_path="campaigns",
        ),
        st.Page(
            lambda: report_page.render(filters) if filters else None,
            title=t("nav.report", lg),
            url_path="reports",
        ),
        st.Page(
            lambda: upload_page.render(filters) if filters else None,
            title=t("nav.upload", lg),
            url_path="upload",
        ),
        st.Page(
            lambda: records_page.render(filters) if filters else None,
            title=t("nav.records", lg),
            url_path="records",
        ),
    ]
    st.navigation(pages).run()


main()
