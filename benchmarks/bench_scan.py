"""County scan benchmark: parcels/s, peak memory per worker, imagery reading vs our work, and
the latency of one household decided from a saved county context.

A base synthetic county (``agrilend.synthetic``, 360 x 360 px, 10-day revisit, about 2,200
parcels) is tiled ``k x k`` times into a larger county: the imagery as a Zarr store chunked
256 x 256 px (so reading and decoding are real disk reads and decompression), the titles
shifted with new unique parcel and household codes. Each size is scanned once on a Dask
LocalCluster. The county step trains the real crop model out of fold (``--model full``, the
default: at most ``assess.CROP_TRAINING_CAP`` declarations, a stratified sample above it) or
applies a light one from a saved context (``--model light``, to time the machinery alone).

Run once, by hand, on a machine nobody else is using (about half an hour for 10^5 parcels):

    python benchmarks/bench_scan.py --work /tmp/bench-scan --tiles 1 3 7 --workers 2
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr
from shapely import affinity

from agrilend.inputs import InputFiles, load_inputs
from agrilend.scan import decide_household, load_context, scan

REPO = Path(__file__).resolve().parents[1]
BASE_PX = 360


def base_county(work: Path) -> Path:
    """Generate (once) the base county tile."""
    from agrilend.synthetic import generate_county  # noqa: PLC0415

    base = work / "base"
    if not (base / "imagery.nc").exists():
        generate_county(
            base, seed=5, size_px=(BASE_PX, BASE_PX), revisit_days=10,
            weather_start="2014-01-01", fine=2, overwrite=True,
        )  # fmt: skip
        for name in ("titles_mapping.toml", "policy.toml"):
            shutil.copy(REPO / "sample_data" / name, base / name)
    return base


def tiled_county(base: Path, k: int, work: Path) -> InputFiles:
    """The base county tiled k x k: Zarr imagery (256 px chunks) and shifted titles."""
    folder = work / f"tiles{k}"
    imagery, titles_path = folder / "imagery.zarr", folder / "titles.gpkg"
    if not titles_path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with xr.open_dataset(base / "imagery.nc", decode_coords="all") as opened:
            raw = opened.load()
        step_x = float(raw.x[1] - raw.x[0])
        step_y = float(raw.y[1] - raw.y[0])
        nx, ny = raw.sizes["x"], raw.sizes["y"]
        tiled = {
            v: (raw[v].dims, np.tile(raw[v].to_numpy(), (1, k, k)))
            for v in raw.data_vars
            if raw[v].dims == ("time", "y", "x")
        }
        ds = xr.Dataset(
            tiled,
            coords={
                "time": raw.time,
                "y": float(raw.y[0]) + step_y * np.arange(ny * k),
                "x": float(raw.x[0]) + step_x * np.arange(nx * k),
            },
            attrs=raw.attrs,
        )
        for v in ds.data_vars:
            ds[v].attrs = dict(raw[v].attrs)
        ds = ds.rio.write_crs(raw.rio.crs).chunk({"time": -1, "y": 256, "x": 256})
        ds.to_zarr(imagery, mode="w")
        t = gpd.read_file(base / "titles.gpkg")
        pieces = []
        for i in range(k):
            for j in range(k):
                tile = i * k + j
                p = t.copy()
                p["geometry"] = p.geometry.map(
                    lambda g, i=i, j=j: affinity.translate(g, j * nx * step_x, i * ny * step_y)
                )
                p["DKBM"] = [f"13{tile:05d}{n:012d}" for n in range(len(p))]
                p["CBFBM"] = [f"13{tile:04d}{c[-12:]}" for c in p["CBFBM"].astype(str)]
                pieces.append(p)
        gpd.GeoDataFrame(
            gpd.pd.concat(pieces, ignore_index=True), crs=t.crs, geometry="geometry"
        ).to_file(titles_path, layer="titles", driver="GPKG")
    return InputFiles(
        titles=titles_path,
        imagery=imagery,
        weather=base / "weather.csv",
        policy=base / "policy.toml",
        county_yields=base / "county_yields.csv",
        titles_mapping=base / "titles_mapping.toml",
    )


def light_context(files: InputFiles, work: Path) -> Path:
    """A saved context with a small crop forest (the county step's model, cheap to apply)."""
    folder = work / "ctx"
    if not (folder / "county.json").exists():
        import sys  # noqa: PLC0415

        sys.path.insert(0, str(REPO))
        from tests._scan_county import make_light_context  # noqa: PLC0415

        make_light_context(files, folder)
    return folder


def _worker_peak_mb() -> float:
    """Peak resident memory of this process (VmHWM: its own, unlike ru_maxrss, which a
    spawned worker inherits from the parent that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(k: int, work: Path, *, workers: int, chunk: int, model: str) -> dict[str, Any]:
    from dask.distributed import Client, LocalCluster  # noqa: PLC0415

    base = base_county(work)
    files = tiled_county(base, k, work)
    ctx = light_context(tiled_county(base, 1, work), work) if model == "light" else None
    out = work / f"out{k}"
    shutil.rmtree(out, ignore_errors=True)
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        t0 = time.perf_counter()
        result = scan(
            files, out, chunk_size_px=chunk, scheduler=cluster.scheduler_address,
            context=load_context(ctx) if ctx is not None else None,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        peaks = client.run(_worker_peak_mb)
    n = int(result.summary["parcels"])
    tm = result.timings
    inputs = load_inputs(files, chunks={})
    context = load_context(out)
    lat = household_latency(inputs, context, 5)
    return {
        "parcels": n,
        "model": model,
        "chunks": result.chunks,
        "workers": workers,
        "wall_s": round(wall, 1),
        "parcels_per_s": round(n / wall, 1),
        "chunk_phase_s": round(tm["chunks"], 1),
        "chunk_parcels_per_s": round(n / tm["chunks"], 1),
        "read_decode_cpu_s": round(tm["read"], 1),
        "our_chunk_work_cpu_s": round(tm["work"], 1),
        "work_over_read": round(tm["work"] / tm["read"], 2) if tm["read"] else None,
        "county_step_s": round(tm["county"], 1),
        "write_s": round(tm["write"], 1),
        "worker_rss_mb_with_chunk": round(tm.get("worker_rss_mb", float("nan")), 0),
        "worker_maxrss_mb": round(max(peaks.values()), 0),
        "client_maxrss_mb": round(_worker_peak_mb(), 0),
        "household_latency_s_median": round(statistics.median(lat), 2),
        "household_latency_s_max": round(max(lat), 2),
    }


def household_latency(inputs: Any, context: Any, n: int) -> list[float]:
    """Seconds to decide each of ``n`` random households from the saved context (cube open)."""
    owners = inputs.titles["owner_ref"].drop_duplicates().sample(n, random_state=0)
    lat = []
    for owner in owners:
        t1 = time.perf_counter()
        decide_household(
            inputs.cube, inputs.titles, str(owner), context=context, weather=inputs.weather,
            policy=inputs.policy,
        )  # fmt: skip
        lat.append(time.perf_counter() - t1)
    return lat


def latency_only(k: int, work: Path, n: int) -> dict[str, Any]:
    """Household latency on an already scanned county (run it on an idle machine)."""
    files = tiled_county(base_county(work), k, work)
    t0 = time.perf_counter()
    inputs = load_inputs(files, chunks={})
    context = load_context(work / f"out{k}")
    opened = time.perf_counter() - t0
    household_latency(inputs, context, 1)  # warm: numba caches, first imports
    lat = sorted(household_latency(inputs, context, n))
    return {
        "parcels": len(inputs.titles),
        "households": n,
        "open_inputs_and_context_s": round(opened, 2),
        "latency_s_median": round(statistics.median(lat), 2),
        "latency_s_p90": round(lat[int(0.9 * (len(lat) - 1))], 2),
        "latency_s_max": round(lat[-1], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-scan"))
    ap.add_argument("--tiles", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument(
        "--model", choices=("full", "light"), default="full",
        help="county step: train the real crop model, or apply a light saved one",
    )  # fmt: skip
    ap.add_argument(
        "--latency-only", type=int, default=0, metavar="N",
        help="only time N households on the last --tiles county already scanned",
    )  # fmt: skip
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    if a.latency_only:
        print(json.dumps(latency_only(a.tiles[-1], a.work, a.latency_only)), flush=True)
        return
    rows = []
    for k in a.tiles:
        row = run(k, a.work, workers=a.workers, chunk=a.chunk, model=a.model)
        print(json.dumps(row), flush=True)
        rows.append(row)
    if len(rows) >= 2:
        small, big = rows[0], rows[-1]
        print(
            f"parcels x{big['parcels'] / small['parcels']:.1f}: worker peak RSS "
            f"{small['worker_rss_mb_with_chunk']:.0f} -> {big['worker_rss_mb_with_chunk']:.0f} MB, "
            f"chunk-phase parcels/s {small['chunk_parcels_per_s']} -> "
            f"{big['chunk_parcels_per_s']}"
        )


if __name__ == "__main__":
    main()
