"""The ``campaign`` command: list, add, edit, delete, plan and judge peak campaigns."""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any, Literal

import pandas as pd

from geo._cli_common import ward_of
from geo.errors import InputError

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Register ``campaign`` and its actions on the ``urban-order`` sub-parsers."""
    c = sub.add_parser(
        "campaign",
        help="peak campaigns (đợt ra quân cao điểm): list, add, edit, delete, suggest, show",
    )
    actions = c.add_subparsers(dest="action", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", required=True, help="the store: a .gpkg file or a PostGIS URL")
        p.add_argument("--ward-id", default=None, help="ward of the store (default: its only one)")
        p.add_argument("--json", action="store_true", help="print one JSON object last")

    ls = actions.add_parser("list", help="the ward's campaigns, latest first")
    common(ls)
    ls.set_defaults(func=_list)

    for name, helptext in (("add", "add a campaign"), ("edit", "change a campaign")):
        p = actions.add_parser(
            name,
            help=helptext,
            description="Records inside the period, the target groups and the categories are "
            "linked to the campaign; editing re-links them.",
        )
        common(p)
        if name == "edit":
            p.add_argument("campaign", help="id of the campaign (or the start of it)")
        required = name == "add"
        p.add_argument("--name", required=required, help="the campaign's name")
        p.add_argument("--start", required=required, help="first day (YYYY-MM-DD or dd/mm/yyyy)")
        p.add_argument("--end", required=required, help="last day, inclusive")
        p.add_argument("--groups", default=None, help="target groups: ids, names or numbers, ','")
        p.add_argument("--zones", default=None, help="target zones (every group in them), ','")
        p.add_argument("--categories", default=None, help="category codes, ',' (default: all)")
        p.add_argument("--teams", default=None, help="team names, ','")
        p.add_argument("--notes", default=None)
        p.add_argument("--user", default=os.environ.get("USER", "cli"))
        p.set_defaults(func=_save)

    rm = actions.add_parser("delete", help="remove a campaign; its records stay, unlinked")
    common(rm)
    rm.add_argument("campaign", help="id of the campaign (or the start of it)")
    rm.add_argument("--user", default=os.environ.get("USER", "cli"))
    rm.set_defaults(func=_delete)

    sg = actions.add_parser(
        "suggest",
        help="suggest target groups (worst by rate and growth), the workload and teams per zone",
    )
    common(sg)
    sg.add_argument("--now", default=None, help="planning date (default: the latest record)")
    sg.add_argument("--weeks", type=int, default=8, help="recent period in weeks (8)")
    sg.add_argument("--top", type=int, default=10, help="groups to suggest (10)")
    sg.add_argument("--teams", type=int, default=2, help="teams to share between zones (2)")
    sg.add_argument("--categories", default=None, help="category codes, ',' (default: all)")
    sg.set_defaults(func=_suggest)

    sh = actions.add_parser(
        "show",
        help="a campaign's summary and evaluation: before/after, displacement (WDQ, WDD)",
    )
    common(sh)
    sh.add_argument("campaign", help="id of the campaign (or the start of it)")
    sh.add_argument(
        "--buffer",
        default="adjacent",
        help="buffer area: 'adjacent' groups (default) or a ring in metres, e.g. 200",
    )
    sh.add_argument("--control", default=None, help="control groups ',' (default: the rest)")
    sh.add_argument("--lang", choices=("vi", "en"), default="vi")
    sh.set_defaults(func=_show)


# --- actions ---------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from geo.campaigns import read_campaigns
    from geo.store import Query, open_store

    store = open_store(args.db)
    ward_id = ward_of(store, args.ward_id)
    campaigns = read_campaigns(store, ward_id=ward_id)
    linked = store.read("violations", Query(ward_id=ward_id))["campaign_id"].value_counts()
    rows: list[dict[str, Any]] = [
        {
            "campaign_id": c.campaign_id,
            "name": c.name,
            "first_day": str(c.start.date()),
            "last_day": str(c.end.date()),
            "groups": len(c.target),
            "categories": list(c.categories),
            "teams": list(c.teams),
            "records": int(linked.get(c.campaign_id, 0)),
        }
        for c in campaigns
    ]
    for r in rows:
        print(
            f"{r['campaign_id'][:8]}  {r['first_day']} – {r['last_day']}  {r['name']}  "
            f"({r['groups']} groups, {r['records']} records)"
        )
    if not rows:
        print(f"No campaigns in ward {ward_id}; add one with `urban-order campaign add`.")
    if args.json:
        print(json.dumps({"ward_id": ward_id, "campaigns": rows}, ensure_ascii=False))
    return 0


def _save(args: argparse.Namespace) -> int:
    from geo.campaigns import new_campaign, save_campaign
    from geo.store import Query, open_store

    store = open_store(args.db)
    ward_id = ward_of(store, args.ward_id)
    groups = store.read("groups", Query(ward_id=ward_id))
    old = _find(store, ward_id, args.campaign) if args.action == "edit" else None
    target_groups, target_zones = _list_arg(args.groups), _list_arg(args.zones)
    if old is not None and not target_groups and not target_zones:
        target_groups = list(old.target)
    campaign = new_campaign(
        name=args.name if args.name is not None else old.name if old else "",
        first_day=args.start if args.start is not None else old.start if old else None,
        last_day=args.end if args.end is not None else old.end if old else None,
        groups=groups,
        target_groups=target_groups,
        target_zones=target_zones,
        categories=_list_arg(args.categories) or (list(old.categories) if old else []),
        teams=_list_arg(args.teams) or (list(old.teams) if old else []),
        notes=args.notes if args.notes is not None else old.notes if old else "",
        campaign_id=old.campaign_id if old else None,
        ward_id=ward_id,
    )
    changed = save_campaign(store, campaign, user=args.user)
    verb = "changed" if old else "added"
    print(
        f"{verb} {campaign.name} ({campaign.campaign_id}): {campaign.start.date()} – "
        f"{campaign.end.date()}, {len(campaign.target)} groups; {changed} record links changed"
    )
    if args.json:
        print(
            json.dumps(
                {"campaign_id": campaign.campaign_id, "links_changed": changed},
                ensure_ascii=False,
            )
        )
    return 0


def _delete(args: argparse.Namespace) -> int:
    from geo.campaigns import delete_campaign
    from geo.store import open_store

    store = open_store(args.db)
    ward_id = ward_of(store, args.ward_id)
    campaign = _find(store, ward_id, args.campaign)
    changed = delete_campaign(store, campaign, user=args.user)
    print(f"deleted {campaign.name} ({campaign.campaign_id}); {changed} records released")
    if args.json:
        print(json.dumps({"campaign_id": campaign.campaign_id, "links_changed": changed}))
    return 0


def _suggest(args: argparse.Namespace) -> int:
    from geo.campaign_plan import expected_workload, suggest_targets, teams_per_zone
    from geo.store import Query, open_store

    store = open_store(args.db)
    ward_id = ward_of(store, args.ward_id)
    violations = store.read("violations", Query(ward_id=ward_id))
    groups = store.read("groups", Query(ward_id=ward_id))
    if violations.empty:
        raise InputError(f"{args.db}: ward {ward_id} has no records to plan from yet.")
    now = args.now or violations["observed_at"].max().normalize() + pd.Timedelta(days=1)
    categories = _list_arg(args.categories) or None
    targets = suggest_targets(
        violations, groups, now=now, weeks=args.weeks, categories=categories, top=args.top
    )
    workload = expected_workload(
        violations, groups, list(targets["group_id"]), now=now, weeks=args.weeks,
        categories=categories,
    )  # fmt: skip
    workload["teams"] = teams_per_zone(workload, args.teams)
    unit = "per 1,000 residents" if targets["rate_unit"].eq("per_1000").all() else "per km²"
    print(f"Suggested targets, last {args.weeks} weeks before {pd.Timestamp(now).date()}:")
    for r in targets.itertuples():
        pct = float(r.change_pct)  # type: ignore[arg-type]
        change = "new" if math.isnan(pct) else f"{pct:+.0f} %"
        print(
            f"{r.rank:>3}. {r.name} ({r.zone_id}): {r.records} records, "
            f"{r.rate:.2f} {unit} a week, {change}, trend {r.trend}"
        )
    print("Workload and teams per zone:")
    for w in workload.itertuples():
        print(
            f"  {w.zone_id}: {w.groups} groups, {w.per_day:.1f} records a day "
            f"(busiest weekday {w.per_day_peak:.1f}), {w.teams} team(s)"
        )
    if args.json:
        print(
            json.dumps(
                {
                    "now": str(pd.Timestamp(now)),
                    "targets": json.loads(targets.to_json(orient="records")),
                    "workload": json.loads(workload.to_json(orient="records")),
                },
                ensure_ascii=False,
            )
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    from geo.campaign_report import campaign_report
    from geo.store import open_store

    store = open_store(args.db)
    ward_id = ward_of(store, args.ward_id)
    campaign = _find(store, ward_id, args.campaign)
    buffer: Literal["adjacent"] | float = "adjacent"
    if args.buffer != "adjacent":
        try:
            buffer = float(args.buffer)
        except ValueError:
            raise InputError(
                f"--buffer must be 'adjacent' or a distance in metres, got {args.buffer!r}."
            ) from None
    report = campaign_report(
        store, campaign, buffer=buffer, control=_list_arg(args.control) or None
    )
    for line in report.lines(args.lang):
        print(line)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
    return 0


# --- small helpers ---------------------------------------------------------------------------


def _find(store: Any, ward_id: str, key: str) -> Any:
    from geo.campaigns import read_campaigns

    campaigns = read_campaigns(store, ward_id=ward_id)
    hits = [c for c in campaigns if c.campaign_id == key] or [
        c for c in campaigns if c.campaign_id.startswith(key)
    ]
    if len(hits) != 1:
        known = ", ".join(f"{c.campaign_id[:8]} ({c.name})" for c in campaigns) or "none"
        what = "no campaign" if not hits else "several campaigns"
        raise InputError(f"{what} with id {key!r} in ward {ward_id}; the campaigns are: {known}.")
    return hits[0]


def _list_arg(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]
