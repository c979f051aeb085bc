"""Violation records as clustered points, coloured by category, with a popup each.

Never one folium object per record: one ``FastMarkerCluster`` gets a compact array per point
(``[lat, lon, category, local time, fine, group, status, address]``, categories, groups and
statuses as indexes into lookup tables) and a JavaScript callback builds each point's marker
and, lazily, its popup.
"""

from __future__ import annotations

import html
import json
import logging

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import FastMarkerCluster

from geo.errors import InputError
from geo.i18n import Lang, category_label, t
from geo.model import categories
from layers._geojson import to_wgs84
from layers.assets import localize
from layers.style import Legend, format_vnd, local_time_strings

__all__ = ["category_legend", "record_rows", "records_cluster"]

logger = logging.getLogger(__name__)

_REQUIRED = ("category", "observed_at", "fine_vnd", "group_id")

# The callback is an expression: FastMarkerCluster writes ``var callback = <it>;`` once, so the
# lookup tables are built once, not once per point.
_CALLBACK = """(function () {
    var cats = %(cats)s;
    var groups = %(groups)s;
    var statuses = %(statuses)s;
    var text = %(text)s;
    function popup(row, cat) {
        var html = '<div style="font:13px/1.4 sans-serif;min-width:180px">'
            + '<div style="font-weight:600;color:' + cat[1] + '">' + cat[0] + '</div>'
            + '<div>' + text.time + ': ' + row[3] + '</div>';
        var status = statuses[row[6]];
        if (status) { html += '<div>' + text.status + ': ' + status + '</div>'; }
        if (row[4]) { html += '<div>' + text.fine + ': ' + row[4] + '</div>'; }
        if (row[7]) { html += '<div>' + text.address + ': ' + row[7] + '</div>'; }
        return html + '<div>' + text.group + ': ' + groups[row[5]] + '</div></div>';
    }
    return function (row) {
        var cat = cats[row[2]];
        var marker = L.circleMarker([row[0], row[1]], {
            radius: 6, color: "#ffffff", weight: 1, fillColor: cat[1], fillOpacity: 0.9
        });
        marker.bindPopup(function () { return popup(row, cat); });
        return marker;
    };
})()"""


def records_cluster(
    violations: gpd.GeoDataFrame, *, lang: Lang = "vi", name: str | None = None
) -> folium.FeatureGroup:
    """Violations as clustered circle markers; a click shows category, time, fine and group.

    Parameters
    ----------
    violations
        Point records with the columns of ``geo.model.SCHEMAS["violations"]`` (at least
        ``category``, ``observed_at``, ``fine_vnd``, ``group_id``) and optionally
        ``group_name``; any CRS. Rows without a point are left out (and logged).
    lang
        Language of the labels and of the VND format.
    name
        Layer name (default: "Vi phạm" / "Violations").

    Returns
    -------
    folium.FeatureGroup
        One ``FastMarkerCluster`` inside, or nothing when there is no record.
    """
    rows, cats, groups, statuses = record_rows(violations, lang=lang)
    group = folium.FeatureGroup(name=name or t("map.layer.records", lang))
    if not rows:
        return group
    text = {
        "time": html.escape(t("map.popup.time", lang)),
        "fine": html.escape(t("map.popup.fine", lang)),
        "group": html.escape(t("map.popup.group", lang)),
        "status": html.escape(t("map.popup.status", lang)),
        "address": html.escape(t("map.popup.address", lang)),
    }
    callback = _CALLBACK % {
        "cats": json.dumps(cats, ensure_ascii=False),
        "groups": json.dumps(groups, ensure_ascii=False),
        "statuses": json.dumps(statuses, ensure_ascii=False),
        "text": json.dumps(text, ensure_ascii=False),
    }
    FastMarkerCluster(
        rows, callback=callback, control=False, chunkedLoading=True, maxClusterRadius=50
    ).add_to(group)
    return localize(group)


def record_rows(
    violations: gpd.GeoDataFrame, *, lang: Lang = "vi"
) -> tuple[list[list], list[list[str]], list[str], list[str]]:
    """The compact arrays :func:`records_cluster` sends to the browser.

    Returns
    -------
    rows : list of list
        ``[lat, lon, category index, "dd/mm/yyyy HH:MM", fine text, group index, status index,
        address]`` per record with a point; coordinates rounded to 1e-6°, texts HTML-escaped.
    categories : list of list of str
        ``[label, colour]`` per category index (known categories first, in file order).
    groups : list of str
        Group name per group index.
    statuses : list of str
        Status label per status index ("" for a record without status).
    """
    gdf = to_wgs84(violations, what="violations")
    missing = [c for c in _REQUIRED if c not in gdf.columns]
    if missing:
        raise InputError(
            f"violations lack column(s) {', '.join(map(repr, missing))}; see "
            "geo.model.SCHEMAS['violations']."
        )
    not_points = ~gdf.geom_type.isin(["Point"])
    if not_points.any():
        raise InputError(
            f"violations must be points; {int(not_points.sum())} rows are "
            f"{', '.join(sorted(set(gdf.geom_type[not_points])))} (first at row "
            f"{gdf.index[not_points][0]!r})."
        )
    known = categories()
    codes = list(known)
    extra = sorted(set(gdf["category"].dropna().astype(str)) - set(codes))
    lookup = {code: i for i, code in enumerate([*codes, *extra])}
    other_color = known["other"].color if "other" in known else "#7f7f7f"
    cats = [
        [
            html.escape(category_label(code, lang)),
            known[code].color if code in known else other_color,
        ]
        for code in [*codes, *extra]
    ]
    category = gdf["category"].astype(object).map(lookup).fillna(lookup.get("other", 0))
    names = gdf["group_name"] if "group_name" in gdf.columns else gdf["group_id"]
    names = names.astype("string").fillna(t("map.popup.no_group", lang))
    group_idx, group_names = pd.factorize(names)
    fines = [format_vnd(v, lang) for v in gdf["fine_vnd"].astype(object)]
    times = local_time_strings(gdf["observed_at"]).tolist()
    status_codes = (
        gdf["status"].astype("string").fillna("")
        if "status" in gdf.columns
        else pd.Series("", index=gdf.index, dtype="string")
    )
    status_idx, status_values = pd.factorize(status_codes)
    statuses = [html.escape(_status_label(str(code), lang)) for code in status_values]
    addresses = (
        [html.escape(a) if isinstance(a, str) else "" for a in gdf["address"].astype(object)]
        if "address" in gdf.columns
        else [""] * len(gdf)
    )
    lat = np.round(gdf.geometry.y.to_numpy(), 6).tolist()
    lon = np.round(gdf.geometry.x.to_numpy(), 6).tolist()
    rows = [
        list(r)
        for r in zip(
            lat,
            lon,
            category.astype(int).tolist(),
            times,
            fines,
            group_idx.tolist(),
            status_idx.tolist(),
            addresses,
            strict=True,
        )
    ]
    return rows, cats, [html.escape(str(g)) for g in group_names], statuses


def _status_label(code: str, lang: Lang) -> str:
    """The label of a status code; an unknown code is shown as it is."""
    if not code:
        return ""
    try:
        return t(f"status.{code}", lang)
    except KeyError:
        return code


def category_legend(lang: Lang = "vi", *, codes: list[str] | None = None) -> Legend:
    """A legend of the category colours (all categories, or only ``codes``).

    Add it to the map, or to the records layer to show and hide it with the layer.
    """
    known = categories()
    chosen = list(known) if codes is None else [c for c in codes if c in known]
    items = [(known[c].color, category_label(c, lang), "dot") for c in chosen]
    return Legend(t("map.legend.categories", lang), items)  # type: ignore[arg-type]
