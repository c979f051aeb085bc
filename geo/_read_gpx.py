"""GPX (phone GPS apps): waypoints and route points as records, track points as patrol tracks.

The GPX is streamed with :mod:`geo._xmlsafe` rather than read with gpxpy: gpxpy turns a time
it cannot parse into ``None`` without a word and fails a whole file on one bad number, while
an upload must keep every value as written so that the row can be quarantined with its reason.
GPX 1.0 and 1.1 use the same element names for everything read here.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from geo._read_base import RawTable, Reading, frame, text
from geo._xmlsafe import local_name, walk

__all__ = ["read_gpx"]

_FIX = "Export the track again from the GPS app as GPX 1.1"
_RECORD_COLUMNS = ("name", "desc", "cmt", "type", "_lon", "_lat", "_time", "_ele", "_hdop")
_TRACK_COLUMNS = ("_track", "_segment", "_lon", "_lat", "_time", "_ele", "_hdop")
_POINT_FIELDS = {"name": "name", "desc": "desc", "cmt": "cmt", "type": "type", "time": "_time",
                 "ele": "_ele", "hdop": "_hdop"}  # fmt: skip
#: Elements read whole, with their subtree (see :func:`geo._xmlsafe.walk`).
_POINTS = frozenset({"wpt", "rtept", "trkpt"})


def read_gpx(data: bytes, reading: Reading) -> list[RawTable]:
    """Waypoints and route points (layer ``records``) and track points (layer ``tracks``)."""
    records: list[dict[str, str | None]] = []
    points: list[dict[str, str | None]] = []
    tracks = segments = 0
    track_name: str | None = None
    events = walk(data, reading, kind="GPX", fix=_FIX, records=_POINTS)
    for event, tag, element, ancestors, _ in events:
        if event == "start":
            if not ancestors and tag != "gpx":
                raise reading.error(f"its root element is <{tag}>, not <gpx>", _FIX)
            if tag == "trk":
                tracks, segments, track_name = tracks + 1, 0, None
            elif tag == "trkseg":
                segments += 1
            continue
        if tag == "name" and ancestors[-1:] == ["trk"]:
            track_name = text(element.text)
            continue
        if tag in ("wpt", "rtept"):
            reading.check_rows(len(records) + 1)
            records.append(_point(element))
        elif tag == "trkpt":
            reading.check_rows(len(points) + 1)
            point = _point(element)
            point["_track"] = track_name or f"track {tracks}"
            point["_segment"] = str(max(segments, 1))
            points.append(point)
    tables = []
    if records:
        table = frame(records, range(1, len(records) + 1), columns=_RECORD_COLUMNS)
        tables.append(
            RawTable(reading.name, "records", table[list(_RECORD_COLUMNS)], crs="EPSG:4326")
        )
    if points:
        table = frame(points, range(1, len(points) + 1), columns=_TRACK_COLUMNS)
        tables.append(
            RawTable(
                f"{reading.name}:tracks", "tracks", table[list(_TRACK_COLUMNS)], crs="EPSG:4326"
            )
        )
    if not tables:
        raise reading.error("it has no waypoints, routes or track points", _FIX)
    return tables


def _point(element: Element) -> dict[str, str | None]:
    point: dict[str, str | None] = {
        "_lon": text(element.get("lon")),
        "_lat": text(element.get("lat")),
    }
    for child in element:
        column = _POINT_FIELDS.get(local_name(child.tag))
        if column is not None:
            point[column] = text("".join(child.itertext()))
    return point
