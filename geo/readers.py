"""Reading uploaded files into raw text tables, safe against hostile input.

Staff upload what they have: CSV (UTF-8, UTF-16 or Windows-1258; comma, semicolon or tab),
Excel ``.xlsx``, GeoJSON, KML/KMZ, GPX and JPEG photos with GPS. :func:`read_upload` detects
the format from the content (the file name only words the messages) and returns the file's
tables as text, with the row numbers the user sees; mapping columns and parsing values is the
job of :mod:`geo.columns` and :mod:`geo.values`.

Every read is bounded (:class:`ReadLimits`): size, rows, line length, zip content and ratio,
image pixels and time. XML with a DTD is refused (entity bombs, external entities), zip
content is checked before it is inflated, and a photo's size is read from its header before
anything is decoded. A file that cannot be read gives one :class:`~geo.errors.InputError`
naming the file, what is wrong and what to do; rows that are only partly readable are kept
and reported in :attr:`RawTable.problems`. The file's name is the uploader's word, never a
path: :func:`upload_name` makes it safe to store and show.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Literal

from geo._read_base import RawTable, Reading, ReadLimits
from geo._read_csv import read_csv
from geo._read_geojson import read_geojson
from geo._read_gpx import read_gpx
from geo._read_kml import read_kml, read_kmz
from geo._read_photo import read_photo
from geo._read_xlsx import read_xlsx

__all__ = [
    "DEFAULT_LIMITS",
    "Format",
    "RawTable",
    "ReadLimits",
    "file_bytes",
    "read_path",
    "read_upload",
    "sniff_format",
    "upload_name",
]

logger = logging.getLogger(__name__)

Format = Literal["csv", "xlsx", "geojson", "kml", "kmz", "gpx", "jpeg"]

DEFAULT_LIMITS = ReadLimits()

_READERS: dict[str, Callable[[bytes, Reading], list[RawTable]]] = {
    "csv": read_csv,
    "xlsx": read_xlsx,
    "geojson": read_geojson,
    "kml": read_kml,
    "kmz": read_kmz,
    "gpx": read_gpx,
    "jpeg": read_photo,
}

_PHOTO_FIX = "Upload the original JPEG photo from the phone"
_ARCHIVE_FIX = "Unpack it and upload the file inside"
_TABLE_FIX = "Save the table as .xlsx or 'CSV UTF-8' and upload that"
#: (magic bytes, what the file is, what to do) for files that are recognisably not ours.
_UNSUPPORTED: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF", "a PDF document", "Export the table from the program that made it as .xlsx or CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls or a password-protected Office file",
     "Open it in Excel, remove any password and save it as .xlsx"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image, which carries no GPS position", _PHOTO_FIX),
    (b"GIF8", "a GIF image, which carries no GPS position", _PHOTO_FIX),
    (b"II*\x00", "a TIFF image", _PHOTO_FIX),
    (b"MM\x00*", "a TIFF image", _PHOTO_FIX),
    (b"RIFF", "a RIFF (WebP, AVI or WAV) file", _PHOTO_FIX),
    (b"\x1f\x8b", "a gzip archive", _ARCHIVE_FIX),
    (b"Rar!", "a RAR archive", _ARCHIVE_FIX),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", _ARCHIVE_FIX),
    (b"SQLite format 3\x00", "an SQLite database or GeoPackage",
     "Export the layer as GeoJSON or CSV (e.g. with QGIS)"),
    (b"\x7fELF", "a program", _TABLE_FIX),
    (b"MZ\x90\x00", "a Windows program", _TABLE_FIX),
)  # fmt: skip
_HEIF = (b"ftypheic", b"ftypheix", b"ftyphevc", b"ftypmif1", b"ftypmsf1", b"ftypavif")
_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_TEXT_CONTROLS = frozenset(b"\t\n\x0c\r\x1a")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_DOCTYPE = re.compile(r"<!DOCTYPE[^\[>]*(?:\[.*?\])?\s*>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<([A-Za-z_][\w.:-]*)")
_PATH_SEPARATORS = re.compile(r"[/\\]")
#: Control, format (bidirectional overrides that disguise an extension), line and paragraph
#: separator, surrogate and private-use characters: nothing a file name needs.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
_MAX_NAME_CHARS = 200


def read_upload(data: bytes, *, name: str, limits: ReadLimits = DEFAULT_LIMITS) -> list[RawTable]:
    """The tables of an uploaded file, as text, with the row numbers the user sees.

    Parameters
    ----------
    data
        The file's bytes.
    name
        The file's name, used in messages (and as the tables' names) as
        :func:`upload_name` makes it; never opened.
    limits
        Bounds on size, rows, zip content, image size and time.

    Returns
    -------
    list of RawTable
        One table for most files; one per visible sheet with data for a workbook; a
        ``records`` and a ``tracks`` table for a GPX file with both.

    Raises
    ------
    InputError
        When the file is empty, too big, of an unsupported or damaged format, hostile (zip or
        XML bomb, external entities), or slower to read than ``limits.seconds``.

    Examples
    --------
    >>> data = "Vĩ độ;Kinh độ;Ngày\\n21,0285;105,8542;15/03/2025\\n".encode()
    >>> [table] = read_upload(data, name="a.csv")
    >>> table.frame.loc[2].tolist()
    ['21,0285', '105,8542', '15/03/2025']
    """
    reading = Reading(upload_name(name), limits)
    reading.check_size(len(data))
    kind = sniff_format(data, name=reading.name)
    tables = _READERS[kind](data, reading)
    reading.check_time()
    for table in tables:
        logger.info(
            "%s: read %d rows × %d columns as %s (%s)",
            table.name, len(table.frame), table.frame.shape[1], kind, table.layer,
        )  # fmt: skip
    return tables


def read_path(path: Path, *, limits: ReadLimits = DEFAULT_LIMITS) -> list[RawTable]:
    """:func:`read_upload` on a file on disk, whose size is checked before it is read."""
    return read_upload(file_bytes(path, limits=limits), name=path.name, limits=limits)


def file_bytes(path: Path, *, limits: ReadLimits = DEFAULT_LIMITS) -> bytes:
    """The bytes of a file on disk to upload; a file over ``limits.max_bytes`` is never read.

    Raises :class:`~geo.errors.InputError` when the file is too big or cannot be read.
    """
    reading = Reading(upload_name(path.name), limits)
    try:
        reading.check_size(path.stat().st_size)
        return path.read_bytes()
    except OSError as exc:
        raise reading.error(f"it cannot be read ({exc.strerror or exc})", "Check the path") from exc


def upload_name(name: str) -> str:
    """An uploaded file's name made safe to store, log and show; never used as a path.

    A browser sends only the name, but a client can send anything: only the last part after
    ``/`` or ``\\`` is kept, characters that break lines or disguise text (NUL, newlines,
    right-to-left overrides) become ``_``, and a name past 200 characters is cut in the
    middle, keeping its extension.

    Examples
    --------
    >>> upload_name("../../etc/passwd.csv"), upload_name("C:\\\\Windows\\\\x.csv")
    ('passwd.csv', 'x.csv')
    >>> upload_name("a\\x00b\\nc.csv"), upload_name("hồ sơ.xlsx"), upload_name("..")
    ('a_b_c.csv', 'hồ sơ.xlsx', 'upload')
    """
    last = _PATH_SEPARATORS.split(unicodedata.normalize("NFC", name))[-1]
    safe = "".join("_" if unicodedata.category(c) in _UNSAFE_CATEGORIES else c for c in last)
    safe = safe.strip()
    if not safe.strip("."):
        return "upload"
    if len(safe) > _MAX_NAME_CHARS:
        safe = f"{safe[:150]}…{safe[-(_MAX_NAME_CHARS - 151) :]}"
    return safe


def sniff_format(data: bytes, *, name: str) -> Format:
    """The format of a file, from its content; the name's extension only words the messages.

    Raises :class:`~geo.errors.InputError` for an empty, binary or unsupported file.

    Examples
    --------
    >>> sniff_format(b'<?xml version="1.0"?><gpx version="1.1"></gpx>', name="walk.txt")
    'gpx'
    >>> sniff_format(b"\\xef\\xbb\\xbfLo\\xe1\\xba\\xa1i;Ng\\xc3\\xa0y\\n", name="a.csv")
    'csv'
    """
    reading = Reading(name, DEFAULT_LIMITS)
    if not data or data.isspace():  # not strip(): that would copy a huge file
        raise reading.error("the file is empty", "Check that the right file was chosen")
    for magic, what, fix in _UNSUPPORTED:
        if data.startswith(magic):
            raise reading.error(f"it is {what}, not a table, track or JPEG photo", fix)
    if data[4:12] in _HEIF:
        raise reading.error(
            "it is a HEIC/HEIF photo",
            "Set the iPhone camera to 'Most Compatible' (Settings > Camera > Formats) or send "
            "the photo as JPEG, and upload that",
        )
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(_ZIP):
        return _zip_format(data, reading)
    return _text_format(data[:65_536], reading)


def _zip_format(data: bytes, reading: Reading) -> Format:
    extension = PurePath(reading.name).suffix.lower()
    kind = {".xlsx": "Excel workbook", ".kmz": "KMZ file"}.get(extension, "zip archive")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise reading.error(
            f"it is a damaged or truncated {kind}",
            "Upload it again, or open it and save it again",
        ) from exc
    lower = [n.lower() for n in names]
    if "xl/workbook.xml" in lower:
        return "xlsx"
    if any(n.endswith(".kml") for n in lower):
        return "kmz"
    if "content.xml" in lower and "mimetype" in lower:
        raise reading.error("it is an OpenDocument (LibreOffice) file", _TABLE_FIX)
    if "word/document.xml" in lower:
        raise reading.error("it is a Word document, not a table", _TABLE_FIX)
    if any(n.endswith(".shp") for n in lower):
        raise reading.error(
            "it is a zipped shapefile", "Export the layer as GeoJSON or KML (e.g. with QGIS)"
        )
    raise reading.error(f"it is a {kind} without an Excel workbook or KML inside", _ARCHIVE_FIX)


def _text_format(head: bytes, reading: Reading) -> Format:
    if head.startswith(_UTF16_BOMS):
        sample = head[2 : len(head) // 2 * 2].decode(
            "utf-16-le" if head.startswith(b"\xff\xfe") else "utf-16-be", errors="ignore"
        )
    elif _mostly_utf16(head):
        sample = head.decode("utf-16-le" if head[1] == 0 else "utf-16-be", errors="ignore")
    else:
        controls = sum(1 for b in head if b < 32 and b not in _TEXT_CONTROLS)
        if b"\x00" in head or controls > max(8, len(head) // 100):
            raise reading.error("it is a binary file, not text, a workbook or a photo", _TABLE_FIX)
        sample = head.decode("utf-8", errors="ignore")
    sample = sample.lstrip("\ufeff \t\r\n")
    if sample.startswith("{"):
        return "geojson"
    if sample.startswith("["):
        raise reading.error("it is a JSON list, not GeoJSON", "Export the layer as GeoJSON")
    if sample.startswith("<"):
        return _xml_format(sample, reading)
    return "csv"


def _mostly_utf16(head: bytes) -> bool:
    pairs = head[: len(head) // 2 * 2]
    return len(pairs) >= 16 and (
        pairs[1::2].count(0) > 0.4 * len(pairs) / 2 or pairs[0::2].count(0) > 0.4 * len(pairs) / 2
    )


def _xml_format(sample: str, reading: Reading) -> Format:
    body = _DOCTYPE.sub("", _COMMENT.sub("", sample))
    match = _TAG.search(body)
    root = match.group(1).rpartition(":")[2].lower() if match else ""
    if root in ("kml", "gpx"):
        return "kml" if root == "kml" else "gpx"
    if root == "html":
        raise reading.error("it is a web page, not data", _TABLE_FIX)
    raise reading.error(
        f"it is XML with the root <{root or '?'}>, neither KML nor GPX",
        "Export the points as KML (Google Earth), GPX (GPS app) or CSV",
    )
