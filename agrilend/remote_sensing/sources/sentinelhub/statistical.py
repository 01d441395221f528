"""Parcel statistics of Sentinel-2 L2A from the Sentinel Hub Statistical API, with a local cache,
retries with back-off and no secret ever logged.

Credentials come only from sentinelhub's own configuration (``config.toml``, a profile of it, or an
:class:`sentinelhub.SHConfig` you pass) or from the environment variables ``SH_CLIENT_ID`` and
``SH_CLIENT_SECRET``; never from an argument of agrilend. The OAuth token is fetched by a small
client of our own (``requests_oauthlib`` logs the request body, secret included, at DEBUG) and kept
in ``Settings.cache_dir`` in a file of mode 0600.

The smoothed NDVI series and phenology of some fields for a season, from Sentinel Hub::

    import geopandas as gpd
    from agrilend.remote_sensing import sentinelhub_statistics
    from agrilend.remote_sensing.timeseries import clean_series
    from agrilend.remote_sensing.phenology import phenology_table

    fields = gpd.read_file("fields.gpkg")                       # parcel_id + geometry
    series = sentinelhub_statistics(fields, time=("2024-03-01", "2024-11-30"))
    ndvi, dates = clean_series(series["NDVI_mean"].values, series.indexes["time"])
    table = phenology_table(ndvi, dates, index=series.indexes["parcel"])
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import shapely
import xarray as xr
from affine import Affine
from rasterio.features import geometry_mask
from sentinelhub import SHConfig
from sentinelhub.constants import MimeType

from agrilend.errors import (
    DuplicateParcelError,
    ImageryReadError,
    MissingCRSError,
    ServiceError,
)
from agrilend.remote_sensing.sources.sentinelhub.area import (
    _area,
    _crs_url,
    _input_data,
    _time_range,
    grid_epsg,
)
from agrilend.remote_sensing.sources.sentinelhub.config import (
    COLLECTION,
    ND_INDICES,
    SCL_CLEAR,
    ProgressFn,
    _cache_for,
    _download,
    _request,
    sentinelhub_config,
)
from agrilend.settings import get_settings

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)


# --- evalscript ---


def statistics_evalscript(indices: Sequence[str]) -> str:
    """The Statistical API evalscript: normalised-difference indices of clear pixels.

    ``dataMask`` is 0 for no data, pixels outside the parcel and SCL classes other than
    :data:`SCL_CLEAR`, so the service's statistics cover clear pixels only.

    Examples
    --------
    >>> "NDVI: [nd(s.B08, s.B04)]" in statistics_evalscript(["NDVI"])
    True
    """
    unknown = [i for i in indices if i not in ND_INDICES]
    if unknown:
        raise ValueError(f"unknown indices {unknown}; choose from {sorted(ND_INDICES)}")
    bands = sorted({b for i in indices for b in ND_INDICES[i]})
    names = json.dumps([*bands, "SCL", "dataMask"])
    outputs = ", ".join(f'{{id: "{i}", bands: 1, sampleType: "FLOAT32"}}' for i in indices)
    values = ", ".join(f"{i}: [nd(s.{ND_INDICES[i][0]}, s.{ND_INDICES[i][1]})]" for i in indices)
    return f"""//VERSION=3
function setup() {{
  return {{
    input: [{{bands: {names}}}],
    output: [{outputs}, {{id: "dataMask", bands: 1}}]
  }};
}}
const CLEAR = {json.dumps(list(SCL_CLEAR))};
function nd(a, b) {{ return (a - b) / (a + b); }}
function evaluatePixel(s) {{
  const clear = s.dataMask === 1 && CLEAR.includes(s.SCL) ? 1 : 0;
  return {{{values}, dataMask: [clear]}};
}}
"""


# --- Statistical API ------------------------------------------------------------------------------

_STAT_KEYS = {"mean": "mean", "std": "stDev", "min": "min", "max": "max"}


def _stat_names(stats: Sequence[str]) -> tuple[list[str], list[float]]:
    percentiles = []
    for s in stats:
        if s in _STAT_KEYS:
            continue
        if s.startswith("p") and s[1:].isdigit() and 0 <= int(s[1:]) <= 100:
            percentiles.append(float(s[1:]))
            continue
        raise ValueError(f"unknown statistic {s!r}; use mean, std, min, max or p0..p100")
    return list(stats), percentiles


def _pixel_count(geom: shapely.Geometry, res: float) -> int:
    """Pixels whose centre lies in ``geom`` on the grid anchored at its bounds' top-left."""
    minx, miny, maxx, maxy = geom.bounds
    width = max(1, round((maxx - minx) / res))
    height = max(1, round((maxy - miny) / res))
    transform = Affine(res, 0.0, minx, 0.0, -res, maxy)
    inside = ~geometry_mask([geom], out_shape=(height, width), transform=transform)
    return int(inside.sum())


def sentinelhub_statistics(
    parcels: gpd.GeoDataFrame,
    *,
    time: Sequence[Any],
    id_column: str = "parcel_id",
    indices: Sequence[str] = ("NDVI",),
    stats: Sequence[str] = ("mean", "std", "p10", "p50", "p90"),
    resolution: float = 10.0,
    interval: str = "P1D",
    max_cloud: float | None = None,
    config: SHConfig | None = None,
    profile: str | None = None,
    cache: bool = True,
    max_threads: int = 4,
    progress: ProgressFn | None = None,
) -> xr.Dataset:
    """Per-parcel index statistics from the Sentinel Hub Statistical API, without pixels.

    One request per parcel (its polygon), one interval per acquisition day by default; cloudy,
    shadowed and no-data pixels (SCL outside :data:`SCL_CLEAR`) are left out by the evalscript.

    Parameters
    ----------
    parcels
        GeoDataFrame with a projected (or lon/lat) CRS, an id column and polygons.
    time
        ``(start, end)`` dates, both included.
    id_column
        Column holding parcel ids (the index when absent).
    indices
        Normalised-difference indices among :data:`ND_INDICES`.
    stats
        ``mean``, ``std``, ``min``, ``max`` and percentiles ``p10``, ``p50``, ...
    resolution
        Pixel size in metres.
    interval
        ISO-8601 aggregation interval; ``P1D`` gives one value per acquisition.
    max_cloud, config, profile, cache, max_threads, progress
        As for :func:`load_sentinelhub`.

    Returns
    -------
    xarray.Dataset
        The parcel-series contract: dims ``(parcel, time)``, ``{INDEX}_{stat}``,
        ``valid_fraction`` (clear pixels / pixels whose centre lies in the parcel),
        ``pixel_count`` and ``coverage_area_ha`` per parcel. Days without an acquisition over a
        parcel are NaN.

    Examples
    --------
    >>> series = sentinelhub_statistics(fields, time=("2024-03-01", "2024-11-30"))  # doctest: +SKIP
    """
    stat_names, percentiles = _stat_names(stats)
    if parcels.crs is None:
        raise MissingCRSError("the parcels have no CRS; set one with parcels.set_crs('EPSG:...')")
    ids = (
        parcels[id_column].astype(str).to_numpy()
        if id_column in parcels.columns
        else parcels.index.astype(str).to_numpy()
    )
    dup = pd.Index(ids)[pd.Index(ids).duplicated()]
    if len(dup):
        raise DuplicateParcelError(
            f"parcel id {dup[0]!r} appears more than once in {id_column!r}; ids must be unique",
            parcel_id=str(dup[0]),
        )
    cfg = sentinelhub_config(config, profile=profile)
    settings = get_settings()
    t_from, t_to, _, _ = _time_range(time)
    evalscript = statistics_evalscript(indices)
    geoms: list[shapely.Geometry] = []
    reqs = []
    for pid, raw in zip(ids, parcels.geometry, strict=True):
        if raw is None or raw.is_empty:
            raise ImageryReadError(f"parcel {pid!r} has an empty geometry; repair or drop it")
        grid, geom = _area(None, raw, parcels.crs, resolution)
        assert geom is not None
        geoms.append(geom)
        payload: dict[str, Any] = {
            "input": {
                "bounds": {
                    "geometry": shapely.geometry.mapping(geom),
                    "properties": {"crs": _crs_url(grid_epsg(grid))},
                },
                "data": [_input_data(t_from, t_to, max_cloud)],
            },
            "aggregation": {
                "evalscript": evalscript,
                "timeRange": {"from": t_from, "to": t_to},
                "aggregationInterval": {"of": interval},
                "resx": float(resolution),
                "resy": float(resolution),
            },
        }
        if percentiles:
            payload["calculations"] = {
                "default": {"statistics": {"default": {"percentiles": {"k": percentiles}}}}
            }
        reqs.append(_request(cfg, "statistics", payload, MimeType.JSON.get_string()))
    bodies = _download(
        reqs,
        cfg=cfg,
        what="Statistical API",
        cache=_cache_for(cache, settings.cache_dir, "statistics"),
        cache_dir=settings.cache_dir if cache else None,
        max_threads=max_threads,
        progress=progress,
    )
    counts = np.array([_pixel_count(g, float(resolution)) for g in geoms], dtype="int64")
    return _series(bodies, ids, geoms=geoms, counts=counts, indices=indices, stat_names=stat_names)


def _stat_value(stat: dict[str, Any], name: str) -> float:
    if name in _STAT_KEYS:
        raw = stat.get(_STAT_KEYS[name])
    else:
        pct = stat.get("percentiles", {})
        q = float(name[1:])
        raw = next((v for k, v in pct.items() if math.isclose(float(k), q)), None)
    try:
        return float(raw) if raw is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


def _series(
    bodies: Sequence[bytes],
    ids: np.ndarray[Any, Any],
    *,
    geoms: Sequence[shapely.Geometry],
    counts: np.ndarray[Any, Any],
    indices: Sequence[str],
    stat_names: Sequence[str],
) -> xr.Dataset:
    rows: list[dict[pd.Timestamp, dict[str, Any]]] = []
    for pid, body in zip(ids, bodies, strict=True):
        answer = json.loads(body)
        if answer.get("status") not in (None, "OK"):
            raise ServiceError(f"Statistical API failed for parcel {pid!r}: {answer.get('status')}")
        per_day: dict[pd.Timestamp, dict[str, Any]] = {}
        for entry in answer.get("data", []):
            if "error" in entry:
                log.warning("Statistical API error for parcel %r: %s", pid, entry["error"])
                continue
            day = pd.Timestamp(entry["interval"]["from"]).tz_localize(None).normalize()
            per_day[day] = entry["outputs"]
        rows.append(per_day)
    times = pd.DatetimeIndex(sorted({d for r in rows for d in r}), name="time")
    shape = (len(ids), len(times))
    data: dict[str, np.ndarray[Any, Any]] = {
        f"{i}_{s}": np.full(shape, np.nan, dtype="float64") for i in indices for s in stat_names
    }
    valid_fraction = np.full(shape, np.nan, dtype="float64")
    tpos = {t: k for k, t in enumerate(times)}
    for p, per_day in enumerate(rows):
        for day, outputs in per_day.items():
            k = tpos[day]
            first = None
            for index in indices:
                stat = outputs.get(index, {}).get("bands", {}).get("B0", {}).get("stats", {})
                first = first or stat
                for s in stat_names:
                    data[f"{index}_{s}"][p, k] = _stat_value(stat, s)
            if first and counts[p] > 0:
                clear = float(first.get("sampleCount", 0)) - float(first.get("noDataCount", 0))
                valid_fraction[p, k] = min(1.0, max(0.0, clear / counts[p]))
    dims = ("parcel", "time")
    ds = xr.Dataset(
        {name: (dims, arr) for name, arr in data.items()},
        coords={"parcel": np.asarray(ids, dtype=object), "time": times},
    )
    ds["valid_fraction"] = (dims, valid_fraction)
    ds["pixel_count"] = ("parcel", counts)
    ds["coverage_area_ha"] = ("parcel", np.array([g.area / 1e4 for g in geoms]))
    ds.attrs.update(source=f"sentinelhub-statistical:{COLLECTION}", processing_level="L2A")
    return ds


__all__ = ["sentinelhub_statistics", "statistics_evalscript"]
