"""Assignment of records to groups: inside, snapped within tolerance, outside; none dropped."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from geo.assign import assign_to_groups
from geo.errors import InputError

# Two 100 m-wide groups side by side near Kim Liên (1e-3° of longitude ≈ 104 m here).
GROUPS = gpd.GeoDataFrame(
    {"group_id": ["A", "B"], "zone_id": ["Z1", "Z2"], "ward_id": ["w", "w"]},
    geometry=[box(105.830, 21.000, 105.831, 21.001), box(105.831, 21.000, 105.832, 21.001)],
    crs=4326,
)


def _points(*xy):
    return gpd.GeoDataFrame(
        {"n": range(len(xy))}, geometry=[Point(p) if p else None for p in xy], crs=4326
    )


def test_inside_snapped_outside():
    pts = _points(
        (105.8305, 21.0005),  # inside A
        (105.8322, 21.0005),  # ~21 m east of B: outside the 15 m tolerance
        (105.83205, 21.0005),  # ~5 m east of B: snapped
        None,  # no position: kept, outside
    )
    out = assign_to_groups(pts, GROUPS)
    assert out["group_id"].tolist()[:1] == ["A"]
    assert out["assignment"].tolist() == ["inside", "outside", "snapped", "outside"]
    assert out["group_id"].isna().tolist() == [False, True, False, True]
    assert out.loc[2, "zone_id"] == "Z2" and out.loc[2, "ward_id"] == "w"


def test_input_is_not_mutated_and_index_and_crs_are_kept():
    pts = _points((105.8305, 21.0005), (105.8315, 21.0005)).set_index(np.array([7, 3]))
    pts = pts.to_crs(5897)
    before = pts.copy()
    out = assign_to_groups(pts, GROUPS)
    assert list(out.index) == [7, 3] and out.crs == pts.crs
    assert out["group_id"].tolist() == ["A", "B"]
    assert pts.equals(before)


def test_overlapping_groups_resolve_to_the_lowest_id_whatever_the_order():
    overlapping = GROUPS.copy()
    overlapping.loc[1, "geometry"] = box(105.8305, 21.000, 105.832, 21.001)
    pt = _points((105.8307, 21.0005))
    for frame in (overlapping, overlapping.iloc[::-1]):
        assert assign_to_groups(pt, frame)["group_id"].tolist() == ["A"]


def test_bad_arguments_are_named():
    with pytest.raises(InputError, match="zone_id"):
        assign_to_groups(_points((105.83, 21.0)), GROUPS.drop(columns="zone_id"))
    with pytest.raises(InputError, match="tolerance_m"):
        assign_to_groups(_points((105.83, 21.0)), GROUPS, tolerance_m=-1)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(105.828, 105.834), st.floats(20.998, 21.003)), max_size=40))
def test_every_record_is_kept_and_labelled(coords):
    pts = _points(*coords)
    out = assign_to_groups(pts, GROUPS)
    assert len(out) == len(pts)
    assert set(out["assignment"]) <= {"inside", "snapped", "outside"}
    assert (out["group_id"].isna() == (out["assignment"] == "outside")).all()
