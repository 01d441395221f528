"""Household credit lines from parcel estimates: the most the policy allows, with its reasons.

:func:`size_households` turns the parcel estimates (one row per parcel) into household decisions
(one row per ``owner_ref``): expected revenue, input cost, subsidy income, climate haircut, the
line, its tenor, a decision and up to four reasons, plus a ``limits`` JSON that holds every number
a reader needs to redo the arithmetic by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from agrilend.credit._adjust import align_adjustments
from agrilend.credit._household import (
    MAX_REASONS,
    HouseholdContext,
    ParcelArrays,
    household_rows,
)
from agrilend.credit.policy import CreditPolicy
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

_REQUIRED = ("parcel_id", "owner_ref", "declared_area_ha", "crop", "cultivated_area_ha")
_YIELD = ("yield_t_ha", "yield_low", "yield_high")


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
    adjustments: pd.DataFrame | None = None,
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
    3. Household limits: revenue ``L_rev = e * revenue_share * sum f_p R_p + subsidy.share * S``
       (``S`` = latest yearly subsidy income); with a ``[margin]`` table, margin
       ``L_mar = e * margin.share * max(sum f_p R_p - sum f_p H_p - transfers.rent_in_margin *
       rent, 0) + subsidy.share * S`` with the prudent cost ``H_p`` = the parcel's
       ``cost_high_per_ha`` (a cost model's, with its stated error) x area, else
       ``(1 + margin.cost_uncertainty) * C_p``; input
       ``L_in = input_cover * sum f_p C_p``; area ``L_area = caps.per_area * sum f_p area_p``;
       household ``L_hh = caps.household``. ``e = 1 + evidence_raise`` (the farmer's own
       evidence, see ``adjustments``) raises only the two limits that rest on expected revenue.
    4. ``line = min(L_rev, L_mar, L_in, L_area, L_hh) * (1 - haircuts.climate * risk * (1 -
       climate_relief)) * (1 - evidence_cut)``, rounded down to ``lending.round_down_to``.
    5. Decision: no usable parcel -> ``refer`` with line 0 (never a silent zero); line below
       ``decision.min_line`` -> ``decline`` with line 0; ``refer`` (line kept as the proposal)
       when usable evidence covers less than ``decision.min_evidence_share`` of the declared area,
       haircuts cut more than ``decision.max_auto_haircut`` of the line, observed area is below
       ``decision.min_area_ratio`` of declared, or the subsidised area exceeds
       ``subsidy.max_area_ratio`` x observed area, or (from ``adjustments`` and the parcel
       columns) own evidence or insurance records contradict the imagery, or a title is claimed
       by both sides of a land transfer; else ``approve``.
    6. Tenor: months from ``as_of`` to the last of the household's next harvests (a harvest in
       the month of ``as_of`` counts as twelve months away), plus ``tenor.grace_months``, clipped
       to ``[tenor.min_months, tenor.max_months]``.

    Guarantees (tested): the line never rises when climate risk rises, when a yield falls, when
    a cap or share tightens, or when a cultivated area falls (with the margin limit: the area of
    a parcel not run at a prudent loss; a loss-making parcel's loss shrinks with its area).
    Without the margin limit, multiplying every yield (estimate and interval) by ``k`` moves the
    line before rounding by a factor between ``min(1, k)`` and ``max(1, k)``: a 10 % yield error
    moves the line by at most 10 % (plus one rounding step), unless it carries the line across
    ``decision.min_line``; the margin (revenue less cost) moves further, the same way. Same
    inputs, same output.

    Parameters
    ----------
    parcels
        Parcel estimates (DEVELOPERS.md): needs ``parcel_id, owner_ref, declared_area_ha, crop,
        cultivated_area_ha, yield_t_ha`` and uses, when present, ``yield_low, yield_high,
        declared_crop, crop_mismatch, vigour_class, n_clear_obs, n_pixels, status`` and the
        per-harvest yields of :func:`agrilend.yield_models.yields.estimate_yield`
        (``harvest_s1, yield_s1_t_ha, harvest_s2, yield_s2_t_ha``: a harvest's interval is
        the total's, scaled). Without them a double crop's yield is split between its harvests
        by their reference yields. The area ratio is recomputed from the two areas. Beyond the
        crop (issue 20): ``cost_per_ha`` and ``cost_high_per_ha`` (a cost model's prediction,
        replacing the policy's cost, and its prudent value, :mod:`agrilend.credit.costs`),
        ``rent_per_year`` and ``rented`` (land rented in, :mod:`agrilend.credit.transfers`)
        and ``transfer_conflict`` (a title both sides claim).
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
    adjustments
        Per ``owner_ref``: ``climate_relief``, ``evidence_raise`` and ``evidence_cut`` (shares
        in [0, 1]) and their evidence counts, as
        :func:`agrilend.credit.beyond.household_adjustments` makes them from insurance records
        and the farmer's own evidence. Households absent from it are not adjusted.

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
    ...     "yield_low": [5.2], "yield_high": [8.8], "n_clear_obs": [20], "n_pixels": [100]})
    >>> out = size_households(est, load_policy(), as_of=date(2024, 3, 1))
    >>> row = out.iloc[0]
    >>> round(float(row.expected_revenue), 2), float(row.credit_line), row.decision
    (13800.0, 2500.0, 'approve')
    >>> int(row.tenor_months)
    7
    >>> import json
    >>> print(json.loads(row.reasons_en)[0])  # doctest: +NORMALIZE_WHITESPACE
    line limited to 50% of the prudent margin 5,175 CNY (revenue 13,800 CNY less cost 8,625 CNY
    and rent 0 CNY) plus 80% of subsidy income 0 CNY

    By hand: 5.2 and 8.8 t/ha are the 5th and 95th percentiles (the policy's 90 % interval), 7 the
    median, so the 0.25 quantile is 5.2 + (0.25 - 0.05) / (0.5 - 0.05) x (7 - 5.2) = 6.0 t/ha;
    revenue 1 ha x 6.0 t/ha x 2,300 CNY/t = 13,800 CNY. The cost is 7,500 CNY (500 CNY/mu x
    15/ha), taken 15 % higher in the margin: 8,625 CNY; the margin 5,175 CNY, half of it 2,587.50
    CNY, is below half the revenue (6,900 CNY), the input cost and the caps, so the line is 2,500
    CNY (rounded down to 100); the maize harvest in September is 6 months after March, plus one
    month of grace: 7 months.
    """
    as_of = as_of or date.today()
    missing = [c for c in (*_REQUIRED, "yield_t_ha") if c not in parcels.columns]
    if missing:
        raise TableReadError(
            f"parcel estimates lack the columns {missing}; pass the output of assess() or a "
            "DataFrame with the parcel-estimate columns of DEVELOPERS.md"
        )
    if "trust_haircut" in parcels.columns and "trust_flags" not in parcels.columns:
        # a haircut on a claim must say which checks it rests on: the reason lists them
        raise TableReadError(
            "parcel estimates have a trust_haircut column but no trust_flags column; give "
            "both (the flags name the checks each haircut rests on, as "
            "agrilend.parcels.claims_as_titles writes them) or drop trust_haircut"
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
    adj = align_adjustments(adjustments, hh_keys)
    g = 1.0 - policy.haircuts["climate"] * risk * (1.0 - adj["climate_relief"])
    keep = 1.0 - adj["evidence_cut"]
    e_up = 1.0 + adj["evidence_raise"]

    base = _limits(p, n, sub["income"], policy, e_up)
    line_raw = base["line"] * g * keep

    # counterfactual lines, each without one cut: how much each cut the line
    cf: dict[str, np.ndarray] = {}
    ones = np.ones_like(p.f_vig)
    for code, kw in {
        "POOR_VIGOUR": {"f_vig": ones},
        "LOW_DATA_QUALITY": {"f_q": ones},
        "AREA_MISMATCH": {"f_am": ones},
        "CROP_MISMATCH": {"f_cm": ones},
        "EARLY_SEASON": {"f_es": ones},
        "CLAIM_TRUST": {"f_claim": ones},
        "AREA_BELOW_DECLARED": {"area": np.where(p.usable, np.maximum(p.area, p.declared), 0.0)},
        "LOW_YIELD": {"rev_ha": p.rev_ha_ref},
    }.items():
        cf[code] = _limits(_replace(p, **kw), n, sub["income"], policy, e_up)["line"] * g * keep
    cf["CLIMATE_RISK"] = base["line"] * keep
    cf["PARTIAL_EVIDENCE"] = (
        _limits(_with_declared(p, df, policy), n, sub["income"], policy, e_up)["line"] * g * keep
    )
    # raises: the line without them (below line_raw), so "cut" reads as the raise's size
    cf["INSURED"] = 2 * line_raw - base["line"] * (1 - policy.haircuts["climate"] * risk) * keep
    cf["OWN_EVIDENCE"] = 2 * line_raw - _limits(p, n, sub["income"], policy)["line"] * g * keep

    ctx = HouseholdContext(
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
        adj=adj,
    )
    out = pd.DataFrame(household_rows(ctx, hh_keys, as_of=as_of), columns=list(DECISION_COLUMNS))
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


def _harvest_columns(df: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``harvest_sK`` names and ``yield_sK_t_ha`` yields of the parcels, read once."""
    out = []
    for k in (1, 2):
        hc, yc = f"harvest_s{k}", f"yield_s{k}_t_ha"
        if hc in df.columns and yc in df.columns:
            out.append((_text(df, hc), _num(df, yc)))
    return out


def _harvest_yield(
    columns: list[tuple[np.ndarray, np.ndarray]], name: str, rows: np.ndarray
) -> np.ndarray:
    """A harvest's own point yield from the ``harvest_sK``/``yield_sK_t_ha`` columns, else NaN."""
    out = np.full(int(rows.sum()), np.nan)
    for names, values in columns:
        out = np.where(names[rows] == name, values[rows], out)
    return out


def _parcel_arrays(
    df: pd.DataFrame, hh: np.ndarray, policy: CreditPolicy, refs: dict[str, float]
) -> tuple[ParcelArrays, np.ndarray, np.ndarray]:
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
    own_columns = _harvest_columns(df)
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
            own = _harvest_yield(own_columns, h.name, rows)
            has = np.isfinite(own)
            m_, l_, h_ = mid[rows], low[rows], high[rows]
            with np.errstate(divide="ignore", invalid="ignore"):
                r_low = np.where(m_ > 0, l_ / m_, 1.0)
                r_high = np.where(m_ > 0, h_ / m_, 1.0)
            y_mid = np.where(has, own, m_ * share)
            y_low = np.where(has, own * r_low, l_ * share)
            y_hi = np.where(has, own * r_high, h_ * share)
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
    own_cost = _num(df, "cost_per_ha")
    cost_ha = np.where(np.isfinite(own_cost) & (own_cost >= 0), own_cost, cost_ha)
    # the prudent cost of the margin limit: a cost model's own (its stated error), else the
    # cost raised by the policy's margin.cost_uncertainty
    high = _num(df, "cost_high_per_ha")
    u = 1.0 + policy.margin.get("cost_uncertainty", 0.0)
    cost_high = np.where(np.isfinite(high) & (high >= cost_ha), high, cost_ha * u)
    why[(status == "error") & (why == "")] = "estimate failed"
    why[~np.isfinite(area) & (why == "")] = "no cultivated area estimate"
    why[(area < 0) & (why == "")] = "negative cultivated area"
    why[(mid < 0) & (why == "")] = "negative yield estimate"
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
    early = usable & (
        df["early_season"].fillna(False).astype(bool).to_numpy()
        if "early_season" in df.columns
        else np.zeros(m, bool)
    )
    season = policy.season
    es_cut = season["early_season_haircut"] if season["early_season"] == "haircut" else 0.0
    f_es = np.where(early, 1 - es_cut, 1.0)
    p = ParcelArrays(
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
        f_es=f_es,
        early=early,
        yields=yields,
        cost_high_ha=np.where(usable, cost_high, 0.0),
        rent=np.nan_to_num(np.maximum(_num(df, "rent_per_year", default=0.0), 0.0), nan=0.0),
        rented=_flag(df, "rented"),
        conflict=_flag(df, "transfer_conflict"),
        f_claim=(1.0 - np.clip(np.nan_to_num(_num(df, "trust_haircut"), nan=0.0), 0.0, 1.0))
        if "trust_haircut" in df.columns
        else None,
    )
    return p, why, crops


def _flag(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return df[col].astype(object).where(df[col].notna(), False).astype(bool).to_numpy()


def _replace(p: ParcelArrays, **changes: np.ndarray) -> ParcelArrays:
    return ParcelArrays(**{**p.__dict__, **changes})


def _with_declared(p: ParcelArrays, df: pd.DataFrame, policy: CreditPolicy) -> ParcelArrays:
    """Unusable parcels counted at their declared area, crop and reference yields."""
    decl_crop = _text(df, "declared_crop")
    rev = p.rev_ha.copy()
    cost = p.cost_ha.copy()
    high = p.cost_high_ha.copy()
    area = p.area.copy()
    for i in np.flatnonzero(~p.usable):
        crop = decl_crop[i]
        if crop not in policy.crops:
            continue
        hs = policy.harvests_of(str(crop))
        rev[i] = sum(h.reference_yield_t_ha * h.price_per_t for h in hs)
        cost[i] = sum(h.cost_per_ha for h in hs)
        high[i] = cost[i] * (1.0 + policy.margin.get("cost_uncertainty", 0.0))
        area[i] = p.declared[i]
    return _replace(p, rev_ha=rev, rev_ha_ref=rev, cost_ha=cost, cost_high_ha=high, area=area)


def _limits(
    p: ParcelArrays,
    n: int,
    subsidy: np.ndarray,
    policy: CreditPolicy,
    e_up: np.ndarray | float = 1.0,
) -> dict[str, Any]:
    f = p.f_vig * p.f_q * p.f_am * p.f_cm * p.f_es
    if p.f_claim is not None:
        f = f * p.f_claim

    def total(x: np.ndarray) -> np.ndarray:
        return np.bincount(p.hh, weights=x, minlength=n)

    out: dict[str, Any] = {
        "revenue": total(p.area * p.rev_ha),
        "revenue_cut": total(f * p.area * p.rev_ha),
        "cost": total(p.area * p.cost_ha),
        "cost_cut": total(f * p.area * p.cost_ha),
        "cost_high": total(p.area * p.cost_high_ha),
        "cost_high_cut": total(f * p.area * p.cost_high_ha),
        "area": total(p.area),
        "area_cut": total(f * p.area),
        "rent": total(p.rent),
    }
    sub = policy.subsidy_share * subsidy

    def margin(revenue: np.ndarray, cost_high: np.ndarray) -> np.ndarray:
        if not policy.margin:
            return np.full(n, np.inf)
        rent_share = policy.transfers.get("rent_in_margin", 1.0)
        value = revenue - cost_high - rent_share * out["rent"]
        return e_up * policy.margin["share"] * np.maximum(value, 0.0) + sub

    out["margin_cut"] = margin(out["revenue_cut"], out["cost_high_cut"])
    lim = np.vstack(
        [
            e_up * policy.revenue_share * out["revenue_cut"] + sub,
            out["margin_cut"],
            policy.input_cover * out["cost_cut"],
            policy.cap_per_ha * out["area_cut"],
            np.full(n, policy.cap_household),
        ]
    )
    out["limits"] = lim
    out["line"] = lim.min(axis=0)
    out["no_haircut_line"] = np.vstack(
        [
            e_up * policy.revenue_share * out["revenue"] + sub,
            margin(out["revenue"], out["cost_high"]),
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


def credit_totals(households: pd.DataFrame) -> dict[str, float]:
    """The lines approved, and the lines proposed for households referred to a person.

    A referred household's ``credit_line`` is a proposal a person still decides on: adding it
    to the approved lines would overstate what the evidence lends.

    Examples
    --------
    >>> hh = pd.DataFrame({"decision": ["approve", "refer", "decline"],
    ...                    "credit_line": [5000.0, 2000.0, 0.0]})
    >>> credit_totals(hh)
    {'approved': 5000.0, 'referred': 2000.0}
    """
    line = pd.to_numeric(households.get("credit_line", pd.Series(dtype=float)), errors="coerce")
    decision = households.get("decision", pd.Series("", index=households.index)).astype(str)
    return {
        "approved": float(line[decision == "approve"].sum()),
        "referred": float(line[decision == "refer"].sum()),
    }


__all__ = [
    "DECISION_COLUMNS",
    "MAX_REASONS",
    "credit_totals",
    "prudent_yield",
    "size_households",
]
