"""Building the segments of :mod:`geo.hot_streets`: runs of a name, cuts, end labels.

The rules (merge same-name edges into runs, cut runs greedily near cross streets, label the
ends with the most important named cross street) are documented in :mod:`geo.hot_streets`,
whose :func:`~geo.hot_streets.segments` is the public entry point.
"""

from __future__ import annotations

from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.ops import substring

from geo.crs import metric_crs
from geo.errors import InputError

#: Importance of highway values, most important first, to pick the cross street to name.
_HIGHWAY_ORDER = (
    "motorway", "trunk", "primary", "secondary", "tertiary", "motorway_link", "trunk_link",
    "primary_link", "secondary_link", "tertiary_link", "unclassified", "residential",
    "living_street", "service", "pedestrian", "track", "cycleway", "footway", "path", "steps",
)  # fmt: skip
_LANES = frozenset({"residential", "living_street", "service"})
_PATHS = frozenset({"footway", "path", "pedestrian", "steps", "cycleway", "track"})
#: Line ends and junctions closer than this (m) are the same place (clipping leaves mm gaps).
_TOUCH_M = 0.5
_SEGMENT_COLUMNS = [
    "segment_id", "name", "named", "highway", "from_name", "to_name", "length_m", "geometry",
]  # fmt: skip


def metric_segments(streets: gpd.GeoDataFrame, segment_m: float) -> tuple[CRS, gpd.GeoDataFrame]:
    """The segments in the streets' metric CRS, and that CRS."""
    if not isinstance(streets, gpd.GeoDataFrame):
        raise InputError("streets must be a GeoDataFrame (the streets table).")
    if streets.crs is None:
        raise InputError("streets has no CRS; set it (EPSG:4326 for longitude/latitude).")
    if segment_m <= 0:
        raise InputError(f"segment_m must be positive, got {segment_m}.")
    lines = _lines(streets)
    if lines.empty:
        raise InputError(
            "streets has no line geometries; load a street network with "
            "geo.network.street_edges(geo.network.load_network('streets.osm'))."
        )
    crs = metric_crs(lines)
    lines = lines.to_crs(crs)
    runs, run_of_line = _runs(lines)
    junctions = _junctions(lines, runs, run_of_line)
    rows: list[dict[str, object]] = []
    for r, run in enumerate(runs):
        rows.extend(_cut_run(run, junctions.get(r), segment_m))
    rows.sort(key=lambda row: _id_order(str(row["segment_id"])))
    segs = gpd.GeoDataFrame(rows, columns=_SEGMENT_COLUMNS, geometry="geometry", crs=crs)
    for col in ("segment_id", "name", "highway", "from_name", "to_name"):
        segs[col] = segs[col].astype("string")
    return crs, segs.astype({"named": bool, "length_m": "float64"})


def _lines(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The street lines as single LineStrings with ``street_id``, ``name`` and ``highway``."""
    ids = pd.Series(np.arange(len(streets)).astype(str))
    frame = gpd.GeoDataFrame(
        {
            "street_id": _text(streets, "street_id", ids),
            "name": _text(streets, "name", pd.Series([pd.NA] * len(streets))),
            "highway": _text(streets, "highway", pd.Series([pd.NA] * len(streets))),
        },
        geometry=streets.geometry.to_numpy(),
        crs=streets.crs,
    )
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    frame = frame.explode(index_parts=False)
    frame = frame[frame.geom_type == "LineString"].reset_index(drop=True)
    # parts of a multi-line, or repeated ids, get ".2", ".3", ... so that segment ids are unique
    repeat = frame.groupby("street_id").cumcount()
    suffix = np.where(repeat > 0, "." + (repeat + 1).astype(str), "")
    return frame.assign(street_id=frame["street_id"] + suffix)


def _text(frame: pd.DataFrame, column: str, default: pd.Series) -> pd.Series:
    values = frame[column] if column in frame.columns else default
    values = values.astype("string").str.strip().reset_index(drop=True)
    return values.mask(values == "")


def _runs(lines: gpd.GeoDataFrame) -> tuple[list[dict[str, object]], np.ndarray]:
    """Merge same-name lines meeting end to end; return the runs and each line's run number."""
    geoms = lines.geometry.to_numpy()
    ids = lines["street_id"].to_numpy(dtype=object)
    highways = lines["highway"].to_numpy(dtype=object, na_value=None)
    runs: list[dict[str, object]] = []
    run_of_line = np.full(len(lines), -1, dtype=np.int64)
    for name, rows in lines.groupby("name", sort=True).indices.items():
        merged = shapely.get_parts(shapely.line_merge(shapely.multilinestrings(geoms[rows])))
        # each line belongs to the merged part its midpoint lies on
        mids = shapely.line_interpolate_point(geoms[rows], 0.5, normalized=True)
        part = np.argmin(shapely.distance(mids[:, None], merged[None, :]), axis=1)
        for p, geom in enumerate(merged):
            members = rows[part == p]
            if members.size:
                run_of_line[members] = len(runs)
                runs.append(_run(geom, str(name), ids[members], highways[members]))
    for i in np.flatnonzero(run_of_line < 0):  # unnamed lines
        run_of_line[i] = len(runs)
        runs.append(_run(geoms[i], None, ids[[i]], highways[[i]]))
    return runs, run_of_line


def _run(
    geom: shapely.LineString, name: str | None, ids: np.ndarray, highways: np.ndarray
) -> dict[str, object]:
    (x0, y0), (x1, y1) = shapely.get_coordinates(geom)[[0, -1]]
    # a canonical direction, so that piece numbers do not depend on the order of the edges
    if (x0, y0) > (x1, y1):
        geom = geom.reverse()
    highway = _most_important([h for h in highways if h is not None])
    return {
        "key": min(str(i) for i in ids),
        "name": _unnamed_label(highway) if name is None else name,
        "named": name is not None,
        "highway": highway,
        "geometry": geom,
    }


def _junctions(
    lines: gpd.GeoDataFrame, runs: list[dict[str, object]], run_of_line: np.ndarray
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Ends of other lines on each run: {run: (positions along it, cross street or None)}.

    Each run's junctions are listed most important cross street first.
    """
    geoms = lines.geometry.to_numpy()
    ends = shapely.get_point(np.repeat(geoms, 2), np.tile([0, -1], len(geoms)))
    line = np.repeat(np.arange(len(geoms)), 2)
    run_geoms = np.array([run["geometry"] for run in runs], dtype=object)
    end_i, run_i = shapely.STRtree(run_geoms).query(ends, predicate="dwithin", distance=_TOUCH_M)
    other = run_of_line[line[end_i]] != run_i  # a run's own vertices are no junction
    end_i, run_i = end_i[other], run_i[other]
    names = lines["name"].to_numpy(dtype=object, na_value=None)[line[end_i]]
    own = [str(runs[r]["name"]) for r in run_i]
    order = {h: i for i, h in enumerate(_HIGHWAY_ORDER)}
    highways = lines["highway"].to_numpy(dtype=object, na_value=None)[line[end_i]]
    table = pd.DataFrame(
        {
            "run": run_i,
            "where": shapely.line_locate_point(run_geoms[run_i], ends[end_i]),
            "cross": [n if _is_cross(n, o) else None for n, o in zip(names, own, strict=True)],
            "rank": [order.get(h, len(order)) for h in highways],
        }
    ).sort_values(["run", "rank", "cross"], na_position="last")
    return {
        cast(int, r): (group["where"].to_numpy(), group["cross"].to_numpy(dtype=object))
        for r, group in table.groupby("run", sort=False)
    }


def _is_cross(name: str | None, own: str) -> bool:
    """A named street other than ``own`` (ways carrying both names count as ``own``)."""
    return name is not None and not set(own.split("; ")) & set(name.split("; "))


def _cut_run(
    run: dict[str, object], junctions: tuple[np.ndarray, np.ndarray] | None, segment_m: float
) -> list[dict[str, object]]:
    """Cut one run into pieces of about ``segment_m``; label the ends with cross streets."""
    geom = run["geometry"]
    assert isinstance(geom, shapely.LineString)
    length = float(geom.length)
    where, cross = junctions if junctions is not None else (np.empty(0), np.empty(0, object))
    named = pd.notna(cross)
    breaks = _breaks(length, where, where[named], segment_m)
    labels = [_label_at(b, where[named], cross[named]) for b in breaks]
    return [
        {
            "segment_id": f"{run['key']}/{i + 1}",
            "name": run["name"],
            "named": run["named"],
            "highway": run["highway"],
            "from_name": labels[i],
            "to_name": labels[i + 1],
            "length_m": breaks[i + 1] - breaks[i],
            "geometry": geom if len(breaks) == 2 else substring(geom, breaks[i], breaks[i + 1]),
        }
        for i in range(len(breaks) - 1)
    ]


def _breaks(
    length: float, junctions: np.ndarray, crossings: np.ndarray, segment_m: float
) -> list[float]:
    """Cut positions along a run, greedily from its start.

    Each next piece aims at ``rest / round(rest / segment_m)`` metres (equal pieces for what is
    left); the cut goes to the nearest named cross street within 0.4 × ``segment_m`` of that
    aim, else to the nearest junction within 0.25 × ``segment_m``, else stays mid-block.
    """
    breaks = [0.0]
    while (pieces := int((length - breaks[-1]) / segment_m + 0.5)) > 1:
        aim = breaks[-1] + (length - breaks[-1]) / pieces
        cut = _closest(crossings, aim, 0.4 * segment_m)
        cut = _closest(junctions, aim, 0.25 * segment_m) if cut is None else cut
        if cut is None or not breaks[-1] + 1.0 < cut < length - 1.0:
            cut = aim
        breaks.append(cut)
    return [*breaks, length]


def _closest(positions: np.ndarray, aim: float, within: float) -> float | None:
    if positions.size == 0:
        return None
    best = positions[np.argmin(np.abs(positions - aim))]
    return float(best) if abs(best - aim) <= within else None


def _label_at(at: float, where: np.ndarray, cross: np.ndarray) -> str | None:
    """The first (most important) cross street within 1 m of position ``at``."""
    there = np.flatnonzero(np.abs(where - at) <= 1.0)
    return str(cross[there[0]]) if there.size else None


def _id_order(segment_id: str) -> tuple[str, int]:
    key, piece = segment_id.rsplit("/", 1)
    return key, int(piece)


def _most_important(highways: list[str]) -> str | None:
    rank = {h: i for i, h in enumerate(_HIGHWAY_ORDER)}
    return min(highways, key=lambda h: (rank.get(h, len(rank)), h)) if highways else None


def _unnamed_label(highway: str | None) -> str:
    if highway in _LANES:
        return "ngõ không tên"
    if highway in _PATHS:
        return "lối đi không tên"
    return "đường không tên"
