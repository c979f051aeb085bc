"""Synthetic records for the demo: violations, cleanups, patrol tracks, citizen reports, campaigns.

The records are made up, but shaped like a Hà Nội ward team's year so that every page of the
app has something true to show:

- **Where.** Most violations lie on the frontage of the main roads (3–12 m off the centreline,
  i.e. on the sidewalk), more around a few markets and schools (fictional points placed here),
  and a few persistent hot spots recur all year with the same few offenders (repeats). The
  rest are spread along lanes and alleys.
- **When.** Each category has its weekly rhythm (vending on weekends, traffic and construction on
  weekdays) and hours (vending mornings and evenings, traffic at rush hours); Tết 2025 is quiet.
- **Campaign.** Two peak waves in July 2025 target the hottest groups. During a wave the records
  of its targeted groups are the wave's own (they carry its ``campaign_id``) and reproduce the
  figures the ward published for July exactly (see the ``CAMPAIGN_*`` constants); records
  elsewhere in the ward on those days are everyday records. After the waves violations drop in
  the targeted groups and rise a little next door (displacement).
- **Patrols.** Two teams, one 90-minute patrol each per day (every day of the period: about
  110,000 points for ten months, generated in about a second) along shortest paths between hot
  spots, markets and schools, a GPS fix every 30 s with 3–8 m of noise.

Violations leave ``zone_id``, ``group_id`` and ``assignment`` empty: ingest assigns them by
point-in-polygon, as for uploaded records. ``groups`` is only used to shape the records
(hot groups, campaign targets, displacement) and to fill ``group_id`` of cleanups and reports.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from geo.config import TIMEZONE_NAME
from geo.crs import metric_crs
from geo.errors import InputError
from geo.model import VIOLATION_STATUSES, conform, fine_schedule

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

REPORT_STATUSES = ("received", "accepted", "resolved", "rejected")
PATROL_TEAMS = ("Đội 1", "Đội 2")

#: The two July 2025 peak waves (đợt ra quân cao điểm), first and last day, local time.
CAMPAIGN_WAVES = (("2025-07-07", "2025-07-13"), ("2025-07-21", "2025-07-27"))
#: Cases fined during the waves, as the ward published them for July 2025.
CAMPAIGN_FINED_CASES = {
    "traffic": 25,
    "sidewalk_encroachment": 6,
    "street_vending": 25,
    "littering": 6,
}
#: The fine of each of those cases. The published total is "just over 32 million VND", but the
#: schedule's minimums alone give 25 × 400k + 6 × 2M + 25 × 300k + 6 × 500k = 32.5M, so the
#: design is the minimum everywhere except two traffic cases fined 450k: 32,600,000 VND.
CAMPAIGN_FINES_VND: dict[str, tuple[int, ...]] = {
    "traffic": (400_000,) * 23 + (450_000,) * 2,
    "sidewalk_encroachment": (2_000_000,) * 6,
    "street_vending": (300_000,) * 25,
    "littering": (500_000,) * 6,
}
CAMPAIGN_FINES_TOTAL_VND = 32_600_000
#: Signs, platforms and movable awnings removed during the waves (on records "removed").
CAMPAIGN_ITEMS_REMOVED = 418
#: Share of the removed items taken in the first wave.
_FIRST_WAVE_ITEMS = 230
_CAMPAIGN_CATEGORIES = "traffic,sidewalk_encroachment,street_vending,littering,illegal_signage"
#: Groups targeted by each wave: the hottest groups of the first half-year.
_TARGETS = (8, 10)
#: After the waves, violations in the targeted groups fall to this share; next door they rise.
_AFTER_TARGET, _AFTER_NEIGHBOUR = 0.6, 1.15

#: Records per source over the default 304 days (scaled to the period asked for).
_SOURCE_COUNTS = {
    "frontage": 5000,
    "market": 1400,
    "school": 900,
    "hotspot": 1200,
    "background": 1600,
}
_REFERENCE_DAYS = 304
_SOURCE_MIX: dict[str, dict[str, float]] = {
    "frontage": {
        "sidewalk_encroachment": 0.30,
        "traffic": 0.28,
        "street_vending": 0.15,
        "illegal_signage": 0.15,
        "littering": 0.05,
        "construction_order": 0.02,
        "other": 0.05,
    },
    "market": {
        "street_vending": 0.40,
        "sidewalk_encroachment": 0.28,
        "littering": 0.20,
        "traffic": 0.10,
        "other": 0.02,
    },
    "school": {"traffic": 0.50, "street_vending": 0.38, "littering": 0.10, "other": 0.02},
    "hotspot": {"sidewalk_encroachment": 0.50, "illegal_signage": 0.30, "street_vending": 0.20},
    "background": {
        "littering": 0.35,
        "construction_order": 0.22,
        "sidewalk_encroachment": 0.23,
        "other": 0.20,
    },
}
#: Probability of (fined, warned, removed, resolved) per category.
#: The outcomes the demo draws, in the order of the shares in ``_OUTCOMES``.
_OUTCOME_STATUSES = ("fined", "warned", "removed", "resolved")
assert set(_OUTCOME_STATUSES) <= set(VIOLATION_STATUSES)
_OUTCOMES: dict[str, tuple[float, float, float, float]] = {
    "sidewalk_encroachment": (0.05, 0.55, 0.25, 0.15),
    "street_vending": (0.04, 0.70, 0.0, 0.26),
    "traffic": (0.07, 0.70, 0.0, 0.23),
    "littering": (0.03, 0.72, 0.0, 0.25),
    "illegal_signage": (0.03, 0.20, 0.70, 0.07),
    "construction_order": (0.25, 0.50, 0.0, 0.25),
    "other": (0.0, 0.50, 0.0, 0.50),
}
#: Share of records with an offender key, and the size of the pool the keys come from
#: (households and vendors repeat; plates rarely do).
_OFFENDERS: dict[str, tuple[float, int]] = {
    "sidewalk_encroachment": (0.85, 900),
    "street_vending": (0.60, 400),
    "traffic": (0.90, 20_000),
    "littering": (0.30, 3_000),
    "illegal_signage": (0.90, 700),
    "construction_order": (0.95, 120),
    "other": (0.20, 2_000),
}
#: Weekday weights, Monday first.
_WEEKDAYS: dict[str, tuple[float, ...]] = {
    "sidewalk_encroachment": (1.0, 1.0, 1.0, 1.0, 1.1, 1.2, 1.25),
    "street_vending": (0.85, 0.85, 0.9, 0.9, 1.0, 1.35, 1.4),
    "traffic": (1.2, 1.15, 1.15, 1.15, 1.2, 0.65, 0.5),
    "littering": (0.9, 0.9, 0.9, 0.9, 1.0, 1.2, 1.3),
    "illegal_signage": (1.15, 1.1, 1.1, 1.1, 1.1, 0.75, 0.6),
    "construction_order": (1.2, 1.2, 1.2, 1.2, 1.2, 0.7, 0.3),
    "other": (1.0,) * 7,
}
#: Peaks of the hour-of-day profile: (hour, spread in hours, weight).
_HOURS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "sidewalk_encroachment": ((9.5, 2.0, 0.8), (18.5, 2.0, 1.0)),
    "street_vending": ((6.5, 1.2, 1.0), (11.5, 1.0, 0.3), (17.5, 1.5, 1.2)),
    "traffic": ((7.5, 1.0, 1.0), (12.0, 2.0, 0.3), (17.5, 1.2, 1.0)),
    "littering": ((6.0, 1.0, 0.6), (20.0, 1.5, 1.0)),
    "illegal_signage": ((9.5, 1.5, 1.0), (15.0, 1.5, 0.8)),
    "construction_order": ((9.0, 2.0, 1.0), (14.5, 2.0, 1.0)),
    "other": ((10.0, 3.0, 1.0), (16.0, 3.0, 1.0)),
}
_CAMPAIGN_HOURS = ((8.0, 1.5, 1.0), (10.0, 1.5, 0.8), (15.0, 1.5, 0.8), (19.5, 1.5, 1.0))
#: Busy and quiet days of 2025: the weeks before Tết, Tết itself, and the public holidays.
_DAY_FACTORS = (
    ("2025-01-18", "2025-01-27", 1.3),
    ("2025-01-28", "2025-02-02", 0.35),
    ("2025-04-30", "2025-05-01", 0.7),
    ("2025-08-30", "2025-09-02", 0.7),
)
_MAIN_HIGHWAYS = frozenset(
    {"motorway", "trunk", "primary", "secondary", "trunk_link", "primary_link", "secondary_link"}
)
_CLEANUP_NOTES = (
    "Tổng vệ sinh môi trường khu dân cư (dữ liệu tổng hợp)",
    "Ngày Chủ nhật xanh: dọn rác quanh chợ và vỉa hè (dữ liệu tổng hợp)",
    "Ra quân dọn dẹp ngõ ngách, khơi thông cống rãnh (dữ liệu tổng hợp)",
)
_SALT = "urban-order-demo"
_DAY_END = pd.Timedelta(days=1) - pd.Timedelta(seconds=1)


@dataclass(frozen=True)
class _Scene:
    """The ward's streets and landmarks in a metric CRS, shared by every generator."""

    crs: CRS
    ward: shapely.Geometry
    lines: np.ndarray  # street lines clipped to the ward
    main: np.ndarray  # boolean mask of main roads among ``lines``
    activity: np.ndarray  # how busy each line's frontage is (relative)
    names: np.ndarray  # street name of each line, or None
    markets: np.ndarray  # (n, 2)
    schools: np.ndarray  # (n, 2)
    hotspots: np.ndarray  # (n, 2)
    group_ids: np.ndarray
    group_geoms: np.ndarray
    routing: gpd.GeoDataFrame  # streets around the ward, for patrol routes


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

    background = _background(scene, rng, days, seed)
    targets, campaigns = _campaign_plan(scene, rng, background, waves, ward_id)
    background = _campaign_effect(scene, rng, background, waves, targets)
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
        "campaigns": conform("campaigns", pd.DataFrame(campaigns)),
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


# --- the scene -------------------------------------------------------------------------------


def _scene(
    ward: gpd.GeoDataFrame,
    groups: gpd.GeoDataFrame,
    streets: gpd.GeoDataFrame,
    rng: np.random.Generator,
) -> _Scene:
    crs = metric_crs(ward)
    ward_geom = shapely.union_all(ward.to_crs(crs).geometry.to_numpy())
    near = streets.to_crs(crs)
    near = near[near.geometry.notna() & near.intersects(ward_geom.buffer(150))]
    near = near.explode(index_parts=False)
    near = near[near.geom_type == "LineString"].reset_index(drop=True)
    clipped = near.assign(geometry=near.geometry.intersection(ward_geom)).explode(index_parts=False)
    clipped = clipped[(clipped.geom_type == "LineString") & (clipped.length > 2)]
    if clipped.empty:
        raise InputError("No street lies inside the ward; pass the ward's own street network.")
    lines = clipped.geometry.to_numpy()
    highway = _text(clipped, "highway")
    main = np.isin(highway, list(_MAIN_HIGHWAYS))
    if shapely.length(lines[main]).sum() < 1500:  # a ward with few main roads: take tertiary too
        main |= highway == "tertiary"
    if not main.any():
        main[:] = True
    names = np.array(
        [None if n is None else n.split(";")[0].strip() or None for n in _text(clipped, "name")],
        dtype=object,
    )
    activity = rng.lognormal(0.0, 0.5, len(lines))
    main_w = shapely.length(lines) * activity * main
    side_w = shapely.length(lines) * ~main
    if side_w.sum() == 0:
        side_w = shapely.length(lines)
    g = groups.to_crs(crs)
    return _Scene(
        crs=crs,
        ward=ward_geom,
        lines=lines,
        main=main,
        activity=activity,
        names=names,
        markets=_along(rng, lines, main_w, 3, (8, 12), inside=ward_geom),
        schools=_along(rng, lines, side_w, 4, (6, 10), inside=ward_geom),
        hotspots=_along(rng, lines, main_w, 7, (4, 8), inside=ward_geom),
        group_ids=g["group_id"].astype(str).to_numpy(),
        group_geoms=g.geometry.to_numpy(),
        routing=near,
    )


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    return np.array([v if isinstance(v, str) else None for v in frame[column]], dtype=object)


def _along(
    rng: np.random.Generator,
    lines: np.ndarray,
    weights: np.ndarray,
    n: int,
    offset: tuple[float, float],
    *,
    inside: shapely.Geometry | None = None,
) -> np.ndarray:
    """``n`` points beside the lines (chosen by weight), ``offset`` metres off to either side."""
    idx = rng.choice(len(lines), size=n, p=weights / weights.sum())
    s = rng.uniform(0, 1, n) * shapely.length(lines[idx])
    return _beside(rng, lines[idx], s, offset, inside=inside)


def _beside(
    rng: np.random.Generator,
    lines: np.ndarray,
    s: np.ndarray,
    offset: tuple[float, float],
    *,
    inside: shapely.Geometry | None = None,
) -> np.ndarray:
    """Points at distance ``s`` along ``lines``, moved across them by ``offset`` metres.

    With ``inside``, a point that would fall outside it goes to the street's other side: on a
    street along the ward's edge, the far sidewalk belongs to the neighbouring ward.
    """
    length = shapely.length(lines)
    p = shapely.get_coordinates(shapely.line_interpolate_point(lines, s))
    a = shapely.get_coordinates(shapely.line_interpolate_point(lines, np.clip(s - 1, 0, length)))
    b = shapely.get_coordinates(shapely.line_interpolate_point(lines, np.clip(s + 1, 0, length)))
    t = b - a
    t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
    normal = np.column_stack([-t[:, 1], t[:, 0]])
    d = rng.uniform(*offset, len(s)) * rng.choice([-1.0, 1.0], len(s))
    xy = p + normal * d[:, None]
    if inside is not None:
        out = ~shapely.contains_xy(inside, xy[:, 0], xy[:, 1])
        xy[out] = p[out] - normal[out] * d[out, None]
    return xy


def _snap(rng: np.random.Generator, scene: _Scene, xy: np.ndarray) -> np.ndarray:
    """Move points onto the sidewalk of their nearest street (2–8 m off its centreline)."""
    pts = shapely.points(xy)
    tree = shapely.STRtree(scene.lines)
    _, nearest = tree.query_nearest(pts, all_matches=False)
    lines = scene.lines[nearest]
    s = shapely.line_locate_point(lines, pts)
    return _beside(rng, lines, s, (2, 8), inside=scene.ward)


def _group_of(scene: _Scene, xy: np.ndarray) -> np.ndarray:
    """Index of the group each point lies in, -1 outside every group."""
    out = np.full(len(xy), -1)
    if len(xy) == 0:
        return out
    pts, grp = shapely.STRtree(scene.group_geoms).query(shapely.points(xy), predicate="within")
    order = np.argsort(pts, kind="stable")[::-1]  # the first match wins
    out[pts[order]] = grp[order]
    return out


# --- violations ------------------------------------------------------------------------------


def _background(
    scene: _Scene, rng: np.random.Generator, days: pd.DatetimeIndex, seed: int
) -> pd.DataFrame:
    """Everyday violations, oversampled so that the campaign's effect can thin them."""
    scale = len(days) / _REFERENCE_DAYS * _AFTER_NEIGHBOUR
    frames = []
    for source, base in _SOURCE_COUNTS.items():
        n = round(base * scale)
        xy, hotspot = _source_points(scene, rng, source, n)
        mix = _SOURCE_MIX[source]
        cats = rng.choice(list(mix), size=n, p=np.array(list(mix.values())))
        keys = _offender_keys(rng, cats, seed)
        if source == "hotspot":  # the same two to four households, all year round
            keys = _hotspot_keys(rng, hotspot, seed)
        frames.append(
            pd.DataFrame(
                {"x": xy[:, 0], "y": xy[:, 1], "category": cats, "offender_key": keys}
            ).assign(source=source)
        )
    out = pd.concat(frames, ignore_index=True)
    out["observed_at"] = _times(rng, out["category"].to_numpy(), days)
    outcome = _outcomes(rng, out["category"].to_numpy())
    return pd.concat([out, outcome], axis=1)


def _source_points(
    scene: _Scene, rng: np.random.Generator, source: str, n: int
) -> tuple[np.ndarray, np.ndarray]:
    length = shapely.length(scene.lines)
    hotspot = np.full(n, -1)
    if source == "frontage":
        weight = length * scene.activity * scene.main
        xy = _along(rng, scene.lines, weight, n, (3, 12), inside=scene.ward)
    elif source in ("market", "school"):
        centres = scene.markets if source == "market" else scene.schools
        spread = 40.0 if source == "market" else 30.0
        which = rng.integers(0, len(centres), n)
        xy = _snap(rng, scene, centres[which] + rng.normal(0, spread, (n, 2)))
    elif source == "hotspot":
        hotspot = rng.integers(0, len(scene.hotspots), n)
        xy = scene.hotspots[hotspot] + rng.normal(0, 3, (n, 2))
    else:
        xy = _along(rng, scene.lines, length, n, (1, 4), inside=scene.ward)
    return xy, hotspot


def _key(*parts: object) -> str:
    """A salted hash, as ingest stores a household or a plate: never the name itself."""
    return hashlib.sha256(":".join(map(str, (_SALT, *parts))).encode()).hexdigest()


def _offender_keys(rng: np.random.Generator, cats: np.ndarray, seed: int) -> np.ndarray:
    keys = np.full(len(cats), None, dtype=object)
    for cat, (share, pool) in _OFFENDERS.items():
        rows = np.flatnonzero(cats == cat)
        if len(rows) == 0:
            continue
        weights = 1.0 / np.arange(1, pool + 1) ** 0.9  # a few households repeat a lot
        who = rng.choice(pool, size=len(rows), p=weights / weights.sum())
        keyed = rng.random(len(rows)) < share
        keys[rows[keyed]] = [_key(seed, cat, i) for i in who[keyed]]
    return keys


def _hotspot_keys(rng: np.random.Generator, hotspot: np.ndarray, seed: int) -> np.ndarray:
    if len(hotspot) == 0:
        return np.array([], dtype=object)
    households = rng.integers(2, 5, hotspot.max() + 1)
    who = (rng.random(len(hotspot)) * households[hotspot]).astype(int)
    return np.array([_key(seed, "hotspot", h, i) for h, i in zip(hotspot, who, strict=True)])


def _hour_profile(peaks: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    hours = np.arange(24) + 0.5
    w = sum(wt * np.exp(-0.5 * ((hours - h) / sd) ** 2) for h, sd, wt in peaks)
    w = np.asarray(w) + 0.01
    w[:5] *= 0.05  # little happens, and little is recorded, before 5 a.m.
    return w / w.sum()


def _day_weights(days: pd.DatetimeIndex, weekdays: tuple[float, ...]) -> np.ndarray:
    w = np.asarray(weekdays)[days.day_of_week]
    for a, b, factor in _DAY_FACTORS:
        w = np.where((days >= pd.Timestamp(a)) & (days <= pd.Timestamp(b)), w * factor, w)
    return w / w.sum()


def _times(
    rng: np.random.Generator,
    cats: np.ndarray,
    days: pd.DatetimeIndex,
    *,
    hours: tuple[tuple[float, float, float], ...] | None = None,
) -> pd.Series:
    """A local timestamp per record, by its category's weekly and daily rhythm."""
    offsets = np.zeros(len(cats), dtype="int64")
    for cat in np.unique(cats):
        rows = np.flatnonzero(cats == cat)
        day = rng.choice(len(days), size=len(rows), p=_day_weights(days, _WEEKDAYS[cat]))
        hour = rng.choice(24, size=len(rows), p=_hour_profile(hours or _HOURS[cat]))
        second = rng.integers(0, 3600, len(rows))
        offsets[rows] = day * 86_400 + hour * 3600 + second
    stamps = days[0].tz_localize(TIMEZONE_NAME) + pd.to_timedelta(offsets, unit="s")
    return pd.Series(stamps)


def _outcomes(rng: np.random.Generator, cats: np.ndarray) -> pd.DataFrame:
    """Status, fine, legal basis and items removed, by the category's usual outcomes."""
    n = len(cats)
    status = np.empty(n, dtype=object)
    for cat in np.unique(cats):
        rows = np.flatnonzero(cats == cat)
        status[rows] = rng.choice(_OUTCOME_STATUSES, size=len(rows), p=_OUTCOMES[cat])
    fine = np.full(n, None, dtype=object)
    items = np.full(n, None, dtype=object)
    for i in np.flatnonzero(status == "fined"):
        fine[i] = _fine(rng, str(cats[i]))
    removed = np.flatnonzero(status == "removed")
    items[removed] = 1 + rng.poisson(1.5, len(removed))
    return pd.DataFrame(
        {"status": status, "fine_vnd": fine, "items_removed": items, "campaign_id": None}
    )


def _fine(rng: np.random.Generator, category: str) -> int:
    """An amount within the schedule, usually its minimum (in steps of 50k, or 500k above 1M)."""
    rule = fine_schedule()[category]
    step = 50_000 if rule.max_vnd - rule.min_vnd <= 1_000_000 else 500_000
    amounts = np.arange(rule.min_vnd, rule.max_vnd + 1, step)
    weights = 0.5 ** np.arange(len(amounts))
    return int(rng.choice(amounts, p=weights / weights.sum()))


# --- the July 2025 campaign ------------------------------------------------------------------


def _campaign_plan(
    scene: _Scene,
    rng: np.random.Generator,
    background: pd.DataFrame,
    waves: list[tuple[pd.Timestamp, pd.Timestamp]],
    ward_id: str,
) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """Pick the hottest groups of the months before the first wave as each wave's targets."""
    if not waves:
        return [], []
    before = background[background["observed_at"] < waves[0][0]]
    group = _group_of(scene, before[["x", "y"]].to_numpy())
    counts = np.bincount(group[group >= 0], minlength=len(scene.group_ids))
    ranked = np.argsort(-counts, kind="stable")
    ranked = ranked[counts[ranked] > 0]
    if len(ranked) == 0:
        ranked = np.arange(len(scene.group_ids))
    targets, rows = [], []
    for k, ((a, b), n) in enumerate(zip(waves, _TARGETS, strict=True), start=1):
        chosen = ranked[:n]
        targets.append(chosen)
        rows.append(
            {
                "campaign_id": _uuid(rng),
                "ward_id": ward_id,
                "name": f"Ra quân cao điểm tháng 7/2025 — đợt {k}",
                "start": a,
                "end": b,
                "target": ",".join(scene.group_ids[chosen]),
                "categories": _CAMPAIGN_CATEGORIES,
                "teams": ",".join(PATROL_TEAMS),
                "notes": "synthetic",
            }
        )
    return targets, rows


def _campaign_effect(
    scene: _Scene,
    rng: np.random.Generator,
    background: pd.DataFrame,
    waves: list[tuple[pd.Timestamp, pd.Timestamp]],
    targets: list[np.ndarray],
) -> pd.DataFrame:
    """Thin the oversampled background: the waves' own records replace it in the targets,
    and afterwards the targets stay quieter while their neighbours get a little busier."""
    weight = np.ones(len(background))
    if waves:
        group = _group_of(scene, background[["x", "y"]].to_numpy())
        t = background["observed_at"]
        for (a, b), chosen in zip(waves, targets, strict=True):
            weight[(t >= a).to_numpy() & (t <= b).to_numpy() & np.isin(group, chosen)] = 0
        hit = np.unique(np.concatenate(targets))
        union = shapely.union_all(scene.group_geoms[hit]).buffer(1)
        touching = np.flatnonzero(shapely.intersects(scene.group_geoms, union))
        after = (t > waves[-1][1]).to_numpy()
        weight[after & np.isin(group, np.setdiff1d(touching, hit))] = _AFTER_NEIGHBOUR
        weight[after & np.isin(group, hit)] = _AFTER_TARGET
    keep = rng.random(len(background)) < weight / _AFTER_NEIGHBOUR
    return background[keep].reset_index(drop=True)


def _campaign_records(
    scene: _Scene,
    rng: np.random.Generator,
    waves: list[tuple[pd.Timestamp, pd.Timestamp]],
    targets: list[np.ndarray],
    campaigns: list[dict[str, Any]],
    seed: int,
) -> pd.DataFrame:
    """The waves' records: the published fines and removals exactly, plus warnings."""
    if not waves:
        return pd.DataFrame()
    frames = []
    items_left = CAMPAIGN_ITEMS_REMOVED
    for k, ((a, b), chosen, row) in enumerate(zip(waves, targets, campaigns, strict=True)):
        cats: list[str] = []
        fines: list[int | None] = []
        for cat, amounts in CAMPAIGN_FINES_VND.items():
            mine = list(amounts[k :: len(waves)])  # the cases alternate between the waves
            cats += [cat] * len(mine)
            fines += mine
        n_fined = len(cats)
        items_total = _FIRST_WAVE_ITEMS if k < len(waves) - 1 else items_left
        items_left -= items_total
        n_removed = int(rng.integers(40, 56))
        cats += list(
            rng.choice(["illegal_signage", "sidewalk_encroachment"], n_removed, p=[0.7, 0.3])
        )
        items = 1 + rng.multinomial(items_total - n_removed, rng.dirichlet(np.full(n_removed, 2.0)))
        n_warned = int(rng.integers(60, 91))
        warned_mix = {
            "street_vending": 0.35,
            "sidewalk_encroachment": 0.25,
            "traffic": 0.2,
            "littering": 0.1,
            "illegal_signage": 0.05,
            "other": 0.05,
        }
        cats += list(rng.choice(list(warned_mix), n_warned, p=list(warned_mix.values())))
        n = len(cats)
        status = ["fined"] * n_fined + ["removed"] * n_removed
        status += list(rng.choice(["warned", "resolved"], n_warned, p=[0.85, 0.15]))
        cat_arr = np.array(cats, dtype=object)
        wave_days = pd.date_range(a.tz_localize(None), b.tz_localize(None).normalize(), freq="D")
        xy = _points_in_groups(scene, rng, chosen, n)
        frames.append(
            pd.DataFrame(
                {
                    "x": xy[:, 0],
                    "y": xy[:, 1],
                    "category": cat_arr,
                    "offender_key": _offender_keys(rng, cat_arr, seed),
                    "source": "campaign",
                    "observed_at": _times(rng, cat_arr, wave_days, hours=_CAMPAIGN_HOURS),
                    "status": status,
                    "fine_vnd": fines + [None] * (n - n_fined),
                    "items_removed": [None] * n_fined + list(items) + [None] * n_warned,
                    "campaign_id": row["campaign_id"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _points_in_groups(
    scene: _Scene, rng: np.random.Generator, chosen: np.ndarray, n: int
) -> np.ndarray:
    """``n`` points on the sidewalks inside the chosen groups, main roads weighted up."""
    area = shapely.union_all(scene.group_geoms[chosen])
    inner = area.buffer(-3)  # then 0.5–2.5 m off a street stays inside the groups
    clipped = shapely.intersection(scene.lines, inner)
    keep = ~shapely.is_empty(clipped)
    lines = shapely.get_parts(clipped[keep])
    is_main = np.repeat(scene.main[keep], shapely.get_num_geometries(clipped[keep]))
    ok = (shapely.get_type_id(lines) == 1) & (shapely.length(lines) > 1)
    lines, is_main = lines[ok], is_main[ok]
    if len(lines):
        weight = shapely.length(lines) * np.where(is_main, 4.0, 1.0)
        return _along(rng, lines, weight, n, (0.5, 2.5))
    # groups without streets inside: anywhere in them
    left, bottom, right, top = area.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        xy = rng.uniform((left, bottom), (right, top), (4 * n, 2))
        out = np.vstack([out, xy[shapely.contains_xy(inner if not inner.is_empty else area, xy)]])
    return out[:n]


# --- assembling ------------------------------------------------------------------------------


def _assemble_violations(
    scene: _Scene, rng: np.random.Generator, records: pd.DataFrame, ward_id: str
) -> pd.DataFrame:
    records = records.reset_index(drop=True)
    n = len(records)
    xy = records[["x", "y"]].to_numpy()
    rules = fine_schedule()
    cats = records["category"].to_numpy()
    status = records["status"].to_numpy()
    basis = np.array(
        [
            f"{rules[c].legal_basis} {rules[c].provision}"
            if c in rules and s in ("fined", "removed")
            else None
            for c, s in zip(cats, status, strict=True)
        ],
        dtype=object,
    )
    photo = np.array([hashlib.sha256(rng.bytes(16)).hexdigest() for _ in range(n)], dtype=object)
    photo[rng.random(n) >= 0.6] = None  # not every officer attaches a photo
    frame = gpd.GeoDataFrame(
        {
            "record_id": _uuids(rng, n),
            "ward_id": ward_id,
            "category": cats,
            "observed_at": records["observed_at"],
            "gps_accuracy_m": np.round(rng.uniform(3, 15, n), 1),
            "address": _addresses(scene, xy),
            "fine_vnd": records["fine_vnd"].to_numpy(),
            "legal_basis": basis,
            "items_removed": records["items_removed"].to_numpy(),
            "status": status,
            "offender_key": records["offender_key"].to_numpy(),
            "photo_sha256": photo,
            "campaign_id": records["campaign_id"].to_numpy(),
            "synthetic": True,
        },
        geometry=shapely.points(xy),
        crs=scene.crs,
    )
    return conform("violations", frame)


def _addresses(scene: _Scene, xy: np.ndarray) -> np.ndarray:
    """ "số 15 Phố Hoa Sữa Mẫu": the nearest named street, and a number by the distance along it
    (about one number per 4 m, odd on the left, even on the right)."""
    out = np.full(len(xy), None, dtype=object)
    named = np.array([n is not None for n in scene.names])
    if not named.any() or len(xy) == 0:
        return out
    names = scene.names[named]
    unique, inverse = np.unique(names.astype(str), return_inverse=True)
    whole = np.array(
        [
            shapely.line_merge(shapely.union_all(scene.lines[named][inverse == i]))
            for i in range(len(unique))
        ],
        dtype=object,
    )
    pts = shapely.points(xy)
    _, nearest = shapely.STRtree(scene.lines[named]).query_nearest(pts, all_matches=False)
    close = shapely.distance(scene.lines[named][nearest], pts) < 60
    street = whole[inverse[nearest]]
    s = shapely.line_locate_point(street, pts)
    a = shapely.get_coordinates(shapely.line_interpolate_point(street, np.maximum(s - 1, 0)))
    b = shapely.get_coordinates(shapely.line_interpolate_point(street, s + 1))
    cross = (b[:, 0] - a[:, 0]) * (xy[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (xy[:, 0] - a[:, 0])
    number = np.maximum(2, np.round(s / 8).astype(int) * 2) - (cross > 0)
    label = unique[inverse[nearest]]
    out[close] = [f"số {k} {name}" for k, name in zip(number[close], label[close], strict=True)]
    return out


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.bytes(16 * n)
    return [str(uuid.UUID(bytes=raw[16 * i : 16 * i + 16], version=4)) for i in range(n)]


# --- cleanups and citizen reports ------------------------------------------------------------


def _cleanups(
    scene: _Scene,
    rng: np.random.Generator,
    days: pd.DatetimeIndex,
    t1: pd.Timestamp,
    ward_id: str,
) -> pd.DataFrame:
    """Two weekend-morning cleanups a month, at markets, hot spots or along lanes."""
    sundays = days[days.day_of_week == 6]
    chosen = []
    for _, month in pd.Series(sundays).groupby(sundays.to_period("M")):
        picks = month.to_numpy()[[0, 2]] if len(month) >= 3 else month.to_numpy()[:2]
        chosen += [pd.Timestamp(d) - pd.Timedelta(days=int(rng.random() < 0.3)) for d in picks]
    n = len(chosen)
    if n == 0:
        return conform("cleanups", gpd.GeoDataFrame(geometry=[], crs=scene.crs))
    places = np.vstack([scene.markets, scene.hotspots])
    xy = np.where(
        (rng.random(n) < 0.5)[:, None],
        places[rng.integers(0, len(places), n)] + rng.normal(0, 20, (n, 2)),
        _along(rng, scene.lines, shapely.length(scene.lines), n, (0, 3), inside=scene.ward),
    )
    start = pd.DatetimeIndex(chosen).tz_localize(TIMEZONE_NAME) + pd.to_timedelta(
        rng.integers(7 * 60, 8 * 60 + 31, n), unit="min"
    )
    end = start + pd.to_timedelta(rng.integers(120, 211, n), unit="min")
    people = rng.integers(20, 81, n)
    group = _group_of(scene, xy)
    frame = gpd.GeoDataFrame(
        {
            "cleanup_id": _uuids(rng, n),
            "ward_id": ward_id,
            "group_id": np.where(group >= 0, scene.group_ids[np.maximum(group, 0)], None),
            "started_at": start,
            "ended_at": end,
            "participants": people,
            "waste_kg": np.round(people * rng.uniform(6, 18, n) * 2) / 2,
            "notes": [_CLEANUP_NOTES[i] for i in rng.integers(0, len(_CLEANUP_NOTES), n)],
            "synthetic": True,
        },
        geometry=shapely.points(xy),
        crs=scene.crs,
    )
    return conform("cleanups", frame[frame["ended_at"] <= t1])


def _citizen_reports(
    scene: _Scene,
    rng: np.random.Generator,
    days: pd.DatetimeIndex,
    t1: pd.Timestamp,
    ward_id: str,
) -> pd.DataFrame:
    """Three to eight reports a week; urgent ones are taken up and settled faster."""
    per_day = rng.poisson(5.5 / 7, len(days))
    n = int(per_day.sum())
    mix = {
        "sidewalk_encroachment": 0.35,
        "littering": 0.2,
        "construction_order": 0.15,
        "street_vending": 0.15,
        "traffic": 0.05,
        "illegal_signage": 0.05,
        "other": 0.05,
    }
    cats = rng.choice(list(mix), n, p=list(mix.values()))
    length = shapely.length(scene.lines)
    xy = np.where(
        (rng.random(n) < 0.6)[:, None],
        _along(
            rng, scene.lines, length * scene.activity * scene.main, n, (3, 12), inside=scene.ward
        ),
        _along(rng, scene.lines, length, n, (1, 4), inside=scene.ward),
    )
    received = days.repeat(per_day).tz_localize(TIMEZONE_NAME) + pd.to_timedelta(
        rng.integers(6 * 3600, 22 * 3600, n), unit="s"
    )
    severity = rng.choice([1, 2, 3], n, p=[0.5, 0.35, 0.15])
    take_h = rng.lognormal(np.log(np.array([12.0, 5.0, 1.5])[severity - 1]), 0.6)
    settle_h = rng.lognormal(np.log(np.array([96.0, 36.0, 8.0])[severity - 1]), 0.6)
    accepted = received + pd.to_timedelta(take_h * 3600, unit="s").round("s")
    resolved = accepted + pd.to_timedelta(settle_h * 3600, unit="s").round("s")
    rejected = rng.random(n) < 0.05
    status = np.where(rejected, "rejected", "resolved").astype(object)
    late_resolve = np.asarray(resolved > t1)
    status[late_resolve & ~rejected] = "accepted"
    late_accept = np.asarray(accepted > t1)
    status[late_accept & ~rejected] = "received"
    accepted_out = pd.Series(accepted).where(~(rejected | late_accept))
    resolved_out = pd.Series(resolved).where(~(rejected | late_resolve))
    group = _group_of(scene, xy)
    frame = gpd.GeoDataFrame(
        {
            "report_id": _uuids(rng, n),
            "ward_id": ward_id,
            "group_id": np.where(group >= 0, scene.group_ids[np.maximum(group, 0)], None),
            "received_at": received,
            "category": cats,
            "severity": severity,
            "status": status,
            "accepted_at": accepted_out.to_numpy(),
            "resolved_at": resolved_out.to_numpy(),
            "synthetic": True,
        },
        geometry=shapely.points(xy),
        crs=scene.crs,
    )
    return conform("citizen_reports", frame)


# --- patrols ---------------------------------------------------------------------------------


def _patrols(
    scene: _Scene, rng: np.random.Generator, days: pd.DatetimeIndex, ward_id: str
) -> pd.DataFrame:
    """One 90-minute patrol per team per day, a fix every 30 s along shortest street paths.

    Team 1 patrols in the morning, team 2 in the late afternoon (the vending hours). Each
    patrol leaves the office, rides to hot spots, markets, schools and a few random corners,
    stops a few minutes at each, and is cut at 90 minutes wherever it is.
    """
    graph, coords = _graph(scene.routing)
    nodes = np.array(list(graph.nodes))
    node_xy = np.array([coords[v] for v in nodes])
    landmarks = np.vstack([scene.hotspots, scene.markets, scene.schools])
    inside = shapely.contains_xy(scene.ward, node_xy[:, 0], node_xy[:, 1])
    pool = nodes[inside] if inside.any() else nodes
    randoms = rng.choice(pool, size=min(16, len(pool)), replace=False)
    office_xy = shapely.get_coordinates(shapely.point_on_surface(scene.ward))[0]
    stops = [_nearest_node(node_xy, nodes, office_xy)]
    stops += [_nearest_node(node_xy, nodes, p) for p in landmarks]
    stops += [int(v) for v in randoms]
    weights = np.r_[0.0, [3.0] * len(scene.hotspots), [3.0] * len(scene.markets)]
    weights = np.r_[weights, [2.0] * len(scene.schools), [1.0] * len(randoms)]
    legs: dict[tuple[int, int], np.ndarray] = {}
    trees: dict[int, dict[Any, list[Any]]] = {}  # shortest-path predecessors from each stop

    def leg(i: int, j: int) -> np.ndarray:
        if (i, j) not in legs:
            if i not in trees:
                trees[i], _ = nx.dijkstra_predecessor_and_distance(graph, stops[i], weight="length")
            legs[(i, j)] = _path_coords(graph, coords, trees[i], stops[j])
        return legs[(i, j)]

    track_ids, teams, times, points = [], [], [], []
    offsets = np.arange(0, 90 * 60 + 1, 30)
    for day in days:
        for t, team in enumerate(PATROL_TEAMS):
            begin_min = rng.normal(7.5 * 60, 30) if t == 0 else rng.normal(16.5 * 60, 60)
            speed = rng.uniform(1.4, 2.8)
            knots_t, knots_d, path = [0.0], [0.0], [coords[stops[0]][None, :]]
            here, clock, dist = 0, 0.0, 0.0
            while clock < offsets[-1]:
                there = int(rng.choice(len(stops), p=_without(weights, here)))
                xy = leg(here, there)
                step = float(np.hypot(*np.diff(xy, axis=0).T).sum())
                path.append(xy)
                dist += step
                clock += step / speed
                knots_t.append(clock)
                knots_d.append(dist)
                clock += rng.uniform(120, 480)  # a stop: talk, warn, write up
                knots_t.append(clock)
                knots_d.append(dist)
                here = there
            route = np.vstack(path)
            along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(route, axis=0).T))]
            d = np.interp(offsets, knots_t, knots_d)
            x = np.interp(d, along, route[:, 0])
            y = np.interp(d, along, route[:, 1])
            angle = rng.uniform(0, 2 * np.pi, len(offsets))
            noise = rng.uniform(3, 8, len(offsets))
            points.append(np.column_stack([x + noise * np.cos(angle), y + noise * np.sin(angle)]))
            start = day.tz_localize(TIMEZONE_NAME) + pd.Timedelta(minutes=round(begin_min))
            times.append(start.value // 10**9 + offsets)
            track_ids.append(np.full(len(offsets), _uuid(rng), dtype=object))
            teams.append(np.full(len(offsets), team, dtype=object))
    if not points:
        return conform("patrol_points", gpd.GeoDataFrame(geometry=[], crs=scene.crs))
    frame = gpd.GeoDataFrame(
        {
            "track_id": np.concatenate(track_ids),
            "ward_id": ward_id,
            "team": np.concatenate(teams),
            "t": pd.to_datetime(np.concatenate(times), unit="s", utc=True),
        },
        geometry=shapely.points(np.vstack(points)),
        crs=scene.crs,
    )
    return conform("patrol_points", frame)


def _without(weights: np.ndarray, i: int) -> np.ndarray:
    w = weights.copy()
    w[i] = 0
    return w / w.sum()


def _nearest_node(node_xy: np.ndarray, nodes: np.ndarray, xy: np.ndarray) -> int:
    return int(nodes[np.argmin(np.hypot(*(node_xy - xy).T))])


def _graph(streets: gpd.GeoDataFrame) -> tuple[nx.Graph, dict[int, np.ndarray]]:
    """An undirected street graph on the line ends (merged to 10 cm), its largest part."""
    lines = streets.geometry.to_numpy()
    xy = [shapely.get_coordinates(g) for g in lines]
    ends = np.array([[c[0], c[-1]] for c in xy]).round(1)
    unique, inverse = np.unique(ends.reshape(-1, 2), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1, 2)
    graph = nx.Graph()
    for i, c in enumerate(xy):
        u, v = int(inverse[i, 0]), int(inverse[i, 1])
        length = float(shapely.length(lines[i]))
        if u == v or (graph.has_edge(u, v) and graph[u][v]["length"] <= length):
            continue
        graph.add_edge(u, v, length=length, coords=c, start=u)
    biggest = max(nx.connected_components(graph), key=len)
    graph = graph.subgraph(biggest).copy()
    return graph, {int(v): unique[v] for v in graph.nodes}


def _path_coords(
    graph: nx.Graph, coords: dict[int, np.ndarray], pred: dict[Any, list[Any]], b: int
) -> np.ndarray:
    """The coordinates of the shortest path to ``b``, from a Dijkstra predecessor map."""
    path = [b]
    while pred[path[-1]]:
        path.append(pred[path[-1]][0])
    path.reverse()
    if len(path) == 1:
        return coords[b][None, :]
    parts = []
    for u, v in itertools.pairwise(path):
        edge = graph[u][v]
        parts.append(edge["coords"] if edge["start"] == u else edge["coords"][::-1])
    return np.vstack(parts)
