"""The ward's monthly report: the paragraph it publishes, the figures, the tables and the map.

:func:`monthly_report` reads one calendar month (local time, Asia/Ho_Chi_Minh) of a ward
from the store and gathers

- the enforcement figures (:func:`geo.enforcement.enforcement_summary`): cases fined per
  category, total fines, items removed, warnings, clean-ups, repeat places;
- the paragraph, in formal Vietnamese or in English (:mod:`geo._report_text`), naming the
  peak campaigns under way, the clean-ups and the citizen reports received and settled;
- tables per category, campaign, zone and residential group (records, per 1,000 residents,
  fined, fines, items removed, change since the previous month, streets patrolled), the
  month's hot street segments, the patrol coverage, and clean-ups against littering
  (:mod:`geo._report_tables`).

The :class:`MonthlyReport` writes itself as JSON, as an Excel workbook with one sheet per
table and as a PNG map (:mod:`geo._report_files`).
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo import _report_tables as _tables
from geo._report_text import CampaignLine, header, paragraph
from geo.config import TIMEZONE_NAME
from geo.enforcement import EnforcementSummary, enforcement_summary
from geo.errors import InputError
from geo.i18n import LANGUAGES, Lang, number, t
from geo.store import Query, Store

__all__ = ["TABLES", "MonthlyReport", "month_period", "monthly_report"]

log = logging.getLogger(__name__)

#: The report's tables, in the order they are printed and written as sheets.
TABLES = ("summary", "categories", "campaigns", "zones", "groups", "hotspots", "coverage",
          "cleanups")  # fmt: skip
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class MonthlyReport:
    """One month of a ward: figures, paragraph, tables (code-named columns) and map layers.

    ``start`` and ``end`` bound the month (local time, end exclusive). Citizen reports are
    those received in the month; ``reports_settled`` counts those of them resolved before its
    end. ``patrol`` holds the month's street coverage inside the ward (``street_km``,
    ``covered_km``, ``share``; None without streets), the GPS ``fixes`` kept and the ``days``
    with patrols. ``tables`` maps each name of :data:`TABLES` to a DataFrame; ``layers``
    holds the map's GeoDataFrames (``groups`` with their figures, ``zones``, ``fined``).
    """

    ward_id: str
    ward_name: str
    month: str
    lang: Lang
    start: pd.Timestamp
    end: pd.Timestamp
    summary: EnforcementSummary
    paragraph: str
    reports_received: int
    reports_settled: int
    patrol: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    layers: dict[str, gpd.GeoDataFrame] = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Every figure and table as JSON-ready values (tables as lists of rows)."""
        return {
            "ward_id": self.ward_id,
            "ward_name": self.ward_name,
            "month": self.month,
            "lang": self.lang,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            **self.summary.to_dict(),
            "citizen_reports": {
                "received": self.reports_received,
                "settled": self.reports_settled,
            },
            "patrol": {k: _plain(v) for k, v in self.patrol.items()},
            "paragraph": self.paragraph,
            "tables": {
                name: [
                    {str(k): _plain(v) for k, v in row.items()}
                    for row in self.tables[name].to_dict("records")
                ]
                for name in TABLES
                if name != "summary"
            },
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as one line of JSON (UTF-8 text, not escaped)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def to_xlsx(self, path: str | Path) -> Path:
        """Write the workbook: one sheet per table, headers in the report's language."""
        from geo._report_files import write_xlsx

        return write_xlsx(self, Path(path))

    def to_png(self, path: str | Path) -> Path:
        """Draw the month's map: groups by records per 1,000 residents, fined cases, zones."""
        from geo._report_files import write_png

        return write_png(self, Path(path))


def monthly_report(store: Store, *, ward_id: str, month: str, lang: Lang = "vi") -> MonthlyReport:
    """Gather the monthly report of ``ward_id`` for ``month`` from ``store``.

    Parameters
    ----------
    store
        An open store (:func:`geo.store.open_store`).
    ward_id
        The ward; one of ``store.ward_ids()``.
    month
        ``"YYYY-MM"``: the calendar month in local time, from 00:00 on the 1st (inclusive)
        to 00:00 on the 1st of the next month (exclusive).
    lang
        Language of the paragraph, labels and (when written) headers: ``"vi"`` or ``"en"``.

    Returns
    -------
    MonthlyReport
        A month without records gives a report of zeros whose paragraph says so.

    Raises
    ------
    InputError
        For a malformed month, an unknown ward or language.
    """
    start, end = _check(store, ward_id=ward_id, month=month, lang=lang)
    span, previous = (start, end), start - pd.DateOffset(months=1)
    ward_q = Query(ward_id=ward_id)
    month_q = Query(ward_id=ward_id, start=start, end=end)
    both = store.read("violations", Query(ward_id=ward_id, start=previous, end=end))
    current = both[both["observed_at"] >= start].reset_index(drop=True)
    groups, zones = store.read("groups", ward_q), store.read("zones", ward_q)
    streets = store.read("streets", ward_q)
    cleanups = store.read("cleanups", month_q)
    reports = store.read("citizen_reports", month_q)
    wards = store.read("wards", ward_q)
    ward_name = (
        str(wards["name"].iloc[0]) if len(wards) and pd.notna(wards["name"].iloc[0]) else ward_id
    )

    summary = enforcement_summary(current, cleanups=cleanups)
    totals, by_zone, by_group = _tables.patrol_coverage(
        streets, store.read("patrol_points", month_q), wards=wards, zones=zones,
        groups=groups, period=span,
    )  # fmt: skip
    campaigns = _tables.campaign_table(store.read("campaigns", ward_q), current, span)
    settled = int((reports["resolved_at"].notna() & (reports["resolved_at"] < end)).sum())
    text = paragraph(
        summary,
        ward_name=ward_name,
        month=start,
        campaigns=[_campaign_line(c) for _, c in campaigns.iterrows()],
        reports_received=len(reports),
        reports_settled=settled,
        lang=lang,
    )
    zone_table = _tables.unit_table(
        both, current, groups, level="zone", zones=zones, patrol=by_zone, period=span
    )
    group_table = _tables.unit_table(
        both, current, groups, level="group", zones=zones, patrol=by_group, period=span
    )
    figures = _figures(summary, text=text, received=len(reports), settled=settled,
                       patrol=totals, campaigns=len(campaigns), lang=lang)  # fmt: skip
    named: dict[str, pd.DataFrame] = {
        "summary": figures,
        "categories": _tables.category_table(current, lang),
        "campaigns": campaigns,
        "zones": pd.DataFrame(zone_table.drop(columns="geometry")),
        "groups": pd.DataFrame(group_table.drop(columns="geometry")),
        "hotspots": _tables.hotspot_table(current, streets),
        "coverage": _tables.coverage_table(
            totals, by_zone, zones, ward_id=ward_id, ward_label=t("report.ward_total", lang)
        ),
        "cleanups": _tables.cleanup_table(current, cleanups, groups),
    }
    log.info("monthly report %s %s: %d records, %d fined", ward_id, month, summary.records,
             summary.fined)  # fmt: skip
    return MonthlyReport(
        ward_id=ward_id,
        ward_name=ward_name,
        month=f"{start:%Y-%m}",
        lang=lang,
        start=start,
        end=end,
        summary=summary,
        paragraph=text,
        reports_received=len(reports),
        reports_settled=settled,
        patrol=totals,
        tables=named,
        layers={"groups": group_table, "zones": zones, "fined": _fined(current)},
    )


def month_period(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The local start (inclusive) and end (exclusive) of ``month``, written ``"YYYY-MM"``.

    Examples
    --------
    >>> [ts.isoformat() for ts in month_period("2025-12")]
    ['2025-12-01T00:00:00+07:00', '2026-01-01T00:00:00+07:00']
    """
    match = _MONTH.match(str(month).strip())
    if match is None:
        raise InputError(f"month={month!r}: write the month as YYYY-MM, e.g. 2025-07.")
    start = pd.Timestamp(year=int(match[1]), month=int(match[2]), day=1, tz=TIMEZONE_NAME)
    return start, start + pd.DateOffset(months=1)


def _check(
    store: Store, *, ward_id: str, month: str, lang: str
) -> tuple[pd.Timestamp, pd.Timestamp]:
    span = month_period(month)
    if lang not in LANGUAGES:
        raise InputError(f"lang={lang!r}: choose one of {', '.join(LANGUAGES)}.")
    wards = store.ward_ids()
    if ward_id not in wards:
        known = ", ".join(wards) if wards else "none (import boundaries first)"
        raise InputError(f"No ward {ward_id!r} in the store; its wards are {known}.")
    return span


def _campaign_line(row: pd.Series) -> CampaignLine:
    return CampaignLine(name=str(row["campaign"]), first=pd.Timestamp(row["first_day"]),
                        last=pd.Timestamp(row["last_day"]))  # fmt: skip


def _fined(current: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    fines = pd.to_numeric(current["fine_vnd"], errors="coerce").fillna(0)
    fined = current["status"].eq("fined").fillna(False) | (fines > 0)
    return current.loc[fined.to_numpy(), ["record_id", "category", "fine_vnd", "geometry"]]


def _figures(
    s: EnforcementSummary,
    *,
    text: str,
    received: int,
    settled: int,
    patrol: dict[str, Any],
    campaigns: int,
    lang: Lang,
) -> pd.DataFrame:
    """The summary sheet: one row per figure (code, label in ``lang``, value)."""
    cleanups = s.cleanups
    values: dict[str, object] = {
        "records": s.records,
        "fined": s.fined,
        "total_fines_vnd": s.total_fines_vnd,
        "items_removed": s.items_removed,
        "warnings": s.warnings,
        "resolved": s.resolved,
        "removals": s.removals,
        "repeat_places": s.repeat_places,
        "campaigns": campaigns,
        "cleanups": cleanups.count if cleanups else 0,
        "cleanup_participants": cleanups.participants if cleanups else 0,
        "waste_kg": cleanups.waste_kg if cleanups else 0.0,
        "reports_received": received,
        "reports_settled": settled,
        "patrol_share": patrol.get("share"),
        "patrol_fixes": patrol.get("fixes"),
        "patrol_days": patrol.get("days"),
        "paragraph": text,
    }
    return pd.DataFrame(
        {
            "figure": list(values),
            "label": [t(f"report.figure.{k}", lang) for k in values],
            "value": pd.Series(list(values.values()), dtype=object),
        }
    )


def _plain(value: Any) -> Any:
    """A JSON value: Python numbers, None for missing, ISO text for times."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, date):  # a Timestamp is one too
        return value.isoformat()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


#: Columns left out of shown tables (ids nobody reads).
_NOT_SHOWN = ("campaign_id", "figure")


def shown_table(table: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """A report table as people read it: headers and numbers in ``lang``, ids left out.

    Every cell becomes text (a share as a percentage, amounts with the language's
    separators), for a terminal or a page.
    """
    shown = table.drop(columns=[c for c in _NOT_SHOWN if c in table.columns])
    # a summary row's value reads as its figure (a share as a percentage, …)
    kinds = table.loc[shown.index, "figure"].tolist() if "figure" in table else None
    return pd.DataFrame(
        {
            header(str(c), lang): [
                _cell(v, kinds[i] if kinds and c == "value" else str(c), lang)
                for i, v in enumerate(shown[c].tolist())
            ]
            for c in shown.columns
        }
    )


def _cell(value: Any, column: str, lang: Lang) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    if column in ("patrol_share",):
        return f"{number(float(value) * 100, lang, decimals=1)} %"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return number(value, lang)
    if isinstance(value, float):
        decimals = 0 if value.is_integer() else 1 if round(value, 1) == value else 2
        return number(value, lang, decimals=decimals)
    return str(value)
