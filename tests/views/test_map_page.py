"""AppTest of the map page on the demo store; no JavaScript, so the map is read from its args."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.apprunner import ROOT
from tests.views import signed_in

pytestmark = pytest.mark.slow


@pytest.fixture
def app(demo_store, monkeypatch):
    monkeypatch.setenv("URBAN_ORDER_DB", str(demo_store))
    return signed_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=120))


def _map_args(at: AppTest) -> dict:
    (component,) = at.get("component_instance")
    return json.loads(component.proto.json_args)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_map_page_shows_kpis_and_an_offline_map_of_92_groups(app):
    at = app.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Bản đồ trật tự đô thị"
    assert at.info[0].value.startswith("Phường mẫu")  # synthetic data is labelled so
    assert _metric(at, "Vi phạm") != "0"
    assert _metric(at, "Tổng tiền phạt").endswith(("triệu đ", "tỷ đ"))
    args = _map_args(at)
    assert args["returned_objects"] == []  # panning must not rerun the page
    links = args["js_links"] + args["css_links"]
    assert links and all(link.startswith("/app/static/vendor/") for link in links), links
    assert not re.search(r"https?://(cdn|unpkg|code\.jquery|netdna|cdnjs)", args["script"])
    assert "maxZoom" in args["script"]
    # The choropleth carries one feature per group, named "Tổ dân phố số N".
    assert len(set(re.findall(r"Tổ dân phố số \d+", args["script"]))) == 92
    # the 5 worst groups: a Markdown table (header, alignment row, 5 rows)
    (table,) = [m.value for m in at.markdown if m.value.startswith("| ")]
    assert len(table.splitlines()) == 2 + 5 and not at.dataframe


def test_filters_and_language_change_what_is_shown(app):
    at = app.run()
    everything = int(_metric(at, "Vi phạm").replace(".", ""))
    at.multiselect(key="categories-vi").set_value(["street_vending"]).run()
    vending = int(_metric(at, "Vi phạm").replace(".", ""))
    assert 0 < vending < everything
    at.radio(key="lang").set_value("en").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Urban-order map"
    assert int(_metric(at, "Violations").replace(",", "")) == vending
    at.radio(key="basis-en").set_value("per_km2").run()
    assert "Violations per km\\u00b2 per month" in _map_args(at)["script"]  # JSON-escaped
