"""The city layers: wards coloured by a rate, the heat map of groups, the lean map."""

from __future__ import annotations

import json
import re

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely
from folium.plugins import HeatMap
from shapely.geometry import Point, Polygon, box

from geo.errors import InputError
from layers.city import group_heat, lean_map, ward_choropleth
from layers.style import HATCH_FILL


def _wards() -> gpd.GeoDataFrame:
    """Three wards in a row; the first a wavy square of 400 vertices (a traced boundary)."""
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    wavy = Polygon(
        np.column_stack([105.805 + 0.005 * np.cos(t), 21.005 + 0.005 * np.sin(t)])
        + np.column_stack([np.zeros(400), 1e-6 * np.sin(40 * t)])
    )
    return gpd.GeoDataFrame(
        {
            "ward_id": ["A", "B", "C"],
            "name": ["Phường An", "Phường Bình", "Xã Cát"],
            "count": [10, 200, 0],
            "rate": [1.5, 30.0, np.nan],
            "population": [10_000, 20_000, None],
        },
        geometry=[wavy, box(105.81, 21.0, 105.82, 21.01), box(105.82, 21.0, 105.83, 21.01)],
        crs=4326,
    )


def _features(layer: folium.FeatureGroup) -> list[dict]:
    (geojson,) = [c for c in layer._children.values() if isinstance(c, folium.GeoJson)]
    return geojson.data["features"]


def test_wards_are_coloured_simplified_and_hatched_without_a_value():
    layer = ward_choropleth(_wards(), value_column="rate", legend_title="Vi phạm / 1.000 dân")
    features = _features(layer)
    assert [f["properties"]["name"] for f in features] == ["Phường An", "Phường Bình", "Xã Cát"]
    assert features[2]["properties"]["fill"] == HATCH_FILL  # no value: no data
    assert features[0]["properties"]["fill"] != features[1]["properties"]["fill"]
    assert [f["properties"]["records"] for f in features] == ["10", "200", "0"]
    # the traced boundary loses its wiggles (1e-6° < the 1e-4° tolerance), keeps its shape
    drawn = shapely.geometry.shape(features[0]["geometry"])
    assert len(drawn.exterior.coords) < 100
    assert drawn.hausdorff_distance(_wards().geometry[0]) < 1.1e-4
    html = folium.Map().add_child(layer).get_root().render()
    assert json.dumps("Không có số liệu")[1:-1] in html  # the legend's no-data row
    (geojson,) = [c for c in layer._children.values() if isinstance(c, folium.GeoJson)]
    (tooltip,) = [c for c in geojson._children.values() if isinstance(c, folium.GeoJsonTooltip)]
    assert tooltip.aliases[0] == "Phường, xã" and tooltip.fields[2] == "records"


def test_ward_choropleth_names_a_missing_column():
    with pytest.raises(InputError, match="'count'"):
        ward_choropleth(_wards().drop(columns="count"), value_column="rate", legend_title="x")


def test_the_heat_map_has_one_point_per_group_with_records_weighted_up_to_one():
    groups = gpd.GeoDataFrame(
        {"count": [0, 1, 50, 1000]},
        geometry=[Point(105.80, 21.0), Point(105.81, 21.0), Point(105.82, 21.0),
                  box(105.83, 21.0, 105.84, 21.01)],
        crs=4326,
    )  # fmt: skip
    layer = group_heat(groups)
    (heat,) = [c for c in layer._children.values() if isinstance(c, HeatMap)]
    data = np.array(heat.data)
    assert len(data) == 3  # the group without records is left out
    assert data[:, 2].max() == 1.0 and 0 < data[0, 2] < data[1, 2] < 1.0
    # a polygon group glows at a point inside it (lat, lon order for Leaflet)
    assert box(105.83, 21.0, 105.84, 21.01).contains(Point(data[2, 1], data[2, 0]))
    assert group_heat(groups.assign(count=0))._children.keys() == set()
    with pytest.raises(InputError, match="'records'"):
        group_heat(groups, weight_column="records")


def test_the_heat_map_writes_the_points_folium_would_as_integers():
    rng = np.random.default_rng(1)
    groups = gpd.GeoDataFrame(
        {"count": rng.integers(0, 500, 300)},
        geometry=gpd.points_from_xy(rng.uniform(105.7, 105.9, 300), rng.uniform(20.9, 21.1, 300)),
        crs=4326,
    )
    layer = group_heat(groups)
    (heat,) = [c for c in layer._children.values() if isinstance(c, HeatMap)]
    html = folium.Map().add_child(layer).get_root().render()
    flat = json.loads(re.search(r"\}\)\((\[[-\d,]*\])\),", html).group(1))
    # what the page's loop makes of them (JavaScript divides as Python does, IEEE 754)
    shown = [[a / 1e4, b / 1e4, c / 1e3] for a, b, c in zip(*[iter(flat)] * 3, strict=True)]
    # the same numbers as folium's own HeatMap of those points writes
    theirs = folium.Map().add_child(HeatMap(heat.data.tolist())).get_root().render()
    expected = theirs.split("L.heatLayer(", 1)[1].split("\n", 2)[1].strip().rstrip(",")
    assert shown == json.loads(expected) == heat.data.tolist()
    assert len(shown) == int((groups["count"] > 0).sum())


def test_a_lean_map_loads_leaflet_alone_and_folium_keeps_its_defaults():
    fmap = lean_map(folium.Map())
    html = fmap.get_root().render()
    assert "leaflet.js" in html and "jquery" not in html.lower() and "bootstrap" not in html
    assert any("jquery" in url for _, url in folium.Map().default_js)
    assert [name for name, _ in fmap.default_css] == ["leaflet_css"]
