"""Working-hour deadlines of citizen reports: office hours, holidays, lateness, the overdue list."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.citizen import (
    WorkingCalendar,
    add_working_hours,
    deadline_table,
    overdue_reports,
    report_deadlines,
    severity_label,
    working_calendar,
    working_hours_between,
)
from geo.errors import InputError
from geo.store import open_store

TZ = "Asia/Ho_Chi_Minh"


def _t(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=TZ)


def _reports(*rows: dict) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows))
    for col in ("received_at", "accepted_at", "resolved_at"):
        if col in frame:
            frame[col] = pd.to_datetime(frame[col]).dt.tz_localize(TZ)
    return frame


# --- the working clock ------------------------------------------------------------------------


def test_a_report_received_friday_afternoon_is_due_monday_afternoon():
    # 16:00-17:00 Friday (1 h), 8:00-12:00 Monday (4 h), 13:00-16:00 (3 h): lunch does not count
    out = report_deadlines(_reports({"received_at": "2025-07-04 16:00", "severity": 1}),
                           now="2025-07-04 17:00")  # fmt: skip
    assert out["accept_due"].iloc[0] == _t("2025-07-07 16:00")


def test_a_report_on_the_eve_of_tet_is_due_after_the_holiday():
    due = add_working_hours(pd.Series([_t("2025-01-24 15:00"), _t("2026-02-13 10:00")]), 8)
    assert due.tolist() == [_t("2025-02-03 15:00"), _t("2026-02-23 10:00")]


def test_lunch_hour_does_not_count():
    assert working_hours_between(_t("2025-07-01 11:30"), _t("2025-07-01 13:30")) == 1.0
    assert working_hours_between(_t("2025-07-01 12:10"), _t("2025-07-01 12:50")) == 0.0
    assert add_working_hours(_t("2025-07-01 11:00"), 2) == _t("2025-07-01 14:00")
    assert add_working_hours(_t("2025-07-01 12:30"), 1) == _t("2025-07-01 14:00")
    # a deadline that uses up the morning is noon, not 13:00
    assert add_working_hours(_t("2025-07-01 08:00"), 4) == _t("2025-07-01 12:00")


def test_a_full_day_ends_at_17_and_weekends_and_make_up_saturdays():
    assert add_working_hours(_t("2025-07-07 08:00"), 8) == _t("2025-07-07 17:00")
    assert add_working_hours(_t("2025-07-05 10:00"), 1) == _t("2025-07-07 09:00")  # Saturday
    # Saturday 26/4/2025 was worked in exchange for Friday 2/5
    assert add_working_hours(_t("2025-04-25 16:00"), 8) == _t("2025-04-26 16:00")
    assert add_working_hours(_t("2025-04-29 16:00"), 8) == _t("2025-05-05 16:00")
    assert add_working_hours(_t("2025-07-01 09:00"), 0) == _t("2025-07-01 09:00")


def test_each_year_has_250_working_days_of_8_hours():
    # 261 weekdays; 2025: 12 weekdays off, 1 Saturday worked; 2026: 13 off, 2 Saturdays worked
    years = pd.Series([_t("2025-01-01"), _t("2026-01-01")])
    hours = working_hours_between(years, years + pd.DateOffset(years=1))
    assert hours.tolist() == [2000.0, 2000.0]
    cal = working_calendar()
    assert cal.years == (2025, 2026) and cal.hours_per_day == 8.0


def test_naive_and_other_zones_are_read_as_hanoi_time_and_nat_stays_nat():
    out = add_working_hours(pd.Series(["2025-07-01 09:00", None]), 1)
    assert out.iloc[0] == _t("2025-07-01 10:00") and pd.isna(out.iloc[1])
    utc = pd.Timestamp("2025-07-01 02:00", tz="UTC")  # 09:00 in Hà Nội
    assert add_working_hours(utc, 1) == _t("2025-07-01 10:00")
    assert np.isnan(working_hours_between(pd.NaT, _t("2025-07-01 10:00")))


def test_bad_hours_and_calendar_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="negative"):
        add_working_hours(_t("2025-07-01 09:00"), -1)
    bad = tmp_path / "holidays.csv"
    bad.write_text("# a comment\nstart,end,kind,name_vi,name_en\n2025-13-01,2025-13-01,off,x,y\n"
                   "2025-05-02,2025-05-01,off,x,y\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(InputError, match=r"line 3.*\n.*line 4"):
        working_calendar(bad)


def test_years_without_known_holidays_are_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="geo.citizen"):
        add_working_hours(_t("2027-03-01 09:00"), 8)
    assert "2027" in caplog.text and "holidays.csv" in caplog.text


def test_other_office_hours_can_be_given():
    summer = WorkingCalendar(hours=((7.0, 11.5), (13.5, 17.0)))  # 8 h, as some provinces work
    assert add_working_hours(_t("2025-07-01 11:00"), 1, calendar=summer) == _t("2025-07-01 14:00")


@settings(max_examples=100, deadline=None)
@given(
    start=st.datetimes(
        min_value=pd.Timestamp("2025-01-01").to_pydatetime(),
        max_value=pd.Timestamp("2026-10-31").to_pydatetime(),
    ),
    hours=st.floats(min_value=0, max_value=400, allow_nan=False),
)
def test_adding_hours_then_measuring_them_gives_them_back(start, hours):
    t = pd.Timestamp(start).floor("s").tz_localize(TZ)
    due = add_working_hours(t, hours)
    assert due >= t
    assert working_hours_between(t, due) == pytest.approx(hours, abs=1e-6)
    assert working_hours_between(due, t) == pytest.approx(-hours, abs=1e-6)


def test_a_few_thousand_reports_are_fast_and_match_one_by_one():
    rng = np.random.default_rng(0)
    t = _t("2025-01-01") + pd.to_timedelta(rng.integers(0, 600 * 86400, 5000), unit="s")
    hours = rng.choice([8.0, 40.0, 80.0], 5000)
    tic = time.perf_counter()
    due = add_working_hours(pd.Series(t), hours)
    back = working_hours_between(pd.Series(t), due)
    assert time.perf_counter() - tic < 1.0
    assert np.allclose(back, hours)
    for k in rng.choice(5000, 20, replace=False):
        assert due.iloc[k] == add_working_hours(t[k], hours[k])


# --- deadlines --------------------------------------------------------------------------------


def test_resolution_deadlines_depend_on_severity_and_lateness_buys_no_time():
    out = report_deadlines(
        _reports(
            # urgent, accepted early: 1 working day from acceptance
            {
                "received_at": "2025-07-01 09:00",
                "severity": 3,
                "accepted_at": "2025-07-01 10:00",
                "resolved_at": "2025-07-02 09:00",
                "status": "resolved",
            },
            # priority, accepted late: 5 working days from the acceptance deadline
            {
                "received_at": "2025-07-01 09:00",
                "severity": 2,
                "accepted_at": "2025-07-04 09:00",
                "resolved_at": "2025-07-09 10:00",
                "status": "resolved",
            },
            # routine, still waiting
            {"received_at": "2025-07-01 09:00", "severity": 1, "status": "received"},
        ),
        now="2025-07-10 09:00",
    )
    assert out["accept_due"].tolist() == [_t("2025-07-02 09:00")] * 3
    assert out["resolve_due"].tolist() == [
        _t("2025-07-02 10:00"), _t("2025-07-09 09:00"), _t("2025-07-16 09:00"),
    ]  # fmt: skip
    assert out["accepted_late"].tolist() == [False, True, pd.NA]
    assert out["resolved_late"].tolist() == [False, True, pd.NA]
    assert out["overdue"].tolist() == [False, False, True]
    assert out["overdue_stage"].tolist() == [pd.NA, pd.NA, "accept"]
    assert out["overdue_hours"].tolist() == [0.0, 0.0, 48.0]  # 6 working days


def test_closed_reports_are_never_overdue_and_accepted_ones_wait_for_resolution():
    out = report_deadlines(
        _reports(
            {"received_at": "2025-07-01 09:00", "severity": 1, "status": "rejected"},
            {"received_at": "2025-07-01 09:00", "severity": 3, "status": "resolved"},
            {
                "received_at": "2025-07-01 09:00",
                "severity": 3,
                "accepted_at": "2025-07-01 10:00",
                "status": "accepted",
            },
            {"received_at": "2025-07-20 09:00", "severity": 3, "status": "received"},  # future
        ),
        now="2025-07-03 10:00",
    )
    assert out["overdue"].tolist() == [False, False, True, False]
    assert out["overdue_stage"].iloc[2] == "resolve"
    assert out["overdue_hours"].iloc[2] == 8.0  # due Wed 10:00, now Thu 10:00


def test_the_overdue_list_puts_severity_first_then_the_most_overdue():
    reports = _reports(
        {"report_id": "old-routine", "received_at": "2025-06-02 09:00", "severity": 1},
        {"report_id": "urgent", "received_at": "2025-07-07 09:00", "severity": 3},
        {"report_id": "older-urgent", "received_at": "2025-07-03 09:00", "severity": 3},
        {"report_id": "missing-severity", "received_at": "2025-07-01 09:00", "severity": None},
        {"report_id": "fresh", "received_at": "2025-07-08 16:30", "severity": 3},
    )
    late = overdue_reports(reports, now="2025-07-08 17:00", lang="en")
    assert late["report_id"].tolist() == ["older-urgent", "urgent", "old-routine",
                                          "missing-severity"]  # fmt: skip
    assert late["severity_label"].tolist() == ["Urgent", "Urgent", "Routine", "Routine"]
    assert set(late["stage_label"]) == {"Not accepted in time"}
    assert list(late.index) == [0, 1, 2, 3]


def test_unknown_severity_is_refused_with_its_row():
    with pytest.raises(InputError, match="rows 1"):
        report_deadlines(_reports({"received_at": "2025-07-01 09:00", "severity": 2},
                                  {"received_at": "2025-07-01 09:00", "severity": 5}),
                         now="2025-07-02")  # fmt: skip
    with pytest.raises(InputError, match="received_at"):
        report_deadlines(pd.DataFrame({"severity": [1]}), now="2025-07-02")


def test_severity_labels_in_both_languages():
    assert [severity_label(k, "vi") for k in (1, 2, 3)] == [
        "Thông thường", "Cần xử lý sớm", "Khẩn cấp",
    ]  # fmt: skip
    assert severity_label(2, "en") == "Priority"
    with pytest.raises(InputError):
        severity_label(4)


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_reports_get_deadlines_and_the_open_ones_fall_overdue(demo_store):
    reports = open_store(demo_store).read("citizen_reports")
    end = reports["received_at"].max().ceil("D")
    out = report_deadlines(reports, now=end)
    assert out["accept_due"].notna().all() and out["resolve_due"].notna().all()
    assert (out["accept_due"] > out["received_at"]).all()
    assert out["accepted_late"].fillna(False).any()  # the demo's slow acceptances are caught
    assert (out["resolved_late"].dropna().mean()) < 0.5
    # the demo closes every report it can by its end; the few still open fall overdue later
    still_open = ~out["status"].isin(["resolved", "rejected"])
    assert still_open.any()
    later = overdue_reports(reports, now=add_working_hours(end, 120))
    assert len(later) == int(still_open.sum())
    levels = later["severity"].astype(int).tolist()
    assert levels == sorted(levels, reverse=True)


def test_a_ward_can_pass_its_own_deadlines_without_touching_the_defaults():
    own = deadline_table()
    own.loc[3, "resolve_hours"] = 4.0  # urgent: half a working day
    reports = _reports({"received_at": "2025-07-01 09:00", "severity": 3,
                        "accepted_at": "2025-07-01 09:30"})  # fmt: skip
    out = report_deadlines(reports, now="2025-07-01 10:00", deadlines=own)
    assert out["resolve_due"].iloc[0] == _t("2025-07-01 14:30")
    assert deadline_table().loc[3, "resolve_hours"] == 8.0
    with pytest.raises(InputError, match="one number or 2"):
        add_working_hours(pd.Series([_t("2025-07-01 09:00")] * 2), [1.0, 2.0, 3.0])
