"""Finding the cell of each point without a spatial join (the engine of ``geo.cells``).

Squares of :func:`geo.cells.square_grid`: floor division of the metric coordinates, looked up in
a table over the lattice. Hexagons of :func:`geo.cells.hex_grid`: ``h3.latlng_to_cell``. Only
points falling in cut edge cells are then tested against the cut polygon. Cells of any other
origin fall back to a spatial-index query.
"""

from __future__ import annotations

import functools
from typing import Any

import geopandas as gpd
import h3
import h3.api.numpy_int
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo.errors import InputError


def usable_points(points: gpd.GeoDataFrame | gpd.GeoSeries) -> tuple[gpd.GeoSeries, np.ndarray]:
    """The located points (non-null, non-empty) and their mask; refuses no CRS or non-points."""
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is None:
        raise InputError(
            "The points have no CRS; set one first, e.g. points.set_crs(4326) for GPS longitude "
            "and latitude."
        )
    arr = geoms.to_numpy()
    usable = ~(shapely.is_missing(arr) | shapely.is_empty(arr))
    kept = geoms[usable]
    kinds = set(np.unique(shapely.get_type_id(kept.to_numpy())).tolist())
    if not kinds <= {0}:  # 0 is shapely's type id of Point
        raise InputError(
            f"Hotspots need points; got {', '.join(sorted(set(kept.geom_type)))}. For MultiPoint "
            "use points.explode(index_parts=False); for lines or polygons their centroids."
        )
    return kept, usable


def grid_kind(cells: gpd.GeoDataFrame) -> str | None:
    """``square`` or ``hex`` for cells of ``geo.cells``, else None."""
    grid: Any = cells.attrs.get("grid")
    if isinstance(grid, dict) and grid.get("kind") in ("square", "hex"):
        return str(grid["kind"])
    ids = cells["cell_id"].astype(str) if "cell_id" in cells.columns else pd.Series([], dtype=str)
    if len(ids) and all(h3.is_valid_cell(c) for c in ids[:50]):
        return "hex"
    if len(ids) and ids.str.fullmatch(r"[0-9.e+]+m_-?\d+_-?\d+").all():
        return "square"
    return None


def square_key(cell_id: str) -> tuple[int, int]:
    """Lattice indices (i, j) of a square cell id ``"{s}m_{i}_{j}"``."""
    _, i, j = cell_id.rsplit("_", 2)
    return int(i), int(j)


def cell_positions(points: gpd.GeoSeries, cells: gpd.GeoDataFrame) -> np.ndarray:
    """Row position in ``cells`` of the cell holding each point, -1 when in none."""
    if len(points) == 0 or len(cells) == 0:
        return np.full(len(points), -1, dtype=np.int64)
    grid: Any = cells.attrs.get("grid")
    kind = grid_kind(cells)
    if kind == "square" and isinstance(grid, dict) and "crs" in grid:
        crs = CRS.from_wkt(grid["crs"])
        xy = project(points, crs)
        position = _square_positions(xy, cells, float(grid["cell_m"]))
    elif kind == "hex":
        crs = CRS.from_epsg(4326)
        xy = project(points, crs)
        res = h3.get_resolution(str(cells["cell_id"].iloc[0]))
        # h3 has no vectorised lookup; its integer API in a plain loop is the fastest path
        find = h3.api.numpy_int.latlng_to_cell
        keys = np.fromiter(
            (
                find(lat, lng, res)
                for lng, lat in zip(xy[:, 0].tolist(), xy[:, 1].tolist(), strict=True)
            ),
            dtype=np.uint64,
            count=len(xy),
        )
        ids = np.array([h3.str_to_int(c) for c in cells["cell_id"].astype(str)], dtype=np.uint64)
        position = pd.Index(ids).get_indexer(pd.Index(keys)).astype(np.int64)
    else:
        return _cell_positions_by_index(points, cells)
    # A point in a cut edge cell may lie in the part of the cell outside the area. The
    # tolerance (1 mm, or its equivalent in degrees) absorbs the round trip of the cut cell
    # through EPSG:4326, which would otherwise drop a point lying on the lattice line.
    share = cells["share"].to_numpy() if "share" in cells.columns else np.zeros(len(cells))
    check = np.flatnonzero(position >= 0)
    check = check[share[position[check]] < 1.0]
    if len(check):
        shapes = cells.geometry.to_crs(crs).to_numpy()
        shapely.prepare(shapes)
        tolerance = 1e-3 if crs.is_projected else 1e-8
        spots = shapely.points(xy[check])
        inside = shapely.dwithin(shapes[position[check]], spots, tolerance)
        position[check[~inside]] = -1
    return position


def project(points: gpd.GeoSeries, crs: CRS) -> np.ndarray:
    """(n, 2) coordinates of the points in ``crs``."""
    # pyproj on the raw coordinates: several times faster than GeoSeries.to_crs on 1M points
    xy = shapely.get_coordinates(points.to_numpy())
    source = CRS.from_user_input(points.crs)
    if source != crs:
        x, y = _transformer(source, crs).transform(xy[:, 0], xy[:, 1])
        xy = np.column_stack([x, y])
    return xy


@functools.lru_cache(maxsize=32)
def _transformer(source: CRS, target: CRS) -> Transformer:
    # building a transformer costs ~80 ms; a map redraw builds the same few again and again
    return Transformer.from_crs(source, target, always_xy=True)


def _square_positions(xy: np.ndarray, cells: gpd.GeoDataFrame, step: float) -> np.ndarray:
    """Cell row of each point by floor division, through a lookup table over the lattice."""
    keys = np.array([square_key(c) for c in cells["cell_id"].astype(str)], dtype=np.int64)
    (i0, j0), (i1, j1) = keys.min(axis=0), keys.max(axis=0)
    width = j1 - j0 + 1
    table = np.full((i1 - i0 + 1) * width, -1, dtype=np.int64)
    table[(keys[:, 0] - i0) * width + (keys[:, 1] - j0)] = np.arange(len(keys))
    i = np.floor(xy[:, 0] / step).astype(np.int64)
    j = np.floor(xy[:, 1] / step).astype(np.int64)
    on = (i >= i0) & (i <= i1) & (j >= j0) & (j <= j1)
    position = np.full(len(xy), -1, dtype=np.int64)
    position[on] = table[(i[on] - i0) * width + (j[on] - j0)]
    return position


def _cell_positions_by_index(points: gpd.GeoSeries, cells: gpd.GeoDataFrame) -> np.ndarray:
    polys = cells.geometry.to_crs(points.crs) if cells.crs != points.crs else cells.geometry
    rows, pos = polys.sindex.query(points.to_numpy(), predicate="intersects")
    position = np.full(len(points), -1, dtype=np.int64)
    # a point on a shared edge goes to the first cell only: reversed assignment keeps the first
    position[rows[::-1]] = pos[::-1]
    return position
