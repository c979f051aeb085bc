"""Ward outline, zones, and the group choropleth with its legend."""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, box

from geo.errors import InputError
from layers.boundaries import classify, group_choropleth, ward_outline, zones_layer
from layers.style import CHOROPLETH_COLORS, HATCH_FILL, HatchPattern, Legend


def _groups(n: int = 92) -> gpd.GeoDataFrame:
    """``n`` square groups in rows of 10, in 3 zones, one of them a two-part MultiPolygon."""
    cells = [
        box(
            105.83 + (i % 10) * 1e-3,
            21.0 + (i // 10) * 1e-3,
            105.831 + (i % 10) * 1e-3,
            21.001 + (i // 10) * 1e-3,
        )
        for i in range(n)
    ]
    cells[0] = MultiPolygon(
        [box(105.83, 21.0, 105.8304, 21.001), box(105.8306, 21.0, 105.831, 21.001)]
    )
    rng = np.random.default_rng(3)
    return gpd.GeoDataFrame(
        {
            "group_id": [f"KL-{i + 1:02d}" for i in range(n)],
            "zone_id": [f"KV{1 + i * 3 // n}" for i in range(n)],
            "name": [f"Tổ dân phố số {i + 1}" for i in range(n)],
            "population": pd.array([1000 + 10 * i for i in range(n)], dtype="Int64"),
            "rate": [np.nan, *rng.gamma(2.0, 3.0, n - 1)],
        },
        geometry=cells,
        crs=4326,
    )


def _children(group: folium.FeatureGroup, cls: type) -> list:
    return [c for c in group._children.values() if isinstance(c, cls)]


def _js(text: str) -> str:
    """``text`` as it appears inside a JSON string of the rendered page."""
    return json.dumps(text)[1:-1]


def _render(group: folium.FeatureGroup) -> str:
    return folium.Map(tiles=None).add_child(group).get_root().render()


def test_choropleth_draws_one_feature_per_group_in_one_layer():
    groups = _groups().to_crs(5897)
    before = groups.copy()
    layer = group_choropleth(
        groups, value_column="rate", legend_title="Vi phạm / 1.000 dân", lang="vi"
    )
    (geojson,) = _children(layer, folium.GeoJson)
    features = geojson.data["features"]
    assert len(features) == 92
    assert [f["properties"]["name"] for f in features] == list(groups["name"])
    # a MultiPolygon group stays one feature (one path in the browser)
    assert features[0]["geometry"]["type"] == "MultiPolygon"
    assert groups.equals(before)


def test_choropleth_classes_colours_and_no_data():
    layer = group_choropleth(_groups(), value_column="rate", legend_title="rate")
    (geojson,) = _children(layer, folium.GeoJson)
    props = [f["properties"] for f in geojson.data["features"]]
    assert props[0]["cls"] == -1 and props[0]["fill"] == HATCH_FILL
    assert {p["cls"] for p in props[1:]} == {0, 1, 2, 3, 4}
    # quantiles: about the same number of groups per class
    counts = pd.Series([p["cls"] for p in props[1:]]).value_counts()
    assert counts.max() - counts.min() <= 2
    assert {p["fill"] for p in props[1:]} == set(CHOROPLETH_COLORS)
    assert _children(layer, HatchPattern)
    html = _render(layer)
    assert "url(#uo-hatch)" in html and "uo-hatch" in html


def test_choropleth_legend_lists_classes_and_no_data_in_the_readers_language():
    groups = _groups().assign(rate=lambda d: d["rate"] * 1000)
    layer = group_choropleth(
        groups, value_column="rate", legend_title="Tỷ lệ", lang="vi", fmt="{:,.1f}"
    )
    (legend,) = _children(layer, Legend)
    labels = [label for _, label, _ in legend.items]
    assert legend.title == "Tỷ lệ"
    assert len(labels) == 6 and labels[-1] == "Không có số liệu"
    assert all(" – " in label for label in labels[:5])
    # Vietnamese separators: 1.234,5
    assert any("." in label and "," in label for label in labels[:5])
    lo = groups["rate"].min()
    assert labels[0].startswith(f"{lo:,.1f}".translate(str.maketrans(",.", ".,")))
    html = _render(layer)
    assert "uo-legend" in html and _js("Tỷ lệ") in html


def test_choropleth_tooltip_shows_name_zone_value_population():
    groups = _groups().assign(zone_name=lambda d: "Khu vực " + d["zone_id"].str[-1])
    layer = group_choropleth(groups, value_column="rate", legend_title="Rate", lang="en")
    (geojson,) = _children(layer, folium.GeoJson)
    (tooltip,) = _children(geojson, folium.GeoJsonTooltip)
    assert tooltip.fields == ["name", "zone", "value", "population"]
    assert tooltip.aliases == ["Residential group", "Zone", "Rate", "Population"]
    p = geojson.data["features"][5]["properties"]
    assert p["zone"] == "Khu vực 1"
    assert p["population"] == "1,050"
    assert p["value"] == f"{groups['rate'].iloc[5]:.1f}"
    assert geojson.data["features"][0]["properties"]["value"] == "—"


def test_choropleth_without_any_value_draws_all_groups_hatched():
    groups = _groups(6).assign(rate=np.nan)
    layer = group_choropleth(groups, value_column="rate", legend_title="x")
    (geojson,) = _children(layer, folium.GeoJson)
    assert {f["properties"]["cls"] for f in geojson.data["features"]} == {-1}
    (legend,) = _children(layer, Legend)
    assert [label for _, label, _ in legend.items] == ["Không có số liệu"]
    _render(layer)


def test_choropleth_refuses_missing_or_text_columns():
    with pytest.raises(InputError, match="'nope'"):
        group_choropleth(_groups(), value_column="nope", legend_title="x")
    with pytest.raises(InputError, match="must hold numbers"):
        group_choropleth(_groups().assign(rate="many"), value_column="rate", legend_title="x")


def test_classify_quantiles_natural_breaks_and_few_values():
    values = pd.Series([1.0, 1.0, 2.0, 2.0, 3.0, 10.0, 11.0, 12.0, None])
    classes, bins = classify(values, k=2, scheme="natural_breaks")
    assert bins.tolist() == [3.0, 12.0]
    assert classes.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, -1]
    classes, bins = classify(values, k=4, scheme="quantiles")
    assert len(bins) == 4 and bins[-1] == 12.0
    assert (np.diff(bins) > 0).all()
    assert classes[-1] == -1 and set(classes[:-1]) <= {0, 1, 2, 3}
    # fewer distinct values than classes: one class per value
    classes, bins = classify(pd.Series([5.0, 7.0, 5.0]), k=5)
    assert bins.tolist() == [5.0, 7.0] and classes.tolist() == [0, 1, 0]
    classes, bins = classify(pd.Series([np.nan, np.nan]), k=5)
    assert classes.tolist() == [-1, -1] and len(bins) == 0


def test_every_value_lies_in_its_class_range():
    values = pd.Series(np.random.default_rng(5).lognormal(1.0, 1.0, 200))
    for scheme in ("quantiles", "natural_breaks"):
        classes, bins = classify(values, k=5, scheme=scheme)
        lower = np.concatenate([[-np.inf], bins[:-1]])
        assert (values.to_numpy() <= bins[classes]).all()
        assert (values.to_numpy() > lower[classes]).all()


def test_zones_have_dashed_outlines_labels_and_do_not_block_the_groups():
    groups = _groups()
    zones = groups.dissolve("zone_id").reset_index()
    zones["name"] = ["Khu vực 1", "Khu vực 2", None]
    layer = zones_layer(zones, lang="vi")
    (geojson,) = _children(layer, folium.GeoJson)
    style = geojson.style_function(geojson.data["features"][0])
    assert style["dashArray"] and style["weight"] >= 3 and style["fill"] is False
    labels = _children(layer, folium.Marker)
    assert len(labels) == 3
    html = _render(layer)
    assert _js("Khu vực 1") in html and _js("Khu vực 2") in html and "KV3" in html
    assert '"interactive": false' in html
    assert layer.layer_name == "Khu vực"


def test_ward_outline_is_a_line_that_lets_the_mouse_through():
    ward = _groups().dissolve()
    layer = ward_outline(ward, lang="en")
    (geojson,) = _children(layer, folium.GeoJson)
    assert geojson.options["interactive"] is False
    assert geojson.style_function({})["fill"] is False
    assert layer.layer_name == "Ward boundary"
    with pytest.raises(InputError, match="no CRS"):
        ward_outline(ward.set_crs(None, allow_override=True))


@pytest.mark.realdata
def test_kim_lien_ward_outline(kim_lien_ward):
    ward = gpd.read_file(kim_lien_ward)
    (geojson,) = _children(ward_outline(ward), folium.GeoJson)
    assert len(geojson.data["features"]) == len(ward) >= 1
    assert geojson.data["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_legend_shows_the_values_each_class_holds():
    from layers.boundaries import class_items, classify

    counts = pd.Series([0, 0, 0, 0, 0, 0, 1, 2, 7, 9], dtype="float64")
    classes, bins = classify(counts, k=3)
    items = class_items(counts, bins, ["a", "b", "c"], lang="vi", fmt="{:,.0f}")
    labels = [label for _, label, _ in items]
    # each label spans exactly the values drawn in its colour; no empty class is listed
    held = [counts[classes == c] for c in sorted(set(classes))]
    assert labels == [
        f"{v.min():.0f}" if v.min() == v.max() else f"{v.min():.0f} – {v.max():.0f}" for v in held
    ]


def test_names_reach_the_tooltips_as_text_not_html():
    """Tooltips put properties into the page as HTML, in the app's origin (where the sign-in
    cookie lives): a zone named with markup must show as text."""
    zones = gpd.GeoDataFrame(
        {"zone_id": ["z1"], "name": ['<img src=x onerror="alert(1)">']},
        geometry=[box(105.83, 21.00, 105.84, 21.01)],
        crs=4326,
    )
    page = folium.Map(location=[21.005, 105.835])
    zones_layer(zones).add_to(page)
    rendered = page.get_root().render()
    # folium writes "<" and "&" in its JSON as \u003c and \u0026; the page's script then
    # holds the text the tooltip's innerHTML receives
    assert "\\u003cimg src=x" not in rendered and "<img src=x" not in rendered
    assert "\\u0026lt;img src=x onerror=\\u0026quot;alert(1)\\u0026quot;\\u0026gt;" in rendered
