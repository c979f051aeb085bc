"""GeoDataFrames to compact GeoJSON for the map: degrees, rounded coordinates, plain values."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

from geo.errors import InputError

logger = logging.getLogger(__name__)


def to_wgs84(gdf: gpd.GeoDataFrame, *, what: str) -> gpd.GeoDataFrame:
    """``gdf`` in EPSG:4326 without rows whose geometry is missing or empty (a copy)."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame; got {type(gdf).__name__}.")
    if gdf.crs is None:
        raise InputError(
            f"{what} has no CRS, so it cannot be placed on the map; set it first, "
            f"e.g. {what}.set_crs(4326) for longitude/latitude."
        )
    missing = gdf.geometry.isna() | gdf.geometry.is_empty
    if missing.any():
        logger.warning("%s: %d rows without geometry are not drawn", what, int(missing.sum()))
    out = gdf.loc[~missing]
    return out.to_crs(4326) if not out.crs.equals(4326) else out.copy()


def feature_collection(
    gdf: gpd.GeoDataFrame, *, properties: Sequence[str], digits: int = 6
) -> dict:
    """A GeoJSON FeatureCollection of ``gdf`` (already in degrees), coordinates rounded.

    ``digits=6`` keeps ~0.1 m, far below GPS and digitising error, and roughly halves the
    payload that every rerun sends to the browser.

    Text properties are HTML-escaped: folium's tooltips put them into the page as HTML, and
    they come from users and OpenStreetMap (a street named ``<img onerror=…>`` must show as
    text, not run in the app's origin, where the sign-in cookie lives).

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> gdf = gpd.GeoDataFrame({"name": ["<b>Ngõ 4 & 5</b>"], "n": [3]}, geometry=[Point(0, 0)])
    >>> feature_collection(gdf, properties=["name", "n"])["features"][0]["properties"]
    {'name': '&lt;b&gt;Ngõ 4 &amp; 5&lt;/b&gt;', 'n': 3}
    """
    geoms = shapely.transform(gdf.geometry.values, lambda xy: np.round(xy, digits))
    props = gdf[list(properties)].astype(object)
    props = props.where(props.notna(), None)
    for column in props.columns:
        values = props[column].to_numpy()
        text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
        if text.any():
            values = values.copy()
            values[text] = [html.escape(v) for v in values[text]]
            props[column] = values
    records = props.to_dict("records")
    features = [
        {"type": "Feature", "properties": rec, "geometry": geom.__geo_interface__}
        for rec, geom in zip(records, geoms, strict=True)
    ]
    return {"type": "FeatureCollection", "features": features}
