"""An upload overtaken between its check and its commit: checked again, never an error,
never a record twice. The interleavings the concurrent tests hit by chance, played in order."""

from __future__ import annotations

import uuid

import pytest

from geo.errors import StoreError
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.store import open_store
from tests.concurrency._workload import NOW, csv_file, setup_store

OPTIONS = UploadOptions(user="lan", now=NOW)


@pytest.fixture
def store(store_url):
    setup_store(store_url)
    return open_store(store_url)


def _prepare(store, data: bytes, name: str = "f.csv", **options):
    return prepare_upload(data, name=name, store=store, options=UploadOptions(now=NOW, **options))


def test_the_same_file_committed_twice_at_once_ends_as_same_file_duplicates(store):
    first, second = _prepare(store, csv_file(1)), _prepare(store, csv_file(1), user="minh")
    assert first.upload_id == second.upload_id  # a first upload's id comes from the file
    a = commit_upload(first, store=store)
    b = commit_upload(second, store=store)
    assert (a["accepted"], a["duplicates"], a["same_file_as"]) == (4, 0, None)
    assert (b["accepted"], b["duplicates"], b["same_file_as"]) == (0, 4, a["upload_id"])
    assert b["upload_id"] != a["upload_id"]
    uploads = store.read("uploads").set_index("upload_id")
    assert uploads.loc[b["upload_id"], "uploaded_by"] == "minh"  # who confirmed, kept
    assert store.count("violations") == 4 and store.count("duplicates") == 4


def test_a_file_of_rows_without_keys_is_still_added_once(store):
    # Only quarantined rows: no record key collides, the upload's own key does.
    bad = b"record_id,category,observed_at,lat,lon\nx1,???,2025-06-01 08:00,21.005,105.832\n"
    first, second = _prepare(store, bad), _prepare(store, bad)
    commit_upload(first, store=store)
    b = commit_upload(second, store=store)
    assert (b["quarantined"], b["duplicates"]) == (0, 1)
    assert store.count("quarantine") == 1 and store.count("uploads") == 2


def test_a_record_committed_meanwhile_by_another_file_becomes_a_duplicate(store):
    # Files 1 and 41 carry the same shared record; 41 is checked before 1 is committed.
    later = _prepare(store, csv_file(41), name="f41.csv")
    commit_upload(_prepare(store, csv_file(1), name="f1.csv"), store=store)
    s = commit_upload(later, store=store)
    assert (s["rows"], s["accepted"], s["duplicates"]) == (4, 3, 1)
    assert s["upload_id"] == later.upload_id  # the same upload, checked again
    dup = store.read("duplicates").query("upload_id == @s['upload_id']")
    assert dup[["duplicate_of", "match"]].values.tolist() == [["shared-01", "same_id"]]
    assert store.read("violations")["record_id"].is_unique and store.count("violations") == 7


def test_a_refusal_that_no_other_upload_explains_is_raised(store, monkeypatch):
    prepared = _prepare(store, csv_file(2))
    calls = []

    def refuse(*args, **kwargs):
        calls.append(1)
        raise StoreError("the disk is full")

    monkeypatch.setattr(store, "write", refuse)
    with pytest.raises(StoreError, match="disk is full"):
        commit_upload(prepared, store=store)
    assert len(calls) == 1  # not checked again, not retried


def test_an_upload_overtaken_at_every_attempt_gives_up(store, monkeypatch):
    import geo.ingest

    prepared = _prepare(store, csv_file(3))
    monkeypatch.setattr(geo.ingest, "_overtaken", lambda prepared, store: True)
    monkeypatch.setattr(store, "write", lambda *a, **k: (_ for _ in ()).throw(StoreError("x")))
    with pytest.raises(StoreError):
        commit_upload(prepared, store=store)
    assert store.count("uploads") == 0 and uuid.UUID(prepared.upload_id).version == 5
