"""Reading date-and-time cells as timestamps in Asia/Ho_Chi_Minh (part of :mod:`geo.values`).

Most files use one plain shape (ISO 8601, day-first slash dates, Excel serial days), read by
pandas' compiled parser; only the other cells are first rewritten into those shapes
(``9h30``, ``SA``/``CH``, ``ngày 8 tháng 7 năm 2025``, time first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo._values_base import _column_name, _matches, _present, _replace, _text, problems_where
from geo.config import TIMEZONE_NAME
from geo.problems import RowProblem

__all__ = ["combine_date_time", "parse_timestamps"]

logger = logging.getLogger(__name__)

_NAT = np.iinfo(np.int64).min


#: Timestamps up to this far in the future are clock drift between phones, not mistakes.
_FUTURE_SLACK = pd.Timedelta(minutes=5)
_OLDEST = pd.Timestamp("2000-01-01", tz=TIMEZONE_NAME)
_EXCEL_EPOCH = np.datetime64("1899-12-30", "ns")
_NS_BOUNDS_US = (pd.Timestamp("1678-01-01").value // 1000, pd.Timestamp("2262-01-01").value // 1000)


_PM = r"(\d)\s*(?:pm|p\.m\.|ch|chiều|chieu|tối|toi)$"
_AM = r"(\d)\s*(?:am|a\.m\.|sa|sáng|sang)$"
_TIME = r"\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_OFFSET = r"(?:Z|[+-]\d{2}(?::?\d{2})?)"
_ISO = rf"\d{{4}}-\d{{1,2}}-\d{{1,2}}(?:[T ]{_TIME}(?: ?{_OFFSET})?)?"
_DMY = rf"\d{{1,2}}/\d{{1,2}}/(?:\d{{4}}|\d{{2}})(?: {_TIME})?"
_EXCEL_SERIAL = r"\d{5}(?:\.\d+)?"
#: The shapes read directly; other cells are first rewritten by _TIME_REWRITES.
_SHAPES = rf"^(?:{_ISO}|{_DMY}|{_EXCEL_SERIAL})$"
#: (pattern, replacement) applied in order to normalise how people write times.
_TIME_REWRITES: tuple[tuple[str, str], ...] = (
    (r"[,;]", " "),
    (r"\s{2,}", " "),
    (r"(?:ngày|ngay)\s*(\d{1,2})\s*(?:tháng|thang)\s*(\d{1,2})\s*(?:năm|nam)\s*(\d{2,4})",
     r"\1/\2/\3"),
    (r"(?:^| )(?:ngày|ngay|lúc|luc|hồi|hoi)(?: |$)", " "),
    (r"(\d{1,2}) ?(?:h|g|giờ|gio) ?(\d{2}) ?(?:phút|phut|p|')?(?: |$)", r"\1:\2 "),
    (r"(\d{1,2}) ?(?:h|giờ|gio)(?: |$)", r"\1:00 "),
    (r"\s{2,}", " "),
    (r"^ +| +$", ""),
    (r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})", r"\1-\2-\3"),
    (r"^(\d{4}-\d{1,2}-\d{1,2})t", r"\1 "),
    (r"z$", "Z"),
    (r"^(\d{1,2})[-.](\d{1,2})[-.](\d{4}|\d{2})(?: |$)", r"\1/\2/\3 "),
    (rf"^({_TIME}) (\d{{1,2}}/\d{{1,2}}/\d{{2,4}})$", r"\2 \1"),
    (r"^ +| +$", ""),
)  # fmt: skip


def parse_timestamps(
    values: pd.Series,
    *,
    column: str | None = None,
    now: datetime | pd.Timestamp | None = None,
    dayfirst: bool = True,
    required: bool = False,
) -> tuple[pd.Series, list[RowProblem]]:
    """Read date-and-time cells as timestamps in Asia/Ho_Chi_Minh.

    Accepted: ISO 8601 with or without an offset or ``Z`` (``2025-07-08T09:30:00+07:00``),
    spreadsheet text (``2025-07-08 09:30:00``, ``2025/07/08``), day-first dates with ``/``,
    ``-`` or ``.`` and two- or four-digit years, with or without a time (``08/07/2025 09:30``,
    ``8-7-2025``, ``08.07.2025 9:30:15``, ``8/7/25``), ``9h30``, ``AM``/``PM`` and Vietnamese
    ``SA``/``CH``, time first (``09:30 08/07/2025``), ``ngày 8 tháng 7 năm 2025``, and Excel
    serial day numbers (``45846.396``). Year-first dates are never read day-first. Times
    without an offset are local (Asia/Ho_Chi_Minh); times with one are converted.

    Parameters
    ----------
    values
        Raw text cells, indexed by the row numbers the user sees.
    column
        The file's column name, for the problems (default: ``values.name``).
    now
        The upload time: later times (by more than 5 minutes) are refused. Default: now.
    dayfirst
        Read ``08/07/2025`` as 8 July (the Vietnamese way). Either way, a column whose
        slash dates all read one way only (some with a "day" above 12) is read that way.
    required
        Whether an empty cell is a problem (``no_time``).

    Returns
    -------
    (pandas.Series, list of RowProblem)
        ``datetime64[ns, Asia/Ho_Chi_Minh]`` (``NaT`` where empty or refused) and reject
        problems ``bad_time`` (not a date, or no such date as 31/02/2025), ``future_time``,
        ``too_old`` (before 2000) and, when ``required``, ``no_time``.

    Examples
    --------
    >>> ts, probs = parse_timestamps(
    ...     pd.Series(["08/07/2025 09:30", "2025-07-08T02:30:00Z", "31/02/2025"]),
    ...     now=pd.Timestamp("2025-08-01", tz="Asia/Ho_Chi_Minh"))
    >>> [str(t) for t in ts]
    ['2025-07-08 09:30:00+07:00', '2025-07-08 09:30:00+07:00', 'NaT']
    >>> [(p.row, p.reason) for p in probs]
    [(2, 'bad_time')]
    """
    column = _column_name(values, column)
    now_ts = _local(pd.Timestamp.now(tz=TIMEZONE_NAME) if now is None else pd.Timestamp(now))
    text = _text(values)
    present = _present(text)
    n = len(values)
    pm, am = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    odd = present & ~_matches(text, _SHAPES)
    if odd.any():  # rewrite only the cells that need it: most files use one plain shape
        text, pm, am = _rewrite_times(text, odd)
        present = _present(text)
    utc = np.full(n, _NAT, dtype=np.int64)
    naive = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    iso = present & _matches(text, r"^\d{4}-")
    aware = iso & _matches(text, rf"\d:\d{{2}}(?::\d{{2}}(?:\.\d+)?)? ?{_OFFSET}$")
    if aware.any():
        parsed = pd.to_datetime(_strings(text, aware), format="ISO8601", utc=True, errors="coerce")
        utc[aware] = _ns(parsed)
    if (iso & ~aware).any():
        parsed = pd.to_datetime(_strings(text, iso & ~aware), format="ISO8601", errors="coerce")
        naive[iso & ~aware] = _naive_ns(parsed)
    dmy = present & _matches(text, rf"^{_DMY}$")
    if dmy.any():
        naive[dmy] = _parse_dmy(text.filter(pa.array(dmy)), dayfirst=dayfirst, column=column)
    excel = present & _matches(text, rf"^{_EXCEL_SERIAL}$")
    if excel.any():
        days = pc.cast(text.filter(pa.array(excel)), pa.float64()).to_numpy(zero_copy_only=False)
        naive[excel] = _EXCEL_EPOCH + np.round(days * 86_400).astype("timedelta64[s]")
    naive = _apply_ampm(naive, pm=pm, am=am)
    local = ~np.isnat(naive)
    if local.any():
        stamps = pd.DatetimeIndex(naive[local]).tz_localize(TIMEZONE_NAME)
        utc[local] = stamps.tz_convert("UTC").as_unit("ns").asi8
    result = pd.Series(
        pd.DatetimeIndex(utc.view("datetime64[ns]")).tz_localize("UTC").tz_convert(TIMEZONE_NAME),
        index=values.index,
    )
    failed = present & (utc == _NAT)
    recognised = np.zeros(n, dtype=bool)
    if failed.any():
        recognised[failed] = _matches(text.filter(pa.array(failed)), _SHAPES)
    return _time_problems(result, values, present, recognised, column, now_ts, required)


def _rewrite_times(text: pa.Array, rows: np.ndarray) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """``text`` with ``rows`` rewritten into the plain shapes, and where AM / PM was said."""
    sub = pc.utf8_lower(text.filter(pa.array(rows)))
    for pattern, repl in _TIME_REWRITES:
        sub = _replace(sub, pattern, repl)
    pm, am = np.zeros(len(text), dtype=bool), np.zeros(len(text), dtype=bool)
    pm[rows], am[rows] = _matches(sub, _PM), _matches(sub, _AM)
    sub = _replace(_replace(sub, _PM, r"\1"), _AM, r"\1")
    return pc.replace_with_mask(text, pa.array(rows), sub), pm, am


def combine_date_time(
    date_values: pd.Series,
    time_values: pd.Series | None,
    *,
    date_column: str | None = None,
    time_column: str | None = None,
    now: datetime | pd.Timestamp | None = None,
    dayfirst: bool = True,
    required: bool = False,
) -> tuple[pd.Series, list[RowProblem]]:
    """Read a date column and a time-of-day column as timestamps (see :func:`parse_timestamps`).

    Spreadsheet quirks are undone first: a date cell's ``00:00:00``, a time cell's Excel day
    (``1899-12-30 09:30:00``) or day fraction (``0.395833`` = 09:30). A time cell that holds a
    whole date and time ("Thời gian" beside "Ngày") is used as it is; a date without a time
    is midnight; a time without a date is refused (``bad_time``).

    Parameters
    ----------
    date_values, time_values
        Raw text cells (``time_values`` may be None: dates only).
    date_column, time_column
        The file's column names; problems name the date column.
    now, dayfirst, required
        As in :func:`parse_timestamps`.

    Examples
    --------
    >>> ts, probs = combine_date_time(
    ...     pd.Series(["08/07/2025", "2025-07-09 00:00:00", None]),
    ...     pd.Series(["9h30", "0.5", "10:00"]), now=pd.Timestamp("2025-08-01"))
    >>> [str(t) for t in ts], [(p.row, p.reason) for p in probs]
    (['2025-07-08 09:30:00+07:00', '2025-07-09 12:00:00+07:00', 'NaT'], [(2, 'bad_time')])
    """
    joined = _join_date_time(date_values, time_values)
    date_column = _column_name(date_values, date_column)
    if time_values is not None:
        time_column = _column_name(time_values, time_column)
        logger.debug("reading %s + %s as timestamps", date_column, time_column)
    return parse_timestamps(
        joined, column=date_column, now=now, dayfirst=dayfirst, required=required
    )


def _join_date_time(date_values: pd.Series, time_values: pd.Series | None) -> pd.Series:
    date = _replace(_text(date_values), r"(?i)[ t]0?0:00(?::00(?:\.0+)?)?$", "")
    if time_values is None:
        return _series(date, date_values.index)
    time = _text(time_values)
    time = _replace(time, r"^(?:1899-12-3[01]|1900-01-0[01])[ tT]", "")
    fraction = _matches(time, r"^0?\.\d+$")
    if fraction.any():
        days = pc.cast(time.filter(pa.array(fraction)), pa.float64()).to_numpy(zero_copy_only=False)
        seconds = np.round(days * 86_400).astype(np.int64)
        clock = [f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" for s in seconds]
        filled = np.asarray(time.to_numpy(zero_copy_only=False), dtype=object)
        filled[fraction] = clock
        time = pa.array(filled, type=pa.large_string())
    whole = _matches(time, r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")
    joined = pc.binary_join_element_wise(date, time, pa.scalar(" ", pa.large_string()))
    out = pc.coalesce(pc.if_else(pa.array(whole), time, joined), date, time)
    return _series(out, date_values.index)


def _parse_dmy(text: pa.Array, *, dayfirst: bool, column: str | None) -> np.ndarray:
    """Slash dates (``d/m/Y[ H:M[:S[.f]]]``) as naive datetime64[ns]; month-first when the
    column reads only that way."""
    first = _dmy_formats(text, "%d/%m" if dayfirst else "%m/%d")
    failed = np.isnat(first)
    if not failed.any():
        return first
    second = _dmy_formats(text, "%m/%d" if dayfirst else "%d/%m")
    if not np.isnat(second).any():
        logger.info(
            "%s: every date reads %s (e.g. %s), so the column is read that way",
            column or "dates",
            "month first" if dayfirst else "day first",
            text.filter(pa.array(failed))[0],
        )
        return second
    return first


def _dmy_formats(text: pa.Array, order: str) -> np.ndarray:
    """Slash dates read day first (``order="%d/%m"``) or month first, via ISO text."""
    day, month = (r"\1", r"\2") if order == "%d/%m" else (r"\2", r"\1")
    iso = _replace(text, r"^(\d{1,2})/(\d{1,2})/(\d{4})", rf"\3-{month}-{day}")
    # two-digit years: 00-49 are 20xx, 50-99 are 19xx (and refused as too old)
    iso = _replace(iso, r"^(\d{1,2})/(\d{1,2})/([0-4]\d)( |$)", rf"20\3-{month}-{day}\4")
    iso = _replace(iso, r"^(\d{1,2})/(\d{1,2})/([5-9]\d)( |$)", rf"19\3-{month}-{day}\4")
    parsed = pd.to_datetime(
        _strings(iso, np.ones(len(iso), dtype=bool)), format="ISO8601", errors="coerce"
    )
    return _naive_ns(parsed)


def _apply_ampm(naive: np.ndarray, *, pm: np.ndarray, am: np.ndarray) -> np.ndarray:
    if not (pm.any() or am.any()):
        return naive
    hours = (naive - naive.astype("datetime64[D]")).astype("timedelta64[h]").astype(np.int64)
    out = naive.copy()
    half = np.timedelta64(12, "h")
    out[pm & (hours < 12) & ~np.isnat(naive)] += half
    out[am & (hours == 12) & ~np.isnat(naive)] -= half
    return out


def _time_problems(
    result: pd.Series,
    values: pd.Series,
    present: np.ndarray,
    recognised: np.ndarray,
    column: str | None,
    now: pd.Timestamp,
    required: bool,
) -> tuple[pd.Series, list[RowProblem]]:
    missing = result.isna().to_numpy()
    unreadable = present & missing
    future = ~missing & (result > now + _FUTURE_SLACK).to_numpy()
    old = ~missing & (result < _OLDEST).to_numpy()
    problems: list[RowProblem] = []
    if required:
        problems += problems_where(
            ~present,
            values,
            column=column,
            reason="no_time",
            message=lambda _: "The date and time are empty; fill them in (e.g. 08/07/2025 09:30).",
        )
    problems += problems_where(
        unreadable & recognised,
        values,
        column=column,
        reason="bad_time",
        message=lambda v: (
            f"{v!r} is not a real date and time (check the day, month and hour; dates are "
            f"read day first: 08/07/2025 is 8 July 2025)."
        ),
    )
    problems += problems_where(
        unreadable & ~recognised,
        values,
        column=column,
        reason="bad_time",
        message=lambda v: (
            f"{v!r} is not a date and time this tool reads; write it as 08/07/2025 09:30 "
            f"(day first) or 2025-07-08 09:30 (ISO)."
        ),
    )
    problems += _stamp_problems(
        future,
        result,
        values,
        column,
        "future_time",
        lambda raw, t: (
            f"{raw!r}{_read_as(t)} is in the future (the upload is at {now:%d/%m/%Y %H:%M}); "
            f"check the date, and the day/month order."
        ),
    )
    problems += _stamp_problems(
        old,
        result,
        values,
        column,
        "too_old",
        lambda raw, t: (
            f"{raw!r}{_read_as(t)} is before 2000; check the year (two-digit years from 50 "
            f"to 99 read as 1950 to 1999)."
        ),
    )
    refused = future | old
    result = result.mask(refused).astype(pd.DatetimeTZDtype("ns", TIMEZONE_NAME))
    return result, sorted(problems, key=lambda p: p.row)


def _stamp_problems(
    mask: np.ndarray,
    stamps: pd.Series,
    values: pd.Series,
    column: str | None,
    reason: str,
    message: Callable[[object, pd.Timestamp], str],
) -> list[RowProblem]:
    rows = values.index.to_numpy()
    return [
        RowProblem(int(rows[i]), column, reason, message(values.iloc[i], stamps.iloc[i]))
        for i in np.flatnonzero(mask)
    ]


def _read_as(stamp: pd.Timestamp) -> str:
    """`` (read as 08/07/2025 09:30)``, for dates a person could mean."""
    return f" (read as {stamp:%d/%m/%Y %H:%M})" if 1900 <= stamp.year <= 2100 else ""


def _strings(arr: pa.Array, rows: np.ndarray) -> np.ndarray:
    return np.asarray(arr.filter(pa.array(rows)).to_numpy(zero_copy_only=False), dtype=object)


def _series(arr: pa.Array, index: pd.Index) -> pd.Series:
    cells = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    cells[np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)] = None
    return pd.Series(cells, index=index, dtype=object)


def _ns(parsed: pd.DatetimeIndex) -> np.ndarray:
    """UTC nanoseconds of aware timestamps (NaT as the int64 minimum)."""
    return _clamped_ns(pd.DatetimeIndex(parsed).tz_convert("UTC").tz_localize(None))


def _naive_ns(parsed: pd.DatetimeIndex) -> np.ndarray:
    return _clamped_ns(pd.DatetimeIndex(parsed)).view("datetime64[ns]")


def _clamped_ns(stamps: pd.DatetimeIndex) -> np.ndarray:
    """Nanoseconds, years beyond what they can hold (2999, 0025) set to their bounds, where
    they are refused as future or too old rather than as unreadable."""
    us = stamps.as_unit("us").asi8
    nat = us == _NAT
    clipped = np.clip(us, _NS_BOUNDS_US[0], _NS_BOUNDS_US[1]) * 1000
    clipped[nat] = _NAT
    return clipped


def _local(ts: pd.Timestamp) -> pd.Timestamp:
    return ts.tz_localize(TIMEZONE_NAME) if ts.tzinfo is None else ts.tz_convert(TIMEZONE_NAME)
