"""Aggregates computed in the store equal the same counts and sums done on the rows read."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.access import ScopedStore
from geo.auth import Principal
from geo.errors import AccessDeniedError, StoreError
from geo.store import Query
from tests.contract.samples import violations
from tests.contract.samples import ward as sample_ward


def _records() -> pd.DataFrame:
    """Two wards, some records without a group, fines missing, zero and positive, and
    statuses: a fined case without an amount, a fine recorded with a removal."""
    v = violations(240, seed=7)
    v["ward_id"] = ["w", "w", "v"] * 80
    v["group_id"] = v["group_id"].where(v.index % 7 != 0, None)
    v["fine_vnd"] = pd.array([None, 0, 300_000, 2_000_000] * 60, dtype="Int64")
    v["items_removed"] = pd.array([1, None, 0, 3, 2, 0] * 40, dtype="Int64")
    v["status"] = pd.array(["fined", "warned", "removed", "fined", None] * 48, dtype="string")
    return v


def _by_hand(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The aggregate done in pandas on rows read from the store, a case fined as
    geo.enforcement counts it."""
    fine = pd.to_numeric(rows["fine_vnd"]).fillna(0)
    fined = rows["status"].eq("fined").fillna(False).to_numpy() | (fine > 0).to_numpy()
    frame = rows.assign(
        count=1,
        fined=fined.astype("int64"),
        fine_vnd=fine.astype("int64"),
        items_removed=pd.to_numeric(rows["items_removed"]).fillna(0).astype("int64"),
    )
    measures = ["count", "fined", "fine_vnd", "items_removed"]
    out = frame.groupby(by, dropna=False)[measures].sum().reset_index()
    return out.sort_values(by, na_position="last").reset_index(drop=True)


@pytest.mark.parametrize(
    ("query", "by"),
    [
        (Query(), ["ward_id", "group_id"]),
        (Query(categories=("traffic", "littering")), ["group_id", "category"]),
        (Query(ward_id="w", start=pd.Timestamp("2025-04-01")), ["group_id"]),
    ],
    ids=["ward-group", "category-filter", "ward-period"],
)
def test_aggregate_equals_the_counts_and_sums_of_the_rows_read(store, query, by):
    store.write({"violations": _records()}, user="t", action="test")
    got = store.aggregate("violations", query, by=tuple(by))
    expected = _by_hand(store.read("violations", query), by)
    assert len(expected) > 2 and got[by].isna().any(axis=None) == expected[by].isna().any(axis=None)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got["count"].dtype == "int64" and got[by[0]].dtype == "string"


def test_totals_without_by_are_one_row_even_when_nothing_matches(store):
    store.write({"violations": _records()}, user="t", action="test")
    (total,) = store.aggregate("violations").itertuples(index=False)
    # fined: the 120 with a fine, and the 48 "fined" without one (None or 0 fine_vnd)
    assert total.count == 240 and total.fined == 168 and total.fine_vnd == 60 * 2_300_000
    assert total.items_removed == 40 * 6
    none = store.aggregate("violations", Query(categories=()))
    assert none.iloc[0].tolist() == [0, 0, 0, 0]
    assert store.aggregate("violations", Query(categories=()), by=("group_id",)).empty


def test_tables_without_fines_aggregate_counts_and_times(store):
    store.write({"wards": sample_ward()}, user="t", action="test")
    got = store.aggregate("wards", by=("ward_id",))
    assert got.columns.tolist() == ["ward_id", "count"] and got["count"].tolist() == [1]


@pytest.mark.parametrize("by", [("observed_at",), ("fine_vnd",), ("nope",), "ward_id"])
def test_by_must_name_text_columns(store, by):
    with pytest.raises(StoreError, match=r"group|tuple"):
        store.aggregate("violations", by=by)


def test_a_scoped_store_aggregates_only_the_users_wards(store):
    store.write({"violations": _records()}, user="t", action="test")
    one_ward = ScopedStore(store, Principal("lan", "viewer", ("w",)))
    mine = one_ward.aggregate("violations", by=("ward_id", "category"))
    assert set(mine["ward_id"]) == {"w"}
    pd.testing.assert_frame_equal(
        mine, store.aggregate("violations", Query(ward_id="w"), by=("ward_id", "category"))
    )
    with pytest.raises(AccessDeniedError, match="ward v"):
        one_ward.aggregate("violations", Query(ward_id="v"))
    # two wards, combined from one aggregate each: the same as the whole store's
    both = ScopedStore(store, Principal("an", "viewer", ("v", "w")))
    for by in [("category",), ()]:
        pd.testing.assert_frame_equal(
            both.aggregate("violations", by=by), store.aggregate("violations", by=by)
        )
    nobody = ScopedStore(store, Principal("no", "viewer", ()))
    assert nobody.aggregate("violations")["count"].tolist() == [0]
    with pytest.raises(AccessDeniedError):
        one_ward.aggregate("users")


def test_the_time_span_is_the_first_and_last_time_of_the_rows(store):
    v = _records()
    store.write({"violations": v}, user="t", action="test")
    for query in (Query(), Query(ward_id="v"), Query(categories=("traffic",))):
        times = store.read("violations", query)["observed_at"]
        assert store.time_span("violations", query) == (times.min(), times.max())
    first, _ = store.time_span("violations")
    assert str(first.tz) == "Asia/Ho_Chi_Minh"
    assert store.time_span("violations", Query(ward_id="nowhere")) is None
    assert ScopedStore(store, Principal("an", "viewer", ("v", "w"))).time_span(
        "violations"
    ) == store.time_span("violations")
    assert ScopedStore(store, Principal("no", "viewer", ())).time_span("violations") is None
    with pytest.raises(StoreError, match="no time column"):
        store.time_span("wards")
