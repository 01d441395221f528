"""Crop-type classifier on per-parcel series, out-of-fold prediction and declaration checks.

:class:`CropTypeClassifier` is a scikit-learn estimator whose input is the series themselves:
``X`` has one row per parcel and ``n_channels * n_times`` columns (channel-major: all dates of
the first channel, then the second...), the dates given once as the ``times`` hyper-parameter.
It computes :func:`~agrilend.yield_models.features.series_features` on a day-of-year grid
(day counts from 1 January of the season's year, profile bins as wide as the observations are
sparse), so a model trained on one cube or season predicts another whose dates differ
(:meth:`CropTypeClassifier.predict_proba` with ``times=``), and refuses imagery that does not
cover the season it learnt (:class:`~agrilend.errors.ModelError`).

Labels may be of any kind (text, integers, numeric codes with leading zeros, Chinese names):
they are encoded to integers inside and returned as given. Probabilities are the balanced
forest's votes by default: calibrating on small, imbalanced counties pulls predictions to the
majority crop.

In a county scan the labels are the declared crops (noisy); :func:`predict_out_of_fold` judges
every parcel with a model that never saw its own declaration, and
:func:`agrilend.yield_models.declaration.check_declarations` ranks the declarations by how
unlikely the imagery makes them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from agrilend.errors import InsufficientEvidenceError, ModelError
from agrilend.yield_models.features import profile_width, season_days, series_features

logger = logging.getLogger(__name__)

_FILL = -999.0  # trees split missing features off with a value no real feature takes


def some_trees(forest: Any, X: Any, y: Any, start: int, stop: int) -> Any:
    """Trees ``start`` to ``stop - 1`` of those the unfitted ``forest`` would grow on ``X, y``,
    fitted as a forest of their own: the same trees (scikit-learn's warm start draws the seeds
    of the trees before ``start`` and skips them, as it does to match a one-go fit), so that
    the parts' probabilities weighted by their share of the trees add up to the whole
    forest's. Parts of a forest are grown on several workers at once this way.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import ExtraTreesClassifier
    >>> X, y = np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 3
    >>> whole = ExtraTreesClassifier(n_estimators=8, random_state=0).fit(X, y)
    >>> parts = [some_trees(ExtraTreesClassifier(n_estimators=8, random_state=0), X, y, a, b)
    ...          for a, b in ((0, 3), (3, 8))]
    >>> mixed = sum(p.predict_proba(X) * p.n_estimators / 8 for p in parts)
    >>> bool(np.allclose(mixed, whole.predict_proba(X), rtol=0, atol=1e-12))
    True
    """
    total = int(forest.n_estimators)
    if not 0 <= start < stop <= total:
        raise ValueError(f"trees {start}..{stop} are not a part of a forest of {total}")
    forest.set_params(n_estimators=stop, warm_start=start > 0)
    if start > 0:
        forest.estimators_ = [None] * start  # only counted: their seeds are drawn, not used
    # scikit-learn warns of a warm start on other data: here it is the same data. Not inside
    # ``catch_warnings``, which is not thread-safe: two parts grown in threads at once (a
    # threaded Dask worker) each restore the filters as they found them, and one lets the
    # warning through. This one filter, for this message from scikit-learn's forests, stays.
    warnings.filterwarnings("ignore", "class_weight presets", UserWarning,
                            module=r"sklearn\.ensemble\._forest")  # fmt: skip
    forest.fit(X, y)
    forest.estimators_ = forest.estimators_[start:]
    forest.set_params(n_estimators=stop - start, warm_start=False)
    return forest


class CropTypeClassifier(ClassifierMixin, BaseEstimator):
    """Crop type from per-parcel series (bands or indices on dates).

    Parameters
    ----------
    times
        Dates of the time axis (length ``n_times``); when omitted, a 10-day grid is assumed.
    channels
        Channel names (e.g. ``("NDVI",)`` or band names); ``X`` has ``len(channels) * n_times``
        columns. Default one channel, ``NDVI``.
    step
        Grid step for regularising (see :func:`series_features`); inferred when omitted.
    profile_days
        Width of the profile bins in days; by default from the observation density of the
        training series (:func:`~agrilend.yield_models.features.profile_width`).
    model
        ``"extra_trees"`` (default) or ``"random_forest"``.
    n_estimators
        Trees in the forest. 150 by default: on the two labelled sets, 150 and 300 trees are
        as accurate and flag false declarations alike (``benchmarks/bench_crop_trees.py``, 10
        draws: France LPIS OA 0.675 and 0.677, recall of 10 % false declarations 0.35 and 0.37
        at 0.7 and 0.6 % honest parcels flagged; the sample county 0.981 and 0.975, 0.91 and
        0.79 at 0.1 and 0.0 %) for 0.55 of the CPU; fewer than 150 flagged more honest
        declarations on France (1.6 % at 100 trees, 3 draws).
    calibration
        ``None`` (default: the class-balanced forest's votes), ``"sigmoid"`` or ``"isotonic"``
        (fitted inside the training data; only when every class has ``4 * calibration_cv``
        parcels, else the votes are kept: calibration on few samples drifts to the majority).
    calibration_cv
        Folds of the calibration inside the training data.
    random_state
        Seed.
    n_jobs
        Parallel jobs of the forest.

    Attributes
    ----------
    classes_ : numpy.ndarray
        Class labels, as given to :meth:`fit`.
    feature_schema_ : list of str
        Names of the computed features (saved with the model).
    n_features_in_ : int
        Columns of ``X``.
    profile_days_ : int
        Width of the profile bins used.
    season_days_ : tuple of float
        First and last training date, in days from 1 January of the season's year: imagery
        that does not cover this window is refused.
    estimator_ : object
        The fitted forest (calibrated or not), on integer-encoded classes.
    mismatch_threshold_ : float
        Set by the pipeline and ``agrilend train`` (not by :meth:`fit`): the mismatch score
        at which the declaration check of the county it was trained on flagged
        (:func:`agrilend.yield_models.declaration.check_declarations`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(36)
    >>> early = 0.2 + 0.6 * np.exp(-(((t - 10) / 4) ** 2))
    >>> late = 0.2 + 0.6 * np.exp(-(((t - 25) / 4) ** 2))
    >>> X = np.vstack([early + rng.normal(0, .03, (20, 36)), late + rng.normal(0, .03, (20, 36))])
    >>> y = ["wheat"] * 20 + ["maize"] * 20
    >>> clf = CropTypeClassifier(n_estimators=50).fit(X, y)
    >>> clf.predict(X[[0, -1]]).tolist()
    ['wheat', 'maize']
    """

    def __init__(
        self,
        *,
        times: Sequence[Any] | None = None,
        channels: Sequence[str] | None = None,
        step: str | None = None,
        profile_days: int | None = None,
        model: Literal["extra_trees", "random_forest"] = "extra_trees",
        n_estimators: int = 150,
        calibration: Literal["sigmoid", "isotonic"] | None = None,
        calibration_cv: int = 3,
        random_state: int | None = 0,
        n_jobs: int | None = 1,
    ) -> None:
        self.times = times
        self.channels = channels
        self.step = step
        self.profile_days = profile_days
        self.model = model
        self.n_estimators = n_estimators
        self.calibration = calibration
        self.calibration_cv = calibration_cv
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- helpers ------------------------------------------------------------------------------

    def _channels(self) -> list[str]:
        return list(self.channels) if self.channels else ["NDVI"]

    def _layout(self, n_cols: int, times: Sequence[Any] | None = None) -> tuple[list[str], Any]:
        chans = self._channels()
        if n_cols % len(chans):
            raise ValueError(
                f"X has {n_cols} columns, not a multiple of {len(chans)} channels {chans}"
            )
        n_t = n_cols // len(chans)
        given = times if times is not None else self.times
        if given is not None:
            t = pd.DatetimeIndex(pd.to_datetime(np.asarray(given)))
            if len(t) != n_t:
                raise ValueError(
                    f"X has {n_t} dates per channel but times has {len(t)}; give one date per "
                    "column"
                )
        else:
            t = pd.date_range("2000-01-01", periods=n_t, freq="10D")
        return chans, t

    def _split(self, X: np.ndarray, times: Sequence[Any] | None = None) -> tuple[Any, Any]:
        chans, t = self._layout(X.shape[1], times)
        n_t = len(t)
        return {c: X[:, i * n_t : (i + 1) * n_t] for i, c in enumerate(chans)}, t

    def _width(self, X: np.ndarray) -> int:
        """Profile bin width: the hyper-parameter, else from the observation density of X."""
        if self.profile_days is not None:
            return int(self.profile_days)
        series, t = self._split(X)
        first = next(iter(series.values()))
        return profile_width(first, t)

    def _features(
        self, X: np.ndarray, times: Sequence[Any] | None = None, width: int | None = None
    ) -> pd.DataFrame:
        series, t = self._split(X, times)
        chans = list(series)
        phen = "NDVI" if "NDVI" in chans else None
        w = width if width is not None else self._width(X)
        return series_features(
            series, t, step=self.step, phenology_channel=phen, profile_days=w, origin="season"
        )

    @staticmethod
    def _matrix(f: pd.DataFrame) -> np.ndarray:
        return np.nan_to_num(f.to_numpy(dtype="float64"), nan=_FILL, posinf=_FILL, neginf=_FILL)

    def _forest(self, n_classes_min: int) -> Any:
        cls = ExtraTreesClassifier if self.model == "extra_trees" else RandomForestClassifier
        forest = cls(
            n_estimators=self.n_estimators,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
            class_weight="balanced_subsample",
        )
        folds = max(self.calibration_cv, 2)
        if self.calibration is None or n_classes_min < 4 * folds:
            return forest
        return CalibratedClassifierCV(forest, method=self.calibration, cv=folds)

    # -- estimator API ------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> CropTypeClassifier:
        """Fit on series ``X`` (``n_parcels x n_channels*n_times``, NaN = gap) and labels ``y``.

        ``y`` may hold text, integers or numeric codes; predictions return them as given.
        """
        X, y = validate_data(
            self, X, y, ensure_all_finite="allow-nan", dtype="float64", y_numeric=False
        )
        if np.asarray(y).dtype != object:  # object labels (codes as Python ints...) are classes
            check_classification_targets(y)
        width = self._width(X)
        _series, t = self._split(X)
        return self._fit_features(self._features(X, width=width), y, width=width, times=t)

    def _fit_computed(
        self,
        feats: pd.DataFrame,
        y: Any,
        *,
        width: int,
        times: Any,
        trees: tuple[int, int] | None = None,
    ) -> CropTypeClassifier:
        """:meth:`fit` on features already computed by :meth:`_features` from series on
        ``times`` with bin ``width`` (what :meth:`fit` would compute from those series: one
        row per parcel, the bin width of their observation density): the same model
        (``trees``: only those of its forest, as :meth:`_fit_features` grows them)."""
        y = np.asarray(y)
        if y.dtype != object:
            check_classification_targets(y)
        t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times)))
        self.n_features_in_ = len(t) * len(self._channels())
        return self._fit_features(feats, y, width=width, times=t, trees=trees)

    def _fit_features(
        self,
        feats: pd.DataFrame,
        y: Any,
        *,
        width: int | None = None,
        times: Any = None,
        trees: tuple[int, int] | None = None,
    ) -> CropTypeClassifier:
        """Fit on features already computed by :meth:`_features` (one row per parcel).

        ``width`` and ``times`` are those the features were computed with (default: the
        bin width read from the features' names, and the ``times`` hyper-parameter).
        ``trees=(start, stop)`` grows only trees ``start`` to ``stop - 1`` of the forest the
        whole fit grows (the same trees: :func:`some_trees`); the model then predicts with
        those alone (an uncalibrated model only).
        """
        if width is None:
            width = _width_of(feats.columns, self.profile_days)
        if times is None:
            n_t = self._n_times_of(feats)
            times = self._layout(n_t * len(self._channels()))[1]
        encoded, uniques = _encode_labels(y)
        if (encoded < 0).any():
            raise ValueError(
                "y has missing labels (None, NaN or empty); drop those parcels before fitting"
            )
        self.classes_ = _label_array(uniques)
        counts = np.bincount(encoded)
        self.feature_schema_ = [str(c) for c in feats.columns]
        self.profile_days_ = int(width)
        days = season_days(times)
        self.season_days_ = (float(days.min()), float(days.max()))
        forest = self._forest(int(counts.min()))
        if trees is None:
            self.estimator_ = forest.fit(self._matrix(feats), encoded)
        elif isinstance(forest, CalibratedClassifierCV):
            raise ValueError("a calibrated model is fitted whole: give no trees")
        else:
            self.estimator_ = some_trees(forest, self._matrix(feats), encoded, *trees)
        return self

    def _n_times_of(self, feats: pd.DataFrame) -> int:
        """Dates per channel, when only features are at hand: the ``times`` hyper-parameter."""
        if self.times is not None:
            return len(self.times)
        return max(int(getattr(self, "n_features_in_", 1)) // len(self._channels()), 2)

    def _proba_features(self, feats: pd.DataFrame) -> np.ndarray:
        """Class probabilities from features already computed (columns aligned to the fit)."""
        feats = feats.reindex(columns=self.feature_schema_)
        raw = np.asarray(self.estimator_.predict_proba(self._matrix(feats)), dtype="float64")
        out = np.zeros((raw.shape[0], len(self.classes_)))
        out[:, np.asarray(self.estimator_.classes_, dtype=int)] = raw
        return out

    def check_dates(self, times: Sequence[Any]) -> None:
        """Refuse imagery dates that do not cover the season this model learnt.

        The model's window (:attr:`season_days_`, days from 1 January of the season's year)
        may be missed by at most one profile bin at either end.

        Raises
        ------
        ModelError
            Naming the model's window and the imagery's, and what to do.
        """
        check_is_fitted(self, "estimator_")
        t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times)))
        lo, hi = self.season_days_
        slack = max(float(self.profile_days_), 15.0)
        if len(t) == 0:
            raise ModelError("the imagery has no dates; the crop model needs a season's imagery")
        d = season_days(t)
        if d.min() > lo + slack or d.max() < hi - slack:
            raise ModelError(
                f"the crop model learnt the season from day {lo:.0f} to day {hi:.0f} (days from "
                f"1 January of the season's year) but this imagery covers days {d.min():.0f} to "
                f"{d.max():.0f} ({t.min().date()}..{t.max().date()}); give imagery of the whole "
                "season the model was trained on, or train a model on this imagery "
                "(`agrilend train`)"
            )

    def predict_proba(self, X: Any, times: Sequence[Any] | None = None) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        ``times`` are the dates of ``X``'s columns when they differ from the training dates
        (another cube or season): the series are put on the model's day-of-year grid, and dates
        that do not cover the model's season raise :class:`~agrilend.errors.ModelError`.
        """
        check_is_fitted(self, "estimator_")
        if times is None:
            X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan", dtype="float64")
        else:
            self.check_dates(times)
            X = np.asarray(X, dtype="float64")
            if X.ndim != 2:
                raise ValueError(f"X must be 2-D (parcels x channels*dates), got {X.shape}")
        # the columns the forest was fitted on, in that order, whatever these rows gave
        return self._proba_features(self._features(X, times, width=self.profile_days_))

    def predict(self, X: Any, times: Sequence[Any] | None = None) -> np.ndarray:
        """Most probable class per row (labels as given to :meth:`fit`)."""
        proba = self.predict_proba(X, times)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


# --- out-of-fold prediction ---------------------------------------------------------------------


def _fold_ids(labels: np.ndarray, n_splits: int, seed: int | None) -> np.ndarray:
    """Stratified fold numbers; classes smaller than ``n_splits`` are spread as far as they go."""
    rng = np.random.default_rng(seed)
    folds = np.empty(len(labels), dtype=int)
    offset = 0
    for lab in pd.unique(labels):
        members = np.flatnonzero(labels == lab)
        rng.shuffle(members)
        folds[members] = (np.arange(members.size) + offset) % n_splits
        offset += members.size
    return folds


def declared_labels(declared: Sequence[Any] | pd.Series | np.ndarray) -> np.ndarray:
    """Declarations as text, ``""`` where there is none: an object array in which equal
    declarations share one string (a county's million declarations name a few crops, so it
    costs a pointer per parcel, not a string). Numbers are written as ``str`` writes them.

    Examples
    --------
    >>> declared_labels(["maize", None, 3, "maize", float("nan")]).tolist()
    ['maize', '', '3', 'maize', '']
    >>> declared_labels([1, 1.0, "1"]).tolist()
    ['1', '1.0', '1']
    >>> lab = declared_labels(pd.Series(["rice", None, "rice"], dtype="category"))
    >>> lab.tolist(), lab[0] is lab[2]
    (['rice', '', 'rice'], True)
    """
    codes, names = label_codes(declared)
    return np.asarray(names[codes])


def label_codes(
    declared: Sequence[Any] | pd.Series | np.ndarray,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Declarations as codes: ``(codes, names)`` with ``names[codes]`` the text
    :func:`declared_labels` gives, ``names`` sorted and ``names[0] == ""`` (no declaration),
    so the codes sort as the text does. 2 bytes a parcel (int16; int32 past 32,767 names)
    instead of a pointer.

    Examples
    --------
    >>> codes, names = label_codes(["rice", None, 3, "maize", "rice"])
    >>> codes.tolist(), names.tolist()
    ([3, 0, 1, 2, 3], ['', '3', 'maize', 'rice'])
    """
    if not isinstance(declared, pd.Series | pd.Categorical | pd.Index):
        declared = pd.Series(np.asarray(declared, dtype=object))
    if isinstance(declared.dtype, pd.CategoricalDtype):  # its own codes: no copy of 8 bytes each
        cat = pd.Categorical(declared)
        codes, values = np.asarray(cat.codes), list(cat.categories)
    else:
        codes, uniques = pd.factorize(declared, use_na_sentinel=True)
        values = list(uniques)
    if declared.dtype == object and not all(isinstance(u, str) for u in values):
        # mixed values hash alike (1, 1.0, True): each written as str writes it
        text = pd.Series(np.asarray(declared, dtype=object)).fillna("").astype(str)
        codes, again = pd.factorize(text.to_numpy(dtype=object))
        values = list(again)
    text_of = [str(u) for u in values]
    names = np.array(sorted({"", *text_of}), dtype=object)
    at = {n: i for i, n in enumerate(names)}
    small = np.int16 if names.size < 2**15 else np.int32  # a county names a few crops
    remap = np.array([at[t] for t in text_of] + [0], dtype=small)  # -1 (none): ""
    return remap[codes], names


def training_sample(
    declared: Sequence[str] | pd.Series | np.ndarray,
    *,
    max_train: int | None,
    min_class_size: int = 5,
    rare_keep: int | None = None,
    random_state: int | None = 0,
) -> np.ndarray:
    """Which parcels' declarations train the crop model: all, or a stratified sample.

    With at most ``max_train`` declared parcels (or ``max_train=None``) every declared parcel
    trains. Above it, each crop keeps a share proportional to its declarations, but never fewer
    than ``min(its count, rare_keep)`` (rare crops stay learnable; default 1 % of
    ``max_train``, at least ``min_class_size``), so the sample holds about ``max_train``
    parcels (a little more when many crops are rare).

    Returns
    -------
    numpy.ndarray
        Boolean, True for the parcels that train; empty declarations never do.

    Examples
    --------
    >>> lab = ["wheat"] * 900 + ["rice"] * 90 + ["cotton"] * 10 + [""] * 5
    >>> keep = training_sample(lab, max_train=100, rare_keep=20)
    >>> int(keep.sum()), int(keep[:900].sum()), int(keep[990:1000].sum()), bool(keep[-5:].any())
    (120, 90, 10, False)
    """
    codes, _ = label_codes(declared)
    return sample_of_codes(codes, max_train=max_train, min_class_size=min_class_size,
                           rare_keep=rare_keep, random_state=random_state)  # fmt: skip


def sample_of_codes(
    codes: np.ndarray[Any, Any],
    *,
    max_train: int | None,
    min_class_size: int = 5,
    rare_keep: int | None = None,
    random_state: int | None = 0,
) -> np.ndarray[Any, Any]:
    """:func:`training_sample` of declarations given as :func:`label_codes` (0: none): the
    same parcels, the crops drawn in the order of their text."""
    labelled = codes != 0
    if max_train is None or int(labelled.sum()) <= max_train:
        return labelled
    if max_train < 1:
        raise ValueError(f"max_train must be at least 1, got {max_train}")
    rng = np.random.default_rng(random_state)
    if rare_keep is None:
        rare_keep = max(min_class_size, max_train // 100)
    frac = max_train / int(labelled.sum())
    keep = np.zeros(len(codes), dtype=bool)
    for code in np.unique(codes[labelled]):
        members = np.flatnonzero(codes == code)
        quota = max(int(np.floor(members.size * frac)), min(members.size, rare_keep))
        quota = max(quota, min(members.size, min_class_size))
        keep[rng.choice(members, size=quota, replace=False)] = True
    return keep


def predict_out_of_fold(
    X: Any,
    declared: Sequence[Any] | pd.Series,
    *,
    model: CropTypeClassifier | None = None,
    index: Sequence[Any] | None = None,
    n_splits: int = 5,
    min_class_size: int = 5,
    max_train: int | None = None,
    random_state: int | None = 0,
    exclude: Any = None,
) -> pd.DataFrame:
    """Predict every parcel's crop with a model that did not see the parcel's own declaration.

    Parcels are split into ``n_splits`` stratified folds; each fold is predicted by a model
    trained on the other folds' declared crops. Classes with fewer than ``min_class_size``
    declarations, and empty declarations, are not learnt (those parcels are still predicted).

    With ``max_train``, a county with more declarations than that trains on a stratified
    sample of them (:func:`training_sample`): the folds split the sample, and every parcel
    outside it (which no model saw) is predicted by the mean of the fold models' probabilities,
    with ``fold`` -1. Training then costs the same for 10^5 parcels as for ``max_train``.

    Parameters
    ----------
    X
        Series as :class:`CropTypeClassifier` takes them (rows = parcels).
    declared
        Declared crop per parcel, labels of any kind (text, integers, numeric codes: returned
        as given); ``""``, None or NaN = none.
    model
        An unfitted template (cloned per fold); default ``CropTypeClassifier()``.
    index
        Parcel ids (default the index of ``declared`` when it is a Series).
    n_splits, min_class_size, random_state
        Folds, smallest learnt class, seed.
    max_train
        Most declarations to train on (default all).
    exclude
        Boolean per parcel: declarations not to learn from (suspects of a first pass); those
        parcels are still predicted.

    Returns
    -------
    pandas.DataFrame
        Indexed by parcel: ``crop`` (predicted, as the labels were given), ``crop_confidence``
        (its probability), ``fold``, and one ``p_<class>`` column per learnt class;
        ``attrs["classes"]`` lists those classes as given.

    Raises
    ------
    InsufficientEvidenceError
        When fewer than two classes have ``min_class_size`` declarations.
    """
    template = model if model is not None else CropTypeClassifier()
    codes, uniques = _encode_labels(declared)
    ids: Any = index
    if ids is None:
        ids = declared.index if isinstance(declared, pd.Series) else range(len(codes))
    Xa = np.asarray(X, dtype="float64")
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    learnt = np.flatnonzero(counts >= min_class_size)  # codes of the learnt classes
    if learnt.size < 2:
        got = {str(uniques[j]): int(counts[j]) for j in range(len(uniques))}
        raise InsufficientEvidenceError(
            f"out-of-fold crop prediction needs two crops with at least {min_class_size} "
            f"declared parcels; got {got}. Give a larger area or a model trained elsewhere"
        )
    lab = np.where(codes >= 0, codes.astype(str), "")  # text codes for the samplers
    pool = training_sample(
        lab, max_train=max_train, min_class_size=min_class_size, random_state=random_state
    )
    sampled = max_train is not None and int((codes >= 0).sum()) > max_train
    folds = np.full(len(codes), -1)
    in_folds = pool if sampled else np.ones(len(codes), dtype=bool)
    folds[in_folds] = _fold_ids(lab[in_folds], n_splits, random_state)
    outside = np.flatnonzero(folds < 0)
    trainable = np.isin(codes, learnt) & in_folds
    if exclude is not None:
        trainable &= ~np.asarray(exclude, dtype=bool)
    proba = np.zeros((len(codes), learnt.size))
    # a parcel's features depend on its own series only: computed once, not once per model
    base = clone(template)
    width = base._width(Xa)
    times = base._split(Xa)[1]
    feats = base._features(Xa, width=width).reset_index(drop=True)
    for k in range(n_splits):
        test = folds == k
        train = (~test) & trainable
        if not test.any():
            continue
        if np.unique(codes[train]).size < 2:
            proba[test] = 1.0 / learnt.size
            proba[outside] += 1.0 / learnt.size / n_splits
            continue
        m = clone(template)._fit_features(feats[train], codes[train], width=width, times=times)
        cols = np.searchsorted(learnt, m.classes_)
        proba[np.ix_(np.flatnonzero(test), cols)] = m._proba_features(feats[test])
        if outside.size:  # parcels no fold model saw: the mean of all of them
            proba[np.ix_(outside, cols)] += m._proba_features(feats.iloc[outside]) / n_splits
    best = proba.argmax(axis=1)
    names = np.empty(learnt.size, dtype=object)
    names[:] = [uniques[j] for j in learnt]
    out = pd.DataFrame(
        {
            "crop": names[best],
            "crop_confidence": proba[np.arange(len(codes)), best],
            "fold": folds,
        },
        index=pd.Index(list(ids), name="parcel_id"),
    )
    for j, c in enumerate(names):
        out[f"p_{c}"] = proba[:, j]
    out.attrs["classes"] = list(names)  # the labels behind the p_ columns, as given
    return out


def _encode_labels(declared: Any) -> tuple[np.ndarray, list[Any]]:
    """Integer codes of labels as given (-1 for none: ``""``, None, NaN) and the labels.

    The labels are sorted (as text when they mix types), so the codes do not depend on the
    order of the parcels.
    """
    values = list(declared)
    present = [v for v in values if not missing_label(v)]
    try:
        uniques = sorted(set(present))
    except TypeError:  # mixed types: order by their text
        uniques = sorted(set(present), key=str)
    lookup = {v: j for j, v in enumerate(uniques)}
    codes = np.array([-1 if missing_label(v) else lookup[v] for v in values], dtype=int)
    return codes, uniques


def _width_of(columns: Any, default: int | None) -> int:
    """The profile-bin width of features named ``<channel>_d<day>`` (day-of-year bins)."""
    import re  # noqa: PLC0415

    days = sorted(
        {
            (-1 if m.group(1) else 1) * int(m.group(2))
            for c in map(str, columns)
            if (m := re.search(r"_d(m?)(\d{3})$", c))
        }
    )
    if len(days) >= 2:
        return int(min(np.diff(days)))
    return int(default) if default is not None else 30


def _label_array(uniques: list[Any]) -> np.ndarray:
    """Labels as an array: their own dtype when they share a type, else object (as given)."""
    if len({type(u) for u in uniques}) <= 1:
        arr = np.asarray(uniques)
        if arr.ndim == 1:
            return arr
    out = np.empty(len(uniques), dtype=object)
    out[:] = uniques
    return out


def missing_label(v: Any) -> bool:
    """Whether a declared label is missing: None, NaN or blank text (``0`` is a label)."""
    if v is None:
        return True
    if isinstance(v, str):
        return v.strip() == ""
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def crop_mismatch(
    declared: Sequence[str] | pd.Series,
    predicted: Sequence[str] | pd.Series,
    confidence: Sequence[float] | pd.Series,
    *,
    threshold: float = 0.8,
) -> np.ndarray:
    """Flag a declaration that the imagery contradicts with high confidence (the old rule).

    Kept for callers that want a fixed bar; the pipeline uses
    :func:`agrilend.yield_models.declaration.check_declarations`, which ranks declarations by
    how unlikely they are (a fixed bar rarely fires on probabilities of confusable crops).
    A parcel is flagged when a crop was declared, the predicted crop differs, and the
    prediction's calibrated probability is at least ``threshold``.

    Examples
    --------
    >>> crop_mismatch(["maize", "rice", ""], ["maize", "soybean", "rice"], [0.9, 0.95, 0.99])
    array([False,  True, False])
    """
    d = declared_labels(list(declared))
    p = np.asarray(list(predicted), dtype="object").astype(str)
    c = np.asarray(list(confidence), dtype="float64")
    return np.asarray((d != "") & (d != p) & (np.nan_to_num(c) >= threshold))


# --- reliability --------------------------------------------------------------------------------


def expected_calibration_error(
    y_true: Sequence[Any], proba: np.ndarray, classes: Sequence[Any], *, n_bins: int = 10
) -> float:
    """Expected calibration error of the top-class confidence (equal-width bins).

    Examples
    --------
    >>> import numpy as np
    >>> round(expected_calibration_error(["a", "b"], np.array([[.9, .1], [.2, .8]]), ["a", "b"]), 2)
    0.15
    """
    p = np.asarray(proba, dtype="float64")
    cls = np.asarray(classes)
    conf = p.max(axis=1)
    correct = cls[p.argmax(axis=1)] == np.asarray(y_true)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        m = bins == b
        ece += m.mean() * abs(conf[m].mean() - correct[m].mean())
    return float(ece)


def brier_score(y_true: Sequence[Any], proba: np.ndarray, classes: Sequence[Any]) -> float:
    """Multi-class Brier score: the squared error of the probability vector summed over the
    classes, averaged over samples (0 is perfect, 2 the worst); scikit-learn's
    ``brier_score_loss`` unscaled.

    Examples
    --------
    >>> import numpy as np
    >>> brier_score(["a"], np.array([[1.0, 0.0]]), ["a", "b"])
    0.0
    """
    from sklearn.metrics import brier_score_loss  # noqa: PLC0415

    return float(
        brier_score_loss(
            np.asarray(y_true), np.asarray(proba, dtype="float64"), labels=list(classes),
            scale_by_half=False,
        )
    )  # fmt: skip


__all__ = [
    "CropTypeClassifier",
    "brier_score",
    "crop_mismatch",
    "declared_labels",
    "expected_calibration_error",
    "label_codes",
    "predict_out_of_fold",
    "sample_of_codes",
    "some_trees",
    "training_sample",
]
