"""Migrating a store of schema version 5 to this program's version."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from geo.errors import StoreError
from geo.migrations import migrate
from geo.store import SCHEMA_VERSION, is_postgis_url, open_store
from tests.contract.samples import _pg, make_v5_store, set_meta, violations


def test_a_version_5_store_is_refused_then_migrated_keeping_its_records(store_url):
    make_v5_store(store_url)
    with pytest.raises(StoreError, match="urban-order migrate"):
        open_store(store_url)
    old = open_store(store_url, any_version=True)
    before = old.data_version()
    assert migrate(old) == [6, 7]
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
    assert migrate(open_store(store_url, any_version=True)) == [7]
    assert _rollup_columns(store_url) == [*_OLD_ROLLUP.split(", "), "status"]
    assert open_store(store_url).aggregate("violations")["fined"].tolist() == [1]
