"""Page "Tuần tra": where patrols went, which hot spots wait for a visit, and a route to plan.

Read widgets → call ``geo.patrol`` / ``geo.routes`` → draw ``layers.patrol``. The status is
cached by plain keys (store, data version, ward, moment, window); a planned route stays in
the session until the inputs change.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo.config import TIMEZONE_NAME
from geo.errors import UrbanOrderError
from geo.i18n import Lang, t
from geo.network import network_from_edges
from geo.patrol import (
    PatrolStatus,
    latest_fix,
    load_patrol_inputs,
    patrol_now,
    patrol_status,
    route_candidates,
    start_point,
)
from geo.routes import Route, plan_route, plan_team_routes, route_gpx
from geo.store import Query
from layers.assets import localize
from layers.boundaries import ward_outline, zones_layer
from layers.patrol import (
    coverage_layer,
    patrol_hotspots_layer,
    route_layer,
    tracks_layer,
    when_label,
)
from layers.style import format_number
from views.common import (
    Filters,
    get_store,
    load_boundaries,
    session_store,
    ward_base_map,
)

log = logging.getLogger(__name__)

#: Coverage windows offered (days).
WINDOWS = (1, 7, 30)
#: Working hours without a visit after which a hot spot is overdue (Koper: every ~2 hours).
OVERDUE_HOURS = 2.0


def render(filters: Filters) -> None:
    """Draw the page for the sidebar's ``filters``."""
    lg = filters.lang
    store = session_store()
    version = store.data_version()
    b = load_boundaries(store.location, version, filters.ward_id)
    st.title(t("page.patrol.title", lg))
    st.caption(t("page.patrol.intro", lg))
    now = _page_now(filters)
    days = st.radio(
        t("page.patrol.window", lg),
        WINDOWS,
        index=1,
        horizontal=True,
        key="patrol-window",
        format_func=lambda d: t(f"page.patrol.window.{d}", lg),
    )
    if b["streets"].empty:
        st.info(t("page.patrol.no_streets", lg))
        return
    try:
        status = _status(store.location, version, filters.ward_id, now.isoformat(), float(days))
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    st.caption(t("page.patrol.as_of", lg, now=now.strftime("%H:%M %d/%m/%Y"),
                 start=status.start.strftime("%H:%M %d/%m/%Y")))  # fmt: skip
    _metrics(status, lg)
    fmap = _map(filters, b, status)
    st_folium(fmap, key="patrol-map", height=560, use_container_width=True, returned_objects=[])
    tab_spots, tab_groups, tab_route = st.tabs(
        [t("page.patrol.tab.hotspots", lg), t("page.patrol.tab.groups", lg),
         t("page.patrol.tab.route", lg)]
    )  # fmt: skip
    with tab_spots:
        _hotspot_table(status, lg)
    with tab_groups:
        _group_table(status, lg)
    with tab_route:
        _planner(store.location, version, filters, b, status, now)


# --- computations, cached by plain keys --------------------------------------------------------


@st.cache_resource(max_entries=8, show_spinner=False)
def _status(location: str, version: int, ward_id: str, now_iso: str, days: float) -> PatrolStatus:
    store = get_store(location)
    now = pd.Timestamp(now_iso)
    inputs = load_patrol_inputs(store, ward_id=ward_id, now=now, days=days)
    return patrol_status(**inputs, now=now, days=days, overdue_hours=OVERDUE_HOURS)


@st.cache_resource(max_entries=4, show_spinner=False)
def _graph(location: str, version: int, ward_id: str) -> object:
    return network_from_edges(load_boundaries(location, version, ward_id)["streets"])


@st.cache_resource(max_entries=8, show_spinner=False)
def _latest(location: str, version: int, ward_id: str) -> pd.Timestamp | None:
    return latest_fix(get_store(location), ward_id=ward_id)


def _page_now(filters: Filters) -> pd.Timestamp:
    """The moment the page reads patrols at: the end of the sidebar's period (see patrol_now)."""
    store = session_store()
    end = pd.Timestamp(datetime.combine(filters.end, time(23, 59)), tz=TIMEZONE_NAME)
    return patrol_now(_latest(store.location, store.data_version(), filters.ward_id), until=end)


# --- sections ----------------------------------------------------------------------------------


def _metrics(status: PatrolStatus, lg: Lang) -> None:
    totals = status.totals
    spots = status.hotspots
    groups = status.groups
    unpatrolled = groups["last_patrol"].isna() | (groups["last_patrol"] < status.start)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("page.patrol.metric.coverage", lg), f"{totals['share']:.0%}",
              help=t("page.patrol.metric.coverage_help", lg,
                     covered=format_number(totals["covered_km"], lg, fmt="{:,.1f}"),
                     network=format_number(totals["network_km"], lg, fmt="{:,.1f}")))  # fmt: skip
    c2.metric(t("page.patrol.metric.overdue", lg), f"{int(spots['overdue'].sum())}/{len(spots)}")
    c3.metric(t("page.patrol.metric.unpatrolled", lg), f"{int(unpatrolled.sum())}/{len(groups)}")
    c4.metric(t("page.patrol.metric.teams", lg), str(len(status.teams)))


def _map(filters: Filters, b: dict[str, gpd.GeoDataFrame], status: PatrolStatus) -> folium.Map:
    lg = filters.lang
    fmap = ward_base_map(b["wards"], b["streets"], filters)
    coverage_layer(status.streets, now=status.now, lang=lg).add_to(fmap)
    tracks_layer(status.tracks, lang=lg).add_to(fmap)
    patrol_hotspots_layer(status.hotspots, lang=lg).add_to(fmap)
    zones_layer(b["zones"], lang=lg).add_to(fmap)
    ward_outline(b["wards"], lang=lg).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return localize(fmap)


def _hotspot_table(status: PatrolStatus, lg: Lang) -> None:
    spots = status.hotspots
    if spots.empty:
        st.info(t("page.patrol.no_hotspots", lg))
        return
    st.caption(t("page.patrol.hotspots_help", lg, hours=format_number(OVERDUE_HOURS, lg)))
    table = pd.DataFrame(
        {
            t("page.patrol.col.rank", lg): spots["rank"].astype(int),
            t("page.patrol.col.place", lg): spots["label"],
            t("page.patrol.col.last_visit", lg): [when_label(v, lg) for v in spots["last_visit"]],
            t("page.patrol.col.unvisited", lg): [
                t("map.patrol.never", lg) if pd.isna(h) else format_number(h, lg, fmt="{:,.1f}")
                for h in spots["hours_unvisited"]
            ],
            t("page.patrol.col.visits_24h", lg): spots["visits_24h"].astype(int),
            t("page.patrol.col.dwell_24h", lg): spots["dwell_24h_min"].round(0).astype(int),
            t("page.patrol.col.visits_7d", lg): spots["visits_7d"].astype(int),
            t("page.patrol.col.dwell_7d", lg): spots["dwell_7d_min"].round(0).astype(int),
            t("page.patrol.col.overdue", lg): [
                t("page.patrol.overdue_yes", lg) if v else "" for v in spots["overdue"]
            ],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")


def _group_table(status: PatrolStatus, lg: Lang) -> None:
    groups = status.groups.copy()
    groups["never"] = groups["last_patrol"].isna()
    groups = groups.sort_values(["never", "hours_since"], ascending=[False, False])
    not_in_window = groups["never"] | (groups["last_patrol"] < status.start)
    st.caption(t("page.patrol.groups_help", lg, n=int(not_in_window.sum())))
    table = pd.DataFrame(
        {
            t("page.patrol.col.group", lg): groups["name"].fillna(groups["group_id"]),
            t("page.patrol.col.last_patrol", lg): [
                when_label(v, lg) for v in groups["last_patrol"]
            ],
            t("page.patrol.col.hours_since", lg): [
                t("map.patrol.never", lg) if pd.isna(h) else format_number(h, lg, fmt="{:,.1f}")
                for h in groups["hours_since"]
            ],
            t("page.patrol.col.coverage", lg): [
                "—" if pd.isna(v) else f"{v:.0%}" for v in groups["share"]
            ],
            t("page.patrol.col.street_km", lg): groups["street_km"].round(2),
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")


def _planner(
    location: str,
    version: int,
    filters: Filters,
    b: dict[str, gpd.GeoDataFrame],
    status: PatrolStatus,
    now: pd.Timestamp,
) -> None:
    lg = filters.lang
    candidates = route_candidates(status)
    if candidates.empty:
        st.info(t("page.patrol.no_hotspots", lg))
        return
    store = get_store(location)
    places = store.read("places", Query(ward_id=filters.ward_id))
    start, where = start_point(places, b["wards"], ward_id=filters.ward_id)
    st.caption(t(f"page.patrol.start_{where}", lg, lat=f"{start[1]:.5f}", lon=f"{start[0]:.5f}"))
    default_begin = (now + timedelta(minutes=30)).floor("30min")
    with st.form("patrol-plan"):
        c1, c2, c3 = st.columns(3)
        teams = c1.number_input(t("page.patrol.teams", lg), 1, 3, 1, key="patrol-teams")
        minutes = c2.slider(t("page.patrol.minutes", lg), 60, 240, 120, 15, key="patrol-minutes")
        mode = c3.radio(
            t("page.patrol.mode", lg),
            ("walk", "motorbike"),
            horizontal=True,
            key="patrol-mode",
            format_func=lambda m: t(f"page.patrol.mode.{m}", lg),
        )
        c4, c5 = st.columns(2)
        dwell = c4.slider(t("page.patrol.dwell", lg), 10, 15, 12, key="patrol-dwell")
        begin_time = c5.time_input(
            t("page.patrol.begin", lg), default_begin.time(), step=900, key="patrol-begin"
        )
        planned = st.form_submit_button(t("page.patrol.plan", lg), type="primary")
    begin = pd.Timestamp(datetime.combine(default_begin.date(), begin_time), tz=TIMEZONE_NAME)
    key = (location, version, filters.ward_id, status.now.isoformat(), int(teams), minutes, mode,
           dwell, begin.isoformat())  # fmt: skip
    if planned:
        try:
            st.session_state["patrol-route"] = (key, _plan(location, version, filters.ward_id,
                                                           candidates, start, int(teams), minutes,
                                                           mode, dwell, begin))  # fmt: skip
        except UrbanOrderError as exc:
            st.error(str(exc))
            return
    saved = st.session_state.get("patrol-route")
    if not saved or saved[0] != key:
        st.info(t("page.patrol.plan_hint", lg))
        return
    routes: dict[str, Route] = saved[1]
    fmap = ward_base_map(b["wards"], b["streets"], filters)
    patrol_hotspots_layer(status.hotspots, lang=lg).add_to(fmap)
    for team, route in routes.items():
        name = f"{t('map.layer.route', lg)}: {team}"
        route_layer(route.legs, route.stops, start, lang=lg, name=name).add_to(fmap)
    ward_outline(b["wards"], lang=lg).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    st_folium(localize(fmap), key="route-map", height=480, use_container_width=True,
              returned_objects=[])  # fmt: skip
    for team, route in routes.items():
        _route_list(team, route, lg)


def _plan(
    location: str,
    version: int,
    ward_id: str,
    candidates: gpd.GeoDataFrame,
    start: tuple[float, float],
    teams: int,
    minutes: float,
    mode: str,
    dwell: float,
    begin: pd.Timestamp,
) -> dict[str, Route]:
    graph = _graph(location, version, ward_id)
    names = [f"Đội {i + 1}" for i in range(teams)]
    options = {"start": start, "minutes": float(minutes), "mode": mode,
               "dwell_minutes": float(dwell), "begin": begin}  # fmt: skip
    if teams == 1:
        return {names[0]: plan_route(graph, candidates, team=names[0], **options)}  # type: ignore[arg-type]
    return plan_team_routes(graph, candidates, teams=names, **options)  # type: ignore[arg-type]


def _route_list(team: str, route: Route, lg: Lang) -> None:
    st.subheader(t("page.patrol.route_title", lg, team=team, stops=len(route.stops),
                   km=format_number(route.total_m / 1000, lg, fmt="{:,.1f}"),
                   minutes=format_number(route.minutes, lg)))  # fmt: skip
    if route.stops.empty:
        st.warning(t("page.patrol.route_empty", lg))
        return
    stops = route.stops
    table = pd.DataFrame(
        {
            t("page.patrol.col.order", lg): stops["order"].astype(int),
            t("page.patrol.col.arrive", lg): [_clock(v) for v in stops["arrive"]],
            t("page.patrol.col.leave", lg): [_clock(v) for v in stops["leave"]],
            t("page.patrol.col.place", lg): stops["label"],
            t("page.patrol.col.walk_m", lg): stops["leg_m"].round(0).astype(int),
        }
    )
    st.table(table.set_index(t("page.patrol.col.order", lg)))
    slug = team.replace(" ", "-")
    c1, c2 = st.columns(2)
    c1.download_button(
        t("page.patrol.download_gpx", lg),
        route_gpx(route, name=f"Tuần tra {team}").encode("utf-8"),
        file_name=f"tuan-tra-{slug}.gpx",
        mime="application/gpx+xml",
        key=f"gpx-{slug}",
    )
    c2.download_button(
        t("page.patrol.download_list", lg),
        table.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"tuan-tra-{slug}.csv",
        mime="text/csv",
        key=f"csv-{slug}",
    )


def _clock(value: object) -> str:
    return "—" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%H:%M")  # type: ignore[arg-type]
