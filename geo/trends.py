"""Records over time: counts per unit per week or month with a Mann–Kendall trend, and the
hour × weekday table.

Everything is in local time (Asia/Ho_Chi_Minh): a week starts on Monday at 00:00 local time,
and a record made at 23:30 UTC counts at 06:30 the next morning.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal, NamedTuple

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
from geo.config import TIMEZONE_NAME
from geo.errors import InputError

__all__ = ["TrendTest", "hour_weekday", "mann_kendall", "trend"]

log = logging.getLogger(__name__)

UnitLevel = Literal["group", "zone", "ward"]
_UNIT_COLUMN: dict[str, str] = {"group": "group_id", "zone": "zone_id", "ward": "ward_id"}


class TrendTest(NamedTuple):
    """Result of the Mann–Kendall test: Kendall's tau-b, the z-score and the two-sided p."""

    tau: float
    z: float
    p: float


def mann_kendall(series: Sequence[float] | np.ndarray | pd.Series) -> TrendTest:
    """Mann–Kendall test for a monotonic trend in a series ordered in time.

    Implemented here rather than taken from a package: S (concordant minus discordant pairs)
    with the variance corrected for ties (``Σ t(t-1)(2t+5)`` over groups of equal values,
    which matters for counts, where many weeks share a value), z with the continuity
    correction, p from the normal distribution (two-sided). ``tau`` is Kendall's tau-b of the
    series against time, the value ``scipy.stats.kendalltau(range(n), series)`` returns; scipy's
    p differs only by the continuity correction.

    Parameters
    ----------
    series
        Values in time order, without gaps (fill empty periods with 0 first).

    Returns
    -------
    TrendTest
        ``tau`` in [-1, 1] (its sign is the direction), ``z`` and ``p``. A constant series, or
        one shorter than two values, gives tau = 0, z = 0, p = 1.

    Examples
    --------
    >>> r = mann_kendall([1, 2, 3, 4, 5])
    >>> round(r.tau, 3), round(r.z, 3), round(r.p, 4)
    (1.0, 2.205, 0.0275)
    >>> mann_kendall([3, 3, 3]).p
    1.0
    """
    values = np.asarray(series, dtype=float).reshape(1, -1)
    tau, z, p = mann_kendall_rows(values)
    return TrendTest(float(tau[0]), float(z[0]), float(p[0]))


def trend(
    records: pd.DataFrame,
    *,
    by: UnitLevel = "group",
    freq: Freq = "W",
    start: object = None,
    end: object = None,
    units: Sequence[str] | None = None,
    alpha: float = 0.05,
    time_col: str = "observed_at",
) -> pd.DataFrame:
    """Count records per unit per week or month, and test each unit's series for a trend.

    Parameters
    ----------
    records
        Records with the unit's id column (``group_id``, ``zone_id`` or ``ward_id``) and
        ``time_col``. Records without a unit or a time are left out.
    by
        The unit to count by.
    freq
        ``"W"``: calendar weeks starting on Monday; ``"M"``: calendar months (local time).
    start, end
        The period [start, end) (naive values are local time). ``None``: from the first
        record's day / up to the end of the last record's day.
    units
        Ids of units to list even without any record (e.g. every group's id). Units that
        have records are listed anyway.
    alpha
        Significance level of the trend test.
    time_col
        The timestamp column.

    Returns
    -------
    DataFrame
        One row per unit and period, every period present (0 when empty), sorted by unit
        and period: the unit id, ``period`` (local start of the week or month), ``count``,
        ``partial`` (the period is cut by ``start``/``end`` or by the data's first/last day),
        and the unit's trend repeated on each of its rows: ``mk_tau``, ``mk_z``, ``mk_p``
        and ``direction`` (``"increasing"``, ``"decreasing"`` or ``"none"`` when p ≥ alpha).
        The trend is tested on the complete periods only: a half week at either end would
        otherwise read as a drop. ``frame.drop_duplicates(<id>)`` gives one row per unit.

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"group_id": ["A", "A", "A"], "observed_at": pd.to_datetime(
    ...     ["2025-03-03 08:00", "2025-03-17 09:00", "2025-03-18 10:00"])})
    >>> out = trend(recs, start="2025-03-03", end="2025-03-24")
    >>> out["period"].dt.strftime("%a %d %b").tolist(), out["count"].tolist()
    (['Mon 03 Mar', 'Mon 10 Mar', 'Mon 17 Mar'], [1, 0, 2])
    """
    check_freq(freq)
    if by not in _UNIT_COLUMN:
        raise InputError(f"by must be 'group', 'zone' or 'ward', got {by!r}.")
    key = _UNIT_COLUMN[by]
    if key not in records.columns:
        raise InputError(
            f"records lack the column {key!r} needed for by={by!r}; assign the records to "
            "groups at ingest (geo.assign) or choose another level."
        )
    lo, hi = local_stamp(start, name="start"), local_stamp(end, name="end")
    check_period(lo, hi)
    times = local_times(records, time_col)
    keep = in_period(times, lo, hi) & records[key].notna().to_numpy()
    ids = records.loc[keep, key].astype(str)
    stamps = times[keep]

    names = sorted(set(ids) | {str(u) for u in (units or [])})
    if stamps.empty and (lo is None or hi is None):
        return _empty(key)
    lo = lo if lo is not None else stamps.min().normalize()
    hi = hi if hi is not None else stamps.max().normalize() + pd.Timedelta(days=1)
    periods = period_range(lo, hi - pd.Timedelta(1, unit="ns"), freq)
    counts = _count_matrix(ids, period_start(stamps, freq), names, periods)
    complete = np.asarray((periods >= lo) & (period_end(periods, freq) <= hi))
    tau, z, p = mann_kendall_rows(counts[:, complete])

    direction = np.where(p < alpha, np.where(tau > 0, "increasing", "decreasing"), "none")
    n_units, n_periods = counts.shape
    return pd.DataFrame(
        {
            key: pd.array(np.repeat(names, n_periods), dtype="string"),
            "period": periods[np.tile(np.arange(n_periods), n_units)],
            "count": counts.ravel().astype("int64"),
            "partial": np.tile(~complete, n_units),
            "mk_tau": np.repeat(tau, n_periods),
            "mk_z": np.repeat(z, n_periods),
            "mk_p": np.repeat(p, n_periods),
            "direction": pd.array(np.repeat(direction, n_periods), dtype="string"),
        }
    )


def hour_weekday(records: pd.DataFrame, *, time_col: str = "observed_at") -> pd.DataFrame:
    """Count records by weekday and hour of the day, in local time (Asia/Ho_Chi_Minh).

    Parameters
    ----------
    records
        Records with ``time_col``; records without a time are left out.
    time_col
        The timestamp column.

    Returns
    -------
    DataFrame
        7 × 24 counts (zeros included): rows are weekdays 0 (Monday) … 6 (Sunday), index
        named ``weekday``; columns are hours 0 … 23, named ``hour``. Labels are left to the
        page, which translates them.

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"observed_at": pd.to_datetime(["2025-03-02 23:30"], utc=True)})
    >>> table = hour_weekday(recs)  # Sunday 23:30 UTC is Monday 06:30 in Hà Nội
    >>> table.shape, int(table.loc[0, 6]), int(table.to_numpy().sum())
    ((7, 24), 1, 1)
    """
    times = local_times(records, time_col).dropna()
    cells = times.dt.day_of_week.to_numpy() * 24 + times.dt.hour.to_numpy()
    counts = np.bincount(cells.astype(np.int64), minlength=7 * 24).reshape(7, 24)
    return pd.DataFrame(
        counts.astype("int64"),
        index=pd.RangeIndex(7, name="weekday"),
        columns=pd.RangeIndex(24, name="hour"),
    )


def _count_matrix(
    ids: pd.Series, starts: pd.Series, names: list[str], periods: pd.DatetimeIndex
) -> np.ndarray:
    row = pd.Index(names).get_indexer(pd.Index(ids))
    col = periods.get_indexer(pd.Index(starts))
    flat = np.bincount(row * len(periods) + col, minlength=len(names) * len(periods))
    return flat.reshape(len(names), len(periods)).astype(float)


def _empty(key: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            key: pd.array([], dtype="string"),
            "period": pd.DatetimeIndex([], tz=TIMEZONE_NAME),
            "count": np.array([], dtype="int64"),
            "partial": np.array([], dtype=bool),
            "mk_tau": np.array([], dtype=float),
            "mk_z": np.array([], dtype=float),
            "mk_p": np.array([], dtype=float),
            "direction": pd.array([], dtype="string"),
        }
    )
