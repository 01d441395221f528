"""Run-time settings read from the environment, in one frozen object.

========================== ===================================================================
variable                   meaning
========================== ===================================================================
AGRILEND_PSEUDONYM_KEY     secret key of the keyed hash (HMAC-SHA256) that turns owner ids into
                           pseudonyms. Set it in production; without it a public demo key is
                           used and pseudonyms are only as private as that key.
AGRILEND_CACHE_DIR         where downloaded imagery and service tokens are cached
                           (default ``~/.cache/agrilend``).
AGRILEND_ALLOW_REMOTE      ``1`` lets user paths point at URLs or GDAL virtual file systems;
                           a comma-separated list of host names (``earth-search.aws.element84.com,
                           planetarycomputer.microsoft.com``) allows only those hosts.
AGRILEND_PSEUDONYM_KEY_FILE a file holding the pseudonym key (instead of the variable above).
========================== ===================================================================
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The key used when ``AGRILEND_PSEUDONYM_KEY`` is unset. Public: fine for the synthetic sample
#: county, never for real registries.
DEMO_PSEUDONYM_KEY = "agrilend-public-demo-key"


def _default_cache_dir() -> Path:
    return Path(os.environ.get("AGRILEND_CACHE_DIR", Path.home() / ".cache" / "agrilend"))


@dataclass(frozen=True)
class Settings:
    """Settings of one run. Build with :func:`get_settings` to read the environment.

    The pseudonym key is kept out of ``repr`` so it never reaches a log line.
    """

    pseudonym_key: str = field(default=DEMO_PSEUDONYM_KEY, repr=False)
    cache_dir: Path = field(default_factory=_default_cache_dir)
    allow_remote: bool = False
    #: Hosts remote access is limited to; empty means any host once ``allow_remote`` is set.
    remote_hosts: tuple[str, ...] = ()

    @property
    def uses_demo_key(self) -> bool:
        """True when pseudonyms are made with the public demo key."""
        return self.pseudonym_key == DEMO_PSEUDONYM_KEY


def get_settings() -> Settings:
    """Read the settings from the environment.

    Examples
    --------
    >>> s = get_settings()
    >>> isinstance(s.cache_dir, Path)
    True
    """
    remote = os.environ.get("AGRILEND_ALLOW_REMOTE", "").strip()
    hosts: tuple[str, ...] = ()
    if remote.lower() not in {"", "0", "1", "true", "yes", "false", "no"}:
        hosts = tuple(h.strip().lower() for h in remote.split(",") if h.strip())
    return Settings(
        pseudonym_key=os.environ.get("AGRILEND_PSEUDONYM_KEY") or DEMO_PSEUDONYM_KEY,
        cache_dir=_default_cache_dir(),
        allow_remote=remote.lower() in {"1", "true", "yes"} or bool(hosts),
        remote_hosts=hosts,
    )


__all__ = ["DEMO_PSEUDONYM_KEY", "Settings", "get_settings"]
