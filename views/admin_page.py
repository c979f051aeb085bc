"""Page "Quản trị" (administration): accounts and the audit log, for administrators only.

Accounts: who may sign in, with which role, over which wards; add, change, disable, set a new
password. The audit log: every change (uploads, edits, discards, boundary replacements,
campaigns, accounts) with its user and time, newest first, filtered and downloadable.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import streamlit as st

from geo.access import ScopedStore
from geo.auth import ROLES, add_user, change_user, list_users, set_password
from geo.config import TIMEZONE_NAME
from geo.errors import UrbanOrderError
from geo.export import table_csv
from geo.i18n import Lang, t
from views.common import require, session_store


def render(lang: Lang) -> None:
    """Draw the page (the role is checked here, on the server, whatever the menu shows)."""
    require("users")
    store = session_store()
    st.title(t("page.admin.title", lang))
    accounts, audit = st.tabs([t("page.admin.tab.users", lang), t("page.admin.tab.audit", lang)])
    with accounts:
        _accounts(store, lang)
    with audit:
        _audit(store, lang)


def _accounts(store: ScopedStore, lg: Lang) -> None:
    users = list_users(store)
    wards = store.ward_ids()
    st.dataframe(
        pd.DataFrame(
            {
                t("auth.account", lg): users["user_id"],
                t("page.admin.display_name", lg): users["display_name"],
                t("page.admin.role", lg): [t(f"auth.role.{r}", lg) for r in users["role"]],
                t("page.admin.wards", lg): users["wards"].replace("*", t("page.admin.all", lg)),
                t("page.admin.email", lg): users["email"],
                t("page.admin.active", lg): users["active"],
            }
        ),
        hide_index=True,
    )
    with st.expander(t("page.admin.add", lg)), st.form("add-user", clear_on_submit=True):
        c1, c2 = st.columns(2)
        account = c1.text_input(t("auth.account", lg))
        name = c2.text_input(t("page.admin.display_name", lg))
        role = c1.selectbox(
            t("page.admin.role", lg), ROLES, format_func=lambda r: t(f"auth.role.{r}", lg)
        )
        email = c2.text_input(t("page.admin.email", lg), help=t("page.admin.email_help", lg))
        every = st.checkbox(t("page.admin.all_wards", lg))
        chosen = st.multiselect(t("page.admin.wards", lg), wards, default=wards[:1])
        password = st.text_input(
            t("auth.password", lg), type="password", help=t("page.admin.password_help", lg)
        )
        if st.form_submit_button(t("page.admin.add", lg), type="primary"):

            def add() -> None:
                add_user(store, account, role=role, wards=None if every else chosen,
                         password=password or None, email=email or None,
                         display_name=name or None, by=store.principal.user_id)  # fmt: skip

            _do(add, t("page.admin.added", lg, account=account.strip().lower()))
    if users.empty:
        return
    with st.expander(t("page.admin.change", lg)):
        pick = st.selectbox(t("auth.account", lg), users["user_id"], key="admin-pick")
        row = users.set_index("user_id").loc[pick]
        with st.form(f"change-{pick}"):
            role = st.selectbox(
                t("page.admin.role", lg), ROLES, index=ROLES.index(row["role"]),
                format_func=lambda r: t(f"auth.role.{r}", lg),
            )  # fmt: skip
            current = [] if row["wards"] == "*" else str(row["wards"] or "").split(",")
            every = st.checkbox(t("page.admin.all_wards", lg), value=row["wards"] == "*")
            chosen = st.multiselect(
                t("page.admin.wards", lg), wards, default=[w for w in current if w in wards]
            )
            active = st.checkbox(t("page.admin.active", lg), value=bool(row["active"]))
            password = st.text_input(
                t("page.admin.new_password", lg), type="password",
                help=t("page.admin.new_password_help", lg),
            )  # fmt: skip
            if st.form_submit_button(t("page.admin.save", lg), type="primary"):
                by = store.principal.user_id

                def change() -> None:
                    change_user(store, pick, role=role, wards=None if every else chosen,
                                active=active, by=by)  # fmt: skip
                    if password:
                        set_password(store, pick, password, by=by)

                _do(change, t("page.admin.saved", lg, account=pick))


def _do(action: Callable[[], None], done: str) -> None:
    try:
        action()
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    st.session_state["admin-flash"] = done
    st.rerun()


def _audit(store: ScopedStore, lg: Lang) -> None:
    flash = st.session_state.pop("admin-flash", None)
    if flash:
        st.success(flash)
    log = store.read("audit_log")
    if log.empty:
        st.info(t("page.admin.audit.none", lg))
        return
    log = log.iloc[::-1].reset_index(drop=True)
    today = pd.Timestamp.now(tz=TIMEZONE_NAME).date()
    c1, c2, c3 = st.columns(3)
    users = sorted(log["user"].dropna().unique())
    who = c1.multiselect(t("page.admin.audit.user", lg), users, key="audit-users")
    words = c2.text_input(t("page.admin.audit.action", lg), key="audit-action").strip().lower()
    days = c3.number_input(
        t("page.admin.audit.days", lg), min_value=1, max_value=3650, value=30, key="audit-days"
    )
    since = pd.Timestamp(today - timedelta(days=int(days) - 1), tz=TIMEZONE_NAME)
    shown = log[log["at"] >= since]
    if who:
        shown = shown[shown["user"].isin(who)]
    if words:
        shown = shown[shown["action"].str.lower().str.contains(words, regex=False, na=False)]
    st.caption(t("page.admin.audit.count", lg, n=len(shown), total=len(log)))
    table = pd.DataFrame(
        {
            t("page.admin.audit.at", lg): shown["at"].dt.strftime("%d/%m/%Y %H:%M:%S"),
            t("page.admin.audit.user", lg): shown["user"],
            t("page.admin.audit.action", lg): shown["action"],
            t("page.admin.audit.table", lg): shown["table"],
            t("page.admin.audit.ids", lg): shown["ids"].str.slice(0, 200),
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", height=420)
    st.download_button(
        t("page.admin.audit.download", lg),
        table_csv(shown.assign(at=shown["at"].dt.strftime("%Y-%m-%d %H:%M:%S%z"))),
        file_name="audit_log.csv",
        mime="text/csv",
    )
