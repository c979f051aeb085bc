"""Rates per group or zone for a period, the change since the previous period, and the group
hotspots (Gi* or local Moran) built on those rates.

Three denominators, because each answers a different question: residents (``per_1000``: how
heavy is the load on the people who live there), area (``per_km2``) and street length
(``per_km_street``: most violations happen on the street, and a group with long frontages
offers more places for them). Street length is measured inside each unit in metres; a street
that runs along the edge between two units (group boundaries often follow streets) is split
equally between them, instead of going to one side or the other by rounding luck.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._timeseries import check_period, in_period, local_stamp, local_times
from geo.crs import metric_crs
from geo.errors import InputError
from geo.model import CATEGORIES
from geo.spatialstats import ALPHA, contiguity_weights, gi_star, local_moran

__all__ = ["area_rates", "group_hotspots", "rates_by_category"]

log = logging.getLogger(__name__)

Level = Literal["group", "zone"]
RateValue = Literal["count", "per_1000", "per_km2", "per_km_street"]

#: A street this close (m) to a unit's edge runs along it and is shared with the unit opposite.
EDGE_TOLERANCE_M = 0.5
#: Streets are cut into pieces at most this long (m) before being shared out between units.
_PIECE_M = 10.0
_FIGURES = ("count", "per_1000", "per_km2", "per_km_street")


def area_rates(
    records: pd.DataFrame,
    groups: gpd.GeoDataFrame,
    *,
    level: Level = "group",
    zones: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    start: object = None,
    end: object = None,
    categories: Sequence[str] | None = None,
    time_col: str = "observed_at",
) -> gpd.GeoDataFrame:
    """Count records per group (or zone) in a period and turn the counts into rates.

    Parameters
    ----------
    records
        Records with ``group_id`` (``zone_id`` for zones; derived from the groups when absent),
        ``time_col`` when a period is given, and ``category`` when ``categories`` is.
    groups
        Group polygons with ``group_id``, ``population`` and (for zones) ``zone_id``.
    level
        ``"group"``, or ``"zone"``: groups aggregated by ``zone_id``, population summed (NA
        when any group of the zone lacks it), drawn with ``zones`` when given, else with the
        union of the zone's groups.
    zones
        Zone polygons with ``zone_id`` (and ``name``); only for ``level="zone"``.
    streets
        Street lines (``SCHEMAS["streets"]``); without them ``street_km`` and
        ``per_km_street`` are NA.
    start, end
        The period [start, end) (naive values are local time); ``None`` leaves that side
        open. The previous period is the same number of calendar months before when both are
        month starts (October → September), else the same length just before; with a side
        open there is no previous period and its columns are NA.
    categories
        Only count records of these category codes.
    time_col
        The timestamp column.

    Returns
    -------
    GeoDataFrame
        One row per unit, in EPSG:4326, every unit present (0 when it has no record): the
        unit's columns, ``population``, ``area_km2``, ``street_km``, ``count``, ``per_1000``
        (NA without population), ``per_km2``, ``per_km_street`` (NA without streets), the same
        four with ``_prev`` for the previous period, ``change`` (count minus previous count)
        and ``change_pct`` (NA when the previous count is 0). ``attrs["period"]`` and
        ``attrs["previous"]`` hold the two (start, end) pairs.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> g = gpd.GeoDataFrame({"group_id": ["A", "B"], "population": [2000, 500]},
    ...     geometry=[box(105.83, 21.0, 105.84, 21.01), box(105.84, 21.0, 105.85, 21.01)], crs=4326)
    >>> recs = pd.DataFrame({"group_id": ["A", "A", "B"], "observed_at": pd.to_datetime(
    ...     ["2025-10-02", "2025-09-12", "2025-10-30"])})
    >>> r = area_rates(recs, g, start="2025-10-01", end="2025-11-01")
    >>> r["count"].tolist(), r["per_1000"].tolist(), r["count_prev"].tolist()
    ([1, 1], [0.5, 2.0], [1, 0])
    >>> r["change"].tolist(), r["change_pct"].tolist()
    ([0, 1], [0.0, <NA>])
    """
    units, key = _units(groups, level=level, zones=zones)
    lo, hi = local_stamp(start, name="start"), local_stamp(end, name="end")
    check_period(lo, hi)
    previous = _previous(lo, hi)
    ids = _record_units(records, groups, key=key, categories=categories)
    times = local_times(records, time_col) if (lo is not None or hi is not None) else None

    area_km2, street_km = _denominators(units, streets)
    population = units["population"]
    current = _count(ids, times, lo, hi, units[key])
    out = units.copy()
    out["area_km2"] = area_km2
    out["street_km"] = street_km
    for name, values in _figures(current, population, area_km2, street_km).items():
        out[name] = values
    if previous is not None:
        before = _count(ids, times, *previous, units[key])
        prev_figures = _figures(before, population, area_km2, street_km)
    else:
        missing = pd.Series(pd.NA, index=units.index, dtype="Float64")
        prev_figures = {name: missing for name in _FIGURES}
        prev_figures["count"] = missing.astype("Int64")
    for name, values in prev_figures.items():
        out[f"{name}_prev"] = values
    out["change"] = (out["count"] - out["count_prev"]).astype("Int64")
    base = out["count_prev"].astype("Float64")
    out["change_pct"] = (out["change"] / base.where(base > 0) * 100).astype("Float64")
    out.attrs["period"] = (lo, hi)
    out.attrs["previous"] = previous
    return out


def rates_by_category(
    records: pd.DataFrame,
    groups: gpd.GeoDataFrame,
    *,
    level: Level = "group",
    zones: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    start: object = None,
    end: object = None,
    categories: Sequence[str] | None = None,
    time_col: str = "observed_at",
) -> pd.DataFrame:
    """Counts and rates per unit and violation category for a period (long format).

    Arguments as for :func:`area_rates`; ``categories`` also fixes which categories are
    listed (default: every category of the model, then any other code found in the records).

    Returns
    -------
    DataFrame
        One row per unit and category, zeros included, sorted by unit then category order:
        the unit id, ``category``, ``count``, ``per_1000``, ``per_km2``, ``per_km_street``
        and ``share`` (of the unit's records in the period; NA when it has none).
    """
    units, key = _units(groups, level=level, zones=zones)
    lo, hi = local_stamp(start, name="start"), local_stamp(end, name="end")
    check_period(lo, hi)
    ids = _record_units(records, groups, key=key, categories=categories)
    if "category" not in records.columns:
        raise InputError("records lack the column 'category' needed for the category breakdown.")
    times = local_times(records, time_col) if (lo is not None or hi is not None) else None
    keep = ids.notna().to_numpy() & (in_period(times, lo, hi) if times is not None else True)
    codes = records["category"].astype("string")
    listed = list(categories) if categories is not None else _all_categories(codes)

    area_km2, street_km = _denominators(units, streets)
    table = pd.crosstab(ids[keep], codes[keep]).reindex(
        index=units[key], columns=listed, fill_value=0
    )
    n_cat = len(listed)
    counts = pd.Series(table.to_numpy().ravel(), dtype="int64")
    repeat = np.repeat(np.arange(len(units)), n_cat)
    figures = _figures(
        counts,
        units["population"].iloc[repeat].reset_index(drop=True),
        area_km2.iloc[repeat].reset_index(drop=True),
        street_km.iloc[repeat].reset_index(drop=True),
    )
    totals = pd.Series(table.to_numpy().sum(axis=1), dtype="Float64").iloc[repeat]
    share = counts.astype("Float64") / totals.where(totals > 0).reset_index(drop=True)
    return pd.DataFrame(
        {
            key: units[key].iloc[repeat].reset_index(drop=True),
            "category": pd.array(np.tile(listed, len(units)), dtype="string"),
            **figures,
            "share": share,
        }
    )


def group_hotspots(
    rates: gpd.GeoDataFrame,
    *,
    value: RateValue = "per_1000",
    method: Literal["gi", "moran"] = "gi",
    permutations: int | None = None,
    alpha: float = ALPHA,
    seed: int = 0,
) -> gpd.GeoDataFrame:
    """Hot and cold groups (or zones) of a rate: Gi* or local Moran on queen contiguity.

    Parameters
    ----------
    rates
        The output of :func:`area_rates` (or any polygons with the ``value`` column).
    value
        The figure to test. Units without it (``per_1000`` where the population is unknown,
        ``per_km_street`` without streets) are refused, naming them: a missing rate is not
        zero, and filling it would make a cold spot out of nothing. Use ``value="per_km2"``
        (always defined) or fill the populations.
    method
        ``"gi"``: Getis–Ord Gi* (hot/cold clusters); ``"moran"``: local Moran's I (clusters
        and outliers, as quadrants).
    permutations, alpha, seed
        As in :func:`geo.spatialstats.gi_star`: permutation inference, FDR-adjusted
        significance level, reproducible seed.

    Returns
    -------
    GeoDataFrame
        ``rates`` with ``neighbours`` (queen neighbours; a unit without any is never
        significant) and, for ``"gi"``, ``gi``, ``z``, ``p``, ``p_fdr``, ``hot``, ``cold``;
        for ``"moran"``, ``i``, ``z``, ``p``, ``p_fdr``, ``quadrant`` (HH, LL, HL, LH or ns).
    """
    if not isinstance(rates, gpd.GeoDataFrame):
        raise InputError("rates must be a GeoDataFrame of polygons (the output of area_rates).")
    if value not in rates.columns:
        raise InputError(f"rates lack the column {value!r}; compute them with area_rates first.")
    if method not in ("gi", "moran"):
        raise InputError(f"method must be 'gi' or 'moran', got {method!r}.")
    values = pd.to_numeric(rates[value], errors="coerce").astype("Float64")
    if values.isna().any():
        key = next((c for c in ("group_id", "zone_id") if c in rates.columns), None)
        missing = rates.loc[values.isna().to_numpy(), key] if key else values.index[values.isna()]
        shown = ", ".join(str(m) for m in list(missing)[:10])
        raise InputError(
            f"{value} is missing for {int(values.isna().sum())} unit(s) ({shown}); "
            f"{_why_missing(value)} Use value='per_km2' (always defined) or value='count'."
        )
    w = contiguity_weights(rates)
    test = gi_star if method == "gi" else local_moran
    stats = test(values.to_numpy(dtype=float), w, permutations=permutations, alpha=alpha, seed=seed)
    out = rates.copy()
    out["neighbours"] = np.array([w.cardinalities[i] for i in range(w.n)], dtype="int64")
    for column in stats.columns:
        out[column] = stats[column].to_numpy()
    return out


def _units(
    groups: gpd.GeoDataFrame, *, level: Level, zones: gpd.GeoDataFrame | None
) -> tuple[gpd.GeoDataFrame, str]:
    """The units (groups or zones) with ``population``, in EPSG:4326, and their id column."""
    missing = {"group_id", "geometry"} - set(groups.columns)
    if missing:
        raise InputError(f"groups lack the column(s) {', '.join(sorted(missing))}.")
    if groups.crs is None:
        raise InputError("groups have no CRS; set one (EPSG:4326 for the store's groups).")
    population = (
        pd.to_numeric(groups["population"], errors="coerce").astype("Float64")
        if "population" in groups.columns
        else pd.Series(pd.NA, index=groups.index, dtype="Float64")
    )
    if level == "group":
        units = groups.to_crs(4326)
        units["population"] = population.round().astype("Int64")
        return units.reset_index(drop=True), "group_id"
    if level != "zone":
        raise InputError(f"level must be 'group' or 'zone', got {level!r}.")
    if "zone_id" not in groups.columns:
        raise InputError("groups lack the column zone_id needed for level='zone'.")
    zone_of = groups["zone_id"].astype("string")
    # A zone's population is known only when every one of its groups' is.
    sums = population.groupby(zone_of).sum()
    sums[population.isna().groupby(zone_of).any()] = pd.NA
    if zones is not None:
        if "zone_id" not in zones.columns or zones.crs is None:
            raise InputError("zones need a zone_id column and a CRS.")
        units = zones.to_crs(4326).reset_index(drop=True)
    else:
        if zone_of.isna().any():
            log.warning("%d group(s) without zone_id left out of the zones", zone_of.isna().sum())
        shapes = groups.loc[zone_of.notna().to_numpy(), ["zone_id", "geometry"]].to_crs(4326)
        units = shapes.dissolve(by="zone_id", as_index=False).sort_values("zone_id")
        units = units.reset_index(drop=True)
    units["zone_id"] = units["zone_id"].astype("string")
    units["population"] = units["zone_id"].map(sums).astype("Float64").round().astype("Int64")
    return units, "zone_id"


def _record_units(
    records: pd.DataFrame,
    groups: gpd.GeoDataFrame,
    *,
    key: str,
    categories: Sequence[str] | None,
) -> pd.Series:
    """Each record's unit id, NA for records left out (no unit, or another category)."""
    if key in records.columns:
        ids = records[key].astype("string")
    elif key == "zone_id" and "group_id" in records.columns:
        zone_of = dict(zip(groups["group_id"].astype(str), groups["zone_id"], strict=False))
        ids = records["group_id"].astype("string").map(zone_of).astype("string")
    else:
        raise InputError(
            f"records lack the column {key!r}; assign them to groups at ingest (geo.assign)."
        )
    if categories is None:
        return ids
    if "category" not in records.columns:
        raise InputError("records lack the column 'category' needed to filter by categories.")
    codes = records["category"].astype("string")
    unknown = sorted(set(categories) - set(CATEGORIES) - set(codes.dropna()))
    if unknown:
        raise InputError(
            f"unknown category code(s) {', '.join(unknown)}; use {', '.join(CATEGORIES)}."
        )
    return ids.where(codes.isin(list(categories)).to_numpy(dtype=bool, na_value=False))


def _previous(
    start: pd.Timestamp | None, end: pd.Timestamp | None
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if start is None or end is None:
        return None
    if _month_start(start) and _month_start(end):
        months = (end.year - start.year) * 12 + end.month - start.month
        return start - pd.DateOffset(months=months), start
    return start - (end - start), start


def _month_start(ts: pd.Timestamp) -> bool:
    return bool(ts.day == 1 and ts == ts.normalize())


def _count(
    ids: pd.Series,
    times: pd.Series | None,
    start: pd.Timestamp | None,
    end: pd.Timestamp | None,
    unit_ids: pd.Series,
) -> pd.Series:
    keep = ids.notna().to_numpy()
    if times is not None:
        keep = keep & in_period(times, start, end)
    counts = ids[keep].value_counts()
    stray = int(counts.drop(unit_ids, errors="ignore").sum())
    if stray:
        log.debug("%d record(s) name a unit that is not among the units; not counted", stray)
    return unit_ids.map(counts).fillna(0).astype("int64").reset_index(drop=True)


def _figures(
    count: pd.Series, population: pd.Series, area_km2: pd.Series, street_km: pd.Series
) -> dict[str, pd.Series]:
    n = count.to_numpy(dtype=float)

    def per(denominator: pd.Series, scale: float = 1.0) -> pd.Series:
        d = denominator.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(d > 0, n / d * scale, np.nan)
        return pd.Series(rate, index=count.index, dtype="Float64")  # NaN becomes NA

    return {
        "count": count.astype("int64"),
        "per_1000": per(population, 1000.0),
        "per_km2": per(area_km2),
        "per_km_street": per(street_km),
    }


def _denominators(
    units: gpd.GeoDataFrame, streets: gpd.GeoDataFrame | None
) -> tuple[pd.Series, pd.Series]:
    """Area (km²) and street length (km, NA without streets) of each unit."""
    index = pd.RangeIndex(len(units))
    if len(units) == 0:
        return pd.Series([], dtype="float64"), pd.Series([], dtype="Float64")
    crs = metric_crs(units)
    shapes = units.geometry.to_crs(crs).to_numpy()
    area = pd.Series(shapely.area(shapes) / 1e6, index=index, dtype="float64")
    if streets is None:
        return area, pd.Series(pd.NA, index=index, dtype="Float64")
    if streets.crs is None:
        raise InputError("streets have no CRS; set one (EPSG:4326 for the store's streets).")
    lines = streets.geometry.to_crs(crs).to_numpy()
    lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))]
    return area, pd.Series(_street_km(shapes, lines), index=index, dtype="Float64")


def _street_km(shapes: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Street length (km) inside each polygon; edge-running pieces shared equally.

    Each street is cut into pieces of at most ``_PIECE_M``; a piece counts for every polygon
    within ``EDGE_TOLERANCE_M`` in proportion to its length inside that polygon's tolerance
    band, scaled so that no piece counts more than once in total. A piece along a shared
    edge lies fully in both bands and so gives half to each; a piece crossing an edge is
    split where it crosses (to within the tolerance).
    """
    if len(lines) == 0:
        return np.zeros(len(shapes))
    parts = shapely.get_parts(shapely.segmentize(lines, _PIECE_M))
    parts = parts[shapely.get_type_id(parts) == 1]  # LineStrings only
    coords, owner = shapely.get_coordinates(parts, return_index=True)
    same = owner[1:] == owner[:-1]
    pieces = np.asarray(
        shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1)), dtype=object
    )
    length = shapely.length(pieces)
    bands = shapely.buffer(shapes, EDGE_TOLERANCE_M)
    piece_idx, shape_idx = shapely.STRtree(bands).query(pieces, predicate="intersects")
    inside = shapely.length(shapely.intersection(pieces[piece_idx], bands[shape_idx]))
    claimed = np.bincount(piece_idx, inside, minlength=len(pieces))
    scale = np.where(claimed > length, length / np.where(claimed > 0, claimed, 1.0), 1.0)
    return np.bincount(shape_idx, inside * scale[piece_idx], minlength=len(shapes)) / 1000


def _all_categories(codes: pd.Series) -> list[str]:
    extra = sorted(set(codes.dropna()) - set(CATEGORIES))
    return [*CATEGORIES, *extra]


def _why_missing(value: str) -> str:
    if value == "per_1000":
        return "these units have no population (fill it in the groups table)."
    if value == "per_km_street":
        return "no streets were given, or these units contain none."
    return "the value could not be computed for them."
