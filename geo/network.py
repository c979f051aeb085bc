"""Street networks: load them from OSM XML or GraphML, tabulate their streets, rebuild graphs.

The app keeps streets as a table (``geo.model.SCHEMAS["streets"]``, one row per undirected street
segment in EPSG:4326) and rebuilds a routable graph from that table when it needs one. Loading
works offline from local files; :func:`download_network` is the only function that goes online.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, Literal, cast

import defusedxml.ElementTree as DefusedET
import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely
from defusedxml import DefusedXmlException
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.config import STORAGE_CRS
from geo.crs import metric_crs
from geo.errors import InputError, NetworkError
from geo.model import conform

__all__ = ["download_network", "load_network", "network_from_edges", "street_edges"]

log = logging.getLogger(__name__)

#: Highway values that are not streets one can walk or drive (osmnx's ``network_type="all"``
#: leaves out the same ones).
_NOT_STREETS = frozenset(
    {"abandoned", "construction", "no", "planned", "platform", "proposed", "raceway", "razed"}
)
#: ``footway=*`` values of ways that are part of a street already drawn: a sidewalk mapped
#: beside its road, a zebra crossing. Kept, they double the street: records and patrols
#: along "Phố Huế" land on an unnamed footway 8 m off its centreline.
_PART_OF_STREET = frozenset({"sidewalk", "crossing"})
#: Ways tagged ``foot=no`` are left out too: elevated expressways and flyovers (Vành đai 2,
#: "Cầu vượt ..."), drawn right above the street a team walks, where nobody vends, parks on
#: a sidewalk or patrols.
#: Importance of highway values, most important first: a merged segment is labelled with the
#: most important of its values (osmnx keeps them as an unordered list).
_HIGHWAY_RANK = (
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "motorway_link",
    "trunk_link",
    "primary_link",
    "secondary_link",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "pedestrian",
    "track",
    "cycleway",
    "footway",
    "path",
    "steps",
)
#: Node coordinates are rounded to this many decimals of a degree (~1 cm) to merge line ends.
_COORD_DECIMALS = 7


def load_network(
    source: str | Path, *, kind: Literal["auto", "osm", "graphml"] = "auto"
) -> nx.MultiDiGraph:
    """Load a street network from a local OSM XML or GraphML file, offline.

    From OSM XML only ways tagged ``highway`` are kept (``osmnx.graph_from_xml`` would otherwise
    turn buildings and land use into edges), minus ways that are not streets (proposed,
    under construction, platforms, areas); the largest connected part is kept and simplified,
    as ``osmnx.graph_from_xml`` does. The XML is parsed with ``defusedxml`` first, so a hostile
    file (entity expansion, external entities) is refused.

    Parameters
    ----------
    source
        Path of an ``.osm`` / ``.osm.xml`` file (optionally ``.bz2`` or ``.gz`` compressed) or
        of a ``.graphml`` file saved by ``osmnx.save_graphml``.
    kind
        ``"auto"`` guesses from the file name, then from the file's first bytes.

    Returns
    -------
    networkx.MultiDiGraph
        An osmnx graph in EPSG:4326 (node attributes ``x``, ``y``; edge attribute ``length``).

    Raises
    ------
    NetworkError
        When the file is missing, unreadable, of another format, or holds no streets.
    """
    path = Path(source)
    if not path.is_file():
        raise NetworkError(
            f"Street network file {str(path)!r} does not exist; give the path of an OSM XML "
            "(.osm) or GraphML (.graphml) file, e.g. an Overpass export of way[highway] "
            "around the ward."
        )
    chosen = _guess_kind(path) if kind == "auto" else kind
    graph = _load_graphml(path) if chosen == "graphml" else _load_osm_xml(path)
    if graph.number_of_edges() == 0:
        raise NetworkError(
            f"Street network file {str(path)!r} holds no streets (0 edges); export the ways "
            "tagged highway=* around the ward (Overpass: way[highway](area); (._;>;); out;)."
        )
    log.info(
        "Loaded %s: %d nodes, %d edges", path.name, graph.number_of_nodes(), graph.number_of_edges()
    )
    return graph


def download_network(area: str | BaseGeometry, *, network_type: str = "all") -> nx.MultiDiGraph:
    """Download the street network of ``area`` from OpenStreetMap (needs the internet).

    Parameters
    ----------
    area
        A place name Nominatim can geocode to a polygon, e.g. ``"Phường Kim Liên, Hà Nội"``,
        or a (Multi)Polygon in EPSG:4326 (say a ward buffered by 150 m).
    network_type
        osmnx network type: ``"all"``, ``"drive"``, ``"walk"``, ...

    Returns
    -------
    networkx.MultiDiGraph
        An osmnx graph in EPSG:4326.

    Raises
    ------
    NetworkError
        When the download fails (offline, server error, unknown place) or finds no streets.
    """
    if isinstance(area, str) and not area.strip():
        raise InputError("place is empty; give a place name such as 'Phường Kim Liên, Hà Nội'.")
    if not isinstance(area, str | Polygon | MultiPolygon):
        raise InputError(f"area must be a place name or a polygon, not {area.geom_type}.")
    what = repr(area) if isinstance(area, str) else "the given polygon"
    try:
        if isinstance(area, str):
            graph = ox.graph_from_place(area, network_type=network_type)
        else:
            graph = ox.graph_from_polygon(area, network_type=network_type)
    except Exception as exc:  # requests, osmnx and geocoding errors all mean "no network"
        raise NetworkError(
            f"Could not download the street network of {what} ({type(exc).__name__}: "
            f"{exc}). Downloading needs the internet; offline, load a saved file instead with "
            "geo.network.load_network('streets.osm' or 'streets.graphml')."
        ) from exc
    if graph.number_of_edges() == 0:
        raise NetworkError(f"OpenStreetMap has no {network_type!r} streets in {what}.")
    return graph


def download_boundary(place: str) -> gpd.GeoDataFrame:
    """Geocode ``place`` to its boundary polygon with Nominatim (needs the internet).

    Returns a one-row GeoDataFrame in EPSG:4326 with ``name`` (the place as given) and
    ``source``; raises :class:`NetworkError` naming the offline alternative when it fails.
    """
    try:
        found = ox.geocode_to_gdf(place)
    except Exception as exc:  # offline, unknown place, server error
        raise NetworkError(
            f"Could not find the boundary of {place!r} on OpenStreetMap ({type(exc).__name__}: "
            f"{exc}). This needs the internet; offline, pass a boundary file instead "
            "(e.g. urban-order demo --osm streets.osm --ward ward.geojson)."
        ) from exc
    return gpd.GeoDataFrame(
        {"name": [place], "source": ["OpenStreetMap (online)"]},
        geometry=found.geometry.iloc[:1].to_numpy(),
        crs=found.crs,
    ).to_crs(STORAGE_CRS)


def street_edges(
    graph: nx.MultiDiGraph,
    *,
    clip: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
) -> gpd.GeoDataFrame:
    """Tabulate a street network: one row per undirected street segment.

    A two-way street is one segment, not two (u→v and v→u are merged, parallel ways kept).

    Parameters
    ----------
    graph
        An osmnx graph (from :func:`load_network`, :func:`download_network` or
        :func:`network_from_edges`), in any CRS.
    clip
        Optional polygon(s) to clip the streets to (GeoDataFrame/GeoSeries in any CRS, or a
        shapely geometry in EPSG:4326). A segment leaving and re-entering it gives one row per
        piece, with ``.2``, ``.3``, ... appended to its ``street_id``.

    Returns
    -------
    geopandas.GeoDataFrame
        The ``streets`` table in EPSG:4326: ``street_id`` (``"u-v-key"``), ``ward_id`` (empty),
        ``name`` (names of merged ways joined by ``"; "``), ``highway`` (the most important
        value), ``length_m`` (measured in a metric CRS) and a LineString ``geometry``.
    """
    if graph.number_of_edges() == 0:
        raise NetworkError("The street network has no edges; load a file with highway ways.")
    if "crs" not in graph.graph:
        raise NetworkError("The street network has no 'crs' graph attribute; set G.graph['crs'].")
    undirected = ox.convert.to_undirected(graph)
    edges = ox.convert.graph_to_gdfs(undirected, nodes=False, fill_edge_geometry=True)
    edges = edges.to_crs(STORAGE_CRS)
    u = edges.index.get_level_values(0).astype(str)
    v = edges.index.get_level_values(1).astype(str)
    k = edges.index.get_level_values(2).astype(str)
    table = gpd.GeoDataFrame(
        {
            "street_id": u + "-" + v + "-" + k,
            "name": _column(edges, "name").map(_join_names),
            "highway": _column(edges, "highway").map(_main_highway),
        },
        geometry=edges.geometry.to_numpy(),
        crs=STORAGE_CRS,
    )
    if clip is not None:
        table = _clip_lines(table, _clip_geometry(clip))
    if len(table):
        table["length_m"] = table.geometry.to_crs(metric_crs(table)).length.to_numpy()
    else:
        table["length_m"] = pd.Series(dtype="float64")
    table["ward_id"] = None
    return conform("streets", table)


def network_from_edges(edges: gpd.GeoDataFrame) -> nx.MultiDiGraph:
    """Rebuild a routable graph from a streets table (the output of :func:`street_edges`).

    Line ends closer than about 1 cm (coordinates rounded to 1e-7°) become one node. Every
    segment is added in both directions, so routes may use streets either way (the table
    keeps no one-way information).

    Parameters
    ----------
    edges
        Line features with optional ``street_id``, ``name``, ``highway`` and ``length_m``
        columns; any CRS (converted to EPSG:4326). Multi-part lines are split into parts.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes numbered 0, 1, ... with ``x``/``y`` (degrees); edges with ``length`` (metres),
        ``name``, ``highway``, ``street_id``, ``geometry``; ``graph["crs"] = "EPSG:4326"``.
        osmnx functions that need node coordinates (``nearest_nodes``, ``graph_to_gdfs``,
        ``shortest_path``) work on it.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, MultiPolygon, Polygon
    >>> streets = gpd.GeoDataFrame(
    ...     {"street_id": ["a", "b"]},
    ...     geometry=[LineString([(105.83, 21.0), (105.831, 21.0)]),
    ...               LineString([(105.831, 21.0), (105.831, 21.001)])],
    ...     crs=4326,
    ... )
    >>> g = network_from_edges(streets)
    >>> g.number_of_nodes(), g.number_of_edges()
    (3, 4)
    """
    if edges.crs is None:
        raise InputError("edges has no CRS; set it (EPSG:4326 for longitude/latitude).")
    lines = _line_parts(edges.to_crs(STORAGE_CRS))
    if lines.empty:
        raise NetworkError("No street lines to build a network from; the streets table is empty.")
    lengths = (
        lines["length_m"].to_numpy(dtype="float64")
        if "length_m" in lines.columns
        else np.full(len(lines), np.nan)
    )
    missing = ~np.isfinite(lengths)
    if missing.any():
        lengths[missing] = lines.geometry[missing].to_crs(metric_crs(lines)).length.to_numpy()
    coords = [np.asarray(g.coords) for g in lines.geometry]
    ends = np.array([[c[0], c[-1]] for c in coords]).round(_COORD_DECIMALS)  # (n, 2, 2)
    unique, inverse = np.unique(ends.reshape(-1, 2), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1, 2)
    graph = nx.MultiDiGraph(crs=STORAGE_CRS)
    graph.add_nodes_from(
        (i, {"x": float(x), "y": float(y), "street_count": 0}) for i, (x, y) in enumerate(unique)
    )
    ids = _column(lines, "street_id").astype(object).to_numpy()
    names = _column(lines, "name").astype(object).to_numpy()
    highways = _column(lines, "highway").astype(object).to_numpy()
    for i, geom in enumerate(lines.geometry):
        u, v = int(inverse[i, 0]), int(inverse[i, 1])
        attrs: dict[str, Any] = {
            "length": float(lengths[i]),
            "street_id": _none_if_na(ids[i]),
            "name": _none_if_na(names[i]),
            "highway": _none_if_na(highways[i]),
            "oneway": False,
        }
        graph.add_edge(u, v, geometry=geom, reversed=False, **attrs)
        graph.add_edge(v, u, geometry=geom.reverse(), reversed=True, **attrs)
    for node in graph.nodes:
        graph.nodes[node]["street_count"] = len(set(graph.predecessors(node)) | set(graph[node]))
    return graph


# --- loading ---------------------------------------------------------------------------------


def _guess_kind(path: Path) -> Literal["osm", "graphml"]:
    suffixes = [s.lower() for s in path.suffixes]
    if ".graphml" in suffixes:
        return "graphml"
    if ".osm" in suffixes or suffixes[-1:] == [".xml"]:
        return "osm"
    with _open(path) as f:
        head = f.read(4096)
    if b"<graphml" in head:
        return "graphml"
    if b"<osm" in head:
        return "osm"
    raise NetworkError(
        f"Cannot tell what kind of file {str(path)!r} is (neither OSM XML nor GraphML); "
        "rename it to .osm or .graphml, or pass kind='osm' / kind='graphml'."
    )


def _open(path: Path) -> IO[bytes]:
    suffix = path.suffix.lower()
    if suffix == ".bz2":
        return cast(IO[bytes], bz2.open(path, "rb"))
    if suffix == ".gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def _load_graphml(path: Path) -> nx.MultiDiGraph:
    try:
        return ox.load_graphml(path)
    except Exception as exc:  # networkx/lxml raise many kinds on a broken file
        raise NetworkError(
            f"Cannot read GraphML file {str(path)!r} ({type(exc).__name__}: {exc}); save it "
            "again with osmnx.save_graphml, or load the OSM XML export with kind='osm'."
        ) from exc


def _load_osm_xml(path: Path) -> nx.MultiDiGraph:
    try:
        with _open(path) as f:
            root = DefusedET.parse(f).getroot()
    except DefusedXmlException as exc:
        raise NetworkError(
            f"Refused {str(path)!r}: it uses XML entities ({exc}), which OSM exports never do; "
            "export the streets again from OpenStreetMap/Overpass."
        ) from exc
    except (OSError, EOFError, DefusedET.ParseError) as exc:
        raise NetworkError(
            f"Cannot read OSM XML file {str(path)!r} ({type(exc).__name__}: {exc}); check that "
            "it is a complete .osm export (Overpass 'out;' in XML, not JSON), or load a "
            ".graphml file with kind='graphml'."
        ) from exc
    if root.tag != "osm":
        raise NetworkError(
            f"{str(path)!r} is XML but not OSM XML (root element <{root.tag}>); give an .osm "
            "export, or pass kind='graphml' for a GraphML file."
        )
    kept = _keep_street_ways(root)
    if kept == 0:
        raise NetworkError(
            f"OSM XML file {str(path)!r} has no ways tagged highway=*, so no streets; export "
            "the streets too (Overpass: way[highway](area); (._;>;); out;)."
        )
    with tempfile.TemporaryDirectory(prefix="urban-order-osm-") as tmp:
        filtered = Path(tmp) / "streets.osm"
        ET.ElementTree(root).write(filtered, encoding="utf-8", xml_declaration=True)
        try:
            graph = ox.graph_from_xml(filtered)
        except Exception as exc:  # osmnx raises plain ValueError/KeyError on odd files
            raise NetworkError(
                f"osmnx could not build a graph from {str(path)!r} ({type(exc).__name__}: "
                f"{exc}); check that the export includes the nodes of its ways ('(._;>;)')."
            ) from exc
    log.info("Kept %d street ways of %s", kept, path.name)
    return graph


def _keep_street_ways(root: Any) -> int:
    """Drop, in place, relations, non-street ways and nodes no street uses; count kept ways."""
    used: set[str] = set()
    kept = 0
    for element in list(root):
        if element.tag == "way":
            tags = {t.get("k"): t.get("v") for t in element.iter("tag")}
            highway = tags.get("highway")
            if (
                highway is None
                or highway in _NOT_STREETS
                or tags.get("area") == "yes"
                or tags.get("footway") in _PART_OF_STREET
                or tags.get("foot") == "no"
            ):
                root.remove(element)
                continue
            kept += 1
            used.update(nd.get("ref") for nd in element.iter("nd"))
        elif element.tag == "relation":
            root.remove(element)
    for element in list(root):
        if element.tag == "node" and element.get("id") not in used:
            root.remove(element)
    return kept


# --- tabulating ------------------------------------------------------------------------------


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _values(value: Any) -> list[str]:
    if isinstance(value, list | tuple | set):
        return sorted({str(v) for v in value if not _is_na(v)})
    return [] if _is_na(value) else [str(value)]


def _is_na(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _none_if_na(value: Any) -> Any:
    return None if _is_na(value) else value


def _join_names(value: Any) -> str | None:
    names = _values(value)
    return "; ".join(names) if names else None


def _main_highway(value: Any) -> str | None:
    values = _values(value)
    if not values:
        return None
    rank = {h: i for i, h in enumerate(_HIGHWAY_RANK)}
    return min(values, key=lambda h: (rank.get(h, len(rank)), h))


def _clip_geometry(clip: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry) -> BaseGeometry:
    if isinstance(clip, BaseGeometry):
        return clip
    if clip.crs is None:
        raise InputError("clip has no CRS; set it (EPSG:4326 for longitude/latitude).")
    return shapely.union_all(clip.to_crs(STORAGE_CRS).geometry.to_numpy())


def _clip_lines(table: gpd.GeoDataFrame, area: BaseGeometry) -> gpd.GeoDataFrame:
    candidates = table.iloc[table.sindex.query(area, predicate="intersects")].sort_index()
    clipped = shapely.intersection(candidates.geometry.to_numpy(), area)
    pieces = candidates.drop(columns="geometry").assign(geometry=_lines_only(clipped))
    pieces = gpd.GeoDataFrame(pieces, geometry="geometry", crs=STORAGE_CRS)
    pieces = pieces[~pieces.geometry.is_empty].explode(index_parts=True)
    part = pieces.index.get_level_values(-1).to_numpy()
    suffix = np.where(part == 0, "", "." + (part + 1).astype(str))
    pieces["street_id"] = pieces["street_id"].astype(str) + suffix
    return pieces.reset_index(drop=True)


def _lines_only(geoms: Iterable[BaseGeometry]) -> list[BaseGeometry]:
    """Keep the line parts of clipped geometries (a line touching the edge also gives points)."""
    out = []
    for geom in geoms:
        parts = shapely.get_parts(geom)
        lines = [p for p in parts if p.geom_type == "LineString" and not p.is_empty]
        out.append(shapely.line_merge(shapely.multilinestrings(lines)) if lines else LineString())
    return out


def _line_parts(edges: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    lines = edges[edges.geometry.notna() & ~edges.geometry.is_empty]
    lines = lines.explode(index_parts=False)
    lines = lines[lines.geom_type == "LineString"]
    return lines.reset_index(drop=True)
