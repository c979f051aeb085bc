"""The assignment benchmark still runs, at a tiny size, and its baselines agree with ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.assign import POSTGIS_ENV, run
from tests.stores import postgis_base_url

ROOT = Path(__file__).resolve().parent.parent

FIGURES = {
    "points", "groups", "wards", "city_s", "load_1m_start", "load_1m_end",
    "ours_s", "ours_cpu_s", "sjoin_s", "sjoin_cpu_s", "speedup", "speedup_cpu", "identical",
    "in_several", "in_none", "tree_s", "tree_identical", "assign_s", "inside", "snapped",
    "outside", "grid_cells", "grid_cell_m", "grid_free", "grid_lines", "grid_stars",
    "grid_exact",
}  # fmt: skip


def test_the_benchmark_runs_at_a_tiny_size_and_agrees_with_sjoin(monkeypatch):
    monkeypatch.delenv(POSTGIS_ENV, raising=False)
    figures = run(4_000, 300, repeat=1, cache_dir=None)
    assert set(figures) == FIGURES
    assert figures["identical"] == figures["tree_identical"] == 1
    assert figures["groups"] == 300 and figures["wards"] == 126
    assert figures["inside"] + figures["snapped"] + figures["outside"] == 4_000
    # 0.5 % of the records lie outside every ward, a few more on edges between groups
    assert figures["in_none"] >= 20 and figures["outside"] >= 1
    shares = ("grid_free", "grid_lines", "grid_stars", "grid_exact")
    assert abs(sum(figures[k] for k in shares) - 1) < 1e-9


@pytest.mark.postgis
def test_postgis_gives_the_same_groups():
    figures = run(2_000, 200, postgis_url=postgis_base_url(), repeat=1, cache_dir=None)
    assert figures["postgis_identical"] == 1 and figures["postgis_s"] > 0


def test_run_py_has_the_assign_subcommand():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "assign", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--points" in done.stdout and "--postgis" in done.stdout and "--json" in done.stdout
