"""Parsing the mapped columns of one uploaded table into typed values, row problems kept.

Part of :mod:`geo.ingest`: the position and main time of every kind, the fields particular to
violations (category, fine, status, legal basis, offender key) and patrols, the optional fields
of every kind, and the two ways a map file or a photo stands in for a missing category.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from geo.accountability import offender_keys
from geo.columns import TIME_FIELDS, ColumnMapping, category_code, detect_columns, status_code
from geo.config import TIMEZONE_NAME
from geo.model import fine_schedule
from geo.problems import Problems, RowProblem
from geo.readers import RawTable
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

if TYPE_CHECKING:
    from geo.ingest import UploadOptions, _Context

#: Columns of map files (KML folders, GPX waypoint types and names) that often hold the category.
_LABEL_COLUMNS = ("_folder", "type", "name", "desc")


def category_from_labels(
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


def photo_drafts(frame: pd.DataFrame, opts: UploadOptions) -> tuple[pd.DataFrame, list[RowProblem]]:
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


def parse_fields(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    kind: str,
    table: RawTable,
    ctx: _Context,
    opts: UploadOptions,
    problems: Problems,
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
    with ThreadPoolExecutor(1, thread_name_prefix="position") as beside:
        # Arrow, numpy and PROJ let go of the GIL for much of each parse: positions, then
        # times, are read on a second core while the main thread reads the kind's own fields.
        placing = beside.submit(
            parse_coordinates,
            lat_text,
            lon_text,
            lat_column=lat_col,
            lon_column=lon_col,
            crs=opts.crs or table.crs,
            ward=ward,
        )
        timing = beside.submit(_parse_time, frame, f, kind, now)
        rest: Problems = []
        _parse_rest(frame, f, out, kind, ctx, opts, rest)
        geometry, probs = placing.result()
        stamps, time_probs = timing.result()
    out.insert(0, TIME_FIELDS[kind], stamps)
    problems += probs + time_probs + rest
    return out, geometry.reindex(frame.index)


def _parse_time(
    frame: pd.DataFrame, f: Mapping[str, str], kind: str, now: pd.Timestamp
) -> tuple[pd.Series, Problems]:
    """The kind's time: one column, or a date and a time column."""
    when = TIME_FIELDS[kind]
    if when in f:
        stamps, probs = parse_timestamps(frame[f[when]], column=f[when], now=now, required=True)
    else:
        stamps, probs = combine_date_time(
            frame[f["date"]] if "date" in f else pd.Series(None, index=frame.index, dtype=object),
            frame[f["time"]] if "time" in f else None,
            date_column=f.get("date"),
            time_column=f.get("time"),
            now=now,
            required=True,
        )
    return stamps, list(probs)


def _parse_rest(
    frame: pd.DataFrame,
    f: Mapping[str, str],
    out: pd.DataFrame,
    kind: str,
    ctx: _Context,
    opts: UploadOptions,
    problems: Problems,
) -> None:
    """Every field but the position and the time, into ``out`` and ``problems``."""
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


def _parse_violation(
    frame: pd.DataFrame,
    f: Mapping[str, str],
    out: pd.DataFrame,
    ctx: _Context,
    opts: UploadOptions,
    problems: Problems,
) -> None:
    cats, probs = category_code(
        frame[f["category"]], column=f["category"], aliases=opts.category_aliases
    )
    problems += probs
    out["category"] = cats
    if "fine_vnd" in f:
        fines, probs = parse_vnd(frame[f["fine_vnd"]], column=f["fine_vnd"])
        problems += probs
        problems.append(check_fines(fines, cats, column=f["fine_vnd"]))
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
    codes = cats.dropna().unique()
    basis = cats.map({c: _legal_basis(c) for c in codes}).astype("string")
    if "legal_basis" in f:
        given = frame[f["legal_basis"]].astype("string")
        basis = given.fillna(basis.where(fined))
    else:
        basis = basis.where(fined)
    out["legal_basis"] = basis
    if "offender" in f:
        out["offender_key"] = offender_keys(frame[f["offender"]], ctx.salt)


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
    problems: Problems,
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
    problems: Problems,
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
