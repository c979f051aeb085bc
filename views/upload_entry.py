"""Part of page "Tải lên": one record entered by hand, placed by a click on the map.

The record goes through the very same checks as a file (a one-row CSV), so validation,
de-duplication and assignment are identical.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime, time

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo.assign import assign_to_groups
from geo.config import STORAGE_CRS, TIMEZONE_NAME
from geo.errors import UrbanOrderError
from geo.export import manual_entry_csv
from geo.i18n import Lang, category_label, t
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.model import CATEGORIES, VIOLATION_STATUSES
from geo.store import Store
from layers.assets import localize
from layers.boundaries import ward_outline, zones_layer
from views.common import (
    Filters,
    load_boundaries,
    map_bounds,
    problems_table,
    signed_in_user,
    translated,
    ward_base_map,
)

log = logging.getLogger(__name__)

#: The ``uploads.file_name`` of a record typed in the app (data, not interface text).
ENTRY_FILE_NAME = "nhập tay {at}"


def render(filters: Filters, store: Store) -> None:
    """The form that makes one record from a click on the map, through the upload checks."""
    lg = filters.lang
    b = load_boundaries(store.location, store.data_version(), filters.ward_id)
    st.caption(t("page.upload.entry.help", lg))
    # st_folium keeps the map's last answer under its key before the rerun it triggers: take
    # the click first, so that the marker and the form show it in this very run.
    clicked = _last_click(st.session_state.get("entry-map"))
    if clicked is not None and clicked != st.session_state.get("entry-last-click"):
        st.session_state["entry-last-click"] = clicked
        st.session_state["entry-lat"], st.session_state["entry-lon"] = clicked
    _entry_map(b, filters)
    lat, lon = st.session_state.get("entry-lat"), st.session_state.get("entry-lon")
    if lat is not None and lon is not None:
        st.caption(_where(float(lat), float(lon), b["groups"], lg))
    now = pd.Timestamp.now(tz=TIMEZONE_NAME)
    with st.form("entry-form"):
        c1, c2 = st.columns(2)
        for col, name in ((c1, "lat"), (c2, "lon")):
            key = f"entry-{name}"
            # A value set by a click lives in the session state; passing one too would warn.
            empty = {} if key in st.session_state else {"value": None}
            col.number_input(t(f"column.{name}", lg), key=key, format="%.6f", step=0.0001, **empty)
        category = translated(
            st.selectbox,
            t("column.category", lg),
            CATEGORIES,
            name="entry-category",
            lang=lg,
            format_func=lambda c: category_label(c, lg),
        )
        c3, c4 = st.columns(2)
        day = c3.date_input(
            t("page.upload.entry.date", lg), value=now.date(), format="DD/MM/YYYY", key="entry-day"
        )
        moment = c4.time_input(
            t("page.upload.entry.time", lg),
            value=time(now.hour, now.minute),
            key="entry-time",
            step=60,
        )
        c5, c6 = st.columns(2)
        fine = c5.number_input(
            t("column.fine_vnd", lg),
            min_value=0,
            value=0,
            step=100_000,
            key="entry-fine",
            help=t("page.upload.entry.fine_help", lg),
        )
        status = translated(
            c6.selectbox,
            t("column.status", lg),
            ("", *VIOLATION_STATUSES),
            name="entry-status",
            lang=lg,
            format_func=lambda s: t(f"status.{s}", lg) if s else t("page.upload.entry.auto", lg),
        )
        address = st.text_input(t("column.address", lg), key="entry-address")
        user = signed_in_user()
        submitted = st.form_submit_button(t("page.upload.entry.save", lg), type="primary")
    if submitted:
        lat, lon = st.session_state.get("entry-lat"), st.session_state.get("entry-lon")
        if lat is None or lon is None:
            st.error(t("page.upload.entry.no_point", lg))
            return
        _save_entry(
            store,
            filters,
            user=user,
            lat=float(lat),
            lon=float(lon),
            when=datetime.combine(day if isinstance(day, date) else now.date(), moment),
            category=category,
            fine=int(fine) if fine else None,
            address=address.strip() or None,
            status=status or None,
        )


def _entry_map(b: Mapping[str, gpd.GeoDataFrame], filters: Filters) -> None:
    """The map to click on, with a marker at the chosen position."""
    lg = filters.lang
    ward, zones, streets = b["wards"], b["zones"], b["streets"]
    empty = gpd.GeoDataFrame(geometry=[], crs=STORAGE_CRS)
    fmap = ward_base_map(ward, streets, filters, bounds=map_bounds(ward, empty))
    zones_layer(zones, lang=lg).add_to(fmap)
    ward_outline(ward, lang=lg).add_to(fmap)
    marker = folium.FeatureGroup(name=t("page.upload.entry.point", lg))
    lat, lon = st.session_state.get("entry-lat"), st.session_state.get("entry-lon")
    if lat is not None and lon is not None:
        folium.CircleMarker(
            [float(lat), float(lon)],
            radius=9,
            color="#ffffff",
            weight=2,
            fill_color="#d62728",
            fill_opacity=0.95,
            tooltip=t("page.upload.entry.point", lg),
        ).add_to(marker)
    localize(fmap)
    # Only this map reports clicks; the marker is added without redrawing the whole map.
    st_folium(
        fmap,
        key="entry-map",
        height=460,
        use_container_width=True,
        returned_objects=["last_clicked"],
        feature_group_to_add=localize(marker),
    )


def _last_click(answer: object) -> tuple[float, float] | None:
    """(lat, lon) of the map's last click, from what st_folium returned."""
    click = answer.get("last_clicked") if isinstance(answer, Mapping) else None
    if not isinstance(click, Mapping) or click.get("lat") is None or click.get("lng") is None:
        return None
    return round(float(click["lat"]), 7), round(float(click["lng"]), 7)


def _where(lat: float, lon: float, groups: gpd.GeoDataFrame, lg: Lang) -> str:
    """Which group the point falls in, as a sentence."""
    point = gpd.GeoDataFrame(geometry=gpd.points_from_xy([lon], [lat]), crs=STORAGE_CRS)
    if not len(groups):
        return t("page.upload.entry.outside", lg, lat=f"{lat:.6f}", lon=f"{lon:.6f}")
    found = assign_to_groups(point, groups).iloc[0]
    if pd.isna(found["group_id"]):
        return t("page.upload.entry.outside", lg, lat=f"{lat:.6f}", lon=f"{lon:.6f}")
    name = groups.set_index("group_id")["name"].get(found["group_id"], found["group_id"])
    return t("page.upload.entry.in_group", lg, lat=f"{lat:.6f}", lon=f"{lon:.6f}", group=name)


def _save_entry(
    store: Store,
    filters: Filters,
    *,
    user: str,
    lat: float,
    lon: float,
    when: datetime,
    category: str,
    fine: int | None,
    address: str | None,
    status: str | None,
) -> None:
    lg = filters.lang
    data = manual_entry_csv(
        lat=lat,
        lon=lon,
        observed_at=when,
        category=category,
        fine_vnd=fine,
        address=address,
        status=status,
    )
    stamp = pd.Timestamp.now(tz=TIMEZONE_NAME).strftime("%Y-%m-%d %H:%M:%S")
    options = UploadOptions(kind="violations", user=user, ward_id=filters.ward_id)
    try:
        prepared = prepare_upload(
            data, name=ENTRY_FILE_NAME.format(at=stamp), store=store, options=options
        )
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    summary = prepared.summary()
    problems = prepared.problems()
    if summary["accepted"] == 1:
        try:
            commit_upload(prepared, store=store)
        except UrbanOrderError as exc:
            st.error(str(exc))
            return
        record = prepared.parts[0].records.iloc[0]
        st.success(t("page.upload.entry.saved", lg, id=str(record["record_id"])[:8]))
        flags = problems[problems["severity"] == "flag"]
        if len(flags):
            st.warning(t("page.upload.entry.flagged", lg))
            st.dataframe(problems_table(flags, lg), hide_index=True, width="stretch")
        log.info("record entered by hand: %s", summary)
    elif summary["duplicates"]:
        st.warning(t("page.upload.entry.duplicate", lg))
    else:
        st.error(t("page.upload.entry.rejected", lg))
        st.dataframe(problems_table(problems, lg), hide_index=True, width="stretch")
