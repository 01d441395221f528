"""Agricultural insurance: policy records matched to titles, corroborated, and risk transferred.

An insured crop is evidence (the household told the insurer what it grows, and where) and a
transfer of climate risk (a bad season pays out). Records are matched like subsidies, by parcel
id first, then by owner pseudonym (:func:`match_insurance`). :func:`insurance_by_household`
then checks each record of the season against the imagery:

- corroborated: the insured crop is the crop seen (on the parcel, or, for a record without a
  parcel, on the household's parcels) and the insured area is at most ``max_area_ratio`` x the
  cultivated area of that crop; it covers the smaller of the two areas;
- contradicting: another crop seen with a confidence of at least ``min_crop_confidence``, or
  more than ``max_area_ratio`` x the area seen (reason ``INSURANCE_CONTRADICTS``, refer; the
  household then gets no relief at all);
- neither: another crop seen with less confidence (the imagery is unsure).

Risk transfer: the climate haircut shrinks by ``climate_relief`` x the corroborated insured share
of the household's cultivated area, at most by ``max_relief`` (``[insurance]`` in the policy).
Raw owner identifiers and policy numbers never leave :func:`read_insurance`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agrilend.credit._records import RecordFile, match_records, owner_refs
from agrilend.credit.policy import CreditPolicy
from agrilend.vocabulary import CROPS as CANONICAL_CROPS
from agrilend.vocabulary import HA_PER_MU

log = logging.getLogger(__name__)

#: Columns of the table :func:`read_insurance` returns.
INSURANCE_COLUMNS = (
    "year",
    "owner_ref",
    "parcel_id",
    "crop",
    "insured_area_ha",
    "sum_insured",
    "currency",
)
_ALIASES = {
    "year": ("year", "年度", "保险年度"),
    "owner": ("owner_id", "owner_ref", "insured_id", "CBFBM", "投保人编码", "被保险人编码"),
    "parcel_id": ("parcel_id", "DKBM", "地块编码"),
    "crop": ("crop", "保险标的", "作物"),
    "area_ha": ("insured_area_ha", "area_ha"),
    "area_mu": ("insured_area_mu", "area_mu", "投保面积", "投保面积(亩)"),
    "sum": ("sum_insured", "保险金额", "保险金额(元)"),
}


def read_insurance(
    path: str | Path,
    *,
    key: str | bytes | None = None,
    currency: str = "CNY",
    max_sum_per_ha: float = 300_000.0,
    max_area_ha: float = 1_000.0,
) -> pd.DataFrame:
    """Read crop-insurance policy records (CSV in UTF-8 or GBK, Excel, Parquet).

    Parameters
    ----------
    path
        Columns ``year``, ``owner_id`` and/or ``parcel_id``, ``crop`` (a canonical crop name),
        ``insured_area_mu`` or ``insured_area_ha``, ``sum_insured``; the Chinese names
        (年度, 投保人编码, 地块编码, 保险标的, 投保面积, 保险金额) are recognised. Any other column
        (policy number, names, phone) is not read.
    key
        Key of the owner pseudonyms (default: the settings' key).
    currency
        Currency of the sums insured.
    max_sum_per_ha, max_area_ha
        Bounds beyond which a sum insured (per hectare) or an area is absurd.

    Returns
    -------
    pandas.DataFrame
        :data:`INSURANCE_COLUMNS`.

    Raises
    ------
    TableReadError
        Unreadable file, missing columns, or a bad record (named by its number): a year that is
        not a year, an unknown crop, an area or sum that is empty, not a number, not above zero
        or absurd, no owner nor parcel, a code written as a rounded number.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "insurance.csv"
    >>> _ = p.write_text("year,owner_id,parcel_id,crop,insured_area_mu,sum_insured\\n"
    ...                  "2024,130100,P1,maize,15,6000\\n")
    >>> r = read_insurance(p, key="k")
    >>> float(r.loc[0, "insured_area_ha"]), r.loc[0, "crop"]
    (1.0, 'maize')
    """
    f = RecordFile(path, "insurance", _ALIASES)
    f.require("year", "crop", "sum")
    if f.cols["owner"] is None and f.cols["parcel_id"] is None:
        f.require("owner")
    if f.cols["area_ha"] is None and f.cols["area_mu"] is None:
        f.require("area_mu")
    years = f.number("year", low=1900.0, high=2100.0)
    for i, y in enumerate(years):
        if not float(y).is_integer():
            f.bad(i, f"year {y:g} is not a whole year")
    crop = f.text("crop")
    for i, c in enumerate(crop):
        if c not in CANONICAL_CROPS:
            f.bad(i, f"crop {c!r} is not a canonical crop name ({', '.join(CANONICAL_CROPS)})")
    if f.cols["area_ha"] is not None:
        area = f.number("area_ha", low=0.0, strict_low=True, high=max_area_ha)
    else:
        area = f.number("area_mu", low=0.0, strict_low=True, high=max_area_ha / HA_PER_MU)
        area = area * HA_PER_MU
    total = f.number("sum", low=0.0, strict_low=True)
    for i in np.flatnonzero(total > max_sum_per_ha * area).tolist():
        f.bad(i, f"sum insured {total[i]:,.0f} for {area[i]:.2f} ha is absurd")
    owner, pid = f.text("owner"), f.text("parcel_id")
    for i, (o, p_) in enumerate(zip(owner, pid, strict=True)):
        if not o and not p_:
            f.bad(i, "neither an owner nor a parcel id is given")
        if "E+" in o.upper() or "E+" in p_.upper():
            f.bad(i, "a code is written as a rounded number (like 1.3E+17); store codes as text")
    return pd.DataFrame(
        {
            "year": years.astype("int64"),
            "owner_ref": owner_refs(owner, key).astype(str),
            "parcel_id": pid.astype(str),
            "crop": crop.astype(str),
            "insured_area_ha": area,
            "sum_insured": total,
            "currency": currency,
        }
    )


def match_insurance(
    records: pd.DataFrame, titles: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Match insurance records to titles like subsidies: ``(matched, unmatched)``.

    Examples
    --------
    >>> rec = pd.DataFrame({"year": [2024], "owner_ref": [""], "parcel_id": ["P1"],
    ...     "crop": ["maize"], "insured_area_ha": [1.0], "sum_insured": [6000.0]})
    >>> m, u = match_insurance(rec, pd.DataFrame({"parcel_id": ["P1"], "owner_ref": ["H-a"]}))
    >>> m["owner_ref"].tolist(), len(u)
    (['H-a'], 0)
    """
    return match_records(records, titles)


def insurance_by_household(
    matched: pd.DataFrame,
    parcels: pd.DataFrame,
    policy: CreditPolicy,
    *,
    year: int,
) -> pd.DataFrame:
    """Corroboration and risk transfer per household, from the season's matched records.

    Parameters
    ----------
    matched
        Matched records (:func:`match_insurance`).
    parcels
        Parcel estimates (after :func:`agrilend.credit.transfers.apply_transfers` when land is
        rented): ``parcel_id``, ``owner_ref``, ``crop``, ``cultivated_area_ha``.
    policy
        Needs an ``[insurance]`` table; without one no relief is given.
    year
        The season's year: records of other years are ignored.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``owner_ref``: ``insured_area_ha`` (corroborated), ``insured_share``,
        ``climate_relief``, ``insurance_contradictions``, ``insurance_contradiction_parcels``,
        ``n_insurance_records``.

    Examples
    --------
    >>> from agrilend.credit import load_policy
    >>> est = pd.DataFrame({"parcel_id": ["P1", "P2"], "owner_ref": ["H-a", "H-a"],
    ...     "crop": ["maize", "peanut"], "cultivated_area_ha": [1.0, 1.0]})
    >>> rec = pd.DataFrame({"year": [2024, 2024], "owner_ref": ["H-a", "H-a"],
    ...     "parcel_id": ["P1", "P2"], "crop": ["maize", "cotton"],
    ...     "insured_area_ha": [1.0, 1.0], "sum_insured": [6000.0, 5000.0]})
    >>> out = insurance_by_household(rec, est, load_policy(), year=2024).loc["H-a"]
    >>> float(out.insured_share), float(out.climate_relief), int(out.insurance_contradictions)
    (0.5, 0.0, 1)

    The maize is corroborated (half the cultivated area) but the peanut field is insured as
    cotton: a household with a contradicting record gets no relief until someone has looked.
    """
    cols = [
        "insured_area_ha",
        "insured_share",
        "climate_relief",
        "insurance_contradictions",
        "insurance_contradiction_parcels",
        "n_insurance_records",
    ]
    rule = policy.insurance
    recs = (
        matched[pd.to_numeric(matched["year"], errors="coerce") == year]
        if len(matched)
        else matched
    )
    if not rule or recs.empty:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="owner_ref"))
    area = pd.to_numeric(parcels["cultivated_area_ha"], errors="coerce").fillna(0.0).clip(lower=0)
    est = parcels.assign(_area=area.to_numpy())
    by_parcel = est.set_index(est["parcel_id"].astype(str))
    hh_area = est.groupby("owner_ref")["_area"].sum()
    hh_crop_area = est.groupby(["owner_ref", "crop"])["_area"].sum()
    rows = []
    for owner, group in recs.groupby("owner_ref", sort=True):
        covered = 0.0
        contra: list[str] = []
        for r in group.itertuples():
            pid = str(r.parcel_id)
            sure = True
            if pid and pid in by_parcel.index:
                seen_crop = str(by_parcel.loc[pid, "crop"])
                seen_area = _num(by_parcel.loc[pid, "_area"])
                conf = by_parcel.loc[pid, "crop_confidence"] if "crop_confidence" in est else 1.0
                sure = not (_num(conf) < rule["min_crop_confidence"])  # NaN: sure
            else:
                seen_crop = str(r.crop)
                seen_area = _num(hh_crop_area.get((owner, str(r.crop)), 0.0))
            insured = _num(r.insured_area_ha)
            if seen_crop != str(r.crop) and not sure:
                continue  # the imagery is unsure of the crop: neither way
            if seen_crop != str(r.crop) or seen_area <= 0:
                contra.append(pid or str(r.crop))
                continue
            if insured > rule["max_area_ratio"] * seen_area:
                contra.append(pid or str(r.crop))
                continue
            covered += min(insured, seen_area)
        total = float(hh_area.get(owner, 0.0))
        share = min(covered / total, 1.0) if total > 0 else 0.0
        relief = min(rule["climate_relief"] * share, rule["max_relief"])
        rows.append(
            {
                "owner_ref": owner,
                "insured_area_ha": covered,
                "insured_share": share,
                "climate_relief": relief if not contra else 0.0,
                "insurance_contradictions": len(contra),
                "insurance_contradiction_parcels": ", ".join(contra[:3]),
                "n_insurance_records": len(group),
            }
        )
    return pd.DataFrame(rows).set_index("owner_ref")[cols]


def _num(value: Any) -> float:
    return float(value)


__all__ = ["INSURANCE_COLUMNS", "insurance_by_household", "match_insurance", "read_insurance"]
