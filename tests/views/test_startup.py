"""What a server's first visit waits for: the sign-in page and the map page import only what
they use, and the served app does not watch its sources.

Each import check runs in a fresh interpreter (``sys.modules`` of this one holds everything
the other tests imported).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest

from tests.apprunner import ROOT

pytestmark = pytest.mark.slow

#: Imported by other pages only (hotspots, patrol, campaigns, reports, uploads): seconds.
OTHER_PAGES = ("scipy", "matplotlib", "osmnx", "esda", "libpysal", "sklearn", "networkx")


def _imported_after(code: str, names: tuple[str, ...], *, env: dict[str, str] | None = None):
    """Which of ``names`` a fresh interpreter has imported after running ``code``."""
    found = f"[n for n in {names!r} if n in sys.modules]"
    probe = f"{code}\nimport json, sys\nprint(json.dumps({found}))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_sign_in_page_imports_no_page_and_no_mapping_library():
    heavy = (*OTHER_PAGES, "folium", "streamlit_folium", "views.map_page")
    assert _imported_after("import views.signin_page, views.common", heavy) == []


def test_the_map_page_imports_nothing_only_other_pages_use():
    assert _imported_after("import views.map_page", OTHER_PAGES) == []
    # the city view is an iframe: st_folium (0.2 s) is imported by the ward view only
    assert _imported_after("import views.map_page", ("streamlit_folium",)) == []


def test_a_sign_in_run_of_the_app_imports_no_other_page(demo_store, tmp_path):
    """The whole router on the sign-in page: no page module is imported at the top of app.py
    (its warm-up thread imports them later, once the server is idle)."""
    code = (
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app.py', default_timeout=120).run()\n"
        "assert not at.exception, at.exception\n"
        "assert at.text_input(key='signin-account') is not None\n"
        "import gc; assert gc.get_freeze_count() > 0  # the imports are out of gc's sight"
    )
    env = {"PATH": "/usr/bin:/bin", "URBAN_ORDER_DB": str(demo_store), "HOME": str(tmp_path)}
    pages = tuple(f"views.{p}" for p in ("hotspot_page", "patrol_page", "campaign_page",
                                          "upload_page", "records_page", "admin_page"))  # fmt: skip
    assert _imported_after(code, (*OTHER_PAGES, *pages), env=env) == []


def test_the_served_app_does_not_watch_its_sources():
    # Streamlit's watcher goes through every imported module for each new session (~0.3 s).
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["fileWatcherType"] == "none"
