"""Migrating a store of schema version 5 to this program's version."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.errors import StoreError
from geo.migrations import migrate
from geo.store import SCHEMA_VERSION, open_store
from tests.contract.samples import make_v5_store, set_meta


def test_a_version_5_store_is_refused_then_migrated_keeping_its_records(store_url):
    make_v5_store(store_url)
    with pytest.raises(StoreError, match="urban-order migrate"):
        open_store(store_url)
    old = open_store(store_url, any_version=True)
    before = old.data_version()
    assert migrate(old) == [6]
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
