"""Tests of geo.drafting: street blocks and drafting groups/zones along streets."""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, box

from geo.drafting import _MAX_BLOCK_SHARE, draft_groups, street_blocks
from geo.errors import InputError
from geo.model import SCHEMAS
from geo.network import load_network, street_edges

METRIC = 5897  # Hà Nội's metric CRS, which geo.crs.metric_crs picks for these shapes
#: A square ward of about 624 m x 666 m in Đống Đa.
LEFT, BOTTOM, RIGHT, TOP = 105.830, 21.000, 105.836, 21.006
WARD = gpd.GeoDataFrame(
    {"name": ["Phường Thử"]}, geometry=[box(LEFT, BOTTOM, RIGHT, TOP)], crs=4326
)


def _grid(n: int, *, overshoot: float = 0.0005) -> gpd.GeoDataFrame:
    """``n`` streets each way, evenly inside the ward, running a little past its edge."""
    xs = np.linspace(LEFT, RIGHT, n + 2)[1:-1]
    ys = np.linspace(BOTTOM, TOP, n + 2)[1:-1]
    lines = [LineString([(x, BOTTOM - overshoot), (x, TOP + overshoot)]) for x in xs]
    lines += [LineString([(LEFT - overshoot, y), (RIGHT + overshoot, y)]) for y in ys]
    return gpd.GeoDataFrame(
        {"name": [f"street {i}" for i in range(len(lines))]}, geometry=lines, crs=4326
    )


GRID = _grid(6)  # 7 x 7 = 49 blocks of about 7,900 m²


def _area(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray:
    return frame.to_crs(METRIC).area.to_numpy()


def _overlap_m2(frame: gpd.GeoDataFrame) -> float:
    geoms = frame.to_crs(METRIC).geometry.to_numpy()
    return sum(a.intersection(b).area for a, b in itertools.combinations(geoms, 2))


def _assert_tiles(parts: gpd.GeoDataFrame, whole: gpd.GeoDataFrame, *, rel: float) -> None:
    """``parts`` do not overlap (under 1 m² in all) and cover ``whole`` within ``rel``."""
    whole_m2 = _area(whole).sum()
    union_m2 = parts.to_crs(METRIC).union_all().area
    assert abs(union_m2 - whole_m2) <= rel * whole_m2
    assert _overlap_m2(parts) < 1.0
    assert _area(parts).sum() == pytest.approx(union_m2, abs=1.0)


# --- street_blocks ----------------------------------------------------------------------------


def test_blocks_of_a_grid_tile_the_ward() -> None:
    blocks = street_blocks(WARD, GRID)
    assert len(blocks) == 49
    assert list(blocks.columns) == ["block_id", "area_m2", "geometry"]
    assert blocks.crs.to_epsg() == 4326
    assert (blocks.geom_type == "Polygon").all()
    _assert_tiles(blocks, WARD, rel=1e-6)
    assert blocks["area_m2"].to_numpy() == pytest.approx(_area(blocks), rel=1e-6)
    assert blocks["area_m2"].to_numpy() == pytest.approx(np.full(49, _area(WARD)[0] / 49), rel=1e-3)


def test_dead_ends_do_not_cut_and_slivers_merge() -> None:
    x = np.linspace(LEFT, RIGHT, 8)[1]
    dead_end = LineString([(LEFT, 21.0005), (x - 0.0002, 21.0005)])  # stops inside a block
    # 1.5 m beside a street, across one block: a 1.5 m x 89 m sliver of about 130 m²
    y = np.linspace(BOTTOM, TOP, 8)[1] + 0.0000135
    sliver = LineString([(x, y), (np.linspace(LEFT, RIGHT, 8)[2], y)])
    streets = gpd.GeoDataFrame(geometry=[*GRID.geometry, dead_end, sliver], crs=4326)
    assert len(street_blocks(WARD, streets, min_block_m2=0)) == 50  # the sliver on its own
    blocks = street_blocks(WARD, streets)
    assert len(blocks) == 49
    assert blocks["area_m2"].min() > 200
    _assert_tiles(blocks, WARD, rel=1e-6)


def test_blocks_leave_out_the_wards_holes_and_accept_a_metric_crs() -> None:
    hole = box(105.8325, 21.0025, 105.8335, 21.0035)  # an enclave of another ward
    ward = gpd.GeoDataFrame(geometry=[box(LEFT, BOTTOM, RIGHT, TOP).difference(hole)], crs=4326)
    blocks = street_blocks(ward.to_crs(METRIC), GRID.to_crs(METRIC))
    assert blocks.crs.to_epsg() == 4326
    hole_m2 = gpd.GeoSeries([hole], crs=4326).to_crs(METRIC).iloc[0]
    assert blocks.to_crs(METRIC).intersection(hole_m2).area.sum() < 0.5  # mm snapping
    _assert_tiles(blocks, ward, rel=1e-6)


def test_blocks_without_streets_are_the_ward() -> None:
    blocks = street_blocks(WARD, gpd.GeoDataFrame(geometry=[], crs=4326))
    assert len(blocks) == 1
    assert blocks["area_m2"].iloc[0] == pytest.approx(_area(WARD)[0], rel=1e-6)


# --- draft_groups -----------------------------------------------------------------------------


def _check_draft(
    groups: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, ward: gpd.GeoDataFrame, n: int, k: int
) -> None:
    """The invariants every draft must satisfy."""
    assert list(groups.columns) == list(SCHEMAS["groups"])
    assert list(zones.columns) == list(SCHEMAS["zones"])
    assert len(groups) == n and len(zones) == k
    assert (groups.geom_type == "Polygon").all(), "every group is one polygon"
    assert (zones.geom_type == "Polygon").all(), "every zone is contiguous"
    assert groups["group_id"].is_unique and zones["zone_id"].is_unique
    _assert_tiles(groups, ward, rel=0.005)
    assert set(groups["zone_id"]) == set(zones["zone_id"])
    metric_groups = groups.to_crs(METRIC)
    for zone in zones.to_crs(METRIC).itertuples():
        members = metric_groups[metric_groups["zone_id"] == zone.zone_id].union_all()
        assert zone.geometry.symmetric_difference(members).area < 1.0


def test_draft_eight_groups_in_two_zones() -> None:
    groups, zones = draft_groups(
        WARD, GRID, n_groups=8, n_zones=2, ward_id="thu", population=10_000
    )
    _check_draft(groups, zones, WARD, 8, 2)
    assert groups["group_id"].tolist() == [f"thu-G{i:02d}" for i in range(1, 9)]
    assert groups["name"].tolist() == [f"Tổ dân phố số {i}" for i in range(1, 9)]
    assert groups["zone_id"].tolist() == ["thu-Z1"] * 4 + ["thu-Z2"] * 4
    assert zones["name"].tolist() == ["Khu vực 1", "Khu vực 2"]
    assert (groups["ward_id"] == "thu").all() and (zones["ward_id"] == "thu").all()
    assert groups["valid_from"].isna().all() and groups["valid_to"].isna().all()
    # 49 equal blocks in 8 groups: 6 or 7 blocks each at best; allow 5 to 8 (ratio 1.6)
    areas = _area(groups)
    assert areas.max() / areas.min() <= 1.6 + 1e-6
    # population shared by area, households at 3.3 persons
    assert groups["population"].sum() == 10_000
    assert groups["population"].to_numpy() == pytest.approx(10_000 * areas / areas.sum(), abs=1)
    assert groups["households"].to_numpy() == pytest.approx(
        groups["population"].to_numpy() / 3.3, abs=0.5
    )


def test_draft_boundaries_follow_streets() -> None:
    groups, _ = draft_groups(WARD, GRID, n_groups=8, n_zones=2, ward_id="thu")
    inner = shapely.union_all(groups.to_crs(METRIC).boundary.to_numpy()).difference(
        WARD.to_crs(METRIC).boundary.iloc[0].buffer(0.5)
    )
    streets = GRID.to_crs(METRIC).union_all().buffer(0.5)
    assert inner.length > 500
    assert inner.difference(streets).length < 1.0


def test_draft_is_deterministic_for_a_seed() -> None:
    first, _ = draft_groups(WARD, GRID, n_groups=8, n_zones=2, ward_id="thu", seed=3)
    again, _ = draft_groups(WARD, GRID, n_groups=8, n_zones=2, ward_id="thu", seed=3)
    assert first.geometry.geom_equals_exact(again.geometry, tolerance=0).all()
    assert groups_without_population(first)


def groups_without_population(groups: gpd.GeoDataFrame) -> bool:
    return bool(groups["population"].isna().all() and groups["households"].isna().all())


def test_draft_cuts_large_blocks_with_straight_lines(caplog: pytest.LogCaptureFixture) -> None:
    few = _grid(1)  # 4 blocks for 10 groups
    with caplog.at_level(logging.INFO, logger="geo.drafting"):
        groups, zones = draft_groups(WARD, few, n_groups=10, n_zones=3, ward_id="thu")
    assert "straight lines" in caplog.text
    _check_draft(groups, zones, WARD, 10, 3)
    assert groups["zone_id"].value_counts().sort_index().tolist() == [4, 3, 3]
    areas = _area(groups)
    assert areas.max() / areas.min() < 1.6


def test_draft_without_streets() -> None:
    groups, zones = draft_groups(
        WARD, gpd.GeoDataFrame(geometry=[], crs=4326), n_groups=5, n_zones=1, ward_id="thu"
    )
    _check_draft(groups, zones, WARD, 5, 1)


def test_draft_ward_in_two_pieces_still_covers_it(caplog: pytest.LogCaptureFixture) -> None:
    pieces = box(LEFT, BOTTOM, LEFT + 0.002, TOP).union(box(LEFT + 0.003, BOTTOM, RIGHT, TOP))
    ward = gpd.GeoDataFrame(geometry=[pieces], crs=4326)
    with caplog.at_level(logging.WARNING, logger="geo.drafting"):
        groups, _ = draft_groups(ward, GRID, n_groups=6, n_zones=2, ward_id="thu")
    assert "separate pieces" in caplog.text
    _assert_tiles(groups, ward, rel=0.005)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_groups": 2, "n_zones": 3}, "n_zones=3 exceeds n_groups=2"),
        ({"n_groups": 0, "n_zones": 1}, "n_groups is 0"),
        ({"n_groups": 4, "n_zones": 0}, "n_zones is 0"),
        ({"n_groups": 2.5, "n_zones": 1}, "n_groups is 2.5"),
        ({"n_groups": 1000, "n_zones": 3}, "at most 414 groups"),
        ({"n_groups": 4, "n_zones": 2, "ward_id": " "}, "ward_id"),
        ({"n_groups": 4, "n_zones": 2, "population": -5}, "population is -5"),
    ],
)
def test_impossible_targets_raise(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"ward_id": "thu", **kwargs}
    with pytest.raises(InputError, match=message):
        draft_groups(WARD, GRID, **args)  # type: ignore[arg-type]


def test_inputs_without_crs_raise() -> None:
    with pytest.raises(InputError, match="streets has no CRS"):
        draft_groups(
            WARD, GRID.set_crs(None, allow_override=True), n_groups=2, n_zones=1, ward_id="thu"
        )
    with pytest.raises(InputError, match="ward must hold"):
        street_blocks(gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs=4326), GRID)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.integers(min_value=2, max_value=6),
    n_groups=st.integers(min_value=1, max_value=9),
    n_zones=st.integers(min_value=1, max_value=3),
    seed=st.integers(min_value=0, max_value=5),
)
def test_draft_invariants(lines: int, n_groups: int, n_zones: int, seed: int) -> None:
    n_zones = min(n_zones, n_groups)
    streets = _grid(lines)
    groups, zones = draft_groups(
        WARD, streets, n_groups=n_groups, n_zones=n_zones, ward_id="w", seed=seed
    )
    _check_draft(groups, zones, WARD, n_groups, n_zones)
    # every street block lies in exactly one group, unless it had to be cut (too large)
    blocks = street_blocks(WARD, streets).to_crs(METRIC)
    shares = np.array(
        [
            [b.intersection(g).area / b.area for g in groups.to_crs(METRIC).geometry]
            for b in blocks.geometry
        ]
    )
    assert shares.sum(axis=1) == pytest.approx(np.ones(len(blocks)), abs=1e-4)
    whole = blocks.area.to_numpy() <= _MAX_BLOCK_SHARE * _area(WARD)[0] / n_groups
    assert (shares[whole].max(axis=1) > 0.9999).all()


# --- real data: Kim Liên ----------------------------------------------------------------------


@pytest.mark.realdata
def test_kim_lien_92_groups_in_3_zones(kim_lien_osm: Path, kim_lien_ward: Path) -> None:
    ward = gpd.read_file(kim_lien_ward)
    started = time.perf_counter()
    streets = street_edges(load_network(kim_lien_osm), clip=ward)
    groups, zones = draft_groups(
        ward, streets, n_groups=92, n_zones=3, population=101_000, ward_id="kim-lien"
    )
    elapsed = time.perf_counter() - started
    assert elapsed < 20, f"the Kim Liên build took {elapsed:.1f} s"
    _check_draft(groups, zones, ward, 92, 3)
    assert groups["group_id"].iloc[[0, -1]].tolist() == ["kim-lien-G01", "kim-lien-G92"]
    assert groups["zone_id"].value_counts().sort_index().tolist() == [31, 31, 30]
    assert groups["population"].sum() == 101_000
    # balance: about ±10 % of the median group (26,300 m²) with seed 0; allow ±25 %
    areas = _area(groups)
    assert areas.min() > 0.75 * np.median(areas) and areas.max() < 1.25 * np.median(areas)
