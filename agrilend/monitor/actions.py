"""Per household: the updated yield and revenue, repayment capacity against the line, an action.

The scan sized each line from per-parcel revenue (``limits`` of ``households.parquet``). The
monitor scales each parcel's revenue by what the season shows so far: a failed field earns
nothing; a drought- or hail-hit field earns its current vigour against normal (with an interval
widened by ``condition_uncertainty``); a late-sown field ``late_sowing_factor`` of its revenue;
a switched field the policy's reference revenue of the crop it grows. The revenue part of the
line's revenue limit moves with it; the subsidy part does not.

Actions, first that applies (``[monitor]`` thresholds):

- ``visit``: an event of the household's own (failure, crop switch, damage on its field alone)
  or capacity below ``visit_below`` of the line;
- ``extend_tenor``: an area-wide shock (drought, hail over many fields) lowers capacity below
  the line or puts the harvest after the loan falls due; the tenor grows ``extend_months``;
- ``reduce_undrawn``: capacity below ``reduce_below`` of the line: the line is cut to it;
- ``keep``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from agrilend.monitor.reasons import monitor_reason
from agrilend.monitor.thresholds import MonitorPolicy

OWN_KINDS = ("failure", "no_crop", "crop_switch")
AREA_KINDS = ("drought",)
HOUSEHOLD_COLUMNS = (
    "owner_ref", "credit_line", "tenor_months", "expected_revenue", "revenue_now",
    "revenue_low", "revenue_high", "capacity", "coverage", "action", "new_line",
    "new_tenor_months", "event_kinds", "reason_codes", "reasons_en", "reasons_zh",
)  # fmt: skip


def _num(value: Any, default: float = 0.0) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def parcel_factors(
    parcels: pd.DataFrame, events: pd.DataFrame, condition: pd.Series, mp: MonitorPolicy
) -> pd.DataFrame:
    """Per parcel: revenue factor now, low and high, from its events and current condition."""
    ids = parcels["parcel_id"].astype(str)
    f = pd.DataFrame({"factor": 1.0, "low": 1.0, "high": 1.0}, index=ids.to_numpy())
    by_kind = events.groupby("kind")["parcel_id"].apply(lambda s: set(s.astype(str)))
    kinds = {
        k: by_kind.get(k, set()) for k in ("failure", "no_crop", "drought", "hail", "late_sowing")
    }
    cond = condition.reindex(f.index).clip(0.0, 1.05).fillna(1.0)
    hit = f.index.isin(list(kinds["drought"] | kinds["hail"]))
    u = mp.condition_uncertainty
    f.loc[hit, "factor"] = cond[hit]
    f.loc[hit, "low"] = (cond[hit] - u).clip(lower=0.0)
    f.loc[hit, "high"] = (cond[hit] + u).clip(upper=1.05)
    late = f.index.isin(list(kinds["late_sowing"]))
    f.loc[late, ["factor", "low", "high"]] *= mp.late_sowing_factor
    failed = f.index.isin(list(kinds["failure"] | kinds["no_crop"]))
    f.loc[failed, ["factor", "low", "high"]] = 0.0
    return f


def household_actions(
    households: pd.DataFrame,
    parcels: pd.DataFrame,
    events: pd.DataFrame,
    condition: pd.Series,
    *,
    policy: Any,
    mp: MonitorPolicy,
    harvest_late: set[str] | None = None,
) -> pd.DataFrame:
    """One row per household with a line: :data:`HOUSEHOLD_COLUMNS`.

    ``condition`` is each parcel's current vigour against normal (1 = normal); ``harvest_late``
    the parcels whose harvest is now expected after the loan falls due.
    """
    factors = parcel_factors(parcels, events, condition, mp).to_dict("index")
    yields = parcels.set_index(parcels["parcel_id"].astype(str))
    interval = (
        (yields["yield_low"] / yields["yield_t_ha"]).where(yields["yield_t_ha"] > 0).fillna(1.0)
        .to_dict(),
        (yields["yield_high"] / yields["yield_t_ha"]).where(yields["yield_t_ha"] > 0).fillna(1.0)
        .to_dict(),
    )  # fmt: skip
    ev_by_owner: dict[str, tuple[set[str], set[str]]] = {}
    for o, kind, extent in zip(events["owner_ref"], events["kind"], events["extent"], strict=True):
        found, hail = ev_by_owner.setdefault(str(o), (set(), set()))
        found.add(str(kind))
        if kind == "hail":
            hail.add(str(extent))
    late = harvest_late or set()
    rows = []
    for hh in households.itertuples(index=False):
        line = _num(hh.credit_line)
        limits = json.loads(hh.limits) if isinstance(hh.limits, str) and hh.limits else {}
        plist = limits.get("parcels", [])
        rev0 = now = low = high = 0.0
        for p in plist:
            pid = str(p["parcel_id"])
            value = float(p.get("area_ha", 0.0)) * float(p.get("revenue_per_ha", 0.0))
            fr = factors.get(pid)
            rev0 += value
            if fr is None:
                now, low, high = now + value, low + value, high + value
                continue
            lo_i = float(interval[0].get(pid, 1.0))
            hi_i = float(interval[1].get(pid, 1.0))
            now += value * float(fr["factor"])
            low += value * float(fr["low"]) * lo_i
            high += value * float(fr["high"]) * hi_i
        share = float(limits.get("revenue_share", 0.5))
        after = float(limits.get("revenue_after_haircuts", rev0))
        subsidy = float(limits.get("subsidy_share", 0.0)) * float(limits.get("subsidy_income", 0.0))
        ratio = now / rev0 if rev0 > 0 else 1.0
        capacity = (share * after * ratio + subsidy) * float(limits.get("climate_factor", 1.0))
        coverage = capacity / line if line > 0 else math.inf
        found, hail_extent = ev_by_owner.get(str(hh.owner_ref), (set(), set()))
        kinds = sorted(found)
        own = sorted((found & set(OWN_KINDS)) | ({"hail"} if "field" in hail_extent else set()))
        area = sorted((found & set(AREA_KINDS)) | ({"hail"} if "area" in hail_extent else set()))
        after_tenor = any(str(p["parcel_id"]) in late for p in plist)
        new_line, new_tenor = line, int(_num(hh.tenor_months))
        money: dict[str, Any] = {"capacity": capacity, "line": line, "cover": min(coverage, 9.99)}
        params: dict[str, Any]
        if line <= 0:
            action, code, params = "keep", "ACT_KEEP", money
        elif own or coverage < mp.visit_below:
            action, code, params = "visit", "ACT_VISIT", {"kinds": own or kinds or ["low capacity"]}
        elif area and (coverage < mp.reduce_below or after_tenor):
            action, code = "extend_tenor", "ACT_EXTEND_TENOR"
            params = {"kinds": area, "months": mp.extend_months}
            new_tenor += mp.extend_months
        elif coverage < mp.reduce_below:
            step = float(getattr(policy, "round_down_to", 100.0)) or 100.0
            new_line = float(np.floor(capacity / step) * step)
            action, code = "reduce_undrawn", "ACT_REDUCE_UNDRAWN"
            params = {**money, "new_line": new_line}
        else:
            action, code, params = "keep", "ACT_KEEP", money
        rows.append(
            {
                "owner_ref": hh.owner_ref, "credit_line": line,
                "tenor_months": int(_num(hh.tenor_months)),
                "expected_revenue": round(rev0, 2), "revenue_now": round(now, 2),
                "revenue_low": round(low, 2), "revenue_high": round(high, 2),
                "capacity": round(capacity, 2),
                "coverage": round(coverage, 4) if math.isfinite(coverage) else None,
                "action": action, "new_line": new_line, "new_tenor_months": new_tenor,
                "event_kinds": ",".join(kinds), "reason_codes": code,
                "reasons_en": monitor_reason(code, "en", **params),
                "reasons_zh": monitor_reason(code, "zh", **params),
            }
        )  # fmt: skip
    return pd.DataFrame(rows, columns=list(HOUSEHOLD_COLUMNS))


__all__ = ["HOUSEHOLD_COLUMNS", "household_actions", "parcel_factors"]
