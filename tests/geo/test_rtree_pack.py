"""The packed R-tree: what SQLite's own inserts would index, in a tree SQLite accepts."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo import gpkg_store
from geo._rtree_pack import node_size, pack_rtree, round_down, round_up, write_rtree
from geo.store import Query, create_store

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def rebuild_rtree(con: sqlite3.Connection, name: str, *entries: np.ndarray) -> None:
    """Pack the entries (ids, minx, maxx, miny, maxy) into ``name``, as the store does."""
    write_rtree(con, name, pack_rtree(node_size(con, name), *entries))


def _tree(con: sqlite3.Connection, name: str = "r") -> None:
    con.execute(f"CREATE VIRTUAL TABLE {name} USING rtree(id, minx, maxx, miny, maxy)")


def _boxes(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = 105.8 + rng.random(n) * 0.02
    y = -21.0 + rng.random(n) * 0.014  # negative too: rounding goes the other way there
    w = rng.random(n) * 1e-4 * (rng.random(n) < 0.5)  # half are points
    return np.arange(1, n + 1) * 3, x, x + w, y, y + w


def _hits(con: sqlite3.Connection, box: tuple[float, float, float, float]) -> list[int]:
    return sorted(
        r[0]
        for r in con.execute(
            "SELECT id FROM r WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?",
            (box[2], box[0], box[3], box[1]),
        )
    )


@pytest.mark.parametrize("n", [0, 1, 50, 51, 52, 2601, 2602, 20_000])
def test_a_packed_tree_holds_what_inserts_would_and_sqlite_checks_it(n):
    ids, *bounds = _boxes(n, seed=n)
    packed, inserted = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    _tree(packed), _tree(inserted)
    rebuild_rtree(packed, "r", ids, *bounds)
    rows = zip(ids.tolist(), *(b.tolist() for b in bounds), strict=True)
    inserted.executemany("INSERT INTO r VALUES (?, ?, ?, ?, ?)", rows)
    assert packed.execute("SELECT rtreecheck('r')").fetchone() == ("ok",)
    # the same 32-bit boxes as SQLite's own rounding, entry for entry
    every = "SELECT * FROM r ORDER BY id"
    assert packed.execute(every).fetchall() == inserted.execute(every).fetchall()
    rng = np.random.default_rng(1)
    for _ in range(40):
        x, y = 105.8 + rng.random() * 0.02, -21.0 + rng.random() * 0.014
        box = (x, y, x + 0.003, y + 0.002)
        assert _hits(packed, box) == _hits(inserted, box)
    # and SQLite keeps maintaining it: more inserts, deletes, still a valid tree
    packed.executemany(
        "INSERT INTO r VALUES (?, 105.81, 105.811, -20.99, -20.98)",
        [(10**7 + i,) for i in range(300)],
    )
    packed.execute("DELETE FROM r WHERE id % 7 = 0")
    assert packed.execute("SELECT rtreecheck('r')").fetchone() == ("ok",)
    expected = len([i for i in ids if i % 7]) + len([i for i in range(300) if (10**7 + i) % 7])
    assert packed.execute("SELECT count(*) FROM r").fetchone() == (expected,)


def test_a_tree_of_several_levels_has_the_depth_sqlite_reads():
    ids, *bounds = _boxes(200_000, seed=3)
    con = sqlite3.connect(":memory:")
    _tree(con)
    rebuild_rtree(con, "r", ids, *bounds)
    root = con.execute("SELECT data FROM r_node WHERE nodeno = 1").fetchone()[0]
    depth, cells = int.from_bytes(root[:2], "big"), int.from_bytes(root[2:4], "big")
    assert depth == 3 and 1 < cells <= 51  # 200,000 / 51 / 51 / 51 < 2: three levels below
    assert con.execute("SELECT count(*) FROM r_rowid").fetchone() == (200_000,)
    assert con.execute("SELECT rtreecheck('r')").fetchone() == ("ok",)


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e7, 1e7, allow_nan=False), st.floats(0, 1e3, allow_nan=False))
def test_rounding_is_sqlites_own_and_outward(low, width):
    high = low + width
    con = sqlite3.connect(":memory:")
    _tree(con)
    con.execute("INSERT INTO r VALUES (1, ?, ?, ?, ?)", (low, high, low, high))
    stored = con.execute("SELECT minx, maxx FROM r").fetchone()
    ours = (float(round_down(np.array([low]))[0]), float(round_up(np.array([high]))[0]))
    assert ours == stored
    # outward, as a box must contain its shape (SQLite's nudge leaves 32-bit subnormals be)
    if all(v == 0 or abs(v) > 1e-30 for v in (low, high)):
        assert ours[0] <= low and high <= ours[1]


def _points(n: int, seed: int, prefix: str) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {
            "record_id": [f"{prefix}{i}" for i in range(n)],
            "ward_id": "w",
            "category": "littering",
            "observed_at": pd.Timestamp("2025-07-01", tz="Asia/Ho_Chi_Minh"),
        },
        geometry=gpd.points_from_xy(105.8 + rng.random(n) * 0.02, 21.0 + rng.random(n) * 0.014),
        crs=4326,
    )


def test_a_big_write_packs_the_store_index_and_gdal_reads_by_it(tmp_path, monkeypatch):
    monkeypatch.setattr(gpkg_store, "_PACK_ROWS", 1_000)
    store = create_store(tmp_path / "s.gpkg")
    first, second = _points(3_000, 0, "a"), _points(5_000, 1, "b")
    store.write({"violations": first}, user="t", action="test")  # packed: the tree was empty
    store.write({"violations": _points(600, 2, "c")}, user="t", action="test")  # row by row
    store.write({"violations": second}, user="t", action="test")  # packed with the old ones
    con = sqlite3.connect(tmp_path / "s.gpkg")
    assert con.execute("SELECT rtreecheck('rtree_violations_geom')").fetchone() == ("ok",)
    assert con.execute("SELECT count(*) FROM rtree_violations_geom").fetchone() == (8_600,)
    con.close()
    box = (105.805, 21.002, 105.812, 21.009)
    got = pyogrio.read_dataframe(tmp_path / "s.gpkg", layer="violations", bbox=box)
    every = store.read("violations", Query())
    inside = every[shapely.intersects(every.geometry.values, shapely.box(*box))]
    assert sorted(got["record_id"]) == sorted(inside["record_id"]) and len(inside) > 100


def test_rows_deleted_at_the_end_do_not_confuse_the_ids_of_a_big_write(tmp_path, monkeypatch):
    monkeypatch.setattr(gpkg_store, "_PACK_ROWS", 1_000)
    store = create_store(tmp_path / "s.gpkg")
    first = _points(3_000, 0, "a")
    store.write({"violations": first}, user="t", action="test")
    last = [{"record_id": f"a{i}"} for i in range(2_990, 3_000)]  # AUTOINCREMENT goes on
    store.write({}, user="t", action="test", delete={"violations": last})
    store.write({"violations": _points(2_000, 1, "b")}, user="t", action="test")
    con = sqlite3.connect(tmp_path / "s.gpkg")
    assert con.execute("SELECT rtreecheck('rtree_violations_geom')").fetchone() == ("ok",)
    fids = {r[0] for r in con.execute("SELECT fid FROM violations")}
    boxed = {r[0] for r in con.execute("SELECT id FROM rtree_violations_geom")}
    con.close()
    assert fids == boxed and len(fids) == 4_990 and max(fids) == 5_000
