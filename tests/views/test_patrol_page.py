"""AppTest of the patrol page on the demo store: coverage map, hot spot visits, groups, routes."""

from __future__ import annotations

import json
import re

import gpxpy
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from geo.patrol import latest_fix, load_patrol_inputs, patrol_status
from geo.store import open_store
from tests.views import signed_in

pytestmark = pytest.mark.slow

ROUTER = """
import streamlit as st
from views import common, patrol_page
store = common.get_store(str(common.store_location()))
filters = common.sidebar(store)
patrol_page.render(filters)
"""


@pytest.fixture
def at(demo_store, monkeypatch):
    monkeypatch.setenv("URBAN_ORDER_DB", str(demo_store))
    return signed_in(AppTest.from_string(ROUTER, default_timeout=180)).run()


def _scripts(at: AppTest) -> list[str]:
    out = []
    for component in at.get("component_instance"):
        args = json.loads(component.proto.json_args)
        links = args["js_links"] + args["css_links"]
        assert all(link.startswith("/app/static/vendor/") for link in links), links
        out.append(
            re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), args["script"])
        )
    return out


def test_page_shows_coverage_hotspots_and_groups_as_geo_computes_them(at, demo_store):
    assert not at.exception, at.exception
    assert at.title[0].value == "Tuần tra"
    store = open_store(demo_store)
    ward_id = store.ward_ids()[0]
    now = latest_fix(store, ward_id=ward_id).ceil("min")
    status = patrol_status(**load_patrol_inputs(store, ward_id=ward_id, now=now), now=now)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Chiều dài đường đã tuần tra"] == f"{status.totals['share']:.0%}"
    overdue = int(status.hotspots["overdue"].sum())
    assert metrics["Điểm nóng quá 2 giờ chưa tuần tra"] == f"{overdue}/{len(status.hotspots)}"
    (script,) = _scripts(at)
    assert "Lần tuần tra gần nhất" in script  # the coverage legend
    assert "Chưa tuần tra trong kỳ" in script
    assert "Điểm nóng cần tuần tra" in script
    spots, groups = at.dataframe[0].value, at.dataframe[1].value
    assert spots["Đoạn phố"].tolist() == status.hotspots["label"].tolist()
    assert spots["Lần ghé (7 ngày)"].tolist() == status.hotspots["visits_7d"].tolist()
    assert len(groups) == 92
    # Groups never patrolled come first.
    never = groups["Tuần tra gần nhất"] == "Chưa có"
    assert never.sum() == status.groups["last_patrol"].isna().sum()
    assert never.iloc[: int(never.sum())].all()


def test_window_changes_coverage(at):
    week = next(m.value for m in at.metric if m.label == "Chiều dài đường đã tuần tra")
    at.radio(key="patrol-window").set_value(30).run()
    assert not at.exception, at.exception
    month = next(m.value for m in at.metric if m.label == "Chiều dài đường đã tuần tra")
    assert int(month.rstrip("%")) > int(week.rstrip("%"))
    at.radio(key="patrol-window").set_value(1).run()
    day = next(m.value for m in at.metric if m.label == "Chiều dài đường đã tuần tra")
    assert int(day.rstrip("%")) < int(week.rstrip("%"))


def test_route_planner_lists_stops_and_offers_gpx(at):
    at.slider(key="patrol-minutes").set_value(120)
    at.radio(key="patrol-mode").set_value("walk")
    at.button[0].click().run()
    assert not at.exception, at.exception
    (table,) = at.table
    stops = table.value
    assert 3 <= len(stops) <= 10
    arrive = pd.to_datetime(stops["Đến"], format="%H:%M")
    assert arrive.is_monotonic_increasing
    assert any("Đội 1:" in s.value for s in at.subheader)
    scripts = _scripts(at)
    assert len(scripts) == 2 and "Lộ trình đề xuất" in scripts[1]
    # Two teams: zones split, one list each.
    at.number_input(key="patrol-teams").set_value(2)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert len(at.table) == 2
    first, second = (set(t.value["Đoạn phố"]) for t in at.table)
    assert not first & second


def test_gpx_of_the_planned_route_parses(demo_store):
    from geo.network import network_from_edges
    from geo.patrol import route_candidates
    from geo.routes import plan_route, route_gpx

    store = open_store(demo_store)
    ward_id = store.ward_ids()[0]
    now = latest_fix(store, ward_id=ward_id)
    inputs = load_patrol_inputs(store, ward_id=ward_id, now=now)
    status = patrol_status(**inputs, now=now)
    route = plan_route(network_from_edges(inputs["streets"]), route_candidates(status),
                       start=(105.835, 21.006), begin=now)  # fmt: skip
    gpx = gpxpy.parse(route_gpx(route))
    assert [w.name for w in gpx.waypoints][:1] == [f"1. {route.stops['label'].iloc[0]}"]


def test_english(at):
    at.sidebar.radio[0].set_value("en").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Patrols"
    assert any(m.label == "Street length patrolled" for m in at.metric)
