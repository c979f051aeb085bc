"""Upload readers: every format staff have, as raw text with the user's row numbers, and
hostile files refused quickly with a message naming the file.

Every file is generated here, in memory or in tmp_path: no binary fixtures.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import random
import re
import struct
import time
import unicodedata
import zipfile
import zlib

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image

from geo.errors import InputError
from geo.readers import RawTable, ReadLimits, read_path, read_upload, sniff_format

VI_HEADER = ["STT", "Loại vi phạm", "Vĩ độ", "Kinh độ", "Thời gian", "Số tiền phạt", "Địa chỉ"]
VI_ROWS = [
    ["1", "Lấn chiếm vỉa hè", "21,00712", "105,84123", "15/03/2025 08:30", "1.500.000đ",
     "Số 5 Lương Định Của"],
    ["2", "Bán hàng rong", "21,00801", "105,84200", "03/04/2025 17:05", "300.000 đ",
     "Ngõ 4 Kim Liên"],
    ["3", "Xả rác sai quy định", "21,00650", "105,83990", "31/12/2024", "", "Phố Đào Duy Anh"],
]  # fmt: skip


def read_one(data: bytes, name: str, **limits: float) -> RawTable:
    tables = read_upload(data, name=name, limits=ReadLimits(**limits))  # type: ignore[arg-type]
    assert len(tables) == 1, [t.name for t in tables]
    return tables[0]


def refused(data: bytes, name: str, **limits: float) -> str:
    """The message of the InputError reading ``data`` gives; it names the file, fast."""
    start = time.monotonic()
    with pytest.raises(InputError) as info:
        read_upload(data, name=name, limits=ReadLimits(**limits))  # type: ignore[arg-type]
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert message.startswith(f"{name}: "), message
    return message


def delimited(rows: list[list[str]], delimiter: str, newline: str = "\r\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline).writerows(rows)
    return buffer.getvalue()


def as_cp1258(value: str) -> bytes:
    """Windows-1258 as Windows writes Vietnamese: base letters precomposed, tone marks apart."""
    out = []
    for char in value:
        try:
            out.append(char.encode("cp1258"))
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            tones = "".join(c for c in parts if c in "\u0300\u0301\u0303\u0309\u0323")
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out.append((base + tones).encode("cp1258"))
    return b"".join(out)


def expected_vi_frame(index: list[int]) -> pd.DataFrame:
    rows = [[v or None for v in row] for row in VI_ROWS]
    return pd.DataFrame(rows, columns=VI_HEADER, index=pd.Index(index, name="row"), dtype=object)


# -- CSV ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [
        ("utf-8", ";"),
        ("utf-8-sig", ","),
        ("utf-8-sig", "\t"),
        ("utf-16", "\t"),
        ("utf-16-be-bom", ";"),
        ("utf-16-le-no-bom", ","),
        ("cp1258", ";"),
        ("cp1258", ","),
    ],
)
def test_vietnamese_csv_in_every_encoding_and_delimiter(encoding, delimiter):
    content = delimited([VI_HEADER, *VI_ROWS], delimiter)
    if encoding == "cp1258":
        data = as_cp1258(content)
        assert b"\xec" in data  # a combining acute: the file really has separate tone marks
    elif encoding == "utf-16-be-bom":
        data = b"\xfe\xff" + content.encode("utf-16-be")
    elif encoding == "utf-16-le-no-bom":
        data = content.encode("utf-16-le")
    else:
        data = content.encode(encoding)
    table = read_one(data, "vi-pham.csv")
    assert table.layer == "records"
    assert table.crs is None
    assert table.problems == ()
    pd.testing.assert_frame_equal(table.frame, expected_vi_frame([2, 3, 4]))
    # NFC: the same code points as text typed in UTF-8
    assert table.frame.loc[2, "Loại vi phạm"] == unicodedata.normalize("NFC", "Lấn chiếm vỉa hè")


def test_quoted_newlines_blank_lines_and_titles_keep_the_spreadsheet_row_numbers():
    content = (
        "DANH SÁCH VI PHẠM THÁNG 3/2025;;;\n"  # row 1: a title, as Excel exports it
        ";;;\n"  # row 2: empty
        "Loại;Ghi chú;Ngày;Tiền\n"  # row 3: the header
        'Bán hàng rong;"dòng một\ndòng hai";15/03/2025;1.500.000đ\n'  # row 4, two lines
        "\n"  # row 5: blank
        "  Xả rác  ;;16/03/2025;\n"  # row 6
    )
    table = read_one(content.encode(), "t.csv")
    assert list(table.frame.columns) == ["Loại", "Ghi chú", "Ngày", "Tiền"]
    assert table.frame.index.tolist() == [4, 6]
    assert table.frame.loc[4].tolist() == [
        "Bán hàng rong",
        "dòng một\ndòng hai",
        "15/03/2025",
        "1.500.000đ",
    ]
    assert table.frame.loc[6].tolist() == ["Xả rác", None, "16/03/2025", None]


def test_quotes_inside_unquoted_cells_are_text():
    content = 'Báo cáo "tháng 3;;\nLoại;Ghi chú;Tiền\nTivi 5" ;1;2\ny;"3;4";5\nz;6;7\n'
    table = read_one(content.encode(), "q.csv")
    assert table.frame.index.tolist() == [3, 4, 5]
    assert table.frame["Loại"].tolist() == ['Tivi 5"', "y", "z"]
    assert table.frame["Ghi chú"].tolist() == ["1", "3;4", "6"]
    assert table.problems == ()


def test_ragged_rows_are_reported_and_kept_with_what_they_have():
    content = (
        "Loại,Tiền,Ngày\n"
        "Bán hàng rong,300000,15/03/2025\n"  # row 2
        "Lấn chiếm,1,500,000,16/03/2025\n"  # row 3: an unquoted comma in the fine
        "Xả rác,200000\n"  # row 4: a cell missing
        "Biển quảng cáo,100000,17/03/2025,,\n"  # row 5: only empty extra cells
    )
    table = read_one(content.encode(), "ragged.csv")
    assert table.frame.index.tolist() == [2, 3, 4, 5]
    assert table.frame.loc[3].tolist() == ["Lấn chiếm", "1", "500"]
    assert table.frame.loc[4].tolist() == ["Xả rác", "200000", None]
    assert [(p.row, p.reason, p.severity) for p in table.problems] == [
        (3, "ragged_row", "reject"),
        (4, "ragged_row", "reject"),
    ]
    assert "'000, 16/03/2025'" in table.problems[0].message


def test_kobo_export_with_semicolons_reads_its_system_columns():
    content = (
        "start;Loại vi phạm;_geolocation;_Vị trí_latitude;_Vị trí_longitude;_uuid;"
        "_submission_time\n"
        '2025-03-15T08:30:00.000+07:00;street_vending;"21.00712,105.84123";21.00712;105.84123;'
        "5f0c6a2e-9b1d-4c1e-8f43-2b7d0c1a9e11;2025-03-15T01:31:02\n"
    )
    table = read_one(content.encode("utf-8-sig"), "kobo.csv")
    row = table.frame.loc[2]
    assert row["_geolocation"] == "21.00712,105.84123"
    assert row["_uuid"] == "5f0c6a2e-9b1d-4c1e-8f43-2b7d0c1a9e11"
    assert row["_Vị trí_latitude"] == "21.00712"


def test_excel_sep_line_sets_the_delimiter_and_is_not_a_row():
    table = read_one(b"sep=,\nA,B\n1;2,3\n", "sep.csv")
    assert table.frame.loc[2].tolist() == ["1;2", "3"]


def test_blank_and_repeated_headers_get_names():
    table = read_one(b"Ngay,,Ngay,\n1,2,3,\n", "h.csv")
    assert list(table.frame.columns) == ["Ngay", "column 2", "Ngay (2)"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.lists(st.text(alphabet='aăđếệ 5.,;"\n\t', max_size=8), min_size=3, max_size=3),
        min_size=1,
        max_size=12,
    )
)
def test_any_table_written_by_the_csv_module_reads_back_cell_for_cell(rows):
    content = delimited([["a", "b", "c"], *rows], ";")
    expected = {
        number: [v.strip() or None for v in row]
        for number, row in enumerate(rows, start=2)
        if any(v.strip() for v in row)
    }
    if not expected:
        return
    fast = read_one(content.encode(), "p.csv")
    assert {
        n: list(r) for n, r in zip(fast.frame.index, fast.frame.values.tolist(), strict=True)
    } == expected
    assert fast.problems == ()
    # the same rows through the csv-module path (a ragged last row forces it)
    slow = read_one((content + "x;y;z;w\r\n").encode(), "p.csv")
    assert slow.frame.drop(index=len(rows) + 2).equals(fast.frame)
    assert [p.row for p in slow.problems] == [len(rows) + 2]


def test_200_000_rows_read_in_a_few_seconds(tmp_path):
    lines = [";".join(VI_HEADER)] + [
        f"{i};Bán hàng rong;21,{i % 9999:05d};105,84;15/03/2025 08:30;1.500.000đ;Số {i}"
        for i in range(200_000)
    ]
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = time.monotonic()
    [table] = read_path(path)
    assert time.monotonic() - start < 5
    assert len(table.frame) == 200_000
    assert table.frame.index[-1] == 200_001
    assert table.frame.loc[200_001, "Địa chỉ"] == "Số 199999"


# -- Excel ----------------------------------------------------------------------------------


def _workbook_bytes(book: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _with_cached_value(data: bytes, cell: str, value: str) -> bytes:
    """The workbook with a cached value for the formula in ``cell`` (as Excel saves it)."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                formula = rf'(<c r="{cell}"[^>]*>\s*<f>[^<]*</f>)'
                pattern = rf"{formula}\s*<v\s*/>|{formula}<v></v>"
                content, count = re.subn(
                    pattern.encode(), rb"\1\2<v>" + value.encode() + b"</v>", content
                )
                assert count == 1, content[:2000]
            out.writestr(item, content)
    return target.getvalue()


def test_xlsx_numbers_dates_and_formulas_as_excel_shows_them():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Tháng 3"
    sheet.append(["BÁO CÁO VI PHẠM"])  # row 1: a title
    sheet.append([*VI_HEADER[:4], "Thời gian", "Số tiền phạt", "Gấp đôi", "Đã nộp"])  # row 2
    sheet.append(
        [
            1,
            "Lấn chiếm",
            21.0285,
            105.8542,
            dt.datetime(2025, 3, 15, 8, 30),
            1500000.0,
            "=F3*2",
            True,
        ]
    )
    sheet.append([])  # row 4: empty
    sheet.append(
        [
            2,
            "Bán hàng rong",
            21.0,
            105.84,
            dt.datetime(2025, 4, 3, 17, 5, 59, 999_999),
            300000,
            "=F5*2",
            False,
        ]
    )
    hidden = book.create_sheet("Danh mục")
    hidden.append(["code"])
    hidden.append(["x"])
    hidden.sheet_state = "hidden"
    book.create_sheet("Trống")
    extra = book.create_sheet("Tháng 4")
    extra.append(["Loại", "Ngày"])
    extra.append(["Xả rác", "01/04/2025"])
    data = _with_cached_value(_workbook_bytes(book), "G3", "3000000")

    tables = read_upload(data, name="bao-cao.xlsx")
    assert [t.name for t in tables] == ["bao-cao.xlsx:Tháng 3", "bao-cao.xlsx:Tháng 4"]
    march, april = tables
    assert march.frame.index.tolist() == [3, 5]
    assert march.frame.loc[3].tolist() == [
        "1", "Lấn chiếm", "21.0285", "105.8542", "2025-03-15 08:30:00", "1500000", "3000000",
        "TRUE",
    ]  # fmt: skip
    assert march.frame.loc[5, "Thời gian"] == "2025-04-03 17:06:00"
    assert march.frame.loc[5, "Gấp đôi"] is None  # never calculated: reported, not guessed
    assert [(p.row, p.column, p.reason, p.severity) for p in march.problems] == [
        (5, "Gấp đôi", "formula_without_value", "flag")
    ]
    assert "G5" in march.problems[0].message
    assert april.frame.loc[2].tolist() == ["Xả rác", "01/04/2025"]


def test_truncated_xlsx_is_refused():
    book = openpyxl.Workbook()
    book.active.append(["a", "b"])
    data = _workbook_bytes(book)
    message = refused(data[: len(data) // 2], "cut.xlsx")
    assert "damaged or truncated" in message


def test_xlsx_with_an_entity_bomb_in_its_sheet_is_refused():
    book = openpyxl.Workbook()
    book.active.append(["a", "b"])
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
        "</sheetData></worksheet>"
    )
    bomb = LAUGHS.replace("{root}", "worksheet").replace("{body}", sheet)
    source, target = zipfile.ZipFile(io.BytesIO(_workbook_bytes(book))), io.BytesIO()
    with zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            is_sheet = item.filename == "xl/worksheets/sheet1.xml"
            out.writestr(item, bomb if is_sheet else source.read(item.filename))
    assert "could not be opened as an Excel workbook" in refused(target.getvalue(), "bomb.xlsx")


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    """A workbook-shaped zip whose sheet inflates to 1 GiB of zeros (about 5 MB compressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        zeros = bytes(2**20)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(1024):
                member.write(zeros)
    return buffer.getvalue()


def test_zip_bomb_workbook_is_refused_before_inflating(gigabyte_bomb):
    assert len(gigabyte_bomb) < 10 * 2**20
    message = refused(gigabyte_bomb, "bomb.xlsx")
    assert "would unpack to 1,024 MiB" in message


def test_highly_compressed_member_is_refused_by_ratio():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", bytes(20 * 2**20))
    message = refused(buffer.getvalue(), "ratio.kmz")
    assert "compressed" in message and "zip bomb" in message


# -- GeoJSON --------------------------------------------------------------------------------

GEOJSON = """{
  "type": "FeatureCollection",
  "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::5897"}},
  "features": [
    {"type": "Feature", "id": 7,
     "geometry": {"type": "Point", "coordinates": [586123.50, 2322456.25]},
     "properties": {"Loại": "Lấn chiếm", "fine": 1500000, "rate": 1.50, "paid": true,
                    "tags": {"a": [1, 2.5]}, "note": null}},
    {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
     "properties": {"Loại": "Xả rác"}},
    {"type": "Feature", "geometry": null, "properties": {"Loại": "Khác"}},
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": []}, "properties": {}}
  ]
}"""


def test_geojson_properties_points_and_declared_crs():
    table = read_one(GEOJSON.encode(), "vn2000.geojson")
    frame = table.frame
    assert table.crs == "EPSG:5897"
    assert frame.index.tolist() == [1, 2, 3, 4]
    assert frame.loc[1, "_lon"] == "586123.50"  # as written, no float round trip
    assert frame.loc[1, "_lat"] == "2322456.25"
    assert frame.loc[1, ["fine", "rate", "paid", "note"]].tolist() == [
        "1500000",
        "1.50",
        "true",
        None,
    ]
    assert json.loads(frame.loc[1, "tags"]) == {"a": [1, 2.5]}
    assert frame.loc[1, "_feature_id"] == "7"
    assert frame.loc[2, "_geometry_type"] == "LineString"
    assert frame.loc[1, "_geometry_type"] is None
    assert frame.loc[3, ["_lon", "_lat", "_geometry_type"]].tolist() == [None, None, None]
    assert [(p.row, p.reason) for p in table.problems] == [(4, "bad_geometry")]


def test_geojson_without_crs_member_declares_none():
    point = {"type": "Point", "coordinates": [105.84, 21.0]}
    data = json.dumps({"type": "Feature", "geometry": point, "properties": {}}).encode()
    table = read_one(data, "p.json")
    assert table.crs is None
    assert table.frame.loc[1, ["_lon", "_lat"]].tolist() == ["105.84", "21.0"]


def test_deeply_nested_and_truncated_json_are_refused():
    deep = '{"type": "Feature", "properties": {"a": ' + "[" * 200_000 + "]" * 200_000 + "}}"
    assert "nested too deeply" in refused(deep.encode(), "deep.geojson")
    assert "not valid JSON" in refused(GEOJSON[:200].encode(), "cut.geojson")


# -- KML / KMZ ------------------------------------------------------------------------------

KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2">
 <Document><name>Kim Liên</name>
  <Folder><name>Lấn chiếm vỉa hè</name>
   <Placemark><name>Điểm 1</name><description><![CDATA[<b>Quán</b> nước]]></description>
    <TimeStamp><when>2025-03-15T08:30:00+07:00</when></TimeStamp>
    <ExtendedData>
     <Data name="Số tiền phạt"><value>1.500.000đ</value></Data>
     <SchemaData schemaUrl="#s"><SimpleData name="Ngày">15/03/2025</SimpleData></SchemaData>
    </ExtendedData>
    <Point><coordinates> 105.84123,21.00712,0 </coordinates></Point>
   </Placemark>
  </Folder>
  <Placemark><name>Tuyến</name>
   <LineString><coordinates>105.8,21.0 105.9,21.1</coordinates></LineString></Placemark>
  <Placemark><name>Hỏng</name><Point><coordinates>105.8</coordinates></Point></Placemark>
 </Document>
</kml>"""


def _check_kml(table: RawTable) -> None:
    frame = table.frame
    assert table.crs == "EPSG:4326"
    assert frame.index.tolist() == [1, 2, 3]
    first = frame.loc[1]
    assert first["name"] == "Điểm 1"
    assert first["description"] == "<b>Quán</b> nước"
    assert first["Số tiền phạt"] == "1.500.000đ"
    assert first["Ngày"] == "15/03/2025"
    assert first[["_lon", "_lat", "_time"]].tolist() == [
        "105.84123",
        "21.00712",
        "2025-03-15T08:30:00+07:00",
    ]
    assert first["_folder"] == "Lấn chiếm vỉa hè"
    assert first["_geometry_type"] is None
    assert frame.loc[2, "_geometry_type"] == "LineString"
    assert frame.loc[2, "_folder"] is None
    assert [(p.row, p.reason) for p in table.problems] == [(3, "bad_geometry")]


def test_kml_placemarks_with_extended_data():
    _check_kml(read_one(KML.encode(), "diem.kml"))


def test_kmz_reads_its_doc_kml(tmp_path):
    path = tmp_path / "diem.kmz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("files/other.kml", "<kml/>")
        archive.writestr("doc.kml", KML)
        archive.writestr("files/icon.png", b"\x89PNG")
    [table] = read_path(path)
    assert table.name == "diem.kmz"
    _check_kml(table)


def test_truncated_kmz_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml", KML * 20)
    assert "damaged or truncated" in refused(buffer.getvalue()[:300], "cut.kmz")


LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE {root} [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
{body}"""


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("bomb.kml", "<kml><Placemark><name>&lol9;</name></Placemark></kml>"),
        ("bomb.gpx", '<gpx version="1.1"><wpt lat="21" lon="105"><name>&lol9;</name></wpt></gpx>'),
    ],
)  # fmt: skip
def test_billion_laughs_is_refused(name, body):
    root = body[1:4]
    data = LAUGHS.replace("{root}", root).replace("{body}", body).encode()
    assert "DTD" in refused(data, name)


def test_external_entities_are_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42", encoding="utf-8")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&x;</name>'
        "<Point><coordinates>105.8,21.0</coordinates></Point></Placemark></kml>"
    ).encode()
    message = refused(data, "xxe.kml")
    assert "DTD" in message and "TOP-SECRET" not in message


# -- GPX ------------------------------------------------------------------------------------

GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="OsmAnd" xmlns="http://www.topografix.com/GPX/1/1">
 <metadata><name>Tuần tra</name></metadata>
 <wpt lat="21.00712" lon="105.84123"><ele>12.5</ele><time>2025-03-15T08:30:00+07:00</time>
  <name>Bán hàng rong</name><cmt>xe đẩy</cmt><desc>trước số 5</desc><type>street_vending</type>
  <hdop>3.2</hdop></wpt>
 <wpt lat="21.00801" lon="105.84200"><time>15/03/2025 08:45</time><name>Xả rác</name></wpt>
 <rte><name>r</name><rtept lat="21.1" lon="105.9"><name>R1</name></rtept></rte>
 <trk><name>Đội 1 sáng</name>
  <trkseg>
   <trkpt lat="21.0001" lon="105.8401"><ele>10</ele><time>2025-03-15T01:00:00Z</time>
    <hdop>4</hdop></trkpt>
   <trkpt lat="21.0002" lon="105.8402"><time>2025-03-15T01:00:10Z</time></trkpt>
  </trkseg>
 </trk>
 <trk>
  <trkseg><trkpt lat="21.0003" lon="105.8403"><time>2025-03-15T02:00:00Z</time></trkpt></trkseg>
  <trkseg><trkpt lat="21.0004" lon="105.8404"><time>2025-03-15T02:05:00Z</time></trkpt></trkseg>
 </trk>
</gpx>"""


def test_gpx_waypoints_are_records_and_track_points_are_tracks():
    records, tracks = read_upload(GPX.encode(), name="walk.gpx")
    assert (records.name, records.layer, records.crs) == ("walk.gpx", "records", "EPSG:4326")
    assert list(records.frame.columns) == [
        "name",
        "desc",
        "cmt",
        "type",
        "_lon",
        "_lat",
        "_time",
        "_ele",
        "_hdop",
    ]
    assert records.frame.index.tolist() == [1, 2, 3]
    assert records.frame.loc[1].tolist() == [
        "Bán hàng rong", "trước số 5", "xe đẩy", "street_vending",
        "105.84123", "21.00712", "2025-03-15T08:30:00+07:00", "12.5", "3.2",
    ]  # fmt: skip
    assert (
        records.frame.loc[2, "_time"] == "15/03/2025 08:45"
    )  # kept as written, for the value check
    assert records.frame.loc[3, "name"] == "R1"

    assert (tracks.name, tracks.layer) == ("walk.gpx:tracks", "tracks")
    assert list(tracks.frame.columns) == [
        "_track",
        "_segment",
        "_lon",
        "_lat",
        "_time",
        "_ele",
        "_hdop",
    ]
    assert tracks.frame.index.tolist() == [1, 2, 3, 4]
    assert tracks.frame["_track"].tolist() == ["Đội 1 sáng", "Đội 1 sáng", "track 2", "track 2"]
    assert tracks.frame["_segment"].tolist() == ["1", "1", "1", "2"]
    assert tracks.frame.loc[1, ["_time", "_ele", "_hdop"]].tolist() == [
        "2025-03-15T01:00:00Z",
        "10",
        "4",
    ]


def test_gpx_with_only_a_track_returns_only_tracks():
    data = re.sub(r"<wpt.*?</wpt>|<rte>.*?</rte>", "", GPX, flags=re.DOTALL).encode()
    [tracks] = read_upload(data, name="t.gpx")
    assert tracks.layer == "tracks"


# -- JPEG photos ----------------------------------------------------------------------------


def _photo(gps: dict[int, object] | None = None, details: dict[int, object] | None = None) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Artist] = "Nguyễn Văn A"
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update(gps)
    if details:
        exif.get_ifd(ExifTags.IFD.Exif).update(details)
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), "white").save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def test_photo_exif_gps_time_and_accuracy():
    data = _photo(
        gps={
            ExifTags.GPS.GPSLatitudeRef: "S",
            ExifTags.GPS.GPSLatitude: (21.0, 0.0, 25.632),
            ExifTags.GPS.GPSLongitudeRef: "W",
            ExifTags.GPS.GPSLongitude: (105.0, 50.0, 28.428),
            ExifTags.GPS.GPSHPositioningError: 4.5,
        },
        details={
            ExifTags.Base.DateTimeOriginal: "2025:03:15 08:30:05",
            ExifTags.Base.OffsetTimeOriginal: "+07:00",
        },
    )
    table = read_one(data, "IMG_0001.JPG")
    assert table.crs == "EPSG:4326"
    assert table.problems == ()
    assert table.frame.index.tolist() == [1]
    assert table.frame.loc[1].to_dict() == {
        "_lon": "-105.84123",
        "_lat": "-21.00712",
        "_time": "2025-03-15T08:30:05+07:00",
        "_gps_accuracy": "4.5",
        "_photo_sha256": hashlib.sha256(data).hexdigest(),
    }  # and nothing else of the EXIF (camera, artist)


def test_photo_without_gps_is_kept_and_reported():
    table = read_one(
        _photo(details={ExifTags.Base.DateTimeOriginal: "2025:03:15 08:30:05"}), "a.jpg"
    )
    assert table.frame.loc[1, ["_lon", "_lat", "_time"]].tolist() == [
        None,
        None,
        "2025-03-15T08:30:05",
    ]
    assert [(p.row, p.reason) for p in table.problems] == [(1, "photo_without_gps")]


def test_photo_falls_back_to_gps_time_in_utc():
    data = _photo(
        gps={
            ExifTags.GPS.GPSLatitudeRef: "N",
            ExifTags.GPS.GPSLatitude: (21.0, 0.0, 0.0),
            ExifTags.GPS.GPSLongitudeRef: "E",
            ExifTags.GPS.GPSLongitude: (105.5, 0.0, 0.0),
            ExifTags.GPS.GPSDateStamp: "2025:03:15",
            ExifTags.GPS.GPSTimeStamp: (1.0, 30.0, 5.0),
        }
    )
    row = read_one(data, "b.jpg").frame.loc[1]
    assert row[["_lon", "_lat", "_time"]].tolist() == ["105.5", "21", "2025-03-15T01:30:05+00:00"]


def _declaring(data: bytes, width: int, height: int) -> bytes:
    start = data.index(b"\xff\xc0")
    return data[: start + 5] + struct.pack(">HH", height, width) + data[start + 9 :]


def test_jpeg_declaring_huge_dimensions_is_refused_from_its_header():
    before = Image.MAX_IMAGE_PIXELS
    bomb = _declaring(_photo(), 60_000, 60_000)
    assert "decompression bomb" in refused(bomb, "bomb.jpg")
    # above Pillow's own bomb limit, Pillow's refusal is an InputError too
    assert "not a readable JPEG" in refused(bomb, "bomb2.jpg", max_image_pixels=10**10)
    assert before == Image.MAX_IMAGE_PIXELS


def test_png_declaring_huge_dimensions_is_refused():
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    png = (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )
    assert "PNG image" in refused(png + b"\x00" * 64, "bomb.png")


# -- every file that is not ours ------------------------------------------------------------


def test_binary_file_named_csv_is_refused():
    noise = random.Random(0).randbytes(50_000)
    assert "binary" in refused(noise, "data.csv")


def test_cp1258_undecodable_bytes_are_refused():
    assert "not text" in refused(b"a;b\n\x81\x8a;\x8d\n" * 3, "x.csv")


def test_utf8_with_a_damaged_byte_is_refused_not_read_as_windows_1258():
    data = delimited([VI_HEADER, *VI_ROWS], ";").encode() + b"4;Bi\xe9n;;\r\n"
    assert "not UTF-8 on line 5" in refused(data, "hong.csv")


def test_nul_bytes_in_text_are_refused():
    assert "binary" in refused(b"a;b\n1;2\n" * 200 + b"\x00" + b"3;4\n" * 200, "nul.csv")


def test_two_megabyte_line_is_refused():
    message = refused(b"a;b\n" + b"x" * (2 * 2**20) + b"\n", "long.csv")
    assert "line 2 is 2,097,152 bytes long" in message


@pytest.mark.parametrize("data", [b"", b"  \r\n\t"])
def test_empty_file_is_refused(data):
    assert "empty" in refused(data, "empty.csv")


def test_header_only_csv_is_refused():
    assert "no rows of data" in refused(b"Loai;Ngay\n", "template.csv")


def test_unclosed_quote_is_refused_not_swallowed():
    content = 'a;b\n1;x\n2;"y\n3;z\n4;w\n'
    assert "never closed" in refused(content.encode(), "q.csv")


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), ".xls"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(100), "HEIC"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "web page"),
        (b'<?xml version="1.0"?><osm version="0.6"></osm>', "<osm>"),
        (b"[1, 2, 3]", "JSON list"),
    ],
)
def test_unsupported_formats_say_what_they_are(data, what):
    assert what in refused(data, "upload.bin")


def test_zip_without_workbook_or_kml_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("roads.shp", b"x")
    assert "shapefile" in refused(buffer.getvalue(), "roads.zip")


def test_limits_on_rows_bytes_and_time():
    content = delimited([VI_HEADER, *VI_ROWS * 5], ";").encode()
    assert "more than 10 rows" in refused(content, "rows.csv", max_rows=10)
    assert "MiB allowed" in refused(content, "size.csv", max_bytes=100)
    assert "longer than" in refused(content, "slow.csv", seconds=-1)
    assert "longer than" in refused(KML.encode(), "slow.kml", seconds=-1)


def test_read_path_checks_the_size_before_reading(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"a;b\n" * 1000)
    with pytest.raises(InputError, match=r"^big\.csv: it is 0\.0 MiB, more than"):
        read_path(path, limits=ReadLimits(max_bytes=100))


# -- format detection -----------------------------------------------------------------------


def test_content_decides_the_format_not_the_extension():
    assert sniff_format(GPX.encode(), name="walk.txt") == "gpx"
    assert sniff_format(KML.encode("utf-16"), name="a.xml") == "kml"
    assert sniff_format(b"Loai;Ngay\n", name="report.xlsx") == "csv"
    assert sniff_format(GEOJSON.encode(), name="a.txt") == "geojson"
    assert sniff_format(_photo(), name="photo.png") == "jpeg"
    assert read_one(b"Loai;Ngay\nx;1\n", "report.xlsx").frame.loc[2].tolist() == ["x", "1"]
