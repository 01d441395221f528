"""Production cost per hectare: a model from what is known before the season, with its error.

The margin limit (:func:`agrilend.credit.size_households`, ``[margin]`` in the policy) needs the
season's cost. Two sources, each with a stated error:

- the policy's own cost per harvest (``harvests.*.cost``), the fallback when no farm cost records
  exist; its error is the policy's ``margin.cost_uncertainty``;
- :class:`CostModel`, fitted on farm cost records: the log of the cost per hectare is a ridge
  regression on what a lender knows before the season (crop, region, irrigation, tenure, the
  log of the area, and any other categorical columns named), so costs per hectare can fall with
  farm size and differ by place. Its error is measured out of sample by
  :func:`cross_validate_costs` (grouped folds: no farm informs its own prediction), never by the
  in-sample fit.

A parcel's predicted cost goes into the parcel estimates as ``cost_per_ha``, which sizing uses
instead of the policy's cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from agrilend.errors import ModelError


class CostModel(RegressorMixin, BaseEstimator):
    """Cost per hectare from crop, region, irrigation, area and other known categories.

    ``log(cost per ha) = ridge(one-hot(categorical) + standardised log(area))``; the prediction
    is its exponential: the median cost of such farms (farm costs are skewed: on the Indonesian
    rice farms the mean is 1.3 x the median, and a median prediction has the smaller absolute
    percentage error). The margin limit raises it by ``margin.cost_uncertainty``.

    Parameters
    ----------
    categorical
        Columns of ``X`` used as categories (absent ones are skipped at ``fit``).
    area
        Column with the area in hectares (its log is a numeric feature).
    prior
        Optional column with the farm's own cost per hectare in an earlier season (from its
        earlier loan's records or receipts); its log is a feature, and where it is missing a
        flag says so and the training median stands in.
    alpha
        Ridge penalty.

    Attributes
    ----------
    features_
        The categorical columns found at ``fit``.
    sigma_
        Standard deviation of the in-sample log residuals (the out-of-sample error is what
        :func:`cross_validate_costs` measures).

    Examples
    --------
    >>> X = pd.DataFrame({"crop": ["rice"] * 4 + ["maize"] * 4, "area_ha": [1, 2, 3, 4] * 2})
    >>> y = np.array([900, 850, 820, 800, 500, 480, 470, 460.0])
    >>> m = CostModel(alpha=0.1).fit(X, y)
    >>> pred = m.predict(X)
    >>> bool(pred[0] > pred[4]), bool(abs(pred[0] - 900) < 60)
    (True, True)
    """

    def __init__(
        self,
        categorical: Sequence[str] = ("crop", "region", "irrigation", "tenure"),
        area: str = "area_ha",
        prior: str | None = "prior_cost_per_ha",
        alpha: float = 1.0,
    ) -> None:
        self.categorical = categorical
        self.area = area
        self.prior = prior
        self.alpha = alpha

    def _pipeline(self) -> Pipeline:
        num = ["_log_area", "_log_prior", "_no_prior"] if self.use_prior_ else ["_log_area"]
        steps: list[tuple[str, Any, list[str]]] = [("num", StandardScaler(), num)]
        if self.features_:
            enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
            steps.append(("cat", enc, list(self.features_)))
        return Pipeline([("x", ColumnTransformer(steps)), ("ridge", Ridge(alpha=self.alpha))])

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame) or self.area not in X.columns:
            raise ModelError(
                f"CostModel needs a DataFrame with the area column {self.area!r} (hectares); "
                "pass the farm or parcel table"
            )
        area = pd.to_numeric(X[self.area], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(area) & (area > 0)):
            raise ModelError(f"CostModel: {self.area!r} must be positive and finite everywhere")
        out = pd.DataFrame({"_log_area": np.log(area)}, index=X.index)
        if self.use_prior_:
            col = X[self.prior] if self.prior in X.columns else pd.Series(np.nan, index=X.index)
            prior = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            known = np.isfinite(prior) & (prior > 0)
            out["_log_prior"] = np.where(
                known, np.log(np.where(known, prior, 1.0)), self.prior_fill_
            )
            out["_no_prior"] = (~known).astype(float)
        for c in self.features_:
            out[c] = X[c].astype(str).to_numpy() if c in X.columns else "?"
        return out

    def fit(self, X: pd.DataFrame, y: Any) -> CostModel:
        """Fit on farms' cost per hectare ``y`` (positive)."""
        y_a = np.asarray(y, dtype=float)
        if len(y_a) != len(X) or len(y_a) < 3 or not np.all(np.isfinite(y_a) & (y_a > 0)):
            raise ModelError(
                "CostModel.fit needs at least 3 positive, finite costs per hectare, one per row"
            )
        self.features_ = tuple(c for c in self.categorical if c in X.columns)
        self.use_prior_ = bool(self.prior) and self.prior in X.columns
        if self.use_prior_:
            prior = pd.to_numeric(X[self.prior], errors="coerce").to_numpy(dtype=float)
            known = np.isfinite(prior) & (prior > 0)
            self.use_prior_ = bool(known.sum() >= 3)
            self.prior_fill_ = float(np.median(np.log(prior[known]))) if self.use_prior_ else 0.0
        frame = self._frame(X)
        self.pipeline_ = self._pipeline().fit(frame, np.log(y_a))
        resid = np.log(y_a) - self.pipeline_.predict(frame)
        self.sigma_ = float(np.std(resid))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted (median) cost per hectare."""
        check_is_fitted(self, "pipeline_")
        return np.asarray(np.exp(self.pipeline_.predict(self._frame(X))))


@dataclass(frozen=True)
class CostError:
    """Out-of-sample error of a cost prediction.

    Attributes
    ----------
    mape
        Mean absolute percentage error of the total cost (per hectare x area).
    median_ape
        Median absolute percentage error.
    ratio_q
        Quantiles 0.5, 0.75 and 0.9 of real / predicted cost: how much higher than predicted a
        prudent cost must be taken to cover that share of farms.
    predicted
        The out-of-fold predictions, cost per hectare, aligned with the rows.
    folds
        Number of folds.
    """

    mape: float
    median_ape: float
    ratio_q: dict[float, float]
    predicted: np.ndarray
    folds: int

    def describe(self) -> str:
        """One line for reports and benchmarks."""
        return (
            f"cost MAPE {100 * self.mape:.0f} % (median {100 * self.median_ape:.0f} %, "
            f"{self.folds}-fold grouped cross-validation); real/predicted q75 "
            f"{self.ratio_q[0.75]:.2f}"
        )


def cross_validate_costs(
    model: CostModel,
    X: pd.DataFrame,
    cost_per_ha: Any,
    *,
    groups: Any,
    n_splits: int = 5,
) -> CostError:
    """The model's error out of sample: grouped K-fold, no group informs its own prediction.

    Parameters
    ----------
    model
        An unfitted :class:`CostModel` (cloned per fold).
    X, cost_per_ha
        Farms and their real cost per hectare.
    groups
        Group of each row (a farm id, so a farm's seasons stay together; or a region, for the
        error in a region never seen).
    n_splits
        Folds.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"crop": ["rice"] * 40, "area_ha": rng.uniform(0.5, 3, 40)})
    >>> y = 800 * X["area_ha"].to_numpy() ** -0.1 * rng.lognormal(0, 0.1, 40)
    >>> err = cross_validate_costs(CostModel(), X, y, groups=np.arange(40) // 2)
    >>> bool(0 < err.mape < 0.2), err.folds
    (True, 5)
    """
    from sklearn.base import clone  # noqa: PLC0415  (only here)

    y = np.asarray(cost_per_ha, dtype=float)
    pred = np.full(len(y), np.nan)
    g = np.asarray(groups)
    for train, test in GroupKFold(n_splits=n_splits).split(X, y, g):
        m = clone(model).fit(X.iloc[train], y[train])
        pred[test] = m.predict(X.iloc[test])
    area = pd.to_numeric(X[model.area], errors="coerce").to_numpy(dtype=float)
    real_total, pred_total = y * area, pred * area
    ape = np.abs(pred_total - real_total) / real_total
    ratio = real_total / pred_total
    return CostError(
        mape=float(np.mean(ape)),
        median_ape=float(np.median(ape)),
        ratio_q={q: float(np.quantile(ratio, q)) for q in (0.5, 0.75, 0.9)},
        predicted=pred,
        folds=n_splits,
    )


def out_of_fold_costs(
    model: CostModel,
    X: pd.DataFrame,
    cost_per_ha: Any,
    *,
    groups: Any,
    n_splits: int = 5,
    quantile: float = 0.75,
) -> tuple[pd.DataFrame, CostError]:
    """Each row's cost predicted without its group, and a prudent cost from the model's error.

    Nested: in each outer fold the model is fitted on the other groups, and its error there is
    measured by an inner grouped cross-validation on those groups alone; the prudent cost of a
    held-out row is its prediction times the inner ``quantile`` of real / predicted cost. So the
    prudent cost never sees the row, nor its group, twice.

    Returns
    -------
    (pandas.DataFrame, CostError)
        ``cost_per_ha`` and ``cost_high_per_ha`` aligned with ``X`` (the parcel-estimate
        columns sizing reads), and the outer error.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame({"crop": ["rice"] * 60, "area_ha": rng.uniform(0.5, 3, 60)})
    >>> y = 800 * rng.lognormal(0, 0.2, 60)
    >>> costs, err = out_of_fold_costs(CostModel(), X, y, groups=np.arange(60) // 2)
    >>> bool((costs["cost_high_per_ha"] > costs["cost_per_ha"]).all())
    True
    """
    from sklearn.base import clone  # noqa: PLC0415

    y = np.asarray(cost_per_ha, dtype=float)
    g = np.asarray(groups)
    high = np.full(len(y), np.nan)
    for train, test in GroupKFold(n_splits=n_splits).split(X, y, g):
        inner = cross_validate_costs(
            clone(model), X.iloc[train], y[train], groups=g[train], n_splits=n_splits
        )
        area = pd.to_numeric(X[model.area].iloc[train], errors="coerce").to_numpy(dtype=float)
        ratio = (y[train] * area) / (inner.predicted * area)
        m = clone(model).fit(X.iloc[train], y[train])
        high[test] = m.predict(X.iloc[test]) * max(float(np.quantile(ratio, quantile)), 1.0)
    err = cross_validate_costs(model, X, y, groups=g, n_splits=n_splits)
    out = pd.DataFrame({"cost_per_ha": err.predicted, "cost_high_per_ha": high}, index=X.index)
    return out, err


__all__ = ["CostError", "CostModel", "cross_validate_costs", "out_of_fold_costs"]
