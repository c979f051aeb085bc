"""CLI ``report`` on the demo store: July 2025 reproduces the ward's published figures in the
Vietnamese text, the JSON and the workbook; errors are clear."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from geo.cli import main
from geo.demo_records import CAMPAIGN_FINED_CASES, CAMPAIGN_FINES_TOTAL_VND, CAMPAIGN_ITEMS_REMOVED
from geo.i18n import t
from geo.store import Query, open_store

_PHRASES = {
    "traffic": "vi phạm giao thông",
    "sidewalk_encroachment": "lấn chiếm vỉa hè",
    "street_vending": "bán hàng rong",
    "littering": "xả rác sai quy định",
}


def _items_removed_in_july(store_path: Path) -> int:
    """Items removed in July, read straight from the store (not through the report)."""
    store = open_store(store_path)
    ward_id = store.ward_ids()[0]
    july = store.read("violations", Query(ward_id=ward_id, start=pd.Timestamp("2025-07-01"),
                                          end=pd.Timestamp("2025-08-01")))  # fmt: skip
    return int(july["items_removed"].fillna(0).sum())


def test_july_report_reproduces_the_published_figures(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xlsx, png = tmp_path / "thang7.xlsx", tmp_path / "thang7.png"
    code = main(["report", "--db", str(demo_store), "--month", "2025-07", "--json",
                 "--xlsx", str(xlsx), "--png", str(png)])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    items = _items_removed_in_july(demo_store)
    assert CAMPAIGN_ITEMS_REMOVED <= items < 1000  # several hundred: the waves' and the rest

    # the Vietnamese text
    text = "\n".join(lines[:-1])
    for code_, phrase in _PHRASES.items():
        assert f"{CAMPAIGN_FINED_CASES[code_]} trường hợp {phrase}" in text
    assert "với tổng số tiền xử phạt hơn 32 triệu đồng" in text
    assert f"tháo dỡ, thu giữ {items} " in text
    assert "32.600.000" in text  # the exact total in the summary table
    assert "1 đợt ra quân cao điểm: “Ra quân cao điểm tháng 7/2025” từ ngày 07/7" in text

    # the JSON: the last line
    data = json.loads(lines[-1])
    assert data["cases_fined"] == CAMPAIGN_FINED_CASES  # no other category fined in July
    assert data["total_fines_vnd"] == CAMPAIGN_FINES_TOTAL_VND
    assert data["items_removed"] == items

    # the workbook, read back
    book = load_workbook(xlsx, read_only=True)
    by_category = book[t("report.sheet.categories", "vi")]
    header, *rows = by_category.iter_rows(values_only=True)
    fined_col = header.index(t("report.col.fined", "vi"))
    fined = {row[0]: row[fined_col] for row in rows if row[fined_col]}
    assert fined == CAMPAIGN_FINED_CASES
    summary = {row[0]: row[2] for row in book[t("report.sheet.summary", "vi")].iter_rows(
        min_row=2, values_only=True)}  # fmt: skip
    assert summary["total_fines_vnd"] == CAMPAIGN_FINES_TOTAL_VND
    assert summary["items_removed"] == items
    assert "hơn 32 triệu đồng" in summary["paragraph"]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_english_report_gives_the_same_figures(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "--db", str(demo_store), "--month", "2025-07", "--lang", "en",
                 "--json"])  # fmt: skip
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "25 cases of traffic violations" in lines[2]
    assert "with fines totalling over 32 million VND" in lines[2]
    data = json.loads(lines[-1])
    assert data["cases_fined"] == CAMPAIGN_FINED_CASES and data["lang"] == "en"


def test_a_month_without_records_says_so_and_reports_zeros(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--db", str(demo_store), "--month", "2024-01", "--json"]) == 0
    captured = capsys.readouterr()
    assert "no violations recorded" in captured.err
    assert t("report.no_records", "vi") in captured.out
    data = json.loads(captured.out.strip().splitlines()[-1])
    assert (data["records"], data["cases_fined"], data["total_fines_vnd"]) == (0, {}, 0)


def test_bad_month_and_unknown_ward_are_clear_errors(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the month is checked before the store is even opened
    missing = tmp_path / "none.gpkg"
    assert main(["report", "--db", str(missing), "--month", "7/2025"]) == 2
    assert "YYYY-MM, e.g. 2025-07" in capsys.readouterr().err
    assert main(["report", "--db", str(demo_store), "--month", "2025-07",
                 "--ward-id", "kim-lien"]) == 2  # fmt: skip
    assert "No ward 'kim-lien'" in capsys.readouterr().err
    assert main(["report", "--db", str(missing), "--month", "2025-07"]) == 2
    assert "does not exist" in capsys.readouterr().err


# --- the city's report ---------------------------------------------------------------------------


@pytest.fixture
def city_store(tmp_path: Path) -> Path:
    from tests.geo.test_city_report import make_city_store

    make_city_store(tmp_path / "city.gpkg")
    return tmp_path / "city.gpkg"


def test_city_report_prints_every_ward_ranked_and_writes_the_workbook_and_csv(
    city_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xlsx, csv = tmp_path / "city.xlsx", tmp_path / "city.csv"
    assert main(["report", "--db", str(city_store), "--month", "2025-07", "--city",
                 "--out", str(xlsx), "--json"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Báo cáo tháng 7/2025 — 2 phường, xã"
    assert "ghi nhận 8 trường hợp vi phạm" in lines[2]
    table = "\n".join(lines)
    assert "Phường Một" in table and "Tổng cộng" in table and f"wrote {xlsx}" in table
    data = json.loads(lines[-1])
    assert data["records"] == 8 and data["fined"] == 4 and data["outside"] == 1
    assert [w["ward_id"] for w in data["tables"]["wards"]] == ["W1", "W2", None]
    sheets = load_workbook(xlsx, read_only=True).sheetnames
    assert sheets == [t(f"report.sheet.{n}", "vi") for n in ("summary", "wards", "categories")]
    assert main(["report", "--db", str(city_store), "--month", "2025-07", "--city",
                 "--lang", "en", "--rank-by", "count", "--out", str(csv)]) == 0  # fmt: skip
    wards = pd.read_csv(csv, encoding="utf-8-sig")
    assert wards["Records"].tolist() == [4, 4, 8] and wards["Name"].iloc[-1] == "Total"


def test_city_report_refuses_files_it_cannot_write_and_a_ward_with_city(
    city_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["report", "--db", str(city_store), "--month", "2025-07"]
    assert main([*base, "--city", "--out", str(tmp_path / "map.png")]) == 2
    assert ".xlsx or .csv" in capsys.readouterr().err
    assert main([*base, "--city", "--xlsx", str(tmp_path / "a.xlsx")]) == 2
    assert "--out FILE.xlsx" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: --city and --ward-id exclude each other
        main([*base, "--city", "--ward-id", "W1"])
    assert "not allowed with" in capsys.readouterr().err
    # the ward form is unchanged, and takes --out for its workbook
    assert main([*base, "--ward-id", "W2", "--out", str(tmp_path / "w2.xlsx")]) == 0
    assert (tmp_path / "w2.xlsx").exists()
