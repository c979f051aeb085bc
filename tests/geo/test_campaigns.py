"""Campaigns: checking what a leader types, storing, linking records, planning."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.campaign_plan import expected_workload, suggest_targets, teams_per_zone
from geo.campaigns import (
    delete_campaign,
    link_records,
    new_campaign,
    read_campaigns,
    resolve_groups,
    save_campaign,
)
from geo.demo_records import CAMPAIGN_FINED_CASES
from geo.errors import InputError
from geo.store import Query, create_store, open_store

TZ = "Asia/Ho_Chi_Minh"


def _groups() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "group_id": ["g1", "g2", "g3", "g4"],
            "zone_id": ["z1", "z1", "z2", "z2"],
            "ward_id": "w",
            "name": ["Tổ dân phố số 1", "Tổ dân phố số 2", "Tổ dân phố số 3", "Tổ dân phố số 4"],
            "population": [1000, 1000, 2000, 500],
        },
        geometry=[box(105.83 + 0.005 * i, 21.0, 105.835 + 0.005 * i, 21.01) for i in range(4)],
        crs=4326,
    )


def _records(rows: list[tuple[str, str, str]]) -> gpd.GeoDataFrame:
    """(group, category, local time) per record."""
    groups = _groups().set_index("group_id")
    return gpd.GeoDataFrame(
        {
            "record_id": [f"r{i}" for i in range(len(rows))],
            "ward_id": "w",
            "group_id": [g for g, _, _ in rows],
            "zone_id": [groups.loc[g, "zone_id"] for g, _, _ in rows],
            "category": [c for _, c, _ in rows],
            "observed_at": pd.to_datetime([t for _, _, t in rows]).tz_localize(TZ),
        },
        geometry=[groups.loc[g, "geometry"].centroid for g, _, _ in rows],
        crs=4326,
    )


# --- what a leader types ---------------------------------------------------------------------


def test_targets_by_id_name_number_or_zone_in_table_order():
    g = _groups()
    assert resolve_groups(g, ["Tổ dân phố số 3", "g1"]) == ("g1", "g3")
    assert resolve_groups(g, ["2"]) == ("g2",)
    assert resolve_groups(g, [], ["z2"]) == ("g3", "g4")
    assert resolve_groups(g, ["tổ dân phố số 4"], ["Z1"]) == ("g1", "g2", "g4")


def test_every_problem_of_a_campaign_is_named_at_once():
    with pytest.raises(InputError) as err:
        new_campaign(
            name=" ",
            first_day="2025-07-13",
            last_day="2025-07-07",
            groups=_groups(),
            target_groups=["Tổ 99"],
            categories=["traffic", "karaoke"],
        )
    text = str(err.value)
    for needle in ("name is empty", "before first_day", "Tổ 99", "karaoke"):
        assert needle in text


def test_days_are_whole_local_days_and_day_first_dates_are_read():
    c = new_campaign(
        name="Đợt 1", first_day="07/07/2025", last_day="13/07/2025", groups=_groups(),
        target_groups=["g1"], categories=["littering", "traffic"], teams=[" Đội  1", "Đội 1"],
    )  # fmt: skip
    assert str(c.start) == "2025-07-07 00:00:00+07:00"
    assert str(c.end) == "2025-07-13 23:59:59+07:00"
    assert c.days == 7
    assert c.categories == ("traffic", "littering")  # the categories' own order
    assert c.teams == ("Đội 1",)
    assert c.ward_id == "w"


# --- linking ---------------------------------------------------------------------------------


def test_records_inside_period_target_and_categories_are_linked():
    c = new_campaign(
        name="Đợt", first_day="2025-07-07", last_day="2025-07-13", groups=_groups(),
        target_groups=["g1"], categories=["traffic"],
    )  # fmt: skip
    recs = _records(
        [
            ("g1", "traffic", "2025-07-07 00:00"),  # first second: in
            ("g1", "traffic", "2025-07-13 23:59"),  # last day: in
            ("g1", "traffic", "2025-07-14 00:00"),  # the day after: out
            ("g1", "littering", "2025-07-08 09:00"),  # other category: out
            ("g2", "traffic", "2025-07-08 09:00"),  # other group: out
            ("g1", "traffic", "2025-07-06 23:59"),  # the day before: out
        ]
    )
    linked = link_records(recs, [c])
    assert linked.notna().tolist() == [True, True, False, False, False, False]


def test_overlapping_campaigns_the_first_started_keeps_a_record():
    kw = {"groups": _groups(), "target_groups": ["g1"]}
    early = new_campaign(name="A", first_day="2025-07-01", last_day="2025-07-10", **kw)
    late = new_campaign(name="B", first_day="2025-07-05", last_day="2025-07-20", **kw)
    recs = _records([("g1", "traffic", "2025-07-06 10:00"), ("g1", "traffic", "2025-07-15 10:00")])
    linked = link_records(recs, [late, early])
    assert linked.tolist() == [early.campaign_id, late.campaign_id]
    # a record already linked to the later one, still inside it, stays there
    recs["campaign_id"] = [late.campaign_id, late.campaign_id]
    assert link_records(recs, [late, early]).tolist() == [late.campaign_id] * 2


@pytest.fixture
def store(tmp_path):
    s = create_store(tmp_path / "c.gpkg")
    s.write({"groups": _groups()}, user="t", action="setup")
    recs = _records(
        [
            ("g1", "traffic", "2025-07-08 09:00"),
            ("g2", "traffic", "2025-07-08 09:00"),
            ("g1", "littering", "2025-07-20 10:00"),
        ]
    )
    s.write({"violations": recs}, user="t", action="setup")
    return s


def test_save_edit_and_delete_relink_the_records(store):
    groups = store.read("groups")
    c = new_campaign(
        name="Đợt 1", first_day="2025-07-07", last_day="2025-07-13", groups=groups,
        target_groups=["g1"],
    )  # fmt: skip
    assert save_campaign(store, c, user="lead") == 1
    linked = store.read("violations", Query(campaign_id=c.campaign_id))
    assert linked["record_id"].tolist() == ["r0"]
    # widen the campaign to the zone and to the 20th: three records
    wider = new_campaign(
        name="Đợt 1 (mở rộng)", first_day="2025-07-07", last_day="2025-07-20", groups=groups,
        target_zones=["z1"], campaign_id=c.campaign_id,
    )  # fmt: skip
    assert save_campaign(store, wider, user="lead") == 2
    assert [x.name for x in read_campaigns(store, ward_id="w")] == ["Đợt 1 (mở rộng)"]
    assert store.count("violations", Query(campaign_id=c.campaign_id)) == 3
    # narrowing releases records again
    assert save_campaign(store, c, user="lead") == 2
    assert store.count("violations", Query(campaign_id=c.campaign_id)) == 1
    assert delete_campaign(store, c, user="lead") == 1
    assert read_campaigns(store) == []
    assert store.read("violations")["campaign_id"].isna().all()
    actions = store.read("audit_log")["action"].tolist()
    assert "add campaign" in actions and "edit campaign" in actions
    assert "delete campaign (delete)" in actions


def test_an_upload_inside_a_campaign_is_linked_at_ingest(store):
    from geo.ingest import UploadOptions, commit_upload, prepare_upload

    groups = store.read("groups")
    c = new_campaign(
        name="Đợt 1", first_day="2025-07-07", last_day="2025-07-13", groups=groups,
        target_groups=["g1"],
    )  # fmt: skip
    save_campaign(store, c, user="lead")
    centre = groups.geometry.iloc[0].centroid
    csv = (
        "Vĩ độ,Kinh độ,Thời gian,Loại vi phạm\n"
        f"{centre.y},{centre.x},10/07/2025 08:30,Lấn chiếm vỉa hè\n"
        f"{centre.y},{centre.x},20/07/2025 08:30,Lấn chiếm vỉa hè\n"
    ).encode()
    prepared = prepare_upload(csv, name="up.csv", store=store, options=UploadOptions(user="s"))
    commit_upload(prepared, store=store)
    v = store.read("violations")
    new = v[v["upload_id"].notna()].sort_values("observed_at")
    assert new["campaign_id"].tolist()[0] == c.campaign_id
    assert pd.isna(new["campaign_id"].tolist()[1])


# --- planning --------------------------------------------------------------------------------


def test_suggestions_rank_by_rate_and_growth():
    rows = []
    # g1: busy and steady; g3: as many records, twice the residents; g2: g3's rate, but grew
    for day in range(1, 57):
        t = (pd.Timestamp("2025-05-01") + pd.Timedelta(days=day)).strftime("%Y-%m-%d 09:00")
        rows += [("g1", "traffic", t)] * 2 + [("g3", "traffic", t)] * 2
        if day > 28:
            rows.append(("g2", "traffic", t))
    out = suggest_targets(_records(rows), _groups(), now="2025-06-26", weeks=4)
    # growth lifts g2 above g3 of the same rate, not above g1 of twice the rate;
    # g4 has nothing: not suggested
    assert out["group_id"].tolist() == ["g1", "g2", "g3"]
    g2 = out.set_index("group_id").loc["g2"]
    assert g2["previous"] == 0 and np.isnan(g2["change_pct"])
    assert out["rate_unit"].unique().tolist() == ["per_1000"]
    with pytest.raises(InputError, match="weeks"):
        suggest_targets(_records(rows), _groups(), now="2025-06-26", weeks=1)


def test_workload_and_teams():
    rows = [("g1", "traffic", f"2025-06-{d:02d} 09:00") for d in range(2, 30)] * 2
    rows += [("g3", "traffic", f"2025-06-{d:02d} 09:00") for d in range(2, 30)]
    w = expected_workload(_records(rows), _groups(), ["g1", "g3"], now="2025-06-30", weeks=4)
    assert w["zone_id"].tolist() == ["z1", "z2"]
    assert w["per_day"].round(2).tolist() == [2.0, 1.0]
    assert teams_per_zone(w, 1).tolist() == [1, 0]
    assert teams_per_zone(w, 2).tolist() == [1, 1]
    assert teams_per_zone(w, 5).tolist() == [3, 2]
    assert teams_per_zone(w, 5).sum() == 5
    with pytest.raises(InputError):
        expected_workload(_records(rows), _groups(), [], now="2025-06-30")


def test_demo_campaign_links_its_own_records(demo_store):
    store = open_store(demo_store)
    campaigns = read_campaigns(store)
    assert len(campaigns) == 1
    v = store.read("violations")
    recomputed = link_records(v, campaigns)
    # the demo's records inside the campaign carry it, and nothing else does
    assert (recomputed.fillna("") == v["campaign_id"].astype("string").fillna("")).all()
    fined = v[v["campaign_id"].notna() & (v["status"] == "fined")]
    assert fined["category"].value_counts().to_dict() == CAMPAIGN_FINED_CASES
