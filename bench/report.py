"""Report benchmark: the city's monthly report from store aggregates, against reading the
month's records with GDAL and grouping them with pandas; and one ward's report on the city's
store against the same ward's report on a store of that ward alone.

    python bench/run.py report [--records N] [--groups M] [--month YYYY-MM] [--store PATH]
                               [--repeat R] [--json]

The city is the map benchmark's store (:mod:`bench.city_store`: :func:`bench.city.make_city`,
126 wards, ``--groups`` groups, N records over 2025 assigned to groups), built once under
``var/bench/`` and reused. Times are the best of ``--repeat`` runs (``*_first_s``: the first
run, store file in the OS page cache, nothing cached in Python); ``*_peak_mb``: the rise of
the resident set's peak during the last run (as in :mod:`bench.hotspots`).

- ``ours_s``: :func:`geo.city_report.city_monthly_report` of ``--month``: two store aggregates
  (the month per ward, category and status; the previous month per ward and category) and
  the ward boundaries, the tables, the paragraph.
- ``baseline_s``: what an analyst does without it: ``pyogrio.read_dataframe`` of the
  violations of the month and the previous one (GDAL ``where`` on the time; only the columns
  needed, no geometry: the fastest GDAL read), the wards, and the same per-ward table with
  pandas ``groupby`` (records, previous month, cases fined — status "fined" or a fine above
  zero —, fines, items removed, top category, per 1,000 residents, per km²) and the totals
  per category. ``baseline_full_s``: the same with ``read_dataframe``'s defaults (every
  column, the geometries), as a first attempt reads. ``identical``: every ward's counts and
  sums, top category and totals per category equal ours, and the rates agree to their
  rounding (0.01).
- ``ward_s``: :func:`geo.report.monthly_report` of the ward with the most records that month,
  on the city's store; ``ward_alone_s``: the same report on a store holding only that ward
  (its boundaries and its year of records); ``ward_identical``: the two reports are equal.

The machine is shared: ``load_1min`` (start) and ``load_1min_end`` say how busy it was.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyogrio  # noqa: E402

from bench.city_store import city_store  # noqa: E402
from geo.city_report import CityReport, city_monthly_report  # noqa: E402
from geo.report import month_period, monthly_report  # noqa: E402
from geo.store import Query, Store, create_store, open_store  # noqa: E402

__all__ = ["baseline", "run", "same_figures", "ward_alone"]

T = TypeVar("T")

#: The per-ward figures compared with the baseline's: exactly, then to their rounding.
EXACT = ("records", "records_prev", "fined", "fines_vnd", "items_removed", "top_category")
RATES = ("per_1000", "per_km2")
_COLUMNS = ["ward_id", "category", "status", "fine_vnd", "items_removed", "observed_at"]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _best(fn: Callable[[], T], repeat: int) -> tuple[float, float, float, T]:
    """The first and the best time of ``repeat`` calls of ``fn``, the peak memory rise of the
    last (MB, :func:`bench.hotspots._measured`: warm when ``repeat`` > 1, one-time loads
    left out), and its result."""
    from bench.hotspots import _measured

    times = []
    for _ in range(max(repeat, 1) - 1):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    last, peak_mb, result = _measured(fn)
    times.append(last)
    return times[0], min(times), peak_mb, result


# --- the baseline: GDAL and pandas ---------------------------------------------------------------


def _gdal_time(ts: pd.Timestamp) -> str:
    """How the store writes a time (UTC text, milliseconds, ``Z``), for a GDAL ``where``."""
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.000Z")


def baseline(path: Path, month: str, *, full: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The city report's per-ward table (indexed by ward) and per-category totals, from the
    two months' records read with GDAL and grouped with pandas."""
    start, end = month_period(month)
    previous = start - pd.DateOffset(months=1)
    where = f"observed_at >= '{_gdal_time(previous)}' AND observed_at < '{_gdal_time(end)}'"
    if full:
        rows = pyogrio.read_dataframe(path, layer="violations", where=where)
    else:
        rows = pyogrio.read_dataframe(path, layer="violations", where=where, columns=_COLUMNS,
                                      read_geometry=False)  # fmt: skip
    wards = pyogrio.read_dataframe(path, layer="wards", where="valid_to IS NULL")
    times = pd.to_datetime(rows["observed_at"], utc=True)
    now = rows[(times >= start).to_numpy()]
    before = rows[(times < start).to_numpy()]
    fines = pd.to_numeric(now["fine_vnd"]).fillna(0)
    now = now.assign(
        fined=(now["status"].eq("fined").fillna(False) | (fines > 0)).astype(int),
        fine_vnd=fines,
        items_removed=pd.to_numeric(now["items_removed"]).fillna(0),
        category=now["category"].fillna("other"),
    )
    per_ward = now.groupby("ward_id").agg(
        records=("category", "size"),
        fined=("fined", "sum"),
        fines_vnd=("fine_vnd", "sum"),
        items_removed=("items_removed", "sum"),
    )
    counts = now.groupby(["ward_id", "category"]).size().reset_index(name="n")
    top = counts.sort_values(["ward_id", "n", "category"], ascending=[True, False, True])
    table = pd.DataFrame(index=pd.Index(wards["ward_id"], name="ward_id"))
    table = table.join(per_ward).fillna(0).astype("int64")
    table["records_prev"] = before.groupby("ward_id").size().reindex(table.index, fill_value=0)
    table["top_category"] = top.drop_duplicates("ward_id").set_index("ward_id")["category"]
    area = wards.geometry.to_crs(5897).area.to_numpy() / 1e6
    population = pd.to_numeric(wards["population"]).where(lambda p: p > 0).to_numpy()
    table["per_1000"] = np.round(table["records"].to_numpy() / population * 1000, 2)
    table["per_km2"] = np.round(table["records"].to_numpy() / area, 2)
    # per category: the records of the wards (those in no ward are in no ward's row either)
    in_wards = now[now["ward_id"].isin(wards["ward_id"]).to_numpy()]
    categories = in_wards.groupby("category").agg(records=("fined", "size"), fined=("fined", "sum"))
    return table, categories


def same_figures(ours: CityReport, table: pd.DataFrame, categories: pd.DataFrame) -> bool:
    """Whether our report and the baseline's tables give the same figures."""
    wards = ours.tables["wards"].dropna(subset="ward_id").set_index("ward_id")
    wards = wards.reindex(table.index)
    for column in EXACT:
        a = wards[column].astype(object).where(wards[column].notna(), None).tolist()
        b = table[column].astype(object).where(table[column].notna(), None).tolist()
        if a != b:
            _say(f"{column} differs from the baseline's")
            return False
    for column in RATES:
        a = wards[column].astype("float64").to_numpy()
        b = table[column].astype("float64").to_numpy()
        if not np.allclose(a, b, atol=0.0101, equal_nan=True):
            _say(f"{column} differs from the baseline's")
            return False
    mine = ours.tables["categories"].set_index("category")
    mine = mine.loc[mine["records"] > 0, ["records", "fined"]]
    theirs = categories.astype("int64")
    same = {str(k): v for k, v in mine.to_dict("index").items()} == {
        str(k): v for k, v in theirs.to_dict("index").items()
    }
    if not same:
        _say("the totals per category differ from the baseline's")
    return same


# --- a ward's report ---------------------------------------------------------------------------


def ward_alone(city: Store, ward_id: str, path: Path) -> Store:
    """A store of ``ward_id`` alone: its boundaries and its records, read from ``city``."""
    store = create_store(path, overwrite=True)
    q = Query(ward_id=ward_id)
    store.write({t: city.read(t, q) for t in ("wards", "zones", "groups")}, user="bench",
                action="one ward")  # fmt: skip
    store.write({"violations": city.read("violations", q)}, user="bench", action="one ward")
    return store


# --- the whole run ------------------------------------------------------------------------------


def run(
    records: int,
    *,
    groups: int = 10_000,
    month: str = "2025-07",
    store: Path | None = None,
    repeat: int = 3,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Every figure of the module docstring, as one flat dict."""
    figures: dict[str, Any] = {
        "records": records,
        "groups": groups,
        "month": month,
        "cpus": os.cpu_count() or 0,
        "load_1min": os.getloadavg()[0],
    }
    path = city_store(records, groups, path=store, cache_dir=cache_dir)
    city = open_store(path)

    first, best, peak, ours = _best(lambda: city_monthly_report(city, month=month), repeat)
    figures |= {"ours_first_s": first, "ours_s": best, "ours_peak_mb": peak}
    figures["wards"] = ours.totals["wards"]
    figures["month_records"] = ours.summary.records
    figures["outside"] = ours.totals["outside"]
    _say(f"ours: {best:.2f} s for {ours.summary.records:,} records of {month}")

    first, best, peak, (table, categories) = _best(lambda: baseline(path, month), repeat)
    figures |= {"baseline_first_s": first, "baseline_s": best, "baseline_peak_mb": peak}
    full_first, full_best, peak, _ = _best(lambda: baseline(path, month, full=True), repeat)
    figures |= {"baseline_full_first_s": full_first, "baseline_full_s": full_best,
                "baseline_full_peak_mb": peak}  # fmt: skip
    figures["speedup"] = figures["baseline_s"] / figures["ours_s"]
    figures["speedup_full"] = figures["baseline_full_s"] / figures["ours_s"]
    figures["identical"] = same_figures(ours, table, categories)
    _say(f"baseline: {best:.2f} s (full read {full_best:.2f} s); same figures: "
         f"{figures['identical']}")  # fmt: skip

    ranked = ours.tables["wards"].dropna(subset="ward_id")
    ward_id = str(ranked.sort_values(["records", "ward_id"], ascending=[False, True])
                  ["ward_id"].iloc[0])  # fmt: skip
    figures["ward_id"] = ward_id
    figures["ward_records"] = int(ranked.set_index("ward_id").loc[ward_id, "records"])
    first, best, _, on_city = _best(
        lambda: monthly_report(city, ward_id=ward_id, month=month), repeat
    )
    figures |= {"ward_first_s": first, "ward_s": best}
    with tempfile.TemporaryDirectory() as tmp:
        alone = ward_alone(city, ward_id, Path(tmp) / "ward.gpkg")
        first, best, _, own = _best(
            lambda: monthly_report(alone, ward_id=ward_id, month=month), repeat
        )
    figures |= {"ward_alone_first_s": first, "ward_alone_s": best}
    figures["ward_ratio"] = figures["ward_s"] / figures["ward_alone_s"]
    figures["ward_identical"] = on_city.to_dict() == own.to_dict()
    _say(f"ward {ward_id}: {figures['ward_s']:.2f} s on the city's store, {best:.2f} s alone")
    figures["load_1min_end"] = os.getloadavg()[0]
    return figures
