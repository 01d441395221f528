"""Household credit lines from parcel estimates: the most the policy allows, with its reasons.

:func:`size_households` turns the parcel estimates (one row per parcel) into household decisions
(one row per ``owner_ref``): expected revenue, input cost, subsidy income, climate haircut, the
line, its tenor, a decision and up to four reasons, plus a ``limits`` JSON that holds every number
a reader needs to redo the arithmetic by hand.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from agrilend.credit.policy import CreditPolicy
from agrilend.credit.reasons import REASONS, reason_text
from agrilend.credit.subsidy import SubsidyMatch, household_subsidies
from agrilend.errors import PolicyError, TableReadError

log = logging.getLogger(__name__)

#: Columns of the household decisions table, in order.
DECISION_COLUMNS: tuple[str, ...] = (
    "owner_ref",
    "n_parcels",
    "parcel_ids",
    "declared_area_ha",
    "cultivated_area_ha",
    "expected_revenue",
    "input_cost",
    "subsidy_income",
    "climate_haircut",
    "credit_line",
    "currency",
    "tenor_months",
    "decision",
    "reason_codes",
    "reasons_en",
    "reasons_zh",
    "limits",
)

#: At most this many reasons per household.
MAX_REASONS = 4

#: Per-harvest yield columns, used when present (``yield_t_ha_summer_maize`` ...); otherwise a
#: parcel's single yield is split between its crop's harvests by their reference yields.
HARVEST_YIELD_COLUMNS = ("yield_t_ha_{h}", "yield_low_{h}", "yield_high_{h}")

_REQUIRED = ("parcel_id", "owner_ref", "declared_area_ha", "crop", "cultivated_area_ha")
_YIELD = ("yield_t_ha", "yield_low", "yield_high")
# Tie-break order of reasons with equal cuts: decision reasons first, then the catalogue order.
_ORDER = {c: i for i, c in enumerate(REASONS)}
_LIMITS = ("revenue", "input", "area", "household")
_LIMIT_CODE = {
    "revenue": "REVENUE_LIMIT",
    "input": "INPUT_COST_LIMIT",
    "area": "CAP_PER_AREA",
    "household": "CAP_HOUSEHOLD",
}


@dataclass
class _Parcels:
    """Per-parcel arrays, aligned with the input rows."""

    hh: np.ndarray  # household index
    usable: np.ndarray  # bool
    area: np.ndarray  # observed cultivated ha (0 where unusable)
    declared: np.ndarray
    rev_ha: np.ndarray  # prudent revenue per ha, before haircuts
    rev_ha_ref: np.ndarray  # same, yields raised to the reference where they are low
    cost_ha: np.ndarray
    f_vig: np.ndarray
    f_q: np.ndarray
    f_am: np.ndarray
    f_cm: np.ndarray
    yields: dict[str, np.ndarray]  # harvest -> central yield estimate t/ha (NaN where not grown)


def prudent_yield(
    mid: np.ndarray | float,
    low: np.ndarray | float,
    high: np.ndarray | float,
    *,
    quantile: float,
    interval: float,
) -> np.ndarray:
    """Yield at a quantile of an estimate's interval, interpolated linearly.

    ``low`` and ``high`` are taken as the ``(1 - interval) / 2`` and ``(1 + interval) / 2``
    quantiles and ``mid`` as the median; quantiles outside the interval are clamped to its ends
    (so the result is a weighted mean of two inputs with weights >= 0, and never rises when they
    fall). Where ``low`` or ``high`` is missing the median is used.

    Examples
    --------
    >>> float(prudent_yield(6.0, 4.0, 8.0, quantile=0.25, interval=0.8))  # 4 + 0.15/0.4 * 2
    4.75
    >>> float(prudent_yield(6.0, 4.0, 8.0, quantile=0.05, interval=0.8))
    4.0
    """
    mid_a = np.asarray(mid, dtype=float)
    low_a = np.where(np.isfinite(low), low, mid_a)
    high_a = np.where(np.isfinite(high), high, mid_a)
    q_lo, q_hi = (1 - interval) / 2, (1 + interval) / 2
    q = min(max(quantile, q_lo), q_hi)
    if q <= 0.5:
        t = (q - q_lo) / (0.5 - q_lo)
        return np.asarray((1 - t) * low_a + t * mid_a, dtype=float)
    t = (q - 0.5) / (q_hi - 0.5)
    return np.asarray((1 - t) * mid_a + t * high_a, dtype=float)


def size_households(
    parcels: pd.DataFrame,
    policy: CreditPolicy,
    *,
    subsidies: SubsidyMatch | pd.DataFrame | None = None,
    climate: float | Mapping[str, float] | pd.Series | None = None,
    as_of: date | None = None,
    reference_yields: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Size a credit line for every household from its parcels' estimates.

    The arithmetic, which the ``limits`` JSON of each row repeats with its numbers:

    1. Per usable parcel *p* (status not ``error``, a crop the policy knows, a finite cultivated
       area and, for a cropped parcel, a finite yield) and each harvest *h* of its crop:
       prudent yield ``y_h`` = the ``lending.yield_quantile`` of the yield interval (see
       :func:`prudent_yield`); revenue ``R_p = area_p * sum_h y_h * price_h``; cost
       ``C_p = area_p * sum_h cost_h``.
    2. Parcel haircut factor ``f_p`` = product of ``(1 - haircut)`` over what applies to it:
       ``poor_vigour`` (vigour class ``poor``), ``low_quality`` (``n_clear_obs`` or ``n_pixels``
       below ``[quality]``), ``area_mismatch`` (area ratio below ``mismatch.min_area_ratio``),
       ``crop_mismatch``.
    3. Household limits: revenue ``L_rev = revenue_share * sum f_p R_p + subsidy.share * S``
       (``S`` = latest yearly subsidy income); input ``L_in = input_cover * sum f_p C_p``; area
       ``L_area = caps.per_area * sum f_p area_p``; household ``L_hh = caps.household``.
    4. ``line = min(L_rev, L_in, L_area, L_hh) * (1 - haircuts.climate * risk)``, rounded down to
       ``lending.round_down_to``.
    5. Decision: no usable parcel -> ``refer`` with line 0 (never a silent zero); line below
       ``decision.min_line`` -> ``decline`` with line 0; ``refer`` (line kept as the proposal)
       when usable evidence covers less than ``decision.min_evidence_share`` of the declared area,
       haircuts cut more than ``decision.max_auto_haircut`` of the line, observed area is below
       ``decision.min_area_ratio`` of declared, or the subsidised area exceeds
       ``subsidy.max_area_ratio`` x observed area; else ``approve``.
    6. Tenor: months from ``as_of`` to the last of the household's next harvests (a harvest in
       the month of ``as_of`` counts as twelve months away), plus ``tenor.grace_months``, clipped
       to ``[tenor.min_months, tenor.max_months]``.

    Guarantees (tested): the line never rises when climate risk rises, when a cultivated area or
    a yield falls, or when a cap or share tightens. Multiplying every yield (estimate and
    interval) by ``k`` moves the line before rounding by a factor between ``min(1, k)`` and
    ``max(1, k)``: a 10 % yield error moves the line by at most 10 % (plus one rounding step),
    unless it carries the line across ``decision.min_line``. Same inputs, same output.

    Parameters
    ----------
    parcels
        Parcel estimates (DEVELOPERS.md): needs ``parcel_id, owner_ref, declared_area_ha, crop,
        cultivated_area_ha, yield_t_ha`` and uses, when present, ``yield_low, yield_high,
        declared_crop, crop_mismatch, area_ratio, vigour_class, n_clear_obs, n_pixels, status``
        and per-harvest yields ``yield_t_ha_<harvest>`` (with ``yield_low_<harvest>``,
        ``yield_high_<harvest>``).
    policy
        The credit policy.
    subsidies
        Matched subsidy records (:class:`SubsidyMatch`, or a DataFrame with ``owner_ref``,
        ``year``, ``amount``, ``area_ha``, ``currency``).
    climate
        Climate risk score in [0, 1]: one for the county (a number, or the dict of
        :func:`agrilend.yield_models.weather.climate_risk`, whose ``risk_score`` is used), or
        per ``owner_ref`` (households missing from it get the highest given score).
    as_of
        Date of the decision (for tenors and the subsidy year); default today.
    reference_yields
        County reference yield (t/ha) per harvest name (``winter_wheat``, ``maize``...), e.g.
        from ``county_yields.csv``; overrides the policy's ``reference_yield_t_ha``, which is used
        for the LOW_YIELD reason (central estimate below ``mismatch.low_yield_ratio`` x
        reference) and to split a double crop's single yield between its harvests.

    Returns
    -------
    pandas.DataFrame
        One row per household (sorted by ``owner_ref``), the columns of
        :data:`DECISION_COLUMNS`. ``reason_codes``, ``reasons_en`` and ``reasons_zh`` are JSON
        arrays (strings, aligned: the i-th text explains the i-th code), like ``limits`` a JSON
        object, so every table format keeps them; ``tenor_months`` is ``<NA>`` without a line.

    Raises
    ------
    TableReadError
        A required column is missing.
    PolicyError
        A climate score is outside [0, 1], or subsidies are in another currency.

    Examples
    --------
    >>> from agrilend.credit import load_policy
    >>> est = pd.DataFrame({
    ...     "parcel_id": ["P1"], "owner_ref": ["H-000000000001"], "declared_area_ha": [1.0],
    ...     "crop": ["maize"], "cultivated_area_ha": [1.0], "yield_t_ha": [7.0],
    ...     "yield_low": [5.0], "yield_high": [9.0], "n_clear_obs": [20], "n_pixels": [100]})
    >>> out = size_households(est, load_policy(), as_of=date(2024, 3, 1))
    >>> row = out.iloc[0]
    >>> float(row.expected_revenue), float(row.credit_line), row.decision, int(row.tenor_months)
    (13225.0, 6600.0, 'approve', 7)
    >>> import json
    >>> print(json.loads(row.reasons_en)[0])
    line limited to 50% of prudent expected revenue 13,225 CNY plus 80% of subsidy income 0 CNY

    Here the prudent yield is 5.75 t/ha (the 0.25 quantile of the 80 % interval 5-9 around 7),
    revenue 1 ha x 5.75 t/ha x 2,300 CNY/t = 13,225 CNY, half of it 6,612.5 CNY, below the input
    cost 7,500 CNY (500 CNY/mu x 15), so the line is 6,600 CNY after rounding down to 100; the
    maize harvest in September is 6 months after March, plus one month of grace.
    """
    as_of = as_of or date.today()
    missing = [c for c in (*_REQUIRED, "yield_t_ha") if c not in parcels.columns]
    if missing:
        raise TableReadError(
            f"parcel estimates lack the columns {missing}; pass the output of assess() or a "
            "DataFrame with the parcel-estimate columns of DEVELOPERS.md"
        )
    if parcels.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DECISION_COLUMNS})
    # sorted by household and parcel, so the output never depends on the input's row order
    order = np.lexsort(
        (parcels["parcel_id"].astype(str).to_numpy(), parcels["owner_ref"].astype(str).to_numpy())
    )
    df = parcels.iloc[order].reset_index(drop=True)
    owners = df["owner_ref"].astype(str).to_numpy()
    hh_keys, hh = np.unique(owners, return_inverse=True)
    n = len(hh_keys)

    refs = {k: float(v) for k, v in (reference_yields or {}).items()}
    p, unusable_why, crops = _parcel_arrays(df, hh, policy, refs)
    sub = _subsidy_by_household(subsidies, hh_keys, policy, as_of)
    risk = _climate_by_household(climate, hh_keys)
    g = 1.0 - policy.haircuts["climate"] * risk

    base = _limits(p, n, sub["income"], policy)
    line_raw = base["line"] * g

    # counterfactual lines, each without one cut: how much each cut the line
    cf: dict[str, np.ndarray] = {}
    ones = np.ones_like(p.f_vig)
    for code, kw in {
        "POOR_VIGOUR": {"f_vig": ones},
        "LOW_DATA_QUALITY": {"f_q": ones},
        "AREA_MISMATCH": {"f_am": ones},
        "CROP_MISMATCH": {"f_cm": ones},
        "AREA_BELOW_DECLARED": {"area": np.where(p.usable, np.maximum(p.area, p.declared), 0.0)},
        "LOW_YIELD": {"rev_ha": p.rev_ha_ref},
    }.items():
        cf[code] = _limits(_replace(p, **kw), n, sub["income"], policy)["line"] * g
    cf["CLIMATE_RISK"] = base["line"]
    cf["PARTIAL_EVIDENCE"] = (
        _limits(_with_declared(p, df, policy), n, sub["income"], policy)["line"] * g
    )

    ctx = _Context(
        df=df,
        hh=hh,
        p=p,
        crops=crops,
        why=unusable_why,
        policy=policy,
        base=base,
        line_raw=line_raw,
        g=g,
        risk=risk,
        cf=cf,
        sub=sub,
        pids=df["parcel_id"].astype(str).to_numpy(dtype=object),
        bounds=np.searchsorted(hh, np.arange(n + 1)),
        refs=refs,
    )
    rows = [_household_row(i, str(o), ctx, as_of=as_of) for i, o in enumerate(hh_keys)]
    out = pd.DataFrame(rows, columns=list(DECISION_COLUMNS))
    out["tenor_months"] = out["tenor_months"].astype("Int64")
    return out


# --- per-parcel arrays --------------------------------------------------------------------------


def _num(df: pd.DataFrame, col: str, default: float = np.nan) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), default)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _text(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), "", dtype=object)
    return df[col].astype(object).where(df[col].notna(), "").astype(str).to_numpy(dtype=object)


def _parcel_arrays(
    df: pd.DataFrame, hh: np.ndarray, policy: CreditPolicy, refs: dict[str, float]
) -> tuple[_Parcels, np.ndarray, np.ndarray]:
    m = len(df)
    crops = _text(df, "crop")
    area = _num(df, "cultivated_area_ha")
    declared = np.nan_to_num(_num(df, "declared_area_ha"), nan=0.0)
    status = _text(df, "status")
    mid, low, high = (_num(df, c) for c in _YIELD)
    why = np.full(m, "", dtype=object)
    rev_ha = np.zeros(m)
    rev_ha_ref = np.zeros(m)
    cost_ha = np.zeros(m)
    yields: dict[str, np.ndarray] = {}
    for crop in np.unique(crops):
        rows = crops == crop
        if crop not in policy.crops:
            why[rows] = "no crop estimate" if crop == "" else f"crop {crop!r} not in the policy"
            continue
        harvests = policy.harvests_of(str(crop))
        ref_total = sum(refs.get(h.name, h.reference_yield_t_ha) for h in harvests) or 1.0
        for h in harvests:
            share = (
                refs.get(h.name, h.reference_yield_t_ha) / ref_total if len(harvests) > 1 else 1.0
            )
            hm, hl, hh_ = (
                _num(df, col.format(h=h.name))[rows] if col.format(h=h.name) in df else None
                for col in HARVEST_YIELD_COLUMNS
            )
            y_mid = (
                mid[rows] * share
                if hm is None
                else np.where(np.isfinite(hm), hm, mid[rows] * share)
            )
            y_low = (
                low[rows] * share
                if hl is None
                else np.where(np.isfinite(hl), hl, low[rows] * share)
            )
            y_hi = (
                high[rows] * share
                if hh_ is None
                else np.where(np.isfinite(hh_), hh_, high[rows] * share)
            )
            y = prudent_yield(
                y_mid,
                y_low,
                y_hi,
                quantile=policy.yield_quantile,
                interval=policy.yield_interval,
            )
            y = np.maximum(y, 0.0)
            yields.setdefault(h.name, np.full(m, np.nan))[rows] = y_mid
            price = h.price_per_t
            rev_ha[rows] += np.where(np.isfinite(y), y * price, np.nan)
            # the LOW_YIELD counterfactual: the estimate (and its interval) lifted to the reference
            ref = refs.get(h.name, h.reference_yield_t_ha)
            low_y = y_mid < policy.low_yield_ratio * ref
            lifted = np.where(y_mid > 0, y * ref / np.where(y_mid > 0, y_mid, 1.0), ref)
            rev_ha_ref[rows] += np.where(low_y, lifted, y) * price
            cost_ha[rows] += h.cost_per_ha
        if harvests:
            bad = rows & ~np.isfinite(rev_ha) & (why == "")
            why[bad] = "no yield estimate"
    why[(status == "error") & (why == "")] = "estimate failed"
    why[~np.isfinite(area) & (why == "")] = "no cultivated area estimate"
    usable = why == ""
    area_u = np.where(usable, np.maximum(np.nan_to_num(area, nan=0.0), 0.0), 0.0)

    hc = policy.haircuts
    vig = _text(df, "vigour_class")
    f_vig = np.where(usable & (vig == "poor"), 1 - hc["poor_vigour"], 1.0)
    n_obs = _num(df, "n_clear_obs", default=np.inf)
    n_pix = _num(df, "n_pixels", default=np.inf)
    low_q = ~(n_obs >= policy.min_clear_obs) | ~(n_pix >= policy.min_pixels)  # NaN = low
    f_q = np.where(usable & low_q, 1 - hc["low_quality"], 1.0)
    ratio = np.divide(area_u, declared, out=np.full(m, np.inf), where=declared > 0)
    f_am = np.where(usable & (ratio < policy.min_area_ratio), 1 - hc["area_mismatch"], 1.0)
    if "crop_mismatch" in df.columns:
        cm = df["crop_mismatch"].fillna(False).astype(bool).to_numpy()
    else:
        decl_crop = _text(df, "declared_crop")
        cm = (decl_crop != "") & (decl_crop != crops)
    f_cm = np.where(usable & cm, 1 - hc["crop_mismatch"], 1.0)
    p = _Parcels(
        hh=hh,
        usable=usable,
        area=area_u,
        declared=declared,
        rev_ha=np.where(usable, np.nan_to_num(rev_ha), 0.0),
        rev_ha_ref=np.where(usable, np.nan_to_num(rev_ha_ref), 0.0),
        cost_ha=np.where(usable, cost_ha, 0.0),
        f_vig=f_vig,
        f_q=f_q,
        f_am=f_am,
        f_cm=f_cm,
        yields=yields,
    )
    return p, why, crops


def _replace(p: _Parcels, **changes: np.ndarray) -> _Parcels:
    return _Parcels(**{**p.__dict__, **changes})


def _with_declared(p: _Parcels, df: pd.DataFrame, policy: CreditPolicy) -> _Parcels:
    """Unusable parcels counted at their declared area, crop and reference yields."""
    decl_crop = _text(df, "declared_crop")
    rev = p.rev_ha.copy()
    cost = p.cost_ha.copy()
    area = p.area.copy()
    for i in np.flatnonzero(~p.usable):
        crop = decl_crop[i]
        if crop not in policy.crops:
            continue
        hs = policy.harvests_of(str(crop))
        rev[i] = sum(h.reference_yield_t_ha * h.price_per_t for h in hs)
        cost[i] = sum(h.cost_per_ha for h in hs)
        area[i] = p.declared[i]
    return _replace(p, rev_ha=rev, rev_ha_ref=rev, cost_ha=cost, area=area)


def _limits(p: _Parcels, n: int, subsidy: np.ndarray, policy: CreditPolicy) -> dict[str, Any]:
    f = p.f_vig * p.f_q * p.f_am * p.f_cm

    def total(x: np.ndarray) -> np.ndarray:
        return np.bincount(p.hh, weights=x, minlength=n)

    out: dict[str, Any] = {
        "revenue": total(p.area * p.rev_ha),
        "revenue_cut": total(f * p.area * p.rev_ha),
        "cost": total(p.area * p.cost_ha),
        "cost_cut": total(f * p.area * p.cost_ha),
        "area": total(p.area),
        "area_cut": total(f * p.area),
    }
    lim = np.vstack(
        [
            policy.revenue_share * out["revenue_cut"] + policy.subsidy_share * subsidy,
            policy.input_cover * out["cost_cut"],
            policy.cap_per_ha * out["area_cut"],
            np.full(n, policy.cap_household),
        ]
    )
    out["limits"] = lim
    out["line"] = lim.min(axis=0)
    out["no_haircut_line"] = np.vstack(
        [
            policy.revenue_share * out["revenue"] + policy.subsidy_share * subsidy,
            policy.input_cover * out["cost"],
            policy.cap_per_ha * out["area"],
            np.full(n, policy.cap_household),
        ]
    ).min(axis=0)
    return out


# --- household inputs ---------------------------------------------------------------------------


def _subsidy_by_household(
    subsidies: SubsidyMatch | pd.DataFrame | None,
    keys: np.ndarray,
    policy: CreditPolicy,
    as_of: date,
) -> dict[str, np.ndarray]:
    n = len(keys)
    out = {"income": np.zeros(n), "area": np.zeros(n), "year": np.full(n, np.nan)}
    if subsidies is None:
        return out
    table = household_subsidies(subsidies, as_of_year=as_of.year, currency=policy.currency)
    if table.empty:
        return out
    t = table.reindex(pd.Index(keys, name="owner_ref"))
    out["income"] = t["subsidy_income"].fillna(0.0).to_numpy(dtype=float)
    out["area"] = t["subsidised_area_ha"].fillna(0.0).to_numpy(dtype=float)
    out["year"] = t["subsidy_year"].to_numpy(dtype=float, na_value=np.nan)
    return out


def _climate_by_household(
    climate: float | Mapping[str, float] | pd.Series | None, keys: np.ndarray
) -> np.ndarray:
    n = len(keys)
    if climate is None:
        return np.zeros(n)
    if isinstance(climate, Mapping) and "risk_score" in climate:
        climate = float(climate["risk_score"])  # the dict of yield_models.weather.climate_risk
    if isinstance(climate, int | float | np.floating):
        values = pd.Series(float(climate), index=keys)
    else:
        given = pd.Series(dict(climate) if isinstance(climate, Mapping) else climate, dtype=float)
        for k, v in given.items():
            if not (0.0 <= v <= 1.0):
                raise PolicyError(
                    f"climate risk for household {k!r} is {v!r}; scores must lie in [0, 1]",
                    key="climate",
                )
        fill = float(given.max()) if len(given) else 0.0
        values = given.reindex(keys)
        if values.isna().any():
            log.info(
                "%d households have no climate score; they get the highest, %.2f",
                int(values.isna().sum()),
                fill,
            )
        values = values.fillna(fill)
    r = values.to_numpy(dtype=float)
    if not np.all((r >= 0) & (r <= 1)):
        raise PolicyError(
            f"climate risk {climate!r} is outside [0, 1]; pass a score between 0 and 1",
            key="climate",
        )
    return r


# --- one household's row ------------------------------------------------------------------------


@dataclass
class _Context:
    """Everything the per-household step reads: parcel arrays and household arrays."""

    df: pd.DataFrame
    hh: np.ndarray
    p: _Parcels
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


def _fmt_ids(ids: list[str], k: int = 3) -> str:
    return ", ".join(ids[:k]) + (f" +{len(ids) - k}" if len(ids) > k else "")


def _tenor(months: list[int], as_of: date, policy: CreditPolicy) -> int | None:
    if not months:
        return None
    ahead = [((m - as_of.month) % 12) or 12 for m in months]
    return int(min(max(max(ahead) + policy.grace_months, policy.min_months), policy.max_months))


def _household_row(i: int, owner: str, ctx: _Context, *, as_of: date) -> dict[str, Any]:
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
    limits = _limits_json(i, idx, ctx, line=line, decision=decision, reasons=reasons, pids=pids)
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
    i: int, idx: np.ndarray, ctx: _Context, *, area: float, declared_usable: float
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
    params: dict[str, Any] = {
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
        elif code == "AREA_MISMATCH":
            prm |= {"min_ratio": pol.min_area_ratio, "haircut": hc["area_mismatch"]}
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


def _worst_yield(idx: np.ndarray, ctx: _Context) -> dict[str, Any] | None:
    """The harvest whose area-weighted prudent yield falls furthest below its reference."""
    pol, p = ctx.policy, ctx.p
    best: dict[str, Any] | None = None
    ok = p.usable[idx] & (p.area[idx] > 0)
    for name, y_all in p.yields.items():
        y = y_all[idx]
        grown = ok & np.isfinite(y)
        if not grown.any():
            continue
        y_mean = float(np.average(y[grown], weights=p.area[idx][grown]))
        ref = ctx.refs.get(name, pol.harvests[name].reference_yield_t_ha)
        if ref > 0 and y_mean < pol.low_yield_ratio * ref:
            shortfall = 1 - y_mean / ref
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
    ctx: _Context,
    *,
    line: float,
    decision: str,
    reasons: list[tuple[str, float, dict[str, Any]]],
    pids: list[str],
) -> str:
    pol, p = ctx.policy, ctx.p
    base, sub = ctx.base, ctx.sub
    line_raw, g, risk = float(ctx.line_raw[i]), float(ctx.g[i]), float(ctx.risk[i])
    f = (p.f_vig * p.f_q * p.f_am * p.f_cm)[idx]
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
                "haircut_factor": round(float(f[k]), 4),
            }
        else:
            entry["unusable"] = str(ctx.why[j])
        parcels.append(entry)
    doc = {
        "policy": pol.describe(),
        "currency": pol.currency,
        "formula": "line = floor(min(limits) * climate_factor / round_down_to) * round_down_to",
        "revenue": _r2(base["revenue"][i]),
        "revenue_after_haircuts": _r2(base["revenue_cut"][i]),
        "revenue_share": pol.revenue_share,
        "subsidy_income": _r2(sub["income"][i]),
        "subsidy_share": pol.subsidy_share,
        "input_cost": _r2(base["cost"][i]),
        "input_cost_after_haircuts": _r2(base["cost_cut"][i]),
        "input_cover": pol.input_cover,
        "area_ha": round(float(base["area"][i]), 4),
        "area_after_haircuts_ha": round(float(base["area_cut"][i]), 4),
        "cap_per_ha": _r2(pol.cap_per_ha),
        "limits": {name: _r2(v) for name, v in zip(_LIMITS, lim, strict=True)},
        "binding": binding,
        "climate_risk": round(float(risk), 4),
        "climate_factor": round(float(g), 4),
        "line_before_rounding": _r2(line_raw),
        "round_down_to": pol.round_down_to,
        "line": _r2(line),
        "decision": decision,
        "reasons": [
            {"code": c, "cut": _r2(cut), "params": {k: _tidy(v) for k, v in prm.items()}}
            for c, cut, prm in reasons
        ],
        "parcels": parcels,
    }
    return json.dumps(doc, ensure_ascii=False, default=float)


__all__ = [
    "DECISION_COLUMNS",
    "HARVEST_YIELD_COLUMNS",
    "MAX_REASONS",
    "prudent_yield",
    "size_households",
]
