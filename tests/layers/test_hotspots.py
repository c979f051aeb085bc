"""Hotspot layers: only informative cells drawn, Gi* classes, hot streets, repeat places."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Point, box

from layers.assets import localize, remote_links
from layers.hotspots import hot_streets_layer, hotspot_cells, repeat_places_layer


def _html(group: folium.FeatureGroup) -> str:
    fmap = folium.Map(location=(21.0, 105.83), zoom_start=15, tiles=None)
    group.add_to(fmap)
    html = localize(fmap).get_root().render()
    # legends go through tojson, which escapes non-ASCII letters
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)


def _cells(**columns) -> gpd.GeoDataFrame:
    n = len(next(iter(columns.values())))
    geoms = [box(105.83 + i * 0.001, 21.0, 105.831 + i * 0.001, 21.001) for i in range(n)]
    return gpd.GeoDataFrame(columns, geometry=geoms, crs=4326)


def test_count_cells_draw_only_cells_with_records_in_classes():
    cells = _cells(unit_id=list("abcd"), rank=[2, 1, 3, 4], score=[3.0, 9.0, 0.0, 0.0],
                   count=[3, 9, 0, 0])  # fmt: skip
    group = hotspot_cells(cells, legend_title="Số vi phạm", lang="vi")
    geojson = next(c for c in group._children.values() if isinstance(c, folium.GeoJson))
    assert len(geojson.data["features"]) == 2  # the empty cells cost nothing
    ranks = sorted(f["properties"]["rank"] for f in geojson.data["features"])
    assert ranks == [1, 2]
    html = _html(group)
    assert "Số vi phạm" in html
    assert not remote_links(html)


def test_gi_cells_are_hot_warm_cold_or_plain():
    cells = _cells(unit_id=list("abcde"), rank=[1, 2, 5, 3, 4], score=[5.0, 2.5, -3.0, 1.0, 0.0],
                   count=[30, 12, 0, 4, 0], z=[5.0, 2.5, -3.0, 1.0, 0.0],
                   p_fdr=[0.001, 0.2, 0.01, 0.9, 1.0], hot=[True, False, False, False, False],
                   cold=[False, False, True, False, False])  # fmt: skip
    group = hotspot_cells(cells, legend_title="z", lang="en")
    geojson = next(c for c in group._children.values() if isinstance(c, folium.GeoJson))
    fills = {f["properties"]["rank"]: f["properties"]["fill"] for f in geojson.data["features"]}
    assert set(fills) == {1, 2, 3, 5}  # the empty, not significant cell is left out
    assert fills[1] == "#d7301f" and fills[2] == "#fcae91" and fills[5] == "#2171b5"
    assert fills[3] == "#ffffff"
    html = _html(group)
    assert "Hot spot (statistically significant)" in html
    assert "not significant after FDR" in html


def test_hot_streets_draw_segments_with_records_and_their_names():
    segs = gpd.GeoDataFrame(
        {
            "segment_id": ["a/1", "a/2", "b/1"],
            "name": ["Phố Huế", "Phố Huế", None],
            "from_name": ["Phố Lò Đúc", None, None],
            "to_name": ["Ngõ 5", None, None],
            "length_m": [100.0, 90.0, 40.0],
            "count": [12, 0, 2],
            "per_100m": [12.0, 0.0, 5.0],
            "rank": [1, 3, 2],
        },
        geometry=[LineString([(105.83, 21.0), (105.831, 21.0)])] * 3,
        crs=4326,
    )
    group = hot_streets_layer(segs, lang="vi")
    geojson = next(c for c in group._children.values() if isinstance(c, folium.GeoJson))
    props = [f["properties"] for f in geojson.data["features"]]
    assert [p["rank"] for p in props] == [1, 2]
    assert props[0]["between"] == "Phố Lò Đúc – Ngõ 5"
    assert props[1]["name"] == "Đường chưa có tên" or props[1]["name"]
    assert props[0]["weight"] > props[1]["weight"]  # hotter is wider
    assert "Vi phạm / 100 m đường" in _html(group)


def test_repeat_places_are_circles_sized_by_count():
    places = gpd.GeoDataFrame(
        {
            "place_id": ["P1", "P2"],
            "count": [40, 4],
            "first_at": pd.to_datetime(["2025-01-02", "2025-03-01"]).tz_localize("Asia/Bangkok"),
            "last_at": pd.to_datetime(["2025-10-02", "2025-03-09"]).tz_localize("Asia/Bangkok"),
            "address": ["số 12 Phố Huế", None],
            "rank": [1, 2],
        },
        geometry=[Point(105.83, 21.0), Point(105.831, 21.0)],
        crs=4326,
    )
    group = repeat_places_layer(places, lang="vi")
    markers = [c for c in group._children.values() if isinstance(c, folium.CircleMarker)]
    assert len(markers) == 2
    assert markers[0].options["radius"] > markers[1].options["radius"]
    html = _html(group)
    assert "số 12 Phố Huế" in html and "02/01/2025" in html
    assert len(repeat_places_layer(places.iloc[:0], lang="vi")._children) == 0
