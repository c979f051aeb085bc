"""Sign-in: a local account and password, or the deployment's identity provider (``st.login``).

A store without any account first asks for its administrator. The embedded demo store comes
with one account per role, listed on this page. Signing in starts a session
(:mod:`geo.sessions`) whose token the browser keeps in a cookie, so a reload or a new tab stays
signed in: until the browser closes (at most 12 hours), or 14 days when the user ticks "keep me
signed in".
"""

from __future__ import annotations

import logging
import time

import streamlit as st

from geo.auth import Principal, Throttle, add_user, authenticate, principal_for_email
from geo.config import DEFAULT_STORE_PATH
from geo.errors import StoreError, UrbanOrderError
from geo.i18n import Lang, t
from geo.sessions import start_session
from geo.store import Store
from views.common import PRINCIPAL_KEY, language_choice, oidc_configured, remember_session

log = logging.getLogger(__name__)


@st.cache_resource(show_spinner=False)
def _throttle() -> Throttle:
    return Throttle()


def render(store: Store) -> None:
    """Draw the sign-in page for ``store`` and sign the session in when the user succeeds."""
    lg = language_choice()
    st.title(t("app.title", lg))
    st.subheader(t("auth.title", lg))
    if store.count("users") == 0:
        _first_admin(store, lg)
        return
    if oidc_configured():
        _identity_provider(store, lg)
    with st.form("sign-in"):
        account = st.text_input(t("auth.account", lg), key="signin-account")
        password = st.text_input(t("auth.password", lg), type="password", key="signin-password")
        remember = st.checkbox(t("auth.remember", lg), key="signin-remember")
        submitted = st.form_submit_button(t("auth.sign_in", lg), type="primary")
    if submitted:
        _try(store, account.strip().lower(), password, lg, remember=remember)
    if str(store.location) == str(DEFAULT_STORE_PATH):
        # only here: geo.demo imports what building the demo needs (scipy…)
        from geo.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

        st.info(
            t(
                "auth.demo_accounts",
                lg,
                accounts=", ".join(
                    f"{name} ({t(f'auth.role.{role}', lg)})" for name, role in DEMO_ACCOUNTS
                ),
                password=DEMO_PASSWORD,
            )
        )


def _try(store: Store, account: str, password: str, lg: Lang, *, remember: bool) -> None:
    throttle, now = _throttle(), time.monotonic()
    wait = throttle.wait_s(account, now=now)
    if wait > 0:
        st.error(t("auth.locked", lg, minutes=max(1, round(wait / 60))))
        return
    who = authenticate(store, account, password)
    if who is None:
        throttle.failed(account, now=now)
        st.error(t("auth.failed", lg))
        return
    throttle.succeeded(account)
    _sign_in(store, who, remember=remember)


def _sign_in(store: Store, who: Principal, *, remember: bool = False) -> None:
    log.info("%s signed in (%s)", who.user_id, who.role)
    try:
        remember_session(start_session(store, who, remember=remember), remember=remember)
    except StoreError as exc:  # signed in all the same, for this page only
        log.warning("no session kept for %s: %s", who.user_id, exc)
    st.session_state[PRINCIPAL_KEY] = who
    st.rerun()


def _identity_provider(store: Store, lg: Lang) -> None:
    if not st.user.is_logged_in:
        st.button(t("auth.sign_in_oidc", lg), on_click=st.login, type="primary")
        st.caption(t("auth.or_local", lg))
        return
    email = str(st.user.get("email") or "")
    who = principal_for_email(store, email) if email else None
    if who is None:
        st.error(t("auth.no_account_for", lg, email=email or "?"))
        st.button(t("auth.sign_out", lg), on_click=st.logout)
        return
    _sign_in(store, who)


def _first_admin(store: Store, lg: Lang) -> None:
    st.info(t("auth.first_admin", lg))
    with st.form("first-admin"):
        account = st.text_input(t("auth.account", lg), key="first-account")
        name = st.text_input(t("page.admin.display_name", lg), key="first-name")
        password = st.text_input(t("auth.password", lg), type="password", key="first-pw")
        again = st.text_input(t("auth.password_again", lg), type="password", key="first-pw2")
        submitted = st.form_submit_button(t("auth.create_admin", lg), type="primary")
    if not submitted:
        return
    if password != again:
        st.error(t("auth.passwords_differ", lg))
        return
    try:
        who = add_user(
            store, account, role="admin", wards=None, password=password,
            display_name=name.strip() or None, by="first run",
        )  # fmt: skip
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    _sign_in(store, who)
