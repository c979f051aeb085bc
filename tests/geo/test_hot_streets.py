"""Hot streets: segments built from street edges, records snapped and counted, ranking."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiLineString, Point

from geo.errors import InputError
from geo.hot_streets import _snap, hot_streets, segments
from geo.network import load_network, street_edges
from tests.conftest import KIM_LIEN_OSM, KIM_LIEN_WARD, shared_file

X, Y = 587_000.0, 2_324_000.0  # EPSG:5897 metres, in Hà Nội


def _line(*coords: tuple[float, float]) -> LineString:
    return LineString([(X + x, Y + y) for x, y in coords])


def _pt(x: float, y: float) -> Point:
    return Point(X + x, Y + y)


# Phố A runs west-east over 300 m in five edges (two of them 10 m long); Phố B crosses it at
# x = 120; an unnamed service lane leaves it at x = 200; a 12 m footway continues its east end.
STREETS = gpd.GeoDataFrame(
    {
        "street_id": ["a1", "a2", "a3", "a4", "a5", "b1", "b2", "s1", "f1"],
        "name": ["Phố A"] * 5 + ["Phố B"] * 2 + [None, None],
        "highway": ["tertiary"] * 5 + ["residential"] * 2 + ["service", "footway"],
    },
    geometry=[
        _line((0, 0), (10, 0)), _line((10, 0), (20, 0)), _line((20, 0), (120, 0)),
        _line((120, 0), (200, 0)), _line((200, 0), (300, 0)),
        _line((120, -80), (120, 0)), _line((120, 0), (120, 80)),
        _line((200, 0), (200, 60)), _line((300, 0), (300, 12)),
    ],
    crs=5897,
)  # fmt: skip
POINTS = gpd.GeoDataFrame(
    {"fine": [100, 200, 300, 400, 500, 600, 700, 800, None]},
    geometry=[
        _pt(50, 10), _pt(50, -29),  # Phố A, first piece (29 m away still counts)
        _pt(50, 31),  # 31 m from Phố A, 70 m from Phố B: unmatched
        _pt(150, 5), _pt(250, -20),  # Phố A, second and third pieces
        _pt(121, 40),  # Phố B, north piece
        _pt(205, 30),  # the service lane (Phố A is 30 m away)
        _pt(1000, 1000),  # far from everything
        None,  # no location
    ],
    crs=5897,
)  # fmt: skip
EXPECTED = {"a1/1": 2, "a1/2": 1, "a1/3": 1, "b1/1": 0, "b1/2": 1, "f1/1": 0, "s1/1": 1}


def _by_id(frame: gpd.GeoDataFrame, column: str) -> dict[str, object]:
    return dict(zip(frame["segment_id"], frame[column], strict=True))


def test_segments_merge_same_name_edges_and_cut_at_cross_streets():
    segs = segments(STREETS).set_index("segment_id")
    assert list(segs.index) == ["a1/1", "a1/2", "a1/3", "b1/1", "b1/2", "f1/1", "s1/1"]
    # Phố A (300 m in 5 edges) -> 3 pieces, cut at Phố B (120 m) and at the lane (200 m)
    assert segs.loc[["a1/1", "a1/2", "a1/3"], "length_m"].round(1).tolist() == [120, 80, 100]
    assert pd.isna(segs.loc["a1/1", "from_name"])  # a dead end
    assert segs.loc["a1/1", "to_name"] == "Phố B"
    assert segs.loc["a1/2", "from_name"] == "Phố B"
    assert pd.isna(segs.loc["a1/2", "to_name"])  # the lane there has no name to give
    assert segs.loc["b1/1", "to_name"] == "Phố A"
    assert segs.loc["b1/2", "from_name"] == "Phố A"
    assert segs.loc["s1/1", ["name", "named", "from_name"]].tolist() == [
        "ngõ không tên",
        False,
        "Phố A",
    ]
    assert segs.loc["f1/1", "name"] == "lối đi không tên"
    assert segs.crs.to_epsg() == 4326
    # no street is lost or counted twice
    total = STREETS.length.sum()
    assert segs.to_crs(5897).length.sum() == pytest.approx(total, rel=1e-6)


def test_segment_ids_stay_unique_for_multi_lines_and_repeated_ids():
    extra = gpd.GeoDataFrame(
        {"street_id": ["s1", "x"], "name": [None, None], "highway": ["service"] * 2},
        geometry=[
            MultiLineString([_line((500, 0), (500, 50)).coords, _line((600, 0), (600, 50)).coords]),
            _line((700, 0), (700, 30)),
        ],
        crs=5897,
    )
    segs = segments(pd.concat([STREETS, extra], ignore_index=True))
    assert segs["segment_id"].is_unique
    assert {"s1/1", "s1.2/1", "s1.3/1", "x/1"} <= set(segs["segment_id"])


def test_hot_streets_counts_every_segment_and_the_unmatched():
    before = POINTS.copy()
    hot = hot_streets(POINTS, STREETS)
    assert _by_id(hot, "count") == EXPECTED
    assert hot.attrs["unmatched"] == 3  # 31 m away, far away, no location
    assert hot["rank"].tolist() == list(range(1, len(hot) + 1))
    assert hot.crs.to_epsg() == 4326
    first = hot.set_index("segment_id").loc["a1/1"]
    assert first["per_100m"] == pytest.approx(2 / first["length_m"] * 100)
    assert POINTS.equals(before)


def test_the_cut_off_distance_is_an_argument():
    hot = hot_streets(POINTS, STREETS, max_distance_m=15)
    assert hot["count"].sum() == 4  # the records 29 m and 20 m from Phố A drop out
    assert _by_id(hot, "count")["a1/1"] == 1
    assert hot.attrs["unmatched"] == 5


def test_a_short_segment_with_one_record_does_not_top_the_list():
    one_on_footway = gpd.GeoDataFrame(geometry=[_pt(302, 8)], crs=5897)
    points = gpd.GeoDataFrame(
        geometry=[*POINTS.geometry.iloc[:2], *one_on_footway.geometry], crs=5897
    )
    hot = hot_streets(points, STREETS).set_index("segment_id")
    assert hot.loc["f1/1", "per_100m"] > hot.loc["a1/1", "per_100m"]  # 1 in 12 m vs 2 in 120 m
    assert hot.loc["a1/1", "rank"] == 1
    assert hot.loc["f1/1", "rank"] == 2


def test_results_do_not_depend_on_the_input_crs():
    in_metres = hot_streets(POINTS, STREETS)
    in_degrees = hot_streets(POINTS.to_crs(4326), STREETS.to_crs(4326))
    assert _by_id(in_degrees, "count") == _by_id(in_metres, "count")
    lengths = _by_id(in_degrees, "length_m")
    for segment_id, length in _by_id(in_metres, "length_m").items():
        assert lengths[segment_id] == pytest.approx(length, abs=0.01)
    assert in_degrees.attrs["unmatched"] == in_metres.attrs["unmatched"]


def test_weights_are_summed_and_must_be_numeric():
    hot = hot_streets(POINTS, STREETS, weight="fine")
    assert _by_id(hot, "count")["a1/1"] == 300  # 100 + 200
    bad = POINTS.assign(fine=["x"] * len(POINTS))
    with pytest.raises(InputError, match="non-numeric"):
        hot_streets(bad, STREETS, weight="fine")
    with pytest.raises(InputError, match="is not among"):
        hot_streets(POINTS, STREETS, weight="nope")


def test_bad_inputs_are_refused_with_the_fix():
    with pytest.raises(InputError, match="no CRS"):
        hot_streets(POINTS.set_crs(None, allow_override=True), STREETS)
    with pytest.raises(InputError, match="no line geometries"):
        hot_streets(POINTS, STREETS.iloc[:0])
    with pytest.raises(InputError, match="segment_m"):
        segments(STREETS, segment_m=0)


_DM = st.integers(-500, 4500).map(lambda v: v / 10)  # decimetres: GEOS misreads subnormals


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(_DM, _DM, _DM, _DM), min_size=1, max_size=12),
    st.lists(st.tuples(_DM, _DM), min_size=1, max_size=60),
    st.sampled_from([5.0, 30.0, 80.0]),
)
def test_snapping_finds_the_nearest_line_like_geos(lines, points, max_distance):
    geoms = np.array([LineString([(a, b), (c, d)]) for a, b, c, d in lines], dtype=object)
    xy = np.array(points)
    found, nearest = _snap(xy, geoms, max_distance)
    pts = shapely.points(xy)
    distance = shapely.distance(pts[:, None], geoms[None, :]).min(axis=1)
    within = np.flatnonzero(distance <= max_distance - 1e-6)
    assert set(within) <= set(found)  # every point within reach is matched ...
    assert (distance[found] <= max_distance + 1e-6).all()  # ... and only those
    got = shapely.distance(pts[found], geoms[nearest])
    np.testing.assert_allclose(got, distance[found], atol=1e-6)  # to a nearest line


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.floats(-40, 340), st.floats(-90, 90)), max_size=40))
def test_counts_add_up_and_ranks_are_a_permutation(coords):
    points = gpd.GeoDataFrame(geometry=[_pt(x, y) for x, y in coords], crs=5897)
    hot = hot_streets(points, STREETS)
    assert len(hot) == len(EXPECTED)
    assert hot["count"].sum() + hot.attrs["unmatched"] == len(points)
    assert sorted(hot["rank"]) == list(range(1, len(hot) + 1))
    assert np.isfinite(hot["score"]).all()
    assert (hot["score"].diff().dropna() <= 1e-12).all()  # sorted hottest first


@pytest.mark.realdata
def test_kim_lien_streets_become_walkable_segments():
    graph = load_network(shared_file(KIM_LIEN_OSM))
    edges = street_edges(graph, clip=gpd.read_file(shared_file(KIM_LIEN_WARD)))
    segs = segments(edges)
    assert segs["segment_id"].is_unique
    assert segs.to_crs(5897).length.sum() == pytest.approx(
        edges.to_crs(5897).length.sum(), rel=1e-4
    )
    assert segs["length_m"].max() < 1.7 * 100  # long runs are cut
    assert len(segs) < len(edges)  # short edges are merged
    named = segs[segs["named"]]
    assert (named["from_name"].notna() | named["to_name"].notna()).mean() > 0.5
    # records scattered within 10 m of the streets are all matched
    rng = np.random.default_rng(0)
    metric = edges.to_crs(5897).geometry.to_numpy()
    on = shapely.line_interpolate_point(
        metric[rng.integers(0, len(metric), 5000)], rng.random(5000), normalized=True
    )
    xy = shapely.get_coordinates(on) + rng.uniform(-7, 7, (5000, 2))
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=5897)
    hot = hot_streets(points.to_crs(4326), edges)
    assert hot.attrs["unmatched"] == 0
    assert hot["count"].sum() == 5000
