"""What only the PostGIS store has: URLs and schemas, column types and indexes, lock retries,
connections that never stay open, and clear errors without passwords.

The behaviour shared with GeoPackage is tested on both stores in tests/contract/.
"""

from __future__ import annotations

import logging
import threading
import uuid

import psycopg
import pytest
from psycopg import sql

import geo.postgis_store as ps
from geo._postgis_sql import split_url
from geo.errors import StoreError
from geo.model import SCHEMAS, SPATIAL_TABLES
from geo.store import create_store, open_store
from tests.contract.samples import violations
from tests.stores import store_urls, with_schema


@pytest.fixture
def url(tmp_path):
    yield from (urls[0] for urls in store_urls("postgis", tmp_path))


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(split_url(url)[0], autocommit=True)


def test_urls_name_the_schema_and_keep_the_rest_for_libpq():
    assert split_url("postgresql://u@h/db") == ("postgresql://u@h/db", "urban_order")
    conninfo, schema = split_url(
        "postgresql+psycopg://u:p%40ss@h:5/db?options=-c%20a%3Db&schema=w1"
    )
    assert (conninfo, schema) == ("postgresql://u:p%40ss@h:5/db?options=-c%20a%3Db", "w1")
    for bad in ("public", "pg_temp", "Ward", 'a"; drop', "1a", "x" * 64):
        with pytest.raises(StoreError, match="cannot hold a store"):
            split_url(f"postgresql://u:secret@h/db?schema={bad}")


def test_a_server_that_cannot_be_reached_is_named_without_its_password():
    for url in (
        "postgresql://lan:hunter2@127.0.0.1:1/city?schema=w1&connect_timeout=2",
        "postgresql://lan@127.0.0.1:1/city?password=hunter2&schema=w1",
    ):
        with pytest.raises(StoreError, match="could not") as info:
            open_store(url)
        assert "postgresql://lan@127.0.0.1:1/city" in str(info.value)
        assert "hunter2" not in str(info.value)


@pytest.mark.postgis
def test_tables_are_typed_indexed_and_spatial(url):
    store = create_store(url)
    with _admin(url) as con:
        types = dict(
            con.execute(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = %s",
                (store.schema,),
            ).fetchall()
        )
        geometry = con.execute(
            "SELECT f_table_name, type, srid FROM geometry_columns WHERE f_table_schema = %s",
            (store.schema,),
        ).fetchall()
        gist = con.execute(
            "SELECT tablename FROM pg_indexes WHERE schemaname = %s AND indexdef LIKE '%%gist%%'",
            (store.schema,),
        ).fetchall()
    assert types["violations.observed_at"] == "timestamp with time zone"
    assert types["violations.fine_vnd"] == "bigint"
    assert types["violations.gps_accuracy_m"] == "double precision"
    assert types["violations.synthetic"] == "boolean"
    assert types["audit_log.user"] == "text" and types["violations.fid"] == "bigint"
    assert sum(name.split(".")[0] in SCHEMAS for name in types) == len(types) - 2  # + meta
    assert {(t, k.upper(), s) for t, k, s in geometry} == {
        (t, k.upper(), 4326) for t, k in SPATIAL_TABLES.items()
    }
    assert {t for (t,) in gist} == set(SPATIAL_TABLES)


@pytest.mark.postgis
def test_one_database_holds_several_stores_side_by_side(tmp_path):
    for a, b in store_urls("postgis", tmp_path, n=2):
        create_store(a).write({"violations": violations(3)}, user="t", action="a")
        create_store(b)
        assert open_store(a).count("violations") == 3 and open_store(b).count("violations") == 0
        assert open_store(a.replace("postgresql://", "postgresql+psycopg://")).data_version() == 1


@pytest.mark.postgis
def test_a_schema_that_is_not_a_store_is_never_dropped(url):
    with _admin(url) as con:
        schema = split_url(url)[1]
        con.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        con.execute(sql.SQL("CREATE TABLE {} (x int)").format(sql.Identifier(schema, "theirs")))
    with pytest.raises(StoreError, match="already exists with tables"):
        create_store(url)
    with pytest.raises(StoreError, match="not an urban-order store"):
        create_store(url, overwrite=True)
    with pytest.raises(StoreError, match="not an urban-order store"):
        ps.drop_store(url)
    with pytest.raises(StoreError, match="holds no urban-order store"):
        open_store(url)
    with _admin(url) as con:
        con.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, "theirs")))
    assert create_store(url).count("violations") == 0  # an empty schema is used as it is
    ps.drop_store(url)
    ps.drop_store(url)  # nothing there: nothing happens


@pytest.mark.postgis
def test_a_write_waiting_for_a_lock_retries_until_it_gets_it(url, monkeypatch, caplog):
    store = create_store(url)
    monkeypatch.setattr(ps, "_LOCK_TIMEOUT", "100ms")
    holder = _admin(url)
    holder.execute("BEGIN")
    holder.execute(
        sql.SQL("SELECT * FROM {} FOR UPDATE").format(
            sql.Identifier(store.schema, "urban_order_meta")
        )
    )
    threading.Timer(0.6, holder.rollback).start()
    with caplog.at_level(logging.INFO, logger="geo.postgis_store"):
        store.write({"violations": violations(3)}, user="t", action="after the lock")
    holder.close()
    assert "LockNotAvailable" in caplog.text
    assert store.count("violations") == 3 and store.data_version() == 1


@pytest.mark.postgis
def test_a_lock_held_too_long_fails_the_write_cleanly(url, monkeypatch):
    store = create_store(url)
    monkeypatch.setattr(ps, "_LOCK_TIMEOUT", "50ms")
    monkeypatch.setattr(ps, "_RETRY_SECONDS", 0.3)
    with _admin(url) as holder, holder.transaction():
        holder.execute(sql.SQL("LOCK TABLE {}").format(sql.Identifier(store.schema, "violations")))
        with pytest.raises(StoreError, match="write failed"):
            store.write({"violations": violations(3)}, user="t", action="x")
    assert store.count("violations") == 0 and store.data_version() == 0


@pytest.mark.postgis
def test_every_call_closes_its_connection(url, monkeypatch):
    store = create_store(url)
    opened: list[psycopg.Connection] = []
    real = psycopg.connect

    def connect(*args, **kwargs):
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(psycopg, "connect", connect)
    store.write({"violations": violations(3)}, user="t", action="x")
    with pytest.raises(StoreError):
        store.write({"violations": violations(3)}, user="t", action="again")
    store.read("violations")
    store.count("audit_log")
    with pytest.raises(StoreError, match="no row"):
        store.update("violations", {"x": {"status": "fined"}}, user="t", action="x")
    assert len(opened) == 5 and all(con.closed for con in opened)


@pytest.mark.postgis
def test_a_database_without_postgis_gets_a_clear_error(url):
    with _admin(url) as con:
        if not con.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()[
            0
        ]:
            pytest.skip("needs a superuser to make a database without PostGIS")
        name = f"uo_nopostgis_{uuid.uuid4().hex[:8]}"
        con.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        con.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(name)
            )
        )
    try:
        parts = psycopg.conninfo.conninfo_to_dict(split_url(url)[0])
        plain = (
            f"postgresql://{name}@{parts.get('host', '127.0.0.1')}:{parts.get('port', 5432)}/{name}"
        )
        with pytest.raises(StoreError, match=r"no PostGIS.*CREATE EXTENSION postgis"):
            create_store(with_schema(plain, "w1"))
    finally:
        with _admin(url) as con:
            con.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            con.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


@pytest.mark.postgis
def test_text_with_nul_bytes_refuses_the_whole_batch(url):
    # GeoPackage keeps NUL bytes; PostgreSQL text cannot (readers refuse NUL in CSV, strip EXIF)
    store = create_store(url)
    v = violations(2).assign(address=["số 5\x00", "số 6"])
    with pytest.raises(StoreError, match="NUL"):
        store.write({"violations": v}, user="t", action="x")
    assert store.count("violations") == 0 and store.data_version() == 0
