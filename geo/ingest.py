"""Uploading records: read, map, validate, de-duplicate, assign, and write — losing nothing.

Every row read ends in exactly one of three places: accepted (the record's table), duplicate
(table ``duplicates``, linked to what it repeats) or quarantined (table ``quarantine``, with its
original values and every reason). The upload's summary row in ``uploads`` holds the counts,
and they add up to the rows read. An upload is one store transaction: a failure midway leaves
the store as it was.

Duplicates are found three ways: the same file again (by its SHA-256: nothing of it is added),
the same record id (from the file, such as KoboToolbox's ``_uuid``, or derived from the
record's content, so the same record re-encoded in another format gets the same id), and likely
duplicates — the same category within ``duplicate_m`` metres and ``duplicate_minutes`` of a
record already stored or of an earlier row of the same upload.

Several people may upload at once. The checks run before the write, so an upload committed in
between can repeat a record (or the whole file) of one being committed; the store then refuses
the repeated key, and :func:`commit_upload` checks the upload again against the store as it now
is and writes that instead. A file's first upload has an id derived from its SHA-256, so two
first uploads of one file collide on the key of ``uploads`` too, even when no row has a key.
Likely duplicates share no key: two uploads committed at the same moment do not see each
other's (nor overlapping patrol tracks, which have no key either).
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, ParamSpec, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd

from geo._ingest_dedupe import deduplicate, identify, near_pairs
from geo._ingest_parse import category_from_labels, parse_fields, photo_drafts
from geo.assign import assign_to_groups
from geo.campaigns import Campaign, link_records, read_campaigns
from geo.columns import (
    TABLES,
    ColumnMapping,
    Kind,
    detect_columns,
)
from geo.config import SNAP_TOLERANCE_M, STORAGE_CRS, TIMEZONE_NAME
from geo.errors import InputError, MappingError, StoreError
from geo.model import KEYS, TIME_COLUMNS, conform
from geo.problems import Problems, problems_frame, rejected_reasons
from geo.readers import RawTable, ReadLimits, read_upload, upload_name
from geo.store import Query, Store

__all__ = [
    "PreparedUpload",
    "UploadOptions",
    "UploadPart",
    "commit_upload",
    "discard_quarantined",
    "prepare_upload",
    "resolve_quarantined",
]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: How many times a commit overtaken by another upload is checked again before giving up.
_COMMIT_ATTEMPTS = 5
#: Namespace of the ids of first uploads (``uuid5`` of the file's SHA-256).
_UPLOAD_NAMESPACE = uuid.UUID("1f0e8a52-3c1d-5b7e-9a4f-2d6c8b0e7a31")


_gc_lock = threading.Lock()
_gc_holders = 0


def _bulk(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` without Python's cycle collector, which is enabled again afterwards.

    An upload makes millions of short-lived objects; each collection then walks every live
    container (the frames' object columns, the row problems), which cost a big upload ~10 %
    of its time. Its few reference cycles are collected once it is done. Nested and
    concurrent uploads share the pause: the last to finish enables the collector again, if
    it was enabled when the first began.
    """

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        global _gc_holders, _gc_was_enabled
        with _gc_lock:
            if _gc_holders == 0:
                _gc_was_enabled = gc.isenabled()
                gc.disable()
            _gc_holders += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with _gc_lock:
                _gc_holders -= 1
                if _gc_holders == 0 and _gc_was_enabled:
                    gc.enable()

    return run


_gc_was_enabled = True


@dataclass(frozen=True, kw_only=True)
class UploadOptions:
    """The choices of one upload; every threshold is configurable."""

    kind: Kind | None = None  # None: GPX tracks are patrols, everything else violations
    crs: str | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    user: str = "unknown"
    team: str | None = None
    ward_id: str | None = None
    snap_m: float = SNAP_TOLERANCE_M
    duplicate_m: float = 25.0
    duplicate_minutes: float = 30.0
    accuracy_cap_m: float = 30.0
    category_aliases: Mapping[str, str] = field(default_factory=dict)  # a ward's own names
    #: category of the draft record a photo makes (a photo carries no category); "other"
    photo_category: str = "other"
    now: pd.Timestamp | None = None
    limits: ReadLimits = field(default_factory=ReadLimits)


@dataclass
class UploadPart:
    """One table of an uploaded file (a sheet, a GPX layer), processed."""

    name: str
    kind: str
    mapping: ColumnMapping | None
    rows: int
    records: pd.DataFrame
    duplicates: pd.DataFrame
    quarantine: pd.DataFrame
    problems: pd.DataFrame
    accepted_rows: tuple[int, ...] = ()

    @property
    def table(self) -> str:
        """The store table the accepted records go to."""
        return TABLES[self.kind]


@dataclass
class PreparedUpload:
    """An upload checked and ready to commit: what would be accepted, and why not the rest."""

    upload_id: str
    file_name: str
    file_sha256: str
    user: str
    parts: list[UploadPart]
    same_file_as: str | None = None
    ward_id: str | None = None
    #: The file and options it was prepared from, to check it again if it is overtaken.
    source: tuple[bytes, UploadOptions] | None = field(default=None, repr=False)

    @property
    def ward(self) -> str | None:
        """The upload's ward: the one chosen, else the ward most of its records fall in."""
        if self.ward_id:
            return self.ward_id
        wards = Counter[str]()
        for p in self.parts:
            if "ward_id" in p.records.columns:
                counts = p.records["ward_id"].dropna().astype(str).value_counts(sort=False)
                wards.update({str(k): int(v) for k, v in counts.items()})
        return wards.most_common(1)[0][0] if wards else None

    @property
    def rows(self) -> int:
        """Rows read from the file."""
        return sum(p.rows for p in self.parts)

    def summary(self) -> dict[str, Any]:
        """The counts of the upload; accepted + duplicates + quarantined = rows."""
        accepted = sum(len(p.records) for p in self.parts)
        duplicates = sum(len(p.duplicates) for p in self.parts)
        quarantined = sum(len(p.quarantine) for p in self.parts)
        assignment = Counter[str]()
        for p in self.parts:
            if "assignment" in p.records.columns:
                counts = p.records["assignment"].value_counts(sort=False)
                assignment.update({str(k): int(v) for k, v in counts.items()})
        reasons = Counter[str]()
        flagged_rows = 0
        for p in self.parts:
            reasons.update({str(k): int(v) for k, v in p.problems["reason"].value_counts().items()})
            flags = p.problems[p.problems["severity"] == "flag"]
            kept_rows = np.asarray(p.accepted_rows, dtype=np.int64)
            flagged_rows += flags.loc[flags["row"].isin(kept_rows), "row"].nunique()
        return {
            "upload_id": self.upload_id,
            "file": self.file_name,
            "kinds": sorted({p.kind for p in self.parts}),
            "rows": self.rows,
            "accepted": accepted,
            "duplicates": duplicates,
            "quarantined": quarantined,
            "snapped": assignment.get("snapped", 0),
            "outside": assignment.get("outside", 0),
            "flagged": flagged_rows,
            "reasons": dict(sorted(reasons.items())),
            "same_file_as": self.same_file_as,
            "mapping": {p.name: p.mapping.describe("en") for p in self.parts if p.mapping},
        }

    def points(self) -> gpd.GeoDataFrame:
        """What the upload would add, as points for a preview map.

        Columns ``category``, ``observed_at`` (each kind's own time), ``fine_vnd``,
        ``group_id``, ``status``, ``address`` and ``assignment``, missing where a kind has
        none; records without a category (cleanups, patrol points) count as "other".
        """
        frames = []
        for part in self.parts:
            rec = part.records.reset_index(drop=True)
            if not len(rec):
                continue
            cells = {name: _column_as_is(rec, name) for name in _POINT_COLUMNS}
            cells["category"] = cells["category"].fillna("other")
            cells["observed_at"] = rec[TIME_COLUMNS[part.table]]
            frames.append(gpd.GeoDataFrame(cells, geometry=rec.geometry.values, crs=STORAGE_CRS))
        if not frames:
            empty: dict[str, list[object]] = {n: [] for n in ("observed_at", *_POINT_COLUMNS)}
            return gpd.GeoDataFrame(empty, geometry=[], crs=STORAGE_CRS)
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=STORAGE_CRS)

    def problems(self) -> pd.DataFrame:
        """Every problem of every table, with the table's name."""
        frames = [p.problems.assign(table=p.name) for p in self.parts if len(p.problems)]
        if not frames:
            return problems_frame([]).assign(table=pd.Series(dtype="string"))
        return pd.concat(frames, ignore_index=True)


@_bulk
def prepare_upload(
    data: bytes, *, name: str, store: Store, options: UploadOptions | None = None
) -> PreparedUpload:
    """Read and check an uploaded file against the store, without writing anything.

    Raises
    ------
    InputError
        When the file cannot be read at all (the message names the file and the fix).
    MappingError
        When some columns cannot be identified; its ``mapping`` says which are unsure or
        missing, to be settled with ``options.overrides``.
    """
    opts = options or UploadOptions()
    name = upload_name(name)  # a name is only ever text: no path parts, no control characters
    sha = hashlib.sha256(data).hexdigest()
    tables = read_upload(data, name=name, limits=opts.limits)
    previous = _previous_upload(store, sha)
    if previous is not None:
        upload_id = str(uuid.uuid4())
        parts = [_same_file_part(t, _kind_of(t, opts), upload_id, previous) for t in tables]
        return PreparedUpload(upload_id, name, sha, opts.user, parts, same_file_as=previous,
                              ward_id=opts.ward_id, source=(data, opts))  # fmt: skip
    upload_id = str(uuid.uuid5(_UPLOAD_NAMESPACE, sha))
    context = _Context.load(store, opts)
    parts = [_process(t, _kind_of(t, opts), upload_id, context, opts) for t in tables]
    return PreparedUpload(upload_id, name, sha, opts.user, parts, ward_id=context.default_ward,
                          source=(data, opts))  # fmt: skip


@_bulk
def commit_upload(prepared: PreparedUpload, *, store: Store) -> dict[str, Any]:
    """Write a prepared upload in one transaction and return its summary.

    When another upload committed since ``prepared`` was checked repeats some of its records
    (or is the same file), the store refuses the write; the upload is then checked again
    against the store as it now is and that is written: the repeats count as duplicates. The
    summary returned is of what was written (its ``upload_id`` may differ from ``prepared``'s).

    Raises
    ------
    StoreError
        When the store refuses the write for another reason, or the upload is overtaken
        again at every one of five attempts.
    """
    for attempt in range(2, _COMMIT_ATTEMPTS + 1):
        try:
            return _write(prepared, store)
        except StoreError:
            if prepared.source is None or not _overtaken(prepared, store):
                raise
        log.info("upload of %s was overtaken by another; checking it again (attempt %d)",
                 prepared.file_name, attempt)  # fmt: skip
        data, opts = prepared.source
        # who confirms may have changed since it was prepared (the app sets ``user``)
        again = replace(opts, user=prepared.user)
        prepared = prepare_upload(data, name=prepared.file_name, store=store, options=again)
    return _write(prepared, store)


def _overtaken(prepared: PreparedUpload, store: Store) -> bool:
    """Whether the store now holds the file, or a record, that ``prepared`` took for new."""
    if prepared.same_file_as is None and _previous_upload(store, prepared.file_sha256):
        return True
    for part in prepared.parts:
        key = KEYS.get(part.table)
        if key and len(part.records) and store.existing_keys(part.table, part.records[key]):
            return True
    return False


def _write(prepared: PreparedUpload, store: Store) -> dict[str, Any]:
    summary = prepared.summary()
    batch: dict[str, list[pd.DataFrame]] = {}
    for part in prepared.parts:
        batch.setdefault(part.table, []).append(part.records)
        batch.setdefault("duplicates", []).append(part.duplicates)
        batch.setdefault("quarantine", []).append(part.quarantine)
    upload = pd.DataFrame(
        {
            "upload_id": [prepared.upload_id],
            "ward_id": [prepared.ward],
            "file_name": [prepared.file_name],
            "file_sha256": [prepared.file_sha256],
            "kind": [",".join(summary["kinds"])],
            "uploaded_by": [prepared.user],
            "uploaded_at": [pd.Timestamp.now(tz=TIMEZONE_NAME)],
            "rows": [summary["rows"]],
            "accepted": [summary["accepted"]],
            "duplicates": [summary["duplicates"]],
            "quarantined": [summary["quarantined"]],
        }
    )
    tables = {name: _concat(frames) for name, frames in batch.items()}
    tables = {name: frame for name, frame in tables.items() if len(frame)}
    store.write({**tables, "uploads": upload}, user=prepared.user, action="upload")
    log.info("upload %s of %s: %s", prepared.upload_id, prepared.file_name, summary)
    return summary


def resolve_quarantined(
    store: Store,
    *,
    upload_id: str,
    row_number: int,
    values: Mapping[str, str | None],
    user: str,
    options: UploadOptions | None = None,
) -> dict[str, Any]:
    """Try a quarantined row again with corrected cells; accept it if it now passes.

    The corrected row goes through the same checks as an upload. If it is accepted (or found
    to duplicate a stored record) it leaves quarantine in the same transaction; otherwise
    nothing changes and its remaining problems are returned.

    Returns
    -------
    dict
        ``outcome`` ("accepted", "duplicate" or "rejected"), ``problems`` (DataFrame) and,
        when accepted, ``record_id``.
    """
    waiting = store.read("quarantine")
    match = waiting[(waiting["upload_id"] == upload_id) & (waiting["row_number"] == row_number)]
    if match.empty:
        raise InputError(f"no quarantined row {row_number} of upload {upload_id}.")
    raw = json.loads(match["raw"].iloc[0] or "{}")
    name = str(raw.get("_table") or "upload")
    opts = options or UploadOptions(user=user)
    kind = opts.kind or _upload_kind(store, upload_id)
    cells = {
        str(k): (None if v is None or str(v).strip() == "" else str(v)) for k, v in values.items()
    }
    frame = pd.DataFrame([cells], index=pd.Index([row_number], name="row"), dtype=object)
    table = RawTable(name=name, layer="tracks" if kind == "patrols" else "records", frame=frame)
    ctx = _Context.load(store, opts)
    ctx._waiting = {}  # the row itself waits in quarantine: it must not count as its own copy
    part = _process(table, kind, upload_id, ctx, opts)
    where = {"upload_id": upload_id, "row_number": row_number}
    result: dict[str, Any] = {"problems": part.problems}
    if len(part.records):
        store.write({part.table: part.records}, user=user, action="accept corrected row",
                    delete={"quarantine": [where]})  # fmt: skip
        key = KEYS.get(part.table)
        result.update(outcome="accepted", record_id=part.records[key].iloc[0] if key else None)
    elif len(part.duplicates):
        store.write(
            {"duplicates": part.duplicates},
            user=user,
            action="corrected row is a duplicate",
            delete={"quarantine": [where]},
        )
        result.update(outcome="duplicate")
    else:
        result.update(outcome="rejected")
    return result


def discard_quarantined(
    store: Store, *, upload_id: str, row_number: int, reason: str, user: str
) -> None:
    """Remove a quarantined row for good; the reason and its original cells go to the audit log."""
    if not reason or not reason.strip():
        raise InputError("say why the row is discarded (e.g. 'test entry', 'not our ward').")
    waiting = store.read("quarantine")
    match = waiting[(waiting["upload_id"] == upload_id) & (waiting["row_number"] == row_number)]
    if match.empty:
        raise InputError(f"no quarantined row {row_number} of upload {upload_id}.")
    store.write(
        {},
        user=user,
        action=f"discard quarantined row ({reason.strip()}): {match['raw'].iloc[0]}",
        delete={"quarantine": [{"upload_id": upload_id, "row_number": row_number}]},
    )


def _upload_kind(store: Store, upload_id: str) -> str:
    uploads = store.read("uploads")
    kinds = uploads.loc[uploads["upload_id"] == upload_id, "kind"].dropna()
    kind = str(kinds.iloc[0]) if len(kinds) else "violations"
    return kind if kind in TABLES else "violations"


# -- context: what the store already holds ----------------------------------------------------


@dataclass
class _Context:
    store: Store
    groups: gpd.GeoDataFrame
    wards: gpd.GeoDataFrame
    salt: bytes
    default_ward: str | None
    _waiting: dict[str, str] | None = None
    _campaigns: list[Campaign] | None = None

    def campaigns(self) -> list[Campaign]:
        """The campaigns new records may belong to (every ward of the upload's store)."""
        if self._campaigns is None:
            self._campaigns = read_campaigns(self.store)
        return self._campaigns

    def quarantined(self) -> dict[str, str]:
        """Rows waiting in quarantine, by content key: "upload_id:row" of each."""
        if self._waiting is None:
            q = self.store.read("quarantine")
            keys = [_values_key(json.loads(raw)) for raw in q["raw"].fillna("{}")]
            where = (q["upload_id"].astype(str) + ":" + q["row_number"].astype(str)).tolist()
            self._waiting = dict(zip(keys, where, strict=True))
        return self._waiting

    @classmethod
    def load(cls, store: Store, opts: UploadOptions) -> _Context:
        q = Query(ward_id=opts.ward_id) if opts.ward_id else None
        wards = store.read("wards", q)
        ids = wards["ward_id"].dropna().unique()
        return cls(
            store=store,
            groups=store.read("groups", q),
            wards=wards,
            salt=store.offender_salt(),
            default_ward=opts.ward_id or (str(ids[0]) if len(ids) == 1 else None),
        )


def _previous_upload(store: Store, sha: str) -> str | None:
    uploads = store.read("uploads")
    same = uploads[uploads["file_sha256"] == sha]
    return None if same.empty else str(same["upload_id"].iloc[0])


def _kind_of(table: RawTable, opts: UploadOptions) -> str:
    if table.layer == "tracks":
        return "patrols"
    return opts.kind or "violations"


def _same_file_part(table: RawTable, kind: str, upload_id: str, previous: str) -> UploadPart:
    raw = _raw_json(table)
    duplicates = pd.DataFrame(
        {
            "upload_id": upload_id,
            "row_number": table.frame.index.astype("int64"),
            "raw": raw,
            "duplicate_of": f"upload:{previous}",
            "match": "same_file",
        }
    )
    return UploadPart(
        name=table.name,
        kind=kind,
        mapping=None,
        rows=len(table.frame),
        records=conform(TABLES[kind], pd.DataFrame()),
        duplicates=conform("duplicates", duplicates),
        quarantine=conform("quarantine", pd.DataFrame()),
        problems=problems_frame([]),
    )


# -- one table --------------------------------------------------------------------------------


def _process(
    table: RawTable, kind: str, upload_id: str, ctx: _Context, opts: UploadOptions
) -> UploadPart:
    frame = table.frame
    problems: Problems = list(table.problems)
    if "_photo_sha256" in frame.columns and kind == "violations":
        frame, drafts = photo_drafts(frame, opts)
        problems += drafts
    mapping = detect_columns(list(frame.columns), kind=kind, overrides=opts.overrides)  # type: ignore[arg-type]
    if not mapping.complete and kind in ("violations", "citizen_reports"):
        mapping = category_from_labels(frame, mapping, kind, opts)
    if not mapping.complete:
        raise MappingError(
            f"{table.name}: some columns could not be identified.\n{mapping.describe('en')}",
            mapping=mapping,
            table=table.name,
        )
    values, geometry = parse_fields(frame, mapping, kind, table, ctx, opts, problems)
    by_row = rejected_reasons(problems)
    keep = ~frame.index.isin(list(by_row))
    values = values[keep]
    geometry = geometry[keep]
    records = gpd.GeoDataFrame(values, geometry=geometry.values, crs=STORAGE_CRS)
    records.index = frame.index[keep]
    with ThreadPoolExecutor(1, thread_name_prefix="assign") as beside:
        # Meanwhile, on a second core: the violations near each other (numpy, PROJ and a
        # store read), then where each row lies (mostly GEOS and PROJ), beside the ids and
        # the exact duplicates (pandas). Each task has its own copy of the columns it reads:
        # ``identify`` adds to ``records``.
        nearing = None
        if kind == "violations" and len(records):
            near = records[["category", "observed_at", "geometry"]].copy()
            nearing = beside.submit(near_pairs, near, ctx, opts)
        placing = None
        if kind != "patrols" and len(records):
            points = gpd.GeoDataFrame(
                records[[c for c in ("ward_id",) if c in records.columns]].copy(),
                geometry=records.geometry.values,
                crs=STORAGE_CRS,
            )
            placing = beside.submit(assign_to_groups, points, ctx.groups, tolerance_m=opts.snap_m)
        records = identify(records, kind, ctx)
        near_found = nearing.result() if nearing is not None else None
        records, duplicates = deduplicate(records, kind, ctx, opts, near_found)
        if placing is not None and len(records):
            records = _assign(records, placing.result().loc[records.index], kind, ctx)
    records = records.assign(upload_id=upload_id)
    if "ward_id" not in records.columns or records["ward_id"].isna().any():
        records["ward_id"] = _column_or_na(records, "ward_id").fillna(ctx.default_ward)
    # A bad row already waiting in quarantine (the same file re-encoded) is not queued twice.
    waiting = ctx.quarantined()
    again = {row: waiting[k] for row in by_row if (k := _row_key(table, row)) in waiting}
    for row in again:
        del by_row[row]
    if again:
        more = pd.DataFrame(
            {"duplicate_of": [f"quarantine:{v}" for v in again.values()],
             "match": "same_quarantined"},
            index=pd.Index(list(again), dtype="int64"),
        )  # fmt: skip
        duplicates = pd.concat([duplicates, more])
    needed = pd.Index(list(by_row)).union(pd.Index(duplicates.index))
    raw = pd.Series(_raw_json(table, rows=needed), index=needed, dtype=object)
    dup_frame = pd.DataFrame(
        {
            "upload_id": upload_id,
            "row_number": duplicates.index.astype("int64"),
            "raw": raw.reindex(duplicates.index).to_numpy(),
            "duplicate_of": duplicates["duplicate_of"].to_numpy(),
            "match": duplicates["match"].to_numpy(),
        }
    )
    quarantine = pd.DataFrame(
        {
            "upload_id": upload_id,
            "row_number": list(by_row),
            "raw": raw.reindex(list(by_row)).to_numpy(),
            "reasons": [" | ".join(reasons) for reasons in by_row.values()],
        }
    )
    part = UploadPart(
        name=table.name,
        kind=kind,
        mapping=mapping,
        rows=len(frame),
        records=conform(TABLES[kind], records),
        duplicates=conform("duplicates", dup_frame),
        quarantine=conform("quarantine", quarantine),
        problems=problems_frame(problems),
        accepted_rows=tuple(records.index.tolist()),
    )
    _check_rows(part)
    return part


def _assign(
    records: gpd.GeoDataFrame, placed: gpd.GeoDataFrame, kind: str, ctx: _Context
) -> gpd.GeoDataFrame:
    """``records`` with their group (see :func:`assign_to_groups`, whose result ``placed``
    is, row for row) and, for violations, the campaign they fall in."""
    if kind == "violations":
        columns = ("group_id", "zone_id", "ward_id", "assignment")
        assigned = records.assign(**{c: placed[c] for c in columns})
        # a record inside a campaign's period, targets and categories is the campaign's
        if "observed_at" in assigned.columns and ctx.campaigns():
            assigned["campaign_id"] = link_records(assigned, ctx.campaigns())
        return assigned
    # Cleanups and reports keep only their group (their tables have no assignment column).
    return records.assign(group_id=placed["group_id"], ward_id=placed["ward_id"])


# -- small helpers ----------------------------------------------------------------------------


def _raw_json(table: RawTable, *, rows: pd.Index | None = None) -> list[str]:
    """Original cells of ``rows`` (default all) as JSON, with the table's name."""
    frame = table.frame if rows is None else table.frame.loc[rows]
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [json.dumps({"_table": table.name, **r}, ensure_ascii=False) for r in records]


def _values_key(values: dict[str, Any]) -> str:
    """A key of a row's original cells, the same whatever file format carried them."""
    cells = {k: v for k, v in values.items() if k != "_table"}
    return hashlib.sha256(
        json.dumps(cells, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()


def _row_key(table: RawTable, row: int) -> str:
    cells = table.frame.loc[row]
    return _values_key({str(k): (None if pd.isna(v) else v) for k, v in cells.items()})


#: The columns of :meth:`PreparedUpload.points` besides the time and the geometry.
_POINT_COLUMNS = ("category", "fine_vnd", "group_id", "status", "address", "assignment")


def _column_as_is(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.NA, index=frame.index, dtype="object")


def _column_or_na(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype("string")
    return pd.Series(pd.NA, index=frame.index, dtype="string")


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    if isinstance(frames[0], gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry="geometry", crs=frames[0].crs)
    return out


def _check_rows(part: UploadPart) -> None:
    """Every row read is accounted for exactly once."""
    total = len(part.records) + len(part.duplicates) + len(part.quarantine)
    if total != part.rows:
        raise InputError(f"{part.name}: {total} rows accounted for, {part.rows} read.")
