"""Seasons from a smoothed index series: start, peak, end, length, amplitude, integral.

Season by season: each prominent peak of the curve is a season; its base on each side is the
lowest value between it and the neighbouring season (or the series' end). Two peaks separated
by a shallow dip (less than ``merge_below`` of the lower peak's rise above its outer base: a
canopy that dips and recovers, not a harvest), or so close that a season cut at the dip between
them would be too short, are one season, peaking at the higher of them (without this the two
peaks become each other's base and both are dropped).
Seasons need a minimum amplitude and length, so noise does not make seasons. Up to
``max_seasons`` seasons are kept (the most prominent ones, in time order): a double crop
(winter wheat, then summer maize) gives two.

Start (SOS) and end (EOS) of season, ``method=``:

- ``"amplitude"`` (default): where the rising limb crosses ``base + threshold * (peak - base)``
  and the falling limb the same fraction on its own side: TIMESAT's seasonal-amplitude method
  (Jönsson and Eklundh 2004; TIMESAT and the Copernicus HR-VPP product use 25 %, many studies
  50 %, which is the default here);
- ``"trough"``: where the curve leaves its trough before the peak and returns to it after
  (5 % of the amplitude above the lowest value on each side): the start and end FuseTS's
  phenology reports, typically weeks earlier/later than 50 %;
- ``"slope"``: the steepest rise before the peak and the steepest fall after it (the
  first-derivative method, e.g. phenolopy's ``max_slope``; the middle of green-up and
  senescence, close to 50 % for symmetric limbs).

Values must be an index in [-1, 1]: a series that looks scaled by 10000 (integer NDVI, as some
stores keep it) is rescaled with an :class:`~agrilend.errors.IndexScaleWarning`; a smoother's
overshoot (up to 1.2) is clipped; other values outside the range raise
:class:`~agrilend.errors.IndexRangeError`.

Feed it a cleaned series (:func:`agrilend.remote_sensing.timeseries.clean_series`); interior
gaps are filled linearly, and nothing is read outside the first..last valid value.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

from agrilend.errors import IndexRangeError, IndexScaleWarning
from agrilend.remote_sensing import _phenology_kernel as _kernel
from agrilend.remote_sensing.timeseries import fill_gaps

logger = logging.getLogger(__name__)

FloatArray = np.ndarray[Any, np.dtype[np.floating[Any]]]

_DAY_NS = 86_400 * 10**9

Method = Literal["amplitude", "trough", "slope"]
Engine = Literal["compiled", "reference"]
#: With ``method="trough"``: the share of the amplitude above the trough where a season starts.
_TROUGH = 0.05
_METHODS = ("amplitude", "trough", "slope")
#: Values up to this far outside [-1, 1] are rounding, not a scale.
_RANGE_TOL = 1e-6
#: Smoothed curves overshoot a little where a canopy is near 1: up to this, values are clipped.
_OVERSHOOT = 1.2


def _in_index_range(arr: FloatArray, what: str, *, check: bool = True) -> FloatArray:
    """The series as an index in [-1, 1]: rescaled from x 10000 (warned), or refused."""
    if not check:
        return arr
    vals = arr[np.isfinite(arr)]
    if vals.size == 0 or float(np.max(np.abs(vals))) <= 1.0 + _RANGE_TOL:
        return arr
    top = float(np.max(np.abs(vals)))
    if top <= _OVERSHOOT:  # a smoother's overshoot of a canopy near 1, not a scale
        return np.clip(arr, -1.0, 1.0)
    if 100.0 < top <= 10_000.0:
        warnings.warn(
            f"{what}: values up to {top:.0f} look like an index scaled by 10000 (integer NDVI); "
            "rescaled to [-1, 1]. Pass the index itself to silence this warning",
            IndexScaleWarning,
            stacklevel=3,
        )
        return arr / 10_000.0
    raise IndexRangeError(
        f"{what}: values reach {top:g}, outside the index range [-1, 1]; give NDVI (or another "
        "normalised-difference index) as a fraction, e.g. compute it with "
        "agrilend.remote_sensing.ndvi from reflectances"
    )


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


@dataclass(frozen=True)
class _Peak:
    """A season's peak: the highest sample, and the first and last peaks merged into it."""

    top: int
    first: int
    last: int
    prominence: float


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
    method: Method = "amplitude",
    threshold: float = 0.5,
    min_amplitude: float = 0.1,
    min_length_days: float = 30.0,
    max_length_days: float = 300.0,
    merge_below: float = 0.35,
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
    method
        How start and end are read: ``"amplitude"``, ``"trough"`` or ``"slope"`` (module
        docstring).
    threshold
        With ``method="amplitude"``: the fraction of the amplitude, above each side's base,
        that marks start and end (0.5 = 50 %).
    min_amplitude
        A peak must rise at least this much above the higher of its two bases.
    min_length_days, max_length_days
        Plausible season lengths; seasons outside are dropped.
    merge_below
        Two neighbouring peaks whose dip is shallower than this fraction of the lower peak's
        rise are one season.

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
    _check_method(method, threshold)
    arr = _in_index_range(arr, "phenology")
    days, order = _days_of(times, arr.size)
    found = _seasons(
        fill_gaps(arr[order], x=days),
        days,
        max_seasons=max_seasons,
        method=method,
        merge_below=merge_below,
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


def _check_method(method: str, threshold: float) -> None:
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be a fraction in (0, 1), got {threshold}")


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
    method: str = "amplitude",
    merge_below: float = 0.35,
) -> list[_SeasonTuple]:
    """The seasons of one gap-filled, date-sorted series, as plain floats (days since epoch).

    Each tuple is ``(sos, pos, eos, length, amplitude, integral, peak_value, base_value)``.
    This is the readable reference: :func:`phenology` uses it, and :func:`phenology_table`
    runs the compiled kernel (:mod:`agrilend.remote_sensing._phenology_kernel`), which gives the
    same seasons, or this with ``engine="reference"``.
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
    prominences = props["prominences"]
    groups = [
        _Peak(int(p), int(p), int(p), float(q)) for p, q in zip(peaks, prominences, strict=True)
    ]
    groups = _merge_close_peaks(v, groups, merge_below)
    groups = _merge_short_neighbours(
        v, days, groups, min_length_days=min_length_days, method=method, threshold=threshold
    )
    top = sorted(groups, key=lambda g: -g.prominence)[:max_seasons]
    keep = sorted(top, key=lambda g: g.top)
    seasons: list[_SeasonTuple] = []
    for k, g in enumerate(keep):
        p = g.top
        il, ir = _troughs(v, keep, k)
        peak_v = float(v[p])
        base_l, base_r = float(v[il]), float(v[ir])
        if peak_v - max(base_l, base_r) < min_amplitude:
            continue
        sos, eos = _start_end(days, v, il, g, ir, method=method, threshold=threshold)
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


def _start_end(
    days: FloatArray, v: FloatArray, il: int, g: _Peak, ir: int, *, method: str, threshold: float
) -> tuple[float, float]:
    """Start and end of the season ``g`` between troughs ``il`` and ``ir``.

    A merged season rises before its first peak and falls after its last one.
    """
    first, last, peak_v = g.first, g.last, float(v[g.top])
    base_l, base_r = float(v[il]), float(v[ir])
    if method == "slope":
        rise = np.diff(v[il : first + 1]) / np.diff(days[il : first + 1])
        fall = np.diff(v[last : ir + 1]) / np.diff(days[last : ir + 1])
        # the middle of the steepest segment on each limb
        i = il + int(np.argmax(rise)) if rise.size else il
        j = last + int(np.argmin(fall)) if fall.size else ir - 1
        sos = 0.5 * (days[i] + days[i + 1]) if rise.size else days[il]
        eos = 0.5 * (days[j] + days[j + 1]) if fall.size else days[ir]
        return float(sos), float(eos)
    # "trough": where the curve leaves its trough and comes back to it, 5 % of the amplitude
    # above it (the lowest sample alone could be anywhere on a flat bare-soil stretch)
    frac = _TROUGH if method == "trough" else threshold
    return (
        _crossing(days, v, il, first, base_l + frac * (peak_v - base_l), rising=True),
        _crossing(days, v, last, ir, base_r + frac * (peak_v - base_r), rising=False),
    )


def _troughs(v: FloatArray, keep: list[_Peak], k: int) -> tuple[int, int]:
    """The lowest samples between season ``keep[k]`` and its neighbours (or the series' ends)."""
    g = keep[k]
    left_edge = 0 if k == 0 else keep[k - 1].last
    right_edge = v.size - 1 if k == len(keep) - 1 else keep[k + 1].first
    return (
        left_edge + int(np.argmin(v[left_edge : g.first + 1])),
        g.last + int(np.argmin(v[g.last : right_edge + 1])),
    )


def _join(v: FloatArray, a: _Peak, b: _Peak, prominence: float) -> _Peak:
    """One season from two neighbours: the higher peak, spanning both."""
    top = a.top if v[a.top] >= v[b.top] else b.top
    return _Peak(top, min(a.first, b.first), max(a.last, b.last), prominence)


def _merge_short_neighbours(
    v: FloatArray,
    days: FloatArray,
    groups: list[_Peak],
    *,
    min_length_days: float,
    method: str,
    threshold: float,
) -> list[_Peak]:
    """Fold a season that, cut at a neighbour's trough, is too short into that neighbour.

    Two close peaks split one canopy cycle between them: each season ends at the dip between
    them and both would be dropped as too short. They are one season (the higher peak kept),
    joined across the higher (shallower) of the season's two troughs.
    """
    out = list(groups)
    changed = True
    while changed and len(out) > 1:
        changed = False
        for k in range(len(out)):
            il, ir = _troughs(v, out, k)
            sos, eos = _start_end(days, v, il, out[k], ir, method=method, threshold=threshold)
            if eos - sos >= min_length_days:
                continue
            left_ok, right_ok = k > 0, k < len(out) - 1
            j = k - 1 if left_ok and (not right_ok or v[il] >= v[ir]) else k + 1
            a, b = min(j, k), max(j, k)
            prom = max(out[a].prominence, out[b].prominence)
            out[a : b + 1] = [_join(v, out[a], out[b], prom)]
            changed = True
            break
    return out


def _merge_close_peaks(v: FloatArray, groups: list[_Peak], merge_below: float) -> list[_Peak]:
    """Fold neighbouring peaks split by a shallow dip into one season (the higher peak kept).

    A dip counts as shallow when the lower peak rises above it by less than ``merge_below`` of
    its rise above its own outer trough.
    """
    out = list(groups)
    changed = True
    while changed and len(out) > 1:
        changed = False
        for k in range(len(out) - 1):
            a, b = out[k], out[k + 1]
            dip = float(np.min(v[a.last : b.first + 1]))
            low_is_a = v[a.top] <= v[b.top]
            low = a.top if low_is_a else b.top
            outer = float(np.min(v[: a.first + 1])) if low_is_a else float(np.min(v[b.last :]))
            rise_outer = float(v[low]) - outer
            if rise_outer <= 0 or (float(v[low]) - dip) < merge_below * rise_outer:
                higher = a.top if not low_is_a else b.top
                prom = max(a.prominence, b.prominence, float(v[higher]) - min(outer, dip))
                out[k : k + 2] = [_join(v, a, b, prom)]
                changed = True
                break
    return out


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
    method: Method = "amplitude",
    threshold: float = 0.5,
    min_amplitude: float = 0.1,
    min_length_days: float = 30.0,
    max_length_days: float = 300.0,
    merge_below: float = 0.35,
    check_range: bool = True,
    engine: Engine = "compiled",
) -> pd.DataFrame:
    """Seasons of many series (one per row) as a table, one row per series.

    Columns: ``n_seasons`` then, for k = 1..``max_seasons``, ``sk_sos``, ``sk_pos``,
    ``sk_eos`` (dates), ``sk_length_days``, ``sk_amplitude``, ``sk_integral``, ``sk_peak``
    (peak value); NaT/NaN where a row has fewer seasons. Options as in :func:`phenology`;
    ``check_range=False`` reads any series as it is (features of arbitrary channels).
    ``engine="compiled"`` (default) runs all rows in one numba pass; ``"reference"`` runs the
    readable Python code row by row (the one :func:`phenology` uses). Both give the same table:
    the compiled pass does the same arithmetic in the same order, and leaves to the reference
    the rare row where scipy's peak search breaks a tie in an unspecified order (peaks of equal
    height closer than the minimum distance), and every row when the dates are not strictly
    increasing.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
    >>> doy = np.asarray(t.day_of_year, dtype=float)
    >>> y = np.vstack([0.2 + 0.6 * np.exp(-(((doy - 180) / 30) ** 2)), np.full(doy.size, 0.2)])
    >>> phenology_table(y, t, index=["a", "b"])["n_seasons"].tolist()
    [1, 0]
    >>> fast = phenology_table(y, t)
    >>> fast.equals(phenology_table(y, t, engine="reference"))
    True
    """
    arr = np.atleast_2d(np.asarray(y2d, dtype="float64"))
    _check_method(method, threshold)
    if engine not in ("compiled", "reference"):
        raise ValueError(f"engine must be 'compiled' or 'reference', got {engine!r}")
    arr = _in_index_range(arr, "phenology_table", check=check_range)
    days, order = _days_of(times, arr.shape[-1])
    ordered = arr if bool(np.all(order == np.arange(order.size))) else arr[:, order]
    options: dict[str, Any] = {
        "max_seasons": max_seasons,
        "method": method,
        "merge_below": merge_below,
        "threshold": threshold,
        "min_amplitude": min_amplitude,
        "min_length_days": min_length_days,
        "max_length_days": max_length_days,
    }
    n_rows = arr.shape[0]
    counts = np.zeros(n_rows, dtype="int64")
    # per season k: sos, pos, eos, length, amplitude, integral, peak (days as floats for now)
    block = np.full((n_rows, max_seasons, 7), np.nan)
    if engine == "reference" or n_rows == 0 or not bool(np.all(np.diff(days) > 0)):
        rows: Any = np.arange(n_rows)
    else:
        unsure = np.zeros(n_rows, dtype=np.bool_)
        _kernel.season_rows(
            np.ascontiguousarray(ordered),
            np.ascontiguousarray(days, dtype="float64"),
            int(max_seasons),
            _METHODS.index(method),
            _TROUGH if method == "trough" else float(threshold),
            float(min_amplitude),
            float(min_length_days),
            float(max_length_days),
            float(merge_below),
            counts,
            block,
            unsure,
        )
        rows = np.flatnonzero(unsure)
    filled = fill_gaps(ordered[rows], x=days)
    for i, series in zip(rows, filled, strict=True):
        found = _seasons(series, days, **options)
        counts[i] = len(found)
        block[i] = np.nan
        for k, season in enumerate(found):
            block[i, k] = season[:7]
    return _season_frame(counts, block, max_seasons, index)


def _season_frame(
    counts: np.ndarray[Any, Any], block: FloatArray, max_seasons: int, index: Any
) -> pd.DataFrame:
    """The table of :func:`phenology_table` from the season counts and the (rows, k, 7) block."""
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
    return pd.DataFrame(data, columns=_season_columns(max_seasons), index=index)


__all__ = ["Season", "phenology", "phenology_table"]
