"""The hotspot façade: every unit ranked, Gi* that finds what is planted and nothing in noise."""

from __future__ import annotations

import time

import esda
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from libpysal.weights import lat2W
from shapely.geometry import LineString, Point, box

from geo._hotspots_scale import MAX_CELLS, MIN_CELLS, choose_scale, lattice_moran_z
from geo.cells import hex_grid, square_grid
from geo.errors import InputError
from geo.hotspots import choose_cell_size, hotspots
from tests.conftest import KIM_LIEN_WARD, SHARED_DATA, shared_file

X, Y = 585_000, 2_323_000  # EPSG:5897 metres, in Hà Nội
SIDE = 2000
AREA = gpd.GeoSeries([box(X, Y, X + SIDE, Y + SIDE)], crs=5897)
PLANTED = Point(X + 1300, Y + 700)
CELL_METHODS = ["grid", "hex", "kde", "gi"]


def _points(xy, crs=5897, **columns):
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return gpd.GeoDataFrame(columns, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=crs)


def _uniform(n, seed, side=SIDE):
    return np.random.default_rng(seed).uniform([X, Y], [X + side, Y + side], (n, 2))


def _planted(seed=0, spread=120.0):
    rng = np.random.default_rng(seed)
    cluster = rng.normal([PLANTED.x, PLANTED.y], spread, (150, 2))
    return _points(np.vstack([_uniform(800, seed + 1000), cluster]))


# --- Gi*: the done-when criteria --------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gi_finds_a_planted_cluster_where_it_was_planted(seed):
    result = hotspots(_planted(seed), method="gi", area=AREA, cell_m=100, seed=seed)
    metric = result.to_crs(5897)
    hot = metric[metric["hot"]]
    assert len(hot) >= 5
    # every hot cell lies within ~1.5 hexagons of the planted centre, which is itself hot
    assert hot.distance(PLANTED).max() < 200
    assert metric.loc[metric.contains(PLANTED), "hot"].item()
    assert result.loc[result["rank"] <= 3].to_crs(5897).distance(PLANTED).max() < 200
    assert result.attrs["hot"] == len(hot)


def test_gi_finds_a_cluster_packed_into_one_cell():
    result = hotspots(_planted(0, spread=20), method="gi", area=AREA, cell_m=100)
    metric = result.to_crs(5897)
    assert metric.loc[metric.contains(PLANTED), "hot"].item()


@pytest.mark.slow
def test_gi_finds_no_hotspot_in_uniform_noise_in_at_least_95_of_100_seeds():
    # 281 hexagons, 199 permutations per cell (999 would make this test five times slower
    # without changing what it checks: the FDR correction, not the permutation count).
    with_hot = 0
    for seed in range(100):
        result = hotspots(
            _points(_uniform(1000, seed)),
            method="gi",
            area=AREA,
            cell_m=100,
            permutations=199,
            seed=seed,
        )
        with_hot += bool(result["hot"].any())
    assert len(result) == 281
    assert with_hot <= 5


@pytest.mark.slow
def test_gi_on_ten_thousand_cells_with_999_permutations_runs_in_seconds():
    side = 12_500  # H3 resolution 10 hexagons of ~15,600 m²: ~10,000 cells
    area = gpd.GeoSeries([box(X, Y, X + side, Y + side)], crs=5897)
    pts = _points(_uniform(20_000, 7, side=side))
    start = time.perf_counter()
    result = hotspots(pts, method="gi", area=area, cell_m=110, permutations=999)
    elapsed = time.perf_counter() - start
    assert 9_000 <= len(result) <= 11_000
    assert elapsed < 10, f"Gi* on {len(result)} cells took {elapsed:.1f} s"


# --- invariants of every method ---------------------------------------------------------------


@pytest.mark.parametrize("method", CELL_METHODS)
def test_every_cell_of_the_area_appears_once_ranked_1_to_n(method):
    pts = _planted()
    result = hotspots(pts, method=method, area=AREA, cell_m=100)
    grid = hex_grid if method in ("hex", "gi") else square_grid
    assert sorted(result["unit_id"]) == sorted(grid(AREA, cell_m=100)["cell_id"])
    assert result["rank"].tolist() == list(range(1, len(result) + 1))
    assert result.crs.to_epsg() == 4326
    expected = ["unit_id", "rank", "score", "count", "area_m2"]
    if method == "gi":
        expected += ["z", "p", "p_fdr", "hot", "cold"]
    assert list(result.columns) == [*expected, "geometry"]
    # rank follows score, then count, then unit_id
    order = result.sort_values(["score", "count", "unit_id"], ascending=[False, False, True])
    assert order["rank"].tolist() == list(range(1, len(result) + 1))
    assert (result["count"] == 0).any()
    inside = shapely.contains_xy(AREA.iloc[0], *pts.get_coordinates().to_numpy().T).sum()
    assert result["count"].sum() == inside
    assert result["area_m2"].sum() == pytest.approx(SIDE**2)


def test_ties_are_broken_by_count_then_unit_id():
    pts = _points([(X + 50, Y + 50)] * 3 + [(X + 250, Y + 50)] * 3)
    result = hotspots(pts, method="grid", area=AREA, cell_m=100)
    assert result["unit_id"].head(2).tolist() == ["100m_5850_23230", "100m_5852_23230"]
    assert result["rank"].is_unique


@pytest.mark.parametrize("method", CELL_METHODS)
def test_any_crs_gives_the_same_result_as_lon_lat(method):
    pts = _planted()
    base = hotspots(pts.to_crs(4326), method=method, area=AREA.to_crs(4326), cell_m=100)
    for crs in (3857, 32648):
        other = hotspots(pts.to_crs(crs), method=method, area=AREA.to_crs(crs), cell_m=100)
        assert other["unit_id"].tolist() == base["unit_id"].tolist()
        assert other["count"].tolist() == base["count"].tolist()
        # EPSG:5897 ↔ 4326 round trips move coordinates by about a millimetre
        assert np.abs(other["score"] - base["score"]).max() < 1e-5 * base["score"].abs().max()


@pytest.mark.parametrize("method", CELL_METHODS)
def test_a_weight_column_is_summed(method):
    pts = _planted()
    pts["fine"] = np.random.default_rng(3).integers(0, 5, len(pts)) * 100_000.0
    pts.loc[pts.index[:10], "fine"] = np.nan  # missing fines count 0
    result = hotspots(pts, method=method, area=AREA, cell_m=100, weight="fine")
    inside = shapely.contains_xy(AREA.iloc[0], *pts.get_coordinates().to_numpy().T)
    assert result["count"].sum() == pytest.approx(pts.loc[inside, "fine"].sum())


def test_kde_scores_are_densities_per_km2_per_month():
    pts = _planted()
    per_month = hotspots(pts, method="kde", area=AREA, cell_m=100, bandwidth_m=300, months=3)
    total = hotspots(pts, method="kde", area=AREA, cell_m=100, bandwidth_m=300)
    assert np.allclose(per_month["score"], total["score"] / 3)
    assert per_month.attrs["bandwidth_m"] == 300
    assert per_month.attrs["months"] == 3
    assert per_month.attrs["score"] == "records per km² per month"
    assert total.loc[total["rank"] == 1].to_crs(5897).distance(PLANTED).item() < 150
    # a cluster far from the edge keeps all its mass inside the area
    cluster = _points(np.random.default_rng(0).normal([PLANTED.x, PLANTED.y], 120, (150, 2)))
    fine = hotspots(cluster, method="kde", area=AREA, cell_m=25, bandwidth_m=200)
    assert (fine["score"] * fine["area_m2"] / 1e6).sum() == pytest.approx(150, rel=0.01)


def test_no_records_still_list_every_cell():
    empty = _points(np.empty((0, 2)))
    for method in CELL_METHODS:
        result = hotspots(empty, method=method, area=AREA, cell_m=200)
        assert len(result) > 0
        assert (result["count"] == 0).all()
        assert result["rank"].tolist() == list(range(1, len(result) + 1))
        assert result["unit_id"].is_monotonic_increasing
    assert not hotspots(empty, method="gi", area=AREA, cell_m=200)["hot"].any()


# --- the study area and the cell size ---------------------------------------------------------


def test_the_default_area_is_the_hull_widened_by_a_cell_and_the_size_is_recorded():
    pts = _planted()
    result = hotspots(pts, method="grid")
    assert result["count"].sum() == len(pts)
    assert result.attrs["cell_m"] == choose_cell_size(pts)
    assert "record" in result.attrs["cell_rule"]
    hull = shapely.convex_hull(shapely.multipoints(pts.get_coordinates().to_numpy()))
    covered = shapely.union_all(result.to_crs(5897).geometry.to_numpy())
    assert covered.area == pytest.approx(hull.buffer(result.attrs["cell_m"]).area, rel=1e-3)


def test_choose_cell_size_starts_where_cells_hold_a_record_each():
    # 400 records in 1 km²: 50 m cells hold one each on average (2500 m² per record)
    area = gpd.GeoSeries([box(X, Y, X + 1000, Y + 1000)], crs=5897)
    pts = _points(_uniform(400, 1, side=1000))
    assert choose_cell_size(pts, area) == 50
    assert choose_cell_size(pts.to_crs(4326), area.to_crs(4326)) == 50


def test_choose_cell_size_with_few_records_keeps_thirty_cells():
    area = gpd.GeoSeries([box(X, Y, X + 1000, Y + 1000)], crs=5897)
    size = choose_cell_size(_points(_uniform(10, 1, side=1000)), area)
    assert 1000**2 / size**2 >= MIN_CELLS
    assert size == 150


@pytest.mark.parametrize(
    ("z_by_size", "chosen"),
    [
        ({50: 5.0, 60: 6.0, 75: 7.0, 100: 6.5, 125: 9.0}, 75),  # climbs to the first peak
        ({50: 5.0, 60: 4.0, 75: 9.0}, 50),  # falls at once: the floor
        ({50: 0.5, 60: 1.5, 75: 1.9, 100: 2.5}, 50),  # rises, but never significantly
        ({50: 1.0, 60: 2.5, 75: 1.0}, 60),  # becomes significant, then falls
    ],
)
def test_choose_cell_size_walks_up_to_the_first_significant_peak(monkeypatch, z_by_size, chosen):
    monkeypatch.setattr(
        "geo._hotspots_scale.lattice_moran_z", lambda xy, shape, size: z_by_size.get(size, 0.0)
    )
    area = shapely.box(X, Y, X + 1000, Y + 1000)
    choice = choose_scale(_uniform(400, 1, side=1000), area)  # the floor is 50 m
    assert choice.cell_m == chosen
    assert choice.tried[0][0] == 50
    assert ("first peak" in choice.rule) == (chosen != 50)


def test_choose_cell_size_is_fast_and_bounded_on_ten_thousand_records():
    area = gpd.GeoSeries([box(X, Y, X + 3000, Y + 3000)], crs=5897)
    pts = _planted().pipe(lambda p: pd.concat([p, _points(_uniform(9000, 5, side=3000))]))
    start = time.perf_counter()
    size = choose_cell_size(pts, area)
    assert time.perf_counter() - start < 2
    assert 3000**2 / size**2 <= MAX_CELLS


def test_the_lattice_morans_z_is_esdas_under_randomisation():
    xy = np.random.default_rng(1).normal(500, 150, (3000, 2))
    counts = np.zeros((10, 10))
    keep = ((xy >= 0) & (xy < 1000)).all(axis=1)
    np.add.at(counts, tuple(np.floor(xy[keep] / 100).astype(int).T), 1)
    moran = esda.Moran(counts.ravel(), lat2W(10, 10, rook=False), transformation="B",
                       permutations=0)  # fmt: skip
    assert lattice_moran_z(xy, shapely.box(0, 0, 1000, 1000), 100) == pytest.approx(moran.z_rand)


# --- streets and errors -----------------------------------------------------------------------


def test_streets_are_ranked_with_their_length():
    pytest.importorskip("geo.hot_streets")
    streets = gpd.GeoDataFrame(
        {"street_id": ["a", "b"], "name": ["Phố Huế", "Phố Lò Đúc"], "highway": ["tertiary"] * 2},
        geometry=[
            LineString([(X, Y), (X + 100, Y)]),
            LineString([(X, Y + 300), (X + 100, Y + 300)]),
        ],
        crs=5897,
    )
    pts = _points([(X + 10, Y + 5), (X + 50, Y - 5), (X + 60, Y + 290)])
    result = hotspots(pts, method="streets", streets=streets)
    assert result["unit_id"].is_unique
    assert result["rank"].tolist() == [1, 2]
    assert {"unit_id", "rank", "score", "count", "length_m", "geometry"} <= set(result.columns)
    assert result.iloc[0]["name"] == "Phố Huế"
    assert result["count"].tolist() == [2, 1]
    assert result.crs.to_epsg() == 4326
    assert result.attrs["method"] == "streets"


@pytest.mark.parametrize(
    ("points", "kwargs", "message"),
    [
        (_points([(X, Y)]), {"method": "heat"}, "method must be one of"),
        (_points([(X, Y)]), {"method": "streets"}, "needs the street network"),
        (_points([(X, Y)]), {"cell_m": -1}, "cell_m must be a positive"),
        (_points([(X, Y)]), {"months": 0}, "months must be positive"),
        (_points([(X, Y)]), {"permutations": 9}, "at least 99"),
        (_points([(X, Y)]), {"weight": "fine"}, "'fine' is not among"),
        (gpd.GeoSeries([Point(X, Y)]), {}, "no CRS"),
        (_points(np.empty((0, 2))), {}, "No points and no area"),
    ],
)
def test_bad_input_is_refused_with_the_fix(points, kwargs, message):
    with pytest.raises(InputError, match=message):
        hotspots(points, **kwargs)


# --- real data --------------------------------------------------------------------------------


@pytest.mark.realdata
def test_every_cell_of_kim_lien_is_listed_and_its_records_counted():
    ward = gpd.read_file(shared_file(KIM_LIEN_WARD))
    shape = ward.to_crs(5897).union_all()
    left, bottom, right, top = shape.bounds
    xy = np.random.default_rng(0).uniform([left, bottom], [right, top], (3000, 2))
    pts = _points(xy).to_crs(4326)
    inside = shapely.contains_xy(shape, xy[:, 0], xy[:, 1]).sum()
    for method in CELL_METHODS:
        result = hotspots(pts, method=method, area=ward)
        assert result["count"].sum() == inside
        assert result["unit_id"].is_unique
        assert result["area_m2"].sum() == pytest.approx(shape.area, rel=1e-4)
        assert not result.get("hot", pd.Series([False])).any()


@pytest.mark.realdata
def test_san_francisco_drug_hotspot_is_in_the_tenderloin():
    path = shared_file(SHARED_DATA / "incidents" / "sf_crime_jul_dec2012_cc0.gpkg")
    crimes = gpd.read_file(path)
    drugs = crimes[crimes["Category"] == "DRUG/NARCOTIC"]
    result = hotspots(drugs, method="grid", cell_m=200)
    top = result.iloc[0].geometry.centroid
    tenderloin = Point(-122.4135, 37.7835)
    assert top.distance(tenderloin) < 0.01  # degrees: about a kilometre
    assert result["count"].sum() == len(drugs)
    # all 13,472 records cluster most plainly at 150 m: the walk climbs past its 125 m floor
    assert choose_cell_size(crimes) == 150
