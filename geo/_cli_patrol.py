"""The ``coverage`` and ``route`` commands: patrol coverage of the streets, and patrol routes."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo._cli_common import ward_of
from geo.errors import InputError, MappingError
from geo.model import local_time

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register ``coverage`` and ``route`` on the ``urban-order`` sub-parsers."""
    c = sub.add_parser(
        "coverage",
        help="which streets patrols went along (street coverage from GPS tracks)",
        description="A street edge counts as covered when tracks ran within --tolerance metres "
        "of it, along it, over at least half its length. Tracks are GPX tracks or CSV/Excel "
        "sheets of timed points (team, time, latitude, longitude); GPS jumps are removed and "
        "gaps split before anything counts. With --db and no --tracks, the store's patrols.",
    )
    source = c.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--db", help="the store (its streets, groups and patrols): .gpkg or PostGIS URL"
    )
    source.add_argument("--network", type=Path, help="streets: OSM XML or GraphML file")
    c.add_argument("--tracks", type=Path, nargs="+", default=None, metavar="FILE")
    c.add_argument("--ward-id", default=None, help="ward of the store (default: its only one)")
    c.add_argument("--from", dest="start", default=None, help="start of the window (local time)")
    c.add_argument("--to", dest="end", default=None, help="end of the window (a day: inclusive)")
    c.add_argument("--tolerance", type=float, default=25.0, help="metres from the street (25)")
    c.add_argument("--team", default=None, help="team of tracks whose file names none")
    c.add_argument("--crs", default=None, help="CRS of projected coordinates in the tracks")
    c.add_argument("--map", action="append", default=[], metavar="COL=FIELD")
    c.add_argument("--edges-out", type=Path, default=None, help="covered edges as GeoJSON")
    c.add_argument("--json", action="store_true", help="print one JSON object last")
    c.set_defaults(func=_coverage)

    r = sub.add_parser(
        "route",
        help="plan a patrol route through the hot spots most worth a visit now, as GPX",
        description="Chooses hot street segments by score and time since the last visit, "
        "orders them into a round along the streets from the start (the ward office) that "
        "fits the shift, with --dwell minutes at each stop, and writes GPX for phones.",
    )
    r.add_argument("--db", required=True, help="the store: a .gpkg file or a PostGIS URL")
    r.add_argument("--ward-id", default=None, help="ward of the store (default: its only one)")
    r.add_argument(
        "--team",
        action="append",
        default=None,
        help="team name; repeat for several teams, which split the zones (one GPX each)",
    )
    r.add_argument("--start", default=None, metavar="LAT,LON", help="default: the ward office")
    r.add_argument("--minutes", type=float, default=120.0, help="length of the shift (120)")
    r.add_argument("--mode", choices=("walk", "motorbike"), default="walk")
    r.add_argument("--dwell", type=float, default=12.0, help="minutes at each stop (12)")
    r.add_argument("--now", default=None, help="time the shift starts (default: now)")
    r.add_argument("--out", type=Path, required=True, help="GPX file to write")
    r.add_argument("--json", action="store_true", help="print one JSON object last")
    r.set_defaults(func=_route)


# --- coverage --------------------------------------------------------------------------------


def _coverage(args: argparse.Namespace) -> int:
    from geo.coverage import coverage_by_area, coverage_totals, street_coverage
    from geo.network import load_network, street_edges
    from geo.store import Query, open_store
    from geo.tracks import clean_tracks

    if args.network and not args.tracks:
        raise InputError("--network needs --tracks FILE... (GPX tracks or CSV of timed points).")
    start = _when(args.start, "--from")
    end = _when(args.end, "--to", inclusive_day=True)
    store = open_store(args.db) if args.db else None
    ward_id = ward_of(store, args.ward_id) if store else None
    if store is not None:
        streets = store.read("streets", Query(ward_id=ward_id))
        if streets.empty:
            raise InputError(f"{args.db}: the store has no streets for ward {ward_id}.")
    else:
        streets = street_edges(load_network(args.network))
    if args.tracks:
        fixes = _read_tracks(args.tracks, store=store, args=args)
    else:
        assert store is not None  # --db or --network, and --network came with --tracks
        fixes = store.read("patrol_points", Query(ward_id=ward_id, start=start, end=end))
    cleaned = clean_tracks(fixes)
    edges = street_coverage(streets, cleaned, tolerance_m=args.tolerance, start=start, end=end)
    totals = coverage_totals(edges)
    print(
        f"{totals['covered_km']:.2f} km of {totals['network_km']:.2f} km of streets covered "
        f"({totals['share']:.1%}); {len(cleaned):,} fixes in {cleaned.attrs['segments']} track "
        f"pieces, {cleaned.attrs['jumps']} GPS jumps removed, {cleaned.attrs['unusable']} "
        "fixes without time or place"
    )
    result: dict[str, Any] = {
        **totals,
        "fixes": len(cleaned),
        "jumps": cleaned.attrs["jumps"],
        "segments": cleaned.attrs["segments"],
        "tolerance_m": args.tolerance,
        "from": None if start is None else start.isoformat(),
        "to": None if end is None else end.isoformat(),
    }
    if store is not None:
        for level, key in (("zones", "zone_id"), ("groups", "group_id")):
            areas = store.read(level, Query(ward_id=ward_id))
            table = coverage_by_area(edges, areas, id_column=key)
            result[f"by_{level[:-1]}"] = {
                str(i): {k: _num(v) for k, v in row.items()} for i, row in table.iterrows()
            }
        print("least covered groups:")
        for gid, row in table.sort_values("share").head(5).iterrows():
            print(f"  {gid}: {row['covered_km']:.2f} of {row['street_km']:.2f} km")
    if args.edges_out:
        out = edges.copy()
        out["last_visit"] = out["last_visit"].map(lambda v: None if pd.isna(v) else v.isoformat())
        out.to_file(args.edges_out, driver="GeoJSON")
        print(f"wrote {len(out)} street edges to {args.edges_out}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


def _read_tracks(paths: list[Path], *, store: Any, args: argparse.Namespace) -> gpd.GeoDataFrame:
    """Patrol fixes from GPX/CSV/Excel files through the upload checks, without storing them."""
    from geo.columns import parse_overrides
    from geo.ingest import UploadOptions, prepare_upload
    from geo.model import conform
    from geo.readers import file_bytes, upload_name
    from geo.store import create_store

    options = UploadOptions(
        kind="patrols",
        crs=args.crs,
        overrides=parse_overrides(args.map),
        team=args.team,
        ward_id=args.ward_id,
    )
    frames = []
    with tempfile.TemporaryDirectory(prefix="urban-order-tracks-") as tmp:
        target = store if store is not None else create_store(Path(tmp) / "tracks.gpkg")
        for path in paths:
            if not path.is_file():
                raise InputError(f"{path}: no such file.")
            try:
                data = file_bytes(path, limits=options.limits)  # never read when too big
                prepared = prepare_upload(data, name=upload_name(path.name), store=target,
                                          options=options)  # fmt: skip
            except MappingError as exc:
                raise InputError(f"{path}: {exc} Name the columns with --map COL=FIELD.") from exc
            for part in prepared.parts:
                if part.kind != "patrols":
                    continue
                frames.append(part.records)
                if len(part.quarantine):
                    first = part.quarantine.iloc[0]
                    example = f"row {first['row_number']}: {first['reasons']}"
                    print(f"  {path.name}: {len(part.quarantine)} rows not usable, e.g. {example}",
                          file=sys.stderr)  # fmt: skip
    if not frames:
        raise InputError(
            f"No track points in {', '.join(p.name for p in paths)}: give GPX files with "
            "tracks (<trk>), or sheets of timed points with --map for unknown columns."
        )
    return conform("patrol_points", pd.concat(frames, ignore_index=True))


# --- route -----------------------------------------------------------------------------------


def _route(args: argparse.Namespace) -> int:
    from geo.network import network_from_edges
    from geo.patrol import (
        latest_fix,
        load_patrol_inputs,
        patrol_now,
        patrol_status,
        route_candidates,
        start_point,
    )
    from geo.routes import plan_route, plan_team_routes, route_gpx
    from geo.store import Query, open_store

    store = open_store(args.db)
    ward_id = ward_of(store, args.ward_id)
    latest = latest_fix(store, ward_id=ward_id)
    now = _when(args.now, "--now") or patrol_now(latest)
    if args.now is None and latest is not None and now <= latest.ceil("min"):
        print(f"note: the latest patrol is from {latest:%d/%m/%Y %H:%M}; planning as of then "
              "(give --now to choose)", file=sys.stderr)  # fmt: skip
    inputs = load_patrol_inputs(store, ward_id=ward_id, now=now)
    if inputs["streets"].empty:
        raise InputError(f"{args.db}: the store has no streets for ward {ward_id}.")
    status = patrol_status(**inputs, now=now)
    candidates = route_candidates(status)
    if candidates.empty:
        raise InputError(f"{args.db}: no hot streets in the 8 weeks before {now:%d/%m/%Y}.")
    if args.start:
        start = _lon_lat(args.start)
    else:
        places = store.read("places", Query(ward_id=ward_id))
        start, _ = start_point(places, store.read("wards", Query(ward_id=ward_id)),
                               ward_id=ward_id)  # fmt: skip
    graph = network_from_edges(inputs["streets"])
    options = {"start": start, "minutes": args.minutes, "mode": args.mode,
               "dwell_minutes": args.dwell, "begin": now}  # fmt: skip
    teams = args.team or ["Đội 1"]
    if len(teams) == 1:
        routes = {teams[0]: plan_route(graph, candidates, team=teams[0], **options)}
    else:
        routes = plan_team_routes(graph, candidates, teams=teams, **options)
    written = []
    for i, (team, route) in enumerate(routes.items()):
        out = args.out if len(routes) == 1 else args.out.with_stem(f"{args.out.stem}-{i + 1}")
        out.write_text(route_gpx(route, name=f"Tuần tra {team}"), encoding="utf-8")
        written.append(str(out))
        _print_route(team, route, out)
    if args.json:
        print(json.dumps({
            "now": now.isoformat(),
            "start": {"lat": start[1], "lon": start[0]},
            "routes": [_route_json(team, r, path)
                       for (team, r), path in zip(routes.items(), written, strict=True)],
        }, ensure_ascii=False))  # fmt: skip
    return 0


def _print_route(team: str, route: Any, out: Path) -> None:
    stops = route.stops
    print(f"{team}: {len(stops)} stops, {route.total_m / 1000:.2f} km, {route.minutes:.0f} of "
          f"{route.budget_minutes:.0f} min ({route.mode}) -> {out}")  # fmt: skip
    for _, s in stops.iterrows():
        arrive = (
            s["arrive"].strftime("%H:%M") if pd.notna(s["arrive"]) else f"+{s['arrive_min']:.0f}'"
        )
        print(f"  {int(s['order']):>2}. {arrive}  {s['label']}")
    if route.note:
        print(f"  {route.note}")


def _route_json(team: str, route: Any, path: str) -> dict[str, Any]:
    return {
        "team": team,
        "gpx": path,
        "stops": [
            {
                "order": int(s["order"]),
                "unit_id": str(s["unit_id"]),
                "label": str(s["label"]),
                "arrive": None if pd.isna(s["arrive"]) else s["arrive"].isoformat(),
                "lat": float(s.geometry.y),
                "lon": float(s.geometry.x),
            }
            for _, s in route.stops.iterrows()
        ],
        "total_km": round(route.total_m / 1000, 3),
        "travel_minutes": round(route.travel_minutes, 1),
        "minutes": round(route.minutes, 1),
        "skipped": list(route.skipped),
    }


# --- small helpers ---------------------------------------------------------------------------


def _when(text: str | None, option: str, *, inclusive_day: bool = False) -> pd.Timestamp | None:
    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except ValueError as exc:
        raise InputError(f"{option} {text!r} is not a time; write 2025-07-01 or "
                         "'2025-07-01 08:00'.") from exc  # fmt: skip
    if inclusive_day and len(text.strip()) <= 10:
        stamp += pd.Timedelta(days=1)  # "--to 2025-07-07" includes that day
    return local_time(stamp)


def _lon_lat(text: str) -> tuple[float, float]:
    try:
        lat, lon = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(
            f"--start {text!r}: write LAT,LON in degrees, e.g. 21.0068,105.8365."
        ) from exc
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"--start {text!r}: LAT,LON out of range (latitude first).")
    return lon, lat


def _num(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value if not pd.isna(value) else None
