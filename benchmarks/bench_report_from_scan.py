"""A report on a scanned household, cold: where its CPU seconds go, step by step.

Run once: ``python benchmarks/bench_report_from_scan.py SCAN_DIR [HOUSEHOLD]`` on a finished
scan (e.g. ``agrilend scan --out /tmp/scan --workers 0`` of the sample county). Prints the CPU
seconds (this process) of each step of ``agrilend report ID --context SCAN_DIR`` in a fresh
interpreter, the load average (the machine is shared: wall time is not quoted), and each
step's share of the total. For the whole command from outside use
``farm-bench -- python -m agrilend report ID --context SCAN_DIR --overwrite -q``.
"""

# ruff: noqa: PLC0415  (the imports are what is measured: each inside its timed step)
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    steps: list[tuple[str, float]] = []
    t0 = time.process_time()

    def lap(name: str) -> None:
        nonlocal t0
        t = time.process_time()
        steps.append((name, t - t0))
        t0 = t

    import agrilend.cli.report  # noqa: F401

    lap("import the command")
    from agrilend.report import figures, maps
    from agrilend.report.from_scan import ScanFolder, check_target, scan_assessment, scan_files
    from agrilend.report.html import render_html, report_context

    lap("import the report (matplotlib, jinja2)")
    from agrilend.remote_sensing import open_cube

    lap("import remote_sensing (to open the cube)")
    folder = ScanFolder(Path(sys.argv[1]))
    hh, pids = folder.ids()
    target = check_target(sys.argv[2] if len(sys.argv) > 2 else hh[0], hh, pids, where="scan")
    files = scan_files(folder, None)
    lap("check the id")
    a = scan_assessment(folder, target)
    lap("the scan's rows, curves, context")
    cube = open_cube(files.imagery, chunks={})
    lap("open the cube (lazy)")
    parcels = a.parcels.reset_index(drop=True)
    scene = maps.pick_clear_scene(cube, parcels)
    lap("pick the clear scene")
    for group in maps.parcel_groups(parcels):
        maps.parcel_maps(cube, parcels.iloc[group], scene=scene)
    lap("detail maps")
    for _ in range(len(parcels)):
        figures.ndvi_curve(a.series["time"].to_index(), a.series["NDVI_mean"].to_numpy()[0])
    lap("NDVI curves")
    render_html(report_context(a, target, cube=cube))
    lap("the whole page again (warm)")
    total = sum(s for _, s in steps)
    print(f"load average {os.getloadavg()}; household {target}, {len(parcels)} parcels")
    print(f"{'step':<42} {'cpu s':>7} {'share':>6}")
    for name, s in steps:
        print(f"{name:<42} {s:7.2f} {s / total:6.0%}")
    print(f"{'total':<42} {total:7.2f}")


if __name__ == "__main__":
    main()
