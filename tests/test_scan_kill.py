"""Kill test: a scan killed with SIGKILL again and again (some kills mid-write), resumed each
time, ends with exactly the results of an uninterrupted run, and no unreadable file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agrilend._scan_parts import SLOW_WRITE_ENV
from agrilend.inputs import InputFiles
from agrilend.scan import load_context, scan
from tests._scan_county import cli_args, make_county, make_light_context

pytestmark = [
    pytest.mark.slow,
    # assess._peer_curves: nanquantile over dates no parcel of a small crop observed (see
    # tests/test_scan.py)
    pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning"),
    # a dozen fresh interpreters each import the whole stack: about 3 minutes on an idle
    # 2-core machine, several times that on a shared one
    pytest.mark.timeout(1800),
]

KILLS = 10
CHUNK = 40
#: Seconds the test hook pauses inside each part's atomic write (a window for mid-write kills).
PAUSE = 0.4


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[InputFiles, Path]:
    root = tmp_path_factory.mktemp("kill-county")
    files = make_county(root / "county", size=240, seed=7)  # about 1,000 parcels
    return files, make_light_context(files, root / "ctx")


def _parts(out: Path) -> set[str]:
    return (
        {p.name for p in (out / "parts").glob("r*.parquet")} if (out / "parts").exists() else set()
    )


def _tmp_files(out: Path) -> list[Path]:
    return list(out.rglob(".tmp-*")) if out.exists() else []


def _wait(proc: subprocess.Popen[bytes], until: object, timeout: float) -> bool:
    """Poll until ``until()`` is true (True) or the process ends or time runs out (False)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if until():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def _readable(out: Path) -> None:
    """Every file of the results folder opens with its format's reader."""
    for p in out.rglob("*"):
        if p.is_dir():
            continue
        if p.suffix == ".parquet":
            pd.read_parquet(p)
        elif p.suffix == ".json":
            json.loads(p.read_text(encoding="utf-8"))
        elif p.suffix == ".gpkg":
            gpd.read_file(p)
        elif p.suffix == ".nc":
            xr.open_dataset(p).close()
        elif p.suffix == ".html":
            assert p.read_text(encoding="utf-8").rstrip().endswith("</html>")
    load_context(out / "context")


def test_killed_and_resumed_scan_equals_an_uninterrupted_one(
    county: tuple[InputFiles, Path], tmp_path: Path
) -> None:
    files, ctx = county
    reference = tmp_path / "reference"
    ref = scan(files, reference, chunk_size_px=CHUNK, workers=0, context=load_context(ctx))
    n_chunks = ref.chunks
    assert n_chunks > 3 * KILLS  # each kill below lets at most 3 chunks finish

    out = tmp_path / "killed"
    code = "from agrilend.cli.main import cli; cli()"
    args = [sys.executable, "-c", code, *cli_args(files, out), "--workers", "0"]
    args += ["--chunk-size", str(CHUNK), "--context", str(ctx), "--resume", "-q"]
    env = {**os.environ, SLOW_WRITE_ENV: str(PAUSE), "MPLBACKEND": "Agg"}
    rng = np.random.default_rng(2024)
    kills, mid_write, launches = 0, 0, 0

    def launch() -> subprocess.Popen[bytes]:
        nonlocal launches
        launches += 1
        assert launches <= KILLS + 10, "the scan makes no progress between kills"
        return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(proc: subprocess.Popen[bytes]) -> bool:
        nonlocal kills
        alive = proc.poll() is None
        if alive:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=600)
        return alive

    while kills < KILLS:
        proc = launch()
        start = len(_parts(out))
        goal = start + int(rng.integers(1, 4))
        try:
            _wait(proc, lambda g=goal: len(_parts(out)) >= min(g, n_chunks), 900)
            if rng.random() < 0.5:  # mid-write: while the next part's temporary file exists
                hit = _wait(proc, lambda: bool(_tmp_files(out)), 120)
                mid_write += kill(proc) and hit
            else:  # anywhere: a random moment after that
                time.sleep(float(rng.uniform(0.0, 1.5)))
                kill(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    # one more kill in the county step, while the final outputs are being written
    proc = launch()
    final = [out / "parcels.parquet", out / "context"]
    try:
        hit = _wait(
            proc,
            lambda: (
                any(p.parent != out / "parts" for p in _tmp_files(out))
                or any(p.exists() for p in final)
            ),
            900,
        )
        final_kill = kill(proc) and hit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert kills >= KILLS
    assert mid_write >= 2

    # the run that finishes the scan
    done = subprocess.run(args, env=env, capture_output=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert final_kill

    assert not _tmp_files(out)
    _readable(out)
    a = gpd.read_parquet(out / "parcels.parquet")
    b = gpd.read_parquet(reference / "parcels.parquet")
    assert a["parcel_id"].is_unique
    assert sorted(a["parcel_id"]) == sorted(b["parcel_id"])
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "households.parquet"),
        pd.read_parquet(reference / "households.parquet"),
    )
    assert (out / "summary.json").read_text() == (reference / "summary.json").read_text()
    state = json.loads((out / "chunks.json").read_text())
    assert len(state["finished"]) == n_chunks
    assert _parts(out) == _parts(reference)
