"""Safe model persistence: round trip, refusals with clear errors, no untrusted types."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import ExtraTreesClassifier

from agrilend.errors import ModelVersionError, OutputExistsError
from agrilend.yield_models import CropTypeClassifier, YieldModel
from agrilend.yield_models.persistence import (
    MODEL_FORMAT_VERSION,
    load_model,
    read_model_metadata,
    save_model,
)

TIMES = pd.date_range("2024-01-01", "2024-12-31", freq="10D")


@pytest.fixture(scope="module")
def fitted() -> tuple[CropTypeClassifier, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.random((30, len(TIMES)))
    X[rng.random(X.shape) < 0.2] = np.nan
    y = np.repeat(["maize", "rice", "soybean"], 10)
    return CropTypeClassifier(times=TIMES, n_estimators=10).fit(X, y), X


def _rewrite_meta(path: Path, **changes: object) -> None:
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
        blob = zf.read("model.skops")
    meta.update(changes)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps(meta))
        zf.writestr("model.skops", blob)


def test_round_trip_keeps_predictions(
    tmp_path: Path, fitted: tuple[CropTypeClassifier, np.ndarray]
) -> None:
    model, X = fitted
    p = save_model(model, tmp_path / "crop.agm", note="test county 2024")
    meta = read_model_metadata(p)
    assert meta["model_format_version"] == MODEL_FORMAT_VERSION
    assert meta["classes"] == ["maize", "rice", "soybean"]
    assert meta["feature_schema"] == model.feature_schema_
    back = load_model(p, expected_type=CropTypeClassifier, expected_features=model.feature_schema_)
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))


def test_yield_model_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 2, (20, 2))
    m = YieldModel().fit(X, 3 * X[:, 0])
    back = load_model(save_model(m, tmp_path / "y.agm"), expected_type=YieldModel)
    np.testing.assert_allclose(back.predict(X), m.predict(X))


def test_no_silent_overwrite(tmp_path: Path, fitted: tuple[CropTypeClassifier, np.ndarray]) -> None:
    p = save_model(fitted[0], tmp_path / "m.agm")
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        save_model(fitted[0], p)
    save_model(fitted[0], p, overwrite=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model_format_version": MODEL_FORMAT_VERSION + 1}, "model format version"),
        ({"agrilend_version": "9.9.0"}, "saved by agrilend 9.9.0"),
        ({"sklearn_version": "0.20.0"}, "scikit-learn 0.20.0"),
    ],
)
def test_incompatible_versions_are_refused(
    tmp_path: Path, fitted: tuple[CropTypeClassifier, np.ndarray], change: dict, message: str
) -> None:
    p = save_model(fitted[0], tmp_path / "m.agm")
    _rewrite_meta(p, **change)
    with pytest.raises(ModelVersionError, match=message) as err:
        load_model(p)
    assert err.value.path == p
    assert "retrain" in str(err.value)


def test_wrong_type_and_schema_are_refused(
    tmp_path: Path, fitted: tuple[CropTypeClassifier, np.ndarray]
) -> None:
    p = save_model(fitted[0], tmp_path / "m.agm")
    with pytest.raises(ModelVersionError, match=r"expected .*YieldModel"):
        load_model(p, expected_type=YieldModel)
    with pytest.raises(ModelVersionError, match="feature schema"):
        load_model(p, expected_features=["NDVI_mean", "other"])


def test_not_a_model_file(tmp_path: Path) -> None:
    p = tmp_path / "x.agm"
    p.write_bytes(b"\x80\x04not a zip")  # looks like a pickle: never unpickled
    with pytest.raises(ModelVersionError, match="not an agrilend model file"):
        load_model(p)


def test_untrusted_types_are_refused(tmp_path: Path) -> None:
    """A file whose skops payload holds a type outside the allow-list is not loaded."""

    class Sneaky:  # a local class: never on the allow-list
        pass

    model = ExtraTreesClassifier(n_estimators=2).fit([[0.0], [1.0]], [0, 1])
    model.extra_ = Sneaky()  # type: ignore[attr-defined]
    blob = sio.dumps(model)
    p = tmp_path / "m.agm"
    meta = read_model_metadata(
        save_model(ExtraTreesClassifier(n_estimators=2).fit([[0.0]], [0]), p)
    )
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("meta.json", json.dumps(meta))
        zf.writestr("model.skops", blob)
    with pytest.raises(ModelVersionError, match="does not trust"):
        load_model(p)
