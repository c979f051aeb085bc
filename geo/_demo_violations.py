"""Everyday violations of the demo records: where, when, by whom and what came of them.

Points come from sources (main-road frontage, markets, schools, hot spots, the rest of the
streets), each with its mix of categories; times follow each category's weekly and daily
rhythm; offender keys repeat as households and vendors do; outcomes and fines follow the
schedule. :func:`_assemble_violations` turns the records into the ``violations`` table.
"""

from __future__ import annotations

import hashlib

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo._demo_scene import _along, _Scene, _snap, _uuids
from geo.config import TIMEZONE_NAME
from geo.model import VIOLATION_STATUSES, conform, fine_schedule

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
#: The outcomes the demo draws, in the order of the shares in ``_OUTCOMES``.
_OUTCOME_STATUSES = ("fined", "warned", "removed", "resolved")
assert set(_OUTCOME_STATUSES) <= set(VIOLATION_STATUSES)
#: Probability of (fined, warned, removed, resolved) per category.
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
#: Busy and quiet days of 2025: the weeks before Tết, Tết itself, and the public holidays.
_DAY_FACTORS = (
    ("2025-01-18", "2025-01-27", 1.3),
    ("2025-01-28", "2025-02-02", 0.35),
    ("2025-04-30", "2025-05-01", 0.7),
    ("2025-08-30", "2025-09-02", 0.7),
)
_SALT = "urban-order-demo"


def _background(
    scene: _Scene,
    rng: np.random.Generator,
    days: pd.DatetimeIndex,
    seed: int,
    *,
    oversample: float,
) -> pd.DataFrame:
    """Everyday violations, ``oversample`` times too many: the campaign's effect thins them."""
    scale = len(days) / _REFERENCE_DAYS * oversample
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
