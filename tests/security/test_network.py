"""Inputs that would make agrilend reach the network or another file by themselves (defects 1-2).

Each hostile file is made here; the only network is a listener on 127.0.0.1 that counts the
requests it gets. Every case asserts a typed refusal *and* that nothing reached the listener; the
positive controls show the listener does count when remote access is allowed.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pyogrio
import pytest
import rasterio

from agrilend._gate import configure_ogr, raster_env
from agrilend.errors import (
    ImageryReadError,
    InputPathError,
    ServiceError,
    UnsafeInputError,
)
from agrilend.parcels import read_titles
from agrilend.remote_sensing import load_stac, open_cube, read_imagery_spec
from tests.security._hostile import Listener, geojson_with_crs, listening, ogr_vrt, titles

KEY = "security-tests-pseudonym-key"


@pytest.fixture(autouse=True)
def _remote_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGRILEND_ALLOW_REMOTE", raising=False)
    monkeypatch.delenv("AGRILEND_ALLOW_VRT", raising=False)
    for var in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy"):  # curl would read them
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def listener() -> Any:
    with listening() as lst:
        yield lst


# --- titles: VRT, WFS, CRS links, references in XML, SQLite virtual tables ---------------------


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".fgb", ".gml", ".vrt", ".shp"])
def test_ogr_vrt_under_any_suffix_is_refused(
    tmp_path: Path, listener: Listener, suffix: str
) -> None:
    path = tmp_path / f"titles{suffix}"
    path.write_text(ogr_vrt(f"/vsicurl/{listener.url}/titles.geojson"))
    with pytest.raises(UnsafeInputError, match="OGR VRT"):
        read_titles(path, key=KEY)
    assert listener.requests == []


def test_vrt_naming_a_wfs_is_refused(tmp_path: Path, listener: Listener) -> None:
    path = tmp_path / "titles.gpkg"
    path.write_text(ogr_vrt(f"WFS:{listener.url}/wfs"))
    with pytest.raises(UnsafeInputError):
        read_titles(path, key=KEY)
    assert listener.requests == []


def test_vrt_is_refused_even_when_vrts_are_allowed_if_it_names_a_service(
    tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGRILEND_ALLOW_VRT", "1")
    for i, source in enumerate([f"WFS:{listener.url}/wfs", f"/vsicurl/{listener.url}/t.json"]):
        path = tmp_path / f"titles{i}.vrt"
        path.write_text(ogr_vrt(source))
        with pytest.raises(InputPathError):
            read_titles(path, key=KEY)
    assert listener.requests == []


def test_vrt_pulling_a_local_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "titles.gpkg"
    path.write_text(ogr_vrt("/etc/passwd"))
    with pytest.raises(UnsafeInputError, match="OGR VRT"):
        read_titles(path, key=KEY)


def test_vrt_allowed_on_request_keeps_its_sources_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGRILEND_ALLOW_VRT", "1")
    outside = tmp_path / "elsewhere" / "secret.gpkg"
    outside.parent.mkdir()
    titles().to_file(outside, driver="GPKG")
    (tmp_path / "vrt").mkdir()
    path = tmp_path / "vrt" / "titles.vrt"
    path.write_text(ogr_vrt(str(outside)))
    with pytest.raises(UnsafeInputError, match="outside its own folder"):
        read_titles(path, key=KEY)


def test_vrt_inside_a_zip_is_refused(tmp_path: Path, listener: Listener) -> None:
    path = tmp_path / "titles.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("titles.gml", ogr_vrt(f"/vsicurl/{listener.url}/t.geojson"))
    with pytest.raises(UnsafeInputError):
        read_titles(path, key=KEY)
    assert listener.requests == []


@pytest.mark.parametrize(
    "crs",
    [
        {"type": "link", "properties": {"href": "{url}/crs.wkt", "type": "ogcwkt"}},
        {"type": "link", "properties": {"href": "{url}/crs.prj", "type": "esriwkt"}},
        {"type": "name", "properties": {"name": "{url}/def/crs/EPSG/0/4326"}},
        {"type": "link", "properties": {"href": "/etc/passwd"}},
    ],
    ids=["link-ogcwkt", "link-esriwkt", "name-url", "link-local-file"],
)
def test_geojson_crs_that_points_elsewhere_is_refused(
    tmp_path: Path, listener: Listener, crs: dict[str, Any]
) -> None:
    path = tmp_path / "titles.geojson"
    path.write_text(geojson_with_crs(json.loads(json.dumps(crs).replace("{url}", listener.url))))
    with pytest.raises(UnsafeInputError, match="CRS"):
        read_titles(path, key=KEY)
    assert listener.requests == []


def test_geojson_crs_link_inside_a_zip_is_refused(tmp_path: Path, listener: Listener) -> None:
    path = tmp_path / "titles.zip"
    crs = {"type": "link", "properties": {"href": f"{listener.url}/crs", "type": "ogcwkt"}}
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("titles.geojson", geojson_with_crs(crs))
    with pytest.raises(UnsafeInputError, match="CRS"):
        read_titles(path, key=KEY)
    assert listener.requests == []


def test_geojson_with_a_named_crs_is_read(tmp_path: Path) -> None:
    path = tmp_path / "titles.geojson"
    path.write_text(geojson_with_crs({"type": "name", "properties": {"name": "EPSG:4326"}}))
    assert len(read_titles(path, key=KEY, crs="EPSG:4326")) == 2


@pytest.mark.parametrize(
    ("name", "body"),
    [
        (
            "titles.kml",
            (
                '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><NetworkLink><Link><href>'
                "{url}/more.kml</href></Link></NetworkLink></Document></kml>"
            ),
        ),
        (
            "titles.gml",
            (
                '<ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/" '
                'xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:gml="http://www.opengis.net/gml">'
                '<gml:featureMember xlink:href="{url}/feature"/></ogr:FeatureCollection>'
            ),
        ),
    ],
    ids=["kml-networklink", "gml-xlink"],
)
def test_xml_referring_to_remote_parts_is_refused(
    tmp_path: Path, listener: Listener, name: str, body: str
) -> None:
    path = tmp_path / name
    path.write_text(body.replace("{url}", listener.url))
    with pytest.raises(UnsafeInputError, match="outside itself"):
        read_titles(path, key=KEY)
    assert listener.requests == []


def test_sqlite_virtual_table_over_another_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "titles.gpkg"
    titles().to_file(path, driver="GPKG", layer="titles")
    con = sqlite3.connect(path)
    con.execute("PRAGMA writable_schema=ON")
    con.execute(
        "INSERT INTO sqlite_master (type, name, tbl_name, rootpage, sql) VALUES ('table', 'x', "
        "'x', 0, 'CREATE VIRTUAL TABLE x USING VirtualOGR(''/etc/passwd'')')"
    )
    con.commit()
    con.close()
    with pytest.raises(UnsafeInputError, match="VirtualOGR"):
        read_titles(path, key=KEY)


# --- GDAL itself: the second wall ---------------------------------------------------------------


def test_gdal_reaches_no_host_while_remote_access_is_off(
    tmp_path: Path, listener: Listener
) -> None:
    path = tmp_path / "link.geojson"
    crs = {"type": "link", "properties": {"href": f"{listener.url}/crs.wkt", "type": "ogcwkt"}}
    path.write_text(geojson_with_crs(crs))
    configure_ogr(allow_remote=True)  # positive control: the listener does count GDAL's fetch
    try:
        pyogrio.read_dataframe(path)
        assert listener.requests, "the listener should have counted GDAL's request"
    finally:
        configure_ogr()
    listener.requests.clear()
    pyogrio.read_dataframe(path)  # behind the content gate's back: GDAL's HTTP goes nowhere
    assert listener.requests == []


def test_raster_vrt_reaches_no_host_inside_raster_env(tmp_path: Path, listener: Listener) -> None:
    vrt = tmp_path / "x.vrt"
    vrt.write_text(
        '<VRTDataset rasterXSize="4" rasterYSize="4"><GeoTransform>0,10,0,40,0,-10</GeoTransform>'
        '<VRTRasterBand dataType="Byte" band="1">'
        f"<SimpleSource><SourceFilename>/vsicurl/{listener.url}/x.tif</SourceFilename>"
        "<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>"
    )

    def read() -> None:
        with rasterio.open(vrt) as src, contextlib.suppress(rasterio.errors.RasterioIOError):
            src.read(1)

    with rasterio.Env():  # positive control: without agrilend's options GDAL fetches
        read()
    assert listener.requests
    listener.requests.clear()
    with raster_env():
        read()
    assert listener.requests == []


def test_netcdf_name_holding_a_vrt_is_refused(tmp_path: Path, listener: Listener) -> None:
    path = tmp_path / "imagery.nc"
    path.write_text(f'<VRTDataset rasterXSize="4" rasterYSize="4">{listener.url}</VRTDataset>')
    with pytest.raises(ImageryReadError, match="bytes look like XML"):
        open_cube(path)
    assert listener.requests == []


# --- STAC: catalogues, links, asset hrefs, API URLs ---------------------------------------------

BANDS = ("B02", "B03", "B04", "B08", "SCL")
RING = [[116.9, 36.5], [117.1, 36.5], [117.1, 36.7], [116.9, 36.7], [116.9, 36.5]]


def _item(href: str, item_id: str = "S2A_1") -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "collection": "sentinel-2-l2a",
        "bbox": [116.9, 36.5, 117.1, 36.7],
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[116.9, 36.5], [117.1, 36.5], [117.1, 36.7], [116.9, 36.7], [116.9, 36.5]]
            ],
        },
        "properties": {"datetime": "2024-05-01T03:00:00Z", "proj:epsg": 32650},
        "links": [],
        "assets": {b: {"href": href, "type": "image/tiff"} for b in BANDS},
    }


def _catalog(folder: Path, links: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cat = {
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": "hostile",
        "description": "made by a test",
        "links": links,
    }
    path = folder / "catalog.json"
    path.write_text(json.dumps(cat))
    return path


def _catalog_with_asset(folder: Path, href: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "item.json").write_text(json.dumps(_item(href)))
    return _catalog(folder, [{"rel": "item", "href": "./item.json"}])


@pytest.mark.parametrize("form", ["{url}/B04.tif", "/vsicurl/{url}/B04.tif", "s3://bucket/B04.tif"])
def test_remote_asset_hrefs_of_a_local_catalogue_are_refused(
    tmp_path: Path, listener: Listener, form: str
) -> None:
    cat = _catalog_with_asset(tmp_path / "stac", form.replace("{url}", listener.url))
    with pytest.raises(InputPathError, match="AGRILEND_ALLOW_REMOTE"):
        load_stac(cat, crs="EPSG:32650")
    assert listener.requests == []


def test_remote_child_link_of_a_local_catalogue_is_refused(
    tmp_path: Path, listener: Listener
) -> None:
    cat = _catalog(tmp_path / "stac", [{"rel": "child", "href": f"{listener.url}/child.json"}])
    with pytest.raises(InputPathError, match="AGRILEND_ALLOW_REMOTE"):
        load_stac(cat, crs="EPSG:32650")
    assert listener.requests == []


@pytest.mark.parametrize("target", ["/etc/passwd", "vrt"])
def test_asset_href_pulling_a_local_non_image_is_refused(tmp_path: Path, target: str) -> None:
    if target == "vrt":
        vrt = tmp_path / "stac" / "B04.tif"
        vrt.parent.mkdir(parents=True)
        vrt.write_text('<VRTDataset rasterXSize="4" rasterYSize="4"></VRTDataset>')
        target = str(vrt)
    cat = _catalog_with_asset(tmp_path / "stac", target)
    with pytest.raises(UnsafeInputError, match="not an image"):
        load_stac(cat, crs="EPSG:32650")


def test_local_link_leaving_the_catalogue_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "item.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text(json.dumps(_item("/dev/null")))
    cat = _catalog(tmp_path / "stac", [{"rel": "item", "href": str(elsewhere)}])
    with pytest.raises(UnsafeInputError, match="outside the catalogue"):
        load_stac(cat, crs="EPSG:32650")


def _spec(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "imagery.toml"
    path.write_text(f'[stac]\ncatalogue = "{url}"\nstart = 2024-03-01\nend = 2024-10-31\n')
    return path


def test_stac_api_in_an_imagery_spec_is_not_contacted_with_remote_access_off(
    tmp_path: Path, listener: Listener
) -> None:
    import shapely  # noqa: PLC0415

    spec = read_imagery_spec(_spec(tmp_path, listener.url))
    with pytest.raises(InputPathError, match="AGRILEND_ALLOW_REMOTE"):
        spec.search(shapely.box(500000, 4000000, 501000, 4001000), "EPSG:32650")
    assert listener.requests == []


def test_remote_access_reaches_only_the_hosts_given(
    tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shapely  # noqa: PLC0415

    area = shapely.box(500000, 4000000, 501000, 4001000)
    spec = read_imagery_spec(_spec(tmp_path, listener.url))
    monkeypatch.setenv("AGRILEND_ALLOW_REMOTE", "earth-search.aws.element84.com")
    with pytest.raises(InputPathError, match="not among the hosts"):
        spec.search(area, "EPSG:32650")
    assert listener.requests == []
    monkeypatch.setenv("AGRILEND_ALLOW_REMOTE", "127.0.0.1")  # positive control: it is reached
    with pytest.raises(ServiceError):
        spec.search(area, "EPSG:32650")
    assert listener.requests
