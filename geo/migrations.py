"""Schema migrations: the steps that bring a store of an older layout to this program's.

A step is a short list of operations that both backends know how to apply: add a table of
:data:`geo.model.SCHEMAS`, add a column, or run one portable SQL statement (plain SQL that
SQLite and PostgreSQL read alike, used to fill a new column from the data already there).
A store applies one step in one transaction and records the new version with it, so a
migration interrupted half-way leaves the store at the last finished version.

Stores refuse to open at another version; ``urban-order migrate --db URL`` (or
:func:`migrate`) upgrades them. Downgrades are not supported: restore a backup instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from geo.errors import StoreError
from geo.model import SCHEMAS
from geo.store import SCHEMA_VERSION

__all__ = ["STEPS", "AddColumn", "AddTable", "Migratable", "Operation", "Sql", "migrate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AddTable:
    """Create ``table`` empty, with its columns, keys and indexes as in the model."""

    table: str


@dataclass(frozen=True)
class AddColumn:
    """Add ``column`` of ``table`` (its type from the model), empty, and its indexes."""

    table: str
    column: str


@dataclass(frozen=True)
class Sql:
    """One portable SQL statement (SQLite and PostgreSQL alike), without parameters."""

    statement: str


Operation = AddTable | AddColumn | Sql


def _upload_ward(table: str) -> Sql:
    # An upload's ward is the ward most of its records fall in (what ingest now records).
    return Sql(
        f"UPDATE uploads SET ward_id = (SELECT r.ward_id FROM {table} AS r "
        "WHERE r.upload_id = uploads.upload_id AND r.ward_id IS NOT NULL "
        "GROUP BY r.ward_id ORDER BY count(*) DESC, r.ward_id LIMIT 1) "
        "WHERE ward_id IS NULL"
    )


_RECORD_TABLES = ("violations", "cleanups", "citizen_reports", "patrol_points")

#: The operations that lead to each version from the one before.
STEPS: dict[int, tuple[Operation, ...]] = {
    # 6: accounts for sign-in, and the ward of each upload (who may see its quarantine).
    6: (
        AddTable("users"),
        AddColumn("uploads", "ward_id"),
        *(_upload_ward(t) for t in _RECORD_TABLES),
    ),
    # 7: aggregates count a case fined by its status too; the covering index of violations
    # gains the status (dropped here; every step rebuilds the model's missing indexes).
    7: (Sql("DROP INDEX IF EXISTS ix_violations_rollup"),),
    # 8: sign-ins that survive a page reload (server-side sessions); fewer indexes for
    # uploads to sort (geo._store_rules.indexes): none on a record's upload or on category
    # beside the rollup index, and the campaign index holds campaign rows only (rebuilt so).
    8: (
        AddTable("sessions"),
        Sql("DROP INDEX IF EXISTS ix_violations_category"),
        *(Sql(f"DROP INDEX IF EXISTS ix_{t}_upload_id") for t in _RECORD_TABLES),
        Sql("DROP INDEX IF EXISTS ix_violations_campaign_id"),
    ),
}


class Migratable(Protocol):
    """What a store offers to be migrated."""

    location: str

    def schema_version(self) -> int:
        """The version of the store's layout."""
        ...

    def apply_migration(self, version: int, operations: Sequence[Operation]) -> None:
        """Apply ``operations`` and set the version to ``version``, in one transaction."""
        ...


def migrate(store: Migratable, *, to: int = SCHEMA_VERSION) -> list[int]:
    """Bring ``store`` to version ``to`` step by step; return the versions applied.

    Raises
    ------
    StoreError
        When the store is newer than ``to`` (a newer program wrote it), or a step is missing.
    """
    current = store.schema_version()
    if current > to:
        raise StoreError(
            f"{store.location} has schema version {current}, newer than this program's {to}; "
            "upgrade the program (downgrades are not supported: restore a backup instead)."
        )
    done = []
    for version in range(current + 1, to + 1):
        if version not in STEPS:
            raise StoreError(
                f"{store.location}: no migration leads from version {version - 1} to {version}; "
                "rebuild the store or restore it from a backup."
            )
        _check(STEPS[version])
        store.apply_migration(version, STEPS[version])
        log.info("migrated %s to schema version %d", store.location, version)
        done.append(version)
    return done


def _check(operations: Sequence[Operation]) -> None:
    for op in operations:
        if isinstance(op, AddTable) and op.table not in SCHEMAS:
            raise StoreError(f"migration adds unknown table {op.table}.")
        if isinstance(op, AddColumn) and op.column not in SCHEMAS.get(op.table, {}):
            raise StoreError(f"migration adds unknown column {op.table}.{op.column}.")
