"""Time series of an index: regular steps, residual-cloud dips, gaps, smoothing.

Everything here is numpy-first and works row-wise over the last axis, so one call handles one
parcel's series or a county's ``(parcel, time)`` block; NaN means "no observation". Nothing is
extrapolated: before the first and after the last valid observation of a row the output stays NaN.

The usual chain is :func:`clean_series`: :func:`regularize` onto a 5-day (or dekad, or month)
grid, :func:`despike` the dips that recover, then :func:`whittaker` (which also fills the gaps)
or :func:`fill_gaps` + :func:`savgol`.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy.signal import savgol_filter

from agrilend.remote_sensing._series_kernels import (
    despike_rows,
    season_range_rows,
    whittaker_rows,
)

logger = logging.getLogger(__name__)

FloatArray = np.ndarray[Any, np.dtype[np.floating[Any]]]

#: Default Whittaker smoothing for a 5-day grid: a second-order filter passes half the amplitude
#: at a period of about 2 pi lam**0.25 steps, here ~11 steps (55 days), which keeps a 2-3 month
#: crop peak and removes date-to-date noise.
DEFAULT_LAMBDA = 10.0


def _as_float(y: Any) -> FloatArray:
    return np.asarray(y, dtype="float64")


# --- regular grids --------------------------------------------------------------------------------


def _grid(start: pd.Timestamp, end: pd.Timestamp, step: str) -> tuple[pd.DatetimeIndex, bool]:
    """The grid dates and whether observations go to the nearest date (True) or the period."""
    key = step.lower()
    if key == "dekad":
        months = pd.date_range(start.to_period("M").to_timestamp(), end, freq="MS")
        days = [m + pd.Timedelta(days=d) for m in months for d in (0, 10, 20)]
        grid = pd.DatetimeIndex([d for d in days if d <= end])
        return grid[grid >= grid[grid <= start].max()], False
    if key in {"month", "ms", "1ms", "m"}:
        return pd.date_range(start.to_period("M").to_timestamp(), end, freq="MS"), False
    try:
        delta = pd.Timedelta(step)
    except ValueError as exc:
        raise ValueError(
            f"step {step!r} is not understood; use a fixed step like '5D' or '10D', 'dekad' or "
            "'month'"
        ) from exc
    if delta <= pd.Timedelta(0):
        raise ValueError(f"step {step!r} must be positive")
    # the last grid date is the one nearest to ``end``, so the last observation has its step
    n = int(np.floor((end - start) / delta + 0.5)) + 1
    return pd.DatetimeIndex([start + i * delta for i in range(n)]), True


def grid_bins(
    times: Any, *, step: str = "5D", start: Any = None, end: Any = None
) -> tuple[np.ndarray[Any, np.dtype[np.int64]], pd.DatetimeIndex]:
    """Which grid date each observation date goes to (-1: outside the grid), and the grid.

    The grid and the rule are those of :func:`regularize` (which uses this): with a fixed step
    the nearest grid date, with dekads and months the period holding the date.

    Examples
    --------
    >>> import pandas as pd
    >>> bins, grid = grid_bins(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-12"]))
    >>> bins.tolist(), len(grid)
    ([0, 0, 2], 3)
    """
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times))).as_unit("ns")
    if len(t) == 0:
        raise ValueError("no dates given; a series needs at least one observation date")
    t0 = pd.Timestamp(start) if start is not None else t.min().floor("D")
    t1 = pd.Timestamp(end) if end is not None else t.max()
    grid, nearest = _grid(t0, t1, step)
    grid = grid.as_unit("ns")
    g = grid.asi8
    tv = t.asi8
    if nearest:
        # bins centred on the grid dates
        edges = (g[:-1] + g[1:]) // 2
        idx = np.searchsorted(edges, tv, side="right")
        half = (g[1] - g[0]) // 2 if len(g) > 1 else 0
        inside = (tv >= g[0] - half) & (tv <= g[-1] + half)
    else:
        idx = np.searchsorted(g, tv, side="right") - 1
        inside = idx >= 0
        if len(g):
            next_after = (grid[-1] + pd.offsets.MonthBegin(1)).value
            if step.lower() == "dekad":
                next_after = _next_dekad(grid[-1]).value
            inside &= tv < next_after
    return np.where(inside, idx, -1).astype(np.int64), grid


def regularize(
    y: Any,
    times: Any,
    *,
    step: str = "5D",
    start: Any = None,
    end: Any = None,
    how: Literal["mean", "max", "median"] = "mean",
) -> tuple[FloatArray, pd.DatetimeIndex]:
    """Put a series observed on irregular dates onto a regular grid.

    Parameters
    ----------
    y
        Values, shape ``(..., n_times)``; NaN = no observation.
    times
        The ``n_times`` observation dates (any order).
    step
        ``"5D"`` (any fixed pandas step), ``"dekad"`` (1st, 11th, 21st of each month) or
        ``"month"``. With a fixed step each observation goes to the nearest grid date; with
        dekads and months to the period that holds it (labelled by its first day).
    start, end
        Grid bounds; default the first and last observation date (floored to the day).
    how
        How several observations in one step combine (``"max"`` is maximum-value compositing,
        which also suppresses residual cloud in NDVI).

    Returns
    -------
    values, grid
        Values of shape ``(..., n_grid)`` with NaN where nothing was observed, and the grid dates.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-12"])
    >>> v, g = regularize(np.array([0.2, 0.4, 0.5]), t, step="5D")
    >>> v, list(g.strftime("%m-%d"))
    (array([0.3, nan, 0.5]), ['01-01', '01-06', '01-11'])
    """
    arr = _as_float(y)
    if arr.shape[-1] != len(times):
        raise ValueError(f"y has {arr.shape[-1]} values along its last axis for {len(times)} dates")
    idx, grid = grid_bins(times, step=step, start=start, end=end)
    inside = idx >= 0
    if how not in {"mean", "max", "median"}:
        raise ValueError(f"how={how!r}; use 'mean', 'max' or 'median'")
    lead = arr.shape[:-1]
    cols = np.ascontiguousarray(arr.reshape(-1, len(idx)).T)  # date-major
    k = len(grid)
    if how == "median":
        out = np.full((k, cols.shape[1]), np.nan)
        for b in np.unique(idx[inside]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN steps stay NaN
                out[b] = np.nanmedian(cols[np.flatnonzero(inside & (idx == b))], axis=0)
    elif how == "max":
        out = np.full((k, cols.shape[1]), np.nan)
        for j in np.flatnonzero(inside):
            out[idx[j]] = np.fmax(out[idx[j]], cols[j])
    else:
        total = np.zeros((k, cols.shape[1]))
        count = np.zeros((k, cols.shape[1]))
        for j in np.flatnonzero(inside):
            finite = np.isfinite(cols[j])
            total[idx[j]] += np.where(finite, cols[j], 0.0)
            count[idx[j]] += finite
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(count > 0, total / np.where(count > 0, count, 1.0), np.nan)
    return np.ascontiguousarray(out.T).reshape(*lead, k), grid


def _next_dekad(d: pd.Timestamp) -> pd.Timestamp:
    if d.day < 21:
        return d + pd.Timedelta(days=10)
    return (d + pd.offsets.MonthBegin(1)).normalize()


# --- helpers on the valid span --------------------------------------------------------------------


def _prev_valid_index(finite: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Index of the last finite value at or before each position (-1 if none)."""
    n = finite.shape[-1]
    pos = np.where(finite, np.arange(n), -1)
    return np.maximum.accumulate(pos, axis=-1)


def _next_valid_index(finite: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Index of the first finite value at or after each position (n if none)."""
    n = finite.shape[-1]
    pos = np.where(finite, np.arange(n), n)
    return np.flip(np.minimum.accumulate(np.flip(pos, axis=-1), axis=-1), axis=-1)


def valid_span(y: Any) -> np.ndarray[Any, Any]:
    """Boolean mask, True from the first to the last finite value of each row (inclusive).

    Examples
    --------
    >>> import numpy as np
    >>> valid_span(np.array([np.nan, 1.0, np.nan, 2.0, np.nan])).astype(int)
    array([0, 1, 1, 1, 0])
    """
    finite = np.isfinite(_as_float(y))
    return (_prev_valid_index(finite) >= 0) & (_next_valid_index(finite) < finite.shape[-1])


# --- despike, gap filling -------------------------------------------------------------------------


def despike(y: Any, *, threshold: float = 0.15, max_iter: int = 2) -> FloatArray:
    """Set to NaN the residual-cloud dips: a value that drops sharply and then recovers.

    A value is a dip when it lies more than ``threshold`` below *both* its nearest valid
    neighbours. The first and last valid values of a row are kept (nothing shows that they
    recover). Repeated ``max_iter`` times so that a dip hidden by another one is found too.

    Parameters
    ----------
    y
        Values, shape ``(..., n_times)`` (e.g. NDVI), NaN = missing.
    threshold
        Minimum drop on both sides, in the units of ``y`` (0.15 NDVI by default).
    max_iter
        Passes over the series.

    Examples
    --------
    >>> import numpy as np
    >>> despike(np.array([0.5, 0.55, 0.1, 0.6, 0.62]))
    array([0.5 , 0.55,  nan, 0.6 , 0.62])
    """
    out = _as_float(y).copy()
    n = out.shape[-1]
    if n < 3 or out.size == 0:
        return out
    work = np.ascontiguousarray(out.reshape(-1, n))
    despike_rows(work, float(threshold), int(max_iter))
    return work.reshape(out.shape)


def fill_gaps(y: Any, *, x: Any = None) -> FloatArray:
    """Fill NaN gaps linearly, only between the first and last valid value of each row.

    Parameters
    ----------
    y
        Values, shape ``(..., n_times)``.
    x
        Positions of the samples (e.g. days); default equally spaced.

    Examples
    --------
    >>> import numpy as np
    >>> fill_gaps(np.array([np.nan, 0.2, np.nan, 0.6, np.nan]))
    array([nan, 0.2, 0.4, 0.6, nan])
    """
    arr = _as_float(y)
    n = arr.shape[-1]
    pos = np.arange(n, dtype="float64") if x is None else _as_float(x)
    finite = np.isfinite(arr)
    pi = _prev_valid_index(finite)
    ni = _next_valid_index(finite)
    inside = (pi >= 0) & (ni < n) & ~finite
    pic = np.clip(pi, 0, n - 1)
    nic = np.clip(ni, 0, n - 1)
    filled = np.where(finite, arr, 0.0)
    y0 = np.take_along_axis(filled, pic, axis=-1)
    y1 = np.take_along_axis(filled, nic, axis=-1)
    x0, x1 = pos[pic], pos[nic]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(x1 > x0, (pos - x0) / np.where(x1 > x0, x1 - x0, 1.0), 0.0)
    return np.where(inside, y0 + w * (y1 - y0), arr)


# --- smoothing ------------------------------------------------------------------------------------


def _second_difference_bands(n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Diagonals 0, 1 and 2 of D'D for the (n-2) x n second-difference matrix D."""
    d = np.zeros((max(n - 2, 0), n))
    for i in range(n - 2):
        d[i, i : i + 3] = (1.0, -2.0, 1.0)
    dtd = d.T @ d
    return np.diag(dtd).copy(), np.diag(dtd, 1).copy(), np.diag(dtd, 2).copy()


def whittaker(y: Any, *, lam: float = DEFAULT_LAMBDA, weights: Any = None) -> FloatArray:
    """Whittaker smoother (second-order differences), which also fills gaps inside the series.

    Minimises ``sum w (y - z)^2 + lam * sum (second difference of z)^2`` row by row, with
    weight 0 on NaN. Solved with a banded Cholesky factorisation, row by row in compiled code
    (10^5 series of 73 dates take about half a second on one core). Rows with fewer than 2
    valid values are all NaN; before the first and after the last valid value the output is NaN
    (no extrapolation).

    Parameters
    ----------
    y
        Values on a regular grid, shape ``(..., n_times)``.
    lam
        Smoothing strength; the default suits NDVI on a 5-day grid (use ~2-5 for dekads).
    weights
        Optional weights of the same shape (e.g. valid fraction); NaN values get weight 0.

    Examples
    --------
    >>> import numpy as np
    >>> z = whittaker(np.array([np.nan, 0.2, 0.3, np.nan, 0.5, 0.6, np.nan]), lam=1.0)
    >>> np.isnan(z[[0, -1]]).all(), bool(np.isfinite(z[1:-1]).all()), round(float(z[3]), 2)
    (np.True_, True, 0.4)
    """
    arr = _as_float(y)
    shape = arr.shape
    n = shape[-1]
    flat = arr.reshape(-1, n)
    finite = np.isfinite(flat)
    w = np.ones_like(flat) if weights is None else np.broadcast_to(_as_float(weights), shape)
    w = np.where(finite, np.nan_to_num(np.asarray(w, dtype="float64").reshape(-1, n)), 0.0)
    w = np.clip(w, 0.0, None)
    out = np.full_like(flat, np.nan)
    enough = (w > 0).sum(axis=-1) >= 2
    if n < 3 or not enough.any():
        if n < 3:
            out[enough] = np.where(finite[enough], flat[enough], np.nan)
        return out.reshape(shape)
    d0, d1, d2 = _second_difference_bands(n)
    b = np.ascontiguousarray(np.where(finite, flat, 0.0))
    whittaker_rows(b, np.ascontiguousarray(w), float(lam), d0, d1, d2, out)
    return out.reshape(shape)


def savgol(y: Any, *, window: int = 7, order: int = 2) -> FloatArray:
    """Savitzky-Golay smoothing on a regular grid; gaps are first filled linearly.

    Only the span between the first and last valid value is smoothed; outside it the output is
    NaN. A span shorter than the window is smoothed with the largest odd window it holds; one
    too short even for that is returned gap-filled, unsmoothed.

    Examples
    --------
    >>> import numpy as np
    >>> z = savgol(np.array([np.nan, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, np.nan]), window=5)
    >>> np.isnan(z[[0, -1]]).all(), bool(np.allclose(z[1:-1], np.arange(1, 8) / 10))
    (np.True_, True)
    """
    if window % 2 == 0 or window <= order:
        raise ValueError(f"window={window} must be odd and larger than order={order}")
    arr = fill_gaps(y)
    shape = arr.shape
    n = shape[-1]
    flat = arr.reshape(-1, n)
    span = np.isfinite(flat)
    out = np.full_like(flat, np.nan)
    first = np.where(span.any(axis=-1), np.argmax(span, axis=-1), -1)
    last = n - 1 - np.argmax(span[:, ::-1], axis=-1)
    # rows sharing a valid span are smoothed together; mode="interp" fits the edges with the
    # same polynomial instead of padding, so nothing outside the span leaks in
    for a, b in {(int(f), int(la)) for f, la in zip(first, last, strict=True) if f >= 0}:
        length = b - a + 1
        win = min(window, length if length % 2 else length - 1)
        if win <= order:
            continue
        rows = np.flatnonzero((first == a) & (last == b))
        out[rows, a : b + 1] = savgol_filter(flat[rows, a : b + 1], win, order, axis=-1)
    out = np.where(np.isfinite(out), out, flat)
    return out.reshape(shape)


def clean_series(
    y: Any,
    times: Any,
    *,
    step: str = "5D",
    method: Literal["whittaker", "savgol", "none"] = "whittaker",
    despike: bool = True,
    despike_threshold: float = 0.15,
    lam: float = DEFAULT_LAMBDA,
    window: int = 7,
    how: Literal["mean", "max", "median"] = "mean",
    start: Any = None,
    end: Any = None,
    weights: Any = None,
) -> tuple[FloatArray, pd.DatetimeIndex]:
    """Regularise, remove residual-cloud dips, fill and smooth a series (the usual chain).

    Returns the cleaned values on the regular grid and the grid dates; NaN before the first and
    after the last valid observation of each row. ``weights`` (same shape as ``y``, e.g. a
    parcel's clear fraction per date) are averaged onto the grid and weight the Whittaker fit.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-04-01", periods=12, freq="5D")
    >>> v = np.array([.2, .3, .4, .5, .05, .7, .75, .7, .6, .5, .4, .3])
    >>> z, grid = clean_series(v, t)
    >>> len(grid), bool(z[4] > 0.4)
    (12, True)
    """
    # local name `despike` shadows the function; keep a handle on the function
    values, grid = regularize(y, times, step=step, start=start, end=end, how=how)
    grid_weights = None
    if weights is not None:
        w = np.where(np.isfinite(_as_float(y)), np.broadcast_to(_as_float(weights), np.shape(y)), 0)
        grid_weights, _ = regularize(w, times, step=step, start=start, end=end, how="mean")
    if despike:
        values = _despike(values, threshold=despike_threshold)
    if method == "whittaker":
        values = whittaker(values, lam=lam, weights=grid_weights)
    elif method == "savgol":
        values = savgol(values, window=window)
    elif method == "none":
        values = fill_gaps(values)
    else:
        raise ValueError(f"method={method!r}; use 'whittaker', 'savgol' or 'none'")
    return values, grid


_despike = despike


def season_range(
    y: Any,
    times: Any,
    *,
    step: str = "5D",
    despike_threshold: float = 0.15,
    lam: float = DEFAULT_LAMBDA,
) -> tuple[FloatArray, FloatArray]:
    """The highest and lowest value of each row's cleaned curve, without making the curves.

    Equal to ``clean_series(y, times, step=step, method="whittaker", despike=True, ...)``
    followed by the row's ``nanmax`` and ``nanmin`` (the same arithmetic, in one compiled pass
    that holds one row at a time: a chunk's 10^5 pixels cost no ``(pixels, grid)`` arrays).
    NaN for a row with fewer than two values on the grid.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-04-01", periods=12, freq="5D")
    >>> v = np.array([[.2, .3, .4, .5, .05, .7, .75, .7, .6, .5, .4, .3]])
    >>> top, low = season_range(v, t)
    >>> z, _ = clean_series(v, t)
    >>> bool(np.isclose(top[0], np.nanmax(z))), bool(np.isclose(low[0], np.nanmin(z)))
    (True, True)
    """
    arr = _as_float(y)
    lead = arr.shape[:-1]
    flat = np.ascontiguousarray(arr.reshape(-1, arr.shape[-1]))
    if flat.shape[-1] != len(times):
        raise ValueError(
            f"y has {flat.shape[-1]} values along its last axis for {len(times)} dates"
        )
    bins, grid = grid_bins(times, step=step)
    n = len(grid)
    if n < 3:  # the smoother's short-series rule: the plain chain
        z, _ = clean_series(flat, times, step=step, despike_threshold=despike_threshold, lam=lam)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
            return np.nanmax(z, axis=-1).reshape(lead), np.nanmin(z, axis=-1).reshape(lead)
    d0, d1, d2 = _second_difference_bands(n)
    top = np.empty(flat.shape[0])
    low = np.empty(flat.shape[0])
    season_range_rows(flat, bins, n, float(despike_threshold), 2, float(lam), d0, d1, d2, top, low)
    return top.reshape(lead), low.reshape(lead)


def clean_dataarray(
    da: xr.DataArray,
    *,
    dim: str = "time",
    step: str = "5D",
    method: Literal["whittaker", "savgol", "none"] = "whittaker",
    despike: bool = True,
    lam: float = DEFAULT_LAMBDA,
    weights: xr.DataArray | None = None,
    start: Any = None,
    end: Any = None,
) -> xr.DataArray:
    """:func:`clean_series` on a DataArray (e.g. ``series["NDVI_mean"]``); returns the new grid.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> t = pd.to_datetime(["2024-05-01", "2024-05-04", "2024-05-12", "2024-05-21"])
    >>> da = xr.DataArray([[0.2, 0.3, 0.5, 0.6]], dims=("parcel", "time"),
    ...                   coords={"parcel": ["p1"], "time": t})
    >>> out = clean_dataarray(da, lam=1.0)
    >>> out.dims, out.sizes["time"], str(out.time.values[-1])[:10]
    (('parcel', 'time'), 5, '2024-05-21')
    """
    other = [d for d in da.dims if d != dim]
    arr = da.transpose(*other, dim).values
    w = None if weights is None else weights.transpose(*other, dim).values
    values, grid = clean_series(
        arr, da[dim].values, step=step, method=method, despike=despike, lam=lam,
        weights=w, start=start, end=end,
    )  # fmt: skip
    coords = {d: da.coords[d] for d in other if d in da.coords}
    out = xr.DataArray(values, dims=(*other, dim), coords={**coords, dim: grid}, name=da.name)
    out.attrs = {**da.attrs, "cleaned": f"{step} grid, despike={despike}, {method}"}
    return out.transpose(*da.dims)


def smooth_dataarray(
    da: xr.DataArray,
    *,
    dim: str = "time",
    method: Literal["whittaker", "savgol"] = "whittaker",
    lam: float = DEFAULT_LAMBDA,
    window: int = 7,
) -> xr.DataArray:
    """Smooth a DataArray along ``dim`` (e.g. a parcel series ``NDVI_mean``); keeps coords.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.array([[0.2, np.nan, 0.4, 0.5]]), dims=("parcel", "time"))
    >>> smooth_dataarray(da, lam=0.1).dims
    ('parcel', 'time')
    """

    def _fn(a: FloatArray) -> FloatArray:
        if method == "whittaker":
            return whittaker(a, lam=lam)
        return savgol(a, window=window)

    out = xr.apply_ufunc(
        _fn,
        da,
        input_core_dims=[[dim]],
        output_core_dims=[[dim]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"allow_rechunk": True},
    )
    return out.transpose(*da.dims)


__all__ = [
    "DEFAULT_LAMBDA",
    "clean_dataarray",
    "clean_series",
    "despike",
    "fill_gaps",
    "grid_bins",
    "regularize",
    "savgol",
    "season_range",
    "smooth_dataarray",
    "valid_span",
    "whittaker",
]
