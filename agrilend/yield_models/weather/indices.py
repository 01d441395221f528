"""Agro-climatic indices from the daily weather table: normals, season totals, growing degree
days, heat and dry spells."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from agrilend.errors import InsufficientEvidenceError
from agrilend.yield_models.weather.readers import _COLUMNS

logger = logging.getLogger(__name__)

#: Base temperature (deg C) of growing degree days per crop. Values are the usual agronomic ones
#: (wheat 0, maize/rice/soybean 10, cotton 15.5, peanut 13, potato 2, fruit trees 4.5).
BASE_TEMPERATURE_C: dict[str, float] = {
    "winter_wheat": 0.0,
    "winter_wheat_maize": 0.0,
    "summer_maize": 10.0,
    "maize": 10.0,
    "rice": 10.0,
    "soybean": 10.0,
    "cotton": 15.5,
    "peanut": 13.0,
    "orchard": 4.5,
    "potato": 2.0,
    "greenhouse": 10.0,
    "fallow": 5.0,
}


def base_temperature(crop: str, *, default: float = 5.0) -> float:
    """Base temperature of growing degree days for a canonical crop name.

    Examples
    --------
    >>> base_temperature("maize"), base_temperature("winter_wheat"), base_temperature("unknown")
    (10.0, 0.0, 5.0)
    """
    return BASE_TEMPERATURE_C.get(crop, default)


def weather_normals(df: pd.DataFrame, *, window_days: int = 31) -> pd.DataFrame:
    """Long-term normals per day of year, smoothed with a circular moving window.

    Parameters
    ----------
    df
        Daily weather table (see :func:`read_weather`).
    window_days
        Width of the centred circular window that smooths the day-of-year means.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``doy`` 1..366; columns ``tmin_c``, ``tmax_c``, ``prcp_mm`` (mean per day)
        and ``n_years``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.date_range("2000-01-01", "2003-12-31", freq="D")
    >>> w = pd.DataFrame({"tmin_c": 1.0, "tmax_c": 9.0, "prcp_mm": 2.0}, index=d)
    >>> weather_normals(w).loc[100, ["tmin_c", "prcp_mm"]].tolist()
    [1.0, 2.0]
    """
    doy = pd.DatetimeIndex(df.index).day_of_year
    cols = [c for c in _COLUMNS if c in df.columns]
    daily = df[cols].groupby(doy).mean().reindex(range(1, 367))
    half = window_days // 2
    padded = pd.concat([daily.iloc[-half:], daily, daily.iloc[:half]])
    smooth = padded.rolling(window_days, center=True, min_periods=1).mean().iloc[half:-half]
    smooth.index = pd.RangeIndex(1, 367, name="doy")
    smooth["n_years"] = int(pd.DatetimeIndex(df.index).year.nunique())
    return smooth


def season_weather(
    df: pd.DataFrame,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    *,
    base_temp: float = 10.0,
    heat_threshold_c: float = 35.0,
    frost_threshold_c: float = 0.0,
    dry_day_mm: float = 1.0,
) -> pd.Series:
    """Agro-climatic indices of one season.

    Parameters
    ----------
    df
        Daily weather table.
    start, end
        The season (inclusive).
    base_temp
        Base temperature of growing degree days (see :func:`base_temperature`).
    heat_threshold_c
        A heat day has Tmax above this.
    frost_threshold_c
        A frost day has Tmin below this.
    dry_day_mm
        A dry day has less precipitation than this.

    Returns
    -------
    pandas.Series
        ``gdd`` (sum of max(0, (Tmin+Tmax)/2 - base)), ``prcp_mm``, ``max_dry_spell_days``,
        ``dry_spells_10d`` (runs of at least 10 dry days), ``heat_days``, ``frost_days``,
        ``tmean_c``, ``n_days`` and ``missing_fraction`` (share of season days with no record;
        totals are scaled up for missing days so that a gap does not read as a drought).

    Raises
    ------
    InsufficientEvidenceError
        When the table holds no day of the season.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.date_range("2024-05-01", "2024-05-10", freq="D")
    >>> w = pd.DataFrame({"tmin_c": 12.0, "tmax_c": 28.0, "prcp_mm": 0.0}, index=d)
    >>> s = season_weather(w, "2024-05-01", "2024-05-10", base_temp=10)
    >>> float(s["gdd"]), int(s["max_dry_spell_days"])
    (100.0, 10)
    """
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end)
    days = pd.date_range(t0, t1, freq="D")
    sub = df.reindex(days)
    have = sub[["tmin_c", "tmax_c", "prcp_mm"]].notna().any(axis=1)
    if not have.any():
        raise InsufficientEvidenceError(
            f"weather has no record between {t0.date()} and {t1.date()} (it covers "
            f"{df.index.min().date()}..{df.index.max().date()}); pass weather covering the season"
        )
    n = len(days)
    tmean = (sub["tmin_c"] + sub["tmax_c"]) / 2.0
    gdd_days = (tmean - base_temp).clip(lower=0.0)
    cover_t = max(int(tmean.notna().sum()), 1)
    cover_p = max(int(sub["prcp_mm"].notna().sum()), 1)
    prcp = sub["prcp_mm"].to_numpy()
    dry = np.where(np.isnan(prcp), False, prcp < dry_day_mm)
    runs = _runs(dry)
    return pd.Series(
        {
            "gdd": float(gdd_days.sum() * n / cover_t),
            "prcp_mm": float(np.nansum(prcp) * n / cover_p),
            "max_dry_spell_days": float(max(runs, default=0)),
            "dry_spells_10d": float(sum(r >= 10 for r in runs)),
            "heat_days": float((sub["tmax_c"] > heat_threshold_c).sum()),
            "frost_days": float((sub["tmin_c"] < frost_threshold_c).sum()),
            "tmean_c": float(tmean.mean()),
            "n_days": float(n),
            "missing_fraction": float(1.0 - have.mean()),
        }
    )


def _runs(mask: np.ndarray) -> list[int]:
    out: list[int] = []
    run = 0
    for v in mask:
        if v:
            run += 1
        elif run:
            out.append(run)
            run = 0
    if run:
        out.append(run)
    return out


__all__ = ["BASE_TEMPERATURE_C", "base_temperature", "season_weather", "weather_normals"]
