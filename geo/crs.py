"""Choosing a metric CRS, and refusing to measure in degrees."""

from __future__ import annotations

import geopandas as gpd
from pyproj import CRS

from geo.config import HANOI_BBOX, HANOI_CRS
from geo.errors import GeographicCRSError

__all__ = ["metric_crs", "require_projected", "to_metric"]


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
    left, bottom, right, top = gdf.to_crs(4326).total_bounds
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
