"""Assignment benchmark: records to groups on the synthetic city, ours against sjoin and PostGIS.

    python bench/run.py assign [--points N] [--groups M] [--postgis URL] [--repeat R] [--json]

The city is :func:`bench.city.make_city` (126 wards, ``--groups`` groups in one exact coverage,
``--points`` records, seed 0; its polygons are cached under ``var/bench/``). Every timed call
gets fresh frames (new polygon objects, a new points frame) made untimed beforehand, so no
spatial index or prepared geometry is reused; best of ``--repeat``, wall-clock (``*_s``) and
CPU seconds of the process (``*_cpu_s``: steadier on a shared machine); ``load_1m_*``: the
1-minute load average at the start and the end.

- ``ours_s``: :func:`geo.assign.group_positions` (grid path) on the groups sorted by
  ``group_id``, mapped to group ids: each point's group, or none;
- ``sjoin_s``: ``geopandas.sjoin(points, groups, how="left", predicate="within")`` alone;
  the tie rule (lowest ``group_id`` for a point within several) is applied afterwards,
  untimed, so the baseline is if anything flattered;
- ``speedup`` = sjoin_s / ours_s (``speedup_cpu`` likewise); ``identical``: 1 when the two
  give the same group id (or none) for every point; ``in_several``/``in_none``: points sjoin
  found in more than one group / in none;
- ``tree_s``: ours with ``method="tree"`` (GEOS for every point, as sjoin);
  ``assign_s``: the whole :func:`geo.assign.assign_to_groups` (snapping within 15 m, ward and
  zone columns); ``inside``/``snapped``/``outside``: its counts;
- ``grid_free``, ``grid_lines``, ``grid_stars``, ``grid_exact``: shares of points answered by
  a free cell, an edge's side, a vertex's corners, and a GEOS test (see ``geo/_grid.py``);
- ``postgis_s`` when PostGIS is reachable (``--postgis URL`` or
  ``URBAN_ORDER_TEST_POSTGIS_URL``): ``CREATE TABLE AS SELECT ... JOIN ... ON
  ST_Within(p.geom, g.geom)`` with a GiST index on the groups (PostgreSQL's default plan,
  parallel workers allowed), loading (COPY of WKB, index, ANALYZE) timed apart as
  ``postgis_load_s``; ``postgis_identical``/``postgis_differ`` compare its answer (lowest id
  per point); ``postgis_speedup`` = postgis_s / ours_s.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.city import CACHE_DIR, make_city  # noqa: E402
from geo import _grid  # noqa: E402
from geo.assign import Method, assign_to_groups, group_positions  # noqa: E402

POSTGIS_ENV = "URBAN_ORDER_TEST_POSTGIS_URL"
T = TypeVar("T")


def run(
    points: int = 1_000_000,
    groups: int = 10_000,
    *,
    postgis_url: str | None = None,
    repeat: int = 3,
    seed: int = 0,
    cache_dir: Path | None = CACHE_DIR,
) -> dict[str, float]:
    """Build the city, time ours, sjoin and (when reachable) PostGIS; return the figures."""
    _say(f"city: {groups:,} groups, {points:,} records")
    t0 = time.perf_counter()
    city = make_city(groups=groups, records=points, seed=seed, cache_dir=cache_dir)
    figures: dict[str, float] = {
        "points": points,
        "groups": len(city.groups),
        "wards": len(city.wards),
        "city_s": time.perf_counter() - t0,
        "load_1m_start": os.getloadavg()[0],
    }
    pts = city.records[["record_id", "geometry"]]
    table = city.groups[["group_id", "zone_id", "ward_id", "geometry"]]
    by_id = table.sort_values("group_id", ignore_index=True)
    ids = by_id["group_id"].to_numpy(dtype=object)

    def fresh() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        return _fresh_points(pts), _fresh(by_id)

    def ours(method: Method) -> Callable[[gpd.GeoDataFrame, gpd.GeoDataFrame], np.ndarray]:
        def call(p: gpd.GeoDataFrame, g: gpd.GeoDataFrame) -> np.ndarray:
            pos = group_positions(p, g, method=method).to_numpy()
            return np.where(pos >= 0, ids[np.maximum(pos, 0)], None)

        return call

    _say("ours: group_positions, grid")
    figures["ours_s"], figures["ours_cpu_s"], got = _best(repeat, fresh, ours("grid"))
    _say("baseline: geopandas.sjoin(within)")
    figures["sjoin_s"], figures["sjoin_cpu_s"], joined = _best(
        repeat, fresh, lambda p, g: p.sjoin(g, how="left", predicate="within")
    )
    expected = _lowest_id(joined, len(pts))
    figures["speedup"] = figures["sjoin_s"] / figures["ours_s"]
    figures["speedup_cpu"] = figures["sjoin_cpu_s"] / figures["ours_cpu_s"]
    figures["identical"] = int(_same(got, expected))
    figures["in_several"] = int(joined.index.duplicated().sum())
    figures["in_none"] = int((expected == "").sum())

    _say("ours: group_positions, tree (one GEOS test per point)")
    figures["tree_s"], _, tree = _best(1, fresh, ours("tree"))
    figures["tree_identical"] = int(_same(tree, expected))
    _say("ours: assign_to_groups end to end")
    figures["assign_s"], _, assigned = _best(
        1, lambda: (_fresh_points(pts), _fresh(table)), assign_to_groups
    )
    counts = assigned["assignment"].value_counts()
    for label in ("inside", "snapped", "outside"):
        figures[label] = int(counts.get(label, 0))
    figures.update(_grid_shares(pts, by_id))

    url = postgis_url or os.environ.get(POSTGIS_ENV, "").strip() or None
    if url:
        figures.update(_postgis(url, pts, table, expected))
        if "postgis_s" in figures:
            figures["postgis_speedup"] = figures["postgis_s"] / figures["ours_s"]
    else:
        _say(f"postgis: skipped (no --postgis URL and no {POSTGIS_ENV})")
    figures["load_1m_end"] = os.getloadavg()[0]
    return figures


def _fresh(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy with new geometry objects and no spatial index to reuse."""
    geoms = shapely.from_wkb(shapely.to_wkb(frame.geometry.to_numpy()))
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs=frame.crs)


def _fresh_points(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The same points in a new frame: no spatial index cached from an earlier call."""
    geoms = np.asarray(frame.geometry.array, dtype=object)
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs=frame.crs)


def _best(
    repeat: int, setup: Callable[[], tuple[Any, ...]], fn: Callable[..., T]
) -> tuple[float, float, T]:
    """Least wall-clock and CPU seconds of ``fn(*setup())`` over ``repeat`` runs (setup untimed)."""
    wall, cpu, result = float("inf"), float("inf"), None
    for _ in range(max(repeat, 1)):
        args = setup()
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn(*args)
        wall = min(wall, time.perf_counter() - w0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, result  # type: ignore[return-value]


def _lowest_id(joined: pd.DataFrame, n: int) -> np.ndarray:
    """Per point (rows 0..n-1), the lowest group_id it lies within, or None: the tie rule."""
    lowest = joined.groupby(level=0)["group_id"].min().reindex(range(n))
    return _ids(lowest.to_numpy(dtype=object))


def _ids(values: np.ndarray) -> np.ndarray:
    """Group ids as str, with "" for none (comparable with ==)."""
    return pd.Series(values, dtype="string").fillna("").to_numpy(dtype=object)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(len(a) == len(b) and (_ids(a) == _ids(b)).all())


def _grid_shares(pts: gpd.GeoDataFrame, by_id: gpd.GeoDataFrame) -> dict[str, float]:
    """How the grid answered the points (an untimed run of the same path)."""
    from geo.assign import _cells

    polys = by_id.geometry.to_numpy()
    shapely.prepare(polys)
    x, y = pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy()
    stats: dict[str, float] = {}
    _grid.within_positions(x, y, polys, shapely.STRtree(polys), cells=_cells(len(x)), stats=stats)
    return {
        "grid_cells": int(stats["cells"]),
        "grid_cell_m": float(stats["cell_size"]) * 111_320 * np.cos(np.radians(21.03)),
        "grid_free": stats["free"],
        "grid_lines": stats["lines"],
        "grid_stars": stats["stars"],
        "grid_exact": stats["exact"],
    }


def _postgis(
    url: str, pts: gpd.GeoDataFrame, table: gpd.GeoDataFrame, expected: np.ndarray
) -> dict[str, float]:
    """PostGIS ST_Within with a GiST index: load, join, compare."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency of the PostGIS store
        _say("postgis: skipped (psycopg is not installed)")
        return {}
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _say(f"postgis: skipped ({exc.__class__.__name__}: {str(exc).strip()[:120]})")
        return {}
    figures: dict[str, float] = {}
    with conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"SET search_path TO {schema}, public")
        try:
            _say("postgis: loading (COPY of WKB, GiST index, ANALYZE)")
            t0 = time.perf_counter()
            conn.execute("CREATE TABLE groups (group_id text, geom geometry(Geometry, 4326))")
            conn.execute("CREATE TABLE pts (rid integer, geom geometry(Point, 4326))")
            _copy(conn, "groups (group_id, geom)", table["group_id"].astype(str), table.geometry)
            _copy(conn, "pts (rid, geom)", pd.Series(np.arange(len(pts))).astype(str), pts.geometry)
            conn.execute("CREATE INDEX groups_geom ON groups USING gist (geom)")
            conn.execute("ANALYZE groups")
            conn.execute("ANALYZE pts")
            figures["postgis_load_s"] = time.perf_counter() - t0
            _say("postgis: ST_Within join")
            t0 = time.perf_counter()
            conn.execute(
                "CREATE TABLE joined AS SELECT p.rid, g.group_id FROM pts p "
                "JOIN groups g ON ST_Within(p.geom, g.geom)"
            )
            figures["postgis_s"] = time.perf_counter() - t0
            rows = conn.execute("SELECT rid, min(group_id) FROM joined GROUP BY rid").fetchall()
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    got = np.full(len(pts), None, dtype=object)
    if rows:
        rid, gid = zip(*rows, strict=True)
        got[np.asarray(rid)] = np.asarray(gid, dtype=object)
    figures["postgis_identical"] = int(_same(got, expected))
    figures["postgis_differ"] = int((_ids(got) != expected).sum())
    return figures


def _copy(conn: object, target: str, keys: pd.Series, geoms: gpd.GeoSeries) -> None:
    """COPY rows of (key, hex EWKB) into ``target``: exact coordinates, no text round trip."""
    geoms_srid = shapely.set_srid(geoms.to_numpy(), 4326)
    hexes = shapely.to_wkb(geoms_srid, hex=True, include_srid=True)
    payload = "\n".join(k + "\t" + h for k, h in zip(keys, hexes, strict=True)) + "\n"
    with conn.cursor() as cur, cur.copy(f"COPY {target} FROM STDIN") as copy:  # type: ignore[attr-defined]
        copy.write(payload.encode())


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
