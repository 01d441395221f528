"""Titles that miss the imagery fail early, naming both extents, both CRSs and the cause."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401  (the .rio accessor)
import shapely
import xarray as xr

from agrilend.errors import ExtentMismatchError
from agrilend.parcels.extent import require_overlap
from agrilend.pipeline import assess


def _cube() -> xr.Dataset:
    """A 20 x 20 px, 10 m cube near Jinan (EPSG:32650), vegetated, 3 dates."""
    rng = np.random.default_rng(0)
    xs = 500_005.0 + 10 * np.arange(20)
    ys = 4_050_195.0 - 10 * np.arange(20)
    red = rng.uniform(0.03, 0.08, (3, 20, 20)).astype("float32")
    cube = xr.Dataset(
        {
            "B04": (("time", "y", "x"), red),
            "B08": (("time", "y", "x"), red + 0.3),
            "valid": (("time", "y", "x"), np.ones((3, 20, 20), bool)),
        },
        coords={"time": pd.date_range("2024-05-01", periods=3, freq="10D"), "y": ys, "x": xs},
    )
    return cube.rio.write_crs("EPSG:32650")


def _titles(crs: str = "EPSG:32650") -> gpd.GeoDataFrame:
    x = 500_020 + 60 * np.arange(3)
    boxes = list(shapely.box(x, 4_050_020, x + 50, 4_050_080))
    return gpd.GeoDataFrame(
        {"parcel_id": ["a", "b", "c"], "owner_ref": ["o1", "o1", "o2"]}, geometry=boxes, crs=crs
    )


def test_titles_on_the_imagery_pass() -> None:
    assert require_overlap(_titles(), _cube()) == 3
    assert require_overlap(_titles().to_crs("EPSG:4326"), _cube()) == 3


def test_a_wrong_crs_label_is_named() -> None:
    wrong = _titles().set_crs("EPSG:32651", allow_override=True)  # the next UTM zone
    with pytest.raises(ExtentMismatchError) as exc:
        require_overlap(wrong, _cube())
    msg = str(exc.value)
    assert "EPSG:32651" in msg
    assert "EPSG:32650" in msg
    assert "(500020, 4.05002e+06" in msg  # the titles' extent in their own CRS
    assert "(500000, 4.05e+06, 500200, 4.0502e+06)" in msg  # the imagery's
    assert "likely wrong" in msg


def test_swapped_axes_are_named() -> None:
    ll = _titles().to_crs("EPSG:4326")
    swapped = ll.set_geometry(shapely.transform(ll.geometry.to_numpy(), lambda xy: xy[:, ::-1]))
    with pytest.raises(ExtentMismatchError, match="longitude and latitude swapped"):
        require_overlap(swapped, _cube())


def test_another_place_is_named_with_its_distance() -> None:
    far = _titles().set_geometry(_titles().geometry.translate(xoff=300_000))
    with pytest.raises(ExtentMismatchError, match=r"different places, about (29\d|30\d) km apart"):
        require_overlap(far, _cube())


def test_assess_stops_before_the_crop_model() -> None:
    wrong = _titles().set_crs("EPSG:32651", allow_override=True)
    with pytest.raises(ExtentMismatchError, match="no title overlaps the imagery"):
        assess(_cube(), wrong)


def test_imagery_inside_the_titles_extent_but_under_none_is_named() -> None:
    x = np.array([499_000.0, 501_000.0])
    around = gpd.GeoDataFrame(
        {"parcel_id": ["w", "e"]},
        geometry=list(shapely.box(x, 4_049_000, x + 50, 4_051_000)),
        crs="EPSG:32650",
    )
    with pytest.raises(ExtentMismatchError, match="spread around the imagery but none falls on it"):
        require_overlap(around, _cube())
