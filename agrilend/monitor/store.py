"""The monitoring store beside a scan: append-only parcel series, one partition per run.

Layout, inside the scan's results folder::

    monitor/runs/<NNNN>/plan.json           the run's new dates and chunks (written first)
    monitor/series/run=<NNNN>/<chunk>.parquet   per chunk: parcel_id, time, ndvi, valid_fraction
    monitor/runs/<NNNN>/events.parquet, households.parquet, funding.parquet,
                       summary.json, summary.en.html, summary.zh.html
    monitor/runs/<NNNN>/manifest.json       written last: the run is finished

Nothing a finished run wrote is ever rewritten; a run killed at any point leaves a plan without
a manifest, which the next call resumes with the same dates. Every file is written atomically
(:func:`agrilend.outputs.atomic_write`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.errors import ScanError
from agrilend.outputs import atomic_write, write_json

log = logging.getLogger(__name__)

MONITOR_DIR = "monitor"
PLAN, MANIFEST = "plan.json", "manifest.json"
SERIES_COLUMNS = ("parcel_id", "time", "ndvi", "valid_fraction")
#: Test hook: seconds to sleep inside the atomic write of a series part (widens a kill window).
SLOW_WRITE_ENV = "AGRILEND_MONITOR_TEST_SLOW_WRITE"


def monitor_dir(scan_dir: str | Path) -> Path:
    """The monitoring folder of a scan results folder."""
    return Path(scan_dir) / MONITOR_DIR


def run_dir(scan_dir: str | Path, run: int) -> Path:
    """The folder of run number ``run``."""
    return monitor_dir(scan_dir) / "runs" / f"{run:04d}"


def series_dir(scan_dir: str | Path, run: int) -> Path:
    """The series partition of run number ``run``."""
    return monitor_dir(scan_dir) / "series" / f"run={run:04d}"


def list_runs(scan_dir: str | Path) -> list[tuple[int, bool]]:
    """``(run, finished)`` for every run with a plan, in order."""
    root = monitor_dir(scan_dir) / "runs"
    if not root.exists():
        return []
    out = []
    for d in sorted(root.iterdir()):
        if d.is_dir() and d.name.isdigit() and (d / PLAN).exists():
            out.append((int(d.name), (d / MANIFEST).exists()))
    return out


def read_plan(scan_dir: str | Path, run: int) -> dict[str, Any]:
    """The plan of a run."""
    plan: dict[str, Any] = json.loads((run_dir(scan_dir, run) / PLAN).read_text("utf-8"))
    return plan


def known_dates(scan_dir: str | Path) -> list[pd.Timestamp]:
    """Dates already planned by earlier runs (finished or not), sorted."""
    dates: set[pd.Timestamp] = set()
    for run, _ in list_runs(scan_dir):
        dates.update(pd.Timestamp(d) for d in read_plan(scan_dir, run)["dates"])
    return sorted(dates)


def clean_temporaries(scan_dir: str | Path) -> None:
    """Remove ``.tmp-*`` files a killed write left (never a result)."""
    root = monitor_dir(scan_dir)
    if root.exists():
        for tmp in root.rglob(".tmp-*"):
            tmp.unlink(missing_ok=True)


def write_series_part(frame: pd.DataFrame, path: Path) -> None:
    """Write one chunk's new observations atomically (long format)."""
    pause = float(os.environ.get(SLOW_WRITE_ENV, "0") or 0)
    with atomic_write(path) as tmp:
        frame.loc[:, list(SERIES_COLUMNS)].to_parquet(tmp, index=False)
        if pause > 0:
            time.sleep(pause)


def part_is_complete(path: Path) -> bool:
    """True when a part file reads back (parts are written atomically: readable = complete)."""
    try:
        pd.read_parquet(path, columns=["parcel_id"])
    except Exception:  # a damaged part is computed again
        return False
    return True


def read_series(
    scan_dir: str | Path, runs: list[int], *, min_clear_fraction: float = 0.5
) -> tuple[pd.Index, pd.DatetimeIndex, np.ndarray[Any, Any]]:
    """All stored observations of ``runs``: parcel ids, dates and an NDVI matrix (NaN = not clear).

    Raises
    ------
    ScanError
        When a part cannot be read (delete it and run the monitor again to recompute it).
    """
    frames = []
    for run in runs:
        for part in sorted(series_dir(scan_dir, run).glob("*.parquet")):
            try:
                frames.append(pd.read_parquet(part))
            except Exception as exc:
                raise ScanError(
                    f"monitoring part {str(part)!r} cannot be read ({exc}); delete it and run "
                    "`agrilend monitor` again to compute it"
                ) from exc
    if not frames:
        return pd.Index([], dtype=object), pd.DatetimeIndex([]), np.empty((0, 0))
    long = pd.concat(frames, ignore_index=True)
    clear = long["valid_fraction"].to_numpy(dtype=float) >= min_clear_fraction
    long["ndvi"] = np.where(clear, long["ndvi"].to_numpy(dtype=float), np.nan)
    wide = long.pivot_table(index="parcel_id", columns="time", values="ndvi", dropna=False)
    wide = wide.sort_index(axis=0).sort_index(axis=1)
    return wide.index, pd.DatetimeIndex(wide.columns), wide.to_numpy(dtype=float)


def write_plan(scan_dir: str | Path, run: int, plan: dict[str, Any]) -> None:
    """Write a run's plan (atomically)."""
    write_json(plan, run_dir(scan_dir, run) / PLAN, overwrite=True)


__all__ = [
    "MANIFEST",
    "MONITOR_DIR",
    "PLAN",
    "SERIES_COLUMNS",
    "SLOW_WRITE_ENV",
    "clean_temporaries",
    "known_dates",
    "list_runs",
    "monitor_dir",
    "part_is_complete",
    "read_plan",
    "read_series",
    "run_dir",
    "series_dir",
    "write_plan",
    "write_series_part",
]
