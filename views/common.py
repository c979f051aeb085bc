"""What every page shares: the store, the sidebar filters, cached loaders.

Loaders are cached by plain keys (store location, data version, ward, period, categories):
``st.cache_data`` cannot hash a GeoDataFrame, and ``st.cache_resource`` hands every session
the same object, so pages must treat what they get as read-only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from geo.access import ScopedStore
from geo.auth import Capability, Principal
from geo.config import DEFAULT_STORE_PATH, TIMEZONE_NAME
from geo.errors import AccessDeniedError
from geo.i18n import LANGUAGES, Lang, category_label, number, t, translations
from geo.model import CATEGORIES, SCHEMAS
from geo.problems import split_reason
from geo.sessions import REMEMBERED, end_session, resume_session
from geo.store import Query, Store, describe, is_postgis_url, open_store

if TYPE_CHECKING:  # the sign-in page imports this module: no folium, scipy… before it is drawn
    import folium

    from geo.enforcement import EnforcementSummary

log = logging.getLogger(__name__)

DB_ENV = "URBAN_ORDER_DB"

T = TypeVar("T")


@dataclass(frozen=True)
class Filters:
    """The sidebar's choices, read by every page."""

    ward_id: str
    start: date
    end: date  # inclusive, as the user picked it
    categories: tuple[str, ...]
    lang: Lang
    online_tiles: bool

    def query(self, **extra: object) -> Query:
        """The store query for the chosen ward, period and categories."""
        return Query(
            ward_id=self.ward_id,
            start=pd.Timestamp(self.start, tz=TIMEZONE_NAME),
            end=pd.Timestamp(self.end + timedelta(days=1), tz=TIMEZONE_NAME),
            categories=self.categories,
            **extra,  # type: ignore[arg-type]
        )

    @property
    def months(self) -> float:
        """Length of the period in months (30.44 days each)."""
        return ((self.end - self.start).days + 1) / 30.44


def store_location() -> str:
    """The configured store (a ``.gpkg`` path or a PostGIS URL).

    ``URBAN_ORDER_DB``, else ``db`` under ``[urban_order]`` in Streamlit's secrets (where a
    deployment keeps a URL with its password), else the embedded demo store.
    """
    from_env = os.environ.get(DB_ENV)
    if from_env:
        return from_env
    try:
        section = st.secrets.get("urban_order", {})
    except (FileNotFoundError, KeyError, StreamlitSecretNotFoundError):
        section = {}
    return str(section.get("db") or DEFAULT_STORE_PATH)


def get_store(location: str) -> Store:
    """The whole store at ``location``, shared by all sessions (stores open a connection per
    call). Pages change data only through :func:`session_store`; cached readers below check
    the signed-in user's wards before they read.

    ``location`` may be what a store shows of itself (a PostGIS URL without its password):
    the configured store is opened with its full URL.
    """
    configured = store_location()
    if location in (configured, describe(configured)):
        location = configured
    return _open(location)


@st.cache_resource(show_spinner=False)
def _open(location: str) -> Store:
    return open_store(location)


# -- who is signed in ---------------------------------------------------------------------------

PRINCIPAL_KEY = "principal"


def principal() -> Principal | None:
    """The signed-in user of this session (set only by the sign-in page), or None."""
    who = st.session_state.get(PRINCIPAL_KEY)
    return who if isinstance(who, Principal) else None


def require(capability: Capability) -> Principal:
    """The signed-in user if their role allows ``capability``; else say why and stop the page."""
    who = principal()
    lg = lang()
    if who is None:
        st.warning(t("auth.sign_in_first", lg))
        st.stop()
        raise AssertionError("st.stop() returned")  # for type checkers: st.stop never returns
    if not who.can(capability):
        st.error(t("auth.denied", lg, role=t(f"auth.role.{who.role}", lg)))
        st.stop()
    return who


def session_store() -> ScopedStore:
    """The store as the signed-in user may see and change it (every write goes through this)."""
    return ScopedStore(get_store(store_location()), require("view"))


def signed_in_user() -> str:
    """The signed-in user's account name (what the audit log records)."""
    return require("view").user_id


# -- the sign-in cookie (see geo.sessions) ------------------------------------------------------

#: The cookie that carries a browser's session token.
SESSION_COOKIE = "uo_session"
_TOKEN_KEY = "session-token"  # this session's token, to end it on signing out
_TRIED_KEY = "session-token-tried"  # the cookie's token, once resumed or refused
_CHECKED_KEY = "session-checked"  # when the store last confirmed this session (monotonic s)
_COOKIE_KEY = "session-cookie"  # the cookie to write in the next run
#: How often an open page asks the store whether its session still holds (revoked elsewhere:
#: signed out everywhere, a new password, a disabled account; a changed role or ward).
RECHECK_S = 60.0


def cookie_token() -> str | None:
    """The session token the browser sent when this page was loaded (its cookie), or None.

    ``st.context.cookies`` holds the cookies of the websocket's opening request: a cookie set
    or cleared later is seen by the next page load only.
    """
    try:
        token = st.context.cookies.get(SESSION_COOKIE)
    except RuntimeError:  # no server (an AppTest)
        return None
    return token or None


def session_principal(store: Store) -> Principal | None:
    """The signed-in user of this session: signed in before, or now from the browser's
    cookie (:func:`resume_signed_in`). Once a minute (:data:`RECHECK_S`) the store confirms
    the session and gives the user's current role and wards; a session ended elsewhere signs
    this page out too."""
    who = principal()
    if who is None:
        return resume_signed_in(store)
    token = st.session_state.get(_TOKEN_KEY)
    now = time.monotonic()
    if token is None or now - st.session_state.get(_CHECKED_KEY, now) < RECHECK_S:
        return who
    st.session_state[_CHECKED_KEY] = now
    fresh = resume_session(store, token)
    if fresh is None:
        log.info("%s's session ended elsewhere: signed out", who.user_id)
        for key in (PRINCIPAL_KEY, _TOKEN_KEY):
            st.session_state.pop(key, None)
        st.session_state[_COOKIE_KEY] = None
        return None
    st.session_state[PRINCIPAL_KEY] = fresh
    return fresh


def resume_signed_in(store: Store) -> Principal | None:
    """Sign this session in from the browser's cookie, if it carries a live session; a
    stale cookie is cleared. Tries each token once per session: one indexed read, no
    password hashing."""
    token = cookie_token()
    if token is None or st.session_state.get(_TRIED_KEY) == token:
        return None
    st.session_state[_TRIED_KEY] = token
    who = resume_session(store, token)
    if who is None:
        st.session_state[_COOKIE_KEY] = None
        return None
    st.session_state[PRINCIPAL_KEY] = who
    st.session_state[_TOKEN_KEY] = token
    st.session_state[_CHECKED_KEY] = time.monotonic()
    return who


def remember_session(token: str, *, remember: bool) -> None:
    """Keep ``token`` as this session's, and have the browser keep it in its cookie: for
    :data:`geo.sessions.REMEMBERED` when ``remember``, else until the browser closes."""
    st.session_state[_TOKEN_KEY] = token
    st.session_state[_TRIED_KEY] = token
    st.session_state[_CHECKED_KEY] = time.monotonic()
    st.session_state[_COOKIE_KEY] = (token, int(REMEMBERED.total_seconds()) if remember else None)


def write_session_cookie() -> None:
    """Set or clear the browser's session cookie if this session asked for it (the script's
    element takes no room, but the gap before it does: place it last in its column)."""
    if _COOKIE_KEY not in st.session_state:
        return
    st.html(cookie_script(st.session_state.pop(_COOKIE_KEY)), unsafe_allow_javascript=True)


def cookie_script(cookie: tuple[str, int | None] | None) -> str:
    """The ``<script>`` that sets the session cookie to ``(token, max_age_s)`` (no max age:
    until the browser closes), or clears it (``None``). ``Secure`` under https."""
    if cookie is None:
        value, age = "", "; Max-Age=0"
    else:
        value, max_age = cookie
        age = "" if max_age is None else f"; Max-Age={int(max_age)}"
    attributes = json.dumps(f"; Path=/; SameSite=Strict{age}")
    pair = json.dumps(f"{SESSION_COOKIE}={value}")
    return (
        "<script>document.cookie = "
        f"{pair} + {attributes} + (location.protocol === 'https:' ? '; Secure' : '');</script>"
    )


def _check_read(table: str, ward_id: str | None) -> None:
    who = require("view")
    if table in ("audit_log", "users", "sessions"):
        raise AccessDeniedError(f"{table} is read through session_store() only.")
    if ward_id is None and who.wards is not None and "ward_id" in SCHEMAS[table]:
        raise AccessDeniedError(f"a read of {table} must name one of {who.user_id}'s wards.")
    if ward_id is not None:
        who.require_ward(ward_id)


def lang() -> Lang:
    """The language chosen in the sidebar (Vietnamese by default)."""
    value = st.session_state.get("lang", "vi")
    return value if value in LANGUAGES else "vi"


def load_boundaries(location: str, version: int, ward_id: str) -> dict[str, gpd.GeoDataFrame]:
    """Current ward, zones, groups and streets of a ward (read-only, shared)."""
    _check_read("groups", ward_id)
    return _boundaries(location, version, ward_id)


@st.cache_resource(max_entries=16, show_spinner=False)
def _boundaries(location: str, version: int, ward_id: str) -> dict[str, gpd.GeoDataFrame]:
    store = get_store(location)
    q = Query(ward_id=ward_id)
    return {table: store.read(table, q) for table in ("wards", "zones", "groups", "streets")}


def group_count(location: str, version: int, ward_id: str) -> int:
    """How many groups the ward has now (a count: the city view reads no ward's boundaries)."""
    _check_read("groups", ward_id)
    return _group_count(location, version, ward_id)


@st.cache_resource(max_entries=64, show_spinner=False)
def _group_count(location: str, version: int, ward_id: str) -> int:
    return get_store(location).count("groups", Query(ward_id=ward_id))


def load_records(location: str, version: int, table: str, query: Query) -> pd.DataFrame:
    """Records of ``table`` matching ``query`` (read-only, shared), in the user's wards."""
    _check_read(table, query.ward_id)
    return _records(location, version, table, query)


@st.cache_resource(max_entries=32, show_spinner=False)
def _records(location: str, version: int, table: str, query: Query) -> pd.DataFrame:
    return get_store(location).read(table, query)


def record_period(location: str, version: int, ward_id: str) -> tuple[date, date] | None:
    """First and last day with a violation in the ward, or None when it has none."""
    _check_read("violations", ward_id)
    return _record_period(location, version, ward_id)


@st.cache_resource(max_entries=16, show_spinner=False)
def _record_period(location: str, version: int, ward_id: str) -> tuple[date, date] | None:
    # from the store's (ward, time) index: a ward of 50,000 records is not read for two dates
    span = get_store(location).time_span("violations", Query(ward_id=ward_id))
    return None if span is None else (span[0].date(), span[1].date())


def language_choice() -> Lang:
    """The language radio at the top of the sidebar; returns the language chosen."""
    with st.sidebar:
        st.radio(
            t("sidebar.language", lang()),
            LANGUAGES,
            key="lang",
            format_func=lambda code: {"vi": "Tiếng Việt", "en": "English"}[code],
            horizontal=True,
        )
    return lang()


def sidebar(store: Store) -> Filters | None:
    """Draw the sidebar (who is signed in, ward, period, categories, language, tiles) and
    return the choices; only the signed-in user's wards are offered."""
    lg = language_choice()
    who = require("view")
    with st.sidebar:
        st.caption(
            t("auth.signed_in_as", lg, name=who.display_name or who.user_id,
              role=t(f"auth.role.{who.role}", lg))
        )  # fmt: skip
        if st.button(t("auth.sign_out", lg), key="sign-out"):
            sign_out()
        version = store.data_version()
        ward_ids = [w for w in store.ward_ids() if who.sees(w)]
        if not ward_ids:
            st.warning(t("sidebar.no_wards", lg))
            return None
        names = _ward_names(store.location, version)
        ward_id = st.selectbox(
            t("sidebar.ward", lg), ward_ids, format_func=lambda w: names.get(w, w), key="ward"
        )
        if not group_count(store.location, version, ward_id):
            # Every page works on groups: until a ward has them there is nothing to show.
            st.warning(t("sidebar.no_groups", lg, ward=names.get(ward_id, ward_id)))
            return None
        period = record_period(store.location, version, ward_id)
        today = date.today()
        first, last = period or (today - timedelta(days=30), today)
        picked = st.date_input(
            t("sidebar.period", lg),
            value=(first, last),
            format="DD/MM/YYYY",
            key=f"period-{ward_id}",
        )
        start, end = _date_range(picked, first, last)
        st.session_state.setdefault("categories-kept", list(CATEGORIES))
        codes = translated(
            st.multiselect,
            t("sidebar.categories", lg),
            CATEGORIES,
            name="categories",
            lang=lg,
            format_func=lambda c: category_label(c, lg),
        )
        online = st.toggle(
            t("sidebar.online_tiles", lg),
            value=False,
            key="online_tiles",
            help=t("sidebar.online_tiles_help", lg),
        )
        st.caption(t("sidebar.store", lg, location=_shown_location(store.location)))
    return Filters(
        ward_id=ward_id,
        start=start,
        end=end,
        categories=tuple(codes),
        lang=lg,
        online_tiles=online,
    )


@st.cache_resource(max_entries=8, show_spinner=False)
def _ward_names(location: str, version: int) -> dict[str, str]:
    wards = get_store(location).read("wards")
    return dict(zip(wards["ward_id"], wards["name"].fillna(wards["ward_id"]), strict=True))


def _date_range(picked: object, first: date, last: date) -> tuple[date, date]:
    """A (start, end) pair from ``st.date_input``, which gives one date while the user picks."""
    if isinstance(picked, (tuple, list)):
        if len(picked) == 2:
            return picked[0], picked[1]
        if len(picked) == 1:
            return picked[0], picked[0]
        return first, last
    if isinstance(picked, date):
        return picked, picked
    return first, last


def translated(
    widget: Callable[..., T],
    label: str,
    options: Sequence[Any],
    *,
    name: str,
    lang: Lang,
    **kw: Any,
) -> T:
    """A choice widget whose option labels are in ``lang``, keeping its value across languages.

    The browser keeps showing the old labels of a keyed widget whose labels change (a radio even
    loses its mark), so each language gets its own key, seeded with the value chosen before.
    """
    key, kept = f"{name}-{lang}", st.session_state.get(f"{name}-kept")
    chosen = kept if isinstance(kept, list) else [kept]
    if key not in st.session_state and kept is not None and all(v in options for v in chosen):
        st.session_state[key] = kept
    value = widget(label, options, key=key, **kw)
    st.session_state[f"{name}-kept"] = value
    return value


def sign_out() -> None:
    """End this session's sign-in in the store and the browser's cookie, forget its user
    (and leave the identity provider's session too)."""
    token = st.session_state.pop(_TOKEN_KEY, None)
    if token:
        end_session(get_store(store_location()), token)
    st.session_state[_COOKIE_KEY] = None
    st.session_state.pop(PRINCIPAL_KEY, None)
    if oidc_configured() and st.user.is_logged_in:
        st.logout()
    st.rerun()


def oidc_configured() -> bool:
    """Whether the deployment's secrets configure an identity provider for ``st.login``."""
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return False


def _shown_location(location: str) -> str:
    return describe(location) if is_postgis_url(location) else Path(location).name


def problems_table(problems: pd.DataFrame, lang: Lang, *, with_table: bool = False) -> pd.DataFrame:
    """Problems of an upload (``PreparedUpload.problems()``) as a table for people.

    Row, column, what is wrong and how to fix it in ``lang``, the detailed message, and
    whether the row was rejected (to quarantine) or only flagged.
    """
    rows = pd.to_numeric(problems["row"], errors="coerce").astype("Int64")
    table = {
        t("page.upload.problem.row", lang): rows,
        t("page.upload.problem.column", lang): problems["column"].astype("string").fillna("—"),
        t("page.upload.problem.reason", lang): [_reason(r, lang) for r in problems["reason"]],
        t("page.upload.problem.fix", lang): [_fix(r, lang) for r in problems["reason"]],
        t("page.upload.problem.message", lang): problems["message"].astype("string"),
        t("page.upload.problem.severity", lang): [
            t(f"severity.{s}", lang) for s in problems["severity"]
        ],
    }
    if with_table and "table" in problems.columns:
        table = {t("page.upload.problem.table", lang): problems["table"], **table}
    return pd.DataFrame(table)


def quarantine_reasons(text: str, lang: Lang) -> list[str]:
    """The reasons a row waits in quarantine (as the store keeps them, `` | ``-joined), each
    for people: in Vietnamese what is wrong and how to fix it, then the detailed message
    (which names the value); in English the column and that message. A reason kept without
    its code is shown as kept."""
    shown = []
    for part in filter(None, (p.strip() for p in text.split(" | "))):
        column, code, message = split_reason(part)
        if code is None:
            shown.append(part)
        elif lang == "en":
            shown.append(f"{column}: {message}")
        else:
            detail = t("page.upload.problem.message", lang)
            shown.append(
                f"{column} — {_reason(code, lang)}. {_fix(code, lang)} {detail}: {message}"
            )
    return shown


def _reason(code: str, lang: Lang) -> str:
    key = f"reason.{code}"
    return t(key, lang) if key in translations() else code


def _fix(code: str, lang: Lang) -> str:
    key = f"fix.{code}"
    return t(key, lang) if key in translations() else t("fix.other", lang)


def map_bounds(ward: gpd.GeoDataFrame, points: gpd.GeoDataFrame) -> tuple[float, ...]:
    """The ward's extent, grown to take in every point (an outside point must be seen)."""
    boxes = [np.asarray(ward.total_bounds)] if len(ward) else []
    valid = points.geometry[points.geometry.notna() & ~points.geometry.is_empty]
    if len(valid):
        boxes.append(np.asarray(valid.total_bounds))
    if not boxes:
        return (102.1, 8.2, 109.5, 23.4)  # Việt Nam
    stack = np.vstack(boxes)
    left, bottom = stack[:, 0].min(), stack[:, 1].min()
    right, top = stack[:, 2].max(), stack[:, 3].max()
    pad = 0.0005  # ~50 m, so a single point still gets a box
    return (left - pad, bottom - pad, right + pad, top + pad)


def ward_base_map(
    ward: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    filters: Filters,
    *,
    bounds: Sequence[float] | None = None,
) -> folium.Map:
    """The basemap every page draws on: the ward's streets, credited to OSM unless synthetic."""
    from layers.basemap import base_map, street_layer  # folium: not for the sign-in page

    lg = filters.lang
    fmap = base_map(
        ward.total_bounds if bounds is None else bounds,
        online_tiles=filters.online_tiles,
        lang=lg,
    )
    synthetic = bool(ward["synthetic"].fillna(False).any()) if len(ward) else False
    street_layer(
        streets,
        name=t("map.layer.streets", lg),
        attribution=None if synthetic else t("map.attribution.osm", lg),
        lang=lg,
    ).add_to(fmap)
    return fmap


def ranked_table(table: pd.DataFrame, *, numeric: Sequence[str] = ()) -> None:
    """Draw a short ranking (a few rows, cells already formatted) as a Markdown table, the
    ``numeric`` columns aligned right.

    ``st.dataframe`` would have the browser load its grid and Arrow code (~1.3 MB of
    JavaScript) while the map above it paints (~0.3 s later on two busy cores); five ranked
    rows need neither sorting nor scrolling. Cells are escaped: a name shows as written.
    """
    columns = [str(c) for c in table.columns]
    lines = [
        "| " + " | ".join(_md_cell(c) for c in columns) + " |",
        "| " + " | ".join("---:" if c in numeric else "---" for c in columns) + " |",
        *("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in table.itertuples(False)),
    ]
    st.markdown("\n".join(lines))


#: ASCII punctuation that Markdown (or Streamlit's extensions: :emoji:, $math$) may read.
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])")


def _md_cell(value: object) -> str:
    text = "" if pd.isna(value) else str(value)  # type: ignore[call-overload]
    return _MARKDOWN.sub(r"\\\1", " ".join(text.split()))


def group_names(groups: pd.DataFrame) -> dict[str, str]:
    """Group id → the name people use ("Tổ dân phố số 19"), the id where a name is missing."""
    labels = groups["name"].fillna(groups["group_id"]).astype(str)
    return dict(zip(groups["group_id"].astype(str), labels, strict=True))


def enforcement_metrics(
    columns: Sequence[Any], summary: EnforcementSummary, lang: Lang, *, prefix: str, decimals: int
) -> None:
    """Records, cases fined, fines (millions of đồng, exact amount on hover) and items
    removed of ``summary`` in the first four ``columns``; labels are ``{prefix}.records`` …"""
    columns[0].metric(t(f"{prefix}.records", lang), number(summary.records, lang))
    columns[1].metric(t(f"{prefix}.fined", lang), number(summary.fined, lang))
    columns[2].metric(
        t(f"{prefix}.fines", lang),
        number(summary.total_fines_vnd / 1e6, lang, decimals=decimals),
        help=f"{number(summary.total_fines_vnd, lang)} đ",
    )
    columns[3].metric(t(f"{prefix}.removed", lang), number(summary.items_removed, lang))
