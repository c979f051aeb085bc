"""Model: categories, fine schedule, schemas."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from geo.errors import InputError
from geo.model import CATEGORIES, SCHEMAS, SPATIAL_TABLES, conform, empty_frame, fine_schedule

DESIGN_CATEGORIES = {
    "sidewalk_encroachment", "street_vending", "traffic", "littering",
    "illegal_signage", "construction_order", "other",
}  # fmt: skip


def test_categories_are_those_of_the_design():
    assert set(CATEGORIES) == DESIGN_CATEGORIES


def test_fine_schedule_covers_every_fined_category_with_a_sane_range():
    rules = fine_schedule()
    assert set(rules) == DESIGN_CATEGORIES - {"other"}
    for rule in rules.values():
        assert 0 < rule.min_vnd <= rule.max_vnd
        assert rule.legal_basis.endswith("NĐ-CP")
    assert rules["littering"].legal_basis == "45/2022/NĐ-CP"


@pytest.mark.parametrize("table", sorted(SCHEMAS))
def test_empty_frames_have_the_schema(table):
    frame = empty_frame(table)
    assert list(frame.columns) == list(SCHEMAS[table])
    assert isinstance(frame, gpd.GeoDataFrame) == (table in SPATIAL_TABLES)


def test_conform_localises_naive_times_and_reprojects():
    df = gpd.GeoDataFrame(
        {"record_id": ["a"], "observed_at": ["2025-07-08 09:30"], "extra": [1]},
        geometry=[Point(585000, 2323000)],
        crs=5897,
    )
    out = conform("violations", df)
    assert "extra" not in out.columns and out.crs.to_epsg() == 4326
    assert out["observed_at"].iloc[0] == pd.Timestamp("2025-07-08 09:30", tz="Asia/Ho_Chi_Minh")
    assert 105 < out.geometry.x.iloc[0] < 106


def test_conform_names_unknown_tables():
    with pytest.raises(InputError, match="Unknown table"):
        conform("violation", pd.DataFrame())
