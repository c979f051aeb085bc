"""Judging a peak campaign honestly: did violations fall in the targets, or move next door?

A campaign (đợt ra quân cao điểm) works on target residential groups for a period. It is judged
on equal periods, all as long as the campaign itself:

- *before*: just before its start; *after*: just after its end; *follow-ups*: starting 1 and 4
  weeks after its end (does the effect last?). The campaign's own period is its work (its own
  records, the fines it gave), never "after".
- A period that the records do not cover (it runs past the last day with records, or starts
  before the first) is flagged and left out: missing days would read as a fall.
- Records count for the area of their group: *target*, *buffer* (the groups next door, or
  within a ring, where violations could move to), *control* (the rest of the ward, or chosen
  groups: the season's trend) or *excluded*.

Per category and for all of them, :func:`evaluate_campaign` gives the counts, the percentage
changes, the Weighted Displacement Quotient and the Weighted Displacement Difference with its
test (:mod:`geo.displacement`); :func:`explain` words them for a ward leader.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.config import TIMEZONE_NAME
from geo.crs import to_metric
from geo.displacement import (
    percent_change,
    weighted_displacement_difference,
    weighted_displacement_quotient,
)
from geo.errors import InputError
from geo.i18n import Lang, category_label, t

__all__ = [
    "ADJACENCY_TOLERANCE_M",
    "AREAS",
    "RING_SHARE",
    "Area",
    "CampaignEvaluation",
    "campaign_areas",
    "evaluate_campaign",
    "explain",
]

log = logging.getLogger(__name__)

Area = Literal["target", "buffer", "control", "excluded"]
AREAS: tuple[Area, ...] = ("target", "buffer", "control", "excluded")
#: Drafted group polygons leave gaps of a few decimetres between neighbours: still adjacent.
ADJACENCY_TOLERANCE_M = 1.0
#: A group is in a ring buffer when more than this share of its area lies within the ring.
RING_SHARE = 0.5
#: Slivers smaller than this (m²) where a group grazes the ring are drafting noise.
_SLIVER_M2 = 1.0
_DAY = pd.Timedelta(days=1)
_DATE = "%d/%m/%Y"


@dataclass(frozen=True)
class CampaignEvaluation:
    """Before/after counts and displacement statistics of one campaign.

    ``periods``: period, start, end (exclusive), complete, for ``before``, ``campaign``,
    ``after`` and ``follow_up_<n>w``. ``counts``: period, category, area, before, after,
    change_pct (NaN when before is 0), one row per complete comparison period, category (the
    campaign's and ``"all"``) and area. ``effects``: per period and category, the WDQ (sm, bm,
    wdq, wdq_reading) and the WDD (wdd, wdd_se, wdd_z, wdd_p, wdd_ci_low, wdd_ci_high,
    wdd_reading). ``areas`` is the input; ``coverage`` the span the records cover.
    """

    periods: pd.DataFrame
    counts: pd.DataFrame
    effects: pd.DataFrame
    areas: pd.Series
    categories: tuple[str, ...]
    coverage: tuple[pd.Timestamp, pd.Timestamp] | None
    alpha: float


def campaign_areas(
    groups: gpd.GeoDataFrame,
    target: Sequence[str] | str,
    *,
    buffer: Literal["adjacent"] | float = "adjacent",
    control: Sequence[str] | str | None = None,
) -> pd.Series:
    """Which groups are the campaign's target, its buffer, its control, or left out.

    Parameters
    ----------
    groups
        Group polygons with ``group_id`` (any CRS; measured in metres); with a ``ward_id``
        column the default control stays within the targets' ward(s).
    target
        The targeted group ids (a comma-separated text, as the ``campaigns`` table keeps them,
        is accepted).
    buffer
        ``"adjacent"``: the groups touching a target, corners included (queen contiguity),
        across gaps up to :data:`ADJACENCY_TOLERANCE_M`. A distance in metres: the groups with
        more than :data:`RING_SHARE` of their area within that distance of the targets; groups
        the ring only partly covers are ``excluded`` (too near for a clean control). Give a
        ring about a group's width or more (100–300 m), or every neighbour is partly covered.
    control
        The comparison groups; ``None``: every other group of the ward. Groups neither
        target, buffer nor control are ``excluded``.

    Returns
    -------
    Series
        Indexed by ``group_id`` in the order of ``groups``, named ``area``, values in
        :data:`AREAS`.

    Raises
    ------
    InputError
        For an empty target, unknown group ids, a non-positive ring, or control groups that
        are targets or in the buffer, naming them.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = gpd.GeoDataFrame({"group_id": list("ABCD")}, crs=5897, geometry=[
    ...     box(0, 0, 100, 100), box(100, 0, 200, 100), box(200, 0, 300, 100),
    ...     box(900, 0, 1000, 100)])
    >>> campaign_areas(g, ["A"]).to_dict()
    {'A': 'target', 'B': 'buffer', 'C': 'control', 'D': 'control'}
    >>> campaign_areas(g, "A", buffer=120, control=["D"]).to_dict()
    {'A': 'target', 'B': 'buffer', 'C': 'excluded', 'D': 'control'}
    """
    missing = {"group_id", "geometry"} - set(groups.columns)
    if missing:
        raise InputError(f"groups lacks the column(s) {', '.join(sorted(missing))}.")
    ids = pd.Index(groups["group_id"].astype(str), name="group_id")
    targets, controls = _ids(target), None if control is None else _ids(control)
    problems = []
    if not targets:
        problems.append("target is empty: choose at least one group")
    if ids.has_duplicates:
        problems.append(f"groups has duplicate group_id {sorted(set(ids[ids.duplicated()]))}")
    unknown = [g for g in [*targets, *(controls or [])] if g not in set(ids)]
    if unknown:
        problems.append(f"unknown group id(s) {', '.join(dict.fromkeys(unknown))}")
    if not isinstance(buffer, str) and not buffer > 0:
        problems.append(f"buffer={buffer!r}: give 'adjacent' or a ring width in metres > 0")
    if problems:
        raise InputError("; ".join(problems) + ".")
    geoms = to_metric(groups[["geometry"]]).geometry.to_numpy()
    is_target = ids.isin(targets)
    union = shapely.union_all(geoms[is_target])
    if buffer == "adjacent":
        near = shapely.intersects(geoms, union.buffer(ADJACENCY_TOLERANCE_M))
        partly = np.zeros(len(ids), dtype=bool)
    else:
        inside = shapely.area(shapely.intersection(geoms, union.buffer(float(buffer))))
        area = shapely.area(geoms)
        near = inside > RING_SHARE * np.where(area > 0, area, np.inf)
        partly = ~near & (inside > _SLIVER_M2)
    role = np.full(len(ids), "control", dtype=object)
    role[(near | partly) & ~is_target] = "excluded"
    role[near & ~is_target] = "buffer"
    role[is_target] = "target"
    if controls is not None:
        wrong = [g for g in controls if role[ids.get_loc(g)] in ("target", "buffer", "excluded")]
        if wrong:
            raise InputError(
                f"control group(s) {', '.join(wrong)} are targets or within the buffer; "
                "choose groups away from the campaign, or leave control empty for the rest "
                "of the ward."
            )
        role[(role == "control") & ~ids.isin(controls)] = "excluded"
    elif "ward_id" in groups.columns:
        wards = set(groups.loc[is_target, "ward_id"].dropna())
        role[(role == "control") & ~groups["ward_id"].isin(wards).to_numpy()] = "excluded"
    return pd.Series(role, index=ids, name="area")


def evaluate_campaign(
    violations: pd.DataFrame,
    areas: pd.Series,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    categories: Sequence[str] | str | None = None,
    followups_weeks: Sequence[int] = (1, 4),
    coverage: tuple[pd.Timestamp | str, pd.Timestamp | str] | None = None,
    scale_control: bool = True,
    alpha: float = 0.05,
) -> CampaignEvaluation:
    """Counts before and after the campaign by area, with WDQ and WDD, per category.

    Parameters
    ----------
    violations
        Records with ``group_id``, ``category`` and ``observed_at``, as the store reads them;
        read more than the periods (a few months around the campaign) so that ``coverage``
        can tell an empty day from a day without data.
    areas
        The area of each group, from :func:`campaign_areas`.
    start, end
        First and last moment of the campaign, both included (naive times are local); an
        ``end`` at midnight stands for that whole day, as a form's dates mean.
    categories
        The campaign's categories (comma-separated text accepted); ``None``: every category
        in the records. ``"all"`` is their union.
    followups_weeks
        Follow-up periods start this many weeks after the end.
    coverage
        First and last moment the records are complete for (default: the first record's day
        to the end of the last record's day). Periods outside it are flagged, not counted.
    scale_control, alpha
        Passed to :func:`geo.displacement.weighted_displacement_difference`.

    Returns
    -------
    CampaignEvaluation

    Raises
    ------
    InputError
        For missing columns, areas without target, or ``end`` before ``start``.
    """
    missing = {"group_id", "category", "observed_at"} - set(violations.columns)
    if missing:
        raise InputError(f"violations lacks the column(s) {', '.join(sorted(missing))}.")
    bad_areas = sorted(set(areas.dropna()) - set(AREAS))
    if bad_areas or "target" not in set(areas):
        raise InputError(
            f"areas must map group ids to {', '.join(AREAS)} with at least one target "
            f"(got {bad_areas or 'no target'}); build them with campaign_areas()."
        )
    first, stop = _span(start, end)
    weeks = sorted({int(w) for w in followups_weeks})
    if any(w <= 0 for w in weeks):
        raise InputError(f"followups_weeks={list(followups_weeks)}: give positive week counts.")
    records = violations.assign(observed_at=_local_series(violations["observed_at"]))
    cats = _categories(categories, records)
    span = _coverage(records) if coverage is None else (_local(coverage[0]), _local(coverage[1]))
    periods = _periods(first, stop, weeks, span)
    located = records.assign(area=records["group_id"].map(areas))
    located = located[located["area"].isin(["target", "buffer", "control"])]
    counts = _counts(located, periods, cats)
    effects = _effects(
        counts, scale_control=scale_control, alpha=alpha, buffer="buffer" in set(areas)
    )
    log.info("campaign %s–%s: %d comparisons", first, stop, len(effects))
    return CampaignEvaluation(
        periods=periods,
        counts=counts,
        effects=effects,
        areas=areas.copy(),
        categories=cats,
        coverage=span,
        alpha=alpha,
    )


def explain(evaluation: CampaignEvaluation, *, lang: Lang = "vi") -> list[str]:
    """Plain sentences a ward leader reads: what changed where, and what it means.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = gpd.GeoDataFrame({"group_id": ["T", "B", "C"]}, crs=5897,
    ...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100), box(900, 0, 1000, 100)])
    >>> day = pd.Timestamp("2025-07-01", tz="Asia/Ho_Chi_Minh")
    >>> after = day + 20 * _DAY  # the before period is 1–7 July, the after one 15–21 July
    >>> rows = [("T", day, 100), ("B", day, 100), ("C", day, 100), ("T", after, 50),
    ...         ("B", after, 150), ("C", after, 100)]
    >>> v = pd.DataFrame([(g_, t_, "littering") for g_, t_, n in rows for _ in range(n)],
    ...                  columns=["group_id", "observed_at", "category"])
    >>> e = evaluate_campaign(v, campaign_areas(g, ["T"]), start="2025-07-08", end="2025-07-14",
    ...                       categories=["littering"], followups_weeks=())
    >>> explain(e, lang="en")[2]  # doctest: +NORMALIZE_WHITESPACE
    'Just after the campaign (15/07/2025 to 21/07/2025): in the target groups violations fell
    by 50 % (from 100 to 50) compared with the period before; in the neighbouring groups they
    rose by 50 % (from 100 to 150); in the comparison groups they did not change (100):
    relative to the general trend, some violations moved to the neighbouring groups, but no
    more than the targets gained (WDQ = −1).'
    """
    ev, lg = evaluation, lang
    spans = _spans(ev.periods)
    (b_start, b_stop, b_complete), (c_start, c_stop, _) = spans["before"], spans["campaign"]
    n_area = ev.areas.value_counts()
    out = [
        t("eval.period", lg, start=_day(c_start), end=_last_day(c_stop),
          length=_length(c_stop - c_start, lg), before_start=_day(b_start),
          before_end=_last_day(b_stop)),
        t("eval.areas", lg, **{a: int(n_area.get(a, 0)) for a in ("target", "buffer", "control")}),
    ]  # fmt: skip
    if not b_complete:
        out.append(t("eval.before_incomplete", lg))
        return out
    if not n_area.get("buffer", 0):
        out.append(t("eval.no_buffer", lg))
    for period, (start, stop, complete) in list(spans.items())[2:]:
        when = _when(period, start, stop, lg)
        if not complete:
            out.append(t("eval.incomplete", lg, when=when, data_end=_data_end(ev)))
            continue
        out.append(_sentence(ev, period, "all", when, lg))
        out.append(_wdd_sentence(ev, period, lg))
        if period == "after" and len(ev.categories) > 1:
            out.append(t("eval.by_category", lg))
            for cat in ev.categories:
                out.append(_sentence(ev, period, cat, category_label(cat, lg), lg, short=True))
    return out


# -- periods and counts ------------------------------------------------------------------------


def _ids(value: Sequence[str] | str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return list(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))


def _local(value: pd.Timestamp | str) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize(TIMEZONE_NAME) if ts.tzinfo is None else ts.tz_convert(TIMEZONE_NAME)


def _local_series(values: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(values)
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        return stamps.dt.tz_convert(TIMEZONE_NAME)
    return stamps.dt.tz_localize(TIMEZONE_NAME)


def _span(start: pd.Timestamp | str, end: pd.Timestamp | str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First moment and exclusive stop: an end at midnight is a whole day, else to the second."""
    first, last = _local(start), _local(end)
    stop = last + _DAY if last == last.normalize() else last.floor("s") + pd.Timedelta(seconds=1)
    if stop <= first:
        raise InputError(
            f"end={end} is before start={start}: give the campaign's first and last day."
        )
    return first, stop


def _categories(categories: Sequence[str] | str | None, records: pd.DataFrame) -> tuple[str, ...]:
    if categories is None:
        return tuple(sorted(records["category"].dropna().astype(str).unique()))
    cats = tuple(_ids(categories))
    if not cats:
        raise InputError("categories is empty: give the campaign's categories, or None for all.")
    return cats


def _coverage(records: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    times = records["observed_at"].dropna()
    if times.empty:
        return None
    # Records arrive by the day: a day with records is a day the ward reported on.
    return times.min().normalize(), times.max().normalize() + _DAY


def _periods(
    first: pd.Timestamp,
    stop: pd.Timestamp,
    weeks: list[int],
    span: tuple[pd.Timestamp, pd.Timestamp] | None,
) -> pd.DataFrame:
    length = stop - first
    rows = [
        ("before", first - length, first),
        ("campaign", first, stop),
        ("after", stop, stop + length),
    ]
    rows += [
        (f"follow_up_{w}w", stop + pd.Timedelta(weeks=w), stop + pd.Timedelta(weeks=w) + length)
        for w in weeks
    ]
    frame = pd.DataFrame(rows, columns=["period", "start", "end"])
    if span is None:
        frame["complete"] = False
    else:
        frame["complete"] = (frame["start"] >= span[0]) & (frame["end"] <= span[1])
    return frame


def _counts(located: pd.DataFrame, periods: pd.DataFrame, cats: tuple[str, ...]) -> pd.DataFrame:
    spans = _spans(periods)
    columns = ["period", "category", "area", "before", "after", "change_pct"]
    if not spans["before"][2]:
        return pd.DataFrame(columns=columns)
    chosen = located[located["category"].isin(cats)]

    def tally(period: str) -> dict[tuple[str, str], int]:
        a, b, _ = spans[period]
        inside = chosen[(chosen["observed_at"] >= a) & (chosen["observed_at"] < b)]
        by_cat = inside.groupby(["category", "area"]).size()
        every = inside.groupby("area").size()
        out = {
            (str(c), str(r)): int(n)
            for (c, r), n in zip(by_cat.index.tolist(), by_cat.tolist(), strict=True)
        }
        return out | {
            ("all", str(r)): int(n)
            for r, n in zip(every.index.tolist(), every.tolist(), strict=True)
        }

    before = tally("before")
    rows = []
    for period, (_, _, complete) in list(spans.items())[2:]:
        if not complete:
            continue
        after = tally(period)
        for cat in [*cats, "all"]:
            for area in ("target", "buffer", "control"):
                nb, na = before.get((cat, area), 0), after.get((cat, area), 0)
                change = percent_change(nb, na)
                rows.append((period, cat, area, nb, na, np.nan if change is None else change))
    return pd.DataFrame(rows, columns=columns).astype({"before": "int64", "after": "int64"})


def _effects(
    counts: pd.DataFrame, *, scale_control: bool, alpha: float, buffer: bool
) -> pd.DataFrame:
    rows = []
    for (period, cat), part in counts.groupby(["period", "category"], sort=False):
        r, d, k = (_pair(part, a) for a in ("target", "buffer", "control"))
        q = weighted_displacement_quotient(r, d, k)
        w = weighted_displacement_difference(
            r, d if buffer else None, k, scale_control=scale_control, alpha=alpha
        )
        rows.append({
            "period": period, "category": cat, "sm": q.sm, "bm": q.bm, "wdq": q.wdq,
            "wdq_reading": q.reading, "wdd": w.wdd, "wdd_se": w.se, "wdd_z": w.z, "wdd_p": w.p,
            "wdd_ci_low": w.ci_low, "wdd_ci_high": w.ci_high, "wdd_reading": w.reading,
        })  # fmt: skip
    columns = ["period", "category", "sm", "bm", "wdq", "wdq_reading", "wdd", "wdd_se",
               "wdd_z", "wdd_p", "wdd_ci_low", "wdd_ci_high", "wdd_reading"]  # fmt: skip
    out = pd.DataFrame(rows, columns=columns)
    numbers = [c for c in columns[2:] if not c.endswith("reading")]
    return out.astype(dict.fromkeys(numbers, "float64"))


# -- words ---------------------------------------------------------------------------------------


def _sentence(
    ev: CampaignEvaluation, period: str, cat: str, when: str, lg: Lang, *, short: bool = False
) -> str:
    rows = ev.counts[(ev.counts["period"] == period) & (ev.counts["category"] == cat)]
    effect = _effect(ev, period, cat)
    target, buffer, control = (
        _change(*_pair(rows, a), lg) for a in ("target", "buffer", "control")
    )
    wdq = "" if pd.isna(effect["wdq"]) else f" (WDQ = {_num(effect['wdq'], lg, 2)})"
    if short:
        changes = {"target": target, "buffer": buffer, "control": control}
        return t("eval.category", lg, category=when, wdq=wdq, **changes)
    reading = t(f"eval.wdq.{effect['wdq_reading']}", lg)
    return t(
        "eval.sentence", lg, when=when, target=target, buffer=buffer, control=control,
        reading=reading, wdq=wdq,
    )  # fmt: skip


def _wdd_sentence(ev: CampaignEvaluation, period: str, lg: Lang) -> str:
    e = _effect(ev, period, "all")
    reading = str(e["wdd_reading"])
    if reading in ("no_records", "no_control"):
        return t(f"eval.wdd.{reading}", lg)
    low, high = float(e["wdd_ci_low"]), float(e["wdd_ci_high"])
    if reading == "fewer":
        low, high = -high, -low
    p = float(e["wdd_p"])
    p_text = ("< " + _num(0.001, lg, 3)) if p < 0.001 else f"= {_num(p, lg, 3)}"
    return t(
        f"eval.wdd.{reading}", lg,
        n=_num(abs(float(e["wdd"])), lg), wdd=_num(float(e["wdd"]), lg), low=_num(low, lg),
        high=_num(high, lg), level=_num(100 * (1 - ev.alpha), lg), p=p_text,
    )  # fmt: skip


def _effect(ev: CampaignEvaluation, period: str, cat: str) -> pd.Series:
    chosen = (ev.effects["period"] == period) & (ev.effects["category"] == cat)
    return ev.effects[chosen].iloc[0]


def _pair(counts: pd.DataFrame, area: str) -> tuple[int, int]:
    """(before, after) of ``area`` among the rows of one period and category."""
    row = counts[counts["area"] == area]
    return int(row["before"].iloc[0]), int(row["after"].iloc[0])


def _change(before: int, after: int, lg: Lang) -> str:
    pct = percent_change(before, after)
    values = {"before": _num(before, lg), "after": _num(after, lg)}
    if pct is None:
        return t("eval.change.none" if after == 0 else "eval.change.new", lg, **values)
    if pct == 0:
        return t("eval.change.same", lg, **values)
    key = "eval.change.down" if pct < 0 else "eval.change.up"
    return t(key, lg, pct=_num(abs(pct), lg, 0 if abs(pct) >= 1 else 1), **values)


def _when(period: str, start: pd.Timestamp, stop: pd.Timestamp, lg: Lang) -> str:
    dates = {"start": _day(start), "end": _last_day(stop)}
    if period == "after":
        return t("eval.when.after", lg, **dates)
    weeks = int(period.removeprefix("follow_up_").removesuffix("w"))
    key = "eval.when.follow_up_one" if weeks == 1 else "eval.when.follow_up"
    return t(key, lg, weeks=weeks, **dates)


def _spans(periods: pd.DataFrame) -> dict[str, tuple[pd.Timestamp, pd.Timestamp, bool]]:
    columns = (periods[c].tolist() for c in ("period", "start", "end", "complete"))
    return {str(p): (a, b, bool(c)) for p, a, b, c in zip(*columns, strict=True)}


def _length(length: pd.Timedelta, lg: Lang) -> str:
    if length % _DAY == pd.Timedelta(0):
        days = length // _DAY
        return t("eval.length.day" if days == 1 else "eval.length.days", lg, n=days)
    return t("eval.length.hours", lg, n=_num(length / pd.Timedelta(hours=1), lg, 1))


def _data_end(ev: CampaignEvaluation) -> str:
    return "—" if ev.coverage is None else _last_day(ev.coverage[1])


def _day(ts: pd.Timestamp) -> str:
    return ts.strftime(_DATE)


def _last_day(stop: pd.Timestamp) -> str:
    """The last day of a period that stops (exclusive) at ``stop``."""
    return (stop - pd.Timedelta(seconds=1)).strftime(_DATE)


def _num(value: float, lg: Lang, digits: int = 0) -> str:
    """``value`` as a reader of ``lg`` writes it: 1.234,5 in Vietnamese, a true minus sign."""
    text = f"{abs(float(value)):,.{digits}f}"
    if digits:
        text = text.rstrip("0").rstrip(".")
    if lg == "vi":
        text = text.translate(str.maketrans(",.", ".,"))
    return ("−" + text) if float(value) < 0 and text.strip("0.,") else text
