"""A store seen through a signed-in user's role and wards: the server-side permission check.

:class:`ScopedStore` implements :class:`geo.store.Store` over another store. Every read keeps to
the user's wards (a query for another ward is refused; a query without a ward is narrowed to
the user's wards), and every change is checked against the role, table by table and, for
updates, column by column, and against the wards of the rows it touches. The audit log records
the signed-in user, whatever name the caller passes. Pages and the command line hand this
object to the domain functions, so a check cannot be skipped by a page that forgot one.

Password hashes never leave through it: the ``users`` table is read by administrators only,
with the hash column emptied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import pandas as pd

from geo import _aggregate
from geo.auth import Capability, Principal
from geo.errors import AccessDeniedError
from geo.model import KEYS, SCHEMAS, empty_frame
from geo.store import BoundaryLevel, Query, Store

__all__ = ["WRITE_CAPABILITY", "ScopedStore"]

#: What a change of each table needs.
WRITE_CAPABILITY: dict[str, Capability] = {
    "violations": "upload",
    "cleanups": "upload",
    "patrol_points": "upload",
    "citizen_reports": "upload",
    "uploads": "upload",
    "quarantine": "upload",
    "duplicates": "upload",
    "campaigns": "campaigns",
    "commitments": "accountability",
    "model_streets": "accountability",
    "places": "boundaries",
    "wards": "boundaries",
    "zones": "boundaries",
    "groups": "boundaries",
    "streets": "boundaries",
    "users": "users",
    # an administrator's new password or disabled account ends the account's sessions
    "sessions": "users",
}

#: Updates of these columns need another capability than the table's uploads do.
_UPDATE_CAPABILITY: dict[tuple[str, str], Capability] = {
    # a campaign links (and releases) the violations of its period and targets
    ("violations", "campaign_id"): "campaigns",
}

#: Tables without a ward column, seen through the uploads they belong to.
_BY_UPLOAD = ("quarantine", "duplicates")


class ScopedStore:
    """``store`` as ``principal`` may see and change it."""

    def __init__(self, store: Store, principal: Principal) -> None:
        self.store = store
        self.principal = principal
        self.location = store.location

    # -- reads ------------------------------------------------------------------------------

    def read(self, table: str, query: Query | None = None) -> pd.DataFrame:
        """Rows of ``table`` in the user's wards (see the module docstring)."""
        q = query or Query()
        p = self.principal
        if table == "audit_log":
            p.require("audit", what="read the audit log")
            return self.store.read(table, q)
        if table == "sessions":
            p.require("users", what="read the sessions")
            return self.store.read(table, q)
        if table == "users":
            p.require("users", what="read the accounts")
            users = self.store.read(table, q)
            return users.assign(password_hash=pd.Series(pd.NA, index=users.index, dtype="string"))
        if table in _BY_UPLOAD:
            rows = self.store.read(table, q)
            if p.wards is None:
                return rows
            visible = set(self.read("uploads")["upload_id"])
            return rows[rows["upload_id"].isin(visible)].reset_index(drop=True)
        if "ward_id" not in SCHEMAS[table] or p.wards is None:
            return self.store.read(table, q)
        if q.ward_id is not None:
            p.require_ward(q.ward_id)
            return self.store.read(table, q)
        parts = [self.store.read(table, replace(q, ward_id=w)) for w in p.wards]
        parts = [f for f in parts if len(f)]
        if not parts:
            return empty_frame(table)
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def count(self, table: str, query: Query | None = None) -> int:
        """Number of rows of ``table`` the user may see that match ``query``."""
        q = query or Query()
        scoped = "ward_id" in SCHEMAS.get(table, {}) and table != "users"
        if self.principal.wards is None and table not in ("audit_log", "users"):
            return self.store.count(table, q)
        if scoped and q.ward_id is not None:
            self.principal.require_ward(q.ward_id)
            return self.store.count(table, q)
        if scoped:
            return sum(
                self.store.count(table, replace(q, ward_id=w)) for w in self.principal.wards or ()
            )
        return len(self.read(table, q))

    def aggregate(
        self, table: str, query: Query | None = None, *, by: Sequence[str] = ()
    ) -> pd.DataFrame:
        """Counts and sums per ``by`` (see :meth:`geo.store.Store.aggregate`) of the rows
        the user may see: a query without a ward covers the user's wards, one by one."""
        q = query or Query()
        keys = _aggregate.check_by(table, by)
        if table in ("audit_log", "users", *_BY_UPLOAD):
            raise AccessDeniedError(f"{table} is not aggregated; read it instead.")
        if self.principal.wards is None:
            return self.store.aggregate(table, q, by=keys)
        if "ward_id" not in SCHEMAS[table]:
            raise AccessDeniedError(
                f"{table} has no ward column: only users of every ward aggregate it."
            )
        if q.ward_id is not None:
            self.principal.require_ward(q.ward_id)
            return self.store.aggregate(table, q, by=keys)
        # Wards are disjoint: the user's aggregate is the sum of one per ward.
        parts = [
            self.store.aggregate(table, replace(q, ward_id=w), by=keys)
            for w in self.principal.wards
        ]
        return _aggregate.combine(table, keys, parts) if parts else _aggregate.empty(table, keys)

    def time_span(
        self, table: str, query: Query | None = None
    ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """Earliest and latest time of the rows the user may see that match ``query``."""
        q = query or Query()
        if table in ("audit_log", "users", *_BY_UPLOAD):
            raise AccessDeniedError(f"{table} has no time span here; read it instead.")
        if "ward_id" not in SCHEMAS[table] or self.principal.wards is None:
            return self.store.time_span(table, q)
        if q.ward_id is not None:
            self.principal.require_ward(q.ward_id)
            return self.store.time_span(table, q)
        spans = [self.store.time_span(table, replace(q, ward_id=w)) for w in self.principal.wards]
        found = [s for s in spans if s is not None]
        if not found:
            return None
        return min(s[0] for s in found), max(s[1] for s in found)

    def data_version(self) -> int:
        """The store's data version (a cache key)."""
        return self.store.data_version()

    def schema_version(self) -> int:
        """The store's schema version."""
        return self.store.schema_version()

    def ward_ids(self) -> list[str]:
        """The wards with current boundaries that the user belongs to."""
        return [w for w in self.store.ward_ids() if self.principal.sees(w)]

    def existing_keys(self, table: str, keys: Iterable[str]) -> set[str]:
        """Which ``keys`` exist (needed by uploads to find repeats in every ward)."""
        return self.store.existing_keys(table, keys)

    def offender_salt(self, *, stored: bool = False) -> bytes:
        """The offender-key salt: for those who record offenders (uploads, commitments)."""
        if not (self.principal.can("upload") or self.principal.can("accountability")):
            raise AccessDeniedError(f"{self.principal.user_id} does not record offenders.")
        return self.store.offender_salt(stored=stored)

    # -- changes ----------------------------------------------------------------------------

    def write(
        self,
        tables: Mapping[str, pd.DataFrame],
        *,
        user: str,
        action: str,
        delete: Mapping[str, Sequence[Mapping[str, object]]] | None = None,
    ) -> None:
        """Append and delete rows as the signed-in user, if the role and wards allow it."""
        for table, frame in tables.items():
            self._require_table(table)
            if "ward_id" in frame.columns and table != "users":
                for ward in frame["ward_id"].dropna().unique():
                    self.principal.require_ward(str(ward))
        for table, rows in (delete or {}).items():
            self._require_table(table)
            self._require_visible_rows(table, rows)
        self.store.write(tables, user=self.principal.user_id, action=action, delete=delete)

    def update(
        self,
        table: str,
        changes: Mapping[str, Mapping[str, object]],
        *,
        user: str,
        action: str,
    ) -> None:
        """Change rows by key, if the role allows each column and the rows are in the wards."""
        columns = {c for values in changes.values() for c in values}
        for column in columns:
            need = _UPDATE_CAPABILITY.get((table, column), _edit_capability(table))
            self.principal.require(need, what=f"change {table}.{column}")
        if "ward_id" in SCHEMAS.get(table, {}) and self.principal.wards is not None:
            key = KEYS[table]
            visible = set(self.read(table)[key])
            hidden = [k for k in changes if k not in visible]
            if hidden:
                raise AccessDeniedError(
                    f"{self.principal.user_id} may not change {table} rows outside their wards "
                    f"({', '.join(map(str, hidden[:5]))})."
                )
            for values in changes.values():
                if "ward_id" in values:
                    self.principal.require_ward(str(values["ward_id"]))
        self.store.update(table, changes, user=self.principal.user_id, action=action)

    def replace_boundaries(
        self, level: BoundaryLevel, frame: pd.DataFrame, *, valid_from: pd.Timestamp, user: str
    ) -> None:
        """Replace boundaries of the user's wards (administrators only)."""
        self.principal.require("boundaries", what="replace boundaries")
        for ward in frame["ward_id"].dropna().unique() if "ward_id" in frame else ():
            self.principal.require_ward(str(ward))
        self.store.replace_boundaries(
            level, frame, valid_from=valid_from, user=self.principal.user_id
        )

    # -- checks -----------------------------------------------------------------------------

    def _require_table(self, table: str) -> None:
        need = WRITE_CAPABILITY.get(table)
        if need is None:
            raise AccessDeniedError(f"nobody writes {table} directly.")
        self.principal.require(need, what=f"change {table}")

    def _require_visible_rows(self, table: str, rows: Sequence[Mapping[str, object]]) -> None:
        if self.principal.wards is None:
            return
        if table in _BY_UPLOAD:
            visible = set(self.read("uploads")["upload_id"])
            for where in rows:
                if where.get("upload_id") not in visible:
                    raise AccessDeniedError(
                        f"{self.principal.user_id} may not delete {table} rows of another "
                        "ward's uploads."
                    )
            return
        if "ward_id" not in SCHEMAS[table]:
            return
        # A row to delete must be one the user sees (matched on the columns given).
        seen = self.read(table)
        for where in rows:
            match = pd.Series(True, index=seen.index)
            for col, value in where.items():
                match &= seen[col].astype(object) == value
            if not match.any():
                raise AccessDeniedError(
                    f"{self.principal.user_id} may not delete {table} rows outside their wards "
                    f"({dict(where)})."
                )


def _edit_capability(table: str) -> Capability:
    # Editing stored records (a status, a correction) is the staff's "edit records".
    if WRITE_CAPABILITY.get(table) == "upload":
        return "edit_records"
    need = WRITE_CAPABILITY.get(table)
    if need is None:
        raise AccessDeniedError(f"nobody changes {table} directly.")
    return need
