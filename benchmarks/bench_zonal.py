"""Zonal engine benchmark: agrilend against exactextract and rasterstats on one synthetic stack.

The job, for every tool: from raw L2A digital numbers (B04, B08 uint16) and the SCL layer, per
parcel and date, the SCL-masked NDVI's coverage-weighted mean, p10/p50/p90 and clear fraction.

    python benchmarks/bench_zonal.py            # 4000 x 4000 px, 36 dates, 20,000 parcels
    python benchmarks/bench_zonal.py --quick    # 1000 x 1000 px, 8 dates, 1,250 parcels

Prints the machine, parcel-dates per second for each tool and their ratios, peak extra memory,
agrilend's per-date time against a numpy pass over the same stack (the memory bandwidth
yardstick), how agrilend's cost grows with parcels and dates, and a dense 160,000-parcel tiling
(full run only). exactextract is given the NDVI through a raster source that computes it window
by window from the same arrays (its best case: coverage computed once per parcel for all dates,
no NDVI stack in memory); rasterstats gets a precomputed NDVI array per date and, being slow,
runs on a sample of parcels and dates whose rate is reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import psutil
import shapely
from affine import Affine
from exactextract import exact_extract
from exactextract.raster import RasterSource
from rasterstats import zonal_stats
from shapely import affinity

from agrilend.parcels import _zonal_kernels as zk
from agrilend.parcels.pixels import parcel_pixels
from agrilend.parcels.zonal import zonal_index_stats

CRS = "EPSG:32650"
X0, Y0, RES = 400_000.0, 4_000_000.0, 10.0
STATS = ("mean", "p10", "p50", "p90")
SCL_CLEAR = (4, 5, 6, 7)


# --- machine and memory --------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    ram = psutil.virtual_memory().total / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {ram:.1f} GiB "
        f"RAM, Python {platform.python_version()}, numpy {np.__version__}"
    )


@dataclass
class Peak:
    base: int = 0
    peak: int = 0
    samples: list[int] = field(default_factory=list)

    @property
    def extra_gib(self) -> float:
        return (self.peak - self.base) / 2**30


@contextmanager
def peak_memory() -> Iterator[Peak]:
    """Sample this process's RSS every 2 ms; report the peak above the starting RSS."""
    proc = psutil.Process()
    rec = Peak(base=proc.memory_info().rss)
    rec.peak = rec.base
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rec.peak = max(rec.peak, proc.memory_info().rss)
            stop.wait(0.002)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    try:
        yield rec
    finally:
        stop.set()
        th.join()
        rec.peak = max(rec.peak, proc.memory_info().rss)


@dataclass
class Took:
    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:.2f} s wall / {self.cpu:.2f} s CPU"


def timed(fn: Callable[[], Any]) -> tuple[Took, Any, Peak]:
    """Wall and CPU time (the machine is shared: CPU time is the steadier figure)."""
    with peak_memory() as mem:
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        took = Took(time.perf_counter() - t, time.process_time() - c)
    return took, out, mem


# --- data ----------------------------------------------------------------------------------------


def make_stack(
    rng: np.random.Generator, nt: int, size: int, cloudy: int = 3
) -> dict[str, np.ndarray[Any, Any]]:
    """Random DN stack; ``cloudy`` of 20 SCL draws are cloud, shadow or no data (3: 15 %)."""
    red = rng.integers(1100, 3000, (nt, size, size), dtype=np.uint16)
    nir = rng.integers(1500, 6000, (nt, size, size), dtype=np.uint16)
    # SCL: vegetation and bare soil (5 : 1), the rest cloud, shadow or no data
    clear = 20 - cloudy
    veg = round(clear * 5 / 6)
    lut = np.array([4] * veg + [5] * (clear - veg) + [8, 9, 3] * cloudy, dtype=np.uint8)[:20]
    scl = lut[rng.integers(0, 20, (nt, size, size), dtype=np.uint8)]
    return {"B04": red, "B08": nir, "SCL": scl}


#: Real registry files of ../shared/data/parcels (see its README), read with geopandas; the
#: Portuguese sample has no polygon and is left out.
def _registry_files(root: Path) -> dict[str, str]:
    z = "/vsizip/"
    return {
        "at": f"{z}{root}/at/inspire_schlaege_2025-1_polygon.gpkg.zip/"
        "INSPIRE_SCHLAEGE_2025-1_POLYGON.gpkg",
        "be_vlg": f"{z}{root}/be_vlg/Landbouwgebruikspercelen_2023_-_Definitief_"
        "(extractie_28-03-2024)_GPKG.zip/Landbouwgebruikspercelen_2023_-_Definitief_"
        "(extractie_28-03-2024).gpkg",
        "ch": f"{root}/ch/lwb_nutzungsflaechen_v2_0_lv95.gpkg",
        "de_bb": f"{z}{root}/de_bb/antrag.zip/antrag_land_gem.shp",
        "ec_lv": f"{z}{root}/ec_lv/LV_2021.zip/LV_2021/LV_2021_EC21.shp",
        "ec_si": f"{z}{root}/ec_si/SI_2021.zip/SI_2021_EC21.shp",
        "fr": f"{root}/fr/rpg_2022_sample.gpkg",
        "ai4sf_vn": f"{root}/ai4sf/1_vietnam_areas.gpkg",
        "ai4sf_kh": f"{root}/ai4sf/4_cambodia_areas.gpkg",
        "india_10k": f"{z}{root}/india_10k/india_10k.zip/india_10k.shp",
        "jecam": f"{root}/jecam/BD_JECAM_CIRAD_2023_feb.shp",
    }


def real_shapes(root: Path) -> tuple[np.ndarray[Any, Any], dict[str, int]]:
    """Every polygon of the registries, in metres (its own UTM zone), centred on (0, 0)."""
    shapes: list[Any] = []
    counts: dict[str, int] = {}
    for name, path in _registry_files(root).items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                g = gpd.read_file(path)
        except Exception as exc:  # a registry that does not open is reported, not fatal
            print(f"  {name}: not read ({type(exc).__name__})")
            continue
        g = g[g.geometry.notna() & ~g.geometry.is_empty]
        g = g[g.geom_type.isin(["Polygon", "MultiPolygon"])]
        if g.empty or g.crs is None:
            continue
        g = g.to_crs(g.estimate_utm_crs()) if g.crs.is_geographic else g
        geoms = shapely.make_valid(g.geometry.to_numpy())
        c = shapely.centroid(geoms)
        shapes.extend(
            affinity.translate(x, -cx, -cy)
            for x, cx, cy in zip(geoms, shapely.get_x(c), shapely.get_y(c), strict=True)
        )
        counts[name] = len(g)
    return np.asarray(shapes, dtype=object), counts


def tiled_real_parcels(
    rng: np.random.Generator, shapes: np.ndarray[Any, Any], n: int, size: int
) -> gpd.GeoDataFrame:
    """Up to ``n`` copies of the real shapes, packed on shelves over the grid (no overlap):
    tallest first, so that each shelf wastes little room."""
    order = np.concatenate([rng.permutation(len(shapes)) for _ in range(n // len(shapes) + 1)])
    extent = size * RES
    gap = 2 * RES
    chosen = [shapes[k] for k in order[:n]]
    heights = np.array([g.bounds[3] - g.bounds[1] for g in chosen])
    placed: list[Any] = []
    x = y = 0.0
    row_h = -1.0
    for k in np.argsort(-heights, kind="stable"):
        g = chosen[k]
        minx, miny, maxx, maxy = g.bounds
        w, h = maxx - minx, maxy - miny
        if w + 2 * gap > extent or h + 2 * gap > extent:
            continue
        if row_h < 0:
            row_h = h
        if x + w + gap > extent:
            x, y, row_h = 0.0, y + row_h + gap, h
        if y + row_h + gap > extent:
            break
        placed.append(affinity.translate(g, X0 + gap + x - minx, Y0 - gap - y - maxy))
        x += w + gap
    return gpd.GeoDataFrame(
        {"parcel_id": [f"R{i:06d}" for i in range(len(placed))]}, geometry=placed, crs=CRS
    )


def sparse_parcels(rng: np.random.Generator, n: int, size: int) -> gpd.GeoDataFrame:
    """n non-overlapping parcels of 0.1-2 ha: irregular octagons, one per cell of a grid."""
    k = int(np.ceil(np.sqrt(n)))
    cell = size * RES / k
    area = rng.uniform(1_000, 20_000, n)
    aspect = rng.uniform(1, 2, n)
    w = np.sqrt(area * aspect)
    h = area / w
    theta = rng.uniform(0, np.pi, n)
    # a rectangle's corners and edge midpoints, jittered by up to 6 % of the short side
    ux = np.array([-0.5, 0, 0.5, 0.5, 0.5, 0, -0.5, -0.5])
    uy = np.array([-0.5, -0.5, -0.5, 0, 0.5, 0.5, 0.5, 0])
    jit = rng.uniform(-0.06, 0.06, (n, 8, 2)) * h[:, None, None]
    px = ux[None] * w[:, None] + jit[..., 0]
    py = uy[None] * h[:, None] + jit[..., 1]
    rx = px * np.cos(theta)[:, None] - py * np.sin(theta)[:, None]
    ry = px * np.sin(theta)[:, None] + py * np.cos(theta)[:, None]
    slot = rng.permutation(k * k)[:n]
    half = np.hypot(w, h) / 2 * 1.07
    room = np.maximum(cell / 2 - half, 0)
    cx = X0 + (slot % k + 0.5) * cell + rng.uniform(-1, 1, n) * room
    cy = Y0 - (slot // k + 0.5) * cell + rng.uniform(-1, 1, n) * room
    ring = np.stack([rx + cx[:, None], ry + cy[:, None]], axis=-1)
    ring = np.concatenate([ring, ring[:, :1]], axis=1)
    polys = shapely.polygons(ring)
    return gpd.GeoDataFrame({"parcel_id": [f"P{i:06d}" for i in range(n)]}, geometry=polys,
                            crs=CRS)  # fmt: skip


def dense_tiling(rng: np.random.Generator, per_side: int, size: int) -> gpd.GeoDataFrame:
    """per_side^2 quadrilaterals tiling the whole grid (a jittered mesh, ~1 ha each here)."""
    step = size * RES / per_side
    gx, gy = np.meshgrid(np.arange(per_side + 1) * step, np.arange(per_side + 1) * step)
    jx = rng.uniform(-0.3, 0.3, gx.shape) * step
    jy = rng.uniform(-0.3, 0.3, gy.shape) * step
    jx[:, [0, -1]] = 0
    jy[[0, -1], :] = 0
    x = X0 + gx + jx
    y = Y0 - gy - jy
    i, j = np.meshgrid(np.arange(per_side), np.arange(per_side), indexing="ij")
    corners = [(i, j), (i, j + 1), (i + 1, j + 1), (i + 1, j), (i, j)]
    ring = np.stack([np.stack([x[a, b], y[a, b]], axis=-1) for a, b in corners], axis=-2)
    polys = shapely.polygons(ring.reshape(-1, 5, 2))
    n = polys.size
    return gpd.GeoDataFrame({"parcel_id": [f"D{i:06d}" for i in range(n)]}, geometry=polys,
                            crs=CRS)  # fmt: skip


# --- the three tools -----------------------------------------------------------------------------


def run_agrilend(
    stack: dict[str, np.ndarray[Any, Any]], titles: gpd.GeoDataFrame, transform: Affine,
    nt: int | None = None,
) -> tuple[float, float, dict[str, Any]]:  # fmt: skip
    """(setup wall seconds, statistics CPU seconds, result)."""
    size = stack["B04"].shape[1]
    t = time.perf_counter()
    px = parcel_pixels(titles, transform=transform, shape=(size, size))
    setup = time.perf_counter() - t
    sl = slice(0, nt)
    t = time.process_time()
    out = zonal_index_stats(
        {"B04": stack["B04"][sl], "B08": stack["B08"][sl]}, stack["SCL"][sl], px,
        stats=STATS, scale=1e-4, offset=-0.1, clear_classes=SCL_CLEAR,
    )  # fmt: skip
    return setup, time.process_time() - t, out


def ndvi_window(
    stack: dict[str, np.ndarray[Any, Any]], t: int, rows: slice, cols: slice
) -> np.ndarray[Any, Any]:
    red = stack["B04"][t, rows, cols].astype(np.float32) - 1000
    nir = stack["B08"][t, rows, cols].astype(np.float32) - 1000
    clear = np.isin(stack["SCL"][t, rows, cols], SCL_CLEAR) & (red > -1000) & (nir > -1000)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
    return np.where(clear, ndvi, np.float32(np.nan))


def run_exactextract(
    stack: dict[str, np.ndarray[Any, Any]], titles: gpd.GeoDataFrame, transform: Affine
) -> tuple[float, Any]:
    nt, size, _ = stack["B04"].shape
    ext = (X0, Y0 - size * RES, X0 + size * RES, Y0)
    wkt = titles.crs.to_wkt()

    class Source(RasterSource):  # type: ignore[misc]
        """NDVI of date ``t`` computed window by window from the DN arrays (or ones)."""

        def __init__(self, t: int | None) -> None:
            super().__init__()
            self.t = t
            self.set_name("ones" if t is None else f"d{t:02d}")

        def res(self) -> tuple[float, float]:
            return (RES, RES)

        def extent(self) -> tuple[float, float, float, float]:
            return ext

        def srs_wkt(self) -> str:
            return wkt

        def nodata_value(self) -> float:
            return float("nan")

        def read_window(self, x0: int, y0: int, nx: int, ny: int) -> np.ndarray[Any, Any]:
            if self.t is None:
                return np.ones((ny, nx), dtype=np.float32)
            return ndvi_window(stack, self.t, slice(y0, y0 + ny), slice(x0, x0 + nx))

    sources = [Source(t) for t in range(nt)] + [Source(None)]
    ops = ["mean", "quantile(q=0.1)", "quantile(q=0.5)", "quantile(q=0.9)", "count"]
    t = time.perf_counter()
    df = exact_extract(sources, titles, ops, output="pandas")
    return time.perf_counter() - t, df


def run_rasterstats(
    stack: dict[str, np.ndarray[Any, Any]], titles: gpd.GeoDataFrame, transform: Affine,
    dates: int,
) -> tuple[float, int]:  # fmt: skip
    size = stack["B04"].shape[1]
    geoms = list(titles.geometry)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for d in range(dates):
            ndvi = ndvi_window(stack, d, slice(0, size), slice(0, size))
            zonal_stats(geoms, ndvi, affine=transform, nodata=np.nan, all_touched=False,
                        stats="mean count percentile_10 percentile_50 percentile_90")  # fmt: skip
    return time.perf_counter() - t, len(geoms) * dates


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small configuration for development")
    ap.add_argument("--no-dense", action="store_true", help="skip the dense tiling")
    ap.add_argument(
        "--real-only", action="store_true", help="only the real parcel shapes (no octagons)"
    )
    ap.add_argument(
        "--parcels", type=Path,
        default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "parcels",
        help="the real registry samples (../shared/data/parcels)",
    )  # fmt: skip
    args = ap.parse_args()
    if args.quick:
        size, nt, n, rs_parcels, rs_dates, dense_side = 1000, 8, 1_250, 1_250, 1, 100
    else:
        size, nt, n, rs_parcels, rs_dates, dense_side = 4000, 36, 20_000, 2_000, 2, 400
    rng = np.random.default_rng(42)
    transform = Affine(RES, 0, X0, 0, -RES, Y0)
    print(f"machine: {machine()}")
    print(f"numba threads: single-threaded kernels; load average {os.getloadavg()}")

    # numba compile (or cache load) on a toy problem, reported apart
    toy = make_stack(rng, 2, 50)
    toy_titles = sparse_parcels(rng, 4, 50)
    t = time.perf_counter()
    run_agrilend(toy, toy_titles, transform)
    print(f"numba compile / cache load: {time.perf_counter() - t:.2f} s (once per process)")
    if args.real_only:
        ratio = real_shapes_run(rng, args)
        print(f"\nreal parcel shapes: {ratio:.1f}x exactextract per CPU-second")
        return

    t = time.perf_counter()
    stack = make_stack(rng, nt, size)
    titles = sparse_parcels(rng, n, size)
    stack_bytes = sum(a.nbytes for a in stack.values())
    ha = titles.area / 1e4
    print(
        f"\nstack: {size} x {size} px, {nt} dates, B04+B08 uint16 + SCL uint8 = "
        f"{stack_bytes / 2**30:.2f} GiB (made in {time.perf_counter() - t:.1f} s)"
    )
    print(
        f"parcels: {n:,} non-overlapping, {ha.min():.2f}-{ha.max():.2f} ha (mean {ha.mean():.2f})"
    )

    # memory bandwidth yardstick: a pass reading every byte of the stack once, in its own dtype
    # (np.max is vectorised; summing into uint64 would measure a widening conversion instead)
    tk_bw = min((timed(lambda: [np.max(a) for a in stack.values()])[0] for _ in range(3)),
                key=lambda t: t.cpu)  # fmt: skip
    bw = stack_bytes / tk_bw.cpu / 2**30
    for a in stack.values():  # compile for each dtype and layout first, outside the timing
        zk.block_sum(np.ascontiguousarray(a[:1, :2, :2]))
    tk_nb, _, _ = timed(lambda: [zk.block_sum(a) for a in stack.values()])
    print(f"read every byte once (np.max, best of 3): {tk_bw} = {bw:.1f} GiB/s of CPU time "
          f"(a plain numba loop, compiled beforehand: "
          f"{stack_bytes / tk_nb.cpu / 2**30:.1f} GiB/s)")  # fmt: skip

    # agrilend, the whole job
    tk_ag, (setup, stats_t, out), mem_ag = timed(lambda: run_agrilend(stack, titles, transform))
    pd_total = n * nt
    rate_ag = pd_total / tk_ag.cpu
    print(f"\nagrilend: {tk_ag} (setup (pixels, weights) {setup:.2f} s wall, statistics "
          f"{stats_t:.2f} s CPU) -> {rate_ag:,.0f} parcel-dates per CPU second "
          f"({pd_total / tk_ag.wall:,.0f} per wall second); peak extra memory "
          f"{mem_ag.extra_gib:.2f} GiB "
          f"({mem_ag.extra_gib * 2**30 / stack_bytes:.1%} of the stack)")  # fmt: skip
    per_date = stats_t / nt
    date_bytes = stack_bytes / nt
    print(f"  per date {per_date * 1e3:.0f} ms CPU; streaming one date's "
          f"{date_bytes / 2**20:.0f} MiB "
          f"at numpy's rate takes {date_bytes / (bw * 2**30) * 1e3:.0f} ms "
          f"-> agrilend runs at {date_bytes / (bw * 2**30) / per_date:.0%} of memory bandwidth "
          f"(measured on the whole date, though it reads only the parcels' pixels)")  # fmt: skip
    px = parcel_pixels(titles, transform=transform, shape=(size, size))
    print(f"  parcels' pixels: {px.index.size:,} ({px.index.size / size**2:.1%} of the grid); "
          f"{px.index.size * nt / stats_t / 1e6:.0f} M pixel-dates/s")  # fmt: skip

    # exactextract
    tk_ee, df, mem_ee = timed(lambda: run_exactextract(stack, titles, transform)[1])
    rate_ee = pd_total / tk_ee.cpu
    print(f"\nexactextract: {tk_ee} -> {rate_ee:,.0f} parcel-dates per CPU second "
          f"({pd_total / tk_ee.wall:,.0f} per wall second); peak extra memory "
          f"{mem_ee.extra_gib:.2f} GiB")  # fmt: skip
    d0 = df["d00_mean"].to_numpy(dtype=float)
    mine = out["NDVI_mean"][:, 0]
    ok = np.isfinite(d0)
    rel = np.max(np.abs(mine[ok] - d0[ok]) / np.abs(d0[ok]))
    # exactextract's NDVI is float32, agrilend's float64: agreement to float32 rounding
    print(f"  agreement on date 0 means: max relative difference {rel:.1e}")

    # rasterstats on a sample, scaled
    sample = titles.iloc[:rs_parcels]
    tk_rs, (_, n_rs), _ = timed(lambda: run_rasterstats(stack, sample, transform, rs_dates))
    rate_rs = n_rs / tk_rs.cpu
    print(f"\nrasterstats: {n_rs:,} parcel-dates ({rs_parcels:,} parcels x {rs_dates} dates) in "
          f"{tk_rs} -> {rate_rs:,.0f} parcel-dates per CPU second (centre rule; whole job: "
          f"{pd_total / rate_rs / 60:.1f} min)")  # fmt: skip

    print(f"\nratios (CPU time): agrilend / exactextract = {rate_ag / rate_ee:.1f}x, "
          f"agrilend / rasterstats = {rate_ag / rate_rs:.0f}x; (wall time) agrilend / "
          f"exactextract = {tk_ee.wall / tk_ag.wall:.1f}x")  # fmt: skip

    # how agrilend's cost grows
    print("\nagrilend scaling (statistics only; setup shown apart):")
    for frac in (0.25, 0.5, 1.0):
        sub = titles.iloc[: int(n * frac)]
        for dates in sorted({max(nt // 4, 1), max(nt // 2, 1), nt}):
            c = time.process_time()
            s, st, _ = run_agrilend(stack, sub, transform, nt=dates)
            cpu = time.process_time() - c
            k = len(sub) * dates
            print(f"  {len(sub):>7,} parcels x {dates:>2} dates: setup {s:6.2f} s wall, "
                  f"statistics {st:6.2f} s CPU = {st / k * 1e6:5.2f} us/parcel-date; whole job "
                  f"{cpu:6.2f} s CPU")  # fmt: skip

    if not args.no_dense:
        dense = dense_tiling(rng, dense_side, size)
        tk_d, (s, st, _), mem_d = timed(lambda: run_agrilend(stack, dense, transform))
        k = len(dense) * nt
        print(f"\ndense tiling: {len(dense):,} parcels covering the grid "
              f"(mean {dense.area.mean() / 1e4:.2f} ha) x {nt} dates: {tk_d} "
              f"(setup {s:.2f} s wall, statistics {st:.2f} s CPU) -> {k / tk_d.cpu:,.0f} "
              f"parcel-dates per CPU second; per date {st / nt * 1e3:.0f} ms CPU vs "
              f"{date_bytes / (bw * 2**30) * 1e3:.0f} ms to stream it; peak extra memory "
              f"{mem_d.extra_gib:.2f} GiB")  # fmt: skip

    stack.clear()  # free the octagons' stack before the real shapes' one
    real_ratio = real_shapes_run(rng, args)
    print(f"\nreal parcel shapes: {real_ratio:.1f}x exactextract per CPU-second")


def real_shapes_run(rng: np.random.Generator, args: argparse.Namespace) -> float:
    """agrilend and exactextract in the same run on copies of real registry parcels."""
    if args.quick:
        size, nt, n = 1000, 8, 1_500
    else:
        size, nt, n = 3000, 24, 15_000
    shapes, counts = real_shapes(args.parcels)
    if not len(shapes):
        raise SystemExit(f"no parcel shapes read from {args.parcels}")
    titles = tiled_real_parcels(rng, shapes, n, size)
    ha = titles.area / 1e4
    stack = make_stack(rng, nt, size, cloudy=6)  # 30 % of pixel-dates not clear
    transform = Affine(RES, 0, X0, 0, -RES, Y0)
    print(
        f"\nreal parcel shapes: {len(shapes)} polygons from {len(counts)} registries "
        f"({', '.join(f'{k} {v}' for k, v in counts.items())}), {len(titles):,} copies on "
        f"{size} x {size} px x {nt} dates (30 % not clear); {ha.median():.2f} ha median, "
        f"{ha.mean():.2f} ha mean, {ha.max():.1f} ha max; load average {os.getloadavg()}"
    )
    tk_ag, (setup, stats_t, out), _ = timed(lambda: run_agrilend(stack, titles, transform))
    tk_ee, df, _ = timed(lambda: run_exactextract(stack, titles, transform)[1])
    k = len(titles) * nt
    d0 = df["d00_mean"].to_numpy(dtype=float)
    ok = np.isfinite(d0)
    rel = np.max(np.abs(out["NDVI_mean"][ok, 0] - d0[ok]) / np.abs(d0[ok]))
    p50 = np.abs(out["NDVI_p50"][:, 0] - df["d00_quantile_50"].to_numpy(dtype=float))
    print(
        f"  agrilend: {tk_ag} (setup {setup:.2f} s wall, statistics {stats_t:.2f} s CPU) -> "
        f"{k / tk_ag.cpu:,.0f} parcel-dates per CPU second"
    )
    print(f"  exactextract: {tk_ee} -> {k / tk_ee.cpu:,.0f} parcel-dates per CPU second")
    print(
        f"  agreement on date 0: means to {rel:.1e} relative; medians to "
        f"{np.nanmax(p50):.1e} absolute, {np.nanmean(p50 < 1e-5):.1%} of them within 1e-5 "
        f"(exactextract reads this NDVI as float32, where values float64 keeps apart tie); "
        f"load average now {os.getloadavg()}"
    )
    return float(tk_ee.cpu / tk_ag.cpu)


if __name__ == "__main__":
    main()
