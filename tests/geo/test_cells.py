"""Square and H3 cells over a study area, and counting points in them without a spatial join."""

from __future__ import annotations

import geopandas as gpd
import h3
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon, box

from geo.cells import (
    count_points,
    hex_grid,
    hex_resolution,
    lattice_weights,
    square_grid,
)
from geo.errors import InputError
from tests.conftest import KIM_LIEN_WARD, shared_file

X, Y = 585_000, 2_323_000  # EPSG:5897 metres, in Hà Nội (the grid's own metric CRS there)
# An L-shaped ward: 300 × 200 m minus the 150 × 100 m top-right corner.
L_WARD = Polygon([(X, Y), (X + 300, Y), (X + 300, Y + 100), (X + 150, Y + 100),
                  (X + 150, Y + 200), (X, Y + 200)])  # fmt: skip


def _area(geom=L_WARD, crs=5897):
    return gpd.GeoSeries([geom], crs=crs)


def _points(xy, crs=5897, **columns):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


# --- square_grid ------------------------------------------------------------------------------


def test_square_cells_cover_the_area_clipped_and_aligned_to_the_metric_lattice():
    cells = square_grid(_area(), cell_m=100)
    assert cells.crs.to_epsg() == 4326
    assert list(cells.columns) == ["cell_id", "area_m2", "share", "geometry"]
    assert cells["cell_id"].is_unique
    # 3 × 2 lattice squares overlap the L; the top-right one is cut in half, none is dropped
    assert len(cells) == 5
    assert cells["area_m2"].sum() == pytest.approx(L_WARD.area)
    cut = cells.set_index("cell_id").loc["100m_5851_23231"]
    assert cut["share"] == pytest.approx(0.5)
    metric = cells.to_crs(5897)
    # (EPSG:4326 and back shifts VN-2000 coordinates by about a millimetre)
    assert shapely.union_all(metric.geometry.to_numpy()).symmetric_difference(L_WARD).area < 1
    whole = metric[cells["share"] == 1.0]
    # whole cells sit on multiples of 100 m, whatever the area's own corner
    assert np.allclose(np.round(whole.bounds.to_numpy() / 100), whole.bounds.to_numpy() / 100)


def test_square_grid_is_the_same_whatever_the_area_crs():
    from_metric = square_grid(_area(), cell_m=50)
    from_degrees = square_grid(_area().to_crs(4326), cell_m=50)
    from_web = square_grid(_area().to_crs(3857), cell_m=50)
    assert from_degrees["cell_id"].tolist() == from_metric["cell_id"].tolist()
    assert from_web["cell_id"].tolist() == from_metric["cell_id"].tolist()
    assert np.allclose(from_degrees["area_m2"], from_metric["area_m2"], atol=0.5)  # ±1 mm edges


def test_square_grid_unions_several_polygons_and_accepts_a_bare_lon_lat_geometry():
    halves = gpd.GeoSeries([box(X, Y, X + 100, Y + 200), box(X + 100, Y, X + 200, Y + 200)],
                           crs=5897)  # fmt: skip
    assert len(square_grid(halves, cell_m=100)) == 4
    bare = _area().to_crs(4326).iloc[0]
    assert len(square_grid(bare, cell_m=100)) == 5


@pytest.mark.parametrize(
    ("area", "cell_m", "message"),
    [
        (_area(), 0, "cell_m must be a positive"),
        (_area(), float("nan"), "cell_m must be a positive"),
        (_area(), 0.01, "choose a cell of at least"),
        (gpd.GeoSeries([L_WARD]), 100, "area has no CRS"),
        (gpd.GeoSeries([Point(X, Y)], crs=5897), 100, "no polygon"),
        (L_WARD, 100, "GeoSeries with its CRS"),
    ],
)
def test_square_grid_refuses_bad_input_and_names_the_fix(area, cell_m, message):
    with pytest.raises(InputError, match=message):
        square_grid(area, cell_m=cell_m)


# --- hex_grid ---------------------------------------------------------------------------------


def test_hex_resolution_matches_the_square_of_equal_area():
    for cell_m in (30, 75, 120, 300, 900):
        res = hex_resolution(cell_m)
        side = np.sqrt(h3.average_hexagon_area(res, "m^2"))
        others = [np.sqrt(h3.average_hexagon_area(r, "m^2")) for r in (res - 1, res + 1)]
        assert all(abs(np.log(side / cell_m)) <= abs(np.log(o / cell_m)) for o in others)


def test_hex_cells_cover_the_area_once_with_their_h3_index():
    area = _area(box(X, Y, X + 1000, Y + 800))
    cells = hex_grid(area, cell_m=100)
    res = hex_resolution(100)
    assert cells.crs.to_epsg() == 4326
    assert cells.attrs["grid"] == {"kind": "hex", "resolution": res}
    assert cells["cell_id"].is_unique
    assert cells["cell_id"].tolist() == sorted(cells["cell_id"])
    assert all(h3.is_valid_cell(c) and h3.get_resolution(c) == res for c in cells["cell_id"])
    assert cells["area_m2"].sum() == pytest.approx(800_000, rel=1e-4)
    assert cells["share"].between(0, 1, inclusive="right").all()
    # every point of the area lies in exactly one cell
    inside = np.random.default_rng(0).uniform([X, Y], [X + 1000, Y + 800], (2000, 2))
    assert count_points(_points(inside), cells).sum() == 2000


# --- count_points -----------------------------------------------------------------------------


def test_count_points_skips_points_outside_the_area_even_inside_a_cut_cells_square():
    cells = square_grid(_area(), cell_m=100)
    pts = _points([(X + 10, Y + 10), (X + 20, Y + 20),  # cell 5850_23230
                   (X + 160, Y + 150),  # in the cut cell's square, but outside the L
                   (X + 120, Y + 150),  # the cut cell, inside the L
                   (X + 150, Y + 150),  # on the L's edge: inside
                   (X + 900, Y + 900)])  # fmt: skip
    counts = count_points(pts, cells).set_axis(cells["cell_id"])
    assert counts["100m_5850_23230"] == 2
    assert counts["100m_5851_23231"] == 2
    assert counts.sum() == 4
    assert counts.dtype == "int64"
    assert counts.name == "count"


def test_count_points_sums_a_weight_column_and_counts_missing_weights_as_zero():
    cells = square_grid(_area(), cell_m=100)
    pts = _points([(X + 10, Y + 10), (X + 20, Y + 20), (X + 250, Y + 50)],
                  fine=[100_000, None, 250_000])  # fmt: skip
    sums = count_points(pts, cells, weight="fine").set_axis(cells["cell_id"])
    assert sums["100m_5850_23230"] == 100_000
    assert sums["100m_5852_23230"] == 250_000
    assert sums.sum() == 350_000


@pytest.mark.parametrize("grid", [square_grid, hex_grid])
def test_count_points_is_the_same_from_any_crs_and_equals_a_spatial_join(grid):
    cells = grid(_area(), cell_m=40)
    xy = np.random.default_rng(1).uniform([X - 50, Y - 50], [X + 350, Y + 250], (3000, 2))
    pts = _points(xy)
    counts = count_points(pts, cells)
    for crs in (4326, 3857, 32648):
        assert count_points(pts.to_crs(crs), cells).tolist() == counts.tolist()
    joined = gpd.sjoin(pts.to_crs(4326), cells, predicate="within")
    expected = joined.groupby("index_right").size().reindex(cells.index, fill_value=0)
    # a point within a millimetre of a cell edge may fall either side after reprojection
    assert (counts != expected).sum() <= 2
    assert counts.sum() == shapely.contains_xy(L_WARD, xy[:, 0], xy[:, 1]).sum()


def test_count_points_falls_back_to_any_polygons_without_a_lattice():
    cells = square_grid(_area(), cell_m=100)
    plain = gpd.GeoDataFrame({"cell_id": ["a", "b", "c", "d", "e"]}, geometry=cells.geometry,
                             crs=4326)  # fmt: skip
    xy = np.random.default_rng(2).uniform([X, Y], [X + 300, Y + 200], (500, 2))
    assert count_points(_points(xy), plain).tolist() == count_points(_points(xy), cells).tolist()


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 300),
    cell_m=st.sampled_from([25.0, 40.0, 100.0, 130.0]),
    seed=st.integers(0, 10_000),
    hexagons=st.booleans(),
)
def test_every_point_in_the_area_is_counted_once(n, cell_m, seed, hexagons):
    grid = hex_grid if hexagons else square_grid
    cells = grid(_area(), cell_m=cell_m)
    xy = np.random.default_rng(seed).uniform([X - 100, Y - 100], [X + 400, Y + 300], (n, 2))
    inside = shapely.contains_xy(L_WARD, xy[:, 0], xy[:, 1]).sum() if n else 0
    assert count_points(_points(xy), cells).sum() == inside


def test_count_points_ignores_empty_geometries_and_refuses_other_shapes():
    cells = square_grid(_area(), cell_m=100)
    pts = gpd.GeoDataFrame(geometry=[Point(X + 10, Y + 10), None, Point()], crs=5897)
    assert count_points(pts, cells).sum() == 1
    with pytest.raises(InputError, match="explode"):
        count_points(gpd.GeoSeries([shapely.MultiPoint([(X, Y)])], crs=5897), cells)
    with pytest.raises(InputError, match="no CRS"):
        count_points(gpd.GeoSeries([Point(X, Y)]), cells)
    with pytest.raises(InputError, match="'fine' is not among"):
        count_points(_points([(X, Y)]), cells, weight="fine")
    with pytest.raises(InputError, match="non-numeric"):
        count_points(_points([(X, Y)], fine=["a lot"]), cells, weight="fine")


# --- lattice_weights --------------------------------------------------------------------------


def test_lattice_neighbours_are_queen_for_squares_and_six_for_hexagons():
    squares = square_grid(_area(box(X, Y, X + 300, Y + 300)), cell_m=100)
    w = lattice_weights(squares)
    by_id = dict(zip(squares["cell_id"], range(len(squares)), strict=True))
    assert w.cardinalities[by_id["100m_5851_23231"]] == 8  # the centre
    assert w.cardinalities[by_id["100m_5850_23230"]] == 3  # a corner
    hexes = hex_grid(_area(box(X, Y, X + 1000, Y + 1000)), cell_m=100)
    hw = lattice_weights(hexes)
    assert max(hw.cardinalities.values()) == 6
    assert sum(c == 6 for c in hw.cardinalities.values()) > len(hexes) / 2
    assert all(hw.neighbors[k] == sorted(hw.neighbors[k]) for k in hw.neighbors)


def test_lattice_weights_refuse_polygons_that_are_not_a_grid():
    plain = gpd.GeoDataFrame({"cell_id": ["a"]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(InputError, match="contiguity_weights"):
        lattice_weights(plain)


@pytest.mark.realdata
def test_cells_over_kim_lien_cover_the_ward():
    ward = gpd.read_file(shared_file(KIM_LIEN_WARD))
    area_m2 = ward.to_crs(5897).area.sum()
    for grid in (square_grid, hex_grid):
        cells = grid(ward, cell_m=60)
        assert cells["area_m2"].sum() == pytest.approx(area_m2, rel=1e-4)
        assert cells["cell_id"].is_unique
