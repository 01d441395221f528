"""Sentinel Hub configuration, credentials, token and transport: the one place that touches them.

Credentials come only from sentinelhub's own configuration (``config.toml``, a profile of it, or an
:class:`sentinelhub.SHConfig` you pass) or from the environment variables ``SH_CLIENT_ID`` and
``SH_CLIENT_SECRET``; never from an argument of agrilend. The OAuth token is fetched by a small
client of our own (``requests_oauthlib`` logs the request body, secret included, at DEBUG) and kept
in ``Settings.cache_dir`` in a file of mode 0600.
"""

from __future__ import annotations

import json
import logging
import time as _time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
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
    ServiceError,
)
from agrilend.remote_sensing._cache import (
    ResponseCache,
    private_dir,
    read_json,
    request_key,
    write_private,
)
from agrilend.vocabulary import SCL_CLEAR

if TYPE_CHECKING:
    pass

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


__all__ = [
    "COLLECTION",
    "DEFAULT_BANDS",
    "MAX_DAYS",
    "MAX_TILE_PX",
    "ND_INDICES",
    "SCL_CLEAR",
    "ProgressFn",
    "sentinelhub_config",
]
