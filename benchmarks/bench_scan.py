"""County scan benchmark: parcels/s, peak memory per worker, imagery reading vs our work, and
the latency of one household decided from a saved county context.

A base synthetic county (``agrilend.synthetic``, 360 x 360 px, 10-day revisit, about 2,200
parcels) is tiled ``k x k`` times into a larger county: the imagery as a Zarr store chunked
256 x 256 px (so reading and decoding are real disk reads and decompression), the titles
shifted with new unique parcel and household codes. Each size is scanned once, in a fresh
process (so its peak memory is the client's), on a Dask LocalCluster or (``--distributed``) on
``dask scheduler`` and ``dask worker`` processes started apart, as on a cluster. CPU time is
measured per process: each worker's (``client.run``), the client's, the scheduler's; reading
and our chunk work as the workers' CPU time per chunk. The county step trains the real crop
model out of fold (``--model full``, the default: at most ``pipeline.CROP_TRAINING_CAP``
declarations, a stratified sample above it, the other parcels predicted on the workers) or
applies a light one from a saved context (``--model light``, to time the machinery alone).

Run once, by hand (about half an hour for 10^5 parcels on an idle machine; the load average
is printed, and CPU figures are the steadier ones on a shared machine):

    python benchmarks/bench_scan.py --work /tmp/bench-scan --tiles 2 7 --workers 2
    python benchmarks/bench_scan.py --work /tmp/bench-scan --tiles 2 --distributed
    python benchmarks/bench_scan.py --work /tmp/bench-scan --tiles 7 --latency-only 20
    AGRILEND_WORKER_MALLOC_TRIM=dask python benchmarks/bench_scan.py --tiles 2  # Dask's 65536
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import psutil
import xarray as xr
from shapely import affinity

from agrilend.inputs import InputFiles, load_inputs
from agrilend.scan import decide_household, load_context, scan
from agrilend.scan.runner import MALLOC_ENV, worker_environ

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


def _peak_mb() -> float:
    """Peak resident memory of this process (VmHWM: its own, unlike ru_maxrss, which a
    spawned worker inherits from the parent that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _proc_stats() -> dict[str, float]:
    """CPU seconds (user + system, all threads), minor page faults and peak RSS of this
    process: run in each worker with ``client.run``."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu": ru.ru_utime + ru.ru_stime, "minflt": float(ru.ru_minflt), "peak_mb": _peak_mb()}


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


class _Cluster:
    """A Dask cluster for one scan: a LocalCluster (worker environment as the scan's own
    LocalCluster sets it), or ``dask scheduler`` and ``dask worker`` started as separate
    processes, as on a real cluster."""

    def __init__(self, workers: int, *, distributed: bool, work: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.cluster: Any = None
        self.scheduler_pid: int | None = None
        if not distributed:
            import dask  # noqa: PLC0415
            from dask.distributed import LocalCluster  # noqa: PLC0415

            with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}):
                self.cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    dashboard_address=None,
                )  # fmt: skip
            self.address = self.cluster.scheduler_address
            return
        info = work / "scheduler.json"
        info.unlink(missing_ok=True)
        env = dict(os.environ)
        dask_cli = str(Path(sys.executable).with_name("dask"))
        self.procs.append(subprocess.Popen(
            [dask_cli, "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file",
             str(info)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        self.scheduler_pid = self.procs[0].pid
        for _ in range(600):
            if info.exists() and info.stat().st_size:
                break
            time.sleep(0.1)
        self.address = json.loads(info.read_text())["address"]
        for _ in range(workers):
            # --no-nanny: the worker is this process, with the shell's environment (no
            # MALLOC_TRIM_THRESHOLD_ from the nanny's pre-spawn environment)
            self.procs.append(subprocess.Popen(
                [dask_cli, "worker", self.address, "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--memory-limit", "0"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def one_scan(k: int, work: Path, *, workers: int, chunk: int, model: str,
             distributed: bool) -> dict[str, Any]:  # fmt: skip
    """Scan the k x k county once in this (fresh) process and measure it."""
    from dask.distributed import Client  # noqa: PLC0415

    files = tiled_county(base_county(work), k, work)
    ctx = (
        light_context(tiled_county(base_county(work), 1, work), work) if model == "light" else None
    )
    out = work / f"out{k}"
    shutil.rmtree(out, ignore_errors=True)
    load_before = os.getloadavg()
    cluster = _Cluster(workers, distributed=distributed, work=work)
    try:
        with Client(cluster.address) as client:
            client.wait_for_workers(workers, timeout=300)
            before = client.run(_proc_stats)
            sched0 = _sched_cpu(cluster)
            c0 = _proc_stats()["cpu"]
            t0 = time.perf_counter()
            result = scan(
                files, out, chunk_size_px=chunk, scheduler=cluster.address,
                context=load_context(ctx) if ctx is not None else None,
            )  # fmt: skip
            wall = time.perf_counter() - t0
            client_cpu = _proc_stats()["cpu"] - c0
            after = client.run(_proc_stats)
            sched1 = _sched_cpu(cluster)
            sched_cpu = None if sched0 is None or sched1 is None else sched1 - sched0
    finally:
        cluster.close()
    n = int(result.summary["parcels"])
    tm = result.timings
    worker_cpu = sum(after[w]["cpu"] - before[w]["cpu"] for w in after)
    chunk_cpu = tm.get("read_cpu", 0.0) + tm.get("work_cpu", 0.0)
    serial = tm["county"] - tm.get("county_crops", 0.0) + tm["write"]
    return {
        "parcels": n,
        "model": model,
        "cluster": "dask scheduler + dask worker processes" if distributed else "LocalCluster",
        "malloc_trim": os.environ.get(MALLOC_ENV, "unset"),
        "chunks": result.chunks,
        "workers": workers,
        "load_before": [round(x, 1) for x in load_before],
        "load_after": [round(x, 1) for x in os.getloadavg()],
        "wall_s": round(wall, 1),
        "chunk_phase_s": round(tm["chunks"], 1),
        "county_crops_s": round(tm.get("county_crops", 0.0), 1),
        "county_step_s": round(tm["county"], 1),
        "write_s": round(tm["write"], 1),
        "county_and_write_share": round((tm["county"] + tm["write"]) / wall, 3),
        "client_serial_share": round(serial / wall, 3),
        "read_cpu_s": round(tm.get("read_cpu", 0.0), 1),
        "chunk_work_cpu_s": round(tm.get("work_cpu", 0.0), 1),
        "work_over_read_cpu": round(tm["work_cpu"] / tm["read_cpu"], 2)
        if tm.get("read_cpu")
        else None,
        "read_wall_s": round(tm["read"], 1),
        "work_wall_s": round(tm["work"], 1),
        "worker_cpu_s": round(worker_cpu, 1),
        "worker_county_cpu_s": round(worker_cpu - chunk_cpu, 1),
        "worker_minor_faults_M": round(
            sum(after[w]["minflt"] - before[w]["minflt"] for w in after) / 1e6, 2
        ),
        "client_cpu_s": round(client_cpu, 1),
        "scheduler_process_cpu_s": None if sched_cpu is None else round(sched_cpu, 1),
        "chunk_cpu_ms_per_parcel": round(chunk_cpu / n * 1e3, 3),
        "worker_county_cpu_ms_per_parcel": round((worker_cpu - chunk_cpu) / n * 1e3, 3),
        "client_cpu_ms_per_parcel": round(client_cpu / n * 1e3, 3),
        "worker_rss_mb_with_chunk": round(tm.get("worker_rss_mb", float("nan")), 0),
        "worker_peak_mb": round(max(a["peak_mb"] for a in after.values()), 0),
        "client_peak_mb": round(_peak_mb(), 0),
        "outputs_mb": {
            name: round(_size_mb(out / name), 1)
            for name in (
                "parcels.parquet",
                "parcels.gpkg",
                "households.parquet",
                "context",
                "parts",
            )
        },
    }


def _sched_cpu(cluster: _Cluster) -> float | None:
    if cluster.scheduler_pid is None:
        return None
    t = psutil.Process(cluster.scheduler_pid).cpu_times()
    return float(t.user + t.system)


def run(k: int, work: Path, *, workers: int, chunk: int, model: str,
        distributed: bool) -> dict[str, Any]:  # fmt: skip
    """Prepare the county here, scan it in a fresh process (its memory is the client's)."""
    tiled_county(base_county(work), k, work)
    if model == "light":
        light_context(tiled_county(base_county(work), 1, work), work)
    cmd = [sys.executable, __file__, "--work", str(work), "--one", str(k), "--workers",
           str(workers), "--chunk", str(chunk), "--model", model]  # fmt: skip
    if distributed:
        cmd.append("--distributed")
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def project(small: dict[str, Any], big: dict[str, Any], n: int = 10**6) -> list[str]:
    """A county of ``n`` parcels on paper, from two measured runs."""
    ns, nb = small["parcels"], big["parcels"]
    slope = (big["client_peak_mb"] - small["client_peak_mb"]) / (nb - ns)
    client_mb = big["client_peak_mb"] + slope * (n - nb)
    chunk_cpu = big["chunk_cpu_ms_per_parcel"] * n / 1e3
    wcounty = big["worker_county_cpu_ms_per_parcel"] * n / 1e3
    serial_wall = (big["county_step_s"] - big["county_crops_s"] + big["write_s"]) / nb * n
    lines = [
        f"{n:,} parcels on paper, from {ns:,} and {nb:,} (36 dates, 10 m):",
        (
            f"  client peak memory {small['client_peak_mb']:.0f} -> "
            f"{big['client_peak_mb']:.0f} MB: {slope * 1e3:.2f} KB per parcel -> "
            f"{client_mb / 1024:.1f} GB"
        ),
        (
            f"  chunk phase {big['chunk_cpu_ms_per_parcel']:.2f} ms CPU per parcel -> "
            f"{chunk_cpu / 60:.0f} CPU-min: {chunk_cpu / 60 / 2:.0f} min on 2 workers, "
            f"{chunk_cpu / 60 / 8:.0f} on 8, {chunk_cpu / 60 / 32:.1f} on 32"
        ),
        (
            f"  crop types on the workers {big['worker_county_cpu_ms_per_parcel']:.2f} ms CPU per "
            f"parcel -> {wcounty / 60:.0f} CPU-min (divides by the workers)"
        ),
        (
            f"  client's serial tail (training capped, peers, yields, credit lines, outputs): "
            f"{(serial_wall / n) * 1e3:.2f} ms per parcel of wall -> {serial_wall / 60:.0f} min "
            "(linear part only; the capped training does not grow)"
        ),
    ]
    for name, mb in big["outputs_mb"].items():
        lines.append(f"  {name}: {mb / nb * n / 1024:.1f} GB")
    return lines


def household_latency(inputs: Any, context: Any, n: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds to decide each of ``n`` random households from the saved context
    (cube open, lazy)."""
    owners = inputs.titles["owner_ref"].drop_duplicates().sample(n, random_state=0)
    lat = []
    for owner in owners:
        t1, c1 = time.perf_counter(), time.process_time()
        decide_household(
            inputs.cube, inputs.titles, str(owner), context=context, weather=inputs.weather,
            policy=inputs.policy,
        )  # fmt: skip
        lat.append((time.perf_counter() - t1, time.process_time() - c1))
    return lat


def latency_only(k: int, work: Path, n: int) -> dict[str, Any]:
    """Household latency on an already scanned county, warm (after one household)."""
    files = tiled_county(base_county(work), k, work)
    t0 = time.perf_counter()
    inputs = load_inputs(files, chunks={})
    context = load_context(work / f"out{k}")
    opened = time.perf_counter() - t0
    household_latency(inputs, context, 1)  # warm: numba caches, first imports, county tables
    lat = household_latency(inputs, context, n)
    wall = sorted(w for w, _ in lat)
    cpu = sorted(c for _, c in lat)
    return {
        "parcels": len(inputs.titles),
        "households": n,
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "open_inputs_and_context_s": round(opened, 2),
        "latency_s_median": round(statistics.median(wall), 3),
        "latency_s_p90": round(wall[int(0.9 * (len(wall) - 1))], 3),
        "latency_cpu_s_median": round(statistics.median(cpu), 3),
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
        "--distributed", action="store_true",
        help="start `dask scheduler` and `dask worker` as separate processes",
    )  # fmt: skip
    ap.add_argument(
        "--latency-only", type=int, default=0, metavar="N",
        help="only time N households on the last --tiles county already scanned",
    )  # fmt: skip
    ap.add_argument("--one", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    if a.one:
        row = one_scan(a.one, a.work, workers=a.workers, chunk=a.chunk, model=a.model,
                       distributed=a.distributed)  # fmt: skip
        print(json.dumps(row), flush=True)
        return
    print(f"load average {os.getloadavg()}; {os.cpu_count()} cores; workers' malloc trim: "
          f"{os.environ.get(MALLOC_ENV, 'unset')}", flush=True)  # fmt: skip
    if a.latency_only:
        print(json.dumps(latency_only(a.tiles[-1], a.work, a.latency_only)), flush=True)
        return
    rows = []
    for k in a.tiles:
        row = run(k, a.work, workers=a.workers, chunk=a.chunk, model=a.model,
                  distributed=a.distributed)  # fmt: skip
        print(json.dumps(row), flush=True)
        rows.append(row)
    if len(rows) >= 2:
        print("\n".join(project(rows[0], rows[-1])))


if __name__ == "__main__":
    main()
