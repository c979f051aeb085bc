"""Group accountability: the weekly list, commitments and their breaches, model street rates."""

from __future__ import annotations

import hashlib
import unicodedata

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from geo.accountability import (
    commitment_breaches,
    commitment_frame,
    model_street_frame,
    model_street_rates,
    offender_keys,
    record_commitments,
    record_model_street,
    weekly_group_list,
)
from geo.errors import InputError, StoreError
from geo.ingest import UploadOptions, commit_upload, prepare_upload
from geo.model import SCHEMAS
from geo.store import create_store, open_store

TZ = "Asia/Ho_Chi_Minh"
X, Y = 587_000.0, 2_324_000.0  # EPSG:5897 metres, in Hà Nội
SALT = b"test-salt"
WEEK = "2025-07-07"  # a Monday


def _key(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


K1, K2, K3 = _key("k1"), _key("k2"), _key("k3")


def _violations(rows: list[tuple]) -> gpd.GeoDataFrame:
    """Rows of (observed_at, offender_key, address, (x, y), group_id)."""
    at, keys, addresses, xy, groups = zip(*rows, strict=True)
    return gpd.GeoDataFrame(
        {
            "record_id": [f"r{i}" for i in range(len(rows))],
            "observed_at": pd.to_datetime(list(at)).tz_localize(TZ),
            "offender_key": pd.array(keys, dtype="string"),
            "address": pd.array(addresses, dtype="string"),
            "category": "sidewalk_encroachment",
            "group_id": list(groups),
        },
        geometry=[Point(X + x, Y + y) for x, y in xy],
        crs=5897,
    )


def _week() -> gpd.GeoDataFrame:
    return _violations([
        ("2025-07-08 09:00", K1, "số 1 Phố A", (0, 0), "G1"),
        ("2025-07-10 10:00", K1, "số 1 Phố A", (1, 0), "G1"),  # after K1 signed: a breach
        ("2025-07-09 08:00", K2, "số 9 Phố A", (100, 0), "G1"),
        ("2025-06-18 08:00", K2, "số 9 Phố A", (100, 0), "G1"),  # 3 weeks earlier: a repeat
        ("2025-07-11 08:00", K3, "số 3 Phố A", (200, 0), "G1"),
        ("2025-06-05 08:00", K3, "số 3 Phố A", (200, 0), "G1"),  # 5 weeks earlier: not
        ("2025-07-08 07:00", None, "số 5 Phố B", (300, 0), "G1"),
        ("2025-07-09 07:00", None, "Số 5 phố B", (301, 0), "G1"),  # same address, other case
        ("2025-07-12 07:00", None, "số 5 Phố B", (302, 0), "G1"),
        ("2025-07-08 18:00", None, None, (400, 0), "G1"),  # two without address, 8 m apart
        ("2025-07-09 18:00", None, None, (408, 0), "G1"),
        ("2025-07-10 18:00", None, None, (600, 0), "G1"),  # alone
        ("2025-07-10 18:00", K1, "số 1 Phố A", (0, 0), "G2"),  # another group
        ("2025-07-15 09:00", K1, "số 1 Phố A", (0, 0), "G1"),  # the next week
    ])  # fmt: skip


def _commitments() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "commitment_id": ["c1", "c3", "c2"],
            "offender_key": [K1, K3, K2],
            "signed_at": pd.to_datetime(
                ["2025-07-09 12:00", "2025-07-01 00:00", "2025-07-20 00:00"]
            ),
            "ended_at": pd.to_datetime([None, "2025-07-05 00:00", None]),
        }
    )


# --- offender keys ----------------------------------------------------------------------------


def test_a_household_gets_one_key_however_it_is_typed():
    typed = "số 12 ngõ 4B Phương Mai"
    variants = pd.Series([typed, " Số 12  Ngõ 4b PHƯƠNG MAI ", unicodedata.normalize("NFD", typed)])
    keys = offender_keys(variants, SALT)
    assert keys.nunique() == 1 and len(keys.iloc[0]) == 64
    assert offender_keys(pd.Series([typed]), b"other salt").iloc[0] != keys.iloc[0]
    assert offender_keys(pd.Series(["số 14 ngõ 4B Phương Mai"]), SALT).iloc[0] != keys.iloc[0]


# --- the weekly list --------------------------------------------------------------------------


def test_the_weekly_list_counts_each_violation_once_for_its_household_or_place():
    records = _week()
    before = records.copy()
    out = weekly_group_list(records, group_id="G1", week_start=WEEK, commitments=_commitments())
    assert records.equals(before)
    assert out["count"].sum() == 10  # the group's violations of the week, each once
    assert out["kind"].tolist() == ["household", "place", "place", "household", "household",
                                    "place"]  # fmt: skip
    assert out["label"].tolist() == [
        f"Hộ #{K1[:4]}", "số 5 Phố B", "Điểm 1", f"Hộ #{K2[:4]}", f"Hộ #{K3[:4]}", "Điểm 2",
    ]  # fmt: skip
    assert out["count"].tolist() == [2, 3, 2, 1, 1, 1]
    assert out["count_4w"].tolist() == [2, 3, 2, 2, 1, 1]
    assert out["repeat"].tolist() == [True, True, True, True, False, False]
    assert out["breaches"].tolist() == [1, 0, 0, 0, 0, 0]
    assert out["committed"].tolist() == [True, False, False, False, False, False]
    assert out["flags"].iloc[0] == "Vi phạm cam kết; Tái phạm"
    assert out["flags"].iloc[1] == "Điểm tái diễn"
    assert out["last_at"].iloc[0] == pd.Timestamp("2025-07-10 10:00", tz=TZ)
    assert out["offender_key"].iloc[0] == K1 and pd.isna(out["offender_key"].iloc[1])
    assert out.crs.to_epsg() == 4326
    assert not any(K1 in str(v) for v in out["label"])  # only a short prefix is shown


def test_the_list_speaks_english_and_keeps_colliding_labels_apart():
    records = _violations([
        ("2025-07-08 09:00", "abcd1111" + "0" * 56, "số 1", (0, 0), "G1"),
        ("2025-07-08 10:00", "abcd2222" + "0" * 56, "số 2", (50, 0), "G1"),
    ])  # fmt: skip
    out = weekly_group_list(pd.DataFrame(records.drop(columns="geometry")), group_id="G1",
                            week_start=WEEK, lang="en")  # fmt: skip
    assert sorted(out["label"]) == ["Household #abcd11", "Household #abcd22"]
    assert not isinstance(out, gpd.GeoDataFrame)  # no geometry in, none out


def test_a_week_without_violations_gives_an_empty_list():
    out = weekly_group_list(_week(), group_id="G9", week_start=WEEK)
    assert out.empty and "label" in out.columns
    with pytest.raises(InputError, match="group_id"):
        weekly_group_list(pd.DataFrame({"x": [1]}), group_id="G1", week_start=WEEK)
    with pytest.raises(InputError, match="week_start is not a date"):
        weekly_group_list(_week(), group_id="G1", week_start="tuần sau")


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 40),
            st.sampled_from([K1, K2, None, None]),
            st.sampled_from(["số 1", "số 2", None]),
            st.integers(0, 60),
            st.sampled_from(["G1", "G2"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_every_violation_of_the_week_is_listed_once(rows):
    start = pd.Timestamp("2025-06-20")
    records = _violations(
        [(start + pd.Timedelta(days=d, hours=9), k, a, (x, 0), g) for d, k, a, x, g in rows]
    )
    out = weekly_group_list(records, group_id="G1", week_start=WEEK)
    at = records["observed_at"]
    week = (
        (records["group_id"] == "G1")
        & (at >= pd.Timestamp(WEEK, tz=TZ))
        & (at < pd.Timestamp(WEEK, tz=TZ) + pd.Timedelta(days=7))
    )
    assert out["count"].sum() == week.sum()
    assert (out["count_4w"] >= out["count"]).all()
    assert (out["repeat"] == (out["count_4w"] >= 2)).all()
    assert out.loc[out["kind"] == "household", "label"].is_unique


# --- commitments ------------------------------------------------------------------------------


def test_a_commitment_is_breached_only_after_signing_and_before_it_ends():
    records = _week()
    hits = commitment_breaches(records, _commitments())
    assert hits["record_id"].tolist() == ["r1", "r12", "r13"]  # K1 from 9/7 12:00 on
    assert set(hits["commitment_id"]) == {"c1"}
    # K3 committed 1/7-5/7 and offended on 5/6 and 11/7: outside the term both times
    assert not hits["offender_key"].isin([K3]).any()


def test_a_commitment_row_conforms_and_keeps_only_the_key():
    row = commitment_frame(household="số 12 ngõ 4B Phương Mai", address="số 12 ngõ 4B",
                           signed_at="2025-07-01", salt=SALT, ward_id="W", point=(105.84, 21.0),
                           now="2025-08-01")  # fmt: skip
    assert list(row.columns) == list(SCHEMAS["commitments"])
    assert row["offender_key"].iloc[0] == offender_keys(pd.Series(["Số 12 Ngõ 4B Phương Mai"]),
                                                        SALT).iloc[0]  # fmt: skip
    assert (
        not row.drop(columns="geometry")
        .astype(str)
        .apply(lambda c: c.str.contains("Phương Mai"))
        .any()
        .any()
    )
    assert row["signed_at"].iloc[0] == pd.Timestamp("2025-07-01", tz=TZ)
    assert row.geometry.iloc[0].equals(Point(105.84, 21.0))
    by_group = commitment_frame(household="29B1-123.45", address=None, signed_at="2025-07-01",
                                salt=SALT, ward_id="W", group_id="G1")  # fmt: skip
    assert by_group["group_id"].iloc[0] == "G1" and by_group.geometry.iloc[0] is None


def test_a_bad_commitment_lists_every_problem():
    with pytest.raises(InputError) as err:
        commitment_frame(household="  ", address=None, signed_at="2030-01-01", salt=SALT,
                         ward_id="W", now="2025-08-01")  # fmt: skip
    message = str(err.value)
    assert "household is empty" in message and "future" in message and "group_id" in message
    with pytest.raises(InputError, match="signed_at is not a date"):
        commitment_frame(household="x", address=None, signed_at="hôm qua", salt=SALT,
                         ward_id="W", group_id="G1")  # fmt: skip
    with pytest.raises(InputError, match="ended_at must come after"):
        commitment_frame(household="x", address=None, signed_at="2025-07-01",
                         ended_at="2025-06-01", salt=SALT, ward_id="W", group_id="G1")  # fmt: skip


def test_commitments_are_recorded_in_one_audited_write(tmp_path):
    store = create_store(tmp_path / "s.gpkg")
    rows = [
        commitment_frame(
            household=h, address=h, signed_at="2025-07-01", salt=SALT, ward_id="W", group_id="G1"
        )
        for h in ("số 1 Phố A", "số 2 Phố A")
    ]
    written = record_commitments(store, rows, user="lan")
    back = store.read("commitments")
    assert sorted(back["commitment_id"]) == sorted(written["commitment_id"])
    assert (store.read("audit_log")["action"] == "commitments.record").sum() == 1
    with pytest.raises(StoreError):
        record_commitments(store, rows[0], user="lan")  # the same commitment again
    with pytest.raises(InputError, match="twice"):
        record_commitments(store, [rows[1], rows[1]], user="lan")


def test_a_typed_commitment_matches_an_uploaded_household(demo_copy):
    store = open_store(demo_copy)
    csv = ("Thời gian;Vĩ độ;Kinh độ;Loại vi phạm;Địa chỉ;Hộ\n"
           "08/07/2025 09:30;21,0065;105,8330;Lấn chiếm vỉa hè;số 12 ngõ 4B;"
           "Số 12 Ngõ 4B Phương Mai\n").encode()  # fmt: skip
    options = UploadOptions(now=pd.Timestamp("2025-11-01", tz=TZ), user="lan")
    summary = commit_upload(prepare_upload(csv, name="t.csv", store=store, options=options),
                            store=store)  # fmt: skip
    assert summary["accepted"] == 1
    uploaded = store.read("violations").query("upload_id == @summary['upload_id']").iloc[0]
    row = commitment_frame(household="số 12 ngõ 4B Phương Mai", address="số 12 ngõ 4B",
                           signed_at="2025-07-01", salt=store.offender_salt(),
                           ward_id=uploaded["ward_id"], group_id=uploaded["group_id"])  # fmt: skip
    assert row["offender_key"].iloc[0] == uploaded["offender_key"]
    record_commitments(store, row, user="lan")
    out = weekly_group_list(store.read("violations"), group_id=uploaded["group_id"],
                            week_start=WEEK, commitments=store.read("commitments"))  # fmt: skip
    assert out.iloc[0]["offender_key"] == uploaded["offender_key"]
    assert out.iloc[0]["breaches"] == 1 and "Vi phạm cam kết" in out.iloc[0]["flags"]


# --- model streets ----------------------------------------------------------------------------


def _streets() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "street_id": ["a1", "a2", "b", "n"],
            "ward_id": "W",
            "name": ["Phố A", "Phố A", "Phố B", "Ngõ 5 Phố A"],
        },
        geometry=[
            LineString([(X, Y), (X + 500, Y)]),
            LineString([(X + 500, Y), (X + 1000, Y)]),
            LineString([(X, Y + 200), (X + 1000, Y + 200)]),
            LineString([(X, Y), (X, Y - 100)]),
        ],
        crs=5897,
    )


def test_a_model_street_joins_the_edges_of_its_name():
    row = model_street_frame(_streets(), name="pho a", designated_at="2025-04-01", ward_id="W")
    assert list(row.columns) == list(SCHEMAS["model_streets"])
    assert row["name"].iloc[0] == "Phố A"
    geom = row.to_crs(5897).geometry.iloc[0]
    assert geom.geom_type == "MultiLineString" and len(geom.geoms) == 1  # joined end to end
    assert geom.length == pytest.approx(1000, abs=0.5)  # the lane "Ngõ 5 Phố A" is not in it
    with pytest.raises(InputError, match="close names: Phố B, Phố A"):
        model_street_frame(_streets(), name="Phố C", designated_at="2025-04-01", ward_id="W")


def test_model_street_rates_compare_it_with_the_rest_before_and_after():
    streets = _streets()
    model = model_street_frame(streets, name="Phố A", designated_at="2025-04-01", ward_id="W")
    before, after, outside = "2025-02-10 09:00", "2025-05-10 09:00", "2025-08-10 09:00"
    violations = _violations(
        [(before, None, None, (100 * k, 10), "G") for k in range(4)]  # along A
        + [(after, None, None, (700, -10), "G")]
        + [(after, None, None, (0, -5), "G")]  # A meets the lane: counts for the model street
        + [(before, None, None, (300, 205), "G")] * 2  # along B
        + [(after, None, None, (300, 195), "G")] * 2
        + [(before, None, None, (5, -60), "G")]  # along the lane
        + [(before, None, None, (500, 100), "G")]  # 100 m from every street
        + [(outside, None, None, (100, 10), "G")]  # after the period
    ).assign(ward_id="W")
    out = model_street_rates(violations, streets, model, start="2025-01-01", end="2025-07-01")
    assert out["period"].tolist() == ["before", "after"]
    assert out["model_count"].tolist() == [4, 2] and out["rest_count"].tolist() == [3, 2]
    assert out["model_km"].iloc[0] == pytest.approx(1.0, abs=1e-3)
    assert out["rest_km"].iloc[0] == pytest.approx(1.1, abs=1e-3)
    months = np.array([90, 91]) / 30.4375
    assert out["months"].to_numpy() == pytest.approx(months)
    assert out["model_rate"].to_numpy() == pytest.approx(np.array([4, 2]) / 1.0 / months, rel=1e-3)
    assert out["rest_rate"].to_numpy() == pytest.approx(np.array([3, 2]) / 1.1 / months, rel=1e-3)
    assert out["ratio"].to_numpy() == pytest.approx(out["model_rate"] / out["rest_rate"])
    # designated before the period: only "after"
    early = model.assign(designated_at=pd.Timestamp("2024-01-01", tz=TZ))
    assert model_street_rates(violations, streets, early, start="2025-01-01",
                              end="2025-07-01")["period"].tolist() == ["after"]  # fmt: skip
    with pytest.raises(InputError, match="end"):
        model_street_rates(violations, streets, model, start="2025-07-01", end="2025-01-01")


def test_a_demo_model_street_by_its_real_name(demo_store, tmp_path):
    demo = open_store(demo_store)
    streets = demo.read("streets")
    main = streets[streets["name"].str.startswith("Phố")]["name"].value_counts().index[0]
    edges = streets[streets["name"] == main]
    row = model_street_frame(streets, name=main.lower(), designated_at="2025-06-01",
                             ward_id="demo", notes="Tuyến phố văn minh")  # fmt: skip
    assert row["name"].iloc[0] == main
    length = row.to_crs(5897).geometry.length.iloc[0]
    assert length == pytest.approx(edges["length_m"].sum(), rel=0.01)
    store = create_store(tmp_path / "s.gpkg")
    record_model_street(store, row, user="lan")
    stored = store.read("model_streets")
    assert stored["model_street_id"].tolist() == row["model_street_id"].tolist()
    rates = model_street_rates(demo.read("violations"), streets, row, start="2025-01-01",
                               end="2025-11-01")  # fmt: skip
    assert rates["period"].tolist() == ["before", "after"]
    assert (rates["model_count"] > 0).all() and (rates["rest_count"] > 0).all()
    assert np.isfinite(rates["ratio"]).all()
