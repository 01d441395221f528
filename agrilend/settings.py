"""Run-time settings read from the environment, in one frozen object.

========================== ===================================================================
variable                   meaning
========================== ===================================================================
AGRILEND_PSEUDONYM_KEY     secret key of the keyed hash (HMAC-SHA256) that turns owner ids into
                           pseudonyms (at least 16 characters). Without it (or a key file) only
                           the embedded sample county is read, with a public demo key; any
                           other registry is refused.
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


def _key_file() -> str | None:
    """The key in ``AGRILEND_PSEUDONYM_KEY_FILE`` (first line, stripped), or None if unset."""
    name = os.environ.get("AGRILEND_PSEUDONYM_KEY_FILE", "").strip()
    if not name:
        return None
    from agrilend.errors import CredentialsError  # noqa: PLC0415

    path = Path(name).expanduser()
    try:
        private = not path.stat().st_mode & 0o077
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(
            f"the pseudonym key file {str(path)!r} (AGRILEND_PSEUDONYM_KEY_FILE) cannot be read "
            f"({type(exc).__name__}); check the path and its permissions"
        ) from None
    if not private:
        raise CredentialsError(
            f"the pseudonym key file {str(path)!r} can be read by other users; make it private: "
            f"chmod 600 {str(path)!r}"
        )
    key = lines[0].strip() if lines else ""
    if not key:
        raise CredentialsError(f"the pseudonym key file {str(path)!r} is empty")
    return key


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
        pseudonym_key=os.environ.get("AGRILEND_PSEUDONYM_KEY") or _key_file() or DEMO_PSEUDONYM_KEY,
        cache_dir=_default_cache_dir(),
        allow_remote=remote.lower() in {"1", "true", "yes"} or bool(hosts),
        remote_hosts=hosts,
    )


__all__ = ["DEMO_PSEUDONYM_KEY", "Settings", "get_settings"]
