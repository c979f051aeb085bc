"""Repeats: places and offenders that come back, and whether records come back nearby soon.

- :func:`repeat_places`: spots where records keep recurring (a vending pitch, a corner where
  rubbish is dumped), as discs of ``radius_m``;
- :func:`repeat_offenders`: offender keys (salted hashes made at ingest, never a name or a
  plate) recorded several times;
- :func:`knox_test`: the near-repeat Knox test (see :mod:`geo._repeats_knox`).

Places are found greedily, densest first: the record with the most records within
``radius_m`` becomes the centre of a place that takes those records; the counts of the records
left are updated and the next densest is taken, until no record has ``min_records`` left
around it. Unlike single-linkage clustering (DBSCAN), records spaced 10 m apart along a whole
street do not chain into one 500 m "place": every place fits in a disc of ``radius_m``.
"""

from __future__ import annotations

import heapq
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from geo._repeats_knox import knox_test
from geo.config import STORAGE_CRS, TIMEZONE_NAME
from geo.crs import metric_crs
from geo.errors import InputError
from geo.model import local_time

__all__ = ["knox_test", "repeat_offenders", "repeat_places"]

log = logging.getLogger(__name__)

#: How many categories a place or an offender lists, most frequent first.
_TOP_CATEGORIES = 3


def repeat_places(
    points: gpd.GeoDataFrame,
    *,
    radius_m: float = 15.0,
    min_records: int = 3,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    time_col: str = "observed_at",
) -> gpd.GeoDataFrame:
    """Places where at least ``min_records`` records lie within ``radius_m`` of one record.

    Parameters
    ----------
    points
        Records (points, any CRS), optionally with ``time_col``, ``category``, ``address``
        and ``group_id`` columns.
    radius_m
        Radius of a place around its central record; members of a place are at most
        2 × ``radius_m`` apart. 15 m covers GPS scatter around one shop front.
    min_records
        Fewest records that make a place.
    start, end
        Period, ``start`` inclusive and ``end`` exclusive (naive times are Hà Nội time).
    time_col
        Timestamp column, for the period and ``first_at`` / ``last_at``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per place, in EPSG:4326, hottest first: ``place_id`` (``"P1"``, ``"P2"``, ...
        in rank order; not stable across periods), ``count``, ``first_at``, ``last_at``,
        ``categories`` (up to three codes, most frequent first, joined by ", "), ``address``
        and ``group_id`` (most common; missing when the input lacks them), ``geometry``
        (mean position of the members) and ``rank`` (by count, then the latest record).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> x, y = 587_000, 2_324_000  # EPSG:5897 metres, in Hà Nội
    >>> pts = gpd.GeoDataFrame({"category": ["street_vending"] * 4 + ["littering"]},
    ...     geometry=[Point(x, y), Point(x + 3, y), Point(x, y + 4), Point(x + 1, y + 1),
    ...               Point(x + 300, y)], crs=5897)
    >>> places = repeat_places(pts)
    >>> print(places[["place_id", "count", "categories", "rank"]].to_string(index=False))
    place_id  count     categories  rank
          P1      4 street_vending     1
    """
    _check_points(points, "points")
    if radius_m <= 0:
        raise InputError(f"radius_m must be positive, got {radius_m}.")
    if min_records < 2:
        raise InputError(f"min_records must be at least 2, got {min_records}.")
    frame = _period(points, time_col, start, end)
    frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)].reset_index(drop=True)
    if frame.empty:
        return _no_places(frame)
    metric = frame.geometry.to_crs(metric_crs(frame)).centroid
    xy = np.column_stack([metric.x.to_numpy(), metric.y.to_numpy()])

    label = _discs(xy, radius_m, min_records)
    members = frame.assign(place=label)[label >= 0]
    if members.empty:
        return _no_places(frame)
    centres = pd.DataFrame(xy[label >= 0], columns=["x", "y"]).groupby(label[label >= 0]).mean()

    out = _summary(members, "place", time_col)
    out = out.sort_values(["count", "last_at"], ascending=[False, False], na_position="last")
    centre = gpd.points_from_xy(centres.loc[out.index, "x"], centres.loc[out.index, "y"])
    out = out.reset_index(drop=True)
    ids = pd.Series([f"P{k}" for k in range(1, len(out) + 1)], dtype="string")
    out.insert(0, "place_id", ids)
    out["rank"] = np.arange(1, len(out) + 1)
    result = gpd.GeoDataFrame(
        out, geometry=gpd.GeoSeries(centre, crs=metric.crs).to_crs(STORAGE_CRS)
    )
    return result[[*_PLACE_COLUMNS, "geometry", "rank"]]


def repeat_offenders(
    records: pd.DataFrame,
    *,
    min_records: int = 2,
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    radius_m: float = 15.0,
) -> pd.DataFrame:
    """Offender keys recorded at least ``min_records`` times in the period.

    Offenders are counted by ``offender_key`` only, the salted hash made at ingest; no other
    column (a name, a plate, a phone number) is read or returned.

    Parameters
    ----------
    records
        Violations with ``offender_key``, ``observed_at`` and optionally ``category``,
        ``group_id`` and a geometry; rows without a key are left out.
    min_records
        Fewest records that make a repeat offender.
    start, end
        Period on ``observed_at``, ``start`` inclusive and ``end`` exclusive.
    radius_m
        Records of one offender within this distance of each other (directly or through
        other records of the same offender) are one place.

    Returns
    -------
    DataFrame
        ``offender_key``, ``count``, ``first_at``, ``last_at``, ``places`` (distinct places,
        missing without geometry), ``categories`` (up to three codes, most frequent first)
        and ``group_id`` (most common); most records first, then the latest.

    Examples
    --------
    >>> import pandas as pd
    >>> recs = pd.DataFrame({"offender_key": ["k1", "k1", "k2", None],
    ...     "observed_at": pd.to_datetime(["2025-01-02", "2025-01-09", "2025-01-03", "2025-01-04"]),
    ...     "category": ["street_vending"] * 4})
    >>> out = repeat_offenders(recs)
    >>> print(out[["offender_key", "count", "categories"]].to_string(index=False))
    offender_key  count     categories
              k1      2 street_vending
    """
    if not isinstance(records, pd.DataFrame) or "offender_key" not in records.columns:
        raise InputError("records need an offender_key column (the salted hash made at ingest).")
    if min_records < 1:
        raise InputError(f"min_records must be at least 1, got {min_records}.")
    frame = _period(records, "observed_at", start, end)
    frame = frame[frame["offender_key"].notna()].reset_index(drop=True)
    keys = frame["offender_key"].astype("string")
    counts = keys.value_counts()
    frame = frame[keys.map(counts).to_numpy() >= min_records].reset_index(drop=True)
    out = _summary(
        frame.assign(offender=frame["offender_key"].astype(str)), "offender", "observed_at"
    )
    out["places"] = _places(frame, radius_m).reindex(out.index).astype("Int64")
    out = out.rename_axis("offender_key").reset_index().astype({"offender_key": "string"})
    out = out.sort_values(
        ["count", "last_at", "offender_key"], ascending=[False, False, True], na_position="last"
    )
    columns = ["offender_key", "count", "first_at", "last_at", "places", "categories", "group_id"]
    return out[columns].reset_index(drop=True)


# --- places -----------------------------------------------------------------------------------

_PLACE_COLUMNS = ["place_id", "count", "first_at", "last_at", "categories", "address", "group_id"]


def _discs(xy: np.ndarray, radius_m: float, min_records: int) -> np.ndarray:
    """Greedy densest-first discs; the place number of each record, -1 when in none."""
    tree = cKDTree(xy)
    around = tree.query_ball_point(xy, r=radius_m)
    label = np.full(len(xy), -1, dtype=np.int64)
    # a heap of (-records around, index); counts only fall as places are taken, so a popped
    # entry whose recount still beats the next one is truly the densest left (lazy greedy)
    heap = [(-len(n), i) for i, n in enumerate(around) if len(n) >= min_records]
    heapq.heapify(heap)
    places = 0
    while heap:
        stale, i = heapq.heappop(heap)
        if label[i] >= 0:
            continue
        free = [j for j in around[i] if label[j] < 0]
        if len(free) < min_records:
            continue
        if len(free) < -stale:
            heapq.heappush(heap, (-len(free), i))
            continue
        label[free] = places
        places += 1
    return label


def _no_places(frame: pd.DataFrame) -> gpd.GeoDataFrame:
    ts = f"datetime64[ns, {TIMEZONE_NAME}]"
    empty = pd.DataFrame(
        {
            "place_id": pd.Series(dtype="string"),
            "count": pd.Series(dtype="int64"),
            "first_at": pd.Series(dtype=ts),
            "last_at": pd.Series(dtype=ts),
            "categories": pd.Series(dtype="string"),
            "address": pd.Series(dtype="string"),
            "group_id": pd.Series(dtype="string"),
        }
    )
    out = gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=STORAGE_CRS))
    out["rank"] = pd.Series(dtype="int64")
    return out


# --- offenders --------------------------------------------------------------------------------


def _places(frame: pd.DataFrame, radius_m: float) -> pd.Series:
    """Distinct places per offender: components of its records linked within ``radius_m``."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None or frame.empty:
        return pd.Series(dtype="Int64")
    located = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if located.empty:
        return pd.Series(dtype="Int64")
    metric = located.geometry.to_crs(metric_crs(located)).centroid
    xy = np.column_stack([metric.x.to_numpy(), metric.y.to_numpy()])
    keys = located["offender_key"].astype(str).to_numpy()
    pairs = cKDTree(xy).query_pairs(radius_m, output_type="ndarray")
    pairs = pairs[keys[pairs[:, 0]] == keys[pairs[:, 1]]]
    n = len(xy)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    return pd.Series(component).groupby(keys).nunique()


# --- shared -----------------------------------------------------------------------------------


def _check_points(points: object, what: str) -> None:
    if not isinstance(points, gpd.GeoDataFrame):
        raise InputError(f"{what} must be a GeoDataFrame of records (points with a CRS).")
    if points.crs is None:
        raise InputError(f"{what} has no CRS; set it (EPSG:4326 for GPS longitude/latitude).")


def _period(
    frame: pd.DataFrame,
    time_col: str,
    start: pd.Timestamp | str | None,
    end: pd.Timestamp | str | None,
) -> pd.DataFrame:
    """Rows in [start, end) on ``time_col`` (all rows without a period)."""
    if start is None and end is None:
        return frame
    if time_col not in frame.columns:
        raise InputError(f"No {time_col!r} column to filter the period on; pass time_col=.")
    stamps = _local(pd.to_datetime(frame[time_col], errors="coerce"))
    keep = stamps.notna()
    if start is not None:
        keep &= stamps >= local_time(start)
    if end is not None:
        keep &= stamps < local_time(end)
    return frame[keep.to_numpy()]


def _local(stamps: pd.Series) -> pd.Series:
    if stamps.dt.tz is None:
        return stamps.dt.tz_localize(TIMEZONE_NAME)
    return stamps.dt.tz_convert(TIMEZONE_NAME)


def _summary(frame: pd.DataFrame, by: str, time_col: str) -> pd.DataFrame:
    """Per group of ``by``: count, first/last time, top categories, commonest address/group."""
    groups = frame.groupby(by, sort=True)
    out = pd.DataFrame({"count": groups.size().astype("int64")})
    if time_col in frame.columns:
        stamps = _local(pd.to_datetime(frame[time_col], errors="coerce"))
        times = stamps.groupby(frame[by].to_numpy())
        out["first_at"], out["last_at"] = times.min(), times.max()
    else:
        out["first_at"] = out["last_at"] = pd.Series(pd.NaT, index=out.index).dt.tz_localize(
            TIMEZONE_NAME
        )
    out["categories"] = _per_group(frame, by, "category", _TOP_CATEGORIES).reindex(out.index)
    out["address"] = _per_group(frame, by, "address", 1).reindex(out.index)
    out["group_id"] = _per_group(frame, by, "group_id", 1).reindex(out.index)
    return out


def _per_group(frame: pd.DataFrame, by: str, column: str, top: int) -> pd.Series:
    """The ``top`` most frequent values of ``column`` per group, joined by ", " (ties by value)."""
    if column not in frame.columns:
        return pd.Series(dtype="string")
    values = pd.DataFrame({"g": frame[by].to_numpy(), "v": frame[column].astype("string")})
    counts = values.dropna().value_counts().rename("n").reset_index()
    counts = counts.sort_values(["g", "n", "v"], ascending=[True, False, True])
    best = counts.groupby("g").head(top)
    return best.groupby("g")["v"].agg(", ".join).astype("string")
