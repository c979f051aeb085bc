"""ISO text of times built as bytes: what numpy's datetime_as_string writes, every time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo._isotime import iso_utc

TZ = "Asia/Ho_Chi_Minh"


def _times() -> tuple[np.ndarray, pd.Series]:
    rng = np.random.default_rng(11)
    # nanoseconds across pandas' whole range, both sides of 1970, leap days, ends of days
    ns = np.concatenate(
        [
            rng.integers(-9_200_000_000_000_000_000, 9_200_000_000_000_000_000, 100_000),
            [0, -1, -999_999, 1_000_000, 951_782_400_000_000_000, 951_868_799_999_999_999],
        ]
    )
    times = pd.Series(pd.to_datetime(ns, unit="ns", utc=True).tz_convert(TZ))
    times[[3, 77]] = pd.NaT
    return ns, times


@pytest.mark.parametrize(("millis", "unit"), [(True, "ms"), (False, "s")])
def test_the_text_is_numpys_truncated_to_the_unit(millis, unit):
    ns, times = _times()
    want = np.datetime_as_string(
        ns.astype("datetime64[ns]").astype(f"datetime64[{unit}]"), unit=unit
    )
    got = iso_utc(times, millis=millis, suffix="Z").to_pylist()
    assert got == [None if pd.isna(t) else w + "Z" for t, w in zip(times, want, strict=True)]
    filled = iso_utc(times, millis=millis, missing="").to_pylist()
    assert filled == [("" if g is None else g[:-1]) for g in got]


def test_missing_text_of_any_length_and_empty_input():
    t = pd.Series(pd.to_datetime([None, "2025-01-02 07:00", None]).tz_localize(TZ))
    assert iso_utc(t, millis=False, missing="?").to_pylist() == ["?", "2025-01-02T00:00:00", "?"]
    assert iso_utc(t.iloc[:0], millis=True).to_pylist() == []
    assert iso_utc(t.iloc[[0]], millis=True).to_pylist() == [None]
