"""Page "Điểm nóng": where violations concentrate, how sure we are, and how well the map predicts.

Read widgets → call ``geo.hotspots`` / ``geo.rates`` / ``geo.trends`` / ``geo.repeats`` →
draw ``layers.hotspots``. Results are cached by plain keys (store, data version, query,
method, cell size), so moving between tabs does not recompute them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Literal

import folium
import geopandas as gpd
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from geo.cells import hex_grid
from geo.emerging import emerging_hotspots
from geo.errors import UrbanOrderError
from geo.evaluate import evaluate
from geo.hotspots import hotspots
from geo.i18n import Lang, category_label, t
from geo.rates import area_rates, group_hotspots
from geo.repeats import knox_test, repeat_offenders, repeat_places
from geo.store import Query
from geo.trends import hour_weekday, trend
from layers.assets import localize
from layers.boundaries import group_choropleth, ward_outline, zones_layer
from layers.hotspots import (
    between_label,
    hot_streets_layer,
    hotspot_cells,
    repeat_places_layer,
)
from layers.style import format_number
from views.common import (
    Filters,
    load_boundaries,
    load_records,
    session_store,
    translated,
    ward_base_map,
)

log = logging.getLogger(__name__)

Method = Literal["streets", "gi", "kde", "hex", "grid", "groups"]
METHODS: tuple[Method, ...] = ("streets", "gi", "kde", "hex", "grid", "groups")
#: Cell sizes offered (metres); 0 = chosen from the data.
CELL_SIZES = (0, 50, 75, 100, 150, 200, 250)
#: Share of the ward (or of its street length) a team can cover: the accuracy's budget.
BUDGET = 0.05
#: Days of the accuracy check's test period (the last days of the chosen period).
TEST_DAYS = 7
#: Fewest days of training before the test week for the accuracy check.
MIN_TRAIN_DAYS = 28
#: Cell size of the emerging hot spot analysis (weekly Gi* needs cells that hold a few records
#: a week; the finer map cells mostly hold none).
EMERGING_CELL_M = 150.0
#: A Knox ratio below this is not worth acting on, however significant (Ratcliffe).
MEANINGFUL_KNOX = 1.2


def render(filters: Filters) -> None:
    """Draw the page for the sidebar's ``filters``."""
    lg = filters.lang
    store = session_store()
    version = store.data_version()
    b = load_boundaries(store.location, version, filters.ward_id)
    query = filters.query()
    records = load_records(store.location, version, "violations", query)
    st.title(t("page.hotspots.title", lg))
    st.caption(t("page.hotspots.intro", lg))
    c1, c2 = st.columns([3, 1])
    method: Method = translated(
        c1.radio,
        t("page.hotspots.method", lg),
        METHODS,
        name="hotspot-method",
        lang=lg,
        format_func=lambda m: t(f"page.hotspots.method.{m}", lg),
        horizontal=True,
    )
    cell = c2.selectbox(
        t("page.hotspots.cell", lg),
        CELL_SIZES,
        format_func=lambda c: t("page.hotspots.cell_auto", lg) if c == 0 else f"{c} m",
        key="hotspot-cell",
        disabled=method in ("streets", "groups"),
    )
    st.caption(t(f"page.hotspots.explain.{method}", lg))
    if records.empty:
        st.info(t("page.hotspots.no_records", lg))
        return
    cell_m = float(cell) if cell else None
    try:
        if method == "groups":
            units = _group_units(store.location, version, filters.ward_id, query)
        else:
            units = _units(store.location, version, filters.ward_id, query, method, cell_m,
                           filters.months)  # fmt: skip
    except UrbanOrderError as exc:
        st.error(str(exc))
        return
    _accuracy(store.location, version, filters, method, cell_m)
    places = _places(store.location, version, query)
    fmap = _map(filters, b, units, method, places)
    st_folium(fmap, key="hotspot-map", height=600, use_container_width=True, returned_objects=[])
    _ranked(units, method, lg)
    tab_groups, tab_time, tab_repeat = st.tabs(
        [
            t("page.hotspots.tab.groups", lg),
            t("page.hotspots.tab.time", lg),
            t("page.hotspots.tab.repeat", lg),
        ]
    )
    with tab_groups:
        _groups_tab(store.location, version, filters, query)
    with tab_time:
        _time_tab(records, lg)
        _emerging(store.location, version, filters.ward_id, query, lg)
    with tab_repeat:
        _repeat_tab(store.location, version, query, places, lg)


# --- computations, cached by plain keys --------------------------------------------------------


@st.cache_data(max_entries=16, show_spinner=False)
def _units(
    location: str,
    version: int,
    ward_id: str,
    query: Query,
    method: str,
    cell_m: float | None,
    months: float,
) -> gpd.GeoDataFrame:
    b = load_boundaries(location, version, ward_id)
    records = load_records(location, version, "violations", query)
    return hotspots(
        records,
        method=method,  # type: ignore[arg-type]
        area=b["wards"],
        streets=b["streets"],
        cell_m=cell_m,
        months=months,
    )


@st.cache_data(max_entries=16, show_spinner=False)
def _group_units(location: str, version: int, ward_id: str, query: Query) -> gpd.GeoDataFrame:
    b = load_boundaries(location, version, ward_id)
    records = load_records(location, version, "violations", query)
    rates = area_rates(records, b["groups"], streets=b["streets"], start=query.start,
                       end=query.end)  # fmt: skip
    rates["zone_name"] = rates["zone_id"].map(b["zones"].set_index("zone_id")["name"])
    value = "per_1000" if rates["per_1000"].notna().all() else "per_km2"
    out = group_hotspots(rates, value=value)
    out["rank"] = out[value].rank(ascending=False, method="first").astype(int)
    out.attrs["value"] = value
    return out


@st.cache_data(max_entries=16, show_spinner=False)
def _track_record(
    location: str, version: int, filters: Filters, method: str, cell_m: float | None
) -> dict[str, Any] | None:
    """Hit rate of the method's map built before the last week, on that week, and the baseline."""
    end = filters.end + timedelta(days=1)
    split = end - timedelta(days=TEST_DAYS)
    if (split - filters.start).days < MIN_TRAIN_DAYS:
        return None
    b = load_boundaries(location, version, filters.ward_id)
    records = load_records(location, version, "violations", filters.query())
    table = evaluate(
        records,
        time_col="observed_at",
        train_until=pd.Timestamp(split),
        test_until=pd.Timestamp(end),
        methods=[method],  # type: ignore[list-item]
        area=b["wards"],
        streets=b["streets"] if method == "streets" else None,
        budget=BUDGET,
        cell_m=cell_m,
    )
    rows = table.set_index("method")
    base = "baseline_streets" if method == "streets" else "baseline"
    return {
        "hit_rate": float(rows.loc[method, "hit_rate"]),
        "pai": float(rows.loc[method, "pai"]),
        "baseline": float(rows.loc[base, "hit_rate"]),
        "test_records": int(rows.loc[method, "test_records"]),
        "split": split,
    }


@st.cache_data(max_entries=16, show_spinner=False)
def _places(location: str, version: int, query: Query) -> gpd.GeoDataFrame:
    return repeat_places(load_records(location, version, "violations", query))


@st.cache_data(max_entries=8, show_spinner=False)
def _emerging_table(
    location: str, version: int, ward_id: str, query: Query
) -> tuple[pd.DataFrame, int]:
    b = load_boundaries(location, version, ward_id)
    records = load_records(location, version, "violations", query)
    cells = hex_grid(b["wards"], cell_m=EMERGING_CELL_M)
    result = emerging_hotspots(records, cells)
    return pd.DataFrame(result.drop(columns="geometry")), len(result.attrs.get("periods", []))


@st.cache_data(max_entries=8, show_spinner=False)
def _knox(location: str, version: int, query: Query) -> pd.DataFrame:
    return knox_test(load_records(location, version, "violations", query))


# --- drawing ------------------------------------------------------------------------------------


def _accuracy(
    location: str, version: int, filters: Filters, method: str, cell_m: float | None
) -> None:
    lg = filters.lang
    if method == "groups":
        st.caption(t("page.hotspots.accuracy.groups", lg))
        return
    try:
        record = _track_record(location, version, filters, method, cell_m)
    except UrbanOrderError as exc:
        st.caption(t("page.hotspots.accuracy.unavailable", lg, reason=str(exc)))
        return
    if record is None:
        st.caption(t("page.hotspots.accuracy.short", lg, days=MIN_TRAIN_DAYS + TEST_DAYS))
        return
    what = t("page.hotspots.accuracy.length" if method == "streets" else
             "page.hotspots.accuracy.area", lg)  # fmt: skip
    st.info(
        t(
            "page.hotspots.accuracy",
            lg,
            budget=format_number(BUDGET * 100, lg),
            what=what,
            hit=format_number(record["hit_rate"] * 100, lg),
            n=format_number(record["test_records"], lg),
            start=record["split"].strftime("%d/%m/%Y"),
            baseline=format_number(record["baseline"] * 100, lg),
            pai=format_number(record["pai"], lg, fmt="{:,.1f}"),
        )
    )


def _map(
    filters: Filters,
    b: dict[str, gpd.GeoDataFrame],
    units: gpd.GeoDataFrame,
    method: str,
    places: gpd.GeoDataFrame,
) -> folium.Map:
    lg = filters.lang
    fmap = ward_base_map(b["wards"], b["streets"], filters)
    if method == "streets":
        hot_streets_layer(units, lang=lg).add_to(fmap)
    elif method == "groups":
        value = units.attrs.get("value", "per_1000")
        group_choropleth(units, value_column=value, lang=lg,
                         legend_title=t(f"page.hotspots.legend.{value}", lg),
                         fmt="{:,.1f}").add_to(fmap)  # fmt: skip
        zones_layer(b["zones"], lang=lg).add_to(fmap)
    else:
        hotspot_cells(units, legend_title=_score_label(method, lg), lang=lg,
                      fmt="{:,.2f}" if method == "gi" else "{:,.1f}").add_to(fmap)  # fmt: skip
    repeat_places_layer(places.head(50), lang=lg).add_to(fmap)
    ward_outline(b["wards"], lang=lg).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return localize(fmap)


def _score_label(method: str, lg: Lang) -> str:
    return t(f"page.hotspots.score.{method}", lg)


def _ranked(units: gpd.GeoDataFrame, method: str, lg: Lang) -> None:
    st.subheader(t("page.hotspots.ranked", lg))
    top = units.sort_values("rank").head(15)
    if method != "groups":
        top = top[top["count"] > 0]
    if method == "streets":
        unnamed = t("map.street.unnamed", lg)
        table = pd.DataFrame(
            {
                t("map.hotspots.rank", lg): top["rank"].to_numpy(),
                t("map.tooltip.street", lg): top["name"].fillna(unnamed).to_numpy(),
                t("map.hotspots.between", lg): [
                    between_label(a, b)
                    for a, b in zip(top["from_name"], top["to_name"], strict=True)
                ],
                t("map.hotspots.count", lg): [format_number(v, lg) for v in top["count"]],
                t("map.hotspots.per_100m", lg): [
                    format_number(v, lg, fmt="{:,.1f}") for v in top["per_100m"]
                ],
                t("map.hotspots.length_m", lg): [format_number(v, lg) for v in top["length_m"]],
            }
        )
    elif method == "groups":
        value = units.attrs.get("value", "per_1000")
        table = _group_table(top, value, lg)
    else:
        table = pd.DataFrame(
            {
                t("map.hotspots.rank", lg): top["rank"].to_numpy(),
                t("map.hotspots.count", lg): [format_number(v, lg) for v in top["count"]],
                _score_label(method, lg): [
                    format_number(v, lg, fmt="{:,.2f}") for v in top["score"]
                ],
            }
        )
        if method == "gi":
            table[t("map.hotspots.p_fdr", lg)] = [
                format_number(v, lg, fmt="{:.4f}") for v in top["p_fdr"]
            ]
            st.caption(t("page.hotspots.gi_summary", lg, hot=int(units["hot"].sum()),
                         cold=int(units["cold"].sum()), n=len(units)))  # fmt: skip
    if table.empty:
        st.write(t("page.hotspots.none", lg))
        return
    st.dataframe(table, hide_index=True, width="stretch")
    cell_m = units.attrs.get("cell_m")
    if cell_m and method not in ("streets", "groups"):
        st.caption(t("page.hotspots.cell_used", lg, cell=format_number(cell_m, lg),
                     rule=units.attrs.get("cell_rule", "")))  # fmt: skip


def _group_table(rates: pd.DataFrame, value: str, lg: Lang) -> pd.DataFrame:
    def pct(v: object) -> str:
        return "—" if pd.isna(v) else format_number(float(v), lg, fmt="{:+,.0f}") + " %"  # type: ignore[arg-type]

    return pd.DataFrame(
        {
            t("map.tooltip.group", lg): rates["name"].to_numpy(),
            t("map.tooltip.zone", lg): rates["zone_name"].to_numpy(),
            t("map.hotspots.count", lg): [format_number(v, lg) for v in rates["count"]],
            t(f"page.hotspots.legend.{value}", lg): [
                format_number(v, lg, fmt="{:,.1f}") for v in rates[value]
            ],
            t("page.hotspots.per_km_street", lg): [
                format_number(v, lg, fmt="{:,.1f}") for v in rates["per_km_street"]
            ],
            t("page.hotspots.change", lg): [pct(v) for v in rates["change_pct"]],
            t("page.hotspots.significance", lg): [
                t("map.hotspots.hot", lg) if h else (t("map.hotspots.cold", lg) if c else "—")
                for h, c in zip(rates["hot"], rates["cold"], strict=True)
            ],
        }
    )


def _groups_tab(location: str, version: int, filters: Filters, query: Query) -> None:
    lg = filters.lang
    rates = _group_units(location, version, filters.ward_id, query)
    value = rates.attrs.get("value", "per_1000")
    st.caption(t("page.hotspots.groups_caption", lg))
    ranked = rates.sort_values([value, "count"], ascending=False)
    st.dataframe(_group_table(ranked, value, lg), hide_index=True, width="stretch", height=360)


def _time_tab(records: pd.DataFrame, lg: Lang) -> None:
    weekly = trend(records, by="ward", freq="W")
    st.subheader(t("page.hotspots.weekly", lg))
    if weekly.empty:
        st.write(t("page.hotspots.none", lg))
    else:
        series = weekly[~weekly["partial"]].set_index("period")["count"]
        st.line_chart(series.rename(t("map.hotspots.count", lg)), height=220)
        test = weekly.iloc[0]
        st.caption(t(f"page.hotspots.trend.{test['direction']}", lg,
                     tau=format_number(test["mk_tau"], lg, fmt="{:+.2f}"),
                     p=format_number(test["mk_p"], lg, fmt="{:.3f}")))  # fmt: skip
    groups = trend(records, by="group", freq="W")
    if not groups.empty:
        moving = groups.drop_duplicates("group_id")
        rising = moving[moving["direction"] == "increasing"]
        falling = moving[moving["direction"] == "decreasing"]
        st.caption(t("page.hotspots.group_trends", lg, up=len(rising), down=len(falling),
                     n=len(moving)))  # fmt: skip
    st.subheader(t("page.hotspots.hour_weekday", lg))
    table = hour_weekday(records)
    table.index = [t(f"weekday.{d}", lg) for d in table.index]
    st.dataframe(table, width="stretch")


def _emerging(location: str, version: int, ward_id: str, query: Query, lg: Lang) -> None:
    st.subheader(t("page.hotspots.emerging", lg))
    try:
        table, weeks = _emerging_table(location, version, ward_id, query)
    except UrbanOrderError as exc:
        st.caption(str(exc))
        return
    counts = table["category"].value_counts()
    shown = pd.DataFrame(
        {
            t("page.hotspots.pattern", lg): [t(f"pattern.{c}", lg) for c in counts.index],
            t("page.hotspots.cells", lg): counts.to_numpy(),
        }
    )
    st.dataframe(shown, hide_index=True, width="stretch")
    st.caption(t("page.hotspots.emerging_caption", lg, cell=format_number(EMERGING_CELL_M, lg),
                 weeks=weeks))  # fmt: skip


def _repeat_tab(
    location: str, version: int, query: Query, places: gpd.GeoDataFrame, lg: Lang
) -> None:
    st.subheader(t("page.hotspots.repeat_places", lg))
    if places.empty:
        st.write(t("page.hotspots.none", lg))
    else:
        top = places.head(20)
        st.dataframe(
            pd.DataFrame(
                {
                    t("map.hotspots.rank", lg): top["rank"].to_numpy(),
                    t("column.address", lg): top["address"].fillna("—").to_numpy(),
                    t("map.hotspots.count", lg): top["count"].to_numpy(),
                    t("page.hotspots.categories", lg): [
                        ", ".join(
                            category_label(c.strip(), lg) for c in str(v).split(",") if c.strip()
                        )
                        for v in top["categories"]
                    ],
                    t("page.hotspots.first", lg): top["first_at"].dt.strftime("%d/%m/%Y"),
                    t("page.hotspots.last", lg): top["last_at"].dt.strftime("%d/%m/%Y"),
                }
            ),
            hide_index=True,
            width="stretch",
        )
    records = load_records(location, version, "violations", query)
    offenders = repeat_offenders(records)
    st.subheader(t("page.hotspots.repeat_offenders", lg))
    st.caption(t("page.hotspots.offenders_caption", lg, n=len(offenders)))
    if not offenders.empty:
        top = offenders.head(20)
        st.dataframe(
            pd.DataFrame(
                {
                    t("page.hotspots.offender", lg): top["offender_key"].str[:10] + "…",
                    t("map.hotspots.count", lg): top["count"].to_numpy(),
                    t("page.hotspots.places", lg): top["places"].to_numpy(),
                    t("page.hotspots.first", lg): top["first_at"].dt.strftime("%d/%m/%Y"),
                    t("page.hotspots.last", lg): top["last_at"].dt.strftime("%d/%m/%Y"),
                }
            ),
            hide_index=True,
            width="stretch",
        )
    st.subheader(t("page.hotspots.knox", lg))
    try:
        knox = _knox(location, version, query)
    except UrbanOrderError as exc:
        st.write(str(exc))
        return
    _knox_sentence(knox, lg)
    matrix = knox.assign(
        distance=[
            f"{a:g}–{b:g} m"
            for a, b in zip(knox["distance_from_m"], knox["distance_to_m"], strict=True)
        ],
        days=[f"{a:g}–{b:g}" for a, b in zip(knox["days_from"], knox["days_to"], strict=True)],
        cell=[
            format_number(r, lg, fmt="{:.2f}") + (" *" if s else "")
            for r, s in zip(knox["knox_ratio"], knox["significant"], strict=True)
        ],
    ).pivot(index="distance", columns="days", values="cell")
    st.dataframe(matrix, width="stretch")


def _knox_sentence(knox: pd.DataFrame, lg: Lang) -> None:
    first = knox.iloc[0]
    if bool(first["significant"]) and first["knox_ratio"] >= MEANINGFUL_KNOX:
        st.info(t("page.hotspots.knox_yes", lg,
                  pct=format_number((first["knox_ratio"] - 1) * 100, lg),
                  metres=format_number(first["distance_to_m"], lg),
                  days=format_number(first["days_to"], lg)))  # fmt: skip
    else:
        st.caption(t("page.hotspots.knox_no", lg, ratio=format_number(MEANINGFUL_KNOX, lg,
                                                                    fmt="{:.1f}")))  # fmt: skip
