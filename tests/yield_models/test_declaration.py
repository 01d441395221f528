"""The crop-declaration check: it fires at realistic noise, holds its false-alarm rate, and
takes labels of any kind (issue 14's defects, each a test)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agrilend.yield_models.crop_type import (
    CropTypeClassifier,
    crop_mismatch,
    predict_out_of_fold,
)
from agrilend.yield_models.declaration import (
    audit_declarations,
    check_declarations,
    declared_positions,
)

TIMES = pd.date_range("2024-03-01", "2024-10-31", freq="5D")


def _county(n: int = 360, k: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` crops with peaks spread over the season, noise and 30 % cloud gaps."""
    rng = np.random.default_rng(seed)
    doy = np.asarray(TIMES.day_of_year, dtype=float)
    truth = np.repeat(np.arange(k), n // k)
    peaks = np.linspace(100, 270, k)
    X = 0.2 + 0.6 * np.exp(-(((doy[None, :] - peaks[truth][:, None]) / 22) ** 2))
    X = X + rng.normal(0, 0.04, X.shape)
    X[rng.random(X.shape) < 0.3] = np.nan
    return X, truth


def _flip(truth: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = rng.choice(truth.size, round(rate * truth.size), replace=False)
    declared = truth.copy()
    classes = np.unique(truth)
    for i in idx:
        declared[i] = rng.choice(classes[classes != truth[i]])
    false = np.zeros(truth.size, dtype=bool)
    false[idx] = True
    return declared, false


def _capped_probabilities(truth: np.ndarray, declared: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Calibrated-looking probabilities that never exceed 0.79 (the issue's held-out set)."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(k, 0.6), truth.size) * 0.3
    p[np.arange(truth.size), truth] += 0.46
    return p + 0.24 / k  # rows sum to 1, no probability above 0.79


def test_fires_where_a_fixed_confidence_bar_never_does() -> None:
    truth = np.repeat(np.arange(8), 250)
    declared, false = _flip(truth, 0.10, seed=1)
    proba = _capped_probabilities(truth, declared, 8, seed=2)
    assert proba.max() < 0.8
    classes = list(range(8))
    old = crop_mismatch(declared.astype(str), np.argmax(proba, 1).astype(str), proba.max(1))
    assert not old.any()  # the old rule: another crop at >= 0.8 never happens
    out = check_declarations(proba, classes, declared, false_alarm_rate=0.01)
    flags = out["crop_mismatch"].to_numpy()
    assert flags[false].mean() >= 0.7
    assert false[flags].mean() >= 0.9
    assert flags[~false].mean() <= 0.015
    assert out.attrs["estimated_false_share"] == pytest.approx(0.10, abs=0.03)


@pytest.mark.parametrize("rate", [0.005, 0.02])
def test_the_false_alarm_rate_is_what_the_policy_sets(rate: float) -> None:
    """With overlapping classes (honest parcels often mis-predicted) the honest share flagged
    stays near the rate asked for, and a higher rate flags more."""
    rng = np.random.default_rng(3)
    truth = np.repeat(np.arange(5), 400)
    declared, false = _flip(truth, 0.10, seed=4)
    p = rng.dirichlet(np.full(5, 1.0), truth.size)
    p[np.arange(truth.size), truth] += rng.uniform(0.0, 1.2, truth.size)
    p /= p.sum(axis=1, keepdims=True)
    out = check_declarations(p, list(range(5)), declared, false_alarm_rate=rate)
    honest_flagged = out["crop_mismatch"].to_numpy()[~false].mean()
    assert honest_flagged <= 2 * rate + 0.003
    lower = check_declarations(p, list(range(5)), declared, false_alarm_rate=rate / 2)
    assert lower["crop_mismatch"].sum() <= out["crop_mismatch"].sum()


def test_columns_and_unjudged_parcels() -> None:
    proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1]])
    out = check_declarations(proba, ["a", "b", "c"], ["a", "c", "", "z"], index=list("pqrs"))
    assert list(out.columns) == ["p_declared", "likely_crop", "mismatch_score", "crop_mismatch"]
    assert out.loc["p", "p_declared"] == pytest.approx(0.7)
    assert out.loc["p", "mismatch_score"] == pytest.approx(0.0)
    assert out.loc["q", "mismatch_score"] == pytest.approx(1 - 0.1 / 0.8)
    assert out.loc["q", "likely_crop"] == "b"
    # nothing declared, or a crop the model does not know: not judged, never flagged
    assert np.isnan(out.loc[["r", "s"], "p_declared"]).all()
    assert not out.loc[["r", "s"], "crop_mismatch"].any()
    with pytest.raises(ValueError, match="false_alarm_rate"):
        check_declarations(proba, ["a", "b", "c"], ["a"] * 4, false_alarm_rate=0.7)
    with pytest.raises(ValueError, match="shape"):
        check_declarations(proba, ["a", "b"], ["a"] * 4)


def test_a_given_threshold_is_used_as_is() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    out = check_declarations(proba, ["a", "b"], ["a", "a"], threshold=0.5)
    assert out["crop_mismatch"].tolist() == [False, True]
    assert out.attrs["threshold"] == 0.5


def test_audit_at_ten_percent_noise_with_cleaning() -> None:
    """The issue's goal on a separable county: recall >= 0.7 at precision >= 0.9, <= 1 % of
    honest parcels flagged; one cleaning round does not lose recall."""
    X, truth = _county()
    declared, false = _flip(truth, 0.10, seed=5)
    model = CropTypeClassifier(times=TIMES, n_estimators=100)
    out = audit_declarations(X, declared, model=model, false_alarm_rate=0.01)
    flags = out["crop_mismatch"].to_numpy()
    assert flags[false].mean() >= 0.7
    assert false[flags].mean() >= 0.9
    assert flags[~false].mean() <= 0.01
    assert out.attrs["set_aside"] >= flags.sum()
    plain = audit_declarations(X, declared, model=model, clean_rounds=0)
    assert flags[false].sum() >= plain["crop_mismatch"].to_numpy()[false].sum()
    # the predicted crop is the truth for most of the false declarations
    assert (out["crop"].to_numpy()[false] == truth[false]).mean() >= 0.9


LABEL_KINDS = {
    "integers": [1101, 2203, 3305],
    "numeric strings": ["1101060000", "1", "2203000000"],
    "leading zeros": ["01", "001", "1"],
    "chinese names": ["冬小麦-玉米", "大豆", "棉花"],
}


@pytest.mark.parametrize("kind", sorted(LABEL_KINDS))
def test_labels_of_any_kind_come_back_as_given(kind: str) -> None:
    X, truth = _county(n=72, k=3)
    names = np.empty(3, dtype=object)
    names[:] = LABEL_KINDS[kind]
    y = names[truth]
    clf = CropTypeClassifier(times=TIMES, n_estimators=20)
    clf.fit(X, y)
    assert sorted(map(str, clf.classes_)) == sorted(map(str, LABEL_KINDS[kind]))
    pred = clf.predict(X)
    assert set(pred.tolist()) <= set(LABEL_KINDS[kind])  # the same values and types
    assert (pred == y).mean() >= 0.9
    oof = predict_out_of_fold(X, list(y), model=clf)
    assert set(oof["crop"].tolist()) <= set(LABEL_KINDS[kind])
    assert oof.attrs["classes"] == sorted(LABEL_KINDS[kind])
    check = audit_declarations(X, list(y), model=clf, clean_rounds=0)
    assert check["p_declared"].notna().all()


def test_numeric_string_labels_with_calibration() -> None:
    """scikit-learn's calibration fails on numeric-string labels: the labels are encoded first."""
    X, truth = _county(n=72, k=3)
    y = np.array(LABEL_KINDS["numeric strings"])[truth]
    clf = CropTypeClassifier(times=TIMES, n_estimators=10, calibration="sigmoid").fit(X, y)
    assert type(clf.estimator_).__name__ == "CalibratedClassifierCV"
    assert (clf.predict(X) == y).mean() >= 0.9


def test_leading_zero_codes_stay_distinct() -> None:
    assert declared_positions(["01", "1", 1, "001"], ["01", "1"]).tolist() == [0, 1, 1, -1]


def test_balanced_votes_do_not_drift_to_the_majority() -> None:
    """465 parcels, one crop two thirds of them (the issue's small imbalanced set): the
    default model predicts the majority about as often as it occurs, and the minority crops
    are found."""
    rng = np.random.default_rng(7)
    doy = np.asarray(TIMES.day_of_year, dtype=float)
    sizes = {"maize": 307, "soybean": 60, "peanut": 50, "cotton": 48}
    peaks = {"maize": 200, "soybean": 215, "peanut": 185, "cotton": 230}
    X, y = [], []
    for crop, n in sizes.items():
        rows = 0.2 + 0.6 * np.exp(-(((doy - peaks[crop]) / 28) ** 2))
        rows = rows + rng.normal(0, 0.06, (n, doy.size))
        rows[rng.random(rows.shape) < 0.35] = np.nan
        X.append(rows)
        y += [crop] * n
    Xa, ya = np.vstack(X), np.array(y)
    oof = predict_out_of_fold(Xa, list(ya), model=CropTypeClassifier(times=TIMES))
    pred = oof["crop"].to_numpy()
    majority_share = (pred == "maize").mean()
    assert majority_share <= (ya == "maize").mean() + 0.08
    minority = ya != "maize"
    assert (pred[minority] == ya[minority]).mean() >= 0.6
