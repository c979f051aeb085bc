"""The ``hotspots`` and ``evaluate`` commands: hotspot maps and their accuracy on any layer."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo.errors import InputError

METHOD_CHOICES = ("grid", "hex", "kde", "gi", "streets")


def add_commands(sub: Any) -> None:
    """Register ``hotspots`` and ``evaluate`` on the ``urban-order`` sub-parsers."""
    h = sub.add_parser(
        "hotspots",
        help="rank cells or street segments of any point layer by how hot they are",
        description="Hotspots of any point file pyogrio reads (GeoPackage, GeoJSON, Shapefile, "
        "FlatGeobuf, ...), in any CRS. Writes one feature per cell or street segment with "
        "rank (1 = hottest), score and count; gi adds z, p, p_fdr and hot.",
    )
    h.add_argument("points", type=Path, metavar="POINTS")
    _common(h)
    h.add_argument("--method", choices=METHOD_CHOICES, default="gi")
    h.add_argument("--time-col", default=None, help="time column: KDE then counts per month")
    h.add_argument("--out", type=Path, required=True, help="output file (GeoJSON, GPKG, ...)")
    h.add_argument("--json", action="store_true", help="print a summary as one JSON line")
    h.set_defaults(func=_hotspots)

    e = sub.add_parser(
        "evaluate",
        help="hit rate and PAI of every hotspot method against last period's counts",
        description="Train each hotspot method on the records before --train-until, select the "
        "hottest units up to --area of the study area (street length for streets), and count "
        "the records of the test period that fall in them; the baseline ranks square cells by "
        "the counts of the period just before the split.",
    )
    e.add_argument("points", type=Path, metavar="POINTS")
    _common(e)
    e.add_argument("--time-col", required=True, help="column with the record's date or time")
    e.add_argument("--train-until", required=True, help="first day of the test period")
    e.add_argument("--test-until", required=True, help="day after the test period")
    e.add_argument("--train-from", default=None, help="first day of training (default: all)")
    e.add_argument("--area", type=float, default=0.05, help="budget: share of the area (0.05)")
    e.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods (default grid,hex,kde,gi, plus streets with --network)",
    )
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.set_defaults(func=_evaluate)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--layer", default=None, help="layer of a multi-layer file")
    p.add_argument(
        "--boundary",
        type=Path,
        default=None,
        help="study area polygon(s), e.g. the ward (default: hull of the points)",
    )
    p.add_argument("--weight", default=None, help="column to sum instead of counting records")
    p.add_argument("--cell", type=float, default=None, help="cell size in metres (default: auto)")
    p.add_argument("--bandwidth", type=float, default=None, help="KDE bandwidth in metres")
    p.add_argument("--network", type=Path, default=None, help="streets: OSM XML or GraphML")
    p.add_argument(
        "--permutations",
        type=int,
        default=None,
        help="Gi* random draws of the null distribution (default 99,999)",
    )
    p.add_argument("--seed", type=int, default=0)


def _hotspots(args: argparse.Namespace) -> int:
    from geo.hotspots import hotspots

    points = _read_points(args.points, layer=args.layer, weight=args.weight)
    area = _read_area(args.boundary)
    streets = _read_streets(args.network, area) if args.network else None
    months = None
    if args.time_col:
        months = _months(points, args.time_col)
    result = hotspots(
        points,
        method=args.method,
        area=area,
        streets=streets,
        weight=args.weight,
        cell_m=args.cell,
        bandwidth_m=args.bandwidth,
        months=months,
        permutations=args.permutations,
        seed=args.seed,
    )
    _write(result, args.out)
    summary = {
        "method": args.method,
        "units": len(result),
        "points": len(points),
        "counted": float(result["count"].sum()),
        "out": str(args.out),
        **{k: v for k, v in result.attrs.items() if isinstance(v, int | float | str)},
    }
    if "hot" in result.columns:
        summary["hot"] = int(result["hot"].sum())
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(f"{args.out}: {len(result)} {_unit_word(args.method)} ranked from {len(points)} "
              f"points" + (f", {summary['hot']} significantly hot (FDR)" if "hot" in summary
                           else ""))  # fmt: skip
        top = result.sort_values("rank").head(10)
        cols = [c for c in ("rank", "unit_id", "name", "count", "score", "z", "p_fdr") if c in top]
        print(top[cols].to_string(index=False))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from geo.evaluate import evaluate

    points = _read_points(args.points, layer=args.layer, weight=args.weight)
    area = _read_area(args.boundary)
    streets = _read_streets(args.network, area) if args.network else None
    if args.methods:
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = sorted(set(methods) - set(METHOD_CHOICES))
        if unknown:
            raise InputError(f"Unknown method(s) {', '.join(unknown)}; choose from "
                             f"{', '.join(METHOD_CHOICES)}.")  # fmt: skip
    else:
        methods = ["grid", "hex", "kde", "gi"] + (["streets"] if streets is not None else [])
    table = evaluate(
        points,
        time_col=args.time_col,
        train_until=args.train_until,
        test_until=args.test_until,
        train_from=args.train_from,
        methods=methods,
        area=area,
        streets=streets,
        budget=args.area,
        weight=args.weight,
        cell_m=args.cell,
        bandwidth_m=args.bandwidth,
        permutations=args.permutations,
        seed=args.seed,
    )
    if args.json:
        out = {
            row["method"]: {k: _plain(v) for k, v in row.items() if k != "method"}
            for row in table.to_dict("records")
        }
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(f"Train before {args.train_until}, test until {args.test_until}, "
              f"budget {args.area:.0%} of the area (street length for streets)")  # fmt: skip
        print(table.to_string(index=False))
    return 0


def _read_points(path: Path, *, layer: str | None, weight: str | None) -> gpd.GeoDataFrame:
    if not path.is_file():
        raise InputError(f"{path}: no such file.")
    try:
        points = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputError(f"{path}: cannot read it as a point layer ({exc}).") from exc
    if "geometry" not in points or points.geometry.isna().all():
        raise InputError(
            f"{path}: no geometry; give a point layer (GeoPackage, GeoJSON, ...). "
            "For a CSV with coordinates, import it with `urban-order import`."
        )
    if points.crs is None:
        raise InputError(f"{path}: the layer declares no CRS; set one (e.g. with ogr2ogr -a_srs).")
    kinds = set(points.geometry.dropna().geom_type)
    if not kinds <= {"Point"}:
        if kinds <= {"Point", "MultiPoint"}:
            points = points.explode(index_parts=False)
        else:
            raise InputError(f"{path}: hotspots need points; the layer holds {', '.join(kinds)}.")
    points = points[points.geometry.notna() & ~points.geometry.is_empty]
    if weight is not None and weight not in points.columns:
        raise InputError(f"{path}: no column {weight!r} for --weight "
                         f"(columns: {', '.join(map(str, points.columns))}).")  # fmt: skip
    return points


def _read_area(path: Path | None) -> gpd.GeoDataFrame | None:
    if path is None:
        return None
    if not path.is_file():
        raise InputError(f"{path}: no such file (--boundary).")
    try:
        area = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputError(f"{path}: cannot read it as a polygon layer ({exc}).") from exc
    if area.crs is None:
        raise InputError(f"{path}: the boundary declares no CRS; set one (e.g. EPSG:4326).")
    if not set(area.geom_type.dropna()) <= {"Polygon", "MultiPolygon"}:
        raise InputError(f"{path}: --boundary needs polygons (the ward); it holds "
                         f"{', '.join(sorted(set(area.geom_type.dropna())))}.")  # fmt: skip
    return area


def _read_streets(path: Path, area: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    from geo.network import load_network, street_edges

    graph = load_network(path)
    if area is not None:
        return street_edges(graph, clip=area)
    return street_edges(graph)


def _months(points: gpd.GeoDataFrame, column: str) -> float:
    if column not in points.columns:
        raise InputError(f"No column {column!r} for --time-col "
                         f"(columns: {', '.join(map(str, points.columns))}).")  # fmt: skip
    times = pd.to_datetime(points[column], errors="coerce", format="mixed")
    if times.notna().sum() == 0:
        raise InputError(f"Column {column!r} holds no readable dates.")
    days = (times.max() - times.min()).total_seconds() / 86400 + 1
    return days / 30.4375


def _write(result: gpd.GeoDataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    result.to_file(out)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


def _unit_word(method: str) -> str:
    return "street segments" if method == "streets" else "cells"
