"""Quartic kernel density on square cells, and ArcGIS's default bandwidth."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

import geo.density
from geo.density import default_bandwidth, kernel_density, quartic
from geo.errors import InputError

X, Y = 585_000, 2_323_000  # EPSG:5897 metres, in Hà Nội
AREA = gpd.GeoSeries([box(X, Y, X + 2000, Y + 2000)], crs=5897)


def _points(xy, crs=5897, **columns):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


def _mass(density: gpd.GeoDataFrame) -> float:
    return float((density["density"] * density["area_m2"] / 1e6).sum())


def test_the_quartic_kernel_integrates_to_one_and_ends_at_the_bandwidth():
    r = np.linspace(0, 250, 250_001)
    assert np.trapezoid(quartic(r, 250.0) * 2 * math.pi * r, r) == pytest.approx(1, abs=1e-6)
    assert quartic(np.array([0.0]), 250.0)[0] == pytest.approx(3 / (math.pi * 250**2))
    assert quartic(np.array([250.0, 400.0]), 250.0).tolist() == [0.0, 0.0]


def test_one_record_at_a_cell_centre_peaks_there_and_reaches_only_within_the_bandwidth():
    one = _points([(X + 1050, Y + 1050)])
    d = kernel_density(one, AREA, cell_m=100, bandwidth_m=300).set_index("cell_id")
    assert d.loc["100m_5860_23240", "density"] == pytest.approx(3 / (math.pi * 0.3**2))
    assert d.loc["100m_5863_23240", "density"] == 0  # exactly 300 m away
    assert d.loc["100m_5862_23240", "density"] == pytest.approx(
        3 / (math.pi * 0.3**2) * (1 - (200 / 300) ** 2) ** 2
    )
    assert (d["density"] > 0).sum() == 25  # lattice centres strictly within 300 m


def test_density_times_area_gives_back_the_number_of_records():
    rng = np.random.default_rng(0)
    pts = _points(rng.normal([X + 1000, Y + 1000], 150, (500, 2)))
    d = kernel_density(pts, AREA, cell_m=20, bandwidth_m=200)
    assert _mass(d) == pytest.approx(500, rel=0.01)
    assert d.attrs["bandwidth_m"] == 200
    assert d.attrs["bandwidth_rule"] == "given"


def test_months_and_weights_scale_the_density():
    rng = np.random.default_rng(1)
    xy = rng.normal([X + 1000, Y + 1000], 100, (200, 2))
    base = kernel_density(_points(xy), AREA, cell_m=50, bandwidth_m=250)
    per_month = kernel_density(_points(xy), AREA, cell_m=50, bandwidth_m=250, months=4)
    assert np.allclose(per_month["density"], base["density"] / 4)
    weighted = kernel_density(_points(xy, fine=np.full(200, 2.0)), AREA, cell_m=50,
                              bandwidth_m=250, weight="fine")  # fmt: skip
    assert _mass(weighted) == pytest.approx(2 * _mass(base))


def test_the_result_is_the_same_from_any_crs():
    xy = np.random.default_rng(2).normal([X + 1000, Y + 1000], 200, (300, 2))
    metric = kernel_density(_points(xy), AREA, cell_m=100, bandwidth_m=250)
    degrees = kernel_density(_points(xy).to_crs(4326), AREA.to_crs(4326), cell_m=100,
                             bandwidth_m=250)  # fmt: skip
    assert degrees["cell_id"].tolist() == metric["cell_id"].tolist()
    # EPSG:5897 → 4326 → 5897 moves points by about a millimetre
    assert np.abs(degrees["density"] - metric["density"]).max() < 1e-5 * metric["density"].max()


def test_many_records_are_binned_with_a_negligible_shift(monkeypatch):
    xy = np.random.default_rng(3).normal([X + 1000, Y + 1000], 300, (20_000, 2))
    exact = kernel_density(_points(xy), AREA, cell_m=50, bandwidth_m=200)
    monkeypatch.setattr(geo.density, "BIN_ABOVE", 1000)
    binned = kernel_density(_points(xy), AREA, cell_m=50, bandwidth_m=200)
    assert np.abs(binned["density"] - exact["density"]).max() < 0.005 * exact["density"].max()
    assert _mass(binned) == pytest.approx(_mass(exact), rel=1e-4)


def test_default_bandwidth_follows_the_arcgis_rule():
    # four records at the corners of a 200 m square: SD = Dm = 141.4 m, n = 4
    corners = _points([(X, Y), (X + 200, Y), (X, Y + 200), (X + 200, Y + 200)])
    expected = 0.9 * min(math.sqrt(2) * 100, math.sqrt(1 / math.log(2)) * math.sqrt(2) * 100)
    assert default_bandwidth(corners) == pytest.approx(expected * 4**-0.2, rel=1e-6)
    # weights act as repeated records
    twice = _points([(X, Y), (X + 200, Y), (X, Y + 200), (X + 200, Y + 200)], w=[2, 2, 2, 2])
    doubled = _points(np.repeat(corners.get_coordinates().to_numpy(), 2, axis=0))
    assert default_bandwidth(twice, weight="w") == pytest.approx(default_bandwidth(doubled))


def test_default_bandwidth_resists_a_spatial_outlier():
    xy = np.random.default_rng(4).normal([X + 1000, Y + 1000], 100, (400, 2))
    with_outlier = np.vstack([xy, [[X + 1000 + 50_000, Y + 1000]]])
    plain, pulled = default_bandwidth(_points(xy)), default_bandwidth(_points(with_outlier))
    # the median distance keeps it near; the standard distance alone would grow ~18-fold
    standard_distance = np.sqrt(((with_outlier - with_outlier.mean(axis=0)) ** 2).sum(1).mean())
    assert 0.9 * standard_distance * 401**-0.2 > 10 * plain
    assert pulled < 2 * plain


def test_the_default_bandwidth_is_never_narrower_than_a_cell():
    dense = np.random.default_rng(5).normal([X + 1000, Y + 1000], 20, (2000, 2))
    d = kernel_density(_points(dense), AREA, cell_m=100)
    assert d.attrs["bandwidth_m"] == 100
    assert d.attrs["bandwidth_rule"] == "cell"
    wide = np.random.default_rng(5).uniform([X, Y], [X + 2000, Y + 2000], (300, 2))
    d = kernel_density(_points(wide), AREA, cell_m=50)
    assert d.attrs["bandwidth_rule"] == "arcgis"
    assert d.attrs["bandwidth_m"] == pytest.approx(default_bandwidth(_points(wide)))


def test_no_records_give_zero_density_everywhere():
    d = kernel_density(_points(np.empty((0, 2))), AREA, cell_m=200, bandwidth_m=300)
    assert len(d) == 100
    assert (d["density"] == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"months": 0}, "months must be positive"),
        ({"bandwidth_m": -5}, "bandwidth_m must be a positive"),
        ({"weight": "fine"}, "'fine' is not among"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        kernel_density(_points([(X, Y)]), AREA, cell_m=100, **kwargs)
