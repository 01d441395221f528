"""County scans: every parcel of a county, in spatial chunks on Dask, resumable, losing nothing.

A scan (1) reads, checks and partitions the titles into spatial chunks (imagery windows with the
parcels whose centroid they hold) in one task on a worker (:mod:`agrilend.scan.staging`: the
client keeps their number and the chunks' rows, no column of them); (2) maps
:func:`agrilend.pipeline.gather_evidence` over the chunks on Dask
(a local cluster by default, any scheduler by address), each chunk writing its result as one
GeoParquet part atomically; (3) runs the county step on the workers, part by part
(:mod:`agrilend.scan.county_flow`: crops, exact peers, then each part decided with the county's
tables and written, then households sized in partitions), the client holding summaries only;
(4) writes the remaining outputs part by part and the county context.

The results folder::

    imagery_items.json   a STAC search's answer, frozen (imagery given as a TOML file)
    scan.json            the plan: input checksums, chunk list, dates (written first)
    titles.parquet       the titles as read and checked, one row group per chunk: what the
                         workers read (rewritten by every run; the client keeps no title)
    chunks.json          finished chunks with their part checksums, failure counts
    parts/<chunk>.parquet   one GeoParquet per finished chunk (present = complete)
    quarantine/<chunk>.json chunks that failed three times, with their error
    parcels.parquet/<chunk>.parquet   the parcels: a GeoParquet dataset, one file per chunk
                         (read the folder with geopandas.read_parquet or pyarrow.dataset;
                         ``title_row`` is each row's title; read_parcels gives title order;
                         a file's rows are grouped by household partition, a row group each)
    households.parquet/part-<n>.parquet   the households, one file per partition
    county/              the county step's own files (each chunk's crops, household outlines)
    summary.json
    parcels.gpkg         layers parcels and households; households.csv (UTF-8 with BOM)
    summary.html, households.html   the county summary and the household list (bilingual)
    season_weather.parquet, subsidies.parquet   what the reports show beside a decision
    reports/             household reports (agrilend report ID --context DIR)
    context/             the county context (see :func:`agrilend.scan.load_context`)
    manifest.json        written last: inputs, versions; its presence marks a finished scan
"""

from __future__ import annotations

import itertools
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrilend import __version__
from agrilend.errors import InputsChangedError, OutputExistsError, ScanError
from agrilend.inputs import InputFiles
from agrilend.manifest import read_manifest, write_manifest
from agrilend.outputs import write_json
from agrilend.pipeline import (
    CROP_TRAINING_CAP,
    CountyContext,
)
from agrilend.scan.cluster import (
    broadcaster,
    dask_client,
    keeper,
    launcher,
    mapper,
    reducer,
)
from agrilend.scan.context import model_file, save_context
from agrilend.scan.county import ModelOnWorkers, SavedModel
from agrilend.scan.county_flow import (
    HOUSEHOLDS,
    PARCELS,
    STEP,
    Outcome,
    county_on_workers,
)
from agrilend.scan.county_step import PEER_TILE_PX
from agrilend.scan.memory import arrow_from_malloc, give_back, peak_mb
from agrilend.scan.outputs import (
    PAGES,
    TABLES,
    read_households,
    read_parcels,
    write_pages,
    write_tables,
)
from agrilend.scan.parts import (
    ROW,
    Chunk,
    ChunkTask,
    CubeSource,
    file_sha256,
    read_part,
    run_chunk,
)
from agrilend.scan.staging import StagedTitles, TitleJob, stage_titles
from agrilend.scan.title_store import TITLES_FILE, read_titles
from agrilend.settings import get_settings

log = logging.getLogger(__name__)

SCAN_FORMAT = 1
#: A chunk is quarantined after this many failed attempts.
MAX_ATTEMPTS = 3
#: Default side of a chunk, in pixels (256 px = 2.56 km at 10 m).
DEFAULT_CHUNK_PX = 256

#: ``progress(parcels_done, parcels_total)`` after each chunk (and once at the start).
ScanProgress = Callable[[int, int], None]

_PLAN, _STATE, _PARTS, _QUARANTINE, _MANIFEST = (
    "scan.json",
    "chunks.json",
    "parts",
    "quarantine",
    "manifest.json",
)
#: The answer of a STAC search, frozen at the scan's start (imagery given as a TOML file).
_ITEMS = "imagery_items.json"
#: The folder of the saved county context (:func:`agrilend.scan.context.save_context`).
_CONTEXT = "context"
_FINAL = (PARCELS, HOUSEHOLDS, *TABLES, "summary.json", *PAGES, _MANIFEST)


@dataclass
class ScanResult:
    """What a scan did.

    Attributes
    ----------
    out_dir
        The results folder.
    summary
        The contents of ``summary.json``.
    chunks
        Number of chunks; ``computed`` of them were computed in this run.
    quarantined
        Chunk id to error message, for chunks that failed :data:`MAX_ATTEMPTS` times.
    written
        False when the scan was already finished and nothing was written.
    timings
        Seconds: ``read`` (imagery reading and decoding, summed over chunks), ``work`` (our
        per-chunk work, summed), both wall time, and ``read_cpu``, ``work_cpu``, the same as
        the workers' CPU time; ``chunks`` (wall time of the chunk phase), ``county_crops``
        (wall time of the crop step, on the workers), ``county`` (the whole county step),
        ``write`` (outputs), ``total``; ``worker_rss_mb``, the largest resident memory of a
        worker holding a chunk (MB), and ``client_rss_mb``, the peak resident memory of this
        process, the client (MB, :func:`agrilend.scan.memory.peak_mb`). The county step's passes:
        ``county_crops`` (of which ``county_crop_model``: the training sample drawn, the
        sample's features and the fold models; and within it ``county_light_rows`` (the draw,
        on a worker),
        ``county_crop_features``, ``county_crop_folds``, ``county_crop_folds_again`` (the
        cleaning round, when any declaration was set aside) and ``county_crop_county_model``
        (above the training cap)), ``county_peers``, ``county_decide`` (with
        ``county_households_plan``, the wait for the households' plan made on a worker),
        ``county_households``; and
        ``county_households_cpu``, the households tasks' CPU time summed;
        ``households_task_rss_growth_mb``, the most a households task grew its process's
        resident memory, and ``households_worker_peak_mb``, the peak resident memory of a
        process after a households task (its whole life's: the chunks' included);
        ``decide_worker_rss_mb``, the largest resident memory of a worker having decided a
        part.

    The parcels and households are not held: :attr:`parcels` and :attr:`households` read
    them from ``out_dir`` when asked.
    """

    out_dir: Path
    summary: dict[str, Any]
    chunks: int
    computed: int = 0
    quarantined: dict[str, str] = field(default_factory=dict)
    written: bool = True
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def parcels(self) -> gpd.GeoDataFrame:
        """The parcel estimates, read from the results folder on each access (title order)."""
        return read_parcels(self.out_dir)

    @property
    def households(self) -> pd.DataFrame:
        """The household decisions, read from the results folder on each access."""
        return read_households(self.out_dir)


# --- the plan and the state on disk --------------------------------------------------------------


def _prepare_folder(out: Path, *, resume: bool, overwrite: bool) -> None:
    if out.is_symlink() and not out.exists():
        raise ScanError(
            f"results folder {str(out)!r} is a link that points nowhere; remove it or choose "
            "another --out"
        )
    if not out.exists() or not any(out.iterdir()):
        out.mkdir(parents=True, exist_ok=True)
        return
    if resume:
        started = {p.name for p in out.iterdir() if not p.name.startswith(".tmp-")}
        if not (out / _PLAN).exists() and started - {_ITEMS}:
            raise ScanError(
                f"{str(out)!r} is not a scan results folder ({_PLAN} missing); nothing to "
                "resume: choose an empty folder or pass --overwrite"
            )
        return
    if not overwrite:
        raise OutputExistsError(
            f"scan results folder {str(out)!r} already exists; pass resume=True (--resume) to "
            "continue it, overwrite=True (--overwrite) to start again, or choose another folder",
            path=out,
        )
    for name in (_PLAN, _STATE, _ITEMS, *_FINAL):
        if not (out / name).is_dir() or (out / name).is_symlink():
            (out / name).unlink(missing_ok=True)
    # "households": the list's pages (agrilend.report.household_pages.PAGES_DIR)
    for name in (_PARTS, _QUARANTINE, _CONTEXT, "reports", "households", PARCELS, HOUSEHOLDS,
                 STEP):  # fmt: skip
        shutil.rmtree(out / name, ignore_errors=True)


def _check_inputs(plan: dict[str, Any], checksums: dict[str, str], out: Path) -> None:
    before = {k: v["checksum"] for k, v in plan["inputs"].items()}
    changed = sorted(k for k in set(before) | set(checksums) if before.get(k) != checksums.get(k))
    if changed:
        raise InputsChangedError(
            f"inputs {changed} changed since the scan in {str(out)!r} started (their checksums "
            "differ); restore them to resume, or pass --overwrite to scan again from scratch"
        )


def _read_state(out: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((out / _STATE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        state = {}
    state.setdefault("finished", {})
    state.setdefault("attempts", {})
    return state


def _clear_quarantine(out: Path) -> None:
    """Forget the quarantined chunks: their failure counts first, then their files."""
    folder = out / _QUARANTINE
    ids = sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []
    if not ids:
        return
    state = _read_state(out)
    for cid in ids:
        state["attempts"].pop(cid, None)
    write_json(state, out / _STATE, overwrite=True)
    for cid in ids:
        (folder / f"{cid}.json").unlink(missing_ok=True)
    log.info("quarantined chunks %s are computed again", ids)


def _finished_chunks(
    out: Path, chunks: list[Chunk], state: dict[str, Any]
) -> tuple[set[str], dict[str, str]]:
    """Chunks whose part on disk is complete, and quarantined chunks (id -> message).

    A part listed in ``chunks.json`` must match its checksum; a part not yet listed (killed
    between its rename and the state update) is adopted when it reads back with the right
    number of rows. Anything else is removed and computed again.
    """
    parts = out / _PARTS
    for folder in (out, parts, out / _QUARANTINE, out / _CONTEXT, out / PARCELS,
                   out / HOUSEHOLDS, out / STEP):  # fmt: skip
        for tmp in folder.glob(".tmp-*"):  # left by a write that was killed: never a result
            tmp.unlink(missing_ok=True)
    done: set[str] = set()
    quarantined: dict[str, str] = {}
    for chunk in chunks:
        q = out / _QUARANTINE / f"{chunk.id}.json"
        if q.exists():
            quarantined[chunk.id] = str(json.loads(q.read_text(encoding="utf-8"))["error"])
            continue
        part = parts / f"{chunk.id}.parquet"
        if not part.exists():
            continue
        known = state["finished"].get(chunk.id)
        if not _holds_rows(part, chunk):  # another partition (chunk size, agrilend version)
            log.warning("chunk part %s does not hold this plan's parcels, is incomplete or "
                        "changed; computing it again", part.name)  # fmt: skip
            part.unlink()
            state["finished"].pop(chunk.id, None)
            continue
        if known is not None and known.get("sha256") == file_sha256(part):
            done.add(chunk.id)
            continue
        try:
            rows = len(read_part(part))
        except ScanError:
            rows = -1
        if rows == len(chunk.rows):
            state["finished"][chunk.id] = {"sha256": file_sha256(part), "rows": rows}
            done.add(chunk.id)
        else:
            log.warning("chunk part %s is incomplete or changed; computing it again", part.name)
            part.unlink()
    return done, quarantined


def _holds_rows(part: Path, chunk: Chunk) -> bool:
    """Whether ``part`` holds exactly the chunk's title rows, in its order (a part kept from a
    scan planned otherwise, with the same chunk id and row count, holds other parcels)."""
    import pyarrow.parquet as pq  # noqa: PLC0415

    try:
        rows = pq.read_table(part, columns=[ROW]).column(ROW).to_numpy()
    except (OSError, KeyError, ValueError):
        return False
    return bool(np.array_equal(rows, np.asarray(chunk.rows, dtype=np.int64)))


# --- running the chunks ---------------------------------------------------------------------------


#: A chunk task's result (None when it failed).
Result = dict[str, Any] | None


@dataclass
class _Runner:
    """Runs chunk tasks with retries: in this process (``workers=0``) or on a Dask client."""

    client: Any = None

    def run(self, tasks: Iterable[ChunkTask]) -> Iterator[tuple[ChunkTask, Result, str]]:
        """Yield ``(task, result, "")`` or ``(task, None, error message)`` as tasks finish.

        ``tasks`` is consumed lazily: on Dask at most :meth:`in_flight` tasks are submitted at
        a time, the next one as each finishes, so the client (and the scheduler) hold a few
        chunks' titles, never the county's twice over.
        """
        if self.client is None:
            for task in tasks:
                try:
                    yield task, run_chunk(task), ""
                except Exception as exc:  # a failed chunk is recorded, never the end of the scan
                    yield task, None, f"{type(exc).__name__}: {exc}"
            return
        from dask.distributed import as_completed  # noqa: PLC0415

        todo = iter(tasks)
        futures: dict[Any, ChunkTask] = {}
        finished = as_completed()

        def submit(n: int) -> None:
            for task in itertools.islice(todo, max(n, 0)):
                key = f"agrilend-chunk-{task.chunk.id}-{time.monotonic_ns()}"
                fut = self.client.submit(run_chunk, task, pure=False, key=key)
                futures[fut] = task
                finished.add(fut)

        submit(self.in_flight())
        for fut in finished:
            task = futures.pop(fut)
            try:
                yield task, fut.result(), ""
            except Exception as exc:
                yield task, None, f"{type(exc).__name__}: {exc}"
            finally:
                fut.release()
            submit(self.in_flight() - len(futures))  # workers may have joined or left

    def in_flight(self) -> int:
        """How many chunk tasks to keep submitted: two per worker thread (one running, one
        waiting, so no worker idles while the client records a result), at least four."""
        workers = self.client.scheduler_info().get("workers", {}).values()
        threads = sum(int(w.get("nthreads", 1)) for w in workers)
        return max(4, 2 * threads)


# --- the scan -----------------------------------------------------------------------------------


@arrow_from_malloc
def scan(
    files: InputFiles,
    out_dir: str | Path,
    *,
    chunk_size_px: int = DEFAULT_CHUNK_PX,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    retry_quarantined: bool = False,
    context: CountyContext | None = None,
    progress: ScanProgress | None = None,
    peer_tile_px: int | None = PEER_TILE_PX,
) -> ScanResult:
    """Scan a county: every parcel's evidence per spatial chunk on Dask, then the county step.

    Parameters
    ----------
    files
        The inputs (:class:`agrilend.inputs.InputFiles`). The titles (and claims) are read by a
        worker, so on a real cluster they are on storage the workers share, as the imagery is.
        The imagery is a local cube every worker can read, or a TOML file describing a STAC
        search (:mod:`agrilend.remote_sensing.sources.spec`): searched once (by the worker
        that reads the titles), its answer frozen into ``imagery_items.json`` of the results
        folder, and each chunk's window read by its worker straight from the scenes'
        Cloud-Optimised GeoTIFFs.
    out_dir
        The results folder (see the module docstring for its layout). On a cluster, workers
        write their parts into it, so it must be shared storage too.
    chunk_size_px
        Side of a chunk's grid cell in imagery pixels, rounded to a whole number of the
        imagery's storage blocks (:func:`agrilend.scan.parts.storage_blocks`).
    workers
        Local worker processes (default: the CPU count, at most 8); ``0`` runs every chunk in
        this process (no Dask).
    scheduler
        Address of a running Dask scheduler (``tcp://host:port``); overrides ``workers``.
    resume
        Continue the scan in ``out_dir``: finished chunks are kept, the rest computed; a
        finished scan is left as it is (nothing written).
    overwrite
        Start again from scratch in an existing results folder.
    retry_quarantined
        Resume (implies ``resume``) and give the quarantined chunks another
        :data:`MAX_ATTEMPTS` attempts: their quarantine files and failure counts are cleared,
        finished chunks are kept. A finished scan with quarantined chunks is re-opened (its
        manifest is removed first, and every output rewritten once the chunks are done); a
        finished scan without any is left as it is.
    context
        A county context from an earlier scan (:func:`load_context`): its crop model is used
        instead of training one on this county's declarations.
    progress
        Called with ``(parcels done, parcels total)`` as chunks finish.
    peer_tile_px
        Side of the peer tiles in imagery pixels (default 1024 px, about 10 km): a parcel's
        vigour is judged against the parcels of its crop in its tile, which share its weather
        and soils, and against the county's where the tile holds fewer than
        :data:`agrilend.scan.county_step.MIN_TILE_PEERS`; ``None`` compares every parcel with
        the county's peers, as :func:`agrilend.assess` does. A ``context`` with peers keeps
        its peers.

    Returns
    -------
    ScanResult

    Raises
    ------
    OutputExistsError
        ``out_dir`` holds files and neither ``resume`` nor ``overwrite`` is given.
    InputsChangedError
        On resume, when an input's checksum differs from the one the scan started with.

    Examples
    --------
    >>> from agrilend.inputs import InputFiles
    >>> result = scan(InputFiles.sample(), "county-scan", workers=2)  # doctest: +SKIP
    >>> result.summary["decisions"]                                    # doctest: +SKIP
    {'approve': 120, 'refer': 30, 'decline': 8}
    """
    from agrilend.inputs import load_inputs  # noqa: PLC0415

    t_start = time.perf_counter()
    out = Path(out_dir)
    resume = resume or retry_quarantined
    _prepare_folder(out, resume=resume, overwrite=overwrite)
    described = files.describe()
    from agrilend.remote_sensing.sources.spec import is_imagery_spec  # noqa: PLC0415  (odc-stac)

    frozen = out / _ITEMS if is_imagery_spec(files.imagery) else None
    if frozen is not None and frozen.exists():  # the STAC search's answer is an input too
        described["imagery_items"] = {"file": _ITEMS, "checksum": file_sha256(frozen)}
    checksums = {name: info["checksum"] for name, info in described.items()}
    if (out / _PLAN).exists():
        _check_inputs(json.loads((out / _PLAN).read_text(encoding="utf-8")), checksums, out)
        manifest = read_manifest(out / _MANIFEST) if (out / _MANIFEST).exists() else {}
        reopen = retry_quarantined and bool(manifest.get("quarantined_chunks"))
        if manifest.get("scan_complete") and not reopen:
            summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
            log.info("scan in %s is already finished; nothing to do", out)
            return ScanResult(
                out, summary, int(summary.get("chunks", 0)),
                quarantined=dict(summary.get("quarantined_chunks", {})), written=False,
            )  # fmt: skip
        if retry_quarantined:
            # the manifest goes first: a kill from here on leaves an unfinished scan
            (out / _MANIFEST).unlink(missing_ok=True)
            _clear_quarantine(out)

    with dask_client(workers, scheduler) as client:
        staged = _stage(client, files, out, chunk_size_px, frozen)
        chunks, guests = staged.chunks, staged.guests
        read_chunks: dict[str, int] = {}  # the storage's own chunks: a window reads only its blocks
        # the client keeps no title: the workers read them from the titles file
        no_titles = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=staged.crs))
        inputs = load_inputs(
            files, chunks=read_chunks, frozen_items=frozen, titles=no_titles,
            titles_extent=staged.extent, check_values=False,  # checked by the staging task
        )  # fmt: skip
        if staged.value_check is not None:
            inputs.cube.attrs["value_check"] = staged.value_check
        cube, n_titles, crs = inputs.cube, staged.n_titles, staged.crs
        del staged
        times = pd.DatetimeIndex(cube.indexes["time"])
        if frozen is None:
            source = CubeSource(
                str(Path(files.imagery).resolve()), tuple(sorted(read_chunks.items()))
            )
        else:
            if "imagery_items" not in described:  # frozen just now, by this run's search
                described["imagery_items"] = {"file": _ITEMS, "checksum": file_sha256(frozen)}
            source = CubeSource(
                str(Path(files.imagery).resolve()), items=str(frozen.resolve()),
                crs=cube.rio.crs.to_wkt(), transform=tuple(cube.rio.transform())[:6],
                times=tuple(t.isoformat() for t in times),
            )  # fmt: skip
        if not (out / _PLAN).exists():
            write_json(
                {
                    "scan_format": SCAN_FORMAT,
                    "agrilend_version": __version__,
                    "inputs": described,
                    "chunk_size_px": chunk_size_px,
                    "n_parcels": n_titles,
                    "chunks": [
                        {"id": c.id, "n_parcels": len(c.rows), "window": c.window} for c in chunks
                    ],
                },
                out / _PLAN,
                overwrite=True,
            )
        (out / _PARTS).mkdir(exist_ok=True)
        give_back("reading the titles")
        state = _read_state(out)
        done, quarantined = _finished_chunks(out, chunks, state)
        total = n_titles
        by_id = {c.id: c for c in chunks}
        n_done = sum(len(by_id[c].rows) for c in done | set(quarantined))
        if progress:
            progress(n_done, total)

        todo = [c for c in chunks if c.id not in done and c.id not in quarantined]
        timings = {"read": 0.0, "work": 0.0}
        t_chunks = time.perf_counter()
        if todo:
            n_done = _run_chunks(
                _Runner(client), todo, out=out, state=state,
                source=source, guests=guests, index={c.id: i for i, c in enumerate(chunks)},
                quarantined=quarantined, timings=timings,
                progress=progress, n_done=n_done, total=total,
            )  # fmt: skip
        timings["chunks"] = time.perf_counter() - t_chunks
        give_back("the chunk phase")

        t_county = time.perf_counter()
        county = context.copy() if context is not None else CountyContext()
        outcome = _county_on_workers(
            out, chunks, n_titles=n_titles, crs=crs, quarantined=quarantined, times=times,
            cube=cube, inputs=inputs, county=county, client=client, timings=timings,
            peer_tile_px=peer_tile_px,
        )  # fmt: skip
        outcome.provenance["imagery"]["source"] = Path(files.imagery).name
        timings["county"] = time.perf_counter() - t_county
        give_back("the county step")

        t_write = time.perf_counter()
        _write_outputs(
            out,
            outcome,
            files,
            quarantined,
            run=mapper(client),
            share=broadcaster(client, every_worker=False),
        )
        timings["write"] = time.perf_counter() - t_write
    timings["total"] = time.perf_counter() - t_start
    timings["client_rss_mb"] = peak_mb()
    return ScanResult(
        out, outcome.summary, len(chunks), computed=len(todo), quarantined=quarantined,
        timings=timings,
    )  # fmt: skip


def _stage(
    client: Any, files: InputFiles, out: Path, chunk_size_px: int, frozen: Path | None
) -> StagedTitles:
    """The titles staged by one task (:mod:`agrilend.scan.staging`): on a worker with a Dask
    client (what it logged is logged here again), else in this process. The client's
    pseudonym key goes with the task: workers need none of their own."""
    settings = get_settings()
    job = TitleJob(
        files.absolute(),  # a cluster's worker has its own working directory
        str((out / TITLES_FILE).resolve()),
        chunk_size_px,
        frozen_items=None if frozen is None else str(frozen.resolve()),
        key=None if settings.uses_demo_key else settings.pseudonym_key,
        relay_logs=client is not None,
    )
    staged: StagedTitles = mapper(client)(stage_titles, [(job,)])[0]
    staged.replay_logs()
    return staged


def _run_chunks(
    runner: _Runner,
    todo: list[Chunk],
    *,
    out: Path,
    state: dict[str, Any],
    source: CubeSource,
    guests: dict[str, tuple[int, ...]],
    index: dict[str, int],
    quarantined: dict[str, str],
    timings: dict[str, float],
    progress: ScanProgress | None,
    n_done: int,
    total: int,
) -> int:
    def task(c: Chunk) -> ChunkTask:
        return ChunkTask(
            chunk=c,
            source=source,
            titles=str((out / TITLES_FILE).resolve()),
            index=index[c.id],
            part=str((out / _PARTS / f"{c.id}.parquet").resolve()),
            guests=guests.get(c.id, ()),
        )

    pending: Iterable[ChunkTask] = (task(c) for c in todo)  # made as they are submitted
    while True:
        retry: list[ChunkTask] = []
        for t, res, error in runner.run(pending):
            cid = t.chunk.id
            if res is not None:
                state["finished"][cid] = {"sha256": res["sha256"], "rows": res["rows"]}
                timings["read"] += res["read_s"]
                timings["work"] += res["work_s"]
                timings["read_cpu"] = timings.get("read_cpu", 0.0) + res.get("read_cpu_s", 0.0)
                timings["work_cpu"] = timings.get("work_cpu", 0.0) + res.get("work_cpu_s", 0.0)
                timings["worker_rss_mb"] = max(timings.get("worker_rss_mb", 0.0), res["rss_mb"])
            else:
                attempts = int(state["attempts"].get(cid, 0)) + 1
                state["attempts"][cid] = attempts
                log.warning("chunk %s failed (attempt %d): %s", cid, attempts, error)
                if attempts >= MAX_ATTEMPTS:
                    message = f"chunk {cid} failed {attempts} times; last error: {error}"
                    write_json(
                        {"chunk": cid, "attempts": attempts, "error": message,
                         "parcel_ids": _parcel_ids(t)},
                        out / _QUARANTINE / f"{cid}.json", overwrite=True,
                    )  # fmt: skip
                    quarantined[cid] = message
                else:
                    retry.append(t)
            write_json(state, out / _STATE, overwrite=True)
            if res is not None or cid in quarantined:
                n_done += len(t.chunk.rows)
                if progress:
                    progress(n_done, total)
        if not retry:
            return n_done
        pending = retry


def _parcel_ids(task: ChunkTask) -> list[Any]:
    """The parcel ids of a chunk's titles, read from the titles file (for its quarantine)."""
    titles = read_titles(task.titles, task.index, task.chunk)
    return titles["parcel_id"].tolist() if "parcel_id" in titles else []


def _county_on_workers(
    out: Path, chunks: list[Chunk], *, n_titles: int, crs: Any, quarantined: dict[str, str],
    times: pd.DatetimeIndex, cube: xr.Dataset, inputs: Any, county: CountyContext, client: Any,
    timings: dict[str, float], peer_tile_px: int | None,
) -> Outcome:  # fmt: skip
    outcome = county_on_workers(
        out, chunks, n_titles=n_titles, crs=crs, quarantined=quarantined, times=times, cube=cube,
        inputs=inputs, county=county, run=mapper(client), share=broadcaster(client),
        crop_training_cap=CROP_TRAINING_CAP, peer_tile_px=peer_tile_px,
        reduce=reducer(client), launch=launcher(client), keep=keeper(client),
        slots=1 if client is None else max(1, sum(client.nthreads().values())),
    )  # fmt: skip
    timings.update(outcome.timings)
    return outcome


@arrow_from_malloc
def _write_files(out: Path, outcome: Outcome) -> None:
    """Every output but the manifest, each atomically, part by part (the parcels and households
    datasets are already written by the county step)."""
    write_tables(out, outcome)  # parcels.gpkg (appended part by part), households.csv, ...
    give_back("the tables")
    save_context(outcome.context, out / _CONTEXT)
    give_back("the context")
    write_json(outcome.summary, out / "summary.json", overwrite=True)
    write_pages(out, outcome)  # summary.html, households.html
    give_back("the pages")


def _write_outputs(
    out: Path,
    outcome: Outcome,
    files: InputFiles,
    quarantined: dict[str, str],
    *,
    run: Callable[[Callable[..., Any], list[tuple[Any, ...]]], list[Any]],
    share: Callable[[Any], Any],
) -> None:
    """The outputs, written by one worker (on Dask: the GeoPackage's, the CSV's and the pages'
    memory is a worker's, never the client's, which held 100-170 MB more for them at 10^5
    parcels than at 10^4); then the manifest, last (it marks the scan finished). The outcome
    (its context holds the county's crop model: about 30 MB pickled at 10^5) goes as data, not
    inside the task, which Dask would warn about. A model the workers grew
    (:class:`agrilend.scan.county.ModelOnWorkers`) is written by its own worker meanwhile,
    straight into the context folder."""
    model, saving = outcome.context.crop_model, None
    if isinstance(model, ModelOnWorkers):
        target = model_file(out / _CONTEXT)
        saving = model.start_saving(target)
        context = outcome.context.copy()
        context.crop_model = SavedModel(str(target.resolve()))
        outcome = replace(outcome, context=context)
    run(_write_files, [(out.resolve(), share(outcome))])
    if saving is not None:
        saving.result()
    write_manifest(
        out / _MANIFEST,
        files=files,
        provenance=outcome.provenance,
        scan_complete=True,
        chunks=outcome.summary["chunks"],
        quarantined_chunks=sorted(quarantined),
    )


__all__ = [
    # results and constants
    "DEFAULT_CHUNK_PX",
    "MAX_ATTEMPTS",
    "ScanResult",
    # functions
    "scan",
]
