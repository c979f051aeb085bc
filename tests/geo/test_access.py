"""Accounts (geo.auth) and the store as a user sees it (geo.access): roles and wards."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geo.access import ScopedStore
from geo.auth import (
    Principal,
    add_user,
    authenticate,
    change_user,
    hash_password,
    list_users,
    principal_for_email,
    set_password,
    verify_password,
)
from geo.errors import AccessDeniedError, InputError
from geo.store import Query, create_store

TZ = "Asia/Ho_Chi_Minh"


def _ward(ward: str, x: float) -> dict[str, gpd.GeoDataFrame]:
    shape = box(x, 21.0, x + 0.01, 21.01)
    return {
        "wards": gpd.GeoDataFrame({"ward_id": [ward], "name": [ward]}, geometry=[shape], crs=4326),
        "groups": gpd.GeoDataFrame(
            {"group_id": [f"{ward}-g1"], "ward_id": [ward], "name": ["Tổ 1"]},
            geometry=[shape],
            crs=4326,
        ),
    }


def _violations(ward: str, x: float, n: int) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "record_id": [f"{ward}-r{i}" for i in range(n)],
            "ward_id": [ward] * n,
            "group_id": [f"{ward}-g1"] * n,
            "category": ["littering"] * n,
            "status": ["open"] * n,
            "observed_at": [pd.Timestamp("2025-07-01 09:00", tz=TZ)] * n,
            "upload_id": [f"{ward}-u"] * n,
        },
        geometry=[Point(x + 0.005, 21.005)] * n,
        crs=4326,
    )


@pytest.fixture
def store(tmp_path):
    s = create_store(tmp_path / "two.gpkg")
    for ward, x in (("A", 105.80), ("B", 105.90)):
        s.write(_ward(ward, x), user="setup", action="boundaries")
        uploads = pd.DataFrame({"upload_id": [f"{ward}-u"], "ward_id": [ward], "file_name": ["f"]})
        quarantine = pd.DataFrame({"upload_id": [f"{ward}-u"], "row_number": [7], "raw": ["{}"]})
        s.write(
            {"violations": _violations(ward, x, 3 if ward == "A" else 5), "uploads": uploads,
             "quarantine": quarantine},
            user="setup",
            action="upload",
        )  # fmt: skip
    return s


def as_(store, role, wards=("A",)):
    return ScopedStore(store, Principal(f"{role}-user", role, wards))


def test_staff_of_ward_a_sees_only_ward_a(store):
    a = as_(store, "staff")
    assert a.ward_ids() == ["A"]
    assert set(a.read("violations")["ward_id"]) == {"A"}
    assert a.count("violations") == 3
    assert a.count("violations", Query(ward_id="A")) == 3
    assert list(a.read("quarantine")["upload_id"]) == ["A-u"]
    assert list(a.read("uploads")["upload_id"]) == ["A-u"]
    with pytest.raises(AccessDeniedError, match="does not belong to ward B"):
        a.read("violations", Query(ward_id="B"))
    with pytest.raises(AccessDeniedError, match="ward B"):
        a.count("groups", Query(ward_id="B"))


def test_every_ward_account_sees_everything(store):
    admin = as_(store, "admin", None)
    assert admin.count("violations") == 8
    assert admin.ward_ids() == ["A", "B"]


def test_viewer_cannot_write_upload_or_edit(store):
    viewer = as_(store, "viewer")
    assert len(viewer.read("violations")) == 3
    with pytest.raises(AccessDeniedError, match="viewer"):
        viewer.write({"violations": _violations("A", 105.8, 1).assign(record_id="x")},
                     user="x", action="upload")  # fmt: skip
    with pytest.raises(AccessDeniedError, match=r"violations\.status"):
        viewer.update("violations", {"A-r0": {"status": "resolved"}}, user="x", action="edit")
    with pytest.raises(AccessDeniedError, match="offenders"):
        viewer.offender_salt()
    assert store.count("violations") == 8


def test_staff_cannot_write_into_another_ward_nor_change_its_rows(store):
    staff = as_(store, "staff")
    with pytest.raises(AccessDeniedError, match="ward B"):
        staff.write({"violations": _violations("B", 105.9, 1).assign(record_id="new")},
                    user="x", action="upload")  # fmt: skip
    with pytest.raises(AccessDeniedError, match="outside their wards"):
        staff.update("violations", {"B-r0": {"status": "resolved"}}, user="x", action="edit")
    with pytest.raises(AccessDeniedError, match="another ward's uploads"):
        staff.write({}, user="x", action="discard",
                    delete={"quarantine": [{"upload_id": "B-u", "row_number": 7}]})  # fmt: skip
    staff.update("violations", {"A-r0": {"status": "resolved"}}, user="x", action="edit")
    assert store.read("violations", Query(ward_id="A"))["status"].iloc[0] == "resolved"


def test_the_audit_log_names_the_signed_in_user_not_the_one_passed(store):
    as_(store, "staff").update("violations", {"A-r1": {"status": "resolved"}},
                               user="someone else", action="edit")  # fmt: skip
    assert store.read("audit_log")["user"].iloc[-1] == "staff-user"


def test_leaders_link_campaigns_but_do_not_edit_records(store):
    leader = as_(store, "leader")
    leader.update("violations", {"A-r0": {"campaign_id": "c1"}}, user="x", action="link")
    with pytest.raises(AccessDeniedError, match="status"):
        leader.update("violations", {"A-r0": {"status": "resolved"}}, user="x", action="edit")
    campaign = pd.DataFrame({"campaign_id": ["c1"], "ward_id": ["A"], "name": ["Tháng 7"]})
    leader.write({"campaigns": campaign}, user="x", action="campaign")
    with pytest.raises(AccessDeniedError, match="ward B"):
        leader.write({"campaigns": campaign.assign(campaign_id="c2", ward_id="B")},
                     user="x", action="campaign")  # fmt: skip
    with pytest.raises(AccessDeniedError, match="change campaigns"):
        as_(store, "staff").write({"campaigns": campaign.assign(campaign_id="c3")},
                                  user="x", action="campaign")  # fmt: skip


def test_only_admins_read_the_audit_log_and_accounts_without_hashes(store):
    add_user(store, "lan", role="staff", wards=["A"], password="correct horse", by="setup")
    for role in ("viewer", "leader", "staff"):
        with pytest.raises(AccessDeniedError, match="audit log"):
            as_(store, role).read("audit_log")
        with pytest.raises(AccessDeniedError, match="accounts"):
            as_(store, role).read("users")
    admin = as_(store, "admin", None)
    assert len(admin.read("audit_log")) > 0
    assert admin.read("users")["password_hash"].isna().all()
    assert "password_hash" not in list_users(store).columns


def test_boundaries_are_for_admins_of_the_ward(store):
    new = _ward("A", 105.80)["groups"]
    when = pd.Timestamp("2030-01-01", tz=TZ)
    with pytest.raises(AccessDeniedError, match="replace boundaries"):
        as_(store, "staff").replace_boundaries("groups", new, valid_from=when, user="x")
    with pytest.raises(AccessDeniedError, match="ward A"):
        as_(store, "admin", ("B",)).replace_boundaries("groups", new, valid_from=when, user="x")
    as_(store, "admin", ("A",)).replace_boundaries("groups", new, valid_from=when, user="x")


def test_passwords_are_salted_argon2_hashes():
    first, second = hash_password("mật khẩu dài"), hash_password("mật khẩu dài")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "mật khẩu dài") and not verify_password(first, "mật khẩu dà")
    assert not verify_password(None, "") and not verify_password("garbage", "x")
    with pytest.raises(InputError, match="10 characters"):
        hash_password("short")


def test_sign_in_with_a_local_account(store):
    add_user(store, "Lan.Staff", role="staff", wards=["A", "B"], password="correct horse",
             by="setup", display_name="Nguyễn Thị Lan")  # fmt: skip
    who = authenticate(store, "lan.staff", "correct horse")
    assert who == Principal("lan.staff", "staff", ("A", "B"), "Nguyễn Thị Lan")
    assert authenticate(store, "lan.staff", "wrong horse!") is None
    assert authenticate(store, "nobody", "correct horse") is None
    change_user(store, "lan.staff", active=False, by="admin")
    assert authenticate(store, "lan.staff", "correct horse") is None
    change_user(store, "lan.staff", active=True, role="viewer", wards=None, by="admin")
    set_password(store, "lan.staff", "battery staple", by="admin")
    assert authenticate(store, "lan.staff", "correct horse") is None
    assert authenticate(store, "lan.staff", "battery staple") == Principal(
        "lan.staff", "viewer", None, "Nguyễn Thị Lan"
    )
    assert "$argon2" not in store.read("audit_log").astype(str).to_string()  # no hash logged
    assert store.read("users")["password_hash"].str.startswith("$argon2id$").all()


def test_identity_provider_accounts_are_matched_by_email(store):
    add_user(store, "hoa", role="leader", wards=["B"], email="Hoa@Phuong.gov.vn", by="setup")
    assert principal_for_email(store, "hoa@phuong.gov.vn") == Principal(
        "hoa", "leader", ("B",), "hoa"
    )
    assert principal_for_email(store, "other@phuong.gov.vn") is None
    assert authenticate(store, "hoa", "") is None  # no password: no local sign-in


def test_account_problems_are_listed_at_once(store):
    with pytest.raises(InputError) as err:
        add_user(store, "X!", role="boss", wards=["Z"], by="setup")  # type: ignore[arg-type]
    message = str(err.value)
    for part in ("role 'boss'", "unknown ward(s) Z", "account name 'X!'", "password"):
        assert part in message
    add_user(store, "lan", role="staff", wards=["A"], password="correct horse", by="setup")
    with pytest.raises(InputError, match="already exists"):
        add_user(store, "LAN", role="staff", wards=["A"], password="correct horse", by="setup")
