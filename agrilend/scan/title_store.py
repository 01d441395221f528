"""The scan's titles on disk: written once by the client in chunk order, read per chunk by workers.

The outlines are most of the titles' memory (about 1 KB a parcel in GEOS, more while they are
read). The staging task (:mod:`agrilend.scan.staging`) writes the titles it read and checked to
``titles.parquet`` in the results folder (GeoParquet, one row group per chunk, in the order of
the chunks, with each title's row in the county and its bounds); the client keeps none of them.
A worker reads its chunk's row group, and the guests its chunk needs (titles of other chunks
with the same parcel id); the county step reads a few columns of every title from there
(:func:`read_title_columns`: the owners for the households' partitions, the bounds for the
overlaps between chunks), on a worker, and the outlines of a quarantined chunk.

The file is rewritten by every run of a scan, resumed or not: it is a copy of the titles input
(whose checksum the plan keeps), not a result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np

from agrilend.errors import ScanError
from agrilend.outputs import atomic_write

if TYPE_CHECKING:
    from agrilend.scan.parts import Chunk

log = logging.getLogger(__name__)

#: The file, in the results folder.
TITLES_FILE = "titles.parquet"
#: Each title's row in the county (the titles as read), a column of the file.
_ROW = "_title_row"
#: Each title's bounds (NaN: no outline), columns of the file.
BOUNDS_COLUMNS = ("_minx", "_miny", "_maxx", "_maxy")
#: Each title's chunk (its index in the plan: the file's row group), as read by
#: :func:`read_title_columns`.
CHUNK = "_chunk"


def write_titles(titles: gpd.GeoDataFrame, chunks: Sequence[Chunk], path: Path) -> None:
    """Write ``titles`` to ``path``, one row group per chunk in the order of ``chunks``.

    Every title is in exactly one chunk (as :func:`agrilend.scan.parts.partition` makes them).
    The write is atomic: a scan killed meanwhile leaves the file it had, or none.

    Examples
    --------
    >>> import tempfile
    >>> from shapely import box
    >>> from agrilend.scan.parts import Chunk
    >>> t = gpd.GeoDataFrame({"parcel_id": ["a", "b", "c"]}, crs="EPSG:32650",
    ...                      geometry=[box(0, 0, 1, 1), box(5, 0, 6, 1), box(1, 0, 2, 1)])
    >>> chunks = [Chunk("k0", (0, 2), (0, 1, 0, 2)), Chunk("k1", (1,), (0, 1, 5, 6))]
    >>> f = Path(tempfile.mkdtemp()) / TITLES_FILE
    >>> write_titles(t, chunks, f)
    >>> read_titles(f, 0, chunks[0])["parcel_id"].tolist()
    ['a', 'c']
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    rows = sorted(r for c in chunks for r in c.rows)
    if rows != list(range(len(titles))):
        raise ScanError(
            f"the chunks hold {len(rows)} title rows for {len(titles)} titles, or some twice; "
            "this is a bug in agrilend: report it with the titles file"
        )
    frame = titles.reset_index(drop=True)
    try:
        table = pa.table(frame.to_arrow(index=False, geometry_encoding="WKB"))
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # a registry column of mixed kinds of values
        mixed = [c for c in frame.columns if c != frame.geometry.name and frame[c].dtype == object]
        log.info("titles: columns %s hold values of mixed kinds; kept as text", mixed)
        frame = frame.assign(**{c: frame[c].map(_text) for c in mixed})
        table = pa.table(frame.to_arrow(index=False, geometry_encoding="WKB"))
    table = table.append_column(_ROW, pa.array(np.arange(len(frame), dtype=np.int64)))
    bounds = frame.geometry.bounds.to_numpy(dtype=float)
    for k, name in enumerate(BOUNDS_COLUMNS):
        table = table.append_column(name, pa.array(bounds[:, k]))
    with atomic_write(path) as tmp, pq.ParquetWriter(tmp, table.schema) as writer:
        for c in chunks:
            writer.write_table(table.take(list(c.rows)), row_group_size=max(len(c.rows), 1))


def _text(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def read_titles(
    path: str | Path, index: int, chunk: Chunk, guests: Sequence[int] = ()
) -> gpd.GeoDataFrame:
    """The titles of ``chunk`` (the ``index``-th of the chunks written), in the order of its
    rows, then the ``guests`` (rows of other chunks) in the order given; as
    :func:`agrilend.parcels.read_titles` gave them.

    Raises
    ------
    ScanError
        The file cannot be read or does not hold the chunk's rows (written for another plan).
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    try:
        with pq.ParquetFile(path) as f:
            table = f.read_row_groups([index])
            if guests:
                table = pa.concat_tables([table, _guests(f, guests)])
    except Exception as exc:
        raise ScanError(
            f"the scan's titles {str(path)!r} cannot be read ({exc}); resume the scan to write "
            "them again"
        ) from exc
    want = np.asarray([*chunk.rows, *guests], dtype=np.int64)
    got = table[_ROW].to_numpy()
    if not np.array_equal(got, want):
        raise ScanError(
            f"the scan's titles {str(path)!r} do not hold chunk {chunk.id}'s rows; resume the "
            "scan to write them again"
        )
    return gpd.GeoDataFrame.from_arrow(table.drop_columns([_ROW, *BOUNDS_COLUMNS]))


def read_title_columns(path: str | Path, columns: Sequence[str]) -> Any:
    """Columns ``columns`` of every title (a pandas DataFrame), in the county's row order; a
    column the file lacks is all None, the bounds are :data:`BOUNDS_COLUMNS` and :data:`CHUNK`
    is each title's chunk.

    Examples
    --------
    >>> import tempfile
    >>> from shapely import box
    >>> from agrilend.scan.parts import Chunk
    >>> t = gpd.GeoDataFrame({"parcel_id": ["a", "b", "c"]}, crs="EPSG:32650",
    ...                      geometry=[box(0, 0, 1, 1), box(5, 0, 6, 1), None])
    >>> f = Path(tempfile.mkdtemp()) / TITLES_FILE
    >>> write_titles(t, [Chunk("k0", (0, 2), (0, 1, 0, 2)), Chunk("k1", (1,), (0, 1, 5, 6))], f)
    >>> got = read_title_columns(f, ["parcel_id", "owner_ref", "_maxx", CHUNK])
    >>> got["parcel_id"].tolist(), got["owner_ref"].tolist(), got["_maxx"].tolist()
    (['a', 'b', 'c'], [None, None, None], [1.0, 6.0, nan])
    >>> got[CHUNK].tolist()
    [0, 1, 0]

    Raises
    ------
    ScanError
        The file cannot be read, or does not hold every row of the county once.
    """
    import pyarrow.parquet as pq  # noqa: PLC0415

    try:
        with pq.ParquetFile(path) as f:
            names = set(f.schema_arrow.names)
            table = f.read(columns=[_ROW, *[c for c in columns if c in names]])
            sizes = [f.metadata.row_group(g).num_rows for g in range(f.num_row_groups)]
    except Exception as exc:
        raise ScanError(
            f"the scan's titles {str(path)!r} cannot be read ({exc}); resume the scan to write "
            "them again"
        ) from exc
    rows = table[_ROW].to_numpy()
    order = np.argsort(rows, kind="stable")
    if not np.array_equal(rows[order], np.arange(rows.size)):
        raise ScanError(
            f"the scan's titles {str(path)!r} do not hold each of the county's rows once; "
            "resume the scan to write them again"
        )
    frame = table.take(order).to_pandas()
    if CHUNK in columns:
        frame[CHUNK] = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)[order]
    for c in columns:
        if c not in frame:
            frame[c] = None
    return frame[list(columns)]


def _guests(f: Any, guests: Sequence[int]) -> Any:
    """The rows ``guests`` of the open file ``f``, in that order: the row column is read whole,
    then only the row groups that hold them."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415

    rows = f.read(columns=[_ROW])[_ROW]
    where = pc.index_in(pa.array(np.asarray(guests, dtype=np.int64)), rows)
    where = where.to_numpy(zero_copy_only=False).astype(np.int64)
    sizes = np.array([f.metadata.row_group(g).num_rows for g in range(f.num_row_groups)])
    first = np.cumsum(sizes) - sizes  # each group's first row in the file
    groups = np.searchsorted(first, where, side="right") - 1
    wanted = np.unique(groups)
    offset = dict(
        zip(wanted.tolist(), (np.cumsum(sizes[wanted]) - sizes[wanted]).tolist(), strict=True)
    )
    take = [offset[g] + w - first[g] for g, w in zip(groups.tolist(), where.tolist(), strict=True)]
    return f.read_row_groups(wanted.tolist()).take(take)


__all__ = [
    "BOUNDS_COLUMNS",
    "CHUNK",
    "TITLES_FILE",
    "read_title_columns",
    "read_titles",
    "write_titles",
]
