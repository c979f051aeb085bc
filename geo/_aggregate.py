"""What :meth:`geo.store.Store.aggregate` returns, shared by the stores and the scoped store.

An aggregate counts the rows of a table matching a query, grouped by some of its text
columns, and adds what the map and the reports show of them: cases fined and the sums of
fines and of items removed, where the table has those columns. A case is fined as
:mod:`geo.enforcement` counts it: its status is ``"fined"`` or its fine is above zero (a
fine recorded with a removal; a fine whose amount was not written down). Each store computes the
measures (:func:`measures`) in SQL; this module checks the grouping columns and gives every
backend's result the same columns, types and row order.

Every measure costs: in a GeoPackage each adds ~0.1-0.2 s per million rows (the first and
last time of each group were left out for that reason: 0.45 s more on the city's records).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from geo.errors import StoreError
from geo.model import SCHEMAS

MeasureKind = Literal["count", "fined", "sum"]

#: Columns of the covering index each store keeps for aggregates of a table: the grouping
#: columns first, then what the measures and the usual filters read, so that an aggregate of
#: a million records reads the index alone (~0.5 s in a GeoPackage instead of 2-7 s).
ROLLUP_INDEX: dict[str, tuple[str, ...]] = {
    "violations": (
        "ward_id", "group_id", "category", "observed_at", "fine_vnd", "items_removed", "status",
    ),
}  # fmt: skip

#: The status of a fined case (:data:`geo.model.VIOLATION_STATUSES`).
FINED_STATUS = "fined"

#: Integer measures a store sums where the table has the column.
_SUMMED = ("fine_vnd", "items_removed")
#: Column types a table can be grouped by (text and flags; not times, numbers or geometry).
_GROUPABLE = ("string", "boolean")


@dataclass(frozen=True)
class Measure:
    """One column of an aggregate: ``kind`` of ``column``.

    ``count`` counts rows; ``sum`` sums ``column``; ``fined`` counts the rows whose
    ``status`` is :data:`FINED_STATUS` or whose ``column`` (the fine) is above zero.
    """

    name: str
    kind: MeasureKind
    column: str = ""


def measures(table: str) -> list[Measure]:
    """The measures of an aggregate of ``table``, in the order of its columns.

    Examples
    --------
    >>> [m.name for m in measures("violations")]
    ['count', 'fined', 'fine_vnd', 'items_removed']
    >>> [m.name for m in measures("places")]
    ['count']
    """
    schema = SCHEMAS[table]
    out = [Measure("count", "count")]
    if "fine_vnd" in schema and "status" in schema:
        out.append(Measure("fined", "fined", "fine_vnd"))
    out += [Measure(c, "sum", c) for c in _SUMMED if c in schema]
    return out


def check_by(table: str, by: Sequence[str]) -> tuple[str, ...]:
    """``by`` as a tuple, after checking that ``table`` can be grouped by each column."""
    if table not in SCHEMAS:
        raise StoreError(f"unknown table {table!r}; the tables are {', '.join(SCHEMAS)}.")
    if isinstance(by, str):
        raise StoreError(f"by must be a tuple of column names, e.g. ({by!r},), not a string.")
    schema = SCHEMAS[table]
    bad = [c for c in by if schema.get(c) not in _GROUPABLE]
    if bad:
        groupable = [c for c, d in schema.items() if d in _GROUPABLE]
        raise StoreError(
            f"{table} cannot be grouped by {', '.join(map(repr, bad))}; group it by text "
            f"columns: {', '.join(groupable)}."
        )
    if len(set(by)) != len(by):
        raise StoreError(f"by names a column twice: {', '.join(by)}.")
    return tuple(by)


def finish(table: str, by: tuple[str, ...], raw: pd.DataFrame) -> pd.DataFrame:
    """A store's aggregate rows as the documented frame.

    ``raw`` holds the ``by`` columns then the measures; rows come out sorted by ``by`` with
    missing values last (backends sort NULL differently).
    """
    names = [m.name for m in measures(table)]
    out = pd.DataFrame(index=raw.index)
    for col in by:
        dtype = SCHEMAS[table][col]
        values = raw[col]
        out[col] = values.astype("boolean") if dtype == "boolean" else values.astype("string")
    for name in names:
        out[name] = pd.to_numeric(raw[name]).fillna(0).astype("int64")
    out = out[[*by, *names]]
    if by and len(out):
        out = out.sort_values(list(by), na_position="last", kind="stable")
    return out.reset_index(drop=True)


def empty(table: str, by: tuple[str, ...]) -> pd.DataFrame:
    """The aggregate of no rows: no row at all, or one row of zeros when ``by`` is empty."""
    names = [*by, *(m.name for m in measures(table))]
    raw = pd.DataFrame([dict.fromkeys(names)] if not by else [], columns=names)
    return finish(table, by, raw)


def combine(table: str, by: tuple[str, ...], parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One aggregate of disjoint parts (e.g. one per ward), as if computed at once."""
    if not parts:
        raise ValueError("combine needs at least one part")
    if len(parts) == 1:
        return parts[0]
    whole = pd.concat(parts, ignore_index=True)
    how = dict.fromkeys((m.name for m in measures(table)), "sum")
    if by:
        merged = whole.groupby(list(by), dropna=False, sort=False).agg(how).reset_index()
    else:
        merged = whole.agg(how).to_frame().T
    return finish(table, by, merged)
