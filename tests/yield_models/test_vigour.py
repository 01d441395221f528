"""Season metrics and peer-relative vigour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agrilend.yield_models.vigour import (
    VIGOUR_CLASSES,
    history_vigour,
    peer_statistics,
    season_metrics,
    vigour_scores,
)

TIMES = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
DOY = np.asarray(TIMES.day_of_year, dtype=float)


def _maize(shift: float = 0.0, vigour: float = 1.0) -> np.ndarray:
    return 0.2 + vigour * 0.6 * np.exp(-(((DOY - 200 - shift) / 28) ** 2))


def _county(seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    rows = [_maize(rng.normal(0, 4), rng.normal(1.0, 0.05)) for _ in range(20)]
    X = np.vstack(rows) + rng.normal(0, 0.015, (20, TIMES.size))
    X[rng.random(X.shape) < 0.25] = np.nan  # cloud gaps
    return X, [f"M{i:02d}" for i in range(20)]


def _with_crop(metrics: pd.DataFrame, crop: str = "maize") -> pd.DataFrame:
    return metrics.assign(crop=crop)


def test_season_metrics_columns_and_values() -> None:
    X, ids = _county()
    m = season_metrics(X, TIMES, index=ids)
    assert list(m.index) == ids
    for col in ("sos", "pos", "eos", "season_length_days", "season_integral", "peak_ndvi"):
        assert m[col].notna().all(), col
    assert m["pos"].dt.month.isin([6, 7, 8]).all()
    assert (m["n_clear_obs"] < TIMES.size).all()
    assert m["cloud_fraction"].between(0.1, 0.4).all()


def test_double_crop_has_two_seasons() -> None:
    y = 0.2 + 0.6 * np.exp(-(((DOY - 110) / 22) ** 2)) + 0.55 * np.exp(-(((DOY - 235) / 22) ** 2))
    m = season_metrics(y[None, :], TIMES)
    assert m.loc[0, "n_seasons"] == 2
    assert np.isfinite(m.loc[0, "season2_integral"])


def test_late_sown_healthy_field_is_not_poor() -> None:
    """A field sown 25 days late with a healthy canopy scores normal, and its delay is shown."""
    X, ids = _county()
    late = _maize(shift=25.0)
    poor = _maize(vigour=0.55)
    data = np.vstack([X, late, poor])
    m = _with_crop(season_metrics(data, TIMES, index=[*ids, "late", "poor"]))
    v = vigour_scores(m)
    assert v.loc["late", "vigour_class"] in {"normal", "good"}
    assert v.loc["late", "vigour"] == pytest.approx(1.0, abs=0.1)
    assert v.loc["late", "sos_shift_days"] > 15
    assert v.loc["poor", "vigour_class"] == "poor"
    assert v.loc["poor", "vigour"] < 0.8
    assert (v.loc[ids, "vigour_class"] != "poor").mean() > 0.9


def test_peers_from_the_county_are_reused_for_one_household() -> None:
    X, ids = _county()
    m = _with_crop(season_metrics(X, TIMES, index=ids))
    peers = peer_statistics(m)
    one = _with_crop(season_metrics(_maize(vigour=0.5)[None, :], TIMES, index=["h1"]))
    v = vigour_scores(one, peers=peers)
    assert v.loc["h1", "vigour_class"] == "poor"
    assert v.loc["h1", "vigour_quality"] == "ok"


def test_unknowns_are_labelled() -> None:
    X, ids = _county()
    m = _with_crop(season_metrics(X, TIMES, index=ids))
    m.loc["bare"] = m.iloc[0]
    m.loc["bare", ["season_integral", "peak_ndvi"]] = np.nan
    m.loc["lone"] = m.iloc[0]
    m.loc["lone", "crop"] = "cotton"
    m.loc["cloudy"] = m.iloc[0]
    m.loc["cloudy", "n_clear_obs"] = 3
    v = vigour_scores(m)
    assert v.loc["bare", "vigour_quality"] == "no_season"
    assert v.loc["bare", "vigour_class"] == "unknown"
    assert v.loc["lone", "vigour_quality"] == "no_peers"
    assert v.loc["cloudy", "vigour_quality"] == "low_confidence"


@settings(max_examples=40, deadline=None)
@given(st.floats(5.0, 120.0), st.floats(5.0, 120.0))
def test_vigour_is_monotone_in_the_integral(a: float, b: float) -> None:
    base = pd.DataFrame(
        {
            "crop": "maize",
            "season_integral": np.linspace(40, 60, 9),
            "peak_ndvi": 0.8,
            "sos": pd.Timestamp("2024-05-01"),
            "season_length_days": 100.0,
        }
    )
    peers = peer_statistics(base)
    two = base.iloc[:2].copy()
    two["season_integral"] = [min(a, b), max(a, b)]
    v = vigour_scores(two, peers=peers)
    assert v["vigour"].iloc[0] <= v["vigour"].iloc[1]
    order = {c: i for i, c in enumerate(VIGOUR_CLASSES)}
    assert order[v["vigour_class"].iloc[0]] <= order[v["vigour_class"].iloc[1]]


def test_history_vigour() -> None:
    cur = pd.DataFrame({"season_integral": [50.0, 50.0], "peak_ndvi": [0.8, 0.8]}, index=["a", "b"])
    hist = pd.DataFrame(
        {"parcel_id": ["a", "a", "a"], "season_integral": [50.0, 52, 48], "peak_ndvi": [0.8] * 3}
    )
    h = history_vigour(cur, hist)
    assert h.loc["a", "history_vigour"] == pytest.approx(1.0)
    assert h.loc["a", "history_seasons"] == 3
    assert h.loc["b", "history_seasons"] == 0
    assert np.isnan(h.loc["b", "history_vigour"])
