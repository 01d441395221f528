"""One gate for user-given paths: local files only, unless remote access is allowed."""

from __future__ import annotations

import re
from pathlib import Path

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
        return Path(str(path))
    p = Path(path).expanduser()
    if must_exist and not p.exists():
        raise InputPathError(f"{what} file {str(p)!r} does not exist; check the path", path=p)
    return p
