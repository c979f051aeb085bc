"""One campaign, judged: what its teams did (fines, removals, clean-ups, repeat places) and
what changed (before/after in the targets, next door and in the rest of the ward; WDQ, WDD).

Used by the "Chiến dịch" page and ``urban-order campaign show``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.campaign_eval import CampaignEvaluation, campaign_areas, evaluate_campaign, explain
from geo.campaigns import Campaign
from geo.enforcement import EnforcementSummary, enforcement_summary
from geo.i18n import Lang, category_label, number, t
from geo.store import Query, Store

__all__ = ["CampaignReport", "campaign_report", "group_changes"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CampaignReport:
    """A campaign's summary and evaluation.

    ``groups``: the ward's groups with ``area`` and the ``before`` / ``after`` counts of the
    campaign's categories in the periods just before and just after it (for the map).
    """

    campaign: Campaign
    summary: EnforcementSummary
    evaluation: CampaignEvaluation
    groups: gpd.GeoDataFrame

    def lines(self, lang: Lang = "vi") -> list[str]:
        """The report as text lines: the campaign, what was done, what changed."""
        c, s = self.campaign, self.summary
        out = [
            t(
                "campaign.report.head",
                lang,
                name=c.name,
                first=c.start.strftime("%d/%m/%Y"),
                last=c.end.strftime("%d/%m/%Y"),
                groups=len(c.target),
                teams=", ".join(c.teams) or "—",
            ),
            t(
                "campaign.report.done",
                lang,
                records=number(s.records, lang),
                fined=number(s.fined, lang),
                fines=number(s.total_fines_vnd, lang),
                removed=number(s.items_removed, lang),
                warnings=number(s.warnings, lang),
            ),
        ]
        for code, n in s.cases_fined.items():
            out.append(f"  - {category_label(code, lang)}: {number(n, lang)}")
        if s.cleanups is not None:
            out.append(t("campaign.report.cleanups", lang, n=number(s.cleanups.count, lang)))
        if s.repeat_places is not None:
            out.append(t("campaign.report.repeats", lang, n=number(s.repeat_places, lang)))
        out += explain(self.evaluation, lang=lang)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready values."""
        c, ev = self.campaign, self.evaluation
        return {
            "campaign_id": c.campaign_id,
            "name": c.name,
            "first_day": str(c.start.date()),
            "last_day": str(c.end.date()),
            "target": list(c.target),
            "categories": list(c.categories),
            "teams": list(c.teams),
            "summary": self.summary.to_dict(),
            "areas": {
                area: sorted(ev.areas.index[ev.areas == area].astype(str))
                for area in ("target", "buffer", "control")
            },
            "periods": _records(ev.periods),
            "counts": _records(ev.counts),
            "effects": _records(ev.effects),
        }


def campaign_report(
    store: Store,
    campaign: Campaign,
    *,
    buffer: Literal["adjacent"] | float = "adjacent",
    control: Sequence[str] | None = None,
    followups_weeks: Sequence[int] = (1, 4),
) -> CampaignReport:
    """Gather a campaign's summary and evaluation from the store.

    Parameters
    ----------
    store
        The store holding the campaign's ward.
    campaign
        The campaign (from :func:`geo.campaigns.read_campaigns`).
    buffer
        ``"adjacent"``: the groups touching the targets; a number: the groups within that
        many metres of them.
    control
        Control groups; by default every other group of the ward.
    followups_weeks
        Follow-up periods, in weeks after the campaign's end.
    """
    ward = Query(ward_id=campaign.ward_id)
    groups = store.read("groups", ward)
    violations = store.read("violations", ward)
    own = violations[(violations["campaign_id"] == campaign.campaign_id).fillna(False)]
    cleanups = store.read(
        "cleanups",
        Query(
            ward_id=campaign.ward_id,
            start=campaign.start,
            end=campaign.end + pd.Timedelta(seconds=1),
            group_ids=campaign.target,
        ),
    )
    summary = enforcement_summary(own, cleanups=cleanups)
    areas = campaign_areas(groups, list(campaign.target), buffer=buffer, control=control)
    evaluation = evaluate_campaign(
        violations,
        areas,
        start=campaign.start,
        end=campaign.end,
        categories=list(campaign.categories) or None,
        followups_weeks=followups_weeks,
    )
    return CampaignReport(
        campaign=campaign,
        summary=summary,
        evaluation=evaluation,
        groups=group_changes(groups, areas, violations, evaluation),
    )


def group_changes(
    groups: gpd.GeoDataFrame,
    areas: pd.Series,
    violations: pd.DataFrame,
    evaluation: CampaignEvaluation,
    *,
    period: str = "after",
) -> gpd.GeoDataFrame:
    """Each group's area and its counts in the ``before`` period and in ``period``."""
    spans = evaluation.periods.set_index("period")
    cats = [c for c in evaluation.categories if c != "all"]
    records = violations[violations["category"].isin(cats)] if cats else violations
    times = pd.to_datetime(records["observed_at"])

    def count(name: str) -> pd.Series:
        if name not in spans.index:
            return pd.Series(np.nan, index=groups["group_id"])
        lo, hi = (pd.Timestamp(str(spans.at[name, col])) for col in ("start", "end"))
        inside = records[((times >= lo) & (times < hi)).to_numpy()]
        return inside["group_id"].value_counts().reindex(groups["group_id"]).fillna(0)

    return groups.assign(
        area=areas.reindex(groups["group_id"]).fillna("excluded").to_numpy(),
        before=count("before").to_numpy(),
        after=count(period).to_numpy(),
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].astype(str)
    return [
        {str(k): (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in out.astype(object).where(out.notna(), None).to_dict("records")
    ]
