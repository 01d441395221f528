"""Phenology of many parcels: the Python reference against the compiled table, same run.

``phenology_table(..., engine="reference")`` is the per-parcel Python path the table ran before
(scipy's ``find_peaks`` and the season merges, one parcel at a time); the default
``engine="compiled"`` runs every parcel in one numba pass
(:mod:`agrilend.remote_sensing._phenology_kernel`). Both are timed in this process, in CPU
seconds (``time.process_time``), on the same inputs; the tables are compared (they must be
equal: counts and dates exactly, floats to 1e-9 relative).

    python benchmarks/bench_phenology.py            # ~1-2 min on a shared 2-core machine
    python benchmarks/bench_phenology.py --quick    # smaller sets

Prints the load average (the machine is shared: read the CPU figures and the ratios), the numba
compile time on its own (a cold compile in a subprocess with an empty cache, and this process'
first call, which loads the cache), then per data set: parcels, seasons found, rows the kernel
left to the reference ("to ref": equal peaks within scipy's distance), parcels/s and CPU µs per
parcel, reference and compiled, the speed-up, and whether the two tables are identical:

- the 500 labelled French LPIS parcels (../shared/data/crop_labels; dekadal NDVI, cleaned);
- the 10,100 pixel series of the real Slovenian NDVI cube (68 dates over 2.5 years, cleaned);
- 10^4 synthetic parcels (one or two seasons, noise, 30 % clouds; cleaned).

Then the end-to-end effect on the two callers, 20,000 synthetic parcels each:
``yield_models.features.series_features`` and ``yield_models.vigour.season_metrics`` with the
reference phenology patched in ("before") and as they are ("after").
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import xarray as xr

from agrilend.remote_sensing import _phenology_kernel as kernel
from agrilend.remote_sensing.phenology import phenology_table
from agrilend.remote_sensing.timeseries import clean_series
from agrilend.yield_models import features as features_module
from agrilend.yield_models import vigour as vigour_module

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AGRILEND_SHARED_DATA", REPO.parent / "shared" / "data"))
RTOL, ATOL = 1e-9, 1e-12


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best CPU seconds of ``repeat`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def _same(fast: pd.DataFrame, ref: pd.DataFrame) -> str:
    """'identical', 'equal within tolerance', or raises: counts/dates exact, floats 1e-9."""
    if fast.equals(ref):
        return "identical"
    assert list(fast.columns) == list(ref.columns)
    for col in fast.columns:
        a, b = fast[col].to_numpy(), ref[col].to_numpy()
        if a.dtype.kind in "iMb":
            assert np.array_equal(
                a.view("int64") if a.dtype.kind == "M" else a,
                b.view("int64") if b.dtype.kind == "M" else b,
            ), col
        elif a.dtype.kind == "f":
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=col)
    return "equal within 1e-9 relative"


def cold_compile_seconds() -> float:
    """CPU seconds of the first table in a fresh process with an empty numba cache (imports
    excluded): the kernel's compile time, paid once per machine (the cache then serves it)."""
    code = (
        "import time, numpy as np, pandas as pd\n"
        "from agrilend.remote_sensing.phenology import phenology_table\n"
        "t = pd.date_range('2024-01-01', periods=73, freq='5D')\n"
        "y = 0.2 + 0.6 * np.exp(-((np.arange(73) - 36) / 6.0) ** 2)\n"
        "t0 = time.process_time(); phenology_table(y[None], t)\n"
        "print(time.process_time() - t0)\n"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "PYTHONPATH": str(REPO)}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
    return float(out.stdout.strip().splitlines()[-1])


def synthetic(n: int, seed: int) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """``n`` parcels over a year of 5-day revisits: one or two seasons, noise, 30 % clouds."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
    doy = np.asarray(times.day_of_year, dtype=float)[None, :]
    c1, c2 = rng.uniform(70, 190, (n, 1)), rng.uniform(190, 300, (n, 1))
    w1, w2 = rng.uniform(15, 40, (n, 1)), rng.uniform(15, 35, (n, 1))
    double = rng.random((n, 1)) < 0.4
    y = 0.15 + rng.uniform(0.2, 0.65, (n, 1)) * np.exp(-(((doy - c1) / w1) ** 2))
    y += double * rng.uniform(0.2, 0.5, (n, 1)) * np.exp(-(((doy - c2) / w2) ** 2))
    y += rng.normal(0, 0.03, y.shape)
    y[rng.random(y.shape) < 0.3] = np.nan
    return np.clip(y, -1, 1), times


def france() -> tuple[np.ndarray, pd.DatetimeIndex]:
    df = pd.read_parquet(
        SHARED / "crop_labels/france_lpis_2023_dekadal.geoparquet",
        columns=["sample_id", "timestamp", "S2-L2A-B04", "S2-L2A-B08"],
    )
    wide = {
        b: df.pivot(index="sample_id", columns="timestamp", values=b).astype("float64")  # noqa: PD010
        for b in ("S2-L2A-B04", "S2-L2A-B08")
    }
    b4, b8 = (w.where(w != 65535).to_numpy() for w in wide.values())
    return (b8 - b4) / (b8 + b4), pd.DatetimeIndex(wide["S2-L2A-B04"].columns)


def slovenia() -> tuple[np.ndarray, pd.DatetimeIndex]:
    with xr.open_dataset(SHARED / "imagery/slovenia/slovenia_ndvi_2015_2017.nc") as ds:
        clear = (ds["CLM"] == 0) & (ds["IS_DATA"] == 1)
        v = ds["NDVI"].where(clear).transpose("y", "x", "time")
        rows = v.values.reshape(-1, v.sizes["time"]).astype("float64")
        return rows, pd.DatetimeIndex(ds["time"].values)


def table_row(name: str, y: np.ndarray, times: pd.DatetimeIndex) -> None:
    smooth, grid = clean_series(y, times)
    n = smooth.shape[0]
    t_ref, ref = _cpu(lambda: phenology_table(smooth, grid, engine="reference"))
    t_fast, fast = _cpu(lambda: phenology_table(smooth, grid), repeat=3)
    verdict = _same(fast, ref)
    seasons = int(ref["n_seasons"].sum())
    print(
        f"{name:<38} {n:>7,} {seasons:>8,} {_left_to_reference(smooth, grid):>6} "
        f"{n / t_ref:>9,.0f} {n / t_fast:>9,.0f} "
        f"{t_ref / n * 1e6:>9.1f} {t_fast / n * 1e6:>9.2f} {t_ref / t_fast:>7.1f}x  {verdict}"
    )


def _left_to_reference(smooth: np.ndarray, grid: pd.DatetimeIndex) -> int:
    """Rows the kernel leaves to the reference (equal peaks within scipy's distance)."""
    n = smooth.shape[0]
    unsure = np.zeros(n, dtype=np.bool_)
    kernel.season_rows(
        np.ascontiguousarray(smooth), pd.DatetimeIndex(grid).as_unit("ns").asi8 / 86_400e9,
        2, kernel.AMPLITUDE, 0.5, 0.1, 30.0, 300.0, 0.35,
        np.zeros(n, dtype=np.int64), np.full((n, 2, 7), np.nan), unsure,
    )  # fmt: skip
    return int(unsure.sum())


def end_to_end(n: int) -> None:
    y, times = synthetic(n, seed=2)
    reference = partial(phenology_table, engine="reference")
    calls: dict[str, Callable[[], pd.DataFrame]] = {
        "features.series_features": lambda: features_module.series_features(y, times),
        "vigour.season_metrics": lambda: vigour_module.season_metrics(y, times),
    }
    targets = {
        "features.series_features": "agrilend.yield_models.features.phenology_table",
        "vigour.season_metrics": "agrilend.yield_models.vigour.phenology_table",
    }
    for name, call in calls.items():
        with mock.patch(targets[name], reference):
            t_before, before = _cpu(call)
        t_after, after = _cpu(call, repeat=2)
        pd.testing.assert_frame_equal(after, before, check_exact=False, rtol=RTOL, atol=ATOL)
        print(
            f"{name:<26} {n:>7,} {t_before:>9.2f} {t_after:>9.2f} "
            f"{t_before / n * 1e6:>9.1f} {t_after / n * 1e6:>9.1f} {t_before / t_after:>7.2f}x"
            f"  {(t_before - t_after) / n * 1e6:>7.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 synthetic parcels, 2,000 e2e")
    args = parser.parse_args()
    n_synth, n_e2e = (1_000, 2_000) if args.quick else (10_000, 20_000)
    print(f"load average {_load()} (2 cores, shared; CPU seconds of this process below)")
    print(f"numba compile (fresh process, empty cache): {cold_compile_seconds():.2f} s CPU, once")
    y, times = synthetic(4, seed=0)
    t0 = time.process_time()
    phenology_table(y, times)  # warm-up: the timings below exclude the cache load
    print(f"first call in this process (cache load): {time.process_time() - t0:.2f} s CPU")
    print()
    print(
        f"{'phenology_table, cleaned series':<38} {'parcels':>7} {'seasons':>8} {'to ref':>6} "
        f"{'ref p/s':>9} {'fast p/s':>9} {'ref µs/p':>9} {'fast µs/p':>9} {'speedup':>8}"
    )
    if SHARED.is_dir():
        table_row("France LPIS 500 labelled (dekads)", *france())
        table_row("Slovenia NDVI pixels (2.5 years)", *slovenia())
    else:
        print(f"({SHARED} absent: real sets skipped)")
    table_row(
        f"synthetic 10^{len(str(n_synth)) - 1} parcels (5-day, 1 year)", *synthetic(n_synth, seed=1)
    )
    print()
    print(
        f"{'end to end (CPU s)':<26} {'parcels':>7} {'before':>9} {'after':>9} "
        f"{'µs/p bef':>9} {'µs/p aft':>9} {'speedup':>8} {'saved µs/p':>10}"
    )
    end_to_end(n_e2e)
    print(f"load average {_load()}")


if __name__ == "__main__":
    main()
