"""Harmonising: names, dims, CRS, digital numbers to reflectance, the baseline 04.00 offset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pyproj import CRS

from agrilend.errors import ImageryReadError, MissingCRSError
from agrilend.remote_sensing.harmonize import (
    BASELINE_04_DATE,
    canonical_name,
    harmonize,
)

UTM31 = CRS.from_epsg(32631)


def _raw(
    values: dict[str, np.ndarray],
    times: list[str] | pd.DatetimeIndex,
    *,
    time_name: str = "t",
    crs_var: str | None = "crs",
    attrs: dict[str, object] | None = None,
) -> xr.Dataset:
    _, ny, nx = next(iter(values.values())).shape
    ds = xr.Dataset(
        {k: ((time_name, "y", "x"), v) for k, v in values.items()},
        coords={
            time_name: pd.to_datetime(list(times)),
            "y": 5685000.0 - 10 * np.arange(ny) - 5,
            "x": 587000.0 + 10 * np.arange(nx) + 5,
        },
        attrs=attrs or {},
    )
    if crs_var:
        ds[crs_var] = xr.DataArray(0, attrs={"crs_wkt": UTM31.to_wkt()})
        for k in values:
            ds[k].attrs["grid_mapping"] = crs_var
    return ds


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("S2-L2A-B04", ("B04", "L2A")),
        ("S2-L1C-B8A", ("B8A", "L1C")),
        ("B4", ("B04", None)),
        ("b12", ("B12", None)),
        ("S2-L2A-SCL", ("SCL", "L2A")),
        ("IS_DATA", ("dataMask", None)),
        ("ndvi", ("NDVI", None)),
        ("S1-SIGMA0-VV", (None, None)),
        ("elevation", (None, None)),
    ],
)
def test_canonical_names(raw: str, expected: tuple[str | None, str | None]) -> None:
    assert canonical_name(raw) == expected


def test_names_dims_and_crs_from_a_crs_variable() -> None:
    dn = np.full((2, 3, 4), 1200, dtype="uint16")
    raw = _raw({"S2-L2A-B04": dn, "S2-L2A-B08": dn * 3}, ["2020-05-06", "2020-05-01"])
    raw = raw.transpose("x", "t", "y")  # dims in any order
    cube = harmonize(raw)
    assert cube["B04"].dims == ("time", "y", "x")
    assert cube["B04"].dtype == np.float32
    assert cube.indexes["time"].is_monotonic_increasing
    assert cube.rio.crs == UTM31
    assert "crs" not in cube.variables
    assert cube.attrs["processing_level"] == "L2A"
    np.testing.assert_allclose(cube["B04"].values, 0.12)
    np.testing.assert_allclose(cube["B08"].values, 0.36)


def test_crs_from_spatial_ref_and_given_crs() -> None:
    b = np.full((1, 2, 2), 0.2, dtype="float32")
    cube = harmonize(_raw({"B04": b}, ["2019-06-01"], time_name="time", crs_var="spatial_ref"))
    assert cube.rio.crs == UTM31
    bare = _raw({"B04": b}, ["2019-06-01"], crs_var=None)
    with pytest.raises(MissingCRSError, match="crs="):
        harmonize(bare, name="bare.nc")
    assert harmonize(bare, crs="EPSG:32631").rio.crs == UTM31


def test_transform_is_recomputed_from_coordinates() -> None:
    b = np.full((1, 3, 4), 0.2, dtype="float32")
    cube = harmonize(_raw({"B04": b}, ["2019-06-01"]))
    gt = [float(v) for v in cube["spatial_ref"].attrs["GeoTransform"].split()]
    assert gt == [587000.0, 10.0, 0.0, 5685000.0, 0.0, -10.0]


def test_nodata_becomes_nan() -> None:
    dn = np.array([[[0, 65535, 1500, 2000]]], dtype="uint16")
    cube = harmonize(_raw({"B04": dn}, ["2020-01-01"]))
    v = cube["B04"].values.ravel()
    assert np.isnan(v[:2]).all()
    np.testing.assert_allclose(v[2:], [0.15, 0.2])


def test_float_digital_numbers_are_scaled_and_reflectance_kept() -> None:
    as_dn = np.array([[[500.0, np.nan, 3000.0]]], dtype="float32")
    cube = harmonize(_raw({"B04": as_dn}, ["2019-06-01"]))
    np.testing.assert_allclose(cube["B04"].values.ravel(), [0.05, np.nan, 0.3])
    refl = np.array([[[0.05, np.nan, 0.3]]], dtype="float32")
    cube = harmonize(_raw({"B04": refl}, ["2019-06-01"]))
    np.testing.assert_allclose(cube["B04"].values.ravel(), [0.05, np.nan, 0.3])
    assert cube.attrs["reflectance_scale"] == "as delivered"


def test_series_crossing_the_baseline_change_does_not_jump() -> None:
    """The same surface (reflectance 0.3 red, 0.5 NIR) before and after 2022-01-25."""
    times = pd.date_range("2021-12-01", "2022-03-01", freq="5D")
    after = times >= BASELINE_04_DATE
    assert after.any()
    assert (~after).any()
    shape = (len(times), 2, 2)
    red = np.where(after[:, None, None], 4000, 3000) * np.ones(shape)
    nir = np.where(after[:, None, None], 6000, 5000) * np.ones(shape)
    raw = _raw(
        {"S2-L2A-B04": red.astype("uint16"), "S2-L2A-B08": nir.astype("uint16")}, list(times)
    )
    cube = harmonize(raw)
    np.testing.assert_allclose(cube["B04"].values, 0.3, rtol=1e-6)
    np.testing.assert_allclose(cube["B08"].values, 0.5, rtol=1e-6)
    assert "-1000" in cube.attrs["boa_offset"]
    # without the offset the series would jump by 0.1 at the change
    raw_no = harmonize(raw, boa_offset="none")["B04"].mean(("y", "x")).values
    assert np.max(np.abs(np.diff(raw_no))) == pytest.approx(0.1, rel=1e-5)


def test_offset_from_attributes_applies_to_every_date() -> None:
    dn = np.full((2, 1, 2), 2500, dtype="uint16")
    times = ["2019-05-01", "2024-05-01"]
    by_attr = harmonize(_raw({"B04": dn}, times, attrs={"boa_add_offset": -1000}))
    np.testing.assert_allclose(by_attr["B04"].values, 0.15)
    by_baseline = harmonize(
        _raw({"B04": dn}, times, attrs={"processing_baseline": "05.10", "processing_level": "L2A"})
    )
    np.testing.assert_allclose(by_baseline["B04"].values, 0.15)
    old = harmonize(_raw({"B04": dn}, times, attrs={"processing_baseline": "02.14"}))
    np.testing.assert_allclose(old["B04"].values, 0.25)
    forced = harmonize(_raw({"B04": dn}, times), boa_offset=-500.0)
    np.testing.assert_allclose(forced["B04"].values, 0.2)


def test_already_harmonised_post_2022_numbers_keep_their_scale() -> None:
    rng = np.random.default_rng(0)
    dn = rng.integers(200, 900, (3, 5, 5)).astype("uint16")  # vegetation red, old scale
    cube = harmonize(_raw({"S2-L2A-B04": dn}, ["2023-06-01", "2023-06-06", "2023-06-11"]))
    np.testing.assert_allclose(cube["B04"].values, dn / 10000, rtol=1e-6)
    assert "already harmonised" in cube.attrs["boa_offset"]


def test_l1c_numbers_follow_the_same_baseline_rule() -> None:
    """Baseline 04.00 shifted L1C (RADIO_ADD_OFFSET) as well as L2A (BOA_ADD_OFFSET)."""
    dn = np.array([[[1500, 2500]], [[2500, 3500]]], dtype="uint16")
    cube = harmonize(_raw({"S2-L1C-B04": dn}, ["2021-06-01", "2023-06-01"]))
    assert cube.attrs["processing_level"] == "L1C"
    np.testing.assert_allclose(cube["B04"].values, [[[0.15, 0.25]], [[0.15, 0.25]]])


def test_quality_layers_are_recoded() -> None:
    b = np.full((1, 2, 2), 0.2, dtype="float32")
    scl = np.array([[[4.0, np.nan], [9.0, 0.0]]], dtype="float32")
    clm = np.array([[[1.0, np.nan], [0.0, 1.0]]], dtype="float32")
    clp = np.array([[[0, 255], [102, 51]]], dtype="uint8")
    cube = harmonize(_raw({"B04": b, "SCL": scl, "CLM": clm, "CLP": clp}, ["2019-06-01"]))
    assert cube["SCL"].dtype == np.uint8
    assert cube["SCL"].values.ravel().tolist() == [4, 0, 9, 0]
    assert cube["CLM"].values.ravel().tolist() == [1, 0, 0, 1]
    np.testing.assert_allclose(cube["CLP"].values.ravel(), [0, 1, 0.4, 0.2])


def test_index_only_and_auxiliary_variables_are_kept() -> None:
    ndvi = np.full((1, 2, 2), 0.5, dtype="float32")
    aux = np.full((1, 2, 2), 7, dtype="uint16")
    cube = harmonize(_raw({"NDVI": ndvi, "S1-SIGMA0-VV": aux}, ["2019-06-01"]))
    assert cube["NDVI"].dtype == np.float32
    assert cube["S1-SIGMA0-VV"].dtype == np.uint16


def test_unrecognisable_inputs_are_refused_with_the_file_name() -> None:
    aux = np.full((1, 2, 2), 7, dtype="uint16")
    with pytest.raises(ImageryReadError, match=r"x\.nc holds no Sentinel-2 band"):
        harmonize(_raw({"VV": aux}, ["2019-06-01"]), name="x.nc")
    bad = xr.Dataset({"B04": (("t", "row", "col"), aux)})
    with pytest.raises(ImageryReadError, match="spatial dims"):
        harmonize(bad, name="x.nc")


@pytest.mark.realdata
def test_belgium_l2a_2023_is_recognised_as_already_harmonised(shared_data) -> None:
    raw = xr.open_dataset(
        shared_data / "imagery/belgium/belgium_l2a_scl_2023.nc", decode_coords="all"
    )
    with raw:
        cube = harmonize(raw)
        scl = cube["SCL"].values
        red = cube["B04"].values[scl == 4]  # vegetation
        nir = cube["B08"].values[scl == 4]
    assert "already harmonised" in cube.attrs["boa_offset"]
    # vegetation: dark red, bright NIR, all positive
    assert 0.0 < np.median(red) < 0.1
    assert np.median(nir) > 0.2
    assert (red > 0).all()


def test_undecoded_cf_scale_and_offset_are_applied() -> None:
    dn = np.array([[[0, 1500, 2500]]], dtype="uint16")
    raw = _raw({"B04": dn}, ["2023-06-01"])
    raw["B04"].attrs.update({"scale_factor": 0.0001, "add_offset": -0.1, "_FillValue": 0})
    cube = harmonize(raw)
    np.testing.assert_allclose(cube["B04"].values.ravel(), [np.nan, 0.05, 0.15], rtol=1e-5)
    assert cube.attrs["reflectance_scale"] == "CF scale_factor/add_offset"


def test_digital_numbers_become_float32_reflectance_exactly_eager_or_lazy() -> None:
    """The compiled pass is the float32 formula (DN + offset) / 10000 with every no-data value
    (signed minimum, 0, 65535, the file's fill) NaN, per date's offset, on numpy and on Dask."""
    low = np.iinfo("int32").min
    dn = np.array([[[low, 0, 1200, 4321, -9999]], [[2500, 65535, 1200, 4321, 30001]]], "int32")
    raw = _raw({"B04": dn}, ["2021-06-01", "2022-06-01"])
    raw["B04"].attrs["_FillValue"] = -9999
    offset = np.array([0, -1000], "float32")[:, None, None]
    want = (dn.astype("float32") + offset) / np.float32(10000)
    want[(dn == low) | (dn == 0) | (dn == 65535) | (dn == -9999)] = np.nan
    eager = harmonize(raw)["B04"].values
    lazy = harmonize(raw.chunk({"t": 1}))["B04"].compute().values
    assert eager.dtype == lazy.dtype == np.float32
    np.testing.assert_array_equal(eager, want)
    np.testing.assert_array_equal(lazy, want)
