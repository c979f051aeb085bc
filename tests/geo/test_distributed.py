"""The Dask path: identical to assign_to_groups + counts on one machine, on a LocalCluster."""

from __future__ import annotations

import socket
import sys
from importlib.util import find_spec
from itertools import pairwise

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from pyproj import CRS
from shapely.geometry import box

from geo._distributed_groups import _candidates, group_index
from geo.assign import assign_to_groups
from geo.crs import metric_crs
from geo.distributed import _combine, count_assigned
from geo.enforcement import enforcement_by
from geo.errors import InputError
from geo.model import CATEGORIES, VIOLATION_STATUSES
from tests.conftest import _guarded_connect

needs_dask = pytest.mark.skipif(
    find_spec("dask_geopandas") is None or find_spec("distributed") is None,
    reason="the optional dask extra is not installed (pip install -e '.[dask]')",
)

TZ = "Asia/Ho_Chi_Minh"
STEP = 0.002  # ≈ 208 m of longitude, 221 m of latitude near Kim Liên
X0, Y0 = 105.830, 21.000


def _edge(i: int, origin: float) -> float:
    # The same float for a cell's edge and for the points put on it.
    return round(origin + i * STEP, 6)


def _groups() -> gpd.GeoDataFrame:
    """A 4 × 3 grid with a hole, ids not in grid order, one low-id and one high-id overlap."""
    cells = [(i, j) for i in range(4) for j in range(3) if (i, j) != (2, 1)]
    ids = np.random.default_rng(1).permutation(len(cells)) + 10
    geoms = [box(_edge(i, X0), _edge(j, Y0), _edge(i + 1, X0), _edge(j + 1, Y0)) for i, j in cells]
    frame = pd.DataFrame(
        {
            "group_id": [f"G{n}" for n in ids] + ["G00", "G99"],
            "zone_id": [f"Z{i // 2}" for i, _ in cells] + ["Z0", "Z9"],
            "ward_id": ["W1"] * len(cells) + ["W1", "W2"],
            "population": 1000,
        }
    )
    geoms += [box(105.8315, 21.0005, 105.8325, 21.0015), box(105.8355, 21.0035, 105.8365, 21.0055)]
    return gpd.GeoDataFrame(frame.astype({c: "string" for c in frame.columns[:3]}),
                            geometry=geoms, crs=4326)  # fmt: skip


def _points(n: int = 3000, seed: int = 0) -> gpd.GeoDataFrame:
    """Uniform points over the grid and 100 m around it, plus points on shared edges and
    vertices, and a few without a position; sorted west to east, so partitions are strips."""
    rng = np.random.default_rng(seed)
    x = X0 - 0.001 + rng.random(n) * (4 * STEP + 0.002)
    y = Y0 - 0.001 + rng.random(n) * (3 * STEP + 0.002)
    on_x = rng.random(n) < 0.05  # on a vertical edge
    x[on_x] = [_edge(i, X0) for i in rng.integers(0, 5, on_x.sum())]
    on_vertex = rng.random(n) < 0.02
    x[on_vertex] = [_edge(i, X0) for i in rng.integers(1, 4, on_vertex.sum())]
    y[on_vertex] = [_edge(j, Y0) for j in rng.integers(1, 3, on_vertex.sum())]
    geometry = np.array(gpd.points_from_xy(x, y))
    geometry[rng.random(n) < 0.002] = None
    status = rng.choice(VIOLATION_STATUSES, n)
    seconds = rng.integers(0, 365 * 86_400, n)
    observed = pd.Series(pd.Timestamp("2025-01-01", tz=TZ) + pd.to_timedelta(seconds, unit="s"))
    observed[rng.random(n) < 0.01] = pd.NaT
    points = gpd.GeoDataFrame(
        {
            "record_id": pd.array([f"R{i:05d}" for i in range(n)], dtype="string"),
            "ward_id": pd.array(np.where(rng.random(n) < 0.5, "W1", None), dtype="string"),
            "category": pd.array(
                np.where(rng.random(n) < 0.02, None, rng.choice(CATEGORIES, n)), dtype="string"
            ),
            "status": pd.array(status, dtype="string"),
            "fine_vnd": pd.array(np.where(status == "fined", 500_000, None), dtype="Int64"),
            "items_removed": pd.array(rng.integers(0, 3, n), dtype="Int64"),
            "observed_at": observed.to_numpy(),
        },
        geometry=geometry,
        crs=4326,
        index=rng.permutation(n) + 1000,
    )
    return points.iloc[np.argsort(x, kind="stable")]


GROUPS, POINTS = _groups(), _points()
ASSIGNED = assign_to_groups(POINTS, GROUPS)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed", reason="needs the dask extra")
    # Under the socket guard: the cluster and client may only talk over loopback.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", _guarded_connect)
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
            host="127.0.0.1", memory_limit="1GiB",
        )  # fmt: skip
        with cluster, distributed.Client(cluster) as c:
            yield c


def test_the_fixture_exercises_every_tie_rule():
    done = assign_to_groups(POINTS, GROUPS)
    assert set(done["assignment"]) == {"inside", "snapped", "outside"}
    assert (done["group_id"] == "G00").sum() > 10  # the low-id overlap wins
    assert (done["assignment"] == "snapped").sum() > 100  # edges, vertices, the hole's rim


@needs_dask
def test_assign_partitioned_is_identical_row_for_row(client):
    from geo.distributed import assign_partitioned

    lazy = assign_partitioned(POINTS, GROUPS, partition_rows=600, client=client)
    assert lazy.npartitions == 5
    assert_geodataframe_equal(lazy.compute(), assign_to_groups(POINTS, GROUPS))


@needs_dask
def test_shuffled_partitions_and_another_crs_give_the_same_rows(client):
    from geo.distributed import assign_partitioned

    points = POINTS.sample(frac=1.0, random_state=3).to_crs(5897)
    got = assign_partitioned(points, GROUPS, partition_rows=1500, tolerance_m=30).compute()
    assert_geodataframe_equal(got, assign_to_groups(points, GROUPS, tolerance_m=30))


@needs_dask
def test_partitions_that_meet_no_group_still_snap_to_groups_nearby(client):
    # 10 m inside the hole's west rim: these points' box meets no group's box, so only the
    # reach of tolerance_m in metres brings in the group west of the hole.
    y = np.linspace(_edge(1, Y0) + 0.0005, _edge(2, Y0) - 0.0005, 40)
    rim = gpd.GeoDataFrame(geometry=gpd.points_from_xy(np.full(40, _edge(2, X0) + 0.0001), y),
                           crs=4326)  # fmt: skip
    from geo.distributed import assign_partitioned

    got = assign_partitioned(rim, GROUPS, partition_rows=20, client=client).compute()
    assert (got["assignment"] == "snapped").all()
    assert_geodataframe_equal(got, assign_to_groups(rim, GROUPS))


@needs_dask
def test_without_a_cluster_the_local_scheduler_gives_the_same_rows(client, monkeypatch):
    import dask
    import distributed

    from geo.distributed import assign_partitioned

    def no_client():
        raise ValueError("No clients found")

    monkeypatch.setattr(distributed, "default_client", no_client)
    with dask.config.set(scheduler="sync"):
        got = assign_partitioned(POINTS, GROUPS, partition_rows=1500).compute()
    assert_geodataframe_equal(got, ASSIGNED)


@needs_dask
def test_group_counts_equal_the_single_machine_counts(client):
    from geo.distributed import group_counts

    counts = group_counts(POINTS, GROUPS, by=(), partition_rows=500, client=client)
    assigned = assign_to_groups(POINTS, GROUPS)
    expected = assigned["group_id"].value_counts(dropna=False)
    assert counts.set_index("group_id")["records"].to_dict() == expected.to_dict()
    assert counts["records"].sum() == len(POINTS)
    # enforcement figures by the report's own rules (geo.enforcement)
    fig = enforcement_by(assigned, by="group_id")
    ours = counts.dropna(subset=["group_id"]).set_index("group_id")[fig.columns]
    assert_frame_equal(ours, fig, check_index_type=False, check_names=False)


@needs_dask
def test_counts_equal_whatever_method_and_grid_each_piece_gets(client):
    # assign_to_groups picks its method by size (a grid from 20,000 points, finer with more
    # points; GEOS below): the whole goes through one grid, the pieces through a coarser grid
    # and through GEOS; the same answer.
    import dask.dataframe as dd
    import dask_geopandas

    from geo.distributed import group_counts

    points = _points(40_000, seed=1)
    pieces = dd.concat(
        [
            dask_geopandas.from_geopandas(points.iloc[:28_000], npartitions=1),
            dask_geopandas.from_geopandas(points.iloc[28_000:], npartitions=1),
        ]
    )
    counts = group_counts(pieces, GROUPS, by=(), client=client)
    assert_frame_equal(counts, count_assigned(assign_to_groups(points, GROUPS), by=()))


@needs_dask
def test_counts_per_ward_category_and_month(client):
    from geo.distributed import group_counts

    keys = ("category", "month")
    counts = group_counts(POINTS, GROUPS, by=keys, level="ward", partition_rows=900)
    assigned = assign_to_groups(POINTS, GROUPS)
    assert_frame_equal(counts, count_assigned(assigned, by=keys, level="ward"))
    # and by hand: local months, a missing category counted as "other"
    month = assigned["observed_at"].dt.tz_convert(TZ).dt.strftime("%Y-%m")
    by_hand = assigned.assign(category=assigned["category"].fillna("other"), month=month)
    expected = by_hand.groupby(["ward_id", "category", "month"], dropna=False).size()
    got = counts.assign(month=counts["month"].dt.strftime("%Y-%m"))
    assert got.set_index(["ward_id", "category", "month"])["records"].to_dict() == (
        expected.to_dict()
    )
    assert counts["month"].isna().sum() > 0  # records without a time are kept, not dropped


@needs_dask
def test_geoparquet_and_geopackage_inputs(client, tmp_path):
    from geo.distributed import assign_partitioned, group_counts

    points = POINTS.drop(columns="observed_at").reset_index(drop=True)
    parquet, gpkg = tmp_path / "records.parquet", tmp_path / "records.gpkg"
    points.to_parquet(parquet, row_group_size=1000)
    points.to_file(gpkg, layer="violations")
    for path, read in ((parquet, gpd.read_parquet), (gpkg, gpd.read_file)):
        expected = assign_to_groups(read(path), GROUPS)
        got = assign_partitioned(path, GROUPS, partition_rows=1000).compute()
        cols = ["record_id", "group_id", "zone_id", "ward_id", "assignment", "geometry"]
        assert_geodataframe_equal(got[cols].reset_index(drop=True), expected[cols])
    counts = group_counts(gpkg, GROUPS, by=("assignment",), layer="violations",
                          partition_rows=1000)  # fmt: skip
    expected = count_assigned(assign_to_groups(points, GROUPS), by=("assignment",))
    assert counts["records"].tolist() == expected["records"].tolist()
    assert counts["group_id"].tolist() == expected["group_id"].tolist()


def test_each_partition_gets_only_the_groups_near_it_with_the_same_metric_crs():
    west = POINTS.iloc[:300]  # the western strip
    index = group_index(GROUPS, CRS.from_epsg(4326))
    kept = _candidates(west, index, 15.0)
    assert 0 < len(kept) < len(GROUPS)
    assert metric_crs(index.groups.iloc[kept]) == metric_crs(GROUPS)
    done = assign_to_groups(west, GROUPS)
    assert set(done["group_id"].dropna()) <= set(index.groups.iloc[kept]["group_id"])


def test_cut_keeps_the_country_wide_metric_crs():
    # Groups from Hà Nội to Đà Nẵng: Hà Nội's groups alone would be measured in EPSG:5897.
    far = GROUPS.copy()
    far.geometry = far.geometry.translate(2.4, -5.0)  # near Đà Nẵng
    country = pd.concat([GROUPS, far.assign(group_id=far["group_id"] + "d")], ignore_index=True)
    index = group_index(country, CRS.from_epsg(4326))
    kept = _candidates(POINTS.iloc[:300], index, 15.0)
    assert len(kept) < len(GROUPS)
    assert metric_crs(index.groups.iloc[kept]) == metric_crs(country) != CRS.from_epsg(5897)


def test_missing_extra_names_the_install_command(monkeypatch):
    from geo.distributed import assign_partitioned

    monkeypatch.setitem(sys.modules, "dask_geopandas", None)  # import now fails
    with pytest.raises(InputError, match=r"pip install -e '\.\[dask\]'"):
        assign_partitioned(POINTS, GROUPS)


@needs_dask
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": ("colour",)}, "'colour' is neither a column"),
        ({"by": "category"}, "not a string"),
        ({"by": ("month",), "time_col": "when"}, "time column 'when'"),
        ({"level": "district"}, "level must be"),
        ({"partition_rows": 0}, "partition_rows"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    from geo.distributed import group_counts

    with pytest.raises(InputError, match=message):
        group_counts(POINTS, GROUPS, **kwargs)


@needs_dask
def test_bad_groups_and_points_are_named():
    from geo.distributed import assign_partitioned

    with pytest.raises(InputError, match="zone_id"):
        assign_partitioned(POINTS, GROUPS.drop(columns="zone_id"))
    with pytest.raises(InputError, match="no CRS"):
        assign_partitioned(POINTS.set_crs(None, allow_override=True), GROUPS)
    with pytest.raises(InputError, match="no file"):
        assign_partitioned("/nonexistent/records.parquet", GROUPS)


def test_count_assigned_needs_assigned_records():
    with pytest.raises(InputError, match="lack group_id; assign them"):
        count_assigned(POINTS)


@needs_dask
def test_many_partial_counts_are_summed_in_a_tree():
    import dask

    from geo.distributed import _tree_sum

    keys = ["group_id", "category"]
    chunks = np.array_split(np.arange(len(ASSIGNED)), 40)  # 40 > 16: two levels of sums
    parts = [dask.delayed(count_assigned)(ASSIGNED.iloc[c]) for c in chunks]
    total = _tree_sum(parts, keys)
    sums = [k for k in total.dask if str(k).startswith("_combine")]
    assert len(sums) == 4  # 3 sums of at most 16 partials, then the last one
    assert_frame_equal(total.compute(scheduler="sync"), count_assigned(ASSIGNED))


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(0, len(POINTS)), max_size=6))
def test_counts_of_any_partitioning_sum_to_the_whole(cuts):
    assigned = ASSIGNED
    bounds = [0, *sorted(cuts), len(assigned)]
    keys = ["group_id", "category", "month"]
    parts = [count_assigned(assigned.iloc[a:b], by=keys[1:]) for a, b in pairwise(bounds)]
    assert_frame_equal(_combine(parts, keys, last=True), count_assigned(assigned, by=keys[1:]))
