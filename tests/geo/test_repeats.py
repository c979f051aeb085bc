"""Repeat places, repeat offenders and the Knox near-repeat test."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist
from shapely.geometry import Point

from geo._repeats_knox import _space_time
from geo.errors import InputError
from geo.repeats import _discs, knox_test, repeat_offenders, repeat_places

X, Y = 587_000.0, 2_324_000.0  # EPSG:5897 metres, in Hà Nội
DAY = pd.Timestamp("2025-03-01 08:00", tz="Asia/Ho_Chi_Minh")


def _records(xy: np.ndarray, days: np.ndarray, **columns: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"observed_at": DAY + pd.to_timedelta(days, unit="D"), **columns},
        geometry=[Point(X + x, Y + y) for x, y in xy],
        crs=5897,
    )


# --- repeat places ----------------------------------------------------------------------------


def _planted_and_chain() -> gpd.GeoDataFrame:
    spot = [(200 + dx, 300 + dy) for dx, dy in [(0, 0), (3, 1), (-2, 4), (1, -3), (4, 4)]]
    chain = [(8.0 * k, 0.0) for k in range(63)]  # a street 500 m long, a record every 8 m
    xy = np.array(spot + chain)
    days = np.concatenate([np.arange(5), 10 + np.arange(len(chain)) % 20])
    categories = ["street_vending"] * 4 + ["littering"] + ["sidewalk_encroachment"] * len(chain)
    addresses = ["số 5 Phố A"] * 3 + ["số 7 Phố A"] * 2 + ["Phố B"] * len(chain)
    return _records(xy, days, category=categories, address=addresses, group_id="G1")


def test_a_planted_place_is_found_and_a_chain_is_not_one_huge_place():
    places = repeat_places(_planted_and_chain(), radius_m=15, min_records=3)
    top = places.iloc[0]
    assert (top["place_id"], top["count"], top["rank"]) == ("P1", 5, 1)
    assert top["categories"] == "street_vending, littering"
    assert top["address"] == "số 5 Phố A"
    assert top["group_id"] == "G1"
    centre = gpd.GeoSeries([top.geometry], crs=4326).to_crs(5897).iloc[0]
    assert centre.distance(Point(X + 201.2, Y + 301.2)) < 0.1  # mean of the five
    chain = places.iloc[1:]
    assert len(chain) >= 15  # the street breaks into many small places ...
    assert chain["count"].max() <= 4  # ... none spanning more than 2 x 15 m
    assert places.crs.to_epsg() == 4326
    assert places["rank"].tolist() == list(range(1, len(places) + 1))


def test_places_respect_the_period():
    points = _planted_and_chain()
    start, end = DAY.tz_localize(None), DAY.tz_localize(None) + pd.Timedelta(days=3)
    places = repeat_places(points, start=start, end=end)  # naive times are Hà Nội time
    # days 0, 1, 2 only: three of the planted five (the chain is recorded from day 10)
    assert places["count"].tolist() == [3]
    assert places.iloc[0]["first_at"] == DAY
    assert places.iloc[0]["last_at"] == DAY + pd.Timedelta(days=2)
    assert repeat_places(points, start="2030-01-01").empty


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 120), st.floats(0, 60)), min_size=0, max_size=80),
    st.integers(2, 5),
)
def test_discs_are_small_big_enough_and_leave_no_place_behind(coords, min_records):
    xy = np.array(coords, dtype=float).reshape(-1, 2)
    label = _discs(xy, 15.0, min_records) if len(xy) else np.empty(0, dtype=int)
    for place in np.unique(label[label >= 0]):
        members = xy[label == place]
        assert len(members) >= min_records
        if len(members) > 1:
            assert pdist(members).max() <= 30.0 + 1e-9  # within a disc of 15 m
    free = xy[label < 0]
    for point in free:  # no record left with min_records free records around it
        assert (np.hypot(*(free - point).T) <= 15.0).sum() < min_records


def test_bad_place_arguments_are_refused():
    points = _planted_and_chain()
    with pytest.raises(InputError, match="radius_m"):
        repeat_places(points, radius_m=0)
    with pytest.raises(InputError, match="min_records"):
        repeat_places(points, min_records=1)
    with pytest.raises(InputError, match="no CRS"):
        repeat_places(points.set_crs(None, allow_override=True))


# --- repeat offenders -------------------------------------------------------------------------


def test_offenders_are_counted_by_key_only():
    records = _records(
        np.array([(0, 0), (5, 0), (300, 0), (0, 0), (50, 50), (60, 50)]),
        np.array([0, 1, 2, 3, 4, 40]),
        offender_key=["k1", "k1", "k1", "k2", None, "k3"],
        offender_name=["Bà A", "Bà B", "Bà A", "Bà A", "Bà A", "Ông C"],  # never read
        category=["street_vending", "street_vending", "littering", "traffic", "x", "y"],
        group_id=["G1", "G1", "G2", "G1", "G1", "G3"],
    )
    out = repeat_offenders(records)
    assert list(out.columns) == [
        "offender_key", "count", "first_at", "last_at", "places", "categories", "group_id",
    ]  # fmt: skip
    assert out["offender_key"].tolist() == ["k1"]
    k1 = out.iloc[0]
    assert (k1["count"], k1["places"], k1["group_id"]) == (3, 2, "G1")  # 5 m apart = one place
    assert k1["categories"] == "street_vending, littering"
    assert k1["first_at"] == DAY and k1["last_at"] == DAY + pd.Timedelta(days=2)
    assert "Bà" not in out.to_string()
    singles = repeat_offenders(records, min_records=1)
    assert singles["offender_key"].tolist() == ["k1", "k3", "k2"]  # most, then latest
    in_period = repeat_offenders(records, min_records=1, start=DAY + pd.Timedelta(days=2))
    assert in_period.set_index("offender_key")["count"].to_dict() == {"k1": 1, "k2": 1, "k3": 1}


def test_offenders_without_geometry_have_no_place_count():
    records = pd.DataFrame(
        {"offender_key": ["k1", "k1"], "observed_at": [DAY, DAY + pd.Timedelta(days=1)]}
    )
    out = repeat_offenders(records)
    assert out["count"].tolist() == [2]
    assert out["places"].isna().all()
    with pytest.raises(InputError, match="offender_key"):
        repeat_offenders(records.drop(columns="offender_key"))


# --- Knox -------------------------------------------------------------------------------------

BANDS = {"distance_bands_m": (0, 50, 100, 200, 400), "time_bands_days": (0, 7, 14, 21, 28)}


def _background(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(0, 1000, (n, 2)), rng.uniform(0, 365, n)


def test_planted_near_repeats_are_significant_in_the_first_cell():
    rng = np.random.default_rng(1)
    xy, days = _background(rng, 200)
    seeds = rng.integers(0, 200, 40)
    # 40 follow-ups within 50 m and 3 days of an earlier record
    near_xy = xy[seeds] + rng.uniform(-30, 30, (40, 2))
    near_days = days[seeds] + rng.uniform(0, 3, 40)
    points = _records(np.vstack([xy, near_xy]), np.concatenate([days, near_days]))
    table = knox_test(points, **BANDS)
    first = table.iloc[0]
    assert (first["distance_to_m"], first["days_to"]) == (50, 7)
    assert first["knox_ratio"] > 1.5
    assert first["p"] <= 0.05
    assert first["significant"]
    assert len(table) == 16
    assert table.attrs["records"] == 240


def test_random_times_give_no_significant_cell_in_most_seeds():
    flagged = 0
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        xy, days = _background(rng, 200)
        table = knox_test(_records(xy, days), seed=seed, **BANDS)
        flagged += bool(table["significant"].any())
        assert table["p"].between(0.01, 1).all()
    assert flagged <= 2


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 300), st.integers(0, 300), st.integers(0, 40)),
        min_size=0,
        max_size=40,
    )
)
def test_observed_pairs_match_a_brute_force_count(rows):
    data = np.array(rows, dtype=float).reshape(-1, 3)
    points = _records(data[:, :2], data[:, 2])
    d_edges, t_edges = (0, 20, 100, 250), (0, 1, 7, 30)
    table = knox_test(points, distance_bands_m=d_edges, time_bands_days=t_edges, permutations=19)
    expected = np.zeros((3, 3), dtype=int)
    xy, seconds = _space_time(points, "observed_at")
    for a in range(len(xy)):
        for b in range(a + 1, len(xy)):
            d = np.hypot(*(xy[a] - xy[b]))
            gap = abs(int(seconds[a]) - int(seconds[b])) / 86_400
            i = np.searchsorted(d_edges, d, side="right") - 1
            j = np.searchsorted(t_edges, gap, side="right") - 1
            if 0 <= i < 3 and 0 <= j < 3:
                expected[i, j] += 1
    assert table["observed"].to_numpy().reshape(3, 3).tolist() == expected.tolist()
    assert (table["expected"] >= 0).all()


def test_knox_arguments_are_checked():
    points = _records(np.array([(0, 0), (10, 0)]), np.array([0, 1]))
    with pytest.raises(InputError, match="increasing"):
        knox_test(points, distance_bands_m=(0, 100, 50))
    with pytest.raises(InputError, match="at least two"):
        knox_test(points, time_bands_days=(7,))
    with pytest.raises(InputError, match="permutations"):
        knox_test(points, permutations=5)
    with pytest.raises(InputError, match="time_col"):
        knox_test(points, time_col="t")
