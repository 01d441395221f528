"""One season against the others: the monitor's drought rule where no scan season exists.

With a multi-year series of parcels and no scan (no peer curves of a decision season), each
year's normal is the parcel's own median curve of the *other* years (by ten-day period of the
year): a leave-one-year-out normal. Each year is then judged by :func:`detect_events` without
weather (drought: a parcel below ``drought_ratio`` of its normal while ``area_share`` of the
parcels are as low on the same date).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from agrilend.monitor.events import BARE_SOIL_NDVI, MIN_AMPLITUDE, EventRules, detect_events

PERIOD_DAYS = 10


def _periods(times: pd.DatetimeIndex) -> np.ndarray[Any, Any]:
    return np.minimum((times.day_of_year.to_numpy() - 1) // PERIOD_DAYS, 36)


def _median(a: np.ndarray[Any, Any], axis: int) -> np.ndarray[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices are expected
        return np.asarray(np.nanmedian(a, axis=axis))


def year_against_others(
    x: np.ndarray[Any, Any],
    times: pd.DatetimeIndex,
    book: pd.DataFrame,
    *,
    window: tuple[str, str] = ("07-11", "08-31"),
    rules: EventRules | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per year: vigour against the other years in ``window`` and the drought events.

    Parameters
    ----------
    x
        ``(parcel, time)`` clear NDVI (NaN where not clear), several years.
    times
        Its dates.
    book
        As for :func:`detect_events` (``crop`` may be one group for all parcels).
    window
        ``("MM-DD", "MM-DD")``: the part of each year compared (every year must cover it).
    rules
        Event thresholds.

    Returns
    -------
    summary, events
        ``summary`` one row per year: ``parcels`` (with a comparison), ``median_ratio`` (green
        amplitude against normal, median over parcels of their median in the window),
        ``share_low`` (parcels whose median ratio is below ``drought_ratio``),
        ``drought_parcels`` and ``first_alert``; ``events`` the drought events of every year.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2015-07-01", "2017-08-31", freq="5D")
    >>> x = np.tile(np.where(t.month.isin([6, 7, 8]), 0.8, 0.3), (8, 1))
    >>> x[:, (t.year == 2017) & t.month.isin([7, 8])] = 0.45
    >>> book = pd.DataFrame({"parcel_id": [str(i) for i in range(8)], "owner_ref": "H",
    ...                      "crop": "grass", "level": 1.0, "x": 0.0, "y": 0.0})
    >>> s, _ = year_against_others(x, t, book, window=("07-01", "08-31"))
    >>> s["share_low"].round(2).tolist(), int(s.loc[2017, "drought_parcels"])
    ([0.0, 0.0, 1.0], 8)
    """
    r = rules or EventRules()
    years = sorted(set(times.year))
    per = _periods(times)
    curves = np.full((len(years), len(x), 37), np.nan)
    for k, y in enumerate(years):
        for p in np.unique(per[times.year == y]):
            cols = (times.year == y) & (per == p)
            curves[k, :, p] = _median(x[:, cols], axis=1)
    rows, frames = [], []
    for k, y in enumerate(years):
        others = [j for j in range(len(years)) if j != k]
        normal = _median(curves[others], axis=0) - BARE_SOIL_NDVI  # (parcel, period)
        sel = times.year == y
        ty = times[sel]
        amp = normal[:, per[sel]]
        amp = np.where(amp >= MIN_AMPLITUDE, amp, np.nan)
        ev = detect_events(x[:, sel], ty, book, normal=amp, rules=r)
        ev = ev[ev["kind"] == "drought"]
        lo, hi = pd.Timestamp(f"{y}-{window[0]}"), pd.Timestamp(f"{y}-{window[1]}")
        inside = (ty >= lo) & (ty <= hi)
        with np.errstate(all="ignore"):
            ratio = (x[:, sel][:, inside] - BARE_SOIL_NDVI) / amp[:, inside]
        per_parcel = _median(ratio, axis=1)
        known = np.isfinite(per_parcel)
        in_window = ev[(pd.to_datetime(ev["date"]) >= lo) & (pd.to_datetime(ev["date"]) <= hi)]
        rows.append(
            {
                "year": y,
                "parcels": int(known.sum()),
                "median_ratio": float(np.median(per_parcel[known])) if known.any() else np.nan,
                "share_low": float(np.mean(per_parcel[known] < r.drought_ratio))
                if known.any()
                else np.nan,
                "drought_parcels": int(in_window["parcel_id"].nunique()),
                "first_alert": str(in_window["date"].min()) if len(in_window) else "",
            }
        )
        frames.append(ev)
    events = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return pd.DataFrame(rows).set_index("year"), events


__all__ = ["year_against_others"]
