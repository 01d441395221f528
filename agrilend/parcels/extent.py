"""Do the titles and the imagery cover the same ground? Checked once, before any model runs.

Titles that all fall off the imagery leave nothing to learn from, and the error a model raises
then ("out-of-fold crop prediction needs two crops") says nothing of the cause. So the pipeline
and the scan call :func:`require_overlap` first: when no title touches the imagery it names both
extents and both CRSs, and the likely cause:

- the titles' coordinates fall on the imagery when read in the imagery's CRS: the titles' CRS
  label is wrong (e.g. UTM metres labelled as another zone or as a national grid);
- with longitude and latitude swapped they fall on it: the axes are swapped;
- otherwise the two are of different places (with their distance).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from agrilend.errors import ExtentMismatchError, MissingCRSError

_LONLAT = "EPSG:4326"


def _box_text(bounds: Any) -> str:
    return "(" + ", ".join(f"{float(v):.6g}" for v in bounds) + ")"


def _lonlat(bounds: Any, crs: CRS) -> tuple[float, float, float, float] | None:
    try:
        tr = Transformer.from_crs(crs, _LONLAT, always_xy=True)
        out = tr.transform_bounds(*bounds)
    except Exception:
        return None
    if not np.all(np.isfinite(out)):
        return None
    return (float(out[0]), float(out[1]), float(out[2]), float(out[3]))


def _distance_km(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Great-circle distance between the centres of two lon/lat boxes, km."""
    lon1, lat1 = np.radians([(a[0] + a[2]) / 2, (a[1] + a[3]) / 2])
    lon2, lat2 = np.radians([(b[0] + b[2]) / 2, (b[1] + b[3]) / 2])
    dlat, dlon = (lat2 - lat1) / 2, (lon2 - lon1) / 2
    h = np.sin(dlat) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon) ** 2
    return float(2 * 6371.0 * np.arcsin(np.sqrt(h)))


def _cause(titles: gpd.GeoDataFrame, img_box: shapely.Geometry, img_crs: CRS) -> str:
    t_crs = CRS.from_user_input(titles.crs)
    raw = shapely.box(*titles.total_bounds)
    if t_crs != img_crs and raw.intersects(img_box):
        return (
            f"read in the imagery's CRS the titles' coordinates fall on it: their CRS label "
            f"({t_crs.to_string()}) is likely wrong; set the right one with "
            f"titles.set_crs('{img_crs.to_string()}', allow_override=True) or fix the file"
        )
    if t_crs.is_geographic:
        x0, y0, x1, y1 = titles.total_bounds
        try:
            swapped = Transformer.from_crs(t_crs, img_crs, always_xy=True).transform_bounds(
                y0, x0, y1, x1
            )
            if shapely.box(*swapped).intersects(img_box):
                return (
                    "with longitude and latitude swapped the titles fall on the imagery: the "
                    "file stores (lat, lon); swap the axes when writing it"
                )
        except Exception:  # noqa: S110  (a swap that leaves the globe is no cause)
            pass
    a = _lonlat(titles.total_bounds, t_crs)
    b = _lonlat(img_box.bounds, img_crs)
    around = titles.geometry.to_crs(img_crs).total_bounds if t_crs != img_crs else raw.bounds
    if shapely.box(*around).intersects(img_box):
        share = img_box.area / max(shapely.box(*around).area, 1e-9)
        return (
            f"the titles spread around the imagery but none falls on it: the imagery covers "
            f"{100 * share:.2g} % of the titles' extent; use imagery of the titles' whole area"
        )
    if a is not None and b is not None:
        return (
            f"they are different places, about {_distance_km(a, b):,.0f} km apart (titles "
            f"lon/lat {_box_text(a)}, imagery lon/lat {_box_text(b)}): check that both are of "
            "the same county, or that the titles' CRS is right"
        )
    return "check that both are of the same place and that both CRSs are right"


def require_overlap(titles: gpd.GeoDataFrame, cube: Any) -> int:
    """The number of titles that touch the imagery; an error naming the cause when none does.

    Parameters
    ----------
    titles
        Titles with a CRS (any; reprojected to the imagery's for the test).
    cube
        A cube with a rioxarray CRS and transform.

    Returns
    -------
    int
        How many titles overlap the imagery's extent (at least 1).

    Raises
    ------
    ExtentMismatchError
        When no title overlaps: both extents (each in its own CRS), both CRSs and the likely
        cause.
    MissingCRSError
        When the titles or the cube carry no CRS.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np, shapely, xarray as xr, rioxarray
    >>> cube = xr.Dataset(coords={"y": [5.0, -5.0], "x": [500005.0, 500015.0]})
    >>> cube = cube.rio.write_crs("EPSG:32650")
    >>> near = gpd.GeoDataFrame(geometry=[shapely.box(500001, -4, 500009, 4)], crs="EPSG:32650")
    >>> require_overlap(near, cube)
    1
    >>> wrong = near.set_crs("EPSG:32651", allow_override=True)
    >>> require_overlap(wrong, cube)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    agrilend.errors.ExtentMismatchError: no title overlaps the imagery: ...(EPSG:32651) is likely...
    """
    if titles.crs is None:
        raise MissingCRSError("titles have no CRS; set one with titles.set_crs(...)")
    img_crs = cube.rio.crs
    if img_crs is None:
        raise MissingCRSError("the imagery has no CRS; write one with cube.rio.write_crs(...)")
    img_crs = CRS.from_user_input(img_crs)
    img_box = shapely.box(*cube.rio.bounds())
    t_crs = CRS.from_user_input(titles.crs)
    geoms = titles.geometry if t_crs == img_crs else titles.geometry.to_crs(img_crs)
    finite = np.isfinite(np.asarray(geoms.bounds, dtype="float64")).all(axis=1)
    hits = int(np.count_nonzero(finite & geoms.intersects(img_box).to_numpy()))
    if hits:
        return hits
    t_bounds = titles.total_bounds
    raise ExtentMismatchError(
        f"no title overlaps the imagery: the {len(titles)} titles cover "
        f"{_box_text(t_bounds)} in {t_crs.to_string()}, the imagery covers "
        f"{_box_text(img_box.bounds)} in {img_crs.to_string()}; "
        f"{_cause(titles, img_box, img_crs)}"
    )


__all__ = ["require_overlap"]
