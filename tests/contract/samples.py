"""Hand-made frames for the contract tests, and the few backend-specific pokes they need
(setting a meta value, listing indexes, turning a new store back into a schema-5 one)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, box

from geo.model import KEYS, SCHEMAS, SPATIAL_TABLES, conform
from geo.store import create_store, is_postgis_url

TZ = "Asia/Ho_Chi_Minh"
STORE_V5 = Path(__file__).resolve().parent.parent / "data" / "store_v5.gpkg"

#: Cells that break naive text formats: COPY's tab, newline and backslash, quotes, Vietnamese.
AWKWARD_TEXT = 'Tổ 1\t"Hoa Sữa"\n\\N, it\'s; =1+1 \\\\ đường'


def violations(n: int, *, start: int = 0, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` violations r{start}… in ward ``w``, groups g1/g2, over 300 days of 2025."""
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


def ward() -> gpd.GeoDataFrame:
    """Ward ``w``: a 0.01° square in Hà Nội."""
    return gpd.GeoDataFrame(
        {"ward_id": ["w"], "name": ["Phường Thử"], "population": [20_000]},
        geometry=[box(105.83, 21.0, 105.84, 21.01)],
        crs=4326,
    )


def groups(name: str = "Tổ 1") -> gpd.GeoDataFrame:
    """Groups g1 (west half of ward ``w``) and g2 (east half), both in zone z1."""
    return gpd.GeoDataFrame(
        {"group_id": ["g1", "g2"], "zone_id": "z1", "ward_id": "w", "name": [name, "Tổ 2"],
         "population": [1200, 900]},
        geometry=[box(105.83, 21.0, 105.835, 21.01), box(105.835, 21.0, 105.84, 21.01)],
        crs=4326,
    )  # fmt: skip


#: A time when every boundary row of :func:`full_sample` is valid.
BOUNDARY_TIME = pd.Timestamp("2025-03-01", tz=TZ)


def _geometry(kind: str, i: int) -> object:
    x, y = 105.83 + i * 0.001, 21.0 + i * 0.0005
    line = [(x, y), (x + 0.001, y + 0.0007), (x + 0.002, y)]
    squares = [box(x, y, x + 0.001, y + 0.001), box(x + 0.002, y, x + 0.003, y + 0.001)]
    return {
        "Point": Point(x, y),
        "LineString": LineString(line),
        "MultiLineString": MultiLineString([line, [(x, y + 0.001), (x + 0.001, y + 0.001)]]),
        "MultiPolygon": MultiPolygon(squares),
    }[kind]


def full_sample(table: str) -> pd.DataFrame:
    """Three rows of ``table`` with a value in every column (awkward ones included), then a
    row with nothing but its key and, for boundaries, ``valid_from`` (missing cells)."""
    cols: dict[str, list[object]] = {}
    for col, dtype in SCHEMAS[table].items():
        if col == "geometry":
            continue
        if dtype == "string":
            cols[col] = [f"{col}-{i} {AWKWARD_TEXT}" for i in range(3)] + [None]
        elif dtype == "Int64":
            cols[col] = [0, -7, 2_000_000_000_000, None]
        elif dtype == "float64":
            cols[col] = [0.1, -2.5e-9, 1e15 + 0.5, np.nan]
        elif dtype == "boolean":
            cols[col] = [True, False, True, None]
        else:
            stamp = pd.Timestamp("2025-07-01 08:30:15.123", tz=TZ)  # ms: what GeoPackage keeps
            utc = pd.Timestamp("2025-01-01 06:59:59", tz="UTC").tz_convert(TZ)
            cols[col] = [stamp, stamp - pd.Timedelta(days=400), utc, pd.NaT]
    key_col = KEYS.get(table)
    if key_col:
        cols[key_col][3] = f"{key_col}-3"
    if "valid_to" in cols:  # boundaries: all valid at BOUNDARY_TIME, only row 2 closed since
        cols["valid_from"] = [BOUNDARY_TIME - pd.Timedelta(days=30)] * 4
        cols["valid_to"] = [pd.NaT, pd.NaT, BOUNDARY_TIME + pd.Timedelta(days=30), pd.NaT]
    frame = pd.DataFrame(cols)
    if table not in SPATIAL_TABLES:
        return conform(table, frame)
    geoms = [_geometry(SPATIAL_TABLES[table], i) for i in range(3)] + [None]
    return conform(table, gpd.GeoDataFrame(frame, geometry=geoms, crs=4326))


# -- backend-specific pokes -------------------------------------------------------------------


def _pg(url: str) -> tuple[Any, str]:
    """A connection to the test database, and the store's schema."""
    import psycopg

    from geo import _postgis_sql

    conninfo, schema = _postgis_sql.split_url(url)
    return psycopg.connect(conninfo, autocommit=True), schema


def _in(schema: str, statement: str) -> Any:
    """``statement`` with ``{}`` naming ``schema`` (quoted)."""
    from psycopg import sql

    return sql.SQL(statement).format(sql.Identifier(schema))


def set_meta(url: str, key: str, value: str) -> None:
    """Overwrite a value of the store's meta table behind the store's back."""
    if is_postgis_url(url):
        con, schema = _pg(url)
        with con:
            con.execute(
                f'UPDATE "{schema}".urban_order_meta SET value = %s WHERE key = %s', (value, key)
            )
        return
    with sqlite3.connect(url) as con:
        con.execute("UPDATE urban_order_meta SET value = ? WHERE key = ?", (value, key))


def index_names(url: str, table: str) -> set[str]:
    """Names of the indexes of ``table``."""
    if is_postgis_url(url):
        con, schema = _pg(url)
        with con:
            rows = con.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s",
                (schema, table),
            ).fetchall()
        return {r[0] for r in rows}
    with sqlite3.connect(url) as con:
        rows = con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
        )
        return {r[0] for r in rows}


def make_v5_store(url: str) -> None:
    """A store of schema version 5 at ``url``: the real one kept in tests/data for GeoPackage;
    for PostGIS the same content in a new store with what step 6 added taken away again."""
    if not is_postgis_url(url):
        shutil.copy(STORE_V5, url)
        return
    store = create_store(url)
    store.write(
        {
            "wards": ward().assign(ward_id="w1"),
            "groups": groups().assign(ward_id="w1"),
            "violations": violations(3).assign(ward_id="w1", upload_id="u1"),
            "uploads": pd.DataFrame({"upload_id": ["u1"], "file_name": ["a.csv"], "rows": [3]}),
        },
        user="t",
        action="v5 content",
    )
    con, schema = _pg(url)
    with con, con.transaction():
        con.execute(f'DROP TABLE "{schema}".users')
        con.execute(f'DROP TABLE "{schema}".sessions')
        con.execute(f'ALTER TABLE "{schema}".uploads DROP COLUMN ward_id')
        con.execute(
            f"UPDATE \"{schema}\".urban_order_meta SET value = '5' WHERE key = 'schema_version'"
        )
