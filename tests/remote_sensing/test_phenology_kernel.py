"""The compiled phenology table against the Python reference: the same table, row for row.

``phenology_table(..., engine="compiled")`` (the default) runs
:mod:`agrilend.remote_sensing._phenology_kernel`; ``engine="reference"`` runs the readable
per-series code. They must agree on every row: the season count and every start, peak and end
date exactly (to the nanosecond), the float columns within 1e-9 relative (1e-12 absolute near
zero). The kernel even adds the integral's trapezoids in numpy's pairwise order, so the floats
come out identical here; the tolerance leaves room for a numpy that sums otherwise.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.signal import find_peaks

from agrilend.remote_sensing import _phenology_kernel as kernel
from agrilend.remote_sensing.phenology import phenology_table
from agrilend.remote_sensing.timeseries import clean_series

RTOL, ATOL = 1e-9, 1e-12
TIMES = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
DOY = np.asarray(TIMES.day_of_year, dtype=float)


def assert_same_table(fast: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Same columns, dtypes and index; counts and dates exact; floats within RTOL/ATOL."""
    assert list(fast.columns) == list(ref.columns)
    assert list(fast.dtypes) == list(ref.dtypes)
    assert fast.index.equals(ref.index)
    for col in fast.columns:
        a, b = fast[col].to_numpy(), ref[col].to_numpy()
        if a.dtype.kind in "iM":  # counts, and dates as nanoseconds (NaT included)
            bad = np.flatnonzero(a.view("int64") != b.view("int64"))
            assert bad.size == 0, f"{col}: {bad.size} rows differ, first {bad[:5]}"
        else:
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=col)


def _both(y: Any, times: Any, **options: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    fast = phenology_table(y, times, **options)
    ref = phenology_table(y, times, engine="reference", **options)
    return fast, ref


def _two_seasons(rng: np.random.Generator, n: int) -> np.ndarray:
    c1 = rng.uniform(60, 200, (n, 1))
    c2 = rng.uniform(180, 320, (n, 1))
    y = 0.15 + rng.uniform(0, 0.5, (n, 1)) * np.exp(
        -(((DOY - c1) / rng.uniform(8, 40, (n, 1))) ** 2)
    )
    y += rng.uniform(0, 0.35, (n, 1)) * np.exp(-(((DOY - c2) / rng.uniform(8, 40, (n, 1))) ** 2))
    return y + rng.normal(0, 0.03, y.shape)


@pytest.mark.parametrize("method", ["amplitude", "trough", "slope"])
def test_noisy_gappy_curves_give_the_reference_table(method: str) -> None:
    rng = np.random.default_rng(18)
    y = _two_seasons(rng, 600)
    y[rng.random(y.shape) < 0.25] = np.nan
    y[:40, :6] = np.nan  # late start of the record
    y[40:60] = np.round(y[40:60], 2)  # quantised: plateaus and peaks of equal height
    y[60] = np.nan
    y[61] = 0.3
    fast, ref = _both(y, TIMES, method=method, max_seasons=3)
    assert_same_table(fast, ref)
    # the set exercises what it should: no, one, two and three seasons
    assert set(ref["n_seasons"]) == {0, 1, 2, 3}


def test_equal_peaks_within_the_distance_are_left_to_the_reference() -> None:
    """Two peaks of the same height 20 days apart: scipy keeps the one numpy's argsort puts
    last, which the kernel does not guess; the row goes to the reference, same table."""
    y = np.full(TIMES.size, 0.2)
    y[30:33] = [0.5, 0.8, 0.5]
    y[34:37] = [0.5, 0.8, 0.5]
    y = np.vstack([y, 0.2 + 0.6 * np.exp(-(((DOY - 180) / 30) ** 2))])
    unsure = np.zeros(2, dtype=np.bool_)
    kernel.season_rows(
        y, TIMES.asi8 / 86_400e9, 2, 0, 0.5, 0.1, 30.0, 300.0, 0.35,
        np.zeros(2, dtype=np.int64), np.full((2, 2, 7), np.nan), unsure,
    )  # fmt: skip
    assert unsure.tolist() == [True, False]
    fast, ref = _both(y, TIMES)
    assert_same_table(fast, ref)
    assert fast["n_seasons"].tolist() == [1, 1]


def test_compiled_table_does_not_run_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """The speed is real: on ordinary series no row goes through the Python path."""
    rng = np.random.default_rng(11)
    y = _two_seasons(rng, 300)
    y[rng.random(y.shape) < 0.3] = np.nan
    ref = phenology_table(y, TIMES, engine="reference")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the reference ran")

    # the module (the package re-exports a function of the same name)
    module = importlib.import_module("agrilend.remote_sensing.phenology")
    monkeypatch.setattr(module, "_seasons", refuse)
    assert_same_table(phenology_table(y, TIMES), ref)
    with pytest.raises(AssertionError, match="the reference ran"):
        phenology_table(y, TIMES, engine="reference")
    with pytest.raises(ValueError, match="engine"):
        phenology_table(y, TIMES, engine="fast")  # type: ignore[arg-type]


def test_the_check_fails_on_one_start_a_day_off() -> None:
    """The comparison above is not blind: one SOS a day later, or one integral 1e-6 off, fails."""
    rng = np.random.default_rng(3)
    fast, ref = _both(_two_seasons(rng, 50), TIMES)
    row = int(np.flatnonzero(ref["n_seasons"].to_numpy() > 0)[17])
    moved = fast.copy()
    moved.loc[moved.index[row], "s1_sos"] += pd.Timedelta(days=1)
    with pytest.raises(AssertionError, match="s1_sos: 1 rows differ"):
        assert_same_table(moved, ref)
    off = fast.copy()
    off.loc[off.index[row], "s1_integral"] *= 1 + 1e-6
    with pytest.raises(AssertionError, match="s1_integral"):
        assert_same_table(off, ref)
    fewer = fast.copy()
    fewer.loc[fewer.index[row], "n_seasons"] -= 1
    with pytest.raises(AssertionError, match="n_seasons"):
        assert_same_table(fewer, ref)


def test_unsorted_and_repeated_dates() -> None:
    rng = np.random.default_rng(5)
    y = _two_seasons(rng, 40)
    shuffle = rng.permutation(TIMES.size)
    assert_same_table(*_both(y[:, shuffle], TIMES[shuffle]))
    repeated = TIMES.insert(30, TIMES[30])  # the kernel needs increasing dates: all rows go
    y2 = np.insert(y, 30, y[:, 30], axis=1)  # to the reference
    assert_same_table(*_both(y2, repeated))


def test_table_keeps_its_inputs_and_index() -> None:
    rng = np.random.default_rng(9)
    y = _two_seasons(rng, 8)
    y[:, ::7] = np.nan
    before = y.copy()
    fast, ref = _both(y, TIMES, index=pd.Index(list("abcdefgh"), name="parcel"))
    np.testing.assert_array_equal(y, before)
    assert_same_table(fast, ref)
    assert fast.index.name == "parcel"
    empty = np.empty((0, TIMES.size))
    assert_same_table(*_both(empty, TIMES))


@st.composite
def _batches(draw: st.DrawFn) -> tuple[np.ndarray, pd.DatetimeIndex, dict[str, Any]]:
    """A few series of one kind: seasons, flat, noise, all-NaN, short; gaps; quantised."""
    n = draw(st.sampled_from([1, 2, 4, 5, 6, 9, 20, 37, 73]))
    rows = draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["one", "two", "three", "flat", "noise", "nan", "steps"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):
        days = np.arange(n) * draw(st.sampled_from([5.0, 6.0, 10.0, 16.0]))  # 6: 30 / 2 / 6 = 2.5
    else:  # irregular revisits
        days = np.cumsum(rng.integers(1, 25, n)).astype(float)
    t = np.linspace(0.0, 1.0, n)[None, :]
    y = np.full((rows, n), 0.2) + rng.normal(0, draw(st.sampled_from([0.0, 0.01, 0.05])), (rows, n))
    for _ in range({"one": 1, "two": 2, "three": 3}.get(kind, 0)):
        centre = rng.uniform(0, 1, (rows, 1))
        width = rng.uniform(0.03, 0.25, (rows, 1))
        y += rng.uniform(0.05, 0.6, (rows, 1)) * np.exp(-(((t - centre) / width) ** 2))
    if kind == "flat":
        y = np.full((rows, n), draw(st.sampled_from([0.0, 0.3, -0.2])))
    elif kind == "noise":
        y = rng.uniform(-0.2, 0.9, (rows, n))
    elif kind == "nan":
        y = np.full((rows, n), np.nan)
    elif kind == "steps":
        y = np.round(rng.uniform(0, 0.8, (rows, 1)) * (rng.random((rows, n)) < 0.5) + 0.1, 1)
    decimals = draw(st.sampled_from([None, None, 1, 2, 3]))
    if decimals is not None:  # plateaus and ties
        y = np.round(y, decimals)
    gaps = draw(st.sampled_from([0.0, 0.1, 0.4, 0.8]))
    y[rng.random(y.shape) < gaps] = np.nan
    y = np.clip(y, -1.0, 1.0)
    times = pd.to_datetime("2023-01-01") + pd.to_timedelta(days, unit="D")
    options = {
        "method": draw(st.sampled_from(["amplitude", "trough", "slope"])),
        "threshold": draw(st.sampled_from([0.2, 0.5, 0.8])),
        "max_seasons": draw(st.integers(1, 3)),
        "min_amplitude": draw(st.sampled_from([0.02, 0.1, 0.3])),
        "min_length_days": draw(st.sampled_from([10.0, 30.0, 60.0])),
        "max_length_days": draw(st.sampled_from([120.0, 300.0])),
        "merge_below": draw(st.sampled_from([0.0, 0.35, 0.8])),
    }
    return y, times, options


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batches())
def test_random_series_give_the_reference_table(
    batch: tuple[np.ndarray, pd.DatetimeIndex, dict[str, Any]],
) -> None:
    y, times, options = batch
    assert_same_table(*_both(y, times, **options))


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    levels=st.integers(2, 12),
    distance=st.integers(1, 12),
    prominence=st.sampled_from([0.0, 0.05, 0.1, 0.3]),
)
def test_peak_search_is_scipys(
    seed: int, n: int, levels: int, distance: int, prominence: float
) -> None:
    """Few levels: many plateaus, edges and equal peaks. Where the kernel declines (equal
    peaks within the distance), such a pair really is there."""
    x = np.random.default_rng(seed).integers(0, levels, n) / levels
    cand = np.empty(n, dtype=np.int64)
    prom = np.empty(n)
    scratch = np.empty((2, n), dtype=np.bool_)
    got = kernel._find_peaks(x, distance, prominence, cand, scratch[0], prom, scratch[1])
    if got < 0:
        every, _ = find_peaks(x)
        assert any(x[p] == x[q] and 0 < q - p < distance for p in every for q in every)
        return
    peaks, props = find_peaks(x, prominence=prominence, distance=distance)
    np.testing.assert_array_equal(cand[:got], peaks)
    np.testing.assert_allclose(prom[:got], props["prominences"], rtol=RTOL, atol=ATOL)


# --- real series ------------------------------------------------------------------------------


def _france_bands(shared_data: Any) -> tuple[dict[str, np.ndarray], pd.DatetimeIndex]:
    """The 500 labelled French LPIS parcels: dekadal bands, one row per parcel (NaN = gap)."""
    bands = ["S2-L2A-B04", "S2-L2A-B08", "S2-L2A-B11"]
    df = pd.read_parquet(
        shared_data / "crop_labels/france_lpis_2023_dekadal.geoparquet",
        columns=["sample_id", "timestamp", *bands],
    )
    out = {}
    for band in bands:
        # one value per parcel and dekad: a plain reshape, nothing to aggregate
        wide = df.pivot(index="sample_id", columns="timestamp", values=band)  # noqa: PD010
        wide = wide.astype("float64")
        out[band] = wide.where(wide != 65535).to_numpy()
    return out, pd.DatetimeIndex(wide.columns)


@pytest.mark.realdata
def test_french_labelled_parcels_give_the_reference_table(shared_data: Any) -> None:
    """All 500 parcels (2022-09..2024-01, ten-day values, ~46 % cloud gaps): NDVI as it comes
    (the table fills the gaps) and cleaned, each method; NDMI as a feature channel."""
    bands, times = _france_bands(shared_data)
    b4, b8, b11 = bands["S2-L2A-B04"], bands["S2-L2A-B08"], bands["S2-L2A-B11"]
    ndvi = (b8 - b4) / (b8 + b4)
    smooth, grid = clean_series(ndvi, times)
    seasons = 0
    for method in ("amplitude", "trough", "slope"):
        for series, dates in ((ndvi, times), (smooth, grid)):
            fast, ref = _both(series, dates, method=method, max_seasons=3)
            assert_same_table(fast, ref)
            seasons += int(ref["n_seasons"].sum())
    ndmi = (b8 - b11) / (b8 + b11)
    assert_same_table(*_both(ndmi, times, check_range=False, min_amplitude=0.05))
    assert seasons > 2000  # the comparison is about seasons, not empty rows


@pytest.mark.realdata
def test_slovenian_pixels_give_the_reference_table(shared_data: Any) -> None:
    """5,050 real pixel series near Ljubljana (every other pixel of the 100 x 101 patch), 68
    irregular dates over 2.5 years, clouds masked: raw (noisy: many peaks to merge) and
    cleaned."""
    with xr.open_dataset(shared_data / "imagery/slovenia/slovenia_ndvi_2015_2017.nc") as ds:
        clear = (ds["CLM"] == 0) & (ds["IS_DATA"] == 1)
        v = ds["NDVI"].where(clear).transpose("y", "x", "time")
        rows = v.values.reshape(-1, v.sizes["time"])[::2].astype("float64")
        times = pd.DatetimeIndex(ds["time"].values)
    smooth, grid = clean_series(rows, times)
    fast, ref = _both(rows, times)
    assert_same_table(fast, ref)
    assert (ref["n_seasons"] > 0).sum() > 2500
    fast, ref = _both(smooth, grid, max_seasons=3)
    assert_same_table(fast, ref)
    assert (ref["n_seasons"] >= 2).sum() > 500
