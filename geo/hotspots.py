"""Hotspots of any point layer, ranked so that a team can spend a budget of area (or street).

:func:`hotspots` is the one entry point of the CLI, the app page and the evaluation. Every
method returns every unit of the study area, zero counts included, ranked 1 = hottest:

- ``grid`` / ``hex``: records (or the sum of ``weight``) per square / H3 cell;
- ``kde``: quartic kernel density at the centre of each square cell (:mod:`geo.density`),
  records per km² (per month with ``months``);
- ``gi``: Getis–Ord Gi* z-score of the records per H3 hexagon, with permutation p-values and
  the FDR correction (:func:`geo.spatialstats.gi_star`); ``hot`` marks the significant ones;
- ``streets``: records per street segment (:func:`geo.hot_streets.hot_streets`).

Gi* runs on hexagons rather than squares: the six neighbours of a hexagon all share an edge
and lie at the same distance, so there is no rook-or-queen choice to make, and every interior
cell has the same neighbourhood. Cells cut by the area's edge enter Gi* as records per full
cell, with the cut area floored at half a cell, so that the edge neither reads as a cold ring
nor lets a sliver holding one record pass for a hotspot.

When ``cell_m`` is not given, :func:`choose_cell_size` picks it from the records (see
:mod:`geo._hotspots_scale`); the reasoning is kept in ``result.attrs``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._hotspots_scale import choose_scale
from geo.cells import (
    AreaLike,
    area_union,
    count_points,
    hex_grid,
    lattice_weights,
    point_weights,
    point_xy,
    square_grid,
)
from geo.crs import metric_crs
from geo.density import kernel_density
from geo.errors import InputError
from geo.spatialstats import ALPHA, gi_star

__all__ = ["Method", "choose_cell_size", "hotspots"]

log = logging.getLogger(__name__)

Method = Literal["grid", "hex", "kde", "gi", "streets"]

#: Street segments are matched to records within this distance (metres).
STREET_DISTANCE_M = 30.0


def hotspots(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    method: Method = "gi",
    area: AreaLike | None = None,
    streets: gpd.GeoDataFrame | None = None,
    weight: str | None = None,
    cell_m: float | None = None,
    bandwidth_m: float | None = None,
    months: float | None = None,
    permutations: int | None = None,
    alpha: float = ALPHA,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Rank the cells (or street segments) of the study area by how hot they are.

    Parameters
    ----------
    points
        Records as points, in any CRS (null or empty geometries are skipped).
    method
        ``grid``, ``hex``, ``kde``, ``gi`` or ``streets`` (see the module docstring).
    area
        The study area, e.g. the ward's polygon. Default: the convex hull of the points,
        widened by one cell.
    streets
        Street segments (``streets`` only), e.g. from :func:`geo.network.street_edges`.
    weight
        Column of ``points`` to sum instead of counting records (missing values count 0).
    cell_m
        Cell size in metres (for ``hex``, the side of a square of the hexagon's area).
        Default: :func:`choose_cell_size`.
    bandwidth_m
        ``kde`` only: kernel radius in metres (default: ArcGIS's rule, at least one cell).
    months
        Length of the period in months: ``kde`` densities are then per month.
    permutations, alpha, seed
        ``gi`` only: random draws of the null distribution (default 99,999, see
        :func:`geo.spatialstats.gi_star`), significance level after the FDR correction, and
        the seed of the draws (same seed, same map).

    Returns
    -------
    GeoDataFrame
        One row per unit, sorted by ``rank``, in EPSG:4326: ``unit_id``, ``rank`` (1..n,
        unique; by score, then count, then unit_id), ``score``, ``count`` and ``area_m2``
        (``length_m`` for streets); ``gi`` adds ``z``, ``p``, ``p_fdr``, ``hot`` and ``cold``.
        ``attrs`` records ``method``, ``cell_m``, ``cell_rule`` and the method's settings.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np
    >>> from shapely.geometry import box
    >>> area = gpd.GeoSeries([box(585000, 2323000, 587000, 2325000)], crs=5897)  # Hà Nội
    >>> rng = np.random.default_rng(0)
    >>> background = rng.uniform([585000, 2323000], [587000, 2325000], (800, 2))
    >>> cluster = rng.normal([586300, 2323700], 120, (150, 2))
    >>> xy = np.vstack([background, cluster])
    >>> pts = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=5897)
    >>> cells = hotspots(pts, area=area, cell_m=100)  # Gi* on H3 hexagons
    >>> cells.attrs["h3_resolution"], len(cells), int(cells["hot"].sum())
    (10, 281, 8)
    >>> hot = cells[cells["hot"]].to_crs(5897)
    >>> round(float(hot.distance(gpd.points_from_xy([586300], [2323700])[0]).max()))  # metres
    152
    """
    _check(method, cell_m, months, permutations, alpha)
    if method == "streets":
        return _streets(points, streets, weight)
    point_weights(points, weight)  # fails early, naming the column
    region, cell, rule = _region_and_cell(points, area, cell_m)
    attrs: dict[str, Any] = {"method": method, "cell_m": cell, "cell_rule": rule}

    if method == "kde":
        units = kernel_density(
            points, region, cell_m=cell, bandwidth_m=bandwidth_m, weight=weight, months=months
        )
        units["count"] = count_points(points, units, weight=weight)
        units["score"] = units["density"]
        attrs.update(
            bandwidth_m=units.attrs["bandwidth_m"],
            bandwidth_rule=units.attrs["bandwidth_rule"],
            score="records per km² per month" if months else "records per km²",
        )
    elif method == "grid":
        units = square_grid(region, cell_m=cell)
        units["count"] = count_points(points, units, weight=weight)
        units["score"] = units["count"].astype(float)
        attrs["score"] = "records per cell"
    else:
        units = hex_grid(region, cell_m=cell)
        units["count"] = count_points(points, units, weight=weight)
        resolution = units.attrs["grid"]["resolution"]
        attrs.update(h3_resolution=resolution, hex_cell_m=_hex_side(units))
        if method == "hex":
            units["score"] = units["count"].astype(float)
            attrs["score"] = "records per cell"
        else:
            # records per full cell, so that cut edge cells compare with whole ones
            rate = units["count"].to_numpy(dtype=float) / np.maximum(units["share"], 0.5)
            stats = gi_star(
                rate,
                lattice_weights(units),
                permutations=permutations,
                alpha=alpha,
                seed=seed,
            )
            for column in ("z", "p", "p_fdr", "hot", "cold"):
                units[column] = stats[column].to_numpy()
            units["score"] = units["z"]
            attrs.update(
                permutations=permutations,
                alpha=alpha,
                seed=seed,
                hot=int(units["hot"].sum()),
                score="Gi* z-score",
            )
    if months is not None:
        attrs["months"] = float(months)
    units = units.rename(columns={"cell_id": "unit_id"})
    extra = [c for c in ("z", "p", "p_fdr", "hot", "cold") if c in units.columns]
    return _ranked(units, ["area_m2", *extra], attrs)


def choose_cell_size(
    points: gpd.GeoDataFrame | gpd.GeoSeries, area: AreaLike | None = None
) -> float:
    """A cell size in metres for hotspot maps of these points over ``area``.

    The smallest "round" size (20, 25, 30, 40, 50, 60, 75, 100 m, …) holding on average at
    least one record per cell, then larger while the global Moran's I z-score of the counts
    rises (the first peak, as in ArcGIS's incremental spatial autocorrelation), within 30 to
    10,000 cells; see :mod:`geo._hotspots_scale`. ``area`` defaults to the points' convex hull.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np
    >>> from shapely.geometry import box
    >>> area = gpd.GeoSeries([box(585000, 2323000, 586000, 2324000)], crs=5897)
    >>> xy = np.random.default_rng(0).uniform([585000, 2323000], [586000, 2324000], (400, 2))
    >>> choose_cell_size(gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=5897), area)
    50.0
    """
    _, cell, _ = _region_and_cell(points, area, None)
    return cell


def _check(
    method: str,
    cell_m: float | None,
    months: float | None,
    permutations: int | None,
    alpha: float,
) -> None:
    problems = []
    if method not in get_args(Method):
        problems.append(f"method must be one of {', '.join(get_args(Method))}, got {method!r}")
    if cell_m is not None and not (isinstance(cell_m, int | float) and cell_m > 0):
        problems.append(f"cell_m must be a positive number of metres, got {cell_m!r}")
    if months is not None and not (isinstance(months, int | float) and months > 0):
        problems.append(f"months must be positive, got {months!r}")
    if method == "gi" and permutations is not None and permutations < 99:
        problems.append(f"permutations must be at least 99, got {permutations}")
    if not 0 < alpha < 1:
        problems.append(f"alpha must lie between 0 and 1, got {alpha}")
    if problems:
        raise InputError("; ".join(problems) + ".")


def _region_and_cell(
    points: gpd.GeoDataFrame | gpd.GeoSeries, area: AreaLike | None, cell_m: float | None
) -> tuple[gpd.GeoSeries, float, str]:
    """The study area (in a metric CRS), the cell size and why that size."""
    if area is not None:
        region = area_union(area)
        region = region.to_crs(metric_crs(region))
    else:
        _, usable = point_xy(points, 4326)
        if not usable.any():
            raise InputError("No points and no area: give the study area (area=the ward).")
        geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
        crs = metric_crs(geoms[usable])
        xy, _ = point_xy(geoms[usable], crs)
        # a hull of one point or of a line has no surface: give it one of a minimal cell
        hull = shapely.buffer(shapely.convex_hull(shapely.multipoints(xy)), 1e-6)
        region = gpd.GeoSeries([hull], crs=crs)
    if cell_m is not None:
        cell, rule = float(cell_m), "given"
    else:
        xy, _ = point_xy(points, region.crs)
        choice = choose_scale(xy, region.iloc[0])
        cell = choice.cell_m
        tried = ", ".join(f"{s:g} m: z={z}" for s, z in choice.tried)
        rule = choice.rule + (f" (tried {tried})" if tried else "")
        log.info("cell size %g m: %s", cell, rule)
    if area is None:
        region = region.buffer(cell)
    return region, cell, rule


def _hex_side(cells: gpd.GeoDataFrame) -> float:
    """Side of the square with the area of an average whole hexagon of the map, metres."""
    whole = cells["share"] >= 1.0
    sizes = cells.loc[whole, "area_m2"] if whole.any() else cells["area_m2"] / cells["share"]
    return round(math.sqrt(float(sizes.mean())), 1)


def _streets(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    streets: gpd.GeoDataFrame | None,
    weight: str | None,
) -> gpd.GeoDataFrame:
    if streets is None:
        raise InputError(
            "method='streets' needs the street network: pass streets= (e.g. "
            "geo.network.street_edges(load_network(path)))."
        )
    from geo.hot_streets import hot_streets  # written separately; imported only when used

    frame = points if isinstance(points, gpd.GeoDataFrame) else gpd.GeoDataFrame(geometry=points)
    segments = hot_streets(frame, streets, max_distance_m=STREET_DISTANCE_M, weight=weight)
    units = segments.rename(columns={"segment_id": "unit_id"}).to_crs(4326)
    extra = [
        c for c in ("name", "from_name", "to_name", "length_m", "per_100m") if c in units.columns
    ]
    attrs = {
        "method": "streets",
        "max_distance_m": STREET_DISTANCE_M,
        "unmatched": int(segments.attrs.get("unmatched", 0)),
        "score": "records per 100 m (smoothed)",
    }
    return _ranked(units, extra, attrs)


def _ranked(units: gpd.GeoDataFrame, extra: list[str], attrs: dict[str, Any]) -> gpd.GeoDataFrame:
    """Columns in contract order, rank 1..n by score, count, unit_id; sorted by rank."""
    order = np.lexsort(
        (
            np.array(units["unit_id"].astype(str).tolist(), dtype=str),
            -units["count"].to_numpy(dtype=float),
            -units["score"].to_numpy(dtype=float),
        )
    )
    out = units.iloc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1, dtype=np.int64)
    columns = ["unit_id", "rank", "score", "count", *extra, "geometry"]
    result = gpd.GeoDataFrame(pd.DataFrame(out[columns]), geometry="geometry", crs=units.crs)
    result.attrs = attrs
    return result
