"""Styling in one place: colours, line widths, number and date formats, legends.

Every colour, width and format the layers use is defined here, so the map reads the same on
every page. Formats follow the reader's language: Vietnamese writes ``1.234,5`` and
``1.500.000 đ``, English ``1,234.5`` and ``1,500,000 VND``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

import pandas as pd
from branca.element import MacroElement
from folium.template import Template

from geo.config import TIMEZONE, TIMEZONE_NAME
from geo.i18n import Lang

__all__ = [
    "BACKGROUND",
    "CHOROPLETH_COLORS",
    "COLD_COLOR",
    "HATCH_FILL",
    "HOT_COLOR",
    "NO_DATA_COLOR",
    "STREET_STYLES",
    "WARM_COLOR",
    "Background",
    "HatchPattern",
    "Legend",
    "LegendItem",
    "format_local_time",
    "format_number",
    "format_vnd",
    "local_time_strings",
    "street_class",
]

#: Map background when no tiles are drawn (the land colour of OpenStreetMap's style).
BACKGROUND = "#f2efe9"
#: Sequential classes, light to dark (ColorBrewer YlOrRd, 5 classes).
CHOROPLETH_COLORS: tuple[str, ...] = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
#: Fill of a polygon with no value, when the hatch pattern is not available.
NO_DATA_COLOR = "#bdbdbd"
#: Fill that refers to the hatch pattern :class:`HatchPattern` puts in the page.
HATCH_FILL = "url(#uo-hatch)"
WARD_COLOR = "#252525"
ZONE_COLOR = "#3f3f3f"
GROUP_LINE_COLOR = "#636363"
#: Gi* cells significantly hot / cold after the FDR correction.
HOT_COLOR = "#d7301f"
#: Gi* cells with z above 1.96 that do not pass the FDR correction: worth a look, not proven.
WARM_COLOR = "#fcae91"
COLD_COLOR = "#2171b5"

StreetClass = Literal["major", "medium", "minor", "path"]

#: Street line style by class: major roads wide and dark, footways thin and light.
STREET_STYLES: dict[StreetClass, dict[str, object]] = {
    "major": {"color": "#8c8c8c", "weight": 5, "opacity": 0.9},
    "medium": {"color": "#9e9e9e", "weight": 3.5, "opacity": 0.9},
    "minor": {"color": "#b3b3b3", "weight": 2, "opacity": 0.9},
    "path": {"color": "#c8c8c8", "weight": 1, "opacity": 0.9, "dashArray": "3 3"},
}

_HIGHWAY_CLASS: dict[str, StreetClass] = {
    **dict.fromkeys(("motorway", "trunk", "primary", "secondary"), "major"),
    **dict.fromkeys(("tertiary", "unclassified", "road"), "medium"),
    **dict.fromkeys(("residential", "living_street", "service"), "minor"),
}


def street_class(highway: object) -> StreetClass:
    """The drawing class of an OSM ``highway`` value (a tag, a list of tags, or missing).

    Examples
    --------
    >>> street_class("primary_link"), street_class(["residential", "service"]), street_class(None)
    ('major', 'minor', 'path')
    """
    if isinstance(highway, list | tuple):
        classes = [street_class(h) for h in highway]
        order: tuple[StreetClass, ...] = ("major", "medium", "minor", "path")
        return min(classes, key=order.index) if classes else "path"
    if not isinstance(highway, str):
        return "path"
    tag = highway.strip().strip("[]'\" ").split("'")[0].removesuffix("_link")
    return _HIGHWAY_CLASS.get(tag, "path")


def format_number(value: object, lang: Lang = "vi", *, fmt: str = "{:,.0f}") -> str:
    """``value`` formatted with ``fmt``, with the separators of ``lang``; "—" when missing.

    Examples
    --------
    >>> format_number(1234.5, "vi", fmt="{:,.1f}"), format_number(1234.5, "en", fmt="{:,.1f}")
    ('1.234,5', '1,234.5')
    >>> format_number(None)
    '—'
    """
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = fmt.format(value)
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text


def format_vnd(amount: object, lang: Lang = "vi") -> str:
    """A fine in Vietnamese đồng, as a reader of ``lang`` writes it; "" when missing.

    Examples
    --------
    >>> format_vnd(1_500_000, "vi"), format_vnd(1_500_000, "en")
    ('1.500.000 đ', '1,500,000 VND')
    """
    if amount is None or amount is pd.NA or (isinstance(amount, float) and math.isnan(amount)):
        return ""
    number = format_number(int(amount), lang)  # type: ignore[call-overload]
    return f"{number} đ" if lang == "vi" else f"{number} VND"


def format_vnd_short(amount: object, lang: Lang = "vi") -> str:
    """A large VND sum in millions or billions (triệu / tỷ), for headline figures.

    Examples
    --------
    >>> format_vnd_short(32_600_000, "vi"), format_vnd_short(32_600_000, "en")
    ('32,6 triệu đ', '32.6 million VND')
    >>> format_vnd_short(1_723_050_000, "vi"), format_vnd_short(850_000, "en")
    ('1,72 tỷ đ', '850,000 VND')
    """
    if amount is None or amount is pd.NA or (isinstance(amount, float) and math.isnan(amount)):
        return ""
    value = int(amount)  # type: ignore[call-overload]
    for size, fmt, vi, en in (
        (10**9, "{:,.2f}", "tỷ", "billion"),
        (10**6, "{:,.1f}", "triệu", "million"),
    ):
        if abs(value) >= size:
            number = format_number(value / size, lang, fmt=fmt)
            return f"{number} {vi} đ" if lang == "vi" else f"{number} {en} VND"
    return format_vnd(value, lang)


def format_local_time(ts: datetime | pd.Timestamp | None) -> str:
    """``ts`` in Hà Nội time as ``dd/mm/yyyy HH:MM`` (a naive time is taken as local already).

    Examples
    --------
    >>> format_local_time(pd.Timestamp("2025-07-01 01:30", tz="UTC"))
    '01/07/2025 08:30'
    """
    if ts is None or ts is pd.NaT:
        return ""
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize(TIMEZONE) if stamp.tzinfo is None else stamp.tz_convert(TIMEZONE)
    return stamp.strftime("%d/%m/%Y %H:%M")


def local_time_strings(values: pd.Series) -> pd.Series:
    """:func:`format_local_time` over a whole column at once ("" where missing)."""
    ts = pd.to_datetime(values)
    ts = ts.dt.tz_localize(TIMEZONE_NAME) if ts.dt.tz is None else ts.dt.tz_convert(TIMEZONE_NAME)
    return ts.dt.strftime("%d/%m/%Y %H:%M").fillna("")


LegendItem = tuple[str, str, Literal["box", "dot", "line", "hatch"]]


class Legend(MacroElement):
    """A small HTML legend in a map corner, shown while its parent layer is on the map.

    Add it to a ``folium.Map`` (always shown) or to a layer such as a ``FeatureGroup`` (shown
    and hidden with it). Plain HTML and Leaflet: it needs no d3 and works offline.

    Parameters
    ----------
    title
        Heading of the legend.
    items
        ``(colour, label, kind)`` rows; ``kind`` is ``"box"`` (a filled square), ``"dot"``,
        ``"line"`` or ``"hatch"`` (the no-data pattern).
    position
        Corner of the map.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var layer = {{ this._parent.get_name() }};
            var legend = L.control({position: {{ this.position|tojson }}});
            legend.onAdd = function () {
                var div = L.DomUtil.create("div", "uo-legend");
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            if (layer instanceof L.Map) {
                legend.addTo(layer);
            } else {
                layer.on("add", function () { legend.addTo(layer._map); });
                layer.on("remove", function () { legend.remove(); });
                if (layer._map) { legend.addTo(layer._map); }
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        title: str,
        items: Sequence[LegendItem],
        *,
        position: Literal["topleft", "topright", "bottomleft", "bottomright"] = "bottomright",
    ) -> None:
        super().__init__()
        self._name = "Legend"
        self.title = title
        self.items = list(items)
        self.position = position
        self.html = _legend_html(title, self.items)


def _legend_html(title: str, items: Sequence[LegendItem]) -> str:
    rows = []
    for color, label, kind in items:
        swatch = {
            "box": f"background:{color};border:1px solid #777;",
            "dot": f"background:{color};border-radius:50%;border:1px solid #fff;",
            "line": f"height:0;border-top:3px solid {color};margin-top:6px;",
            "hatch": (
                "border:1px solid #777;background:repeating-linear-gradient("
                f"45deg,{color} 0 2px,#fff 2px 5px);"
            ),
        }[kind]
        rows.append(
            '<div style="display:flex;align-items:center;gap:6px;margin:2px 0;">'
            f'<span style="display:inline-block;width:14px;height:14px;flex:none;{swatch}">'
            f"</span><span>{html.escape(label)}</span></div>"
        )
    return (
        '<div style="background:rgba(255,255,255,0.92);padding:6px 8px;border-radius:4px;'
        "box-shadow:0 1px 4px rgba(0,0,0,0.3);font:12px/1.3 sans-serif;color:#222;"
        'max-width:220px;">'
        f'<div style="font-weight:600;margin-bottom:4px;">{html.escape(title)}</div>'
        + "".join(rows)
        + "</div>"
    )


class HatchPattern(MacroElement):
    """Puts the SVG hatch pattern that :data:`HATCH_FILL` refers to into the page, once."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            if (document.getElementById("uo-hatch")) { return; }
            var ns = "http://www.w3.org/2000/svg";
            var svg = document.createElementNS(ns, "svg");
            svg.setAttribute("width", "0");
            svg.setAttribute("height", "0");
            svg.setAttribute("style", "position:absolute");
            svg.innerHTML = {{ this.defs|tojson }};
            document.body.appendChild(svg);
        })();
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "HatchPattern"
        self.defs = (
            '<defs><pattern id="uo-hatch" patternUnits="userSpaceOnUse" width="8" height="8" '
            'patternTransform="rotate(45)">'
            f'<rect width="8" height="8" fill="#ffffff" fill-opacity="0.6"/>'
            f'<line x1="0" y1="0" x2="0" y2="8" stroke="{NO_DATA_COLOR}" stroke-width="3"/>'
            "</pattern></defs>"
        )


class Background(MacroElement):
    """Paints the map's background (what shows where no tile or layer is drawn)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.getContainer().style.background = {{ this.color|tojson }};
        {% endmacro %}
        """
    )

    def __init__(self, color: str = BACKGROUND) -> None:
        super().__init__()
        self._name = "Background"
        self.color = color
