"""Page "Chiến dịch": judge a peak campaign, plan the next one, add or edit campaigns.

Read widgets → call ``geo.campaign_report`` / ``geo.campaign_plan`` / ``geo.campaigns`` →
draw ``layers.campaign``. Results are cached by plain keys (store, data version, campaign,
buffer, control); saving a campaign bumps the data version, so everything is recomputed.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, Literal

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo.campaign_eval import explain
from geo.campaign_plan import expected_workload, suggest_targets, teams_per_zone
from geo.campaign_report import CampaignReport, campaign_report, group_changes
from geo.campaigns import Campaign, delete_campaign, new_campaign, read_campaigns, save_campaign
from geo.errors import UrbanOrderError
from geo.i18n import Lang, category_label, number, t
from geo.model import CATEGORIES
from geo.store import Query
from layers.boundaries import ward_outline, zones_layer
from layers.campaign import campaign_layer
from views.common import (
    Filters,
    enforcement_metrics,
    get_store,
    group_names,
    load_boundaries,
    load_records,
    record_period,
    session_store,
    signed_in_user,
    store_location,
    ward_base_map,
)

log = logging.getLogger(__name__)

#: Comparison periods offered, in the order of the evaluation.
PERIODS = ("after", "follow_up_1w", "follow_up_4w")
_PREFILL = "campaign-prefill"


def render(filters: Filters) -> None:
    """Draw the page for the sidebar's ``filters`` (the ward and the language)."""
    lg = filters.lang
    store = session_store()
    version = store.data_version()
    st.title(t("page.campaign.title", lg))
    st.caption(t("page.campaign.intro", lg))
    campaigns = _campaigns(store.location, version, filters.ward_id)
    tab_result, tab_plan, tab_edit = st.tabs(
        [t("page.campaign.tab.result", lg), t("page.campaign.tab.plan", lg),
         t("page.campaign.tab.edit", lg)]
    )  # fmt: skip
    with tab_result:
        _result_tab(filters, version, campaigns)
    may_plan = store.principal.can("campaigns")
    with tab_plan:
        if may_plan:
            _plan_tab(filters, version)
        else:
            st.info(t("auth.leaders_only", lg))
    with tab_edit:
        if may_plan:
            _edit_tab(filters, version, campaigns)
        else:
            st.info(t("auth.leaders_only", lg))


# --- results ---------------------------------------------------------------------------------


def _result_tab(filters: Filters, version: int, campaigns: list[Campaign]) -> None:
    lg = filters.lang
    if not campaigns:
        st.info(t("page.campaign.none", lg))
        return
    by_id = {c.campaign_id: c for c in campaigns}
    cid = st.selectbox(
        t("page.campaign.choose", lg),
        list(by_id),
        format_func=lambda k: (
            f"{by_id[k].name} ({by_id[k].start:%d/%m/%Y} – {by_id[k].end:%d/%m/%Y})"
        ),
        key="campaign-choice",
    )
    campaign = by_id[str(cid)]
    b = load_boundaries(str(store_location()), version, filters.ward_id)
    names = group_names(b["groups"])
    left, right = st.columns(2)
    kind = left.radio(
        t("page.campaign.buffer", lg),
        ("adjacent", "ring"),
        horizontal=True,
        key="campaign-buffer",
        format_func=lambda k: t(f"page.campaign.buffer.{k}", lg),
        help=t("page.campaign.buffer_help", lg),
    )
    ring = left.number_input(
        t("page.campaign.ring", lg), 50, 1000, 200, step=50, key="campaign-ring",
        disabled=kind != "ring",
    )  # fmt: skip
    control = right.multiselect(
        t("page.campaign.control", lg),
        [g for g in names if g not in campaign.target],
        format_func=lambda g: names.get(g, g),
        placeholder=t("page.campaign.control_placeholder", lg),
        key="campaign-control",
        help=t("page.campaign.control_help", lg),
    )
    buffer: Literal["adjacent"] | float = "adjacent" if kind == "adjacent" else float(ring)
    try:
        report = _report(str(store_location()), version, campaign.campaign_id, filters.ward_id,
                         buffer, tuple(control))  # fmt: skip
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    _facts(report, names, lg)
    _evaluation(report, filters, version, lg)


def _facts(report: CampaignReport, names: dict[str, str], lg: Lang) -> None:
    c, s = report.campaign, report.summary
    st.markdown(
        t(
            "page.campaign.facts",
            lg,
            first=f"{c.start:%d/%m/%Y}",
            last=f"{c.end:%d/%m/%Y}",
            days=c.days,
            teams=", ".join(c.teams) or "—",
            categories=", ".join(category_label(x, lg) for x in c.categories)
            or t("page.campaign.all_categories", lg),
        )
    )
    st.caption(t("page.campaign.targets", lg, groups=", ".join(names.get(g, g) for g in c.target)))
    cols = st.columns(5)
    enforcement_metrics(cols, s, lg, prefix="page.campaign.metric", decimals=2)
    cols[4].metric(
        t("page.campaign.metric.repeats", lg),
        "—" if s.repeat_places is None else number(s.repeat_places, lg),
    )
    if s.cases_fined:
        table = pd.DataFrame(
            {
                t("page.campaign.col.category", lg): [category_label(k, lg) for k in s.cases_fined],
                t("page.campaign.col.fined", lg): list(s.cases_fined.values()),
                t("page.campaign.col.fines", lg): [
                    number(s.fines_by_category.get(k, 0), lg) for k in s.cases_fined
                ],
            }
        )
        st.dataframe(table, hide_index=True)


def _evaluation(report: CampaignReport, filters: Filters, version: int, lg: Lang) -> None:
    ev = report.evaluation
    st.subheader(t("page.campaign.evaluation", lg))
    available = [p for p in PERIODS if p in set(ev.counts["period"])]
    if not available:
        st.info(t("page.campaign.no_after", lg))
        for line in explain(report.evaluation, lang=lg):
            st.write(line)
        return
    period = st.radio(
        t("page.campaign.period", lg),
        available,
        horizontal=True,
        key="campaign-period",
        format_func=lambda p: t(f"page.campaign.period.{p}", lg),
    )
    counts = ev.counts[(ev.counts["period"] == period) & (ev.counts["category"] == "all")]
    by_area = counts.set_index("area")
    cols = st.columns(4)
    for col, area in zip(cols, ("target", "buffer", "control"), strict=False):
        if area in by_area.index:
            row = by_area.loc[area]
            col.metric(
                t(f"campaign.area.{area}", lg),
                f"{number(row['before'], lg)} → {number(row['after'], lg)}",
                _delta(row["change_pct"], lg),
                delta_color="inverse",  # fewer violations is good news
            )
    effects = ev.effects[(ev.effects["period"] == period) & (ev.effects["category"] == "all")]
    if len(effects):
        e = effects.iloc[0]
        cols[3].metric(
            "WDQ",
            "—" if pd.isna(e["wdq"]) else number(e["wdq"], lg, decimals=2),
            help=t("page.campaign.wdq_help", lg),
        )
        st.caption(t(f"eval.wdq.{e['wdq_reading']}", lg).capitalize())
    with st.expander(t("page.campaign.explain", lg), expanded=True):
        for line in explain(report.evaluation, lang=lg):
            st.write(line)
    b = load_boundaries(str(store_location()), version, filters.ward_id)
    records = load_records(str(store_location()), version, "violations",
                           Query(ward_id=filters.ward_id))  # fmt: skip
    shown = group_changes(b["groups"], ev.areas, records, ev, period=period)
    fmap = ward_base_map(b["wards"], b["streets"], filters)
    campaign_layer(shown, lang=lg).add_to(fmap)
    zones_layer(b["zones"], lang=lg).add_to(fmap)
    ward_outline(b["wards"], lang=lg).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    st_folium(fmap, key="campaign-map", height=520, use_container_width=True, returned_objects=[])
    st.dataframe(_effects_table(report, period, lg), hide_index=True)


def _effects_table(report: CampaignReport, period: str, lg: Lang) -> pd.DataFrame:
    ev = report.evaluation
    counts = ev.counts[ev.counts["period"] == period]
    effects = ev.effects[ev.effects["period"] == period].set_index("category")
    rows = []
    for cat, part in counts.groupby("category", sort=False):
        area = part.set_index("area")
        e = effects.loc[cat] if cat in effects.index else None
        row = {t("page.campaign.col.category", lg): _cat(str(cat), lg)}
        for a in ("target", "buffer", "control"):
            if a in area.index:
                row[t(f"campaign.area.{a}", lg)] = (
                    f"{number(area.at[a, 'before'], lg)} → {number(area.at[a, 'after'], lg)} "
                    f"({_delta(area.at[a, 'change_pct'], lg)})"
                )
        row["WDQ"] = "—" if e is None or pd.isna(e["wdq"]) else number(e["wdq"], lg, decimals=2)
        row["WDD"] = "—" if e is None or pd.isna(e["wdd"]) else number(e["wdd"], lg, decimals=1)
        row["p"] = "—" if e is None or pd.isna(e["wdd_p"]) else number(e["wdd_p"], lg, decimals=3)
        rows.append(row)
    return pd.DataFrame(rows)


# --- planning --------------------------------------------------------------------------------


def _plan_tab(filters: Filters, version: int) -> None:
    lg = filters.lang
    location = str(store_location())
    period = record_period(location, version, filters.ward_id)
    if period is None:
        st.info(t("page.campaign.plan.no_records", lg))
        return
    c1, c2, c3, c4 = st.columns(4)
    day = c1.date_input(
        t("page.campaign.plan.from", lg),
        value=min(period[1] + timedelta(days=1), date.today()),
        format="DD/MM/YYYY",
        key="plan-day",
    )
    weeks = c2.number_input(t("page.campaign.plan.weeks", lg), 2, 26, 8, key="plan-weeks")
    teams = c3.number_input(t("page.campaign.plan.teams", lg), 1, 10, 2, key="plan-teams")
    top = c4.number_input(t("page.campaign.plan.top", lg), 1, 30, 10, key="plan-top")
    categories = st.multiselect(
        t("page.campaign.categories", lg),
        list(CATEGORIES),
        format_func=lambda c: category_label(c, lg),
        placeholder=t("page.campaign.all_placeholder", lg),
        key="plan-categories",
    )
    try:
        targets, workload = _plan(location, version, filters.ward_id, str(day), int(weeks),
                                  int(teams), int(top), tuple(categories))  # fmt: skip
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    if targets.empty:
        st.info(t("page.campaign.plan.nothing", lg))
        return
    st.markdown(t("page.campaign.plan.why", lg, weeks=int(weeks)))
    unit = t(f"page.campaign.plan.unit.{targets['rate_unit'].iloc[0]}", lg)
    st.dataframe(
        pd.DataFrame(
            {
                "#": targets["rank"],
                t("map.tooltip.group", lg): targets["name"],
                t("map.tooltip.zone", lg): targets["zone_id"],
                t("page.campaign.plan.records", lg): targets["records"],
                unit: [number(r, lg, decimals=2) for r in targets["rate"]],
                t("page.campaign.plan.change", lg): [_delta(c, lg) for c in targets["change_pct"]],
                t("page.campaign.plan.trend", lg): [
                    t(f"page.campaign.plan.trend.{d}", lg) for d in targets["trend"]
                ],
            }
        ),
        hide_index=True,
    )
    st.dataframe(
        pd.DataFrame(
            {
                t("map.tooltip.zone", lg): workload["zone_id"],
                t("page.campaign.plan.groups", lg): workload["groups"],
                t("page.campaign.plan.per_day", lg): [
                    number(v, lg, decimals=1) for v in workload["per_day"]
                ],
                t("page.campaign.plan.peak", lg): [
                    number(v, lg, decimals=1) for v in workload["per_day_peak"]
                ],
                t("page.campaign.plan.teams_col", lg): workload["teams"],
            }
        ),
        hide_index=True,
    )
    if st.button(t("page.campaign.plan.use", lg), key="plan-use"):
        st.session_state[_PREFILL] = {
            "groups": list(targets["group_id"]),
            "categories": list(categories),
            "first": day + timedelta(days=1),  # the campaign starts after the planning day
        }
        st.success(t("page.campaign.plan.used", lg))


# --- add / edit ------------------------------------------------------------------------------


def _edit_tab(filters: Filters, version: int, campaigns: list[Campaign]) -> None:
    lg = filters.lang
    location = str(store_location())
    b = load_boundaries(location, version, filters.ward_id)
    names = group_names(b["groups"])
    zones = dict(zip(b["zones"]["zone_id"], b["zones"]["name"], strict=False))
    options = ["", *(c.campaign_id for c in campaigns)]
    by_id = {c.campaign_id: c for c in campaigns}
    chosen = st.selectbox(
        t("page.campaign.edit.which", lg),
        options,
        format_func=lambda k: t("page.campaign.edit.new", lg) if not k else by_id[k].name,
        key="campaign-edit-which",
    )
    old = by_id.get(str(chosen))
    prefill = st.session_state.get(_PREFILL, {}) if old is None else {}
    first_default = old.start.date() if old else prefill.get("first", date.today())
    with st.form(f"campaign-form-{chosen or 'new'}"):
        name = st.text_input(t("page.campaign.edit.name", lg), value=old.name if old else "")
        c1, c2 = st.columns(2)
        first = c1.date_input(t("page.campaign.edit.first", lg), value=first_default,
                              format="DD/MM/YYYY")  # fmt: skip
        last = c2.date_input(
            t("page.campaign.edit.last", lg),
            value=old.end.date() if old else first_default + timedelta(days=6),
            format="DD/MM/YYYY",
        )
        groups = st.multiselect(
            t("page.campaign.edit.groups", lg),
            list(names),
            default=[g for g in (old.target if old else prefill.get("groups", [])) if g in names],
            format_func=lambda g: names.get(g, g),
            placeholder=t("page.campaign.choose_placeholder", lg),
        )
        zone_ids = st.multiselect(
            t("page.campaign.edit.zones", lg), list(zones), format_func=lambda z: zones.get(z, z),
            help=t("page.campaign.edit.zones_help", lg),
            placeholder=t("page.campaign.choose_placeholder", lg),
        )  # fmt: skip
        categories = st.multiselect(
            t("page.campaign.categories", lg),
            list(CATEGORIES),
            default=list(old.categories) if old else prefill.get("categories", []),
            format_func=lambda c: category_label(c, lg),
            help=t("page.campaign.edit.categories_help", lg),
            placeholder=t("page.campaign.all_placeholder", lg),
        )
        teams = st.text_input(
            t("page.campaign.edit.teams", lg),
            value=", ".join(old.teams) if old else "",
            help=t("page.campaign.edit.teams_help", lg),
        )
        notes = st.text_area(t("page.campaign.edit.notes", lg), value=old.notes if old else "")
        user = signed_in_user()
        saved = st.form_submit_button(t("page.campaign.edit.save", lg), type="primary")
    if saved:
        form = {"name": name, "first": first, "last": last, "groups": groups, "zones": zone_ids,
                "categories": categories, "teams": teams, "notes": notes}  # fmt: skip
        _save(filters, b["groups"], old, user, form)
    if old is not None:
        sure = st.checkbox(t("page.campaign.edit.delete_sure", lg), key=f"del-sure-{chosen}")
        if st.button(t("page.campaign.edit.delete", lg), disabled=not sure, key=f"del-{chosen}"):
            changed = delete_campaign(session_store(), old, user=user)
            st.session_state["campaign-flash"] = t("page.campaign.edit.deleted", lg,
                                                   name=old.name, n=changed)  # fmt: skip
            st.rerun()
    flash = st.session_state.pop("campaign-flash", None)
    if flash:
        st.success(flash)


def _save(
    filters: Filters, groups: pd.DataFrame, old: Campaign | None, user: str, form: dict[str, Any]
) -> None:
    lg = filters.lang
    try:
        campaign = new_campaign(
            name=str(form["name"]),
            first_day=form["first"],
            last_day=form["last"],
            groups=groups,
            target_groups=form["groups"],
            target_zones=form["zones"],
            categories=form["categories"],
            teams=[x for x in str(form["teams"]).split(",") if x.strip()],
            notes=str(form["notes"]),
            campaign_id=old.campaign_id if old else None,
            ward_id=filters.ward_id,
        )
        changed = save_campaign(session_store(), campaign, user=user)
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    st.session_state.pop(_PREFILL, None)
    st.session_state["campaign-flash"] = t(
        "page.campaign.edit.saved", lg, name=campaign.name, n=changed
    )
    st.rerun()


# --- cached computations -----------------------------------------------------------------------


@st.cache_resource(max_entries=16, show_spinner=False)
def _campaigns(location: str, version: int, ward_id: str) -> list[Campaign]:
    return read_campaigns(get_store(location), ward_id=ward_id)


@st.cache_resource(max_entries=16, show_spinner=False)
def _report(
    location: str,
    version: int,
    campaign_id: str,
    ward_id: str,
    buffer: Literal["adjacent"] | float,
    control: tuple[str, ...],
) -> CampaignReport:
    campaign = next(
        c for c in _campaigns(location, version, ward_id) if c.campaign_id == campaign_id
    )
    return campaign_report(get_store(location), campaign, buffer=buffer, control=control or None)


@st.cache_data(max_entries=16, show_spinner=False)
def _plan(
    location: str,
    version: int,
    ward_id: str,
    day: str,
    weeks: int,
    teams: int,
    top: int,
    categories: tuple[str, ...],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    b = load_boundaries(location, version, ward_id)
    records = load_records(location, version, "violations", Query(ward_id=ward_id))
    now = pd.Timestamp(day) + pd.Timedelta(days=1)  # the chosen day counts
    cats = list(categories) or None
    targets = suggest_targets(records, b["groups"], now=now, weeks=weeks, categories=cats, top=top)
    if targets.empty:
        return targets, pd.DataFrame()
    workload = expected_workload(records, b["groups"], list(targets["group_id"]), now=now,
                                 weeks=weeks, categories=cats)  # fmt: skip
    workload["teams"] = teams_per_zone(workload, teams).to_numpy()
    return targets, workload


# --- small helpers ---------------------------------------------------------------------------


def _delta(change: object, lg: Lang) -> str | None:
    """+25 % / -40 %, with an ASCII minus: Streamlit reads the sign to draw the arrow."""
    if change is None or pd.isna(change):  # type: ignore[call-overload]
        return None
    value = float(change)  # type: ignore[arg-type]
    sign = "+" if value > 0 else "-" if value < 0 else ""
    return f"{sign}{number(abs(value), lg)} %"


def _cat(code: str, lg: Lang) -> str:
    return t("page.campaign.all_categories", lg) if code == "all" else category_label(code, lg)


def _title(c: Campaign) -> str:
    return f"{c.name} ({c.start:%d/%m/%Y} – {c.end:%d/%m/%Y})"
