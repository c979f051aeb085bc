"""The scene of the demo records: the ward's streets and landmarks, and how to sample them.

Every generator of :mod:`geo.demo_records` draws its points from one :class:`_Scene`: the
streets clipped to the ward in a metric CRS, which of them are main roads and how busy their
frontage is, a few fictional markets, schools and hot spots, and the residential groups.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.crs import metric_crs
from geo.errors import InputError

_MAIN_HIGHWAYS = frozenset(
    {"motorway", "trunk", "primary", "secondary", "trunk_link", "primary_link", "secondary_link"}
)


@dataclass(frozen=True)
class _Scene:
    """The ward's streets and landmarks in a metric CRS, shared by every generator."""

    crs: CRS
    ward: shapely.Geometry
    lines: np.ndarray  # street lines clipped to the ward
    main: np.ndarray  # boolean mask of main roads among ``lines``
    activity: np.ndarray  # how busy each line's frontage is (relative)
    names: np.ndarray  # street name of each line, or None
    markets: np.ndarray  # (n, 2)
    schools: np.ndarray  # (n, 2)
    hotspots: np.ndarray  # (n, 2)
    group_ids: np.ndarray
    group_geoms: np.ndarray
    routing: gpd.GeoDataFrame  # streets around the ward, for patrol routes


def _scene(
    ward: gpd.GeoDataFrame,
    groups: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> _Scene:
    crs = metric_crs(ward)
    ward_geom = shapely.union_all(ward.to_crs(crs).geometry.to_numpy())
    near = streets.to_crs(crs)
    near = near[near.geometry.notna() & near.intersects(ward_geom.buffer(150))]
    near = near.explode(index_parts=False)
    near = near[near.geom_type == "LineString"].reset_index(drop=True)
    clipped = near.assign(geometry=near.geometry.intersection(ward_geom)).explode(index_parts=False)
    clipped = clipped[(clipped.geom_type == "LineString") & (clipped.length > 2)]
    if clipped.empty:
        raise InputError("No street lies inside the ward; pass the ward's own street network.")
    lines = clipped.geometry.to_numpy()
    highway = _text(clipped, "highway")
    main = np.isin(highway, list(_MAIN_HIGHWAYS))
    if shapely.length(lines[main]).sum() < 1500:  # a ward with few main roads: take tertiary too
        main |= highway == "tertiary"
    if not main.any():
        main[:] = True
    names = np.array(
        [None if n is None else n.split(";")[0].strip() or None for n in _text(clipped, "name")],
        dtype=object,
    )
    activity = rng.lognormal(0.0, 0.5, len(lines))
    main_w = shapely.length(lines) * activity * main
    side_w = shapely.length(lines) * ~main
    if side_w.sum() == 0:
        side_w = shapely.length(lines)
    g = groups.to_crs(crs)
    return _Scene(
        crs=crs,
        ward=ward_geom,
        lines=lines,
        main=main,
        activity=activity,
        names=names,
        markets=_along(rng, lines, main_w, 3, (8, 12), inside=ward_geom),
        schools=_along(rng, lines, side_w, 4, (6, 10), inside=ward_geom),
        hotspots=_along(rng, lines, main_w, 7, (4, 8), inside=ward_geom),
        group_ids=g["group_id"].astype(str).to_numpy(),
        group_geoms=g.geometry.to_numpy(),
        routing=near,
    )


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return np.array([v if isinstance(v, str) else None for v in frame[column]], dtype=object)


def _along(
    rng: np.random.Generator,
    lines: np.ndarray,
    weights: np.ndarray,
    n: int,
    offset: tuple[float, float],
    *,
    inside: shapely.Geometry | None = None,
) -> np.ndarray:
    """``n`` points beside the lines (chosen by weight), ``offset`` metres off to either side."""
    idx = rng.choice(len(lines), size=n, p=weights / weights.sum())
    s = rng.uniform(0, 1, n) * shapely.length(lines[idx])
    return _beside(rng, lines[idx], s, offset, inside=inside)


def _beside(
    rng: np.random.Generator,
    lines: np.ndarray,
    s: np.ndarray,
    offset: tuple[float, float],
    *,
    inside: shapely.Geometry | None = None,
) -> np.ndarray:
    """Points at distance ``s`` along ``lines``, moved across them by ``offset`` metres.

    With ``inside``, a point that would fall outside it goes to the street's other side: on a
    street along the ward's edge, the far sidewalk belongs to the neighbouring ward.
    """
    length = shapely.length(lines)
    p = shapely.get_coordinates(shapely.line_interpolate_point(lines, s))
    a = shapely.get_coordinates(shapely.line_interpolate_point(lines, np.clip(s - 1, 0, length)))
    b = shapely.get_coordinates(shapely.line_interpolate_point(lines, np.clip(s + 1, 0, length)))
    t = b - a
    t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    normal = np.column_stack([-t[:, 1], t[:, 0]])
    d = rng.uniform(*offset, len(s)) * rng.choice([-1.0, 1.0], len(s))
    xy = p + normal * d[:, None]
    if inside is not None:
        out = ~shapely.contains_xy(inside, xy[:, 0], xy[:, 1])
        xy[out] = p[out] - normal[out] * d[out, None]
    return xy


def _snap(rng: np.random.Generator, scene: _Scene, xy: np.ndarray) -> np.ndarray:
    """Move points onto the sidewalk of their nearest street (2–8 m off its centreline)."""
    pts = shapely.points(xy)
    tree = shapely.STRtree(scene.lines)
    _, nearest = tree.query_nearest(pts, all_matches=False)
    lines = scene.lines[nearest]
    s = shapely.line_locate_point(lines, pts)
    return _beside(rng, lines, s, (2, 8), inside=scene.ward)


def _group_of(scene: _Scene, xy: np.ndarray) -> np.ndarray:
    """Index of the group each point lies in, -1 outside every group."""
    out = np.full(len(xy), -1)
    if len(xy) == 0:
        return out
    pts, grp = shapely.STRtree(scene.group_geoms).query(shapely.points(xy), predicate="within")
    order = np.argsort(pts, kind="stable")[::-1]  # the first match wins
    out[pts[order]] = grp[order]
    return out


def _group_ids(scene: _Scene, xy: np.ndarray) -> np.ndarray:
    """The ``group_id`` each point lies in, None outside every group."""
    group = _group_of(scene, xy)
    return np.asarray(np.where(group >= 0, scene.group_ids[np.maximum(group, 0)], None))


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.bytes(16 * n)
    return [str(uuid.UUID(bytes=raw[16 * i : 16 * i + 16], version=4)) for i in range(n)]
