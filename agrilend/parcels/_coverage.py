"""Numba kernels that turn polygon rings into per-pixel weights (private to the zonal engine).

All coordinates here are in *pixel space*: ``col = (x - x0) / dx`` and ``row = (y - y0) / dy``,
so pixel ``(r, c)`` is the unit square ``[c, c + 1) x [r, r + 1)``.

Exact coverage
    The area of the polygon inside each pixel, computed with the signed-area accumulation that
    font rasterisers use: every edge, clipped to a pixel row, adds its signed height to the cells
    it crosses, split between the cell it passes through (the part of that cell to the right of
    the edge) and the next cell; a running sum along the row then gives, for each cell, the signed
    area of the polygon inside it. It is exact up to floating point rounding for any polygon with
    holes and for multi-polygons, provided exteriors and holes run in opposite directions (the
    caller orients them). Edges left of the window are clamped onto its left border, which keeps
    the area right of the border unchanged; rows outside the window are skipped.

Pixel-centre rule
    A pixel belongs to the polygon when its centre does, decided the way GDAL rasterises polygons
    (``all_touched=False``): the scanline through the row centres is intersected with every edge
    counted on a half-open span of ``y``, crossings are sorted and pixels are filled between pairs
    from ``floor(x_in + 0.5)`` to ``floor(x_out + 0.5) - 1``. It matches ``rasterio.features.
    rasterize`` and therefore rasterstats.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

#: Cells whose accumulated area is below this are rounding residue, not coverage.
COVERAGE_EPS = 1e-10

IntArray = np.ndarray[Any, np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@njit(cache=True, nogil=True)
def _accumulate_edge(  # noqa: PLR0917 (numba kernels take positional arguments)
    acc: FloatArray, xa: float, ya: float, xb: float, yb: float, h: int, w: int
) -> None:
    """Add one edge (window pixel coordinates) to the accumulation buffer ``acc[h, w + 2]``.

    The edge is first cut where it crosses the window's left and right borders, so that every
    piece lies on one side of each border and clamping it onto the border is exact.
    """
    if ya == yb:
        return
    t0 = 0.0
    t1 = 1.0
    cuts = np.empty(4, dtype=np.float64)
    m = 0
    cuts[m] = t0
    m += 1
    dx = xb - xa
    if dx != 0.0:
        for border in (0.0, float(w)):
            t = (border - xa) / dx
            if 0.0 < t < 1.0:
                cuts[m] = t
                m += 1
    cuts[m] = t1
    m += 1
    if m == 4 and cuts[1] > cuts[2]:
        cuts[1], cuts[2] = cuts[2], cuts[1]
    dy = yb - ya
    for i in range(m - 1):
        s0 = cuts[i]
        s1 = cuts[i + 1]
        _accumulate_piece(acc, xa + s0 * dx, ya + s0 * dy, xa + s1 * dx, ya + s1 * dy, h, w)


@njit(cache=True, nogil=True)
def _accumulate_piece(  # noqa: PLR0917 (numba kernels take positional arguments)
    acc: FloatArray, xa: float, ya: float, xb: float, yb: float, h: int, w: int
) -> None:
    if ya == yb:
        return
    sign = 1.0
    if ya > yb:
        xa, ya, xb, yb = xb, yb, xa, ya
        sign = -1.0
    dxdy = (xb - xa) / (yb - ya)
    r_first = max(math.floor(ya), 0)
    r_last = min(math.ceil(yb), h)
    for r in range(r_first, r_last):
        top = max(ya, float(r))
        bot = min(yb, float(r + 1))
        dy = bot - top
        if dy <= 0.0:
            continue
        x_top = min(max(xa + (top - ya) * dxdy, 0.0), float(w))
        x_bot = min(max(xa + (bot - ya) * dxdy, 0.0), float(w))
        xl = min(x_top, x_bot)
        xr = max(x_top, x_bot)
        cl = math.floor(xl)
        cr = math.floor(xr)
        if cl == cr or xr == xl:
            mid = 0.5 * (xl + xr)
            c = min(cl, w)
            d = sign * dy
            acc[r, c] += d * (c + 1 - mid)
            acc[r, c + 1] += d * (mid - c)
            continue
        span = xr - xl
        for c in range(cl, min(cr, w) + 1):
            x0 = max(xl, float(c))
            x1 = min(xr, float(c + 1))
            if x1 <= x0:
                continue
            d = sign * dy * (x1 - x0) / span
            mid = 0.5 * (x0 + x1)
            acc[r, c] += d * (c + 1 - mid)
            acc[r, c + 1] += d * (mid - c)


@njit(cache=True, nogil=True)
def coverage_pixels(  # noqa: PLR0917 (numba kernels take positional arguments)
    xs: FloatArray,
    ys: FloatArray,
    ring_offsets: IntArray,
    parcel_ring_offsets: IntArray,
    bbox: IntArray,
    width: int,
    capacity: int,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Exact coverage of every parcel: ``(offsets, flat_index, weight)`` in CSR form.

    ``xs, ys`` hold all ring vertices (closed rings) in pixel space; ``ring_offsets`` delimit the
    rings, ``parcel_ring_offsets`` the rings of each parcel; ``bbox[p] = (r0, r1, c0, c1)`` is the
    parcel's window, already clipped to the raster. ``capacity`` bounds the output length.
    """
    n = parcel_ring_offsets.size - 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    out_idx = np.empty(capacity, dtype=np.int64)
    out_w = np.empty(capacity, dtype=np.float64)
    k = 0
    for p in range(n):
        r0, r1, c0, c1 = bbox[p, 0], bbox[p, 1], bbox[p, 2], bbox[p, 3]
        h = r1 - r0
        w = c1 - c0
        if h > 0 and w > 0:
            acc = np.zeros((h, w + 2), dtype=np.float64)
            for g in range(parcel_ring_offsets[p], parcel_ring_offsets[p + 1]):
                for v in range(ring_offsets[g], ring_offsets[g + 1] - 1):
                    _accumulate_edge(
                        acc, xs[v] - c0, ys[v] - r0, xs[v + 1] - c0, ys[v + 1] - r0, h, w
                    )
            total = 0.0
            for r in range(h):
                total = 0.0
                for c in range(w):
                    total += acc[r, c]
                    a = abs(total)
                    if a > COVERAGE_EPS:
                        out_idx[k] = (r0 + r) * width + (c0 + c)
                        out_w[k] = min(a, 1.0)
                        k += 1
        offsets[p + 1] = k
    return offsets, out_idx[:k].copy(), out_w[:k].copy()


@njit(cache=True, nogil=True)
def centre_pixels(  # noqa: PLR0917 (numba kernels take positional arguments)
    xs: FloatArray,
    ys: FloatArray,
    ring_offsets: IntArray,
    parcel_ring_offsets: IntArray,
    bbox: IntArray,
    width: int,
    capacity: int,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Pixels whose centre lies in each parcel (GDAL's rule), weight 1, in CSR form."""
    n = parcel_ring_offsets.size - 1
    offsets = np.zeros(n + 1, dtype=np.int64)
    out_idx = np.empty(capacity, dtype=np.int64)
    out_w = np.empty(capacity, dtype=np.float64)
    n_vert = 0
    for p in range(n):
        g0, g1 = parcel_ring_offsets[p], parcel_ring_offsets[p + 1]
        if g1 > g0:
            n_vert = max(n_vert, ring_offsets[g1] - ring_offsets[g0])
    crossings = np.empty(max(n_vert, 1), dtype=np.float64)
    k = 0
    for p in range(n):
        r0, r1, c0, c1 = bbox[p, 0], bbox[p, 1], bbox[p, 2], bbox[p, 3]
        for r in range(r0, r1):
            yc = r + 0.5
            m = 0
            for g in range(parcel_ring_offsets[p], parcel_ring_offsets[p + 1]):
                for v in range(ring_offsets[g], ring_offsets[g + 1] - 1):
                    y0 = ys[v]
                    y1 = ys[v + 1]
                    if (y0 <= yc < y1) or (y1 <= yc < y0):
                        x0 = xs[v]
                        crossings[m] = x0 + (yc - y0) * (xs[v + 1] - x0) / (y1 - y0)
                        m += 1
            if m < 2:
                continue
            cr = np.sort(crossings[:m])
            for i in range(0, m - 1, 2):
                a = max(math.floor(cr[i] + 0.5), c0)
                b = min(math.floor(cr[i + 1] + 0.5), c1)
                for c in range(a, b):
                    out_idx[k] = r * width + c
                    out_w[k] = 1.0
                    k += 1
        offsets[p + 1] = k
    return offsets, out_idx[:k].copy(), out_w[:k].copy()
