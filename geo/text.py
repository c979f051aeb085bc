"""Text of Vietnamese headers and names, compared without case, diacritics or punctuation."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalise"]


def normalise(text: str) -> str:
    """Lower-case ASCII words joined by ``_``: diacritics dropped, ``đ`` read as ``d``.

    Examples
    --------
    >>> normalise("Vĩ độ"), normalise("  Số tiền phạt (VNĐ) "), normalise("Lấn-chiếm  VỈA HÈ")
    ('vi_do', 'so_tien_phat_vnd', 'lan_chiem_via_he')
    """
    text = str(text).replace("đ", "d").replace("Đ", "D")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
