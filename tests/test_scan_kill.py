"""Kill test: a scan of 2,069 parcels (36 chunks) killed with SIGKILL again and again (some kills
mid-write, one in the county step), resumed each time, ends with exactly the results of an
uninterrupted run, and no unreadable file.

Where the time went (2 cores shared with other work, load about 5): with 952 parcels and a fresh
interpreter per run, 199 s. A fresh ``agrilend scan`` spends 3.5-9 s importing the stack before
it touches the results folder, times 13 runs; and the generated imagery stored one whole frame
per date and band, so every chunk decoded the whole county (a 2,000-parcel scan: 31 s of 45 s
reading; 5 s of 20 s once stored in tiles, see ``tests/_scan_county.py``). Now, with 2,069
parcels: about 120 s (county and light model 12 s, reference run about 20 s, the rest the
killed and resumed runs); 225 s with tiles but a fresh interpreter per run.

So the scans that get killed are forked from a server process that imported the stack once; the
server kills its own child with SIGKILL and reaps it, so no other process can ever be hit. The
run that finishes the scan is a fresh ``python -c "... cli()"`` interpreter, as a user starts it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import xarray as xr

from agrilend.inputs import InputFiles
from agrilend.scan import load_context, scan
from agrilend.scan.outputs import read_households, read_parcels
from agrilend.scan.parts import SLOW_WRITE_ENV
from tests._scan_county import cli_args, make_county, make_light_context

pytestmark = [
    pytest.mark.slow,
    # assess._peer_curves: nanquantile over dates no parcel of a small crop observed (see
    # tests/test_scan.py)
    pytest.mark.filterwarnings("ignore:All-NaN slice encountered:RuntimeWarning"),
    # about 2 minutes on an idle 2-core machine, several times that on a shared one
    pytest.mark.timeout(1800),
]

KILLS = 10
CHUNK = 60
#: Seconds the test hook pauses inside each part's atomic write (a window for mid-write kills).
PAUSE = 0.4


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[InputFiles, Path]:
    root = tmp_path_factory.mktemp("kill-county")
    files = make_county(root / "county", size=360, seed=7)  # 2,0xx parcels
    return files, make_light_context(files, root / "ctx")


#: The fork server: imports the stack once, then forks one ``agrilend scan`` per ``run`` line;
#: ``poll`` and ``kill`` act on its current child only (never reaped before it is asked about,
#: so its pid cannot be reused by another process while the test holds it).
_SERVER = r"""
import json, os, signal, sys
from agrilend.cli.main import cli
import agrilend.scan, agrilend.inputs, agrilend.yield_models.persistence
import matplotlib.pyplot
child, status = 0, None
def reply(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
def outcome(st):
    if os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGKILL:
        return "killed"
    return f"exited {os.waitstatus_to_exitcode(st)}"
reply("ready")
for line in sys.stdin:
    cmd, _, arg = line.strip().partition(" ")
    if cmd == "run":
        child, status = os.fork(), None
        if child == 0:
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            code = 0
            try:
                cli.main(args=json.loads(arg), prog_name="agrilend")
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                code = 1
            os._exit(code)
        reply(str(child))
    elif cmd == "poll":
        if status is None:
            pid, st = os.waitpid(child, os.WNOHANG)
            status = outcome(st) if pid else None
        reply(status or "running")
    elif cmd == "kill":
        if status is None:
            os.kill(child, signal.SIGKILL)
            status = outcome(os.waitpid(child, 0)[1])
            reply(status)
        else:
            reply("gone")
"""


class _Server:
    """The fork server process (started by the test, stopped by it)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        out: IO[str] | None = self.proc.stdout
        assert out is not None
        line = out.readline()
        assert line, "the fork server died"
        return line.strip()

    def ask(self, line: str) -> str:
        stdin = self.proc.stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class _Scan:
    """One forked ``agrilend scan``: ``poll`` like ``Popen.poll``, ``kill`` sends SIGKILL."""

    def __init__(self, server: _Server, args: list[str]) -> None:
        self.server = server
        self.pid = int(server.ask("run " + json.dumps(args)))
        self.outcome: str | None = None

    def poll(self) -> str | None:
        if self.outcome is None:
            answer = self.server.ask("poll")
            self.outcome = None if answer == "running" else answer
        return self.outcome

    def kill(self) -> bool:
        """SIGKILL it if it still runs; True when the signal is what ended it."""
        if self.poll() is not None:
            return False
        self.outcome = self.server.ask("kill")
        return self.outcome == "killed"


def _parts(out: Path) -> set[str]:
    return (
        {p.name for p in (out / "parts").glob("r*.parquet")} if (out / "parts").exists() else set()
    )


def _tmp_files(out: Path) -> list[Path]:
    return list(out.rglob(".tmp-*")) if out.exists() else []


def _wait(proc: _Scan, until: object, timeout: float) -> bool:
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
            for layer in pyogrio.list_layers(p)[:, 0]:
                gpd.read_file(p, layer=layer)
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
    assert ref.summary["parcels"] >= 2000  # "a few thousand parcels"
    assert n_chunks > 3 * KILLS  # each kill below lets at most 3 chunks finish

    out = tmp_path / "killed"
    code = "from agrilend.cli.main import cli; cli()"
    scan_args = [*cli_args(files, out), "--workers", "0", "--chunk-size", str(CHUNK)]
    scan_args += ["--context", str(ctx), "--resume", "-q"]
    env = {**os.environ, SLOW_WRITE_ENV: str(PAUSE), "MPLBACKEND": "Agg"}
    rng = np.random.default_rng(2024)
    kills, mid_write, launches = 0, 0, 0
    server = _Server(env)

    def launch() -> _Scan:
        nonlocal launches
        launches += 1
        assert launches <= KILLS + 10, "the scan makes no progress between kills"
        return _Scan(server, scan_args)

    def kill(proc: _Scan) -> bool:
        nonlocal kills
        killed = proc.kill()
        kills += killed
        return killed

    try:
        while kills < KILLS:
            proc = launch()
            start = len(_parts(out))
            goal = start + int(rng.integers(1, 4))
            _wait(proc, lambda g=goal: len(_parts(out)) >= min(g, n_chunks), 900)
            if rng.random() < 0.5:  # mid-write: while the next part's temporary file exists
                hit = _wait(proc, lambda: bool(_tmp_files(out)), 120)
                mid_write += kill(proc) and hit
            else:  # anywhere: a random moment after that
                time.sleep(float(rng.uniform(0.0, 1.5)))
                kill(proc)

        # one more kill in the county step, while the final outputs are being written
        proc = launch()
        final = [out / "parcels.parquet", out / "context"]
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
        server.close()
    assert kills >= KILLS
    assert mid_write >= 2
    assert final_kill

    # the run that finishes the scan: a fresh interpreter, as a user starts it
    args = [sys.executable, "-c", code, *scan_args]
    done = subprocess.run(args, env=env, capture_output=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    assert not _tmp_files(out)
    _readable(out)
    a = read_parcels(out)
    b = read_parcels(reference)
    assert a["parcel_id"].is_unique
    assert sorted(a["parcel_id"]) == sorted(b["parcel_id"])
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(
        read_households(out),
        read_households(reference),
    )
    assert (out / "summary.json").read_text() == (reference / "summary.json").read_text()
    state = json.loads((out / "chunks.json").read_text())
    assert len(state["finished"]) == n_chunks
    assert _parts(out) == _parts(reference)
