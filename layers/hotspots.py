"""Hotspots on the map: ranked cells, significant Gi* cells, hot street segments, repeat places.

Only what carries information is drawn: cells with records (and Gi*'s significant cells), street
segments with records, places that repeat. An empty cell costs bytes on every rerun and tells
the reader nothing the basemap does not.
"""

from __future__ import annotations

import logging

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geo.i18n import Lang, t
from layers._geojson import feature_collection, to_wgs84
from layers.assets import localize
from layers.boundaries import class_colors, class_items, classify
from layers.style import (
    COLD_COLOR,
    HOT_COLOR,
    WARM_COLOR,
    Legend,
    LegendItem,
    format_number,
)

__all__ = ["between_label", "hot_streets_layer", "hotspot_cells", "repeat_places_layer"]

logger = logging.getLogger(__name__)

#: z-score above which a Gi* cell that fails the FDR correction is still shaded (p < 0.05 alone).
WARM_Z = 1.96


def hotspot_cells(
    units: gpd.GeoDataFrame,
    *,
    legend_title: str,
    lang: Lang = "vi",
    fmt: str = "{:,.1f}",
    name: str | None = None,
) -> folium.FeatureGroup:
    """Hotspot cells (grid, hex, KDE or Gi*) coloured by their score, with rank on hover.

    Parameters
    ----------
    units
        The output of :func:`geo.hotspots.hotspots` for a cell method: ``unit_id``, ``rank``,
        ``score``, ``count`` and, for Gi*, ``z``, ``p_fdr``, ``hot``, ``cold``; any CRS.
    legend_title
        What the score means, in the reader's language (e.g. "records per km² per month").
    fmt
        Number format of the score.

    Returns
    -------
    folium.FeatureGroup
        The cells and a legend. Gi* cells are coloured hot / cold / not significant (only
        significant cells and cells with records are drawn); other methods in five classes.
    """
    gdf = to_wgs84(units, what="hotspot cells")
    gi = "hot" in gdf.columns
    group = folium.FeatureGroup(name=name or legend_title)
    if gi:
        shown = gdf[gdf["hot"] | gdf["cold"] | (gdf["count"] > 0)]
        warm = ~shown["hot"] & (shown["z"] >= WARM_Z)
        fill = np.select(
            [shown["hot"], shown["cold"], warm], [HOT_COLOR, COLD_COLOR, WARM_COLOR], "#ffffff"
        )
        opacity = np.where(shown["hot"] | shown["cold"] | warm, 0.65, 0.15)
        items: list[LegendItem] = [
            (HOT_COLOR, t("map.hotspots.hot", lang), "box"),
            (WARM_COLOR, t("map.hotspots.warm", lang), "box"),
            (COLD_COLOR, t("map.hotspots.cold", lang), "box"),
            ("#ffffff", t("map.hotspots.not_significant", lang), "box"),
        ]
    else:
        shown = gdf[gdf["score"] > 0]
        classes, bins = classify(shown["score"], k=5, scheme="quantiles")
        colors = class_colors(len(bins))
        fill = np.array([colors[c] if c >= 0 else "#ffffff" for c in classes], dtype=object)
        opacity = np.full(len(shown), 0.6)
        items = class_items(shown["score"], bins, colors, lang=lang, fmt=fmt)
    props = pd.DataFrame(
        {
            "rank": shown["rank"].astype(int).to_numpy(),
            "count": [format_number(v, lang) for v in shown["count"]],
            "score": [format_number(v, lang, fmt=fmt) for v in shown["score"]],
            "fill": fill,
            "opacity": opacity,
        },
        index=shown.index,
    )
    fields, aliases = (
        ["rank", "count", "score"],
        [
            t("map.hotspots.rank", lang),
            t("map.hotspots.count", lang),
            legend_title,
        ],
    )
    if gi:
        props["p_fdr"] = [format_number(v, lang, fmt="{:.3f}") for v in shown["p_fdr"]]
        fields.append("p_fdr")
        aliases.append(t("map.hotspots.p_fdr", lang))
    data = feature_collection(
        gpd.GeoDataFrame(props, geometry=shown.geometry), properties=list(props.columns)
    )
    if data["features"]:
        folium.GeoJson(
            data,
            style_function=_cell_style,
            highlight_function=lambda _f: {"weight": 2, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True),
            control=False,
        ).add_to(group)
    Legend(legend_title, items).add_to(group)
    return localize(group)


def hot_streets_layer(
    segments: gpd.GeoDataFrame,
    *,
    lang: Lang = "vi",
    name: str | None = None,
) -> folium.FeatureGroup:
    """Street segments with records, coloured and widened by records per 100 m.

    ``segments`` is the output of :func:`geo.hot_streets.hot_streets` (``name``, ``from_name``,
    ``to_name``, ``length_m``, ``count``, ``per_100m``, ``rank``), any CRS.
    """
    gdf = to_wgs84(segments, what="street segments")
    title = name or t("map.layer.hot_streets", lang)
    group = folium.FeatureGroup(name=title)
    shown = gdf[gdf["count"] > 0]
    classes, bins = classify(shown["per_100m"], k=5, scheme="quantiles")
    colors = class_colors(len(bins))
    unnamed = t("map.street.unnamed", lang)
    props = pd.DataFrame(
        {
            "rank": shown["rank"].astype(int).to_numpy(),
            "name": shown["name"].astype("string").fillna(unnamed).to_numpy(),
            "between": [
                between_label(a, b)
                for a, b in zip(_col(shown, "from_name"), _col(shown, "to_name"), strict=True)
            ],
            "count": [format_number(v, lang) for v in shown["count"]],
            "per_100m": [format_number(v, lang, fmt="{:,.1f}") for v in shown["per_100m"]],
            "length": [format_number(v, lang) for v in shown["length_m"]],
            "color": [colors[c] if c >= 0 else "#ffffff" for c in classes],
            "weight": [3 + 1.5 * max(c, 0) for c in classes],
        },
        index=shown.index,
    )
    data = feature_collection(
        gpd.GeoDataFrame(props, geometry=shown.geometry), properties=list(props.columns)
    )
    if data["features"]:
        folium.GeoJson(
            data,
            style_function=_street_style,
            highlight_function=lambda _f: {"color": "#000000"},
            tooltip=folium.GeoJsonTooltip(
                fields=["rank", "name", "between", "count", "per_100m", "length"],
                aliases=[
                    t("map.hotspots.rank", lang),
                    t("map.tooltip.street", lang),
                    t("map.hotspots.between", lang),
                    t("map.hotspots.count", lang),
                    t("map.hotspots.per_100m", lang),
                    t("map.hotspots.length_m", lang),
                ],
                sticky=True,
            ),
            control=False,
        ).add_to(group)
    items = class_items(shown["per_100m"], bins, colors, lang=lang, fmt="{:,.1f}", kind="line")
    Legend(t("map.hotspots.per_100m", lang), items).add_to(group)
    return localize(group)


def repeat_places_layer(
    places: gpd.GeoDataFrame,
    *,
    lang: Lang = "vi",
    name: str | None = None,
) -> folium.FeatureGroup:
    """Repeat places as dark circles sized by their number of records.

    ``places`` is the output of :func:`geo.repeats.repeat_places` (``place_id``, ``count``,
    ``first_at``, ``last_at``, ``address``, ``rank``, point geometry), any CRS.
    """
    gdf = to_wgs84(places, what="repeat places")
    group = folium.FeatureGroup(name=name or t("map.layer.repeat_places", lang))
    if gdf.empty:
        return group
    top = float(gdf["count"].max())
    for row in gdf.itertuples(index=False):
        count = float(row.count)
        address = getattr(row, "address", None)
        label = t(
            "map.hotspots.repeat_tooltip",
            lang,
            rank=int(row.rank),
            count=format_number(count, lang),
            first=_day(getattr(row, "first_at", None)),
            last=_day(getattr(row, "last_at", None)),
        )
        if isinstance(address, str) and address:
            label += f" · {address}"
        folium.CircleMarker(
            location=(row.geometry.y, row.geometry.x),
            radius=4 + 8 * np.sqrt(count / top),
            color="#3f007d",
            weight=1.5,
            fill=True,
            fill_color="#6a51a3",
            fill_opacity=0.55,
            tooltip=label,
        ).add_to(group)
    return localize(group)


def _cell_style(feature: dict) -> dict:
    p = feature["properties"]
    return {"color": "#7f7f7f", "weight": 0.5, "fillColor": p["fill"], "fillOpacity": p["opacity"]}


def _street_style(feature: dict) -> dict:
    p = feature["properties"]
    return {"color": p["color"], "weight": p["weight"], "opacity": 0.95}


def _col(frame: pd.DataFrame, column: str) -> list[object]:
    return frame[column].tolist() if column in frame.columns else [None] * len(frame)


def between_label(from_name: object, to_name: object) -> str:
    """ "Phố A – Phố B" for a street segment's ends, whichever are known ("—" for neither)."""
    names = [str(v) for v in (from_name, to_name) if isinstance(v, str) and v]
    return " – ".join(names) if names else "—"


def _day(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "—"
    return pd.Timestamp(value).strftime("%d/%m/%Y")  # type: ignore[arg-type]
