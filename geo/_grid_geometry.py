"""Rings, edges and grid cells for :mod:`geo._grid`: the geometry read once per polygon set.

Coordinates are taken exactly as stored; the only arithmetic that decides anything is
:func:`left_of` (Shewchuk's error-bounded orientation) and the cell tests of :func:`crosses`,
which keep a margin far above their rounding.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import shapely

__all__ = [
    "NONE",
    "CellLines",
    "Edges",
    "Grid",
    "Rings",
    "crosses",
    "edges_of",
    "in_cells",
    "left_of",
    "lowest_per_row",
    "off_line",
    "rings_of",
    "take_rows",
]

#: "No polygon" while taking minima of positions.
NONE = np.iinfo(np.int64).max
_EPS = 2.0**-53
_CCW_ERR = (3 + 16 * _EPS) * _EPS  # Shewchuk's ccwerrboundA


class Grid(NamedTuple):
    """Square cells of ``size`` from (x0, y0); a point is located in its cell widened by
    ``widen`` cells on every side (far more than the rounding of locating it)."""

    x0: float
    y0: float
    size: float
    nx: int
    ny: int
    widen: float

    def cell(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat cell index of each point; ``nx * ny`` off the grid (and for NaN)."""
        i = np.floor((x - self.x0) / self.size)
        j = np.floor((y - self.y0) / self.size)
        off = ~((i >= 0) & (i < self.nx) & (j >= 0) & (j < self.ny))
        i[off], j[off] = self.nx, 0
        return i.astype(np.int64) * self.ny + j.astype(np.int64)


class Rings(NamedTuple):
    """Every ring vertex (closing vertex dropped), read with the interior to the left."""

    xy: np.ndarray  # (n, 2)
    nxt: np.ndarray  # index of the next vertex along the ring
    prv: np.ndarray  # index of the previous one
    owner: np.ndarray  # position of the ring's polygon
    vertex: np.ndarray  # id of each distinct coordinate pair


def rings_of(polygons: np.ndarray, *, cleaned: bool = False) -> Rings:
    """The rings of valid (Multi)Polygons."""
    parts, part_of = shapely.get_parts(polygons, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    shell = np.r_[True, ring_of[1:] != ring_of[:-1]]
    # the interior is left of a counter-clockwise shell and of a clockwise hole
    reverse = shell != shapely.is_ccw(rings)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    keep = np.r_[ring[1:] == ring[:-1], False]  # drop each ring's closing vertex
    xy, ring = np.compress(keep, xy, axis=0) + 0.0, ring[keep]  # -0.0 becomes 0.0
    idx = np.arange(len(ring))
    first = np.searchsorted(ring, ring)
    last = np.searchsorted(ring, ring, side="right") - 1
    after = np.where(idx == last, first, idx + 1)
    before = np.where(idx == first, last, idx - 1)
    if not cleaned and (xy == take_rows(xy, after)).all(axis=1).any():
        # a vertex repeated: rare, and not worth handling here
        return rings_of(shapely.remove_repeated_points(polygons), cleaned=True)
    flip = reverse[ring]
    return Rings(
        xy=xy,
        nxt=np.where(flip, before, after),
        prv=np.where(flip, after, before),
        owner=part_of[ring_of[ring]],
        vertex=pd.factorize(np.ascontiguousarray(xy).view(np.complex128).ravel())[0],
    )


class Edges(NamedTuple):
    """Each distinct edge once (a shared edge is one edge), a→b in lexicographic order."""

    a: np.ndarray  # (k, 2)
    b: np.ndarray
    va: np.ndarray  # vertex ids of a and b
    vb: np.ndarray
    left: np.ndarray  # lowest position of the polygons whose interior is left of a→b (NONE)
    right: np.ndarray
    owners: np.ndarray  # how many rings run along the edge
    lowest: np.ndarray  # the lowest and highest position among them (the only two when two)
    highest: np.ndarray
    of_ring: np.ndarray  # the edge from each ring vertex to the next


def edges_of(rings: Rings) -> Edges:
    """The distinct edges of ``rings``, with the polygons on either side of each."""
    p, q = rings.xy, take_rows(rings.xy, rings.nxt)
    forward = (p[:, 0] < q[:, 0]) | ((p[:, 0] == q[:, 0]) & (p[:, 1] < q[:, 1]))
    a, b = np.where(forward[:, None], p, q), np.where(forward[:, None], q, p)
    va = np.where(forward, rings.vertex, rings.vertex[rings.nxt])
    vb = np.where(forward, rings.vertex[rings.nxt], rings.vertex)
    edge, distinct = pd.factorize(va * (int(rings.vertex.max(initial=0)) + 1) + vb)
    one = np.empty(len(distinct), dtype=np.int64)
    one[edge] = np.arange(len(edge))  # any one ring edge along each distinct edge
    left = np.full(len(distinct), NONE)
    np.minimum.at(left, edge[forward], rings.owner[forward])
    right = np.full(len(distinct), NONE)
    np.minimum.at(right, edge[~forward], rings.owner[~forward])
    highest = np.full(len(distinct), -1)
    np.maximum.at(highest, edge, rings.owner)
    return Edges(
        take_rows(a, one), take_rows(b, one), va[one], vb[one], left, right,
        np.bincount(edge, minlength=len(distinct)), np.minimum(left, right), highest, edge,
    )  # fmt: skip


class CellLines(NamedTuple):
    """Each edge in cell units: its start (au, av), its run (du, dv) and its length."""

    au: np.ndarray
    av: np.ndarray
    du: np.ndarray
    dv: np.ndarray
    length: np.ndarray


def in_cells(edges: Edges, grid: Grid) -> CellLines:
    """The edges in cell units of ``grid``."""
    au, av = (edges.a[:, 0] - grid.x0) / grid.size, (edges.a[:, 1] - grid.y0) / grid.size
    du = (edges.b[:, 0] - grid.x0) / grid.size - au
    dv = (edges.b[:, 1] - grid.y0) / grid.size - av
    return CellLines(au, av, du, dv, np.hypot(du, dv))


def off_line(line: CellLines, edge: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Distance (in cells) from the centre of cell (i, j) to the line of each edge."""
    du, dv = line.du[edge], line.dv[edge]
    across = du * (j + 0.5 - line.av[edge]) - dv * (i + 0.5 - line.au[edge])
    return np.abs(across) / line.length[edge]


def crosses(line: CellLines, edge: np.ndarray, cells: np.ndarray, grid: Grid) -> np.ndarray:
    """Whether each edge surely meets its cell (widened once) across its line, with margin.

    A segment meets a box when their bounding boxes overlap and the box has corners on both
    sides of the segment's line (separating axes). Every test keeps half the widening in hand.
    """
    i, j = np.divmod(cells, grid.ny)
    w = grid.widen
    u0, v0 = line.au[edge], line.av[edge]
    u1, v1 = u0 + line.du[edge], v0 + line.dv[edge]
    reach = (np.abs(line.du[edge]) + np.abs(line.dv[edge])) * (0.5 + w) / line.length[edge]
    surely = off_line(line, edge, i, j) < reach - w / 2
    surely &= (np.maximum(u0, u1) > i - w / 2) & (np.minimum(u0, u1) < i + 1 + w / 2)
    surely &= (np.maximum(v0, v1) > j - w / 2) & (np.minimum(v0, v1) < j + 1 + w / 2)
    return surely


def left_of(
    ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, px: np.ndarray, py: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whether p lies left of a→b, and whether floating point is sure of it (Shewchuk)."""
    detleft = (ax - px) * (by - py)
    detright = (ay - py) * (bx - px)
    det = detleft - detright
    bound = np.abs(detleft) + np.abs(detright)
    # far above the underflow range, where the error bound holds
    sure = (np.abs(det) > _CCW_ERR * bound) & (bound > 1e-280)
    return det > 0, sure


def take_rows(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[index]`` along the first axis; np.take is many times faster on 2-d arrays."""
    return np.take(values, index, axis=0)


def lowest_per_row(row: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From (row, position) pairs (rows ≥ 0), each row once with its lowest position."""
    if len(row) and np.bincount(row).max() > 1:
        order = np.lexsort((pos, row))
        row, pos = row[order], pos[order]
        first = np.r_[True, row[1:] != row[:-1]]
        row, pos = row[first], pos[first]
    return row, pos
