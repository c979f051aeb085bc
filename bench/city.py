"""A deterministic synthetic city shaped like Hà Nội, for the citywide benchmarks.

    from bench.city import make_city
    wards, zones, groups, records = make_city(groups=10_000, records=1_000_000, seed=0)

Built in EPSG:5897 metres, returned in EPSG:4326:

- an irregular outline of about 3,300 km² (a radial outline with a few random harmonics)
  around a centre 20 km west-south-west of Hoàn Kiếm, which lies well inside it, all inside
  :data:`geo.config.HANOI_BBOX` (so :func:`geo.crs.metric_crs` gives EPSG:5897);
- 126 wards: a density-weighted Lloyd (k-means) partition of the outline, whose target area
  grows with the distance from Hoàn Kiếm (about 2 km² in the centre, 40-60 km² at the
  edge, as Hà Nội's 51 wards and 75 communes since July 2025); ``W001`` is nearest
  Hoàn Kiếm; the first 51 are "Phường", the others "Xã";
- ``groups`` residential groups, about 80 a ward (more in large outer wards, with noise),
  from a Voronoi partition of Lloyd-relaxed seeds inside each ward, smaller towards the
  centre; cleaned into one exact coverage (:func:`shapely.coverage_clean`), so that
  neighbouring groups, zones and wards share their edges vertex for vertex;
- 3-6 zones per ward (fewer when a ward has fewer groups): k-means clusters of its groups;
- ``records`` violation-like points over 2025 (numpy: 10 M take about 35 s and 4 GB): 60 % around
  3,000 hot places (Zipf-like weights, 10-300 m spread, most near the centre), 20 % spread
  around Hoàn Kiếm (σ 6 km), 20 % uniform over the city; plus, to exercise the tie rules,
  0.05 % exactly on a vertex shared by two or more groups, 0.05 % exactly on an edge shared
  by two groups (midpoints that are exact in floating point), and 0.5 % outside every ward
  (1 m to 3 km beyond the outline). Records are not assigned to groups: run
  :func:`geo.assign.assign_to_groups` on them.

The polygons take about 5 s (10,000 groups); they are cached under ``var/bench/`` keyed by the
parameters (GeoParquet); records are made on each call (about 3 s per million).
"""

from __future__ import annotations

import itertools
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geo.config import HANOI_BBOX, TIMEZONE_NAME  # noqa: E402
from geo.model import CATEGORIES, VIOLATION_STATUSES, conform  # noqa: E402

__all__ = ["CACHE_DIR", "City", "make_city"]

#: Where the polygons of each (wards, groups, seed) are cached.
CACHE_DIR = ROOT / "var" / "bench"
#: Bumped whenever the generator changes, so that stale caches are not read.
_VERSION = 1
#: Hoàn Kiếm (lon, lat) and in EPSG:5897.
HOAN_KIEM = (105.8522, 21.0285)
_TO_M = Transformer.from_crs(4326, 5897, always_xy=True)
_TO_LONLAT = Transformer.from_crs(5897, 4326, always_xy=True)
_CENTRE = np.array(_TO_M.transform(*HOAN_KIEM))
#: Target ward area (km²) at Hoàn Kiếm and far from it, and the distance (km) of the change.
_CORE_KM2, _OUTER_KM2, _CHANGE_KM = 4.0, 45.0, 12.0
_POPULATION = 8_700_000
_URBAN_SHARE = 51 / 126


class City(NamedTuple):
    """The synthetic city, every table in EPSG:4326 with the columns of :mod:`geo.model`."""

    wards: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    groups: gpd.GeoDataFrame
    records: gpd.GeoDataFrame


def make_city(
    groups: int = 10_000,
    records: int = 1_000_000,
    seed: int = 0,
    *,
    wards: int = 126,
    cache_dir: Path | None = CACHE_DIR,
) -> City:
    """Build (or read from the cache) the synthetic city; the same arguments, the same city.

    Parameters
    ----------
    groups
        Residential groups in all (at least one per ward).
    records
        Violation-like point records.
    seed
        Seed of every random choice.
    wards
        Wards (126 in Hà Nội).
    cache_dir
        Where to cache the polygons; None to always build them.

    Returns
    -------
    City
        ``wards`` (ward_id, name, population, source, synthetic, ...), ``zones`` (zone_id,
        ward_id, name, ...), ``groups`` (group_id, zone_id, ward_id, name, population,
        households, ...) as :func:`geo.model.conform` gives them, and ``records``
        (record_id, category, observed_at, fine_vnd, status, synthetic, geometry).
    """
    if wards < 1 or groups < wards:
        raise ValueError(f"need 1 ≤ wards ≤ groups, got wards={wards}, groups={groups}")
    if records < 0:
        raise ValueError(f"records must be ≥ 0, got {records}")
    ward_gdf, zone_gdf, group_gdf = _cached_polygons(wards, groups, seed, cache_dir)
    points = _records(records, ward_gdf, group_gdf, np.random.default_rng([seed, 1]))
    return City(ward_gdf, zone_gdf, group_gdf, points)


# --- polygons ---------------------------------------------------------------------------------


def _cached_polygons(
    wards: int, groups: int, seed: int, cache_dir: Path | None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    names = ("wards", "zones", "groups")
    if cache_dir is None:
        return _polygons(wards, groups, seed)
    folder = Path(cache_dir) / f"city-v{_VERSION}-w{wards}-g{groups}-s{seed}"
    if all((folder / f"{n}.parquet").exists() for n in names):
        return tuple(conform(n, gpd.read_parquet(folder / f"{n}.parquet")) for n in names)  # type: ignore[return-value]
    frames = _polygons(wards, groups, seed)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # written aside then renamed: a concurrent reader sees all three files or none
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}-"))
    for name, frame in zip(names, frames, strict=True):
        frame.to_parquet(tmp / f"{name}.parquet")
    try:
        os.replace(tmp, folder)
    except OSError:  # another process got there first
        shutil.rmtree(tmp, ignore_errors=True)
    return frames


def _polygons(
    n_wards: int, n_groups: int, seed: int
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng([seed, 0])
    outline = _outline(rng)
    ward_seeds = _ward_seeds(outline, n_wards, rng)
    cells = shapely.voronoi_polygons(
        shapely.multipoints(ward_seeds), extend_to=outline, ordered=True
    )
    ward_geoms = shapely.intersection(shapely.get_parts(cells), outline)
    areas = shapely.area(ward_geoms) / 1e6
    per_ward = _allocate(n_groups, areas**0.35 * rng.lognormal(0, 0.25, n_wards))
    group_geoms, group_ward, group_xy = [], [], []
    for w, (geom, k) in enumerate(zip(ward_geoms, per_ward, strict=True)):
        seeds = _lloyd(_sample_in(geom, 40 * k, rng), k, rng, weighted=True)
        if k == 1:
            parts = np.array([geom])
        else:
            vor = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=geom, ordered=True)
            parts = shapely.intersection(shapely.get_parts(vor), geom)
        group_geoms.append(parts)
        group_ward.append(np.full(k, w))
        group_xy.append(seeds)
    geoms = shapely.coverage_clean(np.concatenate(group_geoms))
    ward_of = np.concatenate(group_ward)
    xy = np.vstack(group_xy)
    # zones: k-means of the group seeds of each ward, numbered from the one nearest Hoàn Kiếm
    zone_of = np.zeros(len(geoms), dtype=np.int64)
    for w in range(n_wards):
        rows = np.flatnonzero(ward_of == w)
        k = min(len(rows), int(rng.integers(3, 7)))
        labels = _kmeans_labels(xy[rows], k, rng)
        order = np.argsort(np.argsort([np.hypot(*(xy[rows][labels == z].mean(0) - _CENTRE))
                                       for z in range(labels.max() + 1)]))  # fmt: skip
        zone_of[rows] = order[labels]
    return _assemble(geoms, ward_of, zone_of, xy, rng)


def _outline(rng: np.random.Generator) -> shapely.Polygon:
    """An irregular outline of about 3,300 km², Hoàn Kiếm 20 km east-north-east of its centre."""
    theta = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    k = np.arange(2, 8)[:, None]
    wiggle = rng.uniform(0.02, 0.07, (6, 1)) / k * 3 * np.cos(k * theta + rng.uniform(0, 7, (6, 1)))
    r = 32_000 * (1 + wiggle.sum(0))
    centre = _CENTRE + np.array([-20_000.0, -8_000.0])
    ring = np.column_stack([centre[0] + r * np.cos(theta), centre[1] + r * np.sin(theta)])
    left, bottom = _TO_M.transform(HANOI_BBOX[0], HANOI_BBOX[1])
    right, top = _TO_M.transform(HANOI_BBOX[2], HANOI_BBOX[3])
    margin = 4_000.0  # room for the records placed outside every ward
    inner = shapely.box(left + margin, bottom + margin, right - margin, top - margin)
    outline = shapely.intersection(shapely.Polygon(ring), inner)
    return shapely.set_precision(outline, 0.01)


def _target_km2(xy: np.ndarray) -> np.ndarray:
    d_km = np.hypot(*(xy - _CENTRE).T) / 1000
    return _CORE_KM2 + (_OUTER_KM2 - _CORE_KM2) * (1 - np.exp(-((d_km / _CHANGE_KM) ** 2)))


def _sample_in(geom: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform points inside ``geom`` (rejection sampling in its bounds)."""
    left, bottom, right, top = shapely.bounds(geom)
    share = shapely.area(geom) / ((right - left) * (top - bottom))
    shapely.prepare(geom)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        xy = rng.uniform((left, bottom), (right, top), (int((n - got) / share * 1.2) + 16, 2))
        xy = xy[shapely.contains_xy(geom, xy[:, 0], xy[:, 1])]
        out.append(xy)
        got += len(xy)
    return np.vstack(out)[:n] if n else np.empty((0, 2))


def _ward_seeds(outline: shapely.Polygon, n: int, rng: np.random.Generator) -> np.ndarray:
    """Seeds whose Voronoi cells have about :func:`_target_km2` of area, nearest first."""
    seeds = _lloyd(_sample_in(outline, 300 * n, rng), n, rng, weighted=True, power=1.5)
    return seeds[np.argsort(np.hypot(*(seeds - _CENTRE).T))]


def _lloyd(
    samples: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    weighted: bool,
    power: float = 1,
    rounds: int = 8,
) -> np.ndarray:
    """``k`` seeds relaxed over ``samples`` (k-means), denser where the target area is small.

    In the plane, k-means cells have an area proportional to density^-1/2, so ``power=2``
    would make areas follow the target; but the outline's edge inflates the outer cells, and
    1.5 gives wards of about 2 km² in the centre and 40-60 km² outside (Hà Nội's range).
    """
    weights = _target_km2(samples) ** -power if weighted else np.ones(len(samples))
    seeds = samples[rng.choice(len(samples), k, replace=False, p=weights / weights.sum())]
    if k == 1:
        return np.average(samples, axis=0, weights=weights)[None, :]
    for _ in range(rounds):
        label = cKDTree(seeds).query(samples)[1]
        mass = np.bincount(label, weights, minlength=k)
        moved = np.column_stack(
            [np.bincount(label, weights * samples[:, i], minlength=k) for i in (0, 1)]
        )
        keep = mass > 0
        seeds[keep] = moved[keep] / mass[keep, None]
    return seeds


def _kmeans_labels(xy: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    centres = xy[rng.choice(len(xy), k, replace=False)]
    for _ in range(5):
        label = cKDTree(centres).query(xy)[1]
        for z in range(k):
            if (label == z).any():
                centres[z] = xy[label == z].mean(0)
    label = cKDTree(centres).query(xy)[1]
    return pd.factorize(label, sort=True)[0]


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split in proportion to ``weights``, at least 1 each (largest remainder)."""
    share = 1 + (total - len(weights)) * weights / weights.sum()
    out = np.floor(share).astype(np.int64)
    out[np.argsort(out - share)[: total - out.sum()]] += 1
    return out


def _assemble(
    geoms: np.ndarray,
    ward_of: np.ndarray,
    zone_of: np.ndarray,
    xy: np.ndarray,
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    n_wards = int(ward_of.max()) + 1
    urban = np.arange(n_wards) < round(n_wards * _URBAN_SHARE)
    # zero-padded, so that ids sort as numbers (the lowest id wins a tie)
    ward_ids = np.array([f"W{w + 1:0{max(3, len(str(n_wards)))}d}" for w in range(n_wards)])
    # groups of a ward numbered by zone, then nearest Hoàn Kiếm first
    order = np.lexsort((np.hypot(*(xy - _CENTRE).T), zone_of, ward_of))
    geoms, ward_of, zone_of, xy = geoms[order], ward_of[order], zone_of[order], xy[order]
    rank = np.arange(len(order)) - np.searchsorted(ward_of, ward_of)
    area_km2 = shapely.area(geoms) / 1e6
    d_km = np.hypot(*(xy - _CENTRE).T) / 1000
    density = 28_000 * np.exp(-d_km / 5) + 700  # residents per km²
    people = area_km2 * density * rng.lognormal(0, 0.3, len(geoms))
    people = np.maximum(1, np.round(people * _POPULATION / people.sum())).astype(np.int64)
    ward_txt = ward_ids[ward_of]
    zone_ids = np.char.add(np.char.add(ward_txt, "-Z"), (zone_of + 1).astype(str))
    kind = np.where(urban[ward_of], "Tổ dân phố ", "Thôn ")
    number = (rank + 1).astype(str)
    groups = conform(
        "groups",
        gpd.GeoDataFrame(
            {
                "group_id": np.char.add(
                    np.char.add(ward_txt, "-G"),
                    np.char.zfill(number, max(3, len(str(rank.max() + 1)))),
                ),
                "zone_id": zone_ids,
                "ward_id": ward_txt,
                "name": np.char.add(kind, number),
                "population": people,
                "households": np.maximum(1, np.round(people / 3.4)).astype(np.int64),
            },
            geometry=_lonlat(geoms),
            crs=4326,
        ),
    )
    zone_keys, zone_geoms = _dissolve(groups.geometry.to_numpy(), zone_ids)
    zone_ward = np.array([z.split("-")[0] for z in zone_keys])
    zones = conform(
        "zones",
        gpd.GeoDataFrame(
            {
                "zone_id": zone_keys,
                "ward_id": zone_ward,
                "name": [f"Khu vực {z.split('-Z')[1]}" for z in zone_keys],
            },
            geometry=zone_geoms,
            crs=4326,
        ),
    )
    ward_keys, ward_geoms = _dissolve(groups.geometry.to_numpy(), ward_txt)
    ward_people = pd.Series(people).groupby(ward_txt).sum().reindex(ward_keys).to_numpy()
    names = [f"{'Phường' if urban[i] else 'Xã'} {i + 1}" for i in range(n_wards)]
    wards = conform(
        "wards",
        gpd.GeoDataFrame(
            {
                "ward_id": ward_keys,
                "name": names,
                "population": ward_people,
                "source": "synthetic (bench/city.py)",
                "synthetic": True,
            },
            geometry=ward_geoms,
            crs=4326,
        ),
    )
    return wards, zones, groups


def _dissolve(geoms: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The union of ``geoms`` per key (keys sorted); exact, as the geometries form a coverage."""
    codes, uniques = pd.factorize(keys, sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    merged = [shapely.coverage_union_all(geoms[order[a:b]]) for a, b in itertools.pairwise(bounds)]
    return np.asarray(uniques), np.array(merged, dtype=object)


def _lonlat(geoms: np.ndarray) -> np.ndarray:
    # same vertex in, same vertex out: edges shared in metres stay shared in degrees
    return shapely.transform(geoms, lambda c: np.column_stack(_TO_LONLAT.transform(*c.T)))


# --- records ----------------------------------------------------------------------------------

#: Metres per degree of longitude and of latitude near Hoàn Kiếm (enough to place records).
_M_PER_DEG = (111_320 * np.cos(np.radians(HOAN_KIEM[1])), 110_574)


def _records(
    n: int, wards: gpd.GeoDataFrame, groups: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """``n`` violation-like records (see the module docstring for the mix)."""
    outline = shapely.coverage_union_all(wards.geometry.to_numpy())
    shapely.prepare(outline)
    n_vertex = n_edge = round(n * 0.0005)
    n_out = round(n * 0.005)
    hot_n, core_n, flat_n = rng.multinomial(n - n_vertex - n_edge - n_out, [0.6, 0.2, 0.2])
    places = np.vstack([_around_centre(2_100, 5_000, outline, rng), _sample_in(outline, 900, rng)])
    weight = 1.0 / np.arange(1, len(places) + 1) ** 0.9
    which = rng.choice(len(places), hot_n, p=weight / weight.sum())
    spread = np.clip(rng.lognormal(np.log(40), 0.7, len(places)), 10, 300)[which]
    hot = places[which] + rng.normal(0, 1, (hot_n, 2)) * spread[:, None] / _M_PER_DEG
    shared_vertices, shared_midpoints = _shared(groups.geometry.to_numpy())
    xy = np.vstack(
        [
            hot,
            _around_centre(core_n, 6_000, outline, rng),
            _sample_in(outline, flat_n, rng),
            _pick(shared_vertices, n_vertex, rng),
            _pick(shared_midpoints, n_edge, rng),
            _outside(outline, n_out, rng),
        ]
    )[rng.permutation(n)]
    hours = np.array([1, 1, 1, 1, 1, 2, 4, 7, 9, 9, 8, 7, 5, 5, 6, 7, 9, 10, 9, 7, 5, 4, 2, 1.0])
    seconds = (
        rng.integers(0, 365, n) * 86_400
        + rng.choice(24, n, p=hours / hours.sum()) * 3_600
        + rng.integers(0, 3_600, n)
    )
    status = rng.choice(VIOLATION_STATUSES, n, p=[0.3, 0.3, 0.2, 0.1, 0.1])
    fined = status == "fined"
    fine = pd.array(np.zeros(n, dtype=np.int64), dtype="Int64")
    fine[fined] = rng.choice([500_000, 1_000_000, 2_000_000, 4_000_000], int(fined.sum()))
    fine[~fined] = pd.NA
    width = max(8, len(str(max(n - 1, 0))))
    return gpd.GeoDataFrame(
        {
            "record_id": pd.array(
                np.char.add("R", np.char.zfill(np.arange(n).astype(str), width)) if n else [],
                dtype="string",
            ),
            "category": pd.array(rng.choice(CATEGORIES, n, p=_CATEGORY_SHARE), dtype="string"),
            "observed_at": pd.Timestamp("2025-01-01", tz=TIMEZONE_NAME)
            + pd.to_timedelta(seconds, unit="s"),
            "fine_vnd": fine,
            "status": pd.array(status, dtype="string"),
            "synthetic": pd.array(np.ones(n, dtype=bool), dtype="boolean"),
        },
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=4326,
    )


#: Shares of the categories of ``data/categories.csv``, in file order.
_CATEGORY_SHARE = np.array([0.3, 0.25, 0.15, 0.12, 0.08, 0.06, 0.04])


def _around_centre(
    n: int, sigma_m: float, outline: shapely.Geometry, rng: np.random.Generator
) -> np.ndarray:
    """``n`` points inside ``outline``, normally spread around Hoàn Kiếm."""
    out, got = [], 0
    while got < n:
        xy = np.asarray(HOAN_KIEM) + rng.normal(0, sigma_m, (n - got + 16, 2)) / _M_PER_DEG
        xy = xy[shapely.contains_xy(outline, xy[:, 0], xy[:, 1])]
        out.append(xy)
        got += len(xy)
    return np.vstack(out)[:n] if n else np.empty((0, 2))


def _pick(xy: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return xy[rng.integers(0, len(xy), n)] if len(xy) else np.empty((0, 2))


def _outside(outline: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points strictly outside ``outline``, 1 m to 3 km beyond its edge (log-uniform)."""
    (cx, cy), out, got = shapely.get_coordinates(shapely.centroid(outline))[0], [], 0
    ring = shapely.boundary(outline)
    while got < n:
        m = 2 * (n - got) + 16
        on = shapely.get_coordinates(
            shapely.line_interpolate_point(ring, rng.random(m), normalized=True)
        )
        away = on - (cx, cy)
        away /= np.hypot(*away.T)[:, None]
        xy = on + away * np.exp(rng.uniform(0, np.log(3_000), m))[:, None] / _M_PER_DEG
        xy = xy[~shapely.intersects_xy(outline, xy[:, 0], xy[:, 1])]
        out.append(xy)
        got += len(xy)
    return np.vstack(out)[:n] if n else np.empty((0, 2))


def _shared(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of two groups or more, and midpoints (exact in floating point) of shared edges."""
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    owner = part_of[ring_of[ring]]
    vertices = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "g": owner}).drop_duplicates()
    shared_v = vertices[vertices.duplicated(["x", "y"], keep=False)][["x", "y"]].drop_duplicates()
    same = ring[1:] == ring[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo, hi = np.where(swap[:, None], b, a), np.where(swap[:, None], a, b)
    edges = pd.DataFrame(np.column_stack([lo, hi]), columns=["ax", "ay", "bx", "by"])
    edges["g"] = owner[:-1][same]
    edges = edges.drop_duplicates()
    shared_e = edges[edges.duplicated(["ax", "ay", "bx", "by"], keep=False)]
    shared_e = shared_e.drop_duplicates(["ax", "ay", "bx", "by"])
    sx, sy = shared_e["ax"] + shared_e["bx"], shared_e["ay"] + shared_e["by"]
    # a midpoint lies exactly on its segment only when the sums were exact (halving is exact)
    exact = ((sx - shared_e["ax"]) == shared_e["bx"]) & ((sx - shared_e["bx"]) == shared_e["ax"])
    exact &= ((sy - shared_e["ay"]) == shared_e["by"]) & ((sy - shared_e["by"]) == shared_e["ay"])
    mid = np.column_stack([sx[exact] / 2, sy[exact] / 2])
    return shared_v.to_numpy(), mid
