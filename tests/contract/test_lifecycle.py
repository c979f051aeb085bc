"""Creating and opening stores: versions, overwrite, offender salt."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.errors import StoreError
from geo.model import SCHEMAS
from geo.store import SCHEMA_VERSION, create_store, open_store
from tests.contract.samples import groups, set_meta, violations
from tests.stores import KINDS, store_urls


def test_a_new_store_is_empty_at_this_version(store_url):
    create_store(store_url)
    again = open_store(store_url)
    assert again.schema_version() == SCHEMA_VERSION and again.data_version() == 0
    assert all(again.count(table) == 0 for table in SCHEMAS)
    assert again.ward_ids() == []


def test_create_refuses_an_existing_store_unless_overwriting(store_url):
    create_store(store_url).write({"violations": violations(3)}, user="t", action="x")
    with pytest.raises(StoreError, match="already exists"):
        create_store(store_url)
    assert open_store(store_url).count("violations") == 3
    fresh = create_store(store_url, overwrite=True)
    assert fresh.count("violations") == 0 and fresh.data_version() == 0


def test_open_refuses_other_schema_versions_with_the_fix(store_url):
    create_store(store_url)
    set_meta(store_url, "schema_version", "999")
    with pytest.raises(StoreError, match=f"needs {SCHEMA_VERSION}; upgrade the program"):
        open_store(store_url)
    set_meta(store_url, "schema_version", str(SCHEMA_VERSION - 1))
    with pytest.raises(StoreError, match="urban-order migrate --db"):
        open_store(store_url)
    assert open_store(store_url, any_version=True).schema_version() == SCHEMA_VERSION - 1


def test_open_refuses_a_store_that_does_not_exist(store_url):
    with pytest.raises(StoreError):
        open_store(store_url)


@pytest.mark.parametrize("kind", KINDS)
def test_offender_salt_is_secret_per_store_and_overridable(kind, tmp_path, monkeypatch):
    for a_url, b_url in store_urls(kind, tmp_path, n=2):
        a = create_store(a_url).offender_salt()
        b = create_store(b_url).offender_salt()
        assert len(a) == 32 and a != b
        monkeypatch.setenv("URBAN_ORDER_SALT", "from-the-environment")
        assert open_store(a_url).offender_salt() == b"from-the-environment"
        assert open_store(a_url).offender_salt(stored=True) == a


def test_a_given_salt_is_kept(store_url):
    salt = bytes(range(32))
    assert create_store(store_url, salt=salt).offender_salt(stored=True) == salt
    assert open_store(store_url).offender_salt(stored=True) == salt


@pytest.mark.parametrize("kind", KINDS)
def test_dump_and_load_copy_every_row_and_the_data_version(kind, tmp_path):
    for source_url, copy_url in store_urls(kind, tmp_path, n=2):
        source = create_store(source_url)
        source.write({"violations": violations(30), "groups": groups("cũ")}, user="t", action="a")
        source.replace_boundaries("groups", groups("mới"), valid_from=pd.Timestamp("2030-01-01"),
                                  user="t")  # fmt: skip
        tables, version = source.dump_tables()
        assert version == source.data_version() == 2 and len(tables["groups"]) == 4
        copy = create_store(copy_url)
        copy.load_tables(tables, data_version=version)
        assert copy.data_version() == 2
        again, _ = copy.dump_tables()
        for table, frame in tables.items():
            pd.testing.assert_frame_equal(
                pd.DataFrame(again[table]), pd.DataFrame(frame), obj=table
            )
        assert copy.read("groups")["name"].tolist() == ["mới", "Tổ 2"]
