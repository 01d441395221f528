"""One household's row of the decisions table: decision, tenor, reasons and the limits JSON.

Private helper of :mod:`agrilend.credit.sizing`, which computes every array this module reads.
The per-household loop is the households step of a county scan (issue 18): what is the same for
every household (the policy's description, the rounded numbers, counts of flagged parcels, each
parcel's entry in the limits JSON) is made once per sizing by :func:`_prepare`, vectorised where
the arithmetic allows, and the loop reads it from Python lists. Sums over a household's parcels
that the rows print stay numpy sums over the same slices, so every number and string is the one
the loop computed before (``tests/credit/test_household_fast.py`` pins them).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from agrilend.credit.policy import CreditPolicy
from agrilend.credit.reasons import REASONS, fill_reason

#: At most this many reasons per household.
MAX_REASONS = 4

# json.dumps(..., ensure_ascii=False[, default=float]) without making an encoder per call
_TEXT_JSON = json.JSONEncoder(ensure_ascii=False)
_LIMITS_JSON = json.JSONEncoder(ensure_ascii=False, default=float)
# reasons with equal cuts keep the catalogue's order
_ORDER = {c: i for i, c in enumerate(REASONS)}
_LIMITS = ("revenue", "margin", "input", "area", "household")
_LIMIT_CODE = {
    "revenue": "REVENUE_LIMIT",
    "margin": "MARGIN_LIMIT",
    "input": "INPUT_COST_LIMIT",
    "area": "CAP_PER_AREA",
    "household": "CAP_HOUSEHOLD",
}


@dataclass
class ParcelArrays:
    """Per-parcel arrays, aligned with the input rows."""

    hh: np.ndarray  # household index
    usable: np.ndarray  # bool
    area: np.ndarray  # observed cultivated ha (0 where unusable)
    declared: np.ndarray
    rev_ha: np.ndarray  # prudent revenue per ha, before haircuts
    rev_ha_ref: np.ndarray  # same, yields raised to the reference where they are low
    cost_ha: np.ndarray
    cost_high_ha: np.ndarray  # prudent cost per ha for the margin limit
    f_vig: np.ndarray
    f_q: np.ndarray
    f_am: np.ndarray
    f_cm: np.ndarray
    f_es: np.ndarray  # early-season haircut factor (1 where seen, or where the policy refers)
    early: np.ndarray  # bool: usable parcel whose crop season the imagery cannot see
    yields: dict[str, np.ndarray]  # harvest -> central yield estimate t/ha (NaN where not grown)
    rent: np.ndarray  # yearly rent of land rented in (0 elsewhere)
    rented: np.ndarray  # bool: rented in under a transfer contract
    conflict: np.ndarray  # bool: both sides of a transfer claim the title
    f_claim: np.ndarray | None = None  # 1 - trust haircut of farmer-drawn claims (None: all 1)


# --- one household's row ------------------------------------------------------------------------


@dataclass
class HouseholdContext:
    """Everything the per-household step reads: parcel arrays and household arrays."""

    df: pd.DataFrame
    hh: np.ndarray
    p: ParcelArrays
    crops: np.ndarray
    why: np.ndarray
    policy: CreditPolicy
    base: dict[str, Any]
    line_raw: np.ndarray
    g: np.ndarray
    risk: np.ndarray
    cf: dict[str, np.ndarray]
    sub: dict[str, np.ndarray]
    pids: np.ndarray  # parcel ids as str
    bounds: np.ndarray  # rows of household i are bounds[i]:bounds[i + 1] (rows sorted by owner)
    refs: dict[str, float]  # reference yields given to size_households
    adj: dict[str, np.ndarray]  # household adjustments (insurance, own evidence), aligned


def _fmt_ids(ids: list[str], k: int = 3) -> str:
    return ", ".join(ids[:k]) + (f" +{len(ids) - k}" if len(ids) > k else "")


def _tenor(months: list[int], as_of: date, policy: CreditPolicy) -> int | None:
    if not months:
        return None
    ahead = [((m - as_of.month) % 12) or 12 for m in months]
    return int(min(max(max(ahead) + policy.grace_months, policy.min_months), policy.max_months))


@dataclass
class _Lists:
    """The context's arrays as Python values, made once per sizing for the per-household loop.

    Indexing a numpy array per household and converting its scalars costs more than the
    arithmetic that follows; these lists hold the same numbers (``tolist`` gives the very floats
    ``float(array[i])`` would), rounded where the ``limits`` JSON rounds them.
    """

    bounds: list[int]
    pids: list[str]
    usable: list[bool]
    n_usable: list[int]
    n_early: list[int]  # usable parcels the imagery cannot see yet
    n_conflict: list[int]  # titles both sides of a transfer claim
    n_rented: list[int]
    n_flagged: dict[str, list[int]]  # haircut code -> parcels it applies to, per household
    flagged: dict[str, np.ndarray]  # haircut code -> per-parcel mask
    months: list[tuple[int, ...]]  # harvest months of a usable parcel with area, else ()
    entries: list[dict[str, Any]]  # the parcels of the limits JSON
    hh: dict[str, list[Any]]  # per-household numbers
    adj: dict[str, list[Any]]
    cf: dict[str, list[float]]
    limits: list[dict[str, float | None]]  # the limits of the JSON, rounded
    binding: list[str]  # the limit named binding in the JSON (argmin)
    lowest: list[str]  # the limit the reasons cite (first of a stable sort)
    lowest_value: list[float]
    gap: list[float]  # how far below the next limit the lowest holds the line
    n_grown: dict[str, list[int]]  # harvest -> usable parcels with area and a yield of it
    const: dict[str, Any]  # what every household's limits JSON repeats
    trust_flags: np.ndarray | None  # the trust_flags column as str, if there is one


def _r2_list(a: np.ndarray) -> list[float]:
    return [round(x, 2) for x in a.tolist()]


def _prepare(ctx: HouseholdContext) -> _Lists:
    pol, p, base, n = ctx.policy, ctx.p, ctx.base, len(ctx.line_raw)

    def per_hh(mask: np.ndarray) -> list[int]:
        return np.bincount(p.hh, weights=mask, minlength=n).astype(int).tolist()

    usable = p.usable.tolist()
    flagged = {
        "POOR_VIGOUR": p.f_vig < 1,
        "LOW_DATA_QUALITY": p.f_q < 1,
        "AREA_MISMATCH": p.f_am < 1,
        "CROP_MISMATCH": p.f_cm < 1,
        "EARLY_SEASON": p.f_es < 1,
        "CLAIM_TRUST": p.f_claim < 1 if p.f_claim is not None else np.zeros(len(p.hh), dtype=bool),
    }
    harvest_months: dict[str, tuple[int, ...]] = {}
    months: list[tuple[int, ...]] = []
    for c, ok, a in zip(ctx.crops.tolist(), usable, p.area.tolist(), strict=True):
        if ok and a > 0:
            if c not in harvest_months:
                harvest_months[c] = tuple(h.harvest_month for h in pol.harvests_of(str(c)))
            months.append(harvest_months[c])
        else:
            months.append(())

    # the parcels of the limits JSON, as _limits_json wrote them one by one
    pids = [str(x) for x in ctx.pids.tolist()]
    f = (p.f_vig * p.f_q * p.f_am * p.f_cm * p.f_es).tolist()
    area4 = [round(x, 4) for x in p.area.tolist()]
    rev, cost, high, rent = (_r2_list(x) for x in (p.rev_ha, p.cost_ha, p.cost_high_ha, p.rent))
    crops = [str(c) for c in ctx.crops.tolist()]
    why = [str(w) for w in ctx.why.tolist()]
    entries: list[dict[str, Any]] = []
    for j, ok in enumerate(usable):
        if ok:
            entries.append(
                {
                    "parcel_id": pids[j],
                    "crop": crops[j],
                    "area_ha": area4[j],
                    "revenue_per_ha": rev[j],
                    "cost_per_ha": cost[j],
                    "prudent_cost_per_ha": high[j],
                    "rent": rent[j],
                    "haircut_factor": round(f[j], 4),
                }
            )
        else:
            entries.append({"parcel_id": pids[j], "crop": crops[j], "unusable": why[j]})

    lim = base["limits"]
    order = np.argsort(lim, axis=0, kind="stable")
    low = np.take_along_axis(lim, order[:1], axis=0)[0]
    gap = (np.take_along_axis(lim, order[1:2], axis=0)[0] - low) * ctx.g
    rounded = [[(round(v, 2) if math.isfinite(v) else None) for v in row] for row in lim.tolist()]
    margin = base["margin_cut"].tolist()
    hh = {
        "area": base["area"].tolist(),
        "revenue": base["revenue"].tolist(),
        "cost": base["cost"].tolist(),
        "revenue_cut": base["revenue_cut"].tolist(),
        "cost_cut": base["cost_cut"].tolist(),
        "cost_high_cut": base["cost_high_cut"].tolist(),
        "area_cut": base["area_cut"].tolist(),
        "rent": base["rent"].tolist(),
        "no_cut": base["no_haircut_line"].tolist(),
        "line_raw": ctx.line_raw.tolist(),
        "g": ctx.g.tolist(),
        "risk": ctx.risk.tolist(),
        "sub_income": ctx.sub["income"].tolist(),
        "sub_area": ctx.sub["area"].tolist(),
        # rounded as the limits JSON shows them
        "revenue_r": _r2_list(base["revenue"]),
        "revenue_cut_r": _r2_list(base["revenue_cut"]),
        "sub_income_r": _r2_list(ctx.sub["income"]),
        "cost_r": _r2_list(base["cost"]),
        "cost_cut_r": _r2_list(base["cost_cut"]),
        "rent_r": _r2_list(base["rent"]),
        "cost_high_cut_r": _r2_list(base["cost_high_cut"]),
        "margin_cut_r": [round(v, 2) if math.isfinite(v) else None for v in margin],
        "area_r": [round(v, 4) for v in base["area"].tolist()],
        "area_cut_r": [round(v, 4) for v in base["area_cut"].tolist()],
        "risk_r": [round(v, 4) for v in ctx.risk.tolist()],
        "g_r": [round(v, 4) for v in ctx.g.tolist()],
        "line_raw_r": _r2_list(ctx.line_raw),
    }
    adj = {k: v.tolist() for k, v in ctx.adj.items()}
    for k in ("climate_relief", "insured_area_ha", "evidence_raise", "evidence_cut"):
        adj[k + "_r"] = [round(v, 4) for v in adj[k]]
    const = {
        "policy": pol.describe(),
        "currency": pol.currency,
        "formula": "line = floor(min(limits) * climate_factor * (1 - evidence_cut) / "
        "round_down_to) * round_down_to",
        "revenue_share": pol.revenue_share,
        "subsidy_share": pol.subsidy_share,
        "input_cover": pol.input_cover,
        "margin_share": pol.margin.get("share"),
        "cost_uncertainty": pol.margin.get("cost_uncertainty"),
        "cap_per_ha": _r2(pol.cap_per_ha),
        "round_down_to": pol.round_down_to,
    }
    return _Lists(
        bounds=[int(b) for b in ctx.bounds.tolist()],
        pids=pids,
        usable=usable,
        n_usable=per_hh(p.usable),
        n_early=per_hh(p.early & p.usable),
        n_conflict=per_hh(p.conflict),
        n_rented=per_hh(p.rented),
        n_flagged={code: per_hh(mask) for code, mask in flagged.items()},
        flagged=flagged,
        months=months,
        entries=entries,
        hh=hh,
        adj=adj,
        cf={code: v.tolist() for code, v in ctx.cf.items()},
        limits=[dict(zip(_LIMITS, col, strict=True)) for col in zip(*rounded, strict=True)],
        binding=[_LIMITS[k] for k in np.argmin(lim, axis=0).tolist()],
        lowest=[_LIMITS[k] for k in order[0].tolist()],
        lowest_value=low.tolist(),
        gap=gap.tolist(),
        n_grown={
            h: per_hh(p.usable & (p.area > 0) & np.isfinite(p.yields[h]))
            for h in _harvest_order(ctx)
        },
        const=const,
        trust_flags=ctx.df["trust_flags"].astype(str).to_numpy()
        if "trust_flags" in ctx.df.columns
        else None,
    )


def household_rows(
    ctx: HouseholdContext, owners: np.ndarray, *, as_of: date
) -> dict[str, list[Any]]:
    """The decisions table's columns, one value per household (``owners`` in context order)."""
    lists = _prepare(ctx)
    cols: dict[str, list[Any]] = {}
    for i, owner in enumerate(owners.tolist()):
        row = _household_row(i, str(owner), ctx, lists, as_of=as_of)
        for k, v in row.items():
            cols.setdefault(k, []).append(v)
    return cols


def _household_row(
    i: int, owner: str, ctx: HouseholdContext, lists: _Lists, *, as_of: date
) -> dict[str, Any]:
    pol, p, hh, a = ctx.policy, ctx.p, lists.hh, lists.adj
    b0, b1 = lists.bounds[i], lists.bounds[i + 1]
    sl = slice(b0, b1)
    n_parcels = b1 - b0
    pids = lists.pids[sl]
    any_usable = lists.n_usable[i] > 0
    declared = float(p.declared[sl].sum())
    if lists.n_usable[i] == n_parcels:
        declared_usable = declared
    else:
        declared_usable = float(p.declared[sl][p.usable[sl]].sum())
    area = hh["area"][i]
    line_raw = hh["line_raw"][i]
    step = pol.round_down_to
    line_rounded = math.floor(line_raw / step + 1e-9) * step if step > 0 else line_raw
    evidence_share = declared_usable / declared if declared > 0 else float(any_usable)
    no_cut = hh["no_cut"][i]
    haircut_share = 1 - line_raw / no_cut if no_cut > 0 else 0.0
    area_ratio = area / declared_usable if declared_usable > 0 else math.inf
    sub_area = hh["sub_area"][i]
    sub_ratio = sub_area / area if area > 0 else (math.inf if sub_area > 0 else 0.0)

    cand: list[tuple[str, float, dict[str, Any]]] = []  # (code, cut, params)
    dec = pol.decision
    if not any_usable:
        why = sorted({str(w) for w in ctx.why[sl]})
        cand.append(("NO_EVIDENCE", 0.0, {"n": n_parcels, "why": "; ".join(why)}))
        decision, line = "refer", 0.0
    else:
        decision, line = "approve", float(line_rounded)
        if line_rounded < dec["min_line"]:
            decision, line = "decline", 0.0
            cand.append(
                (
                    "LINE_BELOW_MINIMUM",
                    line_rounded,
                    {"line": line_rounded, "min_line": dec["min_line"]},
                )
            )
        else:
            if evidence_share < dec["min_evidence_share"]:
                decision = "refer"
                cand.append(
                    (
                        "LOW_EVIDENCE_SHARE",
                        0.0,
                        {"share": evidence_share, "min_share": dec["min_evidence_share"]},
                    )
                )
            if haircut_share > dec["max_auto_haircut"] + 1e-12:
                decision = "refer"
                cand.append(
                    (
                        "LARGE_HAIRCUT",
                        0.0,
                        {"cut": haircut_share, "max_cut": dec["max_auto_haircut"]},
                    )
                )
            if area_ratio < dec["min_area_ratio"]:
                decision = "refer"
                cand.append(
                    (
                        "LOW_AREA_RATIO",
                        0.0,
                        {"ratio": area_ratio, "min_ratio": dec["min_area_ratio"]},
                    )
                )
            if lists.n_early[i] and pol.season["early_season"] == "refer":
                decision = "refer"
                early = p.early[sl] & p.usable[sl]
                ids = [x for x, e in zip(pids, early.tolist(), strict=True) if e]
                cand.append(("EARLY_SEASON_REFER", 0.0, {"n": len(ids), "parcels": _fmt_ids(ids)}))
        n_contra = int(a["n_outside"][i] + a["n_season"][i] + a["n_crop"][i])
        if n_contra > 0:
            if decision == "approve":
                decision = "refer"
            cand.append(
                (
                    "OWN_EVIDENCE_CONTRADICTS",
                    0.0,
                    {
                        "n": n_contra,
                        "n_outside": int(a["n_outside"][i]),
                        "n_season": int(a["n_season"][i]),
                        "n_crop": int(a["n_crop"][i]),
                        "cut": float(a["evidence_cut"][i]),
                    },
                )
            )
        if a["insurance_contradictions"][i] > 0:
            if decision == "approve":
                decision = "refer"
            cand.append(
                (
                    "INSURANCE_CONTRADICTS",
                    0.0,
                    {
                        "n": int(a["insurance_contradictions"][i]),
                        "parcels": str(a["insurance_contradiction_parcels"][i]) or "-",
                    },
                )
            )
        claimed = str(a["transfer_conflict_parcels"][i])
        if lists.n_conflict[i] or claimed:
            conflict = p.conflict[sl].tolist()
            disputed = sorted(
                {x for x, c in zip(pids, conflict, strict=True) if c}
                | {x for x in claimed.split(",") if x}
            )
            if disputed:
                if decision == "approve":
                    decision = "refer"
                cand.append(
                    ("TRANSFER_CONFLICT", 0.0, {"n": len(disputed), "parcels": _fmt_ids(disputed)})
                )
        if sub_area > 0 and sub_ratio > pol.subsidy_max_area_ratio:
            if decision == "approve":
                decision = "refer"
            cand.append(
                (
                    "SUBSIDY_OVER_AREA",
                    0.0,
                    {"subsidised": sub_area, "ratio": sub_ratio, "observed": area},
                )
            )
        cand.extend(_cut_reasons(i, sl, ctx, lists, area=area, declared_usable=declared_usable))

    reasons = _pick(cand)
    cur = pol.currency
    en = [fill_reason(c, "en", cur, prm) for c, _, prm in reasons]
    zh = [fill_reason(c, "zh", cur, prm) for c, _, prm in reasons]
    harvest_months = sorted({m for ms in lists.months[sl] for m in ms})
    tenor = _tenor(harvest_months, as_of, pol) if line > 0 else None
    tenor_doc = {
        "as_of": as_of.isoformat(),
        "harvest_months": harvest_months,
        "grace_months": pol.grace_months,
        "min_months": pol.min_months,
        "max_months": pol.max_months,
        "months": tenor,
    }
    limits = _limits_json(
        i, sl, lists, line=line, decision=decision, reasons=reasons, tenor=tenor_doc
    )
    return {
        "owner_ref": owner,
        "n_parcels": n_parcels,
        "parcel_ids": ",".join(pids),
        "declared_area_ha": declared,
        "cultivated_area_ha": area,
        "expected_revenue": hh["revenue"][i],
        "input_cost": hh["cost"][i],
        "subsidy_income": hh["sub_income"][i],
        "climate_haircut": 1 - hh["g"][i],
        "credit_line": line,
        "currency": cur,
        "tenor_months": tenor,
        "decision": decision,
        "reason_codes": json.dumps([c for c, _, _ in reasons]),
        "reasons_en": _TEXT_JSON.encode(en),
        "reasons_zh": _TEXT_JSON.encode(zh),
        "limits": limits,
    }


def _cut_reasons(
    i: int,
    sl: slice,
    ctx: HouseholdContext,
    lists: _Lists,
    *,
    area: float,
    declared_usable: float,
) -> list[tuple[str, float, dict[str, Any]]]:
    pol, p, hh, a, cf = ctx.policy, ctx.p, lists.hh, lists.adj, lists.cf
    line_raw, g, risk = hh["line_raw"][i], hh["g"][i], hh["risk"][i]
    hc = pol.haircuts
    pids = lists.pids[sl]
    out: list[tuple[str, float, dict[str, Any]]] = []

    def cut(code: str) -> float:
        return max(cf[code][i] - line_raw, 0.0)

    # the binding limit: how far below the next one it holds the line
    binding = lists.lowest[i]
    if lists.lowest_value[i] > 0:
        if binding == "margin":
            rent = pol.transfers.get("rent_in_margin", 1.0) * hh["rent"][i]
            params: dict[str, Any] = {
                "share": pol.margin.get("share", 0.0),
                "margin": hh["revenue_cut"][i] - hh["cost_high_cut"][i] - rent,
                "revenue": hh["revenue_cut"][i],
                "cost": hh["cost_high_cut"][i],
                "rent": rent,
                "subsidy_share": pol.subsidy_share,
                "subsidy": hh["sub_income"][i],
            }
        elif binding == "revenue":
            params = {
                "share": pol.revenue_share,
                "revenue": hh["revenue_cut"][i],
                "subsidy_share": pol.subsidy_share,
                "subsidy": hh["sub_income"][i],
            }
        elif binding == "input":
            params = {"cover": pol.input_cover, "cost": hh["cost_cut"][i]}
        elif binding == "area":
            params = {"cap_per_ha": pol.cap_per_ha, "area": hh["area_cut"][i]}
        else:
            params = {"cap": pol.cap_household}
        out.append((_LIMIT_CODE[binding], lists.gap[i], params))

    for code, n_flagged in lists.n_flagged.items():
        if not n_flagged[i] or cut(code) <= 0:
            continue
        mask = lists.flagged[code][sl]
        ids = [x for x, m in zip(pids, mask.tolist(), strict=True) if m]
        prm: dict[str, Any] = {"n": n_flagged[i], "parcels": _fmt_ids(ids)}
        if code == "POOR_VIGOUR":
            prm = {
                "n": n_flagged[i],
                "area": float(p.area[sl][mask].sum()),
                "haircut": hc["poor_vigour"],
            }
        elif code == "LOW_DATA_QUALITY":
            prm |= {
                "min_obs": pol.min_clear_obs,
                "min_pixels": pol.min_pixels,
                "haircut": hc["low_quality"],
            }
        elif code == "CLAIM_TRUST":
            if lists.trust_flags is None:
                raise KeyError("trust_flags")  # as reading the absent column would
            flags = lists.trust_flags[sl][mask]
            prm |= {"flags": ", ".join(sorted({f for fl in flags for f in fl.split(",") if f}))}
        elif code == "AREA_MISMATCH":
            prm |= {"min_ratio": pol.min_area_ratio, "haircut": hc["area_mismatch"]}
        elif code == "EARLY_SEASON":
            prm |= {"haircut": pol.season["early_season_haircut"]}
        else:
            prm |= {"haircut": hc["crop_mismatch"]}
        out.append((code, cut(code), prm))

    if area < 0.98 * declared_usable and cut("AREA_BELOW_DECLARED") > 0:
        out.append(
            (
                "AREA_BELOW_DECLARED",
                cut("AREA_BELOW_DECLARED"),
                {"observed": area, "declared": declared_usable},
            )
        )
    if risk > 0 and cut("CLIMATE_RISK") > 0:
        out.append(("CLIMATE_RISK", cut("CLIMATE_RISK"), {"risk": risk, "haircut": 1 - g}))
    if a["climate_relief"][i] > 0 and cut("INSURED") > 0:
        prm_i = {
            "area": float(a["insured_area_ha"][i]),
            "share": float(a["insured_share"][i]),
            "relief": float(a["climate_relief"][i]),
        }
        out.append(("INSURED", cut("INSURED"), prm_i))
    if a["evidence_raise"][i] > 0 and cut("OWN_EVIDENCE") > 0:
        prm_e = {k: int(a[k][i]) for k in ("n_photos", "n_receipts", "n_contracts", "n_repaid")}
        out.append(("OWN_EVIDENCE", cut("OWN_EVIDENCE"), prm_e | {"amount": cut("OWN_EVIDENCE")}))
    if lists.n_rented[i]:
        rented = p.rented[sl]
        prm_r = {
            "n": lists.n_rented[i],
            "area": float(p.area[sl][rented].sum()),
            "rent": float(p.rent[sl].sum()),
        }
        out.append(("RENTED_LAND", max(float(p.rent[sl].sum()), 0.01), prm_r))
    if cut("LOW_YIELD") > 0:
        worst = _worst_yield(sl, ctx, [h for h, n in lists.n_grown.items() if n[i]])
        if worst is not None:
            out.append(("LOW_YIELD", cut("LOW_YIELD"), worst))
    n_ok = lists.n_usable[i]
    if n_ok < len(pids):
        ok = p.usable[sl]
        share = float(p.declared[sl][ok].sum() / max(p.declared[sl].sum(), 1e-12))
        bad = [x for x, u in zip(pids, ok.tolist(), strict=True) if not u]
        prm = {"n_ok": n_ok, "n": len(pids), "share": share, "parcels": _fmt_ids(bad)}
        out.append(("PARTIAL_EVIDENCE", cut("PARTIAL_EVIDENCE"), prm))
    return out


def _harvest_order(ctx: HouseholdContext) -> list[str]:
    """The harvests with yields, in the order ties are broken: the policy's, then by name."""
    rank = {h: i for i, h in enumerate(ctx.policy.harvests)}
    return sorted(ctx.p.yields, key=lambda h: (rank.get(h, len(rank)), h))


def _worst_yield(
    idx: np.ndarray | slice, ctx: HouseholdContext, harvests: list[str] | None = None
) -> dict[str, Any] | None:
    """The harvest whose area-weighted prudent yield falls furthest below its reference.

    Ties (shortfalls equal to 1e-9) go to the harvest listed first in the policy, then by name:
    the order in which chunks of a scan met the harvests never decides which one is cited.
    ``harvests`` (in that order) may leave out harvests the household does not grow.
    """
    pol, p = ctx.policy, ctx.p
    best: dict[str, Any] | None = None
    area = p.area[idx]
    ok = p.usable[idx] & (area > 0)
    for name in _harvest_order(ctx) if harvests is None else harvests:
        y = p.yields[name][idx]
        grown = ok & np.isfinite(y)
        if not grown.any():
            continue
        w = area[grown]
        y_mean = float(
            (y[grown] * w).sum() / w.sum()
        )  # np.average's arithmetic, without its checks
        ref = ctx.refs.get(name, pol.harvests[name].reference_yield_t_ha)
        if ref > 0 and y_mean < pol.low_yield_ratio * ref:
            shortfall = round(1 - y_mean / ref, 9)
            if best is None or shortfall > best["shortfall"]:
                best = {
                    "harvest": name,
                    "yield_t": y_mean,
                    "reference": ref,
                    "shortfall": shortfall,
                }
    return best


def _pick(
    cand: list[tuple[str, float, dict[str, Any]]],
) -> list[tuple[str, float, dict[str, Any]]]:
    """Up to four reasons by cut; the reasons behind a refer/decline are always kept."""
    key = lambda r: (-round(r[1], 6), _ORDER[r[0]])  # noqa: E731 - a sort key reads best inline
    decisive = sorted((r for r in cand if REASONS[r[0]].kind == "decision"), key=key)
    others = sorted((r for r in cand if REASONS[r[0]].kind != "decision" and r[1] > 0.005), key=key)
    keep = decisive[:MAX_REASONS]
    keep += others[: MAX_REASONS - len(keep)]
    return sorted(keep, key=key)


def _tidy(v: Any) -> Any:
    return round(float(v), 4) if isinstance(v, float | np.floating) else v


def _r2(x: float) -> float:
    return round(float(x), 2)


def _evidence_items(text: str) -> Any:
    return [] if text == "[]" else json.loads(text)


def _limits_json(
    i: int,
    sl: slice,
    lists: _Lists,
    *,
    line: float,
    decision: str,
    reasons: list[tuple[str, float, dict[str, Any]]],
    tenor: dict[str, Any],
) -> str:
    hh, a, c = lists.hh, lists.adj, lists.const
    doc = {
        "policy": c["policy"],
        "currency": c["currency"],
        "formula": c["formula"],
        "revenue": hh["revenue_r"][i],
        "revenue_after_haircuts": hh["revenue_cut_r"][i],
        "revenue_share": c["revenue_share"],
        "subsidy_income": hh["sub_income_r"][i],
        "subsidy_share": c["subsidy_share"],
        "input_cost": hh["cost_r"][i],
        "input_cost_after_haircuts": hh["cost_cut_r"][i],
        "input_cover": c["input_cover"],
        "rent": hh["rent_r"][i],
        "prudent_cost_after_haircuts": hh["cost_high_cut_r"][i],
        "margin_share": c["margin_share"],
        "cost_uncertainty": c["cost_uncertainty"],
        "margin_limit_after_haircuts": hh["margin_cut_r"][i],
        "climate_relief": a["climate_relief_r"][i],
        "insured_area_ha": a["insured_area_ha_r"][i],
        "evidence_raise": a["evidence_raise_r"][i],
        "evidence_cut": a["evidence_cut_r"][i],
        "evidence_items": _evidence_items(str(a["evidence_items"][i])),
        "area_ha": hh["area_r"][i],
        "area_after_haircuts_ha": hh["area_cut_r"][i],
        "cap_per_ha": c["cap_per_ha"],
        "limits": lists.limits[i],
        "binding": lists.binding[i],
        "climate_risk": hh["risk_r"][i],
        "climate_factor": hh["g_r"][i],
        "line_before_rounding": hh["line_raw_r"][i],
        "round_down_to": c["round_down_to"],
        "line": _r2(line),
        "decision": decision,
        "tenor": tenor,
        "reasons": [
            {"code": code, "cut": _r2(cut), "params": {k: _tidy(v) for k, v in prm.items()}}
            for code, cut, prm in reasons
        ],
        "parcels": lists.entries[sl],
    }
    return _LIMITS_JSON.encode(doc)
