"""Filtered reads and counts: by ward, period, category, zone, group, campaign and as_of."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.store import Query
from tests.contract.samples import TZ, groups, violations


def test_reads_filter_by_ward_period_category_zone_and_group(store):
    v = violations(300)
    store.write({"violations": v}, user="t", action="test")
    q = Query(
        ward_id="w",
        start=pd.Timestamp("2025-03-01"),
        end=pd.Timestamp("2025-04-01"),
        categories=("traffic",),
        group_ids=("g1",),
        zone_ids=("z1",),
    )
    got = store.read("violations", q)
    local = v["observed_at"]
    expected = v[
        (local >= pd.Timestamp("2025-03-01", tz=TZ))
        & (local < pd.Timestamp("2025-04-01", tz=TZ))
        & (v["category"] == "traffic")
        & (v["group_id"] == "g1")
    ]
    assert sorted(got["record_id"]) == sorted(expected["record_id"]) and len(got) > 0
    assert store.count("violations", q) == len(expected)
    assert store.read("violations", Query(ward_id="other")).empty
    assert store.read("violations", Query(categories=())).empty
    assert store.count("violations", Query(group_ids=("g1", "g2"))) == 300


@pytest.mark.parametrize(
    "query",
    [
        Query(),
        Query(categories=("littering", "traffic")),
        Query(zone_ids=("z1", "z9")),
        Query(start=pd.Timestamp("2025-06-01", tz="UTC")),
        Query(end=pd.Timestamp("2025-02-01 12:00")),
        Query(ward_id="w", group_ids=("g2",), categories=("street_vending",)),
    ],
    ids=["all", "categories", "zones", "start-utc", "end-local", "ward-group-category"],
)
def test_count_is_the_length_of_the_read(store, query):
    store.write({"violations": violations(200, seed=3)}, user="t", action="test")
    assert store.count("violations", query) == len(store.read("violations", query))


def test_periods_are_cut_in_local_time_start_inclusive_end_exclusive(store):
    # 2025-03-01 00:00 in Hà Nội is 2025-02-28 17:00 UTC
    times = pd.to_datetime(
        ["2025-02-28 16:59:59", "2025-02-28 17:00:00", "2025-03-31 16:59:59", "2025-03-31 17:00:00"]
    ).tz_localize("UTC")
    v = violations(4).assign(observed_at=times)
    store.write({"violations": v}, user="t", action="edges")
    march = Query(start=pd.Timestamp("2025-03-01"), end=pd.Timestamp("2025-04-01"))
    assert store.read("violations", march)["record_id"].tolist() == ["r1", "r2"]


def test_campaign_filter_finds_the_campaigns_records(store):
    v = violations(20).assign(campaign_id=[None, "c1", "c2", "c1"] * 5)
    store.write({"violations": v}, user="t", action="campaign")
    got = store.read("violations", Query(campaign_id="c1"))
    assert sorted(got["record_id"]) == sorted(v.loc[v["campaign_id"] == "c1", "record_id"])
    assert store.count("violations", Query(campaign_id="c3")) == 0


def test_boundaries_are_read_current_unless_asked_as_of(store):
    old = groups("cũ").assign(valid_from=pd.Timestamp("2024-01-01", tz=TZ),
                              valid_to=pd.Timestamp("2025-01-01", tz=TZ))  # fmt: skip
    new = groups("mới").assign(valid_from=pd.Timestamp("2025-01-01", tz=TZ))
    store.write({"groups": pd.concat([old, new])}, user="t", action="history")
    assert store.read("groups")["name"].tolist() == ["mới", "Tổ 2"]
    as_of_2024 = store.read("groups", Query(as_of=pd.Timestamp("2024-06-01"), group_ids=("g1",)))
    assert as_of_2024["name"].tolist() == ["cũ"]
    # valid_to is exclusive: at the change the new version is the valid one
    at_change = store.read("groups", Query(as_of=pd.Timestamp("2025-01-01")))
    assert at_change["name"].tolist() == ["mới", "Tổ 2"]
    assert store.count("groups", Query(as_of=pd.Timestamp("2023-12-31"))) == 0
