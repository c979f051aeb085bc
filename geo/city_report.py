"""The city's monthly report: every ward on one table, one paragraph and one map.

:func:`city_monthly_report` gathers one calendar month (local time, Asia/Ho_Chi_Minh) of the
wards a store shows — a city inspectorate's 126 wards, or the three of a user seen through
:class:`geo.access.ScopedStore` — and gives, per ward, the records of the month and of the
previous one, the change, the cases fined, the fines, the items removed, the records per
1,000 residents and per km², and the category recorded most; a total row; the totals per
category; the wards ranked; and a paragraph in formal Vietnamese or in English.

A year of a city holds about a million records, a month some 80,000, so nothing is read
record by record: two :meth:`geo.store.Store.aggregate` calls (the month per ward, category
and status; the previous month per ward and category) and the ward boundaries are all it
reads. A case is
fined as in the ward's report (:mod:`geo.enforcement`): status ``"fined"`` or a fine above
zero; the figures of a ward here equal those of its own :func:`geo.report.monthly_report`.

The :class:`CityReport` writes itself as JSON, as an Excel workbook (one sheet per table)
and as CSV (the wards' table), headers in the report's language.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo import _city_report_tables as _tables
from geo._city_report_text import city_paragraph
from geo._report_text import header
from geo.enforcement import EnforcementSummary
from geo.errors import InputError
from geo.i18n import LANGUAGES, Lang, t
from geo.report import _plain, month_period
from geo.store import Query, Store
from geo.summary import RateBasis

__all__ = ["CITY_TABLES", "CityReport", "city_monthly_report"]

log = logging.getLogger(__name__)

#: The report's tables, in the order they are written as sheets.
CITY_TABLES = ("summary", "wards", "categories")
#: The month's aggregate: per ward, category and status (warnings and removals need it).
_BY = ("ward_id", "category", "status")


@dataclass(frozen=True)
class CityReport:
    """One month of several wards: figures, paragraph, tables (code-named columns), map layer.

    ``summary`` holds the wards' enforcement figures together (no clean-ups or repeat places:
    those need the records). ``totals`` adds ``wards``, ``wards_with_records``, ``records_prev``,
    ``change``, ``change_pct``, ``population`` and ``area_km2`` (of the wards), ``per_1000``,
    ``per_km2`` and ``outside`` (records of the month in no current ward; counted only when
    the report covers every ward the store shows). ``tables`` maps each name of
    :data:`CITY_TABLES` to a DataFrame: ``wards`` holds the wards ranked by ``rank_by``, then
    a total row (no rank, no ward id). ``layers["wards"]`` holds the ward polygons with their
    figures (``count`` is the month's records) for a choropleth.
    """

    month: str
    lang: Lang
    start: pd.Timestamp
    end: pd.Timestamp
    rank_by: RateBasis
    summary: EnforcementSummary
    totals: dict[str, Any]
    paragraph: str
    tables: dict[str, pd.DataFrame]
    layers: dict[str, gpd.GeoDataFrame] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Every figure and table as JSON-ready values (tables as lists of rows)."""
        return {
            "month": self.month,
            "lang": self.lang,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "rank_by": self.rank_by,
            **self.summary.to_dict(),
            **{k: _plain(v) for k, v in self.totals.items()},
            "paragraph": self.paragraph,
            "tables": {
                name: [
                    {str(k): _plain(v) for k, v in row.items()}
                    for row in self.tables[name].to_dict("records")
                ]
                for name in CITY_TABLES
                if name != "summary"
            },
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as one line of JSON (UTF-8 text, not escaped)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def to_xlsx(self, path: str | Path) -> Path:
        """Write the workbook: one sheet per table, headers in the report's language."""
        from geo._report_files import write_book

        tables = {t(f"report.sheet.{n}", self.lang): self.tables[n] for n in CITY_TABLES}
        return write_book(tables, self.lang, Path(path))

    def to_csv(self, path: str | Path | None = None) -> bytes:
        """The wards' table as CSV for spreadsheets (UTF-8 with BOM, headers in the report's
        language, formula-looking text escaped); also written to ``path`` when given."""
        from geo.export import table_csv

        table = self.tables["wards"].astype(object)
        table = table.where(table.notna(), None)  # an empty cell, not "<NA>"
        data = table_csv(table.set_axis([header(str(c), self.lang) for c in table.columns], axis=1))
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_bytes(data)
        return data


def city_monthly_report(
    store: Store,
    *,
    month: str,
    lang: Lang = "vi",
    ward_ids: Sequence[str] | None = None,
    rank_by: RateBasis = "per_1000",
) -> CityReport:
    """Gather the monthly report of every ward of ``store`` (or of ``ward_ids``) for ``month``.

    Parameters
    ----------
    store
        An open store, or a :class:`geo.access.ScopedStore`: the report covers the wards it
        shows (a user of three wards gets a report of those three).
    month
        ``"YYYY-MM"``: the calendar month in local time (see :func:`geo.report.month_period`).
    lang
        Language of the paragraph, labels and (when written) headers: ``"vi"`` or ``"en"``.
    ward_ids
        Some of ``store.ward_ids()``; default: all of them.
    rank_by
        How the wards are ranked: records per 1,000 residents (``"per_1000"``), per km²
        (``"per_km2"``) or records (``"count"``); highest first, ties by records then id,
        wards without the figure (no population) last.

    Returns
    -------
    CityReport
        A month without records gives a report of zeros whose paragraph says so.

    Raises
    ------
    InputError
        For a malformed month, an unknown language or ranking, a ward the store does not show,
        or a store without wards.
    """
    start, end, wards = _check(store, month=month, lang=lang, ward_ids=ward_ids, rank_by=rank_by)
    previous = start - pd.DateOffset(months=1)
    # Each aggregate scans the store's covering index (a GeoPackage's SQLite lets go of the
    # GIL meanwhile): on two free cores, side by side, the two take the time of one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        month_ahead = pool.submit(store.aggregate, "violations", Query(start=start, end=end),
                                  by=_BY)  # fmt: skip
        before = store.aggregate(
            "violations", Query(start=previous, end=start), by=("ward_id", "category")
        )
        current = month_ahead.result()
    ids = set(wards["ward_id"])
    current = _tables.with_status_counts(current)
    mine = current[current["ward_id"].isin(ids).to_numpy(dtype=bool, na_value=False)]
    before = before.assign(category=before["category"].astype("string").fillna("other"))
    before = before[before["ward_id"].isin(ids).to_numpy(dtype=bool, na_value=False)]

    ward_layer = _tables.ward_figures(mine, before.groupby("ward_id")["count"].sum(), wards)
    categories = _tables.category_table(mine, before, lang)
    summary = _tables.city_summary(categories, mine)
    outside = int(current["count"].sum()) - summary.records if ward_ids is None else 0
    totals = _tables.city_totals(ward_layer, outside=outside)
    ranked = _tables.ranked_wards(ward_layer, rank_by, lang)
    text = city_paragraph(summary, totals=totals, ranked=ranked, categories=categories,
                          wards=wards, month=start, rank_by=rank_by, lang=lang)  # fmt: skip
    tables = {
        "summary": _tables.summary_table(summary, totals, text, lang),
        "wards": _tables.with_total(ranked, _tables.total_row(ranked, totals, categories, lang)),
        "categories": categories,
    }
    log.info("city report %s: %d wards, %d records, %d fined", month, len(wards),
             summary.records, summary.fined)  # fmt: skip
    return CityReport(
        month=f"{start:%Y-%m}",
        lang=lang,
        start=start,
        end=end,
        rank_by=rank_by,
        summary=summary,
        totals=totals,
        paragraph=text,
        tables=tables,
        layers={"wards": ward_layer},
    )


def _check(
    store: Store, *, month: str, lang: str, ward_ids: Sequence[str] | None, rank_by: str
) -> tuple[pd.Timestamp, pd.Timestamp, gpd.GeoDataFrame]:
    start, end = month_period(month)
    if lang not in LANGUAGES:
        raise InputError(f"lang={lang!r}: choose one of {', '.join(LANGUAGES)}.")
    if rank_by not in ("per_1000", "per_km2", "count"):
        raise InputError(f"rank_by={rank_by!r}: choose per_1000, per_km2 or count.")
    known = store.ward_ids()
    if not known:
        raise InputError("The store shows no ward: import ward boundaries first.")
    if isinstance(ward_ids, str):
        raise InputError(f"ward_ids must be a list of ward ids, e.g. [{ward_ids!r}].")
    chosen = list(known) if ward_ids is None else list(dict.fromkeys(ward_ids))
    unknown = [w for w in chosen if w not in known]
    if unknown or not chosen:
        raise InputError(
            f"ward_ids: {', '.join(map(repr, unknown)) or 'none given'}; "
            f"choose among {', '.join(known)}."
        )
    wards = store.read("wards")
    wards = wards[wards["ward_id"].isin(chosen).to_numpy(dtype=bool, na_value=False)]
    return start, end, gpd.GeoDataFrame(wards.sort_values("ward_id").reset_index(drop=True))
