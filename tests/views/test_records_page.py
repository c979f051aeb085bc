"""AppTest of the records page: filter, edit status, quarantine review, export."""

from __future__ import annotations

import csv
import io

import pytest
from defusedxml import ElementTree
from streamlit.testing.v1 import AppTest

from geo.export import export_records
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.store import Query, open_store
from tests.views import signed_in
from views.records_page import export_frame, filter_records

pytestmark = pytest.mark.slow

ROUTER = """
import streamlit as st
from views import common, records_page
store = common.get_store(str(common.store_location()))
filters = common.sidebar(store)
records_page.render(filters)
"""
BAD_ROWS = (
    "Vĩ độ,Kinh độ,Thời gian,Loại vi phạm,Địa chỉ\n"
    "21.0065,105.8330,31/02/2025 10:00,Bán hàng rong,số 1 Ngõ Sửa\n"  # no 31 February
    "21.0070,105.8340,08/07/2025 11:00,???,số 3 Ngõ Bỏ\n"  # no such category
).encode()


@pytest.fixture
def db(demo_copy, monkeypatch):
    monkeypatch.setenv("URBAN_ORDER_DB", str(demo_copy))
    return demo_copy


@pytest.fixture
def at(db):
    return signed_in(AppTest.from_string(ROUTER, default_timeout=120)).run()


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _caption(at: AppTest, start: str) -> str:
    return next(c.value for c in at.caption if c.value.startswith(start))


def test_records_of_the_filters_by_status_and_group(at, db):
    assert not at.exception, at.exception
    assert at.title[0].value == "Hồ sơ vi phạm"
    store = open_store(db)
    everything = store.read("violations", Query(ward_id="demo"))
    assert len(at.dataframe[0].value) == len(everything)
    at.multiselect(key="records-status-vi").set_value(["fined"]).run()
    table = at.dataframe[0].value
    fined = int((everything["status"] == "fined").sum())
    assert 0 < len(table) == fined < len(everything)
    assert set(table["Trạng thái"]) == {"Đã xử phạt"}
    assert _caption(at, f"{fined:,} / ".replace(",", "."))
    group = everything.loc[everything["status"] == "fined", "group_id"].mode()[0]
    at.multiselect(key="records-groups").set_value([group]).run()
    table = at.dataframe[0].value
    expected = int(((everything["status"] == "fined") & (everything["group_id"] == group)).sum())
    assert len(table) == expected and table["Tổ dân phố"].nunique() == 1
    # the sidebar's categories narrow it too
    at.multiselect(key="categories-vi").set_value(["street_vending"]).run()
    assert set(at.dataframe[0].value["Loại vi phạm"]) <= {"Bán hàng rong"}
    assert [d.label for d in at.get("download_button")] == [
        "Tải CSV", "Tải Excel", "Tải GeoJSON", "Tải GeoPackage", "Tải KML (Google Earth)",
    ]  # fmt: skip
    at.radio(key="lang").set_value("en").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Violation records"
    # the filters survive the switch, shown with their labels in English
    assert at.multiselect(key="records-status-en").value == ["fined"]
    assert set(at.dataframe[0].value["Status"]) == {"Fined"}


def test_the_export_is_exactly_the_filtered_set(db):
    records = open_store(db).read("violations", Query(ward_id="demo"))
    shown = filter_records(records, statuses=["warned", "removed"])
    rows = list(csv.DictReader(io.StringIO(
        export_records(export_frame(shown), fmt="csv").decode("utf-8-sig")
    )))  # fmt: skip
    assert len(rows) == len(shown) == int(records["status"].isin(["warned", "removed"]).sum())
    assert {r["Mã hồ sơ"] for r in rows} == set(shown["record_id"])
    assert {r["Trạng thái"] for r in rows} == {"Nhắc nhở", "Đã tháo dỡ"}
    # the same set, placed, for Google Earth
    root = ElementTree.fromstring(export_records(export_frame(shown), fmt="kml"))
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    ids = [d.text for d in root.iterfind(".//k:SimpleData[@name='Mã hồ sơ']", ns)]
    assert len(root.findall(".//k:Placemark", ns)) == len(shown) and set(ids) == {
        r["Mã hồ sơ"] for r in rows
    }


def test_a_status_edit_is_saved_and_audited(at, db):
    editor = at.dataframe[0]
    rid = editor.value.index[0]
    current = editor.value["Trạng thái"].iloc[0]
    new_label, new_code = (
        ("Đã tháo dỡ", "removed") if current != "Đã tháo dỡ" else ("Nhắc nhở", "warned")
    )
    assert _button(at, "Lưu thay đổi trạng thái (0)").disabled
    at.session_state[editor.key] = {
        "edited_rows": {0: {"Trạng thái": new_label}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    _button(at, "Lưu thay đổi trạng thái (1)").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == "Đã lưu trạng thái của 1 hồ sơ."
    store = open_store(db)
    saved = store.read("violations").set_index("record_id").loc[rid]
    assert saved["status"] == new_code
    log = store.read("audit_log")
    last = log[log["action"] == "edit status"].iloc[-1]
    assert (last["user"], last["table"], last["ids"]) == ("test-admin", "violations", rid)
    # the table shows the saved status, and there is nothing left to save
    assert at.dataframe[0].value.loc[rid, "Trạng thái"] == new_label
    assert _button(at, "Lưu thay đổi trạng thái (0)").disabled


def test_quarantined_rows_are_fixed_or_discarded(db):
    store = open_store(db)
    prepared = prepare_upload(BAD_ROWS, name="loi.csv", store=store,
                              options=UploadOptions(user="Lan"))  # fmt: skip
    commit_upload(prepared, store=store)
    before = store.count("violations")
    at = signed_in(AppTest.from_string(ROUTER, default_timeout=120)).run()
    assert at.subheader[0].value == "Dòng chờ xử lý (2)"
    overview = at.dataframe[1].value
    assert overview["Dòng"].tolist() == [2, 3] and set(overview["Tệp"]) == {"loi.csv"}
    assert "Thời gian=31/02/2025 10:00" in overview["Giá trị gốc"].iloc[0]
    # the reasons in the page's language: what is wrong, how to fix it, then the detail
    assert (
        overview["Lý do"]
        .iloc[0]
        .startswith("Thời gian — Thời gian không đọc được hoặc không có thật. ")
        and "Chi tiết: '31/02/2025 10:00'" in overview["Lý do"].iloc[0]
    )
    # row 2: correct the impossible date, accept
    at.selectbox(key="quarantine-pick-vi").set_value(f"{prepared.upload_id}:2").run()
    assert any(m.value.startswith("- Thời gian — Thời gian không đọc") for m in at.markdown)
    cells = {ti.label: ti for ti in at.text_input}
    assert cells["Thời gian"].value == "31/02/2025 10:00"  # pre-filled with the original
    cells["Thời gian"].set_value("28/02/2025 10:00")
    _button(at, "Nhận dòng đã sửa").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == "Đã nhận dòng đã sửa thành hồ sơ mới."
    assert at.subheader[0].value == "Dòng chờ xử lý (1)"
    assert store.count("violations") == before + 1
    fixed = store.read("violations").query("address == 'số 1 Ngõ Sửa'").iloc[0]
    assert str(fixed["observed_at"]) == "2025-02-28 10:00:00+07:00"
    # row 3: accepting it unchanged shows what is still wrong, and changes nothing
    at.selectbox(key="quarantine-pick-vi").set_value(f"{prepared.upload_id}:3").run()
    _button(at, "Nhận dòng đã sửa").click().run()
    assert at.error[0].value == "Dòng vẫn chưa nhận được:"
    assert "Loại vi phạm không rõ" in at.dataframe[-1].value["Lý do"].tolist()
    # discarding needs a reason
    _button(at, "Loại bỏ").click().run()
    assert at.error[0].value == "Ghi lý do trước khi loại bỏ."
    assert store.count("quarantine") == 1
    reason = next(ti for ti in at.text_input if ti.label.startswith("Lý do loại bỏ"))
    reason.set_value("dòng thử")
    _button(at, "Loại bỏ").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("Đã loại bỏ dòng")
    assert at.subheader[0].value == "Dòng chờ xử lý (0)"
    assert store.count("quarantine") == 0 and store.count("violations") == before + 1
    log = store.read("audit_log")
    assert log["action"].str.startswith("discard quarantined row (dòng thử)").sum() == 1


def test_a_quarantined_vn2000_row_is_accepted_with_its_coordinate_system(db):
    store = open_store(db)
    original = store.read("violations").iloc[:1]
    point = original.geometry.to_crs(5897).iloc[0]
    data = f"Thời gian,Loại vi phạm,x,y\n08/07/2025 09:30,Xả rác,{point.x:.2f},{point.y:.2f}\n"
    prepared = prepare_upload(data.encode(), name="vn.csv", store=store, options=UploadOptions())
    commit_upload(prepared, store=store)
    assert store.count("quarantine") == 1  # metres, and no coordinate system given
    at = signed_in(AppTest.from_string(ROUTER, default_timeout=120)).run()
    next(ti for ti in at.text_input if ti.label == "Hệ tọa độ").set_value("EPSG:5897")
    _button(at, "Nhận dòng đã sửa").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == "Đã nhận dòng đã sửa thành hồ sơ mới."
    assert store.count("quarantine") == 0
    new = store.read("violations").query("upload_id == @prepared.upload_id").iloc[0]
    assert new.geometry.distance(original.geometry.iloc[0]) < 1e-6  # back where it was
