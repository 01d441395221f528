"""The area, pixel grid and time windows of a Sentinel Hub request."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyproj
import shapely
from affine import Affine
from odc.geo.geobox import GeoBox, GeoboxTiles

from agrilend.errors import (
    CRSError,
    ImageryReadError,
    MissingCRSError,
)
from agrilend.remote_sensing.sources.sentinelhub.config import COLLECTION

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)


# --- area and pixel grid --------------------------------------------------------------------------


def grid_tiles(grid: GeoBox, max_px: int) -> list[tuple[int, int, GeoBox]]:
    """Sub-grids of ``grid`` of at most ``max_px`` per side, with their (row, col) offset.

    odc-geo's :class:`~odc.geo.geobox.GeoboxTiles` cuts them; each request is one tile.

    Examples
    --------
    >>> from affine import Affine
    >>> grid = GeoBox((25, 12), Affine(10, 0, 500_000, 0, -10, 4_000_000), "EPSG:32650")
    >>> [(r, c, t.shape.y, t.shape.x) for r, c, t in grid_tiles(grid, 10)][:3]
    [(0, 0, 10, 10), (0, 10, 10, 2), (10, 0, 10, 10)]
    """
    tiles = GeoboxTiles(grid, (max_px, max_px))
    out = []
    for iy in range(tiles.shape.y):
        for ix in range(tiles.shape.x):
            rows, cols = tiles.roi[iy, ix]
            tile = tiles[iy, ix]
            assert isinstance(tile, GeoBox)  # tiles of a GeoBox are GeoBoxes
            out.append((int(rows.start), int(cols.start), tile))
    return out


def grid_bounds(grid: GeoBox) -> tuple[float, float, float, float]:
    """``(minx, miny, maxx, maxy)`` of a grid in its CRS."""
    b = grid.boundingbox.bbox
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))


def grid_epsg(grid: GeoBox) -> int:
    """The EPSG code of a grid's CRS (Sentinel Hub requests name it)."""
    epsg = grid.crs.epsg if grid.crs is not None else None
    if epsg is None:
        raise CRSError(f"Sentinel Hub needs an EPSG code; the grid's CRS is {grid.crs}")
    return int(epsg)


def _crs_url(epsg: int) -> str:
    if epsg == 4326:
        return "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    return f"http://www.opengis.net/def/crs/EPSG/0/{epsg}"


def _projected(crs: Any, centre: tuple[float, float]) -> tuple[pyproj.CRS, pyproj.CRS]:
    """(source CRS, the projected CRS to work in): the UTM zone of ``centre`` for lon/lat."""
    if crs is None:
        raise MissingCRSError("the area has no CRS; pass crs='EPSG:...' with the bbox or geometry")
    try:
        src = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"unknown CRS {crs!r}: {exc}; pass an EPSG code such as 'EPSG:32650'"
        ) from None
    if not src.is_geographic:
        return src, src
    lon, lat = centre
    infos = pyproj.database.query_utm_crs_info(
        datum_name="WGS 84",
        area_of_interest=pyproj.aoi.AreaOfInterest(lon, lat, lon, lat),
    )
    if not infos:
        raise CRSError(f"no UTM zone found for lon {lon}, lat {lat}; pass a projected crs")
    return src, pyproj.CRS.from_epsg(int(infos[0].code))


def _as_geometry(geometry: Any, crs: Any) -> tuple[shapely.Geometry, Any]:
    """A single shapely geometry and its CRS from a geometry, GeoSeries or GeoDataFrame."""
    if hasattr(geometry, "geometry") and hasattr(geometry, "crs"):  # GeoDataFrame / GeoSeries
        crs = crs if crs is not None else geometry.crs
        geometry = shapely.union_all(np.asarray(geometry.geometry))
    if not isinstance(geometry, shapely.Geometry):
        geometry = shapely.geometry.shape(geometry)
    if geometry.is_empty:
        raise ImageryReadError("the area geometry is empty; pass a polygon that covers the fields")
    return geometry, crs


def _area(
    bbox: Sequence[float] | None, geometry: Any, crs: Any, res: float
) -> tuple[GeoBox, shapely.Geometry | None]:
    """The pixel grid (snapped outward to multiples of ``res``) and the geometry, both projected."""
    if (bbox is None) == (geometry is None):
        raise ValueError("pass exactly one of bbox=(minx, miny, maxx, maxy) or geometry=")
    geom: shapely.Geometry | None = None
    if geometry is not None:
        geom, crs = _as_geometry(geometry, crs)
        shape = geom
    else:
        assert bbox is not None
        if len(bbox) != 4 or not bbox[0] < bbox[2] or not bbox[1] < bbox[3]:
            raise ValueError(f"bbox must be (minx, miny, maxx, maxy) with min < max; got {bbox}")
        shape = shapely.box(*bbox)
    c = shape.centroid
    src, dst = _projected(crs, (c.x, c.y))
    if src != dst:
        tr = pyproj.Transformer.from_crs(src, dst, always_xy=True)
        shape = shapely.transform(
            shape, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
        )
        geom = shape if geom is not None else None
    epsg = dst.to_epsg()
    if epsg is None:
        raise CRSError(f"Sentinel Hub needs an EPSG code; {dst.name!r} has none")
    minx, miny, maxx, maxy = shape.bounds
    x0 = math.floor(minx / res) * res
    y1 = math.ceil(maxy / res) * res
    width = max(1, math.ceil((maxx - x0) / res - 1e-9))
    height = max(1, math.ceil((y1 - miny) / res - 1e-9))
    transform = Affine(float(res), 0.0, x0, 0.0, -float(res), y1)
    return GeoBox((height, width), transform, f"EPSG:{int(epsg)}"), geom


def _time_range(time: Sequence[Any]) -> tuple[str, str, pd.Timestamp, pd.Timestamp]:
    if isinstance(time, str) or len(time) != 2:
        raise ValueError(f"time must be (start, end); got {time!r}")
    start = pd.Timestamp(time[0]).tz_localize(None).normalize()
    end = pd.Timestamp(time[1]).tz_localize(None).normalize()
    if end < start:
        raise ValueError(f"time range ends ({end.date()}) before it starts ({start.date()})")
    to = end + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    return f"{start.isoformat()}Z", f"{to.isoformat()}Z", start, end


def _time_windows(start: pd.Timestamp, end: pd.Timestamp, days: int) -> list[tuple[str, str]]:
    """Consecutive whole-day windows of at most ``days`` covering ``start`` .. ``end``."""
    out = []
    lo = start
    while lo <= end:
        hi = min(lo + pd.Timedelta(days=max(1, days) - 1), end)
        to = hi + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
        out.append((f"{lo.isoformat()}Z", f"{to.isoformat()}Z"))
        lo = hi + pd.Timedelta(days=1)
    return out


def _input_data(t_from: str, t_to: str, max_cloud: float | None) -> dict[str, Any]:
    data_filter: dict[str, Any] = {"timeRange": {"from": t_from, "to": t_to}}
    if max_cloud is not None:
        if not 0 <= max_cloud <= 100:
            raise ValueError(f"max_cloud is a percentage in [0, 100]; got {max_cloud}")
        data_filter["maxCloudCoverage"] = float(max_cloud)
    return {
        "type": COLLECTION,
        "dataFilter": data_filter,
        "processing": {"harmonizeValues": True},  # DN / 10000 for every processing baseline
    }


__all__ = ["grid_bounds", "grid_epsg", "grid_tiles"]
