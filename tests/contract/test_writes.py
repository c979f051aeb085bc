"""Writes: all or nothing, audited, versioned; updates and deletes by key; repeated keys refused."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.errors import StoreError
from geo.store import Query, is_postgis_url
from tests.contract.samples import groups, index_names, violations


def test_a_batch_is_all_or_nothing(store):
    store.write({"violations": violations(5)}, user="t", action="first")
    version = store.data_version()
    batch = {"groups": groups(), "violations": violations(5)}  # same record ids again
    with pytest.raises(StoreError, match=r"violations.*record_id"):
        store.write(batch, user="t", action="second")
    assert store.count("groups") == 0 and store.count("violations") == 5
    assert store.data_version() == version
    assert store.read("audit_log")["action"].tolist() == ["first"]


def test_a_key_repeated_inside_one_batch_is_refused(store):
    v = violations(4)
    v.loc[3, "record_id"] = "r0"
    with pytest.raises(StoreError, match="record_id"):
        store.write({"violations": v, "groups": groups()}, user="t", action="x")
    assert store.count("violations") == 0 and store.count("groups") == 0


def test_every_write_is_audited_and_bumps_the_version(store):
    store.write({"groups": groups()}, user="lan", action="import groups")
    log = store.read("audit_log")
    assert log[["user", "action", "table", "ids"]].values.tolist() == [
        ["lan", "import groups", "groups", "g1,g2"]
    ]
    assert store.data_version() == 1
    store.write({"violations": violations(60)}, user="an", action="upload")
    last = store.read("audit_log").iloc[-1]
    assert (last["user"], last["ids"]) == ("an", "60 rows")
    assert last["at"] >= log["at"].iloc[0]
    assert store.data_version() == 2


def test_update_changes_columns_by_key_and_is_audited(store):
    store.write({"violations": violations(3)}, user="t", action="test")
    store.update("violations", {"r1": {"status": "resolved", "fine_vnd": 400_000}},
                 user="lan", action="edit status")  # fmt: skip
    rows = store.read("violations").set_index("record_id")
    assert (rows.loc["r1", "status"], rows.loc["r1", "fine_vnd"]) == ("resolved", 400_000)
    assert rows.loc[["r0", "r2"], "status"].isna().all()
    log = store.read("audit_log").iloc[-1]
    assert (log["action"], log["table"], log["ids"]) == ("edit status", "violations", "r1")
    version = store.data_version()
    with pytest.raises(StoreError, match="no row"):
        store.update("violations", {"r0": {"status": "fined"}, "nope": {"status": "open"}},
                     user="t", action="x")  # fmt: skip
    assert store.read("violations").set_index("record_id").loc["r0", "status"] is pd.NA
    with pytest.raises(StoreError, match="no column"):
        store.update("violations", {"r1": {"colour": "red"}}, user="t", action="x")
    with pytest.raises(StoreError, match="cannot be changed"):
        store.update("violations", {"r1": {"record_id": "r9"}}, user="t", action="x")
    with pytest.raises(StoreError, match="no key column"):
        store.update("quarantine", {"x": {"raw": "{}"}}, user="t", action="x")
    assert store.data_version() == version


def test_update_can_set_times_flags_and_missing_values(store):
    store.write({"citizen_reports": pd.DataFrame({"report_id": ["c1"], "severity": [2]})},
                user="t", action="report")  # fmt: skip
    when = pd.Timestamp("2025-08-01 10:15", tz="Asia/Ho_Chi_Minh")
    change = {"resolved_at": when, "synthetic": True, "severity": None}
    store.update("citizen_reports", {"c1": change}, user="t", action="resolve")
    row = store.read("citizen_reports").iloc[0]
    assert row["resolved_at"] == when and bool(row["synthetic"]) and row["severity"] is pd.NA


def test_write_can_delete_in_the_same_transaction(store):
    q = pd.DataFrame({"upload_id": ["u1", "u1"], "row_number": [2, 3], "raw": "{}", "reasons": "x"})
    store.write({"quarantine": q}, user="t", action="quarantine")
    store.write({"violations": violations(1)}, user="t", action="accept fixed row",
                delete={"quarantine": [{"upload_id": "u1", "row_number": 2}]})  # fmt: skip
    assert store.read("quarantine")["row_number"].tolist() == [3]
    assert store.read("audit_log")["action"].tolist()[-2:] == [
        "accept fixed row (delete)", "accept fixed row",
    ]  # fmt: skip
    with pytest.raises(StoreError, match="expected 1"):  # the whole batch is refused
        store.write({"violations": violations(1, start=5)}, user="t", action="x",
                    delete={"quarantine": [{"upload_id": "u1", "row_number": 2}]})  # fmt: skip
    assert store.count("violations") == 1
    with pytest.raises(StoreError, match="no column"):
        store.write({}, user="t", action="x", delete={"quarantine": [{"line": 3}]})
    assert store.count("quarantine") == 1


def test_existing_keys_are_found_among_many(store):
    store.write({"violations": violations(1200)}, user="t", action="test")
    asked = [f"r{i}" for i in range(1000, 2500)] + ["r1000", "r5"]
    assert store.existing_keys("violations", asked) == {f"r{i}" for i in range(1000, 1200)} | {"r5"}
    assert store.existing_keys("violations", []) == set()
    assert store.existing_keys("violations", ["r3", "r3", "zz", None]) == {"r3"}  # looked up
    with pytest.raises(StoreError, match="no key"):
        store.existing_keys("quarantine", ["x"])


def test_big_batches_take_the_bulk_path_and_still_refuse_repeated_keys(
    store, store_url, monkeypatch
):
    # Lower the backends' bulk thresholds so that 700 rows take the path 100,000 would.
    if is_postgis_url(store_url):
        import geo.postgis_store as ps

        monkeypatch.setattr(ps, "_REBUILD_ROWS", 600)
    else:
        import geo.gpkg_store as gs

        monkeypatch.setattr(gs, "_REINDEX_ROWS", 600)
    indexes = index_names(store_url, "violations")
    assert {"ix_violations_key", "ix_violations_time", "ix_violations_group_id"} <= indexes
    written = violations(700)
    store.write({"violations": written}, user="t", action="big")
    back = store.read("violations")
    assert back["record_id"].tolist() == written["record_id"].tolist()
    assert back.geometry.geom_equals_exact(written.geometry.reset_index(drop=True), 1e-9).all()
    assert back["observed_at"].tolist() == written["observed_at"].tolist()
    repeated = violations(1500, start=650)  # 50 ids already stored, more rows than held
    with pytest.raises(StoreError, match=r"violations.*record_id"):
        store.write({"violations": repeated}, user="t", action="big again")
    assert store.count("violations") == 700
    store.write({"violations": violations(1500, start=700)}, user="t", action="big, new ids")
    assert store.count("violations") == 2200
    assert store.existing_keys("violations", ["r2199", "r2200"]) == {"r2199"}
    assert store.count("violations", Query(group_ids=("g1",))) > 0
    assert index_names(store_url, "violations") == indexes  # rebuilt after the bulk paths
