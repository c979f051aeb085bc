"""Violation records as one FastMarkerCluster, their popup texts and the category legend."""

from __future__ import annotations

import json
import time
from datetime import datetime

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from folium.plugins import FastMarkerCluster
from shapely.geometry import LineString

from geo.errors import InputError
from geo.model import categories, conform
from layers.records import category_legend, record_rows, records_cluster
from layers.style import Legend, format_local_time, format_number, format_vnd


def _violations(n: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    codes = list(categories())
    frame = gpd.GeoDataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)],
            "category": rng.choice(codes, n),
            "observed_at": pd.Timestamp("2025-07-01 06:00", tz="Asia/Ho_Chi_Minh")
            + pd.to_timedelta(rng.integers(0, 30 * 86400, n), unit="s"),
            "fine_vnd": rng.choice([0, 300_000, 1_500_000, -1], n),
            "group_id": rng.choice(["KL-01", "KL-02", "KL-03"], n),
            "status": rng.choice(["fined", "warned", None], n),
            "address": rng.choice(["số 5 <Ngõ> 12", None], n),
        },
        geometry=gpd.points_from_xy(rng.uniform(105.83, 105.84, n), rng.uniform(21.0, 21.01, n)),
        crs=4326,
    )
    frame["fine_vnd"] = frame["fine_vnd"].where(frame["fine_vnd"] >= 0)
    return conform("violations", frame)


@pytest.mark.parametrize(
    ("amount", "lang", "text"),
    [
        (1_500_000, "vi", "1.500.000 đ"),
        (1_500_000, "en", "1,500,000 VND"),
        (300_000, "vi", "300.000 đ"),
        (0, "en", "0 VND"),
        (None, "vi", ""),
        (pd.NA, "en", ""),
        (np.int64(40_000_000), "vi", "40.000.000 đ"),
    ],
)
def test_fines_are_written_as_each_language_writes_money(amount, lang, text):
    assert format_vnd(amount, lang) == text


def test_times_are_shown_in_hanoi_time():
    assert format_local_time(pd.Timestamp("2025-07-01 17:05", tz="UTC")) == "02/07/2025 00:05"
    assert format_local_time(pd.Timestamp("2025-12-31 23:59", tz="Asia/Ho_Chi_Minh")) == (
        "31/12/2025 23:59"
    )
    assert format_local_time(datetime(2025, 1, 2, 3, 4)) == "02/01/2025 03:04"
    assert format_local_time(None) == "" and format_local_time(pd.NaT) == ""


def test_numbers_use_the_readers_separators():
    assert format_number(1234567.891, "vi", fmt="{:,.2f}") == "1.234.567,89"
    assert format_number(1234567.891, "en", fmt="{:,.2f}") == "1,234,567.89"
    assert format_number(float("nan"), "en") == "—"


def test_rows_encode_every_record_compactly():
    violations = _violations(50)
    violations["group_name"] = violations["group_id"].map(
        {"KL-01": "Tổ dân phố số 1", "KL-02": "Tổ <b>2</b>", "KL-03": "Tổ dân phố số 3"}
    )
    rows, cats, groups, statuses = record_rows(violations, lang="vi")
    assert len(rows) == 50
    codes = list(categories())
    assert [c[1] for c in cats] == [categories()[c].color for c in codes]
    assert "Tổ &lt;b&gt;2&lt;/b&gt;" in groups  # names are escaped: the popup is HTML
    for row, (_, rec) in zip(rows, violations.iterrows(), strict=True):
        lat, lon, cat, when, fine, group, status, address = row
        assert (lat, lon) == (round(rec.geometry.y, 6), round(rec.geometry.x, 6))
        assert codes[cat] == rec["category"]
        assert when == rec["observed_at"].strftime("%d/%m/%Y %H:%M")
        assert fine == ("" if pd.isna(rec["fine_vnd"]) else format_vnd(rec["fine_vnd"], "vi"))
        assert groups[group] in ("Tổ dân phố số 1", "Tổ &lt;b&gt;2&lt;/b&gt;", "Tổ dân phố số 3")
        expected = {"fined": "Đã xử phạt", "warned": "Nhắc nhở"}.get(rec["status"], "")
        assert statuses[status] == expected
        assert address == ("số 5 &lt;Ngõ&gt; 12" if isinstance(rec["address"], str) else "")


def test_unknown_categories_and_missing_groups_still_show():
    violations = _violations(3)
    violations.loc[0, "category"] = "noise_at_night"
    violations.loc[1, "group_id"] = pd.NA
    rows, cats, groups, _ = record_rows(violations, lang="en")
    assert cats[rows[0][2]] == ["noise_at_night", categories()["other"].color]
    assert groups[rows[1][5]] == "Outside every group"


def test_cluster_is_one_fast_marker_cluster_with_a_colour_per_category():
    layer = records_cluster(_violations(200), lang="en")
    (cluster,) = [c for c in layer._children.values() if isinstance(c, FastMarkerCluster)]
    assert len(cluster.data) == 200
    assert "L.circleMarker" in cluster.callback and "bindPopup" in cluster.callback
    html = folium.Map(tiles=None, maxZoom=19).add_child(layer).get_root().render()
    for cat in categories().values():
        assert json.dumps(cat.color) in html
    assert '"Fine"' in html and '"Residential group"' in html
    assert layer.layer_name == "Violations"


def test_zero_records_give_an_empty_layer():
    layer = records_cluster(conform("violations", pd.DataFrame()), lang="vi")
    assert not layer._children
    folium.Map(tiles=None).add_child(layer).get_root().render()
    assert record_rows(conform("violations", pd.DataFrame()))[0] == []


def test_twenty_thousand_records_take_under_a_second():
    violations = _violations(20_000, seed=1)
    start = time.perf_counter()
    layer = records_cluster(violations, lang="vi")
    elapsed = time.perf_counter() - start
    (cluster,) = [c for c in layer._children.values() if isinstance(c, FastMarkerCluster)]
    assert len(cluster.data) == 20_000
    assert elapsed < 1.0, elapsed


def test_records_without_a_point_are_left_out_and_lines_refused():
    violations = _violations(5)
    violations.loc[2, "geometry"] = None
    assert len(record_rows(violations)[0]) == 4
    line = LineString([(105.83, 21.0), (105.84, 21.01)])
    bad = violations.set_geometry([line] * 5, crs=4326)
    with pytest.raises(InputError, match="must be points"):
        record_rows(bad)
    with pytest.raises(InputError, match="'fine_vnd'"):
        record_rows(violations.drop(columns="fine_vnd"))


def test_category_legend_has_a_dot_per_category():
    legend = category_legend("en")
    assert isinstance(legend, Legend)
    assert legend.title == "Violation category"
    assert [(c, kind) for c, _, kind in legend.items] == [
        (cat.color, "dot") for cat in categories().values()
    ]
    assert [label for _, label, _ in category_legend("vi", codes=["traffic"]).items] == [
        "Vi phạm trật tự an toàn giao thông"
    ]
