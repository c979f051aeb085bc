"""Reading boundary files: formats, CRSs, Vietnamese headers, and errors that name the fix."""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

from geo.boundaries import check_crs_against, read_boundaries
from geo.config import HANOI_CRS, VN2000_UTM48_CRS
from geo.errors import CRSMismatchError, InputError
from geo.model import SCHEMAS

X0, Y0 = 586_000.0, 2_324_000.0  # EPSG:5897 metres near 105.83 E, 21.01 N (Kim Liên)


def _sq(x0: float, y0: float, x1: float, y1: float) -> shapely.Geometry:
    return box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def _groups(headers: dict[str, str] | None = None) -> gpd.GeoDataFrame:
    """Three 100 m groups (one L-shaped) in EPSG:5897, with Vietnamese headers by default."""
    h = {
        "id": "Mã tổ",
        "name": "Tên",
        "zone": "Khu vực",
        "population": "Dân số",
        "households": "Số hộ",
        **(headers or {}),
    }
    data = {
        h["id"]: ["T01", "T02", "T03"],
        h["name"]: ["Tổ dân phố số 1", "Tổ dân phố số 2", "Tổ dân phố số 19"],
        h["zone"]: ["KV1", "KV1", "KV2"],
        h["population"]: [1200, 950, 1430],
        h["households"]: [310, 250, 402],
    }
    geometry = [
        _sq(0, 0, 100, 100),
        _sq(100, 0, 200, 100),
        shapely.union_all([_sq(0, 100, 200, 200), _sq(200, 0, 300, 200)]),
    ]
    return gpd.GeoDataFrame({k: v for k, v in data.items() if k}, geometry=geometry, crs=HANOI_CRS)


def _area_m2(gdf: gpd.GeoDataFrame) -> pd.Series:
    return gdf.to_crs(HANOI_CRS).area.reset_index(drop=True)


def _write(gdf: gpd.GeoDataFrame, tmp_path: Path, fmt: str) -> Path:
    """Write ``gdf`` as ``fmt``; KML and KMZ are written in EPSG:4326 as the format requires."""
    if fmt == "gpkg":
        path = tmp_path / "groups.gpkg"
        gdf.to_file(path, layer="to_dan_pho")
    elif fmt == "geojson":
        path = tmp_path / "groups.geojson"
        gdf.to_file(path, driver="GeoJSON")
    elif fmt == "shp":
        path = tmp_path / "groups.shp"
        gdf.to_file(path)
    elif fmt == "zip":
        folder = tmp_path / "shp"
        folder.mkdir()
        gdf.to_file(folder / "to_dan_pho.shp")
        path = tmp_path / "groups.zip"
        with zipfile.ZipFile(path, "w") as archive:
            for part in folder.iterdir():
                archive.write(part, part.name)
    elif fmt == "kml":
        path = tmp_path / "groups.kml"
        gdf.to_crs(4326).to_file(path, driver="KML")
    elif fmt == "kmz":
        kml = tmp_path / "doc.kml"
        gdf.to_crs(4326).to_file(kml, driver="LIBKML")
        path = tmp_path / "groups.kmz"
        with zipfile.ZipFile(path, "w") as archive:
            archive.write(kml, "doc.kml")
    else:
        raise AssertionError(fmt)
    return path


FORMATS = ["gpkg", "geojson", "shp", "zip", "kml", "kmz"]


@pytest.mark.parametrize("crs", [HANOI_CRS, VN2000_UTM48_CRS])
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_and_crs_reads_the_same_groups(tmp_path: Path, fmt: str, crs: str) -> None:
    drawn = _groups().to_crs(crs)
    got = read_boundaries(_write(drawn, tmp_path, fmt), level="group")
    assert list(got.columns) == list(SCHEMAS["groups"])
    assert got.crs == "EPSG:4326"
    assert set(got.geom_type) == {"MultiPolygon"}
    assert list(got["group_id"]) == ["T01", "T02", "T03"]
    assert list(got["name"]) == ["Tổ dân phố số 1", "Tổ dân phố số 2", "Tổ dân phố số 19"]
    assert list(got["zone_id"]) == ["KV1", "KV1", "KV2"]
    assert list(got["population"]) == [1200, 950, 1430]
    assert list(got["households"]) == [310, 250, 402]
    assert got["ward_id"].isna().all()
    pd.testing.assert_series_equal(_area_m2(got), _area_m2(drawn), rtol=1e-3)
    assert _area_m2(got).tolist() == pytest.approx([10_000, 10_000, 40_000], rel=1e-3)


@pytest.mark.parametrize(
    "headers",
    [
        {"id": "group_id", "name": "name", "zone": "zone_id", "population": "population",
         "households": "households"},
        {"id": "ma_to", "name": "ten", "zone": "khu_vuc", "population": "dan_so",
         "households": "so_ho"},
        {"id": "MÃ TỔ", "name": "TÊN", "zone": "KHU VỰC", "population": "DÂN SỐ",
         "households": "SỐ HỘ"},
        {"id": "Tổ số", "name": "Tổ dân phố", "zone": "Mã khu vực", "population": "Nhân khẩu",
         "households": "Hộ gia đình"},
    ],
    ids=["english", "no-diacritics", "upper-case", "other-words"],
)  # fmt: skip
def test_header_variants_are_detected(tmp_path: Path, headers: dict[str, str]) -> None:
    got = read_boundaries(_write(_groups(headers), tmp_path, "gpkg"), level="group")
    assert list(got["group_id"]) == ["T01", "T02", "T03"]
    assert got["name"].iloc[2] == "Tổ dân phố số 19"
    assert list(got["zone_id"]) == ["KV1", "KV1", "KV2"]
    assert got["population"].sum() == 3580
    assert got["households"].sum() == 962


def test_names_serve_as_ids_when_there_is_no_id_column(tmp_path: Path) -> None:
    only_names = _groups({"id": "", "zone": "", "population": "", "households": "",
                          "name": "Tổ dân phố"})  # fmt: skip
    got = read_boundaries(_write(only_names, tmp_path, "geojson"), level="group")
    assert list(got["group_id"]) == list(got["name"])
    assert got["zone_id"].isna().all()


def test_explicit_columns_override_detection(tmp_path: Path) -> None:
    gdf = _groups().assign(so_to=["1", "2", "19"], ghi_chu=["a", "b", "c"])
    path = _write(gdf, tmp_path, "gpkg")
    got = read_boundaries(
        path, level="group", id_column="so_to", name_column="ghi_chu", parent_column="Mã tổ"
    )
    assert list(got["group_id"]) == ["1", "2", "19"]
    assert list(got["name"]) == ["a", "b", "c"]
    assert list(got["zone_id"]) == ["T01", "T02", "T03"]
    with pytest.raises(InputError, match=r"id_column='ma' is not a column .* Mã tổ"):
        read_boundaries(path, level="group", id_column="ma")


def test_numeric_ids_lose_no_digits_and_gain_no_decimals(tmp_path: Path) -> None:
    gdf = _groups().assign(**{"Mã tổ": [1.0, 2.0, 19.0]})
    got = read_boundaries(_write(gdf, tmp_path, "shp"), level="group")
    assert list(got["group_id"]) == ["1", "2", "19"]


def test_google_earth_kml_with_folders_and_vietnamese_data_names(tmp_path: Path) -> None:
    def placemark(name: str, data: dict[str, str], x: float, *, label: bool = False) -> str:
        fields = "".join(f'<Data name="{k}"><value>{v}</value></Data>' for k, v in data.items())
        ring = f"{x},21.01,0 {x + 0.001},21.01,0 {x + 0.001},21.011,0 {x},21.011,0 {x},21.01,0"
        shape = (
            f"<Polygon><outerBoundaryIs><LinearRing><coordinates>{ring}</coordinates>"
            f"</LinearRing></outerBoundaryIs></Polygon>"
        )
        if label:  # a polygon with a label point, as some exports write them
            point = f"<Point><coordinates>{x + 0.0005},21.0105,0</coordinates></Point>"
            shape = f"<MultiGeometry>{shape}{point}</MultiGeometry>"
        return (
            f"<Placemark><name>{name}</name><ExtendedData>{fields}</ExtendedData>"
            f"{shape}</Placemark>"
        )

    marks1 = placemark("Tổ 1", {"Mã tổ": "T01", "Số hộ": "310"}, 105.830)
    marks1 += placemark("Tổ 2", {"Mã tổ": "T02", "Số hộ": "250"}, 105.831, label=True)
    marks2 = placemark("Tổ 3", {"Mã tổ": "T03", "Số hộ": "402"}, 105.832)
    text = (
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><name>Tổ dân phố</name><Folder><name>Khu vực 1</name>{marks1}</Folder>"
        f"<Folder><name>Khu vực 2</name>{marks2}</Folder></Document></kml>"
    )
    kml = tmp_path / "to_dan_pho.kml"
    kml.write_text(text, encoding="utf-8")
    kmz = tmp_path / "to_dan_pho.kmz"
    with zipfile.ZipFile(kmz, "w") as archive:
        archive.write(kml, "doc.kml")
    for path in (kml, kmz):
        got = read_boundaries(path, level="group")
        assert list(got["group_id"]) == ["T01", "T02", "T03"]
        assert list(got["name"]) == ["Tổ 1", "Tổ 2", "Tổ 3"]  # the Placemark names
        assert list(got["households"]) == [310, 250, 402]
        assert set(got.geom_type) == {"MultiPolygon"}
        assert _area_m2(got).tolist() == pytest.approx([11_500] * 3, rel=0.01)
        # the folders hold the zones: say so and they become the zone ids
        zoned = read_boundaries(path, level="group", parent_column="folder")
        assert list(zoned["zone_id"]) == ["Khu vực 1", "Khu vực 1", "Khu vực 2"]
        one = read_boundaries(path, level="group", layer="Khu vực 2")
        assert list(one["group_id"]) == ["T03"]


def test_zones_and_wards_levels(tmp_path: Path) -> None:
    zones = gpd.GeoDataFrame(
        {"Mã khu vực": ["KV1", "KV2"], "Tên khu vực": ["Khu vực 1", "Khu vực 2"],
         "Phường": ["KL", "KL"]},
        geometry=[_sq(0, 0, 200, 200), _sq(200, 0, 400, 200)],
        crs=HANOI_CRS,
    )  # fmt: skip
    got = read_boundaries(_write(zones, tmp_path, "gpkg"), level="zone")
    assert list(got.columns) == list(SCHEMAS["zones"])
    assert list(got["zone_id"]) == ["KV1", "KV2"]
    assert list(got["name"]) == ["Khu vực 1", "Khu vực 2"]
    assert list(got["ward_id"]) == ["KL", "KL"]

    ward = gpd.GeoDataFrame(
        {"ma_phuong": ["KL"], "ten_phuong": ["Phường Kim Liên"], "dan_so": ["109107"],
         "hieu_luc_tu": ["01/07/2025"]},
        geometry=[_sq(0, 0, 400, 200)],
        crs=HANOI_CRS,
    )  # fmt: skip
    path = tmp_path / "phuong.geojson"
    ward.to_file(path)
    got = read_boundaries(path, level="ward")
    assert list(got.columns) == list(SCHEMAS["wards"])
    row = got.iloc[0]
    assert (row["ward_id"], row["name"], row["population"]) == ("KL", "Phường Kim Liên", 109107)
    assert row["source"] == "phuong.geojson"
    assert not row["synthetic"]
    assert row["valid_from"] == pd.Timestamp("2025-07-01", tz="Asia/Ho_Chi_Minh")


def test_invalid_rings_are_kept_for_the_topology_report(tmp_path: Path) -> None:
    bow_tie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    gdf = _groups()
    gdf.loc[0, "geometry"] = bow_tie
    got = read_boundaries(_write(gdf, tmp_path, "gpkg"), level="group")
    assert not got.geometry.iloc[0].is_valid
    assert got.geometry.iloc[1:].is_valid.all()


# --- CRS ----------------------------------------------------------------------------------


def test_vn2000_mix_up_names_the_crs_that_fits(tmp_path: Path) -> None:
    ward = gpd.GeoSeries([_sq(-50, -50, 350, 250)], crs=HANOI_CRS)
    mislabelled = _groups().set_crs(VN2000_UTM48_CRS, allow_override=True)  # TM-3 numbers
    path = _write(mislabelled, tmp_path, "gpkg")
    with pytest.raises(CRSMismatchError) as caught:
        read_boundaries(path, level="group", reference=ward)
    message = str(caught.value)
    assert "EPSG:3405" in message and "crs='EPSG:5897'" in message
    assert "groups.gpkg" in message and "0 of its 3 features" in message
    # told the right CRS, the same file reads and passes the check
    got = read_boundaries(path, level="group", crs=HANOI_CRS, reference=ward)
    assert _area_m2(got).sum() == pytest.approx(60_000, rel=1e-3)


def test_the_other_way_round_names_utm(tmp_path: Path) -> None:
    ward = gpd.GeoSeries([_sq(-50, -50, 350, 250)], crs=HANOI_CRS)
    utm_numbers = _groups().to_crs(VN2000_UTM48_CRS).set_crs(HANOI_CRS, allow_override=True)
    with pytest.raises(CRSMismatchError, match="crs='EPSG:3405'"):
        read_boundaries(_write(utm_numbers, tmp_path, "shp"), level="group", reference=ward)


def test_a_group_outside_the_ward_is_not_a_crs_problem() -> None:
    ward = _sq(-50, -50, 350, 250)
    ward_4326 = gpd.GeoSeries([ward], crs=HANOI_CRS).to_crs(4326).iloc[0]
    groups = _groups()
    groups.loc[3, "geometry"] = _sq(2_000, 0, 2_100, 100)  # 1.7 km east, whatever the CRS
    check_crs_against(groups, ward_4326)
    with pytest.raises(CRSMismatchError, match="None of the 4 features"):
        check_crs_against(groups.translate(50_000, 0), ward_4326)


def test_no_crs_but_longitude_latitude_is_taken_as_wgs84(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(_groups().to_crs(4326), tmp_path, "shp")
    (tmp_path / "groups.prj").unlink()
    with caplog.at_level(logging.WARNING, logger="geo.boundaries"):
        got = read_boundaries(tmp_path / "groups.shp", level="group")
    assert "EPSG:4326" in caplog.text and "groups.shp" in caplog.text
    assert _area_m2(got).sum() == pytest.approx(60_000, rel=1e-3)


def test_no_crs_and_projected_coordinates_ask_for_crs(tmp_path: Path) -> None:
    _write(_groups(), tmp_path, "shp")
    (tmp_path / "groups.prj").unlink()
    with pytest.raises(InputError) as caught:
        read_boundaries(tmp_path / "groups.shp", level="group")
    message = str(caught.value)
    assert "groups.shp" in message and "no CRS" in message
    assert "crs='EPSG:5897'" in message and "crs='EPSG:3405'" in message
    got = read_boundaries(tmp_path / "groups.shp", level="group", crs=5897)
    assert _area_m2(got).sum() == pytest.approx(60_000, rel=1e-3)


def test_geojson_with_metres_but_no_crs_member_asks_for_crs(tmp_path: Path) -> None:
    path = tmp_path / "groups.geojson"
    features = _groups().set_crs(None, allow_override=True)
    path.write_text(features.to_json(), encoding="utf-8")  # no "crs" member: read as degrees
    with pytest.raises(InputError, match=r"(?s)groups.geojson.*are metres: pass crs="):
        read_boundaries(path, level="group")
    got = read_boundaries(path, level="group", crs="EPSG:5897")
    assert list(got["group_id"]) == ["T01", "T02", "T03"]


def test_unknown_crs_argument(tmp_path: Path) -> None:
    path = _write(_groups(), tmp_path, "gpkg")
    with pytest.raises(InputError, match="crs='VN2000 TM3' is not a CRS pyproj knows"):
        read_boundaries(path, level="group", crs="VN2000 TM3")


# --- bad inputs ---------------------------------------------------------------------------


def test_points_are_refused_with_their_rows(tmp_path: Path) -> None:
    gdf = _groups()
    gdf["geometry"] = [Point(X0, Y0), _sq(0, 0, 1, 1), Point(X0 + 5, Y0)]
    path = tmp_path / "points.geojson"
    gdf.to_crs(4326).to_file(path)
    with pytest.raises(InputError) as caught:
        read_boundaries(path, level="group")
    message = str(caught.value)
    assert "points.geojson" in message
    assert "features 1, 3 are Point, not polygons" in message
    assert "Add Polygon" in message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    gdf = _groups().assign(**{"Dân số": ["1.200", "950", "khoảng 1400"]})
    gdf.loc[1, "Mã tổ"] = None
    gdf.loc[2, "geometry"] = shapely.LineString([(X0, Y0), (X0 + 100, Y0)])
    path = _write(gdf, tmp_path, "gpkg")
    with pytest.raises(InputError) as caught:
        read_boundaries(path, level="group")
    lines = str(caught.value).splitlines()
    assert lines[0] == "groups.gpkg cannot be read as group boundaries:"
    assert any("feature 3 is LineString" in line for line in lines)
    assert any("feature 2, column 'Mã tổ': the id is empty" in line for line in lines)
    assert any(
        "features 1, 3, column 'Dân số'" in line and "plain digits" in line for line in lines
    )
    assert len(lines) == 4


def test_several_layers_need_a_choice(tmp_path: Path) -> None:
    path = tmp_path / "ban_do.gpkg"
    _groups().to_file(path, layer="to_dan_pho")
    _groups().to_file(path, layer="khu_vuc")
    gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs=HANOI_CRS).to_file(path, layer="diem")
    with pytest.raises(InputError) as caught:
        read_boundaries(path, level="group")
    message = str(caught.value)
    assert "ban_do.gpkg has 3 layers" in message and "pass layer=" in message
    assert "'to_dan_pho' (Polygon)" in message and "'diem' (Point)" in message
    assert len(read_boundaries(path, level="group", layer="khu_vuc")) == 3
    with pytest.raises(InputError, match="has no layer 'to'; its layers are"):
        read_boundaries(path, level="group", layer="to")


def test_the_only_polygon_layer_is_chosen(tmp_path: Path) -> None:
    path = tmp_path / "ban_do.gpkg"
    gpd.GeoDataFrame(geometry=[Point(X0, Y0)], crs=HANOI_CRS).to_file(path, layer="diem")
    _groups().to_file(path, layer="to_dan_pho")
    assert len(read_boundaries(path, level="group")) == 3


def test_unreadable_and_missing_files(tmp_path: Path) -> None:
    junk = tmp_path / "groups.gpkg"
    junk.write_bytes(b"not a geopackage")
    with pytest.raises(InputError, match=r"groups\.gpkg could not be opened"):
        read_boundaries(junk, level="group")
    with pytest.raises(InputError, match="no such file"):
        read_boundaries(tmp_path / "none.gpkg", level="group")
    with pytest.raises(InputError, match="level='to'"):
        read_boundaries(junk, level="to")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="wards have no parent"):
        read_boundaries(junk, level="ward", parent_column="x")


# --- real data ----------------------------------------------------------------------------


@pytest.mark.realdata
def test_kim_lien_ward(kim_lien_ward: Path) -> None:
    ward = read_boundaries(kim_lien_ward, level="ward")
    assert len(ward) == 1
    row = ward.iloc[0]
    assert row["name"] == "Phường Kim Liên"
    assert row["ward_id"] == "19331656"
    assert row["population"] == 109_107
    assert row["source"] == kim_lien_ward.name
    assert _area_m2(ward).iloc[0] / 1e6 == pytest.approx(2.42, abs=0.01)


@pytest.mark.realdata
def test_mislabelled_groups_against_the_real_ward(kim_lien_ward: Path, tmp_path: Path) -> None:
    ward = read_boundaries(kim_lien_ward, level="ward")
    outline = ward.to_crs(HANOI_CRS).geometry.iloc[0]
    left, bottom, right, top = outline.bounds
    step = 200.0
    cells = [
        box(x, y, x + step, y + step).intersection(outline)
        for x in np.arange(left, right, step)
        for y in np.arange(bottom, top, step)
    ]
    cells = [c for c in cells if c.area > 100]  # groups tiling the ward, as a ward draws them
    groups = gpd.GeoDataFrame(
        {"ma_to": [str(n) for n in range(len(cells))]}, geometry=cells, crs=HANOI_CRS
    )
    fine = tmp_path / "fine.gpkg"
    groups.to_file(fine)
    assert len(read_boundaries(fine, level="group", reference=ward)) == len(cells)
    wrong = tmp_path / "wrong.gpkg"
    groups.set_crs(VN2000_UTM48_CRS, allow_override=True).to_file(wrong)
    with pytest.raises(CRSMismatchError, match="crs='EPSG:5897'"):
        read_boundaries(wrong, level="group", reference=ward)
