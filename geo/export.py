"""Records out of the store as files people open: CSV, Excel, GeoJSON, GeoPackage and KML.

An export carries exactly the rows it is given, with column headers and category, status and
assignment labels in the user's language, and times as local (Asia/Ho_Chi_Minh) text, day
first, as Vietnamese offices write them. The Vietnamese headers are the ones the upload reads,
so an exported file re-imported adds nothing: every record comes back with its own id.

Spreadsheets run formulas: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return could execute when the file is opened (CSV injection). CSV gets a leading
apostrophe in such cells; Excel gets them as text cells with the quote prefix, value intact.
Offender keys (salted hashes) never leave the store.

GeoPackage (for QGIS) and KML (for Google Earth) are written by GDAL's own drivers through
pyogrio. A GeoPackage keeps numbers as numbers; a KML placemark is named by the record's
category, carries its time as a ``TimeStamp`` (the time slider of Google Earth), a short
description, and every exported value as ``ExtendedData``. Google Earth shows a description as
HTML, so its text is HTML-escaped: an address cannot inject markup.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.config import TIMEZONE_NAME
from geo.errors import InputError
from geo.i18n import Lang, category_label, t, translations
from geo.text import normalise

__all__ = [
    "EXPORT_FORMATS",
    "ExportFormat",
    "defuse_formula",
    "export_records",
    "manual_entry_csv",
    "table_csv",
]

log = logging.getLogger(__name__)

ExportFormat = Literal["csv", "xlsx", "geojson", "gpkg", "kml"]
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "csv": ("csv", "text/csv"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "geojson": ("geojson", "application/geo+json"),
    "gpkg": ("gpkg", "application/geopackage+sqlite3"),
    "kml": ("kml", "application/vnd.google-earth.kml+xml"),
}
#: Formats that carry the geometries themselves (the others flatten points to lat/lon).
_GEOMETRIC = ("geojson", "gpkg", "kml")
#: Pseudonymous, yet personal: never exported.
_NEVER = ("offender_key",)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_TIME_FORMAT = "%d/%m/%Y %H:%M:%S"
#: The fields a KML placemark's description lists, when the export has them.
_KML_DESCRIPTION = (
    "observed_at", "group_name", "address", "status", "fine_vnd", "items_removed", "record_id",
)  # fmt: skip
#: Field names that GDAL's LIBKML driver reads as placemark elements, not as data.
_KML_RESERVED = frozenset(
    {"name", "description", "timestamp", "begin", "end", "altitudemode", "tessellate",
     "extrude", "visibility", "draworder", "icon", "snippet"}
)  # fmt: skip
#: Headers of a single record typed in the app: the ones the upload recognises first.
_ENTRY_HEADERS = {
    "lat": "Vĩ độ",
    "lon": "Kinh độ",
    "observed_at": "Thời gian",
    "category": "Loại vi phạm",
    "fine_vnd": "Số tiền phạt",
    "address": "Địa chỉ",
    "status": "Trạng thái",
}


def export_records(
    frame: pd.DataFrame, *, fmt: ExportFormat, lang: Lang = "vi", sheet: str | None = None
) -> bytes:
    """The rows of ``frame`` as a CSV, Excel, GeoJSON, GeoPackage or KML file.

    Parameters
    ----------
    frame
        Records as the store reads them (e.g. ``store.read("violations", query)``), possibly
        with extra columns such as ``group_name``; a GeoDataFrame of points gets latitude and
        longitude columns in CSV and Excel (other geometries a WKT column).
    fmt
        ``"csv"`` (UTF-8 with BOM, so Excel reads the diacritics right), ``"xlsx"``, or, with
        geometries, ``"geojson"``, ``"gpkg"`` (one layer, named after ``sheet``) or ``"kml"``.
    lang
        Language of the headers and of the category, status and assignment labels.
    sheet
        Name of the Excel sheet, GeoPackage layer or KML folder (default: "Hồ sơ" / "Records").

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    InputError
        For an unknown ``fmt``, or a GIS format asked of a frame without geometries.

    Examples
    --------
    >>> rows = pd.DataFrame({"category": ["street_vending"], "fine_vnd": [300000]})
    >>> export_records(rows, fmt="csv").decode("utf-8-sig").splitlines()
    ['Loại vi phạm,Số tiền phạt (đ)', 'Bán hàng rong,300000']
    """
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"fmt={fmt!r}: export as one of {', '.join(EXPORT_FORMATS)}.")
    if fmt in _GEOMETRIC and not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(
            f"{fmt} needs the records' geometries: pass the GeoDataFrame the store read, "
            "or export as csv/xlsx."
        )
    table = _labelled(frame, lang=lang, flat=fmt not in _GEOMETRIC)
    log.info("export of %d records as %s", len(table), fmt)
    name = sheet or t("export.sheet", lang)
    if fmt == "csv":
        return table_csv(table)
    if fmt == "xlsx":
        return _xlsx(table, sheet=name)
    if fmt == "gpkg":
        return _gpkg(table, layer=normalise(name) or "records")
    if fmt == "kml":
        return _kml(table, frame, lang=lang, folder=name)
    return _geojson(table)


def manual_entry_csv(
    *,
    lat: float,
    lon: float,
    observed_at: datetime,
    category: str,
    fine_vnd: int | None = None,
    address: str | None = None,
    status: str | None = None,
) -> bytes:
    """One record typed in the app, as the one-row CSV a team would upload.

    The record then goes through the upload itself, so it is checked, de-duplicated and
    assigned to its group exactly like a file's rows.

    Examples
    --------
    >>> data = manual_entry_csv(lat=21.0065, lon=105.833,
    ...                         observed_at=datetime(2025, 7, 8, 9, 30), category="littering")
    >>> data.decode("utf-8").splitlines()[1]
    '21.0065000,105.8330000,08/07/2025 09:30:00,littering,,,'
    """
    when = pd.Timestamp(observed_at)
    if when.tzinfo is not None:
        when = when.tz_convert(TIMEZONE_NAME)
    values = {
        "lat": f"{float(lat):.7f}",
        "lon": f"{float(lon):.7f}",
        "observed_at": when.strftime(_TIME_FORMAT),
        "category": category,
        "fine_vnd": "" if fine_vnd is None else str(int(fine_vnd)),
        "address": address or "",
        "status": status or "",
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_ENTRY_HEADERS.values())
    writer.writerow(values[name] for name in _ENTRY_HEADERS)
    return out.getvalue().encode("utf-8")


# -- labelling ----------------------------------------------------------------------------------


def _labelled(frame: pd.DataFrame, *, lang: Lang, flat: bool) -> pd.DataFrame:
    """Values as people read them, under headers in ``lang``; geometry flattened if ``flat``."""
    geometry = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else None
    plain = pd.DataFrame(frame.drop(columns=[c for c in _NEVER if c in frame.columns]))
    if geometry is not None:
        plain = plain.drop(columns=[geometry.name])
    out = pd.DataFrame(index=frame.index)
    for name in plain.columns:
        out[_header(str(name), lang)] = _values(plain[name], str(name), lang)
    if geometry is None:
        return out.reset_index(drop=True)
    geometry = geometry.to_crs(4326) if geometry.crs is not None else geometry
    if not flat:
        return gpd.GeoDataFrame(out, geometry=geometry.values, crs=geometry.crs).reset_index(
            drop=True
        )
    points = geometry.geom_type.isin(["Point"]) | geometry.isna()
    if points.all():
        out[_header("lat", lang)] = _coordinate(geometry, "y")
        out[_header("lon", lang)] = _coordinate(geometry, "x")
    else:
        out[_header("geometry", lang)] = shapely.to_wkt(geometry.values, rounding_precision=7)
    return out.reset_index(drop=True)


def _header(name: str, lang: Lang) -> str:
    key = f"column.{name}"
    return t(key, lang) if key in translations() else name


def _values(values: pd.Series, name: str, lang: Lang) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        local = values.dt.tz_convert(TIMEZONE_NAME)
        return _objects(local.dt.strftime(_TIME_FORMAT), None)
    labeller = _LABELLERS.get(name)
    if labeller is not None:
        return _objects(values, lambda v: labeller(str(v), lang))
    if pd.api.types.is_bool_dtype(values.dtype):
        return _objects(values, lambda v: t(f"export.bool.{bool(v)}", lang))
    if pd.api.types.is_integer_dtype(values.dtype):
        return _objects(values, int)
    if pd.api.types.is_float_dtype(values.dtype):
        return _objects(values, float)
    return _objects(values, None)


def _coordinate(geometry: gpd.GeoSeries, axis: Literal["x", "y"]) -> pd.Series:
    empty = geometry.isna() | geometry.is_empty
    safe = geometry.where(~empty, None)
    return _objects(getattr(safe, axis).round(7).where(~empty), float)


def _known_label(prefix: str) -> Callable[[str, Lang], str]:
    def label(code: str, lang: Lang) -> str:
        key = f"{prefix}.{code}"
        return t(key, lang) if key in translations() else code

    return label


_LABELLERS: dict[str, Callable[[str, Lang], str]] = {
    "category": category_label,
    "status": _known_label("status"),
    "assignment": _known_label("assignment"),
}


def _present(value: object) -> bool:
    try:
        return not bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):  # a list or an array is a value
        return True


def _objects(values: pd.Series, cast: Callable[[Any], object] | None) -> pd.Series:
    """Plain Python values, ``None`` where missing (pandas would write "nan" or "<NA>")."""
    out = [None if not _present(v) else (cast(v) if cast else v) for v in values.tolist()]
    return pd.Series(out, index=values.index, dtype=object)


# -- writers ----------------------------------------------------------------------------------


def defuse_formula(value: object) -> object:
    """A text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def table_csv(table: pd.DataFrame) -> bytes:
    """Any table as CSV for spreadsheets: UTF-8 with BOM (Excel reads Vietnamese right), CRLF,
    formula-looking text escaped with a leading apostrophe (formula injection)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(defuse_formula(c) for c in table.columns)
    for row in table.itertuples(index=False, name=None):
        writer.writerow("" if v is None else defuse_formula(v) for v in row)
    return out.getvalue().encode("utf-8-sig")


def _xlsx(table: pd.DataFrame, *, sheet: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    ws = book.create_sheet(_sheet_name(sheet))
    for i, name in enumerate(table.columns, start=1):
        width = max([len(str(name)), *(len(str(v)) for v in table[name].head(200))])
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    ws.freeze_panes = "A2"

    def cell(value: object) -> WriteOnlyCell:
        c = WriteOnlyCell(ws, value=None)
        if isinstance(value, str):
            # Set as a string explicitly: openpyxl would store "=..." as a formula.
            c.value = value
            c.data_type = "s"
            if value.startswith(_FORMULA_STARTS):
                c.quotePrefix = True
        elif isinstance(value, np.generic):
            c.value = value.item()
        else:
            c.value = value
        return c

    ws.append([cell(str(name)) for name in table.columns])
    for row in table.itertuples(index=False, name=None):
        ws.append([cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(name: str) -> str:
    # Excel forbids these characters in sheet names and cuts names at 31 characters.
    return "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "Sheet1"


def _geojson(table: gpd.GeoDataFrame) -> bytes:
    features = []
    geometries = shapely.to_geojson(table.geometry.values)
    props = table.drop(columns=[table.geometry.name])
    for geometry, row in zip(geometries, props.itertuples(index=False, name=None), strict=True):
        features.append(
            {
                "type": "Feature",
                "properties": {
                    str(k): _json_value(v) for k, v in zip(props.columns, row, strict=True)
                },
                "geometry": None if geometry is None else json.loads(geometry),
            }
        )
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=False).encode("utf-8")


def _json_value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _gpkg(table: gpd.GeoDataFrame, *, layer: str) -> bytes:
    typed = table.copy()
    for name in typed.columns.drop(typed.geometry.name):
        typed[name] = _typed(typed[name])
    with tempfile.TemporaryDirectory(prefix="urban-order-export-") as tmp:
        path = Path(tmp) / "export.gpkg"
        pyogrio.write_dataframe(typed, path, layer=layer, driver="GPKG")
        return path.read_bytes()


def _typed(values: pd.Series) -> pd.Series:
    """The plain values of a labelled column in a typed column, so GIS tools sort numbers."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "integer":
        return values.astype("Int64")
    if kind in ("floating", "mixed-integer-float"):
        return values.astype("Float64")
    return values.astype("string")


def _kml(table: gpd.GeoDataFrame, frame: gpd.GeoDataFrame, *, lang: Lang, folder: str) -> bytes:
    """Placemarks named by category, with their time, a short description and every value."""
    data = pd.DataFrame(table.drop(columns=[table.geometry.name]))
    data.columns = [f"{c}_" if str(c).lower() in _KML_RESERVED else str(c) for c in data.columns]
    shown = [_header(n, lang) for n in _KML_DESCRIPTION if n in frame.columns]
    described = [
        "<br/>".join(
            html.escape(f"{h}: {v}").replace("\n", "<br/>")
            for h, v in zip(shown, row, strict=True)
            if v is not None
        )
        for row in table[shown].itertuples(index=False, name=None)
    ]
    if "category" in frame.columns:
        names = [category_label(str(c), lang) if _present(c) else "—" for c in frame["category"]]
    else:
        names = [
            str(v) if _present(v) else "—" for v in frame.get("record_id", [None] * len(table))
        ]
    marks = gpd.GeoDataFrame(
        {"name": names, "description": described}, geometry=table.geometry.values, crs=table.crs
    )
    if "observed_at" in frame.columns:
        marks["timestamp"] = _local_times(frame["observed_at"]).to_numpy()
    # KML data is text; None stays an empty cell, not "None"
    marks = pd.concat([marks, data.astype("string").set_axis(marks.index)], axis=1)
    driver = "LIBKML" if "LIBKML" in pyogrio.list_drivers() else "KML"
    with tempfile.TemporaryDirectory(prefix="urban-order-export-") as tmp:
        path = Path(tmp) / "export.kml"
        pyogrio.write_dataframe(marks, path, layer=folder, driver=driver)
        return path.read_bytes()


def _local_times(values: pd.Series) -> pd.Series:
    times = pd.to_datetime(values)
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times.dt.tz_convert(TIMEZONE_NAME)
    return times.dt.tz_localize(TIMEZONE_NAME)
