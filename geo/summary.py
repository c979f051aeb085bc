"""Per-group counts and rates, and the headline figures shown above the map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import pandas as pd

from geo.crs import metric_crs
from geo.errors import InputError

__all__ = ["Headline", "RateBasis", "aggregate_headline", "area_rates", "group_rates", "headline"]

RateBasis = Literal["per_1000", "per_km2", "count"]


def group_rates(
    records: pd.DataFrame, groups: gpd.GeoDataFrame, *, months: float | None = None
) -> gpd.GeoDataFrame:
    """Count records per group and turn the counts into rates.

    Parameters
    ----------
    records
        Records with a ``group_id`` column (as assigned at ingest); rows without a group are
        not counted here (they appear in :func:`headline` as outside the groups).
    groups
        Group polygons with ``group_id``, ``population`` and ``geometry``.
    months
        Length of the period in months; when given, rates are also per month.

    Returns
    -------
    GeoDataFrame
        One row per group (every group, zero when it has no record), with ``count``,
        ``area_km2``, ``per_1000`` (records per 1,000 residents; NA without population),
        ``per_km2`` and, with ``months``, ``per_1000_month`` and ``per_km2_month``.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> g = gpd.GeoDataFrame({"group_id": ["A", "B"], "population": [2000, 1000]},
    ...     geometry=[box(105.83, 21.0, 105.84, 21.01), box(105.84, 21.0, 105.85, 21.01)], crs=4326)
    >>> r = group_rates(pd.DataFrame({"group_id": ["A", "A", "B"]}), g)
    >>> r[["group_id", "count", "per_1000"]].to_string(index=False)
    'group_id  count  per_1000\\n       A      2       1.0\\n       B      1       1.0'
    """
    if "group_id" not in records.columns:
        raise InputError("records need a group_id column; assign them with geo.assign first.")
    counts = records["group_id"].dropna().value_counts()
    return area_rates(counts, groups, key="group_id", months=months)


def area_rates(
    counts: pd.Series,
    areas: gpd.GeoDataFrame,
    *,
    key: str = "group_id",
    months: float | None = None,
) -> gpd.GeoDataFrame:
    """Turn counts per area (groups, wards) into the rates of :func:`group_rates`.

    Parameters
    ----------
    counts
        Records per area, indexed by the area's ``key`` (e.g. the ``count`` column of
        ``store.aggregate(..., by=("ward_id",))`` indexed by ``ward_id``); areas missing
        from it have none.
    areas
        Polygons with ``key``, ``geometry`` and optionally ``population``; an ``area_km2``
        column, when there is one, is used as it is (callers that rate the same areas again
        and again keep the projection of their polygons out of every call).
    key
        The id column of ``areas``.
    months
        Length of the period in months; when given, rates are also per month.

    Returns
    -------
    GeoDataFrame
        ``areas`` with ``count``, ``area_km2``, ``per_1000``, ``per_km2`` and, with
        ``months``, ``per_1000_month`` and ``per_km2_month``.

    Examples
    --------
    >>> import geopandas as gpd, pandas as pd
    >>> from shapely.geometry import box
    >>> w = gpd.GeoDataFrame({"ward_id": ["W1"], "population": [20_000]},
    ...     geometry=[box(105.83, 21.0, 105.84, 21.01)], crs=4326)
    >>> area_rates(pd.Series({"W1": 50}), w, key="ward_id")["per_1000"].tolist()
    [2.5]
    """
    missing = {key, "geometry"} - set(areas.columns)
    if missing:
        raise InputError(f"areas lack the column(s) {', '.join(sorted(missing))}.")
    if months is not None and months <= 0:
        raise InputError(f"months must be positive, got {months}.")
    out = areas.copy()
    out["count"] = out[key].map(counts).fillna(0).astype("int64")
    if "area_km2" not in out.columns:
        out["area_km2"] = out.geometry.to_crs(metric_crs(out)).area.to_numpy() / 1e6
    population = (
        pd.to_numeric(out["population"], errors="coerce").astype("Float64")
        if "population" in out.columns
        else pd.Series(pd.NA, index=out.index, dtype="Float64")
    )
    population = population.where(population > 0)
    out["per_1000"] = (out["count"] / population * 1000).astype("Float64")
    out["per_km2"] = out["count"] / out["area_km2"]
    if months is not None:
        out["per_1000_month"] = out["per_1000"] / months
        out["per_km2_month"] = out["per_km2"] / months
    return out


@dataclass(frozen=True)
class Headline:
    """The figures shown above the map for a selection of records."""

    records: int
    fined: int
    fines_vnd: int
    items_removed: int
    outside: int
    worst: pd.DataFrame  # group_id, name, count, per_1000 of the worst groups


def headline(
    records: pd.DataFrame,
    rates: pd.DataFrame,
    *,
    top: int = 5,
    basis: RateBasis = "per_1000",
) -> Headline:
    """Headline figures: records, cases fined, total fines, items removed, worst groups.

    ``rates`` is the output of :func:`group_rates`; the worst groups are ranked by ``basis``
    (then by count), and groups without records are never listed as worst. A case is fined
    as :mod:`geo.enforcement` counts it: status ``"fined"`` or a fine above zero.
    """
    fines = _numeric(records, "fine_vnd")
    removed = _numeric(records, "items_removed")
    fined = fines.gt(0).to_numpy()
    if "status" in records.columns:
        fined = fined | records["status"].astype("string").eq("fined").fillna(False).to_numpy()
    return Headline(
        records=len(records),
        fined=int(fined.sum()),
        fines_vnd=int(fines.sum()),
        items_removed=int(removed.sum()),
        outside=int(records["group_id"].isna().sum()) if "group_id" in records else 0,
        worst=_worst(rates, top=top, basis=basis),
    )


def aggregate_headline(
    aggregates: pd.DataFrame,
    rates: pd.DataFrame,
    *,
    top: int = 5,
    basis: RateBasis = "per_1000",
) -> Headline:
    """The :func:`headline` of records known only by their aggregates.

    ``aggregates`` are rows of ``Store.aggregate`` (columns ``count``, ``fined``,
    ``fine_vnd``, ``items_removed``, and ``group_id`` when grouped by it), summed here;
    ``rates`` come from :func:`area_rates` of the same counts per group. For the same records
    the result equals :func:`headline`'s.
    """
    missing = {"count", "fined", "fine_vnd", "items_removed"} - set(aggregates.columns)
    if missing:
        raise InputError(
            f"aggregates lack the column(s) {', '.join(sorted(missing))}; pass rows of "
            "store.aggregate('violations', ...)."
        )
    outside = 0
    if "group_id" in aggregates.columns:
        outside = int(aggregates.loc[aggregates["group_id"].isna(), "count"].sum())
    return Headline(
        records=int(aggregates["count"].sum()),
        fined=int(aggregates["fined"].sum()),
        fines_vnd=int(aggregates["fine_vnd"].sum()),
        items_removed=int(aggregates["items_removed"].sum()),
        outside=outside,
        worst=_worst(rates, top=top, basis=basis),
    )


def _worst(rates: pd.DataFrame, *, top: int, basis: RateBasis) -> pd.DataFrame:
    key = basis if basis in rates.columns else "count"
    ranked = rates[rates["count"] > 0].sort_values(
        [key, "count", "group_id"], ascending=[False, False, True]
    )
    columns = [c for c in ("group_id", "name", "count", "per_1000", "per_km2") if c in rates]
    return pd.DataFrame(ranked[columns].head(top)).reset_index(drop=True)


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(0, index=frame.index, dtype="int64")
    return pd.to_numeric(frame[column], errors="coerce").fillna(0)
