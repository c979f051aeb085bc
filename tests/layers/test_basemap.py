"""The base map (offline by default) and the street network drawn as its basemap."""

from __future__ import annotations

import json
import re
import time

import folium
import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, MultiLineString, Polygon

from geo.errors import InputError
from layers.assets import remote_links
from layers.basemap import OSM_TILES, base_map, street_layer
from layers.style import STREET_STYLES

BOUNDS = (105.826, 20.998, 105.846, 21.012)


def _geojson(group: folium.FeatureGroup) -> folium.GeoJson:
    (layer,) = [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    return layer


def _streets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "name": [
                "Phố Lương Định Của",
                "Phố Lương Định Của",
                None,
                ["Ngõ 4B", "Ngõ 4C"],
                "['Ngõ 4B', 'Ngõ 4C']",  # the same list after a round trip through text
            ],
            "highway": ["secondary", "secondary", "footway", ["residential", "service"], "service"],
        },
        geometry=[
            LineString([(105.83, 21.0), (105.8351234567, 21.0051234567)]),
            LineString([(105.8351234567, 21.0051234567), (105.84, 21.01)]),
            LineString([(105.831, 21.009), (105.839, 21.001)]),
            MultiLineString(
                [[(105.835, 21.0), (105.835, 21.004)], [(105.835, 21.005), (105.835, 21.01)]]
            ),
            LineString([(105.835, 21.01), (105.836, 21.011)]),
        ],
        crs=4326,
    )


def test_offline_map_has_no_tiles_and_its_own_zoom_range():
    m = base_map(BOUNDS)
    html = m.get_root().render()
    assert not any(isinstance(c, folium.TileLayer) for c in m._children.values())
    # Leaflet needs maxZoom on the map itself when there is no tile layer
    assert re.search(r'"maxZoom": 19', html) and re.search(r'"minZoom": 11', html)
    assert "tile.openstreetmap.org" not in html
    assert "fitBounds" in html and "[[20.998, 105.826], [21.012, 105.846]]" in html
    assert ".getContainer().style.background" in html
    assert remote_links(html) == []


def test_online_map_draws_osm_tiles_with_attribution():
    m = base_map(BOUNDS, online_tiles=True, lang="en")
    (tiles,) = [c for c in m._children.values() if isinstance(c, folium.TileLayer)]
    assert tiles.tiles == OSM_TILES
    html = m.get_root().render()
    assert "openstreetmap.org/copyright" in html
    assert '"maxZoom": 19' in html
    assert remote_links(html) == []


@pytest.mark.parametrize(
    "bounds", [(1, 2, 3), (105.9, 21.0, 105.8, 21.1), (0, 0, float("nan"), 1), ("a", 1, 2, 3)]
)
def test_bad_bounds_are_refused_with_the_expected_order(bounds):
    with pytest.raises(InputError, match="left, bottom, right, top"):
        base_map(bounds)


def test_street_segments_are_merged_per_street_and_class():
    streets = _streets()
    before = streets.copy()
    group = street_layer(streets, name="Đường phố", lang="vi")
    data = _geojson(group).data
    names = [f["properties"]["name"] for f in data["features"]]
    # segments of one street and class -> 1 feature; lists are joined, blanks named
    assert sorted(names) == sorted(["Phố Lương Định Của", "Ngõ 4B / Ngõ 4C", "(đường không tên)"])
    # drawn bottom-up: the footway first, the secondary road last
    assert [f["properties"]["cls"] for f in data["features"]] == ["path", "minor", "major"]
    assert group.layer_name == "Đường phố"
    assert streets.equals(before)


def test_street_widths_follow_the_road_class():
    group = street_layer(_streets(), name="s")
    html = folium.Map(tiles=None).add_child(group).get_root().render()
    major, minor, path = (STREET_STYLES[c]["weight"] for c in ("major", "minor", "path"))
    assert major > minor > path
    for weight in (major, minor, path):
        assert f'"weight": {weight}' in html
    assert '"color": "#8c8c8c"' in html


def test_street_coordinates_are_rounded_to_a_micro_degree():
    data = _geojson(street_layer(_streets(), name="s")).data
    coords = json.dumps([f["geometry"] for f in data["features"]])
    assert "105.835123" in coords
    assert not re.search(r"\d+\.\d{7,}", coords)


def test_osm_attribution_is_shown_while_streets_are_on_the_map():
    m = folium.Map(tiles=None)
    street_layer(_streets(), name="s").add_to(m)
    html = m.get_root().render()
    # an option of the street layer: Leaflet shows it while the layer is on the map
    assert re.search(r'"attribution": "[^\n]*openstreetmap.org/copyright', html)
    own = street_layer(_streets(), name="s", attribution=None)
    assert "attribution" not in _geojson(own).options


def test_street_tooltip_names_the_street():
    layer = _geojson(street_layer(_streets(), name="s", lang="en"))
    (tooltip,) = [c for c in layer._children.values() if isinstance(c, folium.GeoJsonTooltip)]
    assert tooltip.fields == ["name"] and tooltip.aliases == ["Street"]


def test_no_street_gives_an_empty_layer():
    empty = gpd.GeoDataFrame({"name": [], "highway": []}, geometry=[], crs=4326)
    group = street_layer(empty, name="s")
    assert not [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    folium.Map(tiles=None).add_child(group).get_root().render()


def test_streets_need_a_crs_and_lines():
    streets = _streets().set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="no CRS"):
        street_layer(streets, name="s")
    square = Polygon([(105.83, 21.0), (105.84, 21.0), (105.84, 21.01)])
    only_polygons = gpd.GeoDataFrame({"name": ["x"]}, geometry=[square], crs=4326)
    assert not [
        c
        for c in street_layer(only_polygons, name="s")._children.values()
        if isinstance(c, folium.GeoJson)
    ]


def test_four_thousand_segments_make_one_layer_quickly():
    rng = np.random.default_rng(7)
    n = 4000
    x0, y0 = rng.uniform(105.82, 105.85, n), rng.uniform(20.99, 21.02, n)
    lines = [LineString([(x, y), (x + 4e-4, y + 3e-4)]) for x, y in zip(x0, y0, strict=True)]
    streets = gpd.GeoDataFrame(
        {
            "name": [f"Phố {i % 150}" for i in range(n)],
            "highway": rng.choice(["primary", "residential", "service", "footway"], n),
        },
        geometry=lines,
        crs=4326,
    ).to_crs(5897)
    start = time.perf_counter()
    group = street_layer(streets, name="s")
    m = folium.Map(tiles=None).add_child(group)
    html = m.get_root().render()
    elapsed = time.perf_counter() - start
    layers = [c for c in group._children.values() if isinstance(c, folium.GeoJson)]
    assert len(layers) == 1
    assert len(layers[0].data["features"]) <= 150 * 4
    assert elapsed < 3.0
    assert len(html) < 1_000_000


@pytest.mark.realdata
def test_kim_lien_streets_draw_as_one_light_layer(kim_lien_osm):
    import pyogrio

    # the extract's node ids are not sorted, which GDAL's fast OSM index assumes
    pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": "NO"})
    try:
        lines = pyogrio.read_dataframe(kim_lien_osm, layer="lines", columns=["name", "highway"])
    finally:
        pyogrio.set_gdal_config_options({"OSM_USE_CUSTOM_INDEXING": None})
    streets = lines[lines["highway"].notna()]
    assert len(streets) > 500
    group = street_layer(streets, name="s")
    data = _geojson(group).data
    assert 0 < len(data["features"]) < len(streets)
    assert {f["properties"]["cls"] for f in data["features"]} >= {"major", "minor"}
    payload = json.dumps(data)
    assert len(payload) < 600_000
