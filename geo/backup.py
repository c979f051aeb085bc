"""Backing up a store into one GeoPackage file, and restoring it into a store of either kind.

A backup holds every table — boundary history, records, uploads, quarantine, duplicates,
users, the audit log — row for row in insertion order, and the offender-key salt, so that the
restored store gives every household and plate the key it had. It is read as of one moment
(one read transaction, or one PostgreSQL snapshot) while others may write.

A backup is itself a GeoPackage store of this program's schema version: QGIS opens it, and
``urban-order migrate --db FILE`` brings an old one up to date before it is restored.
GeoPackage keeps timestamps to the millisecond, so a PostGIS store's microseconds are cut to
milliseconds in a backup.

Restoring copies nothing into a store that holds rows unless asked to overwrite it. The
restored store's data version is set past the backup's and the replaced store's, so readers
that cached the old contents by data version (the app) see the change.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, cast

import pandas as pd

from geo.errors import InputError, StoreError
from geo.model import SCHEMAS
from geo.store import SCHEMA_VERSION, create_store, describe, is_postgis_url, open_store

__all__ = ["Copyable", "backup", "restore"]

log = logging.getLogger(__name__)


class Copyable(Protocol):
    """What a store offers to be backed up and restored."""

    location: str

    def schema_version(self) -> int:
        """The version of the store's layout."""
        ...

    def offender_salt(self, *, stored: bool = False) -> bytes:
        """The store's own offender-key salt (``stored=True``)."""
        ...

    def dump_tables(self) -> tuple[dict[str, pd.DataFrame], int]:
        """Every row of every table and the data version, as of one moment."""
        ...

    def load_tables(self, tables: Mapping[str, pd.DataFrame], *, data_version: int) -> None:
        """Append rows as given, unaudited, and set the data version, in one transaction."""
        ...


def backup(url: str | Path, out: str | Path, *, overwrite: bool = False) -> dict[str, int]:
    """Copy the store at ``url`` (GeoPackage or PostGIS) into the new GeoPackage ``out``.

    The file appears only once complete (it is written beside ``out`` and renamed).

    Returns
    -------
    dict
        Rows copied, by table.

    Raises
    ------
    InputError
        When ``out`` is no ``.gpkg`` name, or the store itself.
    StoreError
        When ``out`` exists (and not ``overwrite``), or the store is of another schema
        version (migrate it first).
    """
    out = Path(out)
    if out.suffix.lower() != ".gpkg":
        raise InputError(f"--out {out}: a backup is a GeoPackage file; name it ….gpkg.")
    if not is_postgis_url(url) and out.resolve() == Path(url).resolve():
        raise InputError(f"{out} is the store itself; write the backup to another file.")
    if out.exists() and not overwrite:
        raise StoreError(f"{out} already exists; choose another file or overwrite it.")
    source = _open(url)
    tables, version = source.dump_tables()
    salt = source.offender_salt(stored=True)
    partial = out.with_name(f".{out.stem}.partial.gpkg")
    try:
        _create(partial, overwrite=True, salt=salt).load_tables(tables, data_version=version)
        _single_file(partial)
    except BaseException:
        _remove(partial)
        raise
    _remove(out, logs_only=True)  # an old file's WAL must never meet the new file
    os.replace(partial, out)
    rows = {t: len(f) for t, f in tables.items()}
    log.info("backed up %s to %s: %d rows", describe(url), out, sum(rows.values()))
    return rows


def restore(source: str | Path, url: str | Path, *, overwrite: bool = False) -> dict[str, int]:
    """Create the store at ``url`` (GeoPackage or PostGIS) from the backup ``source``.

    The new store has the backup's offender-key salt and every row of it, unaudited (its
    audit log is the backup's). A store already at ``url`` holding rows is replaced only with
    ``overwrite``; an empty one is replaced.

    Returns
    -------
    dict
        Rows restored, by table.

    Raises
    ------
    InputError
        When ``source`` is no backup file.
    StoreError
        When the backup is of another schema version (migrate it first), or ``url`` holds
        something (rows, a store of another version, a file) and not ``overwrite``.
    """
    source = Path(source)
    if not is_postgis_url(url) and Path(url).resolve() == source.resolve():
        raise InputError(f"{source} is the backup itself; restore it into another store.")
    backup_store = _open_backup(source)
    exists, holding, previous_version = _target(url)
    if holding and not overwrite:
        raise StoreError(
            f"{describe(url)} {holding}; restore into a new store, or overwrite it "
            "(everything in it is replaced)."
        )
    # Read and check the whole backup before the target is touched.
    tables, version = backup_store.dump_tables()
    salt = backup_store.offender_salt(stored=True)
    # ``overwrite`` also clears an empty PostgreSQL schema made beforehand for the store.
    target = _create(url, overwrite=exists or overwrite, salt=salt)
    target.load_tables(tables, data_version=max(version, previous_version) + 1)
    rows = {t: len(f) for t, f in tables.items()}
    log.info("restored %s into %s: %d rows", source, describe(url), sum(rows.values()))
    return rows


def _open(url: str | Path, *, any_version: bool = False) -> Copyable:
    return cast(Copyable, open_store(url, any_version=any_version))


def _create(url: str | Path, *, overwrite: bool, salt: bytes) -> Copyable:
    return cast(Copyable, create_store(url, overwrite=overwrite, salt=salt))


def _open_backup(path: Path) -> Copyable:
    if path.suffix.lower() != ".gpkg" or not path.is_file():
        raise InputError(f"{path}: no such backup; give a .gpkg file made by `urban-order backup`.")
    store = _open(path, any_version=True)
    found = store.schema_version()
    if found != SCHEMA_VERSION:
        raise StoreError(
            f"{path} is a backup of schema version {found}; this program restores version "
            f"{SCHEMA_VERSION}. Migrate it first: `urban-order migrate --db {path}` (on a copy, "
            "to keep the original)."
            if found < SCHEMA_VERSION
            else f"{path} is a backup of schema version {found}, newer than this program's "
            f"{SCHEMA_VERSION}; restore it with a newer program."
        )
    return store


def _target(url: str | Path) -> tuple[bool, str | None, int]:
    """Whether something is at ``url``, what of value it holds (None: nothing), and its data
    version."""
    if not is_postgis_url(url) and not Path(url).exists():
        return False, None, 0
    try:
        store = open_store(url, any_version=True)
        version, found = store.data_version(), store.schema_version()
    except StoreError:
        if is_postgis_url(url):
            return False, None, 0  # no store in that schema (create refuses other tables)
        return True, "is a file but no store", 0
    if found != SCHEMA_VERSION:
        return True, f"is a store of schema version {found}", version
    # Every write adds to the audit log: a store ever written to holds rows.
    rows = sum(store.count(t) for t in SCHEMAS)
    return True, (f"holds {rows:,} rows" if rows else None), version


def _remove(path: Path, *, logs_only: bool = False) -> None:
    for suffix in ("-wal", "-shm", "-journal") if logs_only else ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _single_file(path: Path) -> None:
    """Switch a finished backup out of WAL mode: one self-contained file, fit to copy away."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=DELETE")
    finally:
        con.close()
