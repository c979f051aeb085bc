"""A campaign on the map (its target, buffer and control groups, with before/after counts),
and the clean-ups that go with enforcement.

Targets are drawn red, the buffer (where violations might move to) orange, the control grey;
the fill's strength says how much the group's count changed, so displacement next door is
seen at a glance: a pale red target ring inside a strong orange one.
"""

from __future__ import annotations

import logging

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import InputError
from geo.i18n import Lang, t
from layers._geojson import feature_collection, to_wgs84
from layers.assets import localize
from layers.style import Legend, format_number

__all__ = ["AREA_COLORS", "campaign_layer", "cleanups_layer"]

log = logging.getLogger(__name__)

#: Colour of each evaluation area.
AREA_COLORS = {"target": "#c62828", "buffer": "#ef6c00", "control": "#78909c"}
_NEEDED = ("group_id", "name", "area", "before", "after")


def campaign_layer(
    groups: gpd.GeoDataFrame, *, lang: Lang = "vi", name: str | None = None
) -> folium.FeatureGroup:
    """Groups of a campaign's evaluation, coloured by area, with counts in the tooltip.

    Parameters
    ----------
    groups
        Group polygons with ``group_id``, ``name``, ``area`` ("target", "buffer", "control";
        other groups are left out) and ``before`` / ``after`` counts of the compared periods.
    lang
        Language of labels and tooltips.
    name
        Layer name (default: "Chiến dịch" / "Campaign").
    """
    missing = [c for c in _NEEDED if c not in groups.columns]
    if missing:
        raise InputError(f"campaign groups lack the columns {', '.join(missing)}.")
    gdf = to_wgs84(groups, what="campaign groups")
    gdf = gdf[gdf["area"].isin(list(AREA_COLORS))]
    layer = folium.FeatureGroup(name=name or t("map.layer.campaign", lang))
    if gdf.empty:
        return layer
    before = gdf["before"].to_numpy(dtype=float)
    after = gdf["after"].to_numpy(dtype=float)
    change = np.where(before > 0, (after - before) / np.where(before > 0, before, 1), np.nan)
    shown = pd.DataFrame(
        {
            "label": gdf["name"].fillna(gdf["group_id"]).astype(str).to_numpy(),
            "role": [t(f"campaign.area.{a}", lang) for a in gdf["area"]],
            "counts": [
                f"{format_number(b, lang)} → {format_number(a, lang)}"
                for b, a in zip(before, after, strict=True)
            ],
            "change": [_percent(c, lang) for c in change],
            "color": [AREA_COLORS[a] for a in gdf["area"]],
            # a bigger change shows stronger; a group without records stays faint
            "opacity": np.round(0.12 + 0.5 * np.clip(np.abs(np.nan_to_num(change)), 0, 1), 3),
        },
        index=gdf.index,
    )
    data = feature_collection(
        gpd.GeoDataFrame(shown, geometry=gdf.geometry.values, crs=gdf.crs),
        properties=list(shown.columns),
    )
    folium.GeoJson(
        data,
        style_function=lambda f: {
            "color": f["properties"]["color"],
            "weight": 2.5,
            "fillColor": f["properties"]["color"],
            "fillOpacity": f["properties"]["opacity"],
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["label", "role", "counts", "change"],
            aliases=[
                t("map.tooltip.group", lang),
                t("campaign.tooltip.area", lang),
                t("campaign.tooltip.counts", lang),
                t("campaign.tooltip.change", lang),
            ],
        ),
    ).add_to(layer)
    Legend(
        t("map.layer.campaign", lang),
        [(color, t(f"campaign.area.{area}", lang), "box") for area, color in AREA_COLORS.items()],
    ).add_to(layer)
    return localize(layer)


def _percent(change: float, lang: Lang) -> str:
    """+25 % / −40 %; "—" when the group had nothing before (no share to speak of)."""
    if np.isnan(change):
        return "—"
    sign = "+" if change > 0 else "−" if change < 0 else ""
    return f"{sign}{format_number(abs(100 * change), lang)} %"


def cleanups_layer(
    cleanups: gpd.GeoDataFrame, *, lang: Lang = "vi", name: str | None = None, show: bool = False
) -> folium.FeatureGroup:
    """Clean-ups (tổng vệ sinh) as green squares sized by the waste collected.

    Beside littering records they show whether clean-ups go where the rubbish is.
    ``cleanups`` is the ``cleanups`` table (``started_at``, ``participants``, ``waste_kg``,
    point geometry), any CRS; the layer is off until chosen unless ``show``.
    """
    gdf = to_wgs84(cleanups, what="cleanups")
    layer = folium.FeatureGroup(name=name or t("map.layer.cleanups", lang), show=show)
    if gdf.empty:
        return layer
    waste = pd.to_numeric(gdf["waste_kg"], errors="coerce").fillna(0).to_numpy(dtype=float)
    top = max(float(waste.max()), 1.0)
    for row, kg in zip(gdf.itertuples(index=False), waste, strict=True):
        when = pd.Timestamp(row.started_at)
        label = t(
            "map.cleanup_tooltip",
            lang,
            day=f"{when:%d/%m/%Y}" if pd.notna(when) else "—",
            people=format_number(row.participants, lang),
            kg=format_number(kg, lang),
        )
        side = round(10 + 16 * float(np.sqrt(kg / top)))
        folium.Marker(  # a square (plain HTML: no marker plugin to fetch)
            location=(round(row.geometry.y, 6), round(row.geometry.x, 6)),
            icon=folium.DivIcon(
                html=(
                    f'<div style="width:{side}px;height:{side}px;background:#43a047cc;'
                    'border:1.5px solid #1b5e20;transform:translate(-50%,-50%)"></div>'
                ),
                icon_size=(0, 0),
                class_name="uo-cleanup",
            ),
            tooltip=label,
        ).add_to(layer)
    Legend(t("map.layer.cleanups", lang), [("#43a047", t("map.layer.cleanups", lang), "box")],
           position="bottomleft").add_to(layer)  # fmt: skip
    return localize(layer)
