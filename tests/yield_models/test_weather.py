"""Weather readers and agro-climatic indices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agrilend.errors import InputPathError, InsufficientEvidenceError, TableReadError
from agrilend.yield_models.weather import (
    base_temperature,
    climate_risk,
    read_gridded_weather,
    read_weather,
    season_weather,
    standardized_precipitation_index,
    weather_normals,
)


def _daily(start: str = "1994-01-01", end: str = "2024-12-31", seed: int = 0) -> pd.DataFrame:
    d = pd.date_range(start, end, freq="D")
    rng = np.random.default_rng(seed)
    doy = np.asarray(d.day_of_year, dtype=float)
    tmean = 13 - 14 * np.cos(2 * np.pi * (doy - 15) / 365.25) + rng.normal(0, 2, d.size)
    return pd.DataFrame(
        {
            "tmin_c": tmean - 5,
            "tmax_c": tmean + 5,
            "prcp_mm": rng.gamma(0.4, 5.0, d.size),
        },
        index=pd.DatetimeIndex(d, name="date"),
    )


def test_read_sample_csv_format(tmp_path: Path) -> None:
    p = tmp_path / "weather.csv"
    p.write_text("date,tmin_c,tmax_c,prcp_mm\n2024-01-02,1,5,0\n2024-01-01,-2,4,3.5\n")
    w = read_weather(p)
    assert list(w.columns) == ["tmin_c", "tmax_c", "prcp_mm"]
    assert w.index.is_monotonic_increasing
    assert w.loc["2024-01-01", "prcp_mm"] == 3.5


def test_read_station_whitespace_format(tmp_path: Path) -> None:
    p = tmp_path / "station.txt"
    p.write_text(
        "Day       Month     Year      Tmin(C)   Tmax(C)   Prcp(mm)  Et0(mm)\n"
        "1         1         1982      -21.11    3.33      0.00      1.59\n"
        "2         1         1982      -10.00    0.56      2.50      0.86\n"
    )
    w = read_weather(p)
    assert w.shape == (2, 4)
    assert w.loc["1982-01-02", "prcp_mm"] == 2.5
    assert w.loc["1982-01-01", "tmin_c"] == pytest.approx(-21.11)


def test_read_weather_errors(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text("date,tmin_c,prcp_mm\n2024-01-01,1,0\n")
    with pytest.raises(TableReadError, match=r"bad\.csv.*tmax_c"):
        read_weather(p)
    dup = tmp_path / "dup.csv"
    dup.write_text("date,tmin_c,tmax_c,prcp_mm\n2024-01-01,1,5,0\n2024-01-01,1,5,0\n")
    with pytest.raises(TableReadError, match="repeated dates"):
        read_weather(dup)
    with pytest.raises(InputPathError):
        read_weather("https://example.org/weather.csv")


def test_reversed_min_max_is_dropped(tmp_path: Path) -> None:
    p = tmp_path / "w.csv"
    p.write_text("date,tmin_c,tmax_c,prcp_mm\n2024-01-01,9,2,0\n")
    w = read_weather(p)
    assert w[["tmin_c", "tmax_c"]].isna().all(axis=None)


def test_season_weather_indices() -> None:
    d = pd.date_range("2024-06-01", "2024-06-30", freq="D")
    prcp = np.zeros(d.size)
    prcp[[0, 15]] = 10.0
    w = pd.DataFrame(
        {"tmin_c": np.r_[np.full(5, -1.0), np.full(25, 20.0)], "tmax_c": 30.0, "prcp_mm": prcp},
        index=d,
    )
    w.loc[d[-3:], "tmax_c"] = 38.0
    s = season_weather(w, "2024-06-01", "2024-06-30", base_temp=10.0)
    assert s["prcp_mm"] == 20.0
    assert s["frost_days"] == 5
    assert s["heat_days"] == 3
    assert s["max_dry_spell_days"] == 14
    assert s["dry_spells_10d"] == 2
    expected_gdd = float(((w["tmin_c"] + w["tmax_c"]) / 2 - 10).clip(lower=0).sum())
    assert s["gdd"] == pytest.approx(expected_gdd)


def test_season_weather_scales_totals_over_gaps() -> None:
    w = _daily("2020-01-01", "2020-12-31")
    full = season_weather(w, "2020-05-01", "2020-08-31")
    gappy = w.drop(w.loc["2020-06-01":"2020-06-10"].index)
    s = season_weather(gappy, "2020-05-01", "2020-08-31")
    assert s["missing_fraction"] > 0
    assert s["gdd"] == pytest.approx(full["gdd"], rel=0.05)


def test_season_weather_outside_record() -> None:
    with pytest.raises(InsufficientEvidenceError, match="no record"):
        season_weather(_daily("2020-01-01", "2020-12-31"), "2022-05-01", "2022-06-01")


def test_normals_shape() -> None:
    n = weather_normals(_daily("2000-01-01", "2009-12-31"))
    assert len(n) == 366
    assert n["tmax_c"].loc[200] > n["tmax_c"].loc[15]  # northern summer warmer than winter


@settings(max_examples=30, deadline=None)
@given(st.floats(0.0, 2000.0), st.floats(0.0, 2000.0))
def test_spi_is_monotone(a: float, b: float) -> None:
    hist = np.random.default_rng(3).gamma(5.0, 60.0, size=25)
    lo, hi = min(a, b), max(a, b)
    assert standardized_precipitation_index(hist, lo) <= standardized_precipitation_index(hist, hi)


def test_spi_needs_history() -> None:
    with pytest.raises(InsufficientEvidenceError, match="at least 8"):
        standardized_precipitation_index(np.ones(3), 1.0)


def test_climate_risk_drought_raises_score() -> None:
    w = _daily()
    normal = climate_risk(w, season=("2024-06-01", "2024-09-30"))
    dry = w.copy()
    dry.loc["2024-06-01":"2024-09-30", "prcp_mm"] *= 0.2
    drought = climate_risk(dry, season=("2024-06-01", "2024-09-30"))
    assert drought["spi"] < -1.5
    assert drought["risk_score"] > normal["risk_score"]
    assert 0.0 <= normal["risk_score"] <= 1.0
    future = climate_risk(w, season=("2025-06-01", "2025-09-30"))
    assert np.isnan(future["spi"])
    assert 0.0 <= future["risk_score"] <= 1.0


def test_base_temperatures() -> None:
    assert base_temperature("cotton") > base_temperature("maize") > base_temperature("winter_wheat")


@pytest.mark.realdata
def test_real_station_files(shared_data: Path) -> None:
    for name in ("brussels", "cordoba", "champion", "hyderabad"):
        w = read_weather(shared_data / "weather" / f"{name}_daily.txt")
        assert w.index.is_unique
        assert len(w) > 3000
        assert w["tmax_c"].mean() > w["tmin_c"].mean()
        assert (w["prcp_mm"] >= 0).all()
    cordoba = read_weather(shared_data / "weather" / "cordoba_daily.txt")
    brussels = read_weather(shared_data / "weather" / "brussels_daily.txt")
    # Cordoba (Argentina): southern-hemisphere summer
    hot = season_weather(cordoba, "2016-12-01", "2017-02-28")["heat_days"]
    mild = season_weather(brussels, "2003-06-01", "2003-08-31")["heat_days"]
    assert hot > mild
    r = climate_risk(brussels, season=("2003-04-01", "2003-09-30"))
    assert r["n_years"] >= 25
    assert np.isfinite(r["spi"])


@pytest.mark.realdata
def test_real_pcse_and_gridded(shared_data: Path) -> None:
    w = read_weather(shared_data / "yield" / "lelystad_weather_2019_2020.xlsx")
    assert w.index.min() == pd.Timestamp("2019-04-08")
    s = season_weather(w, "2020-04-15", "2020-09-15", base_temp=base_temperature("potato"))
    assert 1500 < s["gdd"] < 3500
    g = read_gridded_weather(
        shared_data / "imagery" / "belgium" / "belgium_monthly_composites_2020_2021.nc"
    )
    assert len(g) == 12
    summer = g.loc["2021-07-01", "tmean_c"]
    winter = g.loc["2021-01-01", "tmean_c"]
    assert 10 < summer < 25
    assert -5 < winter < 8
    assert (g["prcp_mm"] > 0).all()
