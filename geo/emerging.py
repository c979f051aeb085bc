"""Emerging hot spots: how each cell's hot- or cold-spot status has evolved week by week.

In the spirit of ArcGIS Pro's *Emerging Hot Spot Analysis*: points are counted per cell and
per week, Gi* is computed for every week (:func:`geo.spatialstats.gi_star`, queen contiguity
built once, FDR within each week), and the Mann–Kendall test is run on each cell's series of
Gi* z-scores (the intensity of clustering). Each cell then gets one pattern; for hot spots
(cold spots mirror them, with "intensifying" meaning ever lower z):

- ``new_hot``: hot in the final week and never hot before;
- ``consecutive_hot``: a single uninterrupted run of at least two hot weeks ending with the
  final week, never hot before the run, and hot in less than 90 % of the weeks;
- ``intensifying_hot``: hot in at least 90 % of the weeks, including the final week, with a
  significant upward trend of z;
- ``persistent_hot``: hot in at least 90 % of the weeks, including the final week, with no
  significant trend;
- ``diminishing_hot``: hot in at least 90 % of the weeks, including the final week, with a
  significant downward trend of z;
- ``sporadic_hot``: hot in the final week, on and off before, in less than 90 % of the weeks,
  and never a cold spot;
- ``oscillating_hot``: hot in the final week, cold in some earlier week, hot in less than
  90 % of the weeks;
- ``historical_hot``: not hot in the final week, but hot in at least 90 % of the weeks;
- ``no_pattern``: none of these.

Where ArcGIS's definitions overlap they are settled so: a cell hot in the final week is
classified by its hot history (a cold past only separates oscillating from sporadic, as the
definitions say; a cell hot for the first time after a cold spell is "new"); "persistent"
requires the final week to be hot, since a cell that is no longer hot is "historical".

Differences from ArcGIS, on purpose: the neighbourhood is spatial only (queen contiguity
within the week), not a space-time neighbourhood of earlier weeks, so a week's status depends
on that week alone; significance is by permutation and FDR within each week; only whole
weeks are analysed (a half week at the end would look like a drop). At least
``MIN_PERIODS`` weeks are required: with fewer, "90 % of the weeks" means every week and the
trend test has almost no power.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd

from geo._timeseries import (
    Freq,
    check_freq,
    check_period,
    in_period,
    local_stamp,
    local_times,
    mann_kendall_rows,
    period_end,
    period_range,
    period_start,
)
from geo.errors import InputError
from geo.spatialstats import ALPHA, contiguity_weights, gi_star

__all__ = ["MIN_PERIODS", "PATTERNS", "classify_pattern", "emerging_hotspots"]

log = logging.getLogger(__name__)

#: Gi* draws per week by default: p down to 2e-4, enough for FDR over a ward's cells, and
#: 40 weeks stay well under a second.
WEEKLY_DRAWS = 9_999
#: Fewest whole weeks (or months) the analysis accepts.
MIN_PERIODS = 10
#: Share of the weeks a cell must be hot (cold) in to count as persistently so.
_MOST = 0.9
_KINDS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
          "oscillating", "historical")  # fmt: skip
#: Every pattern :func:`classify_pattern` can return.
PATTERNS: tuple[str, ...] = (
    *(f"{k}_hot" for k in _KINDS),
    *(f"{k}_cold" for k in _KINDS),
    "no_pattern",
)


def emerging_hotspots(
    points: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    *,
    time_col: str = "observed_at",
    freq: Freq = "W",
    start: object = None,
    end: object = None,
    permutations: int | None = None,
    alpha: float = ALPHA,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Classify each cell by the history of its weekly hot/cold-spot status.

    Parameters
    ----------
    points
        Point records with ``time_col``, in any CRS. Points outside every cell, or without
        a time, are left out; a point on a shared edge counts for the first cell.
    cells
        Polygons (square or hexagonal cells) with a unique ``cell_id``, in any CRS.
    time_col
        The timestamp column of ``points``.
    freq
        ``"W"``: calendar weeks from Monday (local time); ``"M"``: calendar months, in which
        case the ``*week*`` columns below count months.
    start, end
        The period [start, end) (naive values are local time); ``None``: from the first
        point's day / to the end of the last point's day. Only whole weeks inside it are used.
    permutations
        Gi* random draws per week (default :data:`WEEKLY_DRAWS`; see
        :func:`geo.spatialstats.gi_star`).
    alpha
        Significance level for Gi* (after FDR, within each week) and for the trend test.
    seed
        Seed of week 0's permutations; week ``t`` uses ``seed + t``.

    Returns
    -------
    GeoDataFrame
        ``cells`` in EPSG:4326, in input order, with ``category`` (one of :data:`PATTERNS`),
        ``n_hot_weeks``, ``n_cold_weeks``, ``last_week_hot``, ``last_week_cold``,
        ``mk_tau``, ``mk_z``, ``mk_p`` (trend of the weekly Gi* z-scores) and ``n_points``
        (points counted in the analysed weeks). ``attrs["periods"]`` lists the week starts.
    """
    _check(points, cells)
    check_freq(freq)
    lo, hi = local_stamp(start, name="start"), local_stamp(end, name="end")
    check_period(lo, hi)
    times = local_times(points, time_col)
    keep = in_period(times, lo, hi)
    stamps = times[keep]
    if stamps.empty and (lo is None or hi is None):
        raise InputError("no points with a time in the period; nothing to analyse.")
    lo = lo if lo is not None else stamps.min().normalize()
    hi = hi if hi is not None else stamps.max().normalize() + pd.Timedelta(days=1)
    periods = period_range(lo, hi - pd.Timedelta(1, unit="ns"), freq)
    periods = periods[(periods >= lo) & (period_end(periods, freq) <= hi)]
    if len(periods) < MIN_PERIODS:
        raise InputError(
            f"only {len(periods)} whole {'week' if freq == 'W' else 'month'}(s) between {lo} "
            f"and {hi}; emerging hot spots need at least {MIN_PERIODS}: widen the period."
        )

    counts = _counts(points.loc[keep], cells, period_start(stamps, freq), periods)
    w = contiguity_weights(cells)
    n_cells, n_periods = counts.shape
    z = np.zeros((n_cells, n_periods))
    hot = np.zeros((n_cells, n_periods), dtype=bool)
    cold = np.zeros((n_cells, n_periods), dtype=bool)
    for t in range(n_periods):
        week = gi_star(
            counts[:, t], w, permutations=permutations or WEEKLY_DRAWS, alpha=alpha, seed=seed + t
        )
        z[:, t], hot[:, t], cold[:, t] = week["z"], week["hot"], week["cold"]
    # Round away float noise so that equal z-scores (e.g. 0 in empty weeks) tie in the test.
    tau, mk_z, mk_p = mann_kendall_rows(np.round(z, 10))
    category = [
        classify_pattern(hot[i], cold[i], tau=tau[i], p=mk_p[i], alpha=alpha)
        for i in range(n_cells)
    ]

    out = cells.to_crs(4326)
    out["category"] = pd.array(category, dtype="string")
    out["n_hot_weeks"] = hot.sum(axis=1).astype("int64")
    out["n_cold_weeks"] = cold.sum(axis=1).astype("int64")
    out["last_week_hot"] = hot[:, -1]
    out["last_week_cold"] = cold[:, -1]
    out["mk_tau"], out["mk_z"], out["mk_p"] = tau, mk_z, mk_p
    out["n_points"] = counts.sum(axis=1).astype("int64")
    out.attrs["periods"] = list(periods)
    log.info(
        "emerging hot spots: %d cells × %d periods, %s",
        n_cells,
        n_periods,
        out["category"].value_counts().to_dict(),
    )
    return out


def classify_pattern(
    hot: np.ndarray | list[bool],
    cold: np.ndarray | list[bool],
    *,
    tau: float,
    p: float,
    alpha: float = ALPHA,
) -> str:
    """The emerging-hot-spot pattern of one cell (see the module's description).

    Parameters
    ----------
    hot, cold
        Whether the cell was a significant hot (cold) spot in each period, oldest first.
    tau, p
        Mann–Kendall tau and p of the cell's Gi* z-scores over the same periods.
    alpha
        Significance level of the trend.

    Examples
    --------
    >>> never = [False] * 10
    >>> classify_pattern(never[:-1] + [True], never, tau=0.3, p=0.2)
    'new_hot'
    >>> classify_pattern([True] * 10, never, tau=0.6, p=0.01)
    'intensifying_hot'
    >>> classify_pattern([True] * 9 + [False], never, tau=-0.2, p=0.4)
    'historical_hot'
    """
    hot_arr, cold_arr = np.asarray(hot, dtype=bool), np.asarray(cold, dtype=bool)
    if hot_arr.shape != cold_arr.shape:
        raise InputError("hot and cold must cover the same periods.")
    if hot_arr.size == 0:
        return "no_pattern"
    trending = p < alpha
    if hot_arr[-1]:
        return _final(hot_arr, cold_arr, rising=tau > 0, trending=trending) + "_hot"
    if cold_arr[-1]:
        return _final(cold_arr, hot_arr, rising=tau < 0, trending=trending) + "_cold"
    if _mostly(hot_arr):
        return "historical_hot"
    if _mostly(cold_arr):
        return "historical_cold"
    return "no_pattern"


def _final(this: np.ndarray, other: np.ndarray, *, rising: bool, trending: bool) -> str:
    """The kind of a cell that is ``this`` (hot or cold) in the final period."""
    times = int(this.sum())
    if times == 1:
        return "new"
    if _mostly(this):
        if trending:
            return "intensifying" if rising else "diminishing"
        return "persistent"
    run = len(this) - int(np.flatnonzero(~this)[-1]) - 1  # not all True: not mostly
    if run == times:
        return "consecutive"
    return "oscillating" if other.any() else "sporadic"


def _mostly(flags: np.ndarray) -> bool:
    return bool(flags.sum() >= _MOST * flags.size - 1e-9)


def _check(points: gpd.GeoDataFrame, cells: gpd.GeoDataFrame) -> None:
    problems = []
    if not isinstance(cells, gpd.GeoDataFrame) or "cell_id" not in cells.columns:
        problems.append("cells must be a GeoDataFrame of polygons with a cell_id column")
    elif cells["cell_id"].duplicated().any():
        problems.append("cell_id must be unique; some ids repeat")
    if not isinstance(points, gpd.GeoDataFrame):
        problems.append("points must be a GeoDataFrame of point records")
    for name, frame in (("points", points), ("cells", cells)):
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None:
            problems.append(f"{name} have no CRS; set one (EPSG:4326 for the store's data)")
    if problems:
        raise InputError("; ".join(problems) + ".")


def _counts(
    points: gpd.GeoDataFrame,
    cells: gpd.GeoDataFrame,
    starts: pd.Series,
    periods: pd.DatetimeIndex,
) -> np.ndarray:
    """Points per cell (rows, in cells' order) and period (columns)."""
    geoms = points.geometry.to_crs(cells.crs).reset_index(drop=True)
    point_idx, cell_idx = cells.sindex.query(geoms, predicate="intersects")
    first = pd.Series(cell_idx).groupby(point_idx).min()  # a point on an edge: first cell
    col = periods.get_indexer(pd.DatetimeIndex(starts)[first.index.to_numpy()])
    inside = col >= 0  # points of the partial periods at either end are left out
    flat = first.to_numpy()[inside] * len(periods) + col[inside]
    outside = len(geoms) - len(first)
    if outside:
        log.info("%d point(s) outside every cell were not counted", outside)
    return (
        np.bincount(flat, minlength=len(cells) * len(periods))
        .reshape(len(cells), len(periods))
        .astype(float)
    )
