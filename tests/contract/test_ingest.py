"""An upload end to end on each store: a team's sheet into a ward of two hand-drawn groups."""

from __future__ import annotations

import pandas as pd
import pytest

from geo.ingest import UploadOptions, commit_upload, prepare_upload
from tests.contract.samples import TZ, groups, ward

SHEET = """STT;Thời gian;Vĩ độ;Kinh độ;Loại vi phạm;Số tiền phạt;Địa chỉ
1;08/07/2025 09:30;21,0050;105,8320;Bán hàng rong;300.000;số 5 ngõ 1
2;08/07/2025 10:00;21.0050;105.8380;Xả rác;500.000;
3;08/07/2025 10:05;21.0050;105.8381;Xả rác;500.000;
4;31/02/2025 10:00;21.0050;105.8330;Xả rác;500.000;
5;09/07/2025 11:00;21.01005;105.8330;Lấn chiếm vỉa hè;2.000.000đ;
6;09/07/2025 11:30;21.0300;105.8330;Lấn chiếm vỉa hè;;
""".encode()
OPTIONS = UploadOptions(now=pd.Timestamp("2025-11-01", tz=TZ), user="lan")


@pytest.fixture
def ward_store(store):
    store.write({"wards": ward(), "groups": groups()}, user="admin", action="boundaries")
    return store


def _upload(store, data: bytes = SHEET, name: str = "team.csv") -> dict:
    prepared = prepare_upload(data, name=name, store=store, options=OPTIONS)
    return commit_upload(prepared, store=store)


def test_an_upload_is_counted_assigned_and_kept_whole(ward_store):
    s = _upload(ward_store)
    # 1, 2, 5 (snapped from 1 m outside), 6 (outside) accepted; 3 repeats 2; 4 has no 31 Feb
    assert (s["rows"], s["accepted"], s["duplicates"], s["quarantined"]) == (6, 4, 1, 1)
    assert (s["snapped"], s["outside"], s["reasons"]) == (1, 1, {"bad_time": 1})
    v = ward_store.read("violations").sort_values("observed_at")
    assert v["group_id"].fillna("-").tolist() == ["g1", "g2", "g1", "-"]
    assert v["assignment"].tolist() == ["inside", "inside", "snapped", "outside"]
    assert v["category"].tolist() == [
        "street_vending", "littering", "sidewalk_encroachment", "sidewalk_encroachment",
    ]  # fmt: skip
    assert v["fine_vnd"].tolist()[:3] == [300_000, 500_000, 2_000_000]
    assert v["observed_at"].iloc[0] == pd.Timestamp("2025-07-08 09:30", tz=TZ)
    assert set(v["upload_id"]) == {s["upload_id"]} and set(v["ward_id"]) == {"w"}
    assert ward_store.read("quarantine")["row_number"].tolist() == [5]
    dup = ward_store.read("duplicates")
    assert dup["match"].tolist() == ["likely"] and dup["duplicate_of"].iloc[0] in set(
        v["record_id"]
    )
    up = ward_store.read("uploads").iloc[0]
    assert (up["ward_id"], up["rows"], up["accepted"], up["uploaded_by"]) == ("w", 6, 4, "lan")
    log = ward_store.read("audit_log").query("action == 'upload'")
    assert sorted(log["table"]) == ["duplicates", "quarantine", "uploads", "violations"]
    assert set(log["user"]) == {"lan"} and log["at"].nunique() == 1  # one transaction


def test_uploading_again_adds_nothing(ward_store):
    first = _upload(ward_store)
    counts = {t: ward_store.count(t) for t in ("violations", "quarantine", "uploads")}
    again = _upload(ward_store)
    assert again["same_file_as"] == first["upload_id"]
    assert (again["accepted"], again["duplicates"], again["quarantined"]) == (0, 6, 0)
    comma = SHEET.decode().replace(";", ",").replace("21,0050", "21.0050")
    renamed = _upload(ward_store, comma.replace("105,8320", "105.8320").encode(), "copy.csv")
    assert renamed["accepted"] == 0 and renamed["same_file_as"] is None
    assert {t: ward_store.count(t) for t in ("violations", "quarantine")} == {
        t: counts[t] for t in ("violations", "quarantine")
    }
    assert ward_store.count("uploads") == 3
