"""Rules every store backend applies alike: known tables and columns, updates by key.

Kept in one place so that GeoPackage and PostGIS refuse the same things with the same words
(the contract tests run on both).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from geo.errors import StoreError
from geo.model import KEYS, SCHEMAS


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
