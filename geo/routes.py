"""Patrol routes: which hotspots to visit this shift, in what order, along which streets.

Hot-spots patrols work when visits last 10-15 minutes and come back at least every 2 hours
(Koper's curve). Before a shift a team needs a round from its start (the ward office) through
the hotspots most worth a visit now, along streets, that fits the shift:

1. :func:`visit_priority` turns hotspot scores and hours since the last visit into priorities;
2. :func:`plan_route` snaps the start and the candidates to street nodes, measures street
   distances with :func:`scipy.sparse.csgraph.dijkstra` from those nodes only, chooses the stops
   (most priority within the shift: an orienteering problem) and orders them
   (:func:`order_stops`), then draws each leg along the streets' own geometry;
3. :func:`plan_team_routes` splits the zones of the ward among teams, one route each;
4. :func:`route_gpx` writes a route as GPX 1.1 for the teams' phones.

Walkers may use every street both ways; a motorbike follows the one-way streets of the graph
(OSM ``oneway``; a graph rebuilt from the streets table has none).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from geo._routes_check import (
    check_begin,
    check_candidates,
    check_options,
    check_start,
    check_team_starts,
    check_teams,
)
from geo._routes_graph import StreetArrays, street_arrays
from geo._routes_plan import assemble, gpx_text
from geo._routes_tour import order_stops
from geo.errors import InputError

__all__ = [
    "SPEEDS_M_S",
    "Mode",
    "Route",
    "order_stops",
    "plan_route",
    "plan_team_routes",
    "route_gpx",
    "visit_priority",
]

log = logging.getLogger(__name__)

Mode = Literal["walk", "motorbike"]

#: Patrol speeds (m/s) along the street path, waits at crossings included.
SPEEDS_M_S: Mapping[str, float] = MappingProxyType(
    {
        # 4.3 km/h: below the ~1.3-1.4 m/s of people walking somewhere, because a patrol walks
        # while watching the street and pavements in Hà Nội are often taken by parked
        # motorbikes and stalls, so walkers weave and wait.
        "walk": 1.2,
        # 18 km/h: ward lanes (ngõ) are narrow, crowded and stop-and-go, and a patrol rides
        # slowly to look; faster on main streets, but most of a ward round is lanes.
        "motorbike": 5.0,
    }
)
#: A start or candidate farther than this from every street node is refused (not silently
#: moved): it is most likely in the wrong place or outside the network loaded.
MAX_SNAP_M = 300.0
#: Label of the start in legs, GPX and stop lists.
START_LABEL = "Điểm xuất phát"


@dataclass(frozen=True)
class Route:
    """A planned patrol round: stops in visiting order and the street legs between them.

    ``stops`` (EPSG:4326, one row per stop, in visiting order): ``order`` (1..n), ``unit_id``,
    ``label``, ``priority``, ``zone_id`` (when the candidates have one), ``node`` (graph node),
    ``snap_m`` (metres from the candidate to that node), ``leg_m`` (street metres from the
    previous stop or the start), ``arrive_min`` / ``leave_min`` (minutes after setting off;
    always there), ``arrive`` / ``leave`` (tz-aware timestamps when ``begin`` was given, else
    NaT) and ``geometry``, the street node the team stands at.

    ``legs`` (EPSG:4326): ``leg`` (1..n+1: start -> 1, ..., n -> start), ``from_label``,
    ``to_label``, ``length_m``, ``minutes`` and a LineString along the streets.

    ``skipped`` lists the candidate ``unit_id`` not visited (highest priority first), with the
    reason of each in ``reasons``; ``note`` says in one sentence what was planned or why not.
    """

    team: str | None
    mode: str
    start: tuple[float, float]  # lon, lat as given
    stops: gpd.GeoDataFrame
    legs: gpd.GeoDataFrame
    skipped: list[str]
    total_m: float
    travel_minutes: float
    minutes: float  # travel + dwell
    dwell_minutes: float = 12.0
    budget_minutes: float = 120.0
    begin: pd.Timestamp | None = None
    reasons: Mapping[str, str] = field(default_factory=dict)
    note: str = ""
    zones: tuple[str, ...] = ()

    @property
    def end(self) -> pd.Timestamp | None:
        """When the team is back at the start (None without ``begin``)."""
        return None if self.begin is None else self.begin + pd.Timedelta(minutes=self.minutes)


def visit_priority(
    score: Any, hours_since_visit: Any, *, interval_hours: float = 2.0, cap: float = 4.0
) -> np.ndarray:
    """How much each hotspot is worth a visit now.

    ``priority = score / max(score) * min(1 + hours / interval_hours, cap)``: the hotspot score
    scaled to 1 for the hottest, times a factor that is 1 just after a visit, 2 when the visit
    interval has passed, and grows until ``cap`` (4: 6 h with the default 2 h interval). Never
    visited (NaN hours) counts as the cap. A just-visited hotspot keeps a low but positive
    priority, so that a short shift can still pass it when nothing else is near.

    Parameters
    ----------
    score
        Hotspot scores (>= 0; e.g. ``hotspots(...)["score"]`` clipped at 0).
    hours_since_visit
        Hours since each hotspot's last visit (>= 0), NaN when never visited.
    interval_hours
        The wanted time between visits (Koper: at least every 2 hours).
    cap
        The largest factor (>= 1), reached by long-unvisited hotspots.

    Returns
    -------
    numpy.ndarray
        Priorities >= 0 (all 0 when every score is 0).

    Examples
    --------
    >>> visit_priority([2.0, 4.0, 4.0], [float("nan"), 0.0, 3.0])
    array([2. , 1. , 2.5])
    """
    s = np.asarray(score, dtype=float).reshape(-1)
    h = np.asarray(hours_since_visit, dtype=float).reshape(-1)
    problems = []
    if s.shape != h.shape:
        problems.append(f"score ({len(s)} values) and hours_since_visit ({len(h)}) differ")
    if not np.isfinite(s).all() or (s < 0).any():
        problems.append("score must be finite and >= 0 (clip negative z-scores at 0)")
    if (h < 0).any():
        problems.append("hours_since_visit must be >= 0 (a visit in the future? check clocks)")
    if not interval_hours > 0:
        problems.append(f"interval_hours must be > 0, got {interval_hours}")
    if not cap >= 1:
        problems.append(f"cap must be >= 1, got {cap}")
    if problems:
        raise InputError("visit_priority: " + "; ".join(problems) + ".")
    top = s.max() if len(s) else 0.0
    scaled = s / top if top > 0 else np.zeros_like(s)
    factor = np.where(np.isnan(h), cap, np.minimum(1.0 + h / interval_hours, cap))
    return np.asarray(scaled * factor)


def plan_route(
    graph: nx.MultiDiGraph,
    candidates: gpd.GeoDataFrame,
    *,
    start: tuple[float, float],
    minutes: float = 120.0,
    mode: Mode = "walk",
    dwell_minutes: float = 12.0,
    begin: pd.Timestamp | str | None = None,
    team: str | None = None,
    max_stops: int | None = None,
    speed_m_s: float | None = None,
    max_snap_m: float = MAX_SNAP_M,
) -> Route:
    """Plan one patrol round through the hotspots most worth visiting, within the shift.

    Stops are chosen to collect the most priority with travel + dwell <= ``minutes``, return
    to the start included: greedy insertion of the candidate with the best priority per added
    minute, re-ordering with :func:`order_stops`, swapping a stop for a better one when it
    fits, until nothing changes. This is a heuristic: a longer shift usually, not provably,
    visits at least as many stops.

    Parameters
    ----------
    graph
        Street network (:func:`geo.network.load_network` or
        :func:`geo.network.network_from_edges`): node ``x``/``y``, edge ``length`` (m),
        optional edge ``geometry`` (straight lines are used where it is missing).
    candidates
        Hotspots in any CRS (points; other shapes stand at a representative point) with
        ``unit_id``, ``priority`` (>= 0; 0 is never visited) and optionally ``label`` (else
        the ``unit_id``) and ``zone_id``.
    start
        (longitude, latitude) in EPSG:4326 where the round starts and ends (the ward office).
    minutes
        Length of the shift: travel + dwell, return included.
    mode
        ``"walk"`` or ``"motorbike"``; sets the speed (:data:`SPEEDS_M_S`) and whether one-way
        streets bind.
    dwell_minutes
        Minutes at each stop (Koper: 10-15).
    begin
        When the team sets off; gives clock times to ``arrive``/``leave``. A naive time is
        read as Asia/Ho_Chi_Minh.
    team
        Name of the team, kept on the route.
    max_stops
        Most stops to plan (default: as many as fit).
    speed_m_s
        The team's own speed, instead of the mode's.
    max_snap_m
        A start or candidate farther than this from every street node is an error.

    Returns
    -------
    Route

    Raises
    ------
    InputError
        On empty or malformed candidates, an unknown mode, a non-positive shift, or a start
        or candidate too far from the streets; the message names it and the fix.
    """
    speed = check_options(
        minutes, mode, dwell_minutes, max_stops, speed_m_s, max_snap_m, speeds=SPEEDS_M_S
    )
    table = check_candidates(candidates)
    origin = check_start(start)
    when = check_begin(begin)
    streets = street_arrays(graph, directed=mode == "motorbike")
    return Route(
        **assemble(
            streets,
            table,
            _candidate_xy(streets, table),
            start=origin,
            start_xy=_start_xy(streets, origin),
            minutes=float(minutes),
            mode=mode,
            speed_m_min=speed * 60.0,
            dwell=float(dwell_minutes),
            begin=when,
            team=team,
            max_stops=max_stops,
            max_snap_m=max_snap_m,
            start_label=START_LABEL,
        )
    )


def plan_team_routes(
    graph: nx.MultiDiGraph,
    candidates: gpd.GeoDataFrame,
    *,
    teams: Mapping[str, Sequence[str]] | Sequence[str],
    start: tuple[float, float] | Mapping[str, tuple[float, float]],
    minutes: float = 120.0,
    mode: Mode = "walk",
    dwell_minutes: float = 12.0,
    begin: pd.Timestamp | str | None = None,
    max_stops: int | None = None,
    speed_m_s: float | None = None,
    max_snap_m: float = MAX_SNAP_M,
) -> dict[str, Route]:
    """Plan one round per team, each within its own zones of the ward.

    Parameters
    ----------
    graph, candidates
        As for :func:`plan_route`; ``candidates`` also needs ``zone_id``.
    teams
        Either a mapping team -> zone_ids, used as given (a zone may belong to one team
        only; candidates in zones no team has are not planned), or a list of team names: the
        zones are then shared out whole, balancing the total priority of each team (largest
        zone first, to the team with the least so far).
    start
        One (lon, lat) for every team, or a mapping team -> (lon, lat).
    minutes, mode, dwell_minutes, begin, max_stops, speed_m_s, max_snap_m
        As for :func:`plan_route`, the same for every team.

    Returns
    -------
    dict
        Team name -> :class:`Route` (``route.zones`` holds its zones), in the teams' order.
    """
    speed = check_options(
        minutes, mode, dwell_minutes, max_stops, speed_m_s, max_snap_m, speeds=SPEEDS_M_S
    )
    table = check_candidates(candidates)
    if "zone_id" not in table.columns:
        raise InputError("candidates need a zone_id column to split them among teams.")
    zones_of = check_teams(teams, table)
    table["zone_id"] = table["zone_id"].astype(str)
    starts = check_team_starts(start, list(zones_of))
    when = check_begin(begin)
    streets = street_arrays(graph, directed=mode == "motorbike")
    xy = _candidate_xy(streets, table)
    routes = {}
    for name, zones in zones_of.items():
        mine = table["zone_id"].isin(zones).to_numpy()
        routes[name] = Route(
            **assemble(
                streets,
                table[mine].reset_index(drop=True),
                xy[mine],
                start=starts[name],
                start_xy=_start_xy(streets, starts[name]),
                minutes=float(minutes),
                mode=mode,
                speed_m_min=speed * 60.0,
                dwell=float(dwell_minutes),
                begin=when,
                team=name,
                max_stops=max_stops,
                max_snap_m=max_snap_m,
                start_label=START_LABEL,
                zones=tuple(zones),
            )
        )
    return routes


def route_gpx(route: Route, *, name: str = "Tuần tra") -> str:
    """The route as GPX 1.1 text for phones (OsmAnd, Organic Maps, any GPX viewer).

    A waypoint per stop (``"1. <label>"``, arrival time when known, dwell in the
    description), a route (``rte``) start -> stops -> start, and a track (``trk``) along the
    streets to follow. Times are written in UTC, which every reader understands.

    Parameters
    ----------
    route
        A planned :class:`Route`.
    name
        Name of the GPX file's content (shown by the apps); the team is appended.

    Returns
    -------
    str
        UTF-8 GPX 1.1 text (Vietnamese labels kept as they are).
    """
    return gpx_text(route, name=name, start_label=START_LABEL)


# --- helpers ----------------------------------------------------------------------------------


def _candidate_xy(streets: StreetArrays, table: gpd.GeoDataFrame) -> np.ndarray:
    return streets.to_metric(table.geometry)


def _start_xy(streets: StreetArrays, start: tuple[float, float]) -> np.ndarray:
    return streets.lonlat_to_metric(*start)
