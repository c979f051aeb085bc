"""Page "Báo cáo": the ward's monthly report, each group's weekly list for its leader
(households, commitments, model streets), and the citizen reports past their deadlines.
Users of several wards may switch the monthly report to all their wards at once
(:mod:`views.report_city`; the whole city for users of every ward).

Read widgets → call ``geo.report`` / ``geo.accountability`` / ``geo.citizen`` → show tables,
the month's map and downloads. Results are cached by plain keys (store, data version, ward,
month or week, language).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import pandas as pd
import streamlit as st

from geo.accountability import (
    commitment_breaches,
    commitment_frame,
    model_street_frame,
    model_street_rates,
    record_commitments,
    record_model_street,
    weekly_group_list,
)
from geo.citizen import overdue_reports, report_deadlines
from geo.errors import UrbanOrderError
from geo.export import EXPORT_FORMATS
from geo.i18n import Lang, category_label, number, t
from geo.report import TABLES, MonthlyReport, monthly_report, shown_table
from geo.store import Query
from views import report_city
from views.common import (
    Filters,
    enforcement_metrics,
    get_store,
    group_names,
    load_boundaries,
    load_records,
    record_period,
    session_store,
    signed_in_user,
    store_location,
    translated,
)

log = logging.getLogger(__name__)

_XLSX = EXPORT_FORMATS["xlsx"][1]
Scope = Literal["ward", "city"]
_SCOPES: tuple[Scope, ...] = ("ward", "city")


def render(filters: Filters) -> None:
    """Draw the page for the sidebar's ``filters`` (the ward and the language)."""
    lg = filters.lang
    store = session_store()
    version = store.data_version()
    st.title(t("page.report.title", lg))
    st.caption(t("page.report.intro", lg))
    period = record_period(store.location, version, filters.ward_id)
    if period is None:
        st.info(t("page.report.no_records", lg))
        return
    tab_month, tab_groups, tab_citizen = st.tabs(
        [t("page.report.tab.month", lg), t("page.report.tab.groups", lg),
         t("page.report.tab.citizen", lg)]
    )  # fmt: skip
    with tab_month:
        _month_tab(filters, version, period)
    with tab_groups:
        _groups_tab(filters, version, period)
    with tab_citizen:
        _citizen_tab(filters, version, period)


# --- the monthly report ----------------------------------------------------------------------


def _month_tab(filters: Filters, version: int, period: tuple[date, date]) -> None:
    lg = filters.lang
    if _scope(lg) == "city":
        report_city.render(filters, version)
        return
    months = [
        m.strftime("%Y-%m")
        for m in pd.period_range(period[0], period[1], freq="M")[::-1].to_timestamp()
    ]
    month = st.selectbox(
        t("page.report.month", lg),
        months,
        format_func=lambda m: f"{m[5:]}/{m[:4]}",
        key="report-month",
    )
    try:
        report = _report(str(store_location()), version, filters.ward_id, str(month), lg)
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    s = report.summary
    with st.container(border=True):
        st.markdown(report.paragraph)
    cols = st.columns(5)
    enforcement_metrics(cols, s, lg, prefix="page.report.metric", decimals=1)
    share = report.patrol.get("share")
    cols[4].metric(
        t("page.report.metric.patrol", lg),
        "—" if share is None else f"{number(100 * share, lg, decimals=1)} %",
    )
    files = _files(str(store_location()), version, filters.ward_id, str(month), lg)
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button(t("page.report.download.xlsx", lg), files["xlsx"],
                       f"bao-cao-{month}.xlsx", _XLSX, key="report-xlsx")  # fmt: skip
    c2.download_button(t("page.report.download.png", lg), files["png"],
                       f"ban-do-{month}.png", "image/png", key="report-png")  # fmt: skip
    c3.download_button(t("page.report.download.json", lg), report.to_json().encode(),
                       f"bao-cao-{month}.json", "application/json", key="report-json")  # fmt: skip
    c4.download_button(t("page.report.download.text", lg), report.paragraph.encode(),
                       f"bao-cao-{month}.txt", "text/plain", key="report-text")  # fmt: skip
    st.image(files["png"], caption=t("page.report.map_caption", lg))
    for name in TABLES:
        table = report.tables[name]
        if name == "summary":
            continue  # the paragraph and the metrics say it
        if table.empty:
            continue
        st.subheader(t(f"report.sheet.{name}", lg))
        st.dataframe(shown_table(table, lg), hide_index=True)


def _scope(lg: Lang) -> Scope:
    """The choice between the sidebar's ward and all the user's wards (the whole city for
    users of every ward); none for users of one ward."""
    store = session_store()
    wards = store.ward_ids()
    if len(wards) < 2:
        return "ward"
    city = "city" if store.principal.wards is None else "mine"
    scope: Scope = translated(
        st.radio,
        t("page.report.scope", lg),
        _SCOPES,
        name="report-scope",
        lang=lg,
        format_func=lambda s: t(f"page.report.scope.{s if s == 'ward' else city}", lg,
                                n=len(wards)),
        horizontal=True,
    )  # fmt: skip
    return scope


# --- each group's weekly list ----------------------------------------------------------------


def _groups_tab(filters: Filters, version: int, period: tuple[date, date]) -> None:
    lg = filters.lang
    location = str(store_location())
    b = load_boundaries(location, version, filters.ward_id)
    names = group_names(b["groups"])
    st.caption(t("page.report.groups.intro", lg))
    c1, c2 = st.columns(2)
    group = c1.selectbox(
        t("map.tooltip.group", lg), list(names), format_func=lambda g: names.get(g, g),
        key="report-group",
    )  # fmt: skip
    last_monday = period[1] - timedelta(days=period[1].weekday())
    week = c2.date_input(t("page.report.groups.week", lg), value=last_monday,
                         format="DD/MM/YYYY", key="report-week")  # fmt: skip
    monday = week - timedelta(days=week.weekday())
    listed = _weekly(location, version, filters.ward_id, str(group), str(monday), lg)
    st.markdown(
        t(
            "page.report.groups.heading",
            lg,
            group=names.get(group, group),
            first=f"{monday:%d/%m/%Y}",
            last=f"{monday + timedelta(days=6):%d/%m/%Y}",
        )
    )
    if listed.empty:
        st.info(t("page.report.groups.none", lg))
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    t("page.report.groups.col.who", lg): listed["label"],
                    t("page.report.groups.col.count", lg): listed["count"],
                    t("page.report.groups.col.count_4w", lg): listed["count_4w"],
                    t("page.report.groups.col.categories", lg): listed["categories"],
                    t("page.report.groups.col.last", lg): [
                        f"{x:%H:%M %d/%m}" for x in pd.to_datetime(listed["last_at"])
                    ],
                    t("page.report.groups.col.flags", lg): listed["flags"],
                }
            ),
            hide_index=True,
        )
    if session_store().principal.can("accountability"):
        _commitments(filters, version, str(group), lg)
        _model_streets(filters, version, lg)


def _commitments(filters: Filters, version: int, group: str, lg: Lang) -> None:
    location = str(store_location())
    store = session_store()
    st.subheader(t("page.report.commit.title", lg))
    signed = load_records(location, version, "commitments", Query(ward_id=filters.ward_id))
    records = load_records(location, version, "violations", Query(ward_id=filters.ward_id))
    breaches = commitment_breaches(records, signed) if len(signed) else signed
    m1, m2 = st.columns(2)
    m1.metric(t("page.report.commit.signed", lg), number(len(signed), lg))
    m2.metric(t("page.report.commit.breaches", lg), number(len(breaches), lg))
    if len(breaches):
        st.dataframe(
            pd.DataFrame(
                {
                    t("page.report.groups.col.last", lg): [
                        f"{x:%H:%M %d/%m/%Y}" for x in pd.to_datetime(breaches["observed_at"])
                    ],
                    t("page.campaign.col.category", lg): [
                        category_label(c, lg) for c in breaches["category"]
                    ],
                    t("page.report.commit.address", lg): breaches["address"],
                }
            ),
            hide_index=True,
        )
    with st.form("commitment-form", clear_on_submit=True):
        st.caption(t("page.report.commit.help", lg))
        household = st.text_input(t("page.report.commit.household", lg))
        address = st.text_input(t("page.report.commit.address", lg))
        signed_on = st.date_input(t("page.report.commit.date", lg), format="DD/MM/YYYY")
        user = signed_in_user()
        if st.form_submit_button(t("page.report.commit.save", lg)):
            try:
                row = commitment_frame(
                    household=household, address=address or None, signed_at=str(signed_on),
                    salt=store.offender_salt(), ward_id=filters.ward_id, group_id=group,
                )  # fmt: skip
                record_commitments(store, row, user=user)
            except UrbanOrderError as exc:
                st.error(str(exc))
            else:
                st.success(t("page.report.commit.saved", lg))


def _model_streets(filters: Filters, version: int, lg: Lang) -> None:
    location = str(store_location())
    store = session_store()
    st.subheader(t("page.report.model.title", lg))
    b = load_boundaries(location, version, filters.ward_id)
    marked = load_records(location, version, "model_streets", Query(ward_id=filters.ward_id))
    if len(marked):
        rates = _model_rates(location, version, filters.ward_id)
        st.dataframe(
            pd.DataFrame(
                {
                    t("page.report.model.street", lg): rates["name"],
                    t("page.report.model.period", lg): [
                        t(f"page.report.model.{p}", lg) for p in rates["period"]
                    ],
                    t("page.report.model.rate", lg): [
                        number(v, lg, decimals=1) for v in rates["model_rate"]
                    ],
                    t("page.report.model.rest", lg): [
                        number(v, lg, decimals=1) for v in rates["rest_rate"]
                    ],
                    t("page.report.model.ratio", lg): [
                        number(v, lg, decimals=2) for v in rates["ratio"]
                    ],
                }
            ),
            hide_index=True,
        )
    else:
        st.info(t("page.report.model.none", lg))
    streets = sorted(set(b["streets"]["name"].dropna()) - set(marked["name"].dropna()))
    with st.form("model-street-form", clear_on_submit=True):
        name = st.selectbox(t("page.report.model.street", lg), streets)
        since = st.date_input(t("page.report.model.since", lg), format="DD/MM/YYYY")
        user = signed_in_user()
        if st.form_submit_button(t("page.report.model.save", lg)) and name:
            try:
                row = model_street_frame(b["streets"], name=str(name), designated_at=str(since),
                                         ward_id=filters.ward_id)  # fmt: skip
                record_model_street(store, row, user=user)
            except UrbanOrderError as exc:
                st.error(str(exc))
            else:
                st.success(t("page.report.model.saved", lg, name=name))


# --- citizen reports -------------------------------------------------------------------------


def _citizen_tab(filters: Filters, version: int, period: tuple[date, date]) -> None:
    lg = filters.lang
    location = str(store_location())
    reports = load_records(location, version, "citizen_reports", Query(ward_id=filters.ward_id))
    if reports.empty:
        st.info(t("page.report.citizen.none", lg))
        return
    # the moment the list is read at: now, or the end of the records for a past ward (demo)
    latest = pd.to_datetime(reports["received_at"]).max()
    now = min(pd.Timestamp.now(tz=latest.tz), latest.ceil("h"))
    table = report_deadlines(reports, now=now)
    late = overdue_reports(reports, now=now, lang=lg)
    st.caption(t("page.report.citizen.as_of", lg, now=f"{now:%H:%M %d/%m/%Y}"))
    cols = st.columns(4)
    cols[0].metric(t("page.report.citizen.total", lg), number(len(table), lg))
    cols[1].metric(t("page.report.citizen.open", lg),
                   number(int(table["resolved_at"].isna().sum()), lg))  # fmt: skip
    cols[2].metric(t("page.report.citizen.accepted_late", lg),
                   number(int(table["accepted_late"].fillna(False).sum()), lg))  # fmt: skip
    cols[3].metric(t("page.report.citizen.overdue", lg), number(len(late), lg))
    st.subheader(t("page.report.citizen.list", lg))
    if late.empty:
        st.success(t("page.report.citizen.none_overdue", lg))
        return
    st.dataframe(
        pd.DataFrame(
            {
                t("page.report.citizen.col.severity", lg): late["severity_label"],
                t("page.report.citizen.col.received", lg): [
                    f"{x:%H:%M %d/%m/%Y}" for x in pd.to_datetime(late["received_at"])
                ],
                t("page.campaign.col.category", lg): [
                    category_label(str(c), lg) for c in late["category"]
                ],
                t("page.report.citizen.col.stage", lg): late["stage_label"],
                t("page.report.citizen.col.hours", lg): [
                    number(h, lg, decimals=1) for h in late["overdue_hours"]
                ],
            }
        ),
        hide_index=True,
    )


# --- cached computations -----------------------------------------------------------------------


@st.cache_resource(max_entries=16, show_spinner=False)
def _report(location: str, version: int, ward_id: str, month: str, lang: Lang) -> MonthlyReport:
    return monthly_report(get_store(location), ward_id=ward_id, month=month, lang=lang)


@st.cache_data(max_entries=8, show_spinner=False)
def _files(location: str, version: int, ward_id: str, month: str, lang: Lang) -> dict[str, bytes]:
    report = _report(location, version, ward_id, month, lang)
    with tempfile.TemporaryDirectory() as tmp:
        xlsx = report.to_xlsx(Path(tmp) / "report.xlsx").read_bytes()
        png = report.to_png(Path(tmp) / "map.png").read_bytes()
    return {"xlsx": xlsx, "png": png}


@st.cache_data(max_entries=16, show_spinner=False)
def _weekly(
    location: str, version: int, ward_id: str, group: str, monday: str, lang: Lang
) -> pd.DataFrame:
    start = pd.Timestamp(monday)
    records = load_records(location, version, "violations",
                           Query(ward_id=ward_id, start=start - pd.Timedelta(weeks=4),
                                 end=start + pd.Timedelta(weeks=1)))  # fmt: skip
    signed = load_records(location, version, "commitments", Query(ward_id=ward_id))
    return pd.DataFrame(
        weekly_group_list(
            records,
            group_id=group,
            week_start=start,
            commitments=signed if len(signed) else None,
            lang=lang,
        )
    )


@st.cache_data(max_entries=8, show_spinner=False)
def _model_rates(location: str, version: int, ward_id: str) -> pd.DataFrame:
    b = load_boundaries(location, version, ward_id)
    q = Query(ward_id=ward_id)
    records = load_records(location, version, "violations", q)
    marked = load_records(location, version, "model_streets", q)
    times = pd.to_datetime(records["observed_at"])
    return model_street_rates(records, b["streets"], marked,
                              start=times.min().normalize(),
                              end=times.max().normalize() + pd.Timedelta(days=1))  # fmt: skip
