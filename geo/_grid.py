"""Exact point-in-polygon for many points, on a grid over the polygons (private to geo.assign).

For each point, the lowest position among the polygons whose interior holds it, or -1: what
``STRtree(polygons).query(points, predicate="within")`` gives once reduced to the lowest
position (so what ``geopandas.sjoin`` gives), without asking GEOS about most points.

1. Each edge marks the cells it may meet, every cell widened by far more than the rounding of
   locating a point in it (sound: an edge that meets a widened cell always marks it).
2. A cell no edge marks is *free*. No point of a connected run of free cells is on a boundary,
   so one GEOS test at one cell's centre answers for the whole run (``scipy.ndimage.label``);
   in a coverage a run is most of one polygon.
3. A cell one edge surely crosses, and no other edge marks, is split by it. Rings are read with
   the interior on the left, so a point left of the edge lies in the polygons along the edge
   that have their interior on the left. Every other polygon holds all of the cell or none of
   it, as it holds a free cell next to it (the two are connected; its boundary meets neither).
4. A cell marked only by edges at one vertex: see :mod:`geo._grid_stars`.
5. Which side of an edge a point lies on comes from Shewchuk's error-bounded orientation test;
   where floating point cannot be sure (a point on an edge, or within ~1e-16 of its line), and
   in every other cell, the point gets an exact GEOS test (STRtree candidates, ``contains_xy``).

Only cells that hold points are classified. Polygons must be valid (3 and 4 read the rings'
orientation); the caller checks.
"""

from __future__ import annotations

import logging

import numpy as np
import shapely
from scipy import ndimage

from geo._grid_geometry import (
    NONE,
    Edges,
    Grid,
    Rings,
    crosses,
    edges_of,
    in_cells,
    left_of,
    lowest_per_row,
    rings_of,
    take_rows,
)
from geo._grid_stars import MAX_CORNERS, Stars, find_stars, in_stars

__all__ = ["lowest_per_row", "within_positions"]

log = logging.getLogger(__name__)

#: Neighbour offsets (8-connected) searched for a free cell that tells a boundary cell's base.
_AROUND = ((-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def within_positions(
    x: np.ndarray,
    y: np.ndarray,
    polygons: np.ndarray,
    tree: shapely.STRtree,
    *,
    cells: int,
    stats: dict[str, float] | None = None,
) -> np.ndarray:
    """Lowest position in ``polygons`` (valid, prepared, in ``tree``) whose interior holds (x, y).

    NaN coordinates lie within nothing. ``cells`` is the grid's size; ``stats``, when given,
    receives the share of points answered by each step.
    """
    rings = rings_of(polygons)
    edges = edges_of(rings)
    grid = _grid(polygons, cells)
    cell = grid.cell(x, y)
    occupied = np.zeros(grid.nx * grid.ny + 1, dtype=bool)
    occupied[cell] = True
    code, lines, stars = _classify(
        *_marks(edges, grid), occupied[:-1], edges, rings, grid, polygons, tree
    )
    # one gather per point: off the grid reads the sentinel -1 (outside every polygon)
    kind = np.append(code, np.int32(-1))[cell]
    out = np.maximum(kind, -1).astype(np.int64)
    line_rows = np.flatnonzero(kind <= -3)
    line = -3 - kind[line_rows]
    is_star = line >= len(lines)
    star_rows, star = line_rows[is_star], line[is_star] - len(lines)
    line_rows, line = line_rows[~is_star], line[~is_star]
    sure_line = _on_lines(out, line_rows, line, lines, x, y)
    sure_star = in_stars(out, star_rows, star, stars, x, y)
    exact = np.concatenate(
        [np.flatnonzero(kind == -2), line_rows[~sure_line], star_rows[~sure_star]]
    )
    rows, pos = lowest_per_row(*_pairs(x[exact], y[exact], polygons, tree))
    out[exact] = -1
    out[exact[rows]] = pos
    if stats is not None:
        n = max(len(x), 1)
        stats.update(
            cells=grid.nx * grid.ny,
            cell_size=grid.size,
            free=float((kind >= -1).sum() / n),
            lines=float(sure_line.sum() / n),
            stars=float(sure_star.sum() / n),
            exact=len(exact) / n,
        )
    return out


def _grid(polygons: np.ndarray, cells: int) -> Grid:
    left, bottom, right, top = shapely.total_bounds(polygons)
    size = float(np.sqrt((right - left) * (top - bottom) / max(cells, 1)))
    magnitude = max(abs(left), abs(right), abs(bottom), abs(top))
    # at most 65,536 cells a side, and cells far larger than the rounding of coordinates
    size = max(size, (right - left) / 65_536, (top - bottom) / 65_536, magnitude * 2.0**-30)
    # two spare cells on every side: no edge marks the outer ring, so every boundary cell
    # has its eight neighbours on the grid
    x0, y0 = left - 2 * size, bottom - 2 * size
    nx, ny = int((right - x0) / size) + 3, int((top - y0) / size) + 3
    # locating a point rounds by a few units in the last place of its coordinates: the
    # widening is far more, and still below 2e-5 of a cell
    widen = 1e-6 + 64 * 2.0**-52 * magnitude / size
    return Grid(x0, y0, size, nx, ny, widen)


def _marks(edges: Edges, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(cell, edge) for every cell an edge may meet, the cell widened by twice the widening.

    Sound: an edge that meets the widened cell is marked, as every test keeps half the widening
    in hand, far above its rounding. A cell an edge only grazes may be marked too.
    """
    line = in_cells(edges, grid)
    pad = 2 * grid.widen
    # cut into pieces a little shorter than a cell (by far more than twice the padding):
    # the bounding box of each meets at most 2 × 2 cells
    pieces = np.ceil(np.maximum(np.abs(line.du), np.abs(line.dv)) * 1.01)
    pieces = np.maximum(1, pieces).astype(np.int64)
    edge = np.repeat(np.arange(len(pieces), dtype=np.int32), pieces + 1)
    k = np.arange(len(edge)) - np.repeat(np.cumsum(pieces + 1) - (pieces + 1), pieces + 1)
    t = k / pieces[edge]
    qu, qv = line.au[edge] + line.du[edge] * t, line.av[edge] + line.dv[edge] * t
    start = np.flatnonzero(k < pieces[edge])
    edge = edge[start]
    lo_i = np.floor(np.minimum(qu[start], qu[start + 1]) - pad).astype(np.int64)
    lo_j = np.floor(np.minimum(qv[start], qv[start + 1]) - pad).astype(np.int64)
    wide = np.floor(np.maximum(qu[start], qu[start + 1]) + pad) > lo_i
    tall = np.floor(np.maximum(qv[start], qv[start + 1]) + pad) > lo_j
    # of the 2 × 2 cells a piece's box meets, those the edge's line passes near: from one
    # cell's centre to the next, the (signed) distance to the line changes by -dv or du
    du, dv = line.du[edge] / line.length[edge], line.dv[edge] / line.length[edge]
    off = du * (lo_j + 0.5 - line.av[edge]) - dv * (lo_i + 0.5 - line.au[edge])
    reach = (np.abs(du) + np.abs(dv)) * (0.5 + pad) + grid.widen / 2
    here = lo_i * grid.ny + lo_j
    cells, which = [], []
    for step, di, dj, box in ((0, 0, 0, None), (grid.ny, 1, 0, wide), (1, 0, 1, tall),
                              (grid.ny + 1, 1, 1, wide & tall)):  # fmt: skip
        near = np.abs(off + du * dj - dv * di) <= reach
        if box is not None:
            near &= box
        cells.append(here[near] + step)
        which.append(edge[near])
    # int32 edges like the per-cell arrays: ufunc.at is many times slower when it must cast
    return np.concatenate(cells), np.concatenate(which)


def _classify(
    cell_of_mark: np.ndarray,
    edge_of_mark: np.ndarray,
    occupied: np.ndarray,
    edges: Edges,
    rings: Rings,
    grid: Grid,
    polygons: np.ndarray,
    tree: shapely.STRtree,
) -> tuple[np.ndarray, np.ndarray, Stars]:
    """Per cell: the answer (≥ -1) of a free cell, -2 (GEOS), -3 - k: line k, then the stars."""
    n_cells = grid.nx * grid.ny
    emin = np.full(n_cells, np.iinfo(np.int32).max, dtype=np.int32)
    np.minimum.at(emin, cell_of_mark, edge_of_mark)
    emax = np.full(n_cells, -1, dtype=np.int32)
    np.maximum.at(emax, cell_of_mark, edge_of_mark)
    boundary = emax >= 0
    labels, n_runs = ndimage.label(~boundary.reshape(grid.nx, grid.ny))
    labels = labels.ravel()
    within = _run_sets(labels, n_runs, grid, polygons, tree)
    # int32 halves the memory traffic of the largest arrays (positions and cells fit easily)
    code = _answer(within[:, 0]).astype(np.int32)[labels]
    code[boundary] = -2

    single = np.flatnonzero(boundary & (emin == emax) & occupied)
    edge = emin[single]
    few = (edges.owners[edge] <= 2) & crosses(in_cells(edges, grid), edge, single, grid)
    single, edge = single[few], edge[few]
    base, found = _base(single, [edges.lowest[edge], edges.highest[edge]], labels, within, grid)
    single, edge, base = single[found], edge[found], base[found]
    # one row per line cell (ax, ay, bx, by, answer left of a→b, answer right): points read
    # one row each, in a random order, so one contiguous row beats six separate arrays
    lines = np.empty((len(edge), 6))
    lines[:, :2] = take_rows(edges.a, edge)
    lines[:, 2:4] = take_rows(edges.b, edge)
    lines[:, 4] = _answer(np.minimum(base, edges.left[edge]))
    lines[:, 5] = _answer(np.minimum(base, edges.right[edge]))
    code[single] = -3 - np.arange(len(single), dtype=np.int32)

    multi = np.flatnonzero(boundary & (emin != emax) & occupied)
    stars = find_stars(multi, cell_of_mark, edge_of_mark, edges, rings, grid)
    base, found = _base(stars.cell, list(stars.owner.T), labels, within, grid)
    stars = stars._replace(base=base).take(np.flatnonzero(found))
    code[stars.cell] = -3 - len(lines) - np.arange(len(stars.cell), dtype=np.int32)
    return code, lines, stars


def _answer(position: np.ndarray) -> np.ndarray:
    return np.where(position == NONE, -1, position)


def _run_sets(
    labels: np.ndarray, n_runs: int, grid: Grid, polygons: np.ndarray, tree: shapely.STRtree
) -> np.ndarray:
    """(runs + 1, m): the lowest positions holding each run of free cells (row 0: no run)."""
    cell = np.empty(n_runs + 1, dtype=np.int64)
    cell[labels] = np.arange(len(labels))  # some cell of each run (which one does not matter)
    i, j = np.divmod(cell[1:], grid.ny)
    rows, pos = _pairs(grid.x0 + (i + 0.5) * grid.size, grid.y0 + (j + 0.5) * grid.size,
                       polygons, tree)  # fmt: skip
    order = np.lexsort((pos, rows))
    rows, pos = rows[order], pos[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
    keep = rank <= MAX_CORNERS
    # as many columns as the largest set (one in a coverage), at most MAX_CORNERS + 1: enough to
    # find the lowest position once the (at most MAX_CORNERS) owners of a cell are set aside
    within = np.full((n_runs + 1, int(rank[keep].max(initial=0)) + 1), NONE)
    within[rows[keep] + 1, rank[keep]] = pos[keep]
    return within


def _base(
    cells: np.ndarray, owners: list[np.ndarray], labels: np.ndarray, within: np.ndarray, grid: Grid
) -> tuple[np.ndarray, np.ndarray]:
    """Lowest position holding ``cells`` other than their ``owners``, and where it is known.

    A polygon with no edge in a boundary cell holds all of it or none of it, as it holds a free
    cell next to it: the two together are connected and its boundary meets neither.
    """
    run = np.zeros(len(cells), dtype=labels.dtype)
    missing = np.arange(len(cells))
    for di, dj in _AROUND:
        run[missing] = labels[cells[missing] + di * grid.ny + dj]
        missing = missing[run[missing] == 0]
        if not len(missing):
            break
    sets = take_rows(within, run)
    for owner in owners:
        sets = np.where(sets == owner[:, None], NONE, sets)
    return sets.min(axis=1), run > 0


def _on_lines(
    out: np.ndarray,
    rows: np.ndarray,
    line: np.ndarray,
    lines: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> np.ndarray:
    """Set ``out[rows]`` for points in line cells; return where floating point was sure."""
    ax, ay, bx, by, left, right = take_rows(lines, line).T
    is_left, sure = left_of(ax, ay, bx, by, x[rows], y[rows])
    out[rows] = np.where(is_left, left, right)
    return sure


def _pairs(
    x: np.ndarray, y: np.ndarray, polygons: np.ndarray, tree: shapely.STRtree
) -> tuple[np.ndarray, np.ndarray]:
    """Every (point, polygon position) with the point in the polygon's interior (GEOS, exact)."""
    rows, pos = tree.query(shapely.points(x, y))
    hit = shapely.contains_xy(polygons[pos], x[rows], y[rows])
    return rows[hit], pos[hit]
