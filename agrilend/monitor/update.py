"""Reading only the new dates: the scan's spatial chunks, one series part per chunk, on Dask.

The loan book's parcels are split into the scan's chunks
(:func:`agrilend.scan.parts.partition`); each chunk reads its window of the cube *for the new
dates only*, computes each parcel's NDVI and clear share with the zonal engine and writes one
part of the run's series partition atomically. A part that exists with the right number of
rows is finished, so a killed run resumes where it stopped. Chunks run on the scan's Dask
client helper (a local cluster, a scheduler by address, or in process).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from agrilend.monitor.store import part_is_complete, series_dir, write_series_part
from agrilend.scan.parts import Chunk, partition

log = logging.getLogger(__name__)

#: ``progress(parcels_done, parcels_total)``.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DatesTask:
    """One chunk's work: its parcels, the cube and the dates to read, where to write."""

    chunk: Chunk
    imagery: str
    dates: tuple[str, ...]
    titles: gpd.GeoDataFrame
    part: str


_CUBES: dict[tuple[str, int, int], Any] = {}


def open_cube_once(path: str) -> Any:
    """The lazy cube of ``path``, opened once per process (again when the file changes)."""
    from agrilend.remote_sensing import open_cube  # noqa: PLC0415

    st = Path(path).stat()
    key = (path, st.st_mtime_ns, st.st_size)
    if key not in _CUBES:
        _CUBES.clear()
        _CUBES[key] = open_cube(path, chunks={"time": 1})
    return _CUBES[key]


def read_chunk_dates(task: DatesTask) -> dict[str, Any]:
    """Compute one chunk's parcel NDVI on the new dates and write its part (runs on a worker)."""
    import dask  # noqa: PLC0415

    from agrilend.parcels import parcel_pixels, zonal_series  # noqa: PLC0415

    t0 = time.perf_counter()
    r0, r1, c0, c1 = task.chunk.window
    with dask.config.set(scheduler="synchronous"):
        cube = open_cube_once(task.imagery)
        window = cube.sel(time=pd.DatetimeIndex(list(task.dates)))
        window = window.isel(y=slice(r0, r1), x=slice(c0, c1)).load()
    titles = task.titles
    pixels = parcel_pixels(
        titles, transform=window.rio.transform(), shape=(window.sizes["y"], window.sizes["x"])
    )
    series = zonal_series(window, titles, pixels=pixels, stats=("mean",))
    ids = series.indexes["parcel"].astype(str)
    times = pd.DatetimeIndex(series.indexes["time"])
    ndvi = series["NDVI_mean"].to_numpy().astype("float32")
    vf = series["valid_fraction"].to_numpy().astype("float32")
    frame = pd.DataFrame(
        {
            "parcel_id": np.repeat(np.asarray(ids, dtype=object), len(times)),
            "time": np.tile(times.to_numpy(), len(ids)),
            "ndvi": ndvi.reshape(-1),
            "valid_fraction": vf.reshape(-1),
        }
    )
    write_series_part(frame, Path(task.part))
    return {"chunk": task.chunk.id, "rows": len(frame), "seconds": time.perf_counter() - t0}


def plan_chunks(titles: gpd.GeoDataFrame, cube: Any, *, chunk_size_px: int) -> list[Chunk]:
    """The scan's spatial chunks of the loan book's parcels on the cube's grid."""
    return partition(
        titles.reset_index(drop=True),
        transform=cube.rio.transform(),
        shape=(cube.sizes["y"], cube.sizes["x"]),
        chunk_size_px=chunk_size_px,
    )


def _run(tasks: list[DatesTask], client: Any) -> Iterator[tuple[DatesTask, str]]:
    if client is None:
        for t in tasks:
            read_chunk_dates(t)
            yield t, ""
        return
    from dask.distributed import as_completed  # noqa: PLC0415

    futures = {
        client.submit(read_chunk_dates, t, pure=False,
                      key=f"agrilend-monitor-{t.chunk.id}-{time.monotonic_ns()}"): t
        for t in tasks
    }  # fmt: skip
    for fut in as_completed(list(futures)):
        fut.result()  # a failing chunk stops the run; the next call resumes it
        yield futures[fut], ""
        fut.release()


def append_new_dates(
    scan_dir: Path,
    run: int,
    *,
    titles: gpd.GeoDataFrame,
    imagery: str,
    dates: list[str],
    chunks: list[Chunk],
    workers: int | None,
    scheduler: str | None,
    progress: Progress | None = None,
) -> int:
    """Read ``dates`` for every chunk not yet written in run ``run``; the chunks computed.

    Titles must be in the cube's CRS, in the order the chunks were planned on.
    """
    from agrilend.scan.cluster import dask_client  # noqa: PLC0415  (the scan's Dask)

    folder = series_dir(scan_dir, run)
    folder.mkdir(parents=True, exist_ok=True)
    todo: list[DatesTask] = []
    total = len(titles)
    done = 0
    for c in chunks:
        part = folder / f"{c.id}.parquet"
        if part.exists() and part_is_complete(part):
            done += len(c.rows)
            continue
        part.unlink(missing_ok=True)
        todo.append(
            DatesTask(
                chunk=c, imagery=imagery, dates=tuple(dates),
                titles=titles.iloc[list(c.rows)].reset_index(drop=True), part=str(part),
            )
        )  # fmt: skip
    if progress:
        progress(done, total)
    if not todo:
        return 0
    with dask_client(workers, scheduler) as client:
        for t, _ in _run(todo, client):
            done += len(t.chunk.rows)
            if progress:
                progress(done, total)
    return len(todo)


__all__ = ["DatesTask", "append_new_dates", "open_cube_once", "plan_chunks", "read_chunk_dates"]
