"""Assigning and counting records at national scale on Dask (an optional extra).

The single-machine path is :func:`geo.assign.assign_to_groups` followed by counts per group.
Here the records are split into partitions (a GeoParquet dataset, a GeoPackage read in
chunks, or an in-memory GeoDataFrame cut in pieces) and each partition goes through the very
same :func:`~geo.assign.assign_to_groups`, with the groups broadcast to every worker. A
point's assignment depends only on the point and the groups, so the result is identical to
the single-machine path, row for row; counts are sums, so summing per-partition counts gives
identical counts too (:func:`count_assigned` is both the per-partition step and the
single-machine aggregate).

Each partition gets only the groups that can matter to its points (see
:mod:`geo._distributed_groups`), which pays off when partitions are spatially compact.

Needs ``pip install -e '.[dask]'`` (dask, distributed, dask-geopandas); the rest of the core
works without it. See docs/DISTRIBUTED.md for running it on a cluster.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS

from geo._distributed_groups import GROUP_COLUMNS, assign_partition, group_index
from geo._timeseries import Freq, local_times, period_start
from geo.config import SNAP_TOLERANCE_M
from geo.errors import InputError

if TYPE_CHECKING:
    import dask_geopandas
    from distributed import Client

__all__ = ["assign_partitioned", "count_assigned", "group_counts"]

log = logging.getLogger(__name__)

Level = Literal["group", "zone", "ward"]
#: Rows per partition when the input is cut by us (an in-memory frame, a GeoPackage).
PARTITION_ROWS = 500_000
#: Partial counts combined per task when summing them up.
_FAN_IN = 16
#: Keys of ``by`` computed from the time column: local calendar months and Monday weeks.
PERIOD_KEYS: dict[str, Freq] = {"month": "M", "week": "W"}
_ASSIGNED = ("group_id", "zone_id", "ward_id", "assignment")
_INSTALL = "pip install -e '.[dask]'"


def assign_partitioned(
    points: dask_geopandas.GeoDataFrame | gpd.GeoDataFrame | str | Path,
    groups: gpd.GeoDataFrame,
    *,
    tolerance_m: float = SNAP_TOLERANCE_M,
    partition_rows: int = PARTITION_ROWS,
    layer: str | None = None,
    client: Client | None = None,
) -> dask_geopandas.GeoDataFrame:
    """Assign records to groups on Dask, exactly as :func:`geo.assign.assign_to_groups`.

    Parameters
    ----------
    points
        Point records in any CRS: a dask-geopandas frame, a GeoDataFrame (cut into
        partitions of ``partition_rows``, row order kept; the pieces travel inside the task
        graph, so give big data as files), or a path or URL: a GeoParquet
        file or directory (``.parquet``, one partition per file or row group), or any file
        GDAL reads (a GeoPackage, read in chunks of ``partition_rows``). A path must be
        readable by every worker.
    groups
        Group polygons with ``group_id``, ``zone_id`` and ``ward_id``; broadcast whole.
    tolerance_m
        Snapping distance in metres, as in :func:`~geo.assign.assign_to_groups`.
    partition_rows
        Rows per partition when the records are cut here.
    layer
        The layer of a multi-layer file (a GeoPackage store: ``"violations"``).
    client
        The dask.distributed client to broadcast the groups to; default: the current client,
        or none (the groups then travel inside the task graph, fine for the local scheduler).

    Returns
    -------
    dask_geopandas.GeoDataFrame
        Lazy: ``points`` with ``group_id``, ``zone_id``, ``ward_id`` and ``assignment``; its
        ``compute()`` equals ``assign_to_groups(points, groups)`` row for row.
    """
    dg = _require_dask()
    frame = _partitioned(dg, points, partition_rows=partition_rows, layer=layer)
    _check_groups(groups, tolerance_m)
    crs = frame.crs
    if crs is None:
        raise InputError("points have no CRS; set it (EPSG:4326 for GPS) before assigning.")
    index = group_index(groups, CRS.from_user_input(crs))
    meta = assign_partition(frame._meta, index, tolerance_m)
    shared = _broadcast(index, client)
    log.info("assigning %d partitions of records to %d groups", frame.npartitions, len(groups))
    return frame.map_partitions(assign_partition, shared, tolerance_m, meta=meta)


def group_counts(
    points: dask_geopandas.GeoDataFrame | gpd.GeoDataFrame | str | Path,
    groups: gpd.GeoDataFrame,
    *,
    by: Sequence[str] = ("category",),
    level: Level = "group",
    time_col: str = "observed_at",
    tolerance_m: float = SNAP_TOLERANCE_M,
    partition_rows: int = PARTITION_ROWS,
    layer: str | None = None,
    client: Client | None = None,
) -> pd.DataFrame:
    """Assign records on Dask and count them per group (zone, ward) and the keys of ``by``.

    Equal to ``count_assigned(assign_to_groups(points, groups), by=by, level=level)`` on one
    machine. Parameters are those of :func:`assign_partitioned` and :func:`count_assigned`;
    only the columns the counts need are kept (and read, from GeoParquet).

    Returns
    -------
    pandas.DataFrame
        As :func:`count_assigned`.

    Notes
    -----
    A ministry's table, records and enforcement per ward × category × month, from a
    GeoParquet dataset on storage every worker sees (see docs/DISTRIBUTED.md)::

        with distributed.Client("tcp://10.0.0.5:8786") as client:
            table = group_counts("/shared/records/", groups, by=("category", "month"),
                                 level="ward", client=client)
    """
    dg = _require_dask()
    frame = _partitioned(dg, points, partition_rows=partition_rows, layer=layer)
    keys = _check_by(frame._meta, by, level=level, time_col=time_col)
    # ward_id: a record outside every group keeps the ward it was recorded in
    wanted = {*by, time_col, "status", "fine_vnd", "items_removed"} - set(_ASSIGNED) | {"ward_id"}
    columns = [c for c in frame.columns if c in wanted or c == frame.geometry.name]
    assigned = assign_partitioned(frame[columns], groups, tolerance_m=tolerance_m, client=client)
    partial = assigned.map_partitions(
        count_assigned,
        by=tuple(by),
        level=level,
        time_col=time_col,
        meta=count_assigned(assigned._meta, by=tuple(by), level=level, time_col=time_col),
    )
    total = _tree_sum(partial.to_delayed(), keys)
    result = client.compute(total).result() if client is not None else total.compute()
    return pd.DataFrame(result)


def count_assigned(
    assigned: pd.DataFrame,
    *,
    by: Sequence[str] = ("category",),
    level: Level = "group",
    time_col: str = "observed_at",
) -> pd.DataFrame:
    """Count assigned records per group (zone, ward) and the keys of ``by``: the aggregate.

    Parameters
    ----------
    assigned
        Records as :func:`geo.assign.assign_to_groups` returns them.
    by
        Further keys: record columns (``"category"``: a missing category counts as
        ``"other"``, as in :func:`geo.enforcement.enforcement_by`; ``"assignment"``), or
        ``"month"`` / ``"week"``: the local calendar month / Monday week of ``time_col``.
    level
        ``"group"``, ``"zone"`` or ``"ward"`` (a record outside every group keeps the ward
        it was recorded in).
    time_col
        The timestamp column, for ``"month"`` and ``"week"``.

    Returns
    -------
    pandas.DataFrame
        One row per combination with records (join to the groups for the zeros): the unit
        id (``<NA>`` for records outside every group), the keys, ``records`` and, when the
        records have a ``status``, ``fined``, ``fines_vnd``, ``warned``, ``removed`` and
        ``items_removed`` by the rules of :func:`geo.enforcement.enforcement_by`; all
        integers, sorted by the keys (missing last). The ``records`` add up to the rows.

    Examples
    --------
    >>> a = pd.DataFrame({"group_id": pd.array(["G2", "G1", None, "G2"], dtype="string"),
    ...                   "category": ["traffic", "traffic", "littering", None]})
    >>> count_assigned(a).values.tolist()
    [['G1', 'traffic', 1], ['G2', 'other', 1], ['G2', 'traffic', 1], [<NA>, 'littering', 1]]
    """
    keys = _check_by(assigned, by, level=level, time_col=time_col)
    missing = [k for k in keys if k not in assigned.columns and k not in PERIOD_KEYS]
    if missing:
        raise InputError(
            f"records lack {', '.join(missing)}; assign them with geo.assign.assign_to_groups "
            "(or count with geo.distributed.group_counts, which assigns them)."
        )
    return _finish(_partial_counts(assigned, keys, time_col=time_col), keys)


# --- steps ------------------------------------------------------------------------------------


def _partial_counts(frame: pd.DataFrame, keys: list[str], *, time_col: str) -> pd.DataFrame:
    """Counts of one frame per key, unsorted (summing these over partitions gives the total)."""
    columns: dict[str, Any] = {}
    for key in keys:
        if key in PERIOD_KEYS:
            columns[key] = period_start(local_times(frame, time_col), PERIOD_KEYS[key]).array
        elif key == "category":
            columns[key] = frame[key].astype("string").fillna("other").array
        else:
            columns[key] = frame[key].array
    columns["records"] = np.ones(len(frame), dtype=np.int64)
    if "status" in frame.columns:
        status = frame["status"].astype("string")
        fines = _amounts(frame, "fine_vnd")
        columns["fined"] = (status.eq("fined").fillna(False).to_numpy() | (fines > 0)).astype(
            np.int64
        )
        columns["fines_vnd"] = fines
        columns["warned"] = status.eq("warned").fillna(False).to_numpy().astype(np.int64)
        columns["removed"] = status.eq("removed").fillna(False).to_numpy().astype(np.int64)
        columns["items_removed"] = _amounts(frame, "items_removed")
    return _sum(pd.DataFrame(columns), keys)


def _sum(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return table.groupby(keys, dropna=False, sort=False).sum().reset_index()


def _finish(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    measures = [c for c in table.columns if c not in keys]
    out = table.sort_values(keys, na_position="last", kind="stable").reset_index(drop=True)
    out[measures] = out[measures].astype("int64")
    return out


def _combine(parts: list[pd.DataFrame], keys: list[str], *, last: bool) -> pd.DataFrame:
    table = _sum(pd.concat(parts, ignore_index=True), keys)
    return _finish(table, keys) if last else table


def _tree_sum(parts: list[Any], keys: list[str]) -> Any:
    """Sum the partial counts in a tree of tasks of :data:`_FAN_IN` (no single huge task)."""
    import dask

    level = list(parts)
    while len(level) > _FAN_IN:
        level = [
            dask.delayed(_combine)(level[i : i + _FAN_IN], keys, last=False)
            for i in range(0, len(level), _FAN_IN)
        ]
    return dask.delayed(_combine)(level, keys, last=True)


def _amounts(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Whole amounts of ``column``, 0 where missing or absent (as geo.enforcement does)."""
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=np.int64)
    values = pd.to_numeric(frame[column], errors="coerce").astype("Float64").fillna(0)
    return values.round().astype("int64").to_numpy()


# --- boundary ---------------------------------------------------------------------------------


def _require_dask() -> Any:
    """dask_geopandas, or an InputError naming the extra to install."""
    try:
        import dask  # noqa: F401
        import dask_geopandas
    except ImportError as exc:
        raise InputError(
            f"the distributed path needs the optional extra 'dask' ({exc.name} is missing); "
            f"install it with: {_INSTALL}"
        ) from None
    return dask_geopandas


def _partitioned(dg: Any, points: Any, *, partition_rows: int, layer: str | None) -> Any:
    if partition_rows < 1:
        raise InputError(f"partition_rows must be ≥ 1, got {partition_rows}.")
    if isinstance(points, dg.GeoDataFrame):
        return points
    if isinstance(points, gpd.GeoDataFrame):
        parts = max(1, math.ceil(len(points) / partition_rows))
        return dg.from_geopandas(points, npartitions=parts, sort=False)
    if isinstance(points, str | Path):
        text = str(points)
        remote = "://" in text
        if not remote and not Path(text).exists():
            raise InputError(f"points: no file or directory at {text}.")
        if remote or Path(text).is_dir() or text.endswith((".parquet", ".geoparquet")):
            return dg.read_parquet(text)
        return dg.read_file(text, chunksize=partition_rows, layer=layer)
    raise InputError(
        "points must be a dask-geopandas or geopandas GeoDataFrame, or the path of a "
        f"GeoParquet dataset or GeoPackage; got {type(points).__name__}."
    )


def _check_groups(groups: gpd.GeoDataFrame, tolerance_m: float) -> None:
    if not isinstance(groups, gpd.GeoDataFrame):
        raise InputError(f"groups must be a GeoDataFrame of polygons, got {type(groups).__name__}.")
    missing = set(GROUP_COLUMNS) - set(groups.columns)
    if missing:
        raise InputError(f"groups lacks the column(s) {', '.join(sorted(missing))}.")
    if groups.crs is None:
        raise InputError("groups have no CRS; set it (the store's groups are EPSG:4326).")
    if tolerance_m < 0:
        raise InputError(f"tolerance_m must be ≥ 0 metres, got {tolerance_m}.")


def _check_by(frame: pd.DataFrame, by: Sequence[str], *, level: Level, time_col: str) -> list[str]:
    """The grouping keys (unit id first), or an InputError naming every bad one."""
    units = {"group": "group_id", "zone": "zone_id", "ward": "ward_id"}
    if level not in units:
        raise InputError(f"level must be 'group', 'zone' or 'ward', got {level!r}.")
    if isinstance(by, str):
        raise InputError(f"by must be a sequence of keys, e.g. ({by!r},), not a string.")
    keys = [units[level], *by]
    available = set(frame.columns) | set(_ASSIGNED)
    problems = [f"{k!r} is neither a column nor 'month'/'week'" for k in by
                if k not in available and k not in PERIOD_KEYS]  # fmt: skip
    if len(set(keys)) < len(keys):
        problems.append(f"a key is repeated in {keys}")
    if set(by) & set(PERIOD_KEYS):
        if time_col not in frame.columns:
            problems.append(f"'month'/'week' need the time column {time_col!r} (time_col=)")
        elif not pd.api.types.is_datetime64_any_dtype(frame[time_col]):
            problems.append(f"{time_col!r} holds {frame[time_col].dtype}, not timestamps")
    if problems:
        raise InputError("cannot count by these keys: " + "; ".join(problems) + ".")
    return keys


def _broadcast(index: Any, client: Client | None) -> Any:
    """``index`` on every worker once (a future), or itself without a distributed client."""
    if client is None:
        try:
            from distributed import default_client

            client = default_client()
        except (ImportError, ValueError):
            return index
    return client.scatter(index, broadcast=True, hash=False)
