"""The ``report`` command: the ward's monthly report as text, JSON, a workbook and a map."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from geo.i18n import LANGUAGES, Lang, t

__all__ = ["add_commands"]

#: The long tables, of which only the first ``_PRINTED_ROWS`` rows are printed (the files
#: carry them all).
_LONG_TABLES = {"groups", "cleanups"}
_PRINTED_ROWS = 10


def add_commands(sub: Any) -> None:
    """Register ``report`` on the ``urban-order`` sub-parsers."""
    r = sub.add_parser(
        "report",
        help="the ward's monthly report: the paragraph it publishes, tables, workbook, map",
        description="Reads one calendar month (local time) of the store and prints the "
        "paragraph a ward publishes (cases fined per category, total fines, items removed, "
        "peak campaigns, clean-ups, citizen reports), then the tables per category, campaign, "
        "zone and residential group, the hot streets and the patrol coverage.",
    )
    r.add_argument("--db", required=True, help="the store: a .gpkg file or a PostGIS URL")
    r.add_argument("--month", required=True, metavar="YYYY-MM", help="e.g. 2025-07")
    r.add_argument("--ward-id", default=None, help="ward of the store (default: its only one)")
    r.add_argument("--lang", choices=LANGUAGES, default="vi", help="language (default: vi)")
    r.add_argument("--json", action="store_true", help="print one JSON object last")
    r.add_argument("--xlsx", type=Path, default=None, metavar="FILE",
                   help="write an Excel workbook, one sheet per table")  # fmt: skip
    r.add_argument("--png", type=Path, default=None, metavar="FILE", help="write the month's map")
    r.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from geo._cli_common import ward_of
    from geo._report_text import month_text, ward
    from geo.report import TABLES, month_period, monthly_report
    from geo.store import open_store

    month_period(args.month)  # a malformed month fails before the store is opened
    store = open_store(args.db)
    ward_id = ward_of(store, args.ward_id)
    report = monthly_report(store, ward_id=ward_id, month=args.month, lang=args.lang)
    if report.summary.records == 0:
        print(f"note: no violations recorded in ward {ward_id} in {args.month}; "
              "the report shows zeros", file=sys.stderr)  # fmt: skip
    lang: Lang = args.lang
    title = t("report.title", lang, month=month_text(report.start, lang),
              ward=ward(report.ward_name, lang))  # fmt: skip
    print(title)
    print()
    print(report.paragraph)
    for name in TABLES:
        table = report.tables[name]
        if name == "summary":
            table = table[table["figure"] != "paragraph"]
        if table.empty:
            continue
        print()
        print(f"## {t(f'report.sheet.{name}', lang)}")
        print(_text_table(table, lang, head=_PRINTED_ROWS if name in _LONG_TABLES else None))
    for option, write in ((args.xlsx, report.to_xlsx), (args.png, report.to_png)):
        if option is not None:
            print(f"wrote {write(option)}")
    if args.json:
        print(report.to_json())
    return 0


def _text_table(table: pd.DataFrame, lang: Lang, *, head: int | None) -> str:
    from geo.report import shown_table

    more = 0
    if head is not None and len(table) - head > 2:  # worth cutting: the head, a word on the rest
        more = len(table) - head
        table = table.head(head)
    text = shown_table(table, lang).to_string(index=False)
    return text + ("\n" + t("report.more_rows", lang, count=more) if more > 2 else "")
