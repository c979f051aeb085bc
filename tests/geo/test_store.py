"""The GeoPackage store: schema, atomic batches, filtered reads, versioned boundaries."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from geo.errors import StoreError
from geo.gpkg_store import _decode, _encode
from geo.model import SCHEMAS
from geo.store import SCHEMA_VERSION, Query, create_store, open_store

TZ = "Asia/Ho_Chi_Minh"


def _violations(n: int, *, start: int = 0, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {
            "record_id": [f"r{i}" for i in range(start, start + n)],
            "ward_id": "w",
            "group_id": rng.choice(["g1", "g2"], n),
            "zone_id": "z1",
            "category": rng.choice(["traffic", "littering", "street_vending"], n),
            "observed_at": pd.Timestamp("2025-01-01", tz=TZ)
            + pd.to_timedelta(rng.integers(0, 300 * 86400, n), unit="s"),
            "fine_vnd": rng.choice([0, 500_000], n),
        },
        geometry=gpd.points_from_xy(105.83 + rng.random(n) * 0.01, 21.0 + rng.random(n) * 0.01),
        crs=4326,
    )


def _groups(name: str = "Tổ 1") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"group_id": ["g1", "g2"], "zone_id": "z1", "ward_id": "w", "name": [name, "Tổ 2"]},
        geometry=[box(105.83, 21.0, 105.835, 21.01), box(105.835, 21.0, 105.84, 21.01)],
        crs=4326,
    )


@pytest.fixture
def store(tmp_path):
    return create_store(tmp_path / "s.gpkg")


def test_create_makes_every_table_as_a_standard_geopackage(store, tmp_path):
    layers = {name for name, _ in pyogrio.list_layers(tmp_path / "s.gpkg")}
    assert layers == set(SCHEMAS)
    assert open_store(tmp_path / "s.gpkg").data_version() == 0


def test_round_trip_keeps_values_and_dtypes(store):
    v = _violations(50)
    store.write({"violations": v}, user="t", action="test")
    back = store.read("violations")
    assert len(back) == 50 and back.crs.to_epsg() == 4326
    assert str(back["observed_at"].dtype) == f"datetime64[ns, {TZ}]"
    merged = back.set_index("record_id").loc[v["record_id"]]
    assert (merged["observed_at"].to_numpy() == v["observed_at"].to_numpy()).all()
    assert merged.geometry.geom_equals_exact(v.set_index("record_id").geometry, 1e-12).all()
    assert merged["fine_vnd"].tolist() == v["fine_vnd"].tolist()


def test_gdal_reads_what_the_store_wrote_and_the_spatial_index_works(store, tmp_path):
    v = _violations(800)  # above the bulk threshold: the R-tree is filled in one go
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


def test_reads_filter_by_ward_period_category_zone_and_group(store):
    v = _violations(300)
    store.write({"violations": v}, user="t", action="test")
    q = Query(
        ward_id="w",
        start=pd.Timestamp("2025-03-01"),
        end=pd.Timestamp("2025-04-01"),
        categories=("traffic",),
        group_ids=("g1",),
        zone_ids=("z1",),
    )
    got = store.read("violations", q)
    local = v["observed_at"]
    expected = v[
        (local >= pd.Timestamp("2025-03-01", tz=TZ))
        & (local < pd.Timestamp("2025-04-01", tz=TZ))
        & (v["category"] == "traffic")
        & (v["group_id"] == "g1")
    ]
    assert sorted(got["record_id"]) == sorted(expected["record_id"]) and len(got) > 0
    assert store.count("violations", q) == len(expected)
    assert store.read("violations", Query(ward_id="other")).empty
    assert store.read("violations", Query(categories=())).empty


def test_a_batch_is_all_or_nothing(store):
    store.write({"violations": _violations(5)}, user="t", action="first")
    version = store.data_version()
    batch = {"groups": _groups(), "violations": _violations(5)}  # same record ids again
    with pytest.raises(StoreError, match="record_id"):
        store.write(batch, user="t", action="second")
    assert store.count("groups") == 0 and store.count("violations") == 5
    assert store.data_version() == version


def test_every_write_is_audited_and_bumps_the_version(store):
    store.write({"groups": _groups()}, user="lan", action="import groups")
    log = store.read("audit_log")
    assert log[["user", "action", "table", "ids"]].values.tolist() == [
        ["lan", "import groups", "groups", "g1,g2"]
    ]
    assert store.data_version() == 1


def test_replacing_boundaries_keeps_the_old_version(store):
    store.replace_boundaries(
        "groups", _groups("Tổ 1 cũ"), valid_from=pd.Timestamp("2025-01-01"), user="t"
    )
    store.replace_boundaries(
        "groups", _groups("Tổ 1 mới"), valid_from=pd.Timestamp("2025-07-01"), user="t"
    )
    assert store.read("groups").set_index("group_id").loc["g1", "name"] == "Tổ 1 mới"
    old = store.read("groups", Query(as_of=pd.Timestamp("2025-03-01")))
    assert old.set_index("group_id").loc["g1", "name"] == "Tổ 1 cũ"
    assert old["valid_to"].eq(pd.Timestamp("2025-07-01", tz=TZ)).all()
    assert store.count("groups", Query(as_of=pd.Timestamp("2024-12-01"))) == 0
    with pytest.raises(StoreError, match="must start later"):
        store.replace_boundaries(
            "groups", _groups(), valid_from=pd.Timestamp("2025-05-01"), user="t"
        )


def test_open_refuses_missing_files_and_other_schema_versions(tmp_path):
    with pytest.raises(StoreError, match="urban-order demo"):
        open_store(tmp_path / "none.gpkg")
    create_store(tmp_path / "s.gpkg")
    con = sqlite3.connect(tmp_path / "s.gpkg")
    con.execute("UPDATE urban_order_meta SET value = '999' WHERE key = 'schema_version'")
    con.commit()
    with pytest.raises(StoreError, match=f"needs {SCHEMA_VERSION}"):
        open_store(tmp_path / "s.gpkg")
    with pytest.raises(StoreError, match=r"\.gpkg"):
        open_store(tmp_path / "s.sqlite")


def test_concurrent_writer_waits_instead_of_failing(store, tmp_path):
    con = sqlite3.connect(tmp_path / "s.gpkg", isolation_level=None, check_same_thread=False)
    con.execute("BEGIN IMMEDIATE")  # another writer holds the lock for a moment
    import threading

    threading.Timer(0.5, lambda: con.execute("COMMIT")).start()
    store.write({"violations": _violations(3)}, user="t", action="after wait")
    assert store.count("violations") == 3


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90)), min_size=0, max_size=5),
    st.sampled_from(["point", "polygon", "line", "empty", "none"]),
)
def test_geometry_blobs_round_trip(coords, kind):
    from shapely.geometry import LineString, Polygon

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


def test_existing_keys_are_found_in_chunks(store):
    store.write({"violations": _violations(1200)}, user="t", action="test")
    asked = [f"r{i}" for i in range(1000, 2500)]
    assert store.existing_keys("violations", asked) == {f"r{i}" for i in range(1000, 1200)}
    with pytest.raises(StoreError, match="no key"):
        store.existing_keys("quarantine", ["x"])


def test_offender_salt_is_secret_per_store_and_overridable(tmp_path, monkeypatch):
    a = create_store(tmp_path / "a.gpkg").offender_salt()
    b = create_store(tmp_path / "b.gpkg").offender_salt()
    assert len(a) == 32 and a != b
    monkeypatch.setenv("URBAN_ORDER_SALT", "from-the-environment")
    assert open_store(tmp_path / "a.gpkg").offender_salt() == b"from-the-environment"


def test_update_changes_columns_by_key_and_is_audited(store):
    store.write({"violations": _violations(3)}, user="t", action="test")
    store.update("violations", {"r1": {"status": "resolved", "fine_vnd": 400_000}},
                 user="lan", action="edit status")  # fmt: skip
    row = store.read("violations").set_index("record_id").loc["r1"]
    assert (row["status"], row["fine_vnd"]) == ("resolved", 400_000)
    assert store.read("audit_log")["action"].iloc[-1] == "edit status"
    with pytest.raises(StoreError, match="no row"):
        store.update("violations", {"nope": {"status": "open"}}, user="t", action="x")
    with pytest.raises(StoreError, match="no column"):
        store.update("violations", {"r1": {"colour": "red"}}, user="t", action="x")
    with pytest.raises(StoreError, match="cannot be changed"):
        store.update("violations", {"r1": {"record_id": "r9"}}, user="t", action="x")


def test_write_can_delete_in_the_same_transaction(store):
    q = pd.DataFrame({"upload_id": ["u1", "u1"], "row_number": [2, 3], "raw": "{}", "reasons": "x"})
    store.write({"quarantine": q}, user="t", action="quarantine")
    store.write({"violations": _violations(1)}, user="t", action="accept fixed row",
                delete={"quarantine": [{"upload_id": "u1", "row_number": 2}]})  # fmt: skip
    assert store.read("quarantine")["row_number"].tolist() == [3]
    with pytest.raises(StoreError, match="expected 1"):  # the whole batch is refused
        store.write({"violations": _violations(1, start=5)}, user="t", action="x",
                    delete={"quarantine": [{"upload_id": "u1", "row_number": 2}]})  # fmt: skip
    assert store.count("violations") == 1


def test_big_batches_rebuild_indexes_and_still_refuse_repeated_keys(store, monkeypatch):
    import geo.gpkg_store as gs

    monkeypatch.setattr(gs, "_REINDEX_ROWS", 600)
    store.write({"violations": _violations(700)}, user="t", action="big")
    repeated = _violations(700, start=650)  # 50 ids already stored
    with pytest.raises(StoreError, match="record_id"):
        store.write({"violations": repeated}, user="t", action="big again")
    assert store.count("violations") == 700
    con = sqlite3.connect(store.path)
    names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"ix_violations_key", "ix_violations_time", "ix_violations_group_id"} <= names
    assert store.read("violations", Query(group_ids=("g1",))).shape[0] > 0
