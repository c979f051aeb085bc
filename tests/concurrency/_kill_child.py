"""The process the kill-mid-upload test kills: it uploads a big file to a store.

Run as ``python -m tests.concurrency._kill_child URL FILE MODE``. It prints ``PREPARED`` once
the upload is checked (nothing written yet), then commits it:

- MODE ``pause``: the store's ``_log`` — the last step inside every write transaction, after
  every row, the R-tree entries, the audit rows and the version bump — is wrapped, in this
  test-only child and nowhere else, so that it prints ``INSIDE`` and sleeps. The parent kills
  the child then: the transaction holds the whole upload and has not committed.
- MODE ``run``: nothing is wrapped; the parent watches the store from outside for the write
  (the GeoPackage write lock held, or PostgreSQL running the COPY) and kills it mid-insert.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

PREPARED = "PREPARED"
INSIDE = "INSIDE"


def _pause_before_commit(store: Any) -> None:
    """Make the store's last in-transaction step announce itself and wait to be killed."""
    last_step = type(store)._log  # fails loudly if the store no longer has this step

    def log_then_wait(self: Any, *args: Any, **kwargs: Any) -> None:
        last_step(self, *args, **kwargs)
        print(INSIDE, flush=True)
        time.sleep(120)

    type(store)._log = log_then_wait


def main(url: str, file: str, mode: str) -> None:
    from geo.ingest import UploadOptions, commit_upload, prepare_upload
    from geo.store import open_store
    from tests.concurrency._workload import NOW

    store = open_store(url)
    data = Path(file).read_bytes()
    prepared = prepare_upload(data, name="big.csv", store=store,
                              options=UploadOptions(user="big", now=NOW))  # fmt: skip
    if mode == "pause":
        _pause_before_commit(store)
    print(PREPARED, flush=True)
    commit_upload(prepared, store=store)
    print("COMMITTED", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
