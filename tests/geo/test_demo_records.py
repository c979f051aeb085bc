"""Tests of geo.demo_records: the synthetic records of the demo."""

from __future__ import annotations

import re
import uuid

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo.crs import to_metric
from geo.demo_records import (
    CAMPAIGN_FINED_CASES,
    CAMPAIGN_FINES_TOTAL_VND,
    CAMPAIGN_FINES_VND,
    CAMPAIGN_ITEMS_REMOVED,
    CAMPAIGN_WAVES,
    PATROL_TEAMS,
    REPORT_STATUSES,
    VIOLATION_STATUSES,
    synthetic_records,
)
from geo.errors import InputError
from geo.model import CATEGORIES, SCHEMAS, SPATIAL_TABLES, conform, fine_schedule
from geo.synthetic import synthetic_ward

TABLES = ("violations", "cleanups", "patrol_points", "citizen_reports", "campaigns")
T0 = pd.Timestamp("2025-01-01", tz="Asia/Ho_Chi_Minh")
T1 = pd.Timestamp("2025-10-31 23:59:59", tz="Asia/Ho_Chi_Minh")
DAYS = 304


def grid_groups(ward: gpd.GeoDataFrame, size: float = 160.0) -> gpd.GeoDataFrame:
    """A cheap stand-in for drafted groups: squares clipped to the ward."""
    ward_m = to_metric(ward)
    poly = ward_m.geometry.iloc[0]
    x0, y0, x1, y1 = poly.bounds
    cells = [
        shapely.box(x, y, x + size, y + size)
        for x in np.arange(x0, x1, size)
        for y in np.arange(y0, y1, size)
    ]
    clipped = shapely.intersection(np.array(cells), poly)
    clipped = clipped[shapely.area(clipped) > 100]
    return gpd.GeoDataFrame(
        {"group_id": [f"T{i:03d}" for i in range(len(clipped))]}, geometry=clipped, crs=ward_m.crs
    )


@pytest.fixture(scope="module")
def scene():
    ward, streets = synthetic_ward(seed=0)
    return ward, grid_groups(ward), streets


@pytest.fixture(scope="module")
def records(scene):
    ward, groups, streets = scene
    return synthetic_records(ward=ward, groups=groups, streets=streets, seed=0)


def _metric(frame: gpd.GeoDataFrame, ward: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return frame.to_crs(to_metric(ward).crs)


# --- shape of the output ---------------------------------------------------------------------


def test_every_table_conforms_to_its_schema(records):
    assert set(records) == set(TABLES)
    for table in TABLES:
        frame = records[table]
        assert list(frame.columns) == list(SCHEMAS[table]), table
        if table in SPATIAL_TABLES:
            assert frame.crs.to_epsg() == 4326
            assert (frame.geom_type == "Point").all(), table
            assert_geodataframe_equal(conform(table, frame), frame)
        else:
            pd.testing.assert_frame_equal(conform(table, frame), frame)


def test_every_row_is_marked_synthetic_and_ids_are_unique_uuids(records):
    for table, key in (
        ("violations", "record_id"),
        ("cleanups", "cleanup_id"),
        ("citizen_reports", "report_id"),
        ("campaigns", "campaign_id"),
    ):
        frame = records[table]
        assert frame[key].is_unique, table
        assert all(uuid.UUID(v).version == 4 for v in frame[key]), table
        if "synthetic" in frame.columns:
            assert frame["synthetic"].all(), table
    assert all(uuid.UUID(v) for v in records["patrol_points"]["track_id"].unique())


def test_violations_are_left_for_ingest_to_assign(records):
    v = records["violations"]
    assert v[["zone_id", "group_id", "assignment", "upload_id"]].isna().all().all()
    assert (v["ward_id"] == "demo").all()


def test_record_volumes_are_those_of_a_ward_team(records):
    v = records["violations"]
    assert 8_000 <= len(v) <= 12_000
    assert set(v["category"]) == set(CATEGORIES)
    assert set(v["status"]) == set(VIOLATION_STATUSES) - {"open"}  # all settled on the spot
    assert 15 <= len(records["cleanups"]) <= 25  # about two a month
    weeks = DAYS / 7
    assert 3 * weeks <= len(records["citizen_reports"]) <= 8 * weeks
    assert len(records["campaigns"]) == 1


# --- the July 2025 campaign ------------------------------------------------------------------


def test_campaign_design_matches_the_published_july_figures():
    assert {c: len(f) for c, f in CAMPAIGN_FINES_VND.items()} == CAMPAIGN_FINED_CASES
    assert CAMPAIGN_FINED_CASES == {
        "traffic": 25,
        "sidewalk_encroachment": 6,
        "street_vending": 25,
        "littering": 6,
    }
    assert sum(sum(f) for f in CAMPAIGN_FINES_VND.values()) == CAMPAIGN_FINES_TOTAL_VND
    assert 32_000_000 < CAMPAIGN_FINES_TOTAL_VND < 33_000_000  # "just over 32 million"
    for category, fines in CAMPAIGN_FINES_VND.items():
        assert all(fine_schedule()[category].contains(f) for f in fines), category
    assert 300 <= CAMPAIGN_ITEMS_REMOVED <= 600


def test_campaign_records_reproduce_the_figures_exactly(records):
    v = records["violations"]
    wave = v[v["campaign_id"].notna()]
    fined = wave[wave["status"] == "fined"]
    assert fined["category"].value_counts().to_dict() == CAMPAIGN_FINED_CASES
    assert fined["fine_vnd"].sum() == CAMPAIGN_FINES_TOTAL_VND
    removed = wave[wave["status"] == "removed"]
    assert removed["items_removed"].sum() == CAMPAIGN_ITEMS_REMOVED
    assert removed["fine_vnd"].isna().all() and (removed["items_removed"] >= 1).all()
    assert set(removed["category"]) <= {"illegal_signage", "sidewalk_encroachment"}
    assert wave.loc[~wave["status"].isin(["fined", "removed"]), "items_removed"].isna().all()


def test_the_campaign_spans_both_waves_and_its_records_lie_in_them_and_its_targets(records, scene):
    ward, groups, _ = scene
    (row,) = records["campaigns"].itertuples()
    v = _metric(records["violations"], ward)
    (first, _), (_, last) = CAMPAIGN_WAVES
    assert row.start == pd.Timestamp(first, tz="Asia/Ho_Chi_Minh")
    assert row.end.normalize() == pd.Timestamp(last, tz="Asia/Ho_Chi_Minh")
    assert row.name == "Ra quân cao điểm tháng 7/2025"
    assert "07/07–13/07 và 21/07–27/07" in row.notes
    target = row.target.split(",")
    assert 5 <= len(target) <= 15 and set(target) <= set(groups["group_id"])
    mine = v[v["campaign_id"] == row.campaign_id]
    assert len(mine) > 200
    in_waves = np.zeros(len(mine), dtype=bool)
    for a, b in CAMPAIGN_WAVES:  # the generator's own records fall in the waves
        day = mine["observed_at"].dt.strftime("%Y-%m-%d")
        in_waves |= ((day >= a) & (day <= b)).to_numpy()
    assert in_waves.all()
    area = shapely.union_all(groups[groups["group_id"].isin(target)].geometry.to_numpy())
    assert mine.within(area).all()


def test_campaign_quiets_its_targets_afterwards(records, scene):
    ward, groups, _ = scene
    v = _metric(records["violations"], ward)
    v = v[v["campaign_id"].isna()]
    target = set(records["campaigns"]["target"].str.cat(sep=",").split(","))
    joined = gpd.sjoin(v.drop(columns="group_id"), groups, predicate="within")
    in_target = joined["group_id"].isin(target)
    t = joined["observed_at"]
    before = t < pd.Timestamp("2025-07-01", tz="Asia/Ho_Chi_Minh")
    after = t > pd.Timestamp("2025-07-28", tz="Asia/Ho_Chi_Minh")
    share_before = in_target[before].mean()
    share_after = in_target[after].mean()
    assert share_after < 0.85 * share_before
    # the targets were the hot groups: a larger share of violations than of groups
    assert share_before > 2 * len(target) / len(groups)


# --- where and when --------------------------------------------------------------------------


def test_every_point_lies_within_200_m_of_the_ward(records, scene):
    ward = scene[0]
    poly = to_metric(ward).geometry.iloc[0]
    for table in ("violations", "cleanups", "patrol_points", "citizen_reports"):
        dist = _metric(records[table], ward).distance(poly)
        assert dist.max() < 200, table


def test_violations_concentrate_on_main_road_frontage(records, scene):
    ward, _, streets = scene
    main = _metric(streets[streets["highway"].isin(["primary", "secondary"])], ward)
    v = _metric(records["violations"], ward)
    dist = v.distance(shapely.union_all(main.geometry.to_numpy()))
    assert (dist <= 15).mean() > 0.5
    frontage = v[v["category"] == "sidewalk_encroachment"]
    assert (frontage.distance(shapely.union_all(main.geometry.to_numpy())) >= 2.5).mean() > 0.9


def test_hot_spots_recur_with_the_same_offenders(records):
    v = records["violations"]
    keys = v["offender_key"].dropna()
    assert keys.map(lambda k: re.fullmatch(r"[0-9a-f]{64}", k) is not None).all()
    counts = keys.value_counts()
    assert counts.iloc[0] >= 40  # a household at a hot spot, week after week
    assert (counts >= 10).sum() >= 10
    assert keys.nunique() > 2_000  # most plates and passers-by appear once


def test_weekly_and_daily_rhythms(records):
    v = records["violations"]
    local = v["observed_at"]
    weekend = local.dt.day_of_week >= 5
    by_cat = weekend.groupby(v["category"]).mean()
    assert by_cat["street_vending"] > by_cat["traffic"] + 0.1
    assert by_cat["construction_order"] < 2 / 7
    hour = local.dt.hour
    traffic = hour[v["category"] == "traffic"]
    assert traffic.isin([7, 8, 16, 17, 18]).mean() > 0.45
    vending = hour[v["category"] == "street_vending"]
    assert vending.isin([5, 6, 7, 16, 17, 18, 19]).mean() > 0.5
    assert (hour < 5).mean() < 0.02


def test_fines_legal_basis_and_removals_follow_the_schedule(records):
    v = records["violations"]
    rules = fine_schedule()
    fined = v[v["status"] == "fined"]
    assert len(fined) > 62  # the campaign's, and everyday fines too
    for row in fined.itertuples():
        rule = rules[row.category]
        assert rule.contains(row.fine_vnd)
        assert row.legal_basis == f"{rule.legal_basis} {rule.provision}"
    assert v.loc[v["status"] != "fined", "fine_vnd"].isna().all()
    removed = v["status"] == "removed"
    assert v.loc[~removed, "items_removed"].isna().all()
    assert (v.loc[removed, "items_removed"] >= 1).all()
    assert set(v.loc[removed, "category"]) <= {"illegal_signage", "sidewalk_encroachment"}
    assert "168/2024/NĐ-CP Điều 12" in set(v["legal_basis"].dropna())


def test_gps_accuracy_and_addresses_name_real_streets_of_the_ward(records, scene):
    v = records["violations"]
    assert v["gps_accuracy_m"].between(3, 15).all()
    names = set(scene[2]["name"].dropna())
    addresses = v["address"].dropna()
    assert len(addresses) > 0.95 * len(v)
    parsed = addresses.str.extract(r"^số (\d+) (.+)$")
    assert parsed.notna().all().all()
    assert parsed[1].isin(names).all()


def test_timestamps_are_local_and_inside_the_period(records):
    for table, columns in (
        ("violations", ["observed_at"]),
        ("cleanups", ["started_at", "ended_at"]),
        ("patrol_points", ["t"]),
        ("citizen_reports", ["received_at", "accepted_at", "resolved_at"]),
        ("campaigns", ["start", "end"]),
    ):
        for column in columns:
            ts = records[table][column].dropna()
            assert str(ts.dt.tz) == "Asia/Ho_Chi_Minh", (table, column)
            assert ts.between(T0, T1).all(), (table, column)


def test_cleanups_and_citizen_reports(records):
    c = records["cleanups"]
    assert c["participants"].between(20, 80).all()
    assert (c["waste_kg"] > 0).all() and (c["ended_at"] > c["started_at"]).all()
    assert c["started_at"].dt.day_of_week.isin([5, 6]).all()
    assert (c["started_at"].dt.month.value_counts() == 2).all()
    r = records["citizen_reports"]
    assert set(r["severity"]) == {1, 2, 3}
    assert set(r["status"]) <= set(REPORT_STATUSES)
    assert (r["accepted_at"].dropna() > r.loc[r["accepted_at"].notna(), "received_at"]).all()
    done = r["resolved_at"].notna()
    assert (r.loc[done, "resolved_at"] > r.loc[done, "accepted_at"]).all()
    assert (r["status"] == "resolved").sum() == done.sum()
    # urgent reports are taken up sooner
    wait = (r["accepted_at"] - r["received_at"]).dt.total_seconds().groupby(r["severity"]).median()
    assert wait[3] < wait[1]


def test_patrols_are_one_90_minute_track_per_team_per_day_along_streets(records, scene):
    ward, _, streets = scene
    p = records["patrol_points"]
    assert set(p["team"]) == set(PATROL_TEAMS)
    tracks = p.groupby("track_id")
    assert tracks.ngroups == 2 * DAYS
    assert (tracks["team"].nunique() == 1).all()
    per_day = p.groupby([p["t"].dt.date, "team"])["track_id"].nunique()
    assert (per_day == 1).all() and len(per_day) == 2 * DAYS
    duration = tracks["t"].agg(lambda t: (t.max() - t.min()).total_seconds())
    assert (duration == 90 * 60).all()
    steps = p.sort_values(["track_id", "t"]).groupby("track_id")["t"].diff().dropna()
    assert (steps == pd.Timedelta(seconds=30)).all()
    # on the streets, give or take 3-8 m of GPS noise
    sample = _metric(p.iloc[::97], ward)
    lines = shapely.union_all(_metric(streets, ward).geometry.to_numpy())
    assert sample.distance(lines).max() <= 8.01
    # and they move: a patrol covers kilometres, not one spot
    first = _metric(p[p["track_id"] == p["track_id"].iloc[0]], ward)
    xy = shapely.get_coordinates(first.geometry.to_numpy())
    assert np.ptp(xy, axis=0).max() > 300


# --- determinism, periods, inputs ------------------------------------------------------------


def _july(scene, seed):
    ward, groups, streets = scene
    return synthetic_records(
        ward=ward, groups=groups, streets=streets, seed=seed, start="2025-07-01", end="2025-07-31"
    )


def test_same_seed_gives_identical_frames_other_seeds_differ(scene):
    first, again, other = _july(scene, 7), _july(scene, 7), _july(scene, 8)
    for table in TABLES:
        if table in SPATIAL_TABLES:
            assert_geodataframe_equal(first[table], again[table])
        else:
            pd.testing.assert_frame_equal(first[table], again[table])
    assert set(first["violations"]["record_id"]).isdisjoint(other["violations"]["record_id"])
    assert (
        not first["violations"].geometry.iloc[:100].equals(other["violations"].geometry.iloc[:100])
    )
    # the published figures hold whatever the seed
    wave = other["violations"][other["violations"]["campaign_id"].notna()]
    assert wave.loc[wave["status"] == "fined", "fine_vnd"].sum() == CAMPAIGN_FINES_TOTAL_VND


def test_a_period_without_july_has_no_campaign_and_scales_volumes(scene):
    ward, groups, streets = scene
    out = synthetic_records(
        ward=ward, groups=groups, streets=streets, seed=1, start="2025-03-01", end="2025-03-31"
    )
    assert out["campaigns"].empty
    assert out["violations"]["campaign_id"].isna().all()
    assert 700 <= len(out["violations"]) <= 1_300
    assert out["violations"]["observed_at"].dt.month.eq(3).all()


def test_streets_without_names_or_classes_still_work(scene):
    ward, groups, streets = scene
    bare = streets[["geometry"]]
    out = synthetic_records(
        ward=ward, groups=groups, streets=bare, seed=2, start="2025-05-01", end="2025-05-10"
    )
    assert len(out["violations"]) > 100
    assert out["violations"]["address"].isna().all()
    assert len(out["patrol_points"]) == 2 * 10 * 181


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("ward_id", "ward_id"),
        ("group_id", "group_id"),
        ("crs", "no CRS"),
        ("period", "end"),
    ],
)
def test_bad_inputs_are_refused_with_the_fix(scene, change, message):
    ward, groups, streets = scene
    kwargs = {"ward": ward, "groups": groups, "streets": streets}
    if change == "ward_id":
        kwargs["ward"] = ward.drop(columns="ward_id")
    elif change == "group_id":
        kwargs["groups"] = groups.rename(columns={"group_id": "id"})
    elif change == "crs":
        kwargs["streets"] = streets.set_crs(None, allow_override=True)
    else:
        kwargs.update(start="2025-05-01", end="2025-04-01")
    with pytest.raises(InputError, match=message):
        synthetic_records(**kwargs)


# --- a real network ----------------------------------------------------------------------------


@pytest.mark.realdata
def test_works_on_the_real_kim_lien_network(kim_lien_ward, kim_lien_osm):
    network = pytest.importorskip("geo.network")
    if not hasattr(network, "load_network") or not hasattr(network, "street_edges"):
        pytest.skip("geo.network.load_network / street_edges are not available")
    ward = gpd.read_file(kim_lien_ward)[["geometry"]].assign(ward_id="kim-lien")
    streets = network.street_edges(network.load_network(kim_lien_osm))
    groups = grid_groups(ward)
    out = synthetic_records(
        ward=ward, groups=groups, streets=streets, seed=0, start="2025-07-01", end="2025-07-31"
    )
    v = out["violations"]
    assert_geodataframe_equal(conform("violations", v), v)
    assert (v["ward_id"] == "kim-lien").all()
    wave = v[v["campaign_id"].notna()]
    fined = wave[wave["status"] == "fined"]
    assert fined["category"].value_counts().to_dict() == CAMPAIGN_FINED_CASES
    assert fined["fine_vnd"].sum() == CAMPAIGN_FINES_TOTAL_VND
    poly = to_metric(ward).geometry.iloc[0]
    for table in ("violations", "cleanups", "patrol_points", "citizen_reports"):
        assert _metric(out[table], ward).distance(poly).max() < 200, table
    # addresses use the real street names of the extract
    real = {n.split(";")[0].strip() for n in streets["name"].dropna()}
    named = v["address"].dropna().str.extract(r"^số \d+ (.+)$")[0]
    assert len(named) > 0.5 * len(v) and named.isin(real).all()
