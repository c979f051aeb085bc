"""AppTest of the hotspot page on the demo store: every view, and the same numbers as geo."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from geo.hotspots import hotspots
from geo.store import Query, open_store
from tests.views import signed_in

pytestmark = pytest.mark.slow

ROUTER = """
import streamlit as st
from views import common, hotspot_page
store = common.get_store(str(common.store_location()))
filters = common.sidebar(store)
hotspot_page.render(filters)
"""


@pytest.fixture
def at(demo_store, monkeypatch):
    monkeypatch.setenv("URBAN_ORDER_DB", str(demo_store))
    return signed_in(AppTest.from_string(ROUTER, default_timeout=180)).run()


def _map_script(at: AppTest) -> str:
    """The map's script, with folium's JSON escapes of non-ASCII letters decoded."""
    (component,) = at.get("component_instance")
    args = json.loads(component.proto.json_args)
    assert args["returned_objects"] == []
    links = args["js_links"] + args["css_links"]
    assert all(link.startswith("/app/static/vendor/") for link in links), links
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), args["script"])


def test_hot_streets_are_the_default_view_with_ranking_and_track_record(at, demo_store):
    assert not at.exception, at.exception
    assert at.title[0].value == "Điểm nóng vi phạm"
    ranking = at.dataframe[0].value
    assert list(ranking.columns)[:3] == ["Hạng", "Đường", "Đoạn giữa"]
    assert ranking["Hạng"].tolist() == list(range(1, len(ranking) + 1))
    # the page's ranking is geo's ranking: same top segment, same count
    store = open_store(demo_store)
    ward = store.read("wards")
    streets = store.read("streets")
    records = store.read("violations", Query(ward_id=ward["ward_id"].iloc[0]))
    expected = hotspots(records, method="streets", streets=streets, area=ward)
    top = expected.iloc[0]
    assert ranking.iloc[0]["Đường"] == top["name"]
    assert ranking.iloc[0]["Số vi phạm"] == f"{int(top['count']):,}".replace(",", ".")
    # the accuracy sentence, in plain words, with the baseline next to it
    track = next(i.value for i in at.info if i.value.startswith("Kiểm chứng"))
    assert "chiều dài đường phố" in track and "Cách đơn giản" in track
    script = _map_script(at)
    assert "Vi phạm / 100 m đường" in script  # the hot streets legend
    assert "Điểm tái vi phạm" in script


@pytest.mark.parametrize("method", ["gi", "kde", "hex", "grid", "groups"])
def test_every_view_draws_a_map_and_a_ranking(at, method):
    at.radio(key="hotspot-method-vi").set_value(method).run()
    assert not at.exception, at.exception
    script = _map_script(at)
    assert at.dataframe, "no ranking table"
    if method == "gi":
        assert "Điểm nóng (có ý nghĩa thống kê)" in script
        assert any(c.value.startswith("Kích thước ô") for c in at.caption)
    if method == "groups":
        assert len(set(re.findall(r"Tổ dân phố số \d+", script))) == 92


def test_cell_size_and_language_change_the_map(at):
    at.radio(key="hotspot-method-vi").set_value("hex").run()
    auto = _map_script(at)
    at.selectbox(key="hotspot-cell").set_value(200).run()
    assert not at.exception, at.exception
    assert _map_script(at) != auto
    assert any("200 m" in c.value for c in at.caption)
    at.radio(key="lang").set_value("en").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Violation hotspots"
    assert at.radio(key="hotspot-method-en").value == "hex"


def test_tabs_show_groups_trends_and_repeats(at):
    tables = [d.value for d in at.dataframe]
    # ranking, groups, hour x weekday, emerging patterns, repeat places, offenders, Knox
    assert len(tables) == 7, [list(t.columns)[:3] for t in tables]
    groups = tables[1]
    assert len(groups) == 92
    hour_weekday = tables[2]
    assert list(hour_weekday.index) == [
        "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"
    ]  # fmt: skip
    assert hour_weekday.shape[1] == 24
    emerging = tables[3]
    assert emerging["Số ô"].sum() > 100 and "Không có xu hướng" in set(emerging["Kiểu"])
    knox = tables[6]
    assert knox.shape == (4, 4)
    assert any("Mann–Kendall" in c.value for c in at.caption)


def test_a_period_without_records_says_so(at):
    at.date_input[0].set_value((date(2020, 1, 1), date(2020, 1, 31))).run()
    assert not at.exception, at.exception
    assert any("Không có vi phạm" in i.value for i in at.info)
