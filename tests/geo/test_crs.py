"""Metric CRS choice and the guard against measuring in degrees."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point

from geo.crs import metric_crs, require_projected, to_metric
from geo.errors import GeographicCRSError

HANOI = gpd.GeoSeries([Point(105.83, 21.01)], crs=4326)


def test_hanoi_uses_vn2000_tm3_and_elsewhere_utm():
    assert metric_crs(HANOI).to_epsg() == 5897
    assert metric_crs(HANOI.to_crs(3405)).to_epsg() == 5897  # any input CRS
    assert metric_crs(gpd.GeoSeries([Point(106.7, 10.78)], crs=4326)).to_epsg() == 32648


def test_guard_refuses_degrees_and_names_the_fix():
    with pytest.raises(GeographicCRSError, match=r"to_crs\(geo.crs.metric_crs\(points\)\)"):
        require_projected(HANOI, what="points")
    with pytest.raises(GeographicCRSError, match="no CRS"):
        require_projected(gpd.GeoSeries([Point(0, 0)]), what="points")
    require_projected(HANOI.to_crs(5897), what="points")


def test_to_metric_round_trips_distance():
    pair = gpd.GeoDataFrame(geometry=[Point(105.83, 21.01), Point(105.831, 21.01)], crs=4326)
    metric = to_metric(pair)
    d = metric.geometry.iloc[0].distance(metric.geometry.iloc[1])
    assert 103 < d < 105  # 0.001° of longitude at 21°N
