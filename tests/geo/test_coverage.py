"""Street coverage: hand-drawn streets, invariants, and the real Kim Liên network."""

from __future__ import annotations

import functools
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from geo.coverage import coverage_by_area, coverage_totals, street_coverage
from geo.errors import InputError
from geo.network import load_network, network_from_edges, street_edges
from geo.synthetic_tracks import walk_track
from geo.tracks import clean_tracks

X, Y = 587_000.0, 2_324_000.0  # EPSG:5897 metres, in Hà Nội
T0 = pd.Timestamp("2025-07-01 08:00", tz="Asia/Ho_Chi_Minh")


def _streets(*lines: list[tuple[float, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"street_id": [f"s{i}" for i in range(len(lines))], "name": None},
        geometry=[LineString([(X + a, Y + b) for a, b in line]) for line in lines],
        crs=5897,
    )


def _track(path: list[tuple[float, float]], *, speed: float = 1.3, start: pd.Timestamp = T0,
           jitter: float = 0.0, seed: int = 0, track: str = "a") -> gpd.GeoDataFrame:  # fmt: skip
    line = LineString([(X + a, Y + b) for a, b in path])
    n = int(line.length / speed) + 1
    pts = shapely.line_interpolate_point(line, np.arange(n) * speed)
    xy = shapely.get_coordinates(pts) + np.random.default_rng(seed).normal(0, jitter, (n, 2))
    return gpd.GeoDataFrame(
        {"track_id": track, "team": "Đội 1",
         "t": start + pd.to_timedelta(np.arange(n), unit="s")},
        geometry=shapely.points(xy),
        crs=5897,
    )  # fmt: skip


# A cross of two 200 m streets, and a lane 15 m north of and parallel to the first.
CROSS = _streets([(0, 0), (200, 0)], [(100, -100), (100, 100)], [(0, 15), (200, 15)])


def test_walked_street_is_covered_and_the_crossing_one_is_not() -> None:
    out = street_coverage(CROSS, _track([(0, 0), (200, 0)], jitter=3))
    assert out["covered"].tolist() == [True, False, False]
    assert out.loc[0, "share"] > 0.95
    # The crossing street was within 25 m over ~50 m of its 200 m, but never walked along.
    assert out.loc[1, "share"] < 0.1
    # The parallel lane 15 m away is within tolerance all along but farther than the walked
    # street: nearest-street matching gives it nothing.
    assert out.loc[2, "share"] < 0.2


def test_tolerance_is_a_distance() -> None:
    far = _track([(0, 30), (200, 30)])  # 30 m off the first street, 15 m off the lane
    out = street_coverage(CROSS.iloc[[0]], far)
    assert out.loc[0, "share"] == 0
    assert street_coverage(CROSS.iloc[[0]], far, tolerance_m=35).loc[0, "covered"]


def test_half_the_length_is_needed() -> None:
    out = street_coverage(CROSS.iloc[[0]], _track([(0, 0), (80, 0)]))
    assert 0.35 < out.loc[0, "share"] < 0.5 and not out.loc[0, "covered"]
    out = street_coverage(CROSS.iloc[[0]], _track([(0, 0), (120, 0)]))
    assert 0.55 < out.loc[0, "share"] < 0.65 and out.loc[0, "covered"]


def test_standing_still_covers_nothing() -> None:
    still = _track([(100, 0), (100.1, 0)], speed=0.0001, jitter=8)  # ~1000 s of scatter
    assert len(still) > 500
    out = street_coverage(CROSS, still)
    assert not out["covered"].any()
    # Seventeen minutes of white 8 m scatter (harsher than a real phone's drifting error)
    # look like movement a couple of times: a few tens of metres, never a street.
    assert out["share"].max() <= 0.15


def test_jump_is_cleaned_before_it_counts() -> None:
    walk = _track([(0, 0), (200, 0)])
    # Ten seconds the phone puts the team on the north-south street, 60-100 m away.
    jumped = walk.copy()
    jumped.loc[60:69, "geometry"] = [Point(X + 100, Y + 60 + 4 * i) for i in range(10)]
    out = street_coverage(CROSS, jumped)
    assert out["covered"].tolist() == [True, False, False]
    assert out.loc[1, "share"] == 0
    # Without cleaning (a huge speed limit) the jump would have reached the other street.
    from geo.tracks import TrackSettings

    raw = street_coverage(CROSS, jumped, settings=TrackSettings(max_speed_m_s=1e6))
    assert raw.loc[1, "share"] > 0


def test_window_and_last_visit() -> None:
    morning = _track([(0, 0), (200, 0)], start=T0)
    evening = _track([(200, 0), (0, 0)], start=T0 + pd.Timedelta(hours=9), track="b")
    both = pd.concat([morning, evening], ignore_index=True)
    out = street_coverage(CROSS, gpd.GeoDataFrame(both, crs=5897))
    last = out.loc[0, "last_visit"]
    # Walked back from x=200 to 0 from 17:00: the pass ended ~154 s after 17:00.
    assert T0 + pd.Timedelta(hours=9, seconds=140) < last < T0 + pd.Timedelta(hours=9, seconds=160)
    only_morning = street_coverage(CROSS, gpd.GeoDataFrame(both, crs=5897),
                                   end=T0 + pd.Timedelta(hours=1))  # fmt: skip
    assert only_morning.loc[0, "last_visit"] < T0 + pd.Timedelta(minutes=5)
    nothing = street_coverage(CROSS, gpd.GeoDataFrame(both, crs=5897),
                              start=T0 + pd.Timedelta(hours=20))  # fmt: skip
    assert not nothing["covered"].any() and nothing["last_visit"].isna().all()


def test_passes_count_one_at_a_time() -> None:
    # Two halves walked hours apart: each pass reached 40 % of the street, none half of it.
    west = _track([(0, 0), (80, 0)], start=T0)
    east = _track([(120, 0), (200, 0)], start=T0 + pd.Timedelta(hours=3), track="b")
    both = gpd.GeoDataFrame(pd.concat([west, east], ignore_index=True), crs=5897)
    out = street_coverage(CROSS.iloc[[0]], both)
    assert not out.loc[0, "covered"] and 0.35 < out.loc[0, "share"] < 0.5
    # One walk of the whole street is a pass of its own.
    whole = _track([(0, 0), (200, 0)], start=T0 + pd.Timedelta(hours=5), track="c")
    again = gpd.GeoDataFrame(pd.concat([both, whole], ignore_index=True), crs=5897)
    out = street_coverage(CROSS.iloc[[0]], again)
    assert out.loc[0, "covered"] and out.loc[0, "last_visit"] > T0 + pd.Timedelta(hours=5)


def test_cleaned_fixes_are_taken_as_they_are() -> None:
    walk = _track([(0, 0), (200, 0)], jitter=2)
    a = street_coverage(CROSS, walk)
    b = street_coverage(CROSS, clean_tracks(walk))
    pd.testing.assert_series_equal(a["share"], b["share"])


def test_empty_inputs_give_empty_labelled_results() -> None:
    none = _track([(0, 0), (200, 0)]).iloc[:0]
    out = street_coverage(CROSS, none)
    assert out["share"].eq(0).all() and not out["covered"].any()
    assert coverage_totals(out) == {"covered_km": 0.0, "network_km": 0.6, "share": 0.0}
    empty = street_coverage(CROSS.iloc[:0], _track([(0, 0), (200, 0)]))
    assert empty.empty and {"share", "covered", "last_visit"} <= set(empty.columns)
    assert coverage_totals(empty)["share"] == 0.0


def test_bad_arguments_are_named() -> None:
    walk = _track([(0, 0), (10, 0)])
    with pytest.raises(InputError, match="tolerance_m"):
        street_coverage(CROSS, walk, tolerance_m=0)
    with pytest.raises(InputError, match="min_share"):
        street_coverage(CROSS, walk, min_share=1.5)


def test_coverage_by_area_splits_edges_at_boundaries() -> None:
    out = street_coverage(CROSS, _track([(0, 0), (200, 0)]))
    areas = gpd.GeoDataFrame(
        {"group_id": ["west", "east", "empty"]},
        geometry=[
            shapely.box(X - 10, Y - 150, X + 100, Y + 150),
            shapely.box(X + 100, Y - 150, X + 210, Y + 150),
            shapely.box(X + 5000, Y, X + 5100, Y + 100),
        ],
        crs=5897,
    )
    by = coverage_by_area(out, areas, id_column="group_id")
    assert by.loc["west", "street_km"] == pytest.approx(0.1 + 0.1 + 0.0, abs=0.002)
    assert by.loc["west", "covered_km"] == pytest.approx(0.1, abs=0.002)
    assert by.loc["west", "share"] == pytest.approx(0.5, abs=0.01)
    assert np.isnan(by.loc["empty", "share"])
    with pytest.raises(InputError, match="zone_id"):
        coverage_by_area(out, areas, id_column="zone_id")


@settings(max_examples=25, deadline=None)
@given(
    path=st.lists(st.tuples(st.floats(-50, 250), st.floats(-120, 120)), min_size=2, max_size=6),
    jitter=st.floats(0, 15),
    tolerance=st.floats(5, 60),
)
def test_coverage_lies_in_zero_one(path: list[tuple[float, float]], jitter: float,
                                   tolerance: float) -> None:  # fmt: skip
    out = street_coverage(CROSS, _track(path, jitter=jitter), tolerance_m=tolerance)
    assert ((out["share"] >= 0) & (out["share"] <= 1)).all()
    assert (out["covered_m"] <= out["length_m"] + 1e-9).all()
    assert (out["covered"] == (out["share"] >= 0.5 - 1e-9)).all()
    totals = coverage_totals(out)
    assert 0 <= totals["share"] <= 1


# --- real data: Kim Liên ---------------------------------------------------------------------


@functools.cache
def _kim_lien(path: Path) -> tuple[gpd.GeoDataFrame, nx.MultiDiGraph]:
    streets = street_edges(load_network(path))
    return streets, network_from_edges(streets)


@pytest.mark.realdata
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_kim_lien_noisy_walk_is_credited_to_its_streets(
    kim_lien_osm: Path, kim_lien_ward: Path, seed: int
) -> None:
    streets, graph = _kim_lien(kim_lien_osm)
    ward = gpd.read_file(kim_lien_ward).to_crs(4326).geometry.iloc[0]
    nodes = np.array(list(graph.nodes))
    xy = np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in nodes])
    inside = nodes[shapely.contains_xy(ward, xy[:, 0], xy[:, 1])]
    rng = np.random.default_rng(seed)
    way = [int(n) for n in rng.choice(inside, 6, replace=False)]
    # 1 Hz, walking, phone error drifting with 6 m standard deviation.
    fixes, walked = walk_track(graph, way, begin=T0, noise_m=6.0, rng=rng)
    out = street_coverage(streets, fixes)
    on = out["street_id"].astype(str).isin(walked).to_numpy()
    credited = out["length_m"] * out["covered"]
    known = credited[on].sum() / out["length_m"][on].sum()
    rest = credited[~on].sum() / out["length_m"][~on].sum()
    assert known >= 0.95, f"walked streets credited {known:.1%}"
    assert rest < 0.02, f"other streets credited {rest:.2%}"


@pytest.mark.realdata
def test_kim_lien_walk_with_a_gps_jump_is_cleaned_first(kim_lien_osm: Path) -> None:
    streets, graph = _kim_lien(kim_lien_osm)
    nodes = list(graph.nodes)
    rng = np.random.default_rng(7)
    way = [int(n) for n in rng.choice(nodes, 4, replace=False)]
    fixes, _ = walk_track(graph, way, begin=T0, noise_m=5.0, rng=rng)
    clean = street_coverage(streets, fixes)
    # Twenty seconds the phone drifts 400 m east along whatever lies there, then snaps back.
    jumped = fixes.copy()
    metric = jumped.geometry.to_crs(5897)
    i = slice(len(jumped) // 2, len(jumped) // 2 + 20)
    jumped.loc[jumped.index[i], "geometry"] = (
        gpd.GeoSeries(metric.iloc[i].translate(xoff=400), crs=5897).to_crs(4326).to_numpy()
    )
    out = street_coverage(streets, jumped)
    extra = out["covered"] & ~clean["covered"]
    assert out.loc[extra, "length_m"].sum() < 30
    assert clean_tracks(jumped).attrs["jumps"] == 20
