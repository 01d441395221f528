"""Which pixels each parcel covers, and by how much: computed once, reused for every date and band.

:func:`parcel_pixels` turns titles into a :class:`ParcelPixels`, a compressed sparse row table:
for parcel ``i``, ``index[offsets[i]:offsets[i + 1]]`` are the flat raster indices
(``row * width + col``) of its pixels and ``weight[...]`` the share of each pixel it covers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine

from agrilend.errors import GeometryError
from agrilend.parcels._coverage import centre_pixels, coverage_pixels

logger = logging.getLogger(__name__)

Weighting = Literal["coverage", "centre"]
IntArray = np.ndarray[Any, np.dtype[np.int64]]
#: Pixel indices: int32 on grids of fewer than 2**31 pixels, else int64.
IndexArray = np.ndarray[Any, np.dtype[np.int32] | np.dtype[np.int64]]
FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: Parcels are rasterised in batches whose bounding boxes hold at most this many cells, which
#: bounds the scratch memory of a batch (16 bytes a cell).
_BATCH_CELLS = 8_000_000


@dataclass(frozen=True, eq=False)
class ParcelPixels:
    """Pixels and weights of every parcel on one raster grid (CSR layout).

    Attributes
    ----------
    parcel_ids
        Parcel ids, in the order of the titles given.
    offsets
        int64, ``len(parcel_ids) + 1``; parcel ``i`` owns entries ``offsets[i]:offsets[i + 1]``.
    index
        flat pixel indices ``row * width + col``, ascending within a parcel: int32 when the
        grid has fewer than 2**31 pixels (half the memory traffic of the zonal pass), else int64.
    weight
        float64 in (0, 1]: the covered share of each pixel (1 under the centre rule).
    shape, transform
        The grid ``(height, width)`` and its affine transform.
    weighting, inner_buffer_m
        How the table was made.
    """

    parcel_ids: np.ndarray[Any, Any]
    offsets: IntArray
    index: IndexArray
    weight: FloatArray
    shape: tuple[int, int]
    transform: Affine
    weighting: Weighting
    inner_buffer_m: float

    def __len__(self) -> int:
        return int(self.parcel_ids.size)

    @property
    def pixel_count(self) -> IntArray:
        """Pixels touched per parcel."""
        return np.diff(self.offsets)

    @property
    def coverage(self) -> FloatArray:
        """Sum of weights per parcel: its area in pixels (exact coverage) or its pixel count."""
        return _segment_sum(self.weight, self.offsets)

    @property
    def pixel_area_m2(self) -> float:
        """Area of one pixel in squared CRS units."""
        return abs(self.transform.a * self.transform.e)

    def rows_cols(self) -> tuple[IntArray, IntArray]:
        """Row and column of every entry of :attr:`index`."""
        return np.divmod(self.index, self.shape[1])

    def parcel_of_entry(self) -> IntArray:
        """For every entry of :attr:`index`, the position of its parcel."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.pixel_count)

    def subset(self, positions: Sequence[int] | np.ndarray[Any, Any]) -> ParcelPixels:
        """A table of the parcels at ``positions`` (in that order)."""
        pos = np.asarray(positions, dtype=np.int64)
        starts, stops = self.offsets[pos], self.offsets[pos + 1]
        counts = stops - starts
        offsets = np.zeros(pos.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        take = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
        return ParcelPixels(
            self.parcel_ids[pos], offsets, self.index[take], self.weight[take], self.shape,
            self.transform, self.weighting, self.inner_buffer_m,
        )  # fmt: skip


def _segment_sum(values: FloatArray, offsets: IntArray) -> FloatArray:
    csum = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    return np.asarray(csum[offsets[1:]] - csum[offsets[:-1]])


def _parcel_ids(titles: gpd.GeoDataFrame | gpd.GeoSeries) -> np.ndarray[Any, Any]:
    if isinstance(titles, gpd.GeoDataFrame) and "parcel_id" in titles.columns:
        ids = titles["parcel_id"].astype(str).to_numpy(dtype=object)
    else:
        ids = np.asarray(titles.index.astype(str), dtype=object)
    return ids


def _rings_in_pixel_space(
    geoms: np.ndarray[Any, Any], transform: Affine
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Vertices of all rings in pixel coordinates with the ring and parcel offsets."""
    n = geoms.size
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    parts, part_parcel = shapely.get_parts(geoms, return_index=True)
    # collections may nest multi-polygons (make_valid output): explode until all are simple
    while (nested := shapely.get_type_id(parts) >= 4).any():
        inner, inner_idx = shapely.get_parts(parts[nested], return_index=True)
        parcel_of = part_parcel[nested][inner_idx]
        parts = np.concatenate([parts[~nested], inner])
        part_parcel = np.concatenate([part_parcel[~nested], parcel_of])
    order = np.argsort(part_parcel, kind="stable")
    parts, part_parcel = parts[order], part_parcel[order]
    polygonal = shapely.get_type_id(parts) == 3  # Polygon; lines and points cover nothing
    parts, part_parcel = parts[polygonal], part_parcel[polygonal]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ring_parcel = part_parcel[ring_part]
    coords, vert_ring = shapely.get_coordinates(rings, return_index=True)
    ring_offsets = np.zeros(rings.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(vert_ring, minlength=rings.size), out=ring_offsets[1:])
    parcel_ring_offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ring_parcel, minlength=n), out=parcel_ring_offsets[1:])
    xs = (coords[:, 0] - transform.c) / transform.a
    ys = (coords[:, 1] - transform.f) / transform.e
    return (
        np.ascontiguousarray(xs, dtype=np.float64),
        np.ascontiguousarray(ys, dtype=np.float64),
        ring_offsets,
        parcel_ring_offsets,
    )


def _bboxes(
    xs: FloatArray,
    ys: FloatArray,
    ring_offsets: IntArray,
    parcel_ring_offsets: IntArray,
    shape: tuple[int, int],
) -> IntArray:
    """Per parcel ``(r0, r1, c0, c1)`` in pixels, clipped to the grid; empty when no vertex."""
    n = parcel_ring_offsets.size - 1
    bbox = np.zeros((n, 4), dtype=np.int64)
    vstart = ring_offsets[parcel_ring_offsets[:-1]]
    vstop = ring_offsets[parcel_ring_offsets[1:]]
    has = vstop > vstart
    if not has.any():
        return bbox
    starts = vstart[has]
    bbox_h = np.empty((int(has.sum()), 4), dtype=np.float64)
    bbox_h[:, 0] = np.minimum.reduceat(ys, starts)
    bbox_h[:, 1] = np.maximum.reduceat(ys, starts)
    bbox_h[:, 2] = np.minimum.reduceat(xs, starts)
    bbox_h[:, 3] = np.maximum.reduceat(xs, starts)
    h, w = shape
    sel = bbox[has]
    sel[:, 0] = np.clip(np.floor(bbox_h[:, 0]), 0, h)
    sel[:, 1] = np.clip(np.ceil(bbox_h[:, 1]), 0, h)
    sel[:, 2] = np.clip(np.floor(bbox_h[:, 2]), 0, w)
    sel[:, 3] = np.clip(np.ceil(bbox_h[:, 3]), 0, w)
    sel[:, 1] = np.maximum(sel[:, 1], sel[:, 0])
    sel[:, 3] = np.maximum(sel[:, 3], sel[:, 2])
    bbox[has] = sel
    return bbox


def parcel_pixels(
    titles: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    transform: Affine,
    shape: tuple[int, int],
    weighting: Weighting = "coverage",
    inner_buffer_m: float = 0.0,
) -> ParcelPixels:
    """Find the pixels of every parcel and the share of each pixel it covers.

    Parameters
    ----------
    titles
        Parcels with a ``parcel_id`` column (else the index is used) and polygonal geometry in the
        grid's CRS. Parcels off the grid or with empty geometry keep an empty pixel list.
    transform
        Affine transform of the grid, north-up (no rotation).
    shape
        ``(height, width)`` of the grid.
    weighting
        ``"coverage"``: each pixel weighs the exact share of its area inside the parcel (as
        exactextract). ``"centre"``: pixels whose centre lies inside, weight 1 (as GDAL, rasterio
        and rasterstats with ``all_touched=False``).
    inner_buffer_m
        Shrink every parcel by this distance (CRS units) first, so that mixed edge pixels drop
        out; a parcel that vanishes keeps an empty list. With ``weighting="centre"`` and a
        buffer of at least half a pixel diagonal (7.1 m at 10 m), every pixel kept lies wholly
        inside the original parcel (pure pixels only).

    Returns
    -------
    ParcelPixels

    Examples
    --------
    >>> import geopandas as gpd
    >>> from affine import Affine
    >>> from shapely import box
    >>> titles = gpd.GeoDataFrame({"parcel_id": ["a"]}, geometry=[box(5, -25, 25, -5)])
    >>> px = parcel_pixels(titles, transform=Affine(10, 0, 0, 0, -10, 0), shape=(3, 3))
    >>> px.pixel_count.tolist(), px.coverage.tolist()
    ([9], [4.0])
    >>> px.weight.reshape(3, 3).tolist()
    [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]
    """
    if weighting not in ("coverage", "centre"):
        raise ValueError(f"weighting must be 'coverage' or 'centre', got {weighting!r}")
    if transform.b != 0 or transform.d != 0:
        raise GeometryError(
            f"the grid transform {tuple(transform)[:6]} is rotated; reproject the imagery to a "
            "north-up grid first"
        )
    if inner_buffer_m < 0:
        raise ValueError(f"inner_buffer_m must be >= 0, got {inner_buffer_m}")
    h, w = int(shape[0]), int(shape[1])
    ids = _parcel_ids(titles)
    geoms = np.asarray(titles.geometry.array, dtype=object)
    if inner_buffer_m > 0:
        geoms = shapely.buffer(geoms, -float(inner_buffer_m), join_style="mitre")
    xs, ys, ring_off, parcel_ring_off = _rings_in_pixel_space(geoms, transform)
    bbox = _bboxes(xs, ys, ring_off, parcel_ring_off, (h, w))
    cells = (bbox[:, 1] - bbox[:, 0]) * (bbox[:, 3] - bbox[:, 2])
    kernel = coverage_pixels if weighting == "coverage" else centre_pixels
    offsets_parts: list[IntArray] = []
    index_parts: list[IntArray] = []
    weight_parts: list[FloatArray] = []
    n = ids.size
    start = 0
    base = 0
    csum = np.cumsum(cells)
    while start < n:
        limit = (csum[start - 1] if start else 0) + _BATCH_CELLS
        stop = max(int(np.searchsorted(csum, limit, side="right")), start + 1)
        stop = min(stop, n)
        rsl = parcel_ring_off[start : stop + 1]
        off, idx, wt = kernel(
            xs, ys, ring_off, rsl, bbox[start:stop], w, int(cells[start:stop].sum())
        )
        offsets_parts.append(off[1:] + base if offsets_parts else off + base)
        index_parts.append(idx)
        weight_parts.append(wt)
        base += int(off[-1])
        start = stop
    offsets = np.concatenate(offsets_parts) if offsets_parts else np.zeros(1, dtype=np.int64)
    index = np.concatenate(index_parts) if index_parts else np.zeros(0, dtype=np.int64)
    weight = np.concatenate(weight_parts) if weight_parts else np.zeros(0, dtype=np.float64)
    if h * w < 2**31:
        index = index.astype(np.int32)
    empty = int((np.diff(offsets) == 0).sum())
    if empty:
        logger.debug("%d of %d parcels cover no pixel of the %dx%d grid", empty, n, h, w)
    return ParcelPixels(
        ids, offsets, index, weight, (h, w), transform, weighting, float(inner_buffer_m)
    )


__all__ = ["ParcelPixels", "Weighting", "parcel_pixels"]
