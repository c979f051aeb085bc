"""Square and hexagonal cells over a study area, and fast point counts in them.

Both grids are anchored so that the same area always gives the same cells, whatever the order
or extent of the records:

- square cells are the squares ``[i·s, (i+1)·s) × [j·s, (j+1)·s)`` of the area's metric CRS
  (:func:`geo.crs.metric_crs`: EPSG:5897 in Hà Nội, else UTM), with ``cell_id`` ``"{s}m_{i}_{j}"``;
- hexagonal cells are H3 cells (``cell_id`` = the H3 index), at the resolution whose average
  hexagon has the area of a square of side ``cell_m`` (see :func:`hex_resolution`).

Cells are clipped to the area: a cell on the edge keeps only its part inside, and ``share`` says
how much of the full cell that is (slivers under ``SLIVER_SHARE`` of a cell are dropped).
Counting never uses a spatial join: a point's square is found by floor division of its metric
coordinates and its hexagon by ``h3.latlng_to_cell``; only points falling in cut edge cells are
tested against the cut polygon.
"""

from __future__ import annotations

import logging
import math
from typing import TypeAlias

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from libpysal.weights import W
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geo._hotspots_cells import cell_positions, grid_kind, project, square_key, usable_points
from geo.crs import metric_crs
from geo.errors import InputError
from geo.topology import polygonal

__all__ = [
    "AreaLike",
    "area_union",
    "count_points",
    "hex_grid",
    "hex_resolution",
    "lattice_weights",
    "point_weights",
    "point_xy",
    "square_grid",
]

log = logging.getLogger(__name__)

#: The study area: polygons with a CRS, or a bare geometry in EPSG:4326.
AreaLike: TypeAlias = gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry

#: Cut cells with less of their surface inside the area are dropped: slivers left by rounding
#: where the area's edge runs along a lattice line (a 1 mm datum round trip makes a 1 mm strip).
SLIVER_SHARE = 1e-4
#: A grid with more cells than this is refused: the cell size is surely a typo for this area.
MAX_GRID_CELLS = 2_000_000


def square_grid(area: AreaLike, *, cell_m: float) -> gpd.GeoDataFrame:
    """Square cells of side ``cell_m`` metres covering ``area``, clipped to it.

    Parameters
    ----------
    area
        The study area: polygons in any CRS (their union is used), or a bare shapely geometry
        in EPSG:4326.
    cell_m
        Side of the squares in metres, in the area's metric CRS.

    Returns
    -------
    GeoDataFrame
        One row per cell that overlaps the area, in EPSG:4326: ``cell_id``, ``area_m2`` (of the
        clipped cell), ``share`` (clipped area / full cell, in (0, 1]) and ``geometry``.
        ``attrs["grid"]`` records the lattice so that :func:`count_points` can use it.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> ward = gpd.GeoSeries([box(585000, 2323000, 585250, 2323200)], crs=5897)  # Hà Nội
    >>> cells = square_grid(ward, cell_m=100)
    >>> cells[["cell_id", "area_m2", "share"]].round(2).values.tolist()[-2:]
    [['100m_5852_23230', 5000.0, 0.5], ['100m_5852_23231', 5000.0, 0.5]]
    >>> len(cells), round(cells["area_m2"].sum())
    (6, 50000)
    """
    _check_cell_m(cell_m)
    region = area_union(area)
    crs = metric_crs(region)
    shape = region.to_crs(crs).iloc[0]
    ix, iy, geoms, share = _square_lattice(shape, cell_m)
    out = gpd.GeoDataFrame(
        {
            "cell_id": [f"{cell_m:g}m_{i}_{j}" for i, j in zip(ix, iy, strict=True)],
            "area_m2": shapely.area(geoms),
            "share": share,
        },
        geometry=geoms,
        crs=crs,
    ).to_crs(4326)
    out.attrs["grid"] = {"kind": "square", "cell_m": float(cell_m), "crs": crs.to_wkt()}
    return out


def hex_resolution(cell_m: float) -> int:
    """The H3 resolution whose average hexagon is closest in size to a ``cell_m`` square.

    Sizes are compared by area (the side of the square of equal area, on a log scale), so a
    hexagon map and a square map of the same ``cell_m`` spend a budget of area alike.

    Examples
    --------
    >>> [hex_resolution(m) for m in (50, 100, 200, 300, 1000)]
    [11, 10, 9, 9, 8]
    """
    _check_cell_m(cell_m)
    sides = np.array([math.sqrt(h3.average_hexagon_area(r, "m^2")) for r in range(16)])
    return int(np.argmin(np.abs(np.log(sides / cell_m))))


def hex_grid(area: AreaLike, *, cell_m: float) -> gpd.GeoDataFrame:
    """H3 hexagons of about ``cell_m`` metres (see :func:`hex_resolution`) covering ``area``.

    Returns
    -------
    GeoDataFrame
        One row per H3 cell that overlaps the area, sorted by ``cell_id`` (the H3 index), in
        EPSG:4326, with ``area_m2``, ``share`` and ``geometry`` clipped to the area, as for
        :func:`square_grid`. ``attrs["grid"]`` holds the resolution.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> cells = hex_grid(gpd.GeoSeries([box(105.83, 21.0, 105.84, 21.01)], crs=4326), cell_m=120)
    >>> cells.attrs["grid"]["resolution"], len(cells) > 60, bool(cells["share"].max() <= 1)
    (10, True, True)
    """
    res = hex_resolution(cell_m)
    region = area_union(area).to_crs(4326)
    crs = metric_crs(region)
    shape = region.iloc[0]
    # Any hexagon touching the area has its centre within one circumradius (= edge) of it;
    # two average edges leave room for the cells' variation in size.
    reach = 2 * h3.average_hexagon_edge_length(res, "m")
    wider = gpd.GeoSeries([shape], crs=4326).to_crs(crs).buffer(reach).to_crs(4326).iloc[0]
    ids = np.array(sorted(h3.h3shape_to_cells(h3.geo_to_h3shape(wider), res)), dtype=object)
    full = _hexagons(ids)
    keep = shapely.intersects(shape, full) if len(full) else np.zeros(0, dtype=bool)
    ids, full = ids[keep], full[keep]
    geoms = _clip(full, shape)
    metric = gpd.GeoSeries(np.concatenate([geoms, full]), crs=4326).to_crs(crs).area.to_numpy()
    area_m2, full_m2 = metric[: len(ids)], metric[len(ids) :]
    share = np.minimum(area_m2 / full_m2, 1.0)
    keep = share >= SLIVER_SHARE
    out = gpd.GeoDataFrame(
        {"cell_id": ids[keep].astype(str), "area_m2": area_m2[keep], "share": share[keep]},
        geometry=geoms[keep],
        crs=4326,
    )
    out.attrs["grid"] = {"kind": "hex", "resolution": res}
    return out


def count_points(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    cells: gpd.GeoDataFrame,
    *,
    weight: str | None = None,
) -> pd.Series:
    """Points (or the sum of ``weight``) in each cell; points outside every cell are not counted.

    Cells from :func:`square_grid` and :func:`hex_grid` are counted by arithmetic (a million
    points in about a second); any other polygons fall back to a spatial-index query. A point
    on an edge shared by two cells is counted once.

    Parameters
    ----------
    points
        Points in any CRS. Null or empty geometries are ignored.
    cells
        Polygons, e.g. from :func:`square_grid` or :func:`hex_grid`.
    weight
        Column of ``points`` to sum instead of counting (e.g. a fine, or items removed).

    Returns
    -------
    Series
        Indexed like ``cells``, named ``count``: int64 counts, or float sums with ``weight``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> cells = square_grid(gpd.GeoSeries([box(585000, 2323000, 585200, 2323100)], crs=5897),
    ...                     cell_m=100)
    >>> pts = gpd.GeoSeries([Point(585010, 2323010), Point(585020, 2323020),
    ...                      Point(585150, 2323050), Point(585500, 2323000)], crs=5897)
    >>> count_points(pts, cells).tolist()
    [2, 1]
    """
    values = point_weights(points, weight)
    geoms, usable = usable_points(points)
    values = values[usable]
    position = cell_positions(geoms, cells)
    found = position >= 0
    sums = np.bincount(position[found], weights=values[found], minlength=len(cells))
    if weight is None:
        return pd.Series(np.rint(sums).astype("int64"), index=cells.index, name="count")
    return pd.Series(sums, index=cells.index, name="count")


def lattice_weights(cells: gpd.GeoDataFrame) -> W:
    """Binary neighbours of each cell on its lattice, in row order: 8 for squares, 6 for hexagons.

    Neighbours are cells adjacent on the lattice (the queen's moves for squares, H3's
    ``grid_disk(cell, 1)`` for hexagons) that are present in ``cells``; two cut edge cells stay
    neighbours even if their parts inside the area no longer touch. This is much faster than
    testing polygon contiguity and gives every interior cell the same number of neighbours.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> cells = square_grid(gpd.GeoSeries([box(585000, 2323000, 585300, 2323300)], crs=5897),
    ...                     cell_m=100)
    >>> w = lattice_weights(cells)
    >>> w.cardinalities[4], w.cardinalities[0]
    (8, 3)
    """
    kind = grid_kind(cells)
    ids = cells["cell_id"].astype(str).tolist()
    position = {cell: k for k, cell in enumerate(ids)}
    neighbours: dict[int, list[int]] = {}
    if kind == "hex":
        for k, cell in enumerate(ids):
            around = (position.get(c, -1) for c in h3.grid_disk(cell, 1) if c != cell)
            neighbours[k] = sorted(p for p in around if p >= 0)
    elif kind == "square":
        keys = [square_key(cell) for cell in ids]
        by_key = {key: k for k, key in enumerate(keys)}
        steps = [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy]
        for k, (i, j) in enumerate(keys):
            around = (by_key.get((i + dx, j + dy), -1) for dx, dy in steps)
            neighbours[k] = sorted(p for p in around if p >= 0)
    else:
        raise InputError(
            "lattice_weights needs cells from square_grid or hex_grid; for other polygons use "
            "geo.spatialstats.contiguity_weights."
        )
    return W(neighbours, silence_warnings=True)


def area_union(area: AreaLike) -> gpd.GeoSeries:
    """The study area as a one-row GeoSeries (union of its polygons), in its own CRS."""
    if isinstance(area, BaseGeometry):
        left, bottom, right, top = area.bounds if not area.is_empty else (0, 0, 0, 0)
        if not (-180 <= left <= right <= 180 and -90 <= bottom <= top <= 90):
            raise InputError(
                "area is a bare geometry outside longitude/latitude range; pass a GeoSeries "
                "with its CRS, e.g. gpd.GeoSeries([geom], crs=5897)."
            )
        series = gpd.GeoSeries([area], crs=4326)
    elif isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        series = area.geometry if isinstance(area, gpd.GeoDataFrame) else area
    else:
        raise InputError(f"area must be polygons (a GeoDataFrame or GeoSeries), got {type(area)}.")
    if series.crs is None:
        raise InputError("area has no CRS; set it, e.g. area.set_crs(4326) for longitude/latitude.")
    shape = polygonal(shapely.union_all(shapely.make_valid(series.dropna().to_numpy())))
    if shape.is_empty or shape.area == 0:
        raise InputError("area holds no polygon with a surface; give the study area's polygons.")
    single = shape.geoms[0] if len(shape.geoms) == 1 else shape
    return gpd.GeoSeries([single], crs=series.crs)


def point_weights(points: gpd.GeoDataFrame | gpd.GeoSeries, weight: str | None) -> np.ndarray:
    """One weight per point: 1, or the numeric column ``weight`` (missing values count 0).

    A value that is present but not a number is an error, as in
    :func:`geo.hot_streets.hot_streets`, so that every hotspot method weighs records alike.
    """
    if weight is None:
        return np.ones(len(points))
    if not isinstance(points, gpd.GeoDataFrame) or weight not in points.columns:
        columns = list(points.columns) if isinstance(points, gpd.GeoDataFrame) else []
        raise InputError(
            f"weight column {weight!r} is not among the points' columns "
            f"({', '.join(map(str, columns)) or 'none'}); give an existing numeric column."
        )
    raw = points[weight]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna() & raw.notna()
    if bad.any():
        raise InputError(
            f"weight column {weight!r} has {int(bad.sum())} non-numeric value(s), e.g. "
            f"{raw[bad].iloc[0]!r} at row {raw.index[bad][0]!r}; clean them or count records "
            "instead (weight=None)."
        )
    return values.fillna(0).to_numpy(dtype=float)


def point_xy(
    points: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS | str | int
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of the points in ``crs``, and which rows have a usable (non-empty) point.

    Returns ``(xy, usable)``: an (m, 2) array for the m usable rows, and a boolean mask over
    all rows. Raises when the points have no CRS or are not all points.
    """
    kept, usable = usable_points(points)
    return project(kept, CRS.from_user_input(crs)), usable


def _check_cell_m(cell_m: float) -> None:
    if not (isinstance(cell_m, int | float) and math.isfinite(cell_m) and cell_m > 0):
        raise InputError(f"cell_m must be a positive number of metres, got {cell_m!r}.")


def _square_lattice(
    shape: BaseGeometry, cell_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Lattice indices, clipped geometries and shares of the squares overlapping ``shape``."""
    left, bottom, right, top = shape.bounds
    i0, j0 = math.floor(left / cell_m), math.floor(bottom / cell_m)
    i1, j1 = math.floor(right / cell_m), math.floor(top / cell_m)
    total = (i1 - i0 + 1) * (j1 - j0 + 1)
    if total > MAX_GRID_CELLS:
        floor = math.sqrt(shape.area / MAX_GRID_CELLS)
        raise InputError(
            f"cell_m={cell_m:g} m would make {total:,} cells over this area; choose a cell of "
            f"at least {math.ceil(floor):,} m."
        )
    ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
    ix, iy = ii.ravel(), jj.ravel()
    boxes = shapely.box(ix * cell_m, iy * cell_m, (ix + 1) * cell_m, (iy + 1) * cell_m)
    geoms = _clip(boxes, shape)
    share = np.minimum(shapely.area(geoms) / cell_m**2, 1.0)
    keep = share >= SLIVER_SHARE
    return ix[keep], iy[keep], geoms[keep], share[keep]


def _clip(cells: np.ndarray, shape: BaseGeometry) -> np.ndarray:
    """``cells`` cut to ``shape``: whole when inside, clipped on the edge, empty outside."""
    shapely.prepare(shape)
    out = np.array(cells, dtype=object)
    inside = shapely.contains_properly(shape, out)
    edge = ~inside & shapely.intersects(shape, out)
    out[~inside & ~edge] = shapely.Polygon()
    if edge.any():
        cut = shapely.intersection(out[edge], shape)
        out[edge] = [_polygon_part(g) for g in cut]
    return out


def _polygon_part(geom: BaseGeometry) -> BaseGeometry:
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    parts = polygonal(geom)  # a cut along an edge can leave lines or points beside the surface
    return parts.geoms[0] if len(parts.geoms) == 1 else parts


def _hexagons(cells: np.ndarray) -> np.ndarray:
    """Polygons (longitude, latitude) of H3 cells; pentagons, far from any city, have 5 sides."""
    rings = [h3.cell_to_boundary(c) for c in cells]
    out = np.empty(len(rings), dtype=object)
    six = np.array([len(r) == 6 for r in rings], dtype=bool)
    if six.any():
        coords = np.array([r for r, s in zip(rings, six, strict=True) if s])[:, :, ::-1]
        out[six] = shapely.polygons(coords)
    for k in np.flatnonzero(~six):
        out[k] = shapely.Polygon([(lng, lat) for lat, lng in rings[k]])
    return out
