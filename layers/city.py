"""The whole city on one map: wards coloured by a rate, and a heat map of the groups' records.

A city has ~126 wards, ~10,000 groups and a year of ~1M records. Every rerun sends the whole
map to the browser, and each drawn polygon costs about 0.13 ms in Python and more in the
browser, so the city is drawn from counts, never record by record: the wards as one GeoJSON
of simplified polygons, the groups as weighted points of one heat layer.
"""

from __future__ import annotations

import json
import logging

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.plugins import HeatMap
from folium.template import Template

from geo.errors import InputError
from geo.i18n import Lang, t
from layers._geojson import feature_collection, to_wgs84
from layers.assets import localize
from layers.boundaries import choropleth_group, class_colors, classify
from layers.style import HATCH_FILL, WARD_COLOR, format_number

__all__ = ["group_heat", "lean_map", "ward_choropleth"]

logger = logging.getLogger(__name__)

#: Heat colours, light to dark blue: cool, so that they read apart from the warm colours of
#: the ward choropleth beneath.
_HEAT_GRADIENT = {0.1: "#c6dbef", 0.35: "#6baed6", 0.6: "#2171b5", 0.85: "#08519c", 1.0: "#08306b"}
#: Weights are scaled to this quantile of the groups' counts (and capped at 1): scaled to the
#: busiest group alone, one market would leave every other group invisible.
_HEAT_QUANTILE = 0.99


def ward_choropleth(
    wards: gpd.GeoDataFrame,
    *,
    value_column: str,
    legend_title: str,
    lang: Lang = "vi",
    fmt: str = "{:.1f}",
    k: int = 5,
    tolerance_deg: float = 1e-4,
    name: str | None = None,
) -> folium.FeatureGroup:
    """Wards coloured by ``value_column`` (quantile classes), a tooltip and a legend each.

    Parameters
    ----------
    wards
        Ward polygons with ``name``, ``value_column`` and ``count`` (records); optional
        ``population``. Any CRS.
    value_column
        Numeric column to colour by; missing values are hatched grey.
    legend_title
        Heading of the legend and label of the value in the tooltip.
    lang
        Language of the labels and of the number format.
    fmt
        Format of the values; separators follow ``lang``.
    k
        Largest number of classes.
    tolerance_deg
        Simplification tolerance in degrees (1e-4 ≈ 10 m: below a pixel at city zoom, and
        it cuts the vertices of traced boundaries several-fold).
    name
        Layer name (default: ``legend_title``).
    """
    gdf = to_wgs84(wards, what="wards")
    missing = [c for c in ("name", "count", value_column) if c not in gdf.columns]
    if missing:
        raise InputError(
            f"wards lack column(s) {', '.join(map(repr, missing))}; it has "
            f"{', '.join(map(repr, gdf.columns))}."
        )
    values = pd.to_numeric(gdf[value_column], errors="coerce").astype("float64")
    classes, bins = classify(values, k=k)
    colors = class_colors(len(bins))
    population = gdf["population"] if "population" in gdf.columns else None
    props = pd.DataFrame(
        {
            "name": gdf["name"].astype("string").fillna(""),
            "value": [format_number(v, lang, fmt=fmt) for v in values],
            "records": [format_number(v, lang) for v in gdf["count"]],
            "population": (
                [format_number(p, lang) for p in population] if population is not None else "—"
            ),
            "fill": [colors[c] if c >= 0 else HATCH_FILL for c in classes],
        },
        index=gdf.index,
    )
    simple = shapely.simplify(gdf.geometry.values, tolerance_deg, preserve_topology=True)
    data = feature_collection(
        gpd.GeoDataFrame(props, geometry=simple, crs=4326),
        properties=["name", "value", "records", "population", "fill"],
        digits=5,  # ~1 m: finer than the simplification
    )
    tooltip = {
        "name": t("map.tooltip.ward", lang),
        "value": legend_title,
        "records": t("page.map.kpi.records", lang),
        "population": t("map.tooltip.population", lang),
    }
    return choropleth_group(
        data, values, bins, colors, style=_ward_style, tooltip=tooltip,
        legend_title=legend_title, lang=lang, fmt=fmt, name=name,
    )  # fmt: skip


def group_heat(
    groups: gpd.GeoDataFrame,
    *,
    weight_column: str = "count",
    lang: Lang = "vi",
    name: str | None = None,
    radius: int = 9,
    show: bool = True,
) -> folium.FeatureGroup:
    """A heat layer with one point per group, weighted by its ``weight_column``.

    Parameters
    ----------
    groups
        Groups as points (e.g. their representative points) or polygons (whose
        representative points are used), with ``weight_column``; groups with no weight are
        left out. Any CRS.
    weight_column
        Non-negative numbers, e.g. records in the period.
    lang
        Language of the default layer name.
    name
        Layer name (default: "Mật độ vi phạm theo tổ" / "Violations by group").
    radius
        Radius of each point's glow in pixels.
    show
        Whether the layer is on when the map opens.
    """
    gdf = to_wgs84(groups, what="groups")
    if weight_column not in gdf.columns:
        raise InputError(f"groups lack the column {weight_column!r} to weight the heat map by.")
    weight = pd.to_numeric(gdf[weight_column], errors="coerce").fillna(0).to_numpy(float)
    keep = weight > 0
    points = gdf.geometry.values[keep]
    polygons = shapely.get_type_id(points) != 0
    points[polygons] = shapely.point_on_surface(points[polygons])
    xy = shapely.get_coordinates(points)
    top = np.quantile(weight[keep], _HEAT_QUANTILE) if keep.any() else 1.0
    scaled = np.minimum(weight[keep] / top, 1.0)
    # 1e-4° (~10 m) places a group's glow well enough and keeps every rerun's payload small
    data = np.column_stack([np.round(xy[:, 1], 4), np.round(xy[:, 0], 4), np.round(scaled, 3)])
    group = folium.FeatureGroup(name=name or t("map.layer.group_heat", lang), show=show)
    if len(data):
        _Heat(
            data,
            radius=radius,
            blur=radius,
            min_opacity=0.0,
            max=1.0,
            gradient=_HEAT_GRADIENT,
            control=False,
        ).add_to(group)
    return localize(group)


class _Heat(HeatMap):
    """folium's ``HeatMap`` of an (n, 3) array of lat, lon (rounded to 1e-4) and weight
    (to 1e-3), written as one flat list of integers that the page divides back.

    folium checks each point in Python and writes ``[21.0289, 105.8517, 0.157]``: for a
    city's 10,000 groups ~50 ms and ~250 kB, against ~10 ms and ~190 kB as integers. The
    page gets the same numbers (a division by a power of ten rounds as the decimal parses).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.heatLayer(
                (function (f) {
                    var points = new Array(f.length / 3);
                    for (var i = 0; i < f.length; i += 3) {
                        points[i / 3] = [f[i] / 1e4, f[i + 1] / 1e4, f[i + 2] / 1e3];
                    }
                    return points;
                })({{ this.flat }}),
                {{ this.options|tojavascript }}
            );
        {% endmacro %}
        """
    )

    def __init__(self, data: np.ndarray, **kwargs: object) -> None:
        super().__init__([], **kwargs)
        if not np.isfinite(data).all():
            raise InputError("heat map points must be finite numbers.")
        # kept as the array: as lists, 10,000 of them for the garbage collector to walk
        self.data = data  # type: ignore[assignment]
        scaled = np.rint(data * np.array([1e4, 1e4, 1e3])).astype(np.int64)
        # integers only: nothing in it needs escaping inside a <script>
        self.flat = json.dumps(scaled.ravel().tolist(), separators=(",", ":"))


def lean_map(fmap: folium.Map) -> folium.Map:
    """``fmap`` without the libraries folium loads for awesome markers and Bootstrap popups.

    A ``folium.Map`` always brings jQuery, Bootstrap (script and two stylesheets), Font
    Awesome and Leaflet.awesome-markers; streamlit-folium loads the scripts one after the
    other before it draws anything. The layers of this module, the boundaries, the legends
    and the record clusters use none of them, so a map made of those alone paints sooner
    without them. Changes this instance only, and returns it.
    """
    fmap.default_js = [(n, u) for n, u in fmap.default_js if n == "leaflet"]
    fmap.default_css = [(n, u) for n, u in fmap.default_css if n == "leaflet_css"]
    return fmap


def _ward_style(feature: dict) -> dict:
    fill = feature["properties"]["fill"]
    return {
        "color": WARD_COLOR,
        "weight": 1.5,
        "fillColor": fill,
        "fillOpacity": 1 if fill == HATCH_FILL else 0.4,
    }
