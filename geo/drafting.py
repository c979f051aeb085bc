"""Draft residential groups (tổ dân phố) and zones (khu vực) from a ward's streets.

Many wards have not digitised their groups. Given the ward polygon and its streets, this module
cuts the ward into street blocks (:func:`street_blocks`) and gathers the blocks into N contiguous
groups of about equal area, and the groups into K contiguous zones (:func:`draft_groups`), so that
group boundaries follow streets. The result is a draft for ward staff to correct, not a survey.

Method: top-down recursive bisection of the block adjacency graph (rook: blocks sharing a
boundary of positive length). Each bisection sweeps a line across the region in several
directions, takes the blocks before the line up to the target area, repairs contiguity, then
moves boundary blocks to balance the two sides; the split with the shortest cut among the
balanced ones wins. Zones are split first (weights proportional to their group counts), then
each zone into its groups, and neighbouring groups finally trade boundary blocks to even out.
Blocks larger than about a third of a group (where streets are sparse or unmapped) are first
cut by straight lines into quarter-group pieces; only there do boundaries leave the streets.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import split

from geo.config import STORAGE_CRS
from geo.crs import metric_crs
from geo.errors import InputError, TopologyError
from geo.model import conform

__all__ = ["PERSONS_PER_HOUSEHOLD", "draft_groups", "street_blocks"]

log = logging.getLogger(__name__)

#: Default persons per household, to estimate households from population. An assumption for
#: inner-city Hà Nội wards: the 2019 census counted 8,053,663 people in about 2.2 million
#: households for the whole city (≈ 3.6) and 3.5 nationally, and inner-city households are
#: smaller. Pass the ward's own figure when it is known.
PERSONS_PER_HOUSEHOLD = 3.3

#: Street faces smaller than this (m²) are slivers (traffic islands, gaps between lanes).
_MIN_BLOCK_M2 = 200.0
#: Geometries are snapped to this grid (metres) so that shared edges match exactly.
_GRID_M = 0.001
#: Blocks sharing less boundary than this (metres) are not neighbours (a corner is not an edge).
_MIN_SHARED_M = 0.01
#: Blocks larger than this share of one group's target area are cut by straight lines first.
_MAX_BLOCK_SHARE = 0.35
#: ... into pieces of about 1 / this of a group.
_PIECES_PER_GROUP = 4
#: Groups smaller than this (m²) on average are not residential groups: the target is refused.
_MIN_GROUP_M2 = 1_000.0
#: A bisection within this relative error of its target counts as balanced; among balanced
#: candidates the shortest cut wins.
_BALANCE_TOLERANCE = 0.02
#: Sweep directions tried per bisection (over a half turn for equal halves, else a full turn).
_DIRECTIONS = 8
#: The final evening-out moves a block only if it touches the receiving group along at least
#: this share of the boundary it shares with its own group (keeps groups compact).
_REFINE_MIN_CONTACT = 0.5


def street_blocks(
    ward: gpd.GeoDataFrame | gpd.GeoSeries,
    streets: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    min_block_m2: float = _MIN_BLOCK_M2,
) -> gpd.GeoDataFrame:
    """Cut the ward into street blocks: the faces of its streets and its boundary.

    Dead ends do not cut. Slivers smaller than ``min_block_m2`` (traffic islands, gaps between
    parallel lanes) are merged into the neighbour with which they share the longest boundary.
    The blocks tile the ward: they do not overlap and their union is the ward.

    Parameters
    ----------
    ward
        The ward polygon(s), any CRS (several rows are merged).
    streets
        Street lines, any CRS, e.g. from :func:`geo.network.street_edges`. May be empty.
    min_block_m2
        Blocks smaller than this (m²) are merged into a neighbour.

    Returns
    -------
    geopandas.GeoDataFrame
        ``block_id`` (0, 1, ...), ``area_m2`` and Polygon ``geometry``, in EPSG:4326.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, box
    >>> ward = gpd.GeoSeries([box(105.830, 21.000, 105.832, 21.002)], crs=4326)
    >>> cross = gpd.GeoSeries([LineString([(105.831, 20.999), (105.831, 21.003)]),
    ...                        LineString([(105.829, 21.001), (105.833, 21.001)])], crs=4326)
    >>> len(street_blocks(ward, cross))
    4
    """
    _check_frames(ward, streets)
    if min_block_m2 < 0:
        raise InputError(f"min_block_m2 is {min_block_m2}; give an area in m² of 0 or more.")
    crs = metric_crs(ward)
    area = _ward_area(ward, crs)
    blocks = _blocks(area, _street_lines(streets, crs), min_block_m2)
    frame = gpd.GeoDataFrame(
        {"block_id": np.arange(len(blocks)), "area_m2": shapely.area(blocks)},
        geometry=blocks,
        crs=crs,
    )
    return frame.to_crs(STORAGE_CRS)


def draft_groups(
    ward: gpd.GeoDataFrame | gpd.GeoSeries,
    streets: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    n_groups: int,
    n_zones: int,
    ward_id: str,
    population: int | None = None,
    persons_per_household: float = PERSONS_PER_HOUSEHOLD,
    seed: int = 0,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Draft ``n_groups`` contiguous groups in ``n_zones`` contiguous zones, along streets.

    Groups have about equal area; each is one polygon (if the ward is in one piece), they do
    not overlap, and together they cover the ward. Zones are unions of neighbouring groups,
    with group counts as equal as possible (92 groups in 3 zones: 31, 31, 30). Numbering
    follows the order of the splits, so neighbouring numbers are mostly neighbouring groups.

    Parameters
    ----------
    ward
        The ward polygon(s), any CRS.
    streets
        Street lines, any CRS, e.g. ``geo.network.street_edges(graph, clip=ward)``.
    n_groups
        Number of groups N.
    n_zones
        Number of zones K, at most N.
    ward_id
        The ward's id, used in the group and zone ids (``f"{ward_id}-G01"``, ``f"{ward_id}-Z1"``).
    population
        Total population to share among the groups in proportion to area, or None.
    persons_per_household
        Households are estimated as population / this.
    seed
        Seeds the sweep directions: the same inputs and seed give the same draft.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        ``(groups, zones)`` in the ``groups`` and ``zones`` schemas of :mod:`geo.model`, in
        EPSG:4326. ``valid_from``/``valid_to`` are left empty for the store to set.

    Raises
    ------
    InputError
        When N or K is impossible (K > N, N < 1, groups smaller than 1,000 m² on average) or an
        argument is malformed.
    TopologyError
        When the ward polygon is too broken to cut into blocks.
    """
    _check_frames(ward, streets)
    problems = _check_targets(n_groups, n_zones, ward_id, population, persons_per_household)
    if problems:
        raise InputError("Cannot draft groups:\n- " + "\n- ".join(problems))
    crs = metric_crs(ward)
    area = _ward_area(ward, crs)
    if area.area / n_groups < _MIN_GROUP_M2:
        raise InputError(
            f"n_groups={n_groups} would make groups of {area.area / n_groups:,.0f} m² on average "
            f"in a ward of {area.area:,.0f} m²; a group needs at least {_MIN_GROUP_M2:,.0f} m². "
            f"Give at most {int(area.area // _MIN_GROUP_M2)} groups."
        )

    target = area.area / n_groups
    blocks = _blocks(area, _street_lines(streets, crs), _MIN_BLOCK_M2)
    blocks = _split_large(blocks, area, target)
    graph = _graph(blocks)
    rng = np.random.default_rng(seed)
    per_zone = [n_groups // n_zones + (1 if z < n_groups % n_zones else 0) for z in range(n_zones)]
    zones = _partition(graph, list(range(len(blocks))), per_zone, rng)
    groups = [
        _refine(graph, _partition(graph, zone, [1] * n, rng))
        for zone, n in zip(zones, per_zone, strict=True)
    ]

    group_geoms = [_union(blocks[members]) for zone in groups for members in zone]
    zone_geoms = [
        _union(np.array(group_geoms[start : start + n], dtype=object))
        for start, n in zip(np.cumsum([0, *per_zone[:-1]]), per_zone, strict=True)
    ]
    _check_single_part(group_geoms)
    return _assemble(
        group_geoms, zone_geoms, per_zone, crs, ward_id, population, persons_per_household
    )


# --- checks ----------------------------------------------------------------------------------


def _check_frames(
    ward: gpd.GeoDataFrame | gpd.GeoSeries, streets: gpd.GeoDataFrame | gpd.GeoSeries
) -> None:
    for what, frame in (("ward", ward), ("streets", streets)):
        if not isinstance(frame, gpd.GeoDataFrame | gpd.GeoSeries):
            raise InputError(f"{what} must be a GeoDataFrame or GeoSeries, not {type(frame)}.")
        if frame.crs is None:
            raise InputError(f"{what} has no CRS; set it (EPSG:4326 for longitude/latitude).")
    polygons = ward.geometry[ward.geometry.notna() & ~ward.geometry.is_empty]
    if polygons.empty or not polygons.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise InputError("ward must hold the ward's polygon(s); got no polygon.")


def _check_targets(
    n_groups: int, n_zones: int, ward_id: str, population: int | None, persons: float
) -> list[str]:
    problems = []
    for name, value in (("n_groups", n_groups), ("n_zones", n_zones)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            problems.append(f"{name} is {value!r}; give a whole number of 1 or more.")
    if not problems and n_zones > n_groups:
        problems.append(
            f"n_zones={n_zones} exceeds n_groups={n_groups}: every zone needs at least one "
            "group; lower n_zones or raise n_groups."
        )
    if not isinstance(ward_id, str) or not ward_id.strip():
        problems.append(f"ward_id is {ward_id!r}; give the ward's id, e.g. 'kim-lien'.")
    if population is not None and (
        isinstance(population, bool)
        or not isinstance(population, int | np.integer)
        or population < 0
    ):
        problems.append(f"population is {population!r}; give a whole number of 0 or more, or None.")
    if not persons > 0:
        problems.append(f"persons_per_household is {persons!r}; give a positive number.")
    return problems


# --- blocks ----------------------------------------------------------------------------------


def _ward_area(ward: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS) -> BaseGeometry:
    geoms = ward.to_crs(crs).geometry
    area = shapely.union_all(shapely.make_valid(geoms[geoms.notna()].to_numpy()), grid_size=_GRID_M)
    polygons = [p for p in shapely.get_parts(area) if p.geom_type == "Polygon"]
    if not polygons:
        raise InputError("The ward polygon is empty after repair; check its geometry.")
    return shapely.union_all(polygons, grid_size=_GRID_M)


def _street_lines(streets: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS) -> np.ndarray:
    if len(streets) == 0:
        return np.array([], dtype=object)
    geoms = streets.to_crs(crs).geometry
    parts = shapely.get_parts(geoms[geoms.notna()].to_numpy())
    return parts[np.isin(shapely.get_type_id(parts), [1, 2])]  # LineString, LinearRing


def _blocks(area: BaseGeometry, lines: np.ndarray, min_block_m2: float) -> np.ndarray:
    """The faces of the streets clipped to the ward plus its boundary, slivers merged."""
    inside = shapely.intersection(lines, area) if len(lines) else lines
    edges = np.concatenate([shapely.get_parts(inside), shapely.get_parts(area.boundary)])
    noded = shapely.union_all(edges, grid_size=_GRID_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    # polygonize also fills the ward's holes (e.g. an enclave); those faces are not the ward
    shapely.prepare(area)
    faces = faces[shapely.contains(area, shapely.point_on_surface(faces))]
    if len(faces) == 0:
        raise TopologyError("Polygonising the ward's boundary gave no face; repair the polygon.")
    return _merge_slivers(faces, min_block_m2)


def _merge_slivers(faces: np.ndarray, min_area: float) -> np.ndarray:
    """Merge faces under ``min_area`` into the neighbour sharing the longest boundary."""
    areas = shapely.area(faces)
    if not (areas < min_area).any():
        return faces
    shared = _shared_lengths(faces, minimum=0.0)
    owner = np.arange(len(faces))  # union-find parent
    members = {i: [i] for i in range(len(faces))}
    total = {i: float(a) for i, a in enumerate(areas)}
    neighbours: dict[int, dict[int, float]] = {i: {} for i in range(len(faces))}
    for (i, j), length in shared.items():
        neighbours[i][j] = neighbours[i].get(j, 0.0) + length
        neighbours[j][i] = neighbours[j].get(i, 0.0) + length
    for i in np.argsort(areas, kind="stable"):
        i = int(owner[i])
        if i not in members or total[i] >= min_area or not neighbours[i]:
            continue
        j = max(neighbours[i], key=lambda k: (neighbours[i][k], -k))
        for k, length in neighbours.pop(i).items():
            neighbours[k].pop(i, None)
            if k != j:
                neighbours[j][k] = neighbours[j].get(k, 0.0) + length
                neighbours[k][j] = neighbours[k].get(j, 0.0) + length
        owner[members[i]] = j
        members[j] += members.pop(i)
        total[j] += total.pop(i)
    return np.array(
        [_union(faces[members[j]]) if len(members[j]) > 1 else faces[j] for j in sorted(members)],
        dtype=object,
    )


def _split_large(blocks: np.ndarray, area: BaseGeometry, target: float) -> np.ndarray:
    """Cut blocks larger than ``_MAX_BLOCK_SHARE`` of a group by straight lines.

    A cut block becomes pieces of about ``target / _PIECES_PER_GROUP`` each, so that a few
    pieces make a group of the right size. The cuts are noded with the block boundaries and
    polygonised again, so that pieces share their edges exactly (cutting polygons one by one
    leaves hairline cracks).
    """
    areas = shapely.area(blocks)
    large = areas > _MAX_BLOCK_SHARE * target
    if not large.any():
        return blocks
    cuts = []
    for block, block_area in zip(blocks[large], areas[large], strict=True):
        count = max(2, round(block_area * _PIECES_PER_GROUP / target))
        cuts.extend(_cut_lines(block, block_area / count))
    edges = np.concatenate([shapely.get_parts(shapely.boundary(blocks)), np.array(cuts)])
    noded = shapely.union_all(edges, grid_size=_GRID_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.contains(area, shapely.point_on_surface(faces))]
    pieces = _merge_slivers(faces, 1.0)
    log.info(
        "Cut %d of %d street blocks larger than %.0f m² (%.0f %% of a group) by %d straight "
        "lines: %d blocks now; group boundaries along those cuts do not follow streets",
        int(large.sum()),
        len(blocks),
        _MAX_BLOCK_SHARE * target,
        100 * _MAX_BLOCK_SHARE,
        len(cuts),
        len(pieces),
    )
    return pieces


def _cut_lines(polygon: Polygon, piece: float) -> list[BaseGeometry]:
    """Straight cuts dividing ``polygon`` into pieces of about ``piece`` m² each."""
    count = round(polygon.area / piece)
    if count <= 1:
        return []
    line = _dividing_line(polygon, (count // 2) / count)
    cuts: list[BaseGeometry] = []
    for part in shapely.get_parts(shapely.intersection(line, polygon)):
        if part.geom_type == "LineString" and part.length > 0:
            # overshoot by a centimetre so the cut surely crosses the edge it ends on;
            # polygonize drops the dangling overshoot
            start, end = np.asarray(part.coords)[[0, -1]]
            step = (end - start) / np.hypot(*(end - start)) * 0.01
            cuts.append(LineString([start - step, end + step]))
    for part in shapely.get_parts(split(polygon, line)):
        if part.geom_type == "Polygon":
            cuts.extend(_cut_lines(part, piece))
    return cuts


def _dividing_line(polygon: Polygon, fraction: float) -> LineString:
    """The line across the long axis of ``polygon`` with ``fraction`` of its area on one side."""
    rect = shapely.get_coordinates(shapely.oriented_envelope(polygon))[:4]
    sides = np.diff(np.vstack([rect, rect[:1]]), axis=0)[:2]
    axis = sides[np.argmax(np.hypot(*sides.T))]
    axis = axis / np.hypot(*axis)
    normal = np.array([-axis[1], axis[0]])
    coords = np.asarray(polygon.exterior.coords)
    proj = coords @ axis
    lo, hi = float(proj.min()), float(proj.max())
    reach = float(np.abs(coords @ normal).max()) + 1.0

    def below(t: float) -> Polygon:
        a, b = axis * (lo - 1.0), axis * t
        return Polygon(
            [a - normal * reach, b - normal * reach, b + normal * reach, a + normal * reach]
        )

    wanted = polygon.area * fraction
    left, right = lo, hi
    for _ in range(40):
        mid = (left + right) / 2
        if polygon.intersection(below(mid)).area < wanted:
            left = mid
        else:
            right = mid
    t = (left + right) / 2
    return LineString([axis * t - normal * reach, axis * t + normal * reach])


def _shared_lengths(polygons: np.ndarray, *, minimum: float) -> dict[tuple[int, int], float]:
    """Length of boundary shared by each pair of touching polygons (i < j)."""
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    boundaries = shapely.boundary(polygons)
    common = shapely.intersection(boundaries[left], boundaries[right], grid_size=_GRID_M)
    lengths = shapely.length(common)
    return {
        (int(i), int(j)): float(length)
        for i, j, length in zip(left, right, lengths, strict=True)
        if length > minimum
    }


def _union(polygons: np.ndarray) -> BaseGeometry:
    return shapely.union_all(polygons, grid_size=_GRID_M)


# --- partition -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Graph:
    """Blocks as a weighted graph: area, centroid, and shared boundary with each neighbour."""

    weight: np.ndarray
    xy: np.ndarray
    adj: list[dict[int, float]]


def _graph(blocks: np.ndarray) -> _Graph:
    adj: list[dict[int, float]] = [{} for _ in range(len(blocks))]
    for (i, j), length in _shared_lengths(blocks, minimum=_MIN_SHARED_M).items():
        adj[i][j] = adj[j][i] = length
    centroids = shapely.centroid(blocks)
    graph = _Graph(
        weight=shapely.area(blocks),
        xy=np.column_stack([shapely.get_x(centroids), shapely.get_y(centroids)]),
        adj=adj,
    )
    parts = _components(graph, set(range(len(blocks))))
    if len(parts) > 1:
        # A ward in several pieces: link the pieces at their closest blocks so that the
        # partition can proceed; groups spanning two pieces will be multi-part.
        log.warning("The ward's blocks form %d separate pieces; linking them", len(parts))
        main = np.array(sorted(parts[0]))
        tree = shapely.STRtree(blocks[main])
        for piece in parts[1:]:
            members = np.array(sorted(piece))
            (mine, theirs), distance = tree.query_nearest(
                blocks[members], return_distance=True, all_matches=False
            )
            a, b = int(members[mine[np.argmin(distance)]]), int(main[theirs[np.argmin(distance)]])
            adj[a][b] = adj[b][a] = _MIN_SHARED_M
    return graph


def _partition(
    graph: _Graph, nodes: list[int], units: list[int], rng: np.random.Generator
) -> list[list[int]]:
    """Split ``nodes`` into ``len(units)`` contiguous parts of weight proportional to ``units``.

    ``units[i]`` is the number of groups part i will hold, so it needs that many blocks.
    """
    if len(units) == 1:
        return [sorted(nodes)]
    half = len(units) // 2
    share = sum(units[:half]) / sum(units)
    a, b = _bisect(graph, nodes, share, need=(sum(units[:half]), sum(units[half:])), rng=rng)
    return _partition(graph, a, units[:half], rng) + _partition(graph, b, units[half:], rng)


def _bisect(
    graph: _Graph,
    nodes: list[int],
    share: float,
    *,
    need: tuple[int, int],
    rng: np.random.Generator,
) -> tuple[list[int], list[int]]:
    """Split ``nodes`` in two contiguous parts, the first of ``share`` of the weight."""
    nodes_arr = np.array(sorted(nodes))
    if len(nodes_arr) < sum(need):
        raise TopologyError(
            f"A region of {len(nodes_arr)} blocks cannot hold {sum(need)} groups; lower n_groups."
        )
    weight = graph.weight[nodes_arr]
    xy = graph.xy[nodes_arr]
    target = share * float(weight.sum())
    turn = math.pi if math.isclose(share, 0.5) else 2 * math.pi
    start = _principal_angle(xy, weight) + rng.uniform(0, turn / _DIRECTIONS)
    best: tuple[float, float, set[int], set[int]] | None = None
    for k in range(_DIRECTIONS):
        angle = start + k * turn / _DIRECTIONS
        order = nodes_arr[np.argsort(xy @ [math.cos(angle), math.sin(angle)], kind="stable")]
        cum = np.cumsum(graph.weight[order])
        cut = int(np.searchsorted(cum, target))
        if cut > 0 and abs(cum[cut - 1] - target) <= abs(cum[min(cut, len(cum) - 1)] - target):
            cut -= 1
        cut = min(max(cut + 1, need[0]), len(order) - need[1])
        a, b = _repair(graph, set(order[:cut].tolist()), set(order[cut:].tolist()))
        a, b = _rebalance(graph, a, b, target, need)
        if len(a) < need[0] or len(b) < need[1]:
            continue
        error = _error(graph, a, b, target, float(weight.sum()) - target)
        score = (max(error, _BALANCE_TOLERANCE), _cut_length(graph, a, b))
        if best is None or score < best[:2]:
            best = (*score, a, b)
    if best is None:
        raise TopologyError(
            f"Could not split a region of {len(nodes_arr)} blocks into two connected parts "
            f"holding {need[0]} and {need[1]} groups; try another seed or fewer groups."
        )
    return sorted(best[2]), sorted(best[3])


def _principal_angle(xy: np.ndarray, weight: np.ndarray) -> float:
    if len(xy) < 2 or weight.sum() <= 0:
        return 0.0
    centred = xy - np.average(xy, axis=0, weights=weight)
    cov = (centred * weight[:, None]).T @ centred
    values, vectors = np.linalg.eigh(cov)
    vx, vy = vectors[:, int(np.argmax(values))]
    return math.atan2(vy, vx)


def _components(graph: _Graph, nodes: set[int]) -> list[set[int]]:
    """Connected components of ``nodes``, heaviest first."""
    seen: set[int] = set()
    parts = []
    for start in sorted(nodes):
        if start in seen:
            continue
        part = {start}
        stack = [start]
        while stack:
            for j in graph.adj[stack.pop()]:
                if j in nodes and j not in part:
                    part.add(j)
                    stack.append(j)
        seen |= part
        parts.append(part)
    return sorted(parts, key=lambda p: (-float(graph.weight[list(p)].sum()), min(p)))


def _repair(graph: _Graph, a: set[int], b: set[int]) -> tuple[set[int], set[int]]:
    """Make both sides connected: stray pieces of one side join the other."""
    pieces = _components(graph, a)
    a = pieces[0] if pieces else set()
    for piece in pieces[1:]:
        b = b | piece
    pieces = _components(graph, b)
    b = pieces[0] if pieces else set()
    for piece in pieces[1:]:
        a = a | piece
    return a, b


def _rebalance(
    graph: _Graph, a: set[int], b: set[int], target: float, need: tuple[int, int]
) -> tuple[set[int], set[int]]:
    """Move boundary blocks from the heavier side while that brings ``a`` closer to target."""
    weight_a = float(graph.weight[list(a)].sum()) if a else 0.0
    for _ in range(len(a) + len(b)):
        excess = weight_a - target
        if abs(excess) <= 1e-3 * target:
            break
        giver, taker, floor = (a, b, need[0]) if excess > 0 else (b, a, need[1])
        if len(giver) <= floor:
            break
        moves = []
        for v in giver:
            if not 0 < graph.weight[v] < 2 * abs(excess):
                continue
            towards = sum(length for j, length in graph.adj[v].items() if j in taker)
            if towards > 0:
                within = sum(length for j, length in graph.adj[v].items() if j in giver)
                moves.append((within - towards, -graph.weight[v], v))
        moved = None
        for *_, v in sorted(moves):
            if _stays_connected(graph, giver, v):
                moved = v
                break
        if moved is None:
            break
        giver.discard(moved)
        taker.add(moved)
        weight_a += -graph.weight[moved] if excess > 0 else graph.weight[moved]
    return a, b


def _refine(graph: _Graph, parts: list[list[int]]) -> list[list[int]]:
    """Even out neighbouring groups: move a boundary block from the larger to the smaller.

    Each move lowers the sum of squared group areas, so the loop ends; groups stay connected.
    """
    sets = [set(p) for p in parts]
    owner = {v: i for i, p in enumerate(sets) for v in p}
    totals = [float(graph.weight[list(p)].sum()) for p in sets]
    for _ in range(50 * len(sets)):
        moves = []
        for v, g in owner.items():
            if len(sets[g]) == 1:
                continue
            towards: dict[int, float] = {}
            within = 0.0
            for j, length in graph.adj[v].items():
                h = owner.get(j)
                if h == g:
                    within += length
                elif h is not None:
                    towards[h] = towards.get(h, 0.0) + length
            w = float(graph.weight[v])
            for h, length in towards.items():
                gap = totals[g] - totals[h]
                if 0 < w < gap and length >= _REFINE_MIN_CONTACT * within:
                    moves.append((-w * (gap - w), within - length, v, g, h))
        moved = False
        for *_, v, g, h in sorted(moves):
            if _stays_connected(graph, sets[g], v):
                sets[g].discard(v)
                sets[h].add(v)
                owner[v] = h
                totals[g] -= float(graph.weight[v])
                totals[h] += float(graph.weight[v])
                moved = True
                break
        if not moved:
            break
    return [sorted(p) for p in sets]


def _stays_connected(graph: _Graph, nodes: set[int], removed: int) -> bool:
    inside = [j for j in graph.adj[removed] if j in nodes]
    if len(inside) <= 1:
        return True
    rest = nodes - {removed}
    reached = {inside[0]}
    stack = [inside[0]]
    goal = set(inside)
    while stack and not goal <= reached:
        for j in graph.adj[stack.pop()]:
            if j in rest and j not in reached:
                reached.add(j)
                stack.append(j)
    return goal <= reached


def _error(graph: _Graph, a: set[int], b: set[int], target_a: float, target_b: float) -> float:
    wa = float(graph.weight[list(a)].sum())
    wb = float(graph.weight[list(b)].sum())
    return max(abs(wa - target_a) / target_a, abs(wb - target_b) / target_b)


def _cut_length(graph: _Graph, a: set[int], b: set[int]) -> float:
    small, other = (a, b) if len(a) <= len(b) else (b, a)
    return sum(length for v in small for j, length in graph.adj[v].items() if j in other)


# --- assembly --------------------------------------------------------------------------------


def _check_single_part(groups: Sequence[BaseGeometry]) -> None:
    multi = [i + 1 for i, g in enumerate(groups) if g.geom_type != "Polygon"]
    if multi:
        log.warning("Groups %s are in several parts (the ward is in several pieces)", multi)


def _shares(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` in proportion to ``weights`` into whole numbers that add up to it."""
    exact = total * weights / weights.sum()
    whole = np.floor(exact).astype(int)
    short = total - int(whole.sum())
    whole[np.argsort(-(exact - whole), kind="stable")[:short]] += 1
    return whole


def _assemble(
    group_geoms: list[BaseGeometry],
    zone_geoms: list[BaseGeometry],
    per_zone: list[int],
    crs: CRS,
    ward_id: str,
    population: int | None,
    persons_per_household: float,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    n = len(group_geoms)
    width = max(2, len(str(n)))
    zone_ids = [f"{ward_id}-Z{z + 1}" for z in range(len(per_zone))]
    areas = shapely.area(np.array(group_geoms, dtype=object))
    people: pd.Series = pd.Series(pd.NA, index=range(n), dtype="Int64")
    households = people.copy()
    if population is not None:
        people[:] = _shares(int(population), areas)
        households[:] = np.round(people.to_numpy(dtype=float) / persons_per_household)
    groups = gpd.GeoDataFrame(
        {
            "group_id": [f"{ward_id}-G{i + 1:0{width}d}" for i in range(n)],
            "zone_id": np.repeat(zone_ids, per_zone),
            "ward_id": ward_id,
            "name": [f"Tổ dân phố số {i + 1}" for i in range(n)],
            "population": people.to_numpy(),
            "households": households.to_numpy(),
        },
        geometry=group_geoms,
        crs=crs,
    )
    zones = gpd.GeoDataFrame(
        {
            "zone_id": zone_ids,
            "ward_id": ward_id,
            "name": [f"Khu vực {z + 1}" for z in range(len(per_zone))],
        },
        geometry=zone_geoms,
        crs=crs,
    )
    return conform("groups", groups), conform("zones", zones)
