"""Crop-type classifier: estimator contract, out-of-fold prediction, mismatch, reliability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from agrilend.errors import InsufficientEvidenceError
from agrilend.yield_models.crop_type import (
    CropTypeClassifier,
    brier_score,
    crop_mismatch,
    expected_calibration_error,
    predict_out_of_fold,
    some_trees,
    training_sample,
)

TIMES = pd.date_range("2024-01-01", "2024-12-31", freq="10D")


def _curves(n_per: int = 15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three crops with different calendars, noise and 30 % cloud gaps."""
    rng = np.random.default_rng(seed)
    doy = np.asarray(TIMES.day_of_year, dtype=float)
    shapes = {
        "winter_wheat_maize": 0.2
        + 0.6 * np.exp(-(((doy - 110) / 25) ** 2))
        + 0.55 * np.exp(-(((doy - 230) / 22) ** 2)),
        "maize": 0.2 + 0.65 * np.exp(-(((doy - 210) / 30) ** 2)),
        "orchard": 0.45 + 0.25 * np.exp(-(((doy - 180) / 60) ** 2)),
    }
    X, y = [], []
    for crop, curve in shapes.items():
        rows = curve + rng.normal(0, 0.03, (n_per, doy.size))
        rows[rng.random(rows.shape) < 0.3] = np.nan
        X.append(rows)
        y += [crop] * n_per
    return np.vstack(X), np.array(y)


# The estimator checks feed small random matrices: read as one channel, one column per date on
# an assumed 10-day grid. Every check applies; none is expected to fail.
@parametrize_with_checks([CropTypeClassifier(n_estimators=5, calibration=None)])
def test_sklearn_contract(estimator: CropTypeClassifier, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def test_fit_predict_gappy_series() -> None:
    X, y = _curves()
    clf = CropTypeClassifier(times=TIMES, n_estimators=30).fit(X, y)
    assert set(clf.classes_) == set(y)
    assert clf.n_features_in_ == len(TIMES)
    assert len(clf.feature_schema_) > 20
    proba = clf.predict_proba(X)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert (clf.predict(X) == y).mean() > 0.9


@pytest.mark.parametrize("model", ["extra_trees", "random_forest"])
def test_a_forest_grown_in_parts_is_the_forest_grown_whole(model: str) -> None:
    X, y = _curves(n_per=25, seed=4)
    clf = CropTypeClassifier(times=TIMES, n_estimators=23, model=model)  # type: ignore[arg-type]
    feats = clf._features(X)
    whole = clf.fit(X, y).predict_proba(X)
    seeds = [t.random_state for t in clf.estimator_.estimators_]
    assert len(set(seeds)) == 23
    mixed = np.zeros_like(whole)
    for a, b in ((0, 5), (5, 6), (6, 23)):
        part = CropTypeClassifier(times=TIMES, n_estimators=23, model=model)  # type: ignore[arg-type]
        part._fit_features(feats, y, trees=(a, b))
        assert [t.random_state for t in part.estimator_.estimators_] == seeds[a:b]
        assert part.estimator_.n_estimators == b - a
        mixed += part._proba_features(feats) * (b - a) / 23
    np.testing.assert_allclose(mixed, whole, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="not a part"):
        some_trees(clf._forest(10), clf._matrix(feats), np.arange(len(y)) % 3, 5, 5)


def test_wrong_time_length_is_explained() -> None:
    X, y = _curves()
    with pytest.raises(ValueError, match="dates per channel"):
        CropTypeClassifier(times=TIMES[:-1]).fit(X, y)


def test_multichannel_layout() -> None:
    X, y = _curves()
    X2 = np.hstack([X, X * 0.3])
    clf = CropTypeClassifier(times=TIMES, channels=("NDVI", "B04"), n_estimators=10).fit(X2, y)
    assert any(f.startswith("B04_") for f in clf.feature_schema_)
    with pytest.raises(ValueError, match="multiple of 3 channels"):
        CropTypeClassifier(channels=("a", "b", "c")).fit(X2, y)


def test_out_of_fold_never_sees_own_label() -> None:
    X, y = _curves(n_per=12)
    ids = [f"P{i:03d}" for i in range(len(y))]
    declared = pd.Series(y, index=ids)
    # a deliberate false declaration: a maize parcel declared as orchard
    liar = int(np.flatnonzero(y == "maize")[0])
    declared.iloc[liar] = "orchard"
    model = CropTypeClassifier(times=TIMES, n_estimators=25)
    oof = predict_out_of_fold(X, declared, model=model, n_splits=4)
    assert list(oof.index) == ids
    assert {"crop", "crop_confidence", "fold", "p_maize"} <= set(oof.columns)
    assert oof.loc[ids[liar], "crop"] == "maize"
    flag = crop_mismatch(declared, oof["crop"], oof["crop_confidence"], threshold=0.5)
    assert flag[liar]
    assert (oof["crop"].to_numpy() == y).mean() > 0.85


def test_out_of_fold_handles_rare_and_empty_labels() -> None:
    X, y = _curves(n_per=10)
    declared = y.astype(object)
    declared[0] = "cotton"  # a single declaration: not learnt, still predicted
    declared[1] = ""
    oof = predict_out_of_fold(
        X, declared, model=CropTypeClassifier(n_estimators=10, calibration=None)
    )
    assert "p_cotton" not in oof.columns
    assert oof["crop"].notna().all()
    with pytest.raises(InsufficientEvidenceError, match="two crops"):
        predict_out_of_fold(X[:6], ["maize"] * 6)


def test_training_sample_caps_a_large_county_and_keeps_rare_crops() -> None:
    lab = np.array(["wheat"] * 5000 + ["rice"] * 400 + ["cotton"] * 30 + [""] * 70, dtype=object)
    keep = training_sample(lab, max_train=1000, rare_keep=50, random_state=3)
    assert not keep[lab == ""].any()
    counts = {c: int(keep[lab == c].sum()) for c in ("wheat", "rice", "cotton")}
    # proportional shares (5000/5430 and 400/5430 of 1000), the rare crop kept whole
    assert counts == {"wheat": 920, "rice": 73, "cotton": 30}
    # same seed, same sample; under the cap (or without one) every declaration trains
    assert np.array_equal(keep, training_sample(lab, max_train=1000, rare_keep=50, random_state=3))
    assert np.array_equal(training_sample(lab, max_train=None), lab != "")
    assert np.array_equal(training_sample(lab, max_train=10_000), lab != "")


def test_out_of_fold_with_a_training_cap_predicts_the_rest_with_unseen_models() -> None:
    X, y = _curves(n_per=40, seed=4)
    model = CropTypeClassifier(times=TIMES, n_estimators=20, calibration=None)
    oof = predict_out_of_fold(X, y, model=model, n_splits=3, max_train=45)
    pool = training_sample(y, max_train=45)
    folds = oof["fold"].to_numpy()
    # the sample is split into folds; every other parcel is predicted by the fold models
    assert set(folds[pool]) == {0, 1, 2}
    assert (folds[~pool] == -1).all()
    assert int(pool.sum()) < len(y) / 2
    proba = oof.filter(regex="^p_").to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (oof["crop"].to_numpy()[~pool] == y[~pool]).mean() > 0.9


def test_mismatch_rules() -> None:
    flags = crop_mismatch(
        ["maize", "maize", "maize", None], ["rice", "rice", "maize", "rice"], [0.9, 0.5, 0.99, 0.9]
    )
    assert flags.tolist() == [True, False, False, False]


def test_reliability_measures() -> None:
    classes = ["a", "b"]
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(["a", "b"], perfect, classes) == 0.0
    assert brier_score(["a", "b"], perfect, classes) == 0.0
    wrong = perfect[::-1]
    assert brier_score(["a", "b"], wrong, classes) == 2.0
    assert expected_calibration_error(["a", "b"], wrong, classes) == 1.0


def test_parts_of_a_forest_grown_in_threads_at_once_let_no_warning_through() -> None:
    """A threaded Dask worker grows parts of a forest at once. ``catch_warnings`` around each
    fit was not thread-safe: one thread restored the filters while another still fitted, and
    scikit-learn's warm-start warning escaped (an error under CI's filters; this test caught it
    in about one run of four before the fix, and never after)."""
    import threading  # noqa: PLC0415
    import warnings  # noqa: PLC0415

    from sklearn.ensemble import ExtraTreesClassifier  # noqa: PLC0415

    X, y = np.random.default_rng(0).normal(size=(3000, 4)), np.arange(3000) % 3
    errors: list[BaseException] = []

    def grow() -> None:
        for _ in range(10):
            forest = ExtraTreesClassifier(n_estimators=4, random_state=0,
                                          class_weight="balanced_subsample")  # fmt: skip
            try:
                some_trees(forest, X, y, 2, 4)
            except Exception as exc:  # any error of a thread is the test's
                errors.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threads = [threading.Thread(target=grow) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
