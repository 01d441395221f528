"""Yield per parcel in t/ha, with an interval.

The default estimate needs only what a lender has: county statistics of mean yield per crop.
Each parcel's yield is that mean scaled by its peer-relative vigour (with a bounded elasticity)
and, optionally, by the season's weather; the interval widens with the spread of the
vigour-yield relationship, the county's year-to-year variability and the parcel's data quality.
Where a lender has field yield records, :class:`YieldModel` learns the relationship instead.

The double crop ``winter_wheat_maize`` gives two harvests: the result has one column per harvest
(``harvest_s1``/``yield_s1_t_ha`` = winter wheat, ``harvest_s2``/``yield_s2_t_ha`` = summer
maize) and ``yield_t_ha`` is their sum; every other crop has one harvest.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from agrilend._paths import local_path
from agrilend.errors import TableReadError

logger = logging.getLogger(__name__)

#: Harvests of each crop; the double crop has two, in season order.
HARVESTS: dict[str, tuple[str, ...]] = {"winter_wheat_maize": ("winter_wheat", "summer_maize")}

#: Spread (log units, one sigma) of yield around the vigour relationship at the parcel scale:
#: field studies relating seasonal NDVI to yield explain roughly half to two-thirds of the
#: variance; 0.15 is the residual of such a fit at a typical 10-15 % yield CV.
MODEL_SIGMA = 0.15
#: Extra spread when the vigour rests on few clear observations, and when there is none at all.
LOW_QUALITY_SIGMA = 0.10
NO_VIGOUR_SIGMA = 0.25
#: Default year-to-year coefficient of variation of county yields when none is given.
COUNTY_CV_DEFAULT = 0.08


def harvests(crop: str) -> tuple[str, ...]:
    """The harvests of a crop (two for ``winter_wheat_maize``).

    Examples
    --------
    >>> harvests("winter_wheat_maize"), harvests("maize")
    (('winter_wheat', 'summer_maize'), ('maize',))
    """
    return HARVESTS.get(crop, (crop,))


def read_county_yields(path: str | Path, *, last_years: int = 5) -> dict[str, float]:
    """Mean county yield per crop (t/ha) over the most recent ``last_years`` years.

    Parameters
    ----------
    path
        CSV with ``crop,year,yield_t_ha`` (the double crop as rows ``winter_wheat`` and
        ``summer_maize``); ``year`` optional.
    last_years
        How many of the latest years to average.

    Raises
    ------
    TableReadError
        When columns are missing or yields are not numbers.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "y.csv"
    >>> _ = p.write_text("crop,year,yield_t_ha\\nmaize,2023,7\\nmaize,2024,8\\n")
    >>> read_county_yields(p)
    {'maize': 7.5}
    """
    table = county_yield_table(path)
    out: dict[str, float] = {}
    for crop, g in table.groupby("crop"):
        recent = g.sort_values("year").tail(last_years)
        out[str(crop)] = round(float(recent["yield_t_ha"].mean()), 4)
    return out


def county_yield_table(path: str | Path) -> pd.DataFrame:
    """Read the county yield statistics as a table ``crop, year, yield_t_ha``."""
    p = local_path(path, what="county yields")
    try:
        df = pd.read_csv(p, encoding="utf-8-sig")
    except (ValueError, OSError) as exc:
        raise TableReadError(f"cannot read county yields {str(p)!r}: {exc}", path=p) from exc
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = {"crop", "yield_t_ha"} - set(df.columns)
    if missing:
        raise TableReadError(
            f"county yields {str(p)!r} lack columns {sorted(missing)}; give crop,year,yield_t_ha",
            path=p,
        )
    if "year" not in df.columns:
        df["year"] = 0
    y = pd.to_numeric(df["yield_t_ha"], errors="coerce")
    if y.isna().any() or (y < 0).any():
        row = int(np.flatnonzero(y.isna() | (y < 0))[0])
        raise TableReadError(
            f"county yields {str(p)!r}: row {row + 2} has yield {df['yield_t_ha'].iloc[row]!r}; "
            "give a non-negative number in t/ha",
            path=p,
        )
    df["yield_t_ha"] = y.astype("float64")
    df["crop"] = df["crop"].astype(str).str.strip()
    return df[["crop", "year", "yield_t_ha"]]


def county_yield_cv(path: str | Path) -> dict[str, float]:
    """Year-to-year coefficient of variation of county yields per crop (linear trend removed).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "y.csv"
    >>> _ = p.write_text("crop,year,yield_t_ha\\nrice,2022,8\\nrice,2023,8\\nrice,2024,8\\n")
    >>> county_yield_cv(p)
    {'rice': 0.0}
    """
    table = county_yield_table(path)
    out: dict[str, float] = {}
    for crop, g in table.groupby("crop"):
        v = g["yield_t_ha"].to_numpy(dtype="float64")
        if v.size < 3 or v.mean() <= 0:
            out[str(crop)] = COUNTY_CV_DEFAULT
            continue
        x = g["year"].to_numpy(dtype="float64")
        resid = v - np.polyval(np.polyfit(x, v, 1), x) if np.ptp(x) > 0 else v - v.mean()
        out[str(crop)] = round(float(np.std(resid, ddof=2) / v.mean()), 4)
    return out


def weather_factor(weather: Mapping[str, float] | pd.Series | None) -> float:
    """Yield multiplier of the season's weather, bounded to 0.7..1.0.

    NDVI already shows most of a season's stress, so the adjustment is small and one-sided:
    ``1 - 0.08 * max(0, -SPI - 1) - 0.01 * heat_days``, clipped to ``[0.7, 1.0]``. Needs the
    keys of :func:`~agrilend.yield_models.weather.climate_risk` (``spi``, ``heat_days``);
    missing or NaN values count as normal.

    Examples
    --------
    >>> weather_factor({"spi": -2.0, "heat_days": 5}), weather_factor(None)
    (0.87, 1.0)
    """
    if weather is None:
        return 1.0
    spi = float(weather.get("spi", 0.0) or 0.0)
    heat = float(weather.get("heat_days", 0.0) or 0.0)
    spi = 0.0 if not np.isfinite(spi) else spi
    heat = 0.0 if not np.isfinite(heat) else heat
    return round(float(np.clip(1.0 - 0.08 * max(0.0, -spi - 1.0) - 0.01 * heat, 0.7, 1.0)), 4)


def estimate_yield(
    metrics: pd.DataFrame,
    *,
    county_yields: Mapping[str, float],
    weather: Mapping[str, float] | pd.Series | None = None,
    county_cv: Mapping[str, float] | None = None,
    elasticity: float = 1.0,
    factor_bounds: tuple[float, float] = (0.3, 1.5),
    level: float = 0.9,
    crop_col: str = "crop",
) -> pd.DataFrame:
    """County-calibrated yield per parcel, scaled by vigour and weather, with an interval.

    Parameters
    ----------
    metrics
        One row per parcel with the crop column and the output of
        :func:`~agrilend.yield_models.vigour.vigour_scores` (``vigour``, ``vigour_quality``).
    county_yields
        Mean county yield per harvest crop (t/ha), e.g. :func:`read_county_yields`.
    weather
        The season's :func:`~agrilend.yield_models.weather.climate_risk` result (optional).
    county_cv
        Year-to-year CV of county yields per crop (:func:`county_yield_cv`); default 0.08.
    elasticity
        Yield response to vigour: ``factor = vigour ** elasticity``; clipped to 0..2.
    factor_bounds
        Bounds of the vigour factor.
    level
        Coverage of the interval (0.9 = 5th to 95th percentile).
    crop_col
        The crop column.

    Returns
    -------
    pandas.DataFrame
        ``yield_t_ha``, ``yield_low``, ``yield_high`` (sum of harvests), ``harvest_s1``,
        ``yield_s1_t_ha``, ``harvest_s2``, ``yield_s2_t_ha`` (``""``/0 without a second
        harvest), ``yield_sigma`` (log-scale spread used), ``yield_note`` (why the yield is
        missing or uncertain). Crops absent from ``county_yields`` get NaN and a note.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"crop": ["maize", "winter_wheat_maize"], "vigour": [1.1, 1.0],
    ...                   "vigour_quality": ["ok", "ok"]}, index=["a", "b"])
    >>> cy = {"maize": 7.5, "winter_wheat": 6.0, "summer_maize": 6.5}
    >>> estimate_yield(m, county_yields=cy)["yield_t_ha"].round(2).tolist()
    [8.25, 12.5]
    """
    el = float(np.clip(elasticity, 0.0, 2.0))
    lo_f, hi_f = factor_bounds
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    wf = weather_factor(weather)
    cvs = dict(county_cv or {})
    n = len(metrics)
    vig = metrics["vigour"].to_numpy(dtype="float64") if "vigour" in metrics else np.full(n, np.nan)
    quality = (
        metrics["vigour_quality"].astype(str).to_numpy()
        if "vigour_quality" in metrics
        else np.full(n, "ok", dtype=object)
    )
    rec: dict[str, list[Any]] = {
        k: []
        for k in (
            "yield_t_ha",
            "yield_low",
            "yield_high",
            "harvest_s1",
            "yield_s1_t_ha",
            "harvest_s2",
            "yield_s2_t_ha",
            "yield_sigma",
            "yield_note",
        )
    }
    # what a parcel's crop, its vigour's presence and quality decide, worked out once each
    known: dict[tuple[str, bool, bool], tuple[Any, ...]] = {}
    for crop, v, q in zip(metrics[crop_col].astype(str), vig, quality, strict=True):
        finite = math.isfinite(v)  # math, not numpy: one parcel at a time
        key = (crop, finite, finite and q != "ok")
        if key not in known:
            hv = harvests(crop)
            note = []
            if finite:
                sigma2 = MODEL_SIGMA**2 + (LOW_QUALITY_SIGMA**2 if q != "ok" else 0.0)
            else:
                sigma2 = MODEL_SIGMA**2 + NO_VIGOUR_SIGMA**2
                note.append("no vigour: county mean used")
            given = [county_yields.get(h) for h in hv]
            base: list[float] | None = [float(b) for b in given if b is not None]
            if any(b is None for b in given):
                missing = [h for h, b in zip(hv, given, strict=True) if b is None]
                note.append(f"no county yield for {missing}")
                base = None
            cv = max(cvs.get(h, COUNTY_CV_DEFAULT) for h in hv)
            sigma = math.sqrt(sigma2 + cv**2)
            known[key] = (hv, base, sigma, math.exp(-z * sigma), math.exp(z * sigma),
                          "; ".join(note))  # fmt: skip
        hv, base, sigma, down, up, note_text = known[key]
        factor = 1.0  # no vigour: the county's mean
        if finite:
            # a negative vigour has no power (numpy gave NaN here, Python a complex number)
            factor = min(max(float(v) ** el, lo_f), hi_f) if v >= 0 else math.nan
        vals = [np.nan] * len(hv) if base is None else [b * factor * wf for b in base]
        total = float(sum(vals))
        rec["yield_t_ha"].append(total)
        rec["yield_low"].append(total * down)
        rec["yield_high"].append(total * up)
        rec["harvest_s1"].append(hv[0])
        rec["yield_s1_t_ha"].append(vals[0])
        rec["harvest_s2"].append(hv[1] if len(hv) > 1 else "")
        rec["yield_s2_t_ha"].append(vals[1] if len(hv) > 1 else 0.0)
        rec["yield_sigma"].append(sigma)
        rec["yield_note"].append(note_text)
    out = pd.DataFrame(rec, index=metrics.index)
    for c in ("yield_t_ha", "yield_low", "yield_high", "yield_s1_t_ha", "yield_s2_t_ha"):
        out[c] = out[c].astype("float64")
    return out


class YieldModel(RegressorMixin, BaseEstimator):
    """Yield from parcel features, trained on field yield records, with an interval.

    A ridge regression on standardised features, on the log of yield by default (yield responds
    multiplicatively). The interval comes from out-of-fold residuals, so it reflects the error on
    parcels the model did not see.

    Parameters
    ----------
    alpha
        Ridge penalty.
    log_target
        Fit ``log(yield)`` (needs positive yields).
    level
        Coverage of :meth:`predict_interval`.
    cv
        Folds for the out-of-fold residuals (fewer when there are few records).

    Attributes
    ----------
    model_ : sklearn Pipeline
        Scaler and ridge.
    residual_quantiles_ : tuple of float
        Lower and upper out-of-fold residual quantiles (on the fitted scale).
    coef_ : numpy.ndarray
        Ridge coefficients per standardised feature (the direction of each response).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(20, 60, (50, 1))
    >>> y = 0.15 * X[:, 0] * rng.lognormal(0, 0.05, 50)
    >>> m = YieldModel().fit(X, y)
    >>> bool(m.coef_[0] > 0), bool(m.predict([[40.0]])[0] > m.predict([[25.0]])[0])
    (True, True)
    """

    def __init__(
        self, *, alpha: float = 1.0, log_target: bool = True, level: float = 0.9, cv: int = 5
    ) -> None:
        self.alpha = alpha
        self.log_target = log_target
        self.level = level
        self.cv = cv

    def fit(self, X: Any, y: Any) -> YieldModel:
        """Fit on features ``X`` and yields ``y`` (t/ha)."""
        X, y = validate_data(self, X, y, y_numeric=True, dtype="float64")
        target = self._forward(y)
        self.model_ = make_pipeline(StandardScaler(), Ridge(alpha=self.alpha)).fit(X, target)
        self.coef_ = np.asarray(self.model_[-1].coef_, dtype="float64")
        k = int(min(self.cv, len(y)))
        if k >= 2:
            oof = cross_val_predict(
                make_pipeline(StandardScaler(), Ridge(alpha=self.alpha)),
                X,
                target,
                cv=KFold(k, shuffle=True, random_state=0),
            )
            resid = target - oof
        else:
            resid = np.zeros_like(target)
        a = (1.0 - self.level) / 2.0
        self.residual_quantiles_ = (float(np.quantile(resid, a)), float(np.quantile(resid, 1 - a)))
        return self

    def _forward(self, y: np.ndarray) -> np.ndarray:
        if not self.log_target:
            return y
        if np.any(y <= 0):
            raise ValueError(
                "log_target=True needs positive yields; drop zero-yield records or pass "
                "log_target=False"
            )
        return np.log(y)

    def _inverse(self, t: np.ndarray) -> np.ndarray:
        return np.exp(t) if self.log_target else t

    def predict(self, X: Any) -> np.ndarray:
        """Yield (t/ha)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype="float64")
        return np.asarray(self._inverse(self.model_.predict(X)), dtype="float64")

    def predict_interval(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the ``level`` interval (t/ha)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype="float64")
        t = self.model_.predict(X)
        lo, hi = self.residual_quantiles_
        return (
            np.asarray(self._inverse(t + lo), dtype="float64"),
            np.asarray(self._inverse(t + hi), dtype="float64"),
        )


__all__ = [
    "HARVESTS",
    "YieldModel",
    "county_yield_cv",
    "county_yield_table",
    "estimate_yield",
    "harvests",
    "read_county_yields",
    "weather_factor",
]
