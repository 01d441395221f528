"""Numba kernel of :func:`agrilend.remote_sensing.phenology.phenology_table`: seasons of many rows.

One pass over C-contiguous ``(rows, n_times)`` gap-filled float64 series, giving for each row what
:func:`agrilend.remote_sensing.phenology._seasons` (the readable Python reference) gives: the same
peaks, merges, troughs, start/end crossings, lengths and integrals, written with the same
arithmetic in the same order, so start, peak and end come out as the same floats.

The peak search reproduces :func:`scipy.signal.find_peaks` for the arguments the module passes
(``prominence=min_amplitude, distance=d``, whole-signal prominence window):

- a local maximum is one sample, or a plateau of equal samples, with a strictly lower sample on
  each side; the first and last samples never are; a plateau's peak is its middle sample (the
  left one of the two middles when it has an even length), and a plateau that runs into the last
  sample is no peak;
- the distance rule visits peaks from the highest down; each peak still standing removes every
  other peak closer than ``d`` samples. Peaks of *equal* height closer than ``d`` to each other
  are visited in the order of numpy's ``argsort`` (``quicksort``), which is not specified for
  ties and depends on the machine's SIMD sort. Such a row is not decided here: it is flagged
  ``unsure`` and the caller runs the reference on it;
- the prominence of a peak is its height above the higher of the two lowest points reached,
  walking left and right, before a higher sample (or the series' end); peaks with a prominence
  of at least ``min_amplitude`` are kept.

Compiled with numpy's error model (a division by zero gives inf or NaN, as in the reference's
numpy arithmetic, instead of raising); the formulas divide only by differences that are
non-zero where they are used.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

#: float64 / int64 / bool arrays (typed loosely: numba dispatchers take whatever numpy gives)
Array = np.ndarray[Any, Any]

#: Method codes (the order of ``phenology._METHODS``).
AMPLITUDE, TROUGH, SLOPE = 0, 1, 2


@njit(cache=True, nogil=True, error_model="numpy")
def _argmin(v: Array, i0: int, i1: int) -> int:  # pragma: no cover
    """Index of the first smallest value of ``v[i0:i1 + 1]`` (as ``np.argmin``)."""
    best = i0
    for i in range(i0 + 1, i1 + 1):
        if v[i] < v[best]:
            best = i
    return best


@njit(cache=True, nogil=True, error_model="numpy")
def _crossing_up(x: Array, y: Array, i0: int, i1: int, level: float) -> float:  # pragma: no cover
    """The last upward crossing of ``level`` in ``y[i0..i1]``, interpolated; else ``x[i0]``."""
    for i in range(i1, i0, -1):
        if y[i - 1] < level <= y[i]:
            return x[i - 1] + (level - y[i - 1]) / (y[i] - y[i - 1]) * (x[i] - x[i - 1])
    return x[i0]


@njit(cache=True, nogil=True, error_model="numpy")
def _crossing_down(x: Array, y: Array, i0: int, i1: int, level: float) -> float:  # pragma: no cover
    """The first downward crossing of ``level`` in ``y[i0..i1]``, interpolated; else ``x[i1]``."""
    for i in range(i0, i1):
        if y[i] >= level > y[i + 1]:
            return x[i] + (y[i] - level) / (y[i] - y[i + 1]) * (x[i + 1] - x[i])
    return x[i1]


@njit(cache=True, nogil=True, error_model="numpy")
def _start_end(  # noqa: PLR0917  (a numba kernel takes its arguments positionally)
    d: Array,
    v: Array,
    il: int,
    first: int,
    top: int,
    last: int,
    ir: int,
    method: int,
    frac: float,
) -> tuple[float, float]:  # pragma: no cover
    """Start and end of the season peaking at ``top`` (first..last) between troughs il, ir."""
    if method == SLOPE:
        if first > il:
            i = il
            best = (v[il + 1] - v[il]) / (d[il + 1] - d[il])
            for k in range(il + 1, first):
                r = (v[k + 1] - v[k]) / (d[k + 1] - d[k])
                if r > best:
                    best, i = r, k
            sos = 0.5 * (d[i] + d[i + 1])
        else:
            sos = d[il]
        if ir > last:
            j = last
            best = (v[last + 1] - v[last]) / (d[last + 1] - d[last])
            for k in range(last + 1, ir):
                r = (v[k + 1] - v[k]) / (d[k + 1] - d[k])
                if r < best:
                    best, j = r, k
            eos = 0.5 * (d[j] + d[j + 1])
        else:
            eos = d[ir]
        return sos, eos
    peak_v, base_l, base_r = v[top], v[il], v[ir]
    return (
        _crossing_up(d, v, il, first, base_l + frac * (peak_v - base_l)),
        _crossing_down(d, v, last, ir, base_r + frac * (peak_v - base_r)),
    )


@njit(cache=True, nogil=True, error_model="numpy")
def _troughs(  # noqa: PLR0917
    v: Array, first: Array, last: Array, order: Array, count: int, k: int
) -> tuple[int, int]:  # pragma: no cover
    """Lowest samples between season ``order[k]`` and its neighbours in ``order[:count]``."""
    g = order[k]
    left_edge = 0 if k == 0 else last[order[k - 1]]
    right_edge = v.shape[0] - 1 if k == count - 1 else first[order[k + 1]]
    return _argmin(v, left_edge, first[g]), _argmin(v, last[g], right_edge)


@njit(cache=True, nogil=True, error_model="numpy")
def _join(  # noqa: PLR0917
    v: Array, top: Array, first: Array, last: Array, prom: Array, ng: int, a: int, prominence: float
) -> int:  # pragma: no cover
    """Fold group ``a + 1`` into group ``a`` (the higher peak kept); returns the new count."""
    b = a + 1
    if v[top[a]] < v[top[b]]:
        top[a] = top[b]
    first[a] = min(first[a], first[b])
    last[a] = max(last[a], last[b])
    prom[a] = prominence
    for k in range(b, ng - 1):
        top[k], first[k], last[k], prom[k] = top[k + 1], first[k + 1], last[k + 1], prom[k + 1]
    return ng - 1


@njit(cache=True, nogil=True, error_model="numpy")
def _find_peaks(  # noqa: PLR0917
    v: Array,
    distance: int,
    min_prominence: float,
    cand: Array,
    alive: Array,
    prom: Array,
    visited: Array,
) -> int:  # pragma: no cover
    """Peaks of ``v`` as find_peaks(prominence=, distance=) finds them, into ``cand``/``prom``.

    ``alive`` and ``visited`` are scratch (at least ``v.size`` long).

    Returns their number, or -1 when peaks of equal height compete within ``distance`` (the
    order scipy visits them in is numpy's, unspecified for ties).
    """
    m = v.shape[0]
    npk = 0
    i, i_max = 1, m - 1
    while i < i_max:
        if v[i - 1] < v[i]:
            ahead = i + 1
            while ahead < i_max and v[ahead] == v[i]:
                ahead += 1
            if v[ahead] < v[i]:
                cand[npk] = (i + ahead - 1) // 2
                npk += 1
                i = ahead
        i += 1
    for k in range(npk):
        alive[k] = True
    if distance > 1 and npk > 1:
        for j in range(npk):
            k = j + 1
            while k < npk and cand[k] - cand[j] < distance:
                if v[cand[k]] == v[cand[j]]:
                    return -1
                k += 1
        for k in range(npk):
            visited[k] = False
        for _ in range(npk):
            j = -1
            for k in range(npk):  # the highest peak not yet visited
                if not visited[k] and (j < 0 or v[cand[k]] > v[cand[j]]):
                    j = k
            visited[j] = True
            if not alive[j]:
                continue
            k = j - 1
            while k >= 0 and cand[j] - cand[k] < distance:
                alive[k] = False
                k -= 1
            k = j + 1
            while k < npk and cand[k] - cand[j] < distance:
                alive[k] = False
                k += 1
    n_kept = 0
    for k in range(npk):
        if not alive[k]:
            continue
        p = cand[k]
        left_min = v[p]
        i = p
        while i >= 0 and v[i] <= v[p]:
            left_min = min(left_min, v[i])
            i -= 1
        right_min = v[p]
        i = p
        while i < m and v[i] <= v[p]:
            right_min = min(right_min, v[i])
            i += 1
        q = v[p] - max(left_min, right_min)
        if min_prominence <= q:
            cand[n_kept] = p
            prom[n_kept] = q
            n_kept += 1
    return n_kept


@njit(cache=True, nogil=True, error_model="numpy")
def _interp(x: float, d: Array, v: Array) -> float:  # pragma: no cover
    """``np.interp(x, d, v)`` for ``d[0] <= x <= d[-1]`` (increasing ``d``)."""
    n = d.shape[0]
    if x >= d[n - 1]:
        return v[n - 1]
    lo, hi = 0, n - 1  # d[lo] <= x < d[hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if d[mid] <= x:
            lo = mid
        else:
            hi = mid
    slope = (v[lo + 1] - v[lo]) / (d[lo + 1] - d[lo])
    return slope * (x - d[lo]) + v[lo]


@njit(cache=True, nogil=True, error_model="numpy")
def _block_sum(a: Array, i0: int, n: int) -> float:  # pragma: no cover
    """numpy's sum of ``a[i0:i0 + n]`` for n <= 128: 8 running sums, then the rest in turn."""
    if n < 8:
        total = 0.0
        for i in range(i0, i0 + n):
            total += a[i]
        return total
    r0, r1, r2, r3 = a[i0], a[i0 + 1], a[i0 + 2], a[i0 + 3]
    r4, r5, r6, r7 = a[i0 + 4], a[i0 + 5], a[i0 + 6], a[i0 + 7]
    i = i0 + 8
    while i < i0 + n - n % 8:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < i0 + n:
        total += a[i]
        i += 1
    return total


@njit(cache=True, nogil=True, error_model="numpy")
def _pairwise_sum(a: Array, n: int) -> float:  # pragma: no cover
    """``np.sum(a[:n])`` as numpy adds float64: pairwise, halves cut at multiples of 8.

    Above 128 values numpy sums each half and adds the two; done here with an explicit stack
    (numba does not cache recursive functions reliably).
    """
    if n <= 128:
        return _block_sum(a, 0, n)
    starts = np.empty(192, dtype=np.int64)  # 3 frames per halving: far beyond any series
    sizes = np.empty(192, dtype=np.int64)
    joins = np.empty(192, dtype=np.bool_)
    sums = np.empty(96, dtype=np.float64)
    starts[0], sizes[0], joins[0] = 0, n, False
    frames, n_sums = 1, 0
    while frames > 0:
        frames -= 1
        s, m = starts[frames], sizes[frames]
        if joins[frames]:  # both halves done: add them, left + right
            n_sums -= 1
            sums[n_sums - 1] = sums[n_sums - 1] + sums[n_sums]
        elif m <= 128:
            sums[n_sums] = _block_sum(a, s, m)
            n_sums += 1
        else:
            half = m // 2
            half -= half % 8
            starts[frames], sizes[frames], joins[frames] = s, m, True
            starts[frames + 1], sizes[frames + 1], joins[frames + 1] = s + half, m - half, False
            starts[frames + 2], sizes[frames + 2], joins[frames + 2] = s, half, False
            frames += 3
    return sums[0]


@njit(cache=True, nogil=True, error_model="numpy")
def _integral(  # noqa: PLR0917
    d: Array, v: Array, sos: float, eos: float, base: float, terms: Array
) -> float:  # pragma: no cover
    """Trapezoid area of the piecewise-linear curve above ``base`` from ``sos`` to ``eos``.

    Summed as the reference sums it (``np.sum`` of the trapezoids), into scratch ``terms``.
    """
    x0 = sos
    y0 = max(_interp(sos, d, v) - base, 0.0)
    k = 0
    for i in range(d.shape[0]):
        if sos < d[i] < eos:
            y1 = max(v[i] - base, 0.0)
            terms[k] = 0.5 * (y1 + y0) * (d[i] - x0)
            k += 1
            x0, y0 = d[i], y1
    y1 = max(_interp(eos, d, v) - base, 0.0)
    terms[k] = 0.5 * (y1 + y0) * (eos - x0)
    return _pairwise_sum(terms, k + 1)


@njit(cache=True, nogil=True, error_model="numpy")
def _refine_peak(d: Array, v: Array, p: int) -> float:  # pragma: no cover
    """Peak position between samples (the parabola through the peak and its neighbours)."""
    if p == 0 or p == v.shape[0] - 1:
        return d[p]
    curv = v[p - 1] - 2.0 * v[p] + v[p + 1]
    if curv >= 0:
        return d[p]
    shift = 0.5 * (v[p - 1] - v[p + 1]) / curv
    step = d[p + 1] - d[p] if shift > 0 else d[p] - d[p - 1]
    return d[p] + min(max(shift, -0.5), 0.5) * step


@njit(cache=True, nogil=True, error_model="numpy")
def _merge_close(  # noqa: PLR0917
    v: Array, top: Array, first: Array, last: Array, prom: Array, ng: int, merge_below: float
) -> int:  # pragma: no cover
    """``phenology._merge_close_peaks`` on the groups; returns their new number."""
    changed = True
    while changed and ng > 1:
        changed = False
        for k in range(ng - 1):
            a, b = k, k + 1
            dip = v[_argmin(v, last[a], first[b])]
            low_is_a = v[top[a]] <= v[top[b]]
            low = top[a] if low_is_a else top[b]
            if low_is_a:
                outer = v[_argmin(v, 0, first[a])]
            else:
                outer = v[_argmin(v, last[b], v.shape[0] - 1)]
            rise_outer = v[low] - outer
            if rise_outer <= 0 or (v[low] - dip) < merge_below * rise_outer:
                higher = top[b] if low_is_a else top[a]
                q = max(prom[a], prom[b], v[higher] - min(outer, dip))
                ng = _join(v, top, first, last, prom, ng, a, q)
                changed = True
                break
    return ng


@njit(cache=True, nogil=True, error_model="numpy")
def _merge_short(  # noqa: PLR0917
    d: Array,
    v: Array,
    top: Array,
    first: Array,
    last: Array,
    prom: Array,
    ng: int,
    order: Array,
    min_length_days: float,
    method: int,
    frac: float,
) -> int:  # pragma: no cover
    """``phenology._merge_short_neighbours`` on the groups; returns their new number."""
    changed = True
    while changed and ng > 1:
        changed = False
        for k in range(ng):
            order[k] = k
        for k in range(ng):
            il, ir = _troughs(v, first, last, order, ng, k)
            sos, eos = _start_end(d, v, il, first[k], top[k], last[k], ir, method, frac)
            if eos - sos >= min_length_days:
                continue
            left_ok, right_ok = k > 0, k < ng - 1
            j = k - 1 if left_ok and (not right_ok or v[il] >= v[ir]) else k + 1
            a = min(j, k)
            ng = _join(v, top, first, last, prom, ng, a, max(prom[a], prom[a + 1]))
            changed = True
            break
    return ng


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_row(y: Array, pos: Array, out: Array) -> None:  # pragma: no cover
    """``timeseries.fill_gaps`` of one row into ``out``: gaps filled linearly inside."""
    n = y.shape[0]
    prev = -1
    for i in range(n):
        out[i] = y[i]
        if math.isfinite(y[i]):
            if 0 <= prev < i - 1:  # a gap prev+1..i-1 between two valid values
                x0, x1, y0, y1 = pos[prev], pos[i], y[prev], y[i]
                for k in range(prev + 1, i):
                    w = (pos[k] - x0) / (x1 - x0) if x1 > x0 else 0.0
                    out[k] = y0 + w * (y1 - y0)
            prev = i


@njit(cache=True, nogil=True, error_model="numpy")
def season_rows(  # noqa: PLR0917
    values: Array,
    days: Array,
    max_seasons: int,
    method: int,
    frac: float,
    min_amplitude: float,
    min_length_days: float,
    max_length_days: float,
    merge_below: float,
    counts: Array,
    block: Array,
    unsure: Array,
) -> None:  # pragma: no cover
    """Seasons of every row of ``values`` (dated by the increasing ``days``), in place.

    Each row's gaps are first filled as :func:`~agrilend.remote_sensing.timeseries.fill_gaps`
    fills them (same arithmetic), so ``values`` need not be filled.

    ``counts[r]`` gets the number of seasons of row ``r`` and ``block[r, k, :7]`` season k's
    ``sos, pos, eos, length, amplitude, integral, peak_value`` (days since the epoch for the
    dates); ``frac`` is the share of the amplitude that marks start and end (the threshold, or
    the trough share). ``unsure[r]`` is set where the row is left to the reference (see the
    module docstring); its ``counts`` and ``block`` are then not written.
    """
    n_rows, n = values.shape
    buf = np.empty(n, dtype=np.float64)
    terms = np.empty(n + 2, dtype=np.float64)
    cand = np.empty(n, dtype=np.int64)
    alive = np.empty(n, dtype=np.bool_)
    top = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    prom = np.empty(n, dtype=np.float64)
    order = np.empty(n, dtype=np.int64)
    chosen = np.empty(n, dtype=np.bool_)
    for r in range(n_rows):
        _fill_row(values[r], days, buf)
        y = buf
        counts[r] = 0
        unsure[r] = False
        lo, hi, n_finite = -1, -1, 0
        for i in range(n):
            if math.isfinite(y[i]):
                if lo < 0:
                    lo = i
                hi = i
                n_finite += 1
        if n_finite < 5:
            continue
        v = y[lo : hi + 1]
        d = days[lo : hi + 1]
        m = v.shape[0]
        step = (d[m - 1] - d[0]) / (m - 1)
        distance = max(1, int(np.rint(min_length_days / 2.0 / max(step, 1e-9))))
        ng = _find_peaks(v, distance, min_amplitude, cand, alive, prom, chosen)
        if ng < 0:
            unsure[r] = True
            continue
        if ng == 0:
            continue
        for k in range(ng):
            top[k], first[k], last[k] = cand[k], cand[k], cand[k]
        ng = _merge_close(v, top, first, last, prom, ng, merge_below)
        ng = _merge_short(d, v, top, first, last, prom, ng, order, min_length_days, method, frac)
        # the max_seasons most prominent groups (ties: the earlier), in time order
        for k in range(ng):
            chosen[k] = False
        n_keep = min(max_seasons, ng)
        for _ in range(n_keep):
            best = -1
            for k in range(ng):
                if not chosen[k] and (best < 0 or prom[k] > prom[best]):
                    best = k
            chosen[best] = True
        n_keep = 0
        for k in range(ng):
            if chosen[k]:
                order[n_keep] = k
                n_keep += 1
        found = 0
        for k in range(n_keep):
            g = order[k]
            p = top[g]
            il, ir = _troughs(v, first, last, order, n_keep, k)
            peak_v, base_l, base_r = v[p], v[il], v[ir]
            if peak_v - max(base_l, base_r) < min_amplitude:
                continue
            sos, eos = _start_end(d, v, il, first[g], p, last[g], ir, method, frac)
            length = eos - sos
            if not (min_length_days <= length <= max_length_days):
                continue
            base = 0.5 * (base_l + base_r)
            out = block[r, found]
            out[0] = sos
            out[1] = _refine_peak(d, v, p)
            out[2] = eos
            out[3] = length
            out[4] = peak_v - base
            out[5] = _integral(d, v, sos, eos, base, terms)
            out[6] = peak_v
            found += 1
        counts[r] = found
