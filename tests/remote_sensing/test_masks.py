"""Cloud masks: SCL classes, CLM, CLP thresholds, dilation; agreement on the real cubes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from affine import Affine

from agrilend.errors import ImageryReadError
from agrilend.remote_sensing.contract import make_cube
from agrilend.remote_sensing.masks import SCL_INVALID, dilate, mask_clouds, scl_valid
from agrilend.remote_sensing.sources.local import open_cube


def _cube(**quality: np.ndarray) -> xr.Dataset:
    shape = next(iter(quality.values())).shape if quality else (2, 5, 5)
    b = np.full(shape, 0.2, dtype="float32")
    b[0, 0, 0] = np.nan  # one pixel without data
    return make_cube(
        {"B04": b, "B08": b * 2},
        times=["2024-06-01", "2024-06-06"][: shape[0]],
        transform=Affine(10, 0, 500000, 0, -10, 4000000),
        crs="EPSG:32650",
        quality=quality,
    )


def test_scl_valid_rejects_exactly_the_documented_classes() -> None:
    classes = xr.DataArray(np.arange(12))
    valid = scl_valid(classes).values
    assert [c for c in range(12) if not valid[c]] == list(SCL_INVALID)
    assert not scl_valid(xr.DataArray([np.nan, 4.0])).values[0]
    custom = scl_valid(classes, invalid_classes=[0, 9]).values
    assert [c for c in range(12) if not custom[c]] == [0, 9]


def test_mask_from_scl_sets_valid_and_attrs() -> None:
    scl = np.full((2, 5, 5), 4, dtype="uint8")
    scl[1, 2, 2] = 9
    scl[1, 0, 4] = 3
    scl[0, 4, 4] = 11
    cube = mask_clouds(_cube(SCL=scl))
    valid = cube["valid"].values
    assert cube["valid"].dtype == bool
    assert not valid[1, 2, 2]
    assert not valid[1, 0, 4]
    assert not valid[0, 4, 4]
    assert not valid[0, 0, 0]  # no data
    assert valid.sum() == valid.size - 4
    assert cube.attrs["mask_method"] == "scl"


def test_mask_from_clm_and_clp() -> None:
    clm = np.zeros((2, 5, 5), dtype="uint8")
    clm[1, 1:3, 1:3] = 1
    clp = np.zeros((2, 5, 5), dtype="float32")
    clp[0, 3, 3] = 0.45
    clp[0, 3, 4] = 0.35
    cube = _cube(CLM=clm, CLP=clp)
    by_clm = mask_clouds(cube)  # auto prefers CLM over CLP
    assert by_clm.attrs["mask_method"] == "clm"
    assert (~by_clm["valid"].values[1]).sum() == 4
    by_clp = mask_clouds(cube, method="clp", threshold=0.4)
    assert not by_clp["valid"].values[0, 3, 3]
    assert by_clp["valid"].values[0, 3, 4]
    assert by_clp.attrs["cloud_threshold"] == 0.4
    strict = mask_clouds(cube, method="clp", threshold=0.3)
    assert not strict["valid"].values[0, 3, 4]


def test_dilation_grows_clouds_but_not_no_data() -> None:
    scl = np.full((2, 5, 5), 4, dtype="uint8")
    scl[1, 2, 2] = 8
    plain = mask_clouds(_cube(SCL=scl))
    grown = mask_clouds(_cube(SCL=scl), dilation=1)
    assert (~plain["valid"].values[1]).sum() == 1
    assert (~grown["valid"].values[1]).sum() == 9
    # the no-data pixel on date 0 is not dilated
    assert (~grown["valid"].values[0]).sum() == 1
    assert grown.attrs["mask_dilation"] == 1


def test_dilate_is_lazy_on_dask() -> None:
    m = np.zeros((2, 6, 6), dtype=bool)
    m[0, 3, 3] = True
    da = xr.DataArray(m, dims=("time", "y", "x")).chunk({"time": 1})
    out = dilate(da, 2)
    assert out.chunks is not None
    assert out.compute().values[0].sum() == 25


def test_no_layer_means_data_presence_only() -> None:
    cube = mask_clouds(_cube())
    assert cube.attrs["mask_method"] == "none"
    assert (~cube["valid"].values).sum() == 1


def test_asking_for_a_missing_layer_says_what_to_do() -> None:
    with pytest.raises(ImageryReadError, match="needs a SCL variable"):
        mask_clouds(_cube(), method="scl")


# --- real cubes: agreement with the shipped masks, cloudy dates caught ----------------------------


def _agreement(flags: np.ndarray, reference: np.ndarray) -> tuple[float, float, float]:
    agree = float((flags == reference).mean())
    recall = float((flags & reference).sum() / max(reference.sum(), 1))
    precision = float((flags & reference).sum() / max(flags.sum(), 1))
    return agree, recall, precision


@pytest.mark.realdata
def test_slovenia_clp_mask_agrees_with_shipped_clm(shared_data: Path) -> None:
    """s2cloudless probability > 0.4, dilated 2 px, against the shipped cloud mask (CLM)."""
    path = shared_data / "imagery/slovenia/slovenia_ndvi_2015_2017.nc"
    cube = open_cube(path, mask="clp", cloud_threshold=0.4, dilation=2)
    flags = ~cube["valid"].values
    clm = cube["CLM"].values == 1
    agree, recall, precision = _agreement(flags, clm)
    cloudy_dates = clm.mean(axis=(1, 2)) > 0.5
    caught = (flags.mean(axis=(1, 2)) > 0.5) & cloudy_dates
    print(
        f"\nSlovenia CLP>0.4 +2px vs CLM: agreement {agree:.3f}, recall {recall:.3f}, "
        f"precision {precision:.3f}; cloudy dates caught {caught.sum()}/{cloudy_dates.sum()}"
    )
    assert agree > 0.95
    assert recall > 0.95
    assert precision > 0.9
    assert caught.sum() >= 0.9 * cloudy_dates.sum()


@pytest.mark.realdata
def test_belgium_scl_mask_catches_the_bright_cloudy_dates(shared_data: Path) -> None:
    """Dates whose median blue reflectance is cloud-bright (> 0.12) are masked; clear ones kept."""
    cube = open_cube(shared_data / "imagery/belgium/belgium_l2a_scl_2023.nc")
    invalid = 1.0 - cube["valid"].mean(("y", "x")).values
    blue = cube["B02"].median(("y", "x")).values
    cloudy = blue > 0.12
    clear = blue < 0.07
    print(
        f"\nBelgium SCL: cloudy dates masked {(invalid[cloudy] > 0.5).sum()}/{cloudy.sum()}, "
        f"clear dates kept {(invalid[clear] < 0.6).sum()}/{clear.sum()}, "
        f"valid share {1 - invalid.mean():.3f}"
    )
    assert cloudy.sum() >= 10
    assert (invalid[cloudy] > 0.5).all()
    assert (invalid[clear] < 0.6).all()
    # pixel level: cloud-bright pixels are masked (a handful of edge pixels may stay)
    bright = cube["B02"].values > 0.2
    kept = (bright & cube["valid"].values).sum() / bright.sum()
    print(f"Belgium: cloud-bright pixels (B02 > 0.2) left valid: {kept:.4f}")
    assert kept < 0.005


@pytest.mark.realdata
def test_spain_scl_mask_and_shipped_clm(shared_data: Path) -> None:
    """The Spanish cube comes pre-masked (cloudy pixels NaN); SCL and CLM differ on one date."""
    path = shared_data / "imagery/spain/spain_field_l2a_2019.nc"
    cube = open_cube(path)
    data = np.isfinite(cube["B04"].values)
    flags = ~cube["valid"].values & data
    clm = (cube["CLM"].values == 1) & data
    agree = float((flags == clm)[data].mean())
    disagree_dates = np.flatnonzero((flags != clm).any(axis=(1, 2)))
    print(
        f"\nSpain SCL vs CLM on pixels with data: agreement {agree:.4f}; dates that differ "
        f"{[str(cube.time.values[i])[:10] for i in disagree_dates]}"
    )
    assert agree > 0.95
    assert len(disagree_dates) <= 2
    # dates with mostly no data inside the field are not valid
    field = data.any(axis=0)
    share = cube["valid"].values[:, field].mean(axis=1)
    assert (share[data[:, field].mean(axis=1) < 0.2] < 0.2).all()
