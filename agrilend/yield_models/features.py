"""Features of per-parcel series: seasonal statistics, temporal profile, harmonics, phenology.

Every channel (a band or an index, one row per parcel, NaN = no clear observation) is put on a
regular grid, cleaned of residual-cloud dips and smoothed with the Whittaker smoother of
:mod:`agrilend.remote_sensing.timeseries`, then summarised. Harmonic coefficients are fitted to
the raw valid observations only, and phenology (:mod:`agrilend.remote_sensing.phenology`) is read
from the smoothed phenology channel, so gaps and irregular dates are handled in one place.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from agrilend.remote_sensing.phenology import phenology_table
from agrilend.remote_sensing.timeseries import despike, regularize, whittaker

logger = logging.getLogger(__name__)

#: Channels whose sharp dips are residual cloud (normalised-difference indices).
_DIP_CHANNELS = ("NDVI", "EVI", "NDRE", "NDMI", "SAVI", "NDWI_INV")


def _infer_step(times: pd.DatetimeIndex) -> str:
    if len(times) < 2:
        return "5D"
    days = np.diff(np.sort(times.as_unit("s").asi8)) / 86_400.0
    med = float(np.median(days))
    return f"{max(round(med), 1)}D"


def season_days(times: Sequence[Any] | pd.DatetimeIndex) -> np.ndarray:
    """Days from 1 January of the season's year (the year of the middle date) to each date.

    The day-of-year grid the crop features live on: two seasons' series, or two cubes with
    different dates, give the same day numbers to the same time of year. Dates before that
    1 January (a winter crop sown the autumn before) are negative.

    Examples
    --------
    >>> import pandas as pd
    >>> season_days(pd.to_datetime(["2023-10-01", "2024-03-01", "2024-07-01"])).tolist()
    [-92.0, 60.0, 182.0]
    """
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times)))
    if len(t) == 0:
        return np.zeros(0)
    mid = t.min() + (t.max() - t.min()) / 2
    origin = pd.Timestamp(year=mid.year, month=1, day=1)
    return np.asarray((t - origin).days, dtype="float64")


def profile_width(
    series: Any, times: Sequence[Any] | pd.DatetimeIndex, *, low: int = 10, high: int = 30
) -> int:
    """Width (days) of the profile bins from the observation density of the series.

    Twice the median number of days per clear observation (over parcels), rounded to a
    multiple of 5 and kept within ``[low, high]``: dense series get narrow bins (detail is
    kept), sparse ones wide bins (each bin still holds an observation).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-03-01", periods=40, freq="5D")
    >>> profile_width(np.ones((3, 40)), t)
    10
    >>> gappy = np.where(np.arange(40) % 4 == 0, 1.0, np.nan)[None, :]
    >>> profile_width(gappy, t)
    30
    """
    arr = np.atleast_2d(np.asarray(series, dtype="float64"))
    return width_of_counts(np.isfinite(arr).sum(axis=1), times, low=low, high=high)


def width_of_counts(
    n_obs: Any, times: Sequence[Any] | pd.DatetimeIndex, *, low: int = 10, high: int = 30
) -> int:
    """:func:`profile_width` from each parcel's number of clear observations alone (the series'
    finite values): what a county step needs, without the county's series in one place.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.date_range("2024-03-01", periods=40, freq="5D")
    >>> width_of_counts([40, 40, 40], t), width_of_counts([10], t), width_of_counts([], t)
    (10, 30, 30)
    """
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times)))
    if len(t) < 2:
        return high
    span = float((t.max() - t.min()).days)
    n_obs = np.asarray(n_obs, dtype="float64").ravel()
    n_obs = n_obs[np.isfinite(n_obs) & (n_obs > 0)]
    if n_obs.size == 0:
        return high
    per_obs = span / max(float(np.median(n_obs)) - 1.0, 1.0)
    width = 5 * round(2.0 * per_obs / 5.0)
    return int(min(max(width, low), high))


def _as_channels(series: Any, channels: Sequence[str] | None) -> dict[str, np.ndarray]:
    if isinstance(series, xr.Dataset):
        names = list(channels or [str(v) for v in series.data_vars if "time" in series[v].dims])
        names = [n for n in names if n not in ("valid_fraction",)]
        return {
            n: np.asarray(series[n].transpose("parcel", "time").values, "float64") for n in names
        }
    if isinstance(series, Mapping):
        return {str(k): np.atleast_2d(np.asarray(v, "float64")) for k, v in series.items()}
    arr = np.asarray(series, dtype="float64")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim == 2:
        name = channels[0] if channels else "NDVI"
        return {name: arr}
    if arr.ndim == 3:
        names = list(channels) if channels else [f"c{i}" for i in range(arr.shape[1])]
        return {n: arr[:, i, :] for i, n in enumerate(names)}
    raise ValueError(f"series of shape {arr.shape}; give (parcel, time) or (parcel, channel, time)")


def _fill_edges(z: np.ndarray) -> np.ndarray:
    """Carry the first/last smoothed value outwards (feature use only, never for estimates)."""
    out = pd.DataFrame(z.T).ffill().bfill().to_numpy().T
    return np.asarray(out, dtype="float64")


def _dynamics(
    raw: np.ndarray, smooth: np.ndarray, grid: pd.DatetimeIndex, *, max_gap_days: float = 30.0
) -> dict[str, np.ndarray]:
    """Management features of a greenness index: cuts, green duration, bare share, winter cover.

    ``raw`` are the gridded observations (NaN = gap, not despiked: a cut is a real dip that
    does not recover within one look), ``smooth`` the smoothed curve on the same grid.
    """
    days = (grid - grid[0]).days.to_numpy().astype("float64")
    step = float(np.median(np.diff(days))) if days.size > 1 else 10.0
    n = raw.shape[0]
    seen = np.isfinite(raw)
    valid = seen.sum(axis=1)
    # each look paired with the parcel's previous look (gaps skipped): all parcels at once
    last = np.maximum.accumulate(np.where(seen, np.arange(raw.shape[1]), -1), axis=1)
    prev = np.concatenate([np.full((n, 1), -1), last[:, :-1]], axis=1)
    pair = seen & (prev >= 0)
    before = np.take_along_axis(raw, np.maximum(prev, 0), axis=1)
    with np.errstate(invalid="ignore"):
        dv = np.where(pair, raw - before, 0.0)
        close = pair & (days[None, :] - days[np.maximum(prev, 0)] <= max_gap_days)
        # a cut: a fall of 0.15 or more from a green canopy (>= 0.5) between close looks
        cuts = (close & (dv <= -0.15) & (before >= 0.5)).sum(axis=1)
    falls = -np.where(close & (dv < 0), dv, 0.0).sum(axis=1)
    two = valid >= 2
    n_drops = np.where(two, cuts, np.nan)
    drop_sum = np.where(two, falls, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        bare = np.where(valid > 0, (raw < 0.3).sum(axis=1) / np.maximum(valid, 1), np.nan)
    winter = np.isin(np.asarray(grid.month), (12, 1, 2))
    ok = np.isfinite(smooth)
    green = np.where(ok.any(axis=1), ((smooth >= 0.5) & ok).sum(axis=1) * step, np.nan)
    seen_winter = ok[:, winter].sum(axis=1)
    winter_sum = np.where(ok[:, winter], smooth[:, winter], 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # no winter look: NaN
        win = np.where(seen_winter > 0, winter_sum / np.maximum(seen_winter, 1), np.nan)
    return {
        "dyn_n_cuts": n_drops,
        "dyn_drop_sum": drop_sum,
        "dyn_green_days": green,
        "dyn_bare_share": bare,
        "dyn_winter_mean": win,
    }


def harmonic_coefficients(
    y: np.ndarray, times: pd.DatetimeIndex | Sequence[Any], *, order: int = 2
) -> np.ndarray:
    """Least-squares harmonic fit per row, on valid observations only.

    The model is ``a0 + sum_k (a_k cos(2 pi k t / 365.25) + b_k sin(...))`` with ``t`` the day of
    year. Rows with fewer than ``2 * order + 3`` valid values get NaN.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_rows, 1 + 2 * order)``: ``a0, a1, b1, a2, b2, ...``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-01-01", periods=36, freq="10D")
    >>> y = 0.5 + 0.2 * np.cos(2 * np.pi * np.asarray(t.day_of_year) / 365.25)
    >>> np.round(harmonic_coefficients(y[None, :], t, order=1), 3).tolist() == [[0.5, 0.2, 0.0]]
    True
    """
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times)))
    arr = np.atleast_2d(np.asarray(y, dtype="float64"))
    w = 2 * np.pi * np.asarray(t.day_of_year, dtype="float64") / 365.25
    cols = [np.ones_like(w)]
    for k in range(1, order + 1):
        cols += [np.cos(k * w), np.sin(k * w)]
    design = np.column_stack(cols)
    mask = np.isfinite(arr).astype("float64")
    y0 = np.where(mask > 0, arr, 0.0)
    gram = np.einsum("tk,nt,tl->nkl", design, mask, design)
    rhs = np.einsum("tk,nt->nk", design, y0)
    out = np.full((arr.shape[0], design.shape[1]), np.nan)
    ok = mask.sum(axis=1) >= design.shape[1] + 2
    ok &= np.abs(np.linalg.det(gram)) > 1e-9
    if ok.any():
        out[ok] = np.linalg.solve(gram[ok], rhs[ok][..., None])[..., 0]
    return out


def series_features(
    series: Any,
    times: Sequence[Any] | pd.DatetimeIndex,
    *,
    channels: Sequence[str] | None = None,
    index: Sequence[Any] | None = None,
    step: str | None = None,
    lam: float | None = None,
    profile_days: int = 30,
    harmonics: int = 2,
    phenology_channel: str | None = "NDVI",
    max_seasons: int = 2,
    origin: Literal["start", "season"] = "start",
) -> pd.DataFrame:
    """Per-parcel features of one or several series channels.

    Parameters
    ----------
    series
        ``(parcel, time)`` array (one channel, named ``channels[0]`` or ``"NDVI"``), ``(parcel,
        channel, time)`` array, a mapping ``name -> (parcel, time)`` array, or a parcel-series
        ``xarray.Dataset`` (its time-varying variables, e.g. ``NDVI_mean``). NaN = missing.
    times
        The dates of the time axis (irregular allowed).
    channels
        Names of the channels (and which variables to take from a Dataset).
    index
        Row labels (parcel ids); defaults to the Dataset's ``parcel`` coordinate or 0..n-1.
    step
        Grid step for :func:`~agrilend.remote_sensing.timeseries.regularize` (``"5D"``,
        ``"dekad"``...); inferred from the median date spacing when omitted.
    lam
        Whittaker smoothing strength; default 2.0 on a 5-day grid, scaled by ``(5 / step)**4``
        for other steps (the same smoothness in days: 0.125 on dekads).
    profile_days
        Width of the bins of the temporal profile (means of the smoothed curve).
    harmonics
        Order of the harmonic fit (0 to skip).
    phenology_channel
        The channel phenology is read from (``NDVI`` or ``NDVI_mean`` when present); ``None``
        to skip.
    max_seasons
        Seasons per year kept by phenology (2 for double cropping).
    origin
        What day counts are measured from: ``"start"``, the first date (profile bins
        ``p00, p01, ...``); ``"season"``, 1 January of the season's year (:func:`season_days`;
        profile bins named by their first day, ``d060``, ``dm30`` for day -30), so series of
        other dates or seasons give comparable features.

    Returns
    -------
    pandas.DataFrame
        One row per parcel, float columns named ``{channel}_{feature}``: ``p00..`` (profile
        bins), ``mean, std, min, p10, p50, p90, max, t_max, t_min, rise, fall, valid`` (``t_*``
        in days from the origin; ``valid`` the share of clear dates), ``h0..`` harmonic
        coefficients, ``phen_*`` phenology (dates as days from the series start) and, from the
        phenology channel, ``dyn_*`` management features: ``n_cuts`` (falls of 0.15 or more
        from a canopy >= 0.5 between looks at most 30 days apart: mowing or harvest),
        ``drop_sum`` (total fall), ``green_days`` (days >= 0.5), ``bare_share`` (share of looks
        < 0.3) and ``winter_mean`` (December-February mean).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-01-01", "2024-12-31", freq="10D")
    >>> doy = np.asarray(t.day_of_year, dtype=float)
    >>> y = 0.2 + 0.6 * np.exp(-(((doy - 180) / 30) ** 2))
    >>> f = series_features(np.vstack([y, y]), t, index=["a", "b"])
    >>> f.shape[0], bool(f.loc["a", "NDVI_max"] > 0.7), int(f.loc["a", "phen_n_seasons"])
    (2, True, 1)
    """
    chans = _as_channels(series, channels)
    if index is None and isinstance(series, xr.Dataset) and "parcel" in series.coords:
        index = list(series["parcel"].values)
    t = pd.DatetimeIndex(pd.to_datetime(np.asarray(times)))
    grid_step = step or _infer_step(t)
    blocks: dict[str, np.ndarray] = {}
    smoothed: dict[str, np.ndarray] = {}
    gridded: dict[str, np.ndarray] = {}
    grid: pd.DatetimeIndex | None = None
    for name, raw in chans.items():
        if raw.shape[-1] != len(t):
            raise ValueError(
                f"channel {name!r} has {raw.shape[-1]} dates, times has {len(t)}; give one date "
                "per column"
            )
        vals, grid = regularize(raw, t, step=grid_step)
        n_obs = np.isfinite(vals).sum(axis=1)
        gridded[name] = vals
        if name.split("_")[0].upper() in _DIP_CHANNELS:
            vals = despike(vals)
        if lam is None:
            gaps = np.diff(grid.as_unit("s").asi8) / 86_400.0
            step_days = float(np.median(gaps)) if gaps.size else 5.0
            lam_used = 2.0 * (5.0 / max(step_days, 1.0)) ** 4
        else:
            lam_used = lam
        z = whittaker(vals, lam=lam_used) if vals.shape[1] >= 3 else vals
        smoothed[name] = z
        z = _fill_edges(z)
        days = _day_numbers(grid, origin)
        bins = np.floor(days / profile_days).astype(int)
        # after edge filling a row is either all finite or all NaN: compute on the finite rows
        ok = np.isfinite(z).all(axis=1)
        zo = z[ok]
        n_rows = z.shape[0]

        def put(key: str, values: np.ndarray, ok: Any = ok, n_rows: int = n_rows) -> None:
            col = np.full(n_rows, np.nan)
            col[ok] = values
            blocks[key] = col

        for b in np.unique(bins):
            put(f"{name}_{_bin_name(int(b), profile_days, origin)}", zo[:, bins == b].mean(axis=1))
        d = np.diff(zo, axis=1) if zo.shape[1] > 1 else np.zeros((zo.shape[0], 1))
        q10, q50, q90 = np.percentile(zo, [10, 50, 90], axis=1) if zo.size else (zo[:, 0],) * 3
        put(f"{name}_mean", zo.mean(axis=1))
        put(f"{name}_std", zo.std(axis=1))
        put(f"{name}_min", zo.min(axis=1, initial=np.inf))
        put(f"{name}_p10q", q10)
        put(f"{name}_p50q", q50)
        put(f"{name}_p90q", q90)
        put(f"{name}_max", zo.max(axis=1, initial=-np.inf))
        put(f"{name}_t_max", days[np.argmax(zo, axis=1)] if zo.size else zo[:, 0])
        put(f"{name}_t_min", days[np.argmin(zo, axis=1)] if zo.size else zo[:, 0])
        put(f"{name}_rise", d.max(axis=1, initial=-np.inf))
        put(f"{name}_fall", d.min(axis=1, initial=np.inf))
        blocks[f"{name}_valid"] = n_obs / max(vals.shape[1], 1)
        if harmonics > 0:
            h = harmonic_coefficients(raw, t, order=harmonics)
            for k in range(h.shape[1]):
                blocks[f"{name}_h{k}"] = h[:, k]
    if phenology_channel is not None and grid is not None:
        pc = next(
            (n for n in (phenology_channel, f"{phenology_channel}_mean") if n in smoothed), None
        )
        if pc is not None:
            ph = phenology_table(smoothed[pc], grid, max_seasons=max_seasons, check_range=False)
            for col in ph.columns:
                v = ph[col]
                if v.dtype.kind == "M":
                    zero = grid[0] - pd.Timedelta(days=float(_day_numbers(grid, origin)[0]))
                    blocks[f"phen_{col}"] = (v - zero).dt.days.to_numpy(dtype="float64")
                else:
                    blocks[f"phen_{col}"] = v.to_numpy(dtype="float64")
            with warnings.catch_warnings():
                # rows without a winter look: nanmean of nothing is NaN, as meant
                warnings.simplefilter("ignore", RuntimeWarning)
                blocks.update(_dynamics(gridded[pc], smoothed[pc], grid))
    n = next(iter(chans.values())).shape[0]
    out = pd.DataFrame(blocks, index=pd.Index(index if index is not None else range(n)))
    out.index.name = "parcel_id"
    return out.astype("float64")


def _day_numbers(grid: pd.DatetimeIndex, origin: str) -> np.ndarray:
    if origin == "season":
        return season_days(grid)
    return np.asarray((grid - grid[0]).days, dtype="float64")


def _bin_name(b: int, width: int, origin: str) -> str:
    if origin == "season":
        first = b * width
        return f"d{first:03d}" if first >= 0 else f"dm{-first:03d}"
    return f"p{b:02d}"


#: The name the pipeline uses; the same function.
crop_features = series_features

__all__ = [
    "crop_features",
    "harmonic_coefficients",
    "profile_width",
    "season_days",
    "series_features",
    "width_of_counts",
]
