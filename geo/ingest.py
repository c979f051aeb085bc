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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.assign import assign_to_groups
from geo.columns import (
    TIME_FIELDS,
    ColumnMapping,
    Kind,
    category_code,
    detect_columns,
    status_code,
)
from geo.config import SNAP_TOLERANCE_M, STORAGE_CRS, TIMEZONE_NAME
from geo.crs import metric_crs
from geo.errors import InputError, MappingError
from geo.model import KEYS, conform, fine_schedule
from geo.problems import RowProblem, problems_frame
from geo.readers import RawTable, ReadLimits, read_upload
from geo.store import Query, Store
from geo.values import (
    check_fines,
    combine_date_time,
    parse_accuracy_flags,
    parse_coordinates,
    parse_geolocation,
    parse_number,
    parse_timestamps,
    parse_vnd,
)

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

#: The store table each kind of upload fills.
TABLES: dict[str, str] = {
    "violations": "violations",
    "cleanups": "cleanups",
    "patrols": "patrol_points",
    "citizen_reports": "citizen_reports",
}
#: Keys of the content hashes behind derived record ids (16 bytes each; never change them:
#: the same record must get the same id in every upload, in every version).
_ID_KEYS = ("urban-order-id-1", "urban-order-id-2")


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
                assignment.update(p.records["assignment"].dropna())
        reasons = Counter[str]()
        flagged_rows = 0
        for p in self.parts:
            reasons.update({str(k): int(v) for k, v in p.problems["reason"].value_counts().items()})
            flags = p.problems[p.problems["severity"] == "flag"]
            flagged_rows += flags.loc[flags["row"].isin(p.accepted_rows), "row"].nunique()
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

    def problems(self) -> pd.DataFrame:
        """Every problem of every table, with the table's name."""
        frames = [p.problems.assign(table=p.name) for p in self.parts if len(p.problems)]
        if not frames:
            return problems_frame([]).assign(table=pd.Series(dtype="string"))
        return pd.concat(frames, ignore_index=True)


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
    sha = hashlib.sha256(data).hexdigest()
    upload_id = str(uuid.uuid4())
    tables = read_upload(data, name=name, limits=opts.limits)
    previous = _previous_upload(store, sha)
    if previous is not None:
        parts = [_same_file_part(t, _kind_of(t, opts), upload_id, previous) for t in tables]
        return PreparedUpload(upload_id, name, sha, opts.user, parts, same_file_as=previous)
    context = _Context.load(store, opts)
    parts = [_process(t, _kind_of(t, opts), upload_id, context, opts) for t in tables]
    return PreparedUpload(upload_id, name, sha, opts.user, parts)


def commit_upload(prepared: PreparedUpload, *, store: Store) -> dict[str, Any]:
    """Write a prepared upload in one transaction and return its summary."""
    summary = prepared.summary()
    batch: dict[str, list[pd.DataFrame]] = {}
    for part in prepared.parts:
        batch.setdefault(part.table, []).append(part.records)
        batch.setdefault("duplicates", []).append(part.duplicates)
        batch.setdefault("quarantine", []).append(part.quarantine)
    upload = pd.DataFrame(
        {
            "upload_id": [prepared.upload_id],
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
    problems: list[RowProblem] = list(table.problems)
    if "_photo_sha256" in frame.columns and kind == "violations":
        frame, drafts = _photo_drafts(frame, opts)
        problems += drafts
    mapping = detect_columns(list(frame.columns), kind=kind, overrides=opts.overrides)  # type: ignore[arg-type]
    if not mapping.complete and kind in ("violations", "citizen_reports"):
        mapping = _category_from_labels(frame, mapping, kind, opts)
    if not mapping.complete:
        raise MappingError(
            f"{table.name}: some columns could not be identified.\n{mapping.describe('en')}",
            mapping=mapping,
            table=table.name,
        )
    values, geometry = _parse(frame, mapping, kind, table, ctx, opts, problems)
    rejected = {p.row for p in problems if p.severity == "reject"}
    keep = ~frame.index.isin(list(rejected))
    values = values[keep]
    geometry = geometry[keep]
    records = gpd.GeoDataFrame(values, geometry=geometry.values, crs=STORAGE_CRS)
    records.index = frame.index[keep]
    records = _identify(records, kind, ctx)
    records, duplicates = _deduplicate(records, kind, ctx, opts)
    if kind != "patrols" and len(records):
        records = _assign(records, kind, ctx, opts)
    records = records.assign(upload_id=upload_id)
    if "ward_id" not in records.columns or records["ward_id"].isna().any():
        records["ward_id"] = _column_or_na(records, "ward_id").fillna(ctx.default_ward)
    by_row: dict[int, list[str]] = {}
    for p in problems:
        if p.severity == "reject":
            by_row.setdefault(p.row, []).append(f"{p.column or '—'}: {p.message}")
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
        accepted_rows=tuple(int(r) for r in records.index),
    )
    _check_rows(part)
    return part


#: Columns of map files (KML folders, GPX waypoint types and names) that often hold the category.
_LABEL_COLUMNS = ("_folder", "type", "name", "desc")


def _category_from_labels(
    frame: pd.DataFrame, mapping: ColumnMapping, kind: str, opts: UploadOptions
) -> ColumnMapping:
    """For map files, take the category from a label column when it reads as one.

    Google Earth users file placemarks in folders named after the category, and phone GPX apps
    put it in the waypoint's type or name. A column counts when at least 80 % of its filled
    cells name a category; otherwise the mapping stays unsure and the user is asked.
    """
    if "category" not in mapping.missing and "category" not in mapping.unsure:
        return mapping
    if "_lon" not in frame.columns:
        return mapping
    for column in _LABEL_COLUMNS:
        if column not in frame.columns or column in mapping.fields.values():
            continue
        cells = frame[column].dropna()
        if cells.empty:
            continue
        codes, _ = category_code(cells, column=column, aliases=opts.category_aliases)
        if codes.notna().mean() >= 0.8:
            overrides = {**opts.overrides, column: "category"}
            return detect_columns(list(frame.columns), kind=kind, overrides=overrides)  # type: ignore[arg-type]
    return mapping


def _photo_drafts(
    frame: pd.DataFrame, opts: UploadOptions
) -> tuple[pd.DataFrame, list[RowProblem]]:
    """A photo makes a draft record at its GPS position and time, to confirm on the map."""
    if "category" in opts.overrides.values():
        return frame, []
    out = frame.assign(category=opts.photo_category)
    notes = [
        RowProblem(
            row=int(row),
            column=None,
            reason="draft_from_photo",
            message=(
                f"A draft record made from a photo, filed as {opts.photo_category!r}: check its "
                "category, place and details in the Hồ sơ page."
            ),
            severity="flag",
        )
        for row in frame.index
    ]
    return out, notes


def _parse(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    kind: str,
    table: RawTable,
    ctx: _Context,
    opts: UploadOptions,
    problems: list[RowProblem],
) -> tuple[pd.DataFrame, gpd.GeoSeries]:
    """Typed values of every mapped field (rows with problems included, for now)."""
    f = mapping.fields
    now = opts.now or pd.Timestamp.now(tz=TIMEZONE_NAME)
    out = pd.DataFrame(index=frame.index)

    def col(name: str) -> pd.Series:
        return frame[f[name]] if name in f else pd.Series(None, index=frame.index, dtype=object)

    # position
    lat_col: str | None
    lon_col: str | None
    if "geolocation" in f:
        split = parse_geolocation(frame[f["geolocation"]])
        lat_text, lon_text = split["lat"], split["lon"]
        lat_col = lon_col = f["geolocation"]
    else:
        lat_text, lon_text = col("lat"), col("lon")
        lat_col, lon_col = f.get("lat"), f.get("lon")
    ward = ctx.wards if len(ctx.wards) else None
    geometry, probs = parse_coordinates(
        lat_text,
        lon_text,
        lat_column=lat_col,
        lon_column=lon_col,
        crs=opts.crs or table.crs,
        ward=ward,
    )
    problems += probs
    geometry = geometry.reindex(frame.index)

    # time
    when = TIME_FIELDS[kind]
    if when in f:
        stamps, probs = parse_timestamps(frame[f[when]], column=f[when], now=now, required=True)
    else:
        stamps, probs = combine_date_time(
            col("date"),
            frame[f["time"]] if "time" in f else None,
            date_column=f.get("date"),
            time_column=f.get("time"),
            now=now,
            required=True,
        )
    problems += probs
    out[when] = stamps

    if "geometry_type" in f:
        kinds = frame[f["geometry_type"]]
        for row in kinds.index[kinds.notna()]:
            problems.append(RowProblem(
                row=int(row), column=None, reason="not_a_point",
                message=f"The feature is a {kinds[row]}, not a point; draw it as a point "
                        "(a placemark / marker) where the record was made.",
            ))  # fmt: skip
    if "gps_accuracy_m" in f:
        acc, probs = parse_number(frame[f["gps_accuracy_m"]], column=f["gps_accuracy_m"], minimum=0)
        problems += probs + parse_accuracy_flags(acc, cap_m=opts.accuracy_cap_m,
                                                 column=f["gps_accuracy_m"])  # fmt: skip
        out["gps_accuracy_m"] = acc
    if kind in _KIND_PARSERS:
        _KIND_PARSERS[kind](frame, f, out, ctx, opts, problems)
    _parse_optional(frame, f, out, kind, opts, problems)
    return out, geometry


def _parse_violation(
    frame: pd.DataFrame,
    f: Mapping[str, str],
    out: pd.DataFrame,
    ctx: _Context,
    opts: UploadOptions,
    problems: list[RowProblem],
) -> None:
    cats, probs = category_code(
        frame[f["category"]], column=f["category"], aliases=opts.category_aliases
    )
    problems += probs
    out["category"] = cats
    if "fine_vnd" in f:
        fines, probs = parse_vnd(frame[f["fine_vnd"]], column=f["fine_vnd"])
        problems += probs + check_fines(fines, cats, column=f["fine_vnd"])
    else:
        fines = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    out["fine_vnd"] = fines
    if "status" in f:
        status, probs = status_code(frame[f["status"]], column=f["status"])
        problems += probs
    else:
        status = pd.Series(pd.NA, index=frame.index, dtype="string")
    # A fine implies the case was fined; otherwise a record without outcome is still open.
    fined = fines.fillna(0).gt(0)
    status = status.mask(status.isna() & fined, "fined").fillna("open")
    out["status"] = status
    basis = pd.Series(cats.map(_legal_basis), index=frame.index, dtype="string")
    if "legal_basis" in f:
        given = frame[f["legal_basis"]].astype("string")
        basis = given.fillna(basis.where(fined))
    else:
        basis = basis.where(fined)
    out["legal_basis"] = basis
    if "offender" in f:
        out["offender_key"] = _offender_keys(frame[f["offender"]], ctx.salt)


@dataclass(frozen=True)
class _Fields:
    """The optional fields of one kind of record, by how they are parsed."""

    times: tuple[str, ...] = ()
    numbers: tuple[tuple[str, float | None, float | None, bool], ...] = ()  # name, min, max, int
    texts: tuple[str, ...] = ()
    categorised: bool = False


_OPTIONAL: dict[str, _Fields] = {
    "violations": _Fields(
        numbers=(("items_removed", 0, None, True),), texts=("address", "photo_sha256", "record_id")
    ),
    "cleanups": _Fields(
        times=("ended_at",),
        numbers=(("participants", 0, None, True), ("waste_kg", 0, None, False)),
        texts=("notes", "cleanup_id"),
    ),
    "citizen_reports": _Fields(
        times=("accepted_at", "resolved_at"),
        numbers=(("severity", 1, 3, True),),
        texts=("status", "report_id"),
        categorised=True,
    ),
    "patrols": _Fields(),
}


def _parse_optional(
    frame: pd.DataFrame,
    f: Mapping[str, str],
    out: pd.DataFrame,
    kind: str,
    opts: UploadOptions,
    problems: list[RowProblem],
) -> None:
    """Parse the optional fields of ``kind`` that the mapping found."""
    spec = _OPTIONAL[kind]
    now = opts.now or pd.Timestamp.now(tz=TIMEZONE_NAME)
    if spec.categorised and "category" in f:
        cats, probs = category_code(
            frame[f["category"]], column=f["category"], aliases=opts.category_aliases
        )
        problems += probs
        out["category"] = cats
    for name in spec.times:
        if name in f:
            stamps, probs = parse_timestamps(frame[f[name]], column=f[name], now=now)
            problems += probs
            out[name] = stamps
    for name, low, high, integer in spec.numbers:
        if name in f:
            values, probs = parse_number(frame[f[name]], column=f[name], minimum=low,
                                         maximum=high, integer=integer)  # fmt: skip
            problems += probs
            out[name] = values
    for name in spec.texts:
        if name in f:
            out[name] = frame[f[name]].astype("string")


def _parse_patrol(
    frame: pd.DataFrame,
    f: Mapping[str, str],
    out: pd.DataFrame,
    ctx: _Context,
    opts: UploadOptions,
    problems: list[RowProblem],
) -> None:
    team = frame[f["team"]].astype("string") if "team" in f else None
    out["team"] = team if team is not None else pd.Series(opts.team, index=frame.index,
                                                          dtype="string")  # fmt: skip
    if "track_id" in f and f["track_id"] != "_track":
        out["track_id"] = frame[f["track_id"]].astype("string")
    elif "_track" in frame.columns:
        # A GPX track's name ("Tuần tra sáng") recurs every day: it names a track, it is no id.
        out["_track"] = frame["_track"].astype("string")


_KIND_PARSERS = {"violations": _parse_violation, "patrols": _parse_patrol}


def _legal_basis(category: object) -> str | None:
    rule = fine_schedule().get(str(category))
    return f"{rule.legal_basis} {rule.provision}" if rule else None


def _offender_keys(values: pd.Series, salt: bytes) -> pd.Series:
    """Salted HMAC of a plate or household, normalised; never the text itself."""

    def key(text: object) -> str | None:
        if not isinstance(text, str) or not text.strip():
            return None
        normal = "".join(text.upper().split()).replace("-", "").replace(".", "")
        return hmac.new(salt, normal.encode("utf-8"), hashlib.sha256).hexdigest()

    return values.map(key).astype("string")


# -- identity, duplicates, groups -------------------------------------------------------------


def _identify(records: gpd.GeoDataFrame, kind: str, ctx: _Context) -> gpd.GeoDataFrame:
    """Give every record its id: the file's own, or one derived from its content."""
    if kind == "patrols":
        return _track_ids(records)
    key = KEYS[TABLES[kind]]
    when = records[TIME_FIELDS[kind]]
    stamp = when.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("")
    content = (
        kind
        + "|" + records.get("category", pd.Series("", index=records.index)).fillna("").astype(str)
        + "|" + stamp
        + "|" + records.geometry.x.round(6).astype(str)
        + "|" + records.geometry.y.round(6).astype(str)
    )  # fmt: skip
    derived = _content_ids(content)
    own = records[key].astype("string") if key in records.columns else None
    records[key] = own.fillna(derived) if own is not None else derived.astype("string")
    return records


def _content_ids(content: pd.Series) -> pd.Series:
    """A UUID-shaped id from each text: 128 bits of two keyed SipHashes, the same every run."""
    a = pd.util.hash_pandas_object(content, index=False, hash_key=_ID_KEYS[0]).to_numpy()
    b = pd.util.hash_pandas_object(content, index=False, hash_key=_ID_KEYS[1]).to_numpy()
    hexes = [f"{p:016x}{q:016x}" for p, q in zip(a.tolist(), b.tolist(), strict=True)]
    ids = [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes]
    return pd.Series(ids, index=content.index, dtype="string")


def _track_ids(records: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if "track_id" in records.columns and records["track_id"].notna().all():
        return records
    day = records["t"].dt.strftime("%Y-%m-%d")
    name = records["_track"] if "_track" in records.columns else day
    team = records["team"].fillna("")
    basis = "patrol|" + team.astype(str) + "|" + name.astype(str).fillna("") + "|" + day.fillna("")
    first = records.groupby(basis.to_numpy())["t"].transform("min").dt.strftime("%Y-%m-%dT%H:%M")
    ids = _content_ids(basis + "|" + first.fillna(""))
    own = records["track_id"] if "track_id" in records.columns else None
    records["track_id"] = own.fillna(ids) if own is not None else ids
    return records.drop(columns=["_track"], errors="ignore")


def _deduplicate(
    records: gpd.GeoDataFrame, kind: str, ctx: _Context, opts: UploadOptions
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Split off exact and likely duplicates; returns (kept records, duplicates by row)."""
    dup_of = pd.Series(pd.NA, index=records.index, dtype="string")
    match = pd.Series(pd.NA, index=records.index, dtype="string")
    if kind == "patrols":
        key = records["track_id"].astype(str) + "@" + records["t"].astype(str)
        existing = _existing_patrol_keys(records, ctx)
    else:
        key = records[KEYS[TABLES[kind]]].astype(str)
        existing = ctx.store.existing_keys(TABLES[kind], key.unique())
    in_store = key.isin(existing)
    dup_of[in_store] = key[in_store]
    match[in_store] = "same_id"
    repeated = key.duplicated() & ~in_store
    dup_of[repeated] = key[repeated]
    match[repeated] = "same_id"
    exact = in_store | repeated
    if kind == "violations" and (~exact).any():
        likely = _likely_duplicates(records[~exact], ctx, opts)
        dup_of[likely.index] = likely
        match[likely.index] = "likely"
    is_dup = dup_of.notna()
    duplicates = pd.DataFrame({"duplicate_of": dup_of[is_dup], "match": match[is_dup]})
    return records[~is_dup], duplicates


def _existing_patrol_keys(records: gpd.GeoDataFrame, ctx: _Context) -> set[str]:
    times = records["t"].dropna()
    if times.empty:
        return set()
    stored = ctx.store.read(
        "patrol_points",
        Query(start=times.min(), end=times.max() + pd.Timedelta(seconds=1)),
    )
    stored = stored[stored["track_id"].isin(records["track_id"].unique())]
    return set(stored["track_id"].astype(str) + "@" + stored["t"].astype(str))


def _likely_duplicates(new: gpd.GeoDataFrame, ctx: _Context, opts: UploadOptions) -> pd.Series:
    """New rows of the same category within the distance and time of an earlier record.

    Earlier means a record already in the store, or a row of this upload that is itself kept;
    a row repeats the first such record (in time order). Returns record id by row.
    """
    window = pd.Timedelta(minutes=opts.duplicate_minutes)
    times = new["observed_at"]
    stored = ctx.store.read(
        "violations",
        Query(
            start=times.min() - window,
            end=times.max() + window + pd.Timedelta(seconds=1),
            categories=tuple(new["category"].dropna().unique()),
        ),
    )
    crs = metric_crs(new)
    pool = pd.concat(
        [
            stored[["record_id", "category", "observed_at", "geometry"]].assign(_new=False),
            new[["record_id", "category", "observed_at", "geometry"]].assign(_new=True),
        ],
        ignore_index=True,
    )
    rows = np.r_[np.full(len(stored), -1), new.index.to_numpy()]
    points = gpd.GeoSeries(pool["geometry"], crs=STORAGE_CRS).to_crs(crs)
    x, y = points.x.to_numpy(), points.y.to_numpy()
    t = pool["observed_at"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
    t = t.astype("int64")
    cat = pd.factorize(pool["category"])[0].astype("int64")
    is_new = pool["_new"].to_numpy(dtype=bool)
    ids = pool["record_id"].to_numpy()
    left, right = _near_pairs(x, y, t, cat, is_new, metres=opts.duplicate_m,
                              nanoseconds=int(window.value))  # fmt: skip
    partners: dict[int, list[int]] = {}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        partners.setdefault(a, []).append(b)
    # Stored records are originals. New rows are walked in time order: a row repeats the
    # first partner already kept; a row with no kept partner is kept, and may be repeated.
    kept: set[int] = set(np.flatnonzero(~is_new).tolist())
    found: dict[int, str] = {}
    for i in sorted(partners, key=lambda i: (t[i], rows[i])):
        originals = [j for j in partners[i] if j in kept]
        if originals:
            first = min(originals, key=lambda j: (t[j], rows[j]))
            found[int(rows[i])] = str(ids[first])
        else:
            kept.add(i)
    return pd.Series(found, dtype="string")


def _near_pairs(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    cat: np.ndarray,
    is_new: np.ndarray,
    *,
    metres: float,
    nanoseconds: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (new row, other row) of the same category within the time window and distance.

    Time is far more selective than space here (30 minutes of a year, against 25 m of a ward
    where a busy street has hundreds of records), so candidates come from a sorted time index
    per category and only they are measured.
    """
    stride = int(t.max() - t.min()) + 4 * nanoseconds + 1 if len(t) else 1
    key = cat * stride + (t - (t.min() if len(t) else 0))
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    mine = np.flatnonzero(is_new[order])  # positions (in sorted order) of new rows
    lo = np.searchsorted(sorted_key, sorted_key[mine] - nanoseconds, side="left")
    hi = np.searchsorted(sorted_key, sorted_key[mine] + nanoseconds, side="right")
    counts = hi - lo
    a = np.repeat(mine, counts)
    b = (
        np.arange(counts.sum())
        - np.repeat(np.cumsum(counts) - counts, counts)
        + np.repeat(lo, counts)
    )
    a, b = order[a], order[b]
    keep = (a != b) & ((x[a] - x[b]) ** 2 + (y[a] - y[b]) ** 2 <= metres**2)
    return a[keep], b[keep]


def _assign(
    records: gpd.GeoDataFrame, kind: str, ctx: _Context, opts: UploadOptions
) -> gpd.GeoDataFrame:
    assigned = assign_to_groups(records, ctx.groups, tolerance_m=opts.snap_m)
    if kind == "violations":
        return assigned
    # Cleanups and reports keep only their group (their tables have no assignment column).
    return records.assign(group_id=assigned["group_id"], ward_id=assigned["ward_id"])


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
