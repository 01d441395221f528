"""Weather readers: station files and gridded AgERA5 into one daily table.

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

from agrilend._limits import check_zip
from agrilend._paths import local_path
from agrilend.errors import TableReadError

logger = logging.getLogger(__name__)

_COLUMNS = ("tmin_c", "tmax_c", "prcp_mm")
WeatherFormat = Literal["csv", "station", "pcse"]


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


__all__ = ["WeatherFormat", "read_gridded_weather", "read_weather"]
