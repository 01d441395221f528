"""Spectral indices: formulas, safety at zero denominators, ranges (Hypothesis), cube wrappers."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agrilend.errors import MissingBandError
from agrilend.remote_sensing import indices
from agrilend.remote_sensing.contract import make_cube

BANDS = ("B02", "B03", "B04", "B05", "B08")
# reflectance as it arrives: mostly 0..1, with the small negatives of baseline 04.00 products,
# saturated values above 1, exact zeros and NaN
reflectance = st.one_of(
    st.floats(-0.125, 1.625, allow_nan=False, width=32), st.just(0.0), st.just(float("nan"))
)


@given(
    name=st.sampled_from(sorted(indices.INDICES)),
    data=st.lists(reflectance, min_size=len(BANDS), max_size=len(BANDS)),
)
def test_every_index_is_in_range_or_nan(name: str, data: list[float]) -> None:
    bands = {b: np.array(v) for b, v in zip(BANDS, data, strict=True)}
    out = indices.index_from_arrays(name, bands)
    lo, hi = indices.INDICES[name].valid_range
    assert np.isnan(out) or lo <= out <= hi
    if any(np.isnan(bands[b]) for b in indices.INDICES[name].bands):
        assert np.isnan(out)


@settings(max_examples=50)
@given(arrays(np.float64, (3, 4), elements=st.floats(0.0, 1.0)))
def test_ndvi_matches_the_textbook_formula(nir: np.ndarray) -> None:
    red = nir[::-1, ::-1] * 0.5
    out = indices.index_from_arrays("NDVI", {"B08": nir, "B04": red})
    den = nir + red
    expected = np.where(den > 0, (nir - red) / np.where(den > 0, den, 1), np.nan)
    np.testing.assert_allclose(out, expected, equal_nan=True)


def test_zero_denominators_give_nan_without_warnings() -> None:
    zero = np.zeros(3)
    for name in ("NDVI", "NDRE", "NDWI"):
        out = indices.index_from_arrays(name, dict.fromkeys(BANDS, zero))
        assert np.isnan(out).all()
    # EVI's denominator B08 + 6 B04 - 7.5 B02 + 1 is zero here
    evi = indices.index_from_arrays("EVI", {"B08": 0.0, "B04": 0.0, "B02": np.array(1 / 7.5)})
    assert np.isnan(evi)
    savi = indices.index_from_arrays("SAVI", {"B08": np.array(-0.25), "B04": np.array(-0.25)})
    assert np.isnan(savi)


def test_known_values() -> None:
    b = {"B02": 0.05, "B03": 0.08, "B04": 0.04, "B05": 0.12, "B08": 0.4}
    arr = {k: np.array(v) for k, v in b.items()}
    assert indices.index_from_arrays("NDVI", arr) == pytest.approx(0.36 / 0.44)
    assert indices.index_from_arrays("NDRE", arr) == pytest.approx(0.28 / 0.52)
    assert indices.index_from_arrays("NDWI", arr) == pytest.approx(-0.32 / 0.48)
    assert indices.index_from_arrays("SAVI", arr) == pytest.approx(1.5 * 0.36 / 0.94)
    assert indices.index_from_arrays("EVI", arr) == pytest.approx(
        2.5 * 0.36 / (0.4 + 0.24 - 0.375 + 1)
    )


def _cube(valid: np.ndarray | None = None, with_b05: bool = True) -> xr.Dataset:
    rng = np.random.default_rng(3)
    shape = (4, 5, 6)
    bands = {b: rng.uniform(0.01, 0.5, shape).astype("float32") for b in BANDS}
    if not with_b05:
        del bands["B05"]
    return make_cube(
        bands,
        times=["2024-05-01", "2024-05-06", "2024-05-11", "2024-05-16"],
        transform=Affine(10, 0, 500000, 0, -10, 4000000),
        crs="EPSG:32650",
        valid=valid,
    )


def test_cube_index_is_nan_where_not_valid() -> None:
    valid = np.ones((4, 5, 6), bool)
    valid[1, 2, 3] = False
    cube = _cube(valid)
    for fn in (indices.ndvi, indices.evi, indices.ndre, indices.ndwi, indices.savi):
        out = fn(cube)
        assert out.dims == ("time", "y", "x")
        assert out.dtype == np.float32
        assert np.isnan(out.values[1, 2, 3])
        assert np.isfinite(out.values[valid]).all()
    raw = indices.compute_index(cube, "ndvi", use_valid=False)
    assert np.isfinite(raw.values[1, 2, 3])


def test_missing_band_names_it_and_says_what_to_do() -> None:
    with pytest.raises(MissingBandError, match="B05") as info:
        indices.ndre(_cube(with_b05=False))
    assert info.value.band == "B05"
    with pytest.raises(ValueError, match="unknown index"):
        indices.compute_index(_cube(), "NDXX")


def test_precomputed_index_is_used_when_bands_are_absent() -> None:
    cube = _cube()
    shipped = indices.ndvi(cube).rename("NDVI")
    only_index = cube.drop_vars(["B04", "B08"]).assign(NDVI=shipped)
    xr.testing.assert_allclose(indices.ndvi(only_index), indices.ndvi(cube))


def test_dask_cube_stays_lazy() -> None:
    cube = _cube().chunk({"time": 2})
    out = indices.ndvi(cube)
    assert out.chunks is not None
    np.testing.assert_allclose(out.compute().values, indices.ndvi(cube.compute()).values)
