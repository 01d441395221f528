"""What the input gate costs on a large registry: CPU time of the gate's checks against reading.

Builds a synthetic registry of N multipolygon titles (default 200,000), written as GeoParquet,
GeoPackage and GeoJSON, then measures in this process the CPU time of the content gate
(``agrilend._gate.check_vector``, plus the WKB nesting check for Parquet) and of GDAL/pyarrow
reading the same file, and prints their ratio. Run by hand:

    python benchmarks/bench_gate.py [N]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyarrow.parquet as pq
import pyogrio
import shapely

from agrilend._gate import check_vector
from agrilend._limits import check_wkb_column


def _cpu(f: object) -> float:
    t = time.process_time()
    f()  # type: ignore[operator]
    return time.process_time() - t


def main(n: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(500_000, 560_000, n)
    y = rng.uniform(4_000_000, 4_060_000, n)
    boxes = shapely.box(x, y, x + 60, y + 40)
    geoms = shapely.multipolygons(np.stack([boxes, shapely.box(x + 80, y, x + 140, y + 40)], 1))
    gdf = gpd.GeoDataFrame(
        {"DKBM": [f"P{i:09d}" for i in range(n)], "CBFBM": [f"O{i // 3:08d}" for i in range(n)]},
        geometry=geoms,
        crs="EPSG:32650",
    )
    print(f"load average {os.getloadavg()} (machine shared; CPU times, not wall)")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        paths = {
            "GeoParquet": d / "t.parquet",
            "GeoPackage": d / "t.gpkg",
            "GeoJSON": d / "t.geojson",
        }
        gdf.to_parquet(paths["GeoParquet"])
        gdf.to_file(paths["GeoPackage"], driver="GPKG")
        gdf.to_crs(4326).to_file(paths["GeoJSON"], driver="GeoJSON")
        print(f"{n:,} multipolygon titles")
        print(f"{'format':<11} {'MB':>7} {'gate s':>8} {'read s':>8} {'gate/read':>10}")
        for name, p in paths.items():
            if name == "GeoParquet":
                table = pq.read_table(p)  # read_titles reads it anyway: the gate adds the check

                def gate(p: Path = p, table: object = table) -> None:
                    check_vector(p)
                    check_wkb_column(table.column("geometry"), "bench")  # type: ignore[attr-defined]

                def read(p: Path = p) -> None:
                    gpd.read_parquet(p)
            else:

                def gate(p: Path = p) -> None:
                    check_vector(p)

                def read(p: Path = p) -> None:
                    pyogrio.read_dataframe(p)

            g, r = _cpu(gate), _cpu(read)
            mb = p.stat().st_size / 2**20
            print(f"{name:<11} {mb:7.1f} {g:8.2f} {r:8.2f} {g / r:10.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
