"""Patrol benchmarks: street coverage of a day of tracks, and a 30-stop patrol route.

    python bench/run.py [--json] coverage [--teams N] [--hours H] [--network NAME]
    python bench/run.py [--json] route [--stops N] [--minutes M] [--network NAME]

The network is the real Kim Liên extract (``../shared/data/hanoi/kim_lien_streets_2025-05.osm``,
read in place, never copied) when it is there, else the project's synthetic ward
(:func:`geo.synthetic.synthetic_ward`, seed 0, 2.4 km²); the output says which
(``kim_lien_network`` 1 or 0, and a ``network:`` line). Either way the streets table is
:func:`geo.network.street_edges` and the routable graph :func:`geo.network.network_from_edges`.
"Central" nodes are those in the middle half of the network's extent, both ways.

``coverage`` (done when: 20 teams, one day, under 5 s). Each team walks 8 hours at 1 Hz
(28,800 fixes; 576,000 for 20 teams) along shortest street paths through random central nodes,
with drifting GPS error (:func:`geo.synthetic_tracks.walk_track`, 5 m, seeded per team). Its
speed is set so that the walk ends with the 8th hour (1.3 m/s on average), so the streets it
walked are known exactly. Making the tracks is timed apart (``tracks_s``). Measured:

- ours: :func:`geo.coverage.street_coverage` on the raw fixes (cleaning included), then
  :func:`geo.coverage.coverage_totals`;
- baseline, what a GIS user does in QGIS: per team the fixes as one LineString ("points to
  path") in the metric CRS, buffered 25 m (5 segments per quarter circle, QGIS's default), all
  dissolved, each street's length inside (shapely intersection), covered when at least half.
  The lines are buffered in pieces of 5 steps (:data:`PIECE_FIXES`; same area): GEOS buffers
  one long noisy line in superlinear time, so one day's line per team would take about a
  minute each (``one_line_buffer_s`` times one hour of one track as one line);
- both against the truth: ``*_walked_credited`` is the share of the walked streets' length
  credited, ``*_rest_credited`` that of the other streets (a buffer also credits the lanes a
  patrol crosses or passes the mouth of; ours should credit less of the rest).

``route`` (done when: 30 stops, under 2 s). 30 candidates at distinct random central nodes,
priorities uniform in [0.2, 1], start at the central node nearest the middle; the shift is long
enough (1,200 min, motorbike, 12 min per stop) that every candidate is visited, which is
asserted. Measured (best of ``repeat``):

- ours: :func:`geo.routes.plan_route` end to end (street arrays, snapping, Dijkstra, choosing,
  ordering, leg geometry), its ``total_m``; and :func:`geo.routes.order_stops` alone on the
  baseline's distance matrix;
- baseline, networkx: ``single_source_dijkstra_path_length`` from each of the 31 nodes for the
  distance matrix, then ``approximation.christofides`` on that complete (metric) graph.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.hotspots import _measured, _say  # noqa: E402
from geo.coverage import coverage_totals, street_coverage  # noqa: E402
from geo.crs import metric_crs  # noqa: E402
from geo.network import load_network, network_from_edges, street_edges  # noqa: E402
from geo.routes import Route, order_stops, plan_route  # noqa: E402
from geo.synthetic import synthetic_ward  # noqa: E402
from geo.synthetic_tracks import walk_track  # noqa: E402

KIM_LIEN_OSM = ROOT.parent / "shared" / "data" / "hanoi" / "kim_lien_streets_2025-05.osm"
TZ = "Asia/Ho_Chi_Minh"
#: The shift starts at 07:00 on a Monday.
BEGIN = pd.Timestamp("2025-05-12 07:00", tz=TZ)
#: Mean walking speed of the synthetic teams (m/s).
WALK_M_S = 1.3
#: Share of the network's extent, each way, that is "central".
CENTRAL = 0.5
#: Buffer of the baseline (m) and its segments per quarter circle (QGIS's default).
BUFFER_M = 25.0
BUFFER_SEGMENTS = 5
#: The baseline buffers tracks in pieces of this many steps: GEOS buffers one long, noisy,
#: self-overlapping line in superlinear time (an hour of one team's 1 Hz fixes as one line:
#: seconds; a whole day: minutes), while the union of the pieces' buffers is the same area.
PIECE_FIXES = 5

NetworkChoice = Literal["auto", "kim-lien", "synthetic"]
T = TypeVar("T")


@dataclass(frozen=True)
class Network:
    """The streets table and routable graph the benchmarks run on."""

    label: str
    real: bool
    streets: gpd.GeoDataFrame
    graph: nx.MultiDiGraph


def load(choice: NetworkChoice = "auto") -> Network:
    """Kim Liên when there (or asked for), else the synthetic ward."""
    if choice == "kim-lien" or (choice == "auto" and KIM_LIEN_OSM.is_file()):
        streets = street_edges(load_network(KIM_LIEN_OSM))
        label, real = f"Kim Liên, OSM 2025-05 ({KIM_LIEN_OSM})", True
    else:
        _, streets = synthetic_ward(seed=0)
        label, real = "synthetic ward (geo.synthetic.synthetic_ward, seed 0)", False
    return Network(label, real, streets, network_from_edges(streets))


def central_nodes(graph: nx.MultiDiGraph) -> tuple[np.ndarray, np.ndarray]:
    """Node ids in the middle of the network's extent, and their (lon, lat)."""
    ids = np.array(list(graph.nodes))
    xy = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in ids])
    low, high = xy.min(axis=0), xy.max(axis=0)
    margin = (high - low) * (1 - CENTRAL) / 2
    inside = ((xy >= low + margin) & (xy <= high - margin)).all(axis=1)
    return ids[inside], xy[inside]


def _network_figures(net: Network) -> dict[str, float]:
    print(f"network: {net.label}")
    return {
        "kim_lien_network": int(net.real),
        "network_edges": len(net.streets),
        "network_km": round(float(net.streets["length_m"].sum()) / 1000, 3),
    }


# --- coverage ---------------------------------------------------------------------------------


def team_tracks(
    graph: nx.MultiDiGraph, teams: int, hours: float, *, hz: float = 1.0, seed: int = 0
) -> tuple[gpd.GeoDataFrame, set[str]]:
    """Raw fixes of ``teams`` walks of ``hours`` each, and the street ids walked (the truth)."""
    pool, _ = central_nodes(graph)
    n_fixes = round(hours * 3600 * hz)
    frames, walked = [], set()
    for k in range(teams):
        rng = np.random.default_rng([seed, k])
        way, length = [int(rng.choice(pool))], 0.0
        while length < n_fixes / hz * WALK_M_S:
            nxt = int(rng.choice(pool))
            if nxt != way[-1]:
                length += nx.shortest_path_length(graph, way[-1], nxt, weight="length")
                way.append(nxt)
        # the walk's length spread over exactly n_fixes fixes: its end is the shift's end
        fixes, streets = walk_track(
            graph, way, begin=BEGIN, speed_m_s=length * hz / n_fixes, hz=hz,
            track_id=f"t{k + 1:02d}", team=f"Đội {k + 1}", rng=rng,
        )  # fmt: skip
        if len(fixes) < n_fixes:
            raise RuntimeError(f"team {k + 1}: {len(fixes)} fixes, fewer than {n_fixes}")
        frames.append(fixes.iloc[:n_fixes])
        walked |= streets
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326), walked


def buffer_coverage(streets: gpd.GeoDataFrame, fixes: gpd.GeoDataFrame) -> np.ndarray:
    """The QGIS way: tracks as lines, buffered, dissolved, intersected; covered per street."""
    crs = metric_crs(streets)
    lines = streets.geometry.to_crs(crs).to_numpy()
    area = shapely.union_all(
        shapely.buffer(_pieces(fixes, crs), BUFFER_M, quad_segs=BUFFER_SEGMENTS)
    )
    inside = shapely.length(shapely.intersection(lines, area))
    return np.asarray(inside >= 0.5 * shapely.length(lines))


def _pieces(fixes: gpd.GeoDataFrame, crs: object, piece: int = PIECE_FIXES) -> np.ndarray:
    """Each team's track as lines of ``piece`` steps, consecutive pieces sharing a fix."""
    points = fixes.sort_values(["track_id", "t"]).to_crs(crs)
    xy = shapely.get_coordinates(points.geometry.to_numpy())
    track = pd.factorize(points["track_id"])[0]
    first = np.r_[True, track[1:] != track[:-1]]
    k = np.arange(len(xy)) - np.maximum.accumulate(np.where(first, np.arange(len(xy)), 0))
    piece_id = np.cumsum(first | (k % piece == 0)) - 1  # a new piece every `piece` fixes
    # the first fix of each piece (but a track's first) also ends the piece before it
    again = np.flatnonzero(~first & (k % piece == 0))
    xy = np.concatenate([xy, xy[again]])
    ids = np.concatenate([piece_id, piece_id[again] - 1])
    order = np.argsort(ids, kind="stable")
    lines = np.asarray(shapely.linestrings(xy[order], indices=ids[order]))
    return lines[shapely.get_num_coordinates(lines) >= 2]


def one_line_buffer_s(fixes: gpd.GeoDataFrame, crs: object, n: int) -> tuple[int, float]:
    """Fixes used and seconds to buffer the first ``n`` fixes of a track as one line."""
    first = fixes[fixes["track_id"] == fixes["track_id"].iloc[0]].sort_values("t").iloc[:n]
    line = shapely.linestrings(shapely.get_coordinates(first.to_crs(crs).geometry.to_numpy()))
    t0 = time.perf_counter()
    shapely.buffer(line, BUFFER_M, quad_segs=BUFFER_SEGMENTS)
    return len(first), time.perf_counter() - t0


def _credited(covered: np.ndarray, lengths: np.ndarray, on: np.ndarray) -> tuple[float, float]:
    """Share of the walked streets' length credited, and of the others'."""
    walked = (lengths * covered)[on].sum() / max(lengths[on].sum(), 1e-9)
    rest = (lengths * covered)[~on].sum() / max(lengths[~on].sum(), 1e-9)
    return float(walked), float(rest)


def run_coverage(
    teams: int = 20, hours: float = 8.0, *, network: NetworkChoice = "auto", seed: int = 0
) -> dict[str, float]:
    """Make the tracks, time ours and the buffer baseline, return the figures."""
    t_start = time.perf_counter()
    net = load(network)
    figures: dict[str, float] = _network_figures(net)
    _say(f"coverage: making {teams} tracks of {hours:g} h at 1 Hz")
    tracks_s, _, (fixes, walked) = _measured(
        lambda: team_tracks(net.graph, teams, hours, seed=seed)
    )
    lengths = net.streets["length_m"].to_numpy(dtype=float)
    on = net.streets["street_id"].astype(str).isin(walked).to_numpy()
    figures.update(
        teams=teams, hours=hours, fixes=len(fixes), tracks_s=tracks_s,
        walked_km=round(float(lengths[on].sum()) / 1000, 3),
    )  # fmt: skip

    _say(f"coverage: ours on {len(fixes):,} raw fixes")
    s, mb, out = _measured(lambda: street_coverage(net.streets, fixes))
    totals = coverage_totals(out)
    ours = out["covered"].to_numpy(dtype=bool)
    walked_share, rest_share = _credited(ours, lengths, on)
    figures.update(
        coverage_s=s, coverage_peak_mb=mb, fixes_used=int(out.attrs["fixes"]),
        covered_km=totals["covered_km"], share=totals["share"],
        walked_credited=walked_share, rest_credited=rest_share,
    )  # fmt: skip

    _say("coverage: baseline, 25 m buffers dissolved and intersected")
    base_s, base_mb, base = _measured(lambda: buffer_coverage(net.streets, fixes))
    base_walked, base_rest = _credited(base, lengths, on)
    base_km = float(lengths[base].sum()) / 1000
    _say("coverage: one hour of one track buffered as one line")
    one_n, one_s = one_line_buffer_s(fixes, metric_crs(net.streets), 3_600)
    figures.update(
        baseline_s=base_s, baseline_peak_mb=base_mb,
        baseline_covered_km=round(base_km, 3),
        baseline_share=round(base_km / max(figures["network_km"], 1e-9), 4),
        baseline_walked_credited=base_walked, baseline_rest_credited=base_rest,
        only_ours_km=round(float(lengths[ours & ~base].sum()) / 1000, 3),
        only_baseline_km=round(float(lengths[base & ~ours].sum()) / 1000, 3),
        ratio=s / base_s,
        one_line_fixes=one_n,
        one_line_buffer_s=one_s,
        budget_s=5.0,
        total_s=time.perf_counter() - t_start,
    )  # fmt: skip
    return figures


# --- route ------------------------------------------------------------------------------------


def _best(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Least wall time of ``repeat`` calls, and the last result."""
    best = np.inf
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return float(best), result


def route_problem(
    graph: nx.MultiDiGraph, stops: int, *, seed: int = 0
) -> tuple[int, tuple[float, float], gpd.GeoDataFrame]:
    """The start node, its (lon, lat), and ``stops`` candidates at other central nodes."""
    ids, xy = central_nodes(graph)
    middle = (xy.min(axis=0) + xy.max(axis=0)) / 2
    home = int(np.argmin(np.hypot(*(xy - middle).T)))
    others = np.delete(np.arange(len(ids)), home)
    if len(others) < stops:
        raise ValueError(f"the network has {len(others)} central nodes besides the start, "
                         f"fewer than {stops} stops")  # fmt: skip
    rng = np.random.default_rng(seed)
    pick = rng.choice(others, stops, replace=False)
    candidates = gpd.GeoDataFrame(
        {
            "unit_id": [f"h{i + 1:02d}" for i in range(stops)],
            "priority": rng.uniform(0.2, 1.0, stops),
            "node": ids[pick],
        },
        geometry=shapely.points(xy[pick]),
        crs=4326,
    )
    return int(ids[home]), (float(xy[home, 0]), float(xy[home, 1])), candidates


def nx_matrix(graph: nx.MultiDiGraph, nodes: list[int]) -> np.ndarray:
    """The networkx way to a distance matrix: one Dijkstra from each node (m)."""
    rows = [nx.single_source_dijkstra_path_length(graph, n, weight="length") for n in nodes]
    return np.array([[row[m] for m in nodes] for row in rows])


def christofides_tour(dist: np.ndarray) -> list[int]:
    """networkx's Christofides tour on the complete graph of ``dist`` (symmetric: two-way)."""
    complete = nx.Graph()
    n = len(dist)
    complete.add_weighted_edges_from(
        (i, j, min(dist[i, j], dist[j, i])) for i in range(n) for j in range(i + 1, n)
    )
    cycle = nx.approximation.christofides(complete, weight="weight")
    start = cycle.index(0)
    return [*cycle[start:-1], *cycle[:start]]


def _tour_m(dist: np.ndarray, tour: list[int]) -> float:
    t = np.asarray(tour)
    return float(dist[t, np.roll(t, -1)].sum())


def run_route(
    stops: int = 30,
    minutes: float = 1_200.0,
    *,
    dwell_minutes: float = 12.0,
    network: NetworkChoice = "auto",
    repeat: int = 3,
    seed: int = 0,
) -> dict[str, float]:
    """Time plan_route, order_stops and the networkx baseline; return the figures."""
    t_start = time.perf_counter()
    net = load(network)
    figures: dict[str, float] = _network_figures(net)
    home, start, candidates = route_problem(net.graph, stops, seed=seed)
    figures.update(candidates=stops, minutes=minutes, dwell_minutes=dwell_minutes)

    _say(f"route: plan_route, {stops} candidates, best of {repeat}")

    def plan() -> Route:
        return plan_route(
            net.graph,
            candidates,
            start=start,
            minutes=minutes,
            mode="motorbike",
            dwell_minutes=dwell_minutes,
        )

    route_s, route = _best(plan, repeat)
    visited = len(route.stops)
    if visited != stops:
        raise AssertionError(f"plan_route visited {visited} of {stops} stops; raise --minutes")

    _say("route: networkx Dijkstra matrix + Christofides")
    nodes = [home, *candidates["node"].astype(int)]
    matrix_s, dist = _best(lambda: nx_matrix(net.graph, nodes), repeat)
    tsp_s, tour = _best(lambda: christofides_tour(dist), repeat)
    base_s, base_m = matrix_s + tsp_s, _tour_m(dist, tour)

    _say("route: order_stops alone on the same matrix")
    order_s, order = _best(lambda: order_stops(dist), repeat)
    position = {node: i for i, node in enumerate(nodes)}
    ours_on_matrix = _tour_m(dist, [0, *(position[int(n)] for n in route.stops["node"])])
    figures.update(
        stops=visited, route_s=route_s, route_m=round(route.total_m, 1),
        route_on_matrix_m=round(ours_on_matrix, 1), route_minutes=round(route.minutes, 1),
        order_s=order_s, order_m=round(_tour_m(dist, order), 1),
        baseline_matrix_s=matrix_s, baseline_tsp_s=tsp_s, baseline_s=base_s,
        baseline_m=round(base_m, 1),
        route_ratio=route_s / base_s, order_ratio=order_s / tsp_s,
        length_ratio=route.total_m / base_m, order_length_ratio=_tour_m(dist, order) / base_m,
        budget_s=2.0, total_s=time.perf_counter() - t_start,
    )  # fmt: skip
    return figures
