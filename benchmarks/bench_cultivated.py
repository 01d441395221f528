"""Cultivated area: the per-pixel seasonality test before and after it stopped smoothing every
pixel's curve, in CPU time per chunk and in error against the generator's truth.

*Before* is the path of main up to this change, kept here only for the comparison: every
parcel pixel's NDVI is put on the 5-day grid, despiked and Whittaker-smoothed into a
``(pixels, grid)`` array (one Cholesky factorisation per pixel, divisions in the solve), the
curve's max and min taken with ``nanmax``/``nanmin``, and the greenhouse rule's medians of blue
and NDVI taken over every pixel. *After* is the library: one compiled pass per pixel keeps only
the curve's max and min (:func:`agrilend.remote_sensing.timeseries.season_range`; a factor is
reused by the next pixel with the same clear dates), and the medians are taken only for the
pixels whose blue can reach the plastic threshold. The rules and thresholds are unchanged.

    python benchmarks/bench_cultivated.py                          # sample county + bench county
    python benchmarks/bench_cultivated.py --work /tmp/bench-scan   # reuse bench_scan's base tile

Prints the load average (the machine is shared: CPU seconds of this process, old and new in the
same run, are the figures to read), per county: CPU per chunk old/new and their ratio, the
cultivated-area error against ``truth.csv`` (MAE in ha and as a share of the true area, flag
precision/recall) old and new, and how many pixels the two paths judge differently; then the
real Spanish field and Slovenian parcels (no area truth there: old against new, and the mean
cultivated share of the Slovenian register's cultivated land against its grassland and forest).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from numba import njit

from agrilend.parcels import area as area_module
from agrilend.parcels.pixels import ParcelPixels, parcel_pixels
from agrilend.parcels.titles import read_titles
from agrilend.parcels.zonal import _grid_transform, pixel_values
from agrilend.pipeline import gather_evidence
from agrilend.remote_sensing import open_cube
from agrilend.remote_sensing.timeseries import (
    _second_difference_bands,
    despike,
    regularize,
)
from agrilend.scan.parts import partition

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AGRILEND_SHARED_DATA", REPO.parent / "shared" / "data"))
BASE_PX = 360


# --- the path before: every pixel's curve smoothed ------------------------------------------------


@njit(cache=True)
def _whittaker_rows_before(values, weights, lam, d0, d1, d2, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """main's kernel before the change: a factorisation per row, divisions in the solve."""
    rows, n = values.shape
    l0 = np.empty(n)
    l1 = np.zeros(n + 1)
    l2 = np.zeros(n + 2)
    z = np.empty(n)
    for r in range(rows):
        w = weights[r]
        first, last, count = -1, -1, 0
        for i in range(n):
            if w[i] > 0:
                count += 1
                last = i
                if first < 0:
                    first = i
        for i in range(n):
            out[r, i] = np.nan
        if count < 2:
            continue
        for i in range(n):
            d = w[i] + lam * d0[i] - l1[i] * l1[i] - l2[i] * l2[i]
            l0[i] = np.sqrt(max(d, 1e-300))
            if i + 1 < n:
                l1[i + 1] = (lam * d1[i] - l2[i + 1] * l1[i]) / l0[i]
            if i + 2 < n:
                l2[i + 2] = lam * d2[i] / l0[i]
        for i in range(n):
            s = w[i] * values[r, i]
            if i >= 1:
                s -= l1[i] * z[i - 1]
            if i >= 2:
                s -= l2[i] * z[i - 2]
            z[i] = s / l0[i]
        for i in range(n - 1, -1, -1):
            s = z[i]
            if i + 1 < n:
                s -= l1[i + 1] * z[i + 1]
            if i + 2 < n:
                s -= l2[i + 2] * z[i + 2]
            z[i] = s / l0[i]
        for i in range(first, last + 1):
            out[r, i] = z[i]


def _smooth_before(ndvi: np.ndarray, times: pd.DatetimeIndex) -> np.ndarray:
    """clean_series(..., "5D", whittaker, despike) as main computed it."""
    values, _ = regularize(ndvi, times, step="5D")
    values = despike(values, threshold=0.15)
    finite = np.isfinite(values)
    w = np.where(finite, 1.0, 0.0)
    out = np.full_like(values, np.nan)
    d0, d1, d2 = _second_difference_bands(values.shape[1])
    b = np.ascontiguousarray(np.where(finite, values, 0.0))
    _whittaker_rows_before(b, np.ascontiguousarray(w), 10.0, d0, d1, d2, out)
    return out


def cultivated_pixels_before(cube: xr.Dataset, pixels: ParcelPixels, **kw: float) -> np.ndarray:
    """The pixel rules as main judged them (see the module notes)."""
    rules = {"min_amplitude": 0.3, "min_peak": 0.5, "perennial_floor": 0.35,
             "plastic_blue": 0.15, "plastic_ndvi_max": 0.35} | kw  # fmt: skip
    if pixels.index.size == 0:
        return np.zeros(0, dtype=bool)
    uniq, entry_of = np.unique(np.asarray(pixels.index), return_inverse=True)
    if uniq.size < pixels.index.size:
        once = ParcelPixels(
            np.asarray(["pixels"], dtype=object), np.asarray([0, uniq.size], dtype=np.int64),
            uniq.astype(pixels.index.dtype), np.ones(uniq.size), pixels.shape, pixels.transform,
            pixels.weighting, pixels.inner_buffer_m,
        )  # fmt: skip
        return cultivated_pixels_before(cube, once, **kw)[entry_of.reshape(-1)]
    times = pd.DatetimeIndex(cube.indexes["time"])
    smooth = _smooth_before(pixel_values(cube, pixels, index="NDVI"), times)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        top, low = np.nanmax(smooth, axis=1), np.nanmin(smooth, axis=1)
    seen = np.isfinite(top)
    crop = seen & (top - np.where(seen, low, 0.0) >= rules["min_amplitude"])
    crop &= top >= rules["min_peak"]
    perennial = seen & (low >= rules["perennial_floor"]) & (top >= rules["min_peak"])
    plastic = np.zeros_like(crop)
    if "B02" in cube.data_vars:
        blue = area_module._row_nanmedian(pixel_values(cube, pixels, index="B02", masked=False))
        green = area_module._row_nanmedian(pixel_values(cube, pixels, masked=False))
        plastic = (blue >= rules["plastic_blue"]) & (green <= rules["plastic_ndvi_max"])
    return np.asarray(crop | perennial | plastic)


def run(before: bool, fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` with the old or the new pixel rules, and this process's CPU seconds for it."""
    ctx = (mock.patch.object(area_module, "cultivated_pixels", cultivated_pixels_before)
           if before else mock.patch.object(area_module, "cultivated_pixels",
                                             area_module.cultivated_pixels))  # fmt: skip
    with ctx:
        c0 = time.process_time()
        out = fn()
        return out, time.process_time() - c0


# --- scores ---------------------------------------------------------------------------------------


def score(out: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Area error and flag precision/recall against the generator's truth."""
    t = truth.loc[out.index]
    err = out["cultivated_area_ha"] - t["true_cultivated_area_ha"]
    idle = out["area_flag"] == "not_cultivated"
    over = out["area_flag"].isin(["over_declared", "partly_abandoned"])
    fallow, inflated = t["fallow"].astype(bool), t["over_declared"].astype(bool)
    return {
        "mae_ha": float(err.abs().mean()),
        "mae_pct": float(100 * err.abs().sum() / t["true_cultivated_area_ha"].sum()),
        "idle_p": float(fallow[idle].mean()), "idle_r": float(idle[fallow].mean()),
        "over_p": float(inflated[over].mean()), "over_r": float(over[inflated].mean()),
    }  # fmt: skip


def _fmt(s: dict[str, float]) -> str:
    return (f"MAE {s['mae_ha']:.4f} ha ({s['mae_pct']:.2f} %), not_cultivated P/R "
            f"{s['idle_p']:.2f}/{s['idle_r']:.2f}, over-declared P/R "
            f"{s['over_p']:.2f}/{s['over_r']:.2f}")  # fmt: skip


def county(name: str, folder: Path, chunk_px: int, repeat: int) -> None:
    """Old and new on one synthetic county, chunk by chunk as a scan cuts it."""
    cube = open_cube(folder / "imagery.nc").load()
    titles = read_titles(
        folder / "titles.gpkg", mapping=REPO / "sample_data" / "titles_mapping.toml"
    )
    titles = titles.reset_index(drop=True)
    truth = pd.read_csv(folder / "truth.csv", dtype={"parcel_id": str}).set_index("parcel_id")
    shape = (cube.sizes["y"], cube.sizes["x"])
    chunks = partition(titles, transform=cube.rio.transform(), shape=shape, chunk_size_px=chunk_px)
    jobs = []
    for c in chunks:
        r0, r1, c0, c1 = c.window
        window = cube.isel(y=slice(r0, r1), x=slice(c0, c1))
        part = titles.iloc[list(c.rows)]
        px = parcel_pixels(part, transform=_grid_transform(window),
                           shape=(window.sizes["y"], window.sizes["x"]))  # fmt: skip
        jobs.append((window, part, px))
    results: dict[bool, tuple[pd.DataFrame, float]] = {}
    run(False, lambda: area_module.cultivated_area(*jobs[0][:2], pixels=jobs[0][2]))  # compile
    run(True, lambda: area_module.cultivated_area(*jobs[0][:2], pixels=jobs[0][2]))
    for before in (True, False, True, False)[: 2 * repeat]:
        frames, cpu = [], 0.0
        for window, part, px in jobs:
            out, s = run(before, lambda w=window, p=part, x=px: area_module.cultivated_area(
                w, p, pixels=x))  # fmt: skip
            frames.append(out)
            cpu += s
        best = results.get(before)
        if best is None or cpu < best[1]:
            results[before] = (pd.concat(frames), cpu)
    old, new = results[True], results[False]
    n_px = sum(int(np.unique(np.asarray(px.index)).size) for _, _, px in jobs)
    print(f"\n{name}: {len(titles)} parcels, {len(chunks)} chunks of {chunk_px} px, "
          f"{n_px} parcel pixels, {cube.sizes['time']} dates")  # fmt: skip
    print(f"  CPU per chunk: before {1000 * old[1] / len(chunks):.1f} ms, after "
          f"{1000 * new[1] / len(chunks):.1f} ms: {old[1] / new[1]:.2f}x less "
          f"({1e6 * new[1] / n_px:.2f} us per pixel after)")  # fmt: skip
    print(f"  before: {_fmt(score(old[0], truth))}")
    print(f"  after:  {_fmt(score(new[0], truth))}")
    diff = (old[0]["cultivated_area_ha"] - new[0]["cultivated_area_ha"]).abs()
    flags = (old[0]["area_flag"] != new[0]["area_flag"]).sum()
    print(f"  after vs before: max |area difference| {diff.max():.2e} ha, {flags} flags differ")
    # the whole chunk's work (gather_evidence: validation, zonal, cleaning, phenology, area)
    whole = {}
    for before in (True, False):
        whole[before] = sum(run(before, lambda w=w, p=p: gather_evidence(w, p))[1]
                            for w, p, _ in jobs)  # fmt: skip
    print(f"  a chunk's whole evidence (gather_evidence): before "
          f"{1000 * whole[True] / len(chunks):.0f} ms, after "
          f"{1000 * whole[False] / len(chunks):.0f} ms per chunk: cultivated area was "
          f"{100 * old[1] / whole[True]:.0f} % of it, is "
          f"{100 * new[1] / whole[False]:.0f} %")  # fmt: skip


def real_data(repeat: int) -> None:
    """The Spanish field and the Slovenian parcels: after against before (no area truth)."""
    spain = SHARED / "imagery" / "spain" / "spain_field_l2a_2019.nc"
    slovenia = SHARED / "imagery" / "slovenia"
    if not spain.exists():
        print(f"\nreal data: {SHARED} not found, skipped")
        return
    cube = open_cube(spain).load()
    field = gpd.read_file(spain.with_name("spain_field.geojson")).to_crs(cube.rio.crs)
    field["parcel_id"] = [f"field{i}" for i in range(len(field))]
    fn = lambda: area_module.cultivated_area(cube, field)  # noqa: E731
    run(True, fn)
    (old, c_old), (new, c_new) = run(True, fn), run(False, fn)
    before, after = old["cultivated_fraction"].iloc[0], new["cultivated_fraction"].iloc[0]
    print(f"\nSpanish field ({cube.sizes['time']} dates): cultivated share before "
          f"{before:.3f}, after {after:.3f}; "
          f"CPU {1000 * c_old:.1f} ms -> {1000 * c_new:.1f} ms")  # fmt: skip

    raw = xr.open_dataset(slovenia / "slovenia_ndvi_2015_2017.nc", decode_coords="all").load()
    raw = raw.sel(time=slice("2017-01-01", "2017-12-31"))
    sl = raw[["NDVI"]].assign(valid=(raw["CLM"] == 0) & (raw["IS_DATA"] == 1))
    parcels = gpd.read_file(slovenia / "slovenia_landuse_parcels.gpkg").to_crs(sl.rio.crs)
    parcels["parcel_id"] = parcels["RABA_ID"].astype(str) + "-" + parcels.index.astype(str)
    fn = lambda: area_module.cultivated_area(sl, parcels)  # noqa: E731
    run(True, fn)
    (old, c_old), (new, c_new) = run(True, fn), run(False, fn)
    share = pd.DataFrame({"class": parcels["LULC_NAME"].to_numpy(),
                          "before": old["cultivated_fraction"].to_numpy(),
                          "after": new["cultivated_fraction"].to_numpy()})  # fmt: skip
    print(f"Slovenian parcels (2017, {sl.sizes['time']} dates, {len(parcels)} parcels): "
          f"max |share difference| {np.nanmax(np.abs(share['before'] - share['after'])):.2e}; "
          f"CPU {1000 * c_old:.1f} ms -> {1000 * c_new:.1f} ms")  # fmt: skip
    print("  mean cultivated share by register class (before / after):")
    for cls, g in share.groupby("class"):
        print(f"    {cls:<28} n={len(g):>3}  {g['before'].mean():.2f} / {g['after'].mean():.2f}")


def base_county(work: Path) -> Path:
    """bench_scan's base tile (same seed and size), generated once."""
    from agrilend.synthetic import generate_county  # noqa: PLC0415

    base = work / "base"
    if not (base / "imagery.nc").exists():
        generate_county(base, seed=5, size_px=(BASE_PX, BASE_PX), revisit_days=10,
                        weather_start="2014-01-01", fine=2, overwrite=True)  # fmt: skip
        shutil.copy(REPO / "sample_data" / "titles_mapping.toml", base / "titles_mapping.toml")
    return base


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-cultivated"))
    ap.add_argument("--chunk", type=int, default=256, help="chunk side in pixels (the scan's)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each path (the best counts)")
    args = ap.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load}, {os.cpu_count()} CPUs (shared machine: read the CPU ratios)")
    county(
        "sample county (sample_data, 180 x 180 px)", REPO / "sample_data", args.chunk, args.repeat
    )
    county(f"bench county (bench_scan's base tile, {BASE_PX} x {BASE_PX} px)",
           base_county(args.work), args.chunk, args.repeat)  # fmt: skip
    real_data(args.repeat)
    print(f"\nload average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
