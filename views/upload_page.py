"""Page "Tải lên": upload files of records, check them on a map, confirm; or enter one record.

A file over the upload size limit is refused before its bytes are read, and a file's name is
only ever text (:func:`geo.readers.upload_name`). Every other file goes through
:func:`geo.ingest.prepare_upload` (nothing written) and is shown as its
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
from typing import Any

import folium
import geopandas as gpd
import streamlit as st
from streamlit_folium import st_folium

from geo.columns import ColumnMapping, normalise
from geo.errors import MappingError, UrbanOrderError
from geo.i18n import Lang, t, translations
from geo.ingest import PreparedUpload, UploadOptions, commit_upload, prepare_upload
from geo.readers import DEFAULT_LIMITS, upload_name
from geo.store import Store
from layers.assets import localize
from layers.boundaries import group_choropleth, ward_outline, zones_layer
from layers.records import records_cluster
from layers.style import format_number
from views import upload_entry
from views.common import (
    Filters,
    load_boundaries,
    map_bounds,
    problems_table,
    require,
    session_store,
    signed_in_user,
    translated,
    ward_base_map,
)

log = logging.getLogger(__name__)

#: What the file uploader takes (the readers detect the format from the content).
FILE_TYPES = ["csv", "txt", "xlsx", "geojson", "json", "kml", "kmz", "gpx", "jpg", "jpeg"]
KINDS = ("violations", "cleanups", "patrols", "citizen_reports")
_COUNTS = ("rows", "accepted", "duplicates", "quarantined", "snapped", "outside", "flagged")
_CACHE = "upload-prepared"
_DONE = "upload-done"
_OVERRIDES = "upload-overrides"
#: The largest file the page reads; Streamlit's own cap (``server.maxUploadSize`` in
#: ``.streamlit/config.toml``) is the same, so that a bigger file never reaches the server.
MAX_UPLOAD_BYTES = DEFAULT_LIMITS.max_bytes


@dataclass(frozen=True)
class _File:
    name: str
    data: bytes
    sha: str


def render(filters: Filters) -> None:
    """Draw the page for the sidebar's ``filters``."""
    lg = filters.lang
    require("upload")
    store = session_store()
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
        upload_entry.render(filters, store)
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
        max_upload_size=max(MAX_UPLOAD_BYTES // 2**20, 1),
    )
    c1, c2, c3 = st.columns(3)
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
    user = signed_in_user()
    uploaded = uploaded or []
    too_big = [f for f in uploaded if f.size > MAX_UPLOAD_BYTES]
    for f in too_big:  # refused on their size, before their bytes are copied and read
        size = format_number(f.size / 2**20, lg, fmt="{:,.1f}")
        limit = format_number(MAX_UPLOAD_BYTES / 2**20, lg)
        st.error(t("page.upload.too_big", lg, name=upload_name(f.name), size=size, limit=limit))
    files = [
        _File(upload_name(f.name), data, _sha(data))
        for f in uploaded
        if f.size <= MAX_UPLOAD_BYTES and (data := f.getvalue())
    ]
    _forget_others({f.sha for f in files})
    if not files:
        if not too_big:
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


# -- the preview map ---------------------------------------------------------------------------


def _preview(file: _File, prepared: PreparedUpload, filters: Filters, store: Store) -> None:
    lg = filters.lang
    b = load_boundaries(store.location, store.data_version(), filters.ward_id)
    points = prepared.points()
    st.markdown(f"**{t('page.upload.preview', lg)}**")
    fmap = _preview_map(points, b, filters)
    st_folium(
        fmap,
        key=f"preview-{file.sha[:16]}",
        height=420,
        use_container_width=True,
        returned_objects=[],
    )


def _preview_map(
    points: gpd.GeoDataFrame, b: Mapping[str, gpd.GeoDataFrame], filters: Filters
) -> folium.Map:
    lg = filters.lang
    ward, zones, groups, streets = b["wards"], b["zones"], b["groups"], b["streets"]
    fmap = ward_base_map(ward, streets, filters, bounds=map_bounds(ward, points))
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
