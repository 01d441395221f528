"""Writing results: GeoParquet and GeoPackage of parcels, household tables, manifests.

Every writer goes through :func:`atomic_write`, so a reader never sees half a file: the bytes go
to a temporary file in the same folder, are flushed to disk, then renamed over the target.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from agrilend.errors import OutputExistsError


@contextlib.contextmanager
def atomic_write(path: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it to ``path``.

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
    if path.exists() and not overwrite:
        raise OutputExistsError(
            f"output {str(path)!r} already exists; pass overwrite=True (--overwrite) to replace it",
            path=path,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".tmp-{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        tmp.replace(path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _plain(value: Any) -> Any:
    """Lists, tuples, dicts and arrays become JSON text so every format can hold them."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=json_default)
    return value


def json_default(obj: Any) -> Any:
    """JSON for what ``json`` does not know: numpy scalars, dates, anything else as text."""
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def tabular(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose nested cells (lists, dicts) are JSON strings."""
    out = df.copy()
    for col in out.columns:
        if col == "geometry" or out[col].dtype != object:
            continue
        if out[col].map(lambda v: isinstance(v, list | tuple | dict | np.ndarray)).any():
            out[col] = out[col].map(_plain)
    return out


def _write(path: Path, writer: Callable[[Path], object], *, overwrite: bool) -> Path:
    with atomic_write(path, overwrite=overwrite) as tmp:
        writer(tmp)
    return path


def write_parcels(parcels: gpd.GeoDataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write parcel estimates as GeoParquet (``.parquet``) or GeoPackage (``.gpkg``)."""
    path = Path(path)
    gdf = gpd.GeoDataFrame(tabular(parcels), geometry="geometry", crs=parcels.crs)
    if path.suffix == ".gpkg":
        return _write(
            path, lambda p: gdf.to_file(p, driver="GPKG", layer="parcels"), overwrite=overwrite
        )
    return _write(path, lambda p: gdf.to_parquet(p, index=False), overwrite=overwrite)


def write_table(df: pd.DataFrame, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a table as Parquet (``.parquet``) or UTF-8 CSV (``.csv``)."""
    path = Path(path)
    flat = tabular(df)
    if path.suffix == ".csv":
        return _write(path, lambda p: flat.to_csv(p, index=False), overwrite=overwrite)
    return _write(path, lambda p: flat.to_parquet(p, index=False), overwrite=overwrite)


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
    if out.exists() and not overwrite:
        raise OutputExistsError(
            f"output {str(out)!r} already exists; pass overwrite=True to replace it", path=out
        )
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
    "json_default",
    "tabular",
    "write_cube",
    "write_json",
    "write_parcels",
    "write_table",
]
