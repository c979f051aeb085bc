"""The urban-order command line, end to end."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import box

from geo.cli import main
from geo.demo_records import CAMPAIGN_FINED_CASES, CAMPAIGN_FINES_TOTAL_VND
from geo.store import Query, open_store

TZ = "Asia/Ho_Chi_Minh"


@pytest.mark.realdata
@pytest.mark.slow
def test_demo_on_real_kim_lien(kim_lien_osm, kim_lien_ward, tmp_path, capsys):
    out = tmp_path / "kl.gpkg"
    code = main(["demo", "--osm", str(kim_lien_osm), "--ward", str(kim_lien_ward),
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert {"groups", "zones", "wards"} <= layers
    groups = gpd.read_file(out, layer="groups").to_crs(5897)
    zones = gpd.read_file(out, layer="zones").to_crs(5897)
    ward = gpd.read_file(kim_lien_ward).to_crs(5897)
    assert len(groups) == 92 and groups["zone_id"].nunique() == 3 and len(zones) == 3
    assert (groups.geometry.apply(lambda g: len(g.geoms)) == 1).all(), "a group has several parts"
    union = groups.union_all()
    assert abs(union.area - ward.area.sum()) / ward.area.sum() < 0.005
    overlap = groups.geometry.area.sum() - union.area
    assert overlap < 1.0, f"groups overlap by {overlap:.1f} m²"
    assert "built" in capsys.readouterr().out


def test_demo_store_reproduces_the_july_campaign(demo_store):
    store = open_store(demo_store)
    july = store.read(
        "violations",
        Query(start=pd.Timestamp("2025-07-01", tz=TZ), end=pd.Timestamp("2025-08-01", tz=TZ)),
    )
    waves = july[july["campaign_id"].notna()]
    fined = waves[waves["status"] == "fined"]
    assert fined["category"].value_counts().to_dict() == CAMPAIGN_FINED_CASES
    assert fined["fine_vnd"].sum() == CAMPAIGN_FINES_TOTAL_VND
    assert 32_000_000 < CAMPAIGN_FINES_TOTAL_VND < 33_000_000
    assert 200 <= waves["items_removed"].sum() < 1000
    assert store.count("campaigns") == 2
    everything = store.read("violations")
    assert set(everything["assignment"]) <= {"inside", "snapped", "outside"}
    assert everything["group_id"].notna().mean() > 0.99
    assert everything["synthetic"].all()


def _planted(tmp_path):
    """A 2x1 ward with three groups: one overlapping another, leaving a gap."""
    ward = gpd.GeoDataFrame(
        {"name": ["Phường Thử"]}, geometry=[box(105.830, 21.000, 105.832, 21.001)], crs=4326
    )
    groups = gpd.GeoDataFrame(
        {"group_id": ["G1", "G2"], "name": ["Tổ 1", "Tổ 2"], "zone_id": ["Z1", "Z1"]},
        geometry=[box(105.830, 21.000, 105.8312, 21.001), box(105.8310, 21.000, 105.8318, 21.001)],
        crs=4326,
    )
    ward.to_file(tmp_path / "ward.geojson")
    groups.to_file(tmp_path / "groups.geojson")
    return tmp_path / "ward.geojson", tmp_path / "groups.geojson"


def test_boundaries_check_names_each_fault(tmp_path, capsys):
    ward, groups = _planted(tmp_path)
    problems = tmp_path / "problems.geojson"
    code = main(["boundaries", "check", str(groups), "--ward", str(ward), "--json",
                 "--problems-out", str(problems)])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 1 and not report["ok"]
    kinds = {p["kind"]: p["ids"] for p in report["problems"]}
    assert set(kinds) == {"overlap", "gap"}
    assert "G1" in kinds["overlap"] and "G2" in kinds["overlap"]
    assert len(gpd.read_file(problems)) == 2


def test_boundaries_import_keeps_the_previous_version(demo_store, tmp_path, capsys):
    db = tmp_path / "copy.gpkg"
    db.write_bytes(demo_store.read_bytes())
    store = open_store(db)
    old = store.read("groups")
    new = old.copy()
    new.loc[:2, "name"] = ["Tổ A", "Tổ B", "Tổ C"]  # renamed groups, same shapes
    new[["group_id", "zone_id", "ward_id", "name", "geometry"]].to_file(tmp_path / "new.gpkg")
    code = main(["boundaries", "import", str(tmp_path / "new.gpkg"), "--db", str(db),
                 "--level", "groups", "--valid-from", "2025-11-01"])  # fmt: skip
    assert code == 0, capsys.readouterr()
    current = store.read("groups")
    assert len(current) == 92 and {"Tổ A", "Tổ B", "Tổ C"} <= set(current["name"])
    before = store.read("groups", Query(as_of=pd.Timestamp("2025-06-01", tz=TZ)))
    assert len(before) == len(old) == 92


def test_errors_are_one_clear_line_and_exit_code_2(tmp_path, capsys):
    code = main(["demo", "--out", str(tmp_path / "x.gpkg"), "--osm", "streets.osm"])
    assert code == 2
    assert "give both --osm" in capsys.readouterr().err


def test_online_demo_offline_fails_cleanly(tmp_path, capsys, monkeypatch):
    import osmnx as ox

    monkeypatch.setattr(ox.settings, "nominatim_url", "http://127.0.0.1:9/")
    monkeypatch.setattr(ox.settings, "overpass_url", "http://127.0.0.1:9/api")
    monkeypatch.setattr(ox.settings, "doh_url_template", None)
    monkeypatch.setattr(ox.settings, "use_cache", False)
    code = main(["demo", "--online", "--out", str(tmp_path / "x.gpkg")])
    assert code == 2
    assert "needs the internet" in capsys.readouterr().err
    assert not (tmp_path / "x.gpkg").exists()


def test_boundaries_import_refuses_broken_groups_unless_accepted(demo_store, tmp_path, capsys):
    db = tmp_path / "copy.gpkg"
    db.write_bytes(demo_store.read_bytes())
    store = open_store(db)
    groups = store.read("groups")
    shifted = groups.copy()
    shifted.loc[0, "geometry"] = groups.geometry.iloc[0].buffer(0.0005)  # overlaps neighbours
    cols = ["group_id", "zone_id", "ward_id", "name", "geometry"]
    shifted[cols].to_file(tmp_path / "broken.gpkg")
    args = ["boundaries", "import", str(tmp_path / "broken.gpkg"), "--db", str(db),
            "--level", "groups", "--valid-from", "2025-11-01"]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "overlap" in err and "nothing imported" in err
    assert store.read("groups")["valid_from"].max() < pd.Timestamp("2025-11-01", tz=TZ)
    assert main([*args, "--accept-problems"]) == 0
    assert store.read("groups")["valid_from"].min() == pd.Timestamp("2025-11-01", tz=TZ)
