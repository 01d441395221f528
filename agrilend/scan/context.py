"""The county context: what a scan learnt, saved for later single-household decisions.

The context folder holds the crop model (saved with :mod:`agrilend.yield_models.persistence`,
no pickle), peer statistics (Parquet; by peer tile too, ``peer_tiles.parquet``), peer curves
(NetCDF), weather normals (Parquet), county yields and metadata (JSON).
:func:`decide_household` decides one household from its own parcels with it, judged against
the peers the scan used for its ground, without scanning the county again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr

from agrilend.errors import ScanError
from agrilend.outputs import atomic_write, write_json, write_table
from agrilend.pipeline import Assessment, CountyContext, assess
from agrilend.scan._flat_forest import fast_crop_model
from agrilend.scan.county_flow import tile_peer_stats
from agrilend.scan.parts import partition, read_window

_MODEL, _PEERS, _CURVES, _NORMALS, _COUNTY, _TILES = (
    "crop_model.zip",
    "peer_stats.parquet",
    "peer_curves.nc",
    "weather_normals.parquet",
    "county.json",
    "peer_tiles.parquet",
)


def save_context(context: CountyContext, out_dir: str | Path) -> Path:
    """Write a county context into the folder ``out_dir`` (each file atomically).

    Examples
    --------
    >>> import tempfile
    >>> from agrilend.assessment import CountyContext
    >>> d = save_context(CountyContext(county_yields={"maize": 7.5}), tempfile.mkdtemp())
    >>> load_context(d).county_yields
    {'maize': 7.5}
    """
    from agrilend.yield_models.persistence import save_model  # noqa: PLC0415

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if context.crop_model is not None:
        with atomic_write(out / _MODEL) as tmp:
            tmp.unlink()
            save_model(context.crop_model, tmp, overwrite=True)
    if context.peer_stats is not None:
        write_table(context.peer_stats.reset_index(), out / _PEERS, overwrite=True)
    if context.peer_tiles is not None:
        write_table(context.peer_tiles, out / _TILES, overwrite=True)
    if context.peer_curves is not None:
        with atomic_write(out / _CURVES) as tmp:
            context.peer_curves.to_netcdf(tmp)
    if context.weather_normals is not None:
        write_table(context.weather_normals.reset_index(), out / _NORMALS, overwrite=True)
    county = {"county_yields": dict(context.county_yields), "meta": dict(context.meta)}
    write_json(county, out / _COUNTY, overwrite=True)
    return out


def load_context(path: str | Path) -> CountyContext:
    """Read a county context written by :func:`save_context` (a scan's ``context/`` folder).

    ``path`` may be the context folder itself or the scan's results folder holding it.

    Raises
    ------
    ScanError
        When the folder holds no county context.
    """
    from agrilend._limits import check_dataset, check_parquet, load_json  # noqa: PLC0415
    from agrilend._paths import local_path  # noqa: PLC0415
    from agrilend.errors import AgrilendError  # noqa: PLC0415
    from agrilend.yield_models.persistence import load_model  # noqa: PLC0415

    d = local_path(path, what="scan context")
    if not (d / _COUNTY).exists() and (d / "context" / _COUNTY).exists():
        d = d / "context"
    if not (d / _COUNTY).exists():
        raise ScanError(
            f"{str(d)!r} holds no county context ({_COUNTY} missing); give the context/ folder "
            "of a finished `agrilend scan`"
        )

    def damaged(why: str) -> ScanError:
        return ScanError(
            f"the county context in {str(d)!r} is damaged: {why}; run the scan again with "
            "--overwrite to rebuild it, or give the context/ folder of another finished scan"
        )

    county = load_json(d / _COUNTY, _COUNTY, error=damaged)
    try:
        ctx = CountyContext(
            county_yields={str(k): float(v) for k, v in county.get("county_yields", {}).items()},
            meta=dict(county.get("meta", {})),
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise damaged(f"{_COUNTY} does not hold county yields and meta ({exc})") from None
    if (d / _MODEL).exists():
        ctx.crop_model = load_model(d / _MODEL)
    try:
        if (d / _PEERS).exists():
            check_parquet(d / _PEERS, _PEERS)
            peers = pd.read_parquet(d / _PEERS)
            ctx.peer_stats = peers.set_index(peers.columns[0])
        if (d / _TILES).exists():
            check_parquet(d / _TILES, _TILES)
            ctx.peer_tiles = pd.read_parquet(d / _TILES)
        if (d / _CURVES).exists():
            with xr.open_dataset(d / _CURVES) as ds:
                check_dataset(ds, _CURVES, path=d / _CURVES)
                ctx.peer_curves = ds.load()
        if (d / _NORMALS).exists():
            check_parquet(d / _NORMALS, _NORMALS)
            normals = pd.read_parquet(d / _NORMALS)
            ctx.weather_normals = normals.set_index(normals.columns[0])
    except AgrilendError:
        raise
    except (OSError, ValueError, KeyError, IndexError, TypeError, RuntimeError) as exc:
        raise damaged(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    return ctx


def decide_household(
    cube: xr.Dataset,
    titles: gpd.GeoDataFrame,
    owner_ref: str,
    *,
    context: CountyContext,
    weather: pd.DataFrame | None = None,
    subsidies: pd.DataFrame | None = None,
    policy: Any = None,
    margin_px: int = 2,
) -> Assessment:
    """Decide one household from its own parcels with a scan's county context (no rescan).

    The cube is cut to the household's parcels (plus ``margin_px``) before anything is read;
    a cube opened from a NetCDF file or a Zarr store has that window read directly, without a
    Dask graph (:func:`agrilend.scan.parts.read_window`). The county's weather tables are
    computed once per context and kept in it, and the crop forest predicts in one compiled
    loop (:mod:`agrilend.scan._flat_forest`): the cost is that of a few parcels, about 0.1-0.2 s
    once warm.

    Parameters
    ----------
    cube
        The county's cube (lazy is best: only the household's window is read).
    titles
        Titles holding the household's parcels (others are ignored).
    owner_ref
        The household's pseudonym (``H-...``), or the id of one of its parcels.
    context
        The county context (:func:`load_context`).
    weather, subsidies, policy
        As for :func:`agrilend.pipeline.assess`.

    Raises
    ------
    ScanError
        When no title belongs to ``owner_ref``.
    """
    owners = titles["owner_ref"].astype(str)
    held = owners[titles["parcel_id"].astype(str) == str(owner_ref)]
    if not str(owner_ref).startswith("H-") and len(held):  # a parcel id: its holder's household
        owner_ref = held.iloc[0]
    mine = titles[owners == str(owner_ref)]
    if mine.empty:
        raise ScanError(
            f"no title belongs to household {owner_ref!r}; check the pseudonym (or parcel id) "
            "and the titles file"
        )
    if mine.crs is not None and cube.rio.crs is not None and mine.crs != cube.rio.crs:
        mine = mine.to_crs(cube.rio.crs.to_wkt())
    (chunk,) = partition(
        mine.reset_index(drop=True),
        transform=cube.rio.transform(),
        shape=(cube.sizes["y"], cube.sizes["x"]),
        chunk_size_px=max(cube.sizes["y"], cube.sizes["x"]),
        margin_px=margin_px,
    )
    r0, r1, c0, c1 = chunk.window
    window = read_window(cube, (r0, r1), (c0, c1))  # a small window: no Dask graph
    if window is None:
        window = cube.isel(y=slice(r0, r1), x=slice(c0, c1)).load()
    county = context.copy()  # shares the context's model and cached county tables
    # the peers the scan judged this ground by: its tile's, where the tile had enough
    county.peer_stats = tile_peer_stats(context, chunk.window)
    county.crop_model = fast_crop_model(context.crop_model)  # the same forest, no per-tree calls
    result = assess(
        window,
        mine,
        weather=weather,
        subsidies=subsidies,
        policy=policy,
        county_yields=context.county_yields or None,
        context=county,
    )
    result.context.crop_model = context.crop_model
    return result


__all__ = ["decide_household", "load_context", "save_context"]
