"""Series features: robust to gaps and irregular dates; harmonic fit; phenology columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from agrilend.yield_models.features import _dynamics, harmonic_coefficients, series_features

TIMES = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
DOY = np.asarray(TIMES.day_of_year, dtype=float)
CURVE = 0.2 + 0.6 * np.exp(-(((DOY - 190) / 30) ** 2))


def test_gaps_and_irregular_dates_give_similar_features() -> None:
    rng = np.random.default_rng(0)
    full = series_features(CURVE[None, :], TIMES)
    gappy = CURVE.copy()
    gappy[rng.random(gappy.size) < 0.4] = np.nan
    keep = np.sort(rng.choice(TIMES.size, 50, replace=False))  # irregular revisits
    f = series_features(gappy[None, keep], TIMES[keep], step="5D")
    for col in ("NDVI_max", "NDVI_mean", "phen_s1_peak"):
        assert f[col].iloc[0] == pytest.approx(full[col].iloc[0], abs=0.06), col
    assert f["NDVI_valid"].iloc[0] < full["NDVI_valid"].iloc[0]


def test_empty_row_gives_nan_not_error() -> None:
    X = np.vstack([CURVE, np.full(CURVE.size, np.nan)])
    f = series_features(X, TIMES, index=["a", "b"])
    assert f.loc["b"].drop("NDVI_valid").isna().all() or f.loc["b", "phen_n_seasons"] == 0
    assert f.loc["a"].notna().sum() > 20


def test_dataset_input_uses_parcel_ids() -> None:
    ds = xr.Dataset(
        {
            "NDVI_mean": (("parcel", "time"), np.vstack([CURVE, CURVE])),
            "valid_fraction": (("parcel", "time"), np.ones((2, CURVE.size))),
        },
        coords={"parcel": ["p1", "p2"], "time": TIMES},
    )
    f = series_features(ds, TIMES)
    assert list(f.index) == ["p1", "p2"]
    assert "phen_n_seasons" in f
    assert not any(c.startswith("valid_fraction") for c in f.columns)


def test_length_mismatch_is_explained() -> None:
    with pytest.raises(ValueError, match="one date per column"):
        series_features(CURVE[None, :], TIMES[:-1])


@settings(max_examples=30, deadline=None)
@given(
    st.floats(0.0, 1.0),
    st.floats(-0.5, 0.5),
    st.floats(-0.5, 0.5),
    st.floats(0.0, 0.5),
)
def test_harmonic_fit_recovers_coefficients(a0: float, a1: float, b1: float, drop: float) -> None:
    w = 2 * np.pi * DOY / 365.25
    y = a0 + a1 * np.cos(w) + b1 * np.sin(w)
    rng = np.random.default_rng(1)
    y = np.where(rng.random(y.size) < drop, np.nan, y)
    h = harmonic_coefficients(y[None, :], TIMES, order=1)[0]
    np.testing.assert_allclose(h, [a0, a1, b1], atol=1e-8)


@pytest.mark.realdata
def test_real_french_series_features(shared_data: Path) -> None:
    df = pd.read_parquet(
        shared_data / "crop_labels" / "france_lpis_2023_dekadal.geoparquet",
        columns=["sample_id", "timestamp", "S2-L2A-B04", "S2-L2A-B08"],
    )
    ids = df["sample_id"].drop_duplicates().iloc[:40]
    df = df[df["sample_id"].isin(ids)]
    times = pd.DatetimeIndex(np.sort(df["timestamp"].unique()))

    def grid(col: str) -> np.ndarray:
        wide = df.pivot_table(index="sample_id", columns="timestamp", values=col, aggfunc="first")
        a = wide.reindex(columns=times).to_numpy(dtype="float64").copy()
        a[a == 65535] = np.nan
        return a / 10000.0

    red, nir = grid("S2-L2A-B04"), grid("S2-L2A-B08")
    ndvi = (nir - red) / (nir + red)
    assert np.isnan(ndvi).mean() > 0.05  # real cloud gaps
    f = series_features({"NDVI": ndvi, "B08": nir}, times, step="dekad")
    assert len(f) == 40
    assert f["NDVI_max"].between(0.2, 1.0).all()
    assert (f["phen_n_seasons"] >= 0).all()


def test_management_features_count_cuts_and_winter_cover() -> None:
    t = pd.date_range("2023-01-01", "2023-12-31", freq="10D")
    doy = np.asarray(t.day_of_year, dtype=float)
    meadow = np.full(doy.size, 0.8)
    cut_at = [12, 18, 24]  # three mowings: a fall to 0.4, back to green over three looks
    for k in cut_at:
        meadow[k : k + 3] = [0.4, 0.55, 0.7]
    crop = 0.15 + 0.7 * np.exp(-(((doy - 200) / 35) ** 2))  # bare winter, one summer season
    f = series_features(np.vstack([meadow, crop]), t, index=["meadow", "crop"])
    assert f.loc["meadow", "dyn_n_cuts"] == len(cut_at)
    assert f.loc["crop", "dyn_n_cuts"] <= 1
    assert f.loc["meadow", "dyn_winter_mean"] > f.loc["crop", "dyn_winter_mean"]
    assert f.loc["meadow", "dyn_green_days"] > f.loc["crop", "dyn_green_days"]
    assert f.loc["crop", "dyn_bare_share"] > f.loc["meadow", "dyn_bare_share"]


def _cuts_one_by_one(raw: np.ndarray, days: np.ndarray, max_gap: float) -> tuple[float, float]:
    """The cut features of one parcel, look by look over its clear looks (the definition)."""
    m = np.isfinite(raw)
    v, d = raw[m], days[m]
    if v.size < 2:
        return np.nan, np.nan
    n, fall = 0, 0.0
    for a, b, da, db in zip(v[:-1], v[1:], d[:-1], d[1:], strict=True):
        if db - da > max_gap:
            continue
        n += int(b - a <= -0.15 and a >= 0.5)
        fall += max(a - b, 0.0)
    return float(n), fall


def test_cuts_pair_each_look_with_the_previous_clear_one_across_gaps() -> None:
    rng = np.random.default_rng(3)
    offsets = pd.to_timedelta(np.sort(rng.choice(365, 36, replace=False)), "D")
    t = pd.DatetimeIndex(pd.Timestamp("2024-01-01") + offsets)
    raw = rng.uniform(0.0, 1.0, (400, t.size))
    raw[rng.random(raw.shape) < rng.uniform(0.0, 0.9, (400, 1))] = np.nan  # 0-90 % clouds
    raw[0] = np.nan  # never seen
    raw[1, :] = np.nan
    raw[1, 7] = 0.8  # seen once
    got = _dynamics(raw, raw, t)
    days = np.asarray((t - t[0]).days, dtype=float)
    want = np.array([_cuts_one_by_one(r, days, 30.0) for r in raw])
    np.testing.assert_allclose(got["dyn_n_cuts"], want[:, 0], rtol=0, atol=0)
    np.testing.assert_allclose(got["dyn_drop_sum"], want[:, 1], rtol=0, atol=1e-12)
    assert np.isnan(got["dyn_n_cuts"][:2]).all()
    assert np.nanmax(got["dyn_n_cuts"]) >= 2  # the draw does hold cuts
