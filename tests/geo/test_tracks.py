"""Track cleaning: GPS jumps dropped, gaps split, nothing else touched."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.errors import InputError
from geo.tracks import TrackSettings, clean_tracks, track_lines

X, Y = 587_000.0, 2_324_000.0  # EPSG:5897 metres, in Hà Nội
T0 = pd.Timestamp("2025-07-01 08:00", tz="Asia/Ho_Chi_Minh")


def _fixes(
    xy: list[tuple[float, float]], seconds: list[float], track: str = "a"
) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "track_id": track,
            "team": "Đội 1",
            "t": [T0 + pd.Timedelta(seconds=s) for s in seconds],
        },
        geometry=[Point(x, y) for x, y in xy],
        crs=5897,
    )


def _walk(n: int, speed: float = 1.3) -> tuple[list[tuple[float, float]], list[float]]:
    return [(X + speed * i, Y) for i in range(n)], [float(i) for i in range(n)]


def test_clean_walk_is_kept_whole() -> None:
    xy, t = _walk(50)
    out = clean_tracks(_fixes(xy, t))
    assert len(out) == 50
    assert out.attrs == {"jumps": 0, "unusable": 0, "segments": 1}
    assert out.crs.to_epsg() == 4326


def test_single_jump_is_dropped_and_the_track_goes_on() -> None:
    xy, t = _walk(60)
    xy[20] = (X + 600, Y + 400)
    out = clean_tracks(_fixes(xy, t))
    assert len(out) == 59
    assert out.attrs["jumps"] == 1
    assert out["segment"].nunique() == 1
    kept = gpd.GeoSeries(out.geometry, crs=4326).to_crs(5897)
    assert kept.x.max() < X + 100


def test_burst_of_jumps_shorter_than_settle_is_dropped() -> None:
    xy, t = _walk(80)
    for i in range(30, 40):  # ten seconds 300 m off, consistent among themselves
        xy[i] = (X + 300 + i, Y + 300)
    out = clean_tracks(_fixes(xy, t))
    assert out.attrs["jumps"] == 10
    assert out["segment"].nunique() == 1


def test_a_real_move_restarts_the_track_once_it_settles() -> None:
    xy, t = _walk(40)
    xy += [(X + 3000 + 1.3 * i, Y) for i in range(60)]  # a car ride, then walking again
    t += [40.0 + i for i in range(60)]
    out = clean_tracks(_fixes(xy, t), settings=TrackSettings(settle_s=30))
    assert out["segment"].nunique() == 2
    assert len(out) == 100  # the settled fixes are kept, not lost as jumps


def test_gap_splits_the_track() -> None:
    xy, t = _walk(20)
    xy += [(X + 100 + 1.3 * i, Y) for i in range(20)]
    t += [20.0 + 600 + i for i in range(20)]  # ten minutes without a fix
    out = clean_tracks(_fixes(xy, t))
    assert out["segment"].nunique() == 2
    lines = track_lines(out)
    assert len(lines) == 2
    assert lines["fixes"].tolist() == [20, 20]
    assert (lines["end"] > lines["start"]).all()


def test_unusable_fixes_are_counted_not_kept() -> None:
    xy, t = _walk(10)
    fixes = _fixes(xy, t)
    fixes.loc[3, "t"] = pd.NaT
    fixes.loc[5, "geometry"] = None
    fixes = pd.concat([fixes, fixes.iloc[[7]]], ignore_index=True)  # same time twice
    out = clean_tracks(fixes)
    assert out.attrs["unusable"] == 3
    assert len(out) == 8


def test_tracks_are_cleaned_separately_and_sorted() -> None:
    xy, t = _walk(10)
    a = _fixes(xy, t, "a")
    b = _fixes([(x, y + 1000) for x, y in xy], t, "b")
    shuffled = pd.concat([b, a]).sample(frac=1, random_state=0)
    out = clean_tracks(gpd.GeoDataFrame(shuffled, crs=5897))
    assert out["segment"].nunique() == 2
    assert out["track_id"].tolist() == ["a"] * 10 + ["b"] * 10
    assert out.groupby("track_id")["t"].apply(lambda s: s.is_monotonic_increasing).all()


def test_empty_input_gives_empty_labelled_frames() -> None:
    out = clean_tracks(_fixes([], []))
    assert out.empty and out.attrs["segments"] == 0
    assert {"track_id", "team", "t", "segment"} <= set(out.columns)
    assert track_lines(out).empty


def test_bad_input_is_named() -> None:
    with pytest.raises(InputError, match="track_id"):
        clean_tracks(_fixes(*_walk(3)).drop(columns="track_id"))
    naive = _fixes(*_walk(3))
    naive["t"] = naive["t"].dt.tz_localize(None)
    with pytest.raises(InputError, match="timezone-aware"):
        clean_tracks(naive)
    with pytest.raises(InputError, match="max_speed_m_s"):
        clean_tracks(_fixes(*_walk(3)), settings=TrackSettings(max_speed_m_s=0))


@settings(max_examples=40, deadline=None)
@given(
    jumps=st.lists(st.integers(min_value=1, max_value=98), max_size=8, unique=True),
    far=st.floats(min_value=200, max_value=5000),
)
def test_isolated_jumps_are_always_removed(jumps: list[int], far: float) -> None:
    xy, t = _walk(100)
    for i in jumps:
        xy[i] = (X + far, Y + far)
    out = clean_tracks(_fixes(xy, t))
    kept = gpd.GeoSeries(out.geometry, crs=4326).to_crs(5897)
    # Kept + dropped = usable; nothing far off survives unless it settled (it cannot here:
    # no 30 s run of consecutive jumps).
    assert len(out) + out.attrs["jumps"] == 100
    assert kept.y.max() < Y + 50
    assert len(out) >= 100 - len(jumps)
    assert np.all(np.diff(out["t"].astype("int64")) > 0)
