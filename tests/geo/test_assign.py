"""Assignment of records to groups: inside, snapped within tolerance, outside; none dropped."""

from __future__ import annotations

from unittest.mock import patch

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box

import geo.assign as assign_module
from geo.assign import assign_to_groups, group_positions
from geo.errors import InputError

# Two 100 m-wide groups side by side near Kim Liên (1e-3° of longitude ≈ 104 m here).
GROUPS = gpd.GeoDataFrame(
    {"group_id": ["A", "B"], "zone_id": ["Z1", "Z2"], "ward_id": ["w", "w"]},
    geometry=[box(105.830, 21.000, 105.831, 21.001), box(105.831, 21.000, 105.832, 21.001)],
    crs=4326,
)


def _points(*xy):
    return gpd.GeoDataFrame(
        {"n": range(len(xy))}, geometry=[Point(p) if p else None for p in xy], crs=4326
    )


def test_inside_snapped_outside():
    pts = _points(
        (105.8305, 21.0005),  # inside A
        (105.8322, 21.0005),  # ~21 m east of B: outside the 15 m tolerance
        (105.83205, 21.0005),  # ~5 m east of B: snapped
        None,  # no position: kept, outside
    )
    out = assign_to_groups(pts, GROUPS)
    assert out["group_id"].tolist()[:1] == ["A"]
    assert out["assignment"].tolist() == ["inside", "outside", "snapped", "outside"]
    assert out["group_id"].isna().tolist() == [False, True, False, True]
    assert out.loc[2, "zone_id"] == "Z2" and out.loc[2, "ward_id"] == "w"


def test_input_is_not_mutated_and_index_and_crs_are_kept():
    pts = _points((105.8305, 21.0005), (105.8315, 21.0005)).set_index(np.array([7, 3]))
    pts = pts.to_crs(5897)
    before = pts.copy()
    out = assign_to_groups(pts, GROUPS)
    assert list(out.index) == [7, 3] and out.crs == pts.crs
    assert out["group_id"].tolist() == ["A", "B"]
    assert pts.equals(before)


def test_overlapping_groups_resolve_to_the_lowest_id_whatever_the_order():
    overlapping = GROUPS.copy()
    overlapping.loc[1, "geometry"] = box(105.8305, 21.000, 105.832, 21.001)
    pt = _points((105.8307, 21.0005))
    for frame in (overlapping, overlapping.iloc[::-1]):
        assert assign_to_groups(pt, frame)["group_id"].tolist() == ["A"]


def test_bad_arguments_are_named():
    with pytest.raises(InputError, match="zone_id"):
        assign_to_groups(_points((105.83, 21.0)), GROUPS.drop(columns="zone_id"))
    with pytest.raises(InputError, match="tolerance_m"):
        assign_to_groups(_points((105.83, 21.0)), GROUPS, tolerance_m=-1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(105.828, 105.834), st.floats(20.998, 21.003)), max_size=40))
def test_every_record_is_kept_and_labelled(coords):
    pts = _points(*coords)
    out = assign_to_groups(pts, GROUPS)
    assert len(out) == len(pts)
    assert set(out["assignment"]) <= {"inside", "snapped", "outside"}
    assert (out["group_id"].isna() == (out["assignment"] == "outside")).all()


# --- group_positions: identical to sjoin(within) with the first row winning ------------------


def _sjoin_positions(points: gpd.GeoSeries, polygons: gpd.GeoSeries) -> list[int]:
    """What a user of sjoin gets, with the tie rule made explicit: the first polygon wins."""
    left = gpd.GeoDataFrame(geometry=points.reset_index(drop=True))
    right = gpd.GeoDataFrame(geometry=polygons.reset_index(drop=True))
    joined = left.sjoin(right, how="left", predicate="within")["index_right"]
    first = joined.groupby(level=0).min()
    return first.reindex(range(len(points))).fillna(-1).astype(int).tolist()


def test_edges_vertices_holes_and_parts_follow_sjoin():
    holed = Polygon(
        [(2, 0), (4, 0), (4, 2), (2, 2)], [[(2.5, 0.5), (3.5, 0.5), (3.5, 1.5), (2.5, 1.5)]]
    )
    polygons = gpd.GeoSeries(
        [
            box(0, 0, 1, 1),
            box(1, 0, 2, 1),  # shares the edge x = 1 with the first
            holed,
            MultiPolygon([box(5, 0, 6, 1), box(7, 0, 8, 1)]),
            None,
            Polygon(),
            box(0.5, 0, 1.5, 1),  # overlaps the first two: never first
        ]
    )
    points = gpd.GeoSeries(
        [
            Point(0.5, 0.5),  # inside 0 (and 6): 0 wins
            Point(1, 0.5),  # on the shared edge, but inside 6
            Point(1, 1),  # a vertex of 0 and 1, on the edge of 6
            Point(1.25, 0.5),  # inside 1 and 6: 1 wins
            Point(3, 1),  # in the hole
            Point(2.5, 1),  # on the hole's edge
            Point(3, 1.75),  # in the holed polygon
            Point(7.5, 0.5),  # in the second part of 3
            Point(6.5, 0.5),  # between the parts
            None,
            Point(),
            Point(9, 9),
        ]
    )
    expected = [0, 6, -1, 1, -1, -1, 2, 3, -1, -1, -1, -1]
    assert _sjoin_positions(points, polygons) == expected
    for method in ("grid", "tree", "auto"):
        assert group_positions(points, polygons, method=method).tolist() == expected


def test_result_is_indexed_like_the_points_and_polygons_are_brought_to_their_crs():
    points = gpd.GeoSeries([Point(105.8305, 21.0005), Point(105.8315, 21.0005)], crs=4326)
    points.index = [7, 3]
    out = group_positions(points.to_crs(5897), GROUPS, method="grid")
    assert out.index.tolist() == [7, 3] and out.tolist() == [0, 1] and out.dtype == "int64"


def test_invalid_polygons_fall_back_to_geos_for_every_point():
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    polygons = gpd.GeoSeries([bowtie, box(3, 0, 4, 1)])
    points = gpd.GeoSeries([Point(1.5, 1), Point(0.5, 1), Point(3.5, 0.5), Point(1, 1)])
    expected = _sjoin_positions(points, polygons)
    assert group_positions(points, polygons, method="grid").tolist() == expected


def test_an_unknown_method_is_named():
    with pytest.raises(InputError, match="method"):
        group_positions(_points((105.83, 21.0)).geometry, GROUPS, method="fast")  # type: ignore[arg-type]


def _dense_case(degrees: bool) -> tuple[gpd.GeoSeries, gpd.GeoSeries]:
    """Shapes with reflex corners, holes, overlaps (the container first) and a T-junction,
    and 6,000 points around their vertices and edges, some exactly on them."""
    ell = Polygon([(0, 0), (3, 0), (3, 1), (1, 1), (1, 3), (0, 3)])
    polygons = gpd.GeoSeries(
        [
            box(4, 0, 9, 5),  # holds the next two: the lowest position wherever they are
            box(5, 1, 6, 2).union(box(6, 1, 7, 2)).union(box(6, 2, 7, 3)),  # an L of boxes
            box(7, 3, 8, 4),  # meets the L at its corner (7, 3)
            ell,
            box(0, 4, 3, 7).difference(box(1, 5, 2, 6)),  # a hole
            box(3, 4, 4, 5),  # shares (3, 4)-(3, 5) with the holed box: a T-junction
            MultiPolygon([box(0, 8, 1, 9), box(1, 9, 2, 10)]),  # parts touching at a vertex
        ]
    )
    rng = np.random.default_rng(0)
    corners = shapely.get_coordinates(polygons.to_numpy())
    outline = shapely.union_all(shapely.boundary(polygons.to_numpy()))
    along = shapely.get_coordinates(
        shapely.line_interpolate_point(outline, rng.random(2_000), normalized=True)
    )
    xy = np.vstack(
        [
            corners[rng.integers(0, len(corners), 3_000)] + rng.uniform(-0.4, 0.4, (3_000, 2)),
            along + rng.uniform(-0.2, 0.2, (2_000, 2)),
            along[:500],  # on an edge, or within a rounding of it
            corners,
        ]
    )
    points = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]))
    if degrees:
        move = dict(xfact=1e-3, yfact=1e-3, origin=(0, 0))
        polygons = polygons.scale(**move).translate(105.8, 21.0)
        points = points.scale(**move).translate(105.8, 21.0)
    return points, polygons


@pytest.mark.parametrize("degrees", [False, True])
@pytest.mark.parametrize("cells", [16, 256, 4_096])
def test_dense_points_around_corners_and_edges_follow_sjoin(cells, degrees):
    points, polygons = _dense_case(degrees)
    with patch.object(assign_module, "_cells", lambda n: cells):
        got = group_positions(points, polygons, method="grid").tolist()
    assert got == _sjoin_positions(points, polygons)


def _fan(rng: np.random.Generator) -> gpd.GeoSeries:
    """Polygons around one vertex (0, 0), in random order: sectors whose far sides dip in (so
    the wedge of their corner covers cells they do not hold), with short and long edges at the
    vertex, overlapping where a sector spans more than half a turn."""
    k = int(rng.integers(3, 6))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    rays = np.where(rng.random(k) < 0.3, rng.uniform(0.05, 0.3, k), rng.uniform(1, 4, k))
    shapes = []
    for i in range(k):
        start, end = angles[i], angles[(i + 1) % k] + (2 * np.pi if i == k - 1 else 0)
        dips = int(rng.integers(0, 4))
        ring = [(0.0, 0.0), (rays[i] * np.cos(start), rays[i] * np.sin(start))]
        for t, r in zip(
            np.sort(rng.uniform(start, end, dips)), rng.uniform(0.2, 4, dips), strict=True
        ):
            ring.append((r * np.cos(t), r * np.sin(t)))
        last = rays[(i + 1) % k]
        ring.append((last * np.cos(end), last * np.sin(end)))
        shape = Polygon(ring)
        if shape.is_valid and shape.area > 0:
            shapes.append(shape)
    return gpd.GeoSeries([shapes[i] for i in rng.permutation(len(shapes))])


def test_points_around_a_shared_vertex_follow_sjoin():
    # seeded rather than drawn by hypothesis: each case needs thousands of points; these 48
    # fans catch each of the subtle ways the corner logic can go wrong (found by mutating it)
    for seed in range(48):
        rng = np.random.default_rng(seed)
        polygons = _fan(rng)
        xy = rng.uniform(-4, 4, (3_000, 2)) * rng.uniform(0.1, 1, (3_000, 1))  # dense near it
        points = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]))
        expected = _sjoin_positions(points, polygons)
        for cells in (64, 256, 1_024, 4_096):
            with patch.object(assign_module, "_cells", lambda n, c=cells: c):
                got = group_positions(points, polygons, method="grid").tolist()
            assert got == expected, (seed, cells)


_LATTICE = st.integers(0, 8)


@st.composite
def _shapes(draw: st.DrawFn) -> list[object]:
    """A few polygons on a small lattice: coverages with T-junctions, overlaps, holes, parts."""
    if draw(st.booleans()):
        # unit boxes, some merged with a neighbour (into bars and L shapes): shared edges,
        # convex and reflex corners, and T-junctions where a merged box meets two others
        n = draw(st.integers(1, 4))
        cells: list[object] = [box(i, j, i + 1, j + 1) for i in range(n) for j in range(n)]
        for k, step in draw(
            st.lists(st.tuples(st.integers(0, n * n - 1), st.sampled_from([1, n])), max_size=4)
        ):
            if k + step < len(cells) and cells[k] is not None and cells[k + step] is not None:
                cells[k] = shapely.union(cells[k], cells[k + step])
                cells[k + step] = None
        return [c for c in cells if c is not None]
    shapes: list[object] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["box", "triangle", "ell", "holed", "parts", "none", "empty"]))
        x0, y0 = draw(_LATTICE), draw(_LATTICE)
        w, h = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        if kind == "box":
            shapes.append(box(x0, y0, x0 + w, y0 + h))
        elif kind == "triangle":
            tri = Polygon(
                [(x0, y0), (draw(_LATTICE), draw(_LATTICE)), (draw(_LATTICE), draw(_LATTICE))]
            )
            shapes.append(tri if tri.is_valid and tri.area > 0 else box(x0, y0, x0 + 1, y0 + 1))
        elif kind == "ell":
            shapes.append(
                Polygon([(x0, y0), (x0 + w + 1, y0), (x0 + w + 1, y0 + 1), (x0 + 1, y0 + 1),
                         (x0 + 1, y0 + h + 1), (x0, y0 + h + 1)])
            )  # fmt: skip
        elif kind == "holed":
            shapes.append(
                box(x0, y0, x0 + 4, y0 + 4).difference(box(x0 + 1, y0 + 1, x0 + 3, y0 + 2))
            )
        elif kind == "parts":
            shapes.append(
                MultiPolygon([box(x0, y0, x0 + 1, y0 + 1), box(x0 + 2, y0, x0 + 3, y0 + h)])
            )
        else:
            shapes.append(None if kind == "none" else Polygon())
    return shapes


@st.composite
def _cases(draw: st.DrawFn) -> tuple[gpd.GeoSeries, gpd.GeoSeries, int]:
    polygons = gpd.GeoSeries(draw(_shapes()))
    outlines = [shapely.boundary(p) for p in polygons.dropna() if not p.is_empty]
    corners = [tuple(c) for c in shapely.get_coordinates(polygons.dropna().to_numpy())]
    half = st.integers(-2, 26).map(lambda v: v / 2)
    near = st.floats(-0.4, 0.4)
    picks = [
        st.tuples(half, half),  # lattice and half-lattice: on edges, vertices, midpoints
        st.tuples(st.floats(-1, 13), st.floats(-1, 13)),
        st.sampled_from(["none", "empty"]),
    ]
    if outlines:
        picks += [
            st.sampled_from(corners),  # exactly on a vertex
            st.tuples(st.sampled_from(corners), near, near).map(
                lambda c: (c[0][0] + c[1], c[0][1] + c[2])
            ),  # around a vertex: convex and reflex corners
            st.tuples(st.sampled_from(outlines), st.floats(0, 1), near, near).map(
                lambda c: tuple(
                    shapely.get_coordinates(
                        shapely.line_interpolate_point(c[0], c[1], normalized=True)
                    )[0]
                    + (c[2], c[3])
                )
            ),  # around an edge, often inside another polygon
        ]
    raw = draw(st.lists(st.one_of(picks), min_size=1, max_size=60))
    points = gpd.GeoSeries(
        [None if p == "none" else Point() if p == "empty" else Point(p) for p in raw]
    )
    if draw(st.booleans()):  # the same shapes in degrees near Hà Nội: coordinates not on a lattice
        move = dict(xfact=1e-3, yfact=1e-3, origin=(0, 0))
        polygons = polygons.scale(**move).translate(105.8, 21.0)
        points = points.scale(**move).translate(105.8, 21.0)
    return points, polygons, draw(st.sampled_from([16, 256, 4_096, 100_000]))


@settings(max_examples=100, deadline=None)
@given(_cases())
def test_group_positions_are_identical_to_sjoin(case):
    points, polygons, cells = case
    expected = _sjoin_positions(points, polygons)
    # cells from coarse (most points near an edge, many GEOS tests) to fine (mostly free cells)
    with patch.object(assign_module, "_cells", lambda n: cells):
        assert group_positions(points, polygons, method="grid").tolist() == expected
    assert group_positions(points, polygons, method="tree").tolist() == expected
