"""Cloud, shadow and snow masks: the cube's ``valid`` variable.

Three sources of evidence, whichever the cube carries:

- ``SCL``, the L2A scene classification: no data, saturated, cloud shadow, medium and high
  cloud probability, thin cirrus and snow are not valid (:data:`SCL_INVALID`);
- ``CLM``, a binary cloud mask (1 = cloud), e.g. Sentinel Hub's s2cloudless mask;
- ``CLP``, a cloud probability (0-1), thresholded.

A pixel is valid when it has data (every band finite, ``dataMask`` set) and none of the chosen
evidence flags it. An optional dilation buffer widens the flagged area by some pixels, since
cloud edges and thin haze around a cloud are rarely classified.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

import numpy as np
import xarray as xr

from agrilend.errors import ImageryReadError
from agrilend.remote_sensing.contract import INDEX_VARIABLES, SPECTRAL_BANDS
from agrilend.vocabulary import SCL_CLASSES, SCL_INVALID

logger = logging.getLogger(__name__)

#: Default threshold on cloud probability (s2cloudless' own default is 0.4).
DEFAULT_CLP_THRESHOLD = 0.4

MaskMethod = Literal["auto", "scl", "clm", "clp", "none"]


def scl_valid(scl: xr.DataArray, *, invalid_classes: Iterable[int] | None = None) -> xr.DataArray:
    """True where the scene classification says clear ground (or water).

    Parameters
    ----------
    scl
        SCL values (any integer or float dtype; NaN counts as no data).
    invalid_classes
        Classes to reject; default :data:`SCL_INVALID`.

    Examples
    --------
    >>> import xarray as xr
    >>> scl_valid(xr.DataArray([0, 3, 4, 5, 6, 8, 9, 10, 11])).values.tolist()
    [False, False, True, True, True, False, False, False, False]
    """
    bad = list(SCL_INVALID if invalid_classes is None else invalid_classes)
    values = scl.fillna(0) if np.issubdtype(scl.dtype, np.floating) else scl
    out = ~values.isin(bad)
    out.name = "valid"
    return out


def has_data(cube: xr.Dataset) -> xr.DataArray:
    """True where every band (or, for index-only cubes, the index) is finite and dataMask set."""
    names = [b for b in SPECTRAL_BANDS if b in cube.data_vars]
    if not names:
        names = [v for v in INDEX_VARIABLES if v in cube.data_vars]
    if not names:
        raise ImageryReadError("the cube has no band and no index variable to mask")
    data = cube[names[0]].notnull()
    for n in names[1:]:
        data = data & cube[n].notnull()
    if "dataMask" in cube.data_vars:
        data = data & cube["dataMask"].astype(bool)
    if "SCL" in cube.data_vars:
        data = data & (cube["SCL"] != 0)
    return data.transpose("time", "y", "x")


def dilate(mask: xr.DataArray, pixels: int) -> xr.DataArray:
    """Grow a boolean mask by ``pixels`` in y and x (a square buffer); lazy on dask arrays.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> m = xr.DataArray(np.eye(5, dtype=bool)[None, 2:3, :], dims=("time", "y", "x"))
    >>> dilate(m, 1).values.astype(int).tolist()
    [[[0, 1, 1, 1, 0]]]
    """
    if pixels <= 0:
        return mask
    size = 2 * int(pixels) + 1
    grown = (
        mask.astype("uint8").rolling(y=size, x=size, center=True, min_periods=1).max().astype(bool)
    )
    return grown.transpose(*mask.dims)


def _resolve(cube: xr.Dataset, method: MaskMethod) -> str:
    if method != "auto":
        layer = {"scl": "SCL", "clm": "CLM", "clp": "CLP"}.get(method)
        if layer and layer not in cube.data_vars:
            raise ImageryReadError(
                f"mask method {method!r} needs a {layer} variable, which the cube lacks "
                f"(variables: {sorted(map(str, cube.data_vars))}); choose another method or "
                "method='auto'"
            )
        return method
    for m, layer in (("scl", "SCL"), ("clm", "CLM"), ("clp", "CLP")):
        if layer in cube.data_vars:
            return m
    return "none"


def cloud_flags(
    cube: xr.Dataset,
    *,
    method: MaskMethod = "auto",
    threshold: float = DEFAULT_CLP_THRESHOLD,
    scl_classes: Iterable[int] | None = None,
) -> tuple[xr.DataArray, str]:
    """Boolean ``(time, y, x)`` flags of cloud, shadow and snow, and the method used."""
    chosen = _resolve(cube, method)
    if chosen == "scl":
        flags = ~scl_valid(cube["SCL"], invalid_classes=scl_classes)
        # SCL 0 is "no data", counted by has_data, not as cloud
        flags = flags & (cube["SCL"].fillna(0) != 0)
    elif chosen == "clm":
        flags = cube["CLM"] == 1
    elif chosen == "clp":
        flags = cube["CLP"] > threshold
    else:
        first = next(iter(cube.data_vars))
        flags = xr.zeros_like(cube[first], dtype=bool)
    return flags.transpose("time", "y", "x"), chosen


def mask_clouds(
    cube: xr.Dataset,
    *,
    method: MaskMethod = "auto",
    threshold: float = DEFAULT_CLP_THRESHOLD,
    dilation: int = 0,
    scl_classes: Iterable[int] | None = None,
) -> xr.Dataset:
    """Set the cube's ``valid`` variable from its SCL, CLM or CLP layer.

    Parameters
    ----------
    cube
        A harmonised cube (:func:`agrilend.remote_sensing.harmonize.harmonize`).
    method
        ``"auto"`` uses SCL, else CLM, else CLP, else only data presence; or name one.
    threshold
        Cloud probability above which a pixel is cloud (``"clp"``; CLP in 0-1).
    dilation
        Buffer in pixels around flagged cloud, shadow and snow.
    scl_classes
        SCL classes to reject instead of :data:`SCL_INVALID`.

    Returns
    -------
    xarray.Dataset
        The cube with a boolean ``valid`` and attrs ``mask_method``, ``cloud_threshold``,
        ``mask_dilation``. Lazy arrays stay lazy.

    Examples
    --------
    >>> import numpy as np
    >>> from affine import Affine
    >>> from agrilend.remote_sensing.contract import make_cube
    >>> b = np.full((1, 1, 3), 0.2, "float32")
    >>> cube = make_cube({"B04": b}, times=["2024-06-01"], crs="EPSG:32650",
    ...                  transform=Affine(10, 0, 0, 0, -10, 0),
    ...                  quality={"SCL": np.array([[[4, 9, 0]]], dtype="uint8")})
    >>> mask_clouds(cube)["valid"].values.tolist()
    [[[True, False, False]]]
    """
    flags, chosen = cloud_flags(cube, method=method, threshold=threshold, scl_classes=scl_classes)
    flags = dilate(flags, dilation)
    valid = has_data(cube) & ~flags
    out = cube.assign(valid=valid.astype(bool))
    out["valid"].attrs = {"long_name": "True where the pixel has data and is clear"}
    out.attrs.update(
        {
            "mask_method": chosen,
            "cloud_threshold": float(threshold) if chosen == "clp" else "",
            "mask_dilation": int(dilation),
        }
    )
    if chosen == "scl":
        out.attrs["mask_scl_invalid"] = ",".join(
            str(c) for c in (SCL_INVALID if scl_classes is None else scl_classes)
        )
    logger.debug("cube masked with %s (dilation %d px)", chosen, dilation)
    return out


__all__ = [
    "DEFAULT_CLP_THRESHOLD",
    "SCL_CLASSES",
    "SCL_INVALID",
    "cloud_flags",
    "dilate",
    "has_data",
    "mask_clouds",
    "scl_valid",
]
