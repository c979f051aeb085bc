"""The ``urban-order`` command line: the main jobs of the app, without Streamlit."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from geo.config import DEFAULT_STORE_PATH, PROJECT_ROOT, TIMEZONE_NAME
from geo.errors import UrbanOrderError
from geo.store import is_postgis_url

log = logging.getLogger(__name__)

#: The environment variable through which ``urban-order app`` hands the store to the app.
DB_ENV = "URBAN_ORDER_DB"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("fiona").setLevel(logging.WARNING)
    try:
        return int(args.func(args) or 0)
    except UrbanOrderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="urban-order",
        description="Urban-order monitoring for Vietnamese wards: boundaries, records, maps.",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="build a demo store (ward, 92 groups, synthetic records)")
    d.add_argument("--out", type=Path, required=True, help="GeoPackage to create")
    d.add_argument("--osm", type=Path, help="local OSM XML street file (with --ward)")
    d.add_argument("--ward", type=Path, help="ward boundary file (with --osm)")
    d.add_argument("--online", action="store_true", help="download Kim Liên from OpenStreetMap")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--groups", type=int, default=92, help="residential groups (default 92)")
    d.add_argument("--zones", type=int, default=3, help="zones (default 3)")
    d.add_argument("--population", type=int, default=101_000)
    d.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    d.set_defaults(func=_demo)

    a = sub.add_parser("app", help="start the web app (Streamlit)")
    a.add_argument(
        "--db", default=None, help=f"store: .gpkg or PostGIS URL (default {DEFAULT_STORE_PATH})"
    )
    a.add_argument("--port", type=int, default=8501)
    a.add_argument("--address", default="127.0.0.1", help="address to listen on")
    a.set_defaults(func=_app)

    dg = sub.add_parser("draft-groups", help="draft residential groups and zones from streets")
    dg.add_argument("--ward", type=Path, required=True, help="ward boundary file")
    src = dg.add_mutually_exclusive_group(required=True)
    src.add_argument("--osm", type=Path, help="local OSM XML street file")
    src.add_argument("--graphml", type=Path, help="street network as GraphML")
    dg.add_argument("--groups", type=int, required=True)
    dg.add_argument("--zones", type=int, required=True)
    dg.add_argument("--population", type=int, default=None)
    dg.add_argument("--ward-id", default=None, help="id of the ward (default: from its name)")
    dg.add_argument("--seed", type=int, default=0)
    dg.add_argument("--out", type=Path, required=True, help="GeoPackage: layers groups, zones")
    dg.set_defaults(func=_draft_groups)

    im = sub.add_parser("import", help="upload records (CSV, Excel, GeoJSON, KML/KMZ, GPX, JPEG)")
    im.add_argument("files", type=Path, nargs="+", metavar="FILE")
    im.add_argument("--db", required=True, help="the store: a .gpkg file or a PostGIS URL")
    im.add_argument(
        "--kind",
        choices=("violations", "cleanups", "patrols", "citizen-reports"),
        default=None,
        help="what the rows are (default: violations; GPX tracks are patrols)",
    )
    im.add_argument("--crs", default=None, help="CRS of projected x/y columns, e.g. EPSG:5897")
    im.add_argument("--max-mb", type=int, default=None, metavar="MIB",
                    help="largest file to read (default 50, the app's limit); raise it for a "
                    "city's bulk import on the server")  # fmt: skip
    im.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COL=FIELD",
        help="say which column holds which field (repeatable); FIELD 'ignore' skips a column",
    )
    im.add_argument("--user", default=os.environ.get("USER", "cli"))
    im.add_argument("--team", default=None, help="team of patrol tracks without a team column")
    im.add_argument("--ward-id", default=None, help="ward of the records (default: the only one)")
    im.add_argument("--json", action="store_true", help="end with one JSON line of the counts")
    im.set_defaults(func=_import)

    b = sub.add_parser("boundaries", help="check or import ward / zone / group boundaries")
    bsub = b.add_subparsers(dest="action", required=True)
    bc = bsub.add_parser("check", help="topology report of a group file")
    bc.add_argument("groups", type=Path, help="group polygons (GPKG, GeoJSON, SHP, KML/KMZ)")
    bc.add_argument("--ward", type=Path, help="ward polygon file")
    bc.add_argument("--zones", type=Path, help="zone polygon file")
    bc.add_argument("--layer", default=None, help="layer of a multi-layer groups file")
    bc.add_argument("--crs", default=None, help="CRS of a file that declares none")
    bc.add_argument("--json", action="store_true", help="print the problems as JSON")
    bc.add_argument("--problems-out", type=Path, help="write the fault areas to this file")
    bc.set_defaults(func=_boundaries_check)
    bi = bsub.add_parser("import", help="replace boundaries in a store, keeping old versions")
    bi.add_argument("file", type=Path)
    bi.add_argument("--db", required=True, help="the store: a .gpkg file or a PostGIS URL")
    bi.add_argument("--level", choices=("wards", "zones", "groups"), required=True)
    bi.add_argument("--ward-id", default=None, help="ward of the rows when the file has none")
    bi.add_argument("--valid-from", default=None, help="date the new boundaries start (today)")
    bi.add_argument("--crs", default=None, help="CRS of a file that declares none")
    bi.add_argument("--user", default=os.environ.get("USER", "cli"))
    bi.add_argument(
        "--accept-problems",
        action="store_true",
        help="import groups even when the topology report finds problems",
    )
    bi.set_defaults(func=_boundaries_import)

    from geo._cli_campaign import add_commands as add_campaign_commands
    from geo._cli_hotspots import add_commands
    from geo._cli_patrol import add_commands as add_patrol_commands
    from geo._cli_report import add_commands as add_report_commands
    from geo._cli_store import add_commands as add_store_commands
    from geo._cli_users import add_commands as add_user_commands

    add_commands(sub)
    add_patrol_commands(sub)
    add_report_commands(sub)
    add_campaign_commands(sub)
    add_store_commands(sub)
    add_user_commands(sub)
    return p


def _demo(args: argparse.Namespace) -> int:
    from geo.demo import build_demo

    def progress(fraction: float, step: str) -> None:
        print(f"[{fraction:4.0%}] {step}", file=sys.stderr)

    summary = build_demo(
        args.out,
        osm=args.osm,
        ward=args.ward,
        online=args.online,
        seed=args.seed,
        n_groups=args.groups,
        n_zones=args.zones,
        population=args.population,
        overwrite=args.overwrite,
        progress=progress,
    )
    print(f"built {summary.path} ({summary.source}) in {summary.seconds:.1f} s")
    for table, n in summary.rows.items():
        print(f"  {table:<16} {n:>8,}")
    return 0


def _app(args: argparse.Namespace) -> int:
    from geo.readers import DEFAULT_LIMITS

    env = dict(os.environ)
    if args.db is not None:
        env[DB_ENV] = args.db if is_postgis_url(args.db) else str(Path(args.db).resolve())
    cmd = [
        # streamlit run, after importing what a first visit needs (views/serve.py)
        sys.executable, "-m", "views.serve", "run", str(PROJECT_ROOT / "app.py"),
        "--server.port", str(args.port),
        "--server.address", args.address,
        "--server.enableStaticServing", "true",
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.maxUploadSize", str(DEFAULT_LIMITS.max_bytes // 2**20),
    ]  # fmt: skip
    print(f"urban-order: open http://{args.address}:{args.port} in a browser", file=sys.stderr)
    # Become the server (no child left behind when this process is stopped).
    os.chdir(PROJECT_ROOT)
    os.execve(sys.executable, cmd, env)


def _draft_groups(args: argparse.Namespace) -> int:
    import pyogrio

    from geo.boundaries import read_boundaries
    from geo.demo import slug
    from geo.drafting import draft_groups
    from geo.network import load_network, street_edges

    ward = read_boundaries(args.ward, level="ward")
    graph = load_network(args.osm or args.graphml)
    streets = street_edges(graph)
    name = ward["name"].iloc[0] if pd.notna(ward["name"].iloc[0]) else args.ward.stem
    ward_id = args.ward_id or slug(str(name))
    groups, zones = draft_groups(
        ward,
        streets,
        n_groups=args.groups,
        n_zones=args.zones,
        ward_id=ward_id,
        population=args.population,
        seed=args.seed,
    )
    for layer, frame in (("groups", groups), ("zones", zones)):
        out = frame.drop(columns=["valid_from", "valid_to"])
        pyogrio.write_dataframe(out, args.out, layer=layer, driver="GPKG")
    print(f"wrote {len(groups)} groups in {len(zones)} zones to {args.out}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from geo.columns import parse_overrides
    from geo.errors import MappingError
    from geo.ingest import UploadOptions, commit_upload, prepare_upload
    from geo.readers import file_bytes, upload_name
    from geo.store import open_store

    store = open_store(args.db)
    options = UploadOptions(
        kind=args.kind.replace("-", "_") if args.kind else None,
        crs=args.crs,
        overrides=parse_overrides(args.map),
        user=args.user,
        team=args.team,
        ward_id=args.ward_id,
    )
    if args.max_mb is not None:
        if args.max_mb < 1:
            raise UrbanOrderError(f"--max-mb must be at least 1, not {args.max_mb}.")
        limits = dataclasses.replace(options.limits, max_bytes=args.max_mb * 2**20)
        options = dataclasses.replace(options, limits=limits)
    summaries = []
    for path in args.files:
        if not path.is_file():
            raise UrbanOrderError(f"{path}: no such file.")
        data = file_bytes(path, limits=options.limits)  # a file over the limit is never read
        try:
            prepared = prepare_upload(data, name=upload_name(path.name), store=store,
                                      options=options)  # fmt: skip
        except MappingError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        summary = commit_upload(prepared, store=store)
        summaries.append(summary)
        _print_upload(summary, prepared.problems())
    totals = {
        key: sum(s[key] for s in summaries)
        for key in ("rows", "accepted", "duplicates", "quarantined", "snapped", "outside",
                    "flagged")
    }  # fmt: skip
    reasons: dict[str, int] = {}
    for s in summaries:
        for reason, n in s["reasons"].items():
            reasons[reason] = reasons.get(reason, 0) + n
    if args.json:
        print(json.dumps({**totals, "reasons": reasons, "files": summaries},
                         ensure_ascii=False, default=str))  # fmt: skip
    return 0


def _print_upload(summary: dict[str, object], problems: pd.DataFrame) -> None:
    print(f"{summary['file']}: {summary['rows']} rows read -> {summary['accepted']} accepted, "
          f"{summary['duplicates']} duplicates, {summary['quarantined']} quarantined "
          f"({summary['snapped']} snapped, {summary['outside']} outside every group, "
          f"{summary['flagged']} flagged)")  # fmt: skip
    if summary.get("same_file_as"):
        print(f"  the same file was uploaded before (upload {summary['same_file_as']}): "
              "nothing added")  # fmt: skip
    mapping = summary.get("mapping") or {}
    assert isinstance(mapping, dict)
    for table, text in mapping.items():
        print(f"  {table}: " + str(text).replace("\n", "\n  "))
    shown = problems.head(20).to_dict("records")
    for p in shown:
        print(f"  row {p['row']}, column {p['column'] or '—'} [{p['severity']}] {p['reason']}: "
              f"{p['message']}")  # fmt: skip
    if len(problems) > len(shown):
        print(f"  … and {len(problems) - len(shown)} more problems (see the app's Hồ sơ page)")


def _boundaries_check(args: argparse.Namespace) -> int:
    from geo.boundaries import read_boundaries
    from geo.topology import topology_report

    ward = read_boundaries(args.ward, level="ward", crs=args.crs) if args.ward else None
    # With the ward known, a declared VN-2000 CRS that misplaces the groups is caught.
    groups = read_boundaries(
        args.groups, level="group", layer=args.layer, crs=args.crs, reference=ward
    )
    zones = (
        read_boundaries(args.zones, level="zone", crs=args.crs, reference=ward)
        if args.zones
        else None
    )
    report = topology_report(groups, ward=ward, zones=zones)
    if args.problems_out and len(report.problems):
        report.problems.to_file(args.problems_out)
    if args.json:
        rows = report.problems.drop(columns="geometry").to_dict(orient="records")
        print(
            json.dumps(
                {"ok": report.ok, "groups": len(groups), "problems": rows},
                ensure_ascii=False,
                indent=2,
                default=str,
            )
        )
    else:
        print(f"{args.groups}: {len(groups)} groups")
        print(report.summary() if not report.ok else "no topology problems found")
        for row in report.problems.itertuples():
            print(f"- {row.kind}: {row.message}")
    return 0 if report.ok else 1


def _boundaries_import(args: argparse.Namespace) -> int:
    from geo.boundaries import read_boundaries
    from geo.store import Query, open_store
    from geo.topology import topology_report

    store = open_store(args.db)
    level = {"wards": "ward", "zones": "zone", "groups": "group"}[args.level]
    ward_id = args.ward_id or _only_ward(store.ward_ids(), args.db)
    wards = store.read("wards", Query(ward_id=ward_id)) if ward_id else None
    reference = wards if wards is not None and len(wards) else None
    frame = read_boundaries(args.file, level=level, crs=args.crs, reference=reference)  # type: ignore[arg-type]
    if ward_id:
        frame["ward_id"] = frame["ward_id"].fillna(ward_id)
    if args.level == "groups":
        # New groups are checked against the ward and the zones they will live in.
        zones = store.read("zones", Query(ward_id=ward_id)) if ward_id else None
        report = topology_report(frame, ward=reference, zones=zones)
        if not report.ok:
            print(report.summary(), file=sys.stderr)
            for row in report.problems.itertuples():
                print(f"- {row.kind}: {row.message}", file=sys.stderr)
            if not args.accept_problems:
                print(
                    "nothing imported: fix the file, or import anyway with --accept-problems",
                    file=sys.stderr,
                )
                return 1
        frame = report.groups
    when = pd.Timestamp(args.valid_from) if args.valid_from else pd.Timestamp.now()
    if when.tzinfo is None:
        when = when.tz_localize(TIMEZONE_NAME)
    store.replace_boundaries(args.level, frame, valid_from=when, user=args.user)
    print(
        f"{args.db}: {len(frame)} {args.level} valid from {when:%Y-%m-%d %H:%M}; "
        "the previous version is kept"
    )
    return 0


def _only_ward(ward_ids: list[str], db: Path) -> str | None:
    """The store's ward when it has exactly one; None when it has none."""
    if len(ward_ids) > 1:
        raise UrbanOrderError(
            f"{db} holds several wards ({', '.join(ward_ids)}); say which with --ward-id."
        )
    return ward_ids[0] if ward_ids else None


if __name__ == "__main__":
    raise SystemExit(main())
