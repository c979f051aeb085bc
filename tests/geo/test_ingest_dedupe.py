"""Likely duplicates: the pairs searched by cell and time are exactly those by time alone."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from geo._ingest_dedupe import (
    _ID_KEYS,
    _content_ids,
    _float_text,
    _near_pairs,
    _near_pairs_by_time,
    _utc_seconds,
    identify,
)

MINUTE = 60 * 10**9


def _pairs(a: np.ndarray, b: np.ndarray) -> set[tuple[int, int]]:
    return set(zip(a.tolist(), b.tolist(), strict=True))


def _rows(n: int, seed: int, *, spread_m: float, hours: float, categories: int):
    rng = np.random.default_rng(seed)
    x = rng.random(n) * spread_m
    y = rng.random(n) * spread_m
    t = (rng.random(n) * hours * 60 * MINUTE).astype(np.int64)
    # some rows sit exactly on the thresholds: 25 m east, 30 minutes later, of another
    k = n // 5
    if k:
        x[-k:], y[-k:], t[-k:] = x[:k] + 25.0, y[:k], t[:k] + 30 * MINUTE
    cat = rng.integers(0, categories, n)
    is_new = rng.random(n) < 0.7
    return x, y, t, cat, is_new


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 400),
    seed=st.integers(0, 10**6),
    spread=st.sampled_from([30.0, 200.0, 3_000.0]),
    hours=st.sampled_from([1.0, 24.0, 24.0 * 365]),
    metres=st.sampled_from([0.0, 10.0, 25.0, 100.0]),
    minutes=st.sampled_from([0.0, 0.5, 30.0]),
)
def test_cells_and_time_find_the_same_pairs_as_time_alone(n, seed, spread, hours, metres, minutes):
    x, y, t, cat, is_new = _rows(n, seed, spread_m=spread, hours=hours, categories=3)
    window = int(minutes * MINUTE)
    fast = _near_pairs(x, y, t, cat, is_new, metres=metres, nanoseconds=window)
    plain = _near_pairs_by_time(x, y, t, cat, is_new, metres=metres, nanoseconds=window)
    assert _pairs(*fast) == _pairs(*plain)


def test_a_city_year_finds_its_pairs_and_only_they():
    x, y, t, cat, is_new = _rows(200_000, 7, spread_m=20_000, hours=24 * 365, categories=6)
    a, b = _near_pairs(x, y, t, cat, is_new, metres=25.0, nanoseconds=30 * MINUTE)
    assert len(a) >= 200_000 // 5 * 0.7 * 0.3  # the planted pairs (new rows among them) at least
    assert np.all(cat[a] == cat[b]) and np.all(is_new[a]) and np.all(a != b)
    assert np.all(np.hypot(x[a] - x[b], y[a] - y[b]) <= 25.0)
    assert np.all(np.abs(t[a] - t[b]) <= 30 * MINUTE)
    plain = _near_pairs_by_time(x, y, t, cat, is_new, metres=25.0, nanoseconds=30 * MINUTE)
    assert _pairs(a, b) == _pairs(*plain)


def _reference_ids(content: pd.Series) -> list[str]:
    """The derived ids as first written (per row, in Python): they must never change."""
    a = pd.util.hash_pandas_object(content, index=False, hash_key=_ID_KEYS[0]).tolist()
    b = pd.util.hash_pandas_object(content, index=False, hash_key=_ID_KEYS[1]).tolist()
    hexes = [f"{p:016x}{q:016x}" for p, q in zip(a, b, strict=True)]
    return [f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}" for h in hexes]


def _times(rng: np.random.Generator, n: int, *, start: str, missing_every: int) -> pd.Series:
    """``n`` local times over ~11 days from ``start``, every ``missing_every``-th missing."""
    times = pd.Series(
        pd.Timestamp(start, tz="Asia/Ho_Chi_Minh")
        + pd.to_timedelta(rng.integers(0, 10**9, n), unit="ms")
    )
    times[::missing_every] = pd.NaT
    return times


def _utc_text(times: pd.Series) -> pd.Series:
    """The UTC text of the first formula of derived ids ("" where missing)."""
    return times.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S").fillna("")


def test_derived_ids_and_their_time_text_are_what_they_always_were():
    rng = np.random.default_rng(5)
    n = 2_000
    stamps = _times(rng, n, start="2024-12-31 20:00", missing_every=7)
    expected = _utc_text(stamps)
    assert _utc_seconds(stamps).tolist() == expected.tolist()
    content = "violations|littering|" + expected + "|" + pd.Series(rng.random(n)).astype(str)
    content = pd.concat([content, content.iloc[::9], pd.Series(["é|ư|"])], ignore_index=True)
    assert _content_ids(content).tolist() == _reference_ids(content)
    # one fixed value, so that a change of pandas' hashing would show too
    one = pd.Series(["violations|littering|2025-07-01T01:00:00|105.8|21.0"])
    assert _content_ids(one).tolist() == ["b54a9a9f-9b8e-647d-b2a1-c21e2f193326"]


def test_float_text_is_pandas_own_text_of_floats():
    rng = np.random.default_rng(11)
    values = np.concatenate(
        [
            105 + rng.random(200_000) * 2,  # longitudes, latitudes: what ids are made of
            20 + rng.random(100_000),
            -rng.random(20_000) * 200,
            rng.random(20_000) * 1e-3,  # small: Python writes some in exponent form
            rng.integers(-(10**6), 10**6, 20_000).astype(float),  # whole numbers: "107.0"
            10.0 ** rng.integers(-9, 20, 20_000) * rng.random(20_000),
            [0.0, -0.0, 1.0, 1e-4, 9.99999e-5, 1e-5, 1e9, 999999999.5, 1e15, 1e16, 1e17],
            [np.nan, np.inf, -np.inf],
        ]
    )
    series = pd.Series(values).round(6)
    expected = series.astype(str)
    got = _float_text(series)
    assert got.dtype == expected.dtype
    assert got.isna().tolist() == expected.isna().tolist()
    assert got.dropna().tolist() == expected.dropna().tolist()


def _typed(origin: float, rng: np.random.Generator, n: int) -> list[float]:
    """Coordinates as people type them: 0 to 8 decimals."""
    values, decimals = origin + rng.random(n) * 0.05, rng.integers(0, 9, n)
    return [round(v, int(d)) for v, d in zip(values, decimals, strict=True)]


def test_identify_gives_the_ids_of_the_first_formula():
    import geopandas as gpd

    from geo._ingest_dedupe import identify

    rng = np.random.default_rng(3)
    n = 5_000
    records = gpd.GeoDataFrame(
        {
            "category": rng.choice(["littering", "traffic", None], n),
            "observed_at": pd.Timestamp("2025-03-01", tz="Asia/Ho_Chi_Minh")
            + pd.to_timedelta(rng.integers(0, 10**7, n), unit="s"),
        },
        geometry=gpd.points_from_xy(_typed(105.8, rng, n), _typed(21.0, rng, n)),
        crs=4326,
    )
    stamp = records["observed_at"].dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S")
    content = (
        "violations|" + records["category"].fillna("").astype(str) + "|" + stamp.fillna("")
        + "|" + records.geometry.x.round(6).astype(str)
        + "|" + records.geometry.y.round(6).astype(str)
    )  # fmt: skip
    got = identify(records.copy(), "violations", ctx=None)  # type: ignore[arg-type]
    assert got["record_id"].tolist() == _reference_ids(content)


def test_records_get_the_ids_their_content_always_gave():
    """identify joins the content in Arrow: the ids are those of the first formula (pandas'
    text of each part joined by "|"), a missing time or category included."""
    rng = np.random.default_rng(8)
    n = 500
    when = _times(rng, n, start="2025-03-01", missing_every=17)
    category = pd.Series(rng.choice(["littering", "street_vending", None], n), dtype="string")
    x, y = 105.83 + rng.random(n) / 100, 21.0 + rng.random(n) / 100
    x[3], y[5] = 105.0, 21.00001  # whole and exponent-prone decimals
    records = gpd.GeoDataFrame(
        {"category": category, "observed_at": when, "record_id": pd.NA},
        geometry=gpd.points_from_xy(x, y),
        crs=4326,
    )
    records.loc[7, "record_id"] = "own-id"  # a file's own id is kept
    got = identify(records.copy(), "violations", None)["record_id"].tolist()  # type: ignore[arg-type]
    stamp = _utc_text(when)
    content = (
        "violations|" + category.fillna("").astype(str) + "|" + stamp
        + "|" + pd.Series(x).round(6).astype(str) + "|" + pd.Series(y).round(6).astype(str)
    )  # fmt: skip
    expected = _reference_ids(content)
    expected[7] = "own-id"
    assert got == expected


class _Stored:
    """A store that holds ``frame`` as its violations (what ``near_pairs`` reads)."""

    def __init__(self, frame: gpd.GeoDataFrame) -> None:
        self.frame = frame

    def read(self, table, query):
        assert table == "violations"
        t = self.frame["observed_at"]
        keep = (t >= query.start) & (t < query.end) & self.frame["category"].isin(query.categories)
        return self.frame[keep]


class _Ctx:
    def __init__(self, store: _Stored) -> None:
        self.store = store


def _violations(n: int, seed: int, prefix: str) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2025-07-01 07:00", tz="Asia/Ho_Chi_Minh")
    return gpd.GeoDataFrame(
        {
            "record_id": [f"{prefix}{i}" for i in range(n)],
            "category": rng.choice(["littering", "street_vending"], n),
            "observed_at": t0 + pd.to_timedelta(rng.integers(0, 6 * 3600, n), unit="s"),
        },
        geometry=gpd.points_from_xy(105.83 + rng.random(n) * 0.0015, 21.0 + rng.random(n) * 0.0015),
        crs=4326,
        index=pd.RangeIndex(2, n + 2),
    )


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), share=st.sampled_from([0.0, 0.3, 0.9, 1.0]))
def test_pairs_found_for_every_row_then_narrowed_are_those_of_the_candidates(seed, share):
    # ``near_pairs`` runs before the exact duplicates are known: narrowing its pairs to the
    # candidates must link the rows as searching among the candidates alone would.
    from geo._ingest_dedupe import _likely_duplicates, near_pairs
    from geo.ingest import UploadOptions

    ctx = _Ctx(_Stored(_violations(60, seed + 1, "s")))
    new = _violations(150, seed, "n")
    candidate = np.random.default_rng(seed).random(len(new)) < share
    opts = UploadOptions()
    every = near_pairs(new, ctx, opts)  # type: ignore[arg-type]
    narrowed = _likely_duplicates(every, candidate, new["record_id"].to_numpy())
    subset = new[candidate]
    alone = _likely_duplicates(
        near_pairs(subset, ctx, opts),  # type: ignore[arg-type]
        np.ones(len(subset), dtype=bool),
        subset["record_id"].to_numpy(),
    ) if len(subset) else pd.Series(dtype="string")  # fmt: skip
    assert narrowed.to_dict() == alone.to_dict()
    assert set(narrowed.index) <= set(subset.index)
    if share == 1.0:
        assert len(narrowed) > 0  # 210 records within 170 m and 6 h: some are repeats
