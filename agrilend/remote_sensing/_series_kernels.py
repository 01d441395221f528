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
        y = work[r]
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
    Rows with fewer than two positive weights are left NaN.
    """
    rows, n = values.shape
    l0 = np.empty(n)
    l1 = np.zeros(n + 1)  # l1[i] = L[i, i-1]
    l2 = np.zeros(n + 2)  # l2[i] = L[i, i-2]
    z = np.empty(n)
    for r in range(rows):
        w = weights[r]
        first, last, count = -1, -1, 0
        for i in range(n):
            if w[i] > 0:
                count += 1
                last = i
                if first < 0:
                    first = i
        for i in range(n):
            out[r, i] = np.nan
        if count < 2:
            continue
        for i in range(n):
            d = w[i] + lam * d0[i] - l1[i] * l1[i] - l2[i] * l2[i]
            l0[i] = math.sqrt(max(d, 1e-300))
            if i + 1 < n:
                l1[i + 1] = (lam * d1[i] - l2[i + 1] * l1[i]) / l0[i]
            if i + 2 < n:
                l2[i + 2] = lam * d2[i] / l0[i]
        for i in range(n):
            s = w[i] * values[r, i]
            if i >= 1:
                s -= l1[i] * z[i - 1]
            if i >= 2:
                s -= l2[i] * z[i - 2]
            z[i] = s / l0[i]
        for i in range(n - 1, -1, -1):
            s = z[i]
            if i + 1 < n:
                s -= l1[i + 1] * z[i + 1]
            if i + 2 < n:
                s -= l2[i + 2] * z[i + 2]
            z[i] = s / l0[i]
        for i in range(first, last + 1):
            out[r, i] = z[i]
