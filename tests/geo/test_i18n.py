"""Every user-facing string exists in Vietnamese and English; code asks only for known keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from geo.i18n import LANGUAGES, category_label, t, translations
from geo.model import categories

ROOT = Path(__file__).resolve().parents[2]
_KEY_CALL = re.compile(r"""\bt\(\s*f?["']([a-z0-9_.{}]+)["']""")


def test_every_key_has_every_language_and_no_empty_text():
    missing = [
        f"{key} [{lang}]"
        for key, texts in translations().items()
        for lang in LANGUAGES
        if not texts.get(lang, "").strip()
    ]
    assert not missing, f"missing translations: {missing}"


def test_placeholders_match_between_languages():
    field = re.compile(r"\{(\w+)[^}]*\}")
    wrong = [
        key
        for key, texts in translations().items()
        if set(field.findall(texts["vi"])) != set(field.findall(texts["en"]))
    ]
    assert not wrong, f"placeholders differ between vi and en: {wrong}"


def _used_keys() -> set[str]:
    keys = set()
    for room in ("app.py", "views", "layers", "geo"):
        for path in [ROOT / room] if room.endswith(".py") else (ROOT / room).rglob("*.py"):
            keys.update(_KEY_CALL.findall(path.read_text(encoding="utf-8")))
    return keys


def test_every_key_the_code_asks_for_exists():
    known = translations()
    missing = []
    for key in sorted(_used_keys()):
        if "{" in key:  # f-string key: every key with that prefix and a suffix must exist
            prefix = key.split("{")[0]
            if not any(k.startswith(prefix) for k in known):
                missing.append(key)
        elif key not in known:
            missing.append(key)
    assert not missing, f"keys used in code but absent from data/translations.json: {missing}"


def test_missing_key_error_names_the_file_to_edit():
    with pytest.raises(KeyError, match=r"translations\.json"):
        t("no.such.key", "vi")


def test_categories_have_both_labels():
    for code, cat in categories().items():
        assert cat.label_vi and cat.label_en, code
    assert category_label("street_vending", "vi") == "Bán hàng rong"
    assert category_label("street_vending", "en") == "Street vending"
