"""Choosing the cell size of a hotspot map from the records themselves.

In the spirit of ArcGIS's Optimized Hot Spot Analysis, which aggregates incidents into cells and
picks the scale by incremental spatial autocorrelation (the first peak of the global Moran's I
z-score over increasing distances), the rule here walks up a ladder of "round" cell sizes:

1. Candidates are the ladder sizes (…, 20, 25, 30, 40, 50, 60, 75, 100, 125, … m) that give at
   least ``MIN_CELLS`` = 30 cells over the area (ArcGIS's minimum for Gi*) and at most
   ``MAX_CELLS`` = 10,000 (Gi* stays within seconds), no smaller than ``MIN_CELL_M`` = 50 m:
   phones in a street are off by 10–20 m, so smaller cells split one place by chance, and a
   Gi* neighbourhood (a cell and its ring, ~150 m across) is then about what a patrol covers
   at one stop. (At 20 m, the demo ward's 10,000 records gave 7,000 hexagons of mostly zeros
   and ones and no significant cell.)
2. The walk starts at the smallest candidate holding on average at least one record per cell:
   finer cells hold mostly zeros and ones, where clustering cannot be told from noise.
3. It climbs to the next size while the global Moran's I z-score of the cell values (records
   per cell, on the 8-neighbour lattice, under randomisation) rises and is significant
   (z ≥ 1.96), and stops at the first peak: the scale at which records cluster most plainly.

Cells cut by the area's edge count as whole cells of records per full cell, with the cut area
floored at half a cell, so that the edge does not look like a cold ring (nor a sliver holding
one record like a hot spot). With too few records for step 2 the largest candidate is used.
The rule is deterministic: same records and area, same size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.cells import _square_lattice

#: Fewest cells a map may have (ArcGIS's minimum number of features for Gi*).
MIN_CELLS = 30
#: Most cells the automatic size may give.
MAX_CELLS = 10_000
#: Smallest automatic cell side, in metres.
MIN_CELL_M = 50.0
#: Moran's I z-score above which clustering counts as significant.
Z_SIGNIFICANT = 1.96
#: Round cell sizes, metres.
LADDER = tuple(
    float(m * 10**k) for k in range(0, 5) for m in (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 7.5)
)


@dataclass(frozen=True)
class ScaleChoice:
    """The chosen cell size and how it was reached."""

    cell_m: float
    rule: str
    tried: tuple[tuple[float, float], ...]  # (cell_m, Moran's I z) in the order tried


def choose_scale(xy: np.ndarray, shape: BaseGeometry) -> ScaleChoice:
    """Apply the rule of this module to points ``xy`` and area ``shape`` (both in metres)."""
    shapely.prepare(shape)
    inside = xy[shapely.contains_xy(shape, xy[:, 0], xy[:, 1])] if len(xy) else xy
    n, area = len(inside), float(shape.area)
    sizes = [s for s in LADDER if s >= MIN_CELL_M]
    fits = [s for s in sizes if area / s**2 >= MIN_CELLS]
    largest = max(fits) if fits else sizes[0]
    candidates = [s for s in fits if area / s**2 <= MAX_CELLS] or [largest]
    filled = [s for s in candidates if n * s**2 / area >= 1]
    if not filled:
        return ScaleChoice(
            largest,
            f"{n} records are too few for one per cell even at {largest:g} m; "
            f"used the largest size that still gives {MIN_CELLS} cells",
            (),
        )
    ladder = [s for s in candidates if s >= filled[0]]
    tried = [(ladder[0], lattice_moran_z(inside, shape, ladder[0]))]
    best = 0
    for size in ladder[1:]:
        tried.append((size, lattice_moran_z(inside, shape, size)))
        if not (tried[-1][1] > tried[best][1] and tried[-1][1] >= Z_SIGNIFICANT):
            break
        best = len(tried) - 1
    chosen, z_best = tried[best]
    if best == 0:
        why = (
            f"smallest size with at least one record per cell on average ({chosen:g} m, "
            f"Moran's I z = {z_best:.1f}); a larger cell did not cluster more plainly"
        )
    else:
        why = f"first peak of Moran's I z over cell sizes: z = {z_best:.1f} at {chosen:g} m"
    return ScaleChoice(chosen, why, tuple((s, round(z, 2)) for s, z in tried))


def lattice_moran_z(xy: np.ndarray, shape: BaseGeometry, cell_m: float) -> float:
    """Global Moran's I z-score (randomisation) of records per cell on the square lattice.

    Binary weights between the 8 lattice neighbours; cut edge cells as described in the module
    docstring. Returns 0 when the values do not vary.
    """
    ix, iy, _, share = _square_lattice(shape, cell_m)
    i0, j0 = int(ix.min()), int(iy.min())
    width, height = int(ix.max()) - i0 + 1, int(iy.max()) - j0 + 1
    present = np.zeros((width, height), dtype=bool)
    present[ix - i0, iy - j0] = True
    counts = np.zeros((width, height))
    ci = np.floor(xy[:, 0] / cell_m).astype(np.int64) - i0
    cj = np.floor(xy[:, 1] / cell_m).astype(np.int64) - j0
    ok = (ci >= 0) & (ci < width) & (cj >= 0) & (cj < height)
    np.add.at(counts, (ci[ok], cj[ok]), 1.0)
    scale = np.ones((width, height))
    scale[ix - i0, iy - j0] = np.maximum(share, 0.5)
    values = np.where(present, counts / scale, 0.0)

    n = int(present.sum())
    dev = np.where(present, values - values[present].mean(), 0.0)
    m2 = float((dev[present] ** 2).sum())
    if n < 4 or m2 <= 0:
        return 0.0
    cross, s0 = 0.0, 0.0
    degree = np.zeros((width, height))
    for dx, dy in ((1, 0), (0, 1), (1, 1), (1, -1)):
        a = (slice(0, width - dx), slice(max(0, -dy), height - max(0, dy)))
        b = (slice(dx, width), slice(max(0, dy), height - max(0, -dy)))
        pair = present[a] & present[b]
        cross += 2 * float((dev[a] * dev[b])[pair].sum())
        s0 += 2 * float(pair.sum())
        degree[a] += pair
        degree[b] += pair
    if s0 == 0:
        return 0.0
    moran = n / s0 * cross / m2
    expected = -1 / (n - 1)
    # variance under randomisation (Cliff & Ord), binary symmetric weights: S1 = 2·S0
    s1, s2 = 2 * s0, float((4 * degree[present] ** 2).sum())
    kurtosis = n * float((dev[present] ** 4).sum()) / m2**2
    a_term = n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0**2)
    b_term = kurtosis * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0**2)
    variance = a_term - b_term
    variance = variance / ((n - 1) * (n - 2) * (n - 3) * s0**2) - expected**2
    if not variance > 0:
        return 0.0
    return float((moran - expected) / math.sqrt(variance))
