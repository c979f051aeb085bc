"""Assigning records to their residential group, once, at ingest."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.config import SNAP_TOLERANCE_M
from geo.crs import metric_crs
from geo.errors import InputError

__all__ = ["assign_to_groups"]


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
    assignment = np.full(n, "outside", dtype=object)
    if n and len(polys):
        # Containment is decided in the points' own CRS (EPSG:4326 in the store); only the
        # few points left over are projected to metres for snapping.
        pts = gpd.GeoSeries(out.geometry.values, crs=out.crs)
        inside_rows, inside_pos = _lowest(polys.to_crs(out.crs).sindex.query(pts, "within"))
        position[inside_rows] = inside_pos
        assignment[inside_rows] = "inside"
        rest = np.flatnonzero((position < 0) & pts.notna().to_numpy() & ~pts.is_empty.to_numpy())
        if len(rest) and tolerance_m > 0:
            crs = metric_crs(groups)
            near = polys.to_crs(crs).sindex.nearest(
                pts.iloc[rest].to_crs(crs), max_distance=tolerance_m, return_all=True
            )
            rows, pos = _lowest(near)
            position[rest[rows]] = pos
            assignment[rest[rows]] = "snapped"
    found = position >= 0
    for column in ("group_id", "zone_id", "ward_id"):
        values = np.full(n, None, dtype=object)
        values[found] = polys[column].to_numpy(dtype=object)[position[found]]
        out[column] = pd.array(values, dtype="string")
    if "ward_id" in points.columns:
        # A record outside every group keeps the ward it was recorded in.
        out["ward_id"] = out["ward_id"].fillna(points["ward_id"].astype("string"))
    out["assignment"] = pd.array(assignment, dtype="string")
    return out


def _lowest(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From (row, group position) pairs, each row once with its lowest group position."""
    rows, pos = pairs
    if len(rows) and np.unique(rows).size != rows.size:
        order = np.lexsort((pos, rows))
        rows, pos = rows[order], pos[order]
        first = np.r_[True, rows[1:] != rows[:-1]]
        rows, pos = rows[first], pos[first]
    return rows, pos
