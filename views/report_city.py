"""Page "Báo cáo", monthly report of all the user's wards (the whole city for users of every
ward): the paragraph, the headline figures, the wards ranked on a table and a map, the totals
per category, and the files.

Read the month → call :func:`geo.city_report.city_monthly_report` through a store scoped to the
user's wards → show. Results are cached by plain keys (store, data version, month, language,
the user's wards), so two users never share a report.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo.access import ScopedStore
from geo.auth import Principal
from geo.city_report import CityReport, city_monthly_report
from geo.errors import UrbanOrderError
from geo.export import EXPORT_FORMATS
from geo.i18n import Lang, number, t
from geo.report import shown_table
from layers.assets import localize
from layers.basemap import base_map
from layers.city import lean_map, ward_choropleth
from views.common import Filters, enforcement_metrics, get_store, require, store_location

log = logging.getLogger(__name__)

_XLSX = EXPORT_FORMATS["xlsx"][1]
#: Codes left out of the tables shown (the files carry them).
_CODES = ("ward_id", "top_category", "category")


def render(filters: Filters, version: int) -> None:
    """Draw the city's monthly report below the page's tabs."""
    lg = filters.lang
    location = str(store_location())
    wards = require("view").wards
    months = _months(location, version, wards)
    if not months:
        st.info(t("page.report.city.no_records", lg))
        return
    month = st.selectbox(t("page.report.month", lg), months,
                         format_func=lambda m: f"{m[5:]}/{m[:4]}",
                         key="report-city-month")  # fmt: skip
    try:
        report = _report(location, version, str(month), lg, wards)
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    with st.container(border=True):
        st.markdown(report.paragraph)
    cols = st.columns(5)
    enforcement_metrics(cols, report.summary, lg, prefix="page.report.metric", decimals=1)
    pct = report.totals["change_pct"]
    cols[4].metric(
        t("page.report.city.metric.change", lg),
        "—" if pct is None else f"{'+' if pct > 0 else ''}{number(pct, lg, decimals=1)} %",
        help=t("page.report.city.metric.change_help", lg,
               prev=number(report.totals["records_prev"], lg)),
    )  # fmt: skip
    _downloads(location, version, str(month), lg, wards, report)
    st_folium(_map(report, filters), key="report-city-map", height=520,
              use_container_width=True, returned_objects=[])  # fmt: skip
    if report.totals["outside"]:
        st.caption(t("page.report.city.outside", lg, n=number(report.totals["outside"], lg)))
    st.subheader(t("page.report.city.ranked", lg))
    st.caption(t(f"page.report.city.ranked_by.{report.rank_by}", lg))
    wards_table = report.tables["wards"]
    st.dataframe(shown_table(wards_table.drop(columns=list(_CODES[:2])), lg), hide_index=True)
    categories = report.tables["categories"]
    if len(categories):
        st.subheader(t("report.sheet.categories", lg))
        st.dataframe(shown_table(categories.drop(columns="category"), lg), hide_index=True)


def _downloads(
    location: str,
    version: int,
    month: str,
    lg: Lang,
    wards: tuple[str, ...] | None,
    report: CityReport,
) -> None:
    files = _files(location, version, month, lg, wards)
    c1, c2, c3, c4 = st.columns(4)
    name = f"bao-cao-thanh-pho-{month}"
    c1.download_button(t("page.report.download.xlsx", lg), files["xlsx"], f"{name}.xlsx",
                       _XLSX, key="report-city-xlsx")  # fmt: skip
    c2.download_button(t("page.report.download.csv", lg), files["csv"],
                       f"phuong-xa-{month}.csv", "text/csv", key="report-city-csv")  # fmt: skip
    c3.download_button(t("page.report.download.json", lg), report.to_json().encode(),
                       f"{name}.json", "application/json",
                       key="report-city-json")  # fmt: skip
    c4.download_button(t("page.report.download.text", lg), report.paragraph.encode(),
                       f"{name}.txt", "text/plain",
                       key="report-city-text")  # fmt: skip


def _map(report: CityReport, filters: Filters) -> folium.Map:
    lg = filters.lang
    wards = report.layers["wards"]
    # residents where the wards have them; else the area, which every ward has
    basis = "per_1000" if wards["per_1000"].notna().any() else "per_km2"
    fmap = base_map(wards.total_bounds, online_tiles=filters.online_tiles, lang=lg, min_zoom=6)
    legend = t(f"page.report.city.legend.{basis}", lg)
    fmt = "{:.2f}" if basis == "per_1000" else "{:,.1f}"
    ward_choropleth(wards, value_column=basis, legend_title=legend, lang=lg, fmt=fmt).add_to(fmap)
    return lean_map(localize(fmap))


# --- cached computations -----------------------------------------------------------------------


def _scoped(location: str, wards: tuple[str, ...] | None) -> ScopedStore:
    # Cached results are shared by sessions: scoped by the wards in their key, not by a session.
    return ScopedStore(get_store(location), Principal("city-report", "viewer", wards))


@st.cache_resource(max_entries=8, show_spinner=False)
def _months(location: str, version: int, wards: tuple[str, ...] | None) -> list[str]:
    """The months with records in the user's wards, latest first (from the store's index)."""
    span = _scoped(location, wards).time_span("violations")
    if span is None:
        return []
    periods = pd.period_range(span[0].tz_localize(None), span[1].tz_localize(None), freq="M")
    return [str(p) for p in periods[::-1]]


@st.cache_resource(max_entries=8, show_spinner=False)
def _report(
    location: str, version: int, month: str, lang: Lang, wards: tuple[str, ...] | None
) -> CityReport:
    return city_monthly_report(_scoped(location, wards), month=month, lang=lang)


@st.cache_data(max_entries=8, show_spinner=False)
def _files(
    location: str, version: int, month: str, lang: Lang, wards: tuple[str, ...] | None
) -> dict[str, bytes]:
    report = _report(location, version, month, lang, wards)
    with tempfile.TemporaryDirectory() as tmp:
        xlsx = report.to_xlsx(Path(tmp) / "report.xlsx").read_bytes()
    return {"xlsx": xlsx, "csv": report.to_csv()}
