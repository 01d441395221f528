"""Large synthetic counties in seconds: a generated county tiled side by side.

:func:`agrilend.synthetic.generate_county` simulates every pixel-date of every field, which
takes minutes per 10^4 parcels; a county of 10^5 or 10^6 parcels for a scan benchmark is made
instead by laying copies of one generated county ("the base") next to each other on a grid:
the imagery tiled (written as a Zarr store in square blocks, so that a scan really reads and
decompresses it), the titles shifted onto their copy with new unique parcel and household
codes, and the first ``n_parcels`` of them kept (whole copies first, in row-major order). The
base's weather, yields, policy and mapping are shared; its subsidies and truth files are not
carried over (their household codes would no longer match). Same base, same ``n_parcels``:
the same county, byte for byte in its titles and values.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import dask.array as da
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrilend.errors import InputPathError, OutputExistsError, TitlesReadError

#: Files of the base shared as they are by the tiled county (those the base has).
SHARED_FILES = ("weather.csv", "county_yields.csv", "policy.toml", "titles_mapping.toml")


def tile_grid(n_parcels: int, per_tile: int) -> tuple[int, int, int]:
    """``(rows, columns, tiles needed)`` of the near-square grid holding ``n_parcels``.

    Parameters
    ----------
    n_parcels
        Parcels wanted.
    per_tile
        Parcels of one copy of the base.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        ``n_parcels`` or ``per_tile`` below 1.

    Examples
    --------
    >>> tile_grid(10_000, 2_188)
    (2, 3, 5)
    >>> tile_grid(100_000, 2_188)
    (7, 7, 46)
    """
    if n_parcels < 1 or per_tile < 1:
        raise ValueError(f"need at least one parcel and one per tile, got {n_parcels}, {per_tile}")
    tiles = math.ceil(n_parcels / per_tile)
    cols = math.ceil(math.sqrt(tiles))
    return math.ceil(tiles / cols), cols, tiles


def tile_county(
    base: str | Path,
    out_dir: str | Path,
    n_parcels: int,
    *,
    block_px: int = 256,
    parcel_col: str = "DKBM",
    owner_col: str = "CBFBM",
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write a county of ``n_parcels`` parcels made of copies of the county in ``base``.

    Parameters
    ----------
    base
        A folder written by :func:`agrilend.synthetic.generate_county` (``imagery.nc`` and
        ``titles.gpkg``; the files of :data:`SHARED_FILES` it holds are copied).
    out_dir
        Folder to write ``imagery.zarr``, ``titles.gpkg`` and the shared files into.
    n_parcels
        Parcels of the result (copies of the base are added until there are enough).
    block_px
        Side of the Zarr store's spatial blocks (all dates in one block).
    parcel_col, owner_col
        The titles' parcel code and household code columns (given new unique values).
    overwrite
        Replace an existing ``titles.gpkg`` in ``out_dir``.

    Returns
    -------
    dict
        File name to path, for every file written.

    Raises
    ------
    OutputExistsError
        ``out_dir`` holds a ``titles.gpkg`` and ``overwrite`` is false.
    InputPathError
        ``base`` lacks its imagery or titles.
    TitlesReadError
        The titles lack the code columns.

    Examples
    --------
    >>> from agrilend.inputs import InputFiles
    >>> base = InputFiles.sample().titles.parent
    >>> files = tile_county(base, getfixture("tmp_path"), 600)
    >>> sorted(files)[:3]
    ['county_yields.csv', 'imagery.zarr', 'policy.toml']
    >>> len(gpd.read_file(files["titles.gpkg"]))
    600
    """
    base, out = Path(base), Path(out_dir)
    titles_out, imagery_out = out / "titles.gpkg", out / "imagery.zarr"
    if titles_out.exists() and not overwrite:
        raise OutputExistsError(
            f"{str(titles_out)!r} exists; pass overwrite=True or choose another folder",
            path=titles_out,
        )
    for name in ("imagery.nc", "titles.gpkg"):
        if not (base / name).exists():
            raise InputPathError(
                f"base county {str(base)!r} has no {name}; generate it first with "
                "agrilend.synthetic.generate_county",
                path=base / name,
            )
    titles = gpd.read_file(base / "titles.gpkg", layer="titles")
    missing = {parcel_col, owner_col} - set(titles.columns)
    if missing:
        raise TitlesReadError(
            f"titles of {str(base)!r} lack the columns {sorted(missing)}; pass parcel_col and "
            "owner_col naming the parcel and household codes",
            path=base / "titles.gpkg",
        )
    rows, cols, tiles = tile_grid(n_parcels, len(titles))
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    with xr.open_dataset(base / "imagery.nc", decode_coords="all") as raw:
        ny, nx = raw.sizes["y"], raw.sizes["x"]
        step_x = float(raw.x[1] - raw.x[0])
        step_y = float(raw.y[1] - raw.y[0])
        data: dict[str, tuple[tuple[str, ...], da.Array, dict[str, object]]] = {}
        for key, var in raw.data_vars.items():
            name = str(key)
            if var.dims != ("time", "y", "x"):
                continue
            block = da.from_array(var.to_numpy(), chunks=(-1, ny, nx))
            tiled = da.block([[block] * cols for _ in range(rows)])
            data[name] = (
                tuple(str(d) for d in var.dims),
                tiled.rechunk((-1, block_px, block_px)),
                dict(var.attrs),
            )
        crs = raw.rio.crs
        cube = xr.Dataset(
            {name: xr.Variable(dims, arr, attrs) for name, (dims, arr, attrs) in data.items()},
            coords={
                "time": raw["time"].to_numpy(),
                "y": float(raw.y[0]) + step_y * np.arange(ny * rows),
                "x": float(raw.x[0]) + step_x * np.arange(nx * cols),
            },
            attrs=dict(raw.attrs),
        )
        cube = cube.rio.write_crs(crs)
        if imagery_out.exists():
            shutil.rmtree(imagery_out)
        cube.to_zarr(imagery_out, mode="w", zarr_format=2, consolidated=True)
    written["imagery.zarr"] = imagery_out

    pieces = []
    for tile in range(tiles):
        i, j = divmod(tile, cols)
        piece = titles.copy()
        piece["geometry"] = titles.geometry.translate(j * nx * step_x, i * ny * step_y)
        piece[parcel_col] = [f"13{tile:05d}{n:012d}" for n in range(len(titles))]
        piece[owner_col] = [f"13{tile:04d}{str(c)[-12:]:>012}" for c in titles[owner_col]]
        pieces.append(piece)
    county = gpd.GeoDataFrame(
        pd.concat(pieces, ignore_index=True).iloc[:n_parcels], crs=titles.crs, geometry="geometry"
    )
    county.to_file(titles_out, layer="titles", driver="GPKG")
    written["titles.gpkg"] = titles_out
    for name in SHARED_FILES:
        if (base / name).exists():
            shutil.copy(base / name, out / name)
            written[name] = out / name
    return dict(sorted(written.items()))


__all__ = ["SHARED_FILES", "tile_county", "tile_grid"]
