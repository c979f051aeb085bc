"""The street graph as arrays for routing: snapping, shortest paths, leg geometries.

One :class:`StreetArrays` per call (nothing is cached globally): node coordinates, a KD-tree on
metric coordinates for snapping, a sparse matrix of the shortest parallel edge between each
ordered pair of nodes for :func:`scipy.sparse.csgraph.dijkstra`, and for each matrix entry the
graph edge it came from, so that a path of nodes becomes the streets' own geometry.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
from pyproj import CRS, Transformer
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.config import STORAGE_CRS
from geo.crs import metric_crs
from geo.errors import NetworkError

__all__ = ["StreetArrays", "leg_coords", "shortest_paths", "street_arrays"]

#: csgraph reads a stored 0 as "no edge" in some versions: zero-length edges cost 1 mm instead.
_MIN_LENGTH_M = 1e-3


@dataclass(frozen=True)
class StreetArrays:
    """A street graph prepared for routing; node ``i`` is ``ids[i]`` of the graph."""

    graph: nx.MultiDiGraph
    ids: np.ndarray  # graph node ids, object array
    lonlat: np.ndarray  # (n, 2) node longitude/latitude
    metric: CRS
    forward: Transformer  # EPSG:4326 -> metric
    to_lonlat: Transformer | None  # graph CRS -> EPSG:4326 (None: the graph is in EPSG:4326)
    tree: cKDTree  # on the nodes' metric coordinates
    lengths: csr_matrix  # metres of the shortest edge i -> j
    edge_of: dict[tuple[int, int], tuple[Hashable, Hashable, Hashable, bool]]  # u, v, key, back

    def snap(self, xy_metric: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node of each metric point, and its distance in metres."""
        dist, idx = self.tree.query(np.asarray(xy_metric, dtype=float).reshape(-1, 2))
        return np.asarray(idx, dtype=np.int64), np.asarray(dist, dtype=float)

    def to_metric(self, points: gpd.GeoSeries) -> np.ndarray:
        """Metric x/y of points (representative points of other shapes), any CRS."""
        reps = points.to_crs(STORAGE_CRS).representative_point()
        return _apply(self.forward, np.column_stack([reps.x.to_numpy(), reps.y.to_numpy()]))

    def lonlat_to_metric(self, lon: float, lat: float) -> np.ndarray:
        """Metric x/y of one longitude/latitude, as a (1, 2) array."""
        return _apply(self.forward, np.array([[lon, lat]], dtype=float))


def street_arrays(graph: nx.MultiDiGraph, *, directed: bool) -> StreetArrays:
    """Prepare ``graph`` for routing; ``directed=False`` lets every edge be used both ways."""
    if graph.number_of_nodes() == 0 or graph.number_of_edges() == 0:
        raise NetworkError("The street network is empty; load one with geo.network first.")
    if "crs" not in graph.graph:
        raise NetworkError("The street network has no 'crs' graph attribute; set G.graph['crs'].")
    crs = CRS.from_user_input(graph.graph["crs"])
    ids = np.empty(graph.number_of_nodes(), dtype=object)
    ids[:] = list(graph.nodes)
    index = {node: i for i, node in enumerate(ids)}
    xy = np.array([(graph.nodes[n]["x"], graph.nodes[n]["y"]) for n in ids], dtype=float)
    geographic = crs.equals(CRS.from_user_input(STORAGE_CRS))
    to_lonlat = None if geographic else Transformer.from_crs(crs, STORAGE_CRS, always_xy=True)
    lonlat = xy.copy() if to_lonlat is None else _apply(to_lonlat, xy)
    box = lonlat.min(axis=0), lonlat.max(axis=0)
    metric = metric_crs(gpd.GeoSeries.from_xy(*np.transpose(box), crs=STORAGE_CRS))
    forward = Transformer.from_crs(STORAGE_CRS, metric, always_xy=True)
    xy_m = _apply(forward, lonlat)

    rows, cols, weights, refs = [], [], [], []
    for u, v, key, data in graph.edges(keys=True, data=True):
        i, j = index[u], index[v]
        if i == j:
            continue  # a loop never shortens a path
        length = data.get("length")
        if length is None or not np.isfinite(length):
            length = float(np.hypot(*(xy_m[i] - xy_m[j])))
        for a, b, back in ((i, j, False), (j, i, True)) if not directed else ((i, j, False),):
            rows.append(a)
            cols.append(b)
            weights.append(max(float(length), _MIN_LENGTH_M))
            refs.append((u, v, key, back))
    r, c, w = np.array(rows), np.array(cols), np.array(weights)
    order = np.lexsort((w, c, r))  # shortest parallel edge first within each (r, c)
    r, c, w = r[order], c[order], w[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    keep = order[first]
    n = len(ids)
    lengths = csr_matrix((w[first], (r[first], c[first])), shape=(n, n))
    edge_of = {(int(rows[k]), int(cols[k])): refs[k] for k in keep}
    return StreetArrays(
        graph, ids, lonlat, metric, forward, to_lonlat, cKDTree(xy_m), lengths, edge_of
    )


def shortest_paths(streets: StreetArrays, sources: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres from each source node to every node, and the predecessor arrays (-9999: none)."""
    dist, pred = dijkstra(
        streets.lengths, directed=True, indices=np.asarray(sources), return_predecessors=True
    )
    return np.atleast_2d(dist), np.atleast_2d(pred)


def leg_coords(streets: StreetArrays, pred: np.ndarray, source: int, target: int) -> np.ndarray:
    """Longitude/latitude of the street path source -> target (predecessors from ``source``).

    Follows each edge's own geometry (or the straight line between its nodes when it has
    none); a path of no edge is the node twice, so every leg is a line.
    """
    nodes = [target]
    while nodes[-1] != source:
        nodes.append(int(pred[nodes[-1]]))
        if nodes[-1] < 0:
            raise NetworkError(f"No street path from node {source} to node {target}.")
    nodes.reverse()
    if len(nodes) == 1:
        return np.repeat(streets.lonlat[[source]], 2, axis=0)
    parts = [_edge_coords(streets, a, b) for a, b in itertools.pairwise(nodes)]
    return np.concatenate([parts[0], *(p[1:] for p in parts[1:])])


def _edge_coords(streets: StreetArrays, i: int, j: int) -> np.ndarray:
    u, v, key, back = streets.edge_of[(i, j)]
    geom = streets.graph.edges[u, v, key].get("geometry")
    ends = streets.lonlat[[i, j]]
    if geom is None or geom.is_empty:
        return ends
    coords = np.asarray(geom.coords, dtype=float)[:, :2]
    if streets.to_lonlat is not None:
        coords = _apply(streets.to_lonlat, coords)
    if back:
        coords = coords[::-1]
    # A geometry stored the other way round (hand-built graphs) would make the leg zigzag.
    if np.abs(coords[0] - ends[0]).sum() > np.abs(coords[-1] - ends[0]).sum():
        coords = coords[::-1]
    coords[0], coords[-1] = ends[0], ends[1]
    return coords


def _apply(transformer: Transformer, xy: np.ndarray) -> np.ndarray:
    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
