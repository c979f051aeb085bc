"""WDQ and WDD reproduce the worked examples and the published figures, and keep symmetries."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from geo.displacement import (
    WDQ_TOLERANCE,
    percent_change,
    weighted_displacement_difference,
    weighted_displacement_quotient,
)
from geo.errors import InputError

count = st.integers(min_value=0, max_value=5_000)
positive = st.integers(min_value=1, max_value=5_000)
pair = st.tuples(count, count)


def test_percent_change_is_undefined_from_nothing():
    assert percent_change(120, 72) == -40.0
    assert percent_change(40, 46) == pytest.approx(15.0)
    assert percent_change(10, 10) == 0.0
    assert percent_change(0, 5) is None and percent_change(0, 0) is None
    with pytest.raises(InputError, match="not negative"):
        percent_change(-1, 5)


def test_complete_displacement_is_minus_one_and_reads_as_the_displacement_band():
    # the worked example: target 100 -> 50, buffer 100 -> 150, control flat
    r = weighted_displacement_quotient((100, 50), (100, 150), (100, 100))
    assert (r.sm, r.bm, r.wdq) == (-0.5, 0.5, -1.0)
    assert r.reading == "displacement"  # -1 belongs to -1 <= WDQ < 0


def test_a_quieter_buffer_is_a_diffusion_of_benefits():
    r = weighted_displacement_quotient((100, 50), (100, 80), (100, 100))
    assert r.sm == -0.5 and r.bm == pytest.approx(-0.2)
    assert r.wdq == pytest.approx(0.4) and r.reading == "diffusion"


@pytest.mark.parametrize(
    ("buffer_after", "wdq", "reading"),
    [
        (40, 1.2, "diffusion_greater"),
        (50, 1.0, "diffusion"),  # 1 is still "diffusion", not "greater"
        (100, 0.0, "neither"),
        (125, -0.5, "displacement"),
        (160, -1.2, "counterproductive"),
    ],
)
def test_reading_bands(buffer_after, wdq, reading):
    r = weighted_displacement_quotient((100, 50), (100, buffer_after), (100, 100))
    assert r.wdq == pytest.approx(wdq) and r.reading == reading


def test_the_control_weighs_the_change():
    # the whole ward doubled; the target stayed: relative to the control it halved
    r = weighted_displacement_quotient((100, 100), (100, 300), (1_000, 2_000))
    assert r.sm == pytest.approx(-0.05) and r.bm == pytest.approx(0.05)
    assert r.wdq == pytest.approx(-1.0) and r.reading == "displacement"


@pytest.mark.parametrize(
    ("target", "control"),
    [((100, 100), (100, 100)), ((100, 120), (100, 100)), ((100, 90), (100, 50))],
)
def test_without_success_there_is_no_quotient_to_read(target, control):
    r = weighted_displacement_quotient(target, (100, 150), control)
    assert r.reading == "no_success" and r.wdq is None and r.sm is not None and r.sm >= 0


@pytest.mark.parametrize("control", [(0, 10), (10, 0), (0, 0)])
def test_an_empty_control_gives_a_reading_not_infinity(control):
    r = weighted_displacement_quotient((100, 50), (100, 150), control)
    assert (r.sm, r.bm, r.wdq, r.reading) == (None, None, None, "no_control")


def test_counts_are_checked():
    with pytest.raises(InputError, match=r"buffer=\(3, -1\).*not negative"):
        weighted_displacement_quotient((1, 2), (3, -1), (4, 5))
    with pytest.raises(InputError, match="control="):
        weighted_displacement_difference((1, 2), (3, 1), (math.nan, 5))
    with pytest.raises(InputError, match="alpha"):
        weighted_displacement_difference((1, 2), (3, 1), (4, 5), alpha=5)


# -- WDD ------------------------------------------------------------------------------------


def test_wheeler_ratcliffe_published_example():
    # Crime Science 7:11 (2018), reproduced by ptools' tests: -118, sqrt(1568), -2.98, -196, -40
    r = weighted_displacement_difference(
        (207, 110), (178, 157), (308, 318), control_buffer=(150, 140), scale_control=False
    )
    assert (r.local, r.displacement, r.wdd, r.variance) == (-107.0, -11.0, -118.0, 1568.0)
    assert r.se == pytest.approx(math.sqrt(1568))
    assert round(r.z, 2) == -2.98 and r.p == pytest.approx(0.00288, abs=1e-5)
    assert (round(r.ci_low), round(r.ci_high)) == (-196, -40)
    assert r.reading == "fewer"


def test_ptools_local_and_displacement_parts():
    local = weighted_displacement_difference((20, 10), None, (20, 20), scale_control=False)
    assert (local.local, local.displacement, local.wdd, local.variance) == (-10, 0, -10, 70)
    disp = weighted_displacement_difference(
        (20, 20), (20, 10), (20, 20), control_buffer=(20, 20), scale_control=False
    )
    assert (disp.local, disp.displacement, disp.wdd) == (0, -10, -10)


def test_complete_displacement_nets_to_zero():
    # target 100 -> 50, buffer 100 -> 150, control flat: the buffer took all that the target lost
    r = weighted_displacement_difference((100, 50), (100, 150), (100, 100))
    assert (r.k_target, r.k_buffer) == (1.0, 1.0)
    # one control serves both: its variance counts (1 + 1)^2 = 4 times
    assert (r.wdd, r.variance, r.z, r.p) == (0.0, 150 + 250 + 4 * 200, 0.0, 1.0)
    assert r.ci_low == pytest.approx(-1.959964 * math.sqrt(1200))
    assert r.reading == "no_clear_change"


def test_diffusion_is_a_significant_net_fall():
    r = weighted_displacement_difference((100, 50), (100, 80), (100, 100))
    assert (r.local, r.displacement, r.wdd, r.variance) == (-50, -20, -70, 1130)
    assert r.z == pytest.approx(-2.08237, abs=1e-5) and r.p == pytest.approx(0.03730, abs=1e-5)
    assert r.ci_low == pytest.approx(-135.885, abs=1e-3)
    assert r.ci_high == pytest.approx(-4.115, abs=1e-3)
    assert r.reading == "fewer"
    assert weighted_displacement_difference(
        (100, 50), (100, 80), (100, 100), alpha=0.01
    ).reading == ("no_clear_change")


def test_a_large_control_is_scaled_to_the_target():
    # the rest of the ward: 10 times the target, up 10 % (the season)
    r = weighted_displacement_difference((100, 50), (100, 150), (1_000, 1_100))
    assert (r.k_target, r.k_buffer) == (0.1, 0.1)
    assert r.local == pytest.approx(-60) and r.displacement == pytest.approx(40)
    assert r.wdd == pytest.approx(-20) and r.variance == pytest.approx(150 + 250 + 0.04 * 2100)
    assert r.se == pytest.approx(22) and r.z == pytest.approx(-20 / 22)
    unscaled = weighted_displacement_difference(
        (100, 50), (100, 150), (1_000, 1_100), scale_control=False
    )
    # unscaled, the ward's season swamps the target: 2 x 100 more control records
    assert (unscaled.wdd, unscaled.variance) == (-200, 150 + 250 + 4 * 2100)


def test_wdd_without_records_or_control():
    assert weighted_displacement_difference(
        (0, 0), (0, 0), (0, 0), scale_control=False
    ).reading == ("no_records")
    none = weighted_displacement_difference((10, 5), (10, 12), (0, 40))
    assert none.reading == "no_control" and none.wdd is None and none.se is None
    # with a separate control buffer, each control must have records before
    sep = weighted_displacement_difference((10, 5), (10, 12), (30, 40), control_buffer=(0, 3))
    assert sep.reading == "no_control"


# -- properties -----------------------------------------------------------------------------


@given(pair, pair, pair, st.integers(min_value=2, max_value=50))
def test_wdq_is_the_same_when_every_area_scales_alike(r, d, c, m):
    a = weighted_displacement_quotient(r, d, c)
    b = weighted_displacement_quotient(
        (r[0] * m, r[1] * m), (d[0] * m, d[1] * m), (c[0] * m, c[1] * m)
    )
    assert a == b  # m·x / m·y is the same float as x / y


@given(pair, pair, st.tuples(positive, positive), st.integers(min_value=2, max_value=50))
def test_wdq_does_not_depend_on_the_controls_size(r, d, c, m):
    a = weighted_displacement_quotient(r, d, c)
    b = weighted_displacement_quotient(r, d, (c[0] * m, c[1] * m))
    assume(a.sm is not None and abs(a.sm) > 1e-6)
    assert b.sm == pytest.approx(a.sm / m) and b.bm == pytest.approx(a.bm / m)
    if a.wdq is not None:
        assume(min(abs(a.wdq), abs(a.wdq + 1), abs(a.wdq - 1)) > 1e-6)
        assert b.wdq == pytest.approx(a.wdq) and b.reading == a.reading


@given(pair, pair, pair)
def test_wdq_reading_matches_its_value(r, d, c):
    q = weighted_displacement_quotient(r, d, c)
    if q.wdq is None:
        assert q.reading in ("no_control", "no_success")
        return
    assert q.sm is not None and q.sm < 0
    expected = {
        "diffusion_greater": q.wdq > 1,
        "diffusion": 0 < q.wdq <= 1,
        "neither": abs(q.wdq) <= WDQ_TOLERANCE,
        "displacement": -1 - WDQ_TOLERANCE <= q.wdq < 0,
        "counterproductive": q.wdq < -1,
    }
    assert expected[q.reading]


@given(pair, pair, pair, pair)
def test_wdd_swaps_sign_when_before_and_after_swap(t, d, c, cd):
    kw = {"scale_control": False}
    a = weighted_displacement_difference(t, d, c, control_buffer=cd, **kw)
    b = weighted_displacement_difference(t[::-1], d[::-1], c[::-1], control_buffer=cd[::-1], **kw)
    assert b.wdd == -a.wdd and b.variance == a.variance
    opposite = {"fewer": "more", "more": "fewer"}
    assert b.reading == opposite.get(a.reading, a.reading)
    if a.z is not None:
        assert b.z == -a.z and b.p == pytest.approx(a.p)


@given(st.tuples(positive, count), pair, st.tuples(positive, count), st.integers(2, 20))
def test_scaled_wdd_grows_with_the_counts(t, d, c, m):
    a = weighted_displacement_difference(t, d, c)
    b = weighted_displacement_difference(
        (t[0] * m, t[1] * m), (d[0] * m, d[1] * m), (c[0] * m, c[1] * m)
    )
    assert (b.k_target, b.k_buffer) == (a.k_target, a.k_buffer)
    assert b.wdd == pytest.approx(m * a.wdd, abs=1e-6)
    assert b.variance == pytest.approx(m * a.variance)
    if a.z is not None:
        assert b.z == pytest.approx(math.sqrt(m) * a.z, abs=1e-6)


@given(positive, count, positive, st.integers(0, 5))
def test_areas_that_follow_the_control_show_no_difference(tb, db, cb, f):
    r = weighted_displacement_difference((tb, tb * f), (db, db * f), (cb, cb * f))
    assert r.wdd == pytest.approx(0, abs=1e-6 * (tb + db + cb) * (f + 1))
    assert r.reading == "no_clear_change" or r.variance == 0
