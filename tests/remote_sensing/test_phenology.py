"""Phenology: seasons from synthetic one- and two-season curves, noise, tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agrilend.remote_sensing.phenology import Season, phenology, phenology_table
from agrilend.remote_sensing.timeseries import clean_series

TIMES = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
DOY = np.asarray(TIMES.day_of_year, dtype=float)


def _gauss(center: float, width: float, height: float) -> np.ndarray:
    return height * np.exp(-(((DOY - center) / width) ** 2))


def _date(doy: float) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01") + pd.Timedelta(days=doy - 1)


def _half_width(width: float) -> float:
    """Distance from the centre where a Gaussian falls to half its height."""
    return width * np.sqrt(np.log(2))


def test_two_season_curve_gives_wheat_then_maize() -> None:
    wheat, maize = (110.0, 25.0, 0.6), (230.0, 22.0, 0.55)
    y = 0.2 + _gauss(*wheat) + _gauss(*maize)
    seasons = phenology(y, TIMES)
    assert len(seasons) == 2
    for s, (c, w, h) in zip(seasons, (wheat, maize), strict=True):
        assert isinstance(s, Season)
        assert abs((s.peak - _date(c)).days) <= 2
        assert abs((s.start - _date(c - _half_width(w))).days) <= 3
        assert abs((s.end - _date(c + _half_width(w))).days) <= 3
        assert s.amplitude == pytest.approx(h, abs=0.02)
        assert s.length_days == pytest.approx((s.end - s.start).days, abs=1)
        # area above the base (0.2): a Gaussian between its half-height points holds
        # erf(sqrt(ln 2)) = 76.1 % of its total area h w sqrt(pi)
        expected = 0.7610 * h * w * np.sqrt(np.pi)
        assert s.integral == pytest.approx(expected, rel=0.1)


def test_noisy_cloudy_two_season_series_after_cleaning() -> None:
    rng = np.random.default_rng(7)
    y = 0.2 + _gauss(120, 25, 0.6) + _gauss(240, 20, 0.5) + rng.normal(0, 0.02, DOY.size)
    y[rng.random(DOY.size) < 0.3] = np.nan
    y[[20, 45]] = 0.05  # residual cloud
    smooth, grid = clean_series(y, TIMES)
    seasons = phenology(smooth, grid)
    assert len(seasons) == 2
    assert abs((seasons[0].peak - _date(120)).days) <= 8
    assert abs((seasons[1].peak - _date(240)).days) <= 8


def test_flat_or_tiny_curves_have_no_season() -> None:
    assert phenology(np.full(DOY.size, 0.2), TIMES) == []
    assert phenology(0.2 + _gauss(180, 30, 0.05), TIMES) == []
    assert phenology(np.full(DOY.size, np.nan), TIMES) == []


def test_max_seasons_keeps_the_most_prominent() -> None:
    y = 0.2 + _gauss(90, 20, 0.3) + _gauss(200, 20, 0.6) + _gauss(310, 20, 0.2)
    assert len(phenology(y, TIMES, max_seasons=3)) == 3
    (only,) = phenology(y, TIMES, max_seasons=1)
    assert abs((only.peak - _date(200)).days) <= 2


def test_seasons_shorter_than_the_minimum_are_dropped() -> None:
    y = 0.2 + _gauss(180, 8, 0.6)  # about 13 days above half amplitude
    assert phenology(y, TIMES) == []
    assert len(phenology(y, TIMES, min_length_days=5)) == 1


def test_phenology_table_columns_and_missing_seasons() -> None:
    rows = np.vstack(
        [0.2 + _gauss(110, 25, 0.6) + _gauss(230, 22, 0.55), 0.2 + _gauss(180, 30, 0.6)]
    )
    rows = np.vstack([rows, np.full(DOY.size, 0.15)])
    table = phenology_table(rows, TIMES, index=pd.Index(["p1", "p2", "p3"], name="parcel"))
    assert list(table.index) == ["p1", "p2", "p3"]
    assert table["n_seasons"].tolist() == [2, 1, 0]
    assert table.columns[:8].tolist() == [
        "n_seasons", "s1_sos", "s1_pos", "s1_eos", "s1_length_days", "s1_amplitude",
        "s1_integral", "s1_peak",
    ]  # fmt: skip
    assert pd.api.types.is_datetime64_any_dtype(table["s2_pos"])
    assert pd.isna(table.loc["p2", "s2_pos"])
    assert table.loc[["p3"], ["s1_sos", "s1_peak"]].isna().all().all()


def test_unsorted_dates_are_sorted_first() -> None:
    y = 0.2 + _gauss(180, 30, 0.6)
    order = np.random.default_rng(0).permutation(DOY.size)
    a = phenology(y, TIMES)
    b = phenology(y[order], TIMES[order])
    assert a == b
