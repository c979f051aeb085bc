"""Synthetic records for the demo: violations, cleanups, patrol tracks, citizen reports, campaigns.

The records are made up, but shaped like a Hà Nội ward team's year so that every page of the
app has something true to show:

- **Where.** Most violations lie on the frontage of the main roads (3–12 m off the centreline,
  i.e. on the sidewalk), more around a few markets and schools (fictional points placed here),
  and a few persistent hot spots recur all year with the same few offenders (repeats). The
  rest are spread along lanes and alleys.
- **When.** Each category has its weekly rhythm (vending on weekends, traffic and construction on
  weekdays) and hours (vending mornings and evenings, traffic at rush hours); Tết 2025 is quiet.
- **Campaign.** One peak campaign, 7–27 July 2025, in two waves on the hottest groups. During a
  wave the records of its targeted groups are the campaign's own (they carry its
  ``campaign_id``) and reproduce the figures the ward published for July exactly (see the
  ``CAMPAIGN_*`` constants): every fine of July is the campaign's. Records elsewhere in the
  ward on those days are everyday records. After the waves violations drop in the targeted
  groups and rise a little next door (displacement).
- **Patrols.** Two teams, one 90-minute patrol each per day (every day of the period: about
  110,000 points for ten months, generated in about a second) along shortest paths between hot
  spots, markets and schools, a GPS fix every 30 s with 3–8 m of noise.

Violations leave ``zone_id``, ``group_id`` and ``assignment`` empty: ingest assigns them by
point-in-polygon, as for uploaded records. ``groups`` is only used to shape the records
(hot groups, campaign targets, displacement) and to fill ``group_id`` of cleanups and reports.

This module checks the inputs and runs the generators, which live in private modules: the
shared scene and sampling helpers (``geo._demo_scene``), everyday violations
(``geo._demo_violations``), the campaign (``geo._demo_campaign``) and cleanups, citizen reports
and patrols (``geo._demo_activity``).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd

from geo._demo_activity import PATROL_TEAMS, REPORT_STATUSES, _citizen_reports, _cleanups, _patrols
from geo._demo_campaign import (
    _AFTER_NEIGHBOUR,
    CAMPAIGN_FINED_CASES,
    CAMPAIGN_FINES_TOTAL_VND,
    CAMPAIGN_FINES_VND,
    CAMPAIGN_ITEMS_REMOVED,
    CAMPAIGN_WAVES,
    _campaign_effect,
    _campaign_plan,
    _campaign_records,
    _month_of_the_waves,
)
from geo._demo_scene import _scene
from geo._demo_violations import _assemble_violations, _background
from geo.config import TIMEZONE_NAME
from geo.errors import InputError
from geo.model import VIOLATION_STATUSES, conform

__all__ = [
    "CAMPAIGN_FINED_CASES",
    "CAMPAIGN_FINES_TOTAL_VND",
    "CAMPAIGN_FINES_VND",
    "CAMPAIGN_ITEMS_REMOVED",
    "CAMPAIGN_WAVES",
    "PATROL_TEAMS",
    "REPORT_STATUSES",
    "VIOLATION_STATUSES",
    "synthetic_records",
]

log = logging.getLogger(__name__)

_DAY_END = pd.Timedelta(days=1) - pd.Timedelta(seconds=1)


def synthetic_records(
    *,
    ward: gpd.GeoDataFrame,
    groups: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    seed: int = 0,
    start: str | pd.Timestamp = "2025-01-01",
    end: str | pd.Timestamp = "2025-10-31",
) -> dict[str, pd.DataFrame]:
    """Generate a ward's synthetic records over a period.

    Parameters
    ----------
    ward
        The ward, one row with ``ward_id`` (any CRS).
    groups
        Its residential groups with ``group_id`` (any CRS).
    streets
        Its streets (e.g. from :func:`geo.synthetic.synthetic_ward` or
        :func:`geo.network.street_edges`), with optional ``name`` and ``highway`` columns.
    seed
        Seed of the random generator; the same seed gives identical frames.
    start, end
        First and last day (inclusive, local time). The July 2025 campaign is generated only
        when both waves lie inside the period.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``"violations"``, ``"cleanups"``, ``"patrol_points"``, ``"citizen_reports"`` and
        ``"campaigns"``, each conforming to ``geo.model.SCHEMAS`` (GeoDataFrames in
        EPSG:4326 for the spatial ones).
    """
    ward_id = _check(ward, groups, streets)
    t0, t1 = _period(start, end)
    rng = np.random.default_rng(seed)
    scene = _scene(ward, groups, streets, rng)
    # local calendar days, naive (Việt Nam keeps no daylight saving)
    days = pd.date_range(t0.tz_localize(None).normalize(), t1.tz_localize(None), freq="D")
    waves = [
        (pd.Timestamp(a, tz=TIMEZONE_NAME), pd.Timestamp(b, tz=TIMEZONE_NAME) + _DAY_END)
        for a, b in CAMPAIGN_WAVES
    ]
    if not all(t0 <= a and b <= t1 for a, b in waves):
        waves = []

    background = _background(scene, rng, days, seed, oversample=_AFTER_NEIGHBOUR)
    targets, campaigns = _campaign_plan(scene, rng, background, waves, ward_id)
    background = _campaign_effect(scene, rng, background, waves, targets)
    background = _month_of_the_waves(background, waves)
    wave_records = _campaign_records(scene, rng, waves, targets, campaigns, seed)
    violations = pd.concat([background, wave_records], ignore_index=True)
    violations = violations.sort_values("observed_at", kind="stable").reset_index(drop=True)
    violations = _within(violations, "observed_at", t0, t1)
    out = {
        "violations": _assemble_violations(scene, rng, violations, ward_id),
        "cleanups": _within(_cleanups(scene, rng, days, t1, ward_id), "ended_at", t0, t1),
        "patrol_points": _within(_patrols(scene, rng, days, ward_id), "t", t0, t1),
        "citizen_reports": _within(
            _citizen_reports(scene, rng, days, t1, ward_id), "received_at", t0, t1
        ),
        "campaigns": conform("campaigns", pd.DataFrame(campaigns[:1])),
    }
    log.info(
        "synthetic records (seed %d): %s",
        seed,
        ", ".join(f"{len(frame)} {table}" for table, frame in out.items()),
    )
    return out


def _within(frame: pd.DataFrame, column: str, t0: pd.Timestamp, t1: pd.Timestamp) -> pd.DataFrame:
    """Rows whose ``column`` lies in [t0, t1] (a partial first day starts late)."""
    ok = (frame[column] >= t0) & (frame[column] <= t1)
    if column == "ended_at":
        ok &= frame["started_at"] >= t0
    return frame[ok.to_numpy()].reset_index(drop=True)


# --- check -----------------------------------------------------------------------------------


def _check(ward: gpd.GeoDataFrame, groups: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> str:
    problems = []
    for what, frame in (("ward", ward), ("groups", groups), ("streets", streets)):
        if frame.crs is None:
            problems.append(f"{what} has no CRS; set it (EPSG:4326 for longitude/latitude).")
        if len(frame) == 0:
            problems.append(f"{what} is empty.")
    if len(ward) != 1 or "ward_id" not in ward.columns:
        problems.append(
            f"ward must be one row with a ward_id column (got {len(ward)} rows, "
            f"columns {', '.join(map(str, ward.columns))})."
        )
    if "group_id" not in groups.columns:
        problems.append("groups has no group_id column; draft or import the groups first.")
    if problems:
        raise InputError("Cannot generate demo records:\n- " + "\n- ".join(problems))
    return str(ward["ward_id"].iloc[0])


def _period(
    start: str | pd.Timestamp, end: str | pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    t0 = t0.tz_localize(TIMEZONE_NAME) if t0.tzinfo is None else t0.tz_convert(TIMEZONE_NAME)
    t1 = t1.tz_localize(TIMEZONE_NAME) if t1.tzinfo is None else t1.tz_convert(TIMEZONE_NAME)
    if t1 == t1.normalize():  # a day: up to its last second
        t1 = t1 + _DAY_END
    if t1 <= t0:
        raise InputError(f"end ({end}) must come after start ({start}).")
    return t0, t1
