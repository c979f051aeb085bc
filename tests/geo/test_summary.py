"""Per-group rates and the headline figures."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo.errors import InputError
from geo.summary import group_rates, headline

GROUPS = gpd.GeoDataFrame(
    {"group_id": ["A", "B", "C"], "name": ["Tổ 1", "Tổ 2", "Tổ 3"], "population": [1000, 500, 0]},
    geometry=[box(105.83, 21.0, 105.831, 21.001), box(105.831, 21.0, 105.832, 21.001),
              box(105.832, 21.0, 105.833, 21.001)],
    crs=4326,
)  # fmt: skip
RECORDS = pd.DataFrame(
    {
        "group_id": ["A", "A", "B", None],
        "fine_vnd": pd.array([500_000, None, 300_000, 0], dtype="Int64"),
        "items_removed": pd.array([None, 3, None, 2], dtype="Int64"),
    }
)


def test_rates_count_every_group_and_keep_the_input():
    before = GROUPS.copy()
    rates = group_rates(RECORDS, GROUPS, months=2)
    assert rates["count"].tolist() == [2, 1, 0]
    assert rates["per_1000"].tolist()[:2] == [2.0, 2.0]
    assert pd.isna(rates["per_1000"].iloc[2])  # no population, no rate
    area = rates["area_km2"].iloc[0]
    assert 0.011 < area < 0.012  # ~104 m x 111 m
    assert rates["per_km2_month"].iloc[0] == pytest.approx(2 / area / 2)
    assert GROUPS.equals(before)


def test_headline_sums_fines_and_ranks_only_groups_with_records():
    rates = group_rates(RECORDS, GROUPS)
    head = headline(RECORDS, rates, top=5, basis="count")
    assert (head.records, head.fined, head.fines_vnd, head.items_removed) == (4, 2, 800_000, 5)
    assert head.outside == 1
    assert head.worst["group_id"].tolist() == ["A", "B"]


def test_records_without_groups_are_refused_with_the_fix():
    with pytest.raises(InputError, match=r"geo\.assign"):
        group_rates(pd.DataFrame({"x": [1]}), GROUPS)
