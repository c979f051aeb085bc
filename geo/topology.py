"""The topology report: what is wrong with a layout of groups, zones and the ward.

Groups should tile their ward without overlaps or gaps, each inside one zone, and each zone
should be the union of its groups. :func:`topology_report` repairs what it can (invalid rings)
and lists every fault with its place, so that ward staff can fix the boundaries.
Areas are measured in the metric CRS of :func:`geo.crs.metric_crs`; pairs of groups are found
with a spatial index, so 10,000 groups take seconds.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, get_args

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from geo.config import STORAGE_CRS, TOPOLOGY_AREA_TOLERANCE_M2
from geo.crs import metric_crs
from geo.errors import InputError

__all__ = ["PROBLEM_KINDS", "ProblemKind", "TopologyReport", "polygonal", "topology_report"]

logger = logging.getLogger(__name__)

ProblemKind = Literal[
    "invalid_geometry",
    "empty_geometry",
    "duplicate_id",
    "overlap",
    "gap",
    "outside_ward",
    "no_zone",
    "several_zones",
    "zone_mismatch",
]
#: Every kind of problem, in the order the report lists them.
PROBLEM_KINDS: tuple[ProblemKind, ...] = get_args(ProblemKind)
_COLUMNS = ["kind", "ids", "area_m2", "message"]
_MAX_NAMED = 6
_SLIVER_M = 0.01


@dataclass(frozen=True)
class TopologyReport:
    """The repaired groups and the problems found in them.

    Attributes
    ----------
    groups
        The input groups with invalid geometries repaired (polygonal parts only), EPSG:4326.
    problems
        One row per fault, EPSG:4326: ``kind`` (one of :data:`PROBLEM_KINDS`), ``ids`` (the
        groups concerned, comma-separated; the zone for a zone that is not the union of its
        groups), ``area_m2``, ``message`` (what is wrong and what to do) and ``geometry`` (the
        place of the fault: the overlap, the gap, the part outside the ward...).
    """

    groups: gpd.GeoDataFrame
    problems: gpd.GeoDataFrame

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return self.problems.empty

    def summary(self) -> str:
        """One line per kind of problem, with its count and area.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> x, y = 586_000, 2_324_000  # metres in EPSG:5897, in Hà Nội
        >>> groups = gpd.GeoDataFrame(
        ...     {"group_id": ["G1", "G2"]},
        ...     geometry=[box(x, y, x + 100, y + 100), box(x + 90, y, x + 200, y + 100)],
        ...     crs=5897,
        ... )
        >>> print(topology_report(groups).summary())
        overlap: 1 (1,000 m²)
        """
        if self.ok:
            return f"No topology problems in {len(self.groups)} groups."
        lines = []
        for kind in PROBLEM_KINDS:
            rows = self.problems[self.problems["kind"] == kind]
            if len(rows):
                lines.append(f"{kind}: {len(rows)} ({_m2(float(rows['area_m2'].sum()))})")
        return "\n".join(lines)


def topology_report(
    groups: gpd.GeoDataFrame,
    *,
    ward: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    zones: gpd.GeoDataFrame | None = None,
    area_tolerance_m2: float = TOPOLOGY_AREA_TOLERANCE_M2,
) -> TopologyReport:
    """Check that groups tile the ward, one zone each, and report every fault.

    Parameters
    ----------
    groups
        Group polygons in any CRS, with a ``group_id`` column (else the index labels them) and
        optionally ``zone_id``.
    ward
        The ward: a shapely geometry in EPSG:4326, or a GeoSeries / GeoDataFrame in any CRS
        (its union). Without it, gaps are the holes enclosed by groups, and nothing is outside.
    zones
        Zone polygons with a ``zone_id`` column. When given, each group must lie in one zone,
        the one its ``zone_id`` names (when the groups have that column filled), and each zone
        must be the union of its groups.
    area_tolerance_m2
        Overlaps, gaps and parts smaller than this are digitising noise, not faults.

    Returns
    -------
    TopologyReport
        The repaired groups and the problems; ``report.ok`` when there are none.

    Notes
    -----
    A fault is reported once: a zone's difference from the union of its groups leaves out the
    areas already reported as gaps or as groups in the wrong zone.
    """
    for frame, what in ((groups, "groups"), (zones, "zones")):
        if frame is not None and not isinstance(frame, gpd.GeoDataFrame):
            raise InputError(f"{what} must be a GeoDataFrame, not {type(frame).__name__}.")
        if frame is not None and frame.crs is None:
            raise InputError(f"{what} has no CRS; set it ({what}.set_crs(4326) for lon/lat).")
    if not area_tolerance_m2 >= 0:
        raise InputError(f"area_tolerance_m2={area_tolerance_m2!r}: give a number of m² ≥ 0.")

    labels = _labels(groups, "group_id")
    repaired, repairs = _repair(np.asarray(groups.geometry.array), labels, "Group")
    fixed = groups.set_geometry(gpd.GeoSeries(repaired, index=groups.index, crs=groups.crs))
    fixed = fixed.to_crs(STORAGE_CRS)
    metric = _metric_crs(fixed, ward, zones)
    g = _metric_array(fixed, metric)
    # the faulty shapes as drawn, moved to the metric CRS like every other fault
    drawn = gpd.GeoSeries([p.geometry for p in repairs], crs=groups.crs).to_crs(metric)
    problems = [
        replace(p, geometry=shape, area_m2=float(shapely.area(g[p.row])))
        for p, shape in zip(repairs, drawn.array, strict=True)
    ]
    present = ~shapely.is_empty(g)
    ward_m = None if ward is None else _metric_union(ward, metric, what="ward")

    problems += _duplicates(groups, g)
    problems += _overlaps(g, present, labels, area_tolerance_m2)
    gaps = _gaps(g, present, labels, ward_m, area_tolerance_m2)
    problems += gaps
    if ward_m is not None:
        problems += _outside(g, present, labels, ward_m, area_tolerance_m2)
    if zones is not None:
        problems += _zones(groups, g, present, labels, zones, metric, gaps, area_tolerance_m2)
    return TopologyReport(groups=fixed, problems=_assemble(problems, metric))


def polygonal(geometry: BaseGeometry | None) -> shapely.MultiPolygon:
    """The polygonal part of ``geometry`` as a MultiPolygon (empty when it has none).

    Examples
    --------
    >>> from shapely.geometry import GeometryCollection, Point, box
    >>> polygonal(GeometryCollection([box(0, 0, 1, 1), Point(5, 5)])).wkt
    'MULTIPOLYGON (((1 0, 1 1, 0 1, 0 0, 1 0)))'
    """
    stack = [] if geometry is None else [geometry]
    parts: list[shapely.Polygon] = []
    while stack:
        geom = stack.pop()
        if geom is None or geom.is_empty:
            continue
        if isinstance(geom, shapely.Polygon):
            parts.append(geom)
        elif geom.geom_type in ("MultiPolygon", "GeometryCollection"):
            stack.extend(shapely.get_parts(geom)[::-1])
    if len(parts) <= 1:
        return shapely.MultiPolygon(parts)
    merged = shapely.MultiPolygon(parts)
    if not merged.is_valid:  # parts of a collection may overlap
        merged = polygonal(shapely.union_all(parts))
    return merged


# --- steps --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    kind: ProblemKind
    ids: str
    area_m2: float
    message: str
    geometry: BaseGeometry | None  # in the metric CRS
    row: int = -1  # the position of the feature it is about, for repairs


def _repair(geoms: np.ndarray, labels: np.ndarray, noun: str) -> tuple[np.ndarray, list[_Problem]]:
    """Make every geometry a valid MultiPolygon; report those that were not."""
    out = np.empty(len(geoms), dtype=object)
    problems = []
    valid = shapely.is_valid(geoms)
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            out[i] = shapely.MultiPolygon()
            problems.append(
                _Problem(
                    "empty_geometry",
                    labels[i],
                    0.0,
                    f"{noun} {labels[i]} has no geometry: draw its boundary or delete the row.",
                    None,
                    i,
                )
            )
            continue
        if valid[i] and geom.geom_type in ("Polygon", "MultiPolygon"):
            out[i] = geom if geom.geom_type == "MultiPolygon" else shapely.MultiPolygon([geom])
            continue
        fixed = polygonal(geom if valid[i] else shapely.make_valid(geom))
        out[i] = fixed
        if fixed.is_empty:
            problems.append(
                _Problem(
                    "empty_geometry" if valid[i] else "invalid_geometry",
                    labels[i],
                    0.0,
                    f"{noun} {labels[i]} is a {geom.geom_type} with no area"
                    f"{'' if valid[i] else ' (' + shapely.is_valid_reason(geom) + ')'}: "
                    f"redraw it as a polygon.",
                    geom,
                    i,
                )
            )
            continue
        why = (
            f"kept only the polygons of its {geom.geom_type}"
            if valid[i]
            else f"was invalid ({shapely.is_valid_reason(geom)}) and was repaired"
        )
        problems.append(
            _Problem(
                "invalid_geometry",
                labels[i],
                float("nan"),
                f"{noun} {labels[i]} {why}: check the repaired shape on the map, and redraw "
                f"the boundary without crossing lines.",
                geom,
                i,
            )
        )
    return out, problems


def _duplicates(groups: gpd.GeoDataFrame, g: np.ndarray) -> list[_Problem]:
    if "group_id" not in groups.columns:
        return []
    ids = groups["group_id"].astype("string").reset_index(drop=True)
    problems = []
    for gid, rows in ids[ids.duplicated(keep=False)].groupby(ids, sort=True).groups.items():
        positions = [int(r) for r in rows]
        shape = polygonal(_union(g[positions]))
        numbers = ", ".join(str(p + 1) for p in positions)
        problems.append(
            _Problem(
                "duplicate_id",
                str(gid),
                float(shapely.area(shape)),
                f"{len(positions)} groups share the id {gid} (rows {numbers}): give each group "
                f"its own id.",
                shape,
            )
        )
    return problems


def _overlaps(g: np.ndarray, present: np.ndarray, labels: np.ndarray, tol: float) -> list[_Problem]:
    idx = np.flatnonzero(present)
    if len(idx) < 2:
        return []
    tree = shapely.STRtree(g[idx])
    left, right = tree.query(g[idx], predicate="intersects")
    keep = left < right
    a, b = idx[left[keep]], idx[right[keep]]
    inner = shapely.relate_pattern(g[a], g[b], "T********")
    a, b = a[inner], b[inner]
    shared = shapely.intersection(g[a], g[b])
    big = shapely.area(shared) > tol
    a, b, shared = a[big], b[big], _solid(shared[big])
    areas = shapely.area(shared)
    problems = []
    for i, j, shape, area in zip(a, b, shared, areas, strict=True):
        if area > tol:
            problems.append(
                _Problem(
                    "overlap",
                    f"{labels[i]},{labels[j]}",
                    float(area),
                    f"Groups {labels[i]} and {labels[j]} overlap by {_m2(area)}: redraw their "
                    f"shared boundary so that each place belongs to one group.",
                    shape,
                )
            )
    return problems


def _gaps(
    g: np.ndarray,
    present: np.ndarray,
    labels: np.ndarray,
    ward_m: BaseGeometry | None,
    tol: float,
) -> list[_Problem]:
    idx = np.flatnonzero(present)
    cover = _union(g[idx])
    if ward_m is not None:
        hollow = shapely.difference(ward_m, cover)
        where = "inside the ward"
    else:
        rings = [r for part in shapely.get_parts(cover) for r in part.interiors]
        hollow = shapely.difference(_union([shapely.Polygon(r) for r in rings]), cover)
        where = "enclosed by groups"
    parts = shapely.get_parts(_solid(np.array([hollow], dtype=object))[0])
    parts = parts[shapely.area(parts) > tol]
    if len(parts) == 0:
        return []
    tree = shapely.STRtree(g[idx])
    hole, near = tree.query(parts, predicate="dwithin", distance=0.01)
    neighbours: dict[int, list[str]] = defaultdict(list)
    for h, n in zip(hole, near, strict=True):
        neighbours[int(h)].append(str(labels[idx[n]]))
    problems = []
    for k, part in enumerate(parts):
        names = sorted(set(neighbours[k]))
        area = float(shapely.area(part))
        problems.append(
            _Problem(
                "gap",
                ",".join(names),
                area,
                f"A gap of {_m2(area)} {where} belongs to no group"
                f"{' (it borders ' + _name_list(names) + ')' if names else ''}: extend a "
                f"neighbouring group to cover it.",
                shapely.MultiPolygon([part]),
            )
        )
    return problems


def _outside(
    g: np.ndarray, present: np.ndarray, labels: np.ndarray, ward_m: BaseGeometry, tol: float
) -> list[_Problem]:
    shapely.prepare(ward_m)
    idx = np.flatnonzero(present & ~shapely.covered_by(g, ward_m))
    if len(idx) == 0:
        return []
    outer = shapely.difference(g[idx], ward_m)
    big = shapely.area(outer) > tol
    idx, outer = idx[big], _solid(outer[big])
    areas = shapely.area(outer)
    totals = shapely.area(g[idx])
    problems = []
    for i, shape, area, total in zip(idx, outer, areas, totals, strict=True):
        if area > tol:
            problems.append(
                _Problem(
                    "outside_ward",
                    str(labels[i]),
                    float(area),
                    f"Group {labels[i]} has {_m2(area)} ({area / total:.0%}) outside the ward: "
                    f"fix its boundary, or check that it belongs to this ward.",
                    shape,
                )
            )
    return problems


def _zones(
    groups: gpd.GeoDataFrame,
    g: np.ndarray,
    present: np.ndarray,
    labels: np.ndarray,
    zones: gpd.GeoDataFrame,
    metric: CRS,
    gaps: list[_Problem],
    tol: float,
) -> list[_Problem]:
    zone_labels = _labels(zones, "zone_id")
    z_raw = _metric_array(zones, metric)
    z, problems = _repair(z_raw, zone_labels, "Zone")
    problems = [replace(p, area_m2=float(shapely.area(z[p.row]))) for p in problems]
    known = set(zone_labels)
    attr = _zone_attribute(groups)

    idx = np.flatnonzero(present)
    tree = shapely.STRtree(z)
    gi, zi = tree.query(g[idx], predicate="intersects")
    shared = shapely.intersection(g[idx[gi]], z[zi])
    big = shapely.area(shared) > tol
    gi, zi = gi[big], zi[big]
    shares = shapely.area(_solid(shared[big]))
    inside: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for i, k, area in zip(idx[gi], zi, shares, strict=True):
        if area > tol:
            inside[int(i)].append((float(area), int(k)))

    misplaced: list[int] = []
    for i in idx:
        found = sorted(inside.get(int(i), []), reverse=True)
        in_zones = [str(zone_labels[k]) for _, k in found]
        own = None if attr is None else attr[i]
        problem = _zone_problem(str(labels[i]), own, in_zones, known, attr is not None)
        if problem is None:
            continue
        kind, message = problem
        misplaced.append(int(i))
        if kind == "several_zones":
            home = own if own in in_zones else in_zones[0]
            others = [k for _, k in found if str(zone_labels[k]) != home]
            shape = _solid(np.array([shapely.intersection(g[i], _union(z[others]))]))[0]
        else:
            shape = g[i]
        problems.append(_Problem(kind, str(labels[i]), float(shapely.area(shape)), message, shape))

    if attr is not None:
        explained = _union([*(p.geometry for p in gaps), *g[misplaced]])
        problems += _zone_unions(g, present, labels, attr, z, zone_labels, explained, tol)
    return problems


def _zone_problem(
    label: str, own: str | None, in_zones: list[str], known: set[str], has_attribute: bool
) -> tuple[ProblemKind, str] | None:
    unknown = f" ({own} is not in the zones layer)" if own is not None and own not in known else ""
    if len(in_zones) >= 2:
        return "several_zones", (
            f"Group {label} lies in zones {_name_list(in_zones)}: redraw the zone boundaries "
            f"so that it lies in one zone"
            + (f" ({own}, as its zone_id says)." if own in in_zones else ".")
        )
    if not in_zones:
        if not has_attribute or own is None:
            why = "" if not has_attribute else " and has no zone_id"
            return "no_zone", (
                f"Group {label} lies in no zone{why}: extend a zone to cover it"
                f"{' and set its zone_id' if has_attribute else ''}."
            )
        return "no_zone", (
            f"Group {label} lies in no zone, though its zone_id says {own}{unknown}: redraw "
            f"zone {own} to cover it, or correct its zone_id."
        )
    if not has_attribute:
        return None
    if own is None:
        return "no_zone", (
            f"Group {label} has no zone_id; it lies in zone {in_zones[0]}: set its zone_id "
            f"to {in_zones[0]}."
        )
    if own != in_zones[0]:
        return "zone_mismatch", (
            f"Group {label}'s zone_id says {own}{unknown}, but it lies in zone {in_zones[0]}: "
            f"correct its zone_id or the zone boundaries."
        )
    return None


def _zone_unions(
    g: np.ndarray,
    present: np.ndarray,
    labels: np.ndarray,
    attr: np.ndarray,
    z: np.ndarray,
    zone_labels: np.ndarray,
    explained: BaseGeometry,
    tol: float,
) -> list[_Problem]:
    problems = []
    for k, zone in enumerate(z):
        if zone.is_empty:
            continue
        members = np.flatnonzero(present & (attr == zone_labels[k]))
        mismatch = shapely.difference(
            shapely.symmetric_difference(zone, _union(g[members])), explained
        )
        if shapely.area(mismatch) <= tol:
            continue
        mismatch = _solid(np.array([mismatch], dtype=object))[0]
        area = float(shapely.area(mismatch))
        if area <= tol:
            continue
        member_names = [str(labels[i]) for i in members]
        problems.append(
            _Problem(
                "zone_mismatch",
                str(zone_labels[k]),
                area,
                f"Zone {zone_labels[k]} is not the union of its groups "
                f"({_name_list(member_names) if member_names else 'it has none'}): "
                f"{_m2(area)} differ; redraw the zone as the union of its groups.",
                mismatch,
            )
        )
    return problems


# --- helpers ------------------------------------------------------------------------------


def _solid(geoms: np.ndarray) -> np.ndarray:
    """The polygonal parts of ``geoms`` without slivers thinner than 2 cm.

    Reprojection moves a vertex on a shared edge by nanometres, which leaves long slivers of
    no width hanging off real gaps and overlaps; an opening by 1 cm removes them.
    """
    opened = shapely.buffer(
        shapely.buffer(geoms, -_SLIVER_M, join_style="mitre"), _SLIVER_M, join_style="mitre"
    )
    # the opening may shave a whisker off the fault: keep what it removed that lies inside
    return np.array([polygonal(x) for x in shapely.intersection(opened, geoms)], dtype=object)


def _assemble(problems: list[_Problem], metric: CRS) -> gpd.GeoDataFrame:
    order = {kind: n for n, kind in enumerate(PROBLEM_KINDS)}
    problems = sorted(problems, key=lambda p: order[p.kind])
    frame = pd.DataFrame(
        {
            "kind": pd.Series([p.kind for p in problems], dtype="string"),
            "ids": pd.Series([p.ids for p in problems], dtype="string"),
            "area_m2": pd.Series([p.area_m2 for p in problems], dtype="float64"),
            "message": pd.Series([p.message for p in problems], dtype="string"),
        },
        columns=_COLUMNS,
    )
    shapes = gpd.GeoSeries([p.geometry for p in problems], crs=metric).to_crs(STORAGE_CRS)
    return gpd.GeoDataFrame(frame, geometry=shapes.values, crs=STORAGE_CRS)


def _labels(frame: gpd.GeoDataFrame, column: str) -> np.ndarray:
    """How to name each row: its id, else its row number; duplicated ids get the row too."""
    if column in frame.columns:
        ids = frame[column].astype("string")
    else:
        ids = pd.Series(frame.index.astype(str), index=frame.index, dtype="string")
    duplicated = ids.duplicated(keep=False).to_numpy()
    out = np.empty(len(frame), dtype=object)
    for n, (value, dup) in enumerate(zip(ids.to_numpy(), duplicated, strict=True)):
        if value is pd.NA or value is None:
            out[n] = f"row {n + 1}"
        else:
            out[n] = f"{value} (row {n + 1})" if dup else str(value)
    return out


def _zone_attribute(groups: gpd.GeoDataFrame) -> np.ndarray | None:
    """The groups' zone ids as strings (None where empty), or None when the column is unused."""
    if "zone_id" not in groups.columns or groups["zone_id"].isna().all():
        return None
    values = groups["zone_id"].astype("string")
    return np.array([None if v is pd.NA else str(v) for v in values], dtype=object)


def _metric_crs(
    groups: gpd.GeoDataFrame,
    ward: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None,
    zones: gpd.GeoDataFrame | None,
) -> CRS:
    for candidate in (groups, ward, zones):
        if candidate is None:
            continue
        if isinstance(candidate, BaseGeometry):
            candidate = gpd.GeoSeries([candidate], crs=STORAGE_CRS)
        if candidate.crs is None:
            continue
        geoms = candidate.geometry
        geoms = geoms[~(geoms.isna() | geoms.is_empty)]
        if len(geoms):
            return metric_crs(geoms)
    return CRS.from_user_input("EPSG:3857")  # nothing to measure: any CRS in metres will do


def _metric_array(frame: gpd.GeoDataFrame, metric: CRS) -> np.ndarray:
    """Geometries in ``metric`` as an array; reprojection may break validity, so repair."""
    geoms = np.asarray(frame.geometry.to_crs(metric).array, dtype=object)
    geoms = np.array([shapely.MultiPolygon() if x is None else x for x in geoms], dtype=object)
    broken = ~shapely.is_valid(geoms)
    for i in np.flatnonzero(broken):
        geoms[i] = polygonal(shapely.make_valid(geoms[i]))
    return geoms


def _metric_union(
    obj: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame, metric: CRS, *, what: str
) -> BaseGeometry:
    if isinstance(obj, BaseGeometry):
        series = gpd.GeoSeries([obj], crs=STORAGE_CRS)
    else:
        if obj.crs is None:
            raise InputError(f"{what} has no CRS; set it ({what}.set_crs(4326) for lon/lat).")
        series = gpd.GeoSeries(obj.geometry)
    geoms = np.asarray(series.to_crs(metric).array, dtype=object)
    return _union([polygonal(shapely.make_valid(x)) for x in geoms if x is not None])


def _union(geoms: Sequence[BaseGeometry | None] | np.ndarray) -> BaseGeometry:
    parts = [x for x in geoms if x is not None and not x.is_empty]
    if not parts:
        return shapely.MultiPolygon()
    try:
        return shapely.union_all(parts)
    except shapely.errors.GEOSException:  # rare robustness failure: snap to a 1 mm grid
        logger.warning("union failed; retrying on a 1 mm grid", exc_info=True)
        return shapely.union_all(parts, grid_size=0.001)


def _name_list(names: Sequence[str]) -> str:
    if len(names) > _MAX_NAMED:
        return ", ".join(names[:_MAX_NAMED]) + f" and {len(names) - _MAX_NAMED} more"
    if len(names) > 1:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return names[0] if names else ""


def _m2(area: float) -> str:
    return f"{area:,.1f} m²" if area < 10 else f"{area:,.0f} m²"
