"""Assembling a planned route (stops, legs, reasons), sharing zones out, GPX (for geo.routes)."""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import gpxpy.gpx
import numpy as np
import pandas as pd
from shapely.geometry import LineString

from geo._routes_graph import StreetArrays, leg_coords, shortest_paths
from geo._routes_tour import choose_stops
from geo.config import STORAGE_CRS, TIMEZONE_NAME
from geo.errors import InputError

if TYPE_CHECKING:
    from geo.routes import Route

__all__ = ["assemble", "gpx_text", "split_zones"]

log = logging.getLogger(__name__)

_STOP_COLUMNS = [
    "order",
    "unit_id",
    "label",
    "priority",
    "zone_id",
    "node",
    "snap_m",
    "leg_m",
    "arrive_min",
    "leave_min",
    "arrive",
    "leave",
]


def assemble(
    streets: StreetArrays,
    table: gpd.GeoDataFrame,
    xy: np.ndarray,
    *,
    start: tuple[float, float],
    start_xy: np.ndarray,
    minutes: float,
    mode: str,
    speed_m_min: float,
    dwell: float,
    begin: pd.Timestamp | None,
    team: str | None,
    max_stops: int | None,
    max_snap_m: float,
    start_label: str,
    zones: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Snap, measure, choose and order the stops of one team: the fields of its ``Route``."""
    home, home_m = streets.snap(start_xy)
    if home_m[0] > max_snap_m:
        raise InputError(
            f"start ({start[0]:.6f}, {start[1]:.6f}) is {home_m[0]:.0f} m from the nearest "
            f"street node (more than {max_snap_m:.0f} m): check that it is (longitude, "
            "latitude), or load a street network that covers it."
        )
    nodes, snap_m = streets.snap(xy) if len(table) else (np.zeros(0, np.int64), np.zeros(0))
    far = snap_m > max_snap_m
    if far.any():
        names = [
            f"{u} ({m:.0f} m)" for u, m in zip(table.loc[far, "unit_id"], snap_m[far], strict=True)
        ]
        raise InputError(
            f"candidate(s) {', '.join(names[:5])}{' and more' if len(names) > 5 else ''} lie "
            f"more than {max_snap_m:.0f} m from every street node: they are outside the street "
            "network loaded (or in the wrong CRS); drop them or load a larger network."
        )
    points = np.concatenate([home, nodes])  # point 0 is the start
    sources, row = np.unique(points, return_inverse=True)
    dist, pred = shortest_paths(streets, sources)
    metres = dist[row][:, points]
    priority = np.concatenate([[0.0], table["priority"].to_numpy(dtype=float)])
    reachable = np.isfinite(metres[0]) & np.isfinite(metres[:, 0])
    allowed = reachable & (priority > 0)
    travel = metres / speed_m_min  # inf only to or from points that are not allowed
    limit = len(table) if max_stops is None else max_stops
    tour = choose_stops(
        travel, priority, allowed=allowed, dwell=dwell, budget=minutes, max_stops=limit
    )

    closed = [*tour, 0]
    leg_m = np.array([metres[a, b] for a, b in itertools.pairwise(closed)])
    stops = _stops(streets, table, tour, nodes, snap_m, leg_m, speed_m_min, dwell, begin)
    labels = [start_label, *stops["label"], start_label]
    lines = [
        LineString(leg_coords(streets, pred[row[a]], int(points[a]), int(points[b])))
        for a, b in itertools.pairwise(closed)
    ]
    if len(tour) == 1:  # no stop: no leg, not a round trip to nowhere
        leg_m, lines, labels = leg_m[:0], [], labels[:1]
    legs = gpd.GeoDataFrame(
        {
            "leg": np.arange(1, len(lines) + 1, dtype=np.int64),
            "from_label": labels[:-1],
            "to_label": labels[1:],
            "length_m": leg_m,
            "minutes": leg_m / speed_m_min,
        },
        geometry=lines,
        crs=STORAGE_CRS,
    )
    total_m = float(legs["length_m"].sum())
    log.debug("Planned %d of %d stops, %.0f m, team %s", len(tour) - 1, len(table), total_m, team)
    reasons = _reasons(table, tour, travel, priority, reachable, dwell, minutes, limit, mode)
    by_priority = table["unit_id"].iloc[np.argsort(-priority[1:], kind="stable")]
    skipped = [u for u in by_priority if u in reasons]
    return dict(
        team=team,
        mode=mode,
        start=start,
        stops=stops,
        legs=legs,
        skipped=skipped,
        total_m=total_m,
        travel_minutes=total_m / speed_m_min,
        minutes=total_m / speed_m_min + dwell * len(stops),
        dwell_minutes=dwell,
        budget_minutes=minutes,
        begin=begin,
        reasons={u: reasons[u] for u in skipped},
        note=_note(table, tour, travel, priority, allowed, dwell, minutes, limit, total_m),
        zones=zones,
    )


def split_zones(table: pd.DataFrame, names: list[str]) -> dict[str, list[str]]:
    """Share the zones out whole: heaviest total priority first, to the lightest team so far."""
    totals = table.groupby("zone_id")["priority"].sum()
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], str(kv[0])))
    load = dict.fromkeys(names, 0.0)
    zones_of: dict[str, list[str]] = {n: [] for n in names}
    for zone, total in ranked:
        team = min(names, key=lambda n: (load[n], len(zones_of[n]), names.index(n)))
        load[team] += float(total)
        zones_of[team].append(str(zone))
    return {n: sorted(z) for n, z in zones_of.items()}


def gpx_text(route: Route, *, name: str, start_label: str) -> str:
    """GPX 1.1: a waypoint per stop, a route through them, a track along the streets."""
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "urban-order"
    title = f"{name} – {route.team}" if route.team else name
    gpx.name = title
    gpx.description = route.note
    if route.begin is not None:
        gpx.time = _utc(route.begin)
    rte = gpxpy.gpx.GPXRoute(name=title)
    lon, lat = route.start
    rte.points.append(gpxpy.gpx.GPXRoutePoint(lat, lon, name=start_label))
    for stop in route.stops.itertuples(index=False):
        title_i = f"{stop.order}. {stop.label}"
        desc = f"Dừng {route.dwell_minutes:g} phút"
        if not pd.isna(stop.arrive):
            desc += f", {stop.arrive:%H:%M}–{stop.leave:%H:%M}"
        point = stop.geometry
        gpx.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                point.y,
                point.x,
                name=title_i,
                time=None if pd.isna(stop.arrive) else _utc(stop.arrive),
                description=desc,
            )
        )
        rte.points.append(gpxpy.gpx.GPXRoutePoint(point.y, point.x, name=title_i))
    if len(route.stops):
        rte.points.append(gpxpy.gpx.GPXRoutePoint(lat, lon, name=start_label))
        gpx.routes.append(rte)
        segment = gpxpy.gpx.GPXTrackSegment()
        for k, line in enumerate(route.legs.geometry):
            coords = list(line.coords)[0 if k == 0 else 1 :]
            segment.points.extend(gpxpy.gpx.GPXTrackPoint(y, x) for x, y in coords)
        track = gpxpy.gpx.GPXTrack(name=title)
        track.segments.append(segment)
        gpx.tracks.append(track)
    return str(gpx.to_xml(version="1.1"))


# --- pieces ------------------------------------------------------------------------------------


def _stops(
    streets: StreetArrays,
    table: gpd.GeoDataFrame,
    tour: list[int],
    nodes: np.ndarray,
    snap_m: np.ndarray,
    leg_m: np.ndarray,
    speed_m_min: float,
    dwell: float,
    begin: pd.Timestamp | None,
) -> gpd.GeoDataFrame:
    picked = np.asarray(tour[1:], dtype=np.int64) - 1
    travel = np.cumsum(leg_m[: len(picked)] / speed_m_min)
    arrive = travel + dwell * np.arange(len(picked))
    rows = table.iloc[picked]
    zone = rows["zone_id"] if "zone_id" in rows.columns else pd.Series(None, index=rows.index)
    lonlat = streets.lonlat[nodes[picked]] if len(picked) else np.zeros((0, 2))
    stops = gpd.GeoDataFrame(
        {
            "order": np.arange(1, len(picked) + 1, dtype=np.int64),
            "unit_id": rows["unit_id"].to_numpy(dtype=object),
            "label": rows["label"].to_numpy(dtype=object),
            "priority": rows["priority"].to_numpy(dtype=float),
            "zone_id": zone.to_numpy(dtype=object),
            "node": streets.ids[nodes[picked]] if len(picked) else np.zeros(0, dtype=object),
            "snap_m": snap_m[picked],
            "leg_m": leg_m[: len(picked)],
            "arrive_min": arrive,
            "leave_min": arrive + dwell,
        },
        geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]),
        crs=STORAGE_CRS,
    )
    if begin is None:
        nat = pd.Series(pd.NaT, index=stops.index, dtype=f"datetime64[ns, {TIMEZONE_NAME}]")
        stops["arrive"], stops["leave"] = nat, nat.copy()
    else:  # clock times to the second, and leave - arrive exactly the dwell
        offset = pd.to_timedelta(stops["arrive_min"].to_numpy(), unit="min")
        stops["arrive"] = pd.Series(begin + offset, index=stops.index).dt.round("s")
        stops["leave"] = stops["arrive"] + pd.Timedelta(minutes=dwell)
    return stops[[*_STOP_COLUMNS, "geometry"]]


def _reasons(
    table: pd.DataFrame,
    tour: list[int],
    travel: np.ndarray,
    priority: np.ndarray,
    reachable: np.ndarray,
    dwell: float,
    minutes: float,
    limit: int,
    mode: str,
) -> dict[str, str]:
    chosen = set(tour)
    out = {}
    for k, unit in enumerate(table["unit_id"], start=1):
        if k in chosen:
            continue
        alone = travel[0, k] + travel[k, 0] + dwell
        if priority[k] <= 0:
            out[unit] = "priority 0: not worth a visit now"
        elif not reachable[k]:
            way = " (one-way streets)" if mode == "motorbike" else ""
            out[unit] = f"no street path there and back from the start{way}"
        elif alone > minutes:
            out[unit] = (
                f"even alone it needs {alone:.0f} min (travel {alone - dwell:.0f} + stop "
                f"{dwell:g}); the shift has {minutes:g} min"
            )
        elif len(tour) - 1 >= limit:
            out[unit] = f"max_stops={limit} reached"
        else:
            out[unit] = "the shift is full with stops worth more per minute"
    return out


def _note(
    table: pd.DataFrame,
    tour: list[int],
    travel: np.ndarray,
    priority: np.ndarray,
    allowed: np.ndarray,
    dwell: float,
    minutes: float,
    limit: int,
    total_m: float,
) -> str:
    n, k = len(tour) - 1, len(table)
    if n:
        left = f"; {k - n} left out (see reasons)" if k > n else ""
        return f"{n} of {k} hotspots visited, {total_m / 1000:.1f} km{left}."
    if k == 0:
        return "No hotspots to visit (none in this team's zones)."
    if not (priority[1:] > 0).any():
        return "No stop planned: no hotspot has a priority above 0."
    if not allowed[1:].any():
        return "No stop planned: no hotspot can be reached there and back by street."
    if limit == 0:
        return "No stop planned: max_stops is 0."
    cand = np.flatnonzero(allowed[1:]) + 1
    need = float((travel[0, cand] + travel[cand, 0]).min()) + dwell
    return (
        f"No stop planned: no hotspot fits the {minutes:g}-minute shift; the nearest needs "
        f"{need:.0f} min there and back with a {dwell:g}-minute stop."
    )


def _utc(when: Any) -> Any:
    """A UTC datetime: GPX readers differ on offsets, all read ``Z``."""
    return pd.Timestamp(when).tz_convert("UTC").to_pydatetime(warn=False)
