"""The report's blocks on credit beyond the crop: the price evidence and what would raise the line.

Self-contained: it reads :attr:`agrilend.assess.Assessment.credit_extras` (an
:class:`agrilend.credit.ExtrasResult`, present when prices, transfers, insurance or own evidence
were given) and returns what the partial ``_credit_beyond.html.j2`` shows; ``None`` without them.
"""

from __future__ import annotations

import json
from typing import Any

from agrilend.report.i18n import fmt_money, fmt_percent

_LABELS = {
    "en": {
        "prices": "Price evidence",
        "harvest": "Harvest",
        "months": "Harvest-month prices",
        "quantile": "Low quantile",
        "trend": "Trend at next harvest",
        "haircut": "Volatility haircut",
        "prudent": "Prudent price",
        "policy": "Policy price",
        "shock": "Price-shock scenario",
        "policy_only": "too few market prices: the policy's price",
        "raise": "What would raise the line",
        "no_raise": "No single step of the farmer's own would raise this line.",
        "per_t": "/t",
    },
    "zh": {
        "prices": "价格依据",
        "harvest": "收获季",
        "months": "收获月价格",
        "quantile": "低分位价",
        "trend": "下次收获趋势价",
        "haircut": "波动扣减",
        "prudent": "审慎价格",
        "policy": "政策价格",
        "shock": "价格冲击情景",
        "policy_only": "市场价格不足：采用政策价格",
        "raise": "提额建议",
        "no_raise": "农户自身的单项补充不会提高此额度。",
        "per_t": "/吨",
    },
}


def credit_beyond_view(assessment: Any, owner_ref: str | None, lang: str) -> dict[str, Any] | None:
    """Rows of the two blocks for one household, or ``None`` when there is nothing to show."""
    result = getattr(assessment, "credit_extras", None)
    if result is None or owner_ref is None:
        return None
    from agrilend.credit import what_would_raise  # noqa: PLC0415  (only with extras)
    from agrilend.credit.reasons import CROP_NAMES_ZH  # noqa: PLC0415

    t = _LABELS["zh" if lang == "zh" else "en"]
    hh = result.households.set_index("owner_ref")
    if owner_ref not in hh.index:
        return None
    cur = str(hh.at[owner_ref, "currency"])
    crops = {p["crop"] for p in json.loads(str(hh.at[owner_ref, "limits"]))["parcels"]}
    grown = {h for c in crops if c in result.policy.crops for h in result.policy.crops[c]}
    prices = []
    ev = result.price_evidence
    for r in ev.itertuples() if len(ev) else []:
        if r.harvest not in grown:
            continue
        market = r.source == "market"
        prices.append(
            {
                "harvest": CROP_NAMES_ZH.get(str(r.harvest), str(r.harvest))
                if lang == "zh"
                else str(r.harvest).replace("_", " "),
                "months": f"{r.n_months} ({r.first_month} – {r.last_month})" if r.n_months else "–",
                "quantile": _per_t(r.quantile_price, cur, lang) if market else "–",
                "trend": _per_t(r.trend_price, cur, lang) if market else "–",
                "haircut": fmt_percent(r.vol_haircut, lang=lang) if market else t["policy_only"],  # type: ignore[arg-type]
                "prudent": _per_t(r.prudent_price, cur, lang),
                "prudent_raw": repr(float(r.prudent_price)),
                "policy": _per_t(r.policy_price, cur, lang),
                "shock": _per_t(r.shock_price, cur, lang),
            }
        )
    w = what_would_raise(result, households=[owner_ref])
    raises = [
        {"text": str(x.text_zh if lang == "zh" else x.text_en), "raw": repr(_num(x.raise_))}
        for x in w.rename(columns={"raise": "raise_"}).head(4).itertuples()
    ]
    return {"t": t, "prices": prices, "raises": raises}


def _num(value: Any) -> float:
    return float(value)


def _per_t(value: Any, currency: str, lang: str) -> str:
    unit = _LABELS["zh" if lang == "zh" else "en"]["per_t"]
    return fmt_money(value, currency, lang=lang) + unit  # type: ignore[arg-type]


__all__ = ["credit_beyond_view"]
