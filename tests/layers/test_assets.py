"""The map's scripts and stylesheets come from static/vendor, never from a CDN."""

from __future__ import annotations

import hashlib
import json

import branca.colormap
import folium
import pytest
import streamlit_folium
from folium.plugins import FastMarkerCluster, Fullscreen, HeatMap, MarkerCluster

from geo.errors import InputError
from layers.assets import (
    CDN_ASSETS,
    VENDOR_DIR,
    local_url,
    localize,
    remote_links,
    required_files,
)


def _map() -> folium.Map:
    m = folium.Map(location=[21.005, 105.836], tiles=None, maxZoom=19)
    FastMarkerCluster([[21.005, 105.836]]).add_to(m)
    HeatMap([[21.005, 105.836, 1.0]]).add_to(m)
    return m


def test_every_vendored_file_exists_and_is_not_empty():
    files = required_files()
    # the CDN stand-ins plus what their CSS refers to: fonts and sprites
    assert len(files) > len(set(CDN_ASSETS.values()))
    assert any(p.suffix == ".woff2" for p in files)
    assert any(p.name == "layers.png" for p in files)
    empty_or_missing = [str(p) for p in files if not p.is_file() or p.stat().st_size == 0]
    assert empty_or_missing == []


def test_vendored_files_match_their_recorded_sources_and_licences_are_kept():
    manifest = json.loads((VENDOR_DIR / "SOURCES.json").read_text(encoding="utf-8"))["files"]
    changed = [
        rel
        for rel, entry in manifest.items()
        if hashlib.sha256((VENDOR_DIR / rel).read_bytes()).hexdigest() != entry["sha256"]
    ]
    assert changed == []
    for path in required_files():
        assert path.relative_to(VENDOR_DIR).as_posix() in manifest
    packages = {rel.split("/")[0] for rel in CDN_ASSETS.values()}
    licences = {p.stem for p in (VENDOR_DIR / "LICENSES").glob("*.txt")}
    assert packages <= licences
    total = sum(entry["bytes"] for entry in manifest.values())
    assert 1_000_000 < total < 4_000_000


@pytest.mark.parametrize("cls", [folium.Map, MarkerCluster, FastMarkerCluster, HeatMap])
def test_every_cdn_link_of_the_layers_we_use_has_a_vendored_copy(cls):
    # fails when a folium upgrade changes a URL: re-run scripts/vendor_assets.py then
    for _, url in [*cls.default_js, *cls.default_css]:
        assert url in CDN_ASSETS, url


def test_local_url_maps_cdn_links_and_reroots_local_ones():
    url = "https://code.jquery.com/jquery-3.7.1.min.js"
    assert local_url(url) == "/app/static/vendor/jquery@3.7.1/dist/jquery.min.js"
    assert local_url(url, base="/uo/app/static/") == (
        "/uo/app/static/vendor/jquery@3.7.1/dist/jquery.min.js"
    )
    assert local_url(local_url(url), base="/x/app/static") == (
        "/x/app/static/vendor/jquery@3.7.1/dist/jquery.min.js"
    )
    assert local_url("/app/static/own.css") == "/app/static/own.css"


@pytest.mark.parametrize("url", ["https://unpkg.com/x/y.js", "//cdn.example.org/z.css"])
def test_local_url_refuses_unknown_remote_links(url):
    with pytest.raises(InputError, match="No vendored copy"):
        local_url(url)


def test_localize_rewrites_instances_and_leaves_folium_classes_alone():
    before = list(folium.Map.default_js)
    m = localize(_map())
    html = m.get_root().render()
    assert remote_links(html) == []
    assert "/app/static/vendor/leaflet.markercluster@1.1.0/dist/leaflet.markercluster.js" in html
    assert "/app/static/vendor/folium@0.20.0/leaflet_heat.min.js" in html
    # another session's map still gets folium's own links: no global mutation
    assert folium.Map.default_js == before
    assert remote_links(_map().get_root().render()) != []


def test_localize_fixes_a_map_rendered_before_and_is_idempotent():
    m = _map()
    m.get_root().render()
    localize(m)
    localize(m, base="/sub/app/static")
    html = m.get_root().render()
    assert remote_links(html) == []
    assert html.count("/sub/app/static/vendor/leaflet@1.9.3/dist/leaflet.js") == 1
    assert "/app/static/vendor/leaflet@1.9.3" not in html.replace("/sub/app/static", "")


def test_localize_names_every_element_it_cannot_serve_offline():
    m = _map()
    Fullscreen().add_to(m)
    branca.colormap.LinearColormap(["white", "red"], vmin=0, vmax=1).add_to(m)
    with pytest.raises(InputError) as err:
        localize(m)
    message = str(err.value)
    assert "Control.FullScreen" in message
    assert "LinearColormap" in message and "d3" in message


def test_streamlit_folium_passes_only_local_links_to_its_iframe(monkeypatch):
    # st_folium collects js_links/css_links itself by walking the map: call it for real and
    # capture what it would send to the component
    sent: dict = {}
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **kw: sent.update(kw))
    m = localize(_map())
    streamlit_folium.st_folium(m, key="map", returned_objects=[])
    links = sent["js_links"] + sent["css_links"]
    assert len(sent["js_links"]) == 6 and len(sent["css_links"]) == 8
    assert all(link.startswith("/app/static/vendor/") for link in links), links
    for link in links:
        assert (VENDOR_DIR / link.removeprefix("/app/static/vendor/")).is_file()
    assert remote_links(sent["header"]) == []
