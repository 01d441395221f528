"""A household's monitoring history across runs (what its report shows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from agrilend.monitor.store import list_runs, read_plan, run_dir


def household_history(scan_dir: str | Path, owner_ref: str) -> list[dict[str, Any]]:
    """One entry per finished monitoring run of the scan: dates, action, capacity, events.

    Each entry: ``run``, ``first_date``, ``last_date``, ``action``, ``coverage`` (capacity
    against the line), ``events`` (kinds on the household's parcels), ``reason_en``,
    ``reason_zh``. Empty when the scan was never monitored or the household holds no line.

    Examples
    --------
    >>> household_history("no-such-scan", "H-000000000000")
    []
    """
    out: list[dict[str, Any]] = []
    for run, finished in list_runs(scan_dir):
        path = run_dir(scan_dir, run) / "households.parquet"
        if not finished or not path.exists():
            continue
        hh = pd.read_parquet(path)
        row = hh[hh["owner_ref"].astype(str) == str(owner_ref)]
        if row.empty:
            continue
        r = row.iloc[0]
        dates = read_plan(scan_dir, run)["dates"]
        out.append(
            {
                "run": run,
                "first_date": str(dates[0])[:10],
                "last_date": str(dates[-1])[:10],
                "action": str(r["action"]),
                "coverage": None if pd.isna(r["coverage"]) else float(r["coverage"]),
                "events": [k for k in str(r["event_kinds"]).split(",") if k],
                "reason_en": str(r["reasons_en"]),
                "reason_zh": str(r["reasons_zh"]),
            }
        )
    return out


__all__ = ["household_history"]
