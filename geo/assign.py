"""Assigning records to their residential group, once, at ingest."""

from __future__ import annotations

import logging
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._grid import lowest_per_row, within_positions
from geo.config import SNAP_TOLERANCE_M
from geo.crs import metric_crs
from geo.errors import InputError

__all__ = ["Method", "assign_to_groups", "group_positions"]

log = logging.getLogger(__name__)

Method = Literal["auto", "grid", "tree"]
#: With fewer points than this, or than this many per polygon, "auto" asks GEOS about each
#: point: the grid would cost more to build than it saves (measured on the benchmark city).
_GRID_MIN_POINTS = 20_000
_GRID_POINTS_PER_POLYGON = 15
_ASSIGNMENTS = pd.array(["inside", "snapped", "outside"], dtype="string")


def assign_to_groups(
    points: gpd.GeoDataFrame,
    groups: gpd.GeoDataFrame,
    *,
    tolerance_m: float = SNAP_TOLERANCE_M,
) -> gpd.GeoDataFrame:
    """Return a copy of ``points`` with ``ward_id``, ``zone_id``, ``group_id`` and ``assignment``.

    A point within a group is ``inside`` it. A point within no group but at most
    ``tolerance_m`` metres from one (GPS noise, or a point on a shared edge) is ``snapped`` to
    the nearest. Farther out it is kept, marked ``outside``, with no group. No point is dropped.
    Where groups overlap, or a point is equally near several, the lowest ``group_id`` wins, so
    the result does not depend on row order.

    Parameters
    ----------
    points
        Point records in any CRS.
    groups
        Group polygons with ``group_id``, ``zone_id`` and ``ward_id``.
    tolerance_m
        Snapping distance in metres.

    Returns
    -------
    GeoDataFrame
        ``points`` (same index, order and CRS) with the four columns set.
    """
    missing = {"group_id", "zone_id", "ward_id"} - set(groups.columns)
    if missing:
        raise InputError(f"groups lacks the column(s) {', '.join(sorted(missing))}.")
    if tolerance_m < 0:
        raise InputError(f"tolerance_m must be ≥ 0 metres, got {tolerance_m}.")
    out = points.copy()
    n = len(out)
    # Position of each point's group in ``polys`` (sorted by id, so ties go to the lowest id).
    polys = groups[["group_id", "zone_id", "ward_id", "geometry"]].sort_values("group_id")
    polys = polys.reset_index(drop=True)
    position = np.full(n, -1, dtype=np.int64)
    label = np.full(n, 2, dtype=np.int64)  # index into _ASSIGNMENTS: "outside"
    if n and len(polys):
        # Containment is decided in the points' own CRS (EPSG:4326 in the store); only the
        # few points left over are projected to metres for snapping.
        pts = gpd.GeoSeries(out.geometry.values, crs=out.crs)
        position = group_positions(pts, polys.geometry).to_numpy(copy=True)
        label[position >= 0] = 0
        rest = np.flatnonzero(position < 0)
        rest = rest[~shapely.is_missing(pts.values[rest]) & ~shapely.is_empty(pts.values[rest])]
        if len(rest) and tolerance_m > 0:
            crs = metric_crs(groups)
            near = polys.to_crs(crs).sindex.nearest(
                pts.iloc[rest].to_crs(crs), max_distance=tolerance_m, return_all=True
            )
            rows, pos = lowest_per_row(*near)
            position[rest[rows]] = pos
            label[rest[rows]] = 1
    for column in ("group_id", "zone_id", "ward_id"):
        # take with -1 gives a missing value: no group
        out[column] = polys[column].astype("string").array.take(position, allow_fill=True)
    if "ward_id" in points.columns:
        # A record outside every group keeps the ward it was recorded in.
        out["ward_id"] = out["ward_id"].fillna(points["ward_id"].astype("string"))
    out["assignment"] = _ASSIGNMENTS.take(label)
    return out


def group_positions(
    points: gpd.GeoSeries | gpd.GeoDataFrame,
    polygons: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    method: Method = "auto",
) -> pd.Series:
    """Row position in ``polygons`` of the polygon each point lies within, -1 where none.

    The same answer as ``geopandas.sjoin(points, polygons, predicate="within")`` reduced to one
    polygon per point: a point on a boundary (a shared edge, a vertex) lies within no polygon,
    and where polygons overlap the first row wins (sort ``polygons`` first to choose: that is
    how :func:`assign_to_groups` makes the lowest ``group_id`` win). Missing and empty
    geometries lie within nothing.

    Parameters
    ----------
    points
        Points (other geometries are answered as by ``sjoin``, one GEOS test each).
    polygons
        Polygons, brought to the points' CRS when both have one.
    method
        ``"grid"``: exact tests on a grid over the polygons, GEOS only for the few points on or
        within ~1e-16 of an edge's line or in awkward cells (about 4x faster than sjoin on a
        million points in 10,000 groups; see ``bench/run.py assign``); ``"tree"``: GEOS for
        every point, as sjoin does; ``"auto"``: the grid from 20,000 points, and 15 per
        polygon, on. The grid needs valid polygons: with any invalid (or non-polygonal)
        geometry among ``polygons`` it falls back to the tree.

    Returns
    -------
    Series
        int64 positions, indexed like ``points``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> cells = gpd.GeoSeries([box(0, 0, 1, 1), box(1, 0, 2, 1)])
    >>> pts = gpd.GeoSeries([Point(0.5, 0.5), Point(1, 0.5), Point(1.5, 0.2), Point(3, 3)])
    >>> group_positions(pts, cells, method="grid").tolist()
    [0, -1, 1, -1]
    """
    if method not in ("auto", "grid", "tree"):
        raise InputError(f"method must be 'auto', 'grid' or 'tree', got {method!r}.")
    geoms = polygons.geometry
    if points.crs is not None and geoms.crs is not None and geoms.crs != points.crs:
        geoms = geoms.to_crs(points.crs)
    pts = np.asarray(points.geometry.array, dtype=object)
    polys = np.asarray(geoms.array, dtype=object)
    usable = np.flatnonzero(~shapely.is_missing(polys) & ~shapely.is_empty(polys))
    out = np.full(len(pts), -1, dtype=np.int64)
    if not len(pts) or not len(usable):
        return pd.Series(out, index=points.index, name="position")
    candidates = polys[usable]
    shapely.prepare(candidates)
    enough = len(pts) >= max(_GRID_MIN_POINTS, _GRID_POINTS_PER_POLYGON * len(candidates))
    grid = method == "grid" or (method == "auto" and enough)
    if grid and not _grid_ready(candidates):
        log.info("some polygons are invalid or not polygons: every point goes to GEOS")
        grid = False
    if grid:
        x, y, others = _xy(pts)
        tree = shapely.STRtree(candidates)
        found = within_positions(x, y, candidates, tree, cells=_cells(len(x)))
        out = found if len(usable) == len(polys) else np.where(found >= 0, usable[found], -1)
    else:
        others = np.flatnonzero(~shapely.is_missing(pts))
    if len(others):
        # as geopandas.sjoin does it: polygons (prepared) contain points of a tree of points
        pos, rows = shapely.STRtree(pts[others]).query(candidates, predicate="contains")
        rows, pos = lowest_per_row(rows, pos)
        out[others[rows]] = usable[pos]
    return pd.Series(out, index=points.index, name="position")


def _xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x and y of each point (NaN if missing or empty), and the rows that are not points."""
    try:
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)  # NaN where missing or not a point
    except shapely.errors.GEOSException:  # an empty point: rare, so only then look for them
        x, y = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
        point = np.flatnonzero((shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms))
        x[point], y[point] = shapely.get_x(geoms[point]), shapely.get_y(geoms[point])
    unknown = np.flatnonzero(np.isnan(x) | np.isnan(y))
    return x, y, unknown[shapely.get_type_id(geoms[unknown]) > 0]


def _grid_ready(polygons: np.ndarray) -> bool:
    types = shapely.get_type_id(polygons)
    return bool(np.isin(types, (3, 6)).all() and shapely.is_valid(polygons).all())


def _cells(n_points: int) -> int:
    """Grid size: about a cell a point (fewer then fall near an edge), bounded by memory."""
    return int(np.clip(n_points, 65_536, 4_000_000))
