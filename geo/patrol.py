"""Patrol status of a ward: what the page "Tuần tra", the CLI and the route planner share.

One call gathers, for a moment ``now`` and a window of the last ``days`` days:

- street coverage (:mod:`geo.coverage`) and its totals per ward, zone and residential group;
- the hot spots to patrol: the ``top`` hottest street segments of the last ``HOTSPOT_WEEKS``
  weeks of violations (:mod:`geo.hot_streets`), each with its visits (:mod:`geo.visits`) and
  ``overdue`` when no visit came in the last ``overdue_hours`` working hours;
- when each group and zone last saw a patrol;
- the route planner's candidates: those hot spots with a priority from their score and the
  time since their last visit (:func:`geo.routes.visit_priority`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.assign import assign_to_groups
from geo.config import STORAGE_CRS, TIMEZONE_NAME
from geo.coverage import coverage_by_area, coverage_totals, street_coverage
from geo.crs import metric_crs
from geo.errors import InputError
from geo.hotspots import hotspots as rank_hotspots
from geo.model import local_time
from geo.store import Query, Store
from geo.tracks import TrackSettings, clean_tracks, track_lines
from geo.visits import WORKING_HOURS, hotspot_visits, last_patrols

__all__ = [
    "HOTSPOT_WEEKS",
    "PatrolStatus",
    "latest_fix",
    "load_patrol_inputs",
    "patrol_now",
    "patrol_status",
    "route_candidates",
    "start_point",
]

log = logging.getLogger(__name__)

#: Weeks of violations the patrol hot spots are ranked on: recent enough to be today's
#: problem, long enough to hold a few records per hot street.
HOTSPOT_WEEKS = 8


@dataclass(frozen=True)
class PatrolStatus:
    """Patrol effort in a window ending at ``now``: the page's and the report's figures."""

    now: pd.Timestamp
    start: pd.Timestamp
    streets: gpd.GeoDataFrame  # street_coverage output
    totals: dict[str, float]
    zones: pd.DataFrame
    groups: pd.DataFrame
    hotspots: gpd.GeoDataFrame
    tracks: gpd.GeoDataFrame  # one line per track segment in the window
    teams: list[str] = field(default_factory=list)


def patrol_status(
    *,
    streets: gpd.GeoDataFrame,
    groups: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    fixes: gpd.GeoDataFrame,
    violations: gpd.GeoDataFrame,
    now: pd.Timestamp,
    days: float = 7.0,
    tolerance_m: float = 25.0,
    top: int = 20,
    overdue_hours: float = 2.0,
    working_hours: tuple[float, float] = WORKING_HOURS,
    settings: TrackSettings | None = None,
) -> PatrolStatus:
    """Coverage, hot spot visits and last patrols for the ``days`` before ``now``.

    Parameters
    ----------
    streets, groups, zones
        The ward's streets and boundaries (store tables).
    fixes
        Patrol fixes up to ``now`` covering at least the last 7 days (for the hot spots'
        7-day visits) and the window.
    violations
        Violations of the ``HOTSPOT_WEEKS`` weeks before ``now`` (the hot spots' basis).
    now
        End of the window (naive times are local).
    days
        Length of the coverage window.
    tolerance_m, top, overdue_hours, working_hours
        Coverage tolerance; number of hot street segments to follow; working hours without a
        visit after which a hot spot is overdue; the working day.
    """
    if days <= 0:
        raise InputError(f"days must be positive, got {days}.")
    if top < 1:
        raise InputError(f"top must be at least 1, got {top}.")
    stamp = local_time(now)
    start = stamp - pd.Timedelta(days=days)
    cleaned = clean_tracks(fixes, settings=settings)
    edges = street_coverage(
        streets, cleaned, tolerance_m=tolerance_m, start=start, end=stamp + pd.Timedelta(seconds=1)
    )
    spots = _hotspots(violations, streets, groups, top)
    visits = hotspot_visits(spots, cleaned, now=stamp, working_hours=working_hours)
    spots = spots.join(visits, on="unit_id")
    spots["overdue"] = ~(spots["hours_unvisited"] < overdue_hours)
    in_window = cleaned[(cleaned["t"] >= start) & (cleaned["t"] <= stamp)]
    return PatrolStatus(
        now=stamp,
        start=start,
        streets=edges,
        totals=coverage_totals(edges),
        zones=_areas(edges, zones, cleaned, stamp, "zone_id"),
        groups=_areas(edges, groups, cleaned, stamp, "group_id"),
        hotspots=spots,
        tracks=track_lines(in_window),
        teams=sorted(in_window["team"].dropna().astype(str).unique().tolist()),
    )


def load_patrol_inputs(
    store: Store, *, ward_id: str, now: pd.Timestamp, days: float = 7.0
) -> dict[str, gpd.GeoDataFrame]:
    """The store tables :func:`patrol_status` needs, read for ``ward_id`` and ``now``."""
    stamp = local_time(now)
    end = stamp + pd.Timedelta(seconds=1)
    fix_start = stamp - pd.Timedelta(days=max(days, 7.0))
    hot_start = stamp - pd.Timedelta(weeks=HOTSPOT_WEEKS)
    ward = Query(ward_id=ward_id)
    return {
        "streets": store.read("streets", ward),
        "groups": store.read("groups", ward),
        "zones": store.read("zones", ward),
        "fixes": store.read("patrol_points", Query(ward_id=ward_id, start=fix_start, end=end)),
        "violations": store.read("violations", Query(ward_id=ward_id, start=hot_start, end=end)),
    }


def latest_fix(store: Store, *, ward_id: str) -> pd.Timestamp | None:
    """Time of the ward's latest patrol fix (the demo's "now"), or None without patrols."""
    times = store.read("patrol_points", Query(ward_id=ward_id))["t"]
    return None if times.empty else pd.Timestamp(times.max())


def patrol_now(
    latest: pd.Timestamp | None,
    *,
    until: pd.Timestamp | None = None,
    clock: pd.Timestamp | None = None,
) -> pd.Timestamp:
    """The moment patrol figures are read at, for a page or a command.

    It is the end of the chosen period (``until``), but never later than the ``clock`` (now).
    It moves back to the latest patrol fix (``latest``) in two cases only, so that the figures
    describe when patrols were last recorded rather than the hours after nobody recorded:

    - the period ended in the past and its last patrol was on its last day;
    - the patrols stopped more than a week before that moment (an old store, the demo).

    A live ward looking at today keeps the clock: a hot spot nobody visited since 10:00 is
    four hours overdue at 14:00, whatever the last fix was.

    Examples
    --------
    >>> clock = pd.Timestamp("2025-07-02 14:00", tz="Asia/Ho_Chi_Minh")
    >>> last = pd.Timestamp("2025-07-02 10:00:30", tz="Asia/Ho_Chi_Minh")
    >>> patrol_now(last, clock=clock).strftime("%d/%m %H:%M")
    '02/07 14:00'
    >>> past_day = pd.Timestamp("2025-07-01 23:59", tz="Asia/Ho_Chi_Minh")
    >>> on_that_day = pd.Timestamp("2025-07-01 17:28:10", tz="Asia/Ho_Chi_Minh")
    >>> patrol_now(on_that_day, until=past_day, clock=clock).strftime("%d/%m %H:%M")
    '01/07 17:29'
    >>> patrol_now(on_that_day, clock=clock + pd.Timedelta(days=30)).strftime("%d/%m %H:%M")
    '01/07 17:29'
    """
    now = local_time(clock) if clock is not None else pd.Timestamp.now(tz=TIMEZONE_NAME)
    now = now.floor("min")
    end = now if until is None else min(local_time(until), now)
    if latest is None or latest >= end:
        return end
    past_day = until is not None and local_time(until) < now and latest.date() == end.date()
    if past_day or end - latest > pd.Timedelta(days=7):
        return latest.ceil("min")
    return end


def start_point(
    places: pd.DataFrame, wards: gpd.GeoDataFrame, *, ward_id: str
) -> tuple[tuple[float, float], str]:
    """Where routes start: the ward office if the store has one, else a point inside the ward.

    Returns
    -------
    ((lon, lat), what)
        ``what`` is ``"office"`` or ``"ward"`` (no office recorded: the ward's inner point).
    """
    offices = places[(places["ward_id"] == ward_id) & (places["kind"] == "office")]
    if len(offices):
        point = offices.geometry.iloc[0]
        return (float(point.x), float(point.y)), "office"
    ward = wards[wards["ward_id"] == ward_id]
    if ward.empty:
        raise InputError(f"No ward {ward_id!r} in the store; choose one of its wards.")
    metric = ward.to_crs(metric_crs(ward))
    point = metric.geometry.representative_point().to_crs(STORAGE_CRS).iloc[0]
    return (float(point.x), float(point.y)), "ward"


def route_candidates(status: PatrolStatus, *, interval_hours: float = 2.0) -> gpd.GeoDataFrame:
    """The hot spots as route stops: a point on each, its label, zone and priority."""
    from geo.routes import visit_priority

    spots = status.hotspots
    if spots.empty:
        return gpd.GeoDataFrame(
            {"unit_id": [], "label": [], "zone_id": [], "priority": []},
            geometry=[],
            crs=STORAGE_CRS,
        )
    points = _midpoints(spots)
    priority = visit_priority(
        spots["score"].to_numpy(dtype=float),
        spots["hours_unvisited"].to_numpy(dtype=float),
        interval_hours=interval_hours,
    )
    return gpd.GeoDataFrame(
        {
            "unit_id": spots["unit_id"].to_numpy(),
            "label": spots["label"].to_numpy(),
            "zone_id": spots["zone_id"].to_numpy(),
            "priority": priority,
            "hours_unvisited": spots["hours_unvisited"].to_numpy(),
        },
        geometry=points.to_numpy(),
        crs=STORAGE_CRS,
    )


# --- steps -----------------------------------------------------------------------------------


def _midpoints(segments: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Half way along each street segment, measured in metres; EPSG:4326."""
    metric = segments.to_crs(metric_crs(segments))
    middle = shapely.line_interpolate_point(metric.geometry.to_numpy(), 0.5, normalized=True)
    return gpd.GeoSeries(middle, crs=metric.crs).to_crs(STORAGE_CRS)


def _hotspots(
    violations: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, groups: gpd.GeoDataFrame, top: int
) -> gpd.GeoDataFrame:
    columns = ["unit_id", "rank", "label", "name", "score", "count", "zone_id", "group_id"]
    located = violations[violations.geometry.notna() & ~violations.geometry.is_empty]
    if located.empty or streets.empty:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=STORAGE_CRS)
    ranked = rank_hotspots(located, method="streets", streets=streets)
    ranked = ranked[ranked["count"] > 0].head(top).reset_index(drop=True)
    ends = [
        " – ".join(str(v) for v in (a, b) if isinstance(v, str) and v)
        for a, b in zip(ranked["from_name"], ranked["to_name"], strict=True)
    ]
    ranked["label"] = [
        f"{name} ({between})" if between else str(name)
        for name, between in zip(ranked["name"].fillna("—"), ends, strict=True)
    ]
    middle = gpd.GeoDataFrame(geometry=_midpoints(ranked), crs=STORAGE_CRS)
    if len(groups):
        where = assign_to_groups(middle, groups)
        ranked["zone_id"] = where["zone_id"].to_numpy()
        ranked["group_id"] = where["group_id"].to_numpy()
    else:
        ranked["zone_id"] = ranked["group_id"] = None
    return gpd.GeoDataFrame(ranked[[*columns, "geometry"]], geometry="geometry", crs=STORAGE_CRS)


def _areas(
    edges: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    cleaned: gpd.GeoDataFrame,
    now: pd.Timestamp,
    id_column: str,
) -> pd.DataFrame:
    share = coverage_by_area(edges, areas, id_column=id_column)
    last = last_patrols(areas, cleaned, now=now, id_column=id_column)
    out = share.join(last)
    for extra in ("name", "zone_id"):
        if extra in areas.columns and extra != id_column:
            out[extra] = areas[extra].to_numpy()
    never = out["last_patrol"].isna()
    out["hours_since"] = np.where(never, np.nan, out["hours_since"])
    return out.reset_index()
