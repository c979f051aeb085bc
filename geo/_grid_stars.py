"""Cells around a vertex for :mod:`geo._grid`: the polygons there are the wedges of their corners.

A cell met by no edge but edges at one vertex V: each polygon with an edge in the cell has one
corner (u, V, w) at V, read with its interior to the left. Near V its interior is the corner's
wedge: left of u→V and of V→w for a convex corner, of either for a reflex one. The wedge is
bounded by two rays from V, and in the cell these are the polygon's own edges because either
V is in the cell (a far end in the cell would bring in the far end's other edge, which is not
at V) or both edges at V reach beyond the cell's farthest corner. So, in the cell, the polygon
and its wedge have the same boundary and agree next to it: they are equal. With V outside the
cell, polygons at V whose edges miss the cell take no part: like every polygon with no edge in
the cell, they hold all of it or none (the caller takes that from a free neighbouring cell).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from geo._grid_geometry import NONE, Edges, Grid, Rings, crosses, in_cells, left_of, take_rows

__all__ = ["MAX_CORNERS", "Stars", "find_stars", "in_stars"]

#: Cells at vertices with more corners (or more edges in the cell) go to GEOS: rare, as most
#: vertices have 2-4.
MAX_CORNERS = 6
_MAX_EDGES = 8


class Stars(NamedTuple):
    """The vertex cells, sorted by cell, each with up to :data:`MAX_CORNERS` corners."""

    cell: np.ndarray  # (k,) flat cell indices
    v: np.ndarray  # (k, 2) the vertex
    u: np.ndarray  # (k, c, 2) each corner's previous vertex
    w: np.ndarray  # (k, c, 2) its next one
    owner: np.ndarray  # (k, c) the corner's polygon position (NONE where not active)
    convex: np.ndarray  # (k, c)
    active: np.ndarray  # (k, c) the corners that count in this cell
    base: np.ndarray  # (k,) lowest position of the other polygons holding the cell (NONE)

    def take(self, index: np.ndarray) -> Stars:
        """These stars at ``index`` (positions)."""
        return Stars(*(take_rows(field, index) for field in self))


def find_stars(
    multi: np.ndarray,
    cell_of_mark: np.ndarray,
    edge_of_mark: np.ndarray,
    edges: Edges,
    rings: Rings,
    grid: Grid,
) -> Stars:
    """Which of the ``multi`` cells (met by several edges) are vertex cells, with their corners.

    ``base`` is left NONE: the caller fills it in.
    """
    n_vertices = int(rings.vertex.max(initial=-1)) + 1
    vertex_xy = np.empty((n_vertices, 2))
    vertex_xy[rings.vertex] = rings.xy
    cell_edges, edge_count = _cell_edges(multi, cell_of_mark, edge_of_mark, len(edges.a), grid)
    known = cell_edges >= 0
    vertex = np.full(len(multi), -1)
    for end in (edges.va, edges.vb):  # the vertex is an end of the cell's first edge
        candidate = end[cell_edges[:, 0]][:, None]
        at = (edges.va[cell_edges] == candidate) | (edges.vb[cell_edges] == candidate)
        vertex = np.where((vertex < 0) & (at | ~known).all(axis=1), candidate[:, 0], vertex)
    ok = (vertex >= 0) & (edge_count <= _MAX_EDGES)

    # the corners at each vertex: at most MAX_CORNERS, one per polygon, convexity certain
    count = np.bincount(rings.vertex, minlength=n_vertices)
    span = int(rings.owner.max(initial=0)) + 1
    distinct = np.bincount(
        pd.unique(rings.vertex * span + rings.owner) // span, minlength=n_vertices
    )
    u, w = take_rows(rings.xy, rings.prv), take_rows(rings.xy, rings.nxt)
    convex, sure = left_of(u[:, 0], u[:, 1], rings.xy[:, 0], rings.xy[:, 1], w[:, 0], w[:, 1])
    unsure = np.bincount(rings.vertex, ~sure, minlength=n_vertices) > 0
    good = (count <= MAX_CORNERS) & (distinct == count) & ~unsure
    keep = np.flatnonzero(ok & good[np.maximum(vertex, 0)])
    cells, vertex, cell_edges = multi[keep], vertex[keep], take_rows(cell_edges, keep)

    order = np.argsort(rings.vertex, kind="stable")
    start = (np.cumsum(count) - count)[vertex]
    slot = np.arange(MAX_CORNERS)
    valid = slot < count[vertex][:, None]
    corner = order[np.minimum(start[:, None] + slot, len(order) - 1)] if len(order) else slot
    v = take_rows(vertex_xy, vertex)
    inside = grid.cell(v[:, 0], v[:, 1]) == cells
    # with the vertex outside the cell: only the polygons with an edge in it, provided their
    # edges at the vertex reach beyond the cell and surely cross it (not just graze it)
    out_edge, in_edge = edges.of_ring[corner], edges.of_ring[rings.prv[corner]]
    here = (out_edge[:, :, None] == cell_edges[:, None, :]).any(axis=2)
    here |= (in_edge[:, :, None] == cell_edges[:, None, :]).any(axis=2)
    active = valid & (inside[:, None] | here)
    reach = np.minimum(np.hypot(*(rings.xy - u).T), np.hypot(*(w - rings.xy).T))[corner]
    far_enough = (reach > 1.001 * _farthest(cells, v, grid)[:, None]) | ~active
    line = in_cells(edges, grid)
    crossing = crosses(line, np.maximum(cell_edges, 0), cells[:, None], grid) | (cell_edges < 0)
    keep = np.flatnonzero(inside | (far_enough.all(axis=1) & crossing.all(axis=1)))
    corner, active = take_rows(corner, keep), take_rows(active, keep)
    return Stars(
        cell=cells[keep],
        v=take_rows(v, keep),
        u=take_rows(u, corner),
        w=take_rows(w, corner),
        owner=np.where(active, rings.owner[corner], NONE),
        convex=convex[corner],
        active=active,
        base=np.full(len(keep), NONE),
    )


def in_stars(
    out: np.ndarray, rows: np.ndarray, star: np.ndarray, stars: Stars, x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Set ``out[rows]`` for points in vertex cells; return where floating point was sure."""
    px, py = x[rows], y[rows]
    chosen = stars.take(star)
    vx, vy = chosen.v.T
    best = chosen.base
    sure = np.ones(len(rows), dtype=bool)
    for k in range(MAX_CORNERS):
        active = chosen.active[:, k]
        if not active.any():  # with the vertex outside the cell, only some corners count
            continue
        u, w = chosen.u[:, k], chosen.w[:, k]
        left_in, sure_in = left_of(u[:, 0], u[:, 1], vx, vy, px, py)
        left_out, sure_out = left_of(vx, vy, w[:, 0], w[:, 1], px, py)
        inside = np.where(chosen.convex[:, k], left_in & left_out, left_in | left_out)
        sure &= ~active | (sure_in & sure_out)
        best = np.where(active & inside, np.minimum(best, chosen.owner[:, k]), best)
    out[rows] = np.where(best == NONE, -1, best)
    return sure


def _cell_edges(
    cells: np.ndarray, cell_of_mark: np.ndarray, edge_of_mark: np.ndarray, n_edges: int, grid: Grid
) -> tuple[np.ndarray, np.ndarray]:
    """The distinct edges of each of ``cells`` (up to _MAX_EDGES, -1 padded) and their number."""
    index = np.full(grid.nx * grid.ny, -1, dtype=np.int64)
    index[cells] = np.arange(len(cells))
    local = index[cell_of_mark]
    hit = local >= 0
    pairs = np.sort(pd.unique(local[hit] * n_edges + edge_of_mark[hit]))
    local, edge = np.divmod(pairs, n_edges)
    rank = np.arange(len(local)) - np.searchsorted(local, local)
    table = np.full((len(cells), _MAX_EDGES), -1, dtype=np.int64)
    fits = rank < _MAX_EDGES
    table[local[fits], rank[fits]] = edge[fits]
    return table, np.bincount(local, minlength=len(cells))


def _farthest(cells: np.ndarray, v: np.ndarray, grid: Grid) -> np.ndarray:
    """Distance from each v to the farthest corner of its (widened) cell."""
    i, j = np.divmod(cells, grid.ny)
    lo_x = grid.x0 + (i - grid.widen) * grid.size
    hi_x = grid.x0 + (i + 1 + grid.widen) * grid.size
    lo_y = grid.y0 + (j - grid.widen) * grid.size
    hi_y = grid.y0 + (j + 1 + grid.widen) * grid.size
    dx = np.maximum(np.abs(lo_x - v[:, 0]), np.abs(hi_x - v[:, 0]))
    dy = np.maximum(np.abs(lo_y - v[:, 1]), np.abs(hi_y - v[:, 1]))
    return np.hypot(dx, dy)
