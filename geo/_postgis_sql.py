"""SQL and value conversion of the PostGIS store (private to :mod:`geo.postgis_store`).

Every statement is composed with :mod:`psycopg.sql`: table and column names are quoted
identifiers qualified by the store's schema, and values are always parameters. Functions that
take a connection run inside the caller's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from shapely.geometry import MultiLineString, MultiPolygon

from geo._aggregate import FINED_STATUS, measures
from geo._store_rules import Index, columns, filters, indexes
from geo.config import STORAGE_CRS, TIMEZONE_NAME
from geo.errors import StoreError
from geo.model import SCHEMAS, SPATIAL_TABLES, TIME_COLUMNS, conform, empty_frame
from geo.store import SCHEMA_VERSION, Query, describe

if TYPE_CHECKING:
    from geo.migrations import Operation

GEOM = "geom"
META = "urban_order_meta"
BOUNDARY_TABLES = ("wards", "zones", "groups")
DEFAULT_SCHEMA = "urban_order"
_SRID = 4326
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SQL_TYPES = {
    "string": "text",
    "Int64": "bigint",
    "float64": "double precision",
    "boolean": "boolean",
}
#: Shapely type id of the single part a multi-part column promotes (a typed column refuses it).
_PROMOTE: dict[str, tuple[int, type[MultiPolygon] | type[MultiLineString]]] = {
    "MultiPolygon": (3, MultiPolygon),
    "MultiLineString": (1, MultiLineString),
}


def split_url(url: str) -> tuple[str, str]:
    """libpq connection URL and store schema of a store URL (``?schema=NAME`` removed).

    Examples
    --------
    >>> split_url("postgresql+psycopg://u:pw@db:5433/city?schema=ward_a&sslmode=require")
    ('postgresql://u:pw@db:5433/city?sslmode=require', 'ward_a')
    >>> split_url("postgres://u@db/city")[1]
    'urban_order'
    """
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in params if k == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    # A store's schema is dropped whole on overwrite: never one PostgreSQL or PostGIS owns.
    if not _SCHEMA_NAME.fullmatch(schema) or schema == "public" or schema.startswith("pg_"):
        raise StoreError(
            f"{describe(url)}: schema {schema!r} cannot hold a store; name one of its own in "
            "lower-case letters a-z, digits and _ (not public or pg_*), e.g. ?schema=ward_a."
        )
    # libpq decodes %20 but not +: quote spaces (in ``options=-c x=y``) as %20.
    rest = urlencode([(k, v) for k, v in params if k != "schema"], quote_via=quote)
    return urlunsplit(("postgresql", parts.netloc, parts.path, rest, "")), schema


def qualified(schema: str, table: str) -> sql.Identifier:
    """``schema.table``, quoted."""
    return sql.Identifier(schema, table)


def column_type(table: str, column: str) -> sql.SQL:
    """The PostgreSQL type of a model column."""
    dtype = SCHEMAS[table][column]
    if dtype.startswith("datetime64"):
        return sql.SQL("timestamptz")
    return sql.SQL(_SQL_TYPES.get(dtype, "text"))


def create_table(schema: str, table: str) -> sql.Composed:
    """``CREATE TABLE`` of a model table: a serial ``fid`` (insertion order), typed columns."""
    cols: list[sql.Composable] = [sql.SQL("fid bigserial PRIMARY KEY")]
    cols += [
        sql.SQL("{} {}").format(sql.Identifier(c), column_type(table, c)) for c in columns(table)
    ]
    if table in SPATIAL_TABLES:
        cols.append(
            sql.SQL("{} geometry({}, {})").format(
                sql.Identifier(GEOM), sql.SQL(SPATIAL_TABLES[table]), sql.Literal(_SRID)
            )
        )
    return sql.SQL("CREATE TABLE {} ({})").format(
        qualified(schema, table), sql.SQL(", ").join(cols)
    )


def index_sql(schema: str, tables: Iterable[str] = SCHEMAS) -> Iterator[sql.Composed]:
    """The indexes of ``tables``, as the GeoPackage store has them, plus GiST on geometry."""
    for table in tables:
        target = qualified(schema, table)
        for ix in indexes(table):
            yield _index(ix, target)
        if table in SPATIAL_TABLES:
            yield sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist ({})").format(
                sql.Identifier(f"ix_{table}_{GEOM}"), target, sql.Identifier(GEOM)
            )


def _index(ix: Index, target: sql.Identifier) -> Any:
    # ``ix.where`` is a constant of geo._store_rules, never user input
    where = sql.SQL(" WHERE " + ix.where) if ix.where else sql.SQL("")
    return sql.SQL("CREATE {}INDEX IF NOT EXISTS {} ON {} ({}){}").format(
        sql.SQL("UNIQUE " if ix.unique else ""),
        sql.Identifier(ix.name),
        target,
        sql.SQL(", ").join(map(sql.Identifier, ix.columns)),
        where,
    )


# -- statements that need a connection ---------------------------------------------------------

Connection = psycopg.Connection[tuple[Any, ...]]


def reason(exc: BaseException) -> str:
    """A server error on one line (messages carry DETAIL and HINT lines)."""
    return " ".join(str(exc).split())


def one(cursor: psycopg.Cursor[tuple[Any, ...]]) -> tuple[Any, ...]:
    """The single row a statement returns."""
    row = cursor.fetchone()
    if row is None:
        raise StoreError("the server returned no row where one was expected.")
    return row


def ensure_postgis(con: Connection, location: str) -> None:
    """Create the postgis extension when the database lacks it (and the user may)."""
    if con.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
        return
    try:
        con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        raise StoreError(
            f"{location}: the database has no PostGIS and it could not be added ({reason(exc)}). "
            "Install PostGIS on the server (Debian: postgresql-15-postgis-3) and run "
            "`CREATE EXTENSION postgis;` in the database as a superuser."
        ) from exc


def create_store(con: Connection, schema: str, salt: bytes) -> None:
    """Make ``schema`` and every table, index and meta row of an empty store in it."""
    ddl = [
        sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)),
        *(create_table(schema, table) for table in SCHEMAS),
        *index_sql(schema),
        sql.SQL("CREATE TABLE {} (key text PRIMARY KEY, value text NOT NULL)").format(
            qualified(schema, META)
        ),
    ]
    # One round trip for the ~80 statements (no parameters, so several are allowed).
    con.execute(sql.SQL("; ").join(ddl))
    con.cursor().executemany(
        sql.SQL("INSERT INTO {} VALUES (%s, %s)").format(qualified(schema, META)),
        [
            ("schema_version", str(SCHEMA_VERSION)),
            ("data_version", "0"),
            ("offender_salt", salt.hex()),
        ],
    )


def schema_tables(con: Connection, schema: str) -> set[str]:
    """Names of the tables in ``schema`` (none when there is no such schema)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    ).fetchall()
    return {r[0] for r in rows}


def drop_schema(con: Connection, schema: str, location: str) -> bool:
    """Drop a store's schema; False when there is none. A schema holding tables other than
    a store's is refused (``?schema=`` pointing at someone else's data)."""
    if not con.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
        return False
    tables = schema_tables(con, schema)
    if tables and META not in tables:
        raise StoreError(
            f"{location}: schema {schema} holds tables that are not an urban-order store; it "
            "is left alone. Choose another schema (?schema=NAME)."
        )
    con.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    return True


def drop_indexes(con: Connection, schema: str, table: str, n: int) -> bool:
    """Drop the store's indexes of ``table`` when it holds fewer than ``n`` rows (which are
    about to be added); :func:`index_sql` rebuilds them. Whether they were dropped."""
    (held,) = one(
        con.execute(
            sql.SQL("SELECT count(*) FROM (SELECT 1 FROM {} LIMIT %s) AS held").format(
                qualified(schema, table)
            ),
            (n,),
        )
    )
    if held >= n:
        return False
    names = con.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
        (schema, table),
    ).fetchall()
    for (name,) in names:
        if name.startswith("ix_"):
            con.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(schema, name)))
    return True


def migrate(con: Connection, schema: str, version: int, operations: Sequence[Operation]) -> None:
    """Apply one migration step in ``con``'s transaction and record ``version``."""
    from geo.migrations import AddColumn, AddTable, Sql

    # Portable SQL names tables without a schema: find them in this store's first.
    (path,) = one(con.execute("SHOW search_path"))
    first = sql.Identifier(schema).as_string(con)
    con.execute("SELECT set_config('search_path', %s, true)", (f"{first}, {path}",))
    for op in operations:
        if isinstance(op, AddTable):
            con.execute(create_table(schema, op.table))
        elif isinstance(op, AddColumn):
            con.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                    qualified(schema, op.table),
                    sql.Identifier(op.column),
                    column_type(op.table, op.column),
                )
            )
        elif isinstance(op, Sql):
            con.execute(op.statement.encode())
    # only tables this step has: a later step may add another the model indexes
    have = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
    }
    for statement in index_sql(schema, [t for t in SCHEMAS if t in have]):
        con.execute(statement)
    con.execute(
        sql.SQL("UPDATE {} SET value = %s WHERE key = 'schema_version'").format(
            qualified(schema, META)
        ),
        (str(version),),
    )


def audit(
    con: Connection, schema: str, rows: Sequence[tuple[Any, ...]], *, versioned: bool = True
) -> None:
    """Add audit rows ``(at, user, action, table, ids)`` and bump the data version (unless
    not ``versioned``: a write of :data:`geo.model.UNVERSIONED_TABLES` only).

    The last statements of every write: the data-version row stays locked until commit, so
    versions grow in commit order while the rest of concurrent writes ran in parallel.
    """
    con.cursor().executemany(
        sql.SQL(
            'INSERT INTO {} ("at", "user", "action", "table", "ids") VALUES (%s, %s, %s, %s, %s)'
        ).format(qualified(schema, "audit_log")),
        [(pd.Timestamp(at).to_pydatetime(), *rest) for at, *rest in rows],
    )
    if versioned:
        bump(con, schema)


def bump(con: Connection, schema: str) -> None:
    """Add one to the store's data version."""
    con.execute(
        sql.SQL(
            "UPDATE {} SET value = (value::bigint + 1)::text WHERE key = 'data_version'"
        ).format(qualified(schema, META))
    )


# -- queries ----------------------------------------------------------------------------------


def where(table: str, q: Query) -> tuple[sql.Composable, list[Any]]:
    """The ``WHERE`` clause of a query (empty when it filters nothing) and its parameters."""
    f = filters(table, q)
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for col, values in f.values.items():
        clauses.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(col)))
        params.append(list(values))
    if f.time_column is not None:
        for bound, op in ((f.start, ">="), (f.end, "<")):
            if bound is not None:
                clauses.append(sql.SQL("{} " + op + " %s").format(sql.Identifier(f.time_column)))
                params.append(bound.to_pydatetime())
    if f.boundary:
        if f.as_of is None:
            clauses.append(sql.SQL("valid_to IS NULL"))
        else:
            stamp = f.as_of.to_pydatetime()
            clauses.append(sql.SQL("valid_from <= %s AND (valid_to IS NULL OR valid_to > %s)"))
            params.extend([stamp, stamp])
    if not clauses:
        return sql.SQL(""), params
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(clauses), params


def select(schema: str, table: str, q: Query | None) -> tuple[sql.Composed, list[Any]]:
    """The ``SELECT`` of a read: model columns (timestamps as epoch microseconds), then EWKB.

    ``q=None`` selects every row, boundaries with all their versions (what a backup copies).
    """
    exprs: list[sql.Composable] = []
    for col in columns(table):
        if SCHEMAS[table][col].startswith("datetime64"):
            # An integer is fetched and converted ~4x faster than a datetime, and exactly.
            exprs.append(
                sql.SQL("(extract(epoch FROM {}) * 1000000)::bigint").format(sql.Identifier(col))
            )
        else:
            exprs.append(sql.Identifier(col))
    if table in SPATIAL_TABLES:
        # Binary EWKB: GEOS parses it ~2x faster than the hex text a bare column gives.
        exprs.append(sql.SQL("ST_AsEWKB({})").format(sql.Identifier(GEOM)))
    clause, params = where(table, q) if q is not None else (sql.SQL(""), [])
    query = sql.SQL("SELECT {} FROM {}{} ORDER BY fid").format(
        sql.SQL(", ").join(exprs), qualified(schema, table), clause
    )
    return query, params


def aggregate_select(
    schema: str, table: str, q: Query, by: tuple[str, ...]
) -> tuple[sql.Composed, list[Any]]:
    """The ``SELECT … GROUP BY`` of an aggregate: ``by``, then the measures of
    :func:`geo._aggregate.measures`."""
    exprs: list[sql.Composable] = [sql.Identifier(c) for c in by]
    for m in measures(table):
        if m.kind == "count":
            exprs.append(sql.SQL("count(*)"))
        elif m.kind == "fined":
            exprs.append(
                sql.SQL("count(*) FILTER (WHERE {} = {} OR {} > 0)").format(
                    sql.Identifier("status"), sql.Literal(FINED_STATUS), sql.Identifier(m.column)
                )
            )
        else:
            exprs.append(sql.SQL("coalesce(sum({}), 0)::bigint").format(sql.Identifier(m.column)))
    clause, params = where(table, q)
    grouping = (
        sql.SQL(" GROUP BY ") + sql.SQL(", ").join(map(sql.Identifier, by)) if by else sql.SQL("")
    )
    query = sql.SQL("SELECT {} FROM {}{}{}").format(
        sql.SQL(", ").join(exprs), qualified(schema, table), clause, grouping
    )
    return query, params


def time_span_select(schema: str, table: str, q: Query) -> tuple[sql.Composed, list[Any]]:
    """The earliest and latest time (epoch microseconds) of the rows matching ``q``."""
    columns(table)
    time_col = TIME_COLUMNS.get(table)
    if time_col is None:
        raise StoreError(f"table {table} has no time column.")
    clause, params = where(table, q)
    query = sql.SQL(
        "SELECT (extract(epoch FROM min({col})) * 1000000)::bigint, "
        "(extract(epoch FROM max({col})) * 1000000)::bigint FROM {table}{where}"
    ).format(col=sql.Identifier(time_col), table=qualified(schema, table), where=clause)
    return query, params


# -- value conversion -------------------------------------------------------------------------


def iso(ts: pd.Series) -> list[str | None]:
    """Timestamps as ISO 8601 UTC text at microsecond precision (what COPY reads fastest)."""
    utc = pd.to_datetime(ts).dt.tz_convert("UTC").dt.tz_localize(None)
    text = np.datetime_as_string(utc.to_numpy("datetime64[us]"), unit="us").astype(object)
    text = text + "Z"
    text[utc.isna().to_numpy()] = None
    return text.tolist()


def python_values(values: pd.Series, dtype: str) -> list[Any]:
    """A column as Python values for psycopg, missing values as None (no per-value checks)."""
    if dtype.startswith("datetime64"):
        return iso(values)
    if dtype == "boolean":
        flags = values.astype("boolean").astype(object)
        return flags.where(flags.notna(), None).tolist()
    if dtype == "Int64":
        ints = values.astype("Int64").astype(object)
        return ints.where(ints.notna(), None).tolist()
    if dtype == "float64":
        floats = values.to_numpy(dtype=float)
        out = floats.astype(object)
        out[np.isnan(floats)] = None
        return out.tolist()
    text = values.astype("string").astype(object)
    return text.where(text.notna(), None).tolist()


def one_value(table: str, column: str, value: object) -> Any:
    """A single cell as a parameter of ``column``."""
    return python_values(pd.Series([value]), SCHEMAS[table][column])[0]


def ewkb_hex(table: str, geoms: np.ndarray) -> list[str | None]:
    """Geometries as hex EWKB with SRID 4326; single parts promoted to the column's multi type."""
    promote = _PROMOTE.get(SPATIAL_TABLES[table])
    if promote is not None:
        single_id, multi = promote
        singles = shapely.get_type_id(geoms) == single_id
        if singles.any():
            geoms = geoms.copy()
            geoms[singles] = [multi([g]) for g in geoms[singles]]
    with_srid = shapely.set_srid(geoms, _SRID)
    return list(shapely.to_wkb(with_srid, hex=True, output_dimension=2, include_srid=True))


def frame(table: str, rows: list[tuple[Any, ...]]) -> pd.DataFrame:
    """The rows of :func:`select` as a conformed (Geo)DataFrame."""
    if not rows:
        return empty_frame(table)
    cols = columns(table)
    spatial = table in SPATIAL_TABLES
    raw = pd.DataFrame.from_records(rows, columns=[*cols, "geometry"] if spatial else cols)
    for col in cols:
        if SCHEMAS[table][col].startswith("datetime64"):
            micros = raw[col].astype("Int64")
            raw[col] = pd.to_datetime(micros, unit="us", utc=True).dt.tz_convert(TIMEZONE_NAME)
    if spatial:
        geoms = shapely.from_wkb(raw.pop("geometry").to_numpy())
        raw = gpd.GeoDataFrame(raw, geometry=geoms, crs=STORAGE_CRS)
    return conform(table, raw)
