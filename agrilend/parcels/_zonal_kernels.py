"""Numba kernels of the zonal engine: one fused pass from raw band values to parcel statistics.

Everything works on *blocks*: 2-D arrays ``(time, pixels)`` that are flat views of a window of
the raster (``rows * width`` pixels), and on the parcels' CSR pixel tables. A value is read only
where a parcel has a pixel, never for the whole raster, and no full-size intermediate (index,
mask, reflectance) is ever made.

Per pixel and date the kernels compute ``x = (raw + add[t]) * mul`` for each band (digital
numbers to reflectance; ``add = 0, mul = 1`` for reflectance), test the mask code through a
256-entry lookup table (SCL classes, or 0/1 for a boolean ``valid``), drop ``raw == nodata``,
and form the index:

- ``MODE_ND``: normalised difference ``(a - b) / (a + b)``, NaN where ``a + b == 0``, clipped to
  [-1, 1] — the formula of :func:`agrilend.remote_sensing.indices.normalized_difference` as used
  by ``INDICES`` (NDVI = ND(B08, B04), NDWI = ND(B03, B08), NDRE = ND(B08, B05));
- ``MODE_VALUE``: the value itself (a precomputed index, or an index gathered by the caller).

Weighted statistics (weights = covered share of the pixel):

- mean ``sum(w x) / sum(w)``; std the population form ``sqrt(sum(w (x - mean)^2) / sum(w))``;
- quantiles as exactextract defines them for weighted samples: equal values are first merged
  into one element carrying the sum of their weights (exactextract keeps a frequency table of
  values), leaving ``n`` distinct values; in sorted order, with ``S_k`` the cumulative weight
  through element ``k`` (0-based) let ``s_0 = 0`` and ``s_k = k w_k + (n - 1) S_{k-1}``; the
  ``q`` quantile interpolates ``x`` linearly in ``s`` at ``q (n - 1) S_{n-1}``. With equal
  weights and distinct values it is numpy's default (linear, "type 7") quantile, which is what
  rasterstats reports under the centre rule (ties there count once per pixel, see
  :func:`block_stats`). The values are bucket-sorted (expected linear time), not compared.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

MODE_ND = 0
MODE_VALUE = 1

#: Columns of the kernel output before the quantiles.
COL_MEAN = 0
COL_STD = 1
COL_VALID_WEIGHT = 2
N_FIXED = 3

IntArray = np.ndarray[Any, np.dtype[np.int64]]
#: Pixel indices of a table: int32 on grids below 2**31 pixels, else int64.
IndexArray = np.ndarray[Any, np.dtype[np.int32] | np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@njit(cache=True, nogil=True, inline="always")
def _pixel_value(  # noqa: PLR0911, PLR0917 (numba kernels take positional arguments; early outs)
    a: Any,
    b: Any,
    q: Any,
    lut: Any,
    add: FloatArray,
    mul: float,
    nodata: float,
    mode: int,
    t: int,
    j: int,
) -> float:
    """Index value of block pixel ``j`` at date ``t``, or NaN when it is masked or undefined."""
    if not lut[q[t, j]]:
        return np.nan
    ra = float(a[t, j])
    if ra == nodata:
        return np.nan
    xa = (ra + add[t]) * mul
    if mode == MODE_VALUE:
        return xa
    rb = float(b[t, j])
    if rb == nodata:
        return np.nan
    xb = (rb + add[t]) * mul
    den = xa + xb
    if den == 0.0:
        return np.nan
    v = (xa - xb) / den
    if v > 1.0:
        return 1.0
    if v < -1.0:
        return -1.0
    return v


@njit(cache=True, nogil=True)
def _insertion_sort(x: FloatArray, w: FloatArray, lo: int, hi: int) -> None:
    """Sort ``x[lo:hi]`` in place carrying ``w`` along (short runs only)."""
    for k in range(lo + 1, hi):
        xv = x[k]
        wv = w[k]
        m = k - 1
        while m >= lo and x[m] > xv:
            x[m + 1] = x[m]
            w[m + 1] = w[m]
            m -= 1
        x[m + 1] = xv
        w[m + 1] = wv


#: Below this many values the quantiles sort them by insertion; above, by buckets.
SMALL = 16


@njit(cache=True, nogil=True)
def _sort_merged(  # noqa: PLR0917 (numba kernels take positional arguments)
    vals: FloatArray,
    wts: FloatArray,
    n: int,
    xs: FloatArray,
    ws: FloatArray,
    slot: IntArray,
    merge: bool,
) -> int:
    """Sort ``vals[:n]`` into ``xs`` (weights into ``ws``), equal values merged into one element
    carrying the sum of their weights (when ``merge``); return the number of elements left.

    A bucket sort in expected linear time: ``n`` buckets spread evenly between the smallest and
    the largest value, a counting pass, a scatter, then an insertion pass that only moves values
    within their bucket. ``slot`` is scratch of ``2 n + 1`` ints.
    """
    if n <= SMALL:
        for k in range(n):
            xs[k] = vals[k]
            ws[k] = wts[k]
        _insertion_sort(xs, ws, 0, n)
    else:
        lo = vals[0]
        hi = vals[0]
        for k in range(1, n):
            v = vals[k]
            if v < lo:
                lo = v
            elif v > hi:
                hi = v
        if hi > lo:
            scale = (n - 1) / (hi - lo)
            count = slot[n:]
            for b in range(n + 1):
                count[b] = 0
            for k in range(n):
                b = int((vals[k] - lo) * scale)
                b = min(max(b, 0), n - 1)
                slot[k] = b
                count[b + 1] += 1
            for b in range(n):
                count[b + 1] += count[b]
            for k in range(n):
                b = slot[k]
                at = count[b]
                count[b] = at + 1
                xs[at] = vals[k]
                ws[at] = wts[k]
            _insertion_sort(xs, ws, 0, n)
        else:
            for k in range(n):
                xs[k] = vals[k]
                ws[k] = wts[k]
    if not merge:
        return n
    m = 0
    for k in range(n):
        if m > 0 and xs[k] == xs[m - 1]:
            ws[m - 1] += ws[k]
        else:
            xs[m] = xs[k]
            ws[m] = ws[k]
            m += 1
    return m


@njit(cache=True, nogil=True)
def _weighted_quantiles(  # noqa: PLR0917 (numba kernels take positional arguments)
    vals: FloatArray,
    wts: FloatArray,
    n: int,
    quantiles: FloatArray,
    out: FloatArray,
    col: int,
    xs: FloatArray,
    ws: FloatArray,
    slot: IntArray,
    merge: bool,
) -> None:
    """exactextract's weighted quantiles of ``vals[:n]`` (``xs``, ``ws``, ``slot`` are scratch).

    With ``merge``, equal values are one element carrying the sum of their weights, as
    exactextract counts them (a frequency table of values); without it every pixel is one
    element (numpy's and rasterstats' quantiles, under the centre rule).
    """
    m = _sort_merged(vals, wts, n, xs, ws, slot, merge)
    total = 0.0
    for k in range(m):
        total += ws[k]
    sn = total * (m - 1)
    # s_k for the distinct values, reusing ``vals`` (no longer needed) as its storage
    s = vals
    cum = 0.0
    for k in range(m):
        s[k] = 0.0 if k == 0 else k * ws[k] + (m - 1) * cum
        cum += ws[k]
    for iq in range(quantiles.size):
        target = quantiles[iq] * sn
        # first element whose s exceeds the target (s is non-decreasing)
        lo = 0
        hi = m
        while lo < hi:
            mid = (lo + hi) // 2
            if s[mid] > target:
                hi = mid
            else:
                lo = mid + 1
        if lo == 0:
            out[col + iq] = xs[0]
        elif lo == m:
            out[col + iq] = xs[m - 1]
        else:
            left = lo - 1
            out[col + iq] = xs[left] + (target - s[left]) * (xs[lo] - xs[left]) / (s[lo] - s[left])


@njit(cache=True, nogil=True)
def block_stats(  # noqa: PLR0917 (numba kernels take positional arguments)
    a: Any,
    b: Any,
    q: Any,
    lut: Any,
    add: FloatArray,
    mul: float,
    nodata: float,
    mode: int,
    parcels: IntArray,
    offsets: IntArray,
    index: IndexArray,
    weight: FloatArray,
    shift: int,
    quantiles: FloatArray,
    want_std: bool,
    out: FloatArray,
    t_out: int,
    merge_ties: bool = True,
) -> None:
    """Statistics of ``parcels`` (positions into the CSR table) over the dates of one block.

    ``a``, ``b``, ``q`` are ``(dates, pixels)`` blocks whose pixel 0 is raster pixel ``shift``;
    results go to ``out[parcel, t_out + t, :]`` with columns mean, std, valid weight, quantiles.
    ``merge_ties``: quantiles merge the weights of equal values (exactextract, for coverage
    weights); off, each pixel counts once (numpy and rasterstats, for the centre rule).
    """
    nt = a.shape[0]
    max_n = 0
    for i in range(parcels.size):
        p = parcels[i]
        max_n = max(max_n, offsets[p + 1] - offsets[p])
    m = max(max_n, 1)
    vals = np.empty(m, dtype=np.float64)
    wts = np.empty(m, dtype=np.float64)
    xs = np.empty(m, dtype=np.float64)
    ws = np.empty(m, dtype=np.float64)
    slot = np.empty(2 * m + 1, dtype=np.int64)
    nq = quantiles.size
    for t in range(nt):
        for i in range(parcels.size):
            p = parcels[i]
            row = out[p, t_out + t]
            n = 0
            sw = 0.0
            swx = 0.0
            for e in range(offsets[p], offsets[p + 1]):
                v = _pixel_value(a, b, q, lut, add, mul, nodata, mode, t, index[e] - shift)
                if math.isnan(v):
                    continue
                w = weight[e]
                vals[n] = v
                wts[n] = w
                n += 1
                sw += w
                swx += w * v
            row[COL_VALID_WEIGHT] = sw
            if n == 0 or sw <= 0.0:
                row[COL_MEAN] = np.nan
                row[COL_STD] = np.nan
                for iq in range(nq):
                    row[N_FIXED + iq] = np.nan
                continue
            mean = swx / sw
            row[COL_MEAN] = mean
            if want_std:
                ss = 0.0
                for k in range(n):
                    d = vals[k] - mean
                    ss += wts[k] * d * d
                row[COL_STD] = math.sqrt(ss / sw)
            if nq:
                _weighted_quantiles(vals, wts, n, quantiles, row, N_FIXED, xs, ws, slot, merge_ties)


@njit(cache=True, nogil=True)
def gather_values(  # noqa: PLR0917 (numba kernels take positional arguments)
    a: Any,
    b: Any,
    q: Any,
    lut: Any,
    add: FloatArray,
    mul: float,
    nodata: float,
    mode: int,
    index: IndexArray,
    shift: int,
    out: FloatArray,
    t_out: int,
) -> None:
    """Index value (NaN where masked) at every entry of ``index``: ``out[entry, t_out + t]``."""
    nt = a.shape[0]
    for e in range(index.size):
        j = index[e] - shift
        for t in range(nt):
            out[e, t_out + t] = _pixel_value(a, b, q, lut, add, mul, nodata, mode, t, j)


@njit(cache=True, nogil=True)
def block_sum(a: Any) -> float:
    """Sum of a block: the bandwidth yardstick of the benchmark (reads every byte once)."""
    s = 0.0
    flat = a.ravel()
    for i in range(flat.size):
        s += flat[i]
    return s
