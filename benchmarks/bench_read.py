"""Chunk reading: windows on the storage's block grid against windows cut anywhere.

The base synthetic county of bench_scan (seed 5, 360 x 360 px, 10-day revisit) is tiled
``k x k`` into a Zarr store chunked 256 x 256 px (every date in a chunk), as bench_scan does. The
county is partitioned twice as the scan would: without the storage's blocks (cells of
``--chunk`` px from pixel 0, parcels by centroid: the old partition) and on them
(:func:`agrilend.scan.parts.storage_blocks`: parcels by their top-left cell, margins stopping at
the cell's edge). For each, every chunk's window is read through the scan's own reader
(:class:`agrilend.scan.parts.CubeSource`, in this process) and timed in CPU seconds.

    python benchmarks/bench_read.py                     # k = 3: 1080 x 1080 px, ~20,000 parcels
    python benchmarks/bench_read.py --tiles 2 --work /tmp/bench-read

Prints the load average, per partition: chunks, decoded pixels / needed pixels (a Zarr chunk is
decompressed whole), decoded pixels / county pixels, read CPU per chunk and per parcel, and the
ratio of the two partitions' read CPU in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from shapely import affinity

from agrilend.scan.parts import Chunk, CubeSource, decoded_pixels, partition, storage_blocks

REPO = Path(__file__).resolve().parents[1]
BASE_PX = 360
BLOCK_PX = 256


def base_county(work: Path) -> Path:
    """bench_scan's base tile (same seed and size), generated once."""
    from agrilend.synthetic import generate_county  # noqa: PLC0415

    base = work / "base"
    if not (base / "imagery.nc").exists():
        generate_county(base, seed=5, size_px=(BASE_PX, BASE_PX), revisit_days=10,
                        weather_start="2014-01-01", fine=2, overwrite=True)  # fmt: skip
        shutil.copy(REPO / "sample_data" / "titles_mapping.toml", base / "titles_mapping.toml")
    return base


def tiled(base: Path, k: int, work: Path) -> tuple[Path, gpd.GeoDataFrame]:
    """The base county tiled k x k: a Zarr store in 256 px chunks, and the shifted parcels."""
    store = work / f"tiles{k}" / "imagery.zarr"
    with xr.open_dataset(base / "imagery.nc", decode_coords="all") as opened:
        raw = opened.load()
    step_x, step_y = float(raw.x[1] - raw.x[0]), float(raw.y[1] - raw.y[0])
    nx, ny = raw.sizes["x"], raw.sizes["y"]
    if not store.exists():
        store.parent.mkdir(parents=True, exist_ok=True)
        ds = xr.Dataset(
            {v: (raw[v].dims, np.tile(raw[v].to_numpy(), (1, k, k)))
             for v in raw.data_vars if raw[v].dims == ("time", "y", "x")},
            coords={"time": raw.time, "y": float(raw.y[0]) + step_y * np.arange(ny * k),
                    "x": float(raw.x[0]) + step_x * np.arange(nx * k)},
            attrs=raw.attrs,
        )  # fmt: skip
        for v in ds.data_vars:
            ds[v].attrs = dict(raw[v].attrs)
        ds = ds.rio.write_crs(raw.rio.crs).chunk({"time": -1, "y": BLOCK_PX, "x": BLOCK_PX})
        ds.to_zarr(store, mode="w")
    t = gpd.read_file(base / "titles.gpkg")
    pieces = []
    for i in range(k):
        for j in range(k):
            p = t[["geometry"]].copy()
            p["geometry"] = p.geometry.map(
                lambda g, i=i, j=j: affinity.translate(g, j * nx * step_x, i * ny * step_y)
            )
            pieces.append(p)
    titles = gpd.GeoDataFrame(pd.concat(pieces, ignore_index=True), crs=t.crs)
    return store, titles


def read_all(source: CubeSource, chunks: list[Chunk]) -> list[float]:
    """CPU seconds of this process to read each chunk's window."""
    out = []
    for c in chunks:
        r0, r1, c0, c1 = c.window
        t0 = time.process_time()
        window = source.window((r0, r1), (c0, c1))
        out.append(time.process_time() - t0)
        del window
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-read"))
    ap.add_argument("--tiles", type=int, default=3, help="the base county tiled k x k")
    ap.add_argument("--chunk", type=int, default=256, help="chunk side in pixels (the scan's)")
    ap.add_argument("--repeat", type=int, default=2, help="reads of each partition (best counts)")
    args = ap.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}, {os.cpu_count()} CPUs (shared machine: read the CPU ratios)")
    store, titles = tiled(base_county(args.work), args.tiles, args.work)
    block = storage_blocks(store)
    with xr.open_zarr(store, decode_coords="all") as ds:
        transform, shape = ds.rio.transform(), (ds.sizes["y"], ds.sizes["x"])
        n_dates = ds.sizes["time"]
    print(f"county: {shape[0]} x {shape[1]} px, {n_dates} dates, {len(titles)} parcels; "
          f"Zarr blocks {block} px (every date in a block); chunks of {args.chunk} px")  # fmt: skip
    plans = {
        "unaligned (centroid cells)": partition(titles, transform=transform, shape=shape,
                                                chunk_size_px=args.chunk),
        "aligned (storage blocks)": partition(titles, transform=transform, shape=shape,
                                              chunk_size_px=args.chunk, block=block),
    }  # fmt: skip
    source = CubeSource(str(store.resolve()))
    first = next(iter(plans.values()))[0].window
    source.window(first[:2], first[2:])  # open the store once, as a worker does
    cpu: dict[str, float] = {}
    for name, chunks in plans.items():
        decoded, needed = decoded_pixels(chunks, block, shape)
        best = min(sum(read_all(source, chunks)) for _ in range(args.repeat))
        cpu[name] = best
        print(f"  {name}: {len(chunks)} chunks; decoded/needed pixels {decoded / needed:.2f}, "
              f"decoded/county pixels {decoded / (shape[0] * shape[1]):.2f}; read CPU "
              f"{best:.2f} s, {1000 * best / len(chunks):.0f} ms per chunk, "
              f"{1e6 * best / len(titles):.0f} us per parcel")  # fmt: skip
    old, new = cpu.values()
    print(f"aligned windows read with {old / new:.2f}x less CPU than unaligned ones (same run)")
    split(store, plans["aligned (storage blocks)"])
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


def split(store: Path, chunks: list[Chunk], runs: int = 5) -> None:
    """One interior window's read in two parts (CPU, best of ``runs``): decoding its Zarr
    blocks, and harmonising the loaded window into a cube, with and without a second value
    check (the scan's reader skips it: the county was checked when opened)."""
    from agrilend.remote_sensing import open_cube  # noqa: PLC0415

    c = max(chunks, key=lambda ch: (ch.window[1] - ch.window[0]) * (ch.window[3] - ch.window[2]))
    r0, r1, c0, c1 = c.window
    raw = xr.open_zarr(store, chunks=None, decode_coords="all")

    def best(fn: Callable[[], object]) -> float:
        times = []
        for _ in range(runs):
            t0 = time.process_time()
            fn()
            times.append(time.process_time() - t0)
        return min(times)

    part = raw.isel(y=slice(r0, r1), x=slice(c0, c1)).load()
    part.attrs = {**part.attrs, "source": str(store)}
    decode = best(lambda: raw.isel(y=slice(r0, r1), x=slice(c0, c1)).load())
    checked = best(lambda: open_cube(part))
    unchecked = best(lambda: open_cube(part, check_values=False))
    print(f"one {r1 - r0} x {c1 - c0} px window: decode {1000 * decode:.0f} ms, harmonise "
          f"{1000 * unchecked:.0f} ms ({1000 * checked:.0f} ms with a second value "
          "check)")  # fmt: skip


if __name__ == "__main__":
    main()
