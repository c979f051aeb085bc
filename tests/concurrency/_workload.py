"""The uploads the concurrency tests run at once, and what the store must hold afterwards.

Importable by spawned child processes (no pytest here). Every file is a small CSV of
violations with explicit record ids, laid out so that the right end state does not depend on
the order in which concurrent uploads commit:

- three records of the file's own, each in a two-hour slot of its own (no likely duplicate of
  any other file's record, whatever the order);
- one of ``SHARED`` records that ten files each carry, byte for byte: whichever upload commits
  first adds it, the nine others count it as a duplicate ("same_id");
- every fifth file one bad row (unknown category, its note unique), quarantined;
- every seventh file one row five minutes and 0 m after its first record, under a new id: a
  likely duplicate within the file.

Some files (``twins``) are uploaded by two workers at the same moment (they meet at a barrier
first): one upload adds the file, the other records all its rows as "same_file" duplicates.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import box

TZ = "Asia/Ho_Chi_Minh"
NOW = pd.Timestamp("2026-01-01 12:00", tz=TZ)
SHARED = 20
_BASE = pd.Timestamp("2025-06-01 00:00")
_SLOT = pd.Timedelta(hours=2)
_CATEGORIES = ("littering", "street_vending", "sidewalk_encroachment")


def setup_store(url: str) -> None:
    """Create the store with one ward of two groups (records inside get assigned)."""
    from geo.store import create_store

    ward = gpd.GeoDataFrame(
        {"ward_id": ["w"], "name": ["Phường thử"]},
        geometry=[box(105.83, 21.0, 105.84, 21.01)],
        crs=4326,
    )
    groups = gpd.GeoDataFrame(
        {"group_id": ["g1", "g2"], "zone_id": "z1", "ward_id": "w", "name": ["Tổ 1", "Tổ 2"]},
        geometry=[box(105.83, 21.0, 105.835, 21.01), box(105.835, 21.0, 105.84, 21.01)],
        crs=4326,
    )
    create_store(url).write({"wards": ward, "groups": groups}, user="setup", action="setup")


def _row(record_id: str, slot: int, *, category: str, minutes: int = 0, note: str = "") -> str:
    when = _BASE + slot * _SLOT + pd.Timedelta(minutes=minutes)
    lat = 21.0005 + (slot % 90) * 0.0001
    lon = 105.8305 + (slot // 90) * 0.0009
    return f"{record_id},{category},{when:%Y-%m-%d %H:%M},{lat:.5f},{lon:.5f},{note}"


def csv_file(i: int) -> bytes:
    """File ``i``: see the module docstring for its rows."""
    rows = ["record_id,category,observed_at,lat,lon,note"]
    for k in range(3):
        rows.append(_row(f"f{i:03d}-{k}", 3 * i + k, category=_CATEGORIES[k]))
    s = i % SHARED
    rows.append(_row(f"shared-{s:02d}", 700 + s, category="littering", note="shared"))
    if i % 5 == 0:
        rows.append(_row(f"bad-{i:03d}", 3 * i, category="???", note=f"file {i}"))
    if i % 7 == 0:
        rows.append(_row(f"f{i:03d}-again", 3 * i, category=_CATEGORIES[0], minutes=5))
    return ("\n".join(rows) + "\n").encode("utf-8")


def rows_of(i: int) -> int:
    """Rows of file ``i``."""
    return 4 + (i % 5 == 0) + (i % 7 == 0)


@dataclass(frozen=True)
class Plan:
    """Which files each worker uploads: its own, then at each meeting one twin."""

    files: int
    workers: int
    twins: tuple[int, ...]

    def own(self, worker: int) -> list[int]:
        """The files only ``worker`` uploads."""
        singles = [i for i in range(self.files) if i not in self.twins]
        return singles[worker :: self.workers]

    def twin_at(self, meeting: int, worker: int) -> int:
        """The twin ``worker`` uploads at ``meeting`` (workers 2k and 2k+1 share one)."""
        return self.twins[meeting * (self.workers // 2) + worker // 2]

    @property
    def meetings(self) -> int:
        """How many times the workers meet to upload twins."""
        return len(self.twins) // (self.workers // 2)

    def expected(self) -> dict[str, int]:
        """The exact counts the store must hold afterwards (beyond its set-up)."""
        files = range(self.files)
        twin_rows = sum(rows_of(i) for i in self.twins)
        shared = min(SHARED, self.files)
        return {
            "violations": 3 * self.files + shared,
            "uploads": self.files + len(self.twins),
            "quarantine": sum(i % 5 == 0 for i in files),
            "duplicates": (self.files - shared) + sum(i % 7 == 0 for i in files) + twin_rows,
            "rows": sum(rows_of(i) for i in files) + twin_rows,
        }


def record_ids(files: int) -> set[str]:
    """The record ids the store must hold afterwards."""
    own = {f"f{i:03d}-{k}" for i in range(files) for k in range(3)}
    return own | {f"shared-{s:02d}" for s in range(min(SHARED, files))}


class _Overtaken(logging.Handler):
    """Counts the commits that found themselves overtaken (a figure, not an assertion)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0
        self.thread = threading.get_ident()  # workers that are threads share the logger

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and "overtaken" in record.getMessage():
            self.count += 1


def upload_all(url: str, plan: Plan, worker: int, barrier: Any) -> dict[str, Any]:
    """Upload ``worker``'s files to the store at ``url``; meet the others before each twin.

    Returns the summaries (or the error) and how many commits were overtaken; never raises,
    so a failing worker cannot leave the others waiting at the barrier forever.
    """
    from geo.ingest import UploadOptions, commit_upload, prepare_upload
    from geo.store import open_store

    started = time.thread_time()
    counter = _Overtaken()
    logger = logging.getLogger("geo.ingest")
    level = logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.INFO)
    summaries: list[dict[str, Any]] = []
    try:
        store = open_store(url)
        options = UploadOptions(user=f"worker{worker}", now=NOW)

        def upload(i: int) -> None:
            prepared = prepare_upload(csv_file(i), name=f"f{i:03d}.csv", store=store,
                                      options=options)  # fmt: skip
            summary = commit_upload(prepared, store=store)
            summaries.append({k: summary[k] for k in _KEPT} | {"file": i, "worker": worker})

        own = plan.own(worker)
        step = max(1, len(own) // (plan.meetings + 1))
        for meeting in range(plan.meetings):
            for i in own[meeting * step : (meeting + 1) * step]:
                upload(i)
            barrier.wait(timeout=120)
            upload(plan.twin_at(meeting, worker))
        for i in own[plan.meetings * step :]:
            upload(i)
        cpu = time.thread_time() - started
        return {"worker": worker, "summaries": summaries, "overtaken": counter.count, "cpu": cpu}
    except BaseException:
        barrier.abort()
        return {"worker": worker, "error": traceback.format_exc(), "summaries": summaries}
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)


_KEPT = ("upload_id", "rows", "accepted", "duplicates", "quarantined", "same_file_as")


def check_store(url: str, plan: Plan, results: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Assert the store holds exactly what ``plan`` leads to; return the figures."""
    from geo.store import open_store

    errors = [r["error"] for r in results if "error" in r]
    assert not errors, "a worker failed:\n" + "\n".join(errors)
    store = open_store(url)
    expected = plan.expected()
    summaries = [s for r in results for s in r["summaries"]]
    assert len(summaries) == expected["uploads"]

    violations = store.read("violations")
    uploads = store.read("uploads")
    duplicates = store.read("duplicates")
    quarantine = store.read("quarantine")
    got = {
        "violations": len(violations),
        "uploads": len(uploads),
        "quarantine": len(quarantine),
        "duplicates": len(duplicates),
        "rows": int(uploads["rows"].sum()),
    }
    assert got == expected
    assert violations["record_id"].is_unique
    assert set(violations["record_id"]) == record_ids(plan.files)
    # Every upload accounts for each of its rows once, and what it says it wrote is there.
    assert (
        (uploads["accepted"] + uploads["duplicates"] + uploads["quarantined"])
        .eq(uploads["rows"])
        .all()
    )
    written = {
        "accepted": violations["upload_id"].value_counts(),
        "duplicates": duplicates["upload_id"].value_counts(),
        "quarantined": quarantine["upload_id"].value_counts(),
    }
    by_id = uploads.set_index("upload_id")
    assert by_id.index.is_unique
    for column, counts in written.items():
        pd.testing.assert_series_equal(
            counts.reindex(by_id.index, fill_value=0).astype("int64"),
            by_id[column].astype("int64"),
            check_names=False,
        )
    # Each file added once: a twin's second upload repeats the first, row for row.
    per_file = uploads.groupby("file_sha256")
    assert per_file.size().max() == 2 and (per_file.size() == 2).sum() == len(plan.twins)
    again = uploads[uploads["accepted"].eq(0) & uploads["duplicates"].eq(uploads["rows"])]
    same_file = duplicates[duplicates["match"] == "same_file"]
    assert set(same_file["upload_id"]) == set(again["upload_id"]) and len(again) == len(plan.twins)
    assert set(same_file["duplicate_of"].str.removeprefix("upload:")) <= set(uploads["upload_id"])
    # The summaries the workers got are what the store recorded.
    reported = pd.DataFrame(summaries).set_index("upload_id").sort_index()
    recorded = by_id.loc[reported.index, ["rows", "accepted", "duplicates", "quarantined"]]
    assert (reported[recorded.columns].astype("int64") == recorded.astype("int64")).all().all()

    # One audit row per table of each upload that committed; none of a refused attempt.
    audit = store.read("audit_log")
    up = audit[audit["action"] == "upload"]
    per_table = up["table"].value_counts().to_dict()
    assert per_table == {
        "uploads": expected["uploads"],
        "violations": int((uploads["accepted"] > 0).sum()),
        "duplicates": int((uploads["duplicates"] > 0).sum()),
        "quarantine": int((uploads["quarantined"] > 0).sum()),
    }
    audited_ids = up.loc[up["table"] == "violations", "ids"].str.split(",").explode()
    assert audited_ids.is_unique and set(audited_ids) == set(violations["record_id"])
    assert store.data_version() == 1 + expected["uploads"]  # the set-up, then one per upload
    cpu = sum(r["cpu"] for r in results)
    return {**got, "overtaken": sum(r["overtaken"] for r in results), "cpu_s": round(cpu, 1)}


def run_worker(url: str, plan: Plan, worker: int, barrier: Any, results: Any) -> None:
    """Entry point of a worker process: :func:`upload_all`, its result put on ``results``."""
    results.put(upload_all(url, plan, worker, barrier))
