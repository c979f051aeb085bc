"""Helpers every page shares (views/common.py), through AppTest."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

pytestmark = pytest.mark.slow

#: What Markdown, or Streamlit's extensions of it (:emoji:, :red[…], $math$), may read.
SPECIAL = "\\`*_{}[]()#+-.!|<>~:$&"


def _ranking() -> None:
    import pandas as pd

    from views.common import ranked_table

    names = ["Tổ *1* | [A](x) :red[B] $x$ <b>", "Tổ_2 #3\\", None]
    ranked_table(pd.DataFrame({"Tổ": names, "Vi phạm": ["1.234", "5", "0"]}), numeric=["Vi phạm"])


def test_a_ranked_table_shows_every_name_as_written_and_numbers_on_the_right():
    at = AppTest.from_function(_ranking).run()
    assert not at.exception, at.exception
    (table,) = at.markdown
    _, align, *rows = table.value.splitlines()
    assert align == "| --- | ---: |"
    raw = [re.split(r"(?<!\\)\|", line)[1:-1] for line in rows]
    cells = [[re.sub(r"\\(.)", r"\1", c.strip()) for c in row] for row in raw]
    assert cells == [
        ["Tổ *1* | [A](x) :red[B] $x$ <b>", "1.234"],
        ["Tổ_2 #3\\", "5"],
        ["", "0"],
    ]
    # every character Markdown reads is escaped: none is left once the escapes are taken out
    for row in raw:
        for cell in row:
            assert not set(re.sub(r"\\.", "", cell)) & set(SPECIAL), cell


def test_quarantine_reasons_read_in_the_pages_language():
    from views.common import quarantine_reasons

    kept = "Vĩ độ [zero_coordinates]: The position is 0, 0. | Thời gian [xyz_unknown]: odd."
    vi = quarantine_reasons(kept, "vi")
    assert vi[0] == (
        "Vĩ độ — Tọa độ (0, 0): chưa bắt được GPS. Lấy lại tọa độ tại hiện trường, hoặc bấm "
        "vị trí lên bản đồ. Chi tiết: The position is 0, 0."
    )
    assert vi[1].startswith("Thời gian — xyz_unknown. ")  # a code without words: the code
    assert quarantine_reasons(kept, "en") == [
        "Vĩ độ: The position is 0, 0.",
        "Thời gian: odd.",
    ]
    # kept before the codes were written: shown as kept
    assert quarantine_reasons("Vĩ độ: The position is 0, 0.", "vi") == [
        "Vĩ độ: The position is 0, 0."
    ]
    assert quarantine_reasons("", "vi") == []
