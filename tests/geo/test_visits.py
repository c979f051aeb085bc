"""Hot spot visits (stays, dwell, windows), working hours, and the last patrol per area."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point

from geo.errors import InputError
from geo.visits import hotspot_visits, last_patrols, working_hours_between

X, Y = 587_000.0, 2_324_000.0  # EPSG:5897 metres, in Hà Nội
TZ = "Asia/Ho_Chi_Minh"
DAY = pd.Timestamp("2025-07-01", tz=TZ)

SPOTS = gpd.GeoDataFrame(
    {"unit_id": ["market", "school", "quiet"]},
    geometry=[
        LineString([(X, Y), (X + 100, Y)]),  # a street segment
        Point(X + 500, Y),  # a point
        shapely.box(X + 2000, Y, X + 2100, Y + 100),  # a cell nobody visits
    ],
    crs=5897,
)


def _stay(x: float, start: pd.Timestamp, minutes: float, *, track: str, every: float = 10.0):
    n = int(minutes * 60 / every) + 1
    return pd.DataFrame(
        {
            "track_id": track,
            "team": "Đội 1",
            "t": start + pd.to_timedelta(np.arange(n) * every, unit="s"),
            "x": X + x + np.random.default_rng(0).normal(0, 3, n),
        }
    )


def _fixes(*parts: pd.DataFrame) -> gpd.GeoDataFrame:
    frame = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(
        frame.drop(columns="x"), geometry=gpd.points_from_xy(frame["x"], Y + 5), crs=5897
    )


def test_stays_count_as_visits_with_their_dwell() -> None:
    fixes = _fixes(
        _stay(50, DAY + pd.Timedelta(hours=8), 12, track="a"),  # 12 min at the market
        _stay(500, DAY + pd.Timedelta(hours=9), 0.3, track="b"),  # 18 s past the school
        _stay(50, DAY + pd.Timedelta(hours=15), 5, track="c"),  # 5 min at the market
        _stay(50, DAY - pd.Timedelta(days=3), 10, track="d"),  # three days ago
    )
    now = DAY + pd.Timedelta(hours=16)
    out = hotspot_visits(SPOTS, fixes, now=now)
    market, school, quiet = out.loc["market"], out.loc["school"], out.loc["quiet"]
    assert market["visits_24h"] == 2 and market["dwell_24h_min"] == pytest.approx(17, abs=0.5)
    assert market["visits_7d"] == 3 and market["dwell_7d_min"] == pytest.approx(27, abs=0.5)
    assert market["last_visit"] == DAY + pd.Timedelta(hours=15, minutes=5)
    assert market["hours_unvisited"] == pytest.approx(55 / 60)
    # A pass of 18 seconds is not a visit.
    assert school["visits_24h"] == 0 and pd.isna(school["last_visit"])
    assert np.isnan(school["hours_unvisited"])
    assert quiet["visits_7d"] == 0 and quiet["dwell_7d_min"] == 0
    assert list(out.index) == ["market", "school", "quiet"]


def test_a_break_splits_a_stay_and_now_cuts_the_window() -> None:
    fixes = _fixes(
        _stay(50, DAY + pd.Timedelta(hours=8), 5, track="a"),
        _stay(50, DAY + pd.Timedelta(hours=8, minutes=15), 5, track="a"),  # 10 min away
    )
    out = hotspot_visits(SPOTS, fixes, now=DAY + pd.Timedelta(hours=12))
    assert out.loc["market", "visits_24h"] == 2
    # Fixes after now do not count; a visit running over the start of the window is clipped.
    early = hotspot_visits(SPOTS, fixes, now=DAY + pd.Timedelta(hours=8, minutes=3))
    assert early.loc["market", "visits_24h"] == 1
    assert early.loc["market", "dwell_24h_min"] == pytest.approx(3, abs=0.2)
    later = hotspot_visits(SPOTS, fixes, now=DAY + pd.Timedelta(days=1, hours=8, minutes=17))
    assert later.loc["market", "visits_24h"] == 1  # the second one, 08:15-08:20 yesterday
    assert later.loc["market", "dwell_24h_min"] == pytest.approx(3, abs=0.2)


def test_empty_fixes_give_an_empty_labelled_table() -> None:
    none = _fixes(_stay(50, DAY, 1, track="a")).iloc[:0]
    out = hotspot_visits(SPOTS, none, now=DAY)
    assert list(out.index) == ["market", "school", "quiet"]
    assert (out["visits_7d"] == 0).all() and out["last_visit"].isna().all()


def test_bad_arguments_are_named() -> None:
    fixes = _fixes(_stay(50, DAY, 1, track="a"))
    with pytest.raises(InputError, match="segment_id"):
        hotspot_visits(SPOTS, fixes, now=DAY, id_column="segment_id")
    with pytest.raises(InputError, match="working_hours"):
        hotspot_visits(SPOTS, fixes, now=DAY, working_hours=(22, 7))


@pytest.mark.parametrize(
    ("last", "now", "hours"),
    [
        ("2025-07-01 09:00", "2025-07-01 11:30", 2.5),
        ("2025-07-01 21:00", "2025-07-02 08:00", 2.0),  # the night does not count
        ("2025-07-01 23:00", "2025-07-02 06:00", 0.0),
        ("2025-07-01 12:00", "2025-07-03 12:00", 30.0),  # two working days of 15 h
        ("2025-07-02 12:00", "2025-07-01 12:00", 0.0),  # a visit after now: none
    ],
)
def test_working_hours_between(last: str, now: str, hours: float) -> None:
    out = working_hours_between(pd.Timestamp(last, tz=TZ), pd.Timestamp(now, tz=TZ))
    assert out[0] == pytest.approx(hours)


def test_last_patrol_per_area() -> None:
    fixes = _fixes(
        _stay(50, DAY + pd.Timedelta(hours=8), 5, track="a"),
        _stay(50, DAY + pd.Timedelta(hours=20), 5, track="b"),  # after now
    )
    areas = gpd.GeoDataFrame(
        {"group_id": ["G1", "G2"]},
        geometry=[
            shapely.box(X - 10, Y - 10, X + 200, Y + 50),
            shapely.box(X + 900, Y, X + 990, Y + 90),
        ],
        crs=5897,
    )
    out = last_patrols(areas, fixes, now=DAY + pd.Timedelta(hours=12))
    assert out.loc["G1", "last_patrol"] == DAY + pd.Timedelta(hours=8, minutes=5)
    assert out.loc["G1", "hours_since"] == pytest.approx(3 + 55 / 60)
    assert pd.isna(out.loc["G2", "last_patrol"]) and np.isnan(out.loc["G2", "hours_since"])
