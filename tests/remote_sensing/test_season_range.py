"""season_range: the cleaned curve's highest and lowest value without the curve, as clean_series
gives them (and the Whittaker factor reused between rows changes nothing)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from agrilend.remote_sensing.timeseries import clean_series, grid_bins, regularize, season_range


def _series(rng: np.random.Generator, rows: int, n: int) -> np.ndarray:
    d = np.arange(n, dtype=float)
    peak = rng.uniform(0.2, 0.8, (rows, 1))
    y = 0.15 + peak * np.exp(-(((d - rng.uniform(0, n, (rows, 1))) / (n / 6)) ** 2))
    y = y + rng.normal(0, 0.02, y.shape)
    y[rng.uniform(size=y.shape) < 0.05] -= 0.4  # residual cloud dips
    # clouds shared by neighbouring rows (as by neighbouring pixels), and some of their own
    shared = rng.uniform(size=(1, n)) < 0.3
    y[np.broadcast_to(shared, y.shape) & (rng.uniform(size=(rows, 1)) < 0.7)] = np.nan
    y[rng.uniform(size=y.shape) < 0.1] = np.nan
    y[:3] = np.nan  # never seen
    y[3, 1:] = np.nan  # seen once
    return y


def _reference(y: np.ndarray, times: pd.DatetimeIndex, step: str) -> tuple[np.ndarray, ...]:
    z, _ = clean_series(y, times, step=step, method="whittaker", despike=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows
        return np.nanmax(z, axis=-1), np.nanmin(z, axis=-1)


@pytest.mark.parametrize(
    ("freq", "n", "step"),
    [("5D", 73, "5D"), ("3D", 120, "5D"), ("10D", 37, "5D"), ("7D", 50, "dekad")],
)
def test_season_range_is_the_cleaned_curves_range(freq: str, n: int, step: str) -> None:
    rng = np.random.default_rng(n)
    times = pd.date_range("2024-01-03", periods=n, freq=freq)
    y = _series(rng, 400, n)
    top, low = season_range(y, times, step=step)
    ref_top, ref_low = _reference(y, times, step)
    np.testing.assert_allclose(top, ref_top, rtol=0, atol=1e-12)
    np.testing.assert_allclose(low, ref_low, rtol=0, atol=1e-12)
    assert np.isnan(top[:4]).all()
    assert np.isfinite(top[4:]).mean() > 0.9


def test_season_range_keeps_leading_dims_and_short_grids() -> None:
    rng = np.random.default_rng(0)
    times = pd.date_range("2024-05-01", periods=12, freq="5D")
    y = _series(rng, 24, 12).reshape(4, 6, 12)
    top, low = season_range(y, times)
    assert top.shape == low.shape == (4, 6)
    np.testing.assert_allclose(top.ravel(), _reference(y.reshape(24, 12), times, "5D")[0],
                               atol=1e-12)  # fmt: skip
    short = pd.to_datetime(["2024-05-01", "2024-05-06"])
    t2, l2 = season_range(np.array([[0.2, 0.4], [np.nan, 0.3]]), short)
    np.testing.assert_allclose(
        t2, _reference(np.array([[0.2, 0.4], [np.nan, 0.3]]), short, "5D")[0]
    )
    assert np.isfinite(l2[0])
    assert np.isnan(l2[1])  # one value: no curve
    with pytest.raises(ValueError, match="3 dates"):
        season_range(np.zeros((2, 4)), times[:3])


def test_grid_bins_are_regularizes_bins() -> None:
    times = pd.to_datetime(["2024-01-01", "2024-01-04", "2024-01-09", "2024-02-15"])
    bins, grid = grid_bins(times, step="dekad")
    values, grid2 = regularize(np.eye(4), times, step="dekad")
    assert grid.equals(grid2)
    assert bins.tolist() == [int(np.flatnonzero(values[i] > 0)[0]) for i in range(4)]
