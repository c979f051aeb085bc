"""Accounts, roles and sign-in: who may see which wards and do what.

Four roles, each a set of capabilities checked on the server (by :mod:`geo.access`, whatever
the page shows):

========  ===================================================================
viewer    the urban-order team: maps, hotspots, patrol, campaign results, reports
leader    ward leaders: the viewer's pages, plus planning and editing campaigns
staff     ward staff: uploads, record edits, quarantine review
admin     boundaries, accounts and the audit log, and everything above
========  ===================================================================

Leaders and staff may both record household commitments and model streets. A user belongs to
one or more wards (``*`` for every ward) and sees only those.

Local accounts keep an Argon2id hash of their password (salted, memory-hard); an account
signed in through an OIDC identity provider is matched by its e-mail address and needs no
password. Account names are lower-case ``[a-z0-9._-]``, 3–32 characters.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal, get_args

import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo.config import TIMEZONE_NAME
from geo.errors import AccessDeniedError, InputError
from geo.store import Store

__all__ = [
    "CAPABILITIES",
    "ROLES",
    "Capability",
    "Principal",
    "Role",
    "Throttle",
    "add_user",
    "authenticate",
    "change_user",
    "hash_password",
    "list_users",
    "principal_for_email",
    "set_password",
    "verify_password",
]

log = logging.getLogger(__name__)

Role = Literal["viewer", "leader", "staff", "admin"]
Capability = Literal[
    "view", "campaigns", "accountability", "upload", "edit_records", "boundaries", "users", "audit"
]
ROLES: tuple[Role, ...] = get_args(Role)
ALL_WARDS = "*"
MIN_PASSWORD = 10

CAPABILITIES: dict[Role, frozenset[Capability]] = {
    "viewer": frozenset({"view"}),
    "leader": frozenset({"view", "campaigns", "accountability"}),
    "staff": frozenset({"view", "upload", "edit_records", "accountability"}),
    "admin": frozenset(get_args(Capability)),
}

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,31}")


@dataclass(frozen=True)
class Principal:
    """A signed-in user: who, with which role, over which wards (``None``: every ward)."""

    user_id: str
    role: Role
    wards: tuple[str, ...] | None
    display_name: str = ""

    def can(self, capability: Capability) -> bool:
        """Whether the role allows ``capability``.

        Examples
        --------
        >>> Principal("lan", "viewer", ("w1",)).can("upload")
        False
        """
        return capability in CAPABILITIES[self.role]

    def sees(self, ward_id: str | None) -> bool:
        """Whether ``ward_id`` is one of the user's wards."""
        return self.wards is None or (ward_id is not None and ward_id in self.wards)

    def require(self, capability: Capability, *, what: str = "") -> None:
        """Raise :class:`AccessDeniedError` unless the role allows ``capability``."""
        if not self.can(capability):
            doing = what or capability.replace("_", " ")
            raise AccessDeniedError(
                f"{self.user_id} ({self.role}) may not {doing}; ask an administrator for a "
                "role that allows it."
            )

    def require_ward(self, ward_id: str | None) -> None:
        """Raise :class:`AccessDeniedError` unless ``ward_id`` is one of the user's wards."""
        if not self.sees(ward_id):
            raise AccessDeniedError(
                f"{self.user_id} does not belong to ward {ward_id}; ask an administrator to add it."
            )


@cache
def _hasher() -> PasswordHasher:
    # argon2-cffi's defaults follow RFC 9106's second recommendation (Argon2id, 64 MiB).
    return PasswordHasher()


def hash_password(password: str) -> str:
    """A salted Argon2id hash of ``password`` (refused when shorter than 10 characters)."""
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password needs at least {MIN_PASSWORD} characters.")
    return _hasher().hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (a missing or broken hash never matches)."""
    if not stored_hash:
        return False
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher().hash("no such account, same work")


def authenticate(store: Store, user_id: str, password: str) -> Principal | None:
    """The principal of a local account whose password matches, else ``None``.

    An unknown or disabled account costs the same hash work as a wrong password, so timing does
    not tell which account names exist. Hashes made with weaker parameters are upgraded.
    """
    row = _user_row(store, user_id.strip().lower())
    stored = None if row is None else row["password_hash"]
    ok = verify_password(stored if isinstance(stored, str) else _dummy_hash(), password)
    if row is None or not ok or not bool(row["active"]):
        log.info("failed sign-in for %r", user_id)
        return None
    if _hasher().check_needs_rehash(str(stored)):
        store.update(
            "users",
            {row["user_id"]: {"password_hash": _hasher().hash(password)}},
            user=row["user_id"],
            action="rehash password",
        )
    return _principal(row)


def principal_for_email(store: Store, email: str) -> Principal | None:
    """The principal of the active account with ``email`` (sign-in through OIDC), or ``None``."""
    users = store.read("users")
    match = users[users["email"].str.lower() == email.strip().lower()]
    match = match[match["active"].fillna(False).astype(bool)]
    return None if match.empty else _principal(match.iloc[0])


def add_user(
    store: Store,
    user_id: str,
    *,
    role: Role,
    wards: Sequence[str] | None,
    by: str,
    password: str | None = None,
    email: str | None = None,
    display_name: str | None = None,
) -> Principal:
    """Create an account; ``wards=None`` gives every ward. Needs a password or an e-mail.

    Raises
    ------
    InputError
        Every problem at once: the name's form, a taken name, an unknown role or ward, a short
        password, neither password nor e-mail.
    """
    name = user_id.strip().lower()
    problems = _check_account(store, role=role, wards=wards)
    if not _NAME.fullmatch(name):
        problems.append(
            f"account name {user_id!r}: use 3–32 lower-case letters, digits, '.', '_' or '-'."
        )
    elif _user_row(store, name) is not None:
        problems.append(f"account {name} already exists; choose another name.")
    if not password and not email:
        problems.append("give a password (local sign-in) or an e-mail (identity provider).")
    if password and len(password) < MIN_PASSWORD:
        problems.append(f"a password needs at least {MIN_PASSWORD} characters.")
    if problems:
        raise InputError(" ".join(problems))
    row = {
        "user_id": name,
        "display_name": display_name or name,
        "email": email.strip().lower() if email else None,
        "role": role,
        "wards": _wards_text(wards),
        "password_hash": hash_password(password) if password else None,
        "active": True,
        "created_at": pd.Timestamp.now(tz=TIMEZONE_NAME),
    }
    store.write({"users": pd.DataFrame([row])}, user=by, action="add user")
    return _principal(pd.Series(row))


def change_user(
    store: Store,
    user_id: str,
    *,
    by: str,
    role: Role | None = None,
    wards: Sequence[str] | Literal["keep"] | None = "keep",
    active: bool | None = None,
    email: str | None = None,
) -> None:
    """Change an account's role, wards (``None``: every ward), e-mail or whether it is active
    (disabling it ends its sessions)."""
    row = _user_row(store, user_id)
    if row is None:
        raise InputError(f"no account {user_id}.")
    problems = _check_account(
        store, role=role or row["role"], wards=None if wards == "keep" else wards
    )
    if problems:
        raise InputError(" ".join(problems))
    changes: dict[str, object] = {}
    if role is not None:
        changes["role"] = role
    if wards != "keep":
        changes["wards"] = _wards_text(wards)
    if active is not None:
        changes["active"] = active
    if email is not None:
        changes["email"] = email.strip().lower() or None
    if changes:
        store.update("users", {row["user_id"]: changes}, user=by, action="change user")
    if active is False:
        _end_sessions(store, row["user_id"], by=by)


def set_password(store: Store, user_id: str, password: str, *, by: str) -> None:
    """Give an account a new password (its old hash is replaced) and end its sessions."""
    row = _user_row(store, user_id)
    if row is None:
        raise InputError(f"no account {user_id}.")
    store.update(
        "users",
        {row["user_id"]: {"password_hash": hash_password(password)}},
        user=by,
        action="set password",
    )
    _end_sessions(store, row["user_id"], by=by)


def list_users(store: Store) -> pd.DataFrame:
    """Every account, without its password hash (``has_password`` says whether there is one)."""
    users = store.read("users")
    out = users.drop(columns="password_hash")
    out.insert(len(out.columns), "has_password", users["password_hash"].notna().to_numpy())
    return out


def _end_sessions(store: Store, user_id: str, *, by: str) -> None:
    # a new password or a disabled account signs the account out everywhere (a stolen cookie
    # dies with the password); geo.sessions builds on this module, hence the late import
    from geo.sessions import end_user_sessions

    end_user_sessions(store, user_id, by=by)


def _user_row(store: Store, user_id: str) -> pd.Series | None:
    users = store.read("users")
    match = users[users["user_id"] == user_id.strip().lower()]
    return None if match.empty else match.iloc[0]


def _principal(row: pd.Series) -> Principal:
    wards = str(row["wards"] or "")
    role = str(row["role"])
    if role not in ROLES:
        raise AccessDeniedError(f"account {row['user_id']} has an unknown role {role!r}.")
    return Principal(
        user_id=str(row["user_id"]),
        role=role,
        wards=None if wards == ALL_WARDS else tuple(w for w in wards.split(",") if w),
        display_name=str(row["display_name"] or row["user_id"]),
    )


def _wards_text(wards: Sequence[str] | None) -> str:
    return ALL_WARDS if wards is None else ",".join(dict.fromkeys(w.strip() for w in wards))


def _check_account(store: Store, *, role: str, wards: Sequence[str] | None) -> list[str]:
    problems = []
    if role not in ROLES:
        problems.append(f"role {role!r} is not one of {', '.join(ROLES)}.")
    if wards is not None:
        known = set(store.ward_ids())
        unknown = [w for w in wards if w.strip() not in known]
        if unknown:
            problems.append(
                f"unknown ward(s) {', '.join(unknown)}; the wards are {', '.join(sorted(known))}."
            )
        if not [w for w in wards if w.strip()]:
            problems.append("give at least one ward (or every ward).")
    return problems


class Throttle:
    """Slows password guessing: after ``max_failures`` failed sign-ins of an account within
    ``window_s`` seconds, that account is refused for ``lock_s`` seconds (kept in memory, per
    server process; a restart forgets it, which an offline ward office can live with).

    Examples
    --------
    >>> th = Throttle(max_failures=2, window_s=60, lock_s=30)
    >>> th.failed("lan", now=0); th.failed("lan", now=1)
    >>> th.wait_s("lan", now=2), th.wait_s("lan", now=40)
    (29.0, 0.0)
    """

    def __init__(self, *, max_failures: int = 5, window_s: float = 900, lock_s: float = 300):
        self.max_failures, self.window_s, self.lock_s = max_failures, window_s, lock_s
        self._failures: dict[str, list[float]] = {}

    def wait_s(self, account: str, *, now: float) -> float:
        """Seconds before ``account`` may try again (0 when it may now)."""
        recent = [t for t in self._failures.get(account.lower(), []) if now - t < self.window_s]
        if len(recent) < self.max_failures:
            return 0.0
        return max(0.0, float(recent[-1] + self.lock_s - now))

    def failed(self, account: str, *, now: float) -> None:
        """Count a failed sign-in of ``account``."""
        times = self._failures.setdefault(account.lower(), [])
        times[:] = [*[t for t in times if now - t < self.window_s][-self.max_failures :], now]

    def succeeded(self, account: str) -> None:
        """Forget the failures of ``account`` after it signed in."""
        self._failures.pop(account.lower(), None)
