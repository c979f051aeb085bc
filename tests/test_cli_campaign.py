"""`urban-order campaign`: list, add, edit, delete, suggest and show, on the demo ward."""

from __future__ import annotations

import json

import pytest

from geo.cli import main
from geo.store import Query, open_store


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_add_edit_show_delete_round_trip(demo_copy, capsys):
    db = str(demo_copy)
    assert main(["campaign", "list", "--db", db, "--json"]) == 0
    before = _json(capsys)["campaigns"]
    assert len(before) == 1 and before[0]["records"] > 200  # the demo's July campaign

    args = ["campaign", "add", "--db", db, "--name", "Ra quân tháng 9", "--json"]
    args += ["--start", "01/09/2025", "--end", "07/09/2025", "--groups", "19,Tổ dân phố số 20"]
    args += ["--categories", "street_vending", "--teams", "Đội 1"]
    assert main(args) == 0
    added = _json(capsys)
    store = open_store(demo_copy)
    linked = store.read("violations", Query(campaign_id=added["campaign_id"]))
    assert len(linked) == added["links_changed"] > 0
    assert set(linked["category"]) == {"street_vending"}
    assert set(linked["group_id"]) <= {"demo-G19", "demo-G20"}

    # the zone instead of two groups: more records
    cid = added["campaign_id"][:8]
    assert main(["campaign", "edit", cid, "--db", db, "--zones", "demo-Z1", "--json"]) == 0
    assert _json(capsys)["links_changed"] > 0
    wider = store.count("violations", Query(campaign_id=added["campaign_id"]))
    assert wider > len(linked)

    assert main(["campaign", "show", cid, "--db", db, "--lang", "en", "--json"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out.strip().splitlines()[-1])
    assert shown["summary"]["records"] == wider
    assert {e["period"] for e in shown["effects"]} >= {"after"}
    assert "Ra quân tháng 9" in out and "Just after the campaign" in out

    assert main(["campaign", "delete", cid, "--db", db]) == 0
    assert store.count("violations", Query(campaign_id=added["campaign_id"])) == 0


def test_show_the_demo_july_wave_in_vietnamese(demo_store, capsys):
    store = open_store(demo_store)
    wave = str(store.read("campaigns")["campaign_id"].iloc[0])
    assert main(["campaign", "show", wave, "--db", str(demo_store), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["areas"]["target"] and report["areas"]["buffer"] and report["areas"]["control"]
    assert "Ngay sau đợt" in out  # the plain-words evaluation
    assert report["summary"]["fined"] > 0


def test_suggest_gives_targets_workload_and_teams(demo_store, capsys):
    args = ["campaign", "suggest", "--db", str(demo_store), "--now", "2025-07-01"]
    assert main([*args, "--top", "5", "--teams", "3", "--json"]) == 0
    out = _json(capsys)
    assert len(out["targets"]) == 5
    assert [t["rank"] for t in out["targets"]] == [1, 2, 3, 4, 5]
    assert sum(w["teams"] for w in out["workload"]) == 3


def test_bad_input_names_the_problem(demo_copy, capsys):
    db = str(demo_copy)
    args = ["campaign", "add", "--db", db, "--name", "X", "--start", "2025-09-07"]
    assert main([*args, "--end", "2025-09-01", "--groups", "Tổ 999"]) == 2
    err = capsys.readouterr().err
    assert "before first_day" in err and "Tổ 999" in err
    assert main(["campaign", "show", "zzzz", "--db", db]) == 2
    assert "no campaign with id 'zzzz'" in capsys.readouterr().err
    wave = str(open_store(demo_copy).read("campaigns")["campaign_id"].iloc[0])
    assert main(["campaign", "show", wave, "--db", db, "--buffer", "near"]) == 2
    assert "--buffer must be 'adjacent' or a distance" in capsys.readouterr().err
