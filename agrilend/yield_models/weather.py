"""Weather readers and agro-climatic indices.

One daily table shape is used everywhere: a :class:`pandas.DataFrame` indexed by a daily
``DatetimeIndex`` named ``date`` with float columns ``tmin_c``, ``tmax_c``, ``prcp_mm`` (and
``et0_mm`` when the source has it). :func:`read_weather` turns the station formats agrilend meets
into that shape; :func:`read_gridded_weather` reads the AgERA5 variables of an openEO cube into a
monthly table. Indices per season (:func:`season_weather`) and a climate risk for the credit layer
(:func:`climate_risk`, with a standardised precipitation index from the station's own history)
are computed from the daily table.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from agrilend._limits import check_zip
from agrilend._paths import local_path
from agrilend.errors import InsufficientEvidenceError, TableReadError

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

_COLUMNS = ("tmin_c", "tmax_c", "prcp_mm")
WeatherFormat = Literal["csv", "station", "pcse"]


def base_temperature(crop: str, *, default: float = 5.0) -> float:
    """Base temperature of growing degree days for a canonical crop name.

    Examples
    --------
    >>> base_temperature("maize"), base_temperature("winter_wheat"), base_temperature("unknown")
    (10.0, 0.0, 5.0)
    """
    return BASE_TEMPERATURE_C.get(crop, default)


# --- readers ------------------------------------------------------------------------------------


def _sniff(path: Path) -> WeatherFormat:
    if path.suffix.lower() in {".xlsx", ".xls"}:
        return "pcse"
    with path.open("r", encoding="utf-8-sig", errors="replace") as fh:
        head = fh.readline()
    if "," in head and "date" in head.lower():
        return "csv"
    return "station"


#: Bounds of plausible daily values; beyond them a value is a typo or a missing-value marker.
_PLAUSIBLE = {
    "tmin_c": (-90.0, 60.0),
    "tmax_c": (-90.0, 65.0),
    "prcp_mm": (0.0, 2000.0),
    "et0_mm": (0.0, 30.0),
}


def _numbers(col: pd.Series, name: str, path: Path) -> pd.Series:
    """A weather column as floats; text, infinities and implausible values are errors."""
    values = pd.to_numeric(col, errors="coerce").astype("float64")
    given = col.notna() & (col.astype(str).str.strip() != "")
    not_number = given & values.isna()
    lo, hi = _PLAUSIBLE[name]
    with np.errstate(invalid="ignore"):
        absurd = values.notna() & ~values.between(lo, hi)
    if not_number.any():
        at = int(np.flatnonzero(not_number.to_numpy())[0])
        raise TableReadError(
            f"weather file {str(path)!r}: {name} on {col.index[at]} is {col.iloc[at]!r}, not a "
            "number; use a dot for decimals and leave missing values empty",
            path=path,
        )
    if absurd.any():
        at = int(np.flatnonzero(absurd.to_numpy())[0])
        raise TableReadError(
            f"weather file {str(path)!r}: {name} on {col.index[at]} is {values.iloc[at]:g}, "
            f"outside the plausible {lo:g}..{hi:g}; fix the value (leave missing values empty "
            "rather than writing -99 or 9999)",
            path=path,
        )
    return values


def _parse_dates(dates: pd.Series) -> pd.DatetimeIndex:
    """ISO dates (2024-05-01, with or without a time), 2024/05/01 or 20240501; else ValueError."""
    if pd.api.types.is_numeric_dtype(dates):  # 20240501 must not be read as nanoseconds
        num = pd.to_numeric(dates, errors="coerce")
        ok = num.between(1e7, 1e8 - 1) & (num % 1 == 0)
        if not ok.all():
            raise ValueError(f"date {dates[~ok].iloc[0]!r} is not a date like 2024-05-01")
        return pd.DatetimeIndex(pd.to_datetime(num.astype("int64").astype(str), format="%Y%m%d"))
    text = dates.astype(str).str.strip()
    for fmt in ("ISO8601", "%Y/%m/%d"):
        try:
            return pd.DatetimeIndex(pd.to_datetime(text, format=fmt))
        except (ValueError, TypeError):
            continue
    raise ValueError(
        "dates are not all written like 2024-05-01 (or 2024/05/01, 20240501); "
        f"first values: {list(text.iloc[:3])}"
    )


def _finish(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise TableReadError(
            f"weather file {str(path)!r} lacks columns {missing}; give daily minimum and maximum "
            "temperature and precipitation",
            path=path,
        )
    if len(df) == 0:
        raise TableReadError(
            f"weather file {str(path)!r} holds no day; give one row per day", path=path
        )
    if df.index.hasnans:
        raise TableReadError(
            f"weather file {str(path)!r}: row {int(np.flatnonzero(df.index.isna())[0]) + 2} has "
            "an empty or unreadable date; write dates like 2024-05-01",
            path=path,
        )
    df = df.sort_index()
    if df.index.has_duplicates:
        raise TableReadError(
            f"weather file {str(path)!r} has repeated dates (first: "
            f"{df.index[df.index.duplicated()][0].date()}); keep one row per day",
            path=path,
        )
    df.index.name = "date"
    cols = [c for c in (*_COLUMNS, "et0_mm") if c in df.columns]
    out = pd.DataFrame({c: _numbers(df[c], c, path) for c in cols}, index=df.index)
    # Reversed min/max is a data-entry error, not weather: drop those temperatures.
    bad = out["tmin_c"] > out["tmax_c"]
    if bad.any():
        logger.warning("%s: %d days with tmin > tmax set to missing", path.name, int(bad.sum()))
        out.loc[bad, ["tmin_c", "tmax_c"]] = np.nan
    return out


def read_weather(path: str | Path, *, fmt: WeatherFormat | None = None) -> pd.DataFrame:
    """Read a daily weather file into the agrilend weather table.

    Parameters
    ----------
    path
        A CSV with ``date,tmin_c,tmax_c,prcp_mm`` (the sample county), a whitespace-separated
        station file with ``Day Month Year Tmin Tmax Prcp [Et0]`` columns (AquaCrop style), or a
        PCSE/WOFOST Excel weather sheet (``DAY IRRAD TMIN TMAX VAP WIND RAIN``).
    fmt
        ``"csv"``, ``"station"`` or ``"pcse"``; guessed from the file when omitted.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``date`` (daily), float columns ``tmin_c``, ``tmax_c``, ``prcp_mm`` and
        ``et0_mm`` when present. Missing values are NaN.

    Raises
    ------
    TableReadError
        When the file cannot be parsed or lacks the needed columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "w.csv"
    >>> _ = p.write_text("date,tmin_c,tmax_c,prcp_mm\\n2024-01-01,1,8,0.5\\n")
    >>> w = read_weather(p)
    >>> list(w.columns), w.index.name, w.iloc[0].tolist()
    (['tmin_c', 'tmax_c', 'prcp_mm'], 'date', [1.0, 8.0, 0.5])
    """
    p = local_path(path, what="weather")
    if not p.is_file():
        raise TableReadError(f"weather path {str(p)!r} is not a file; give a file", path=p)
    kind = fmt or _sniff(p)
    try:
        if kind == "csv":
            df = pd.read_csv(p, encoding="utf-8-sig")
            df.columns = [str(c).strip().lower() for c in df.columns]
            df = df.set_index(_parse_dates(df.pop("date")))
        elif kind == "station":
            raw = pd.read_csv(p, sep=r"\s+", encoding="utf-8-sig")
            if raw.shape[1] < 6:
                raise ValueError("expected at least 6 columns")
            cols = ["day", "month", "year", "tmin_c", "tmax_c", "prcp_mm", "et0_mm"]
            raw = raw.iloc[:, : min(7, raw.shape[1])]
            raw.columns = cols[: raw.shape[1]]
            idx = pd.to_datetime(raw[["year", "month", "day"]])
            df = raw.drop(columns=["day", "month", "year"]).set_index(idx)
        else:
            df = _read_pcse(p)
    except TableReadError:
        raise
    except (ValueError, KeyError, OSError, TypeError, zipfile.BadZipFile) as exc:
        raise TableReadError(
            f"cannot read weather file {str(p)!r} as {kind!r}: {exc}; pass fmt= to say which "
            "format it is (csv, station, pcse)",
            path=p,
        ) from exc
    return _finish(df, p)


def _read_pcse(path: Path) -> pd.DataFrame:
    if zipfile.is_zipfile(path):  # .xlsx is a zip: its members are sized before openpyxl inflates
        with zipfile.ZipFile(path) as zf:
            check_zip(zf, f"weather file {str(path)!r}", path=path)
    raw = pd.read_excel(path, header=None)
    rows = np.flatnonzero(raw.iloc[:, 0].astype(str).str.strip().str.upper() == "DAY")
    if not len(rows):
        raise TableReadError(
            f"weather sheet {str(path)!r} has no header row starting with DAY (a PCSE sheet has "
            "DAY IRRAD TMIN TMAX VAP WIND RAIN); add it, or save the table as CSV with "
            "date,tmin_c,tmax_c,prcp_mm",
            path=path,
        )
    header_row = int(rows[0])
    names = [str(v).strip().upper() for v in raw.iloc[header_row]]
    body = raw.iloc[header_row + 2 :].copy()
    body.columns = names
    body = body.replace(-999, np.nan)
    idx = pd.to_datetime(body["DAY"])
    return pd.DataFrame(
        {
            "tmin_c": pd.to_numeric(body["TMIN"], errors="coerce").to_numpy(),
            "tmax_c": pd.to_numeric(body["TMAX"], errors="coerce").to_numpy(),
            "prcp_mm": pd.to_numeric(body["RAIN"], errors="coerce").to_numpy(),
        },
        index=pd.DatetimeIndex(idx),
    )


def read_gridded_weather(
    source: str | Path | Any,
    *,
    tmean_var: str = "AGERA5-TMEAN",
    precip_var: str = "AGERA5-PRECIP",
    scale: float = 0.01,
    nodata: float = 65535,
) -> pd.DataFrame:
    """Read AgERA5 temperature and precipitation from a gridded cube, averaged over the grid.

    The openEO/WorldCereal cubes store AgERA5 as uint16: mean temperature in kelvin x 100 and
    the period's precipitation in mm x 100, with 65535 as no data.

    Parameters
    ----------
    source
        Path of a NetCDF file or an open ``xarray.Dataset`` with a time dimension (``time`` or
        ``t``) and the two variables.
    tmean_var, precip_var
        Variable names.
    scale
        Multiplier that turns stored values into kelvin and mm.
    nodata
        Stored no-data value.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``date`` (the cube's time stamps), columns ``tmean_c`` and ``prcp_mm``
        (grid mean per time step).

    Examples
    --------
    >>> import numpy as np, xarray as xr, pandas as pd
    >>> t = pd.date_range("2021-01-01", periods=2, freq="MS")
    >>> ds = xr.Dataset({"AGERA5-TMEAN": (("t", "y", "x"), np.full((2, 1, 1), 28315, "uint16")),
    ...                  "AGERA5-PRECIP": (("t", "y", "x"), np.full((2, 1, 1), 5000, "uint16"))},
    ...                 coords={"t": t})
    >>> read_gridded_weather(ds).round(2).to_dict("list")
    {'tmean_c': [10.0, 10.0], 'prcp_mm': [50.0, 50.0]}
    """
    import xarray as xr  # noqa: PLC0415  -- only this reader needs xarray

    if isinstance(source, xr.Dataset):
        ds = source
        name = "dataset"
    else:
        p = local_path(source, what="gridded weather")
        ds = xr.open_dataset(p, mask_and_scale=False)
        name = str(p)
    missing = [v for v in (tmean_var, precip_var) if v not in ds.data_vars]
    if missing:
        raise TableReadError(
            f"gridded weather {name!r} lacks variables {missing}; name them with tmean_var= and "
            "precip_var=",
            path=None if name == "dataset" else name,
        )
    tdim = "time" if "time" in ds.dims else "t"
    out = {}
    for col, var in (("tmean_c", tmean_var), ("prcp_mm", precip_var)):
        arr = ds[var].astype("float64")
        arr = arr.where(arr != nodata) * scale
        other = [d for d in arr.dims if d != tdim]
        out[col] = arr.mean(dim=other, skipna=True).to_numpy()
    df = pd.DataFrame(out, index=pd.DatetimeIndex(ds[tdim].to_numpy(), name="date"))
    df["tmean_c"] -= 273.15
    return df


# --- normals and season indices ----------------------------------------------------------------


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


# --- SPI and climate risk -----------------------------------------------------------------------


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


__all__ = [
    "BASE_TEMPERATURE_C",
    "base_temperature",
    "climate_risk",
    "read_gridded_weather",
    "read_weather",
    "season_weather",
    "standardized_precipitation_index",
    "weather_normals",
]
