"""The PostGIS store: one schema of a PostgreSQL database, shared by many users at once.

A store is one schema (``?schema=NAME`` of the URL, default ``urban_order``) holding the tables
of :mod:`geo.model` — typed columns, ``geometry(<type>, 4326)`` with GiST indexes, a serial
``fid`` that keeps insertion order — and ``urban_order_meta`` (schema version, data version,
offender salt). Semantics are those of :class:`geo.gpkg_store.GeoPackageStore`; the same
contract tests run against both.

Each call opens its own connection (a few milliseconds on a LAN) and closes it, so one store
object serves every thread of the app and no transaction is ever left open. A write is one
transaction; inserts go through ``COPY``. Unlike GeoPackage, writers run in parallel: only
the data-version bump at commit and boundary replacements serialise them. A write that loses
a deadlock, a serialisation conflict or a lock wait is retried with backoff.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from geo import _aggregate
from geo import _postgis_sql as q
from geo._store_rules import check_columns, update_key
from geo.config import TIMEZONE_NAME
from geo.errors import StoreError
from geo.model import KEYS, SCHEMAS, SPATIAL_TABLES, UNVERSIONED_TABLES, conform, local_time
from geo.store import SCHEMA_VERSION, BoundaryLevel, Query, describe

if TYPE_CHECKING:
    from geo.migrations import Operation

__all__ = ["PostGISStore", "drop_store"]

log = logging.getLogger(__name__)

_RETRY_SECONDS = 60.0
#: A write waiting this long for a lock gives up and retries (until ``_RETRY_SECONDS``).
_LOCK_TIMEOUT = "10s"
_RETRYABLE = (errors.SerializationFailure, errors.DeadlockDetected, errors.LockNotAvailable)
#: Batches at least this large into a table holding fewer rows rebuild its indexes after.
_REBUILD_ROWS = 20_000
_CONNECT_DEFAULTS = {"application_name": "urban-order", "connect_timeout": "10"}

Connection = q.Connection


class PostGISStore:
    """A :class:`geo.store.Store` in one schema of a PostGIS database."""

    def __init__(self, url: str) -> None:
        conninfo, self.schema = q.split_url(url)
        self._conninfo = make_conninfo("", **{**_CONNECT_DEFAULTS, **conninfo_to_dict(conninfo)})
        # What messages and logs show: never the password.
        self.location = describe(url)

    # -- life cycle -------------------------------------------------------------------------

    @classmethod
    def create(
        cls, url: str, *, overwrite: bool = False, salt: bytes | None = None
    ) -> PostGISStore:
        """Create the store's schema with every table of the model, empty.

        An existing empty schema is used as it is (a DBA may make it for the app's role);
        ``overwrite`` drops an existing store in that schema first. ``salt`` is the
        offender-key salt to keep (a restore carries the original's); by default a new one.
        """
        store = cls(url)
        with store._errors("create the store"):
            with store._connection() as con:
                q.ensure_postgis(con, store.location)
            with store._transaction() as con:
                if q.schema_tables(con, store.schema):
                    if not overwrite:
                        raise StoreError(
                            f"{store.location}: schema {store.schema} already exists with "
                            "tables; choose another (?schema=NAME) or overwrite it."
                        )
                    q.drop_schema(con, store.schema, store.location)
                q.create_store(con, store.schema, salt or secrets.token_bytes(32))
        log.info("created store %s (schema %d)", store.location, SCHEMA_VERSION)
        return store

    @classmethod
    def open(cls, url: str, *, any_version: bool = False) -> PostGISStore:
        """Open an existing store, checking that its schema version is this program's.

        ``any_version`` opens a store of another version too, to migrate or back it up.
        """
        store = cls(url)
        found = store.schema_version()
        if found != SCHEMA_VERSION and not any_version:
            hint = (
                f"run `urban-order migrate --db {store.location}`"
                if found < SCHEMA_VERSION
                else "upgrade the program"
            )
            raise StoreError(
                f"{store.location} has schema version {found}, this program needs "
                f"{SCHEMA_VERSION}; {hint}."
            )
        return store

    def schema_version(self) -> int:
        """The version of the store's table layout."""
        try:
            value = self._meta_value("schema_version")
        except StoreError as exc:
            if isinstance(exc.__cause__, errors.UndefinedTable):
                raise StoreError(
                    f"{self.location} holds no urban-order store in schema {self.schema}; "
                    "check ?schema=NAME, or create one (`urban-order restore`)."
                ) from exc
            raise
        return int(value)

    def apply_migration(self, version: int, operations: Sequence[Operation]) -> None:
        """Apply one migration step and record ``version``, all in one transaction."""

        def run(con: Connection) -> None:
            q.migrate(con, self.schema, version, operations)
            q.bump(con, self.schema)

        self._write_with_retry(run)

    # -- reads ------------------------------------------------------------------------------

    def read(self, table: str, query: Query | None = None) -> pd.DataFrame:
        """Rows of ``table`` matching ``query``; a GeoDataFrame in EPSG:4326 if spatial."""
        statement, params = q.select(self.schema, table, query or Query())
        with self._errors(f"read {table}"), self._connection() as con:
            rows = con.execute(statement, params).fetchall()
        return q.frame(table, rows)

    def count(self, table: str, query: Query | None = None) -> int:
        """Number of rows of ``table`` matching ``query``."""
        q.columns(table)
        clause, params = q.where(table, query or Query())
        statement = sql.SQL("SELECT count(*) FROM {}{}").format(self._table(table), clause)
        with self._errors(f"count {table}"), self._connection() as con:
            (n,) = q.one(con.execute(statement, params))
        return int(n)

    def aggregate(
        self, table: str, query: Query | None = None, *, by: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Rows of ``table`` matching ``query`` counted and summed per ``by`` (see
        :meth:`geo.store.Store.aggregate`), in one SQL ``GROUP BY``."""
        keys = _aggregate.check_by(table, by)
        found = _aggregate.measures(table)
        statement, params = q.aggregate_select(self.schema, table, query or Query(), keys)
        with self._errors(f"aggregate {table}"), self._connection() as con:
            rows = con.execute(statement, params).fetchall()
        raw = pd.DataFrame.from_records(rows, columns=[*keys, *(m.name for m in found)])
        return _aggregate.finish(table, keys, raw)

    def time_span(
        self, table: str, query: Query | None = None
    ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """Earliest and latest time of the rows of ``table`` matching ``query`` (or None)."""
        statement, params = q.time_span_select(self.schema, table, query or Query())
        with self._errors(f"read {table}"), self._connection() as con:
            first, last = q.one(con.execute(statement, params))
        if first is None:
            return None
        span = pd.to_datetime([first, last], unit="us", utc=True).tz_convert(TIMEZONE_NAME)
        return span[0], span[1]

    def data_version(self) -> int:
        """A number that grows with every committed write."""
        return int(self._meta_value("data_version"))

    def ward_ids(self) -> list[str]:
        """Ids of the wards with current boundaries, sorted."""
        statement = sql.SQL(
            "SELECT DISTINCT ward_id FROM {} WHERE valid_to IS NULL ORDER BY ward_id"
        ).format(self._table("wards"))
        with self._errors("read wards"), self._connection() as con:
            rows = con.execute(statement).fetchall()
        return [r[0] for r in rows]

    def existing_keys(self, table: str, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` are already primary keys of ``table`` (one indexed lookup)."""
        key = KEYS.get(table)
        if key is None:
            raise StoreError(f"table {table} has no key column.")
        wanted = list(dict.fromkeys(str(k) for k in keys))
        if not wanted:
            return set()
        statement = sql.SQL("SELECT {key} FROM {table} WHERE {key} = ANY(%s)").format(
            key=sql.Identifier(key), table=self._table(table)
        )
        with self._errors(f"read {table}"), self._connection() as con:
            rows = con.execute(statement, (wanted,)).fetchall()
        return {r[0] for r in rows}

    def dump_tables(self) -> tuple[dict[str, pd.DataFrame], int]:
        """Every row of every table (boundaries with all their versions) and the data version,
        from one snapshot: a consistent copy while others write (what a backup takes)."""
        with self._errors("back up the store"), self._connection() as con, con.transaction():
            # Every statement of a REPEATABLE READ transaction sees the snapshot of its first.
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            (version,) = q.one(
                con.execute(
                    sql.SQL("SELECT value FROM {} WHERE key = 'data_version'").format(self._meta)
                )
            )
            tables = {}
            for table in SCHEMAS:
                statement, params = q.select(self.schema, table, None)
                tables[table] = q.frame(table, con.execute(statement, params).fetchall())
        return tables, int(version)

    def offender_salt(self, *, stored: bool = False) -> bytes:
        """The store's secret salt for offender keys; ``URBAN_ORDER_SALT`` overrides it.

        ``stored`` returns the store's own salt even when overridden (what a backup keeps).
        """
        override = os.environ.get("URBAN_ORDER_SALT")
        if override and not stored:
            return override.encode("utf-8")
        return bytes.fromhex(self._meta_value("offender_salt"))

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
        ``delete`` maps a table to the rows to remove, each given by column values.
        """
        now = pd.Timestamp.now(tz=TIMEZONE_NAME)
        removals = {t: list(rows) for t, rows in (delete or {}).items()}
        for table, rows in removals.items():
            for condition in rows:
                check_columns(table, condition)
        prepared = {}
        for table, frame in tables.items():
            q.columns(table)
            conformed = conform(table, frame)
            if table in q.BOUNDARY_TABLES:
                conformed["valid_from"] = conformed["valid_from"].fillna(now)
            prepared[table] = conformed

        def run(con: Connection) -> None:
            for table, rows in removals.items():
                for condition in rows:
                    self._delete(con, table, condition)
            for table, frame in prepared.items():
                self._insert(con, table, frame)
            self._log(con, now, user, action, prepared, deleted=removals)

        self._write_with_retry(run)

    def load_tables(self, tables: Mapping[str, pd.DataFrame], *, data_version: int) -> None:
        """Append rows exactly as given (no audit row, no default filled in) and set the data
        version, in one transaction: how a restore fills a new store."""
        for table in tables:
            q.columns(table)
        prepared = {table: conform(table, frame) for table, frame in tables.items()}

        def run(con: Connection) -> None:
            for table, frame in prepared.items():
                self._insert(con, table, frame)
            con.execute(
                sql.SQL("UPDATE {} SET value = %s WHERE key = 'data_version'").format(self._meta),
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

        def run(con: Connection) -> None:
            for ident, values in changes.items():
                sets = sql.SQL(", ").join(
                    sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values
                )
                typed = [q.one_value(table, c, v) for c, v in values.items()]
                cur = con.execute(
                    sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
                        self._table(table), sets, sql.Identifier(key)
                    ),
                    [*typed, str(ident)],
                )
                if cur.rowcount != 1:
                    raise StoreError(f"{table} has no row with {key} = {ident!r}; nothing changed.")
            summary = ",".join(map(str, changes)) if len(changes) <= 50 else f"{len(changes)} rows"
            versioned = table not in UNVERSIONED_TABLES
            q.audit(con, self.schema, [(now, user, action, table, summary)], versioned=versioned)

        self._write_with_retry(run)

    def replace_boundaries(
        self, level: BoundaryLevel, frame: pd.DataFrame, *, valid_from: pd.Timestamp, user: str
    ) -> None:
        """Close the current ``level`` boundaries of the frame's wards and add the new version.

        Old versions stay in the table with ``valid_to`` set, so records keep the group they
        were assigned to at the time.
        """
        if level not in q.BOUNDARY_TABLES:
            raise StoreError(f"level must be one of {', '.join(q.BOUNDARY_TABLES)}, not {level!r}.")
        when = local_time(valid_from)
        new = conform(level, frame)
        if new["ward_id"].isna().any():
            raise StoreError(f"every new {level} row needs a ward_id; some have none.")
        new["valid_from"] = when
        new["valid_to"] = pd.Series(pd.NaT, index=new.index, dtype=new["valid_from"].dtype)
        wards = sorted(new["ward_id"].unique())
        target = self._table(level)

        def run(con: Connection) -> None:
            # Two replacements at once would both pass the check below: one at a time.
            con.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(target))
            (latest,) = q.one(
                con.execute(
                    sql.SQL(
                        "SELECT max(valid_from) FROM {} "
                        "WHERE valid_to IS NULL AND ward_id = ANY(%s)"
                    ).format(target),
                    (wards,),
                )
            )
            if latest is not None and pd.Timestamp(latest) >= when:
                raise StoreError(
                    f"the current {level} of {', '.join(wards)} are valid from "
                    f"{pd.Timestamp(latest).tz_convert(TIMEZONE_NAME).isoformat()}; a "
                    f"replacement must start later than that (got {when.isoformat()})."
                )
            con.execute(
                sql.SQL(
                    "UPDATE {} SET valid_to = %s WHERE ward_id = ANY(%s) AND valid_to IS NULL"
                ).format(target),
                (when.to_pydatetime(), wards),
            )
            self._insert(con, level, new)
            self._log(
                con, pd.Timestamp.now(tz=TIMEZONE_NAME), user, f"replace {level}", {level: new}
            )

        self._write_with_retry(run)

    # -- internals --------------------------------------------------------------------------

    @property
    def _meta(self) -> sql.Identifier:
        return q.qualified(self.schema, q.META)

    def _table(self, table: str) -> sql.Identifier:
        q.columns(table)
        return q.qualified(self.schema, table)

    def _insert(self, con: Connection, table: str, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        names = q.columns(table)
        values = [q.python_values(frame[c], SCHEMAS[table][c]) for c in names]
        if table in SPATIAL_TABLES:
            values.append(q.ewkb_hex(table, np.asarray(frame.geometry.values, dtype=object)))
            names = [*names, q.GEOM]
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            self._table(table), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        try:
            # Building indexes afresh (a sort) is ~3x faster than row by row: worth it when
            # a batch outnumbers what the table holds (a restore, a first import). Dropping
            # them locks the table to commit, so smaller batches never do it.
            rebuild = len(frame) >= _REBUILD_ROWS and q.drop_indexes(
                con, self.schema, table, len(frame)
            )
            with con.cursor().copy(statement) as copy:
                for row in zip(*values, strict=True):
                    copy.write_row(row)
            if rebuild:
                for index in q.index_sql(self.schema, [table]):
                    con.execute(index)
        except errors.UniqueViolation as exc:
            detail = exc.diag.message_detail or exc
            raise StoreError(
                f"{self.location}: table {table} already holds a row with one of these "
                f"{KEYS.get(table, 'keys')}; nothing of this batch was written ({detail})."
            ) from exc

    def _delete(self, con: Connection, table: str, condition: Mapping[str, object]) -> None:
        cond = sql.SQL(" AND ").join(
            sql.SQL("{} = %s").format(sql.Identifier(c)) for c in condition
        )
        typed = [q.one_value(table, c, v) for c, v in condition.items()]
        cur = con.execute(
            sql.SQL("DELETE FROM {} WHERE {}").format(self._table(table), cond), typed
        )
        if cur.rowcount != 1:
            raise StoreError(
                f"{table} has {cur.rowcount} rows where {dict(condition)}; expected 1."
            )

    def _log(
        self,
        con: Connection,
        at: pd.Timestamp,
        user: str,
        action: str,
        tables: Mapping[str, pd.DataFrame],
        *,
        deleted: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
    ) -> None:
        rows = []
        for table, removed in (deleted or {}).items():
            ids = ";".join(",".join(f"{k}={v}" for k, v in w.items()) for w in removed)
            rows.append((at, user, f"{action} (delete)", table, ids))
        for table, frame in tables.items():
            key = KEYS.get(table)
            keys = frame[key].dropna().astype(str).tolist() if key else []
            summary = ",".join(keys) if 0 < len(keys) <= 50 else f"{len(frame)} rows"
            rows.append((at, user, action, table, summary))
        versioned = bool({*tables, *(deleted or {})} - UNVERSIONED_TABLES)
        q.audit(con, self.schema, rows, versioned=versioned)

    def _meta_value(self, key: str) -> str:
        statement = sql.SQL("SELECT value FROM {} WHERE key = %s").format(self._meta)
        with self._errors("read the store's metadata"), self._connection() as con:
            row = con.execute(statement, (key,)).fetchone()
        if row is None:
            raise StoreError(f"{self.location} records no {key.replace('_', ' ')}.")
        return str(row[0])

    def _write_with_retry(self, run: Callable[[Connection], None]) -> None:
        deadline = time.monotonic() + _RETRY_SECONDS
        delay = 0.05
        while True:
            try:
                with self._errors("write", retryable=True), self._transaction() as con:
                    con.execute("SELECT set_config('lock_timeout', %s, true)", (_LOCK_TIMEOUT,))
                    run(con)
                return
            except _RETRYABLE as exc:
                if time.monotonic() > deadline:
                    raise StoreError(f"{self.location}: write failed ({q.reason(exc)}).") from exc
                log.info("%s: %s; retrying in %.2f s", self.location, type(exc).__name__, delay)
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 2.0)

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        con = psycopg.connect(self._conninfo, autocommit=True)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._connection() as con, con.transaction():
            yield con

    @contextmanager
    def _errors(self, doing: str, *, retryable: bool = False) -> Iterator[None]:
        """Server errors as :class:`StoreError` naming the store (never its password)."""
        try:
            yield
        except psycopg.Error as exc:
            if retryable and isinstance(exc, _RETRYABLE):
                raise
            raise StoreError(f"{self.location}: could not {doing} ({q.reason(exc)}).") from exc


def drop_store(url: str) -> None:
    """Drop the store at ``url`` (its whole schema); nothing happens when there is none."""
    store = PostGISStore(url)
    with store._errors("drop the store"), store._transaction() as con:
        dropped = q.drop_schema(con, store.schema, store.location)
    if dropped:
        log.info("dropped store %s", store.location)
