"""Climate risk for the credit layer: the season's standardised precipitation index against the
station's own history, heat and dry spells, as one score."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import stats

from agrilend.errors import InsufficientEvidenceError
from agrilend.yield_models.weather.indices import season_weather

logger = logging.getLogger(__name__)


def standardized_precipitation_index(history: np.ndarray | pd.Series, value: float) -> float:
    """Standardised precipitation index of ``value`` against a history of totals.

    A gamma distribution is fitted (location 0) to the non-zero totals of the history, mixed
    with the probability of a zero total, and the value's cumulative probability is mapped to a
    standard normal quantile (McKee et al. 1993). Needs at least 8 years of history.

    Examples
    --------
    >>> import numpy as np
    >>> hist = np.random.default_rng(0).gamma(4.0, 50.0, size=30)
    >>> spi_med = standardized_precipitation_index(hist, float(np.median(hist)))
    >>> abs(spi_med) < 0.3, standardized_precipitation_index(hist, 20.0) < -1.5
    (True, True)
    """
    h = np.asarray(history, dtype="float64")
    h = h[np.isfinite(h)]
    if h.size < 8:
        raise InsufficientEvidenceError(
            f"the standardised precipitation index needs at least 8 seasons of history, got "
            f"{h.size}; give a longer weather record"
        )
    p_zero = float(np.mean(h <= 0))
    pos = h[h > 0]
    if pos.size < 3 or np.allclose(pos, pos[0]):
        cdf = float(np.mean(h <= value))
    else:
        a, _, scale = stats.gamma.fit(pos, floc=0.0)
        cdf = p_zero + (1 - p_zero) * float(stats.gamma.cdf(max(value, 0.0), a, scale=scale))
    cdf = min(max(cdf, 1e-4), 1 - 1e-4)
    return float(stats.norm.ppf(cdf))


def _season_windows(
    index: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The same calendar window in every year of the record that fully covers it."""
    out = []
    first, last = pd.Timestamp(index.min()), pd.Timestamp(index.max())
    for year in range(first.year - 1, last.year + 1):
        shift = year - start.year
        s, e = start + pd.DateOffset(years=shift), end + pd.DateOffset(years=shift)
        if s >= index.min() and e <= index.max():
            out.append((s, e))
    return out


def climate_risk(
    df: pd.DataFrame,
    *,
    season: tuple[str | pd.Timestamp, str | pd.Timestamp],
    base_temp: float = 10.0,
    heat_threshold_c: float = 35.0,
    frost_threshold_c: float = 0.0,
) -> dict[str, float]:
    """A climate risk measure for one season, ready to become a credit haircut.

    The season's calendar window is cut out of every year of the record; its precipitation
    total gives a standardised precipitation index (SPI) against the station's own history, and
    the history gives the frequency of drought (SPI < -1) and of heat stress (more heat days than
    the 80th percentile of years). When the record covers the season itself, its SPI and heat
    days say how that season is going.

    Parameters
    ----------
    df
        Daily weather table, ideally 20-30 years.
    season
        ``(start, end)`` of the season of interest.
    base_temp, heat_threshold_c, frost_threshold_c
        As in :func:`season_weather`.

    Returns
    -------
    dict
        ``risk_score`` in 0..1 (0 = benign; a haircut-ready number), ``spi`` (NaN when the
        record does not cover the season), ``heat_days``, ``frost_days``, ``max_dry_spell_days``
        and ``gdd`` of the season (NaN if not covered), ``drought_frequency`` and
        ``heat_frequency`` (shares of historical years), ``prcp_cv`` (coefficient of variation of
        seasonal totals), ``n_years``.

    Notes
    -----
    ``risk_score = 1 - (1 - drought) * (1 - heat) * (1 - frost)`` with
    drought = clip(-SPI / 2.5, 0, 1) for the season when known, else the historical drought
    frequency; heat = clip(heat_days / 20, 0, 1) (else the heat frequency times 0.5);
    frost = clip(frost_days_in_season_beyond_normal / 20, 0, 1). The constants are set so that a
    one-in-forty-year drought (SPI about -2) gives a score near 0.8 and a normal season near 0.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> d = pd.date_range("1994-01-01", "2024-12-31", freq="D")
    >>> rng = np.random.default_rng(1)
    >>> w = pd.DataFrame({"tmin_c": 10.0, "tmax_c": 25.0,
    ...                   "prcp_mm": rng.gamma(0.5, 4.0, len(d))}, index=d)
    >>> r = climate_risk(w, season=("2024-06-01", "2024-09-30"))
    >>> 0 <= r["risk_score"] <= 1, r["n_years"]
    (True, 31.0)
    """
    start, end = pd.Timestamp(season[0]), pd.Timestamp(season[1])
    windows = _season_windows(pd.DatetimeIndex(df.index), start, end)
    rows = []
    for s, e in windows:
        try:
            sw = season_weather(
                df,
                s,
                e,
                base_temp=base_temp,
                heat_threshold_c=heat_threshold_c,
                frost_threshold_c=frost_threshold_c,
            )
        except InsufficientEvidenceError:
            continue
        if sw["missing_fraction"] > 0.2:
            continue
        rows.append(sw.rename(s.year))
    if len(rows) < 8:
        raise InsufficientEvidenceError(
            f"weather covers the season {start.date()}..{end.date()} in only {len(rows)} years; "
            "climate risk needs at least 8 years of daily records"
        )
    hist = pd.DataFrame(rows)
    totals = hist["prcp_mm"].to_numpy()
    spis = np.array([standardized_precipitation_index(totals, v) for v in totals])
    heat_p80 = float(np.quantile(hist["heat_days"], 0.8))
    drought_freq = float(np.mean(spis < -1.0))
    heat_freq = float(np.mean(hist["heat_days"] > max(heat_p80, 0.0)))
    covered = start.year in hist.index
    if covered:
        row = hist.loc[start.year].to_numpy(dtype="float64")
        cur = dict(zip(hist.columns.astype(str), row.tolist(), strict=True))
        spi = standardized_precipitation_index(totals, cur["prcp_mm"])
        drought = float(np.clip(-spi / 2.5, 0.0, 1.0))
        heat = float(np.clip(cur["heat_days"] / 20.0, 0.0, 1.0))
        frost_excess = cur["frost_days"] - float(hist["frost_days"].median())
        frost = float(np.clip(frost_excess / 20.0, 0.0, 1.0))
        season_vals = {k: cur[k] for k in ("heat_days", "frost_days", "max_dry_spell_days", "gdd")}
    else:
        spi = float("nan")
        drought = drought_freq
        heat = 0.5 * heat_freq
        frost = 0.0
        season_vals = dict.fromkeys(
            ("heat_days", "frost_days", "max_dry_spell_days", "gdd"), np.nan
        )
    score = 1.0 - (1.0 - drought) * (1.0 - heat) * (1.0 - frost)
    mean_total = float(np.mean(totals))
    return {
        "risk_score": float(np.clip(score, 0.0, 1.0)),
        "spi": spi,
        **season_vals,
        "drought_frequency": drought_freq,
        "heat_frequency": heat_freq,
        "prcp_cv": float(np.std(totals) / mean_total) if mean_total > 0 else float("nan"),
        "n_years": float(len(rows)),
    }


__all__ = ["climate_risk", "standardized_precipitation_index"]
