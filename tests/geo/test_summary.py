"""Per-group rates and the headline figures."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo.errors import InputError
from geo.summary import aggregate_headline, group_rates, headline

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


def test_a_case_is_fined_by_its_status_or_its_fine_as_the_reports_count_it():
    with_status = RECORDS.assign(status=["fined", "warned", "removed", "fined"])
    head = headline(with_status, group_rates(with_status, GROUPS))
    # the removal with a fine (B) and the fined case without an amount (no group) count too
    assert head.fined == 3 and head.fines_vnd == 800_000


def test_records_without_groups_are_refused_with_the_fix():
    with pytest.raises(InputError, match=r"geo\.assign"):
        group_rates(pd.DataFrame({"x": [1]}), GROUPS)


def test_rates_and_headline_from_aggregates_equal_those_from_the_records():
    from geo.summary import area_rates

    records = RECORDS.assign(fine_vnd=RECORDS["fine_vnd"].fillna(0))
    aggregates = pd.DataFrame(
        {
            "group_id": pd.array(["A", "B", None], dtype="string"),
            "count": [2, 1, 1],
            "fined": [1, 1, 0],
            "fine_vnd": [500_000, 300_000, 0],
            "items_removed": [3, 0, 2],
        }
    )
    counts = aggregates.dropna(subset="group_id").set_index("group_id")["count"]
    from_counts = area_rates(counts, GROUPS, months=2)
    pd.testing.assert_frame_equal(from_counts, group_rates(records, GROUPS, months=2))
    for basis in ("per_1000", "per_km2", "count"):
        ours = aggregate_headline(aggregates, from_counts, basis=basis)
        theirs = headline(records, from_counts, basis=basis)
        pd.testing.assert_frame_equal(ours.worst, theirs.worst)
        assert (ours.records, ours.fined, ours.fines_vnd, ours.items_removed, ours.outside) == (
            theirs.records, theirs.fined, theirs.fines_vnd, theirs.items_removed, theirs.outside
        )  # fmt: skip


def test_area_rates_use_a_given_area_and_name_a_missing_key():
    from geo.summary import area_rates

    given = GROUPS.assign(area_km2=[1.0, 2.0, 4.0])
    rates = area_rates(pd.Series({"A": 4, "C": 8}), given)
    assert rates["per_km2"].tolist() == [4.0, 0.0, 2.0] and rates["count"].tolist() == [4, 0, 8]
    with pytest.raises(InputError, match="ward_id"):
        area_rates(pd.Series({"A": 1}), GROUPS, key="ward_id")
    with pytest.raises(InputError, match="count, fine_vnd"):
        aggregate_headline(pd.DataFrame({"fined": [1], "items_removed": [0]}), rates)
