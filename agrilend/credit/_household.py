"""One household's row of the decisions table: decision, tenor, reasons and the limits JSON.

Private helper of :mod:`agrilend.credit.sizing`, which computes every array this module reads.
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
from agrilend.credit.reasons import REASONS, reason_text

#: At most this many reasons per household.
MAX_REASONS = 4

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


def household_row(i: int, owner: str, ctx: HouseholdContext, *, as_of: date) -> dict[str, Any]:
    pol, p = ctx.policy, ctx.p
    base, sub, line_raw = ctx.base, ctx.sub, float(ctx.line_raw[i])
    idx = np.arange(ctx.bounds[i], ctx.bounds[i + 1])
    pids = [str(x) for x in ctx.pids[idx]]
    usable = p.usable[idx]
    declared = float(p.declared[idx].sum())
    declared_usable = float(p.declared[idx][usable].sum())
    area = float(base["area"][i])
    step = pol.round_down_to
    line_rounded = math.floor(line_raw / step + 1e-9) * step if step > 0 else line_raw
    evidence_share = declared_usable / declared if declared > 0 else float(usable.any())
    no_cut = float(base["no_haircut_line"][i])
    haircut_share = 1 - line_raw / no_cut if no_cut > 0 else 0.0
    area_ratio = area / declared_usable if declared_usable > 0 else math.inf
    sub_area = float(sub["area"][i])
    sub_ratio = sub_area / area if area > 0 else (math.inf if sub_area > 0 else 0.0)

    cand: list[tuple[str, float, dict[str, Any]]] = []  # (code, cut, params)
    dec = pol.decision
    if not usable.any():
        why = sorted({str(w) for w in ctx.why[idx]})
        cand.append(("NO_EVIDENCE", 0.0, {"n": len(idx), "why": "; ".join(why)}))
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
            early = p.early[idx] & usable
            if early.any() and pol.season["early_season"] == "refer":
                decision = "refer"
                ids = [str(x) for x in ctx.pids[idx][early]]
                cand.append(("EARLY_SEASON_REFER", 0.0, {"n": len(ids), "parcels": _fmt_ids(ids)}))
        a = {k: v[i] for k, v in ctx.adj.items()}
        n_contra = int(a["n_outside"] + a["n_season"] + a["n_crop"])
        if n_contra > 0:
            if decision == "approve":
                decision = "refer"
            cand.append(
                (
                    "OWN_EVIDENCE_CONTRADICTS",
                    0.0,
                    {
                        "n": n_contra,
                        "n_outside": int(a["n_outside"]),
                        "n_season": int(a["n_season"]),
                        "n_crop": int(a["n_crop"]),
                        "cut": float(a["evidence_cut"]),
                    },
                )
            )
        if a["insurance_contradictions"] > 0:
            if decision == "approve":
                decision = "refer"
            cand.append(
                (
                    "INSURANCE_CONTRADICTS",
                    0.0,
                    {
                        "n": int(a["insurance_contradictions"]),
                        "parcels": str(a["insurance_contradiction_parcels"]) or "-",
                    },
                )
            )
        disputed = sorted(
            {str(x) for x in ctx.pids[idx][p.conflict[idx]]}
            | {x for x in str(a["transfer_conflict_parcels"]).split(",") if x}
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
        cand.extend(_cut_reasons(i, idx, ctx, area=area, declared_usable=declared_usable))

    reasons = _pick(cand)
    cur = pol.currency
    en = [reason_text(c, "en", currency=cur, **prm) for c, _, prm in reasons]
    zh = [reason_text(c, "zh", currency=cur, **prm) for c, _, prm in reasons]
    harvest_months = sorted(
        {
            h.harvest_month
            for c, a in zip(ctx.crops[idx][usable], p.area[idx][usable], strict=True)
            if a > 0
            for h in pol.harvests_of(str(c))
        }
    )
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
        i, idx, ctx, line=line, decision=decision, reasons=reasons, pids=pids, tenor=tenor_doc
    )
    return {
        "owner_ref": owner,
        "n_parcels": len(idx),
        "parcel_ids": ",".join(pids),
        "declared_area_ha": declared,
        "cultivated_area_ha": area,
        "expected_revenue": float(base["revenue"][i]),
        "input_cost": float(base["cost"][i]),
        "subsidy_income": float(sub["income"][i]),
        "climate_haircut": float(1 - ctx.g[i]),
        "credit_line": line,
        "currency": cur,
        "tenor_months": tenor,
        "decision": decision,
        "reason_codes": json.dumps([c for c, _, _ in reasons]),
        "reasons_en": json.dumps(en, ensure_ascii=False),
        "reasons_zh": json.dumps(zh, ensure_ascii=False),
        "limits": limits,
    }


def _cut_reasons(
    i: int, idx: np.ndarray, ctx: HouseholdContext, *, area: float, declared_usable: float
) -> list[tuple[str, float, dict[str, Any]]]:
    pol, p = ctx.policy, ctx.p
    base, cf, sub = ctx.base, ctx.cf, ctx.sub
    line_raw, g, risk = float(ctx.line_raw[i]), float(ctx.g[i]), float(ctx.risk[i])
    hc = pol.haircuts
    pids = ctx.pids[idx]
    out: list[tuple[str, float, dict[str, Any]]] = []

    def cut(code: str) -> float:
        return max(float(cf[code][i]) - line_raw, 0.0)

    # the binding limit: how far below the next one it holds the line
    lim = base["limits"][:, i]
    order = np.argsort(lim, kind="stable")
    binding = _LIMITS[order[0]]
    gap = float(lim[order[1]] - lim[order[0]]) * g
    a = {k: v[i] for k, v in ctx.adj.items()}
    params: dict[str, Any] = {
        "margin": {
            "share": pol.margin.get("share", 0.0),
            "margin": float(base["revenue_cut"][i])
            - float(base["cost_high_cut"][i])
            - pol.transfers.get("rent_in_margin", 1.0) * float(base["rent"][i]),
            "revenue": float(base["revenue_cut"][i]),
            "cost": float(base["cost_high_cut"][i]),
            "rent": pol.transfers.get("rent_in_margin", 1.0) * float(base["rent"][i]),
            "subsidy_share": pol.subsidy_share,
            "subsidy": float(sub["income"][i]),
        },
        "revenue": {
            "share": pol.revenue_share,
            "revenue": float(base["revenue_cut"][i]),
            "subsidy_share": pol.subsidy_share,
            "subsidy": float(sub["income"][i]),
        },
        "input": {"cover": pol.input_cover, "cost": float(base["cost_cut"][i])},
        "area": {"cap_per_ha": pol.cap_per_ha, "area": float(base["area_cut"][i])},
        "household": {"cap": pol.cap_household},
    }[binding]
    if lim[order[0]] > 0:
        out.append((_LIMIT_CODE[binding], gap, params))

    flagged = {
        "POOR_VIGOUR": p.f_vig[idx] < 1,
        "LOW_DATA_QUALITY": p.f_q[idx] < 1,
        "AREA_MISMATCH": p.f_am[idx] < 1,
        "CROP_MISMATCH": p.f_cm[idx] < 1,
        "EARLY_SEASON": p.f_es[idx] < 1,
        "CLAIM_TRUST": (
            p.f_claim[idx] < 1 if p.f_claim is not None else np.zeros(len(idx), dtype=bool)
        ),
    }
    for code, mask in flagged.items():
        if not mask.any() or cut(code) <= 0:
            continue
        prm: dict[str, Any] = {"n": int(mask.sum()), "parcels": _fmt_ids(list(pids[mask]))}
        if code == "POOR_VIGOUR":
            prm = {
                "n": int(mask.sum()),
                "area": float(p.area[idx][mask].sum()),
                "haircut": hc["poor_vigour"],
            }
        elif code == "LOW_DATA_QUALITY":
            prm |= {
                "min_obs": pol.min_clear_obs,
                "min_pixels": pol.min_pixels,
                "haircut": hc["low_quality"],
            }
        elif code == "CLAIM_TRUST":
            flags = ctx.df["trust_flags"].astype(str).to_numpy()[idx][mask]
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
    if a["climate_relief"] > 0 and cut("INSURED") > 0:
        prm_i = {
            "area": float(a["insured_area_ha"]),
            "share": float(a["insured_share"]),
            "relief": float(a["climate_relief"]),
        }
        out.append(("INSURED", cut("INSURED"), prm_i))
    if a["evidence_raise"] > 0 and cut("OWN_EVIDENCE") > 0:
        prm_e = {k: int(a[k]) for k in ("n_photos", "n_receipts", "n_contracts", "n_repaid")}
        out.append(("OWN_EVIDENCE", cut("OWN_EVIDENCE"), prm_e | {"amount": cut("OWN_EVIDENCE")}))
    rented = p.rented[idx]
    if rented.any():
        prm_r = {
            "n": int(rented.sum()),
            "area": float(p.area[idx][rented].sum()),
            "rent": float(p.rent[idx].sum()),
        }
        out.append(("RENTED_LAND", max(float(p.rent[idx].sum()), 0.01), prm_r))
    if cut("LOW_YIELD") > 0:
        worst = _worst_yield(idx, ctx)
        if worst is not None:
            out.append(("LOW_YIELD", cut("LOW_YIELD"), worst))
    bad = ~p.usable[idx]
    if bad.any():
        n_ok = int((~bad).sum())
        share = float(p.declared[idx][~bad].sum() / max(p.declared[idx].sum(), 1e-12))
        prm = {"n_ok": n_ok, "n": len(idx), "share": share, "parcels": _fmt_ids(list(pids[bad]))}
        out.append(("PARTIAL_EVIDENCE", cut("PARTIAL_EVIDENCE"), prm))
    return out


def _worst_yield(idx: np.ndarray, ctx: HouseholdContext) -> dict[str, Any] | None:
    """The harvest whose area-weighted prudent yield falls furthest below its reference.

    Ties (shortfalls equal to 1e-9) go to the harvest listed first in the policy, then by name:
    the order in which chunks of a scan met the harvests never decides which one is cited.
    """
    pol, p = ctx.policy, ctx.p
    best: dict[str, Any] | None = None
    ok = p.usable[idx] & (p.area[idx] > 0)
    rank = {h: i for i, h in enumerate(pol.harvests)}
    for name in sorted(p.yields, key=lambda h: (rank.get(h, len(rank)), h)):
        y_all = p.yields[name]
        y = y_all[idx]
        grown = ok & np.isfinite(y)
        if not grown.any():
            continue
        y_mean = float(np.average(y[grown], weights=p.area[idx][grown]))
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


def _limits_json(
    i: int,
    idx: np.ndarray,
    ctx: HouseholdContext,
    *,
    line: float,
    decision: str,
    reasons: list[tuple[str, float, dict[str, Any]]],
    pids: list[str],
    tenor: dict[str, Any],
) -> str:
    pol, p = ctx.policy, ctx.p
    base, sub = ctx.base, ctx.sub
    line_raw, g, risk = float(ctx.line_raw[i]), float(ctx.g[i]), float(ctx.risk[i])
    f = (p.f_vig * p.f_q * p.f_am * p.f_cm * p.f_es)[idx]
    lim = base["limits"][:, i]
    binding = _LIMITS[int(np.argmin(lim))]
    parcels = []
    for k, j in enumerate(idx):
        entry: dict[str, Any] = {"parcel_id": pids[k], "crop": str(ctx.crops[j])}
        if p.usable[j]:
            entry |= {
                "area_ha": round(float(p.area[j]), 4),
                "revenue_per_ha": _r2(p.rev_ha[j]),
                "cost_per_ha": _r2(p.cost_ha[j]),
                "prudent_cost_per_ha": _r2(p.cost_high_ha[j]),
                "rent": _r2(p.rent[j]),
                "haircut_factor": round(float(f[k]), 4),
            }
        else:
            entry["unusable"] = str(ctx.why[j])
        parcels.append(entry)
    doc = {
        "policy": pol.describe(),
        "currency": pol.currency,
        "formula": "line = floor(min(limits) * climate_factor * (1 - evidence_cut) / "
        "round_down_to) * round_down_to",
        "revenue": _r2(base["revenue"][i]),
        "revenue_after_haircuts": _r2(base["revenue_cut"][i]),
        "revenue_share": pol.revenue_share,
        "subsidy_income": _r2(sub["income"][i]),
        "subsidy_share": pol.subsidy_share,
        "input_cost": _r2(base["cost"][i]),
        "input_cost_after_haircuts": _r2(base["cost_cut"][i]),
        "input_cover": pol.input_cover,
        "rent": _r2(base["rent"][i]),
        "prudent_cost_after_haircuts": _r2(base["cost_high_cut"][i]),
        "margin_share": pol.margin.get("share"),
        "cost_uncertainty": pol.margin.get("cost_uncertainty"),
        "margin_limit_after_haircuts": _r2(base["margin_cut"][i])
        if np.isfinite(base["margin_cut"][i])
        else None,
        "climate_relief": round(float(ctx.adj["climate_relief"][i]), 4),
        "insured_area_ha": round(float(ctx.adj["insured_area_ha"][i]), 4),
        "evidence_raise": round(float(ctx.adj["evidence_raise"][i]), 4),
        "evidence_cut": round(float(ctx.adj["evidence_cut"][i]), 4),
        "evidence_items": json.loads(str(ctx.adj["evidence_items"][i])),
        "area_ha": round(float(base["area"][i]), 4),
        "area_after_haircuts_ha": round(float(base["area_cut"][i]), 4),
        "cap_per_ha": _r2(pol.cap_per_ha),
        "limits": {
            name: (_r2(v) if np.isfinite(v) else None) for name, v in zip(_LIMITS, lim, strict=True)
        },
        "binding": binding,
        "climate_risk": round(float(risk), 4),
        "climate_factor": round(float(g), 4),
        "line_before_rounding": _r2(line_raw),
        "round_down_to": pol.round_down_to,
        "line": _r2(line),
        "decision": decision,
        "tenor": tenor,
        "reasons": [
            {"code": c, "cut": _r2(cut), "params": {k: _tidy(v) for k, v in prm.items()}}
            for c, cut, prm in reasons
        ],
        "parcels": parcels,
    }
    return json.dumps(doc, ensure_ascii=False, default=float)
