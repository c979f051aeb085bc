"""AppTest of sign-in and permissions: the sign-in page, what a viewer cannot reach, ward
separation between staff of two wards, the first administrator, and the admin page."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box
from streamlit.testing.v1 import AppTest

from geo.auth import add_user
from geo.demo import DEMO_PASSWORD
from geo.store import Query, create_store, open_store
from tests.apprunner import ROOT
from tests.views import signed_in

pytestmark = pytest.mark.slow

ROUTER = """
import streamlit as st
from views import common, campaign_page, records_page, upload_page
store = common.get_store(str(common.store_location()))
filters = common.sidebar(store)
page = st.session_state.get("page", "records")
{"upload": upload_page, "records": records_page, "campaigns": campaign_page}[page].render(filters)
"""


def _app(monkeypatch, db) -> AppTest:
    monkeypatch.setenv("URBAN_ORDER_DB", str(db))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def _router(monkeypatch, db, page: str, role, wards=None) -> AppTest:
    monkeypatch.setenv("URBAN_ORDER_DB", str(db))
    at = signed_in(AppTest.from_string(ROUTER, default_timeout=120), role, wards)
    at.session_state["page"] = page
    return at.run()


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_the_app_asks_to_sign_in_and_refuses_a_wrong_password(demo_store, monkeypatch):
    # the demo's accounts are listed for the embedded demo store only
    monkeypatch.setattr("views.signin_page.DEFAULT_STORE_PATH", demo_store)
    at = _app(monkeypatch, demo_store).run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader] == ["Đăng nhập"]
    assert not at.metric  # nothing of the ward before signing in
    assert "doitrat" in at.info[0].value and DEMO_PASSWORD in at.info[0].value
    at.text_input(key="signin-account").set_value("doitrat")
    at.text_input(key="signin-password").set_value("not the password")
    at.button[0].click().run()
    assert at.error[0].value.startswith("Sai tài khoản hoặc mật khẩu")
    assert "principal" not in at.session_state
    at.text_input(key="signin-password").set_value(DEMO_PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Bản đồ trật tự đô thị"
    assert any("doitrat · Đội trật tự (xem)" in c.value for c in at.sidebar.caption)
    _button(at, "Đăng xuất").click().run()
    assert [s.value for s in at.subheader] == ["Đăng nhập"]


def test_a_viewer_cannot_reach_upload_or_edit_actions(demo_copy, monkeypatch):
    at = _router(monkeypatch, demo_copy, "upload", "viewer", ("demo",))
    assert at.error[0].value.startswith("Vai trò của bạn (Đội trật tự (xem))")
    assert not at.get("file_uploader")
    at = _router(monkeypatch, demo_copy, "records", "viewer", ("demo",))
    assert not at.exception, at.exception
    assert not [b for b in at.button if b.label.startswith("Lưu thay đổi")]
    assert "Chỉ cán bộ phường được sửa trạng thái hồ sơ." in [c.value for c in at.caption]
    assert not [s for s in at.subheader if s.value.startswith("Dòng chờ xử lý")]
    at = _router(monkeypatch, demo_copy, "campaigns", "viewer", ("demo",))
    assert not at.exception, at.exception
    assert "dành cho lãnh đạo phường" in at.info[-1].value
    assert not [b for b in at.button if "Lưu" in b.label]
    # staff may upload and see the quarantine
    at = _router(monkeypatch, demo_copy, "upload", "staff", ("demo",))
    assert at.get("file_uploader") and not at.error


@pytest.fixture
def two_wards(demo_copy):
    """The demo ward plus a ward "B" elsewhere, with 7 violations of its own."""
    store = open_store(demo_copy)
    shape = box(106.0, 21.2, 106.01, 21.21)
    store.write(
        {
            "wards": gpd.GeoDataFrame({"ward_id": ["B"], "name": ["Phường B"]},
                                      geometry=[shape], crs=4326),
            "groups": gpd.GeoDataFrame({"group_id": ["B-1"], "ward_id": ["B"], "name": ["Tổ B1"]},
                                       geometry=[shape], crs=4326),
            "violations": gpd.GeoDataFrame(
                {"record_id": [f"B-{i}" for i in range(7)], "ward_id": "B", "group_id": "B-1",
                 "category": "littering", "status": "recorded",
                 "observed_at": pd.Timestamp("2025-07-10 10:00", tz="Asia/Ho_Chi_Minh")},
                geometry=[Point(106.005, 21.205)] * 7, crs=4326,
            ),
        },
        user="setup",
        action="second ward",
    )  # fmt: skip
    return demo_copy


def test_staff_of_one_ward_cannot_see_another_wards_records(two_wards, monkeypatch):
    at = _router(monkeypatch, two_wards, "records", "staff", ("demo",))
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="ward").options == ["Phường mẫu (dữ liệu tổng hợp)"] or (
        len(at.sidebar.selectbox(key="ward").options) == 1
    )
    shown = at.dataframe[0].value
    assert not shown.index.astype(str).str.startswith("B-").any()
    b = _router(monkeypatch, two_wards, "records", "staff", ("B",))
    assert not b.exception, b.exception
    assert b.sidebar.selectbox(key="ward").options == ["Phường B"]
    assert b.caption[0].value.startswith("7 / 7 hồ sơ")
    # the whole store still holds both wards
    assert open_store(two_wards).count("violations", Query(ward_id="B")) == 7


def test_the_first_visitor_of_an_empty_store_creates_the_administrator(tmp_path, monkeypatch):
    db = tmp_path / "new.gpkg"
    store = create_store(db)
    shape = box(105.8, 21.0, 105.81, 21.01)
    store.write({"wards": gpd.GeoDataFrame({"ward_id": ["w"], "name": ["Phường W"]},
                                           geometry=[shape], crs=4326)},
                user="setup", action="ward")  # fmt: skip
    at = _app(monkeypatch, db).run()
    assert at.info[0].value.startswith("Kho dữ liệu này chưa có tài khoản nào")
    at.text_input(key="first-account").set_value("admin.w")
    at.text_input(key="first-pw").set_value("a long enough password")
    at.text_input(key="first-pw2").set_value("a long enough password")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert any("admin.w · Quản trị viên" in c.value for c in at.sidebar.caption)
    users = open_store(db).read("users")
    assert users[["user_id", "role", "wards"]].values.tolist() == [["admin.w", "admin", "*"]]


def test_admins_manage_accounts_and_read_the_audit_log(demo_copy, monkeypatch):
    monkeypatch.setenv("URBAN_ORDER_DB", str(demo_copy))
    script = "from views import admin_page\nadmin_page.render('vi')\n"
    at = signed_in(AppTest.from_string(script, default_timeout=60), "admin").run()
    assert not at.exception, at.exception
    accounts = at.dataframe[0].value
    assert set(accounts["Tài khoản"]) == {"quantri", "lanhdao", "canbo", "doitrat"}
    audit = at.dataframe[1].value
    assert {"demo records", "add user"} <= set(audit["Thao tác"])
    next(ti for ti in at.text_input if ti.label == "Tài khoản").set_value("hoa.staff")
    next(ti for ti in at.text_input if ti.label == "Mật khẩu").set_value("ten letters+")
    _button(at, "Thêm tài khoản").click().run()
    assert not at.exception, at.exception
    users = open_store(demo_copy).read("users").set_index("user_id")
    assert users.loc["hoa.staff", "role"] == "viewer"  # the first role offered
    assert users.loc["hoa.staff", "password_hash"].startswith("$argon2id$")
    log = open_store(demo_copy).read("audit_log")
    assert log.iloc[-1][["user", "action"]].tolist() == ["test-admin", "add user"]
    # the page is the administrators' only
    other = signed_in(AppTest.from_string(script, default_timeout=60), "leader", ("demo",)).run()
    assert other.error and not other.dataframe


def test_an_account_added_with_a_password_signs_in(demo_copy, monkeypatch):
    add_user(open_store(demo_copy), "lan", role="staff", wards=["demo"],
             password="mật khẩu của Lan", by="test")  # fmt: skip
    at = _app(monkeypatch, demo_copy).run()
    at.text_input(key="signin-account").set_value("LAN ")
    at.text_input(key="signin-password").set_value("mật khẩu của Lan")
    at.button[0].click().run()
    assert any("lan · Cán bộ phường" in c.value for c in at.sidebar.caption)


def test_identity_provider_sign_in_matches_the_account_by_email(demo_copy, monkeypatch):
    add_user(open_store(demo_copy), "hoa", role="leader", wards=["demo"],
             email="hoa@phuong.gov.vn", by="test")  # fmt: skip
    provider = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "urban-order",
        "client_secret": "s",
        "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
    }
    at = _app(monkeypatch, demo_copy)
    at.secrets["auth"] = provider
    at.user = {"is_logged_in": False}
    at.run()
    assert at.button[0].label == "Đăng nhập qua hệ thống định danh"
    at.user = {"is_logged_in": True, "email": "Hoa@Phuong.gov.vn"}
    at.run()
    assert not at.exception, at.exception
    assert any("hoa · Lãnh đạo phường" in c.value for c in at.sidebar.caption)
    stranger = _app(monkeypatch, demo_copy)
    stranger.secrets["auth"] = provider
    stranger.user = {"is_logged_in": True, "email": "someone@else.vn"}
    stranger.run()
    assert "someone@else.vn" in stranger.error[0].value
    assert "principal" not in stranger.session_state
