"""Emerging hot spots: every pattern's rule, and planted weekly patterns found on a grid."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.emerging import MIN_PERIODS, PATTERNS, classify_pattern, emerging_hotspots
from geo.errors import InputError

# An 8 × 8 grid of 100 m cells in Hà Nội's metric CRS; ids are "column-row".
X0, Y0, SIZE, N = 587_000.0, 2_323_000.0, 100.0, 8
CELLS = gpd.GeoDataFrame(
    {"cell_id": [f"{i}-{j}" for j in range(N) for i in range(N)]},
    geometry=[
        box(X0 + SIZE * i, Y0 + SIZE * j, X0 + SIZE * (i + 1), Y0 + SIZE * (j + 1))
        for j in range(N)
        for i in range(N)
    ],
    crs=5897,
)
MONDAY = pd.Timestamp("2025-03-03", tz="Asia/Ho_Chi_Minh")
WEEKS = 12


def _points(counts: dict[tuple[int, int, int], int]) -> gpd.GeoDataFrame:
    """``counts[(column, row, week)]`` points scattered inside that cell, on that week's Tuesday."""
    rng = np.random.default_rng(1)
    xs, ys, times = [], [], []
    for (i, j, week), n in counts.items():
        xs.extend(X0 + SIZE * i + rng.uniform(10, 90, n))
        ys.extend(Y0 + SIZE * j + rng.uniform(10, 90, n))
        times.extend([MONDAY + pd.Timedelta(weeks=week, days=1, hours=9)] * n)
    return gpd.GeoDataFrame(
        {"observed_at": pd.DatetimeIndex(times)},
        geometry=gpd.points_from_xy(xs, ys),
        crs=5897,
    ).to_crs(4326)


def _scenario(block_weeks: dict[int, int], *, seed: int = 0) -> pd.Series:
    """Poisson(2) background everywhere; ``block_weeks[week]`` extra points in each cell of
    the 3 × 3 block around cell 3-3 that week. Returns each cell's category."""
    rng = np.random.default_rng(seed)
    counts = {
        (i, j, w): int(rng.poisson(2)) for i in range(N) for j in range(N) for w in range(WEEKS)
    }
    for week, extra in block_weeks.items():
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                counts[(3 + di, 3 + dj, week)] += extra
    out = emerging_hotspots(
        _points(counts), CELLS, start=MONDAY, end=MONDAY + pd.Timedelta(weeks=WEEKS)
    )
    return out.set_index("cell_id")["category"]


def _flags(text: str) -> tuple[list[bool], list[bool]]:
    """'..HH.C' -> hot and cold flags per period (H hot, C cold, . neither)."""
    return [c == "H" for c in text], [c == "C" for c in text]


@pytest.mark.parametrize(
    ("series", "tau", "p", "expected"),
    [
        ("..........", 0.0, 1.0, "no_pattern"),
        (".........H", 0.2, 0.3, "new_hot"),
        ("C........H", 0.2, 0.3, "new_hot"),  # first time hot: new, whatever came before
        (".......HHH", 0.5, 0.01, "consecutive_hot"),
        ("HHHHHHHHHH", 0.6, 0.01, "intensifying_hot"),
        (".HHHHHHHHH", 0.6, 0.01, "intensifying_hot"),  # 90 % of the periods is enough
        ("HHHHHHHHHH", 0.1, 0.60, "persistent_hot"),
        ("HHHHHHHHHH", -0.6, 0.01, "diminishing_hot"),
        ("..H...H..H", 0.1, 0.60, "sporadic_hot"),
        ("..H....HHH", 0.1, 0.60, "sporadic_hot"),  # hot before the final run: not consecutive
        ("C.H......H", 0.1, 0.60, "oscillating_hot"),
        ("HHHHHHHHH.", -0.2, 0.40, "historical_hot"),
        ("HHHHHHHH..", -0.2, 0.40, "no_pattern"),  # 80 %: neither historical nor current
        (".........C", -0.2, 0.3, "new_cold"),
        (".......CCC", -0.5, 0.01, "consecutive_cold"),
        ("CCCCCCCCCC", -0.6, 0.01, "intensifying_cold"),  # ever lower z: colder
        ("CCCCCCCCCC", 0.0, 1.0, "persistent_cold"),
        ("CCCCCCCCCC", 0.6, 0.01, "diminishing_cold"),
        ("C...C....C", 0.0, 1.0, "sporadic_cold"),
        ("H...C....C", 0.0, 1.0, "oscillating_cold"),
        ("CCCCCCCCC.", 0.2, 0.4, "historical_cold"),
    ],
)
def test_each_pattern_follows_its_rule(series, tau, p, expected):
    hot, cold = _flags(series)
    assert classify_pattern(hot, cold, tau=tau, p=p, alpha=0.05) == expected
    assert expected in PATTERNS


def test_the_ninety_percent_rule_counts_periods_not_a_rounded_share():
    # 18 of 20 periods is exactly 90 %: intensifying; 17 of 20 is not.
    hot, cold = _flags("..HHHHHHHHHHHHHHHHHH")
    assert classify_pattern(hot, cold, tau=0.5, p=0.01) == "intensifying_hot"
    hot, cold = _flags("...HHHHHHHHHHHHHHHHH")
    assert classify_pattern(hot, cold, tau=0.5, p=0.01) == "consecutive_hot"


def test_a_block_hot_only_in_the_last_week_is_new():
    categories = _scenario({WEEKS - 1: 30})
    assert categories["3-3"] == "new_hot"
    far = categories.drop([f"{i}-{j}" for i in (2, 3, 4) for j in (2, 3, 4)])
    assert not far.str.endswith("_hot").any()


def test_a_block_hot_every_week_and_growing_is_intensifying():
    categories = _scenario({w: 4 + 2 * w for w in range(WEEKS)})
    assert categories["3-3"] == "intensifying_hot"


def test_a_block_hot_every_week_is_persistent_and_fading_diminishing():
    assert _scenario({w: 20 for w in range(WEEKS)})["3-3"] == "persistent_hot"
    assert _scenario({w: 26 - 2 * w for w in range(WEEKS)})["3-3"] == "diminishing_hot"


def test_a_block_hot_in_the_last_weeks_is_consecutive_and_before_that_historical():
    assert _scenario({w: 30 for w in (9, 10, 11)})["3-3"] == "consecutive_hot"
    assert _scenario({w: 30 for w in range(WEEKS - 1)})["3-3"] == "historical_hot"


def test_a_block_hot_on_and_off_is_sporadic():
    assert _scenario({2: 30, 6: 30, 11: 30})["3-3"] == "sporadic_hot"


def test_quiet_weeks_and_identical_counts_give_no_pattern():
    # Weeks 0-5 without any point, then every cell the same count: nothing stands out.
    counts = {(i, j, w): 3 for i in range(N) for j in range(N) for w in range(6, WEEKS)}
    out = emerging_hotspots(
        _points(counts), CELLS, start=MONDAY, end=MONDAY + pd.Timedelta(weeks=WEEKS)
    )
    assert (out["category"] == "no_pattern").all()
    assert (out["n_points"] == 18).all() and (out["n_hot_weeks"] == 0).all()
    assert len(out.attrs["periods"]) == WEEKS and out.crs.to_epsg() == 4326


def test_output_keeps_every_cell_in_order_and_the_input_unchanged():
    counts = {(1, 1, w): 2 for w in range(WEEKS)}
    points = _points(counts)
    before = CELLS.copy()
    out = emerging_hotspots(points, CELLS, start=MONDAY, end=MONDAY + pd.Timedelta(weeks=WEEKS))
    assert out["cell_id"].tolist() == CELLS["cell_id"].tolist()
    assert out.set_index("cell_id").loc["1-1", "n_points"] == 2 * WEEKS
    assert CELLS.equals(before)
    expected = {"category", "n_hot_weeks", "last_week_hot", "mk_tau", "mk_p", "geometry"}
    assert expected <= set(out.columns)


def test_partial_weeks_at_either_end_are_left_out():
    # Points from a Wednesday to a Wednesday: the first and last weeks are cut, so dropped.
    counts = {(1, 1, w): 1 for w in range(WEEKS)}
    points = _points(counts)
    points.loc[0, "observed_at"] = MONDAY + pd.Timedelta(days=2)
    points.loc[1, "observed_at"] = MONDAY + pd.Timedelta(weeks=WEEKS, days=2)
    out = emerging_hotspots(points, CELLS)
    periods = out.attrs["periods"]
    assert periods[0] == MONDAY + pd.Timedelta(weeks=1) and len(periods) == WEEKS - 1


def test_too_few_weeks_and_bad_cells_are_refused():
    counts = {(1, 1, w): 1 for w in range(MIN_PERIODS - 1)}
    with pytest.raises(InputError, match="at least 10"):
        emerging_hotspots(_points(counts), CELLS, start=MONDAY, end=MONDAY + pd.Timedelta(weeks=9))
    with pytest.raises(InputError, match="cell_id"):
        emerging_hotspots(_points(counts), CELLS.rename(columns={"cell_id": "id"}))
