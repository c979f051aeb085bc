"""The July 2025 peak campaign of the demo records: its plan, its effect and its own records.

One campaign, 7–27 July, in two waves on the hottest residential groups. Inside a wave the
targeted groups' records are the campaign's own and reproduce the ward's published July
figures exactly (the ``CAMPAIGN_*`` constants); afterwards the targets stay quieter and their
neighbours get a little busier (displacement).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo._demo_activity import PATROL_TEAMS
from geo._demo_scene import _along, _group_of, _Scene, _uuid
from geo._demo_violations import _offender_keys, _times

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
#: The everyday records are drawn ``_AFTER_NEIGHBOUR`` times too many, so that thinning can.
_AFTER_TARGET, _AFTER_NEIGHBOUR = 0.6, 1.15
_CAMPAIGN_HOURS = ((8.0, 1.5, 1.0), (10.0, 1.5, 0.8), (15.0, 1.5, 0.8), (19.5, 1.5, 1.0))


def _campaign_plan(
    scene: _Scene,
    rng: np.random.Generator,
    background: pd.DataFrame,
    waves: list[tuple[pd.Timestamp, pd.Timestamp]],
    ward_id: str,
) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """Pick the hottest groups of the months before the first wave as each wave's targets;
    the campaign row is repeated per wave (its records carry the one campaign's id)."""
    if not waves:
        return [], []
    before = background[background["observed_at"] < waves[0][0]]
    group = _group_of(scene, before[["x", "y"]].to_numpy())
    counts = np.bincount(group[group >= 0], minlength=len(scene.group_ids))
    ranked = np.argsort(-counts, kind="stable")
    ranked = ranked[counts[ranked] > 0]
    if len(ranked) == 0:
        ranked = np.arange(len(scene.group_ids))
    targets = [ranked[:n] for n in _TARGETS]
    # One campaign, as the ward announced it: from the first wave's first day to the last
    # wave's last day, on every group a wave targeted.
    every = np.unique(np.concatenate(targets))
    days = " và ".join(f"{a:%d/%m}–{b:%d/%m}" for a, b in waves)
    row = {
        "campaign_id": _uuid(rng),
        "ward_id": ward_id,
        "name": "Ra quân cao điểm tháng 7/2025",
        "start": waves[0][0],
        "end": waves[-1][1],
        "target": ",".join(scene.group_ids[np.sort(every)]),
        "categories": _CAMPAIGN_CATEGORIES,
        "teams": ",".join(PATROL_TEAMS),
        "notes": f"Hai đợt cao điểm: {days} (dữ liệu tổng hợp)",
    }
    return targets, [row] * len(waves)


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


def _month_of_the_waves(
    background: pd.DataFrame, waves: list[tuple[pd.Timestamp, pd.Timestamp]]
) -> pd.DataFrame:
    """The ward published its July figures as the month's: every fine of that month is a
    wave's. Everyday records of the month that the draw made "fined" end as warnings, so the
    monthly report (``geo.report``) finds the published figures, and only them."""
    if not waves:
        return background
    first = waves[0][0].normalize().replace(day=1)
    t = background["observed_at"]
    month = (t >= first).to_numpy() & (t < first + pd.offsets.MonthBegin(1)).to_numpy()
    fined = month & (background["status"] == "fined").to_numpy()
    out = background.copy()
    out.loc[fined, "status"] = "warned"
    out.loc[fined, "fine_vnd"] = None
    return out


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
        warned_mix = {  # the campaign's categories only: its records are those
            "street_vending": 0.35,
            "sidewalk_encroachment": 0.27,
            "traffic": 0.22,
            "littering": 0.1,
            "illegal_signage": 0.06,
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
