"""Value sanity at the imagery boundary: right numbers, or a clear refusal.

Two checks, whatever the source (local files, STAC, Sentinel Hub):

1. **How shipped indices are scaled** (:func:`index_scaling`), before harmonising them. An NDVI
   stored as integers (sen2r writes Int16 NDVI x 10000 with no-data -32768) is recognised from
   the file's metadata first (``scale_factor``/``add_offset``, ``_FillValue``/``nodata``), then
   from its value range; when neither tells, the index is refused with an error that says what
   was seen and how to pass the scale (``open_cube(..., index_scale=10000)``). The most negative
   value of a signed integer type (-32768 for Int16) is never a valid value.
2. **Plausible values after harmonising** (:func:`check_values`): quantiles of clear-land red,
   NIR and NDVI. Negative reflectance on clear land means an offset applied twice (or to numbers
   already harmonised); reflectance above 1.5 means digital numbers left unscaled; an index
   outside [-1, 1] means an unrecognised scale. Each refuses with the quantiles seen and the
   option that fixes it. Nothing is clipped silently: the figures go into the cube's
   ``value_check`` attribute.

Examples
--------
>>> import numpy as np, xarray as xr
>>> ndvi = xr.DataArray(np.array([[[-32768, 4540, 9148]]], "int16"), dims=("time", "y", "x"),
...                     attrs={"_FillValue": -32768})
>>> index_scaling(ndvi, "NDVI", name="sen2r")[:3]
(0.0001, 0.0, -32768.0)
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import xarray as xr

from agrilend.errors import ImageryValueError

logger = logging.getLogger(__name__)

#: Largest |index| accepted as an unscaled index (small numerical overshoot beyond +-1).
INDEX_TOLERANCE = 1.001
#: Scales recognised from the value range of integer indices: the largest |value| must lie in
#: (scale / 2.5, scale x 1.001]; 10000 is what sen2r, FORCE and most processors write.
INDEX_SCALES = (10_000.0,)
#: Clear-land reflectance quantile (1 %) below which the cube is refused (offset applied twice).
MIN_REFLECTANCE_Q01 = -0.02
#: Clear-land reflectance median above which the cube is refused (digital numbers unscaled).
MAX_REFLECTANCE_MEDIAN = 1.5
#: Clear-land red median above which a warning is logged (snow, haze or a wrong scale).
RED_MEDIAN_WARN = 0.3
#: At most this many dates are sampled for the checks (evenly spread), so lazy cubes stay cheap.
MAX_SAMPLE_DATES = 12
#: SCL classes counted as clear *land* for the checks (vegetation, not vegetated).
_LAND_SCL = (4, 5)


#: Windows (a 4 x 4 grid spread over the extent) the spatial sample is read from: a county's
#: check reads the same few storage blocks whatever its size (a strided sample would touch every
#: block of a county cube, reading the whole county once on the client).
SAMPLE_WINDOWS = 4


def _thin(
    da: xr.DataArray, target: int = 200_000, *, all_dates: bool = False, windows: bool = True
) -> xr.DataArray:
    """A sample of about ``target`` values over at most :data:`MAX_SAMPLE_DATES` (every date
    with ``all_dates``): the whole extent when it is small, else :data:`SAMPLE_WINDOWS` squared
    windows spread evenly over it (starting on the storage's block edges when the array is
    chunked), whatever the extent's size; with ``windows=False`` a strided sample of the whole
    extent (which reads every block: the fallback when the windows hold no clear land).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((20, 3000, 3000), "uint16"), dims=("time", "y", "x"))
    >>> small = _thin(da)
    >>> small.sizes["time"], small.size <= 200_000
    (12, True)
    """
    if not all_dates and "time" in da.dims and da.sizes["time"] > MAX_SAMPLE_DATES:
        pick = np.unique(np.linspace(0, da.sizes["time"] - 1, MAX_SAMPLE_DATES).round().astype(int))
        da = da.isel(time=pick)
    size = int(np.prod([da.sizes[d] for d in da.dims])) if da.dims else 1
    if size <= target or "y" not in da.dims or "x" not in da.dims:
        return da
    if not windows:
        step = max(1, int(np.sqrt(size / target)))
        return da.isel(y=slice(None, None, step), x=slice(None, None, step))
    per_plane = size // (da.sizes["y"] * da.sizes["x"])
    k = SAMPLE_WINDOWS
    side = max(8, int(np.sqrt(target / (per_plane * k * k))))
    picks: dict[str, np.ndarray] = {}
    for dim in ("y", "x"):
        n = da.sizes[dim]
        if n <= k * side:
            picks[dim] = np.arange(n)
            continue
        block = 1
        chunks = da.chunksizes.get(dim) if da.chunks is not None else None
        if chunks:
            block = int(chunks[0])
        starts = np.linspace(0, n - side, k).astype(int)
        starts = np.minimum((starts // block) * block, n - side) if block < n - side else starts
        picks[dim] = np.unique(np.concatenate([np.arange(a, a + side) for a in starts]))
    return da.isel(y=picks["y"], x=picks["x"])


def signed_nodata(dtype: Any) -> float | None:
    """The most negative value of a signed integer type (never valid data), else None.

    Examples
    --------
    >>> signed_nodata("int16"), signed_nodata("uint16"), signed_nodata("float32")
    (-32768.0, None, None)
    """
    dt = np.dtype(dtype)
    if dt.kind == "i":
        return float(np.iinfo(dt).min)
    return None


def index_scaling(
    da: xr.DataArray, var: str, *, name: str, scale: float | None = None
) -> tuple[float, float, float | None, str]:
    """How the stored numbers of index ``var`` become index values.

    Returns ``(mul, add, nodata, why)``: the index is ``stored * mul + add`` where the stored
    value is not ``nodata`` (and not the minimum of a signed integer type).

    Parameters
    ----------
    da
        The index as stored (integers or floats).
    var
        Its canonical name (``NDVI``...), for messages.
    name
        How messages name the input.
    scale
        Stored units per index unit given by the caller (``10000`` for NDVI x 10000); wins over
        metadata and value range.

    Raises
    ------
    ImageryValueError
        When the values exceed [-1, 1] and neither metadata nor the value range tells the scale.
    """
    fill = da.attrs.get("_FillValue", da.attrs.get("nodata", da.encoding.get("_FillValue")))
    nodata = float(fill) if fill is not None and np.isfinite(float(fill)) else None
    if nodata is None:
        nodata = signed_nodata(da.dtype)
    if scale is not None:
        return 1.0 / float(scale), 0.0, nodata, f"{var} scale 1/{scale:g} given by the caller"
    if "scale_factor" in da.attrs:
        mul = float(da.attrs["scale_factor"])
        add = float(da.attrs.get("add_offset", 0.0))
        return mul, add, nodata, f"{var} scale {mul:g} and offset {add:g} from the file's metadata"
    sample = np.asarray(_thin(da).values, dtype="float64")
    bad = ~np.isfinite(sample)
    for nd in (nodata, signed_nodata(da.dtype)):
        if nd is not None:
            bad |= sample == nd
    vals = sample[~bad]
    if vals.size == 0 or np.max(np.abs(vals)) <= INDEX_TOLERANCE:
        return 1.0, 0.0, nodata, f"{var} as delivered (values within [-1, 1])"
    top = float(np.max(np.abs(vals)))
    for s in INDEX_SCALES:
        if s / 2.5 < top <= s * INDEX_TOLERANCE:
            logger.info("%s: %s holds values up to %g, read as %s x %g", name, var, top, var, s)
            return 1.0 / s, 0.0, nodata, f"{var} scale 1/{s:g} from the value range (max {top:g})"
    lo, hi = float(np.min(vals)), float(np.max(vals))
    raise ImageryValueError(
        f"{name}: {var} holds values {lo:g}..{hi:g} ({da.dtype}, nodata {nodata}) with no "
        "scale_factor in its metadata, so its scale cannot be told; pass it, e.g. "
        f"open_cube(..., index_scale=100) for {var} x 100, or write scale_factor into the file"
    )


def _quantiles(da: xr.DataArray, mask: xr.DataArray | None) -> dict[str, float] | None:
    masked = da if mask is None else da.where(mask)
    vals = np.asarray(_thin(masked).values, dtype="float64")
    vals = vals[np.isfinite(vals)]
    if vals.size < 20 and "time" in da.dims and da.sizes["time"] > MAX_SAMPLE_DATES:
        # the clear dates of a cloudy season may all fall between the sampled ones
        vals = np.asarray(_thin(masked, all_dates=True).values, dtype="float64")
        vals = vals[np.isfinite(vals)]
    if vals.size < 20:  # the windows missed the clear land: the whole extent, strided
        vals = np.asarray(_thin(masked, all_dates=True, windows=False).values, dtype="float64")
        vals = vals[np.isfinite(vals)]
    if vals.size < 20:
        return None
    q = np.quantile(vals, [0.01, 0.5, 0.99])
    return {"q01": float(q[0]), "q50": float(q[1]), "q99": float(q[2]), "n": int(vals.size)}


def _clear_land(cube: xr.Dataset) -> xr.DataArray | None:
    mask: xr.DataArray | None = cube.get("valid")
    if "SCL" in cube:
        land = cube["SCL"].isin(_LAND_SCL)
        mask = land if mask is None else mask & land
    return mask


def check_values(cube: xr.Dataset, *, name: str) -> dict[str, dict[str, float]]:
    """Refuse a harmonised cube whose clear-land values cannot be right; return the quantiles.

    Parameters
    ----------
    cube
        A harmonised cube (reflectance floats; ``valid`` and ``SCL`` when present restrict the
        sample to clear land).
    name
        How messages name the input.

    Returns
    -------
    dict
        Variable -> ``{"q01", "q50", "q99", "n"}`` of clear-land values (``B04``, ``B08``,
        ``NDVI``; NDVI from the bands when both are present, else as shipped).

    Raises
    ------
    ImageryValueError
        Negative clear-land reflectance (1 % quantile below -0.02: an offset applied twice, pass
        ``boa_offset="none"``); median reflectance above 1.5 (unscaled digital numbers, pass
        ``scale=10000``); NDVI outside [-1, 1].

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> rng = np.random.default_rng(0)
    >>> red = rng.uniform(0.03, 0.12, (2, 8, 8)).astype("float32")
    >>> cube = xr.Dataset({"B04": (("time", "y", "x"), red),
    ...                    "B08": (("time", "y", "x"), red + 0.25)})
    >>> q = check_values(cube, name="demo")
    >>> 0.0 < q["NDVI"]["q50"] < 1.0
    True
    >>> check_values(cube.assign(B04=cube["B04"] - 0.1), name="demo")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    agrilend.errors.ImageryValueError: demo: clear-land B04 reflectance has a 1% quantile of ...
    """
    mask = _clear_land(cube)
    out: dict[str, dict[str, float]] = {}
    for band in ("B04", "B08"):
        if band not in cube:
            continue
        q = _quantiles(cube[band], mask)
        if q is None:
            continue
        out[band] = q
        if q["q01"] < MIN_REFLECTANCE_Q01:
            raise ImageryValueError(
                f"{name}: clear-land {band} reflectance has a 1% quantile of {q['q01']:.4f} "
                f"(median {q['q50']:.4f}): reflectance cannot be negative, so an offset was "
                "applied twice or to numbers already harmonised; open it with "
                "boa_offset='none' (or the offset the product documents)"
            )
        if q["q50"] > MAX_REFLECTANCE_MEDIAN:
            raise ImageryValueError(
                f"{name}: clear-land {band} has a median of {q['q50']:.4g}, beyond any "
                "reflectance: digital numbers were not scaled; open it with scale=10000 (or the "
                "quantification value the product documents)"
            )
        if band == "B04" and q["q50"] > RED_MEDIAN_WARN:
            logger.warning(
                "%s: clear-land red reflectance has a median of %.3f (snow, haze or a wrong "
                "scale?)",
                name,
                q["q50"],
            )
    ndvi: xr.DataArray | None = None
    if "B04" in cube and "B08" in cube:
        ndvi = (cube["B08"] - cube["B04"]) / (cube["B08"] + cube["B04"])
    elif "NDVI" in cube:
        ndvi = cube["NDVI"]
    if ndvi is not None:
        q = _quantiles(ndvi, mask)
        if q is not None:
            out["NDVI"] = q
            if q["q01"] < -INDEX_TOLERANCE or q["q99"] > INDEX_TOLERANCE:
                raise ImageryValueError(
                    f"{name}: clear-land NDVI spans {q['q01']:.4g}..{q['q99']:.4g} (1-99%), "
                    "outside [-1, 1]: the index is scaled; pass its scale, e.g. "
                    "open_cube(..., index_scale=10000)"
                )
    return out


def describe(quantiles: dict[str, dict[str, float]]) -> str:
    """The quantiles as one line for the cube's attrs and ``agrilend check``.

    Examples
    --------
    >>> describe({"B04": {"q01": 0.02, "q50": 0.06, "q99": 0.2, "n": 500}})
    'B04 0.0200/0.0600/0.2000 (1/50/99%, n=500)'
    """
    return "; ".join(
        f"{k} {v['q01']:.4f}/{v['q50']:.4f}/{v['q99']:.4f} (1/50/99%, n={int(v['n'])})"
        for k, v in quantiles.items()
    )


def with_value_check(cube: xr.Dataset, *, name: str) -> xr.Dataset:
    """``cube`` (a new object) with its clear-land quantiles in ``attrs["value_check"]``.

    Raises :class:`~agrilend.errors.ImageryValueError` as :func:`check_values` does.
    """
    quantiles = check_values(cube, name=name)
    out = cube.copy()
    out.attrs = {**cube.attrs, "value_check": describe(quantiles) or "no clear land sampled"}
    return out


__all__ = [
    "INDEX_SCALES",
    "MAX_REFLECTANCE_MEDIAN",
    "MIN_REFLECTANCE_Q01",
    "check_values",
    "describe",
    "index_scaling",
    "signed_nodata",
    "with_value_check",
]
