"""KML and KMZ (Google Earth, My Maps): one row per placemark, its data as columns."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from geo._read_base import RawTable, Reading, frame, text
from geo._xmlsafe import local_name, walk
from geo._zipsafe import open_zip, read_member
from geo.problems import RowProblem

__all__ = ["read_kml", "read_kmz"]

_FIX = "Export it again from Google Earth or Google My Maps (File > Save Place As... > KML)"
_GEOMETRIES = frozenset(
    {"Point", "LineString", "LinearRing", "Polygon", "MultiGeometry", "Model", "Track",
     "MultiTrack"}
)  # fmt: skip
_FIRST = ("name", "description", "address")
_LAST = ("_folder", "_lon", "_lat", "_time", "_time_end", "_geometry_type")
#: Columns kept only when some placemark has them.
_OPTIONAL = frozenset({"_folder", "_time_end"})
#: Elements read whole, with their subtree (see :func:`geo._xmlsafe.walk`).
_RECORDS = frozenset({"Placemark"})


def read_kml(data: bytes, reading: Reading) -> list[RawTable]:
    """The placemarks of a KML document (see :func:`geo.readers.read_upload`)."""
    rows: list[dict[str, str | None]] = []
    problems: list[RowProblem] = []
    folders: list[str | None] = []
    root_seen = False
    events = walk(data, reading, kind="KML", fix=_FIX, records=_RECORDS)
    for event, tag, element, ancestors, _ in events:
        if event == "start":
            if not root_seen and tag != "kml":
                raise reading.error(f"its root element is <{tag}>, not <kml>", _FIX)
            root_seen = True
            if tag == "Folder":
                folders.append(None)
            continue
        if tag == "name" and ancestors[-1:] == ["Folder"]:
            folders[-1] = text(element.text)
        elif tag == "Folder":
            folders.pop()
        elif tag == "Placemark":
            number = len(rows) + 1
            reading.check_rows(number)
            rows.append(_placemark(element, number, problems))
            rows[-1]["_folder"] = next((f for f in reversed(folders) if f), None)
    if not rows:
        raise reading.error(
            "it has no placemarks", "Check that the points were saved into the file"
        )
    first = [c for c in _FIRST if any(c in r for r in rows)]
    data_keys = dict.fromkeys(k for r in rows for k in r if k not in _FIRST and k not in _LAST)
    last = [c for c in _LAST if c not in _OPTIONAL or any(r.get(c) for r in rows)]
    reading.check_columns(len(first) + len(data_keys) + len(last))
    table = frame(rows, range(1, len(rows) + 1), columns=[*first, *data_keys, *last])
    return [
        RawTable(
            name=reading.name,
            layer="records",
            frame=table[[*first, *data_keys, *last]],
            crs="EPSG:4326",
            problems=tuple(problems),
        )
    ]


def read_kmz(data: bytes, reading: Reading) -> list[RawTable]:
    """The placemarks of the main KML document inside a KMZ archive."""
    fix = "Save it again from Google Earth as KMZ, or save it as KML"
    archive = open_zip(data, reading, kind="KMZ file", fix=fix)
    with archive:
        names = [n for n in archive.namelist() if n.lower().endswith(".kml")]
        if not names:
            raise reading.error("the KMZ file holds no .kml document", fix)
        main = "doc.kml" if "doc.kml" in names else names[0]
        reading.check_size(archive.getinfo(main).file_size, what=f"the KML {main!r} inside")
        document = read_member(archive, main, reading, fix=fix)
    return read_kml(document, reading)


def _placemark(element: Element, number: int, problems: list[RowProblem]) -> dict[str, str | None]:
    row: dict[str, str | None] = {}
    geometry: Element | None = None
    for child in element:
        tag = local_name(child.tag)
        if tag in _FIRST:
            row[tag] = text("".join(child.itertext()))
        elif tag == "ExtendedData":
            _extended_data(child, row)
        elif tag == "TimeStamp":
            row["_time"] = _child_text(child, "when")
        elif tag == "TimeSpan":
            row["_time"] = _child_text(child, "begin")
            row["_time_end"] = _child_text(child, "end")
        elif tag in _GEOMETRIES and geometry is None:
            geometry = child
    row["_lon"] = row["_lat"] = row["_geometry_type"] = None
    if geometry is None:
        return row
    kind = local_name(geometry.tag)
    if kind != "Point":
        row["_geometry_type"] = kind
        return row
    coordinates = (_child_text(geometry, "coordinates") or "").split()
    parts = [p.strip() for p in coordinates[0].split(",")] if coordinates else []
    if len(coordinates) != 1 or len(parts) < 2:
        problems.append(
            RowProblem(
                number,
                "coordinates",
                "bad_geometry",
                f"Placemark {number}: the point's <coordinates> should be 'longitude,latitude' "
                f"(got {' '.join(coordinates)[:80]!r}); fix the point in Google Earth.",
            )
        )
        return row
    row["_lon"], row["_lat"] = text(parts[0]), text(parts[1])
    return row


def _extended_data(element: Element, row: dict[str, str | None]) -> None:
    for item in element.iter():
        tag = local_name(item.tag)
        if tag == "Data":
            value = _child_text(item, "value")
        elif tag == "SimpleData":
            value = text(item.text)
        else:
            continue
        key = text(item.get("name")) or "data"
        name, k = key, 1
        while name in row:  # a field named like a placemark element keeps both values
            k += 1
            name = f"{key} ({k})"
        row[name] = value


def _child_text(element: Element, tag: str) -> str | None:
    for child in element:
        if local_name(child.tag) == tag:
            return text("".join(child.itertext()))
    return None
