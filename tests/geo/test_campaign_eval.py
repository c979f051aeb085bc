"""Campaign areas on hand-drawn squares, the worked examples through the pipeline, the demo."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from geo.campaign_eval import campaign_areas, evaluate_campaign, explain
from geo.demo_records import CAMPAIGN_WAVES
from geo.errors import InputError
from geo.store import open_store

TZ = "Asia/Ho_Chi_Minh"
X0, Y0 = 586_000.0, 2_324_000.0  # Kim Liên, in EPSG:5897
BUFFER_IDS = [f"B{i}" for i in range(1, 9)]
# The campaign runs 8–14 July (7 days): before is 1–7 July, after 15–21 July.
START, END = "2025-07-08", "2025-07-14"
# Records on the first day of "before" and the last of "after": the records cover both.
BEFORE_DAY, DURING_DAY, AFTER_DAY = "2025-07-01 10:00", "2025-07-10 10:00", "2025-07-21 10:00"


def _grid(shrink: float = 0.0, *, ward: bool = False) -> gpd.GeoDataFrame:
    """A 3×3 grid of 100 m squares (centre T, ring B1–B8) and two squares 1 km away."""
    cells = [(i, j) for j in (1, 0, -1) for i in (-1, 0, 1)]
    ids, geoms = [], []
    ring = iter(BUFFER_IDS)
    for i, j in cells:
        ids.append("T" if (i, j) == (0, 0) else next(ring))
        x, y = X0 + 100 * i, Y0 + 100 * j
        geoms.append(box(x + shrink, y + shrink, x + 100 - shrink, y + 100 - shrink))
    for k, name in enumerate(["C1", "C2"]):
        ids.append(name)
        geoms.append(box(X0 + 1_000 + 200 * k, Y0, X0 + 1_100 + 200 * k, Y0 + 100))
    frame = gpd.GeoDataFrame({"group_id": ids}, geometry=geoms, crs=5897).to_crs(4326)
    if ward:
        frame["ward_id"] = ["w1"] * 10 + ["w2"]  # C2 lies in the next ward
    return frame


def _records(plan: dict[tuple[str, str], int], category: str = "littering") -> pd.DataFrame:
    """``plan[(group, time)] = n`` records of ``category`` in ``group`` at local ``time``."""
    rows = [
        (group, pd.Timestamp(when, tz=TZ), category)
        for (group, when), n in plan.items()
        for _ in range(n)
    ]
    return pd.DataFrame(rows, columns=["group_id", "observed_at", "category"])


def _spread(total: int, when: str) -> dict[tuple[str, str], int]:
    """``total`` records over the eight buffer groups."""
    share = np.full(8, total // 8)
    share[: total % 8] += 1
    return {(g, when): int(n) for g, n in zip(BUFFER_IDS, share, strict=True)}


def _example(buffer_after: int) -> pd.DataFrame:
    """Target 100 -> 50, buffer 100 -> ``buffer_after``, control flat at 100 (50 + 50)."""
    plan = {
        ("T", BEFORE_DAY): 100,
        ("T", DURING_DAY): 300,  # the campaign's own work, never "after"
        ("T", AFTER_DAY): 50,
        ("C1", BEFORE_DAY): 50,
        ("C2", BEFORE_DAY): 50,
        ("C1", AFTER_DAY): 50,
        ("C2", AFTER_DAY): 50,
        **_spread(100, BEFORE_DAY),
        **_spread(buffer_after, AFTER_DAY),
    }
    return _records(plan)


def _row(frame: pd.DataFrame, **where: str) -> pd.Series:
    chosen = np.logical_and.reduce([frame[k] == v for k, v in where.items()])
    assert chosen.sum() == 1, where
    return frame[chosen].iloc[0]


# -- areas ----------------------------------------------------------------------------------


def test_adjacent_buffer_is_the_eight_neighbours_corners_included():
    areas = campaign_areas(_grid(), ["T"])
    assert areas.name == "area" and areas.index.name == "group_id"
    assert list(areas.index) == ["B1", "B2", "B3", "B4", "T", "B5", "B6", "B7", "B8", "C1", "C2"]
    assert areas["T"] == "target"
    assert (areas[BUFFER_IDS] == "buffer").all()
    assert (areas[["C1", "C2"]] == "control").all()


def test_drafting_gaps_under_a_metre_still_touch():
    near = campaign_areas(_grid(shrink=0.3), ["T"])  # 0.6 m between edges, 0.85 m corners
    assert (near[BUFFER_IDS] == "buffer").all()
    apart = campaign_areas(_grid(shrink=2.0), ["T"])  # 4 m: a street, not a shared edge
    assert (apart[BUFFER_IDS] == "control").all()


def test_a_ring_takes_the_groups_mostly_within_it():
    wide = campaign_areas(_grid(), "T", buffer=150)  # the farthest corner is 141 m away
    assert (wide[BUFFER_IDS] == "buffer").all() and (wide[["C1", "C2"]] == "control").all()
    narrow = campaign_areas(_grid(), "T", buffer=60)
    edges, corners = ["B2", "B4", "B5", "B7"], ["B1", "B3", "B6", "B8"]
    assert (narrow[edges] == "buffer").all()  # 60 % of each within 60 m
    assert (narrow[corners] == "excluded").all()  # a quarter disc, 28 %: not a clean control
    assert (narrow[["C1", "C2"]] == "control").all()


def test_chosen_controls_and_the_other_ward():
    chosen = campaign_areas(_grid(), "T, B5", control=["C2"])  # comma text, as stored
    assert chosen[["T", "B5"]].tolist() == ["target", "target"]
    assert chosen["C2"] == "control" and chosen["C1"] == "excluded"
    assert chosen["B6"] == "buffer"
    by_ward = campaign_areas(_grid(ward=True), ["T"])
    assert by_ward["C1"] == "control" and by_ward["C2"] == "excluded"


def test_bad_areas_are_named():
    with pytest.raises(InputError, match=r"unknown group id\(s\) X9, C7"):
        campaign_areas(_grid(), ["T", "X9"], control=["C7"])
    with pytest.raises(InputError, match="target is empty"):
        campaign_areas(_grid(), [])
    with pytest.raises(InputError, match="target is empty"):
        campaign_areas(_grid(), " , ")
    with pytest.raises(InputError, match=r"control group\(s\) B2 are targets or within"):
        campaign_areas(_grid(), ["T"], control=["C1", "B2"])
    with pytest.raises(InputError, match="ring width"):
        campaign_areas(_grid(), ["T"], buffer=-5)
    with pytest.raises(InputError, match="group_id"):
        campaign_areas(_grid().drop(columns="group_id"), ["T"])


# -- the worked examples through the pipeline ------------------------------------------------


def test_complete_displacement_through_the_pipeline():
    ev = evaluate_campaign(
        _example(buffer_after=150), campaign_areas(_grid(), ["T"]), start=START, end=END
    )
    periods = ev.periods.set_index("period")
    assert list(periods.index) == ["before", "campaign", "after", "follow_up_1w", "follow_up_4w"]
    assert periods.loc["before", "start"] == pd.Timestamp("2025-07-01", tz=TZ)
    assert periods.loc["after", "end"] == pd.Timestamp("2025-07-22", tz=TZ)
    # the records stop on 21 July: the follow-ups are flagged, not reported as empty
    assert periods["complete"].tolist() == [True, True, True, False, False]
    assert set(ev.counts["period"]) == set(ev.effects["period"]) == {"after"}
    after = ev.counts[ev.counts["category"] == "all"].set_index("area")
    assert after[["before", "after"]].to_dict("index") == {
        "target": {"before": 100, "after": 50},  # not the 300 of the campaign's own days
        "buffer": {"before": 100, "after": 150},
        "control": {"before": 100, "after": 100},
    }
    assert after["change_pct"].tolist() == [-50.0, 50.0, 0.0]
    effect = _row(ev.effects, period="after", category="all")
    assert (effect["sm"], effect["bm"], effect["wdq"]) == (-0.5, 0.5, -1.0)
    assert effect["wdq_reading"] == "displacement"
    assert effect["wdd"] == 0 and effect["wdd_reading"] == "no_clear_change"
    # the campaign's one category is reported too, with the same figures
    assert _row(ev.effects, period="after", category="littering")["wdq"] == -1.0


def test_diffusion_of_benefits_through_the_pipeline():
    ev = evaluate_campaign(
        _example(buffer_after=80), campaign_areas(_grid(), ["T"]), start=START, end=END,
        categories="littering",
    )  # fmt: skip
    effect = _row(ev.effects, period="after", category="all")
    assert effect["wdq"] == pytest.approx(0.4) and effect["wdq_reading"] == "diffusion"
    assert effect["wdd"] == pytest.approx(-70) and effect["wdd_reading"] == "fewer"
    assert effect["wdd_p"] == pytest.approx(0.0373, abs=1e-4)


def test_the_explanation_in_both_languages():
    ev = evaluate_campaign(
        _example(buffer_after=80), campaign_areas(_grid(), ["T"]), start=START, end=END
    )
    vi = explain(ev, lang="vi")
    assert vi[0].startswith("Đợt ra quân từ 08/07/2025 đến 14/07/2025 (7 ngày)")
    assert "từ 01/07/2025 đến 07/07/2025" in vi[0]
    assert vi[1] == "Tổ mục tiêu: 1; tổ lân cận: 8; tổ đối chứng (để so sánh): 2."
    main = vi[2]
    assert main.startswith("Ngay sau đợt (từ 15/07/2025 đến 21/07/2025): trong các tổ mục tiêu")
    assert "vi phạm giảm 50 % (từ 100 xuống 50) so với giai đoạn trước" in main
    assert "ở các tổ lân cận giảm 20 % (từ 100 xuống 80)" in main
    assert main.endswith("các tổ lân cận cũng được hưởng lợi (hiệu quả lan tỏa) (WDQ = 0,4).")
    assert "ít hơn dự kiến khoảng 70 vụ" in vi[3] and "từ 4 đến 136 vụ" in vi[3]
    assert "(p = 0,037)" in vi[3]
    assert vi[4].startswith("Sau 1 tuần (từ 22/07/2025 đến 28/07/2025): chưa đủ dữ liệu")
    assert "hết ngày 21/07/2025" in vi[4]
    en = explain(ev, lang="en")
    assert "(WDQ = 0.4)" in en[2] and "about 70 fewer violations" in en[3]
    assert en[4].startswith("One week later") and en[5].startswith("4 weeks later")
    assert len(vi) == len(en) == 6  # one category: no list by category
    assert not any("{" in s or "}" in s for s in vi + en)


def test_vietnamese_numbers_use_decimal_commas_and_true_minus():
    # target 1,200 -> 720 (-40 %), buffer 1,000 -> 1,150 (+15 %), control flat: WDQ -0.3125
    plan = {("T", BEFORE_DAY): 1_200, ("T", AFTER_DAY): 720, ("C1", BEFORE_DAY): 1_000,
            ("C1", AFTER_DAY): 1_000, **_spread(1_000, BEFORE_DAY),
            **_spread(1_150, AFTER_DAY)}  # fmt: skip
    ev = evaluate_campaign(_records(plan), campaign_areas(_grid(), ["T"]), start=START, end=END)
    assert _row(ev.effects, period="after", category="all")["wdq"] == pytest.approx(-0.3125)
    main = explain(ev, lang="vi")[2]
    assert "giảm 40 % (từ 1.200 xuống 720)" in main and "tăng 15 % (từ 1.000 lên 1.150)" in main
    assert main.endswith("(WDQ = −0,31).")
    assert explain(ev, lang="en")[2].endswith("(WDQ = −0.31).")


def test_categories_are_counted_apart_and_together():
    frame = pd.concat(
        [
            _example(buffer_after=150),
            _records({("T", BEFORE_DAY): 10, ("T", AFTER_DAY): 30}, "street_vending"),
            _records({("T", BEFORE_DAY): 99, ("T", AFTER_DAY): 1}, "traffic"),  # not chosen
        ]
    )
    ev = evaluate_campaign(
        frame, campaign_areas(_grid(), ["T"]), start=START, end=END,
        categories=["littering", "street_vending"],
    )  # fmt: skip
    assert ev.categories == ("littering", "street_vending")
    counts = ev.counts.set_index(["category", "area"])
    assert counts.loc[("street_vending", "target"), ["before", "after"]].tolist() == [10, 30]
    assert counts.loc[("all", "target"), ["before", "after"]].tolist() == [110, 80]
    per_cat = ev.counts[ev.counts["category"] != "all"].groupby("area")[["before", "after"]].sum()
    alls = ev.counts[ev.counts["category"] == "all"].set_index("area")[["before", "after"]]
    pd.testing.assert_frame_equal(per_cat.sort_index(), alls.sort_index())
    # street vending has no control record: a reading, not an infinity
    vending = _row(ev.effects, period="after", category="street_vending")
    assert vending["wdq_reading"] == "no_control" and np.isnan(vending["wdq"])
    assert vending["wdd_reading"] == "no_control"
    vi = explain(ev, lang="vi")
    assert vi[4] == "Theo từng loại vi phạm, ngay sau đợt:"
    assert vi[6].startswith("Bán hàng rong: tổ mục tiêu tăng 200 % (từ 10 lên 30)")
    assert "tổ lân cận vẫn là 0; tổ đối chứng vẫn là 0." in vi[6]


def test_records_outside_the_areas_and_naive_times():
    frame = _example(buffer_after=150)
    frame["observed_at"] = frame["observed_at"].dt.tz_localize(None)  # local wall time
    extra = _records({("C2", AFTER_DAY): 500})
    extra["group_id"] = [None] * 250 + ["ZZ"] * 250  # outside every group, or unknown
    areas = campaign_areas(_grid(), ["T"], control=["C1"])  # C2 excluded
    ev = evaluate_campaign(
        pd.concat([frame, extra.assign(observed_at=extra["observed_at"].dt.tz_localize(None))]),
        areas, start=pd.Timestamp("2025-07-08"), end=pd.Timestamp("2025-07-14 23:59:59"),
    )  # fmt: skip
    control = _row(ev.counts, period="after", category="all", area="control")
    assert (control["before"], control["after"]) == (50, 50)
    assert _row(ev.effects, period="after", category="all")["wdq"] == -1.0


def test_follow_ups_are_counted_when_the_records_cover_them():
    frame = pd.concat([_example(buffer_after=150), _records({("C1", "2025-08-31 08:00"): 1})])
    ev = evaluate_campaign(frame, campaign_areas(_grid(), ["T"]), start=START, end=END)
    assert ev.periods["complete"].all()
    assert set(ev.effects["period"]) == {"after", "follow_up_1w", "follow_up_4w"}
    # nothing happened in the follow-ups but that lone control record: the target fell to 0
    quiet = _row(ev.counts, period="follow_up_1w", category="all", area="target")
    assert (quiet["before"], quiet["after"], quiet["change_pct"]) == (100, 0, -100.0)
    assert _row(ev.effects, period="follow_up_4w", category="all")["wdq_reading"] == "no_control"


def test_nothing_is_compared_without_the_period_before():
    ev = evaluate_campaign(
        _example(buffer_after=150), campaign_areas(_grid(), ["T"]),
        start="2025-07-02", end="2025-07-08",
    )  # fmt: skip
    assert not ev.periods.set_index("period").loc["before", "complete"]
    assert ev.counts.empty and ev.effects.empty
    assert explain(ev, lang="en")[-1].startswith("The records do not cover the period before")


def test_bad_evaluations_are_refused():
    frame, areas = _example(buffer_after=150), campaign_areas(_grid(), ["T"])
    with pytest.raises(InputError, match="before start"):
        evaluate_campaign(frame, areas, start="2025-07-14", end="2025-07-08")
    with pytest.raises(InputError, match="at least one target"):
        evaluate_campaign(frame, areas.replace("target", "control"), start=START, end=END)
    with pytest.raises(InputError, match="observed_at"):
        evaluate_campaign(frame.drop(columns="observed_at"), areas, start=START, end=END)
    with pytest.raises(InputError, match="followups_weeks"):
        evaluate_campaign(frame, areas, start=START, end=END, followups_weeks=(0,))


# -- the demo ward's July campaign ------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_store):
    store = open_store(demo_store)
    campaigns = store.read("campaigns")
    assert len(campaigns) == 1  # July 2025: one campaign in two waves
    return store.read("groups"), store.read("violations"), campaigns


def test_the_second_wave_alone_quietens_its_targets(demo):
    groups, violations, campaigns = demo
    july = campaigns.iloc[0]
    areas = campaign_areas(groups, july["target"])
    assert areas.value_counts()["target"] == len(july["target"].split(","))
    first, last = CAMPAIGN_WAVES[1]
    ev = evaluate_campaign(violations, areas, start=first, end=last, categories=july["categories"])
    assert ev.periods["complete"].all()
    for period in ("after", "follow_up_1w", "follow_up_4w"):
        rows = ev.counts[(ev.counts["period"] == period) & (ev.counts["category"] == "all")]
        change = rows.set_index("area")["change_pct"]
        assert change["target"] < -25, period  # next door: see the whole campaign below


def test_the_july_campaign_as_a_whole_displaced_some_violations(demo):
    # Both waves as the one campaign (7–27 July): three-week periods, fewer chance swings.
    groups, violations, campaigns = demo
    july = campaigns.iloc[0]
    areas = campaign_areas(groups, july["target"])
    ev = evaluate_campaign(
        violations, areas, start=july["start"], end=july["end"], categories=july["categories"]
    )
    effects = ev.effects[ev.effects["category"] == "all"].set_index("period")
    assert (effects["wdq"] < 0).all() and (effects["wdq"] >= -1).all()
    assert set(effects["wdq_reading"]) == {"displacement"}
    assert (effects["wdd"] < 0).all()  # still a net gain, targets and neighbours together
    text = explain(ev, lang="vi")[2]
    assert "một phần vi phạm đã dịch chuyển sang các tổ lân cận" in text and "(WDQ = −0," in text
