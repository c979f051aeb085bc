"""The map itself, and the street network drawn as its basemap when no tiles can be had.

Offline there is no tile server: the map has no tiles (``tiles=None``) and the streets of
OpenStreetMap are drawn as one GeoJSON layer instead. Leaflet then knows no zoom range from a
tile layer, so the map gets ``maxZoom``/``minZoom`` as its own options (marker clusters and
heat maps throw "Map has no maxZoom specified" without them).
"""

from __future__ import annotations

import ast
import contextlib
import logging
import math
from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.config import OSM_ATTRIBUTION
from geo.errors import InputError
from geo.i18n import Lang, t
from layers._geojson import feature_collection, to_wgs84
from layers.assets import localize
from layers.style import STREET_STYLES, Background, street_class

__all__ = ["OSM_TILES", "base_map", "street_layer"]

logger = logging.getLogger(__name__)

#: OpenStreetMap's standard tiles, used only when the caller says the internet is reachable.
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
#: Drawing order, bottom first: major roads are drawn over the lanes that join them.
_CLASS_ORDER = ("path", "minor", "medium", "major")


def base_map(
    bounds: Sequence[float],
    *,
    online_tiles: bool = False,
    lang: Lang = "vi",
    min_zoom: int = 11,
    max_zoom: int = 19,
) -> folium.Map:
    """An empty map fitted to ``bounds``, with its scripts served from ``static/vendor``.

    Parameters
    ----------
    bounds
        ``(left, bottom, right, top)`` in degrees (EPSG:4326), e.g. ``ward.total_bounds``.
    online_tiles
        Draw OpenStreetMap tiles (needs the internet); by default no tiles, a light background,
        and the street network (:func:`street_layer`) serves as the basemap.
    lang
        Language of the layer names.
    min_zoom, max_zoom
        Zoom range of the map (given to Leaflet as map options, see the module docstring).

    Returns
    -------
    folium.Map
        Localized (:func:`layers.assets.localize`); call ``localize`` again after adding layers.

    Examples
    --------
    >>> m = base_map((105.826, 20.998, 105.846, 21.012))
    >>> m.options["maxZoom"], m.options["minZoom"]
    (19, 11)
    """
    left, bottom, right, top = _check_bounds(bounds)
    m = folium.Map(
        location=[(bottom + top) / 2, (left + right) / 2],
        zoom_start=15,
        tiles=None,
        control_scale=True,
        maxZoom=max_zoom,
        minZoom=min_zoom,
        # Fractional zoom lets the ward fill the frame instead of jumping a whole level.
        zoomSnap=0.25,
        zoomDelta=0.5,
    )
    if online_tiles:
        folium.TileLayer(
            tiles=OSM_TILES,
            attr=OSM_ATTRIBUTION,
            name=t("map.layer.osm_tiles", lang),
            min_zoom=min_zoom,
            max_zoom=max_zoom,
            max_native_zoom=19,
        ).add_to(m)
    Background().add_to(m)
    m.fit_bounds([[bottom, left], [top, right]], padding=(8, 8))
    return localize(m)


def street_layer(
    streets: gpd.GeoDataFrame,
    *,
    name: str,
    attribution: str | None = OSM_ATTRIBUTION,
    lang: Lang = "vi",
) -> folium.FeatureGroup:
    """The street network as grey lines, wider for bigger roads, with the street name on hover.

    Segments of the same street and class are merged, so a few thousand OSM segments become a
    few hundred features of one ``folium.GeoJson``; coordinates are rounded to 1e-6° (~0.1 m).

    Parameters
    ----------
    streets
        Lines with optional columns ``name`` and ``highway`` (OSM tags, or lists of them as
        osmnx gives for merged edges); any CRS.
    name
        Name of the layer in the layer control.
    attribution
        Credit shown in the map's attribution control while the layer is on the map; the
        OpenStreetMap credit by default, ``None`` for streets that do not come from OSM.
    lang
        Language of the tooltip.

    Returns
    -------
    folium.FeatureGroup
        Empty when ``streets`` has no line.
    """
    lines = _street_lines(streets)
    group = folium.FeatureGroup(name=name)
    if len(lines) == 0:
        logger.info("street_layer %r: no street lines to draw", name)
        return group
    lines["name"] = lines["name"].mask(lines["name"] == "", t("map.street.unnamed", lang))
    data = feature_collection(lines, properties=["name", "cls"], digits=6)
    folium.GeoJson(
        data,
        style_function=_street_style,
        highlight_function=_street_highlight,
        tooltip=folium.GeoJsonTooltip(
            fields=["name"], aliases=[t("map.tooltip.street", lang)], sticky=True
        ),
        control=False,
        attribution=attribution or None,
    ).add_to(group)
    return localize(group)


def _check_bounds(bounds: Sequence[float]) -> tuple[float, float, float, float]:
    try:
        left, bottom, right, top = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise InputError(
            f"bounds must be four numbers (left, bottom, right, top) in degrees; got {bounds!r}"
        ) from None
    ok = all(math.isfinite(v) for v in (left, bottom, right, top))
    if not ok or not (-180 <= left < right <= 180 and -90 <= bottom < top <= 90):
        raise InputError(
            f"bounds {bounds!r} are not (left, bottom, right, top) in degrees with left < right "
            "and bottom < top; pass gdf.to_crs(4326).total_bounds."
        )
    return left, bottom, right, top


def _street_lines(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One MultiLineString per (street name, class), in drawing order."""
    gdf = to_wgs84(streets, what="streets")
    parts, index = shapely.get_parts(gdf.geometry.values, return_index=True)
    is_line = shapely.get_type_id(parts) == shapely.GeometryType.LINESTRING
    if (~is_line).any():
        logger.warning("street_layer: ignored %d non-line parts", int((~is_line).sum()))
    parts, index = parts[is_line], index[is_line]
    names = _names(gdf["name"]) if "name" in gdf.columns else np.full(len(gdf), "", dtype=object)
    highway = gdf["highway"] if "highway" in gdf.columns else pd.Series([None] * len(gdf))
    classes = np.array([street_class(h) for h in highway], dtype=object)
    frame = pd.DataFrame({"name": names[index], "cls": classes[index]})
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame))
    order = np.argsort(codes, kind="stable")  # multilinestrings() wants sorted indices
    merged = (
        shapely.multilinestrings(parts[order], indices=codes[order]) if len(parts) else np.array([])
    )
    out = gpd.GeoDataFrame(
        {
            "name": [u[0] for u in uniques],
            "cls": [u[1] for u in uniques],
        },
        geometry=gpd.GeoSeries(merged, crs=4326).simplify(1e-6).values,
        crs=4326,
    )
    rank = out["cls"].map({c: i for i, c in enumerate(_CLASS_ORDER)})
    return out.assign(_rank=rank).sort_values(["_rank", "name"]).drop(columns="_rank")


def _names(values: pd.Series) -> np.ndarray:
    def one(v: object) -> str:
        if isinstance(v, str) and v.startswith("[") and v.endswith("]"):
            # a list that went through a text column, e.g. "['Phố A', 'Phố B']"
            with contextlib.suppress(ValueError, SyntaxError):
                v = ast.literal_eval(v)
        if isinstance(v, list | tuple):
            return " / ".join(dict.fromkeys(str(x) for x in v if isinstance(x, str) and x))
        return v.strip() if isinstance(v, str) else ""

    return np.array([one(v) for v in values], dtype=object)


def _street_style(feature: dict) -> dict:
    return dict(STREET_STYLES[feature["properties"]["cls"]])


def _street_highlight(feature: dict) -> dict:
    style = STREET_STYLES[feature["properties"]["cls"]]
    return {"color": "#555555", "weight": float(style["weight"]) + 2}  # type: ignore[arg-type]
