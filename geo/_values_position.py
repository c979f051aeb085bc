"""Reading position cells as points in EPSG:4326 (part of :mod:`geo.values`).

Latitude and longitude come as decimal degrees or degrees-minutes-seconds, in two columns or
one (:func:`parse_geolocation` splits it); swapped columns are recognised and flagged.
Projected metres with a declared CRS are read in :mod:`geo._values_crs`.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geo._values_base import _column_name, _matches, _present, _replace, _text
from geo._values_crs import (
    _check_crs,
    _crs_label,
    _near,
    _needs_crs_hint,
    _projected,
    _transform,
    _ward_4326,
)
from geo._values_numbers import _numbers
from geo.config import STORAGE_CRS
from geo.errors import InputError
from geo.problems import RowProblem

__all__ = ["parse_coordinates", "parse_geolocation"]

_DMS = (
    r"^(?P<h1>[nsewbđt])?\s*(?P<sign>[-+])?\s*(?P<d>\d{1,3}(?:\.\d+)?)(?:\s*°\s*|\s+)?"
    r"(?:(?P<m>\d{1,2}(?:\.\d+)?)(?:\s*'\s*|\s+)?(?:(?P<s>\d{1,2}(?:\.\d+)?)\s*\"?)?)?"
    r"\s*(?P<h2>[nsewbđt])?\.?$"
)
_SYMBOLS: tuple[tuple[str, str], ...] = (
    ("[º˚°]", "°"),
    ("[″”“]|''|′′|’’", '"'),
    ("[′’‘´`]", "'"),
    (",", "."),
)
# ODK geopoints add altitude and accuracy after the pair, separated by spaces.
_GEO_DOT = (
    r"^[\[(]?\s*(?P<lat>[-+]?\d+(?:\.\d+)?)\s*(?:[,;]\s*|\s+)(?P<lon>[-+]?\d+(?:\.\d+)?)"
    r"(?:\s+[-+]?\d+(?:\.\d+)?(?:\s+(?P<acc>\d+(?:\.\d+)?))?)?\s*[\])]?$"
)
_GEO_COMMA = (
    r"^[\[(]?\s*(?P<lat>[-+]?\d+(?:,\d+)?)\s*(?:;\s*|\s+)(?P<lon>[-+]?\d+(?:,\d+)?)"
    r"(?:\s+[-+]?\d+(?:,\d+)?(?:\s+(?P<acc>\d+(?:,\d+)?))?)?\s*[\])]?$"
)
_GEO_LETTERS = r"^[\[(]?\s*(?P<lat>[^,;]*?[nsewbđtNSEWBĐT]\.?)\s*[,;]?\s+(?P<lon>.*?)\s*[\])]?$"
_LAT_AXIS, _LON_AXIS = 1, 2


def parse_geolocation(values: pd.Series) -> pd.DataFrame:
    """Split one-column positions into ``lat``, ``lon`` (and ``accuracy``) text columns.

    Reads KoboToolbox ``_geolocation`` (``[21.01, 105.83]``), ODK geopoints
    (``21.01 105.83 12.5 5`` = lat lon altitude accuracy), ``21.01,105.83``, ``21,01;105,83``
    and DMS pairs (``21°00'44"N 105°50'12"E``). A cell that cannot be split goes whole into
    both columns, so that :func:`parse_coordinates` reports it.

    Examples
    --------
    >>> split = parse_geolocation(pd.Series(["[21.01, 105.83]", "21.01 105.83 12 5", None]))
    >>> split.to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'lat': ['21.01', '21.01', None], 'lon': ['105.83', '105.83', None],
     'accuracy': [None, '5', None]}
    """
    text = _text(values)
    lat = np.full(len(values), None, dtype=object)
    lon = lat.copy()
    acc = lat.copy()
    left = _present(text)
    for pattern in (_GEO_COMMA, _GEO_DOT, _GEO_LETTERS):
        rows = left & _matches(text, pattern)
        if not rows.any():
            continue
        parts = pc.extract_regex(text.filter(pa.array(rows)), pattern)
        lat[rows] = parts.field("lat").to_numpy(zero_copy_only=False)
        lon[rows] = parts.field("lon").to_numpy(zero_copy_only=False)
        if pattern != _GEO_LETTERS:
            got = np.asarray(parts.field("acc").to_numpy(zero_copy_only=False), dtype=object)
            got[got == ""] = None
            acc[rows] = got
        left &= ~rows
    whole = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    lat[left], lon[left] = whole[left], whole[left]
    frame = pd.DataFrame({"lat": lat, "lon": lon, "accuracy": acc}, index=values.index)
    return frame.astype(object).where(frame.notna(), None)


def parse_coordinates(
    lat: pd.Series,
    lon: pd.Series,
    *,
    lat_column: str | None = None,
    lon_column: str | None = None,
    crs: str | int | CRS | None = None,
    ward: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None = None,
) -> tuple[gpd.GeoSeries, list[RowProblem]]:
    """Read latitude/longitude (or northing/easting) cells as points in EPSG:4326.

    Cells may hold decimal degrees (``21.0123``, ``21,0123``), degrees-minutes-seconds
    (``21°00'44.3"N``, ``21 0 44.3 N``, ``105°50′12″E``; hemisphere letters N/S/E/W, or B/Đ/T
    for Bắc/Đông/Tây) or, with ``crs``, projected metres (``lat`` the northing, ``lon`` the
    easting; VN-2000 sheets that call the northing "X" are recognised as swapped).

    Parameters
    ----------
    lat, lon
        Raw text cells, indexed by the row numbers the user sees.
    lat_column, lon_column
        The file's column names, for the problems (default: the series' names).
    crs
        The CRS of the values when they are not WGS84 degrees (``--crs``), e.g.
        ``"EPSG:5897"`` (VN-2000 / TM-3, Hà Nội) or ``"EPSG:3405"`` (VN-2000 / UTM 48N).
    ward
        Where the records should be (EPSG:4326 or any CRS set): used to recognise swapped
        columns, to check a declared projected ``crs`` and to suggest one.

    Returns
    -------
    (geopandas.GeoSeries, list of RowProblem)
        Points in EPSG:4326 (``None`` where refused) and problems: reject ``no_position``,
        ``bad_coordinates``, ``zero_coordinates``, ``needs_crs``; flag ``swapped_lat_lon``
        where latitude and longitude were swapped and that could be told for sure (a value
        out of range, hemisphere letters, or only the swapped reading lies within 5 km of
        the ward).

    Raises
    ------
    InputError
        When ``crs`` is unknown, or projected while the values are all degrees.
    CRSMismatchError
        When ``crs`` and ``ward`` are given and another VN-2000 CRS fits the points better
        (or none fits); the message names the likely right CRS.

    Examples
    --------
    >>> rows = [2, 3, 4]
    >>> pts, probs = parse_coordinates(pd.Series(["21,0123", "105.83", "0"], index=rows),
    ...                                pd.Series(["105°50'12\\"E", "21.01", "0"], index=rows))
    >>> [(round(p.x, 4), round(p.y, 4)) for p in pts[:2]]
    [(105.8367, 21.0123), (105.83, 21.01)]
    >>> [(p.row, p.reason) for p in probs]
    [(3, 'swapped_lat_lon'), (4, 'zero_coordinates')]
    """
    lat_column = _column_name(lat, lat_column)
    lon_column = _column_name(lon, lon_column)
    if len(lat) != len(lon) or not lat.index.equals(lon.index):
        raise InputError(f"{lat_column} and {lon_column} must be two columns of the same table.")
    target = _check_crs(crs)
    ward_geom = _ward_4326(ward)
    lat_text, lon_text = _text(lat, lower=True), _text(lon, lower=True)
    y, y_axis = _degrees(lat_text)
    x, x_axis = _degrees(lon_text)
    has_y, has_x = _present(lat_text), _present(lon_text)
    # Why each refused row is refused, first cause only (see _POSITION_REASONS).
    why = np.full(len(lat), "", dtype=object)
    why[~(has_y & has_x)] = "empty"
    why[(why == "") & (np.isnan(y) | np.isnan(x))] = "unreadable"
    why[(why == "") & (y == 0) & (x == 0)] = "zero"
    if target is not None and target.is_projected:
        lon_deg, lat_deg, swapped, outside = _projected(y, x, why == "", target, ward_geom)
        why[outside] = "area"
    else:
        why[(why == "") & ((np.abs(y) > 1_000) | (np.abs(x) > 1_000))] = "metres"
        lon_deg, lat_deg, swapped, outside = _geographic(
            y, x, why == "", target, ward_geom, axes=(y_axis, x_axis)
        )
        why[outside] = "range"
    ok = why == ""
    geoms = np.full(len(lat), None, dtype=object)
    geoms[ok] = shapely.points(lon_deg[ok], lat_deg[ok])
    points = gpd.GeoSeries(geoms, index=lat.index, crs=STORAGE_CRS)
    hint = _needs_crs_hint(y, x, why == "metres", ward_geom)
    problems = _position_problems(
        why, swapped & ok, (lat, lon), (lat_column, lon_column), (lat_deg, lon_deg), target, hint
    )
    return points, problems


def _position_problems(
    why: np.ndarray,
    swapped: np.ndarray,
    cells: tuple[pd.Series, pd.Series],
    columns: tuple[str | None, str | None],
    degrees: tuple[np.ndarray, np.ndarray],
    target: CRS | None,
    hint: str,
) -> list[RowProblem]:
    """The problems of parse_coordinates: one per refused row, one flag per swapped row."""
    lat, lon = cells
    lat_column, lon_column = columns
    lat_deg, lon_deg = degrees
    ok = why == ""
    has_y = _present(_text(lat)) if (why == "empty").any() else ok
    where = lat_column if lat_column == lon_column else f"{lat_column} / {lon_column}"
    if lat_column is None or lon_column is None:
        where = "latitude / longitude"
    messages = {
        "empty": lambda i: (
            f"The position is empty ({where}); fill in latitude and longitude, or place the "
            f"record on the map."
        ),
        "unreadable": lambda i: (
            f"{_pair(lat, lon, i)} cannot be read as a position: write decimal degrees "
            f"(21.0123, 105.8345) or degrees-minutes-seconds (21°00'44.3\"N)."
        ),
        "zero": lambda i: (
            "The position is 0, 0 (a phone without a GPS fix writes it); place the record on "
            "the map or fill in its coordinates."
        ),
        "metres": lambda i: (
            f"{_pair(lat, lon, i)} look like projected metres (VN-2000?), not degrees: import "
            f"again with {hint}."
        ),
        "range": lambda i: (
            f"{_pair(lat, lon, i)} is not a position on Earth: latitude lies within ±90 and "
            f"longitude within ±180."
        ),
        "area": lambda i: (
            f"{_pair(lat, lon, i)} lies outside the area of {_crs_label(target)}"
            f" (check the columns and --crs)."
            if target is not None
            else ""
        ),
    }
    rows = lat.index.to_numpy()
    problems = [
        RowProblem(
            int(rows[i]),
            lon_column if why[i] == "empty" and has_y[i] else lat_column,
            _POSITION_REASONS[why[i]],
            messages[why[i]](i),
        )
        for i in np.flatnonzero(~ok)
    ]
    problems += [
        RowProblem(
            int(rows[i]),
            lat_column,
            "swapped_lat_lon",
            f"Latitude and longitude were swapped ({_pair(lat, lon, int(i))}); read as latitude "
            f"{lat_deg[i]:.6f}, longitude {lon_deg[i]:.6f}. Check the columns of the file.",
            "flag",
        )
        for i in np.flatnonzero(swapped)
    ]
    return sorted(problems, key=lambda p: p.row)


_POSITION_REASONS = {
    "empty": "no_position",
    "unreadable": "bad_coordinates",
    "zero": "zero_coordinates",
    "metres": "needs_crs",
    "range": "bad_coordinates",
    "area": "bad_coordinates",
}


def _pair(lat: pd.Series, lon: pd.Series, i: int) -> str:
    if lat.iloc[i] == lon.iloc[i]:  # one cell split by parse_geolocation, or a copy
        return repr(lat.iloc[i])
    return f"{lat.iloc[i]!r}, {lon.iloc[i]!r}"


def _degrees(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(value, axis hint from a hemisphere letter: 0 none, 1 latitude, 2 longitude)."""
    value, _ = _numbers(text, one_group="decimal")
    axis = np.zeros(len(text), dtype=np.int8)
    rest = _present(text) & np.isnan(value)
    if not rest.any():
        return value, axis
    sub = text.filter(pa.array(rest))
    for pattern, repl in _SYMBOLS:
        sub = _replace(sub, pattern, repl)
    parts = pc.extract_regex(sub, _DMS)
    got = ~np.asarray(pc.is_null(parts).to_numpy(zero_copy_only=False), dtype=bool)
    if not got.any():
        return value, axis
    f = {
        k: np.asarray(pc.fill_null(parts.field(k), "").to_numpy(zero_copy_only=False), dtype=str)
        for k in ("h1", "sign", "d", "m", "s", "h2")
    }
    d, m, s = (np.where(f[k] == "", "0", f[k]).astype(float) for k in ("d", "m", "s"))
    hemi = np.char.add(f["h1"], f["h2"])
    minus = f["sign"] == "-"
    valid = (
        got
        & (m < 60)
        & (s < 60)
        & (np.char.str_len(hemi) <= 1)
        & ~(minus & (hemi != ""))
        # only the last part may have decimals: 21.5°30' is no angle
        & ~((f["m"] != "") & (np.char.find(f["d"], ".") >= 0))
        & ~((f["s"] != "") & (np.char.find(f["m"], ".") >= 0))
    )
    sign = np.where(minus | np.isin(hemi, ["s", "w", "t"]), -1.0, 1.0)
    idx = np.flatnonzero(rest)
    value[idx[valid]] = ((d + m / 60 + s / 3600) * sign)[valid]
    axis[idx[valid & np.isin(hemi, ["n", "s", "b"])]] = _LAT_AXIS
    axis[idx[valid & np.isin(hemi, ["e", "w", "đ", "t"])]] = _LON_AXIS
    return value, axis


def _geographic(
    y: np.ndarray,
    x: np.ndarray,
    ok: np.ndarray,
    crs: CRS | None,
    ward: BaseGeometry | None,
    *,
    axes: tuple[np.ndarray, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Degrees: (lon, lat in EPSG:4326, swapped, out of range)."""
    y_axis, x_axis = axes
    straight = (np.abs(y) <= 90) & (np.abs(x) <= 180)
    crossed = (np.abs(x) <= 90) & (np.abs(y) <= 180)
    lettered = ((y_axis == _LON_AXIS) & (x_axis != _LON_AXIS)) | (
        (x_axis == _LAT_AXIS) & (y_axis != _LAT_AXIS)
    )
    swapped = ok & crossed & (lettered | ~straight)
    if ward is not None:
        doubtful = ok & straight & crossed & ~swapped & (y_axis == 0) & (x_axis == 0)
        if doubtful.any():
            near_straight = _near(x, y, doubtful, ward, crs)
            near_crossed = _near(y, x, doubtful, ward, crs)
            swapped |= doubtful & near_crossed & ~near_straight
    lat = np.where(swapped, x, y)
    lon = np.where(swapped, y, x)
    outside = ok & ~((np.abs(lat) <= 90) & (np.abs(lon) <= 180))
    if crs is not None and not crs.equals(STORAGE_CRS, ignore_axis_order=True):
        lon, lat = _transform(lon, lat, ok & ~outside, crs)
    return lon, lat, swapped, outside
