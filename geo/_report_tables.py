"""The tables of the monthly report: per zone and group, hot streets, patrol coverage,
clean-ups against littering, per category and per campaign.

Every table has code-style column names (translated only when written out) and plain
values; each function takes frames already read from the store and cut to the month.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.coverage import coverage_by_area, street_coverage
from geo.enforcement import enforcement_by
from geo.hot_streets import hot_streets
from geo.i18n import Lang, category_label
from geo.rates import Level, area_rates
from geo.tracks import clean_tracks

#: Street segments listed as the month's hot spots.
TOP_HOTSPOTS = 10
_UNIT_COLUMNS = ("population", "records", "per_1000", "fined", "fines_vnd", "items_removed",
                 "records_prev", "change", "change_pct", "patrol_share")  # fmt: skip


def unit_table(
    violations: pd.DataFrame,
    current: pd.DataFrame,
    groups: gpd.GeoDataFrame,
    *,
    level: Level,
    zones: gpd.GeoDataFrame,
    period: tuple[pd.Timestamp, pd.Timestamp],
    patrol: pd.DataFrame | None,
) -> gpd.GeoDataFrame:
    """Records, rate per 1,000 residents, enforcement and change vs the previous month.

    ``violations`` spans the previous month and this one (for the change); ``current`` is
    this month's; ``patrol`` the coverage per unit (``share``), None without streets.
    """
    key = "group_id" if level == "group" else "zone_id"
    # without a zones table, area_rates draws each zone as the union of its groups
    rates = area_rates(violations, groups, level=level, zones=zones if len(zones) else None,
                       start=period[0], end=period[1])  # fmt: skip
    by_unit = enforcement_by(current, by=key)
    out = rates.rename(columns={"count": "records", "count_prev": "records_prev"})
    ids = out[key].astype("string")
    for column in ("fined", "fines_vnd", "items_removed"):
        out[column] = ids.map(by_unit[column]).fillna(0).astype("int64").to_numpy()
    share = patrol["share"] if patrol is not None else pd.Series(dtype="float64")
    out["patrol_share"] = ids.map(share).astype("Float64").round(4).to_numpy()
    out["per_1000"] = out["per_1000"].round(2)
    out["change_pct"] = out["change_pct"].round(1)
    front = [key, "name"] + (["zone_id"] if level == "group" else [])
    columns = [c for c in front if c in out.columns] + list(_UNIT_COLUMNS)
    out = out[[*columns, "geometry"]]
    if level == "group":
        out = out.sort_values(["records", key], ascending=[False, True], kind="stable")
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry", crs=rates.crs)


def hotspot_table(current: gpd.GeoDataFrame, streets: gpd.GeoDataFrame) -> pd.DataFrame:
    """The month's ``TOP_HOTSPOTS`` street segments, by smoothed records per 100 m."""
    columns = ["rank", "street", "from_name", "to_name", "length_m", "records", "per_100m",
               "score"]  # fmt: skip
    if current.empty or streets.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    hot = hot_streets(current, streets)
    hot = hot[hot["count"] > 0].head(TOP_HOTSPOTS)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(hot) + 1),
            "street": hot["name"].astype("string").to_numpy(),
            "from_name": hot["from_name"].astype("string").to_numpy(),
            "to_name": hot["to_name"].astype("string").to_numpy(),
            "length_m": hot["length_m"].round(0).to_numpy(),
            "records": hot["count"].to_numpy(),
            "per_100m": hot["per_100m"].round(1).to_numpy(),
            "score": hot["score"].round(1).to_numpy(),
        }
    )


def patrol_coverage(
    streets: gpd.GeoDataFrame,
    fixes: gpd.GeoDataFrame,
    *,
    wards: gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    groups: gpd.GeoDataFrame,
    period: tuple[pd.Timestamp, pd.Timestamp],
) -> tuple[dict[str, Any], pd.DataFrame | None, pd.DataFrame | None]:
    """Street coverage of the month: totals, per zone, per group.

    The totals are the streets inside the ward (the streets table may run past its edge):
    ``street_km``, ``covered_km``, ``share``, with the ``fixes`` kept after cleaning and the
    ``days`` with patrols. Per-unit tables are None when the ward has no streets.
    """
    cleaned = clean_tracks(fixes)
    days = int(cleaned["t"].dt.normalize().nunique()) if len(cleaned) else 0
    totals: dict[str, Any] = {"street_km": None, "covered_km": None, "share": None,
                              "fixes": len(cleaned), "days": days}  # fmt: skip
    if streets.empty:
        return totals, None, None
    edges = street_coverage(streets, cleaned, start=period[0], end=period[1])
    ward = coverage_by_area(edges, wards, id_column="ward_id")
    if len(ward):
        row = ward.iloc[0]
        totals["street_km"] = round(float(row["street_km"]), 3)
        totals["covered_km"] = round(float(row["covered_km"]), 3)
        totals["share"] = None if pd.isna(row["share"]) else round(float(row["share"]), 4)
    return (
        totals,
        coverage_by_area(edges, zones, id_column="zone_id"),
        coverage_by_area(edges, groups, id_column="group_id"),
    )


def coverage_table(
    totals: dict[str, Any],
    by_zone: pd.DataFrame | None,
    zones: pd.DataFrame,
    *,
    ward_id: str,
    ward_label: str,
) -> pd.DataFrame:
    """One row for the ward, then one per zone: street length, length patrolled, share."""
    rows = [{"unit": ward_id, "name": ward_label, "street_km": totals["street_km"],
             "covered_km": totals["covered_km"], "patrol_share": totals["share"]}]  # fmt: skip
    if by_zone is not None:
        names = dict(zip(zones["zone_id"], zones["name"], strict=True))
        for zone_id, row in by_zone.iterrows():
            rows.append({"unit": str(zone_id), "name": names.get(zone_id, str(zone_id)),
                         "street_km": round(float(row["street_km"]), 3),
                         "covered_km": round(float(row["covered_km"]), 3),
                         "patrol_share": None if pd.isna(row["share"])
                         else round(float(row["share"]), 4)})  # fmt: skip
    return pd.DataFrame(rows, columns=["unit", "name", "street_km", "covered_km", "patrol_share"])


def cleanup_table(
    current: pd.DataFrame, cleanups: pd.DataFrame, groups: pd.DataFrame
) -> pd.DataFrame:
    """Per group with littering or clean-ups: littering records and fines against clean-ups."""
    litter = enforcement_by(current[current["category"].eq("littering").fillna(False)],
                            by="group_id")  # fmt: skip
    held = (
        pd.DataFrame(
            {
                "cleanups": 1,
                "participants": pd.to_numeric(cleanups["participants"]).fillna(0).to_numpy(),
                "waste_kg": pd.to_numeric(cleanups["waste_kg"]).fillna(0.0).to_numpy(),
            },
            index=cleanups["group_id"].astype("string").to_numpy(),
        )
        .groupby(level=0)
        .sum()
    )
    out = pd.DataFrame({"group_id": groups["group_id"].astype("string"),
                        "name": groups["name"].astype("string")})  # fmt: skip
    ids = out["group_id"]
    out["littering"] = ids.map(litter["records"]).fillna(0).astype("int64")
    out["littering_fined"] = ids.map(litter["fined"]).fillna(0).astype("int64")
    for column in ("cleanups", "participants"):
        out[column] = ids.map(held[column]).fillna(0).astype("int64")
    out["waste_kg"] = ids.map(held["waste_kg"]).fillna(0.0).astype("float64").round(1)
    out = out[(out["littering"] > 0) | (out["cleanups"] > 0)]
    out = out.sort_values(["littering", "cleanups", "group_id"], ascending=[False, False, True])
    return out.reset_index(drop=True)


def category_table(current: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """Enforcement per category (categories with records), with their labels."""
    table = enforcement_by(current).reset_index()
    table.insert(1, "category_label", [category_label(c, lang) for c in table["category"]])
    return table


def campaign_table(
    campaigns: pd.DataFrame, current: pd.DataFrame, period: tuple[pd.Timestamp, pd.Timestamp]
) -> pd.DataFrame:
    """The campaigns under way in the month, with the enforcement of their records in it."""
    columns = ["campaign_id", "campaign", "first_day", "last_day", "days", "records", "fined",
               "fines_vnd", "items_removed"]  # fmt: skip
    start, end = period
    on = campaigns[
        (campaigns["start"] < end) & (campaigns["end"].isna() | (campaigns["end"] >= start))
    ]
    rows = []
    for _, c in on.sort_values(["start", "name"]).iterrows():
        last = c["end"] if pd.notna(c["end"]) else end - pd.Timedelta(seconds=1)
        own = current[current["campaign_id"].astype("string").eq(c["campaign_id"]).fillna(False)]
        figures = enforcement_by(own).sum()
        rows.append({"campaign_id": c["campaign_id"], "campaign": c["name"],
                     "first_day": c["start"].date(), "last_day": last.date(),
                     "days": (last.normalize() - c["start"].normalize()).days + 1,
                     **{k: int(figures.get(k, 0)) for k in columns[-4:]}})  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
