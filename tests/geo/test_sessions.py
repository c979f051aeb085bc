"""Sessions: a token resumes its user until it expires or is revoked; only its hash is kept."""

from __future__ import annotations

import shutil

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from geo.auth import Principal, change_user, set_password
from geo.errors import InputError
from geo.sessions import (
    KEEP_ENDED,
    REMEMBERED,
    SEEN_EVERY,
    SHIFT,
    end_session,
    end_user_sessions,
    resume_session,
    start_session,
    token_hash,
)
from geo.store import create_store, open_store

NOW = pd.Timestamp("2025-07-01 07:00", tz="Asia/Ho_Chi_Minh")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sessions") / "template.gpkg"
    store = create_store(path)
    wards = gpd.GeoDataFrame(
        {"ward_id": ["w1", "w2"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326
    )
    users = pd.DataFrame(
        {
            "user_id": ["lan", "hoa"],
            "display_name": ["Lan", "Hoa"],
            "role": ["staff", "viewer"],
            "wards": ["w1", "*"],
            "active": [True, True],
        }
    )
    store.write({"wards": wards, "users": users}, user="setup", action="setup")
    return path


@pytest.fixture
def store(template, tmp_path):
    path = tmp_path / "store.gpkg"
    shutil.copy(template, path)
    return open_store(path)


def test_a_token_resumes_its_user_and_only_its_hash_is_stored(store):
    token = start_session(store, Principal("lan", "staff", ("w1",)), remember=False, now=NOW)
    assert len(token) >= 43  # 256 random bits, URL-safe base64
    who = resume_session(store, token, now=NOW + pd.Timedelta(hours=1))
    assert who == Principal("lan", "staff", ("w1",), display_name="Lan")
    rows = store.read("sessions")
    assert rows["session_id"].tolist() == [token_hash(token)]
    assert rows["expires_at"].tolist() == [NOW + SHIFT] and not rows["remember"].iloc[0]
    for table in ("sessions", "audit_log"):
        cells = [str(c) for c in store.read(table).to_numpy().ravel()]
        assert not [c for c in cells if token in c], f"the token is stored in {table}"
    assert start_session(store, "hoa", remember=False, now=NOW) != token


def test_expired_revoked_unknown_and_malformed_tokens_resume_nobody(store):
    shift = start_session(store, "lan", remember=False, now=NOW)
    kept = start_session(store, "lan", remember=True, now=NOW)
    later = NOW + SHIFT + pd.Timedelta(seconds=1)
    assert resume_session(store, shift, now=later) is None
    assert resume_session(store, kept, now=later).user_id == "lan"
    assert resume_session(store, kept, now=NOW + REMEMBERED) is None
    assert end_session(store, kept, now=NOW) and not end_session(store, kept, now=NOW)
    assert resume_session(store, kept, now=NOW) is None
    assert resume_session(store, "x" * 43, now=NOW) is None
    for bad in ("", "short", "a;b=c" * 10, token_hash(shift)[:43] + "!"):
        assert resume_session(store, bad, now=NOW) is None
    # the hash itself is no token: it does not resume the session
    assert resume_session(store, token_hash(kept), now=NOW) is None


def test_a_disabled_or_deleted_account_resumes_nobody(store):
    lan = start_session(store, "lan", remember=True, now=NOW)
    hoa = start_session(store, "hoa", remember=True, now=NOW)
    change_user(store, "lan", by="admin", active=False)
    assert resume_session(store, lan) is None
    change_user(store, "lan", by="admin", active=True)
    assert resume_session(store, lan) is None  # disabling revoked it for good
    store.write({}, user="admin", action="delete", delete={"users": [{"user_id": "hoa"}]})
    assert resume_session(store, hoa) is None
    with pytest.raises(InputError, match="no active account hoa"):
        start_session(store, "hoa", remember=False)


def test_a_new_password_ends_every_session_of_the_account_only(store):
    lan = [start_session(store, "lan", remember=r) for r in (False, True)]
    hoa = start_session(store, "hoa", remember=False)
    set_password(store, "lan", "a brand new password", by="admin")
    assert store.read("audit_log")["action"].tolist()[-1] == "sign out everywhere"
    assert [resume_session(store, t) for t in lan] == [None, None]
    assert resume_session(store, hoa).user_id == "hoa"
    assert end_user_sessions(store, "lan") == 0


def test_a_role_or_ward_change_applies_at_the_next_resume(store):
    token = start_session(store, "lan", remember=False)
    change_user(store, "lan", by="admin", role="leader", wards=["w2"])
    assert resume_session(store, token) == Principal("lan", "leader", ("w2",), "Lan")


def test_sign_in_and_out_are_audited_but_leave_the_data_version(store):
    before = store.data_version()
    token = start_session(store, "lan", remember=False, now=NOW)
    resume_session(store, token, now=NOW + SEEN_EVERY)  # records that it was seen
    end_session(store, token, now=NOW + SEEN_EVERY)
    assert store.data_version() == before
    audit = store.read("audit_log")
    assert audit["action"].tolist()[-3:] == ["sign in", "resume session", "sign out"]
    row = store.read("sessions").iloc[0]
    assert row["last_seen_at"] == NOW + SEEN_EVERY and row["revoked_at"] == NOW + SEEN_EVERY
    # other tables still move the version (the pages' caches see the change)
    change_user(store, "hoa", by="admin", role="staff")
    assert store.data_version() == before + 1


def test_seen_is_recorded_at_most_once_per_interval(store):
    token = start_session(store, "lan", remember=False, now=NOW)
    for minutes in (1, 2, 3):
        resume_session(store, token, now=NOW + pd.Timedelta(minutes=minutes))
    assert store.read("sessions")["last_seen_at"].tolist() == [NOW + pd.Timedelta(minutes=1)]
    assert store.read("audit_log")["action"].tolist().count("resume session") == 1


def test_ended_sessions_are_pruned_after_a_month_at_the_next_sign_in(store):
    long_ago = NOW - KEEP_ENDED - SHIFT - pd.Timedelta(days=1)
    old = start_session(store, "lan", remember=False, now=long_ago)
    revoked = start_session(store, "lan", remember=True, now=NOW - pd.Timedelta(days=40))
    end_session(store, revoked, now=NOW - pd.Timedelta(days=31))
    recent = start_session(store, "lan", remember=False, now=NOW - pd.Timedelta(days=2))
    assert store.count("sessions") == 3
    start_session(store, "hoa", remember=False, now=NOW)
    kept = set(store.read("sessions")["session_id"])
    assert token_hash(old) not in kept and token_hash(revoked) not in kept
    assert token_hash(recent) in kept and len(kept) == 2


def test_session_writes_leave_the_data_version_on_both_backends(store_url):
    store = create_store(store_url)
    users = pd.DataFrame(
        {"user_id": ["lan"], "display_name": ["Lan"], "role": ["viewer"], "wards": ["*"],
         "active": [True]}
    )  # fmt: skip
    store.write({"users": users}, user="setup", action="setup")
    before = store.data_version()
    token = start_session(store, "lan", remember=True)
    assert resume_session(store, token).user_id == "lan"
    assert end_user_sessions(store, "lan") == 1 and resume_session(store, token) is None
    assert store.data_version() == before
    assert store.read("audit_log")["table"].tolist()[-2:] == ["sessions", "sessions"]
