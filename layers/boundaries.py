"""Boundaries on the map: the ward outline, the zones, and groups coloured by a value."""

from __future__ import annotations

import html
import logging
import warnings
from collections.abc import Callable
from typing import Any, Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.i18n import Lang, t
from layers._geojson import feature_collection, to_wgs84
from layers.assets import localize
from layers.style import (
    CHOROPLETH_COLORS,
    GROUP_LINE_COLOR,
    HATCH_FILL,
    NO_DATA_COLOR,
    WARD_COLOR,
    ZONE_COLOR,
    HatchPattern,
    Legend,
    LegendItem,
    format_number,
)

__all__ = [
    "choropleth_group",
    "class_colors",
    "class_items",
    "classify",
    "group_choropleth",
    "ward_outline",
    "zones_layer",
]

logger = logging.getLogger(__name__)

Scheme = Literal["quantiles", "natural_breaks"]


def ward_outline(
    ward: gpd.GeoDataFrame, *, lang: Lang = "vi", name: str | None = None
) -> folium.FeatureGroup:
    """The ward's boundary as a dark line that does not catch the mouse.

    Parameters
    ----------
    ward
        The ward polygon(s), any CRS; several rows are drawn together.
    lang
        Language of the default layer name.
    name
        Layer name (default: "Ranh giới phường" / "Ward boundary").
    """
    gdf = to_wgs84(ward, what="ward")
    group = folium.FeatureGroup(name=name or t("map.layer.ward", lang))
    if len(gdf):
        data = feature_collection(gdf.assign(_i=range(len(gdf))), properties=["_i"])
        folium.GeoJson(
            data,
            style_function=lambda _f: {"color": WARD_COLOR, "weight": 3, "fill": False},
            interactive=False,
            control=False,
        ).add_to(group)
    return localize(group)


def zones_layer(
    zones: gpd.GeoDataFrame, *, lang: Lang = "vi", name: str | None = None
) -> folium.FeatureGroup:
    """The zones (khu vực) as thick dashed outlines, each labelled with its name.

    Outlines are not filled, so hovering inside a zone still reaches the groups beneath.

    Parameters
    ----------
    zones
        Zone polygons with a ``name`` column (``zone_id`` is used where a name is missing).
    lang
        Language of the tooltip and default layer name.
    name
        Layer name (default: "Khu vực" / "Zones").
    """
    gdf = to_wgs84(zones, what="zones")
    _require(gdf, "zones", ["name"])
    labels = gdf["name"].astype("string")
    if "zone_id" in gdf.columns:
        labels = labels.fillna(gdf["zone_id"].astype("string"))
    gdf = gdf.assign(name=labels.fillna(""))
    group = folium.FeatureGroup(name=name or t("map.layer.zones", lang))
    if len(gdf) == 0:
        return group
    folium.GeoJson(
        feature_collection(gdf, properties=["name"]),
        style_function=lambda _f: {
            "color": ZONE_COLOR,
            "weight": 4,
            "dashArray": "10 6",
            "fill": False,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=[t("map.tooltip.zone", lang)]),
        control=False,
    ).add_to(group)
    for point, label in zip(gdf.geometry.representative_point(), gdf["name"], strict=True):
        folium.Marker(
            [round(point.y, 6), round(point.x, 6)],
            icon=folium.DivIcon(
                html=(
                    '<div style="transform:translate(-50%,-50%);white-space:nowrap;'
                    f"font:700 13px sans-serif;color:{ZONE_COLOR};"
                    'text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff;">'
                    f"{html.escape(label)}</div>"
                ),
                icon_size=(0, 0),
                class_name="uo-zone-label",
            ),
            interactive=False,
            keyboard=False,
        ).add_to(group)
    return localize(group)


def group_choropleth(
    groups: gpd.GeoDataFrame,
    *,
    value_column: str,
    legend_title: str,
    lang: Lang = "vi",
    fmt: str = "{:.1f}",
    scheme: Scheme = "quantiles",
    k: int = 5,
    name: str | None = None,
) -> folium.FeatureGroup:
    """Residential groups coloured by ``value_column``, with a legend and a tooltip per group.

    One ``folium.GeoJson`` draws every group (one path each in the browser). Values are
    binned into at most ``k`` classes; groups without a value are hatched grey.

    Parameters
    ----------
    groups
        Group polygons with ``name`` and ``value_column``; optional ``zone_name`` (else
        ``zone_id``) and ``population`` appear in the tooltip. Any CRS.
    value_column
        Numeric column to colour by; missing values mean "no data".
    legend_title
        Heading of the legend and label of the value in the tooltip.
    lang
        Language of the labels and of the number format.
    fmt
        Format of the values, e.g. ``"{:.1f}"`` or ``"{:,.0f}"``; separators follow ``lang``.
    scheme
        ``"quantiles"`` (equal counts) or ``"natural_breaks"`` (Fisher-Jenks).
    k
        Largest number of classes (fewer when there are fewer distinct values).
    name
        Layer name (default: ``legend_title``).

    Returns
    -------
    folium.FeatureGroup
        The polygons, a :class:`layers.style.Legend` and the hatch pattern.
    """
    gdf = to_wgs84(groups, what="groups")
    _require(gdf, "groups", ["name", value_column])
    try:
        values = pd.to_numeric(gdf[value_column], errors="raise").astype("float64")
    except (TypeError, ValueError):
        raise InputError(
            f"groups column {value_column!r} must hold numbers (empty for no data); "
            f"got dtype {gdf[value_column].dtype}."
        ) from None
    if k < 1 or k > len(CHOROPLETH_COLORS):
        raise InputError(f"k must be between 1 and {len(CHOROPLETH_COLORS)}; got {k}.")
    classes, bins = classify(values, k=k, scheme=scheme)
    colors = class_colors(len(bins))
    zone = gdf["zone_name"] if "zone_name" in gdf.columns else gdf.get("zone_id")
    population = gdf["population"] if "population" in gdf.columns else None
    props = pd.DataFrame(
        {
            "name": gdf["name"].astype("string").fillna(""),
            "zone": zone.astype("string").fillna("—") if zone is not None else "—",
            "value": [format_number(v, lang, fmt=fmt) for v in values],
            "population": (
                [format_number(p, lang) for p in population] if population is not None else "—"
            ),
            "cls": classes,
            "fill": [colors[c] if c >= 0 else HATCH_FILL for c in classes],
        },
        index=gdf.index,
    )
    data = feature_collection(
        gpd.GeoDataFrame(props, geometry=gdf.geometry),
        properties=["name", "zone", "value", "population", "cls", "fill"],
    )
    tooltip = {
        "name": t("map.tooltip.group", lang),
        "zone": t("map.tooltip.zone", lang),
        "value": legend_title,
        "population": t("map.tooltip.population", lang),
    }
    return choropleth_group(
        data, values, bins, colors, style=_group_style, tooltip=tooltip,
        legend_title=legend_title, lang=lang, fmt=fmt, name=name,
    )  # fmt: skip


def choropleth_group(
    data: dict[str, Any],
    values: pd.Series,
    bins: np.ndarray,
    colors: list[str],
    *,
    style: Callable[[dict[str, Any]], dict[str, Any]],
    tooltip: dict[str, str],
    legend_title: str,
    lang: Lang,
    fmt: str,
    name: str | None = None,
) -> folium.FeatureGroup:
    """The layer of a classed choropleth: its polygons (``data``, a GeoJSON feature collection
    with a ``fill`` property), a tooltip of ``tooltip`` (property → label) and the legend of
    its classes, with "no data" hatched."""
    group = folium.FeatureGroup(name=name or legend_title)
    HatchPattern().add_to(group)
    if data["features"]:
        folium.GeoJson(
            data,
            style_function=style,
            highlight_function=lambda _f: {"weight": 3, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(
                fields=list(tooltip), aliases=list(tooltip.values()), sticky=True
            ),
            control=False,
        ).add_to(group)
    items = class_items(values, bins, colors, lang=lang, fmt=fmt)
    if values.isna().any():
        items.append((NO_DATA_COLOR, t("map.legend.no_data", lang), "hatch"))
    Legend(legend_title, items).add_to(group)
    return localize(group)


def classify(
    values: pd.Series, *, k: int = 5, scheme: Scheme = "quantiles"
) -> tuple[np.ndarray, np.ndarray]:
    """Bin ``values`` into at most ``k`` classes.

    Parameters
    ----------
    values
        Numbers; missing ones get class -1.
    k
        Largest number of classes; fewer when there are fewer distinct values.
    scheme
        ``"quantiles"`` or ``"natural_breaks"`` (Fisher-Jenks, with mapclassify).

    Returns
    -------
    classes : numpy.ndarray
        Class of each value, 0 for the lowest, -1 for a missing value.
    bins : numpy.ndarray
        Upper bound of each class, increasing; the last is the maximum.

    Examples
    --------
    >>> classes, bins = classify(pd.Series([1.0, 2.0, None, 3.0, 4.0]), k=2)
    >>> classes.tolist(), bins.tolist()
    ([0, 0, -1, 1, 1], [2.5, 4.0])
    """
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    finite = np.isfinite(x)
    classes = np.full(len(x), -1, dtype=int)
    distinct = np.unique(x[finite])
    if len(distinct) == 0:
        return classes, np.array([], dtype="float64")
    # no more distinct values than classes: each value is its own class, with exact bounds
    bins = distinct if len(distinct) <= k else _breaks(x[finite], k=k, scheme=scheme)
    classes[finite] = np.searchsorted(bins, x[finite], side="left")
    return classes, bins


def _breaks(x: np.ndarray, *, k: int, scheme: Scheme) -> np.ndarray:
    bins = None
    if scheme == "natural_breaks":
        try:
            import mapclassify
        except ImportError:  # pragma: no cover - mapclassify comes with the geo stack
            logger.warning("mapclassify is not installed: quantiles instead of natural breaks")
        else:
            with warnings.catch_warnings():
                # "Numba not installed": the pure-Python Fisher-Jenks is fast for ~100 groups
                warnings.simplefilter("ignore", UserWarning)
                bins = np.asarray(mapclassify.FisherJenks(x, k=k).bins, dtype="float64")
    if bins is None:
        # what mapclassify.Quantiles computes, without importing scipy for it (~1.5 s)
        bins = np.percentile(x, np.linspace(100 / k, 100, k))
    bins = np.unique(bins)
    bins[-1] = x.max()
    return bins


def class_colors(n: int) -> list[str]:
    """``n`` colours of the sequential scheme, light to dark (the middle one for a lone class)."""
    if n <= 1:
        return list(CHOROPLETH_COLORS[2:3])[:n]
    last = len(CHOROPLETH_COLORS) - 1
    return [CHOROPLETH_COLORS[round(i * last / (n - 1))] for i in range(n)]


def class_items(
    values: pd.Series,
    bins: np.ndarray,
    colors: list[str],
    *,
    lang: Lang,
    fmt: str,
    kind: Literal["box", "line"] = "box",
) -> list[LegendItem]:
    """Legend rows of the classes of :func:`classify`, each labelled by the values it holds."""
    items: list[LegendItem] = []
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    for i, (upper, color) in enumerate(zip(bins, colors, strict=True)):
        # Show the values the class really holds: a class (0, 1] of counts is "1", not "0 – 1".
        inside = x <= upper if i == 0 else (x > bins[i - 1]) & (x <= upper)
        members = x[inside & ~np.isnan(x)]
        if not len(members):
            continue  # an empty class would only confuse the reader
        low, high = members.min(), members.max()
        a, b = format_number(float(low), lang, fmt=fmt), format_number(float(high), lang, fmt=fmt)
        items.append((color, a if a == b else f"{a} – {b}", kind))
    return items


def _group_style(feature: dict) -> dict:
    props = feature["properties"]
    if props["cls"] < 0:
        return {
            "color": GROUP_LINE_COLOR,
            "weight": 1,
            "fillColor": HATCH_FILL,
            "fillOpacity": 1,
            "dashArray": "4 3",
        }
    return {"color": GROUP_LINE_COLOR, "weight": 1, "fillColor": props["fill"], "fillOpacity": 0.7}


def _require(gdf: gpd.GeoDataFrame, what: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise InputError(
            f"{what} lacks column(s) {', '.join(map(repr, missing))}; it has "
            f"{', '.join(map(repr, gdf.columns))}."
        )
