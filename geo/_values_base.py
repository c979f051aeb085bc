"""What the cell parsers of :mod:`geo.values` share: problems per row, and cells as pyarrow text.

A parser reads a whole column at once: :func:`_text` turns the cells into one pyarrow string
array (NFC, spaces unified and trimmed, empty as null) that :func:`_matches` and
:func:`_replace` test and rewrite with pyarrow's compiled regular expressions, and
:func:`problems_where` words one problem per refused cell.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.problems import RowProblem, Severity

__all__ = ["problems_where"]


def problems_where(
    mask: np.ndarray | pd.Series,
    values: pd.Series,
    *,
    column: str | None,
    reason: str,
    message: Callable[[Any], str],
    severity: Severity = "reject",
) -> list[RowProblem]:
    """One problem per row where ``mask`` holds, its message made once per distinct value.

    Parameters
    ----------
    mask
        Which rows have the problem (aligned with ``values`` by position).
    values
        The column; its index gives the row numbers and its cells are passed to ``message``.
    column, reason, severity
        As in :class:`~geo.problems.RowProblem`.
    message
        Makes the message from a cell's value.

    Examples
    --------
    >>> s = pd.Series(["a", "", "a"], index=[2, 3, 4])
    >>> [(p.row, p.message) for p in problems_where(
    ...     s == "a", s, column="x", reason="r", message=lambda v: f"{v!r} is bad")]
    [(2, "'a' is bad"), (4, "'a' is bad")]
    """
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    if not len(positions):
        return []
    cells = values.iloc[positions].to_numpy(dtype=object)
    missing = pd.isna(cells)
    rows = values.index.to_numpy()[positions]
    made: dict[Hashable, str] = {}
    out = []
    for row, cell, gone in zip(rows, cells, missing, strict=True):
        key: Hashable = None if gone or not isinstance(cell, Hashable) else cell
        if key not in made:
            made[key] = message(None if gone else cell)
        out.append(RowProblem(int(row), column, reason, made[key], severity))
    return out


def _text(values: pd.Series, *, lower: bool = False) -> pa.Array:
    """The cells as a pyarrow string array: NFC, spaces unified and trimmed, "" as null."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        strings = values
    else:
        strings = values.astype(pd.StringDtype("pyarrow"))
    arr = pa.array(strings.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    wide = ~np.asarray(
        pc.fill_null(pc.string_is_ascii(arr), True).to_numpy(zero_copy_only=False), dtype=bool
    )
    if wide.any():  # only non-ASCII cells can hold decomposed letters or odd spaces
        sub = arr.filter(pa.array(wide))
        if pc.any(pc.match_substring_regex(sub, r"[\x{0300}-\x{036f}]")).as_py():
            sub = pc.utf8_normalize(sub, "NFC")  # "Vĩ độ" typed on a Mac
        sub = _replace(sub, r"[\x{00a0}\x{2007}\x{2009}\x{202f}]", " ")
        arr = pc.replace_with_mask(arr, pa.array(wide), sub)
    arr = pc.utf8_trim_whitespace(arr)
    if lower:
        arr = pc.utf8_lower(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def _replace(arr: pa.Array, pattern: str, repl: str) -> pa.Array:
    if not pc.any(pc.match_substring_regex(arr, pattern)).as_py():
        return arr
    return pc.replace_substring_regex(arr, pattern, repl)


def _matches(arr: pa.Array, pattern: str) -> np.ndarray:
    hits = pc.fill_null(pc.match_substring_regex(arr, pattern), False)
    return np.asarray(hits.to_numpy(zero_copy_only=False), dtype=bool)


def _present(arr: pa.Array) -> np.ndarray:
    empty = pc.or_kleene(pc.is_null(arr), pc.equal(pc.utf8_length(arr), 0))
    return ~np.asarray(pc.fill_null(empty, True).to_numpy(zero_copy_only=False), dtype=bool)


def _column_name(values: pd.Series, column: str | None) -> str | None:
    if column is not None:
        return column
    return None if values.name is None else str(values.name)
