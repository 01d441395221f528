"""County scan benchmark: per-phase wall and CPU time of every process, the client's peak
memory, output sizes, a 10^6-parcel projection, and one household's latency.

The county: a base synthetic county (``agrilend.synthetic.generate_county``, seed 5, 360 x 360
px, 10-day revisit = 36 dates, 2,188 parcels; the generator's own field shapes and imagery) is
tiled by ``agrilend.synthetic.tiled.tile_county`` into a county of exactly N parcels (imagery
as a Zarr store in 256 px blocks, so that reading is real disk reads and decompression).
Everything is cached under ``--work`` (a temporary folder, never the repository): the base
once (about a minute), each N once (about 20 s for 10^5).

Each scan runs ``agrilend scan --json`` in a fresh process (the client). Its own Dask cluster
(``--workers 2``: a LocalCluster, whose scheduler lives in the client process) or, with
``--cluster``, ``dask scheduler`` and ``dask worker`` processes this script starts apart, as
on a real cluster (``--nthreads 1 --no-nanny``: the worker has this shell's environment, so no
``MALLOC_TRIM_THRESHOLD_`` unless ``AGRILEND_WORKER_MALLOC_TRIM`` asks for one), and the scan
is pointed at the scheduler's address. While it runs, this script samples every process (the
client, its children, the scheduler and workers) every ``--sample`` seconds with psutil: CPU
time (user + system, all threads) and peak resident memory (``VmHWM``). CPU per phase is each
process's CPU between the phase's bounds (from the scan's own timings), interpolated between
samples (a LocalCluster worker's last ``--sample`` seconds before it exits are not seen).

Run by hand (not a test; the load average is printed: on a shared machine compare CPU times):

    python benchmarks/bench_scan.py --parcels 10000 100000          # 2 local workers
    python benchmarks/bench_scan.py --parcels 10000 --cluster        # dask scheduler + workers
    python benchmarks/bench_scan.py --parcels 10000 --latency-only 20
    python benchmarks/bench_scan.py --parcels 10000 100000 --figures 20 --warmup 600  # issue 18

With two sizes or more it prints a 10^6-parcel county on paper from the smallest and the
largest (labelled "projection": linear fits of the measured CPU per phase, client memory and
output sizes).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
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

import psutil

REPO = Path(__file__).resolve().parents[1]
BASE_PX = 360
BASE_SEED = 5
#: The scan's phases, in the order they run (keys of ``ScanResult.timings``).
PHASES = ("chunks", "county", "write")
MALLOC_ENV = "AGRILEND_WORKER_MALLOC_TRIM"  # as agrilend.scan.runner.MALLOC_ENV


# --- the county -----------------------------------------------------------------------------------


def base_county(work: Path) -> Path:
    """Generate (once) the base county tile, seeded."""
    base = work / "base"
    if not (base / "imagery.nc").exists():
        from agrilend.synthetic import generate_county  # noqa: PLC0415

        generate_county(
            base, seed=BASE_SEED, size_px=(BASE_PX, BASE_PX), revisit_days=10,
            weather_start="2014-01-01", fine=2, overwrite=True,
        )  # fmt: skip
    for name in ("titles_mapping.toml", "policy.toml"):
        if not (base / name).exists():
            shutil.copy(REPO / "sample_data" / name, base / name)
    return base


def county(n: int, work: Path) -> Path:
    """The county of ``n`` parcels (made once, then cached)."""
    folder = work / f"county-{n}"
    done = folder / "done.json"
    if not done.exists():
        from agrilend.synthetic.tiled import tile_county  # noqa: PLC0415

        t0 = time.perf_counter()
        tile_county(base_county(work), folder, n, overwrite=True)
        done.write_text(json.dumps({"parcels": n, "seconds": round(time.perf_counter() - t0, 1)}))
    return folder


def pseudonym_key(work: Path) -> Path:
    """A key for this synthetic county's owner pseudonyms, made once in ``work`` (the scan
    refuses owner ids outside the sample county without one)."""
    key = work / "pseudonym.key"
    if not key.exists():
        import secrets  # noqa: PLC0415

        key.write_text(secrets.token_hex(32))
        key.chmod(0o600)
    return key


def county_files(folder: Path) -> Any:
    """The :class:`agrilend.inputs.InputFiles` of a benchmark county's folder."""
    from agrilend.inputs import InputFiles  # noqa: PLC0415

    return InputFiles(
        titles=folder / "titles.gpkg", imagery=folder / "imagery.zarr",
        weather=folder / "weather.csv", policy=folder / "policy.toml",
        county_yields=folder / "county_yields.csv",
        titles_mapping=folder / "titles_mapping.toml",
    )  # fmt: skip


def scan_args(folder: Path) -> list[str]:
    return [
        "--titles", str(folder / "titles.gpkg"), "--mapping", str(folder / "titles_mapping.toml"),
        "--imagery", str(folder / "imagery.zarr"), "--weather", str(folder / "weather.csv"),
        "--policy", str(folder / "policy.toml"), "--yields", str(folder / "county_yields.csv"),
    ]  # fmt: skip


# --- the client process ---------------------------------------------------------------------------


def _vmhwm_mb(pid: int | str = "self") -> float | None:
    """Peak resident memory of one process (``VmHWM``: its own, whatever its parent's)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def client_main(result_file: Path, args: list[str]) -> None:
    """Run ``agrilend scan ARGS`` in this process and write what it measured itself."""
    import agrilend.scan as scan_package  # noqa: PLC0415
    from agrilend.cli.main import cli  # noqa: PLC0415

    marks: dict[str, float] = {}
    original = scan_package.scan

    def timed(*a: Any, **k: Any) -> Any:
        marks["scan_start"] = time.time()
        try:
            return original(*a, **k)
        finally:
            marks["scan_end"] = time.time()

    scan_package.scan = timed  # the command imports it from the package when it runs
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        cli.main(["scan", *args], prog_name="agrilend", standalone_mode=False)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    result_file.write_text(
        json.dumps({
            "payload": json.loads(printed.getvalue()),
            "marks": marks,
            "vmhwm_mb": _vmhwm_mb(),
            # ru_maxrss: kept by Linux across exec, so at least the parent's peak at spawn
            "ru_maxrss_mb": ru.ru_maxrss / 1024,
            "cpu_s": ru.ru_utime + ru.ru_stime,
        })
    )  # fmt: skip


# --- processes: the cluster and the sampler -------------------------------------------------------


def _worker_env(work: Path) -> dict[str, str]:
    """This shell's environment, with the workers' malloc setting as the scan's LocalCluster
    would give it (``AGRILEND_WORKER_MALLOC_TRIM``: unset by default) and a pseudonym key."""
    env = dict(os.environ)
    if not env.get("AGRILEND_PSEUDONYM_KEY") and not env.get("AGRILEND_PSEUDONYM_KEY_FILE"):
        env["AGRILEND_PSEUDONYM_KEY_FILE"] = str(pseudonym_key(work))
    env.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    # as a scan's own cluster (agrilend.scan.cluster.DASK_LOG_LENGTH): no task kept in logs
    env.setdefault("DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH", "0")
    choice = env.get(MALLOC_ENV, "unset").strip().lower()
    if choice == "unset":
        env.pop("MALLOC_TRIM_THRESHOLD_", None)
    elif choice == "dask":
        env["MALLOC_TRIM_THRESHOLD_"] = "65536"
    else:
        env["MALLOC_TRIM_THRESHOLD_"] = str(int(choice))
    return env


class Cluster:
    """``dask scheduler`` and ``dask worker`` processes, started apart as on a cluster."""

    def __init__(self, workers: int, work: Path) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        self.roles: dict[int, str] = {}
        info = work / "scheduler.json"
        info.unlink(missing_ok=True)
        dask_cli = str(Path(sys.executable).with_name("dask"))
        env = _worker_env(work)
        log = (work / "cluster.log").open("ab")
        self._start(
            [dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(info)], env, log, "scheduler",
        )  # fmt: skip
        for _ in range(600):
            if info.exists() and info.stat().st_size:
                break
            time.sleep(0.1)
        self.address = str(json.loads(info.read_text())["address"])
        for i in range(workers):
            self._start(
                [dask_cli, "worker", self.address, "--nthreads", "1", "--no-nanny",
                 "--no-dashboard", "--memory-limit", "0", "--name", f"w{i}",
                 "--local-directory", str(work / "dask-worker-space")], env, log, f"worker {i}",
            )  # fmt: skip
        from dask.distributed import Client  # noqa: PLC0415

        with Client(self.address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=300)

    def _start(self, cmd: list[str], env: dict[str, str], log: Any, role: str) -> None:
        p = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
        self.procs.append(p)
        self.roles[p.pid] = role

    def close(self) -> None:
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


class Sampler:
    """CPU time and peak memory of a process tree (and given processes) over time."""

    def __init__(self, root: int, extra: dict[int, str]) -> None:
        self.root = root
        self.roles: dict[int, str] = {root: "client", **extra}
        self.created: dict[int, float] = {}
        self.samples: dict[int, list[tuple[float, float]]] = {}
        self.peak: dict[int, float] = {}

    def _role(self, p: psutil.Process) -> str:
        try:
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            return "other"
        if "resource_tracker" in cmd:
            return "helper (resource tracker)"
        if "spawn_main" in cmd:
            return "worker"
        return f"other ({p.name()})"

    def sample(self) -> None:
        procs: list[psutil.Process] = []
        for pid in self.roles:
            with contextlib.suppress(psutil.Error):
                procs.append(psutil.Process(pid))
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.root).children(recursive=True):
                if child.pid not in self.roles:
                    self.roles[child.pid] = self._role(child)
                    procs.append(child)
        for p in procs:
            try:
                t = p.cpu_times()
                now = time.time()
                self.created.setdefault(p.pid, p.create_time())
            except psutil.Error:
                continue
            self.samples.setdefault(p.pid, []).append((now, t.user + t.system))
            hwm = _vmhwm_mb(p.pid)
            if hwm is not None:
                self.peak[p.pid] = max(self.peak.get(p.pid, 0.0), hwm)

    def cpu_at(self, pid: int, when: float) -> float:
        """CPU seconds of ``pid`` at time ``when``, interpolated between samples."""
        s = self.samples.get(pid, [])
        if not s:
            return 0.0
        points = [(self.created.get(pid, s[0][0]), 0.0), *s]
        if when <= points[0][0]:
            return 0.0
        for (t0, c0), (t1, c1) in itertools.pairwise(points):
            if when <= t1:
                return c0 + (c1 - c0) * (when - t0) / max(t1 - t0, 1e-9)
        return points[-1][1]


# --- one scan ------------------------------------------------------------------------------------


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def _kind(role: str) -> str:
    return "workers" if role.startswith("worker") else role.split(" ", maxsplit=1)[0]


def one_scan(n: int, work: Path, *, workers: int, cluster: bool, sample_s: float,
             extra: list[str]) -> dict[str, Any]:  # fmt: skip
    """Scan the county of ``n`` parcels once, in a fresh client process, and measure it."""
    folder = county(n, work)
    mode = "cluster" if cluster else "local"
    out = work / f"out-{n}-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    result_file = work / f"client-{n}-{mode}.json"
    result_file.unlink(missing_ok=True)
    load_before = os.getloadavg()
    started = Cluster(workers, work) if cluster else None
    try:
        where = ["--scheduler", started.address] if started else ["--workers", str(workers)]
        cmd = [sys.executable, __file__, "--client", str(result_file), "--",
               *scan_args(folder), "--out", str(out), *where, "--json", "-q", *extra]  # fmt: skip
        client = subprocess.Popen(cmd, env=_worker_env(work))
        sampler = Sampler(client.pid, started.roles if started else {})
        while client.poll() is None:
            sampler.sample()
            time.sleep(sample_s)
        sampler.sample()  # the cluster's processes, still alive
        if client.returncode != 0:
            raise SystemExit(f"the scan failed (exit {client.returncode}): {' '.join(cmd)}")
    finally:
        if started is not None:
            started.close()
    load_after = os.getloadavg()
    measured = json.loads(result_file.read_text())
    timings = measured["payload"]["timings_s"]
    marks = measured["marks"]
    end = marks["scan_end"]
    bounds = [end]
    for phase in reversed(PHASES):
        bounds.insert(0, bounds[0] - timings.get(phase, 0.0))
    windows = {
        "start-up (imports, inputs)": (sampler.created[client.pid], marks["scan_start"]),
        "setup (plan, cluster)": (marks["scan_start"], bounds[0]),
        **{p: (bounds[i], bounds[i + 1]) for i, p in enumerate(PHASES)},
    }
    processes = []
    for pid, role in sorted(sampler.roles.items(), key=lambda kv: kv[1]):
        if pid not in sampler.samples:
            continue
        cpu = {
            ph: round(sampler.cpu_at(pid, b) - sampler.cpu_at(pid, a), 2)
            for ph, (a, b) in windows.items()
        }
        processes.append({"pid": pid, "role": role, "cpu_s": cpu,
                          "peak_mb": round(sampler.peak.get(pid, 0.0))})  # fmt: skip
    by_kind: dict[str, dict[str, float]] = {}
    for p in processes:
        if sum(p["cpu_s"].values()) < 0.1 and p["role"] not in ("client", "scheduler"):
            continue  # Python's resource tracker and the like
        kind = by_kind.setdefault(_kind(p["role"]), {})
        for ph, c in p["cpu_s"].items():
            kind[ph] = round(kind.get(ph, 0.0) + c, 2)
    wall = {ph: round(b - a, 1) for ph, (a, b) in windows.items()}
    scan_wall = end - marks["scan_start"]
    summary = measured["payload"]["summary"]
    return {
        "parcels": int(summary["parcels"]),
        "households": int(summary.get("households", 0)),
        "mode": (
            f"dask scheduler + {workers} dask worker processes (--no-nanny, 1 thread)"
            if cluster
            else f"LocalCluster of the scan, {workers} workers (scheduler in the client)"
        ),
        "malloc_trim": os.environ.get(MALLOC_ENV, "unset"),
        "chunks": measured["payload"]["chunks"],
        "load_before": [round(x, 1) for x in load_before],
        "load_after": [round(x, 1) for x in load_after],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "scan_wall_s": round(scan_wall, 1),
        "wall_s": wall,
        "county_share_of_wall": round(timings.get("county", 0.0) / scan_wall, 3),
        "county_and_write_share_of_wall": round(
            (timings.get("county", 0.0) + timings.get("write", 0.0)) / scan_wall, 3
        ),
        "cpu_s": by_kind,
        "timings_s": timings,
        "client_peak_mb": round(measured["vmhwm_mb"]),
        "client_ru_maxrss_mb": round(measured["ru_maxrss_mb"]),
        "worker_peak_mb": max(
            (p["peak_mb"] for p in processes if p["role"].startswith("worker")), default=None
        ),
        "processes": processes,
        "outputs_mb": {
            p.name: round(_size_mb(p), 2) for p in sorted(out.iterdir()) if p.name != "parts"
        }
        | {"parts": round(_size_mb(out / "parts"), 2) if (out / "parts").exists() else 0.0},
    }


def print_row(row: dict[str, Any]) -> None:
    """A readable account of one scan (the JSON row is printed before it)."""
    n = row["parcels"]
    print(f"\n{n:,} parcels, {row['households']:,} households, {row['chunks']} chunks; "
          f"{row['mode']}; load {row['load_before']} -> {row['load_after']}")  # fmt: skip
    kinds = sorted(row["cpu_s"])
    print(f"  {'phase':<28} {'wall s':>8} " + " ".join(f"{k + ' CPU s':>16}" for k in kinds))
    for ph, w in row["wall_s"].items():
        cpus = " ".join(f"{row['cpu_s'][k].get(ph, 0.0):>16.1f}" for k in kinds)
        print(f"  {ph:<28} {w:>8.1f} {cpus}")
    print(f"  scan wall {row['scan_wall_s']} s; county step {row['county_share_of_wall']:.0%} of "
          f"it, county step + outputs {row['county_and_write_share_of_wall']:.0%}")  # fmt: skip
    print(f"  client peak {row['client_peak_mb']} MB (VmHWM); worker peak "
          f"{row['worker_peak_mb']} MB")  # fmt: skip
    for p in row["processes"]:
        print(f"    pid {p['pid']:>7} {p['role']:<28} CPU {sum(p['cpu_s'].values()):8.1f} s, "
              f"peak {p['peak_mb']} MB")  # fmt: skip
    print("  outputs: " + ", ".join(f"{k} {v:.1f} MB" for k, v in row["outputs_mb"].items()))


# --- the projection ------------------------------------------------------------------------------


def _fit(x0: float, y0: float, x1: float, y1: float, x: float) -> float:
    """The straight line through two points, at ``x``."""
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def project(small: dict[str, Any], big: dict[str, Any], n: int = 10**6) -> list[str]:
    """A county of ``n`` parcels on paper: straight lines through two measured scans."""
    ns, nb = small["parcels"], big["parcels"]
    lines = [
        (
            f"PROJECTION (on paper, not measured): {n:,} parcels from the measured {ns:,} and "
            f"{nb:,} ({big['mode']}); straight lines through the two points, same 36 dates"
        )
    ]
    phases = [ph for ph in big["wall_s"] if ph in small["wall_s"]]
    kinds = sorted(set(small["cpu_s"]) & set(big["cpu_s"]))
    total: dict[str, float] = {}
    for ph in phases:
        parts = []
        for k in kinds:
            a, b = small["cpu_s"][k].get(ph, 0.0), big["cpu_s"][k].get(ph, 0.0)
            proj = max(0.0, _fit(ns, a, nb, b, n))
            total[k] = total.get(k, 0.0) + proj
            parts.append(f"{k} {a / ns * 1e3:.2f} -> {b / nb * 1e3:.2f} ms/parcel: {proj:,.0f} s")
        wall = max(0.0, _fit(ns, small["wall_s"][ph], nb, big["wall_s"][ph], n))
        lines.append(f"  {ph:<28} CPU {'; '.join(parts)}; wall here {wall / 60:,.0f} min")
    lines.append("  CPU in all: " + ", ".join(f"{k} {v / 3600:,.1f} h" for k, v in total.items()))
    workers = total.get("workers", 0.0)
    client = total.get("client", 0.0)
    for w in (2, 8, 32):
        lines.append(
            f"  wall on {w} workers, if the workers' CPU divides among them and the client's "
            f"does not: about {(client + workers / w) / 60:,.0f} min"
        )
    mem = _fit(ns, small["client_peak_mb"], nb, big["client_peak_mb"], n)
    slope = (big["client_peak_mb"] - small["client_peak_mb"]) / (nb - ns) * 1024
    lines.append(
        f"  client peak memory {small['client_peak_mb']:,} -> {big['client_peak_mb']:,} MB "
        f"({slope:+.2f} KB per parcel): {mem / 1024:,.1f} GB"
    )
    if small.get("worker_peak_mb") and big.get("worker_peak_mb"):
        lines.append(
            f"  worker peak {small['worker_peak_mb']} -> {big['worker_peak_mb']} MB: "
            f"{_fit(ns, small['worker_peak_mb'], nb, big['worker_peak_mb'], n):,.0f} MB"
        )
    sizes = []
    for name, mb in big["outputs_mb"].items():
        if name in small["outputs_mb"]:
            proj = max(0.0, _fit(ns, small["outputs_mb"][name], nb, mb, n))
            if proj >= 1:
                sizes.append(f"{name} {proj / 1024:,.2f} GB")
    lines.append("  outputs: " + ", ".join(sizes))
    return lines


# --- one household ------------------------------------------------------------------------------


def latency_only(n: int, work: Path, households: int) -> dict[str, Any]:
    """Household latency from the local scan of the county of ``n`` parcels, warm."""
    from agrilend.inputs import load_inputs  # noqa: PLC0415
    from agrilend.scan import decide_household, load_context  # noqa: PLC0415

    folder = county(n, work)
    if not os.environ.get("AGRILEND_PSEUDONYM_KEY"):  # the key the scan used (same pseudonyms)
        os.environ.setdefault("AGRILEND_PSEUDONYM_KEY_FILE", str(pseudonym_key(work)))
    files = county_files(folder)
    t0 = time.perf_counter()
    inputs = load_inputs(files, chunks={})
    context = load_context(work / f"out-{n}-local")
    opened = time.perf_counter() - t0
    owners = inputs.titles["owner_ref"].drop_duplicates().sample(households + 1, random_state=0)
    lat = []
    for owner in owners:
        t1, c1 = time.perf_counter(), time.process_time()
        decide_household(
            inputs.cube, inputs.titles, str(owner), context=context, weather=inputs.weather,
            policy=inputs.policy,
        )  # fmt: skip
        lat.append((time.perf_counter() - t1, time.process_time() - c1))
    lat = lat[1:]  # the first household warms numba's caches, imports and the county tables
    wall = sorted(w for w, _ in lat)
    cpu = sorted(c for _, c in lat)
    return {
        "parcels": len(inputs.titles),
        "households": households,
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "open_inputs_and_context_s": round(opened, 2),
        "latency_s_median": round(statistics.median(wall), 3),
        "latency_s_p90": round(wall[int(0.9 * (len(wall) - 1))], 3),
        "latency_cpu_s_median": round(statistics.median(cpu), 3),
    }


# --- all of issue 18's figures in one run ---------------------------------------------------------


def _last_json(text: str) -> dict[str, Any]:
    return dict(json.loads([ln for ln in text.splitlines() if ln.startswith("{")][-1]))


def figures(a: argparse.Namespace) -> None:
    """Issue 18's "Done when", in one run: scans at each size (local workers), the smallest on
    ``dask scheduler`` + ``dask worker`` processes, one household's latency, the zonal ratio
    on real parcel shapes (``bench_zonal.py --real-only``, its last line), then the table."""
    here = [sys.executable, __file__, "--work", str(a.work), "--workers", str(a.workers),
            "--sample", str(a.sample)]  # fmt: skip
    sizes = sorted(a.parcels)
    if a.warmup:  # numba's on-disk caches of a fresh checkout are compiled here, not measured
        warm = one_scan(a.warmup, a.work, workers=a.workers, cluster=False, sample_s=a.sample,
                        extra=a.scan_extra)  # fmt: skip
        print(f"warm-up scan of {warm['parcels']:,} parcels: {warm['scan_wall_s']} s (not a "
              "figure)", flush=True)  # fmt: skip
    rows = []
    for n in sizes:
        rows.append(one_scan(n, a.work, workers=a.workers, cluster=False, sample_s=a.sample,
                             extra=a.scan_extra))  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
        print_row(rows[-1])
    cluster = one_scan(sizes[0], a.work, workers=a.workers, cluster=True, sample_s=a.sample,
                       extra=a.scan_extra)  # fmt: skip
    print(json.dumps(cluster), flush=True)
    print_row(cluster)
    done = subprocess.run(
        [*here, "--parcels", str(sizes[0]), "--latency-only", str(a.figures)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    latency = _last_json(done.stdout)
    print(json.dumps(latency), flush=True)
    load_zonal = os.getloadavg()
    ratio = "(not run: --skip-zonal)"
    if not a.skip_zonal:
        zonal = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "bench_zonal.py"), "--real-only"],
            check=False, capture_output=True, text=True,
        )  # fmt: skip
        print(zonal.stdout[-3000:], flush=True)
        found = [ln for ln in zonal.stdout.splitlines() if ln.startswith("real parcel shapes:")]
        ratio = found[-1] if found else f"(bench_zonal failed: {zonal.stderr[-500:]})"
    small, big = rows[0], rows[-1]
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    print(f"\nDone when (issue 18), one run ending {now}, commit {commit}:")
    print("| figure | goal | measured | load average (1, 5, 15 min) before -> after |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| client peak memory, {r['parcels']:,} parcels ({a.workers} local workers) "
              f"| flat | {r['client_peak_mb']:,} MB | {r['load_before']} -> "
              f"{r['load_after']} |")  # fmt: skip
    for lo, hi in itertools.pairwise(rows):
        growth = (hi["client_peak_mb"] - lo["client_peak_mb"]) / (hi["parcels"] - lo["parcels"])
        print(f"| client memory growth {lo['parcels']:,} -> {hi['parcels']:,} | ~0 | "
              f"{growth * 1024:+.2f} KB per parcel | |")  # fmt: skip
    for r in rows[1:]:
        print(f"| county step's share of the scan's wall time, {r['parcels']:,} parcels, "
              f"{a.workers} workers | <= 30 % at 100,000 | {r['county_share_of_wall']:.0%} "
              f"(county step + outputs {r['county_and_write_share_of_wall']:.0%}; scan "
              f"{r['scan_wall_s']:.0f} s) | {r['load_before']} -> {r['load_after']} |")  # fmt: skip
    print(f"| same on `dask scheduler` + {a.workers} `dask worker` processes, "
          f"{cluster['parcels']:,} parcels | | {cluster['county_share_of_wall']:.0%} (scan "
          f"{cluster['scan_wall_s']:.0f} s; client peak {cluster['client_peak_mb']:,} MB) | "
          f"{cluster['load_before']} -> {cluster['load_after']} |")  # fmt: skip
    print(
        f"| zonal, real parcel shapes | >= 10x exactextract per CPU-second | "
        f"{ratio.removeprefix('real parcel shapes: ')} | {[round(x, 1) for x in load_zonal]} |"
    )
    print(f"| one household from the saved context, warm median ({latency['households']} "
          f"households) | <= 0.2 s | {latency['latency_s_median']} s wall, "
          f"{latency['latency_cpu_s_median']} s CPU (p90 {latency['latency_s_p90']} s) | "
          f"{latency['load_average']} |")  # fmt: skip
    print()
    print("\n".join(project(rows[-2] if len(rows) > 1 else small, big)), flush=True)


def main() -> None:
    if "--client" in sys.argv:  # the scan's client process (started by one_scan)
        i = sys.argv.index("--client")
        client_main(Path(sys.argv[i + 1]), sys.argv[sys.argv.index("--") + 1 :])
        return
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-scan"),
                    help="cache and scratch folder (never the repository)")  # fmt: skip
    ap.add_argument("--parcels", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--cluster", action="store_true",
        help="start `dask scheduler` and `dask worker` processes apart and scan on them",
    )  # fmt: skip
    ap.add_argument("--sample", type=float, default=0.5, help="seconds between samples")
    ap.add_argument(
        "--latency-only", type=int, default=0, metavar="N",
        help="time N households from the local scan of the first --parcels county, done before",
    )  # fmt: skip
    ap.add_argument("--prepare-only", action="store_true", help="make the counties, no scan")
    ap.add_argument("--skip-zonal", action="store_true", help="--figures without bench_zonal")
    ap.add_argument(
        "--warmup", type=int, default=0, metavar="N",
        help="--figures: first scan N parcels unmeasured (numba's caches of a new checkout)",
    )  # fmt: skip
    ap.add_argument(
        "--figures", type=int, default=0, metavar="N",
        help="issue 18's figures in one run: local scans at each --parcels, the smallest on a "
        "started cluster, N households' latency, the zonal ratio; then the table",
    )  # fmt: skip
    ap.add_argument("scan_extra", nargs="*", help="after --: more `agrilend scan` options")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"load average {os.getloadavg()}; {os.cpu_count()} cores; workers' malloc trim: "
          f"{os.environ.get(MALLOC_ENV, 'unset')}; {now}", flush=True)  # fmt: skip
    if a.latency_only:
        print(json.dumps(latency_only(a.parcels[0], a.work, a.latency_only)), flush=True)
        return
    for n in a.parcels:
        t0 = time.perf_counter()
        county(n, a.work)
        print(f"county of {n:,} parcels ready in {time.perf_counter() - t0:.0f} s "
              f"({a.work / f'county-{n}'})", flush=True)  # fmt: skip
    if a.prepare_only:
        return
    if a.figures:
        figures(a)
        return
    rows = []
    for n in a.parcels:
        row = one_scan(n, a.work, workers=a.workers, cluster=a.cluster, sample_s=a.sample,
                       extra=a.scan_extra)  # fmt: skip
        print(json.dumps(row), flush=True)
        print_row(row)
        rows.append(row)
    if len(rows) >= 2:
        rows.sort(key=lambda r: r["parcels"])
        print()
        print("\n".join(project(rows[0], rows[-1])), flush=True)


if __name__ == "__main__":
    main()
