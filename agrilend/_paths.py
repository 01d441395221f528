"""One gate for user-given paths: local files only, unless remote access is allowed.

This is the name half of the input gate; :mod:`agrilend._gate` is the content half (what a
file's bytes say it is, and whether it points elsewhere), :mod:`agrilend._limits` the sizes.
With ``AGRILEND_ALLOW_REMOTE`` set to a list of hosts, only those hosts are contacted.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from agrilend.errors import InputPathError
from agrilend.settings import get_settings

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|/vsi[a-z0-9_]+/)", re.IGNORECASE)


def is_remote(path: str | Path) -> bool:
    """True for URLs (``https://``, ``s3://``...) and GDAL virtual file systems (``/vsicurl/``...).

    Examples
    --------
    >>> is_remote("/vsicurl/https://example.org/a.tif"), is_remote("data/a.tif")
    (True, False)
    """
    return bool(_REMOTE.match(str(path)))


def remote_host(url: str) -> str | None:
    """The host a URL or ``/vsicurl/``-style path would contact, lower case (None if none).

    Examples
    --------
    >>> remote_host("/vsicurl/https://Example.org:8080/a.tif"), remote_host("s3://bucket/k")
    ('example.org', 'bucket')
    """
    text = re.sub(r"^(?:/vsi[a-z0-9_]+/)+", "", url, flags=re.IGNORECASE)
    if "://" in text:
        return (urlsplit(text).hostname or "").lower() or None
    if text == url:  # a plain path
        return None
    return text.split("/", 1)[0].lower() or None  # /vsis3/bucket/key: the bucket


def check_host(url: str, *, what: str = "input") -> None:
    """Refuse a remote path whose host is not among ``AGRILEND_ALLOW_REMOTE``'s hosts (if listed).

    Raises
    ------
    InputPathError
        Naming the host and the hosts allowed.
    """
    hosts = get_settings().remote_hosts
    if not hosts:
        return
    host = remote_host(url)
    if host not in hosts:
        raise InputPathError(
            f"{what} {url!r} would contact {host!r}, which is not among the hosts remote access "
            f"is limited to ({', '.join(hosts)}); add it to AGRILEND_ALLOW_REMOTE if you trust it",
            path=url,
        )


def local_path(
    path: str | Path,
    *,
    must_exist: bool = True,
    allow_remote: bool | None = None,
    what: str = "input",
) -> Path:
    """Check a user-given path and return it as a :class:`~pathlib.Path`.

    Parameters
    ----------
    path
        The path as the user gave it.
    must_exist
        Raise when the file does not exist.
    allow_remote
        Let URLs and GDAL virtual file systems through; defaults to ``AGRILEND_ALLOW_REMOTE``.
    what
        What the path is for, used in error messages ("titles", "imagery", ...).

    Raises
    ------
    InputPathError
        For a remote path when remote access is not allowed, or a missing file.
    """
    if allow_remote is None:
        allow_remote = get_settings().allow_remote
    if is_remote(path):
        if not allow_remote:
            raise InputPathError(
                f"{what} path {str(path)!r} points at the network or a GDAL virtual file system; "
                "download it first, or set AGRILEND_ALLOW_REMOTE=1 to allow remote paths",
                path=str(path),
            )
        check_host(str(path), what=what)
        return Path(str(path))
    p = Path(path).expanduser()
    if must_exist and not p.exists():
        raise InputPathError(f"{what} file {str(p)!r} does not exist; check the path", path=p)
    return p
