"""The household list of a county scan at 10^4 and 10^5 households: bytes written, the largest
file a browser opens, the writer's peak memory and time.

Each measurement runs in a child process of its own (peak memory is the process's), from a
seeded synthetic households table (``tests/report/_households.py``: 2.5 parcels a household,
reasons as a scan writes them). The writer is :func:`agrilend.report.household_pages.
write_household_pages`; with ``--before`` the child runs the one-page writer of the code on
``PYTHONPATH`` instead (``households_page`` of ``agrilend.report.county``, as it was before the
pages), e.g. ``PYTHONPATH=/path/to/an/older/checkout:.``.

    python benchmarks/bench_household_pages.py                 # 10^4 and 10^5, the pages
    PYTHONPATH=../old:. python benchmarks/bench_household_pages.py --before

Peak memory is the child's peak resident memory while writing (``VmHWM``, reset once the
tables are built), less its resident memory then: what the writer added. CPU time is the
child's own (user + system).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _status_mb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (the peak) of this process, MB."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Start the peak (``VmHWM``) again from the current resident memory (Linux 4.0+), so that
    building the tables does not count as the writer's."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")


def _this_checkouts(path: str) -> Any:
    """A module of this checkout, by its file (whatever checkout ``PYTHONPATH`` names)."""
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location(f"_bench_{Path(path).stem}", REPO / path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def open_in_chromium(path: Path, timeout: float) -> tuple[float, int]:
    """Seconds headless Chromium takes to load ``path`` and count its household rows (its
    scripts run), and the rows; ``(nan, 0)`` when it does not within ``timeout``."""
    from agrilend.errors import ReportError  # noqa: PLC0415

    Chromium = _this_checkouts("agrilend/report/_chromium.py").Chromium

    warm = Path(tempfile.mkdtemp()) / "warm.html"
    warm.write_text("<!DOCTYPE html><title>warm</title>", encoding="utf-8")
    count = "document.querySelectorAll('tr[data-household]').length"
    with Chromium(timeout=timeout) as browser:
        browser.evaluate(warm, "1")  # the browser started before the clock
        t0 = time.perf_counter()
        try:
            rows, _ = browser.evaluate(path, count)
        except ReportError:
            return float("nan"), 0
        return time.perf_counter() - t0, int(rows)


def child(n: int, before: bool, chromium: bool = False) -> dict[str, float]:
    """Build the tables, write the list, measure (in this process)."""
    tables = _this_checkouts("tests/report/_households.py")
    parcels, households = tables.synthetic_tables(n, seed=1)
    import agrilend.report.county  # noqa: PLC0415, F401  (imports before the baseline)

    _reset_peak()
    base = _status_mb("VmRSS")
    t0, c0 = time.perf_counter(), time.process_time()
    out = Path(tempfile.mkdtemp(prefix="bench-hh-"))
    if before:
        from agrilend.report.county import households_page  # type: ignore[attr-defined]  # noqa: PLC0415

        html = households_page(parcels, households, currency="CNY")
        (out / "households.html").write_text(html, encoding="utf-8")
    else:
        from agrilend.report.household_pages import write_household_pages  # noqa: PLC0415

        write_household_pages(out, parcels, households, currency="CNY")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status_mb("VmHWM")
    files = [p for p in out.rglob("*") if p.is_file()]
    html_files = [p for p in files if p.suffix == ".html"]
    load: dict[str, float] = {}
    if chromium:  # the page an officer opens first: the one page, or the index and a page
        first = out / "households.html" if before else out / "households" / "page-0001.html"
        load["page_load_s"], load["page_rows"] = open_in_chromium(first, timeout=300)
        if not before:
            load["index_load_s"], _ = open_in_chromium(out / "households.html", timeout=300)
    return {
        **load,
        "households": n,
        "files": len(files),
        "total_mb": sum(p.stat().st_size for p in files) / 2**20,
        "largest_html_mb": max(p.stat().st_size for p in html_files) / 2**20,
        "index_kb": (out / "households.html").stat().st_size / 1024,
        "largest_shard_kb": max(
            [p.stat().st_size / 1024 for p in files if p.suffix == ".js"], default=0.0
        ),
        "writer_peak_mb": peak - base,
        "tables_mb": base,
        "wall_s": wall,
        "cpu_s": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--before", action="store_true", help="the one-page writer")
    parser.add_argument(
        "--chromium",
        action="store_true",
        help="also time the first page's load in headless Chromium",
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.before, args.chromium)))
        return
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores, shared; CPU times are per process)")
    kind = "one page (before)" if args.before else "pages"
    print(
        f"{'households':>10} {'files':>6} {'total MB':>9} {'largest HTML MB':>16} "
        f"{'index kB':>9} {'shard kB':>9} {'writer peak MB':>15} {'CPU s':>6}  [{kind}]"
    )
    for n in (int(x) for x in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--child", str(n), *(["--before"] if args.before else []),
               *(["--chromium"] if args.chromium else [])]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(REPO))}
        res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"{r['households']:>10,} {r['files']:>6} {r['total_mb']:>9.1f} "
              f"{r['largest_html_mb']:>16.2f} {r['index_kb']:>9.0f} {r['largest_shard_kb']:>9.0f} "
              f"{r['writer_peak_mb']:>15.0f} {r['cpu_s']:>6.1f}")  # fmt: skip
        if "page_load_s" in r:
            index = f", index {r['index_load_s']:.2f} s" if "index_load_s" in r else ""
            print(f"{'':>10} Chromium: first page {r['page_load_s']:.2f} s "
                  f"({r['page_rows']:,} rows){index}")  # fmt: skip


if __name__ == "__main__":
    main()
