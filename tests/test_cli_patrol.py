"""CLI ``coverage`` and ``route``: GPX and CSV tracks on a real network, the demo store, GPX out."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import gpxpy
import gpxpy.gpx
import numpy as np
import pandas as pd
import pytest

from geo.cli import main
from geo.coverage import coverage_totals, street_coverage
from geo.network import load_network, network_from_edges, street_edges
from geo.synthetic_tracks import walk_track

T0 = pd.Timestamp("2025-07-01 08:00", tz="Asia/Ho_Chi_Minh")


def _gpx(fixes: gpd.GeoDataFrame, path: Path, *, jump_at: int | None = None) -> Path:
    gpx = gpxpy.gpx.GPX()
    track = gpxpy.gpx.GPXTrack(name="Tuần tra sáng")
    segment = gpxpy.gpx.GPXTrackSegment()
    for i, (point, t) in enumerate(zip(fixes.geometry, fixes["t"], strict=True)):
        lon, lat = point.x, point.y
        if jump_at is not None and jump_at <= i < jump_at + 5:
            lon += 0.004  # ~400 m east for five seconds
        segment.points.append(
            gpxpy.gpx.GPXTrackPoint(lat, lon, time=t.tz_convert("UTC").to_pydatetime())
        )
    track.segments.append(segment)
    gpx.tracks.append(track)
    path.write_text(gpx.to_xml(), encoding="utf-8")
    return path


def _last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.realdata
def test_coverage_of_gpx_and_csv_tracks_on_the_kim_lien_network(
    kim_lien_osm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    streets = street_edges(load_network(kim_lien_osm))
    graph = network_from_edges(streets)
    rng = np.random.default_rng(3)
    way = [int(n) for n in rng.choice(list(graph.nodes), 4, replace=False)]
    fixes, walked = walk_track(graph, way, begin=T0, rng=rng)
    gpx = _gpx(fixes, tmp_path / "sang.gpx", jump_at=len(fixes) // 2)
    edges_out = tmp_path / "edges.geojson"
    code = main(["coverage", "--network", str(kim_lien_osm), "--tracks", str(gpx),
                 "--team", "Đội 1", "--json", "--edges-out", str(edges_out)])  # fmt: skip
    assert code == 0
    result = _last_json(capsys)
    # The jump is removed, and the file gives what the library gives on the clean walk.
    expected = coverage_totals(street_coverage(streets, fixes))
    assert result["jumps"] == 5
    assert result["covered_km"] == pytest.approx(expected["covered_km"], abs=0.05)
    assert result["network_km"] == pytest.approx(streets["length_m"].sum() / 1000, rel=1e-3)
    assert 0 < result["share"] < 1
    edges = gpd.read_file(edges_out)
    assert len(edges) == len(streets)
    covered = set(edges.loc[edges["covered"], "street_id"])
    assert len(covered & walked) / len(walked) > 0.9
    # The same walk as a sheet of timed points, Vietnamese headers, day-first times.
    sheet = pd.DataFrame(
        {
            "Đội": "Đội 1",
            "Thời gian": fixes["t"].dt.strftime("%d/%m/%Y %H:%M:%S"),
            "Vĩ độ": fixes.geometry.y.round(7),
            "Kinh độ": fixes.geometry.x.round(7),
        }
    )
    csv = tmp_path / "tuan_tra.csv"
    sheet.to_csv(csv, index=False, encoding="utf-8-sig")
    assert main(["coverage", "--network", str(kim_lien_osm), "--tracks", str(csv), "--json"]) == 0
    from_csv = _last_json(capsys)
    assert from_csv["jumps"] == 0
    assert from_csv["covered_km"] == pytest.approx(expected["covered_km"], abs=0.05)


def test_coverage_of_the_demo_store_per_zone_and_group(
    demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["coverage", "--db", str(demo_store), "--from", "2025-10-25", "--to",
                 "2025-10-31", "--json"])  # fmt: skip
    assert code == 0
    result = _last_json(capsys)
    assert {"covered_km", "network_km", "share", "by_zone", "by_group"} <= set(result)
    assert 0 < result["share"] < 1
    assert len(result["by_zone"]) == 3 and len(result["by_group"]) == 92
    shares = [v["share"] for v in result["by_group"].values() if v["share"] is not None]
    assert all(0 <= s <= 1 for s in shares)
    assert result["to"].startswith("2025-11-01")  # --to is a whole day
    # A window without patrols covers nothing, and says so.
    assert main(["coverage", "--db", str(demo_store), "--from", "2030-01-01", "--json"]) == 0
    empty = _last_json(capsys)
    assert empty["covered_km"] == 0 and empty["share"] == 0 and empty["network_km"] > 0


def test_route_writes_gpx_and_lists_the_stops(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "route.gpx"
    code = main(["route", "--db", str(demo_store), "--minutes", "120", "--mode", "walk",
                 "--now", "2025-10-31 14:00", "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    result = json.loads(printed.strip().splitlines()[-1])
    (route,) = result["routes"]
    assert 3 <= len(route["stops"]) <= 10
    assert route["minutes"] <= 120
    assert "1. 14:" in printed  # the stop list with arrival times
    gpx = gpxpy.parse(out.read_text(encoding="utf-8"))
    assert [w.name.split(". ", 1)[1] for w in gpx.waypoints[: len(route["stops"])]] == [
        s["label"] for s in route["stops"]
    ]
    assert sum(len(s.points) for t in gpx.tracks for s in t.segments) > len(route["stops"])
    arrivals = [pd.Timestamp(s["arrive"]) for s in route["stops"]]
    assert arrivals == sorted(arrivals) and arrivals[0] > pd.Timestamp("2025-10-31 14:00+07:00")


def test_route_for_two_teams_splits_the_zones(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "route.gpx"
    code = main(["route", "--db", str(demo_store), "--team", "Đội 1", "--team", "Đội 2",
                 "--mode", "motorbike", "--start", "21.0064,105.8349", "--now",
                 "2025-10-31 14:00", "--out", str(out), "--json"])  # fmt: skip
    assert code == 0
    result = _last_json(capsys)
    assert [r["team"] for r in result["routes"]] == ["Đội 1", "Đội 2"]
    assert all(Path(r["gpx"]).is_file() for r in result["routes"])
    ids = [s["unit_id"] for r in result["routes"] for s in r["stops"]]
    assert len(ids) == len(set(ids))
    assert result["start"] == {"lat": 21.0064, "lon": 105.8349}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["coverage", "--network", "{osm}"], "--network needs --tracks"),
        (["route", "--db", "{db}", "--start", "105.83;21.0", "--out", "x.gpx"], "LAT,LON"),
        (["coverage", "--db", "{db}", "--from", "yesterday-ish"], "--from 'yesterday-ish'"),
        (["coverage", "--db", "{db}", "--ward-id", "nowhere"], "No ward 'nowhere'"),
    ],
)
def test_patrol_commands_name_their_mistakes(
    argv: list[str], message: str, demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    osm = str(demo_store)  # any existing file: the command must stop before reading it
    args = [a.format(osm=osm, db=demo_store) for a in argv]
    assert main(args) != 0
    assert message in capsys.readouterr().err
