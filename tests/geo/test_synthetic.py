"""Tests of geo.synthetic: the synthetic demo ward and its street network."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo.crs import to_metric
from geo.errors import InputError
from geo.model import SCHEMAS, conform
from geo.synthetic import DEMO_WARD_ID, EXTRACT_MARGIN_M, synthetic_ward


@pytest.fixture(scope="module")
def demo():
    return synthetic_ward(seed=0)


def _blocks_in_ward(ward, streets):
    """Blocks as the drafting code sees them: polygonize the noded streets, keep the ward's."""
    ward_m = to_metric(ward)
    lines = streets.to_crs(ward_m.crs).geometry.to_numpy()
    blocks = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(lines))))
    inside = shapely.within(shapely.point_on_surface(blocks), ward_m.geometry.iloc[0])
    return blocks[inside]


def test_ward_is_one_labelled_synthetic_row_of_the_schema(demo):
    ward, _ = demo
    assert list(ward.columns) == list(SCHEMAS["wards"])
    assert_geodataframe_equal(conform("wards", ward), ward)
    row = ward.iloc[0]
    assert len(ward) == 1 and ward.crs.to_epsg() == 4326
    assert row["ward_id"] == DEMO_WARD_ID
    assert bool(row["synthetic"]) and row["source"] == "synthetic"
    assert "tổng hợp" in row["name"]
    assert 95_000 <= row["population"] <= 110_000
    assert row.geometry.geom_type == "MultiPolygon" and row.geometry.is_valid


@pytest.mark.parametrize("area_km2", [2.4, 1.0])
def test_ward_area_is_within_ten_percent_of_the_target(demo, area_km2):
    ward, _ = demo if area_km2 == 2.4 else synthetic_ward(seed=5, area_km2=area_km2)
    area = to_metric(ward).area.iloc[0] / 1e6
    assert area == pytest.approx(area_km2, rel=0.10)


def test_ward_is_irregular_not_a_circle_or_a_square(demo):
    ward, _ = demo
    poly = to_metric(ward).geometry.iloc[0]
    compactness = 4 * np.pi * poly.area / poly.length**2  # 1 for a circle, 0.785 for a square
    assert compactness < 0.75
    assert poly.area / poly.minimum_rotated_rectangle.area < 0.9
    assert poly.area / poly.convex_hull.area < 0.97


def test_streets_conform_and_follow_the_hanoi_hierarchy(demo):
    _, streets = demo
    assert list(streets.columns) == list(SCHEMAS["streets"])
    assert_geodataframe_equal(conform("streets", streets), streets)
    assert (streets.geom_type == "LineString").all()
    assert streets["street_id"].is_unique and (streets["ward_id"] == DEMO_WARD_ID).all()
    assert {"primary", "secondary", "residential", "service", "footway"} <= set(streets["highway"])
    metric = streets.to_crs(to_metric(demo[0]).crs).length
    assert np.allclose(streets["length_m"], metric, rtol=1e-6)

    arterial = streets["highway"].isin(["primary", "secondary"])
    arterial_names = set(streets.loc[arterial, "name"])
    assert 4 <= len(arterial_names) <= 6
    assert all(name.endswith(" Mẫu") for name in arterial_names)  # clearly fictional
    lanes = streets.loc[streets["highway"].isin(["tertiary", "residential"]), "name"]
    alleys = streets.loc[streets["highway"].isin(["service", "footway"]), "name"]
    assert lanes.str.match(r"^Ngõ \d+ ").all()
    assert alleys.str.match(r"^Ngách \d+/\d+ ").all()
    # each lane and alley is named after an arterial of the ward
    for name in set(lanes) | set(alleys):
        assert name.split(" ", 2)[2] in arterial_names


def test_streets_form_hundreds_of_blocks_inside_the_ward(demo):
    blocks_ha = shapely.area(_blocks_in_ward(*demo)) / 1e4
    assert len(blocks_ha) >= 300
    assert 0.2 <= np.median(blocks_ha) <= 2.0


def test_streets_are_noded_at_every_junction(demo):
    """Pieces meet only at their ends: noding them again splits nothing."""
    _, streets = demo
    lines = streets.geometry.to_numpy()
    renoded = shapely.get_parts(shapely.union_all(lines))
    assert len(renoded) == len(lines)


def test_lanes_join_streets_at_both_ends_often_enough_to_close_blocks(demo):
    _, streets = demo
    ends = np.vstack(
        [
            shapely.get_coordinates(shapely.get_point(streets.geometry.to_numpy(), 0)),
            shapely.get_coordinates(shapely.get_point(streets.geometry.to_numpy(), -1)),
        ]
    )
    _, counts = np.unique(ends, axis=0, return_counts=True)
    # dead ends (ngõ cụt) exist, but most street ends are junctions
    assert (counts == 1).sum() > 0
    assert (counts >= 3).sum() > 2 * (counts == 1).sum()


def test_streets_extend_about_an_extract_margin_beyond_the_ward(demo):
    ward, streets = demo
    ward_m = to_metric(ward)
    dist = streets.to_crs(ward_m.crs).distance(ward_m.geometry.iloc[0])
    assert (dist > 0).sum() > 50
    assert EXTRACT_MARGIN_M * 0.8 < dist.max() <= EXTRACT_MARGIN_M + 1


def test_same_seed_same_ward_other_seed_other_ward(demo):
    ward, streets = demo
    again_ward, again_streets = synthetic_ward(seed=0)
    assert_geodataframe_equal(ward, again_ward)
    assert_geodataframe_equal(streets, again_streets)
    other_ward, other_streets = synthetic_ward(seed=1)
    assert not ward.geometry.iloc[0].equals(other_ward.geometry.iloc[0])
    assert len(other_streets) != len(streets) or not streets.geometry.equals(other_streets.geometry)


def test_center_places_the_ward():
    ward, streets = synthetic_ward(seed=2, area_km2=0.5, center=(106.70, 10.78))
    centre = ward.geometry.iloc[0].centroid
    assert centre.x == pytest.approx(106.70, abs=0.01)
    assert centre.y == pytest.approx(10.78, abs=0.01)
    assert len(_blocks_in_ward(ward, streets)) >= 50


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"area_km2": 0}, "area_km2"),
        ({"area_km2": 500}, "area_km2"),
        ({"center": (21.0, 105.8)}, "center"),
    ],
)
def test_bad_arguments_are_refused_with_the_fix(kwargs, message):
    with pytest.raises(InputError, match=message):
        synthetic_ward(**kwargs)
