"""The map benchmark's store and baseline, small (the browser part runs in bench/run.py map)."""

from __future__ import annotations

import pytest

from bench.map import ACCOUNT, PASSWORD, build_store, naive_map
from geo.auth import authenticate
from geo.store import Query, open_store

pytestmark = pytest.mark.slow


def test_the_benchmark_store_holds_the_assigned_city_and_an_admin_of_every_ward(tmp_path):
    build_store(tmp_path / "city.gpkg", 3_000, 300, cache_dir=tmp_path / "cache")
    store = open_store(tmp_path / "city.gpkg")
    assert len(store.ward_ids()) == 126 and store.count("groups") == 300
    totals = store.aggregate("violations", by=("ward_id",))
    assert totals["count"].sum() == 3_000 == store.count("violations")
    outside = totals.loc[totals["ward_id"].isna(), "count"].sum()  # ~0.5 % beyond the city
    assert 0 < outside < 0.02 * 3_000
    assert store.count("violations", Query(ward_id="W001")) == totals["count"].iloc[0]
    who = authenticate(store, ACCOUNT, PASSWORD)
    assert who is not None and who.role == "admin" and who.wards is None


def test_the_naive_map_draws_one_marker_per_record(tmp_path):
    from bench.city import make_city

    records = make_city(groups=200, records=50, cache_dir=tmp_path).records
    html = naive_map(records)
    assert html.count("L.circleMarker(") == 50
