"""The GeoPackage store's cheaper aggregates of big tables (the period not compared when it
holds every record; the file memory-mapped): made to apply to a few hundred rows
(``_BIG_ROWS`` lowered), they must give what the plain ``GROUP BY`` gives."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pandas as pd
import pytest

import geo.gpkg_store as gpkg
from geo.store import Query, create_store
from tests.contract.samples import violations

TZ = "Asia/Ho_Chi_Minh"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """300 violations over three wards and records without a ward, a group or a fine; their
    times from 2025-01-01 on (see tests.contract.samples)."""
    store = create_store(tmp_path_factory.mktemp("agg") / "agg.gpkg")
    v = violations(300, seed=3)
    v["ward_id"] = pd.array(["a", "b", "c", "b", None] * 60, dtype="string")
    v["group_id"] = v["group_id"].where(v.index % 7 != 0, None)
    v["fine_vnd"] = pd.array([None, 0, 300_000, 2_000_000, 100] * 60, dtype="Int64")
    v["status"] = pd.array(["fined", "warned", None] * 100, dtype="string")
    store.write({"violations": v}, user="t", action="test")
    return store


def _span(store) -> tuple[pd.Timestamp, pd.Timestamp]:
    times = store.read("violations")["observed_at"]
    return times.min(), times.max()


def _plain(store, monkeypatch, query, by):
    with monkeypatch.context() as m:
        m.setattr(gpkg, "_BIG_ROWS", 10**12)
        return store.aggregate("violations", query, by=by)


def _queries(store) -> list[Query]:
    first, last = _span(store)
    second = pd.Timedelta(seconds=1)
    return [
        Query(),
        Query(start=first, end=last + second),  # holds every record
        Query(start=first - pd.Timedelta(days=9), categories=("traffic", "littering")),
        Query(start=first + second),  # leaves the first record out
        Query(end=last),  # the end is excluded: leaves the last out
        Query(ward_id="b", start=first, end=last + second),
        Query(categories=()),
    ]


@pytest.mark.parametrize("by", [("ward_id", "group_id"), (), ("group_id",), ("category",)])
def test_big_table_aggregates_equal_the_plain_group_by(store, monkeypatch, by):
    monkeypatch.setattr(gpkg, "_BIG_ROWS", 10)
    asked = []
    holds = gpkg._period_holds_all
    monkeypatch.setattr(gpkg, "_period_holds_all", lambda *a: asked.append(holds(*a)) or asked[-1])
    for query in _queries(store):
        got = store.aggregate("violations", query, by=by)
        pd.testing.assert_frame_equal(got, _plain(store, monkeypatch, query, by))
    assert asked.count(True) == 3  # the periods from before the first record to after the last


def test_the_period_is_compared_only_when_it_leaves_records_out(store):
    first, last = _span(store)
    holds = [
        Query(start=first, end=last + pd.Timedelta(seconds=1)),
        Query(start=first - pd.Timedelta(days=1)),
        Query(end=last + pd.Timedelta(days=1)),
    ]
    leaves = [Query(start=first + pd.Timedelta(seconds=1)), Query(end=last), Query()]
    b = store.read("violations", Query(ward_id="b"))["observed_at"]
    in_b = Query(ward_id="b", start=b.min(), end=b.max() + pd.Timedelta(seconds=1))
    with sqlite3.connect(store.path) as con:
        assert all(gpkg._period_holds_all(con, "violations", q) for q in holds)
        assert not any(gpkg._period_holds_all(con, "violations", q) for q in leaves)
        # a ward's aggregate: its own first and last records count, not the others'
        assert (b.min(), b.max()) != (first, last)  # narrower than the table's span
        assert gpkg._period_holds_all(con, "violations", in_b)
        assert not gpkg._period_holds_all(con, "violations", replace(in_b, ward_id=None))
        # without the (ward, time) index to find the first and last times: compared
        con.execute("DROP INDEX ix_violations_time")
        try:
            assert not gpkg._period_holds_all(con, "violations", holds[0])
        finally:
            con.rollback()
