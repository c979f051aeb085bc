"""What a fresh clone gets: every file the app needs is tracked, no real data is."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from layers.assets import required_files
from tests.apprunner import ROOT
from tests.conftest import SHARED_DATA


def _tracked() -> set[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return {p for p in out.decode().split("\0") if p}


def test_every_vendored_map_asset_is_tracked_by_git():
    # An ignore rule (say `dist/`) once hid Leaflet from fresh clones: the map was blank.
    tracked = _tracked()
    missing = [
        str(f.relative_to(ROOT))
        for f in required_files()
        if str(f.relative_to(ROOT)) not in tracked
    ]
    assert not missing, f"map assets on disk but not in git: {missing[:5]}"


def test_no_copy_of_the_shared_real_data_is_tracked():
    sums = SHARED_DATA / "SHA256SUMS"
    if not sums.exists():
        pytest.skip("../shared/data is absent")
    real = {line.split()[0] for line in sums.read_text().splitlines() if line.strip()}
    copies = [
        path
        for path in _tracked()
        if (ROOT / path).is_file()
        and hashlib.sha256((ROOT / path).read_bytes()).hexdigest() in real
    ]
    assert not copies, f"copies of ../shared/data in the repository: {copies}"
