"""AppTest of the report page's city report on a small store of three wards: the whole city
for an administrator of every ward, two wards for a user of two, no choice for one ward."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box
from streamlit.testing.v1 import AppTest

from tests.views import signed_in

pytestmark = pytest.mark.slow

ROUTER = """
from views import common, report_page
store = common.get_store(str(common.store_location()))
filters = common.sidebar(store)
report_page.render(filters)
"""


@pytest.fixture(scope="module")
def three_wards(tmp_path_factory):
    """The two wards of tests/geo/test_city_report.py, and W3 with one record in July."""
    from tests.geo.test_city_report import make_city_store

    path = tmp_path_factory.mktemp("city") / "city.gpkg"
    store = make_city_store(path)
    square = box(105.850, 21.000, 105.860, 21.010)
    store.write(
        {
            "wards": gpd.GeoDataFrame({"ward_id": ["W3"], "name": ["Xã Ba"],
                                       "population": [5_000]}, geometry=[square], crs=4326),
            "groups": gpd.GeoDataFrame({"group_id": ["G3"], "ward_id": ["W3"], "name": ["Tổ 3"],
                                        "population": [5_000]}, geometry=[square], crs=4326),
        },
        user="t", action="test",
    )  # fmt: skip
    record = gpd.GeoDataFrame(
        {"record_id": ["w3"], "ward_id": ["W3"], "group_id": ["G3"], "category": ["traffic"],
         "status": ["fined"], "fine_vnd": pd.array([250_000], dtype="Int64"),
         "observed_at": [pd.Timestamp("2025-07-20 09:00", tz="Asia/Ho_Chi_Minh")]},
        geometry=[Point(105.855, 21.005)], crs=4326,
    )  # fmt: skip
    store.write({"violations": record}, user="t", action="test")
    return path


def _app(monkeypatch, db, *, role="admin", wards=None) -> AppTest:
    monkeypatch.setenv("URBAN_ORDER_DB", str(db))
    return signed_in(AppTest.from_string(ROUTER, default_timeout=120), role, wards).run()


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_an_administrator_of_every_ward_gets_the_whole_citys_report(three_wards, monkeypatch):
    at = _app(monkeypatch, three_wards)
    assert not at.exception, at.exception
    scope = at.radio(key="report-scope-vi")
    assert scope.value == "ward" and "Toàn thành phố" in scope.options
    scope.set_value("city").run()
    assert not at.exception, at.exception
    at.selectbox(key="report-city-month").set_value("2025-07").run()
    assert not at.exception, at.exception
    text = " ".join(m.value for m in at.markdown)
    assert "của 3 phường, xã" in text and "ghi nhận 9 trường hợp vi phạm" in text
    assert _metric(at, "Vụ vi phạm ghi nhận") == "9" and _metric(at, "Trường hợp xử phạt") == "5"
    assert _metric(at, "So với tháng trước") == "+50,0 %"  # 6 in June
    ranked = at.dataframe[0].value
    # ranked by records per 1,000 residents: 0.4, 0.2 (1 of 5,000), 0.1
    assert ranked["Tên"].tolist() == ["Phường Một", "Xã Ba", "Phường Hai", "Tổng cộng"]
    assert ranked["Số vụ ghi nhận"].tolist() == ["4", "1", "4", "9"]
    assert any("1 vi phạm trong tháng nằm ngoài" in c.value for c in at.caption)
    # the wards drawn on the map, and the files offered
    (component,) = at.get("component_instance")
    script = json.loads(component.proto.json_args)["script"]
    assert all(json.dumps(n)[1:-1] in script for n in ("Phường Một", "Phường Hai", "Xã Ba"))
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"Tải Excel (mỗi bảng một trang)", "Tải bảng phường, xã (CSV)"} <= labels


def test_a_user_of_two_wards_gets_a_report_of_those_two(three_wards, monkeypatch):
    at = _app(monkeypatch, three_wards, role="viewer", wards=("W1", "W3"))
    scope = at.radio(key="report-scope-vi")
    assert "Toàn bộ 2 phường, xã của tôi" in [scope.format_func(o) for o in scope.options]
    scope.set_value("city").run()
    at.selectbox(key="report-city-month").set_value("2025-07").run()
    assert not at.exception, at.exception
    ranked = at.dataframe[0].value
    assert ranked["Tên"].tolist() == ["Phường Một", "Xã Ba", "Tổng cộng"]
    assert ranked["Số vụ ghi nhận"].tolist()[-1] == "5"
    assert not any("nằm ngoài" in c.value for c in at.caption)  # W2's and no ward's unseen
    # a user of one ward has no choice to make
    one = _app(monkeypatch, three_wards, role="viewer", wards=("W2",))
    assert not one.exception, one.exception
    assert not [r for r in one.radio if r.key == "report-scope-vi"]
