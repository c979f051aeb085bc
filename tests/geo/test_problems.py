"""Row problems: one by one or a column's at once, the table is the same."""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.problems import (
    ProblemBatch,
    RowProblem,
    problems_frame,
    rejected_reasons,
    split_reason,
)


def _batch(severity: str = "flag") -> ProblemBatch:
    return ProblemBatch(
        rows=np.array([9, 2, 5], dtype=np.int64),
        column="Tiền phạt",
        reason="fine_outside_schedule",
        texts=np.array(["a", "b"], dtype=object),
        which=np.array([0, 1, 0]),
        severity=severity,  # type: ignore[arg-type]
    )


def test_a_batch_makes_the_rows_its_problems_would():
    singles = [
        RowProblem(5, None, "no_time", "x"),
        RowProblem(2, "Vĩ độ", "bad_position", "y"),
        RowProblem(5, "Tiền phạt", "bad_fine", "z", "flag"),
    ]
    batch = _batch()
    mixed = problems_frame(iter([*singles, batch]))  # any iterable, read once
    expanded = problems_frame([*singles, *batch])
    pd.testing.assert_frame_equal(mixed, expanded)
    assert mixed["row"].tolist() == [2, 2, 5, 5, 5, 9]
    assert len(batch) == 3 and [p.row for p in batch] == [9, 2, 5]
    assert [p.message for p in batch] == ["a", "b", "a"]
    assert mixed["message"].tolist() == ["b", "y", "x", "z", "a", "a"]
    assert problems_frame([]).empty and list(problems_frame([]).columns) == list(mixed.columns)


def test_rejected_rows_come_from_single_problems_and_batches_alike():
    singles = [RowProblem(4, None, "no_time", "x"), RowProblem(6, None, "bad_fine", "y", "flag")]
    assert set(rejected_reasons([*singles, _batch("flag")])) == {4}
    assert list(rejected_reasons([*singles, _batch("reject")])) == [2, 4, 5, 9]  # by row


def test_quarantine_reasons_keep_their_column_code_and_message_apart():
    odd = RowProblem(3, "Ghi chú: [x]", "bad_time", "'1 [y]: 2' is not a time | check it")
    (text,) = rejected_reasons([odd])[3]
    assert split_reason(text) == ("Ghi chú: [x]", "bad_time", "'1 [y]: 2' is not a time | check it")
    (whole,) = rejected_reasons([RowProblem(4, None, "no_position", "No position.")])[4]
    assert split_reason(whole) == ("—", "no_position", "No position.")
