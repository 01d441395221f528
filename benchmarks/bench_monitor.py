"""In-season monitoring: events against the synthetic truth, the cost of an update, Slovenia 2017.

Run on demand (not a test)::

    python benchmarks/bench_monitor.py [--workers N] [--skip-realdata]

1. Scans the sample county (``agrilend scan``, a subprocess): the loan book, and the cost of a
   full re-scan (CPU seconds of the process and every process it started: Dask workers too).
2. Monitors the 2025 season (``sample_data/monitor_imagery.nc``) up to the day before its last
   image, then one update with that one new date (a subprocess, CPU measured the same way).
3. Scores the events per kind against ``sample_data/truth_monitor_events.csv``: precision,
   recall, median days from the shock to the alert (events are causal: the alert date is the
   image date at which the data up to that date confirm the event).
4. The Slovenian series 2015-2017 (``../shared/data/imagery/slovenia``): each summer against
   the other years, on the cultivated parcels and on grassland.

The load average is printed: the machine is shared, so CPU-time ratios measured in the same run
are the figures to read, not wall time. The last line is the summary the issue asks for.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
SHARED = Path(os.environ.get("AGRILEND_SHARED_DATA", REPO.parent / "shared" / "data"))
GOAL_KINDS = ("failure", "drought")


#: Runs one command in a fresh interpreter, the libraries both commands use imported first, and
#: reports on stderr the CPU seconds of the command itself (this process and every process it
#: started and reaped: Dask workers too), without the interpreter's start-up and imports.
_RUNNER = """
import json, resource, sys
import agrilend.monitor, agrilend.scan, agrilend.pipeline
from agrilend.cli.main import cli
def cpu():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime
t0 = cpu()
try:
    cli.main(sys.argv[1:], standalone_mode=False)
finally:
    print("WORK_CPU " + json.dumps(cpu() - t0), file=sys.stderr)
"""


def _cli(*args: str) -> tuple[float, float, float, str]:
    """Run ``agrilend ARGS`` in a subprocess: CPU s of the command's work, CPU s of the whole
    process tree (start-up and imports included), wall s, stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", _RUNNER, *args], capture_output=True,
                          text=True, env=env, check=True)  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    work = [float(line.split()[1]) for line in proc.stderr.splitlines()
            if line.startswith("WORK_CPU ")]  # fmt: skip
    return work[-1], total, wall, proc.stdout


def synthetic(workers: int, tmp: Path) -> dict[str, float]:
    from agrilend.monitor.runner import watched  # noqa: PLC0415
    from agrilend.synthetic.monitor_season import score_monitor_events  # noqa: PLC0415

    scan_dir = tmp / "scan"
    print(f"load average before: {os.getloadavg()}")
    scan_cpu, scan_all, scan_wall, _ = _cli("scan", "--out", str(scan_dir), "--workers",
                                            str(workers), "-q")  # fmt: skip
    print(f"full scan of the sample county ({workers} workers): CPU {scan_cpu:.1f} s of work, "
          f"{scan_all:.1f} s with start-up and imports (wall {scan_wall:.1f} s)")  # fmt: skip
    import xarray as xr  # noqa: PLC0415

    with xr.open_dataset(SAMPLE / "monitor_imagery.nc") as ds:
        dates = pd.DatetimeIndex(ds["time"].values)
    common = ["--imagery", str(SAMPLE / "monitor_imagery.nc"), "--weather",
              str(SAMPLE / "monitor_weather.csv"), "--workers", str(workers)]  # fmt: skip
    season_cpu, season_all, season_wall, _ = _cli("monitor", str(scan_dir), *common, "--until",
                                                  str(dates[-2].date()), "-q")  # fmt: skip
    print(f"monitoring run over {len(dates) - 1} dates: CPU {season_cpu:.1f} s of work, "
          f"{season_all:.1f} s in all (wall {season_wall:.1f} s)")  # fmt: skip
    upd_cpu, upd_all, upd_wall, out = _cli("monitor", str(scan_dir), *common, "--json", "-q")
    payload = json.loads(out)
    if not payload["written"] or len(payload["dates"]) != 1:
        raise SystemExit(f"the update did not read exactly one new date: {payload}")
    print(
        f"update with one new date ({payload['dates'][0]}): CPU {upd_cpu:.1f} s of work, "
        f"{upd_all:.1f} s in all (wall {upd_wall:.1f} s; stages {payload['timings_s']})"
    )
    print(
        f"CPU ratio re-scan / update: {scan_cpu / upd_cpu:.1f}x for the work, "
        f"{scan_all / upd_all:.1f}x with each process's start-up and imports"
    )
    print(f"load average after: {os.getloadavg()}")

    run = scan_dir / "monitor" / "runs" / f"{payload['run']:04d}"
    events = pd.read_parquet(run / "events.parquet")
    truth = pd.read_csv(SAMPLE / "truth_monitor_events.csv", dtype={"parcel_id": str})
    import geopandas as gpd  # noqa: PLC0415

    book = watched(gpd.read_parquet(scan_dir / "parcels.parquet"))["parcel_id"].tolist()
    score = score_monitor_events(events, truth, parcels=book)
    with pd.option_context("display.width", 120, "display.precision", 2):
        print("\nevents against the truth (parcels the monitor watches):")
        print(score.to_string())
    other = events[~events["kind"].isin(score.index)]["kind"].value_counts()
    print("other alerts (not in the truth): " + ", ".join(f"{k} {v}" for k, v in other.items()))
    hh = pd.read_parquet(run / "households.parquet")
    print("actions: " + ", ".join(f"{k} {v}" for k, v in hh["action"].value_counts().items()))
    goal = score.loc[list(GOAL_KINDS)]
    hits = []
    t = truth.assign(kind=truth["kind"].replace({"switch": "crop_switch", "late": "late_sowing"}))
    for kind in GOAL_KINDS:
        m = events[events["kind"] == kind].merge(t[t["kind"] == kind], on="parcel_id",
                                                 suffixes=("", "_t"))  # fmt: skip
        hits.extend((pd.to_datetime(m["date"]) - pd.to_datetime(m["date_t"])).dt.days.tolist())
    return {
        "recall": float(goal["recall"].min()),
        "precision": float(goal["precision"].min()),
        "lead": float(np.median(hits)) if hits else float("nan"),
        "ratio": scan_cpu / upd_cpu,
    }


def slovenia() -> None:
    import geopandas as gpd  # noqa: PLC0415

    from agrilend.monitor.seasons import year_against_others  # noqa: PLC0415
    from agrilend.parcels import zonal_series  # noqa: PLC0415
    from agrilend.remote_sensing import open_cube  # noqa: PLC0415

    folder = SHARED / "imagery" / "slovenia"
    cube = open_cube(folder / "slovenia_ndvi_2015_2017.nc")
    parcels = gpd.read_file(folder / "slovenia_landuse_parcels.gpkg")
    parcels["parcel_id"] = [f"{r}-{i}" for i, r in enumerate(parcels["RABA_ID"])]
    print("\nSlovenia 2015-2017 (near Ljubljana; summer 2017 a severe drought): each year's "
          "11 Jul - 31 Aug against the parcel's own other years")  # fmt: skip
    groups = {"cultivated land": ["cultivated land"], "grassland": ["grassland"],
              "cultivated + grassland": ["cultivated land", "grassland"]}  # fmt: skip
    for name, kinds in groups.items():
        t = parcels[parcels["LULC_NAME"].isin(kinds)].reset_index(drop=True)
        s = zonal_series(cube, t, stats=("mean",))
        x = np.where(s["valid_fraction"].values >= 0.5, s["NDVI_mean"].values, np.nan)
        cent = t.geometry.centroid
        book = pd.DataFrame({"parcel_id": t["parcel_id"], "owner_ref": "-", "crop": "agri",
                             "level": 1.0, "x": cent.x, "y": cent.y})  # fmt: skip
        summary, _ = year_against_others(x, pd.DatetimeIndex(s.indexes["time"]), book)
        print(f"-- {name}: {len(t)} parcels, {t.area.sum() / 1e4:.2f} ha")
        print(summary.round(3).to_string())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=0, help="Dask workers (0 = in process)")
    parser.add_argument("--skip-realdata", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-monitor-") as d:
        res = synthetic(args.workers, Path(d))
    if not args.skip_realdata and (SHARED / "imagery" / "slovenia").exists():
        slovenia()
    print(
        f"monitor: recall {res['recall']:.2f} precision {res['precision']:.2f} median lead "
        f"{res['lead']:.0f} days; update {res['ratio']:.0f}x cheaper than a re-scan"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
