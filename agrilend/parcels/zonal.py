"""The zonal engine: per parcel, per date, per index statistics from a cube, in one fused pass.

Two entries:

- :func:`zonal_series` takes a contract cube (numpy- or dask-backed; bands in reflectance, or
  still in digital numbers) and titles, and returns the *parcel series* dataset that the later
  layers read.
- :func:`zonal_index_stats` is the low-level entry on plain arrays: raw uint16 digital numbers
  and the SCL layer (or reflectance and a boolean mask) straight to statistics.

Both share one driver: the parcels' pixels and weights are found once (:func:`parcel_pixels`);
the cube is then read window by window (a block of dates x a strip of rows holding whole
parcels), and a numba kernel visits only the parcels' pixels, turning digital numbers into
reflectance, applying the mask, forming the index and accumulating the weighted statistics
without any full-size intermediate raster. See :mod:`agrilend.parcels._zonal_kernels` for the
exact definitions (weighted mean, population std, exactextract's weighted quantile).
"""

from __future__ import annotations

import itertools
import logging
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import xarray as xr
from affine import Affine

from agrilend.errors import CRSMismatchError, ImageryReadError, MissingBandError, MissingCRSError
from agrilend.parcels import _zonal_kernels as zk
from agrilend.parcels.pixels import ParcelPixels, Weighting, parcel_pixels
from agrilend.remote_sensing.harmonize import dn_scaling
from agrilend.remote_sensing.indices import INDICES, index_from_arrays, normalized_difference
from agrilend.vocabulary import SCL_CLEAR

logger = logging.getLogger(__name__)

DEFAULT_STATS = ("mean", "std", "p10", "p50", "p90")
#: L2A digital numbers of scenes processed with baseline 04.00+ (from 2022-01-25) carry -1000.

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]
Loader = Callable[[str, int, int, int, int], np.ndarray[Any, Any]]


# --- statistics and index plans ----------------------------------------------------------------


def _parse_stats(stats: Sequence[str]) -> tuple[list[str], FloatArray]:
    """Validate stat names; return them and the quantiles they ask for (in order)."""
    names: list[str] = []
    qs: list[float] = []
    for s in stats:
        key = "p50" if s == "median" else s
        m = re.fullmatch(r"p(\d{1,2}(?:\.\d+)?|100)", key)
        if key in ("mean", "std"):
            names.append(key)
        elif m:
            names.append(key)
            qs.append(float(m.group(1)) / 100.0)
        else:
            raise ValueError(
                f"unknown statistic {s!r}; use 'mean', 'std', 'median' or a percentile 'p0'..'p100'"
            )
    return names, np.asarray(qs, dtype=np.float64)


@dataclass(frozen=True)
class _IndexPlan:
    name: str
    bands: tuple[str, ...]  # variables read
    mode: int  # zk.MODE_ND (fused) or zk.MODE_VALUE (one precomputed variable) or -1 (gathered)


def _index_plan(name: str, available: Sequence[str]) -> _IndexPlan:
    key = name.upper()
    if key not in INDICES:
        raise ValueError(f"unknown index {name!r}; choose one of {sorted(INDICES)}")
    f = INDICES[key]
    if all(b in available for b in f.bands):
        if f.func is normalized_difference:
            return _IndexPlan(key, f.bands, zk.MODE_ND)
        return _IndexPlan(key, f.bands, -1)
    if key in available:
        return _IndexPlan(key, (key,), zk.MODE_VALUE)
    missing = [b for b in f.bands if b not in available]
    raise MissingBandError(
        f"index {key} needs bands {list(f.bands)}; {missing} are missing and no precomputed "
        f"{key} variable exists (have {sorted(available)}); load the imagery with those bands",
        band=missing[0],
    )


@dataclass(frozen=True)
class _Scaling:
    add: FloatArray  # per date, in raw units
    mul: float
    nodata: float


# --- windows -----------------------------------------------------------------------------------


def _strips(pixels: ParcelPixels, window_rows: int | None) -> Iterator[tuple[int, int, IntArray]]:
    """Row strips ``(r0, r1, parcel positions)`` that hold whole parcels, top to bottom."""
    counts = pixels.pixel_count
    nonempty = np.flatnonzero(counts > 0)
    if nonempty.size == 0:
        return
    width = pixels.shape[1]
    first = pixels.index[pixels.offsets[nonempty]]
    last = pixels.index[pixels.offsets[nonempty + 1] - 1]
    order = np.argsort(first, kind="stable")
    nonempty, first, last = nonempty[order], first[order], last[order]
    first_row, last_row = first // width, last // width
    if window_rows is None:
        yield int(first_row[0]), int(last_row.max()) + 1, nonempty
        return
    step = max(int(window_rows), 1)
    start = 0
    while start < nonempty.size:
        limit = first_row[start] + step
        stop = int(np.searchsorted(first_row, limit, side="left"))
        sel = slice(start, stop)
        yield int(first_row[start]), int(last_row[sel].max()) + 1, nonempty[sel]
        start = stop


def _time_blocks(nt: int, window_dates: int | Sequence[int] | None) -> list[tuple[int, int]]:
    if window_dates is None:
        return [(0, nt)]
    if isinstance(window_dates, int):
        step = max(window_dates, 1)
        return [(t, min(t + step, nt)) for t in range(0, nt, step)]
    edges = np.concatenate([[0], np.cumsum(list(window_dates))]).astype(int)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges) if b > a]


def _flat(block: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``(dates, rows, width)`` -> ``(dates, rows * width)``; a view for sliced C arrays."""
    out = block.reshape(block.shape[0], -1)
    if out.dtype == np.bool_:
        out = out.view(np.uint8)
    return out


def _lut(clear: Sequence[int] | None) -> np.ndarray[Any, np.dtype[np.bool_]]:
    lut = np.zeros(256, dtype=np.bool_)
    if clear is None:  # a boolean mask: 1 is clear
        lut[1] = True
    else:
        lut[np.asarray(list(clear), dtype=np.int64)] = True
    return lut


# --- the driver --------------------------------------------------------------------------------


def _run(
    load: Loader,
    *,
    nt: int,
    pixels: ParcelPixels,
    plans: Sequence[_IndexPlan],
    scaling: Mapping[str, _Scaling],
    mask_var: str | None,
    lut: np.ndarray[Any, Any],
    stats: Sequence[str],
    window_dates: int | Sequence[int] | None,
    window_rows: int | None,
) -> dict[str, FloatArray]:
    names, quantiles = _parse_stats(stats)
    want_std = "std" in names
    n = len(pixels)
    outs = {p.name: np.full((n, nt, zk.N_FIXED + quantiles.size), np.nan) for p in plans}
    width = pixels.shape[1]
    all_true = np.ones(256, dtype=np.bool_)
    for t0, t1 in _time_blocks(nt, window_dates):
        for r0, r1, parcels in _strips(pixels, window_rows):
            shift = r0 * width
            needed = sorted({b for p in plans for b in p.bands})
            if mask_var is not None:
                needed.append(mask_var)
            blocks = {v: _flat(load(v, t0, t1, r0, r1)) for v in needed}
            if mask_var is None:
                q = np.ones((t1 - t0, (r1 - r0) * width), dtype=np.uint8)
                lut_used = all_true
            else:
                q, lut_used = blocks[mask_var], lut
            for plan in plans:
                out = outs[plan.name]
                if plan.mode in (zk.MODE_ND, zk.MODE_VALUE):
                    a = blocks[plan.bands[0]]
                    b = blocks[plan.bands[-1]]
                    sc = scaling[plan.bands[0]]
                    zk.block_stats(
                        a, b, q, lut_used, sc.add[t0:t1], sc.mul, sc.nodata, plan.mode,
                        parcels, pixels.offsets, pixels.index, pixels.weight, shift,
                        quantiles, want_std, out, t0, pixels.weighting == "coverage",
                    )  # fmt: skip
                else:
                    _gathered_stats(
                        blocks=blocks,
                        q=q,
                        lut=lut_used,
                        scaling=scaling,
                        plan=plan,
                        pixels=pixels,
                        parcels=parcels,
                        shift=shift,
                        quantiles=quantiles,
                        want_std=want_std,
                        out=out,
                        t0=t0,
                    )
    result: dict[str, FloatArray] = {}
    total = pixels.coverage
    for plan in plans:
        out = outs[plan.name]
        for s in names:
            if s == "mean":
                col = zk.COL_MEAN
            elif s == "std":
                col = zk.COL_STD
            else:
                col = zk.N_FIXED + [k for k in names if k not in ("mean", "std")].index(s)
            result[f"{plan.name}_{s}"] = out[:, :, col]
        with np.errstate(invalid="ignore", divide="ignore"):
            vf = out[:, :, zk.COL_VALID_WEIGHT] / total[:, None]
        if "valid_fraction" not in result:
            result["valid_fraction"] = np.where(total[:, None] > 0, vf, np.nan)
    return result


def _gathered_stats(
    *,
    blocks: Mapping[str, np.ndarray[Any, Any]],
    q: np.ndarray[Any, Any],
    lut: np.ndarray[Any, Any],
    scaling: Mapping[str, _Scaling],
    plan: _IndexPlan,
    pixels: ParcelPixels,
    parcels: IntArray,
    shift: int,
    quantiles: FloatArray,
    want_std: bool,
    out: FloatArray,
    t0: int,
) -> None:
    """Indices other than a normalised difference: gather the bands at the parcels' pixels only,
    evaluate the formula of :mod:`agrilend.remote_sensing.indices` there, then reduce."""
    sub = pixels.subset(parcels)
    nt = q.shape[0]
    bands: dict[str, FloatArray] = {}
    for band in plan.bands:
        sc = scaling[band]
        vals = np.empty((sub.index.size, nt), dtype=np.float64)
        blk = blocks[band]
        zk.gather_values(
            blk, blk, q, lut, sc.add[t0 : t0 + nt], sc.mul, sc.nodata, zk.MODE_VALUE,
            sub.index, shift, vals, 0,
        )  # fmt: skip
        bands[band] = vals
    values = np.ascontiguousarray(index_from_arrays(plan.name, bands).T)
    part = np.full((len(sub), nt, out.shape[2]), np.nan)
    ones = np.ones(values.shape, dtype=np.uint8)
    zk.block_stats(
        values, values, ones, _lut(None), np.zeros(nt), 1.0, np.nan, zk.MODE_VALUE,
        np.arange(len(sub), dtype=np.int64), sub.offsets,
        np.arange(sub.index.size, dtype=np.int64), sub.weight, 0, quantiles, want_std, part, 0,
        pixels.weighting == "coverage",
    )  # fmt: skip
    out[parcels, t0 : t0 + nt] = part


# --- low-level entry ---------------------------------------------------------------------------


def zonal_index_stats(
    bands: Mapping[str, np.ndarray[Any, Any]],
    mask: np.ndarray[Any, Any] | None,
    pixels: ParcelPixels,
    *,
    index: str = "NDVI",
    stats: Sequence[str] = DEFAULT_STATS,
    scale: float = 1e-4,
    offset: float | Sequence[float] = 0.0,
    nodata: float | None = 0,
    clear_classes: Sequence[int] = SCL_CLEAR,
    window_dates: int | None = None,
    window_rows: int | None = None,
) -> dict[str, FloatArray]:
    """Parcel statistics of one index straight from raw band arrays and a mask, in one pass.

    Parameters
    ----------
    bands
        Arrays ``(time, y, x)`` by band name (``B04``, ``B08``, ...): uint16 digital numbers or
        float reflectance, on the grid of ``pixels``.
    mask
        ``(time, y, x)``: the SCL layer (uint8 classes; ``clear_classes`` are kept), or a boolean
        "valid" mask, or None (every pixel clear).
    pixels
        The parcels' pixel table from :func:`parcel_pixels`.
    index
        Index name from :data:`agrilend.remote_sensing.indices.INDICES`.
    stats
        ``mean``, ``std``, ``median`` and percentiles ``pNN``.
    scale, offset
        Reflectance is ``raw * scale + offset``; ``offset`` may be one value per date. For L2A
        digital numbers of baseline 04.00+ that is ``scale=1e-4, offset=-0.1``. Use
        ``scale=1, offset=0`` for reflectance.
    nodata
        Raw value that marks no data (0 for L2A digital numbers); None for none.
    clear_classes
        SCL classes counted as clear when ``mask`` holds classes.
    window_dates, window_rows
        Process this many dates / rows of the raster at a time (all when None).

    Returns
    -------
    dict
        ``{INDEX}_{stat}`` and ``valid_fraction`` arrays ``(parcel, time)`` in ``pixels`` order.

    Examples
    --------
    >>> import numpy as np, geopandas as gpd
    >>> from affine import Affine
    >>> from shapely import box
    >>> px = parcel_pixels(gpd.GeoSeries([box(0, -20, 20, 0)]),
    ...                    transform=Affine(10, 0, 0, 0, -10, 0), shape=(2, 2))
    >>> red = np.full((1, 2, 2), 2000, "uint16"); nir = np.full((1, 2, 2), 4000, "uint16")
    >>> scl = np.array([[[4, 4], [4, 9]]], "uint8")  # one cloudy pixel
    >>> out = zonal_index_stats({"B04": red, "B08": nir}, scl, px, offset=-0.1, stats=("mean",))
    >>> round(float(out["NDVI_mean"][0, 0]), 4), float(out["valid_fraction"][0, 0])
    (0.5, 0.75)
    """
    if not bands:
        raise MissingBandError("no band arrays were given; pass e.g. {'B04': red, 'B08': nir}")
    first = next(iter(bands.values()))
    nt = first.shape[0]
    if first.shape[1:] != pixels.shape:
        raise ImageryReadError(
            f"band arrays have grid {first.shape[1:]} but the parcel pixels were found on "
            f"{pixels.shape}; compute parcel_pixels on the imagery's own grid"
        )
    plan = _index_plan(index, list(bands))
    offs = np.broadcast_to(np.asarray(offset, dtype=np.float64), (nt,))
    nod = np.nan if nodata is None else float(nodata)
    scaling = {b: _Scaling(offs / scale, float(scale), nod) for b in bands}
    arrays: dict[str, np.ndarray[Any, Any]] = dict(bands)
    mask_var: str | None = None
    clear: Sequence[int] | None = clear_classes
    if mask is not None:
        mask_var = "__mask__"
        arrays[mask_var] = mask
        if mask.dtype == np.bool_:
            clear = None

    def load(var: str, t0: int, t1: int, r0: int, r1: int) -> np.ndarray[Any, Any]:
        return np.asarray(arrays[var][t0:t1, r0:r1, :])

    return _run(
        load,
        nt=nt,
        pixels=pixels,
        plans=[plan],
        scaling=scaling,
        mask_var=mask_var,
        lut=_lut(clear),
        stats=stats,
        window_dates=window_dates,
        window_rows=window_rows,
    )


# --- per-pixel values --------------------------------------------------------------------------


def pixel_values(
    cube: xr.Dataset,
    pixels: ParcelPixels,
    *,
    index: str = "NDVI",
    masked: bool = True,
    window_dates: int | None = None,
) -> FloatArray:
    """The value of an index (or a band) at every entry of a pixel table, for every date.

    Parameters
    ----------
    cube
        Contract cube, as for :func:`zonal_series` (digital numbers are scaled).
    pixels
        Pixel table on the cube's grid.
    index
        Index name of :data:`~agrilend.remote_sensing.indices.INDICES`, or a band name
        (``B02``...) for its reflectance.
    masked
        NaN where the pixel is not clear (``valid``, else SCL); with False only no-data is NaN.
    window_dates
        Read this many dates at a time (the time chunks for dask cubes).

    Returns
    -------
    numpy.ndarray
        float64 ``(len(pixels.index), time)``, NaN where masked or undefined.

    Examples
    --------
    >>> import numpy as np, geopandas as gpd
    >>> from affine import Affine
    >>> from shapely import box
    >>> from agrilend.remote_sensing.contract import make_cube
    >>> tr = Affine(10, 0, 0, 0, -10, 0)
    >>> cube = make_cube({"B04": np.full((1, 2, 2), 0.1), "B08": np.full((1, 2, 2), 0.3)},
    ...                  times=["2024-06-01"], transform=tr, crs="EPSG:32650")
    >>> px = parcel_pixels(gpd.GeoSeries([box(0, -10, 20, 0)]), transform=tr, shape=(2, 2))
    >>> pixel_values(cube, px).round(2).tolist()
    [[0.5], [0.5]]
    """
    nt = cube.sizes["time"]
    available = [str(v) for v in cube.data_vars]
    if index in available and index.upper() not in INDICES:
        plan = _IndexPlan(index, (index,), zk.MODE_VALUE)
    else:
        plan = _index_plan(index, available)
    mask_var, clear = _mask_of(cube) if masked else (None, None)
    lut = _lut(clear)
    variables = list(plan.bands) + ([mask_var] if mask_var else [])
    arrays = {v: cube[v].transpose("time", "y", "x").data for v in variables}
    if window_dates is None and any(not isinstance(a, np.ndarray) for a in arrays.values()):
        window_dates = int(max(cube[variables[0]].chunksizes["time"]))
    out = np.full((pixels.index.size, nt), np.nan)
    if pixels.index.size == 0:
        return out
    width = pixels.shape[1]
    r0 = int(pixels.index.min() // width)
    r1 = int(pixels.index.max() // width) + 1
    shift = r0 * width
    for t0, t1 in _time_blocks(nt, window_dates):
        parts = dask.compute(*(arrays[v][t0:t1, r0:r1, :] for v in variables))
        blocks = {v: _flat(np.asarray(p)) for v, p in zip(variables, parts, strict=True)}
        q = blocks[mask_var] if mask_var else np.ones_like(blocks[plan.bands[0]], dtype=np.uint8)
        use_lut = lut if mask_var else np.ones(256, dtype=np.bool_)
        if plan.mode in (zk.MODE_ND, zk.MODE_VALUE):
            sc = _cube_scaling(cube, plan.bands[0])
            a, b = blocks[plan.bands[0]], blocks[plan.bands[-1]]
            zk.gather_values(
                a, b, q, use_lut, sc.add[t0:t1], sc.mul, sc.nodata, plan.mode, pixels.index,
                shift, out, t0,
            )  # fmt: skip
            continue
        bands: dict[str, FloatArray] = {}
        for band in plan.bands:
            sc = _cube_scaling(cube, band)
            vals = np.empty((pixels.index.size, t1 - t0))
            blk = blocks[band]
            zk.gather_values(
                blk, blk, q, use_lut, sc.add[t0:t1], sc.mul, sc.nodata, zk.MODE_VALUE,
                pixels.index, shift, vals, 0,
            )  # fmt: skip
            bands[band] = vals
        out[:, t0:t1] = index_from_arrays(plan.name, bands)
    return out


def _mask_of(cube: xr.Dataset) -> tuple[str | None, Sequence[int] | None]:
    """Which variable masks the cube, and the clear SCL classes (None for a boolean mask)."""
    if "valid" in cube.data_vars:
        return "valid", None
    if "SCL" in cube.data_vars:
        return "SCL", SCL_CLEAR
    logger.warning("the cube has neither 'valid' nor 'SCL': every pixel counts as clear")
    return None, None


# --- high-level entry --------------------------------------------------------------------------


def _cube_scaling(cube: xr.Dataset, var: str) -> _Scaling:
    mul, add, nodata = dn_scaling(cube, var)
    return _Scaling(add, mul, nodata)


def _check_inputs(cube: xr.Dataset, titles: gpd.GeoDataFrame) -> None:
    missing = [d for d in ("time", "y", "x") if d not in cube.dims]
    if missing:
        raise ImageryReadError(
            f"the cube lacks dims {missing}; open it with agrilend.remote_sensing.open_cube"
        )
    crs = cube.rio.crs
    if crs is None:
        raise MissingCRSError("the cube has no CRS; write one with cube.rio.write_crs(...)")
    if titles.crs is None:
        raise MissingCRSError(
            "the titles have no CRS; set it (titles.set_crs(...)) or read them with read_titles"
        )
    if not titles.crs.equals(crs):
        raise CRSMismatchError(
            f"titles are in {titles.crs.to_string()} but the cube is in {crs.to_string()}; "
            f"reproject the titles with titles.to_crs({crs.to_string()!r})"
        )


def _grid_transform(cube: xr.Dataset) -> Affine:
    with warnings.catch_warnings():
        # rioxarray composes affines with `*`, which affine >= 3 flags as pending deprecation;
        # the result is right and the warning is not ours to fix
        warnings.filterwarnings("ignore", "Use `@` matmul", PendingDeprecationWarning)
        return cube.rio.transform()


def _dask_window(cube: xr.Dataset, var: str) -> tuple[list[int] | None, int | None]:
    chunks = cube[var].chunksizes
    if not chunks:
        return None, None
    t_chunks = list(chunks["time"])
    y_chunk = int(max(chunks["y"]))
    return t_chunks, (None if y_chunk >= cube.sizes["y"] else y_chunk)


def zonal_series(
    cube: xr.Dataset,
    titles: gpd.GeoDataFrame,
    *,
    indices: Sequence[str] = ("NDVI",),
    stats: Sequence[str] = DEFAULT_STATS,
    weighting: Weighting = "coverage",
    inner_buffer_m: float = 0.0,
    pixels: ParcelPixels | None = None,
    window_dates: int | None = None,
    window_rows: int | None = None,
) -> xr.Dataset:
    """Per parcel and date statistics of spectral indices: the parcel series.

    Parameters
    ----------
    cube
        Contract cube ``(time, y, x)`` with a CRS: bands in reflectance (float) or in digital
        numbers (integers, scaled by their ``scale_factor``/``add_offset`` attrs or the cube's
        ``boa_*`` attrs), a boolean ``valid`` (else the ``SCL`` layer is used, else all pixels
        count). numpy- or dask-backed; dask cubes are read one block of dates (their time
        chunks) and one strip of rows at a time, never whole.
    titles
        Parcels with ``parcel_id`` and polygon geometry in the cube's CRS.
    indices
        Index names (``NDVI``, ``NDWI``, ``NDRE``, ``EVI``, ``SAVI``); a precomputed variable of
        that name is used when the bands are absent.
    stats
        ``mean``, ``std``, ``median``, percentiles ``pNN`` — over clear pixels, weighted.
    weighting, inner_buffer_m
        See :func:`parcel_pixels`.
    pixels
        A pixel table computed before on the same grid and titles (skips that step).
    window_dates, window_rows
        Read this many dates / rows at a time (default: all for numpy, the chunks for dask).

    Returns
    -------
    xarray.Dataset
        dims ``(parcel, time)``: ``{INDEX}_{stat}``, ``valid_fraction`` (clear share of the
        parcel's weight; NaN for a parcel with no pixel), and per parcel ``pixel_count`` and
        ``coverage_area_ha``.

    Raises
    ------
    CRSMismatchError, MissingCRSError, MissingBandError, ImageryReadError

    Examples
    --------
    >>> import numpy as np, geopandas as gpd
    >>> from affine import Affine
    >>> from shapely import box
    >>> from agrilend.remote_sensing.contract import make_cube
    >>> tr = Affine(10, 0, 0, 0, -10, 0)
    >>> cube = make_cube({"B04": np.full((2, 3, 3), 0.05), "B08": np.full((2, 3, 3), 0.45)},
    ...                  times=["2024-06-01", "2024-06-06"], transform=tr, crs="EPSG:32650")
    >>> titles = gpd.GeoDataFrame({"parcel_id": ["a"]}, geometry=[box(5, -25, 25, -5)],
    ...                           crs="EPSG:32650")
    >>> ds = zonal_series(cube, titles, stats=("mean", "p50"))
    >>> ds["NDVI_mean"].values.round(3).tolist(), float(ds["coverage_area_ha"][0])
    ([[0.8, 0.8]], 0.04)
    """
    _check_inputs(cube, titles)
    nt, h, w = cube.sizes["time"], cube.sizes["y"], cube.sizes["x"]
    transform = _grid_transform(cube)
    if pixels is None:
        pixels = parcel_pixels(
            titles, transform=transform, shape=(h, w), weighting=weighting,
            inner_buffer_m=inner_buffer_m,
        )  # fmt: skip
    elif pixels.shape != (h, w) or len(pixels) != len(titles):
        raise ImageryReadError(
            f"the pixel table given ({len(pixels)} parcels on a {pixels.shape} grid) does not "
            f"fit these titles ({len(titles)}) and cube ({h}x{w}); recompute it with "
            "parcel_pixels"
        )
    available = [str(v) for v in cube.data_vars]
    plans = [_index_plan(name, available) for name in indices]
    read = sorted({b for p in plans for b in p.bands})
    scaling = {v: _cube_scaling(cube, v) for v in read}
    mask_var, clear = _mask_of(cube)
    variables = read + ([mask_var] if mask_var else [])
    arrays = {v: cube[v].transpose("time", "y", "x").data for v in variables}
    is_dask = any(not isinstance(a, np.ndarray) for a in arrays.values())
    dates: int | Sequence[int] | None = window_dates
    if is_dask:
        t_chunks, y_chunk = _dask_window(cube, variables[0])
        dates = window_dates if window_dates is not None else t_chunks
        window_rows = window_rows if window_rows is not None else y_chunk

    cache: dict[tuple[int, int, int, int], dict[str, np.ndarray[Any, Any]]] = {}

    def load(var: str, t0: int, t1: int, r0: int, r1: int) -> np.ndarray[Any, Any]:
        if not is_dask:
            return np.asarray(arrays[var][t0:t1, r0:r1, :])
        key = (t0, t1, r0, r1)
        if key not in cache:  # one compute per window, shared by all its variables
            cache.clear()
            parts = dask.compute(*(arrays[v][t0:t1, r0:r1, :] for v in variables))
            cache[key] = {v: np.asarray(p) for v, p in zip(variables, parts, strict=True)}
        return cache[key][var]

    result = _run(
        load,
        nt=nt,
        pixels=pixels,
        plans=plans,
        scaling=scaling,
        mask_var=mask_var,
        lut=_lut(clear),
        stats=stats,
        window_dates=dates,
        window_rows=window_rows,
    )
    dims = ("parcel", "time")
    data_vars: dict[str, Any] = {k: (dims, v) for k, v in result.items()}
    data_vars["pixel_count"] = ("parcel", pixels.pixel_count)
    data_vars["coverage_area_ha"] = ("parcel", pixels.coverage * pixels.pixel_area_m2 / 1e4)
    ds = xr.Dataset(
        data_vars,
        coords={"parcel": pixels.parcel_ids.astype(str), "time": cube.indexes["time"]},
        attrs={
            "weighting": pixels.weighting,
            "inner_buffer_m": pixels.inner_buffer_m,
            "indices": ",".join(p.name for p in plans),
            "crs": cube.rio.crs.to_string(),
        },
    )
    ds["valid_fraction"].attrs["long_name"] = "clear share of the parcel's weight"
    return ds


__all__ = ["DEFAULT_STATS", "SCL_CLEAR", "pixel_values", "zonal_index_stats", "zonal_series"]
