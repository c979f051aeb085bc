"""Enforcement figures of a frame of violations: fined cases per category, fines, removals,
clean-ups and repeat places."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from geo.enforcement import enforcement_by, enforcement_summary
from geo.errors import InputError
from geo.model import CATEGORIES, VIOLATION_STATUSES

X, Y = 587_000.0, 2_324_000.0  # EPSG:5897 metres, in Hà Nội


def _frame(rows: list[tuple[str, str, int | None, int | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["category", "status", "fine_vnd", "items_removed"]).astype(
        {"fine_vnd": "Int64", "items_removed": "Int64"}
    )


def test_cases_fined_follow_the_category_order_and_skip_categories_without_fines() -> None:
    v = _frame([
        ("littering", "fined", 500_000, None),
        ("traffic", "fined", 400_000, None),
        ("traffic", "fined", 450_000, None),
        ("sidewalk_encroachment", "fined", 2_000_000, None),
        ("street_vending", "warned", None, None),
        ("construction_order", "resolved", None, None),
    ])  # fmt: skip
    s = enforcement_summary(v)
    assert list(s.cases_fined) == ["traffic", "sidewalk_encroachment", "littering"]
    assert [c for c in CATEGORIES if c in s.cases_fined] == list(s.cases_fined)
    assert s.cases_fined == {"sidewalk_encroachment": 1, "traffic": 2, "littering": 1}
    assert s.fines_by_category["traffic"] == 850_000
    assert (s.total_fines_vnd, s.fined, s.records) == (3_350_000, 4, 6)
    assert (s.warnings, s.resolved, s.removals) == (1, 1, 0)


def test_a_fine_recorded_with_a_removal_is_a_fined_case() -> None:
    v = _frame([
        ("illegal_signage", "removed", 1_000_000, 4),
        ("illegal_signage", "removed", None, 7),
        ("illegal_signage", "fined", None, None),  # fined, amount not typed in
        ("illegal_signage", "warned", 0, None),  # a zero is no fine
    ])  # fmt: skip
    s = enforcement_summary(v)
    assert s.cases_fined == {"illegal_signage": 2}
    assert (s.total_fines_vnd, s.items_removed, s.removals) == (1_000_000, 11, 2)


def test_unknown_and_missing_categories_come_after_the_known_ones() -> None:
    v = _frame([("zz_new", "fined", 100, None), (None, "fined", 100, None),
                ("traffic", "fined", 100, None)])  # fmt: skip
    assert list(enforcement_summary(v).cases_fined) == ["traffic", "other", "zz_new"]


def test_enforcement_by_another_column_leaves_out_records_without_a_value() -> None:
    v = _frame([("traffic", "fined", 400_000, None), ("traffic", "removed", None, 3),
                ("littering", "fined", 500_000, None)])  # fmt: skip
    v["group_id"] = ["G2", None, "G1"]
    table = enforcement_by(v, by="group_id")
    assert table.index.tolist() == ["G1", "G2"]
    assert table["fines_vnd"].tolist() == [500_000, 400_000]
    assert table["items_removed"].sum() == 0  # the removal had no group
    with pytest.raises(InputError, match="zone_id"):
        enforcement_by(v, by="zone_id")


def test_an_empty_frame_gives_zeros() -> None:
    s = enforcement_summary(_frame([]), cleanups=pd.DataFrame())
    assert s.records == 0 and s.cases_fined == {} and s.total_fines_vnd == 0
    assert s.cleanups is not None and (s.cleanups.count, s.cleanups.participants) == (0, 0)
    assert s.repeat_places is None  # no locations at all


def test_cleanups_are_summed_and_absent_when_not_given() -> None:
    cleanups = pd.DataFrame({"participants": [20, None, 15], "waste_kg": [150.5, 80.0, None]})
    s = enforcement_summary(_frame([]), cleanups=cleanups)
    assert s.cleanups is not None
    assert (s.cleanups.count, s.cleanups.participants, s.cleanups.waste_kg) == (3, 35, 230.5)
    assert enforcement_summary(_frame([])).cleanups is None


def test_repeat_places_need_three_records_within_fifteen_metres() -> None:
    v = _frame([("street_vending", "warned", None, None)] * 6)
    points = [Point(X, Y), Point(X + 4, Y), Point(X, Y + 5),  # one place
              Point(X + 300, Y), Point(X + 304, Y),  # only two
              Point(X + 900, Y)]  # fmt: skip
    s = enforcement_summary(gpd.GeoDataFrame(v, geometry=points, crs=5897))
    assert s.repeat_places == 1


def test_missing_columns_are_named() -> None:
    with pytest.raises(InputError, match="category, status"):
        enforcement_summary(pd.DataFrame({"fine_vnd": [1]}))
    with pytest.raises(InputError, match="DataFrame"):
        enforcement_summary([1, 2])  # type: ignore[arg-type]


def test_input_is_not_changed_and_to_dict_is_json() -> None:
    v = _frame([("traffic", "fined", 400_000, None), ("littering", "removed", None, 2)])
    before = v.copy()
    s = enforcement_summary(v, cleanups=pd.DataFrame({"participants": [3], "waste_kg": [1.5]}))
    pd.testing.assert_frame_equal(v, before)
    data = json.loads(json.dumps(s.to_dict()))
    assert data["cases_fined"] == {"traffic": 1} and data["fined"] == 1
    assert data["cleanups"] == {"count": 1, "participants": 3, "waste_kg": 1.5}


_row = st.tuples(
    st.sampled_from([*CATEGORIES, None]),
    st.sampled_from([*VIOLATION_STATUSES, None]),
    st.one_of(st.none(), st.integers(0, 5_000_000)),
    st.one_of(st.none(), st.integers(0, 30)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_row, max_size=40))
def test_the_figures_add_up(rows: list[tuple[str, str, int | None, int | None]]) -> None:
    v = _frame(rows)
    s = enforcement_summary(v)
    table = enforcement_by(v)
    assert table["records"].sum() == s.records == len(rows)
    assert sum(s.fines_by_category.values()) == s.total_fines_vnd == sum(r[2] or 0 for r in rows)
    assert s.fined == sum(1 for r in rows if r[1] == "fined" or (r[2] or 0) > 0)
    assert s.warnings + s.resolved + s.removals <= s.records
