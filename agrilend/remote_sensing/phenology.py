"""Seasons from a smoothed index series: start, peak, end, length, amplitude, integral.

The threshold method, season by season: each prominent peak of the curve is a season; its base
on each side is the lowest value between it and the neighbouring season (or the series' end);
the season starts when the rising limb crosses ``base + threshold * (peak - base)`` and ends
when the falling limb crosses the same fraction on its own side. Seasons need a minimum
amplitude and length, so noise does not make seasons. Up to ``max_seasons`` seasons are kept
(the most prominent ones, in time order): a double crop (winter wheat, then summer maize) gives
two.

Feed it a cleaned series (:func:`agrilend.remote_sensing.timeseries.clean_series`); interior
gaps are filled linearly, and nothing is read outside the first..last valid value.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

from agrilend.remote_sensing.timeseries import fill_gaps

logger = logging.getLogger(__name__)

FloatArray = np.ndarray[Any, np.dtype[np.floating[Any]]]

_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class Season:
    """One growing season read from a series.

    Attributes
    ----------
    start, peak, end
        Start of season (SOS), peak (POS) and end of season (EOS) dates.
    length_days
        ``end - start`` in days.
    amplitude
        ``peak_value - base_value``.
    integral
        Area between the curve and ``base_value`` from start to end, in index units x days.
    peak_value
        The series' value at the peak.
    base_value
        Mean of the left and right bases (the troughs around the season).
    """

    start: pd.Timestamp
    peak: pd.Timestamp
    end: pd.Timestamp
    length_days: float
    amplitude: float
    integral: float
    peak_value: float
    base_value: float


def _crossing(
    x: FloatArray, y: FloatArray, i0: int, i1: int, level: float, *, rising: bool
) -> float:
    """Position (in ``x`` units) where ``y`` crosses ``level`` between samples i0..i1.

    Rising: the last upward crossing before i1 (the peak); falling: the first downward crossing
    after i0 (the peak). Linear interpolation between the two samples around the crossing.
    """
    if rising:
        for i in range(i1, i0, -1):
            if y[i - 1] < level <= y[i]:
                return float(x[i - 1] + (level - y[i - 1]) / (y[i] - y[i - 1]) * (x[i] - x[i - 1]))
        return float(x[i0])
    for i in range(i0, i1):
        if y[i] >= level > y[i + 1]:
            return float(x[i] + (y[i] - level) / (y[i] - y[i + 1]) * (x[i + 1] - x[i]))
    return float(x[i1])


def _refine_peak(x: FloatArray, y: FloatArray, p: int) -> float:
    """Peak position between samples, from the parabola through the peak and its neighbours."""
    if p == 0 or p == y.size - 1:
        return float(x[p])
    curv = y[p - 1] - 2.0 * y[p] + y[p + 1]
    if curv >= 0:
        return float(x[p])
    shift = 0.5 * (y[p - 1] - y[p + 1]) / curv
    step = x[p + 1] - x[p] if shift > 0 else x[p] - x[p - 1]
    return float(x[p] + min(max(float(shift), -0.5), 0.5) * step)


def phenology(
    y: Any,
    times: Any,
    *,
    max_seasons: int = 2,
    threshold: float = 0.5,
    min_amplitude: float = 0.1,
    min_length_days: float = 30.0,
    max_length_days: float = 300.0,
) -> list[Season]:
    """Find up to ``max_seasons`` growing seasons in one smoothed series.

    Parameters
    ----------
    y
        One series (1-D) of an index such as NDVI, preferably cleaned and on a regular grid.
    times
        Its dates.
    max_seasons
        Keep at most this many seasons (the most prominent), returned in time order.
    threshold
        Fraction of the amplitude, above each side's base, that marks start and end (0.5 = 50 %).
    min_amplitude
        A peak must rise at least this much above the higher of its two bases.
    min_length_days, max_length_days
        Plausible season lengths; seasons outside are dropped.

    Returns
    -------
    list of Season
        Empty when the series has no season (bare soil, grassland without a clear cycle, too
        few observations).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
    >>> doy = np.asarray(t.day_of_year, dtype=float)
    >>> y = 0.2 + 0.6 * np.exp(-(((doy - 180) / 30) ** 2))
    >>> [s.peak.strftime("%m-%d") for s in phenology(y, t)]
    ['06-28']
    """
    arr = np.asarray(y, dtype="float64")
    if arr.ndim != 1:
        raise ValueError(f"phenology takes one series (1-D); got shape {arr.shape}")
    days, order = _days_of(times, arr.size)
    found = _seasons(
        fill_gaps(arr[order], x=days),
        days,
        max_seasons=max_seasons,
        threshold=threshold,
        min_amplitude=min_amplitude,
        min_length_days=min_length_days,
        max_length_days=max_length_days,
    )
    return [
        Season(
            start=_to_day(sos),
            peak=_to_day(pos),
            end=_to_day(eos),
            length_days=length,
            amplitude=amplitude,
            integral=integral,
            peak_value=peak_v,
            base_value=base,
        )
        for sos, pos, eos, length, amplitude, integral, peak_v, base in found
    ]


def _days_of(times: Any, n: int) -> tuple[FloatArray, np.ndarray[Any, Any]]:
    """Sorted dates as float days since the epoch, and the order that sorts them."""
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times))).as_unit("ns")
    if len(t) != n:
        raise ValueError(f"{n} values for {len(t)} dates")
    order = np.argsort(t.asi8, kind="stable")
    return t.asi8[order] / _DAY_NS, order


def _to_day(day: float) -> pd.Timestamp:
    return pd.Timestamp(int(day * _DAY_NS)).round("D")


_SeasonTuple = tuple[float, float, float, float, float, float, float, float]


def _seasons(
    arr: FloatArray,
    all_days: FloatArray,
    *,
    max_seasons: int,
    threshold: float,
    min_amplitude: float,
    min_length_days: float,
    max_length_days: float,
) -> list[_SeasonTuple]:
    """The seasons of one gap-filled, date-sorted series, as plain floats (days since epoch).

    Each tuple is ``(sos, pos, eos, length, amplitude, integral, peak_value, base_value)``.
    """
    finite = np.flatnonzero(np.isfinite(arr))
    if finite.size < 5:
        return []
    lo, hi = int(finite[0]), int(finite[-1])
    v = arr[lo : hi + 1]
    days = all_days[lo : hi + 1]
    step = float(days[-1] - days[0]) / (v.size - 1) if v.size > 1 else 1.0  # mean step
    distance = max(1, round(min_length_days / 2.0 / max(step, 1e-9)))
    peaks, props = find_peaks(v, prominence=min_amplitude, distance=distance)
    if peaks.size == 0:
        return []
    keep = np.sort(peaks[np.argsort(props["prominences"])[::-1][:max_seasons]])
    seasons: list[_SeasonTuple] = []
    for k, p in enumerate(keep):
        left_edge = 0 if k == 0 else int(keep[k - 1])
        right_edge = v.size - 1 if k == keep.size - 1 else int(keep[k + 1])
        il = left_edge + int(np.argmin(v[left_edge : p + 1]))
        ir = p + int(np.argmin(v[p : right_edge + 1]))
        peak_v = float(v[p])
        base_l, base_r = float(v[il]), float(v[ir])
        if peak_v - max(base_l, base_r) < min_amplitude:
            continue
        level_l = base_l + threshold * (peak_v - base_l)
        level_r = base_r + threshold * (peak_v - base_r)
        sos = _crossing(days, v, il, int(p), level_l, rising=True)
        eos = _crossing(days, v, int(p), ir, level_r, rising=False)
        length = eos - sos
        if not (min_length_days <= length <= max_length_days):
            logger.debug("season at day %.0f dropped: length %.0f days", days[p], length)
            continue
        base = 0.5 * (base_l + base_r)
        # area of the piecewise-linear curve above the base, from start to end
        inside = (days > sos) & (days < eos)
        xs = np.concatenate(([sos], days[inside], [eos]))
        ys = np.clip(np.interp(xs, days, v) - base, 0.0, None)
        integral = float(np.sum(0.5 * (ys[1:] + ys[:-1]) * np.diff(xs)))
        seasons.append(
            (sos, _refine_peak(days, v, int(p)), eos, float(length), peak_v - base, integral,
             peak_v, base)
        )  # fmt: skip
    return seasons


def _season_columns(max_seasons: int) -> list[str]:
    cols = ["n_seasons"]
    for k in range(1, max_seasons + 1):
        cols += [
            f"s{k}_{name}"
            for name in ("sos", "pos", "eos", "length_days", "amplitude", "integral", "peak")
        ]
    return cols


def phenology_table(
    y2d: Any,
    times: Any,
    *,
    index: Any = None,
    max_seasons: int = 2,
    threshold: float = 0.5,
    min_amplitude: float = 0.1,
    min_length_days: float = 30.0,
    max_length_days: float = 300.0,
) -> pd.DataFrame:
    """Seasons of many series (one per row) as a table, one row per series.

    Columns: ``n_seasons`` then, for k = 1..``max_seasons``, ``sk_sos``, ``sk_pos``,
    ``sk_eos`` (dates), ``sk_length_days``, ``sk_amplitude``, ``sk_integral``, ``sk_peak``
    (peak value); NaT/NaN where a row has fewer seasons.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
    >>> doy = np.asarray(t.day_of_year, dtype=float)
    >>> y = np.vstack([0.2 + 0.6 * np.exp(-(((doy - 180) / 30) ** 2)), np.full(doy.size, 0.2)])
    >>> phenology_table(y, t, index=["a", "b"])["n_seasons"].tolist()
    [1, 0]
    """
    arr = np.atleast_2d(np.asarray(y2d, dtype="float64"))
    days, order = _days_of(times, arr.shape[-1])
    filled = fill_gaps(arr[:, order], x=days)
    cols = _season_columns(max_seasons)
    n_rows = arr.shape[0]
    counts = np.zeros(n_rows, dtype="int64")
    # per season k: sos, pos, eos, length, amplitude, integral, peak (days as floats for now)
    block = np.full((n_rows, max_seasons, 7), np.nan)
    for i in range(n_rows):
        found = _seasons(
            filled[i],
            days,
            max_seasons=max_seasons,
            threshold=threshold,
            min_amplitude=min_amplitude,
            min_length_days=min_length_days,
            max_length_days=max_length_days,
        )
        counts[i] = len(found)
        for k, season in enumerate(found):
            block[i, k] = season[:7]
    data: dict[str, Any] = {"n_seasons": counts}
    for k in range(max_seasons):
        for j, name in enumerate(
            ("sos", "pos", "eos", "length_days", "amplitude", "integral", "peak")
        ):
            col = block[:, k, j]
            if j < 3:
                ns = np.where(np.isfinite(col), np.round(col) * _DAY_NS, 0).astype("int64")
                dates = ns.astype("datetime64[ns]")
                data[f"s{k + 1}_{name}"] = np.where(
                    np.isfinite(col), dates, np.datetime64("NaT", "ns")
                )
            else:
                data[f"s{k + 1}_{name}"] = col
    return pd.DataFrame(data, columns=cols, index=index)


__all__ = ["Season", "phenology", "phenology_table"]
