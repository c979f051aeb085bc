"""Campaign layer (target, buffer, control by before/after) and the clean-ups layer."""

from __future__ import annotations

import re

import folium
import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geo.errors import InputError
from layers.assets import localize, remote_links
from layers.campaign import AREA_COLORS, campaign_layer, cleanups_layer


def _html(group: folium.FeatureGroup) -> str:
    fmap = folium.Map(location=(21.0, 105.83), zoom_start=15, tiles=None)
    group.add_to(fmap)
    html = localize(fmap).get_root().render()
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), html)


def _groups() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "group_id": list("abcd"),
            "name": ["Tổ 1", "Tổ 2", "Tổ 3", "Tổ 4"],
            "area": ["target", "buffer", "control", "excluded"],
            "before": [100, 100, 0, 7],
            "after": [50, 150, 4, 7],
        },
        geometry=[box(105.83 + i * 0.001, 21.0, 105.831 + i * 0.001, 21.001) for i in range(4)],
        crs=4326,
    )


def test_areas_coloured_changes_in_tooltips_excluded_left_out():
    group = campaign_layer(_groups(), lang="vi")
    geojson = next(c for c in group._children.values() if isinstance(c, folium.GeoJson))
    props = {f["properties"]["label"]: f["properties"] for f in geojson.data["features"]}
    assert set(props) == {"Tổ 1", "Tổ 2", "Tổ 3"}  # the excluded group is not drawn
    assert props["Tổ 1"]["color"] == AREA_COLORS["target"]
    assert props["Tổ 1"]["change"] == "−50 %" and props["Tổ 2"]["change"] == "+50 %"
    assert props["Tổ 3"]["change"] == "—"  # nothing before: no share to speak of
    assert props["Tổ 1"]["counts"] == "100 → 50"
    # a bigger change shows stronger than no change
    assert props["Tổ 1"]["opacity"] > props["Tổ 3"]["opacity"]
    html = _html(group)
    assert "Vùng đệm (lân cận)" in html and not remote_links(html)
    with pytest.raises(InputError, match="before"):
        campaign_layer(_groups().drop(columns="before"))


def test_cleanups_are_squares_sized_by_waste_offline():
    cleanups = gpd.GeoDataFrame(
        {
            "started_at": pd.to_datetime(["2025-07-06 07:00", "2025-07-20 07:00"]).tz_localize(
                "Asia/Ho_Chi_Minh"
            ),
            "participants": [40, 12],
            "waste_kg": [400.0, 25.0],
        },
        geometry=[Point(105.83, 21.0), Point(105.831, 21.001)],
        crs=4326,
    )
    layer = cleanups_layer(cleanups, lang="vi")
    html = _html(layer)
    sizes = [int(s) for s in re.findall(r"width:(\d+)px;height:\d+px;background:#43a047cc", html)]
    assert len(sizes) == 2 and sizes[0] > sizes[1]
    assert "Tổng vệ sinh 06/07/2025: 40 người, 400 kg rác" in html
    assert not remote_links(html)
    assert cleanups_layer(cleanups.iloc[:0])._children == {}
