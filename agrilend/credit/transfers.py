"""Rented land (土地流转): transfer contracts move a title to the household that farms it.

A transfer contract says that the holder of a title (承包方, the household the registry names)
has let it to a tenant (流入方) for a term, at a yearly rent. For sizing, a title under an active
contract belongs to the tenant: its crop, area and yield count for the tenant, and the rent is a
cost of the tenant's season (the margin limit subtracts it, ``[transfers]`` in the policy). The
holder loses the land and keeps no revenue from it (the rent received is not counted as income:
a prudent choice, said here so nobody assumes otherwise).

A title both sides claim is flagged on both households (refer, reason ``TRANSFER_CONFLICT``):
two active contracts giving it to different tenants, a contract whose holder is not the title's
holder, or a title let out while its holder still presents records for it this season (insurance
or own evidence: the farmer who works the land is the one who insures and photographs it).

Raw owner identifiers never leave :func:`read_transfers`: holder and tenant become the same keyed
pseudonyms the titles carry.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from agrilend.credit._records import RecordFile, owner_refs

log = logging.getLogger(__name__)

#: Columns of the table :func:`read_transfers` returns.
TRANSFER_COLUMNS = ("parcel_id", "holder_ref", "tenant_ref", "rent_per_year", "start", "end")

_ALIASES = {
    "parcel_id": ("parcel_id", "DKBM", "地块编码"),
    "holder": ("holder_id", "holder_ref", "CBFBM", "转出方编码", "承包方编码"),
    "tenant": ("tenant_id", "tenant_ref", "转入方编码", "流入方编码"),
    "rent": ("rent_per_year", "rent_cny", "年租金", "年租金(元)"),
    "rent_mu": ("rent_per_mu", "每亩租金", "每亩租金(元)"),
    "area_mu": ("area_mu", "流转面积", "流转面积(亩)"),
    "start": ("start", "start_date", "起始日期", "开始日期"),
    "end": ("end", "end_date", "终止日期", "结束日期"),
}
#: Longest term accepted: rural land contracts run 30 years (农村土地承包法, art. 21).
MAX_TERM_YEARS = 30
_SCIENTIFIC = ("E+", "e+")


def read_transfers(
    path: str | Path,
    *,
    key: str | bytes | None = None,
    max_rent_per_mu: float = 5_000.0,
) -> pd.DataFrame:
    """Read land-transfer contracts (CSV in UTF-8 or GBK, Excel, Parquet).

    Parameters
    ----------
    path
        Columns ``parcel_id``, ``holder_id``, ``tenant_id``, ``start``, ``end`` and the rent as
        ``rent_per_year`` (currency a year) or ``rent_per_mu`` with ``area_mu``; the registry's
        Chinese names (地块编码, 转出方编码, 转入方编码, 年租金, 起始日期, 终止日期) are recognised.
    key
        Key of the owner pseudonyms (default: the settings' key, as for titles).
    max_rent_per_mu
        Above this a rent per mu is absurd (checked when the area is given).

    Returns
    -------
    pandas.DataFrame
        :data:`TRANSFER_COLUMNS`; ``start`` and ``end`` are dates.

    Raises
    ------
    TableReadError
        Unreadable file, missing columns, or a bad record (named by its number): no parcel id, a
        holder or tenant missing, the same household on both sides, a code written as a rounded
        number, a date that is not a date, an end before the start or a term beyond 30 years, a
        rent that is empty, negative or absurd.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "transfers.csv"
    >>> _ = p.write_text("parcel_id,holder_id,tenant_id,rent_per_year,start,end\\n"
    ...                  "P1,130100,130200,1500,2023-10-01,2028-09-30\\n")
    >>> t = read_transfers(p, key="k")
    >>> float(t.loc[0, "rent_per_year"]), t.loc[0, "tenant_ref"].startswith("H-")
    (1500.0, True)
    """
    f = RecordFile(path, "transfer", _ALIASES)
    f.require("parcel_id", "holder", "tenant", "start", "end")
    if f.cols["rent"] is None and (f.cols["rent_mu"] is None or f.cols["area_mu"] is None):
        f.fail(
            f"transfer file {f.path.name!r} gives no rent: add rent_per_year, or rent_per_mu "
            "with area_mu"
        )
    pid, holder, tenant = f.text("parcel_id"), f.text("holder"), f.text("tenant")
    for i, (p_, h, t) in enumerate(zip(pid, holder, tenant, strict=True)):
        if not p_:
            f.bad(i, "the parcel id is empty")
        if not h or not t:
            f.bad(i, "the holder or the tenant is missing")
        if h == t:
            f.bad(i, "holder and tenant are the same household")
        if any(s in x for x in (p_, h, t) for s in _SCIENTIFIC):
            f.bad(i, "a code is written as a rounded number (like 1.3E+17); store codes as text")
    start, end = f.dates("start"), f.dates("end")
    for i, (a, b) in enumerate(zip(start, end, strict=True)):
        if b < a:
            f.bad(i, f"the term ends ({b}) before it starts ({a})")
        if (b - a).days > MAX_TERM_YEARS * 366:
            f.bad(i, f"the term {a} to {b} exceeds {MAX_TERM_YEARS} years")
    if f.cols["rent"] is not None:
        rent = f.number("rent", low=0.0)
    else:
        per_mu = f.number("rent_mu", low=0.0, high=max_rent_per_mu)
        area = f.number("area_mu", low=0.0, strict_low=True, high=100_000.0)
        rent = per_mu * area
    if f.cols["area_mu"] is not None and f.cols["rent"] is not None:
        area = f.number("area_mu", low=0.0, strict_low=True, high=100_000.0)
        for i in np.flatnonzero(rent > max_rent_per_mu * area).tolist():
            f.bad(
                i,
                f"rent {rent[i]:,.0f} for {area[i]:g} mu is absurd "
                f"(above {max_rent_per_mu:,.0f}/mu)",
            )
    refs = owner_refs(np.concatenate([holder, tenant]), key)
    n = len(pid)
    return pd.DataFrame(
        {
            "parcel_id": pid.astype(str),
            "holder_ref": refs[:n].astype(str),
            "tenant_ref": refs[n:].astype(str),
            "rent_per_year": rent,
            "start": start,
            "end": end,
        }
    )


def apply_transfers(
    parcels: pd.DataFrame,
    transfers: pd.DataFrame,
    *,
    as_of: date,
    claims: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move titles under active contracts to their tenants; flag titles both sides claim.

    Parameters
    ----------
    parcels
        Titles or parcel estimates with ``parcel_id`` and ``owner_ref``.
    transfers
        Output of :func:`read_transfers`.
    as_of
        Contracts active on this date (``start <= as_of <= end``) count.
    claims
        Records a household presents for a title this season (``owner_ref``, ``parcel_id``):
        insurance and own evidence. A holder claiming a title it has let is a conflict.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        A new parcels frame (the input is not changed) with ``owner_ref`` set to the tenant,
        ``rented`` (bool), ``rent_per_year`` (0 where not rented), ``transferred_from`` (the
        holder, ``""`` elsewhere) and ``transfer_conflict`` (bool); and the flags, one row per
        conflicting title: ``parcel_id``, ``holder_ref``, ``tenant_ref``, ``why``.

    Examples
    --------
    >>> est = pd.DataFrame({"parcel_id": ["P1", "P2"], "owner_ref": ["H-a", "H-a"]})
    >>> tr = pd.DataFrame({"parcel_id": ["P1"], "holder_ref": ["H-a"], "tenant_ref": ["H-b"],
    ...     "rent_per_year": [900.0], "start": [date(2024, 1, 1)], "end": [date(2026, 12, 31)]})
    >>> out, flags = apply_transfers(est, tr, as_of=date(2024, 6, 1))
    >>> out["owner_ref"].tolist(), out["rent_per_year"].tolist(), len(flags)
    (['H-b', 'H-a'], [900.0, 0.0], 0)
    """
    out = parcels.copy()
    n = len(out)
    pid = out["parcel_id"].astype(str).to_numpy()
    owner = out["owner_ref"].astype(str).to_numpy(dtype=object).copy()
    rented = np.zeros(n, dtype=bool)
    rent = np.zeros(n)
    source = np.full(n, "", dtype=object)
    conflict = np.zeros(n, dtype=bool)
    flags: list[dict[str, str]] = []
    t = transfers
    if len(t):
        start = pd.to_datetime(t["start"]).dt.date
        end = pd.to_datetime(t["end"]).dt.date
        t = t[((start <= as_of) & (end >= as_of)).to_numpy()]
    row_of = {p: i for i, p in enumerate(pid)}
    claimed = set()
    if claims is not None and len(claims):
        claimed = set(
            zip(claims["owner_ref"].astype(str), claims["parcel_id"].astype(str), strict=True)
        )
    for p_, group in t.groupby("parcel_id", sort=True):
        i = row_of.get(str(p_))
        if i is None:
            log.info("transfer contract for parcel %s matches no title; ignored", p_)
            continue
        tenants = sorted(set(group["tenant_ref"].astype(str)))
        holder = str(group["holder_ref"].iloc[0])
        why = ""
        if len(tenants) > 1:
            why = f"let to {len(tenants)} tenants at once"
        elif holder != owner[i]:
            why = "the contract's holder is not the title's holder"
        elif (holder, str(p_)) in claimed:
            why = "let out, yet its holder presents records for it this season"
        if why:
            conflict[i] = True
            flags.append(
                {
                    "parcel_id": str(p_),
                    "holder_ref": owner[i],
                    "tenant_ref": ",".join(tenants),
                    "why": why,
                }
            )
            if len(tenants) > 1:
                continue  # whose it is cannot be told: it stays with the title's holder
        source[i] = owner[i]
        owner[i] = tenants[0]
        rented[i] = True
        rent[i] = float(group["rent_per_year"].sum())
    out["owner_ref"] = pd.array(owner.astype(str), dtype="str")
    out["rented"] = rented
    out["rent_per_year"] = rent
    out["transferred_from"] = pd.array(source.astype(str), dtype="str")
    out["transfer_conflict"] = conflict
    cols = ["parcel_id", "holder_ref", "tenant_ref", "why"]
    return out, pd.DataFrame(flags, columns=cols)


def conflict_households(flags: pd.DataFrame) -> dict[str, list[str]]:
    """Household -> titles in conflict, for both sides of every flag (holder and tenants).

    Examples
    --------
    >>> f = pd.DataFrame({"parcel_id": ["P1"], "holder_ref": ["H-a"], "tenant_ref": ["H-b,H-c"],
    ...                   "why": ["x"]})
    >>> conflict_households(f)
    {'H-a': ['P1'], 'H-b': ['P1'], 'H-c': ['P1']}
    """
    out: dict[str, list[str]] = {}
    for r in flags.itertuples():
        for h in [str(r.holder_ref), *str(r.tenant_ref).split(",")]:
            if h:
                out.setdefault(h, []).append(str(r.parcel_id))
    return out


__all__ = [
    "MAX_TERM_YEARS",
    "TRANSFER_COLUMNS",
    "apply_transfers",
    "conflict_households",
    "read_transfers",
]
