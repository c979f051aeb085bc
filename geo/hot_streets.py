"""Hot streets: records snapped to street segments of about 100 m, counted and ranked.

Encroachment and street vending happen along streets, and a team is sent to "phố X, from Y
to Z", not to a hexagon. The streets table has one row per edge between intersections, often
10 m long, which makes per-100 m rates noise; so :func:`segments` first rebuilds the streets
into segments a team can walk:

1. edges with the same name that meet end to end are merged into one *run* (shapely's
   ``line_merge`` within each name; a fork or a crossing of the same name ends a run);
2. runs are cut greedily from their start (the end with the smaller x, then y): the next piece
   aims at ``rest / round(rest / segment_m)`` metres, i.e. equal pieces for what is left, and
   the cut moves to the nearest named cross street within 0.4 × ``segment_m`` of that aim,
   else to the nearest junction within 0.25 × ``segment_m``, else stays mid-block. A run
   shorter than 1.5 × ``segment_m`` stays whole; pieces are about 0.35-1.65 × ``segment_m``
   (mostly 0.75-1.25 ×) and run from one cross street to the next where the map allows;
3. unnamed edges are never merged (two unnamed lanes meeting need not be one lane); they are
   cut like runs when long, and labelled by their highway type ("ngõ không tên" for
   service and residential lanes, "lối đi không tên" for footways, "đường không tên" else).

The ends of a segment are labelled with the most important named cross street meeting it
there (``from_name``, ``to_name``; empty mid-block). A dual carriageway mapped as two ways
gives two parallel segments, each counting the records nearest to it.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from geo._hot_streets_segments import metric_segments
from geo.cells import point_weights
from geo.config import STORAGE_CRS
from geo.errors import InputError

__all__ = ["hot_streets", "segments"]

log = logging.getLogger(__name__)


def hot_streets(
    points: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    *,
    max_distance_m: float = 30.0,
    segment_m: float = 100.0,
    weight: str | None = None,
) -> gpd.GeoDataFrame:
    """Count records per street segment and rank the segments, hottest first.

    Each record goes to the nearest segment within ``max_distance_m`` (measured in the metric
    CRS of the streets, whatever CRS the inputs are in); records farther from every street, or
    without a location, are not counted and their number is in ``result.attrs["unmatched"]``.

    The ranking ``score`` is an empirical-Bayes estimate of records per 100 m (Marshall's
    global estimator, as in disease mapping). Each segment's rate is count / L, with L the
    segment length but at least ``segment_m / 2``, because a 12 m segment catching one record
    says more about GPS scatter than about the street; the rate is then pulled towards the
    ward-wide rate m by the weight A / (A + m / L), where A is the between-segment variance of
    the rates left after the Poisson noise m / mean(L). A short segment with few records is
    pulled strongly, a long or busy one hardly; with no variation beyond chance (A = 0) every
    score is m and the ranking falls back to the counts. With ``weight`` the sums are treated
    as counts, so large weights (VND) are hardly smoothed beyond the length floor.

    Parameters
    ----------
    points
        Records (points) in any CRS; with ``weight``, a numeric column of it.
    streets
        The streets table (``geo.model.SCHEMAS["streets"]``: ``street_id``, ``name``,
        ``highway``, LineString ``geometry``), e.g. from ``geo.network.street_edges``.
    max_distance_m
        Farthest a record may lie from a street line to be counted on it.
    segment_m
        Target length of a segment (see :func:`segments`).
    weight
        Optional column of ``points`` summed instead of counting (missing values count 0).

    Returns
    -------
    geopandas.GeoDataFrame
        Every segment (zero counts too) in EPSG:4326, the columns of :func:`segments` plus
        ``count`` (records, or the sum of ``weight``), ``per_100m`` (count per 100 m of the
        segment), ``score`` (the smoothed rate per 100 m) and ``rank`` (1 = hottest, unique;
        by score, then count, then ``segment_id``), sorted by rank.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString, Point
    >>> x, y = 587_000, 2_324_000  # EPSG:5897 metres, in Hà Nội
    >>> streets = gpd.GeoDataFrame({"street_id": ["a"], "name": ["Phố Huế"],
    ...     "highway": ["tertiary"]}, geometry=[LineString([(x, y), (x + 140, y)])], crs=5897)
    >>> points = gpd.GeoDataFrame(
    ...     geometry=[Point(x + 10, y + 5), Point(x + 20, y - 8), Point(x + 20, y + 90)], crs=5897)
    >>> hot = hot_streets(points, streets)
    >>> columns = ["name", "length_m", "count", "per_100m", "rank"]
    >>> print(hot[columns].round(2).to_string(index=False))
       name  length_m  count  per_100m  rank
    Phố Huế     140.0      2      1.43     1
    >>> hot.attrs["unmatched"]
    1
    """
    if not isinstance(points, gpd.GeoDataFrame):
        raise InputError("points must be a GeoDataFrame of records (points with a CRS).")
    if points.crs is None:
        raise InputError("points has no CRS; set it (EPSG:4326 for GPS longitude/latitude).")
    if max_distance_m <= 0:
        raise InputError(f"max_distance_m must be positive, got {max_distance_m}.")
    weights = point_weights(points, weight)
    crs, segs = metric_segments(streets, segment_m)

    rows, xy = _coordinates(points, crs)
    found, segment_of = _snap(xy, segs.geometry.to_numpy(), max_distance_m)
    point_of = rows[found]
    counts = np.bincount(segment_of, weights=weights[point_of], minlength=len(segs))

    out = segs.copy()
    out["count"] = counts.astype("int64") if weight is None else counts
    out["per_100m"] = counts / out["length_m"].to_numpy() * 100.0
    out["score"] = _smoothed_rate(counts, out["length_m"].to_numpy(), segment_m / 2) * 100.0
    out = out.sort_values(["score", "count", "segment_id"], ascending=[False, False, True])
    out["rank"] = np.arange(1, len(out) + 1)
    out = gpd.GeoDataFrame(out, geometry="geometry", crs=crs).to_crs(STORAGE_CRS)
    out = out.reset_index(drop=True)
    out.attrs["unmatched"] = int(len(points) - len(point_of))
    log.info(
        "hot_streets: %d records on %d segments, %d unmatched",
        len(point_of),
        len(out),
        out.attrs["unmatched"],
    )
    return out


def segments(streets: gpd.GeoDataFrame, *, segment_m: float = 100.0) -> gpd.GeoDataFrame:
    """Rebuild a streets table into segments of about ``segment_m`` (see the module notes).

    Parameters
    ----------
    streets
        The streets table (``street_id``, ``name``, ``highway``, line ``geometry``), any CRS.
    segment_m
        Target segment length in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        In EPSG:4326, sorted by ``segment_id``: ``segment_id`` (``"<first street_id of the
        run>/<piece>"``, stable for the same streets table), ``name`` (the street name, or a
        label of the highway type for unnamed lanes), ``named``, ``highway`` (the most
        important value of the run), ``from_name`` and ``to_name`` (named cross streets at the
        ends, or missing), ``length_m`` and a LineString ``geometry``.

    Examples
    --------
    Phố Huế, drawn as two edges of 120 m and 90 m, crossed by Phố Lò Đúc at 120 m:

    >>> import geopandas as gpd
    >>> from shapely.geometry import LineString
    >>> x, y = 587_000, 2_324_000  # EPSG:5897 metres, in Hà Nội
    >>> lines = [[(x, y), (x + 120, y)], [(x + 120, y), (x + 210, y)],
    ...          [(x + 120, y - 50), (x + 120, y)], [(x + 120, y), (x + 120, y + 50)]]
    >>> streets = gpd.GeoDataFrame(
    ...     {"street_id": ["a", "b", "c", "d"], "name": ["Phố Huế"] * 2 + ["Phố Lò Đúc"] * 2,
    ...      "highway": ["tertiary"] * 4}, geometry=[LineString(c) for c in lines], crs=5897)
    >>> segs = segments(streets)
    >>> print(segs[["segment_id", "name", "from_name", "to_name"]].to_string(index=False))
    segment_id       name  from_name    to_name
           a/1    Phố Huế       <NA> Phố Lò Đúc
           a/2    Phố Huế Phố Lò Đúc       <NA>
           c/1 Phố Lò Đúc       <NA>       <NA>
    >>> segs["length_m"].round(1).tolist()
    [120.0, 90.0, 100.0]
    """
    _, segs = metric_segments(streets, segment_m)
    return gpd.GeoDataFrame(segs, geometry="geometry").to_crs(STORAGE_CRS)


# --- snapping, counting, scoring --------------------------------------------------------------


def _coordinates(points: gpd.GeoDataFrame, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``points`` with a location, and their x, y in ``crs`` (centroids if not points)."""
    geoms = points.geometry.to_numpy()
    rows = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    geoms = geoms[rows]
    if not (shapely.get_type_id(geoms) == 0).all():
        geoms = shapely.centroid(geoms)
    xy = shapely.get_coordinates(geoms)
    # transforming coordinates, not geometries, spares building a million new points
    x, y = Transformer.from_crs(points.crs, crs, always_xy=True).transform(xy[:, 0], xy[:, 1])
    return rows, np.column_stack([x, y])


def _snap(xy: np.ndarray, lines: np.ndarray, max_distance: float) -> tuple[np.ndarray, np.ndarray]:
    """The points (rows of ``xy``) within ``max_distance`` of a line, and their nearest line.

    Same result as ``STRtree.query_nearest(max_distance=...)`` but 3-4 times faster on a
    million points: the lines are split into two-vertex pieces, each listed in the cells of a
    grid (cell = max_distance / 2) that its box grown by ``max_distance`` covers; a point is
    measured, in numpy, only against the pieces listed in its cell. Ties go to the lower index.
    """
    coords, line = shapely.get_coordinates(lines, return_index=True)
    same = line[1:] == line[:-1]
    a, d, parent = coords[:-1][same], (coords[1:] - coords[:-1])[same], line[:-1][same]
    cell = max_distance / 2
    origin = np.minimum(a, a + d).min(axis=0) - max_distance
    lo = ((np.minimum(a, a + d) - max_distance - origin) // cell).astype(np.int64)
    hi = ((np.maximum(a, a + d) + max_distance - origin) // cell).astype(np.int64)
    nx, ny = int(hi[:, 0].max()) + 1, int(hi[:, 1].max()) + 1
    width = hi[:, 0] - lo[:, 0] + 1
    k = width * (hi[:, 1] - lo[:, 1] + 1)
    piece = np.repeat(np.arange(len(a)), k)
    off = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    key = (lo[piece, 1] + off // width[piece]) * nx + lo[piece, 0] + off % width[piece]
    order = np.argsort(key, kind="stable")
    piece, bounds = piece[order], np.searchsorted(key[order], np.arange(nx * ny + 1))
    norm2 = np.maximum(np.einsum("ij,ij->i", d, d), 1e-12)
    found, nearest = [], []
    for s in range(0, len(xy), 32_768):  # chunks small enough to stay in the CPU cache
        p = xy[s : s + 32_768]
        c = ((p - origin) // cell).astype(np.int64)
        inside = (c >= 0).all(axis=1) & (c[:, 0] < nx) & (c[:, 1] < ny)
        cid = np.where(inside, c[:, 1] * nx + c[:, 0], 0)
        n = np.where(inside, bounds[cid + 1] - bounds[cid], 0)
        first = np.cumsum(n) - n
        pi = np.repeat(np.arange(len(p)), n)
        j = piece[np.arange(n.sum()) + np.repeat(bounds[cid] - first, n)]
        q = p[pi] - a[j]
        t = np.clip(np.einsum("ij,ij->i", q, d[j]) / norm2[j], 0.0, 1.0)
        r = q - t[:, None] * d[j]
        d2 = np.einsum("ij,ij->i", r, r)
        has = n > 0
        if not has.any():
            continue
        best = np.minimum.reduceat(d2, first[has])
        hit = np.flatnonzero(d2 == np.repeat(best, n[has]))
        hit = hit[np.r_[True, pi[hit][1:] != pi[hit][:-1]]]
        hit = hit[d2[hit] <= max_distance**2]
        found.append(s + pi[hit])
        nearest.append(parent[j[hit]])
    if not found:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(found), np.concatenate(nearest)


def _smoothed_rate(counts: np.ndarray, lengths: np.ndarray, min_length: float) -> np.ndarray:
    """Marshall's global empirical-Bayes rate per metre, on lengths of at least ``min_length``."""
    exposure = np.maximum(lengths, min_length)
    total = exposure.sum()
    m = counts.sum() / total if total > 0 else 0.0
    if m <= 0:
        return np.zeros(len(counts))
    rate = counts / exposure
    spread = float(np.sum(exposure * (rate - m) ** 2) / total)
    between = max(spread - m / (total / len(counts)), 0.0)
    shrink = between / (between + m / exposure)
    return np.asarray(m + shrink * (rate - m), dtype=float)
