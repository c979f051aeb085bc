"""The three rooms: imports point one way (app -> views -> layers -> geo)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: room -> top-level modules it must never import
FORBIDDEN = {
    "geo": {"streamlit", "folium", "streamlit_folium", "branca", "layers", "views", "app"},
    "layers": {"streamlit", "streamlit_folium", "views", "app"},
    "views": {"app"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_rooms_import_only_downwards(room):
    files = sorted((ROOT / room).rglob("*.py"))
    assert files, f"no modules in {room}/"
    wrong = {
        str(f.relative_to(ROOT)): sorted(_imports(f) & FORBIDDEN[room])
        for f in files
        if _imports(f) & FORBIDDEN[room]
    }
    assert not wrong, f"{room}/ imports what it must not: {wrong}"


def test_the_checker_sees_a_wrong_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import streamlit as st\nfrom folium import Map\n", encoding="utf-8")
    assert _imports(bad) & FORBIDDEN["geo"] == {"streamlit", "folium"}


def test_pages_live_outside_a_pages_folder():
    # Streamlit ignores st.navigation's pages when a legacy pages/ folder exists.
    assert not (ROOT / "pages").exists()
