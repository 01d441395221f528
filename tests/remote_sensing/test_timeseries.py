"""Series cleaning: regular grids, despiking, gap filling, smoothing without extrapolation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from agrilend.remote_sensing import timeseries as ts


def _curve(n: int = 73, *, peak: float = 36.0, width: float = 8.0) -> np.ndarray:
    i = np.arange(n, dtype=float)
    return 0.2 + 0.6 * np.exp(-(((i - peak) / width) ** 2))


def test_regularize_onto_5_day_steps() -> None:
    times = pd.to_datetime(["2024-01-03", "2024-01-01", "2024-01-12", "2024-01-13", "2024-01-29"])
    y = np.array([[0.3, 0.1, 0.5, 0.7, 0.9], [np.nan, 0.1, 0.5, np.nan, 0.9]])
    out, grid = ts.regularize(y, times, step="5D")
    assert (np.diff(grid.values) == np.timedelta64(5, "D")).all()
    assert grid[0] == pd.Timestamp("2024-01-01")
    # 01-01 and 01-03 share the first step; 01-12 and 01-13 the 01-11 step; 01-29 the 01-31 one
    np.testing.assert_allclose(out[0], [0.2, np.nan, 0.6, np.nan, np.nan, np.nan, 0.9])
    np.testing.assert_allclose(out[1], [0.1, np.nan, 0.5, np.nan, np.nan, np.nan, 0.9])
    mx, _ = ts.regularize(y, times, step="5D", how="max")
    assert mx[0, 2] == pytest.approx(0.7)
    md, _ = ts.regularize(y, times, step="5D", how="median")
    assert md[0, 2] == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("step", "first_days"), [("dekad", [1, 11, 21, 1]), ("month", [1, 1, 1, 1])]
)
def test_regularize_to_dekads_and_months(step: str, first_days: list[int]) -> None:
    times = pd.date_range("2024-03-04", "2024-07-28", freq="3D")
    y = np.linspace(0, 1, len(times))
    out, grid = ts.regularize(y, times, step=step)
    assert list(grid.day[:4]) == first_days
    assert np.isfinite(out).all()
    # each period holds the mean of the observations inside it
    inside = (times >= grid[1]) & (times < grid[2])
    assert out[1] == pytest.approx(y[inside].mean())


def test_regularize_checks_lengths_and_steps() -> None:
    with pytest.raises(ValueError, match="3 values"):
        ts.regularize(np.zeros(3), pd.date_range("2024-01-01", periods=4))
    with pytest.raises(ValueError, match="not understood"):
        ts.regularize(np.zeros(2), pd.date_range("2024-01-01", periods=2), step="fortnight")


def test_despike_removes_a_one_date_dip_that_recovers() -> None:
    y = _curve()
    noisy = y.copy()
    noisy[[20, 50]] = 0.05  # residual cloud on two separate dates
    out = ts.despike(noisy)
    assert np.isnan(out[[20, 50]]).all()
    np.testing.assert_array_equal(np.delete(out, [20, 50]), np.delete(noisy, [20, 50]))


def test_despike_keeps_real_drops_and_series_ends() -> None:
    harvest = np.r_[np.full(10, 0.8), np.full(10, 0.2)]  # a drop that does not recover
    np.testing.assert_array_equal(ts.despike(harvest), harvest)
    end_dip = np.r_[np.full(10, 0.8), 0.1]
    np.testing.assert_array_equal(ts.despike(end_dip), end_dip)


def test_despike_sees_across_gaps() -> None:
    y = np.array([0.6, np.nan, 0.1, np.nan, np.nan, 0.62, 0.6])
    assert np.isnan(ts.despike(y)[2])


def test_fill_gaps_is_linear_inside_only() -> None:
    y = np.array([[np.nan, 1.0, np.nan, np.nan, 4.0, np.nan], [np.nan] * 6])
    out = ts.fill_gaps(y)
    np.testing.assert_allclose(out[0], [np.nan, 1, 2, 3, 4, np.nan])
    assert np.isnan(out[1]).all()
    days = np.array([0, 1, 2, 4, 5, 6], dtype=float)
    out = ts.fill_gaps(np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan]), x=days)
    np.testing.assert_allclose(out[2:4], [1.75, 3.25])


@pytest.mark.parametrize("smoother", [ts.whittaker, ts.savgol])
def test_smoothers_never_extrapolate(smoother) -> None:
    y = _curve(40, peak=20)
    y[:6] = np.nan
    y[33:] = np.nan
    y[[12, 15, 16]] = np.nan
    out = smoother(y)
    assert np.isnan(out[:6]).all()
    assert np.isnan(out[33:]).all()
    assert np.isfinite(out[6:33]).all()


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.float64, (3, 30), elements=st.floats(-1, 1) | st.just(np.nan)),
    st.sampled_from([ts.whittaker, ts.savgol]),
)
def test_smoothers_keep_the_valid_span(y: np.ndarray, smoother) -> None:
    out = smoother(y)
    span = ts.valid_span(y)
    assert out.shape == y.shape
    assert np.isnan(out[~span]).all()
    enough = np.isfinite(y).sum(axis=-1) >= 2
    assert np.isfinite(out[span & enough[:, None]]).all()


def test_whittaker_equals_a_dense_solve() -> None:
    rng = np.random.default_rng(1)
    y = _curve() + rng.normal(0, 0.03, 73)
    y[rng.random(73) < 0.3] = np.nan
    w = np.isfinite(y).astype(float)
    d = np.diff(np.eye(73), 2, axis=0)
    lam = 7.0
    expected = np.linalg.solve(np.diag(w) + lam * d.T @ d, np.nan_to_num(y) * w)
    out = ts.whittaker(y, lam=lam)
    span = ts.valid_span(y)
    np.testing.assert_allclose(out[span], expected[span], atol=1e-10)


def test_whittaker_preserves_straight_lines_and_uses_weights() -> None:
    line = np.linspace(0.1, 0.9, 20)
    np.testing.assert_allclose(ts.whittaker(line, lam=1e4), line, atol=1e-8)
    y = np.r_[np.zeros(10), 1.0, np.zeros(10)]
    w = np.ones(21)
    w[10] = 0.0
    np.testing.assert_allclose(ts.whittaker(y, weights=w), 0.0, atol=1e-12)


def test_whittaker_reduces_noise_on_many_rows() -> None:
    rng = np.random.default_rng(2)
    truth = np.tile(_curve(), (200, 1))
    noisy = truth + rng.normal(0, 0.05, truth.shape)
    noisy[rng.random(truth.shape) < 0.3] = np.nan
    out = ts.whittaker(noisy)
    span = ts.valid_span(noisy)
    err_in = np.nanmean((noisy - truth) ** 2)
    err_out = np.mean((out[span] - truth[span]) ** 2)
    assert err_out < 0.5 * err_in


def test_savgol_checks_its_window() -> None:
    with pytest.raises(ValueError, match="odd"):
        ts.savgol(np.zeros(10), window=4)


def test_clean_series_removes_cloud_dip_and_keeps_the_span() -> None:
    times = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
    y = _curve(len(times))
    y[30] = 0.05  # residual cloud in the green-up
    y[:3] = np.nan
    for method in ("whittaker", "savgol", "none"):
        out, grid = ts.clean_series(y, times, method=method)
        assert len(grid) == len(times)
        assert np.isnan(out[:3]).all()
        assert out[30] > 0.4, method
    with pytest.raises(ValueError, match="method"):
        ts.clean_series(y, times, method="loess")  # type: ignore[arg-type]


def test_smooth_dataarray_keeps_dims_and_coords() -> None:
    times = pd.date_range("2024-01-01", periods=73, freq="5D")
    da = xr.DataArray(
        np.tile(_curve(), (3, 1)),
        dims=("parcel", "time"),
        coords={"parcel": ["a", "b", "c"], "time": times},
    )
    out = ts.smooth_dataarray(da.transpose("time", "parcel"))
    assert out.dims == ("time", "parcel")
    assert list(out.parcel.values) == ["a", "b", "c"]
    lazy = ts.smooth_dataarray(da.chunk({"parcel": 1}), method="savgol")
    np.testing.assert_allclose(lazy.compute().values, ts.smooth_dataarray(da, method="savgol"))


def test_clean_series_weights_pull_the_fit_towards_trusted_dates() -> None:
    times = pd.date_range("2024-01-01", periods=40, freq="5D")
    y = _curve(40, peak=20)
    y[20] = 0.5  # a partly cloudy peak date, not deep enough to be despiked
    w = np.ones(40)
    w[20] = 0.05
    plain, _ = ts.clean_series(y, times, despike=False)
    weighted, _ = ts.clean_series(y, times, despike=False, weights=w)
    assert abs(weighted[20] - _curve(40, peak=20)[20]) < abs(plain[20] - _curve(40, peak=20)[20])


def test_clean_dataarray_keeps_other_dims_and_returns_the_grid() -> None:
    times = pd.to_datetime(["2024-05-01", "2024-05-04", "2024-05-12", "2024-05-21", "2024-05-30"])
    da = xr.DataArray(
        np.array([[0.2, 0.3, 0.5, 0.6, 0.6], [0.1, 0.1, np.nan, 0.2, 0.2]]).T,
        dims=("time", "parcel"),
        coords={"time": times, "parcel": ["a", "b"]},
        name="NDVI_mean",
    )
    out = ts.clean_dataarray(da, lam=1.0)
    assert out.dims == ("time", "parcel")
    assert out.name == "NDVI_mean"
    assert list(out.parcel.values) == ["a", "b"]
    assert (np.diff(out.time.values) == np.timedelta64(5, "D")).all()
    assert np.isfinite(out.values).all()
