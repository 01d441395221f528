"""Value sanity at the imagery boundary: integer-scaled indices, no-data, offsets, mixed grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agrilend.errors import ImageryReadError, ImageryValueError
from agrilend.remote_sensing import open_cube
from agrilend.remote_sensing.sanity import check_values, index_scaling
from tests.remote_sensing._sen2r import N10, field_scene, sen2r_folder, write_tif


def _ndvi_file(root: Path, values: np.ndarray, **kw: object) -> Path:
    return write_tif(root / "2024-05-01_NDVI.tif", values, **kw)  # type: ignore[arg-type]


def _true_ndvi(seed: int = 0) -> np.ndarray:
    s = field_scene(seed)
    return (s["B08"] - s["B04"]) / (s["B08"] + s["B04"])


def test_int16_ndvi_times_10000_is_scaled_and_nodata_is_never_valid(tmp_path: Path) -> None:
    stored = np.round(_true_ndvi() * 10000).astype("int16")
    stored[0, :3] = -32768
    cube = open_cube(_ndvi_file(tmp_path, stored, nodata=-32768))
    ndvi = cube["NDVI"].values[0]
    assert np.isnan(ndvi[0, :3]).all()
    assert not cube["valid"].values[0, 0, :3].any()
    np.testing.assert_allclose(ndvi[1:], _true_ndvi()[1:], atol=1e-4)
    assert "value range" in cube.attrs["index_scale"]
    assert "NDVI" in cube.attrs["value_check"]


def test_minus_32768_is_no_data_even_without_metadata(tmp_path: Path) -> None:
    stored = np.round(_true_ndvi() * 10000).astype("int16")
    stored[5, 5] = -32768
    cube = open_cube(_ndvi_file(tmp_path, stored))  # no nodata tag in the file
    assert np.isnan(cube["NDVI"].values[0, 5, 5])
    assert float(np.nanmin(cube["NDVI"].values)) > -1.0


def test_scale_from_the_files_metadata_wins(tmp_path: Path) -> None:
    stored = np.round(_true_ndvi() * 1000).astype("int16")  # x 1000, written as scale 0.001
    cube = open_cube(_ndvi_file(tmp_path, stored, nodata=-32768, scales=[0.001]))
    np.testing.assert_allclose(cube["NDVI"].values[0], _true_ndvi(), atol=1e-3)
    assert "metadata" in cube.attrs["index_scale"]


def test_an_unknown_scale_is_refused_saying_what_was_seen(tmp_path: Path) -> None:
    stored = np.round(_true_ndvi() * 100).astype("int16")  # x 100: not recognisable
    path = _ndvi_file(tmp_path, stored, nodata=-32768)
    with pytest.raises(ImageryValueError, match=r"NDVI holds values .*index_scale=") as exc:
        open_cube(path)
    assert "int16" in str(exc.value)
    cube = open_cube(path, index_scale=100)
    np.testing.assert_allclose(cube["NDVI"].values[0], _true_ndvi(), atol=0.01)


def _reflectance_cube(offset: float = 0.0) -> xr.Dataset:
    s = field_scene(1)
    dims = ("time", "y", "x")
    xs = 500_005.0 + 10 * np.arange(N10)
    ys = 4_000_195.0 - 10 * np.arange(N10)
    ds = xr.Dataset(
        {b: (dims, (s[b][None] + offset).astype("float32")) for b in ("B02", "B03", "B04", "B08")},
        coords={"time": pd.to_datetime(["2024-05-01"]), "y": ys, "x": xs},
    )
    return ds.rio.write_crs("EPSG:32650")


def test_an_offset_applied_twice_is_refused() -> None:
    with pytest.raises(ImageryValueError, match=r"offset was applied twice.*boa_offset='none'"):
        open_cube(_reflectance_cube(offset=-0.1))
    q = check_values(open_cube(_reflectance_cube()), name="ok")
    assert 0.03 < q["B04"]["q50"] < 0.15
    assert 0.5 < q["NDVI"]["q50"] < 0.9


def test_unscaled_digital_numbers_forced_as_reflectance_are_refused() -> None:
    dn = _reflectance_cube() * 10000
    with pytest.raises(ImageryValueError, match=r"median of .*scale=10000"):
        open_cube(dn, scale=1.0, boa_offset="none")
    cube = open_cube(dn, scale=10000, boa_offset="none")
    assert float(cube["B04"].median()) == pytest.approx(
        float(_reflectance_cube()["B04"].median()), abs=1e-4
    )


def test_float_index_within_range_is_left_alone() -> None:
    da = xr.DataArray(np.array([[[0.2, -0.1, 0.95]]], "float32"), dims=("time", "y", "x"))
    assert index_scaling(da, "NDVI", name="t")[:2] == (1.0, 0.0)


def test_sen2r_folder_with_a_20m_scl_opens_on_the_10m_grid(tmp_path: Path) -> None:
    root = sen2r_folder(tmp_path / "sen2r")
    cube = open_cube(root, band_order=("B02", "B03", "B04", "B08"))
    assert (cube.sizes["y"], cube.sizes["x"]) == (N10, N10)
    assert cube.rio.resolution() == (10.0, -10.0)
    scl = cube["SCL"].values
    # nearest neighbour invents no class: every 20 m pixel became 2 x 2 of the same class
    assert set(np.unique(scl)) <= {4, 5, 9}
    np.testing.assert_array_equal(scl[0, :2, -2:], 9)
    np.testing.assert_array_equal(scl[0], np.kron(field_scene(0)["SCL"], np.ones((2, 2), "uint8")))
    assert not cube["valid"].values[0, :2, -2:].any()  # the cloud
    np.testing.assert_allclose(cube["B04"].values[0], field_scene(0)["B04"], atol=1e-4)
    np.testing.assert_allclose(cube["NDVI"].values[0, 1:, 1:], _true_ndvi(0)[1:, 1:], atol=1e-4)
    assert np.isnan(cube["NDVI"].values[0, 0, 0])  # -32768


def test_undescribed_multiband_files_ask_for_the_band_order(tmp_path: Path) -> None:
    root = sen2r_folder(tmp_path / "sen2r", dates=("2024-05-01",))
    with pytest.raises(ImageryReadError, match=r"band_order=\("):
        open_cube(root)
    with pytest.raises(ImageryReadError, match="holds 4 bands but band_order names 3"):
        open_cube(root, band_order=("B02", "B03", "B04"))


def _dn_product(water_share: float, offset: int) -> xr.Dataset:
    """Two post-2022 dates of one product: vegetation, then a date with dark water."""
    rng = np.random.default_rng(5)
    red = rng.uniform(0.03, 0.06, (2, 20, 20))
    n_water = int(water_share * 20)
    red[1, :n_water] = rng.uniform(-0.01, 0.005, (n_water, 20))  # water, slightly negative
    dn = np.round(red * 10000 + offset).clip(1, None).astype("uint16")
    ds = xr.Dataset(
        {"B04": (("time", "y", "x"), dn), "B02": (("time", "y", "x"), dn)},
        coords={
            "time": pd.to_datetime(["2023-06-01", "2023-06-11"]),
            "y": 4_000_195.0 - 10 * np.arange(20),
            "x": 500_005.0 + 10 * np.arange(20),
        },
    )
    return ds.rio.write_crs("EPSG:32650")


def test_one_offset_decision_for_all_dates_whatever_a_date_shows() -> None:
    from agrilend.remote_sensing import harmonize  # noqa: PLC0415

    with_offset = harmonize(_dn_product(0.3, 1000))  # dark water must not flip the decision
    assert "-1000 on 2 of 2 dates" in with_offset.attrs["boa_offset"]
    np.testing.assert_allclose(float(with_offset["B04"][0].median()), 0.045, atol=0.01)
    harmonised = harmonize(_dn_product(0.0, 0))
    assert "already harmonised" in harmonised.attrs["boa_offset"]
    np.testing.assert_allclose(float(harmonised["B04"][1].median()), 0.045, atol=0.01)


@pytest.mark.realdata
@pytest.mark.parametrize(
    "name",
    [
        "belgium/belgium_l2a_scl_2023.nc",
        "belgium/belgium_monthly_composites_2020_2021.nc",
        "slovenia/slovenia_bands_2015.nc",
        "slovenia/slovenia_ndvi_2015_2017.nc",
        "spain/spain_field_l2a_2019.nc",
    ],
)
def test_every_real_cube_passes_the_value_check(shared_data: Path, name: str) -> None:
    cube = open_cube(shared_data / "imagery" / name)
    assert "NDVI" in cube.attrs["value_check"]
    q = check_values(cube, name=name)
    assert 0.2 < q["NDVI"]["q50"] < 0.8  # vegetated land in season
    if "B04" in q:
        assert q["B04"]["q01"] > 0.0
        assert q["B04"]["q50"] < 0.2


def test_a_county_cube_is_checked_from_a_few_blocks_whatever_its_size() -> None:
    """The sample is 16 windows on block edges: a lazy county cube decodes the same few blocks
    however large it is, and a cube of wrong values is still refused from them."""
    import dask.array as dsa  # noqa: PLC0415

    from agrilend.remote_sensing.sanity import SAMPLE_WINDOWS, _thin  # noqa: PLC0415

    shape, block = (24, 4096, 4096), (1, 256, 256)
    lazy = xr.DataArray(
        dsa.zeros(shape, chunks=block, dtype="float32"), dims=("time", "y", "x"),
        coords={"y": np.arange(shape[1]), "x": np.arange(shape[2])},
    )  # fmt: skip
    sample = _thin(lazy)
    assert sample.size <= 250_000
    rows, cols = sample["y"].to_numpy(), sample["x"].to_numpy()
    blocks = np.unique(rows // block[1]).size * np.unique(cols // block[2]).size
    assert blocks <= SAMPLE_WINDOWS**2, blocks  # of 256 blocks per date
    assert rows.max() > shape[1] * 3 // 4
    assert rows.min() < shape[1] // 4
    # windows over clear land of a large cube still catch reflectances 10000 times too large
    rng = np.random.default_rng(0)
    red = xr.DataArray(
        dsa.from_array(rng.uniform(300, 1500, (12, 2048, 2048)).astype("float32"),
                       chunks=(1, 256, 256)),
        dims=("time", "y", "x"),
    )  # fmt: skip
    cube = xr.Dataset({"B04": red, "B08": red * 3})
    with pytest.raises(ImageryValueError):
        check_values(cube, name="county")
