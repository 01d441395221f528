"""Chunk tasks go to Dask a few at a time: the client never holds every chunk's titles at once.

Each chunk task carries its titles (a GeoDataFrame slice). Submitted all at once, the client
and the scheduler held a second copy of the county's titles for the whole chunk phase: client
memory that grew with the county. The runner now pulls tasks from a lazy iterable, keeping
:meth:`_Runner.in_flight` of them submitted.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import agrilend.scan.runner as runner

pytestmark = pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning"
)


def _fake_chunk(task: Any) -> dict[str, Any]:
    if task.chunk.id == "bad":
        raise ValueError("this chunk's window is empty")
    return {"id": task.chunk.id}


def test_tasks_are_pulled_as_results_come_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from dask.distributed import Client, LocalCluster  # noqa: PLC0415

    monkeypatch.setattr(runner, "run_chunk", _fake_chunk)
    ids = [f"c{i}" for i in range(30)] + ["bad"]
    pulled: list[str] = []

    def tasks() -> Any:
        for cid in ids:
            pulled.append(cid)
            yield SimpleNamespace(chunk=SimpleNamespace(id=cid))

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        run = runner._Runner(client)
        window = run.in_flight()
        assert window == 4  # two workers of one thread: two per thread
        seen: dict[str, Any] = {}
        for task, result, error in run.run(tasks()):
            # never more submitted than the window (the one just yielded included)
            assert len(pulled) - len(seen) <= window
            seen[task.chunk.id] = (result, error)
    assert sorted(seen) == sorted(ids)  # every task once, in whatever order they finished
    assert seen["c7"] == ({"id": "c7"}, "")
    assert seen["bad"][0] is None
    assert "ValueError: this chunk's window is empty" in seen["bad"][1]
