"""Header detection for uploads (geo.columns): Vietnamese/English/Kobo headers, and categories."""

from __future__ import annotations

import unicodedata

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.columns import (
    FIELDS,
    category_code,
    detect_columns,
    normalise,
    parse_overrides,
    status_code,
)
from geo.errors import InputError
from geo.model import CATEGORIES


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Vĩ độ", "vi_do"),
        ("  KINH ĐỘ ", "kinh_do"),
        ("Số tiền phạt (VNĐ)", "so_tien_phat_vnd"),
        ("Lấn-chiếm  vỉa hè!", "lan_chiem_via_he"),
        ("đỗ xe sai", "do_xe_sai"),
        (unicodedata.normalize("NFD", "Địa chỉ"), "dia_chi"),  # typed on a Mac
        ("grp_main/_gps_latitude", "grp_main_gps_latitude"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


# --- violations headers -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Vĩ độ", "lat"),
        ("Vi do", "lat"),
        ("VĨ ĐỘ", "lat"),
        ("vi-do", "lat"),
        ("Latitude", "lat"),
        ("LAT", "lat"),
        ("Vĩ độ (WGS84)", "lat"),
        ("Kinh độ", "lon"),
        ("kinh do", "lon"),
        ("lng", "lon"),
        ("Longitude", "lon"),
        ("Loại vi phạm", "category"),
        ("Loai vi pham", "category"),
        ("Category", "category"),
        ("Số tiền phạt", "fine_vnd"),
        ("Tiền phạt", "fine_vnd"),
        ("Mức phạt (VNĐ)", "fine_vnd"),
        ("fine", "fine_vnd"),
        ("Địa chỉ", "address"),
        ("ADDRESS", "address"),
        ("Mã", "record_id"),
        ("ID", "record_id"),
        ("Trạng thái", "status"),
        ("Biển số", "offender"),
        ("Hộ", "offender"),
        ("plate", "offender"),
        ("household", "offender"),
        ("Độ chính xác (m)", "gps_accuracy_m"),
        ("accuracy", "gps_accuracy_m"),
        ("Căn cứ pháp lý", "legal_basis"),
        ("Ghi chú", "notes"),
    ],
)
def test_violation_header_aliases(header: str, field: str) -> None:
    columns = ["Vĩ độ", "Kinh độ", "Thời gian", "Loại vi phạm"]
    # Put the header under test in place of its namesake, or add it.
    base = {"lat": 0, "lon": 1, "category": 3}
    if field in base:
        columns[base[field]] = header
    else:
        columns.append(header)
    mapping = detect_columns(columns, kind="violations")
    assert mapping.fields[field] == header
    assert mapping.complete, mapping.describe("en")


@pytest.mark.parametrize(
    "header", ["Thời gian", "Ngày giờ", "thoi gian", "time", "datetime", "Timestamp"]
)
def test_one_timestamp_column(header: str) -> None:
    mapping = detect_columns(["lat", "lon", header, "category"], kind="violations")
    assert mapping.fields["observed_at"] == header
    assert "date" not in mapping.fields and "time" not in mapping.fields


@pytest.mark.parametrize(
    ("date", "time"), [("Ngày", "Giờ"), ("Ngay", "Gio"), ("Date", "Time"), ("Ngày", "Thời gian")]
)
def test_date_and_time_in_two_columns(date: str, time: str) -> None:
    mapping = detect_columns(["lat", "lon", date, time, "category"], kind="violations")
    assert mapping.fields["date"] == date
    assert mapping.fields["time"] == time
    assert "observed_at" not in mapping.fields
    assert mapping.complete


def test_date_alone_is_enough() -> None:
    mapping = detect_columns(["X", "Y", "Date", "Category"], kind="violations")
    assert mapping.fields == {"category": "Category", "date": "Date", "lat": "Y", "lon": "X"}
    assert mapping.complete


def test_a_guessed_date_gives_way_to_a_timestamp() -> None:
    mapping = detect_columns(
        ["Ngày xử lý", "Thời gian", "lat", "lon", "Loại vi phạm"], kind="violations"
    )
    assert mapping.fields["observed_at"] == "Thời gian"
    assert "Ngày xử lý" in mapping.unused


def test_a_lone_hour_column_is_unsure() -> None:
    mapping = detect_columns(["lat", "lon", "Giờ", "Loại vi phạm"], kind="violations")
    assert mapping.unsure == {"observed_at": ("Giờ",)}
    assert not mapping.complete


def test_sf_incident_headers() -> None:
    cols = ["IncidntNum", "Category", "Descript", "DayOfWeek", "Date", "PdDistrict", "X", "Y"]
    mapping = detect_columns(cols, kind="violations")
    assert mapping.fields["record_id"] == "IncidntNum"
    assert (mapping.fields["lat"], mapping.fields["lon"]) == ("Y", "X")
    assert mapping.complete


def test_x_y_count_only_as_a_pair() -> None:
    mapping = detect_columns(["y", "lon", "time", "category"], kind="violations")
    assert "lat" not in mapping.fields
    assert mapping.missing == ("lat",)
    assert "y" in mapping.unused


def test_vn2000_toa_do_columns() -> None:
    mapping = detect_columns(["Tọa độ X", "Tọa độ Y", "Thời gian", "Loại"], kind="violations")
    assert (mapping.fields["lon"], mapping.fields["lat"]) == ("Tọa độ X", "Tọa độ Y")


def test_geolocation_column_is_a_position() -> None:
    mapping = detect_columns(["Vị trí", "Thời gian", "Loại vi phạm"], kind="violations")
    assert mapping.fields["geolocation"] == "Vị trí"
    assert mapping.complete


def test_lat_lon_win_over_geolocation() -> None:
    mapping = detect_columns(
        ["Vị trí", "Vĩ độ", "Kinh độ", "Thời gian", "Loại vi phạm"], kind="violations"
    )
    assert "geolocation" not in mapping.fields
    assert "Vị trí" in mapping.unused


@pytest.mark.parametrize(
    ("columns", "missing"),
    [
        (["Vĩ độ", "Kinh độ", "Thời gian"], ("category",)),
        (["Vĩ độ", "Kinh độ", "Loại vi phạm"], ("observed_at",)),
        (["Thời gian", "Loại vi phạm"], ("lat", "lon")),
        (["Vĩ độ", "Thời gian", "Loại vi phạm"], ("lon",)),
        (["Ghi chú"], ("lat", "lon", "observed_at", "category")),
    ],
)
def test_missing_required_fields(columns: list[str], missing: tuple[str, ...]) -> None:
    mapping = detect_columns(columns, kind="violations")
    assert mapping.missing == missing
    assert not mapping.complete


def test_two_columns_claiming_a_field_are_unsure() -> None:
    mapping = detect_columns(["lat", "latitude", "lon", "time", "category"], kind="violations")
    assert mapping.unsure == {"lat": ("lat", "latitude")}
    assert "lat" not in mapping.fields
    assert mapping.missing == ()


def test_a_weak_guess_for_a_required_field_is_unsure() -> None:
    mapping = detect_columns(["lat", "lon", "time", "type"], kind="violations")
    assert mapping.unsure == {"category": ("type",)}
    mapping = detect_columns(["lat", "lon", "time", "type"], kind="citizen_reports")
    assert mapping.complete  # category is optional there: the guess is taken


def test_header_qualifiers_and_prefixes() -> None:
    mapping = detect_columns(
        ["Vĩ độ", "Kinh độ", "Ngày giờ", "Loại vi phạm", "Số tiền phạt (đồng)", "Trạng thái xử lý"],
        kind="violations",
    )
    assert mapping.fields["fine_vnd"] == "Số tiền phạt (đồng)"
    assert mapping.fields["status"] == "Trạng thái xử lý"  # a weak guess, optional field


# --- other kinds --------------------------------------------------------------------------


def test_cleanup_headers() -> None:
    cols = ["Thời gian bắt đầu", "Kết thúc", "Số người", "Khối lượng rác (kg)", "Vĩ độ", "Kinh độ"]
    mapping = detect_columns(cols, kind="cleanups")
    assert mapping.fields == {
        "started_at": "Thời gian bắt đầu",
        "ended_at": "Kết thúc",
        "lat": "Vĩ độ",
        "lon": "Kinh độ",
        "participants": "Số người",
        "waste_kg": "Khối lượng rác (kg)",
    }
    assert mapping.complete


def test_patrol_track_from_a_reader() -> None:
    mapping = detect_columns(["_lon", "_lat", "_time", "_track", "Đội"], kind="patrols")
    assert mapping.fields == {
        "track_id": "_track",
        "team": "Đội",
        "t": "_time",
        "lat": "_lat",
        "lon": "_lon",
    }


def test_citizen_report_headers() -> None:
    cols = [
        "Mã phản ánh", "Thời gian phản ánh", "Loại phản ánh", "Mức độ", "Trạng thái",
        "Ngày tiếp nhận", "Ngày hoàn thành", "Vị trí",
    ]  # fmt: skip
    mapping = detect_columns(cols, kind="citizen-reports")
    assert mapping.kind == "citizen_reports"
    assert mapping.fields["report_id"] == "Mã phản ánh"
    assert mapping.fields["received_at"] == "Thời gian phản ánh"
    assert mapping.fields["accepted_at"] == "Ngày tiếp nhận"
    assert mapping.fields["resolved_at"] == "Ngày hoàn thành"
    assert mapping.fields["severity"] == "Mức độ"
    assert mapping.complete


# --- readers and KoboToolbox --------------------------------------------------------------


def test_reader_columns_map_and_win() -> None:
    cols = ["_lon", "_lat", "_time", "_gps_accuracy", "_photo_sha256", "_geometry_type", "lat"]
    mapping = detect_columns([*cols, "Loại vi phạm"], kind="violations")
    assert mapping.fields["lat"] == "_lat"
    assert mapping.fields["lon"] == "_lon"
    assert mapping.fields["observed_at"] == "_time"
    assert mapping.fields["gps_accuracy_m"] == "_gps_accuracy"
    assert mapping.fields["photo_sha256"] == "_photo_sha256"
    assert mapping.fields["geometry_type"] == "_geometry_type"
    assert mapping.unused == ("lat",)


KOBO = [
    "start", "end", "today", "deviceid", "grp_main/thoi_gian", "grp_main/loai_vi_pham",
    "grp_main/gps", "grp_main/_gps_latitude", "grp_main/_gps_longitude",
    "grp_main/_gps_altitude", "grp_main/_gps_precision", "_id", "_uuid", "_submission_time",
    "_validation_status", "_index", "formhub/uuid", "_geolocation",
]  # fmt: skip


def test_kobo_export() -> None:
    mapping = detect_columns(KOBO, kind="violations")
    assert mapping.fields == {
        "record_id": "_uuid",
        "category": "grp_main/loai_vi_pham",
        "observed_at": "grp_main/thoi_gian",
        "lat": "grp_main/_gps_latitude",
        "lon": "grp_main/_gps_longitude",
        "gps_accuracy_m": "grp_main/_gps_precision",
    }
    for ignored in ("_id", "_index", "formhub/uuid", "_geolocation", "grp_main/_gps_altitude"):
        assert ignored in mapping.unused
    assert mapping.complete


def test_kobo_geolocation_only() -> None:
    mapping = detect_columns(["_uuid", "_geolocation", "thoi_gian", "loai"], kind="citizen_reports")
    assert mapping.fields["geolocation"] == "_geolocation"
    assert mapping.fields["report_id"] == "_uuid"


def test_kobo_without_a_time_field_asks_which_timestamp() -> None:
    cols = [c for c in KOBO if c != "grp_main/thoi_gian"]
    mapping = detect_columns(cols, kind="violations")
    assert mapping.unsure == {"observed_at": ("start", "_submission_time")}
    assert "today" in mapping.unused
    fixed = detect_columns(cols, kind="violations", overrides={"start": "observed_at"})
    assert fixed.fields["observed_at"] == "start"
    assert fixed.complete


# --- overrides ----------------------------------------------------------------------------


def test_overrides_win_and_settle() -> None:
    cols = ["lat", "latitude", "lon", "time", "type", "Ghi chú"]
    mapping = detect_columns(
        cols,
        kind="violations",
        overrides={"latitude": "lat", "type": "category", "Ghi chu": "ignore"},
    )
    assert mapping.fields["lat"] == "latitude"
    assert mapping.fields["category"] == "type"
    assert mapping.complete
    assert set(mapping.unused) == {"lat", "Ghi chú"}


def test_override_date_and_time() -> None:
    mapping = detect_columns(
        ["lat", "lon", "Ngày", "Thời gian", "Loại"],
        kind="violations",
        overrides={"Ngay": "date", "Thoi gian": "time", "Loai": "category"},
    )
    assert mapping.fields["date"] == "Ngày"
    assert mapping.fields["time"] == "Thời gian"
    assert "observed_at" not in mapping.fields


def test_bad_overrides_list_every_problem() -> None:
    with pytest.raises(InputError) as err:
        detect_columns(
            ["a", "b", "c"],
            kind="violations",
            overrides={"zz": "lat", "a": "latt", "b": "lon", "c": "lon"},
        )
    text = str(err.value)
    assert "'zz' is not in the table; its columns are: a, b, c" in text
    assert "'latt'" in text and "record_id, category, observed_at" in text
    assert "'lon' is given two columns" in text


def test_parse_overrides() -> None:
    assert parse_overrides(["Vĩ độ=lat", "a=b=lon"]) == {"Vĩ độ": "lat", "a=b": "lon"}
    with pytest.raises(InputError, match="COLUMN=FIELD"):
        parse_overrides(["Vĩ độ"])


def test_repeated_headers_and_unknown_kind() -> None:
    with pytest.raises(InputError, match="repeats the header"):
        detect_columns(["lat", "lat"], kind="violations")
    with pytest.raises(InputError, match="use one of violations"):
        detect_columns(["lat"], kind="incidents")  # type: ignore[arg-type]


def test_describe_both_languages() -> None:
    mapping = detect_columns(["Vĩ độ", "Kinh độ", "lat", "Thời gian", "STT"], kind="violations")
    en, vi = mapping.describe("en"), mapping.describe("vi")
    assert "Thời gian → observed_at" in en
    assert "Unsure: lat: Vĩ độ or lat" in en and "Missing: category" in en
    assert "Not used: STT" in en and "--map" in en
    assert "Chưa chắc: lat: Vĩ độ hoặc lat" in vi and "Thiếu: category" in vi


headers = st.one_of(
    st.sampled_from(
        [
            "Vĩ độ", "vi do", "lat", "Latitude", "y", "Kinh độ", "lon", "x", "Thời gian",
            "Ngày", "Giờ", "time", "date", "Loại vi phạm", "type", "category", "Mức phạt",
            "fine", "Địa chỉ", "_geolocation", "Vị trí", "_lat", "_lon", "_time", "_uuid", "_id",
            "ID", "Mã", "Hộ", "Biển số", "Ghi chú", "start", "_submission_time", "today",
            "grp/_gps_latitude", "grp/_gps_longitude", "Số người", "Đội", "Mức độ",
        ]
    ),
    st.text(min_size=1, max_size=12),
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    columns=st.lists(headers, min_size=1, max_size=12, unique=True),
    kind=st.sampled_from(list(FIELDS)),
    data=st.data(),
)
def test_mapping_is_a_partition(columns: list[str], kind: str, data: st.DataObject) -> None:
    """No column holds two fields, no field two columns; every column is accounted for once."""
    overrides = {}
    if data.draw(st.booleans()):
        col = data.draw(st.sampled_from(columns))
        overrides[col] = data.draw(st.sampled_from([*FIELDS[kind], "ignore"]))
    mapping = detect_columns(columns, kind=kind, overrides=overrides)  # type: ignore[arg-type]
    used = list(mapping.fields.values())
    candidates = [c for cols in mapping.unsure.values() for c in cols]
    everything = used + candidates + list(mapping.unused)
    assert sorted(everything) == sorted(columns)
    assert not set(mapping.fields) & set(mapping.unsure)
    assert set(mapping.fields) <= set(FIELDS[kind])
    assert not ({"lat", "lon"} <= set(mapping.fields) and "geolocation" in mapping.fields)
    if overrides:
        ((col, name),) = overrides.items()
        if name == "ignore":
            assert col in mapping.unused
        else:
            assert mapping.fields.get(name) == col


# --- categories and statuses --------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("lấn chiếm vỉa hè", "sidewalk_encroachment"),
        ("Lan chiem", "sidewalk_encroachment"),
        ("LẤN CHIẾM LÒNG ĐƯỜNG", "sidewalk_encroachment"),
        ("Lấn chiếm vỉa hè, lòng đường", "sidewalk_encroachment"),
        ("bán hàng rong", "street_vending"),
        ("Hàng rong", "street_vending"),
        ("vending", "street_vending"),
        ("giao thông", "traffic"),
        ("đỗ xe sai", "traffic"),
        ("Do xe sai quy dinh", "traffic"),
        ("xả rác", "littering"),
        ("rác", "littering"),
        ("biển quảng cáo", "illegal_signage"),
        ("biển vẫy", "illegal_signage"),
        ("mái che", "illegal_signage"),
        ("xây dựng", "construction_order"),
        ("khác", "other"),
        ("street_vending", "street_vending"),
        ("Street vending", "street_vending"),
        ("Lấn chiếm vỉa hè để kinh doanh", "sidewalk_encroachment"),  # contains an alias
        (" Xả rác sai quy định ", "littering"),
    ],
)
def test_category_aliases(cell: str, code: str) -> None:
    codes, problems = category_code(pd.Series([cell], index=[7], name="Loại"))
    assert codes.tolist() == [code]
    assert problems == []


def test_category_problems() -> None:
    cells = pd.Series(
        ["hàng rong", "", None, "bán hàng rong và xả rác", "???"], index=[2, 3, 4, 5, 6]
    )
    codes, problems = category_code(cells, column="Loại vi phạm")
    assert codes.iloc[0] == "street_vending"
    assert codes.iloc[1:].isna().all()
    assert [(p.row, p.reason, p.severity) for p in problems] == [
        (3, "no_category", "reject"),
        (4, "no_category", "reject"),
        (5, "unknown_category", "reject"),  # two categories: ambiguous
        (6, "unknown_category", "reject"),
    ]
    assert all(p.column == "Loại vi phạm" for p in problems)
    for code in CATEGORIES:
        assert code in problems[-1].message


def test_extra_category_aliases() -> None:
    codes, problems = category_code(
        pd.Series(["VANDALISM", "ROBBERY"]), aliases={"vandalism": "other"}
    )
    assert codes.tolist()[0] == "other"
    assert [p.reason for p in problems] == ["unknown_category"]
    with pytest.raises(InputError, match="not a category"):
        category_code(pd.Series(["x"]), aliases={"x": "vandalism"})


def test_status_code() -> None:
    cells = pd.Series(["Nhắc nhở", "đã xử lý", "fined", "Tháo dỡ", "", "??"], index=range(2, 8))
    codes, problems = status_code(cells, column="Trạng thái")
    assert codes.tolist()[:4] == ["warned", "resolved", "fined", "removed"]
    assert codes.iloc[4:].isna().all()
    assert [(p.row, p.reason, p.severity) for p in problems] == [(7, "unknown_status", "flag")]


def test_status_reads_the_apps_own_labels_in_both_languages():
    from geo.i18n import t
    from geo.model import VIOLATION_STATUSES

    for lang in ("vi", "en"):
        labels = pd.Series([t(f"status.{code}", lang) for code in VIOLATION_STATUSES])
        codes, problems = status_code(labels)
        assert codes.tolist() == list(VIOLATION_STATUSES) and problems == []
