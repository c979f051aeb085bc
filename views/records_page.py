"""Page "Hồ sơ": the records of the sidebar's filters, their status, quarantine, and export.

The table shows exactly the records of the sidebar's ward, period and categories, narrowed by
status and group; the status column is editable (saved with ``store.update``, audited). The
download buttons export that same set. Below, the rows of uploads that wait in quarantine can
be corrected and accepted (:func:`geo.ingest.resolve_quarantined`) or discarded with a reason
(:func:`geo.ingest.discard_quarantined`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from functools import partial

import geopandas as gpd
import pandas as pd
import streamlit as st

from geo.access import ScopedStore
from geo.config import TIMEZONE_NAME
from geo.errors import UrbanOrderError
from geo.export import EXPORT_FORMATS, ExportFormat, export_records
from geo.i18n import Lang, category_label, t
from geo.ingest import UploadOptions, discard_quarantined, resolve_quarantined
from geo.model import VIOLATION_STATUSES
from geo.store import Query, Store
from layers.style import format_number
from views.common import (
    Filters,
    load_boundaries,
    load_records,
    quarantine_reasons,
    session_store,
    signed_in_user,
    translated,
)
from views.upload_page import problems_table

log = logging.getLogger(__name__)

_FLASH = "records-flash"
#: Columns of an export, in order (those a frame lacks are left out).
EXPORT_COLUMNS = (
    "record_id", "observed_at", "category", "group_name", "zone_name", "address", "fine_vnd",
    "legal_basis", "items_removed", "status", "assignment", "gps_accuracy_m", "ward_id",
    "zone_id", "group_id", "campaign_id", "upload_id", "file_name", "photo_sha256", "synthetic",
)  # fmt: skip


def render(filters: Filters) -> None:
    """Draw the page for the sidebar's ``filters``."""
    lg = filters.lang
    store = session_store()
    version = store.data_version()
    b = load_boundaries(store.location, version, filters.ward_id)
    records = load_records(store.location, version, "violations", filters.query())
    uploads = load_records(store.location, version, "uploads", Query(ward_id=filters.ward_id))
    st.title(t("page.records.title", lg))
    _flash()
    groups = b["groups"].sort_values("name")
    group_names = dict(zip(groups["group_id"], groups["name"], strict=True))
    c1, c2 = st.columns(2)
    statuses = translated(
        c1.multiselect,
        t("column.status", lg),
        VIOLATION_STATUSES,
        name="records-status",
        lang=lg,
        format_func=lambda s: t(f"status.{s}", lg),
        placeholder=t("page.records.all", lg),
    )
    group_ids = c2.multiselect(
        t("column.group_name", lg),
        list(group_names),
        format_func=lambda g: group_names.get(g, g),
        key="records-groups",
        placeholder=t("page.records.all", lg),
    )
    user = signed_in_user()
    shown = filter_records(records, statuses=statuses, group_ids=group_ids)
    shown = with_names(shown, groups=b["groups"], zones=b["zones"], uploads=uploads)
    st.caption(
        t(
            "page.records.count",
            lg,
            n=format_number(len(shown), lg),
            total=format_number(len(records), lg),
        )
    )
    key = _state_key(filters, statuses, group_ids, version)
    _table(shown, store, filters, user, key=key, editable=store.principal.can("edit_records"))
    _export(shown, filters)
    st.divider()
    if store.principal.can("upload"):
        _quarantine(store, uploads, lg, user)


def filter_records(
    records: pd.DataFrame, *, statuses: Sequence[str] = (), group_ids: Sequence[str] = ()
) -> pd.DataFrame:
    """The records with one of ``statuses`` in one of ``group_ids`` (empty: any), by time."""
    keep = pd.Series(True, index=records.index)
    if statuses:
        keep &= records["status"].isin(list(statuses)).fillna(False)
    if group_ids:
        keep &= records["group_id"].isin(list(group_ids)).fillna(False)
    # Newest first: the team reads what happened lately.
    return records[keep.astype(bool)].sort_values("observed_at", ascending=False, kind="stable")


def with_names(
    records: pd.DataFrame,
    *,
    groups: pd.DataFrame,
    zones: pd.DataFrame,
    uploads: pd.DataFrame,
) -> pd.DataFrame:
    """A copy of ``records`` with the names of their group, zone and uploaded file."""
    return records.assign(
        group_name=records["group_id"].map(groups.set_index("group_id")["name"]),
        zone_name=records["zone_id"].map(zones.set_index("zone_id")["name"]),
        file_name=records["upload_id"].map(uploads.set_index("upload_id")["file_name"]),
    )


def _flash() -> None:
    """Show what the last action did (it ran before the rerun that draws this page)."""
    message = st.session_state.pop(_FLASH, None)
    if message:
        kind, text = message
        getattr(st, kind)(text)


def _state_key(filters: Filters, statuses: Sequence[str], groups: Sequence[str], v: int) -> str:
    # Edits are kept by row position: a new selection of rows needs a fresh editor.
    text = repr((filters, tuple(statuses), tuple(groups), v))
    return "records-editor-" + hashlib.sha1(text.encode()).hexdigest()[:12]


# -- the table and its status column -----------------------------------------------------------


def _table(
    shown: pd.DataFrame, store: Store, filters: Filters, user: str, *, key: str, editable: bool
) -> None:
    lg = filters.lang
    if shown.empty:
        st.info(t("page.records.none", lg))
        return
    labels = {code: t(f"status.{code}", lg) for code in VIOLATION_STATUSES}
    codes = {label: code for code, label in labels.items()}
    view = display_table(shown, lg)
    col = {name: t(f"column.{name}", lg) for name in ("observed_at", "fine_vnd", "status")}
    edited = st.data_editor(
        view,
        key=key,
        hide_index=True,
        width="stretch",
        height=420,
        placeholder="",
        disabled=[c for c in view.columns if c != col["status"] or not editable],
        column_config={
            col["observed_at"]: st.column_config.DatetimeColumn(format="DD/MM/YYYY HH:mm"),
            col["fine_vnd"]: st.column_config.NumberColumn(format="localized"),
            col["status"]: st.column_config.SelectboxColumn(
                options=list(labels.values()), required=True
            ),
        },
    )
    before = view[col["status"]]
    after = edited[col["status"]]
    changed = before.ne(after).fillna(False) & after.notna()
    changes = {
        str(rid): {"status": codes[after[rid]]}
        for rid in view.index[changed.to_numpy()]
        if after[rid] in codes
    }
    if not editable:
        st.caption(t("auth.staff_edit", lg))
        return
    if st.button(
        t("page.records.save", lg, n=len(changes)),
        key="records-save",
        type="primary",
        disabled=not changes,
    ):
        try:
            store.update("violations", changes, user=user, action="edit status")
        except UrbanOrderError as exc:
            st.error(str(exc))
            return
        log.info("%s changed the status of %d records", user, len(changes))
        st.session_state[_FLASH] = ("success", t("page.records.saved", lg, n=len(changes)))
        st.rerun()


def display_table(records: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """The records as people read them, indexed by record id, headers in ``lang``."""
    local = records["observed_at"].dt.tz_convert(TIMEZONE_NAME).dt.tz_localize(None)
    return pd.DataFrame(
        {
            t("column.observed_at", lang): local.to_numpy(),
            t("column.category", lang): [category_label(str(c), lang) for c in records["category"]],
            t("column.group_name", lang): records["group_name"].astype("string").array,
            t("column.address", lang): records["address"].astype("string").array,
            t("column.fine_vnd", lang): records["fine_vnd"].astype("Int64").array,
            t("column.status", lang): [_label("status", s, lang) for s in records["status"]],
            t("column.assignment", lang): [
                _label("assignment", a, lang) for a in records["assignment"]
            ],
            t("column.file_name", lang): records["file_name"].astype("string").array,
        },
        index=pd.Index(records["record_id"].astype(str), name="record_id"),
    )


def _label(kind: str, code: object, lang: Lang) -> str | None:
    if not isinstance(code, str) or not code:
        return None
    try:
        return t(f"{kind}.{code}", lang)
    except KeyError:
        return code


# -- export -----------------------------------------------------------------------------------


def _export(shown: pd.DataFrame, filters: Filters) -> None:
    lg = filters.lang
    st.markdown(f"**{t('page.records.export', lg, n=format_number(len(shown), lg))}**")
    frame = export_frame(shown)
    stem = f"ho-so-{filters.ward_id}-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}"
    cols = st.columns(len(EXPORT_FORMATS))
    fmt: ExportFormat
    for col, fmt in zip(cols, ("csv", "xlsx", "geojson", "gpkg", "kml"), strict=True):
        ext, mime = EXPORT_FORMATS[fmt]
        col.download_button(
            t(f"page.records.export.{fmt}", lg),
            # Built on click, in the background: an Excel file of 10,000 rows takes a while.
            data=partial(export_records, frame, fmt=fmt, lang=lg),
            file_name=f"{stem}.{ext}",
            mime=mime,
            key=f"records-export-{fmt}",
            on_click="ignore",
            disabled=shown.empty,
            width="stretch",
        )


def export_frame(shown: pd.DataFrame) -> pd.DataFrame:
    """The columns of an export, in order (the geometry last)."""
    names = [c for c in EXPORT_COLUMNS if c in shown.columns]
    if isinstance(shown, gpd.GeoDataFrame):
        return shown[[*names, shown.geometry.name]]
    return shown[names]


# -- quarantine --------------------------------------------------------------------------------


def _quarantine(store: ScopedStore, uploads: pd.DataFrame, lg: Lang, user: str) -> None:
    # The ward's uploads; uploads that name no ward (nothing in them could be located) are
    # for those who see every ward.
    waiting = store.read("quarantine")
    mine = waiting["upload_id"].isin(uploads["upload_id"])
    if store.principal.wards is None:
        every = store.read("uploads")
        mine |= waiting["upload_id"].isin(every.loc[every["ward_id"].isna(), "upload_id"])
    waiting = waiting[mine].reset_index(drop=True)
    st.subheader(t("page.records.quarantine", lg, n=format_number(len(waiting), lg)))
    if waiting.empty:
        st.caption(t("page.records.quarantine.none", lg))
        return
    files = uploads.set_index("upload_id")["file_name"]
    rows = quarantine_rows(waiting, files)
    st.dataframe(
        pd.DataFrame(
            {
                t("column.file_name", lg): rows["file_name"],
                t("page.upload.problem.row", lg): rows["row_number"],
                t("page.records.quarantine.reasons", lg): [
                    " | ".join(quarantine_reasons(r, lg)) for r in rows["reasons"]
                ],
                t("page.records.quarantine.cells", lg): rows["cells"],
            }
        ),
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(rows), 280),
    )
    keys = rows["key"].tolist()
    by_key = rows.set_index("key")
    pick = translated(
        st.selectbox,
        t("page.records.quarantine.pick", lg),
        keys,
        name="quarantine-pick",
        lang=lg,
        format_func=lambda k: t(
            "page.records.quarantine.option",
            lg,
            file=by_key.loc[k, "file_name"],
            row=by_key.loc[k, "row_number"],
        ),
    )
    if pick is None:
        return
    row = by_key.loc[pick]
    _fix_form(store, row, lg, user)


def quarantine_rows(waiting: pd.DataFrame, files: pd.Series) -> pd.DataFrame:
    """Quarantined rows with their file name, original cells (dict and text) and a key each."""
    raws = [json.loads(r) if isinstance(r, str) and r else {} for r in waiting["raw"]]
    cells = [{k: v for k, v in raw.items() if k != "_table"} for raw in raws]
    return pd.DataFrame(
        {
            "key": (waiting["upload_id"].astype(str) + ":" + waiting["row_number"].astype(str))
            .to_numpy(),
            "upload_id": waiting["upload_id"].astype(str).to_numpy(),
            "row_number": waiting["row_number"].astype(int).to_numpy(),
            "file_name": waiting["upload_id"].map(files).fillna(waiting["upload_id"]).to_numpy(),
            "reasons": waiting["reasons"].astype("string").fillna("").to_numpy(),
            "raw": cells,
            "cells": ["; ".join(f"{k}={'' if v is None else v}" for k, v in c.items())
                      for c in cells],
        }
    )  # fmt: skip


def _fix_form(store: Store, row: pd.Series, lg: Lang, user: str) -> None:
    st.markdown(f"**{t('page.records.quarantine.reasons', lg)}:**")
    st.markdown("\n".join(f"- {reason}" for reason in quarantine_reasons(str(row["reasons"]), lg)))
    form_key = f"fix-{row['upload_id'][:8]}-{row['row_number']}"
    cells: dict[str, str | None] = {}
    with st.form(form_key):
        st.caption(t("page.records.quarantine.edit_help", lg))
        names = list(row["raw"])
        cols = st.columns(2)
        for i, name in enumerate(names):
            value = row["raw"][name]
            cells[name] = cols[i % 2].text_input(
                name, value="" if value is None else str(value), key=f"{form_key}-c{i}"
            )
        crs = st.text_input(
            t("page.upload.crs", lg),
            key=f"{form_key}-crs",
            placeholder="EPSG:5897",
            help=t("page.upload.crs_help", lg),
        ).strip()
        reason = st.text_input(t("page.records.quarantine.discard_reason", lg), key=f"{form_key}-r")
        c1, c2 = st.columns(2)
        accept = c1.form_submit_button(
            t("page.records.quarantine.accept", lg), type="primary", width="stretch"
        )
        discard = c2.form_submit_button(t("page.records.quarantine.discard", lg), width="stretch")
    where = {"upload_id": str(row["upload_id"]), "row_number": int(row["row_number"])}
    if accept:
        try:
            options = UploadOptions(user=user, crs=crs or None)
            result = resolve_quarantined(store, **where, values=cells, user=user, options=options)
        except UrbanOrderError as exc:
            st.error(str(exc))
            return
        if result["outcome"] == "rejected":
            st.error(t("page.records.quarantine.still_rejected", lg))
            st.dataframe(problems_table(result["problems"], lg), hide_index=True, width="stretch")
            return
        st.session_state[_FLASH] = (
            "success",
            t(f"page.records.quarantine.{result['outcome']}", lg),
        )
        st.rerun()
    if discard:
        if not reason.strip():
            st.error(t("page.records.quarantine.reason_needed", lg))
            return
        try:
            discard_quarantined(store, **where, reason=reason.strip(), user=user)
        except UrbanOrderError as exc:
            st.error(str(exc))
            return
        st.session_state[_FLASH] = ("success", t("page.records.quarantine.discarded", lg))
        st.rerun()
