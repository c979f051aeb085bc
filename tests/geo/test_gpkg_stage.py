"""Big batches bound from Arrow through a scratch file store exactly what row-by-row binding
stores: same values, same SQLite types, same geometry bytes, extent, R-tree and counts."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import shapely
from shapely.geometry import Point, Polygon

from geo import _gpkg_stage, gpkg_store
from geo._rtree_pack import node_size, pack_rtree
from geo.errors import StoreError
from geo.model import SCHEMAS, SPATIAL_TABLES, conform
from geo.store import create_store, open_store
from tests.contract.samples import full_sample, violations

TZ = "Asia/Ho_Chi_Minh"


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stage") / "empty.gpkg"
    create_store(path)
    return path


def _raw(path: Path, table: str) -> list[tuple[object, ...]]:
    """Every cell of ``table`` with its SQLite type, in fid order."""
    con = sqlite3.connect(path)
    try:
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
        cells = ", ".join(f'typeof("{c}"), "{c}"' for c in cols)
        return con.execute(f'SELECT {cells} FROM "{table}" ORDER BY rowid').fetchall()
    finally:
        con.close()


def _spatial_state(path: Path, table: str) -> tuple[object, ...]:
    con = sqlite3.connect(path)
    try:
        extent = con.execute(
            "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?", (table,)
        ).fetchone()
        count = con.execute(
            "SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?", (table,)
        ).fetchone()
        tree = con.execute(f'SELECT * FROM "rtree_{table}_geom" ORDER BY id').fetchall()
        check = con.execute(f"SELECT rtreecheck('rtree_{table}_geom')").fetchone()
        return extent, count, tree, check
    finally:
        con.close()


def _write_both(
    empty: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, frame: pd.DataFrame
) -> tuple[Path, Path]:
    """``frame`` written once row by row and once staged, into copies of one empty store."""
    paths = []
    for name, bulk_rows in (("rows", 10**9), ("staged", 1)):
        path = tmp_path / f"{name}.gpkg"
        shutil.copy(empty, path)
        monkeypatch.setattr(gpkg_store, "_BULK_ROWS", bulk_rows)
        open_store(path).write({table: frame}, user="t", action="test")
        paths.append(path)
    return paths[0], paths[1]


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_a_staged_batch_stores_what_binding_row_by_row_stores(table, empty, tmp_path, monkeypatch):
    frame = full_sample(table)
    rows, staged = _write_both(empty, tmp_path, monkeypatch, table, frame)
    # (the audit log also holds the write's own entry, at its own time)
    assert _raw(staged, table)[: len(frame)] == _raw(rows, table)[: len(frame)]
    assert len(_raw(staged, table)) == len(frame) + (table == "audit_log")
    if table in SPATIAL_TABLES:
        assert _spatial_state(staged, table) == _spatial_state(rows, table)


def test_odd_geometries_are_staged_as_gdal_would_write_them(empty, tmp_path, monkeypatch):
    # Empty and missing points next to real ones; a polygon written to a multipolygon table.
    v = violations(4)
    v = v.set_geometry([Point(105.8, 21.0), Point(), None, Point(105.81, 21.01)])
    rows, staged = _write_both(empty, tmp_path, monkeypatch, "violations", v)
    assert _raw(staged, "violations") == _raw(rows, "violations")
    assert _spatial_state(staged, "violations") == _spatial_state(rows, "violations")
    g = full_sample("groups")
    g = g.set_geometry([Polygon([(105.8, 21), (105.81, 21), (105.8, 21.01)])] * 4)
    rows, staged = _write_both(empty, tmp_path, monkeypatch, "groups", g)
    assert _raw(staged, "groups") == _raw(rows, "groups")
    assert _spatial_state(staged, "groups") == _spatial_state(rows, "groups")


def test_a_failed_staged_write_changes_nothing_and_leaves_no_scratch(empty, tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(gpkg_store, "_BULK_ROWS", 100)
    monkeypatch.setattr(gpkg_store, "_REINDEX_ROWS", 100)
    monkeypatch.setattr(gpkg_store, "_PACK_ROWS", 100)  # its row ids staged too
    path = tmp_path / "s.gpkg"
    shutil.copy(empty, path)
    store = open_store(path)
    store.write({"violations": violations(300)}, user="t", action="first")
    before = _raw(path, "violations")
    with pytest.raises(StoreError, match=r"violations.*record_id"):
        store.write({"violations": violations(300, start=250)}, user="t", action="again")
    assert _raw(path, "violations") == before
    assert _spatial_state(path, "violations")[1] == (300,)
    assert list(scratch.iterdir()) == []


def test_scratch_left_by_a_killed_writer_is_removed_by_the_next_big_write(
    empty, tmp_path, monkeypatch
):
    import os
    import time

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setattr(gpkg_store, "_BULK_ROWS", 100)
    stale, recent = scratch / "urban-order-stage-dead", scratch / "urban-order-stage-busy"
    other = scratch / "someone-elses"
    for d in (stale, recent, other):
        d.mkdir()
        (d / "stage.sqlite").write_bytes(b"x" * 1000)
    old = time.time() - _gpkg_stage.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    path = tmp_path / "s.gpkg"
    shutil.copy(empty, path)
    open_store(path).write({"violations": violations(300)}, user="t", action="big")
    assert sorted(p.name for p in scratch.iterdir()) == ["someone-elses", "urban-order-stage-busy"]


def test_no_room_for_the_scratch_file_is_a_clear_error_and_changes_nothing(
    empty, tmp_path, monkeypatch
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-dir"))
    monkeypatch.setattr(gpkg_store, "_BULK_ROWS", 100)
    path = tmp_path / "s.gpkg"
    shutil.copy(empty, path)
    store = open_store(path)
    with pytest.raises(StoreError, match=r"scratch file in .*no-such-dir.*TMPDIR"):
        store.write({"violations": violations(300)}, user="t", action="first")
    assert store.count("violations") == 0 and store.count("audit_log") == 0
    with pytest.raises(StoreError, match=r"scratch file in .*nowhere"):
        _gpkg_stage.write_tables(tmp_path / "nowhere" / "x.sqlite", {"t": pa.table({"a": [1]})})


def test_a_packed_index_staged_holds_the_rows_binding_would(empty, tmp_path, monkeypatch):
    monkeypatch.setattr(gpkg_store, "_BULK_ROWS", 100)
    monkeypatch.setattr(gpkg_store, "_PACK_ROWS", 100)
    path = tmp_path / "s.gpkg"
    shutil.copy(empty, path)
    open_store(path).write({"violations": violations(600)}, user="t", action="test")
    con = sqlite3.connect(path)
    name = "rtree_violations_geom"
    stored = con.execute(f'SELECT rowid, nodeno FROM "{name}_rowid" ORDER BY rowid').fetchall()
    entries = np.array(con.execute(f'SELECT * FROM "{name}" ORDER BY id').fetchall())
    tree = pack_rtree(node_size(con, name), entries[:, 0].astype(np.int64), *entries[:, 1:].T)
    assert con.execute(f"SELECT rtreecheck('{name}')").fetchone() == ("ok",)
    con.close()
    assert len(stored) == 600
    assert stored == [tuple(row) for row in tree.rowids.tolist()]


def test_datetime_text_matches_numpy_across_the_calendar():
    rng = np.random.default_rng(7)
    # pandas' whole range (1677-2262), both sides of 1970, leap days and the last ms of a day
    ms = np.concatenate(
        [
            rng.integers(-9_200_000_000_000, 9_200_000_000_000, 200_000),
            [0, -1, 999, -86_400_000, 951_782_400_000, 951_868_799_999, 4_107_542_399_999],
        ]
    )
    times = pd.Series(pd.to_datetime(ms, unit="ms", utc=True).tz_convert(TZ))
    times[5] = pd.NaT
    got = _gpkg_stage.gpkg_datetimes(times).to_pylist()
    want = [
        None if pd.isna(t) else s + "Z"
        for t, s in zip(
            times, np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms"), strict=True
        )
    ]
    assert got == want
    assert got == gpkg_store._iso(times)


def test_point_blobs_are_the_encoders_bytes_or_nothing():
    rng = np.random.default_rng(3)
    pts = shapely.points(rng.uniform(-180, 180, 1000), rng.uniform(-90, 90, 1000))
    assert _gpkg_stage.point_blobs(pts, 4326).to_pylist() == gpkg_store._encode(pts)
    for odd in ([Point(1, 2), Point()], [Point(1, 2), None], [Point(1, 2), Point(1, 2, 3)]):
        geoms = np.array(odd, dtype=object)
        if shapely.has_z(geoms).any():
            blobs = _gpkg_stage.point_blobs(geoms, 4326)
            assert blobs is not None and blobs.to_pylist() == gpkg_store._encode(geoms)
        else:
            assert _gpkg_stage.point_blobs(geoms, 4326) is None
    line = np.array([shapely.LineString([(0, 0), (1, 1)])], dtype=object)
    assert _gpkg_stage.point_blobs(line, 4326) is None


def test_column_types_follow_the_model():
    frame = conform(
        "violations",
        gpd.GeoDataFrame(
            {
                "record_id": ["a", None],
                "fine_vnd": [1, None],
                "gps_accuracy_m": [np.nan, 2.5],
                "synthetic": [True, None],
            },
            geometry=[Point(0, 0), None],
            crs=4326,
        ),
    )
    schema = SCHEMAS["violations"]
    got = {
        c: _gpkg_stage.column(frame[c], schema[c]).to_pylist()
        for c in frame
        if c in schema and c != "geometry"
    }
    assert got["record_id"] == ["a", None]
    assert got["fine_vnd"] == [1, None]
    assert got["gps_accuracy_m"] == [None, 2.5]
    assert got["synthetic"] == [1, None]
