"""AppTest of sign-ins that survive a reload: the browser's session cookie opens the map
without the form; a revoked one shows the form and is cleared.

AppTest cannot send cookies (``st.context.cookies`` comes from the browser's websocket
request), so these tests replace :func:`views.common.cookie_token`, the one place the app
reads the cookie; tests/test_browser.py checks the cookie itself in Chromium.
"""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from geo.demo import DEMO_PASSWORD
from geo.sessions import REMEMBERED, end_session, end_user_sessions, start_session, token_hash
from geo.store import open_store
from tests.apprunner import ROOT

pytestmark = pytest.mark.slow


def _app(monkeypatch, db, token: str | None) -> AppTest:
    monkeypatch.setenv("URBAN_ORDER_DB", str(db))
    monkeypatch.setattr("views.common.cookie_token", lambda: token)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)


def _scripts(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html")]


def test_a_live_session_cookie_opens_the_map_without_the_form(demo_copy, monkeypatch):
    token = start_session(open_store(demo_copy), "doitrat", remember=False)
    at = _app(monkeypatch, demo_copy, token).run()
    assert not at.exception, at.exception
    assert not at.text_input  # no sign-in form
    assert at.title[0].value == "Bản đồ trật tự đô thị"
    assert any("doitrat · Đội trật tự (xem)" in c.value for c in at.sidebar.caption)
    assert not _scripts(at)  # the cookie is fine as it is
    # signing out ends the session in the store and clears the cookie
    next(b for b in at.button if b.label == "Đăng xuất").click().run()
    assert at.text_input(key="signin-account") is not None
    sessions = open_store(demo_copy).read("sessions").set_index("session_id")
    assert pd.notna(sessions.loc[token_hash(token), "revoked_at"])
    assert [s for s in _scripts(at) if "uo_session=" in s and "Max-Age=0" in s]


def test_an_open_page_is_signed_out_when_its_session_ends_elsewhere(demo_copy, monkeypatch):
    store = open_store(demo_copy)
    token = start_session(store, "doitrat", remember=False)
    at = _app(monkeypatch, demo_copy, token).run()
    assert "principal" in at.session_state
    end_user_sessions(store, "doitrat")  # e.g. an administrator gave a new password
    at.run()
    assert "principal" in at.session_state  # confirmed once a minute, not at every rerun
    monkeypatch.setattr("views.common.RECHECK_S", 0.0)
    at.run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader] == ["Đăng nhập"] and "principal" not in at.session_state
    assert [s for s in _scripts(at) if "uo_session=" in s and "Max-Age=0" in s]


def test_a_revoked_session_cookie_shows_the_form_and_is_cleared(demo_copy, monkeypatch):
    store = open_store(demo_copy)
    token = start_session(store, "doitrat", remember=True)
    end_session(store, token)
    at = _app(monkeypatch, demo_copy, token).run()
    assert not at.exception, at.exception
    assert [s.value for s in at.subheader] == ["Đăng nhập"]
    assert "principal" not in at.session_state
    assert [s for s in _scripts(at) if "uo_session=" in s and "Max-Age=0" in s]


def test_signing_in_remembered_starts_a_session_and_sets_the_cookie(demo_copy, monkeypatch):
    # (the shared demo store holds the sessions of other tests' sign-ins)
    before = set(open_store(demo_copy).read("sessions")["session_id"])
    at = _app(monkeypatch, demo_copy, None).run()
    assert at.checkbox(key="signin-remember").label.startswith("Ghi nhớ đăng nhập")
    at.text_input(key="signin-account").set_value("doitrat")
    at.text_input(key="signin-password").set_value(DEMO_PASSWORD)
    at.checkbox(key="signin-remember").check()
    at.button[0].click().run()
    assert not at.exception, at.exception
    sessions = open_store(demo_copy).read("sessions")
    (row,) = sessions[~sessions["session_id"].isin(before)].itertuples()
    assert row.user_id == "doitrat" and row.remember
    (script,) = _scripts(at)
    token = script.split("uo_session=", 1)[1].split('"', 1)[0]
    assert token_hash(token) == row.session_id
    assert f"Max-Age={int(REMEMBERED.total_seconds())}" in script and "SameSite=Strict" in script
    assert at.sidebar.get("html")  # in the sidebar, below its controls: no gap on the page
