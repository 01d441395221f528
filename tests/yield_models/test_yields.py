"""Yield estimates with intervals, county statistics, the YieldModel estimator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils.estimator_checks import parametrize_with_checks

from agrilend.errors import TableReadError
from agrilend.yield_models.yields import (
    YieldModel,
    county_yield_cv,
    estimate_yield,
    read_county_yields,
    weather_factor,
)

COUNTY = {"maize": 7.5, "winter_wheat": 6.0, "summer_maize": 6.5, "rice": 8.0}


def _metrics(vigour: list[float], crops: list[str], quality: str = "ok") -> pd.DataFrame:
    return pd.DataFrame(
        {"crop": crops, "vigour": vigour, "vigour_quality": quality},
        index=[f"P{i}" for i in range(len(crops))],
    )


def test_double_crop_has_two_harvests() -> None:
    y = estimate_yield(_metrics([1.0], ["winter_wheat_maize"]), county_yields=COUNTY)
    row = y.iloc[0]
    assert (row["harvest_s1"], row["harvest_s2"]) == ("winter_wheat", "summer_maize")
    assert row["yield_s1_t_ha"] == pytest.approx(6.0)
    assert row["yield_s2_t_ha"] == pytest.approx(6.5)
    assert row["yield_t_ha"] == pytest.approx(12.5)
    assert row["yield_low"] < row["yield_t_ha"] < row["yield_high"]


def test_a_negative_vigour_gives_no_yield_and_no_crash() -> None:
    # NDVI below zero (water, bare soil) can make a season's integral, hence vigour, negative
    y = estimate_yield(_metrics([-0.4, 0.0, 1.0], ["maize"] * 3), county_yields=COUNTY)
    assert np.isnan(y["yield_t_ha"].iloc[0])
    assert np.isfinite(y["yield_t_ha"].iloc[1:]).all()  # zero vigour: the factor's floor
    assert y["yield_t_ha"].iloc[1] < y["yield_t_ha"].iloc[2]


def test_interval_widens_with_poor_data() -> None:
    good = estimate_yield(_metrics([1.0], ["maize"]), county_yields=COUNTY)
    cloudy = estimate_yield(_metrics([1.0], ["maize"], "low_confidence"), county_yields=COUNTY)
    none = estimate_yield(_metrics([np.nan], ["maize"], "no_season"), county_yields=COUNTY)
    width = [float((d["yield_high"] - d["yield_low"]).iloc[0]) for d in (good, cloudy, none)]
    assert width[0] < width[1] < width[2]
    assert none["yield_t_ha"].iloc[0] == pytest.approx(7.5)
    assert "no vigour" in none["yield_note"].iloc[0]


def test_unknown_crop_is_nan_with_note() -> None:
    y = estimate_yield(_metrics([1.0], ["cotton"]), county_yields=COUNTY)
    assert np.isnan(y["yield_t_ha"].iloc[0])
    assert "cotton" in y["yield_note"].iloc[0]


@settings(max_examples=50, deadline=None)
@given(st.floats(0.05, 3.0), st.floats(0.05, 3.0), st.floats(0.0, 2.0))
def test_yield_is_monotone_and_bounded_in_vigour(a: float, b: float, el: float) -> None:
    lo, hi = sorted((a, b))
    y = estimate_yield(_metrics([lo, hi], ["rice", "rice"]), county_yields=COUNTY, elasticity=el)
    v = y["yield_t_ha"].to_numpy()
    assert v[0] <= v[1] + 1e-12
    assert (v >= 8.0 * 0.3 - 1e-9).all()
    assert (v <= 8.0 * 1.5 + 1e-9).all()
    assert (y["yield_low"] <= y["yield_t_ha"]).all()
    assert (y["yield_t_ha"] <= y["yield_high"]).all()


def test_weather_lowers_yield_only_when_adverse() -> None:
    m = _metrics([1.0], ["maize"])
    base = estimate_yield(m, county_yields=COUNTY)["yield_t_ha"].iloc[0]
    wet = estimate_yield(m, county_yields=COUNTY, weather={"spi": 1.5, "heat_days": 0})
    dry = estimate_yield(m, county_yields=COUNTY, weather={"spi": -2.5, "heat_days": 10})
    assert wet["yield_t_ha"].iloc[0] == pytest.approx(base)
    assert dry["yield_t_ha"].iloc[0] < base
    assert weather_factor({"spi": -10.0, "heat_days": 100}) == 0.7
    assert weather_factor({"spi": float("nan")}) == 1.0


def test_county_yields_reader(tmp_path: Path) -> None:
    p = tmp_path / "county_yields.csv"
    rows = ["crop,year,yield_t_ha"] + [
        f"maize,{y},{6 + 0.1 * (y - 2014)}" for y in range(2014, 2025)
    ]
    p.write_text("\n".join(rows) + "\n")
    means = read_county_yields(p, last_years=5)
    assert means["maize"] == pytest.approx(np.mean([6 + 0.1 * k for k in range(6, 11)]))
    assert county_yield_cv(p)["maize"] == pytest.approx(0.0, abs=1e-6)  # pure trend
    bad = tmp_path / "bad.csv"
    bad.write_text("crop,year,yield_t_ha\nmaize,2024,lots\n")
    with pytest.raises(TableReadError, match="row 2"):
        read_county_yields(bad)


def test_sample_county_yields(sample_data: Path) -> None:
    p = sample_data / "county_yields.csv"
    if not p.exists():
        pytest.skip("sample_data/county_yields.csv not generated yet")
    means = read_county_yields(p)
    assert {"winter_wheat", "summer_maize", "maize"} <= set(means)
    cvs = county_yield_cv(p)
    assert all(0 <= v < 0.5 for v in cvs.values())


@parametrize_with_checks([YieldModel(log_target=False)])
def test_yield_model_contract(estimator: YieldModel, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def test_yield_model_learns_direction_and_interval() -> None:
    rng = np.random.default_rng(0)
    vig = rng.uniform(0.6, 1.3, 120)
    X = np.column_stack([vig, rng.normal(0, 1, 120)])  # second column is noise
    y = 7.5 * vig**1.3 * rng.lognormal(0, 0.08, 120)
    m = YieldModel().fit(X[:80], y[:80])
    assert m.coef_[0] > 0
    assert abs(m.coef_[1]) < m.coef_[0] / 5
    lo, hi = m.predict_interval(X[80:])
    cover = np.mean((y[80:] >= lo) & (y[80:] <= hi))
    assert 0.7 <= cover <= 1.0
    with pytest.raises(ValueError, match="positive yields"):
        YieldModel().fit(X[:5], np.r_[0.0, y[1:5]])
