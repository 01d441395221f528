"""The seeded test builders: contract cubes and titles that belong together."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
import xarray as xr
from affine import Affine
from rasterio import features

from agrilend.remote_sensing.contract import validate_cube
from agrilend.synthetic import CROPS
from agrilend.testing import make_test_county, make_test_cube, make_test_titles

SIZE = (40, 40)


def _transform(cube: xr.Dataset) -> Affine:
    x, y = cube["x"].to_numpy(), cube["y"].to_numpy()
    dx, dy = x[1] - x[0], y[1] - y[0]
    return Affine(dx, 0, x[0] - dx / 2, 0, dy, y[0] - dy / 2)


@pytest.fixture(scope="module")
def cube() -> xr.Dataset:
    return make_test_cube(seed=2, size_px=SIZE)


@pytest.fixture(scope="module")
def clear_cube() -> xr.Dataset:
    return make_test_cube(seed=2, size_px=SIZE, clouds=False)


@pytest.fixture(scope="module")
def titles():
    return make_test_titles(seed=2, size_px=SIZE, with_truth=True)


def test_cube_follows_the_contract(cube):
    assert validate_cube(cube) is cube
    assert dict(cube.sizes) == {"time": 73, "y": 40, "x": 40}
    assert cube.rio.crs.to_epsg() == 32650
    for band in ("B02", "B03", "B04", "B08"):
        assert cube[band].dtype == np.float32
    assert cube["valid"].dtype == bool
    assert cube["SCL"].dtype == np.uint8
    assert cube.attrs["source"] == "agrilend.testing"


def test_cube_reflectance_is_physical_where_valid(cube):
    valid = cube["valid"].to_numpy()
    assert 0.3 < valid.mean() < 0.95
    for band in ("B02", "B04", "B08"):
        vals = cube[band].to_numpy()[valid]
        assert np.isfinite(vals).all()
        assert vals.min() > -0.05
        assert vals.max() < 0.8
    # no data is NaN and never valid
    nan = np.isnan(cube["B04"].to_numpy())
    assert not (nan & valid).any()


def test_valid_follows_scl(cube):
    scl = cube["SCL"].to_numpy()
    valid = cube["valid"].to_numpy()
    assert not valid[np.isin(scl, [0, 3, 8, 9, 10])].any()


def test_clear_sky_cube_is_almost_all_valid(clear_cube):
    assert clear_cube["valid"].to_numpy().mean() > 0.9
    assert np.isfinite(clear_cube["B08"].to_numpy()).all()


def test_same_seed_same_cube_other_seed_other_cube(cube):
    again = make_test_cube(seed=2, size_px=SIZE)
    xr.testing.assert_identical(cube, again)
    other = make_test_cube(seed=3, size_px=SIZE)
    assert not np.array_equal(other["B08"].to_numpy(), cube["B08"].to_numpy(), equal_nan=True)


def test_cube_options(cube):
    short = make_test_cube(seed=2, size_px=SIZE, n_dates=5, bands=("B04", "B08"))
    assert short.sizes["time"] == 5
    assert [v for v in short.data_vars if v.startswith("B")] == ["B04", "B08"]
    np.testing.assert_array_equal(short["B04"].to_numpy(), cube["B04"].to_numpy()[:5])


def test_titles_follow_the_schema(titles):
    base = make_test_titles(seed=2, size_px=SIZE)
    assert list(base.columns) == [
        "parcel_id", "owner_ref", "declared_area_ha", "declared_crop", "geometry"
    ]  # fmt: skip
    assert base["parcel_id"].is_unique
    assert base["parcel_id"].str.fullmatch(r"\d{19}").all()
    assert base["owner_ref"].str.fullmatch(r"H-[0-9a-f]{12}").all()
    assert set(base["declared_crop"]) <= set(CROPS)
    assert (base["declared_area_ha"] > 0).all()
    assert base.crs.to_epsg() == 32650
    assert all(g.is_valid for g in base.geometry)
    assert 10 <= len(base) <= 80
    assert {"true_crop", "true_cultivated_area_ha", "vigour_factor"} <= set(titles.columns)
    assert len(make_test_titles(seed=2, size_px=SIZE, n_parcels=4)) == 4


def test_titles_lie_inside_the_cube(titles, cube):
    x0, y0, x1, y1 = titles.total_bounds
    xs, ys = cube["x"].to_numpy(), cube["y"].to_numpy()
    assert xs.min() - 5 <= x0
    assert x1 <= xs.max() + 5
    assert ys.min() - 5 <= y0
    assert y1 <= ys.max() + 5
    geoms = list(titles.geometry)
    pairs = shapely.STRtree(geoms).query(geoms, predicate="overlaps")
    assert pairs.shape[1] == 0


def test_titles_and_cube_belong_together(titles, clear_cube):
    """A cropped parcel's pixels green up in season; a fallow one's stay low."""
    transform = _transform(clear_cube)
    ndvi = (clear_cube["B08"] - clear_cube["B04"]) / (clear_cube["B08"] + clear_cube["B04"])
    shape = (clear_cube.sizes["y"], clear_cube.sizes["x"])
    peaks = {}
    for crop in ("winter_wheat_maize", "fallow"):
        ok = (titles["vigour_factor"] > 0.85) & ~titles["over_declared"]
        rows = titles[(titles["true_crop"] == crop) & ok]
        if rows.empty:
            continue
        largest = rows.geometry.iloc[int(np.argmax(rows.geometry.area.to_numpy()))]
        mask = features.geometry_mask(
            [largest.buffer(-3)], out_shape=shape, transform=transform, invert=True
        )
        if mask.sum() < 3:
            continue
        series = ndvi.to_numpy()[:, mask].mean(axis=1)
        peaks[crop] = float(np.nanmax(series))
    assert "winter_wheat_maize" in peaks
    assert peaks["winter_wheat_maize"] > 0.7
    if "fallow" in peaks:
        assert peaks["fallow"] < peaks["winter_wheat_maize"]


def test_county_builder_is_cached_and_consistent():
    a = make_test_county(seed=2, size_px=SIZE)
    assert make_test_county(seed=2, size_px=SIZE) is a
    assert len(a.titles) == len(a.truth)
    assert list(a.truth["parcel_id"]) == list(a.titles["DKBM"])
