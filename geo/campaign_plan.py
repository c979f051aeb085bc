"""Planning a peak campaign: where to go (worst groups by rate and trend), how much work it
will be (records per day in the targets) and how many teams each zone needs.

The suggestion ranks groups by what the team would meet if nothing changed: the recent rate
per 1,000 residents (per km² where populations are missing), weighted by its growth against
the period before. Growth is smoothed (five records are added to both periods, so 1 → 3 is
not "up 200 %") and bounded: it moves a group's priority by at most √2 either way, so a
quiet group that grew does not jump ahead of a group twice as busy, but passes one as busy
that did not grow. The weekly Mann–Kendall trend (:func:`geo.trends.trend`) is reported
beside it, in words.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo._timeseries import local_stamp, local_times
from geo.errors import InputError
from geo.summary import group_rates
from geo.trends import trend

__all__ = ["expected_workload", "suggest_targets", "teams_per_zone"]

log = logging.getLogger(__name__)

#: Records added to both periods before comparing them (shrinks growth of tiny counts).
_PRIOR = 5.0
#: Bounds of the growth ratio; its square root weighs the rate.
_GROWTH_BOUNDS = (0.5, 2.0)


def suggest_targets(
    violations: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    now: object,
    weeks: int = 8,
    categories: Sequence[str] | None = None,
    top: int = 10,
) -> pd.DataFrame:
    """Rank residential groups as campaign targets, worst first.

    Parameters
    ----------
    violations
        Records with ``group_id``, ``observed_at`` and ``category``.
    groups
        The ward's groups with ``group_id``, ``name``, ``zone_id``, ``population`` and
        polygons (``geometry``) for the per-km² fallback.
    now
        The planning moment: the recent period is the ``weeks`` weeks before it.
    weeks
        Length of the recent period and of the period before it it is compared with.
    categories
        Categories the campaign will enforce (``None``: all).
    top
        How many groups to return.

    Returns
    -------
    DataFrame
        ``group_id``, ``name``, ``zone_id``, ``records`` (recent), ``previous``,
        ``change_pct``, ``rate`` and ``rate_unit`` ("per_1000" or "per_km2", per week),
        ``trend`` ("increasing", "decreasing" or "none", weekly Mann–Kendall over the recent
        period), ``score`` and ``rank``.
    """
    if weeks < 2:
        raise InputError(f"weeks must be at least 2 (a trend needs weeks), got {weeks}.")
    if top < 1:
        raise InputError(f"top must be at least 1, got {top}.")
    end = _now(now)
    start = end - pd.Timedelta(weeks=weeks)
    before = start - pd.Timedelta(weeks=weeks)
    records = _of_categories(violations, categories)
    times = local_times(records, "observed_at")
    recent = records[((times >= start) & (times < end)).to_numpy()]
    previous = records[((times >= before) & (times < start)).to_numpy()]

    rates = group_rates(recent, groups)
    prev_counts = previous["group_id"].value_counts()
    counts = rates["count"].to_numpy(dtype=float)
    prev = prev_counts.reindex(rates["group_id"]).fillna(0).to_numpy(dtype=float)
    has_pop = rates["per_1000"].notna().all()
    rate = rates["per_1000"] if has_pop else rates["per_km2"]
    rate = rate.to_numpy(dtype=float) / weeks
    growth = np.clip((counts + _PRIOR) / (prev + _PRIOR), *_GROWTH_BOUNDS)
    weekly = trend(
        recent, freq="W", start=start, end=end, units=list(rates["group_id"].astype(str))
    ).drop_duplicates("group_id")
    direction = weekly.set_index("group_id")["direction"].reindex(rates["group_id"])

    out = pd.DataFrame(
        {
            "group_id": rates["group_id"].astype("string").to_numpy(),
            "name": groups.set_index("group_id")["name"].reindex(rates["group_id"]).to_numpy(),
            "zone_id": groups.set_index("group_id")["zone_id"]
            .reindex(rates["group_id"])
            .to_numpy(),
            "records": counts.astype("int64"),
            "previous": prev.astype("int64"),
            "change_pct": np.where(prev > 0, 100 * (counts - prev) / np.maximum(prev, 1), np.nan),
            "rate": rate,
            "rate_unit": "per_1000" if has_pop else "per_km2",
            "trend": direction.fillna("none").to_numpy(),
            "score": rate * np.sqrt(growth),
        }
    )
    out = out[out["records"] > 0].sort_values(["score", "records"], ascending=False, kind="stable")
    out = out.head(top).reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def expected_workload(
    violations: pd.DataFrame,
    groups: pd.DataFrame,
    target: Sequence[str],
    *,
    now: object,
    weeks: int = 8,
    categories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Records a day to expect in the targets, per zone, from the recent ``weeks`` weeks.

    Returns
    -------
    DataFrame
        One row per zone with targets: ``zone_id``, ``groups`` (targets in the zone),
        ``records`` (recent), ``per_day`` and ``per_day_peak`` (the busiest weekday's mean).
    """
    if not target:
        raise InputError("no target groups: choose at least one group to size the workload.")
    end = _now(now)
    start = end - pd.Timedelta(weeks=weeks)
    zone_of = groups.set_index("group_id")["zone_id"].astype("string")
    unknown = sorted(set(target) - set(zone_of.index))
    if unknown:
        raise InputError(f"unknown target groups {', '.join(unknown[:10])}.")
    records = _of_categories(violations, categories)
    times = local_times(records, "observed_at")
    keep = ((times >= start) & (times < end)).to_numpy()
    recent = records[keep & records["group_id"].isin(list(target)).to_numpy()]
    zones = zone_of.reindex(recent["group_id"]).to_numpy()
    weekday = local_times(recent, "observed_at").dt.day_of_week.to_numpy()
    rows = []
    for zone in pd.unique(zone_of.reindex(list(target)).to_numpy()):
        mine = zones == zone
        by_day = np.bincount(weekday[mine], minlength=7) / weeks
        rows.append(
            {
                "zone_id": zone,
                "groups": int(sum(zone_of[g] == zone for g in target)),
                "records": int(mine.sum()),
                "per_day": float(mine.sum()) / (7 * weeks),
                "per_day_peak": float(by_day.max()),
            }
        )
    return pd.DataFrame(rows, columns=["zone_id", "groups", "records", "per_day", "per_day_peak"])


def teams_per_zone(workload: pd.DataFrame, teams: int) -> pd.Series:
    """Split ``teams`` between zones in proportion to their workload (largest remainder).

    Every zone with targets gets a team while there are enough; a zone of no recent records
    counts as a little work rather than none, so it is never left out by rounding alone.

    Examples
    --------
    >>> w = pd.DataFrame({"zone_id": ["A", "B", "C"], "per_day": [6.0, 3.0, 1.0]})
    >>> teams_per_zone(w, 4).tolist()
    [2, 1, 1]
    """
    if teams < 1:
        raise InputError(f"teams must be at least 1, got {teams}.")
    work = np.maximum(workload["per_day"].to_numpy(dtype=float), 1e-6)
    n = len(work)
    out = np.zeros(n, dtype="int64")
    if teams < n:  # fewer teams than zones: the busiest zones get one each
        out[np.argsort(-work, kind="stable")[:teams]] = 1
        return pd.Series(out, index=workload.index, name="teams")
    out[:] = 1
    quota = np.maximum(work / work.sum() * teams - 1, 0)
    left = teams - n
    if left and quota.sum() > 0:
        quota = quota / quota.sum() * left
        out += np.floor(quota).astype("int64")
        remainder = quota - np.floor(quota)
        out[np.argsort(-remainder, kind="stable")[: teams - int(out.sum())]] += 1
    return pd.Series(out, index=workload.index, name="teams")


def _now(value: object) -> pd.Timestamp:
    stamp = local_stamp(value, name="now")
    if stamp is None:
        raise InputError("now is missing: give the planning date.")
    return stamp


def _of_categories(violations: pd.DataFrame, categories: Sequence[str] | None) -> pd.DataFrame:
    for col in ("group_id", "observed_at"):
        if col not in violations.columns:
            raise InputError(f"violations lack the column {col!r}; assign them at ingest first.")
    if not categories:
        return violations
    return violations[violations["category"].isin(list(categories)).to_numpy()]
