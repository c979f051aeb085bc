"""How well does a hotspot map predict? Hit rate and PAI on the next period, against a baseline.

A map is only worth reading before a shift if its hot places stay hot. This module measures that
the way the crime-mapping literature does (Chainey, Tompson & Uhlig 2008): build the map from
the records *before* a date, take the hottest units until a budget of the study area is used (5 %
by default; street length instead of area for hot streets), and count how many of the *next*
period's records fall in them.

- hit rate = n / N, the share of the test period's records inside the selected units;
- PAI (predictive accuracy index) = (n / N) / (a / A), the hit rate per share of area used;
  1 is no better than chance, higher is better.

The naive baseline (key ``baseline``) is what a team would do without this tool: rank square
cells by last period's counts (the period just before the split, as long as the test period).
Units are taken whole, in rank order, while the budget is not exceeded, so ``area_share`` (the
share really used) is reported and PAI divides by it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.crs import metric_crs
from geo.errors import InputError
from geo.hotspots import Method

__all__ = ["METHODS", "Split", "evaluate", "select_budget", "split_points"]

log = logging.getLogger(__name__)

#: The hotspot methods, in the order they are reported.
METHODS: tuple[Method, ...] = ("grid", "hex", "kde", "gi", "streets")


@dataclass(frozen=True)
class Split:
    """The records before the split (train), of the test period, and of the baseline period."""

    train: gpd.GeoDataFrame
    test: gpd.GeoDataFrame
    last_period: gpd.GeoDataFrame
    train_months: float


def split_points(
    points: gpd.GeoDataFrame,
    *,
    time_col: str,
    train_until: Any,
    test_until: Any,
    train_from: Any = None,
) -> Split:
    """Split records at ``train_until``: before it (train), up to ``test_until`` (test).

    Dates without a time of day mean midnight at their start; naive dates take the records' time
    zone. The baseline period is the stretch before ``train_until`` as long as the test period.
    """
    if time_col not in points.columns:
        raise InputError(
            f"The points have no column {time_col!r}; choose the time column with --time-col "
            f"(columns: {', '.join(map(str, points.columns))})."
        )
    times = _times(points[time_col], time_col)
    cut, end = _instant(train_until, times), _instant(test_until, times)
    start = _instant(train_from, times) if train_from is not None else None
    if end <= cut:
        raise InputError(f"test_until ({end}) must be after train_until ({cut}).")
    known = times.notna()
    before = known & (times < cut)
    if start is not None:
        before &= times >= start
    test = known & (times >= cut) & (times < end)
    last = known & (times >= cut - (end - cut)) & (times < cut)
    if not before.any():
        raise InputError(f"No record before {cut} to train on; move --train-until later.")
    if not test.any():
        raise InputError(f"No record between {cut} and {end} to test on; check the dates.")
    first = times[before].min()
    months = max((cut - first).total_seconds() / (86400 * 30.4375), 1 / 30.4375)
    return Split(
        train=points[before.to_numpy()],
        test=points[test.to_numpy()],
        last_period=points[last.to_numpy()],
        train_months=months,
    )


def select_budget(
    units: gpd.GeoDataFrame, *, budget: float = 0.05, size_col: str = "area_m2"
) -> pd.Series:
    """Which units a map selects at a budget: whole units in rank order while the budget holds.

    Examples
    --------
    >>> import geopandas as gpd
    >>> u = gpd.GeoDataFrame({"rank": [2, 1, 3], "area_m2": [10.0, 10.0, 80.0]},
    ...                      geometry=[None] * 3)
    >>> select_budget(u, budget=0.2).tolist()
    [True, True, False]
    """
    if not 0 < budget <= 1:
        raise InputError(f"The budget is a share of the area, in (0, 1]; got {budget}.")
    if size_col not in units.columns or "rank" not in units.columns:
        raise InputError(f"The hotspot units need 'rank' and {size_col!r} columns.")
    order = units.sort_values("rank", kind="stable")
    size = order[size_col].astype(float).to_numpy()
    total = size.sum()
    if total <= 0:
        return pd.Series(False, index=units.index)
    chosen = np.cumsum(size) <= budget * total + 1e-9
    return pd.Series(chosen, index=order.index).reindex(units.index)


def evaluate(
    points: gpd.GeoDataFrame,
    *,
    time_col: str,
    train_until: Any,
    test_until: Any,
    train_from: Any = None,
    methods: Sequence[Method] = ("grid", "hex", "kde", "gi"),
    area: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    streets: gpd.GeoDataFrame | None = None,
    budget: float = 0.05,
    weight: str | None = None,
    cell_m: float | None = None,
    bandwidth_m: float | None = None,
    permutations: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Hit rate and PAI of each hotspot method, and of the naive baseline, on the test period.

    Parameters
    ----------
    points
        Records in any CRS with a time column.
    time_col, train_until, test_until, train_from
        The split: train on ``[train_from, train_until)``, test on ``[train_until, test_until)``.
    methods
        Hotspot methods to evaluate (see :func:`geo.hotspots.hotspots`); ``streets`` needs
        ``streets`` and is measured against street length, not area.
    area
        The study area (the ward); by default the methods' own (hull of all the points, so
        that train and test share one area).
    budget
        Share of the area (street length for ``streets``) a team can cover; 0.05 = 5 %.

    Returns
    -------
    DataFrame
        One row per method and ``baseline`` (and ``baseline_streets`` with streets): ``method``,
        ``hit_rate``, ``pai``, ``hits``, ``test_records``, ``area_share``, ``units``, ``cell_m``.
    """
    from geo.hotspots import hotspots

    if "streets" in methods and streets is None:
        raise InputError("The 'streets' method needs a street network (--network FILE.osm).")
    split = split_points(
        points,
        time_col=time_col,
        train_until=train_until,
        test_until=test_until,
        train_from=train_from,
    )
    if area is None:
        area = _study_area(points)
    common: dict[str, Any] = {"area": area, "weight": weight, "seed": seed}
    rows = []
    grid_cell: float | None = cell_m
    for method in methods:
        units = hotspots(
            split.train,
            method=method,
            streets=streets,
            cell_m=cell_m,
            bandwidth_m=bandwidth_m,
            months=split.train_months,
            permutations=permutations,
            **common,
        )
        if method == "grid" and grid_cell is None:
            grid_cell = units.attrs.get("cell_m")
        rows.append(
            _score(method, units, split.test, streets=streets, budget=budget, weight=weight)
        )
    # the baseline: last period's counts on square cells of the grid method's size
    base = hotspots(
        split.last_period if len(split.last_period) else split.train.iloc[:0],
        method="grid",
        cell_m=grid_cell or _default_cell(split.train, area),
        **common,
    )
    rows.append(_score("baseline", base, split.test, streets=None, budget=budget, weight=weight))
    if streets is not None and "streets" in methods:
        base_st = hotspots(split.last_period, method="streets", streets=streets, **common)
        rows.append(
            _score(
                "baseline_streets",
                base_st,
                split.test,
                streets=streets,
                budget=budget,
                weight=weight,
            )
        )
    return pd.DataFrame(rows)


def _score(
    method: str,
    units: gpd.GeoDataFrame,
    test: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None,
    budget: float,
    weight: str | None,
) -> dict[str, Any]:
    on_streets = "length_m" in units.columns and "area_m2" not in units.columns
    size_col = "length_m" if on_streets else "area_m2"
    chosen = select_budget(units, budget=budget, size_col=size_col)
    size = units[size_col].astype(float)
    if on_streets:
        from geo.hot_streets import hot_streets

        assert streets is not None
        counted = hot_streets(test, streets, weight=weight)
        per_unit = counted.set_index("segment_id")["count"]
        hits = float(units.loc[chosen, "unit_id"].map(per_unit).fillna(0).sum())
    else:
        hits = _hits_in_cells(units[chosen], test, weight)
    total = float(pd.to_numeric(test[weight], errors="coerce").sum()) if weight else len(test)
    share = float(size[chosen].sum() / size.sum()) if size.sum() > 0 else 0.0
    hit_rate = hits / total if total else float("nan")
    return {
        "method": method,
        "hit_rate": round(hit_rate, 4),
        "pai": round(hit_rate / share, 3) if share > 0 else float("nan"),
        "hits": hits,
        "test_records": total,
        "area_share": round(share, 4),
        "units": int(chosen.sum()),
        "cell_m": units.attrs.get("cell_m"),
    }


def _hits_in_cells(cells: gpd.GeoDataFrame, test: gpd.GeoDataFrame, weight: str | None) -> float:
    if cells.empty or test.empty:
        return 0.0
    pts = test.to_crs(cells.crs) if test.crs != cells.crs else test
    joined = gpd.sjoin(
        pts[[*([weight] if weight else []), "geometry"]],
        cells[["geometry"]],
        predicate="intersects",
        how="inner",
    )
    # a point on the edge of two selected cells counts once
    joined = joined[~joined.index.duplicated()]
    if weight:
        return float(pd.to_numeric(joined[weight], errors="coerce").fillna(0).sum())
    return float(len(joined))


def _study_area(points: gpd.GeoDataFrame) -> gpd.GeoSeries:
    if points.crs is None:
        raise InputError("The points have no CRS; set one (e.g. EPSG:4326) before evaluating.")
    metric = points.geometry.to_crs(metric_crs(points))
    hull = metric.union_all().convex_hull.buffer(50)
    return gpd.GeoSeries([hull], crs=metric.crs).to_crs(4326)


def _default_cell(train: gpd.GeoDataFrame, area: Any) -> float:
    from geo.hotspots import choose_cell_size

    return float(choose_cell_size(train, area))


def _times(values: pd.Series, name: str) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(values):
        return values
    parsed = pd.to_datetime(values, errors="coerce", format="mixed", dayfirst=False)
    if parsed.notna().sum() == 0:
        raise InputError(f"Column {name!r} holds no readable dates (e.g. 2025-07-31 or ISO times).")
    return parsed


def _instant(value: Any, times: pd.Series) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{value!r} is not a date; write it as YYYY-MM-DD.") from exc
    tz = getattr(times.dtype, "tz", None)
    if tz is not None and stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz)
    elif tz is None and stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp
