"""A scan process's memory: what it holds now, its peak, and giving freed memory back.

glibc's malloc keeps memory a process frees in its arenas for later allocations. Between the
scan's phases that memory is large (the client's titles and temporaries of the chunk phase,
the training sample's features of the crop model) and the next phase's large allocations
(Arrow buffers, GDAL's, Python's own arenas) do not reuse it: so the client's peak held both.
:func:`give_back` returns it to the system at each phase's end (``malloc_trim``): the
client's peak at 10^4 and 10^5 parcels, with and without, is in benchmarks/README.md (issue
18, fifth round).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import resource
import sys
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)


def resident_mb() -> float:
    """This process's resident memory now (MB; 0 where ``/proc`` is not)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def peak_mb() -> float:
    """This process's peak resident memory so far (MB; ``getrusage``, its own threads only)."""
    peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None (another C library: musl, macOS, Windows)."""
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c") or "libc.so.6"
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def give_back(phase: str) -> float:
    """Return the memory this process freed to the system (glibc; elsewhere nothing is done)
    and log what it holds after ``phase``. Returns the resident MB given back (0 when none).

    Examples
    --------
    >>> give_back("a doctest") >= 0.0
    True
    """
    trim = _malloc_trim()
    if trim is None:
        return 0.0
    before = resident_mb()
    trim(0)
    after = resident_mb()
    log.debug("after %s: %.0f MB resident (%.0f MB given back)", phase, after, before - after)
    return max(before - after, 0.0)


def arrow_from_malloc(fn: F) -> F:
    """Run ``fn`` with Arrow's buffers taken from glibc's malloc (the previous pool back after).

    pyarrow's default pool (mimalloc or jemalloc) keeps what it frees for itself, out of reach
    of :func:`give_back`: writing the GeoPackage from the parts' Arrow tables left the client
    about 100 MB more at any county size (measured: benchmarks/README.md, issue 18's fifth
    round).
    """

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        import pyarrow as pa  # noqa: PLC0415

        before = pa.default_memory_pool()
        pa.set_memory_pool(pa.system_memory_pool())
        try:
            return fn(*args, **kwargs)
        finally:
            pa.set_memory_pool(before)

    return run  # type: ignore[return-value]


__all__ = ["arrow_from_malloc", "give_back", "peak_mb", "resident_mb"]
