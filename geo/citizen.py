"""Citizen reports (phản ánh, kiến nghị): office-hour deadlines, lateness and the overdue list.

Hà Nội handles citizen reports iHanoi-style: each report has a severity (1 routine, 2 priority,
3 urgent) and must be accepted within 8 working hours, then resolved within a time that depends
on its severity (``data/citizen_deadlines.csv``). Deadlines count working hours of the state
offices, not clock hours:

- office hours Monday to Friday 8:00–12:00 and 13:00–17:00, 8 h a day: the 40-hour week of
  state offices (Quyết định 188/1999/QĐ-TTg) with the hours Hà Nội set for its city, district
  and ward offices (Quyết định 315/QĐ-UBND, 2012, moved the start to 8:00 in the inner
  districts); the one-stop counter receives files 8:00–11:00 and 13:30–16:30 (Quyết định
  18/2020/QĐ-UBND, Art. 9) but its staff work the full day, so the deadline clock runs 8 h;
- public holidays, compensatory days and the swapped days of ``data/holidays.csv`` (2025–2026;
  outside the years it covers only weekends are known, and a warning says so).

Working time is measured on one clock: the working nanoseconds since a day before the earliest
time involved. Adding hours is then an addition on that clock and a search back to wall time,
so a few thousand reports take milliseconds.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.config import DATA_DIR, TIMEZONE_NAME
from geo.errors import InputError
from geo.i18n import Lang, t

__all__ = [
    "OFFICE_HOURS",
    "WorkingCalendar",
    "add_working_hours",
    "deadline_table",
    "overdue_reports",
    "report_deadlines",
    "severity_label",
    "working_calendar",
    "working_hours_between",
]

log = logging.getLogger(__name__)

#: Office hours of Hà Nội's state offices, (start, end) in hours of the day.
OFFICE_HOURS: tuple[tuple[float, float], ...] = ((8.0, 12.0), (13.0, 17.0))

_NS_H = 3_600_000_000_000
_NS_DAY = 24 * _NS_H
_NAT = np.iinfo(np.int64).min
#: Statuses that close a report whatever its timestamps say.
_CLOSED = ("resolved", "rejected")


@dataclass(frozen=True)
class WorkingCalendar:
    """Office hours, days off and make-up working days (Saturdays worked after a swap)."""

    hours: tuple[tuple[float, float], ...] = OFFICE_HOURS
    off: frozenset[dt.date] = frozenset()
    work: frozenset[dt.date] = frozenset()
    years: tuple[int, ...] = ()

    @property
    def hours_per_day(self) -> float:
        """Working hours of a full working day."""
        return sum(end - start for start, end in self.hours)


@cache
def working_calendar(path: Path | None = None) -> WorkingCalendar:
    """The calendar of ``data/holidays.csv`` (or ``path``) with Hà Nội's office hours.

    Examples
    --------
    >>> cal = working_calendar()
    >>> dt.date(2025, 1, 27) in cal.off, dt.date(2025, 4, 26) in cal.work, cal.hours_per_day
    (True, True, 8.0)
    """
    path = path or DATA_DIR / "holidays.csv"
    off: set[dt.date] = set()
    work: set[dt.date] = set()
    problems = []
    with path.open(encoding="utf-8", newline="") as f:
        lines = [(n, text) for n, text in enumerate(f, start=1) if not text.startswith("#")]
    numbers = [n for n, _ in lines][1:]
    for n, row in zip(numbers, csv.DictReader(text for _, text in lines), strict=True):
        try:
            start, end = dt.date.fromisoformat(row["start"]), dt.date.fromisoformat(row["end"])
        except (TypeError, ValueError):
            problems.append(f"line {n}: start/end must be ISO dates (YYYY-MM-DD)")
            continue
        if row["kind"] not in ("off", "work") or end < start:
            problems.append(f"line {n}: kind must be off or work, and end not before start")
            continue
        days = {start + dt.timedelta(days=k) for k in range((end - start).days + 1)}
        (off if row["kind"] == "off" else work).update(days)
    if problems:
        raise InputError(f"{path.name} has problems:\n- " + "\n- ".join(problems))
    years = tuple(sorted({d.year for d in off | work}))
    return WorkingCalendar(off=frozenset(off), work=frozenset(work), years=years)


def add_working_hours(
    t: Any, hours: float | Any, *, calendar: WorkingCalendar | None = None
) -> Any:
    """The time ``hours`` working hours after ``t``: the earliest instant they are used up.

    Parameters
    ----------
    t
        A timestamp or a Series of them (naive times are Hà Nội time); NaT stays NaT.
    hours
        Non-negative working hours, one number or one per timestamp.
    calendar
        Office hours and holidays; default :func:`working_calendar`.

    Returns
    -------
    Timestamp or Series
        Like ``t``, in Asia/Ho_Chi_Minh time. A deadline that ends with a working day is that
        day's 17:00, not the next morning.

    Examples
    --------
    >>> str(add_working_hours(pd.Timestamp("2025-07-04 16:00"), 8))  # Friday, lunch excluded
    '2025-07-07 16:00:00+07:00'
    >>> str(add_working_hours(pd.Timestamp("2025-01-24 15:00"), 8))  # the eve of Tết 2025
    '2025-02-03 15:00:00+07:00'
    """
    cal = calendar or working_calendar()
    stamps, scalar = _series(t, "t")
    given = np.asarray(hours, dtype="float64").ravel()
    if given.size not in (1, len(stamps)):
        raise InputError(f"hours: give one number or {len(stamps)}, got {given.size}.")
    given = np.broadcast_to(given, (len(stamps),))
    if (given < 0).any():
        raise InputError("hours must not be negative; a deadline lies after its start.")
    start = _nanoseconds(stamps)
    valid = (start != _NAT) & np.isfinite(given)
    step = np.zeros(len(start), dtype=np.int64)
    step[valid] = np.round(given[valid] * _NS_H).astype(np.int64)
    out = np.full(len(start), _NAT, dtype=np.int64)
    if valid.any():
        out[valid] = start[valid]  # no hours: the start itself, even outside office hours
        moving = valid & (step > 0)
        if moving.any():
            clock = _Clock(cal, start[moving], extra_ns=int(step[moving].max()))
            out[moving] = clock.to_time(clock.to_working(start[moving]) + step[moving])
    result = pd.Series(out.view("datetime64[ns]"), index=stamps.index).dt.tz_localize(TIMEZONE_NAME)
    return result.iloc[0] if scalar else result


def working_hours_between(a: Any, b: Any, *, calendar: WorkingCalendar | None = None) -> Any:
    """Working hours from ``a`` to ``b`` (negative when ``b`` is earlier); NaN with a NaT.

    ``a`` and ``b`` are timestamps or Series of equal length (a scalar is broadcast); the result
    is a float or a Series indexed like the Series given.

    Examples
    --------
    >>> working_hours_between(pd.Timestamp("2025-07-04 11:00"), pd.Timestamp("2025-07-07 09:30"))
    6.5
    """
    cal = calendar or working_calendar()
    first, scalar_a = _series(a, "a")
    second, scalar_b = _series(b, "b")
    n = max(len(first), len(second))
    if len(first) != len(second) and 1 not in (len(first), len(second)):
        raise InputError(f"a and b must be of equal length, got {len(first)} and {len(second)}.")
    x = np.broadcast_to(_nanoseconds(first), (n,))
    y = np.broadcast_to(_nanoseconds(second), (n,))
    valid = (x != _NAT) & (y != _NAT)
    out = np.full(n, np.nan)
    if valid.any():
        clock = _Clock(cal, np.concatenate([x[valid], y[valid]]))
        out[valid] = (clock.to_working(y[valid]) - clock.to_working(x[valid])) / _NS_H
    if scalar_a and scalar_b:
        return float(out[0])
    index = first.index if not scalar_a else second.index
    return pd.Series(out, index=index, dtype="float64")


def deadline_table(path: Path | None = None) -> pd.DataFrame:
    """Working hours to accept and to resolve a report, indexed by severity (1, 2, 3).

    The defaults come from ``data/citizen_deadlines.csv``; a ward with other deadlines edits
    that file, or passes its own table as ``deadlines=`` to :func:`report_deadlines`.

    Examples
    --------
    >>> deadline_table().loc[3].tolist()
    [8.0, 8.0]
    """
    return _read_deadlines(path or DATA_DIR / "citizen_deadlines.csv").copy()


@cache
def _read_deadlines(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, comment="#").set_index("severity")
    numbers = table[["accept_hours", "resolve_hours"]].apply(pd.to_numeric, errors="coerce")
    if sorted(table.index) != [1, 2, 3] or numbers.isna().any().any() or (numbers <= 0).any().any():
        raise InputError(
            f"{path.name}: give severities 1, 2 and 3 once each with positive accept_hours and "
            "resolve_hours (working hours)."
        )
    return numbers.astype("float64").sort_index()


def severity_label(level: int, lang: Lang = "vi") -> str:
    """The label of severity ``level`` (1–3) in ``lang``.

    Examples
    --------
    >>> severity_label(3, "vi"), severity_label(1, "en")
    ('Khẩn cấp', 'Routine')
    """
    if level not in (1, 2, 3):
        raise InputError(f"severity must be 1, 2 or 3, got {level!r}.")
    return t(f"citizen.severity.{level}", lang)


def report_deadlines(
    reports: pd.DataFrame,
    *,
    now: pd.Timestamp | str,
    calendar: WorkingCalendar | None = None,
    deadlines: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The deadlines of each report, whether they were kept, and what is overdue at ``now``.

    Parameters
    ----------
    reports
        Citizen reports with ``received_at`` and, where known, ``severity`` (1–3; missing is
        taken as 1, routine), ``accepted_at``, ``resolved_at`` and ``status`` (``resolved`` and
        ``rejected`` close a report even without a time).
    now
        The time of the check (naive: Hà Nội time).
    calendar, deadlines
        Default :func:`working_calendar` and :func:`deadline_table`.

    Returns
    -------
    DataFrame
        ``reports`` (same index) with ``accept_due``; ``resolve_due`` (counted from acceptance,
        or from ``accept_due`` when acceptance was late or has not happened, so lateness buys no
        time); ``accepted_late`` and ``resolved_late`` (NA until it happened); ``overdue`` (open
        and past a due time at ``now``); ``overdue_stage`` (``"accept"`` or ``"resolve"``) and
        ``overdue_hours`` (working hours past that due time; 0 when not overdue, and still 0
        over a weekend that follows a Friday 17:00 deadline).
    """
    if not isinstance(reports, pd.DataFrame) or "received_at" not in reports.columns:
        raise InputError("reports need a received_at column (the citizen_reports table).")
    table = deadline_table() if deadlines is None else deadlines
    cal = calendar or working_calendar()
    level = _severity(reports, table)
    received = _column(reports, "received_at")
    accepted_at = _column(reports, "accepted_at")
    resolved_at = _column(reports, "resolved_at")
    status = (
        reports["status"].astype("string").str.strip().str.lower()
        if "status" in reports.columns
        else pd.Series(pd.NA, index=reports.index, dtype="string")
    )
    at = pd.Timestamp(now)
    at = at.tz_localize(TIMEZONE_NAME) if at.tzinfo is None else at.tz_convert(TIMEZONE_NAME)

    accept_due = add_working_hours(
        received, table.loc[level, "accept_hours"].to_numpy(), calendar=cal
    )
    clock_start = accepted_at.where(accepted_at <= accept_due, accept_due)
    resolve_due = add_working_hours(
        clock_start, table.loc[level, "resolve_hours"].to_numpy(), calendar=cal
    )
    closed = (resolved_at.notna() | status.isin(_CLOSED).fillna(False)).to_numpy()
    accepted = (accepted_at.notna() | status.eq("accepted").fillna(False)).to_numpy() | closed
    late_accept = ~accepted & (accept_due < at).to_numpy()
    late_resolve = ~closed & (resolve_due < at).to_numpy()
    due = accept_due.where(late_accept, resolve_due)
    hours = working_hours_between(due, at, calendar=cal).clip(lower=0)

    out = reports.copy()
    out["accept_due"] = accept_due
    out["resolve_due"] = resolve_due
    out["accepted_late"] = _late(accepted_at, accept_due)
    out["resolved_late"] = _late(resolved_at, resolve_due)
    out["overdue"] = late_accept | late_resolve
    stage = pd.Series(pd.NA, index=reports.index, dtype="string")
    stage[late_resolve] = "resolve"
    stage[late_accept] = "accept"
    out["overdue_stage"] = stage
    out["overdue_hours"] = hours.where(out["overdue"], 0.0).astype("float64")
    return out


def overdue_reports(
    reports: pd.DataFrame,
    *,
    now: pd.Timestamp | str,
    lang: Lang = "vi",
    calendar: WorkingCalendar | None = None,
    deadlines: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The reports overdue at ``now``, for the page: most severe first, then most overdue.

    Returns the rows of :func:`report_deadlines` with ``overdue``, plus ``severity_label`` and
    ``stage_label`` in ``lang``, ordered by severity (3 first), working hours overdue, then the
    time received; the index is reset.

    Examples
    --------
    >>> reports = pd.DataFrame({"report_id": ["a", "b", "c"], "severity": [1, 3, 3],
    ...     "received_at": pd.to_datetime(["2025-07-01 09:00", "2025-07-03 09:00",
    ...                                    "2025-07-08 16:00"])})
    >>> late = overdue_reports(reports, now="2025-07-08 17:00")
    >>> late[["report_id", "overdue_stage", "overdue_hours"]].to_numpy().tolist()
    [['b', 'accept', 23.0], ['a', 'accept', 39.0]]
    """
    table = report_deadlines(reports, now=now, calendar=calendar, deadlines=deadlines)
    late = table[table["overdue"]].copy()
    levels = _severity(late, deadline_table() if deadlines is None else deadlines)
    late["severity_label"] = pd.Series(
        [severity_label(int(v), lang) for v in levels], index=late.index, dtype="string"
    )
    late["_level"] = levels
    late = late.sort_values(
        ["_level", "overdue_hours", "received_at"], ascending=[False, False, True]
    ).drop(columns="_level")
    late["stage_label"] = (
        late["overdue_stage"].map(lambda s: t(f"citizen.stage.{s}", lang)).astype("string")
    )
    return late.reset_index(drop=True)


# --- the working clock ------------------------------------------------------------------------


class _Clock:
    """Working nanoseconds since the first day of a table of days wide enough for the inputs."""

    def __init__(self, cal: WorkingCalendar, ns: np.ndarray, *, extra_ns: int = 0) -> None:
        hours = np.array(cal.hours, dtype="float64").reshape(-1, 2)
        ordered = (np.diff(hours.ravel()) > 0).all() and hours.min() >= 0 and hours.max() <= 24
        if not ordered:
            raise InputError(
                f"office hours must be ordered (start, end) pairs in 0-24: {cal.hours}"
            )
        self.segments = hours * _NS_H
        self.per_day = round(float(sum(e - s for s, e in self.segments)))
        if self.per_day <= 0:
            raise InputError("the calendar has no office hours.")
        first, last = int(ns.min() // _NS_DAY) - 1, int(ns.max() // _NS_DAY) + 1
        # enough days for the longest addition: 5 working days a week, plus the longest break
        last += int(np.ceil(extra_ns / self.per_day * 7 / 5)) + 21
        days = np.arange(first, last + 1)
        dates = days.astype("datetime64[D]")
        working = (days + 3) % 7 < 5  # 1970-01-01 was a Thursday
        working[np.isin(dates, np.array(sorted(cal.off), dtype="datetime64[D]"))] = False
        working[np.isin(dates, np.array(sorted(cal.work), dtype="datetime64[D]"))] = True
        daily = np.where(working, self.per_day, 0).astype(np.int64)
        self.first = first
        self.working = working
        self.start = np.concatenate([[0], np.cumsum(daily)[:-1]])
        self.work_days = np.flatnonzero(working)
        _warn_uncovered(cal, ns)

    def to_working(self, ns: np.ndarray) -> np.ndarray:
        day = ns // _NS_DAY - self.first
        of_day = (ns % _NS_DAY).astype("float64")
        into = sum(np.clip(of_day - s, 0, e - s) for s, e in self.segments)
        worked = np.where(self.working[day], np.round(into).astype(np.int64), 0)
        return self.start[day] + worked

    def to_time(self, working: np.ndarray) -> np.ndarray:
        begins = self.start[self.work_days]
        k = np.searchsorted(begins, working, side="left") - 1  # begins[k] < working <= its end
        if (k < 0).any() or (working - begins[k.clip(0)] > self.per_day).any():
            raise InputError("a deadline falls outside the working calendar's table of days.")
        rest = (working - begins[k]).astype("float64")
        lengths = self.segments[:, 1] - self.segments[:, 0]
        ends = np.cumsum(lengths)
        j = np.searchsorted(ends, rest, side="left").clip(0, len(ends) - 1)
        of_day = self.segments[j, 0] + rest - (ends[j] - lengths[j])
        return (self.first + self.work_days[k]) * _NS_DAY + np.round(of_day).astype(np.int64)


def _warn_uncovered(cal: WorkingCalendar, ns: np.ndarray) -> None:
    years = set(ns.astype("datetime64[ns]").astype("datetime64[Y]").astype(int) + 1970)
    outside = sorted(years - set(cal.years))
    if outside and cal.years:
        log.warning(
            "No holidays are known for %s: only weekends are days off there; "
            "extend data/holidays.csv.",
            ", ".join(map(str, outside)),
        )


# --- inputs -----------------------------------------------------------------------------------


def _series(values: Any, what: str) -> tuple[pd.Series, bool]:
    """Timestamps as a Series in Hà Nội time, and whether a single one was given."""
    scalar = isinstance(values, (str, dt.datetime, dt.date, np.datetime64)) or values is None
    series = pd.Series([values]) if scalar else pd.Series(values)
    try:
        stamps = pd.to_datetime(series)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: not readable as timestamps ({exc}).") from None
    if stamps.dt.tz is None:
        return stamps.dt.tz_localize(TIMEZONE_NAME), scalar
    return stamps.dt.tz_convert(TIMEZONE_NAME), scalar


def _nanoseconds(stamps: pd.Series) -> np.ndarray:
    """Local wall-clock nanoseconds (Hà Nội keeps UTC+7 all year), NaT as the int64 minimum."""
    local = stamps.dt.tz_localize(None).astype("datetime64[ns]")
    return local.to_numpy().view(np.int64)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name not in frame.columns:
        return pd.Series(pd.NaT, index=frame.index).dt.tz_localize(TIMEZONE_NAME)
    return _series(frame[name], name)[0]


def _severity(reports: pd.DataFrame, table: pd.DataFrame) -> np.ndarray:
    """Severity levels, missing as 1; an unknown level is refused with its rows."""
    if "severity" not in reports.columns:
        return np.ones(len(reports), dtype=np.int64)
    level = pd.to_numeric(reports["severity"], errors="coerce").astype("Float64")
    bad = level.notna() & ~level.isin(table.index.astype("float64"))
    if bad.any():
        rows = ", ".join(map(str, np.flatnonzero(bad.to_numpy())[:10]))
        raise InputError(
            f"severity must be one of {', '.join(map(str, table.index))}; rows {rows} are not."
        )
    return level.fillna(1).astype("int64").to_numpy()


def _late(happened: pd.Series, due: pd.Series) -> pd.Series:
    return (happened > due).astype("boolean").mask(happened.isna())
