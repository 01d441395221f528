"""The cube contract every imagery source yields, and the one function that checks it.

A cube is an :class:`xarray.Dataset` with dims ``(time, y, x)``; one float32 variable per band
in reflectance (``B02``, ``B04``, ``B08``, ...); optional classification layers (``SCL``, ``CLM``,
``CLP``) kept as they came; a boolean ``valid`` (True where the pixel has data and is clear); a
CRS and transform through rioxarray; attrs ``source``, ``processing_level`` and ``scene_ids``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from affine import Affine
from pyproj.exceptions import ProjError

from agrilend.errors import ImageryReadError

#: Sentinel-2 spectral bands in their canonical names.
SPECTRAL_BANDS = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12",
)  # fmt: skip
#: Per-pixel classification or quality layers kept beside the bands (not reflectance).
QUALITY_LAYERS = ("SCL", "CLM", "CLP", "dataMask")
DIMS = ("time", "y", "x")
#: Spectral indices a source may ship instead of bands (e.g. an NDVI-only archive).
INDEX_VARIABLES = ("NDVI", "EVI", "NDRE", "NDWI", "SAVI")


def make_cube(
    bands: Mapping[str, np.ndarray[Any, Any]],
    *,
    times: Sequence[Any],
    transform: Affine,
    crs: Any,
    valid: np.ndarray[Any, Any] | None = None,
    quality: Mapping[str, np.ndarray[Any, Any]] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.Dataset:
    """Assemble a contract cube from arrays of shape ``(time, y, x)``.

    ``bands`` hold reflectance (they are cast to float32); ``quality`` layers are kept as given;
    ``valid`` defaults to "every band finite".

    Examples
    --------
    >>> import numpy as np
    >>> from affine import Affine
    >>> b = np.full((2, 3, 4), 0.2, dtype="float32")
    >>> cube = make_cube({"B04": b, "B08": b * 2}, times=["2024-05-01", "2024-05-06"],
    ...                  transform=Affine(10, 0, 500000, 0, -10, 4000000), crs="EPSG:32650")
    >>> dict(cube.sizes), str(cube.rio.crs), bool(cube["valid"].all())
    ({'time': 2, 'y': 3, 'x': 4}, 'EPSG:32650', True)
    """
    if not bands:
        raise ImageryReadError("a cube needs at least one band; none were given")
    first = next(iter(bands.values()))
    if first.ndim != 3:
        raise ImageryReadError(f"band arrays must be (time, y, x); got shape {first.shape}")
    nt, ny, nx = first.shape
    if len(times) != nt:
        raise ImageryReadError(f"{len(times)} dates given for {nt} time steps")
    xs = transform.c + transform.a * (np.arange(nx) + 0.5)
    ys = transform.f + transform.e * (np.arange(ny) + 0.5)
    coords = {"time": pd.DatetimeIndex(pd.to_datetime(list(times))), "y": ys, "x": xs}
    data_vars: dict[str, tuple[tuple[str, ...], np.ndarray[Any, Any]]] = {}
    for name, arr in bands.items():
        if arr.shape != first.shape:
            raise ImageryReadError(f"band {name!r} has shape {arr.shape}, expected {first.shape}")
        data_vars[name] = (DIMS, np.asarray(arr, dtype="float32"))
    for name, arr in (quality or {}).items():
        data_vars[name] = (DIMS, np.asarray(arr))
    if valid is None:
        valid = np.logical_and.reduce([np.isfinite(v[1]) for v in data_vars.values()][: len(bands)])
    data_vars["valid"] = (DIMS, np.asarray(valid, dtype=bool))
    ds = xr.Dataset(data_vars, coords=coords, attrs=dict(attrs or {}))
    ds = ds.rio.write_crs(crs).rio.write_transform(transform)
    ds.attrs.setdefault("source", "memory")
    ds.attrs.setdefault("processing_level", "unknown")
    ds.attrs.setdefault("scene_ids", "")
    return ds


def band_names(cube: xr.Dataset) -> list[str]:
    """The reflectance band variables of a cube, in canonical order."""
    return [b for b in SPECTRAL_BANDS if b in cube.data_vars]


def validate_cube(cube: xr.Dataset, *, name: str = "cube") -> xr.Dataset:
    """Check that ``cube`` follows the contract; return it unchanged or raise.

    Raises
    ------
    ImageryReadError
        Naming what is wrong (dims, missing ``valid``, no CRS, no band, unsorted time).
    """
    if not isinstance(cube, xr.Dataset):
        raise ImageryReadError(f"{name} must be an xarray.Dataset, got {type(cube).__name__}")
    missing = [d for d in DIMS if d not in cube.dims]
    if missing:
        raise ImageryReadError(
            f"{name} lacks dims {missing}; open it with agrilend.remote_sensing.open_cube"
        )
    if "valid" not in cube.data_vars or cube["valid"].dtype != bool:
        raise ImageryReadError(f"{name} has no boolean 'valid' variable; mask it first")
    if not band_names(cube) and not any(v in cube.data_vars for v in INDEX_VARIABLES):
        raise ImageryReadError(
            f"{name} has no Sentinel-2 band variable (B02, B04, B08, ...) and no shipped index"
        )
    try:
        crs = cube.rio.crs
    except (ProjError, ValueError, TypeError) as exc:
        raise ImageryReadError(
            f"{name} carries a CRS that cannot be read ({exc}); write a valid one with "
            "cube.rio.write_crs('EPSG:...')"
        ) from exc
    if crs is None:
        raise ImageryReadError(f"{name} has no CRS; write one with cube.rio.write_crs(...)")
    t = cube.indexes["time"]
    if not t.is_monotonic_increasing or not t.is_unique:
        raise ImageryReadError(f"{name} dates are out of order or duplicated; sort and merge them")
    return cube


def on_dates(cube: xr.Dataset, times: Any) -> xr.Dataset:
    """The cube on exactly ``times``: dates it lacks become "no data" (never clear).

    Windows of one county read from a STAC search may see different scenes (an edge of the
    county outside one orbit's swath); put every window on the county's dates so that their
    parcel series line up. Added dates have NaN reflectance, quality layers 0 (no data) and
    ``valid`` False; dates not in ``times`` are dropped.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from affine import Affine
    >>> t = pd.to_datetime(["2024-05-01", "2024-05-11"])
    >>> cube = make_cube({"B04": np.full((2, 1, 1), 0.1), "B08": np.full((2, 1, 1), 0.4)},
    ...                  times=t, transform=Affine(10, 0, 0, 0, -10, 0), crs="EPSG:32650")
    >>> out = on_dates(cube, pd.to_datetime(["2024-05-01", "2024-05-06", "2024-05-11"]))
    >>> out["valid"].values.ravel().tolist(), bool(np.isnan(out["B04"].values[1]).all())
    ([True, False, True], True)
    """
    wanted = pd.DatetimeIndex(pd.to_datetime(np.asarray(times)))
    have = pd.DatetimeIndex(cube.indexes["time"])
    if have.equals(wanted):
        return cube
    fill: dict[str, Any] = {}
    for name, var in cube.data_vars.items():
        if var.dtype == bool:
            fill[str(name)] = False
        elif np.issubdtype(var.dtype, np.floating):
            fill[str(name)] = np.nan
        else:
            fill[str(name)] = 0
    out = cube.reindex(time=wanted, fill_value=fill)
    for name, var in cube.data_vars.items():  # keep integer layers integer
        if out[name].dtype != var.dtype:
            out[name] = out[name].astype(var.dtype)
    return out


__all__ = [
    "DIMS",
    "INDEX_VARIABLES",
    "QUALITY_LAYERS",
    "SPECTRAL_BANDS",
    "band_names",
    "make_cube",
    "on_dates",
    "validate_cube",
]
