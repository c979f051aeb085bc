"""Choosing a metric CRS, and refusing to measure in degrees."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo.config import HANOI_BBOX, HANOI_CRS
from geo.errors import GeographicCRSError

__all__ = ["metric_crs", "point_xy", "require_projected", "to_metric"]


def metric_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """Return the CRS in metres to compute in for these features.

    EPSG:5897 (VN-2000 / TM-3 zone 482, Hà Nội's cadastral system) when the features lie in
    Hà Nội, otherwise the UTM zone that geopandas estimates for them.

    Parameters
    ----------
    gdf
        Features with a CRS set (any CRS pyproj knows).

    Returns
    -------
    pyproj.CRS

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> metric_crs(gpd.GeoSeries([Point(105.83, 21.01)], crs=4326)).to_epsg()
    5897
    >>> metric_crs(gpd.GeoSeries([Point(-122.42, 37.77)], crs=4326)).to_epsg()
    32610
    """
    if gdf.crs is None:
        raise GeographicCRSError(
            "The features have no CRS, so no metric CRS can be chosen: set one with "
            "gdf.set_crs(...) (EPSG:4326 for GPS longitude/latitude)."
        )
    if len(gdf) == 0 or gdf.geometry.is_empty.all():
        raise GeographicCRSError("No features to choose a metric CRS for.")
    bounds = gdf.total_bounds
    if not CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326)):
        to_degrees = Transformer.from_crs(gdf.crs, 4326, always_xy=True)
        bounds = to_degrees.transform_bounds(*bounds)
    left, bottom, right, top = bounds
    h_left, h_bottom, h_right, h_top = HANOI_BBOX
    if left >= h_left and right <= h_right and bottom >= h_bottom and top <= h_top:
        return CRS.from_user_input(HANOI_CRS)
    return gdf.estimate_utm_crs()


def require_projected(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, what: str) -> None:
    """Raise when ``gdf`` is not in a projected CRS measured in metres.

    Parameters
    ----------
    gdf
        The input of a measuring function.
    what
        Which argument it is, for the message (e.g. ``"points"``).
    """
    crs = gdf.crs
    if crs is None:
        raise GeographicCRSError(
            f"{what} has no CRS; distances would be meaningless. Set it and project it: "
            f"{what}.set_crs(4326).to_crs(geo.crs.metric_crs({what}))."
        )
    if not crs.is_projected:
        raise GeographicCRSError(
            f"{what} is in a geographic CRS ({crs.to_string()}), measured in degrees; "
            f"project it first: {what}.to_crs(geo.crs.metric_crs({what})) "
            f"(EPSG:5897 in Hà Nội)."
        )
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if unit not in ("metre", "meter"):
        raise GeographicCRSError(
            f"{what} is in {crs.to_string()}, whose unit is {unit!r}, not metres; "
            f"reproject it with {what}.to_crs(geo.crs.metric_crs({what}))."
        )


def to_metric(gdf: gpd.GeoDataFrame, *, crs: CRS | str | int | None = None) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` in ``crs`` (default: :func:`metric_crs` of ``gdf``)."""
    target = metric_crs(gdf) if crs is None else CRS.from_user_input(crs)
    return gdf.to_crs(target)


def point_xy(points: gpd.GeoSeries, crs: CRS | str | int) -> np.ndarray:
    """Coordinates of points in ``crs`` as an (n, 2) array, without building new geometries.

    Much faster than ``to_crs`` for hundreds of thousands of GPS fixes; missing or empty
    points give NaN rows.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> xy = point_xy(gpd.GeoSeries([Point(105.83, 21.01), None], crs=4326), 5897)
    >>> xy.round(0).tolist()[0], bool(np.isnan(xy[1]).all())
    ([586087.0, 2324284.0], True)
    """
    geoms = points.to_numpy()
    xy = np.full((len(geoms), 2), np.nan)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any():
        xy[ok] = shapely.get_coordinates(geoms[ok])
    target = CRS.from_user_input(crs)
    if ok.any() and points.crs is not None and not CRS.from_user_input(points.crs).equals(target):
        move = Transformer.from_crs(points.crs, target, always_xy=True)
        x, y = move.transform(xy[ok, 0], xy[ok, 1])
        xy[ok] = np.column_stack([x, y])
    return xy
