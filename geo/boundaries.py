"""Reading ward, zone and group boundaries from the files ward offices have.

GeoPackage, GeoJSON, Shapefile (also zipped), KML and KMZ, in any CRS pyproj knows, with
Vietnamese or English column headers. The result is in EPSG:4326 with the model columns of
:data:`geo.model.SCHEMAS` (``wards``, ``zones`` or ``groups``) and MultiPolygon geometries.
Invalid rings are kept as drawn: :func:`geo.topology.topology_report` repairs and reports them.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from defusedxml import ElementTree
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry

from geo.config import HANOI_CRS, STORAGE_CRS, VN2000_UTM48_CRS
from geo.crs import metric_crs
from geo.errors import CRSMismatchError, InputError
from geo.model import conform
from geo.text import normalise
from geo.topology import polygonal

__all__ = ["Level", "check_crs_against", "read_boundaries"]

logger = logging.getLogger(__name__)

Level = Literal["ward", "zone", "group"]

_TABLES: dict[str, str] = {"ward": "wards", "zone": "zones", "group": "groups"}
_PARENTS: dict[str, str] = {"group": "zone_id", "zone": "ward_id"}

_NAME = ("name", "ten", "ten_goi", "label")
_POPULATION = ("population", "dan_so", "so_dan", "nhan_khau", "so_nhan_khau", "pop")
_HOUSEHOLDS = ("households", "so_ho", "ho", "ho_gia_dinh", "so_ho_gia_dinh", "hh")
_VALID_FROM = ("valid_from", "tu_ngay", "hieu_luc_tu", "ngay_hieu_luc")
_VALID_TO = ("valid_to", "den_ngay", "hieu_luc_den", "het_hieu_luc")
_WARD_ID = ("ward_id", "ma_phuong", "ma_xa", "phuong", "xa", "ward")

#: model column -> header aliases, best first, normalised by :func:`_normalise`.
_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "group": {
        "group_id": (
            "group_id",
            "ma_to",
            "ma_to_dan_pho",
            "ma_tdp",
            "to_so",
            "so_to",
            "to_id",
            "id",
            "ma",
            "code",
        ),
        "name": (*_NAME, "ten_to", "ten_to_dan_pho", "to_dan_pho", "tdp"),
        "zone_id": ("zone_id", "ma_khu_vuc", "ma_kv", "khu_vuc", "kv", "zone", "khu"),
        "ward_id": _WARD_ID,
        "population": _POPULATION,
        "households": _HOUSEHOLDS,
        "valid_from": _VALID_FROM,
        "valid_to": _VALID_TO,
    },
    "zone": {
        "zone_id": ("zone_id", "ma_khu_vuc", "ma_kv", "khu_vuc_id", "kv", "id", "ma", "code"),
        "name": (*_NAME, "ten_khu_vuc", "khu_vuc"),
        "ward_id": _WARD_ID,
        "valid_from": _VALID_FROM,
        "valid_to": _VALID_TO,
    },
    "ward": {
        "ward_id": ("ward_id", "ma_phuong", "ma_xa", "ma_dvhc", "osm_relation_id", "id", "ma"),
        "name": (*_NAME, "ten_phuong", "ten_xa", "phuong", "xa"),
        "population": _POPULATION,
        "source": ("source", "nguon"),
        "valid_from": _VALID_FROM,
        "valid_to": _VALID_TO,
    },
}

#: Columns LIBKML adds for KML elements; ``id`` is the XML id, not the group's id.
_LIBKML_COLUMNS = (
    "id", "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude", "visibility",
    "drawOrder", "icon",
)  # fmt: skip
_CRS_HINT = (
    f"e.g. crs='{HANOI_CRS}' for VN-2000 / TM-3 zone 482 (Hà Nội cadastral maps) or "
    f"crs='{VN2000_UTM48_CRS}' for VN-2000 / UTM zone 48N"
)
_MAX_LISTED = 8


def read_boundaries(
    path: str | Path,
    *,
    level: Level,
    layer: str | None = None,
    crs: str | int | None = None,
    id_column: str | None = None,
    name_column: str | None = None,
    parent_column: str | None = None,
    reference: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Read ward, zone or group polygons from a boundary file.

    Parameters
    ----------
    path
        A GeoPackage, GeoJSON, Shapefile (``.shp`` or a ``.zip`` holding one), KML or KMZ file.
    level
        What the polygons are: ``"ward"``, ``"zone"`` or ``"group"``.
    layer
        The layer to read. Without it a file's only layer, or its only polygon layer, is read;
        the polygon layers (folders) of a KML/KMZ file are read together, with the folder
        name in a ``folder`` column.
    crs
        The CRS of the file's coordinates, overriding what the file declares (pass it when
        the file has none, or declares a wrong one).
    id_column, name_column, parent_column
        The headers holding the id, the name and the parent's id (the zone of a group, the
        ward of a zone); by default detected from Vietnamese or English headers such as
        ``"Mã tổ"``, ``"Tên"``, ``"Khu vực"``. Without an id column, unique names are used
        as ids.
    reference
        Where the features must lie (the ward, as a geometry in EPSG:4326 or a GeoSeries /
        GeoDataFrame): when given, the declared CRS is checked with :func:`check_crs_against`.

    Returns
    -------
    geopandas.GeoDataFrame
        The columns of ``geo.model.SCHEMAS["wards" | "zones" | "groups"]``, in EPSG:4326.

    Raises
    ------
    InputError
        Listing every problem of the file: unreadable file or layer, missing CRS,
        non-polygon features, missing ids, values that are not numbers.
    CRSMismatchError
        When ``reference`` is given and the declared CRS puts the features elsewhere.
    """
    path = Path(path)
    if level not in _TABLES:
        raise InputError(f"level={level!r}: use one of {', '.join(map(repr, _TABLES))}.")
    if parent_column is not None and level == "ward":
        raise InputError("parent_column: wards have no parent; leave it out for level='ward'.")
    if not path.exists():
        raise InputError(f"{path}: no such file.")
    raw = _read_layer(path, layer)
    problems: list[str] = []
    gdf = _with_crs(raw, path, crs, problems)
    geometry = _geometries(gdf, level, path.name, problems)
    columns = _detect_columns(
        gdf,
        level,
        {"id": id_column, "name": name_column, "parent": parent_column},
        problems,
    )
    values = _values(gdf, level, columns, problems)
    if problems:
        raise InputError(
            f"{path.name} cannot be read as {level} boundaries:\n- " + "\n- ".join(problems)
        )
    located = gpd.GeoDataFrame(values, geometry=geometry, crs=gdf.crs)
    if reference is not None:
        check_crs_against(located, reference, what=path.name)
    if level == "ward":
        if "source" not in located.columns:
            located["source"] = path.name
        located["synthetic"] = False
    return cast(gpd.GeoDataFrame, conform(_TABLES[level], located))


def check_crs_against(
    gdf: gpd.GeoDataFrame | gpd.GeoSeries,
    reference: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    candidates: Sequence[str] = (HANOI_CRS, VN2000_UTM48_CRS),
    tolerance_m: float = 200.0,
    what: str = "the features",
) -> None:
    """Raise when the declared CRS of ``gdf`` puts its features away from ``reference``.

    Each feature's centroid counts as near when it lies within ``tolerance_m`` of the
    reference. The declared CRS passes when no candidate puts more features near: a few groups
    outside the ward are a topology question, not a CRS one. Otherwise the coordinates are read
    again as each candidate, and the error names the declared CRS and the one that fits.

    Parameters
    ----------
    gdf
        Features in the CRS their file declares (not yet reprojected).
    reference
        Where they should be, e.g. the ward: a shapely geometry in EPSG:4326, or a GeoSeries /
        GeoDataFrame in any CRS (its union is used).
    candidates
        The CRSs the coordinates may really be in. The default pair are the two VN-2000 systems
        that are mixed up in Hà Nội, about 697 m apart in northing.
    tolerance_m
        How far outside the reference a feature may lie before it counts as away.
    what
        How to call ``gdf`` in the message, e.g. the file name.

    Raises
    ------
    CRSMismatchError
        Naming the declared CRS and the candidate that fits, or saying that none fits.

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> ward = box(105.828, 21.008, 105.832, 21.012)  # 400 m across
    >>> pts = gpd.GeoSeries([Point(105.83, 21.01)], crs=4326).to_crs(5897)
    >>> check_crs_against(pts, ward)  # fits: returns None
    >>> check_crs_against(pts.set_crs(3405, allow_override=True), ward)
    Traceback (most recent call last):
    ...
    geo.errors.CRSMismatchError: ... read as EPSG:5897 ...
    """
    if gdf.crs is None:
        raise InputError(f"{what} has no CRS to check; set one first (gdf.set_crs(...)).")
    geoms = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    ref = _union_4326(reference, what="reference")
    if geoms.empty or ref.is_empty:
        return
    ref_series = gpd.GeoSeries([ref], crs=STORAGE_CRS)
    metric = metric_crs(ref_series)
    near = shapely.buffer(ref_series.to_crs(metric).iloc[0], tolerance_m)
    shapely.prepare(near)
    centroids = shapely.centroid(np.asarray(geoms.array))

    def count_near(crs: CRS) -> int:
        pts = gpd.GeoSeries(centroids, crs=crs).to_crs(metric)
        return int(shapely.intersects(near, np.asarray(pts.array)).sum())

    declared = CRS.from_user_input(gdf.crs)
    n = len(geoms)
    declared_near = count_near(declared)
    if declared_near == n:
        return
    others = [CRS.from_user_input(c) for c in candidates]
    others = [c for c in others if not c.equals(declared, ignore_axis_order=True)]
    scores = [(count_near(c), c) for c in others]
    best_near, best = max(scores, key=lambda s: s[0], default=(0, declared))
    if best_near > declared_near:
        raise CRSMismatchError(
            f"{what} declares {_crs_label(declared)}, but read so only {declared_near} of its "
            f"{n} features lie within {tolerance_m:.0f} m of the ward; read as "
            f"{_crs_label(best)}, {best_near} of {n} do. The VN-2000 systems "
            f"{HANOI_CRS} (TM-3 zone 482) and {VN2000_UTM48_CRS} (UTM 48N) differ by about "
            f"700 m in northing at Hà Nội: read the file again with crs='{_crs_id(best)}' "
            f"(or fix its .prj)."
        )
    if declared_near == 0:
        tried = ", ".join(_crs_label(c) for c in others) or "no other CRS"
        raise CRSMismatchError(
            f"None of the {n} features of {what} lies within {tolerance_m:.0f} m of the ward, "
            f"whether read as declared ({_crs_label(declared)}) or as {tried}. Check that the "
            f"file is for this ward, and pass crs= with the system its coordinates are in "
            f"({_CRS_HINT})."
        )


# --- reading ------------------------------------------------------------------------------


def _read_layer(path: Path, layer: str | None) -> gpd.GeoDataFrame:
    source = _gdal_source(path)
    try:
        layers = [(str(name), str(kind)) for name, kind in pyogrio.list_layers(source)]
    except Exception as err:  # pyogrio raises several error types for unreadable files
        raise InputError(
            f"{path.name} could not be opened as a GeoPackage, GeoJSON, Shapefile, zipped "
            f"Shapefile, KML or KMZ file ({err}). Export it again in one of these formats."
        ) from err
    names = [name for name, _ in layers]
    listing = ", ".join(f"{name!r} ({kind})" for name, kind in layers)
    if layer is not None and layer not in names:
        raise InputError(f"{path.name} has no layer {layer!r}; its layers are: {listing}.")
    kml = path.suffix.lower() in (".kml", ".kmz")
    if layer is None and len(layers) > 1:
        polygon_layers = [name for name, kind in layers if "polygon" in kind.lower()]
        if len(polygon_layers) == 1:
            layer = polygon_layers[0]
        elif not kml:
            raise InputError(
                f"{path.name} has {len(layers)} layers and no single polygon layer to read; "
                f"pass layer= one of: {listing}."
            )
    try:
        if kml and layer is None and len(layers) > 1:
            frame = _read_kml_folders(source, path, names)
        else:
            frame = pyogrio.read_dataframe(source, layer=layer or names[0])
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"{path.name} could not be read ({err}).") from err
    if kml:
        frame = _restore_kml_headers(frame, path).drop(
            columns=list(_LIBKML_COLUMNS), errors="ignore"
        )
    return frame


def _gdal_source(path: Path) -> str:
    # LIBKML drops the SchemaData fields of a KMZ holding a lone doc.kml; read that file itself.
    if path.suffix.lower() == ".kmz":
        try:
            with zipfile.ZipFile(path) as archive:
                kmls = [n for n in archive.namelist() if n.lower().endswith(".kml")]
        except zipfile.BadZipFile as err:
            raise InputError(f"{path.name} is not a valid KMZ (zip) file: {err}.") from err
        if len(kmls) == 1:
            return f"/vsizip/{path}/{kmls[0]}"
    return str(path)


def _read_kml_folders(source: str, path: Path, names: list[str]) -> gpd.GeoDataFrame:
    frames = []
    for name in names:
        frame = pyogrio.read_dataframe(source, layer=name)
        if frame.geometry.geom_type.str.contains("Polygon|GeometryCollection", na=False).any():
            frames.append(frame.assign(folder=name))
    if not frames:
        raise InputError(
            f"{path.name} has no polygons in any of its folders ({', '.join(names)}); draw the "
            f"boundaries with 'Add Polygon' in Google Earth, not as paths or placemarks."
        )
    logger.info("%s: read %d KML folders with polygons together", path.name, len(frames))
    return cast(gpd.GeoDataFrame, pd.concat(frames, ignore_index=True))


def _restore_kml_headers(frame: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Give back the Vietnamese names that LIBKML turns into underscores (``Tên`` -> ``T__n``)."""
    names = _kml_field_names(path)
    renames = {}
    for name in names:
        mangled = "".join(
            ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" * len(ch.encode())
            for ch in name
        )
        if mangled != name and mangled in frame.columns and name not in frame.columns:
            renames[mangled] = name
    return frame.rename(columns=renames)


def _kml_field_names(path: Path) -> set[str]:
    try:
        if path.suffix.lower() == ".kmz":
            with zipfile.ZipFile(path) as archive:
                texts = [archive.read(n) for n in archive.namelist() if n.lower().endswith(".kml")]
        else:
            texts = [path.read_bytes()]
        names: set[str] = set()
        for text in texts:
            for element in ElementTree.fromstring(text).iter():
                tag = element.tag.rsplit("}", 1)[-1]
                if tag in ("Data", "SimpleField", "SimpleData") and element.get("name"):
                    names.add(str(element.get("name")))
        return names
    except Exception:  # the headers stay as GDAL gave them; the features were read already
        logger.warning("%s: could not read its KML field names", path.name, exc_info=True)
        return set()


# --- CRS ----------------------------------------------------------------------------------


def _with_crs(
    gdf: gpd.GeoDataFrame, path: Path, crs: str | int | None, problems: list[str]
) -> gpd.GeoDataFrame:
    if crs is not None:
        try:
            wanted = CRS.from_user_input(crs)
        except CRSError as err:
            raise InputError(f"crs={crs!r} is not a CRS pyproj knows ({_CRS_HINT}).") from err
        if gdf.crs is not None and not wanted.equals(gdf.crs, ignore_axis_order=True):
            logger.warning(
                "%s declares %s; reading it as %s as asked",
                path.name,
                _crs_label(CRS.from_user_input(gdf.crs)),
                _crs_label(wanted),
            )
        return gdf.set_crs(wanted, allow_override=True)
    bounds = _bounds(gdf)
    lonlat = bounds is None or _looks_lonlat(bounds)
    if gdf.crs is None:
        if lonlat:
            logger.warning(
                "%s has no CRS; its coordinates look like longitude/latitude, so they are "
                "taken as EPSG:4326",
                path.name,
            )
            return gdf.set_crs(STORAGE_CRS)
        problems.append(
            f"the file has no CRS (a shapefile without its .prj?) and its coordinates "
            f"({_describe_bounds(bounds)}) are not longitude/latitude: pass crs= with the "
            f"system they were drawn in, {_CRS_HINT}"
        )
    elif CRS.from_user_input(gdf.crs).is_geographic and not lonlat:
        problems.append(
            f"the file declares {_crs_label(CRS.from_user_input(gdf.crs))} (degrees; GeoJSON "
            f"always does) but its coordinates ({_describe_bounds(bounds)}) are metres: pass "
            f"crs= with the system they were drawn in, {_CRS_HINT}"
        )
    return gdf


def _bounds(gdf: gpd.GeoDataFrame) -> tuple[float, float, float, float] | None:
    geoms = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if geoms.empty:
        return None
    left, bottom, right, top = (float(v) for v in geoms.total_bounds)
    return left, bottom, right, top


def _looks_lonlat(bounds: tuple[float, float, float, float]) -> bool:
    left, bottom, right, top = bounds
    return -180 <= left <= right <= 180 and -90 <= bottom <= top <= 90


def _describe_bounds(bounds: tuple[float, float, float, float] | None) -> str:
    if bounds is None:
        return "none"
    left, bottom, right, top = bounds
    return f"x {left:,.0f} to {right:,.0f}, y {bottom:,.0f} to {top:,.0f}"


def _crs_id(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def _crs_label(crs: CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def _union_4326(obj: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame, *, what: str) -> BaseGeometry:
    if isinstance(obj, BaseGeometry):
        return obj
    if obj.crs is None:
        raise InputError(f"{what} has no CRS; set it (EPSG:4326 for longitude/latitude).")
    return shapely.make_valid(obj.geometry.to_crs(STORAGE_CRS).union_all())


# --- geometry and columns -----------------------------------------------------------------


def _geometries(gdf: gpd.GeoDataFrame, level: str, name: str, problems: list[str]) -> gpd.GeoSeries:
    geoms = shapely.force_2d(np.asarray(gdf.geometry.array))
    missing = np.array([g is None or g.is_empty for g in geoms], dtype=bool)
    out: list[BaseGeometry | None] = []
    bad: dict[int, str] = {}
    for i, geom in enumerate(geoms):
        if missing[i]:
            out.append(None)
            continue
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            out.append(shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom)
            continue
        part = polygonal(geom) if geom.geom_type == "GeometryCollection" else None
        if part is None or part.is_empty:
            bad[i] = geom.geom_type
            out.append(None)
        else:
            logger.warning(
                "%s, feature %d: kept only the polygons of its %s", name, i + 1, geom.geom_type
            )
            out.append(part)
    if missing.any():
        logger.warning(
            "%s, %s: no geometry; kept, and the topology report lists them",
            name,
            _rows(np.flatnonzero(missing)),
        )
    if bad:
        kinds = ", ".join(sorted(set(bad.values())))
        problems.append(
            f"{_rows(list(bad))} {'is' if len(bad) == 1 else 'are'} {kinds}, not polygons: "
            f"{level} boundaries must be polygons (in Google Earth draw them with 'Add "
            f"Polygon', not as paths or placemarks; in QGIS use a polygon layer)"
        )
    return gpd.GeoSeries(out, index=gdf.index, crs=gdf.crs)


def _detect_columns(
    gdf: gpd.GeoDataFrame,
    level: str,
    overrides: dict[str, str | None],
    problems: list[str],
) -> dict[str, str]:
    """Map each model column to the file header that holds it."""
    aliases = _ALIASES[level]
    id_col = f"{level}_id"
    headers = [str(c) for c in gdf.columns if c != gdf.geometry.name]
    by_norm: dict[str, str] = {}
    for header in headers:
        if _text(gdf[header]).notna().any():  # an empty column (a KML Name never set) is none
            by_norm.setdefault(normalise(header), header)
    found: dict[str, str] = {}
    explicit = [
        (id_col, "id_column", overrides["id"]),
        ("name", "name_column", overrides["name"]),
        (_PARENTS.get(level, ""), "parent_column", overrides["parent"]),
    ]
    for model_col, argument, asked in explicit:
        if asked is None:
            continue
        match = asked if asked in headers else by_norm.get(normalise(asked))
        if match is None:
            problems.append(
                f"{argument}={asked!r} is not a column of the file; its columns are: "
                f"{', '.join(headers) or 'none'}"
            )
        else:
            found[model_col] = match
    used = set(found.values())
    for model_col, names in aliases.items():
        if model_col in found:
            continue
        for alias in names:
            header_or_none = by_norm.get(alias)
            if header_or_none is not None and header_or_none not in used:
                found[model_col] = header_or_none
                used.add(header_or_none)
                break
    if id_col not in found and "name" not in found:
        problems.append(
            f"no id or name column found (looked for {', '.join(aliases[id_col][:5])}, "
            f"{', '.join(aliases['name'][:3])}, ...); its columns are: "
            f"{', '.join(headers) or 'none'}. Pass id_column= (and name_column=)"
        )
    return found


def _values(
    gdf: gpd.GeoDataFrame, level: str, columns: dict[str, str], problems: list[str]
) -> pd.DataFrame:
    id_col = f"{level}_id"
    out = pd.DataFrame(index=gdf.index)
    for model_col, header in columns.items():
        values = gdf[header]
        if model_col in ("population", "households"):
            out[model_col] = _counts(values, header, problems)
        elif model_col in ("valid_from", "valid_to"):
            out[model_col] = _dates(values, header, problems)
        else:
            out[model_col] = _text(values)
    if id_col not in out.columns and "name" in out.columns:
        names = out["name"]
        if names.notna().all() and names.is_unique:
            logger.info("no id column found; the names (%s) are used as ids", columns["name"])
            out[id_col] = names
        else:
            problems.append(
                f"no id column found and the names in {columns['name']!r} are "
                f"{'missing in some rows' if names.isna().any() else 'not unique'}, so they "
                f"cannot serve as ids: add an id column or pass id_column="
            )
            return out
    if id_col in out.columns:
        missing = np.flatnonzero(out[id_col].isna().to_numpy())
        if len(missing):
            header = columns.get(id_col, columns.get("name", id_col))
            problems.append(f"{_rows(missing)}, column {header!r}: the id is empty; fill it in")
    return out


def _text(values: pd.Series) -> pd.Series:
    def one(v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return pd.NA
        if isinstance(v, float | np.floating) and float(v).is_integer():
            return str(int(v))
        text = str(v).strip()
        return text or pd.NA

    return values.map(one).astype("string")


def _counts(values: pd.Series, header: str, problems: list[str]) -> pd.Series:
    text = _text(values)
    ok = text.isna() | text.str.fullmatch(r"\d+").fillna(False).astype(bool)
    bad = np.flatnonzero(~ok.to_numpy())
    if len(bad):
        examples = ", ".join(repr(str(text.iloc[i])) for i in bad[:3])
        problems.append(
            f"{_rows(bad)}, column {header!r}: {examples} {'is' if len(bad) == 1 else 'are'} "
            f"not whole numbers; write counts as plain digits without separators (1234)"
        )
    return pd.to_numeric(text.where(ok), errors="coerce").astype("Int64")


def _dates(values: pd.Series, header: str, problems: list[str]) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", dayfirst=True, format="mixed")
    bad = np.flatnonzero((parsed.isna() & values.notna()).to_numpy())
    if len(bad):
        problems.append(
            f"{_rows(bad)}, column {header!r}: not a date; write dates as 2025-07-01 or 01/07/2025"
        )
    return parsed


def _rows(positions: Iterable[int]) -> str:
    """``"features 2, 5 and 7"`` (1-based, as a person counts them), shortened when long."""
    numbers = [int(p) + 1 for p in positions]
    if len(numbers) == 1:
        return f"feature {numbers[0]}"
    shown = ", ".join(map(str, numbers[:_MAX_LISTED]))
    more = len(numbers) - _MAX_LISTED
    return f"features {shown} and {more} more" if more > 0 else f"features {shown}"
