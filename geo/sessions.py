"""Sign-ins that survive a page reload: server-side sessions behind a random token.

Signing in gives the browser a token (256 random bits, :func:`secrets.token_urlsafe`) that it
keeps in a cookie; the store keeps only the token's SHA-256 (table ``sessions``), so a copy of
the store or of a backup signs nobody in. A new page of the app presents the token and
:func:`resume_session` gives back the user, read again from the accounts each time: a changed
role or ward applies at once, and a disabled account is signed out everywhere.

A session lasts a shift (:data:`SHIFT`, 12 hours) or, when the user asks to be remembered on
the device, :data:`REMEMBERED` (14 days); the store enforces the expiry, whatever the cookie
says. Signing out revokes the session; a new password or disabling the account revokes every
session of the account (:func:`end_user_sessions`, called by :mod:`geo.auth`), so a stolen
cookie dies with the password. Sessions ended more than :data:`KEEP_ENDED` ago are deleted
when someone signs in.

The app sets the cookie from JavaScript (Streamlit gives a page no way to send ``Set-Cookie``),
so it cannot be ``HttpOnly``: a script running in the app's origin could read it. That is
acceptable only as long as the app runs no script it did not write: Streamlit escapes the
text it shows and no page passes text through ``unsafe_allow_html``; map popups and labels
escape names, and so must map tooltips (their iframes share the app's origin). The cookie
is ``SameSite=Strict`` (no other site's link or form sends it) and ``Secure`` under https.

Session writes are audited like any other, but leave the data version (the cache key of the
pages' loaders) alone: see :data:`geo.model.UNVERSIONED_TABLES`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets

import pandas as pd

from geo.auth import Principal, _principal, _user_row
from geo.config import TIMEZONE_NAME
from geo.errors import InputError, StoreError
from geo.store import Store

__all__ = [
    "KEEP_ENDED",
    "REMEMBERED",
    "SEEN_EVERY",
    "SHIFT",
    "end_session",
    "end_user_sessions",
    "resume_session",
    "start_session",
    "token_hash",
]

log = logging.getLogger(__name__)

#: How long a sign-in lasts: a shift.
SHIFT = pd.Timedelta(hours=12)
#: How long a sign-in lasts on a device the user asked to be remembered on.
REMEMBERED = pd.Timedelta(days=14)
#: How long an expired or revoked session is kept (the audit trail of who was signed in).
KEEP_ENDED = pd.Timedelta(days=30)
#: How often a resumed session records that it was seen (each record is an audited write).
SEEN_EVERY = pd.Timedelta(hours=1)

# token_urlsafe(32) gives 43 characters; anything else is refused before a lookup.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,128}")


def token_hash(token: str) -> str:
    """The SHA-256 hex digest of ``token``: what the store keeps of it.

    Examples
    --------
    >>> token_hash("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(
    store: Store,
    principal_or_user_id: Principal | str,
    *,
    remember: bool,
    now: pd.Timestamp | None = None,
) -> str:
    """Start a session of an active account; return its new token (for the browser only).

    The session lasts :data:`REMEMBERED` when ``remember``, else :data:`SHIFT`. Sessions
    ended more than :data:`KEEP_ENDED` ago are deleted on the way.

    Raises
    ------
    InputError
        When the account does not exist or is disabled.
    """
    user_id = (
        principal_or_user_id.user_id
        if isinstance(principal_or_user_id, Principal)
        else principal_or_user_id.strip().lower()
    )
    row = _user_row(store, user_id)
    if row is None or not bool(row["active"]):
        raise InputError(f"no active account {user_id}; a session needs one.")
    at = _now(now)
    token = secrets.token_urlsafe(32)
    session = {
        "session_id": token_hash(token),
        "user_id": row["user_id"],
        "created_at": at,
        "expires_at": at + (REMEMBERED if remember else SHIFT),
        "remember": remember,
    }
    store.write({"sessions": pd.DataFrame([session])}, user=row["user_id"], action="sign in")
    log.info("%s signed in (%s session)", row["user_id"], "remembered" if remember else "shift")
    _prune(store, at, by=row["user_id"])
    return token


def resume_session(
    store: Store, token: str, *, now: pd.Timestamp | None = None
) -> Principal | None:
    """The user of the session of ``token``, or ``None`` when the token is unknown, the
    session expired or was revoked, or the account is disabled or gone.

    Costs one read of the sessions and one of the accounts, no password hashing.
    """
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    at = _now(now)
    digest = token_hash(token)
    sessions = store.read("sessions")
    match = sessions[sessions["session_id"] == digest]
    if match.empty:
        log.info("resume refused: unknown session")
        return None
    session = match.iloc[0]
    # the lookup compared the digests already; this keeps the comparison constant-time
    if not hmac.compare_digest(str(session["session_id"]), digest):
        return None
    user_id = str(session["user_id"])
    if pd.notna(session["revoked_at"]) or not session["expires_at"] > at:
        log.info("resume refused for %s: session ended", user_id)
        return None
    row = _user_row(store, user_id)
    if row is None or not bool(row["active"]):
        log.info("resume refused for %s: no active account", user_id)
        return None
    seen = session["last_seen_at"]
    if pd.isna(seen) or at - seen >= SEEN_EVERY:
        try:
            store.update(
                "sessions", {digest: {"last_seen_at": at}}, user=user_id, action="resume session"
            )
        except StoreError as exc:  # revoked or pruned meanwhile: the next page will tell
            log.info("could not record that %s's session was seen: %s", user_id, exc)
    log.info("%s resumed a session", user_id)
    return _principal(row)


def end_session(store: Store, token: str, *, now: pd.Timestamp | None = None) -> bool:
    """Revoke the session of ``token`` (signing out); whether there was one to revoke."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return False
    digest = token_hash(token)
    sessions = store.read("sessions")
    match = sessions[(sessions["session_id"] == digest) & sessions["revoked_at"].isna()]
    if match.empty:
        return False
    user_id = str(match["user_id"].iloc[0])
    store.update("sessions", {digest: {"revoked_at": _now(now)}}, user=user_id, action="sign out")
    log.info("%s signed out", user_id)
    return True


def end_user_sessions(
    store: Store, user_id: str, *, by: str | None = None, now: pd.Timestamp | None = None
) -> int:
    """Revoke every live session of ``user_id`` (sign out everywhere); how many there were.

    ``by`` is who the audit log names (default: the user).
    """
    at = _now(now)
    name = user_id.strip().lower()
    sessions = store.read("sessions")
    mine = sessions[sessions["user_id"] == name]
    live = mine[mine["revoked_at"].isna() & (mine["expires_at"] > at)]
    if live.empty:
        return 0
    store.update(
        "sessions",
        {str(s): {"revoked_at": at} for s in live["session_id"]},
        user=by or name,
        action="sign out everywhere",
    )
    log.info("%d session(s) of %s revoked", len(live), name)
    return len(live)


def _prune(store: Store, at: pd.Timestamp, *, by: str) -> None:
    sessions = store.read("sessions")
    cutoff = at - KEEP_ENDED
    ended = sessions[(sessions["expires_at"] < cutoff) | (sessions["revoked_at"] < cutoff)]
    if ended.empty:
        return
    try:
        store.write(
            {},
            user=by,
            action="prune sessions",
            delete={"sessions": [{"session_id": str(s)} for s in ended["session_id"]]},
        )
    except StoreError as exc:  # another sign-in pruned them meanwhile
        log.info("sessions not pruned: %s", exc)
        return
    log.info("%d ended session(s) deleted", len(ended))


def _now(now: pd.Timestamp | None) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp.now(tz=TIMEZONE_NAME)
    return now.tz_localize(TIMEZONE_NAME) if now.tzinfo is None else now
