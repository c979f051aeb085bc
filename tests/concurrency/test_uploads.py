"""Several uploaders at once, as processes and as threads, on each store: nothing is lost,
nothing is added twice, every row of every upload is accounted for once.

The process run: 4 processes × 52 uploads — 200 distinct small CSV files, 8 of which two
processes upload at the same moment — against one store (see ``_workload.py`` for the files).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.children import no_main_script
from tests.concurrency._workload import Plan, check_store, run_worker, setup_store, upload_all


@pytest.mark.slow
def test_four_processes_uploading_at_once_give_exact_counts(store_url, record_property):
    setup_store(store_url)
    plan = Plan(files=200, workers=4, twins=tuple(range(0, 200, 25)))
    # Children fork from a server that imported the code once (~2 s of CPU saved per child).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["tests.concurrency._workload", "geo.ingest", "geo.store"])
    barrier = ctx.Barrier(plan.workers)
    queue = ctx.Queue()
    workers = [
        ctx.Process(target=run_worker, args=(store_url, plan, w, barrier, queue))
        for w in range(plan.workers)
    ]
    started = time.perf_counter()
    with no_main_script():
        for p in workers:
            p.start()
    try:
        results = [queue.get(timeout=240) for _ in workers]
    finally:
        for p in workers:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    seconds = time.perf_counter() - started
    figures = check_store(store_url, plan, results)
    assert all(p.exitcode == 0 for p in workers)
    figures = {**figures, "seconds": round(seconds, 1)}
    record_property("figures", figures)
    print(figures)  # shown with -rP: the run's counts, conflicts met, CPU and wall time


def test_four_threads_uploading_at_once_give_exact_counts(store_url, record_property):
    setup_store(store_url)
    plan = Plan(files=40, workers=4, twins=(0, 10, 20, 30))
    barrier = threading.Barrier(plan.workers)
    with ThreadPoolExecutor(plan.workers) as pool:
        futures = [pool.submit(upload_all, store_url, plan, w, barrier) for w in range(4)]
        results = [f.result(timeout=120) for f in futures]
    figures = check_store(store_url, plan, results)
    record_property("figures", figures)
    print(figures)
