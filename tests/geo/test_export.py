"""Exports open in Excel and GIS tools, carry the values unchanged, and never run a formula."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from defusedxml import ElementTree
from openpyxl import load_workbook
from shapely.geometry import LineString, Point

from geo.errors import InputError
from geo.export import export_records, manual_entry_csv
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.store import open_store

TZ = "Asia/Ho_Chi_Minh"
HOSTILE = ['=HYPERLINK("http://x")', "+1+2", "-3", "@SUM(A1)", "\tcmd", "\rcmd"]


def _records() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "record_id": ["a1", "b2", "c3"],
            "category": ["street_vending", "littering", "mystery"],
            # 01:30 UTC is 08:30 in Hà Nội: exports speak local time
            "observed_at": pd.to_datetime(
                ["2025-07-08 01:30:15", "2025-07-09 23:05:00", "2025-07-10 00:00:00"], utc=True
            ).tz_convert(TZ),
            "fine_vnd": pd.array([300_000, None, 1_500_000], dtype="Int64"),
            "address": ['số 5, ngõ "Hoa Sữa"\ntầng 2', None, "Phố Huế"],
            "status": ["fined", "open", "weird"],
            "assignment": ["inside", "snapped", "outside"],
            "gps_accuracy_m": [4.5, None, 12.0],
            "offender_key": ["secret-hash", None, None],
        },
        geometry=[Point(105.833, 21.0065), Point(105.8361234, 21.0080001), Point(-0.5, -1.25)],
        crs=4326,
    )


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "CSV must carry a BOM for Excel"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_round_trips_values_with_labels_and_local_time():
    rows = _csv_rows(export_records(_records(), fmt="csv", lang="vi"))
    assert len(rows) == 3
    first, second, third = rows
    assert first["Mã hồ sơ"] == "a1"
    assert first["Loại vi phạm"] == "Bán hàng rong"
    assert third["Loại vi phạm"] == "mystery"  # an unknown code is kept as it is
    assert first["Thời gian"] == "08/07/2025 08:30:15"
    assert second["Thời gian"] == "10/07/2025 06:05:00"  # across midnight in local time
    assert first["Số tiền phạt (đ)"] == "300000" and second["Số tiền phạt (đ)"] == ""
    assert first["Địa chỉ"] == 'số 5, ngõ "Hoa Sữa"\ntầng 2'
    assert (first["Trạng thái"], second["Trạng thái"], third["Trạng thái"]) == (
        "Đã xử phạt", "Chưa xử lý", "weird",
    )  # fmt: skip
    assert second["Gán vào tổ"] == "Gắn vào tổ gần nhất"
    assert second["Độ chính xác GPS (m)"] == ""
    assert float(second["Vĩ độ"]) == 21.0080001 and float(second["Kinh độ"]) == 105.8361234
    # a negative number is a number, not a formula: it is not escaped
    assert third["Kinh độ"] == "-0.5" and third["Vĩ độ"] == "-1.25"
    assert not any("offender" in k or "secret" in v for r in rows for k, v in r.items() if v)


def test_english_headers_and_labels():
    rows = _csv_rows(export_records(_records(), fmt="csv", lang="en"))
    assert rows[0]["Category"] == "Street vending"
    assert rows[0]["Time"] == "08/07/2025 08:30:15"
    assert rows[0]["Fine (VND)"] == "300000"
    assert rows[1]["Status"] == "Open" and rows[1]["Assignment"] == "Snapped to the nearest group"


def test_csv_escapes_formulas():
    frame = pd.DataFrame({"address": [*HOSTILE, "an ordinary = sign", "1-2"]})
    rows = _csv_rows(export_records(frame, fmt="csv"))
    cells = [r["Địa chỉ"] for r in rows]
    assert cells[: len(HOSTILE)] == ["'" + h for h in HOSTILE]
    assert cells[len(HOSTILE) :] == ["an ordinary = sign", "1-2"]


def test_xlsx_opens_keeps_values_and_writes_formulas_as_text():
    frame = _records().assign(address=["=1+1", "@SUM(A1)", "Phố Huế"])
    data = export_records(frame, fmt="xlsx", lang="vi")
    ws = load_workbook(io.BytesIO(data)).active
    assert ws.title == "Hồ sơ"
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    table = [dict(zip(header, r, strict=True)) for r in rows[1:]]
    assert len(table) == 3
    assert table[0]["Số tiền phạt (đ)"] == 300_000 and table[1]["Số tiền phạt (đ)"] is None
    assert table[0]["Thời gian"] == "08/07/2025 08:30:15"
    assert table[0]["Loại vi phạm"] == "Bán hàng rong"
    assert table[1]["Vĩ độ"] == pytest.approx(21.0080001)
    # the formula-like texts come back unchanged, as text cells, and nothing is a formula
    address = header.index("Địa chỉ") + 1
    cells = [ws.cell(row=r, column=address) for r in (2, 3)]
    assert [c.value for c in cells] == ["=1+1", "@SUM(A1)"]
    assert all(c.data_type == "s" for c in cells)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    assert "secret-hash" not in sheet and "Offender" not in str(header)


def test_geojson_opens_with_labelled_properties_and_exact_points():
    data = export_records(_records(), fmt="geojson", lang="en")
    doc = json.loads(data.decode("utf-8"))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 3
    f = doc["features"][0]
    assert f["geometry"] == {"type": "Point", "coordinates": [105.833, 21.0065]}
    assert f["properties"]["Category"] == "Street vending"
    assert f["properties"]["Time"] == "08/07/2025 08:30:15"
    assert f["properties"]["Fine (VND)"] == 300_000
    assert doc["features"][1]["properties"]["Fine (VND)"] is None
    assert "offender_key" not in f["properties"] and "secret" not in data.decode()
    back = gpd.read_file(io.BytesIO(data))
    assert len(back) == 3 and back.crs.to_epsg() == 4326


def _saved(data: bytes, folder: Path, name: str = "export.gpkg") -> Path:
    path = folder / name  # GDAL wants a GeoPackage to be called .gpkg
    path.write_bytes(data)
    return path


def test_geopackage_reads_back_with_the_same_ids_points_and_numbers(tmp_path):
    frame = _records().assign(address=["=1+1", None, "Phố Huế"])
    data = export_records(frame, fmt="gpkg", lang="vi")
    assert data.startswith(b"SQLite format 3\x00")
    path = _saved(data, tmp_path)
    assert pyogrio.list_layers(path).tolist() == [["ho_so", "Point"]]
    back = pyogrio.read_dataframe(path)
    assert back.crs.to_epsg() == 4326
    assert back["Mã hồ sơ"].tolist() == ["a1", "b2", "c3"]
    assert [(p.x, p.y) for p in back.geometry] == [(p.x, p.y) for p in frame.geometry]
    assert back["Loại vi phạm"].tolist() == ["Bán hàng rong", "Xả rác sai quy định", "mystery"]
    assert back["Thời gian"].iloc[0] == "08/07/2025 08:30:15"
    info = pyogrio.read_info(path)
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert types["Số tiền phạt (đ)"] == "int64" and types["Độ chính xác GPS (m)"] == "float64"
    assert back["Số tiền phạt (đ)"].iloc[0] == 300_000 and pd.isna(back["Số tiền phạt (đ)"][1])
    assert back["Địa chỉ"].iloc[0] == "=1+1"  # no spreadsheet here: the value as it is
    assert "Offender key" not in back.columns and b"secret-hash" not in data
    english = pyogrio.list_layers(
        _saved(export_records(frame, fmt="gpkg", lang="en"), tmp_path, "en.gpkg")
    )
    assert english[0][0] == "records"


def _kml(data: bytes) -> list[dict[str, object]]:
    """Each placemark's name, description, time, point and data (namespaces dropped)."""
    root = ElementTree.fromstring(data)
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    out = []
    for mark in root.iterfind(".//k:Placemark", ns):
        coords = mark.findtext(".//k:Point/k:coordinates", default="", namespaces=ns).split(",")
        out.append(
            {
                "name": mark.findtext("k:name", namespaces=ns),
                "description": mark.findtext("k:description", namespaces=ns),
                "when": mark.findtext("k:TimeStamp/k:when", namespaces=ns),
                "lon_lat": (float(coords[0]), float(coords[1])),
                "data": {d.get("name"): d.text for d in mark.iterfind(".//k:SimpleData", ns)},
            }
        )
    return out


def test_kml_has_a_named_placemark_per_record_with_its_time_and_point():
    frame = _records().assign(address=["<b onmouseover=x>5 Huế</b>", None, "=1+1"])
    data = export_records(frame, fmt="kml", lang="vi")
    marks = _kml(data)
    assert len(marks) == 3
    assert [m["name"] for m in marks] == ["Bán hàng rong", "Xả rác sai quy định", "mystery"]
    assert [m["lon_lat"] for m in marks] == [(p.x, p.y) for p in frame.geometry]
    # Google Earth's time slider reads local time with its offset
    assert [m["when"] for m in marks] == [
        "2025-07-08T08:30:15+07:00", "2025-07-10T06:05:00+07:00", "2025-07-10T07:00:00+07:00",
    ]  # fmt: skip
    first = marks[0]
    assert first["description"].startswith("Thời gian: 08/07/2025 08:30:15<br/>")
    assert "Trạng thái: Đã xử phạt" in first["description"]
    # shown as HTML by Google Earth: the address is text there, never markup
    assert "&lt;b onmouseover=x&gt;5 Huế&lt;/b&gt;" in first["description"]
    assert "<b onmouseover" not in first["description"]
    assert first["data"]["Mã hồ sơ"] == "a1" and first["data"]["Số tiền phạt (đ)"] == "300000"
    assert first["data"]["Địa chỉ"] == "<b onmouseover=x>5 Huế</b>"  # the value, intact
    assert marks[2]["data"]["Địa chỉ"] == "=1+1"
    assert "Số tiền phạt (đ)" not in marks[1]["data"]  # missing stays missing
    assert b"secret-hash" not in data and "Offender" not in data.decode()
    english = _kml(export_records(frame, fmt="kml", lang="en"))
    assert english[0]["name"] == "Street vending" and english[0]["data"]["Record ID"] == "a1"


def test_kml_keeps_a_field_named_like_a_placemark_element():
    lines = gpd.GeoDataFrame(
        {"name": ["a"], "description": ["b"]},
        geometry=[LineString([(105.8, 21.0), (105.9, 21.1)])],
        crs=4326,
    )
    root = ElementTree.fromstring(export_records(lines, fmt="kml"))
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    data = {d.get("name"): d.text for d in root.iterfind(".//k:SimpleData", ns)}
    assert data == {"name_": "a", "description_": "b"}
    assert root.find(".//k:Placemark/k:LineString", ns) is not None


def test_other_geometries_go_out_as_wkt_and_bad_requests_are_refused():
    lines = gpd.GeoDataFrame(
        {"name": ["a"]}, geometry=[LineString([(105.8, 21.0), (105.9, 21.1)])], crs=4326
    )
    rows = _csv_rows(export_records(lines, fmt="csv", lang="en"))
    assert rows[0]["Geometry (WKT)"].startswith("LINESTRING (105.8 21")
    for fmt in ("geojson", "gpkg", "kml"):
        with pytest.raises(InputError, match=f"{fmt} needs the records' geometries"):
            export_records(pd.DataFrame({"a": [1]}), fmt=fmt)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="csv, xlsx, geojson"):
        export_records(lines, fmt="pdf")  # type: ignore[arg-type]


def test_an_empty_selection_exports_headers_only(tmp_path):
    empty = _records().iloc[0:0]
    assert len(_csv_rows(export_records(empty, fmt="csv"))) == 0
    ws = load_workbook(io.BytesIO(export_records(empty, fmt="xlsx"))).active
    assert ws.max_row == 1
    assert json.loads(export_records(empty, fmt="geojson"))["features"] == []
    assert len(pyogrio.read_dataframe(_saved(export_records(empty, fmt="gpkg"), tmp_path))) == 0
    assert _kml(export_records(empty, fmt="kml")) == []


@pytest.fixture
def store(demo_copy):
    return open_store(demo_copy)


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "geojson", "kml"])
def test_an_export_uploaded_again_adds_nothing(store, fmt):
    some = store.read("violations").iloc[::97]
    before = store.count("violations")
    data = export_records(some, fmt=fmt, lang="vi")
    prepared = prepare_upload(data, name=f"export.{fmt}", store=store, options=UploadOptions())
    s = prepared.summary()
    assert (s["rows"], s["accepted"], s["duplicates"], s["quarantined"]) == (
        len(some), 0, len(some), 0,
    )  # fmt: skip
    commit_upload(prepared, store=store)
    assert store.count("violations") == before


def test_a_record_typed_in_the_app_goes_through_the_upload(store):
    data = manual_entry_csv(
        lat=21.0065,
        lon=105.833,
        observed_at=datetime(2025, 7, 8, 9, 30),
        category="street_vending",
        fine_vnd=300_000,
        address="=cmd|' /C calc'!A0",
    )
    header = data.decode("utf-8").splitlines()[0]
    assert header == "Vĩ độ,Kinh độ,Thời gian,Loại vi phạm,Số tiền phạt,Địa chỉ,Trạng thái"
    prepared = prepare_upload(data, name="nhập tay", store=store, options=UploadOptions())
    assert prepared.summary()["accepted"] == 1
    commit_upload(prepared, store=store)
    new = store.read("violations").query("upload_id == @prepared.upload_id").iloc[0]
    assert new["category"] == "street_vending" and new["fine_vnd"] == 300_000
    assert new["status"] == "fined"  # a fine and no status: fined, as for any upload
    assert new["observed_at"] == pd.Timestamp("2025-07-08 09:30", tz=TZ)
    assert new["address"] == "=cmd|' /C calc'!A0"  # stored as typed; exports defuse it
    assert pd.notna(new["group_id"]) and new["assignment"] == "inside"


def test_any_table_as_csv_escapes_formulas_and_opens_in_excel():
    from geo.export import table_csv

    data = table_csv(pd.DataFrame({"action": ['=HYPERLINK("x")', "sửa trạng thái"], "n": [1, 2]}))
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Vietnamese right
    lines = data.decode("utf-8-sig").splitlines()
    assert lines == ["action,n", '"\'=HYPERLINK(""x"")",1', "sửa trạng thái,2"]
