"""One crop model for new imagery: day-of-year features, dates it refuses, the saved file, and
labels of any kind through ``assess`` on the sample county."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agrilend.errors import ModelError
from agrilend.yield_models import load_crop_model, save_model
from agrilend.yield_models.crop_type import CropTypeClassifier
from agrilend.yield_models.features import profile_width, season_days, series_features


def _season(times: pd.DatetimeIndex, n_per: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three crops peaking on fixed days of the year, sampled on ``times`` with gaps."""
    rng = np.random.default_rng(seed)
    doy = np.asarray(times.day_of_year, dtype=float)
    X, y = [], []
    for crop, peak in (("wheat", 120.0), ("maize", 215.0), ("soybean", 250.0)):
        rows = (
            0.2 + 0.6 * np.exp(-(((doy - peak) / 25) ** 2)) + rng.normal(0, 0.03, (n_per, doy.size))
        )
        rows[rng.random(rows.shape) < 0.3] = np.nan
        X.append(rows)
        y += [crop] * n_per
    return np.vstack(X), np.array(y)


TRAIN_T = pd.date_range("2023-03-01", "2023-10-31", freq="5D")


@pytest.fixture(scope="module")
def fitted() -> CropTypeClassifier:
    X, y = _season(TRAIN_T, 30, seed=0)
    clf = CropTypeClassifier(times=TRAIN_T, n_estimators=60).fit(X, y)
    clf.mismatch_threshold_ = 0.9
    return clf


def test_a_model_predicts_another_season_on_other_dates(fitted: CropTypeClassifier) -> None:
    # next year, a 10-day revisit starting on another day
    new_t = pd.date_range("2024-02-25", "2024-11-05", freq="10D")
    X, y = _season(new_t, 20, seed=1)
    assert (fitted.predict(X, times=new_t) == y).mean() >= 0.9


def test_imagery_that_misses_the_season_is_refused(fitted: CropTypeClassifier) -> None:
    half = pd.date_range("2024-06-01", "2024-10-31", freq="5D")
    X, _ = _season(half, 2, seed=2)
    with pytest.raises(ModelError, match="day 59 to day 299") as err:
        fitted.predict_proba(X, times=half)
    assert "agrilend train" in str(err.value)


def test_the_saved_model_serves_new_imagery_and_keeps_its_threshold(
    fitted: CropTypeClassifier, tmp_path: Path
) -> None:
    path = save_model(fitted, tmp_path / "crops.agm")
    again = load_crop_model(path)
    assert again.mismatch_threshold_ == pytest.approx(0.9)
    new_t = pd.date_range("2024-03-03", "2024-10-30", freq="7D")
    X, _ = _season(new_t, 5, seed=3)
    np.testing.assert_allclose(
        again.predict_proba(X, times=new_t), fitted.predict_proba(X, times=new_t), atol=1e-12
    )


def test_features_live_on_the_day_of_year_grid() -> None:
    t1 = pd.date_range("2023-03-01", "2023-10-31", freq="5D")
    t2 = pd.date_range("2024-03-04", "2024-10-31", freq="5D")
    curve = lambda t: 0.2 + 0.6 * np.exp(-(((np.asarray(t.day_of_year, float) - 200) / 30) ** 2))  # noqa: E731
    f1 = series_features(curve(t1)[None], t1, profile_days=20, origin="season")
    f2 = series_features(curve(t2)[None], t2, profile_days=20, origin="season")
    shared = [c for c in f1.columns if c.startswith("NDVI_d") and c in f2.columns]
    assert "NDVI_d180" in shared
    np.testing.assert_allclose(f1[shared].to_numpy(), f2[shared].to_numpy(), atol=0.03)
    assert abs(f1["NDVI_t_max"].iloc[0] - f2["NDVI_t_max"].iloc[0]) <= 6
    assert season_days(pd.to_datetime(["2022-11-01", "2023-06-01"])).tolist() == [-61.0, 151.0]


def test_bin_width_follows_observation_density() -> None:
    t = pd.date_range("2024-01-01", periods=73, freq="5D")
    dense = np.ones((4, 73))
    sparse = np.where(np.arange(73) % 5 == 0, 1.0, np.nan)[None].repeat(4, axis=0)
    assert profile_width(dense, t) == 10
    assert profile_width(sparse, t) == 30
    assert profile_width(dense, t) < profile_width(sparse, t)


@pytest.mark.slow
def test_labels_of_any_kind_through_assess(sample_inputs) -> None:  # type: ignore[no-untyped-def]
    """The sample county with its crops recoded to registry codes and names: the pipeline
    trains, predicts and checks declarations in those codes and returns them as given."""
    from agrilend.pipeline import assess  # noqa: PLC0415

    recode = {
        "winter_wheat_maize": "1101060000",  # numeric string (an EU LPIS-style code)
        "maize": "01",  # leading zero ...
        "soybean": "1",  # ... distinct from "1"
        "peanut": "花生",  # Chinese names
        "cotton": "棉花",
        "orchard": "果园",
        "greenhouse": "大棚",
        "rice": "0010",
        "fallow": "休耕",
    }
    titles = sample_inputs.titles.iloc[:220].copy()
    titles["declared_crop"] = titles["declared_crop"].map(recode).fillna("")
    result = assess(sample_inputs.cube, titles, policy=sample_inputs.policy)
    ok = result.parcels[result.parcels["status"] != "error"]
    assert set(ok["crop"].astype(str)) <= set(recode.values())
    assert (ok["crop"] == ok["declared_crop"]).mean() >= 0.75
    judged = ok["p_declared"].notna()  # not judged: no declaration, or a crop too rare to learn
    assert judged.mean() >= 0.9
    assert ok.loc[judged, "p_declared"].between(0, 1).all()
    assert ok["crop_mismatch"].dtype == bool
    assert set(map(str, result.context.crop_model.classes_)) <= set(recode.values())
