"""Uploads end to end: nothing lost, nothing twice, every row accounted for."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo import ingest as ingest_module
from geo.errors import CRSMismatchError, InputError, MappingError
from geo.ingest import (
    UploadOptions,
    commit_upload,
    discard_quarantined,
    prepare_upload,
    resolve_quarantined,
)
from geo.store import open_store

TZ = "Asia/Ho_Chi_Minh"
NOW = pd.Timestamp("2025-11-01 12:00", tz=TZ)

HEADER = "STT;Thời gian;Vĩ độ;Kinh độ;Loại vi phạm;Số tiền phạt;Địa chỉ;Biển số\n"
ROWS = [
    "1;08/07/2025 09:30;21,0065;105,8330;Lấn chiếm vỉa hè;2.000.000đ;số 5 Phố Hoa Sữa;29B1-123.45",
    "2;08/07/2025 09:40;21.0066;105.8331;Bán hàng rong;300.000;;",
    "3;31/02/2025 10:00;21.0066;105.8331;Bán hàng rong;300.000;;",  # impossible date
    "4;08/07/2025 09:45;21.0066;105.8331;Bán hàng rong;300.000;;",  # 5 min after row 2
    "5;09/07/2025 11:00;0;0;Xả rác;500.000;;",  # no GPS fix
    "6;09/07/2025 11:00;105.8331;21.0066;giao thông;1 triệu;;",  # swapped, fine too high
    "7;09/07/2025 11:00;21.0066;105.8331;???;;;",  # unknown category
]
CSV = (HEADER + "\n".join(ROWS) + "\n").encode("utf-8")


_TONES = "\u0300\u0301\u0303\u0309\u0323"


def _cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: precomposed vowels, tone marks as combining characters."""
    out = []
    for ch in text:
        try:
            ch.encode("cp1258")
            out.append(ch)
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
            out.append(base + "".join(c for c in parts if c in _TONES))
    return "".join(out).encode("cp1258")


@pytest.fixture
def store(demo_copy):
    return open_store(demo_copy)


def _upload(store, data: bytes, name: str = "team.csv", **options):
    prepared = prepare_upload(data, name=name, store=store,
                              options=UploadOptions(now=NOW, user="lan", **options))  # fmt: skip
    return prepared, commit_upload(prepared, store=store)


def test_a_team_sheet_is_accounted_for_row_by_row(store):
    before = store.count("violations")
    _, s = _upload(store, CSV)
    assert (s["rows"], s["accepted"], s["duplicates"], s["quarantined"]) == (7, 3, 1, 3)
    assert s["reasons"]["bad_time"] == 1 and s["reasons"]["zero_coordinates"] == 1
    assert s["reasons"]["unknown_category"] == 1 and s["reasons"]["swapped_lat_lon"] == 1
    assert store.count("violations") == before + 3
    new = store.read("violations").query("upload_id == @s['upload_id']").set_index("address")
    first = new.loc["số 5 Phố Hoa Sữa"]
    assert first["fine_vnd"] == 2_000_000 and first["status"] == "fined"
    assert first["legal_basis"].startswith("168/2024/NĐ-CP")
    assert first["observed_at"] == pd.Timestamp("2025-07-08 09:30", tz=TZ)
    assert len(first["offender_key"]) == 64 and "29B1" not in first["offender_key"]
    assert set(new["assignment"]) <= {"inside", "snapped", "outside"}
    # quarantine keeps the original cells and every reason, by the row number the user sees
    q = store.read("quarantine").set_index("row_number")
    assert sorted(q.index) == [4, 6, 8]
    assert json.loads(q.loc[4, "raw"])["Thời gian"] == "31/02/2025 10:00"
    assert "Thời gian" in q.loc[4, "reasons"]
    dup = store.read("duplicates")
    assert dup["row_number"].tolist() == [5] and dup["match"].tolist() == ["likely"]
    assert dup["duplicate_of"].iloc[0] in set(new["record_id"])
    upload = store.read("uploads").set_index("upload_id").loc[s["upload_id"]]
    assert (upload["rows"], upload["accepted"], upload["duplicates"], upload["quarantined"]) == (
        7, 3, 1, 3,
    )  # fmt: skip


def test_the_same_file_or_the_same_records_re_encoded_add_nothing(store):
    _upload(store, CSV)
    counts = {t: store.count(t) for t in ("violations", "quarantine")}
    _, again = _upload(store, CSV)
    assert (again["accepted"], again["duplicates"], again["quarantined"]) == (0, 7, 0)
    assert again["same_file_as"] is not None
    text = CSV.decode("utf-8")
    for data, name in (
        (text.encode("utf-16"), "team-utf16.csv"),
        (text.replace(";", ",").replace("21,0065", "21.0065").replace("105,8330", "105.8330")
         .encode("utf-8-sig"), "team-comma.csv"),
    ):  # fmt: skip
        _, s = _upload(store, data, name=name)
        assert s["accepted"] == 0, (name, s)
        assert s["rows"] == s["duplicates"] + s["quarantined"]
    assert {t: store.count(t) for t in ("violations", "quarantine")} == counts


def test_windows_1258_sheet_with_vietnamese_headers_imports_right(store):
    data = _cp1258(CSV.decode("utf-8"))
    _, s = _upload(store, data, name="bao-cao.csv")
    assert (s["accepted"], s["quarantined"]) == (3, 3)
    new = store.read("violations").query("upload_id == @s['upload_id']")
    assert set(new["category"]) == {"sidewalk_encroachment", "street_vending", "traffic"}
    assert new["fine_vnd"].sum() == 2_000_000 + 300_000 + 1_000_000


def test_unsure_columns_ask_for_a_mapping(store):
    data = "Cột A;Cột B;Ngày;Loại\n21.0066;105.8331;08/07/2025;rác\n".encode()
    with pytest.raises(MappingError) as info:
        _upload(store, data)
    assert "--map" in str(info.value)
    _, s = _upload(store, data, overrides={"Cột A": "lat", "Cột B": "lon", "Loại": "category"})
    assert s["accepted"] == 1


def test_vn2000_file_lands_on_the_same_groups_as_its_wgs84_twin(store):
    # 30 places spread over the ward, where the team really records violations
    sample = store.read("violations").sample(30, random_state=1)
    times = [f"08/07/2025 {8 + i // 6:02d}:{(i % 6) * 10:02d}" for i in range(30)]
    cats = sample["category"].tolist()
    tm3 = sample.geometry.to_crs(5897)
    lat, lon = sample.geometry.y.round(7), sample.geometry.x.round(7)
    wgs = pd.DataFrame({"Thời gian": times, "Loại vi phạm": cats, "lat": lat, "lon": lon})
    vn = pd.DataFrame({"Thời gian": times, "Loại vi phạm": cats,
                       "x": tm3.x.round(3), "y": tm3.y.round(3)})  # fmt: skip
    a = prepare_upload(wgs.to_csv(index=False).encode(), name="wgs.csv", store=store,
                       options=UploadOptions(now=NOW))  # fmt: skip
    b = prepare_upload(vn.to_csv(index=False).encode(), name="vn2000.csv", store=store,
                       options=UploadOptions(now=NOW, crs="EPSG:5897"))  # fmt: skip
    records_a, records_b = a.parts[0].records, b.parts[0].records
    assert len(records_a) == len(records_b) == 30
    assert records_a["group_id"].tolist() == records_b["group_id"].tolist()
    assert records_a["group_id"].notna().all()
    with pytest.raises(CRSMismatchError, match="EPSG:5897"):
        prepare_upload(vn.to_csv(index=False).encode(), name="vn2000.csv", store=store,
                       options=UploadOptions(now=NOW, crs="EPSG:3405"))  # fmt: skip
    # They are the same records: once one is stored, the other adds nothing.
    commit_upload(a, store=store)
    again = prepare_upload(vn.to_csv(index=False).encode(), name="vn2000.csv", store=store,
                           options=UploadOptions(now=NOW, crs="EPSG:5897"))  # fmt: skip
    assert again.summary()["duplicates"] == 30


def test_a_failing_write_leaves_the_store_as_it_was(store, monkeypatch):
    prepared = prepare_upload(CSV, name="team.csv", store=store, options=UploadOptions(now=NOW))
    counts = {t: store.count(t) for t in ("violations", "uploads", "quarantine", "duplicates")}
    import geo.gpkg_store as gs

    real = gs.GeoPackageStore._insert

    def crash(self, con, table, frame, staged=None):
        if table == "quarantine":
            raise RuntimeError("power cut")
        return real(self, con, table, frame, staged)

    monkeypatch.setattr(gs.GeoPackageStore, "_insert", crash)
    with pytest.raises(RuntimeError):
        commit_upload(prepared, store=store)
    assert {t: store.count(t) for t in counts} == counts


_cell = st.one_of(
    st.none(),
    # (control characters make a file binary: the readers' tests cover those)
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12),
    st.sampled_from(["21.0066", "105.8331", "0", "08/07/2025 09:30", "31/02/2025", "rác",
                     "hàng rong", "2.000.000đ", "1 triệu", "-5", "1e400", '"', ";", "\n"]),
)  # fmt: skip


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(_cell, min_size=5, max_size=5), min_size=1, max_size=30))
def test_generated_sheets_always_add_up(store, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Thời gian", "Vĩ độ", "Kinh độ", "Loại vi phạm", "Tiền phạt"])
    writer.writerows(rows)
    # Lines with nothing but separators are not rows of data (spreadsheets write them).
    filled = sum(any(isinstance(c, str) and c.strip() for c in row) for row in rows)
    try:
        prepared = prepare_upload(buffer.getvalue().encode(), name="gen.csv", store=store,
                                  options=UploadOptions(now=NOW))  # fmt: skip
    except InputError as exc:
        assert filled == 0 and "no rows" in str(exc)
        return
    s = prepared.summary()
    assert s["accepted"] + s["duplicates"] + s["quarantined"] == s["rows"] == filled


def test_a_quarantined_row_can_be_corrected_or_discarded(store):
    _, s = _upload(store, CSV)
    upload = s["upload_id"]
    q = store.read("quarantine").set_index("row_number")
    bad_date = json.loads(q.loc[4, "raw"])
    bad_date.pop("_table")
    still = resolve_quarantined(store, upload_id=upload, row_number=4, values=bad_date, user="lan")
    assert still["outcome"] == "rejected" and "bad_time" in set(still["problems"]["reason"])
    assert store.count("quarantine") == 3
    fixed = {**bad_date, "Thời gian": "28/02/2025 10:00"}
    before = store.count("violations")
    done = resolve_quarantined(store, upload_id=upload, row_number=4, values=fixed, user="lan")
    assert done["outcome"] == "accepted" and store.count("violations") == before + 1
    new = store.read("violations").set_index("record_id").loc[done["record_id"]]
    assert new["observed_at"] == pd.Timestamp("2025-02-28 10:00", tz=TZ)
    assert new["upload_id"] == upload
    assert 4 not in set(store.read("quarantine")["row_number"])
    with pytest.raises(InputError, match="say why"):
        discard_quarantined(store, upload_id=upload, row_number=6, reason=" ", user="lan")
    discard_quarantined(store, upload_id=upload, row_number=6, reason="test entry", user="lan")
    assert sorted(store.read("quarantine")["row_number"]) == [8]
    log = store.read("audit_log")["action"].iloc[-1]
    assert "test entry" in log and "09/07/2025 11:00" in log  # the original cells are kept there


def test_a_photo_becomes_a_draft_record_at_its_position(store):
    from PIL import ExifTags, Image

    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (21.0, 0.0, 21.6),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (105.0, 50.0, 0.0),
    })  # fmt: skip
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2025:07:08 09:30:00"
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), "white").save(buffer, "JPEG", exif=exif)
    photo = buffer.getvalue()
    _, s = _upload(store, photo, name="IMG_0001.JPG")
    assert (s["accepted"], s["flagged"]) == (1, 1) and s["reasons"] == {"draft_from_photo": 1}
    record = store.read("violations").query("upload_id == @s['upload_id']").iloc[0]
    assert record["photo_sha256"] == hashlib.sha256(photo).hexdigest()
    assert record["category"] == "other" and record["status"] == "open"
    assert abs(record.geometry.y - 21.006) < 1e-6 and abs(record.geometry.x - 105.8333333) < 1e-6
    assert record["observed_at"] == pd.Timestamp("2025-07-08 09:30", tz=TZ)
    _, again = _upload(store, photo, name="IMG_0001 (copy).JPG")
    assert again["duplicates"] == 1  # the same photo twice adds nothing


def test_cleanups_and_citizen_reports_upload_to_their_tables(store):
    cleanups = (
        "Bắt đầu;Kết thúc;Số người;Khối lượng rác (kg);Vĩ độ;Kinh độ\n"
        "06/07/2025 07:00;06/07/2025 09:30;45;320,5;21.0062;105.8335\n"
        "13/07/2025 07:00;13/07/2025 09:00;-3;120;21.0062;105.8335\n"
    ).encode()
    _, s = _upload(store, cleanups, name="don-ve-sinh.csv", kind="cleanups")
    assert (s["accepted"], s["quarantined"]) == (1, 1)  # a negative head count is refused
    row = store.read("cleanups").query("upload_id == @s['upload_id']").iloc[0]
    assert (row["participants"], row["waste_kg"]) == (45, 320.5)
    assert row["ended_at"] == pd.Timestamp("2025-07-06 09:30", tz=TZ) and pd.notna(row["group_id"])
    reports = (
        "Ngày nhận;Loại phản ánh;Mức độ;Vĩ độ;Kinh độ\n"
        "08/07/2025 20:15;Lấn chiếm vỉa hè;2;21.0066;105.8331\n"
        "09/07/2025 08:00;Xả rác;5;21.0066;105.8331\n"
    ).encode()
    _, s = _upload(store, reports, name="ihanoi.csv", kind="citizen_reports")
    assert (s["accepted"], s["quarantined"]) == (1, 1)  # severity runs from 1 to 3
    report = store.read("citizen_reports").query("upload_id == @s['upload_id']").iloc[0]
    assert (report["category"], report["severity"]) == ("sidewalk_encroachment", 2)


def test_points_show_what_an_upload_would_add(store):
    prepared = prepare_upload(CSV, name="team.csv", store=store, options=UploadOptions(now=NOW))
    points = prepared.points()
    assert len(points) == prepared.summary()["accepted"] == 3 and points.crs.to_epsg() == 4326
    assert set(points["category"]) == {"sidewalk_encroachment", "street_vending", "traffic"}
    assert points["fine_vnd"].sum() == 3_300_000 and points["observed_at"].notna().all()
    empty = prepare_upload(CSV, name="team.csv", store=store, options=UploadOptions(now=NOW))
    commit_upload(prepared, store=store)
    assert len(empty.points()) == 3  # prepared before the commit: still the three
    again = prepare_upload(CSV, name="team.csv", store=store, options=UploadOptions(now=NOW))
    assert again.points().empty  # the same file again would add nothing


def test_the_cycle_collector_pauses_during_an_upload_and_comes_back(store, monkeypatch):
    import gc

    seen = []
    real = ingest_module._process

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "_process", watched)
    assert gc.isenabled()
    _upload(store, CSV)
    assert seen == [False] and gc.isenabled()
    with pytest.raises(InputError):  # a refused file: enabled again all the same
        prepare_upload(b"\x00\x01binary", name="bad.csv", store=store)
    assert gc.isenabled()
    gc.disable()  # a caller that runs without it keeps it off
    try:
        _upload(
            store, CSV.replace(b"team", b"other") + b"8;10/07/2025 08:00;21.0066;105.8331;Xe;;;\n"
        )
        assert not gc.isenabled()
    finally:
        gc.enable()
