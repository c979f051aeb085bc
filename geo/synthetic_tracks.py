"""Synthetic patrol tracks along known streets, to test and benchmark coverage.

A team leaves a node, walks (or rides) the shortest street paths through a list of nodes, and
its phone logs a fix every ``1 / hz`` seconds. Phone error is not white noise: a receiver's
error drifts slowly (multipath, satellite geometry), so each axis gets an AR(1) error with
standard deviation ``noise_m`` and a correlation time of ``drift_s`` seconds, plus a little
white jitter. The function also returns the street ids it walked, the ground truth.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.signal import lfilter

from geo.config import HANOI_CRS, TIMEZONE_NAME
from geo.errors import InputError

__all__ = ["walk_track"]


def walk_track(
    graph: nx.MultiDiGraph,
    nodes: Sequence[int],
    *,
    begin: pd.Timestamp,
    speed_m_s: float = 1.3,
    hz: float = 1.0,
    noise_m: float = 5.0,
    drift_s: float = 20.0,
    track_id: str = "synthetic",
    team: str = "Đội 1",
    rng: np.random.Generator | None = None,
    crs: str = HANOI_CRS,
) -> tuple[gpd.GeoDataFrame, set[str]]:
    """Fixes of a patrol along the shortest street paths through ``nodes``.

    Parameters
    ----------
    graph
        A graph from :func:`geo.network.network_from_edges` (edges carry ``street_id`` and
        ``geometry``), in EPSG:4326.
    nodes
        Nodes to pass through, in order (at least two).
    begin
        Time of the first fix (tz-aware).
    speed_m_s, hz, noise_m, drift_s
        Travel speed, fixes per second, GPS error (m, per axis) and its correlation time (s).
    track_id, team
        Labels of the fixes.
    rng
        Random generator (default: seeded with 0).
    crs
        Metric CRS the walk is laid out in.

    Returns
    -------
    (geopandas.GeoDataFrame, set of str)
        The fixes (``track_id``, ``team``, ``t``, Point geometry, EPSG:4326) and the
        ``street_id`` of every edge walked.
    """
    if len(nodes) < 2:
        raise InputError("walk_track needs at least two nodes to walk between.")
    rng = rng or np.random.default_rng(0)
    to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    pieces, walked = [], set()
    for a, b in itertools.pairwise(nodes):
        path = nx.shortest_path(graph, a, b, weight="length")
        for u, v in itertools.pairwise(path):
            data = min(graph[u][v].values(), key=lambda d: d["length"])
            walked.add(str(data["street_id"]))
            x, y = to_metric.transform(*np.asarray(data["geometry"].coords).T)
            pieces.append(np.column_stack([x, y]))
    route = np.vstack(pieces)
    along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(route, axis=0).T))]
    n = int(along[-1] / speed_m_s * hz) + 1
    d = np.arange(n) * speed_m_s / hz
    x, y = np.interp(d, along, route[:, 0]), np.interp(d, along, route[:, 1])
    error = _drifting_error(n, noise_m, drift_s * hz, rng) + rng.normal(0, 1.0, (n, 2))
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    lon, lat = back.transform(x + error[:, 0], y + error[:, 1])
    begin = pd.Timestamp(begin)
    if begin.tzinfo is None:
        begin = begin.tz_localize(TIMEZONE_NAME)
    fixes = gpd.GeoDataFrame(
        {
            "track_id": track_id,
            "team": team,
            "t": begin + pd.to_timedelta(np.arange(n) / hz, unit="s"),
        },
        geometry=shapely.points(lon, lat),
        crs="EPSG:4326",
    )
    return fixes, walked


def _drifting_error(n: int, sd: float, corr: float, rng: np.random.Generator) -> np.ndarray:
    """AR(1) error per axis with standard deviation ``sd`` and correlation time ``corr`` steps."""
    phi = float(np.exp(-1.0 / max(corr, 1e-9)))
    shocks = rng.normal(0.0, sd * np.sqrt(1 - phi**2), (n, 2))
    shocks[0] = rng.normal(0.0, sd, 2)
    return lfilter([1.0], [1.0, -phi], shocks, axis=0)
