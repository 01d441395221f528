"""What would raise the line: the smallest single changes, found by re-running the sizing.

For each household, :func:`what_would_raise` tries the changes a farmer can make on their own,
one at a time, and re-sizes the household with each (:func:`agrilend.credit.size_households`
on its own parcels, with its subsidies, climate and evidence as they are):

==================  ===========================================================================
action              what is simulated
==================  ===========================================================================
``insure:<crop>``   a corroborated insurance record for each parcel of a crop not yet insured
``photos``          geotagged photos, in season, of the parcels not yet shown (up to the cap)
``sales``           last year's sales receipt for the main crop, at this season's expected revenue
``contract``        a purchase contract for the main crop at its expected revenue
``loan_repaid``     the record of an earlier loan repaid
==================  ===========================================================================

Only changes that raise the line are kept, largest first, each with a sentence in English and
Chinese ("insure the maize (1.20 ha): +2,300 CNY"). A change that would not raise the line (the
line is held by a cap or by the input cost, which evidence does not raise) is not offered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from agrilend.credit.extras import ExtrasResult
from agrilend.credit.insurance import insurance_by_household
from agrilend.credit.reasons import CROP_NAMES_ZH
from agrilend.credit.self_evidence import _household_raises
from agrilend.credit.sizing import size_households
from agrilend.credit.subsidy import SubsidyMatch

#: Columns of the table :func:`what_would_raise` returns.
WHATIF_COLUMNS = ("owner_ref", "action", "raise", "new_line", "currency", "text_en", "text_zh")


def _money(v: float, currency: str, zh: bool) -> str:
    unit = "元" if zh and currency in ("CNY", "RMB") else f" {currency}"
    return f"+{v:,.0f}{unit}"


_SAME: Any = object()  # "as the decision was sized"


def what_would_raise(
    result: ExtrasResult,
    *,
    as_of: date | None = None,
    households: Sequence[str] | None = None,
    subsidies: SubsidyMatch | pd.DataFrame | None = _SAME,
    climate: float | Mapping[str, float] | pd.Series | None = _SAME,
    reference_yields: Mapping[str, float] | None = _SAME,
    min_raise: float = 1.0,
) -> pd.DataFrame:
    """Per household, the single changes that would raise its line, largest first.

    Parameters
    ----------
    result
        What :func:`agrilend.credit.size_with_extras` returned (with or without extras).
    as_of, subsidies, climate, reference_yields
        By default as given to it (``result.sizing``).
    households
        Only these ``owner_ref`` (default: every household with a line or a proposal).
    min_raise
        Raises below this (in the currency) are not offered.

    Returns
    -------
    pandas.DataFrame
        :data:`WHATIF_COLUMNS`, one row per household and helpful change.

    Examples
    --------
    >>> from agrilend.credit import CreditExtras, load_policy, size_with_extras
    >>> est = pd.DataFrame({"parcel_id": ["P1"], "owner_ref": ["H-a"], "declared_area_ha": [2.0],
    ...     "crop": ["maize"], "cultivated_area_ha": [2.0], "yield_t_ha": [7.0],
    ...     "yield_low": [5.2], "yield_high": [8.8]})
    >>> r = size_with_extras(
    ...     est, load_policy(), CreditExtras(), as_of=date(2024, 3, 1), climate=0.6)
    >>> w = what_would_raise(r, as_of=date(2024, 3, 1), climate=0.6)
    >>> w["action"].tolist()[:2]
    ['contract', 'insure:maize']
    >>> print(w.loc[w["action"] == "insure:maize", "text_en"].iloc[0])
    insure the maize (2.00 ha): +500 CNY
    """
    pol = result.policy
    est = result.parcels
    hh = result.households.set_index("owner_ref")
    adj = result.adjustments
    keys = list(households) if households is not None else list(hh.index[hh["credit_line"] > 0])
    given = {
        "subsidies": subsidies,
        "climate": climate,
        "as_of": as_of,
        "reference_yields": reference_yields,
    }
    kw: dict[str, Any] = {
        k: (result.sizing.get(k) if v is _SAME or (k == "as_of" and v is None) else v)
        for k, v in given.items()
    }
    rows: list[dict[str, Any]] = []
    items = result.evidence_items
    for owner in keys:
        mine = est[est["owner_ref"].astype(str) == owner]
        if mine.empty or owner not in hh.index:
            continue
        base_line = _num(hh.loc[owner, "credit_line"])
        cur = str(hh.loc[owner, "currency"])
        limits = json.loads(str(hh.loc[owner, "limits"]))
        base_adj = adj.loc[[owner]].copy() if owner in adj.index else pd.DataFrame(index=[owner])
        base_adj.index.name = "owner_ref"
        my_items = (
            items[items["owner_ref"] == owner]
            if len(items)
            else pd.DataFrame(
                columns=["owner_ref", "kind", "parcel_id", "crop", "amount", "verdict", "why"]
            )
        )
        evidence_adj = partial(
            _with_evidence, my_items, policy=pol, owner=owner, line=base_line, base=base_adj
        )

        cands: list[tuple[str, str, str, pd.DataFrame]] = []
        ok = mine[mine.get("status", pd.Series("ok", index=mine.index)).astype(str) != "error"]
        areas = ok.groupby("crop")["cultivated_area_ha"].sum()
        areas = areas[(areas > 0) & areas.index.isin([c for c, hs in pol.crops.items() if hs])]
        if pol.insurance and len(areas):
            insured = float(base_adj.get("insured_area_ha", pd.Series([0.0])).fillna(0).iloc[0])
            for crop, area in areas.items():
                recs = [
                    {
                        "year": 0,
                        "owner_ref": owner,
                        "parcel_id": str(r.parcel_id),
                        "crop": crop,
                        "insured_area_ha": _num(r.cultivated_area_ha),
                        "sum_insured": 1.0,
                    }
                    for r in ok[ok["crop"] == crop].itertuples()
                ]
                if insured >= float(areas.sum()) - 1e-9:
                    break
                new = insurance_by_household(pd.DataFrame(recs), mine, pol, year=0)
                a = base_adj.copy()
                a["climate_relief"] = min(
                    float(base_adj.get("climate_relief", pd.Series([0.0])).fillna(0).iloc[0])
                    + _num(new.loc[owner, "climate_relief"]),
                    pol.insurance["max_relief"],
                )
                en = f"insure the {str(crop).replace('_', ' ')} ({area:.2f} ha)"
                zh = f"为{CROP_NAMES_ZH.get(str(crop), str(crop))}投保（{area:.2f} 公顷）"
                cands.append((f"insure:{crop}", en, zh, a))
        if pol.evidence and len(areas):
            main = str(areas.idxmax())
            kinds = my_items["kind"].astype(str)
            verified = my_items["verdict"].astype(str) == "verified"
            shown = set(my_items.loc[(kinds == "photo") & verified, "parcel_id"].astype(str))
            todo = [str(p) for p in ok["parcel_id"] if str(p) not in shown]
            if todo:
                extra = [
                    {
                        "owner_ref": owner,
                        "kind": "photo",
                        "parcel_id": p,
                        "crop": "",
                        "amount": np.nan,
                        "verdict": "verified",
                        "why": "",
                    }
                    for p in todo
                ]
                cands.append(
                    (
                        "photos",
                        f"send geotagged photos of {len(todo)} parcel(s) in season",
                        f"提交 {len(todo)} 块地的季内定位照片",
                        evidence_adj(extra),
                    )
                )
            revenue = float(limits.get("revenue", 0.0))
            if revenue > 0:
                for kind, en, zh in (
                    ("receipt", "show last year's sales receipts", "提供去年的销售凭证"),
                    (
                        "contract",
                        "show a purchase contract for this season's crop",
                        "提供本季作物的收购合同",
                    ),
                ):
                    extra = [
                        {
                            "owner_ref": owner,
                            "kind": kind,
                            "parcel_id": "",
                            "crop": main,
                            "amount": revenue,
                            "verdict": "verified",
                            "why": "",
                        }
                    ]
                    cands.append(
                        ("sales" if kind == "receipt" else "contract", en, zh, evidence_adj(extra))
                    )
            if not (kinds == "loan_repaid").any():
                extra = [
                    {
                        "owner_ref": owner,
                        "kind": "loan_repaid",
                        "parcel_id": "",
                        "crop": "",
                        "amount": np.nan,
                        "verdict": "verified",
                        "why": "",
                    }
                ]
                cands.append(
                    (
                        "loan_repaid",
                        "show an earlier loan repaid on time",
                        "提供以往贷款按时还清的记录",
                        evidence_adj(extra),
                    )
                )
        for action, en, zh, a in cands:
            out_a = size_households(mine, pol, adjustments=a.reset_index(), **kw)
            new_line = _num(out_a.loc[0, "credit_line"])
            gain = new_line - base_line
            if gain >= min_raise:
                rows.append(
                    {
                        "owner_ref": owner,
                        "action": action,
                        "raise": gain,
                        "new_line": new_line,
                        "currency": cur,
                        "text_en": f"{en}: {_money(gain, cur, False)}",
                        "text_zh": f"{zh}：{_money(gain, cur, True)}",
                    }
                )
    out = pd.DataFrame(rows, columns=list(WHATIF_COLUMNS))
    return out.sort_values(["owner_ref", "raise"], ascending=[True, False], ignore_index=True)


def _with_evidence(
    items: pd.DataFrame,
    extra: list[dict[str, Any]],
    *,
    policy: Any,
    owner: str,
    line: float,
    base: pd.DataFrame,
) -> pd.DataFrame:
    """The household's adjustments with ``extra`` verified items added to its own evidence."""
    table = pd.concat([items, pd.DataFrame(extra)], ignore_index=True)
    raises = _household_raises(table, policy.evidence, pd.Series({owner: line}))
    row = raises.loc[[owner]].reindex(base.index)
    return base.drop(columns=[c for c in raises.columns if c in base.columns]).join(row)


def _num(value: Any) -> float:
    return float(value)


__all__ = ["WHATIF_COLUMNS", "what_would_raise"]
