"""What a store gives back is what was written: values, dtypes, geometry and row order."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from geo.errors import StoreError
from geo.model import SCHEMAS, SPATIAL_TABLES, conform
from geo.store import Query
from tests.contract.samples import BOUNDARY_TIME, full_sample, groups, violations


@pytest.mark.parametrize("table", list(SCHEMAS))
def test_every_table_keeps_values_dtypes_and_geometry(store, table):
    sample = full_sample(table)
    store.write({table: sample}, user="t", action="round trip")
    back = store.read(table, Query(as_of=BOUNDARY_TIME))
    if table == "audit_log":  # the write logged itself after the sample rows
        assert back["action"].iloc[-1] == "round trip"
        back = back.iloc[: len(sample)]
    assert list(back.columns) == list(sample.columns)
    pd.testing.assert_frame_equal(
        pd.DataFrame(back.drop(columns="geometry", errors="ignore")),
        pd.DataFrame(sample.drop(columns="geometry", errors="ignore")),
    )
    if table in SPATIAL_TABLES:
        assert isinstance(back, gpd.GeoDataFrame) and back.crs.to_epsg() == 4326
        assert back.geometry.isna().tolist() == sample.geometry.isna().tolist()
        there = sample.geometry.notna()
        assert (back.geometry[there].geom_type == SPATIAL_TABLES[table]).all()
        assert back.geometry[there].geom_equals_exact(sample.geometry[there], 1e-12).all()


def test_rows_come_back_in_the_order_written(store):
    first, second = violations(30, seed=1), violations(30, start=30, seed=2)
    store.write({"violations": first}, user="t", action="one")
    store.write({"violations": second.iloc[::-1]}, user="t", action="two")
    order = [*first["record_id"], *second["record_id"].iloc[::-1]]
    assert store.read("violations")["record_id"].tolist() == order


def test_single_parts_are_stored_as_the_tables_multi_type_and_empty_stays_empty(store):
    g = groups().set_geometry([box(105.83, 21.0, 105.835, 21.01), Polygon()])
    store.write({"groups": g}, user="t", action="polygons")
    back = store.read("groups").geometry
    assert back.iloc[0].geom_type == "MultiPolygon" and back.iloc[0].equals(g.geometry.iloc[0])
    assert back.iloc[1] is not None and back.iloc[1].is_empty
    v = violations(2).set_geometry([Point(), None])
    store.write({"violations": v}, user="t", action="empty points")
    points = store.read("violations").geometry
    assert points.iloc[0].is_empty and points.iloc[1] is None


def test_a_single_line_in_a_multi_line_table_keeps_its_shape(store):
    line = LineString([(105.83, 21.0), (105.831, 21.001)])
    streets = gpd.GeoDataFrame(
        {"model_street_id": ["m1"], "ward_id": "w"}, geometry=[line], crs=4326
    )
    store.write({"model_streets": streets}, user="t", action="line")
    assert store.read("model_streets").geometry.iloc[0].equals(line)


def test_any_crs_is_stored_in_wgs84(store):
    v = violations(3)
    store.write({"violations": v.to_crs(32648)}, user="t", action="utm")
    back = store.read("violations")
    assert back.crs.to_epsg() == 4326
    assert back.geometry.geom_equals_exact(v.geometry, 1e-9).all()


def test_naive_times_are_local_and_extra_columns_are_dropped(store):
    frame = pd.DataFrame(
        {"campaign_id": ["c1"], "start": [pd.Timestamp("2025-07-01 07:00")], "colour": ["red"]}
    )
    store.write({"campaigns": frame}, user="t", action="naive")
    back = store.read("campaigns")
    assert back["start"].iloc[0] == pd.Timestamp("2025-07-01 00:00", tz="UTC")
    assert "colour" not in back.columns
    pd.testing.assert_frame_equal(back, conform("campaigns", frame))


def test_unknown_tables_and_filters_are_refused_by_name(store):
    with pytest.raises(StoreError, match="unknown table 'nope'"):
        store.read("nope")
    with pytest.raises(StoreError, match="unknown table"):
        store.write({"nope": pd.DataFrame({"a": [1]})}, user="t", action="x")
    with pytest.raises(StoreError, match="cannot be filtered by category"):
        store.count("uploads", Query(categories=("traffic",)))
    with pytest.raises(StoreError, match="no time column"):
        store.read("places", Query(start=pd.Timestamp("2025-01-01")))
    assert store.data_version() == 0
