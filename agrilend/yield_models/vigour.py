"""Season metrics per parcel and peer-relative vigour.

A parcel's season is read from its own cleaned NDVI curve (start, peak, end, length, integral,
peak value) with the phenology of :mod:`agrilend.remote_sensing.phenology`. Vigour compares the
season's *size* (integral above the base and peak) with parcels of the same crop in the same
county and window, not its *timing*: the integral is taken between the parcel's own start and end
of season, so a field sown three weeks late with a healthy canopy scores like its peers. Timing
is reported separately (``sos_shift_days``). Where the imagery spans several years, the same
comparison against the parcel's own earlier seasons is :func:`history_vigour`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from agrilend.remote_sensing.phenology import phenology_table
from agrilend.remote_sensing.timeseries import clean_series

logger = logging.getLogger(__name__)

#: Class edges on the robust z-score of vigour: poor < -1.5 <= below_normal < -0.5 <= normal
#: < 0.75 <= good. A z of -1.5 is about the 7th percentile of peers.
VIGOUR_CLASS_EDGES: tuple[float, float, float] = (-1.5, -0.5, 0.75)
VIGOUR_CLASSES: tuple[str, ...] = ("poor", "below_normal", "normal", "good")

_METRICS = ("season_integral", "peak_ndvi")
_WEIGHTS = (0.6, 0.4)  # the integral carries biomass, the peak the canopy


def season_metrics(
    ndvi: Any,
    times: Sequence[Any] | pd.DatetimeIndex,
    *,
    index: Sequence[Any] | None = None,
    step: str = "5D",
    valid_fraction: Any = None,
    min_clear_fraction: float = 0.5,
) -> pd.DataFrame:
    """Season metrics of each parcel from its NDVI series.

    Parameters
    ----------
    ndvi
        ``(parcel, time)`` NDVI, NaN where no clear observation.
    times
        Dates of the time axis.
    index
        Parcel ids.
    step
        Grid step of the cleaning (``"5D"`` for Sentinel-2 revisits, ``"dekad"``).
    valid_fraction
        Optional ``(parcel, time)`` clear share of each parcel per date: a date counts as clear
        when it is at least ``min_clear_fraction``.
    min_clear_fraction
        See ``valid_fraction``.

    Returns
    -------
    pandas.DataFrame
        Per parcel: ``sos, pos, eos`` (dates), ``season_length_days``, ``season_integral``
        (NDVI-days above the season's base, between start and end), ``peak_ndvi``,
        ``amplitude``, ``n_seasons``, ``season2_integral``, ``season2_peak`` (the other season
        of a double crop, NaN otherwise), ``n_clear_obs``, ``cloud_fraction``. The main season
        is the one with the larger integral.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> t = pd.date_range("2024-01-01", "2024-12-31", freq="5D")
    >>> doy = np.asarray(t.day_of_year, dtype=float)
    >>> y = 0.2 + 0.6 * np.exp(-(((doy - 180) / 30) ** 2))
    >>> m = season_metrics(np.vstack([y]), t, index=["p1"])
    >>> m.loc["p1", "pos"].strftime("%m"), round(float(m.loc["p1", "peak_ndvi"]), 1)
    ('06', 0.8)
    """
    arr = np.atleast_2d(np.asarray(ndvi, dtype="float64"))
    n = arr.shape[0]
    idx = pd.Index(index if index is not None else range(n), name="parcel_id")
    clear = np.isfinite(arr)
    if valid_fraction is not None:
        vf = np.atleast_2d(np.asarray(valid_fraction, dtype="float64"))
        clear &= np.nan_to_num(vf) >= min_clear_fraction
        arr = np.where(clear, arr, np.nan)
    z, grid = clean_series(arr, times, step=step)
    ph = phenology_table(z, grid, max_seasons=2, index=idx)
    i1 = ph["s1_integral"].to_numpy()
    i2 = ph["s2_integral"].to_numpy()
    second_main = np.nan_to_num(i2, nan=-1.0) > np.nan_to_num(i1, nan=-1.0)
    out = pd.DataFrame(index=idx)
    for name, col in (
        ("sos", "sos"),
        ("pos", "pos"),
        ("eos", "eos"),
        ("season_length_days", "length_days"),
        ("season_integral", "integral"),
        ("peak_ndvi", "peak"),
        ("amplitude", "amplitude"),
    ):
        a, b = ph[f"s1_{col}"], ph[f"s2_{col}"]
        out[name] = b.where(second_main, a)
    out["n_seasons"] = ph["n_seasons"].astype("int64")
    out["season2_integral"] = ph["s1_integral"].where(second_main, ph["s2_integral"])
    out["season2_peak"] = ph["s1_peak"].where(second_main, ph["s2_peak"])
    out["n_clear_obs"] = clear.sum(axis=1).astype("int64")
    out["cloud_fraction"] = 1.0 - clear.mean(axis=1)
    return out


def _robust(x: pd.Series) -> tuple[float, float]:
    v = x.dropna().to_numpy(dtype="float64")
    if v.size == 0:
        return float("nan"), float("nan")
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med))) * 1.4826
    # a floor on the spread so that a handful of identical peers does not make every parcel
    # an outlier: 5 % of the median
    return med, max(mad, 0.05 * abs(med), 1e-6)


def peer_statistics(
    metrics: pd.DataFrame, *, crop_col: str = "crop", min_peers: int = 5
) -> pd.DataFrame:
    """Per-crop peer statistics of season metrics (kept in the county context).

    Parameters
    ----------
    metrics
        Output of :func:`season_metrics` with a crop column (predicted or declared crop).
    crop_col
        The crop column.
    min_peers
        Crops with fewer parcels are marked ``enough_peers = False``.

    Returns
    -------
    pandas.DataFrame
        Indexed by crop: ``n``, ``enough_peers``, and for ``season_integral``, ``peak_ndvi``,
        ``sos_doy`` and ``season_length_days`` the median (``*_median``) and robust spread
        (``*_scale``, 1.4826 x MAD with a floor of 5 % of the median).

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"crop": ["maize"] * 5, "season_integral": [40., 42, 44, 46, 48],
    ...                   "peak_ndvi": [.8] * 5, "sos": pd.to_datetime(["2024-05-01"] * 5),
    ...                   "season_length_days": [100.0] * 5})
    >>> float(peer_statistics(m).loc["maize", "season_integral_median"])
    44.0
    """
    m = metrics.copy()
    m["sos_doy"] = pd.to_datetime(m["sos"]).dt.day_of_year.astype("float64")
    rows = {}
    for crop, g in m.groupby(crop_col):
        rec: dict[str, Any] = {"n": len(g), "enough_peers": len(g) >= min_peers}
        for col in (*_METRICS, "sos_doy", "season_length_days"):
            med, scale = _robust(g[col])
            rec[f"{col}_median"] = med
            rec[f"{col}_scale"] = scale
        rows[crop] = rec
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "crop"
    return out


def _classify(z: np.ndarray) -> np.ndarray:
    e1, e2, e3 = VIGOUR_CLASS_EDGES
    cls = np.select([z < e1, z < e2, z < e3], list(VIGOUR_CLASSES[:3]), VIGOUR_CLASSES[3])
    return np.where(np.isfinite(z), cls, "unknown")


def vigour_scores(
    metrics: pd.DataFrame,
    *,
    peers: pd.DataFrame | None = None,
    crop_col: str = "crop",
    min_clear_obs: int = 8,
) -> pd.DataFrame:
    """Peer-relative vigour of each parcel: a score, a class and a data-quality note.

    Parameters
    ----------
    metrics
        :func:`season_metrics` output with a crop column.
    peers
        :func:`peer_statistics` of the county (computed from ``metrics`` when omitted: in a
        scan; pass the county's for a single household).
    crop_col
        The crop column.
    min_clear_obs
        Fewer clear observations make the score ``low_confidence``.

    Returns
    -------
    pandas.DataFrame
        ``vigour`` (ratio to the typical peer: ``(I / I_med) ** 0.6 * (P / P_med) ** 0.4`` with
        ``I`` the season integral and ``P`` the peak NDVI; 1.0 = typical), ``vigour_z`` (the
        same in robust z units), ``vigour_class`` (``poor``, ``below_normal``, ``normal``,
        ``good``, or ``unknown`` without a season or peers), ``sos_shift_days`` (start of season
        against peers; timing only, not part of the score), ``vigour_quality`` (``ok``,
        ``low_confidence`` or ``no_season``/``no_peers``).

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"crop": ["maize"] * 6,
    ...                   "season_integral": [40., 42, 44, 46, 48, 20],
    ...                   "peak_ndvi": [.8, .8, .8, .8, .8, .5],
    ...                   "sos": pd.to_datetime(["2024-05-01"] * 6),
    ...                   "season_length_days": [100.0] * 6, "n_clear_obs": [20] * 6})
    >>> vigour_scores(m)["vigour_class"].tolist()
    ['below_normal', 'normal', 'normal', 'normal', 'good', 'poor']
    """
    if peers is None:
        peers = peer_statistics(metrics, crop_col=crop_col)
    crops = metrics[crop_col].astype(str)
    p = peers.reindex(crops.to_numpy())
    log_ratio = np.zeros(len(metrics))
    zsum = np.zeros(len(metrics))
    for col, w in zip(_METRICS, _WEIGHTS, strict=True):
        x = metrics[col].to_numpy(dtype="float64")
        med = p[f"{col}_median"].to_numpy(dtype="float64")
        scale = p[f"{col}_scale"].to_numpy(dtype="float64")
        with np.errstate(all="ignore"):
            log_ratio += w * np.log(np.clip(x, 1e-6, None) / med)
            zsum += w * (x - med) / scale
    z = np.clip(zsum / np.sqrt(sum(w * w for w in _WEIGHTS)), -4.0, 4.0)
    no_season = ~np.isfinite(metrics["season_integral"].to_numpy(dtype="float64"))
    no_peers = ~p["enough_peers"].fillna(False).to_numpy(dtype=bool)
    z = np.where(no_season | no_peers, np.nan, z)
    sos_doy = pd.to_datetime(metrics["sos"]).dt.day_of_year.to_numpy(dtype="float64")
    n_obs = (
        metrics["n_clear_obs"].to_numpy(dtype="float64")
        if "n_clear_obs" in metrics
        else np.full(len(metrics), np.inf)
    )
    quality = np.select(
        [no_season, no_peers, n_obs < min_clear_obs],
        ["no_season", "no_peers", "low_confidence"],
        "ok",
    )
    return pd.DataFrame(
        {
            "vigour": np.where(np.isfinite(z), np.exp(log_ratio), np.nan),
            "vigour_z": z,
            "vigour_class": _classify(z),
            "sos_shift_days": sos_doy - p["sos_doy_median"].to_numpy(dtype="float64"),
            "vigour_quality": quality,
        },
        index=metrics.index,
    )


def history_vigour(
    current: pd.DataFrame, history: pd.DataFrame, *, parcel_col: str = "parcel_id"
) -> pd.DataFrame:
    """Vigour of each parcel's current season against its own earlier seasons.

    Parameters
    ----------
    current
        :func:`season_metrics` of the current season, indexed by parcel.
    history
        :func:`season_metrics` of earlier seasons (several rows per parcel), with a
        ``parcel_col`` column.

    Returns
    -------
    pandas.DataFrame
        ``history_vigour`` (ratio to the parcel's own median season, same formula as
        :func:`vigour_scores`) and ``history_seasons`` (how many earlier seasons it rests on;
        NaN ratio with none).

    Examples
    --------
    >>> import pandas as pd
    >>> cur = pd.DataFrame({"season_integral": [30.0], "peak_ndvi": [0.8]}, index=["p"])
    >>> hist = pd.DataFrame({"parcel_id": ["p", "p"], "season_integral": [60.0, 60.0],
    ...                      "peak_ndvi": [0.8, 0.8]})
    >>> round(float(history_vigour(cur, hist).loc["p", "history_vigour"]), 2)
    0.66
    """
    med = history.groupby(parcel_col)[list(_METRICS)].median()
    cnt = history.groupby(parcel_col)[_METRICS[0]].count()
    m = med.reindex(current.index)
    log_ratio = np.zeros(len(current))
    for col, w in zip(_METRICS, _WEIGHTS, strict=True):
        with np.errstate(all="ignore"):
            log_ratio += w * np.log(
                np.clip(current[col].to_numpy(dtype="float64"), 1e-6, None)
                / m[col].to_numpy(dtype="float64")
            )
    return pd.DataFrame(
        {
            "history_vigour": np.exp(log_ratio),
            "history_seasons": cnt.reindex(current.index).fillna(0).astype("int64").to_numpy(),
        },
        index=current.index,
    )


__all__ = [
    "VIGOUR_CLASSES",
    "VIGOUR_CLASS_EDGES",
    "history_vigour",
    "peer_statistics",
    "season_metrics",
    "vigour_scores",
]
