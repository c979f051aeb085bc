"""The paragraph a ward publishes about its month, in formal Vietnamese or in English.

Every phrase comes from ``data/translations.json`` (keys ``report.*``); this module only
chooses the phrases, puts the numbers in, and writes numbers, amounts and dates the way each
language does: ``1.195`` and ``32.600.000`` in Vietnamese, ``1,195`` in English. Amounts in
the paragraph are rounded *down* to the unit wards use, with "hơn" ("over") when something
was cut off: 32,600,000 VND is "hơn 32 triệu đồng", never "gần 33 triệu".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from geo.enforcement import REPEAT_MIN_RECORDS, EnforcementSummary
from geo.i18n import Lang, category_label, number, t, translations

_MILLION = 1_000_000
_BILLION = 1_000_000_000


@dataclass(frozen=True)
class CampaignLine:
    """A peak campaign as the paragraph names it."""

    name: str
    first: pd.Timestamp
    last: pd.Timestamp

    @property
    def days(self) -> int:
        return int((self.last.normalize() - self.first.normalize()).days) + 1


def paragraph(
    summary: EnforcementSummary,
    *,
    ward_name: str,
    month: pd.Timestamp,
    campaigns: Sequence[CampaignLine],
    reports_received: int,
    reports_settled: int,
    lang: Lang,
) -> str:
    """The ward's paragraph for the month starting at ``month``."""
    sentences = [
        t("report.opening", lang, month=month_text(month, lang), ward=ward(ward_name, lang))
    ]
    if campaigns:
        items = [_campaign(c, lang) for c in campaigns]
        sentences.append(
            _plural("report.campaigns", len(items), lang, items=join_list(items, lang))
        )
    sentences.append(_results(summary, lang))
    if summary.repeat_places:
        sentences.append(
            _plural("report.repeat", summary.repeat_places, lang, least=REPEAT_MIN_RECORDS)
        )
    if summary.cleanups is not None and summary.cleanups.count:
        c = summary.cleanups
        sentences.append(
            _plural(
                "report.cleanups",
                c.count,
                lang,
                participants=number(c.participants, lang),
                waste=number(round(c.waste_kg), lang),
            )
        )
    if reports_received:
        sentences.append(
            t(
                f"report.citizen.{_form(reports_received)}",
                lang,
                received=number(reports_received, lang),
                settled=number(reports_settled, lang),
            )
        )
    return " ".join(sentences)


def _results(summary: EnforcementSummary, lang: Lang) -> str:
    if summary.records == 0:
        return t("report.no_records", lang)
    actions = []
    if summary.cases_fined:
        cases = [
            _plural("report.case", n, lang, what=_phrase(code, lang))
            for code, n in summary.cases_fined.items()
        ]
        actions.append(
            t(
                "report.fined",
                lang,
                cases=join_list(cases, lang),
                amount=amount(summary.total_fines_vnd, lang),
            )
        )
    if summary.warnings:
        actions.append(_plural("report.warned", summary.warnings, lang))
    if summary.items_removed:
        actions.append(_plural("report.items", summary.items_removed, lang))
    recorded = _plural("report.recorded", summary.records, lang)
    return "; ".join([recorded, *actions]) + "."


def _campaign(c: CampaignLine, lang: Lang) -> str:
    if c.days == 1:
        return t("report.campaign.one", lang, name=c.name, first=date_text(c.first, lang))
    same_year = c.first.year == c.last.year
    return t(
        "report.campaign.other",
        lang,
        name=c.name,
        first=date_text(c.first, lang, year=not same_year),
        last=date_text(c.last, lang),
        days=c.days,
    )


def _phrase(code: str, lang: Lang) -> str:
    """How category ``code`` reads after "N trường hợp" (its label, lower-cased, if unknown)."""
    key = f"report.phrase.{code}"
    if key in translations():
        return t(key, lang)
    label = category_label(code, lang)
    return label[:1].lower() + label[1:]


def _form(count: int) -> str:
    return "one" if count == 1 else "other"


def _plural(key: str, count: int, lang: Lang, **values: object) -> str:
    return t(f"{key}.{_form(count)}", lang, count=number(count, lang), **values)


# --- numbers, amounts, dates -----------------------------------------------------------------


def amount(vnd: int, lang: Lang) -> str:
    """An amount of VND as a ward writes it in prose: rounded down, "hơn" when cut.

    Below a million the amount is exact; then whole millions; from a billion, tenths of a
    billion.

    Examples
    --------
    >>> amount(32_600_000, "vi"), amount(32_000_000, "vi"), amount(800_000, "vi")
    ('hơn 32 triệu đồng', '32 triệu đồng', '800.000 đồng')
    >>> amount(1_234_000_000, "vi"), amount(32_600_000, "en")
    ('hơn 1,2 tỷ đồng', 'over 32 million VND')
    """
    vnd = int(vnd)
    if vnd < _MILLION:
        return t("report.amount.exact", lang, amount=number(vnd, lang))
    if vnd < _BILLION:
        whole, unit = (
            vnd // _MILLION * _MILLION,
            t("report.million", lang, value=number(vnd // _MILLION, lang)),
        )
    else:
        tenths = vnd // (_BILLION // 10)
        decimals = 0 if tenths % 10 == 0 else 1
        whole = tenths * (_BILLION // 10)
        unit = t("report.billion", lang, value=number(tenths / 10, lang, decimals=decimals))
    key = "report.amount.exact" if whole == vnd else "report.amount.over"
    return t(key, lang, amount=unit)


def month_text(month: pd.Timestamp, lang: Lang) -> str:
    """ "tháng 7/2025" or "July 2025".

    Examples
    --------
    >>> month_text(pd.Timestamp("2025-07-01"), "vi"), month_text(pd.Timestamp("2025-07-01"), "en")
    ('tháng 7/2025', 'July 2025')
    """
    name = t(f"report.month.{month.month}", lang)
    return t("report.month_year", lang, month=name, year=month.year)


def date_text(day: pd.Timestamp, lang: Lang, *, year: bool = True) -> str:
    """ "07/7/2025" (as Vietnamese offices write dates) or "7 July 2025"."""
    if lang == "vi":
        text = f"{day.day:02d}/{day.month}"
        return f"{text}/{day.year}" if year else text
    text = f"{day.day} {t(f'report.month.{day.month}', lang)}"
    return f"{text} {day.year}" if year else text


def ward(name: str, lang: Lang) -> str:
    """ "phường Kim Liên" / "Kim Liên Ward", whether or not ``name`` starts with "Phường"."""
    bare = name.strip()
    for prefix in ("phường ", "ward "):
        if bare.lower().startswith(prefix):
            bare = bare[len(prefix) :].strip()
    return t("report.ward", lang, name=bare)


def header(column: str, lang: Lang) -> str:
    """The heading of a table column in ``lang`` (the column's code if it has none)."""
    key = f"report.col.{column}"
    return t(key, lang) if key in translations() else column


def join_list(items: Sequence[str], lang: Lang) -> str:
    """ "a, b và c" / "a, b and c"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {t('report.and', lang)} {items[-1]}"
