"""Resource limits checked before anything large is allocated, and safe TOML/JSON loaders.

Hostile files are small on disk and huge once read: a raster header declaring 10^6 x 10^6
pixels, a zip member that inflates a thousandfold, a Parquet file whose pages decompress to
gigabytes, geometry collections nested a hundred thousand deep, a TOML key with a hundred
thousand dots. Each is measured here from headers or metadata first; a file over a limit is
refused with :class:`~agrilend.errors.ResourceLimitError`, naming the input, the limit and the
environment variable that raises it.

======================================== ==================== ===============================
variable                                 default              what
======================================== ==================== ===============================
``AGRILEND_MAX_RASTER_SIDE``             200,000 px           width or height of one raster
``AGRILEND_MAX_RASTER_BYTES``            16 GiB               one band of one date
``AGRILEND_MAX_CONFIG_BYTES``            1 MiB                a TOML file (policy, mapping...)
``AGRILEND_MAX_JSON_BYTES``              256 MiB              a JSON file read whole
``AGRILEND_MAX_NESTING``                 32                   TOML/JSON/WKB nesting depth
``AGRILEND_MAX_UNZIPPED_BYTES``          2 GiB                one zip member, inflated
``AGRILEND_MAX_ZIP_RATIO``               200                  inflated / compressed size
``AGRILEND_MAX_PARQUET_BYTES``           4 GiB                a Parquet file, decompressed
``AGRILEND_SQL_VIEW_SECONDS``            20 s                 an SQL view in a GeoPackage
``AGRILEND_SCHEDULER_TIMEOUT``           20 s                 connecting to a Dask scheduler
======================================== ==================== ===============================
"""

from __future__ import annotations

import json
import os
import re
import struct
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from agrilend.errors import AgrilendError, ResourceLimitError

_DEFAULTS: dict[str, float] = {
    "AGRILEND_MAX_RASTER_SIDE": 200_000,
    "AGRILEND_MAX_RASTER_BYTES": 16 * 2**30,
    "AGRILEND_MAX_CONFIG_BYTES": 2**20,
    "AGRILEND_MAX_JSON_BYTES": 256 * 2**20,
    "AGRILEND_MAX_NESTING": 32,
    "AGRILEND_MAX_UNZIPPED_BYTES": 2 * 2**30,
    "AGRILEND_MAX_ZIP_RATIO": 200,
    "AGRILEND_MAX_PARQUET_BYTES": 4 * 2**30,
    "AGRILEND_SQL_VIEW_SECONDS": 20,
    "AGRILEND_SCHEDULER_TIMEOUT": 20,
}
#: Digits allowed in one number of a TOML/JSON file (Python refuses integers over 4,300).
MAX_DIGITS = 64


def limit(name: str) -> float:
    """The value of one limit: the environment variable ``name`` or its default.

    Examples
    --------
    >>> limit("AGRILEND_MAX_NESTING") >= 8
    True
    """
    raw = os.environ.get(name, "").strip()
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise ResourceLimitError(
                f"{name}={raw!r} is not a number; give a positive number", what=name
            ) from None
        if value > 0:
            return value
    return _DEFAULTS[name]


def _over(what: str, measured: str, name: str, allowed: float, *, path: Any = None) -> None:
    raise ResourceLimitError(
        f"{what}: {measured}, more than the limit of {allowed:,.0f}; if the file is genuine, "
        f"raise {name}",
        what=what,
        path=path,
    )


# --- rasters ------------------------------------------------------------------------------------


def check_raster(what: str, *, shape: Iterable[int], itemsize: int, path: Any = None) -> None:
    """Refuse a raster (or array) whose declared size exceeds the limits, before reading it.

    ``shape`` is the full shape (dates, bands, rows, columns...); the last two are its sides.
    Sides and the bytes of one plane (one band of one date) are limited: a lazily read cube may
    hold many dates, but every step of the pipeline holds at least one plane at a time.

    Examples
    --------
    >>> check_raster("x.tif", shape=(3, 100, 100), itemsize=4)
    >>> check_raster("x.tif", shape=(1, 10**6, 10**6), itemsize=2)
    Traceback (most recent call last):
    ...
    agrilend.errors.ResourceLimitError: x.tif: 1,000,000 x 1,000,000 pixels, ...
    """
    dims = [int(n) for n in shape]
    side = limit("AGRILEND_MAX_RASTER_SIDE")
    if len(dims) >= 2 and max(dims[-2:]) > side:
        _over(what, f"{dims[-2]:,} x {dims[-1]:,} pixels", "AGRILEND_MAX_RASTER_SIDE", side,
              path=path)  # fmt: skip
    nbytes = int(np.prod(dims[-2:], dtype=object)) * int(itemsize) if dims else int(itemsize)
    most = limit("AGRILEND_MAX_RASTER_BYTES")
    if nbytes > most:
        _over(what, f"{nbytes / 2**30:,.1f} GiB per plane ({dims})", "AGRILEND_MAX_RASTER_BYTES",
              most, path=path)  # fmt: skip


def check_dataset(ds: Any, what: str, *, path: Any = None) -> None:
    """:func:`check_raster` on every variable of a lazily opened :class:`xarray.Dataset`."""
    for name, var in ds.variables.items():
        if var.ndim >= 2:
            check_raster(f"{what} variable {name!r}", shape=var.shape,
                         itemsize=var.dtype.itemsize, path=path)  # fmt: skip


# --- zips and Parquet ---------------------------------------------------------------------------


def check_zip(zf: Any, what: str, *, path: Any = None) -> None:
    """Refuse a zip whose members inflate beyond the size or ratio limits (from its directory)."""
    most = limit("AGRILEND_MAX_UNZIPPED_BYTES")
    ratio = limit("AGRILEND_MAX_ZIP_RATIO")
    total = 0
    for info in zf.infolist():
        total += info.file_size
        if info.file_size > most or total > most:
            _over(f"{what} member {info.filename!r}", f"{max(total, info.file_size):,} bytes "
                  "once inflated", "AGRILEND_MAX_UNZIPPED_BYTES", most, path=path)  # fmt: skip
        if info.file_size > 2**20 and info.file_size > ratio * max(info.compress_size, 1):
            _over(f"{what} member {info.filename!r}",
                  f"inflates {info.file_size / max(info.compress_size, 1):,.0f} times",
                  "AGRILEND_MAX_ZIP_RATIO", ratio, path=path)  # fmt: skip


def read_zip_member(zf: Any, name: str, what: str, *, path: Any = None) -> bytes:
    """Read one member, never more than the limit even if its directory entry lies."""
    check_zip(zf, what, path=path)
    most = int(limit("AGRILEND_MAX_UNZIPPED_BYTES"))
    with zf.open(name) as fh:
        data: bytes = fh.read(most + 1)
    if len(data) > most:
        _over(f"{what} member {name!r}", "more bytes than its entry declares",
              "AGRILEND_MAX_UNZIPPED_BYTES", most, path=path)  # fmt: skip
    return data


def check_parquet(path: str | Path, what: str) -> None:
    """Refuse a Parquet file whose row groups decompress beyond the limit (footer only)."""
    import pyarrow.parquet as pq  # noqa: PLC0415  (heavy)

    meta = pq.ParquetFile(path).metadata
    total = 0
    for i in range(meta.num_row_groups):
        rg = meta.row_group(i)
        for j in range(rg.num_columns):
            total += max(int(rg.column(j).total_uncompressed_size), 0)
    most = limit("AGRILEND_MAX_PARQUET_BYTES")
    if total > most:
        _over(what, f"{total / 2**30:,.2f} GiB once decompressed", "AGRILEND_MAX_PARQUET_BYTES",
              most, path=path)  # fmt: skip


# --- WKB nesting --------------------------------------------------------------------------------

_COLLECTIONS = {4, 5, 6, 7, 11, 12, 15, 16}  # multi*, collection, multicurve/surface, PS, TIN
_CURVED = {9, 10}  # compound curve, curve polygon: members are geometries too


def wkb_depth(blob: bytes, *, most: int) -> int:
    """Nesting depth of one WKB geometry, walked without recursion; stops past ``most``.

    Returns ``most + 1`` as soon as the geometry is deeper than ``most``, and -1 for bytes that
    are not WKB (the reader that follows reports those).

    Examples
    --------
    >>> import shapely
    >>> wkb_depth(shapely.to_wkb(shapely.box(0, 0, 1, 1)), most=32)
    1
    >>> gc = shapely.GeometryCollection([shapely.GeometryCollection([shapely.Point(0, 0)])])
    >>> wkb_depth(shapely.to_wkb(gc), most=32)
    3
    """
    pos, deepest = 0, 0
    stack: list[int] = []  # members still to read at each open level
    try:
        while True:
            order = "<" if blob[pos] == 1 else ">"
            (code,) = struct.unpack_from(order + "I", blob, pos + 1)
            pos += 5
            if code & 0x20000000:  # EWKB SRID
                pos += 4
            dims = 2 + bool(code & 0x80000000) + bool(code & 0x40000000)
            base = code & 0x0FFFFFFF
            if base >= 1000:
                dims = 2 + {1: 1, 2: 1, 3: 2}[base // 1000]
                base %= 1000
            deepest = max(deepest, len(stack) + 1)
            if deepest > most:
                return most + 1
            if base == 1:
                pos += 8 * dims
            elif base in (2, 8):  # line string, circular string
                (n,) = struct.unpack_from(order + "I", blob, pos)
                pos += 4 + 8 * dims * n
            elif base in (3, 17):  # polygon, triangle
                (rings,) = struct.unpack_from(order + "I", blob, pos)
                pos += 4
                for _ in range(rings):
                    (n,) = struct.unpack_from(order + "I", blob, pos)
                    pos += 4 + 8 * dims * n
            elif base in _COLLECTIONS or base in _CURVED:
                (n,) = struct.unpack_from(order + "I", blob, pos)
                pos += 4
                if n:
                    stack.append(n)
                    continue
            else:
                return -1
            while stack:  # one member done: climb while levels are finished
                stack[-1] -= 1
                if stack[-1]:
                    break
                stack.pop()
            if not stack:
                return deepest
    except (IndexError, struct.error, KeyError):
        return -1


#: Any WKB header whose geometry holds members (collections, multi-geometries, curve
#: compounds), in either byte order, plain, ISO Z/M/ZM or with EWKB flags; a little wider than
#: exact (a match only means the full walk runs).
_NESTED = re.compile(
    rb"\x01(?:[\x04-\x07\x09-\x0c\x0f\x10]\x00\x00[\x00\x20\x40\x60\x80\xa0\xc0\xe0]"
    rb"|[\xec-\xf8]\x03\x00\x00|[\xd4-\xe0]\x07\x00\x00|[\xbc-\xc8]\x0b\x00\x00)"
    rb"|\x00(?:[\x00\x20\x40\x60\x80\xa0\xc0\xe0]\x00\x00[\x04-\x07\x09-\x0c\x0f\x10]"
    rb"|\x00\x00\x03[\xec-\xf8]|\x00\x00\x07[\xd4-\xe0]|\x00\x00\x0b[\xbc-\xc8])"
)


def _lut(values: Iterable[int]) -> np.ndarray[Any, Any]:
    table = np.zeros(256, dtype=bool)
    table[list(values)] = True
    return table


_MEMBER_LOW = _lut([4, 5, 6, 7, 9, 10, 11, 12, 15, 16])
_FLAGS = _lut([0, 0x20, 0x40, 0x60, 0x80, 0xA0, 0xC0, 0xE0])
_ISO_HIGH = _lut([3, 7, 11])
_ISO_LOW = _lut(range(0xBC, 0x100))


def _rows_with_nested_headers(data: np.ndarray[Any, Any], offsets: np.ndarray[Any, Any]) -> Any:
    """Rows of a binary column (``data`` bytes, ``offsets``) holding a member-bearing WKB header
    after their own first one: the vectorised form of :data:`_NESTED` (a little wider)."""
    if len(data) < 5:
        return np.array([], dtype=np.int64)
    n = len(data) - 4
    cand = np.flatnonzero(data[:n] <= 1)  # a byte-order byte starts every header
    b0, b1, b2, b3, b4 = (data[cand + k] for k in range(5))
    zero23 = (b2 == 0) & (b3 == 0)
    le = (b0 == 1) & (
        (_MEMBER_LOW[b1] & zero23 & _FLAGS[b4])
        | (_ISO_HIGH[b2] & (b3 == 0) & (b4 == 0) & _ISO_LOW[b1])
    )
    be = (b0 == 0) & (
        (_FLAGS[b1] & zero23 & _MEMBER_LOW[b4])
        | ((b1 == 0) & zero23 & _ISO_HIGH[b3] & _ISO_LOW[b4])
    )
    pos = cand[le | be]
    pos = pos[(pos >= offsets[0]) & (pos < offsets[-1])]  # bytes of the rows only
    rows = np.searchsorted(offsets, pos, side="right") - 1
    inside = pos > offsets[rows]  # the row's own header does not count
    return np.unique(rows[inside])


def check_wkb_column(column: Any, what: str, *, path: Any = None) -> None:
    """:func:`check_wkb` on a pyarrow binary column, vectorised: only rows whose bytes hold a
    header of a nested geometry are walked one by one."""
    import pyarrow as pa  # noqa: PLC0415

    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    start = 0
    for chunk in chunks:
        if not (pa.types.is_binary(chunk.type) or pa.types.is_large_binary(chunk.type)):
            start += len(chunk)
            continue
        offsets_buf, data_buf = chunk.buffers()[1], chunk.buffers()[2]
        otype = np.int64 if pa.types.is_large_binary(chunk.type) else np.int32
        first, last = chunk.offset, chunk.offset + len(chunk) + 1
        offsets = np.frombuffer(offsets_buf, dtype=otype)[first:last]
        if data_buf is None or not len(chunk):
            start += len(chunk)
            continue
        data = np.frombuffer(data_buf, dtype=np.uint8)
        rows = _rows_with_nested_headers(data, offsets.astype(np.int64))
        top = [chunk[int(r)].as_py() for r in rows]
        most = int(limit("AGRILEND_MAX_NESTING"))
        for r, blob in zip(rows, top, strict=True):
            if isinstance(blob, bytes) and wkb_depth(blob, most=most) > most:
                _over(f"{what} geometry of row {start + int(r)}",
                      f"nested more than {most} levels deep", "AGRILEND_MAX_NESTING", most,
                      path=path)  # fmt: skip
        start += len(chunk)


def check_wkb(blobs: Iterable[Any], what: str, *, path: Any = None) -> None:
    """Refuse WKB geometries nested deeper than ``AGRILEND_MAX_NESTING`` before GEOS reads them.

    GEOS decodes nested collections recursively: a collection nested 100,000 deep in a 46 kB
    file overflows the C stack and kills the process. Plain polygons cost one header read.
    """
    most = int(limit("AGRILEND_MAX_NESTING"))
    for i, item in enumerate(blobs):
        if not isinstance(item, bytes | bytearray | memoryview) or len(item) < 9:
            continue
        blob = bytes(item)
        code = struct.unpack_from("<I" if blob[0] == 1 else ">I", blob, 1)[0] & 0x0FFFFFFF
        if code % 1000 in (1, 2, 3, 8, 17) and code < 4000:
            continue  # a leaf: nothing nested
        if _NESTED.search(blob, 9) is None:
            continue  # no header of a collection or curve anywhere inside: members are leaves
        if wkb_depth(blob, most=most) > most:
            _over(f"{what} geometry of row {i}", f"nested more than {most} levels deep",
                  "AGRILEND_MAX_NESTING", most, path=path)  # fmt: skip


# --- TOML and JSON ------------------------------------------------------------------------------

_TOML_QUOTES = re.compile(r"'''|\"\"\"|'|\"")


def _scan_structure(text: str, *, toml: bool) -> tuple[int, int, int]:
    """(deepest bracket nesting, longest digit run, most dots in one dotted key), strings skipped.

    A linear pass, so a bomb costs what its bytes cost; quoted text and comments do not count.
    """
    depth = deepest = digits = longest = dots = most_dots = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or (toml and c == "'"):
            quote = text[i : i + 3] if toml and text[i : i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n:
                if text[j] == "\\" and quote[0] == '"':
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                j += 1
            i = j + len(quote)
            digits = 0
            continue
        if toml and c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
        if c.isdigit() or (c == "_" and digits):
            digits += 1
            longest = max(longest, digits)
        else:
            digits = 0
        if c == ".":
            dots += 1
            most_dots = max(most_dots, dots)
        elif c in ",=[]{}\n":
            dots = 0
        i += 1
    return deepest, longest, most_dots


def _read_text(path: Path, what: str, name: str, error: Callable[[str], AgrilendError]) -> str:
    most = limit(name)
    try:
        size = path.stat().st_size
        if size > most:
            _over(what, f"{size:,} bytes", name, most, path=path)
        with path.open("rb") as fh:
            raw = fh.read(int(most) + 1)
        if len(raw) > most:
            _over(what, "grew past the limit while being read", name, most, path=path)
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{what} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{what} cannot be read ({exc.strerror or exc})") from None


def _check_structure(text: str, what: str, *, toml: bool, path: Any) -> None:
    most = int(limit("AGRILEND_MAX_NESTING"))
    deepest, longest, dots = _scan_structure(text, toml=toml)
    if deepest > most:
        _over(what, f"brackets nested {deepest} deep", "AGRILEND_MAX_NESTING", most, path=path)
    if longest > MAX_DIGITS:
        raise ResourceLimitError(
            f"{what}: a number with {longest} digits (at most {MAX_DIGITS}); fix the file",
            what=what,
            path=path,
        )
    if dots > most:
        _over(what, f"a dotted key of {dots + 1} parts", "AGRILEND_MAX_NESTING", most, path=path)


def parse_toml(
    text: str, what: str, *, error: Callable[[str], AgrilendError], path: Any = None
) -> dict[str, Any]:
    """Parse TOML text after the structure checks; every failure becomes ``error(message)``.

    Examples
    --------
    >>> from agrilend.errors import PolicyError
    >>> parse_toml("a = 1", "policy", error=PolicyError)
    {'a': 1}
    >>> parse_toml("a = " + "[" * 100 + "]" * 100, "policy", error=PolicyError)
    Traceback (most recent call last):
    ...
    agrilend.errors.ResourceLimitError: policy: brackets nested 100 deep, ...
    """
    size = len(text.encode("utf-8"))
    most = limit("AGRILEND_MAX_CONFIG_BYTES")
    if size > most:
        _over(what, f"{size:,} bytes", "AGRILEND_MAX_CONFIG_BYTES", most, path=path)
    _check_structure(text, what, toml=True, path=path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} is not valid TOML ({exc}); fix its syntax") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise error(f"{what} could not be parsed ({type(exc).__name__}); fix the file") from None


def load_toml(
    path: str | Path, what: str, *, error: Callable[[str], AgrilendError]
) -> dict[str, Any]:
    """Read a TOML file within the size and structure limits (see :func:`parse_toml`)."""
    p = Path(path)
    text = _read_text(p, what, "AGRILEND_MAX_CONFIG_BYTES", error)
    return parse_toml(text, what, error=error, path=p)


def parse_json(
    text: str | bytes, what: str, *, error: Callable[[str], AgrilendError], path: Any = None
) -> Any:
    """Parse JSON after the structure checks; every failure becomes ``error(message)``.

    Examples
    --------
    >>> from agrilend.errors import ScanError
    >>> parse_json('{"a": [1, 2]}', "county.json", error=ScanError)
    {'a': [1, 2]}
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{what} is not UTF-8 text ({exc.reason})") from None
    _check_structure(text, what, toml=False, path=path)
    try:
        return json.loads(text)
    except (ValueError, RecursionError, MemoryError) as exc:
        raise error(f"{what} is not valid JSON ({str(exc)[:200]}); fix or replace it") from None


def load_json(path: str | Path, what: str, *, error: Callable[[str], AgrilendError]) -> Any:
    """Read a JSON file within the size and structure limits (see :func:`parse_json`)."""
    p = Path(path)
    text = _read_text(p, what, "AGRILEND_MAX_JSON_BYTES", error)
    return parse_json(text, what, error=error, path=p)


__all__ = [
    "check_dataset",
    "check_parquet",
    "check_raster",
    "check_wkb",
    "check_wkb_column",
    "check_zip",
    "connect_scheduler",
    "limit",
    "load_json",
    "load_toml",
    "parse_json",
    "parse_toml",
    "read_zip_member",
    "wkb_depth",
]


# --- Dask scheduler -----------------------------------------------------------------------------


def connect_scheduler(address: str) -> Any:
    """A :class:`dask.distributed.Client` on ``address``, or a :class:`ScanError` in bounded time.

    A closed port and a server that does not speak Dask's protocol both end after
    ``AGRILEND_SCHEDULER_TIMEOUT`` seconds with a message naming the address.
    """
    from dask.distributed import Client  # noqa: PLC0415  (heavy)

    from agrilend.errors import ScanError  # noqa: PLC0415

    seconds = limit("AGRILEND_SCHEDULER_TIMEOUT")

    def refuse(why: str) -> ScanError:
        return ScanError(
            f"no Dask scheduler answered at {address!r} within {seconds:g} s ({why}); check the "
            "address and that `dask scheduler` runs there, or raise AGRILEND_SCHEDULER_TIMEOUT"
        )

    if "://" not in address or address.startswith("tcp://"):
        _probe_dask(address.removeprefix("tcp://"), seconds, refuse)
    try:
        return Client(address, timeout=f"{seconds}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise refuse(type(exc).__name__) from None


def _probe_dask(hostport: str, seconds: float, refuse: Callable[[str], AgrilendError]) -> None:
    """Connect and wait for the greeting a Dask scheduler sends at once on every connection.

    Dask's client would wait for it without end at a port where something else listens.
    """
    import socket  # noqa: PLC0415

    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), seconds) as s:
            s.settimeout(seconds)
            if not s.recv(1):
                raise refuse("the connection was closed at once: not a Dask scheduler")
    except TimeoutError:
        raise refuse("something listens there but does not speak Dask's protocol") from None
    except (OSError, ValueError) as exc:
        raise refuse(f"{type(exc).__name__}: {exc}") from None
