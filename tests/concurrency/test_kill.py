"""A process killed (SIGKILL) in the middle of an upload leaves the store as it was.

A child uploads 50,000 rows (the GeoPackage store then drops and rebuilds indexes and fills the
R-tree in bulk; PostGIS drops and rebuilds indexes too) and is killed inside the write
transaction, either at a moment it announces (everything written, nothing committed; see
``_kill_child.py``) or at a moment the test sees from outside (mid-insert). Then the store must
open, hold exactly what it held before, be intact for GDAL and its own indexes, and take the
next upload.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from geo.config import PROJECT_ROOT
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.model import SCHEMAS, SPATIAL_TABLES
from geo.store import is_postgis_url, open_store
from tests.concurrency._kill_child import INSIDE, PREPARED
from tests.concurrency._workload import NOW, csv_file, setup_store

BIG_ROWS = 50_000


def _big_csv(path: Path) -> Path:
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(range(0, 47 * BIG_ROWS, 47), unit="min")
    i = pd.RangeIndex(BIG_ROWS)
    frame = pd.DataFrame(
        {
            "record_id": "big-" + i.astype(str),
            "category": "littering",
            "observed_at": when.strftime("%Y-%m-%d %H:%M"),
            "lat": (21.0005 + (i % 97) * 0.0001).round(5),
            "lon": (105.8305 + (i % 89) * 0.0001).round(5),
        }
    )
    frame.to_csv(path, index=False)
    return path


def _upload(url: str, i: int) -> dict[str, object]:
    store = open_store(url)
    options = UploadOptions(now=NOW)
    return commit_upload(prepare_upload(csv_file(i), name=f"f{i}.csv", store=store,
                                        options=options), store=store)  # fmt: skip


def _state(url: str) -> dict[str, int]:
    store = open_store(url)
    return {t: store.count(t) for t in SCHEMAS} | {"data_version": store.data_version()}


def _wait_for(child: subprocess.Popen[bytes], marker: str, timeout: float) -> None:
    """Read the child's output until ``marker``; fail with its errors if it ends first."""
    assert child.stdout is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        ready, _, _ = select.select([child.stdout], [], [], 0.05)
        if ready:
            chunk = os.read(child.stdout.fileno(), 4096)
            seen += chunk
            if chunk:
                continue
        if child.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the child never printed {marker} (exit {child.poll()}): {seen!r}")


def _until(condition: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.002)


def _gpkg_write_locked(path: str) -> Callable[[], bool]:
    """Whether a writer holds the GeoPackage's write lock (probed without waiting)."""

    def locked() -> bool:
        probe = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            return "locked" in str(exc) or "busy" in str(exc)
        finally:
            probe.close()
        return False

    return locked


def _postgis_query(url: str, statement: str, params: tuple[object, ...] = ()) -> list[tuple]:
    import psycopg

    from geo._postgis_sql import split_url

    with psycopg.connect(split_url(url)[0], autocommit=True) as con:
        return con.execute(statement, params).fetchall()


def _copying(url: str, schema: str) -> Callable[[], bool]:
    """Whether a server process is running the upload's COPY into ``schema``."""
    like = f'COPY "{schema}"."violations"%'
    statement = "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s"
    return lambda: _postgis_query(url, statement, (like,))[0][0] > 0


def _gpkg_structure(path: str) -> set[tuple[str, str]]:
    con = sqlite3.connect(path)
    try:
        return set(con.execute("SELECT type, name FROM sqlite_master").fetchall())
    finally:
        con.close()


def _postgis_indexes(url: str, schema: str) -> set[str]:
    rows = _postgis_query(url, "SELECT indexname FROM pg_indexes WHERE schemaname = %s", (schema,))
    return {r[0] for r in rows}


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["before_commit", "mid_insert"])
def test_a_process_killed_inside_an_upload_leaves_the_store_as_it_was(store_url, tmp_path, moment):
    setup_store(store_url)
    _upload(store_url, 0)
    postgis = is_postgis_url(store_url)
    schema = getattr(open_store(store_url), "schema", "")
    before = _state(store_url)
    structure = _postgis_indexes(store_url, schema) if postgis else _gpkg_structure(store_url)
    big = _big_csv(tmp_path / "big.csv")
    mode = "pause" if moment == "before_commit" else "run"
    with (tmp_path / "child.err").open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.concurrency._kill_child", store_url, str(big), mode],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    try:
        if moment == "before_commit":
            _wait_for(child, INSIDE, timeout=120)
        else:
            _wait_for(child, PREPARED, timeout=120)
            inside = _copying(store_url, schema) if postgis else _gpkg_write_locked(store_url)
            _until(inside, timeout=60, what="the child's write transaction")
            time.sleep(0.05)  # into the insert itself (which takes about a second), not its start
        assert child.poll() is None, "the child finished before it could be killed"
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    if postgis:
        # The server sees the connection drop and rolls the transaction back.
        _until(lambda: not _copying(store_url, schema)(), timeout=30, what="the rollback")
        assert _postgis_indexes(store_url, schema) == structure
    assert _state(store_url) == before
    if not postgis:
        _check_geopackage(store_url, structure)
    s = _upload(store_url, 1)
    assert (s["accepted"], s["duplicates"], s["quarantined"]) == (4, 0, 0)
    assert open_store(store_url).count("violations") == before["violations"] + 4


def _check_geopackage(path: str, structure: set[tuple[str, str]]) -> None:
    """SQLite's own checks, every layer as GDAL reads it, and R-trees that match the tables."""
    assert _gpkg_structure(path) == structure  # every index and trigger is back
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        for table in SCHEMAS:
            (rows,) = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            info = pyogrio.read_info(path, layer=table)
            assert info["features"] == rows, table
            assert len(pyogrio.read_dataframe(path, layer=table)) == rows, table
            if table not in SPATIAL_TABLES:
                continue
            rtree = f"rtree_{table}_geom"
            assert con.execute(f"SELECT rtreecheck('{rtree}')").fetchone() == ("ok",)
            unmatched = con.execute(
                f'SELECT (SELECT count(*) FROM "{table}" AS t WHERE t.geom IS NOT NULL AND '
                f'NOT EXISTS (SELECT 1 FROM "{rtree}" AS r WHERE r.id = t.fid)), '
                f'(SELECT count(*) FROM "{rtree}" AS r WHERE NOT EXISTS '
                f'(SELECT 1 FROM "{table}" AS t WHERE t.fid = r.id))'
            ).fetchone()
            assert unmatched == (0, 0), table
    finally:
        con.close()
