"""The scan's Dask: its client and local cluster, and the three ways the county step uses it.

:func:`dask_client` starts a local cluster (worker processes with glibc's own malloc
thresholds, see :func:`worker_environ`) or connects to a scheduler by address, and keeps
Dask's debugging logs short meanwhile (:data:`DASK_LOG_LENGTH`). :func:`mapper`,
:func:`reducer` and :func:`broadcaster` run functions on the workers, or in this process when
there is no client.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import dask
import numpy as np

#: How many messages Dask keeps per connection, and transitions and events, for its own
#: debugging while a scan runs (``distributed.admin.low-level-log-length``; Dask's default is
#: 1000). A connection's log holds the messages themselves: with the scheduler in the client
#: (a local cluster), every chunk task's titles, deserialized by the scheduler, stayed alive
#: there for the whole scan (tracemalloc found all 10,028 titles' geometries of a 10^4-parcel
#: scan alive after the chunk phase), and the client's own log kept each task it had sent,
#: pickled. Events still reach their subscribers. A ``dask scheduler`` started apart needs
#: ``DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH=0`` in its environment for the same.
DASK_LOG_LENGTH = 0


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client for the scan (None for in-process), closed on the way out, with the
    local cluster it owns, if any; Dask's debugging logs are kept short meanwhile."""
    if scheduler is None and workers == 0:
        yield None
        return
    from dask.distributed import Client, LocalCluster  # noqa: PLC0415

    from agrilend._limits import connect_scheduler  # noqa: PLC0415

    with dask.config.set({"distributed.admin.low-level-log-length": DASK_LOG_LENGTH}):
        if scheduler:
            with connect_scheduler(scheduler) as client:
                yield client
            return
        n = workers if workers is not None else max(1, min(os.cpu_count() or 1, 8))
        with dask.config.set({_SPAWN_ENV: worker_environ()}):
            cluster = LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            )
        with cluster, Client(cluster) as client:
            yield client


_SPAWN_ENV = "distributed.nanny.pre-spawn-environ"
#: Environment variable choosing the workers' glibc malloc trim threshold: ``unset`` (the
#: default: glibc's own, dynamic thresholds), ``dask`` (Dask's 65536), or a number of bytes.
MALLOC_ENV = "AGRILEND_WORKER_MALLOC_TRIM"


def worker_environ() -> dict[str, Any]:
    """The environment of the local cluster's worker processes: Dask's, without its
    ``MALLOC_TRIM_THRESHOLD_=65536`` unless :data:`MALLOC_ENV` asks for it.

    Any ``MALLOC_*_`` variable turns glibc's dynamic mmap threshold off: every allocation above
    128 KiB is then mapped and unmapped again, and reading a chunk's imagery page-faulted
    13 times as much with Dask's setting (measured: benchmarks/README.md, County scans), for no
    memory won back (a worker's peak is one chunk).
    """
    import distributed  # noqa: F401, PLC0415  (loads Dask's distributed configuration)

    env = dict(dask.config.get(_SPAWN_ENV, default={}) or {})
    choice = os.environ.get(MALLOC_ENV, "unset").strip().lower()
    if choice == "unset":
        env.pop("MALLOC_TRIM_THRESHOLD_", None)
    elif choice != "dask":
        env["MALLOC_TRIM_THRESHOLD_"] = int(choice)
    return env


def mapper(client: Any) -> Callable[[Callable[..., Any], list[tuple[Any, ...]]], list[Any]]:
    """Run ``fn(*args)`` for each argument tuple: on the Dask workers, or in this process."""

    def run(fn: Callable[..., Any], args: list[tuple[Any, ...]]) -> list[Any]:
        if client is None or not args:
            return [fn(*a) for a in args]
        futures = [client.submit(fn, *a, pure=False) for a in args]
        try:
            return list(client.gather(futures))
        finally:
            for f in futures:
                f.release()

    return run


def launcher(client: Any) -> Callable[..., Callable[[], Any]]:
    """``launch(fn, *args, priority=0)``: start ``fn(*args)`` now, on a worker, and return a
    function that waits for its result, so that a task the client needs later runs while the
    client does other things (in process: run when its result is asked for). A task of lower
    ``priority`` runs when a worker has nothing else to run (or when its result is asked)."""

    def launch(fn: Callable[..., Any], *args: Any, priority: int = 0) -> Callable[[], Any]:
        if client is None:
            return lambda: fn(*args)
        # large arrays go to a worker beside the graph, not inside it through the scheduler
        sent = [client.scatter(a, hash=False) if _large(a) else a for a in args]
        future = client.submit(fn, *sent, pure=False, priority=priority)

        def result() -> Any:
            try:
                return future.result()
            finally:
                future.release()

        return result

    return launch


def keeper(client: Any) -> Callable[..., Any] | None:
    """``keep(fn, *args, priority=0, everywhere=False, spread=False)``: start ``fn(*args)`` on a
    worker and leave its result there, as a Dask future that other tasks (``keep``,
    :func:`mapper`'s, ...) take as an argument and that ``.result()`` fetches; large arrays
    travel beside the graph, as :func:`launcher` sends them. None without a cluster (the
    caller computes in process).

    - A task of lower ``priority`` runs when a worker has nothing else to run.
    - With ``everywhere``, ``keep`` waits for the result and copies it to every worker, so that
      the tasks that take it may run on any worker: the scheduler sends a task where its
      inputs are, and moves it only to an idle worker.
    - With ``spread``, the tasks go to the workers in turn (each may still run elsewhere): the
      scheduler places a task by the work it counts on each worker, work of low priority
      included, and may queue several long tasks on one worker while another has only short
      ones of low priority to run.

    Examples
    --------
    >>> keeper(None) is None
    True
    """
    if client is None:
        return None

    turn = itertools.count()

    def keep(
        fn: Callable[..., Any],
        *args: Any,
        priority: int = 0,
        everywhere: bool = False,
        spread: bool = False,
    ) -> Any:
        sent = [client.scatter(a, hash=False) if _large(a) else a for a in args]
        where: dict[str, Any] = {}
        if spread:  # the workers of this moment, in turn: a hint, not a restriction
            workers = sorted(client.nthreads())
            if workers:
                where = {"workers": [workers[next(turn) % len(workers)]],
                         "allow_other_workers": True}  # fmt: skip
        future = client.submit(fn, *sent, pure=False, priority=priority, **where)
        if everywhere:
            client.replicate([future])
        return future

    return keep


def is_remote(value: Any) -> bool:
    """Whether ``value`` is a Dask future (a result left on a worker by :func:`keeper`).

    Examples
    --------
    >>> is_remote(3)
    False
    """
    distributed = sys.modules.get("distributed")  # no future without it
    return distributed is not None and isinstance(value, distributed.Future)


def _large(value: Any) -> bool:
    """An array too large to travel inside a task graph (about 1 MB and more)."""
    return isinstance(value, np.ndarray) and value.nbytes >= 1 << 20


def reducer(client: Any) -> Callable[..., Any]:
    """``reduce(fn, args, combine)``: run ``fn(*a)`` for each argument tuple and fold the
    results with ``combine(acc, result)`` as they finish (``acc`` None first), so that the
    client holds one result at a time beside the fold (on the Dask workers, or in process)."""

    def reduce(
        fn: Callable[..., Any], args: list[tuple[Any, ...]], combine: Callable[[Any, Any], Any]
    ) -> Any:
        acc = None
        if client is None:
            for a in args:
                acc = combine(acc, fn(*a))
            return acc
        from dask.distributed import as_completed  # noqa: PLC0415

        futures = [client.submit(fn, *a, pure=False) for a in args]
        try:
            for fut in as_completed(futures):
                acc = combine(acc, fut.result())
                fut.release()
        finally:
            for f in futures:
                f.release()
        return acc

    return reduce


def broadcaster(client: Any, *, every_worker: bool = True) -> Callable[[Any], Any]:
    """Send an object to every worker once (or to one, for a single task), as a Dask future;
    or keep it (in process)."""

    def share(obj: Any) -> Any:
        if client is None:
            return obj
        return client.scatter([obj], broadcast=every_worker, hash=False)[0]

    return share


__all__ = [
    "DASK_LOG_LENGTH",
    "MALLOC_ENV",
    "broadcaster",
    "dask_client",
    "is_remote",
    "keeper",
    "launcher",
    "mapper",
    "reducer",
    "worker_environ",
]
