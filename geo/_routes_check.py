"""Checking the inputs of geo.routes once, at the boundary; each error names the fix."""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo._routes_plan import split_zones
from geo.config import TIMEZONE
from geo.errors import InputError

__all__ = [
    "check_begin",
    "check_candidates",
    "check_options",
    "check_start",
    "check_team_starts",
    "check_teams",
]

log = logging.getLogger(__name__)

_REQUIRED = ("unit_id", "priority")


def check_options(
    minutes: float,
    mode: str,
    dwell: float,
    max_stops: int | None,
    speed_m_s: float | None,
    max_snap_m: float,
    *,
    speeds: Mapping[str, float],
) -> float:
    """Validate the options every planner shares; return the speed in m/s."""
    problems = []
    if mode not in speeds:
        problems.append(f"mode must be one of {', '.join(speeds)}, got {mode!r}")
    if not (_real(minutes) and math.isfinite(minutes) and minutes > 0):
        problems.append(f"minutes (the shift length) must be a positive number, got {minutes!r}")
    if not (_real(dwell) and math.isfinite(dwell) and dwell >= 0):
        problems.append(f"dwell_minutes must be >= 0 (Koper: 10-15), got {dwell!r}")
    if max_stops is not None and not (isinstance(max_stops, numbers.Integral) and max_stops >= 0):
        problems.append(f"max_stops must be a whole number >= 0 or None, got {max_stops!r}")
    if speed_m_s is not None and not (
        _real(speed_m_s) and math.isfinite(speed_m_s) and speed_m_s > 0
    ):
        problems.append(f"speed_m_s must be a positive number of m/s, got {speed_m_s!r}")
    if not max_snap_m > 0:
        problems.append(f"max_snap_m must be > 0, got {max_snap_m!r}")
    if problems:
        raise InputError("; ".join(problems) + ".")
    return float(speed_m_s) if speed_m_s is not None else speeds[mode]


def _real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_candidates(candidates: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A clean copy: str ``unit_id`` and ``label``, float ``priority``, index 0..n-1."""
    if not isinstance(candidates, gpd.GeoDataFrame):
        raise InputError("candidates must be a GeoDataFrame of hotspots (points).")
    missing = [c for c in _REQUIRED if c not in candidates.columns]
    if missing:
        raise InputError(
            f"candidates lack the column(s) {', '.join(missing)}; give each hotspot a unit_id "
            "and a priority (geo.routes.visit_priority(score, hours_since_visit))."
        )
    if candidates.empty:
        raise InputError("candidates is empty: there are no hotspots to plan a route through.")
    if candidates.crs is None:
        raise InputError("candidates has no CRS; set it (EPSG:4326 for longitude/latitude).")
    table = candidates.reset_index(drop=True).copy()
    table["unit_id"] = table["unit_id"].astype(str)
    priority = pd.to_numeric(table["priority"], errors="coerce")
    problems = []
    bad = ~np.isfinite(priority.to_numpy(dtype=float)) | (priority < 0).to_numpy()
    if bad.any():
        problems.append(f"priority must be a number >= 0 (rows {_rows(table, bad)})")
    empty = (table.geometry.isna() | table.geometry.is_empty).to_numpy()
    if empty.any():
        problems.append(f"no location (rows {_rows(table, empty)})")
    dup = table["unit_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        problems.append(f"unit_id repeats ({_rows(table, dup)}); each hotspot once")
    if problems:
        raise InputError("candidates: " + "; ".join(problems) + ".")
    table["priority"] = priority.astype(float)
    labels = table["label"] if "label" in table.columns else pd.Series(pd.NA, index=table.index)
    table["label"] = labels.where(labels.notna(), table["unit_id"]).astype(str)
    return table


def _rows(table: pd.DataFrame, mask: np.ndarray) -> str:
    ids = table.loc[mask, "unit_id"].astype(str).tolist()
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return ", ".join(ids[:5]) + more


def check_start(start: Any) -> tuple[float, float]:
    """(lon, lat) as floats, refusing what cannot be a longitude/latitude pair."""
    try:
        if isinstance(start, str):
            raise TypeError
        lon, lat = (float(v) for v in start)
    except (TypeError, ValueError):
        raise InputError(
            f"start must be (longitude, latitude) in degrees, e.g. (105.8365, 21.0068), "
            f"got {start!r}."
        ) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(f"start {start!r} is not (longitude, latitude); swapped or metres?")
    return lon, lat


def check_begin(begin: pd.Timestamp | str | None) -> pd.Timestamp | None:
    """A tz-aware timestamp (naive ones are local time in Hà Nội), or None."""
    if begin is None:
        return None
    try:
        when = pd.Timestamp(begin)
    except (TypeError, ValueError):
        raise InputError(f"begin must be a time, e.g. '2025-05-01 08:00', got {begin!r}.") from None
    if pd.isna(when):
        raise InputError("begin is missing (NaT); give the time the team sets off, or None.")
    return when.tz_localize(TIMEZONE) if when.tzinfo is None else when


def check_teams(
    teams: Mapping[str, Sequence[str]] | Sequence[str], table: gpd.GeoDataFrame
) -> dict[str, list[str]]:
    """Team -> zone_ids: a mapping as given (each zone to one team), a list shared out."""
    missing = table["zone_id"].isna().to_numpy()
    if missing.any():
        raise InputError(
            f"candidates without a zone_id (rows {_rows(table, missing)}); give every hotspot "
            "its zone (geo.assign), or plan them with plan_route."
        )
    table = table.assign(zone_id=table["zone_id"].astype(str))
    if isinstance(teams, str) or not len(teams):
        raise InputError("teams must be a list of team names or a mapping team -> zone_ids.")
    if isinstance(teams, Mapping):
        zones_of = {
            str(t): [zs] if isinstance(zs, str) else [str(z) for z in zs] for t, zs in teams.items()
        }
        seen: dict[str, str] = {}
        for name, zones in zones_of.items():
            for zone in zones:
                if zone in seen and seen[zone] != name:
                    raise InputError(
                        f"zone {zone!r} is given to both {seen[zone]!r} and {name!r}; "
                        "a zone belongs to one team."
                    )
                seen[zone] = name
        left = sorted(set(table["zone_id"]) - set(seen))
        if left:
            log.warning("No team patrols zone(s) %s: their hotspots are not planned", left)
        return zones_of
    names = [str(t) for t in teams]
    if len(set(names)) < len(names):
        raise InputError(f"team names repeat in {names}; give each team once.")
    return split_zones(table, names)


def check_team_starts(
    start: tuple[float, float] | Mapping[str, tuple[float, float]], names: list[str]
) -> dict[str, tuple[float, float]]:
    """Team -> (lon, lat): one start for all, or each team's own."""
    if not isinstance(start, Mapping):
        origin = check_start(start)
        return dict.fromkeys(names, origin)
    missing = [n for n in names if n not in start]
    if missing:
        raise InputError(f"start has no point for team(s) {', '.join(missing)}.")
    return {n: check_start(start[n]) for n in names}
