"""Page "Tải lên": upload files of records, check them on a map, confirm; or enter one record.

Every file goes through :func:`geo.ingest.prepare_upload` (nothing written) and is shown as its
column mapping, its counts, a preview map of what would be accepted and the table of problems;
"Xác nhận" commits it with :func:`geo.ingest.commit_upload`. A record typed in the page (its
place clicked on a map) becomes a one-row CSV that takes exactly the same path, so it is
checked and de-duplicated like any file.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo.assign import assign_to_groups
from geo.columns import ColumnMapping, normalise
from geo.config import STORAGE_CRS, TIMEZONE_NAME
from geo.errors import MappingError, UrbanOrderError
from geo.export import manual_entry_csv
from geo.i18n import Lang, category_label, t, translations
from geo.ingest import PreparedUpload, UploadOptions, commit_upload, prepare_upload
from geo.model import CATEGORIES, TIME_COLUMNS, VIOLATION_STATUSES
from geo.store import Store
from layers.assets import localize
from layers.basemap import base_map, street_layer
from layers.boundaries import group_choropleth, ward_outline, zones_layer
from layers.records import records_cluster
from layers.style import format_number
from views.common import (
    Filters,
    get_store,
    load_boundaries,
    store_location,
    translated,
    user_input,
)

log = logging.getLogger(__name__)

#: What the file uploader takes (the readers detect the format from the content).
FILE_TYPES = ["csv", "txt", "xlsx", "geojson", "json", "kml", "kmz", "gpx", "jpg", "jpeg"]
KINDS = ("violations", "cleanups", "patrols", "citizen_reports")
_COUNTS = ("rows", "accepted", "duplicates", "quarantined", "snapped", "outside", "flagged")
#: The ``uploads.file_name`` of a record typed in the app (data, not interface text).
ENTRY_FILE_NAME = "nhập tay {at}"
_CACHE = "upload-prepared"
_DONE = "upload-done"
_OVERRIDES = "upload-overrides"


@dataclass(frozen=True)
class _File:
    name: str
    data: bytes
    sha: str


def render(filters: Filters) -> None:
    """Draw the page for the sidebar's ``filters``."""
    lg = filters.lang
    store = get_store(str(store_location()))
    st.title(t("page.upload.title", lg))
    mode = translated(
        st.radio,
        t("page.upload.mode", lg),
        ("file", "entry"),
        name="upload-mode",
        lang=lg,
        format_func=lambda m: t(f"page.upload.mode.{m}", lg),
        horizontal=True,
        label_visibility="collapsed",
    )
    if mode == "entry":
        _entry(filters, store)
    else:
        _files(filters, store)


# -- files -------------------------------------------------------------------------------------


def _files(filters: Filters, store: Store) -> None:
    lg = filters.lang
    uploaded = st.file_uploader(
        t("page.upload.files", lg),
        type=FILE_TYPES,
        accept_multiple_files=True,
        key="upload-files",
        help=t("page.upload.files_help", lg),
    )
    c1, c2, c3, c4 = st.columns(4)
    kind = translated(
        c1.selectbox,
        t("page.upload.kind", lg),
        KINDS,
        name="upload-kind",
        lang=lg,
        format_func=lambda k: t(f"kind.{k}", lg),
        help=t("page.upload.kind_help", lg),
    )
    crs = c2.text_input(
        t("page.upload.crs", lg),
        key="upload-crs",
        placeholder="EPSG:5897",
        help=t("page.upload.crs_help", lg),
    ).strip()
    team = c3.text_input(
        t("page.upload.team", lg), key="upload-team", help=t("page.upload.team_help", lg)
    ).strip()
    user = user_input(c4, lg, key="upload-user")
    files = [_File(f.name, data, _sha(data)) for f in uploaded or [] if (data := f.getvalue())]
    _forget_others({f.sha for f in files})
    if not files:
        st.info(t("page.upload.nothing_yet", lg))
        return
    for file in files:
        with st.container(border=True):
            st.subheader(file.name)
            done = st.session_state[_DONE].get(file.sha)
            if done is not None:
                _final_summary(done, lg)
                continue
            options = UploadOptions(
                kind=kind,  # type: ignore[arg-type]
                crs=crs or None,
                team=team or None,
                user=user,
                ward_id=filters.ward_id,
                overrides=dict(st.session_state[_OVERRIDES].get(file.sha, {})),
            )
            result = _prepared(file, options, store, lg)
            if isinstance(result, MappingError):
                _ask_mapping(file, result, options, lg)
            elif isinstance(result, UrbanOrderError):
                st.error(t("page.upload.unreadable", lg, name=file.name, message=str(result)))
            else:
                _review(file, result, filters, store)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _forget_others(shas: set[str]) -> None:
    """Drop what the session keeps for files no longer in the uploader."""
    for name in (_CACHE, _DONE, _OVERRIDES):
        kept = st.session_state.get(name, {})
        st.session_state[name] = {
            k: v for k, v in kept.items() if (k[0] if isinstance(k, tuple) else k) in shas
        }


def _prepared(
    file: _File, options: UploadOptions, store: Store, lg: Lang
) -> PreparedUpload | UrbanOrderError:
    """The prepared upload, computed once per file, options and store version."""
    key = (
        file.sha,
        options.kind,
        options.crs,
        options.team,
        options.ward_id,
        tuple(sorted(options.overrides.items())),
        store.data_version(),
    )
    cache = st.session_state[_CACHE]
    if key not in cache:
        # one version per file: an older check (other options, older store) is dropped
        for old in [k for k in cache if k[0] == file.sha]:
            del cache[old]
        try:
            with st.spinner(t("page.upload.checking", lg)):
                cache[key] = prepare_upload(file.data, name=file.name, store=store, options=options)
        except UrbanOrderError as exc:  # unreadable file, columns to choose, CRS mismatch...
            cache[key] = exc
    result = cache[key]
    if isinstance(result, PreparedUpload):
        # The name of who confirms is not part of the key: it changes only the audit trail.
        result.user = options.user
    return result


def _ask_mapping(file: _File, exc: MappingError, options: UploadOptions, lg: Lang) -> None:
    mapping: ColumnMapping = exc.mapping  # type: ignore[assignment]
    st.warning(t("page.upload.mapping_needed", lg, table=exc.table))
    _show_mapping(mapping, lg)
    columns = [*mapping.fields.values()]
    columns += [c for cands in mapping.unsure.values() for c in cands if c not in columns]
    columns += [c for c in mapping.unused if c not in columns]
    asked = [*mapping.unsure, *(f for f in mapping.missing if f not in mapping.unsure)]
    if "lat" in asked and "lon" not in asked:
        asked.append("lon")
    if "lon" in asked and "lat" not in asked:
        asked.insert(asked.index("lon"), "lat")
    with st.form(f"mapping-{file.sha[:16]}"):
        choices: dict[str, str] = {}
        cols = st.columns(min(len(asked), 4) or 1)
        for i, name in enumerate(asked):
            candidates = mapping.unsure.get(name, ())
            default = candidates[0] if candidates else mapping.fields.get(name)
            options_ = ["", *columns]
            choices[name] = cols[i % len(cols)].selectbox(
                field_label(name, lg),
                options_,
                index=options_.index(default) if default in options_ else 0,
                format_func=lambda c: c or t("page.upload.mapping_none", lg),
                key=f"map-{file.sha[:16]}-{name}",
            )
        if st.form_submit_button(t("page.upload.mapping_apply", lg), type="primary"):
            picked = [c for c in choices.values() if c]
            twice = sorted({c for c in picked if picked.count(c) > 1})
            if twice:
                st.error(t("page.upload.mapping_twice", lg, columns=", ".join(twice)))
                return
            overrides = dict(options.overrides)
            for name, column in choices.items():
                if column:
                    overrides[column] = name
            st.session_state[_OVERRIDES][file.sha] = overrides
            st.rerun()


def _review(file: _File, prepared: PreparedUpload, filters: Filters, store: Store) -> None:
    lg = filters.lang
    summary = prepared.summary()
    if prepared.same_file_as:
        st.info(t("page.upload.same_file", lg))
    for part in prepared.parts:
        if part.mapping is not None:
            if len(prepared.parts) > 1:
                st.caption(part.name)
            _show_mapping(part.mapping, lg)
    _counts(summary, lg)
    if summary["accepted"]:
        _preview(file, prepared, filters, store)
    problems = prepared.problems()
    if len(problems):
        st.markdown(f"**{t('page.upload.problems', lg)}**")
        st.dataframe(
            problems_table(problems, lg, with_table=len(prepared.parts) > 1),
            hide_index=True,
            width="stretch",
        )
    if summary["quarantined"]:
        st.caption(t("page.upload.quarantine_note", lg))
    if st.button(
        t("page.upload.confirm", lg),
        key=f"confirm-{file.sha[:16]}",
        type="primary",
        disabled=summary["rows"] == 0,
        help=t("page.upload.confirm_help", lg),
    ):
        try:
            result = commit_upload(prepared, store=store)
        except UrbanOrderError as exc:  # e.g. the store is busy: nothing was written
            st.error(str(exc))
            return
        st.session_state[_DONE][file.sha] = result
        st.session_state[_CACHE] = {
            k: v for k, v in st.session_state[_CACHE].items() if k[0] != file.sha
        }
        st.rerun()


def _show_mapping(mapping: ColumnMapping, lg: Lang) -> None:
    used = ", ".join(_used(col, name, lg) for name, col in mapping.fields.items())
    lines = [f"**{t('page.upload.mapping.used', lg)}:** {used or '—'}"]
    if mapping.unsure:
        pairs = "; ".join(
            f"{field_label(name, lg)}: {' / '.join(cols)}" for name, cols in mapping.unsure.items()
        )
        lines.append(f"**{t('page.upload.mapping.unsure', lg)}:** {pairs}")
    if mapping.missing:
        missing = ", ".join(field_label(name, lg) for name in mapping.missing)
        lines.append(f"**{t('page.upload.mapping.missing', lg)}:** {missing}")
    if mapping.unused:
        lines.append(f"**{t('page.upload.mapping.unused', lg)}:** {', '.join(mapping.unused)}")
    st.markdown("  \n".join(lines))


def _used(column: str, name: str, lg: Lang) -> str:
    """A column and its field; a column already named like its field is named once."""
    label = field_label(name, lg)
    return (
        column
        if normalise(column) == normalise(label.rsplit(" (", 1)[0])
        else f"{column} → {label}"
    )


def field_label(name: str, lang: Lang) -> str:
    """A field of :mod:`geo.columns` as people call it, with its code ("Vĩ độ (lat)")."""
    for key in (f"column.{name}", f"field.{name}"):
        if key in translations():
            return f"{t(key, lang)} ({name})"
    return name


def _counts(summary: Mapping[str, Any], lg: Lang) -> None:
    cols = st.columns(len(_COUNTS))
    for col, name in zip(cols, _COUNTS, strict=True):
        col.metric(
            t(f"page.upload.count.{name}", lg),
            format_number(summary[name], lg),
            help=t(f"page.upload.count.{name}_help", lg),
        )


def _final_summary(summary: Mapping[str, Any], lg: Lang) -> None:
    st.success(
        t(
            "page.upload.saved",
            lg,
            accepted=format_number(summary["accepted"], lg),
            duplicates=format_number(summary["duplicates"], lg),
            quarantined=format_number(summary["quarantined"], lg),
        )
    )
    _counts(summary, lg)


def problems_table(problems: pd.DataFrame, lang: Lang, *, with_table: bool = False) -> pd.DataFrame:
    """Problems of an upload (``PreparedUpload.problems()``) as a table for people.

    Row, column, what is wrong and how to fix it in ``lang``, the detailed message, and
    whether the row was rejected (to quarantine) or only flagged.
    """
    rows = pd.to_numeric(problems["row"], errors="coerce").astype("Int64")
    table = {
        t("page.upload.problem.row", lang): rows,
        t("page.upload.problem.column", lang): problems["column"].astype("string").fillna("—"),
        t("page.upload.problem.reason", lang): [_reason(r, lang) for r in problems["reason"]],
        t("page.upload.problem.fix", lang): [_fix(r, lang) for r in problems["reason"]],
        t("page.upload.problem.message", lang): problems["message"].astype("string"),
        t("page.upload.problem.severity", lang): [
            t(f"severity.{s}", lang) for s in problems["severity"]
        ],
    }
    if with_table and "table" in problems.columns:
        table = {t("page.upload.problem.table", lang): problems["table"], **table}
    return pd.DataFrame(table)


def _reason(code: str, lang: Lang) -> str:
    key = f"reason.{code}"
    return t(key, lang) if key in translations() else code


def _fix(code: str, lang: Lang) -> str:
    key = f"fix.{code}"
    return t(key, lang) if key in translations() else t("fix.other", lang)


# -- the preview map ---------------------------------------------------------------------------


def _preview(file: _File, prepared: PreparedUpload, filters: Filters, store: Store) -> None:
    lg = filters.lang
    b = load_boundaries(store.location, store.data_version(), filters.ward_id)
    points = preview_points(prepared)
    st.markdown(f"**{t('page.upload.preview', lg)}**")
    fmap = _preview_map(points, b, filters)
    st_folium(
        fmap,
        key=f"preview-{file.sha[:16]}",
        height=420,
        use_container_width=True,
        returned_objects=[],
    )


def preview_points(prepared: PreparedUpload) -> gpd.GeoDataFrame:
    """The records an upload would add, as points the records layer can draw.

    Cleanups, patrol points and citizen reports lack a category or a fine: they are drawn
    with what they have (category "other" where none).
    """
    frames = []
    for part in prepared.parts:
        rec = part.records
        if not len(rec):
            continue
        when = TIME_COLUMNS[part.table]
        frames.append(
            gpd.GeoDataFrame(
                {
                    "category": _column(rec, "category").fillna("other"),
                    "observed_at": rec[when],
                    "fine_vnd": _column(rec, "fine_vnd"),
                    "group_id": _column(rec, "group_id"),
                    "status": _column(rec, "status"),
                    "address": _column(rec, "address"),
                    "assignment": _column(rec, "assignment"),
                },
                geometry=rec.geometry.values,
                crs=rec.crs or STORAGE_CRS,
            )
        )
    if not frames:
        return gpd.GeoDataFrame(
            {"category": [], "observed_at": [], "fine_vnd": [], "group_id": []},
            geometry=[],
            crs=STORAGE_CRS,
        )
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=STORAGE_CRS)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].reset_index(drop=True)
    return pd.Series(pd.NA, index=range(len(frame)), dtype="object")


def _preview_map(
    points: gpd.GeoDataFrame, b: Mapping[str, gpd.GeoDataFrame], filters: Filters
) -> folium.Map:
    lg = filters.lang
    ward, zones, groups, streets = b["wards"], b["zones"], b["groups"], b["streets"]
    fmap = base_map(_bounds(ward, points), online_tiles=filters.online_tiles, lang=lg)
    synthetic = bool(ward["synthetic"].fillna(False).any()) if len(ward) else False
    street_layer(
        streets,
        name=t("map.layer.streets", lg),
        attribution=None if synthetic else t("map.attribution.osm", lg),
        lang=lg,
    ).add_to(fmap)
    counts = points["group_id"].dropna().value_counts()
    # Groups that get nothing show 0, not "no data": the preview is about this upload only.
    shaded = groups.assign(new=groups["group_id"].map(counts).fillna(0).astype("float64"))
    group_choropleth(
        shaded,
        value_column="new",
        legend_title=t("page.upload.legend", lg),
        lang=lg,
        fmt="{:,.0f}",
    ).add_to(fmap)
    zones_layer(zones, lang=lg).add_to(fmap)
    ward_outline(ward, lang=lg).add_to(fmap)
    names = groups.set_index("group_id")["name"]
    shown = points.assign(group_name=points["group_id"].map(names))
    records_cluster(shown, lang=lg, name=t("page.upload.layer", lg)).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return localize(fmap)


def _bounds(ward: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> tuple[float, ...]:
    """The ward's extent, grown to take in every point (an outside point must be seen)."""
    boxes = [np.asarray(ward.total_bounds)] if len(ward) else []
    valid = points.geometry[points.geometry.notna() & ~points.geometry.is_empty]
    if len(valid):
        boxes.append(np.asarray(valid.total_bounds))
    if not boxes:
        return (102.1, 8.2, 109.5, 23.4)  # Việt Nam
    stack = np.vstack(boxes)
    left, bottom = stack[:, 0].min(), stack[:, 1].min()
    right, top = stack[:, 2].max(), stack[:, 3].max()
    pad = 0.0005  # ~50 m, so a single point still gets a box
    return (left - pad, bottom - pad, right + pad, top + pad)


# -- one record entered by hand ----------------------------------------------------------------


def _entry(filters: Filters, store: Store) -> None:
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
        user = user_input(st, lg, key="entry-user")
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
    fmap = base_map(_bounds(ward, gpd.GeoDataFrame(geometry=[], crs=STORAGE_CRS)),
                    online_tiles=filters.online_tiles, lang=lg)  # fmt: skip
    synthetic = bool(ward["synthetic"].fillna(False).any()) if len(ward) else False
    street_layer(
        streets,
        name=t("map.layer.streets", lg),
        attribution=None if synthetic else t("map.attribution.osm", lg),
        lang=lg,
    ).add_to(fmap)
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
