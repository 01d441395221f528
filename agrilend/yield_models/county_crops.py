"""A county's crop step in one process: the declaration audit, the county's model, every parcel.

:func:`county_crops` is what :func:`agrilend.pipeline.decide` runs when no county model is
given (and what a county scan computes on its workers, :mod:`agrilend.scan.county`):

1. The training sample: every declaration, or above ``max_train`` a stratified sample of them
   (:func:`~agrilend.yield_models.crop_type.training_sample`).
2. Its audit: out-of-fold probabilities, the declaration check and one cleaning round
   (:func:`~agrilend.yield_models.declaration.audit_declarations`), on the sample alone.
3. The county's model: trained on the sample's declarations the audit did not flag, of the crops
   the folds learn (at least ``min_class_size`` declarations: a crop declared less often is
   learnt by no model, so no model judges it).
4. Every parcel outside the sample (none below ``max_train``) is predicted by that model, which
   never saw its declaration, as a household decided later from the county's context is; then
   the check runs once more, over every parcel, and its threshold stays with the model.

So a parcel gets the same probabilities from the county scan that decided it and from
:func:`agrilend.scan.decide_household` on the scan's context, and the parcels outside the sample
cost one forest's prediction, not one per fold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from agrilend.yield_models.crop_type import CropTypeClassifier, declared_labels, training_sample
from agrilend.yield_models.declaration import (
    DEFAULT_FALSE_ALARM_RATE,
    audit_declarations,
    check_declarations,
)

#: The crop classes with fewer declarations than this are learnt by no model.
MIN_CLASS_SIZE = 5


def learnt_classes(
    labels: np.ndarray[Any, Any], min_class_size: int = MIN_CLASS_SIZE, none: Any = ""
) -> Any:
    """The sorted declared crops (text, ``none`` = no declaration; or their
    :func:`agrilend.yield_models.crop_type.label_codes`, with ``none=0``) with at least
    ``min_class_size`` declarations: the crops the fold models and the county's model learn.

    Examples
    --------
    >>> learnt_classes(np.array(["a"] * 5 + ["b"] * 4 + [""] * 9)).tolist()
    ['a']
    >>> learnt_classes(np.array([2] * 5 + [1] * 4 + [0] * 9), none=0).tolist()
    [2]
    """
    names, counts = np.unique(labels[labels != none], return_counts=True)
    return names[counts >= min_class_size]


def county_model_rows(
    labels: np.ndarray[Any, Any],
    in_sample: np.ndarray[Any, Any],
    flagged: np.ndarray[Any, Any],
    none: Any = "",
) -> np.ndarray[Any, Any]:
    """Rows (positions in ``labels``, text or codes as :func:`learnt_classes` takes them) the
    county's model learns from: in the training sample, not flagged by its audit, of a learnt
    crop.

    Examples
    --------
    >>> lab = np.array(["a"] * 5 + ["b"] * 2 + [""])
    >>> county_model_rows(lab, np.ones(8, bool), np.eye(8, dtype=bool)[0]).tolist()
    [1, 2, 3, 4]
    """
    keep = in_sample & ~flagged & np.isin(labels, learnt_classes(labels, none=none))
    return np.flatnonzero(keep)


def classes_of(model: Any, classes: Any) -> np.ndarray[Any, Any]:
    """The columns of ``classes`` (sorted, as text) that ``model.classes_`` fill, in order."""
    names = np.asarray([str(c) for c in model.classes_])
    cols = np.searchsorted(np.asarray(classes), names)
    if (cols >= len(classes)).any() or not np.array_equal(np.asarray(classes)[cols], names):
        raise ValueError(f"the county's model knows crops {names.tolist()} outside {classes}")
    return cols


def county_crops(
    X: Any,
    declared: Any,
    *,
    model: CropTypeClassifier | None = None,
    index: Any = None,
    max_train: int | None = None,
    false_alarm_rate: float = DEFAULT_FALSE_ALARM_RATE,
    random_state: int = 0,
) -> tuple[pd.DataFrame, CropTypeClassifier]:
    """Every parcel's crop, the declaration check, and the county's model (module doc).

    Parameters
    ----------
    X
        Clear-only NDVI series, one row per parcel (as :class:`CropTypeClassifier` takes them).
    declared
        Declared crop per parcel, as text (``""`` = none).
    model
        The unfitted template (default ``CropTypeClassifier()``).
    index
        Parcel ids (default positions).
    max_train
        Most declarations the folds learn from (above it, a stratified sample; None: all).
    false_alarm_rate
        Share of honest parcels the check may flag.

    Returns
    -------
    tuple
        The parcels' crops (the columns and ``attrs`` of
        :func:`~agrilend.yield_models.declaration.audit_declarations`; ``fold`` -1 for a parcel
        predicted by the county's model) and the county's model, whose
        ``mismatch_threshold_`` is the check's threshold.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=24, freq="15D")
    >>> doy = np.asarray(t.day_of_year, dtype=float)
    >>> rng = np.random.default_rng(0)
    >>> early = 0.2 + 0.6 * np.exp(-(((doy - 120) / 30) ** 2))
    >>> late = 0.2 + 0.6 * np.exp(-(((doy - 240) / 30) ** 2))
    >>> X = np.vstack([early + rng.normal(0, .03, (60, 24)), late + rng.normal(0, .03, (60, 24))])
    >>> declared = np.array(["wheat"] * 60 + ["maize"] * 60)
    >>> crops, fitted = county_crops(X, declared, max_train=80,
    ...     model=CropTypeClassifier(times=list(t), n_estimators=30))
    >>> int((crops["fold"] == -1).sum()), sorted(fitted.classes_.tolist())
    (40, ['maize', 'wheat'])
    >>> float((crops["crop"].to_numpy() == declared).mean())
    1.0
    """
    template = model if model is not None else CropTypeClassifier()
    Xa = np.asarray(X, dtype="float64")
    lab = declared_labels(declared)
    ids = np.asarray(list(index) if index is not None else range(len(lab)), dtype=object)
    sample = training_sample(
        lab, max_train=max_train, min_class_size=MIN_CLASS_SIZE, random_state=random_state
    )
    sampled = max_train is not None and int((lab != "").sum()) > max_train
    inside = np.flatnonzero(sample) if sampled else np.arange(lab.size)
    audit = audit_declarations(
        Xa[inside], list(lab[inside]), model=template, index=list(ids[inside]),
        false_alarm_rate=false_alarm_rate, min_class_size=MIN_CLASS_SIZE,
        random_state=random_state,
    )  # fmt: skip
    flagged = np.zeros(lab.size, dtype=bool)
    flagged[inside] = audit["crop_mismatch"].to_numpy(dtype=bool)
    rows = county_model_rows(lab, sample, flagged)
    fitted = clone(template).fit(Xa[rows], lab[rows])
    outside = np.setdiff1d(np.arange(lab.size), inside)
    if not outside.size:
        fitted.mismatch_threshold_ = float(audit.attrs["threshold"])
        return audit, fitted
    # the audit's p_<crop> columns, one per learnt crop (labels are text here), in sorted order
    pcols = [c for c in audit.columns if str(c).startswith("p_") and c != "p_declared"]
    classes = np.asarray([c[2:] for c in pcols])
    proba = np.zeros((lab.size, classes.size))
    proba[inside] = audit[pcols].to_numpy(dtype="float64")
    proba[np.ix_(outside, classes_of(fitted, classes))] = fitted.predict_proba(Xa[outside])
    check = check_declarations(proba, list(classes), list(lab),
                               false_alarm_rate=false_alarm_rate, index=list(ids))  # fmt: skip
    best = proba.argmax(axis=1)
    folds = np.full(lab.size, -1)
    folds[inside] = audit["fold"].to_numpy()
    crops = pd.DataFrame(
        {"crop": classes[best].astype(object), "crop_confidence": proba[np.arange(lab.size), best],
         "fold": folds},
        index=pd.Index(list(ids), name="parcel_id"),
    )  # fmt: skip
    for j, c in enumerate(pcols):
        crops[c] = proba[:, j]
    crops = crops.join(check, how="left")
    crops.attrs.update(check.attrs)
    crops.attrs["classes"] = classes.tolist()
    crops.attrs["set_aside"] = audit.attrs.get("set_aside", 0)
    fitted.mismatch_threshold_ = float(check.attrs["threshold"])
    return crops, fitted


__all__ = ["MIN_CLASS_SIZE", "classes_of", "county_crops", "county_model_rows", "learnt_classes"]
