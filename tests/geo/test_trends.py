"""Counts over time in local weeks and months, the Mann–Kendall test, hour × weekday."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from geo.errors import InputError
from geo.trends import hour_weekday, mann_kendall, trend

TZ = "Asia/Ho_Chi_Minh"
MONDAY = pd.Timestamp("2025-03-03", tz=TZ)


def _records(group_times: dict[str, list[pd.Timestamp]]) -> pd.DataFrame:
    rows = [(g, t) for g, times in group_times.items() for t in times]
    return pd.DataFrame(
        {
            "group_id": pd.array([g for g, _ in rows], dtype="string"),
            "observed_at": pd.DatetimeIndex([t for _, t in rows]),
        }
    )


def _weekly(counts: list[int], *, group: str = "A") -> pd.DataFrame:
    """``counts[k]`` records on the Wednesday of week k after MONDAY."""
    times = [MONDAY + pd.Timedelta(weeks=k, days=2, hours=8) for k, n in enumerate(counts)]
    return _records({group: [t for t, n in zip(times, counts, strict=True) for _ in range(n)]})


def test_empty_weeks_are_filled_with_zero_and_units_listed():
    recs = _weekly([2, 0, 0, 1])
    out = trend(recs, start=MONDAY, end=MONDAY + pd.Timedelta(weeks=4), units=["A", "B"])
    a = out[out["group_id"] == "A"]
    assert a["count"].tolist() == [2, 0, 0, 1]
    assert out[out["group_id"] == "B"]["count"].tolist() == [0, 0, 0, 0]
    assert (a["period"].dt.day_of_week == 0).all()  # weeks start on Monday
    assert a["period"].iloc[0] == MONDAY and str(a["period"].dt.tz) == TZ
    assert not out["partial"].any()


def test_weeks_start_on_monday_local_time_not_utc():
    # Sunday 17:30 UTC is Monday 00:30 in Hà Nội: it belongs to the new week.
    stamps = pd.DatetimeIndex(["2025-03-09 17:30", "2025-03-09 16:30"], tz="UTC")
    recs = pd.DataFrame({"group_id": ["A", "A"], "observed_at": stamps})
    out = trend(recs, start=MONDAY, end=MONDAY + pd.Timedelta(weeks=2))
    assert out["count"].tolist() == [1, 1]


def test_months_are_calendar_months():
    recs = _records({"A": [pd.Timestamp("2025-01-31 23:00", tz=TZ)] * 2
                     + [pd.Timestamp("2025-03-01 00:10", tz=TZ)]})  # fmt: skip
    out = trend(recs, freq="M", start="2025-01-01", end="2025-04-01")
    assert out["period"].dt.strftime("%Y-%m-%d").tolist() == ["2025-01-01", "2025-02-01",
                                                               "2025-03-01"]  # fmt: skip
    assert out["count"].tolist() == [2, 0, 1]


def test_a_planted_increase_is_detected_and_a_flat_series_is_not():
    rising = _weekly(list(range(1, 13)), group="up")
    flat = _weekly([5] * 12, group="flat")
    falling = _weekly(list(range(12, 0, -1)), group="down")
    out = trend(pd.concat([rising, flat, falling]), start=MONDAY,
                end=MONDAY + pd.Timedelta(weeks=12))  # fmt: skip
    per_unit = out.drop_duplicates("group_id").set_index("group_id")
    assert per_unit.loc["up", "direction"] == "increasing" and per_unit.loc["up", "mk_tau"] == 1
    assert per_unit.loc["down", "direction"] == "decreasing"
    assert per_unit.loc["flat", "direction"] == "none" and per_unit.loc["flat", "mk_p"] == 1.0


def test_noise_without_trend_is_not_called_a_trend():
    rng = np.random.default_rng(3)
    out = trend(_weekly(list(rng.poisson(5, 30))), start=MONDAY,
                end=MONDAY + pd.Timedelta(weeks=30))  # fmt: skip
    assert out["direction"].iloc[0] == "none"


def test_cut_weeks_at_the_ends_are_marked_partial_and_left_out_of_the_test():
    # Without start/end the data runs Wednesday to Wednesday: first and last weeks are cut.
    # Full weeks are flat; the cut last week alone would read as a drop.
    recs = _weekly([4] * 10 + [1])
    out = trend(recs)
    assert out["partial"].tolist() == [True] + [False] * 9 + [True]
    assert out["direction"].iloc[0] == "none"


def test_zone_and_ward_levels_and_records_without_unit():
    recs = _weekly([1, 1])
    recs["zone_id"] = pd.array(["Z1", None], dtype="string")
    recs["ward_id"] = "w"
    zones = trend(recs, by="zone", start=MONDAY, end=MONDAY + pd.Timedelta(weeks=2))
    assert zones["zone_id"].unique().tolist() == ["Z1"] and zones["count"].tolist() == [1, 0]
    wards = trend(recs, by="ward", start=MONDAY, end=MONDAY + pd.Timedelta(weeks=2))
    assert wards["count"].tolist() == [1, 1]


def test_bad_arguments_are_refused_with_the_fix():
    recs = _weekly([1])
    with pytest.raises(InputError, match="zone_id"):
        trend(recs, by="zone")
    with pytest.raises(InputError, match="freq"):
        trend(recs, freq="D")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="after start"):
        trend(recs, start="2025-03-10", end="2025-03-03")
    with pytest.raises(InputError, match="time_col"):
        trend(recs, time_col="when")


def test_no_records_without_a_period_gives_an_empty_frame():
    out = trend(_records({}))
    assert out.empty and {"group_id", "period", "count", "direction"} <= set(out.columns)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=3, max_size=25))
def test_mann_kendall_tau_is_kendalls_tau_b_against_time(values):
    result = mann_kendall(values)
    if len(set(values)) == 1:
        assert (result.tau, result.z, result.p) == (0.0, 0.0, 1.0)
        return
    assert result.tau == pytest.approx(kendalltau(np.arange(len(values)), values).statistic)
    assert 0.0 <= result.p <= 1.0
    mirrored = mann_kendall(values[::-1])
    assert mirrored.tau == pytest.approx(-result.tau) and mirrored.p == pytest.approx(result.p)


def test_mann_kendall_with_ties_matches_the_hand_computation():
    # [1, 2, 2, 3]: 5 rising pairs, 1 tied, none falling, so S = 5 with one tie group of 2.
    r = mann_kendall([1, 2, 2, 3])
    var = (4 * 3 * 13 - 2 * 1 * 9) / 18  # one tie group of 2
    assert r.z == pytest.approx((5 - 1) / np.sqrt(var))


def test_hour_weekday_counts_in_local_time():
    # Sunday 23:30 UTC is Monday 06:30 in Hà Nội; a missing time is left out.
    utc = pd.DatetimeIndex(["2025-03-02 23:30", "2025-03-09 03:15", None], tz="UTC")
    table = hour_weekday(pd.DataFrame({"observed_at": utc}))
    assert table.shape == (7, 24)
    assert list(table.index) == list(range(7)) and list(table.columns) == list(range(24))
    assert table.loc[0, 6] == 1 and table.loc[6, 10] == 1  # Sunday 10:15 local
    assert table.to_numpy().sum() == 2
    assert table.loc[6, 23] == 0  # not counted at the UTC hour


def test_hour_weekday_takes_naive_times_as_local():
    naive = pd.DatetimeIndex(["2025-03-09 10:45"])
    assert hour_weekday(pd.DataFrame({"observed_at": naive})).loc[6, 10] == 1
