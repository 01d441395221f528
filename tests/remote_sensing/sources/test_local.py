"""open_cube: every shared cube into the contract; GeoTIFF stacks, COG and Zarr equal NetCDF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from affine import Affine

from agrilend.errors import ImageryReadError, InputPathError
from agrilend.remote_sensing.contract import band_names, validate_cube
from agrilend.remote_sensing.indices import ndvi
from agrilend.remote_sensing.sources.local import open_cube

SHARED_CUBES = [
    "belgium/belgium_l2a_scl_2023.nc",
    "belgium/belgium_monthly_composites_2020_2021.nc",
    "slovenia/slovenia_bands_2015.nc",
    "slovenia/slovenia_ndvi_2015_2017.nc",
    "spain/spain_field_l2a_2019.nc",
]
BELGIUM = "imagery/belgium/belgium_l2a_scl_2023.nc"


@pytest.mark.realdata
@pytest.mark.parametrize("name", SHARED_CUBES)
def test_every_shared_cube_opens_into_the_contract(shared_data: Path, name: str) -> None:
    cube = open_cube(shared_data / "imagery" / name)
    validate_cube(cube)
    assert cube.rio.crs is not None
    assert cube.rio.crs.is_projected
    bands = band_names(cube)
    for b in bands:
        assert cube[b].dims == ("time", "y", "x")
        assert cube[b].dtype == np.float32
        values = cube[b].values[np.isfinite(cube[b].values)]
        # reflectance: never the raw digital numbers, never the 65535 no-data
        assert values.min() > -0.2
        assert values.max() < 2.0
        assert 0.0 < np.median(values) < 1.0
    valid = cube["valid"].values
    assert 0.0 < valid.mean() <= 1.0
    data = np.logical_and.reduce([np.isfinite(cube[v].values) for v in (bands or ["NDVI"])])
    assert not (valid & ~data).any()  # valid implies data
    assert cube.attrs["processing_level"] in {"L1C", "L2A"}
    assert cube.attrs["source"].endswith(name.rsplit("/", maxsplit=1)[-1])
    assert "mask_method" in cube.attrs
    assert "boa_offset" in cube.attrs


@pytest.mark.realdata
def test_slovenia_ndvi_from_bands_equals_the_shipped_ndvi(shared_data: Path) -> None:
    bands = open_cube(shared_data / "imagery/slovenia/slovenia_bands_2015.nc")
    shipped = open_cube(shared_data / "imagery/slovenia/slovenia_ndvi_2015_2017.nc", mask="none")
    mine = ndvi(bands).values
    theirs = shipped["NDVI"].sel(time=bands["time"]).values
    diff = np.abs(mine - theirs)
    print(f"\nSlovenia NDVI from B08/B04 vs shipped: max |diff| {diff.max():.2e}")
    # the same float32 arithmetic up to rounding: a few units in the last place
    assert diff.max() < 1e-6


# --- other formats round-trip to the NetCDF -------------------------------------------------------


def _write_tif(path: Path, arrays: list[np.ndarray], transform: Affine, crs: str, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    first = arrays[0]
    profile = {
        "driver": kw.pop("driver", "GTiff"),
        "height": first.shape[0],
        "width": first.shape[1],
        "count": len(arrays),
        "dtype": first.dtype,
        "crs": crs,
        "transform": transform,
        **kw,
    }
    descriptions = profile.pop("descriptions", None)
    tags = profile.pop("tags", None)
    with rasterio.open(path, "w", **profile) as dst:
        for i, a in enumerate(arrays, start=1):
            dst.write(a, i)
            if descriptions:
                dst.set_band_description(i, descriptions[i - 1])
        if tags:
            dst.update_tags(**tags)


def _belgium_raw(shared_data: Path) -> tuple[xr.Dataset, Affine, str]:
    raw = xr.open_dataset(shared_data / BELGIUM, decode_coords="all").load()
    xs, ys = raw["x"].values, raw["y"].values
    transform = Affine(xs[1] - xs[0], 0, xs[0] - 5, 0, ys[1] - ys[0], ys[0] + 5)
    return raw, transform, "EPSG:32631"


def _assert_same_cube(a: xr.Dataset, b: xr.Dataset) -> None:
    assert band_names(a) == band_names(b)
    np.testing.assert_array_equal(a["time"].values, b["time"].values)
    np.testing.assert_allclose(a["x"].values, b["x"].values)
    np.testing.assert_allclose(a["y"].values, b["y"].values)
    for v in [*band_names(a), "valid"]:
        np.testing.assert_array_equal(a[v].values, b[v].values, err_msg=v)
    assert a.rio.crs == b.rio.crs
    assert a.attrs["boa_offset"] == b.attrs["boa_offset"]


@pytest.mark.realdata
def test_geotiff_stack_one_file_per_date_and_band_equals_netcdf(
    shared_data: Path, tmp_path: Path
) -> None:
    raw, transform, crs = _belgium_raw(shared_data)
    for i, t in enumerate(pd.DatetimeIndex(raw["t"].values)):
        for var in raw.data_vars:
            band = str(var).removeprefix("S2-L2A-")
            arr = raw[var].values[i]
            # two naming schemes in one stack: Sentinel Hub folders and sen2r-like names
            name = f"{t:%Y-%m-%d}/{band}.tif" if i % 2 else f"S2A_{t:%Y%m%d}_{band}.tif"
            _write_tif(tmp_path / "stack" / name, [arr], transform, crs, nodata=0)
    from_tifs = open_cube(tmp_path / "stack")
    from_nc = open_cube(shared_data / BELGIUM)
    _assert_same_cube(from_tifs, from_nc)
    assert from_tifs.attrs["processing_level"] == "L2A"


@pytest.mark.realdata
def test_cogs_one_multiband_file_per_date_equal_netcdf(shared_data: Path, tmp_path: Path) -> None:
    raw, transform, crs = _belgium_raw(shared_data)
    names = [str(v).removeprefix("S2-L2A-") for v in raw.data_vars]
    times = pd.DatetimeIndex(raw["t"].values)
    for i, t in enumerate(times):
        _write_tif(
            tmp_path / "cogs" / f"scene_{i:02d}.tif",
            [raw[v].values[i] for v in raw.data_vars],
            transform,
            crs,
            driver="COG",
            descriptions=names,
            tags={"datetime": t.isoformat()},
        )
    with rasterio.open(tmp_path / "cogs" / "scene_00.tif") as src:
        assert src.driver == "GTiff"
    from_cogs = open_cube(tmp_path / "cogs")
    _assert_same_cube(from_cogs, open_cube(shared_data / BELGIUM))
    one = open_cube(tmp_path / "cogs" / "scene_04.tif")
    assert one.sizes["time"] == 1
    assert one["time"].values[0] == times[4]
    np.testing.assert_array_equal(one["B04"].values[0], from_cogs["B04"].values[4])


@pytest.mark.realdata
def test_zarr_equals_netcdf(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "imagery/slovenia/slovenia_ndvi_2015_2017.nc"
    with xr.open_dataset(src, decode_coords="all") as raw:
        raw.to_zarr(tmp_path / "slovenia.zarr", consolidated=False)
    from_zarr = open_cube(tmp_path / "slovenia.zarr")
    from_nc = open_cube(src)
    np.testing.assert_array_equal(from_zarr["NDVI"].values, from_nc["NDVI"].values)
    np.testing.assert_array_equal(from_zarr["valid"].values, from_nc["valid"].values)
    assert from_zarr.rio.crs == from_nc.rio.crs


@pytest.mark.realdata
def test_chunks_keep_the_cube_lazy(shared_data: Path) -> None:
    path = shared_data / "imagery/spain/spain_field_l2a_2019.nc"
    lazy = open_cube(path, chunks={"t": 4})
    assert lazy["B04"].chunks is not None
    assert lazy["valid"].chunks is not None
    eager = open_cube(path)
    np.testing.assert_array_equal(lazy["B04"].values, eager["B04"].values)
    np.testing.assert_array_equal(lazy["valid"].values, eager["valid"].values)


@pytest.mark.realdata
def test_time_window_bands_and_mask_options(shared_data: Path) -> None:
    path = shared_data / "imagery/spain/spain_field_l2a_2019.nc"
    cube = open_cube(path, bands=["B04"], time=("2019-04-01", "2019-06-30"), dilation=1)
    assert set(band_names(cube)) == {"B04"}
    assert "SCL" in cube.data_vars  # kept for the mask
    assert cube.indexes["time"].min() >= pd.Timestamp("2019-04-01")
    assert cube.indexes["time"].max() <= pd.Timestamp("2019-06-30")
    assert cube.attrs["mask_dilation"] == 1
    with pytest.raises(ImageryReadError, match=r"lacks bands \['B05'\]"):
        open_cube(path, bands=["B05"])
    with pytest.raises(ImageryReadError, match="no date within"):
        open_cube(path, time=slice("2030-01-01", "2030-02-01"))


# --- refusals ----------------------------------------------------------------------------------


def _small_tif(path: Path) -> None:
    _write_tif(
        path,
        [np.full((3, 3), 1200, dtype="uint16")],
        Affine(10, 0, 500000, 0, -10, 4000000),
        "EPSG:32650",
    )


def test_vrt_disguised_as_tif_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "2024-05-01_B04.tif"
    _small_tif(real)
    fake = tmp_path / "disguised" / "2024-05-01_B04.tif"
    fake.parent.mkdir()
    fake.write_text(
        '<VRTDataset rasterXSize="3" rasterYSize="3"><VRTRasterBand dataType="UInt16" band="1">'
        f"<SimpleSource><SourceFilename>{real}</SourceFilename><SourceBand>1</SourceBand>"
        "</SimpleSource></VRTRasterBand></VRTDataset>"
    )
    with pytest.raises(ImageryReadError, match="not a VRT") as info:
        open_cube(fake, crs="EPSG:32650")
    assert info.value.path == fake


def test_single_geotiff_with_date_and_band_in_its_name(tmp_path: Path) -> None:
    path = tmp_path / "2024-05-01_B04.tif"
    _small_tif(path)
    cube = open_cube(path)
    assert cube["time"].values[0] == np.datetime64("2024-05-01")
    np.testing.assert_allclose(cube["B04"].values, 0.02)  # 2024 DN: (1200 - 1000) / 10000


def test_paths_are_checked(tmp_path: Path) -> None:
    with pytest.raises(InputPathError, match="does not exist"):
        open_cube(tmp_path / "missing.nc")
    with pytest.raises(InputPathError, match="network"):
        open_cube("https://example.org/cube.nc")
    with pytest.raises(InputPathError, match="network"):
        open_cube("/vsicurl/https://example.org/cube.tif")
    other = tmp_path / "cube.grib"
    other.write_bytes(b"GRIB")
    with pytest.raises(ImageryReadError, match="unsupported suffix"):
        open_cube(other)
    spec = tmp_path / "imagery.toml"
    spec.write_text('[stac]\ncatalogue = "catalog.json"\n', encoding="utf-8")
    with pytest.raises(ImageryReadError, match="describes a STAC search, not a cube"):
        open_cube(spec)
    broken = tmp_path / "broken.nc"
    broken.write_bytes(b"not a netcdf file")
    with pytest.raises(ImageryReadError, match=r"broken\.nc"):
        open_cube(broken)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageryReadError, match="no GeoTIFF"):
        open_cube(empty)


def test_tif_without_date_or_band_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "scene.tif"
    _small_tif(path)
    with pytest.raises(ImageryReadError, match="no acquisition date"):
        open_cube(path)
    dated = tmp_path / "2024-05-01.tif"
    _small_tif(dated)
    with pytest.raises(ImageryReadError, match="which band"):
        open_cube(dated)


def test_open_cube_takes_a_dataset() -> None:
    raw = xr.Dataset(
        {"S2-L2A-B04": (("t", "y", "x"), np.full((1, 2, 2), 1500, dtype="uint16"))},
        coords={"t": pd.to_datetime(["2021-06-01"]), "y": [15.0, 5.0], "x": [5.0, 15.0]},
    )
    cube = open_cube(raw, crs="EPSG:32650", chunks={"t": 1})
    assert cube["B04"].chunks is not None
    np.testing.assert_allclose(cube["B04"].values, 0.15)


def test_sample_county_imagery_opens_with_its_offset(sample_data: Path) -> None:
    path = sample_data / "imagery.nc"
    if not path.exists():
        pytest.skip("sample_data/imagery.nc has not been generated yet")
    cube = open_cube(path, time=("2024-06-01", "2024-08-31"))
    assert cube.attrs["processing_level"] == "L2A"
    assert "-1000" in cube.attrs["boa_offset"]
    assert cube.attrs["mask_method"] == "scl"
    red = cube["B04"].values[cube["valid"].values]
    assert 0.0 < np.median(red) < 0.3
    index = ndvi(cube).values
    assert np.nanmax(index) <= 1.0
    assert np.nanmin(index) >= -1.0
