"""Kernel density of records on a square grid, in records per km² (per month).

The kernel is the quartic (biweight) kernel of Silverman (1986, eq. 4.5), the one ArcGIS's
Kernel Density tool uses::

    K(d) = 3 / (π h²) · (1 − (d / h)²)²   for d < h, else 0,

which integrates to 1 over the plane, so the density summed over cells times their area gives
back the number of records (less what spills over the edge of the area). It is evaluated at
the centre of every square cell of :func:`geo.cells.square_grid`.

The default bandwidth is ArcGIS's (10.2.1 and later), a spatial variant of Silverman's rule of
thumb that resists spatial outliers ("How Kernel Density works",
https://desktop.arcgis.com/en/arcmap/10.3/tools/spatial-analyst-toolbox/how-kernel-density-works.htm)::

    h = 0.9 · min(SD, sqrt(1 / ln 2) · Dm) · n^(−0.2)

with SD the standard distance of the records about their mean centre, Dm the median distance to
that centre and n the number of records (or the sum of the weights); see
:func:`default_bandwidth`.
"""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
from pyproj import CRS
from scipy.spatial import cKDTree

from geo._hotspots_cells import square_key
from geo.cells import AreaLike, point_weights, point_xy, square_grid
from geo.crs import metric_crs
from geo.errors import InputError

__all__ = ["default_bandwidth", "kernel_density", "quartic"]

log = logging.getLogger(__name__)

#: Above this many records they are first summed on a fine lattice (see :func:`kernel_density`).
BIN_ABOVE = 50_000
#: The lattice is this many times finer than the smaller of the cell and the bandwidth.
BIN_FINENESS = 4
#: Records per chunk when pairing records with cell centres (bounds memory on big inputs).
_CHUNK = 100_000


def quartic(distance_m: np.ndarray, bandwidth_m: float) -> np.ndarray:
    """The quartic kernel at ``distance_m`` (per m²): integrates to 1 over the plane.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.linspace(0, 100, 100_001)
    >>> mass = np.trapezoid(quartic(r, 100.0) * 2 * np.pi * r, r)
    >>> round(float(mass), 6)
    1.0
    """
    u = np.clip(np.asarray(distance_m, dtype=float) / bandwidth_m, 0.0, 1.0)
    return 3.0 / (math.pi * bandwidth_m**2) * (1.0 - u**2) ** 2


def default_bandwidth(
    points: gpd.GeoDataFrame | gpd.GeoSeries, *, weight: str | None = None
) -> float:
    """ArcGIS's default Kernel Density search radius for these points, in metres.

    ``0.9 · min(SD, sqrt(1/ln 2) · Dm) · n^(−0.2)``: SD is the (weighted) standard distance,
    Dm the (weighted) median distance to the (weighted) mean centre and n the number of
    points or the sum of ``weight``. Measured in the points' metric CRS.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np
    >>> rng = np.random.default_rng(0)
    >>> xy = rng.normal(0, 100, (1000, 2)) + [585000, 2323000]
    >>> pts = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=5897)
    >>> round(default_bandwidth(pts))  # 0.9 · min(141, 140) · 1000^-0.2 ≈ 32 m
    32
    """
    values = point_weights(points, weight)
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    _, usable = point_xy(points, 4326)
    if not usable.any():
        raise InputError("No points to compute a bandwidth from.")
    xy, _ = point_xy(geoms[usable], metric_crs(geoms[usable]))
    return _arcgis_bandwidth(xy, values[usable])


def kernel_density(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    area: AreaLike,
    *,
    cell_m: float,
    bandwidth_m: float | None = None,
    weight: str | None = None,
    months: float | None = None,
) -> gpd.GeoDataFrame:
    """Quartic kernel density of ``points`` at the centre of each square cell of ``area``.

    Parameters
    ----------
    points
        Points in any CRS. All of them contribute, including those just outside the area.
    area
        The study area (see :func:`geo.cells.square_grid`).
    cell_m
        Side of the square cells in metres.
    bandwidth_m
        Kernel radius in metres. Default: ArcGIS's rule (:func:`default_bandwidth`), but never
        less than ``cell_m``, so that every record reaches at least one cell centre.
    weight
        Column of ``points`` to use as each record's mass (e.g. a fine) instead of 1.
    months
        Length of the period in months; the density is then per month.

    Returns
    -------
    GeoDataFrame
        The cells of :func:`geo.cells.square_grid` with ``density``: records per km² (per
        month with ``months``). ``attrs`` records ``bandwidth_m`` and ``bandwidth_rule``.

    Notes
    -----
    Each record is paired with the cell centres within the bandwidth through a k-d tree.
    Above ``BIN_ABOVE`` records they are first summed on a lattice ``BIN_FINENESS`` times finer
    than the smaller of the cell and the bandwidth, each lattice square standing at the mean
    position of its records: a shift of at most a few metres for ward-sized cells, and a
    million records run in a couple of seconds.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> area = gpd.GeoSeries([box(585000, 2323000, 585400, 2323400)], crs=5897)
    >>> one = gpd.GeoSeries([Point(585150, 2323150)], crs=5897)  # a cell centre
    >>> d = kernel_density(one, area, cell_m=100, bandwidth_m=100)
    >>> round(float(d["density"].max()), 1)  # 3 / (π · 0.1 km · 0.1 km)
    95.5
    """
    if months is not None and not months > 0:
        raise InputError(f"months must be positive, got {months!r}.")
    if bandwidth_m is not None and not (math.isfinite(bandwidth_m) and bandwidth_m > 0):
        raise InputError(f"bandwidth_m must be a positive number of metres, got {bandwidth_m!r}.")
    cells = square_grid(area, cell_m=cell_m)
    crs = CRS.from_wkt(cells.attrs["grid"]["crs"])
    values = point_weights(points, weight)
    xy, usable = point_xy(points, crs)
    mass = values[usable]

    if bandwidth_m is None:
        rule = _arcgis_bandwidth(xy, mass)
        bandwidth = max(rule, float(cell_m))
        how = "arcgis" if rule >= cell_m else "cell"
    else:
        bandwidth, how = float(bandwidth_m), "given"
        if bandwidth < cell_m / math.sqrt(2):
            log.warning(
                "bandwidth %.0f m is narrower than half a cell's diagonal (cell %.0f m): "
                "records near cell corners reach no cell centre",
                bandwidth,
                cell_m,
            )
    centres = _centres(cells, float(cell_m))
    per_m2 = _density(xy, mass, centres, bandwidth, float(cell_m))

    out = cells.copy()
    out["density"] = per_m2 * 1e6 / (months if months else 1.0)
    out.attrs = {**cells.attrs, "bandwidth_m": bandwidth, "bandwidth_rule": how}
    return out


def _arcgis_bandwidth(xy: np.ndarray, mass: np.ndarray) -> float:
    """ArcGIS's spatial Silverman rule; 0 when there are fewer than two distinct points."""
    total = float(mass.sum())
    if len(xy) < 2 or total <= 0:
        return 0.0
    centre = (xy * mass[:, None]).sum(axis=0) / total
    distance = np.hypot(xy[:, 0] - centre[0], xy[:, 1] - centre[1])
    standard_distance = math.sqrt(float((mass * distance**2).sum()) / total)
    order = np.argsort(distance, kind="stable")
    cumulative = np.cumsum(mass[order])
    median = float(distance[order][np.searchsorted(cumulative, total / 2)])
    return 0.9 * min(standard_distance, math.sqrt(1 / math.log(2)) * median) * total**-0.2


def _centres(cells: gpd.GeoDataFrame, cell_m: float) -> np.ndarray:
    # The centre of the full lattice square, also for cut edge cells: the grid is the sample.
    ij = np.array([square_key(c) for c in cells["cell_id"].astype(str)], dtype=np.int64)
    ij = ij.reshape(-1, 2)
    return (ij + 0.5) * cell_m


def _density(
    xy: np.ndarray, mass: np.ndarray, centres: np.ndarray, bandwidth: float, cell_m: float
) -> np.ndarray:
    """Sum of the kernels of the records at each centre, per m²."""
    out = np.zeros(len(centres))
    if len(xy) == 0 or len(centres) == 0:
        return out
    if len(xy) > BIN_ABOVE:
        xy, mass = _bin(xy, mass, min(cell_m, bandwidth) / BIN_FINENESS)
    tree = cKDTree(centres)
    for start in range(0, len(xy), _CHUNK):
        chunk = cKDTree(xy[start : start + _CHUNK])
        pairs = chunk.sparse_distance_matrix(tree, bandwidth, output_type="ndarray")
        if len(pairs):
            k = quartic(pairs["v"], bandwidth) * mass[start + pairs["i"]]
            out += np.bincount(pairs["j"], weights=k, minlength=len(centres))
    return out


def _bin(xy: np.ndarray, mass: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Records summed per lattice square of side ``step``, placed at their mean position."""
    keys = np.floor(xy / step).astype(np.int64)
    keys -= keys.min(axis=0)
    _, group = np.unique(keys[:, 0] * (keys[:, 1].max() + 1) + keys[:, 1], return_inverse=True)
    count = np.bincount(group)
    where = (
        np.column_stack(
            [np.bincount(group, weights=xy[:, 0]), np.bincount(group, weights=xy[:, 1])]
        )
        / count[:, None]
    )
    return where, np.bincount(group, weights=mass)
