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
    group_of = pd.Series([pd.NA] * n, index=out.index, dtype="string")
    assignment = pd.Series(["outside"] * n, index=out.index, dtype="string")
    if n and len(groups):
        crs = metric_crs(groups)
        polys = groups[["group_id", "geometry"]].to_crs(crs).sort_values("group_id")
        pts = gpd.GeoDataFrame(geometry=out.geometry.to_crs(crs).values, crs=crs)
        pts["_row"] = np.arange(n)
        inside = _first_match(pts.sjoin(polys, how="inner", predicate="within"))
        group_of.iloc[inside.index.to_numpy()] = inside.to_numpy()
        assignment.iloc[inside.index.to_numpy()] = "inside"
        rest = pts[~pts["_row"].isin(inside.index)]
        valid = rest[rest.geometry.notna() & ~rest.geometry.is_empty]
        if len(valid) and tolerance_m > 0:
            near = valid.sjoin_nearest(polys, how="inner", max_distance=tolerance_m)
            snapped = _first_match(near)
            group_of.iloc[snapped.index.to_numpy()] = snapped.to_numpy()
            assignment.iloc[snapped.index.to_numpy()] = "snapped"
    lookup = groups.drop_duplicates("group_id").set_index("group_id")
    out["group_id"] = group_of
    out["zone_id"] = group_of.map(lookup["zone_id"]).astype("string")
    out["ward_id"] = group_of.map(lookup["ward_id"]).astype("string")
    if "ward_id" in points.columns:
        out["ward_id"] = out["ward_id"].fillna(points["ward_id"].astype("string"))
    out["assignment"] = assignment
    return out


def _first_match(joined: pd.DataFrame) -> pd.Series:
    """The lowest group_id per input row, indexed by row position."""
    return joined.sort_values(["_row", "group_id"]).groupby("_row")["group_id"].first()
