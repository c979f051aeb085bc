"""AppTest of the report page on the demo store: July's report, a group's week, overdue reports."""

from __future__ import annotations

import io

import openpyxl
import pytest
from streamlit.testing.v1 import AppTest

from geo.demo_records import CAMPAIGN_FINED_CASES
from geo.i18n import number
from geo.store import open_store
from tests.views import signed_in

pytestmark = pytest.mark.slow

ROUTER = """
import streamlit as st
from views import common, report_page
store = common.get_store(str(common.store_location()))
filters = common.sidebar(store)
report_page.render(filters)
"""


def _app(path, monkeypatch) -> AppTest:
    monkeypatch.setenv("URBAN_ORDER_DB", str(path))
    return signed_in(AppTest.from_string(ROUTER, default_timeout=180)).run()


def test_july_report_shows_the_published_figures(demo_store, monkeypatch):
    at = _app(demo_store, monkeypatch)
    assert not at.exception, at.exception
    assert at.title[0].value == "Báo cáo"
    at.selectbox(key="report-month").set_value("2025-07").run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "đã xử phạt 25 trường hợp vi phạm giao thông, 6 trường hợp lấn chiếm vỉa hè" in text
    assert "hơn 32 triệu đồng" in text
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Trường hợp xử phạt"] == number(sum(CAMPAIGN_FINED_CASES.values()))
    # the tables below the paragraph, headers in Vietnamese
    headers = {c for frame in at.dataframe for c in frame.value.columns}
    assert "Loại vi phạm" in headers
    # the citizen reports tab lists overdue reports, most severe first
    overdue = int(metrics["Đang quá hạn"].replace(".", ""))
    assert overdue > 0
    severities = at.dataframe[-1].value["Mức độ"].tolist()
    assert len(severities) == overdue


def test_report_workbook_download_has_a_sheet_per_table(demo_store, monkeypatch):
    from geo.report import monthly_report

    store = open_store(demo_store)
    report = monthly_report(store, ward_id=store.ward_ids()[0], month="2025-07")
    at = _app(demo_store, monkeypatch)
    at.selectbox(key="report-month").set_value("2025-07").run()
    # the page offers exactly what geo writes; read it back as the ward would
    from views.report_page import _files

    files = _files(str(demo_store), store.data_version(), store.ward_ids()[0], "2025-07", "vi")
    book = openpyxl.load_workbook(io.BytesIO(files["xlsx"]), read_only=True)
    assert len(book.sheetnames) >= 6
    assert files["png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert report.summary.cases_fined == CAMPAIGN_FINED_CASES


def test_a_commitment_recorded_on_the_page_is_stored_as_a_key(demo_copy, monkeypatch):
    at = _app(demo_copy, monkeypatch)
    household = next(x for x in at.text_input if x.label.startswith("Hộ (số nhà"))
    household.set_value("số 12 ngõ 4B Phố Hoa Sữa Mẫu")
    next(d for d in at.date_input if d.label == "Ngày ký").set_value("2025-06-01")
    next(b for b in at.button if b.label == "Lưu cam kết").click().run()
    assert not at.exception, at.exception
    assert any("Đã lưu cam kết" in s.value for s in at.success)
    stored = open_store(demo_copy).read("commitments")
    assert len(stored) == 1
    assert "Hoa Sữa" not in " ".join(str(v) for v in stored.iloc[0].tolist())
