"""How fast the synthetic county is made, and how it compares with real Sentinel-2 and parcels.

Run once: ``python benchmarks/bench_synthetic.py``. Prints (1) generation time per county size,
(2) reflectance and NDVI statistics of the committed ``sample_data/imagery.nc`` beside the real
L2A cubes in ``../shared/data/imagery`` (Spain 2019, Belgium 2023), all opened with agrilend's
own ``open_cube``, and (3) parcel sizes beside real smallholder field boundaries (ai4sf).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agrilend.remote_sensing.sources.local import open_cube  # noqa: E402
from agrilend.synthetic import build_county  # noqa: E402

SHARED = REPO.parent / "shared" / "data"


def timing() -> None:
    print(f"{'size (px)':<12} {'km2':>6} {'parcels':>8} {'seconds':>8}")
    for n in (60, 120, 180):
        t = time.perf_counter()
        c = build_county(size_px=(n, n))
        dt = time.perf_counter() - t
        print(f"{n}x{n:<8} {n * n / 1e4:>6.2f} {len(c.titles):>8} {dt:>8.1f}")


def cube_stats(name: str, path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cube = open_cube(path)
    red = cube["B04"].to_numpy()
    nir = cube["B08"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        ndvi = (nir - red) / (nir + red)
    scl = cube["SCL"].to_numpy() if "SCL" in cube else np.full(red.shape, 4)
    valid = cube["valid"].to_numpy()
    dense = valid & (scl == 4) & (ndvi > 0.7)
    bare = valid & (scl == 5)
    # temporal noise: |NDVI change| between consecutive clear looks at the same pixel
    steps = []
    for t in range(1, ndvi.shape[0]):
        both = valid[t] & valid[t - 1]
        steps.append(np.abs(ndvi[t][both] - ndvi[t - 1][both]))
    flat = np.concatenate(steps) if steps else np.array([])
    step = float(np.median(flat)) if flat.size else float("nan")
    days = np.median(np.diff(cube.indexes["time"].to_numpy()).astype("timedelta64[D]").astype(int))

    def q(a: np.ndarray, m: np.ndarray) -> str:
        v = a[m]
        return "-" if v.size == 0 else f"{np.median(v):.3f}"

    print(
        f"{name:<22} {valid.mean():>6.2f} {q(red, dense):>9} {q(nir, dense):>9} "
        f"{q(red, bare):>9} {q(nir, bare):>9} {q(ndvi, bare):>9} {np.nanmax(ndvi[valid]):>7.2f} "
        f"{step:>9.3f} {days:>5}"
    )


def parcel_sizes() -> None:
    t = gpd.read_file(REPO / "sample_data" / "titles.gpkg", layer="titles")
    a = t.geometry.area / 1e4
    print(f"{'source':<26} {'n':>5} {'median ha':>9} {'p10':>6} {'p90':>6}")
    print(f"{'synthetic titles':<26} {len(a):>5} {a.median():>9.2f} {a.quantile(0.1):>6.2f} "
          f"{a.quantile(0.9):>6.2f}")  # fmt: skip
    for f in sorted((SHARED / "parcels" / "ai4sf").glob("*.gpkg")):
        g = gpd.read_file(f)
        g = g.to_crs(g.estimate_utm_crs()) if g.crs and g.crs.is_geographic else g
        a = g.geometry.area / 1e4
        print(f"{'ai4sf ' + f.stem:<26} {len(a):>5} {a.median():>9.2f} {a.quantile(0.1):>6.2f} "
              f"{a.quantile(0.9):>6.2f}")  # fmt: skip


def main() -> None:
    print("== generation time (build_county in memory, seed 20240601) ==")
    timing()
    print("\n== reflectance (median over clear pixel-dates) ==")
    heads = ["valid", "red@NDVI>.7", "nir@NDVI>.7", "red bare", "nir bare", "ndvi bare"]
    print(f"{'cube':<22} " + " ".join(f"{h:>9}" for h in heads) + "  maxNDVI   |dNDVI|  days")
    cube_stats("synthetic (sample)", REPO / "sample_data" / "imagery.nc")
    cube_stats("Spain field 2019", SHARED / "imagery" / "spain" / "spain_field_l2a_2019.nc")
    cube_stats("Belgium L2A 2023 Q4", SHARED / "imagery" / "belgium" / "belgium_l2a_scl_2023.nc")
    print("\n== parcel sizes ==")
    parcel_sizes()


if __name__ == "__main__":
    main()
