"""What only the GeoPackage store has: a standard file GDAL reads, R-tree indexes, its own
geometry blobs, and waiting for SQLite's single writer.

The behaviour shared with PostGIS is tested on both stores in tests/contract/.
"""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pyogrio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

from geo.errors import StoreError
from geo.gpkg_store import _decode, _encode
from geo.model import SCHEMAS
from geo.store import create_store, open_store
from tests.contract.samples import violations


@pytest.fixture
def store(tmp_path):
    return create_store(tmp_path / "s.gpkg")


def test_create_makes_every_table_as_a_standard_geopackage(store, tmp_path):
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "s.gpkg")}
    assert layers == set(SCHEMAS)
    assert open_store(tmp_path / "s.gpkg").data_version() == 0


def test_gdal_reads_what_the_store_wrote_and_the_spatial_index_works(store, tmp_path):
    v = violations(800)  # above the bulk threshold: the R-tree is filled in one go
    store.write({"violations": v.iloc[:10]}, user="t", action="small")
    store.write({"violations": v.iloc[10:]}, user="t", action="bulk")
    bbox = (105.83, 21.0, 105.834, 21.004)
    got = pyogrio.read_dataframe(tmp_path / "s.gpkg", layer="violations", bbox=bbox)
    assert sorted(got["record_id"]) == sorted(
        v.cx[bbox[0] : bbox[2], bbox[1] : bbox[3]]["record_id"]
    )
    con = sqlite3.connect(tmp_path / "s.gpkg")
    (indexed,) = con.execute("SELECT count(*) FROM rtree_violations_geom").fetchone()
    assert indexed == 800
    triggers = con.execute(
        "SELECT count(*) FROM sqlite_master WHERE type='trigger' AND tbl_name='violations'"
    ).fetchone()[0]
    assert triggers == 9  # the bulk path put GDAL's triggers back


def test_open_refuses_missing_files_and_other_suffixes(tmp_path):
    with pytest.raises(StoreError, match="urban-order demo"):
        open_store(tmp_path / "none.gpkg")
    with pytest.raises(StoreError, match=r"\.gpkg"):
        open_store(tmp_path / "s.sqlite")


def test_concurrent_writer_waits_instead_of_failing(store, tmp_path):
    con = sqlite3.connect(tmp_path / "s.gpkg", isolation_level=None, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")  # another writer holds the lock for a moment
    threading.Timer(0.5, lambda: con.execute("COMMIT")).start()
    store.write({"violations": violations(3)}, user="t", action="after wait")
    assert store.count("violations") == 3


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90)), min_size=0, max_size=5),
    st.sampled_from(["point", "polygon", "line", "empty", "none"]),
)
def test_geometry_blobs_round_trip(coords, kind):
    if kind == "point":
        geom = Point(coords[0]) if coords else Point()
    elif kind == "polygon":
        geom = Polygon(coords) if len(coords) >= 3 else Polygon()
    elif kind == "line":
        geom = LineString(coords) if len(coords) >= 2 else LineString()
    elif kind == "empty":
        geom = Polygon()
    else:
        geom = None
    (back,) = _decode(_encode(np.array([geom], dtype=object)))
    if geom is None:
        assert back is None
    else:
        assert back.equals_exact(geom, 0) or (back.is_empty and geom.is_empty)
