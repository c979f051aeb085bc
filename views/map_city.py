"""The map page's city view: all of the user's wards at once, drawn from store aggregates.

A citywide year holds about a million records, and reading them costs ~10 s, so this view
reads none unless the filters leave few: one ``Store.aggregate`` per period and categories
gives the records per ward and group, from which the wards are coloured, the groups become a
heat map (their polygons only when there are few), and the KPIs are summed. Records are read
and drawn only when at most :data:`RECORD_LIMIT` match.

The map is folium's own web page in an ``st.iframe``, built once per data version, filters,
rate and language (:func:`_map_html`): it sends nothing back to the page, so it needs no
``st_folium``, whose rendering cost every run ~0.3 s and whose iframe starts a React app
before it loads Leaflet.

The loaders here key their cache by the user's wards, so two users never share a city.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable
from typing import cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from geo.access import ScopedStore
from geo.auth import Principal
from geo.crs import metric_crs
from geo.i18n import Lang, t
from geo.store import Query
from geo.summary import Headline, RateBasis, aggregate_headline, area_rates
from layers.assets import localize
from layers.basemap import base_map
from layers.boundaries import group_choropleth, ward_outline
from layers.city import group_heat, lean_map, ward_choropleth
from layers.records import category_legend, records_cluster
from layers.style import format_number
from views.common import Filters, get_store, ranked_table, require, session_store

log = logging.getLogger(__name__)

#: Records are drawn one by one only when the filters leave at most this many.
RECORD_LIMIT = 5_000
#: Up to this many groups they are drawn as polygons; beyond, as a heat map of their counts.
GROUP_POLYGON_LIMIT = 1_500
_BY = ("ward_id", "group_id")
#: Height of the map in pixels (as the ward view's).
MAP_HEIGHT = 620
#: How the rates of each basis are written.
RATE_FORMATS = {"per_1000": "{:.1f}", "per_km2": "{:,.0f}", "count": "{:,.0f}"}


def render(
    filters: Filters,
    basis_choice: Callable[[Lang], RateBasis],
    kpis: Callable[[Headline, Lang], None],
) -> None:
    """Draw the city view below the page's title; ``basis_choice`` draws the choice of rate
    (as the ward view does), ``kpis`` the headline."""
    lg = filters.lang
    store = session_store()
    version = store.data_version()
    query = city_query(filters)
    wards_seen = require("view").wards
    # The aggregate (SQLite lets go of the GIL) runs while the boundaries are read: on a cold
    # cache that takes ~0.3 s off the first paint on two cores. Scoped by the user's wards.
    _in_background(_aggregate, store.location, version, query, wards_seen)
    city = load_city(store.location, version)
    wards = city["wards"]
    if wards["synthetic"].fillna(False).any():
        st.info(t("page.map.city.synthetic_note", lg))
    basis = basis_choice(lg)
    ward_rates, group_rates, head = load_figures(
        store.location, version, query, months=filters.months, basis=basis
    )
    kpis(head, lg)
    html = _map_html(
        store.location, version, query, filters.months, basis, wards_seen,
        lg, filters.online_tiles, RECORD_LIMIT, GROUP_POLYGON_LIMIT,
    )  # fmt: skip
    st.iframe(html, height=MAP_HEIGHT)
    total = head.records
    if total > RECORD_LIMIT:
        st.caption(
            t("page.map.city.records_hidden", lg, n=format_number(total, lg),
              limit=format_number(RECORD_LIMIT, lg))
        )  # fmt: skip
    caption = "caption_groups" if len(group_rates) <= GROUP_POLYGON_LIMIT else "caption"
    st.caption(
        t(f"page.map.city.{caption}", lg, wards=format_number(len(wards), lg),
          groups=format_number(len(group_rates), lg))
    )  # fmt: skip
    _worst_tables(head, ward_rates, group_rates, wards, basis, lg)


def city_query(filters: Filters) -> Query:
    """The sidebar's period and categories over every ward of the user."""
    return dataclasses.replace(filters.query(), ward_id=None)


# -- loaders ------------------------------------------------------------------------------------


def load_city(location: str, version: int) -> dict[str, gpd.GeoDataFrame]:
    """The user's wards and groups, and a point inside each group (read-only, shared)."""
    return _city(location, version, require("view").wards)


@st.cache_resource(max_entries=8, show_spinner=False)
def _city(
    location: str, version: int, wards: tuple[str, ...] | None
) -> dict[str, gpd.GeoDataFrame]:
    store = _as_user(location, wards)
    ward_gdf = cast(gpd.GeoDataFrame, store.read("wards"))
    groups = cast(gpd.GeoDataFrame, store.read("groups"))
    points = groups[["group_id", "ward_id"]].set_geometry(groups.geometry.representative_point())
    return {"wards": ward_gdf, "groups": groups, "points": points}


@st.cache_resource(max_entries=8, show_spinner=False)
def _areas(location: str, version: int, wards: tuple[str, ...] | None) -> dict[str, np.ndarray]:
    """The areas (km²) of the wards and of the groups of :func:`_city`, in their order.

    Projected once per data version, not on every rerun (``area_rates`` uses them as given),
    wards and groups in one go: each projection first builds its transformer (~60 ms).
    """
    city = _city(location, version, wards)
    ward_gdf, groups = city["wards"], city["groups"]
    metric = metric_crs(groups if len(groups) else ward_gdf)
    both = np.concatenate([ward_gdf.geometry.to_numpy(), groups.geometry.to_numpy()])
    areas = gpd.GeoSeries(both, crs=ward_gdf.crs).to_crs(metric).area.to_numpy() / 1e6
    return {"wards": areas[: len(ward_gdf)], "groups": areas[len(ward_gdf) :]}


@st.cache_resource(max_entries=32, show_spinner=False)
def _aggregate(
    location: str, version: int, query: Query, wards: tuple[str, ...] | None
) -> pd.DataFrame:
    return _as_user(location, wards).aggregate("violations", query, by=_BY)


def load_figures(
    location: str, version: int, query: Query, *, months: float, basis: RateBasis
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, Headline]:
    """Rates per ward and per group (per month of ``months``), and the headline, of the
    violations matching ``query`` in the user's wards (read-only, shared)."""
    who = require("view")
    if query.ward_id is not None:
        who.require_ward(query.ward_id)
    return _figures(location, version, query, months, basis, who.wards)


@st.cache_resource(max_entries=32, show_spinner=False)
def _figures(
    location: str,
    version: int,
    query: Query,
    months: float,
    basis: RateBasis,
    wards: tuple[str, ...] | None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, Headline]:
    city = _city(location, version, wards)
    counts = _aggregate(location, version, query, wards)
    # Only the per-km² basis shows a rate per km² (map, tooltips, tables): on the others the
    # areas, a projection of every polygon (0.1-0.3 s on a cold start), are not measured.
    areas: dict[str, np.ndarray | float] = {"wards": np.nan, "groups": np.nan}
    if basis == "per_km2":
        areas |= _areas(location, version, wards)
    ward_rates = area_rates(
        counts.groupby("ward_id")["count"].sum(),
        city["wards"].assign(area_km2=areas["wards"]),
        key="ward_id",
        months=months,
    )
    group_rates = area_rates(
        counts.groupby("group_id")["count"].sum(),
        city["groups"].assign(area_km2=areas["groups"]),
        key="group_id",
        months=months,
    )
    return ward_rates, group_rates, aggregate_headline(counts, group_rates, basis=basis)


@st.cache_resource(max_entries=8, show_spinner=False)
def _city_records(
    location: str, version: int, query: Query, wards: tuple[str, ...] | None
) -> pd.DataFrame:
    return _as_user(location, wards).read("violations", query)


@st.cache_resource(max_entries=16, show_spinner=False)
def _map_html(
    location: str,
    version: int,
    query: Query,
    months: float,
    basis: RateBasis,
    wards: tuple[str, ...] | None,
    lang: Lang,
    online_tiles: bool,
    record_limit: int,
    polygon_limit: int,
) -> str:
    """The city map as a web page, built once per data version, filters and language: building
    and rendering it cost ~0.4 s of every run (for 10,000 groups), sending it ~nothing. The
    limits are arguments as the page depends on them."""
    city = _city(location, version, wards)
    ward_rates, group_rates, head = _figures(location, version, query, months, basis, wards)
    records = None
    if 0 < head.records <= record_limit:
        records = _city_records(location, version, query, wards)
    fmap = _map(
        city["wards"], ward_rates, group_rates, city["points"], records, basis,
        lang=lang, online_tiles=online_tiles, categories=query.categories or (),
        polygon_limit=polygon_limit,
    )  # fmt: skip
    return fmap.get_root().render()


def _in_background(fn: Callable[..., object], *args: object) -> None:
    """Start the cached loader ``fn(*args)`` in a thread of this run; a later call with the same
    arguments waits for it (Streamlit locks each cache key while it is computed)."""
    thread = threading.Thread(target=fn, args=args, daemon=True, name="city-view-prefetch")
    add_script_run_ctx(thread, get_script_run_ctx())
    thread.start()


def _as_user(location: str, wards: tuple[str, ...] | None) -> ScopedStore:
    # Cached readers are shared by sessions: scoped by the wards in their key, not by a session.
    return ScopedStore(get_store(location), Principal("city-view", "viewer", wards))


# -- drawing ------------------------------------------------------------------------------------


def _map(
    wards: gpd.GeoDataFrame,
    ward_rates: gpd.GeoDataFrame,
    group_rates: gpd.GeoDataFrame,
    points: gpd.GeoDataFrame,
    records: pd.DataFrame | None,
    basis: RateBasis,
    *,
    lang: Lang,
    online_tiles: bool,
    categories: tuple[str, ...],
    polygon_limit: int,
) -> folium.Map:
    fmap = base_map(
        wards.total_bounds if len(wards) else (102.1, 8.2, 109.5, 23.4),
        online_tiles=online_tiles,
        lang=lang,
        min_zoom=6,
    )
    value = f"{basis}_month" if basis != "count" else "count"
    legend = t(f"page.map.legend.{basis}", lang)
    if len(group_rates) <= polygon_limit:
        group_choropleth(
            group_rates, value_column=value, legend_title=legend, lang=lang, fmt=RATE_FORMATS[basis]
        ).add_to(fmap)
        ward_outline(wards, lang=lang).add_to(fmap)
    else:
        ward_choropleth(
            ward_rates, value_column=value, legend_title=legend, lang=lang, fmt=RATE_FORMATS[basis]
        ).add_to(fmap)
        counts = points.assign(
            count=points["group_id"].map(group_rates.set_index("group_id")["count"])
        )
        group_heat(counts, lang=lang).add_to(fmap)
    if records is not None and len(records):
        names = group_rates.set_index("group_id")["name"]
        shown = records.assign(group_name=records["group_id"].map(names))
        cluster = records_cluster(shown, lang=lang)
        category_legend(lang, codes=list(categories)).add_to(cluster)
        cluster.add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return lean_map(localize(fmap))


def _worst_tables(
    head: Headline,
    ward_rates: pd.DataFrame,
    group_rates: pd.DataFrame,
    wards: pd.DataFrame,
    basis: RateBasis,
    lg: Lang,
) -> None:
    if head.records == 0:
        st.write(t("page.map.no_records", lg))
        return
    left, right = st.columns(2)
    key = basis if basis in ward_rates.columns else "count"
    worst_wards = (
        ward_rates[ward_rates["count"] > 0]
        .sort_values([key, "count", "ward_id"], ascending=[False, False, True])
        .head(5)
    )
    ward_names = wards.set_index("ward_id")["name"]
    records, per_1000 = t("page.map.kpi.records", lg), t("page.map.legend.per_1000", lg)
    with left:
        st.subheader(t("page.map.city.worst_wards", lg))
        ranked_table(
            pd.DataFrame(
                {
                    t("map.tooltip.ward", lg): worst_wards["name"].to_numpy(),
                    records: [format_number(v, lg) for v in worst_wards["count"]],
                    per_1000: [
                        format_number(v, lg, fmt="{:,.2f}") for v in worst_wards["per_1000_month"]
                    ],
                }
            ),
            numeric=(records, per_1000),
        )
    with right:
        st.subheader(t("page.map.worst", lg))
        rows = group_rates.set_index("group_id").loc[head.worst["group_id"]]
        ranked_table(
            pd.DataFrame(
                {
                    t("map.tooltip.group", lg): rows["name"].to_numpy(),
                    t("map.tooltip.ward", lg): rows["ward_id"].map(ward_names).to_numpy(),
                    records: [format_number(v, lg) for v in rows["count"]],
                    per_1000: [format_number(v, lg, fmt="{:,.2f}") for v in rows["per_1000_month"]],
                }
            ),
            numeric=(records, per_1000),
        )
