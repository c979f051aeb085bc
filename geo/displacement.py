"""Did violations fall in the targets, or move next door? Statistics on before/after counts.

Three areas are compared over two equal periods, *before* (b) and *after* (a): the target R
(where the campaign worked), a buffer D around it (where violations could move to) and a
control C (where nothing was done, to tell the campaign from the season). Every function here
takes counts as ``(before, after)`` pairs; choosing the areas and counting records is
:mod:`geo.campaign_eval`'s job.

- :func:`percent_change`: the plain change, undefined (``None``) when there was nothing before.
- :func:`weighted_displacement_quotient` (Bowers & Johnson 2003): the success measure
  SM = Ra/Ca − Rb/Cb, the buffer measure BM = Da/Ca − Db/Cb and WDQ = BM / SM, read in the
  bands of Bowers & Johnson and of Ratcliffe's guide. WDQ weighs the buffer's change against the
  target's *success*, so it is only read when SM < 0 (the target improved relative to the
  control). It is a descriptive ratio: whether a change is more than chance is the WDD's test.
- :func:`weighted_displacement_difference` (Wheeler & Ratcliffe 2018, Crime Science 7:11):
  WDD = ΔT − ΔCt + ΔD − ΔCd, with the Poisson variance of the counts, a z-test and an interval;
  the conventions follow Andrew Wheeler's ``ptools::wdd`` (``Est_Total``, ``Z``, ``LowCI``,
  ``HighCI``). Negative WDD means fewer violations than the controls' trend predicts.

A ward's control is usually "the rest of the ward", ten times the target's volume or more, so
by default the control's counts are scaled to the target's and the buffer's before-counts
(``scale_control=True``); see :func:`weighted_displacement_difference`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy.stats import norm

from geo.errors import InputError

__all__ = [
    "Counts",
    "WDDReading",
    "WDDResult",
    "WDQReading",
    "WDQResult",
    "percent_change",
    "weighted_displacement_difference",
    "weighted_displacement_quotient",
]

#: Counts of one area as ``(before, after)``.
Counts = tuple[float, float]

#: How a WDQ reads. ``no_control``: the control had no record in a period, so no ratio exists;
#: ``no_success``: SM ≥ 0, the target did not improve relative to the control, nothing to weigh;
#: ``diffusion_greater``: WDQ > 1; ``diffusion``: 0 < WDQ ≤ 1; ``neither``: WDQ = 0;
#: ``displacement``: −1 ≤ WDQ < 0 (a net gain; −1 is complete displacement);
#: ``counterproductive``: WDQ < −1.
WDQReading = Literal[
    "no_control",
    "no_success",
    "diffusion_greater",
    "diffusion",
    "neither",
    "displacement",
    "counterproductive",
]
#: How a WDD reads at the chosen level. ``fewer`` / ``more``: the interval lies below / above 0;
#: ``no_clear_change``: it contains 0; ``no_records``: every count is 0, nothing to test;
#: ``no_control``: the control's counts cannot be scaled (no control record before).
WDDReading = Literal["fewer", "more", "no_clear_change", "no_records", "no_control"]

#: Floating-point slack for the band edges WDQ = 0 and WDQ = −1 (not a statistical margin).
WDQ_TOLERANCE = 1e-9


@dataclass(frozen=True)
class WDQResult:
    """A weighted displacement quotient; ``None`` where the reading says it does not exist."""

    sm: float | None
    bm: float | None
    wdq: float | None
    reading: WDQReading


@dataclass(frozen=True)
class WDDResult:
    """A weighted displacement difference and its z-test; ``None`` where not computable.

    ``local`` = ΔT − ΔCt and ``displacement`` = ΔD − ΔCd add up to ``wdd``; ``k_target`` and
    ``k_buffer`` are the factors the control's counts were multiplied by (1 unscaled).
    """

    local: float | None
    displacement: float | None
    wdd: float | None
    variance: float | None
    z: float | None
    p: float | None
    ci_low: float | None
    ci_high: float | None
    k_target: float | None
    k_buffer: float | None
    reading: WDDReading

    @property
    def se(self) -> float | None:
        """Standard error of ``wdd``."""
        return None if self.variance is None else math.sqrt(self.variance)


def percent_change(before: float, after: float) -> float | None:
    """The change from ``before`` to ``after`` in percent; ``None`` when ``before`` is 0.

    From nothing to something is no percentage (it would be infinite): say "from 0 to n".

    Examples
    --------
    >>> percent_change(120, 72), percent_change(40, 46), percent_change(0, 5)
    (-40.0, 15.0, None)
    """
    _check_counts(counts=(before, after))
    if before == 0:
        return None
    return (after - before) / before * 100.0


def weighted_displacement_quotient(
    target: Counts, buffer: Counts, control: Counts, *, tolerance: float = WDQ_TOLERANCE
) -> WDQResult:
    """Bowers & Johnson's WDQ = (Da/Ca − Db/Cb) / (Ra/Ca − Rb/Cb), with its reading.

    Parameters
    ----------
    target, buffer, control
        ``(before, after)`` counts of the target (R), the buffer (D) and the control (C).
    tolerance
        Slack for the band edges 0 and −1, against floating-point noise only: a WDQ of 0.03
        from a few records is "diffusion"; whether it means anything is for the WDD to say.

    Returns
    -------
    WDQResult
        ``sm`` and ``bm`` (``None`` when the control lacks records in a period), ``wdq`` (only
        when SM < 0) and the ``reading`` code (see :data:`WDQReading`).

    Examples
    --------
    Target halved, the buffer gained what the target lost, control flat: complete displacement.

    >>> weighted_displacement_quotient((100, 50), (100, 150), (100, 100))
    WDQResult(sm=-0.5, bm=0.5, wdq=-1.0, reading='displacement')
    >>> weighted_displacement_quotient((100, 50), (100, 80), (100, 100)).reading
    'diffusion'
    """
    _check_counts(target=target, buffer=buffer, control=control)
    (rb, ra), (db, da), (cb, ca) = target, buffer, control
    if cb == 0 or ca == 0:
        return WDQResult(sm=None, bm=None, wdq=None, reading="no_control")
    sm = ra / ca - rb / cb
    bm = da / ca - db / cb
    if sm >= -tolerance:
        return WDQResult(sm=sm, bm=bm, wdq=None, reading="no_success")
    wdq = bm / sm
    return WDQResult(sm=sm, bm=bm, wdq=wdq, reading=_wdq_band(wdq, tolerance))


def weighted_displacement_difference(
    target: Counts,
    buffer: Counts | None,
    control: Counts,
    *,
    control_buffer: Counts | None = None,
    scale_control: bool = True,
    alpha: float = 0.05,
) -> WDDResult:
    """Wheeler & Ratcliffe's WDD = ΔT − ΔCt + ΔD − ΔCd and its two-sided z-test.

    Parameters
    ----------
    target, buffer, control
        ``(before, after)`` counts of the target T, its buffer D (``None``: no buffer, the
        test is then T against Ct only) and the control Ct.
    control_buffer
        Counts of a separate control for the buffer (Cd), as in the paper, where the control
        area has its own buffer. ``None`` (the ward's case): the one control serves both, and
        since ΔC then enters twice its variance counts ``(k_target + k_buffer)²`` times, not
        twice: the eight counts of the paper are not independent here.
    scale_control
        Multiply the control's counts by ``k = target_before / control_before`` (and
        ``buffer_before / control_before`` for the buffer), with the variance scaled by k².
        On by default because the ward's control is "the rest of the ward": unscaled, a 5 %
        seasonal rise over 1,000 control records would count as 50 violations against a
        target of 100. Scaled, ΔT − ΔCt is the target's after-count minus what it would have
        been had it followed the control's trend (ptools' ``area_weights``; k is treated as
        fixed, as there). Turn it off for a control of about the target's size, as in the
        paper.
    alpha
        Level of the two-sided test and of the ``1 − alpha`` interval (0.05: 95 %).

    Returns
    -------
    WDDResult
        See :class:`WDDResult`; ``reading`` is ``fewer``/``more`` when the interval excludes 0.

    Raises
    ------
    InputError
        For negative or non-finite counts, or ``alpha`` outside (0, 1).

    Examples
    --------
    Wheeler & Ratcliffe's example (their control has its own buffer; counts unscaled):

    >>> r = weighted_displacement_difference((207, 110), (178, 157), (308, 318),
    ...     control_buffer=(150, 140), scale_control=False)
    >>> r.wdd, r.variance, round(r.z, 2), round(r.ci_low), round(r.ci_high), r.reading
    (-118.0, 1568.0, -2.98, -196, -40, 'fewer')
    """
    _check_counts(target=target, buffer=buffer, control=control, control_buffer=control_buffer)
    if not 0 < alpha < 1:
        raise InputError(f"alpha={alpha}: give a level between 0 and 1 (0.05 for 95 %).")
    shared = control_buffer is None
    d = buffer if buffer is not None else (0.0, 0.0)
    cd = control if control_buffer is None else control_buffer
    if scale_control and (control[0] == 0 or cd[0] == 0):
        return WDDResult(*(None,) * 10, reading="no_control")
    kt = target[0] / control[0] if scale_control else 1.0
    kd = (d[0] / cd[0] if scale_control else 1.0) if buffer is not None else 0.0
    local = _delta(target) - kt * _delta(control)
    displacement = _delta(d) - kd * _delta(cd)
    wdd = local + displacement
    if shared:
        var = sum(target) + sum(d) + (kt + kd) ** 2 * sum(control)
    else:
        var = sum(target) + sum(d) + kt**2 * sum(control) + kd**2 * sum(cd)
    if var == 0:
        return WDDResult(
            local, displacement, wdd, 0.0, None, None, None, None, kt, kd, reading="no_records"
        )
    se = math.sqrt(var)
    z = wdd / se
    half = float(norm.ppf(1 - alpha / 2)) * se
    p = float(2 * norm.sf(abs(z)))
    low, high = wdd - half, wdd + half
    reading: WDDReading = "fewer" if high < 0 else "more" if low > 0 else "no_clear_change"
    return WDDResult(local, displacement, wdd, var, z, p, low, high, kt, kd, reading=reading)


def _wdq_band(wdq: float, tolerance: float) -> WDQReading:
    if abs(wdq) <= tolerance:
        return "neither"
    if wdq > 1:
        return "diffusion_greater"
    if wdq > 0:
        return "diffusion"
    if wdq >= -1 - tolerance:
        return "displacement"
    return "counterproductive"


def _delta(counts: Counts) -> float:
    return float(counts[1]) - float(counts[0])


def _check_counts(**pairs: Counts | None) -> None:
    bad = [
        f"{name}={pair!r}"
        for name, pair in pairs.items()
        if pair is not None
        and (len(pair) != 2 or not all(math.isfinite(v) and v >= 0 for v in pair))
    ]
    if bad:
        raise InputError(
            f"{', '.join(bad)}: give counts as (before, after), each finite and not negative."
        )
