"""The store commands: ``backup``, ``restore`` and ``migrate``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, cast

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register ``backup``, ``restore`` and ``migrate`` on the ``urban-order`` sub-parsers."""
    b = sub.add_parser(
        "backup",
        help="copy a store (GeoPackage or PostGIS) into one GeoPackage file",
        description="Copies every table (boundary history, records, uploads, quarantine, "
        "users, audit log) and the offender-key salt, as of one moment, while others may "
        "keep working. Keep the file safe: it holds personal data and the salt.",
    )
    b.add_argument("--db", required=True, help="the store: a .gpkg file or postgresql://… URL")
    b.add_argument("--out", type=Path, required=True, help="the backup GeoPackage to write")
    b.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    b.set_defaults(func=_backup)

    r = sub.add_parser(
        "restore",
        help="create a store (GeoPackage or PostGIS) from a backup",
        description="Creates the store with the backup's salt and every row of the backup. "
        "A store that already holds rows is replaced only with --overwrite.",
    )
    r.add_argument("--from", dest="source", type=Path, required=True, metavar="FILE.gpkg",
                   help="a backup made by `urban-order backup`")  # fmt: skip
    r.add_argument("--db", required=True, help="the store to create: .gpkg or postgresql://…")
    r.add_argument("--overwrite", action="store_true",
                   help="replace a store holding rows (everything in it is lost)")  # fmt: skip
    r.set_defaults(func=_restore)

    m = sub.add_parser(
        "migrate",
        help="bring a store (or a backup) to this program's schema version",
        description="Applies the schema steps between the store's version and this "
        "program's, each in one transaction. Back the store up first.",
    )
    m.add_argument("--db", required=True, help="the store: a .gpkg file or postgresql://… URL")
    m.set_defaults(func=_migrate)


def _backup(args: argparse.Namespace) -> int:
    from geo.backup import backup
    from geo.store import describe

    rows = backup(args.db, args.out, overwrite=args.overwrite)
    print(f"backed up {describe(args.db)} to {args.out}: {sum(rows.values()):,} rows")
    _print_rows(rows)
    return 0


def _restore(args: argparse.Namespace) -> int:
    from geo.backup import restore
    from geo.store import describe

    rows = restore(args.source, args.db, overwrite=args.overwrite)
    print(f"restored {args.source} into {describe(args.db)}: {sum(rows.values()):,} rows")
    _print_rows(rows)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from geo.migrations import Migratable, migrate
    from geo.store import describe, open_store

    store = cast(Migratable, open_store(args.db, any_version=True))
    before = store.schema_version()
    done = migrate(store)
    where = describe(args.db)
    if done:
        print(f"migrated {where} from schema version {before} to {done[-1]} "
              f"(applied {', '.join(map(str, done))})")  # fmt: skip
    else:
        print(f"{where} is already at schema version {before}; nothing to do")
    return 0


def _print_rows(rows: dict[str, int]) -> None:
    for table, n in rows.items():
        if n:
            print(f"  {table:<16} {n:>8,}")
