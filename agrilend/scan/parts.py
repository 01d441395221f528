"""County scan internals: spatial chunks, the per-chunk task, and the chunk part files.

A chunk is a window of imagery pixels holding the parcels whose centroid falls in one cell of a
regular grid (``chunk_size_px`` square). Its result is one GeoParquet *part*: the evidence rows
of :func:`agrilend.pipeline.gather_evidence` plus the per-parcel curves (list columns), written
atomically (temporary file, fsync, rename). A part file that exists is complete: "finished" is
derived from the parts on disk, so no state can lie after a kill at any point.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import geopandas as gpd
import numpy as np
import pandas as pd

from agrilend.errors import ScanError
from agrilend.outputs import atomic_write, tabular

log = logging.getLogger(__name__)

#: Private columns of a part file (removed before the county step).
ROW, NDVI, SMOOTH, VALID = "_row", "_ndvi", "_smooth", "_valid"
#: The few columns of every parcel the county step's crop plan reads (:func:`light_columns`;
#: each chunk task keeps them beside its part: :func:`save_light`).
LIGHT = ("status", "declared_crop", "n_clear_obs")
#: Columns of counts among them (kept as float32 when that holds them exactly).
COUNTS = ("n_clear_obs",)
#: Test hook: seconds to sleep inside the atomic write of a part (widens the kill window).
SLOW_WRITE_ENV = "AGRILEND_SCAN_TEST_SLOW_WRITE"
#: Test hook: chunk ids (comma-separated) whose task raises, to exercise quarantine.
FAIL_ENV = "AGRILEND_SCAN_TEST_FAIL_CHUNKS"


class Rows(Sequence[int]):
    """A chunk's title rows: an immutable sequence of ints kept as one int32 array, 4 bytes a
    row (a tuple of ints costs 36: a county's chunks hold every title's row, in the client and
    in every message that carries them).

    Examples
    --------
    >>> r = Rows([4, 0, 7])
    >>> len(r), r[0], list(r), r == Rows((4, 0, 7)), r == (4, 0, 7)
    (3, 4, [4, 0, 7], True, True)
    >>> np.asarray(r, dtype=np.int64).tolist(), hash(r) == hash(Rows([4, 0, 7]))
    ([4, 0, 7], True)
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: Any = ()) -> None:
        given = np.asarray(rows, dtype=np.int64)
        if given.ndim != 1 or (given.size and (given.min() < 0 or given.max() >= 2**31)):
            raise ValueError("a chunk's rows are title positions: one dimension, 0 to 2**31 - 1")
        kept = given.astype(np.int32)
        kept.flags.writeable = False
        self._rows = kept

    def __len__(self) -> int:
        return int(self._rows.size)

    @overload
    def __getitem__(self, i: int) -> int: ...
    @overload
    def __getitem__(self, i: slice) -> Rows: ...
    def __getitem__(self, i: int | slice) -> int | Rows:
        return Rows(self._rows[i]) if isinstance(i, slice) else int(self._rows[i])

    def __iter__(self) -> Iterator[int]:
        return iter(self._rows.tolist())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray[Any, Any]:
        out = self._rows if dtype is None else self._rows.astype(dtype, copy=False)
        return out.copy() if copy else out

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Rows):
            return bool(np.array_equal(self._rows, other._rows))
        if isinstance(other, tuple | list):
            return self._rows.tolist() == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._rows.tobytes())

    def __repr__(self) -> str:
        return f"Rows({self._rows.tolist()})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Rows, (self._rows,))


@dataclass(frozen=True)
class Chunk:
    """One spatial chunk: its id, the title rows it holds and its pixel window.

    ``rows`` are positions in the county's titles (:class:`Rows`; any sequence of ints is
    taken); the window ``(row0, row1, col0, col1)`` is in pixels of the full cube (end
    exclusive), the parcels' bounds plus a margin.
    """

    id: str
    rows: Rows
    window: tuple[int, int, int, int]

    def __post_init__(self) -> None:
        if not isinstance(self.rows, Rows):
            object.__setattr__(self, "rows", Rows(self.rows))


@dataclass(frozen=True)
class CubeSource:
    """How a worker reads a chunk's window of the county's imagery.

    A local cube (``items`` None) is opened lazily once per worker process, in its storage's
    own blocks, and the window cut from it. A STAC search (``imagery`` is its TOML file) is
    read from the scan's frozen ``items``, window by window on the county's grid (the titles'
    ``crs`` snapped to the resolution), and put on the county's ``times``.
    """

    imagery: str
    read_chunks: tuple[tuple[str, int], ...] = ()
    items: str | None = None
    crs: str | None = None
    transform: tuple[float, ...] | None = None
    times: tuple[str, ...] = ()

    def window(self, rows: tuple[int, int], cols: tuple[int, int]) -> Any:
        """The cube of pixel rows ``rows`` and columns ``cols`` of the county grid, loaded."""
        import dask  # noqa: PLC0415  (workers import lazily)

        from agrilend.remote_sensing import open_cube, read_imagery_spec  # noqa: PLC0415
        from agrilend.remote_sensing.contract import on_dates  # noqa: PLC0415

        if self.items is None:
            chunks = dict(self.read_chunks)
            with dask.config.set(scheduler="synchronous"):
                # the scan checked this file's values before any chunk (and checks its checksum):
                # a worker does not sample it again (4 s of CPU and 130 MB per worker at 10^5)
                cube = _opened(self.imagery, lambda: open_cube(self.imagery, chunks=chunks,
                                                               check_values=False))  # fmt: skip
                direct = read_window(cube, rows, cols)
                if direct is not None:
                    return direct
                return cube.isel(y=slice(*rows), x=slice(*cols)).load()
        import pystac  # noqa: PLC0415
        import shapely  # noqa: PLC0415
        from affine import Affine  # noqa: PLC0415

        items_file = self.items
        spec, items = _opened(
            items_file,
            lambda: (
                read_imagery_spec(self.imagery),
                list(pystac.ItemCollection.from_file(items_file)),
            ),
        )

        tr = Affine(*(self.transform or ())[:6])
        x0, y0 = tr * (cols[0], rows[0])
        x1, y1 = tr * (cols[1], rows[1])
        # half a pixel inside the window's edges: the box snaps to exactly its pixels
        half = abs(tr.a) / 2
        area = shapely.box(min(x0, x1) + half, min(y0, y1) + half, max(x0, x1) - half,
                           max(y0, y1) - half)  # fmt: skip
        return on_dates(spec.open(area, self.crs, items=items), list(self.times)).load()


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to compute one chunk (small: where its titles are, not them).

    ``titles`` is the scan's titles file (:mod:`agrilend.scan.title_store`), where the chunk's
    titles are row group ``index``; ``guests`` are the rows of other chunks that carry the same
    parcel id as one of its titles: validation must see both to make them errors, as a
    whole-county validation does.
    """

    chunk: Chunk
    source: CubeSource
    titles: str
    index: int
    part: str
    guests: tuple[int, ...] = ()


def duplicate_guests(titles: gpd.GeoDataFrame, chunks: list[Chunk]) -> dict[str, tuple[int, ...]]:
    """Per chunk, the rows of other chunks that share a parcel id with one of its titles."""
    ids = titles["parcel_id"].astype(str).to_numpy()
    dup = pd.Series(ids).duplicated(keep=False).to_numpy() & (ids != "")
    if not dup.any():
        return {}
    rows_of: dict[str, list[int]] = {}
    for r in np.flatnonzero(dup):
        rows_of.setdefault(str(ids[r]), []).append(int(r))
    guests: dict[str, tuple[int, ...]] = {}
    for c in chunks:
        own = set(c.rows)
        extra = sorted({g for r in c.rows if dup[r] for g in rows_of[str(ids[r])] if g not in own})
        if extra:
            guests[c.id] = tuple(extra)
    return guests


def storage_blocks(path: str | Path) -> tuple[int, int] | None:
    """The ``(rows, columns)`` of the spatial blocks the imagery is stored in, or None.

    A block is what a reader decodes whole: a tile of a tiled GeoTIFF (rasterio's
    ``block_shapes``), a chunk of a NetCDF variable (``chunksizes``) or of a Zarr array. Over
    several variables or files the largest block counts. None when the storage has no spatial
    blocks to align to (a contiguous NetCDF, a STAC description) or cannot be inspected.

    Examples
    --------
    >>> import numpy as np, xarray as xr, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> ds = xr.Dataset({"B04": (("time", "y", "x"), np.zeros((2, 40, 30), "uint16"))})
    >>> ds.to_netcdf(folder / "c.nc", encoding={"B04": {"chunksizes": (1, 16, 16)}})
    >>> storage_blocks(folder / "c.nc")
    (16, 16)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    found: list[tuple[int, int]] = []
    try:
        if suffix in {".tif", ".tiff"} or (path.is_dir() and suffix != ".zarr"
                                           and not (path / "zarr.json").exists()
                                           and not (path / ".zgroup").exists()):  # fmt: skip
            import rasterio  # noqa: PLC0415

            from agrilend._gate import raster_env  # noqa: PLC0415

            files = [path] if path.is_file() else sorted(
                p for p in path.rglob("*") if p.suffix.lower() in {".tif", ".tiff"}
            )  # fmt: skip
            with raster_env():
                for f in files:
                    with rasterio.open(f) as src:
                        found.extend((int(h), int(w)) for h, w in src.block_shapes)
        elif suffix in {".nc", ".nc4", ".zarr"} or path.is_dir():
            import xarray as xr  # noqa: PLC0415

            opener = xr.open_dataset if suffix in {".nc", ".nc4"} else xr.open_zarr
            with opener(path, chunks=None) as ds:
                for var in ds.data_vars.values():
                    if "y" not in var.dims or "x" not in var.dims:
                        continue
                    preferred = var.encoding.get("preferred_chunks") or {}
                    sizes = var.encoding.get("chunksizes") or var.encoding.get("chunks")
                    if not preferred and sizes is not None:
                        preferred = dict(zip(var.dims, sizes, strict=False))
                    if "y" in preferred and "x" in preferred:
                        found.append((int(preferred["y"]), int(preferred["x"])))
    except Exception:  # a layout we cannot read is no reason to stop: the grid stays regular
        log.debug("storage blocks of %s not found", path, exc_info=True)
        return None
    if not found:
        return None
    return max(h for h, _ in found), max(w for _, w in found)


def cell_size(chunk_size_px: int, block: int | None) -> int:
    """The side of a chunk's cell along one axis: a whole number of storage blocks near
    ``chunk_size_px`` when blocks are at most twice that, else ``chunk_size_px`` itself (a
    block much larger than a chunk is decoded whole whatever the cell)."""
    if block is None or block < 1 or block > 2 * chunk_size_px:
        return chunk_size_px
    return max(1, round(chunk_size_px / block)) * block


def partition(
    titles: gpd.GeoDataFrame,
    *,
    transform: Any,
    shape: tuple[int, int],
    chunk_size_px: int,
    margin_px: int = 2,
    block: tuple[int, int] | None = None,
) -> list[Chunk]:
    """Split titles into spatial chunks of the pixel grid, in a stable order.

    The grid's cells are ``chunk_size_px`` square, or with ``block`` (the storage's
    ``(rows, columns)`` per block, :func:`storage_blocks`) a whole number of blocks near it
    (:func:`cell_size`), starting at pixel 0 as the blocks do. On such an aligned grid a parcel
    belongs to the cell holding its bounding box's top-left pixel, so a parcel across a cell
    edge stretches its chunk's window to the right and down only: the window decodes its
    cell's blocks and at most one more row and column of blocks (a parcel's centroid would
    stretch it to every side: three rows and columns), and its margin stops at the cell's
    edges. Without blocks, or with blocks more than twice the chunk size, a parcel belongs to
    its centroid's cell. The window is the parcels' bounds plus ``margin_px``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from affine import Affine
    >>> from shapely import box
    >>> titles = gpd.GeoDataFrame(geometry=[box(5, -25, 25, -5), box(250, -200, 290, -170)])
    >>> tr = Affine(10, 0, 0, 0, -10, 0)
    >>> chunks = partition(titles, transform=tr, shape=(40, 40), chunk_size_px=16, block=(16, 16))
    >>> [(c.id, c.window) for c in chunks]
    [('r0000c0000', (0, 5, 0, 5)), ('r0001c0001', (16, 22, 23, 31))]
    """
    if chunk_size_px < 1:
        raise ValueError(f"chunk_size_px must be at least 1, got {chunk_size_px}")
    ny, nx = shape
    size_r = cell_size(chunk_size_px, block[0] if block else None)
    size_c = cell_size(chunk_size_px, block[1] if block else None)
    # blocks far larger than a chunk are decoded whole whatever the cell: the plain grid then
    aligned = block is not None and size_r % block[0] == 0 and size_c % block[1] == 0
    inv = ~transform
    bounds = titles.geometry.bounds.to_numpy()  # minx, miny, maxx, maxy
    c0f, r0f = inv * (bounds[:, 0], bounds[:, 3])
    c1f, r1f = inv * (bounds[:, 2], bounds[:, 1])
    if not aligned:  # no storage blocks: the centroid's cell, the most compact windows
        cent = titles.geometry.centroid
        col_f, row_f = inv * (cent.x.to_numpy(), cent.y.to_numpy())
    else:
        row_f, col_f = np.minimum(r0f, r1f), np.minimum(c0f, c1f)
    row = np.clip(np.floor(np.nan_to_num(row_f, nan=0.0)), 0, ny - 1).astype(int)
    col = np.clip(np.floor(np.nan_to_num(col_f, nan=0.0)), 0, nx - 1).astype(int)
    cell_r, cell_c = row // size_r, col // size_c
    chunks: list[Chunk] = []
    order = np.lexsort((cell_c, cell_r))
    keys = np.stack([cell_r[order], cell_c[order]], axis=1)
    starts = np.flatnonzero(np.r_[True, (np.diff(keys, axis=0) != 0).any(axis=1)])
    ends = np.r_[starts[1:], len(order)]
    for s, e in zip(starts, ends, strict=True):
        rows = np.sort(order[s:e])
        r0 = int(np.floor(np.nanmin(np.minimum(r0f[rows], r1f[rows]))))
        r1 = int(np.ceil(np.nanmax(np.maximum(r0f[rows], r1f[rows]))))
        c0 = int(np.floor(np.nanmin(np.minimum(c0f[rows], c1f[rows]))))
        c1 = int(np.ceil(np.nanmax(np.maximum(c0f[rows], c1f[rows]))))
        r0, r1 = _with_margin(r0, r1, margin_px, size_r if aligned else 0)
        c0, c1 = _with_margin(c0, c1, margin_px, size_c if aligned else 0)
        r0, c0 = max(r0, 0), max(c0, 0)
        r1, c1 = min(max(r1, r0 + 1), ny), min(max(c1, c0 + 1), nx)
        cid = f"r{int(keys[s, 0]):04d}c{int(keys[s, 1]):04d}"
        chunks.append(Chunk(cid, Rows(rows), (r0, r1, c0, c1)))
    return chunks


def _with_margin(lo: int, hi: int, margin: int, cell: int) -> tuple[int, int]:
    """``[lo - margin, hi + margin)``; on an aligned grid (``cell`` > 0) the margin stops at
    the edges of the cells ``lo`` and ``hi`` fall in, so that it never adds a block."""
    if cell <= 0:
        return lo - margin, hi + margin
    return max(lo - margin, (lo // cell) * cell), min(hi + margin, -(-hi // cell) * cell)


def decoded_pixels(
    chunks: list[Chunk], block: tuple[int, int] | None, shape: tuple[int, int]
) -> tuple[int, int]:
    """``(decoded, needed)`` pixels per date over all chunks: the whole blocks each window
    touches (a reader decodes a block whole) against the windows' own pixels.

    Without blocks every pixel decoded is needed.

    Examples
    --------
    >>> decoded_pixels([Chunk("a", (0,), (14, 20, 0, 10))], (16, 16), (32, 32))
    (512, 60)
    """
    needed = sum((c.window[1] - c.window[0]) * (c.window[3] - c.window[2]) for c in chunks)
    if block is None:
        return needed, needed
    by, bx = block
    ny, nx = shape
    decoded = 0
    for c in chunks:
        r0, r1, c0, c1 = c.window
        rows = min(-(-r1 // by) * by, ny) - (r0 // by) * by
        cols = min(-(-c1 // bx) * bx, nx) - (c0 // bx) * bx
        decoded += rows * cols
    return decoded, needed


def file_sha256(path: Path) -> str:
    """SHA-256 of one file, hex."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


#: What this process opened, by file: the county's lazy cube, or a STAC description with its
#: frozen items (a worker opens its source once, not once per chunk).
_OPENED: dict[tuple[str, int, int], Any] = {}


def _opened(path: str, opener: Callable[[], Any]) -> Any:
    """``opener()``'s result for ``path``, once per process (and again when the file changes)."""
    st = Path(path).stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _OPENED:
        _OPENED.clear()
        _OPENED[key] = opener()
        _freeze_long_lived()
    return _OPENED[key]


#: The raw stores opened without Dask for :func:`read_window`, by file (one per process).
_RAW: dict[tuple[str, int, int], Any] = {}


def _raw_store(path: Path) -> Any:
    """The file's variables, opened lazily without Dask (indexing reads only what it selects)."""
    import xarray as xr  # noqa: PLC0415

    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    if key not in _RAW:
        _RAW.clear()
        if path.suffix.lower() == ".nc":
            _RAW[key] = xr.open_dataset(path, chunks=None, decode_coords="all")
        else:
            _RAW[key] = xr.open_zarr(path, chunks=None, decode_coords="all")
    return _RAW[key]


def read_window(cube: Any, rows: tuple[int, int], cols: tuple[int, int]) -> Any:
    """The window of a cube opened from a NetCDF file or a Zarr store, read without Dask.

    A lazy cube's window computed through Dask builds a graph over the whole county (thousands
    of tasks for a 40 x 40 px window, or every block of a NetCDF variable). Here the raw file
    is opened without Dask (once per process), only the window's pixels are read, and the same
    :func:`agrilend.remote_sensing.open_cube` harmonises them. Returns None (the caller then
    goes through Dask) unless the result is provably the cube's window: same variables and
    dtypes, same coordinates, and the same harmonisation recorded in the attributes (DN bands,
    offsets, mask method, no mask dilation, which would reach across the window's edge).
    """
    import numpy as np  # noqa: PLC0415

    from agrilend.remote_sensing import open_cube  # noqa: PLC0415

    source = str(cube.attrs.get("source", ""))
    path = Path(source)
    if not source or path.suffix.lower() not in {".nc", ".zarr"} or not path.exists():
        return None
    if str(cube.attrs.get("mask_dilation", 0)) not in {"0", ""}:
        return None
    try:
        raw = _raw_store(path)
        if "y" not in raw.dims or "x" not in raw.dims:
            return None
        part = raw.isel(y=slice(*rows), x=slice(*cols)).load()
        part.attrs = {**part.attrs, "source": source}
        # the county's values were checked when it was opened (the window carries that
        # record, as a window cut through Dask does): a second check per window is a third
        # of its harmonising
        window = open_cube(part, check_values=False)
    except Exception:  # any surprise: the Dask path decides
        log.debug("direct window read of %s failed; reading through Dask", source, exc_info=True)
        return None
    want = cube.isel(y=slice(*rows), x=slice(*cols))
    for name in set(window.coords) & set(want.coords) - set(want.dims):
        window[name].attrs = dict(want[name].attrs)  # e.g. the grid mapping, as the cube has it
    # the value check records quantiles of the data it saw (a diagnostic, not a decision):
    # the window carries the county's record
    same = (
        _decisions(window.attrs) == _decisions(cube.attrs)
        and list(window.data_vars) == list(want.data_vars)
        and all(window[v].dtype == want[v].dtype for v in want.data_vars)
        and all(
            np.array_equal(window.indexes[d].to_numpy(), want.indexes[d].to_numpy())
            for d in ("time", "y", "x")
        )
    )
    if not same:
        return None
    window.attrs = dict(cube.attrs)
    return window


#: Attributes of a cube that describe its data rather than how it was harmonised.
_DIAGNOSTICS = frozenset({"value_check"})


def _decisions(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if k not in _DIAGNOSTICS}


def _freeze_long_lived() -> None:
    """In a Dask worker: move what is alive now (modules, the cube) out of the cyclic GC's view.

    Python's full collections otherwise rescan the whole stack of imported libraries while a
    chunk allocates: measured at a third of a chunk's work. Only done in worker processes, never
    in a caller's own interpreter.
    """
    try:
        from distributed import get_worker  # noqa: PLC0415

        get_worker()
    except (ImportError, ValueError):
        return
    gc.collect()
    gc.freeze()


def release(cube: Any) -> None:
    """Free a dataset's pixels now: remove its data variables from it.

    A dataset whose accessor was used (``cube.rio``) is a reference cycle (the accessor, cached
    on the dataset, holds the dataset), so it waits for one of Python's full collections, which
    come seldom in a process holding many objects. A worker then held one window after another:
    measured in one process, 935 -> 2,450 MB over the first 45 chunks of the 10^5 county; with
    the windows released, 720 -> 949 MB over 25 chunks (benchmarks/README.md, issue 18).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"B04": (("y", "x"), np.zeros((2, 2)))}, coords={"y": [0, 1]})
    >>> release(ds)
    >>> list(ds.data_vars), list(ds.coords)
    ([], ['y'])
    """
    for name in list(cube.data_vars):
        del cube[name]


def _rss_mb() -> float:
    """Resident memory of this process in MB (NaN when psutil, a Dask dependency, is absent)."""
    try:
        import psutil  # noqa: PLC0415
    except ImportError:
        return float("nan")
    return float(psutil.Process().memory_info().rss) / 2**20


def run_chunk(task: ChunkTask) -> dict[str, Any]:
    """Compute one chunk's evidence and write its part atomically (runs on a Dask worker).

    Returns the chunk id, the number of rows, the part's SHA-256, the seconds spent reading
    and decoding imagery (``read_s``) versus the rest (``work_s``), wall time, and the same as
    CPU time of this process (``read_cpu_s``, ``work_cpu_s``), the worker's resident
    memory with the chunk in hand (``rss_mb``). Beside the part, its :data:`LIGHT` columns
    (:func:`save_light`: what the county step's crop plan reads of every parcel).
    """
    from agrilend.pipeline import gather_evidence  # noqa: PLC0415  (assess is a higher layer)
    from agrilend.scan.title_store import read_titles  # noqa: PLC0415

    chunk = task.chunk
    failing = {c for c in os.environ.get(FAIL_ENV, "").split(",") if c}
    if chunk.id in failing:
        raise ScanError(f"chunk {chunk.id} failed on purpose ({FAIL_ENV} is set)")
    light_file(task.part).unlink(missing_ok=True)  # an earlier run's: written again below
    t0, c0_cpu = time.perf_counter(), time.process_time()
    r0, r1, c0, c1 = chunk.window
    window = task.source.window((r0, r1), (c0, c1))
    t1, c1_cpu = time.perf_counter(), time.process_time()
    titles = read_titles(task.titles, task.index, chunk, task.guests)
    evidence = gather_evidence(window, titles)
    rss_mb = _rss_mb()  # while the window and the evidence are both held
    release(window)
    # the chunk's own titles come first; any after them are guests from other chunks that
    # share a parcel id with one of them (so that validation sees the duplicate), not kept
    n = len(chunk.rows)
    frame = evidence.parcels.iloc[:n].copy()
    ids = frame["parcel_id"].astype(str)
    if not np.array_equal(ids.to_numpy(), titles["parcel_id"].astype(str).to_numpy()[:n]):
        raise ScanError(f"chunk {chunk.id}: the evidence rows are not in the titles' order")
    frame[ROW] = np.asarray(chunk.rows, dtype=np.int64)
    frame[NDVI] = list(evidence.ndvi[:n].astype("float32"))
    frame[SMOOTH] = list(evidence.smooth[:n].astype("float32"))
    valid = np.full((n, len(evidence.times)), np.nan, dtype="float32")
    series_ids = pd.Index(evidence.series.indexes["parcel"].astype(str))
    if len(series_ids):
        pos = series_ids.get_indexer(ids)
        hit = pos >= 0
        vf = evidence.series["valid_fraction"].to_numpy().astype("float32")
        valid[hit] = vf[pos[hit]]
    frame[VALID] = list(valid)
    write_part(frame, Path(task.part))
    save_light(task.part)  # the crop plan's columns, as the county step would read the part
    t2, c2_cpu = time.perf_counter(), time.process_time()
    return {
        "chunk": chunk.id,
        "rows": n,
        "sha256": file_sha256(Path(task.part)),
        "read_s": t1 - t0,
        "work_s": t2 - t1,
        "read_cpu_s": c1_cpu - c0_cpu,
        "work_cpu_s": c2_cpu - c1_cpu,
        "rss_mb": rss_mb,
    }


def write_part(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write a part as GeoParquet, atomically; the test hook may pause inside the write."""
    gdf = gpd.GeoDataFrame(
        tabular(frame.drop(columns=[NDVI, SMOOTH, VALID])), geometry="geometry", crs=frame.crs
    )
    for col in (NDVI, SMOOTH, VALID):
        gdf[col] = frame[col].to_numpy()
    pause = float(os.environ.get(SLOW_WRITE_ENV, "0") or 0)
    with atomic_write(path) as tmp:
        gdf.to_parquet(tmp, index=False)
        if pause > 0:
            time.sleep(pause)


def read_columns(path: str, columns: list[str], *, words: bool = False) -> pd.DataFrame:
    """Some columns of a part (those it has); with ``words``, its text columns as categories
    (read so from the file: no string per row)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    schema = pq.read_schema(path)
    have = [c for c in columns if c in schema.names]
    kinds = {c: schema.field(c).type for c in have} if words else {}
    text = [c for c, t in kinds.items() if pa.types.is_string(t) or pa.types.is_large_string(t)]
    return pq.read_table(path, columns=have, read_dictionary=text or None).to_pandas()


def light_columns(path: str, columns: list[str] | tuple[str, ...] = LIGHT) -> pd.DataFrame:
    """:func:`light_part` of the part file ``path`` (a chunk task reads its own part back: the
    values its county step would read)."""
    return light_frame(read_columns(path, [ROW, *columns], words=True), columns)


def light_file(part: str | Path) -> Path:
    """Where a part's :data:`LIGHT` columns are kept beside it (:func:`save_light`)."""
    return Path(str(part).removesuffix(".parquet") + ".light.npz")


def save_light(part: str | Path) -> None:
    """Keep the part's :data:`LIGHT` columns beside it, as :func:`light_columns` reads them
    back from it (a few bytes a parcel, read without opening the part: the county step draws
    the crop model's training sample from every part's). Not kept when a column's words are
    not all text (the part itself is read then)."""
    frame = light_columns(str(part))
    arrays: dict[str, Any] = {ROW: frame[ROW].to_numpy()}
    for col in LIGHT:
        values = frame[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            words = values.cat.categories
            if not all(isinstance(w, str) for w in words):
                return
            arrays[f"{col}{_CODES}"] = values.cat.codes.to_numpy()
            arrays[f"{col}{_WORDS}"] = np.asarray(words, dtype=str)
        else:
            arrays[col] = values.to_numpy()
    with atomic_write(light_file(part)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


_CODES, _WORDS = "__codes", "__words"


def read_light(part: str | Path) -> pd.DataFrame | None:
    """The part's :data:`LIGHT` columns kept beside it (:func:`save_light`; None when there are
    none, or none readable: the part is read then): the frame :func:`light_columns` gives.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({ROW: [4, 1], "status": ["ok", "error"], "declared_crop": ["rice", None],
    ...               "n_clear_obs": [12, 0]}).to_parquet(folder / "c.parquet")
    >>> save_light(folder / "c.parquet")
    >>> kept = read_light(folder / "c.parquet")
    >>> pd.testing.assert_frame_equal(kept, light_columns(str(folder / "c.parquet")))
    >>> kept["declared_crop"].tolist(), kept["n_clear_obs"].dtype.name
    (['rice', nan], 'float32')
    >>> import shutil; shutil.rmtree(folder)
    """
    path = light_file(part)
    if not path.exists():
        return None
    try:  # the file opened here, so that it is closed whatever np.load makes of it
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as got:
            columns: dict[str, Any] = {ROW: got[ROW]}
            for col in LIGHT:
                if col in got.files:
                    columns[col] = got[col]
                else:
                    words = pd.Index(got[f"{col}{_WORDS}"].astype(object))
                    columns[col] = pd.Categorical.from_codes(got[f"{col}{_CODES}"],
                                                             categories=words)  # fmt: skip
        return pd.DataFrame(columns)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # the part is the truth
        log.warning("%s: unreadable (%s); its part is read instead", path.name, exc)
        return None


def light_frame(part: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """:data:`ROW` (int32) and ``columns`` of a part's rows, the words as categories and the
    counts (:data:`COUNTS`) as float32 when that holds them exactly: a few bytes a parcel."""
    part = part.reindex(columns=[ROW, *columns])
    part[ROW] = part[ROW].astype(np.int32)  # title rows: below 2**31 (parts.Rows)
    for col in columns:  # a few distinct words per column: categories, not strings
        if not pd.api.types.is_numeric_dtype(part[col]):
            part[col] = part[col].astype("category")
        elif col in COUNTS:
            wide = part[col].to_numpy(dtype=float)
            narrow = wide.astype(np.float32)
            if np.array_equal(narrow.astype(float), wide, equal_nan=True):
                part[col] = narrow
    return part


def read_part(path: Path, skip: tuple[str, ...] = ()) -> gpd.GeoDataFrame:
    """Read a part file (without the columns ``skip``); :class:`ScanError` naming it when it
    cannot be read."""
    try:
        if skip:
            import pyarrow.parquet as pq  # noqa: PLC0415

            names = [n for n in pq.read_schema(path).names if n not in skip]
            return gpd.read_parquet(path, columns=names)
        return gpd.read_parquet(path)
    except Exception as exc:
        raise ScanError(
            f"chunk part {str(path)!r} cannot be read ({exc}); delete it and resume the scan "
            "to compute that chunk again"
        ) from exc


def error_rows(titles: gpd.GeoDataFrame, chunk: Chunk, message: str) -> gpd.GeoDataFrame:
    """Rows with status ``error`` for the parcels of a quarantined chunk, from its ``titles``
    (in the order of its rows, as :func:`agrilend.scan.title_store.read_titles` gives them)."""
    keep = [
        c
        for c in ("parcel_id", "owner_ref", "declared_area_ha", "declared_crop", "geometry")
        if c in titles.columns
    ]
    frame = titles.iloc[: len(chunk.rows)][keep].copy().reset_index(drop=True)
    frame["status"] = "error"
    frame["message"] = message
    frame["n_pixels"] = 0
    frame[ROW] = np.asarray(chunk.rows, dtype=np.int64)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs=titles.crs)


def positions_of(keys: Any, wanted: Any) -> np.ndarray[Any, Any] | None:
    """Where each of ``wanted`` is in ``keys`` (distinct title rows, in any order); None when
    one of them is not there.

    Examples
    --------
    >>> positions_of(np.array([7, 3, 9]), np.array([9, 7])).tolist(), positions_of([3], [4])
    ([2, 0], None)
    """
    keys, wanted = np.asarray(keys), np.asarray(wanted)
    if not wanted.size:
        return np.zeros(0, dtype=np.int64)
    if not keys.size:
        return None
    sorter = np.argsort(keys, kind="stable")
    at = sorter[np.minimum(np.searchsorted(keys, wanted, sorter=sorter), keys.size - 1)]
    return at if np.array_equal(keys[at], wanted) else None


def chunk_of_rows(chunks: list[Chunk], n_titles: int) -> np.ndarray[Any, Any]:
    """The chunk (its index in ``chunks``) of each of the county's ``n_titles`` title rows; -1
    for a row no chunk holds.

    Examples
    --------
    >>> chunk_of_rows([Chunk("a", (0, 2), (0, 1, 0, 1)), Chunk("b", (1,), (0, 1, 0, 1))], 4)
    array([ 0,  1,  0, -1])
    """
    out = np.full(n_titles, -1, dtype=np.int64)
    for k, c in enumerate(chunks):
        out[np.asarray(c.rows, dtype=np.int64)] = k
    return out


def stack(cells: pd.Series, width: int) -> np.ndarray[Any, Any]:
    """A 2-D float array from a column of per-row arrays (NaN rows where a cell is missing)."""
    out = np.full((len(cells), width), np.nan)
    for i, v in enumerate(cells.to_numpy()):
        if v is not None and not (isinstance(v, float) and np.isnan(v)):
            out[i] = np.asarray(v, dtype=float)
    return out


__all__ = [
    "COUNTS",
    "LIGHT",
    "Chunk",
    "ChunkTask",
    "CubeSource",
    "Rows",
    "cell_size",
    "chunk_of_rows",
    "decoded_pixels",
    "duplicate_guests",
    "error_rows",
    "file_sha256",
    "light_columns",
    "light_file",
    "light_frame",
    "partition",
    "positions_of",
    "read_columns",
    "read_light",
    "read_part",
    "read_window",
    "run_chunk",
    "save_light",
    "stack",
    "storage_blocks",
    "write_part",
]
