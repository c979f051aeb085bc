"""The synthetic city of the citywide benchmarks: deterministic, exact coverages, Hà Nội-like."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from bench.city import make_city
from geo.config import HANOI_BBOX
from geo.crs import metric_crs
from geo.model import SCHEMAS


def test_the_city_is_deterministic_and_its_tables_follow_the_model():
    one = make_city(groups=60, records=3_000, wards=6, cache_dir=None)
    two = make_city(groups=60, records=3_000, wards=6, cache_dir=None)
    for a, b in zip(one, two, strict=True):
        assert a.equals(b)
    other = make_city(groups=60, records=10, wards=6, seed=1, cache_dir=None)
    assert not other.groups.geometry.equals(one.groups.geometry)
    for table in ("wards", "zones", "groups"):
        assert list(getattr(one, table).columns) == list(SCHEMAS[table])
    assert len(one.wards) == 6 and len(one.groups) == 60 and len(one.records) == 3_000
    per_ward = one.zones.groupby("ward_id").size()
    assert per_ward.between(3, 6).all()
    assert one.groups["group_id"].is_unique and one.records["record_id"].is_unique
    assert set(one.groups["zone_id"]) == set(one.zones["zone_id"])
    assert one.wards["population"].sum() == one.groups["population"].sum() > 8_000_000


def test_groups_zones_and_wards_are_exact_coverages_in_hanoi():
    city = make_city(groups=600, records=0, cache_dir=None)
    for table in (city.groups, city.zones, city.wards):
        geoms = table.geometry.to_numpy()
        assert shapely.is_valid(geoms).all()
        # neighbours share their edges vertex for vertex: no gap, no overlap, no T-junction
        assert shapely.coverage_is_valid(geoms)
    # the wards are the union of their groups
    by_ward = city.groups.dissolve("ward_id").geometry
    for ward_id, geom in zip(city.wards["ward_id"], city.wards.geometry, strict=True):
        assert shapely.equals(geom, by_ward[ward_id])
    left, bottom, right, top = city.wards.total_bounds
    assert (
        HANOI_BBOX[0] < left < right < HANOI_BBOX[2]
        and HANOI_BBOX[1] < bottom < top < HANOI_BBOX[3]
    )
    assert metric_crs(city.wards).to_epsg() == 5897
    # small wards in the centre, large ones outside, about 3,300 km² in all (Hà Nội: 3,359)
    km2 = city.wards.to_crs(5897).area.to_numpy() / 1e6
    assert 3_000 < km2.sum() < 3_600
    assert np.median(km2[:10]) < 5 < 30 < np.median(km2[-30:])


def test_records_cluster_and_some_lie_on_shared_edges_vertices_and_outside():
    city = make_city(groups=600, records=40_000, cache_dir=None)
    records = city.records
    left, bottom, right, top = records.total_bounds
    assert HANOI_BBOX[0] < left and right < HANOI_BBOX[2]
    assert HANOI_BBOX[1] < bottom and top < HANOI_BBOX[3]
    assert records["observed_at"].dt.year.eq(2025).all()
    joined = gpd.GeoDataFrame(geometry=records.geometry).sjoin(
        city.groups[["group_id", "geometry"]], how="left", predicate="within"
    )
    in_none = joined["group_id"].isna().to_numpy()
    points = records.geometry.to_numpy()
    city_area = shapely.union_all(city.wards.geometry.to_numpy())
    shapely.prepare(city_area)
    outside = ~shapely.intersects(city_area, points)
    assert outside.sum() == 200  # 0.5 %
    # on an edge or a vertex between groups (exactly, in floating point): within no group
    edges = shapely.union_all(city.groups.boundary.to_numpy())
    shapely.prepare(edges)
    on_edge = shapely.intersects(edges, points) & ~outside
    assert on_edge.sum() >= 35  # 20 on vertices, 20 on edges, a few outline vertices
    assert in_none[on_edge].all()
    # most records within 10 km of Hoàn Kiếm
    near = records.to_crs(5897).distance(gpd.GeoSeries.from_xy([588_384], [2_326_344]).iloc[0])
    assert (near < 10_000).mean() > 0.6


def test_the_polygons_are_cached_and_read_back_unchanged(tmp_path):
    built = make_city(groups=60, records=100, wards=6, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("city-v*-w6-g60-s0/*.parquet"))) == 3
    cached = make_city(groups=60, records=100, wards=6, cache_dir=tmp_path)
    for a, b in zip(built, cached, strict=True):
        assert a.equals(b)
