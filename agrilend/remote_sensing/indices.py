"""Spectral indices from reflectance bands: one table of formulas, used on numpy or on cubes.

The arithmetic lives in :data:`INDICES` only: each entry names the bands it needs, the function
that computes it on plain arrays of any shape, and the index's range. The cube functions
(:func:`ndvi`, :func:`compute_index`, ...) and any fused kernel elsewhere (the zonal engine) call
the same :func:`index_from_arrays`, so a formula is written once.

Every index is NaN where an input is NaN, where the denominator is zero, and (for cubes) where
the pixel is not ``valid``; values are clipped to the index's range.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr

from agrilend.errors import MissingBandError

logger = logging.getLogger(__name__)

FloatArray = np.ndarray[Any, np.dtype[np.floating[Any]]]
IndexName = Literal["NDVI", "EVI", "NDRE", "NDWI", "SAVI"]

#: Soil brightness correction of SAVI (Huete 1988).
SAVI_L = 0.5


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """``num / den``, NaN where ``den`` is zero or either side is NaN; never warns."""
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    safe = np.where(den == 0, np.nan, den)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(num / safe)


def normalized_difference(a: FloatArray, b: FloatArray) -> FloatArray:
    """``(a - b) / (a + b)``, NaN where ``a + b == 0`` or an input is NaN.

    Examples
    --------
    >>> import numpy as np
    >>> normalized_difference(np.array([0.4, 0.0, np.nan]), np.array([0.1, 0.0, 0.2])).round(2)
    array([0.6, nan, nan])
    """
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    return _ratio(a - b, a + b)


def _evi(b08: FloatArray, b04: FloatArray, b02: FloatArray) -> FloatArray:
    b08, b04, b02 = (np.asarray(v, dtype="float64") for v in (b08, b04, b02))
    return _ratio(2.5 * (b08 - b04), b08 + 6.0 * b04 - 7.5 * b02 + 1.0)


def _savi(b08: FloatArray, b04: FloatArray) -> FloatArray:
    b08, b04 = (np.asarray(v, dtype="float64") for v in (b08, b04))
    return _ratio((1.0 + SAVI_L) * (b08 - b04), b08 + b04 + SAVI_L)


@dataclass(frozen=True)
class IndexFormula:
    """One spectral index: the bands it reads (in argument order), its function and range."""

    name: str
    bands: tuple[str, ...]
    func: Callable[..., FloatArray]
    valid_range: tuple[float, float]
    description: str


#: The index table. ``func(*arrays)`` takes the bands in ``bands`` order, any shape.
INDICES: dict[str, IndexFormula] = {
    "NDVI": IndexFormula(
        "NDVI", ("B08", "B04"), normalized_difference, (-1.0, 1.0),
        "normalized difference vegetation index (NIR, red)",
    ),
    "EVI": IndexFormula(
        "EVI", ("B08", "B04", "B02"), _evi, (-1.0, 1.0),
        "enhanced vegetation index, 2.5 (NIR - red) / (NIR + 6 red - 7.5 blue + 1)",
    ),
    "NDRE": IndexFormula(
        "NDRE", ("B08", "B05"), normalized_difference, (-1.0, 1.0),
        "normalized difference red-edge index (NIR, red edge 705 nm)",
    ),
    "NDWI": IndexFormula(
        "NDWI", ("B03", "B08"), normalized_difference, (-1.0, 1.0),
        "normalized difference water index of McFeeters (green, NIR)",
    ),
    "SAVI": IndexFormula(
        "SAVI", ("B08", "B04"), _savi, (-1.0, 1.0),
        "soil-adjusted vegetation index, L = 0.5",
    ),
}  # fmt: skip


def _formula(name: str) -> IndexFormula:
    key = name.upper()
    if key not in INDICES:
        raise ValueError(f"unknown index {name!r}; choose one of {sorted(INDICES)}")
    return INDICES[key]


def index_from_arrays(name: str, bands: Mapping[str, Any]) -> FloatArray:
    """Compute index ``name`` from reflectance arrays (any shape, broadcastable).

    The one place the formulas are evaluated; the result is float64, NaN where an input is NaN
    or the denominator is zero, clipped to the index's range.

    Parameters
    ----------
    name
        One of ``NDVI``, ``EVI``, ``NDRE``, ``NDWI``, ``SAVI`` (case-insensitive).
    bands
        Reflectance arrays by band name; needs at least the bands of :data:`INDICES` ``[name]``.

    Examples
    --------
    >>> import numpy as np
    >>> float(index_from_arrays("ndvi", {"B08": np.array(0.5), "B04": np.array(0.1)}).round(3))
    0.667
    """
    f = _formula(name)
    missing = [b for b in f.bands if b not in bands]
    if missing:
        raise MissingBandError(
            f"index {f.name} needs bands {list(f.bands)}; {missing} missing from the inputs "
            f"({sorted(bands)}); load the imagery with those bands",
            band=missing[0],
        )
    out = f.func(*(bands[b] for b in f.bands))
    lo, hi = f.valid_range
    # clip keeps NaN as NaN
    return np.clip(out, lo, hi)


def compute_index(cube: xr.Dataset, name: str, *, use_valid: bool = True) -> xr.DataArray:
    """Compute a spectral index on a cube; NaN where the pixel is not ``valid``.

    Dask-backed cubes stay lazy. When the bands are absent but the cube ships the index itself
    (e.g. a precomputed ``NDVI`` variable), that variable is used, masked the same way.

    Parameters
    ----------
    cube
        A contract cube (``time, y, x``; bands in reflectance; ``valid``).
    name
        Index name, see :data:`INDICES`.
    use_valid
        Set NaN where ``cube.valid`` is False (default). Turn off to see the raw index.

    Returns
    -------
    xarray.DataArray
        float32, named after the index, with ``valid_range`` in attrs.

    Raises
    ------
    MissingBandError
        When a band is missing and no precomputed variable of that name exists.

    Examples
    --------
    >>> from agrilend.remote_sensing.contract import make_cube
    >>> import numpy as np
    >>> from affine import Affine
    >>> b4 = np.full((1, 2, 2), 0.1, "float32"); b8 = np.full((1, 2, 2), 0.5, "float32")
    >>> cube = make_cube({"B04": b4, "B08": b8}, times=["2024-06-01"],
    ...                  transform=Affine(10, 0, 0, 0, -10, 0), crs="EPSG:32650")
    >>> round(float(compute_index(cube, "NDVI").mean()), 3)
    0.667
    """
    f = _formula(name)
    if all(b in cube.data_vars for b in f.bands):
        arrays = [cube[b] for b in f.bands]

        def _kernel(*arrs: FloatArray) -> FloatArray:
            return index_from_arrays(f.name, dict(zip(f.bands, arrs, strict=True)))

        out = xr.apply_ufunc(
            _kernel, *arrays, dask="parallelized", output_dtypes=[np.float64], keep_attrs=False
        ).astype("float32")
    elif f.name in cube.data_vars:
        logger.debug("using the precomputed %s variable of the cube", f.name)
        lo, hi = f.valid_range
        out = cube[f.name].astype("float32").clip(lo, hi)
    else:
        missing = [b for b in f.bands if b not in cube.data_vars]
        raise MissingBandError(
            f"index {f.name} needs bands {list(f.bands)}; the cube lacks {missing} and ships no "
            f"precomputed {f.name}; open the imagery with bands={list(f.bands)!r}",
            band=missing[0],
        )
    if use_valid and "valid" in cube.data_vars:
        out = out.where(cube["valid"])
    out.name = f.name
    out.attrs = {"long_name": f.description, "valid_range": list(f.valid_range)}
    return out


def ndvi(cube: xr.Dataset) -> xr.DataArray:
    """NDVI = (B08 - B04) / (B08 + B04); see :func:`compute_index`."""
    return compute_index(cube, "NDVI")


def evi(cube: xr.Dataset) -> xr.DataArray:
    """EVI = 2.5 (B08 - B04) / (B08 + 6 B04 - 7.5 B02 + 1), clipped to [-1, 1]."""
    return compute_index(cube, "EVI")


def ndre(cube: xr.Dataset) -> xr.DataArray:
    """NDRE = (B08 - B05) / (B08 + B05); needs the red-edge band B05."""
    return compute_index(cube, "NDRE")


def ndwi(cube: xr.Dataset) -> xr.DataArray:
    """NDWI (McFeeters) = (B03 - B08) / (B03 + B08)."""
    return compute_index(cube, "NDWI")


def savi(cube: xr.Dataset) -> xr.DataArray:
    """SAVI = 1.5 (B08 - B04) / (B08 + B04 + 0.5)."""
    return compute_index(cube, "SAVI")


__all__ = [
    "INDICES",
    "SAVI_L",
    "IndexFormula",
    "compute_index",
    "evi",
    "index_from_arrays",
    "ndre",
    "ndvi",
    "ndwi",
    "normalized_difference",
    "savi",
]
