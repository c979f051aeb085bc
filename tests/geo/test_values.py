"""Cell parsing for uploads (geo.values): times, VND, numbers, positions, VN-2000."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from geo.errors import CRSMismatchError, InputError
from geo.values import (
    check_fines,
    combine_date_time,
    parse_accuracy_flags,
    parse_coordinates,
    parse_geolocation,
    parse_number,
    parse_timestamps,
    parse_vnd,
    problems_where,
)

TZ = "Asia/Ho_Chi_Minh"
NOW = pd.Timestamp("2025-08-01 12:00", tz=TZ)
#: A small ward polygon around Kim Liên (about 1.3 km across).
WARD = gpd.GeoDataFrame(geometry=[box(105.825, 21.003, 105.838, 21.016)], crs=4326)


def cells(*values: object, first_row: int = 2) -> pd.Series:
    """Raw cells as a reader gives them: text or None, indexed by spreadsheet row numbers."""
    return pd.Series(list(values), index=range(first_row, first_row + len(values)), dtype=object)


def reasons(problems: list) -> list[tuple[int, str]]:
    return [(p.row, p.reason) for p in problems]


# --- timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "local"),
    [
        ("2025-07-08T09:30:00+07:00", "2025-07-08 09:30"),
        ("2025-07-08T02:30:00Z", "2025-07-08 09:30"),
        ("2025-07-08T04:30:00+02:00", "2025-07-08 09:30"),
        ("2025-07-08T09:30:00.250+0700", "2025-07-08 09:30:00.250"),
        ("2025-07-08T09:30:00", "2025-07-08 09:30"),
        ("2025-07-08 09:30:00", "2025-07-08 09:30"),  # Excel-ish text
        ("2025-07-08 09:30", "2025-07-08 09:30"),
        ("2025/07/08 09:30", "2025-07-08 09:30"),
        ("2025-07-08", "2025-07-08 00:00"),
        ("2025-03-04", "2025-03-04 00:00"),  # year first: never day first
        ("08/07/2025 09:30", "2025-07-08 09:30"),
        ("08/07/2025 09:30:15", "2025-07-08 09:30:15"),
        ("8/7/2025 9:30", "2025-07-08 09:30"),
        ("08-07-2025", "2025-07-08 00:00"),
        ("08.07.2025", "2025-07-08 00:00"),
        ("08.07.2025 17:05", "2025-07-08 17:05"),
        ("8/7/25", "2025-07-08 00:00"),
        ("08/07/2025, 09:30", "2025-07-08 09:30"),
        ("09:30 08/07/2025", "2025-07-08 09:30"),
        ("8/7/2025 9h30", "2025-07-08 09:30"),
        ("9h30 ngày 8/7/2025", "2025-07-08 09:30"),
        ("ngày 8 tháng 7 năm 2025", "2025-07-08 00:00"),
        ("8/7/2025 lúc 14 giờ 05 phút", "2025-07-08 14:05"),
        ("8/7/2025 2:30 PM", "2025-07-08 14:30"),
        ("8/7/2025 2:30 CH", "2025-07-08 14:30"),  # chiều: Vietnamese Windows PM
        ("8/7/2025 12:10 SA", "2025-07-08 00:10"),  # sáng: AM
        ("45846.5", "2025-07-08 12:00"),  # Excel serial day
        ("  08/07/2025   09:30 ", "2025-07-08 09:30"),
    ],
)
def test_timestamp_formats(cell: str, local: str) -> None:
    ts, problems = parse_timestamps(cells(cell), column="Thời gian", now=NOW)
    assert problems == []
    assert ts.dtype == f"datetime64[ns, {TZ}]"
    assert ts.iloc[0] == pd.Timestamp(local, tz=TZ)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("31/02/2025", "bad_time"),
        ("2025-02-30 10:00", "bad_time"),
        ("29/02/2025 10:00", "bad_time"),
        ("08/07/2025 25:10", "bad_time"),
        ("13/13/2025", "bad_time"),
        ("hôm qua", "bad_time"),
        ("2025-08-01T12:06:00+07:00", "future_time"),
        ("02/08/2025", "future_time"),
        ("1999-12-31 23:59", "too_old"),
        ("31/12/99", "too_old"),
    ],
)
def test_timestamps_refused(cell: str, reason: str) -> None:
    ts, problems = parse_timestamps(cells(cell, "08/07/2025"), column="Ngày", now=NOW)
    assert reasons(problems) == [(2, reason)]
    assert problems[0].column == "Ngày" and problems[0].severity == "reject"
    assert pd.isna(ts.iloc[0]) and ts.iloc[1] == pd.Timestamp("2025-07-08", tz=TZ)


def test_clock_drift_of_a_few_minutes_is_accepted() -> None:
    ts, problems = parse_timestamps(cells("2025-08-01T12:04:00+07:00"), now=NOW)
    assert problems == [] and ts.notna().all()


def test_leap_day_and_messages() -> None:
    ts, problems = parse_timestamps(cells("29/02/2024", "29/02/2025", "xyz"), now=NOW)
    assert ts.iloc[0] == pd.Timestamp("2024-02-29", tz=TZ)
    assert "'29/02/2025' is not a real date" in problems[0].message
    assert "08/07/2025 09:30 (day first)" in problems[1].message


def test_empty_times_only_when_required() -> None:
    values = cells("", None, "  ")
    ts, problems = parse_timestamps(values, now=NOW)
    assert ts.isna().all() and problems == []
    _, problems = parse_timestamps(values, now=NOW, required=True)
    assert reasons(problems) == [(2, "no_time"), (3, "no_time"), (4, "no_time")]


def test_day_first_is_preferred_but_a_month_first_column_is_recognised() -> None:
    later = pd.Timestamp("2025-12-31", tz=TZ)
    ts, problems = parse_timestamps(cells("08/07/2025", "07/31/2025"), now=later)
    assert ts.iloc[1] == pd.Timestamp("2025-07-31", tz=TZ)  # only month first is possible
    assert ts.iloc[0] == pd.Timestamp("2025-08-07", tz=TZ)  # so the column is month first
    assert problems == []
    ts, problems = parse_timestamps(cells("08/07/2025", "31/07/2025", "07/31/2025"), now=NOW)
    assert ts.iloc[0] == pd.Timestamp("2025-07-08", tz=TZ)  # mixed: day first, one refused
    assert reasons(problems) == [(4, "bad_time")]
    ts, _ = parse_timestamps(cells("08/07/2025"), now=later, dayfirst=False)
    assert ts.iloc[0] == pd.Timestamp("2025-08-07", tz=TZ)


def test_default_now_is_the_current_time_and_odd_years_are_refused() -> None:
    _, problems = parse_timestamps(cells("2999-01-01", "2100-01-01", "0025-01-01", "1900-01-01"))
    assert reasons(problems) == [(2, "future_time"), (3, "future_time"), (4, "too_old"),
                                 (5, "too_old")]  # fmt: skip
    assert problems[0].message.startswith("'2999-01-01' is in the future")
    assert "read as 01/01/2100 00:00" in problems[1].message


@pytest.mark.parametrize(
    ("date", "clock", "expected"),
    [
        ("08/07/2025", "09:30", "2025-07-08 09:30"),
        ("08/07/2025", "9h30", "2025-07-08 09:30"),
        ("2025-07-08 00:00:00", "09:30:00", "2025-07-08 09:30"),  # Excel date cell
        ("08/07/2025", "1899-12-30 09:30:00", "2025-07-08 09:30"),  # Excel time cell
        ("08/07/2025", "0.4375", "2025-07-08 10:30"),  # Excel day fraction
        ("08/07/2025", None, "2025-07-08 00:00"),
        ("08/07/2025", "", "2025-07-08 00:00"),
        ("08/07/2025", "08/07/2025 09:30", "2025-07-08 09:30"),  # a whole timestamp
    ],
)
def test_combine_date_time(date: str, clock: str | None, expected: str) -> None:
    ts, problems = combine_date_time(cells(date), cells(clock), now=NOW)
    assert problems == []
    assert ts.iloc[0] == pd.Timestamp(expected, tz=TZ)


def test_combine_date_time_problems() -> None:
    ts, problems = combine_date_time(
        cells("08/07/2025", "9/7/2025", None, None, "31/02/2025"),
        cells("9h30", None, "10:00", None, "10:00"),
        date_column="Ngày",
        time_column="Giờ",
        now=NOW,
        required=True,
    )
    assert ts.iloc[0] == pd.Timestamp("2025-07-08 09:30", tz=TZ)
    assert ts.iloc[1] == pd.Timestamp("2025-07-09", tz=TZ)
    assert [(p.row, p.reason, p.column) for p in problems] == [
        (4, "bad_time", "Ngày"),  # a time without a date
        (5, "no_time", "Ngày"),
        (6, "bad_time", "Ngày"),
    ]
    assert "'31/02/2025 10:00'" in problems[2].message
    dates_only, _ = combine_date_time(cells("08/07/2025"), None, now=NOW)
    assert dates_only.iloc[0] == pd.Timestamp("2025-07-08", tz=TZ)


# --- VND ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "amount"),
    [
        ("2000000", 2_000_000),
        ("2.000.000", 2_000_000),
        ("2,000,000 đ", 2_000_000),
        ("2.000.000đ", 2_000_000),
        ("2.000.000 ₫", 2_000_000),
        ("2 000 000", 2_000_000),
        ("2 triệu", 2_000_000),
        ("2 trieu", 2_000_000),
        ("2tr", 2_000_000),
        ("1,5 triệu", 1_500_000),
        ("1.5tr", 1_500_000),
        ("1,25 tr", 1_250_000),
        ("1tr5", 1_500_000),
        ("2 triệu 500", 2_500_000),
        ("2 triệu 500 nghìn", 2_500_000),
        ("1 tỷ 200 triệu", 1_200_000_000),
        ("500k", 500_000),
        ("500 nghìn", 500_000),
        ("500 ngàn đồng", 500_000),
        ("1 tỷ", 1_000_000_000),
        ("VND 300000", 300_000),
        ("300.000 VNĐ", 300_000),
        ("300000.0", 300_000),  # Excel float text
        ("2.000.000,00", 2_000_000),
        ("2,000,000.00", 2_000_000),
        ("0", 0),
        # The ambiguous cases, by the Vietnamese convention (dot or comma = thousands):
        ("1.500", 1_500),
        ("1,500", 1_500),
        ("1.500k", 1_500_000),
        ("1.500 triệu", 1_500_000_000),
        # ... but a decimal separator followed by one or two digits is a decimal point:
        ("1.5 triệu", 1_500_000),
        ("12,5k", 12_500),
    ],
)
def test_vnd_formats(cell: str, amount: int) -> None:
    parsed, problems = parse_vnd(cells(cell), column="Số tiền phạt")
    assert problems == []
    assert parsed.dtype == "Int64"
    assert parsed.iloc[0] == amount


@pytest.mark.parametrize("cell", ["", None, "-", "không", "Khong"])
def test_vnd_no_amount(cell: str | None) -> None:
    parsed, problems = parse_vnd(cells(cell))
    assert problems == [] and pd.isna(parsed.iloc[0])


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("-500000", "negative"),
        ("1.5", "fraction of a đồng"),  # no unit: 1.5 đồng does not exist
        ("300000.5", "fraction of a đồng"),
        ("abc", "not an amount"),
        ("1.234.5", "not an amount"),
        ("1e6", "not an amount"),
        ("2 nghìn 5 triệu", "not an amount"),  # the smaller unit first
        ("99999999999999", "larger than any fine"),
    ],
)
def test_vnd_refused(cell: str, words: str) -> None:
    parsed, problems = parse_vnd(cells(cell, "300000"), column="Mức phạt")
    assert reasons(problems) == [(2, "bad_fine")]
    assert words in problems[0].message and problems[0].column == "Mức phạt"
    assert pd.isna(parsed.iloc[0]) and parsed.iloc[1] == 300_000


def _vn(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _decimal_units(amount: int, unit: int) -> str:
    """1500000, 10**6 -> '1,5' (Vietnamese decimal comma)."""
    text = format(Decimal(amount) / Decimal(unit), "f")
    return (text.rstrip("0").rstrip(".") if "." in text else text).replace(".", ",")


@settings(max_examples=300, deadline=None)
@given(
    thousands=st.integers(min_value=0, max_value=9_999_999),
    style=st.sampled_from(["plain", "dots", "commas", "dots_d", "space_vnd", "k", "trieu", "ty"]),
)
def test_any_formatted_amount_parses_back(thousands: int, style: str) -> None:
    """Every way of writing an amount reads back, except the documented ambiguous one:
    a unit after a decimal part of exactly three digits ("1,001 triệu" reads as 1001 triệu)."""
    amount = thousands * 1_000
    text = {
        "plain": str(amount),
        "dots": _vn(amount),
        "commas": f"{amount:,}",
        "dots_d": f"{_vn(amount)}đ",
        "space_vnd": f"{amount:,} VND".replace(",", " "),
        "k": f"{thousands}k",
        "trieu": f"{_decimal_units(amount, 10**6)} triệu",
        "ty": f"{_decimal_units(amount, 10**9)} tỷ",
    }[style]
    assume(not re.search(r"[.,]\d{3} ", text) or style not in ("trieu", "ty"))
    parsed, problems = parse_vnd(cells(text))
    assert problems == [], text
    assert parsed.iloc[0] == amount, text


def test_fines_outside_the_schedule_are_flagged() -> None:
    fines = pd.Series([350_000, 5_000_000, None, 0, 99, 3_000_000], index=range(2, 8))
    cats = pd.Series(
        ["street_vending", "street_vending", "traffic", "traffic", "other", None],
        index=fines.index,
    )
    problems = check_fines(fines.astype("Int64"), cats, column="Tiền phạt")
    assert [(p.row, p.reason, p.severity) for p in problems] == [
        (3, "fine_outside_schedule", "flag")
    ]
    message = next(iter(problems)).message
    assert "5.000.000 đ" in message and "300.000 đ to 400.000 đ" in message
    assert "168/2024/NĐ-CP" in message


def test_each_flagged_fine_names_its_own_amount() -> None:
    fines = pd.Series([5_000_000, 50_000, 5_000_000, 500_000], index=[10, 11, 12, 13])
    cats = pd.Series(["street_vending", "street_vending", "street_vending", "traffic"],
                     index=fines.index)  # fmt: skip
    flags = list(check_fines(fines.astype("Int64"), cats, column="Tiền phạt"))
    assert [p.row for p in flags] == [10, 11, 12]
    assert ["5.000.000 đ" in p.message for p in flags] == [True, False, True]
    assert "50.000 đ" in flags[1].message and flags[0].message == flags[2].message
    assert len(check_fines(fines.astype("Int64")[3:], cats[3:])) == 0  # none outside: empty


def test_one_amount_outside_two_ranges_names_each_category() -> None:
    fines = pd.Series([5_000_000, 5_000_000, 5_000_000], index=[4, 5, 6], dtype="Int64")
    cats = pd.Series(["littering", "street_vending", "littering"], index=fines.index)
    flags = list(check_fines(fines, cats))
    assert [p.row for p in flags] == [4, 5, 6]
    assert "500.000 đ to 1.000.000 đ" in flags[0].message and flags[0].message == flags[2].message
    assert "300.000 đ to 400.000 đ" in flags[1].message


# --- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "value"),
    [("4,5", 4.5), ("4.5", 4.5), ("12", 12.0), ("12 m", 12.0), ("4,5 kg", 4.5), ("0,75", 0.75)],
)
def test_numbers(cell: str, value: float) -> None:
    parsed, problems = parse_number(cells(cell), column="Độ chính xác")
    assert problems == [] and parsed.iloc[0] == value


def test_number_problems() -> None:
    values = cells("1.500", "abc", "-3", "250", "7", "")
    parsed, problems = parse_number(values, column="Khối lượng", minimum=0, maximum=100)
    assert reasons(problems) == [(2, "bad_number"), (3, "bad_number"), (4, "out_of_range"),
                                 (5, "out_of_range")]  # fmt: skip
    assert "ambiguous" in problems[0].message and "Write 1500 or 1.5." in problems[0].message
    assert parsed.iloc[4] == 7 and parsed.isna().sum() == 5


def test_whole_numbers() -> None:
    parsed, problems = parse_number(
        cells("1.500", "3", "2,5", "12 người"), integer=True, minimum=0, severity="flag"
    )
    assert parsed.dtype == "Int64"
    assert parsed.tolist()[:2] == [1500, 3] and parsed.iloc[3] == 12
    assert [(p.row, p.reason, p.severity) for p in problems] == [(4, "bad_number", "flag")]


def test_accuracy_flags() -> None:
    acc = pd.Series([5.0, 30.0, 31.0, None], index=range(2, 6))
    problems = parse_accuracy_flags(acc, column="Độ chính xác")
    assert [(p.row, p.reason, p.severity) for p in problems] == [(4, "poor_gps_accuracy", "flag")]
    assert parse_accuracy_flags(acc, cap_m=3.0)[0].row == 2


def test_problems_where_makes_each_message_once() -> None:
    seen: list[object] = []
    values = cells("a", "b", "a", None)
    problems = problems_where(
        np.ones(4, dtype=bool),
        values,
        column="c",
        reason="r",
        message=lambda v: seen.append(v) or f"{v}",
    )
    assert [p.row for p in problems] == [2, 3, 4, 5]
    assert seen == ["a", "b", None]


# --- positions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("21.0123", "105.8345", (21.0123, 105.8345)),
        ("21,0123", "105,8345", (21.0123, 105.8345)),
        ("+21.0123", "105.8345", (21.0123, 105.8345)),
        ("21.012", "105.834", (21.012, 105.834)),  # one group of three: a decimal here
        ("21°00'44.3\"N", "105°50'12\"E", (21.012306, 105.836667)),
        ("21°00′44.3″N", "105°50′12″E", (21.012306, 105.836667)),
        ("21º00’44,3”N", "105º50’12”E", (21.012306, 105.836667)),
        ("21 0 44.3 N", "105 50 12 E", (21.012306, 105.836667)),
        ("N 21°00'44.3\"", "E 105°50'12\"", (21.012306, 105.836667)),
        ("21°00.7383'N", "105°50.2'E", (21.012305, 105.836667)),
        ("21.0123°N", "105.8345° Đ", (21.0123, 105.8345)),  # Đ: Đông (east)
        ("33°51'54\"S", "151°12'36\"E", (-33.865, 151.21)),
        ("-33.865", "-70.5", (-33.865, -70.5)),
        ("40°26'46\"N", "79°58'56\"W", (40.446111, -79.982222)),
    ],
)
def test_coordinate_formats(lat: str, lon: str, expected: tuple[float, float]) -> None:
    points, problems = parse_coordinates(cells(lat), cells(lon))
    assert problems == []
    assert points.crs == "EPSG:4326"
    assert points.iloc[0].y == pytest.approx(expected[0], abs=1e-6)
    assert points.iloc[0].x == pytest.approx(expected[1], abs=1e-6)


@pytest.mark.parametrize(
    ("lat", "lon", "reason", "column"),
    [
        ("0", "0", "zero_coordinates", "Vĩ độ"),
        ("0,0", "0.000", "zero_coordinates", "Vĩ độ"),
        ("95", "105", "bad_coordinates", "Vĩ độ"),
        ("21", "200", "bad_coordinates", "Vĩ độ"),
        ("abc", "105.8", "bad_coordinates", "Vĩ độ"),
        ("21°75'00\"N", "105.8", "bad_coordinates", "Vĩ độ"),  # 75 minutes
        ("21.5°30'", "105.8", "bad_coordinates", "Vĩ độ"),
        ("", "105.8", "no_position", "Vĩ độ"),
        ("21.0", None, "no_position", "Kinh độ"),
        (None, None, "no_position", "Vĩ độ"),
        ("2324567", "585123", "needs_crs", "Vĩ độ"),
    ],
)
def test_coordinates_refused(lat: str | None, lon: str | None, reason: str, column: str) -> None:
    points, problems = parse_coordinates(
        cells(lat, "21.01"), cells(lon, "105.83"), lat_column="Vĩ độ", lon_column="Kinh độ"
    )
    assert [(p.row, p.reason, p.column, p.severity) for p in problems] == [
        (2, reason, column, "reject")
    ]
    assert points.iloc[0] is None and points.iloc[1] == Point(105.83, 21.01)


def test_needs_crs_names_both_systems_or_the_one_that_fits() -> None:
    northing, easting = _as_text(_kim_lien_points(), 5897, 2)
    _, problems = parse_coordinates(northing, easting)
    assert {p.reason for p in problems} == {"needs_crs"} and len(problems) == 40
    assert "--crs EPSG:5897" in problems[0].message and "--crs EPSG:3405" in problems[0].message
    _, problems = parse_coordinates(northing, easting, ward=WARD)
    assert "--crs EPSG:5897" in problems[0].message and "3405" not in problems[0].message


def test_swapped_columns_are_fixed_only_when_unambiguous() -> None:
    lat = cells("105.83", "21.01", "10.02", "105°50'12\"E")
    lon = cells("21.01", "105.83", "30.02", "21°00'44\"N")
    points, problems = parse_coordinates(lat, lon, lat_column="lat", lon_column="lon")
    assert [(p.row, p.reason, p.severity) for p in problems] == [
        (2, "swapped_lat_lon", "flag"),
        (5, "swapped_lat_lon", "flag"),
    ]
    assert points.iloc[0] == Point(105.83, 21.01)
    assert points.iloc[2] == Point(30.02, 10.02)  # both readings possible: kept as given
    assert points.iloc[3].y == pytest.approx(21.012222, abs=1e-6)
    assert "read as latitude 21.010000, longitude 105.830000" in problems[0].message


def test_swapped_columns_are_recognised_by_the_ward() -> None:
    ward = gpd.GeoDataFrame(geometry=[box(30.0, 10.0, 30.05, 10.05)], crs=4326)
    points, problems = parse_coordinates(
        cells("30.02", "10.02"), cells("10.02", "30.02"), ward=ward
    )
    assert reasons(problems) == [(2, "swapped_lat_lon")]
    assert points.iloc[0] == Point(30.02, 10.02) == points.iloc[1]


@pytest.mark.parametrize(
    ("cell", "lat", "lon", "accuracy"),
    [
        ("21.01 105.83", "21.01", "105.83", None),
        ("21.01,105.83", "21.01", "105.83", None),
        ("[21.01, 105.83]", "21.01", "105.83", None),
        ("21,01;105,83", "21,01", "105,83", None),
        ("21,01 105,83", "21,01", "105,83", None),
        ("21.01 105.83 12.5 4.8", "21.01", "105.83", "4.8"),  # ODK: lat lon altitude accuracy
        ("21°00'44\"N 105°50'12\"E", "21°00'44\"N", "105°50'12\"E", None),
        ("xyz", "xyz", "xyz", None),
        (None, None, None, None),
    ],
)
def test_geolocation(cell: str | None, lat: str, lon: str, accuracy: str | None) -> None:
    split = parse_geolocation(cells(cell))
    assert split.loc[2].tolist() == [lat, lon, accuracy]


def test_geolocation_then_coordinates() -> None:
    split = parse_geolocation(cells("[21.01, 105.83]", "xyz", ""))
    points, problems = parse_coordinates(
        split["lat"], split["lon"], lat_column="_geolocation", lon_column="_geolocation"
    )
    assert points.iloc[0] == Point(105.83, 21.01)
    assert reasons(problems) == [(3, "bad_coordinates"), (4, "no_position")]
    assert "'xyz' cannot be read" in problems[0].message
    assert "(_geolocation)" in problems[1].message


@st.composite
def dms(draw: st.DrawFn, limit: int) -> tuple[float, int]:
    """A coordinate, and its value in 1/10000 arc seconds."""
    ticks = draw(st.integers(min_value=-limit * 36_000_000, max_value=limit * 36_000_000))
    return ticks / 36_000_000, ticks


def _format_dms(ticks: int, hemispheres: str, style: int) -> str:
    letter = hemispheres[0] if ticks >= 0 else hemispheres[1]
    ticks = abs(ticks)
    d, rest = divmod(ticks, 36_000_000)
    m, s = divmod(rest, 600_000)
    sec = f"{s / 10_000:.4f}"
    if style == 0:
        return f"{d}°{m:02d}'{sec}\"{letter}"
    if style == 1:
        return f"{d}°{m}′{sec.replace('.', ',')}″ {letter}"
    return f"{d} {m} {sec} {letter}"


@settings(max_examples=200, deadline=None)
@given(lat=dms(90), lon=dms(180), style=st.integers(0, 2))
def test_any_dms_parses_back(lat: tuple[float, int], lon: tuple[float, int], style: int) -> None:
    if lat[1] == 0 and lon[1] == 0:
        return  # 0, 0 is refused on purpose
    points, problems = parse_coordinates(
        cells(_format_dms(lat[1], "NS", style)), cells(_format_dms(lon[1], "EW", style))
    )
    assert problems == []
    assert points.iloc[0].y == pytest.approx(lat[0], abs=1e-6)
    assert points.iloc[0].x == pytest.approx(lon[0], abs=1e-6)


# --- VN-2000 ------------------------------------------------------------------------------


def _kim_lien_points(n: int = 40, seed: int = 0) -> gpd.GeoSeries:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(105.826, 105.837, n)
    lat = rng.uniform(21.004, 21.015, n)
    return gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326)


def _as_text(points: gpd.GeoSeries, crs: int, digits: int) -> tuple[pd.Series, pd.Series]:
    projected = points.to_crs(crs)
    northing = pd.Series([f"{v:.{digits}f}" for v in projected.y], dtype=object)
    easting = pd.Series([f"{v:.{digits}f}" for v in projected.x], dtype=object)
    return northing, easting


@pytest.mark.parametrize("crs", [5897, 3405])
def test_vn2000_twin_matches_wgs84_within_half_a_metre(crs: int) -> None:
    truth = _kim_lien_points()
    lat_deg, lon_deg = _as_text(truth, 4326, 7)
    northing, easting = _as_text(truth, crs, 3)
    wgs, problems_wgs = parse_coordinates(lat_deg, lon_deg, ward=WARD)
    vn, problems_vn = parse_coordinates(northing, easting, crs=f"EPSG:{crs}", ward=WARD)
    assert problems_wgs == problems_vn == []
    gap = wgs.to_crs(5897).distance(vn.to_crs(5897))
    assert gap.max() < 0.5


def test_vn2000_with_x_as_northing_is_read_as_swapped() -> None:
    northing, easting = _as_text(_kim_lien_points(5), 5897, 3)
    points, problems = parse_coordinates(easting, northing, crs="EPSG:5897")
    assert {p.reason for p in problems} == {"swapped_lat_lon"} and len(problems) == 5
    assert points.to_crs(5897).distance(_kim_lien_points(5).to_crs(5897)).max() < 0.01


def test_tm3_file_declared_as_utm_is_caught() -> None:
    northing, easting = _as_text(_kim_lien_points(), 5897, 3)
    with pytest.raises(CRSMismatchError, match="EPSG:5897") as err:
        parse_coordinates(northing, easting, crs="EPSG:3405", ward=WARD)
    assert "declares EPSG:3405" in str(err.value)


def test_utm_file_declared_as_tm3_is_caught() -> None:
    northing, easting = _as_text(_kim_lien_points(), 3405, 3)
    with pytest.raises(CRSMismatchError, match="crs='EPSG:3405'"):
        parse_coordinates(northing, easting, crs="EPSG:5897", ward=WARD)


def test_real_ward_catches_a_wrong_vn2000_crs(kim_lien_ward: object) -> None:
    ward = gpd.read_file(str(kim_lien_ward))
    inside = ward.to_crs(5897).sample_points(30, rng=1).explode().to_crs(4326)
    northing, easting = _as_text(gpd.GeoSeries(inside.values, crs=4326), 5897, 3)
    points, problems = parse_coordinates(northing, easting, crs="EPSG:5897", ward=ward)
    assert problems == [] and points.within(ward.union_all().buffer(1e-6)).all()
    with pytest.raises(CRSMismatchError, match="EPSG:5897"):
        parse_coordinates(northing, easting, crs="EPSG:3405", ward=ward)


def test_projected_crs_with_degrees_or_unknown_crs() -> None:
    with pytest.raises(InputError, match="look like degrees"):
        parse_coordinates(cells("21.01"), cells("105.83"), crs="EPSG:5897")
    with pytest.raises(InputError, match="not a CRS pyproj knows"):
        parse_coordinates(cells("21.01"), cells("105.83"), crs="EPSG:999999")


def test_projected_points_outside_the_crs_area_are_refused() -> None:
    northing, easting = _as_text(_kim_lien_points(2), 5897, 3)
    points, problems = parse_coordinates(
        pd.concat([northing, cells("9000000.0", first_row=2)], ignore_index=True),
        pd.concat([easting, cells("9000000.0", first_row=2)], ignore_index=True),
        crs="EPSG:5897",
    )
    assert reasons(problems) == [(2, "bad_coordinates")]
    assert "outside the area of EPSG:5897" in problems[0].message
    assert points.iloc[:2].notna().all() and points.iloc[2] is None


def test_geographic_crs_other_than_wgs84() -> None:
    # VN-2000 geographic (EPSG:4756) differs from WGS84 by a few hundred metres' datum shift.
    points, problems = parse_coordinates(cells("21.0100"), cells("105.8300"), crs="EPSG:4756")
    assert problems == []
    truth = gpd.GeoSeries([Point(105.83, 21.01)], crs=4326).to_crs(5897)
    shift = truth.distance(points.to_crs(5897), align=False)
    assert 1 < shift.iloc[0] < 1_000


# --- speed --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_rows_parse_in_seconds() -> None:
    """Vectorised parsing: a row-by-row parser would take minutes. Timings are printed."""
    n = 1_000_000
    rng = np.random.default_rng(0)
    stamps = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 180 * 86400, 10_000), "s")
    day_first = np.tile(np.asarray(stamps.strftime("%d/%m/%Y %H:%M"), dtype=object), n // 10_000)
    iso = np.tile(np.asarray(stamps.strftime("%Y-%m-%dT%H:%M:%S+07:00"), dtype=object), n // 10_000)
    amounts = rng.integers(1, 400, 10_000) * 10_000
    dotted = np.tile(np.array([f"{_vn(a)}đ" for a in amounts], dtype=object), n // 10_000)
    plain = np.tile(np.array([str(a) for a in amounts], dtype=object), n // 10_000)
    timings = {}
    for name, values, parse in (
        ("timestamps dd/mm/yyyy HH:MM", day_first, lambda s: parse_timestamps(s, now=NOW)),
        ("timestamps ISO with offset", iso, lambda s: parse_timestamps(s, now=NOW)),
        ("vnd 2.000.000đ", dotted, parse_vnd),
        ("vnd 2000000", plain, parse_vnd),
    ):
        series = pd.Series(values, index=np.arange(2, n + 2))
        start = time.perf_counter()
        parsed, problems = parse(series)
        timings[name] = time.perf_counter() - start
        assert problems == [] and parsed.notna().all()
    print("\n" + "\n".join(f"{k}: {v:.2f} s for 1,000,000 rows" for k, v in timings.items()))
    assert max(timings.values()) < 30  # minutes would mean a Python loop per row


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(1_000, 10**12),
    suffix=st.sampled_from(["", "đ", " đ", "₫", " ₫"]),
)
def test_dotted_amounts_read_fast_as_the_full_grammar_reads_them(amount, suffix) -> None:
    from geo._values_money import _amounts

    text = f"{amount:,}".replace(",", ".") + suffix
    fast, problems = parse_vnd(pd.Series([text, "x " + text]))
    full, none = _amounts(pa.array([text.lower()], pa.large_string()))
    assert fast.iloc[0] == full[0] == amount and not none[0], text
    assert fast.isna().iloc[1] and [p.row for p in problems] == [1]  # not the fast path's
