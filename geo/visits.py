"""Visits of patrols to hot spots, and how long places have gone without a patrol.

Hot-spots policing works through presence: stays of 10–15 minutes (Koper's curve), repeated at
least every couple of hours. So a **visit** here is a stay, not a pass: the fixes of one track
segment inside a hot spot's zone (the hot spot widened by ``radius_m``), with no break longer
than ``gap_s``, lasting at least ``min_stay_s``. Riding through in 20 seconds is not a visit.

"Hours without a visit" counts *working* hours (``working_hours``, default 07:00–22:00 local):
a market street last visited at 21:00 has not been neglected for 11 hours at 08:00 next
morning, but for 2.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.config import TIMEZONE_NAME
from geo.errors import InputError
from geo.model import local_time
from geo.tracks import TrackSettings, _as_cleaned, _Cleaned

__all__ = ["hotspot_visits", "last_patrols", "working_hours_between"]

log = logging.getLogger(__name__)

#: The team's working day (local hours), for "hours without a visit".
WORKING_HOURS = (7.0, 22.0)


def hotspot_visits(
    hotspots: gpd.GeoDataFrame,
    fixes: gpd.GeoDataFrame,
    *,
    now: pd.Timestamp,
    id_column: str = "unit_id",
    radius_m: float = 25.0,
    gap_s: float = 180.0,
    min_stay_s: float = 60.0,
    working_hours: tuple[float, float] = WORKING_HOURS,
    settings: TrackSettings | None = None,
) -> pd.DataFrame:
    """Last visit, visits and dwell minutes per hot spot, in the last 24 hours and 7 days.

    Parameters
    ----------
    hotspots
        Hot spots as points, lines (street segments) or polygons (cells), any CRS, with
        ``id_column``.
    fixes
        Patrol fixes, raw (cleaned first, with ``settings``) or from
        :func:`geo.tracks.clean_tracks`.
    now
        The moment the windows end at (fixes after it are ignored); naive times are local.
    radius_m
        A fix within this distance of the hot spot's geometry is at the hot spot.
    gap_s, min_stay_s
        A stay ends at a break longer than ``gap_s``; it is a visit from ``min_stay_s`` on.
    working_hours
        Local (start, end) hours of the working day.

    Returns
    -------
    pandas.DataFrame
        One row per hot spot, in input order, indexed by ``id_column``: ``last_visit`` (end of
        the latest visit, NaT if none), ``visits_24h``, ``dwell_24h_min``, ``visits_7d``,
        ``dwell_7d_min`` (time inside each window) and ``hours_unvisited`` (working hours
        since ``last_visit``; NaN when never visited).
    """
    _check(hotspots, id_column, radius_m, gap_s, min_stay_s, working_hours)
    stamp = local_time(now)
    track = _as_cleaned(fixes, settings)
    ids = hotspots[id_column].to_numpy()
    out = pd.DataFrame(
        {
            "last_visit": pd.Series(
                pd.NaT, index=range(len(ids)), dtype=f"datetime64[ns, {TIMEZONE_NAME}]"
            ),
            "visits_24h": 0,
            "dwell_24h_min": 0.0,
            "visits_7d": 0,
            "dwell_7d_min": 0.0,
        }
    )
    if len(track.t) and len(hotspots):
        stays = _stays(hotspots, track, stamp, radius_m, gap_s)
        visits = stays[stays["end"] - stays["start"] >= min_stay_s]
        now_s = stamp.value / 1e9
        last = visits.groupby("spot")["end"].max()
        out.loc[last.index, "last_visit"] = pd.to_datetime(
            last.to_numpy(), unit="s", utc=True
        ).tz_convert(TIMEZONE_NAME)
        for label, hours in (("24h", 24), ("7d", 24 * 7)):
            begin = now_s - hours * 3600
            inside = visits[visits["end"] >= begin]
            ends = inside["end"].clip(upper=now_s)
            dwell = (ends - inside["start"].clip(lower=begin)) / 60
            counts = inside.groupby("spot").size()
            out[f"visits_{label}"] = counts.reindex(out.index, fill_value=0).to_numpy()
            minutes = dwell.groupby(inside["spot"]).sum()
            out[f"dwell_{label}_min"] = minutes.reindex(out.index, fill_value=0.0).to_numpy()
    out["hours_unvisited"] = working_hours_between(out["last_visit"], stamp, hours=working_hours)
    out.index = pd.Index(ids, name=id_column)
    return out


def last_patrols(
    areas: gpd.GeoDataFrame,
    fixes: gpd.GeoDataFrame,
    *,
    now: pd.Timestamp,
    id_column: str = "group_id",
    settings: TrackSettings | None = None,
) -> pd.DataFrame:
    """When a patrol was last inside each area (residential group, zone), up to ``now``.

    Returns
    -------
    pandas.DataFrame
        One row per area, in input order, indexed by ``id_column``: ``last_patrol`` (NaT if
        never) and ``hours_since`` (clock hours; NaN if never).
    """
    if id_column not in areas.columns:
        raise InputError(f"areas has no column {id_column!r}; pass the column of their ids.")
    stamp = local_time(now)
    track = _as_cleaned(fixes, settings)
    last = np.full(len(areas), -np.inf)
    before = track.t <= stamp.value / 1e9
    if before.any() and len(areas):
        polys = areas.geometry.to_crs(track.crs).to_numpy()
        pts = shapely.points(track.xy[before])
        point, area = shapely.STRtree(polys).query(pts, predicate="intersects")
        np.maximum.at(last, area, track.t[before][point])
    seen = np.isfinite(last)
    when = pd.to_datetime(np.where(seen, last, np.nan), unit="s", utc=True).tz_convert(
        TIMEZONE_NAME
    )
    out = pd.DataFrame(
        {
            "last_patrol": when,
            "hours_since": np.where(seen, (stamp.value / 1e9 - last) / 3600, np.nan),
        },
        index=pd.Index(areas[id_column].to_numpy(), name=id_column),
    )
    return out


def working_hours_between(
    start: pd.Series | pd.Timestamp,
    end: pd.Timestamp,
    *,
    hours: tuple[float, float] = WORKING_HOURS,
) -> np.ndarray:
    """Working hours (local ``hours`` of each day) between ``start`` and ``end``.

    Examples
    --------
    >>> last = pd.Series(pd.to_datetime(["2025-07-01 21:00", None]).tz_localize("Asia/Ho_Chi_Minh"))
    >>> working_hours_between(last, pd.Timestamp("2025-07-02 08:00", tz="Asia/Ho_Chi_Minh"))
    array([ 2., nan])
    """
    begin, finish = hours
    series = pd.Series(start) if not isinstance(start, pd.Series) else start
    stamps = pd.to_datetime(series).dt.tz_convert(TIMEZONE_NAME)
    a = _working_clock(stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"), begin, finish)
    stop = local_time(end).tz_convert(TIMEZONE_NAME).tz_localize(None)
    b = _working_clock(np.array([stop.to_datetime64()], dtype="datetime64[ns]"), begin, finish)
    return np.where(np.isnan(a), np.nan, np.maximum(b[0] - a, 0.0))


# --- steps -----------------------------------------------------------------------------------


def _check(
    hotspots: gpd.GeoDataFrame,
    id_column: str,
    radius: float,
    gap: float,
    min_stay: float,
    working: tuple[float, float],
) -> None:
    problems = []
    if not isinstance(hotspots, gpd.GeoDataFrame) or hotspots.crs is None:
        problems.append("hotspots must be a GeoDataFrame with a CRS")
    elif id_column not in hotspots.columns:
        problems.append(f"hotspots has no column {id_column!r}")
    if not radius >= 0:
        problems.append(f"radius_m must be ≥ 0, got {radius}")
    if not gap > 0:
        problems.append(f"gap_s must be positive, got {gap}")
    if not min_stay >= 0:
        problems.append(f"min_stay_s must be ≥ 0, got {min_stay}")
    if not 0 <= working[0] < working[1] <= 24:
        problems.append(
            f"working_hours must be (start, end) with 0 ≤ start < end ≤ 24, got {working}"
        )
    if problems:
        raise InputError("; ".join(problems) + ".")


def _stays(
    hotspots: gpd.GeoDataFrame, track: _Cleaned, now: pd.Timestamp, radius: float, gap: float
) -> pd.DataFrame:
    """Stays (spot, start, end in epoch seconds) of track segments inside hot spot zones."""
    before = track.t <= now.value / 1e9
    zones = shapely.buffer(hotspots.geometry.to_crs(track.crs).to_numpy(), radius)
    point, spot = shapely.STRtree(zones).query(
        shapely.points(track.xy[before]), predicate="intersects"
    )
    t = track.t[before][point]
    seg = track.segment[before][point]
    order = np.lexsort((t, seg, spot))
    spot, seg, t = spot[order], seg[order], t[order]
    new = np.ones(len(t), dtype=bool)
    new[1:] = (spot[1:] != spot[:-1]) | (seg[1:] != seg[:-1]) | (np.diff(t) > gap)
    stay = np.cumsum(new) - 1
    frame = pd.DataFrame({"stay": stay, "spot": spot, "t": t})
    return frame.groupby("stay").agg(spot=("spot", "first"), start=("t", "min"), end=("t", "max"))


def _working_clock(local: np.ndarray, begin: float, finish: float) -> np.ndarray:
    """Working seconds from 1970-01-01 (local wall clock) to each time, as hours; NaN for NaT."""
    nat = np.isnat(local)
    ns = local.astype("int64").astype("float64")
    day = np.floor(ns / 86_400e9)
    hour_of_day = (ns - day * 86_400e9) / 3_600e9
    clock = day * (finish - begin) + np.clip(hour_of_day - begin, 0.0, finish - begin)
    return np.where(nat, np.nan, clock)
