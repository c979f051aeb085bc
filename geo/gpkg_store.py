"""The GeoPackage store: one file, zero set-up, readable by QGIS and GDAL.

Layers are created by GDAL (through pyogrio), so the file is a standard GeoPackage with R-tree
spatial indexes. Writes and reads go through :mod:`sqlite3` with parameterised SQL, so that a
batch spanning several tables commits or rolls back as one transaction; a big batch is first
written from Arrow to a scratch file and copied in by that transaction
(:mod:`geo._gpkg_stage`). The R-tree triggers that GDAL installs call ``ST_MinX`` and friends;
they are registered here as SQL functions that read the GeoPackage geometry header.

GeoPackage is single-writer: a writer that finds the file locked retries with backoff.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import secrets
import sqlite3
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from shapely.geometry import MultiPolygon

from geo import _aggregate, _gpkg_stage
from geo._rtree_pack import PackedTree, node_size, pack_rtree, write_rtree
from geo._store_rules import check_columns as _check_columns
from geo._store_rules import columns as _columns
from geo._store_rules import filters, indexes, update_key
from geo.config import STORAGE_CRS, TIMEZONE_NAME
from geo.errors import StoreError
from geo.model import (
    KEYS,
    SCHEMAS,
    SPATIAL_TABLES,
    TIME_COLUMNS,
    UNVERSIONED_TABLES,
    conform,
    empty_frame,
    local_time,
)
from geo.store import SCHEMA_VERSION, BoundaryLevel, Query

if TYPE_CHECKING:
    from geo.migrations import Operation

__all__ = ["GeoPackageStore"]

log = logging.getLogger(__name__)

_GEOM = "geom"
_SRS_ID = 4326
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_BOUNDARY_TABLES = ("wards", "zones", "groups")
_RETRY_SECONDS = 60.0
#: Batches at least this large skip the per-row triggers (see ``_bulk_insert``), and are bound
#: from Arrow through a scratch file (:mod:`geo._gpkg_stage`) when written by ``write``.
_BULK_ROWS = 500
#: The schema name a staged batch's scratch file is attached under.
_STAGE = "urban_order_stage"
#: Batches at least this large rebuild the table's secondary indexes instead of updating them.
_REINDEX_ROWS = 50_000
#: Index rebuilds sort in runs of this many KiB (a negative ``cache_size``) on this many helper
#: threads (see ``_build_indexes``).
_SORT_CACHE_KIB = -8192
_SORT_THREADS = 2
#: From this many new rows, if the R-tree holds at most ``_PACK_RATIO`` times as many, it is
#: rebuilt packed rather than inserted into row by row (rebuilding costs ~3 µs per entry,
#: old ones included; an insert ~27 µs).
_PACK_ROWS = 5_000
_PACK_RATIO = 4
#: ``existing_keys`` reads a table's keys whole when it has at most this many per key asked.
_SCAN_RATIO = 20

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class _Staged:
    """A batch written to a scratch file: its table, the columns written (``geom`` included),
    its geometries (for the extent and the R-tree), its number of rows and the file."""

    table: str
    columns: list[str]
    geoms: np.ndarray | None
    rows: int
    path: Path


class GeoPackageStore:
    """A :class:`geo.store.Store` in one GeoPackage file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)

    # -- life cycle -------------------------------------------------------------------------

    @classmethod
    def create(
        cls, path: Path, *, overwrite: bool = False, salt: bytes | None = None
    ) -> GeoPackageStore:
        """Create a GeoPackage with every table of the model, empty.

        ``salt`` is the offender-key salt to keep (a restore carries the original store's, so
        its households keep their keys); by default a new random one.
        """
        path = Path(path)
        if path.exists():
            if not overwrite:
                raise StoreError(f"{path} already exists; choose another file or overwrite it.")
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        for table in SCHEMAS:
            frame = _to_gdal_frame(empty_frame(table))
            kwargs: dict[str, Any] = {"layer": table, "driver": "GPKG"}
            if table in SPATIAL_TABLES:
                kwargs["geometry_type"] = SPATIAL_TABLES[table]
            pyogrio.write_dataframe(frame, path, **kwargs)
        store = cls(path)
        with store._connection() as con:
            # WAL lets readers (the app) read while an upload writes.
            con.execute("PRAGMA journal_mode=WAL")
        with store._transaction() as con:
            con.execute("CREATE TABLE urban_order_meta (key TEXT PRIMARY KEY, value TEXT)")
            con.executemany(
                "INSERT INTO urban_order_meta VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("data_version", "0"),
                    ("offender_salt", (salt or secrets.token_bytes(32)).hex()),
                ],
            )
            for sql in _index_sql():
                con.execute(sql)
        log.info("created store %s (schema %d)", path, SCHEMA_VERSION)
        return store

    @classmethod
    def open(cls, path: Path, *, any_version: bool = False) -> GeoPackageStore:
        """Open an existing store, checking that its schema version is this program's.

        ``any_version`` opens a store of another version too, to migrate or back it up.
        """
        path = Path(path)
        if not path.exists():
            raise StoreError(
                f"{path} does not exist; build one with `urban-order demo --out {path}` "
                "or choose an existing .gpkg store."
            )
        store = cls(path)
        try:
            found = store.schema_version()
        except (sqlite3.DatabaseError, StoreError) as exc:
            raise StoreError(f"{path} is not an urban-order store ({exc}).") from exc
        if found != SCHEMA_VERSION and not any_version:
            hint = (
                f"run `urban-order migrate --db {path}`"
                if found < SCHEMA_VERSION
                else "upgrade the program"
            )
            raise StoreError(
                f"{path} has schema version {found}, this program needs {SCHEMA_VERSION}; {hint}."
            )
        return store

    def schema_version(self) -> int:
        """The version of the store's table layout."""
        with self._connection() as con:
            row = con.execute(
                "SELECT value FROM urban_order_meta WHERE key = 'schema_version'"
            ).fetchone()
        if row is None:
            raise StoreError(f"{self.path} records no schema version.")
        return int(row[0])

    def apply_migration(self, version: int, operations: Sequence[Operation]) -> None:
        """Apply one migration step and record ``version``, all in one transaction."""
        from geo.migrations import AddColumn, AddTable, Sql

        def run(con: sqlite3.Connection) -> None:
            for op in operations:
                if isinstance(op, AddTable):
                    _add_table(con, op.table)
                elif isinstance(op, AddColumn):
                    sql_type = _SQL_TYPES.get(SCHEMAS[op.table][op.column], "TEXT")
                    con.execute(
                        f"ALTER TABLE {_quote(op.table)} ADD COLUMN {_quote(op.column)} {sql_type}"
                    )
                elif isinstance(op, Sql):
                    con.execute(op.statement)
            # only tables this step has: a later step may add another the model indexes
            have = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            for sql in _index_sql(tables=[t for t in SCHEMAS if t in have]):
                con.execute(sql.replace(" INDEX ", " INDEX IF NOT EXISTS ", 1))
            con.execute(
                "UPDATE urban_order_meta SET value = ? WHERE key = 'schema_version'",
                (str(version),),
            )
            self._bump(con)

        self._write_with_retry(run)

    # -- reads ------------------------------------------------------------------------------

    def read(self, table: str, query: Query | None = None) -> pd.DataFrame:
        """Rows of ``table`` matching ``query``; a GeoDataFrame in EPSG:4326 if spatial."""
        columns = _columns(table)
        where, params = _where(table, query or Query())
        with self._connection() as con:
            rows = con.execute(_select(table, where), params).fetchall()
        return _frame(table, columns, rows)

    def count(self, table: str, query: Query | None = None) -> int:
        """Number of rows of ``table`` matching ``query``."""
        _columns(table)
        where, params = _where(table, query or Query())
        with self._connection() as con:
            (n,) = con.execute(f"SELECT count(*) FROM {_quote(table)}{where}", params).fetchone()
        return int(n)

    def aggregate(
        self, table: str, query: Query | None = None, *, by: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Rows of ``table`` matching ``query`` counted and summed per ``by`` (see
        :meth:`geo.store.Store.aggregate`), in one SQL ``GROUP BY``.

        It costs ~0.5 µs a row, a third of it in comparing the period and the categories. From
        :data:`_BIG_ROWS` rows on, a period that holds every record of the table (as the map's
        default, the records' whole span, does) is not compared row by row, only records
        without a time are left out, as the comparison would (~15% less); and the file is
        read memory-mapped (~10% less). Two halves run at once in two threads cost ~30% more
        CPU for ~20% less time on two idle cores: not worth it on a busy server.
        """
        keys = _aggregate.check_by(table, by)
        found = _aggregate.measures(table)
        q = query or Query()
        with self._connection() as con:
            hint = _rollup_hint(con, table)
            where, params = _where(table, q)
            if hint and _last_id(con, table) >= _BIG_ROWS:
                # safe while the file does not shrink under the map: nothing here shrinks it
                con.execute(f"PRAGMA mmap_size = {_MMAP_BYTES}")
                if _period_holds_all(con, table, q):
                    where, params = _where(table, dataclasses.replace(q, start=None, end=None))
                    timed = f"{_quote(_time_column(table))} IS NOT NULL"
                    where = f"{where} AND {timed}" if where else f" WHERE {timed}"
            exprs = [_quote(c) for c in keys] + [_measure_sql(m) for m in found]
            grouping = f" GROUP BY {', '.join(_quote(c) for c in keys)}" if keys else ""
            rows = con.execute(
                f"SELECT {', '.join(exprs)} FROM {_quote(table)}{hint}{where}{grouping}", params
            ).fetchall()
        raw = pd.DataFrame.from_records(rows, columns=[*keys, *(m.name for m in found)])
        return _aggregate.finish(table, keys, raw)

    def time_span(
        self, table: str, query: Query | None = None
    ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """Earliest and latest time of the rows of ``table`` matching ``query`` (or None)."""
        time_col = _time_column(table)
        where, params = _where(table, query or Query())
        col = _quote(time_col)
        with self._connection() as con:
            first, last = con.execute(
                f"SELECT min({col}), max({col}) FROM {_quote(table)}{where}", params
            ).fetchone()
        if first is None:
            return None
        span = pd.to_datetime([first, last], format="ISO8601", utc=True).tz_convert(TIMEZONE_NAME)
        return span[0], span[1]

    def data_version(self) -> int:
        """A number that grows with every committed write."""
        with self._connection() as con:
            (value,) = con.execute(
                "SELECT value FROM urban_order_meta WHERE key = 'data_version'"
            ).fetchone()
        return int(value)

    def ward_ids(self) -> list[str]:
        """Ids of the wards with current boundaries, sorted."""
        with self._connection() as con:
            rows = con.execute(
                "SELECT DISTINCT ward_id FROM wards WHERE valid_to IS NULL ORDER BY ward_id"
            ).fetchall()
        return [r[0] for r in rows]

    def existing_keys(self, table: str, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are already primary keys of ``table``.

        Few keys against a big table are looked up (a join on a temporary table of them);
        many keys, as a big upload checks, are matched against the table's keys read from its
        unique index, which costs a fraction of a microsecond a row instead of ~10 µs a key.
        """
        key = KEYS.get(table)
        if key is None:
            raise StoreError(f"table {table} has no key column.")
        arrays = (pd.Series, pd.Index, pd.api.extensions.ExtensionArray, np.ndarray)
        given = keys if isinstance(keys, arrays) else list(keys)
        # (repeated keys need no removing: the set, and INSERT OR IGNORE, take them once)
        wanted = pd.Series(given, dtype="string").dropna()
        if not len(wanted):
            return set()
        column, name = _quote(key), _quote(table)
        with self._connection() as con:
            (stored,) = con.execute(f"SELECT count(*) FROM {name}").fetchone()
            if stored <= _SCAN_RATIO * len(wanted):
                held = [r[0] for r in con.execute(f"SELECT {column} FROM {name}")]
                return set(wanted[wanted.isin(held)].tolist())
            con.execute("CREATE TEMP TABLE asked (k TEXT PRIMARY KEY) WITHOUT ROWID")
            con.executemany("INSERT OR IGNORE INTO temp.asked VALUES (?)",
                            ((k,) for k in wanted.tolist()))  # fmt: skip
            rows = con.execute(
                f"SELECT t.{column} FROM {name} AS t JOIN temp.asked AS a ON a.k = t.{column}"
            ).fetchall()
        return {r[0] for r in rows}

    def dump_tables(self) -> tuple[dict[str, pd.DataFrame], int]:
        """Every row of every table (boundaries with all their versions) and the data version,
        read in one transaction: a consistent copy while others write (what a backup takes)."""
        with self._connection() as con:
            # In WAL mode every read of one transaction sees the store as of its first read.
            con.execute("BEGIN")
            try:
                (version,) = con.execute(
                    "SELECT value FROM urban_order_meta WHERE key = 'data_version'"
                ).fetchone()
                tables = {
                    t: _frame(t, _columns(t), con.execute(_select(t, "")).fetchall())
                    for t in SCHEMAS
                }
            finally:
                con.execute("ROLLBACK")
        return tables, int(version)

    def offender_salt(self, *, stored: bool = False) -> bytes:
        """The store's secret salt for offender keys; ``URBAN_ORDER_SALT`` overrides it.

        ``stored`` returns the store's own salt even when overridden (what a backup keeps).
        """
        override = os.environ.get("URBAN_ORDER_SALT")
        if override and not stored:
            return override.encode("utf-8")
        with self._connection() as con:
            row = con.execute(
                "SELECT value FROM urban_order_meta WHERE key = 'offender_salt'"
            ).fetchone()
        if row is None:
            raise StoreError(f"{self.path} has no offender salt; rebuild the store.")
        return bytes.fromhex(row[0])

    # -- writes -----------------------------------------------------------------------------

    def write(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        user: str,
        action: str,
        delete: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
    ) -> None:
        """Append rows to several tables, and delete others, in one transaction (all or nothing).

        Boundary rows without ``valid_from`` get the time of the write. A row whose key already
        exists aborts the whole batch with a :class:`StoreError` naming the table and key.
        ``delete`` maps a table to the rows to remove, each given by column values (e.g. a
        quarantined row by ``upload_id`` and ``row_number`` once it is accepted).
        """
        now = pd.Timestamp.now(tz=TIMEZONE_NAME)
        removals = {t: list(rows) for t, rows in (delete or {}).items()}
        for table, rows in removals.items():
            _columns(table)
            for where in rows:
                _check_columns(table, where)
        prepared = {}
        for table, frame in tables.items():
            _columns(table)
            conformed = conform(table, frame)
            if table in _BOUNDARY_TABLES:
                conformed["valid_from"] = conformed["valid_from"].fillna(now)
            prepared[table] = conformed

        with self._staged(prepared) as staged:

            def run(con: sqlite3.Connection) -> None:
                for table, rows in removals.items():
                    for where in rows:
                        self._delete(con, table, where)
                for table, frame in prepared.items():
                    self._insert(con, table, frame, staged.get(table))
                self._log(con, now, user, action, prepared, deleted=removals)

            self._write_with_retry(run)

    def load_tables(self, tables: Mapping[str, pd.DataFrame], *, data_version: int) -> None:
        """Append rows exactly as given (no audit row, no default filled in) and set the data
        version, in one transaction: how a restore fills a new store."""
        prepared = {}
        for table, frame in tables.items():
            _columns(table)
            prepared[table] = conform(table, frame)

        with self._staged(prepared) as staged:

            def run(con: sqlite3.Connection) -> None:
                for table, frame in prepared.items():
                    self._insert(con, table, frame, staged.get(table))
                con.execute(
                    "UPDATE urban_order_meta SET value = ? WHERE key = 'data_version'",
                    (str(data_version),),
                )

            self._write_with_retry(run)

    def update(
        self,
        table: str,
        changes: Mapping[str, Mapping[str, object]],
        *,
        user: str,
        action: str,
    ) -> None:
        """Change columns of rows given by key: ``{key value: {column: new value}}``, audited.

        Geometry and keys cannot be changed this way; a key that does not exist is an error and
        nothing is changed.
        """
        key = update_key(table, changes)
        now = pd.Timestamp.now(tz=TIMEZONE_NAME)

        def run(con: sqlite3.Connection) -> None:
            for ident, values in changes.items():
                cols = list(values)
                typed = [_python_values(pd.Series([values[c]]), SCHEMAS[table][c])[0] for c in cols]
                sets = ", ".join(f"{_quote(c)} = ?" for c in cols)
                cur = con.execute(
                    f"UPDATE {_quote(table)} SET {sets} WHERE {_quote(key)} = ?",
                    [*typed, str(ident)],
                )
                if cur.rowcount != 1:
                    raise StoreError(f"{table} has no row with {key} = {ident!r}; nothing changed.")
            summary = ",".join(map(str, changes)) if len(changes) <= 50 else f"{len(changes)} rows"
            con.execute(
                'INSERT INTO audit_log ("at", "user", "action", "table", "ids") '
                "VALUES (?, ?, ?, ?, ?)",
                (_iso(pd.Series([now]))[0], user, action, table, summary),
            )
            if table not in UNVERSIONED_TABLES:
                self._bump(con)

        self._write_with_retry(run)

    def replace_boundaries(
        self, level: BoundaryLevel, frame: pd.DataFrame, *, valid_from: pd.Timestamp, user: str
    ) -> None:
        """Close the current ``level`` boundaries of the frame's wards and add the new version.

        Old versions stay in the table with ``valid_to`` set, so records keep the group they
        were assigned to at the time.
        """
        if level not in _BOUNDARY_TABLES:
            raise StoreError(f"level must be one of {', '.join(_BOUNDARY_TABLES)}, not {level!r}.")
        when = local_time(valid_from)
        new = conform(level, frame)
        if new["ward_id"].isna().any():
            raise StoreError(f"every new {level} row needs a ward_id; some have none.")
        new["valid_from"] = when
        new["valid_to"] = pd.Series(pd.NaT, index=new.index, dtype=new["valid_from"].dtype)
        stamp = _iso(pd.Series([when]))[0]
        wards = sorted(new["ward_id"].unique())

        def run(con: sqlite3.Connection) -> None:
            marks = ", ".join("?" * len(wards))
            (latest,) = con.execute(
                f"SELECT max(valid_from) FROM {_quote(level)} "
                f"WHERE valid_to IS NULL AND ward_id IN ({marks})",
                wards,
            ).fetchone()
            if latest is not None and latest >= stamp:
                raise StoreError(
                    f"the current {level} of {', '.join(wards)} are valid from {latest}; "
                    f"a replacement must start later than that (got {stamp})."
                )
            for ward in wards:
                con.execute(
                    f"UPDATE {_quote(level)} SET valid_to = ? "
                    "WHERE ward_id = ? AND valid_to IS NULL",
                    (stamp, ward),
                )
            self._insert(con, level, new)
            self._log(
                con, pd.Timestamp.now(tz=TIMEZONE_NAME), user, f"replace {level}", {level: new}
            )

        self._write_with_retry(run)

    # -- internals --------------------------------------------------------------------------

    def _columns_of(self, table: str, frame: pd.DataFrame) -> tuple[list[str], np.ndarray | None]:
        """The columns of ``frame`` to write (those empty in every row are left to their
        default, NULL: binding a million NULLs each is a good part of a big upload's write),
        and its geometries as the table declares them (polygons made multi), or None."""
        columns = [c for c in _columns(table) if frame[c].notna().any()] or _columns(table)[:1]
        if table not in SPATIAL_TABLES:
            return columns, None
        geoms = np.asarray(frame.geometry.values, dtype=object)
        if SPATIAL_TABLES[table] == "MultiPolygon":
            geoms = np.array(
                [
                    MultiPolygon([g]) if g is not None and g.geom_type == "Polygon" else g
                    for g in geoms
                ],
                dtype=object,
            )
        return columns, geoms

    @contextmanager
    def _staged(self, frames: Mapping[str, pd.DataFrame]) -> Iterator[dict[str, _Staged]]:
        """The batches of ``frames`` big enough to be bound from Arrow, written to a scratch
        file before the write lock is taken (:mod:`geo._gpkg_stage`); the others are left
        out, to be bound row by row."""
        arrow: dict[str, pa.Table] = {}
        geometries: dict[str, np.ndarray | None] = {}
        for table, frame in frames.items():
            if len(frame) < _BULK_ROWS:
                continue
            columns, geoms = self._columns_of(table, frame)
            arrays = {c: _gpkg_stage.column(frame[c], SCHEMAS[table][c]) for c in columns}
            if geoms is not None:
                blobs = _gpkg_stage.point_blobs(geoms, _SRS_ID)
                arrays[_GEOM] = (
                    blobs if blobs is not None else pa.array(_encode(geoms), pa.binary())
                )
            arrow[table], geometries[table] = pa.table(arrays), geoms
        if not arrow:
            yield {}
            return
        with _gpkg_stage.staging(arrow) as path:
            yield {
                table: _Staged(table, rows.column_names, geometries[table], rows.num_rows, path)
                for table, rows in arrow.items()
            }

    def _insert(
        self,
        con: sqlite3.Connection,
        table: str,
        frame: pd.DataFrame,
        staged: _Staged | None = None,
    ) -> None:
        if frame.empty:
            return
        key = KEYS.get(table)
        try:
            if staged is not None:
                self._insert_staged(con, staged)
                return
            columns, geoms = self._columns_of(table, frame)
            values = [_python_values(frame[c], SCHEMAS[table][c]) for c in columns]
            names = [_quote(c) for c in columns]
            if geoms is not None:
                values.append(_encode(geoms))
                names.append(_GEOM)
                self._grow_extent(con, table, geoms)
            marks = ", ".join("?" * len(names))
            sql = f"INSERT INTO {_quote(table)} ({', '.join(names)}) VALUES ({marks})"
            if len(frame) >= _BULK_ROWS:
                self._bulk_insert(
                    con,
                    table,
                    len(frame),
                    lambda: con.executemany(sql, zip(*values, strict=True)),
                    geoms,
                )
            else:
                con.executemany(sql, zip(*values, strict=True))
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"{self.path}: table {table} already holds a row with one of these "
                f"{key or 'keys'}; nothing of this batch was written ({exc})."
            ) from exc

    def _insert_staged(self, con: sqlite3.Connection, staged: _Staged) -> None:
        """Copy a staged batch into its table, in row order, within ``con``'s transaction."""
        attached = {row[1] for row in con.execute("PRAGMA database_list")}
        if _STAGE not in attached:
            con.execute(f"ATTACH DATABASE ? AS {_STAGE}", (str(staged.path),))
        table = staged.table
        names = ", ".join(_quote(c) for c in staged.columns)
        sql = (
            f"INSERT INTO main.{_quote(table)} ({names}) "
            f"SELECT {names} FROM {_STAGE}.{_quote(table)} ORDER BY rowid"
        )
        if staged.geoms is not None:
            self._grow_extent(con, table, staged.geoms)
        self._bulk_insert(
            con, table, staged.rows, lambda: con.execute(sql), staged.geoms, staged.path.parent
        )

    def _bulk_insert(
        self,
        con: sqlite3.Connection,
        table: str,
        n: int,
        fill: Callable[[], object],
        geoms: np.ndarray | None,
        scratch: Path | None = None,
    ) -> None:
        """Insert many rows with GDAL's per-row triggers set aside, then index them at once.

        The R-tree and feature-count triggers cost ~40 µs a row through Python SQL functions;
        filling the R-tree from vectorised bounds is ~10x faster. The triggers are dropped and
        re-created inside the same transaction, so no reader ever sees the table without them.
        ``fill`` inserts the ``n`` rows; given a ``scratch`` directory, a packed R-tree's row
        ids are staged there (:mod:`geo._gpkg_stage`) rather than bound one by one.
        """
        triggers = con.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
            "AND (name LIKE 'rtree_%_insert' OR name LIKE 'trigger_insert_feature_count_%')",
            (table,),
        ).fetchall()
        for name, _ in triggers:
            con.execute(f"DROP TRIGGER {_quote(name)}")
        # Past a size, building the secondary indexes afresh (a sort) beats updating them row by
        # row; a unique index that cannot be rebuilt means a repeated key and aborts the batch.
        indexes = []
        if n >= _REINDEX_ROWS:
            indexes = con.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                "AND name LIKE 'ix_%'",
                (table,),
            ).fetchall()
            for name, _ in indexes:
                con.execute(f"DROP INDEX {_quote(name)}")
        # AUTOINCREMENT numbers new rows on from the highest id ever given (rows deleted since
        # included), one by one: the new rows' ids are known before they are written.
        (before,) = con.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), "
            f"coalesce(max(fid), 0)) FROM {_quote(table)}",
            (table,),
        ).fetchone()
        with ThreadPoolExecutor(1, thread_name_prefix="rtree") as beside:
            rtree = f"rtree_{table}_{_GEOM}"
            boxes: tuple[np.ndarray, np.ndarray] | None = None
            packing: Future[tuple[PackedTree, Path | None]] | None = None
            if geoms is not None:
                bounds = shapely.bounds(geoms)
                keep = ~np.isnan(bounds[:, 0])
                boxes = (np.arange(before + 1, before + n + 1)[keep], bounds[keep])
            # The packed tree is computed on a second core while SQLite sorts the indexes:
            # in their sorts SQLite lets go of the GIL for long, in the inserts for a moment
            # per row only (the packing would then keep the inserts waiting for the GIL).
            # A batch too small to re-sort its indexes packs beside the inserts.
            if boxes is not None and not indexes:
                packing = self._start_packing(con, beside, rtree, *boxes, scratch)
            fill()
            if boxes is not None and indexes:
                packing = self._start_packing(con, beside, rtree, *boxes, scratch)
            if indexes:
                self._build_indexes(con, [index_sql for _, index_sql in indexes])
            (after,) = con.execute(f"SELECT coalesce(max(fid), 0) FROM {_quote(table)}").fetchone()
            if after - before != n:
                raise StoreError(f"{self.path}: {table} got {after - before} ids for {n} rows.")
            if packing is not None:
                tree, rowids = packing.result()
                source = None
                if rowids is not None:
                    schema = f"{_STAGE}_{table}"
                    con.execute(f"ATTACH DATABASE ? AS {schema}", (str(rowids),))
                    source = f"{schema}.rowids"
                write_rtree(con, rtree, tree, rowids_from=source)
            elif boxes is not None:
                fids, kept = boxes
                con.executemany(
                    f"INSERT INTO {_quote(rtree)} VALUES (?, ?, ?, ?, ?)",
                    zip(
                        fids.tolist(),
                        kept[:, 0].tolist(),
                        kept[:, 2].tolist(),
                        kept[:, 1].tolist(),
                        kept[:, 3].tolist(),
                        strict=True,
                    ),
                )
        con.execute(
            "UPDATE gpkg_ogr_contents SET feature_count = feature_count + ? "
            "WHERE lower(table_name) = lower(?)",
            (n, table),
        )
        for _, trigger_sql in triggers:
            con.execute(trigger_sql)

    def _build_indexes(self, con: sqlite3.Connection, statements: list[str]) -> None:
        """Run ``CREATE INDEX`` statements over a big table, sorting in small runs on a
        helper thread.

        SQLite sorts an index's entries in runs the size of the page cache, then merges them.
        One 256 MB run sorts single-threaded; 8 MB runs are sorted by a worker thread while the
        table is still being read, and fit the CPU's caches: on 1M records the five indexes
        take ~30 % less time (``bench/run.py import``).
        """
        (cache,) = con.execute("PRAGMA cache_size").fetchone()
        con.execute(f"PRAGMA threads = {_SORT_THREADS}")
        con.execute(f"PRAGMA cache_size = {_SORT_CACHE_KIB}")
        try:
            for sql in statements:
                con.execute(sql)
        finally:
            con.execute(f"PRAGMA cache_size = {int(cache)}")
            con.execute("PRAGMA threads = 0")

    def _start_packing(
        self,
        con: sqlite3.Connection,
        pool: ThreadPoolExecutor,
        rtree: str,
        fids: np.ndarray,
        bounds: np.ndarray,
        scratch: Path | None,
    ) -> Future[tuple[PackedTree, Path | None]] | None:
        """Start packing the R-tree anew with new rows' boxes (``minx, miny, maxx, maxy``),
        or None: the rows go into it one by one.

        SQLite inserts into an R-tree one entry at a time (~27 µs each); when the new rows
        are many and not few beside those indexed already, the tree is rebuilt packed with
        them instead (:mod:`geo._rtree_pack`), ~8x faster. Given a ``scratch`` directory, the
        tree's row ids are written to a file there on the same thread, to be copied from.
        """
        (indexed,) = con.execute(f"SELECT count(*) FROM {_quote(rtree + '_rowid')}").fetchone()
        if len(fids) < _PACK_ROWS or indexed > _PACK_RATIO * len(fids):
            return None
        old = np.array(con.execute(f"SELECT * FROM {_quote(rtree)}").fetchall(), dtype=np.float64)
        old = old.reshape(-1, 5)  # id, minx, maxx, miny, maxy
        return pool.submit(
            _pack_and_stage,
            scratch,
            node_size(con, rtree),
            np.concatenate([old[:, 0].astype(np.int64), fids]),
            np.concatenate([old[:, 1], bounds[:, 0]]),
            np.concatenate([old[:, 2], bounds[:, 2]]),
            np.concatenate([old[:, 3], bounds[:, 1]]),
            np.concatenate([old[:, 4], bounds[:, 3]]),
        )

    def _grow_extent(self, con: sqlite3.Connection, table: str, geoms: np.ndarray) -> None:
        bounds = shapely.bounds(geoms)
        if np.isnan(bounds).all():
            return
        minx, miny = np.nanmin(bounds[:, 0]), np.nanmin(bounds[:, 1])
        maxx, maxy = np.nanmax(bounds[:, 2]), np.nanmax(bounds[:, 3])
        con.execute(
            "UPDATE gpkg_contents SET "
            "min_x = min(coalesce(min_x, ?), ?), min_y = min(coalesce(min_y, ?), ?), "
            "max_x = max(coalesce(max_x, ?), ?), max_y = max(coalesce(max_y, ?), ?), "
            "last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE table_name = ?",
            (minx, minx, miny, miny, maxx, maxx, maxy, maxy, table),
        )

    def _delete(self, con: sqlite3.Connection, table: str, where: Mapping[str, object]) -> None:
        cols = list(where)
        typed = [_python_values(pd.Series([where[c]]), SCHEMAS[table][c])[0] for c in cols]
        cond = " AND ".join(f"{_quote(c)} = ?" for c in cols)
        cur = con.execute(f"DELETE FROM {_quote(table)} WHERE {cond}", typed)
        if cur.rowcount != 1:
            raise StoreError(f"{table} has {cur.rowcount} rows where {dict(where)}; expected 1.")

    def _bump(self, con: sqlite3.Connection) -> None:
        con.execute(
            "UPDATE urban_order_meta SET value = CAST(value AS INTEGER) + 1 "
            "WHERE key = 'data_version'"
        )

    def _log(
        self,
        con: sqlite3.Connection,
        at: pd.Timestamp,
        user: str,
        action: str,
        tables: Mapping[str, pd.DataFrame],
        *,
        deleted: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
    ) -> None:
        rows = []
        for table, removed in (deleted or {}).items():
            where = ";".join(",".join(f"{k}={v}" for k, v in w.items()) for w in removed)
            rows.append((_iso(pd.Series([at]))[0], user, f"{action} (delete)", table, where))
        for table, frame in tables.items():
            key = KEYS.get(table)
            ids = frame[key].dropna().astype(str).tolist() if key else []
            summary = ",".join(ids) if 0 < len(ids) <= 50 else f"{len(frame)} rows"
            rows.append((_iso(pd.Series([at]))[0], user, action, table, summary))
        con.executemany(
            'INSERT INTO audit_log ("at", "user", "action", "table", "ids") VALUES (?, ?, ?, ?, ?)',
            rows,
        )
        if {*tables, *(deleted or {})} - UNVERSIONED_TABLES:
            self._bump(con)

    def _write_with_retry(self, run: Callable[[sqlite3.Connection], None]) -> None:
        deadline = time.monotonic() + _RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                with self._transaction() as con:
                    run(con)
                return
            except sqlite3.OperationalError as exc:
                locked = "locked" in str(exc) or "busy" in str(exc)
                if not locked or time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: write failed ({exc}).") from exc
                log.info("%s is locked by another writer; retrying in %.2f s", self.path, delay)
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 2.0)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            _register_functions(con)
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as con:
            # A large page cache keeps index updates of big batches in memory; NORMAL sync is
            # safe in WAL mode (a power cut may lose the last commit, never consistency).
            con.execute("PRAGMA cache_size = -262144")
            con.execute("PRAGMA synchronous = NORMAL")
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")


def _pack_and_stage(
    scratch: Path | None, size: int, *entries: np.ndarray
) -> tuple[PackedTree, Path | None]:
    """The packed R-tree of ``entries`` (:func:`geo._rtree_pack.pack_rtree`) and, given a
    ``scratch`` directory, a new file there holding its row ids as table ``rowids``."""
    tree = pack_rtree(size, *entries)
    if scratch is None:
        return tree, None
    path = scratch / f"rtree-{secrets.token_hex(8)}.sqlite"
    rowids = pa.table({"id": tree.rowids[:, 0], "nodeno": tree.rowids[:, 1]})
    _gpkg_stage.write_tables(path, {"rowids": rowids})
    return tree, path


# -- SQL helpers ------------------------------------------------------------------------------

#: SQLite column types of the model's dtypes, as GDAL declares them in a GeoPackage.
_SQL_TYPES = {"string": "TEXT", "Int64": "INTEGER", "float64": "REAL", "boolean": "BOOLEAN"}


def _add_table(con: sqlite3.Connection, table: str) -> None:
    """Create an attribute table as GDAL would (registered in gpkg_contents), in ``con``'s
    transaction; spatial tables are only made by :meth:`GeoPackageStore.create` (GDAL)."""
    if table in SPATIAL_TABLES:
        raise StoreError(f"a migration cannot add the spatial table {table} to a GeoPackage.")
    cols = ", ".join(
        f"{_quote(c)} {'DATETIME' if d.startswith('datetime64') else _SQL_TYPES.get(d, 'TEXT')}"
        for c, d in SCHEMAS[table].items()
    )
    con.execute(
        f"CREATE TABLE {_quote(table)} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {cols})"
    )
    con.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change) "
        "VALUES (?, 'attributes', ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
        (table, table),
    )
    has_counts = con.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'"
    ).fetchone()
    if has_counts:
        con.execute("INSERT INTO gpkg_ogr_contents VALUES (?, NULL)", (table,))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select(table: str, where: str) -> str:
    """The ``SELECT`` of a read: the model's columns, then the geometry, in insertion order."""
    names = [_quote(c) for c in _columns(table)]
    if table in SPATIAL_TABLES:
        names.append(_GEOM)
    return f"SELECT {', '.join(names)} FROM {_quote(table)}{where} ORDER BY fid"


def _index_sql(*, tables: Iterable[str] = SCHEMAS) -> Iterator[str]:
    for table in tables:
        for ix in indexes(table):
            cols = ", ".join(map(_quote, ix.columns))
            where = f" WHERE {ix.where}" if ix.where else ""
            unique = "UNIQUE " if ix.unique else ""
            yield f"CREATE {unique}INDEX {ix.name} ON {_quote(table)} ({cols}){where}"


def _time_column(table: str) -> str:
    _columns(table)
    time_col = TIME_COLUMNS.get(table)
    if time_col is None:
        raise StoreError(f"table {table} has no time column.")
    return time_col


def _measure_sql(m: _aggregate.Measure) -> str:
    column = _quote(m.column) if m.column else ""
    if m.kind == "count":
        return "count(*)"
    if m.kind == "fined":
        status = _aggregate.FINED_STATUS
        return f"count(CASE WHEN \"status\" = '{status}' OR {column} > 0 THEN 1 END)"
    return f"coalesce(sum({column}), 0)"


def _rollup_hint(con: sqlite3.Connection, table: str) -> str:
    """``INDEXED BY`` the table's rollup index when the store has it.

    Without statistics SQLite takes ``category IN (...)`` for a selective filter and walks the
    category index to the table rows (0.7 s for 1M records) instead of scanning the covering
    index (0.4 s); a store made before the index existed aggregates without it.
    """
    name = f"ix_{table}_rollup"
    if table not in _aggregate.ROLLUP_INDEX:
        return ""
    found = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
    ).fetchone()
    return f" INDEXED BY {name}" if found else ""


#: Aggregates of tables of this many rows are made cheaper (see ``aggregate``); below, the
#: look-ups cost more than they save.
_BIG_ROWS = 200_000
#: How much of a store file a big aggregate maps into memory (address space, not memory):
#: the pages are read in place, not copied (SQLite's memory-mapped I/O).
_MMAP_BYTES = 1 << 30


def _last_id(con: sqlite3.Connection, table: str) -> int:
    """The largest row id of ``table``: its rows, or more, without counting them."""
    (last,) = con.execute(f"SELECT coalesce(max(fid), 0) FROM {_quote(table)}").fetchone()
    return int(last)


def _period_holds_all(con: sqlite3.Connection, table: str, q: Query) -> bool:
    """Whether ``q``'s period holds the time of every row of ``table`` that has one.

    The first and last times are read through the table's (ward, time) index, ward by ward
    (~5 ms for 1M rows); without that index the answer is no. Times are compared as SQLite
    compares them, as text; a time stored otherwise (a number) answers no.
    """
    f = filters(table, q)
    if f.time_column is None or (f.start is None and f.end is None):
        return False
    name = f"ix_{table}_time"
    columns = [r[2] for r in con.execute(f"PRAGMA index_info({_quote(name)})")]
    partial = [r[4] for r in con.execute(f"PRAGMA index_list({_quote(table)})") if r[1] == name]
    if columns != ["ward_id", f.time_column] or partial != [0]:
        return False
    t, col = _quote(table), _quote(f.time_column)
    wards = f.values.get("ward_id")
    if wards is not None:  # a ward's aggregate: only its records count
        if len(wards) != 1:
            return False
        first, last = con.execute(
            f"SELECT (SELECT min({col}) FROM {t} WHERE ward_id = ?1), "
            f"(SELECT max({col}) FROM {t} WHERE ward_id = ?1)",
            wards,
        ).fetchone()
    else:  # the wards one by one (a skip-scan), each a look-up of its first and last time
        first, last = _time_span_by_ward(con, t, col)
    if not (isinstance(first, str) and isinstance(last, str)):
        return False
    start = None if f.start is None else _iso(pd.Series([f.start]))[0]
    end = None if f.end is None else _iso(pd.Series([f.end]))[0]
    return (start is None or first >= start) and (end is None or last < end)


def _time_span_by_ward(con: sqlite3.Connection, t: str, col: str) -> tuple[Any, Any]:
    """First and last ``col`` of table ``t`` (both quoted), read ward by ward."""
    return con.execute(
        f"""
        WITH RECURSIVE ward(id) AS (
            SELECT min(ward_id) FROM {t}
            UNION ALL
            SELECT (SELECT min(ward_id) FROM {t} WHERE ward_id > ward.id) FROM ward
            WHERE ward.id IS NOT NULL
        )
        SELECT min(lo), max(hi) FROM (
            SELECT (SELECT min({col}) FROM {t} WHERE ward_id = ward.id) AS lo,
                   (SELECT max({col}) FROM {t} WHERE ward_id = ward.id) AS hi
            FROM ward WHERE ward.id IS NOT NULL
            UNION ALL
            SELECT min({col}), max({col}) FROM {t} WHERE ward_id IS NULL
        )
        """
    ).fetchone()


def _where(table: str, q: Query) -> tuple[str, list[Any]]:
    f = filters(table, q)
    clauses: list[str] = []
    params: list[Any] = []
    for col, values in f.values.items():
        clauses.append(f"{_quote(col)} IN ({', '.join('?' * len(values))})" if values else "0")
        params.extend(values)
    if f.time_column is not None:
        for bound, op in ((f.start, ">="), (f.end, "<")):
            if bound is not None:
                clauses.append(f"{_quote(f.time_column)} {op} ?")
                params.append(_iso(pd.Series([bound]))[0])
    if f.boundary:
        if f.as_of is None:
            clauses.append("valid_to IS NULL")
        else:
            stamp = _iso(pd.Series([f.as_of]))[0]
            clauses.append("valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)")
            params.extend([stamp, stamp])
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


# -- value conversion -------------------------------------------------------------------------


def _iso(ts: pd.Series) -> list[str | None]:
    """GeoPackage DATETIME text: UTC, ``YYYY-MM-DDTHH:MM:SS.SSSZ``, which sorts like time
    (:func:`geo._gpkg_stage.gpkg_datetimes`, as Python values)."""
    return _gpkg_stage.gpkg_datetimes(ts).to_pylist()


def _python_values(values: pd.Series, dtype: str) -> list[Any]:
    """A column as Python values for sqlite3, missing values as None (no per-value checks)."""
    if dtype.startswith("datetime64"):
        return _iso(values)
    if dtype in ("boolean", "Int64"):
        ints = values.astype("Int64").astype(object)
        return ints.where(ints.notna(), None).tolist()
    if dtype == "float64":
        floats = values.to_numpy(dtype=float)
        out = floats.astype(object)
        out[np.isnan(floats)] = None
        return out.tolist()
    text: pd.Series = values.astype("string")
    return text.to_numpy(dtype=object, na_value=None).tolist()  # type: ignore[call-overload]


def _frame(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    if not rows:
        return empty_frame(table)
    spatial = table in SPATIAL_TABLES
    names = [*columns, "geometry"] if spatial else columns
    raw = pd.DataFrame.from_records(rows, columns=names)
    for col in columns:
        dtype = SCHEMAS[table][col]
        if dtype.startswith("datetime64"):
            raw[col] = pd.to_datetime(raw[col], format="ISO8601", utc=True).dt.tz_convert(
                TIMEZONE_NAME
            )
        elif dtype == "boolean":
            raw[col] = raw[col].map({1: True, 0: False}, na_action="ignore")
    if spatial:
        geoms = _decode(raw.pop("geometry").tolist())
        raw = gpd.GeoDataFrame(raw, geometry=geoms, crs=STORAGE_CRS)
    return conform(table, raw)


def _to_gdal_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """GDAL cannot create a layer from tz-aware columns of a non-UTC zone: give it UTC."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].dt.tz_convert("UTC")
    return out


# -- GeoPackage geometry blobs ----------------------------------------------------------------


def _encode(geoms: np.ndarray) -> list[bytes | None]:
    """GeoPackage binary: ``GP`` header (with an xy envelope except for points) + ISO WKB."""
    wkbs = shapely.to_wkb(geoms, byte_order=1, flavor="iso", output_dimension=2)
    types = shapely.get_type_id(geoms)
    empty = shapely.is_empty(geoms)
    out = np.empty(len(geoms), dtype=object)
    # Points (most records) share one header: no envelope, the point is its own.
    point_header = b"GP\x00\x01" + struct.pack("<i", _SRS_ID)
    points = (types == 0) & ~empty
    out[points] = [point_header + w for w in wkbs[points]]
    empty_header = b"GP\x00\x11" + struct.pack("<i", _SRS_ID)
    out[empty] = [empty_header + w for w in wkbs[empty]]
    others = (types > 0) & ~empty
    bounds = shapely.bounds(geoms[others])
    out[others] = [
        b"GP\x00\x03" + struct.pack("<idddd", _SRS_ID, b[0], b[2], b[1], b[3]) + w
        for w, b in zip(wkbs[others], bounds.tolist(), strict=True)
    ]
    return out.tolist()  # missing geometries (type -1) stay None


def _wkb_of(blob: bytes) -> bytes:
    flags = blob[3]
    return blob[8 + _ENVELOPE_BYTES[(flags >> 1) & 0x07] :]


def _decode(blobs: list[bytes | None]) -> np.ndarray:
    return shapely.from_wkb([None if b is None else _wkb_of(b) for b in blobs])


def _envelope(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(minx, maxx, miny, maxy) of a GeoPackage blob, from its header when it has one."""
    if blob is None or blob[3] & 0x10:
        return None
    flags = blob[3]
    little = "<" if flags & 0x01 else ">"
    if (flags >> 1) & 0x07:
        return struct.unpack_from(little + "dddd", blob, 8)
    # No envelope: GeoPackage writers leave it out for points, so read x, y straight from the WKB.
    wkb = _wkb_of(blob)
    order = "<" if wkb[0] == 1 else ">"
    if struct.unpack_from(order + "I", wkb, 1)[0] == 1:
        x, y = struct.unpack_from(order + "dd", wkb, 5)
        return x, x, y, y
    minx, miny, maxx, maxy = shapely.from_wkb(wkb).bounds
    return minx, maxx, miny, maxy


def _register_functions(con: sqlite3.Connection) -> None:
    """The SQL functions GDAL's R-tree triggers call (SpatiaLite is not loadable here)."""

    def part(i: int) -> Callable[[bytes | None], float | None]:
        def fn(blob: bytes | None) -> float | None:
            env = _envelope(blob)
            return None if env is None else env[i]

        return fn

    con.create_function("ST_MinX", 1, part(0), deterministic=True)
    con.create_function("ST_MaxX", 1, part(1), deterministic=True)
    con.create_function("ST_MinY", 1, part(2), deterministic=True)
    con.create_function("ST_MaxY", 1, part(3), deterministic=True)
    con.create_function(
        "ST_IsEmpty",
        1,
        lambda blob: None if blob is None else int(bool(blob[3] & 0x10)),
        deterministic=True,
    )
