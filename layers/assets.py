"""Serve the map's JavaScript and CSS from ``static/vendor/`` instead of CDNs.

folium and its plugins name their libraries by CDN URL (``Map.default_js``, plugin
``default_css``, ...). streamlit-folium hands exactly those lists to its iframe (its
``st_folium`` walks the map and reads each element's ``default_js``/``default_css``), and
``Map.get_root().render()`` writes them into the page header. :func:`localize` replaces them,
on the instances only, by the files that ``scripts/vendor_assets.py`` vendors, which Streamlit
serves at ``/app/static/vendor/...`` (``server.enableStaticServing = true``).

Elements that write CDN links from inside their ``render()`` cannot be fixed that way and are
refused: above all branca's colormaps, for which streamlit-folium adds two d3 CDN links of its
own; draw legends with :class:`layers.style.Legend` instead.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from branca.colormap import ColorMap
from branca.element import CssLink, Element, Figure, JavascriptLink
from folium.features import RegularPolygonMarker, TopoJson, Vega, VegaLite

from geo.config import STATIC_DIR
from geo.errors import InputError

__all__ = [
    "CDN_ASSETS",
    "DEFAULT_BASE",
    "VENDOR_DIR",
    "local_url",
    "localize",
    "remote_links",
    "required_files",
]

logger = logging.getLogger(__name__)

#: Where the vendored files live; Streamlit serves ``static/`` at ``/app/static/``.
VENDOR_DIR = STATIC_DIR / "vendor"
#: URL prefix under which Streamlit serves ``static/`` (prefix it with ``server.baseUrlPath``).
DEFAULT_BASE = "/app/static"

_FOLIUM_HEAT = "folium@0.20.0/leaflet_heat.min.js"
_D3_NOTE = "draw the legend with layers.style.Legend (HTML, no d3)"

#: CDN URL (as folium 0.20, its plugins and streamlit-folium 0.27 write it) -> file under
#: static/vendor/. Built by scripts/vendor_assets.py; keep the two in step.
CDN_ASSETS: dict[str, str] = {
    # folium.Map
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet@1.9.3/dist/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": (
        "leaflet@1.9.3/dist/leaflet.css"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery@3.7.1/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/jquery/3.7.1/jquery.min.js": (
        "jquery@3.7.1/dist/jquery.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": (
        "bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": (
        "bootstrap@5.2.2/dist/css/bootstrap.min.css"
    ),
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": (
        "bootstrap@3.4.1/dist/css/bootstrap-glyphicons.css"
    ),
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": (
        "fontawesome-free@6.2.0/css/all.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (  # noqa: E501
        "leaflet.awesome-markers@2.0.5/dist/leaflet.awesome-markers.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (  # noqa: E501
        "leaflet.awesome-markers@2.0.5/dist/leaflet.awesome-markers.css"
    ),
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css": (  # noqa: E501
        "folium@0.20.0/leaflet.awesome.rotate.min.css"
    ),
    # folium.plugins.MarkerCluster and FastMarkerCluster
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js": (
        "leaflet.markercluster@1.1.0/dist/leaflet.markercluster.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css": (
        "leaflet.markercluster@1.1.0/dist/MarkerCluster.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.Default.css": (  # noqa: E501
        "leaflet.markercluster@1.1.0/dist/MarkerCluster.Default.css"
    ),
    # folium.plugins.HeatMap (folium's patched Leaflet.heat, shipped in its wheel)
    "https://cdn.jsdelivr.net/gh/python-visualization/folium@main/folium/templates/leaflet_heat.min.js": (  # noqa: E501
        _FOLIUM_HEAT
    ),
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet_heat.min.js": (  # noqa: E501
        _FOLIUM_HEAT
    ),
}

#: Elements whose render() writes CDN links that no attribute controls.
_REFUSED: dict[type, str] = {
    ColorMap: "streamlit-folium adds d3 from two CDNs for every branca colormap; " + _D3_NOTE,
    Vega: "it loads d3 and vega from CDNs",
    VegaLite: "it loads vega from CDNs",
    RegularPolygonMarker: "it loads leaflet-dvf from a CDN; use a CircleMarker",
    TopoJson: "it loads topojson from a CDN; convert to GeoJSON with geopandas",
}

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_LOCAL_INDEX = {rel: rel for rel in CDN_ASSETS.values()}

E = TypeVar("E", bound=Element)


def local_url(url: str, *, base: str = DEFAULT_BASE) -> str:
    """The URL under ``base`` of the vendored copy of CDN resource ``url``.

    A URL that already points at a vendored file (under any base) is re-rooted at ``base``; a
    relative or same-site URL of some other file is returned unchanged.

    Parameters
    ----------
    url
        A script or stylesheet URL as folium writes it.
    base
        The URL at which Streamlit serves ``static/`` (``"/app/static"``, or with the
        ``server.baseUrlPath`` in front).

    Returns
    -------
    str

    Raises
    ------
    InputError
        ``url`` is on another host and no vendored file stands in for it.

    Examples
    --------
    >>> local_url("https://code.jquery.com/jquery-3.7.1.min.js")
    '/app/static/vendor/jquery@3.7.1/dist/jquery.min.js'
    >>> local_url("/app/static/vendor/jquery@3.7.1/dist/jquery.min.js", base="/uo/app/static")
    '/uo/app/static/vendor/jquery@3.7.1/dist/jquery.min.js'
    """
    root = base.rstrip("/") + "/vendor/"
    if url in CDN_ASSETS:
        return root + CDN_ASSETS[url]
    marker = "/vendor/"
    if marker in url and not _REMOTE.match(url):
        rel = url.split(marker, 1)[1]
        if rel in _LOCAL_INDEX:
            return root + rel
    if _REMOTE.match(url):
        raise InputError(
            f"No vendored copy of {url!r}: offline, the map would stay blank. Add the library "
            "to scripts/vendor_assets.py and its URL to CDN_ASSETS in layers/assets.py, then run "
            ".venv/bin/python scripts/vendor_assets.py."
        )
    return url


def localize(element: E, *, base: str = DEFAULT_BASE) -> E:
    """Point every script and stylesheet of ``element`` and its children at vendored files.

    Only the instances change (each gets its own ``default_js``/``default_css`` list); folium's
    class attributes, shared by every session of the server, are left alone. Links already
    written into the page header by an earlier render are rewritten too. Call it last, after
    every layer has been added (it is idempotent, and re-roots URLs when ``base`` changes).

    Parameters
    ----------
    element
        A ``folium.Map``, or any layer (``FeatureGroup``...) before it is added to one.
    base
        The URL at which Streamlit serves ``static/``.

    Returns
    -------
    The same ``element``, for chaining.

    Raises
    ------
    InputError
        Some link has no vendored copy, or an element writes CDN links from its render()
        (a branca colormap, Vega, TopoJson, ...); the message lists every one.
    """
    problems: list[str] = []
    for elem in _walk(element):
        for cls, why in _REFUSED.items():
            if isinstance(elem, cls):
                problems.append(f"{type(elem).__name__} {elem.get_name()}: {why}")
        for attr in ("default_js", "default_css"):
            links = getattr(elem, attr, None)
            if not links:
                continue
            rewritten = []
            for name, url in links:
                try:
                    rewritten.append((name, local_url(url, base=base)))
                except InputError as exc:
                    problems.append(f"{type(elem).__name__}.{attr}[{name!r}]: {exc}")
            setattr(elem, attr, rewritten)
    root = element.get_root()
    if isinstance(root, Figure):
        for child in root.header._children.values():
            if isinstance(child, JavascriptLink | CssLink):
                try:
                    child.url = local_url(child.url, base=base)
                except InputError as exc:
                    problems.append(f"page header: {exc}")
    if problems:
        raise InputError(
            "The map cannot be served offline:\n- " + "\n- ".join(dict.fromkeys(problems))
        )
    return element


def required_files(*, vendor_dir: Path | None = None) -> list[Path]:
    """Every vendored file the map may ask for: the CDN stand-ins and what their CSS refers to.

    Parameters
    ----------
    vendor_dir
        The vendor folder to look in (default ``static/vendor``).

    Returns
    -------
    list of pathlib.Path
        Sorted; files named by ``url(...)`` in a missing stylesheet cannot be listed, but the
        stylesheet itself is.
    """
    vendor = VENDOR_DIR if vendor_dir is None else vendor_dir
    files = {vendor / rel for rel in CDN_ASSETS.values()}
    for css in [f for f in files if f.suffix == ".css" and f.is_file()]:
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", css.read_text(encoding="utf-8")):
            if ref.startswith(("data:", "#")) or _REMOTE.match(ref):
                continue
            files.add(Path(os.path.normpath(css.parent / ref.split("?")[0].split("#")[0])))
    return sorted(files)


def remote_links(html: str) -> list[str]:
    """The ``<script src>`` and ``<link href>`` URLs of ``html`` that point at another host.

    Examples
    --------
    >>> remote_links('<script src="https://x.org/a.js"></script><link href="/app/b.css"/>')
    ['https://x.org/a.js']
    """
    urls = re.findall(
        r"<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)", html, re.IGNORECASE
    )
    return [u for u in urls if _REMOTE.match(u)]


def _walk(element: Element) -> Iterator[Element]:
    yield element
    for child in element._children.values():
        yield from _walk(child)
