"""Safe save and load of fitted models.

A saved model is a zip file with two members: ``meta.json`` (model format version, agrilend and
scikit-learn versions, model type, class list, feature schema) and ``model.skops`` (the fitted
estimator in the skops format, which is read without ``pickle``). Loading checks the metadata
first and refuses a file from an incompatible version, of another model type or feature schema,
or holding object types outside an explicit allow-list, each with a :class:`ModelVersionError`
that names the path and what to do. Nothing in a user file is ever unpickled.
"""

from __future__ import annotations

import copy
import json
import logging
import zipfile
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn

from agrilend._limits import parse_json, read_zip_member
from agrilend._paths import local_path
from agrilend.errors import (
    ModelError,
    ModelVersionError,
    OutputExistsError,
    ResourceLimitError,
)
from agrilend.outputs import atomic_write
from agrilend.yield_models.crop_type import CropTypeClassifier

logger = logging.getLogger(__name__)

#: Version of the file layout and of the model attributes it stores. Bump it when a model class
#: changes its fitted attributes; files of another format version are refused.
MODEL_FORMAT_VERSION = 2

#: Object types (beyond those skops trusts by default) that a saved agrilend model may contain.
TRUSTED_TYPES: tuple[str, ...] = (
    "agrilend.yield_models.crop_type.CropTypeClassifier",
    "agrilend.yield_models.yields.YieldModel",
    "agrilend.yield_models.features.FeatureSpec",
    "builtins.tuple",
    "collections.OrderedDict",
    "numpy.dtype",
    "numpy.random._mt19937.MT19937",
    "numpy.random.mtrand.RandomState",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
)

_META = "meta.json"
_MODEL = "model.skops"


def _agrilend_version() -> str:
    try:
        return _dist_version("agrilend")
    except Exception:
        return "0+unknown"


def _major_minor(v: str) -> tuple[str, ...]:
    return tuple(v.split("+", maxsplit=1)[0].split(".")[:2])


def _feature_schema(model: Any) -> list[str]:
    for attr in ("feature_schema_", "feature_names_in_"):
        names = getattr(model, attr, None)
        if names is not None:
            return [str(n) for n in names]
    return []


def _plain(model: Any) -> Any:
    """A shallow copy whose pandas-index attributes (e.g. ``times``) are plain numpy arrays.

    skops stores numpy arrays but not pandas' internal objects; the estimators parse dates
    with ``pandas.to_datetime`` so an array of ISO strings means the same.
    """
    if not hasattr(model, "__dict__"):
        return model
    out = copy.copy(model)
    for key, value in vars(model).items():
        if isinstance(value, pd.DatetimeIndex):
            setattr(out, key, np.asarray(value.strftime("%Y-%m-%dT%H:%M:%S")).astype(str))
        elif isinstance(value, pd.Index | pd.Series):
            setattr(out, key, np.asarray(value))
        elif (
            isinstance(value, list | tuple)
            and value
            and all(isinstance(v, pd.Timestamp) for v in value)
        ):
            setattr(out, key, np.asarray([v.isoformat() for v in value]).astype(str))
    return out


def save_model(model: Any, path: str | Path, *, overwrite: bool = False, note: str = "") -> Path:
    """Save a fitted model with its version and feature schema.

    Parameters
    ----------
    model
        A fitted estimator (e.g. :class:`~agrilend.yield_models.CropTypeClassifier`).
    path
        Where to write (``.agm`` by convention).
    overwrite
        Replace an existing file.
    note
        Free text stored in the metadata (where the training data came from...).

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``overwrite`` is false.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from sklearn.linear_model import LogisticRegression
    >>> m = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    >>> p = save_model(m, pathlib.Path(tempfile.mkdtemp()) / "m.agm")
    >>> load_model(p).predict([[0.9]]).tolist()
    [1]
    """
    p = local_path(path, must_exist=False, what="model")
    if p.exists() and not overwrite:
        raise OutputExistsError(
            f"model file {str(p)!r} exists; pass overwrite=True to replace it", path=p
        )
    classes = getattr(model, "classes_", None)
    meta = {
        "model_format_version": MODEL_FORMAT_VERSION,
        "agrilend_version": _agrilend_version(),
        "sklearn_version": sklearn.__version__,
        "model_type": f"{type(model).__module__}.{type(model).__qualname__}",
        "classes": [str(c) for c in classes] if classes is not None else None,
        "feature_schema": _feature_schema(model),
        "note": note,
    }
    import skops.io as sio  # noqa: PLC0415  (2 s of imports: only when a model is saved)

    with atomic_write(p) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_META, json.dumps(meta, indent=1))
        # skops's archive written into ours as it is compressed: not copied to bytes first
        # (a county's forest is 50-150 MB; the copy was the scan client's peak)
        with zf.open(_MODEL, "w") as member:
            sio.dump(_plain(model), member)
    logger.info("saved %s (%d features) to %s", meta["model_type"], len(meta["feature_schema"]), p)
    return p


def read_model_metadata(path: str | Path) -> dict[str, Any]:
    """Read the metadata of a saved model without loading the model.

    Raises
    ------
    ModelVersionError
        When the file is not an agrilend model file.
    """
    p = local_path(path, what="model")

    def refuse(why: str) -> ModelVersionError:
        return ModelVersionError(
            f"{str(p)!r} is not an agrilend model file ({why}); save models with "
            "agrilend.yield_models.save_model (or `agrilend train`)",
            path=p,
        )

    try:
        with zipfile.ZipFile(p) as zf:
            raw = read_zip_member(zf, _META, f"model file {str(p)!r}", path=p)
    except ResourceLimitError:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise refuse(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    meta = parse_json(raw, f"metadata of {str(p)!r}", error=refuse)
    if not isinstance(meta, dict):
        raise refuse("its metadata is not a JSON object")
    return meta


def load_model(
    path: str | Path,
    *,
    expected_type: type | None = None,
    expected_features: list[str] | None = None,
) -> Any:
    """Load a model saved by :func:`save_model`, refusing incompatible or untrusted files.

    Parameters
    ----------
    path
        The model file.
    expected_type
        Refuse a model of another class.
    expected_features
        Refuse a model whose feature schema differs (order matters).

    Returns
    -------
    object
        The fitted estimator.

    Raises
    ------
    ModelVersionError
        When the file was written by an incompatible model format, agrilend or scikit-learn
        version, holds another model type or feature schema, or contains object types outside
        :data:`TRUSTED_TYPES`.
    """
    p = local_path(path, what="model")
    meta = read_model_metadata(p)
    retrain = "retrain it with this version (`agrilend train`) and save it again"
    fmt = meta.get("model_format_version")
    if fmt != MODEL_FORMAT_VERSION:
        raise ModelVersionError(
            f"model file {str(p)!r} has model format version {fmt!r}, this agrilend reads "
            f"version {MODEL_FORMAT_VERSION}; {retrain}",
            path=p,
        )
    saved_ag = str(meta.get("agrilend_version", "?"))
    if _major_minor(saved_ag) != _major_minor(_agrilend_version()):
        raise ModelVersionError(
            f"model file {str(p)!r} was saved by agrilend {saved_ag}, this is "
            f"{_agrilend_version()}; {retrain}",
            path=p,
        )
    saved_sk = str(meta.get("sklearn_version", "?"))
    if _major_minor(saved_sk) != _major_minor(sklearn.__version__):
        raise ModelVersionError(
            f"model file {str(p)!r} was saved with scikit-learn {saved_sk}, this is "
            f"{sklearn.__version__}; {retrain}",
            path=p,
        )
    if expected_type is not None:
        want = f"{expected_type.__module__}.{expected_type.__qualname__}"
        if meta.get("model_type") != want:
            raise ModelVersionError(
                f"model file {str(p)!r} holds a {meta.get('model_type')}, expected {want}; "
                "pass the right model file",
                path=p,
            )
    if expected_features is not None and list(expected_features) != meta.get("feature_schema"):
        saved = meta.get("feature_schema") or []
        diff = sorted(set(saved) ^ set(expected_features))[:5]
        raise ModelVersionError(
            f"model file {str(p)!r} was trained on another feature schema ({len(saved)} "
            f"features, differing e.g. in {diff}); {retrain}",
            path=p,
        )
    import skops.io as sio  # noqa: PLC0415  (2 s of imports: only when a model is loaded)

    try:
        with zipfile.ZipFile(p) as zf:
            blob = read_zip_member(zf, _MODEL, f"model file {str(p)!r}", path=p)
        found = sio.get_untrusted_types(data=blob)
    except ResourceLimitError:
        raise
    except Exception as exc:  # a missing member, a pickle or other bytes in place of skops
        raise ModelVersionError(
            f"model file {str(p)!r} does not hold a readable model ({type(exc).__name__}); "
            f"{retrain}",
            path=p,
        ) from None
    untrusted = [t for t in found if t not in TRUSTED_TYPES]
    if untrusted:
        raise ModelVersionError(
            f"model file {str(p)!r} contains object types agrilend does not trust "
            f"({untrusted[:5]}); it was not written by agrilend's save_model: do not load it, "
            "retrain the model instead",
            path=p,
        )
    try:
        return sio.loads(blob, trusted=list(TRUSTED_TYPES))
    except Exception as exc:
        raise ModelError(
            f"model file {str(p)!r} could not be read ({type(exc).__name__}: {exc}); {retrain}"
        ) from exc


def load_crop_model(path: str | Path) -> Any:
    """Load a crop-type model written by ``agrilend train`` (or :func:`save_model`).

    Raises
    ------
    ModelVersionError
        When the file is not a crop-type model, or is refused by :func:`load_model`.
    """
    return load_model(path, expected_type=CropTypeClassifier)


__all__ = [
    "MODEL_FORMAT_VERSION",
    "TRUSTED_TYPES",
    "load_crop_model",
    "load_model",
    "read_model_metadata",
    "save_model",
]
