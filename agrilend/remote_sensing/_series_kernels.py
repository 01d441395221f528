"""Numba kernels of the time-series chain: residual-cloud dips and the Whittaker smoother.

Both work row by row on C-contiguous ``(rows, n_times)`` float64 arrays, so a window of
65,000 pixels x 73 dates is smoothed in one pass without the date-major copies a vectorised
numpy version needs. The formulas are those documented in
:mod:`agrilend.remote_sensing.timeseries`; the tests there compare against a dense solve.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

#: float64 arrays (typed loosely: numba dispatchers take whatever numpy gives)
FloatArray = np.ndarray[Any, Any]
#: Whittaker factors :func:`season_range_rows` keeps, one per pattern of clear dates.
FACTOR_SLOTS = 128


@njit(cache=True, nogil=True)
def _despike_row(  # noqa: PLR0917
    y: FloatArray,
    prev: FloatArray,
    nxt: FloatArray,
    dip: FloatArray,
    threshold: float,
    max_iter: int,
) -> None:  # pragma: no cover
    """:func:`despike_rows` on one row ``y`` (scratch arrays ``prev``, ``nxt``, ``dip``)."""
    n = y.shape[0]
    for _ in range(max_iter):
        carry = np.nan
        for i in range(n):
            prev[i] = carry
            if not math.isnan(y[i]):
                carry = y[i]
        carry = np.nan
        for i in range(n - 1, -1, -1):
            nxt[i] = carry
            if not math.isnan(y[i]):
                carry = y[i]
        found = False
        for i in range(n):
            # comparisons with NaN are false: a missing value or neighbour is never a dip
            dip[i] = (prev[i] - y[i] > threshold) and (nxt[i] - y[i] > threshold)
            found = found or dip[i]
        if not found:
            break
        for i in range(n):
            if dip[i]:
                y[i] = np.nan


@njit(cache=True, nogil=True)
def despike_rows(work: FloatArray, threshold: float, max_iter: int) -> None:  # pragma: no cover
    """Set to NaN, in place, values more than ``threshold`` below both valid neighbours.

    Each pass marks every dip of a row against the neighbours as they were before the pass,
    then removes them; a row stops when a pass finds none (at most ``max_iter`` passes).
    """
    rows, n = work.shape
    prev = np.empty(n)
    nxt = np.empty(n)
    dip = np.empty(n, dtype=np.bool_)
    for r in range(rows):
        _despike_row(work[r], prev, nxt, dip, threshold, max_iter)


@njit(cache=True, nogil=True)
def _factor(  # noqa: PLR0917
    w: FloatArray,
    lam: float,
    d0: FloatArray,
    d1: FloatArray,
    d2: FloatArray,
    l0: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
) -> None:  # pragma: no cover
    """Banded Cholesky factor of ``W + lam D'D``: ``l0`` the inverse of its diagonal, ``l1``
    and ``l2`` its first and second subdiagonals."""
    n = w.shape[0]
    for i in range(n):
        d = w[i] + lam * d0[i] - l1[i] * l1[i] - l2[i] * l2[i]
        root = math.sqrt(max(d, 1e-300))
        l0[i] = 1.0 / root  # kept as its inverse: the solves multiply
        if i + 1 < n:
            l1[i + 1] = (lam * d1[i] - l2[i + 1] * l1[i]) / root
        if i + 2 < n:
            l2[i + 2] = lam * d2[i] / root


@njit(cache=True, nogil=True)
def _solve(  # noqa: PLR0917
    w: FloatArray,
    values: FloatArray,
    l0: FloatArray,
    l1: FloatArray,
    l2: FloatArray,
    z: FloatArray,
) -> None:  # pragma: no cover
    """``z`` solving ``L L' z = W values`` with the factor of :func:`_factor`."""
    n = w.shape[0]
    for i in range(n):
        s = w[i] * values[i]
        if i >= 1:
            s -= l1[i] * z[i - 1]
        if i >= 2:
            s -= l2[i] * z[i - 2]
        z[i] = s * l0[i]
    for i in range(n - 1, -1, -1):
        s = z[i]
        if i + 1 < n:
            s -= l1[i + 1] * z[i + 1]
        if i + 2 < n:
            s -= l2[i + 2] * z[i + 2]
        z[i] = s * l0[i]


@njit(cache=True, nogil=True)
def _span(w: FloatArray) -> tuple[int, int, int]:  # pragma: no cover
    """First and last index of a positive weight, and how many there are."""
    first, last, count = -1, -1, 0
    for i in range(w.shape[0]):
        if w[i] > 0:
            count += 1
            last = i
            if first < 0:
                first = i
    return first, last, count


@njit(cache=True, nogil=True)
def _same(a: FloatArray, b: FloatArray) -> bool:  # pragma: no cover
    """Whether two rows are equal value by value (a loop numba compiles)."""
    for i in range(a.shape[0]):  # noqa: SIM110
        if a[i] != b[i]:
            return False
    return True


@njit(cache=True, nogil=True)
def whittaker_rows(  # noqa: PLR0917  (a numba kernel takes its arrays positionally)
    values: FloatArray,
    weights: FloatArray,
    lam: float,
    d0: FloatArray,
    d1: FloatArray,
    d2: FloatArray,
    out: FloatArray,
) -> None:  # pragma: no cover
    """Whittaker-smooth each row into ``out`` (NaN outside the span of positive weights).

    Solves ``(W + lam D'D) z = W y`` with a banded Cholesky factorisation; ``d0``, ``d1``,
    ``d2`` are the diagonals 0, 1, 2 of ``D'D``. ``values`` must be 0 where the weight is 0.
    Rows with fewer than two positive weights are left NaN. A row with the same weights as the
    row factorised last reuses its factor (neighbouring pixels share their clear dates).
    """
    rows, n = values.shape
    l0 = np.empty(n)
    l1 = np.zeros(n + 1)  # l1[i] = L[i, i-1]
    l2 = np.zeros(n + 2)  # l2[i] = L[i, i-2]
    z = np.empty(n)
    factored = np.full(n, -1.0)  # the weights of the factor held (none yet: negative)
    for r in range(rows):
        w = weights[r]
        first, last, count = _span(w)
        for i in range(n):
            out[r, i] = np.nan
        if count < 2:
            continue
        if not _same(w, factored):
            _factor(w, lam, d0, d1, d2, l0, l1, l2)
            factored[:] = w
        _solve(w, values[r], l0, l1, l2, z)
        for i in range(first, last + 1):
            out[r, i] = z[i]


@njit(cache=True, nogil=True)
def season_range_rows(  # noqa: PLR0917
    values: FloatArray,
    bins: FloatArray,
    n_grid: int,
    threshold: float,
    max_iter: int,
    lam: float,
    d0: FloatArray,
    d1: FloatArray,
    d2: FloatArray,
    top: FloatArray,
    low: FloatArray,
) -> None:  # pragma: no cover
    """Per row of observations, the maximum and minimum of its cleaned curve, in one pass.

    The chain of :func:`agrilend.remote_sensing.timeseries.clean_series` (mean onto the grid
    by ``bins``, -1 = outside; :func:`despike_rows`; :func:`whittaker_rows` with unit weights
    on the observed grid dates) with the same arithmetic, row by row in scratch arrays: no
    ``(rows, grid)`` array is made. NaN for a row with fewer than two grid values.
    """
    rows, n_obs = values.shape
    n = n_grid
    total = np.empty(n)
    count = np.empty(n)
    y = np.empty(n)
    w = np.empty(n)
    b = np.empty(n)
    prev = np.empty(n)
    nxt = np.empty(n)
    dip = np.empty(n, dtype=np.bool_)
    z = np.empty(n)
    # the factors of the last FACTOR_SLOTS patterns of clear dates, by a hash of the pattern
    # (pixels of a chunk share a few thousand patterns: most rows reuse a factor)
    l0c = np.zeros((FACTOR_SLOTS, n))
    l1c = np.zeros((FACTOR_SLOTS, n + 1))
    l2c = np.zeros((FACTOR_SLOTS, n + 2))
    keys = np.full((FACTOR_SLOTS, n), -1.0)
    for r in range(rows):
        for i in range(n):
            total[i] = 0.0
            count[i] = 0.0
        for j in range(n_obs):
            k = bins[j]
            v = values[r, j]
            if k >= 0 and not math.isnan(v):
                total[k] += v
                count[k] += 1.0
        for i in range(n):
            y[i] = total[i] / count[i] if count[i] > 0 else np.nan
        _despike_row(y, prev, nxt, dip, threshold, max_iter)
        h = 0
        for i in range(n):
            finite = not math.isnan(y[i])
            w[i] = 1.0 if finite else 0.0
            b[i] = y[i] if finite else 0.0
            h = (h * 31 + (1 if finite else 0)) & 0x7FFFFFFF
        first, last, seen = _span(w)
        top[r] = np.nan
        low[r] = np.nan
        if seen < 2:
            continue
        slot = h % FACTOR_SLOTS
        if not _same(w, keys[slot]):
            _factor(w, lam, d0, d1, d2, l0c[slot], l1c[slot], l2c[slot])
            keys[slot, :] = w
        _solve(w, b, l0c[slot], l1c[slot], l2c[slot], z)
        hi = z[first]
        lo = z[first]
        for i in range(first + 1, last + 1):
            hi = max(hi, z[i])
            lo = min(lo, z[i])
        top[r] = hi
        low[r] = lo
