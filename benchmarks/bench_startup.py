"""Start-up: how long the ``agrilend`` command and the library's entry points take to start.

Each command runs as a whole new process, several times; the figures are wall time and the CPU
time of the process (user + system, from the kernel's child accounting), minimum / median /
maximum. "cold" runs with PYTHONDONTWRITEBYTECODE=1 and a fresh pycache prefix, so every module
is compiled again (a read-only install, a container without bytecode); "warm" runs with the
bytecode a previous run wrote.

    python benchmarks/bench_startup.py [--runs 5] [--context SCAN_DIR --target H-...]

With ``--context`` (a finished ``agrilend scan`` folder) and ``--target`` the report of one
household on a scanned county is timed too. The last line prints the median warm wall time of
``agrilend --help``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def _agrilend() -> list[str]:
    return [sys.executable, "-m", "agrilend"]


def run(cmd: list[str], *, cold: bool, cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``cmd`` as a new process."""
    env = dict(os.environ)
    if cold:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="agrilend-cold-")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--context", type=Path, help="a finished scan folder (report timing)")
    ap.add_argument("--target", help="a household of that scan")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="agrilend-startup-"))
    cases: list[tuple[str, list[str]]] = [
        ("agrilend --help", [*_agrilend(), "--help"]),
        ("agrilend report --help", [*_agrilend(), "report", "--help"]),
        ("import agrilend", [sys.executable, "-c", "import agrilend"]),
        ("import agrilend.pipeline", [sys.executable, "-c", "import agrilend.pipeline"]),
    ]
    if args.context and args.target:
        out = work / "report.html"
        cases.append(
            (
                "agrilend report ID --context SCAN",
                [*_agrilend(), "report", args.target, "--context", str(args.context),
                 "--out", str(out), "--overwrite", "-q"],
            )
        )  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}; {args.runs} runs each")
    print(f"{'command':<36} {'mode':<5} {'wall min/med/max s':>22} {'CPU median s':>13}")
    warm_help = float("nan")
    for name, cmd in cases:
        run(cmd, cold=False, cwd=work)  # writes the bytecode the warm runs use
        for mode in ("cold", "warm"):
            times = [run(cmd, cold=mode == "cold", cwd=work) for _ in range(args.runs)]
            walls = [w for w, _ in times]
            cpus = [c for _, c in times]
            print(
                f"{name:<36} {mode:<5} {min(walls):6.2f} {statistics.median(walls):6.2f} "
                f"{max(walls):6.2f}   {statistics.median(cpus):10.2f}"
            )
            if name == "agrilend --help" and mode == "warm":
                warm_help = statistics.median(walls)
    print(f"load average {os.getloadavg()[0]:.2f} after the runs")
    print(f"startup: agrilend --help {warm_help:.2f} s warm median")


if __name__ == "__main__":
    main()
