"""GeoJSON (QGIS, web maps): one row per feature, its properties as columns.

Numbers are kept as written in the file (``parse_float``/``parse_int`` hooks), so that a
coordinate or an amount reaches the value parsers without a float round trip.
"""

from __future__ import annotations

import json
import re
from typing import Any

from geo._read_base import RawTable, Reading, frame, text
from geo.problems import RowProblem

__all__ = ["read_geojson"]

_FIX = "Export the layer again as GeoJSON (UTF-8), e.g. from QGIS"
_LAST = ("_lon", "_lat", "_geometry_type")
_EPSG = re.compile(r"EPSG[:/]+(?:[\d.]*[:/]+)?(\d+)$", re.IGNORECASE)
_CRS84 = re.compile(r"CRS:?84$", re.IGNORECASE)


class _Number(str):
    """A JSON number, as the text the file wrote it with."""

    __slots__ = ()


def read_geojson(data: bytes, reading: Reading) -> list[RawTable]:
    """The features of a GeoJSON FeatureCollection or Feature, as rows from 1."""
    document = _load(data, reading)
    features = _features(document, reading)
    reading.check_rows(len(features))
    rows: list[dict[str, str | None]] = []
    problems: list[RowProblem] = []
    try:
        for number, feature in enumerate(features, start=1):
            if number % 10_000 == 0:
                reading.check_time()
            rows.append(_feature(feature, number, problems))
    except RecursionError as exc:
        raise reading.error("its properties are nested too deeply", _FIX) from exc
    if not rows:
        raise reading.error(
            "it has no features", "Check that the layer was exported with its features"
        )
    properties = dict.fromkeys(k for row in rows for k in row if k not in _LAST)
    reading.check_columns(len(properties))
    columns = [*properties, *_LAST]
    table = frame(rows, range(1, len(rows) + 1), columns=columns)
    return [
        RawTable(
            name=reading.name,
            layer="records",
            frame=table[columns],
            crs=_crs(document.get("crs")),
            problems=tuple(problems),
        )
    ]


def _load(data: bytes, reading: Reading) -> dict[str, Any]:
    try:
        document = json.loads(data.decode("utf-8-sig"), parse_float=_Number, parse_int=_Number)
    except UnicodeDecodeError as exc:
        raise reading.error(f"it is not UTF-8 text (byte {exc.start})", _FIX) from exc
    except RecursionError as exc:
        raise reading.error("its JSON is nested too deeply to be GeoJSON", _FIX) from exc
    except json.JSONDecodeError as exc:
        raise reading.error(
            f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "it may be truncated",
            _FIX,
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("type"), str):
        raise reading.error('it is JSON but not GeoJSON (no "type" member at the top)', _FIX)
    return document


def _features(document: dict[str, Any], reading: Reading) -> list[Any]:
    kind = document["type"]
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise reading.error('its FeatureCollection has no "features" list', _FIX)
        return features
    if kind == "Feature":
        return [document]
    if kind in ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                "MultiPolygon", "GeometryCollection"):  # fmt: skip
        return [{"type": "Feature", "geometry": document, "properties": {}}]
    raise reading.error(f"its GeoJSON type is {kind!r}, not a FeatureCollection", _FIX)


def _feature(feature: Any, number: int, problems: list[RowProblem]) -> dict[str, str | None]:
    if not isinstance(feature, dict):
        feature = {}
    properties = feature.get("properties")
    row = {str(k): _value(v) for k, v in properties.items()} if isinstance(properties, dict) else {}
    if "id" in feature and "_feature_id" not in row:
        row["_feature_id"] = _value(feature["id"])
    row["_lon"] = row["_lat"] = row["_geometry_type"] = None
    geometry = feature.get("geometry")
    if geometry is None:
        return row
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind != "Point":
        row["_geometry_type"] = str(kind) if kind is not None else "invalid"
        return row
    position = geometry.get("coordinates")
    if (
        not isinstance(position, list)
        or len(position) not in (2, 3, 4)
        or not all(isinstance(c, _Number) for c in position)
    ):
        problems.append(
            RowProblem(
                number,
                "geometry",
                "bad_geometry",
                f"Feature {number}: a Point needs coordinates [longitude, latitude] "
                f"(got {json.dumps(_plain(position))[:80]}); fix the feature and export again.",
            )
        )
        return row
    row["_lon"], row["_lat"] = str(position[0]), str(position[1])
    return row


def _value(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # strings and _Number
        return text(str(value))
    return json.dumps(_plain(value), ensure_ascii=False)


def _plain(value: Any) -> Any:
    """``value`` with its numbers back as numbers, for JSON-encoding a nested property."""
    if isinstance(value, _Number):
        return json.loads(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _crs(member: Any) -> str | None:
    """The CRS an old-style ``"crs"`` member names (RFC 7946 files have none).

    Examples
    --------
    >>> _crs({"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::5897"}})
    'EPSG:5897'
    >>> _crs({"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}})
    'EPSG:4326'
    """
    if not isinstance(member, dict) or not isinstance(member.get("properties"), dict):
        return None
    name = member["properties"].get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    name = name.strip()
    if _CRS84.search(name):
        return "EPSG:4326"
    match = _EPSG.search(name)
    return f"EPSG:{match.group(1)}" if match else name
