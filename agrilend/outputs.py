"""Writing results: GeoParquet and GeoPackage of parcels, household tables, manifests.

Every writer in agrilend goes through :func:`atomic_write`, so a reader never sees half a file
and a planted link is never followed: the bytes go to a new temporary file with a random name in
the same folder (created exclusively, so no link can stand in its place), are flushed to disk,
then renamed over the target, which replaces a link at the target's name instead of writing
through it. An existing target, a link included (even one pointing nowhere), needs
``overwrite``.

CSV files are written for spreadsheets: UTF-8 with a byte-order mark (Excel then reads Chinese
text right) and every text cell that a spreadsheet would take for a formula (a leading ``=``,
``+``, ``-``, ``@``, tab or carriage return) prefixed with a single quote.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from agrilend.errors import AgrilendError, OutputExistsError, OutputWriteError

if TYPE_CHECKING:
    import geopandas as gpd


def output_exists(path: str | Path) -> bool:
    """True when anything stands at ``path``: a file, a folder or a link (even a dangling one).

    Examples
    --------
    >>> import tempfile, pathlib, os
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> os.symlink(d / "nowhere", d / "out.csv")
    >>> (d / "out.csv").exists(), output_exists(d / "out.csv")
    (False, True)
    """
    return os.path.lexists(path)


def _refuse_existing(path: Path) -> None:
    kind = "a link" if path.is_symlink() else "already exists"
    raise OutputExistsError(
        f"output {str(path)!r} {'is ' + kind if kind == 'a link' else kind}; pass "
        "overwrite=True (--overwrite) to replace it, or choose another path",
        path=path,
    )


@contextlib.contextmanager
def atomic_write(
    path: str | Path, *, overwrite: bool = True, mode: int | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it to ``path``.

    The temporary file has a random name and is created exclusively (``O_EXCL``), so it is never
    a link; the rename replaces whatever stands at ``path`` (a link is replaced, not followed).
    ``mode`` is the file's permission bits (default: ``0o666`` less the umask). Running out of
    disk space raises :class:`~agrilend.errors.OutputWriteError` and leaves the target as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> with atomic_write(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    if not overwrite and output_exists(path):
        _refuse_existing(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".tmp-{path.stem[:40]}-", suffix=path.suffix, dir=path.parent
        )
        os.close(fd)
    except OSError as exc:
        raise _write_error(path, exc) from None
    tmp = Path(name)
    try:
        try:
            yield tmp
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
            tmp.chmod(0o666 & ~_umask() if mode is None else mode)  # mkstemp makes 0600
            if not overwrite and output_exists(path):  # appeared while we wrote
                _refuse_existing(path)
            os.replace(tmp, path)
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            if isinstance(exc, AgrilendError) or exc.errno not in _NO_SPACE:
                raise
            raise _write_error(path, exc) from None
    finally:
        if os.path.lexists(tmp):
            tmp.unlink()


_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def _write_error(path: Path, exc: OSError) -> OutputWriteError:
    return OutputWriteError(
        f"cannot write {str(path)!r}: {exc.strerror or exc} ({type(exc).__name__}); nothing "
        "was replaced: free space (or fix the folder's permissions) and run again (a scan "
        "continues with --resume)",
        path=path,
    )


def write_bytes(path: str | Path, data: bytes, *, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` through :func:`atomic_write`."""
    with atomic_write(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str, *, overwrite: bool = True) -> Path:
    """Write UTF-8 ``text`` to ``path`` through :func:`atomic_write`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> write_text(pathlib.Path(tempfile.mkdtemp()) / "a.html", "<p>hi</p>").read_text()
    '<p>hi</p>'
    """
    return write_bytes(path, text.encode("utf-8"), overwrite=overwrite)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _plain(value: Any) -> Any:
    """Lists, tuples, dicts and arrays become JSON text so every format can hold them."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return _CELL_JSON.encode(value)
    return value


def json_default(obj: Any) -> Any:
    """JSON for what ``json`` does not know: numpy scalars, dates, anything else as text."""
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


# json.dumps(v, ensure_ascii=False, default=json_default), without an encoder made per cell
_CELL_JSON = json.JSONEncoder(ensure_ascii=False, default=json_default)
#: What :func:`pandas.api.types.infer_dtype` calls a column that holds no list, tuple, dict or
#: array (``mixed`` columns are looked at cell by cell).
_SCALAR_KINDS = frozenset({
    "string", "bytes", "floating", "integer", "mixed-integer-float", "decimal", "complex",
    "boolean", "datetime64", "datetime", "date", "timedelta64", "timedelta", "time", "period",
    "interval", "empty",
})  # fmt: skip


def tabular(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose nested cells (lists, dicts) are JSON strings."""
    out = df.copy()
    # the columns' types read once: only columns of objects are looked at
    for col, dtype in list(out.dtypes.items()):
        if col == "geometry" or dtype != np.dtype(object):
            continue
        cells = out[col]
        if pd.api.types.infer_dtype(cells, skipna=True) in _SCALAR_KINDS:
            continue
        if cells.map(lambda v: isinstance(v, list | tuple | dict | np.ndarray)).any():
            out[col] = cells.map(_plain)
    return out


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with ``'``; others unchanged.

    Examples
    --------
    >>> neutralise_cell("=HYPERLINK(1)"), neutralise_cell("-2+3"), neutralise_cell(3)
    ("'=HYPERLINK(1)", "'-2+3", 3)
    >>> neutralise_cell("P-0042")
    'P-0042'
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: object) -> str:
    r"""``text`` with control characters escaped, for printing to a terminal.

    Parcel ids and file contents reach ``agrilend check``'s output; raw escape sequences would
    recolour, move the cursor or retitle the terminal, newlines would forge lines, and
    bidirectional overrides would show text reversed. Each becomes a visible escape.

    Examples
    --------
    >>> terminal_safe("P-1\x1b[31mred\nnext\u202e")
    'P-1\\x1b[31mred\\nnext\\u202e'
    """

    def escape(m: re.Match[str]) -> str:
        c = m.group(0)
        named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
        return named.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")

    return _CONTROL.sub(escape, str(text))


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names cannot start a formula."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def _write(path: Path, writer: Callable[[Path], object], *, overwrite: bool) -> Path:
    with atomic_write(path, overwrite=overwrite) as tmp:
        writer(tmp)
    return path


def write_parcels(parcels: gpd.GeoDataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write parcel estimates as GeoParquet (``.parquet``) or GeoPackage (``.gpkg``)."""
    import geopandas as gpd  # noqa: PLC0415  (heavy; only this writer needs it)

    path = Path(path)
    gdf = gpd.GeoDataFrame(tabular(parcels), geometry="geometry", crs=parcels.crs)
    if path.suffix == ".gpkg":
        return _write(
            path, lambda p: gdf.to_file(p, driver="GPKG", layer="parcels"), overwrite=overwrite
        )
    return _write(path, lambda p: gdf.to_parquet(p, index=False), overwrite=overwrite)


def write_table(df: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a table as Parquet (``.parquet``) or UTF-8 CSV (``.csv``, with a byte-order mark so
    Excel reads the Chinese text as UTF-8)."""
    path = Path(path)
    flat = tabular(df)
    if path.suffix == ".csv":
        safe = spreadsheet_safe(flat)
        return _write(
            path,
            # every text cell quoted: a CR or LF inside one cannot start a row of its own
            lambda p: safe.to_csv(
                p, index=False, encoding="utf-8-sig", quoting=csv.QUOTE_NONNUMERIC
            ),
            overwrite=overwrite,
        )
    return _write(path, lambda p: flat.to_parquet(p, index=False), overwrite=overwrite)


def household_areas(parcels: gpd.GeoDataFrame, households: pd.DataFrame) -> gpd.GeoDataFrame:
    """The household table with each household's parcels as one MultiPolygon (for GIS users):
    their polygons in parcel row order; None for a household without one."""
    import geopandas as gpd  # noqa: PLC0415  (only when writing geometry)
    import shapely  # noqa: PLC0415

    owners = parcels["owner_ref"].astype(str).to_numpy()
    parts, of_row = shapely.get_parts(parcels.geometry.to_numpy(), return_index=True)
    polygon = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    parts, of_row = parts[polygon], of_row[polygon]
    # every household's polygons together, in parcel row order (a stable sort by owner)
    names, group = np.unique(owners[of_row], return_inverse=True)
    order = np.argsort(group, kind="stable")
    outlines = shapely.multipolygons(parts[order], indices=group[order])
    geoms = dict(zip(names.tolist(), outlines.tolist(), strict=True))
    flat = tabular(households)
    geometry = [geoms.get(str(o)) for o in flat["owner_ref"]]
    return gpd.GeoDataFrame(flat, geometry=geometry, crs=parcels.crs)


def write_geopackage(
    parcels: gpd.GeoDataFrame,
    households: pd.DataFrame,
    path: str | Path,
    *,
    overwrite: bool = False,
) -> Path:
    """One GeoPackage with two layers: ``parcels`` and ``households`` (their parcels' outline).

    Numbers are written as numbers (REAL, INTEGER), never as text.
    """
    import geopandas as gpd  # noqa: PLC0415  (only when writing geometry)

    gdf = gpd.GeoDataFrame(tabular(parcels), geometry="geometry", crs=parcels.crs)
    hh = household_areas(parcels, households)

    def write(p: Path) -> None:
        gdf.to_file(p, driver="GPKG", layer="parcels")
        hh.to_file(p, driver="GPKG", layer="households", mode="a")

    return _write(Path(path), write, overwrite=overwrite)


def write_json(payload: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``payload`` as indented UTF-8 JSON."""
    text = json.dumps(payload, indent=2, ensure_ascii=False, default=json_default)
    return _write(
        Path(path), lambda p: p.write_text(text + "\n", encoding="utf-8"), overwrite=overwrite
    )


def write_cube(cube: Any, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write an imagery cube to NetCDF or Zarr (by the name's extension), atomically.

    The cube is written under a temporary name in the same folder, then renamed; Zarr is
    written as version 2 with consolidated metadata, what every reader expects.

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``overwrite`` is False.
    ValueError
        When the name ends in neither ``.nc`` nor ``.zarr``.
    """
    out = Path(path)
    if out.suffix.lower() not in {".nc", ".zarr"}:
        raise ValueError(f"{out.name!r}: a cube is written to a .nc or .zarr file name")
    if not overwrite and output_exists(out):
        _refuse_existing(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        target = tmp / out.name
        if out.suffix.lower() == ".zarr":
            cube.to_zarr(target, mode="w", zarr_format=2, consolidated=True)
        else:
            cube.to_netcdf(target)
        if out.is_dir() and not out.is_symlink():
            shutil.rmtree(out)
        elif out.exists() or out.is_symlink():
            out.unlink()
        os.replace(target, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


__all__ = [
    "atomic_write",
    "household_areas",
    "json_default",
    "neutralise_cell",
    "output_exists",
    "spreadsheet_safe",
    "tabular",
    "terminal_safe",
    "write_bytes",
    "write_cube",
    "write_geopackage",
    "write_json",
    "write_parcels",
    "write_table",
    "write_text",
]
