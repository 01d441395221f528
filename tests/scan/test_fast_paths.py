"""The household fast paths give what the slow ones give: a window read without Dask, the crop
forest flattened, the county weather tables cached in the context."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from agrilend.inputs import InputFiles, load_inputs
from agrilend.pipeline import CountyContext, _county_weather
from agrilend.scan._flat_forest import _FAST, FlatForest, fast_crop_model
from agrilend.scan.parts import read_window
from agrilend.yield_models.crop_type import CropTypeClassifier


@pytest.fixture(scope="module")
def sample() -> object:
    return load_inputs(InputFiles.sample(), chunks={})


@pytest.mark.parametrize("window", [((50, 90), (60, 100)), ((0, 180), (175, 180))])
def test_window_read_without_dask_is_the_cubes_window(
    sample: object, window: tuple[tuple[int, int], tuple[int, int]]
) -> None:
    cube = sample.cube  # type: ignore[attr-defined]
    rows, cols = window
    direct = read_window(cube, rows, cols)
    assert direct is not None
    xr.testing.assert_identical(direct, cube.isel(y=slice(*rows), x=slice(*cols)).load())


def test_window_read_declines_a_cube_it_cannot_prove(sample: object) -> None:
    cube = sample.cube.assign_attrs(mask_dilation=1)  # type: ignore[attr-defined]
    assert read_window(cube, (0, 10), (0, 10)) is None
    assert read_window(cube.assign_attrs(source="in memory"), (0, 10), (0, 10)) is None


def test_flat_forest_predicts_as_the_calibrated_crop_model() -> None:
    rng = np.random.default_rng(0)
    times = pd.date_range("2024-03-01", periods=20, freq="10D")
    base = {"a": 0.3, "b": 0.5, "c": 0.7}
    y = np.repeat(list(base), 30)
    X = np.array([base[c] + 0.3 * np.sin(np.arange(20) / (3 + "abc".index(c))) for c in y])
    X = X + rng.normal(0, 0.05, X.shape)
    X[rng.uniform(size=X.shape) < 0.2] = np.nan
    model = CropTypeClassifier(times=list(times), n_estimators=25, random_state=0).fit(X, y)
    fast = fast_crop_model(model)
    assert fast is fast_crop_model(model)  # made once per model
    loose = fast_crop_model(CropTypeClassifier(times=list(times), n_estimators=5).fit(X, y),
                            keep=False)  # fmt: skip
    assert not any(v is loose for v in _FAST.values())  # a scan's client does not keep it
    assert model.estimator_ is not fast.estimator_  # the model itself is untouched
    np.testing.assert_allclose(fast.predict_proba(X[:40]), model.predict_proba(X[:40]),
                               rtol=0, atol=1e-12)  # fmt: skip
    # the forest is flattened wherever it sits: the estimator itself, or each calibration fold
    folds = getattr(fast.estimator_, "calibrated_classifiers_", None)
    inner = fast.estimator_ if folds is None else folds[0].estimator
    assert isinstance(inner, FlatForest)


def test_county_weather_tables_are_computed_once_per_context(sample: object) -> None:
    weather = sample.weather  # type: ignore[attr-defined]
    season = (pd.Timestamp("2024-03-01"), pd.Timestamp("2024-10-31"))
    ctx = CountyContext()
    climate, table = _county_weather(weather, season, ctx.tables)
    assert len(ctx.tables) == 1
    again, table2 = _county_weather(weather, season, ctx.tables)
    assert again == climate
    pd.testing.assert_frame_equal(table, table2)
    table2.iloc[0, 0] = -1.0  # a caller's change never reaches the cache
    pd.testing.assert_frame_equal(_county_weather(weather, season, ctx.tables)[1], table)
    changed = weather.copy()
    changed.iloc[0, -1] = changed.iloc[0, -1] + 1 if np.isfinite(changed.iloc[0, -1]) else 0
    _county_weather(changed, season, ctx.tables)
    assert len(ctx.tables) == 2


def test_flat_forest_splits_values_at_the_thresholds_as_scikit_learn() -> None:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier  # noqa: PLC0415

    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)
    for forest in (RandomForestClassifier(n_estimators=15, random_state=0),
                   ExtraTreesClassifier(n_estimators=15, random_state=0)):  # fmt: skip
        forest.fit(X, y)
        # rows whose features sit on, just below and just above the trees' thresholds
        thresholds = np.concatenate([e.tree_.threshold[e.tree_.feature >= 0]
                                     for e in forest.estimators_])  # fmt: skip
        at = thresholds.astype(np.float32)
        probe = np.concatenate([at, np.nextafter(at, np.float32(-np.inf)),
                                np.nextafter(at, np.float32(np.inf))])  # fmt: skip
        Xt = np.repeat(probe[:, None], X.shape[1], axis=1)
        Xt[::2] = X[rng.integers(0, len(X), Xt[::2].shape[0])]  # and rows of the data
        Xt[1::3, 0] = probe[1::3]
        np.testing.assert_allclose(FlatForest(forest).predict_proba(Xt),
                                   forest.predict_proba(Xt), rtol=0, atol=1e-12)  # fmt: skip


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 7, 8, 13])
def test_flat_forest_walks_any_number_of_rows_as_one_at_a_time(n: int) -> None:
    """The trees are walked four rows at once, the rest one at a time: every row count gives
    each row the forest's probabilities, whichever way its row was walked."""
    from sklearn.ensemble import ExtraTreesClassifier  # noqa: PLC0415

    rng = np.random.default_rng(n)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] * X[:, 2] > 0.2) + 2 * (X[:, 3] > 1)
    forest = ExtraTreesClassifier(n_estimators=9, random_state=0).fit(X, y)
    flat = FlatForest(forest)
    Xt = rng.normal(size=(n, 6)).astype(np.float32)
    got = flat.predict_proba(Xt)
    assert got.shape == (n, forest.n_classes_)
    np.testing.assert_allclose(got, forest.predict_proba(Xt) if n else got, rtol=0, atol=1e-12)
    for i in range(n):  # a row walked in a block of four is the row walked alone
        np.testing.assert_allclose(got[i], flat.predict_proba(Xt[i : i + 1])[0], rtol=0,
                                   atol=1e-15)  # fmt: skip
