"""The patrol benchmarks still run, at a tiny size on the synthetic ward, so they cannot rot."""

from __future__ import annotations

import functools
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import shapely

from bench.patrol import Network, _pieces, load, run_coverage, run_route, team_tracks

ROOT = Path(__file__).resolve().parent.parent

COVERAGE = {
    "kim_lien_network", "network_edges", "network_km", "teams", "hours", "fixes", "tracks_s",
    "walked_km", "coverage_s", "coverage_peak_mb", "fixes_used", "covered_km", "share",
    "walked_credited", "rest_credited", "baseline_s", "baseline_peak_mb", "baseline_covered_km",
    "baseline_share", "baseline_walked_credited", "baseline_rest_credited", "only_ours_km",
    "only_baseline_km", "ratio", "one_line_fixes", "one_line_buffer_s", "budget_s", "total_s",
}  # fmt: skip
ROUTE = {
    "kim_lien_network", "network_edges", "network_km", "candidates", "minutes", "dwell_minutes",
    "stops", "route_s", "route_m", "route_on_matrix_m", "route_minutes", "order_s", "order_m",
    "baseline_matrix_s", "baseline_tsp_s", "baseline_s", "baseline_m", "route_ratio",
    "order_ratio", "length_ratio", "order_length_ratio", "budget_s", "total_s",
}  # fmt: skip


@functools.cache
def _ward() -> Network:
    return load("synthetic")


def _numbers(figures: dict[str, float]) -> None:
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in figures.values())


def test_coverage_runs_at_a_tiny_size_and_reports_every_figure(capsys):
    figures = run_coverage(2, 10 / 60, network="synthetic")
    assert set(figures) == COVERAGE
    _numbers(figures)
    assert "network: synthetic ward" in capsys.readouterr().out
    assert figures["kim_lien_network"] == 0
    assert figures["fixes"] == figures["fixes_used"] == 2 * 600
    assert 0 < figures["covered_km"] <= figures["network_km"]
    assert 0 <= figures["share"] <= 1 and 0 <= figures["baseline_share"] <= 1
    # both find the walked streets; the buffer also credits the lanes a patrol only crosses
    assert figures["walked_credited"] > 0.9 and figures["baseline_walked_credited"] > 0.9
    assert figures["rest_credited"] < figures["baseline_rest_credited"]
    assert figures["only_baseline_km"] > figures["only_ours_km"]
    assert figures["ratio"] > 0 and figures["one_line_fixes"] == 600


def test_route_runs_at_a_tiny_size_and_reports_every_figure(capsys):
    figures = run_route(6, network="synthetic", repeat=1)
    assert set(figures) == ROUTE
    _numbers(figures)
    assert "network: synthetic ward" in capsys.readouterr().out
    assert figures["stops"] == figures["candidates"] == 6
    # the route's legs are the street distances the baseline measures with networkx
    assert figures["route_m"] > 0
    assert abs(figures["route_on_matrix_m"] - figures["route_m"]) < 0.5
    # 7 points are ordered exactly: never longer than Christofides
    assert figures["order_m"] <= figures["baseline_m"] + 0.1
    assert figures["route_ratio"] > 0 and figures["order_length_ratio"] <= 1.0 + 1e-6


def test_team_tracks_are_deterministic_and_exactly_the_shift_long():
    graph = _ward().graph
    one, walked = team_tracks(graph, 2, 0.05)
    two, again = team_tracks(graph, 2, 0.05)
    assert one.geometry.equals(two.geometry) and walked == again
    assert one.groupby("track_id").size().tolist() == [180, 180]
    step = one.groupby("track_id")["t"].diff().dropna()
    assert (step == step.iloc[0]).all() and step.iloc[0].total_seconds() == 1.0
    assert walked <= set(_ward().streets["street_id"].astype(str))


def test_the_baseline_pieces_are_the_tracks_cut_and_nothing_else():
    fixes, _ = team_tracks(_ward().graph, 2, 0.02)  # 72 fixes each
    pieces = _pieces(fixes, 5897, piece=5)
    whole = sum(
        shapely.length(shapely.linestrings(shapely.get_coordinates(g.geometry.to_numpy())))
        for _, g in fixes.sort_values(["track_id", "t"]).to_crs(5897).groupby("track_id")
    )
    # 71 steps per track in pieces of 5 steps: 15 pieces each, no piece bridging two tracks
    assert len(pieces) == 2 * 15
    assert np.isclose(shapely.length(pieces).sum(), whole)


def test_run_py_has_the_coverage_and_route_subcommands():
    for name, option in (("coverage", "--teams"), ("route", "--stops")):
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "run.py"), name, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert option in done.stdout and "--network" in done.stdout and "--json" in done.stdout
