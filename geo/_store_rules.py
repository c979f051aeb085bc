"""Rules every store backend applies alike: known tables and columns, updates by key.

Kept in one place so that GeoPackage and PostGIS refuse the same things with the same words
(the contract tests run on both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from geo._aggregate import ROLLUP_INDEX
from geo.errors import StoreError
from geo.model import KEYS, SCHEMAS, TIME_COLUMNS, local_time
from geo.store import Query

#: Versioned boundary tables (valid_from / valid_to).
BOUNDARY_TABLES = ("wards", "zones", "groups")


def columns(table: str) -> list[str]:
    """The non-geometry columns of ``table``, in model order."""
    if table not in SCHEMAS:
        raise StoreError(f"unknown table {table!r}; the tables are {', '.join(SCHEMAS)}.")
    return [c for c in SCHEMAS[table] if c != "geometry"]


def check_columns(table: str, values: Iterable[str]) -> None:
    """Refuse column names ``table`` does not have, naming them and the ones it has."""
    known = columns(table)
    unknown = set(values) - set(known)
    if unknown:
        raise StoreError(
            f"table {table} has no column(s) {', '.join(sorted(unknown))}; "
            f"its columns are {', '.join(known)}."
        )


def update_key(table: str, changes: Mapping[str, Mapping[str, object]]) -> str:
    """The key column of an update ``{key value: {column: value}}``, after checking that the
    table has a key, the columns exist and no key is being changed."""
    key = KEYS.get(table)
    if key is None:
        raise StoreError(f"table {table} has no key column; rows cannot be updated by key.")
    for values in changes.values():
        check_columns(table, values)
        if key in values:
            raise StoreError(f"the key {key} of {table} cannot be changed.")
    return key


@dataclass(frozen=True)
class Index:
    """A secondary index as both stores build it: ``CREATE [UNIQUE] INDEX name ON table
    (columns) [WHERE where]``."""

    name: str
    table: str
    columns: tuple[str, ...]
    unique: bool = False
    where: str | None = None


#: Tables whose rows came from uploads (their ``upload_id`` is provenance, never searched by).
_RECORD_TABLES = ("violations", "cleanups", "patrol_points", "citizen_reports")


def indexes(table: str) -> list[Index]:
    """The secondary indexes of ``table``, each serving a query the stores make.

    Every index is a cost on each big upload (a sort of the table), so only the useful are
    kept: records are never looked up by their upload (only the quarantine and duplicates
    are); a table with a covering rollup index needs no index on ``category`` alone; and a
    campaign index holds only the rows of a campaign (most have none), which still serves
    ``campaign_id = ?``.

    Examples
    --------
    >>> [i.name for i in indexes("violations")]  # doctest: +NORMALIZE_WHITESPACE
    ['ix_violations_key', 'ix_violations_time', 'ix_violations_group_id',
     'ix_violations_campaign_id', 'ix_violations_rollup']
    """
    schema = SCHEMAS[table]
    found: list[Index] = []
    key = KEYS.get(table)
    if key:
        cols = (key, "valid_from") if table in BOUNDARY_TABLES else (key,)
        found.append(Index(f"ix_{table}_key", table, cols, unique=True))
    time_col = TIME_COLUMNS.get(table)
    if time_col and "ward_id" in schema:
        found.append(Index(f"ix_{table}_time", table, ("ward_id", time_col)))
    rollup = ROLLUP_INDEX.get(table)
    for col in ("group_id", "category", "campaign_id", "track_id", "upload_id"):
        if col not in schema or col == key:
            continue
        if (col == "category" and rollup) or (col == "upload_id" and table in _RECORD_TABLES):
            continue
        where = f'"{col}" IS NOT NULL' if col == "campaign_id" else None
        found.append(Index(f"ix_{table}_{col}", table, (col,), where=where))
    if rollup:
        found.append(Index(f"ix_{table}_rollup", table, rollup))
    return found


@dataclass(frozen=True)
class Filters:
    """What a :class:`geo.store.Query` asks of one table, checked: column → allowed values, the
    period on the table's time column, and which boundary versions (``current`` or valid at
    ``as_of``). Each backend only spells it in its SQL."""

    values: dict[str, tuple[str, ...]]
    time_column: str | None
    start: pd.Timestamp | None
    end: pd.Timestamp | None
    boundary: bool
    as_of: pd.Timestamp | None


def filters(table: str, q: Query) -> Filters:
    """The checked filters of ``q`` on ``table`` (times as Asia/Ho_Chi_Minh timestamps).

    Raises
    ------
    StoreError
        When ``q`` filters on a column the table lacks, or a period on a table without time.
    """
    schema = SCHEMAS[table]
    asked = {
        "ward_id": None if q.ward_id is None else (q.ward_id,),
        "category": q.categories,
        "zone_id": q.zone_ids,
        "group_id": q.group_ids,
        "campaign_id": None if q.campaign_id is None else (q.campaign_id,),
    }
    values = {col: tuple(v) for col, v in asked.items() if v is not None}
    for col in values:
        if col not in schema:
            raise StoreError(f"table {table} cannot be filtered by {col}.")
    time_column = None
    if q.start is not None or q.end is not None:
        time_column = TIME_COLUMNS.get(table)
        if time_column is None:
            raise StoreError(f"table {table} has no time column to filter a period on.")
    return Filters(
        values=values,
        time_column=time_column,
        start=None if q.start is None else local_time(q.start),
        end=None if q.end is None else local_time(q.end),
        boundary=table in BOUNDARY_TABLES,
        as_of=None if q.as_of is None else local_time(q.as_of),
    )
