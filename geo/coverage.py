"""Patrol coverage of the street network: which streets a patrol actually went along.

A street edge counts as **covered** in a time window when patrol tracks ran within
``tolerance_m`` (25 m) of it, *along* it, over at least ``min_share`` (half) of its length.
"Along" matters in a ward of lanes: a patrol crossing a lane, or standing at its mouth, has been
within 25 m of its first 25 m without walking it. So the edge is sampled every ``sample_m``
metres, and a sample is reached by a piece of track only when

- the piece is within ``tolerance_m`` of the sample (a GEOS ``dwithin`` query on an STRtree of
  the track's steps, the lines between consecutive fixes),
- the track was moving there: the mean position of its fixes in the 15 s after the step is
  at least 0.6 m/s away from that of the 15 s before (means, so that a team standing still
  with GPS scatter does not seem to move),
- and that heading is within about 53° of the street's direction at the sample
  (either way along it: streets are walked both ways).

A step longer than ``max_step_m`` (a sparse track: the path between two fixes is unknown) reaches
nothing. Passes count one at a time: an edge is covered when one *pass* along it (one track's
stretch with no break over two minutes) reached half its length, so the odd mismatched step of
twenty teams' day of passes along a street does not add up to "covering" the lane beside it.
The edge's ``last_visit`` is when the latest such pass ended.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.config import STORAGE_CRS, TIMEZONE_NAME
from geo.crs import metric_crs
from geo.errors import InputError
from geo.model import local_time
from geo.tracks import TrackSettings, _as_cleaned, _Cleaned

__all__ = ["coverage_by_area", "coverage_totals", "street_coverage"]

log = logging.getLogger(__name__)

#: Half-width (s) of the window a heading is measured over, and the least speed (m/s) over it
#: that counts as moving: ~30 s of walking is ~35 m, well beyond phone scatter.
HEADING_WINDOW_S = 15.0
MIN_MOVING_M_S = 0.6
#: ... and at least this far (m): at a track's ends a window holds few fixes, so its mean
#: still carries the scatter of one fix.
MIN_MOVED_M = 8.0
#: Fixes closer in time than this within a segment are thinned out (s).
THIN_S = 2.0
#: |cos| of the largest angle between track heading and street direction (about 53°).
MIN_ALIGNMENT = 0.6
#: A step reaches samples at most this much farther from it than its nearest aligned sample.
MATCH_SLACK_M = 3.0
#: A break longer than this (s) between steps along an edge ends a pass along it.
PASS_GAP_S = 120.0


def street_coverage(
    streets: gpd.GeoDataFrame,
    fixes: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 25.0,
    min_share: float = 0.5,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    sample_m: float = 5.0,
    max_step_m: float = 250.0,
    settings: TrackSettings | None = None,
) -> gpd.GeoDataFrame:
    """Which street edges patrols covered between ``start`` and ``end``.

    Parameters
    ----------
    streets
        Street edges (the ``streets`` table: ``street_id``, ``name``, LineString geometry),
        any CRS.
    fixes
        Patrol fixes (the ``patrol_points`` table), raw or already cleaned by
        :func:`geo.tracks.clean_tracks` (recognised by its ``segment`` column); raw fixes are
        cleaned with ``settings`` first.
    tolerance_m
        How far from the street line a track may run and still count (GPS scatter, sidewalks).
    min_share
        Share of an edge's length that must be reached for it to count as covered.
    start, end
        The window (``start`` inclusive, ``end`` exclusive; naive times are local). Default: all.
    sample_m
        Spacing of the samples along each edge.
    max_step_m
        Steps between consecutive fixes longer than this reach nothing.
    settings
        Track cleaning thresholds, for raw fixes.

    Returns
    -------
    geopandas.GeoDataFrame
        The streets (EPSG:4326, same index) with ``length_m`` (measured), ``covered_m`` (length
        reached by the best single pass), ``share`` (covered_m / length_m, in [0, 1]),
        ``covered`` (share ≥ min_share) and ``last_visit`` (end of the latest covering pass,
        tz-aware; NaT when never covered). ``attrs`` holds the settings,
        the window and the number of fixes used.
    """
    _check(streets, tolerance_m, min_share, sample_m, max_step_m)
    track = _window(_as_cleaned(fixes, settings), start, end)
    out = streets.to_crs(STORAGE_CRS).copy()
    if out.empty:
        return _assemble(out, np.zeros(0), np.zeros(0), np.zeros(0), min_share, start, end, 0)
    crs = metric_crs(out)
    lines = out.geometry.to_crs(crs).to_numpy()
    lengths = shapely.length(lines)
    edge, s, weight = _samples(lengths, sample_m)
    sample, step, steps = _reach(lines, lengths, edge, s, track, tolerance_m, max_step_m)
    covered_m, last = _passes(edge, weight, lengths, sample, step, steps, min_share)
    return _assemble(
        out, lengths, covered_m, last, min_share, start, end, len(track.t), tolerance_m
    )


def coverage_totals(edges: pd.DataFrame) -> dict[str, float]:
    """Covered and total street length of :func:`street_coverage` output.

    Returns
    -------
    dict
        ``covered_km`` (length of covered edges), ``network_km`` and ``share`` (0 for an empty
        network).

    Examples
    --------
    >>> edges = pd.DataFrame({"length_m": [300.0, 700.0], "covered": [True, False]})
    >>> coverage_totals(edges)
    {'covered_km': 0.3, 'network_km': 1.0, 'share': 0.3}
    """
    network = float(edges["length_m"].sum())
    covered = float(edges.loc[edges["covered"].astype(bool), "length_m"].sum())
    return {
        "covered_km": round(covered / 1000, 3),
        "network_km": round(network / 1000, 3),
        "share": round(covered / network, 4) if network > 0 else 0.0,
    }


def coverage_by_area(
    edges: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *, id_column: str
) -> pd.DataFrame:
    """Covered share of street length inside each area (ward, zone or residential group).

    An edge crossing a boundary counts in each area with the length inside it; an edge counts
    as covered or not as a whole (as :func:`street_coverage` decided).

    Parameters
    ----------
    edges
        Output of :func:`street_coverage`.
    areas
        Polygons with ``id_column``, any CRS.
    id_column
        The areas' id (``group_id``, ``zone_id``, ``ward_id``).

    Returns
    -------
    pandas.DataFrame
        One row per area, in the areas' order, indexed by ``id_column``: ``street_km``,
        ``covered_km`` and ``share`` (in [0, 1]; NaN for an area without streets).
    """
    if id_column not in areas.columns:
        raise InputError(f"areas has no column {id_column!r}; pass the column of their ids.")
    ids = areas[id_column].to_numpy()
    street_m: np.ndarray = np.zeros(len(areas))
    covered_m: np.ndarray = np.zeros(len(areas))
    if len(edges) and len(areas):
        crs = metric_crs(edges)
        lines = edges.geometry.to_crs(crs).to_numpy()
        polys = areas.geometry.to_crs(crs).to_numpy()
        a, e = shapely.STRtree(lines).query(polys, predicate="intersects")
        inside = shapely.length(shapely.intersection(lines[e], polys[a]))
        covered = edges["covered"].to_numpy(dtype=bool)[e]
        street_m = np.bincount(a, weights=inside, minlength=len(areas))
        covered_m = np.bincount(a, weights=inside * covered, minlength=len(areas))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(street_m > 0, covered_m / np.where(street_m > 0, street_m, 1), np.nan)
    return pd.DataFrame(
        {"street_km": street_m / 1000, "covered_km": covered_m / 1000, "share": share},
        index=pd.Index(ids, name=id_column),
    )


# --- steps -----------------------------------------------------------------------------------


def _check(
    streets: gpd.GeoDataFrame, tolerance: float, share: float, sample: float, step: float
) -> None:
    problems = []
    if not isinstance(streets, gpd.GeoDataFrame) or streets.crs is None:
        problems.append("streets must be a GeoDataFrame of lines with a CRS")
    for name, value in (("tolerance_m", tolerance), ("sample_m", sample), ("max_step_m", step)):
        if not (np.isfinite(value) and value > 0):
            problems.append(f"{name} must be a positive number of metres, got {value}")
    if not 0 < share <= 1:
        problems.append(f"min_share must be in (0, 1], got {share}")
    if problems:
        raise InputError("; ".join(problems) + ".")


def _local(ts: pd.Timestamp | str | None) -> pd.Timestamp | None:
    return None if ts is None else local_time(ts)


def _window(track: _Cleaned, start: pd.Timestamp | None, end: pd.Timestamp | None) -> _Cleaned:
    keep = np.ones(len(track.t), dtype=bool)
    if (begin := _local(start)) is not None:
        keep &= track.t >= begin.value / 1e9
    if (stop := _local(end)) is not None:
        keep &= track.t < stop.value / 1e9
    if keep.all():
        return track
    return _Cleaned(track.frame[keep], track.xy[keep], track.t[keep], track.segment[keep],
                    track.crs)  # fmt: skip


def _samples(lengths: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample positions: edge index, distance along the edge, and the length each stands for."""
    n = np.maximum(1, np.ceil(lengths / spacing)).astype(np.int64)
    edge = np.repeat(np.arange(len(lengths)), n)
    first = np.r_[0, np.cumsum(n)[:-1]]
    j = np.arange(len(edge)) - np.repeat(first, n)
    piece = lengths[edge] / n[edge]
    return edge, (j + 0.5) * piece, piece


def _reach(
    lines: np.ndarray,
    lengths: np.ndarray,
    edge: np.ndarray,
    s: np.ndarray,
    track: _Cleaned,
    tolerance: float,
    max_step: float,
) -> tuple[np.ndarray, np.ndarray, _Steps | None]:
    """Pairs (sample, step) of samples reached by a moving, aligned, nearest-street step."""
    none = np.zeros(0, dtype=np.int64)
    steps = _steps(track, max_step)
    if steps is None:
        return none, none, None
    a, b, heading = steps.a, steps.b, steps.heading
    pts = shapely.get_coordinates(shapely.line_interpolate_point(lines[edge], s))
    ahead = shapely.line_interpolate_point(lines[edge], np.minimum(s + 2.0, lengths[edge]))
    behind = shapely.line_interpolate_point(lines[edge], np.maximum(s - 2.0, 0.0))
    direction = shapely.get_coordinates(ahead) - shapely.get_coordinates(behind)
    direction /= np.maximum(np.hypot(*direction.T), 1e-9)[:, None]
    # Candidate pairs from bounding boxes (no GEOS predicate), exact distances in numpy.
    low, high = np.minimum(a, b) - tolerance, np.maximum(a, b) + tolerance
    tree = shapely.STRtree(np.asarray(shapely.points(pts)))
    step, sample = tree.query(shapely.box(low[:, 0], low[:, 1], high[:, 0], high[:, 1]))
    aligned = np.abs(np.einsum("ij,ij->i", direction[sample], heading[step])) >= MIN_ALIGNMENT
    step, sample = step[aligned], sample[aligned]
    gap = _distance_to_segment(pts[sample], a[step], b[step])
    near = gap <= tolerance
    step, sample, gap = step[near], sample[near], gap[near]
    # Each step goes to the street it runs nearest to, as a map-matcher would: a lane or a
    # carriageway parallel to the walked street, 10-20 m off, is within tolerance but farther.
    best = np.full(len(a), np.inf)
    np.minimum.at(best, step, gap)
    mine = gap <= best[step] + MATCH_SLACK_M
    return sample[mine], step[mine], steps


def _passes(
    edge: np.ndarray,
    weight: np.ndarray,
    lengths: np.ndarray,
    sample: np.ndarray,
    step: np.ndarray,
    steps: _Steps | None,
    min_share: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Per edge, the length reached by its best single pass, and when a pass last covered it.

    A pass is one track segment's stretch along the edge with no break over PASS_GAP_S.
    Counting passes one by one, not their union, keeps the odd mismatched step of many passes
    along a street from adding up to "covering" the lane beside it.
    """
    covered = np.zeros(len(lengths))
    last = np.full(len(lengths), -np.inf)
    if steps is None or not len(step):
        return covered, last
    e = edge[sample]
    # Step numbers grow with time within a segment, so (edge, step) orders pairs by pass.
    order = np.argsort(e.astype(np.int64) * (len(steps.t_end) + 1) + step, kind="stable")
    e, st, sm = e[order], step[order], sample[order]
    t, seg = steps.t_end[st], steps.segment[st]
    new = np.ones(len(e), dtype=bool)
    new[1:] = (e[1:] != e[:-1]) | (seg[1:] != seg[:-1]) | (np.diff(t) > PASS_GAP_S)
    pass_id = np.cumsum(new) - 1
    n_pass = int(pass_id[-1]) + 1
    n = np.int64(len(edge))
    unique = np.unique(pass_id * n + sm)
    reached = np.bincount(unique // n, weights=weight[unique % n], minlength=n_pass)
    pass_edge = e[new]
    pass_end = np.full(n_pass, -np.inf)
    np.maximum.at(pass_end, pass_id, t)
    np.maximum.at(covered, pass_edge, reached)
    enough = reached >= min_share * lengths[pass_edge] - 1e-9
    np.maximum.at(last, pass_edge[enough], pass_end[enough])
    return covered, last


def _distance_to_segment(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    denom = np.einsum("ij,ij->i", ab, ab)
    u = np.einsum("ij,ij->i", p - a, ab) / np.where(denom > 0, denom, 1.0)
    foot = a + np.clip(u, 0.0, 1.0)[:, None] * ab
    return np.hypot(*(p - foot).T)


@dataclass(frozen=True)
class _Steps:
    """Pieces of track that can reach streets: ends, unit heading, end time, segment code."""

    a: np.ndarray
    b: np.ndarray
    heading: np.ndarray
    t_end: np.ndarray
    segment: np.ndarray


def _steps(track: _Cleaned, max_step: float) -> _Steps | None:
    """Steps between fixes ~THIN_S apart that moved: their ends, heading and end time."""
    if len(track.t) < 2:
        return None
    xy, t, seg = track.xy, track.t, track.segment
    first_t = t[np.r_[0, np.flatnonzero(seg[1:] != seg[:-1]) + 1]]
    rel = t - first_t[np.cumsum(np.r_[0, seg[1:] != seg[:-1]])]
    # Thin 1 Hz walking to a fix every few seconds: steps shorter than the sample spacing add
    # pairs, not information. A segment's first and last fixes always stay.
    bucket = np.floor(rel / THIN_S)
    boundary = np.r_[True, seg[1:] != seg[:-1]]
    last = np.r_[seg[1:] != seg[:-1], True]
    kept = np.flatnonzero(boundary | last | np.r_[True, bucket[1:] != bucket[:-1]])
    same = seg[kept[1:]] == seg[kept[:-1]]
    i, j = kept[:-1][same], kept[1:][same]
    # Heading and speed from the mean positions of the fixes in the HEADING_WINDOW_S before
    # the step and of those after it: averaging takes out phone scatter, so a team standing
    # still does not look like it is moving, and 1 Hz walking gets a steady heading.
    key = seg * 1e8 + rel  # sorted: segments in order, times within
    lo = np.searchsorted(key, key[i] - HEADING_WINDOW_S, side="left")
    hi = np.searchsorted(key, key[j] + HEADING_WINDOW_S, side="right")
    sums = np.vstack([np.zeros(3), np.cumsum(np.column_stack([xy, t - t[0]]), axis=0)])
    before = (sums[i + 1] - sums[lo]) / (i + 1 - lo)[:, None]
    after = (sums[hi] - sums[j]) / (hi - j)[:, None]
    disp = after[:, :2] - before[:, :2]
    span = np.maximum(after[:, 2] - before[:, 2], 1e-9)
    dist = np.hypot(*disp.T)
    step_len = np.hypot(*(xy[j] - xy[i]).T)
    moved = (dist / span >= MIN_MOVING_M_S) & (dist >= MIN_MOVED_M)
    ok = moved & (step_len <= max_step)
    if not ok.any():
        return None
    i, j = i[ok], j[ok]
    return _Steps(xy[i], xy[j], disp[ok] / dist[ok, None], t[j], seg[i])


def _assemble(
    out: gpd.GeoDataFrame,
    lengths: np.ndarray,
    covered_m: np.ndarray,
    last: np.ndarray,
    min_share: float,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    n_fixes: int,
    tolerance_m: float = 25.0,
) -> gpd.GeoDataFrame:
    out["length_m"] = lengths
    covered_m = np.minimum(covered_m, lengths)
    share = np.divide(covered_m, lengths, out=np.zeros(len(lengths)), where=lengths > 0)
    out["covered_m"] = covered_m
    out["share"] = np.clip(share, 0.0, 1.0)
    out["covered"] = (out["share"] >= min_share - 1e-9) & (lengths > 0)
    seen = np.isfinite(last)
    stamps = pd.to_datetime(np.where(seen, last, np.nan), unit="s", utc=True)
    out["last_visit"] = pd.Series(stamps, index=out.index).dt.tz_convert(TIMEZONE_NAME)
    out.attrs.update(
        tolerance_m=tolerance_m,
        min_share=min_share,
        start=_local(start),
        end=_local(end),
        fixes=n_fixes,
    )
    return out
