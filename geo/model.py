"""The data model: categories, fine schedule, and the columns and dtypes of every table.

The schemas here are the single source of truth for the store (both backends), the importers
and the demo generator. Timestamps are timezone-aware in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.config import DATA_DIR, STORAGE_CRS, TIMEZONE_NAME
from geo.errors import InputError

__all__ = [
    "CATEGORIES",
    "SCHEMAS",
    "SPATIAL_TABLES",
    "UNVERSIONED_TABLES",
    "VIOLATION_STATUSES",
    "Category",
    "FineRule",
    "categories",
    "conform",
    "empty_frame",
    "fine_schedule",
    "local_time",
]

Assignment = Literal["inside", "snapped", "outside"]
#: What became of a violation; labels are the translation keys ``status.<code>``.
VIOLATION_STATUSES: tuple[str, ...] = ("open", "warned", "fined", "removed", "resolved")
ASSIGNMENTS: tuple[Assignment, ...] = ("inside", "snapped", "outside")

TS = f"datetime64[ns, {TIMEZONE_NAME}]"

#: table -> ordered {column: dtype}; ``geometry`` is the geometry column of spatial tables.
SCHEMAS: dict[str, dict[str, str]] = {
    "wards": {
        "ward_id": "string",
        "name": "string",
        "population": "Int64",
        "source": "string",
        "synthetic": "boolean",
        "valid_from": TS,
        "valid_to": TS,
        "geometry": "geometry",
    },
    "zones": {
        "zone_id": "string",
        "ward_id": "string",
        "name": "string",
        "valid_from": TS,
        "valid_to": TS,
        "geometry": "geometry",
    },
    "groups": {
        "group_id": "string",
        "zone_id": "string",
        "ward_id": "string",
        "name": "string",
        "population": "Int64",
        "households": "Int64",
        "valid_from": TS,
        "valid_to": TS,
        "geometry": "geometry",
    },
    "violations": {
        "record_id": "string",
        "ward_id": "string",
        "zone_id": "string",
        "group_id": "string",
        "assignment": "string",
        "category": "string",
        "observed_at": TS,
        "gps_accuracy_m": "float64",
        "address": "string",
        "fine_vnd": "Int64",
        "legal_basis": "string",
        "items_removed": "Int64",
        "status": "string",
        "offender_key": "string",
        "photo_sha256": "string",
        "campaign_id": "string",
        "upload_id": "string",
        "synthetic": "boolean",
        "geometry": "geometry",
    },
    "cleanups": {
        "cleanup_id": "string",
        "ward_id": "string",
        "group_id": "string",
        "started_at": TS,
        "ended_at": TS,
        "participants": "Int64",
        "waste_kg": "float64",
        "notes": "string",
        "upload_id": "string",
        "synthetic": "boolean",
        "geometry": "geometry",
    },
    "places": {
        "place_id": "string",
        "ward_id": "string",
        "kind": "string",
        "name": "string",
        "geometry": "geometry",
    },
    "commitments": {
        "commitment_id": "string",
        "ward_id": "string",
        "group_id": "string",
        "offender_key": "string",
        "address": "string",
        "signed_at": TS,
        "ended_at": TS,
        "notes": "string",
        "geometry": "geometry",
    },
    "model_streets": {
        "model_street_id": "string",
        "ward_id": "string",
        "name": "string",
        "designated_at": TS,
        "notes": "string",
        "geometry": "geometry",
    },
    "patrol_points": {
        "track_id": "string",
        "ward_id": "string",
        "team": "string",
        "t": TS,
        "upload_id": "string",
        "geometry": "geometry",
    },
    "citizen_reports": {
        "report_id": "string",
        "ward_id": "string",
        "group_id": "string",
        "received_at": TS,
        "category": "string",
        "severity": "Int64",
        "status": "string",
        "accepted_at": TS,
        "resolved_at": TS,
        "upload_id": "string",
        "synthetic": "boolean",
        "geometry": "geometry",
    },
    "streets": {
        "street_id": "string",
        "ward_id": "string",
        "name": "string",
        "highway": "string",
        "length_m": "float64",
        "geometry": "geometry",
    },
    "campaigns": {
        "campaign_id": "string",
        "ward_id": "string",
        "name": "string",
        "start": TS,
        "end": TS,
        "target": "string",
        "categories": "string",
        "teams": "string",
        "notes": "string",
    },
    "uploads": {
        "upload_id": "string",
        "ward_id": "string",
        "file_name": "string",
        "file_sha256": "string",
        "kind": "string",
        "uploaded_by": "string",
        "uploaded_at": TS,
        "rows": "Int64",
        "accepted": "Int64",
        "duplicates": "Int64",
        "quarantined": "Int64",
    },
    "quarantine": {
        "upload_id": "string",
        "row_number": "Int64",
        "raw": "string",
        "reasons": "string",
    },
    "duplicates": {
        "upload_id": "string",
        "row_number": "Int64",
        "raw": "string",
        "duplicate_of": "string",
        "match": "string",
    },
    "users": {
        "user_id": "string",
        "display_name": "string",
        "email": "string",
        "role": "string",
        "wards": "string",
        "password_hash": "string",
        "active": "boolean",
        "created_at": TS,
    },
    # sign-ins that survive a reload: the SHA-256 of each browser's token, never the token
    "sessions": {
        "session_id": "string",
        "user_id": "string",
        "created_at": TS,
        "expires_at": TS,
        "last_seen_at": TS,
        "revoked_at": TS,
        "remember": "boolean",
    },
    "audit_log": {
        "at": TS,
        "user": "string",
        "action": "string",
        "table": "string",
        "ids": "string",
    },
}

#: Geometry type of each spatial table (the rest are plain attribute tables).
SPATIAL_TABLES: dict[str, str] = {
    "wards": "MultiPolygon",
    "zones": "MultiPolygon",
    "groups": "MultiPolygon",
    "violations": "Point",
    "cleanups": "Point",
    "patrol_points": "Point",
    "places": "Point",
    "commitments": "Point",
    "model_streets": "MultiLineString",
    "citizen_reports": "Point",
    "streets": "LineString",
}

#: Primary key of each table, where it has one.
KEYS: dict[str, str] = {
    "wards": "ward_id",
    "zones": "zone_id",
    "groups": "group_id",
    "violations": "record_id",
    "cleanups": "cleanup_id",
    "citizen_reports": "report_id",
    "streets": "street_id",
    "places": "place_id",
    "commitments": "commitment_id",
    "model_streets": "model_street_id",
    "campaigns": "campaign_id",
    "uploads": "upload_id",
    "users": "user_id",
    "sessions": "session_id",
}

#: Tables whose writes leave the data version alone: it is the cache key of every page's
#: loaders, and a sign-in or sign-out changes nothing they read.
UNVERSIONED_TABLES: frozenset[str] = frozenset({"sessions"})

#: The timestamp that places each record table in time (period filters use it).
TIME_COLUMNS: dict[str, str] = {
    "violations": "observed_at",
    "cleanups": "started_at",
    "patrol_points": "t",
    "citizen_reports": "received_at",
    "commitments": "signed_at",
    "campaigns": "start",
    "uploads": "uploaded_at",
    "audit_log": "at",
}


@dataclass(frozen=True)
class Category:
    """A violation category, with its labels and map colour."""

    code: str
    label_vi: str
    label_en: str
    color: str
    default_legal_basis: str

    def label(self, lang: Literal["vi", "en"] = "vi") -> str:
        """The label in ``lang``."""
        return self.label_vi if lang == "vi" else self.label_en


@dataclass(frozen=True)
class FineRule:
    """The VND range of a category's usual fine and its legal basis."""

    category: str
    legal_basis: str
    provision: str
    offence_vi: str
    offence_en: str
    min_vnd: int
    max_vnd: int
    applies_to: str

    def contains(self, amount: int) -> bool:
        """True when ``amount`` lies within the schedule's range."""
        return self.min_vnd <= amount <= self.max_vnd


@cache
def local_time(ts: pd.Timestamp | str) -> pd.Timestamp:
    """A timestamp as given if it carries a timezone, else read as Asia/Ho_Chi_Minh time.

    Examples
    --------
    >>> local_time("2025-07-01 08:00").isoformat()
    '2025-07-01T08:00:00+07:00'
    >>> local_time(pd.Timestamp("2025-07-01 01:00", tz="UTC")).isoformat()
    '2025-07-01T01:00:00+00:00'
    """
    stamp = pd.Timestamp(ts)
    return stamp.tz_localize(TIMEZONE_NAME) if stamp.tzinfo is None else stamp


def categories() -> dict[str, Category]:
    """The violation categories of ``data/categories.csv``, keyed by code, in file order."""
    with (DATA_DIR / "categories.csv").open(encoding="utf-8", newline="") as f:
        return {row["code"]: Category(**row) for row in csv.DictReader(f)}


CATEGORIES: tuple[str, ...] = tuple(categories())


@cache
def fine_schedule() -> dict[str, FineRule]:
    """The fine schedule of ``data/fine_schedule.csv``, keyed by category code.

    Examples
    --------
    >>> rule = fine_schedule()["street_vending"]
    >>> rule.legal_basis, rule.contains(350_000)
    ('168/2024/NĐ-CP', True)
    """
    path = DATA_DIR / "fine_schedule.csv"
    rules: dict[str, FineRule] = {}
    problems: list[str] = []
    with path.open(encoding="utf-8", newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            if row["category"] not in categories():
                problems.append(
                    f"{path.name} line {line}, column category: unknown code "
                    f"{row['category']!r}; use one of {', '.join(categories())}"
                )
                continue
            try:
                lo, hi = int(row["min_vnd"]), int(row["max_vnd"])
            except ValueError:
                problems.append(
                    f"{path.name} line {line}, columns min_vnd/max_vnd: write whole VND "
                    f"amounts without separators (got {row['min_vnd']!r}, {row['max_vnd']!r})"
                )
                continue
            if lo > hi:
                problems.append(f"{path.name} line {line}: min_vnd {lo} exceeds max_vnd {hi}")
                continue
            fields = {k: v for k, v in row.items() if k not in ("min_vnd", "max_vnd")}
            rules[row["category"]] = FineRule(**fields, min_vnd=lo, max_vnd=hi)
    if problems:
        raise InputError("The fine schedule has problems:\n- " + "\n- ".join(problems))
    return rules


def empty_frame(table: str) -> pd.DataFrame:
    """An empty frame of ``table`` with its columns and dtypes (a GeoDataFrame if spatial)."""
    return conform(table, pd.DataFrame())


def conform(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the columns of ``table``, in order and cast to their dtypes.

    Missing columns are added empty; extra columns are dropped; naive timestamps are taken as
    local time (Asia/Ho_Chi_Minh). Spatial tables come back as GeoDataFrames in EPSG:4326.
    """
    if table not in SCHEMAS:
        raise InputError(f"Unknown table {table!r}; the tables are {', '.join(SCHEMAS)}.")
    schema = SCHEMAS[table]
    out = {}
    n = len(df)
    for col, dtype in schema.items():
        if col == "geometry":
            continue
        if col in df.columns:
            out[col] = _cast(df[col], dtype)
        else:  # all missing, made in the column's dtype at once (not cast from n objects)
            missing = np.nan if dtype == "float64" else pd.NA
            out[col] = pd.Series(missing, index=df.index, dtype=pd.api.types.pandas_dtype(dtype))
    frame = pd.DataFrame(out, index=df.index)
    if table not in SPATIAL_TABLES:
        return frame.reset_index(drop=True)
    if isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns:
        geom = df.geometry
        if geom.crs is None:
            raise InputError(f"{table}: the geometry has no CRS; set it before storing.")
        geom = geom.to_crs(STORAGE_CRS)
    else:
        geom = gpd.GeoSeries([None] * n, index=df.index, crs=STORAGE_CRS)
    return gpd.GeoDataFrame(frame, geometry=geom.values, crs=STORAGE_CRS).reset_index(drop=True)


def _cast(values: pd.Series, dtype: str) -> pd.Series:
    if str(values.dtype) == dtype:  # already conformed (frames pass through conform twice)
        return values
    if dtype.startswith("datetime64"):
        ts = pd.to_datetime(values, errors="raise")
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize(TIMEZONE_NAME)
        return ts.dt.tz_convert(TIMEZONE_NAME).astype(pd.api.types.pandas_dtype(TS))
    if dtype == "Int64":
        return pd.to_numeric(values, errors="raise").round().astype("Int64")
    if dtype == "float64":
        return pd.to_numeric(values, errors="raise").astype("float64")
    if dtype == "boolean":
        return values.astype("boolean")
    return values.astype(pd.api.types.pandas_dtype(dtype))
