"""Tests of geo.network: loading OSM XML / GraphML offline, the streets table, rebuilding graphs."""

from __future__ import annotations

import bz2
import functools
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pytest
import requests
from pyproj import Geod
from shapely.geometry import LineString, MultiLineString, box

from geo.errors import NetworkError
from geo.model import SCHEMAS
from geo.network import download_network, load_network, network_from_edges, street_edges

# --- a hand-drawn OSM extract near Hà Nội -----------------------------------------------------
#
#            n4 ──(one-way)──► n8 ──► n3
#            │                        │
#  n1 ───── n2 ────────────────────── n3 ── n6 ── n7 ··(proposed)·· n16
#            │                        └─ building n3-n9-n10-n11
#            n5
NODES = {
    1: (105.830, 21.000),
    2: (105.831, 21.000),
    3: (105.832, 21.000),
    4: (105.831, 21.001),
    5: (105.831, 20.999),
    6: (105.833, 21.000),
    7: (105.834, 21.000),
    8: (105.8315, 21.0012),
    9: (105.8322, 20.9995),
    10: (105.8328, 20.9995),
    11: (105.8328, 21.0000),
    12: (105.840, 21.010),
    13: (105.841, 21.010),
    14: (105.841, 21.011),
    16: (105.835, 21.000),
}
WAYS = [
    (101, [1, 2, 3], {"highway": "residential", "name": "Phố Tây"}),
    (102, [2, 4], {"highway": "tertiary", "name": "Phố Bắc"}),
    (103, [2, 5], {"highway": "residential", "name": "Phố Nam"}),
    (104, [3, 6], {"highway": "service", "name": "Ngõ A"}),
    (105, [6, 7], {"highway": "footway", "name": "Ngõ B"}),
    (106, [4, 8, 3], {"highway": "residential", "oneway": "yes"}),
    (107, [3, 9, 10, 11, 3], {"building": "yes"}),
    (108, [12, 13, 14, 12], {"landuse": "residential"}),
    (109, [7, 16], {"highway": "proposed"}),
]
GEOD = Geod(ellps="WGS84")


def _osm_xml(ways: list[tuple[int, list[int], dict[str, str]]] = WAYS) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lon, lat) in NODES.items():
        lines.append(f'  <node id="{nid}" lat="{lat}" lon="{lon}" version="1"/>')
    for wid, refs, tags in ways:
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    return "\n".join(lines)


@pytest.fixture
def osm_file(tmp_path: Path) -> Path:
    path = tmp_path / "streets.osm"
    path.write_text(_osm_xml(), encoding="utf-8")
    return path


@pytest.fixture
def graph(osm_file: Path) -> nx.MultiDiGraph:
    return load_network(osm_file)


# --- load_network ------------------------------------------------------------------------------


def test_load_osm_keeps_only_street_ways(osm_file: Path) -> None:
    g = load_network(osm_file)
    # n6 and n8 are simplified away; the building, land use and proposed way are gone
    assert set(g.nodes) == {1, 2, 3, 4, 5, 7}
    assert g.number_of_edges() == 11  # 5 two-way segments x 2 + 1 one-way
    assert all("highway" in d for *_, d in g.edges(data=True))
    # plain osmnx.graph_from_xml turns the building and the proposed way into edges
    unfiltered = ox.graph_from_xml(osm_file)
    assert unfiltered.number_of_edges() > g.number_of_edges()
    assert 16 in unfiltered.nodes


def test_load_compressed_osm(tmp_path: Path) -> None:
    path = tmp_path / "streets.osm.bz2"
    path.write_bytes(bz2.compress(_osm_xml().encode()))
    assert load_network(path).number_of_edges() == 11


def test_load_graphml_roundtrip(graph: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = tmp_path / "streets.graphml"
    ox.save_graphml(graph, path)
    loaded = load_network(path)
    assert loaded.number_of_nodes() == graph.number_of_nodes()
    assert loaded.number_of_edges() == graph.number_of_edges()
    # kind is sniffed from the content when the name says nothing
    renamed = path.rename(tmp_path / "streets.data")
    assert load_network(renamed).number_of_edges() == graph.number_of_edges()


@pytest.mark.parametrize(
    ("content", "name", "kind", "message"),
    [
        (None, "absent.osm", "auto", "does not exist"),
        ("", "empty.osm", "auto", "Cannot read OSM XML"),
        ("this is not xml", "junk.osm", "auto", "Cannot read OSM XML"),
        ("<osm version='0.6'><node id='1' lat='21' lon='105'/></osm>", "n.osm", "auto", "highway"),
        ("<kml></kml>", "places.xml", "auto", "not OSM XML"),
        ("<graphml><broken", "g.graphml", "auto", "Cannot read GraphML"),
        ("hello", "mystery.bin", "auto", "Cannot tell what kind"),
        (
            '<?xml version="1.0"?><!DOCTYPE osm [<!ENTITY a "aaaa">]><osm>&a;</osm>',
            "bomb.osm",
            "osm",
            "entities",
        ),
    ],
)
def test_load_bad_files_raise_clear_errors(
    tmp_path: Path, content: str | None, name: str, kind: str, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(NetworkError, match=message) as info:
        load_network(path, kind=kind)  # type: ignore[arg-type]
    assert name in str(info.value)


# --- download_network (never online in tests) ----------------------------------------------


def test_download_offline_fails_with_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    # point osmnx at a closed loopback port: the real code path, failing in about a second
    monkeypatch.setattr(ox.settings, "nominatim_url", "http://127.0.0.1:9/")
    monkeypatch.setattr(ox.settings, "overpass_url", "http://127.0.0.1:9/api")
    monkeypatch.setattr(ox.settings, "doh_url_template", None)
    monkeypatch.setattr(ox.settings, "use_cache", False)
    with pytest.raises(NetworkError, match=r"needs the internet.*load_network"):
        download_network("Phường Kim Liên, Hà Nội")


def test_download_wraps_osmnx_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise requests.ConnectionError("Name or service not known")

    monkeypatch.setattr(ox, "graph_from_place", offline)
    with pytest.raises(NetworkError, match=r"Kim Liên.*ConnectionError"):
        download_network("Phường Kim Liên, Hà Nội", network_type="drive")


# --- street_edges ---------------------------------------------------------------------------


def test_street_edges_one_row_per_undirected_segment(graph: nx.MultiDiGraph) -> None:
    streets = street_edges(graph)
    assert list(streets.columns) == list(SCHEMAS["streets"])
    assert {c: str(t) for c, t in streets.dtypes.items() if c != "geometry"} == {
        c: t for c, t in SCHEMAS["streets"].items() if c != "geometry"
    }
    assert streets.crs.to_epsg() == 4326
    assert len(streets) == 6
    assert streets["street_id"].is_unique
    assert (streets.geom_type == "LineString").all()
    assert streets["ward_id"].isna().all()


def test_street_edges_measures_metres(graph: nx.MultiDiGraph) -> None:
    streets = street_edges(graph).set_index("name")
    geodesic = GEOD.geometry_length(LineString([NODES[1], NODES[2]]))
    west = streets.loc["Phố Tây"]
    assert len(west) == 2  # n1-n2 and n2-n3
    assert west["length_m"].to_numpy() == pytest.approx([geodesic, geodesic], rel=1e-3)
    assert streets["length_m"].sum() == pytest.approx(
        sum(GEOD.geometry_length(g) for g in street_edges(graph).geometry), rel=1e-3
    )


def test_street_edges_merged_ways_name_and_highway(graph: nx.MultiDiGraph) -> None:
    streets = street_edges(graph)
    merged = streets[streets["name"].str.contains("Ngõ", na=False)]
    assert merged["name"].tolist() == ["Ngõ A; Ngõ B"]
    assert merged["highway"].tolist() == ["service"]  # more important than footway
    assert streets["name"].isna().sum() == 1  # the unnamed one-way lane


def test_street_edges_clip(graph: nx.MultiDiGraph) -> None:
    area = box(105.8305, 20.9995, 105.8325, 21.0005)
    streets = street_edges(graph, clip=gpd.GeoSeries([area], crs=4326))
    assert streets.geometry.within(area.buffer(1e-9)).all()
    metres = streets.groupby(streets["name"].fillna("-"))["length_m"].sum()
    half = GEOD.geometry_length(LineString([NODES[1], NODES[2]])) / 2  # 0.0005° of longitude
    north = GEOD.geometry_length(LineString([(105.831, 21.0), (105.831, 21.0005)]))
    assert metres["Phố Tây"] == pytest.approx(3 * half, rel=1e-3)  # 105.8305 to 105.832
    assert metres["Ngõ A; Ngõ B"] == pytest.approx(half, rel=1e-3)  # 105.832 to 105.8325
    assert metres["Phố Bắc"] == pytest.approx(north, rel=1e-3)
    assert metres["Phố Nam"] == pytest.approx(north, rel=2e-3)


def test_street_edges_clip_splits_a_segment_leaving_and_reentering(
    graph: nx.MultiDiGraph,
) -> None:
    # a U-shaped area: Phố Tây (n1-n2-n3, y=21.000) leaves it and comes back
    u_shape = box(105.8300, 20.9990, 105.8340, 21.0010).difference(
        box(105.8313, 20.9995, 105.8317, 21.0020)
    )
    streets = street_edges(graph, clip=u_shape)
    west = streets[streets["name"] == "Phố Tây"]
    assert len(west) == 3  # n1-n2, then n2-n3 in two pieces
    assert west["street_id"].is_unique
    assert west["street_id"].str.endswith(".2").sum() == 1


# --- network_from_edges ---------------------------------------------------------------------


def test_network_from_edges_rebuilds_a_routable_graph(graph: nx.MultiDiGraph) -> None:
    streets = street_edges(graph)
    rebuilt = network_from_edges(streets)
    assert rebuilt.graph["crs"] == "EPSG:4326"
    assert rebuilt.number_of_nodes() == graph.number_of_nodes()
    assert rebuilt.number_of_edges() == 2 * len(streets)
    nodes, edges = ox.convert.graph_to_gdfs(rebuilt)
    assert len(nodes) == 6
    assert edges["length"].sum() == pytest.approx(2 * streets["length_m"].sum())
    # (osmnx's nearest_nodes needs scikit-learn on an unprojected graph: look up by coordinates)
    west_end, east_end = (
        min(rebuilt.nodes, key=lambda n, p=p: (rebuilt.nodes[n]["x"] - p[0]) ** 2
            + (rebuilt.nodes[n]["y"] - p[1]) ** 2)
        for p in (NODES[1], NODES[7])
    )  # fmt: skip
    route = ox.routing.shortest_path(rebuilt, west_end, east_end, weight="length")
    assert route is not None and len(route) == 4  # n1, n2, n3, n7
    length = nx.path_weight(rebuilt, route, weight="length")
    assert length == pytest.approx(GEOD.geometry_length(LineString([NODES[1], NODES[7]])), rel=1e-3)
    # names and kinds survive, in both directions
    u, v = route[-2], route[-1]
    assert rebuilt[u][v][0]["name"] == rebuilt[v][u][0]["name"] == "Ngõ A; Ngõ B"


def test_network_from_edges_merges_nearly_equal_ends_and_splits_multilines() -> None:
    streets = gpd.GeoDataFrame(
        {"street_id": ["a", "b"], "name": ["A", None]},
        geometry=[
            LineString([(105.830, 21.0), (105.831, 21.0)]),
            MultiLineString(
                [
                    [(105.831 + 1e-9, 21.0), (105.831, 21.001)],
                    [(105.832, 21.0), (105.833, 21.0)],
                ]
            ),
        ],
        crs=4326,
    ).to_crs(32648)
    rebuilt = network_from_edges(streets)
    assert rebuilt.number_of_nodes() == 5
    assert rebuilt.number_of_edges() == 6
    assert nx.number_weakly_connected_components(rebuilt) == 2
    lengths = sorted({round(d["length"]) for *_, d in rebuilt.edges(data=True)})
    assert lengths == [104, 111]  # 0.001° of longitude / latitude at 21° N, in metres
    assert {d["name"] for *_, d in rebuilt.edges(data=True)} == {"A", None}


def test_network_from_empty_table_raises() -> None:
    with pytest.raises(NetworkError, match="empty"):
        network_from_edges(gpd.GeoDataFrame(geometry=[], crs=4326))


# --- real data: Kim Liên, May 2025 ---------------------------------------------------------


@functools.cache
def _kim_lien_graph(path: Path) -> nx.MultiDiGraph:
    return load_network(path)


@pytest.mark.realdata
def test_kim_lien_network_matches_the_data_readme(kim_lien_osm: Path, kim_lien_ward: Path) -> None:
    # The README counts osmnx's graph of every highway way: 1,610 nodes / 4,106 edges.
    full = ox.graph_from_xml(kim_lien_osm)
    assert (full.number_of_nodes(), full.number_of_edges()) == (1610, 4106)
    ward = gpd.read_file(kim_lien_ward).geometry.iloc[0]
    inside = ox.truncate.truncate_graph_polygon(full, ward, truncate_by_edge=True)
    assert (inside.number_of_nodes(), inside.number_of_edges()) == (1112, 2909)
    km = sum(d["length"] for *_, d in inside.edges(data=True)) / 1000
    assert km == pytest.approx(134.6, abs=0.05)


@pytest.mark.realdata
def test_kim_lien_network_leaves_out_sidewalks_crossings_and_flyovers(kim_lien_osm: Path) -> None:
    root = ET.parse(kim_lien_osm).getroot()
    left_out, kept = set(), set()
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if "highway" not in tags:
            continue
        part = tags.get("footway") in ("sidewalk", "crossing") or tags.get("foot") == "no"
        (left_out if part else kept).add(int(way.get("id")))
    assert len(left_out) > 150  # 88 sidewalks, 74 crossings, Vành đai 2 and the flyovers
    g = _kim_lien_graph(kim_lien_osm)
    osmids: set[int] = set()
    for *_, d in g.edges(data=True):
        osmids.update(d["osmid"] if isinstance(d["osmid"], list) else [d["osmid"]])
    assert not osmids & left_out
    assert len(osmids & kept) > 0.9 * len(kept)  # the rest stays (bar a few cut-off bits)
    assert (g.number_of_nodes(), g.number_of_edges()) == (1145, 2552)


@pytest.mark.realdata
def test_kim_lien_street_table_length(kim_lien_osm: Path, kim_lien_ward: Path) -> None:
    g = _kim_lien_graph(kim_lien_osm)
    ward = gpd.read_file(kim_lien_ward)
    streets = street_edges(g, clip=ward)
    assert streets["street_id"].is_unique
    assert (streets.geom_type == "LineString").all()
    assert streets.geometry.within(ward.geometry.iloc[0].buffer(1e-7)).all()
    # The README's 134.6 km counts every directed edge with a node in the ward, whole, so
    # two-way streets twice. The table counts each street once and only inside the ward.
    # Independent oracle: clip the directed edges, and count a two-way edge (one whose
    # reverse exists) half. Parallel-edge handling differs slightly: allow 0.5 %.
    edges = ox.convert.graph_to_gdfs(g, nodes=False).to_crs(5897)
    clipped = edges.geometry.intersection(ward.to_crs(5897).geometry.iloc[0]).length
    pairs = set(edges.index.droplevel(2))
    twin = np.array([(v, u) in pairs for u, v, _ in edges.index])
    oracle_km = float((clipped * np.where(twin, 0.5, 1.0)).sum()) / 1000
    km = streets["length_m"].sum() / 1000
    assert km == pytest.approx(oracle_km, rel=0.005)
    # ≈ 53.3 km of streets in the 2.42 km² ward; ~19 km more are sidewalks and crossings
    # drawn beside their roads, and Vành đai 2 and the flyovers above them.
    assert 52 < km < 55


def test_download_boundary_offline_names_the_offline_alternative(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from geo.network import download_boundary

    def offline(*args: object, **kwargs: object) -> None:
        raise requests.ConnectionError("Name or service not known")

    monkeypatch.setattr(ox, "geocode_to_gdf", offline)
    with pytest.raises(NetworkError, match=r"needs the internet.*--ward"):
        download_boundary("Phường Kim Liên, Hà Nội, Việt Nam")
