"""Sentinel-2 L2A pixels from the Sentinel Hub Process API as a contract cube, with a local
cache, retries with back-off and no secret ever logged."""

from __future__ import annotations

import io
import itertools
import json
import logging
import tarfile
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import shapely
import xarray as xr
from odc.geo.geobox import GeoBox
from sentinelhub import SHConfig
from sentinelhub.constants import MimeType

from agrilend.errors import (
    ImageryReadError,
    ServiceError,
)
from agrilend.remote_sensing.contract import make_cube
from agrilend.remote_sensing.masks import mask_clouds
from agrilend.remote_sensing.sanity import with_value_check
from agrilend.remote_sensing.sources.sentinelhub.area import (
    _area,
    _crs_url,
    _input_data,
    _time_range,
    _time_windows,
    grid_bounds,
    grid_epsg,
    grid_tiles,
)
from agrilend.remote_sensing.sources.sentinelhub.config import (
    _DN_SCALE,
    _QUALITY,
    COLLECTION,
    DEFAULT_BANDS,
    MAX_DAYS,
    MAX_TILE_PX,
    ProgressFn,
    _cache_for,
    _download,
    _request,
    sentinelhub_config,
)
from agrilend.settings import get_settings

log = logging.getLogger(__name__)


# --- evalscripts ---------------------------------------------------------------------------------


def process_evalscript(layers: Sequence[str]) -> str:
    """The multi-date Process API evalscript: every layer of every orbit, as uint16 DN.

    The output has ``len(layers) * n_scenes`` bands, scene-major; the scene dates go to
    ``userdata.json``.

    Examples
    --------
    >>> "mosaicking: \\"ORBIT\\"" in process_evalscript(["B04", "B08", "dataMask"])
    True
    """
    names = json.dumps(list(layers))
    return f"""//VERSION=3
function setup() {{
  return {{
    input: [{{bands: {names}, units: "DN"}}],
    output: {{id: "default", bands: {len(layers)}, sampleType: "UINT16"}},
    mosaicking: "ORBIT"
  }};
}}
const LAYERS = {names};
function updateOutput(outputs, collection) {{
  outputs.default.bands = Math.max(1, collection.scenes.length) * LAYERS.length;
}}
function updateOutputMetadata(scenes, inputMetadata, outputMetadata) {{
  outputMetadata.userData = {{layers: LAYERS, dates: scenes.map(s => s.date.toISOString())}};
}}
function evaluatePixel(samples) {{
  const out = [];
  for (let i = 0; i < samples.length; i++) {{
    for (let j = 0; j < LAYERS.length; j++) out.push(samples[i][LAYERS[j]]);
  }}
  return out;
}}
"""


# --- Process API ----------------------------------------------------------------------------------


def _read_tar(body: bytes, *, image: bool = True) -> tuple[np.ndarray[Any, Any], list[str]]:
    """(uint16 array bands x rows x cols, scene dates) from a Process API TAR answer.

    With ``image=False`` only the dates are read and the array is empty.
    """
    try:
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            members = {m.name.rsplit(".", 1)[0]: m for m in tar.getmembers()}
            meta = tar.extractfile(members["userdata"])
            tif = tar.extractfile(members["default"]) if image else None
            if meta is None or (image and tif is None):
                raise KeyError("default.tif or userdata.json")
            userdata = json.loads(meta.read())
            tif_bytes = tif.read() if tif is not None else b""
    except (tarfile.TarError, KeyError, ValueError) as exc:
        raise ServiceError(
            f"Sentinel Hub answered a Process API request with an unreadable archive ({exc}); "
            "retry, and report it if it persists"
        ) from None
    dates = list(userdata.get("dates", []))
    if not image:
        return np.empty((0, 0, 0), dtype="uint16"), dates
    with rasterio.MemoryFile(tif_bytes) as mem, mem.open() as src:
        return src.read(), dates


def load_sentinelhub(
    bbox: Sequence[float] | None = None,
    *,
    time: Sequence[Any],
    geometry: Any = None,
    crs: Any = None,
    resolution: float = 10.0,
    bands: Sequence[str] = DEFAULT_BANDS,
    quality: Sequence[str] = ("SCL",),
    max_cloud: float | None = None,
    config: SHConfig | None = None,
    profile: str | None = None,
    cache: bool = True,
    max_tile_px: int = MAX_TILE_PX,
    max_days: int = MAX_DAYS,
    max_threads: int = 4,
    progress: ProgressFn | None = None,
) -> xr.Dataset:
    """Sentinel-2 L2A pixels of an area and season from the Sentinel Hub Process API, as a cube.

    The area is cut into tiles of at most ``max_tile_px`` pixels per side on one grid snapped to
    ``resolution``, and the season into windows of at most ``max_days``; each tile and window is
    one request with a multi-date evalscript (every orbit in the window), cached under
    ``Settings.cache_dir`` so that asking again costs no request.

    Parameters
    ----------
    bbox
        ``(minx, miny, maxx, maxy)`` in ``crs``. Give either this or ``geometry``.
    time
        ``(start, end)`` dates, both included.
    geometry
        A shapely geometry (with ``crs``), a GeoSeries or a GeoDataFrame: pixels outside it are
        no data.
    crs
        CRS of ``bbox``/``geometry``. Lon/lat areas are fetched in the UTM zone of their centre.
    resolution
        Pixel size in metres.
    bands
        Reflectance bands (``B01`` ... ``B12``, ``B8A``).
    quality
        Classification layers kept beside the bands: ``SCL``, ``CLM`` (cloud mask), ``CLP``.
    max_cloud
        Skip scenes whose tile cloud cover exceeds this percentage.
    config, profile
        sentinelhub configuration (see :func:`sentinelhub_config`).
    cache
        Reuse and store responses in ``Settings.cache_dir / "sentinelhub"``.
    max_tile_px, max_days, max_threads
        Tile size, time window and parallel requests.
    progress
        Called as ``progress(done, total)`` while tiles arrive.

    Returns
    -------
    xarray.Dataset
        A contract cube: float32 reflectance per band, the quality layers (``CLP`` in 0-1),
        ``dataMask``, ``valid`` from :func:`~agrilend.remote_sensing.masks.mask_clouds` (SCL,
        else CLM, else CLP), CRS and transform.

    Raises
    ------
    CredentialsError, ServiceError, ImageryReadError

    Examples
    --------
    >>> cube = load_sentinelhub((587880, 5684910, 588340, 5685430), crs="EPSG:32631",
    ...                         time=("2023-10-01", "2023-12-31"))  # doctest: +SKIP
    """
    unknown = [q for q in quality if q not in _QUALITY]
    if unknown:
        raise ValueError(f"unknown quality layers {unknown}; choose from {list(_QUALITY)}")
    if not bands:
        raise ValueError("ask for at least one band, e.g. bands=('B04', 'B08')")
    cfg = sentinelhub_config(config, profile=profile)
    settings = get_settings()
    grid, geom = _area(bbox, geometry, crs, resolution)
    res = abs(float(grid.resolution.x))
    t_from, t_to, start, end = _time_range(time)
    layers = [*bands, *quality, "dataMask"]
    evalscript = process_evalscript(layers)
    tiles = grid_tiles(grid, max(1, int(max_tile_px)))
    windows = _time_windows(start, end, max_days)
    reqs, placements = [], []
    for (w_from, w_to), (r, c, tile) in itertools.product(windows, tiles):
        bounds: dict[str, Any] = {
            "bbox": list(grid_bounds(tile)),
            "properties": {"crs": _crs_url(grid_epsg(grid))},
        }
        if geom is not None:
            bounds["geometry"] = shapely.geometry.mapping(geom)
        payload = {
            "input": {"bounds": bounds, "data": [_input_data(w_from, w_to, max_cloud)]},
            "output": {
                "resx": res,
                "resy": res,
                "responses": [
                    {"identifier": "default", "format": {"type": MimeType.TIFF.get_string()}},
                    {"identifier": "userdata", "format": {"type": MimeType.JSON.get_string()}},
                ],
            },
            "evalscript": evalscript,
        }
        reqs.append(_request(cfg, "process", payload, MimeType.TAR.get_string()))
        placements.append((r, c, tile))
    log.info(
        "Sentinel Hub Process API: %d x %d px at %g m in EPSG:%d, %d tile(s) x %d window(s), "
        "%s .. %s",
        grid.width, grid.height, res, grid_epsg(grid), len(tiles), len(windows), t_from, t_to,
    )  # fmt: skip
    bodies = _download(
        reqs,
        cfg=cfg,
        what="Process API",
        cache=_cache_for(cache, settings.cache_dir, "process"),
        cache_dir=settings.cache_dir if cache else None,
        max_threads=max_threads,
        progress=progress,
    )
    return _assemble(bodies, placements, grid, layers, n_bands=len(bands))


def _assemble(
    bodies: Sequence[bytes],
    placements: Sequence[tuple[int, int, GeoBox]],
    grid: GeoBox,
    layers: Sequence[str],
    *,
    n_bands: int,
) -> xr.Dataset:
    nl = len(layers)
    # first the dates of every answer (small), then one TIFF at a time into the full grid
    per_body = []
    for body in bodies:
        dates = _read_tar(body, image=False)[1]
        days = pd.DatetimeIndex(pd.to_datetime(dates, utc=True)).tz_localize(None).normalize()
        per_body.append(days)
    all_days = sorted({d for days in per_body for d in days})
    if not all_days:
        raise ImageryReadError(
            f"Sentinel Hub found no Sentinel-2 L2A scene for the area (EPSG:{grid_epsg(grid)} "
            f"bounds {grid_bounds(grid)}) in the time range; widen the range or raise max_cloud"
        )
    pos = {d: i for i, d in enumerate(all_days)}
    full = np.zeros((len(all_days), nl, grid.height, grid.width), dtype="uint16")
    for body, days, (r, c, tile) in zip(bodies, per_body, placements, strict=True):
        if not len(days):
            continue
        arr = _read_tar(body, image=True)[0]
        if arr.shape[1:] != (tile.height, tile.width) or arr.shape[0] < nl * len(days):
            raise ServiceError(
                f"Sentinel Hub returned {arr.shape} for a {tile.height} x {tile.width} tile with "
                f"{len(days)} scenes of {nl} layers; retry with cache=False"
            )
        window = full[:, :, r : r + tile.height, c : c + tile.width]
        for k, day in enumerate(days):
            scene = arr[k * nl : (k + 1) * nl]
            # two orbits on one day: keep the first, fill its no-data from the second
            empty = window[pos[day], -1] == 0
            window[pos[day]][:, empty] = scene[:, empty]
    has_data = full[:, -1] == 1
    bands = {}
    for j, name in enumerate(layers[:n_bands]):
        refl = full[:, j].astype("float32") / np.float32(_DN_SCALE)
        bands[name] = np.where(has_data, refl, np.float32(np.nan))
    quality: dict[str, np.ndarray[Any, Any]] = {}
    for j, name in enumerate(layers[n_bands:-1]):
        raw = full[:, n_bands + j]
        # CLP arrives as 0-255; the cube keeps cloud probability in 0-1 like harmonize does
        if name == "CLP":
            quality[name] = (raw / np.float32(255)).astype("float32")
        else:
            quality[name] = raw.astype("uint8")
    quality["dataMask"] = has_data
    cube = make_cube(
        bands,
        times=all_days,
        transform=grid.affine,
        crs=f"EPSG:{grid_epsg(grid)}",
        valid=has_data,
        quality=quality,
        attrs={
            "source": f"sentinelhub:{COLLECTION}",
            "processing_level": "L2A",
            "scene_ids": "",
            "harmonized": "sentinelhub harmonizeValues (reflectance = DN / 10000)",
        },
    )
    return with_value_check(mask_clouds(cube), name=f"Sentinel Hub {COLLECTION}")


__all__ = ["load_sentinelhub", "process_evalscript"]
