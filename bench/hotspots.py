"""Hotspot benchmark: each hotspot method citywide on a synthetic city, against a plain baseline.

    python bench/run.py hotspots [--records N] [--json]

The city is made here, deterministically, so that the benchmark runs on a fresh clone:

- 126 wards (14 × 9 squares of 1,550 m, 2.4 km² each, ``W001`` … ``W126``), 21.7 × 14 km
  around Hoàn Kiếm, so that :func:`geo.crs.metric_crs` gives EPSG:5897;
- a street grid every 120 m, its crossings jittered by up to 8 m; every fifth line is a
  "Phố N" (primary / secondary / tertiary) crossing the city, the lines between are "Ngõ N"
  lanes from one Phố to the next (one in ten unnamed service lanes); lines are cut into
  edges at every crossing (about 42,000 edges): the streets table of ``geo.model``;
- N records over 2025: 55 % around 300 hot places on streets (Zipf-like weights, 10-40 m
  along the street), 20 % along 8 main streets, 15 % anywhere on a street (all within a few
  metres of the street line: N(0, 4 m) across it), 10 % uniform over the city.

Measured, each with its baseline in the same run and the ratio ours / baseline:

- ``kde``: ``hotspots(method="kde", cell_m=100)``, default bandwidth; baseline scipy's
  ``gaussian_kde`` (Gaussian kernel, Scott's bandwidth) on a sample of records evaluated at
  every cell centre, its time scaled linearly to all N records (its cost is records × cells);
  also an exact quartic density without binning, to measure the binning error;
- ``gi`` / ``gi999``: ``hotspots(method="gi", cell_m=250)`` with the default 99,999 draws and
  with 999; baseline: the same H3 cells, ``sjoin`` of the records into them, libpysal
  ``Queen`` weights and esda ``G_Local(star=True, permutations=999)`` (conditional
  randomisation, n_jobs=1);
- ``streets``: ``hotspots(method="streets")``; baseline ``sjoin_nearest(max_distance=30)``
  of the records onto the street edges (both projected to EPSG:5897) and a groupby;
- ``gi10k``: :func:`geo.spatialstats.gi_star` alone on exactly 10,000 H3 cells (res 10,
  those nearest the city centre; records per cell) against esda's ``G_Local`` with 999.

Memory (``*_peak_mb``): the rise of the process's peak resident set during the step (Linux
``VmHWM``, reset through ``/proc/self/clear_refs`` before each step) above the resident set
at its start, so that C allocations (GEOS, h3, numpy) count too; NaN where ``/proc`` is absent.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geo.cells import count_points, hex_grid, lattice_weights  # noqa: E402
from geo.hotspots import hotspots  # noqa: E402
from geo.spatialstats import fdr_adjust, gi_star  # noqa: E402

#: South-west corner of the city in EPSG:5897 (the city is centred near Hoàn Kiếm).
ORIGIN = (577_300.0, 2_319_500.0)
WARD_M = 1_550.0
STREET_M = 120.0
#: Every this many lines of the grid is a main street ("Phố").
MAIN_EVERY = 5
TZ = "Asia/Ho_Chi_Minh"

T = TypeVar("T")


@dataclass(frozen=True)
class City:
    """The synthetic city: wards, streets table and records, all in EPSG:4326."""

    wards: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    points: gpd.GeoDataFrame
    centre: tuple[float, float]  # EPSG:5897


def synthetic_city(records: int, *, wards_x: int = 14, wards_y: int = 9, seed: int = 0) -> City:
    """A ``wards_x`` × ``wards_y`` ward city, its street grid and ``records`` clustered records."""
    rng = np.random.default_rng(seed)
    to_lonlat = Transformer.from_crs(5897, 4326, always_xy=True)
    width, height = wards_x * WARD_M, wards_y * WARD_M
    wards = _wards(wards_x, wards_y, to_lonlat)
    edges, nodes = _street_grid(width, height, rng)
    streets = _streets_table(edges, nodes, wards_y, to_lonlat)
    xy = _record_xy(records, edges, nodes, width, height, len(wards), rng)
    lon, lat = to_lonlat.transform(xy[:, 0] + ORIGIN[0], xy[:, 1] + ORIGIN[1])
    start = pd.Timestamp("2025-01-01", tz=TZ)
    points = gpd.GeoDataFrame(
        {"observed_at": start + pd.to_timedelta(rng.integers(0, 365 * 86_400, records), "s")},
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )
    centre = (ORIGIN[0] + width / 2, ORIGIN[1] + height / 2)
    return City(wards, streets, points, centre)


def _wards(nx: int, ny: int, to_lonlat: Transformer) -> gpd.GeoDataFrame:
    i, j = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"))
    x0, y0 = ORIGIN[0] + i * WARD_M, ORIGIN[1] + j * WARD_M
    squares = shapely.box(x0, y0, x0 + WARD_M, y0 + WARD_M)
    # same corner, same transformed corner: neighbouring wards still share their edges
    squares = shapely.transform(squares, lambda c: np.column_stack(to_lonlat.transform(*c.T)))
    return gpd.GeoDataFrame(
        {
            "ward_id": [f"W{k + 1:03d}" for k in range(len(i))],
            "name": [f"Phường {k + 1}" for k in range(len(i))],
        },
        geometry=squares,
        crs=4326,
    )


def _street_grid(
    width: float, height: float, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """Edges between jittered crossings (local metres), with name and highway per edge."""
    xs = np.arange(STREET_M / 2, width, STREET_M)
    ys = np.arange(STREET_M / 2, height, STREET_M)
    nx, ny = len(xs), len(ys)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    nodes = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-8, 8, (nx * ny, 2))
    node = np.arange(nx * ny).reshape(nx, ny)
    main_x = np.arange(nx) % MAIN_EVERY == MAIN_EVERY // 2
    main_y = np.arange(ny) % MAIN_EVERY == MAIN_EVERY // 2
    # vertical edges (line i, j -> j+1), then horizontal ones (line j, i -> i+1)
    vi, vj = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny - 1), indexing="ij"))
    hj, hi = (a.ravel() for a in np.meshgrid(np.arange(ny), np.arange(nx - 1), indexing="ij"))
    frames: list[pd.DataFrame] = []
    for line, step, a, b, main_line, main_cross in (
        (vi, vj, node[vi, vj], node[vi, vj + 1], main_x, main_y),
        (hj, hi, node[hi, hj], node[hi + 1, hj], main_y, main_x),
    ):
        # a lane runs from one main street to the next: its block is the main streets passed
        block = np.cumsum(main_cross)[step]
        frames.append(
            pd.DataFrame(
                {"a": a, "b": b, "main": main_line[line], "line": line, "block": block}
            ).assign(vertical=len(frames) == 0)
        )
    edges = pd.concat(frames, ignore_index=True)
    main = edges["main"].to_numpy()
    # Phố 1, 2, ... for the vertical main streets, then on for the horizontal ones
    main_number = edges["line"].to_numpy() // MAIN_EVERY + 1
    main_number += np.where(edges["vertical"], 0, int(main_x.sum()))
    lane_key = edges["vertical"].astype(str) + "_" + edges["line"].astype(str) + "_"
    lane_key += edges["block"].astype(str)
    lane_number = np.zeros(len(edges), dtype=np.int64)  # Ngõ 1, 2, ...
    lane_number[~main] = pd.factorize(lane_key[~main])[0] + 1
    unnamed = (rng.random(lane_number.max() + 1) < 0.1)[lane_number] & ~main
    lanes = pd.Series(lane_number).map("Ngõ {}".format).mask(unnamed)
    edges["name"] = lanes.where(~main, pd.Series(main_number).map("Phố {}".format))
    edges["highway"] = np.where(
        main,
        np.array(["primary", "secondary", "tertiary"])[main_number % 3],
        np.where(unnamed, "service", "residential"),
    )
    return edges, nodes


def _streets_table(
    edges: pd.DataFrame, nodes: np.ndarray, wards_y: int, to_lonlat: Transformer
) -> gpd.GeoDataFrame:
    a, b = nodes[edges["a"].to_numpy()], nodes[edges["b"].to_numpy()]
    mid = (a + b) / 2
    # wards are numbered column by column, as in _wards
    ward = (mid[:, 0] // WARD_M).astype(int) * wards_y + (mid[:, 1] // WARD_M).astype(int) + 1
    coords = np.stack([a, b], axis=1).reshape(-1, 2) + ORIGIN
    lon, lat = to_lonlat.transform(coords[:, 0], coords[:, 1])
    lines = shapely.linestrings(
        np.column_stack([lon, lat]), indices=np.repeat(np.arange(len(a)), 2)
    )
    return gpd.GeoDataFrame(
        {
            "street_id": [f"e{k:06d}" for k in range(len(a))],
            "ward_id": [f"W{k:03d}" for k in ward],
            "name": edges["name"].to_numpy(),
            "highway": edges["highway"].to_numpy(),
            "length_m": np.hypot(*(b - a).T),
        },
        geometry=lines,
        crs=4326,
    )


def _record_xy(
    n: int,
    edges: pd.DataFrame,
    nodes: np.ndarray,
    width: float,
    height: float,
    wards: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Record positions (local metres): hot places, main-street corridors, streets, uniform."""
    a, b = nodes[edges["a"].to_numpy()], nodes[edges["b"].to_numpy()]
    length = np.hypot(*(b - a).T)
    along = (b - a) / length[:, None]
    across = along[:, ::-1] * [-1, 1]
    kinds = rng.multinomial(n, [0.55, 0.20, 0.15, 0.10])

    places = max(3, round(300 * wards / 126))
    place_edge = rng.choice(len(a), places, p=length / length.sum())
    place_xy = a[place_edge] + rng.random(places)[:, None] * (b - a)[place_edge]
    share = 1.0 / np.arange(1, places + 1) ** 0.8
    which = rng.choice(places, kinds[0], p=share / share.sum())
    spread = rng.uniform(10, 40, places)[which]
    e = place_edge[which]
    hot = place_xy[which] + (rng.normal(0, 1, kinds[0]) * spread)[:, None] * along[e]

    mains = edges.loc[edges["main"], "name"].unique()
    chosen = rng.choice(mains, min(len(mains), max(1, round(8 * wards / 126))), replace=False)
    corridor = np.flatnonzero(edges["name"].isin(chosen).to_numpy())
    e2 = corridor[rng.choice(len(corridor), kinds[1], p=length[corridor] / length[corridor].sum())]
    e3 = rng.choice(len(a), kinds[2], p=length / length.sum())
    on_edges = np.concatenate([e2, e3])
    street = a[on_edges] + rng.random(len(on_edges))[:, None] * (b - a)[on_edges]

    e_all = np.concatenate([e, on_edges])
    near = np.vstack([hot, street]) + rng.normal(0, 4, len(e_all))[:, None] * across[e_all]
    uniform = rng.uniform([0, 0], [width, height], (kinds[3], 2))
    xy = np.vstack([near, uniform])
    return xy[rng.permutation(n)]


# --- measuring --------------------------------------------------------------------------------


def _status(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1]) / 1024  # kB -> MB
    return float("nan")


def _measured(fn: Callable[[], T]) -> tuple[float, float, T]:
    """Seconds, peak memory rise (MB, see the module doc) and the result of ``fn()``."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed memory back, for a fair start
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")  # resets VmHWM to the current resident set
        before = _status("VmRSS")
    except OSError:
        before = float("nan")
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    peak = _status("VmHWM") if before == before else float("nan")
    return seconds, peak - before, result


def _say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the benchmarks ---------------------------------------------------------------------------


def run(
    records: int = 1_000_000,
    *,
    wards_x: int = 14,
    wards_y: int = 9,
    gi_cells: int = 10_000,
    kde_sample: int = 20_000,
    seed: int = 0,
) -> dict[str, float]:
    """Build the city, time every method and its baseline, return the figures."""
    t_start = time.perf_counter()
    figures: dict[str, float] = {"records": records}
    _say(f"city: {wards_x} x {wards_y} wards, {records:,} records")
    figures["city_s"], _, city = _measured(
        lambda: synthetic_city(records, wards_x=wards_x, wards_y=wards_y, seed=seed)
    )
    figures.update(wards=len(city.wards), street_edges=len(city.streets))
    figures.update(_kde(city, kde_sample))
    figures.update(_gi(city))
    figures.update(_streets(city))
    figures.update(_gi_alone(city, gi_cells))
    figures["total_s"] = time.perf_counter() - t_start
    return figures


def _kde(city: City, sample: int) -> dict[str, float]:
    from scipy.spatial import cKDTree
    from scipy.stats import gaussian_kde

    from geo.density import quartic

    _say("kde: ours")
    s, mb, ours = _measured(
        lambda: hotspots(city.points, method="kde", area=city.wards, cell_m=100)
    )
    bandwidth = float(ours.attrs["bandwidth_m"])
    ij = np.array([c.split("_")[1:] for c in ours["unit_id"]], dtype=float)
    centres = (ij + 0.5) * 100.0
    xy = np.column_stack(
        Transformer.from_crs(4326, 5897, always_xy=True).transform(
            city.points.geometry.x.to_numpy(), city.points.geometry.y.to_numpy()
        )
    )
    n = len(xy)

    def exact() -> np.ndarray:
        density = np.zeros(len(centres))
        tree = cKDTree(centres)
        for start in range(0, n, 100_000):
            pairs = cKDTree(xy[start : start + 100_000]).sparse_distance_matrix(
                tree, bandwidth, output_type="ndarray"
            )
            density += np.bincount(pairs["j"], quartic(pairs["v"], bandwidth), len(centres))
        return density * 1e6

    _say("kde: exact quartic, no binning")
    exact_s, exact_mb, truth = _measured(exact)
    err = np.abs(ours["score"].to_numpy() - truth).max() / truth.max()

    m = min(sample, n)
    pick = np.random.default_rng(1).choice(n, m, replace=False)
    _say(f"kde: gaussian_kde on {m:,} records at {len(centres):,} centres")
    base_s, _, _ = _measured(lambda: gaussian_kde(xy[pick].T)(centres.T))
    baseline = base_s * n / m
    return {
        "kde_cells": len(ours),
        "kde_bandwidth_m": bandwidth,
        "kde_s": s,
        "kde_peak_mb": mb,
        "kde_exact_s": exact_s,
        "kde_exact_peak_mb": exact_mb,
        "kde_binning_max_err": float(err),
        "kde_gaussian_kde_sample": m,
        "kde_gaussian_kde_sample_s": base_s,
        "kde_baseline_s": baseline,
        "kde_ratio": s / baseline,
    }


def _gi(city: City) -> dict[str, float]:
    import esda
    from libpysal.weights import Queen

    figures: dict[str, float] = {}
    for key, draws in (("gi", None), ("gi999", 999)):
        _say(f"{key}: ours, hexagons of 250 m, draws {draws or 'default'}")
        gi = partial(hotspots, method="gi", area=city.wards, cell_m=250, permutations=draws)
        s, mb, ours = _measured(partial(gi, city.points))
        figures.update({f"{key}_cells": len(ours), f"{key}_s": s, f"{key}_peak_mb": mb})
        figures[f"{key}_hot"] = int(ours["hot"].sum())

    def baseline() -> tuple[int, int]:
        cells = hex_grid(city.wards, cell_m=250)
        joined = city.points[["geometry"]].sjoin(
            cells[["cell_id", "geometry"]], how="inner", predicate="within"
        )
        counts = joined.groupby("cell_id").size().reindex(cells["cell_id"], fill_value=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = Queen.from_dataframe(cells, use_index=False, silence_warnings=True)
            g = esda.G_Local(
                counts.to_numpy(dtype=float), w, transform="B", star=True,
                permutations=999, n_jobs=1, seed=0,
            )  # fmt: skip
        return len(cells), int((fdr_adjust(g.p_sim) < 0.05).sum())

    _say("gi: baseline sjoin + Queen + esda G_Local(999)")
    s, mb, (cells, hot) = _measured(baseline)
    figures.update(
        gi_baseline_s=s,
        gi_baseline_peak_mb=mb,
        gi_baseline_cells=cells,
        gi_baseline_hot_fdr=hot,
        gi_ratio=figures["gi_s"] / s,
        gi999_ratio=figures["gi999_s"] / s,
    )
    return figures


def _streets(city: City) -> dict[str, float]:
    _say("streets: ours")
    s, mb, ours = _measured(lambda: hotspots(city.points, method="streets", streets=city.streets))

    def baseline() -> pd.Series:
        points = city.points[["geometry"]].to_crs(5897)
        edges = city.streets[["street_id", "geometry"]].to_crs(5897)
        joined = points.sjoin_nearest(edges, how="inner", max_distance=30)
        joined = joined[~joined.index.duplicated()]  # equidistant ties: keep one
        return joined.groupby("street_id").size()

    _say("streets: baseline sjoin_nearest + groupby")
    base_s, base_mb, counts = _measured(baseline)
    return {
        "streets_segments": len(ours),
        "streets_s": s,
        "streets_peak_mb": mb,
        "streets_matched": int(ours["count"].sum()),
        "streets_baseline_s": base_s,
        "streets_baseline_peak_mb": base_mb,
        "streets_baseline_matched": int(counts.sum()),
        "streets_ratio": s / base_s,
    }


def _gi_alone(city: City, n_cells: int) -> dict[str, float]:
    import esda

    from geo.spatialstats import TOTAL_DRAWS

    cells = hex_grid(city.wards, cell_m=100)
    if len(cells) < n_cells:
        raise ValueError(f"the city has {len(cells)} cells at 100 m, fewer than {n_cells}")
    centroid = cells.to_crs(5897).centroid
    far = np.hypot(centroid.x - city.centre[0], centroid.y - city.centre[1]).to_numpy()
    cells = cells.iloc[np.sort(np.argsort(far, kind="stable")[:n_cells])].reset_index(drop=True)
    values = count_points(city.points, cells).to_numpy(dtype=float)
    w_s, _, w = _measured(lambda: lattice_weights(cells))
    figures: dict[str, float] = {"gi10k_cells": len(cells), "gi10k_weights_s": w_s}
    for key, draws in (("gi10k", TOTAL_DRAWS), ("gi10k_999", 999)):
        _say(f"{key}: gi_star on {len(cells):,} cells, {draws:,} draws")
        s, mb, out = _measured(partial(gi_star, values, w, permutations=draws))
        figures.update({f"{key}_draws": draws, f"{key}_s": s, f"{key}_peak_mb": mb})
        figures[f"{key}_hot"] = int(out["hot"].sum())

    def baseline() -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = esda.G_Local(
                values, w, transform="B", star=True, permutations=999, n_jobs=1, seed=0
            )
        return int((fdr_adjust(g.p_sim) < 0.05).sum())

    _say(f"gi10k: esda G_Local(999) on {len(cells):,} cells")
    s, mb, hot = _measured(baseline)
    figures.update(
        gi10k_baseline_s=s,
        gi10k_baseline_peak_mb=mb,
        gi10k_baseline_hot_fdr=hot,
        gi10k_ratio=figures["gi10k_s"] / s,
        gi10k_999_ratio=figures["gi10k_999_s"] / s,
    )
    return figures
