"""The county context: what a scan learnt, saved for later single-household decisions.

The context folder holds the crop model (saved with :mod:`agrilend.yield_models.persistence`,
no pickle), peer statistics (Parquet; by peer tile too, ``peer_tiles.parquet``, with each
parcel's tile in ``parcel_tiles.parquet``), peer curves (NetCDF), weather normals (Parquet),
county yields and metadata (JSON). :func:`decide_household` decides one household from its own
parcels with it, each parcel judged against the peers the scan judged it by, without scanning
the county again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from agrilend.errors import ScanError
from agrilend.outputs import atomic_write, write_json, write_table
from agrilend.pipeline import Assessment, CountyContext
from agrilend.scan._flat_forest import fast_crop_model
from agrilend.scan.county import ModelOnWorkers, SavedModel, save_crop_model
from agrilend.scan.county_flow import peers_of_tile, tile_key
from agrilend.scan.parts import partition, read_window

_MODEL, _PEERS, _CURVES, _NORMALS, _COUNTY, _TILES, _PARCEL_TILES = (
    "crop_model.zip",
    "peer_stats.parquet",
    "peer_curves.nc",
    "weather_normals.parquet",
    "county.json",
    "peer_tiles.parquet",
    "parcel_tiles.parquet",
)
#: Rows per row group of ``parcel_tiles.parquet`` (sorted by parcel id: a lookup reads only
#: the groups whose id range holds the ids asked for).
PARCEL_TILES_GROUP = 20_000


@dataclass(frozen=True)
class ParcelTiles:
    """Each parcel's peer tile in a county scan, read on demand from ``parcel_tiles.parquet``
    (``parcel_id``, ``tile_row``, ``tile_col``; sorted by parcel id).

    A parcel's tile is that of its chunk's window (:func:`agrilend.scan.county_flow.tile_key`),
    as the scan judged it: it depends on the chunk's other parcels, so it is kept, not
    recomputed from the parcel's outline.
    """

    path: Path
    tile_px: int

    def of(self, parcel_ids: Iterable[Any]) -> dict[str, tuple[int, int]]:
        """``{parcel id: (tile row, tile column)}`` of those of ``parcel_ids`` the scan saw.

        Examples
        --------
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp())
        >>> _ = pd.DataFrame({"parcel_id": ["a", "b"], "tile_row": [0, 1],
        ...                   "tile_col": [2, 3]}).to_parquet(d / "t.parquet")
        >>> ParcelTiles(d / "t.parquet", 1024).of(["b", "zz"])
        {'b': (1, 3)}
        """
        import pyarrow.parquet as pq  # noqa: PLC0415

        wanted = sorted({str(p) for p in parcel_ids})
        if not wanted:
            return {}
        table = pq.read_table(self.path, filters=[("parcel_id", "in", wanted)])
        return {
            str(p): (int(r), int(c))
            for p, r, c in zip(table.column("parcel_id").to_pylist(),
                               table.column("tile_row").to_pylist(),
                               table.column("tile_col").to_pylist(), strict=True)
        }  # fmt: skip


def parcel_tile_table(scan_dir: str | Path, tile_px: int) -> Any:
    """Each parcel's peer tile from a scan's own files: its plan (``scan.json``: the chunks'
    windows) and its parcels dataset (``parcels.parquet/<chunk>.parquet``: the chunk's parcel
    ids), as an Arrow table (``parcel_id`` text, ``tile_row``, ``tile_col``) sorted by parcel
    id (Arrow text, not Python strings: about a tenth of the memory at 10^5 parcels)."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    root = Path(scan_dir)
    plan = json.loads((root / "scan.json").read_text(encoding="utf-8"))
    tables = []
    for chunk in plan.get("chunks", []):
        part = root / "parcels.parquet" / f"{chunk['id']}.parquet"
        if not part.exists():
            continue
        pid = pq.read_table(part, columns=["parcel_id"]).column("parcel_id").combine_chunks()
        if not (pa.types.is_string(pid.type) or pa.types.is_large_string(pid.type)):
            pid = pa.array(pid.to_numpy(zero_copy_only=False).astype(str), type=pa.string())
        r, c = tile_key(tuple(int(x) for x in chunk["window"]), tile_px)  # type: ignore[arg-type]
        n = len(pid)
        tables.append(pa.table({
            "parcel_id": pid.cast(pa.string()),
            "tile_row": pa.array(np.full(n, r, dtype=np.int32)),
            "tile_col": pa.array(np.full(n, c, dtype=np.int32)),
        }))  # fmt: skip
    if not tables:
        return pa.table({"parcel_id": pa.array([], pa.string()),
                         "tile_row": pa.array([], pa.int32()),
                         "tile_col": pa.array([], pa.int32())})  # fmt: skip
    return pa.concat_tables(tables).sort_by("parcel_id")


def _scan_dir(out: Path) -> Path | None:
    """The scan results folder holding the context folder ``out``, if it is one."""
    parent = out.resolve().parent
    if (parent / "scan.json").is_file() and (parent / "parcels.parquet").is_dir():
        return parent
    return None


def _save_parcel_tiles(context: CountyContext, out: Path, scan_dir: Path | None) -> None:
    """``parcel_tiles.parquet``: from the scan's files when the context is a tiled scan's,
    else copied from the context it was loaded from; removed when there are no tiles."""
    target = out / _PARCEL_TILES
    tiles = context.peer_tiles
    if tiles is None or not len(tiles):
        target.unlink(missing_ok=True)
        return
    tile_px = int(tiles["tile_px"].iloc[0])
    if scan_dir is not None and (scan_dir / "scan.json").is_file():
        import pyarrow.parquet as pq  # noqa: PLC0415

        table = parcel_tile_table(scan_dir, tile_px)
        with atomic_write(target) as tmp:
            pq.write_table(table, tmp, row_group_size=PARCEL_TILES_GROUP)
    elif (
        isinstance(context.parcel_tiles, ParcelTiles)
        and context.parcel_tiles.path.exists()
        and context.parcel_tiles.path.resolve() != target.resolve()
    ):
        with atomic_write(target) as tmp:
            shutil.copyfile(context.parcel_tiles.path, tmp)


def model_file(folder: str | Path) -> Path:
    """Where :func:`save_context` writes a context's crop model in ``folder``."""
    return Path(folder) / _MODEL


def save_context(
    context: CountyContext, out_dir: str | Path, *, scan_dir: str | Path | None = None
) -> Path:
    """Write a county context into the folder ``out_dir`` (each file atomically).

    With peers by tiles, each parcel's tile is saved too (``parcel_tiles.parquet``), read from
    the scan's files in ``scan_dir`` (default: the folder holding ``out_dir`` when it is a
    scan's results folder, as a scan's ``context/`` is).

    Examples
    --------
    >>> import tempfile
    >>> from agrilend.assessment import CountyContext
    >>> d = save_context(CountyContext(county_yields={"maize": 7.5}), tempfile.mkdtemp())
    >>> load_context(d).county_yields
    {'maize': 7.5}
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, target = context.crop_model, model_file(out)
    if isinstance(model, ModelOnWorkers):  # the worker that grew it writes it
        model.save(target)
    elif isinstance(model, SavedModel):  # written already: in place (a scan's worker), or copied
        if Path(model.path).resolve() != target.resolve():
            with atomic_write(target) as tmp:
                shutil.copyfile(model.path, tmp)
    elif model is not None:
        save_crop_model(model, str(target), {})
    if context.peer_stats is not None:
        write_table(context.peer_stats.reset_index(), out / _PEERS, overwrite=True)
    if context.peer_tiles is not None:
        write_table(context.peer_tiles, out / _TILES, overwrite=True)
    if context.peer_curves is not None:
        with atomic_write(out / _CURVES) as tmp:
            context.peer_curves.to_netcdf(tmp)
    if context.weather_normals is not None:
        write_table(context.weather_normals.reset_index(), out / _NORMALS, overwrite=True)
    _save_parcel_tiles(context, out, Path(scan_dir) if scan_dir is not None else _scan_dir(out))
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
            if (d / _PARCEL_TILES).exists() and len(ctx.peer_tiles):
                check_parquet(d / _PARCEL_TILES, _PARCEL_TILES)
                ctx.parcel_tiles = ParcelTiles(d / _PARCEL_TILES,
                                               int(ctx.peer_tiles["tile_px"].iloc[0]))  # fmt: skip
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

    Each parcel's vigour is judged against the peers of its own peer tile, the tile of the
    window of the chunk the scan put it in (kept in the context, :class:`ParcelTiles`), as the
    scan judged it: a household whose parcels lie in tiles with different peers is decided
    once per such tile, each parcel's rows taken from its tile's, and sized once from them. A
    parcel the context has no tile for (titles changed since the scan, or a context without
    them) takes the tile of the household's window.

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
    from agrilend.parcels.extent import require_overlap  # noqa: PLC0415
    from agrilend.pipeline import decide, gather_evidence  # noqa: PLC0415
    from agrilend.remote_sensing.contract import validate_cube  # noqa: PLC0415

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
    county.crop_model = fast_crop_model(context.crop_model)  # the same forest, no per-tree calls
    groups = _peer_groups(context, mine["parcel_id"].astype(str).tolist(), chunk.window)
    require_overlap(mine, validate_cube(window))  # before any model: a wrong CRS is named
    evidence = gather_evidence(window, mine)
    kw: dict[str, Any] = {"weather": weather, "subsidies": subsidies, "policy": policy,
                          "county_yields": context.county_yields or None}  # fmt: skip

    def judged_by(key: tuple[int, int] | None) -> CountyContext:
        c = county.copy()
        c.peer_stats = peers_of_tile(context, key)  # the tile's peers, the county's for others
        return c

    keys = list(groups)
    first = decide(evidence, context=judged_by(keys[0]), **kw)
    result = first if len(keys) == 1 else _by_tiles(evidence, first, groups, judged_by, kw)
    if "source" in window.attrs:
        result.provenance["imagery"]["source"] = str(window.attrs["source"]).rsplit("/", 1)[-1]
    result.context.crop_model = context.crop_model
    return result


def _peer_groups(
    context: CountyContext, parcel_ids: list[str], window: tuple[int, int, int, int]
) -> dict[tuple[int, int] | None, list[str]]:
    """The household's parcels by the peer tile that judges them: ``{tile key: parcel ids}``,
    None for the county's peers (no tiles, or a tile that judged no crop by its own parcels);
    the tile of the household's ``window`` for a parcel the context has no tile for."""
    tiles = context.peer_tiles
    if tiles is None or context.peer_stats is None or not len(tiles):
        return {None: parcel_ids}
    tile_px = int(tiles["tile_px"].iloc[0])
    known = context.parcel_tiles.of(parcel_ids) if context.parcel_tiles is not None else {}
    own = set(zip(tiles["tile_row"].astype(int), tiles["tile_col"].astype(int), strict=True))
    fallback = tile_key(window, tile_px)
    groups: dict[tuple[int, int] | None, list[str]] = {}
    for pid in parcel_ids:
        key: tuple[int, int] | None = known.get(pid, fallback)
        groups.setdefault(key if key in own else None, []).append(pid)
    return groups


#: What a parcel's decision takes from the crop step (the same whichever tile judges it).
_CROP_COLUMNS = ("crop", "crop_confidence", "p_declared", "mismatch_score", "crop_mismatch")


def _by_tiles(
    evidence: Any,
    first: Assessment,
    groups: dict[tuple[int, int] | None, list[str]],
    judged_by: Any,
    kw: dict[str, Any],
) -> Assessment:
    """The household decided with each parcel judged by its own tile's peers: once per tile
    (the crops of the first run reused), each parcel's rows from its tile's run, the household
    sized once from them (by the last run, through its ``sizer``)."""
    from agrilend.credit import size_households  # noqa: PLC0415
    from agrilend.pipeline import decide_with_crops  # noqa: PLC0415

    usable = (evidence.parcels["status"] != "error").to_numpy()
    ids = evidence.parcels["parcel_id"].astype(str).to_numpy()
    firsts = first.parcels.set_index(first.parcels["parcel_id"].astype(str))
    crops = firsts.loc[ids[usable], list(_CROP_COLUMNS)]
    crops.index.name = "parcel_id"
    keys = list(groups)
    runs = {keys[0]: first.parcels}
    for key in keys[1:-1]:
        runs[key] = decide_with_crops(evidence, crops, context=judged_by(key), **kw).parcels
    merged: dict[str, Any] = {}

    def sizer(frame: Any, policy: Any, **sizing: Any) -> pd.DataFrame:
        out = frame.copy()
        pid = out["parcel_id"].astype(str)
        for key, rows in runs.items():  # each parcel's rows from the run of its own tile
            other = rows.set_index(rows["parcel_id"].astype(str))
            take = pid.isin(groups[key]).to_numpy()
            for col in out.columns:
                if col != out.geometry.name and col in other.columns:
                    out.loc[take, col] = other.loc[pid[take], col].to_numpy()
        merged["parcels"] = out
        return size_households(out, policy, **sizing)

    last = decide_with_crops(evidence, crops, context=judged_by(keys[-1]), sizer=sizer, **kw)
    last.parcels = merged["parcels"]
    return last


__all__ = ["decide_household", "load_context", "model_file", "save_context"]
