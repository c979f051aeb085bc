"""The monthly report on a small hand-made store: month edges in local time, the paragraph,
the tables, a month without records, and the files (workbook, map)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from shapely.geometry import LineString, Point, box

from geo._report_text import amount
from geo.errors import InputError
from geo.i18n import number, t
from geo.report import TABLES, MonthlyReport, month_period, monthly_report
from geo.store import Store, create_store

TZ = "Asia/Ho_Chi_Minh"
X0, X1, XM = 105.830, 105.840, 105.835
Y0, Y1, YM = 21.000, 21.010, 21.005
FORMULA_CAMPAIGN = '=HYPERLINK("http://example.invalid","bấm vào đây")'
FORMULA_GROUP = "+1 Tổ dân phố"


def _local(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=TZ)


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


# id, when, group, category, status, fine, items, campaign
_RECORDS = [
    ("jul-first", _local("2025-07-01 00:00:00"), "G1", "traffic", "fined", 400_000, None, None),
    ("jun-last", _local("2025-06-30 23:59:59"), "G1", "traffic", "fined", 400_000, None, None),
    # 17:30 UTC on 30 June is 00:30 on 1 July in Hà Nội: July's
    ("utc-july", _utc("2025-06-30 17:30"), "G1", "street_vending", "fined", 300_000, None, None),
    # 17:00 UTC on 31 July is midnight on 1 August in Hà Nội: not July's
    ("utc-aug", _utc("2025-07-31 17:00"), "G3", "littering", "fined", 500_000, None, None),
    ("jul-last", _utc("2025-07-31 16:59:59"), "G3", "littering", "fined", 500_000, None, None),
    # fined *and* removed: a fined case all the same
    ("removed", _local("2025-07-11 09:00"), "G2", "illegal_signage", "removed", 1_000_000, 5,
     "c1"),
    ("warned", _local("2025-07-16 15:00"), "G4", "sidewalk_encroachment", "warned", None, None,
     None),
    ("june-2", _local("2025-06-12 08:00"), "G3", "littering", "warned", None, None, None),
]  # fmt: skip
_ZONE = {"G1": "Z1", "G2": "Z1", "G3": "Z2", "G4": "Z2"}


def _groups() -> gpd.GeoDataFrame:
    shapes = {
        "G1": box(X0, Y0, XM, YM),
        "G2": box(X0, YM, XM, Y1),
        "G3": box(XM, Y0, X1, YM),
        "G4": box(XM, YM, X1, Y1),
    }
    return gpd.GeoDataFrame(
        {
            "group_id": list(shapes),
            "zone_id": [_ZONE[g] for g in shapes],
            "ward_id": "w",
            "name": ["Tổ 1", FORMULA_GROUP, "Tổ 3", "Tổ 4"],
            "population": pd.array([1000, 2000, 500, None], dtype="Int64"),
        },
        geometry=list(shapes.values()),
        crs=4326,
    )


def _violations() -> gpd.GeoDataFrame:
    centre = {"G1": (XM - 0.002, YM - 0.0001), "G2": (XM - 0.002, YM + 0.0001),
              "G3": (XM + 0.002, YM - 0.0001), "G4": (XM + 0.002, YM + 0.0001)}  # fmt: skip
    rows = pd.DataFrame(
        _RECORDS,
        columns=["record_id", "observed_at", "group_id", "category", "status", "fine_vnd",
                 "items_removed", "campaign_id"],
    )  # fmt: skip
    rows["observed_at"] = pd.to_datetime([ts.tz_convert(TZ) for ts in rows["observed_at"]])
    rows["ward_id"], rows["zone_id"] = "w", rows["group_id"].map(_ZONE)
    rows["assignment"] = "inside"
    xy = np.array([centre[g] for g in rows["group_id"]])
    return gpd.GeoDataFrame(rows, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=4326)


def _patrol() -> gpd.GeoDataFrame:
    """One walk east along the middle street on 5 July, a fix every 5 s at 1.3 m/s."""
    n = 160
    lon = np.linspace(X0 + 0.0002, X1 - 0.0002, n)
    times = _local("2025-07-05 08:00") + pd.to_timedelta(np.arange(n) * 5, unit="s")
    return gpd.GeoDataFrame(
        {"track_id": "t1", "ward_id": "w", "team": "Đội 1", "t": times},
        geometry=gpd.points_from_xy(lon, np.full(n, YM)),
        crs=4326,
    )


def _build(path: Path) -> Store:
    store = create_store(path)
    groups = _groups()
    zones = groups.dissolve(by="zone_id", as_index=False)[["zone_id", "ward_id", "geometry"]]
    zones["name"] = ["Khu vực 1", "Khu vực 2"]
    ward = gpd.GeoDataFrame({"ward_id": ["w"], "name": ["Phường Thử"], "population": [3500]},
                            geometry=[box(X0, Y0, X1, Y1)], crs=4326)  # fmt: skip
    streets = gpd.GeoDataFrame(
        {"street_id": ["s1", "s2"], "ward_id": "w", "name": ["Phố Ngang", "Phố Dọc"],
         "highway": "tertiary", "length_m": [1040.0, 1110.0]},
        geometry=[LineString([(X0, YM), (X1, YM)]), LineString([(XM, Y0), (XM, Y1)])],
        crs=4326,
    )  # fmt: skip
    store.write({"wards": ward, "zones": zones, "groups": groups, "streets": streets},
                user="t", action="boundaries")  # fmt: skip
    campaigns = pd.DataFrame(
        {"campaign_id": ["c1"], "ward_id": "w", "name": [FORMULA_CAMPAIGN],
         "start": [_local("2025-07-10")], "end": [_local("2025-07-12 23:59:59")],
         "target": "G2", "categories": "illegal_signage", "teams": "Đội 1"}
    )  # fmt: skip
    cleanups = gpd.GeoDataFrame(
        {"cleanup_id": ["k1", "k0"], "ward_id": "w", "group_id": ["G3", "G3"],
         "started_at": [_local("2025-07-20 07:00"), _local("2025-06-20 07:00")],
         "ended_at": [_local("2025-07-20 09:00"), _local("2025-06-20 09:00")],
         "participants": [20, 50], "waste_kg": [150.5, 400.0]},
        geometry=[Point(XM + 0.002, Y0 + 0.001)] * 2, crs=4326,
    )  # fmt: skip
    reports = gpd.GeoDataFrame(
        {"report_id": ["p1", "p2", "p0"], "ward_id": "w", "group_id": "G1",
         "received_at": [_local("2025-07-02 08:00"), _local("2025-07-20 08:00"),
                         _local("2025-06-02 08:00")],
         "category": "littering", "severity": 2, "status": ["resolved", "received", "resolved"],
         "resolved_at": [_local("2025-07-03 08:00"), pd.NaT, _local("2025-06-03 08:00")]},
        geometry=[Point(XM - 0.002, Y0 + 0.001)] * 3, crs=4326,
    )  # fmt: skip
    store.write({"violations": _violations(), "campaigns": campaigns, "cleanups": cleanups,
                 "citizen_reports": reports, "patrol_points": _patrol()},
                user="t", action="records")  # fmt: skip
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return _build(tmp_path_factory.mktemp("report") / "small.gpkg")


@pytest.fixture(scope="module")
def july(store: Store) -> MonthlyReport:
    return monthly_report(store, ward_id="w", month="2025-07")


def test_the_month_runs_from_local_midnight_on_the_first(july: MonthlyReport) -> None:
    # July: jul-first (00:00 local), utc-july, jul-last (23:59:59 local), removed, warned;
    # not jun-last (23:59:59 on 30 June) nor utc-aug (00:00 on 1 August local).
    assert july.summary.records == 5
    assert july.summary.cases_fined == {
        "street_vending": 1, "traffic": 1, "littering": 1, "illegal_signage": 1,
    }  # fmt: skip
    assert july.summary.total_fines_vnd == 2_200_000
    assert july.summary.items_removed == 5
    assert (july.start.isoformat(), july.end.isoformat()) == (
        "2025-07-01T00:00:00+07:00",
        "2025-08-01T00:00:00+07:00",
    )


def test_month_period_checks_the_format() -> None:
    assert month_period(" 2024-02 ")[1] == _local("2024-03-01")
    for bad in ("2025-7", "2025-13", "07/2025", "2025-07-01", ""):
        with pytest.raises(InputError, match="YYYY-MM"):
            month_period(bad)


def test_unknown_ward_and_language_are_refused(store: Store) -> None:
    with pytest.raises(InputError, match=r"No ward 'x'.* w\."):
        monthly_report(store, ward_id="x", month="2025-07")
    with pytest.raises(InputError, match="lang"):
        monthly_report(store, ward_id="w", month="2025-07", lang="fr")  # type: ignore[arg-type]


def test_the_vietnamese_paragraph(july: MonthlyReport) -> None:
    text = july.paragraph
    assert text.startswith("Trong tháng 7/2025, Ủy ban nhân dân phường Thử đã chỉ đạo")
    assert (
        "đã xử phạt 1 trường hợp vi phạm giao thông, 1 trường hợp bán hàng rong, 1 trường hợp "
        "xả rác sai quy định và 1 trường hợp đặt biển quảng cáo, bục bệ, mái che trái phép, "
        "với tổng số tiền xử phạt hơn 2 triệu đồng"
    ) in text
    assert "nhắc nhở 1 trường hợp" in text
    assert "tháo dỡ, thu giữ 5 biển quảng cáo" in text
    assert (
        f"1 đợt ra quân cao điểm: “{FORMULA_CAMPAIGN}” từ ngày 10/7 đến ngày 12/7/2025 (3 ngày)"
        in text
    )
    assert "1 buổi tổng vệ sinh môi trường với 20 lượt người tham gia, thu gom 150 kg" in text
    assert "tiếp nhận 2 phản ánh" in text and "giải quyết xong 1 phản ánh" in text


def test_the_english_paragraph(store: Store) -> None:
    text = monthly_report(store, ward_id="w", month="2025-07", lang="en").paragraph
    assert text.startswith("In July 2025, the People's Committee of Thử Ward directed")
    assert "fined 1 case of traffic violations, 1 case of street vending" in text
    assert "with fines totalling over 2 million VND; issued 1 warning" in text
    assert "The ward held 1 clean-up with 20 participants" in text


def test_zone_and_group_tables_count_fines_and_change(july: MonthlyReport) -> None:
    groups = july.tables["groups"].set_index("group_id")
    assert groups.loc["G1", "records"] == 2 and groups.loc["G1", "records_prev"] == 1
    assert groups.loc["G1", "fines_vnd"] == 700_000 and groups.loc["G1", "fined"] == 2
    assert groups.loc["G1", "per_1000"] == 2.0 and groups.loc["G1", "change_pct"] == 100.0
    # June: june-2; July: jul-last (utc-aug is August's)
    assert groups.loc["G3", ["records", "records_prev", "change"]].tolist() == [1, 1, 0]
    assert pd.isna(groups.loc["G4", "per_1000"])  # no population: no rate, not zero
    assert groups.loc["G2", "items_removed"] == 5
    zones = july.tables["zones"].set_index("zone_id")
    assert zones["records"].to_dict() == {"Z1": 3, "Z2": 2}
    assert zones["fines_vnd"].sum() == july.summary.total_fines_vnd
    campaigns = july.tables["campaigns"]
    assert campaigns[["records", "fined", "items_removed", "days"]].values.tolist() == [
        [1, 1, 5, 3]
    ]


def test_coverage_hotspots_and_cleanups(july: MonthlyReport) -> None:
    # the walk covered the middle street, not the crossing one
    share = july.patrol["share"]
    assert 0.3 < share < 0.7 and july.patrol["days"] == 1
    assert july.tables["coverage"]["unit"].tolist() == ["w", "Z1", "Z2"]
    hot = july.tables["hotspots"]
    assert hot["records"].sum() == 5 and hot["rank"].tolist() == list(range(1, len(hot) + 1))
    cleanups = july.tables["cleanups"].set_index("group_id")
    columns = ["littering", "littering_fined", "cleanups", "participants"]
    assert cleanups.loc["G3", columns].tolist() == [1, 1, 1, 20]


def test_a_month_without_records_reports_zeros(store: Store) -> None:
    report = monthly_report(store, ward_id="w", month="2025-03")
    figures = report.to_dict()
    assert figures["records"] == 0 and figures["cases_fined"] == {}
    assert figures["total_fines_vnd"] == 0 and figures["items_removed"] == 0
    assert t("report.no_records", "vi") in report.paragraph
    assert report.tables["groups"]["records"].tolist() == [0, 0, 0, 0]
    assert report.tables["hotspots"].empty and report.tables["campaigns"].empty
    assert report.patrol["share"] == 0.0


def test_json_has_the_figures_per_category_code(july: MonthlyReport) -> None:
    data = json.loads(july.to_json())
    assert data["cases_fined"]["littering"] == 1 and data["total_fines_vnd"] == 2_200_000
    assert set(data["tables"]) == set(TABLES) - {"summary"}
    assert data["tables"]["groups"][0]["group_id"] == "G1"


def test_workbook_escapes_formula_looking_text(july: MonthlyReport, tmp_path: Path) -> None:
    path = july.to_xlsx(tmp_path / "r.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == [t(f"report.sheet.{name}", "vi") for name in TABLES]
    campaign = book[t("report.sheet.campaigns", "vi")]["B2"]
    assert campaign.value == FORMULA_CAMPAIGN  # intact ...
    assert campaign.data_type == "s" and campaign.quotePrefix  # ... but never run
    groups = book[t("report.sheet.groups", "vi")]
    names = {row[1].value: row[1] for row in groups.iter_rows(min_row=2)}
    assert names[FORMULA_GROUP].quotePrefix and not names["Tổ 1"].quotePrefix
    summary = {
        r[0]: r[2] for r in book[t("report.sheet.summary", "vi")].iter_rows(values_only=True)
    }
    assert summary["total_fines_vnd"] == 2_200_000 and summary["records"] == 5


def test_map_is_a_png(july: MonthlyReport, tmp_path: Path) -> None:
    path = july.to_png(tmp_path / "map.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=50_000_000_000))
def test_amounts_are_rounded_down_never_up(vnd: int) -> None:
    text = amount(vnd, "vi")
    assert text.endswith(" đồng") and "gần" not in text
    assert text.startswith("hơn ") == (
        vnd >= 1_000_000 and vnd % (1_000_000 if vnd < 1_000_000_000 else 100_000_000) != 0
    )
    if 1_000_000 <= vnd < 1_000_000_000:
        shown = int(text.removeprefix("hơn ").split(" ")[0].replace(".", ""))
        assert shown * 1_000_000 <= vnd < (shown + 1) * 1_000_000


def test_numbers_are_written_the_vietnamese_way() -> None:
    assert number(1_234_567, "vi") == "1.234.567" and number(1_234_567, "en") == "1,234,567"
    assert amount(999_999, "vi") == "999.999 đồng"
    assert amount(2_000_000_000, "en") == "2 billion VND"
