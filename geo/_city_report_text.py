"""The paragraph of the city's monthly report, in formal Vietnamese or in English.

It reads like the ward's paragraph (:mod:`geo._report_text`, whose phrases and number
formats it reuses): who acted, what was recorded and done, then what a city adds — the
change since the previous month, the category recorded most and the wards that stand out.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from geo._report_text import _form, _phrase, _results, join_list, month_text, ward
from geo.enforcement import EnforcementSummary
from geo.i18n import Lang, number, t
from geo.summary import RateBasis

#: Wards named in the paragraph as those that stand out.
TOP_WARDS = 3


def city_paragraph(
    summary: EnforcementSummary,
    *,
    totals: dict[str, Any],
    ranked: pd.DataFrame,
    categories: pd.DataFrame,
    wards: pd.DataFrame,
    month: pd.Timestamp,
    rank_by: RateBasis,
    lang: Lang,
) -> str:
    """The paragraph for the month starting at ``month``: ``ranked`` is the wards' table in
    rank order, ``categories`` the totals per category, ``wards`` the wards' boundaries."""
    when = month_text(month, lang)
    if len(wards) == 1:
        name = wards["name"].iloc[0]
        opening = t("report.city.opening.one", lang, month=when,
                    ward=ward(str(name) if pd.notna(name) else str(wards["ward_id"].iloc[0]),
                              lang))  # fmt: skip
    else:
        opening = t("report.city.opening.other", lang, month=when,
                    count=number(len(wards), lang))  # fmt: skip
    sentences = [opening, _results(summary, lang)]
    if summary.records and totals["records_prev"]:
        sentences.append(_change(totals, lang))
    if summary.records:
        sentences.append(_top_category(categories, summary.records, lang))
    key = "records" if rank_by == "count" else rank_by
    stand_out = ranked[(ranked["records"] > 0).to_numpy() & ranked[key].notna().to_numpy()]
    if len(wards) > 1 and len(stand_out):
        sentences.append(_top_wards(stand_out.head(TOP_WARDS), rank_by, lang))
    return " ".join(sentences)


def _change(totals: dict[str, Any], lang: Lang) -> str:
    change, prev = totals["change"], totals["records_prev"]
    way = "up" if change > 0 else "down" if change < 0 else "same"
    return t(
        f"report.city.change.{way}",
        lang,
        prev=t(f"report.city.records.{_form(prev)}", lang, count=number(prev, lang)),
        pct=number(abs(100 * change / prev), lang, decimals=1),
    )


def top_category(categories: pd.DataFrame) -> pd.Series:
    """The row of the category recorded most; of several tied, the first by code (the rule of
    each ward's top category too)."""
    order = categories.sort_values(["records", "category"], ascending=[False, True])
    return order.iloc[0]


def _top_category(categories: pd.DataFrame, records: int, lang: Lang) -> str:
    top = top_category(categories)
    count = int(top["records"])
    return t(
        f"report.city.top_category.{_form(count)}",
        lang,
        what=_phrase(str(top["category"]), lang),
        count=number(count, lang),
        share=number(100 * count / records, lang, decimals=1),
    )


def _top_wards(top: pd.DataFrame, rank_by: RateBasis, lang: Lang) -> str:
    key = "records" if rank_by == "count" else rank_by
    items = []
    for _, row in top.iterrows():
        value = row[key]
        shown = number(value, lang, decimals=0 if rank_by == "count" else 1)
        items.append(t("report.city.ward_value", lang, name=row["name"], value=shown))
    return t(f"report.city.top.{rank_by}.{_form(len(items))}", lang,
             items=join_list(items, lang))  # fmt: skip
