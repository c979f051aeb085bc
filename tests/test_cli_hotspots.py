"""``urban-order hotspots`` and ``evaluate`` on any point file, and on the real SF incidents."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.cli import main
from geo.hotspots import hotspots
from geo.store import Query, open_store
from tests.conftest import KIM_LIEN_OSM, SHARED_DATA, shared_file

SF = SHARED_DATA / "incidents" / "sf_crime_jul_dec2012_cc0.gpkg"
X, Y = 585_000, 2_323_000  # EPSG:5897, Hà Nội


@pytest.fixture
def points_file(tmp_path):
    rng = np.random.default_rng(0)
    background = rng.uniform([X, Y], [X + 2000, Y + 2000], (600, 2))
    cluster = rng.normal([X + 1300, Y + 700], 60, (200, 2))
    xy = np.vstack([background, cluster])
    days = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 120, len(xy)), unit="D")
    gdf = gpd.GeoDataFrame(
        {"day": days.strftime("%Y-%m-%d"), "fine": rng.integers(0, 3, len(xy)) * 500_000},
        geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]),
        crs=5897,
    )
    path = tmp_path / "points.gpkg"
    gdf.to_file(path)
    return path


def test_hotspots_gi_writes_ranked_cells_with_significance(points_file, tmp_path, capsys):
    out = tmp_path / "hot.geojson"
    code = main(["hotspots", str(points_file), "--method", "gi", "--cell", "100",
                 "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    cells = gpd.read_file(out)
    assert {"rank", "score", "count", "z", "p", "p_fdr", "hot"} <= set(cells.columns)
    assert sorted(cells["rank"]) == list(range(1, len(cells) + 1))
    assert summary["units"] == len(cells) and summary["hot"] == int(cells["hot"].sum()) > 0
    hot = cells[cells["hot"].astype(bool)].to_crs(5897)
    assert hot.distance(gpd.points_from_xy([X + 1300], [Y + 700])[0]).max() < 250
    # the same numbers as geo.hotspots on the same file (the page calls the same function)
    direct = hotspots(gpd.read_file(points_file), method="gi", cell_m=100)
    assert direct["count"].tolist() == cells["count"].tolist()
    assert np.allclose(direct["z"], cells["z"])


@pytest.mark.parametrize("method", ["grid", "hex", "kde"])
def test_hotspots_cell_methods_and_weight(points_file, tmp_path, method):
    out = tmp_path / f"{method}.gpkg"
    assert main(["hotspots", str(points_file), "--method", method, "--cell", "150",
                 "--weight", "fine", "--out", str(out)]) == 0  # fmt: skip
    cells = gpd.read_file(out)
    assert cells.loc[cells["rank"] == 1, "score"].item() == cells["score"].max()
    if method != "kde":
        fines = gpd.read_file(points_file)["fine"].sum()
        assert cells["count"].sum() == pytest.approx(fines)


def test_hotspots_streets_on_the_real_kim_lien_network(tmp_path, capsys):
    osm = shared_file(KIM_LIEN_OSM)
    from geo.network import load_network, street_edges

    lines = street_edges(load_network(osm)).to_crs(5897)
    rng = np.random.default_rng(1)
    picks = lines.sample(300, replace=True, random_state=1).geometry
    pts = [g.interpolate(rng.random(), normalized=True) for g in picks]
    path = tmp_path / "near_streets.geojson"
    gpd.GeoDataFrame(geometry=pts, crs=5897).to_crs(4326).to_file(path)
    out = tmp_path / "streets.geojson"
    assert main(["hotspots", str(path), "--method", "streets", "--network", str(osm),
                 "--out", str(out)]) == 0  # fmt: skip
    segs = gpd.read_file(out)
    assert {"rank", "score", "count", "name", "length_m", "per_100m"} <= set(segs.columns)
    assert segs["count"].sum() == 300


def test_evaluate_prints_hit_rate_and_pai_for_each_method_and_the_baseline(points_file, capsys):
    code = main(["evaluate", str(points_file), "--time-col", "day", "--cell", "100", "--json",
                 "--train-until", "2025-04-01", "--test-until", "2025-05-01"])  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result) == {"grid", "hex", "kde", "gi", "baseline"}
    for figures in result.values():
        assert 0 <= figures["hit_rate"] <= 1 and figures["pai"] >= 0
        assert figures["area_share"] <= 0.05 + 1e-9
    # the planted cluster persists, so the maps beat chance by far
    assert result["grid"]["pai"] > 3


def test_bad_inputs_name_the_fix(points_file, tmp_path, capsys):
    assert (
        main(["hotspots", str(tmp_path / "nope.gpkg"), "--out", str(tmp_path / "o.geojson")]) == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert main(["hotspots", str(points_file), "--weight", "nope",
                 "--out", str(tmp_path / "o.geojson")]) == 2  # fmt: skip
    assert "--weight" in capsys.readouterr().err
    assert main(["evaluate", str(points_file), "--time-col", "when", "--train-until",
                 "2025-04-01", "--test-until", "2025-05-01"]) == 2  # fmt: skip
    assert "--time-col" in capsys.readouterr().err
    assert main(["evaluate", str(points_file), "--time-col", "day", "--train-until",
                 "2025-04-01", "--test-until", "2025-03-01"]) == 2  # fmt: skip
    assert "must be after" in capsys.readouterr().err
    assert main(["hotspots", str(points_file), "--method", "streets",
                 "--out", str(tmp_path / "o.geojson")]) == 2  # fmt: skip
    assert "network" in capsys.readouterr().err.lower()


def test_the_cli_and_the_page_computation_agree_on_the_demo_ward(demo_store, tmp_path, capsys):
    store = open_store(demo_store)
    ward = store.read("wards")
    records = store.read("violations", Query(ward_id=ward["ward_id"].iloc[0]))
    pts, area = tmp_path / "violations.gpkg", tmp_path / "ward.geojson"
    records[["category", "geometry"]].to_file(pts)
    ward[["ward_id", "geometry"]].to_file(area)
    out = tmp_path / "hex.geojson"
    assert main(["hotspots", str(pts), "--method", "hex", "--cell", "100", "--boundary",
                 str(area), "--out", str(out)]) == 0  # fmt: skip
    cli = gpd.read_file(out)
    page = hotspots(records, method="hex", area=ward, cell_m=100)  # what the page's cache calls
    assert cli["unit_id"].tolist() == page["unit_id"].tolist()
    assert cli["count"].tolist() == page["count"].tolist()


@pytest.mark.slow
def test_real_sf_incidents_best_method_beats_the_naive_baseline_on_every_monthly_split(capsys):
    sf = shared_file(SF)
    splits = [("2012-09-01", "2012-10-01"), ("2012-10-01", "2012-11-01"),
              ("2012-11-01", "2012-12-01"), ("2012-12-01", "2013-01-01")]  # fmt: skip
    for train_until, test_until in splits:
        assert main(["evaluate", str(sf), "--time-col", "Date", "--train-until", train_until,
                     "--test-until", test_until, "--json"]) == 0  # fmt: skip
        result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        best = max(v["pai"] for k, v in result.items() if k != "baseline")
        assert best > result["baseline"]["pai"], (train_until, result)
        assert result["baseline"]["pai"] > 3  # crime concentrates: even the naive map is good


def test_study_area_must_be_polygons(points_file, tmp_path, capsys):
    lines = tmp_path / "lines.geojson"
    gpd.GeoDataFrame(geometry=[box(0, 0, 1, 1).exterior], crs=4326).to_file(lines)
    assert main(["hotspots", str(points_file), "--boundary", str(lines),
                 "--out", str(tmp_path / "o.geojson")]) == 2  # fmt: skip
    assert "polygons" in capsys.readouterr().err
