"""AppTest of the map page's city view on a small two-ward store (hand-drawn squares)."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import streamlit as st
from shapely.geometry import box
from streamlit.testing.v1 import AppTest

from geo.model import CATEGORIES
from geo.store import Query, create_store, open_store
from geo.summary import group_rates, headline
from tests.apprunner import ROOT
from tests.views import signed_in

pytestmark = pytest.mark.slow

TZ = "Asia/Ho_Chi_Minh"
#: Ward A west, ward B east, each of two groups side by side (0.01° ≈ 1 km).
SQUARES = {
    "A-1": (105.80, 21.00), "A-2": (105.81, 21.00),
    "B-1": (105.82, 21.00), "B-2": (105.83, 21.00),
}  # fmt: skip


@pytest.fixture(scope="module")
def city_store(tmp_path_factory):
    """Two wards, four groups, 400 violations in October 2025 (a few outside every group)."""
    path = tmp_path_factory.mktemp("city") / "city.gpkg"
    store = create_store(path)
    cells = {g: box(x, y, x + 0.01, y + 0.01) for g, (x, y) in SQUARES.items()}
    wards = gpd.GeoDataFrame(
        {"ward_id": ["A", "B"], "name": ["Phường An", "Phường Bình"],
         "population": [8_000, 12_000], "synthetic": True},
        geometry=[cells["A-1"].union(cells["A-2"]), cells["B-1"].union(cells["B-2"])],
        crs=4326,
    )  # fmt: skip
    groups = gpd.GeoDataFrame(
        {"group_id": list(cells), "ward_id": [g[0] for g in cells],
         "zone_id": [f"{g[0]}-Z" for g in cells], "name": [f"Tổ {g}" for g in cells],
         "population": [3_000, 5_000, 4_000, 8_000]},
        geometry=list(cells.values()),
        crs=4326,
    )  # fmt: skip
    zones = groups.dissolve("zone_id", as_index=False)[["zone_id", "ward_id", "geometry"]]
    rng = np.random.default_rng(0)
    n = 400
    group = rng.choice(list(cells), n, p=[0.1, 0.2, 0.3, 0.4])
    x0 = np.array([SQUARES[g][0] for g in group])
    inside = rng.random(n) > 0.02
    records = gpd.GeoDataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)],
            "ward_id": [g[0] for g in group],
            "zone_id": [f"{g[0]}-Z" for g in group],
            "group_id": np.where(inside, group, None),
            "category": rng.choice(CATEGORIES, n),
            "observed_at": pd.Timestamp("2025-10-01", tz=TZ)
            + pd.to_timedelta(rng.integers(0, 30 * 86_400, n), unit="s"),
            "fine_vnd": rng.choice([0, 500_000, 2_000_000], n),
            "items_removed": rng.integers(0, 3, n),
            "status": "recorded",
        },
        geometry=gpd.points_from_xy(x0 + rng.random(n) * 0.01, 21.0 + rng.random(n) * 0.01),
        crs=4326,
    )
    store.write({"wards": wards, "zones": zones, "groups": groups}, user="t", action="setup")
    store.write({"violations": records}, user="t", action="setup")
    return path


def _app(monkeypatch, db, *, wards=None, view="city") -> AppTest:
    monkeypatch.setenv("URBAN_ORDER_DB", str(db))
    at = signed_in(AppTest.from_file(str(ROOT / "app.py"), default_timeout=120), "admin", wards)
    if view:
        at.query_params["view"] = view
    return at


def _metric(at: AppTest, label: str) -> int:
    text = next(m.value for m in at.metric if m.label == label)
    return int(text.replace(".", ""))


def _script(at: AppTest) -> str:
    """The city map: a whole web page in an ``st.iframe``."""
    (frame,) = at.get("iframe")
    return frame.proto.srcdoc


def _tables(at: AppTest) -> list[dict[str, list[str]]]:
    """The Markdown tables of the page, as columns of cells (escapes undone)."""
    tables = []
    for block in at.markdown:
        lines = [line for line in block.value.splitlines() if line.startswith("|")]
        if len(lines) < 2 or not re.fullmatch(r"\|( ---:? \|)+", lines[1]):
            continue
        header, *rows = [_cells(line) for line in [lines[0], *lines[2:]]]
        tables.append({name: [row[i] for row in rows] for i, name in enumerate(header)})
    return tables


def _cells(line: str) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", c.strip()) for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def _reads(monkeypatch) -> list[tuple[str, Query | None]]:
    """Every read of the GeoPackage store from now on: (table, query)."""
    from geo.gpkg_store import GeoPackageStore

    seen: list[tuple[str, Query | None]] = []
    original = GeoPackageStore.read

    def spy(self, table, query=None):
        seen.append((table, query))
        return original(self, table, query)

    monkeypatch.setattr(GeoPackageStore, "read", spy)
    return seen


def test_the_city_view_sums_both_wards_as_the_records_would(city_store, monkeypatch):
    at = _app(monkeypatch, city_store).run()
    assert not at.exception, at.exception
    assert at.radio(key="scope-vi").value == "city"
    everything = open_store(city_store).read("violations")
    head = headline(everything, group_rates(everything, open_store(city_store).read("groups")))
    assert _metric(at, "Vi phạm") == head.records == 400
    assert _metric(at, "Trường hợp xử phạt") == head.fined
    assert _metric(at, "Vật dụng tháo dỡ") == head.items_removed
    assert any(f"{head.outside} bản ghi nằm ngoài" in c.value for c in at.caption)
    # the table of wards counts what each ward holds
    wards_table = _tables(at)[0]
    counts = dict(zip(wards_table["Phường, xã"], wards_table["Vi phạm"], strict=True))
    by_ward = everything.groupby("ward_id").size()
    assert counts == {"Phường Bình": str(by_ward["B"]), "Phường An": str(by_ward["A"])}
    # four groups: drawn as polygons, with both wards outlined, and the records (few) as points
    script = _script(at)
    assert set(re.findall(r"Tổ [AB]-\d", script)) == {"Tổ A-1", "Tổ A-2", "Tổ B-1", "Tổ B-2"}
    assert "L.markerClusterGroup" in script and "heatLayer" not in script
    assert "jquery" not in script.lower()


def test_above_the_limit_no_record_is_read_and_groups_become_a_heat_map(city_store, monkeypatch):
    monkeypatch.setattr("views.map_city.RECORD_LIMIT", 100)
    monkeypatch.setattr("views.map_city.GROUP_POLYGON_LIMIT", 3)
    st.cache_resource.clear()  # a read cached by another test must not hide one made here
    reads = _reads(monkeypatch)
    at = _app(monkeypatch, city_store).run()
    assert not at.exception, at.exception
    assert _metric(at, "Vi phạm") == 400
    # the sidebar reads the records of its ward (for the period); the city view none at all
    assert all(q is not None and q.ward_id == "A" for t, q in reads if t == "violations")
    script = _script(at)
    assert "heatLayer" in script and "L.markerClusterGroup" not in script
    assert all(json.dumps(name)[1:-1] in script for name in ("Phường An", "Phường Bình"))
    assert any("400 vi phạm khớp bộ lọc" in c.value for c in at.caption)
    # a category fewer: new counts from the store, still without reading a record
    at.multiselect(key="categories-vi").set_value([c for c in CATEGORIES if c != "littering"])
    at.run()
    expected = open_store(city_store).count("violations", Query(categories=("littering",)))
    assert _metric(at, "Vi phạm") == 400 - expected
    assert all(q is not None and q.ward_id == "A" for t, q in reads if t == "violations")


def test_the_choice_is_kept_in_the_url_and_users_of_one_ward_have_none(city_store, monkeypatch):
    at = _app(monkeypatch, city_store, view=None).run()
    assert at.radio(key="scope-vi").value == "ward" and "view" not in at.query_params
    at.radio(key="scope-vi").set_value("city").run()
    assert not at.exception, at.exception
    assert at.query_params["view"] == "city" and len(_tables(at)[0]["Phường, xã"]) == 2
    at.radio(key="scope-vi").set_value("ward").run()
    assert "view" not in at.query_params and not at.exception
    one = _app(monkeypatch, city_store, wards=("B",)).run()
    assert not one.exception, one.exception
    assert not [r for r in one.radio if r.key == "scope-vi"]
    assert _metric(one, "Vi phạm") == open_store(city_store).count("violations", Query(ward_id="B"))


def test_the_map_is_built_once_per_filters_and_language_and_loads_nothing_remote(
    city_store, monkeypatch
):
    import views.map_city as city
    from layers.assets import remote_links

    st.cache_resource.clear()
    built = []
    original = city._map

    def counting(*args, **kwargs):
        built.append(kwargs["lang"])
        return original(*args, **kwargs)

    monkeypatch.setattr(city, "_map", counting)
    at = _app(monkeypatch, city_store).run()
    page = _script(at)
    at.run()  # e.g. another session, or a rerun: the same filters draw the same map
    assert not at.exception and built == ["vi"] and _script(at) == page
    assert remote_links(page) == [] and "/app/static/vendor/leaflet" in page
    at.radio(key="lang").set_value("en").run()
    assert not at.exception, at.exception
    assert built == ["vi", "en"] and "Ward" in _script(at)


def test_a_ward_without_groups_is_told_so_from_a_count(city_store, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "city.gpkg"
    shutil.copy(city_store, copy)
    ward_c = gpd.GeoDataFrame(
        {"ward_id": ["C"], "name": ["Phường Cầu"]}, geometry=[box(105.9, 21.0, 105.91, 21.01)],
        crs=4326,
    )  # fmt: skip
    open_store(copy).write({"wards": ward_c}, user="t", action="setup")
    st.cache_resource.clear()
    reads = _reads(monkeypatch)
    at = _app(monkeypatch, copy, wards=("C",), view=None).run()
    assert not at.exception, at.exception
    assert any("Phường Cầu chưa có ranh giới tổ dân phố" in w.value for w in at.warning)
    assert not [t for t, _ in reads if t in ("groups", "zones", "streets")]  # a count, no read


@pytest.mark.parametrize("basis", ["per_1000", "per_km2"])
def test_each_basis_colours_the_wards_by_its_own_rates(city_store, monkeypatch, basis):
    """Areas are measured only for the per-km² basis (the others show no rate per km²): the
    ward tooltips show the rate of the basis chosen, as area_rates computes it."""
    from geo.summary import area_rates
    from layers.style import format_number
    from views.map_city import RATE_FORMATS

    monkeypatch.setattr("views.map_city.GROUP_POLYGON_LIMIT", 3)  # wards coloured, groups heat
    st.cache_resource.clear()
    at = _app(monkeypatch, city_store).run()
    at.radio(key="basis-vi").set_value(basis).run()
    assert not at.exception, at.exception
    store = open_store(city_store)
    first, last = store.time_span("violations", Query(ward_id="A"))  # the sidebar's period
    start = pd.Timestamp(first.date(), tz=TZ)
    end = pd.Timestamp(last.date(), tz=TZ) + pd.Timedelta(days=1)
    query = Query(start=start, end=end, categories=CATEGORIES)
    counts = store.aggregate("violations", query, by=("ward_id",)).set_index("ward_id")["count"]
    months = (end - start).days / 30.44
    rates = area_rates(counts, store.read("wards"), key="ward_id", months=months)
    script = _script(at)
    for value in rates[f"{basis}_month"]:
        assert f'"value": "{format_number(value, "vi", fmt=RATE_FORMATS[basis])}"' in script
