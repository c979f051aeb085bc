"""The child process of the hostile-upload tests: one upload, capped and measured.

It runs in a process forked from multiprocessing's fork server, a clean single-threaded
process, never from the pytest worker itself: a fork of a process with threads (xdist's,
GDAL's, a database driver's) can copy a lock some other thread holds, and the child then
waits for it forever.
"""

from __future__ import annotations

import resource
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from geo.errors import UrbanOrderError
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.store import open_store
from tests.hostile.corpus import MIB


def run(source: str, name: str, db: str, options: UploadOptions, result: Connection) -> None:
    """Upload the file at ``source`` as ``name`` into ``db``; send back how it ended."""
    try:
        outcome: dict[str, Any] = _measured_upload(source, name, db, options)
    except BaseException as exc:  # anything but a refusal is a bug to report
        outcome = {"crash": f"{type(exc).__name__}: {exc}"[:2000]}
    result.send(outcome)
    result.close()


def _measured_upload(source: str, name: str, db: str, options: UploadOptions) -> dict[str, Any]:
    # caps: a regression that loops or inflates fails this upload, not the machine
    resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
    page = resource.getpagesize()
    mapped = int(Path("/proc/self/statm").read_text().split()[0]) * page
    resource.setrlimit(resource.RLIMIT_AS, (mapped + 3 * 2**30, resource.RLIM_INFINITY))
    data = Path(source).read_bytes()  # one allocation of the file's size, before the baseline
    store = open_store(db)
    peak = _peak_bytes()
    wall, cpu = time.perf_counter(), time.process_time()
    error = kind = None
    try:
        commit_upload(prepare_upload(data, name=name, store=store, options=options), store=store)
    except UrbanOrderError as exc:
        error, kind = str(exc), type(exc).__name__
    return {
        "error": error,
        "kind": kind,
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - wall,
        "grown_mib": (_peak_bytes() - peak) / MIB,
    }


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
