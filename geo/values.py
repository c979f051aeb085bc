"""Parsing the cells of an uploaded table: timestamps, VND amounts, numbers and positions.

Every function here reads a whole column at once (pyarrow string kernels and pandas' compiled
date parser: no Python loop over rows, so a million rows take about a second) and returns the
parsed values with one :class:`~geo.problems.RowProblem` per cell it cannot accept. It never
raises on a bad cell: an upload must account for every row. Only a mistake that concerns the
whole file, such as a declared CRS that puts the points far from the ward, raises.

How numbers are read (``.`` and ``,`` are thousands separators in Vietnam, decimal points in
Excel and English):

- ``2.000.000``, ``2,000,000``, ``2 000 000`` (two or more groups of three digits, or spaces):
  thousands separators.
- ``1,5``, ``0.75``, ``12,50``, ``2.000.000,00``, ``2,000,000.00``: the last separator is a
  decimal point when it is not followed by exactly three digits, or when the integer part is
  grouped with the other separator.
- ``1.500`` / ``1,500`` (one separator and exactly three digits) is the ambiguous case. In VND
  amounts it is 1500 (Vietnamese writing: ``1.500`` đ is one thousand five hundred đồng); in
  coordinates it is a decimal (``21.012``); for whole counts it is 1500; for other numbers
  (accuracy, waste in kg) it is refused as ambiguous, asking for ``1500`` or ``1.5``.

VND amounts also take a currency mark (``đ``, ``₫``, ``VND``, ``đồng``, before or after), a unit
(``nghìn``/``ngàn``/``k`` = 10³, ``triệu``/``tr`` = 10⁶, ``tỷ``/``tỉ`` = 10⁹) with a decimal part
(``1,5 triệu`` = ``1.5tr`` = 1 500 000, ``1.500 triệu`` = 1 500 000 000 as above), the spoken
shorthand ``1tr5`` = ``1 triệu 5`` = 1 500 000 (the digits after the unit continue it), and
compound forms (``2 triệu 500 nghìn``, ``1 tỷ 200 triệu``). ``-``, ``không`` (none) and an empty
cell are no amount. A negative amount, or a fraction of a đồng, is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from geo.boundaries import check_crs_against
from geo.config import HANOI_CRS, STORAGE_CRS, TIMEZONE_NAME, VN2000_UTM48_CRS
from geo.crs import metric_crs
from geo.errors import InputError
from geo.model import categories, fine_schedule
from geo.problems import RowProblem, Severity

__all__ = [
    "check_fines",
    "combine_date_time",
    "parse_accuracy_flags",
    "parse_coordinates",
    "parse_geolocation",
    "parse_number",
    "parse_timestamps",
    "parse_vnd",
    "problems_where",
]

logger = logging.getLogger(__name__)

_NAT = np.iinfo(np.int64).min
#: A point whose swapped reading lies this close to the ward (and the other reading does not)
#: had its latitude and longitude swapped.
_SWAP_NEAR_M = 5_000.0
#: Points read to test a declared CRS against the ward (evenly spaced over the file).
_CRS_SAMPLE = 2_000
#: Timestamps up to this far in the future are clock drift between phones, not mistakes.
_FUTURE_SLACK = pd.Timedelta(minutes=5)
_OLDEST = pd.Timestamp("2000-01-01", tz=TIMEZONE_NAME)
_EXCEL_EPOCH = np.datetime64("1899-12-30", "ns")
_NS_BOUNDS_US = (pd.Timestamp("1678-01-01").value // 1000, pd.Timestamp("2262-01-01").value // 1000)


def problems_where(
    mask: np.ndarray | pd.Series,
    values: pd.Series,
    *,
    column: str | None,
    reason: str,
    message: Callable[[Any], str],
    severity: Severity = "reject",
) -> list[RowProblem]:
    """One problem per row where ``mask`` holds, its message made once per distinct value.

    Parameters
    ----------
    mask
        Which rows have the problem (aligned with ``values`` by position).
    values
        The column; its index gives the row numbers and its cells are passed to ``message``.
    column, reason, severity
        As in :class:`~geo.problems.RowProblem`.
    message
        Makes the message from a cell's value.

    Examples
    --------
    >>> s = pd.Series(["a", "", "a"], index=[2, 3, 4])
    >>> [(p.row, p.message) for p in problems_where(
    ...     s == "a", s, column="x", reason="r", message=lambda v: f"{v!r} is bad")]
    [(2, "'a' is bad"), (4, "'a' is bad")]
    """
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    if not len(positions):
        return []
    cells = values.iloc[positions].to_numpy(dtype=object)
    missing = pd.isna(cells)
    rows = values.index.to_numpy()[positions]
    made: dict[Hashable, str] = {}
    out = []
    for row, cell, gone in zip(rows, cells, missing, strict=True):
        key: Hashable = None if gone or not isinstance(cell, Hashable) else cell
        if key not in made:
            made[key] = message(None if gone else cell)
        out.append(RowProblem(int(row), column, reason, made[key], severity))
    return out


# --- timestamps ---------------------------------------------------------------------------

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


# --- money and numbers --------------------------------------------------------------------

_INT = r"^[-+]?\d+$"
_ONE_GROUP = r"^[-+]?[1-9]\d{0,2}[.,]\d{3}$"
_GROUPED = r"^[-+]?[1-9]\d{0,2}(?:(?:\.\d{3}){2,}|(?:,\d{3}){2,}|(?: \d{3})+)$"
_DEC_DOT = r"^[-+]?(?:\d+|[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d{0,2}(?: \d{3})+)\.\d+$"
_DEC_COMMA = r"^[-+]?(?:\d+|[1-9]\d{0,2}(?:\.\d{3})+|[1-9]\d{0,2}(?: \d{3})+),\d+$"
_UNITS: dict[str, float] = {
    "tỷ": 1e9, "tỉ": 1e9, "ty": 1e9, "ti": 1e9,
    "triệu": 1e6, "trieu": 1e6, "tr": 1e6,
    "nghìn": 1e3, "nghin": 1e3, "ngàn": 1e3, "ngan": 1e3, "k": 1e3,
}  # fmt: skip
_UNIT = "(?:" + "|".join(sorted(_UNITS, key=len, reverse=True)) + ")"
_CURRENCY_BEFORE = r"(?:vnđ|vnd|₫)? ?"
_CURRENCY_AFTER = r" ?(?:vnđ|vnd|việt nam đồng|đồng|dong|đ|₫|d)?\.?"
_AMOUNT = (
    rf"^{_CURRENCY_BEFORE}(?P<a>[-+]?\d(?:[\d., ]*\d)?) ?"
    rf"(?:(?P<ua>{_UNIT})(?: ?(?P<b>\d{{1,3}})(?: ?(?P<ub>{_UNIT}))?)?)?{_CURRENCY_AFTER}$"
)
_NO_AMOUNT = r"^(?:-+|–|—|không|khong|không phạt|khong phat|ko|n/?a)$"
_MAX_VND = 1e13
OneGroup = Literal["thousands", "decimal", "ambiguous"]


def parse_vnd(
    values: pd.Series, *, column: str | None = None
) -> tuple[pd.Series, list[RowProblem]]:
    """Read amounts in Vietnamese đồng (the rules are in the module docstring).

    Returns
    -------
    (pandas.Series, list of RowProblem)
        ``Int64`` amounts (``<NA>`` where empty or refused) and reject problems ``bad_fine``.

    Examples
    --------
    >>> amounts, probs = parse_vnd(pd.Series(
    ...     ["2.000.000", "2,000,000 đ", "1,5 triệu", "500k", "1tr5", "300000.0", "", "abc"]))
    >>> amounts.tolist()
    [2000000, 2000000, 1500000, 500000, 1500000, 300000, <NA>, <NA>]
    >>> [(p.row, p.reason) for p in probs]
    [(7, 'bad_fine')]
    """
    column = _column_name(values, column)
    text = _text(values, lower=True)
    present = _present(text)
    amount = np.full(len(values), np.nan)
    digits = present & _is_digits(text)
    if digits.any():  # the usual case, without the regular expressions
        amount[digits] = pc.cast(text.filter(pa.array(digits)), pa.float64()).to_numpy()
    rest = present & ~digits
    if rest.any():
        got, none = _amounts(text.filter(pa.array(rest)))
        amount[rest] = got
        present[np.flatnonzero(rest)[none]] = False
    unread = present & np.isnan(amount)
    negative = present & (amount < 0)
    fraction = present & ~unread & ~negative & (np.abs(amount - np.round(amount)) > 1e-6)
    huge = present & ~unread & (amount > _MAX_VND)
    problems = problems_where(
        unread,
        values,
        column=column,
        reason="bad_fine",
        message=lambda v: (
            f"{v!r} is not an amount in VND; write it as 2000000, 2.000.000đ, 2,000,000 or 2 triệu."
        ),
    )
    for mask, why in (
        (negative, "is negative; a fine is a positive amount"),
        (fraction, "has a fraction of a đồng; write the whole amount (1.500.000 or 1,5 triệu)"),
        (huge, "is larger than any fine; check the digits"),
    ):
        problems += problems_where(
            mask & ~unread,
            values,
            column=column,
            reason="bad_fine",
            message=_suffixed(why),
        )
    bad = unread | negative | fraction | huge
    out = pd.Series(np.where(bad | ~present, np.nan, np.round(amount)), index=values.index)
    return out.astype("Int64"), sorted(problems, key=lambda p: p.row)


def check_fines(
    fines: pd.Series, categories_: pd.Series, *, column: str | None = None
) -> list[RowProblem]:
    """Flag fines outside the schedule's range for their category (``fine_outside_schedule``).

    Parameters
    ----------
    fines
        Parsed amounts (``Int64``, from :func:`parse_vnd`); empty and 0 (no fine) pass.
    categories_
        Category codes aligned with ``fines``; categories without a rule (``other``) pass.
    column
        The fine's column in the file, for the problems.

    Examples
    --------
    >>> probs = check_fines(pd.Series([350_000, 5_000_000], dtype="Int64"),
    ...                     pd.Series(["street_vending", "street_vending"]))
    >>> [(p.row, p.reason, p.severity) for p in probs]
    [(1, 'fine_outside_schedule', 'flag')]
    """
    rules = fine_schedule()
    cats = categories_.astype(object).to_numpy()
    lo = pd.Series(categories_.map({c: r.min_vnd for c, r in rules.items()}), dtype="Float64")
    hi = pd.Series(categories_.map({c: r.max_vnd for c, r in rules.items()}), dtype="Float64")
    amount = pd.Series(fines, dtype="Float64")
    outside = (amount > 0) & ((amount < lo.to_numpy()) | (amount > hi.to_numpy()))
    mask = outside.fillna(False).to_numpy(dtype=bool)
    rows = fines.index.to_numpy()
    amounts = amount.to_numpy(dtype="float64", na_value=np.nan)
    made: dict[tuple[int, str], str] = {}
    out = []
    for i in np.flatnonzero(mask):
        key = (int(amounts[i]), str(cats[i]))
        if key not in made:
            rule = rules[key[1]]
            made[key] = (
                f"The fine {_vnd(key[0])} is outside the usual range for "
                f"{categories()[key[1]].label_en.lower()} ({_vnd(rule.min_vnd)} to "
                f"{_vnd(rule.max_vnd)}, {rule.legal_basis} {rule.provision}); check the "
                f"amount (organisations pay up to twice as much). Kept, for review."
            )
        out.append(RowProblem(int(rows[i]), column, "fine_outside_schedule", made[key], "flag"))
    return out


def parse_number(
    values: pd.Series,
    *,
    column: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    severity: Severity = "reject",
) -> tuple[pd.Series, list[RowProblem]]:
    """Read numbers (accuracy in m, items removed, participants, waste in kg, severity).

    Decimal commas are read (``4,5``); a trailing unit is ignored (``5 m``, ``12 người``,
    ``4,5 kg``); ``1.500`` / ``1,500`` is 1500 for whole counts (``integer``) and refused as
    ambiguous otherwise.

    Returns
    -------
    (pandas.Series, list of RowProblem)
        ``Int64`` when ``integer`` else ``float64`` (missing where empty or refused), and
        problems ``bad_number`` (unreadable, ambiguous, or not whole) and ``out_of_range``,
        of the given ``severity``.

    Examples
    --------
    >>> cells = pd.Series(["4,5", "12 m", "1.500", "-1"], index=[2, 3, 4, 5])
    >>> nums, probs = parse_number(cells, minimum=0)
    >>> nums.tolist()[:2], [(p.row, p.reason) for p in probs]
    ([4.5, 12.0], [(4, 'bad_number'), (5, 'out_of_range')])
    """
    column = _column_name(values, column)
    text = _text(values, lower=True)
    text = _replace(_replace(text, r"^[~≈±]\s*", ""), r"(\d)\s*\p{L}[\p{L}\s./²³]*$", r"\1")
    present = _present(text)
    number = np.full(len(values), np.nan)
    ambiguous = np.zeros(len(values), dtype=bool)
    if present.any():
        got, amb = _numbers(
            text.filter(pa.array(present)), one_group="thousands" if integer else "ambiguous"
        )
        number[present], ambiguous[present] = got, amb
    unread = present & np.isnan(number) & ~ambiguous
    fractional = present & ~np.isnan(number) & integer & (number != np.round(number))
    low = present & (number < minimum) if minimum is not None else np.zeros_like(present)
    high = present & (number > maximum) if maximum is not None else np.zeros_like(present)
    bounds = _bounds_text(minimum, maximum)
    problems = problems_where(
        unread,
        values,
        column=column,
        reason="bad_number",
        message=lambda v: f"{v!r} is not a number; write digits, e.g. 12 or 4,5.",
        severity=severity,
    )
    problems += problems_where(
        ambiguous,
        values,
        column=column,
        reason="bad_number",
        message=lambda v: (
            f"{v!r} is ambiguous: one thousand five hundred, or one and a half? Write "
            f"{_digits(v)} or {_digits(v, decimal=True)}."
        ),
        severity=severity,
    )
    problems += problems_where(
        fractional,
        values,
        column=column,
        reason="bad_number",
        message=lambda v: f"{v!r} is not a whole number; write a count such as 3.",
        severity=severity,
    )
    problems += problems_where(
        (low | high) & ~fractional,
        values,
        column=column,
        reason="out_of_range",
        message=lambda v: f"{v!r} is outside the accepted range ({bounds}).",
        severity=severity,
    )
    bad = unread | ambiguous | fractional | low | high
    out = pd.Series(np.where(bad, np.nan, number), index=values.index)
    problems.sort(key=lambda p: p.row)
    return (out.round().astype("Int64") if integer else out.astype("float64")), problems


def parse_accuracy_flags(
    acc: pd.Series, *, cap_m: float = 30.0, column: str | None = None
) -> list[RowProblem]:
    """Flag GPS fixes less accurate than ``cap_m`` metres (``poor_gps_accuracy``).

    ``acc`` holds metres (from :func:`parse_number`); empty cells pass.

    Examples
    --------
    >>> [(p.row, p.reason) for p in parse_accuracy_flags(pd.Series([5.0, 80.0, None]))]
    [(1, 'poor_gps_accuracy')]
    """
    column = _column_name(acc, column)
    metres = pd.to_numeric(acc, errors="coerce").astype("float64")
    return problems_where(
        (metres > cap_m).to_numpy(),
        metres,
        column=column,
        reason="poor_gps_accuracy",
        message=lambda v: (
            f"The GPS accuracy is {v:.0f} m, worse than {cap_m:.0f} m: the point may lie in "
            f"the wrong group; check it on the map."
        ),
        severity="flag",
    )


def _amounts(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(amount or NaN, says "no amount") for VND text other than plain digits."""
    parts = pc.extract_regex(text, _AMOUNT)
    matched = ~np.asarray(pc.is_null(parts).to_numpy(zero_copy_only=False), dtype=bool)
    out = np.full(len(text), np.nan)
    none = ~matched & _matches(text, _NO_AMOUNT)
    if not matched.any():
        return out, none
    parts = parts.filter(pa.array(matched))
    a, _ = _numbers(parts.field("a"), one_group="thousands")
    ua, ub = _unit_factor(parts.field("ua")), _unit_factor(parts.field("ub"))
    b_text = parts.field("b")
    digits = pc.utf8_length(b_text).to_numpy(zero_copy_only=False).astype(float)
    b = np.zeros(len(parts))
    has_b = digits > 0
    if has_b.any():
        b[has_b] = pc.cast(b_text.filter(pa.array(has_b)), pa.float64()).to_numpy()
    whole_a = a == np.round(a)
    total = np.where(np.isnan(ua), a, a * ua)
    # "1 tỷ 200 triệu": a bigger unit, then a smaller one
    compound = has_b & ~np.isnan(ub)
    total[compound] = np.where(ub < ua, a * ua + b * ub, np.nan)[compound]
    # "1tr5", "2 triệu 500": the digits continue the number (1.5 triệu, 2.500 triệu)
    spoken = has_b & np.isnan(ub)
    total[spoken] = np.where(whole_a, (a + b / 10.0**digits) * ua, np.nan)[spoken]
    out[matched] = total
    return out, none


def _unit_factor(units: pa.Array) -> np.ndarray:
    names = pa.array(list(_UNITS), pa.large_string())
    where = pc.index_in(units.cast(pa.large_string()), value_set=names)
    found = where.to_numpy(zero_copy_only=False)
    factors = np.array([*_UNITS.values(), np.nan])
    return factors[np.where(pd.isna(found), len(_UNITS), found).astype(int)]


def _numbers(text: pa.Array, *, one_group: OneGroup) -> tuple[np.ndarray, np.ndarray]:
    """(value or NaN, ambiguous) for number text by the rules of the module docstring.

    Each rule reads only the cells the previous ones left, the cheapest rules first.
    """
    out = np.full(len(text), np.nan)
    ambiguous = np.zeros(len(text), dtype=bool)
    idx = np.flatnonzero(_present(text))
    sub = text.filter(pa.array(_present(text)))

    def take(hits: np.ndarray, clean: Callable[[pa.Array], pa.Array] | None) -> None:
        nonlocal idx, sub
        if not hits.any():
            return
        if clean is None:
            ambiguous[idx[hits]] = True
        else:
            cleaned = clean(sub.filter(pa.array(hits)))
            out[idx[hits]] = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
        idx, sub = idx[~hits], sub.filter(pa.array(~hits))

    take(_is_digits(sub), lambda t: t)
    if one_group == "decimal":
        take(_matches(sub, r"^[-+]?\d+(?:\.\d+)?$"), lambda t: t)
    if len(sub):
        one = _matches(sub, _ONE_GROUP)
        if one_group == "thousands":
            take(one, lambda t: _drop(t, ".,"))
        elif one_group == "decimal":
            take(one, lambda t: pc.replace_substring(t, ",", "."))
        else:
            take(one, None)
    for pattern, clean in (
        (r"^[-+]?\d+(?:\.\d+)?$", lambda t: t),
        (_GROUPED, lambda t: _drop(t, "., ")),
        (_DEC_DOT, lambda t: _drop(t, ", ")),
        (_DEC_COMMA, lambda t: pc.replace_substring(_drop(t, ". "), ",", ".")),
    ):
        if len(sub):
            take(_matches(sub, pattern), clean)
    return out, ambiguous


def _drop(text: pa.Array, chars: str) -> pa.Array:
    for ch in chars:
        text = pc.replace_substring(text, ch, "")
    return text


def _is_digits(text: pa.Array) -> np.ndarray:
    hits = pc.fill_null(pc.ascii_is_decimal(text), False)
    return np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool)


def _digits(text: str, *, decimal: bool = False) -> str:
    """The two readings of an ambiguous number: ``1.500`` -> ``1500`` or ``1.5``."""
    digits = "".join(ch for ch in str(text) if ch.isdigit() or ch in ".,")
    if not decimal:
        return digits.replace(".", "").replace(",", "")
    return f"{float(digits.replace(',', '.')):g}"


def _bounds_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"{minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"at least {minimum:g}"
    return f"at most {maximum:g}" if maximum is not None else "any"


def _suffixed(why: str) -> Callable[[Any], str]:
    return lambda v: f"{v!r} {why}."


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"


# --- positions ----------------------------------------------------------------------------

_DMS = (
    r"^(?P<h1>[nsewbđt])?\s*(?P<sign>[-+])?\s*(?P<d>\d{1,3}(?:\.\d+)?)(?:\s*°\s*|\s+)?"
    r"(?:(?P<m>\d{1,2}(?:\.\d+)?)(?:\s*'\s*|\s+)?(?:(?P<s>\d{1,2}(?:\.\d+)?)\s*\"?)?)?"
    r"\s*(?P<h2>[nsewbđt])?\.?$"
)
_SYMBOLS: tuple[tuple[str, str], ...] = (
    ("[º˚°]", "°"),
    ("[″”“]|''|′′|’’", '"'),
    ("[′’‘´`]", "'"),
    (",", "."),
)
# ODK geopoints add altitude and accuracy after the pair, separated by spaces.
_GEO_DOT = (
    r"^[\[(]?\s*(?P<lat>[-+]?\d+(?:\.\d+)?)\s*(?:[,;]\s*|\s+)(?P<lon>[-+]?\d+(?:\.\d+)?)"
    r"(?:\s+[-+]?\d+(?:\.\d+)?(?:\s+(?P<acc>\d+(?:\.\d+)?))?)?\s*[\])]?$"
)
_GEO_COMMA = (
    r"^[\[(]?\s*(?P<lat>[-+]?\d+(?:,\d+)?)\s*(?:;\s*|\s+)(?P<lon>[-+]?\d+(?:,\d+)?)"
    r"(?:\s+[-+]?\d+(?:,\d+)?(?:\s+(?P<acc>\d+(?:,\d+)?))?)?\s*[\])]?$"
)
_GEO_LETTERS = r"^[\[(]?\s*(?P<lat>[^,;]*?[nsewbđtNSEWBĐT]\.?)\s*[,;]?\s+(?P<lon>.*?)\s*[\])]?$"
_LAT_AXIS, _LON_AXIS = 1, 2


def parse_geolocation(values: pd.Series) -> pd.DataFrame:
    """Split one-column positions into ``lat``, ``lon`` (and ``accuracy``) text columns.

    Reads KoboToolbox ``_geolocation`` (``[21.01, 105.83]``), ODK geopoints
    (``21.01 105.83 12.5 5`` = lat lon altitude accuracy), ``21.01,105.83``, ``21,01;105,83``
    and DMS pairs (``21°00'44"N 105°50'12"E``). A cell that cannot be split goes whole into
    both columns, so that :func:`parse_coordinates` reports it.

    Examples
    --------
    >>> split = parse_geolocation(pd.Series(["[21.01, 105.83]", "21.01 105.83 12 5", None]))
    >>> split.to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'lat': ['21.01', '21.01', None], 'lon': ['105.83', '105.83', None],
     'accuracy': [None, '5', None]}
    """
    text = _text(values)
    lat = np.full(len(values), None, dtype=object)
    lon = lat.copy()
    acc = lat.copy()
    left = _present(text)
    for pattern in (_GEO_COMMA, _GEO_DOT, _GEO_LETTERS):
        rows = left & _matches(text, pattern)
        if not rows.any():
            continue
        parts = pc.extract_regex(text.filter(pa.array(rows)), pattern)
        lat[rows] = parts.field("lat").to_numpy(zero_copy_only=False)
        lon[rows] = parts.field("lon").to_numpy(zero_copy_only=False)
        if pattern != _GEO_LETTERS:
            got = np.asarray(parts.field("acc").to_numpy(zero_copy_only=False), dtype=object)
            got[got == ""] = None
            acc[rows] = got
        left &= ~rows
    whole = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    lat[left], lon[left] = whole[left], whole[left]
    frame = pd.DataFrame({"lat": lat, "lon": lon, "accuracy": acc}, index=values.index)
    return frame.astype(object).where(frame.notna(), None)


def parse_coordinates(
    lat: pd.Series,
    lon: pd.Series,
    *,
    lat_column: str | None = None,
    lon_column: str | None = None,
    crs: str | int | CRS | None = None,
    ward: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
) -> tuple[gpd.GeoSeries, list[RowProblem]]:
    """Read latitude/longitude (or northing/easting) cells as points in EPSG:4326.

    Cells may hold decimal degrees (``21.0123``, ``21,0123``), degrees-minutes-seconds
    (``21°00'44.3"N``, ``21 0 44.3 N``, ``105°50′12″E``; hemisphere letters N/S/E/W, or B/Đ/T
    for Bắc/Đông/Tây) or, with ``crs``, projected metres (``lat`` the northing, ``lon`` the
    easting; VN-2000 sheets that call the northing "X" are recognised as swapped).

    Parameters
    ----------
    lat, lon
        Raw text cells, indexed by the row numbers the user sees.
    lat_column, lon_column
        The file's column names, for the problems (default: the series' names).
    crs
        The CRS of the values when they are not WGS84 degrees (``--crs``), e.g.
        ``"EPSG:5897"`` (VN-2000 / TM-3, Hà Nội) or ``"EPSG:3405"`` (VN-2000 / UTM 48N).
    ward
        Where the records should be (EPSG:4326 or any CRS set): used to recognise swapped
        columns, to check a declared projected ``crs`` and to suggest one.

    Returns
    -------
    (geopandas.GeoSeries, list of RowProblem)
        Points in EPSG:4326 (``None`` where refused) and problems: reject ``no_position``,
        ``bad_coordinates``, ``zero_coordinates``, ``needs_crs``; flag ``swapped_lat_lon``
        where latitude and longitude were swapped and that could be told for sure (a value
        out of range, hemisphere letters, or only the swapped reading lies within 5 km of
        the ward).

    Raises
    ------
    InputError
        When ``crs`` is unknown, or projected while the values are all degrees.
    CRSMismatchError
        When ``crs`` and ``ward`` are given and another VN-2000 CRS fits the points better
        (or none fits); the message names the likely right CRS.

    Examples
    --------
    >>> rows = [2, 3, 4]
    >>> pts, probs = parse_coordinates(pd.Series(["21,0123", "105.83", "0"], index=rows),
    ...                                pd.Series(["105°50'12\\"E", "21.01", "0"], index=rows))
    >>> [(round(p.x, 4), round(p.y, 4)) for p in pts[:2]]
    [(105.8367, 21.0123), (105.83, 21.01)]
    >>> [(p.row, p.reason) for p in probs]
    [(3, 'swapped_lat_lon'), (4, 'zero_coordinates')]
    """
    lat_column = _column_name(lat, lat_column)
    lon_column = _column_name(lon, lon_column)
    if len(lat) != len(lon) or not lat.index.equals(lon.index):
        raise InputError(f"{lat_column} and {lon_column} must be two columns of the same table.")
    target = _check_crs(crs)
    ward_geom = _ward_4326(ward)
    lat_text, lon_text = _text(lat, lower=True), _text(lon, lower=True)
    y, y_axis = _degrees(lat_text)
    x, x_axis = _degrees(lon_text)
    has_y, has_x = _present(lat_text), _present(lon_text)
    # Why each refused row is refused, first cause only (see _POSITION_REASONS).
    why = np.full(len(lat), "", dtype=object)
    why[~(has_y & has_x)] = "empty"
    why[(why == "") & (np.isnan(y) | np.isnan(x))] = "unreadable"
    why[(why == "") & (y == 0) & (x == 0)] = "zero"
    if target is not None and target.is_projected:
        lon_deg, lat_deg, swapped, outside = _projected(y, x, why == "", target, ward_geom)
        why[outside] = "area"
    else:
        why[(why == "") & ((np.abs(y) > 1_000) | (np.abs(x) > 1_000))] = "metres"
        lon_deg, lat_deg, swapped, outside = _geographic(
            y, x, why == "", target, ward_geom, axes=(y_axis, x_axis)
        )
        why[outside] = "range"
    ok = why == ""
    geoms = np.full(len(lat), None, dtype=object)
    geoms[ok] = shapely.points(lon_deg[ok], lat_deg[ok])
    points = gpd.GeoSeries(geoms, index=lat.index, crs=STORAGE_CRS)
    hint = _needs_crs_hint(y, x, why == "metres", ward_geom)
    problems = _position_problems(
        why, swapped & ok, (lat, lon), (lat_column, lon_column), (lat_deg, lon_deg), target, hint
    )
    return points, problems


def _position_problems(
    why: np.ndarray,
    swapped: np.ndarray,
    cells: tuple[pd.Series, pd.Series],
    columns: tuple[str | None, str | None],
    degrees: tuple[np.ndarray, np.ndarray],
    target: CRS | None,
    hint: str,
) -> list[RowProblem]:
    """The problems of parse_coordinates: one per refused row, one flag per swapped row."""
    lat, lon = cells
    lat_column, lon_column = columns
    lat_deg, lon_deg = degrees
    ok = why == ""
    has_y = _present(_text(lat)) if (why == "empty").any() else ok
    where = lat_column if lat_column == lon_column else f"{lat_column} / {lon_column}"
    if lat_column is None or lon_column is None:
        where = "latitude / longitude"
    messages = {
        "empty": lambda i: (
            f"The position is empty ({where}); fill in latitude and longitude, or place the "
            f"record on the map."
        ),
        "unreadable": lambda i: (
            f"{_pair(lat, lon, i)} cannot be read as a position: write decimal degrees "
            f"(21.0123, 105.8345) or degrees-minutes-seconds (21°00'44.3\"N)."
        ),
        "zero": lambda i: (
            "The position is 0, 0 (a phone without a GPS fix writes it); place the record on "
            "the map or fill in its coordinates."
        ),
        "metres": lambda i: (
            f"{_pair(lat, lon, i)} look like projected metres (VN-2000?), not degrees: import "
            f"again with {hint}."
        ),
        "range": lambda i: (
            f"{_pair(lat, lon, i)} is not a position on Earth: latitude lies within ±90 and "
            f"longitude within ±180."
        ),
        "area": lambda i: (
            f"{_pair(lat, lon, i)} lies outside the area of {_crs_label(target)}"
            f" (check the columns and --crs)."
            if target is not None
            else ""
        ),
    }
    rows = lat.index.to_numpy()
    problems = [
        RowProblem(
            int(rows[i]),
            lon_column if why[i] == "empty" and has_y[i] else lat_column,
            _POSITION_REASONS[why[i]],
            messages[why[i]](i),
        )
        for i in np.flatnonzero(~ok)
    ]
    problems += [
        RowProblem(
            int(rows[i]),
            lat_column,
            "swapped_lat_lon",
            f"Latitude and longitude were swapped ({_pair(lat, lon, int(i))}); read as latitude "
            f"{lat_deg[i]:.6f}, longitude {lon_deg[i]:.6f}. Check the columns of the file.",
            "flag",
        )
        for i in np.flatnonzero(swapped)
    ]
    return sorted(problems, key=lambda p: p.row)


_POSITION_REASONS = {
    "empty": "no_position",
    "unreadable": "bad_coordinates",
    "zero": "zero_coordinates",
    "metres": "needs_crs",
    "range": "bad_coordinates",
    "area": "bad_coordinates",
}


def _pair(lat: pd.Series, lon: pd.Series, i: int) -> str:
    if lat.iloc[i] == lon.iloc[i]:  # one cell split by parse_geolocation, or a copy
        return repr(lat.iloc[i])
    return f"{lat.iloc[i]!r}, {lon.iloc[i]!r}"


def _degrees(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(value, axis hint from a hemisphere letter: 0 none, 1 latitude, 2 longitude)."""
    value, _ = _numbers(text, one_group="decimal")
    axis = np.zeros(len(text), dtype=np.int8)
    rest = _present(text) & np.isnan(value)
    if not rest.any():
        return value, axis
    sub = text.filter(pa.array(rest))
    for pattern, repl in _SYMBOLS:
        sub = _replace(sub, pattern, repl)
    parts = pc.extract_regex(sub, _DMS)
    got = ~np.asarray(pc.is_null(parts).to_numpy(zero_copy_only=False), dtype=bool)
    if not got.any():
        return value, axis
    f = {
        k: np.asarray(pc.fill_null(parts.field(k), "").to_numpy(zero_copy_only=False), dtype=str)
        for k in ("h1", "sign", "d", "m", "s", "h2")
    }
    d, m, s = (np.where(f[k] == "", "0", f[k]).astype(float) for k in ("d", "m", "s"))
    hemi = np.char.add(f["h1"], f["h2"])
    minus = f["sign"] == "-"
    valid = (
        got
        & (m < 60)
        & (s < 60)
        & (np.char.str_len(hemi) <= 1)
        & ~(minus & (hemi != ""))
        # only the last part may have decimals: 21.5°30' is no angle
        & ~((f["m"] != "") & (np.char.find(f["d"], ".") >= 0))
        & ~((f["s"] != "") & (np.char.find(f["m"], ".") >= 0))
    )
    sign = np.where(minus | np.isin(hemi, ["s", "w", "t"]), -1.0, 1.0)
    idx = np.flatnonzero(rest)
    value[idx[valid]] = ((d + m / 60 + s / 3600) * sign)[valid]
    axis[idx[valid & np.isin(hemi, ["n", "s", "b"])]] = _LAT_AXIS
    axis[idx[valid & np.isin(hemi, ["e", "w", "đ", "t"])]] = _LON_AXIS
    return value, axis


def _geographic(
    y: np.ndarray,
    x: np.ndarray,
    ok: np.ndarray,
    crs: CRS | None,
    ward: BaseGeometry | None,
    *,
    axes: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Degrees: (lon, lat in EPSG:4326, swapped, out of range)."""
    y_axis, x_axis = axes
    straight = (np.abs(y) <= 90) & (np.abs(x) <= 180)
    crossed = (np.abs(x) <= 90) & (np.abs(y) <= 180)
    lettered = ((y_axis == _LON_AXIS) & (x_axis != _LON_AXIS)) | (
        (x_axis == _LAT_AXIS) & (y_axis != _LAT_AXIS)
    )
    swapped = ok & crossed & (lettered | ~straight)
    if ward is not None:
        doubtful = ok & straight & crossed & ~swapped & (y_axis == 0) & (x_axis == 0)
        if doubtful.any():
            near_straight = _near(x, y, doubtful, ward, crs)
            near_crossed = _near(y, x, doubtful, ward, crs)
            swapped |= doubtful & near_crossed & ~near_straight
    lat = np.where(swapped, x, y)
    lon = np.where(swapped, y, x)
    outside = ok & ~((np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    if crs is not None and not crs.equals(STORAGE_CRS, ignore_axis_order=True):
        lon, lat = _transform(lon, lat, ok & ~outside, crs)
    return lon, lat, swapped, outside


def _projected(
    y: np.ndarray, x: np.ndarray, ok: np.ndarray, crs: CRS, ward: BaseGeometry | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Northing/easting in ``crs``: (lon, lat in EPSG:4326, swapped, outside the CRS area)."""
    if ok.any() and ((np.abs(y[ok]) <= 90) & (np.abs(x[ok]) <= 180)).all():
        first = np.flatnonzero(ok)[0]
        raise InputError(
            f"The coordinates look like degrees (e.g. {y[first]:g}, {x[first]:g}), not metres "
            f"of {_crs_label(crs)}: leave out the CRS (--crs) for GPS latitude/longitude."
        )
    lon, lat = _transform(x, y, ok, crs)
    fits = ok & _in_area(lon, lat, crs)
    retry = ok & ~fits
    if ward is not None:
        retry |= fits & ~_near(lon, lat, fits, ward, None)
    swapped = np.zeros(len(y), dtype=bool)
    if retry.any():
        lon2, lat2 = _transform(y, x, retry, crs)
        swapped = retry & _in_area(lon2, lat2, crs)
        if ward is not None:  # a point that fits but lies far is swapped only to the ward
            swapped &= ~fits | _near(lon2, lat2, swapped, ward, None)
        lon, lat = np.where(swapped, lon2, lon), np.where(swapped, lat2, lat)
        fits |= swapped
    if ward is not None:
        _check_declared_crs(np.where(swapped, y, x), np.where(swapped, x, y), fits, crs, ward)
    return lon, lat, swapped, ok & ~fits


def _check_declared_crs(
    easting: np.ndarray, northing: np.ndarray, rows: np.ndarray, crs: CRS, ward: BaseGeometry
) -> None:
    idx = np.flatnonzero(rows)
    if not len(idx):
        return
    if len(idx) > _CRS_SAMPLE:
        idx = idx[np.linspace(0, len(idx) - 1, _CRS_SAMPLE).astype(int)]
    points = gpd.GeoSeries(shapely.points(easting[idx], northing[idx]), crs=crs)
    check_crs_against(points, ward, what="the upload")


def _near(
    lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, ward: BaseGeometry, crs: CRS | None
) -> np.ndarray:
    """Whether each point (in ``crs``, default EPSG:4326) lies within 5 km of the ward."""
    out = np.zeros(len(lon), dtype=bool)
    if not rows.any():
        return out
    ward_series = gpd.GeoSeries([ward], crs=STORAGE_CRS)
    metric = metric_crs(ward_series)
    zone = shapely.buffer(ward_series.to_crs(metric).iloc[0], _SWAP_NEAR_M)
    shapely.prepare(zone)
    to_metric = Transformer.from_crs(crs or STORAGE_CRS, metric, always_xy=True)
    with np.errstate(invalid="ignore"):
        mx, my = to_metric.transform(lon[rows], lat[rows], errcheck=False)
    out[rows] = shapely.contains_xy(zone, np.asarray(mx), np.asarray(my))
    return out


def _transform(
    x: np.ndarray, y: np.ndarray, rows: np.ndarray, crs: CRS
) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.full(len(x), np.nan), np.full(len(x), np.nan)
    if rows.any():
        to_4326 = Transformer.from_crs(crs, STORAGE_CRS, always_xy=True)
        with np.errstate(invalid="ignore"):
            tx, ty = to_4326.transform(x[rows], y[rows], errcheck=False)
        lon[rows], lat[rows] = tx, ty
    return lon, lat


def _in_area(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> np.ndarray:
    """Within the CRS's area of use (1° of margin), where its coordinates mean something."""
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        area = crs.area_of_use
        if area is None:
            return inside
        return (
            inside
            & (lon >= area.west - 1)
            & (lon <= area.east + 1)
            & (lat >= area.south - 1)
            & (lat <= area.north + 1)
        )


def _needs_crs_hint(
    y: np.ndarray, x: np.ndarray, rows: np.ndarray, ward: BaseGeometry | None
) -> str:
    """``--crs EPSG:5897`` when only that candidate puts the metres in the ward, else both."""
    both = (
        f"--crs {HANOI_CRS} (VN-2000 / TM-3 zone 482, Hà Nội's cadastral maps) or "
        f"--crs {VN2000_UTM48_CRS} (VN-2000 / UTM 48N)"
    )
    if ward is None or not rows.any():
        return both
    some = np.zeros(len(y), dtype=bool)
    some[np.flatnonzero(rows)[:_CRS_SAMPLE]] = True
    near = shapely.buffer(ward, 0.002)  # about 200 m: the two candidates lie 700 m apart
    scores = {}
    for name in (HANOI_CRS, VN2000_UTM48_CRS):
        crs = CRS.from_user_input(name)
        counts = []
        for east, north in ((x, y), (y, x)):
            lon, lat = _transform(east, north, some, crs)
            counts.append(int(shapely.contains_xy(near, lon[some], lat[some]).sum()))
        scores[name] = max(counts)
    best = max(scores, key=lambda k: scores[k])
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return both
    return f"--crs {best} ({CRS.from_user_input(best).name}, which puts them in the ward)"


def _check_crs(crs: str | int | CRS | None) -> CRS | None:
    if crs is None:
        return None
    try:
        return CRS.from_user_input(crs)
    except CRSError as err:
        raise InputError(
            f"crs={crs!r} is not a CRS pyproj knows; use e.g. {HANOI_CRS} (VN-2000 / TM-3, "
            f"Hà Nội) or {VN2000_UTM48_CRS} (VN-2000 / UTM 48N)."
        ) from err


def _ward_4326(
    ward: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None,
) -> BaseGeometry | None:
    if ward is None or isinstance(ward, BaseGeometry):
        return ward
    if ward.crs is None:
        raise InputError("ward has no CRS; set it (EPSG:4326 for longitude/latitude).")
    geom = shapely.make_valid(ward.geometry.to_crs(STORAGE_CRS).union_all())
    return None if geom.is_empty else geom


def _crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


# --- text helpers -------------------------------------------------------------------------


def _text(values: pd.Series, *, lower: bool = False) -> pa.Array:
    """The cells as a pyarrow string array: NFC, spaces unified and trimmed, "" as null."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        strings = values
    else:
        strings = values.astype(pd.StringDtype("pyarrow"))
    arr = pa.array(strings.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    wide = ~np.asarray(
        pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False), dtype=bool
    )
    if wide.any():  # only non-ASCII cells can hold decomposed letters or odd spaces
        sub = arr.filter(pa.array(wide))
        if pc.any(pc.match_substring_regex(sub, r"[\x{0300}-\x{036f}]")).as_py():
            sub = pc.utf8_normalize(sub, "NFC")  # "Vĩ độ" typed on a Mac
        sub = _replace(sub, r"[\x{00a0}\x{2007}\x{2009}\x{202f}]", " ")
        arr = pc.replace_with_mask(arr, pa.array(wide), sub)
    arr = pc.utf8_trim_whitespace(arr)
    if lower:
        arr = pc.utf8_lower(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def _replace(arr: pa.Array, pattern: str, repl: str) -> pa.Array:
    if not pc.any(pc.match_substring_regex(arr, pattern)).as_py():
        return arr
    return pc.replace_substring_regex(arr, pattern, repl)


def _matches(arr: pa.Array, pattern: str) -> np.ndarray:
    hits = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    return np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool)


def _present(arr: pa.Array) -> np.ndarray:
    empty = pc.or_kleene(pc.is_null(arr), pc.equal(pc.utf8_length(arr), 0))
    return ~np.asarray(pc.fill_null(empty, True).to_numpy(zero_copy_only=False), dtype=bool)


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


def _column_name(values: pd.Series, column: str | None) -> str | None:
    if column is not None:
        return column
    return None if values.name is None else str(values.name)
