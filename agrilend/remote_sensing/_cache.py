"""A small on-disk cache for remote imagery responses and service tokens.

Responses are keyed by a SHA-256 of the request (URL and JSON payload), never of credentials.
Every file is written atomically (temporary file in the same folder, then ``os.replace``) with
mode 0600, inside folders created with mode 0700, so a reader never sees half a file and other
users of the machine see nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_FILE_MODE = 0o600
_DIR_MODE = 0o700


def request_key(url: str, payload: Any) -> str:
    """A stable hex key for a request: SHA-256 of its URL and canonical JSON payload.

    Examples
    --------
    >>> key = request_key("https://x/api", {"b": 1, "a": 2})
    >>> key == request_key("https://x/api", {"a": 2, "b": 1})
    True
    """
    canonical = json.dumps({"url": url, "payload": payload}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def private_dir(path: Path) -> Path:
    """Create ``path`` and missing parents with mode 0700 (folders that existed are left alone)."""
    created = []
    p = path
    while not p.exists():
        created.append(p)
        if p.parent == p:
            break
        p = p.parent
    path.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
    for d in created:
        with contextlib.suppress(OSError):  # mkdir's mode is masked by the umask
            d.chmod(_DIR_MODE)
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically with mode 0600."""
    from agrilend.outputs import atomic_write  # noqa: PLC0415  (the one writer of the library)

    private_dir(path.parent)
    with atomic_write(path, mode=_FILE_MODE) as tmp:
        tmp.write_bytes(data)
    return path


class ResponseCache:
    """Responses of one service, one file per request key, under ``root``.

    Examples
    --------
    >>> import tempfile
    >>> cache = ResponseCache(Path(tempfile.mkdtemp()) / "sh")
    >>> key = request_key("https://x/api", {"a": 1})
    >>> cache.get(key) is None
    True
    >>> _ = cache.put(key, b"tiff bytes")
    >>> cache.get(key)
    b'tiff bytes'
    """

    def __init__(self, root: Path, *, suffix: str = ".bin") -> None:
        self.root = root
        self.suffix = suffix

    def path(self, key: str) -> Path:
        """Where the response of ``key`` lives (two-level fan-out keeps folders small)."""
        return self.root / key[:2] / f"{key}{self.suffix}"

    def get(self, key: str) -> bytes | None:
        """The cached bytes for ``key``, or None."""
        p = self.path(key)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            return None
        log.debug("cache hit %s", p.name)
        return data

    def put(self, key: str, data: bytes) -> Path:
        """Store ``data`` for ``key`` atomically; return the file path."""
        private_dir(self.root)
        return write_private(self.path(key), data)


def read_json(path: Path) -> Any:
    """Read a JSON file, or None when it is missing or unreadable (a cache is only a hint)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


__all__ = ["ResponseCache", "private_dir", "read_json", "request_key", "write_private"]
