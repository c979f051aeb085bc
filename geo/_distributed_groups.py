"""The groups as every partition of the distributed path sees them, and the per-partition step.

The groups are broadcast whole (10k–1M polygons fit in a worker's memory), but handing all of
them to :func:`geo.assign.assign_to_groups` for every partition re-sorts, re-projects and
re-indexes them each time: about 0.7 s per partition for 1M groups. When a partition is
spatially compact (records written ward by ward, or sorted along a space-filling curve), only
the groups near its points can matter, so each partition gets those and no others.

That cut keeps the result identical to the single-machine path because the assignment of a
point depends only on the groups that contain it or lie within ``tolerance_m`` of it, and on
the metric CRS chosen for snapping, :func:`geo.crs.metric_crs` of the groups passed. Hence:

- every group whose bounding box meets the partition's box (in the points' CRS, where
  containment is decided) or comes within ``tolerance_m`` (+ a 100 m margin) of it in the
  metric CRS is kept;
- the groups reaching the west, south, east and north extremes are always kept, so that the
  subset has the same total bounds, hence the same metric CRS; should the CRS still differ
  (groups stored in another CRS, a future rule) the partition falls back to all groups.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.assign import assign_to_groups
from geo.crs import metric_crs

log = logging.getLogger(__name__)

#: Extra reach (m) of the metric box. The box is the partition's box projected with 101 points
#: per side; the projected sides bow between those points by at most a few metres even for a
#: partition spanning the country (20 km steps on a parallel of radius ≥ 14,000 km: 3.4 m).
_MARGIN_M = 100.0
_DENSIFY = 101
#: The columns of the groups that the assignment reads.
GROUP_COLUMNS = ["group_id", "zone_id", "ward_id", "geometry"]


@dataclass(frozen=True)
class GroupIndex:
    """The groups plus the bounding boxes that pick a partition's candidates.

    ``crs`` is None when no cut is possible (no groups, or no metric CRS for them); then every
    partition gets every group. ``to_metric`` projects the points' CRS to ``crs``; built once
    here (about 60 ms) rather than per partition.
    """

    groups: gpd.GeoDataFrame
    crs: CRS | None
    points_crs: CRS
    to_metric: Transformer | None
    own_bounds: np.ndarray  # (n, 4) in the points' CRS
    metric_bounds: np.ndarray  # (n, 4) in ``crs``
    anchors: np.ndarray  # positions of the groups at the four extremes


def group_index(groups: gpd.GeoDataFrame, points_crs: CRS) -> GroupIndex:
    """Prepare ``groups`` (columns :data:`GROUP_COLUMNS`) for partitions in ``points_crs``."""
    polys = groups[GROUP_COLUMNS].reset_index(drop=True)
    empty = np.empty((0, 4))
    bounds = shapely.bounds(polys.geometry.to_numpy())
    if not len(polys) or np.isnan(bounds).all():
        return GroupIndex(polys, None, points_crs, None, empty, empty, np.empty(0, dtype=np.int64))
    crs = metric_crs(polys)
    lows = np.nan_to_num(bounds[:, :2], nan=np.inf)
    highs = np.nan_to_num(bounds[:, 2:], nan=-np.inf)
    anchors = np.unique(np.r_[lows.argmin(axis=0), highs.argmax(axis=0)])
    same = CRS.from_user_input(polys.crs).equals(points_crs)
    own = bounds if same else _bounds_in(polys, points_crs)
    to_metric = Transformer.from_crs(points_crs, crs, always_xy=True)
    return GroupIndex(polys, crs, points_crs, to_metric, own, _bounds_in(polys, crs), anchors)


def assign_partition(
    points: gpd.GeoDataFrame, index: GroupIndex, tolerance_m: float
) -> gpd.GeoDataFrame:
    """:func:`geo.assign.assign_to_groups` on one partition, with the groups that can matter."""
    subset = index.groups.iloc[_candidates(points, index, tolerance_m)]
    if len(subset) < len(index.groups) and metric_crs(subset) != index.crs:
        log.debug("partition: the cut groups change the metric CRS; using all groups")
        subset = index.groups
    return assign_to_groups(points, subset, tolerance_m=tolerance_m)


def _candidates(points: gpd.GeoDataFrame, index: GroupIndex, tolerance_m: float) -> np.ndarray:
    """Positions in ``index.groups`` of the groups that may hold or be near these points."""
    everything = np.arange(len(index.groups))
    if index.to_metric is None or points.crs is None or not index.points_crs.equals(points.crs):
        return everything
    geoms = points.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return index.anchors
    if (shapely.get_type_id(geoms[ok]) != 0).any():
        return everything  # the boxes below are built for points only
    xy = shapely.get_coordinates(geoms[ok])
    (left, bottom), (right, top) = xy.min(axis=0), xy.max(axis=0)
    keep = _meets(index.own_bounds, (left, bottom, right, top), 0.0)
    # The box projected, not every point: a few milliseconds instead of 0.4 s per 250k points.
    metric = index.to_metric.transform_bounds(left, bottom, right, top, densify_pts=_DENSIFY)
    keep |= _meets(index.metric_bounds, metric, tolerance_m + _MARGIN_M)
    keep[index.anchors] = True
    return np.flatnonzero(keep)


def _meets(bounds: np.ndarray, box: tuple[float, ...], reach: float) -> np.ndarray:
    """Which of the ``bounds`` come within ``reach`` of ``box`` (left, bottom, right, top)."""
    left, bottom, right, top = box[0] - reach, box[1] - reach, box[2] + reach, box[3] + reach
    # NaN bounds (empty groups) compare False: never candidates, and they hold nothing.
    return (
        (bounds[:, 0] <= right)
        & (bounds[:, 2] >= left)
        & (bounds[:, 1] <= top)
        & (bounds[:, 3] >= bottom)
    )


def _bounds_in(polys: gpd.GeoDataFrame, crs: CRS) -> np.ndarray:
    return shapely.bounds(polys.geometry.to_crs(crs).to_numpy())
