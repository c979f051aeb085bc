"""Row-level problems of an uploaded file: what is wrong, where, and how to fix it.

Readers and value parsers report problems instead of raising on the first bad row, so that an
upload can account for every row: accepted, duplicate, or quarantined with all its reasons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = [
    "ProblemBatch",
    "Problems",
    "RowProblem",
    "Severity",
    "problems_frame",
    "rejected_reasons",
    "split_reason",
]

#: ``reject``: the row cannot be accepted (it goes to quarantine); ``flag``: it is accepted,
#: with a warning kept for review (e.g. a fine outside the schedule).
Severity = Literal["reject", "flag"]


@dataclass(frozen=True)
class RowProblem:
    """One problem of one row of an input file.

    ``row`` is the row number as the user sees it in the file (a spreadsheet's row number, with
    the header as row 1; the feature or waypoint number, from 1, in GeoJSON, KML and GPX).
    ``column`` is the file's own column name (or ``None`` when the whole row is concerned).
    ``reason`` is a short stable code (``bad_time``, ``future_time``, ``zero_coordinates``...),
    counted in upload summaries; ``message`` is a plain sentence that says what to do.
    """

    row: int
    column: str | None
    reason: str
    message: str
    severity: Severity = "reject"


@dataclass(frozen=True)
class ProblemBatch:
    """The same problem of many rows, as columns: what a check of a whole column finds.

    Half a million flagged fines are half a million :class:`RowProblem` objects (~2 s); a
    batch is arrays: the rows, and for each the index of its message among the few distinct
    ``texts``. Iterating over it gives the :class:`RowProblem` of each row.
    """

    rows: np.ndarray  # int64, the rows as the user sees them
    column: str | None
    reason: str
    texts: np.ndarray  # the distinct messages (str)
    which: np.ndarray  # int, per row: its message's index in ``texts``
    severity: Severity = "reject"

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def messages(self) -> np.ndarray:
        """The message of each row."""
        return np.asarray(self.texts, dtype=object)[self.which]

    def __iter__(self) -> Iterator[RowProblem]:
        for row, message in zip(self.rows.tolist(), self.messages.tolist(), strict=True):
            yield RowProblem(row, self.column, self.reason, message, self.severity)


#: Problems as the parsers collect them: one by one, or a column's at once.
Problems = list[RowProblem | ProblemBatch]


def rejected_reasons(problems: Iterable[RowProblem | ProblemBatch]) -> dict[int, list[str]]:
    """The rows that some problem rejects (they go to quarantine), in row order, each with its
    reasons ("column [reason]: message", see :func:`split_reason`) in the order the problems
    came."""
    reasons: dict[int, list[str]] = {}
    for p in problems:
        if p.severity != "reject":
            continue
        for one in p if isinstance(p, ProblemBatch) else (p,):
            text = f"{one.column or '—'} [{one.reason}]: {one.message}"
            reasons.setdefault(one.row, []).append(text)
    return dict(sorted(reasons.items()))


_CODED = re.compile(r"^(?P<column>.*?) \[(?P<reason>[a-z0-9_]+)\]: (?P<message>.*)$", re.DOTALL)


def split_reason(text: str) -> tuple[str | None, str | None, str]:
    """(column, reason code, message) of one quarantine reason as :func:`rejected_reasons`
    writes it; a reason kept before the code was written has none: (None, None, text).

    Examples
    --------
    >>> split_reason("Vĩ độ [zero_coordinates]: The position is 0, 0.")
    ('Vĩ độ', 'zero_coordinates', 'The position is 0, 0.')
    >>> split_reason("Vĩ độ: The position is 0, 0.")
    (None, None, 'Vĩ độ: The position is 0, 0.')
    """
    found = _CODED.match(text)
    if found is None:
        return None, None, text
    return found["column"], found["reason"], found["message"]


#: pandas' own text dtype (what it infers for a column of text), object when there is none.
_TEXT = pd.Series(["x"]).dtype


def problems_frame(problems: Iterable[RowProblem | ProblemBatch]) -> pd.DataFrame:
    """The problems as a table (row, column, reason, message, severity), sorted by row."""
    items = list(problems)
    listed = [p for p in items if isinstance(p, RowProblem)]
    batches = [p for p in items if isinstance(p, ProblemBatch)]
    # column by column, each text column as indices into its distinct texts (a single
    # problem's own, then each batch's): a frame of a few hundred thousand rows built from
    # row tuples or Python strings costs ~1 s more
    rows = np.concatenate(
        [np.array([p.row for p in listed], dtype=np.int64), *(b.rows for b in batches)]
    )
    column = np.concatenate(
        [
            np.array([p.column for p in listed], dtype=object),
            *(np.full(len(b), b.column, dtype=object) for b in batches),
        ]
    )
    # a single problem's texts are its own; a batch's one reason and severity, a few messages
    per_source = np.concatenate(
        [np.arange(len(listed)), *(np.full(len(b), len(listed) + k) for k, b in enumerate(batches))]
    )
    messages = [p.message for p in listed]
    which = [np.arange(len(listed))]
    for b in batches:
        which.append(b.which + len(messages))
        messages += [str(t) for t in b.texts]
    sources: list[RowProblem | ProblemBatch] = [*listed, *batches]
    frame = pd.DataFrame(
        {
            "row": pd.array(rows, dtype="int64"),
            "column": pd.Series(column, dtype=object),
            "reason": _texts([p.reason for p in sources], per_source),
            "message": _texts(messages, np.concatenate(which)),
            "severity": _texts([p.severity for p in sources], per_source),
        }
    )
    # sorted by row, then column (none first), stably: numpy's lexsort on the column's
    # sorted codes, as pandas' sort of an object column is ~10x slower
    codes, _ = pd.factorize(frame["column"], sort=True, use_na_sentinel=True)
    order = np.lexsort((codes, rows))
    return frame.take(order).reset_index(drop=True)


def _texts(distinct: list[str], which: np.ndarray) -> pd.Series:
    """``pd.Series(distinct[i] for i in which, dtype=_TEXT)``, taken by Arrow."""
    taken = pa.array(distinct, type=pa.large_string()).take(pa.array(which, type=pa.int64()))
    return pd.Series(pd.array(taken, dtype=_TEXT))
