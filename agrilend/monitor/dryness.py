"""Weather to date on each image date: the 60-day SPI and the current dry spell."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from agrilend.errors import InsufficientEvidenceError
from agrilend.yield_models.weather import standardized_precipitation_index

#: A day with less rain than this is dry.
DRY_DAY_MM = 1.0


def dryness(
    weather: pd.DataFrame, times: pd.DatetimeIndex, *, window_days: int = 60
) -> pd.DataFrame:
    """Per image date: ``spi_60d`` (against the same window of earlier years), ``dry_spell_days``.

    ``weather`` is the table of :func:`agrilend.yield_models.weather.read_weather` (daily,
    indexed by date, ``prcp_mm``). A date the record does not reach gets NaN.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> days = pd.date_range("2010-01-01", "2025-07-01")
    >>> rain = np.where(days.year == 2025, 0.0, 2.0)
    >>> w = pd.DataFrame({"prcp_mm": rain}, index=days)
    >>> d = dryness(w, pd.DatetimeIndex(["2025-06-30"]))
    >>> bool(d["spi_60d"].iloc[0] < -2), int(d["dry_spell_days"].iloc[0])
    (True, 181)
    """
    prcp = weather["prcp_mm"].astype(float)
    prcp.index = pd.DatetimeIndex(prcp.index).normalize()
    prcp = prcp[~prcp.index.duplicated(keep="last")].sort_index()
    last = prcp.index.max() if len(prcp) else pd.NaT
    # totals of the window ending on each day (NaN until the record covers a whole window)
    roll = prcp.rolling(f"{window_days}D").sum()
    roll[roll.index < prcp.index.min() + pd.Timedelta(days=window_days - 1)] = np.nan
    dry = (prcp < DRY_DAY_MM).to_numpy()
    run = np.zeros(len(dry), dtype=int)
    for k in range(len(dry)):
        run[k] = (run[k - 1] + 1 if k else 1) if dry[k] else 0
    spell = pd.Series(run, index=prcp.index)
    rows: list[dict[str, Any]] = []
    days = pd.DatetimeIndex(times).normalize()
    past = {k: roll.reindex(days - pd.DateOffset(years=k)).to_numpy() for k in range(1, 41)}
    for j, day in enumerate(days):
        if pd.isna(last) or day > last or day not in roll.index:
            rows.append({"spi_60d": np.nan, "dry_spell_days": np.nan})
            continue
        hist = np.array([past[k][j] for k in range(1, 41)])
        hist = hist[np.isfinite(hist)]
        try:
            spi = standardized_precipitation_index(hist, float(roll.loc[day]))
        except InsufficientEvidenceError:
            spi = np.nan
        rows.append({"spi_60d": spi, "dry_spell_days": float(spell.loc[day])})
    return pd.DataFrame(rows, index=times)


__all__ = ["DRY_DAY_MM", "dryness"]
