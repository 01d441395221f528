"""Monitoring runs on a scanned county: incremental, append-only, nothing without new dates,
resumable after SIGKILL with the same result as an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from agrilend.errors import ScanError
from agrilend.monitor import list_runs, monitor, monitor_dir
from agrilend.monitor.store import SLOW_WRITE_ENV

MIDSEASON = "2025-06-15"
CHUNK = 20  # several chunks in a 64 px county


def _fresh(book: dict[str, Path], name: str) -> Path:
    """A copy of the scan without any monitoring."""
    target = book["root"] / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(book["scan"], target, ignore=shutil.ignore_patterns("monitor"))
    return target


def _outputs(scan: Path) -> dict[str, object]:
    """Every monitoring output by relative path, read back (tables as frames)."""
    out: dict[str, object] = {}
    for p in sorted(monitor_dir(scan).rglob("*")):
        if p.is_dir():
            continue
        rel = str(p.relative_to(scan))
        if p.suffix == ".parquet":
            out[rel] = pd.read_parquet(p)
        elif p.suffix == ".json":
            data = json.loads(p.read_text("utf-8"))
            data.pop("imagery", None)
            out[rel] = data
        else:
            out[rel] = p.read_bytes()
    return out


def _assert_same(a: dict[str, object], b: dict[str, object]) -> None:
    assert sorted(a) == sorted(b)
    for k, v in a.items():
        if isinstance(v, pd.DataFrame):
            pd.testing.assert_frame_equal(v, b[k], check_exact=False, rtol=1e-9)
        else:
            assert v == b[k], k


@pytest.fixture(scope="module")
def reference(book: dict[str, Path]) -> Path:
    """Two runs, uninterrupted: dates to mid-season, then the rest."""
    scan = _fresh(book, "reference")
    first = monitor(scan, book["imagery"], weather=book["weather"], until=MIDSEASON,
                    chunk_size_px=CHUNK)  # fmt: skip
    second = monitor(scan, book["imagery"], weather=book["weather"], chunk_size_px=CHUNK)
    assert (first.run, second.run) == (1, 2)
    assert first.dates[-1][:10] <= MIDSEASON < second.dates[0][:10]
    return scan


def test_runs_append_and_write_every_output(reference: Path, book: dict[str, Path]) -> None:
    assert list_runs(reference) == [(1, True), (2, True)]
    run2 = monitor_dir(reference) / "runs" / "0002"
    for name in ("events.parquet", "households.parquet", "funding.parquet", "summary.json",
                 "summary.en.html", "summary.zh.html", "manifest.json"):  # fmt: skip
        assert (run2 / name).stat().st_size > 0, name
    summary = json.loads((run2 / "summary.json").read_text("utf-8"))
    assert [h["run"] for h in summary["history"]] == [1, 2]
    assert summary["exposure_at_risk"] <= summary["credit_book"]
    hh = pd.read_parquet(run2 / "households.parquet")
    assert set(hh["action"]) <= {"keep", "reduce_undrawn", "extend_tenor", "visit"}
    assert hh["reasons_zh"].str.len().gt(0).all()
    funding = pd.read_parquet(run2 / "funding.parquet")
    assert set(funding["stage"]) <= {"sowing", "fertiliser", "harvest"}
    assert (funding["amount"] > 0).all()
    # the series: each run's partition holds only its own dates
    s1 = pd.read_parquet(monitor_dir(reference) / "series" / "run=0001")
    s2 = pd.read_parquet(monitor_dir(reference) / "series" / "run=0002")
    assert s1["time"].max() < s2["time"].min()
    assert "漏" not in (run2 / "summary.zh.html").read_text("utf-8")  # a page, not a stub
    assert "贷中监测" in (run2 / "summary.zh.html").read_text("utf-8")


def test_incremental_runs_find_what_one_run_finds(reference: Path, book: dict[str, Path]) -> None:
    once = _fresh(book, "once")
    result = monitor(once, book["imagery"], weather=book["weather"], chunk_size_px=CHUNK)
    two = pd.read_parquet(monitor_dir(reference) / "runs" / "0002" / "events.parquet")
    one = result.events
    assert one is not None
    cols = ["parcel_id", "kind", "date"]
    pd.testing.assert_frame_equal(
        two[cols].sort_values(cols).reset_index(drop=True),
        one[cols].astype({"date": str}).sort_values(cols).reset_index(drop=True),
    )


def test_no_new_imagery_writes_nothing(reference: Path, book: dict[str, Path]) -> None:
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in reference.rglob("*")}
    again = monitor(reference, book["imagery"], weather=book["weather"], chunk_size_px=CHUNK)
    assert not again.written
    assert again.run == 0
    after = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in reference.rglob("*")}
    assert after == before


def test_an_unfinished_scan_is_refused(book: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ScanError, match="not a finished scan"):
        monitor(tmp_path, book["imagery"])


def test_killed_runs_resume_to_the_uninterrupted_result(
    reference: Path, book: dict[str, Path]
) -> None:
    scan = _fresh(book, "killed")
    cmd = [sys.executable, "-m", "agrilend", "monitor", str(scan), "--imagery",
           str(book["imagery"]), "--weather", str(book["weather"]), "--until", MIDSEASON,
           "--chunk-size", str(CHUNK), "-q"]  # fmt: skip
    env = {**os.environ, SLOW_WRITE_ENV: "0.3", "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen(cmd, env=env)
    parts = monitor_dir(scan) / "series" / "run=0001"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if parts.exists() and len(list(parts.glob("*.parquet"))) >= 1:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)  # our own child only
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert list_runs(scan) == [(1, False)]  # planned, not finished
    # resumed: the same dates as planned, then the rest of the season
    first = monitor(scan, book["imagery"], weather=book["weather"], chunk_size_px=CHUNK)
    assert first.run == 1
    assert first.dates[-1][:10] <= MIDSEASON
    monitor(scan, book["imagery"], weather=book["weather"], chunk_size_px=CHUNK)
    _assert_same(_outputs(scan), _outputs(reference))


def test_household_history_lists_every_run(reference: Path) -> None:
    from agrilend.monitor import household_history  # noqa: PLC0415

    hh = pd.read_parquet(monitor_dir(reference) / "runs" / "0002" / "households.parquet")
    owner = str(hh["owner_ref"].iloc[0])
    history = household_history(reference, owner)
    assert [h["run"] for h in history] == [1, 2]
    assert history[1]["action"] == hh["action"].iloc[0]
    assert history[0]["last_date"] < history[1]["first_date"]
