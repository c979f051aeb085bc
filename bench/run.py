"""Benchmarks: each sub-benchmark measures ours and a baseline in the same run.

    python bench/run.py store  [--records N] [--json]
    python bench/run.py assign [--points N] [--groups M] [--postgis URL] [--json]  (bench/assign.py)
    python bench/run.py demo   [--json]
    python bench/run.py import [--rows N] [--json]
    python bench/run.py hotspots [--records N] [--json]   (see bench/hotspots.py)
    python bench/run.py coverage [--teams N] [--hours H]  (see bench/patrol.py)
    python bench/run.py route [--stops N] [--minutes M]   (see bench/patrol.py)
    python bench/run.py map [--records N] [--groups M] [--store PATH] [--json]  (see bench/map.py)
    python bench/run.py report [--records N] [--groups M] [--month YYYY-MM] [--json]
                                                                           (see bench/report.py)

Each prints a table; with ``--json`` the last line is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.store import Query, create_store  # noqa: E402

TZ = "Asia/Ho_Chi_Minh"


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def _records(n: int, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    return gpd.GeoDataFrame(
        {
            "record_id": [f"r{i:08d}" for i in rng.permutation(n)],
            "ward_id": "w",
            "group_id": rng.choice([f"g{i}" for i in range(92)], n),
            "category": rng.choice(["traffic", "littering", "street_vending"], n),
            "observed_at": pd.Timestamp("2025-01-01", tz=TZ)
            + pd.to_timedelta(rng.integers(0, 300 * 86400, n), unit="s"),
            "fine_vnd": rng.choice([0, 500_000], n),
        },
        geometry=gpd.points_from_xy(105.826 + rng.random(n) * 0.02, 20.998 + rng.random(n) * 0.014),
        crs=4326,
    )


def bench_store(args: argparse.Namespace) -> dict[str, float]:
    """Our transactional GeoPackage write/read against GDAL's own writer/reader (pyogrio)."""
    recs = _records(args.records)
    query = Query(
        start=pd.Timestamp("2025-03-01", tz=TZ),
        end=pd.Timestamp("2025-04-01", tz=TZ),
        categories=("traffic",),
    )
    with tempfile.TemporaryDirectory() as tmp:
        ours = create_store(Path(tmp) / "ours.gpkg")
        write_s, _ = _timed(lambda: ours.write({"violations": recs}, user="b", action="bench"))
        read_s, got = _timed(lambda: ours.read("violations", query))
        gdal_path = Path(tmp) / "gdal.gpkg"
        frame = recs.assign(observed_at=recs["observed_at"].dt.tz_convert("UTC"))
        gdal_write_s, _ = _timed(
            lambda: pyogrio.write_dataframe(frame, gdal_path, layer="violations")
        )
        where = (
            "observed_at >= '2025-02-28T17:00:00' AND observed_at < '2025-03-31T17:00:00' "
            "AND category = 'traffic'"
        )
        gdal_read_s, base = _timed(
            lambda: pyogrio.read_dataframe(gdal_path, layer="violations", where=where)
        )
    assert len(got) == len(base), (len(got), len(base))  # type: ignore[arg-type]
    return {
        "records": args.records,
        "write_s": write_s,
        "gdal_write_s": gdal_write_s,
        "write_ratio": write_s / gdal_write_s,
        "read_filtered_s": read_s,
        "gdal_read_filtered_s": gdal_read_s,
        "rows_read": len(got),  # type: ignore[arg-type]
    }


def bench_assign(args: argparse.Namespace) -> dict[str, float]:
    """Records to groups on the synthetic city: ours against sjoin(within) and PostGIS."""
    from bench.assign import run

    return run(args.points, args.groups, postgis_url=args.postgis, repeat=args.repeat)


def bench_demo(args: argparse.Namespace) -> dict[str, float]:
    """The demo build (synthetic ward) by step, against the 2-minute first-run budget."""
    from geo.demo import build_demo

    marks: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        total, summary = _timed(
            lambda: build_demo(
                Path(tmp) / "demo.gpkg",
                progress=lambda _f, step: marks.append((step, time.perf_counter())),
            )
        )
    steps = {f"{a}_s": t2 - t1 for (a, t1), (_b, t2) in itertools.pairwise(marks)}
    return {"total_s": total, "budget_s": 120.0, **steps, **summary.rows}  # type: ignore[attr-defined]


def _team_sheet(n: int, ward: gpd.GeoDataFrame, seed: int = 0) -> bytes:
    """A ward team's CSV as offices type it: Vietnamese headers, day-first times, "đ" fines."""
    rng = np.random.default_rng(seed)
    left, bottom, right, top = ward.total_bounds
    cats = np.array(["Lấn chiếm vỉa hè", "Bán hàng rong", "Vi phạm giao thông", "Xả rác"])
    fines = np.array(["2.000.000đ", "300.000", "", "500.000 đ"])
    t0 = pd.Timestamp("2025-01-01 06:00")
    stamps = t0 + pd.to_timedelta(rng.integers(0, 300 * 86400, n), unit="s")
    frame = pd.DataFrame(
        {
            "STT": np.arange(1, n + 1),
            "Thời gian": stamps.strftime("%d/%m/%Y %H:%M:%S"),
            "Vĩ độ": np.round(rng.uniform(bottom, top, n), 7),
            "Kinh độ": np.round(rng.uniform(left, right, n), 7),
            "Loại vi phạm": cats[rng.integers(0, len(cats), n)],
            "Số tiền phạt": fines[rng.integers(0, len(fines), n)],
        }
    )
    return frame.to_csv(index=False, sep=";").encode("utf-8")


def bench_import(args: argparse.Namespace) -> dict[str, float]:
    """Our upload end to end against read_csv + sjoin + GDAL write, in the same run."""
    from geo.demo import build_demo
    from geo.ingest import UploadOptions, commit_upload, prepare_upload
    from geo.readers import ReadLimits
    from geo.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo.gpkg"
        build_demo(demo)
        ward = open_store(demo).read("wards")
        groups = open_store(demo).read("groups")
        data = _team_sheet(args.rows, ward)
        small = _team_sheet(10_000, ward, seed=1)
        figures: dict[str, float] = {"rows": args.rows, "csv_mb": len(data) / 2**20}

        def ours(payload: bytes, name: str) -> dict[str, object]:
            store_path = Path(tmp) / f"ours-{name}.gpkg"
            store_path.write_bytes(demo.read_bytes())
            store = open_store(store_path)
            # a city-sized file: above the app's 50 MiB upload limit, as `import --max-mb` allows
            opts = UploadOptions(now=pd.Timestamp("2025-11-01", tz=TZ),
                                 limits=ReadLimits(max_bytes=1 << 30))  # fmt: skip
            prepared = prepare_upload(payload, name=name, store=store, options=opts)
            return commit_upload(prepared, store=store)

        def baseline(payload: bytes) -> int:
            import io

            frame = pd.read_csv(io.BytesIO(payload), sep=";", dtype=str, keep_default_na=False)
            points = gpd.GeoDataFrame(
                frame,
                geometry=gpd.points_from_xy(frame["Kinh độ"].astype(float),
                                            frame["Vĩ độ"].astype(float)),
                crs=4326,
            )  # fmt: skip
            joined = points.sjoin(groups[["group_id", "geometry"]], how="left", predicate="within")
            joined = joined.drop(columns="index_right")
            pyogrio.write_dataframe(joined, Path(tmp) / "baseline.gpkg", layer="violations")
            return len(joined)

        figures["ours_s"], summary = _timed(lambda: ours(data, "big.csv"))
        figures["baseline_s"], _ = _timed(lambda: baseline(data))
        figures["ratio"] = figures["ours_s"] / figures["baseline_s"]
        figures["small_10k_s"], _ = _timed(lambda: ours(small, "small.csv"))
        for key in ("accepted", "duplicates", "quarantined", "snapped", "outside"):
            figures[key] = summary[key]  # type: ignore[index]
    return figures


def bench_hotspots(args: argparse.Namespace) -> dict[str, float]:
    """Every hotspot method citywide on a synthetic 126-ward city, against plain baselines."""
    from bench.hotspots import run

    return run(args.records)


def bench_coverage(args: argparse.Namespace) -> dict[str, float]:
    """A day of patrol tracks covered on Kim Liên, against QGIS-style buffers (bench/patrol.py)."""
    from bench.patrol import run_coverage

    return run_coverage(args.teams, args.hours, network=args.network)


def bench_route(args: argparse.Namespace) -> dict[str, float]:
    """A 30-stop patrol route, against networkx Dijkstra + Christofides (bench/patrol.py)."""
    from bench.patrol import run_route

    return run_route(args.stops, args.minutes, network=args.network)


def bench_map(args: argparse.Namespace) -> dict[str, float]:
    """The map page's city view in headless Chromium, against one marker per record."""
    from bench.map import run

    sizes = tuple(int(n) for n in args.baseline.split(","))
    return run(args.records, groups=args.groups, store=args.store, baseline_sizes=sizes)


def bench_report(args: argparse.Namespace) -> dict[str, float]:
    """The city's monthly report from aggregates, against GDAL + pandas; a ward's report."""
    from bench.report import run

    return run(args.records, groups=args.groups, month=args.month, store=args.store,
               repeat=args.repeat)  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--json", action="store_true", help="end with one JSON line of the figures")
    sub = p.add_subparsers(dest="bench", required=True)
    s = sub.add_parser("store")
    s.add_argument("--records", type=int, default=100_000)
    s.set_defaults(func=bench_store)
    a = sub.add_parser("assign")
    a.add_argument("--points", type=int, default=1_000_000)
    a.add_argument("--groups", type=int, default=10_000)
    a.add_argument("--postgis", metavar="URL", help="PostGIS database for the ST_Within baseline")
    a.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    a.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    a.set_defaults(func=bench_assign)
    d = sub.add_parser("demo")
    d.set_defaults(func=bench_demo)
    i = sub.add_parser("import")
    i.add_argument("--rows", type=int, default=1_000_000)
    i.set_defaults(func=bench_import)
    h = sub.add_parser("hotspots")
    h.add_argument("--records", type=int, default=1_000_000)
    # also accepted after the sub-command, as the usage above writes it
    h.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    h.set_defaults(func=bench_hotspots)
    networks = ("auto", "kim-lien", "synthetic")
    c = sub.add_parser("coverage")
    c.add_argument("--teams", type=int, default=20)
    c.add_argument("--hours", type=float, default=8.0)
    c.add_argument("--network", choices=networks, default="auto")
    c.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    c.set_defaults(func=bench_coverage)
    r = sub.add_parser("route")
    r.add_argument("--stops", type=int, default=30)
    r.add_argument("--minutes", type=float, default=1_200.0)
    r.add_argument("--network", choices=networks, default="auto")
    r.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    r.set_defaults(func=bench_route)
    m = sub.add_parser("map")
    m.add_argument("--records", type=int, default=1_000_000)
    m.add_argument("--groups", type=int, default=10_000)
    m.add_argument("--store", type=Path, default=None, help="reuse (or build) the store here")
    m.add_argument("--baseline", default="10000,100000", help="naive map sizes, comma-separated")
    m.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    m.set_defaults(func=bench_map)
    rp = sub.add_parser("report")
    rp.add_argument("--records", type=int, default=1_000_000)
    rp.add_argument("--groups", type=int, default=10_000)
    rp.add_argument("--month", default="2025-07", metavar="YYYY-MM")
    rp.add_argument("--store", type=Path, default=None, help="reuse (or build) the store here")
    rp.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    rp.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    rp.set_defaults(func=bench_report)
    args = p.parse_args()
    figures = args.func(args)
    print(f"{args.bench}")
    for key, value in figures.items():
        if isinstance(value, bool | str):
            shown = str(value)
        else:
            shown = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"
        print(f"  {key:<24} {shown:>14}")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
