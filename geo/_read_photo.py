"""JPEG photos from phones: one draft record at the photo's GPS position and time.

Only the position, the time and the GPS accuracy are read from the EXIF data; nothing else
(camera, owner, thumbnail) is kept, and no pixel is decoded. The photo is identified by the
SHA-256 of its bytes. Its declared size is checked from the JPEG header first, so that a
"decompression bomb" is refused without touching Pillow's global ``MAX_IMAGE_PIXELS``.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from PIL import ExifTags, Image

from geo._read_base import RawTable, Reading, frame, text
from geo.problems import RowProblem

__all__ = ["read_photo"]

logger = logging.getLogger(__name__)

_FIX = "Upload the original photo from the phone (JPEG)"
#: Start-of-frame markers, which carry the image size (C4, C8 and CC are other segments).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")
_GPS = ExifTags.GPS


def read_photo(data: bytes, reading: Reading) -> list[RawTable]:
    """One row (index 1): ``_lon``, ``_lat``, ``_time``, ``_gps_accuracy``, ``_photo_sha256``."""
    size = _declared_size(data)
    if size is None:
        raise reading.error("it is not a readable JPEG photo: its header is damaged", _FIX)
    width, height = size
    if width * height > reading.limits.max_image_pixels:
        raise reading.error(
            f"the photo declares {width:,} × {height:,} pixels, more than the "
            f"{reading.limits.max_image_pixels:,} allowed (a decompression bomb?)",
            _FIX,
        )
    gps, details = _exif(data, reading)
    lon = _degrees(gps.get(_GPS.GPSLongitude), gps.get(_GPS.GPSLongitudeRef), negative="W")
    lat = _degrees(gps.get(_GPS.GPSLatitude), gps.get(_GPS.GPSLatitudeRef), negative="S")
    row = {
        "_lon": lon,
        "_lat": lat,
        "_time": _time(details, gps),
        "_gps_accuracy": _number(gps.get(_GPS.GPSHPositioningError)),
        "_photo_sha256": hashlib.sha256(data).hexdigest(),
    }
    problems: tuple[RowProblem, ...] = ()
    if lon is None or lat is None:
        problems = (
            RowProblem(
                1,
                None,
                "photo_without_gps",
                "The photo has no GPS position: place the record on the map by hand, or turn "
                "on location for the camera app and take the photo again.",
            ),
        )
    table = frame([row], [1], columns=list(row))
    return [RawTable(reading.name, "records", table, crs="EPSG:4326", problems=problems)]


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first start-of-frame segment, without decoding anything."""
    i, end = 2, len(data)
    while i + 4 <= end:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # segments without a length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            return None
        if marker in _SOF and i + 9 <= end:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def _exif(data: bytes, reading: Reading) -> tuple[Mapping[int, Any], Mapping[int, Any]]:
    """The GPS and Exif sub-directories (empty when the photo has none)."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            exif = image.getexif()
            return exif.get_ifd(ExifTags.IFD.GPSInfo), exif.get_ifd(ExifTags.IFD.Exif)
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise reading.error(f"it is not a readable JPEG photo ({exc})", _FIX) from exc
    except Exception as exc:
        logger.warning(
            "%s: unreadable EXIF data (%s); reading the photo without it", reading.name, exc
        )
        return {}, {}


def _degrees(value: Any, ref: Any, *, negative: str) -> str | None:
    """Decimal degrees as text from EXIF (degrees, minutes, seconds) rationals."""
    try:
        parts = [float(v) for v in value] if isinstance(value, tuple | list) else [float(value)]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not 1 <= len(parts) <= 3:
        return None
    degrees = sum(p / 60**k for k, p in enumerate(parts))
    if not math.isfinite(degrees):
        return None
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    if isinstance(ref, str) and ref.strip("\x00 ").upper() == negative:
        degrees = -degrees
    return f"{degrees:.7f}".rstrip("0").rstrip(".")


def _number(value: Any) -> str | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return f"{number:g}" if math.isfinite(number) else None


def _time(details: Mapping[int, Any], gps: Mapping[int, Any]) -> str | None:
    """ISO text of the time taken (with its offset when recorded), else the GPS time in UTC."""
    original = _ascii(details.get(ExifTags.Base.DateTimeOriginal))
    if original is not None:
        match = _EXIF_TIME.fullmatch(original)
        if match is None:
            return original  # kept as written: the value check reports it
        y, mo, d, h, mi, s = match.groups()
        offset = _ascii(details.get(ExifTags.Base.OffsetTimeOriginal)) or ""
        return f"{y}-{mo}-{d}T{h}:{mi}:{s}{offset if _OFFSET.fullmatch(offset) else ''}"
    stamp = _ascii(gps.get(_GPS.GPSDateStamp))
    clock = gps.get(_GPS.GPSTimeStamp)
    match = _EXIF_TIME.fullmatch(f"{stamp} 00:00:00") if stamp else None
    if match is None or not isinstance(clock, tuple) or len(clock) != 3:
        return None
    try:
        h, mi, s = (float(v) for v in clock)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not all(math.isfinite(v) for v in (h, mi, s)):
        return None
    y, mo, d = match.groups()[:3]
    return f"{y}-{mo}-{d}T{int(h):02d}:{int(mi):02d}:{int(s):02d}+00:00"


def _ascii(value: Any) -> str | None:
    """EXIF text; an unset camera clock (blanks or zeros) counts as missing."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    value = text(value.strip("\x00"))
    return value if value and value.strip(" :0") else None
