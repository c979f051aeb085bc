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
    assert store.count("campaigns") == 1
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


def test_boundaries_import_keeps_the_previous_version(demo_copy, tmp_path, capsys):
    db = demo_copy
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


def test_boundaries_import_refuses_broken_groups_unless_accepted(demo_copy, tmp_path, capsys):
    db = demo_copy
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


SHEET = (
    "Thời gian;Vĩ độ;Kinh độ;Loại vi phạm;Số tiền phạt\n"
    "08/07/2025 09:30;21,0065;105,8330;Lấn chiếm vỉa hè;2.000.000đ\n"
    "08/07/2025 10:30;21,0070;105,8360;Bán hàng rong;300.000\n"
    "31/02/2025 10:00;21,0066;105,8331;Bán hàng rong;300.000\n"
).encode()
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i else "&lol;" * 10}">'
        for i in range(1, 9)
    )
    + '<!ENTITY lol0 "&lol;&lol;">]><kml><Placemark><name>&lol8;</name></Placemark></kml>'
).encode()


def test_import_prints_the_counts_as_json_and_adds_nothing_twice(demo_copy, tmp_path, capsys):
    db = demo_copy
    sheet = tmp_path / "doi-1.csv"
    sheet.write_bytes(SHEET)
    assert main(["import", "--db", str(db), str(sheet), "--json", "--user", "lan"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    first = json.loads(out[-1])
    assert {k: first[k] for k in ("rows", "accepted", "duplicates", "quarantined")} == {
        "rows": 3, "accepted": 2, "duplicates": 0, "quarantined": 1,
    }  # fmt: skip
    assert first["reasons"] == {"bad_time": 1}
    assert first["snapped"] + first["outside"] <= 2
    assert any("Vĩ độ → lat" in line for line in out)  # the mapping used is always shown
    assert main(["import", "--db", str(db), str(sheet), "--json"]) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["accepted"], again["duplicates"]) == (0, 3)


def test_hostile_and_unmappable_files_change_nothing(demo_copy, tmp_path, capsys):
    db = demo_copy
    store = open_store(db)
    before = {t: store.count(t) for t in ("violations", "uploads", "quarantine", "audit_log")}
    bomb = tmp_path / "bomb.kml"
    bomb.write_bytes(BOMB)
    assert main(["import", "--db", str(db), str(bomb)]) == 2
    assert "bomb.kml" in capsys.readouterr().err
    odd = tmp_path / "odd.csv"
    odd.write_text("A;B;C\n1;2;3\n", encoding="utf-8")
    assert main(["import", "--db", str(db), str(odd)]) == 2
    err = capsys.readouterr().err
    assert "--map" in err and "Missing" in err
    assert {t: store.count(t) for t in before} == before
    # a file over --max-mb is refused before it is read; the limit is the operator's to raise
    big = tmp_path / "big.csv"
    long_row = "08/07/2025 11:30;21,0071;105,8361;Bán hàng rong " + "9" * 100_000 + ";\n"
    big.write_bytes(SHEET + (long_row * 20).encode())
    assert main(["import", "--db", str(db), str(big), "--max-mb", "1"]) == 2
    assert "more than the 1 MiB allowed" in capsys.readouterr().err
    assert {t: store.count(t) for t in before} == before
    assert main(["import", "--db", str(db), str(big), "--max-mb", "3", "--json"]) == 0


GPX = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
<trk><name>Tuần tra sáng</name><trkseg>
<trkpt lat="21.0060" lon="105.8330"><time>{day}T01:00:00Z</time></trkpt>
<trkpt lat="21.0062" lon="105.8332"><time>{day}T01:00:30Z</time></trkpt>
</trkseg></trk></gpx>"""


def test_gpx_tracks_become_patrol_tracks_one_per_day(demo_copy, tmp_path, capsys):
    db = demo_copy
    for day in ("2025-07-08", "2025-07-09"):
        path = tmp_path / f"{day}.gpx"
        path.write_text(GPX.format(day=day), encoding="utf-8")
        assert main(["import", "--db", str(db), str(path), "--team", "Đội 3", "--json"]) == 0
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["accepted"] == 2
    points = open_store(db).read("patrol_points")
    mine = points[points["team"] == "Đội 3"]
    assert len(mine) == 4 and mine["track_id"].nunique() == 2  # same name, two patrols


def test_kml_folders_named_after_categories_give_the_category(demo_copy, tmp_path, capsys):
    db = demo_copy
    placemark = (
        "<Placemark><name>{name}</name><TimeStamp><when>{when}</when></TimeStamp>"
        "<Point><coordinates>{lon},21.0060,0</coordinates></Point></Placemark>"
    )
    kml = (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        "<Document><Folder><name>Lấn chiếm vỉa hè</name>"
        + placemark.format(name="Quán nước", when="2025-07-08T09:30:00+07:00", lon="105.8330")
        + "</Folder><Folder><name>Hàng rong</name>"
        + placemark.format(name="Xe hoa quả", when="2025-07-08T11:30:00+07:00", lon="105.8350")
        + "</Folder></Document></kml>"
    )
    path = tmp_path / "google-earth.kml"
    path.write_text(kml, encoding="utf-8")
    assert main(["import", "--db", str(db), str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["accepted"] == 2
    new = open_store(db).read("violations").query("upload_id == @summary['files'][0]['upload_id']")
    assert sorted(new["category"]) == ["sidewalk_encroachment", "street_vending"]
