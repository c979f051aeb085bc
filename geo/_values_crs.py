"""Positions against a CRS and the ward, for :mod:`geo._values_position`.

Projected metres (VN-2000) with a declared CRS, swapped northing/easting, the check that the
declared CRS puts the points in the ward, and the ``--crs`` to suggest when metres come
without one.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from geo.boundaries import check_crs_against
from geo.config import HANOI_CRS, STORAGE_CRS, VN2000_UTM48_CRS
from geo.crs import metric_crs
from geo.errors import InputError

#: A point whose swapped reading lies this close to the ward (and the other reading does not)
#: had its latitude and longitude swapped.
_SWAP_NEAR_M = 5_000.0
#: Points read to test a declared CRS against the ward (evenly spaced over the file).
_CRS_SAMPLE = 2_000


def _projected(
    y: np.ndarray, x: np.ndarray, ok: np.ndarray, crs: CRS, ward: BaseGeometry | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Northing/easting in ``crs``: (lon, lat in EPSG:4326, swapped, outside the CRS area)."""
    if ok.any() and ((np.abs(y[ok]) <= 90) & (np.abs(x[ok]) <= 180)).all():
        first = np.flatnonzero(ok)[0]
        raise InputError(
            f"The coordinates look like degrees (e.g. {y[first]:g}, {x[first]:g}), not metres "
            f"of {_crs_label(crs)}: leave out the CRS (--crs) for GPS latitude/longitude."
        )
    lon, lat = _transform(x, y, ok, crs)
    fits = ok & _in_area(lon, lat, crs)
    retry = ok & ~fits
    if ward is not None:
        retry |= fits & ~_near(lon, lat, fits, ward, None)
    swapped = np.zeros(len(y), dtype=bool)
    if retry.any():
        lon2, lat2 = _transform(y, x, retry, crs)
        swapped = retry & _in_area(lon2, lat2, crs)
        if ward is not None:  # a point that fits but lies far is swapped only to the ward
            swapped &= ~fits | _near(lon2, lat2, swapped, ward, None)
        lon, lat = np.where(swapped, lon2, lon), np.where(swapped, lat2, lat)
        fits |= swapped
    if ward is not None:
        _check_declared_crs(np.where(swapped, y, x), np.where(swapped, x, y), fits, crs, ward)
    return lon, lat, swapped, ok & ~fits


def _check_declared_crs(
    easting: np.ndarray, northing: np.ndarray, rows: np.ndarray, crs: CRS, ward: BaseGeometry
) -> None:
    idx = np.flatnonzero(rows)
    if not len(idx):
        return
    if len(idx) > _CRS_SAMPLE:
        idx = idx[np.linspace(0, len(idx) - 1, _CRS_SAMPLE).astype(int)]
    points = gpd.GeoSeries(shapely.points(easting[idx], northing[idx]), crs=crs)
    check_crs_against(points, ward, what="the upload")


def _near(
    lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, ward: BaseGeometry, crs: CRS | None
) -> np.ndarray:
    """Whether each point (in ``crs``, default EPSG:4326) lies within 5 km of the ward."""
    out = np.zeros(len(lon), dtype=bool)
    if not rows.any():
        return out
    ward_series = gpd.GeoSeries([ward], crs=STORAGE_CRS)
    metric = metric_crs(ward_series)
    zone = shapely.buffer(ward_series.to_crs(metric).iloc[0], _SWAP_NEAR_M)
    shapely.prepare(zone)
    to_metric = Transformer.from_crs(crs or STORAGE_CRS, metric, always_xy=True)
    with np.errstate(invalid="ignore"):
        mx, my = to_metric.transform(lon[rows], lat[rows], errcheck=False)
    out[rows] = shapely.contains_xy(zone, np.asarray(mx), np.asarray(my))
    return out


def _transform(
    x: np.ndarray, y: np.ndarray, rows: np.ndarray, crs: CRS
) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.full(len(x), np.nan), np.full(len(x), np.nan)
    if rows.any():
        to_4326 = Transformer.from_crs(crs, STORAGE_CRS, always_xy=True)
        with np.errstate(invalid="ignore"):
            tx, ty = to_4326.transform(x[rows], y[rows], errcheck=False)
        lon[rows], lat[rows] = tx, ty
    return lon, lat


def _in_area(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> np.ndarray:
    """Within the CRS's area of use (1° of margin), where its coordinates mean something."""
    with np.errstate(invalid="ignore"):
        inside = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        area = crs.area_of_use
        if area is None:
            return inside
        return (
            inside
            & (lon >= area.west - 1)
            & (lon <= area.east + 1)
            & (lat >= area.south - 1)
            & (lat <= area.north + 1)
        )


def _needs_crs_hint(
    y: np.ndarray, x: np.ndarray, rows: np.ndarray, ward: BaseGeometry | None
) -> str:
    """``--crs EPSG:5897`` when only that candidate puts the metres in the ward, else both."""
    both = (
        f"--crs {HANOI_CRS} (VN-2000 / TM-3 zone 482, Hà Nội's cadastral maps) or "
        f"--crs {VN2000_UTM48_CRS} (VN-2000 / UTM 48N)"
    )
    if ward is None or not rows.any():
        return both
    some = np.zeros(len(y), dtype=bool)
    some[np.flatnonzero(rows)[:_CRS_SAMPLE]] = True
    near = shapely.buffer(ward, 0.002)  # about 200 m: the two candidates lie 700 m apart
    scores = {}
    for name in (HANOI_CRS, VN2000_UTM48_CRS):
        crs = CRS.from_user_input(name)
        counts = []
        for east, north in ((x, y), (y, x)):
            lon, lat = _transform(east, north, some, crs)
            counts.append(int(shapely.contains_xy(near, lon[some], lat[some]).sum()))
        scores[name] = max(counts)
    best = max(scores, key=lambda k: scores[k])
    if scores[best] == 0 or list(scores.values()).count(scores[best]) > 1:
        return both
    return f"--crs {best} ({CRS.from_user_input(best).name}, which puts them in the ward)"


def _check_crs(crs: str | int | CRS | None) -> CRS | None:
    if crs is None:
        return None
    try:
        return CRS.from_user_input(crs)
    except CRSError as err:
        raise InputError(
            f"crs={crs!r} is not a CRS pyproj knows; use e.g. {HANOI_CRS} (VN-2000 / TM-3, "
            f"Hà Nội) or {VN2000_UTM48_CRS} (VN-2000 / UTM 48N)."
        ) from err


def _ward_4326(
    ward: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None,
) -> BaseGeometry | None:
    if ward is None or isinstance(ward, BaseGeometry):
        return ward
    if ward.crs is None:
        raise InputError("ward has no CRS; set it (EPSG:4326 for longitude/latitude).")
    geom = shapely.make_valid(ward.geometry.to_crs(STORAGE_CRS).union_all())
    return None if geom.is_empty else geom


def _crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name
