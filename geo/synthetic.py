"""A synthetic demo ward: an irregular ward polygon and a Hà Nội-like street network.

The project ships no real boundaries, so the demo draws its own ward. The streets follow the
hierarchy of an inner Hà Nội ward: a few wavy arterial roads (phố, đường) cut the area into
superblocks; lanes (ngõ) cross each superblock from one arterial to the next, and alleys
(ngách) link neighbouring lanes, so that the network closes into hundreds of blocks of
0.2–1.5 ha. Like a real ward, the boundary runs along street centrelines: it is the union of
the blocks whose centre falls inside a smooth random radial shape, scaled to the requested area.
The streets extend about 100 m beyond the ward, like an extract, and come noded: one row per
piece between two junctions, pieces meeting at identical end coordinates.

Every name is fictional (the arterials carry the suffix "Mẫu", *sample*) and the ward is
labelled synthetic, so nobody takes it for a real place.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from geo.crs import metric_crs
from geo.errors import InputError
from geo.model import conform

__all__ = [
    "DEMO_POPULATION",
    "DEMO_WARD_ID",
    "DEMO_WARD_NAME",
    "EXTRACT_MARGIN_M",
    "synthetic_ward",
]

logger = logging.getLogger(__name__)

DEMO_WARD_ID = "demo"
DEMO_WARD_NAME = "Phường Mẫu (dữ liệu tổng hợp)"
#: About Kim Liên's published figure ("more than 101,000 residents").
DEMO_POPULATION = 101_240
#: The streets reach this far beyond the ward, like a real extract.
EXTRACT_MARGIN_M = 100.0
#: The ward takes its present shape in the 1 July 2025 reform, like every Hà Nội ward.
_VALID_FROM = "2025-07-01"

#: Fictional arterial names; the suffix "Mẫu" (sample) marks them as not real.
_ARTERIAL_NAMES = (
    "Phố Hoa Sữa Mẫu",
    "Đường Sông Hồng Mẫu",
    "Phố Bằng Lăng Mẫu",
    "Đường Cây Gạo Mẫu",
    "Phố Hoa Phượng Mẫu",
    "Phố Sấu Non Mẫu",
    "Đường Tre Xanh Mẫu",
    "Phố Hoa Ban Mẫu",
)
_PRIORITY = {"arterial": 0, "lane": 1, "alley": 2}
#: Noding snaps to this grid, so an end that stops on a street (to rounding error) joins it.
_GRID_M = 0.01
_MIN_SUPERBLOCK_M2 = 4_000.0


@dataclass(frozen=True)
class _Line:
    """A street before noding, in the local metric frame."""

    geometry: LineString
    kind: str  # "arterial" | "lane" | "alley"
    name: str
    highway: str


def synthetic_ward(
    *,
    seed: int = 0,
    area_km2: float = 2.4,
    center: tuple[float, float] = (105.835, 21.006),
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Generate a synthetic ward and its street network.

    Parameters
    ----------
    seed
        Seed of the random generator; the same seed gives identical frames.
    area_km2
        Target area of the ward (the result is within about 1 % of it).
    center
        Longitude and latitude (EPSG:4326) of the ward's centre.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        ``(ward, streets)`` in EPSG:4326, conforming to ``SCHEMAS["wards"]`` (one row,
        ward_id ``"demo"``, ``synthetic`` true) and ``SCHEMAS["streets"]`` (one LineString per
        piece between junctions, noded).

    Examples
    --------
    >>> ward, streets = synthetic_ward(seed=1)
    >>> ward.loc[0, "ward_id"], bool(ward.loc[0, "synthetic"]), len(streets) > 1000
    ('demo', True, True)
    """
    lon, lat = center
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(
            f"center={center!r} is not a (longitude, latitude) pair in degrees; "
            "pass e.g. center=(105.835, 21.006)."
        )
    if not 0.2 <= area_km2 <= 20:
        raise InputError(
            f"area_km2={area_km2!r} is outside 0.2–20 km², the size of an urban ward; "
            "pass e.g. area_km2=2.4."
        )
    rng = np.random.default_rng(seed)
    target_m2 = area_km2 * 1e6
    radius = math.sqrt(target_m2 / math.pi)

    shape = _radial_shape(rng, radius)
    extent = Point(0, 0).buffer(radius * 1.4 + 350, quad_segs=32)
    lines = _arterials(rng, radius, extent)
    lines += _lanes_and_alleys(rng, lines, extent)
    segments = _node(lines)
    ward_poly, n_blocks = _ward_from_blocks(segments, shape, target_m2)
    streets_local = _clip(segments, ward_poly.buffer(EXTRACT_MARGIN_M))

    crs = metric_crs(gpd.GeoSeries([Point(lon, lat)], crs="EPSG:4326"))
    origin = gpd.GeoSeries([Point(lon, lat)], crs="EPSG:4326").to_crs(crs).iloc[0]
    ward = _assemble_ward(ward_poly, origin, crs)
    streets = _assemble_streets(streets_local, origin, crs)
    logger.info(
        "synthetic ward (seed %d): %.2f km², %d blocks, %d street pieces",
        seed,
        ward_poly.area / 1e6,
        n_blocks,
        len(streets),
    )
    return ward, streets


def _radial_shape(rng: np.random.Generator, radius: float) -> Polygon:
    """A smooth star-shaped polygon of area pi * radius**2 (a few low harmonics)."""
    theta = np.linspace(0, 2 * np.pi, 256, endpoint=False)
    r = np.ones_like(theta)
    for k in range(2, 6):
        r += rng.uniform(0.03, 0.11) / math.sqrt(k - 1) * np.cos(k * theta + rng.uniform(0, 6.3))
    poly = Polygon(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
    return affinity.scale(poly, radius, radius, origin=(0, 0))


def _wavy(
    rng: np.random.Generator, origin: np.ndarray, angle: float, half_length: float
) -> LineString:
    """A straight road bent by a gentle sine: roads in old Hà Nội are rarely ruler-straight."""
    s = np.arange(-half_length, half_length + 1, 40.0)
    amp, wavelength, phase = rng.uniform(8, 25), rng.uniform(700, 1400), rng.uniform(0, 6.3)
    d = np.array([math.cos(angle), math.sin(angle)])
    n = np.array([-d[1], d[0]])
    off = amp * np.sin(2 * np.pi * s / wavelength + phase)
    return LineString(origin + np.outer(s, d) + np.outer(off, n))


def _arterials(rng: np.random.Generator, radius: float, extent: Polygon) -> list[_Line]:
    """Three roughly north-south and two or three roughly east-west roads, one maybe diagonal."""
    base = rng.uniform(-0.35, 0.35)  # the grid of a ward is rarely aligned with north
    half = radius * 2 + 500
    specs: list[tuple[np.ndarray, float]] = []
    for frac in (-0.6, 0.0, 0.55):
        u = (frac + rng.uniform(-0.1, 0.1)) * radius
        specs.append((np.array([u, 0.0]), math.pi / 2 + rng.uniform(-0.15, 0.15)))
    for frac in (-0.5, 0.4):
        v = (frac + rng.uniform(-0.1, 0.1)) * radius
        specs.append((np.array([0.0, v]), rng.uniform(-0.15, 0.15)))
    if rng.random() < 0.6:
        specs.append(
            (rng.uniform(-0.2, 0.2, 2) * radius, rng.choice([1, -1]) * rng.uniform(0.6, 0.9))
        )
    names = rng.permutation(_ARTERIAL_NAMES)
    rot = np.array([[math.cos(base), -math.sin(base)], [math.sin(base), math.cos(base)]])
    out = []
    for i, (origin, angle) in enumerate(specs):
        line = _wavy(rng, rot @ origin, angle + base, half)
        highway = "primary" if i in (1, 3) else "secondary"
        inside = max(_line_parts(line.intersection(extent)), key=lambda g: g.length)
        out.append(_Line(inside, "arterial", str(names[i]), highway))
    return out


def _lanes_and_alleys(
    rng: np.random.Generator, arterials: list[_Line], extent: Polygon
) -> list[_Line]:
    """Fill every superblock between arterials with lanes, and link the lanes with alleys."""
    art_geoms = [a.geometry for a in arterials]
    mesh = shapely.union_all([*art_geoms, extent.exterior])
    superblocks = [
        p
        for p in shapely.get_parts(shapely.polygonize(shapely.get_parts(mesh)))
        if p.area >= _MIN_SUPERBLOCK_M2
    ]
    art_tree = shapely.STRtree(art_geoms)
    numbers: dict[str, set[int]] = {}
    out: list[_Line] = []
    for block in sorted(superblocks, key=lambda p: (round(p.centroid.x), round(p.centroid.y))):
        out += _fill_superblock(rng, block, arterials, art_tree, numbers)
    return out


def _fill_superblock(
    rng: np.random.Generator,
    block: Polygon,
    arterials: list[_Line],
    art_tree: shapely.STRtree,
    numbers: dict[str, set[int]],
) -> list[_Line]:
    """Lanes across the superblock's short side, alleys between neighbouring lanes.

    The superblock is turned so that its long axis is x; lanes are then near-vertical
    polylines x = f(y), which lets each alley find the exact x of the lanes it joins.
    """
    rect = block.minimum_rotated_rectangle
    xy = shapely.get_coordinates(rect)[:4]
    edges = np.diff(np.vstack([xy, xy[:1]]), axis=0)
    longest = edges[np.argmax(np.hypot(edges[:, 0], edges[:, 1]))]
    alpha = math.atan2(longest[1], longest[0])
    c = block.centroid
    local = affinity.rotate(block, -alpha, origin=c, use_radians=True)
    x0, y0, x1, y1 = local.bounds

    def back(line: LineString) -> LineString:
        return affinity.rotate(line, alpha, origin=c, use_radians=True)

    ys = np.linspace(y0 - 60, y1 + 60, 5)
    lane_fns: list[tuple[np.ndarray, np.ndarray]] = []
    out: list[_Line] = []
    lane_named: list[tuple[str, str, LineString] | None] = []
    x = x0 + rng.uniform(30, 60)
    while x < x1 - 30:
        tilt = math.tan(rng.uniform(-0.1, 0.1))
        xs = x + tilt * (ys - ys.mean()) + np.r_[0, rng.uniform(-4, 4, 3), 0]
        lane_fns.append((ys, xs))
        geom: shapely.Geometry = LineString(np.column_stack([xs, ys]))
        if rng.random() < 0.15:  # ngõ cụt: a dead-end lane from one side
            frac = rng.uniform(0.35, 0.65)
            cut = y0 + frac * (y1 - y0)
            box = shapely.box(x0 - 100, y0 - 100, x1 + 100, cut)
            if rng.random() < 0.5:
                box = shapely.box(x0 - 100, cut, x1 + 100, y1 + 100)
            geom = shapely.intersection(geom, box)
        named = None
        for piece in _line_parts(shapely.intersection(geom, local)):
            line = back(piece)
            name, number_key = _lane_name(line, arterials, art_tree, numbers)
            highway = "tertiary" if rng.random() < 0.2 else "residential"
            out.append(_Line(line, "lane", name, highway))
            named = named or (name, number_key, line)
        lane_named.append(named)
        x += rng.uniform(55, 95)

    # Alleys in each strip between two lanes, or between a lane and the superblock's edge;
    # an alley takes the name of the lane on its left (else on its right).
    edges_fn = [(ys, np.full_like(ys, x0 - 200)), *lane_fns, (ys, np.full_like(ys, x1 + 200))]
    owners: list[tuple[str, str, LineString] | None] = [None, *lane_named, None]
    for k in range(len(edges_fn) - 1):
        (ya, xa), (yb, xb) = edges_fn[k], edges_fn[k + 1]
        left, right = owners[k], owners[k + 1]
        y = y0 + rng.uniform(20, 45)
        while y < y1 - 20:
            p = rng.random()
            if p < 0.85:
                xl, xr = float(np.interp(y, ya, xa)), float(np.interp(y, yb, xb))
                if p > 0.72:  # ngách cụt: a dead-end alley from one lane
                    span = (xr - xl) * rng.uniform(0.4, 0.7)
                    xl, xr = (xl, xl + span) if rng.random() < 0.5 else (xr - span, xr)
                geom = LineString([(xl, y), ((xl + xr) / 2, y + rng.uniform(-3, 3)), (xr, y)])
                for piece in _line_parts(geom.intersection(local)):
                    if piece.length < 15:
                        continue
                    line = back(piece)
                    if left is None and right is None:  # a superblock too narrow for lanes
                        name, _ = _lane_name(line, arterials, art_tree, numbers)
                        out.append(_Line(line, "lane", name, "residential"))
                        continue
                    owner, end = (left, 0) if left is not None else (right, -1)
                    assert owner is not None
                    name = _alley_name(Point(line.coords[end]), owner, numbers)
                    highway = "service" if rng.random() < 0.65 else "footway"
                    out.append(_Line(line, "alley", name, highway))
            y += rng.uniform(40, 80)
    return out


def _line_parts(geom: shapely.Geometry) -> list[LineString]:
    return [g for g in shapely.get_parts(geom) if isinstance(g, LineString) and g.length > 1]


def _unique_number(numbers: dict[str, set[int]], key: str, number: int) -> int:
    used = numbers.setdefault(key, set())
    while number in used:
        number += 2  # keep the side's parity: odd numbers on one side, even on the other
    used.add(number)
    return number


def _house_number(line: LineString, point: Point) -> int:
    """A Hà Nội-style house number: about one number per 4 m, odd left and even right."""
    s = line.project(point)
    a = line.interpolate(max(s - 1, 0))
    b = line.interpolate(min(s + 1, line.length))
    cross = (b.x - a.x) * (point.y - a.y) - (b.y - a.y) * (point.x - a.x)
    n = max(1, round(s / 8) * 2)
    return n + 1 if cross > 0 else n


def _lane_name(
    line: LineString,
    arterials: list[_Line],
    art_tree: shapely.STRtree,
    numbers: dict[str, set[int]],
) -> tuple[str, str]:
    """Name a lane after the arterial it starts from: "Ngõ 12 Phố Hoa Sữa Mẫu"."""
    ends = [Point(line.coords[0]), Point(line.coords[-1])]
    best = None
    for end in ends:
        found, dists = art_tree.query_nearest(end, return_distance=True)
        i, dist = int(found[0]), float(dists[0])
        if best is None or dist < best[2]:
            best = (end, i, dist)
    assert best is not None
    end, i, _ = best
    art = arterials[i]
    number = _unique_number(numbers, art.name, _house_number(art.geometry, end))
    name = f"Ngõ {number} {art.name}"
    return name, name


def _alley_name(
    end: Point, owner: tuple[str, str, LineString], numbers: dict[str, set[int]]
) -> str:
    """Name an alley after its lane: "Ngách 12/5 Phố Hoa Sữa Mẫu"."""
    lane_name, key, lane = owner
    number = _unique_number(numbers, key, _house_number(lane, end))
    lane_no, _, arterial = lane_name.removeprefix("Ngõ ").partition(" ")
    return f"Ngách {lane_no}/{number} {arterial}"


def _node(lines: list[_Line]) -> gpd.GeoDataFrame:
    """Split the streets at every junction and give each piece its street's attributes.

    Lanes and alleys stop on the street they join, up to rounding error; ``union_all`` with a
    grid snap-rounds the ends onto that street, so the pieces share exact end coordinates.
    """
    geoms = np.array([ln.geometry for ln in lines], dtype=object)
    pieces = shapely.get_parts(shapely.union_all(geoms, grid_size=_GRID_M))
    pieces = _trim_stubs(pieces[shapely.length(pieces) > 0])
    mids = shapely.line_interpolate_point(pieces, 0.5, normalized=True)
    tree = shapely.STRtree(geoms)
    seg_idx, line_idx = tree.query(mids, predicate="dwithin", distance=2 * _GRID_M)
    prio = np.array([_PRIORITY[lines[j].kind] for j in line_idx])
    order = np.lexsort((line_idx, prio, seg_idx))
    seg_idx, line_idx = seg_idx[order], line_idx[order]
    first = np.r_[True, seg_idx[1:] != seg_idx[:-1]]
    owner = np.full(len(pieces), -1)
    owner[seg_idx[first]] = line_idx[first]
    keep = owner >= 0
    pieces, owner = pieces[keep], owner[keep]
    return gpd.GeoDataFrame(
        {
            "kind": [lines[j].kind for j in owner],
            "name": [lines[j].name for j in owner],
            "highway": [lines[j].highway for j in owner],
        },
        geometry=pieces,
    )


def _trim_stubs(pieces: np.ndarray) -> np.ndarray:
    """Drop the slivers of a metre or less that dangle where two streets join at a slant."""
    starts = shapely.get_coordinates(shapely.get_point(pieces, 0))
    ends = shapely.get_coordinates(shapely.get_point(pieces, -1))
    keys = pd.Series([*map(tuple, starts), *map(tuple, ends)])
    degree = keys.map(keys.value_counts()).to_numpy()
    n = len(pieces)
    dangling = (degree[:n] == 1) | (degree[n:] == 1)
    return pieces[~(dangling & (shapely.length(pieces) < 1.0))]


def _ward_from_blocks(
    segments: gpd.GeoDataFrame, shape: Polygon, target_m2: float
) -> tuple[Polygon, int]:
    """The union of the blocks whose centre lies in ``shape``, rescaled to the target area."""
    blocks = shapely.get_parts(shapely.polygonize(segments.geometry.to_numpy()))
    blocks = blocks[shapely.area(blocks) > 50]
    centres = shapely.point_on_surface(blocks)
    shared = _shared_edges(blocks)
    scale, chosen = 1.0, blocks[:0]
    for _ in range(4):
        scaled = affinity.scale(shape, scale, scale, origin=(0, 0))
        chosen = blocks[_smooth(blocks, shapely.contains(scaled, centres), shared)]
        area = float(shapely.area(chosen).sum())
        if area == 0:
            raise InputError("The synthetic street network made no blocks; try another seed.")
        if abs(area / target_m2 - 1) < 0.005:
            break
        scale *= math.sqrt(target_m2 / area)
    union = shapely.union_all(chosen)
    polys = sorted(shapely.get_parts(union), key=lambda p: p.area)
    return Polygon(polys[-1].exterior), len(chosen)


def _smooth(
    blocks: np.ndarray, chosen: np.ndarray, shared: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Fill notches and cut teeth: a block joins when most of its edge borders the ward."""
    left, right, length = shared
    perimeter = shapely.length(blocks)
    for _ in range(2):
        weights = length * chosen[right]
        inner = np.bincount(left, weights=weights, minlength=len(blocks)) / perimeter
        chosen = (chosen & (inner > 0.4)) | (~chosen & (inner > 0.5))
    return chosen


def _shared_edges(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of touching blocks and the edge length they share (blocks share coordinates)."""
    left, right = shapely.STRtree(blocks).query(blocks, predicate="touches")
    rings = shapely.boundary(blocks)
    return left, right, shapely.length(shapely.intersection(rings[left], rings[right]))


def _clip(segments: gpd.GeoDataFrame, area: Polygon) -> gpd.GeoDataFrame:
    """Keep the street pieces within ``area``, cut at its edge (like a real extract)."""
    inside = segments[segments.intersects(area)].copy()
    inside["geometry"] = inside.geometry.intersection(area)
    inside = inside.explode(index_parts=False)
    inside = inside[inside.geom_type == "LineString"]
    return inside[inside.length > 1].reset_index(drop=True)


def _assemble_ward(poly: Polygon, origin: Point, crs: object) -> gpd.GeoDataFrame:
    geom = affinity.translate(MultiPolygon([poly]), origin.x, origin.y)
    frame = gpd.GeoDataFrame(
        {
            "ward_id": [DEMO_WARD_ID],
            "name": [DEMO_WARD_NAME],
            "population": [DEMO_POPULATION],
            "source": ["synthetic"],
            "synthetic": [True],
            "valid_from": [pd.Timestamp(_VALID_FROM)],
            "valid_to": [pd.NaT],
        },
        geometry=[geom],
        crs=crs,
    )
    return gpd.GeoDataFrame(conform("wards", frame))


def _assemble_streets(segments: gpd.GeoDataFrame, origin: Point, crs: object) -> gpd.GeoDataFrame:
    geoms = shapely.transform(
        segments.geometry.to_numpy(), lambda xy: xy + np.array([origin.x, origin.y])
    )
    frame = gpd.GeoDataFrame(
        {
            "street_id": [f"{DEMO_WARD_ID}-s{i:05d}" for i in range(len(segments))],
            "ward_id": DEMO_WARD_ID,
            "name": segments["name"].to_numpy(),
            "highway": segments["highway"].to_numpy(),
            "length_m": shapely.length(geoms),
        },
        geometry=geoms,
        crs=crs,
    )
    return gpd.GeoDataFrame(conform("streets", frame))
