"""Subsidy payment records: read them, match them to titles, and sum them per household.

Subsidies are both income (they help repay) and evidence: a household paid for far more area than
is seen cultivated is a flag for a person to look at. Raw owner identifiers never leave
:func:`read_subsidies`: they are replaced at once by the same keyed pseudonyms the titles carry
(:func:`agrilend.parcels.pseudonym.pseudonymize`), so records and titles match on pseudonyms.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from agrilend._paths import local_path
from agrilend.credit._records import match_records, read_raw
from agrilend.errors import TableReadError
from agrilend.parcels.pseudonym import pseudonymize
from agrilend.vocabulary import HA_PER_MU

log = logging.getLogger(__name__)

#: Columns of the table :func:`read_subsidies` returns.
SUBSIDY_COLUMNS = ("scheme", "year", "owner_ref", "parcel_id", "area_ha", "amount", "currency")

# Column aliases recognised without a mapping: field -> [(source column, unit or currency)].
_ALIASES: dict[str, list[tuple[str, str | None]]] = {
    "scheme": [("scheme", None), ("补贴项目", None), ("补贴类型", None), ("项目名称", None)],
    "year": [
        ("year", None),
        ("年度", None),
        ("年份", None),
        ("payment_date", None),
        ("date", None),
        ("发放日期", None),
    ],
    "owner": [
        ("owner_id", None),
        ("owner_ref", None),
        ("owner", None),
        ("CBFBM", None),
        ("承包方编码", None),
    ],
    "parcel_id": [("parcel_id", None), ("DKBM", None), ("地块编码", None)],
    "area": [
        ("area_ha", "ha"),
        ("area_mu", "mu"),
        ("补贴面积", "mu"),
        ("补贴面积(亩)", "mu"),
        ("补贴面积（亩）", "mu"),
    ],
    "amount": [
        ("amount_cny", "CNY"),
        ("amount", None),
        ("补贴金额", "CNY"),
        ("补贴金额(元)", "CNY"),
        ("补贴金额（元）", "CNY"),
        ("金额", "CNY"),
    ],
}
_PSEUDONYM = re.compile(r"^H-[0-9a-f]{12}$")
_YEAR = re.compile(r"(?<!\d)(19\d{2}|20\d{2}|2100)(?!\d)")
_SCIENTIFIC = re.compile(r"^\d(\.\d+)?[eE]\+?\d+$")
_NUMBER_JUNK = re.compile(r"[,\s元¥]|CNY|RMB", re.IGNORECASE)


@dataclass(frozen=True)
class SubsidyMatch:
    """Subsidy records matched to titles.

    Attributes
    ----------
    matched
        Records that found a title, with ``owner_ref`` taken from the title when matched by
        parcel, ``matched_by`` (``"parcel_id"`` or ``"owner_ref"``) and ``owner_conflict`` (the
        record's owner differs from the title holder of its parcel).
    unmatched
        Records that found none, with ``reason``.
    """

    matched: pd.DataFrame
    unmatched: pd.DataFrame = field(default_factory=pd.DataFrame)

    def by_household(self, *, as_of_year: int | None = None) -> pd.DataFrame:
        """Per household: the latest year's subsidy income and subsidised area.

        See :func:`household_subsidies`.
        """
        return household_subsidies(self.matched, as_of_year=as_of_year)


def read_subsidies(
    path: str | Path,
    *,
    encoding: str | None = None,
    key: str | bytes | None = None,
    mapping: Mapping[str, str] | None = None,
    currency: str = "CNY",
    errors: Literal["raise", "drop"] = "raise",
    max_amount_per_ha: float | None = 30_000.0,
    max_area_ha: float = 1_000.0,
) -> pd.DataFrame:
    """Read subsidy payment records (CSV in UTF-8 or GBK, Excel, Parquet).

    Parameters
    ----------
    path
        A ``.csv``/``.txt``, ``.xlsx`` or ``.parquet`` file.
    encoding
        Text encoding of a CSV; by default UTF-8 (with or without BOM) is tried, then GB18030
        (a superset of GBK and GB2312).
    key
        Key of the owner pseudonyms (default: the settings' key, as for titles).
    mapping
        Source column for each field, when the names are not recognised: keys ``scheme``,
        ``year`` (a year or a date in any common format), ``owner``, ``parcel_id``, ``area``,
        ``amount``; and ``area_unit`` (``"ha"`` or ``"mu"``) when ``area`` is mapped.
        Recognised without a mapping: ``scheme, year, owner_id, parcel_id, area_mu | area_ha,
        amount_cny | amount`` and the registry names (``CBFBM``, ``DKBM``, 补贴项目, 年度,
        补贴面积, 补贴金额...).
    currency
        Currency of the amounts (overridden by a ``currency`` column).
    errors
        ``"raise"`` on the first bad record, or ``"drop"`` bad records (row numbers and reasons
        go to ``df.attrs["rejected"]`` and a log line).
    max_amount_per_ha, max_area_ha
        Bounds beyond which an amount (per subsidised hectare) or area is absurd.

    Returns
    -------
    pandas.DataFrame
        Columns ``scheme, year, owner_ref, parcel_id, area_ha, amount, currency``; ``owner_ref``
        is a pseudonym (``""`` when absent), ``parcel_id`` a string (``""`` when absent).

    Raises
    ------
    TableReadError
        Unreadable file or encoding, missing columns, or (with ``errors="raise"``) a bad record:
        an unparseable year, a negative or absurd amount or area, no parcel nor owner.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.csv"
    >>> _ = p.write_bytes("scheme,year,owner_id,parcel_id,area_mu,amount_cny\\n"
    ...                   "耕地地力保护补贴,2024,130100,P1,15,1500\\n".encode("gbk"))
    >>> df = read_subsidies(p, key="k")
    >>> print(df.loc[0, "scheme"], df.loc[0, "year"], df.loc[0, "area_ha"], df.loc[0, "amount"])
    耕地地力保护补贴 2024 1.0 1500.0
    >>> df.loc[0, "owner_ref"].startswith("H-")
    True
    """
    p = local_path(path, what="subsidies")
    raw = read_raw(p, "subsidy", encoding)
    cols = _resolve_columns(raw, mapping, p)
    rejected: list[tuple[int, str]] = []

    def bad(row: int, msg: str) -> None:
        if errors == "raise":
            raise TableReadError(
                f"subsidy file {p.name!r}, record {row + 1}: {msg}; fix the record or read with "
                "errors='drop'",
                path=p,
            )
        rejected.append((row + 1, msg))

    n = len(raw)
    scheme = _column_text(raw, cols["scheme"][0])
    years = np.full(n, -1, dtype=int)
    for i, v in enumerate(_column_text(raw, cols["year"][0])):
        m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", v) or _YEAR.search(v)
        if m is None:
            bad(i, f"year/date {v!r} has no four-digit year; write it like 2024 or 2024-03-15")
        else:
            years[i] = int(m.group(1))
    amount_unit = cols["amount"][1]
    amounts = _column_number(raw, cols["amount"][0])
    amount_text = _column_text(raw, cols["amount"][0])
    cur = (
        _column_text(raw, "currency")
        if "currency" in raw.columns
        else np.full(n, amount_unit if amount_unit in {"CNY"} else currency, dtype=object)
    )
    if cols["area"][0] is not None:
        unit = cols["area"][1] or "ha"
        area = _column_number(raw, cols["area"][0]) * (HA_PER_MU if unit == "mu" else 1.0)
    else:
        area = np.full(n, np.nan)
    owner_raw = _column_text(raw, cols["owner"][0]) if cols["owner"][0] else np.full(n, "", object)
    parcel = (
        _column_text(raw, cols["parcel_id"][0]) if cols["parcel_id"][0] else np.full(n, "", object)
    )
    for i in range(n):
        if years[i] < 0:
            continue
        if not np.isfinite(amounts[i]):
            bad(i, f"amount {amount_text[i]!r} is not a number")
        elif amounts[i] < 0:
            bad(i, f"amount {amounts[i]:,.2f} is negative")
        elif np.isfinite(area[i]) and area[i] < 0:
            bad(i, f"subsidised area {area[i]:.4f} ha is negative")
        elif np.isfinite(area[i]) and area[i] > max_area_ha:
            bad(i, f"subsidised area {area[i]:,.1f} ha is absurd (above {max_area_ha:,.0f} ha)")
        elif (
            max_amount_per_ha is not None
            and np.isfinite(area[i])
            and amounts[i] > max_amount_per_ha * max(area[i], 0.01)
        ):
            bad(
                i,
                f"amount {amounts[i]:,.2f} for {area[i]:.2f} ha is absurd (above "
                f"{max_amount_per_ha:,.0f} per ha)",
            )
        elif not owner_raw[i] and not parcel[i]:
            bad(i, "neither a parcel id nor an owner id is given")
        elif _SCIENTIFIC.match(owner_raw[i]) or _SCIENTIFIC.match(parcel[i]):
            bad(
                i,
                "a parcel or owner code is written as a rounded number (like 1.3E+17); its "
                "last digits are lost: store the code column as text",
            )
        elif not scheme[i]:
            bad(i, "the scheme is empty")
    rejected.sort()
    keep = np.ones(n, dtype=bool)
    for row, _ in rejected:
        keep[row - 1] = False
    # pseudonymise at once; raw owner ids go no further than this line
    is_ref = np.array([bool(_PSEUDONYM.match(o)) for o in owner_raw], dtype=bool)
    refs = np.where(is_ref, owner_raw, pseudonymize(owner_raw, key=key) if n else owner_raw)
    out = pd.DataFrame(
        {
            "scheme": pd.array(scheme[keep], dtype="str"),
            "year": years[keep].astype("int64"),
            "owner_ref": pd.array(refs[keep].astype(str), dtype="str"),
            "parcel_id": pd.array(parcel[keep].astype(str), dtype="str"),
            "area_ha": area[keep],
            "amount": amounts[keep],
            "currency": pd.array(cur[keep].astype(str), dtype="str"),
        }
    )
    if rejected:
        log.warning(
            "subsidy file %s: %d record(s) dropped (%s)",
            p.name,
            len(rejected),
            "; ".join(f"record {r}: {m}" for r, m in rejected[:5]),
        )
    out.attrs["rejected"] = pd.DataFrame(rejected, columns=["record", "reason"])
    out.attrs["source"] = p.name
    return out


def normalise_subsidies(
    subsidies: pd.DataFrame, *, key: str | bytes | None = None, currency: str = "CNY"
) -> pd.DataFrame:
    """Subsidy records in the one layout every consumer reads: :data:`SUBSIDY_COLUMNS`.

    Accepts what :func:`read_subsidies` returns (unchanged but for types), the raw file layout
    (``owner_id``, ``area_mu``, ``amount_cny``: raw owner ids are pseudonymised at once, as in
    the reader) and the minimal layout that :func:`agrilend.credit.size_households` documents
    (``owner_ref, year, amount`` with optional ``area_ha, currency, scheme, parcel_id``). Missing
    optional columns are filled: ``scheme`` and ``parcel_id`` with ``""``, ``area_ha`` with NaN,
    ``currency`` with ``currency``. Other columns (``matched_by``, ``owner_conflict``) are kept
    after the standard ones. A new frame is returned; the input is not changed.

    Raises
    ------
    TableReadError
        Neither ``owner_ref``/``owner_id`` nor ``parcel_id``, or no ``year`` or ``amount``.

    Examples
    --------
    >>> s = pd.DataFrame({"owner_ref": ["H-000000000001"], "year": [2024], "amount": [100.0]})
    >>> out = normalise_subsidies(s)
    >>> list(out.columns) == list(SUBSIDY_COLUMNS), out.loc[0, "scheme"], out.loc[0, "currency"]
    (True, '', 'CNY')
    """
    df = subsidies
    cols = set(df.columns)
    amount_col = "amount" if "amount" in cols else ("amount_cny" if "amount_cny" in cols else None)
    missing = [c for c, ok in (("year", "year" in cols), ("amount", amount_col)) if not ok]
    if not ({"owner_ref", "owner_id", "parcel_id"} & cols):
        missing.append("owner_ref or parcel_id")
    if missing:
        raise TableReadError(
            f"subsidy records lack the columns {missing} (they have {sorted(map(str, cols))}); "
            "read them with read_subsidies or give owner_ref, year and amount"
        )
    n = len(df)

    def text(col: str) -> np.ndarray:
        if col not in cols:
            return np.full(n, "", dtype=object)
        return df[col].astype(object).where(df[col].notna(), "").astype(str).to_numpy(object)

    owner = text("owner_ref")
    if "owner_id" in cols:
        raw = text("owner_id")
        is_ref = np.array([bool(_PSEUDONYM.match(o)) for o in raw], dtype=bool)
        given = raw != ""
        refs = np.where(is_ref | ~given, raw, pseudonymize(raw, key=key) if n else raw)
        owner = np.where(owner == "", refs, owner)
    if "area_ha" in cols:
        area = pd.to_numeric(df["area_ha"], errors="coerce").to_numpy(dtype=float)
    elif "area_mu" in cols:
        area = pd.to_numeric(df["area_mu"], errors="coerce").to_numpy(dtype=float) * HA_PER_MU
    else:
        area = np.full(n, np.nan)
    cur = text("currency") if "currency" in cols else np.full(n, currency, dtype=object)
    years = pd.to_numeric(df["year"], errors="coerce")
    if years.isna().any():
        raise TableReadError("subsidy records have a missing or non-numeric year; fix the year")
    out = pd.DataFrame(
        {
            "scheme": pd.array(text("scheme").astype(str), dtype="str"),
            "year": years.to_numpy().astype("int64"),
            "owner_ref": pd.array(owner.astype(str), dtype="str"),
            "parcel_id": pd.array(text("parcel_id").astype(str), dtype="str"),
            "area_ha": area,
            "amount": pd.to_numeric(df[amount_col], errors="coerce").to_numpy(dtype=float),
            "currency": pd.array(np.where(cur == "", currency, cur).astype(str), dtype="str"),
        },
        index=pd.RangeIndex(n),
    )
    skip = {*SUBSIDY_COLUMNS, "owner_id", "area_mu", "amount_cny"}
    for c in df.columns:
        if c not in skip:
            out[c] = df[c].to_numpy()
    out.attrs = dict(subsidies.attrs)
    return out


def match_subsidies(subsidies: pd.DataFrame, titles: pd.DataFrame) -> SubsidyMatch:
    """Match subsidy records to titles, by parcel id first, then by owner pseudonym.

    Parameters
    ----------
    subsidies
        Output of :func:`read_subsidies`.
    titles
        Titles (or parcel estimates) with ``parcel_id`` and ``owner_ref``.

    Returns
    -------
    SubsidyMatch
        ``matched`` and ``unmatched`` (with a ``reason``) records.

    Examples
    --------
    >>> subs = pd.DataFrame({"scheme": ["a", "a", "a"], "year": [2024] * 3,
    ...     "owner_ref": ["", "H-000000000002", "H-00000000000f"], "parcel_id": ["P1", "", "P9"],
    ...     "area_ha": [1.0, 0.5, 0.2], "amount": [100.0, 50.0, 20.0], "currency": ["CNY"] * 3})
    >>> titles = pd.DataFrame({"parcel_id": ["P1", "P2"],
    ...                        "owner_ref": ["H-000000000001", "H-000000000002"]})
    >>> m = match_subsidies(subs, titles)
    >>> m.matched["matched_by"].tolist(), m.unmatched["reason"].tolist()
    (['parcel_id', 'owner_ref'], ["parcel id 'P9' and its owner are not in the titles"])
    """
    for col in ("parcel_id", "owner_ref"):
        if col not in titles.columns:
            raise TableReadError(f"titles lack the column {col!r}; pass titles from read_titles")
    subsidies = normalise_subsidies(subsidies)
    matched, unmatched = match_records(subsidies, titles)
    if len(unmatched):
        log.info("%d of %d subsidy records match no title", len(unmatched), len(subsidies))
    return SubsidyMatch(matched=matched, unmatched=unmatched)


def household_subsidies(
    subsidies: SubsidyMatch | pd.DataFrame,
    *,
    as_of_year: int | None = None,
    currency: str | None = None,
) -> pd.DataFrame:
    """Per household, the latest year's subsidy income and subsidised area.

    The year used is the household's latest year not after ``as_of_year``. Subsidised area is the
    largest area any one scheme paid for that year (schemes often pay for the same land twice).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``owner_ref``: ``subsidy_income``, ``subsidised_area_ha``, ``subsidy_year``,
        ``n_records``.

    Raises
    ------
    TableReadError
        A record's currency differs from ``currency``.

    Examples
    --------
    >>> s = pd.DataFrame({"owner_ref": ["H-1", "H-1", "H-1"], "year": [2023, 2024, 2024],
    ...     "scheme": ["a", "a", "b"], "area_ha": [1.0, 1.0, 0.8], "amount": [90.0, 100.0, 40.0]})
    >>> [float(v) for v in household_subsidies(s).loc["H-1"]]
    [140.0, 1.0, 2024.0, 2.0]
    """
    df = subsidies.matched if isinstance(subsidies, SubsidyMatch) else subsidies
    cols = ["subsidy_income", "subsidised_area_ha", "subsidy_year", "n_records"]
    empty = pd.DataFrame(columns=cols, index=pd.Index([], name="owner_ref"), dtype=float)
    if df.empty:
        return empty
    df = normalise_subsidies(df, currency=currency or "CNY")
    if currency is not None and "currency" in df.columns:
        other = sorted(set(df["currency"].astype(str)) - {currency})
        if other:
            raise TableReadError(
                f"subsidy amounts are in {other} but the policy currency is {currency!r}; "
                "convert the amounts first"
            )
    d = df[df["owner_ref"].astype(str) != ""]
    if as_of_year is not None:
        d = d[d["year"] <= as_of_year]
    if d.empty:
        return empty
    d = d.assign(area_ha=d.get("area_ha", np.nan))
    latest = d.groupby("owner_ref")["year"].transform("max")
    d = d[d["year"] == latest]
    per_scheme = d.groupby(["owner_ref", "scheme"])["area_ha"].sum(min_count=1)
    out = pd.DataFrame(
        {
            "subsidy_income": d.groupby("owner_ref")["amount"].sum(),
            "subsidised_area_ha": per_scheme.groupby(level="owner_ref").max(),
            "subsidy_year": d.groupby("owner_ref")["year"].max().astype(float),
            "n_records": d.groupby("owner_ref").size().astype(float),
        }
    )
    out.index.name = "owner_ref"
    return out


def subsidy_area_flags(
    subsidies: SubsidyMatch | pd.DataFrame,
    parcels: pd.DataFrame,
    *,
    max_ratio: float = 1.2,
    as_of_year: int | None = None,
) -> pd.DataFrame:
    """Households whose subsidised area is far above their observed cultivated area.

    Parameters
    ----------
    subsidies
        Matched records.
    parcels
        Parcel estimates with ``owner_ref`` and ``cultivated_area_ha``.
    max_ratio
        Subsidised / cultivated area above this is flagged (the policy's
        ``subsidy.max_area_ratio``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``owner_ref``: ``subsidised_area_ha``, ``cultivated_area_ha``, ``ratio``,
        ``over_area`` (bool).

    Examples
    --------
    >>> s = pd.DataFrame({"owner_ref": ["H-1"], "year": [2024], "scheme": ["a"],
    ...                   "area_ha": [3.0], "amount": [300.0]})
    >>> est = pd.DataFrame({"owner_ref": ["H-1"], "cultivated_area_ha": [1.5]})
    >>> flags = subsidy_area_flags(s, est)
    >>> float(flags.loc["H-1", "ratio"]), bool(flags.loc["H-1", "over_area"])
    (2.0, True)
    """
    hh = household_subsidies(subsidies, as_of_year=as_of_year)
    cult = parcels.groupby("owner_ref")["cultivated_area_ha"].sum(min_count=1)
    out = pd.DataFrame({"subsidised_area_ha": hh["subsidised_area_ha"]})
    out["cultivated_area_ha"] = cult.reindex(out.index)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = out["subsidised_area_ha"] / out["cultivated_area_ha"]
    out["over_area"] = (out["ratio"] > max_ratio).fillna(False).astype(bool)
    return out


# --- reading ------------------------------------------------------------------------------------


def _resolve_columns(
    raw: pd.DataFrame, mapping: Mapping[str, str] | None, p: Path
) -> dict[str, tuple[str | None, str | None]]:
    names = {str(c).strip(): c for c in raw.columns}
    mapping = dict(mapping or {})
    unknown = set(mapping) - {*_ALIASES, "area_unit"}
    if unknown:
        raise TableReadError(
            f"subsidy mapping has unknown keys {sorted(unknown)}; use {sorted(_ALIASES)} and "
            "area_unit",
            path=p,
        )
    out: dict[str, tuple[str | None, str | None]] = {}
    for fld, aliases in _ALIASES.items():
        if fld in mapping:
            src = mapping[fld]
            if src not in raw.columns:
                raise TableReadError(
                    f"subsidy file {p.name!r}: mapped column {src!r} (for {fld}) is absent; the "
                    f"file has {list(map(str, raw.columns))}",
                    path=p,
                )
            unit = mapping.get("area_unit", "ha") if fld == "area" else None
            if fld == "area" and unit not in {"ha", "mu"}:
                raise TableReadError(f"area_unit must be 'ha' or 'mu', not {unit!r}", path=p)
            out[fld] = (src, unit)
            continue
        out[fld] = next(((names[a], u) for a, u in aliases if a in names), (None, None))
    missing = [f for f in ("scheme", "year", "amount") if out[f][0] is None]
    if out["owner"][0] is None and out["parcel_id"][0] is None:
        missing.append("owner or parcel_id")
    if missing:
        raise TableReadError(
            f"subsidy file {p.name!r} lacks the columns for {missing} (it has "
            f"{list(map(str, raw.columns))}); rename them or pass mapping={{field: column}}",
            path=p,
        )
    return out


def _column_text(raw: pd.DataFrame, col: str | None) -> np.ndarray:
    if col is None:
        return np.full(len(raw), "", dtype=object)
    s = raw[col]
    out = []
    for v in s.tolist():
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append("")
        elif isinstance(v, float) and v.is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v).strip())
    return np.array(out, dtype=object)


def _column_number(raw: pd.DataFrame, col: str | None) -> np.ndarray:
    if col is None:
        return np.full(len(raw), np.nan)
    s = raw[col]
    if pd.api.types.is_numeric_dtype(s):
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    out = np.full(len(s), np.nan)
    for i, v in enumerate(s.tolist()):
        text = _NUMBER_JUNK.sub("", str(v))
        try:
            out[i] = float(text)
        except ValueError:
            continue  # stays NaN: the caller reports the record
    return out


__all__ = [
    "SUBSIDY_COLUMNS",
    "SubsidyMatch",
    "household_subsidies",
    "match_subsidies",
    "normalise_subsidies",
    "read_subsidies",
    "subsidy_area_flags",
]
