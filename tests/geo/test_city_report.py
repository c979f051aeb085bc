"""The city's monthly report on a small two-ward store: figures counted by hand, a user's
wards only, the change since the previous month, an empty month, the files, and the same
figures as each ward's own report."""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from openpyxl import load_workbook
from shapely.geometry import Point, box

from geo.access import ScopedStore
from geo.auth import Principal
from geo.city_report import CITY_TABLES, city_monthly_report
from geo.errors import InputError
from geo.i18n import t
from geo.report import monthly_report
from geo.store import Query, Store, create_store

TZ = "Asia/Ho_Chi_Minh"
W1 = box(105.830, 21.000, 105.840, 21.010)
W2 = box(105.840, 21.000, 105.850, 21.010)

# id, ward, local time, category, status, fine, items removed
_RECORDS = [
    ("a", "W1", "2025-07-01 00:00", "traffic", "fined", 400_000, None),
    ("b", "W1", "2025-07-03 10:00", "traffic", "fined", None, None),  # fined, amount unknown
    ("c", "W1", "2025-07-04 10:00", "littering", "removed", 200_000, 3),  # fined and removed
    ("d", "W1", "2025-07-31 23:59", "littering", "warned", None, None),
    ("e", "W2", "2025-07-05 10:00", "littering", "warned", 0, None),
    ("f", "W2", "2025-07-06 10:00", "illegal_signage", "removed", None, 2),
    ("g", "W2", "2025-07-07 10:00", "illegal_signage", "resolved", None, None),
    ("h", "W2", "2025-07-08 10:00", "traffic", "fined", 300_000, None),
    ("prev1", "W1", "2025-06-30 23:59", "traffic", "fined", 400_000, None),
    ("prev2", "W1", "2025-06-10 10:00", "littering", "warned", None, None),
    ("prev3", "W2", "2025-06-10 10:00", "traffic", "warned", None, None),
    ("prev4", "W2", "2025-06-11 10:00", "traffic", "warned", None, None),
    ("prev5", "W2", "2025-06-12 10:00", "traffic", "warned", None, None),
    ("prev6", "W2", "2025-06-13 10:00", "traffic", "warned", None, None),
    ("aug", "W1", "2025-08-01 00:00", "traffic", "fined", 400_000, None),
    ("out", None, "2025-07-09 10:00", "traffic", "fined", 400_000, None),  # in no ward
]  # fmt: skip


def _records() -> gpd.GeoDataFrame:
    where = {"W1": Point(105.835, 21.005), "W2": Point(105.845, 21.005), None: Point(105.9, 21.1)}
    return gpd.GeoDataFrame(
        {
            "record_id": [r[0] for r in _RECORDS],
            "ward_id": [r[1] for r in _RECORDS],
            "group_id": [None if r[1] is None else f"G{r[1][1]}" for r in _RECORDS],
            "observed_at": [pd.Timestamp(r[2], tz=TZ) for r in _RECORDS],
            "category": [r[3] for r in _RECORDS],
            "status": [r[4] for r in _RECORDS],
            "fine_vnd": pd.array([r[5] for r in _RECORDS], dtype="Int64"),
            "items_removed": pd.array([r[6] for r in _RECORDS], dtype="Int64"),
        },
        geometry=[where[r[1]] for r in _RECORDS],
        crs=4326,
    )


def make_city_store(path: Path) -> Store:
    """Wards W1 (10,000 residents) and W2 (40,000), one group each, and the records above
    (also used by the command-line and page tests)."""
    store = create_store(path)
    wards = gpd.GeoDataFrame(
        {"ward_id": ["W1", "W2"], "name": ["Phường Một", "Phường Hai"],
         "population": [10_000, 40_000]},
        geometry=[W1, W2], crs=4326,
    )  # fmt: skip
    groups = gpd.GeoDataFrame(
        {"group_id": ["G1", "G2"], "ward_id": ["W1", "W2"], "name": ["Tổ 1", "Tổ 2"],
         "population": [10_000, 40_000]},
        geometry=[W1, W2], crs=4326,
    )  # fmt: skip
    store.write({"wards": wards, "groups": groups}, user="t", action="test")
    store.write({"violations": _records()}, user="t", action="test")
    return store


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_city_store(tmp_path_factory.mktemp("city") / "city.gpkg")


class _NoRecordReads:
    """A store that refuses to read violations: the report must aggregate them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.location = store.location

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def read(self, table: str, query: Query | None = None) -> pd.DataFrame:
        assert table != "violations", "the city report read the records"
        return self._store.read(table, query)


def test_every_figure_equals_the_records_counted_by_hand(city):
    report = city_monthly_report(_NoRecordReads(city), month="2025-07")  # type: ignore[arg-type]
    wards = report.tables["wards"].set_index("name")
    w1, w2, total = wards.loc["Phường Một"], wards.loc["Phường Hai"], wards.loc["Tổng cộng"]
    # W1: a, b, c, d (the 31st at 23:59 is July's; 1 August at 00:00 is not)
    assert (w1["records"], w1["records_prev"], w1["change"], w1["change_pct"]) == (4, 2, 2, 100)
    # fined: a (fine), b (status, no amount), c (removed with a fine)
    assert (w1["fined"], w1["fines_vnd"], w1["items_removed"]) == (3, 600_000, 3)
    assert w1["per_1000"] == 0.4 and w1["top_category"] == "littering"  # 2 each: by code
    assert (w2["records"], w2["records_prev"], w2["change"], w2["change_pct"]) == (4, 4, 0, 0)
    assert (w2["fined"], w2["fines_vnd"], w2["items_removed"]) == (1, 300_000, 2)
    assert w2["per_1000"] == 0.1 and w2["top_category"] == "illegal_signage"
    assert w1["per_km2"] == pytest.approx(4 / (W1.area * 111.32**2 * 0.9336), rel=0.02)
    assert (total["records"], total["records_prev"], total["fined"]) == (8, 6, 4)
    assert total["population"] == 50_000 and total["per_1000"] == 0.16
    assert pd.isna(total["rank"]) and pd.isna(total["ward_id"])
    # ranked by records per 1,000 residents
    assert report.tables["wards"]["ward_id"].tolist()[:2] == ["W1", "W2"]
    cats = report.tables["categories"].set_index("category")
    assert cats["records"].to_dict() == {"traffic": 3, "littering": 3, "illegal_signage": 2}
    assert cats["records_prev"].to_dict() == {"traffic": 5, "littering": 1, "illegal_signage": 0}
    assert cats.loc["littering", ["fined", "warned", "removed"]].tolist() == [1, 2, 1]
    s = report.summary
    assert (s.records, s.fined, s.total_fines_vnd, s.items_removed) == (8, 4, 900_000, 5)
    assert (s.warnings, s.removals, s.resolved) == (2, 2, 1)
    assert report.totals["outside"] == 1 and report.totals["wards_with_records"] == 2


def test_a_wards_figures_are_those_of_its_own_monthly_report(city):
    report = city_monthly_report(city, month="2025-07").tables["wards"].set_index("ward_id")
    for ward_id in ("W1", "W2"):
        own = monthly_report(city, ward_id=ward_id, month="2025-07")
        row = report.loc[ward_id]
        s = own.summary
        assert (row["records"], row["fined"], row["fines_vnd"], row["items_removed"]) == (
            s.records, s.fined, s.total_fines_vnd, s.items_removed
        )  # fmt: skip


def test_a_user_of_one_ward_gets_a_report_of_that_ward_only(city):
    mine = ScopedStore(city, Principal("lan", "viewer", ("W2",)))
    report = city_monthly_report(mine, month="2025-07")
    assert report.tables["wards"]["ward_id"].dropna().tolist() == ["W2"]
    assert report.summary.records == 4 and report.totals["outside"] == 0
    assert report.totals["records_prev"] == 4
    assert "phường Hai" in report.paragraph
    with pytest.raises(InputError, match="W1"):
        city_monthly_report(mine, month="2025-07", ward_ids=["W1"])
    # the same wards chosen from the whole store give the same report
    chosen = city_monthly_report(city, month="2025-07", ward_ids=["W2"])
    pd.testing.assert_frame_equal(chosen.tables["wards"], report.tables["wards"])


def test_the_paragraph_gives_the_change_the_top_category_and_the_top_wards(city):
    vi = city_monthly_report(city, month="2025-07").paragraph
    assert "của 2 phường, xã" in vi and "ghi nhận 8 trường hợp vi phạm" in vi
    assert "So với tháng trước (6 trường hợp), số vi phạm ghi nhận tăng 33,3 %." in vi
    # littering and traffic, 3 each: the first by code, as for a ward's top category
    assert "nhiều nhất là xả rác sai quy định với 3 trường hợp, chiếm 37,5 % tổng số" in vi
    assert "Phường Một (0,4) và Phường Hai (0,1)" in vi
    en = city_monthly_report(city, month="2025-07", lang="en", rank_by="count").paragraph
    assert "rose by 33.3%" in en and "Most violations were recorded in Phường" in en
    june = city_monthly_report(city, month="2025-06", lang="en").paragraph
    assert "previous month" not in june  # May had none: no change to give


def test_a_month_without_records_says_so_and_counts_zeros(city):
    report = city_monthly_report(city, month="2025-10")
    assert t("report.no_records", "vi") in report.paragraph
    wards = report.tables["wards"]
    assert wards["records"].tolist() == [0, 0, 0] and report.tables["categories"].empty
    assert report.summary.fined == 0 and report.totals["change_pct"] is None


def test_the_files_carry_the_tables_with_headers_in_the_language(city, tmp_path):
    report = city_monthly_report(city, month="2025-07", lang="en")
    book = load_workbook(report.to_xlsx(tmp_path / "city.xlsx"), read_only=True)
    assert book.sheetnames == ["Summary", "Wards", "By category"]
    rows = list(book["Wards"].values)
    assert rows[0][:3] == ("Rank", "Ward ID", "Name") and rows[-1][2] == "Total"
    table = pd.read_csv(io.BytesIO(report.to_csv(tmp_path / "city.csv")), encoding="utf-8-sig")
    assert table["Records"].tolist() == [4, 4, 8] and table["Rank"].isna().tolist()[-1]
    assert (tmp_path / "city.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    data = json.loads(report.to_json())
    assert data["fined"] == 4 and data["outside"] == 1 and len(data["tables"]["wards"]) == 3
    assert set(data["tables"]) == set(CITY_TABLES) - {"summary"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"month": "2025-13"}, "YYYY-MM"),
        ({"month": "2025-07", "lang": "fr"}, "lang"),
        ({"month": "2025-07", "ward_ids": ["W9"]}, "W9"),
        ({"month": "2025-07", "ward_ids": "W1"}, "list"),
        ({"month": "2025-07", "rank_by": "fines"}, "rank_by"),
    ],
)
def test_bad_arguments_are_refused_with_the_fix(city, kwargs, match):
    with pytest.raises(InputError, match=match):
        city_monthly_report(city, **kwargs)
