"""Local time, calendar periods and the Mann–Kendall test, shared by rates, trends and emerging.

Periods are calendar weeks starting on Monday or calendar months, both in local time
(Asia/Ho_Chi_Minh, which has no daylight saving, so a day is always 24 hours).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import norm

from geo.config import TIMEZONE_NAME
from geo.errors import InputError

Freq = Literal["W", "M"]
FREQS: tuple[Freq, ...] = ("W", "M")


def local_times(frame: pd.DataFrame, time_col: str) -> pd.Series:
    """``frame[time_col]`` as tz-aware local timestamps (naive values are taken as local)."""
    if time_col not in frame.columns:
        raise InputError(
            f"records lack the time column {time_col!r}; pass time_col= naming the column "
            "that holds when each record was observed."
        )
    values = frame[time_col]
    if not pd.api.types.is_datetime64_any_dtype(values):
        raise InputError(
            f"column {time_col!r} holds {values.dtype}, not timestamps; parse it first "
            "(geo.values.parse_timestamps) or read the records from the store."
        )
    stamps = pd.Series(pd.DatetimeIndex(values), index=frame.index)
    if stamps.dt.tz is None:
        return stamps.dt.tz_localize(TIMEZONE_NAME)
    return stamps.dt.tz_convert(TIMEZONE_NAME)


def local_stamp(value: object, *, name: str) -> pd.Timestamp | None:
    """``value`` (a date, string or timestamp) as a local timestamp; ``None`` stays ``None``."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={value!r} is not a date or time ({exc}).") from None
    if ts is pd.NaT:
        raise InputError(f"{name} is missing (NaT); pass a date or None.")
    return ts.tz_localize(TIMEZONE_NAME) if ts.tzinfo is None else ts.tz_convert(TIMEZONE_NAME)


def check_period(start: pd.Timestamp | None, end: pd.Timestamp | None) -> None:
    """Refuse an empty or reversed period."""
    if start is not None and end is not None and end <= start:
        raise InputError(f"end ({end}) must come after start ({start}); end is exclusive.")


def in_period(times: pd.Series, start: pd.Timestamp | None, end: pd.Timestamp | None) -> np.ndarray:
    """Mask of the times within [start, end); missing times are never inside."""
    mask = times.notna().to_numpy().copy()
    if start is not None:
        mask &= (times >= start).to_numpy(dtype=bool, na_value=False)
    if end is not None:
        mask &= (times < end).to_numpy(dtype=bool, na_value=False)
    return mask


def check_freq(freq: str) -> None:
    """Refuse a period length other than weeks and months."""
    if freq not in FREQS:
        raise InputError(f"freq must be 'W' (weeks from Monday) or 'M' (months), got {freq!r}.")


def period_start(times: pd.Series, freq: Freq) -> pd.Series:
    """Start (local midnight) of the week (Monday) or month containing each time."""
    day = times.dt.normalize()
    if freq == "W":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return day - pd.to_timedelta(day.dt.day - 1, unit="D")


def period_range(first: pd.Timestamp, last: pd.Timestamp, freq: Freq) -> pd.DatetimeIndex:
    """Starts of every period from the one containing ``first`` to the one containing ``last``."""
    bounds = period_start(pd.Series([first, last]), freq)
    step = "7D" if freq == "W" else "MS"
    return pd.date_range(bounds.iloc[0], bounds.iloc[1], freq=step, name="period")


def period_end(starts: pd.DatetimeIndex, freq: Freq) -> pd.DatetimeIndex:
    """The (exclusive) end of each period."""
    return starts + (pd.Timedelta(days=7) if freq == "W" else pd.offsets.MonthBegin(1))


def mann_kendall_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann–Kendall test of each row of ``values`` (units × time): tau-b, z and two-sided p.

    S counts concordant minus discordant pairs; its variance carries the tie correction
    ``Σ t(t-1)(2t+5)`` over groups of equal values; z has the continuity correction
    ``(S - sign S) / sqrt(Var S)``; tau is Kendall's tau-b of the series against time, as
    ``scipy.stats.kendalltau(range(n), row)`` gives. A constant row (or fewer than two
    values) has tau = 0, z = 0 and p = 1.
    """
    x = np.atleast_2d(np.asarray(values, dtype=float))
    if np.isnan(x).any():
        raise InputError("a series for the trend test has missing values; fill them with 0.")
    m, n = x.shape
    s = np.zeros(m)
    for lag in range(1, n):
        s += np.sign(x[:, lag:] - x[:, :-lag]).sum(axis=1)
    tie_var, tie_pairs = _ties(x)
    var = (n * (n - 1) * (2 * n + 5) - tie_var) / 18.0
    pairs = n * (n - 1) / 2.0
    denominator = np.sqrt(pairs * (pairs - tie_pairs))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = np.where(denominator > 0, s / denominator, 0.0)
        z = np.where(var > 0, (s - np.sign(s)) / np.sqrt(var), 0.0)
    p = np.where(var > 0, 2.0 * norm.sf(np.abs(z)), 1.0)
    return tau, z, np.minimum(p, 1.0)


def _ties(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: Σ t(t-1)(2t+5) and Σ t(t-1)/2 over the groups of t equal values."""
    m, n = x.shape
    if n == 0:
        return np.zeros(m), np.zeros(m)
    ordered = np.sort(x, axis=1)
    first = np.ones((m, n), dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    starts = np.flatnonzero(first.ravel())
    t = np.diff(np.append(starts, m * n)).astype(float)
    row = starts // n
    return (
        np.bincount(row, t * (t - 1) * (2 * t + 5), minlength=m),
        np.bincount(row, t * (t - 1) / 2, minlength=m),
    )
