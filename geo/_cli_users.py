"""The ``user`` commands: accounts of a store from the command line (the server's operator).

Passwords are never command-line arguments (other users of the machine can read those): they
are asked for at the terminal, or read from standard input with ``--password-stdin``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from geo.auth import ROLES, add_user, change_user, list_users, set_password
from geo.errors import InputError
from geo.sessions import end_user_sessions
from geo.store import open_store

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register ``user add|list|passwd|change|sign-out`` on the ``urban-order`` sub-parsers."""
    u = sub.add_parser(
        "user", help="accounts: add, list, set a password, change role or wards, sign out"
    )
    usub = u.add_subparsers(dest="user_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", required=True, help="the store: a .gpkg file or a PostGIS URL")

    a = usub.add_parser("add", help="create an account")
    common(a)
    a.add_argument("name", help="account name: 3–32 lower-case letters, digits, . _ -")
    a.add_argument("--role", choices=ROLES, required=True)
    a.add_argument("--ward", action="append", default=None, metavar="WARD_ID",
                   help="a ward of the account (repeat); --all-wards for every ward")  # fmt: skip
    a.add_argument("--all-wards", action="store_true")
    a.add_argument("--email", default=None, help="for sign-in through the identity provider")
    a.add_argument("--display-name", default=None)
    a.add_argument("--no-password", action="store_true",
                   help="identity-provider sign-in only (needs --email)")  # fmt: skip
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    a.set_defaults(func=_add)

    ls = usub.add_parser("list", help="the accounts (never their password hashes)")
    common(ls)
    ls.set_defaults(func=_list)

    pw = usub.add_parser("passwd", help="give an account a new password")
    common(pw)
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true")
    pw.set_defaults(func=_passwd)

    ch = usub.add_parser("change", help="change an account's role, wards or e-mail; disable it")
    common(ch)
    ch.add_argument("name")
    ch.add_argument("--role", choices=ROLES, default=None)
    ch.add_argument("--ward", action="append", default=None, metavar="WARD_ID")
    ch.add_argument("--all-wards", action="store_true")
    ch.add_argument("--email", default=None)
    state = ch.add_mutually_exclusive_group()
    state.add_argument("--disable", action="store_true")
    state.add_argument("--enable", action="store_true")
    ch.set_defaults(func=_change)

    so = usub.add_parser("sign-out", help="end every session of an account (all its devices)")
    common(so)
    so.add_argument("name")
    so.set_defaults(func=_sign_out)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise InputError("the two passwords differ; nothing was changed.")
    return first


def _wards(args: argparse.Namespace) -> list[str] | None:
    if args.all_wards and args.ward:
        raise InputError("give --ward or --all-wards, not both.")
    if not args.all_wards and not args.ward:
        raise InputError("give the account's wards: --ward WARD_ID (repeat) or --all-wards.")
    return None if args.all_wards else list(args.ward)


def _add(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    password = None if args.no_password else _password(args)
    who = add_user(
        store, args.name, role=args.role, wards=_wards(args), by="command line",
        password=password, email=args.email, display_name=args.display_name,
    )  # fmt: skip
    wards = "every ward" if who.wards is None else ", ".join(who.wards)
    print(f"account {who.user_id} ({who.role}) added; wards: {wards}")
    return 0


def _list(args: argparse.Namespace) -> int:
    users = list_users(open_store(args.db))
    if users.empty:
        print("no accounts yet (the app asks its first visitor to create the administrator).")
        return 0
    shown = users[["user_id", "display_name", "role", "wards", "email", "active", "has_password"]]
    print(shown.to_string(index=False))
    return 0


def _passwd(args: argparse.Namespace) -> int:
    set_password(open_store(args.db), args.name, _password(args), by="command line")
    print(f"password of {args.name} changed")
    return 0


def _change(args: argparse.Namespace) -> int:
    wards: list[str] | str | None = "keep"
    if args.ward or args.all_wards:
        wards = _wards(args)
    active = False if args.disable else True if args.enable else None
    change_user(open_store(args.db), args.name, by="command line", role=args.role,
                wards=wards, active=active, email=args.email)  # fmt: skip
    print(f"account {args.name} changed")
    return 0


def _sign_out(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    if not [u for u in list_users(store)["user_id"] if u == args.name.strip().lower()]:
        raise InputError(f"no account {args.name}; `urban-order user list` shows the accounts.")
    ended = end_user_sessions(store, args.name, by="command line")
    print(f"{ended} session(s) of {args.name} ended; it signs in again with its password")
    return 0
