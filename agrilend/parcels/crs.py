"""The titles' CRS: present, consistent with the coordinates, and a metric CRS for areas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer

from agrilend.errors import CRSError, GeometryError, MissingCRSError

#: Degrees of slack around a CRS's area of use before coordinates are said to contradict it.
AREA_OF_USE_MARGIN_DEG = 5.0


def _bounds_text(b: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in b) + ")"


def check_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, what: str = "titles") -> None:
    """Raise when ``gdf`` has no CRS or when its coordinates cannot be in that CRS.

    Detected: metres labelled as degrees (a geographic CRS with values beyond +-180/+-90),
    latitude and longitude swapped (x within +-90 but y beyond), degrees labelled as metres (a
    projected CRS whose coordinates all fit in a few units of +-180/+-90), and coordinates far
    outside the CRS's area of use (more than 5 degrees beyond it).

    Raises
    ------
    MissingCRSError
        ``gdf.crs`` is None.
    CRSError
        The CRS contradicts the coordinates; the message names the CRS and the bounds found.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> g = gpd.GeoSeries([shapely.box(500000, 4000000, 500100, 4000100)], crs="EPSG:32650")
    >>> check_crs(g)
    >>> try:
    ...     check_crs(g.set_crs("EPSG:4326", allow_override=True))
    ... except CRSError as e:
    ...     print(type(e).__name__)
    CRSError
    """
    crs = gdf.crs
    if crs is None:
        raise MissingCRSError(
            f"{what} have no CRS; set the CRS the registry uses (e.g. "
            "gdf.set_crs('EPSG:4490') or crs= in the titles mapping) and try again"
        )
    geoms = np.asarray(gdf.geometry.values if hasattr(gdf, "geometry") else gdf.values)
    xy = shapely.get_coordinates(geoms)
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        return
    x0, y0 = xy.min(axis=0)
    x1, y1 = xy.max(axis=0)
    bounds = (float(x0), float(y0), float(x1), float(y1))
    name = crs.to_string()
    found = f"{what} bounds {_bounds_text(bounds)} in {name}"
    ax, ay = max(abs(x0), abs(x1)), max(abs(y0), abs(y1))
    if crs.is_geographic:
        if ax <= 180 and ay <= 90:
            return
        if ax <= 90 and ay <= 180:
            raise CRSError(
                f"{found}: y holds values beyond +-90, so latitude and longitude look swapped; "
                "swap x and y (shapely.transform(g, lambda c: c[:, ::-1])) and read again"
            )
        raise CRSError(
            f"{found} are beyond +-180/+-90 degrees, so they look like metres labelled as "
            "degrees; set the registry's projected CRS instead (crs= in the titles mapping)"
        )
    if ax <= 180 and ay <= 90 and max(x1 - x0, y1 - y0) < 2.0:
        raise CRSError(
            f"{found} fit within +-180/+-90 and span under 2 units, so they look like degrees "
            "labelled as metres; set a geographic CRS (e.g. EPSG:4326 or EPSG:4490) instead"
        )
    aou = crs.area_of_use
    if aou is None:
        return
    try:
        to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        lon0, lat0, lon1, lat1 = to_ll.transform_bounds(*bounds)
    except Exception:  # pyproj raises several types for impossible bounds
        lon0 = lat0 = lon1 = lat1 = math.inf
    m = AREA_OF_USE_MARGIN_DEG
    ll = (lon0, lat0, lon1, lat1)
    inside = (
        all(math.isfinite(v) for v in ll)
        and (lon0 >= aou.west - m and lon1 <= aou.east + m and lat0 >= aou.south - m)
        and lat1 <= aou.north + m
    )
    if aou.west > aou.east:  # areas that cross the antimeridian: do not judge longitude
        inside = all(math.isfinite(v) for v in ll) and lat0 >= aou.south - m
        inside = inside and lat1 <= aou.north + m
    if not inside:
        raise CRSError(
            f"{found} fall at lon/lat {_bounds_text(ll)}, far outside the area {name} is made "
            f"for ({aou.name}: {_bounds_text(aou.bounds)}); the CRS label is probably wrong: set "
            "the registry's real CRS (crs= in the titles mapping, or gdf.set_crs(..., "
            "allow_override=True))"
        )


def _metric_crs(gdf: gpd.GeoDataFrame) -> CRS:
    """The CRS to measure in: the titles' own if projected, else equal-area around them."""
    crs = CRS.from_user_input(gdf.crs)
    if crs.is_projected:
        return crs
    xy = shapely.get_coordinates(np.asarray(gdf.geometry.values))
    xy = xy[np.isfinite(xy).all(axis=1)]
    lon, lat = xy.mean(axis=0) if len(xy) else (0.0, 0.0)
    return CRS.from_proj4(f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +datum=WGS84 +units=m")


def _imagery_box(imagery_bounds: Any, crs: CRS) -> Any:
    """The imagery footprint as a polygon in ``crs``, from a cube, (bounds, crs) or bounds."""
    if imagery_bounds is None:
        return None
    if hasattr(imagery_bounds, "rio"):
        img_crs = imagery_bounds.rio.crs
        if img_crs is None:
            raise MissingCRSError(
                "the imagery given to validate_titles has no CRS; write one with "
                "cube.rio.write_crs(...)"
            )
        bounds = tuple(float(v) for v in imagery_bounds.rio.bounds())
    elif (
        isinstance(imagery_bounds, Sequence)
        and len(imagery_bounds) == 2
        and isinstance(imagery_bounds[0], Sequence)
    ):
        bounds = tuple(float(v) for v in imagery_bounds[0])
        img_crs = imagery_bounds[1]
    elif isinstance(imagery_bounds, Sequence) and len(imagery_bounds) == 4:
        bounds, img_crs = tuple(float(v) for v in imagery_bounds), crs
    else:
        raise GeometryError(
            f"imagery_bounds must be a cube, (bounds, crs) or (xmin, ymin, xmax, ymax); "
            f"got {type(imagery_bounds).__name__}"
        )
    if len(bounds) != 4 or not all(math.isfinite(v) for v in bounds):
        raise GeometryError(f"imagery bounds {bounds} are not four finite numbers")
    box = shapely.box(*bounds)
    span = max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1e-9)
    box = shapely.segmentize(box, span / 64)  # so the footprint bends like the projection
    return gpd.GeoSeries([box], crs=img_crs).to_crs(crs).iloc[0]


# --- the report -----------------------------------------------------------------------------------


def _utm_crs(geo: gpd.GeoSeries) -> CRS:
    """The WGS 84 UTM zone at the centre of the (finite) coordinates."""
    xy = shapely.get_coordinates(np.asarray(geo.values))
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) == 0:
        raise CRSError("titles have no finite coordinates to choose a UTM zone from")
    lon, lat = xy.mean(axis=0)
    zone = min(max(int((lon + 180) // 6) + 1, 1), 60)
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


__all__ = ["AREA_OF_USE_MARGIN_DEG", "check_crs"]
