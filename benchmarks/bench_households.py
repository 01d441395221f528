"""The county step's households alone, in this process, at several partition sizes: CPU and
wall time, rows and row groups read, on a finished ``bench_scan.py`` scan (its county and
results folder).

Each partition reads only its own row groups (:mod:`agrilend.scan.households`), so the step's
CPU should not grow with the number of partitions (the design it replaced read every part in
every partition: quadratic in the county's size). For each size the parts are rewritten as
``decide_task`` writes them for that plan (into ``--work``, never the scan's folder), then
every partition is sized in turn (a serial map: CPU of one process, comparable across sizes).

Run by hand (the load average is printed; compare CPU times)::

    python benchmarks/bench_scan.py --work /tmp/bench-scan --parcels 100000
    python benchmarks/bench_households.py --county /tmp/bench-scan/county-100000 \\
        --scan /tmp/bench-scan/out-100000-local --key /tmp/bench-scan/pseudonym.key \\
        --sizes 20000 2000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scan import county_files


def measure(county: Path, scan_dir: Path, sizes: list[int], work: Path) -> list[dict[str, Any]]:
    """Size the households of ``scan_dir`` at each partition size; one row of figures each."""
    import pandas as pd  # noqa: PLC0415

    from agrilend.credit import load_policy  # noqa: PLC0415
    from agrilend.inputs import load_inputs  # noqa: PLC0415
    from agrilend.scan import county_flow as flow  # noqa: PLC0415
    from agrilend.scan import households as hh  # noqa: PLC0415
    from agrilend.scan.county_step import PEER_TILE_PX, read_geo  # noqa: PLC0415
    from agrilend.scan.parts import partition, storage_blocks  # noqa: PLC0415

    files = county_files(county)
    inputs = load_inputs(files, chunks={})
    titles, cube = inputs.titles.reset_index(drop=True), inputs.cube
    if titles.crs is not None and titles.crs != cube.rio.crs:
        titles = titles.to_crs(cube.rio.crs.to_wkt())
    plan_json = json.loads((scan_dir / "scan.json").read_text(encoding="utf-8"))
    chunks = partition(
        titles, transform=cube.rio.transform(), shape=(cube.sizes["y"], cube.sizes["x"]),
        chunk_size_px=int(plan_json["chunk_size_px"]), block=storage_blocks(files.imagery),
    )  # fmt: skip
    times = pd.DatetimeIndex(cube.indexes["time"])
    specs = flow._specs(scan_dir, chunks, titles, {}, width=len(times),
                        grid_width=len(flow.county_grid(times)),
                        peer_tile_px=PEER_TILE_PX)  # fmt: skip
    frames = [read_geo(s.final) for s in specs]  # the scan's final rows, once
    policy = inputs.policy or load_policy()
    as_of = (pd.Timestamp(times.max()) + pd.Timedelta(days=1)).date()
    yields = dict(inputs.county_yields) if inputs.county_yields else None
    rows = []
    for size in sizes:
        hh.HOUSEHOLD_PARTITION_PARCELS = size
        folder = work / f"size-{size}"
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "parts").mkdir(parents=True)
        plan = hh.plan_households(chunks, titles, subsidies=inputs.subsidies, extras=None,
                                  policy=policy, as_of=as_of)  # fmt: skip
        groups = []
        for spec, frame, part in zip(specs, frames, plan.parts, strict=True):
            path = str(folder / "parts" / Path(spec.final).name)
            groups.append((path, hh.write_final(frame, path, part)))
        wall, cpu = time.perf_counter(), time.process_time()
        sized, *_ = hh.size_in_partitions(
            folder / "households.parquet", folder, plan, groups, subsidies=inputs.subsidies,
            climate=None, as_of=as_of, reference_yields=yields,
            run=lambda fn, args: [fn(*a) for a in args],
        )  # fmt: skip
        rows.append({
            "parcels": len(titles), "chunks": len(chunks), "partition_parcels": size,
            "partitions": len(sized), "households": sum(r["households"] for r in sized),
            "rows_read": sum(r.get("rows", 0) for r in sized),
            "row_groups_read": sum(r.get("row_groups", 0) for r in sized),
            "wall_s": round(time.perf_counter() - wall, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "largest_task_rss_growth_mb": round(max(
                (r["rss_mb"][1] - r["rss_mb"][0] for r in sized if "rss_mb" in r), default=0.0)),
            "load_average": [round(x, 1) for x in os.getloadavg()],
        })  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--county", type=Path, required=True, help="bench_scan's county-N folder")
    ap.add_argument("--scan", type=Path, required=True, help="its finished results folder")
    ap.add_argument("--key", type=Path, help="the pseudonym key the scan used")
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 2_000])
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: temp)")
    a = ap.parse_args()
    if a.key is not None:
        os.environ["AGRILEND_PSEUDONYM_KEY_FILE"] = str(a.key)
    print(f"load average {os.getloadavg()}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        for row in measure(a.county, a.scan, a.sizes, a.work or Path(tmp)):
            print(json.dumps(row))
            print(f"  {row['partitions']} partitions of ~{row['partition_parcels']:,} parcels: "
                  f"{row['cpu_s']} s CPU, {row['wall_s']} s wall; {row['rows_read']:,} rows "
                  f"in {row['row_groups_read']:,} row groups read for {row['parcels']:,} "
                  "parcels")  # fmt: skip


if __name__ == "__main__":
    main()
