"""STAC path: a static catalogue of COGs and a fake STAC API on 127.0.0.1, loaded with odc-stac."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
import xarray as xr
from rasterio.features import geometry_mask

from agrilend.errors import (
    ImageryReadError,
    ImageryValueError,
    InputPathError,
    MissingBandError,
    ServiceError,
)
from agrilend.parcels import zonal_series
from agrilend.remote_sensing.contract import validate_cube
from agrilend.remote_sensing.masks import SCL_INVALID
from agrilend.remote_sensing.phenology import phenology_table
from agrilend.remote_sensing.sources.stac import load_stac
from agrilend.remote_sensing.timeseries import clean_series
from tests.remote_sensing._fake_sentinelhub import (
    grid_transform,
    seasonal_source,
)
from tests.remote_sensing._fake_stac import FakeStacApi, l2a_dn, write_catalog

TIME = ("2024-05-01", "2024-05-31")


def _check_against(cube: xr.Dataset, src: xr.Dataset) -> None:
    validate_cube(cube)
    assert cube.rio.crs == src.rio.crs
    assert grid_transform(cube) == grid_transform(src)
    np.testing.assert_array_equal(cube["time"].values, src["time"].values)
    for b in ("B02", "B03", "B04", "B08"):
        assert cube[b].dtype == np.float32
        np.testing.assert_allclose(cube[b].values, src[b].values / 10000, atol=1e-6)
    np.testing.assert_array_equal(cube["SCL"].values, src["SCL"].values)
    np.testing.assert_array_equal(cube["valid"].values, ~np.isin(src["SCL"].values, SCL_INVALID))


def test_static_catalogue_round_trip(catalog: Path, synthetic: xr.Dataset) -> None:
    cube = load_stac(catalog, time=TIME)
    _check_against(cube, synthetic)
    assert cube.attrs["source"] == "stac:sentinel-2-l2a"
    assert cube.attrs["scene_ids"].split(",")[0] == "S2_TEST_20240501"


def test_without_raster_extension_the_baseline_decides(
    tmp_path: Path, synthetic: xr.Dataset
) -> None:
    new = write_catalog(
        l2a_dn(synthetic), tmp_path / "new", earth_search_names=False, raster_ext=False
    )
    _check_against(load_stac(new), synthetic)
    old = write_catalog(
        synthetic, tmp_path / "old", earth_search_names=False, raster_ext=False, baseline="02.14"
    )
    _check_against(load_stac(old), synthetic)


def test_fake_api_search(catalog: Path, synthetic: xr.Dataset) -> None:
    to_ll = pyproj.Transformer.from_crs(32650, 4326, always_xy=True)
    ll = to_ll.transform_bounds(500_000, 3_999_880, 500_100, 4_000_000)
    with FakeStacApi(catalog) as api:
        cube = load_stac(api.url, bbox=ll, time=("2024-05-02", "2024-05-31"))
        assert api.hits["/search"] >= 1
        assert api.searches[0]["collections"] == ["sentinel-2-l2a"]
    assert cube.sizes["time"] == 3  # 2024-05-01 is outside the range
    _check_against(cube, synthetic.isel(time=slice(1, None)))


def test_max_cloud_and_time_filters(catalog: Path) -> None:
    assert load_stac(catalog, max_cloud=10).sizes["time"] == 3  # the 25 % cloudy date goes
    assert load_stac(catalog, time=("2024-05-06", "2024-05-06")).sizes["time"] == 1


def test_geometry_masks_outside(catalog: Path) -> None:
    tri = shapely.Polygon([(500_000, 3_999_880), (500_100, 3_999_880), (500_000, 4_000_000)])
    cube = load_stac(catalog, geometry=tri, crs="EPSG:32650")
    inside = ~geometry_mask([tri], out_shape=(12, 10), transform=grid_transform(cube))
    assert not cube["valid"].values[:, ~inside].any()
    assert cube["valid"].values[0, inside].all()


# odc-geo multiplies Affine objects with `*` while dask computes the chunks, outside agrilend
@pytest.mark.filterwarnings("ignore:Use `@` matmul:PendingDeprecationWarning")
def test_lazy_load_with_chunks(catalog: Path, synthetic: xr.Dataset) -> None:
    cube = load_stac(catalog, chunks={"x": 5, "y": 6})
    assert cube["B04"].chunks is not None
    _check_against(cube.compute(), synthetic)


def test_errors_name_the_problem(
    catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(MissingBandError, match="B11"):
        load_stac(catalog, bands=("B04", "B11"))
    with pytest.raises(ImageryReadError, match="no 'sentinel-2-l2a' item"):
        load_stac(catalog, time=("2020-01-01", "2020-02-01"))
    with pytest.raises(InputPathError, match="does not exist"):
        load_stac(tmp_path / "nothing.json")
    with pytest.raises(ValueError, match="http"):
        load_stac("s3://bucket/catalog.json")
    with pytest.raises(InputPathError, match="AGRILEND_ALLOW_REMOTE"):  # remote access is off
        load_stac("http://127.0.0.1:9/", time=TIME)
    monkeypatch.setenv("AGRILEND_ALLOW_REMOTE", "127.0.0.1")
    with pytest.raises(ServiceError, match=r"127\.0\.0\.1:9"):  # nothing listens on port 9
        load_stac("http://127.0.0.1:9/", time=TIME)


@pytest.mark.realdata
def test_belgian_cube_through_cogs(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "imagery" / "belgium" / "belgium_l2a_scl_2023.nc"
    with xr.open_dataset(path, decode_coords="all") as ds:
        raw = ds.load()
    dn = xr.Dataset(
        {str(k).removeprefix("S2-L2A-"): (("time", "y", "x"), v.values) for k, v in raw.items()},
        coords={"time": raw["t"].values, "y": raw["y"], "x": raw["x"]},
    )
    dn["SCL"] = dn["SCL"].astype("uint8")
    dn = dn.rio.write_crs(raw.rio.crs)
    to_ll = pyproj.Transformer.from_crs(32631, 4326, always_xy=True)
    ll = to_ll.transform_bounds(587_880, 5_684_910, 588_340, 5_685_430)
    # these numbers are already harmonised (openEO): a catalogue that says baseline 05.09 with
    # raster offset -0.1 over them would make vegetation's red negative, and is refused
    with (
        FakeStacApi(write_catalog(dn, tmp_path / "as_is")) as api,
        pytest.raises(ImageryValueError, match="offset was applied twice"),
    ):
        load_stac(api.url, bbox=ll, time=("2023-10-01", "2023-12-31"), crs="EPSG:32631")
    # with the +1000 of baseline 04.00 put back, metadata and numbers agree
    with FakeStacApi(write_catalog(l2a_dn(dn), tmp_path / "l2a")) as api:
        cube = load_stac(api.url, bbox=ll, time=("2023-10-01", "2023-12-31"), crs="EPSG:32631")
    red = dn["B04"].values.astype("float64")
    # the bbox went through lon/lat, so the loaded grid may be a pixel wider: compare on the cube
    sub = cube.sel(x=dn["x"], y=dn["y"])
    expected = np.where(red > 0, red / 10000, np.nan)
    np.testing.assert_allclose(sub["B04"].values, expected, atol=1e-6)
    np.testing.assert_array_equal(
        sub["valid"].values, (red > 0) & ~np.isin(dn["SCL"].values, SCL_INVALID)
    )


def test_season_and_phenology_in_a_few_lines_from_stac(tmp_path: Path) -> None:
    catalog = write_catalog(l2a_dn(seasonal_source(seed=1)), tmp_path)
    fields = gpd.GeoDataFrame(
        {"parcel_id": ["P-1"]},
        geometry=[shapely.box(500_010, 3_999_890, 500_090, 3_999_990)],
        crs="EPSG:32650",
    )
    with FakeStacApi(catalog) as api:
        cube = load_stac(api.url, geometry=fields, time=("2024-03-01", "2024-11-30"))
    series = zonal_series(cube, fields)
    ndvi, dates = clean_series(series["NDVI_mean"].values, series.indexes["time"])
    table = phenology_table(ndvi, dates, index=series.indexes["parcel"])
    assert table.loc["P-1", "n_seasons"] == 1
    assert abs((table.loc["P-1", "s1_pos"] - pd.Timestamp("2024-07-01")).days) <= 10
