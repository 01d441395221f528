"""Cultivated area per parcel from per-pixel seasonality, and declared-vs-observed checks.

A pixel counts as cultivated when, over the season, it behaved as cropland. Its clear NDVI
observations are cleaned (residual-cloud dips removed, put on a 5-day grid and smoothed with
:func:`agrilend.remote_sensing.timeseries.clean_series`), then one of three rules holds:

- **crop season**: the smoothed curve rises by at least ``min_amplitude`` and peaks at
  ``min_peak`` or more (a sown and harvested crop; weeds on idle land grow in low, short
  flushes that rarely reach both);
- **perennial cover**: the curve never drops below ``perennial_floor`` and peaks at ``min_peak``
  or more (an orchard keeps its trees and grass strip all year);
- **greenhouse plastic**: over all dates (cloud flags ignored, because scene classification
  often mistakes plastic for cloud), the median blue reflectance is at least ``plastic_blue`` and
  the median NDVI at most ``plastic_ndvi_max``: a bright, grey, persistent roof that bare soil
  never shows.

The parcel's cultivated area is the coverage-weighted area of its cultivated pixels; its
``area_ratio`` is that over the declared area; ``area_flag`` is, in this order,
``not_cultivated`` (cultivated share of the parcel below ``not_cultivated_below``),
``partly_abandoned`` (share below ``partly_below`` and ratio below ``over_declared_below``),
``over_declared`` (the land is worked but the declared area exceeds it: ratio below
``over_declared_below``), else ``ok``.
"""

from __future__ import annotations

import logging
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrilend.parcels.pixels import ParcelPixels, parcel_pixels
from agrilend.parcels.zonal import _check_inputs, _grid_transform, pixel_values
from agrilend.remote_sensing.timeseries import season_range

logger = logging.getLogger(__name__)

AREA_FLAGS = ("ok", "over_declared", "partly_abandoned", "not_cultivated")
FloatArray = np.ndarray[Any, np.dtype[np.float64]]
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


def _row_nanmedian(values: np.ndarray[Any, Any]) -> FloatArray:
    """``np.nanmedian(values, axis=1)`` (NaN for an all-NaN row, no warning), by one sort.

    NaN sorts last, so a row's ``k`` finite values are its first ``k`` after sorting and the
    median is the middle one, or the mean of the middle two, as numpy takes it.
    """
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    srt = np.sort(values, axis=1)
    k = np.isfinite(values).sum(axis=1)
    rows = np.arange(values.shape[0])
    lo = srt[rows, np.maximum((k - 1) // 2, 0)]
    hi = srt[rows, np.maximum(k // 2, 0)]
    with np.errstate(invalid="ignore"):
        out = np.where(k % 2 == 1, lo, (lo + hi) / 2.0)
    return np.where(k > 0, out, np.nan)


def cultivated_pixels(
    cube: xr.Dataset,
    pixels: ParcelPixels,
    *,
    min_amplitude: float = 0.3,
    min_peak: float = 0.5,
    perennial_floor: float = 0.35,
    plastic_blue: float = 0.15,
    plastic_ndvi_max: float = 0.35,
) -> BoolArray:
    """Which entries of a pixel table behaved as cropland over the cube's dates.

    See the module notes for the three rules. Returns one boolean per entry of
    ``pixels.index``; a pixel never seen clear is not cultivated (unless it is plastic).

    Examples
    --------
    >>> import numpy as np, geopandas as gpd, pandas as pd
    >>> from affine import Affine
    >>> from shapely import box
    >>> from agrilend.remote_sensing.contract import make_cube
    >>> t = pd.date_range("2024-03-01", periods=30, freq="5D")
    >>> season = 0.2 + 0.6 * np.exp(-(((np.arange(30) - 15) / 5.0) ** 2))
    >>> nir = np.full((30, 1, 2), 0.3)
    >>> ndvi = np.stack([np.array([[s, 0.2]]) for s in season])  # one crop pixel, one bare
    >>> red = nir * (1 - ndvi) / (1 + ndvi)
    >>> tr = Affine(10, 0, 0, 0, -10, 0)
    >>> cube = make_cube({"B04": red, "B08": nir}, times=t, transform=tr, crs="EPSG:32650")
    >>> px = parcel_pixels(gpd.GeoSeries([box(0, -10, 20, 0)]), transform=tr, shape=(1, 2))
    >>> cultivated_pixels(cube, px).tolist()
    [True, False]
    """
    if pixels.index.size == 0:
        return np.zeros(0, dtype=bool)
    # a pixel under the edge of two parcels is one series: judged once, answered for both
    uniq, entry_of = np.unique(np.asarray(pixels.index), return_inverse=True)
    uniq = uniq.astype(pixels.index.dtype)
    if uniq.size < pixels.index.size:
        once = ParcelPixels(
            np.asarray(["pixels"], dtype=object), np.asarray([0, uniq.size], dtype=np.int64),
            uniq, np.ones(uniq.size), pixels.shape, pixels.transform, pixels.weighting,
            pixels.inner_buffer_m,
        )  # fmt: skip
        judged = cultivated_pixels(
            cube, once, min_amplitude=min_amplitude, min_peak=min_peak,
            perennial_floor=perennial_floor, plastic_blue=plastic_blue,
            plastic_ndvi_max=plastic_ndvi_max,
        )  # fmt: skip
        return np.asarray(judged[entry_of.reshape(-1)])
    times = pd.DatetimeIndex(cube.indexes["time"])
    ndvi = pixel_values(cube, pixels, index="NDVI")
    # the cleaned curve's range (clean_series' chain) without making the curves
    top, low = season_range(ndvi, times, step="5D")
    seen = np.isfinite(top)
    crop = seen & (top - np.where(seen, low, 0.0) >= min_amplitude) & (top >= min_peak)
    perennial = seen & (low >= perennial_floor) & (top >= min_peak)
    plastic = np.zeros_like(crop)
    if "B02" in cube.data_vars:
        blue = pixel_values(cube, pixels, index="B02", masked=False)
        # a median at or above the threshold needs half the values there: only those pixels
        # (a greenhouse's few) have their medians taken
        seen_blue = np.isfinite(blue).sum(axis=1)
        maybe = np.flatnonzero(
            (seen_blue > 0) & (2 * (blue >= plastic_blue).sum(axis=1) >= seen_blue)
        )
        if maybe.size:
            few = ParcelPixels(
                np.asarray(["plastic"], dtype=object), np.asarray([0, maybe.size], dtype=np.int64),
                pixels.index[maybe], np.ones(maybe.size), pixels.shape, pixels.transform,
                pixels.weighting, pixels.inner_buffer_m,
            )  # fmt: skip
            green = _row_nanmedian(pixel_values(cube, few, masked=False))
            plastic[maybe] = (_row_nanmedian(blue[maybe]) >= plastic_blue) & (
                green <= plastic_ndvi_max
            )
    logger.debug(
        "cultivated pixels: %d crop season, %d perennial, %d plastic of %d",
        int(crop.sum()), int(perennial.sum()), int(plastic.sum()), crop.size,
    )  # fmt: skip
    return np.asarray(crop | perennial | plastic)


def cultivated_area(
    cube: xr.Dataset,
    titles: gpd.GeoDataFrame,
    *,
    pixels: ParcelPixels | None = None,
    season: tuple[Any, Any] | None = None,
    min_amplitude: float = 0.3,
    min_peak: float = 0.5,
    perennial_floor: float = 0.35,
    plastic_blue: float = 0.15,
    not_cultivated_below: float = 0.5,
    partly_below: float = 0.85,
    over_declared_below: float = 0.85,
) -> pd.DataFrame:
    """Per parcel: the area that behaved as cropland in the season, against the declared area.

    Parameters
    ----------
    cube
        Contract cube over the season (reflectance or digital numbers; ``valid`` or ``SCL``);
        ``B04`` and ``B08`` (or a precomputed ``NDVI``); ``B02`` enables the greenhouse rule.
    titles
        Titles with ``parcel_id``, geometry in the cube's CRS and ``declared_area_ha`` (without
        it ``area_ratio`` is NaN and only ``not_cultivated`` / ``ok`` can be flagged).
    pixels
        A coverage-weighted pixel table from :func:`parcel_pixels`, to reuse.
    season
        ``(start, end)`` dates to look at; default the whole cube.
    min_amplitude, min_peak, perennial_floor, plastic_blue
        Pixel rules, see the module notes (NDVI units; blue reflectance).
    not_cultivated_below, partly_below, over_declared_below
        Flag thresholds on the cultivated share of the parcel and on ``area_ratio``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``parcel_id``: ``cultivated_area_ha``, ``cultivated_fraction`` (of the
        parcel's mapped area), ``mapped_area_ha`` (the parcel's area on the grid),
        ``declared_area_ha``, ``area_ratio`` (cultivated / declared), ``area_flag``.

    Examples
    --------
    >>> import numpy as np, geopandas as gpd, pandas as pd
    >>> from affine import Affine
    >>> from shapely import box
    >>> from agrilend.remote_sensing.contract import make_cube
    >>> t = pd.date_range("2024-03-01", periods=30, freq="5D")
    >>> season = 0.2 + 0.6 * np.exp(-(((np.arange(30) - 15) / 5.0) ** 2))
    >>> ndvi = np.broadcast_to(season[:, None, None], (30, 2, 4)).copy()
    >>> ndvi[:, :, 2:] = 0.2  # the east half lies idle
    >>> nir = np.full_like(ndvi, 0.3); red = nir * (1 - ndvi) / (1 + ndvi)
    >>> tr = Affine(10, 0, 0, 0, -10, 0)
    >>> cube = make_cube({"B04": red, "B08": nir}, times=t, transform=tr, crs="EPSG:32650")
    >>> titles = gpd.GeoDataFrame(
    ...     {"parcel_id": ["a", "b"], "declared_area_ha": [0.04, 0.08]},
    ...     geometry=[box(0, -20, 20, 0), box(0, -20, 40, 0)], crs="EPSG:32650")
    >>> out = cultivated_area(cube, titles)
    >>> out["cultivated_area_ha"].round(3).tolist(), out["area_ratio"].round(2).tolist()
    ([0.04, 0.04], [1.0, 0.5])
    >>> out["area_flag"].tolist()
    ['ok', 'partly_abandoned']
    """
    _check_inputs(cube, titles)
    if season is not None:
        cube = cube.sel(time=slice(*season))
    if pixels is None:
        pixels = parcel_pixels(
            titles, transform=_grid_transform(cube), shape=(cube.sizes["y"], cube.sizes["x"])
        )
    elif len(pixels) != len(titles):
        raise ValueError(
            f"the pixel table holds {len(pixels)} parcels but {len(titles)} titles were given; "
            "recompute it with parcel_pixels(titles, ...)"
        )
    cult = cultivated_pixels(
        cube, pixels, min_amplitude=min_amplitude, min_peak=min_peak,
        perennial_floor=perennial_floor, plastic_blue=plastic_blue,
    )  # fmt: skip
    owner = pixels.parcel_of_entry()
    n = len(pixels)
    pixel_ha = pixels.pixel_area_m2 / 1e4
    mapped = pixels.coverage * pixel_ha
    cultivated = np.bincount(owner, weights=pixels.weight * cult, minlength=n) * pixel_ha
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(mapped > 0, cultivated / mapped, np.nan)
        if "declared_area_ha" in titles.columns:
            declared = titles["declared_area_ha"].to_numpy(dtype=float)
        else:
            declared = np.full(n, np.nan)
        ratio = np.where(declared > 0, cultivated / declared, np.nan)
    flag = np.full(n, "ok", dtype=object)
    short = ratio < over_declared_below
    flag[short] = "over_declared"
    flag[short & (fraction < partly_below)] = "partly_abandoned"
    flag[fraction < not_cultivated_below] = "not_cultivated"
    out = pd.DataFrame(
        {
            "cultivated_area_ha": cultivated,
            "cultivated_fraction": fraction,
            "mapped_area_ha": mapped,
            "declared_area_ha": declared,
            "area_ratio": ratio,
            "area_flag": pd.Categorical(flag, categories=list(AREA_FLAGS)),
        },
        index=pd.Index(pixels.parcel_ids.astype(str), name="parcel_id"),
    )
    out["area_flag"] = out["area_flag"].astype(str)
    return out


__all__ = ["AREA_FLAGS", "cultivated_area", "cultivated_pixels"]
