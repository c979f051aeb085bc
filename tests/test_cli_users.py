"""``urban-order user``: accounts from the command line; passwords never on the command line."""

from __future__ import annotations

import io

import geopandas as gpd
import pytest
from shapely.geometry import box

from geo.auth import authenticate
from geo.cli import main
from geo.store import create_store, open_store


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "w.gpkg"
    store = create_store(path)
    shapes = [box(105.8, 21, 105.81, 21.01), box(105.9, 21, 105.91, 21.01)]
    wards = gpd.GeoDataFrame(
        {"ward_id": ["w1", "w2"], "name": ["Một", "Hai"]}, geometry=shapes, crs=4326
    )
    store.write({"wards": wards}, user="setup", action="wards")
    return path


def test_add_list_passwd_and_change(db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("first password\n"))
    assert main(["user", "add", "--db", str(db), "lan", "--role", "staff", "--ward", "w1",
                 "--password-stdin"]) == 0  # fmt: skip
    assert "account lan (staff) added; wards: w1" in capsys.readouterr().out
    store = open_store(db)
    assert authenticate(store, "lan", "first password").wards == ("w1",)
    assert main(["user", "add", "--db", str(db), "hoa", "--role", "leader", "--all-wards",
                 "--email", "hoa@example.vn", "--no-password"]) == 0  # fmt: skip
    main(["user", "list", "--db", str(db)])
    listed = capsys.readouterr().out
    assert "lan" in listed and "hoa@example.vn" in listed and "$argon2" not in listed
    monkeypatch.setattr("sys.stdin", io.StringIO("second password\n"))
    assert main(["user", "passwd", "--db", str(db), "lan", "--password-stdin"]) == 0
    assert authenticate(store, "lan", "first password") is None
    assert main(["user", "change", "--db", str(db), "lan", "--ward", "w2", "--role", "viewer"]) == 0
    assert authenticate(store, "lan", "second password").wards == ("w2",)
    assert main(["user", "change", "--db", str(db), "lan", "--disable"]) == 0
    assert authenticate(store, "lan", "second password") is None


def test_problems_are_reported_and_change_nothing(db, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "--db", str(db), "Bad Name", "--role", "staff", "--ward", "w9",
                 "--password-stdin"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert (
        "unknown ward(s) w9" in err and "account name 'Bad Name'" in err and "10 characters" in err
    )
    assert main(["user", "add", "--db", str(db), "lan", "--role", "staff",
                 "--no-password"]) == 2  # fmt: skip
    assert "--ward" in capsys.readouterr().err
    assert open_store(db).count("users") == 0


def test_sign_out_ends_every_session_of_an_account(db, capsys):
    import pandas as pd

    from geo.sessions import resume_session, start_session

    store = open_store(db)
    users = pd.DataFrame(
        {"user_id": ["lan", "hoa"], "display_name": ["Lan", "Hoa"], "role": ["staff", "staff"],
         "wards": ["w1", "w1"], "active": [True, True]}
    )  # fmt: skip
    store.write({"users": users}, user="setup", action="users")
    lan = [start_session(store, "lan", remember=r) for r in (False, True)]
    hoa = start_session(store, "hoa", remember=True)
    assert main(["user", "sign-out", "--db", str(db), "lan"]) == 0
    assert "2 session(s) of lan ended" in capsys.readouterr().out
    assert store.read("audit_log")["user"].tolist()[-1] == "command line"
    assert [resume_session(store, t) for t in lan] == [None, None]
    assert resume_session(store, hoa).user_id == "hoa"
    assert main(["user", "sign-out", "--db", str(db), "nobody"]) == 2
    assert "no account nobody" in capsys.readouterr().err
