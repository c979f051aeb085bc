"""User-facing strings in Vietnamese (default) and English.

Every string a user sees lives in ``data/translations.json`` as ``key -> {"vi": ..., "en": ...}``;
a test fails when a key lacks a language or when code asks for a key that does not exist.
"""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Literal

from geo.config import DATA_DIR

__all__ = ["LANGUAGES", "Lang", "category_label", "number", "t", "translations"]

Lang = Literal["vi", "en"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en")


@cache
def translations() -> dict[str, dict[str, str]]:
    """All strings, keyed by message key, then language."""
    with (DATA_DIR / "translations.json").open(encoding="utf-8") as f:
        data: dict[str, dict[str, str]] = json.load(f)
    return data


def t(key: str, lang: Lang = "vi", /, **values: object) -> str:
    """The string ``key`` in ``lang``, with ``{name}`` fields filled from ``values``.

    Examples
    --------
    >>> t("nav.map", "vi"), t("nav.map", "en")
    ('Bản đồ', 'Map')
    """
    try:
        text = translations()[key][lang]
    except KeyError:
        msg = f"no {lang!r} translation for {key!r}: add it to data/translations.json"
        raise KeyError(msg) from None
    return text.format(**values) if values else text


def category_label(code: str, lang: Lang = "vi") -> str:
    """The label of violation category ``code`` in ``lang`` (the code itself if unknown)."""
    from geo.model import categories

    cat = categories().get(code)
    return cat.label(lang) if cat else code


def number(value: object, lang: Lang = "vi", *, decimals: int = 0) -> str:
    """``value`` with the separators a reader of ``lang`` expects; "—" when missing.

    Vietnamese writes 32.600.000 and 2,5; English 32,600,000 and 2.5.

    Examples
    --------
    >>> number(32_600_000), number(2.5, "vi", decimals=1), number(1234.5, "en", decimals=1)
    ('32.600.000', '2,5', '1,234.5')
    >>> number(None), number(float("nan"))
    ('—', '—')
    """
    if value is None or isinstance(value, str):
        return "—" if value is None else value
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    if math.isnan(x):
        return "—"
    text = f"{x:,.{decimals}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text
