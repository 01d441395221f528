"""Sentinel-2 L2A from Sentinel Hub: pixels through the Process API, parcel statistics through the
Statistical API, both with a local cache, retries with back-off and no secret ever logged.

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

import io
import itertools
import json
import logging
import math
import tarfile
import time as _time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyproj
import rasterio
import requests
import shapely
import xarray as xr
from affine import Affine
from rasterio.features import geometry_mask
from sentinelhub import DataCollection, SHConfig
from sentinelhub.constants import MimeType, RequestType
from sentinelhub.decoding import decode_sentinelhub_err_msg
from sentinelhub.download import DownloadRequest, SentinelHubDownloadClient, SentinelHubSession
from sentinelhub.download.handlers import fail_user_errors, retry_temporary_errors
from sentinelhub.exceptions import (
    DownloadFailedException,
    OutOfRequestsException,
    SHRateLimitWarning,
)

from agrilend.errors import (
    CredentialsError,
    CRSError,
    DuplicateParcelError,
    ImageryReadError,
    MissingCRSError,
    ServiceError,
)
from agrilend.remote_sensing._cache import (
    ResponseCache,
    private_dir,
    read_json,
    request_key,
    write_private,
)
from agrilend.remote_sensing.contract import make_cube
from agrilend.remote_sensing.masks import mask_clouds
from agrilend.settings import get_settings
from agrilend.vocabulary import SCL_CLEAR

if TYPE_CHECKING:
    import geopandas as gpd

log = logging.getLogger(__name__)

#: The Sentinel-2 collection both APIs read.
COLLECTION = DataCollection.SENTINEL2_L2A.api_id
#: Reflectance bands fetched by default.
DEFAULT_BANDS = ("B02", "B03", "B04", "B08")
#: Largest request side in pixels (Sentinel Hub refuses more than 2500; multi-date answers of
#: 1000 x 1000 px and a month of scenes stay near 100 MB).
MAX_TILE_PX = 1000
#: Longest time window of one Process API request, in days.
MAX_DAYS = 31
#: Normalised-difference indices the Statistical API path computes: name -> (a, b), (a-b)/(a+b).
ND_INDICES = {"NDVI": ("B08", "B04"), "NDWI": ("B03", "B08"), "NDRE": ("B8A", "B05")}

_QUALITY = ("SCL", "CLM", "CLP")
_DN_SCALE = 10000.0  # harmonised L2A digital numbers: reflectance = DN / 10000
_DEFAULT_ATTEMPTS = 5
_DEFAULT_MAX_429 = 20
_TOKEN_MARGIN_S = 120.0

ProgressFn = Callable[[int, int], None]


# --- configuration and credentials (the one place that touches them) ---------------------------


def sentinelhub_config(
    config: SHConfig | None = None,
    *,
    profile: str | None = None,
    max_download_attempts: int | None = None,
    download_sleep_time: float | None = None,
) -> SHConfig:
    """The sentinelhub configuration to use, checked for credentials.

    Parameters
    ----------
    config
        A ready :class:`sentinelhub.SHConfig`; copied, never changed. Default: sentinelhub's own
        configuration file (profile ``profile`` or ``$SH_PROFILE``) overlaid with ``SH_CLIENT_ID``
        and ``SH_CLIENT_SECRET`` from the environment.
    profile
        Profile of sentinelhub's ``config.toml`` to read when ``config`` is None.
    max_download_attempts, download_sleep_time
        Retries on 5xx and connection errors; the sleep grows threefold per attempt (sentinelhub's
        back-off). Defaults: the given config's values, or at least 5 attempts when the
        configuration is read from sentinelhub's file.

    Raises
    ------
    CredentialsError
        When the client id or secret is missing (the message never shows their values).

    Examples
    --------
    >>> from sentinelhub import SHConfig
    >>> raw = SHConfig(use_defaults=True, sh_client_id="id", sh_client_secret="s")
    >>> sentinelhub_config(raw, max_download_attempts=6).max_download_attempts
    6
    """
    try:
        cfg = config.copy() if config is not None else SHConfig(profile)
    except KeyError:
        raise CredentialsError(
            f"sentinelhub configuration profile {profile!r} does not exist; create it with "
            "`sentinelhub.config --profile NAME --sh_client_id ...` or drop the profile"
        ) from None
    if not (cfg.sh_client_id and cfg.sh_client_secret):
        raise CredentialsError(
            "Sentinel Hub credentials are missing: set the environment variables SH_CLIENT_ID and "
            "SH_CLIENT_SECRET, or store them in sentinelhub's configuration "
            "(`sentinelhub.config --sh_client_id ID --sh_client_secret SECRET`)"
        )
    if max_download_attempts is not None:
        cfg.max_download_attempts = max(1, int(max_download_attempts))
    elif config is None:  # a config the caller built is taken as meant
        cfg.max_download_attempts = max(cfg.max_download_attempts, _DEFAULT_ATTEMPTS)
    if download_sleep_time is not None:
        cfg.download_sleep_time = float(download_sleep_time)
    if cfg.max_retries is None:
        cfg.max_retries = _DEFAULT_MAX_429  # sentinelhub waits forever on 429 without it
    return cfg


class _TokenSession(SentinelHubSession):
    """A Sentinel Hub OAuth session whose token request logs nothing secret.

    ``requests_oauthlib`` writes the token request body (client secret included) to its DEBUG log;
    this client posts the client-credentials form itself with ``requests``, which logs only the URL.
    """

    def __init__(self, config: SHConfig, *, token: dict[str, Any] | None = None) -> None:
        super().__init__(config, _token=token)

    @retry_temporary_errors
    @fail_user_errors
    def _fetch_token(self, request: DownloadRequest) -> dict[str, Any]:
        assert request.url is not None
        log.debug("requesting a Sentinel Hub OAuth token from %s", request.url)
        response = requests.post(
            request.url,
            data={
                "grant_type": "client_credentials",
                "client_id": self.config.sh_client_id,
                "client_secret": self.config.sh_client_secret,
            },
            headers=self.DEFAULT_HEADERS,
            timeout=self.config.download_timeout_seconds,
        )
        response.raise_for_status()
        token = dict(response.json())
        if "access_token" not in token:
            raise ServiceError(f"the token endpoint {request.url} answered without an access token")
        token["expires_at"] = _time.time() + float(token.get("expires_in", 3600))
        return token

    def __repr__(self) -> str:
        return f"{type(self).__name__}(token_url={self.config.sh_token_url!r})"


def _token_path(cfg: SHConfig, cache_dir: Path) -> Path:
    key = request_key(cfg.sh_token_url, {"client_id": cfg.sh_client_id})
    return cache_dir / "sentinelhub" / "tokens" / f"{key[:32]}.json"


def _session(cfg: SHConfig, *, cache_dir: Path | None) -> _TokenSession:
    """An authenticated session, reusing a cached token that has more than two minutes left."""
    path = _token_path(cfg, cache_dir) if cache_dir is not None else None
    cached = read_json(path) if path is not None else None
    if (
        isinstance(cached, dict)
        and "access_token" in cached
        and float(cached.get("expires_at", 0)) - _time.time() > _TOKEN_MARGIN_S
    ):
        log.debug("reusing the cached Sentinel Hub token")
        return _TokenSession(cfg, token=cached)
    try:
        session = _TokenSession(cfg)
    except DownloadFailedException as exc:
        status = _status(exc)
        if status in (400, 401, 403):
            raise CredentialsError(
                f"Sentinel Hub rejected the OAuth client credentials (HTTP {status} from "
                f"{cfg.sh_token_url}); check SH_CLIENT_ID and SH_CLIENT_SECRET or sentinelhub's "
                "configuration"
            ) from None
        raise _service_error(exc, what="token") from None
    if path is not None:
        private_dir(path.parent)
        write_private(path, json.dumps(session.token).encode("utf-8"))
    return session


def _status(exc: DownloadFailedException) -> int | None:
    req_exc = getattr(exc, "request_exception", None)
    response = getattr(req_exc, "response", None)
    return getattr(response, "status_code", None)


def _service_error(exc: Exception, *, what: str) -> ServiceError:
    if isinstance(exc, OutOfRequestsException):
        return ServiceError(
            f"Sentinel Hub kept answering 429 (rate limit) to the {what} request; wait, use "
            "fewer threads (max_threads) or check the account's processing-unit quota"
        )
    status = _status(exc) if isinstance(exc, DownloadFailedException) else None
    if status is not None and 400 <= status < 500:
        response = exc.request_exception.response  # type: ignore[attr-defined]
        return ServiceError(
            f"Sentinel Hub rejected the {what} request (HTTP {status}: "
            f"{decode_sentinelhub_err_msg(response)[:300]}); check the area, time range, bands "
            "and collection"
        )
    detail = f"HTTP {status}" if status else type(exc).__name__
    return ServiceError(
        f"Sentinel Hub {what} request failed after retries ({detail}); try again later"
    )


# --- area and pixel grid --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """A north-up pixel grid: origin (x0, y1) top-left, ``res`` metres, ``width`` x ``height``."""

    x0: float
    y1: float
    res: float
    width: int
    height: int
    epsg: int

    @property
    def transform(self) -> Affine:
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y1)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y1 - self.height * self.res, self.x0 + self.width * self.res, self.y1)

    def tiles(self, max_px: int) -> list[tuple[int, int, _Grid]]:
        """Sub-grids of at most ``max_px`` per side, with their (row, col) offset."""
        out = []
        for r in range(0, self.height, max_px):
            for c in range(0, self.width, max_px):
                sub = _Grid(
                    self.x0 + c * self.res,
                    self.y1 - r * self.res,
                    self.res,
                    min(max_px, self.width - c),
                    min(max_px, self.height - r),
                    self.epsg,
                )
                out.append((r, c, sub))
        return out


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
) -> tuple[_Grid, shapely.Geometry | None]:
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
    return _Grid(x0, y1, float(res), width, height, int(epsg)), geom


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


# --- requests with cache --------------------------------------------------------------------------


def _download(
    reqs: Sequence[DownloadRequest],
    *,
    cfg: SHConfig,
    what: str,
    cache: ResponseCache | None,
    cache_dir: Path | None,
    max_threads: int,
    progress: ProgressFn | None,
) -> list[bytes]:
    """Raw response bodies of ``reqs``, from the cache where possible."""
    keys = [request_key(str(r.url), r.post_values) for r in reqs]
    out: list[bytes | None] = [cache.get(k) if cache is not None else None for k in keys]
    todo = [i for i, b in enumerate(out) if b is None]
    total, done = len(reqs), len(reqs) - len(todo)
    log.info("Sentinel Hub %s: %d requests, %d from the cache", what, total, done)
    if progress is not None:
        progress(done, total)
    if todo:
        client = SentinelHubDownloadClient(config=cfg, session=_session(cfg, cache_dir=cache_dir))
        step = max(1, max_threads)
        for lo in range(0, len(todo), step):
            batch = todo[lo : lo + step]
            with warnings.catch_warnings():
                # sentinelhub warns on every 429 before it waits and retries: expected, not news
                warnings.simplefilter("ignore", SHRateLimitWarning)
                try:
                    responses = client.download(
                        [reqs[i] for i in batch], max_threads=step, decode_data=False
                    )
                except DownloadFailedException as exc:
                    if _status(exc) in (401, 403):
                        raise CredentialsError(
                            f"Sentinel Hub refused the {what} request (HTTP {_status(exc)}); check "
                            "that the OAuth client may use this service and collection"
                        ) from None
                    raise _service_error(exc, what=what) from None
            for i, resp in zip(batch, responses, strict=True):
                out[i] = resp.content
                if cache is not None:
                    cache.put(keys[i], resp.content)
            done += len(batch)
            if progress is not None:
                progress(done, total)
    return [b for b in out if b is not None]


def _request(cfg: SHConfig, endpoint: str, payload: dict[str, Any], accept: str) -> DownloadRequest:
    return DownloadRequest(
        url=f"{cfg.sh_base_url.rstrip('/')}/api/v1/{endpoint}",
        post_values=payload,
        request_type=RequestType.POST,
        headers={"content-type": MimeType.JSON.get_string(), "accept": accept},
        use_session=True,
        data_type=MimeType.RAW,
    )


def _cache_for(cache: bool, cache_dir: Path, kind: str) -> ResponseCache | None:
    return ResponseCache(cache_dir / "sentinelhub" / kind) if cache else None


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
    t_from, t_to, start, end = _time_range(time)
    layers = [*bands, *quality, "dataMask"]
    evalscript = process_evalscript(layers)
    tiles = grid.tiles(max(1, int(max_tile_px)))
    windows = _time_windows(start, end, max_days)
    reqs, placements = [], []
    for (w_from, w_to), (r, c, tile) in itertools.product(windows, tiles):
        bounds: dict[str, Any] = {
            "bbox": list(tile.bounds),
            "properties": {"crs": _crs_url(grid.epsg)},
        }
        if geom is not None:
            bounds["geometry"] = shapely.geometry.mapping(geom)
        payload = {
            "input": {"bounds": bounds, "data": [_input_data(w_from, w_to, max_cloud)]},
            "output": {
                "resx": grid.res,
                "resy": grid.res,
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
        grid.width, grid.height, grid.res, grid.epsg, len(tiles), len(windows), t_from, t_to,
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
    placements: Sequence[tuple[int, int, _Grid]],
    grid: _Grid,
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
            f"Sentinel Hub found no Sentinel-2 L2A scene for the area (EPSG:{grid.epsg} bounds "
            f"{grid.bounds}) in the time range; widen the range or raise max_cloud"
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
        transform=grid.transform,
        crs=f"EPSG:{grid.epsg}",
        valid=has_data,
        quality=quality,
        attrs={
            "source": f"sentinelhub:{COLLECTION}",
            "processing_level": "L2A",
            "scene_ids": "",
            "harmonized": "sentinelhub harmonizeValues (reflectance = DN / 10000)",
        },
    )
    return mask_clouds(cube)


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
                    "properties": {"crs": _crs_url(grid.epsg)},
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


__all__ = [
    "COLLECTION",
    "DEFAULT_BANDS",
    "MAX_DAYS",
    "MAX_TILE_PX",
    "ND_INDICES",
    "SCL_CLEAR",
    "load_sentinelhub",
    "process_evalscript",
    "sentinelhub_config",
    "sentinelhub_statistics",
    "statistics_evalscript",
]
