"""Patrol tracks: GPS fixes cleaned of jumps and split at gaps, before anything is measured.

Phones lose the sky under awnings and in narrow lanes. Two faults then matter for coverage:

- **Jumps.** A fix hundreds of metres away for a few seconds, then back. Kept, it would draw
  lines through blocks and credit streets nobody walked. A fix is a jump when reaching it from
  the last good fix needs more than ``max_speed_m_s`` (plus ``noise_m`` of GPS scatter). The
  track continues from the last good fix; if the "jumped" fixes agree with each other for
  ``settle_s`` or longer, the phone did not jump back: the earlier side was wrong or the team
  really moved (a ride in a car), and the track restarts there as a new segment.
- **Gaps.** No fix for more than ``max_gap_s`` (phone off, app killed): the path in between is
  unknown, so the track is split into segments and nothing is drawn across the gap.

Each kept fix carries ``segment``, an id unique over the whole frame (``"<track_id>/<n>"``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.config import STORAGE_CRS
from geo.crs import metric_crs, point_xy
from geo.errors import InputError

__all__ = ["TrackSettings", "clean_tracks", "track_lines"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrackSettings:
    """How tracks are cleaned; the defaults suit walking and motorbike patrols in a ward.

    ``max_speed_m_s`` is 25 m/s (90 km/h): no ward patrol goes faster, while GPS jumps are
    hundreds of metres in a second or two. ``noise_m`` lets two honest fixes a second apart
    differ by ordinary phone scatter (~10 m each). A gap of 3 minutes without a fix already
    hides a detour of a few hundred metres on foot.
    """

    max_speed_m_s: float = 25.0
    noise_m: float = 20.0
    max_gap_s: float = 180.0
    settle_s: float = 30.0

    def check(self) -> None:
        """Raise :class:`InputError` naming every setting that is not positive."""
        bad = [f"{k}={v}" for k, v in vars(self).items() if not (np.isfinite(v) and v > 0)]
        if bad:
            raise InputError(f"Track settings must be positive numbers: {', '.join(bad)}.")


def clean_tracks(
    points: gpd.GeoDataFrame, *, settings: TrackSettings | None = None
) -> gpd.GeoDataFrame:
    """Drop GPS jumps and split tracks at gaps.

    Parameters
    ----------
    points
        Patrol fixes (the ``patrol_points`` table: ``track_id``, ``team``, ``t``, Point
        ``geometry``), any CRS, any order. Fixes without a time or a location are dropped.
    settings
        Thresholds (:class:`TrackSettings`).

    Returns
    -------
    geopandas.GeoDataFrame
        The kept fixes in EPSG:4326, sorted by ``track_id`` and ``t``: ``track_id``, ``team``,
        ``t``, ``segment`` (unique over the frame) and ``geometry``. ``attrs`` holds
        ``jumps`` (fixes dropped as jumps), ``unusable`` (no time or location, or a second
        fix at the same time) and ``segments``.

    Examples
    --------
    >>> import pandas as pd
    >>> from shapely.geometry import Point
    >>> x, y = 587_000, 2_324_000  # EPSG:5897 metres, in Hà Nội
    >>> walk = [Point(x + 1.3 * i, y) for i in range(10)]
    >>> walk[4] = Point(x + 400, y + 300)  # one fix 500 m off for a second
    >>> fixes = gpd.GeoDataFrame({"track_id": "a", "team": "Đội 1",
    ...     "t": pd.date_range("2025-07-01 08:00", periods=10, freq="s", tz="Asia/Ho_Chi_Minh")},
    ...     geometry=walk, crs=5897)
    >>> clean = clean_tracks(fixes)
    >>> len(clean), clean.attrs["jumps"], clean["segment"].unique().tolist()
    (9, 1, ['a/1'])
    """
    cleaned = _clean(points, settings or TrackSettings())
    out = cleaned.frame
    log.info(
        "clean_tracks: %d fixes kept in %d segments, %d jumps, %d unusable",
        len(out),
        out.attrs["segments"],
        out.attrs["jumps"],
        out.attrs["unusable"],
    )
    return out


def track_lines(fixes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One line per segment of cleaned fixes (the output of :func:`clean_tracks`).

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326: ``segment``, ``track_id``, ``team``, ``start``, ``end``, ``fixes``,
        ``length_m`` and a LineString ``geometry``; segments of one fix are left out.
    """
    columns = ["segment", "track_id", "team", "start", "end", "fixes", "length_m"]
    if fixes.empty:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=STORAGE_CRS)
    crs = metric_crs(fixes)
    xy = point_xy(fixes.geometry, crs)
    segments = fixes["segment"].astype(str).to_numpy()
    starts = np.flatnonzero(np.r_[True, segments[1:] != segments[:-1]])
    counts = np.diff(np.r_[starts, len(fixes)])
    many = counts >= 2
    which = np.repeat(np.arange(len(starts)), counts)
    lines = shapely.linestrings(xy[np.repeat(many, counts)], indices=which[np.repeat(many, counts)])
    first, last = starts[many], starts[many] + counts[many] - 1
    table = gpd.GeoDataFrame(
        {
            "segment": segments[first],
            "track_id": fixes["track_id"].iloc[first].array,
            "team": fixes["team"].iloc[first].array,
            "start": fixes["t"].iloc[first].array,
            "end": fixes["t"].iloc[last].array,
            "fixes": counts[many],
            "length_m": shapely.length(lines),
        },
        geometry=lines,
        crs=crs,
    )
    return table.to_crs(STORAGE_CRS)


@dataclass(frozen=True)
class _Cleaned:
    """Kept fixes and their metric coordinates, for callers that go on measuring."""

    frame: gpd.GeoDataFrame  # as returned by clean_tracks
    xy: np.ndarray  # metric coordinates of the kept fixes
    t: np.ndarray  # epoch seconds
    segment: np.ndarray  # int code of the segment, increasing along the frame
    crs: CRS


# --- steps -----------------------------------------------------------------------------------


def _check_points(points: gpd.GeoDataFrame) -> None:
    if not isinstance(points, gpd.GeoDataFrame):
        raise InputError("points must be a GeoDataFrame of patrol fixes (points with a CRS).")
    if points.crs is None:
        raise InputError("points has no CRS; set it (EPSG:4326 for GPS longitude/latitude).")
    missing = [c for c in ("track_id", "t") if c not in points.columns]
    if missing:
        raise InputError(
            f"points lacks the column(s) {', '.join(missing)}; patrol fixes need track_id and "
            "t (the time of each fix), as in the patrol_points table."
        )
    if len(points) and not isinstance(points["t"].dtype, pd.DatetimeTZDtype):
        raise InputError(
            "points['t'] must hold timezone-aware times (e.g. Asia/Ho_Chi_Minh), got "
            f"{points['t'].dtype}."
        )


def _as_cleaned(fixes: gpd.GeoDataFrame, settings: TrackSettings | None) -> _Cleaned:
    """Raw fixes cleaned; fixes cleaned already (a ``segment`` column) taken as they are."""
    if "segment" not in fixes.columns:
        return _clean(fixes, settings or TrackSettings())
    if fixes.crs is None:
        raise InputError("fixes has no CRS; set it (EPSG:4326 for GPS longitude/latitude).")
    frame = fixes.sort_values(["segment", "t"], kind="stable")
    crs = metric_crs(frame) if len(frame) else CRS.from_user_input(STORAGE_CRS)
    t = frame["t"].to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
    code = pd.factorize(frame["segment"].astype(str).to_numpy(), sort=True)[0]
    return _Cleaned(frame, point_xy(frame.geometry, crs), t, code, crs)


def _clean(points: gpd.GeoDataFrame, opts: TrackSettings) -> _Cleaned:
    opts.check()
    _check_points(points)
    points = points.reset_index(drop=True)  # positions, whatever the caller's index
    geom = points.geometry
    ok = points["t"].notna().to_numpy() & geom.notna().to_numpy() & ~geom.is_empty.to_numpy()
    ok &= (geom.geom_type == "Point").to_numpy()
    frame = points.loc[ok, ["track_id", "t"]].copy()
    frame["team"] = points.loc[ok, "team"] if "team" in points.columns else pd.NA
    frame["track_id"] = frame["track_id"].astype("string").fillna("?")
    frame = frame.sort_values(["track_id", "t"], kind="stable")
    frame = frame[~frame.duplicated(["track_id", "t"])]
    unusable = len(points) - len(frame)
    geoms = geom.loc[frame.index]
    crs = metric_crs(geoms) if len(frame) else CRS.from_user_input(STORAGE_CRS)
    xy = point_xy(geoms, crs)
    t = frame["t"].to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
    tracks = frame["track_id"].to_numpy()
    starts: np.ndarray = (
        np.flatnonzero(np.r_[True, tracks[1:] != tracks[:-1]])
        if len(frame)
        else np.zeros(0, dtype=np.int64)
    )
    ends = np.r_[starts[1:], len(frame)] if len(frame) else starts
    keep = np.zeros(len(frame), dtype=bool)
    seg = np.zeros(len(frame), dtype=np.int64)
    for a, b in zip(starts, ends, strict=True):
        keep[a:b], seg[a:b] = _clean_one(xy[a:b], t[a:b], opts)
    kept = frame[keep]
    # One code per (track, segment), increasing down the sorted frame.
    kt, ks = tracks[keep], seg[keep]
    new = np.ones(len(kt), dtype=bool)
    new[1:] = (kt[1:] != kt[:-1]) | (ks[1:] != ks[:-1])
    code = np.cumsum(new) - 1
    labels = [f"{tr}/{sg}" for tr, sg in zip(kt[new], ks[new], strict=True)]
    out = gpd.GeoDataFrame(
        {
            "track_id": kept["track_id"].array,
            "team": kept["team"].astype("string").array,
            "t": kept["t"].array,
            "segment": pd.Categorical.from_codes(code, categories=pd.Index(labels)),
        },
        geometry=geoms[keep].to_numpy(),
        crs=points.crs,
    )
    out = out.to_crs(STORAGE_CRS)
    out.attrs.update(jumps=int((~keep).sum()), unusable=unusable, segments=len(labels))
    return _Cleaned(out, xy[keep], t[keep], code, crs)


def _clean_one(xy: np.ndarray, t: np.ndarray, opts: TrackSettings) -> tuple[np.ndarray, np.ndarray]:
    """Keep-mask and segment numbers (1, 2, ...) of one track's fixes, sorted by time.

    An impossible step (faster than ``max_speed_m_s``) opens an excursion; it is a jump when,
    within ``settle_s``, another impossible step brings the track back to where the last good
    fix could have reached. The fixes in between are dropped. An excursion that never comes
    back is a real move: the track restarts there as a new segment. A run shorter than
    ``settle_s`` at the start of a segment, ended by an impossible step, is the jump instead.
    """
    n = len(t)
    keep = np.ones(n, dtype=bool)
    dt = np.diff(t)
    step = np.hypot(*np.diff(xy, axis=0).T)
    gaps = dt > opts.max_gap_s
    bad = np.flatnonzero(~gaps & (step > opts.max_speed_m_s * dt + opts.noise_m))
    cut = np.zeros(n, dtype=bool)  # a new segment starts at this fix
    cut[1:] = gaps
    if not len(bad):  # the usual case
        return keep, 1 + np.cumsum(cut)

    def reachable(i: int, j: int) -> bool:
        allowed = opts.max_speed_m_s * (t[j] - t[i]) + opts.noise_m
        return bool(np.hypot(*(xy[j] - xy[i])) <= allowed)

    settled = 0  # fixes before this one are decided
    for pos, k in enumerate(bad.tolist()):
        if k < settled:
            continue
        start = k + 1
        back = next(
            (m for m in bad[pos + 1 :].tolist()
             if t[m] - t[start] < opts.settle_s and reachable(k, m + 1)),
            None,
        )  # fmt: skip
        first = max(settled, int(np.flatnonzero(cut[: k + 1])[-1]) if cut[: k + 1].any() else 0)
        if back is not None:
            keep[start : back + 1] = False  # out and back: a jump
            settled = back + 1
        elif t[k] - t[first] < opts.settle_s and (first == 0 or cut[first]):
            keep[first : k + 1] = False  # the segment began inside a jump
            settled = start
        else:
            cut[start] = True  # a real move: restart the track there
            settled = start
    return keep, 1 + np.cumsum(cut)
