"""The patrol status façade on the demo store: figures in range, empty inputs, start point."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from geo.errors import InputError
from geo.patrol import (
    latest_fix,
    load_patrol_inputs,
    patrol_now,
    patrol_status,
    route_candidates,
    start_point,
)
from geo.store import Query, open_store


@pytest.fixture(scope="module")
def demo(demo_store: Path) -> tuple:
    store = open_store(demo_store)
    ward_id = store.ward_ids()[0]
    now = latest_fix(store, ward_id=ward_id)
    return store, ward_id, now, load_patrol_inputs(store, ward_id=ward_id, now=now)


def test_status_of_the_demo_week(demo: tuple) -> None:
    *_, now, inputs = demo
    status = patrol_status(**inputs, now=now)
    assert status.now == now and status.start == now - pd.Timedelta(days=7)
    assert 0 < status.totals["share"] < 1
    assert status.teams == ["Đội 1", "Đội 2"]
    assert len(status.zones) == 3 and len(status.groups) == 92
    for table in (status.zones, status.groups):
        shares = table["share"].dropna()
        assert ((shares >= 0) & (shares <= 1)).all()
    # Zone totals are the sums of their groups' street lengths (groups tile the zones).
    by_zone = status.groups.groupby("zone_id")["street_km"].sum()
    zones = status.zones.set_index("zone_id")["street_km"]
    pd.testing.assert_series_equal(by_zone.sort_index(), zones.sort_index(), check_names=False,
                                   rtol=1e-6)  # fmt: skip
    spots = status.hotspots
    assert len(spots) == 20 and spots["rank"].tolist() == list(range(1, 21))
    assert spots["overdue"].equals(~(spots["hours_unvisited"] < 2.0))
    assert spots["zone_id"].notna().all()
    # Tracks drawn are those of the window.
    assert (status.tracks["end"] >= status.start).all()


def test_candidates_carry_priority_and_zone(demo: tuple) -> None:
    *_, now, inputs = demo
    status = patrol_status(**inputs, now=now)
    candidates = route_candidates(status)
    assert len(candidates) == len(status.hotspots)
    assert (candidates["priority"] > 0).all()
    # Same score, longer without a visit: higher priority.
    overdue = candidates[status.hotspots["overdue"].to_numpy()]
    assert overdue["priority"].max() == candidates["priority"].max()


def test_empty_patrols_and_violations_give_labelled_empties(demo: tuple) -> None:
    *_, now, inputs = demo
    empty = {
        **inputs,
        "fixes": inputs["fixes"].iloc[:0],
        "violations": inputs["violations"].iloc[:0],
    }
    status = patrol_status(**empty, now=now)
    assert status.totals["covered_km"] == 0 and status.totals["share"] == 0
    assert status.hotspots.empty and route_candidates(status).empty
    assert status.groups["last_patrol"].isna().all() and status.teams == []
    with pytest.raises(InputError, match="days"):
        patrol_status(**inputs, now=now, days=0)


def test_start_point_is_the_office_else_inside_the_ward(demo: tuple) -> None:
    store, ward_id, *_ = demo
    wards = store.read("wards", Query(ward_id=ward_id))
    places = store.read("places", Query(ward_id=ward_id))
    (lon, lat), what = start_point(places, wards, ward_id=ward_id)
    assert what == "office"
    office = places.geometry.iloc[0]
    assert (lon, lat) == (office.x, office.y)
    (lon, lat), what = start_point(places.iloc[:0], wards, ward_id=ward_id)
    assert what == "ward"
    assert wards.geometry.iloc[0].contains(gpd.points_from_xy([lon], [lat])[0])
    with pytest.raises(InputError, match="nowhere"):
        start_point(places.iloc[:0], wards, ward_id="nowhere")


@pytest.mark.parametrize(
    ("latest", "until", "clock", "expected"),
    [
        # live: the clock, however long ago the last fix was today
        ("2025-07-02 10:00", None, "2025-07-02 14:00", "2025-07-02 14:00"),
        ("2025-07-02 10:00", "2025-07-02 23:59", "2025-07-02 14:00", "2025-07-02 14:00"),
        # a past day whose last patrol was that day: the last patrol
        ("2025-07-01 17:28", "2025-07-01 23:59", "2025-07-02 14:00", "2025-07-01 17:28"),
        # a past period whose patrols stopped two days before its end: its end
        ("2025-06-28 17:28", "2025-06-30 23:59", "2025-07-02 14:00", "2025-06-30 23:59"),
        # patrols stopped over a week ago (the demo, an old store): the last patrol
        ("2025-06-01 17:28", None, "2025-07-02 14:00", "2025-06-01 17:28"),
        (None, None, "2025-07-02 14:00", "2025-07-02 14:00"),
    ],
)
def test_patrol_now(latest: str | None, until: str | None, clock: str, expected: str) -> None:
    def local(text: str | None) -> pd.Timestamp | None:
        return None if text is None else pd.Timestamp(text, tz="Asia/Ho_Chi_Minh")

    got = patrol_now(local(latest), until=local(until), clock=local(clock))
    assert got == local(expected)
