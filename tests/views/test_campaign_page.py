"""AppTest of the campaign page on the demo store: results with WDQ, planning, add and edit."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from geo.campaign_report import campaign_report
from geo.campaigns import read_campaigns
from geo.i18n import number
from geo.store import Query, open_store
from tests.views import signed_in

pytestmark = pytest.mark.slow

ROUTER = """
import streamlit as st
from views import common, campaign_page
store = common.get_store(str(common.store_location()))
filters = common.sidebar(store)
campaign_page.render(filters)
"""


def _app(path, monkeypatch) -> AppTest:
    monkeypatch.setenv("URBAN_ORDER_DB", str(path))
    return signed_in(AppTest.from_string(ROUTER, default_timeout=180)).run()


def test_july_wave_shows_before_after_and_wdq_as_geo_computes_them(demo_store, monkeypatch):
    at = _app(demo_store, monkeypatch)
    assert not at.exception, at.exception
    assert at.title[0].value == "Chiến dịch ra quân cao điểm"
    store = open_store(demo_store)
    latest = read_campaigns(store)[0]  # the page opens on the latest campaign
    assert at.selectbox(key="campaign-choice").value == latest.campaign_id
    report = campaign_report(store, latest)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Xử phạt"] == number(report.summary.fined)
    fines = number(report.summary.total_fines_vnd / 1e6, decimals=2)
    assert metrics["Tiền phạt (triệu đồng)"] == fines  # 32,60 for the July campaign
    counts = report.evaluation.counts
    after = counts[(counts["period"] == "after") & (counts["category"] == "all")]
    target = after.set_index("area").loc["target"]
    assert metrics["Mục tiêu"] == f"{number(target['before'])} → {number(target['after'])}"
    effects = report.evaluation.effects
    wdq = effects[(effects["period"] == "after") & (effects["category"] == "all")]["wdq"].iloc[0]
    assert metrics["WDQ"] == number(wdq, decimals=2)
    text = " ".join(m.value for m in at.markdown)
    assert "Ngay sau đợt" in text  # the plain-words explanation

    # four weeks later, and a ring of 300 m as the buffer
    at.radio(key="campaign-period").set_value("follow_up_4w").run()
    at.radio(key="campaign-buffer").set_value("ring").run()
    at.number_input(key="campaign-ring").set_value(300).run()
    assert not at.exception, at.exception
    ring = campaign_report(store, latest, buffer=300.0).evaluation.counts
    later = ring[(ring["period"] == "follow_up_4w") & (ring["category"] == "all")]
    buffer = later.set_index("area").loc["buffer"]
    metrics = {m.label: m.value for m in at.metric}
    shown = f"{number(buffer['before'])} → {number(buffer['after'])}"
    assert metrics["Vùng đệm (lân cận)"] == shown


def test_planning_suggests_and_prefills_a_new_campaign_which_is_saved(demo_copy, monkeypatch):
    at = _app(demo_copy, monkeypatch)
    at.date_input(key="plan-day").set_value("2025-09-30").run()
    suggested = at.dataframe[-2].value
    assert len(suggested) == 10
    at.button(key="plan-use").click().run()
    assert not at.exception, at.exception
    # the form is prefilled with the suggested groups, from the next day; name it and save
    form_groups = next(m for m in at.multiselect if m.label == "Tổ dân phố mục tiêu")
    assert len(form_groups.value) == 10
    assert next(d for d in at.date_input if d.label == "Ngày bắt đầu").value.isoformat() == (
        "2025-10-01"
    )
    next(x for x in at.text_input if x.label == "Tên chiến dịch").set_value("Ra quân tháng 10")
    next(b for b in at.button if b.label == "Lưu chiến dịch").click().run()
    assert not at.exception, at.exception
    store = open_store(demo_copy)
    names = [c.name for c in read_campaigns(store)]
    assert "Ra quân tháng 10" in names
    new = next(c for c in read_campaigns(store) if c.name == "Ra quân tháng 10")
    assert len(new.target) == 10
    linked = store.count("violations", Query(campaign_id=new.campaign_id))
    assert any(f"{linked} hồ sơ" in s.value for s in at.success)
