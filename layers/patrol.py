"""Folium layers of the patrol page: street coverage by time since the last visit, tracks,
hot spots with their visits, and a planned route with numbered stops."""

from __future__ import annotations

import html
from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.i18n import Lang, t
from layers._geojson import feature_collection, to_wgs84
from layers.assets import localize
from layers.style import Legend, format_number

__all__ = [
    "VISIT_CLASSES",
    "coverage_layer",
    "patrol_hotspots_layer",
    "route_layer",
    "tracks_layer",
    "visit_class",
    "when_label",
]

#: Hours since a street was last covered: upper bounds of the classes and their colours,
#: green (just walked) to red (not walked in the window). Colour-blind safe (RdYlGn ends
#: differ in lightness too) and never the only cue: the tooltip says the time.
VISIT_CLASSES: tuple[tuple[float, str, str], ...] = (
    (2.0, "#1a9850", "map.patrol.class.2h"),
    (8.0, "#91cf60", "map.patrol.class.8h"),
    (24.0, "#fee08b", "map.patrol.class.24h"),
    (np.inf, "#fc8d59", "map.patrol.class.older"),
)
NOT_COVERED = ("#d73027", "map.patrol.class.none")
ROUTE_COLOR = "#08306b"
TRACK_COLOR = "#2171b5"


def visit_class(hours: pd.Series) -> np.ndarray:
    """Class index per street (0 = within 2 h, ..., 3 = older; 4 = not covered: NaN)."""
    values = hours.to_numpy(dtype=float)
    bounds = np.array([b for b, _, _ in VISIT_CLASSES])
    out = np.searchsorted(bounds, values, side="left")
    return np.where(np.isnan(values), len(VISIT_CLASSES), out)


def coverage_layer(
    edges: gpd.GeoDataFrame, *, now: pd.Timestamp, lang: Lang = "vi", name: str | None = None
) -> folium.FeatureGroup:
    """Streets coloured by hours since they were last covered (``geo.coverage`` output)."""
    gdf = to_wgs84(edges, what="street coverage")
    group = folium.FeatureGroup(name=name or t("map.layer.patrol_coverage", lang))
    hours = (now - gdf["last_visit"]).dt.total_seconds() / 3600
    classes = visit_class(hours.where(gdf["covered"]))
    colors = [c for _, c, _ in VISIT_CLASSES] + [NOT_COVERED[0]]
    unnamed = t("map.street.unnamed", lang)
    props = pd.DataFrame(
        {
            "name": gdf["name"].astype("string").fillna(unnamed).to_numpy(),
            "last": [when_label(v, lang) for v in gdf["last_visit"].where(gdf["covered"])],
            "share": [f"{v:.0%}" for v in gdf["share"]],
            "length": [format_number(v, lang) for v in gdf["length_m"]],
            "color": [colors[c] for c in classes],
            "weight": np.where(classes < len(VISIT_CLASSES), 4.0, 2.5),
        },
        index=gdf.index,
    )
    data = feature_collection(
        gpd.GeoDataFrame(props, geometry=gdf.geometry), properties=list(props.columns)
    )
    if data["features"]:
        folium.GeoJson(
            data,
            style_function=_line_style,
            highlight_function=lambda _f: {"color": "#000000"},
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "last", "share", "length"],
                aliases=[
                    t("map.tooltip.street", lang),
                    t("map.patrol.last_visit", lang),
                    t("map.patrol.share", lang),
                    t("map.hotspots.length_m", lang),
                ],
                sticky=True,
            ),
            control=False,
        ).add_to(group)
    items = [(color, t(key, lang), "line") for _, color, key in VISIT_CLASSES]
    items.append((NOT_COVERED[0], t(NOT_COVERED[1], lang), "line"))
    Legend(t("map.patrol.legend", lang), items).add_to(group)  # type: ignore[arg-type]
    return localize(group)


def tracks_layer(
    tracks: gpd.GeoDataFrame, *, lang: Lang = "vi", name: str | None = None, show: bool = False
) -> folium.FeatureGroup:
    """Patrol track lines (``geo.tracks.track_lines`` output), thin, with team and times."""
    gdf = to_wgs84(tracks, what="patrol tracks")
    group = folium.FeatureGroup(name=name or t("map.layer.patrol_tracks", lang), show=show)
    if gdf.empty:
        return group
    props = pd.DataFrame(
        {
            "team": gdf["team"].astype("string").fillna("—").to_numpy(),
            "from": [when_label(v, lang) for v in gdf["start"]],
            "to": [when_label(v, lang) for v in gdf["end"]],
        },
        index=gdf.index,
    )
    folium.GeoJson(
        feature_collection(gpd.GeoDataFrame(props, geometry=gdf.geometry),
                           properties=list(props.columns)),
        style_function=lambda _f: {"color": TRACK_COLOR, "weight": 1.5, "opacity": 0.6},
        tooltip=folium.GeoJsonTooltip(
            fields=["team", "from", "to"],
            aliases=[t("map.patrol.team", lang), t("map.patrol.from", lang),
                     t("map.patrol.to", lang)],
        ),
        control=False,
    ).add_to(group)  # fmt: skip
    return localize(group)


def patrol_hotspots_layer(
    spots: gpd.GeoDataFrame, *, lang: Lang = "vi", name: str | None = None
) -> folium.FeatureGroup:
    """Hot street segments to patrol: a ringed marker each, red when overdue for a visit."""
    gdf = to_wgs84(spots, what="patrol hot spots")
    group = folium.FeatureGroup(name=name or t("map.layer.patrol_hotspots", lang))
    if gdf.empty:
        return group
    # Half way along in degrees is half way in metres too at the scale of one street segment.
    middle = shapely.line_interpolate_point(gdf.geometry.to_numpy(), 0.5, normalized=True)
    for row, point in zip(gdf.itertuples(index=False), middle, strict=True):
        overdue = bool(row.overdue)
        tip = t(
            "map.patrol.hotspot_tooltip",
            lang,
            rank=int(row.rank),
            label=html.escape(str(row.label)),
            last=when_label(row.last_visit, lang),
            visits=int(row.visits_24h),
            dwell=format_number(row.dwell_24h_min, lang),
        )
        folium.CircleMarker(
            location=(point.y, point.x),
            radius=9,
            color="#67000d" if overdue else "#00441b",
            weight=3,
            fill=True,
            fill_color="#ef3b2c" if overdue else "#41ab5d",
            fill_opacity=0.85,
            tooltip=tip,
        ).add_to(group)
    Legend(
        t("map.patrol.hotspots_legend", lang),
        [("#ef3b2c", t("map.patrol.overdue", lang), "dot"),
         ("#41ab5d", t("map.patrol.visited", lang), "dot")],
        position="bottomleft",
    ).add_to(group)  # fmt: skip
    return localize(group)


def route_layer(
    legs: gpd.GeoDataFrame,
    stops: gpd.GeoDataFrame,
    start: Sequence[float],
    *,
    lang: Lang = "vi",
    name: str | None = None,
) -> folium.FeatureGroup:
    """A planned route: the street path and numbered stops (``geo.routes.Route`` parts)."""
    group = folium.FeatureGroup(name=name or t("map.layer.route", lang))
    if len(legs):
        path = to_wgs84(legs, what="route legs")
        folium.GeoJson(
            feature_collection(path[["geometry"]], properties=[]),
            style_function=lambda _f: {"color": ROUTE_COLOR, "weight": 5, "opacity": 0.8},
            control=False,
        ).add_to(group)
    lon, lat = float(start[0]), float(start[1])
    folium.Marker(
        (lat, lon),
        tooltip=t("map.patrol.start", lang),
        icon=folium.DivIcon(html=_badge("★", "#238b45"), icon_size=(26, 26), icon_anchor=(13, 13)),
    ).add_to(group)
    if len(stops):
        for row in to_wgs84(stops, what="route stops").itertuples(index=False):
            arrive = row.arrive if pd.notna(row.arrive) else None
            tip = f"{int(row.order)}. {html.escape(str(row.label))}"
            if arrive is not None:
                tip += f" · {pd.Timestamp(arrive).strftime('%H:%M')}"
            folium.Marker(
                (row.geometry.y, row.geometry.x),
                tooltip=tip,
                icon=folium.DivIcon(
                    html=_badge(str(int(row.order)), ROUTE_COLOR),
                    icon_size=(26, 26),
                    icon_anchor=(13, 13),
                ),
            ).add_to(group)
    return localize(group)


def _badge(text: str, color: str) -> str:
    return (
        f'<div style="width:24px;height:24px;border-radius:12px;background:{color};'
        "color:#fff;font:bold 13px/24px sans-serif;text-align:center;"
        f'border:2px solid #fff;box-shadow:0 0 3px #000">{html.escape(text)}</div>'
    )


def _line_style(feature: dict) -> dict:
    p = feature["properties"]
    return {"color": p["color"], "weight": p["weight"], "opacity": 0.9}


def when_label(value: object, lang: Lang) -> str:
    """A time as "HH:MM dd/mm", or "never" in the page's language when it is missing."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return t("map.patrol.never", lang)
    return pd.Timestamp(value).strftime("%H:%M %d/%m")  # type: ignore[arg-type]
