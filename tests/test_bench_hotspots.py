"""The hotspot benchmark still runs, at a tiny size, so that it cannot rot between releases."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from bench.hotspots import run, synthetic_city

ROOT = Path(__file__).resolve().parent.parent

FIGURES = {
    "records", "city_s", "wards", "street_edges", "total_s",
    "kde_cells", "kde_bandwidth_m", "kde_s", "kde_peak_mb", "kde_exact_s", "kde_exact_peak_mb",
    "kde_binning_max_err", "kde_gaussian_kde_sample", "kde_gaussian_kde_sample_s",
    "kde_baseline_s", "kde_ratio",
    "gi_cells", "gi_s", "gi_peak_mb", "gi_hot", "gi999_cells", "gi999_s", "gi999_peak_mb",
    "gi999_hot", "gi_baseline_s", "gi_baseline_peak_mb", "gi_baseline_cells",
    "gi_baseline_hot_fdr", "gi_ratio", "gi999_ratio",
    "streets_segments", "streets_s", "streets_peak_mb", "streets_matched", "streets_baseline_s",
    "streets_baseline_peak_mb", "streets_baseline_matched", "streets_ratio",
    "gi10k_cells", "gi10k_weights_s", "gi10k_draws", "gi10k_s", "gi10k_peak_mb", "gi10k_hot",
    "gi10k_999_draws", "gi10k_999_s", "gi10k_999_peak_mb", "gi10k_999_hot",
    "gi10k_baseline_s", "gi10k_baseline_peak_mb", "gi10k_baseline_hot_fdr", "gi10k_ratio",
    "gi10k_999_ratio",
}  # fmt: skip


def test_the_benchmark_runs_at_a_tiny_size_and_reports_every_figure():
    figures = run(2_000, wards_x=3, wards_y=2, gi_cells=500)
    assert set(figures) == FIGURES
    assert all(isinstance(v, int | float) for v in figures.values())
    assert figures["records"] == 2_000 and figures["wards"] == 6
    assert figures["gi10k_cells"] == 500 and figures["gi10k_draws"] == 99_999
    assert figures["gi_cells"] == figures["gi999_cells"] == figures["gi_baseline_cells"]
    # same lines, same 30 m: ours and sjoin_nearest keep the same records
    assert figures["streets_matched"] == figures["streets_baseline_matched"] > 1_500
    assert figures["kde_binning_max_err"] < 0.01
    for key in ("kde_ratio", "gi_ratio", "gi999_ratio", "streets_ratio", "gi10k_ratio"):
        assert math.isfinite(figures[key]) and figures[key] > 0, key
    assert figures["total_s"] < 30  # a few seconds; generous for a loaded CI machine


def test_the_synthetic_city_is_deterministic_and_in_hanoi():
    one, two = synthetic_city(500, wards_x=2, wards_y=1), synthetic_city(500, wards_x=2, wards_y=1)
    assert one.points.geometry.equals(two.points.geometry)
    assert one.streets.equals(two.streets)
    left, bottom, right, top = one.points.total_bounds
    assert 105.25 < left < right < 106.05 and 20.5 < bottom < top < 21.4
    # 2.4 km² wards and street edges of about 120 m, each in the ward it lies in
    assert (one.wards.to_crs(5897).area / 1e6).round(2).eq(2.40).all()
    assert one.streets["length_m"].between(100, 140).all()
    assert set(one.streets["ward_id"]) == set(one.wards["ward_id"])


def test_run_py_has_the_hotspots_subcommand():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "hotspots", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "--records" in done.stdout and "--json" in done.stdout
