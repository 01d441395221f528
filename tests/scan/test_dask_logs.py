"""A finished chunk task leaves nothing behind in the client process.

With a local cluster the scheduler runs in the client and deserializes every task it is sent.
Dask's debugging logs (``distributed.admin.low-level-log-length``, 1000 messages by default)
kept each message to a worker, and so each chunk's titles, alive for the whole scan.
:func:`agrilend.scan.cluster.dask_client` keeps those logs empty while a scan runs.
"""

from __future__ import annotations

import gc
import time
import weakref
from typing import Any

import pytest

import agrilend.scan.cluster as cluster

pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)

#: Every payload unpickled in this process (weak: it does not keep them alive).
_UNPICKLED: list[weakref.ref[Any]] = []


class Payload:
    """A task argument that records where it is unpickled."""

    def __init__(self, n: int) -> None:
        self.data = bytes(n)

    def __reduce__(self) -> tuple[Any, tuple[int]]:
        return _unpickle, (len(self.data),)


def _unpickle(n: int) -> Payload:
    p = Payload(n)
    _UNPICKLED.append(weakref.ref(p))
    return p


def _size(p: Payload) -> int:
    return len(p.data)


def _alive_after_tasks(n_tasks: int) -> tuple[int, int]:
    """Run ``n_tasks`` tasks on a one-worker local cluster, release them; how many payloads
    were unpickled in this process, and how many of them are still alive."""
    from dask.distributed import as_completed  # noqa: PLC0415

    _UNPICKLED.clear()
    with cluster.dask_client(1, None) as client:
        futures = [client.submit(_size, Payload(10_000), pure=False) for _ in range(n_tasks)]
        for fut in as_completed(futures):
            assert fut.result() == 10_000
            fut.release()
        del futures, fut
        time.sleep(0.5)  # the scheduler forgets released tasks on its event loop
        gc.collect()
        alive = sum(ref() is not None for ref in _UNPICKLED)
        return len(_UNPICKLED), alive


def test_finished_tasks_leave_no_argument_alive_in_the_client() -> None:
    unpickled, alive = _alive_after_tasks(12)
    if unpickled == 0:
        pytest.skip("this Dask's scheduler does not deserialize tasks in the client process")
    # with Dask's default (1000) all 12 stayed alive here (distributed 2026.8.0)
    assert alive == 0, f"{alive} of {unpickled} task arguments still alive in the client"
