"""Daily weather of the synthetic county: a stochastic generator with a North China Plain climate.

Temperature follows the plain's annual cycle (mean about -3 °C in January, 27 °C in July, a
slow warming trend) with red-noise anomalies that are larger in winter; the daily range is
widest in spring and shrinks on wet days. Precipitation is a two-state Markov chain of wet days
with gamma-distributed amounts, monthly normals of a Hebei/Shandong plain station (about 520 mm
a year, three quarters of it in June-September) and a year-to-year factor on the monsoon. 2024
carries one recorded anomaly: the June heat wave and dry spell.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Normal monthly precipitation (mm) and share of wet days (>= 0.1 mm).
MONTHLY_PRCP_MM = (3.0, 6.0, 10.0, 22.0, 38.0, 70.0, 148.0, 125.0, 52.0, 28.0, 13.0, 4.0)
WET_DAY_SHARE = (0.08, 0.10, 0.13, 0.17, 0.20, 0.27, 0.45, 0.40, 0.25, 0.17, 0.12, 0.07)

#: The recorded 2024 anomaly (the truth of the weather).
EVENTS_2024 = (
    ("dry_spell", "2024-05-25", "2024-06-26", "no rain above 1 mm: summer sowing into dry soil"),
    ("heat_wave", "2024-06-10", "2024-06-20", "Tmax 5-7 °C above normal, peaks near 40 °C"),
)


def make_weather(
    *, start: str = "1994-01-01", end: str = "2024-12-31", rng: np.random.Generator
) -> pd.DataFrame:
    """Daily ``date, tmin_c, tmax_c, prcp_mm`` from ``start`` to ``end``.

    Examples
    --------
    >>> import numpy as np
    >>> w = make_weather(start="2020-01-01", end="2021-12-31", rng=np.random.default_rng(0))
    >>> list(w.columns), len(w)
    (['date', 'tmin_c', 'tmax_c', 'prcp_mm'], 731)
    >>> bool((w["tmax_c"] >= w["tmin_c"]).all())
    True
    """
    dates = pd.date_range(start, end, freq="D")
    n = len(dates)
    doy = dates.day_of_year.to_numpy().astype(float)
    month = dates.month.to_numpy() - 1
    year = dates.year.to_numpy()
    years = np.unique(year)
    monsoon = dict(zip(years, rng.lognormal(0.0, 0.25, len(years)), strict=True))
    year_t = dict(zip(years, rng.normal(0.0, 0.45, len(years)), strict=True))

    p = np.array(WET_DAY_SHARE)[month]
    p11 = np.minimum(p + 0.2, 0.9)
    p01 = p * (1 - p11) / (1 - p)
    mean_amount = np.array(MONTHLY_PRCP_MM)[month] / (p * dates.days_in_month.to_numpy())
    wet = np.zeros(n, dtype=bool)
    u = rng.random(n)
    for i in range(1, n):
        wet[i] = u[i] < (p11[i] if wet[i - 1] else p01[i])
    shape = 0.7
    amount = rng.gamma(shape, mean_amount / shape)
    summer = np.isin(month, [5, 6, 7, 8])
    factor = np.where(summer, np.array([monsoon[y] for y in year]), 1.0)
    prcp = np.where(wet, np.maximum(amount * factor, 0.1), 0.0)

    seasonal = 12.2 - 15.2 * np.cos(2 * np.pi * (doy - 18) / 365.25)
    trend = 0.03 * (year - 2009) + np.array([year_t[y] for y in year])
    sd = 2.1 + 0.8 * np.cos(2 * np.pi * (doy - 15) / 365.25)
    phi = 0.75
    eps = rng.standard_normal(n) * np.sqrt(1 - phi**2)
    anom = np.zeros(n)
    for i in range(1, n):
        anom[i] = phi * anom[i - 1] + eps[i]
    tmean = seasonal + trend + sd * anom - 1.0 * wet
    dtr = 10.8 + 2.2 * np.cos(2 * np.pi * (doy - 105) / 365.25) - 3.0 * wet
    dtr = np.maximum(dtr + rng.normal(0.0, 1.2, n), 2.0)
    tmax = tmean + dtr / 2
    tmin = tmean - dtr / 2

    frame = pd.DataFrame({"date": dates, "tmin_c": tmin, "tmax_c": tmax, "prcp_mm": prcp})
    for kind, s, e, _ in EVENTS_2024:
        sel = (frame["date"] >= s) & (frame["date"] <= e)
        if kind == "dry_spell":
            frame.loc[sel, "prcp_mm"] = np.where(frame.loc[sel, "prcp_mm"] > 0, 0.3, 0.0)
        elif kind == "heat_wave":
            k = np.arange(int(sel.sum()))
            bump = 4.5 + 2.5 * np.sin(np.pi * (k + 0.5) / max(len(k), 1))
            frame.loc[sel, "tmax_c"] += bump
            frame.loc[sel, "tmin_c"] += 0.6 * bump
    frame["tmin_c"] = frame["tmin_c"].round(1)
    frame["tmax_c"] = frame["tmax_c"].round(1)
    frame["prcp_mm"] = frame["prcp_mm"].round(1)
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    return frame


def weather_events() -> pd.DataFrame:
    """The recorded weather anomalies of 2024 (``event, start, end, description``)."""
    return pd.DataFrame(EVENTS_2024, columns=["event", "start", "end", "description"])


__all__ = ["EVENTS_2024", "MONTHLY_PRCP_MM", "WET_DAY_SHARE", "make_weather", "weather_events"]
