"""The tables of the city's monthly report, from the store's aggregates of the month.

Every table has code-style column names (translated only when written out) and plain values;
the functions take the aggregates already cut to the report's wards (``mine``: the month per
ward, category and status; ``before``: the previous month per ward and category).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd

from geo._city_report_text import top_category
from geo.enforcement import EnforcementSummary
from geo.i18n import Lang, category_label, t
from geo.model import CATEGORIES
from geo.summary import RateBasis, area_rates

_SUMS = ["count", "fined", "fine_vnd", "items_removed"]
#: The columns of the wards' table, in order.
WARD_COLUMNS = ["rank", "ward_id", "name", "population", "area_km2", "records", "records_prev",
                "change", "change_pct", "per_1000", "per_km2", "fined", "fines_vnd",
                "items_removed", "top_category", "top_category_label"]  # fmt: skip


def with_status_counts(agg: pd.DataFrame) -> pd.DataFrame:
    """The month's aggregate with ``warned`` and ``removed`` counts and a category for all
    (a missing one counts as ``"other"``, as in :func:`geo.enforcement.enforcement_by`)."""
    status = agg["status"].astype("string")
    return agg.assign(
        category=agg["category"].astype("string").fillna("other"),
        warned=agg["count"].where(status.eq("warned").fillna(False), 0),
        removed=agg["count"].where(status.eq("removed").fillna(False), 0),
        resolved=agg["count"].where(status.eq("resolved").fillna(False), 0),
    )


def ward_figures(
    mine: pd.DataFrame, prev_counts: pd.Series, wards: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """The wards with the month's figures, unranked: records, rates, change, enforcement."""
    sums = mine.groupby("ward_id")[_SUMS].sum()
    out = area_rates(sums["count"], wards, key="ward_id")
    ids = out["ward_id"]
    out["records"] = out["count"]
    out["records_prev"] = ids.map(prev_counts).fillna(0).astype("int64")
    out["change"] = out["records"] - out["records_prev"]
    out["change_pct"] = _percent(out["change"], out["records_prev"])
    for source, column in (("fined", "fined"), ("fine_vnd", "fines_vnd"),
                           ("items_removed", "items_removed")):  # fmt: skip
        out[column] = ids.map(sums[source]).fillna(0).astype("int64")
    by_category = mine.groupby(["ward_id", "category"], as_index=False)["count"].sum()
    top = by_category[by_category["count"] > 0].sort_values(
        ["ward_id", "count", "category"], ascending=[True, False, True]
    )
    out["top_category"] = ids.map(top.drop_duplicates("ward_id").set_index("ward_id")["category"])
    out["top_category"] = out["top_category"].astype("string")
    out["population"] = pd.to_numeric(out["population"], errors="coerce").astype("Int64")
    return out


def ranked_wards(wards: gpd.GeoDataFrame, rank_by: RateBasis, lang: Lang) -> pd.DataFrame:
    key = "records" if rank_by == "count" else rank_by
    value = wards[key].astype("Float64")
    order = pd.DataFrame({"missing": value.isna(), "value": value.fillna(0),
                          "records": wards["records"], "ward_id": wards["ward_id"]})  # fmt: skip
    order = order.sort_values(["missing", "value", "records", "ward_id"],
                              ascending=[True, False, False, True], kind="stable")  # fmt: skip
    out = pd.DataFrame(wards.drop(columns="geometry")).loc[order.index].reset_index(drop=True)
    out["rank"] = pd.array(range(1, len(out) + 1), dtype="Int64")
    codes = out["top_category"]
    labels = {c: category_label(str(c), lang) for c in codes.dropna().unique()}
    out["top_category_label"] = codes.map(labels).astype("string")
    return _rounded(out)[WARD_COLUMNS]


def city_totals(wards: gpd.GeoDataFrame, *, outside: int) -> dict[str, Any]:
    records, prev = int(wards["records"].sum()), int(wards["records_prev"].sum())
    population = wards["population"]
    # a total population is known only when every ward's is (as a zone's in geo.rates)
    people = None if population.isna().any() or not len(wards) else int(population.sum())
    area = float(wards["area_km2"].sum())
    return {
        "wards": len(wards),
        "wards_with_records": int((wards["records"] > 0).sum()),
        "records_prev": prev,
        "change": records - prev,
        "change_pct": round(100 * (records - prev) / prev, 1) if prev else None,
        "population": people,
        "area_km2": round(area, 2),
        "per_1000": round(1000 * records / people, 2) if people else None,
        "per_km2": round(records / area, 2) if area > 0 else None,
        "outside": outside,
    }


def total_row(
    ranked: pd.DataFrame, totals: dict[str, Any], categories: pd.DataFrame, lang: Lang
) -> pd.DataFrame:
    row: dict[str, Any] = dict.fromkeys(WARD_COLUMNS)
    row |= {k: totals[k] for k in ("population", "area_km2", "records_prev", "change",
                                   "change_pct", "per_1000", "per_km2")}  # fmt: skip
    row |= {k: int(ranked[k].sum()) for k in ("records", "fined", "fines_vnd", "items_removed")}
    row["name"] = t("report.city.total", lang)
    if row["records"]:
        top = top_category(categories)
        row["top_category"], row["top_category_label"] = top["category"], top["category_label"]
    return pd.DataFrame([row], columns=WARD_COLUMNS)


def with_total(ranked: pd.DataFrame, total: pd.DataFrame) -> pd.DataFrame:
    """The ranked wards then the total row, each column keeping its type (NA where empty)."""
    out = pd.concat([ranked, total], ignore_index=True)
    for column in WARD_COLUMNS:
        kind = ranked[column].dtype
        if pd.api.types.is_integer_dtype(kind):
            out[column] = pd.array(out[column].tolist(), dtype="Int64")
        elif pd.api.types.is_float_dtype(kind):
            out[column] = pd.array(out[column].tolist(), dtype="Float64")
        else:
            out[column] = out[column].astype("string")
    return out


def category_table(mine: pd.DataFrame, before: pd.DataFrame, lang: Lang) -> pd.DataFrame:
    """Per category with records in the wards this month or the previous one: the ward
    report's columns, with the previous month's records and the change."""
    sums = mine.groupby("category")[[*_SUMS, "warned", "removed"]].sum()
    prev = before.groupby("category")["count"].sum()
    codes = set(sums.index[sums["count"] > 0]) | set(prev.index[prev > 0])
    order = [c for c in CATEGORIES if c in codes] + sorted(codes - set(CATEGORIES))
    sums = sums.reindex(order, fill_value=0)
    out = pd.DataFrame(
        {
            "category": pd.array(order, dtype="string"),
            "category_label": [category_label(c, lang) for c in order],
            "records": sums["count"].to_numpy(),
            "records_prev": prev.reindex(order, fill_value=0).to_numpy(),
            "fined": sums["fined"].to_numpy(),
            "fines_vnd": sums["fine_vnd"].to_numpy(),
            "warned": sums["warned"].to_numpy(),
            "removed": sums["removed"].to_numpy(),
            "items_removed": sums["items_removed"].to_numpy(),
        }
    )
    out = out.astype({c: "int64" for c in out.columns[2:]})
    out.insert(4, "change", out["records"] - out["records_prev"])
    out.insert(5, "change_pct", _percent(out["change"], out["records_prev"]))
    return out


def city_summary(categories: pd.DataFrame, mine: pd.DataFrame) -> EnforcementSummary:
    """The wards' enforcement figures together, as :func:`geo.enforcement.enforcement_summary`
    gives them for records (clean-ups and repeat places need the records: None)."""
    fined = categories[categories["fined"] > 0].set_index("category")
    return EnforcementSummary(
        records=int(mine["count"].sum()),
        cases_fined={str(k): int(v) for k, v in fined["fined"].items()},
        fines_by_category={str(k): int(v) for k, v in fined["fines_vnd"].items()},
        total_fines_vnd=int(mine["fine_vnd"].sum()),
        items_removed=int(mine["items_removed"].sum()),
        warnings=int(mine["warned"].sum()),
        resolved=int(mine["resolved"].sum()),
        removals=int(mine["removed"].sum()),
        cleanups=None,
        repeat_places=None,
    )


def summary_table(
    s: EnforcementSummary, totals: dict[str, Any], text: str, lang: Lang
) -> pd.DataFrame:
    """The summary sheet: one row per figure (code, label in ``lang``, value)."""
    values: dict[str, object] = {
        "wards": totals["wards"],
        "wards_with_records": totals["wards_with_records"],
        "records": s.records,
        "records_prev": totals["records_prev"],
        "change": totals["change"],
        "change_pct": totals["change_pct"],
        "per_1000": totals["per_1000"],
        "per_km2": totals["per_km2"],
        "fined": s.fined,
        "total_fines_vnd": s.total_fines_vnd,
        "items_removed": s.items_removed,
        "warnings": s.warnings,
        "removals": s.removals,
        "resolved": s.resolved,
        "outside": totals["outside"],
        "paragraph": text,
    }
    return pd.DataFrame(
        {
            "figure": list(values),
            "label": [t(f"report.figure.{k}", lang) for k in values],
            "value": pd.Series(list(values.values()), dtype=object),
        }
    )


def _percent(change: pd.Series, base: pd.Series) -> pd.Series:
    """``change`` in per cent of ``base``, one decimal; NA where ``base`` is 0."""
    b = base.astype("Float64")
    return (change / b.where(b > 0) * 100).astype("Float64").round(1)


def _rounded(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(
        area_km2=table["area_km2"].astype("float64").round(2),
        per_1000=table["per_1000"].astype("Float64").round(2),
        per_km2=table["per_km2"].astype("Float64").round(2),
    )
