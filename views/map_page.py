"""Page "Bản đồ": the ward, its zones and groups coloured by rate, and the records.

Users of several wards may switch to the city view (:mod:`views.map_city`, also opened by
``?view=city``), drawn from store aggregates instead of records.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import folium
import pandas as pd
import streamlit as st

from geo.access import ScopedStore
from geo.i18n import Lang, t
from geo.summary import Headline, RateBasis, group_rates, headline
from layers.assets import localize
from layers.boundaries import group_choropleth, ward_outline, zones_layer
from layers.campaign import cleanups_layer
from layers.records import category_legend, records_cluster
from layers.style import format_number, format_vnd, format_vnd_short
from views import map_city
from views.common import (
    Filters,
    load_boundaries,
    load_records,
    ranked_table,
    session_store,
    translated,
    ward_base_map,
)

Scope = Literal["ward", "city"]

_BASES: tuple[RateBasis, ...] = ("per_1000", "per_km2", "count")
_SCOPES: tuple[Scope, ...] = ("ward", "city")
_FORMATS = map_city.RATE_FORMATS


def render(filters: Filters) -> None:
    """Draw the page for the sidebar's ``filters``: the sidebar's ward, or (for users of
    several wards, and opened directly by ``?view=city``) all of their wards."""
    lg = filters.lang
    store = session_store()
    st.title(t("page.map.title", lg))
    if _scope(store, lg) == "city":
        map_city.render(filters, _basis, _kpis)
        return
    version = store.data_version()
    b = load_boundaries(store.location, version, filters.ward_id)
    ward, zones, groups, streets = b["wards"], b["zones"], b["groups"], b["streets"]
    records = load_records(store.location, version, "violations", filters.query())

    if ward["synthetic"].fillna(False).any():
        st.info(t("page.map.synthetic_ward_note", lg))
    elif records["synthetic"].fillna(False).any():
        st.info(t("page.map.synthetic_note", lg))

    basis = _basis(lg)
    rates = group_rates(records, groups, months=filters.months)
    rates["zone_name"] = rates["zone_id"].map(zones.set_index("zone_id")["name"])
    head = headline(records, rates, basis=basis)
    _kpis(head, lg)

    # clean-ups have no category: the period and ward only
    period = dataclasses.replace(filters.query(), categories=None)
    cleanups = load_records(store.location, version, "cleanups", period)
    fmap = _map(filters, ward, zones, rates, streets, records, basis, cleanups)
    # here, not at the top: the city view (an iframe) never needs it, and it is 0.2 s to import
    from streamlit_folium import st_folium

    st_folium(
        fmap,
        key="ward-map",
        height=620,
        use_container_width=True,
        returned_objects=[],
    )
    st.caption(t("page.map.caption", lg, groups=len(groups), zones=len(zones)))
    _worst_table(head.worst, rates, lg)


def _scope(store: ScopedStore, lg: Lang) -> Scope:
    """The choice between the sidebar's ward and all the user's wards (kept in the URL as
    ``?view=city``, so that the city view can be bookmarked); none for users of one ward."""
    wards = store.ward_ids()
    if len(wards) < 2:
        return "ward"
    st.session_state.setdefault(
        "scope-kept", "city" if st.query_params.get("view") == "city" else "ward"
    )
    scope: Scope = translated(
        st.radio,
        t("page.map.scope", lg),
        _SCOPES,
        name="scope",
        lang=lg,
        format_func=lambda s: t(f"page.map.scope.{s}", lg, n=len(wards)),
        horizontal=True,
    )
    if scope == "city":
        st.query_params["view"] = "city"
    elif "view" in st.query_params:
        del st.query_params["view"]
    return scope


def _basis(lg: Lang) -> RateBasis:
    return translated(
        st.radio,
        t("page.map.basis", lg),
        _BASES,
        name="basis",
        lang=lg,
        format_func=lambda b: t(f"page.map.basis.{b}", lg),
        horizontal=True,
    )


def _kpis(head: Headline, lg: Lang) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("page.map.kpi.records", lg), format_number(head.records, lg))
    c2.metric(t("page.map.kpi.fined", lg), format_number(head.fined, lg))
    c3.metric(
        t("page.map.kpi.fines", lg),
        format_vnd_short(head.fines_vnd, lg),
        help=format_vnd(head.fines_vnd, lg),
    )
    c4.metric(t("page.map.kpi.removed", lg), format_number(head.items_removed, lg))
    if head.outside:
        st.caption(t("page.map.outside", lg, n=format_number(head.outside, lg)))


def _map(
    filters: Filters,
    ward: pd.DataFrame,
    zones: pd.DataFrame,
    rates: pd.DataFrame,
    streets: pd.DataFrame,
    records: pd.DataFrame,
    basis: RateBasis,
    cleanups: pd.DataFrame,
) -> folium.Map:
    lg = filters.lang
    fmap = ward_base_map(ward, streets, filters)
    value = f"{basis}_month" if basis != "count" else "count"
    group_choropleth(
        rates,
        value_column=value,
        legend_title=t(f"page.map.legend.{basis}", lg),
        lang=lg,
        fmt=_FORMATS[basis],
    ).add_to(fmap)
    zones_layer(zones, lang=lg).add_to(fmap)
    ward_outline(ward, lang=lg).add_to(fmap)
    group_names = rates.set_index("group_id")["name"]
    shown = records.assign(group_name=records["group_id"].map(group_names))
    cluster = records_cluster(shown, lang=lg)
    category_legend(lg, codes=list(filters.categories)).add_to(cluster)
    cluster.add_to(fmap)
    cleanups_layer(cleanups, lang=lg).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return localize(fmap)  # guards against any CDN link a later layer brings


def _worst_table(worst: pd.DataFrame, rates: pd.DataFrame, lg: Lang) -> None:
    st.subheader(t("page.map.worst", lg))
    if worst.empty:
        st.write(t("page.map.no_records", lg))
        return
    rows = rates.set_index("group_id").loc[worst["group_id"]]
    numeric = [
        t("page.map.kpi.records", lg),
        t("page.map.legend.per_1000", lg),
        t("page.map.legend.per_km2", lg),
    ]
    table = pd.DataFrame(
        {
            t("map.tooltip.group", lg): rows["name"].to_numpy(),
            t("map.tooltip.zone", lg): rows["zone_name"].to_numpy(),
            # Already ranked: numbers as the reader writes them (1.234,5 in Vietnamese).
            numeric[0]: [format_number(v, lg) for v in rows["count"]],
            numeric[1]: [format_number(v, lg, fmt="{:,.2f}") for v in rows["per_1000_month"]],
            numeric[2]: [format_number(v, lg) for v in rows["per_km2_month"]],
        }
    )
    ranked_table(table, numeric=numeric)
