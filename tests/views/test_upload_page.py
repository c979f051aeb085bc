"""AppTest of the upload page: upload → preview → confirm → the record in "Hồ sơ".

Pages are callables registered by ``app.py`` (which AppTest cannot switch to by file), so the
tests run a small router with the real sidebar and pick the page through the session state.
No JavaScript runs: the preview map is read from the component's arguments.
"""

from __future__ import annotations

import json
from datetime import date, time, timedelta

import pytest
from streamlit.testing.v1 import AppTest

import views.upload_page
from geo.store import open_store
from tests.views import signed_in

pytestmark = pytest.mark.slow

ROUTER = """
import streamlit as st
from views import common, records_page, upload_page
store = common.get_store(str(common.store_location()))
filters = common.sidebar(store)
page = st.session_state.get("page", "upload")
{"upload": upload_page, "records": records_page}[page].render(filters)
"""
CSV = (
    "Vĩ độ,Kinh độ,Thời gian,Loại vi phạm,Số tiền phạt,Địa chỉ\n"
    "21.0065,105.8330,08/07/2025 09:30,Bán hàng rong,300.000,số 5 Phố Thử Nghiệm\n"
    "21.0080,105.8360,08/07/2025 10:30,Xả rác,,số 7 Phố Thử Nghiệm\n"
    "0,0,08/07/2025 10:30,Xả rác,,\n"
).encode()


@pytest.fixture
def db(demo_copy, monkeypatch):
    monkeypatch.setenv("URBAN_ORDER_DB", str(demo_copy))
    return demo_copy


@pytest.fixture
def app(db):
    return signed_in(AppTest.from_string(ROUTER, default_timeout=120))


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_upload_preview_confirm_and_the_record_in_records(app, db, monkeypatch):
    calls = []
    real = views.upload_page.prepare_upload

    def counting(*args, **kwargs):
        calls.append(kwargs["name"])
        return real(*args, **kwargs)

    monkeypatch.setattr(views.upload_page, "prepare_upload", counting)
    store = open_store(db)
    before = store.count("violations")
    at = app.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Tải lên hồ sơ"
    at.file_uploader(key="upload-files").set_value(("to-1.csv", CSV, "text/csv")).run()
    assert not at.exception, at.exception
    counts = {k: _metric(at, k) for k in ("Dòng đọc được", "Nhận", "Trùng", "Chờ xử lý")}
    assert counts == {"Dòng đọc được": "3", "Nhận": "2", "Trùng": "0", "Chờ xử lý": "1"}
    mapping = next(m.value for m in at.markdown if m.value.startswith("**Cột dùng:**"))
    assert "Vĩ độ" in mapping and "Số tiền phạt → Số tiền phạt (đ) (fine_vnd)" in mapping
    # the preview: an offline map of the new records, which does not rerun the page
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    assert args["returned_objects"] == []
    assert all(link.startswith("/app/static/vendor/") for link in args["js_links"])
    legend = json.dumps("Hồ sơ mới theo tổ")[1:-1]  # folium writes it \u-escaped
    assert legend in args["script"] and "[21.0065, 105.833," in args["script"]
    problems = at.dataframe[0].value
    assert problems["Dòng"].tolist() == [4]
    assert problems["Lý do"].iloc[0].startswith("Tọa độ (0, 0)")
    assert store.count("violations") == before  # nothing written before "Xác nhận"
    # reruns reuse the checked file instead of reading it again
    at.run()
    assert calls == ["to-1.csv"]

    _button(at, "Xác nhận").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value == "Đã lưu: 2 hồ sơ mới, 0 dòng trùng, 1 dòng chờ xử lý."
    assert store.count("violations") == before + 2
    assert store.count("quarantine") == 1
    upload = store.read("uploads").set_index("file_name").loc["to-1.csv"]
    assert upload["uploaded_by"] == "test-admin" and upload["rows"] == 3

    at.session_state["page"] = "records"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Hồ sơ vi phạm"
    table = at.dataframe[0].value
    new = table[table["Tệp"] == "to-1.csv"]
    assert sorted(new["Địa chỉ"]) == ["số 5 Phố Thử Nghiệm", "số 7 Phố Thử Nghiệm"]
    assert set(new["Loại vi phạm"]) == {"Bán hàng rong", "Xả rác sai quy định"}
    assert at.subheader[0].value == "Dòng chờ xử lý (1)"


def test_the_same_file_again_adds_nothing(app, db):
    at = app.run()
    at.file_uploader(key="upload-files").set_value(("a.csv", CSV, "text/csv")).run()
    _button(at, "Xác nhận").click().run()
    # the same content under another name, in a new session
    again = signed_in(AppTest.from_string(ROUTER, default_timeout=120)).run()
    again.file_uploader(key="upload-files").set_value(("b.csv", CSV, "text/csv")).run()
    assert not again.exception, again.exception
    assert again.info[0].value.startswith("Tệp này đã được tải lên trước đây")
    assert (_metric(again, "Nhận"), _metric(again, "Trùng")) == ("0", "3")


def test_unsure_columns_are_asked_for(app, db):
    data = "Cột A;Cột B;Ngày;Loại\n21.0066;105.8331;08/07/2025;rác\n".encode()
    at = app.run()
    at.file_uploader(key="upload-files").set_value(("hoi.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    assert at.warning[0].value.startswith("Chưa xác định được một số cột")
    boxes = {s.label: s for s in at.selectbox if s.key and s.key.startswith("map-")}
    assert set(boxes) == {"Loại vi phạm (category)", "Vĩ độ (lat)", "Kinh độ (lon)"}
    assert boxes["Loại vi phạm (category)"].value == "Loại"  # the weak guess, to confirm
    boxes["Vĩ độ (lat)"].set_value("Cột A")
    boxes["Kinh độ (lon)"].set_value("Cột A")
    _button(at, "Dùng các cột đã chọn").click().run()
    assert at.error[0].value.endswith("cột Cột A đang được chọn hai lần.")
    boxes = {s.label: s for s in at.selectbox if s.key and s.key.startswith("map-")}
    boxes["Kinh độ (lon)"].set_value("Cột B")
    _button(at, "Dùng các cột đã chọn").click().run()
    assert not at.exception, at.exception
    assert not at.warning
    assert _metric(at, "Nhận") == "1"
    mapping = next(m.value for m in at.markdown if m.value.startswith("**Cột dùng:**"))
    assert "Cột A → Vĩ độ (lat)" in mapping


def test_an_unreadable_file_says_why(app, db):
    at = app.run()
    junk = b"\x00\xff" * 500
    at.file_uploader(key="upload-files").set_value(("hong.csv", junk, "text/csv")).run()
    assert not at.exception, at.exception
    assert at.error[0].value.startswith("Không xử lý được tệp hong.csv:")
    assert not [b for b in at.button if b.label == "Xác nhận"]


def test_one_record_entered_by_hand(app, db):
    store = open_store(db)
    before = store.count("violations")
    at = app.run()
    at.radio(key="upload-mode-vi").set_value("entry").run()
    assert not at.exception, at.exception
    (component,) = at.get("component_instance")
    assert json.loads(component.proto.json_args)["returned_objects"] == ["last_clicked"]
    _button(at, "Lưu hồ sơ").click().run()
    assert at.error[0].value.startswith("Chưa có vị trí")
    # a click on the map lands in the form through what st_folium returns
    at.session_state["entry-map"] = {"last_clicked": {"lat": 21.0065, "lng": 105.833}}
    at.run()
    assert at.number_input(key="entry-lat").value == pytest.approx(21.0065)
    where = next(c.value for c in at.caption if c.value.startswith("Vị trí"))
    assert where.startswith("Vị trí 21.006500, 105.833000: Tổ dân phố số")
    marker = json.loads(at.get("component_instance")[0].proto.json_args)["feature_group"]
    assert "[21.0065, 105.833]" in marker
    at.selectbox(key="entry-category-vi").set_value("street_vending")
    at.date_input(key="entry-day").set_value(date(2025, 7, 9))
    at.time_input(key="entry-time").set_value(time(14, 5))
    at.number_input(key="entry-fine").set_value(300_000)
    at.text_input(key="entry-address").set_value("trước số 12")
    _button(at, "Lưu hồ sơ").click().run()
    assert not at.exception, at.exception
    assert at.success[0].value.startswith("Đã lưu hồ sơ")
    assert store.count("violations") == before + 1
    new = store.read("violations").query("address == 'trước số 12'").iloc[0]
    assert new["status"] == "fined" and new["fine_vnd"] == 300_000
    assert str(new["observed_at"]) == "2025-07-09 14:05:00+07:00"
    assert store.read("uploads")["file_name"].str.startswith("nhập tay ").sum() == 1
    # the same record again is a duplicate and is not saved
    _button(at, "Lưu hồ sơ").click().run()
    assert at.warning[0].value.startswith("Không lưu: hồ sơ này đã có")
    assert store.count("violations") == before + 1
    # a time in the future is refused with the reason, and nothing is saved
    at.date_input(key="entry-day").set_value(date.today() + timedelta(days=30))
    _button(at, "Lưu hồ sơ").click().run()
    assert at.error[0].value.startswith("Không lưu được hồ sơ")
    assert "Thời gian ở tương lai" in at.dataframe[0].value["Lý do"].tolist()
    assert store.count("violations") == before + 1


def test_a_vn2000_file_needs_its_coordinate_system(app, db):
    sample = open_store(db).read("violations").iloc[:5]
    tm3 = sample.geometry.to_crs(5897)
    lines = [f"08/07/2025 09:3{i},Xả rác,{p.x:.2f},{p.y:.2f}" for i, p in enumerate(tm3)]
    data = ("Thời gian,Loại vi phạm,x,y\n" + "\n".join(lines) + "\n").encode()
    at = app.run()
    at.file_uploader(key="upload-files").set_value(("vn2000.csv", data, "text/csv")).run()
    assert not at.exception, at.exception
    assert (_metric(at, "Nhận"), _metric(at, "Chờ xử lý")) == ("0", "5")
    assert set(at.dataframe[0].value["Lý do"]) == {"Tọa độ tính bằng mét: cần biết hệ tọa độ"}
    at.text_input(key="upload-crs").set_value("EPSG:99999").run()
    assert not at.exception, at.exception
    assert at.error[0].value.startswith("Không xử lý được tệp vn2000.csv:")
    at.text_input(key="upload-crs").set_value("EPSG:5897").run()
    assert not at.exception and not at.error
    assert (_metric(at, "Nhận"), _metric(at, "Chờ xử lý")) == ("5", "0")
