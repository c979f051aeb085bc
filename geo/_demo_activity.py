"""The ward team's other records in the demo: cleanups, citizen reports and patrol tracks.

Patrols ride shortest paths on the street graph between hot spots, markets, schools and a
few random corners, with a GPS fix every 30 s.
"""

from __future__ import annotations

import itertools
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from geo._demo_scene import _along, _group_ids, _Scene, _uuid, _uuids
from geo.config import TIMEZONE_NAME
from geo.model import conform

REPORT_STATUSES = ("received", "accepted", "resolved", "rejected")
PATROL_TEAMS = ("Đội 1", "Đội 2")
_CLEANUP_NOTES = (
    "Tổng vệ sinh môi trường khu dân cư (dữ liệu tổng hợp)",
    "Ngày Chủ nhật xanh: dọn rác quanh chợ và vỉa hè (dữ liệu tổng hợp)",
    "Ra quân dọn dẹp ngõ ngách, khơi thông cống rãnh (dữ liệu tổng hợp)",
)


def _cleanups(
    scene: _Scene,
    rng: np.random.Generator,
    days: pd.DatetimeIndex,
    t1: pd.Timestamp,
    ward_id: str,
) -> pd.DataFrame:
    """Two weekend-morning cleanups a month, at markets, hot spots or along lanes."""
    sundays = days[days.day_of_week == 6]
    chosen = []
    for _, month in pd.Series(sundays).groupby(sundays.to_period("M")):
        picks = month.to_numpy()[[0, 2]] if len(month) >= 3 else month.to_numpy()[:2]
        chosen += [pd.Timestamp(d) - pd.Timedelta(days=int(rng.random() < 0.3)) for d in picks]
    n = len(chosen)
    if n == 0:
        return conform("cleanups", gpd.GeoDataFrame(geometry=[], crs=scene.crs))
    places = np.vstack([scene.markets, scene.hotspots])
    xy = np.where(
        (rng.random(n) < 0.5)[:, None],
        places[rng.integers(0, len(places), n)] + rng.normal(0, 20, (n, 2)),
        _along(rng, scene.lines, shapely.length(scene.lines), n, (0, 3), inside=scene.ward),
    )
    start = pd.DatetimeIndex(chosen).tz_localize(TIMEZONE_NAME) + pd.to_timedelta(
        rng.integers(7 * 60, 8 * 60 + 31, n), unit="min"
    )
    end = start + pd.to_timedelta(rng.integers(120, 211, n), unit="min")
    people = rng.integers(20, 81, n)
    frame = gpd.GeoDataFrame(
        {
            "cleanup_id": _uuids(rng, n),
            "ward_id": ward_id,
            "group_id": _group_ids(scene, xy),
            "started_at": start,
            "ended_at": end,
            "participants": people,
            "waste_kg": np.round(people * rng.uniform(6, 18, n) * 2) / 2,
            "notes": [_CLEANUP_NOTES[i] for i in rng.integers(0, len(_CLEANUP_NOTES), n)],
            "synthetic": True,
        },
        geometry=shapely.points(xy),
        crs=scene.crs,
    )
    return conform("cleanups", frame[frame["ended_at"] <= t1])


def _citizen_reports(
    scene: _Scene,
    rng: np.random.Generator,
    days: pd.DatetimeIndex,
    t1: pd.Timestamp,
    ward_id: str,
) -> pd.DataFrame:
    """Three to eight reports a week; urgent ones are taken up and settled faster."""
    per_day = rng.poisson(5.5 / 7, len(days))
    n = int(per_day.sum())
    mix = {
        "sidewalk_encroachment": 0.35,
        "littering": 0.2,
        "construction_order": 0.15,
        "street_vending": 0.15,
        "traffic": 0.05,
        "illegal_signage": 0.05,
        "other": 0.05,
    }
    cats = rng.choice(list(mix), n, p=list(mix.values()))
    length = shapely.length(scene.lines)
    xy = np.where(
        (rng.random(n) < 0.6)[:, None],
        _along(
            rng, scene.lines, length * scene.activity * scene.main, n, (3, 12), inside=scene.ward
        ),
        _along(rng, scene.lines, length, n, (1, 4), inside=scene.ward),
    )
    received = days.repeat(per_day).tz_localize(TIMEZONE_NAME) + pd.to_timedelta(
        rng.integers(6 * 3600, 22 * 3600, n), unit="s"
    )
    severity = rng.choice([1, 2, 3], n, p=[0.5, 0.35, 0.15])
    take_h = rng.lognormal(np.log(np.array([12.0, 5.0, 1.5])[severity - 1]), 0.6)
    settle_h = rng.lognormal(np.log(np.array([96.0, 36.0, 8.0])[severity - 1]), 0.6)
    accepted = received + pd.to_timedelta(take_h * 3600, unit="s").round("s")
    resolved = accepted + pd.to_timedelta(settle_h * 3600, unit="s").round("s")
    rejected = rng.random(n) < 0.05
    status = np.where(rejected, "rejected", "resolved").astype(object)
    late_resolve = np.asarray(resolved > t1)
    status[late_resolve & ~rejected] = "accepted"
    late_accept = np.asarray(accepted > t1)
    status[late_accept & ~rejected] = "received"
    # Some reports of the last four weeks stall (a third never even accepted), so the
    # overdue list of the report page has the work a real ward would have.
    recent = np.asarray(received > t1 - pd.Timedelta(weeks=4))
    stalled = recent & (rng.random(n) < 0.2) & ~rejected & ~late_accept
    unaccepted = stalled & (rng.random(n) < 1 / 3)
    status[stalled] = "accepted"
    status[unaccepted] = "received"
    late_resolve |= stalled
    late_accept |= unaccepted
    accepted_out = pd.Series(accepted).where(~(rejected | late_accept))
    resolved_out = pd.Series(resolved).where(~(rejected | late_resolve))
    frame = gpd.GeoDataFrame(
        {
            "report_id": _uuids(rng, n),
            "ward_id": ward_id,
            "group_id": _group_ids(scene, xy),
            "received_at": received,
            "category": cats,
            "severity": severity,
            "status": status,
            "accepted_at": accepted_out.to_numpy(),
            "resolved_at": resolved_out.to_numpy(),
            "synthetic": True,
        },
        geometry=shapely.points(xy),
        crs=scene.crs,
    )
    return conform("citizen_reports", frame)


# --- patrols ---------------------------------------------------------------------------------


def _patrols(
    scene: _Scene, rng: np.random.Generator, days: pd.DatetimeIndex, ward_id: str
) -> pd.DataFrame:
    """One 90-minute patrol per team per day, a fix every 30 s along shortest street paths.

    Team 1 patrols in the morning, team 2 in the late afternoon (the vending hours). Each
    patrol leaves the office, rides to hot spots, markets, schools and a few random corners,
    stops a few minutes at each, and is cut at 90 minutes wherever it is.
    """
    graph, coords = _graph(scene.routing)
    nodes = np.array(list(graph.nodes))
    node_xy = np.array([coords[v] for v in nodes])
    landmarks = np.vstack([scene.hotspots, scene.markets, scene.schools])
    inside = shapely.contains_xy(scene.ward, node_xy[:, 0], node_xy[:, 1])
    pool = nodes[inside] if inside.any() else nodes
    randoms = rng.choice(pool, size=min(16, len(pool)), replace=False)
    office_xy = shapely.get_coordinates(shapely.point_on_surface(scene.ward))[0]
    stops = [_nearest_node(node_xy, nodes, office_xy)]
    stops += [_nearest_node(node_xy, nodes, p) for p in landmarks]
    stops += [int(v) for v in randoms]
    weights = np.r_[0.0, [3.0] * len(scene.hotspots), [3.0] * len(scene.markets)]
    weights = np.r_[weights, [2.0] * len(scene.schools), [1.0] * len(randoms)]
    legs: dict[tuple[int, int], np.ndarray] = {}
    trees: dict[int, dict[Any, list[Any]]] = {}  # shortest-path predecessors from each stop

    def leg(i: int, j: int) -> np.ndarray:
        if (i, j) not in legs:
            if i not in trees:
                trees[i], _ = nx.dijkstra_predecessor_and_distance(graph, stops[i], weight="length")
            legs[(i, j)] = _path_coords(graph, coords, trees[i], stops[j])
        return legs[(i, j)]

    track_ids, teams, times, points = [], [], [], []
    offsets = np.arange(0, 90 * 60 + 1, 30)
    for day in days:
        for t, team in enumerate(PATROL_TEAMS):
            begin_min = rng.normal(7.5 * 60, 30) if t == 0 else rng.normal(16.5 * 60, 60)
            speed = rng.uniform(1.4, 2.8)
            knots_t, knots_d, path = [0.0], [0.0], [coords[stops[0]][None, :]]
            here, clock, dist = 0, 0.0, 0.0
            while clock < offsets[-1]:
                there = int(rng.choice(len(stops), p=_without(weights, here)))
                xy = leg(here, there)
                step = float(np.hypot(*np.diff(xy, axis=0).T).sum())
                path.append(xy)
                dist += step
                clock += step / speed
                knots_t.append(clock)
                knots_d.append(dist)
                clock += rng.uniform(120, 480)  # a stop: talk, warn, write up
                knots_t.append(clock)
                knots_d.append(dist)
                here = there
            route = np.vstack(path)
            along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(route, axis=0).T))]
            d = np.interp(offsets, knots_t, knots_d)
            x = np.interp(d, along, route[:, 0])
            y = np.interp(d, along, route[:, 1])
            angle = rng.uniform(0, 2 * np.pi, len(offsets))
            noise = rng.uniform(3, 8, len(offsets))
            points.append(np.column_stack([x + noise * np.cos(angle), y + noise * np.sin(angle)]))
            start = day.tz_localize(TIMEZONE_NAME) + pd.Timedelta(minutes=round(begin_min))
            times.append(start.value // 10**9 + offsets)
            track_ids.append(np.full(len(offsets), _uuid(rng), dtype=object))
            teams.append(np.full(len(offsets), team, dtype=object))
    if not points:
        return conform("patrol_points", gpd.GeoDataFrame(geometry=[], crs=scene.crs))
    frame = gpd.GeoDataFrame(
        {
            "track_id": np.concatenate(track_ids),
            "ward_id": ward_id,
            "team": np.concatenate(teams),
            "t": pd.to_datetime(np.concatenate(times), unit="s", utc=True),
        },
        geometry=shapely.points(np.vstack(points)),
        crs=scene.crs,
    )
    return conform("patrol_points", frame)


def _without(weights: np.ndarray, i: int) -> np.ndarray:
    w = weights.copy()
    w[i] = 0
    return w / w.sum()


def _nearest_node(node_xy: np.ndarray, nodes: np.ndarray, xy: np.ndarray) -> int:
    return int(nodes[np.argmin(np.hypot(*(node_xy - xy).T))])


def _graph(streets: gpd.GeoDataFrame) -> tuple[nx.Graph, dict[int, np.ndarray]]:
    """An undirected street graph on the line ends (merged to 10 cm), its largest part."""
    lines = streets.geometry.to_numpy()
    xy = [shapely.get_coordinates(g) for g in lines]
    ends = np.array([[c[0], c[-1]] for c in xy]).round(1)
    unique, inverse = np.unique(ends.reshape(-1, 2), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1, 2)
    graph = nx.Graph()
    for i, c in enumerate(xy):
        u, v = int(inverse[i, 0]), int(inverse[i, 1])
        length = float(shapely.length(lines[i]))
        if u == v or (graph.has_edge(u, v) and graph[u][v]["length"] <= length):
            continue
        graph.add_edge(u, v, length=length, coords=c, start=u)
    biggest = max(nx.connected_components(graph), key=len)
    graph = graph.subgraph(biggest).copy()
    return graph, {int(v): unique[v] for v in graph.nodes}


def _path_coords(
    graph: nx.Graph, coords: dict[int, np.ndarray], pred: dict[Any, list[Any]], b: int
) -> np.ndarray:
    """The coordinates of the shortest path to ``b``, from a Dijkstra predecessor map."""
    path = [b]
    while pred[path[-1]]:
        path.append(pred[path[-1]][0])
    path.reverse()
    if len(path) == 1:
        return coords[b][None, :]
    parts = []
    for u, v in itertools.pairwise(path):
        edge = graph[u][v]
        parts.append(edge["coords"] if edge["start"] == u else edge["coords"][::-1])
    return np.vstack(parts)
