"""The scan's memory helpers: freed memory given back to the system between phases."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pyarrow as pa
import pytest

from agrilend.scan.memory import _malloc_trim, arrow_from_malloc, give_back, peak_mb, resident_mb


@pytest.mark.skipif(_malloc_trim() is None, reason="malloc_trim is glibc's (Linux) only")
def test_freed_memory_held_between_live_blocks_is_given_back() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.malloc.argtypes, libc.malloc.restype = [ctypes.c_size_t], ctypes.c_void_p
    libc.free.argtypes, libc.free.restype = [ctypes.c_void_p], None
    # 48 KiB blocks (below glibc's mmap threshold: in malloc's heap); every other one freed,
    # so the holes lie between live blocks and cannot go back from the heap's top
    blocks = []
    for _ in range(8000):
        p = libc.malloc(48 * 1024)
        ctypes.memset(p, 1, 48 * 1024)  # touched: resident
        blocks.append(p)
    try:
        for p in blocks[::2]:
            libc.free(p)
        held = resident_mb()
        given = give_back("a test")
        assert given > 100.0, (held, resident_mb(), given)  # 190 MB were freed
        assert resident_mb() < held - 100.0
    finally:
        for p in blocks[1::2]:
            libc.free(p)


def test_memory_figures_are_plausible() -> None:
    rss, peak = resident_mb(), peak_mb()
    if sys.platform.startswith("linux"):
        assert 10.0 < rss <= peak * 1.01  # MB; a Python process with numpy holds > 10 MB
    assert peak > 10.0


def test_arrow_buffers_come_from_malloc_while_the_scan_runs_and_the_pool_is_put_back() -> None:
    before = pa.default_memory_pool().backend_name
    seen = []

    @arrow_from_malloc
    def job(x: int) -> int:
        seen.append(pa.default_memory_pool().backend_name)
        if x < 0:
            raise ValueError("bad")
        return x + 1

    assert job(1) == 2
    with pytest.raises(ValueError, match="bad"):
        job(-1)
    assert seen == ["system", "system"]
    assert pa.default_memory_pool().backend_name == before
