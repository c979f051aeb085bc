"""Backups and restores between both stores: every table back exactly, the salt kept,
a consistent read while others write, and clear refusals."""

from __future__ import annotations

import importlib
import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point, box

from geo.backup import backup, restore
from geo.errors import InputError, StoreError
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.model import KEYS, SCHEMAS, SPATIAL_TABLES, conform
from geo.store import SCHEMA_VERSION, create_store, is_postgis_url, open_store
from tests.concurrency._workload import NOW, csv_file, setup_store
from tests.stores import store_urls

TZ = "Asia/Ho_Chi_Minh"
V5_STORE = Path(__file__).resolve().parent.parent / "data" / "store_v5.gpkg"

_SHAPES = {
    "Point": [Point(105.831, 21.001), Point(105.8391234567891, 21.0099), Point()],
    "MultiPolygon": [box(105.83, 21.0, 105.835, 21.01), box(105.835, 21.0, 105.84, 21.01), None],
    "LineString": [LineString([(105.83, 21.0), (105.84, 21.01)]), None, LineString()],
    "MultiLineString": [MultiLineString([[(105.83, 21.0), (105.831, 21.002)]]), None, None],
}


def _values(table: str, column: str, dtype: str, n: int) -> list[object]:
    """``n`` values of a column: ordinary ones, a missing one, awkward ones."""
    if column == KEYS.get(table):
        return [f"{table}-{i}" for i in range(n)]
    if dtype.startswith("datetime64"):
        start = pd.Timestamp("2025-07-01 08:30:15.123", tz=TZ)
        return [start + pd.Timedelta(days=i, milliseconds=7 * i) if i % 3 != 1 else pd.NaT
                for i in range(n)]  # fmt: skip
    cycle: dict[str, list[object]] = {
        "string": ["Phường Kim Liên", pd.NA, "=1+1; 'quoted' \"x\"\n", ""],
        "Int64": [0, pd.NA, 2**40, -3],
        "float64": [1.5, np.nan, -0.25, 1e-9],
        "boolean": [True, pd.NA, False, True],
    }[dtype]
    return [cycle[i % len(cycle)] for i in range(n)]


def _rows(table: str, n: int) -> pd.DataFrame:
    schema = {c: d for c, d in SCHEMAS[table].items() if c != "geometry"}
    cells = {c: _values(table, c, d, n) for c, d in schema.items()}
    if table not in SPATIAL_TABLES:
        return conform(table, pd.DataFrame(cells))
    shapes = _SHAPES[SPATIAL_TABLES[table]]
    geoms = [shapes[i % len(shapes)] for i in range(n)]
    return conform(table, gpd.GeoDataFrame(cells, geometry=geoms, crs=4326))


def _fill(url: str) -> None:
    """A store with rows in every table: odd values, boundary history, a bulk-sized table,
    uploads with duplicates and quarantine, an edit; every change audited."""
    setup_store(url)
    store = open_store(url)
    for i in (0, 5, 7):
        prepared = prepare_upload(csv_file(i), name=f"f{i}.csv", store=store,
                                  options=UploadOptions(user="lan", now=NOW))  # fmt: skip
        commit_upload(prepared, store=store)
    new_groups = _rows("groups", 3).assign(ward_id="w")
    store.replace_boundaries("groups", new_groups, valid_from=pd.Timestamp("2030-01-01"),
                             user="admin")  # fmt: skip
    # Odd values last: they are no upload's business (a raw cell that is no JSON, say).
    tables = {t: _rows(t, 4) for t in SCHEMAS if t not in ("wards", "groups", "audit_log")}
    tables["patrol_points"] = _rows("patrol_points", 700)  # above the bulk-insert size
    store.write(tables, user="test", action="fill")
    store.update("violations", {"f000-0": {"status": "fined", "fine_vnd": 500_000}},
                 user="lan", action="edit")  # fmt: skip


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert list(a) == list(b) == list(SCHEMAS)
    for table in SCHEMAS:
        left, right = a[table], b[table]
        assert len(left) > 0, table
        if table in SPATIAL_TABLES:
            assert left.crs == right.crs, table
            wkb = [shapely.to_wkb(f.geometry.values, flavor="iso") for f in (left, right)]
            assert list(wkb[0]) == list(wkb[1]), table
            left, right = (
                pd.DataFrame(left.drop(columns="geometry")),
                right.drop(columns="geometry"),
            )
            right = pd.DataFrame(right)
        pd.testing.assert_frame_equal(left, right, check_exact=True, obj=table)


@pytest.fixture
def source(tmp_path):
    url = str(tmp_path / "source.gpkg")
    _fill(url)
    return url


def test_a_geopackage_round_trip_gives_back_every_table_exactly(source, tmp_path):
    original, version = open_store(source).dump_tables()
    assert len(original["groups"]) == 5 and original["groups"]["valid_to"].notna().sum() == 2
    rows = backup(source, tmp_path / "b.gpkg")
    assert rows == {t: len(f) for t, f in original.items()}
    restore(tmp_path / "b.gpkg", tmp_path / "back.gpkg")
    back = open_store(tmp_path / "back.gpkg")
    copy, restored_version = back.dump_tables()
    _assert_same(original, copy)
    assert back.offender_salt(stored=True) == open_store(source).offender_salt(stored=True)
    assert restored_version > version  # past what readers may have cached
    # The backup is one self-contained standard GeoPackage.
    con = sqlite3.connect(tmp_path / "b.gpkg")
    assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    con.close()
    assert not list(tmp_path.glob(".*partial*"))


@pytest.mark.postgis
def test_geopackage_to_postgis_to_geopackage_gives_back_every_table_exactly(source, tmp_path):
    original, _ = open_store(source).dump_tables()
    backup(source, tmp_path / "b.gpkg")
    for urls in store_urls("postgis", tmp_path):
        (pg,) = urls
        restore(tmp_path / "b.gpkg", pg)
        in_postgis, _ = open_store(pg).dump_tables()
        _assert_same(original, in_postgis)
        assert open_store(pg).offender_salt(stored=True) == open_store(source).offender_salt(
            stored=True
        )
        backup(pg, tmp_path / "again.gpkg")
    again, _ = open_store(tmp_path / "again.gpkg").dump_tables()
    _assert_same(original, again)


def test_a_backup_is_read_as_of_one_moment_while_others_write(store_url, tmp_path, monkeypatch):
    setup_store(store_url)
    store = open_store(store_url)
    for i in (0, 5):
        commit_upload(prepare_upload(csv_file(i), name=f"f{i}.csv", store=store,
                                     options=UploadOptions(now=NOW)), store=store)  # fmt: skip
    before = {t: store.count(t) for t in SCHEMAS}
    # Each backend turns the rows of each table it reads into a frame with this function.
    module = importlib.import_module(
        "geo._postgis_sql" if is_postgis_url(store_url) else "geo.gpkg_store"
    )
    name = "frame" if is_postgis_url(store_url) else "_frame"
    frame = getattr(module, name)
    written: list[dict[str, object]] = []

    def read_then_write(table: str, *args: object) -> pd.DataFrame:
        # An upload commits between the backup's reads of two tables (once: the upload's own
        # reads come through here too).
        if table == "violations" and not written:
            written.append({})
            prepared = prepare_upload(csv_file(9), name="late.csv", store=store,
                                      options=UploadOptions(now=NOW))  # fmt: skip
            written.append(commit_upload(prepared, store=store))
        return frame(table, *args)

    monkeypatch.setattr(module, name, read_then_write)
    backup(store_url, tmp_path / "b.gpkg")
    monkeypatch.undo()
    assert len(written) == 2 and store.count("violations") == before["violations"] + 4
    copy = open_store(tmp_path / "b.gpkg")
    assert {t: copy.count(t) for t in SCHEMAS} == before


def test_restore_refuses_a_store_holding_rows_unless_overwriting(source, tmp_path):
    backup(source, tmp_path / "b.gpkg")
    target = tmp_path / "target.gpkg"
    setup_store(str(target))
    with pytest.raises(StoreError, match=r"holds 5 rows; restore into a new store, or overwrite"):
        restore(tmp_path / "b.gpkg", target)
    assert open_store(target).count("violations") == 0  # left as it was
    restore(tmp_path / "b.gpkg", target, overwrite=True)
    assert open_store(target).count("violations") == open_store(source).count("violations")
    create_store(tmp_path / "empty.gpkg")
    restore(tmp_path / "b.gpkg", tmp_path / "empty.gpkg")  # an empty store is no loss
    (tmp_path / "notes.gpkg").write_bytes(b"not a store")
    with pytest.raises(StoreError, match="is a file but no store"):
        restore(tmp_path / "b.gpkg", tmp_path / "notes.gpkg")
    (tmp_path / "v5.gpkg").write_bytes(V5_STORE.read_bytes())
    with pytest.raises(StoreError, match="is a store of schema version 5"):
        restore(tmp_path / "b.gpkg", tmp_path / "v5.gpkg")


def test_restore_refuses_a_backup_of_another_schema_version(tmp_path):
    old = tmp_path / "old.gpkg"
    old.write_bytes(V5_STORE.read_bytes())
    expected = f"version 5; this program restores version {SCHEMA_VERSION}. Migrate it first"
    with pytest.raises(StoreError, match=expected + ": `urban-order migrate --db"):
        restore(old, tmp_path / "new.gpkg")
    assert not (tmp_path / "new.gpkg").exists()


def test_backup_refuses_to_overwrite_or_to_write_over_its_store(source, tmp_path):
    backup(source, tmp_path / "b.gpkg")
    with pytest.raises(StoreError, match="already exists"):
        backup(source, tmp_path / "b.gpkg")
    backup(source, tmp_path / "b.gpkg", overwrite=True)
    with pytest.raises(InputError, match="the store itself"):
        backup(source, source, overwrite=True)
    with pytest.raises(InputError, match=r"\.gpkg"):
        backup(source, tmp_path / "b.sqlite")
    with pytest.raises(InputError, match="no such backup"):
        restore(tmp_path / "missing.gpkg", tmp_path / "x.gpkg")
