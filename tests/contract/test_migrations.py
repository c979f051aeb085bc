"""Migrating a store of schema version 5 to this program's version."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from geo.errors import StoreError
from geo.migrations import migrate
from geo.store import SCHEMA_VERSION, Query, is_postgis_url, open_store
from tests.contract.samples import _pg, index_names, make_v5_store, set_meta, violations


def test_a_version_5_store_is_refused_then_migrated_keeping_its_records(store_url):
    make_v5_store(store_url)
    with pytest.raises(StoreError, match="urban-order migrate"):
        open_store(store_url)
    old = open_store(store_url, any_version=True)
    before = old.data_version()
    assert migrate(old) == [6, 7, 8]
    store = open_store(store_url)
    assert store.schema_version() == SCHEMA_VERSION and store.data_version() > before
    # step 6 gave each upload the ward most of its records fall in
    assert store.read("uploads")[["upload_id", "ward_id"]].values.tolist() == [["u1", "w1"]]
    assert store.count("violations") == 3
    assert store.count("groups") == 2 and store.ward_ids() == ["w1"]
    # the new table and column work like the others
    user = pd.DataFrame({"user_id": ["lan"], "role": ["staff"], "active": [True]})
    store.write({"users": user}, user="admin", action="add user")
    assert store.read("users")["role"].tolist() == ["staff"]
    assert store.existing_keys("users", ["lan", "an"]) == {"lan"}
    assert migrate(store) == []


def test_step_8_adds_the_sessions_table_that_sign_ins_use(store_url):
    """A version 7 store gains the sessions table, empty, keyed and working."""
    from geo.auth import add_user, authenticate
    from geo.sessions import end_session, resume_session, start_session

    make_v5_store(store_url)
    old = open_store(store_url, any_version=True)
    assert migrate(old, to=7) == [6, 7]
    assert index_names(store_url, "sessions") == set()  # no table yet
    assert migrate(old) == [8]
    store = open_store(store_url)
    assert store.schema_version() == 8 and store.count("sessions") == 0
    assert "ix_sessions_key" in index_names(store_url, "sessions")
    add_user(store, "lan", role="staff", wards=["w1"], password="a long password", by="t")
    token = start_session(store, authenticate(store, "lan", "a long password"), remember=True)
    assert resume_session(store, token).user_id == "lan"
    assert end_session(store, token) and resume_session(store, token) is None


def test_a_store_newer_than_the_program_is_not_migrated(store_url):
    make_v5_store(store_url)
    set_meta(store_url, "schema_version", str(SCHEMA_VERSION + 1))
    store = open_store(store_url, any_version=True)
    with pytest.raises(StoreError, match="newer than this program"):
        migrate(store)
    assert store.schema_version() == SCHEMA_VERSION + 1


_OLD_ROLLUP = "ward_id, group_id, category, observed_at, fine_vnd, items_removed"


def _rollup_columns(url: str, *, replace_with: str | None = None) -> list[str]:
    """The columns of the violations' covering index (after replacing it, if asked)."""
    if is_postgis_url(url):
        con, schema = _pg(url)
        with con:
            if replace_with:
                con.execute(f'DROP INDEX "{schema}".ix_violations_rollup')
                con.execute(
                    f'CREATE INDEX ix_violations_rollup ON "{schema}".violations ({replace_with})'
                )
            (definition,) = con.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = %s "
                "AND indexname = 'ix_violations_rollup'",
                (schema,),
            ).fetchone()
        return [c.strip().strip('"') for c in definition.split("(", 1)[1].rstrip(")").split(",")]
    with sqlite3.connect(url) as con:
        if replace_with:
            con.execute("DROP INDEX ix_violations_rollup")
            con.execute(f"CREATE INDEX ix_violations_rollup ON violations ({replace_with})")
        rows = con.execute("PRAGMA index_info(ix_violations_rollup)").fetchall()
    return [r[2] for r in rows]


def test_step_7_rebuilds_the_covering_index_with_the_status(store_url):
    """Aggregates count a case fined by its status: a version 6 store's covering index
    lacked the status, and would make every aggregate read the rows."""
    from geo.store import create_store

    store = create_store(store_url)
    fined_unpriced = violations(2).assign(status=["fined", "warned"], fine_vnd=[None, 0])
    store.write({"violations": fined_unpriced}, user="t", action="test")
    assert "status" in _rollup_columns(store_url)
    _rollup_columns(store_url, replace_with=_OLD_ROLLUP)
    set_meta(store_url, "schema_version", "6")
    # (to 7 only: the store has the tables of later steps already)
    assert migrate(open_store(store_url, any_version=True), to=7) == [7]
    assert _rollup_columns(store_url) == [*_OLD_ROLLUP.split(", "), "status"]
    migrated = open_store(store_url, any_version=True)
    assert migrated.aggregate("violations")["fined"].tolist() == [1]


def _violation_indexes(url: str) -> dict[str, str]:
    """The violations' ``ix_`` indexes (but the spatial one): name → definition."""
    if is_postgis_url(url):
        con, schema = _pg(url)
        with con:
            rows = con.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
                "AND tablename = 'violations' AND indexname LIKE 'ix%%'",
                (schema,),
            ).fetchall()
    else:
        with sqlite3.connect(url) as con:
            rows = con.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                "AND tbl_name = 'violations' AND name LIKE 'ix%'"
            ).fetchall()
    return {name: sql for name, sql in rows if name != "ix_violations_geom"}


def test_step_8_leaves_the_indexes_queries_use(store_url):
    """An upload sorts every index of its table: step 8 drops those no query uses (the
    record's upload, category beside the covering index) and keeps campaign rows only."""
    from geo._store_rules import indexes

    planned = {i.name for i in indexes("violations")}
    make_v5_store(store_url)
    if is_postgis_url(store_url):  # as version 7 had them: every column, campaigns whole
        con, schema = _pg(store_url)
        with con:
            con.execute(f'DROP INDEX "{schema}".ix_violations_campaign_id')
            for col in ("category", "upload_id", "campaign_id"):
                con.execute(f'CREATE INDEX ix_violations_{col} ON "{schema}".violations ({col})')
    before = _violation_indexes(store_url)
    assert {"ix_violations_category", "ix_violations_upload_id"} <= set(before)
    assert "IS NOT NULL" not in before["ix_violations_campaign_id"]
    assert migrate(open_store(store_url, any_version=True))[-1] == 8
    after = _violation_indexes(store_url)
    assert set(after) == planned
    assert "IS NOT NULL" in after["ix_violations_campaign_id"]
    store = open_store(store_url)
    new = violations(2).assign(record_id=["n1", "n2"], campaign_id=["c1", None])
    store.write({"violations": new}, user="t", action="test")
    assert len(store.read("violations", Query(campaign_id="c1"))) == 1
