"""A scan's titles staged on a worker: read, checked, partitioned and written there.

The titles' outlines are most of their memory (about 1 KB a parcel in GEOS, more while they are
read). A scan's client never holds them: one task (on a Dask worker, or in process without
Dask) reads the titles file with :func:`agrilend.inputs.titles_and_imagery` (owners
pseudonymised with the client's key, claims verified and appended), checks that they meet the
imagery, brings them to its CRS, partitions them into chunks
(:func:`agrilend.scan.parts.partition`), writes them for the workers
(:func:`agrilend.scan.title_store.write_titles`), and sends back what the client keeps: how
many titles there are and their CRS, the chunks and the titles' extent. No column of the
titles comes back: the county step reads the few it needs from the titles file, on a worker.
The imagery's values are checked there too
(:func:`agrilend.remote_sensing.sanity.check_values`; its samples are a worker's memory, and an
implausible cube stops the scan before a chunk is read). What the reading logged (a column's
unreadable values, the CRS assigned, the claims left out) is logged again in the client, under
the same loggers.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask

from agrilend.inputs import Bounds, InputFiles, titles_and_imagery, total_bounds
from agrilend.parcels.extent import require_overlap
from agrilend.scan.parts import Chunk, duplicate_guests, partition, storage_blocks
from agrilend.scan.title_store import write_titles


@dataclass(frozen=True)
class TitleJob:
    """What the staging task needs: the inputs, the results folder, the chunks' size."""

    files: InputFiles
    titles_file: str
    chunk_size_px: int
    #: the STAC search's frozen answer (imagery given as a TOML file), else None
    frozen_items: str | None = None
    #: the client's pseudonym key: workers need none of their own (never shown)
    key: str | bytes | None = field(default=None, repr=False)
    #: log what the reading logged again in the client (the task runs on a worker)
    relay_logs: bool = False


@dataclass
class StagedTitles:
    """What the client keeps of the titles (see the module docstring)."""

    #: how many titles the county has, and their CRS (the imagery's)
    n_titles: int
    crs: Any
    chunks: list[Chunk]
    #: per chunk, the rows of other chunks sharing a parcel id with one of its titles
    guests: dict[str, tuple[int, ...]]
    #: the titles' total bounds and CRS as read (where a STAC search looks)
    extent: tuple[Bounds, Any]
    #: the imagery's value check (:func:`agrilend.remote_sensing.sanity.with_value_check`)
    value_check: str | None
    #: ``(logger, level, message)`` of what the reading logged, when relayed
    logs: list[tuple[str, int, str]] = field(default_factory=list)

    def replay_logs(self) -> None:
        """Log the relayed messages in this process, under their own loggers."""
        for name, level, message in self.logs:
            logging.getLogger(name).log(level, "%s", message)


def stage_titles(job: TitleJob) -> StagedTitles:
    """Read, check, partition and write the titles of ``job`` (see the module docstring).

    Raises what :func:`agrilend.inputs.titles_and_imagery` and
    :func:`agrilend.parcels.extent.require_overlap` raise: a titles file that cannot be read
    or mapped, titles that miss the imagery.
    """
    # the imagery's values are checked here, once (the client opens it without sampling), by
    # the threads of this process: on a worker, dask would otherwise send the check's graph
    # to the cluster from inside this task (measured at 10^5 parcels: 22.5 s instead of 7.7 s)
    with _captured(job.relay_logs) as logs, dask.config.set(scheduler="threads"):
        titles, cube, _ = titles_and_imagery(
            job.files, chunks={}, frozen_items=job.frozen_items, key=job.key
        )
        extent = (total_bounds(titles), titles.crs)
        titles = titles.reset_index(drop=True)
        require_overlap(titles, cube)  # a wrong CRS stops the scan here, named as such
        if titles.crs is not None and cube.rio.crs is not None and titles.crs != cube.rio.crs:
            titles = titles.to_crs(cube.rio.crs.to_wkt())
        chunks = partition(
            titles,
            transform=cube.rio.transform(),
            shape=(cube.sizes["y"], cube.sizes["x"]),
            chunk_size_px=job.chunk_size_px,
            # aligned windows on a local cube's storage blocks
            block=storage_blocks(job.files.imagery) if job.frozen_items is None else None,
        )
        guests = duplicate_guests(titles, chunks)
        write_titles(titles, chunks, Path(job.titles_file))
    return StagedTitles(len(titles), titles.crs, chunks, guests, extent,
                        cube.attrs.get("value_check"), logs)  # fmt: skip


@contextlib.contextmanager
def _captured(on: bool) -> Iterator[list[tuple[str, int, str]]]:
    """The records agrilend's loggers emit meanwhile, from INFO up, when ``on``."""
    logs: list[tuple[str, int, str]] = []
    if not on:
        yield logs
        return
    root = logging.getLogger("agrilend")
    handler = _Collect(logs.append)
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        yield logs
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


class _Collect(logging.Handler):
    def __init__(self, put: Callable[[tuple[str, int, str]], None]) -> None:
        super().__init__(logging.INFO)
        self._put = put

    def emit(self, record: logging.LogRecord) -> None:
        self._put((record.name, record.levelno, record.getMessage()))


__all__ = ["StagedTitles", "TitleJob", "stage_titles"]
