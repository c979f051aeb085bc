"""The ``report`` command: the ward's monthly report as text, JSON, a workbook and a map; with
``--city``, the monthly report of every ward of the store (:mod:`geo.city_report`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection, Iterable
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
        help="the ward's (or with --city every ward's) monthly report: text, tables, files",
        description="Reads one calendar month (local time) of the store and prints the "
        "paragraph a ward publishes (cases fined per category, total fines, items removed, "
        "peak campaigns, clean-ups, citizen reports), then the tables per category, campaign, "
        "zone and residential group, the hot streets and the patrol coverage. With --city: "
        "one table of every ward of the store (records, change since the previous month, "
        "cases fined, fines, items removed, rates, top category), ranked, a total row, the "
        "totals per category and the city's paragraph, from store aggregates.",
    )
    r.add_argument("--db", required=True, help="the store: a .gpkg file or a PostGIS URL")
    r.add_argument("--month", required=True, metavar="YYYY-MM", help="e.g. 2025-07")
    which = r.add_mutually_exclusive_group()
    which.add_argument("--ward-id", default=None, help="ward of the store (default: its only one)")
    which.add_argument("--city", action="store_true", help="the report of every ward of the store")
    r.add_argument("--rank-by", choices=("per_1000", "per_km2", "count"), default="per_1000",
                   help="with --city: how the wards are ranked (default: per_1000)")  # fmt: skip
    r.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write the report: .xlsx (a sheet per table), .csv (--city: the wards' "
                   "table) or .png (a ward's map)")  # fmt: skip
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
    _check_out(args)
    store = open_store(args.db)
    if args.city:
        return _city_report(args, store)
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
    _print_tables(report.tables, TABLES, lang, long=_LONG_TABLES)
    out = args.out
    xlsx = out if out is not None and out.suffix.lower() == ".xlsx" else args.xlsx
    png = out if out is not None and out.suffix.lower() == ".png" else args.png
    for option, write in ((xlsx, report.to_xlsx), (png, report.to_png)):
        if option is not None:
            print(f"wrote {write(option)}")
    if args.json:
        print(report.to_json())
    return 0


def _check_out(args: argparse.Namespace) -> None:
    """Refuse an output the chosen report cannot write, before any work."""
    from geo.errors import InputError

    if args.city and (args.xlsx or args.png):
        raise InputError("--city writes its files with --out FILE.xlsx or --out FILE.csv.")
    if args.out is None:
        return
    kinds = (".xlsx", ".csv") if args.city else (".xlsx", ".png")
    if args.out.suffix.lower() not in kinds:
        what = "the city report" if args.city else "a ward's report"
        raise InputError(
            f"--out {args.out}: {what} is written as {' or '.join(kinds)}; name the file so."
        )


def _city_report(args: argparse.Namespace, store: Any) -> int:
    from geo._report_text import month_text
    from geo.city_report import CITY_TABLES, city_monthly_report
    from geo.i18n import number

    lang: Lang = args.lang
    report = city_monthly_report(store, month=args.month, lang=lang, rank_by=args.rank_by)
    if report.summary.records == 0:
        print(f"note: no violations recorded in the store's wards in {args.month}; "
              "the report shows zeros", file=sys.stderr)  # fmt: skip
    print(t("report.city.title", lang, month=month_text(report.start, lang),
            count=number(report.totals["wards"], lang)))  # fmt: skip
    print()
    print(report.paragraph)
    # the wards' ranking keeps its total row, its last, when it is cut
    _print_tables(report.tables, CITY_TABLES, lang, long={"wards"}, keep_last={"wards"})
    if args.out is not None:
        if args.out.suffix.lower() == ".xlsx":
            report.to_xlsx(args.out)
        else:
            report.to_csv(args.out)
        print(f"wrote {args.out}")
    if args.json:
        print(report.to_json())
    return 0


def _print_tables(
    tables: dict[str, pd.DataFrame],
    names: Iterable[str],
    lang: Lang,
    *,
    long: Collection[str],
    keep_last: Collection[str] = (),
) -> None:
    """Print a report's tables under their sheet names, the ``long`` ones cut to their first
    rows (with the last row too for those in ``keep_last``): the files carry every row."""
    for name in names:
        table = tables[name]
        if name == "summary":
            table = table[table["figure"] != "paragraph"]
        if table.empty:
            continue
        print()
        print(f"## {t(f'report.sheet.{name}', lang)}")
        if name in keep_last and len(table) - _PRINTED_ROWS > 2:
            rest = len(table) - 1 - _PRINTED_ROWS
            cut = pd.concat([table.head(_PRINTED_ROWS), table.tail(1)])
            print(_text_table(cut, lang, head=None))
            print(t("report.more_rows", lang, count=rest))
        else:
            print(_text_table(table, lang, head=_PRINTED_ROWS if name in long else None))


def _text_table(table: pd.DataFrame, lang: Lang, *, head: int | None) -> str:
    from geo.report import shown_table

    more = 0
    if head is not None and len(table) - head > 2:  # worth cutting: the head, a word on the rest
        more = len(table) - head
        table = table.head(head)
    text = shown_table(table, lang).to_string(index=False)
    return text + ("\n" + t("report.more_rows", lang, count=more) if more > 2 else "")
