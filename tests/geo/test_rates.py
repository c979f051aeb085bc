"""Rates per group and zone, the change since the previous period, and group hotspots."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, box

from geo.errors import InputError
from geo.rates import area_rates, group_hotspots, rates_by_category

TZ = "Asia/Ho_Chi_Minh"
X0, Y0 = 587_000.0, 2_323_000.0  # Kim Liên, in EPSG:5897 (metres)


def _square(i: int, j: int, size: float = 100.0):
    return box(X0 + size * i, Y0 + size * j, X0 + size * (i + 1), Y0 + size * (j + 1))


# Four 100 m groups (1 ha each): A B on the bottom row (zone Z1), C D above (zone Z2).
GROUPS = gpd.GeoDataFrame(
    {
        "group_id": pd.array(["A", "B", "C", "D"], dtype="string"),
        "zone_id": pd.array(["Z1", "Z1", "Z2", "Z2"], dtype="string"),
        "name": ["Tổ 1", "Tổ 2", "Tổ 3", "Tổ 4"],
        "population": pd.array([1000, 500, 2000, None], dtype="Int64"),
    },
    geometry=[_square(0, 0), _square(1, 0), _square(0, 1), _square(1, 1)],
    crs=5897,
).to_crs(4326)
# One street across A and B along y = 50 m, sticking out 50 m on both sides: 100 m in each.
STREETS = gpd.GeoDataFrame(
    {"street_id": ["s1"]},
    geometry=[LineString([(X0 - 50, Y0 + 50), (X0 + 250, Y0 + 50)])],
    crs=5897,
).to_crs(4326)


def _records(rows: list[tuple[str | None, str]], *, category: str = "littering") -> pd.DataFrame:
    zone = {"A": "Z1", "B": "Z1", "C": "Z2", "D": "Z2"}
    return pd.DataFrame(
        {
            "group_id": pd.array([g for g, _ in rows], dtype="string"),
            "zone_id": pd.array([zone.get(g or "") for g, _ in rows], dtype="string"),
            "category": category,
            "observed_at": pd.DatetimeIndex([t for _, t in rows]).tz_localize(TZ),
        }
    )


OCTOBER = {"start": "2025-10-01", "end": "2025-11-01"}


def test_rates_per_resident_area_and_street_length():
    recs = _records([("A", "2025-10-05")] * 4 + [("B", "2025-10-06")] * 2 + [("D", "2025-10-07")])
    r = area_rates(recs, GROUPS, streets=STREETS, **OCTOBER).set_index("group_id")
    assert r["count"].tolist() == [4, 2, 0, 1]
    assert r.loc["A", "per_1000"] == pytest.approx(4.0)  # 4 per 1,000 residents
    assert r.loc["B", "per_1000"] == pytest.approx(4.0)
    assert pd.isna(r.loc["D", "per_1000"])  # no population: no rate, not zero
    assert r.loc["A", "area_km2"] == pytest.approx(0.01, rel=1e-6)
    assert r.loc["A", "per_km2"] == pytest.approx(400.0, rel=1e-6)
    assert r.loc["A", "street_km"] == pytest.approx(0.1, abs=1e-3)  # to within a metre
    assert r.loc["B", "street_km"] == pytest.approx(0.1, abs=1e-3)
    assert r.loc["A", "per_km_street"] == pytest.approx(40.0, rel=1e-2)
    assert r.loc["C", "street_km"] == 0 and pd.isna(r.loc["C", "per_km_street"])
    assert r.crs.to_epsg() == 4326


def test_every_group_is_listed_and_only_its_records_counted():
    recs = _records([("A", "2025-10-05"), (None, "2025-10-05"), ("X", "2025-10-05")])
    r = area_rates(recs, GROUPS, **OCTOBER)
    assert r["group_id"].tolist() == ["A", "B", "C", "D"]
    assert r["count"].tolist() == [1, 0, 0, 0]
    assert r["street_km"].isna().all() and r["per_km_street"].isna().all()  # no streets given


def test_a_street_along_a_shared_edge_is_split_between_both_groups():
    edge = gpd.GeoDataFrame(
        geometry=[
            LineString([(X0 + 100, Y0 + 10), (X0 + 100, Y0 + 90)]),  # between A and B
            LineString([(X0, Y0 + 10), (X0, Y0 + 90)]),  # A's outer edge: A's alone
        ],
        crs=5897,
    ).to_crs(4326)
    r = area_rates(_records([]), GROUPS, streets=edge).set_index("group_id")
    assert r.loc["A", "street_km"] == pytest.approx(0.08 + 0.04, abs=1e-3)
    assert r.loc["B", "street_km"] == pytest.approx(0.04, abs=1e-3)
    zones = area_rates(_records([]), GROUPS, level="zone", streets=edge)
    assert zones["street_km"].sum() == pytest.approx(r["street_km"].sum(), abs=1e-6)


def test_change_since_the_previous_calendar_month():
    rows = [("A", "2025-10-02")] * 3 + [("A", "2025-09-30 23:59")] * 2 + [("A", "2025-08-31")]
    rows += [("B", "2025-10-15")]
    r = area_rates(_records(rows), GROUPS, **OCTOBER).set_index("group_id")
    assert r.loc["A", "count_prev"] == 2 and r.loc["A", "change"] == 1  # 31 Aug is not September
    assert r.loc["A", "change_pct"] == pytest.approx(50.0)
    assert r.loc["A", "per_1000_prev"] == pytest.approx(2.0)
    assert r.loc["B", "change"] == 1 and pd.isna(r.loc["B", "change_pct"])  # from 0: no percent
    period, previous = r.attrs["period"], r.attrs["previous"]
    assert previous[0] == pd.Timestamp("2025-09-01", tz=TZ) and previous[1] == period[0]


def test_a_period_of_days_is_compared_with_as_many_days_before():
    rows = [("A", "2025-10-08")] * 2 + [("A", "2025-10-01")] + [("A", "2025-09-30")]
    r = area_rates(_records(rows), GROUPS, start="2025-10-08", end="2025-10-15")
    assert r.attrs["previous"][0] == pd.Timestamp("2025-10-01", tz=TZ)
    assert r.set_index("group_id").loc["A", ["count", "count_prev"]].tolist() == [2, 1]


def test_without_a_period_everything_counts_and_there_is_no_previous():
    r = area_rates(_records([("A", "2020-01-01"), ("A", "2030-01-01")]), GROUPS)
    assert r["count"].tolist()[0] == 2
    assert r["count_prev"].isna().all() and r["change"].isna().all()


def test_zones_sum_their_groups():
    rows = [("A", "2025-10-05"), ("B", "2025-10-05"), ("C", "2025-10-05"), ("D", "2025-10-06")]
    recs = _records(rows)
    zones_table = gpd.GeoDataFrame(
        {"zone_id": ["Z1", "Z2", "Z3"], "name": ["Khu 1", "Khu 2", "Khu 3"]},
        geometry=[box(X0, Y0, X0 + 200, Y0 + 100), box(X0, Y0 + 100, X0 + 200, Y0 + 200),
                  _square(5, 5)],
        crs=5897,
    )  # fmt: skip
    z = area_rates(recs, GROUPS, level="zone", zones=zones_table, **OCTOBER).set_index("zone_id")
    assert z["count"].tolist() == [2, 2, 0]
    assert z.loc["Z1", "population"] == 1500 and z.loc["Z1", "per_1000"] == pytest.approx(2 / 1.5)
    assert pd.isna(z.loc["Z2", "population"])  # D's population is unknown
    assert z.loc["Z1", "area_km2"] == pytest.approx(0.02, rel=1e-6)
    assert z.loc["Z1", "name"] == "Khu 1"
    # Without a zones table the zones are the union of their groups; without zone_id on the
    # records they come from the groups.
    dissolved = area_rates(recs.drop(columns="zone_id"), GROUPS, level="zone", **OCTOBER)
    assert dissolved["zone_id"].tolist() == ["Z1", "Z2"]
    assert dissolved["count"].tolist() == [2, 2]
    assert dissolved["area_km2"].to_numpy() == pytest.approx([0.02, 0.02], rel=1e-6)


def test_categories_filter_and_the_breakdown_lists_every_pair():
    recs = pd.concat(
        [
            _records([("A", "2025-10-05")] * 3, category="littering"),
            _records([("A", "2025-10-05")], category="traffic"),
        ]
    )
    only = area_rates(recs, GROUPS, categories=["traffic"], **OCTOBER)
    assert only["count"].tolist() == [1, 0, 0, 0]
    table = rates_by_category(recs, GROUPS, categories=["littering", "traffic"], **OCTOBER)
    assert len(table) == 4 * 2
    a = table[table["group_id"] == "A"].set_index("category")
    assert a["count"].tolist() == [3, 1] and a["share"].tolist() == [0.75, 0.25]
    assert a.loc["littering", "per_1000"] == pytest.approx(3.0)
    assert table[table["group_id"] == "B"]["share"].isna().all()
    full = rates_by_category(recs, GROUPS, **OCTOBER)
    assert len(full) == 4 * full["category"].nunique() and full["count"].sum() == 4
    with pytest.raises(InputError, match="unknown category"):
        area_rates(recs, GROUPS, categories=["litering"])


def test_inputs_are_not_changed_and_bad_inputs_are_refused():
    recs = _records([("A", "2025-10-05")])
    before_groups, before_recs = GROUPS.copy(), recs.copy()
    area_rates(recs, GROUPS, streets=STREETS, level="zone", **OCTOBER)
    assert GROUPS.equals(before_groups) and recs.equals(before_recs)
    with pytest.raises(InputError, match=r"geo\.assign"):
        area_rates(recs.drop(columns=["group_id"]), GROUPS)
    with pytest.raises(InputError, match="after start"):
        area_rates(recs, GROUPS, start="2025-10-02", end="2025-10-01")
    with pytest.raises(InputError, match="time column"):
        area_rates(recs.drop(columns=["observed_at"]), GROUPS, **OCTOBER)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", "D", None]), st.integers(0, 90)),
                max_size=40))  # fmt: skip
def test_counts_add_up_to_the_records_with_a_group_in_each_period(rows):
    day0 = pd.Timestamp("2025-08-15")
    recs = _records([(g, str(day0 + pd.Timedelta(days=d))) for g, d in rows])
    r = area_rates(recs, GROUPS, **OCTOBER)
    in_oct = [g for g, d in rows if g and 47 <= d < 78]  # 1 Oct is day 47 after 15 Aug
    in_sep = [g for g, d in rows if g and 17 <= d < 47]
    assert int(r["count"].sum()) == len(in_oct) and int(r["count_prev"].sum()) == len(in_sep)
    assert (r["change"] == r["count"] - r["count_prev"]).all()


# --- group hotspots on an 8 × 8 block of groups ------------------------------------------


def _grid(counts: np.ndarray) -> gpd.GeoDataFrame:
    n = counts.shape[0]
    return gpd.GeoDataFrame(
        {
            "group_id": [f"{i}-{j}" for j in range(n) for i in range(n)],
            "per_1000": counts.T.ravel().astype(float),  # 1,000 residents each
        },
        geometry=[_square(i, j) for j in range(n) for i in range(n)],
        crs=5897,
    ).to_crs(4326)


def test_gi_star_finds_a_planted_block_of_groups_and_nothing_in_uniform_counts():
    rng = np.random.default_rng(0)
    counts = rng.poisson(5, (8, 8))
    counts[1:4, 1:4] += 25  # a hot 3 × 3 block around group 2-2
    r = _grid(counts)
    hot = group_hotspots(r, value="per_1000", permutations=999)
    assert hot.set_index("group_id").loc["2-2", "hot"]
    assert set(hot.loc[hot["hot"], "group_id"]) <= {f"{i}-{j}" for i in range(5) for j in range(5)}
    assert {"gi", "z", "p", "p_fdr", "hot", "cold", "neighbours"} <= set(hot.columns)
    assert hot.set_index("group_id").loc["0-0", "neighbours"] == 3  # a corner

    flat = r.assign(per_1000=7.0)
    none = group_hotspots(flat, value="per_1000")
    assert not none["hot"].any() and not none["cold"].any()

    moran = group_hotspots(r, value="per_1000", method="moran").set_index("group_id")
    assert moran.loc["2-2", "quadrant"] == "HH"


def test_hotspots_refuse_missing_rates_and_name_the_fallback():
    r = area_rates(_records([("A", "2025-10-05")]), GROUPS)
    with pytest.raises(InputError, match=r"value='per_km2'.*") as err:
        group_hotspots(r, value="per_1000")
    assert "D" in str(err.value) and "population" in str(err.value)
    ok = group_hotspots(r, value="per_km2")
    assert len(ok) == 4 and not ok["hot"].any()  # too few units to find anything
