"""The report benchmark still runs, at a tiny size, so that it cannot rot between releases."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import run

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

FIGURES = {
    "records", "groups", "month", "cpus", "load_1min", "ours_first_s", "ours_s", "wards",
    "month_records", "outside", "baseline_first_s", "baseline_s", "baseline_full_first_s",
    "baseline_full_s", "speedup", "speedup_full", "identical", "ward_id", "ward_records",
    "ward_first_s", "ward_s", "ward_alone_first_s", "ward_alone_s", "ward_ratio",
    "ward_identical", "load_1min_end", "ours_peak_mb", "baseline_peak_mb", "baseline_full_peak_mb",
}  # fmt: skip


def test_the_benchmark_runs_at_a_tiny_size_and_reports_every_figure(tmp_path):
    figures = run(3_000, groups=300, store=tmp_path / "city.gpkg", repeat=1,
                  cache_dir=tmp_path / "cache")  # fmt: skip
    assert set(figures) == FIGURES
    # ours and GDAL + pandas give the same per-ward table; the ward's report is the same
    # whether its store holds the city or the ward alone
    assert figures["identical"] is True and figures["ward_identical"] is True
    assert figures["wards"] == 126 and figures["month"] == "2025-07"
    # a year of records over 2025: about a twelfth in July, a few outside every ward
    assert 150 < figures["month_records"] < 350 and 0 <= figures["outside"] < 30
    assert figures["ward_records"] > 0 and figures["ward_id"].startswith("W")
    for key, value in figures.items():
        if key.endswith("_s") or key in ("speedup", "speedup_full", "ward_ratio"):
            assert math.isfinite(value) and value > 0, key
        if key.endswith("_peak_mb"):  # NaN where /proc cannot reset the peak
            assert not value < 0, key


def test_run_py_has_the_report_subcommand():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "report", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--records" in done.stdout and "--json" in done.stdout and "--month" in done.stdout
